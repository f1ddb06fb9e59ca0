//! A store in a directory of JSON files: readable with any editor, easy to
//! back up, and safe against crashes and concurrent writers.
//!
//! # Layout (layout version 1)
//!
//! ```text
//! <dir>/reelgraph-store.json                  {"store": "reelgraph.files", "layout": 1}
//! <dir>/locks/<name>.lock                     one empty lock file per canvas id
//! <dir>/canvases/<name>/index.json            the canvas's versions; the commit point
//! <dir>/canvases/<name>/versions/<rev>.json   each version's canvas document, as saved
//! <dir>/canvases/<name>/fingerprint.bin       a cache for the next save's change summary
//! <dir>/canvases/<name>/damaged/              what an index rebuild set aside, if any
//! ```
//!
//! `<name>` is the canvas id encoded as a file name (readable `%XX` escapes,
//! or base32 for long ids; see the `name` module); `<rev>` is the revision in
//! 20 zero-padded digits, so file names sort like revisions. Each version
//! file is a plain canvas document: copy one out and it loads anywhere.
//!
//! `index.json` lists the versions, oldest first, with what
//! [`VersionInfo`] reports (plus the save time in nanoseconds, for
//! [`Prune::OlderThan`]); the last entry is the current version, and the
//! index also records the id and the current name, so `list` reads one
//! small file per canvas.
//!
//! `fingerprint.bin` holds the fingerprint of the current version (a hash
//! per node and per edge; see the `fingerprint` module), sealed with the
//! revision and save time of its index entry and the size and modification
//! time of its version file. A save compares the new document with it to
//! write the change summary, instead of reading and parsing the version it
//! replaces. It is only a cache: when it is missing, damaged, or its seal no
//! longer matches (the version file was replaced, damaged or edited, or the
//! save that wrote it never committed), the save reads the previous version
//! as it used to. Builds that predate it ignore it.
//!
//! # Crash safety
//!
//! Every file is replaced atomically: written to `<file>.tmp` in the same
//! directory, fsynced, renamed over the target, and the directory fsynced.
//! A save writes the new version file first and the index last: the rename
//! of `index.json` is the moment the save happens. A crash before it leaves
//! the old index, naming only complete files; what it leaves behind (a temp
//! file, a version file the index does not name) is ignored by readers,
//! overwritten by the next save and swept by `prune` and `create`.
//! A delete removes `index.json` first, then the rest. `fingerprint.bin` is
//! written between the version file and the index, without an fsync: a
//! crash can leave it stale or torn, which its seal and checksum catch.
//!
//! # Concurrency
//!
//! Creates, saves, deletes and prunes of a canvas take an exclusive OS
//! advisory lock on its lock file around read-check-write, so two writers —
//! tasks or processes — cannot both win a save: the second sees the first's
//! revision and gets `conflict`. Lock files live apart from the canvases and
//! stay after a delete (an empty file per id ever used), so a lock is never
//! taken on a file that another writer has just removed. Reads take no lock:
//! they read the index, then the version it names, and re-read the index if
//! that version vanished under them (a concurrent save and prune).
//!
//! Blocking file work runs on tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]), so the store must be used inside a
//! tokio runtime. A save encodes its document on the calling thread first;
//! a large document that is read is parsed on two blocking threads after
//! the file is read.
//!
//! # Damage
//!
//! A damaged file fails only its own canvas: `get` says `corrupt_document`
//! naming the file (or `wrong_format` / `unsupported_format_version` for a
//! document that is not, or not yet, readable), while `list` skips a canvas
//! whose index is unreadable and lists the others. A save over a damaged
//! current version is allowed, so restoring an older version is a
//! `get_revision` and a `save`. A damaged index is rebuilt from the version
//! files by [`FileStore::rebuild_index`] (see the `rebuild` module).
//!
//! # Opening
//!
//! Opening creates the directories and, in a new store, the marker file.
//! Opens take no lock, so the marker is written under a temp name of the
//! opener's own: any number of openers, threads or processes, may open a
//! new store at once.

