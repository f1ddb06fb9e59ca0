//! Turning a workflow into the nodes and edges of one canvas: Reroute nodes
//! collapse into direct edges, subgraph instances are replaced by a copy of
//! their definition's nodes (ids `instance:inner`, as ComfyUI numbers them
//! when it runs a subgraph), and every link is resolved to the real output
//! it carries data from.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::widgets::NamedWidgets;
use super::workflow::{Graph, SUBGRAPH_INPUT_NODE, SUBGRAPH_OUTPUT_NODE, Slot, WfNode, Workflow};
use super::{Diagnostics, Severity};
use crate::model::{Group, Position};

/// The class name of LiteGraph's reroute node.
pub(super) const REROUTE: &str = "Reroute";
/// Deepest nesting of subgraph instances that is expanded.
const MAX_SUBGRAPH_DEPTH: usize = 16;

/// A node of the canvas to be.
#[derive(Debug)]
pub(super) struct PlannedNode {
    pub id: String,
    pub class: String,
    pub title: Option<String>,
    pub position: Position,
    pub widgets: NamedWidgets,
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    /// Mode inherited from a muted or bypassed subgraph instance.
    pub mode: Option<i64>,
    pub extra: Map<String, Value>,
}

/// An edge of the canvas to be: (node, port) to (node, port).
#[derive(Debug, Clone)]
pub(super) struct PlannedEdge {
    pub id: String,
    pub source: (String, String),
    pub target: (String, String),
}

#[derive(Debug, Default)]
pub(super) struct Plan {
    pub nodes: Vec<PlannedNode>,
    pub edges: Vec<PlannedEdge>,
    pub groups: Vec<Group>,
    pub reroutes: usize,
    pub instances: usize,
}

/// Unique, non-empty port names of a node's slots (`input_3`, `image#2`).
fn port_names(slots: &[Slot], fallback: &str) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    slots
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let base = if s.name.trim().is_empty() {
                format!("{fallback}_{k}")
            } else {
                s.name.clone()
            };
            let mut name = base.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{base}#{n}");
                n += 1;
            }
            (name, s.ty.clone())
        })
        .collect()
}

type Source = (String, String);

/// What a subgraph instance hands its definition: per definition input, the
/// outer source and the instance's widget value.
struct Boundary {
    sources: Vec<Option<Source>>,
    values: Vec<Option<Value>>,
}

/// One graph being expanded (the top level or one subgraph instance).
struct Level<'a> {
    graph: &'a Graph,
    graph_no: usize,
    prefix: String,
    boundary: Option<Boundary>,
    nodes: HashMap<&'a str, &'a WfNode>,
    /// Links by (target node, target slot), in file order.
    incoming: HashMap<(&'a str, usize), Vec<usize>>,
    /// Outputs and produced node ids of the instances expanded so far.
    instances: HashMap<&'a str, (Vec<Option<Source>>, Vec<String>)>,
    expanding: HashSet<&'a str>,
    mode: Option<i64>,
    offset: (f64, f64),
}

pub(super) struct Flattener<'a> {
    wf: &'a Workflow,
    named: &'a HashMap<(usize, String), NamedWidgets>,
    diags: &'a mut Diagnostics,
    plan: Plan,
    stack: Vec<&'a str>,
    reported: HashSet<String>,
}

impl<'a> Flattener<'a> {
    /// `named` holds the named widgets of every node, keyed by (graph number,
    /// node id), where graph 0 is the top level and subgraph definitions
    /// have their [`Subgraph::index`](super::workflow::Subgraph).
    pub fn new(
        wf: &'a Workflow,
        named: &'a HashMap<(usize, String), NamedWidgets>,
        diags: &'a mut Diagnostics,
    ) -> Self {
        Flattener {
            wf,
            named,
            diags,
            plan: Plan::default(),
            stack: Vec::new(),
            reported: HashSet::new(),
        }
    }

    pub fn run(mut self) -> Plan {
        let top = Level::new(&self.wf.graph, 0, String::new(), None, None, (0.0, 0.0));
        self.expand(top);
        self.plan
    }

    fn is_instance(&self, node: &WfNode) -> bool {
        self.wf.subgraphs.contains_key(&node.class)
    }

