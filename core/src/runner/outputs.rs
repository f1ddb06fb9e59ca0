//! What a node's outputs must be: exactly the ports its type declares, each
//! with a value, nested no deeper than a canvas value may be. The executor
//! checks fresh and cached outputs alike, and a cache refuses to store
//! outputs it could not read back.

use serde_json::Value;

use super::{Outputs, TaskError};
use crate::limits::MAX_VALUE_DEPTH;
use crate::limits::too_deep;

/// Checks outputs of `function` against the `declared` ports and the depth
/// limit; the error is `permanent` and says what to change.
pub(crate) fn check(
    function: &str,
    declared: &[std::sync::Arc<str>],
    outputs: &Outputs,
) -> Result<(), TaskError> {
    // One pass for the usual case: ports are unique, so as many outputs as
    // ports, each of them set, means no port is missing and none is extra.
    // A cached run checks every result it finds, so this stays lean.
    let exact = outputs.len() == declared.len()
        && declared
            .iter()
            .all(|p| outputs.get(&**p).is_some_and(|v| !v.is_null()));
    if !exact {
        return Err(mismatch(function, declared, outputs));
    }
    if let Some(problem) = too_deep_port(outputs) {
        return Err(
            TaskError::permanent(format!("function `{function}` returned {problem}")).with_hint(
                format!(
                    "flatten the output, or keep large structures in a file and return its path; values may nest at most {MAX_VALUE_DEPTH} levels"
                ),
            ),
        );
    }
    Ok(())
}

/// What is wrong with outputs whose ports are not the declared ones.
fn mismatch(function: &str, declared: &[std::sync::Arc<str>], outputs: &Outputs) -> TaskError {
    let missing: Vec<&str> = declared
        .iter()
        .map(|p| &**p)
        .filter(|p| outputs.get(*p).is_none_or(Value::is_null))
        .collect();
    let extra: Vec<&str> = outputs
        .keys()
        .map(String::as_str)
        .filter(|k| !declared.iter().any(|p| &**p == *k))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("no value for {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        problems.push(format!("undeclared {}", extra.join(", ")));
    }
    TaskError::permanent(format!(
        "function `{function}` returned outputs that do not match the node type ({})",
        problems.join("; ")
    ))
    .with_hint(format!(
        "the function must return exactly the declared output ports: {}",
        declared.iter().map(|p| &**p).collect::<Vec<_>>().join(", ")
    ))
}

/// The first port whose value nests deeper than [`MAX_VALUE_DEPTH`], said
/// as "output `port` nested N levels deep, more than the limit of 32".
/// A store must refuse such outputs: JSON parsers stop at a depth (serde_json
/// at 128), so they may not read back.
pub(crate) fn too_deep_port(outputs: &Outputs) -> Option<String> {
    // Scalars, the usual values, are passed over without a call.
    let (port, value) = outputs.iter().find(|(_, value)| {
        matches!(value, Value::Array(_) | Value::Object(_)) && too_deep(value, MAX_VALUE_DEPTH)
    })?;
    Some(format!(
        "output `{port}` nested {} levels deep, more than the limit of {MAX_VALUE_DEPTH}",
        depth(value)
    ))
}

/// How many levels lists and objects nest in `value` (a scalar is 0, `[]`
/// and `[1]` are 1), without recursion: the value may be far deeper than
/// the stack allows.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, above)) = stack.pop() {
        let level = above + 1;
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, level))),
            Value::Object(map) => stack.extend(map.values().map(|v| (v, level))),
            _ => continue,
        }
        deepest = deepest.max(level);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |v, _| Value::Array(vec![v]))
    }

    #[test]
    fn depth_counts_levels_as_the_canvas_limit_does() {
        assert_eq!(depth(&json!(1)), 0);
        assert_eq!(depth(&json!([])), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}]})), 4);
        assert_eq!(depth(&nested(1_000)), 1_000);
        for levels in [0, 1, 31, 32, 33, 200] {
            assert_eq!(
                too_deep(&nested(levels), MAX_VALUE_DEPTH),
                depth(&nested(levels)) > MAX_VALUE_DEPTH,
                "{levels}"
            );
        }
    }
}
