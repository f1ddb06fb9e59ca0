//! Where runs keep files. The demo functions write into one results folder
//! (file names carry a prefix of the content key, so a cached result keeps
//! pointing at a valid file); each run's folder `runs/<run id>/` gets a
//! hard link (or a copy) of every file its outputs name, so a run's folder
//! holds what it made or reused, and nothing else.

use std::io;
use std::path::{Component, Path, PathBuf};

use reelgraph::runner::Outputs;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Folders {
    /// What the demo functions write, shared by every run.
    results: PathBuf,
    /// One folder per run.
    runs: PathBuf,
}

/// Why a requested file is not served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The path could name something outside the run's folder.
    Escapes,
    /// Nothing readable by that name in the run's folder.
    Missing,
}

impl Folders {
    /// The folders under `data_dir`, created when missing.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let folders = Folders {
            results: data_dir.join("results"),
            runs: data_dir.join("runs"),
        };
        std::fs::create_dir_all(&folders.results)?;
        std::fs::create_dir_all(&folders.runs)?;
        Ok(folders)
    }

    pub fn results(&self) -> &Path {
        &self.results
    }

    /// The folder of run `id` (a checked id: one plain path component).
    pub fn run(&self, id: &str) -> PathBuf {
        self.runs.join(id)
    }

    /// Links the files `outputs` name into the run's folder. A file already
    /// there is kept; a name that could leave the folder, or that names no
    /// file in the results folder, is ignored.
    ///
    /// A run links every file of every node, so the common case costs one
    /// system call: the link itself. Only a link that fails asks why (a
    /// folder to make, a missing source, another file system).
    pub fn link_outputs(&self, run: &str, outputs: &Outputs) -> io::Result<()> {
        let mut paths = Vec::new();
        for value in outputs.values() {
            file_paths(value, &mut paths);
        }
        let dir = self.run(run);
        for path in paths {
            let Some(rel) = inside(path) else { continue };
            let from = self.results.join(&rel);
            let to = dir.join(&rel);
            match std::fs::hard_link(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                // The run's folder (or a folder in it) is new, or the source
                // is missing.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !from.is_file() {
                        continue;
                    }
                    if let Some(parent) = to.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    link_or_copy(&from, &to)?;
                }
                // A folder, or a results folder on another file system.
                Err(_) if from.is_file() => copy_whole(&from, &to)?,
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// The file `path` (as the URL gave it, decoded) of run `run`, only if
    /// it is a regular file inside the run's folder once symlinks are
    /// followed; a symlink that leads out is as missing as no file at all.
    pub fn resolve(&self, run: &str, path: &str) -> Result<PathBuf, Refusal> {
        resolve_in(&self.run(run), path)
    }

    /// The file `path` of the results folder (what workers wrote, as a
    /// task's outputs name it), checked as [`Folders::resolve`] does.
    pub fn resolve_result(&self, path: &str) -> Result<PathBuf, Refusal> {
        resolve_in(&self.results, path)
    }
}

fn resolve_in(dir: &Path, path: &str) -> Result<PathBuf, Refusal> {
    let rel = inside(path).ok_or(Refusal::Escapes)?;
    let dir = dir.canonicalize().map_err(|_| Refusal::Missing)?;
    let file = dir.join(rel).canonicalize().map_err(|_| Refusal::Missing)?;
    if !file.starts_with(&dir) || !file.is_file() {
        return Err(Refusal::Missing);
    }
    Ok(file)
}

/// `path` as a relative path of plain names, or `None` when it is empty,
/// absolute, or has `.`, `..`, a backslash or a NUL in it.
fn inside(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains(['\\', '\0']) {
        return None;
    }
    let rel = Path::new(path);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| rel.to_path_buf())
}

/// Every `path` of a file descriptor (`{"path": ..., "media_type": ...}`)
/// anywhere in `value`.
fn file_paths<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| file_paths(v, out)),
        Value::Object(o) => {
            let path = o.get("path").and_then(Value::as_str);
            match (path, o.get("media_type")) {
                (Some(path), Some(Value::String(_))) => out.push(path),
                _ => o.values().for_each(|v| file_paths(v, out)),
            }
        }
        _ => {}
    }
}

