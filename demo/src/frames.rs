//! `image.generate` (storyboard frames) and `video.generate` (poster frames).

use serde_json::{Value, json};

use super::font::{self, CELL};
use super::raster::{Raster, Rgb};
use super::storyboard::{self, FrameText, ShotInfo};
use super::{Job, Outputs, TaskError, carry, image_descriptor};

/// Longest side of a demo picture, so a demo run stays quick.
const MAX_SIDE: f64 = 960.0;
/// Shortest side, so the lettering has room.
const MIN_SIDE: f64 = 64.0;

/// `w × h` scaled down to fit the demo limits, aspect kept.
pub(crate) fn fit(w: f64, h: f64) -> (u32, u32) {
    let shrink = (MAX_SIDE / w.max(h)).min(1.0);
    let (w, h) = (w * shrink, h * shrink);
    (
        w.round().max(MIN_SIDE) as u32,
        h.round().max(MIN_SIDE) as u32,
    )
}

/// A list of strings from a param that may also be one string.
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_owned()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// `(file stem, weight)` of each `{path, weight}` LoRA entry.
fn loras(value: Option<&Value>) -> Vec<(String, f64)> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|l| {
            let path = l.get("path")?.as_str()?;
            let stem = std::path::Path::new(path)
                .file_stem()?
                .to_string_lossy()
                .into_owned();
            Some((stem, l.get("weight").and_then(Value::as_f64).unwrap_or(1.0)))
        })
        .collect()
}

fn encode_failed(e: &str) -> TaskError {
    TaskError::permanent(format!("cannot encode the PNG: {e}"))
}

/// The storyboard frame a generation task describes, at `w × h`.
fn frame_for(job: &Job<'_>, shot: &ShotInfo, w: u32, h: u32) -> Result<Raster, TaskError> {
    let prompt = job.text("prompt").unwrap_or_default();
    let quality = job.task.quality.as_str();
    if !shot.is_known()
        && let Some(words) = storyboard::title_words(prompt)
    {
        return Ok(storyboard::paint_title(w, h, &words, quality));
    }
    let mut footer = vec![format!("seed {}", job.seed())];
    if let Some(model) = job.text("model") {
        footer.push(model.to_owned());
    }
    let steps = job
        .opt_number("steps_override")?
        .or(job.opt_number("steps")?);
    if let Some(steps) = steps {
        footer.push(format!("{steps} steps"));
    }
    footer.push(format!("{w}x{h}"));
    footer.push("reelgraph demo frame".to_owned());
    let text = FrameText {
        prompt: prompt.to_owned(),
        trigger_words: strings(job.get("trigger_words")),
        loras: loras(job.get("loras")),
        quality: quality.to_owned(),
        footer: footer.join(" | "),
    };
    Ok(storyboard::paint(w, h, job.seed(), shot, &text))
}

/// `image.generate`: a storyboard frame PNG for the shot.
pub(super) fn image_generate(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the shot")?;
    let width = job.number_in("width", 1024.0, 1.0, 65_536.0)?;
    let height = job.number_in("height", 1024.0, 1.0, 65_536.0)?;
    let scale = job.number_in("scale", 1.0, 0.01, 16.0)?;
    let (w, h) = fit(width * scale, height * scale);
    let shot = ShotInfo::for_params(&job.task.params);
    job.step(0.2, "painting the storyboard frame")?;
    let raster = frame_for(job, &shot, w, h)?;
    job.step(0.7, "encoding the PNG")?;
    let bytes = raster.to_png().map_err(|e| encode_failed(&e))?;
    let path = job.save("frames", &shot.stem(), "png", &bytes)?;
    job.ctx.progress.progress(1.0, Some("frame written"));
    let mut d = image_descriptor(&path, &raster);
    if shot.is_known() {
        d.insert("shot".into(), shot.to_json());
    }
    d.insert("seed".into(), json!(job.seed()));
    Ok(job.outputs("image", Value::Object(d)))
}

