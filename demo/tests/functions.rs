//! The demo functions of the local runner, called through `FunctionRunner::run`
//! with hand-built tasks shaped like the executor's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use reelgraph::Catalog;
use reelgraph::Quality;
use reelgraph::runner::{
    FunctionRunner, LocalRunner, Outputs, ProgressSink, Task, TaskContext, TaskError,
    TaskErrorKind, TaskNote,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn task(function: &str, params: Value, key: &str, port: &str) -> Task {
    Task {
        run_id: Arc::from("run-1"),
        node: Arc::from("node-1"),
        node_type: Arc::from("test"),
        function: Arc::from(function),
        params: match params {
            Value::Object(map) => map,
            other => panic!("params must be an object, got {other}"),
        },
        quality: Quality::Draft,
        quality_fallback: false,
        idempotency_key: key.to_owned(),
        outputs: Arc::from([Arc::from(port)]),
    }
}

/// Runs one task on its own runtime; dropping the runtime waits for the
/// function's blocking thread, so the files are final when this returns.
fn run_with(runner: &LocalRunner, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result = rt.block_on(runner.run(task, ctx));
    drop(rt);
    result
}

fn run(runner: &LocalRunner, task: Task) -> Result<Outputs, TaskError> {
    run_with(runner, task, TaskContext::detached())
}

/// Runs a task that must succeed and returns the value of its one port.
fn ok(runner: &LocalRunner, task: Task) -> Value {
    let port = task.outputs[0].to_string();
    let function = task.function.clone();
    let outputs = run(runner, task).unwrap_or_else(|e| panic!("{function} failed: {e:?}"));
    assert_eq!(
        outputs.keys().collect::<Vec<_>>(),
        vec![&port],
        "outputs name exactly the declared port"
    );
    outputs[&port].clone()
}

fn invalid(runner: &LocalRunner, task: Task, mentions: &str) {
    let function = task.function.clone();
    let err = run(runner, task).expect_err("bad input fails");
    assert_eq!(err.kind, TaskErrorKind::InvalidInput, "{function}: {err:?}");
    assert!(
        err.message.contains(mentions),
        "{function}: {:?} does not mention {mentions:?}",
        err.message
    );
}

fn setup() -> (tempfile::TempDir, LocalRunner) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let runner = reelgraph_demo::runner(dir.path());
    (dir, runner)
}

fn file(dir: &Path, value: &Value) -> PathBuf {
    dir.join(value["path"].as_str().expect("a path"))
}

/// Decodes a PNG into (width, height, RGBA bytes).
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).expect("the PNG exists");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let ihdr_w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let ihdr_h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("decodes");
    assert_eq!((info.width, info.height), (ihdr_w, ihdr_h));
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Rgb => buf[..info.buffer_size()]
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::Rgba => buf[..info.buffer_size()].to_vec(),
        other => panic!("unexpected colour type {other:?}"),
    };
    (info.width, info.height, rgba)
}

/// Writes a solid-colour PNG (a stand-in upstream frame).
fn solid_png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("header");
        let data: Vec<u8> = (0..w * h).flat_map(|_| rgb).collect();
        writer.write_image_data(&data).expect("data");
    }
    std::fs::write(path, bytes).expect("write");
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn shot_record(node: &str, number: u64, camera: &str, duration: f64) -> Value {
    json!({"node": node, "type": "shot", "number": number, "camera": camera,
           "movement": "static", "lens_mm": 35, "duration": duration})
}

/// Params of an image_gen task as the executor builds them for the demo canvas.
fn frame_params(prompt: &str, seed: u64) -> Value {
    json!({
        "cfg_scale": 7.0, "width": 1344, "height": 768, "scale": 0.5, "seed": seed,
        "model": "flux_dev", "sampler": "dpmpp_2m", "steps": 12,
        "prompt": prompt,
        "negative_prompt": "cartoon, text, watermark",
        "loras": [{"path": "loras/nora_vance_v2.safetensors", "weight": 0.75}],
        "trigger_words": ["nora_vance"],
        "shot": shot_record("shot_1b", 2, "medium", 3.5),
        "shots": [{"node": "shot_1b", "number": 2, "camera": "medium", "duration": 3.5,
                   "lens_mm": 35, "movement": "static",
                   "scene": {"node": "scene_1", "port": "scene"}}],
    })
}

