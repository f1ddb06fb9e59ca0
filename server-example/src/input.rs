//! Reading canvases: the native document, or a React Flow / ComfyUI file
//! imported into one, with the format told from the content.

use std::fmt;
use std::io::Read;
use std::path::Path;

use clap::ValueEnum;
use reelgraph::format::{self, Format, comfyui};
use reelgraph::{Canvas, Catalog, Diagnostic};

use crate::fail::Failure;

/// Formats a canvas is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InFormat {
    /// The reelgraph canvas document (`"format": "reelgraph.canvas"`).
    Native,
    /// A React Flow / Svelte Flow object (`nodes`, `edges`, `viewport`).
    ReactFlow,
    /// A ComfyUI editor workflow (LiteGraph JSON, 0.4 or 1.x).
    Comfyui,
}

impl fmt::Display for InFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InFormat::Native => "native",
            InFormat::ReactFlow => "react-flow",
            InFormat::Comfyui => "comfyui",
        })
    }
}

/// A canvas read from a file, and what the import had to say about it.
#[derive(Debug)]
pub struct Loaded {
    pub canvas: Canvas,
    pub format: InFormat,
    /// What an import skipped or could not fit (empty for native documents).
    pub diagnostics: Vec<Diagnostic>,
}

/// The most bytes read from one input: the core's limit on a stored
/// document (64 MiB). Reading stops one byte past it, so a huge file, a
/// device or an endless stdin never fills memory.
pub const MAX_INPUT_BYTES: usize = reelgraph::store::MAX_DOCUMENT_BYTES;

/// The text of `path`, or of stdin for `-`, refused with `too_large` past
/// [`MAX_INPUT_BYTES`].
pub fn read_text(path: &Path) -> Result<String, Failure> {
    let (shown, bytes) = if path == Path::new("-") {
        let shown = Path::new("<stdin>");
        (shown, read_limited(std::io::stdin().lock(), shown)?)
    } else {
        let file = std::fs::File::open(path).map_err(|e| Failure::read(path, e))?;
        // A regular file says its size: refuse it before reading a byte.
        let size = file.metadata().map_err(|e| Failure::read(path, e))?.len();
        if size > MAX_INPUT_BYTES as u64 {
            return Err(too_large(path, Some(size)));
        }
        (path, read_limited(file, path)?)
    };
    String::from_utf8(bytes).map_err(|e| {
        Failure::new(
            "io",
            format!(
                "cannot read {}: it is not UTF-8 text (invalid byte at offset {})",
                shown.display(),
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8 text, as JSON is written",
        )
    })
}

/// Reads at most one byte more than [`MAX_INPUT_BYTES`].
fn read_limited(reader: impl Read, shown: &Path) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::read(shown, e))?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(too_large(shown, None));
    }
    Ok(bytes)
}

/// An input over the limit: its size when known, else that it is longer.
fn too_large(shown: &Path, size: Option<u64>) -> Failure {
    let limit = MAX_INPUT_BYTES;
    let what = match size {
        Some(size) => format!("the file is {size} bytes, more than"),
        None => "it is more than".to_owned(),
    };
    let hint = reelgraph::Error::TooLarge {
        size: usize::try_from(size.unwrap_or(u64::MAX)).unwrap_or(usize::MAX),
        limit,
    }
    .hint();
    Failure::new(
        "too_large",
        format!(
            "{}: {what} the limit of {limit} bytes ({} MiB) that reelgraph reads",
            shown.display(),
            limit >> 20
        ),
        hint,
    )
}

/// Reads a native canvas document with the built-in catalogue.
pub fn load_native(path: &Path) -> Result<Canvas, Failure> {
    Ok(load(path, Some(InFormat::Native))?.canvas)
}

/// Reads a canvas in `from`, or in the format its content shows (the core's
/// `format::import_any` tells and says what it found when it cannot).
pub fn load(path: &Path, from: Option<InFormat>) -> Result<Loaded, Failure> {
    load_with(path, from, None)
}

/// [`load`], naming the widgets of ComfyUI classes after a server's
/// `/object_info` when one is given.
pub fn load_with(
    path: &Path,
    from: Option<InFormat>,
    object_info: Option<&comfyui::ObjectInfo>,
) -> Result<Loaded, Failure> {
    let text = read_text(path)?;
    let catalog = Catalog::builtin();
    let in_file = |e: reelgraph::Error| Failure::core_in(path, &e);
    if let Some(info) = object_info {
        let told = match from {
            Some(from) => Format::from(from),
            None => format::detect(&text).map_err(in_file)?,
        };
        if matches!(told, Format::ComfyuiWorkflow | Format::ComfyuiApi) {
            let options = comfyui::ImportOptions::default().object_info(info.clone());
            let import = comfyui::import_with(&catalog, &text, &options).map_err(in_file)?;
            let canvas = Canvas::from_document(catalog, import.canvas).map_err(in_file)?;
            return Ok(Loaded {
                canvas,
                format: InFormat::Comfyui,
                diagnostics: import.diagnostics,
            });
        }
    }
    let imported = format::import_any(&catalog, &text, from.map(Format::from)).map_err(|e| {
        let mut failure = in_file(e);
        if failure.code == "unknown_format" {
            failure.hint = "pass --from native|react-flow|comfyui".into();
        }
        failure
    })?;
    let format = match imported.format {
        Format::ReactFlow => InFormat::ReactFlow,
        Format::ComfyuiWorkflow | Format::ComfyuiApi => InFormat::Comfyui,
        _ => InFormat::Native,
    };
    let canvas = Canvas::from_document(catalog, imported.canvas).map_err(in_file)?;
    Ok(Loaded {
        canvas,
        format,
        diagnostics: imported.diagnostics,
    })
}

impl From<InFormat> for Format {
    fn from(format: InFormat) -> Format {
        match format {
            InFormat::Native => Format::Native,
            InFormat::ReactFlow => Format::ReactFlow,
            InFormat::Comfyui => Format::ComfyuiWorkflow,
        }
    }
}

/// Prints import diagnostics as warnings on stderr.
pub fn print_import_diagnostics(path: &Path, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!(
            "warning[{}]: {}: {}{}",
            d.code,
            path.display(),
            crate::report::location(d)
                .map(|l| format!("{l}: "))
                .unwrap_or_default(),
            d.message
        );
        if !d.hint.is_empty() {
            eprintln!("  hint: {}", d.hint);
        }
    }
}
