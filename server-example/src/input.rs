//! Reading canvases: the native document, or a React Flow / ComfyUI file
//! imported into one, with the format told from the content.

use std::fmt;
use std::io::Read;
use std::path::Path;

use clap::ValueEnum;
use reelgraph::format::{comfyui, react_flow};
use reelgraph::{Canvas, Catalog, Diagnostic};
use serde_json::Value;

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
    let text = read_text(path)?;
    expect_object(path, &text, Some(InFormat::Native))?;
    Canvas::from_json(Catalog::builtin(), &text).map_err(|e| Failure::core_in(path, &e))
}

/// Reads a canvas in `from`, or in the format its content shows.
pub fn load(path: &Path, from: Option<InFormat>) -> Result<Loaded, Failure> {
    let text = read_text(path)?;
    expect_object(path, &text, from)?;
    let format = match from {
        Some(format) => format,
        None => sniff(path, &text)?,
    };
    let catalog = Catalog::builtin();
    let in_file = |e: reelgraph::Error| Failure::core_in(path, &e);
    let (canvas, diagnostics) = match format {
        InFormat::Native => (Canvas::from_json(catalog, &text).map_err(in_file)?, vec![]),
        InFormat::ReactFlow => {
            let import = react_flow::import_json(&catalog, &text).map_err(in_file)?;
            let canvas = Canvas::from_document(catalog, import.canvas).map_err(in_file)?;
            (canvas, import.diagnostics)
        }
        InFormat::Comfyui => {
            let import = comfyui::import(&catalog, &text).map_err(in_file)?;
            let canvas = Canvas::from_document(catalog, import.canvas).map_err(in_file)?;
            (canvas, import.diagnostics)
        }
    };
    Ok(Loaded {
        canvas,
        format,
        diagnostics,
    })
}

/// Refuses JSON that is valid but not an object, saying what it is: every
/// format read (`from`, or any when it is to be told) is one JSON object.
/// Broken JSON is left to the parser of the format, which says where.
fn expect_object(path: &Path, text: &str, from: Option<InFormat>) -> Result<(), Failure> {
    let first = text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .bytes()
        .next();
    let found = match first {
        Some(b'[') => "a JSON array",
        Some(b'"') => "a JSON string",
        Some(b't' | b'f') => "a JSON boolean",
        Some(b'n') => "JSON null",
        Some(b'-' | b'0'..=b'9') => "a JSON number",
        _ => return Ok(()),
    };
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return Ok(());
    }
    let (expected, hint) = match from {
        Some(InFormat::Native) => (
            "a canvas document object",
            "a canvas document is one JSON object: {\"format\": \"reelgraph.canvas\", \"format_version\": 2, \"id\": ..., \"nodes\": [...], \"edges\": [...]}; give each canvas its own file",
        ),
        Some(InFormat::ReactFlow) => (
            "a React Flow object",
            "a React Flow file is one JSON object with `nodes` and `edges` (what `toObject()` gives); give each flow its own file",
        ),
        Some(InFormat::Comfyui) => (
            "a ComfyUI workflow object",
            "a ComfyUI workflow is one JSON object with `nodes` and `links` (Workflow > Save in ComfyUI); give each workflow its own file",
        ),
        None => (
            "an object (a canvas document, React Flow object or ComfyUI workflow)",
            "each format reelgraph reads is one JSON object; give each canvas or workflow its own file",
        ),
    };
    Err(Failure::new(
        "invalid_json",
        format!("{}: found {found}, not {expected}", path.display()),
        hint,
    ))
}

/// Tells the format from the JSON content.
fn sniff(path: &Path, text: &str) -> Result<InFormat, Failure> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Failure::core_in(path, &reelgraph::Error::from(e)))?;
    let unknown = || {
        Failure::new(
            "unknown_format",
            format!(
                "{}: cannot tell which format this is (not a reelgraph canvas, React Flow object or ComfyUI workflow)",
                path.display()
            ),
            "pass --from native|react-flow|comfyui",
        )
    };
    let Value::Object(doc) = &value else {
        return Err(unknown());
    };
    if doc.contains_key("format") {
        // A native document, or another format the core refuses with `wrong_format`.
        return Ok(InFormat::Native);
    }
    if doc.contains_key("nodes") && doc.contains_key("links") {
        return Ok(InFormat::Comfyui);
    }
    if doc.contains_key("nodes") && (doc.contains_key("edges") || doc.contains_key("viewport")) {
        return Ok(InFormat::ReactFlow);
    }
    if !doc.is_empty()
        && doc
            .values()
            .all(|v| v.get("class_type").is_some_and(Value::is_string))
    {
        return Err(Failure::new(
            "wrong_format",
            format!(
                "{}: this is a ComfyUI API prompt, which has no layout or links to import",
                path.display()
            ),
            "in ComfyUI, save the workflow (Workflow > Save), not Export (API), and convert that file",
        ));
    }
    Err(unknown())
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
