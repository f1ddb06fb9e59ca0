//! Pages of lists that can grow: a `limit` of 1 to [`MAX_LIMIT`] (422
//! `invalid_field` otherwise) and an opaque `cursor` (400 `invalid_cursor`
//! when it is not one this server made for this list).
//!
//! A cursor is a kind letter and the hex of where the page ended: the last
//! canvas id (`c...`), the last revision (`v...`), the last node type (`t...`), the last task (`q...`). Clients pass the
//! `next_cursor` of a page back unchanged; they never build one.

use serde::Deserialize;

use super::api_error::ApiError;
use super::random::{hex, unhex};

/// The largest page.
pub const MAX_LIMIT: u32 = 200;
/// The page size when `limit` is left out.
pub const DEFAULT_LIMIT: u32 = 50;

/// `limit` as the client sent it, checked by [`limit`].
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page; left out for the first.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many items, 1 to 200 (default 50).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 200))]
    pub limit: Option<String>,
}

/// The page size `given`, or why it is refused. Read as text, so that a
/// number too large for any integer type gets the same answer as 201.
pub fn limit(given: Option<&str>) -> Result<u32, ApiError> {
    let Some(text) = given else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.trim().parse::<i128>() {
        Ok(n) if (1..=i128::from(MAX_LIMIT)).contains(&n) => {
            Ok(u32::try_from(n).unwrap_or(MAX_LIMIT))
        }
        _ => Err(reelgraph::Error::InvalidField {
            field: "limit",
            message: format!("`{text}` is not a page size from 1 to {MAX_LIMIT}"),
        }
        .into()),
    }
}

/// The kinds of list a cursor can belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    Canvases,
    Versions,
    Runs,
    Keys,
    NodeTypes,
    Tasks,
}

impl CursorKind {
    fn letter(self) -> char {
        match self {
            CursorKind::Canvases => 'c',
            CursorKind::Versions => 'v',
            CursorKind::Runs => 'r',
            CursorKind::Keys => 'k',
            CursorKind::NodeTypes => 't',
            CursorKind::Tasks => 'q',
        }
    }
}

/// The cursor of a page that ended at `position`.
pub fn encode(kind: CursorKind, position: &str) -> String {
    format!("{}{}", kind.letter(), hex(position.as_bytes()))
}

/// Where the page of `cursor` ended, or 400 `invalid_cursor`.
pub fn decode(kind: CursorKind, cursor: &str) -> Result<String, ApiError> {
    cursor
        .strip_prefix(kind.letter())
        .and_then(unhex)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|position| !position.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                "invalid_cursor",
                format!(
                    "`{}` is not a cursor of this list",
                    cursor.chars().take(80).collect::<String>()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_to_two_hundred_are_refused() {
        assert_eq!(limit(None).expect("default"), DEFAULT_LIMIT);
        assert_eq!(limit(Some("200")).expect("the largest"), 200);
        for bad in ["0", "-1", "201", "99999999999999999999999999", "ten", ""] {
            let error = limit(Some(bad)).expect_err(bad);
            assert_eq!(
                (error.status.as_u16(), error.code()),
                (422, "invalid_field"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let cursor = encode(CursorKind::Canvases, "shot/1 ü");
        assert_eq!(
            decode(CursorKind::Canvases, &cursor).expect("ours"),
            "shot/1 ü"
        );
        for bad in [
            "",
            "c",
            "cz1",
            "c4",
            "../etc",
            &encode(CursorKind::Versions, "3"),
        ] {
            let error = decode(CursorKind::Canvases, bad).expect_err(bad);
            assert_eq!(
                (error.status.as_u16(), error.code()),
                (400, "invalid_cursor")
            );
        }
    }
}
