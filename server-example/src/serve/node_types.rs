//! `/v1/node-types`: the catalogue the server reads canvases with, listed,
//! read one type at a time, and extended.
//!
//! The catalogue is shared by every canvas, so registering a type takes the
//! `admin` scope. A registered spec is kept in the server's database
//! (table `node_types`) and registered again at every start, before any
//! canvas is read. Registering never changes a run in flight: a loaded
//! canvas holds the spec of each node as it was when the node was read, and
//! a new version reaches a canvas only when it is read again (its nodes are
//! then migrated).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reelgraph::{Catalog, NodeTypeSpec};
use serde::{Deserialize, Serialize};

use super::api_error::ApiResult;
use super::canvases::encode_segment;
use super::etag;
use super::json::StrictJson;
use super::pagination::{self, CursorKind};
use super::query::StrictQuery;
use super::registry::{Registry, Route, Scope};
use super::server_db::ServerDb;
use super::state::AppState;

/// The steps of the `node_types` tables (see `server_db`).
const MIGRATIONS: &[&str] = &["CREATE TABLE node_types (
        type_name     TEXT NOT NULL,
        version       INTEGER NOT NULL,
        spec          TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        PRIMARY KEY (type_name, version)
    )"];

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::get(
            "/v1/node-types",
            "listNodeTypes",
            "List node types, ordered by name",
        )
        .query::<ListNodeTypes>()
        .response::<NodeTypePage>(200, "A page of node specs; pass `next_cursor` for the next"),
        get(list),
    );
    routes.add(
        Route::get(
            "/v1/node-types/{type}",
            "getNodeType",
            "Get the current spec of a node type",
        )
        .header(
            "If-None-Match",
            "An ETag of this spec: 304 while it is current",
            false,
        )
        .response::<NodeTypeSpec>(200, "The spec, with its ETag")
        .empty_response(304, "The spec is still at the `If-None-Match` ETag"),
        get(get_one),
    );
    routes.add(
        Route::post(
            "/v1/node-types",
            "registerNodeType",
            "Register a node type, or a new version of one",
        )
        .scope(Scope::Admin)
        .request::<NodeTypeSpec>()
        .response::<NodeTypeSpec>(201, "The spec as registered; `Location` says where it is"),
        post(register_one),
    );
}

/// The query of `GET /v1/node-types`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListNodeTypes {
    /// The `next_cursor` of the previous page; left out for the first.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many types, 1 to 200 (default 50).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 200))]
    pub limit: Option<String>,
    /// Only types of this category (`story`, `assets`, `generation`, `post`,
    /// `output`, `comfyui` or a user's own).
    #[serde(default)]
    pub category: Option<String>,
}

/// A page of node types, ordered by name.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeTypePage {
    pub items: Vec<Arc<NodeTypeSpec>>,
    /// Pass this as the next query's cursor; none on the last page.
    pub next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ListNodeTypes>,
) -> ApiResult<Json<NodeTypePage>> {
    let limit = pagination::limit(query.limit.as_deref())? as usize;
    let after = match &query.cursor {
        Some(cursor) => Some(pagination::decode(CursorKind::NodeTypes, cursor)?),
        None => None,
    };
    let mut items: Vec<Arc<NodeTypeSpec>> = state
        .catalog
        .types()
        .into_iter()
        .filter(|spec| after.as_deref().is_none_or(|a| &*spec.type_name > a))
        .filter(|spec| query.category.as_deref().is_none_or(|c| spec.category == c))
        .take(limit + 1)
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = match items.last() {
        Some(last) if more => Some(pagination::encode(CursorKind::NodeTypes, &last.type_name)),
        _ => None,
    };
    Ok(Json(NodeTypePage { items, next_cursor }))
}

