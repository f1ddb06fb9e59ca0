//! `reelgraph convert`: between the native document, React Flow, ComfyUI
//! and pictures.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use reelgraph::format::{comfyui, react_flow};

use crate::fail::Failure;
use crate::input::{self, InFormat};
use crate::render::{Picture, write_file};
use crate::{CmdResult, exit};

/// Convert a canvas between formats.
///
/// The input format is told from the content (a reelgraph canvas has
/// `"format": "reelgraph.canvas"`, a ComfyUI workflow has `nodes` and
/// `links`, a ComfyUI API prompt entries with `class_type`, a React Flow
/// object `nodes` and `edges`); the output format from
/// the extension: `.svg`, `.dot`, `.mmd`, `.canvas.json` (native),
/// `.flow.json` (React Flow), `.api.json` (ComfyUI API prompt). Anything
/// else needs --from or --to. What an import skipped or could not fit is
/// printed as warnings on stderr; the conversion still happens.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The file to read (`-` for stdin).
    pub input: PathBuf,
    /// The file to write (`-` for stdout, with --to).
    pub output: PathBuf,
    /// The input's format (default: told from the content).
    #[arg(long, value_enum)]
    pub from: Option<InFormat>,
    /// The output's format (default: told from the extension).
    #[arg(long, value_enum)]
    pub to: Option<OutFormat>,
    /// What a ComfyUI server's /object_info returns (a JSON file): names the
    /// widgets of classes a ComfyUI workflow does not name itself.
    #[arg(long, value_name = "FILE")]
    pub object_info: Option<PathBuf>,
}

/// Formats a canvas is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// The reelgraph canvas document.
    Native,
    /// A React Flow / Svelte Flow object; canvas fields under `reelgraph`.
    ReactFlow,
    /// The prompt ComfyUI's /prompt endpoint runs (ComfyUI nodes only).
    ComfyuiApi,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// A standalone SVG picture.
    Svg,
}

impl fmt::Display for OutFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutFormat::Native => "native",
            OutFormat::ReactFlow => "react-flow",
            OutFormat::ComfyuiApi => "comfyui-api",
            OutFormat::Dot => "dot",
            OutFormat::Mermaid => "mermaid",
            OutFormat::Svg => "svg",
        })
    }
}

/// The output format a file name names, if it names exactly one.
fn out_format(path: &Path) -> Option<OutFormat> {
    if let Some(picture) = Picture::from_path(path) {
        return Some(match picture {
            Picture::Svg => OutFormat::Svg,
            Picture::Dot => OutFormat::Dot,
            Picture::Mermaid => OutFormat::Mermaid,
        });
    }
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let stem = name.strip_suffix(".json")?;
    if stem.ends_with(".canvas") || stem.ends_with(".reelgraph") {
        Some(OutFormat::Native)
    } else if stem.ends_with(".flow") || stem.ends_with(".react-flow") || stem.ends_with(".rf") {
        Some(OutFormat::ReactFlow)
    } else if stem.ends_with(".api") || stem.ends_with(".prompt") {
        Some(OutFormat::ComfyuiApi)
    } else {
        None
    }
}

pub fn main(args: &Args) -> CmdResult {
    let Some(to) = args.to.or_else(|| out_format(&args.output)) else {
        return Err(Failure::new(
            "unknown_format",
            format!(
                "cannot tell the output format from `{}`",
                args.output.display()
            ),
            "pass --to native|react-flow|comfyui-api|dot|mermaid|svg, or name the file *.canvas.json, *.flow.json, *.api.json, *.svg, *.dot or *.mmd",
        ));
    };
    let object_info = match &args.object_info {
        Some(path) => {
            let text = input::read_text(path)?;
            Some(comfyui::ObjectInfo::from_json(&text).map_err(|e| Failure::core_in(path, &e))?)
        }
        None => None,
    };
    let loaded = input::load_with(&args.input, args.from, object_info.as_ref())?;
    input::print_import_diagnostics(&args.input, &loaded.diagnostics);
    let canvas = &loaded.canvas;
    let text = match to {
        OutFormat::Native => canvas.to_json_pretty(),
        OutFormat::ReactFlow => to_json(&react_flow::export_canvas(canvas))?,
        OutFormat::ComfyuiApi => {
            let api = comfyui::export_api_prompt(canvas);
            if api.prompt.is_empty() {
                return Err(Failure::core(&reelgraph::Error::EmptyPrompt {
                    canvas: canvas.id().to_owned(),
                }));
            }
            let mut left_out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for left in &api.left_out {
                left_out.entry(left.reason).or_default().push(&left.node);
            }
            for (reason, nodes) in left_out {
                eprintln!(
                    "note: left out of the prompt ({}): {}",
                    reason.replace('_', " "),
                    crate::run::names(&nodes)
                );
            }
            input::print_import_diagnostics(&args.output, &api.diagnostics);
            to_json(&api.prompt)?
        }
        OutFormat::Dot => Picture::Dot.draw(canvas),
        OutFormat::Mermaid => Picture::Mermaid.draw(canvas),
        OutFormat::Svg => Picture::Svg.draw(canvas),
    };
    let mut bytes = text.into_bytes();
    if !bytes.ends_with(b"\n") {
        bytes.push(b'\n');
    }
    write_file(&args.output, &bytes)?;
    eprintln!(
        "wrote {} ({to}) from {} ({}): {} nodes, {} edges{}",
        if args.output == Path::new("-") {
            "stdout".into()
        } else {
            args.output.display().to_string()
        },
        args.input.display(),
        loaded.format,
        canvas.node_count(),
        canvas.edge_count(),
        match loaded.diagnostics.len() {
            0 => String::new(),
            n => format!(", {}", crate::report::plural(n, "import warning")),
        }
    );
    Ok(exit::OK)
}

fn to_json(value: &impl serde::Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| {
        Failure::core(&reelgraph::Error::Internal {
            message: format!("could not write JSON: {e}"),
        })
    })
}
