//! Connection rules, checked in a fixed order so each rejection has one code:
//! unknown_node, self_loop, unknown_port, type_mismatch, duplicate_edge,
//! input_occupied, cycle.

use std::sync::Arc;

use petgraph::stable_graph::NodeIndex;

use super::Canvas;
use super::reach::closes_cycle;
use crate::error::{Error, Result};
use crate::model::PortRef;

/// The resolved ends of a connection that passed every check but the cycle check.
#[derive(Debug)]
pub(super) struct Ends {
    pub source: NodeIndex,
    pub target: NodeIndex,
    pub source_port: Arc<str>,
    pub target_port: Arc<str>,
}

impl Canvas {
    /// Whether `source → target` would be accepted, without changing anything
    /// (editors call this while a wire hovers over a port). `Ok(())` means a
    /// `connect` would succeed; the error is the one `connect` would give.
    ///
    /// ```
    /// use reelgraph::{Canvas, Catalog, Op, PortRef};
    /// use serde_json::json;
    ///
    /// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
    /// canvas.apply(vec![
    ///     Op::add_node("hero", "character", json!({"name": "Mara"})),
    ///     Op::add_node("img", "image_gen", json!({})),
    /// ]).unwrap();
    /// let err = canvas
    ///     .can_connect(&PortRef::new("hero", "character"), &PortRef::new("img", "reference"))
    ///     .unwrap_err();
    /// assert_eq!(err.code(), "type_mismatch");
    /// ```
    pub fn can_connect(&self, source: &PortRef, target: &PortRef) -> Result<()> {
        let ends = self.check_ends(source, target)?;
        if closes_cycle(&self.graph, ends.source, ends.target) {
            Err(cycle(source, target))
        } else {
            Ok(())
        }
    }

    /// Every check but the cycle check, which `connect` makes after its id checks.
    pub(super) fn check_ends(&self, source: &PortRef, target: &PortRef) -> Result<Ends> {
        let src = self
            .nodes
            .get(&*source.node)
            .ok_or_else(|| Error::UnknownNode {
                node: source.node.clone(),
            })?;
        let tgt = self
            .nodes
            .get(&*target.node)
            .ok_or_else(|| Error::UnknownNode {
                node: target.node.clone(),
            })?;
        if source.node == target.node {
            return Err(Error::SelfLoop {
                node: source.node.clone(),
            });
        }
        let src_spec = self.spec_of(&source.node, src)?;
        let tgt_spec = self.spec_of(&target.node, tgt)?;
        let output = src_spec
            .output(&source.port)
            .ok_or_else(|| Error::UnknownPort {
                node: source.node.clone(),
                type_name: src_spec.type_name.to_string(),
                direction: "output",
                port: source.port.clone(),
                available: src_spec
                    .outputs
                    .iter()
                    .map(|p| p.name.to_string())
                    .collect(),
            })?;
        let input = tgt_spec
            .input(&target.port)
            .ok_or_else(|| Error::UnknownPort {
                node: target.node.clone(),
                type_name: tgt_spec.type_name.to_string(),
                direction: "input",
                port: target.port.clone(),
                available: tgt_spec.inputs.iter().map(|p| p.name.to_string()).collect(),
            })?;
        if !self.catalog.accepts(input, &output.data_type) {
            return Err(Error::TypeMismatch {
                source_node: source.node.clone(),
                source_port: source.port.clone(),
                given: output.data_type.to_string(),
                target_node: target.node.clone(),
                target_port: target.port.clone(),
                accepted: self.catalog.accepted_types(input),
            });
        }
        for edge in self
            .graph
            .inner()
            .edges_directed(tgt.ix, petgraph::Direction::Incoming)
        {
            use petgraph::visit::EdgeRef;
            let link = edge.weight();
            if *link.target_port != *input.name {
                continue;
            }
            if edge.source() == src.ix && *link.source_port == *output.name {
                return Err(Error::DuplicateEdge {
                    existing: link.id.to_string(),
                });
            }
            if !input.multiple {
                return Err(Error::InputOccupied {
                    node: target.node.clone(),
                    port: target.port.clone(),
                    existing: link.id.to_string(),
                });
            }
        }
        Ok(Ends {
            source: src.ix,
            target: tgt.ix,
            source_port: output.name.clone(),
            target_port: input.name.clone(),
        })
    }
}

pub(super) fn cycle(source: &PortRef, target: &PortRef) -> Error {
    Error::Cycle {
        source_node: source.node.clone(),
        target_node: target.node.clone(),
    }
}
