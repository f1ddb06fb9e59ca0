//! Whole-canvas validation: everything that keeps a canvas from running, and
//! story-structure advice, as a list of diagnostics.

mod spec_tables;
mod structure;

use std::sync::Arc;

use petgraph::Direction;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::{EdgeRef, NodeIndexable};
use serde_json::Value;

pub use crate::limits::{DEFAULT_MAX_ITEMS, DEFAULT_MAX_TEXT_BYTES, MAX_VALUE_DEPTH};

use crate::canvas::{Canvas, Detached, Link, NodeEntry};
use crate::catalog::{NodeTypeSpec, PropertyIndex, check_value};
use crate::error::Error;
use crate::model::same_value;
use crate::report::{Diagnostic, Report, Severity};
use spec_tables::{SpecId, SpecTables};

impl Diagnostic {
    fn from_error(e: &Error) -> Self {
        Diagnostic::new(Severity::Error, e.code(), e.to_string(), e.hint())
    }
}

impl Canvas {
    /// Checks the whole canvas: unknown types and versions, property values,
    /// required properties and inputs, edges that no longer fit, dangling and
    /// cycle-closing edges from loaded documents, groups, and (as warnings)
    /// story structure.
    ///
    /// ```
    /// use reelgraph::{Canvas, Catalog, Op};
    /// use serde_json::json;
    ///
    /// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
    /// canvas.apply(vec![Op::add_node("fx", "effect", json!({"effect": "blur"}))]).unwrap();
    /// let report = canvas.validate();
    /// assert!(!report.valid);
    /// assert_eq!(report.diagnostics[0].code, "required_input_missing");
    /// ```
    pub fn validate(&self) -> Report {
        // Ids and specs by graph slot: every lookup below is an array index,
        // not a hash, and reads no node entry (an edge's source is anywhere).
        let mut tables = SpecTables::new(self.catalog());
        let mut by_slot: Vec<Option<Source<'_>>> = vec![None; self.graph.inner().node_bound()];
        for (id, entry) in self.entries() {
            let spec = entry.spec.as_deref().map(|s| (s, tables.id(s)));
            by_slot[entry.ix.index()] = Some((id, spec));
        }
        let mut out = Vec::new();
        let mut edge_findings = Vec::new();
        self.check_nodes(&by_slot, &tables, &mut out, &mut edge_findings);
        // Edge findings in canvas order, as if the edges had been walked in order.
        edge_findings.sort_by_key(|(position, _)| *position);
        out.extend(edge_findings.into_iter().map(|(_, d)| d));
        self.check_detached(&mut out);
        self.check_groups(&mut out);
        structure::check(self, &mut out);
        Report::from_diagnostics(out)
    }

