//! A canvas of ComfyUI nodes as the API prompt ComfyUI's `/prompt` runs.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::CATEGORY;
use super::class_widgets::is_editor_only;
use super::flatten::REROUTE;
use crate::Canvas;
use crate::catalog::NodeTypeSpec;
use crate::model::{DataType, Node};
use crate::report::{Diagnostic, Severity};

/// Classes that exist only in the editor.
const EDITOR_ONLY: [&str; 4] = ["Note", "MarkdownNote", "PrimitiveNode", REROUTE];
/// LiteGraph node modes.
const MODE_MUTED: i64 = 2;
const MODE_BYPASSED: i64 = 4;
/// Longest chain of bypassed nodes followed.
const MAX_BYPASS_CHAIN: usize = 64;

/// A ComfyUI API prompt and the nodes it leaves out.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct ApiPrompt {
    /// `{"<node id>": {"class_type": ..., "inputs": {...}}}`.
    pub prompt: Map<String, Value>,
    /// Canvas nodes with no entry in the prompt, in canvas order.
    pub left_out: Vec<LeftOut>,
    /// Warnings about the prompt: `guessed_widget_names`, one per node whose
    /// widgets are sent under positional names (`widget_0`, ...) because
    /// neither the workflow, the built-in table nor an `object_info` named
    /// them; ComfyUI would refuse or misread those inputs.
    pub diagnostics: Vec<Diagnostic>,
}

/// A node the prompt leaves out, and why: `editor_only` (Note, MarkdownNote,
/// PrimitiveNode, Reroute), `muted`, `bypassed`, or `not_comfyui` (a node
/// whose type is not in category `comfyui`, or unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LeftOut {
    pub node: String,
    pub reason: &'static str,
}

enum Role {
    Run,
    Bypassed,
    Skip(&'static str),
}

/// Writes the canvas as a ComfyUI API prompt: one entry per executable node,
/// with its widget properties as values and its incoming edges as
/// `["<source id>", <output slot>]`, the slot being the position of the
/// source port among its type's outputs. A link from a bypassed node is
/// passed through to the bypassed node's input of the same type; a link from
/// any other left-out node is dropped, so the widget value stands.
/// Properties that do not affect output (seed `control_after_generate`) are
/// not sent.
pub fn export_api_prompt(canvas: &Canvas) -> ApiPrompt {
    let catalog = canvas.catalog();
    let nodes: Vec<Node> = canvas.nodes().collect();
    let mut specs: HashMap<&str, std::sync::Arc<NodeTypeSpec>> = HashMap::new();
    let mut roles: HashMap<&str, Role> = HashMap::new();
    for node in &nodes {
        let spec = catalog
            .get(&node.node_type)
            .filter(|s| s.category == CATEGORY);
        let comfy = comfy_ui(node);
        let class = class_type(node);
        let mode = comfy
            .and_then(|c| c.get("mode"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let role = match &spec {
            None => Role::Skip("not_comfyui"),
            Some(_) if EDITOR_ONLY.contains(&class) => Role::Skip("editor_only"),
            Some(_) if mode == MODE_MUTED => Role::Skip("muted"),
            Some(_) if mode == MODE_BYPASSED => Role::Bypassed,
            Some(_) => Role::Run,
        };
        if let Some(spec) = spec {
            specs.insert(&node.id, spec);
        }
        roles.insert(&node.id, role);
    }
    // Incoming edges by (target node, input port), in canvas order.
    let mut incoming: HashMap<(String, String), (String, String)> = HashMap::new();
    for edge in canvas.edges() {
        incoming
            .entry((edge.target.node, edge.target.port))
            .or_insert((edge.source.node, edge.source.port));
    }
    let ctx = Ctx {
        specs: &specs,
        roles: &roles,
        incoming: &incoming,
    };

    let mut prompt = Map::new();
    let mut left_out = Vec::new();
    let mut diagnostics = Vec::new();
    for node in &nodes {
        match roles.get(node.id.as_str()) {
            Some(Role::Run) => {}
            Some(Role::Bypassed) => {
                left_out.push(LeftOut {
                    node: node.id.clone(),
                    reason: "bypassed",
                });
                continue;
            }
            Some(Role::Skip(reason)) => {
                left_out.push(LeftOut {
                    node: node.id.clone(),
                    reason,
                });
                continue;
            }
            None => continue,
        }
        let Some(spec) = specs.get(node.id.as_str()) else {
            continue;
        };
        let mut inputs = Map::new();
        for (name, value) in &node.properties {
            let sends = spec.property(name).is_none_or(|p| p.affects_output);
            if sends && !value.is_null() && !is_editor_only(name) {
                inputs.insert(name.clone(), value.clone());
            }
        }
        if let Some(Value::Object(unmatched)) =
            comfy_ui(node).and_then(|c| c.get("unmatched_widgets"))
        {
            for (name, value) in unmatched {
                if !is_editor_only(name) {
                    inputs.insert(name.clone(), value.clone());
                }
            }
        }
        for input in &spec.inputs {
            let key = (node.id.clone(), input.name.to_string());
            if let Some((source, port)) = incoming.get(&key)
                && let Some((id, slot)) = ctx.resolve(source, port, 0)
            {
                inputs.insert(input.name.to_string(), json!([id, slot]));
            }
        }
        let guessed: Vec<&str> = inputs
            .keys()
            .map(String::as_str)
            .filter(|k| is_positional(k))
            .collect();
        if !guessed.is_empty() {
            diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                code: "guessed_widget_names".into(),
                message: format!(
                    "node `{}` ({}) sends widgets under guessed names ({}); ComfyUI expects its input names",
                    node.id,
                    class_type(node),
                    guessed.join(", ")
                ),
                node: Some(node.id.clone()),
                edge: None,
                port: None,
                property: None,
                hint: "import the workflow again with the server's /object_info (reelgraph convert --object-info FILE)".into(),
            });
        }
        let mut entry = Map::new();
        entry.insert("class_type".into(), json!(class_type(node)));
        entry.insert("inputs".into(), Value::Object(inputs));
        if let Some(label) = &node.label {
            entry.insert("_meta".into(), json!({ "title": label }));
        }
        prompt.insert(node.id.clone(), Value::Object(entry));
    }
    ApiPrompt {
        prompt,
        left_out,
        diagnostics,
    }
}

struct Ctx<'a> {
    specs: &'a HashMap<&'a str, std::sync::Arc<NodeTypeSpec>>,
    roles: &'a HashMap<&'a str, Role>,
    incoming: &'a HashMap<(String, String), (String, String)>,
}

