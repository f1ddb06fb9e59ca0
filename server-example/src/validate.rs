//! `reelgraph validate`: what keeps a canvas from running.

use std::io::Write;
use std::path::PathBuf;

use crate::fail::Failure;
use crate::{CmdResult, exit, input, report};

/// Check a canvas document and print its errors and warnings.
///
/// Errors keep the canvas from running (a required input not connected, a
/// property out of range, an unknown node type, ...); warnings are advice
/// (story-structure checks). Each finding has a stable code and a hint.
///
/// Exit codes: 0 valid (warnings allowed), 1 invalid (errors), 2 the file
/// could not be read (not JSON, not a canvas, over 64 MiB, a newer
/// format_version).
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The canvas document (`-` for stdin).
    pub canvas: PathBuf,
    /// Print the report as JSON (`{valid, errors, warnings, diagnostics}`).
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: &Args) -> CmdResult {
    let canvas = input::load_native(&args.canvas)?;
    let report = canvas.validate();
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        let name = format!(
            "{} ({} nodes, {} edges)",
            canvas.id(),
            canvas.node_count(),
            canvas.edge_count()
        );
        report::write(&mut out, &name, &report)
    };
    written.map_err(|e| Failure::write(std::path::Path::new("<stdout>"), e))?;
    Ok(if report.valid { exit::OK } else { exit::FAILED })
}
