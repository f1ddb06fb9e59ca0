//! ComfyUI workflows in, ComfyUI API prompts out.
//!
//! [`import`] reads the workflow JSON the ComfyUI editor saves (LiteGraph,
//! `version` 0.4 with links as arrays, and 1.x with links as objects and
//! subgraph definitions), or an API prompt, into a [`CanvasDocument`],
//! registering the ComfyUI node classes it meets as reelgraph node types in
//! the given [`Catalog`]; the document carries those types
//! ([`restore_types`]) so it loads the same after a save.
//! [`export_api_prompt`] writes a canvas of such nodes as the prompt that
//! ComfyUI's `/prompt` endpoint runs.
//!
//! ```
//! use reelgraph::{Canvas, Catalog};
//! use reelgraph::format::comfyui;
//!
//! let workflow = r#"{
//!   "version": 0.4,
//!   "nodes": [
//!     {"id": 1, "type": "CheckpointLoaderSimple", "pos": [0, 0],
//!      "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1]}],
//!      "widgets_values": ["sd15.safetensors"]},
//!     {"id": 2, "type": "KSampler", "pos": [300, 0],
//!      "inputs": [{"name": "model", "type": "MODEL", "link": 1}],
//!      "outputs": [{"name": "LATENT", "type": "LATENT", "links": []}],
//!      "widgets_values": [42, "fixed", 20, 7.5, "euler", "normal", 1.0]}
//!   ],
//!   "links": [[1, 1, 0, 2, 0, "MODEL"]],
//!   "groups": []
//! }"#;
//! let catalog = Catalog::builtin();
//! let import = comfyui::import(&catalog, workflow)?;
//! assert_eq!(import.canvas.nodes.len(), 2);
//! assert_eq!(import.canvas.edges.len(), 1);
//! assert!(import.registered_types.contains(&"KSampler".to_string()));
//! assert_eq!(catalog.get("KSampler").unwrap().category, "comfyui");
//!
//! let canvas = Canvas::from_document(catalog, import.canvas)?;
//! let api = comfyui::export_api_prompt(&canvas);
//! assert_eq!(api.prompt["2"]["inputs"]["model"], serde_json::json!(["1", 0]));
//! # Ok::<(), reelgraph::Error>(())
//! ```
//!
//! # Node types
//!
//! A ComfyUI class becomes a node type of the same name (`KSampler`), in
//! category `comfyui`, with no task. A class name that is not a valid type
//! name (empty after trimming, control characters, more than 128 bytes) is
//! cleaned up (long names keep 100 bytes and a hash); a class whose name is
//! taken by a type of another category is registered as `comfyui.<class>`.
//! Either way a `renamed_type` warning says so and each node keeps the class
//! name in `ui.comfyui.class_type`.
//!
//! - **Inputs** are the input slots the workflow's nodes of that class have
//!   (widget inputs included, since ComfyUI lets links replace widgets), never
//!   required (a workflow does not say which are), one edge each.
//! - **Outputs** are the output slots, in slot order: an API prompt addresses
//!   outputs by position, and the position of an output in the type is its
//!   slot index.
//! - **Properties** are the widgets (see below), with a kind taken from the
//!   values: boolean, integer (float once a fraction shows up), text, list,
//!   or object. Seed control values (`control_after_generate`) do not
//!   affect output.
//!
//! **Type mapping.** ComfyUI type names become reelgraph data types: `IMAGE`
//! → `image`, `MASK` → `mask`, `AUDIO` → `audio`, `VIDEO` → `video`,
//! `STRING` → `text`, `INT` → `integer`, `FLOAT` → `float`, `BOOLEAN` →
//! `boolean`, `*` (or no type) → `any`; every other name is kept, lowercased,
//! as an open-set type (`MODEL` → `model`, `CLIP_VISION` → `clip_vision`).
//! An input typed `A,B` accepts the union; an output typed `A,B`, or one
//! whose type differs from node to node (ComfyUI's match-type outputs such as
//! `ComfySwitchNode.output`), is `any`.
//!
//! **Edges are type-correct by construction.** An input also accepts the type
//! of every output a link of the workflow connects to it (ComfyUI accepted
//! the link). LiteGraph lets a `*` output feed any input; reelgraph says so
//! with catalogue conversions `any → T` for every type `T` an imported input
//! accepts. Conversions are catalogue-wide, so any `any` output, not only a
//! ComfyUI one, may then feed those inputs.
//!
//! **Merging.** When a class is already registered (by an earlier import into
//! the same catalogue) and a workflow shows more of it — another input or
//! output, another widget, a wider input union, an output whose type
//! differs, an integer widget with a fraction — the importer registers the
//! union as the next version, with a migration step that changes nothing.
//! The union only grows: every port and property of the older version is in
//! the newer one with the same or a wider type, so canvases imported before
//! load and migrate as they are. New ports are appended, so existing outputs
//! keep their slot index. A widget value that does not fit the property's
//! kind (text where an earlier workflow had a number) is not set; it is kept
//! in `ui.comfyui.unmatched_widgets` with a `property_invalid` warning, and
//! API export still sends it.
//!
//! # Widgets
//!
//! `widgets_values` become properties by name. An object (`{name: value}`,
//! as Video Helper Suite writes) names them itself. An array is positional,
//! and names come from, in order: `widgets_values_named` (the ComfyUI
//! template packages write it; when it lists fewer names than values, each
//! name takes the next value equal to its own); the input entries that carry
//! `widget: {name}` (ComfyUI 1.x), when they line up with the values — a
//! seed's extra `control_after_generate` value (`fixed`, `increment`,
//! `decrement`, `randomize`, or `true`/`false` in older files, read as
//! `randomize`/`fixed`) after an integer is recognised on the way; a built-in
//! table of ComfyUI's core classes; the [`ObjectInfo`] of
//! [`ImportOptions`]; the names another node of the same class in the same
//! workflow got for as many values; and otherwise `widget_0`, `widget_1`,
//! ... A name that repeats gets `#2`, `#3`. The node's names, in widget order, are kept in
//! `ui.comfyui.widgets`. Object values (a crop box, a curve) become `object`
//! properties; arrays become `list` properties.
//!
//! # Nodes, links and counts
//!
//! - Node ids are ComfyUI's ids as strings; edge ids are link ids. The node
//!   title is the label; `pos` the position; every other field of the node
//!   object (size, mode, flags, colours, LiteGraph `properties`, ...) is kept
//!   in `ui.comfyui`. Groups become reelgraph groups (`group:<id>`) holding the
//!   nodes whose centre lies inside them, with their fields in `ui.comfyui`.
//!   The workflow's other top-level fields (`version`, `extra`, `config`, ...)
//!   are in the canvas metadata under `comfyui`; `extra.ds` is the viewport.
//! - **Reroute** nodes collapse: a chain `A → Reroute → Reroute → B` is one
//!   edge `A → B`, and a reroute that fans out gives one edge per target.
//! - **Links**: the input's own `link` decides, as in ComfyUI; the `links`
//!   table is repaired to agree with the inputs (in subgraph definitions
//!   too) before anything else, with a warning per repair (see
//!   `link_repair`: `repaired_link`, `duplicate_edge`, `dangling_edge`).
//! - **Subgraphs** are flattened, as ComfyUI does when it runs them: an
//!   instance node is replaced by a copy of its definition's nodes and links,
//!   with ids `<instance id>:<inner id>` (nested: `5:12:3`; an id over 128
//!   bytes keeps 100 and a hash of the whole), the links
//!   crossing the subgraph's boundary resolved to the real nodes on either
//!   side, and the instance's widget values given to the inner widgets its
//!   unconnected inputs feed. Each instance becomes a group
//!   `subgraph:<instance id>` holding its nodes, with the instance node's
//!   fields in the group's `ui.comfyui`. Definitions no instance uses are not
//!   imported.
//! - **PrimitiveNode**, **Note** and **MarkdownNote** are ordinary nodes on
//!   the canvas (their values and texts are properties); API export leaves
//!   them out.
//!
//! So the **counting rule** is: the canvas has one node per entry of `nodes`
//! in the workflow and in every subgraph instance (expanded recursively),
//! except Reroute nodes and the instance nodes themselves; and one edge per
//! link that ends at such a node's input and whose data comes, through
//! reroutes and subgraph boundaries, from such a node's output.
//!
//! # Limits
//!
//! An import does a bounded amount of work, whatever the file holds:
//!
//! - Subgraph instances add at most [`MAX_EXPANDED_NODES`] nodes and
//!   [`MAX_EXPANDED_WORK`] units of other work to one import, all together (a
//!   definition may instantiate another many times over). What each
//!   top-level instance adds is computed before it is expanded; one that
//!   would go past a cap is left out whole (`too_large`). A problem with a
//!   link inside a definition is reported once, for its first instance.
//! - A node type takes at most 128 widgets as properties (further values stay
//!   in `ui.comfyui.unmatched_widgets`), and a node at most 128 input and 128
//!   output slots. An input union of more than 64 types is `any`.
//! - Groups hold at most 250,000 entries in all.
//! - A value nested deeper than [`MAX_VALUE_DEPTH`] where it lands (a
//!   property, a field of `ui.comfyui`, a field of `metadata.comfyui`) is left
//!   out, so the document always reads back.
//! - Positions and the viewport stay finite: a sum or product that would
//!   overflow stops at the largest finite number.
//!
//! # Diagnostics
//!
//! The import never fails on a readable workflow. What it skipped or could
//! not fit comes back in [`Import::diagnostics`], each with a code and the
//! node or edge id:
//!
//! | code | severity | what happened |
//! | --- | --- | --- |
//! | `invalid_field` | warning | a node, link, group or subgraph entry could not be read, or a part of the workflow has the wrong shape; skipped. Also: editor state, group state or a workflow field nested too deep; left out |
//! | `duplicate_id` | warning | a node or link id repeats; the first is used |
//! | `repaired_link` | warning | a link went to another slot than the input that names it, or an input named a missing link and took the one wire that goes to it; connected as ComfyUI does |
//! | `duplicate_edge` | warning | a link goes to an input that names another link, or two inputs name one link; the stale one is dropped |
//! | `dangling_edge` | warning | a link to or from a missing node (or from a reroute with no input), a link no input names, an input naming a missing link; skipped |
//! | `unknown_port` | warning | a link comes from an output slot the node does not have; skipped |
//! | `no_layout` | warning | the file is an API prompt: nodes laid out in layers, output names and types unknown |
//! | `cycle` | error/warning | a loop of reroutes, or a subgraph containing itself |
//! | `renamed_type` | warning | a class was registered under another type name |
//! | `property_invalid` | warning | a widget value does not fit its property, or its type has no property for it; kept in `ui.comfyui.unmatched_widgets`. A value nested too deep is dropped |
//! | `too_large` | error/warning | a subgraph instance past the expansion caps (error; left out), a node with too many slots, a group past the entry cap (warnings) |
//! | `invalid_spec` | error | a class could not be registered; its nodes are skipped |
//! | `cycle`, `self_loop`, `type_mismatch` | error | a link breaks a connection rule; the edge is kept in the document (as a loaded canvas keeps it) and [`Canvas::validate`](crate::Canvas::validate) reports it too |
//!
//! # API prompt export
//!
//! [`export_api_prompt`] writes one entry per executable node:
//! `{"<id>": {"class_type", "inputs": {widget: value, input: ["<source id>",
//! <slot>]}}}` (plus `_meta.title` for a labelled node). Left out, and listed
//! in [`ApiPrompt::left_out`]: `Note`, `MarkdownNote`, `PrimitiveNode` and
//! `Reroute` (editor-only nodes; a primitive's value is already the widget
//! value of the nodes it feeds), muted nodes (`mode` 2), bypassed nodes
//! (`mode` 4; a link from one is passed through to its input of the same type,
//! as ComfyUI does), and nodes whose type is not a ComfyUI one. Editor-only
//! widgets (`control_after_generate`, `upload`, ...) are not sent; a node
//! sending guessed widget names (`widget_0`) gets a `guessed_widget_names`
//! warning in [`ApiPrompt::diagnostics`].

