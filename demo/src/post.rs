//! Post functions on PNGs: `image.upscale`, `media.effect`, `media.composite`,
//! `video.transition`.

use serde_json::{Map, Value, json};

use super::frames::{film_strip, fit};
use super::raster::{Raster, Rng, to_u8};
use super::storyboard::ShotInfo;
use super::{Job, Media, Outputs, TaskError, carry, image_descriptor};

/// Longest side an upscale may produce in the demo.
const MAX_UPSCALE_SIDE: f64 = 2048.0;

fn encode(job: &Job<'_>, folder: &str, stem: &str, r: &Raster) -> Result<String, TaskError> {
    let bytes = r
        .to_png()
        .map_err(|e| TaskError::permanent(format!("cannot encode the PNG: {e}")))?;
    job.save(folder, stem, "png", &bytes)
}

/// The file stem for something made from `media`: its shot's stem plus `what`.
fn stem_of(media: &Media, what: &str) -> String {
    match media.descriptor.get("shot") {
        Some(shot) => format!("{}-{what}", ShotInfo::from_record(shot).stem()),
        None => what.to_owned(),
    }
}

/// The name under which the media input arrives (`media`, or `image`).
fn media_param(job: &Job<'_>) -> &'static str {
    if job.get("media").is_none() && job.get("image").is_some() {
        "image"
    } else {
        "media"
    }
}

/// `image.upscale`: the input resized by `factor` (bilinear), at most
/// 2048 px on its longest side in the demo.
pub(super) fn upscale(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the input")?;
    let factor = job.number_in("factor", 2.0, 1.0, 16.0)?;
    let media = job.image(media_param(job))?;
    let (sw, sh) = (
        f64::from(media.raster.width),
        f64::from(media.raster.height),
    );
    let applied = factor.min(MAX_UPSCALE_SIDE / sw.max(sh)).max(1.0);
    job.step(0.3, "resampling")?;
    let out = media.raster.resize(
        (sw * applied).round() as u32,
        (sh * applied).round() as u32,
        true,
    );
    job.step(0.7, "encoding the PNG")?;
    let path = encode(job, "frames", &stem_of(&media, &format!("x{factor}")), &out)?;
    job.ctx.progress.progress(1.0, Some("upscaled"));
    let mut d = image_descriptor(&path, &out);
    d.insert("factor".into(), json!(factor));
    d.insert(
        "applied_factor".into(),
        json!((applied * 1000.0).round() / 1000.0),
    );
    carry(&media.descriptor, &mut d);
    Ok(job.outputs("image", Value::Object(d)))
}

/// A number from the effect's `parameters`.
fn setting(p: &Map<String, Value>, name: &str, default: f64) -> Result<f64, TaskError> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| {
            TaskError::invalid_input(format!("`parameters.{name}` must be a number, got {v}"))
        }),
    }
}

/// A separable box blur with radii `rx`, `ry` (edges clamped).
fn box_blur(src: &Raster, rx: usize, ry: usize) -> Raster {
    let (w, h) = (src.width as usize, src.height as usize);
    let pass = |data: &[u8], len: usize, lines: usize, stride: usize, step: usize, r: usize| {
        let mut out = data.to_vec();
        if r == 0 || len == 0 {
            return out;
        }
        let window = (2 * r + 1) as u32;
        for line in 0..lines {
            let base = line * stride;
            let at = |i: isize, c: usize| -> u32 {
                let i = i.clamp(0, len as isize - 1) as usize;
                u32::from(data[base + i * step + c])
            };
            for c in 0..4 {
                let mut sum: u32 = (-(r as isize)..=r as isize).map(|i| at(i, c)).sum();
                for i in 0..len {
                    out[base + i * step + c] = ((sum + window / 2) / window) as u8;
                    sum += at(i as isize + r as isize + 1, c);
                    sum -= at(i as isize - r as isize, c);
                }
            }
        }
        out
    };
    let horizontal = pass(&src.data, w, h, w * 4, 4, rx);
    let vertical = pass(&horizontal, h, w, 4, w * 4, ry);
    Raster {
        width: src.width,
        height: src.height,
        data: vertical,
    }
}