const PROMPT: &str = "nora_vance, nora at the heavy lighthouse door at dusk, rain jacket dripping";

#[test]
fn every_catalogue_function_has_a_demo() {
    let (_dir, runner) = setup();
    let catalog = Catalog::builtin();
    let functions: Vec<String> = catalog
        .types()
        .iter()
        .filter_map(|t| t.task.as_ref().map(|task| task.function.clone()))
        .collect();
    assert!(functions.len() >= 10, "{functions:?}");
    for f in &functions {
        assert!(runner.knows(f), "no demo for {f}");
        assert!(
            reelgraph_demo::FUNCTIONS.contains(&f.as_str()),
            "{f} missing from FUNCTIONS"
        );
    }
}

#[test]
fn a_storyboard_frame_is_a_png_at_the_scaled_size_named_by_the_key() {
    let (dir, runner) = setup();
    let key = "3fa2b9c1".repeat(8);
    let image = ok(
        &runner,
        task("image.generate", frame_params(PROMPT, 1001), &key, "image"),
    );
    let path = image["path"].as_str().expect("a path");
    assert!(path.starts_with("frames/shot-02-3fa2b9c1"), "{path}");
    assert!(path.ends_with(".png"));
    assert_eq!(image["media_type"], "image/png");
    assert_eq!(image["demo"], true);
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(672), Some(384))
    );
    assert_eq!(image["shot"]["node"], "shot_1b");
    let (w, h, _) = decode_png(&file(dir.path(), &image));
    assert_eq!((w, h), (672, 384));

    // The same work again writes the same file with the same bytes.
    let before = std::fs::read(file(dir.path(), &image)).expect("read");
    let again = ok(
        &runner,
        task("image.generate", frame_params(PROMPT, 1001), &key, "image"),
    );
    assert_eq!(again, image);
    assert_eq!(
        std::fs::read(file(dir.path(), &again)).expect("read"),
        before
    );
    assert_eq!(all_files(dir.path()).len(), 1, "no stray temporary files");
}

#[test]
fn frames_are_capped_for_a_quick_demo() {
    let (dir, runner) = setup();
    let mut params = frame_params(PROMPT, 7);
    params["scale"] = json!(1.5);
    let image = ok(&runner, task("image.generate", params, "big", "image"));
    let (w, h, _) = decode_png(&file(dir.path(), &image));
    assert_eq!((w, h), (960, 549));
}

#[test]
fn the_lettering_changes_pixels() {
    let (dir, runner) = setup();
    // Same seed and the same mood words: the painted scene is the same, only
    // the lettered prompt differs.
    let a = ok(
        &runner,
        task("image.generate", frame_params(PROMPT, 5), "ka", "image"),
    );
    let other = format!("{PROMPT}, clipboard under her arm");
    let b = ok(
        &runner,
        task("image.generate", frame_params(&other, 5), "kb", "image"),
    );
    let (_, _, pa) = decode_png(&file(dir.path(), &a));
    let (_, _, pb) = decode_png(&file(dir.path(), &b));
    let changed = pa
        .chunks_exact(4)
        .zip(pb.chunks_exact(4))
        .filter(|(x, y)| x != y)
        .count();
    assert!(changed > 200, "only {changed} pixels differ");
    assert!(
        changed < pa.len() / 4 / 4,
        "{changed} pixels differ: more than the text"
    );
}