mod disk;
mod name;
mod rebuild;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use self::disk::{Lock, storage};
use super::fingerprint::Fingerprint;
use super::{
    CanvasStore, CanvasSummary, ListQuery, Page, Prune, Read, UNREADABLE_PREVIOUS, VersionInfo,
    check_save, decode, prepare, saved_now, summary,
};
use crate::error::{Error, Result};
use crate::model::{CanvasDocument, check_id};

pub use self::rebuild::{DamagedFile, RebuiltIndex};

/// The layout this build reads and writes.
const LAYOUT: u32 = 1;
const MARKER: &str = "reelgraph-store.json";
const MARKER_STORE: &str = "reelgraph.files";

/// Canvases kept as JSON files in one directory, with every saved version.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use reelgraph::store::{CanvasStore, FileStore};
/// use reelgraph::{Canvas, Catalog};
///
/// let dir = std::env::temp_dir().join(format!("reelgraph-doc-{}", std::process::id()));
/// # std::fs::remove_dir_all(&dir).ok();
/// let store = FileStore::open(&dir)?;
/// let canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
/// store.create(&canvas.to_document()).await?;
///
/// // Another handle on the same directory, as another process would have.
/// let again = FileStore::open(&dir)?;
/// assert_eq!(again.get("teaser").await?.name, "Teaser");
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), reelgraph::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    layout: Arc<Layout>,
}

/// Where everything is.
#[derive(Debug)]
struct Layout {
    root: PathBuf,
}

impl Layout {
    fn canvases(&self) -> PathBuf {
        self.root.join("canvases")
    }
    fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }
    fn canvas_dir(&self, name: &str) -> PathBuf {
        self.canvases().join(name)
    }
    fn index(&self, name: &str) -> PathBuf {
        self.canvas_dir(name).join("index.json")
    }
    fn fingerprint(&self, name: &str) -> PathBuf {
        self.canvas_dir(name).join("fingerprint.bin")
    }
    fn versions(&self, name: &str) -> PathBuf {
        self.canvas_dir(name).join("versions")
    }
    fn version(&self, name: &str, revision: u64) -> PathBuf {
        self.versions(name).join(version_file(revision))
    }
    fn lock(&self, name: &str) -> Result<Lock> {
        Lock::exclusive(&self.locks().join(format!("{name}.lock")))
    }
}

fn version_file(revision: u64) -> String {
    format!("{revision:020}.json")
}

/// `index.json`: a canvas's versions, oldest first; the last is current.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    layout: u32,
    id: String,
    /// The current version's name, for listing.
    name: String,
    versions: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    revision: u64,
    saved_at: String,
    /// Nanoseconds since the Unix epoch, for pruning by age.
    saved_unix_ns: u64,
    size_bytes: u64,
    summary: String,
}

impl Entry {
    fn new(revision: u64, size: usize, summary: String) -> Entry {
        let (saved, saved_at) = saved_now();
        Entry {
            revision,
            saved_at,
            saved_unix_ns: unix_ns(saved),
            size_bytes: size as u64,
            summary,
        }
    }

    fn info(&self) -> VersionInfo {
        VersionInfo {
            revision: self.revision,
            saved_at: self.saved_at.clone(),
            size_bytes: self.size_bytes,
            summary: self.summary.clone(),
        }
    }
}

impl Index {
    fn current(&self) -> &Entry {
        // `read_index` refuses an index without versions.
        &self.versions[self.versions.len() - 1]
    }
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "canvas",
        id: id.to_owned(),
    }
}

fn revision_not_found(id: &str, revision: u64) -> Error {
    Error::NotFound {
        kind: "revision",
        id: format!("{id}@{revision}"),
    }
}

fn corrupt(path: &Path, message: impl Into<String>) -> Error {
    Error::Corrupt {
        location: path.display().to_string(),
        message: message.into(),
    }
}