/// Blur by kind: `box` (one pass), `gaussian` (three passes), `motion`
/// (along the angle's main axis).
fn blur(
    job: &Job<'_>,
    src: &Raster,
    radius: f64,
    kind: &str,
    angle: f64,
) -> Result<Raster, TaskError> {
    let r = radius.round().max(0.0) as usize;
    Ok(match kind {
        "box" => box_blur(src, r, r),
        "motion" => {
            let a = angle.to_radians();
            let (rx, ry) = if a.cos().abs() >= a.sin().abs() {
                (r, 0)
            } else {
                (0, r)
            };
            box_blur(src, rx, ry)
        }
        _ => {
            // Three box passes approach a gaussian of about the same radius.
            let r3 = ((radius / 3f64.sqrt()).round().max(0.0)) as usize;
            let mut out = src.clone();
            for _ in 0..3 {
                job.check()?;
                out = box_blur(&out, r3, r3);
            }
            out
        }
    })
}

/// Maps every pixel's RGB through `f` (values 0..1), alpha kept.
fn map_rgb(src: &Raster, mut f: impl FnMut(u32, u32, [f32; 3]) -> [f32; 3]) -> Raster {
    let mut out = src.clone();
    for y in 0..src.height {
        for x in 0..src.width {
            let p = src.get(x, y);
            let rgb = [
                f32::from(p[0]) / 255.0,
                f32::from(p[1]) / 255.0,
                f32::from(p[2]) / 255.0,
            ];
            let [r, g, b] = f(x, y, rgb);
            out.put(
                x,
                y,
                [to_u8(r * 255.0), to_u8(g * 255.0), to_u8(b * 255.0), p[3]],
            );
        }
    }
    out
}