/// A hard link, or a copy when the file systems differ. A file that
/// appeared at `to` meanwhile is kept.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => copy_whole(from, to),
        Ok(()) => Ok(()),
    }
}

/// A copy under a temporary name, renamed into place: never half a file
/// under the final name.
fn copy_whole(from: &Path, to: &Path) -> io::Result<()> {
    let mut name = to.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    let partial = to.with_file_name(name);
    std::fs::copy(from, &partial)?;
    std::fs::rename(&partial, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plain_relative_names_are_inside() {
        for bad in [
            "",
            "/etc/passwd",
            "../secret",
            "frames/../../x",
            "./a",
            "a\\..\\b",
            "a\0b",
        ] {
            assert_eq!(inside(bad), None, "{bad:?}");
        }
        assert_eq!(inside("frames/a.png"), Some(PathBuf::from("frames/a.png")));
    }

    #[test]
    fn links_again_keep_files_and_names_of_no_file_are_skipped() {
        let data = tempfile::tempdir().expect("temp dir");
        let folders = Folders::open(data.path()).expect("folders");
        let results = folders.results();
        std::fs::create_dir_all(results.join("clips/deep")).expect("dir");
        std::fs::write(results.join("clips/deep/a.mp4"), b"first").expect("write");
        std::fs::write(results.join("top.txt"), b"top").expect("write");
        let file = |path: &str| json!({"path": path, "media_type": "video/mp4"});
        let outputs = json!({
            "clip": file("clips/deep/a.mp4"),
            "list": [file("top.txt"), file("missing.png"), file("clips/nothing/b.png")],
            "folder": file("clips"),
        });
        let outputs = outputs.as_object().cloned().expect("object");
        folders.link_outputs("r1", &outputs).expect("link");

        let read =
            |path: &str| std::fs::read(folders.resolve("r1", path).expect(path)).expect("read");
        assert_eq!(read("clips/deep/a.mp4"), b"first");
        assert_eq!(read("top.txt"), b"top");
        for skipped in ["missing.png", "clips/nothing/b.png", "clips"] {
            assert_eq!(
                folders.resolve("r1", skipped),
                Err(Refusal::Missing),
                "{skipped}"
            );
        }
        // Nothing is made for a name with no file behind it.
        assert!(!folders.run("r1").join("clips/nothing").exists());

        // A file already in the run's folder stays as it is.
        let kept = folders.run("r1").join("top.txt");
        std::fs::remove_file(&kept).expect("unlink");
        std::fs::write(&kept, b"the run's own").expect("write");
        folders.link_outputs("r1", &outputs).expect("link again");
        assert_eq!(read("top.txt"), b"the run's own");
        assert_eq!(read("clips/deep/a.mp4"), b"first");
    }

    #[test]
    fn links_named_files_and_refuses_what_leaves_the_folder() {
        let data = tempfile::tempdir().expect("temp dir");
        let folders = Folders::open(data.path()).expect("folders");
        std::fs::create_dir_all(folders.results().join("frames")).expect("dir");
        std::fs::write(folders.results().join("frames/a.png"), b"png").expect("write");
        std::fs::write(data.path().join("secret"), b"key").expect("write");
        let outputs = json!({"image": {"path": "frames/a.png", "media_type": "image/png"},
            "bad": {"path": "../secret", "media_type": "text/plain"}});
        let outputs = outputs.as_object().cloned().expect("object");
        folders.link_outputs("r1", &outputs).expect("link");

        let file = folders.resolve("r1", "frames/a.png").expect("linked");
        assert_eq!(std::fs::read(file).expect("read"), b"png");
        assert_eq!(folders.resolve("r1", "../secret"), Err(Refusal::Escapes));
        assert_eq!(folders.resolve("r1", "frames/b.png"), Err(Refusal::Missing));
        assert_eq!(folders.resolve("r1", "frames"), Err(Refusal::Missing));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(data.path().join("secret"), folders.run("r1").join("out"))
                .expect("symlink");
            assert_eq!(folders.resolve("r1", "out"), Err(Refusal::Missing));
        }
    }
}
