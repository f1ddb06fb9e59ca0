//! The planner: which nodes a run needs, in what order, under what content
//! keys, and why each will run.
//!
//! A node's key is a Merkle hash: the digest of its own content (type, type
//! version, the type's task and provides definitions, the properties its
//! templates read), the quality tier for task nodes, and the keys of its
//! inputs in input order. Ids and layout are not part of it. The canvas
//! keeps each node's own digest until the node changes, so planning an
//! unchanged node reads none of its properties.
//!
//! A [`Planner`] keeps its keys between plans: [`Planner::replan`] reads the
//! canvas's change log and rehashes only the nodes that changed and, while
//! their keys keep changing, what lies downstream of them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use petgraph::Direction;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::{EdgeRef, NodeIndexable};
use rayon::ThreadPool;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::event::Reason;
use crate::canvas::{Canvas, EdgeOrder, Link, NodeEntry};
use crate::catalog::{NodeTypeSpec, Template, property_applies};
use crate::content_key::{ContentKey, KeyHasher};
use crate::error::{Error, Result};
use crate::quality::Quality;

/// What to plan: the whole canvas or the nodes some targets need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PlanOptions {
    /// Nodes whose results are wanted; everything upstream of them is
    /// included. Empty means every node.
    pub targets: Vec<String>,
    pub quality: Quality,
}

impl PlanOptions {
    /// Every node of the canvas at `quality`.
    pub fn all(quality: Quality) -> Self {
        PlanOptions {
            targets: Vec::new(),
            quality,
        }
    }

    /// The given nodes and what they need, at `quality`.
    pub fn targets<S: Into<String>>(
        targets: impl IntoIterator<Item = S>,
        quality: Quality,
    ) -> Self {
        PlanOptions {
            targets: targets.into_iter().map(Into::into).collect(),
            quality,
        }
    }
}

/// One task node of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub node: Arc<str>,
    pub function: Arc<str>,
    pub key: ContentKey,
    /// Why it runs if its key has no stored result (see [`Reason`]).
    pub reason: Reason,
    /// The output ports its type declares: what its outputs, fresh or
    /// cached, must name.
    pub(crate) outputs: Arc<[Arc<str>]>,
    /// Where the steps it waits for are in [`Plan::after`]'s table.
    after: (u32, u32),
    /// The node's graph slot in the canvas at the plan's revision.
    pub(crate) ix: NodeIndex,
    /// Fingerprint of the node's own part of the key, to tell what changed next time.
    own: u64,
}

/// The nodes a run needs, in topological order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub canvas_id: String,
    pub revision: u64,
    pub quality: Quality,
    /// The nodes planned for; empty when the whole canvas was.
    pub targets: Vec<String>,
    /// Task nodes, each after every step it waits for.
    pub steps: Vec<Step>,
    /// Data nodes the steps read (characters, shots, ...): they have no task;
    /// their properties are their outputs.
    pub data_nodes: usize,
    /// What each step waits for, back to back: one table instead of a list
    /// per step.
    after: Vec<usize>,
}

impl Plan {
    /// The step of `node`, if it is a task node of this plan.
    pub fn step(&self, node: &str) -> Option<&Step> {
        self.steps.iter().find(|s| &*s.node == node)
    }

    /// The steps (indexes into [`Plan::steps`]) whose outputs step `step`
    /// waits for, in input order.
    pub fn after(&self, step: usize) -> &[usize] {
        let (start, end) = self.steps[step].after;
        &self.after[start as usize..end as usize]
    }
}

impl Serialize for Plan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        #[derive(Serialize)]
        struct StepView<'p> {
            node: &'p str,
            function: &'p str,
            key: ContentKey,
            reason: Reason,
            after: &'p [usize],
        }
        let steps: Vec<StepView<'_>> = (0..self.steps.len())
            .map(|i| {
                let step = &self.steps[i];
                StepView {
                    node: &step.node,
                    function: &step.function,
                    key: step.key,
                    reason: step.reason,
                    after: self.after(i),
                }
            })
            .collect();
        let mut plan = s.serialize_struct("Plan", 6)?;
        plan.serialize_field("canvas_id", &self.canvas_id)?;
        plan.serialize_field("revision", &self.revision)?;
        plan.serialize_field("quality", &self.quality)?;
        plan.serialize_field("targets", &self.targets)?;
        plan.serialize_field("steps", &steps)?;
        plan.serialize_field("data_nodes", &self.data_nodes)?;
        plan.end()
    }
}

