//! What a `runner` argument may be: a `LocalRunner` or an `HttpRunner`.

use std::sync::Arc;

use napi::Either;
use reelgraph::runner::FunctionRunner;

use crate::http_runner::HttpRunner;
use crate::runner::LocalRunner;

/// The core runner behind a runner argument.
pub(crate) fn runner_of(runner: Either<&LocalRunner, &HttpRunner>) -> Arc<dyn FunctionRunner> {
    match runner {
        Either::A(local) => Arc::new(local.inner.clone()),
        Either::B(http) => http.inner.clone(),
    }
}
