//! Formats: React Flow both ways, ComfyUI import (workflows and API
//! prompts) and API-prompt export, any format sniffed, and DOT, Mermaid and
//! SVG out. Data crosses as JSON text, like documents (see `convert.rs`).

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use reelgraph::format::comfyui::{self, ImportOptions, ObjectInfo};
use reelgraph::format::{self, Format, react_flow};
use reelgraph::render::{self, SvgOptions};
use serde_json::Value;

use crate::canvas::{Canvas, catalog_arg};
use crate::convert::{optional_string_arg, string_arg, to_text};
use crate::errors::js;

#[napi]
impl Canvas {
    /// The canvas as a React Flow / Svelte Flow object (`nodes`, `edges`,
    /// `viewport`), as JSON text.
    #[napi]
    pub fn to_react_flow_json(&self) -> napi::Result<String> {
        to_text(&react_flow::export_canvas(&self.lock()))
    }

    /// A canvas from a React Flow / Svelte Flow object given as JSON text.
    #[napi(
        factory,
        configurable = true,
        ts_args_type = "data: string, catalog?: Catalog | null"
    )]
    pub fn from_react_flow_json(
        data: Unknown<'_>,
        catalog: Option<Unknown<'_>>,
    ) -> napi::Result<Canvas> {
        let text = string_arg(data, "data")?;
        let catalog = catalog_arg(catalog)?;
        let flow = js(react_flow::import_json(&catalog, &text))?;
        Ok(Canvas::wrap(js(reelgraph::Canvas::from_document(
            catalog,
            flow.canvas,
        ))?))
    }

    /// The ComfyUI API prompt of the canvas (`{prompt, left_out,
    /// diagnostics}`), as JSON text.
    #[napi]
    pub fn to_comfyui_prompt_json(&self) -> napi::Result<String> {
        to_text(&comfyui::export_api_prompt(&self.lock()))
    }

    /// The canvas as a Graphviz DOT graph.
    #[napi]
    pub fn to_dot(&self) -> String {
        render::to_dot(&self.lock())
    }

    /// The canvas as a Mermaid flowchart.
    #[napi]
    pub fn to_mermaid(&self) -> String {
        render::to_mermaid(&self.lock())
    }

    /// The canvas as an SVG picture; `options` is an `SvgOptions` as JSON text.
    #[napi(ts_args_type = "options?: string | null")]
    pub fn to_svg_json(&self, options: Option<Unknown<'_>>) -> napi::Result<String> {
        let options: SvgOptions = match optional_string_arg(options, "options")? {
            Some(text) => js(reelgraph::from_json(&text))?,
            None => SvgOptions::default(),
        };
        Ok(render::to_svg(&self.lock(), &options))
    }
}

/// Reads a canvas in whatever format `data` (JSON text) is in, or in
/// `format`; ComfyUI node classes are registered in `catalog`. Returns the
/// core's `Imported` as JSON text.
#[napi(ts_args_type = "data: string, catalog?: Catalog | null, format?: Format | null")]
pub fn import_any_json(
    data: Unknown<'_>,
    catalog: Option<Unknown<'_>>,
    format: Option<Unknown<'_>>,
) -> napi::Result<String> {
    let text = string_arg(data, "data")?;
    let catalog = catalog_arg(catalog)?;
    let format = match optional_string_arg(format, "format")? {
        Some(name) => Some(js(reelgraph::from_value::<Format>(Value::String(name)))?),
        None => None,
    };
    to_text(&js(format::import_any(&catalog, &text, format))?)
}

/// Reads a ComfyUI workflow or API prompt (JSON text), registering its node
/// classes in `catalog`; `objectInfo` (JSON text of a server's
/// `/object_info`) names widgets the workflow does not. Returns the core's
/// ComfyUI `Import` as JSON text.
#[napi(ts_args_type = "data: string, catalog?: Catalog | null, objectInfo?: string | null")]
pub fn import_comfyui_json(
    data: Unknown<'_>,
    catalog: Option<Unknown<'_>>,
    object_info: Option<Unknown<'_>>,
) -> napi::Result<String> {
    let text = string_arg(data, "data")?;
    let catalog = catalog_arg(catalog)?;
    let mut options = ImportOptions::default();
    if let Some(info) = optional_string_arg(object_info, "objectInfo")? {
        options = options.object_info(js(ObjectInfo::from_json(&info))?);
    }
    to_text(&js(comfyui::import_with(&catalog, &text, &options))?)
}

/// The format of `data` (JSON text): `native`, `react_flow`,
/// `comfyui_workflow` or `comfyui_api`.
#[napi(ts_args_type = "data: string", ts_return_type = "Format")]
pub fn detect_format(data: Unknown<'_>) -> napi::Result<String> {
    let text = string_arg(data, "data")?;
    Ok(js(format::detect(&text))?.as_str().to_owned())
}
