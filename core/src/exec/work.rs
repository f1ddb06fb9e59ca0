//! Turning a plan into owned work: each step's params with data-node inputs
//! filled in, and the links between steps. Done once, synchronously, so a
//! run no longer needs the canvas.

use std::sync::Arc;

use petgraph::Direction;
use petgraph::visit::{EdgeRef, NodeIndexable};
use serde_json::{Map, Value};

use super::plan::Plan;
use petgraph::stable_graph::NodeIndex;

use crate::canvas::{Canvas, EdgeOrder};
use crate::catalog::Template;
use crate::content_key::ContentKey;
use crate::error::{Error, Result};
use crate::params::Contexts;
use crate::runner::{FunctionRunner, Outputs};

/// One step, ready to run once its inputs are.
#[derive(Debug)]
pub(crate) struct Work {
    pub node: Arc<str>,
    pub node_type: Arc<str>,
    pub function: Arc<str>,
    pub key: ContentKey,
    pub reason: super::Reason,
    pub quality_fallback: bool,
    pub outputs: Arc<[Arc<str>]>,
    /// Params with data-node inputs filled in; references to other steps'
    /// outputs (`{"node", "port"}`) are filled in when those finish.
    pub params: Map<String, Value>,
    /// Params that are exactly an input, filled when the step runs.
    pub inputs: Vec<InputParam>,
    /// Some template nests an input reference: fill by walking the params.
    pub nested_inputs: bool,
}

/// Which steps wait for which, both ways, as tables rather than two lists
/// per step.
#[derive(Debug, Default)]
pub(crate) struct Links {
    /// Step `i` waits for `after[after_at[i]..after_at[i + 1]]`.
    after_at: Vec<usize>,
    after: Vec<usize>,
    /// Step `i` feeds `dependents[dependents_at[i]..dependents_at[i + 1]]`.
    dependents_at: Vec<usize>,
    dependents: Vec<usize>,
}

impl Links {
    pub fn of(plan: &Plan) -> Links {
        let n = plan.steps.len();
        let mut after_at = Vec::with_capacity(n + 1);
        let mut after = Vec::new();
        let mut fed = vec![0usize; n + 1];
        after_at.push(0);
        for i in 0..n {
            for &a in plan.after(i) {
                after.push(a);
                fed[a + 1] += 1;
            }
            after_at.push(after.len());
        }
        // Counting sort by the step fed from: dependents come out in step order.
        for i in 0..n {
            fed[i + 1] += fed[i];
        }
        let dependents_at = fed.clone();
        let mut dependents = vec![0; after.len()];
        for i in 0..n {
            for &a in &after[after_at[i]..after_at[i + 1]] {
                dependents[fed[a]] = i;
                fed[a] += 1;
            }
        }
        Links {
            after_at,
            after,
            dependents_at,
            dependents,
        }
    }

    /// The steps whose outputs step `i` reads.
    pub fn after(&self, i: usize) -> &[usize] {
        &self.after[self.after_at[i]..self.after_at[i + 1]]
    }

    /// The steps that read step `i`'s outputs.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.dependents[self.dependents_at[i]..self.dependents_at[i + 1]]
    }
}

/// Refuses before anything runs if the canvas has validation errors in the
/// nodes the plan needs, or a function is unknown to the runner.
pub(crate) fn check(
    canvas: &Canvas,
    plan: &Plan,
    targets: &[String],
    runner: &dyn FunctionRunner,
) -> Result<()> {
    check_valid(canvas, plan, targets)?;
    check_functions(plan, runner)
}