impl FileStore {
    /// Opens the store in `dir`, creating the directory if needed. Refuses
    /// a directory written by a newer reelgraph (a newer layout).
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStore> {
        let layout = Layout {
            root: dir.as_ref().to_path_buf(),
        };
        disk::create_dir(&layout.root)?;
        disk::create_dir(&layout.canvases())?;
        disk::create_dir(&layout.locks())?;
        open_marker(&layout.root.join(MARKER))?;
        Ok(FileStore {
            layout: Arc::new(layout),
        })
    }

    /// The directory the store keeps its files in.
    pub fn path(&self) -> &Path {
        &self.layout.root
    }

    /// Rebuilds the index of canvas `id` from its version files when the
    /// index is damaged or missing; none if it reads soundly (nothing is
    /// changed then). The rebuilt history has every readable version, each
    /// saved at its file's modification time. Version files that hold no
    /// readable version are moved to the canvas's `damaged/` directory, and
    /// the damaged index is copied there; nothing is deleted. `not_found` if
    /// the canvas has no version files; `corrupt_document`, changing
    /// nothing, if none of them is readable.
    ///
    /// A missing index is also what an interrupted create or delete leaves:
    /// asked by id, this brings such a canvas back.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use reelgraph::store::{CanvasStore, FileStore};
    /// use reelgraph::{Canvas, Catalog};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = FileStore::open(dir.path())?;
    /// let canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    /// store.create(&canvas.to_document()).await?;
    ///
    /// let index = dir.path().join("canvases/teaser/index.json");
    /// std::fs::write(&index, "{ damaged").unwrap();
    /// assert_eq!(store.get("teaser").await.unwrap_err().code(), "corrupt_document");
    ///
    /// let rebuilt = store.rebuild_index("teaser").await?.expect("rebuilt");
    /// assert_eq!(rebuilt.revisions, [0]);
    /// assert_eq!(store.get("teaser").await?.name, "Teaser");
    /// # Ok::<(), reelgraph::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn rebuild_index(&self, id: &str) -> Result<Option<RebuiltIndex>> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |layout| {
            let name = name::encode(&id);
            if !layout.canvas_dir(&name).exists() {
                return Err(not_found(&id));
            }
            let _lock = layout.lock(&name)?;
            rebuild::rebuild(layout, &id, &name)
        })
        .await
    }

    /// Rebuilds the index of every canvas whose index is damaged (see
    /// [`FileStore::rebuild_index`]); one result per such canvas, in id
    /// order: what was rebuilt, or why it could not be (none of its
    /// versions is readable). Canvases whose index is missing are left
    /// alone: an interrupted create or delete leaves them so.
    pub async fn rebuild_damaged_indexes(&self) -> Result<Vec<Result<RebuiltIndex>>> {
        self.run(move |layout| {
            let dir = layout.canvases();
            let mut ids = Vec::new();
            for entry in std::fs::read_dir(&dir).map_err(|e| storage(&dir, &e))? {
                let entry = entry.map_err(|e| storage(&dir, &e))?;
                if let Some(id) = entry.file_name().to_str().and_then(name::decode) {
                    ids.push(id);
                }
            }
            ids.sort_unstable();
            let mut results = Vec::new();
            for id in ids {
                let name = name::encode(&id);
                match read_index(layout, &id, &name) {
                    Err(Error::Corrupt { .. } | Error::TooLarge { .. }) => {}
                    Ok(_) => continue,
                    Err(e) => return Err(e),
                }
                let _lock = layout.lock(&name)?;
                match rebuild::rebuild(layout, &id, &name) {
                    // Another writer repaired it meanwhile.
                    Ok(None) => {}
                    Ok(Some(done)) => results.push(Ok(done)),
                    Err(e @ Error::Storage { .. }) => return Err(e),
                    Err(e) => results.push(Err(e)),
                }
            }
            Ok(results)
        })
        .await
    }

    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&Layout) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let layout = self.layout.clone();
        super::blocking(move || work(&layout), None).await
    }
}