async fn get_one(
    State(state): State<AppState>,
    Path(type_name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let spec = state
        .catalog
        .get(&type_name)
        .ok_or(reelgraph::Error::NotFound {
            kind: "node type",
            id: type_name,
        })?;
    let json = serde_json::to_vec(&spec).map_err(reelgraph::Error::from)?;
    let tag = etag::of(&format!("{}-{}", spec.type_name, spec.version), &json);
    if etag::matches(&headers, &tag) {
        return Ok(etag::not_modified(&tag));
    }
    Ok(([(ETAG, etag::value(&tag))], Json(spec)).into_response())
}

async fn register_one(
    State(state): State<AppState>,
    StrictJson(spec): StrictJson<NodeTypeSpec>,
) -> ApiResult<Response> {
    let spec = save(&state.db, &state.catalog, spec).await?;
    if let Some(task) = &spec.task {
        state.metrics.expect_functions([task.function.as_str()]);
    }
    let location = format!("/v1/node-types/{}", encode_segment(&spec.type_name));
    let mut response = (StatusCode::CREATED, Json(spec)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Checks `spec`, stores it and registers it in `catalog`. Runs on the
/// database's one connection, so registrations never interleave: the type
/// is stored only when the catalogue would take it, and registered only
/// once it is stored.
async fn save(
    db: &ServerDb,
    catalog: &Catalog,
    spec: NodeTypeSpec,
) -> ApiResult<Arc<NodeTypeSpec>> {
    let catalog = catalog.clone();
    db.call(move |conn| {
        // A catalogue of its own checks the spec without touching the shared one.
        if let Err(e) = Catalog::empty().register(spec.clone()) {
            return Ok(Err(e));
        }
        if let Some(existing) = catalog.get(&spec.type_name)
            && existing.version >= spec.version
        {
            return Ok(Err(reelgraph::Error::DuplicateNodeType {
                type_name: spec.type_name.to_string(),
                version: existing.version,
            }));
        }
        let text = serde_json::to_string(&spec).map_err(|e| {
            rusqlite::Error::ToSqlConversionFailure(Box::new(e))
        })?;
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        conn.execute(
            "INSERT INTO node_types (type_name, version, spec, registered_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![&*spec.type_name, spec.version, text, now],
        )?;
        Ok(catalog.register(spec))
    })
    .await?
    .map_err(Into::into)
}

/// Makes the `node_types` table and registers every stored spec in
/// `catalog`, lowest version first. A spec the catalogue already has at
/// that version or above (a built-in that a newer server ships) is left
/// out, with a note on stderr. Returns how many were registered.
pub fn load(db: &ServerDb, catalog: &Catalog) -> reelgraph::Result<usize> {
    db.migrate("node_types", MIGRATIONS)?;
    let rows: Vec<(String, u32, String)> = db.blocking(|conn| {
        let mut statement = conn.prepare(
            "SELECT type_name, version, spec FROM node_types ORDER BY type_name, version",
        )?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    })?;
    let mut registered = 0;
    for (type_name, version, text) in rows {
        let result =
            reelgraph::from_json::<NodeTypeSpec>(&text).and_then(|spec| catalog.register(spec));
        match result {
            Ok(_) => registered += 1,
            Err(e) => eprintln!(
                "note: node type `{type_name}` version {version} is not registered again: {e}"
            ),
        }
    }
    Ok(registered)
}

/// A number that grows with every registration in the catalogue (a new
/// type, or a higher version of one): what a tag of anything the catalogue
/// shapes includes.
pub fn catalog_version(catalog: &Catalog) -> u64 {
    catalog
        .types()
        .iter()
        .map(|spec| u64::from(spec.version))
        .sum()
}

/// The version of `type_name` stored last, if any (for tests of `load`).
#[cfg(test)]
fn stored_version(db: &ServerDb, type_name: &str) -> Option<u32> {
    db.blocking(|conn| {
        conn.query_row(
            "SELECT max(version) FROM node_types WHERE type_name = ?1",
            [type_name],
            |row| row.get::<_, Option<u32>>(0),
        )
    })
    .expect("the table reads")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(version: u32) -> NodeTypeSpec {
        reelgraph::from_json(&format!(
            r#"{{"type": "lut_grade", "version": {version}, "category": "post", "title": "LUT grade",
                "inputs": [{{"name": "image", "type": "image", "required": true}}],
                "outputs": [{{"name": "image", "type": "image"}}]}}"#
        ))
        .expect("a spec")
    }

    #[tokio::test]
    async fn a_registered_type_is_there_after_a_restart_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = ServerDb::open(&dir.path().join("server.sqlite")).expect("opens");
        let catalog = Catalog::builtin();
        assert_eq!(load(&db, &catalog).expect("loads"), 0);
        save(&db, &catalog, spec(1)).await.expect("registers");
        save(&db, &catalog, spec(2)).await.expect("a new version");
        let duplicate = save(&db, &catalog, spec(2))
            .await
            .expect_err("the same version");
        assert_eq!(
            (duplicate.status.as_u16(), duplicate.code()),
            (409, "duplicate_node_type")
        );
        let mut bad = spec(3);
        bad.inputs.push(bad.inputs[0].clone());
        let invalid = save(&db, &catalog, bad)
            .await
            .expect_err("two inputs of one name");
        assert_eq!(
            (invalid.status.as_u16(), invalid.code()),
            (422, "invalid_spec")
        );
        assert_eq!(
            stored_version(&db, "lut_grade"),
            Some(2),
            "nothing refused is stored"
        );

        let restarted = Catalog::builtin();
        assert_eq!(load(&db, &restarted).expect("loads again"), 2);
        assert_eq!(restarted.get("lut_grade").map(|s| s.version), Some(2));
    }
}
