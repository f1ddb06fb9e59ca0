//! `Catalog`: the node types a canvas knows. Clones share one registry, so
//! a type registered after a canvas was made is seen by that canvas too.

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::convert::{string_arg, to_text};
use crate::errors::{core_error, js};

#[napi]
#[derive(Debug)]
pub struct Catalog {
    pub(crate) inner: reelgraph::Catalog,
}

#[napi]
impl Catalog {
    /// A catalogue with the built-in node types.
    #[napi(constructor)]
    pub fn new() -> Self {
        Catalog::builtin()
    }

    /// A catalogue with the built-in node types.
    #[napi(factory, configurable = true)]
    pub fn builtin() -> Self {
        Catalog {
            inner: reelgraph::Catalog::builtin(),
        }
    }

    /// Registers a node-type spec, or an array of them (all or none), from
    /// JSON text; returns the registered type names.
    #[napi(ts_args_type = "text: string")]
    pub fn register_json(&self, text: Unknown<'_>) -> napi::Result<Vec<String>> {
        self.register_text(&string_arg(text, "text")?)
    }

    /// Registers the node-type specs of a JSON file.
    #[napi(ts_args_type = "path: string")]
    pub fn register_file(&self, path: Unknown<'_>) -> napi::Result<Vec<String>> {
        let path = string_arg(path, "path")?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            core_error(&reelgraph::Error::Io {
                action: "read",
                path: path.clone(),
                message: e.to_string(),
            })
        })?;
        self.register_text(&text)
    }

    /// The names of every registered type, sorted.
    #[napi]
    pub fn types(&self) -> Vec<String> {
        self.inner.type_names()
    }

    /// The spec of a type as JSON text, or `null` when it is not registered.
    #[napi(ts_args_type = "typeName: string")]
    pub fn spec_json(&self, type_name: Unknown<'_>) -> napi::Result<Option<String>> {
        let name = string_arg(type_name, "typeName")?;
        self.inner
            .get(&name)
            .map(|spec| to_text(spec.as_ref()))
            .transpose()
    }
}

impl Catalog {
    fn register_text(&self, text: &str) -> napi::Result<Vec<String>> {
        let specs = js(self.inner.register_json(text))?;
        Ok(specs.iter().map(|s| s.type_name.to_string()).collect())
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::builtin()
    }
}
