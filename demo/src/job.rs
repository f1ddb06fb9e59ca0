//! One call of a demo function ([`Job`]): its params, progress and
//! cancellation, and the files it reads and writes, all inside the output
//! directory.

use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use reelgraph::runner::{Outputs, Task, TaskContext, TaskError};
use serde_json::{Map, Value, json};

use crate::font;
use crate::raster::Raster;

/// One call of a demo function: the task, its context, where files go.
pub(crate) struct Job<'a> {
    pub task: &'a Task,
    pub ctx: &'a TaskContext,
    pub out_dir: &'a Path,
}

/// A picture read from an upstream output.
#[derive(Debug)]
pub(crate) struct Media {
    pub raster: Raster,
    /// The upstream descriptor (empty when the input was a bare path).
    pub descriptor: Map<String, Value>,
}

/// Descriptor fields that travel from an input to an output of the same
/// media (a graded video is still 5 s long and still shot 3).
const CARRIED: [&str; 5] = ["shot", "duration", "fps", "frames", "stand_in_for"];

impl Job<'_> {
    /// Reports progress, then stops if the task was cancelled.
    pub fn step(&self, progress: f64, message: &str) -> Result<(), TaskError> {
        self.ctx.progress.progress(progress, Some(message));
        self.check()
    }

    /// `Err(cancelled)` once the task is cancelled.
    pub fn check(&self) -> Result<(), TaskError> {
        if self.ctx.cancel.is_cancelled() {
            Err(TaskError::cancelled())
        } else {
            Ok(())
        }
    }

    /// A param that is set (not missing, not null).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.task.params.get(name).filter(|v| !v.is_null())
    }

    /// A non-empty text param.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A number param, or `None` when unset; anything but a number is an
    /// `invalid_input` naming the param.
    pub fn opt_number(&self, name: &str) -> Result<Option<f64>, TaskError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(TaskError::invalid_input(format!(
                    "`{name}` must be a number, got {v}"
                ))),
            },
        }
    }

    /// A number param with a default.
    pub fn number(&self, name: &str, default: f64) -> Result<f64, TaskError> {
        Ok(self.opt_number(name)?.unwrap_or(default))
    }

    /// A number param that must lie in `min..=max`.
    pub fn number_in(
        &self,
        name: &str,
        default: f64,
        min: f64,
        max: f64,
    ) -> Result<f64, TaskError> {
        let n = self.number(name, default)?;
        if n < min || n > max {
            return Err(TaskError::invalid_input(format!(
                "`{name}` is {n}, outside {min}..{max}"
            )));
        }
        Ok(n)
    }

    /// The task's `seed`, or one derived from its prompt so the same prompt
    /// paints the same picture.
    pub fn seed(&self) -> u64 {
        if let Some(seed) = self.get("seed").and_then(Value::as_u64) {
            return seed;
        }
        let hash = blake3::hash(self.text("prompt").unwrap_or_default().as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(bytes)
    }

    /// What file names end in: the first 8 hex digits of the idempotency
    /// key when it is a hex key, else a short stable form of it.
    pub fn tag(&self) -> String {
        key_tag(&self.task.idempotency_key)
    }

    /// The output value for every declared port (or `port` when the task
    /// declares none).
    pub fn outputs(&self, port: &str, value: Value) -> Outputs {
        if self.task.outputs.is_empty() {
            return Outputs::from_iter([(port.to_owned(), value)]);
        }
        self.task
            .outputs
            .iter()
            .map(|p| (p.to_string(), value.clone()))
            .collect()
    }

    /// The file an upstream output names, inside the output directory.
    /// Outputs and params come from caches and canvases, which may have been
    /// edited: a path that is absolute, climbs with `..`, or goes through a
    /// symlink to somewhere outside is refused.
    fn resolve(&self, name: &str, path: &str) -> Result<PathBuf, TaskError> {
        let relative = Path::new(path);
        let plain = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !plain {
            return Err(outside(name, path));
        }
        let joined = self.out_dir.join(relative);
        match (joined.canonicalize(), self.out_dir.canonicalize()) {
            // The real path is read, so the check holds for what is read.
            (Ok(real), Ok(root)) if real.starts_with(&root) => Ok(real),
            (Ok(_), Ok(_)) => Err(outside(name, path)),
            // Nothing there: reading it says so.
            _ => Ok(joined),
        }
    }

    /// The path an upstream value names: a descriptor `{"path": ...}` or a bare
    /// string; a one-element list stands for its element.
    pub fn path_of<'v>(&self, name: &str, value: &'v Value) -> Result<&'v str, TaskError> {
        match value {
            Value::String(s) if !s.trim().is_empty() => Ok(s),
            Value::Object(o) => match o.get("path").and_then(Value::as_str) {
                Some(p) if !p.trim().is_empty() => Ok(p),
                _ => match (o.get("node"), o.get("port")) {
                    (Some(node), Some(port)) => Err(TaskError::invalid_input(format!(
                        "`{name}` is a reference to {node}.{port}, not that output's value"
                    ))
                    .with_hint(
                        "run the node through the executor, which fills in upstream outputs",
                    )),
                    _ => Err(TaskError::invalid_input(format!(
                        "`{name}` has no `path`: {}",
                        short(value)
                    ))
                    .with_hint("connect the output of a node that makes a file")),
                },
            },
            Value::Array(items) if items.len() == 1 => self.path_of(name, &items[0]),
            _ => Err(TaskError::invalid_input(format!(
                "`{name}` must be an upstream output with a `path`, got {}",
                short(value)
            ))
            .with_hint("connect the output of a node that makes a file")),
        }
    }

    /// Reads the file an upstream value names.
    pub fn read(&self, name: &str, value: &Value) -> Result<(String, Vec<u8>), TaskError> {
        let path = self.path_of(name, value)?;
        match fs::read(self.resolve(name, path)?) {
            Ok(bytes) => Ok((path.to_owned(), bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(missing(name, path)),
            Err(e) => Err(TaskError::invalid_input(format!(
                "`{name}`: cannot read {path}: {e}"
            ))),
        }
    }

    /// Checks that the file an upstream value names exists.
    pub fn require_file(&self, name: &str, value: &Value) -> Result<(), TaskError> {
        let path = self.path_of(name, value)?;
        if self.resolve(name, path)?.is_file() {
            Ok(())
        } else {
            Err(missing(name, path))
        }
    }

    /// Reads and decodes the PNG an upstream value names.
    pub fn load_image(&self, name: &str, value: &Value) -> Result<Media, TaskError> {
        let (path, bytes) = self.read(name, value)?;
        let raster = Raster::from_png(&bytes).map_err(|e| {
            TaskError::invalid_input(format!(
                "`{name}`: {path} is not a PNG the demo can read: {e}"
            ))
            .with_hint("the demo functions work on PNG files made by other demo functions")
        })?;
        let descriptor = match value {
            Value::Object(o) => o.clone(),
            Value::Array(items) => items
                .first()
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            _ => Map::new(),
        };
        Ok(Media { raster, descriptor })
    }

    /// The picture on a required single input.
    pub fn image(&self, name: &str) -> Result<Media, TaskError> {
        let value = self.get(name).ok_or_else(|| {
            TaskError::invalid_input(format!("`{name}` is missing: nothing is connected"))
                .with_hint(format!("connect an image or video output to `{name}`"))
        })?;
        self.load_image(name, value)
    }

    /// Writes `bytes` to `<folder>/<stem>-<tag>.<ext>` under the output
    /// directory: to a temporary file first, renamed into place unless the
    /// task was cancelled meanwhile. Returns the path relative to the output
    /// directory.
    pub fn save(
        &self,
        folder: &str,
        stem: &str,
        ext: &str,
        bytes: &[u8],
    ) -> Result<String, TaskError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        self.check()?;
        let file = format!("{}-{}.{ext}", slug(stem), self.tag());
        let dir = self.out_dir.join(folder);
        let write_failed = |what: &str, e: std::io::Error| {
            TaskError::permanent(format!("cannot {what} in {}: {e}", dir.display()))
                .with_hint("check that the demo output directory exists and is writable")
        };
        fs::create_dir_all(&dir).map_err(|e| write_failed("create the folder", e))?;
        let tmp = dir.join(format!(
            ".{file}.{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = fs::write(&tmp, bytes) {
            let _ = fs::remove_file(&tmp);
            return Err(write_failed("write a file", e));
        }
        if let Err(e) = self.check() {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        if let Err(e) = fs::rename(&tmp, dir.join(&file)) {
            let _ = fs::remove_file(&tmp);
            return Err(write_failed("rename a file", e));
        }
        Ok(format!("{folder}/{file}"))
    }
}

/// A descriptor of a PNG written by a demo function.
pub(crate) fn image_descriptor(path: &str, raster: &Raster) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("path".into(), json!(path));
    d.insert("media_type".into(), json!("image/png"));
    d.insert("width".into(), json!(raster.width));
    d.insert("height".into(), json!(raster.height));
    d.insert("demo".into(), json!(true));
    d
}

/// Copies the fields that describe the same media (shot, duration, ...)
/// from an input's descriptor to an output's.
pub(crate) fn carry(from: &Map<String, Value>, to: &mut Map<String, Value>) {
    for key in CARRIED {
        if let Some(v) = from.get(key)
            && !to.contains_key(key)
        {
            to.insert(key.to_owned(), v.clone());
        }
    }
}

/// See [`Job::tag`].
fn key_tag(key: &str) -> String {
    let key = key.trim();
    let hex_prefix: String = key.chars().take_while(char::is_ascii_hexdigit).collect();
    if hex_prefix.len() >= 16 {
        return hex_prefix[..8].to_ascii_lowercase();
    }
    let clean = slug(key);
    if !clean.is_empty() && clean.len() <= 16 {
        return clean;
    }
    blake3::hash(key.as_bytes()).to_hex()[..8].to_owned()
}

/// `text` as a file-name part: ASCII letters, digits, `-` and `_`.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(48).collect()
}

