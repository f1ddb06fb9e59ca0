//! Widget values to named properties.
//!
//! Names come, in this order, from: `widgets_values_named` (when it has as
//! many entries as `widgets_values`); the inputs that carry `widget: {name}`
//! (ComfyUI 1.x), matched in order with the values, where a seed widget's
//! `control_after_generate` value (`fixed`, `increment`, `decrement`,
//! `randomize`) takes a name of its own; the names another node of the same
//! class in the same workflow got for the same number of values; and
//! otherwise `widget_0..n`.

use std::collections::HashMap;

use serde_json::Value;

use super::workflow::{WfNode, Widgets};
use crate::format::{NameMap, UniqueNames};

/// The name of the extra value ComfyUI stores after a seed widget.
pub(super) const CONTROL_AFTER_GENERATE: &str = "control_after_generate";
const CONTROL_VALUES: [&str; 4] = ["fixed", "increment", "decrement", "randomize"];

/// One node's widget values with their names, in widget order.
#[derive(Debug, Clone, Default)]
pub(super) struct NamedWidgets {
    pub names: Vec<String>,
    pub values: Vec<Value>,
    /// Whether the names are known (not the `widget_n` fallback).
    pub known: bool,
    /// Position of each name, so a node with many widgets is looked up in
    /// constant time.
    index: NameMap<usize>,
}

impl NamedWidgets {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).map(|i| &self.values[i])
    }

    pub fn set(&mut self, name: &str, value: Value) {
        match self.position(name) {
            Some(i) => self.values[i] = value,
            None => {
                self.index.insert(name.to_owned(), self.names.len());
                self.names.push(name.to_owned());
                self.values.push(value);
            }
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        if self.index.len() == self.names.len() {
            self.index.get(name).copied()
        } else {
            self.names.iter().position(|n| n == name)
        }
    }
}

/// Whether a widget name is a UI-only control value, left out of API prompts.
pub(super) fn is_control(name: &str) -> bool {
    let base = name.split('#').next().unwrap_or(name);
    base == CONTROL_AFTER_GENERATE || base == "control_before_generate"
}

/// Names a node's widgets from what the node itself says (`known` is false
/// when it says nothing usable), taking the values out of the node.
pub(super) fn own_names(node: &mut WfNode) -> NamedWidgets {
    match std::mem::replace(&mut node.widgets, Widgets::None) {
        Widgets::None => finish(Vec::new(), Vec::new(), true),
        Widgets::Named(entries) => {
            let (names, values) = entries.into_iter().unzip();
            finish(names, values, true)
        }
        Widgets::Positional { values, named } => {
            if let Some(named) = named {
                if named.len() == values.len() {
                    let names = named.into_iter().map(|(k, _)| k).collect();
                    return finish(names, values, true);
                }
                if let Some(names) = align_named(&named, &values) {
                    return finish(names, values, true);
                }
            }
            let declared: Vec<&str> = node
                .inputs
                .iter()
                .filter_map(|i| i.widget.as_deref())
                .collect();
            match match_declared(&declared, &values) {
                Some(names) => finish(names, values, true),
                None => finish(Vec::new(), values, false),
            }
        }
    }
}

/// Names the values after `widgets_values_named` when the two differ in
/// length (ComfyUI leaves display-only widgets out of the named map): each
/// named entry takes the next value equal to it, in order; the values in
/// between keep positional names. `None` unless every entry finds its value.
fn align_named(named: &[(String, Value)], values: &[Value]) -> Option<Vec<String>> {
    let mut names = vec![String::new(); values.len()];
    let mut v = 0;
    for (name, value) in named {
        let at = v + values[v..].iter().position(|x| x == value)?;
        names[at] = name.clone();
        v = at + 1;
    }
    Some(names)
}

/// Names the values after the first layout of the class that lines up with
/// them (a seed's control value may follow an integer). Returns whether one did.
pub(super) fn apply_class_layout<'n>(
    widgets: &mut NamedWidgets,
    layouts: impl IntoIterator<Item = Vec<&'n str>>,
) -> bool {
    if widgets.known {
        return true;
    }
    for layout in layouts {
        if let Some(names) = match_declared(&layout, &widgets.values) {
            *widgets = finish(names, std::mem::take(&mut widgets.values), true);
            return true;
        }
    }
    false
}

