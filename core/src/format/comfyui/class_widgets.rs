//! The widget input names of ComfyUI's core node classes, in widget order,
//! as ComfyUI defines them (`INPUT_TYPES` of `nodes.py` and `comfy_extras`).
//! A workflow that does not name its widgets (no `widgets_values_named`, no
//! `widget: {name}` on its inputs) gets them from here, or from a server's
//! `/object_info` ([`ObjectInfo`]).
//!
//! Seed control values (`control_after_generate`) are not listed: they are
//! recognised where a spare value follows an integer. `upload` and `audioUI`
//! are editor-only widgets; they are named so their values line up, and API
//! export leaves them out.

use std::collections::HashMap;

use super::ordered_json::Json;
use crate::error::{Error, Result};

/// Class name, then its widget names. A class listed twice has had two
/// layouts across ComfyUI versions; the one that lines up with the values wins.
const CORE: &[(&str, &[&str])] = &[
    ("BasicScheduler", &["scheduler", "steps", "denoise"]),
    ("CFGGuider", &["cfg"]),
    ("CFGNorm", &["strength"]),
    ("CLIPLoader", &["clip_name", "type", "device"]),
    ("CLIPLoader", &["clip_name", "type"]),
    ("CLIPSetLastLayer", &["stop_at_clip_layer"]),
    ("CLIPTextEncode", &["text"]),
    ("CLIPTextEncodeFlux", &["clip_l", "t5xxl", "guidance"]),
    (
        "CLIPTextEncodeSDXL",
        &[
            "width",
            "height",
            "crop_w",
            "crop_h",
            "target_width",
            "target_height",
            "text_g",
            "text_l",
        ],
    ),
    (
        "CLIPTextEncodeSDXLRefiner",
        &["ascore", "width", "height", "text"],
    ),
    ("CLIPVisionEncode", &["crop"]),
    ("CLIPVisionLoader", &["clip_name"]),
    ("Canny", &["low_threshold", "high_threshold"]),
    ("CheckpointLoader", &["config_name", "ckpt_name"]),
    ("CheckpointLoaderSimple", &["ckpt_name"]),
    ("ConditioningAverage", &["conditioning_to_strength"]),
    ("ConditioningSetTimestepRange", &["start", "end"]),
    ("ControlNetApply", &["strength"]),
    (
        "ControlNetApplyAdvanced",
        &["strength", "start_percent", "end_percent"],
    ),
    ("ControlNetLoader", &["control_net_name"]),
    ("CreateVideo", &["fps"]),
    (
        "DualCLIPLoader",
        &["clip_name1", "clip_name2", "type", "device"],
    ),
    ("DualCLIPLoader", &["clip_name1", "clip_name2", "type"]),
    ("EmptyAceStepLatentAudio", &["seconds", "batch_size"]),
    (
        "EmptyCosmosLatentVideo",
        &["width", "height", "length", "batch_size"],
    ),
    ("EmptyFlux2LatentImage", &["width", "height", "batch_size"]),
    (
        "EmptyHunyuanLatentVideo",
        &["width", "height", "length", "batch_size"],
    ),
    ("EmptyLatentAudio", &["seconds", "batch_size"]),
    ("EmptyLatentImage", &["width", "height", "batch_size"]),
    (
        "EmptyLTXVLatentVideo",
        &["width", "height", "length", "batch_size"],
    ),
    (
        "EmptyMochiLatentVideo",
        &["width", "height", "length", "batch_size"],
    ),
    ("EmptySD3LatentImage", &["width", "height", "batch_size"]),
    ("Flux2Scheduler", &["steps", "width", "height"]),
    ("FluxGuidance", &["guidance"]),
    (
        "FluxKontextMultiReferenceLatentMethod",
        &["reference_latents_method"],
    ),
    ("ImageCrop", &["width", "height", "x", "y"]),
    ("ImageFromBatch", &["batch_index", "length"]),
    (
        "ImagePadForOutpaint",
        &["left", "top", "right", "bottom", "feathering"],
    ),
    ("ImageScale", &["upscale_method", "width", "height", "crop"]),
    ("ImageScaleBy", &["upscale_method", "scale_by"]),
    (
        "ImageScaleToTotalPixels",
        &["upscale_method", "megapixels", "resolution_steps"],
    ),
    ("ImageScaleToTotalPixels", &["upscale_method", "megapixels"]),
    (
        "ImageStitch",
        &[
            "direction",
            "match_image_size",
            "spacing_width",
            "spacing_color",
        ],
    ),
    ("ImageOnlyCheckpointLoader", &["ckpt_name"]),
    ("ImageToMask", &["channel"]),
    ("InpaintModelConditioning", &["noise_mask"]),
    (
        "KSampler",
        &[
            "seed",
            "steps",
            "cfg",
            "sampler_name",
            "scheduler",
            "denoise",
        ],
    ),
    (
        "KSamplerAdvanced",
        &[
            "add_noise",
            "noise_seed",
            "steps",
            "cfg",
            "sampler_name",
            "scheduler",
            "start_at_step",
            "end_at_step",
            "return_with_leftover_noise",
        ],
    ),
    ("KSamplerSelect", &["sampler_name"]),
    ("LatentConcat", &["dim"]),
    ("LatentFromBatch", &["batch_index", "length"]),
    (
        "LatentUpscale",
        &["upscale_method", "width", "height", "crop"],
    ),
    ("LatentUpscaleBy", &["upscale_method", "scale_by"]),
    ("LoadAudio", &["audio", "audioUI", "upload"]),
    ("LoadImage", &["image", "upload"]),
    ("LoadImageMask", &["image", "channel", "upload"]),
    ("LoadVideo", &["file", "upload"]),
    (
        "LoraLoader",
        &["lora_name", "strength_model", "strength_clip"],
    ),
    ("LoraLoaderModelOnly", &["lora_name", "strength_model"]),
    ("LTXVAddGuide", &["frame_idx", "strength"]),
    ("LTXVConditioning", &["frame_rate"]),
    ("LTXVPreprocess", &["img_compression"]),
    (
        "LTXVScheduler",
        &["steps", "max_shift", "base_shift", "stretch", "terminal"],
    ),
    ("ManualSigmas", &["sigmas"]),
    ("ModelSamplingAuraFlow", &["shift"]),
    ("ModelSamplingDiscrete", &["sampling", "zsnr"]),
    (
        "ModelSamplingFlux",
        &["max_shift", "base_shift", "width", "height"],
    ),
    ("ModelSamplingLTXV", &["max_shift", "base_shift"]),
    ("ModelSamplingSD3", &["shift"]),
    ("PrimitiveBoolean", &["value"]),
    ("PrimitiveFloat", &["value"]),
    ("PrimitiveInt", &["value"]),
    ("PrimitiveString", &["value"]),
    ("PrimitiveStringMultiline", &["value"]),
    ("RandomNoise", &["noise_seed"]),
    ("RepeatLatentBatch", &["amount"]),
    (
        "ResizeAndPadImage",
        &[
            "target_width",
            "target_height",
            "padding_color",
            "interpolation",
        ],
    ),
    ("SamplerCustom", &["add_noise", "noise_seed", "cfg"]),
    (
        "SaveAnimatedPNG",
        &["filename_prefix", "fps", "compress_level"],
    ),
    (
        "SaveAnimatedWEBP",
        &["filename_prefix", "fps", "lossless", "quality", "method"],
    ),
    ("SaveImage", &["filename_prefix"]),
    ("SaveVideo", &["filename_prefix", "format", "codec"]),
    ("SaveWEBM", &["filename_prefix", "codec", "fps", "crf"]),
    ("SplitSigmas", &["step"]),
    ("SplitSigmasDenoise", &["denoise"]),
    ("StringConcatenate", &["string_a", "string_b", "delimiter"]),
    ("StringReplace", &["string", "find", "replace"]),
    (
        "SVD_img2vid_Conditioning",
        &[
            "width",
            "height",
            "video_frames",
            "motion_bucket_id",
            "fps",
            "augmentation_level",
        ],
    ),
    ("TextEncodeQwenImageEdit", &["prompt"]),
    ("TextEncodeQwenImageEditPlus", &["prompt"]),
    (
        "TripleCLIPLoader",
        &["clip_name1", "clip_name2", "clip_name3"],
    ),
    ("UNETLoader", &["unet_name", "weight_dtype"]),
    ("UpscaleModelLoader", &["model_name"]),
    (
        "VAEDecodeTiled",
        &["tile_size", "overlap", "temporal_size", "temporal_overlap"],
    ),
    ("VAEDecodeTiled", &["tile_size"]),
    ("VAEEncodeForInpaint", &["grow_mask_by"]),
    (
        "VAEEncodeTiled",
        &["tile_size", "overlap", "temporal_size", "temporal_overlap"],
    ),
    ("VAELoader", &["vae_name"]),
    ("VideoLinearCFGGuidance", &["min_cfg"]),
    (
        "Wan22ImageToVideoLatent",
        &["width", "height", "length", "batch_size"],
    ),
    (
        "WanFirstLastFrameToVideo",
        &["width", "height", "length", "batch_size"],
    ),
    (
        "WanImageToVideo",
        &["width", "height", "length", "batch_size"],
    ),
    (
        "WanVaceToVideo",
        &["width", "height", "length", "batch_size", "strength"],
    ),
];