/// Checks the store's marker file, writing it in a new store. Any number
/// of processes may open a new store at once: each writes a whole marker
/// under a temp name of its own and renames it into place, and one that
/// cannot (a rename refused while another opener reads the file) is
/// content with the marker another opener wrote. An empty marker, which
/// racing opens of older builds could leave, is written again.
fn open_marker(path: &Path) -> Result<()> {
    if let Some(text) = disk::read_text(path)?
        && !text.is_empty()
    {
        return check_marker(path, &text);
    }
    let text = serde_json::json!({"store": MARKER_STORE, "layout": LAYOUT}).to_string();
    match disk::write_atomic_unlocked(path, text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) => match disk::read_text(path)? {
            Some(text) if !text.is_empty() => check_marker(path, &text),
            _ => Err(e),
        },
    }
}

fn check_marker(path: &Path, text: &str) -> Result<()> {
    #[derive(Deserialize)]
    struct Marker {
        store: String,
        layout: u32,
    }
    let marker: Marker = serde_json::from_str(text).map_err(|e| corrupt(path, e.to_string()))?;
    if marker.store != MARKER_STORE {
        return Err(corrupt(
            path,
            format!("it marks a `{}` store, not `{MARKER_STORE}`", marker.store),
        ));
    }
    if marker.layout > LAYOUT {
        return Err(Error::Storage {
            message: format!(
                "the store was written by a newer reelgraph (file layout {}, this one reads up to {LAYOUT}); upgrade reelgraph to open it",
                marker.layout
            ),
            path: Some(path.display().to_string()),
        });
    }
    Ok(())
}

/// A canvas's index; none if the canvas does not exist (or a create or
/// delete of it was interrupted before its index was written or after it
/// was removed).
fn read_index(layout: &Layout, id: &str, name: &str) -> Result<Option<Index>> {
    let path = layout.index(name);
    let text = disk::read_text(&path).map_err(|e| match e {
        Error::Corrupt { message, .. } => damaged_index(&path, message),
        e => e,
    })?;
    let Some(text) = text else {
        return Ok(None);
    };
    let index: Index =
        serde_json::from_str(&text).map_err(|e| damaged_index(&path, e.to_string()))?;
    if index.layout > LAYOUT {
        return Err(Error::Storage {
            message: format!(
                "the canvas was written by a newer reelgraph (file layout {}, this one reads up to {LAYOUT}); upgrade reelgraph to read it",
                index.layout
            ),
            path: Some(path.display().to_string()),
        });
    }
    if index.id != id {
        return Err(damaged_index(
            &path,
            format!("it is the index of canvas `{}`, not `{id}`", index.id),
        ));
    }
    if index.versions.is_empty() {
        return Err(damaged_index(&path, "it lists no versions"));
    }
    if index
        .versions
        .windows(2)
        .any(|w| w[0].revision >= w[1].revision)
    {
        return Err(damaged_index(
            &path,
            "its revisions are not in increasing order",
        ));
    }
    Ok(Some(index))
}

/// A damaged index, with the way to repair it.
fn damaged_index(path: &Path, problem: impl std::fmt::Display) -> Error {
    corrupt(
        path,
        format!(
            "{problem}; `FileStore::rebuild_index` rebuilds it from the canvas's version files"
        ),
    )
}

fn write_index(layout: &Layout, name: &str, index: &Index) -> Result<()> {
    let text = serde_json::to_string(index)?;
    disk::write_atomic(&layout.index(name), text.as_bytes())
}

/// Reads and checks a version's document, parsing it here; none if the
/// file is gone (pruned or deleted since the index was read).
fn read_version(
    layout: &Layout,
    id: &str,
    name: &str,
    revision: u64,
) -> Result<Option<CanvasDocument>> {
    let path = layout.version(name, revision);
    let Some(text) = disk::read_text(&path)? else {
        return Ok(None);
    };
    let doc = decode(&path.display().to_string(), &text)?;
    check_version(&path, &doc, id, revision)?;
    Ok(Some(doc))
}