#[test]
fn progress_is_reported_and_ends_at_one() {
    let (_dir, runner) = setup();
    let notes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&notes);
    let ctx = TaskContext {
        progress: ProgressSink::new(move |note| {
            if let TaskNote::Progress { progress, .. } = note {
                seen.lock().expect("lock").push(progress);
            }
        }),
        cancel: CancellationToken::new(),
    };
    run_with(
        &runner,
        task("image.generate", frame_params(PROMPT, 1), "kp", "image"),
        ctx,
    )
    .expect("runs");
    let notes = notes.lock().expect("lock").clone();
    assert!(notes.len() >= 3, "{notes:?}");
    assert!(notes.windows(2).all(|w| w[0] <= w[1]), "{notes:?}");
    assert_eq!(notes.last(), Some(&1.0));
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks the canonical 44-byte header and returns the data length.
fn wav_header(path: &Path, rate: u32) -> (Vec<u8>, u32) {
    let b = std::fs::read(path).expect("the WAV exists");
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(u32_at(&b, 4) as usize, b.len() - 8, "RIFF size");
    assert_eq!(&b[8..16], b"WAVEfmt ");
    assert_eq!(u32_at(&b, 16), 16);
    assert_eq!(u16_at(&b, 20), 1, "PCM");
    assert_eq!(u16_at(&b, 22), 1, "mono");
    assert_eq!(u32_at(&b, 24), rate);
    assert_eq!(u32_at(&b, 28), rate * 2, "byte rate");
    assert_eq!(u16_at(&b, 32), 2, "block align");
    assert_eq!(u16_at(&b, 34), 16, "bits");
    assert_eq!(&b[36..40], b"data");
    let len = u32_at(&b, 40);
    assert_eq!(len as usize, b.len() - 44);
    (b, len)
}

fn samples(b: &[u8]) -> Vec<i16> {
    b[44..]
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect()
}

#[test]
fn generated_audio_has_the_right_length_and_header() {
    let (dir, runner) = setup();
    let music = json!({"mode": "music", "duration": 2.5, "sample_rate": 8000,
                       "tempo_bpm": 60, "genre": "ambient", "seed": 3});
    let audio = ok(&runner, task("audio.generate", music, "km", "audio"));
    assert_eq!(audio["media_type"], "audio/wav");
    assert_eq!(audio["duration"], 2.5);
    let (bytes, len) = wav_header(&file(dir.path(), &audio), 8000);
    assert_eq!(len, 2 * 20_000);
    assert!(
        samples(&bytes).iter().any(|s| s.unsigned_abs() > 1000),
        "not silent"
    );

    // Speech is timed from the words (~15 characters a second, slower at speed 0.9).
    let line = "ELIAS: A hundred and twelve years she's been lit. Not tonight of all nights.";
    let tts = json!({"mode": "tts", "dialogue": [line], "emotion": "sad", "seed": 4000,
                     "voices": [{"name": "Elias Marr", "speed": 0.9}]});
    let speech = ok(&runner, task("audio.generate", tts, "kt", "audio"));
    let seconds = speech["duration"].as_f64().expect("a duration");
    let spoken = line.len() - "ELIAS: ".len();
    let estimate = spoken as f64 / 15.0 / 0.9;
    assert!(
        seconds > estimate && seconds < estimate * 1.5,
        "{seconds} s for {spoken} chars"
    );
    let (_, len) = wav_header(&file(dir.path(), &speech), 22_050);
    assert_eq!(f64::from(len / 2), (seconds * 22_050.0).round());
}

#[test]
fn a_mix_places_tracks_on_one_timeline() {
    let (dir, runner) = setup();
    let one = ok(
        &runner,
        task(
            "audio.generate",
            json!({"mode": "sfx", "duration": 1.0, "sample_rate": 8000}),
            "k1",
            "audio",
        ),
    );
    let two = ok(
        &runner,
        task(
            "audio.generate",
            json!({"mode": "music", "duration": 0.5, "sample_rate": 8000}),
            "k2",
            "audio",
        ),
    );
    let params = json!({
        "tracks": [one, two],
        "track_settings": [{"input_index": 0, "start": 1.5, "gain_db": -6.0, "fade_in": 0.25},
                           {"input_index": 1, "fade_out": 0.1}],
        "normalize": false, "sample_rate": 8000, "bit_depth": 16,
    });
    let mix = ok(&runner, task("audio.mix", params, "kmix", "audio"));
    assert_eq!(mix["duration"], 2.5);
    let (bytes, len) = wav_header(&file(dir.path(), &mix), 8000);
    assert_eq!(len, 2 * 20_000);
    let s = samples(&bytes);
    assert!(s[..4000].iter().any(|v| *v != 0), "track two plays from 0");
    assert!(
        s[4000..12_000].iter().all(|v| *v == 0),
        "silence until track one starts"
    );
    assert!(
        s[12_000..].iter().any(|v| *v != 0),
        "track one plays from 1.5 s"
    );
}