mod api_import;
mod budget;
mod build;
mod class_widgets;
mod export;
mod flatten;
mod groups;
mod link_repair;
mod ordered_json;
mod saved_types;
mod types;
mod widgets;
mod workflow;

use std::collections::HashMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use budget::{MAX_EXPANDED_NODES, MAX_EXPANDED_WORK};
pub use class_widgets::ObjectInfo;
pub use export::{ApiPrompt, LeftOut, export_api_prompt};
pub use saved_types::{NODE_TYPES_KEY, restore_types};

use crate::catalog::{Catalog, InputSpec};
use crate::error::Result;
use crate::format::{Diagnostics, fits_depth};
use crate::limits::MAX_VALUE_DEPTH;
use crate::model::{CanvasDocument, DataType};
use crate::report::{Diagnostic, Severity};
use flatten::{Flattener, Plan};
use types::{ClassInfo, data_type, input_types, merged_spec, output_type};

/// The category of every node type the importer registers.
pub const CATEGORY: &str = "comfyui";

/// What [`import`] made of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Import {
    /// The canvas, ready for [`Canvas::from_document`](crate::Canvas::from_document) with the same catalogue.
    pub canvas: CanvasDocument,
    /// What was skipped, changed or does not fit, in the order it was found.
    pub diagnostics: Vec<Diagnostic>,
    /// The node types this import registered or extended (a new version), sorted.
    pub registered_types: Vec<String>,
    pub stats: ImportStats,
}