/// Builds the work of every step of `plan`; params only where `runs` says
/// the step will run (a cached step needs none).
pub(crate) fn prepare(canvas: &Canvas, plan: &Plan, runs: &[bool]) -> Result<Vec<Work>> {
    // Which step each graph slot is, and where nodes and edges stand:
    // tables for a big run, lookups for a small one.
    let mut step_at = vec![NO_STEP; canvas.graph.inner().node_bound()];
    for (i, step) in plan.steps.iter().enumerate() {
        step_at[step.ix.index()] = i;
    }
    let running = runs.iter().filter(|r| **r).count();
    let (order, entries) = if running > 64 {
        (
            EdgeOrder::Table(canvas.edge_positions()),
            canvas.entries_by_slot(),
        )
    } else {
        (EdgeOrder::Lookup(canvas), Vec::new())
    };
    let entry_at = |ix: NodeIndex| match entries.get(ix.index()) {
        Some(Some(found)) => *found,
        _ => canvas.entry_at(ix),
    };
    let mut contexts = Contexts::new(canvas);
    let mut records = Records(vec![None; step_at.len()]);
    let mut works: Vec<Work> = Vec::with_capacity(plan.steps.len());
    for (i, step) in plan.steps.iter().enumerate() {
        if !runs[i] {
            works.push(Work::idle(step));
            continue;
        }
        let (id, entry) = entry_at(step.ix);
        let (spec, task, mut params) =
            canvas.task_params_of(id, entry, plan.quality, true, &mut contexts)?;
        // Params that are exactly an input get their values when the step
        // runs; inputs nested deeper stay `{"node", "port"}` references and
        // are filled by a walk over the params.
        let mut inputs = Vec::new();
        let mut nested = false;
        for (name, template) in &task.params {
            match template {
                Template::Input(port) => inputs.push(InputParam {
                    name: name.clone(),
                    multiple: spec.input(port).is_some_and(|p| p.multiple),
                    sources: sources(canvas, entry.ix, port, &step_at, &order, &mut records),
                }),
                other => nested |= mentions_input(other),
            }
        }
        if nested {
            let records: Vec<(&str, Outputs)> = canvas
                .graph
                .inner()
                .edges_directed(entry.ix, Direction::Incoming)
                .filter_map(|e| {
                    if step_at[e.source().index()] != NO_STEP {
                        return None;
                    }
                    let source = &*canvas.graph[e.source()];
                    let record = Value::clone(&records.of(canvas, e.source()));
                    Some((
                        source,
                        Outputs::from_iter([(e.weight().source_port.to_string(), record)]),
                    ))
                })
                .collect();
            let sources: Vec<(&str, &Outputs)> = records
                .iter()
                .map(|(node, record)| (*node, record))
                .collect();
            fill(&mut params, &sources);
        }
        works.push(Work {
            node: step.node.clone(),
            node_type: spec.type_name.clone(),
            function: step.function.clone(),
            key: step.key,
            reason: step.reason,
            quality_fallback: task.quality_fallback,
            outputs: step.outputs.clone(),
            params,
            inputs,
            nested_inputs: nested,
        });
    }
    Ok(works)
}

impl Work {
    /// A step that will not run: cached or not needed.
    fn idle(step: &super::Step) -> Work {
        Work {
            node: step.node.clone(),
            node_type: step.function.clone(),
            function: step.function.clone(),
            key: step.key,
            reason: step.reason,
            quality_fallback: false,
            outputs: step.outputs.clone(),
            params: Map::new(),
            inputs: Vec::new(),
            nested_inputs: false,
        }
    }
}

/// A param that is one input port: one value, or a list for a `multiple` input.
#[derive(Debug)]
pub(crate) struct InputParam {
    pub name: String,
    pub multiple: bool,
    /// What arrives on the port, in canvas order.
    pub sources: Vec<Source>,
}

/// One edge's worth of input.
#[derive(Debug)]
pub(crate) enum Source {
    /// An output of another step, known when it finishes.
    Step { step: usize, port: Arc<str> },
    /// A data node's record, known now (shared by the steps it feeds).
    Value(Arc<Value>),
}

impl InputParam {
    /// The param's value from the outputs of finished steps.
    pub fn value(&self, outputs: &[Option<Arc<Outputs>>]) -> Value {
        if self.sources.is_empty() {
            return Value::Null;
        }
        let mut values = self.sources.iter().map(|source| match source {
            Source::Step { step, port } => outputs[*step]
                .as_ref()
                .and_then(|o| o.get(&**port))
                .cloned()
                .unwrap_or(Value::Null),
            Source::Value(value) => Value::clone(value),
        });
        if self.multiple {
            Value::Array(values.collect())
        } else {
            values.next().unwrap_or(Value::Null)
        }
    }
}

/// The sources of `port` on node `ix`, in canvas order.
fn sources(
    canvas: &Canvas,
    ix: NodeIndex,
    port: &str,
    step_at: &[usize],
    order: &EdgeOrder<'_>,
    records: &mut Records,
) -> Vec<Source> {
    let mut edges: Vec<_> = canvas
        .graph
        .inner()
        .edges_directed(ix, Direction::Incoming)
        .filter(|e| &*e.weight().target_port == port)
        .collect();
    if edges.len() > 1 {
        edges.sort_by_cached_key(|e| order.position(e.id(), e.weight()));
    }
    edges
        .into_iter()
        .map(|e| match step_at[e.source().index()] {
            NO_STEP => Source::Value(records.of(canvas, e.source())),
            step => Source::Step {
                step,
                port: e.weight().source_port.clone(),
            },
        })
        .collect()
}

/// In `step_at`: the node is not a step of the plan (a data node).
const NO_STEP: usize = usize::MAX;