fn luma([r, g, b]: [f32; 3]) -> f32 {
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// A colour grade: brightness (−1..1), contrast and saturation (1 = as is),
/// hue shift in degrees, temperature (−100 cool .. 100 warm).
fn grade(src: &Raster, p: &Map<String, Value>) -> Result<Raster, TaskError> {
    let brightness = setting(p, "brightness", 0.0)? as f32;
    let contrast = setting(p, "contrast", 1.0)? as f32;
    let saturation = setting(p, "saturation", 1.0)? as f32;
    let hue = (setting(p, "hue_shift", 0.0)? as f32).to_radians();
    let warmth = setting(p, "temperature", 0.0)? as f32 / 100.0;
    // Hue rotation about the grey axis.
    let (cos, sin) = (hue.cos(), hue.sin());
    let k = (1.0 - cos) / 3.0;
    let s3 = (1.0f32 / 3.0).sqrt() * sin;
    let m = [
        [cos + k, k - s3, k + s3],
        [k + s3, cos + k, k - s3],
        [k - s3, k + s3, cos + k],
    ];
    Ok(map_rgb(src, |_, _, c| {
        let c = [
            m[0][0] * c[0] + m[0][1] * c[1] + m[0][2] * c[2],
            m[1][0] * c[0] + m[1][1] * c[1] + m[1][2] * c[2],
            m[2][0] * c[0] + m[2][1] * c[1] + m[2][2] * c[2],
        ];
        let l = luma(c);
        let mut out = [0.0; 3];
        for i in 0..3 {
            let v = l + (c[i] - l) * saturation;
            out[i] = (v - 0.5) * contrast + 0.5 + brightness;
        }
        out[0] *= 1.0 + 0.2 * warmth;
        out[2] *= 1.0 - 0.2 * warmth;
        out
    }))
}

/// A look filter mixed in by `intensity`.
fn look(src: &Raster, filter: &str, intensity: f32, seed: u64) -> Result<Raster, TaskError> {
    let (w, h) = (src.width as f32, src.height as f32);
    let mut rng = Rng::new(seed);
    let filtered = match filter {
        "grayscale" => map_rgb(src, |_, _, c| [luma(c); 3]),
        "sepia" => map_rgb(src, |_, _, [r, g, b]| {
            [
                0.393 * r + 0.769 * g + 0.189 * b,
                0.349 * r + 0.686 * g + 0.168 * b,
                0.272 * r + 0.534 * g + 0.131 * b,
            ]
        }),
        "vignette" => map_rgb(src, |x, y, c| {
            let dx = (x as f32 / w - 0.5) * 2.0;
            let dy = (y as f32 / h - 0.5) * 2.0;
            let fall = 1.0 - 0.7 * ((dx * dx + dy * dy) / 2.0).min(1.0);
            c.map(|v| v * fall)
        }),
        "film_grain" => map_rgb(src, |_, _, c| {
            let n = rng.range(-0.12, 0.12);
            c.map(|v| v + n)
        }),
        "bloom" => {
            let glow = box_blur(src, 6, 6);
            let mut out = src.clone();
            for (o, g) in out.data.chunks_exact_mut(4).zip(glow.data.chunks_exact(4)) {
                for i in 0..3 {
                    let bright = (f32::from(g[i]) - 150.0).max(0.0);
                    o[i] = to_u8(f32::from(o[i]) + bright * 0.8);
                }
            }
            out
        }
        // No LUT file is read in the demo: the picture passes unchanged.
        "lut" => src.clone(),
        other => {
            return Err(TaskError::invalid_input(format!(
                "`parameters.filter` {other:?} is not one of sepia, grayscale, vignette, film_grain, bloom, lut"
            )));
        }
    };
    Ok(mix_rasters(src, &filtered, intensity))
}

/// `a` and `b` (same size) mixed, `t` = 0 gives `a`.
fn mix_rasters(a: &Raster, b: &Raster, t: f32) -> Raster {
    let t = t.clamp(0.0, 1.0);
    let mut out = a.clone();
    for (o, q) in out.data.chunks_exact_mut(4).zip(b.data.chunks_exact(4)) {
        for i in 0..3 {
            o[i] = to_u8(f32::from(o[i]) + (f32::from(q[i]) - f32::from(o[i])) * t);
        }
    }
    out
}

/// `media.effect`: blur, colour grade, look filter, sharpen or denoise.
pub(super) fn effect(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the input")?;
    let media = job.image(media_param(job))?;
    let kind = job.text("effect").unwrap_or("color");
    let empty = Map::new();
    let p = match job.get("parameters") {
        Some(Value::Object(o)) => o,
        None => &empty,
        Some(other) => {
            return Err(TaskError::invalid_input(format!(
                "`parameters` must be an object, got {other}"
            )));
        }
    };
    // Radii are in full-size pixels; the picture is at the tier's scale.
    let scale = job.number_in("scale", 1.0, 0.01, 16.0)?;
    job.step(0.2, &format!("applying {kind}"))?;
    let src = &media.raster;
    let out = match kind {
        "blur" => {
            let kind = p
                .get("blur_kind")
                .and_then(Value::as_str)
                .unwrap_or("gaussian");
            let radius = setting(p, "radius", 4.0)? * scale;
            blur(job, src, radius, kind, setting(p, "angle", 0.0)?)?
        }
        "color" => grade(src, p)?,
        "filter" => {
            let filter = p
                .get("filter")
                .and_then(Value::as_str)
                .unwrap_or("film_grain");
            let intensity = setting(p, "intensity", 1.0)? as f32;
            look(src, filter, intensity, job.seed())?
        }
        "sharpen" => {
            let amount = setting(p, "amount", 1.0)? as f32;
            let radius = (setting(p, "radius", 2.0)? * scale).max(1.0);
            let threshold = setting(p, "threshold", 0.0)? as f32 * 255.0;
            let soft = blur(job, src, radius, "gaussian", 0.0)?;
            let mut out = src.clone();
            for (o, s) in out.data.chunks_exact_mut(4).zip(soft.data.chunks_exact(4)) {
                for i in 0..3 {
                    let detail = f32::from(o[i]) - f32::from(s[i]);
                    if detail.abs() >= threshold {
                        o[i] = to_u8(f32::from(o[i]) + detail * amount);
                    }
                }
            }
            out
        }
        "denoise" => {
            let strength = setting(p, "strength", 0.5)? as f32;
            mix_rasters(src, &box_blur(src, 1, 1), strength)
        }
        other => {
            return Err(TaskError::invalid_input(format!(
                "`effect` {other:?} is not one of blur, color, filter, sharpen, denoise"
            )));
        }
    };
    job.step(0.7, "encoding the PNG")?;
    let path = encode(job, "frames", &stem_of(&media, kind), &out)?;
    job.ctx.progress.progress(1.0, Some("effect applied"));
    let mut d = image_descriptor(&path, &out);
    d.insert("effect".into(), json!(kind));
    carry(&media.descriptor, &mut d);
    Ok(job.outputs("media", Value::Object(d)))
}

/// One channel (0..1) of `layer` over `base` in a blend mode.
fn blend_channel(mode: &str, b: f32, l: f32) -> f32 {
    match mode {
        "multiply" => b * l,
        "screen" => 1.0 - (1.0 - b) * (1.0 - l),
        "overlay" => hard_light(l, b),
        "darken" => b.min(l),
        "lighten" => b.max(l),
        "add" => (b + l).min(1.0),
        "subtract" => (b - l).max(0.0),
        "difference" => (b - l).abs(),
        "soft_light" => (1.0 - 2.0 * l) * b * b + 2.0 * l * b,
        "hard_light" => hard_light(b, l),
        "color_dodge" => {
            if l >= 1.0 {
                1.0
            } else {
                (b / (1.0 - l)).min(1.0)
            }
        }
        "color_burn" => {
            if l <= 0.0 {
                0.0
            } else {
                1.0 - ((1.0 - b) / l).min(1.0)
            }
        }
        _ => l,
    }
}

fn hard_light(b: f32, l: f32) -> f32 {
    if l < 0.5 {
        2.0 * b * l
    } else {
        1.0 - 2.0 * (1.0 - b) * (1.0 - l)
    }
}

const BLEND_MODES: [&str; 13] = [
    "normal",
    "multiply",
    "screen",
    "overlay",
    "darken",
    "lighten",
    "add",
    "subtract",
    "difference",
    "soft_light",
    "hard_light",
    "color_dodge",
    "color_burn",
];

/// Where an anchor sits in a `w × h` box, as a fraction of each side.
fn anchor(name: &str) -> Option<(f32, f32)> {
    Some(match name {
        "center" => (0.5, 0.5),
        "top_left" => (0.0, 0.0),
        "top" => (0.5, 0.0),
        "top_right" => (1.0, 0.0),
        "left" => (0.0, 0.5),
        "right" => (1.0, 0.5),
        "bottom_left" => (0.0, 1.0),
        "bottom" => (0.5, 1.0),
        "bottom_right" => (1.0, 1.0),
        _ => return None,
    })
}

/// How one layer is placed and mixed.
#[derive(Debug, Clone, PartialEq)]
struct LayerSettings {
    opacity: f32,
    mode: String,
    x: f32,
    y: f32,
    scale: f32,
    rotation: f32,
    anchor: (f32, f32),
}

fn layer_settings(job: &Job<'_>, index: usize) -> Result<LayerSettings, TaskError> {
    let entries = match job.get("layer_settings") {
        Some(Value::Array(items)) => items.as_slice(),
        None => &[],
        Some(other) => {
            return Err(TaskError::invalid_input(format!(
                "`layer_settings` must be a list, got {other}"
            )));
        }
    };
    let found = entries
        .iter()
        .filter_map(Value::as_object)
        .find(|e| e.get("input_index").and_then(Value::as_u64) == Some(index as u64));
    let empty = Map::new();
    let e = found.unwrap_or(&empty);
    let t = e
        .get("transform")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let field = |o: &Map<String, Value>, name: &str, default: f64| -> Result<f32, TaskError> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(default as f32),
            Some(v) => v.as_f64().map(|n| n as f32).ok_or_else(|| {
                TaskError::invalid_input(format!(
                    "`layer_settings` entry for layer {index}: `{name}` must be a number, got {v}"
                ))
            }),
        }
    };
    let mode = e
        .get("blend_mode")
        .and_then(Value::as_str)
        .unwrap_or("normal");
    if !BLEND_MODES.contains(&mode) {
        return Err(TaskError::invalid_input(format!(
            "`layer_settings` entry for layer {index}: blend mode {mode:?} is not one of {}",
            BLEND_MODES.join(", ")
        )));
    }
    let anchor_name = t.get("anchor").and_then(Value::as_str).unwrap_or("center");
    let anchor = anchor(anchor_name).ok_or_else(|| {
        TaskError::invalid_input(format!(
            "`layer_settings` entry for layer {index}: anchor {anchor_name:?} is not a known anchor"
        ))
    })?;
    Ok(LayerSettings {
        opacity: field(e, "opacity", 1.0)?.clamp(0.0, 1.0),
        mode: mode.to_owned(),
        x: field(t, "x", 0.0)?,
        y: field(t, "y", 0.0)?,
        scale: field(t, "scale", 1.0)?.max(0.01),
        rotation: field(t, "rotation", 0.0)?,
        anchor,
    })
}

