//! `edit.assemble`: a CMX3600 EDL of the clips, timed by the shots.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::edl::{self, Event, Rate, Track};
use super::raster::Raster;
use super::storyboard::ShotInfo;
use super::wav;
use super::{Job, Outputs, TaskError, slug};

/// Seconds a clip lasts when neither its shot nor the clip says (the shot
/// node's default duration).
const DEFAULT_SECONDS: f64 = 4.0;

/// The values on a `multiple` input.
pub(crate) fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(one) => vec![one],
    }
}

/// The file name of a path, for `* FROM CLIP NAME:`.
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Shot records from `shot_info` (the context) and the `shots` input,
/// scenes resolved from `scene_info`.
fn known_shots(job: &Job<'_>) -> Vec<ShotInfo> {
    let scenes = job.get("scene_info");
    let mut shots: Vec<ShotInfo> = list(job.get("shot_info"))
        .into_iter()
        .map(|s| ShotInfo::from_record(s).with_scenes(scenes))
        .collect();
    for record in list(job.get("shots")) {
        let info = ShotInfo::from_record(record).with_scenes(scenes);
        match shots
            .iter_mut()
            .find(|s| s.node.is_some() && s.node == info.node)
        {
            Some(known) => *known = known.clone().merge(info),
            None if info.node.is_some() => shots.push(info),
            None => {}
        }
    }
    shots
}

