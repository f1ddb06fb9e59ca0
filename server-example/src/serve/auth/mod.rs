//! Who may call what, and how often.
//!
//! - [`keys`]: API keys (`rg_` + 256 random bits, stored as a hash) and their
//!   scopes; [`key_routes`]: the admin routes that manage them.
//! - [`guard`]: the check every route that is not `Scope::Public` passes
//!   before its handler: a bearer key or a session cookie, the rate limit,
//!   CSRF for cookie requests that change state, the route's scope. The
//!   handler finds the caller's [`Principal`] in the request's extensions.
//! - [`session`] and [`session_store`]: browser sessions (`/v1/session`);
//!   [`csrf`]: their token and origin check.
//! - [`rate_limit`]: per-key and per-address limits; [`headers`]: the
//!   security headers of every response; [`cors`]: CORS for the origins of
//!   `--allowed-origin`; [`config`]: their flags.
//!
//! See `docs/server-security.md`.

pub mod config;
pub mod cors;
pub mod csrf;
pub mod guard;
pub mod headers;
pub mod key_routes;
pub mod keys;
pub mod rate_limit;
pub mod session;
pub mod session_store;

pub use self::config::SecurityArgs;
pub use self::guard::{Guard, require};
pub use self::keys::{KeyInfo, KeyStore, Lookup, Principal};

use super::registry::Registry;

/// The routes of keys and sessions.
pub fn register(routes: &mut Registry) {
    key_routes::register(routes);
    session::register(routes);
}
