//! Property ops: `set_properties`, and the checks and defaults that
//! `add_node` shares with it.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::load::to_properties;
use super::super::{Canvas, Properties};
use super::journal::Undo;
use crate::catalog::{NodeTypeSpec, PropertySpec};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::task::property_applies;
use crate::validate::value::check_value;

impl Canvas {
    pub(super) fn set_properties(
        &mut self,
        id: &str,
        properties: &Map<String, Value>,
        unset: &[String],
        journal: &mut Vec<Undo>,
    ) -> Result<Vec<Op>> {
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
        let filled = fill_defaults(&spec, &mut props, |prop| {
            !unset.iter().any(|u| *u == *prop.name) && !property_applies(&spec, before, prop)
        });
        for name in filled {
            if !inverse.contains_key(&*name) && !inverse_unset.iter().any(|u| *u == *name) {
                inverse_unset.push(name.to_string());
            }
        }
        props.shrink_to_fit();
        self.replace_node(key, journal, |e| e.properties = props);
        Ok(vec![Op::SetProperties {
            id: id.to_owned(),
            properties: inverse,
            unset: inverse_unset,
        }])
    }
}

/// Validates given property values and fills in defaults.
pub(super) fn checked_properties(
    id: &str,
    spec: &NodeTypeSpec,
    given: Map<String, Value>,
) -> Result<Properties> {
    for (name, value) in &given {
        let prop = spec.property(name).ok_or_else(|| Error::UnknownProperty {
            type_name: spec.type_name.to_string(),
            property: name.clone(),
            known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
        })?;
        if !value.is_null() {
            check_value(id, name, prop, value)?;
        }
    }
    let mut props = to_properties(
        Some(spec),
        given.into_iter().filter(|(_, v)| !v.is_null()).collect(),
    );
    fill_defaults(spec, &mut props, |_| true);
    props.shrink_to_fit();
    Ok(props)
}

/// Gives every absent property that applies (and that `eligible` accepts)
/// its default. Properties that do not apply with the current settings (a
/// blur's `radius` on a colour grade) stay absent: documents carry only what
/// matters, and the default arrives when the property starts to apply.
/// Returns the names it filled.
fn fill_defaults(
    spec: &NodeTypeSpec,
    props: &mut Properties,
    eligible: impl Fn(&PropertySpec) -> bool,
) -> Vec<Arc<str>> {
    let mut filled = Vec::new();
    // A default can make another property apply (`blur_kind: gaussian` under
    // `effect: blur`), so repeat until nothing changes; chains are short.
    loop {
        let before = filled.len();
        for prop in &spec.properties {
            if let Some(default) = &prop.default
                && props.get(&prop.name).is_none()
                && property_applies(spec, props, prop)
                && eligible(prop)
            {
                props.set(prop.name.clone(), default.clone());
                filled.push(prop.name.clone());
            }
        }
        if filled.len() == before {
            return filled;
        }
    }
}
