//! Turning a workflow into the nodes and edges of one canvas: Reroute nodes
//! collapse into direct edges, subgraph instances are replaced by a copy of
//! their definition's nodes (ids `instance:inner`, as ComfyUI numbers them
//! when it runs a subgraph), and every link is resolved to the real output
//! it carries data from. How far expansion may go is the
//! [budget](super::budget)'s call.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::budget::{Budget, MAX_SUBGRAPH_DEPTH};
use super::groups::{MAX_GROUP_MEMBERS, PointIndex};
use super::widgets::NamedWidgets;
use super::workflow::{Graph, SUBGRAPH_INPUT_NODE, SUBGRAPH_OUTPUT_NODE, WfNode, Workflow};
use super::{Diagnostics, Severity, flat_id};
use crate::format::finite;
use crate::model::{Group, Position};

/// The class name of LiteGraph's reroute node.
pub(super) const REROUTE: &str = "Reroute";
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
    /// The definition's name, for a subgraph instance.
    subgraph: Option<&'a str>,
    prefix: String,
    boundary: Option<Boundary>,
    nodes: HashMap<&'a str, &'a WfNode>,
    /// Links by (target node, target slot), in file order.
    incoming: HashMap<(&'a str, usize), Vec<usize>>,
    /// What each link resolved to, so a chain of reroutes is walked once.
    resolved: HashMap<usize, Option<Source>>,
    /// Outputs and produced node ids of the instances expanded so far.
    instances: HashMap<&'a str, (Vec<Option<Source>>, Vec<String>)>,
    expanding: HashSet<&'a str>,
    mode: Option<i64>,
    offset: (f64, f64),
}

/// One step of following a link upstream.
enum Step {
    Done(Option<Source>),
    /// The result depends on an instance being expanded right now: it is
    /// not remembered.
    Transient,
    Follow(usize),
}

pub(super) struct Flattener<'a> {
    wf: &'a Workflow,
    named: HashMap<(usize, String), NamedWidgets>,
    diags: &'a mut Diagnostics,
    plan: Plan,
    stack: Vec<&'a str>,
    /// Links reported, by (graph number, link index).
    reported: HashSet<(usize, usize)>,
    budget: Budget<'a>,
    members_left: usize,
}

