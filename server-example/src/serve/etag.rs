//! ETags of what the server reads out (canvases, exports, specs) and the
//! `If-None-Match` check that answers 304.
//!
//! A tag is strong and quoted: a prefix that says which version it is (a
//! revision, a type's version) and a hash of the bytes, so a thing deleted
//! and made again at the same version gets another tag.

use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The ETag of `bytes`, read at version `prefix`: `"<prefix>-<hash>"`.
pub fn of(prefix: &str, bytes: &[u8]) -> String {
    let hash = blake3::hash(bytes);
    format!("\"{prefix}-{}\"", &hash.to_hex()[..16])
}

/// `tag` as a header value.
pub fn value(tag: &str) -> HeaderValue {
    HeaderValue::from_str(tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Whether the request's `If-None-Match` names `tag`.
pub fn matches(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| list_names(given, tag))
}

/// Whether an `If-None-Match` list names `tag` (weak comparison).
pub fn list_names(given: &str, tag: &str) -> bool {
    given
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

/// 304 with the tag.
pub fn not_modified(tag: &str) -> Response {
    (StatusCode::NOT_MODIFIED, [(ETAG, value(tag))]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_are_compared_weakly() {
        assert!(list_names("\"1-a\", W/\"2-b\"", "\"2-b\""));
        assert!(list_names("*", "\"2-b\""));
        assert!(!list_names("\"2-c\"", "\"2-b\""));
    }
}
