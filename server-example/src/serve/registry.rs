//! The route registry: every route is registered once, with what the
//! OpenAPI document says about it, and the registry builds both the axum
//! [`Router`] and the document from the same list, so neither can have a
//! route the other lacks.
//!
//! To add routes, write a `pub fn register(routes: &mut Registry)` in your
//! module and call it from `app::routes`:
//!
//! ```ignore
//! routes.add(
//!     Route::get("/v1/canvases/{id}", "getCanvas", "Get a canvas")
//!         .scope(Scope::Read)
//!         .response::<CanvasDocument>(200, "The canvas")
//!         .empty_response(304, "Not modified since the `If-None-Match` ETag"),
//!     axum::routing::get(get_canvas),
//! );
//! ```
//!
//! The scope is enforced by the registry (the bearer check of `auth` runs
//! before the handler of every route that is not `Scope::Public`). Request
//! and response types derive `schemars::JsonSchema`; their schemas (and the
//! core's, `reelgraph::schema::all()`) become the document's components.
//! Error responses need no declaration: every operation documents the
//! `ErrorEnvelope` as its `default` response.

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::MethodRouter;
use schemars::{JsonSchema, Schema};
use serde::Serialize;

use super::auth;
use super::state::AppState;

/// What a caller's key must allow for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// No key needed (health and metrics).
    Public,
    /// Reads: GET of canvases, node types, runs.
    Read,
    /// Edits: create, replace, patch, delete.
    Write,
    /// Starting and cancelling runs.
    Run,
    /// Managing keys.
    Admin,
}

impl Scope {
    /// The scopes a key can hold, as the wire spells them.
    pub const GRANTABLE: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Run, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Public => "public",
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Run => "run",
            Scope::Admin => "admin",
        }
    }

    /// The scope named `name`, if a key can hold it.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::GRANTABLE.into_iter().find(|s| s.as_str() == name)
    }
}

/// A named JSON Schema of a request or response type.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub schema: Schema,
}

impl Named {
    pub fn of<T: JsonSchema>() -> Named {
        let (name, schema) = reelgraph::schema::root::<T>();
        Named { name, schema }
    }
}

/// One documented response of a route.
#[derive(Debug, Clone)]
pub struct ResponseDoc {
    pub status: u16,
    pub description: &'static str,
    /// The body's media type and schema; none for an empty body.
    pub body: Option<(&'static str, Option<Named>)>,
}

/// A header a route reads.
#[derive(Debug, Clone)]
pub struct HeaderDoc {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// What the OpenAPI document says about one route.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    /// axum's path syntax, which is OpenAPI's: `/v1/canvases/{id}`.
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub scope: Scope,
    /// The JSON body it reads, if any.
    pub request: Option<Named>,
    /// The query parameters, as the properties of one object type.
    pub query: Option<Named>,
    pub headers: Vec<HeaderDoc>,
    pub responses: Vec<ResponseDoc>,
    /// A group in the document (`canvases`, `runs`, ...): the path's second segment.
    pub tag: &'static str,
}

impl Route {
    pub fn new(
        method: Method,
        path: &'static str,
        operation_id: &'static str,
        summary: &'static str,
    ) -> Route {
        let tag = path.split('/').nth(2).unwrap_or("server");
        Route {
            method,
            path,
            operation_id,
            summary,
            scope: Scope::Read,
            request: None,
            query: None,
            headers: Vec::new(),
            responses: Vec::new(),
            tag,
        }
    }

    pub fn get(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
        Route::new(Method::GET, path, operation_id, summary)
    }

    pub fn post(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
        Route::new(Method::POST, path, operation_id, summary)
    }

    pub fn put(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
        Route::new(Method::PUT, path, operation_id, summary)
    }

    pub fn patch(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
        Route::new(Method::PATCH, path, operation_id, summary)
    }

    pub fn delete(path: &'static str, operation_id: &'static str, summary: &'static str) -> Route {
        Route::new(Method::DELETE, path, operation_id, summary)
    }

    /// The group of the route in the document (default: the path's second
    /// segment, `canvases` for `/v1/canvases/...`).
    pub fn tag(mut self, tag: &'static str) -> Route {
        self.tag = tag;
        self
    }

    /// The scope a key needs (default `Read`).
    pub fn scope(mut self, scope: Scope) -> Route {
        self.scope = scope;
        self
    }

    /// The route reads a JSON body of type `T`.
    pub fn request<T: JsonSchema>(mut self) -> Route {
        self.request = Some(Named::of::<T>());
        self
    }

    /// The route reads query parameters, the fields of `T`.
    pub fn query<T: JsonSchema>(mut self) -> Route {
        self.query = Some(Named::of::<T>());
        self
    }

    /// The route reads this header.
    pub fn header(
        mut self,
        name: &'static str,
        description: &'static str,
        required: bool,
    ) -> Route {
        self.headers.push(HeaderDoc {
            name,
            description,
            required,
        });
        self
    }

    /// The route answers `status` with a JSON body of type `T`.
    pub fn response<T: JsonSchema>(mut self, status: u16, description: &'static str) -> Route {
        self.responses.push(ResponseDoc {
            status,
            description,
            body: Some(("application/json", Some(Named::of::<T>()))),
        });
        self
    }

    /// The route answers `status` with a body of another media type
    /// (no schema: SVG, Prometheus text, a file).
    pub fn raw_response(
        mut self,
        status: u16,
        media_type: &'static str,
        description: &'static str,
    ) -> Route {
        self.responses.push(ResponseDoc {
            status,
            description,
            body: Some((media_type, None)),
        });
        self
    }

    /// The route answers `status` with no body.
    pub fn empty_response(mut self, status: u16, description: &'static str) -> Route {
        self.responses.push(ResponseDoc {
            status,
            description,
            body: None,
        });
        self
    }
}

/// Every route of the server with its handler.
#[derive(Debug, Default)]
pub struct Registry {
    routes: Vec<(Route, MethodRouter<AppState>)>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers a route. `handler` is the axum method router of the one
    /// method `route` names (`axum::routing::get(handler)`, ...).
    ///
    /// # Panics
    ///
    /// When the method and path, or the operation id, are registered already.
    pub fn add(&mut self, route: Route, handler: MethodRouter<AppState>) {
        for (known, _) in &self.routes {
            assert!(
                !(known.method == route.method && known.path == route.path),
                "{} {} is registered twice",
                route.method,
                route.path
            );
            assert!(
                known.operation_id != route.operation_id,
                "operation id {} is used twice",
                route.operation_id
            );
        }
        self.routes.push((route, handler));
    }

    /// What the document says about every route, in registration order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter().map(|(route, _)| route)
    }

    /// The router of every route, each behind the check of its scope.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        let mut router = Router::new();
        for (route, handler) in self.routes {
            let handler = if route.scope == Scope::Public {
                handler
            } else {
                let guard = auth::Guard {
                    state: state.clone(),
                    scope: route.scope,
                };
                handler.route_layer(from_fn_with_state(Arc::new(guard), auth::require))
            };
            router = router.route(route.path, handler);
        }
        router
    }
}
