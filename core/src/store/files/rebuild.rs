//! Rebuilding a canvas's `index.json` from its version files, for when the
//! index is damaged (or lost) and the versions are not.
//!
//! Each version file is a whole canvas document naming its id and revision,
//! so the index can be written again from them: the versions in revision
//! order, each saved at its file's modification time, with its file's size,
//! and the summary `change_summary` gives against the version before it
//! (the oldest gets a note instead: what came before it is unknown). Files
//! that do not hold a readable version of the canvas, and the damaged index
//! itself, are moved to the canvas's `damaged/` directory, never deleted.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::disk::{self, storage};
use super::{Entry, Index, LAYOUT, Layout, read_index, unix_ns};
use crate::error::{Error, Result};
use crate::model::CanvasDocument;
use crate::store::{change_summary, decode};

/// What [`FileStore::rebuild_index`](super::FileStore::rebuild_index) did
/// for one canvas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RebuiltIndex {
    /// The canvas.
    pub id: String,
    /// The revisions the new index lists, oldest first; the last is current.
    pub revisions: Vec<u64>,
    /// Where the unreadable index was moved; none if there was no index.
    pub old_index: Option<String>,
    /// Version files that hold no readable version of the canvas, each
    /// moved to the canvas's `damaged/` directory.
    pub damaged: Vec<DamagedFile>,
}

/// A file set aside by a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DamagedFile {
    /// Where it is now.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Rebuilds the index of canvas `id` (file name `name`) unless it reads
/// soundly; none if it does. Only under the canvas lock.
pub(super) fn rebuild(layout: &Layout, id: &str, name: &str) -> Result<Option<RebuiltIndex>> {
    match read_index(layout, id, name) {
        Ok(Some(_)) => return Ok(None),
        Ok(None) | Err(Error::Corrupt { .. } | Error::TooLarge { .. }) => {}
        Err(e) => return Err(e),
    }
    let files = version_files(&layout.versions(name))?;
    let not_found = || Error::NotFound {
        kind: "canvas",
        id: id.to_owned(),
    };
    if files.is_empty() {
        return Err(not_found());
    }
    let set_aside = layout.canvas_dir(name).join("damaged");
    let mut versions: Vec<Entry> = Vec::with_capacity(files.len());
    let mut damaged = Vec::new();
    let mut previous: Option<CanvasDocument> = None;
    for (revision, path) in files {
        let doc = match read(&path, id, revision) {
            Ok(doc) => doc,
            // Not damage: a newer reelgraph reads it, or the disk failed.
            Err(e @ (Error::UnsupportedFormatVersion { .. } | Error::Storage { .. })) => {
                return Err(e);
            }
            Err(e) => {
                damaged.push((path, e.to_string()));
                continue;
            }
        };
        let meta = std::fs::metadata(&path).map_err(|e| storage(&path, &e))?;
        let modified = meta.modified().map_err(|e| storage(&path, &e))?;
        let summary = match &previous {
            Some(before) => change_summary(Some(before), &doc),
            None => format!(
                "oldest version left when the index was rebuilt, with {} nodes, {} edges",
                doc.nodes.len(),
                doc.edges.len()
            ),
        };
        versions.push(Entry {
            revision,
            saved_at: humantime::format_rfc3339_millis(modified).to_string(),
            saved_unix_ns: unix_ns(modified),
            size_bytes: meta.len(),
            summary,
        });
        previous = Some(doc);
    }
    let Some(current) = previous else {
        // Nothing to rebuild from: everything stays as it is.
        return Err(Error::Corrupt {
            location: layout.versions(name).display().to_string(),
            message: format!(
                "none of its {} version files is readable, so its index cannot be rebuilt; restore the canvas from a backup, or delete it",
                damaged.len()
            ),
        });
    };
    let damaged = damaged
        .into_iter()
        .map(|(path, problem)| {
            Ok(DamagedFile {
                path: move_to(&path, &set_aside)?.display().to_string(),
                problem,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // A copy: the new index replaces the old one in one rename, so there is
    // always an index.
    let index_path = layout.index(name);
    let old_index = if index_path.exists() {
        Some(copy_to(&index_path, &set_aside)?.display().to_string())
    } else {
        None
    };
    // Sealed to the old index's entries; a stale one is never trusted, but
    // an absent one is plainer.
    disk::remove_file(&layout.fingerprint(name))?;
    let revisions = versions.iter().map(|v| v.revision).collect();
    let index = Index {
        layout: LAYOUT,
        id: id.to_owned(),
        name: current.name,
        versions,
    };
    super::write_index(layout, name, &index)?;
    let rebuilt = RebuiltIndex {
        id: id.to_owned(),
        revisions,
        old_index,
        damaged,
    };
    tracing::warn!(
        canvas = id,
        versions = rebuilt.revisions.len(),
        damaged = rebuilt.damaged.len(),
        old_index = ?rebuilt.old_index,
        "rebuilt the canvas's index from its version files"
    );
    Ok(Some(rebuilt))
}

/// The version files in `dir`, by revision; others (temp files, strays)
/// are left alone.
fn version_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(storage(dir, &e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| storage(dir, &e))?;
        let file = entry.file_name();
        let Some(revision) = file.to_str().and_then(revision_of) else {
            continue;
        };
        files.push((revision, entry.path()));
    }
    files.sort_unstable();
    Ok(files)
}

/// The revision a version file's name stands for (see `version_file`).
fn revision_of(file: &str) -> Option<u64> {
    let digits = file.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn read(path: &Path, id: &str, revision: u64) -> Result<CanvasDocument> {
    let text = disk::read_text(path)?
        .ok_or_else(|| storage(path, &io::Error::from(io::ErrorKind::NotFound)))?;
    let doc = decode(&path.display().to_string(), &text)?;
    super::check_version(path, &doc, id, revision)?;
    Ok(doc)
}

/// Moves `path` into the directory `dir` (created if needed), keeping its
/// name; returns where it went.
fn move_to(path: &Path, dir: &Path) -> Result<PathBuf> {
    disk::create_dir(dir)?;
    let target = dir.join(path.file_name().unwrap_or_default());
    std::fs::rename(path, &target).map_err(|e| storage(path, &e))?;
    disk::sync_dir(dir)?;
    disk::sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(target)
}

/// Copies `path` into the directory `dir` (created if needed), keeping its
/// name; returns where the copy is.
fn copy_to(path: &Path, dir: &Path) -> Result<PathBuf> {
    disk::create_dir(dir)?;
    let target = dir.join(path.file_name().unwrap_or_default());
    let bytes = std::fs::read(path).map_err(|e| storage(path, &e))?;
    disk::write_atomic(&target, &bytes)?;
    Ok(target)
}
