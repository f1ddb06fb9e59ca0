//! The node types an imported canvas uses, carried in the document so a
//! saved canvas validates, renders and exports the same after it is loaded
//! into another catalogue: `metadata.comfyui_node_types` holds the specs of
//! every ComfyUI type the canvas's nodes have, as the import registered
//! them, as one JSON text (an array of specs). A text, not a JSON tree:
//! writing one costs an import a few microseconds, where building the tree
//! of every spec on every import cost more than a tenth of the import.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::{CATEGORY, types};
use crate::catalog::{Catalog, NodeTypeSpec};
use crate::error::{Error, Result};
use crate::model::CanvasDocument;

/// The metadata key that holds the specs.
pub const NODE_TYPES_KEY: &str = "comfyui_node_types";

/// Stores the specs of the document's ComfyUI node types in its metadata.
pub(super) fn store(catalog: &Catalog, doc: &mut CanvasDocument) {
    let used: BTreeSet<&str> = doc.nodes.iter().map(|n| n.node_type.as_str()).collect();
    let specs: Vec<Arc<NodeTypeSpec>> = used
        .into_iter()
        .filter_map(|name| catalog.get(name))
        .filter(|spec| spec.category == CATEGORY)
        .collect();
    if specs.is_empty() {
        return;
    }
    // Specs always serialise: they are plain data with string keys.
    if let Ok(text) = serde_json::to_string(&specs) {
        doc.metadata
            .insert(NODE_TYPES_KEY.to_owned(), Value::String(text));
    }
}

/// Registers the ComfyUI node types a saved canvas carries (see
/// [`import`](super::import)) in `catalog`, so the document loads, validates
/// and exports as it did right after the import. A type the catalogue has at
/// the same or a newer version is left as it is. Returns the names of the
/// types registered. [`import_any`](crate::format::import_any) does this for
/// native documents; call it before [`Canvas::from_document`](crate::Canvas::from_document)
/// when a document comes from elsewhere (a store).
///
/// Fails with `invalid_field` when `metadata.comfyui_node_types` is not a
/// JSON text of an array of node type specs of category `comfyui`.
///
/// ```
/// use reelgraph::{Canvas, Catalog};
/// use reelgraph::format::comfyui;
///
/// let workflow = r#"{"nodes": [{"id": 1, "type": "SaveImage",
///   "widgets_values": ["out"]}], "links": []}"#;
/// let import = comfyui::import(&Catalog::builtin(), workflow)?;
/// let saved = serde_json::to_string(&import.canvas).unwrap();
///
/// // Another process, another catalogue.
/// let catalog = Catalog::builtin();
/// let doc = reelgraph::CanvasDocument::from_json(&saved)?;
/// assert_eq!(comfyui::restore_types(&catalog, &doc)?, ["SaveImage"]);
/// let canvas = Canvas::from_document(catalog, doc)?;
/// assert!(canvas.validate().diagnostics.is_empty());
/// # Ok::<(), reelgraph::Error>(())
/// ```
pub fn restore_types(catalog: &Catalog, doc: &CanvasDocument) -> Result<Vec<String>> {
    let Some(saved) = doc.metadata.get(NODE_TYPES_KEY) else {
        return Ok(Vec::new());
    };
    let invalid = |why: String| Error::InvalidField {
        field: "metadata.comfyui_node_types",
        message: why,
    };
    let Value::String(text) = saved else {
        return Err(invalid(
            "it is not a JSON text of an array of node type specs".into(),
        ));
    };
    let items: Vec<Value> =
        serde_json::from_str(text).map_err(|e| invalid(format!("it is not a JSON array: {e}")))?;
    let mut registered = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let spec = serde_json::from_value::<NodeTypeSpec>(item)
            .map_err(|e| invalid(format!("entry {i} is not a node type spec: {e}")))?;
        if spec.category != CATEGORY {
            return Err(invalid(format!(
                "entry {i} (`{}`) is of category `{}`, not `{CATEGORY}`",
                spec.type_name, spec.category
            )));
        }
        let newer = catalog
            .get(&spec.type_name)
            .is_some_and(|have| have.version >= spec.version);
        if !newer {
            let name = spec.type_name.to_string();
            let spec = catalog.register(spec)?;
            types::declare_any_conversions(catalog, &spec);
            registered.push(name);
        } else if let Some(have) = catalog.get(&spec.type_name) {
            types::declare_any_conversions(catalog, &have);
        }
    }
    Ok(registered)
}