const NONE: u32 = u32::MAX;

/// Fewer own digests than this to work out are hashed on the calling
/// thread: sharing them out costs more than it saves.
const PARALLEL_DIGESTS: usize = 2_048;

/// Each step's own hash and key in the previous plan, by node id.
type PreviousKeys = HashMap<Arc<str>, (u64, ContentKey)>;

/// A node's planning state, indexed by graph slot.
#[derive(Debug, Clone, Copy)]
struct Slot {
    own: u64,
    key: ContentKey,
    /// Position in the plan's topological order, `NONE` when not needed.
    order: u32,
    /// Index into `Plan::steps`, `NONE` for data nodes.
    step: u32,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            own: 0,
            key: ContentKey([0; 32]),
            order: NONE,
            step: NONE,
        }
    }
}

/// Plans a canvas and keeps the plan current as the canvas changes.
///
/// ```
/// use reelgraph::exec::{PlanOptions, Planner, Reason};
/// use reelgraph::{Canvas, Catalog, Op, Quality};
/// use serde_json::json;
///
/// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
/// canvas.apply(vec![
///     Op::add_node("s1", "shot", json!({"number": 1, "prompt": "a lighthouse"})),
///     Op::add_node("img", "image_gen", json!({})),
///     Op::connect(("s1", "shot"), ("img", "shot")),
/// ]).unwrap();
/// let mut planner = Planner::new(&canvas, PlanOptions::all(Quality::Draft)).unwrap();
/// let before = planner.plan().steps[0].key;
///
/// canvas.apply(vec![Op::set_properties("s1", json!({"prompt": "a storm"}))]).unwrap();
/// let plan = planner.replan(&canvas).unwrap();
/// assert_ne!(plan.steps[0].key, before);
/// assert_eq!(plan.steps[0].reason, Reason::UpstreamChanged);
/// ```
#[derive(Debug)]
pub struct Planner {
    options: PlanOptions,
    slots: Vec<Slot>,
    /// Closure nodes in topological order.
    order: Vec<NodeIndex>,
    /// Shared with starting runs without a copy (see `shared_plan`).
    plan: Arc<Plan>,
    /// What matters of each node type met.
    relevance: Relevances,
    hasher: KeyHasher,
    /// Where many own digests are hashed at once; none: on the calling thread.
    pool: Option<Arc<ThreadPool>>,
}

impl Planner {
    /// Plans `canvas` on the calling thread. Unknown targets are
    /// `unknown_node`; a needed node of a type the catalogue does not know
    /// is `unknown_node_type`.
    pub fn new(canvas: &Canvas, options: PlanOptions) -> Result<Self> {
        Self::planned(canvas, options, None)
    }

    /// Like [`Planner::new`], hashing the nodes of a canvas just loaded (its
    /// first plan, and any plan from scratch) on `pool`'s threads when there
    /// are many. The pool is the embedder's: the planner never uses rayon's
    /// global pool.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use reelgraph::exec::{PlanOptions, Planner, ThreadPoolBuilder};
    /// use reelgraph::{Canvas, Catalog, Quality};
    ///
    /// let pool = Arc::new(ThreadPoolBuilder::new().num_threads(2).build().unwrap());
    /// let canvas = Canvas::new(Catalog::builtin(), "c", "C");
    /// let planner = Planner::with_pool(&canvas, PlanOptions::all(Quality::Draft), pool).unwrap();
    /// assert!(planner.plan().steps.is_empty());
    /// ```
    pub fn with_pool(canvas: &Canvas, options: PlanOptions, pool: Arc<ThreadPool>) -> Result<Self> {
        Self::planned(canvas, options, Some(pool))
    }