impl Ctx<'_> {
    /// The (node, slot) an input reads from `source.port`, passing through
    /// bypassed nodes.
    fn resolve(&self, source: &str, port: &str, depth: usize) -> Option<(String, usize)> {
        let spec = self.specs.get(source)?;
        match self.roles.get(source)? {
            Role::Run => {
                let slot = spec.outputs.iter().position(|o| &*o.name == port)?;
                Some((source.to_owned(), slot))
            }
            Role::Bypassed if depth < MAX_BYPASS_CHAIN => {
                // ComfyUI passes a bypassed node's input of the output's type
                // through: the one at the same slot first, else the first that fits.
                let slot = spec.outputs.iter().position(|o| &*o.name == port)?;
                let ty = &spec.outputs[slot].data_type;
                let fits = |i: usize| {
                    spec.inputs.get(i).is_some_and(|input| {
                        input.accepts.0.iter().any(|t| t == ty)
                            || ty.as_str() == DataType::ANY
                            || input.accepts.0.iter().any(|t| t.as_str() == DataType::ANY)
                    })
                };
                let linked = |i: usize| {
                    self.incoming
                        .contains_key(&(source.to_owned(), spec.inputs[i].name.to_string()))
                };
                let pick = (fits(slot) && linked(slot))
                    .then_some(slot)
                    .or_else(|| (0..spec.inputs.len()).find(|&i| fits(i) && linked(i)))?;
                let (up, up_port) = self
                    .incoming
                    .get(&(source.to_owned(), spec.inputs[pick].name.to_string()))?;
                self.resolve(up, up_port, depth + 1)
            }
            _ => None,
        }
    }
}

/// A positional widget name the importer fell back to (`widget_3`, `widget_3#2`).
fn is_positional(name: &str) -> bool {
    let base = name.split('#').next().unwrap_or(name);
    base.strip_prefix("widget_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn comfy_ui(node: &Node) -> Option<&Map<String, Value>> {
    node.ui.as_ref()?.get(CATEGORY)?.as_object()
}

fn class_type(node: &Node) -> &str {
    comfy_ui(node)
        .and_then(|c| c.get("class_type"))
        .and_then(Value::as_str)
        .unwrap_or(&node.node_type)
}
