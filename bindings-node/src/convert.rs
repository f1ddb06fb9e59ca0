//! Arguments and results. JSON-shaped values (documents, ops, specs,
//! reports) cross as JSON text read and written by the core's serde: `index.js`
//! checks and stringifies what a caller passes and parses what comes back,
//! which is much faster than walking objects through N-API one property at a
//! time. Plain arguments (ids, names, paths) are checked here, by name.

use napi::ValueType;
use napi::bindgen_prelude::{BigInt, Unknown};
use serde::Serialize;

use crate::errors::type_error;

/// A string argument, or a `TypeError` naming it.
pub(crate) fn string_arg(value: Unknown<'_>, arg: &str) -> napi::Result<String> {
    match value.get_type()? {
        // SAFETY: the value was just checked to be a string.
        ValueType::String => unsafe { value.cast::<String>() },
        other => Err(type_error(arg, "a string", describe(other))),
    }
}

/// An optional string argument: `undefined` and `null` mean absent.
pub(crate) fn optional_string_arg(
    value: Option<Unknown<'_>>,
    arg: &str,
) -> napi::Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) => Ok(None),
        Some(v) => string_arg(v, arg).map(Some),
    }
}

/// A revision argument: a non-negative integer number up to 2^53 - 1, or a
/// BigInt. A `TypeError` names it otherwise.
pub(crate) fn revision_arg(value: Unknown<'_>, arg: &str) -> napi::Result<u64> {
    const EXPECTED: &str = "a non-negative integer (a number up to 2^53 - 1, or a BigInt)";
    match value.get_type()? {
        ValueType::Number => {
            // SAFETY: the value was just checked to be a number.
            let n = unsafe { value.cast::<f64>() }?;
            if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) {
                // Exact: an integer within 2^53.
                Ok(n as u64)
            } else {
                Err(type_error(arg, EXPECTED, &format!("{n}")))
            }
        }
        ValueType::BigInt => {
            // SAFETY: the value was just checked to be a BigInt.
            let big = unsafe { value.cast::<BigInt>() }?;
            match big.get_u64() {
                (false, n, true) => Ok(n),
                _ => Err(type_error(arg, EXPECTED, "a BigInt out of range")),
            }
        }
        other => Err(type_error(arg, EXPECTED, describe(other))),
    }
}

/// An optional revision: `undefined` and `null` mean absent.
pub(crate) fn optional_revision_arg(
    value: Option<Unknown<'_>>,
    arg: &str,
) -> napi::Result<Option<u64>> {
    match value {
        None => Ok(None),
        Some(v) if matches!(v.get_type()?, ValueType::Undefined | ValueType::Null) => Ok(None),
        Some(v) => revision_arg(v, arg).map(Some),
    }
}

/// 2^53 - 1, the largest integer every JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The JS name of a value's type, as a message shows it.
pub(crate) fn describe(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Object => "an object",
        ValueType::Function => "a function",
        ValueType::External => "an external",
        ValueType::BigInt => "a bigint",
        _ => "an unknown value",
    }
}

/// A small wire value (a version, a page) as a JS value made by napi.
pub(crate) fn to_value<T: Serialize>(value: &T) -> napi::Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| napi::Error::from_reason(e.to_string()))
}

/// A wire value as JSON text, for `index.js` to parse.
pub(crate) fn to_text<T: Serialize + ?Sized>(value: &T) -> napi::Result<String> {
    serde_json::to_string(value).map_err(|e| napi::Error::from_reason(e.to_string()))
}
