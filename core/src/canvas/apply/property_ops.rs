//! Property ops: `set_properties`, and the checks and defaults that
//! `add_node` shares with it.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::{Canvas, Properties};
use super::journal::Undo;
use crate::catalog::{NodeTypeSpec, PropertySpec};
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
            let prop = spec.property(name).ok_or_else(|| Error::UnknownProperty {
                type_name: spec.type_name.to_string(),
                property: name.clone(),
                known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
            })?;
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

/// Validates given property values and fills in defaults, building them in
/// `scratch` (a buffer kept between calls). Reads the op's values in place:
/// only the values the node keeps are copied.
pub(super) fn checked_properties(
    id: &str,
    spec: &NodeTypeSpec,
    given: &Map<String, Value>,
    scratch: &mut Properties,
) -> Result<Properties> {
    scratch.clear();
    for (name, value) in given {
        let prop = spec.property(name).ok_or_else(|| Error::UnknownProperty {
            type_name: spec.type_name.to_string(),
            property: name.clone(),
            known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
        })?;
        if !value.is_null() {
            check_value(id, name, prop, value)?;
            // The spec's name, so every node shares its allocation.
            scratch.push(prop.name.clone(), value.clone());
        }
    }
    // A JSON object iterates in name order: nothing to sort, usually.
    scratch.sort();
    fill_defaults(spec, scratch, |_| true, |_| {});
    Ok(scratch.take_exact())
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
