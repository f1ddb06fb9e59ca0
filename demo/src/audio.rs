//! `audio.generate` (speech-like tones, chord pads, noise swells) and
//! `audio.mix`, as 16-bit mono WAV files.

use std::f32::consts::TAU;

use serde_json::{Map, Value, json};

use super::frames::strings;
use super::raster::Rng;
use super::storyboard::ShotInfo;
use super::wav::{self, Audio};
use super::{Job, Outputs, TaskError};

/// Longest sound the demo makes, in seconds.
const MAX_SECONDS: f64 = 600.0;
/// Speaking rate used to time text, in characters per second at speed 1.
const CHARS_PER_SECOND: f64 = 15.0;

/// A sine oscillator on a shared table: cheap enough for minutes of audio.
struct Sine {
    table: Vec<f32>,
}

impl Sine {
    const SIZE: usize = 4096;

    fn new() -> Sine {
        Sine {
            table: (0..Self::SIZE)
                .map(|i| (i as f32 / Self::SIZE as f32 * TAU).sin())
                .collect(),
        }
    }

    /// sin(2π · `phase`), `phase` in cycles.
    fn at(&self, phase: f64) -> f32 {
        let i = (phase.rem_euclid(1.0) * Self::SIZE as f64) as usize;
        self.table[i.min(Self::SIZE - 1)]
    }
}

/// A dialogue line without its `NAME:` speaker prefix.
fn spoken(line: &str) -> &str {
    match line.split_once(':') {
        Some((who, rest))
            if !who.is_empty()
                && who.len() <= 40
                && who
                    .chars()
                    .all(|c| c.is_uppercase() || c == ' ' || c == '.' || c == '\'') =>
        {
            rest.trim()
        }
        _ => line.trim(),
    }
}

/// How long one character of text takes to say, in slots of 1/15 s.
fn slots(c: char) -> u32 {
    match c {
        '.' | '!' | '?' => 3,
        ',' | ';' | ':' | '-' => 2,
        _ => 1,
    }
}