/// Lines of a resolution name such as `480p`, or a number.
fn resolution_height(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "4k" | "uhd" => Some(2160.0),
            other => other.trim_end_matches('p').parse().ok(),
        },
        _ => None,
    }
}

/// `frame` between two black bands with sprocket holes and a caption in each.
pub(crate) fn film_strip(frame: &Raster, top: &str, bottom: &str) -> Raster {
    let s: u32 = if frame.width >= 560 { 2 } else { 1 };
    let band = i64::from(CELL * s) + 20;
    let height = frame.height + 2 * band as u32;
    let mut r = Raster::new(frame.width, height, [12, 12, 12]);
    r.paste(frame, 0, band);
    let hole = [205, 200, 190];
    let mut x = 6;
    while x + 8 < i64::from(r.width) {
        for y in [
            3,
            band - 7,
            i64::from(height) - band + 3,
            i64::from(height) - 7,
        ] {
            r.fill_rect(x, y, 8, 4, hole, 0.9);
        }
        x += 20;
    }
    let cols = (r.width / (CELL * s)).saturating_sub(2) as usize;
    let ty = 10;
    font::draw_text(
        &mut r,
        i64::from(CELL * s),
        ty,
        &font::clip(top, cols),
        s,
        [235, 235, 230],
    );
    font::draw_text(
        &mut r,
        i64::from(CELL * s),
        i64::from(height) - band + ty,
        &font::clip(bottom, cols),
        s,
        [255, 200, 90],
    );
    r
}

/// A thick line from `(x0, y0)` to `(x1, y1)` with an arrowhead at the end.
fn arrow(r: &mut Raster, from: (f32, f32), to: (f32, f32), width: f32, color: Rgb) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let steps = len as usize;
    for i in 0..steps {
        let t = i as f32;
        r.fill_circle(from.0 + ux * t, from.1 + uy * t, width / 2.0, color, 0.5);
    }
    let head = width * 4.0;
    for i in 0..(head as usize) {
        let t = i as f32;
        let half = (head - t) * 0.6;
        let (cx, cy) = (to.0 - ux * (head - t), to.1 - uy * (head - t));
        // A row of the arrowhead, across the direction of travel.
        for j in -(half as i64)..=(half as i64) {
            r.blend(
                (cx - uy * j as f32) as i64,
                (cy + ux * j as f32) as i64,
                color,
                0.9,
            );
        }
    }
}

/// Storyboard marks for a camera move: an arrow for a pan, tilt or crane,
/// corner brackets for the end framing of a push-in (dolly, zoom), sized
/// by `strength` (0..1).
fn motion_marks(r: &mut Raster, movement: &str, strength: f32) {
    let (w, h) = (r.width as f32, r.height as f32);
    let color = [255, 200, 90];
    let width = (h / 90.0).max(2.0);
    let reach = 0.15 + 0.2 * strength;
    match movement {
        "pan" | "tracking" | "truck" => {
            arrow(
                r,
                (w * (0.5 - reach), h * 0.5),
                (w * (0.5 + reach), h * 0.5),
                width,
                color,
            );
        }
        "tilt" => arrow(
            r,
            (w * 0.5, h * (0.5 + reach)),
            (w * 0.5, h * (0.5 - reach)),
            width,
            color,
        ),
        "crane" | "pedestal" => {
            arrow(
                r,
                (w * 0.86, h * (0.55 + reach)),
                (w * 0.86, h * (0.55 - reach)),
                width,
                color,
            );
        }
        "dolly" | "zoom" | "push_in" | "dolly_zoom" => {
            let inset = 0.08 + 0.15 * strength;
            let (x0, y0) = ((w * inset) as i64, (h * inset) as i64);
            let (x1, y1) = ((w * (1.0 - inset)) as i64, (h * (1.0 - inset)) as i64);
            let arm = (h * 0.08) as i64;
            let t = width as i64;
            for (cx, cy, sx, sy) in [
                (x0, y0, 1, 1),
                (x1, y0, -1, 1),
                (x0, y1, 1, -1),
                (x1, y1, -1, -1),
            ] {
                let hx = if sx > 0 { cx } else { cx - arm };
                let vy = if sy > 0 { cy } else { cy - arm };
                r.fill_rect(hx, if sy > 0 { cy } else { cy - t }, arm, t, color, 0.85);
                r.fill_rect(if sx > 0 { cx } else { cx - t }, vy, t, arm, color, 0.85);
            }
        }
        _ => {}
    }
}