    fn planned(
        canvas: &Canvas,
        options: PlanOptions,
        pool: Option<Arc<ThreadPool>>,
    ) -> Result<Self> {
        let mut planner = Planner {
            plan: Arc::new(Plan {
                canvas_id: canvas.id().to_owned(),
                revision: canvas.revision(),
                quality: options.quality,
                targets: options.targets.clone(),
                steps: Vec::new(),
                data_nodes: 0,
                after: Vec::new(),
            }),
            options,
            slots: Vec::new(),
            order: Vec::new(),
            relevance: Relevances::default(),
            hasher: KeyHasher::default(),
            pool,
        };
        planner.full(canvas, None)?;
        Ok(planner)
    }

    /// The current plan, owned: for a run that outlives the planner.
    pub fn into_plan(self) -> Plan {
        Arc::unwrap_or_clone(self.plan)
    }

    /// The current plan, shared with a run that is starting; the next
    /// replan copies it only if that start still holds it.
    pub(super) fn shared_plan(&self) -> Arc<Plan> {
        self.plan.clone()
    }

    /// The current plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The options this planner plans with.
    pub fn options(&self) -> &PlanOptions {
        &self.options
    }

    /// Brings the plan up to the canvas's current revision. Edits to node
    /// content rehash the edited nodes and, while keys change, their
    /// downstream cone; added or removed nodes and edges re-plan the shape
    /// but reuse every key that did not change. Reasons describe what changed
    /// since the previous plan.
    pub fn replan(&mut self, canvas: &Canvas) -> Result<&Plan> {
        if canvas.id() != self.plan.canvas_id {
            return Err(Error::InvalidField {
                field: "canvas",
                message: format!(
                    "this planner plans canvas `{}`, not `{}`",
                    self.plan.canvas_id,
                    canvas.id()
                ),
            });
        }
        let changes = canvas.changes_since(self.plan.revision);
        let structural = changes.is_none_or(|c| c.iter().any(|c| c.structural));
        if structural {
            let previous: PreviousKeys = self
                .plan
                .steps
                .iter()
                .map(|s| (s.node.clone(), (s.own, s.key)))
                .collect();
            self.full(canvas, Some(&previous))?;
        } else if let Some(changes) = changes {
            let touched: Vec<NodeIndex> = changes
                .iter()
                .filter_map(|c| canvas.entry(&c.node).map(|e| e.ix))
                .collect();
            for step in &mut Arc::make_mut(&mut self.plan).steps {
                step.reason = Reason::New;
            }
            self.update(canvas, &touched)?;
        }
        Arc::make_mut(&mut self.plan).revision = canvas.revision();
        Ok(&self.plan)
    }

    /// Plans from scratch; with `previous` keys, reasons say what changed.
    fn full(&mut self, canvas: &Canvas, previous: Option<&PreviousKeys>) -> Result<()> {
        let graph = &canvas.graph;
        let needed = self.closure(canvas)?;
        self.slots.clear();
        self.slots
            .resize(graph.inner().node_bound(), Slot::default());
        self.order.clear();
        // The plan's tables are filled out of the `Arc`: one `make_mut`
        // per plan, not two atomic checks per node.
        let plan = Arc::make_mut(&mut self.plan);
        let mut steps = std::mem::take(&mut plan.steps);
        let mut after = std::mem::take(&mut plan.after);
        steps.clear();
        steps.reserve(graph.node_count());
        after.clear();
        let mut data_nodes = 0;
        let planned = self.key_all(
            canvas,
            needed.as_deref(),
            previous,
            (&mut steps, &mut after, &mut data_nodes),
        );
        let plan = Arc::make_mut(&mut self.plan);
        plan.steps = steps;
        plan.after = after;
        plan.data_nodes = data_nodes;
        planned
    }