/// A version file's document is the version the index names.
fn check_version(path: &Path, doc: &CanvasDocument, id: &str, revision: u64) -> Result<()> {
    if doc.id != id || doc.revision != revision {
        return Err(corrupt(
            path,
            format!(
                "it holds canvas `{}` at revision {}, where the index expects `{id}` at revision {revision}",
                doc.id, doc.revision
            ),
        ));
    }
    Ok(())
}

/// Reads one version (a large one is parsed later; see [`Read`]), coping
/// with a concurrent save and prune: if the file the index named is gone,
/// the index is read again. A version the index still names but whose file
/// is missing is damage. Returns the revision read and its path.
fn read_listed(
    layout: &Layout,
    name: &str,
    id: &str,
    pick: impl Fn(&Index) -> Option<u64>,
    missing: impl Fn() -> Error,
) -> Result<(Read, u64, PathBuf)> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let index = read_index(layout, id, name)?.ok_or_else(&missing)?;
        let revision = pick(&index).ok_or_else(&missing)?;
        let path = layout.version(name, revision);
        if let Some(text) = disk::read_text(&path)? {
            return Ok((
                Read::of(&path.display().to_string(), &text)?,
                revision,
                path,
            ));
        }
    }
    // Still missing after re-reading the index: the file is lost.
    let index = read_index(layout, id, name)?.ok_or_else(&missing)?;
    let revision = pick(&index).ok_or_else(&missing)?;
    Err(corrupt(
        &layout.version(name, revision),
        "the version file is missing",
    ))
}

/// What a stored fingerprint is sealed with: the index entry of its version
/// and that version file's size and modification time; none if the file
/// cannot be examined.
fn seal(path: &Path, entry: &Entry) -> Option<[u64; 4]> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok().map_or(0, unix_ns);
    Some([entry.revision, entry.saved_unix_ns, meta.len(), modified])
}

/// Keeps the fingerprint of a version just written, for the next save. A
/// failure costs only that save's speed, so it is not reported.
fn keep_fingerprint(layout: &Layout, name: &str, entry: &Entry, fingerprint: &Fingerprint) {
    let Some(seal) = seal(&layout.version(name, entry.revision), entry) else {
        return;
    };
    let path = layout.fingerprint(name);
    if std::fs::write(&path, fingerprint.to_bytes(&seal)).is_err() {
        // A torn file fails its checksum; an absent one is plainer.
        let _ = std::fs::remove_file(&path);
    }
}

/// The fingerprint of the current version: the kept one if its seal still
/// matches, else taken from the version's document; none if that cannot be
/// read.
fn current_fingerprint(
    layout: &Layout,
    id: &str,
    name: &str,
    current: &Entry,
) -> Option<Fingerprint> {
    let kept = seal(&layout.version(name, current.revision), current).and_then(|seal| {
        let bytes = disk::read_small(&layout.fingerprint(name))?;
        Fingerprint::from_bytes(&bytes, &seal)
    });
    kept.or_else(|| match read_version(layout, id, name, current.revision) {
        Ok(Some(doc)) => Some(Fingerprint::of(&doc)),
        Ok(None) | Err(_) => None,
    })
}

/// Removes what interrupted writes left in a canvas's directory: temp files
/// and version files the index does not name. Only under the canvas lock.
fn sweep(layout: &Layout, name: &str, index: &Index) -> Result<()> {
    let dir = layout.versions(name);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(storage(&dir, &e)),
    };
    let listed: std::collections::HashSet<String> = index
        .versions
        .iter()
        .map(|v| version_file(v.revision))
        .collect();
    for entry in entries {
        let entry = entry.map_err(|e| storage(&dir, &e))?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if !listed.contains(file.as_ref()) {
            disk::remove_file(&entry.path())?;
        }
    }
    disk::remove_file(&layout.canvas_dir(name).join("index.json.tmp"))
}

