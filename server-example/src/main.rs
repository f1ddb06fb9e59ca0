//! `reelgraph`: the command line of the reelgraph engine.
//!
//! ```text
//! reelgraph validate examples/short-film/canvas.json
//! reelgraph run examples/short-film/canvas.json --quality draft
//! reelgraph convert canvas.json canvas.flow.json --to react-flow
//! reelgraph render canvas.json -o canvas.svg
//! reelgraph serve --addr 127.0.0.1:8080
//! reelgraph keys create --name ci --scope read,run
//! reelgraph worker --server http://127.0.0.1:8080 --key rg_... --concurrency 2
//! ```
//!
//! Every subcommand is a thin layer over the core crate: reading files,
//! printing, exit codes. Errors are printed as `error[code]: message` and
//! `hint: ...` on stderr, with the core's stable codes.

mod convert;
mod fail;
mod input;
mod keys;
mod progress;
mod render;
mod report;
mod run;
mod run_files;
mod validate;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::fail::Failure;

/// mimalloc instead of glibc's malloc: a server's requests, runs and frames
/// make and drop many small blocks on several threads, and glibc's free
/// lists took a fifth of the server's samples under `mixed` load. The
/// library leaves the choice to its users; this binary is one of them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Validate, run, convert and render reelgraph production canvases.
///
/// A canvas is the JSON document of a node-based production graph
/// (characters, shots, generation and post nodes, an edit). Exit codes:
/// 0 success, 1 invalid canvas or failed run, 2 refused (unreadable input,
/// bad arguments), 130 cancelled with Ctrl-C.
#[derive(Debug, Parser)]
#[command(
    name = "reelgraph",
    version,
    propagate_version = true,
    verbatim_doc_comment
)]
#[command(after_help = "Run `reelgraph <command> --help` for the options of a command.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::Args),
    Run(run::Args),
    Convert(convert::Args),
    Render(render::Args),
    Serve(reelgraph_server::serve::Args),
    Keys(keys::Args),
    Worker(worker::Args),
}

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2, help and version with 0.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::main(&args),
        Command::Run(args) => run::main(args),
        Command::Convert(args) => convert::main(&args),
        Command::Render(args) => render::main(&args),
        Command::Serve(args) => serve(args),
        Command::Keys(args) => keys::main(&args),
        Command::Worker(args) => worker::main(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            failure.print();
            ExitCode::from(failure.exit)
        }
    }
}

/// `reelgraph serve`: runs the server on a multi-thread runtime until
/// SIGINT or SIGTERM.
fn serve(args: reelgraph_server::serve::Args) -> CmdResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime("the async runtime", e))?;
    runtime
        .block_on(reelgraph_server::serve::run(args))
        .map(|()| exit::OK)
        .map_err(|e| Failure::core(&e))
}

/// Exit codes, the same for every subcommand.
pub mod exit {
    /// It worked: the canvas is valid, the run completed, the file was written.
    pub const OK: u8 = 0;
    /// The canvas has validation errors (`validate`) or the run failed (`run`).
    pub const FAILED: u8 = 1;
    /// Nothing was done: the input could not be read, the arguments are wrong,
    /// or the run was refused before any task started.
    pub const REFUSED: u8 = 2;
    /// The run was cancelled with Ctrl-C (128 + SIGINT).
    pub const CANCELLED: u8 = 130;
}

/// What a subcommand returns: an exit code, or a failure to print.
pub type CmdResult = Result<u8, Failure>;
