//! `reelgraph render`: a picture of a canvas.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use reelgraph::Canvas;
use reelgraph::render::{SvgOptions, to_dot, to_mermaid, to_svg};

use crate::fail::Failure;
use crate::{CmdResult, exit, input};

/// Draw a canvas as SVG, Graphviz DOT or Mermaid.
///
/// Broken canvases render too: unknown node types are grey, edges to missing
/// nodes end at a dashed placeholder. The input may also be a React Flow
/// object or a ComfyUI workflow (told from the content).
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The canvas document (`-` for stdin).
    pub canvas: PathBuf,
    /// Where to write the picture (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The picture format (default: from the output's extension, else svg).
    #[arg(long, value_enum)]
    pub format: Option<Picture>,
}

/// Picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Picture {
    /// A standalone SVG document.
    Svg,
    /// Graphviz DOT (`dot -Tpng`).
    Dot,
    /// A Mermaid flowchart (Markdown, GitHub, GitLab).
    Mermaid,
}

impl Picture {
    /// The format an extension names.
    pub fn from_path(path: &Path) -> Option<Picture> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "svg" => Some(Picture::Svg),
            "dot" | "gv" => Some(Picture::Dot),
            "mmd" | "mermaid" => Some(Picture::Mermaid),
            _ => None,
        }
    }

    pub fn draw(self, canvas: &Canvas) -> String {
        match self {
            Picture::Svg => to_svg(canvas, &SvgOptions::default()),
            Picture::Dot => to_dot(canvas),
            Picture::Mermaid => to_mermaid(canvas),
        }
    }
}

pub fn main(args: &Args) -> CmdResult {
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(Picture::from_path))
        .unwrap_or(Picture::Svg);
    let loaded = input::load(&args.canvas, None)?;
    input::print_import_diagnostics(&args.canvas, &loaded.diagnostics);
    let picture = format.draw(&loaded.canvas);
    match &args.output {
        Some(path) => {
            write_file(path, picture.as_bytes())?;
            eprintln!(
                "wrote {} ({} nodes, {} edges)",
                path.display(),
                loaded.canvas.node_count(),
                loaded.canvas.edge_count()
            );
        }
        None => print!("{picture}"),
    }
    Ok(exit::OK)
}

/// Writes `bytes` to `path`, or to stdout for `-`.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    if path == Path::new("-") {
        use std::io::Write;
        return std::io::stdout()
            .write_all(bytes)
            .map_err(|e| Failure::write(Path::new("<stdout>"), e));
    }
    std::fs::write(path, bytes).map_err(|e| Failure::write(path, e))
}