    /// Keys every needed node in topological order, appending task nodes
    /// to `steps` (what each waits for to `after`) and counting data nodes.
    fn key_all(
        &mut self,
        canvas: &Canvas,
        needed: Option<&[bool]>,
        previous: Option<&PreviousKeys>,
        (steps, after, data_nodes): (&mut Vec<Step>, &mut Vec<usize>, &mut usize),
    ) -> Result<()> {
        let graph = &canvas.graph;
        let mut inputs = Vec::new();
        let entries = canvas.entries_by_slot();
        self.digest_own_parts(&entries, needed);
        let order = EdgeOrder::Table(canvas.edge_positions());
        for ix in graph.nodes_iter() {
            if needed.is_some_and(|n| !n[ix.index()]) {
                continue;
            }
            let Some((id, entry)) = entries[ix.index()] else {
                continue;
            };
            let (own, key, task) = self.key_node(canvas, ix, (id, entry), &order, &mut inputs)?;
            let slot = &mut self.slots[ix.index()];
            slot.own = own;
            slot.key = key;
            slot.order = self.order.len() as u32;
            self.order.push(ix);
            let Some((function, outputs)) = task else {
                *data_nodes += 1;
                continue;
            };
            let reason = match previous.and_then(|p| p.get(id)) {
                None => Reason::New,
                Some((old_own, _)) if *old_own != own => Reason::PropertiesChanged,
                Some((_, old_key)) if *old_key != key => Reason::UpstreamChanged,
                Some(_) => Reason::New,
            };
            slot.step = steps.len() as u32;
            let waits = steps_before(&self.slots, after, &inputs);
            steps.push(Step {
                node: id.clone(),
                function,
                key,
                reason,
                outputs,
                after: waits,
                ix,
                own,
            });
        }
        Ok(())
    }

    /// Rehashes `touched` nodes and, in topological order, every node
    /// downstream whose input keys changed.
    fn update(&mut self, canvas: &Canvas, touched: &[NodeIndex]) -> Result<()> {
        let mut queue: BinaryHeap<Reverse<(u32, NodeIndex)>> = BinaryHeap::new();
        let mut queued: HashSet<NodeIndex> = HashSet::new();
        let mut inputs = Vec::new();
        for &ix in touched {
            let order = self.slots.get(ix.index()).map_or(NONE, |s| s.order);
            if order != NONE && queued.insert(ix) {
                queue.push(Reverse((order, ix)));
            }
        }
        while let Some(Reverse((_, ix))) = queue.pop() {
            let (id, entry) = canvas.entry_at(ix);
            let order = EdgeOrder::Lookup(canvas);
            let (own, key, task) = self.key_node(canvas, ix, (id, entry), &order, &mut inputs)?;
            let own_changed = own != self.slots[ix.index()].own;
            let slot = &mut self.slots[ix.index()];
            slot.own = own;
            if key == slot.key {
                continue;
            }
            slot.key = key;
            if slot.step != NONE {
                let step = &mut Arc::make_mut(&mut self.plan).steps[slot.step as usize];
                step.key = key;
                step.own = own;
                step.reason = if own_changed {
                    Reason::PropertiesChanged
                } else {
                    Reason::UpstreamChanged
                };
                // A type registered again may name other ports.
                if let Some((function, outputs)) = task {
                    step.function = function;
                    step.outputs = outputs;
                }
            }
            for edge in canvas.graph.inner().edges_directed(ix, Direction::Outgoing) {
                let next = edge.target();
                let order = self.slots[next.index()].order;
                if order != NONE && queued.insert(next) {
                    queue.push(Reverse((order, next)));
                }
            }
        }
        Ok(())
    }

    /// The nodes the targets need, by graph slot; `None` for every node.
    fn closure(&self, canvas: &Canvas) -> Result<Option<Vec<bool>>> {
        if self.options.targets.is_empty() {
            return Ok(None);
        }
        let mut needed = vec![false; canvas.graph.inner().node_bound()];
        let mut stack = Vec::new();
        for target in &self.options.targets {
            let entry = canvas.entry(target).ok_or_else(|| Error::UnknownNode {
                node: target.clone(),
            })?;
            stack.push(entry.ix);
        }
        while let Some(ix) = stack.pop() {
            if !std::mem::replace(&mut needed[ix.index()], true) {
                stack.extend(
                    canvas
                        .graph
                        .inner()
                        .neighbors_directed(ix, Direction::Incoming),
                );
            }
        }
        Ok(Some(needed))
    }

