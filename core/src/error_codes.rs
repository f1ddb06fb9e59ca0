//! The error table: every code [`Error::code`](crate::Error::code) returns,
//! with its category and the HTTP status a server answers with. Python
//! exception classes, TypeScript unions, the server's statuses and the error
//! list in the docs are made from it.

use serde::{Deserialize, Serialize};

/// What kind of failure an error is, and so what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// The input is malformed or breaks a rule about its own content: fix it.
    InvalidInput,
    /// Something the input names does not exist.
    NotFound,
    /// The input is fine, but something moved on or exists already: reload,
    /// re-apply, or choose another name.
    Conflict,
    /// Well-formed, but a rule of the canvas or the runner refuses it.
    Refused,
    /// Storage could not be read or written: fix the environment or retry.
    Unavailable,
    /// Stored data is damaged, or reelgraph itself failed.
    Internal,
}

impl Category {
    /// Every category, in the order of the docs.
    pub const ALL: [Category; 6] = [
        Category::InvalidInput,
        Category::NotFound,
        Category::Conflict,
        Category::Refused,
        Category::Unavailable,
        Category::Internal,
    ];

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::InvalidInput => "invalid_input",
            Category::NotFound => "not_found",
            Category::Conflict => "conflict",
            Category::Refused => "refused",
            Category::Unavailable => "unavailable",
            Category::Internal => "internal",
        }
    }
}

/// One row of the error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorCode {
    /// The stable snake_case code.
    pub code: &'static str,
    pub category: Category,
    /// The status the reference server answers with.
    pub http_status: u16,
    /// When the code is returned (Markdown, for the docs).
    pub when: &'static str,
}

impl ErrorCode {
    /// The row of `code`, if it is one of reelgraph's.
    pub fn find(code: &str) -> Option<&'static ErrorCode> {
        ERROR_CODES.iter().find(|row| row.code == code)
    }
}