/// Blends `layer` onto `base` placed by `s`; offsets are multiplied by
/// `px` (the tier's scale: offsets are in full-size pixels).
fn place(base: &mut Raster, layer: &Raster, s: &LayerSettings, px: f32, smooth: bool) {
    let (bw, bh) = (base.width as f32, base.height as f32);
    let (lw, lh) = (layer.width as f32, layer.height as f32);
    // The anchor point of the canvas (plus offset) takes the anchor point of the layer.
    let (ax, ay) = (s.anchor.0 * bw + s.x * px, s.anchor.1 * bh + s.y * px);
    let (la, lb) = (s.anchor.0 * lw, s.anchor.1 * lh);
    let (sin, cos) = s.rotation.to_radians().sin_cos();
    // Bounds of the placed layer, from its four corners.
    let corners = [(0.0, 0.0), (lw, 0.0), (0.0, lh), (lw, lh)].map(|(cx, cy)| {
        let (dx, dy) = ((cx - la) * s.scale, (cy - lb) * s.scale);
        (ax + dx * cos - dy * sin, ay + dx * sin + dy * cos)
    });
    let min_x = corners
        .iter()
        .map(|c| c.0)
        .fold(f32::MAX, f32::min)
        .floor()
        .max(0.0) as u32;
    let max_x = corners
        .iter()
        .map(|c| c.0)
        .fold(f32::MIN, f32::max)
        .ceil()
        .min(bw) as u32;
    let min_y = corners
        .iter()
        .map(|c| c.1)
        .fold(f32::MAX, f32::min)
        .floor()
        .max(0.0) as u32;
    let max_y = corners
        .iter()
        .map(|c| c.1)
        .fold(f32::MIN, f32::max)
        .ceil()
        .min(bh) as u32;
    for y in min_y..max_y {
        for x in min_x..max_x {
            // Back from the canvas to the layer.
            let (dx, dy) = (x as f32 + 0.5 - ax, y as f32 + 0.5 - ay);
            let u = (dx * cos + dy * sin) / s.scale + la;
            let v = (-dx * sin + dy * cos) / s.scale + lb;
            if u < 0.0 || v < 0.0 || u >= lw || v >= lh {
                continue;
            }
            let lp = if smooth {
                layer.sample_bilinear(
                    (u - 0.5).clamp(0.0, lw - 1.0),
                    (v - 0.5).clamp(0.0, lh - 1.0),
                )
            } else {
                layer.get(u as u32, v as u32)
            };
            let bp = base.get(x, y);
            let a = f32::from(lp[3]) / 255.0 * s.opacity;
            let mut out = bp;
            for i in 0..3 {
                let b = f32::from(bp[i]) / 255.0;
                let l = f32::from(lp[i]) / 255.0;
                let mixed = blend_channel(&s.mode, b, l);
                out[i] = to_u8((b + (mixed - b) * a) * 255.0);
            }
            base.put(x, y, out);
        }
    }
}