    /// Puts a node's incoming edges in input order (into `inputs`) and
    /// hashes its key from them; also gives its task's function and output
    /// ports (none for a data node).
    fn key_node<'c>(
        &mut self,
        canvas: &'c Canvas,
        ix: NodeIndex,
        (id, entry): (&str, &NodeEntry),
        order: &EdgeOrder<'_>,
        inputs: &mut Vec<Input<'c>>,
    ) -> Result<(u64, ContentKey, Option<StepTask>)> {
        let spec = needed_spec(id, entry)?;
        let at = self.relevance.index_of(spec);
        let relevance = &self.relevance.types[at].1;
        inputs_in_order(canvas, ix, spec, order, inputs);
        let (own, key) = key_of(
            &mut self.hasher,
            relevance,
            spec,
            entry,
            self.options.quality,
            inputs,
            |source| self.slots[source.index()].key,
        );
        let task = relevance
            .function
            .clone()
            .map(|function| (function, relevance.outputs.clone()));
        Ok((own, key, task))
    }

    /// Works out the own digests the canvas does not keep yet (all of them
    /// for a canvas just loaded), on the planner's pool when there are many.
    fn digest_own_parts(
        &mut self,
        entries: &[Option<(&Arc<str>, &NodeEntry)>],
        needed: Option<&[bool]>,
    ) {
        let mut missing = Vec::new();
        for (slot, entry) in entries.iter().enumerate() {
            let Some((_, entry)) = entry else { continue };
            if needed.is_some_and(|n| !n[slot]) || entry.own_digest.get().is_some() {
                continue;
            }
            let Some(spec) = &entry.spec else { continue };
            self.relevance.index_of(spec);
            missing.push(*entry);
        }
        let relevance = &self.relevance;
        let digest = |entries: &[&NodeEntry]| {
            let mut hasher = KeyHasher::default();
            for entry in entries {
                if let Some(spec) = &entry.spec {
                    own_digest(&mut hasher, relevance.of(spec), spec, entry);
                }
            }
        };
        match &self.pool {
            Some(pool) if missing.len() >= PARALLEL_DIGESTS => {
                let chunk = missing.len().div_ceil(4 * pool.current_num_threads());
                pool.install(|| missing.par_chunks(chunk).for_each(digest));
            }
            _ => digest(&missing),
        }
    }
}

