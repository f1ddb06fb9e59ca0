//! What a node type's property list says once worked out: the properties in
//! name order, each `applies_when` parent as a position, and the properties
//! that have a default. The catalogue builds it when a type is registered,
//! so checking a new node's values looks no name up twice.

use serde_json::Value;

use super::spec::NodeTypeSpec;
use crate::model::same_value;

/// Positions in a spec's `properties`, worked out once per type.
#[derive(Debug)]
pub(crate) struct PropertyIndex {
    /// Every position, ordered by property name.
    by_name: Box<[usize]>,
    /// By position: the `applies_when` condition's property.
    parents: Box<[Parent]>,
    /// Positions of the properties that have a default, in spec order.
    defaulted: Box<[usize]>,
}

#[derive(Debug, Clone, Copy)]
enum Parent {
    /// No condition: the property always applies.
    None,
    At(usize),
    /// The condition names no property (registration refuses that; kept
    /// so the answer matches `property_applies` for any spec).
    Unknown,
}

impl PropertyIndex {
    pub fn new(spec: &NodeTypeSpec) -> Self {
        let props = &spec.properties;
        let mut by_name: Vec<usize> = (0..props.len()).collect();
        by_name.sort_by(|&a, &b| props[a].name.cmp(&props[b].name));
        let parents = props
            .iter()
            .map(|p| match &p.applies_when {
                None => Parent::None,
                Some(cond) => props
                    .iter()
                    .position(|q| *q.name == *cond.property)
                    .map_or(Parent::Unknown, Parent::At),
            })
            .collect();
        let defaulted = (0..props.len())
            .filter(|&i| props[i].default.is_some())
            .collect();
        PropertyIndex {
            by_name: by_name.into(),
            parents,
            defaulted,
        }
    }

    /// Positions in name order.
    pub fn by_name(&self) -> &[usize] {
        &self.by_name
    }

    /// Positions of the properties that have a default, in spec order.
    pub fn defaulted(&self) -> &[usize] {
        &self.defaulted
    }

    /// The position of property `name`. Names asked in name order (a JSON
    /// object's order) are found by walking forward from `cursor`, one
    /// comparison each; any other order still finds them.
    pub fn position(&self, spec: &NodeTypeSpec, name: &str, cursor: &mut usize) -> Option<usize> {
        let props = &spec.properties;
        while let Some(&at) = self.by_name.get(*cursor) {
            match (*props[at].name).cmp(name) {
                std::cmp::Ordering::Less => *cursor += 1,
                std::cmp::Ordering::Equal => {
                    *cursor += 1;
                    return Some(at);
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        self.by_name
            .binary_search_by(|&at| (*props[at].name).cmp(name))
            .ok()
            .map(|i| self.by_name[i])
    }

    /// Whether the property at `at` applies when `value_at` gives the values
    /// by position: what `property_applies` answers, without name lookups.
    #[inline]
    pub fn applies<'v>(
        &self,
        spec: &NodeTypeSpec,
        at: usize,
        value_at: impl Fn(usize) -> Option<&'v Value>,
    ) -> bool {
        // Most properties have no condition: answered here, without a call.
        match self.parents[at] {
            Parent::None => true,
            _ => self.conditions_hold(spec, at, value_at),
        }
    }

    fn conditions_hold<'v>(
        &self,
        spec: &NodeTypeSpec,
        mut at: usize,
        value_at: impl Fn(usize) -> Option<&'v Value>,
    ) -> bool {
        // As deep as `property_applies` follows conditions.
        for _ in 0..=8 {
            let parent = match self.parents[at] {
                Parent::None => return true,
                Parent::Unknown => return false,
                Parent::At(parent) => parent,
            };
            let Some(cond) = &spec.properties[at].applies_when else {
                return true;
            };
            let current = value_at(parent).unwrap_or(&Value::Null);
            if !cond.one_of.iter().any(|v| same_value(v, current)) {
                return false;
            }
            at = parent;
        }
        // A chain deeper than that, or a loop: as `property_applies`, no.
        matches!(self.parents[at], Parent::None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::PropertyIndex;
    use crate::catalog::{Catalog, PropertyValues, property_applies};

    struct Values(Vec<(String, Value)>);

    impl PropertyValues for Values {
        fn value(&self, name: &str) -> Option<&Value> {
            self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
        }
    }

    #[test]
    fn applies_agrees_with_property_applies_on_every_built_in_type() {
        let mut conditional = 0;
        for spec in Catalog::builtin().types() {
            let index = PropertyIndex::new(&spec);
            // The values conditions test, and none: picked at random per
            // property, so conditions and chains both hold and break.
            let mut tested: Vec<Value> = spec
                .properties
                .iter()
                .filter_map(|p| p.applies_when.as_ref())
                .flat_map(|c| c.one_of.iter().cloned())
                .collect();
            tested.push(Value::Null);
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
            for _ in 0..2000 {
                let values: Vec<Option<Value>> = (0..spec.properties.len())
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        let v = &tested[(seed >> 33) as usize % tested.len()];
                        (!v.is_null()).then(|| v.clone())
                    })
                    .collect();
                let by_name = Values(
                    spec.properties
                        .iter()
                        .zip(&values)
                        .filter_map(|(p, v)| Some((p.name.to_string(), v.clone()?)))
                        .collect(),
                );
                for (at, prop) in spec.properties.iter().enumerate() {
                    conditional += usize::from(prop.applies_when.is_some());
                    assert_eq!(
                        index.applies(&spec, at, |p| values[p].as_ref()),
                        property_applies(&spec, &by_name, prop),
                        "{}.{} with {values:?}",
                        spec.type_name,
                        prop.name
                    );
                }
            }
        }
        assert!(
            conditional > 0,
            "the built-in types have conditions to test"
        );
    }

    #[test]
    fn a_chain_of_conditions_holds_only_when_every_link_does() {
        let spec = Catalog::builtin().get("effect").expect("built in");
        let index = PropertyIndex::new(&spec);
        let at = |name: &str| {
            spec.properties
                .iter()
                .position(|p| *p.name == *name)
                .expect("known")
        };
        let (effect, kind, angle) = (at("effect"), at("blur_kind"), at("angle"));
        let applies = |e: Value, k: Value| {
            index.applies(&spec, angle, |p| {
                if p == effect {
                    Some(&e)
                } else if p == kind {
                    Some(&k)
                } else {
                    None
                }
            })
        };
        assert!(applies(json!("blur"), json!("motion")));
        assert!(!applies(json!("blur"), json!("gaussian")));
        assert!(!applies(json!("color"), json!("motion")));
    }

    #[test]
    fn names_are_found_in_any_order_and_unknown_ones_are_not() {
        let catalog = Catalog::builtin();
        let spec = catalog.get("effect").expect("built in");
        let index = PropertyIndex::new(&spec);
        let mut names: Vec<&str> = spec.properties.iter().map(|p| &*p.name).collect();
        names.sort_unstable();
        let mut cursor = 0;
        for name in &names {
            let at = index.position(&spec, name, &mut cursor).expect("known");
            assert_eq!(*spec.properties[at].name, **name);
        }
        // Backwards: every lookup falls behind the cursor.
        for name in names.iter().rev() {
            let at = index.position(&spec, name, &mut cursor).expect("known");
            assert_eq!(*spec.properties[at].name, **name);
        }
        let mut cursor = 0;
        for unknown in ["", "aaa", "radiusx", "zzz"] {
            assert_eq!(index.position(&spec, unknown, &mut cursor), None);
        }
    }
}
