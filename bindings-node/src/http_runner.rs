//! `HttpRunner`: a runner whose tasks go to a server's task service, where
//! remote workers do them. Taken wherever a runner is (`new Executor(...)`).

use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use reelgraph::remote::HttpRunnerConfig;

use crate::convert::string_arg;
use crate::errors::js;

#[napi]
#[derive(Debug)]
pub struct HttpRunner {
    pub(crate) inner: Arc<reelgraph::remote::HttpRunner>,
}

#[napi]
impl HttpRunner {
    /// A runner for the server of `configJson` (the core's
    /// `HttpRunnerConfig`: `{server, key, priority, request_timeout_ms,
    /// give_up_after_ms}`); makes no request yet.
    #[napi(constructor)]
    pub fn new(config_json: Unknown<'_>) -> napi::Result<Self> {
        let config: HttpRunnerConfig =
            js(reelgraph::from_json(&string_arg(config_json, "options")?))?;
        Ok(HttpRunner {
            inner: Arc::new(js(reelgraph::remote::HttpRunner::new(config))?),
        })
    }

    /// The server's base URL.
    #[napi(getter)]
    pub fn server(&self) -> String {
        self.inner.config().server.clone()
    }
}
