//! The strict JSON body extractor: [`StrictJson`].
//!
//! Handlers take `StrictJson<T>` instead of axum's `Json<T>`, so every body
//! is read the same way and every refusal is the server's JSON error:
//! - a content type other than `application/json` (or `...+json`): 415
//!   `unsupported_media_type`;
//! - a body over `--body-limit`: 413 `payload_too_large`;
//! - malformed JSON: 400 `invalid_json` (the core's code);
//! - a field the type does not have (types deny unknown fields): 422
//!   `unknown_field`, naming it in `details.field` and where it is in
//!   `details.path` (`ops[2].colour`);
//! - any other wrong shape (a missing field, a wrong type): 422
//!   `invalid_body` with `details.path`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::api_error::ApiError;

/// A JSON request body of type `T`, read strictly (see the module docs).
#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        check_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    "payload_too_large",
                    "the request body is over the server's limit",
                )
            } else {
                ApiError::new("invalid_request", rejection.body_text())
            }
        })?;
        parse(&bytes).map(StrictJson)
    }
}

/// Refuses a body that does not say it is JSON.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let essence = given
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        return Ok(());
    }
    Err(ApiError::new(
        "unsupported_media_type",
        match given {
            Some(given) => format!("the body is `{given}`, but this route reads JSON"),
            None => "the request has no Content-Type, but this route reads a JSON body".to_owned(),
        },
    )
    .with_details(json!({"expected": "application/json", "found": given})))
}

/// Reads `T` from JSON bytes, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| refusal(&e))?;
    // Anything after the value is malformed JSON too.
    deserializer.end().map_err(|e| {
        ApiError::from(reelgraph::Error::InvalidJson {
            message: e.to_string(),
        })
    })?;
    Ok(value)
}

fn refusal(error: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = error.inner();
    let path = error.path().to_string();
    let path = if path == "." { String::new() } else { path };
    if !inner.is_data() {
        return reelgraph::Error::InvalidJson {
            message: inner.to_string(),
        }
        .into();
    }
    let text = inner.to_string();
    if let Some(field) = unknown_field(&text) {
        // The path ends with the unknown field itself.
        let path = if path.is_empty() {
            field.to_owned()
        } else {
            path
        };
        return ApiError::new(
            "unknown_field",
            format!("`{path}` is not a field of this body: {text}"),
        )
        .with_details(json!({"field": field, "path": path}));
    }
    let message = if path.is_empty() {
        text
    } else {
        format!("`{path}`: {text}")
    };
    ApiError::new("invalid_body", message).with_details(json!({"path": path}))
}

/// The field of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.find('`').map(|end| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Named {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        size: u32,
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path() {
        let error = parse::<Named>(br#"{"name": "a", "inner": {"size": 1, "colour": 2}}"#)
            .expect_err("refused");
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.code(), "unknown_field");
        assert_eq!(error.body.details["field"], "colour");
        assert_eq!(error.body.details["path"], "inner.colour");
    }

    #[test]
    fn malformed_json_is_a_400_and_a_wrong_type_a_422() {
        let error = parse::<Named>(br#"{"name": "a""#).expect_err("refused");
        assert_eq!(
            (error.status, error.code()),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );
        let error = parse::<Named>(br#"{"name": "a"} trailing"#).expect_err("refused");
        assert_eq!(error.code(), "invalid_json");
        let error = parse::<Named>(br#"{"name": 5}"#).expect_err("refused");
        assert_eq!(
            (error.status, error.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        );
        assert_eq!(error.body.details["path"], "name");
    }

    #[test]
    fn only_json_content_types_pass() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            check_content_type(&headers).expect_err("none").status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        headers.insert(CONTENT_TYPE, "text/plain".parse().expect("a header"));
        assert!(check_content_type(&headers).is_err());
        headers.insert(
            CONTENT_TYPE,
            "application/json; charset=utf-8".parse().expect("a header"),
        );
        assert!(check_content_type(&headers).is_ok());
        headers.insert(
            CONTENT_TYPE,
            "application/merge-patch+json".parse().expect("a header"),
        );
        assert!(check_content_type(&headers).is_ok());
    }
}
