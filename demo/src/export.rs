//! `media.export`: a contact sheet of every frame of the edit, in EDL order.

use serde_json::{Map, Value, json};

use super::font::{self, CELL};
use super::raster::Raster;
use super::{Job, Outputs, TaskError, slug};

/// Size of one thumbnail box (frames are letterboxed into it).
const THUMB_W: u32 = 256;
const THUMB_H: u32 = 144;
const GAP: u32 = 16;
/// Room under a thumbnail for its caption.
const CAPTION_H: u32 = 2 * CELL + CELL + 12;

/// A clip of the edit as `edit.assemble` lists it.
#[derive(Debug)]
struct Clip {
    path: Value,
    label: String,
    record_in: String,
    seconds: f64,
}

fn clips(edl: &Map<String, Value>) -> Result<Vec<Clip>, TaskError> {
    let Some(Value::Array(items)) = edl.get("clips") else {
        return Err(TaskError::invalid_input(
            "`edl` carries no clip list: it must be the output of an edit.assemble demo function",
        )
        .with_hint("connect the edl output of an edit node"));
    };
    if items.is_empty() {
        return Err(TaskError::invalid_input(
            "`edl` lists no clips: nothing to export",
        ));
    }
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, c)| Clip {
            path: c.get("path").cloned().unwrap_or(Value::Null),
            label: c
                .get("label")
                .and_then(Value::as_str)
                .map_or_else(|| format!("CLIP {}", i + 1), str::to_owned),
            record_in: c
                .get("record_in")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            seconds: c.get("duration").and_then(Value::as_f64).unwrap_or(0.0),
        })
        .collect())
}

