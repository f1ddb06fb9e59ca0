//! The media types of the canvas formats: which one an `Accept` header asks
//! for on export, and which format a `Content-Type` names on import.
//!
//! Formats without a registered media type get one in reelgraph's vendor
//! tree (`application/vnd.reelgraph.*+json`); DOT has `text/vnd.graphviz`,
//! SVG `image/svg+xml`. `docs/server.md` lists the table.

use reelgraph::format::Format;

/// The formats a canvas is exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Native,
    ReactFlow,
    ComfyuiApi,
    Dot,
    Mermaid,
    Svg,
}

/// The native document's media type.
pub const NATIVE: &str = "application/vnd.reelgraph.canvas+json";
pub const REACT_FLOW: &str = "application/vnd.reelgraph.react-flow+json";
pub const COMFYUI_WORKFLOW: &str = "application/vnd.reelgraph.comfyui-workflow+json";
pub const COMFYUI_API: &str = "application/vnd.reelgraph.comfyui-api+json";
pub const DOT: &str = "text/vnd.graphviz";
pub const MERMAID: &str = "text/vnd.mermaid";
pub const SVG: &str = "image/svg+xml";
/// Plain JSON: the native document on export, told from the content on import.
pub const JSON: &str = "application/json";

/// How exactly `application/json` names the native document (see `matches`).
const PLAIN_JSON: u8 = 2;

impl ExportFormat {
    /// Every export format, in the order a tie in `Accept` is broken.
    pub const ALL: [ExportFormat; 6] = [
        ExportFormat::Native,
        ExportFormat::ReactFlow,
        ExportFormat::ComfyuiApi,
        ExportFormat::Svg,
        ExportFormat::Dot,
        ExportFormat::Mermaid,
    ];

    /// The name `?format=` takes.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Native => "native",
            ExportFormat::ReactFlow => "react_flow",
            ExportFormat::ComfyuiApi => "comfyui_api",
            ExportFormat::Dot => "dot",
            ExportFormat::Mermaid => "mermaid",
            ExportFormat::Svg => "svg",
        }
    }

    /// The format `?format=` names.
    pub fn from_name(name: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The media type of the format.
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Native => NATIVE,
            ExportFormat::ReactFlow => REACT_FLOW,
            ExportFormat::ComfyuiApi => COMFYUI_API,
            ExportFormat::Dot => DOT,
            ExportFormat::Mermaid => MERMAID,
            ExportFormat::Svg => SVG,
        }
    }

    /// The `Content-Type` of a response in this format (text says its charset).
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Dot => "text/vnd.graphviz; charset=utf-8",
            ExportFormat::Mermaid => "text/vnd.mermaid; charset=utf-8",
            other => other.media_type(),
        }
    }

    /// Whether the media range `range` (`type/subtype`, `type/*` or `*/*`)
    /// covers this format, and how exactly: 3 for the format's own type, 2
    /// for plain JSON naming the native document, 1 for `type/*`, 0 for `*/*`.
    fn matches(self, range: &str) -> Option<u8> {
        let own = self.media_type();
        if range == own {
            return Some(3);
        }
        if self == ExportFormat::Native && range == JSON {
            return Some(PLAIN_JSON);
        }
        if range == "*/*" {
            return Some(0);
        }
        let top = own.split('/').next().unwrap_or(own);
        match range.strip_suffix("/*") {
            Some(prefix) if prefix == top => Some(1),
            _ => None,
        }
    }
}

/// The export format an `Accept` header prefers: the highest `q` among the
/// formats it covers (each format taking its most specific range), ties
/// broken by [`ExportFormat::ALL`]. No header means the native document;
/// `None` means the header accepts none of the formats.
pub fn negotiate(accept: Option<&str>) -> Option<Choice> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Choice::of(ExportFormat::Native));
    };
    let ranges: Vec<(String, f32)> = accept.split(',').filter_map(parse_range).collect();
    let mut best: Option<(Choice, f32)> = None;
    for format in ExportFormat::ALL {
        // The most specific range that covers the format decides its q.
        let Some((rank, q)) = ranges
            .iter()
            .filter_map(|(range, q)| format.matches(range).map(|rank| (rank, *q)))
            .max_by_key(|(rank, _)| *rank)
        else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            let mut choice = Choice::of(format);
            if rank == PLAIN_JSON {
                choice.content_type = JSON;
            }
            best = Some((choice, q));
        }
    }
    best.map(|(choice, _)| choice)
}