/// Whether a template reads an input anywhere inside it.
fn mentions_input(template: &Template) -> bool {
    match template {
        Template::Input(_) => true,
        Template::Object(fields) => fields.values().any(mentions_input),
        Template::List(items) => items.iter().any(mentions_input),
        Template::IfSet(cond) => mentions_input(&cond.then),
        Template::Value(_)
        | Template::Property(_)
        | Template::Quality(_)
        | Template::Context(_)
        | Template::Template(_) => false,
    }
}

/// What each data node hands to the tasks it feeds, by graph slot: built
/// once per run, however many steps read it.
struct Records(Vec<Option<Arc<Value>>>);

impl Records {
    /// The record of the node at `ix`: its properties, id and type.
    fn of(&mut self, canvas: &Canvas, ix: NodeIndex) -> Arc<Value> {
        self.0[ix.index()]
            .get_or_insert_with(|| {
                let (node, entry) = canvas.entry_at(ix);
                let mut record = entry.properties.to_map();
                record.insert("node".into(), Value::String(node.to_string()));
                record.insert("type".into(), Value::String(entry.type_name.to_string()));
                if let Some(label) = &entry.label {
                    record.insert("label".into(), Value::String(label.to_string()));
                }
                Arc::new(Value::Object(record))
            })
            .clone()
    }
}

/// Replaces every input reference `{"node": n, "port": p}` in `params` with
/// what `n` produced on `p`, in one walk over the params.
pub(crate) fn fill(params: &mut Map<String, Value>, sources: &[(&str, &Outputs)]) {
    for v in params.values_mut() {
        fill_value(v, sources);
    }
}

fn fill_value(v: &mut Value, sources: &[(&str, &Outputs)]) {
    match v {
        Value::Object(map) => {
            if let Some(value) = referenced(map, sources) {
                *v = value.clone();
            } else {
                for inner in map.values_mut() {
                    fill_value(inner, sources);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                fill_value(item, sources);
            }
        }
        _ => {}
    }
}

/// The value an input reference stands for, if `map` is one.
fn referenced<'a>(map: &Map<String, Value>, sources: &[(&str, &'a Outputs)]) -> Option<&'a Value> {
    if map.len() != 2 {
        return None;
    }
    let node = map.get("node")?.as_str()?;
    let port = map.get("port")?.as_str()?;
    let (_, outputs) = sources.iter().find(|(n, _)| *n == node)?;
    outputs.get(port)
}

/// Validation errors about nodes the plan needs (or about the canvas as a
/// whole) stop the run; errors elsewhere do not block a partial run.
fn check_valid(canvas: &Canvas, plan: &Plan, targets: &[String]) -> Result<()> {
    let mut report = canvas.validate();
    if report.valid {
        return Ok(());
    }
    if !targets.is_empty() {
        let needed = plan_nodes(canvas, targets);
        report.diagnostics.retain(|d| {
            d.severity != crate::report::Severity::Error
                || d.node.as_ref().is_none_or(|n| needed.contains(n.as_str()))
        });
        report.errors = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::report::Severity::Error)
            .count();
        if report.errors == 0 {
            return Ok(());
        }
        report.valid = false;
    }
    Err(Error::InvalidCanvas {
        canvas: plan.canvas_id.clone(),
        report: Box::new(report),
    })
}

/// Ids of the targets and everything upstream of them.
fn plan_nodes<'c>(canvas: &'c Canvas, targets: &[String]) -> std::collections::HashSet<&'c str> {
    let mut needed = std::collections::HashSet::new();
    let mut stack: Vec<_> = targets
        .iter()
        .filter_map(|t| canvas.entry(t).map(|e| e.ix))
        .collect();
    while let Some(ix) = stack.pop() {
        if needed.insert(&**canvas.entry_at(ix).0) {
            stack.extend(
                canvas
                    .graph
                    .inner()
                    .neighbors_directed(ix, Direction::Incoming),
            );
        }
    }
    needed
}

fn check_functions(plan: &Plan, runner: &dyn FunctionRunner) -> Result<()> {
    let mut unknown: Vec<(&str, Vec<String>)> = Vec::new();
    for step in &plan.steps {
        if runner.knows(&step.function) {
            continue;
        }
        match unknown.iter_mut().find(|(f, _)| *f == &*step.function) {
            Some((_, nodes)) => nodes.push(step.node.to_string()),
            None => unknown.push((&step.function, vec![step.node.to_string()])),
        }
    }
    match unknown.into_iter().next() {
        None => Ok(()),
        Some((function, nodes)) => Err(Error::UnknownFunction {
            function: function.to_owned(),
            nodes,
            known: runner.known_functions().unwrap_or_default(),
        }),
    }
}