/// Counts of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ImportStats {
    /// Nodes on the canvas.
    pub nodes: usize,
    /// Edges on the canvas (including edges that break a connection rule).
    pub edges: usize,
    /// Reroute nodes collapsed into direct edges.
    pub reroutes: usize,
    /// Subgraph instances expanded (nested ones included).
    pub subgraph_instances: usize,
}

/// Reads a ComfyUI editor workflow (0.4 or 1.x) into a canvas document,
/// registering its node classes in `catalog` (see the [module docs](self) for
/// every decision). Fails only when the text is not JSON (`invalid_json`) or
/// not a workflow (`wrong_format`, e.g. an API prompt, or `nodes` that is not
/// an array; the message names the field and what it found); everything else
/// is imported as far as it goes and reported in [`Import::diagnostics`].
pub fn import(catalog: &Catalog, text: &str) -> Result<Import> {
    import_with(catalog, text, &ImportOptions::default())
}

/// What an import may be told besides the workflow.
///
/// ```
/// use reelgraph::Catalog;
/// use reelgraph::format::comfyui::{self, ImportOptions, ObjectInfo};
///
/// let info = ObjectInfo::from_json(r#"{"Blur": {"input": {"required": {
///     "image": ["IMAGE"], "radius": ["INT", {}]}}}}"#)?;
/// let workflow = r#"{"nodes": [{"id": 1, "type": "Blur", "widgets_values": [3]}], "links": []}"#;
/// let options = ImportOptions::default().object_info(info);
/// let import = comfyui::import_with(&Catalog::builtin(), workflow, &options)?;
/// assert_eq!(import.canvas.nodes[0].properties["radius"], 3);
/// # Ok::<(), reelgraph::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Widget names of the classes a ComfyUI server knows (its `/object_info`).
    pub object_info: Option<ObjectInfo>,
}