/// Widgets that exist only in the editor: never sent in an API prompt.
pub(super) fn is_editor_only(name: &str) -> bool {
    let base = name.split('#').next().unwrap_or(name);
    matches!(
        base,
        "control_after_generate" | "control_before_generate" | "upload" | "audioUI"
    )
}

/// The layouts the built-in table knows for a class.
pub(super) fn core_layouts(class: &str) -> impl Iterator<Item = &'static [&'static str]> + '_ {
    CORE.iter()
        .filter(move |(c, _)| *c == class)
        .map(|(_, names)| *names)
}

/// Widget names per class, read from what a ComfyUI server's `/object_info`
/// returns. Pass it to [`import_with`](super::import_with) (or `reelgraph
/// convert --object-info FILE`) so the classes of custom nodes get their
/// widget names too.
///
/// ```
/// use reelgraph::format::comfyui::ObjectInfo;
///
/// let info = ObjectInfo::from_json(r#"{"MySampler": {"input": {"required": {
///     "model": ["MODEL"],
///     "seed": ["INT", {"default": 0, "control_after_generate": true}],
///     "mode": [["fast", "slow"]]
/// }}}}"#)?;
/// assert_eq!(info.widget_names("MySampler"), Some(&["seed".to_string(), "mode".to_string()][..]));
/// # Ok::<(), reelgraph::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ObjectInfo {
    widgets: HashMap<String, Vec<String>>,
}