/// The values on a `multiple` input (one value counts as a list of one).
fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(one) => vec![one],
    }
}

/// `media.composite`: each layer blended over the background with its
/// opacity, blend mode and transform (`layer_settings`, matched by `input_index`).
pub(super) fn composite(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the background")?;
    let background = job.image("background")?;
    let scale = job.number_in("scale", 1.0, 0.01, 16.0)? as f32;
    let smooth = job.text("resample") != Some("nearest");
    let mut canvas = match (job.opt_number("width")?, job.opt_number("height")?) {
        (Some(w), Some(h)) if w > 0.0 && h > 0.0 => {
            let (w, h) = fit(w * f64::from(scale), h * f64::from(scale));
            background.raster.resize(w, h, smooth)
        }
        _ => background.raster.clone(),
    };
    let layers = list(job.get("layers"));
    for (i, value) in layers.iter().enumerate() {
        job.step(
            0.1 + 0.6 * i as f64 / layers.len() as f64,
            &format!("compositing layer {}", i + 1),
        )?;
        let settings = layer_settings(job, i)?;
        let layer = job.load_image(&format!("layers[{i}]"), value)?;
        place(&mut canvas, &layer.raster, &settings, scale, smooth);
    }
    job.step(0.8, "encoding the PNG")?;
    let path = encode(job, "frames", &stem_of(&background, "comp"), &canvas)?;
    job.ctx.progress.progress(1.0, Some("composited"));
    let mut d = image_descriptor(&path, &canvas);
    d.insert("layers".into(), json!(layers.len()));
    carry(&background.descriptor, &mut d);
    Ok(job.outputs("image", Value::Object(d)))
}

