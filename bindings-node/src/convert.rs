//! Arguments and results. JSON-shaped values (documents, ops, specs,
//! reports) cross as JSON text read and written by the core's serde: `index.js`
//! checks and stringifies what a caller passes and parses what comes back,
//! which is much faster than walking objects through N-API one property at a
//! time. Plain arguments (ids, names, paths) are checked here, by name.

use napi::ValueType;
use napi::bindgen_prelude::Unknown;
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

/// A wire value as JSON text, for `index.js` to parse.
pub(crate) fn to_text<T: Serialize>(value: &T) -> napi::Result<String> {
    serde_json::to_string(value).map_err(|e| napi::Error::from_reason(e.to_string()))
}
