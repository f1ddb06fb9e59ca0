//! Reading the wire types (options, results, error bodies) from JSON, with
//! errors that name the type and the field; durations as milliseconds.
//!
//! Bindings and servers get options as JSON text or a parsed value and call
//! [`from_json`] or [`from_value`]: one place that says what is wrong, in
//! the same words in every language.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// Reads any wire type from JSON text. Unknown fields and values of the
/// wrong type are refused with `invalid_json`, naming the type, the field
/// path and what was expected; omitted fields take their defaults.
///
/// Documents have readers of their own that do more than parse: use
/// [`crate::Canvas::from_json`] (migrates older versions, checks limits),
/// [`crate::Catalog::register_json`] (checks specs) and
/// [`crate::Op::parse_list`] for them.
///
/// ```
/// use reelgraph::runner::RetryPolicy;
///
/// let policy: RetryPolicy = reelgraph::from_json(r#"{"max_attempts": 5, "base_ms": 100}"#)?;
/// assert_eq!(policy.max_attempts, 5);
/// assert_eq!(policy.cap, std::time::Duration::from_secs(10)); // the default
///
/// let err = reelgraph::from_json::<RetryPolicy>(r#"{"max_atempts": 5}"#).unwrap_err();
/// assert_eq!(err.code(), "invalid_json");
/// assert_eq!(err.details()["field"], "max_atempts");
/// assert!(err.to_string().contains("unknown field `max_atempts` in RetryPolicy"));
/// # Ok::<(), reelgraph::Error>(())
/// ```
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| at_path::<T>(&e))?;
    // Text after the value, e.g. two objects.
    de.end().map_err(|e| wrong_json::<T>(String::new(), &e))?;
    Ok(value)
}

/// Reads any wire type from a parsed JSON value (a binding converts a Python
/// dict or a JS object to one), with the errors of [`from_json`].
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| at_path::<T>(&e))
}

fn at_path<T>(e: &serde_path_to_error::Error<serde_json::Error>) -> Error {
    // A syntax error is placed by line and column; its path may be partial.
    let path = match e.path().to_string() {
        path if path == "." || e.inner().is_syntax() || e.inner().is_eof() => String::new(),
        path => path,
    };
    wrong_json::<T>(path, e.inner())
}

fn wrong_json<T>(path: String, e: &serde_json::Error) -> Error {
    let message = e.to_string();
    // serde_json adds " at line L column C" to errors from text; the path says
    // more, but a syntax error has only its position.
    let message = match message.rfind(" at line ") {
        Some(at) if e.line() > 0 && !e.is_syntax() && !e.is_eof() => message[..at].to_owned(),
        _ => message,
    };
    let type_name = short_type_name(std::any::type_name::<T>());
    let (field, message) = match unknown_field(&message) {
        // "unknown field `x` in RunOptions, expected one of ..."
        Some(field) => {
            let parent = path.strip_suffix(field).unwrap_or(&path);
            let parent = parent.trim_end_matches('.');
            let at = if parent.is_empty() {
                String::new()
            } else {
                format!(" at `{parent}`")
            };
            let rest = &message["unknown field ``".len() + field.len()..];
            (
                field.to_owned(),
                format!("unknown field `{field}` in {type_name}{at}{rest}"),
            )
        }
        None if path.is_empty() => (String::new(), format!("invalid {type_name}: {message}")),
        None => (
            path.rsplit('.').next().unwrap_or_default().to_owned(),
            format!("invalid {type_name} at `{path}`: {message}"),
        ),
    };
    Error::WrongJson {
        type_name,
        path,
        field,
        message,
    }
}

/// The field serde names in "unknown field `x`, expected ...".
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// `alloc::vec::Vec<reelgraph::ops::Op>` → `Vec<Op>`.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for c in full.chars() {
        if c == ':' {
            out.truncate(segment_start);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                segment_start = out.len();
            }
        }
    }
    out
}

/// A [`Duration`] as whole milliseconds: fields named `*_ms` on the wire.
pub(crate) mod millis {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(as_ms(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// An optional [`Duration`] in milliseconds; `null` is none.
pub(crate) mod option_millis {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&as_ms(d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// A map of names to [`Duration`]s in milliseconds.
pub(crate) mod millis_map {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(map.iter().map(|(k, d)| (k, as_ms(d))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        let map = BTreeMap::<String, u64>::deserialize(d)?;
        Ok(map
            .into_iter()
            .map(|(k, ms)| (k, Duration::from_millis(ms)))
            .collect())
    }
}

/// Whole milliseconds, saturating (a duration past `u64::MAX` ms is not one a
/// caller can mean).
fn as_ms(d: &Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name("reelgraph::exec::RunOptions"), "RunOptions");
        assert_eq!(
            short_type_name("alloc::vec::Vec<reelgraph::ops::Op>"),
            "Vec<Op>"
        );
        assert_eq!(
            short_type_name("core::option::Option<std::time::Duration>"),
            "Option<Duration>"
        );
    }
}
