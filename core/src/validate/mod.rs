//! Whole-canvas validation: everything that keeps a canvas from running, and
//! story-structure advice, as a list of diagnostics.

mod structure;

use std::sync::Arc;

use petgraph::Direction;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::{EdgeRef, NodeIndexable};
use serde_json::Value;

pub use crate::limits::{DEFAULT_MAX_ITEMS, DEFAULT_MAX_TEXT_BYTES, MAX_VALUE_DEPTH};

use crate::canvas::{Canvas, Detached, Link, NodeEntry};
use crate::catalog::spec::same_name;
use crate::catalog::{NodeTypeSpec, check_value, property_applies};
use crate::error::Error;
use crate::model::same_value;
use crate::report::{Diagnostic, Report, Severity};

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
        let mut by_slot: Vec<Option<Source<'_>>> = vec![None; self.graph.inner().node_bound()];
        for (id, entry) in self.entries() {
            by_slot[entry.ix.index()] = Some((id, entry.spec.as_deref()));
        }
        let mut out = Vec::new();
        let mut edge_findings = Vec::new();
        self.check_nodes(&by_slot, &mut out, &mut edge_findings);
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
        out: &mut Vec<Diagnostic>,
        edge_findings: &mut Vec<(usize, Diagnostic)>,
    ) {
        // One buffer for every node's incoming edges.
        let mut incoming: Vec<(NodeIndex, &Link)> = Vec::new();
        let mut ports: Vec<Option<usize>> = Vec::new();
        let mut keys: Vec<(NodeIndex, &str, &str)> = Vec::new();
        for (id, entry) in self.entries() {
            let spec = match self.spec_of(id, entry) {
                Ok(spec) => spec,
                Err(e) => {
                    out.push(Diagnostic::from_error(&e).node(id));
                    continue;
                }
            };
            // Values an op checked have known names; with no conditions in
            // the spec none can be ignored, so there is nothing to find and
            // the values need not be read.
            let nothing_to_find =
                entry.values_checked && spec.properties.iter().all(|p| p.applies_when.is_none());
            if !nothing_to_find {
                check_values(id, spec, entry, out);
            }
            for prop in spec.properties.iter().filter(|p| p.required) {
                let missing = match entry.properties.get(&prop.name) {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) => s.trim().is_empty(),
                    Some(_) => false,
                };
                if missing && property_applies(spec, &entry.properties, prop) {
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
            incoming.extend(
                self.graph
                    .inner()
                    .edges_directed(entry.ix, Direction::Incoming)
                    .map(|e| (e.source(), e.weight())),
            );
            let mut crowded = has_duplicates(&incoming, &mut keys);
            // Each edge's input once, by its place in the spec: the loop
            // below then compares small numbers, not port names.
            ports.clear();
            ports.extend(incoming.iter().map(|(_, link)| {
                spec.inputs
                    .iter()
                    .position(|i| same_name(&i.name, &link.target_port))
            }));
            for (at, input) in spec.inputs.iter().enumerate() {
                let count = ports.iter().filter(|p| **p == Some(at)).count();
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
            self.check_incoming(id, spec, &mut incoming, crowded, by_slot, edge_findings);
        }
    }

    /// The edges arriving at one node: ports that exist, types that fit, no
    /// duplicates, one edge per single input. Canvas positions (a hash lookup)
    /// are only needed where two edges compete for one input, which is rare.
    fn check_incoming<'a>(
        &'a self,
        tgt_id: &str,
        tgt_spec: &NodeTypeSpec,
        incoming: &mut [(NodeIndex, &'a Link)],
        crowded: bool,
        by_slot: &[Option<Source<'_>>],
        findings: &mut Vec<(usize, Diagnostic)>,
    ) {
        let position = |link: &Link| self.edge_position(&link.id);
        if crowded {
            // "First" and "second" edge mean canvas order.
            incoming.sort_by_cached_key(|(_, link)| position(link));
        }
        let mut seen: Vec<(NodeIndex, &str, &str, &str)> = Vec::new();
        for &mut (source, link) in incoming {
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
            let Some(src_spec) = src_spec else {
                continue;
            };
            let output = src_spec.output(&link.source_port);
            let input = tgt_spec.input(&link.target_port);
            let (Some(output), Some(input)) = (output, input) else {
                let (node, port, dir) = if output.is_none() {
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
            if !self.catalog().accepts(input, &output.data_type) {
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
fn check_values(id: &Arc<str>, spec: &NodeTypeSpec, entry: &NodeEntry, out: &mut Vec<Diagnostic>) {
    for (name, value) in entry.properties.iter() {
        let Some(prop) = spec.property(name) else {
            let e = Error::UnknownProperty {
                type_name: spec.type_name.to_string(),
                property: name.into(),
                known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
            };
            out.push(Diagnostic::from_error(&e).node(id).property(name));
            continue;
        };
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
        } else if !property_applies(spec, &entry.properties, prop)
            && !prop.default.as_ref().is_some_and(|d| same_value(d, value))
        {
            out.push(
                Diagnostic::new(
                    Severity::Warning,
                    "property_ignored",
                    format!("property `{name}` of node `{id}` does not apply with the current settings and is ignored"),
                    "remove it, or change the setting it depends on",
                )
                .node(id)
                .property(name),
            );
        }
    }
}

/// An edge's source as edge checks need it: its id and its spec, if known.
type Source<'c> = (&'c Arc<str>, Option<&'c NodeTypeSpec>);

/// Whether two edges arriving at one node connect the same ports; `keys`
/// is a buffer kept between nodes.
fn has_duplicates<'a>(
    incoming: &[(NodeIndex, &'a Link)],
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
fn key<'a>((source, link): &(NodeIndex, &'a Link)) -> (NodeIndex, &'a str, &'a str) {
    (*source, &link.source_port, &link.target_port)
}
