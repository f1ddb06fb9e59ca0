//! JSON Schemas of every type that crosses a binding or an HTTP body
//! (feature `schema`).
//!
//! The schemas describe the wire shapes serde reads and writes: the same
//! renames, tags, defaults and milliseconds. `docs/schema/` holds one file per
//! type, written by `cargo run -p reelgraph --example schemas -- docs/schema`
//! and checked by `make test`; Python stubs, TypeScript types and the
//! server's OpenAPI document are made from them.
//!
//! ```
//! let schemas = reelgraph::schema::all();
//! let (_, ops) = schemas.iter().find(|(name, _)| name == "Op").unwrap();
//! assert!(serde_json::to_string(ops).unwrap().contains("add_node"));
//! ```

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

/// One root schema per public JSON type, named by the type (`RunOptions`),
/// in a stable order. Draft 2020-12, the dialect OpenAPI 3.1 uses; a schema
/// describes what reelgraph reads, which is also what it writes (fields it
/// leaves out when empty have defaults).
pub fn all() -> Vec<(String, Schema)> {
    let mut out = Vec::new();
    macro_rules! add {
        ($($t:ty),* $(,)?) => { $( out.push(root::<$t>()); )* };
    }
    // Documents and edits.
    add!(
        crate::CanvasDocument,
        crate::NodeTypeSpec,
        crate::Op,
        crate::format::react_flow::ReactFlow,
    );
    // Options.
    add!(
        crate::Quality,
        crate::store::ListQuery,
        crate::store::Prune,
        crate::store::AutosaveOptions,
        crate::runner::RetryPolicy,
        crate::runner::CircuitConfig,
        crate::runner::Resilience,
        crate::render::SvgOptions,
        crate::render::LayoutMode,
        crate::exec::PlanOptions,
        crate::exec::RunOptions,
        crate::exec::Force,
        crate::exec::FailurePolicy,
        crate::format::Format,
    );
    // Results and errors.
    add!(
        crate::store::Page,
        crate::store::VersionInfo,
        crate::store::RebuiltIndex,
        crate::Migrated,
        crate::Applied,
        crate::TaskPreview,
        crate::exec::RunReport,
        crate::exec::RunStatus,
        crate::exec::Explanation,
        crate::render::Layout,
        crate::runner::Task,
        crate::runner::TaskError,
        crate::runner::CircuitStats,
        crate::cache::CacheStats,
        crate::Report,
        crate::Severity,
        crate::format::Imported,
        crate::format::react_flow::FlowImport,
        crate::format::comfyui::Import,
        crate::format::comfyui::ImportStats,
        crate::format::comfyui::ApiPrompt,
        crate::ErrorBody,
        crate::error_codes::ErrorCode,
    );
    // Events (one envelope) and the run hub's snapshot.
    add!(
        crate::Event,
        crate::exec::RunEvent,
        crate::store::AutosaveEvent,
        crate::exec::RunSnapshot,
    );
    // The function-runner protocol (tasks, workers, leases).
    add!(
        crate::remote::TaskSubmission,
        crate::remote::TaskRecord,
        crate::remote::TaskState,
        crate::remote::ClaimRequest,
        crate::remote::Claimed,
        crate::remote::Heartbeat,
        crate::remote::LeaseState,
        crate::remote::ProgressReport,
        crate::remote::Completion,
        crate::remote::Failure,
        crate::remote::TaskEvent,
        crate::remote::HttpRunnerConfig,
        crate::remote::WorkerConfig,
        crate::remote::WorkerStats,
    );
    out
}

/// The schema of `T` alone, as [`all`] writes it.
pub fn root<T: JsonSchema>() -> (String, Schema) {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    if let Some(object) = schema.as_object_mut() {
        drop_code_examples_in(object);
    }
    (T::schema_name().into_owned(), schema)
}

/// Descriptions come from doc comments; their Rust examples mean nothing to
/// a Python or TypeScript reader, so fenced blocks are left out.
fn drop_code_examples_in(object: &mut serde_json::Map<String, serde_json::Value>) {
    if let Some(serde_json::Value::String(text)) = object.get_mut("description") {
        *text = without_fences(text);
    }
    object.values_mut().for_each(drop_code_examples);
}

fn drop_code_examples(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => drop_code_examples_in(object),
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_code_examples),
        _ => {}
    }
}

fn without_fences(text: &str) -> String {
    let mut kept = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            kept.push(line);
        }
    }
    kept.join("\n").trim_end().to_owned()
}
