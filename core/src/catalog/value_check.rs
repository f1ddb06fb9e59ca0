//! Property values against their specs: whether one value fits (kind,
//! range, enum, pattern, lengths and nesting depth), and whether a property
//! applies with the node's other values (`applies_when`).

use serde_json::Value;

use super::spec::{NodeTypeSpec, PropertyKind, PropertySpec};
use crate::error::{Error, Result};
use crate::limits::{
    DEFAULT_MAX_ASSET_REF_BYTES, DEFAULT_MAX_ITEMS, DEFAULT_MAX_TEXT_BYTES, check_property_depth,
};
use crate::model::same_value;

/// A node's property values by name, as whoever holds them stores them.
pub(crate) trait PropertyValues {
    fn value(&self, name: &str) -> Option<&Value>;
}

/// Whether `prop` applies with the values `props`, following `applies_when`
/// through properties that are themselves conditional (a `lut` that applies
/// to `filter: lut` does not apply when `filter` itself does not).
pub(crate) fn property_applies(
    spec: &NodeTypeSpec,
    props: &impl PropertyValues,
    prop: &PropertySpec,
) -> bool {
    applies(spec, props, prop, 0)
}

fn applies(
    spec: &NodeTypeSpec,
    props: &impl PropertyValues,
    prop: &PropertySpec,
    depth: usize,
) -> bool {
    let Some(cond) = &prop.applies_when else {
        return true;
    };
    if depth > 8 {
        return false;
    }
    let Some(parent) = spec.property(&cond.property) else {
        return false;
    };
    // The spec's own name: values keyed by it are found by pointer.
    let current = props.value(&parent.name).unwrap_or(&Value::Null);
    cond.one_of.iter().any(|v| same_value(v, current)) && applies(spec, props, parent, depth + 1)
}

/// Checks `value` for property `name` of node `node`.
pub(crate) fn check_value(
    node: &str,
    name: &str,
    spec: &PropertySpec,
    value: &Value,
) -> Result<()> {
    check_property_depth(node, name, value)?;
    check(spec, value).map_err(|(path, message, hint)| {
        let property = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{name}{path}")
        };
        Error::property(node, &property, message, hint)
    })
}

/// (path inside the value, message, hint)
type Problem = (String, String, String);

fn problem(message: impl Into<String>, hint: impl Into<String>) -> Problem {
    (String::new(), message.into(), hint.into())
}

fn check(spec: &PropertySpec, value: &Value) -> Result<(), Problem> {
    match spec.kind {
        PropertyKind::Text | PropertyKind::AssetRef => check_text(spec, value),
        PropertyKind::Integer => {
            let Some(n) = value.as_i64() else {
                return Err(problem(
                    format!("expected an integer, got {}", describe(value)),
                    "give a whole number such as 3",
                ));
            };
            check_range(spec, n as f64)
        }
        PropertyKind::Float => {
            let Some(n) = value.as_f64() else {
                return Err(problem(
                    format!("expected a number, got {}", describe(value)),
                    "give a finite number such as 0.5",
                ));
            };
            if !n.is_finite() {
                return Err(problem("the number is not finite", "give a finite number"));
            }
            check_range(spec, n)
        }
        PropertyKind::Boolean => match value {
            Value::Bool(_) => Ok(()),
            other => Err(problem(
                format!("expected true or false, got {}", describe(other)),
                "give true or false",
            )),
        },
        PropertyKind::Enum => match value.as_str() {
            Some(s) if spec.values.iter().any(|v| v == s) => Ok(()),
            _ => Err(problem(
                format!("{} is not one of the allowed values", describe(value)),
                format!("use one of: {}", spec.values.join(", ")),
            )),
        },
        PropertyKind::List => {
            let Value::Array(items) = value else {
                return Err(problem(
                    format!("expected a list, got {}", describe(value)),
                    "give a JSON array",
                ));
            };
            let max = spec.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
            if items.len() > max {
                return Err(problem(
                    format!("the list has {} items, more than {max}", items.len()),
                    format!("give at most {max} items"),
                ));
            }
            if let Some(item_spec) = &spec.items {
                for (i, item) in items.iter().enumerate() {
                    check(item_spec, item).map_err(|(p, m, h)| (format!("[{i}]{p}"), m, h))?;
                }
            }
            Ok(())
        }
        PropertyKind::Object => {
            let Value::Object(map) = value else {
                return Err(problem(
                    format!("expected an object, got {}", describe(value)),
                    "give a JSON object",
                ));
            };
            let Some(fields) = &spec.fields else {
                return Ok(());
            };
            for (key, v) in map {
                let Some(field) = fields.iter().find(|f| &*f.name == key) else {
                    let known: Vec<&str> = fields.iter().map(|f| &*f.name).collect();
                    return Err((
                        format!(".{key}"),
                        format!("unknown field `{key}`"),
                        format!("known fields: {}", known.join(", ")),
                    ));
                };
                if v.is_null() {
                    continue;
                }
                check(field, v).map_err(|(p, m, h)| (format!(".{key}{p}"), m, h))?;
            }
            for field in fields.iter().filter(|f| f.required) {
                if map.get(&*field.name).is_none_or(Value::is_null) {
                    return Err((
                        format!(".{}", field.name),
                        format!("required field `{}` is missing", field.name),
                        "set the field".into(),
                    ));
                }
            }
            Ok(())
        }
    }
}