/// ComfyUI's widget types; every other input type is a link-only input.
const WIDGET_TYPES: [&str; 5] = ["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"];
const UPLOAD_OPTIONS: [&str; 4] = [
    "image_upload",
    "audio_upload",
    "video_upload",
    "animated_image_upload",
];

impl ObjectInfo {
    /// Reads `/object_info` JSON: `{class: {input: {required: {name: [type,
    /// options]}, optional: {...}}, input_order?: {required: [...], optional:
    /// [...]}}}`. Fails with `invalid_json` when the text is not JSON, and
    /// `wrong_format` when it is not an object of classes.
    pub fn from_json(text: &str) -> Result<ObjectInfo> {
        let root: Json = serde_json::from_str(text)?;
        let Some(classes) = root.as_object() else {
            return Err(Error::WrongShape {
                format: "a ComfyUI /object_info document",
                found: format!("the document is {}", root.describe()),
                hint: "save what GET /object_info of a ComfyUI server returns: an object with one entry per node class",
            });
        };
        let mut widgets = HashMap::new();
        for (class, def) in classes {
            let mut names = Vec::new();
            for section in ["required", "optional"] {
                let Some(inputs) = def.get("input").and_then(|i| i.get(section)) else {
                    continue;
                };
                let order: Option<Vec<&str>> = def
                    .get("input_order")
                    .and_then(|o| o.get(section))
                    .and_then(Json::as_array)
                    .map(|a| a.iter().filter_map(Json::as_str).collect());
                let entries: Vec<(&str, &Json)> = match order {
                    Some(order) => order
                        .into_iter()
                        .filter_map(|n| inputs.get(n).map(|spec| (n, spec)))
                        .collect(),
                    None => inputs
                        .as_object()
                        .unwrap_or_default()
                        .iter()
                        .map(|(n, spec)| (n.as_str(), spec))
                        .collect(),
                };
                for (name, spec) in entries {
                    let ty = spec.as_array().and_then(|s| s.first());
                    let is_widget = match ty {
                        Some(Json::Array(_)) => true,
                        Some(Json::String(t)) => WIDGET_TYPES.contains(&t.as_str()),
                        _ => false,
                    };
                    if !is_widget {
                        continue;
                    }
                    names.push(name.to_owned());
                    let options = spec.as_array().and_then(|s| s.get(1));
                    let on = |key: &str| {
                        options
                            .and_then(|o| o.get(key))
                            .is_some_and(|v| matches!(v, Json::Bool(true)))
                    };
                    if UPLOAD_OPTIONS.iter().any(|k| on(k)) {
                        names.push("upload".to_owned());
                    }
                }
            }
            widgets.insert(class.clone(), names);
        }
        Ok(ObjectInfo { widgets })
    }

    /// The widget names of a class, in widget order (seed control values
    /// left out), or `None` for a class the document does not describe.
    pub fn widget_names(&self, class: &str) -> Option<&[String]> {
        self.widgets.get(class).map(Vec::as_slice)
    }
}