impl<'a> Flattener<'a> {
    /// `named` holds the named widgets of every node, keyed by (graph number,
    /// node id), where graph 0 is the top level and subgraph definitions
    /// have their [`Subgraph::index`](super::workflow::Subgraph).
    pub fn new(
        wf: &'a Workflow,
        named: HashMap<(usize, String), NamedWidgets>,
        diags: &'a mut Diagnostics,
    ) -> Self {
        Flattener {
            wf,
            named,
            diags,
            plan: Plan::default(),
            stack: Vec::new(),
            reported: HashSet::new(),
            budget: Budget::new(wf),
            members_left: MAX_GROUP_MEMBERS,
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
            let id = flat_id(&level.prefix, &node.id);
            // The top level is expanded once; definitions once per instance.
            let key = (graph_no, node.id.clone());
            let widgets = if graph_no == 0 {
                self.named.remove(&key)
            } else {
                self.named.get(&key).cloned()
            }
            .unwrap_or_default();
            planned_index.insert(id.clone(), self.plan.nodes.len());
            produced.push(id.clone());
            self.plan.nodes.push(PlannedNode {
                id,
                class: node.class.clone(),
                title: node.title.clone(),
                position: Position::new(
                    finite(node.pos.x + level.offset.0),
                    finite(node.pos.y + level.offset.1),
                ),
                widgets,
                inputs: node
                    .inputs
                    .iter()
                    .map(|s| (s.port.clone(), s.ty.clone()))
                    .collect(),
                outputs: node
                    .outputs
                    .iter()
                    .map(|s| (s.port.clone(), s.ty.clone()))
                    .collect(),
                mode: level.mode.filter(|_| node.mode == 0),
                extra: node.extra.clone(),
            });
        }

        let mut outputs: Vec<Option<Source>> = Vec::new();
        for (li, link) in level.graph.links.iter().enumerate() {
            let edge_id = flat_id(&level.prefix, &link.id);
            if link.target == SUBGRAPH_OUTPUT_NODE && level.boundary.is_some() {
                let source = self.resolve(&mut level, li);
                if outputs.len() <= link.target_slot {
                    outputs.resize(link.target_slot + 1, None);
                }
                outputs[link.target_slot] = source;
                continue;
            }
            let Some(target) = level.nodes.get(link.target.as_str()).copied() else {
                self.report_once(
                    &level,
                    li,
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
            let target_id = flat_id(&level.prefix, &target.id);
            let Some(slot) = target.inputs.get(link.target_slot) else {
                self.report_once(
                    &level,
                    li,
                    &edge_id,
                    "unknown_port",
                    format!(
                        "link `{edge_id}` goes to input slot {} of node `{target_id}` ({}), which has {} inputs; it is skipped",
                        link.target_slot,
                        target.class,
                        target.inputs.len()
                    ),
                );
                continue;
            };
            match self.resolve(&mut level, li) {
                Some(source) => self.plan.edges.push(PlannedEdge {
                    id: edge_id,
                    source,
                    target: (target_id, slot.port.clone()),
                }),
                None => {
                    // A widget input fed from the subgraph's inputs with nothing
                    // connected outside takes the instance's widget value.
                    let value = (link.origin == SUBGRAPH_INPUT_NODE)
                        .then_some(level.boundary.as_ref())
                        .flatten()
                        .and_then(|b| b.values.get(link.origin_slot).cloned().flatten());
                    if let (Some(value), Some(widget), Some(&i)) =
                        (value, slot.widget.as_deref(), planned_index.get(&target_id))
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
        self.groups(&level);
        (outputs, produced)
    }

    /// The real output a link carries data from, through reroutes, subgraph
    /// boundaries and instances. Walks a chain of reroutes without recursion
    /// and remembers the answer for every link on it.
    fn resolve(&mut self, level: &mut Level<'a>, first: usize) -> Option<Source> {
        let mut chain = Vec::new();
        let mut on_chain = HashSet::new();
        let mut li = first;
        let (result, remember) = loop {
            if let Some(known) = level.resolved.get(&li) {
                break (known.clone(), true);
            }
            if !on_chain.insert(li) {
                let edge_id = flat_id(&level.prefix, &level.graph.links[li].id);
                self.report_once(
                    level,
                    li,
                    &edge_id,
                    "cycle",
                    format!("link `{edge_id}` is part of a loop of reroutes; it is skipped"),
                );
                break (None, true);
            }
            chain.push(li);
            match self.step(level, li) {
                Step::Done(found) => break (found, true),
                Step::Transient => break (None, false),
                Step::Follow(up) => li = up,
            }
        };
        if remember {
            for li in chain {
                level.resolved.insert(li, result.clone());
            }
        }
        result
    }

    /// Where link `li` takes its data from: an answer, or the link to follow.
    fn step(&mut self, level: &mut Level<'a>, li: usize) -> Step {
        let link = &level.graph.links[li];
        let edge_id = flat_id(&level.prefix, &link.id);
        if link.origin == SUBGRAPH_INPUT_NODE
            && let Some(b) = &level.boundary
        {
            return Step::Done(b.sources.get(link.origin_slot).cloned().flatten());
        }
        let Some(origin) = level.nodes.get(link.origin.as_str()).copied() else {
            self.report_once(
                level,
                li,
                &edge_id,
                "dangling_edge",
                format!(
                    "link `{edge_id}` comes from node `{}{}`, which does not exist; it is skipped",
                    level.prefix, link.origin
                ),
            );
            return Step::Done(None);
        };
        if origin.class == REROUTE {
            let upstream = level
                .incoming
                .get(&(origin.id.as_str(), 0))
                .and_then(|l| l.first())
                .copied();
            let Some(up) = upstream else {
                self.report_once(
                    level,
                    li,
                    &edge_id,
                    "dangling_edge",
                    format!(
                        "link `{edge_id}` comes from reroute `{}{}`, which has no input; it is skipped",
                        level.prefix, origin.id
                    ),
                );
                return Step::Done(None);
            };
            return Step::Follow(up);
        }
        if self.is_instance(origin) {
            if level.expanding.contains(origin.id.as_str()) {
                // A loop back into the instance: said once, and nothing flows.
                if !level.instances.contains_key(origin.id.as_str()) {
                    self.instance(level, origin);
                }
                return Step::Transient;
            }
            let outputs = match level.instances.get(origin.id.as_str()) {
                Some((outputs, _)) => outputs.get(link.origin_slot).cloned().flatten(),
                None => self
                    .instance(level, origin)
                    .get(link.origin_slot)
                    .cloned()
                    .flatten(),
            };
            return Step::Done(outputs);
        }
        match origin.outputs.get(link.origin_slot) {
            Some(slot) => Step::Done(Some((
                flat_id(&level.prefix, &origin.id),
                slot.port.clone(),
            ))),
            None => {
                self.report_once(
                    level,
                    li,
                    &edge_id,
                    "unknown_port",
                    format!(
                        "link `{edge_id}` comes from output slot {} of node `{}{}` ({}), which has {} outputs; it is skipped",
                        link.origin_slot,
                        level.prefix,
                        origin.id,
                        origin.class,
                        origin.outputs.len()
                    ),
                );
                Step::Done(None)
            }
        }
    }

    /// Whether a top-level instance may be expanded within the budget; says
    /// so when it may not.
    fn within_budget(&mut self, class: &'a str, instance_id: &str, name: &str) -> bool {
        let Err(why) = self.budget.admit(class) else {
            return true;
        };
        self.diags.push_node(
            Severity::Error,
            "too_large",
            format!(
                "subgraph instance `{instance_id}` (subgraph `{name}`) {why}; it is left out with every node in it"
            ),
            "a subgraph that instantiates other subgraphs many times over multiplies; import its definition on its own, or nest fewer instances",
            instance_id,
        );
        false
    }

    /// Expands a subgraph instance of this level (once) and returns its outputs.
    fn instance(&mut self, level: &mut Level<'a>, node: &'a WfNode) -> Vec<Option<Source>> {
        let instance_id = flat_id(&level.prefix, &node.id);
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
        // Nested instances are within what their top-level one booked.
        if self.stack.is_empty() && !self.within_budget(&node.class, &instance_id, &def.name) {
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
        let mut slot_of: HashMap<&str, usize> = HashMap::with_capacity(node.inputs.len());
        for (k, s) in node.inputs.iter().enumerate() {
            slot_of.entry(s.name.as_str()).or_insert(k);
        }
        let mut sources = Vec::with_capacity(def.inputs.len());
        let mut values = Vec::with_capacity(def.inputs.len());
        for (j, name) in def.inputs.iter().enumerate() {
            let slot = slot_of
                .get(name.as_str())
                .copied()
                .or_else(|| (j < node.inputs.len() && node.inputs[j].name.is_empty()).then_some(j));
            let link = slot.and_then(|k| {
                level
                    .incoming
                    .get(&(node.id.as_str(), k))
                    .and_then(|l| l.first())
                    .copied()
            });
            sources.push(link.and_then(|li| self.resolve(level, li)));
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
            finite(level.offset.0 + finite(node.pos.x - min.0)),
            finite(level.offset.1 + finite(node.pos.y - min.1)),
        );
        let mode = level.mode.or((node.mode != 0).then_some(node.mode));
        let mut inner = Level::new(
            &def.graph,
            def.index,
            format!("{instance_id}:"),
            Some(Boundary { sources, values }),
            mode,
            offset,
        );
        inner.subgraph = Some(&def.name);
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
            id: flat_id("subgraph:", &instance_id),
            label: Some(node.title.clone().unwrap_or_else(|| def.name.clone())),
            nodes: produced.clone(),
            ui: Some(Value::Object(Map::from_iter([(
                "comfyui".to_owned(),
                Value::Object(ui),
            )]))),
        });
        level
            .instances
            .insert(&node.id, (outputs.clone(), produced));
        outputs
    }

    /// The level's own groups; a node belongs to a group when its centre lies
    /// inside the group's bounding box (an instance brings all its nodes).
    fn groups(&mut self, level: &Level<'a>) {
        if level.graph.groups.is_empty() {
            return;
        }
        // Only nodes that bring at least one member, so a group's count of
        // points bounds its members from below.
        let nodes: Vec<&WfNode> = level
            .graph
            .nodes
            .iter()
            .filter(|n| match level.instances.get(n.id.as_str()) {
                Some((_, ids)) => !ids.is_empty(),
                None => n.class != REROUTE && !self.is_instance(n),
            })
            .collect();
        let centres: Vec<(f64, f64)> = nodes
            .iter()
            .map(|n| {
                let (w, h) = n.size.unwrap_or((0.0, 0.0));
                (finite(n.pos.x + w / 2.0), finite(n.pos.y + h / 2.0))
            })
            .collect();
        let index = PointIndex::new(&centres);
        for (i, g) in level.graph.groups.iter().enumerate() {
            let key = g.id.clone().unwrap_or_else(|| (i + 1).to_string());
            let id = flat_id(&level.prefix, &format!("group:{key}"));
            let mut members = Vec::new();
            if let Some([x, y, w, h]) = g.bounding {
                let (x1, y1) = (finite(x + w), finite(y + h));
                if index.count(x, x1, y, y1) <= self.members_left {
                    for k in index.inside(x, x1, y, y1) {
                        let node = nodes[k];
                        match level.instances.get(node.id.as_str()) {
                            Some((_, ids)) => members.extend(ids.iter().cloned()),
                            None => members.push(flat_id(&level.prefix, &node.id)),
                        }
                        if members.len() > self.members_left {
                            break;
                        }
                    }
                }
                if members.len() <= self.members_left {
                    self.members_left -= members.len();
                } else {
                    members.clear();
                    self.diags.push(
                        Severity::Warning,
                        "too_large",
                        format!(
                            "group `{id}` would take the import past {MAX_GROUP_MEMBERS} group entries; it is kept without members"
                        ),
                        "groups are layout only; nothing runs differently",
                    );
                }
            }
            let mut seen = HashSet::new();
            members.retain(|m| seen.insert(m.clone()));
            self.plan.groups.push(Group {
                id,
                label: g.title.clone(),
                nodes: members,
                ui: Some(Value::Object(Map::from_iter([(
                    "comfyui".to_owned(),
                    Value::Object(g.extra.clone()),
                )]))),
            });
        }
    }

    /// Reports a problem of link `li` of the level's graph once: a link of a
    /// subgraph definition is reported for its first instance only.
    fn report_once(
        &mut self,
        level: &Level<'a>,
        li: usize,
        edge: &str,
        code: &str,
        message: String,
    ) {
        if self.reported.insert((level.graph_no, li)) {
            let message = match level.subgraph {
                Some(name) => format!("{message} (so in every instance of subgraph `{name}`)"),
                None => message,
            };
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
            subgraph: None,
            prefix,
            boundary,
            nodes,
            incoming,
            resolved: HashMap::new(),
            instances: HashMap::new(),
            expanding: HashSet::new(),
            mode,
            offset,
        }
    }
}
