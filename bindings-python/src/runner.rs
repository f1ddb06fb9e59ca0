//! `LocalRunner`: Python functions (plain or `async def`) registered by
//! name, and the demo functions of `reelgraph-demo`.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use reelgraph::runner::LocalRunner;

use crate::function_call::{self, PyFunction};

/// Runs tasks with functions registered in this process. Register with the
/// decorator `@runner.function("image.generate")` or `runner.register(name,
/// fn)`, before or after an executor uses the runner; a name registered
/// again replaces the function for tasks that start afterwards.
#[pyclass(name = "LocalRunner", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyLocalRunner {
    pub inner: LocalRunner,
}

#[pymethods]
impl PyLocalRunner {
    #[new]
    fn new() -> Self {
        PyLocalRunner {
            inner: LocalRunner::new(),
        }
    }

    /// A runner with the demo functions (storyboard frames, WAVs, an EDL, a
    /// contact sheet), writing their files under `out_dir`. Python functions
    /// can be registered beside them.
    #[staticmethod]
    fn with_demo_functions(out_dir: PathBuf) -> Self {
        let inner = LocalRunner::new();
        reelgraph_demo::register(&inner, out_dir);
        PyLocalRunner { inner }
    }

    /// A decorator registering the function it decorates as `name`, and
    /// returning it unchanged.
    fn function(&self, name: String) -> FunctionDecorator {
        FunctionDecorator {
            runner: self.inner.clone(),
            name,
        }
    }

    /// Registers `function` as `name`. It is called as `function(params,
    /// ctx)` and returns (or, for `async def`, resolves to) a dict of
    /// outputs by output port name.
    fn register(&self, name: &str, function: &Bound<'_, PyAny>) -> PyResult<()> {
        register(&self.inner, name, function)
    }

    /// Names of the registered functions, sorted.
    fn functions(&self) -> Vec<String> {
        self.inner.functions()
    }

    fn __repr__(&self) -> String {
        format!("LocalRunner(functions={:?})", self.inner.functions())
    }
}

/// What `@runner.function(name)` returns.
#[pyclass(module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct FunctionDecorator {
    runner: LocalRunner,
    name: String,
}

#[pymethods]
impl FunctionDecorator {
    fn __call__<'py>(&self, function: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        register(&self.runner, &self.name, &function)?;
        Ok(function)
    }
}

fn register(runner: &LocalRunner, name: &str, function: &Bound<'_, PyAny>) -> PyResult<()> {
    if !function.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "argument 'function': expected a callable taking (params, ctx), got {}",
            function.get_type().name()?
        )));
    }
    let function = Arc::new(PyFunction {
        name: name.to_owned(),
        callable: function.clone().unbind(),
    });
    runner.register(name, move |task, ctx| {
        function_call::call(function.clone(), task, ctx)
    });
    Ok(())
}
