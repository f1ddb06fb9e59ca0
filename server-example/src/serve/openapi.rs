//! The OpenAPI 3.1 document, made from the route registry and served at
//! `/v1/openapi.json`.
//!
//! Component schemas are the core's (`reelgraph::schema::all()`, draft
//! 2020-12 as OpenAPI 3.1 reads them) and those of the server's own request
//! and response types; the `$defs` of each are moved into
//! `components.schemas`, so every `$ref` points into the document.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::api_error::ErrorEnvelope;
use super::registry::{Named, Registry, Route, Scope};

/// Where the document is served.
pub const PATH: &str = "/v1/openapi.json";

/// Registers `GET /v1/openapi.json`, which answers with what `document`
/// holds once every route is registered (see `app::app`).
pub fn register(routes: &mut Registry, document: Arc<OnceLock<Bytes>>) {
    routes.add(
        Route::get(PATH, "getOpenApi", "This OpenAPI 3.1 document")
            .tag("server")
            .scope(Scope::Read)
            .raw_response(
                200,
                "application/json",
                "The OpenAPI document of this server",
            ),
        get(move || {
            let body = document.get().cloned().unwrap_or_default();
            async move { ([(CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    );
}

/// The document describing `routes`.
pub fn document<'a>(routes: impl Iterator<Item = &'a Route>) -> Value {
    let mut schemas = Map::new();
    for (name, schema) in reelgraph::schema::all() {
        add_schema(&mut schemas, &name, schema.to_value());
    }
    let envelope = Named::of::<ErrorEnvelope>();
    add_schema(&mut schemas, &envelope.name, envelope.schema.to_value());

    let mut paths = Map::new();
    let mut tags: Vec<&str> = Vec::new();
    for route in routes {
        if !tags.contains(&route.tag) {
            tags.push(route.tag);
        }
        let operation = operation(route, &mut schemas);
        let item = paths
            .entry(route.path.replace("{*", "{"))
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "reelgraph",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST API of `reelgraph serve`: production canvases, node types, runs. \
                Every route but health and metrics needs `Authorization: Bearer <key>` with the scope \
                in its `x-required-scope`; every error is `{\"error\": {code, message, hint, details}}`.",
        },
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key, `rg_` and 64 hex digits"},
            },
        },
    })
}

fn operation(route: &Route, schemas: &mut Map<String, Value>) -> Value {
    let mut parameters = Vec::new();
    for segment in route.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            parameters.push(json!({
                "name": name.trim_start_matches('*'), "in": "path", "required": true,
                "schema": {"type": "string"},
            }));
        }
    }
    if let Some(query) = &route.query {
        parameters.extend(query_parameters(query, schemas));
    }
    for header in &route.headers {
        parameters.push(json!({
            "name": header.name, "in": "header", "required": header.required,
            "description": header.description, "schema": {"type": "string"},
        }));
    }
    let mut responses = Map::new();
    for response in &route.responses {
        let mut doc = json!({"description": response.description});
        if let Some((media_type, body)) = &response.body {
            let schema = match body {
                Some(named) => reference(schemas, named),
                None => json!({}),
            };
            doc["content"] = json!({ *media_type: {"schema": schema} });
        }
        responses.insert(response.status.to_string(), doc);
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "An error: the status and `error.code` say which",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        }),
    );
    let mut operation = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "x-required-scope": route.scope,
        "security": if route.scope == Scope::Public { json!([]) } else { json!([{"bearer": []}]) },
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(request) = &route.request {
        operation["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": reference(schemas, request)}},
        });
    }
    operation
}

/// A `$ref` to `named`, whose schema is added to the components.
fn reference(schemas: &mut Map<String, Value>, named: &Named) -> Value {
    add_schema(schemas, &named.name, named.schema.clone().to_value());
    json!({"$ref": format!("#/components/schemas/{}", named.name)})
}

/// One query parameter per property of the query type's object schema.
fn query_parameters(query: &Named, schemas: &mut Map<String, Value>) -> Vec<Value> {
    let mut schema = query.schema.clone().to_value();
    hoist(schemas, &mut schema);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut parameter = json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "schema": property,
            });
            if let Some(description) = property.get("description") {
                parameter["description"] = description.clone();
            }
            parameter
        })
        .collect()
}

/// Adds a root schema under `name`, its `$defs` beside it.
fn add_schema(schemas: &mut Map<String, Value>, name: &str, mut schema: Value) {
    if schemas.contains_key(name) {
        return;
    }
    hoist(schemas, &mut schema);
    schemas.insert(name.to_owned(), schema);
}

/// Moves `schema`'s `$defs` into the components and points its `$ref`s there.
fn hoist(schemas: &mut Map<String, Value>, schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(defs)) = object.remove("$defs") {
            for (name, def) in defs {
                add_schema(schemas, &name, def);
            }
        }
    }
    rewrite_refs(schema);
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(target)) = object.get_mut("$ref")
                && let Some(name) = target.strip_prefix("#/$defs/")
            {
                *target = format!("#/components/schemas/{name}");
            }
            object.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of the document names a schema it has.
    #[test]
    fn every_reference_resolves() {
        let mut routes = Registry::new();
        register(&mut routes, Arc::default());
        let document = document(routes.routes());
        let mut refs = Vec::new();
        collect_refs(&document, &mut refs);
        assert!(refs.len() > 20, "only {} refs", refs.len());
        for target in refs {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{target} points outside the components"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{target} is missing"
            );
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                if let Some(Value::String(target)) = object.get("$ref") {
                    out.push(target.clone());
                }
                object.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