impl ImportOptions {
    /// Names the widgets of classes the workflow does not name itself.
    pub fn object_info(mut self, info: ObjectInfo) -> Self {
        self.object_info = Some(info);
        self
    }
}

/// [`import`], with [`ImportOptions`]: widget names a workflow leaves out
/// come from, in order, the built-in table of ComfyUI's core classes and the
/// options' `object_info`, before the names another node of the class got.
pub fn import_with(catalog: &Catalog, text: &str, options: &ImportOptions) -> Result<Import> {
    let mut diags = Diagnostics::default();
    let mut wf = workflow::parse(text, &mut diags)?;
    if wf.from_api {
        api_import::adopt_types(&mut wf, catalog);
    }

    // Widget names, then layouts learned from nodes that said their names.
    let mut graphs: Vec<(usize, &mut workflow::Graph)> = vec![(0, &mut wf.graph)];
    graphs.extend(wf.subgraphs.values_mut().map(|d| (d.index, &mut d.graph)));
    graphs.sort_by_key(|(no, _)| *no);
    let mut named = HashMap::new();
    let mut layouts = widgets::Layouts::new();
    for (no, graph) in &mut graphs {
        for node in &mut graph.nodes {
            let mut w = widgets::own_names(node);
            if !w.known {
                let mut layouts: Vec<Vec<&str>> = class_widgets::core_layouts(&node.class)
                    .map(<[&str]>::to_vec)
                    .collect();
                if let Some(names) = options
                    .object_info
                    .as_ref()
                    .and_then(|i| i.widget_names(&node.class))
                {
                    layouts.push(names.iter().map(String::as_str).collect());
                }
                widgets::apply_class_layout(&mut w, layouts);
            }
            if w.known && !w.values.is_empty() {
                layouts
                    .entry((node.class.clone(), w.values.len()))
                    .or_insert_with(|| w.names.clone());
            }
            named.insert((*no, node.id.clone()), w);
        }
    }
    for (no, graph) in &graphs {
        for node in &graph.nodes {
            if let Some(w) = named.get_mut(&(*no, node.id.clone()))
                && let Some(layout) = layouts.get(&(node.class.clone(), w.values.len()))
            {
                widgets::apply_layout(w, layout);
            }
        }
    }

    drop(graphs);
    let plan = Flattener::new(&wf, named, &mut diags).run();
    let type_names = register_types(catalog, &plan, &mut diags);
    let mut import = build::build(catalog, &wf, plan, &type_names.by_class, diags);
    import.registered_types = type_names.registered;
    if wf.from_api {
        lay_out(catalog, &mut import.canvas);
    }
    Ok(import)
}