/// Three frames, timed 2 s, 1.5 s and 0.5 s by their shots.
fn three_clips(dir: &Path) -> Vec<Value> {
    [
        ("a", [200, 40, 40]),
        ("b", [40, 200, 40]),
        ("c", [40, 40, 200]),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, rgb))| {
        let rel = format!("frames/{name}.png");
        solid_png(&dir.join(&rel), 320, 180, *rgb);
        json!({"path": rel, "media_type": "image/png", "width": 320, "height": 180,
                   "demo": true, "shot": {"node": format!("shot_{}", i + 1), "number": i + 1}})
    })
    .collect()
}

fn edit_params(clips: &[Value], fps: f64, start: &str) -> Value {
    json!({
        "clips": clips,
        "shot_info": [
            {"node": "shot_1", "number": 1, "duration": 2.0, "camera": "wide",
             "scene": {"node": "scene_1", "port": "scene"}},
            {"node": "shot_2", "number": 2, "duration": 1.5,
             "scene": {"node": "scene_1", "port": "scene"}},
            {"node": "shot_3", "number": 1, "duration": 0.5,
             "scene": {"node": "scene_2", "port": "scene"}},
        ],
        "scene_info": [
            {"node": "scene_1", "number": 1, "heading": "EXT. CLIFF ROAD - DUSK"},
            {"node": "scene_2", "number": 2, "heading": "INT. LANTERN ROOM - NIGHT"},
        ],
        "title": "Test Edit", "fps": fps, "timecode_start": start,
        "reel_name": "LLH_R1", "handle_frames": 0, "format": "cmx3600",
    })
}

#[test]
fn the_edl_of_a_small_edit_is_exact_at_24_fps() {
    let (dir, runner) = setup();
    let clips = three_clips(dir.path());
    let edl = ok(
        &runner,
        task(
            "edit.assemble",
            edit_params(&clips, 24.0, "01:00:00:00"),
            "ke",
            "edl",
        ),
    );
    assert_eq!(edl["path"], "edl/test-edit-ke.edl");
    let text = std::fs::read_to_string(file(dir.path(), &edl)).expect("the EDL exists");
    assert_eq!(
        text,
        "TITLE: Test Edit\n\
         FCM: NON-DROP FRAME\n\
         \n\
         001  LLH_R1   V     C        00:00:00:00 00:00:02:00 01:00:00:00 01:00:02:00\n\
         * FROM CLIP NAME: a.png\n\
         * COMMENT: SC 1 / SHOT 1 - EXT. CLIFF ROAD - DUSK\n\
         * SOURCE FILE: frames/a.png\n\
         \n\
         002  LLH_R1   V     C        00:00:00:00 00:00:01:12 01:00:02:00 01:00:03:12\n\
         * FROM CLIP NAME: b.png\n\
         * COMMENT: SC 1 / SHOT 2 - EXT. CLIFF ROAD - DUSK\n\
         * SOURCE FILE: frames/b.png\n\
         \n\
         003  LLH_R1   V     C        00:00:00:00 00:00:00:12 01:00:03:12 01:00:04:00\n\
         * FROM CLIP NAME: c.png\n\
         * COMMENT: SC 2 / SHOT 1 - INT. LANTERN ROOM - NIGHT\n\
         * SOURCE FILE: frames/c.png\n"
    );
    assert_eq!(edl["timecode_end"], "01:00:04:00");
    assert_eq!(edl["frames"], 96);
    assert_eq!(edl["duration"], 4.0);
    let listed: Vec<&str> = edl["clips"]
        .as_array()
        .expect("clips")
        .iter()
        .map(|c| c["path"].as_str().expect("a path"))
        .collect();
    assert_eq!(listed, ["frames/a.png", "frames/b.png", "frames/c.png"]);
    assert_eq!(edl["clips"][2]["label"], "SC 2 / SHOT 1");
    assert_eq!(edl["clips"][1]["record_in"], "01:00:02:00");
}