    /// Expands one level; returns its subgraph outputs and the ids of every
    /// node it produced.
    fn expand(&mut self, mut level: Level<'a>) -> (Vec<Option<Source>>, Vec<String>) {
        let graph_no = level.graph_no;
        let mut produced = Vec::new();
        let mut planned_index: HashMap<String, usize> = HashMap::new();
        for node in &level.graph.nodes {
            if node.class == REROUTE {
                self.plan.reroutes += 1;
                continue;
            }
            if self.is_instance(node) {
                continue;
            }
            let id = format!("{}{}", level.prefix, node.id);
            let widgets = self
                .named
                .get(&(graph_no, node.id.clone()))
                .cloned()
                .unwrap_or_default();
            planned_index.insert(id.clone(), self.plan.nodes.len());
            produced.push(id.clone());
            self.plan.nodes.push(PlannedNode {
                id,
                class: node.class.clone(),
                title: node.title.clone(),
                position: Position::new(node.pos.x + level.offset.0, node.pos.y + level.offset.1),
                widgets,
                inputs: port_names(&node.inputs, "input"),
                outputs: port_names(&node.outputs, "output"),
                mode: level.mode.filter(|_| node.mode == 0),
                extra: node.extra.clone(),
            });
        }

        let mut outputs: Vec<Option<Source>> = Vec::new();
        for (li, link) in level.graph.links.iter().enumerate() {
            let edge_id = format!("{}{}", level.prefix, link.id);
            if link.target == SUBGRAPH_OUTPUT_NODE && level.boundary.is_some() {
                let source = self.resolve(&mut level, li, &mut Vec::new());
                if outputs.len() <= link.target_slot {
                    outputs.resize(link.target_slot + 1, None);
                }
                outputs[link.target_slot] = source;
                continue;
            }
            let Some(target) = level.nodes.get(link.target.as_str()).copied() else {
                self.report_once(
                    &edge_id,
                    "dangling_edge",
                    format!(
                        "link `{edge_id}` goes to node `{}{}`, which does not exist; it is skipped",
                        level.prefix, link.target
                    ),
                );
                continue;
            };
            if target.class == REROUTE || self.is_instance(target) {
                continue; // consumed when the links leaving it are resolved
            }
            let target_id = format!("{}{}", level.prefix, target.id);
            let ports = port_names(&target.inputs, "input");
            let Some((port, _)) = ports.get(link.target_slot) else {
                self.report_once(
                    &edge_id,
                    "unknown_port",
                    format!(
                        "link `{edge_id}` goes to input slot {} of node `{target_id}` ({}), which has {} inputs; it is skipped",
                        link.target_slot,
                        target.class,
                        ports.len()
                    ),
                );
                continue;
            };
            match self.resolve(&mut level, li, &mut Vec::new()) {
                Some(source) => self.plan.edges.push(PlannedEdge {
                    id: edge_id,
                    source,
                    target: (target_id, port.clone()),
                }),
                None => {
                    // A widget input fed from the subgraph's inputs with nothing
                    // connected outside takes the instance's widget value.
                    let value = (link.origin == SUBGRAPH_INPUT_NODE)
                        .then_some(level.boundary.as_ref())
                        .flatten()
                        .and_then(|b| b.values.get(link.origin_slot).cloned().flatten());
                    let widget = target
                        .inputs
                        .get(link.target_slot)
                        .and_then(|s| s.widget.as_deref());
                    if let (Some(value), Some(widget), Some(&i)) =
                        (value, widget, planned_index.get(&target_id))
                    {
                        self.plan.nodes[i].widgets.set(widget, value);
                    }
                }
            }
        }

        // Instances whose outputs nothing used are expanded all the same.
        for node in &level.graph.nodes {
            if self.is_instance(node) && !level.instances.contains_key(node.id.as_str()) {
                self.instance(&mut level, node);
            }
        }
        for node in &level.graph.nodes {
            if let Some((_, ids)) = level.instances.get(node.id.as_str()) {
                produced.extend(ids.iter().cloned());
            }
        }
        self.groups(&level, &produced);
        (outputs, produced)
    }