/// Progress through a transition after easing.
fn ease(kind: &str, t: f32) -> f32 {
    match kind {
        "ease_in" => t * t,
        "ease_out" => 1.0 - (1.0 - t) * (1.0 - t),
        "ease_in_out" => t * t * (3.0 - 2.0 * t),
        _ => t,
    }
}

/// The frame of a transition from `a` to `b` (same size) at progress `p`.
fn transition_frame(a: &Raster, b: &Raster, kind: &str, direction: &str, p: f32) -> Raster {
    let (w, h) = (a.width as f32, a.height as f32);
    match kind {
        "cut" => {
            if p < 0.5 {
                a.clone()
            } else {
                b.clone()
            }
        }
        "fade_to_black" => {
            let black = Raster::new(a.width, a.height, [0, 0, 0]);
            if p < 0.5 {
                mix_rasters(a, &black, p * 2.0)
            } else {
                mix_rasters(&black, b, p * 2.0 - 1.0)
            }
        }
        "wipe" => {
            let mut out = a.clone();
            for y in 0..a.height {
                for x in 0..a.width {
                    let (fx, fy) = (x as f32 / w, y as f32 / h);
                    let shown = match direction {
                        "right" => fx < p,
                        "up" => fy >= 1.0 - p,
                        "down" => fy < p,
                        _ => fx >= 1.0 - p,
                    };
                    if shown {
                        out.put(x, y, b.get(x, y));
                    }
                }
            }
            out
        }
        "slide" => {
            let mut out = Raster::new(a.width, a.height, [0, 0, 0]);
            let (dx, dy) = match direction {
                "right" => (1.0, 0.0),
                "up" => (0.0, -1.0),
                "down" => (0.0, 1.0),
                _ => (-1.0, 0.0),
            };
            let shift = |f: f32| ((dx * w * f) as i64, (dy * h * f) as i64);
            let (ax, ay) = shift(p);
            let (bx, by) = shift(p - 1.0);
            out.paste(a, ax, ay);
            out.paste(b, bx, by);
            out
        }
        "zoom" => {
            let z = 1.0 + p;
            let (cw, ch) = (w / z, h / z);
            let zoomed = a.resample_region(
                ((w - cw) / 2.0, (h - ch) / 2.0, cw, ch),
                a.width,
                a.height,
                true,
            );
            mix_rasters(&zoomed, b, p)
        }
        _ => mix_rasters(a, b, p),
    }
}

const TRANSITIONS: [&str; 6] = ["cut", "dissolve", "fade_to_black", "wipe", "slide", "zoom"];