/// `video.generate`: a poster frame of the clip (the input image at the
/// tier's resolution, with storyboard marks for the camera move) in a
/// film-strip band saying `VIDEO 5.0 s @ 24 fps`. A stand-in for a rendered clip.
pub(super) fn video_generate(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the clip settings")?;
    let duration = job.number_in("duration", 4.0, 0.01, 3600.0)?;
    let fps = job.number_in("fps", 24.0, 1.0, 240.0)?;
    let motion = job.number_in("motion_strength", 0.5, 0.0, 1.0)?;
    let mut shot = ShotInfo::for_params(&job.task.params);
    let (source, upstream) = match job.get("image") {
        Some(v) => {
            let media = job.load_image("image", v)?;
            if let Some(s) = media.descriptor.get("shot") {
                shot = shot.merge(ShotInfo::from_record(s));
            }
            (media.raster, media.descriptor)
        }
        None => {
            let (w, h) = fit(1344.0 * 0.5, 768.0 * 0.5);
            (frame_for(job, &shot, w, h)?, Default::default())
        }
    };
    job.step(0.3, "framing the poster frame")?;
    let aspect = f64::from(source.width) / f64::from(source.height.max(1));
    let lines = resolution_height(job.get("resolution")).unwrap_or(f64::from(source.height));
    let (w, h) = fit(lines * aspect, lines);
    let mut frame = source.resize(w, h, true);
    let movement = shot.movement.as_deref().unwrap_or("static");
    motion_marks(&mut frame, movement, motion as f32);
    job.step(0.6, "drawing the film strip")?;
    let frames = (duration * fps).round() as u64;
    let model = job.text("model").unwrap_or("video model");
    let top = format!(
        "DEMO POSTER FRAME | {model} | {}",
        job.text("resolution").unwrap_or("source size")
    );
    let bottom = format!(
        "VIDEO {duration:.1} s @ {fps} fps | {frames} frames | {}",
        movement.replace('_', " ")
    );
    let strip = film_strip(&frame, &top, &bottom);
    job.step(0.8, "encoding the PNG")?;
    let bytes = strip.to_png().map_err(|e| encode_failed(&e))?;
    let path = job.save("video", &shot.stem(), "png", &bytes)?;
    job.ctx.progress.progress(1.0, Some("poster frame written"));
    let mut d = image_descriptor(&path, &strip);
    d.insert("duration".into(), json!(duration));
    d.insert("fps".into(), json!(fps));
    d.insert("frames".into(), json!(frames));
    d.insert("stand_in_for".into(), json!("video"));
    d.insert(
        "note".into(),
        json!("demo stand-in for a video clip: one poster frame, no motion"),
    );
    if shot.is_known() {
        d.insert("shot".into(), shot.to_json());
    }
    carry(&upstream, &mut d);
    Ok(job.outputs("video", Value::Object(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_within_limits() {
        assert_eq!(fit(672.0, 384.0), (672, 384));
        assert_eq!(fit(1344.0, 768.0), (960, 549));
        assert_eq!(fit(768.0, 1344.0), (549, 960));
        assert_eq!(fit(10.0, 10.0), (64, 64));
    }

    #[test]
    fn resolutions_parse() {
        assert_eq!(resolution_height(Some(&json!("480p"))), Some(480.0));
        assert_eq!(resolution_height(Some(&json!("1080P"))), Some(1080.0));
        assert_eq!(resolution_height(Some(&json!(720))), Some(720.0));
        assert_eq!(resolution_height(Some(&json!("big"))), None);
    }
}