/// `media.export`: a PNG grid of all frames in EDL order, the shot under
/// each and the title on top, standing in for the rendered movie. The
/// `video` output points at that PNG and at the EDL.
pub(super) fn export(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the edit")?;
    let edl = match job.get("edl") {
        Some(Value::Object(o)) => o,
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_object() => items[0]
            .as_object()
            .ok_or_else(|| TaskError::invalid_input("`edl` is not an object"))?,
        Some(other) => {
            return Err(TaskError::invalid_input(format!(
                "`edl` must be the output of an edit node, got {}",
                font::clip(&other.to_string(), 80)
            )));
        }
        None => {
            return Err(
                TaskError::invalid_input("`edl` is missing: nothing is connected")
                    .with_hint("connect the edl output of an edit node"),
            );
        }
    };
    let clips = clips(edl)?;
    let title = edl
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("Untitled")
        .to_owned();
    let burn_in = job
        .get("burn_in_timecode")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let n = clips.len() as u32;
    let cols = if n <= 4 {
        n
    } else if n <= 16 {
        4
    } else {
        6
    };
    let rows = n.div_ceil(cols);
    let header = 3 * CELL + CELL + 3 * GAP;
    let footer = CELL + GAP;
    let width = GAP + cols * (THUMB_W + GAP);
    let height = header + rows * (THUMB_H + CAPTION_H + GAP) + footer;
    let mut sheet = Raster::new(width, height, [22, 22, 25]);
    let white = [240, 240, 235];
    let grey = [150, 152, 158];

    // Title block.
    let seconds = edl.get("duration").and_then(Value::as_f64).unwrap_or(0.0);
    let fps = edl.get("fps").and_then(Value::as_f64).unwrap_or(0.0);
    let span = format!(
        "{} - {}",
        edl.get("timecode_start")
            .and_then(Value::as_str)
            .unwrap_or("?"),
        edl.get("timecode_end")
            .and_then(Value::as_str)
            .unwrap_or("?")
    );
    let cols_1 = ((width - 2 * GAP) / CELL) as usize;
    let cols_3 = ((width - 2 * GAP) / (3 * CELL)) as usize;
    font::draw_text(
        &mut sheet,
        i64::from(GAP),
        i64::from(GAP),
        &font::clip(&title.to_uppercase(), cols_3),
        3,
        white,
    );
    let sub = format!(
        "CONTACT SHEET | {n} shots | {seconds:.1} s @ {fps} fps | {span} | DEMO stand-in for the rendered movie"
    );
    font::draw_text(
        &mut sheet,
        i64::from(GAP),
        i64::from(GAP + 3 * CELL + 8),
        &font::clip(&sub, cols_1),
        1,
        grey,
    );

    for (i, clip) in clips.iter().enumerate() {
        job.step(
            0.1 + 0.7 * i as f64 / f64::from(n),
            &format!("placing frame {} of {n}", i + 1),
        )?;
        let frame = job
            .load_image(&format!("edl.clips[{i}]"), &clip.path)?
            .raster;
        let (col, row) = (i as u32 % cols, i as u32 / cols);
        let x = GAP + col * (THUMB_W + GAP);
        let y = header + row * (THUMB_H + CAPTION_H + GAP);
        // Letterbox into the box, aspect kept.
        let fit = (f64::from(THUMB_W) / f64::from(frame.width))
            .min(f64::from(THUMB_H) / f64::from(frame.height));
        let (tw, th) = (
            ((f64::from(frame.width) * fit).round() as u32).max(1),
            ((f64::from(frame.height) * fit).round() as u32).max(1),
        );
        let thumb = frame.shrink(tw, th);
        sheet.fill_rect(
            i64::from(x),
            i64::from(y),
            i64::from(THUMB_W),
            i64::from(THUMB_H),
            [0, 0, 0],
            1.0,
        );
        let (tx, ty) = (x + (THUMB_W - tw) / 2, y + (THUMB_H - th) / 2);
        sheet.paste(&thumb, i64::from(tx), i64::from(ty));
        sheet.stroke_rect(
            i64::from(x) - 1,
            i64::from(y) - 1,
            i64::from(THUMB_W) + 2,
            i64::from(THUMB_H) + 2,
            1,
            [70, 70, 76],
        );
        if burn_in && !clip.record_in.is_empty() {
            let tw = i64::from(font::text_width(&clip.record_in, 1));
            let (bx, by) = (i64::from(x + THUMB_W) - tw - 8, i64::from(y + THUMB_H) - 14);
            sheet.fill_rect(bx - 3, by - 3, tw + 6, 14, [0, 0, 0], 0.75);
            font::draw_text(&mut sheet, bx, by, &clip.record_in, 1, white);
        }
        let cy = i64::from(y + THUMB_H + 6);
        let label = font::clip(
            &format!("{:02} {}", i + 1, clip.label),
            (THUMB_W / (2 * CELL)) as usize,
        );
        font::draw_text(&mut sheet, i64::from(x), cy, &label, 2, white);
        let detail = format!("{}  {:.1} s", clip.record_in, clip.seconds);
        font::draw_text(
            &mut sheet,
            i64::from(x),
            cy + i64::from(2 * CELL) + 4,
            &detail,
            1,
            grey,
        );
    }

    let edl_path = edl
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let foot = format!("reelgraph demo | EDL {edl_path}");
    font::draw_text(
        &mut sheet,
        i64::from(GAP),
        i64::from(height - footer + 4),
        &font::clip(&foot, cols_1),
        1,
        grey,
    );

    job.step(0.85, "encoding the contact sheet")?;
    let bytes = sheet
        .to_png()
        .map_err(|e| TaskError::permanent(format!("cannot encode the PNG: {e}")))?;
    let path = job.save(
        "export",
        &format!("{}-contact-sheet", slug(&title)),
        "png",
        &bytes,
    )?;
    job.ctx
        .progress
        .progress(1.0, Some("contact sheet written"));
    let mut d = Map::new();
    d.insert("path".into(), json!(path));
    d.insert("media_type".into(), json!("image/png"));
    d.insert("width".into(), json!(sheet.width));
    d.insert("height".into(), json!(sheet.height));
    d.insert("duration".into(), json!(seconds));
    d.insert("shots".into(), json!(n));
    d.insert("edl".into(), json!(edl_path));
    d.insert("stand_in_for".into(), json!("video"));
    if let Some(format) = job.text("format") {
        d.insert("requested_format".into(), json!(format));
    }
    if let Some(asked) = job.text("path") {
        d.insert("requested_path".into(), json!(asked));
    }
    d.insert(
        "note".into(),
        json!("demo stand-in for the rendered movie: a contact sheet of every frame in EDL order, plus the EDL"),
    );
    d.insert("demo".into(), json!(true));
    Ok(job.outputs("video", Value::Object(d)))
}