/// Appends the distinct steps among `inputs`, in input order, to the
/// plan's `after` table, and returns where they are.
fn steps_before(slots: &[Slot], after: &mut Vec<usize>, inputs: &[Input<'_>]) -> (u32, u32) {
    let start = after.len();
    for (_, source, _) in inputs {
        let step = slots[source.index()].step;
        if step != NONE && !after[start..].contains(&(step as usize)) {
            after.push(step as usize);
        }
    }
    (start as u32, after.len() as u32)
}

/// What matters of each node type a planner met; a canvas uses a handful.
#[derive(Debug, Default)]
struct Relevances {
    /// Holding the spec keeps its address from being reused by another.
    types: Vec<(Arc<NodeTypeSpec>, Relevance)>,
    /// Where each spec is in `types`, by its address: one lookup per node
    /// rather than a scan of every type met.
    at: foldhash::HashMap<usize, usize>,
}

impl Relevances {
    /// Where the relevance of `spec` is, worked out on first need.
    fn index_of(&mut self, spec: &Arc<NodeTypeSpec>) -> usize {
        let address = Arc::as_ptr(spec) as usize;
        if let Some(&at) = self.at.get(&address) {
            return at;
        }
        self.types.push((spec.clone(), Relevance::of(spec)));
        self.at.insert(address, self.types.len() - 1);
        self.types.len() - 1
    }

    /// The relevance of a type already worked out by [`Relevances::index_of`].
    fn of(&self, spec: &Arc<NodeTypeSpec>) -> &Relevance {
        let at = self.at[&(Arc::as_ptr(spec) as usize)];
        &self.types[at].1
    }
}

/// A node's key, and a fingerprint of its own part that tells whether that
/// part changed: the own digest, the quality tier for task nodes, then each
/// input's ports and key in input order.
fn key_of(
    hasher: &mut KeyHasher,
    relevance: &Relevance,
    spec: &NodeTypeSpec,
    entry: &NodeEntry,
    quality: Quality,
    inputs: &[Input<'_>],
    key_at: impl Fn(NodeIndex) -> ContentKey,
) -> (u64, ContentKey) {
    let own = own_digest(hasher, relevance, spec, entry);
    hasher.start(KEY_DOMAIN);
    hasher.bytes(&own);
    if relevance.function.is_some() {
        hasher.tag(quality as u8);
    }
    hasher.u64(inputs.len() as u64);
    for (_, source, link) in inputs {
        hasher.str(&link.target_port);
        hasher.str(&link.source_port);
        hasher.bytes(&key_at(*source).0);
    }
    let fingerprint = u64::from_le_bytes(own[..8].try_into().expect("8 bytes"));
    (fingerprint, ContentKey(hasher.finish()))
}

/// The digest of what the node itself contributes to its key, kept in the
/// canvas once worked out (the canvas clears it when the node changes).
fn own_digest(
    hasher: &mut KeyHasher,
    relevance: &Relevance,
    spec: &NodeTypeSpec,
    entry: &NodeEntry,
) -> [u8; 32] {
    *entry.own_digest.get_or_init(|| {
        hasher.start(OWN_DOMAIN);
        own_part(hasher, relevance, spec, entry);
        hasher.finish()
    })
}

fn needed_spec<'a>(id: &str, entry: &'a NodeEntry) -> Result<&'a Arc<NodeTypeSpec>> {
    entry.spec.as_ref().ok_or_else(|| Error::UnknownNodeType {
        type_name: format!(
            "{} (node `{id}`, version {})",
            entry.type_name, entry.type_version
        ),
        known: Vec::new(),
    })
}

/// An incoming edge: its place in input order, its source and its data.
type Input<'c> = ((usize, usize), NodeIndex, &'c Link);

/// Incoming edges in input order (by the spec's input order, then canvas
/// order), into `incoming`, which is reused from node to node.
fn inputs_in_order<'c>(
    canvas: &'c Canvas,
    ix: NodeIndex,
    spec: &NodeTypeSpec,
    order: &EdgeOrder<'_>,
    incoming: &mut Vec<Input<'c>>,
) {
    incoming.clear();
    let rank = |port: &str| {
        spec.inputs
            .iter()
            .position(|p| &*p.name == port)
            .unwrap_or(usize::MAX)
    };
    for e in canvas.graph.inner().edges_directed(ix, Direction::Incoming) {
        incoming.push(((rank(&e.weight().target_port), 0), e.source(), e.weight()));
    }
    if incoming.len() > 1 {
        let mut edges = canvas.graph.inner().edges_directed(ix, Direction::Incoming);
        for input in incoming.iter_mut() {
            if let Some(e) = edges.next() {
                input.0.1 = order.position(e.id(), e.weight());
            }
        }
        incoming.sort_unstable_by_key(|input| input.0);
    }
}

/// A task node's function and output ports.
type StepTask = (Arc<str>, Arc<[Arc<str>]>);

/// What of a node a type's result depends on.
#[derive(Debug)]
struct Relevance {
    /// Hash of the whole spec: a changed task mapping or preset changes every key.
    spec_digest: [u8; 32],
    /// The task's function, shared by every step of this type; none for
    /// data nodes.
    function: Option<Arc<str>>,
    /// The type's output ports, shared by every step of this type.
    outputs: Arc<[Arc<str>]>,
    /// Every property matters (data nodes hand them all downstream), except
    /// those marked `affects_output: false`, which none of this type has.
    all: bool,
    /// The properties that matter, as indexes into the spec's, sorted by name.
    properties: Vec<usize>,
    label: bool,
}