#[async_trait]
impl CanvasStore for FileStore {
    async fn create(&self, doc: &CanvasDocument) -> Result<VersionInfo> {
        let (text, fingerprint) = prepare(doc)?;
        let summary = summary::created(doc.nodes.len(), doc.edges.len());
        let entry = Entry::new(doc.revision, text.len(), summary);
        let (id, name, doc_name) = (doc.id.clone(), name::encode(&doc.id), doc.name.clone());
        self.run(move |layout| {
            let _lock = layout.lock(&name)?;
            match read_index(layout, &id, &name) {
                Ok(None) => {}
                // A damaged canvas still holds the id: delete it first.
                Ok(Some(_)) | Err(Error::Corrupt { .. }) => {
                    return Err(Error::DuplicateId {
                        kind: "canvas",
                        id: id.clone(),
                    });
                }
                Err(e) => return Err(e),
            }
            // Whatever an interrupted create or delete left goes first.
            let dir = layout.canvas_dir(&name);
            disk::remove_dir_all(&dir)?;
            disk::create_dir(&layout.versions(&name))?;
            disk::sync_dir(&dir)?;
            disk::write_atomic(&layout.version(&name, entry.revision), text.as_bytes())?;
            keep_fingerprint(layout, &name, &entry, &fingerprint);
            let info = entry.info();
            let index = Index {
                layout: LAYOUT,
                id,
                name: doc_name,
                versions: vec![entry],
            };
            write_index(layout, &name, &index)?;
            Ok(info)
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<CanvasDocument> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        let (read, revision, path) = self
            .run({
                let id = id.clone();
                move |layout| {
                    let name = name::encode(&id);
                    read_listed(
                        layout,
                        &name,
                        &id,
                        |index| Some(index.current().revision),
                        || not_found(&id),
                    )
                }
            })
            .await?;
        let doc = read.parse().await?;
        check_version(&path, &doc, &id, revision)?;
        Ok(doc)
    }

    async fn get_revision(&self, id: &str, revision: u64) -> Result<CanvasDocument> {
        if check_id(id).is_err() {
            return Err(revision_not_found(id, revision));
        }
        let id = id.to_owned();
        let (read, _, path) = self
            .run({
                let id = id.clone();
                move |layout| {
                    let name = name::encode(&id);
                    read_listed(
                        layout,
                        &name,
                        &id,
                        |index| {
                            index
                                .versions
                                .iter()
                                .any(|v| v.revision == revision)
                                .then_some(revision)
                        },
                        || revision_not_found(&id, revision),
                    )
                }
            })
            .await?;
        let doc = read.parse().await?;
        check_version(&path, &doc, &id, revision)?;
        Ok(doc)
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let query = query.clone();
        self.run(move |layout| {
            let limit = query.page_size();
            let after = query.cursor.as_deref().unwrap_or("");
            let dir = layout.canvases();
            let mut ids = Vec::new();
            for entry in std::fs::read_dir(&dir).map_err(|e| storage(&dir, &e))? {
                let entry = entry.map_err(|e| storage(&dir, &e))?;
                if let Some(id) = entry.file_name().to_str().and_then(name::decode)
                    && id.as_str() > after
                {
                    ids.push(id);
                }
            }
            ids.sort_unstable();
            let mut items = Vec::with_capacity(limit.min(ids.len()));
            let mut more = false;
            for id in ids {
                let index = match read_index(layout, &id, &name::encode(&id)) {
                    Ok(Some(index)) => index,
                    // Half-created, just deleted, or damaged: not listed;
                    // `get` on a damaged one names the file.
                    Ok(None) | Err(Error::Corrupt { .. } | Error::TooLarge { .. }) => continue,
                    Err(e) => return Err(e),
                };
                if let Some(prefix) = &query.name_prefix
                    && !index.name.starts_with(prefix.as_str())
                {
                    continue;
                }
                if items.len() == limit {
                    more = true;
                    break;
                }
                let current = index.current();
                items.push(CanvasSummary {
                    id: index.id.clone(),
                    name: index.name.clone(),
                    revision: current.revision,
                    updated_at: current.saved_at.clone(),
                    size_bytes: current.size_bytes,
                });
            }
            Ok(Page::new(items, more))
        })
        .await
    }

    async fn save(&self, doc: &CanvasDocument, expected_revision: u64) -> Result<VersionInfo> {
        // The blocking work gets the JSON and the fingerprint, not a copy of
        // the document.
        let (text, fingerprint) = prepare(doc)?;
        let (id, doc_name, revision) = (doc.id.clone(), doc.name.clone(), doc.revision);
        self.run(move |layout| {
            let name = name::encode(&id);
            // A canvas that does not exist gets no lock file.
            if read_index(layout, &id, &name)?.is_none() {
                return Err(not_found(&id));
            }
            let _lock = layout.lock(&name)?;
            let mut index = read_index(layout, &id, &name)?.ok_or_else(|| not_found(&id))?;
            check_save(
                Some(index.current().revision),
                &id,
                revision,
                expected_revision,
            )?;
            let summary = match current_fingerprint(layout, &id, &name, index.current()) {
                Some(previous) => fingerprint.summary_since(&previous),
                None => UNREADABLE_PREVIOUS.to_owned(),
            };
            let entry = Entry::new(revision, text.len(), summary);
            disk::write_atomic(&layout.version(&name, revision), text.as_bytes())?;
            keep_fingerprint(layout, &name, &entry, &fingerprint);
            let info = entry.info();
            index.name = doc_name;
            index.versions.push(entry);
            write_index(layout, &name, &index)?;
            Ok(info)
        })
        .await
    }

    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> Result<()> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |layout| {
            let name = name::encode(&id);
            let dir = layout.canvas_dir(&name);
            if !dir.join("index.json").exists() {
                return Err(not_found(&id));
            }
            let _lock = layout.lock(&name)?;
            match (read_index(layout, &id, &name), expected_revision) {
                (Ok(None), _) => return Err(not_found(&id)),
                (Ok(Some(index)), Some(expected)) if index.current().revision != expected => {
                    return Err(Error::Conflict {
                        id: id.clone(),
                        expected,
                        current: index.current().revision,
                    });
                }
                (Ok(Some(_)), _) => {}
                // Without an expected revision, a damaged canvas can be deleted.
                (Err(Error::Corrupt { .. } | Error::TooLarge { .. }), None) => {}
                (Err(e), _) => return Err(e),
            }
            disk::remove_file(&layout.index(&name))?;
            disk::sync_dir(&dir)?;
            disk::remove_dir_all(&dir)?;
            disk::sync_dir(&layout.canvases())
        })
        .await
    }