/// What the task asks to be said: `text`, else the `dialogue` lines.
fn words(job: &Job<'_>) -> String {
    if let Some(t) = job.text("text") {
        return t.to_owned();
    }
    strings(job.get("dialogue"))
        .iter()
        .map(|l| spoken(l))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first voice's settings: the `voice` record, else the first of `voices`.
fn voice(job: &Job<'_>) -> Map<String, Value> {
    if let Some(Value::Object(v)) = job.get("voice")
        && !v.contains_key("port")
    {
        return v.clone();
    }
    match job.get("voices") {
        Some(Value::Array(items)) => items
            .first()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        _ => Map::new(),
    }
}

/// Generates `seconds` of sound one second at a time, checking for
/// cancellation and reporting progress between seconds.
fn render(
    job: &Job<'_>,
    rate: u32,
    seconds: f64,
    mut sample: impl FnMut(f64) -> f32,
) -> Result<Vec<f32>, TaskError> {
    let n = (seconds * f64::from(rate)).round() as usize;
    let mut out = Vec::with_capacity(n);
    let chunk = rate as usize;
    let mut reported = 0.0;
    while out.len() < n {
        job.check()?;
        let end = (out.len() + chunk).min(n);
        for i in out.len()..end {
            out.push(sample(i as f64 / f64::from(rate)));
        }
        let done = out.len() as f64 / n as f64;
        if done - reported >= 0.25 {
            reported = done;
            job.ctx
                .progress
                .progress(0.1 + 0.7 * done, Some("synthesising"));
        }
    }
    // 10 ms fades so the file starts and ends without a click.
    let fade = (rate as usize / 100).min(n / 2);
    for i in 0..fade {
        let g = i as f32 / fade as f32;
        out[i] *= g;
        out[n - 1 - i] *= g;
    }
    Ok(out)
}

/// Speech-like sound: one voiced blip per letter, silence between words,
/// longer pauses at punctuation.
fn speech(
    job: &Job<'_>,
    rate: u32,
    text: &str,
    speed: f64,
    seed: u64,
) -> Result<Vec<f32>, TaskError> {
    let emotion = job.text("emotion").unwrap_or("neutral");
    let mut rng = Rng::new(seed);
    let base = 95.0 + f64::from(rng.range(0.0, 110.0));
    let (pitch, loud) = match emotion {
        "sad" => (0.85, 0.6),
        "happy" | "surprised" => (1.2, 0.8),
        "angry" => (1.05, 1.0),
        "fearful" => (1.3, 0.7),
        "whisper" => (1.0, 0.35),
        _ => (1.0, 0.75),
    };
    let slot = 1.0 / (CHARS_PER_SECOND * speed);
    // Each slot: (start time, length, pitch or none for silence, loudness).
    let mut plan: Vec<(f64, f64, Option<f64>, f32)> = Vec::new();
    let mut t = 0.0;
    for c in text.chars() {
        let len = slot * f64::from(slots(c));
        let voiced = c.is_alphanumeric().then(|| {
            let step = f64::from(c.to_ascii_lowercase() as u32 % 7) / 7.0;
            base * pitch * (0.9 + 0.25 * step)
        });
        let vowel = "aeiouy".contains(c.to_ascii_lowercase());
        plan.push((t, len, voiced, if vowel { 1.0 } else { 0.6 }));
        t += len;
    }
    let total = t.clamp(0.5, MAX_SECONDS);
    let sine = Sine::new();
    let whisper = emotion == "whisper";
    let mut noise = Rng::new(seed ^ 0x5EED);
    let mut k = 0;
    render(job, rate, total, |time| {
        while k + 1 < plan.len() && plan[k].0 + plan[k].1 <= time {
            k += 1;
        }
        let Some(&(start, len, Some(f0), gain)) = plan.get(k) else {
            return 0.0;
        };
        if time < start || time >= start + len {
            return 0.0;
        }
        let env = (std::f64::consts::PI * (time - start) / len).sin() as f32;
        let body = if whisper {
            noise.range(-1.0, 1.0) * 0.5
        } else {
            sine.at(f0 * time) * 0.6
                + sine.at(2.0 * f0 * time) * 0.25
                + sine.at(3.0 * f0 * time) * 0.1
        };
        body * env * gain * loud * 0.6
    })
}

/// Chord pads: a I–vi–IV–V progression, one chord per bar at `bpm`.
fn music(
    job: &Job<'_>,
    rate: u32,
    seconds: f64,
    bpm: f64,
    seed: u64,
) -> Result<Vec<f32>, TaskError> {
    let mut rng = Rng::new(seed);
    let key = 48 + (rng.next_u64() % 12) as i32; // a C3..B3 root
    let bar = 4.0 * 60.0 / bpm.clamp(20.0, 300.0);
    let progression: [[i32; 3]; 4] = [[0, 4, 7], [9, 12, 16], [5, 9, 12], [7, 11, 14]];
    let freq = |note: i32| 440.0 * 2f64.powf(f64::from(note - 69) / 12.0);
    let sine = Sine::new();
    render(job, rate, seconds, |t| {
        let index = (t / bar) as usize;
        let chord = progression[index % 4];
        let into = t - index as f64 * bar;
        let env = ((into / 0.3).min(1.0) * ((bar - into) / 0.3).min(1.0)) as f32;
        let mut v = sine.at(freq(key + chord[0] - 12) * t) * 0.35;
        for n in chord {
            v += sine.at(freq(key + n) * t) * 0.2;
        }
        v * env * 0.5
    })
}

/// Surf-like noise: low-passed noise swelling every few seconds.
fn noise(job: &Job<'_>, rate: u32, seconds: f64, seed: u64) -> Result<Vec<f32>, TaskError> {
    let mut rng = Rng::new(seed);
    let period = 3.0 + f64::from(rng.range(0.0, 4.0));
    let mut low = 0.0f32;
    render(job, rate, seconds, |t| {
        low += (rng.range(-1.0, 1.0) - low) * 0.08;
        let swell = 0.5 - 0.5 * (std::f64::consts::TAU * t / period).cos();
        low * (0.2 + 0.8 * swell as f32) * 1.5
    })
}

/// `audio.generate`: a WAV of the right length. `tts`/`voice` time the
/// text at about 15 characters a second (scaled by the voice's speed);
/// `music` and `sfx` last `duration` seconds.
pub(super) fn audio_generate(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the request")?;
    let mode = job.text("mode").unwrap_or("tts");
    let rate = job.number_in("sample_rate", 22_050.0, 8_000.0, 192_000.0)? as u32;
    let seed = job.seed();
    let shot = ShotInfo::for_params(&job.task.params);
    let (samples, said) = match mode {
        "tts" | "voice" => {
            let text = words(job);
            let speed = voice(job)
                .get("speed")
                .and_then(Value::as_f64)
                .filter(|s| *s > 0.05)
                .unwrap_or(1.0);
            if text.is_empty() {
                return Err(TaskError::invalid_input(
                    "`text` is empty and there is no `dialogue`: a tts task needs words to say",
                )
                .with_hint("set the node's text, or connect a shot with dialogue"));
            }
            (speech(job, rate, &text, speed, seed)?, Some(text))
        }
        "music" | "sfx" => {
            let seconds = job.number_in("duration", 10.0, 0.05, MAX_SECONDS)?;
            let samples = if mode == "music" {
                music(job, rate, seconds, job.number("tempo_bpm", 100.0)?, seed)?
            } else {
                noise(job, rate, seconds, seed)?
            };
            (samples, None)
        }
        other => {
            return Err(TaskError::invalid_input(format!(
                "`mode` {other:?} is not one of tts, voice, music, sfx"
            )));
        }
    };
    job.step(0.85, "writing the WAV")?;
    let stem = if shot.is_known() {
        format!("{mode}-{}", shot.stem())
    } else {
        mode.to_owned()
    };
    let path = job.save("audio", &stem, "wav", &wav::encode(&samples, rate))?;
    job.ctx.progress.progress(1.0, Some("audio written"));
    let mut d = audio_descriptor(&path, samples.len(), rate);
    d.insert("mode".into(), json!(mode));
    if let Some(said) = said {
        d.insert("transcript".into(), json!(said));
    }
    if shot.is_known() {
        d.insert("shot".into(), shot.to_json());
    }
    Ok(job.outputs("audio", Value::Object(d)))
}

fn audio_descriptor(path: &str, samples: usize, rate: u32) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("path".into(), json!(path));
    d.insert("media_type".into(), json!("audio/wav"));
    d.insert("duration".into(), json!(samples as f64 / f64::from(rate)));
    d.insert("sample_rate".into(), json!(rate));
    d.insert("channels".into(), json!(1));
    d.insert("bit_depth".into(), json!(16));
    d.insert("demo".into(), json!(true));
    d
}