impl Relevance {
    fn of(spec: &NodeTypeSpec) -> Relevance {
        let mut spec_hasher = KeyHasher::default();
        spec_hasher.start(0);
        spec_hasher.value(&serde_json::to_value(spec).unwrap_or_default());
        let mut reads = Reads::default();
        for template in spec.provides.values() {
            reads.template(template);
        }
        if let Some(task) = &spec.task {
            for template in task.params.values() {
                reads.template(template);
            }
        }
        // A property that applies only under another's value depends on it.
        let mut i = 0;
        while i < reads.properties.len() {
            let name = reads.properties[i].clone();
            if let Some(cond) = spec.property(&name).and_then(|p| p.applies_when.as_ref())
                && !reads.properties.contains(&cond.property)
            {
                reads.properties.push(cond.property.clone());
            }
            i += 1;
        }
        // Data nodes hand all their properties downstream; task nodes only
        // what their templates read. `affects_output: false` (notes,
        // colours) never matters.
        let data_node = spec.task.is_none();
        let mut properties: Vec<usize> = (0..spec.properties.len())
            .filter(|&i| spec.properties[i].affects_output)
            .filter(|&i| {
                data_node
                    || reads
                        .properties
                        .iter()
                        .any(|r| *r == *spec.properties[i].name)
            })
            .collect();
        properties.sort_by(|&a, &b| spec.properties[a].name.cmp(&spec.properties[b].name));
        Relevance {
            spec_digest: spec_hasher.finish(),
            function: spec.task.as_ref().map(|t| Arc::from(t.function.as_str())),
            outputs: spec.outputs.iter().map(|o| o.name.clone()).collect(),
            all: data_node && properties.len() == spec.properties.len(),
            properties,
            label: reads.label || data_node,
        }
    }
}

/// What templates read.
#[derive(Debug, Default)]
struct Reads {
    properties: Vec<String>,
    label: bool,
}

impl Reads {
    fn template(&mut self, template: &Template) {
        match template {
            Template::Property(name) => self.property(name),
            Template::Template(text) => self.text(text),
            Template::Object(fields) => fields.values().for_each(|t| self.template(t)),
            Template::List(items) => items.iter().for_each(|t| self.template(t)),
            Template::IfSet(cond) => {
                self.property(&cond.property);
                self.template(&cond.then);
            }
            Template::Value(_)
            | Template::Quality(_)
            | Template::Context(_)
            | Template::Input(_) => {}
        }
    }

    fn text(&mut self, text: &str) {
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            match after[..close].split_once('.') {
                Some(("property", name)) => self.property(name),
                Some(("node", "label")) => self.label = true,
                _ => {}
            }
            rest = &after[close + 1..];
        }
    }

    fn property(&mut self, name: &str) {
        if !self.properties.iter().any(|p| p == name) {
            self.properties.push(name.to_owned());
        }
    }
}

/// Tag the two hashes with the version of the key layout: bump both when
/// what is hashed changes.
const KEY_DOMAIN: u8 = 2;
const OWN_DOMAIN: u8 = 0x80 | KEY_DOMAIN;

/// What a node itself contributes to its key. The spec digest stands for
/// the type, its version and its task and provides definitions.
fn own_part(hasher: &mut KeyHasher, relevance: &Relevance, spec: &NodeTypeSpec, entry: &NodeEntry) {
    hasher.bytes(&relevance.spec_digest);
    if relevance.label {
        match &entry.label {
            Some(label) => {
                hasher.tag(b'L');
                hasher.str(label);
            }
            None => hasher.tag(b'-'),
        }
    }
    if relevance.all {
        // Properties are kept sorted by name: the order is canonical.
        for (name, value) in entry.properties.iter() {
            hasher.str(name);
            hasher.value(value);
        }
        return;
    }
    // A task node's templates read a property that does not apply as null.
    for &index in &relevance.properties {
        let prop = &spec.properties[index];
        let Some(value) = entry.properties.get(&prop.name) else {
            continue;
        };
        // (A data node's record carries every property, applying or not.)
        if relevance.function.is_some()
            && prop.applies_when.is_some()
            && !property_applies(spec, &entry.properties, prop)
        {
            continue;
        }
        hasher.str(&prop.name);
        hasher.value(value);
    }
}