/// The event lines (those starting with a number) of an EDL.
fn event_lines(dir: &Path, edl: &Value) -> Vec<String> {
    std::fs::read_to_string(file(dir, edl))
        .expect("the EDL exists")
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn edl_timecodes_at_25_and_29_97_with_handles_audio_and_rollover() {
    let (dir, runner) = setup();
    let clips = three_clips(dir.path());

    let edl = ok(
        &runner,
        task(
            "edit.assemble",
            edit_params(&clips, 25.0, "00:59:59:20"),
            "k25",
            "edl",
        ),
    );
    assert_eq!(
        event_lines(dir.path(), &edl),
        [
            "001  LLH_R1   V     C        00:00:00:00 00:00:02:00 00:59:59:20 01:00:01:20",
            // 1.5 s is 37.5 frames at 25 fps, 0.5 s is 12.5: halves round up.
            "002  LLH_R1   V     C        00:00:00:00 00:00:01:13 01:00:01:20 01:00:03:08",
            "003  LLH_R1   V     C        00:00:00:00 00:00:00:13 01:00:03:08 01:00:03:21",
        ]
    );

    // 29.97 counts 30 frames a second (non-drop); 1.5 s is 44.955 → 45 frames.
    let wav = ok(
        &runner,
        task(
            "audio.generate",
            json!({"mode": "sfx", "duration": 10.0, "sample_rate": 8000}),
            "kw",
            "audio",
        ),
    );
    let mut params = edit_params(&clips, 29.97, "01:00:00:00");
    params["handle_frames"] = json!(12);
    params["audio"] = json!([wav]);
    let edl = ok(&runner, task("edit.assemble", params, "k2997", "edl"));
    assert_eq!(
        event_lines(dir.path(), &edl),
        [
            "001  LLH_R1   V     C        00:00:00:12 00:00:02:12 01:00:00:00 01:00:02:00",
            "002  LLH_R1   V     C        00:00:00:12 00:00:01:27 01:00:02:00 01:00:03:15",
            "003  LLH_R1   V     C        00:00:00:12 00:00:00:27 01:00:03:15 01:00:04:00",
            // The 10 s of sound is cut where the picture ends.
            "004  LLH_R1   A     C        00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00",
        ]
    );
    assert_eq!(edl["events"], 4);
    assert_eq!(edl["audio"][0]["record_out"], "01:00:04:00");
}

#[test]
fn the_contact_sheet_has_one_cell_per_frame_in_edl_order() {
    let (dir, runner) = setup();
    let colours = [
        [220, 30, 30],
        [30, 220, 30],
        [30, 30, 220],
        [220, 220, 30],
        [220, 30, 220],
    ];
    let clips: Vec<Value> = colours
        .iter()
        .enumerate()
        .map(|(i, rgb)| {
            let rel = format!("frames/f{i}.png");
            solid_png(&dir.path().join(&rel), 320, 180, *rgb);
            json!({"path": rel, "shot": {"node": format!("s{i}"), "number": i + 1}})
        })
        .collect();
    // The edit in reverse order: the sheet follows the EDL, not the inputs.
    let reversed: Vec<Value> = clips.iter().rev().cloned().collect();
    let edl = ok(
        &runner,
        task(
            "edit.assemble",
            json!({"clips": reversed, "fps": 24.0, "title": "The Last Lighthouse"}),
            "ked",
            "edl",
        ),
    );
    let params = json!({"edl": edl, "format": "mp4", "path": "renders/film.mp4",
                        "burn_in_timecode": false});
    let video = ok(&runner, task("media.export", params, "kx", "video"));
    assert_eq!(video["media_type"], "image/png");
    assert_eq!(video["edl"], edl["path"]);
    assert!(video["note"].as_str().expect("a note").contains("stand-in"));
    assert!(
        video["path"]
            .as_str()
            .expect("a path")
            .starts_with("export/")
    );
    let (w, h, px) = decode_png(&file(dir.path(), &video));
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(u64::from(w)), Some(u64::from(h)))
    );

    // Each frame's colour fills exactly one thumbnail-sized box; boxes run
    // in reading order, reversed colours first.
    let mut boxes = Vec::new();
    for rgb in colours.iter().rev() {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        let mut count = 0;
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 4) as usize;
                if px[i..i + 3] == rgb[..] {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                    count += 1;
                }
            }
        }
        let (bw, bh) = (x1 + 1 - x0, y1 + 1 - y0);
        assert!(bw > 100 && bh > 50, "box {bw}x{bh} for {rgb:?}");
        assert_eq!(count, bw * bh, "one solid box for {rgb:?}");
        boxes.push((y0, x0));
    }
    let mut sorted = boxes.clone();
    sorted.sort();
    assert_eq!(boxes, sorted, "cells in EDL order");
    assert!(
        boxes.iter().any(|b| b.0 != boxes[0].0),
        "five cells wrap onto a second row"
    );
}