    fn check_nodes(
        &self,
        by_slot: &[Option<Source<'_>>],
        tables: &SpecTables<'_>,
        out: &mut Vec<Diagnostic>,
        edge_findings: &mut Vec<(usize, Diagnostic)>,
    ) {
        // One buffer for every node's incoming edges.
        let mut incoming: Vec<Arrival<'_>> = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut keys: Vec<(NodeIndex, &str, &str)> = Vec::new();
        for (id, entry) in self.entries() {
            // A node without a spec is reported as `spec_of` explains it.
            let Some((_, Some((spec, spec_id)))) = by_slot[entry.ix.index()] else {
                if let Err(e) = self.spec_of(id, entry) {
                    out.push(Diagnostic::from_error(&e).node(id));
                }
                continue;
            };
            let table = tables.table(spec_id);
            // Values an op checked have known names; with no conditions in
            // the spec none can be ignored, so there is nothing to find and
            // the values need not be read.
            let nothing_to_find = entry.values_checked && !table.conditional;
            if !nothing_to_find {
                check_values(id, spec, &table.index, entry, out);
            }
            for &at in &table.required {
                let prop = &spec.properties[at];
                let missing = match entry.properties.get(&prop.name) {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.trim().is_empty(),
                    Some(_) => false,
                };
                if missing && applies(spec, &table.index, entry, at) {
                    out.push(
                        Diagnostic::new(
                            Severity::Error,
                            "property_invalid",
                            format!(
                                "required property `{}` of node `{id}` is not set",
                                prop.name
                            ),
                            format!("set `{}`", prop.name),
                        )
                        .node(id)
                        .property(&prop.name),
                    );
                }
            }
            incoming.clear();
            // Each edge's input once, by its place in the spec: the checks
            // below then compare small numbers, not port names.
            incoming.extend(
                self.graph
                    .inner()
                    .edges_directed(entry.ix, Direction::Incoming)
                    .map(|e| {
                        let link = e.weight();
                        (e.source(), link, spec.input_position(&link.target_port))
                    }),
            );
            counts.clear();
            counts.resize(spec.inputs.len(), 0);
            let mut unknown = 0;
            for (_, _, input) in &incoming {
                match input {
                    Some(at) => counts[*at] += 1,
                    None => unknown += 1,
                }
            }
            // Two edges with the same ports share an input (or an unknown
            // port): when each is used once there are no duplicates.
            let shared = unknown > 1 || counts.iter().any(|c| *c > 1);
            let mut crowded = shared && has_duplicates(&incoming, &mut keys);
            for (input, &count) in spec.inputs.iter().zip(&counts) {
                crowded |= count > 1 && !input.multiple;
                if input.required && count == 0 {
                    let accepted = self.catalog().accepted_types(input).join(" | ");
                    out.push(
                        Diagnostic::new(
                            Severity::Error,
                            "required_input_missing",
                            format!(
                                "required input `{}` of node `{id}` is not connected",
                                input.name
                            ),
                            format!("connect an output of type {accepted}"),
                        )
                        .node(id)
                        .port(&input.name),
                    );
                }
            }
            let target = (&**id, spec, spec_id);
            self.check_incoming(
                target,
                &mut incoming,
                crowded,
                by_slot,
                tables,
                edge_findings,
            );
        }
    }

    /// The edges arriving at one node: ports that exist, types that fit, no
    /// duplicates, one edge per single input. Canvas positions (a hash lookup)
    /// are only needed where two edges compete for one input, which is rare.
    fn check_incoming<'a>(
        &'a self,
        (tgt_id, tgt_spec, tgt_spec_id): (&str, &NodeTypeSpec, SpecId),
        incoming: &mut [Arrival<'a>],
        crowded: bool,
        by_slot: &[Option<Source<'_>>],
        tables: &SpecTables<'_>,
        findings: &mut Vec<(usize, Diagnostic)>,
    ) {
        let position = |link: &Link| self.edge_position(&link.id);
        if crowded {
            // "First" and "second" edge mean canvas order.
            incoming.sort_by_cached_key(|(_, link, _)| position(link));
        }
        let mut seen: Vec<(NodeIndex, &str, &str, &str)> = Vec::new();
        for &mut (source, link, input_at) in incoming {
            let Some((src_id, src_spec)) = by_slot[source.index()] else {
                continue;
            };
            if crowded
                && let Some((_, _, _, first)) = seen.iter().find(|(s, sp, tp, _)| {
                    *s == source && *sp == &*link.source_port && *tp == &*link.target_port
                })
            {
                findings.push((
                    position(link),
                    Diagnostic::new(
                        Severity::Error,
                        "duplicate_edge",
                        format!("edges `{first}` and `{}` connect the same ports", link.id),
                        format!("disconnect `{}`", link.id),
                    )
                    .edge(&link.id),
                ));
                continue;
            }
            // Nodes without a spec are already reported; their edges cannot be judged.
            let Some((src_spec, src_spec_id)) = src_spec else {
                continue;
            };
            let output_at = src_spec.output_position(&link.source_port);
            let (Some(output_at), Some(input_at)) = (output_at, input_at) else {
                let (node, port, dir) = if output_at.is_none() {
                    (&**src_id, &link.source_port, "output")
                } else {
                    (tgt_id, &link.target_port, "input")
                };
                findings.push((
                    position(link),
                    Diagnostic::new(
                        Severity::Error,
                        "unknown_port",
                        format!(
                            "edge `{}` uses {dir} port `{port}`, which node `{node}` does not have",
                            link.id
                        ),
                        "disconnect the edge; the node type no longer has this port",
                    )
                    .edge(&link.id)
                    .node(node)
                    .port(port),
                ));
                continue;
            };
            let (output, input) = (&src_spec.outputs[output_at], &tgt_spec.inputs[input_at]);
            if !tables.accepts(src_spec_id, output_at, tgt_spec_id, input_at) {
                findings.push((
                    position(link),
                    Diagnostic::new(
                        Severity::Error,
                        "type_mismatch",
                        format!(
                            "edge `{}` carries `{}` into `{tgt_id}.{}`, which accepts {}",
                            link.id,
                            output.data_type,
                            input.name,
                            self.catalog().accepted_types(input).join(" | ")
                        ),
                        "disconnect it, or connect an output of an accepted type",
                    )
                    .edge(&link.id)
                    .node(tgt_id)
                    .port(&input.name),
                ));
            }
            if crowded
                && !input.multiple
                && let Some((_, _, _, first)) =
                    seen.iter().find(|(_, _, tp, _)| *tp == &*link.target_port)
            {
                findings.push((
                    position(link),
                    Diagnostic::new(
                        Severity::Error,
                        "input_occupied",
                        format!(
                            "input `{tgt_id}.{}` takes one edge but has `{first}` and `{}`",
                            input.name, link.id
                        ),
                        format!("disconnect `{}` or `{first}`", link.id),
                    )
                    .edge(&link.id)
                    .node(tgt_id)
                    .port(&input.name),
                ));
            }
            if crowded {
                seen.push((source, &link.source_port, &link.target_port, &link.id));
            }
        }
    }

    fn check_detached(&self, out: &mut Vec<Diagnostic>) {
        for (edge, why) in self.detached_edges() {
            let d = match why {
                Detached::Dangling => {
                    let missing: Vec<&str> = [&edge.source.node, &edge.target.node]
                        .into_iter()
                        .filter(|n| self.entry(n).is_none())
                        .map(String::as_str)
                        .collect();
                    let message = if missing.is_empty() {
                        format!(
                            "edge `{}` was kept aside because a node it names was missing; both exist now",
                            edge.id
                        )
                    } else {
                        format!(
                            "edge `{}` refers to node `{}`, which does not exist",
                            edge.id,
                            missing.join("` and `")
                        )
                    };
                    Diagnostic::new(
                        Severity::Error,
                        "dangling_edge",
                        message,
                        "disconnect the edge, then connect the nodes again if they belong together",
                    )
                }
                Detached::SelfLoop => Diagnostic::new(
                    Severity::Error,
                    "self_loop",
                    format!(
                        "edge `{}` connects node `{}` to itself",
                        edge.id, edge.source.node
                    ),
                    "disconnect the edge",
                )
                .node(&edge.source.node),
                Detached::Cycle => Diagnostic::new(
                    Severity::Error,
                    "cycle",
                    format!(
                        "edge `{}` from `{}` to `{}` was kept aside because it closed a cycle",
                        edge.id, edge.source.node, edge.target.node
                    ),
                    "disconnect the edge; a canvas must be acyclic to run (connect again once the loop is gone)",
                ),
            };
            out.push(d.edge(&edge.id));
        }
    }

    fn check_groups(&self, out: &mut Vec<Diagnostic>) {
        for group in self.groups() {
            for node in group.nodes.iter().filter(|n| self.entry(n).is_none()) {
                out.push(Diagnostic::new(
                    Severity::Warning,
                    "dangling_group_member",
                    format!(
                        "group `{}` lists node `{node}`, which does not exist",
                        group.id
                    ),
                    "remove the node from the group",
                ));
            }
        }
    }
}

/// A node's values: names the spec knows, values that fit, and (as
/// warnings) values set where they do not apply.
fn check_values(
    id: &Arc<str>,
    spec: &NodeTypeSpec,
    index: &PropertyIndex,
    entry: &NodeEntry,
    out: &mut Vec<Diagnostic>,
) {
    for (name, value) in entry.properties.iter() {
        let Some(at) = spec.property_position(name) else {
            let e = Error::UnknownProperty {
                type_name: spec.type_name.to_string(),
                property: name.into(),
                known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
            };
            out.push(Diagnostic::from_error(&e).node(id).property(name));
            continue;
        };
        let prop = &spec.properties[at];
        if value.is_null() {
            continue;
        }
        let checked = if entry.values_checked {
            Ok(())
        } else {
            check_value(id, name, prop, value)
        };
        if let Err(e) = checked {
            out.push(Diagnostic::from_error(&e).node(id).property(name));
        } else if ignored(spec, index, entry, at, value) {
            out.push(ignored_diagnostic(id, name));
        }
    }
}

/// A set value that does not apply and is not the default.
fn ignored(
    spec: &NodeTypeSpec,
    index: &PropertyIndex,
    entry: &NodeEntry,
    at: usize,
    value: &Value,
) -> bool {
    let prop = &spec.properties[at];
    !applies(spec, index, entry, at) && !prop.default.as_ref().is_some_and(|d| same_value(d, value))
}

fn ignored_diagnostic(id: &str, name: &str) -> Diagnostic {
    Diagnostic::new(
        Severity::Warning,
        "property_ignored",
        format!(
            "property `{name}` of node `{id}` does not apply with the current settings and is ignored"
        ),
        "remove it, or change the setting it depends on",
    )
    .node(id)
    .property(name)
}

/// Whether the property at `at` applies with the node's values: what
/// `property_applies` answers, with each condition's parent by position.
fn applies(spec: &NodeTypeSpec, index: &PropertyIndex, entry: &NodeEntry, at: usize) -> bool {
    index.applies(spec, at, |p| entry.properties.get(&spec.properties[p].name))
}

/// An edge's source as edge checks need it: its id and its spec (with its
/// tables), if known.
type Source<'c> = (&'c Arc<str>, Option<(&'c NodeTypeSpec, SpecId)>);

/// An edge arriving at a node: its source, its link, and the place of its
/// input in the node's spec (none when the spec has no such input).
type Arrival<'a> = (NodeIndex, &'a Link, Option<usize>);

/// Whether two edges arriving at one node connect the same ports; `keys`
/// is a buffer kept between nodes.
fn has_duplicates<'a>(
    incoming: &[Arrival<'a>],
    keys: &mut Vec<(NodeIndex, &'a str, &'a str)>,
) -> bool {
    if incoming.len() < 2 {
        return false;
    }
    // Most nodes have a few inputs: comparing pairs costs no allocation.
    if incoming.len() <= 8 {
        return incoming
            .iter()
            .enumerate()
            .any(|(i, a)| incoming[i + 1..].iter().any(|b| key(a) == key(b)));
    }
    keys.clear();
    keys.extend(incoming.iter().map(key));
    keys.sort_unstable();
    keys.windows(2).any(|pair| pair[0] == pair[1])
}

/// What makes two edges into one node the same: source and both ports.
fn key<'a>((source, link, _): &Arrival<'a>) -> (NodeIndex, &'a str, &'a str) {
    (*source, &link.source_port, &link.target_port)
}