/// Places the nodes of a canvas that came without positions in layers, left
/// to right, as the SVG picture lays them out.
fn lay_out(catalog: &Catalog, doc: &mut CanvasDocument) {
    let Ok(canvas) = crate::Canvas::from_document(catalog.clone(), doc.clone()) else {
        return;
    };
    let layout = crate::render::layout(&canvas, crate::render::LayoutMode::Layered);
    for node in &mut doc.nodes {
        if let Some(b) = layout.node(&node.id) {
            node.position = crate::model::Position::new(b.x, b.y);
        }
    }
}

struct TypeNames {
    by_class: HashMap<String, String>,
    registered: Vec<String>,
}

/// Registers (or extends) a node type for every class of the plan.
fn register_types(catalog: &Catalog, plan: &Plan, diags: &mut Diagnostics) -> TypeNames {
    let mut infos: IndexMap<String, ClassInfo> = IndexMap::new();
    for node in &plan.nodes {
        let info = infos.entry(node.class.clone()).or_default();
        for (name, ty) in &node.inputs {
            info.add_input(name, input_types(ty));
        }
        for (name, ty) in &node.outputs {
            info.add_output(name, output_type(ty));
        }
        for (name, value) in node.widgets.names.iter().zip(&node.widgets.values) {
            // Too deep to be a property: dropped when the node is added.
            if fits_depth(value, MAX_VALUE_DEPTH) {
                info.add_widget(name, value);
            }
        }
    }
    let mut by_class = HashMap::new();
    for class in infos.keys() {
        by_class.insert(class.clone(), type_name_for(catalog, class, diags));
    }

    // An input also accepts what the workflow's links bring it.
    let current = |class: &str, info: &ClassInfo| {
        let name = &by_class[class];
        let existing = catalog.get(name).filter(|s| s.category == CATEGORY);
        merged_spec(name, class, existing.as_deref(), info)
            .or_else(|| existing.map(|s| (*s).clone()))
    };
    let specs: HashMap<&str, _> = infos
        .iter()
        .map(|(class, info)| (class.as_str(), current(class, info)))
        .collect();
    let class_of: HashMap<&str, &str> = plan
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.class.as_str()))
        .collect();
    let mut learned: Vec<(String, String, DataType)> = Vec::new();
    for edge in &plan.edges {
        let (Some(src_class), Some(tgt_class)) = (
            class_of.get(edge.source.0.as_str()),
            class_of.get(edge.target.0.as_str()),
        ) else {
            continue;
        };
        let given = specs
            .get(src_class)
            .and_then(Option::as_ref)
            .and_then(|s| s.output(&edge.source.1))
            .map(|o| o.data_type.clone());
        let input: Option<InputSpec> = specs
            .get(tgt_class)
            .and_then(Option::as_ref)
            .and_then(|s| s.input(&edge.target.1))
            .cloned();
        if let (Some(given), Some(input)) = (given, input)
            && given.as_str() != DataType::ANY
            && !catalog.accepts(&input, &given)
        {
            learned.push(((*tgt_class).to_owned(), edge.target.1.clone(), given));
        }
    }
    drop(specs);
    for (class, port, ty) in learned {
        if let Some(info) = infos.get_mut(&class) {
            info.add_input(&port, vec![ty]);
        }
    }

    let mut registered = Vec::new();
    for (class, info) in &infos {
        let name = &by_class[class];
        for _attempt in 0..3 {
            let existing = catalog.get(name).filter(|s| s.category == CATEGORY);
            let Some(spec) = merged_spec(name, class, existing.as_deref(), info) else {
                if let Some(spec) = existing {
                    types::declare_any_conversions(catalog, &spec);
                }
                break;
            };
            match catalog.register(spec) {
                Ok(spec) => {
                    types::declare_any_conversions(catalog, &spec);
                    registered.push(name.clone());
                    break;
                }
                // Someone registered a newer version meanwhile: merge again.
                Err(e) if e.code() == "duplicate_node_type" => continue,
                Err(e) => {
                    diags.push(
                        Severity::Error,
                        e.code(),
                        format!("ComfyUI class `{class}` could not be registered: {e}"),
                        "its nodes are left out; report the workflow",
                    );
                    break;
                }
            }
        }
    }
    registered.sort();
    registered.dedup();
    TypeNames {
        by_class,
        registered,
    }
}

