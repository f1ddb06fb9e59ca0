//! One error type for the whole core, with stable `code()` strings that the
//! bindings and the server pass on unchanged.

use serde::{Deserialize, Serialize};

use crate::error_codes::{Category, ErrorCode};
use serde_json::{Value, json};

/// Everything that can go wrong in reelgraph. Match on [`Error::code`] rather
/// than on variants: codes are stable, variants may grow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid JSON: {message}")]
    InvalidJson { message: String },

    /// JSON of the wrong shape for an option or result type read with
    /// [`crate::from_json`]: the message names the type, the field and what was expected.
    #[error("{message}")]
    WrongJson {
        type_name: String,
        /// Where in the value, e.g. `retry.max_attempts` (empty: the value itself).
        path: String,
        /// The field at fault: the unknown one, or the last of `path`.
        field: String,
        message: String,
    },

    /// Valid JSON of the wrong kind: every format reelgraph reads is an object.
    #[error("expected {expected}, found {found}")]
    NotAnObject {
        expected: &'static str,
        found: &'static str,
    },

    #[error("invalid node-type spec `{type_name}`: {message}")]
    InvalidSpec { type_name: String, message: String },

    #[error("node type `{type_name}` version {version} is already registered")]
    DuplicateNodeType { type_name: String, version: u32 },

    #[error("unknown node type `{type_name}`")]
    UnknownNodeType {
        type_name: String,
        known: Vec<String>,
    },

    #[error(
        "node `{node}` is of type `{type_name}` version {version}, but this catalogue {supported}"
    )]
    UnsupportedTypeVersion {
        node: String,
        type_name: String,
        version: u32,
        supported: String,
    },

    #[error("unknown property `{property}` on node type `{type_name}`")]
    UnknownProperty {
        type_name: String,
        property: String,
        known: Vec<String>,
    },

    #[error("property `{property}` of node `{node}`: {message}")]
    PropertyInvalid {
        node: String,
        property: String,
        message: String,
        hint: String,
    },

    #[error("invalid id {id:?}: {message}")]
    InvalidId { id: String, message: String },

    #[error("invalid {field}: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },

    #[error("node `{node}` ({type_name}) is a data node and has no task")]
    NoTask { node: String, type_name: String },

    #[error("{} {kind} with id `{id}` already exists", article(kind))]
    DuplicateId { kind: &'static str, id: String },

    #[error("there is no node `{node}`")]
    UnknownNode { node: String },

    #[error("there is no edge `{edge}`")]
    UnknownEdge { edge: String },

    #[error("there is no group `{group}`")]
    UnknownGroup { group: String },

    #[error("node `{node}` ({type_name}) has no {direction} port `{port}`")]
    UnknownPort {
        node: String,
        type_name: String,
        direction: &'static str,
        port: String,
        available: Vec<String>,
    },

    #[error("node `{node}` cannot connect to itself")]
    SelfLoop { node: String },

    #[error("`{source_node}.{source_port}` gives `{given}`, but `{target_node}.{target_port}` accepts {accepted}", accepted = .accepted.join(" | "))]
    TypeMismatch {
        source_node: String,
        source_port: String,
        given: String,
        target_node: String,
        target_port: String,
        accepted: Vec<String>,
    },

    #[error(
        "connecting `{source_node}` to `{target_node}` would close a cycle: `{target_node}` already feeds `{source_node}`"
    )]
    Cycle {
        source_node: String,
        target_node: String,
    },

    #[error("input `{node}.{port}` already has an edge (`{existing}`) and takes only one")]
    InputOccupied {
        node: String,
        port: String,
        existing: String,
    },

    #[error("edge `{existing}` already connects these ports")]
    DuplicateEdge { existing: String },

    #[error("not a reelgraph canvas: format is `{found}`")]
    WrongFormat { found: String },

    #[error(
        "cannot tell which format this is: found {found}, not a reelgraph canvas, React Flow object or ComfyUI workflow"
    )]
    UnknownFormat { found: String },

    /// An importer's input is not of its format (code `wrong_format`).
    #[error("not {format}: {found}")]
    WrongShape {
        /// What the importer reads, with its article ("a ComfyUI workflow").
        format: &'static str,
        /// What is wrong, naming the field and what was found.
        found: String,
        hint: &'static str,
    },

    #[error("canvas format_version {found} is newer than this reelgraph reads (up to {supported})")]
    UnsupportedFormatVersion { found: u32, supported: u32 },

    #[error("{kind} `{id}` was not found")]
    NotFound { kind: &'static str, id: String },

    #[error("run `{run_id}`: event {seq} is no longer held (the oldest held is {oldest})")]
    SeqDropped {
        run_id: String,
        seq: u64,
        oldest: u64,
    },

    #[error("canvas `{id}` is at revision {current}, not {expected}: someone else saved it first")]
    Conflict {
        id: String,
        expected: u64,
        current: u64,
    },

    #[error("storage error{}: {message}", .path.as_ref().map(|p| format!(" at {p}")).unwrap_or_default())]
    Storage {
        message: String,
        path: Option<String>,
    },

    #[error("stored document {location} is corrupt: {message}")]
    Corrupt { location: String, message: String },

    #[error("the document is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },

    /// A file or folder the caller named (an input, an output folder) that
    /// could not be read or written: what a command line or a binding's
    /// path-taking call meets.
    #[error("cannot {action} {path}: {message}")]
    Io {
        action: &'static str,
        path: String,
        message: String,
    },

    /// Something an embedder's process must provide could not be started:
    /// an async runtime, a thread pool, a signal handler.
    #[error("{what} could not be started: {message}")]
    Runtime { what: String, message: String },

    /// An export that would write nothing a reader could use, refused
    /// rather than written: a ComfyUI API prompt of a canvas with no
    /// ComfyUI node.
    #[error("no node of canvas `{canvas}` is a ComfyUI node: the API prompt would be empty")]
    EmptyPrompt { canvas: String },

    /// A state the code holds impossible was reached: a bug.
    #[error("{message}")]
    Internal { message: String },

    #[error("canvas `{canvas}` has {} validation error{}; nothing ran", .report.errors, if .report.errors == 1 { "" } else { "s" })]
    InvalidCanvas {
        canvas: String,
        report: Box<crate::report::Report>,
    },

    #[error("no runner knows function `{function}` (needed by {})", .nodes.join(", "))]
    UnknownFunction {
        function: String,
        nodes: Vec<String>,
        known: Vec<String>,
    },

    #[error(
        "the plan is of canvas `{plan_canvas}` at revision {plan_revision}, but the canvas `{canvas}` is at revision {revision}"
    )]
    StalePlan {
        plan_canvas: String,
        plan_revision: u64,
        canvas: String,
        revision: u64,
    },

    #[error("op {index} ({op}) was rejected, nothing was applied: {source}")]
    OpRejected {
        index: usize,
        op: &'static str,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The stable snake_case code of this error (for an op rejection, the code
    /// of the reason).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidJson { .. } | Error::NotAnObject { .. } => "invalid_json",
            Error::WrongJson { .. } => "invalid_json",
            Error::InvalidSpec { .. } => "invalid_spec",
            Error::DuplicateNodeType { .. } => "duplicate_node_type",
            Error::UnknownNodeType { .. } => "unknown_node_type",
            Error::UnsupportedTypeVersion { .. } => "unsupported_type_version",
            Error::UnknownProperty { .. } => "unknown_property",
            Error::PropertyInvalid { .. } => "property_invalid",
            Error::InvalidId { .. } => "invalid_id",
            Error::InvalidField { .. } => "invalid_field",
            Error::NoTask { .. } => "no_task",
            Error::DuplicateId { .. } => "duplicate_id",
            Error::UnknownNode { .. } => "unknown_node",
            Error::UnknownEdge { .. } => "unknown_edge",
            Error::UnknownGroup { .. } => "unknown_group",
            Error::UnknownPort { .. } => "unknown_port",
            Error::SelfLoop { .. } => "self_loop",
            Error::TypeMismatch { .. } => "type_mismatch",
            Error::Cycle { .. } => "cycle",
            Error::InputOccupied { .. } => "input_occupied",
            Error::DuplicateEdge { .. } => "duplicate_edge",
            Error::WrongFormat { .. } | Error::WrongShape { .. } => "wrong_format",
            Error::UnknownFormat { .. } => "unknown_format",
            Error::UnsupportedFormatVersion { .. } => "unsupported_format_version",
            Error::NotFound { .. } => "not_found",
            Error::SeqDropped { .. } => "seq_dropped",
            Error::Conflict { .. } => "conflict",
            Error::Storage { .. } => "storage",
            Error::Corrupt { .. } => "corrupt_document",
            Error::TooLarge { .. } => "too_large",
            Error::Io { .. } => "io",
            Error::Runtime { .. } => "runtime",
            Error::EmptyPrompt { .. } => "empty_prompt",
            Error::Internal { .. } => "internal",
            Error::InvalidCanvas { .. } => "invalid_canvas",
            Error::UnknownFunction { .. } => "unknown_function",
            Error::StalePlan { .. } => "stale_plan",
            Error::OpRejected { source, .. } => source.code(),
        }
    }

    /// What to do next.
    pub fn hint(&self) -> String {
        match self {
            Error::InvalidJson { .. } => {
                "send valid JSON; NaN and infinite numbers are not JSON and are refused".into()
            }
            Error::WrongJson { type_name, .. } if type_name.contains('<') => {
                "correct the field the message names; docs/schema/ has the JSON Schema of each type".into()
            }
            Error::WrongJson { type_name, .. } => format!(
                "correct the field the message names; docs/schema/{type_name}.json lists every field, its type and its default"
            ),
            Error::NotAnObject { .. } => {
                "each format reelgraph reads is one JSON object; give each canvas its own file".into()
            }
            Error::InvalidSpec { .. } => {
                "fix the spec field named in the message; see the node-type reference".into()
            }
            Error::DuplicateNodeType { .. } => {
                "register a higher `version` (with migrations) to change an existing type".into()
            }
            Error::UnknownNodeType { known, .. } => {
                format!("register the type first, or use one of: {}", known.join(", "))
            }
            Error::UnsupportedTypeVersion { .. } => {
                "upgrade reelgraph or register the newer node-type spec before loading this canvas"
                    .into()
            }
            Error::UnknownProperty { known, .. } => {
                format!("known properties: {}", known.join(", "))
            }
            Error::PropertyInvalid { hint, .. } => hint.clone(),
            Error::InvalidId { .. } => {
                "use 1 to 128 bytes without control characters or surrounding spaces".into()
            }
            Error::InvalidField { field, .. } => format!("correct the `{field}` value"),
            Error::NoTask { .. } => {
                "preview or run a node downstream of it; data nodes feed tasks through their outputs".into()
            }
            Error::DuplicateId { kind, .. } => format!("choose another {kind} id"),
            Error::UnknownNode { .. } => "check the node id; list nodes to see what exists".into(),
            Error::UnknownEdge { .. } => "check the edge id; list edges to see what exists".into(),
            Error::UnknownGroup { .. } => "check the group id".into(),
            Error::UnknownPort { available, .. } if available.is_empty() => {
                "this node has no ports on that side".into()
            }
            Error::UnknownPort { available, .. } => {
                format!("ports are addressed by name: {}", available.join(", "))
            }
            Error::SelfLoop { .. } => "connect the output to a different node".into(),
            Error::TypeMismatch { accepted, .. } => format!(
                "this input accepts {}; connect an output of one of those types or put a converting node between",
                accepted.join(" | ")
            ),
            Error::Cycle { .. } => {
                "a canvas is a directed acyclic graph; connect in the other direction or remove an edge of the loop".into()
            }
            Error::InputOccupied { existing, .. } => {
                format!("disconnect `{existing}` first, or use an input that takes multiple edges")
            }
            Error::DuplicateEdge { .. } => "the connection already exists; nothing to do".into(),
            Error::WrongFormat { .. } => {
                "expected a document with \"format\": \"reelgraph.canvas\"; import other formats with the format module".into()
            }
            Error::UnknownFormat { .. } => {
                "name the format (native, react_flow, comfyui_workflow), or check that the file is a canvas".into()
            }
            Error::WrongShape { hint, .. } => (*hint).into(),
            Error::UnsupportedFormatVersion { .. } => {
                "upgrade reelgraph to read this canvas; it was not changed".into()
            }
            Error::NotFound { kind, .. } => format!("check the {kind} id; list to see what exists"),
            Error::SeqDropped { oldest, .. } => format!(
                "take the run's snapshot for what came before, then subscribe from seq {oldest}; read faster or raise `HubOptions::replay` to keep more"
            ),
            Error::Conflict { current, .. } => format!(
                "load revision {current}, re-apply your ops on it (or merge), then save with expected revision {current}"
            ),
            Error::Storage { .. } => {
                "check that the storage location exists, is writable and has free space; nothing was half-written".into()
            }
            Error::Corrupt { .. } => {
                "restore what the message names (a document, or the database file) from its version history or a backup".into()
            }
            Error::TooLarge { .. } => {
                "split the canvas, or keep large data (long texts, images) in asset files referenced by path".into()
            }
            Error::Io { action: "read", .. } => {
                "check the path and that the file is readable".into()
            }
            Error::Io { .. } => {
                "check that the folder exists and is writable, and that the disk has space".into()
            }
            Error::Runtime { .. } => {
                "check the process limits (threads, open files, signal handling)".into()
            }
            Error::EmptyPrompt { .. } => {
                "an API prompt is made from a canvas imported from a ComfyUI workflow: export the workflow itself".into()
            }
            Error::Internal { .. } => {
                "this is a bug in reelgraph; please report it with what you ran".into()
            }
            Error::InvalidCanvas { .. } => {
                "fix the errors the validation report lists, then run again".into()
            }
            Error::UnknownFunction { known, .. } if known.is_empty() => {
                "register the function with the runner before running".into()
            }
            Error::UnknownFunction { known, .. } => format!(
                "register the function with the runner, or change the node type's task; known: {}",
                known.join(", ")
            ),
            Error::StalePlan { .. } => {
                "call `Planner::replan` with the canvas (or plan again), then start the run; a stale plan would file new results under old content keys".into()
            }
            Error::OpRejected { source, .. } => source.hint(),
        }
    }

    /// Structured facts about the error, for programs.
    pub fn details(&self) -> Value {
        match self {
            Error::OpRejected { index, op, source } => {
                let mut d = source.details();
                if let Value::Object(m) = &mut d {
                    m.insert("op_index".into(), json!(index));
                    m.insert("op".into(), json!(op));
                }
                d
            }
            Error::UnknownPort {
                node,
                port,
                direction,
                available,
                ..
            } => {
                json!({"node": node, "port": port, "direction": direction, "available": available})
            }
            Error::TypeMismatch {
                given, accepted, ..
            } => json!({"given": given, "accepted": accepted}),
            Error::PropertyInvalid { node, property, .. } => {
                json!({"node": node, "property": property})
            }
            Error::UnknownNode { node } => json!({"node": node}),
            Error::UnknownEdge { edge } => json!({"edge": edge}),
            Error::UnknownGroup { group } => json!({"group": group}),
            Error::UnknownNodeType { type_name, .. } => json!({"type": type_name}),
            Error::UnknownProperty {
                type_name,
                property,
                ..
            } => json!({"type": type_name, "property": property}),
            Error::UnsupportedTypeVersion {
                node,
                type_name,
                version,
                ..
            } => json!({"node": node, "type": type_name, "version": version}),
            Error::InvalidSpec { type_name, .. } => json!({"type": type_name}),
            Error::DuplicateNodeType { type_name, version } => {
                json!({"type": type_name, "version": version})
            }
            Error::InvalidId { id, .. } => json!({"id": id}),
            Error::InvalidField { field, .. } => json!({"field": field}),
            Error::WrongJson {
                type_name,
                path,
                field,
                ..
            } => json!({"type": type_name, "path": path, "field": field}),
            Error::NoTask { node, type_name } => json!({"node": node, "type": type_name}),
            Error::DuplicateId { kind, id } => json!({"kind": kind, "id": id}),
            Error::SelfLoop { node } => json!({"node": node}),
            Error::Cycle {
                source_node,
                target_node,
            } => json!({"source": source_node, "target": target_node}),
            Error::WrongFormat { found } | Error::UnknownFormat { found } => {
                json!({"found": found})
            }
            Error::NotAnObject { expected, found } => json!({"expected": expected, "found": found}),
            Error::WrongShape { format, found, .. } => json!({"format": format, "found": found}),
            Error::NotFound { kind, id } => json!({"kind": kind, "id": id}),
            Error::SeqDropped {
                run_id,
                seq,
                oldest,
            } => json!({"run_id": run_id, "seq": seq, "oldest": oldest}),
            Error::Conflict {
                id,
                expected,
                current,
            } => json!({"id": id, "expected": expected, "current": current}),
            Error::Corrupt { location, .. } => json!({"location": location}),
            Error::TooLarge { size, limit } => json!({"size": size, "limit": limit}),
            Error::Io { action, path, .. } => json!({"action": action, "path": path}),
            Error::Runtime { what, .. } => json!({"what": what}),
            Error::EmptyPrompt { canvas } => json!({"canvas": canvas}),
            Error::Internal { .. } => json!({}),
            Error::InvalidCanvas { canvas, report } => json!({"canvas": canvas, "report": report}),
            Error::UnknownFunction {
                function,
                nodes,
                known,
            } => json!({"function": function, "nodes": nodes, "known": known}),
            Error::InputOccupied { existing, .. } => json!({"existing_edge": existing}),
            Error::StalePlan {
                plan_canvas,
                plan_revision,
                canvas,
                revision,
            } => json!({
                "plan_canvas": plan_canvas, "plan_revision": plan_revision,
                "canvas": canvas, "revision": revision
            }),
            Error::DuplicateEdge { existing } => json!({"existing_edge": existing}),
            Error::UnsupportedFormatVersion { found, supported } => {
                json!({"found": found, "supported": supported})
            }
            _ => json!({}),
        }
    }

    /// The error's row of the [error table](crate::error_codes::ERROR_CODES).
    pub fn table_row(&self) -> &'static ErrorCode {
        // Every code has a row: a unit test of `error_codes` reads them from this file.
        ErrorCode::find(self.code()).unwrap_or(&INTERNAL)
    }

    /// What kind of failure this is (see [`Category`]).
    pub fn category(&self) -> Category {
        self.table_row().category
    }

    /// The HTTP status a server answers this error with.
    pub fn http_status(&self) -> u16 {
        self.table_row().http_status
    }

    /// The wire form: `{code, message, hint, details}`.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
            hint: self.hint(),
            details: self.details(),
        }
    }

    pub(crate) fn property(
        node: &str,
        property: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error::PropertyInvalid {
            node: node.to_owned(),
            property: property.to_owned(),
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::InvalidJson {
            message: e.to_string(),
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The row a code without one would get; never used while the table is whole.
const INTERNAL: ErrorCode = ErrorCode {
    code: "internal",
    category: Category::Internal,
    http_status: 500,
    when: "",
};

/// The serialisable form of an [`Error`], identical in every language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub hint: String,
    pub details: Value,
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