/// One track's place in the mix.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TrackSettings {
    start: f64,
    gain_db: f64,
    fade_in: f64,
    fade_out: f64,
    mute: bool,
}

fn track_settings(job: &Job<'_>, index: usize) -> Result<TrackSettings, TaskError> {
    let entries = match job.get("track_settings") {
        Some(Value::Array(items)) => items.as_slice(),
        None => &[],
        Some(other) => {
            return Err(TaskError::invalid_input(format!(
                "`track_settings` must be a list, got {other}"
            )));
        }
    };
    let empty = Map::new();
    let e = entries
        .iter()
        .filter_map(Value::as_object)
        .find(|e| e.get("input_index").and_then(Value::as_u64) == Some(index as u64))
        .unwrap_or(&empty);
    let field = |name: &str, default: f64| -> Result<f64, TaskError> {
        match e.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_f64().filter(|n| n.is_finite()).ok_or_else(|| {
                TaskError::invalid_input(format!(
                    "`track_settings` entry for track {index}: `{name}` must be a number, got {v}"
                ))
            }),
        }
    };
    let start = field("start", 0.0)?;
    if !(0.0..=MAX_SECONDS * 10.0).contains(&start) {
        return Err(TaskError::invalid_input(format!(
            "`track_settings` entry for track {index}: `start` {start} is negative or too late"
        )));
    }
    Ok(TrackSettings {
        start,
        gain_db: field("gain_db", 0.0)?.clamp(-120.0, 24.0),
        fade_in: field("fade_in", 0.0)?.max(0.0),
        fade_out: field("fade_out", 0.0)?.max(0.0),
        mute: e.get("mute").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Mixes `audio` into `mix` by `s`.
fn lay(mix: &mut Vec<f32>, audio: &Audio, s: &TrackSettings) {
    let rate = f64::from(audio.sample_rate);
    let start = (s.start * rate).round() as usize;
    let n = audio.samples.len();
    if mix.len() < start + n {
        mix.resize(start + n, 0.0);
    }
    if s.mute {
        return;
    }
    let gain = 10f64.powf(s.gain_db / 20.0) as f32;
    let fade_in = (s.fade_in * rate) as usize;
    let fade_out = (s.fade_out * rate) as usize;
    for (i, v) in audio.samples.iter().enumerate() {
        let mut g = gain;
        if i < fade_in {
            g *= i as f32 / fade_in as f32;
        }
        if n - i <= fade_out {
            g *= (n - i - 1) as f32 / fade_out as f32;
        }
        mix[start + i] += v * g;
    }
}

/// `audio.mix`: the tracks laid on one timeline at their `start`, with
/// gain and fades, then (with `normalize`) brought to about `target_lufs`.
/// Loudness is approximated by RMS (no K-weighting or gating) and peaks
/// are kept under −1 dBFS.
pub(super) fn audio_mix(job: &Job<'_>) -> Result<Outputs, TaskError> {
    job.step(0.05, "reading the tracks")?;
    let tracks: Vec<&Value> = match job.get("tracks") {
        Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    if tracks.is_empty() {
        return Err(
            TaskError::invalid_input("`tracks` is empty: nothing to mix")
                .with_hint("connect at least one audio output to the tracks input"),
        );
    }
    let rate = job.number_in("sample_rate", 22_050.0, 8_000.0, 192_000.0)? as u32;
    let mut mix = Vec::new();
    for (i, value) in tracks.iter().enumerate() {
        job.step(
            0.1 + 0.6 * i as f64 / tracks.len() as f64,
            &format!("mixing track {}", i + 1),
        )?;
        let name = format!("tracks[{i}]");
        let settings = track_settings(job, i)?;
        let (path, bytes) = job.read(&name, value)?;
        let audio = wav::decode(&bytes)
            .map_err(|e| {
                TaskError::invalid_input(format!(
                    "`{name}`: {path} is not a WAV the demo can read: {e}"
                ))
            })?
            .resampled(rate);
        lay(&mut mix, &audio, &settings);
    }
    job.step(0.75, "levelling")?;
    if job
        .get("normalize")
        .and_then(Value::as_bool)
        .unwrap_or(true)
        && !mix.is_empty()
    {
        let target = job.number_in("target_lufs", -23.0, -70.0, 0.0)?;
        let rms =
            (mix.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / mix.len() as f64).sqrt();
        if rms > 1e-9 {
            let peak = mix.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let want = 10f64.powf(target / 20.0) / rms;
            let limit = 0.891 / f64::from(peak.max(1e-9));
            let gain = want.min(limit) as f32;
            mix.iter_mut().for_each(|v| *v *= gain);
        }
    }
    job.step(0.85, "writing the WAV")?;
    let path = job.save("audio", "mix", "wav", &wav::encode(&mix, rate))?;
    job.ctx.progress.progress(1.0, Some("mix written"));
    let mut d = audio_descriptor(&path, mix.len(), rate);
    d.insert("tracks".into(), json!(tracks.len()));
    Ok(job.outputs("audio", Value::Object(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaker_prefixes_are_not_spoken() {
        assert_eq!(spoken("ELIAS: Not tonight."), "Not tonight.");
        assert_eq!(spoken("Time: 10 pm"), "Time: 10 pm");
        assert_eq!(spoken("no prefix"), "no prefix");
    }

    #[test]
    fn a_track_lands_at_its_start_with_gain_and_fades() {
        let audio = Audio {
            samples: vec![0.5; 100],
            sample_rate: 100,
        };
        let mut mix = Vec::new();
        let s = TrackSettings {
            start: 1.0,
            gain_db: -6.0206,
            fade_in: 0.0,
            fade_out: 0.0,
            mute: false,
        };
        lay(&mut mix, &audio, &s);
        assert_eq!(mix.len(), 200);
        assert_eq!(mix[99], 0.0);
        assert!((mix[100] - 0.25).abs() < 1e-3);
        let mut faded = Vec::new();
        lay(
            &mut faded,
            &audio,
            &TrackSettings {
                fade_in: 0.5,
                fade_out: 0.5,
                ..s
            },
        );
        assert_eq!(faded[100], 0.0);
        assert_eq!(faded[199], 0.0);
        assert!((faded[150] - 0.25).abs() < 1e-2);
    }
}