/// `video.transition`: the middle frame of the transition between the two
/// clips' frames, in a film-strip band. A stand-in for a rendered clip.
pub(super) fn transition(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the clips")?;
    let kind = job.text("kind").unwrap_or("dissolve");
    if !TRANSITIONS.contains(&kind) {
        return Err(TaskError::invalid_input(format!(
            "`kind` {kind:?} is not one of {}",
            TRANSITIONS.join(", ")
        )));
    }
    let duration = job.number_in("duration", 1.0, 0.0, 600.0)?;
    let direction = job.text("direction").unwrap_or("left");
    let easing = job.text("easing").unwrap_or("ease_in_out");
    let from = job.image("from")?;
    let to = job.image("to")?;
    let a = &from.raster;
    let b = to.raster.resize(a.width, a.height, true);
    job.step(0.3, "blending the middle frame")?;
    let frame = transition_frame(a, &b, kind, direction, ease(easing, 0.5));
    let name = |m: &Media| {
        m.descriptor
            .get("shot")
            .map(|s| ShotInfo::from_record(s).title())
            .unwrap_or_else(|| "clip".to_owned())
    };
    let strip = film_strip(
        &frame,
        &format!("DEMO TRANSITION | {} | {easing}", kind.replace('_', " ")),
        &format!("VIDEO {duration:.1} s | {} -> {}", name(&from), name(&to)),
    );
    job.step(0.7, "encoding the PNG")?;
    let path = encode(job, "video", &format!("transition-{kind}"), &strip)?;
    job.ctx.progress.progress(1.0, Some("transition written"));
    let mut d = image_descriptor(&path, &strip);
    d.insert("duration".into(), json!(duration));
    d.insert("stand_in_for".into(), json!("video"));
    d.insert(
        "note".into(),
        json!("demo stand-in for a transition clip: its middle frame"),
    );
    Ok(job.outputs("video", Value::Object(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_blur_keeps_flat_areas_and_softens_edges() {
        let mut r = Raster::new(9, 1, [0, 0, 0]);
        r.put(4, 0, [255, 255, 255, 255]);
        let b = box_blur(&r, 1, 0);
        assert_eq!(b.get(4, 0)[0], 85);
        assert_eq!(b.get(3, 0)[0], 85);
        assert_eq!(b.get(1, 0)[0], 0);
        let flat = Raster::new(5, 5, [90, 90, 90]);
        assert_eq!(box_blur(&flat, 2, 2), flat);
    }

    #[test]
    fn blend_modes_on_known_values() {
        assert!((blend_channel("screen", 0.5, 0.5) - 0.75).abs() < 1e-6);
        assert!((blend_channel("multiply", 0.5, 0.5) - 0.25).abs() < 1e-6);
        assert_eq!(blend_channel("normal", 0.2, 0.9), 0.9);
        assert_eq!(blend_channel("difference", 0.2, 0.9), 0.7);
    }

    #[test]
    fn a_placed_layer_lands_where_its_anchor_says() {
        let mut base = Raster::new(10, 10, [0, 0, 0]);
        let layer = Raster::new(2, 2, [255, 0, 0]);
        let s = LayerSettings {
            opacity: 1.0,
            mode: "normal".into(),
            x: 0.0,
            y: 0.0,
            scale: 1.0,
            rotation: 0.0,
            anchor: (0.0, 0.0),
        };
        place(&mut base, &layer, &s, 1.0, false);
        assert_eq!(base.get(1, 1), [255, 0, 0, 255]);
        assert_eq!(base.get(2, 2), [0, 0, 0, 255]);
        let centred = LayerSettings {
            anchor: (0.5, 0.5),
            opacity: 0.5,
            ..s
        };
        place(&mut base, &layer, &centred, 1.0, false);
        assert_eq!(base.get(5, 5), [128, 0, 0, 255]);
    }

    #[test]
    fn a_neutral_grade_changes_nothing() {
        let mut r = Raster::new(4, 4, [10, 120, 240]);
        r.put(1, 1, [200, 30, 90, 255]);
        let same = grade(&r, &Map::new()).expect("grades");
        assert_eq!(same, r);
    }
}
