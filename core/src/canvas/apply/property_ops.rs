//! Property ops: `set_properties`, and the checks and defaults that
//! `add_node` shares with it.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::{Canvas, Properties};
use super::journal::Undo;
use crate::catalog::{NodeTypeSpec, PropertyIndex, PropertySpec};
use crate::catalog::{check_value, property_applies};
use crate::error::{Error, Result};
use crate::ops::Op;

impl Canvas {
    pub(super) fn set_properties(
        &mut self,
        id: &str,
        properties: &Map<String, Value>,
        unset: &[String],
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        let (key, entry) = self.node_entry(id)?;
        let spec = self.spec_of(id, entry)?.clone();
        let mut props = entry.properties.clone();
        let mut inverse = Map::new();
        let mut inverse_unset = Vec::new();
        let mut record = |name: &str, old: Option<Value>| match old {
            Some(v) => {
                inverse.insert(name.to_owned(), v);
            }
            None => inverse_unset.push(name.to_owned()),
        };
        for name in unset.iter() {
            if properties.contains_key(name) {
                return Err(Error::InvalidField {
                    field: "unset",
                    message: format!("`{name}` is both set and unset"),
                });
            }
            // Any name may be unset, so stale properties of a loaded
            // document can be cleaned up.
            record(name, props.remove(name));
        }
        for (name, value) in properties.iter() {
            let prop = spec
                .property(name)
                .ok_or_else(|| unknown_property(&spec, name))?;
            let old = if value.is_null() {
                match &prop.default {
                    Some(default) => props.set(prop.name.clone(), default.clone()),
                    None if prop.required => {
                        return Err(Error::property(
                            id,
                            name,
                            "the property is required and cannot be reset",
                            "give a value instead of null",
                        ));
                    }
                    None => props.remove(name),
                }
            } else {
                check_value(id, name, prop, value)?;
                props.set(prop.name.clone(), value.clone())
            };
            record(name, old);
        }
        // A property that starts to apply (say `radius` once `effect` is
        // `blur`) gets its default, as it would on a new node.
        let before = &entry.properties;
        fill_defaults(
            &spec,
            &mut props,
            |prop| {
                !unset.iter().any(|u| *u == *prop.name) && !property_applies(&spec, before, prop)
            },
            |name| {
                if !inverse.contains_key(&**name) && !inverse_unset.iter().any(|u| *u == **name) {
                    inverse_unset.push(name.to_string());
                }
            },
        );
        props.shrink_to_fit();
        self.replace_node(key, true, journal, |e| e.properties = props);
        Ok(Op::SetProperties {
            id: id.to_owned(),
            properties: inverse,
            unset: inverse_unset,
        })
    }
}

/// Validates given property values and fills in defaults, for a new node.
/// Reads the op's values in place: only the values the node keeps are
/// copied. `slots` (a buffer kept between calls) holds them by spec position
/// until they are laid out in name order.
pub(super) fn checked_properties(
    id: &str,
    spec: &NodeTypeSpec,
    index: &PropertyIndex,
    given: &Map<String, Value>,
    slots: &mut Vec<Option<Value>>,
) -> Result<Properties> {
    slots.clear();
    slots.resize_with(spec.properties.len(), || None);
    if let Err(e) = given_values(id, spec, index, given, slots) {
        slots.clear();
        return Err(e);
    }
    // As `fill_defaults`, by position.
    loop {
        let mut filled_some = false;
        let mut held_back = false;
        for &at in index.defaulted() {
            if slots[at].is_some() {
                continue;
            }
            if index.applies(spec, at, |p| slots[p].as_ref()) {
                slots[at] = spec.properties[at].default.clone();
                filled_some = true;
            } else {
                held_back = true;
            }
        }
        if !(filled_some && held_back) {
            break;
        }
    }
    let mut values = Vec::with_capacity(slots.iter().flatten().count());
    for &at in index.by_name() {
        if let Some(value) = slots[at].take() {
            // The spec's name, so every node shares its allocation.
            values.push((spec.properties[at].name.clone(), value));
        }
    }
    Ok(Properties::in_name_order(values))
}

/// Checks each given value and puts it in its property's slot.
fn given_values(
    id: &str,
    spec: &NodeTypeSpec,
    index: &PropertyIndex,
    given: &Map<String, Value>,
    slots: &mut [Option<Value>],
) -> Result<()> {
    let mut cursor = 0;
    for (name, value) in given {
        let Some(at) = index.position(spec, name, &mut cursor) else {
            return Err(unknown_property(spec, name));
        };
        if !value.is_null() {
            check_value(id, name, &spec.properties[at], value)?;
            slots[at] = Some(value.clone());
        }
    }
    Ok(())
}

fn unknown_property(spec: &NodeTypeSpec, name: &str) -> Error {
    Error::UnknownProperty {
        type_name: spec.type_name.to_string(),
        property: name.to_owned(),
        known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
    }
}

/// Gives every absent property that applies (and that `eligible` accepts)
/// its default, telling `filled` each name. Properties that do not apply
/// with the current settings (a blur's `radius` on a colour grade) stay
/// absent: documents carry only what matters, and the default arrives when
/// the property starts to apply.
fn fill_defaults(
    spec: &NodeTypeSpec,
    props: &mut Properties,
    eligible: impl Fn(&PropertySpec) -> bool,
    mut filled: impl FnMut(&Arc<str>),
) {
    // A default can make another property apply (`blur_kind: gaussian` under
    // `effect: blur`), so go round again while a round filled something and
    // held back a default that did not apply yet; chains are short.
    loop {
        let mut filled_some = false;
        let mut held_back = false;
        for prop in &spec.properties {
            let Some(default) = &prop.default else {
                continue;
            };
            if props.get(&prop.name).is_some() || !eligible(prop) {
                continue;
            }
            if property_applies(spec, props, prop) {
                props.set(prop.name.clone(), default.clone());
                filled(&prop.name);
                filled_some = true;
            } else {
                held_back = true;
            }
        }
        if !(filled_some && held_back) {
            return;
        }
    }
}