#[test]
fn post_functions_do_pixel_work() {
    let (dir, runner) = setup();
    let frame = ok(
        &runner,
        task("image.generate", frame_params(PROMPT, 9), "kf", "image"),
    );
    let (fw, fh, fpx) = decode_png(&file(dir.path(), &frame));

    let up = ok(
        &runner,
        task(
            "image.upscale",
            json!({"media": frame, "factor": 2, "model": "realesrgan_x4plus"}),
            "ku",
            "image",
        ),
    );
    assert_eq!(decode_png(&file(dir.path(), &up)).0, fw * 2);
    assert_eq!(
        up["shot"]["node"], "shot_1b",
        "the shot travels with the picture"
    );

    let graded = ok(
        &runner,
        task(
            "media.effect",
            json!({
                "media": frame, "effect": "color", "scale": 0.5,
                "parameters": {"brightness": -0.05, "contrast": 1.15, "saturation": 0.8, "temperature": -25.0}
            }),
            "kg",
            "media",
        ),
    );
    let (gw, gh, gpx) = decode_png(&file(dir.path(), &graded));
    assert_eq!((gw, gh), (fw, fh));
    assert_ne!(gpx, fpx);

    let blurred = ok(
        &runner,
        task(
            "media.effect",
            json!({
                "media": frame, "effect": "blur", "parameters": {"radius": 6.0, "blur_kind": "gaussian"}
            }),
            "kb",
            "media",
        ),
    );
    assert_ne!(decode_png(&file(dir.path(), &blurred)).2, fpx);

    let video = ok(
        &runner,
        task(
            "video.generate",
            json!({
                "image": frame, "duration": 5.0, "fps": 24, "motion_strength": 0.35,
                "resolution": "480p", "model": "wan_2_1",
                "shot": shot_record("shot_1b", 2, "medium", 3.5),
            }),
            "kv",
            "video",
        ),
    );
    assert_eq!(video["duration"], 5.0);
    assert_eq!(video["frames"], 120);
    assert_eq!(video["stand_in_for"], "video");
    let (vw, vh, _) = decode_png(&file(dir.path(), &video));
    assert_eq!(vw, 840);
    assert!(
        vh > 480,
        "film-strip bands above and below the 480-line frame"
    );

    // A white square screened at half opacity over the frame lightens it.
    let white = dir.path().join("frames/white.png");
    solid_png(&white, 100, 100, [255, 255, 255]);
    let comp = ok(
        &runner,
        task(
            "media.composite",
            json!({
                "background": frame,
                "layers": [{"path": "frames/white.png"}],
                "layer_settings": [{"input_index": 0, "opacity": 0.5, "blend_mode": "screen",
                                    "transform": {"anchor": "top_left", "scale": 1.0}}],
                "scale": 1.0,
            }),
            "kc",
            "image",
        ),
    );
    let (_, _, cpx) = decode_png(&file(dir.path(), &comp));
    let at = |px: &[u8], x: u32, y: u32| px[((y * fw + x) * 4) as usize];
    assert!(at(&cpx, 50, 50) > at(&fpx, 50, 50));
    assert_eq!(
        at(&cpx, 300, 300),
        at(&fpx, 300, 300),
        "outside the layer nothing changes"
    );

    let transition = ok(
        &runner,
        task(
            "video.transition",
            json!({
                "from": frame, "to": {"path": "frames/white.png"}, "kind": "dissolve", "duration": 1.0,
            }),
            "ktr",
            "video",
        ),
    );
    assert_eq!(transition["duration"], 1.0);
    assert!(file(dir.path(), &transition).is_file());
}

