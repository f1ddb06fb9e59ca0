//! Group ops: add, replace and remove a group of nodes.

use std::collections::HashSet;

use serde_json::Value;

use super::super::Canvas;
use super::journal::Undo;
use super::node_ops::check_label;
use crate::error::{Error, Result};
use crate::limits::check_ui;
use crate::model::{Group, check_id};
use crate::ops::Op;

impl Canvas {
    pub(super) fn add_group(
        &mut self,
        id: &str,
        index: Option<usize>,
        label: &Option<String>,
        nodes: &[String],
        ui: &Option<Value>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        check_id(id)?;
        if self.groups.contains_key(id) {
            return Err(Error::DuplicateId {
                kind: "group",
                id: id.to_owned(),
            });
        }
        let group = self.checked_group(id, label, nodes, ui)?;
        let at = index.unwrap_or(self.groups.len()).min(self.groups.len());
        self.groups.shift_insert(at, id.to_owned(), group);
        journal.push(Undo::GroupAdded(id.to_owned()));
        Ok(Op::RemoveGroup { id: id.to_owned() })
    }

    pub(super) fn set_group(
        &mut self,
        id: &str,
        label: &Option<String>,
        nodes: &[String],
        ui: &Option<Value>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        let Some(old) = self.groups.get(id).cloned() else {
            return Err(Error::UnknownGroup {
                group: id.to_owned(),
            });
        };
        let group = self.checked_group(id, label, nodes, ui)?;
        self.groups.insert(id.to_owned(), group);
        let inverse = Op::SetGroup {
            id: id.to_owned(),
            label: old.label.clone(),
            nodes: old.nodes.clone(),
            ui: old.ui.clone(),
        };
        journal.push(Undo::GroupChanged(old));
        Ok(inverse)
    }

    pub(super) fn remove_group(&mut self, id: &str, journal: &mut Vec<Undo>) -> Result<Op> {
        let Some((index, _, group)) = self.groups.shift_remove_full(id) else {
            return Err(Error::UnknownGroup {
                group: id.to_owned(),
            });
        };
        let inverse = Op::AddGroup {
            id: group.id.clone(),
            index: Some(index),
            label: group.label.clone(),
            nodes: group.nodes.clone(),
            ui: group.ui.clone(),
        };
        journal.push(Undo::GroupRemoved { index, group });
        Ok(inverse)
    }

    fn checked_group(
        &self,
        id: &str,
        label: &Option<String>,
        nodes: &[String],
        ui: &Option<Value>,
    ) -> Result<Group> {
        check_label(label.as_deref())?;
        check_ui(ui.as_ref())?;
        let mut seen = HashSet::with_capacity(nodes.len());
        for node in nodes {
            if !self.nodes.contains_key(node.as_str()) {
                return Err(Error::UnknownNode { node: node.clone() });
            }
            if !seen.insert(node.as_str()) {
                return Err(Error::InvalidField {
                    field: "nodes",
                    message: format!("group `{id}` lists node `{node}` twice"),
                });
            }
        }
        Ok(Group {
            id: id.to_owned(),
            label: label.clone(),
            nodes: nodes.to_vec(),
            ui: ui.clone(),
        })
    }
}