/// `edit.assemble`: one video event per clip, in order, each as long as its
/// shot (`shot_info`, matched by the shot a clip carries, else by position),
/// recorded from `timecode_start`; then one audio event per audio input.
/// Sources start at `handle_frames` (clips are taken to have handles on
/// both sides). The `edl` output also lists the clips for `media.export`.
pub(super) fn assemble(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the clips")?;
    let clips = list(job.get("clips"));
    if clips.is_empty() {
        return Err(
            TaskError::invalid_input("`clips` is empty: an edit needs at least one clip")
                .with_hint("connect image or video outputs to the edit's clips input"),
        );
    }
    let fps = job.number_in("fps", 24.0, 1.0, 240.0)?;
    let rate = Rate::new(fps).map_err(|e| TaskError::invalid_input(format!("`fps`: {e}")))?;
    let start_tc = job.text("timecode_start").unwrap_or("01:00:00:00");
    let start = rate
        .parse(start_tc)
        .map_err(|e| TaskError::invalid_input(format!("`timecode_start`: {e}")))?;
    let handles = job.number_in("handle_frames", 0.0, 0.0, 100_000.0)?.round() as u64;
    let reel = edl::reel_name(job.text("reel_name").unwrap_or("AX"));
    let title = job.text("title").unwrap_or("Untitled");
    let verify = job
        .get("verify_media")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let shots = known_shots(job);
    let by_position = shots.len() == clips.len();

    let mut events = Vec::new();
    let mut listed = Vec::new();
    let mut cursor = start;
    for (i, clip) in clips.iter().enumerate() {
        job.check()?;
        let name = format!("clips[{i}]");
        let path = job.path_of(&name, clip)?.to_owned();
        check_file(job, &name, clip, verify, true)?;
        let carried = clip
            .get("shot")
            .map(ShotInfo::from_record)
            .unwrap_or_default();
        let matched = carried
            .node
            .as_ref()
            .and_then(|n| shots.iter().find(|s| s.node.as_ref() == Some(n)))
            .or_else(|| by_position.then(|| &shots[i]));
        let shot = match matched {
            Some(m) => m.clone().merge(carried),
            None => carried,
        };
        let seconds = shot
            .duration
            .or_else(|| clip.get("duration").and_then(Value::as_f64))
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(DEFAULT_SECONDS);
        let frames = rate.frames(seconds).max(1);
        let mut comments = Vec::new();
        let mut what = vec![shot.title()];
        if let Some(h) = &shot.heading {
            what.push(h.clone());
        }
        comments.push(format!("COMMENT: {}", what.join(" - ")));
        comments.push(format!("SOURCE FILE: {path}"));
        let event = Event {
            reel: reel.clone(),
            track: Track::Video,
            source_in: handles,
            source_out: handles + frames,
            record_in: cursor,
            record_out: cursor + frames,
            clip_name: file_name(&path),
            comments,
        };
        listed.push(json!({
            "event": i + 1,
            "path": path,
            "shot": shot.to_json(),
            "label": shot.title(),
            "record_in": rate.format(event.record_in),
            "record_out": rate.format(event.record_out),
            "frames": frames,
            "duration": rate.seconds(frames),
        }));
        cursor = event.record_out;
        events.push(event);
    }
    let program = cursor - start;

    job.step(0.5, "placing the audio")?;
    let mut audio_list = Vec::new();
    for (i, track) in list(job.get("audio")).into_iter().enumerate() {
        let name = format!("audio[{i}]");
        let path = job.path_of(&name, track)?.to_owned();
        let seconds = match track.get("duration").and_then(Value::as_f64) {
            Some(d) if d.is_finite() && d > 0.0 && !verify => {
                check_file(job, &name, track, false, false)?;
                d
            }
            _ => check_file(job, &name, track, true, false)?.unwrap_or(0.0),
        };
        // The sound is cut where the picture ends.
        let frames = rate.frames(seconds).min(program);
        if frames == 0 {
            continue;
        }
        events.push(Event {
            reel: reel.clone(),
            track: Track::Audio,
            source_in: 0,
            source_out: frames,
            record_in: start,
            record_out: start + frames,
            clip_name: file_name(&path),
            comments: vec![format!("SOURCE FILE: {path}")],
        });
        audio_list.push(json!({
            "path": path,
            "record_in": rate.format(start),
            "record_out": rate.format(start + frames),
            "duration": rate.seconds(frames),
        }));
    }

    job.step(0.8, "writing the EDL")?;
    let text = edl::write(title, rate, &events);
    let path = job.save("edl", &slug(title), "edl", text.as_bytes())?;
    job.ctx.progress.progress(1.0, Some("EDL written"));
    let mut d = Map::new();
    d.insert("path".into(), json!(path));
    d.insert("media_type".into(), json!("text/x-edl"));
    d.insert("format".into(), json!("cmx3600"));
    if let Some(asked) = job.text("format").filter(|f| *f != "cmx3600") {
        d.insert("requested_format".into(), json!(asked));
        d.insert(
            "note".into(),
            json!("the demo writes CMX3600 whatever format is asked for"),
        );
    }
    d.insert("title".into(), json!(title));
    d.insert("fps".into(), json!(fps));
    d.insert("timecode_start".into(), json!(rate.format(start)));
    d.insert("timecode_end".into(), json!(rate.format(cursor)));
    d.insert("frames".into(), json!(program));
    d.insert("duration".into(), json!(rate.seconds(program)));
    d.insert("events".into(), json!(events.len()));
    d.insert("clips".into(), Value::Array(listed));
    d.insert("audio".into(), Value::Array(audio_list));
    d.insert("demo".into(), json!(true));
    Ok(job.outputs("edl", Value::Object(d)))
}

/// Checks the file an input names exists; with `decode`, also reads it
/// (a PNG for pictures, a WAV for sound, whose length is returned).
fn check_file(
    job: &Job<'_>,
    name: &str,
    value: &Value,
    decode: bool,
    picture: bool,
) -> Result<Option<f64>, TaskError> {
    if !decode {
        job.require_file(name, value)?;
        return Ok(None);
    }
    let (path, bytes) = job.read(name, value)?;
    let bad = |e: String| TaskError::invalid_input(format!("`{name}`: {path} cannot be read: {e}"));
    if picture {
        Raster::from_png(&bytes).map_err(bad)?;
        Ok(None)
    } else {
        Ok(Some(wav::decode(&bytes).map_err(bad)?.duration()))
    }
}