/// The type name for a class: the class name, cleaned up if it is not a valid
/// id, and under `comfyui.` if a type of another category has it.
fn type_name_for(catalog: &Catalog, class: &str, diags: &mut Diagnostics) -> String {
    let mut name = clean_type_name(class);
    let mut n = 1;
    while catalog.get(&name).is_some_and(|s| s.category != CATEGORY) {
        let base = format!("{CATEGORY}.{class}");
        name = clean_type_name(&if n == 1 { base } else { format!("{base}#{n}") });
        n += 1;
    }
    if name != class {
        diags.push(
            Severity::Warning,
            "renamed_type",
            format!("ComfyUI class `{class}` is registered as node type `{name}`"),
            "the nodes keep the class name in ui.comfyui.class_type, and API export uses it",
        );
    }
    name
}

fn clean_type_name(class: &str) -> String {
    let mut name: String = class.chars().filter(|c| !c.is_control()).collect();
    name = name.trim().to_owned();
    if name.is_empty() {
        name = "unnamed".into();
    }
    if name.len() > crate::model::MAX_ID_BYTES {
        name = shortened(&name, class);
    }
    name
}

/// `text` cut to 100 bytes plus a hash of `whole`: short, and stable across
/// imports and builds.
fn shortened(text: &str, whole: &str) -> String {
    let mut cut = 100.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // FNV-1a: stable across builds, unlike the std hasher.
    let hash = whole.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}~{hash:016x}", &text[..cut])
}

/// A flattened id (`<instance>:<inner>`), hashed when it is longer than an
/// id may be, so a deeply nested node keeps a short, stable id.
pub(super) fn flat_id(prefix: &str, local: &str) -> String {
    let id = format!("{prefix}{local}");
    if id.len() > crate::model::MAX_ID_BYTES {
        shortened(&id, &id)
    } else {
        id
    }
}

/// The data type of a ComfyUI type name, as the importer maps it
/// (`IMAGE` → `image`, `INT` → `integer`, `*` → `any`, `MODEL` → `model`).
///
/// ```
/// assert_eq!(reelgraph::format::comfyui::map_type("CLIP_VISION").as_str(), "clip_vision");
/// ```
pub fn map_type(comfy_type: &str) -> DataType {
    data_type(comfy_type)
}