/// Every error code, in the order of the docs.
///
/// ```
/// use reelgraph::error_codes::{Category, ERROR_CODES, ErrorCode};
/// let conflict = ErrorCode::find("conflict").unwrap();
/// assert_eq!((conflict.category, conflict.http_status), (Category::Conflict, 409));
/// assert!(ERROR_CODES.iter().all(|row| (400..600).contains(&row.http_status)));
/// ```
pub const ERROR_CODES: &[ErrorCode] = &[
    ErrorCode {
        code: "invalid_json",
        category: Category::InvalidInput,
        http_status: 400,
        when: "text is not JSON, or JSON of the wrong shape (an unknown field, a missing one) for a document, op list or catalogue file; a key given twice in one object; a canvas document that is not a JSON object; an option or result read with `reelgraph::from_json` or `from_value` that has an unknown field or a value of the wrong type (`details`: `type`, `path`, `field`)",
    },
    ErrorCode {
        code: "invalid_spec",
        category: Category::InvalidInput,
        http_status: 422,
        when: "a node-type spec fails to parse or a [registration check](#registration-checks)",
    },
    ErrorCode {
        code: "duplicate_node_type",
        category: Category::Conflict,
        http_status: 409,
        when: "registering a type at a version not above the registered one",
    },
    ErrorCode {
        code: "unknown_node_type",
        category: Category::InvalidInput,
        http_status: 422,
        when: "`add_node` of an unregistered type; an op on a loaded node of an unknown type; also a validation error",
    },
    ErrorCode {
        code: "unsupported_type_version",
        category: Category::InvalidInput,
        http_status: 422,
        when: "`add_node` with a `type_version` above the catalogue's, or below it without a migration path; an op on a loaded node in that state; also a validation error",
    },
    ErrorCode {
        code: "unknown_property",
        category: Category::InvalidInput,
        http_status: 422,
        when: "`add_node` / `set_properties` with a property the type does not have; also a validation error for loaded nodes",
    },
    ErrorCode {
        code: "property_invalid",
        category: Category::InvalidInput,
        http_status: 422,
        when: "a value breaks its spec (kind, range, enum, pattern, length, items, fields, depth), or `null` for a required property without default; also a validation error",
    },
    ErrorCode {
        code: "invalid_id",
        category: Category::InvalidInput,
        http_status: 422,
        when: "a node, edge or group id (in an op or a document), or a canvas id given to a store, is empty, longer than 128 bytes, has a control character or surrounding white space (a bad type name is an `invalid_spec`)",
    },
    ErrorCode {
        code: "invalid_field",
        category: Category::InvalidInput,
        http_status: 422,
        when: "a `set_properties` that both sets and unsets a name, a label or canvas name over 1,024 bytes, a viewport with a non-finite value or a zoom not above 0, a `story.page_count` of 0, `metadata` nested deeper than 32 levels, a document with `format_version` 0, a non-finite position, `ui` nested deeper than 32 levels, a group listing a node twice, a quality name that is not a tier, a store save whose document `revision` is not above the expected one; any other of the [limits](#limits) broken by an op, a loaded document or a saved one",
    },
    ErrorCode {
        code: "no_task",
        category: Category::Refused,
        http_status: 422,
        when: "`task_preview` of a data node",
    },
    ErrorCode {
        code: "invalid_canvas",
        category: Category::Refused,
        http_status: 422,
        when: "a run of a canvas whose validation report has errors; `details.report` is the report, and no task ran",
    },
    ErrorCode {
        code: "unknown_function",
        category: Category::Refused,
        http_status: 422,
        when: "a run whose plan needs a function the runner does not know (checked before any task starts)",
    },
    ErrorCode {
        code: "stale_plan",
        category: Category::Conflict,
        http_status: 409,
        when: "`Executor::start_planned` with a plan of another canvas, or of an older revision of this one (`details` gives both)",
    },
    ErrorCode {
        code: "duplicate_id",
        category: Category::Conflict,
        http_status: 409,
        when: "`add_node`, `restore_node`, `connect` with an `id`, `restore_edge` or `add_group` with an id in use; a document with duplicate node, edge or group ids; a store `create` of a canvas id that exists; a batch that gives one `run_id` to two runs",
    },
    ErrorCode {
        code: "unknown_node",
        category: Category::NotFound,
        http_status: 422,
        when: "an op or `task_preview` names a node that does not exist (also a group member)",
    },
    ErrorCode {
        code: "unknown_edge",
        category: Category::NotFound,
        http_status: 422,
        when: "`disconnect` of an edge id that does not exist",
    },
    ErrorCode {
        code: "unknown_group",
        category: Category::NotFound,
        http_status: 422,
        when: "`set_group` / `remove_group` of a missing group",
    },
    ErrorCode {
        code: "unknown_port",
        category: Category::NotFound,
        http_status: 422,
        when: "`connect` / `can_connect` to a port the node's type does not have; also a validation error",
    },
    ErrorCode {
        code: "self_loop",
        category: Category::Refused,
        http_status: 422,
        when: "connecting a node to itself; also a validation error for a loaded edge kept aside",
    },
    ErrorCode {
        code: "type_mismatch",
        category: Category::Refused,
        http_status: 422,
        when: "the input does not accept the output's type; also a validation error",
    },
    ErrorCode {
        code: "cycle",
        category: Category::Refused,
        http_status: 422,
        when: "the edge would close a cycle; also a validation error for a loaded edge kept aside",
    },
    ErrorCode {
        code: "input_occupied",
        category: Category::Refused,
        http_status: 422,
        when: "a second edge into an input without `multiple`; also a validation error",
    },
    ErrorCode {
        code: "duplicate_edge",
        category: Category::Refused,
        http_status: 422,
        when: "the same output is already connected to the same input; also a validation error for loaded documents",
    },
    ErrorCode {
        code: "wrong_format",
        category: Category::InvalidInput,
        http_status: 415,
        when: "a document's `format` is missing or not `\"reelgraph.canvas\"`; an importer's input is not of its format (a ComfyUI file whose `nodes` is not an array: the message names the field and what it found); a ComfyUI API prompt given to `import_any`",
    },
    ErrorCode {
        code: "unknown_format",
        category: Category::InvalidInput,
        http_status: 415,
        when: "`format::detect` / `format::import_any` of JSON that is none of the formats reelgraph reads (`details.found` says what it is)",
    },
    ErrorCode {
        code: "unsupported_format_version",
        category: Category::InvalidInput,
        http_status: 422,
        when: "a document's `format_version` is newer than this build reads (2)",
    },
    ErrorCode {
        code: "not_found",
        category: Category::NotFound,
        http_status: 404,
        when: "a store has no canvas with that id, or no such revision in its history; a run hub holds no run with that id (`details.kind` is `run`)",
    },
    ErrorCode {
        code: "seq_dropped",
        category: Category::NotFound,
        http_status: 410,
        when: "a run hub subscription asks for, or a slow subscriber falls behind to, an event the hub no longer holds (`details.oldest` is the oldest held); the subscription ends",
    },
    ErrorCode {
        code: "conflict",
        category: Category::Conflict,
        http_status: 409,
        when: "a store save or delete names an expected revision that is no longer the current one",
    },
    ErrorCode {
        code: "storage",
        category: Category::Unavailable,
        http_status: 503,
        when: "a store could not read or write its storage",
    },
    ErrorCode {
        code: "io",
        category: Category::Unavailable,
        http_status: 503,
        when: "a file or folder the caller named could not be read or written (`details.action`: read or write)",
    },
    ErrorCode {
        code: "runtime",
        category: Category::Internal,
        http_status: 500,
        when: "an async runtime, a thread pool or a signal handler could not be started",
    },
    ErrorCode {
        code: "empty_prompt",
        category: Category::Refused,
        http_status: 422,
        when: "a ComfyUI API prompt was asked of a canvas with no ComfyUI node",
    },
    ErrorCode {
        code: "internal",
        category: Category::Internal,
        http_status: 500,
        when: "a bug: a state reelgraph holds impossible was reached",
    },
    ErrorCode {
        code: "corrupt_document",
        category: Category::Internal,
        http_status: 500,
        when: "a stored document cannot be parsed; a SQLite database file (store or result cache) is damaged or not a database",
    },
    ErrorCode {
        code: "too_large",
        category: Category::InvalidInput,
        http_status: 413,
        when: "a document is over the limit (64 MiB of JSON); as an import diagnostic, a part of the input past one of the importer's caps (see [Formats](formats.md))",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code `Error::code` can return has a row, and every row a code:
    /// the match arms are read from the source, as `make check-codes` does.
    #[test]
    fn the_table_holds_exactly_the_codes_errors_return() {
        let source = include_str!("error.rs");
        let mut returned: Vec<&str> = source
            .lines()
            .filter_map(|line| line.trim().split_once("=> \""))
            .filter_map(|(_, rest)| rest.strip_suffix("\","))
            .collect();
        returned.sort_unstable();
        returned.dedup();
        let mut table: Vec<&str> = ERROR_CODES.iter().map(|row| row.code).collect();
        table.sort_unstable();
        assert_eq!(table.len(), ERROR_CODES.len(), "a code is listed twice");
        assert_eq!(returned, table);
    }

    #[test]
    fn an_error_body_round_trips_and_refuses_unknown_fields() {
        let err = crate::Error::Conflict {
            id: "c".into(),
            expected: 1,
            current: 2,
        };
        assert_eq!(
            (err.category(), err.http_status()),
            (Category::Conflict, 409)
        );
        let body = err.to_body();
        let text = serde_json::to_string(&body).expect("json");
        let back: crate::ErrorBody = serde_json::from_str(&text).expect("body");
        assert_eq!(back, body);
        let extra = text.replacen('{', "{\"status\":409,", 1);
        assert!(serde_json::from_str::<crate::ErrorBody>(&extra).is_err());
        let category: Category = serde_json::from_str("\"invalid_input\"").expect("category");
        assert_eq!(category.as_str(), "invalid_input");
    }
}