/// The error for an input whose file is gone.
fn missing(name: &str, path: &str) -> TaskError {
    TaskError::invalid_input(format!("`{name}`: the file {path} does not exist")).with_hint(
        "run the node that made it again (clear its cached result if the file was deleted)",
    )
}

/// The error for an input whose path leads out of the output directory.
fn outside(name: &str, path: &str) -> TaskError {
    TaskError::invalid_input(format!(
        "`{name}`: the path {path} leads outside the output folder; the demo functions read only files inside it"
    ))
    .with_hint("outputs name files relative to the output folder, without `..`: run the node that made the file again (clear its cached result if it was edited)")
}

/// A value for an error message, cut short.
fn short(value: &Value) -> String {
    font::clip(&value.to_string(), 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_key_prefixes_or_stable_short_forms() {
        let hex = "3fa2b9c1".repeat(8);
        assert_eq!(key_tag(&hex), "3fa2b9c1");
        assert_eq!(key_tag(&format!("{hex}:draft")), "3fa2b9c1");
        assert_eq!(key_tag("k1"), "k1");
        let long = "some idempotency key that is long";
        assert_eq!(key_tag(long), key_tag(long));
        assert_eq!(key_tag(long).len(), 8);
        assert_ne!(key_tag(long), key_tag("another idempotency key, long too"));
    }

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("The Last Lighthouse!"), "the-last-lighthouse");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("shot_1a"), "shot_1a");
    }
}