#[test]
fn bad_inputs_are_invalid_input_naming_the_param() {
    let (dir, runner) = setup();
    let mut params = frame_params(PROMPT, 1);
    params["width"] = json!("wide");
    invalid(
        &runner,
        task("image.generate", params, "k", "image"),
        "`width`",
    );
    invalid(
        &runner,
        task(
            "video.generate",
            json!({"image": {"path": "frames/gone.png"}, "duration": 2.0}),
            "k",
            "video",
        ),
        "frames/gone.png",
    );
    invalid(
        &runner,
        task(
            "image.upscale",
            json!({"media": {"node": "img_1a", "port": "image"}}),
            "k",
            "image",
        ),
        "`media`",
    );
    invalid(
        &runner,
        task(
            "edit.assemble",
            json!({"clips": [], "fps": 24.0}),
            "k",
            "edl",
        ),
        "`clips`",
    );
    let clips = three_clips(dir.path());
    invalid(
        &runner,
        task(
            "edit.assemble",
            edit_params(&clips, 24.0, "25:00:00:00"),
            "k",
            "edl",
        ),
        "`timecode_start`",
    );
    invalid(
        &runner,
        task(
            "edit.assemble",
            edit_params(&clips, 24.0, "01:00:00:24"),
            "k",
            "edl",
        ),
        "`timecode_start`",
    );
    invalid(
        &runner,
        task(
            "edit.assemble",
            json!({"clips": [{"path": "frames/missing.png"}]}),
            "k",
            "edl",
        ),
        "`clips[0]`",
    );
    invalid(
        &runner,
        task("audio.mix", json!({"tracks": []}), "k", "audio"),
        "`tracks`",
    );
    invalid(
        &runner,
        task(
            "audio.mix",
            json!({"tracks": [{"path": "frames/a.png"}]}),
            "k",
            "audio",
        ),
        "`tracks[0]`",
    );
    invalid(
        &runner,
        task("audio.generate", json!({"mode": "tts"}), "k", "audio"),
        "`text`",
    );
    invalid(
        &runner,
        task(
            "media.export",
            json!({"edl": {"path": "edl/x.edl"}}),
            "k",
            "video",
        ),
        "`edl`",
    );
    invalid(
        &runner,
        task(
            "media.effect",
            json!({"media": clips[0], "effect": "melt"}),
            "k",
            "media",
        ),
        "`effect`",
    );
    invalid(
        &runner,
        task(
            "media.composite",
            json!({
                "background": clips[0], "layers": [clips[1]],
                "layer_settings": [{"input_index": 0, "blend_mode": "glow"}],
            }),
            "k",
            "image",
        ),
        "`layer_settings`",
    );
    invalid(
        &runner,
        task(
            "video.transition",
            json!({"from": clips[0], "to": clips[1], "kind": "spin"}),
            "k",
            "video",
        ),
        "`kind`",
    );
}