fn check_text(spec: &PropertySpec, value: &Value) -> Result<(), Problem> {
    let Some(s) = value.as_str() else {
        return Err(problem(
            format!("expected text, got {}", describe(value)),
            "give a JSON string",
        ));
    };
    let default_max = if spec.kind == PropertyKind::AssetRef {
        DEFAULT_MAX_ASSET_REF_BYTES
    } else {
        DEFAULT_MAX_TEXT_BYTES
    };
    let max = spec.max_length.unwrap_or(default_max);
    if s.len() > max {
        return Err(problem(
            format!("the text is {} bytes long, more than {max}", s.len()),
            format!("shorten it to at most {max} bytes, or keep long text in an asset file"),
        ));
    }
    if spec.required && s.trim().is_empty() {
        return Err(problem(
            "the value is required and empty",
            "give a non-empty value",
        ));
    }
    if let Some(min) = spec.min_length
        && s.chars().count() < min
    {
        return Err(problem(
            format!("the text is shorter than {min} characters"),
            format!("give at least {min} characters"),
        ));
    }
    if spec.kind == PropertyKind::AssetRef && s.contains('\0') {
        return Err(problem(
            "the asset reference contains a NUL byte",
            "give a path or URI",
        ));
    }
    if let Some(re) = spec.regex()
        && !s.is_empty()
        && !re.is_match(s)
    {
        let pattern = spec.pattern.as_deref().unwrap_or_default();
        return Err(problem(
            format!("{} does not match the pattern `{pattern}`", describe(value)),
            format!("give a value matching `{pattern}`"),
        ));
    }
    Ok(())
}

fn check_range(spec: &PropertySpec, n: f64) -> Result<(), Problem> {
    let below = spec.min.is_some_and(|min| n < min);
    let above = spec.max.is_some_and(|max| n > max);
    if !(below || above) {
        return Ok(());
    }
    let range = match (spec.min, spec.max) {
        (Some(a), Some(b)) => format!("from {a} to {b}"),
        (Some(a), None) => format!("of at least {a}"),
        (None, Some(b)) => format!("of at most {b}"),
        (None, None) => String::new(),
    };
    Err(problem(
        format!("{n} is out of range"),
        format!("give a value {range}"),
    ))
}

/// A short description of a value for messages, never the whole of a long one.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.len() > 40 => {
            let cut: String = s.chars().take(37).collect();
            format!("\"{cut}...\"")
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}