/// What an export answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub format: ExportFormat,
    /// The response's `Content-Type`: the format's own, or plain JSON for
    /// a client that asked for the native document as `application/json`.
    pub content_type: &'static str,
}

impl Choice {
    pub fn of(format: ExportFormat) -> Choice {
        Choice {
            format,
            content_type: format.content_type(),
        }
    }
}

/// One entry of an `Accept` header: the range, lower-cased, and its `q`
/// (1 when absent; a malformed `q` drops the entry).
fn parse_range(entry: &str) -> Option<(String, f32)> {
    let mut parts = entry.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    if !range.contains('/') {
        return None;
    }
    let mut q = 1.0;
    for param in parts {
        if let Some((key, value)) = param.split_once('=')
            && key.trim().eq_ignore_ascii_case("q")
        {
            q = value
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some((range, q))
}

/// What an import body's `Content-Type` says about its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// A format named by its media type.
    Named(Format),
    /// Plain JSON: the format is told from the content.
    Detect,
}

/// The import format a `Content-Type` names (parameters such as `charset`
/// are ignored); `None` for a type no importer reads.
pub fn import_format(content_type: &str) -> Option<ImportFormat> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Some(match essence.as_str() {
        NATIVE => ImportFormat::Named(Format::Native),
        REACT_FLOW => ImportFormat::Named(Format::ReactFlow),
        COMFYUI_WORKFLOW => ImportFormat::Named(Format::ComfyuiWorkflow),
        COMFYUI_API => ImportFormat::Named(Format::ComfyuiApi),
        JSON => ImportFormat::Detect,
        _ => return None,
    })
}

/// The media types an import reads, for error details and the docs.
pub const IMPORT_TYPES: [&str; 5] = [NATIVE, REACT_FLOW, COMFYUI_WORKFLOW, COMFYUI_API, JSON];

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(accept: &str) -> Option<ExportFormat> {
        negotiate(Some(accept)).map(|choice| choice.format)
    }

    #[test]
    fn no_accept_or_any_gives_the_native_document() {
        assert_eq!(negotiate(None), Some(Choice::of(ExportFormat::Native)));
        assert_eq!(negotiate(Some("")), Some(Choice::of(ExportFormat::Native)));
        assert_eq!(
            negotiate(Some("*/*")),
            Some(Choice::of(ExportFormat::Native))
        );
        let plain = negotiate(Some("application/json")).expect("the native document");
        assert_eq!(
            (plain.format, plain.content_type),
            (ExportFormat::Native, JSON)
        );
    }

    #[test]
    fn each_media_type_names_its_format() {
        for format in ExportFormat::ALL {
            assert_eq!(
                negotiate(Some(format.media_type())),
                Some(Choice::of(format))
            );
            assert_eq!(ExportFormat::from_name(format.name()), Some(format));
        }
    }

    #[test]
    fn q_values_and_specificity_decide() {
        let accept = "application/json;q=0.5, image/svg+xml";
        assert_eq!(format_of(accept), Some(ExportFormat::Svg));
        let accept = "text/*;q=0.9, text/vnd.mermaid";
        assert_eq!(format_of(accept), Some(ExportFormat::Mermaid));
        // `text/*` alone: DOT comes before Mermaid in the tie order.
        assert_eq!(format_of("TEXT/*"), Some(ExportFormat::Dot));
        // q=0 refuses a format even under a wildcard.
        let accept = "*/*, application/vnd.reelgraph.canvas+json;q=0, application/json;q=0";
        assert_eq!(format_of(accept), Some(ExportFormat::ReactFlow));
    }

    #[test]
    fn unknown_types_accept_nothing() {
        for accept in [
            "text/html",
            "application/xml, image/png",
            "image/svg+xml;q=0",
            "nonsense",
        ] {
            assert_eq!(negotiate(Some(accept)), None, "{accept}");
        }
    }

    #[test]
    fn content_types_name_import_formats() {
        assert_eq!(
            import_format("application/json; charset=utf-8"),
            Some(ImportFormat::Detect)
        );
        assert_eq!(
            import_format(COMFYUI_WORKFLOW),
            Some(ImportFormat::Named(Format::ComfyuiWorkflow))
        );
        assert_eq!(import_format("text/plain"), None);
        assert_eq!(import_format(SVG), None);
    }
}