#[test]
fn a_cancelled_task_returns_cancelled_and_leaves_no_file() {
    let cases = [
        ("image.generate", frame_params(PROMPT, 1), "image"),
        (
            "audio.generate",
            json!({"mode": "music", "duration": 30.0}),
            "audio",
        ),
    ];
    for (function, params, port) in cases {
        let (dir, runner) = setup();
        let cancel = CancellationToken::new();
        let trip = cancel.clone();
        // The token fires while the function runs: at its first progress report.
        let ctx = TaskContext {
            progress: ProgressSink::new(move |_| trip.cancel()),
            cancel,
        };
        let err =
            run_with(&runner, task(function, params, "kc", port), ctx).expect_err("cancelled");
        assert_eq!(err.kind, TaskErrorKind::Cancelled, "{function}");
        assert_eq!(
            all_files(dir.path()),
            Vec::<PathBuf>::new(),
            "{function} left files"
        );
    }
}

/// The demo canvas "The Last Lighthouse" runs end to end through the
/// executor with the demo functions, down to the contact sheet.
/// `REELGRAPH_DEMO_OUT=dir` keeps the files for a look.
#[test]
fn the_short_film_runs_end_to_end_at_draft() {
    use reelgraph::Canvas;
    use reelgraph::exec::{Executor, RunOptions, RunStatus};

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/short-film/canvas.json"
    ))
    .expect("the demo canvas");
    let canvas = Canvas::from_json(Catalog::builtin(), &text).expect("loads");
    let temp = tempfile::tempdir().expect("a temp dir");
    let out = std::env::var_os("REELGRAPH_DEMO_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    let executor = Executor::new(reelgraph_demo::runner(&out));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let report = rt.block_on(async {
        let run = executor
            .start(
                &Arc::new(Mutex::new(canvas)),
                RunOptions::new().quality(Quality::Draft),
            )
            .await
            .expect("starts");
        run.finish().await
    });
    assert_eq!(report.status, RunStatus::Completed, "{:?}", report.errors);
    let edl = &report.outputs["edit"]["edl"];
    assert_eq!(edl["clips"].as_array().map(Vec::len), Some(11));
    let text = std::fs::read_to_string(file(&out, edl)).expect("the EDL");
    assert!(
        text.starts_with("TITLE: The Last Lighthouse\nFCM: NON-DROP FRAME\n"),
        "{text}"
    );
    let video = &report.outputs["export"]["video"];
    let (w, h, _) = decode_png(&file(&out, video));
    assert!(w > 1000 && h > 500, "{w}x{h}");
}

/// `demo.pace` reports one progress per step, evenly spaced, ending at 1,
/// and a cancel stops it at the next step.
#[test]
fn pace_reports_every_step_and_stops_at_a_cancel() {
    let (dir, runner) = setup();
    let notes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&notes);
    let ctx = TaskContext {
        progress: ProgressSink::new(move |note| {
            if let TaskNote::Progress { progress, .. } = note {
                seen.lock().expect("lock").push(progress);
            }
        }),
        cancel: CancellationToken::new(),
    };
    let params = json!({"steps": 4, "interval_ms": 1});
    let outputs = run_with(
        &runner,
        task(reelgraph_demo::PACE, params, "kp", "done"),
        ctx,
    )
    .expect("paces");
    assert_eq!(outputs["done"]["steps"], 4);
    assert_eq!(*notes.lock().expect("lock"), vec![0.25, 0.5, 0.75, 1.0]);
    assert_eq!(all_files(dir.path()), Vec::<PathBuf>::new());

    let cancel = CancellationToken::new();
    let trip = cancel.clone();
    let ctx = TaskContext {
        progress: ProgressSink::new(move |_| trip.cancel()),
        cancel,
    };
    let params = json!({"steps": 1000, "interval_ms": 1});
    let err = run_with(
        &runner,
        task(reelgraph_demo::PACE, params, "kq", "done"),
        ctx,
    )
    .expect_err("cancelled");
    assert_eq!(err.kind, TaskErrorKind::Cancelled);

    let params = json!({"steps": 0});
    let err = run(&runner, task(reelgraph_demo::PACE, params, "kr", "done")).expect_err("no steps");
    assert_eq!(err.kind, TaskErrorKind::InvalidInput);
}