    /// The real output a link carries data from, through reroutes, subgraph
    /// boundaries and instances.
    fn resolve(
        &mut self,
        level: &mut Level<'a>,
        li: usize,
        seen: &mut Vec<usize>,
    ) -> Option<Source> {
        let link = &level.graph.links[li];
        let edge_id = format!("{}{}", level.prefix, link.id);
        if seen.contains(&li) {
            self.report_once(
                &edge_id,
                "cycle",
                format!("link `{edge_id}` is part of a loop of reroutes; it is skipped"),
            );
            return None;
        }
        seen.push(li);
        if link.origin == SUBGRAPH_INPUT_NODE
            && let Some(b) = &level.boundary
        {
            return b.sources.get(link.origin_slot).cloned().flatten();
        }
        let Some(origin) = level.nodes.get(link.origin.as_str()).copied() else {
            self.report_once(
                &edge_id,
                "dangling_edge",
                format!(
                    "link `{edge_id}` comes from node `{}{}`, which does not exist; it is skipped",
                    level.prefix, link.origin
                ),
            );
            return None;
        };
        if origin.class == REROUTE {
            let upstream = level
                .incoming
                .get(&(origin.id.as_str(), 0))
                .and_then(|l| l.first())
                .copied();
            let Some(up) = upstream else {
                self.report_once(
                    &edge_id,
                    "dangling_edge",
                    format!(
                        "link `{edge_id}` comes from reroute `{}{}`, which has no input; it is skipped",
                        level.prefix, origin.id
                    ),
                );
                return None;
            };
            return self.resolve(level, up, seen);
        }
        if self.is_instance(origin) {
            let outputs = match level.instances.get(origin.id.as_str()) {
                Some((outputs, _)) => outputs.clone(),
                None => self.instance(level, origin),
            };
            return outputs.get(link.origin_slot).cloned().flatten();
        }
        let ports = port_names(&origin.outputs, "output");
        match ports.get(link.origin_slot) {
            Some((port, _)) => Some((format!("{}{}", level.prefix, origin.id), port.clone())),
            None => {
                self.report_once(
                    &edge_id,
                    "unknown_port",
                    format!(
                        "link `{edge_id}` comes from output slot {} of node `{}{}` ({}), which has {} outputs; it is skipped",
                        link.origin_slot,
                        level.prefix,
                        origin.id,
                        origin.class,
                        ports.len()
                    ),
                );
                None
            }
        }
    }

