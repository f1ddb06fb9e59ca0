//! Demo functions for reelgraph's [`LocalRunner`]: cheap, real work that
//! leaves files a person can look at, so a canvas runs end to end with no
//! GPU, no model and no network. `make run`, the `reelgraph` command line and
//! the examples use them; the engine itself does not depend on this crate.
//!
//! | function | demo output |
//! |---|---|
//! | `image.generate` | a storyboard frame PNG: shot, framing, lens, cast, prompt |
//! | `video.generate` | a poster frame PNG in a film-strip band (`VIDEO 5.0 s @ 24 fps`) |
//! | `audio.generate` | a 16-bit mono WAV of the right length (speech-like, chords or noise) |
//! | `image.upscale` | the input PNG resized by `factor` |
//! | `media.effect` | the input PNG blurred, graded, filtered, sharpened or denoised |
//! | `media.composite` | the layers blended over the background |
//! | `video.transition` | the middle frame of the transition |
//! | `audio.mix` | the tracks mixed into one WAV per `track_settings` |
//! | `edit.assemble` | a CMX3600 EDL |
//! | `media.export` | a contact sheet PNG of every frame in EDL order |
//!
//! One more, [`PACE`] (`demo.pace`), backs no built-in node type: it reports
//! progress `steps` times, `interval_ms` apart, and writes nothing (the load
//! generator registers a node type for it to fan progress out).
//!
//! Every output port gets a descriptor such as `{"path": "frames/shot-02-3fa2b9c1.png",
//! "media_type": "image/png", "width": 672, "height": 384, "demo": true}`, its
//! path relative to the output directory. Files named by inputs are read
//! only from inside that directory: an absolute path, `..`, or a symlink that
//! leads outside is an `invalid_input` error. File names end in a prefix of the
//! task's idempotency key, so running the same work again overwrites the same
//! file and cached results keep pointing at valid files. Files are written
//! under a temporary name and renamed, so a cancelled task never leaves a
//! half-written file under the final name.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reelgraph::runner::{LocalRunner, Outputs, TaskError};

mod audio;
mod edit;
mod edl;
mod export;
mod font;
mod frames;
mod job;
mod pace;
mod post;
mod raster;
mod storyboard;
mod wav;

use job::{Job, Media, carry, image_descriptor, slug};

/// The functions [`register`] adds: one for every `task.function` of the
/// built-in catalogue.
pub const FUNCTIONS: [&str; 10] = [
    "image.generate",
    "video.generate",
    "audio.generate",
    "image.upscale",
    "media.effect",
    "media.composite",
    "video.transition",
    "audio.mix",
    "edit.assemble",
    "media.export",
];

/// The function that only paces progress (see the crate docs).
pub const PACE: &str = "demo.pace";

type DemoFn = fn(&Job<'_>) -> Result<Outputs, TaskError>;

/// Registers the demo functions (see [`FUNCTIONS`], and [`PACE`]) with
/// `runner`; they write their files under `out_dir` (created when needed).
/// Use it to add them to a runner that has functions of its own.
///
/// ```
/// use reelgraph::runner::{FunctionRunner, LocalRunner};
///
/// let dir = tempfile::tempdir().unwrap();
/// let runner = LocalRunner::new();
/// reelgraph_demo::register(&runner, dir.path());
/// assert!(reelgraph_demo::FUNCTIONS.iter().all(|f| runner.knows(f)));
/// ```
pub fn register(runner: &LocalRunner, out_dir: impl Into<PathBuf>) {
    let out_dir: Arc<Path> = Arc::from(out_dir.into());
    let table: [(&str, DemoFn); 11] = [
        ("image.generate", frames::image_generate),
        ("video.generate", frames::video_generate),
        ("audio.generate", audio::audio_generate),
        ("image.upscale", post::upscale),
        ("media.effect", post::effect),
        ("media.composite", post::composite),
        ("video.transition", post::transition),
        ("audio.mix", audio::audio_mix),
        ("edit.assemble", edit::assemble),
        ("media.export", export::export),
        (PACE, pace::pace),
    ];
    for (name, function) in table {
        let out_dir = Arc::clone(&out_dir);
        runner.register_blocking(name, move |task, ctx| {
            function(&Job {
                task: &task,
                ctx,
                out_dir: &out_dir,
            })
        });
    }
}

/// A local runner with the demo functions and nothing else, writing under
/// `out_dir`.
///
/// ```
/// use reelgraph::runner::FunctionRunner;
///
/// let dir = tempfile::tempdir().unwrap();
/// let runner = reelgraph_demo::runner(dir.path());
/// assert!(runner.knows("edit.assemble"));
/// ```
pub fn runner(out_dir: impl Into<PathBuf>) -> LocalRunner {
    let runner = LocalRunner::new();
    register(&runner, out_dir);
    runner
}
