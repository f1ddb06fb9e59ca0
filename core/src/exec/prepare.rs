//! Turning a plan into owned work: each step's params with data-node inputs
//! filled in, and the links between steps. Done once, synchronously, so a
//! run no longer needs the canvas.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::plan::Plan;
use crate::canvas::Canvas;
use crate::error::{Error, Result};
use crate::exec::ContentKey;
use crate::runner::FunctionRunner;

/// One step, ready to run once its inputs are.
#[derive(Debug)]
pub(crate) struct Work {
    pub node: Arc<str>,
    pub node_type: Arc<str>,
    pub function: Arc<str>,
    pub key: ContentKey,
    pub reason: super::Reason,
    pub quality_fallback: bool,
    pub outputs: Vec<Arc<str>>,
    /// Params with data-node inputs filled in; references to other steps'
    /// outputs (`{"node", "port"}`) are filled in when those finish.
    pub params: Map<String, Value>,
    /// Steps whose outputs this one reads.
    pub after: Vec<usize>,
    pub dependents: Vec<usize>,
    pub target: bool,
}

/// Builds the work of every step of `plan`, refusing before anything runs if
/// the canvas has validation errors in the nodes the plan needs, or a
/// function is unknown to the runner.
pub(crate) fn prepare(
    canvas: &Canvas,
    plan: &Plan,
    targets: &[String],
    runner: &dyn FunctionRunner,
) -> Result<Vec<Work>> {
    check_valid(canvas, plan, targets)?;
    check_functions(plan, runner)?;
    let step_of: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (&*s.node, i))
        .collect();
    let mut works: Vec<Work> = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let preview = canvas.task_preview(&step.node, plan.quality)?;
        let mut params = preview.params;
        // Inputs from data nodes are known now: their record.
        for refs in preview.inputs.values() {
            for source in refs {
                if step_of.contains_key(source.node.as_str()) {
                    continue;
                }
                if let Some(record) = data_record(canvas, &source.node) {
                    fill(&mut params, &source.node, &source.port, &record);
                }
            }
        }
        let entry = canvas.entry(&step.node);
        let outputs = entry
            .and_then(|e| e.spec.as_ref())
            .map(|spec| spec.outputs.iter().map(|o| o.name.clone()).collect())
            .unwrap_or_default();
        works.push(Work {
            node: step.node.clone(),
            node_type: Arc::from(preview.node_type.as_str()),
            function: step.function.clone(),
            key: step.key,
            reason: step.reason,
            quality_fallback: preview.quality_fallback,
            outputs,
            params,
            after: step.after.clone(),
            dependents: Vec::new(),
            target: targets.is_empty() || targets.iter().any(|t| *t == *step.node),
        });
    }
    for i in 0..works.len() {
        for a in works[i].after.clone() {
            works[a].dependents.push(i);
        }
    }
    Ok(works)
}

/// What a data node hands to the tasks it feeds: its properties, id and type.
fn data_record(canvas: &Canvas, node: &str) -> Option<Value> {
    let entry = canvas.entry(node)?;
    let mut record = entry.properties.to_map();
    record.insert("node".into(), Value::String(node.to_owned()));
    record.insert("type".into(), Value::String(entry.type_name.to_string()));
    if let Some(label) = &entry.label {
        record.insert("label".into(), Value::String(label.to_string()));
    }
    Some(Value::Object(record))
}

/// Replaces every reference `{"node": node, "port": port}` in `params` with `value`.
pub(crate) fn fill(params: &mut Map<String, Value>, node: &str, port: &str, value: &Value) {
    for v in params.values_mut() {
        fill_value(v, node, port, value);
    }
}

fn fill_value(v: &mut Value, node: &str, port: &str, value: &Value) {
    match v {
        Value::Object(map) => {
            if is_reference(map, node, port) {
                *v = value.clone();
            } else {
                for inner in map.values_mut() {
                    fill_value(inner, node, port, value);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                fill_value(item, node, port, value);
            }
        }
        _ => {}
    }
}

fn is_reference(map: &Map<String, Value>, node: &str, port: &str) -> bool {
    map.len() == 2
        && map.get("node").and_then(Value::as_str) == Some(node)
        && map.get("port").and_then(Value::as_str) == Some(port)
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
            d.severity != crate::validate::Severity::Error
                || d.node.as_ref().is_none_or(|n| needed.contains(n.as_str()))
        });
        report.errors = report
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::validate::Severity::Error)
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
                    .neighbors_directed(ix, petgraph::Direction::Incoming),
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
            known: Vec::new(),
        }),
    }
}
