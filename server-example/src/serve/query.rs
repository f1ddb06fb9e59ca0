//! The strict query-string extractor: [`StrictQuery`]. A parameter the
//! route does not have is 422 `unknown_field` naming it; a value of the
//! wrong shape 422 `invalid_body` naming the parameter (as for JSON bodies).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::api_error::ApiError;

/// Query parameters of type `T` (a struct that denies unknown fields).
#[derive(Debug, Clone)]
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query().unwrap_or("")).map(StrictQuery)
    }
}

/// Reads `T` from a query string.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let text = e.inner().to_string();
        let path = e.path().to_string();
        match text
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(field) => ApiError::new(
                "unknown_field",
                format!("the query has no parameter `{field}`: {text}"),
            )
            .with_details(json!({"field": field, "path": field})),
            None => ApiError::new("invalid_body", format!("query parameter `{path}`: {text}"))
                .with_details(json!({"path": path})),
        }
    })
}