/// Fills in names from a layout learned from another node of the class.
pub(super) fn apply_layout(widgets: &mut NamedWidgets, layout: &[String]) {
    if !widgets.known && layout.len() == widgets.values.len() {
        *widgets = finish(layout.to_vec(), std::mem::take(&mut widgets.values), true);
    }
}

/// Layouts learned per (class, number of values).
pub(super) type Layouts = HashMap<(String, usize), Vec<String>>;

/// Matches the names of widget inputs with the values, letting a control
/// value follow an integer. `None` when they do not line up exactly.
fn match_declared(declared: &[&str], values: &[Value]) -> Option<Vec<String>> {
    if declared.is_empty() && !values.is_empty() {
        return None;
    }
    let mut names = Vec::with_capacity(values.len());
    let mut d = 0;
    let mut v = 0;
    while v < values.len() {
        let spare = (values.len() - v) > (declared.len() - d);
        let after_integer = v > 0 && (values[v - 1].is_i64() || values[v - 1].is_u64());
        let is_control_value = is_control_value(&values[v]);
        if spare && after_integer && is_control_value && !names.is_empty() {
            names.push(CONTROL_AFTER_GENERATE.to_owned());
        } else {
            names.push((*declared.get(d)?).to_owned());
            d += 1;
        }
        v += 1;
    }
    (d == declared.len()).then_some(names)
}

/// A seed's control value: `fixed`, `increment`, `decrement`, `randomize`,
/// or a boolean (older files; `true` is `randomize`).
fn is_control_value(value: &Value) -> bool {
    match value {
        Value::String(s) => CONTROL_VALUES.contains(&s.as_str()),
        Value::Bool(_) => true,
        _ => false,
    }
}

/// Gives unnamed or repeated names a unique one (`widget_3`, `seed#2`), and
/// reads a control value of the older encoding (`true`, `false`) as ComfyUI
/// does (`randomize`, `fixed`), so both encodings make one property kind.
fn finish(mut names: Vec<String>, mut values: Vec<Value>, known: bool) -> NamedWidgets {
    for (name, value) in names.iter().zip(values.iter_mut()) {
        if let Value::Bool(on) = value
            && is_control(name)
        {
            *value = Value::from(if *on { "randomize" } else { "fixed" });
        }
    }
    let index = if names.is_empty() {
        // Positional names are unique as they are.
        names = (0..values.len()).map(|i| format!("widget_{i}")).collect();
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect()
    } else {
        names.resize(values.len(), String::new());
        let mut unique = UniqueNames::default();
        for (i, name) in names.iter_mut().enumerate() {
            *name = if name.trim().is_empty() {
                unique.claim_at(&format!("widget_{i}"), i)
            } else {
                unique.claim_at(name, i)
            };
        }
        unique.into_positions()
    };
    NamedWidgets {
        names,
        values,
        known,
        index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: &Value) -> Vec<Value> {
        v.as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn control_values_follow_integers() {
        let names = match_declared(
            &[
                "seed",
                "steps",
                "cfg",
                "sampler_name",
                "scheduler",
                "denoise",
            ],
            &values(&json!([42, "randomize", 20, 7.5, "euler", "normal", 1])),
        );
        assert_eq!(
            names.expect("the names line up"),
            [
                "seed",
                "control_after_generate",
                "steps",
                "cfg",
                "sampler_name",
                "scheduler",
                "denoise"
            ]
        );
    }

    #[test]
    fn a_subset_of_names_is_not_matched() {
        // ComfyUI before 1.16 lists only converted widgets among the inputs.
        let names = match_declared(
            &["steps", "cfg", "sampler_name", "scheduler"],
            &values(&json!([42, "randomize", 20, 7.5, "euler", "normal", 1])),
        );
        assert!(names.is_none());
    }

    #[test]
    fn repeated_and_empty_names_become_unique() {
        let w = finish(
            vec!["a".into(), "a".into(), String::new()],
            values(&json!([1, 2, 3])),
            true,
        );
        assert_eq!(w.names, ["a", "a#2", "widget_2"]);
    }
}