    async fn history(&self, id: &str) -> Result<Vec<VersionInfo>> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |layout| {
            let index =
                read_index(layout, &id, &name::encode(&id))?.ok_or_else(|| not_found(&id))?;
            Ok(index.versions.iter().rev().map(Entry::info).collect())
        })
        .await
    }

    async fn prune(&self, id: &str, policy: Prune) -> Result<usize> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |layout| {
            let name = name::encode(&id);
            if read_index(layout, &id, &name)?.is_none() {
                return Err(not_found(&id));
            }
            let _lock = layout.lock(&name)?;
            let mut index = read_index(layout, &id, &name)?.ok_or_else(|| not_found(&id))?;
            let before = index.versions.len();
            match policy {
                Prune::KeepLast(n) => {
                    let drop = before.saturating_sub(n.max(1));
                    index.versions.drain(..drop);
                }
                Prune::OlderThan(age) => {
                    let cutoff = SystemTime::now().checked_sub(age).map(unix_ns);
                    let newest = before - 1;
                    let mut i = 0;
                    index.versions.retain(|v| {
                        let keep = i == newest || cutoff.is_none_or(|c| v.saved_unix_ns >= c);
                        i += 1;
                        keep
                    });
                }
            }
            let removed = before - index.versions.len();
            if removed > 0 {
                write_index(layout, &name, &index)?;
            }
            // The index no longer names the pruned files: they go with any
            // other leftovers.
            sweep(layout, &name, &index)?;
            Ok(removed)
        })
        .await
    }
}