    /// Expands a subgraph instance of this level (once) and returns its outputs.
    fn instance(&mut self, level: &mut Level<'a>, node: &'a WfNode) -> Vec<Option<Source>> {
        let instance_id = format!("{}{}", level.prefix, node.id);
        let wf = self.wf;
        let Some(def) = wf.subgraphs.get(&node.class) else {
            return Vec::new();
        };
        if level.expanding.contains(node.id.as_str())
            || self.stack.contains(&node.class.as_str())
            || self.stack.len() >= MAX_SUBGRAPH_DEPTH
        {
            self.diags.push_node(
                Severity::Error,
                "cycle",
                format!(
                    "subgraph instance `{instance_id}` ({}) contains itself or nests deeper than {MAX_SUBGRAPH_DEPTH} levels; it is not expanded",
                    def.name
                ),
                "remove the instance from its own definition",
                &instance_id,
            );
            level.instances.insert(&node.id, (Vec::new(), Vec::new()));
            return Vec::new();
        }
        level.expanding.insert(&node.id);
        self.plan.instances += 1;
        let widgets = self
            .named
            .get(&(level.graph_no, node.id.clone()))
            .cloned()
            .unwrap_or_default();
        // Definition inputs are matched with the instance's input slots by name.
        let mut sources = Vec::with_capacity(def.inputs.len());
        let mut values = Vec::with_capacity(def.inputs.len());
        for (j, name) in def.inputs.iter().enumerate() {
            let slot = node
                .inputs
                .iter()
                .position(|s| &s.name == name)
                .or_else(|| (j < node.inputs.len() && node.inputs[j].name.is_empty()).then_some(j));
            let link = slot.and_then(|k| {
                level
                    .incoming
                    .get(&(node.id.as_str(), k))
                    .and_then(|l| l.first())
                    .copied()
            });
            sources.push(link.and_then(|li| self.resolve(level, li, &mut Vec::new())));
            values.push(widgets.get(name).cloned());
        }
        let min = def
            .graph
            .nodes
            .iter()
            .map(|n| (n.pos.x, n.pos.y))
            .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)))
            .unwrap_or((0.0, 0.0));
        let offset = (
            level.offset.0 + node.pos.x - min.0,
            level.offset.1 + node.pos.y - min.1,
        );
        let mode = level.mode.or((node.mode != 0).then_some(node.mode));
        let inner = Level::new(
            &def.graph,
            def.index,
            format!("{instance_id}:"),
            Some(Boundary { sources, values }),
            mode,
            offset,
        );
        self.stack.push(&node.class);
        let (outputs, produced) = self.expand(inner);
        self.stack.pop();
        level.expanding.remove(node.id.as_str());

        let mut ui = Map::new();
        ui.insert("subgraph".into(), json!(node.class));
        ui.insert("pos".into(), json!([node.pos.x, node.pos.y]));
        if !widgets.names.is_empty() {
            ui.insert(
                "widgets".into(),
                Value::Object(
                    widgets
                        .names
                        .iter()
                        .cloned()
                        .zip(widgets.values.iter().cloned())
                        .collect(),
                ),
            );
        }
        for (k, v) in &node.extra {
            ui.insert(k.clone(), v.clone());
        }
        self.plan.groups.push(Group {
            id: format!("subgraph:{instance_id}"),
            label: Some(node.title.clone().unwrap_or_else(|| def.name.clone())),
            nodes: produced.clone(),
            ui: Some(json!({ "comfyui": ui })),
        });
        level
            .instances
            .insert(&node.id, (outputs.clone(), produced));
        outputs
    }

    /// The level's own groups; a node belongs to a group when its centre lies
    /// inside the group's bounding box (an instance brings all its nodes).
    fn groups(&mut self, level: &Level<'a>, produced: &[String]) {
        for (i, g) in level.graph.groups.iter().enumerate() {
            let key = g.id.clone().unwrap_or_else(|| (i + 1).to_string());
            let mut members = Vec::new();
            if let Some([x, y, w, h]) = g.bounding {
                for node in &level.graph.nodes {
                    let (nw, nh) = node.size.unwrap_or((0.0, 0.0));
                    let (cx, cy) = (node.pos.x + nw / 2.0, node.pos.y + nh / 2.0);
                    if !(cx >= x && cx <= x + w && cy >= y && cy <= y + h) {
                        continue;
                    }
                    if let Some((_, ids)) = level.instances.get(node.id.as_str()) {
                        members.extend(ids.iter().cloned());
                    } else if node.class != REROUTE {
                        let id = format!("{}{}", level.prefix, node.id);
                        if produced.contains(&id) {
                            members.push(id);
                        }
                    }
                }
            }
            let mut seen = HashSet::new();
            members.retain(|m| seen.insert(m.clone()));
            self.plan.groups.push(Group {
                id: format!("{}group:{key}", level.prefix),
                label: g.title.clone(),
                nodes: members,
                ui: Some(json!({ "comfyui": g.extra })),
            });
        }
    }

    fn report_once(&mut self, edge: &str, code: &str, message: String) {
        if self.reported.insert(edge.to_owned()) {
            let hint = match code {
                "unknown_port" => {
                    "the link names a slot the node does not have; reconnect it in ComfyUI"
                }
                "cycle" => "break the loop in ComfyUI",
                _ => "the link has nothing at one end; delete it in ComfyUI or restore the node",
            };
            self.diags
                .push_edge(Severity::Warning, code, message, hint, edge);
        }
    }
}

impl<'a> Level<'a> {
    fn new(
        graph: &'a Graph,
        graph_no: usize,
        prefix: String,
        boundary: Option<Boundary>,
        mode: Option<i64>,
        offset: (f64, f64),
    ) -> Self {
        let nodes = graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut incoming: HashMap<(&str, usize), Vec<usize>> = HashMap::new();
        for (i, l) in graph.links.iter().enumerate() {
            incoming
                .entry((l.target.as_str(), l.target_slot))
                .or_default()
                .push(i);
        }
        Level {
            graph,
            graph_no,
            prefix,
            boundary,
            nodes,
            incoming,
            instances: HashMap::new(),
            expanding: HashSet::new(),
            mode,
            offset,
        }
    }
}
