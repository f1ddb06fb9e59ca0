//! Hostile input: stores. Opens racing on a new store (threads and
//! processes), damaged database pages, read-only databases, and a damaged
//! file-store index.

use crate::documents::doc;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;

use reelgraph::CanvasDocument;
#[cfg(feature = "sqlite")]
use reelgraph::cache::SqliteCache;
#[cfg(feature = "sqlite")]
use reelgraph::store::SqliteStore;
use reelgraph::store::{CanvasStore, FileStore, ListQuery};
use serde_json::json;

// ---- Opens racing on a new store ----

/// Threads opening each fresh store at once.
const RACERS: usize = 16;
/// Fresh stores per race test.
const FRESH: usize = 50;

/// A kind of store to open.
#[derive(Debug, Clone, Copy)]
enum Opener {
    Files,
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "sqlite")]
    Cache,
}

impl Opener {
    /// Every kind, in the order a `reelgraph run` on a new output directory
    /// opens them (the file store for other embedders).
    const ALL: &[Opener] = &[
        Opener::Files,
        #[cfg(feature = "sqlite")]
        Opener::Sqlite,
        #[cfg(feature = "sqlite")]
        Opener::Cache,
    ];

    fn name(self) -> &'static str {
        match self {
            Opener::Files => "files",
            #[cfg(feature = "sqlite")]
            Opener::Sqlite => "sqlite",
            #[cfg(feature = "sqlite")]
            Opener::Cache => "cache",
        }
    }

    /// Where the `i`th fresh store of this kind lives under `dir`.
    fn location(self, dir: &Path, i: usize) -> PathBuf {
        match self {
            Opener::Files => dir.join(format!("files-{i}")),
            #[cfg(feature = "sqlite")]
            Opener::Sqlite => dir.join(format!("canvases-{i}.db")),
            #[cfg(feature = "sqlite")]
            Opener::Cache => dir.join(format!("cache-{i}.db")),
        }
    }

    /// Opens the store (and drops it); the error's code and message if it
    /// fails.
    fn open(self, location: &Path) -> Result<(), String> {
        let said = |e: reelgraph::Error| format!("{}: {e}", e.code());
        match self {
            Opener::Files => FileStore::open(location).map(drop).map_err(said),
            #[cfg(feature = "sqlite")]
            Opener::Sqlite => SqliteStore::open(location).map(drop).map_err(said),
            #[cfg(feature = "sqlite")]
            Opener::Cache => SqliteCache::open(location).map(drop).map_err(said),
        }
    }
}

/// Opens `FRESH` new stores of a kind, each by `RACERS` threads released
/// together; returns every failure.
fn race_opens(opener: Opener) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let gate = Arc::new(Barrier::new(RACERS));
    let threads: Vec<_> = (0..RACERS)
        .map(|_| {
            let (gate, root) = (gate.clone(), dir.path().to_path_buf());
            thread::spawn(move || {
                let mut failures = Vec::new();
                for i in 0..FRESH {
                    let location = opener.location(&root, i);
                    gate.wait();
                    if let Err(e) = opener.open(&location) {
                        failures.push(format!("{} #{i}: {e}", opener.name()));
                    }
                }
                failures
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("an opener thread"))
        .collect()
}

#[track_caller]
fn assert_all_opened(opener: Opener, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {} concurrent opens of new {} stores failed, e.g. {:?}",
        failures.len(),
        RACERS * FRESH,
        opener.name(),
        &failures[..failures.len().min(3)]
    );
}

#[test]
fn a_new_file_store_opened_by_many_threads_at_once_opens_for_all() {
    assert_all_opened(Opener::Files, &race_opens(Opener::Files));
}

#[cfg(feature = "sqlite")]
#[test]
fn a_new_sqlite_store_opened_by_many_threads_at_once_opens_for_all() {
    assert_all_opened(Opener::Sqlite, &race_opens(Opener::Sqlite));
}

#[cfg(feature = "sqlite")]
#[test]
fn a_new_result_cache_opened_by_many_threads_at_once_opens_for_all() {
    assert_all_opened(Opener::Cache, &race_opens(Opener::Cache));
}

/// Racing opens of older builds could leave the store's marker file empty,
/// and every later open failed on it; it is written again.
#[test]
fn an_empty_store_marker_is_written_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(FileStore::open(dir.path()).expect("open"));
    let marker = dir.path().join("reelgraph-store.json");
    let written = std::fs::read(&marker).expect("the marker");
    std::fs::write(&marker, b"").expect("empty the marker");
    drop(FileStore::open(dir.path()).expect("open with an empty marker"));
    assert_eq!(std::fs::read(&marker).expect("the marker"), written);
}

/// Fresh locations the two processes race on, per kind.
const PROCESS_ROUNDS: usize = 30;
const CHILD: &str = "REELGRAPH_OPEN_RACE_DIR";

/// The child side of the two-process race: for each `go <i>` line on
/// stdin, opens the `i`th fresh store of every kind, as a `reelgraph run`
/// on a new output directory does, and reports `@ok` or the failures.
#[test]
#[ignore = "a child process of the open race; runs only when that test re-runs this binary"]
fn open_race_child() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n@ready").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let Some(i) = line.strip_prefix("go ") else {
            continue;
        };
        let i: usize = i.parse().expect("a round");
        let failures: Vec<String> = Opener::ALL
            .iter()
            .filter_map(|o| {
                let failed = o.open(&o.location(&dir, i)).err();
                failed.map(|e| format!("{} #{i}: {e}", o.name()))
            })
            .collect();
        let report = if failures.is_empty() {
            "ok".to_owned()
        } else {
            failures.join(" | ").replace('\n', " ")
        };
        writeln!(out, "\n@{report}").expect("stdout");
        out.flush().expect("stdout");
    }
}

/// A child process of the open race, and the `@` lines it prints.
struct Racer {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Racer {
    fn spawn(dir: &Path) -> Racer {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "stores::open_race_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "--quiet",
            ])
            .env(CHILD, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn a child");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut racer = Racer { child, lines };
        assert_eq!(racer.report(), "ready");
        racer
    }

    /// The next `@` line, without the `@`.
    fn report(&mut self) -> String {
        for line in self.lines.by_ref() {
            if let Some(report) = line.expect("child stdout").trim().strip_prefix('@') {
                return report.to_owned();
            }
        }
        panic!("the child ended without reporting");
    }

    fn go(&mut self, i: usize) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "go {i}").expect("write to the child");
        stdin.flush().expect("flush");
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[test]
fn two_processes_opening_the_same_new_stores_both_succeed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut racers = [Racer::spawn(dir.path()), Racer::spawn(dir.path())];
    let mut failures = Vec::new();
    for i in 0..PROCESS_ROUNDS {
        for racer in &mut racers {
            racer.go(i);
        }
        for racer in &mut racers {
            let report = racer.report();
            if report != "ok" {
                failures.push(report);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rounds failed, e.g. {:?}",
        failures.len(),
        2 * PROCESS_ROUNDS,
        &failures[..failures.len().min(3)]
    );
}

/// While another connection holds the write lock of a new database (as
/// one switching it to WAL mode does), an opener waits for it instead of
/// failing with "database is locked".
#[cfg(feature = "sqlite")]
#[test]
fn opening_a_new_database_waits_for_a_connection_writing_it() {
    for opener in [Opener::Sqlite, Opener::Cache] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.db");
        let holder = rusqlite::Connection::open(&path).expect("a raw connection");
        holder
            .execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        let opening = thread::spawn({
            let path = path.clone();
            move || opener.open(&path)
        });
        // Long enough for the opener to meet the lock (an old build failed
        // at once); the outcome does not depend on it.
        thread::sleep(std::time::Duration::from_millis(300));
        holder.execute_batch("COMMIT").expect("release the lock");
        let opened = opening.join().expect("the opener thread");
        assert_eq!(opened, Ok(()), "{} waits for the lock", opener.name());
    }
}

// ---- Damaged database pages ----

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Canvases in the damaged-database test, and saves of each.
const DAMAGED_CANVASES: usize = 10;
const DAMAGED_SAVES: u64 = 2;

/// Every way of reading and writing the store, with what it gave.
#[cfg(feature = "sqlite")]
async fn every_call(store: &SqliteStore) -> Vec<(String, reelgraph::Result<()>)> {
    let mut results = vec![(
        "list".to_owned(),
        store.list(&ListQuery::first(1000)).await.map(drop),
    )];
    for i in 0..DAMAGED_CANVASES {
        let id = format!("canvas-{i}");
        results.push((format!("get {id}"), store.get(&id).await.map(drop)));
        results.push((
            format!("get_revision {id}"),
            store.get_revision(&id, 1).await.map(drop),
        ));
        results.push((format!("history {id}"), store.history(&id).await.map(drop)));
        let mut next = doc(&id, "saved again", 3);
        next.revision = DAMAGED_SAVES + 1;
        results.push((
            format!("save {id}"),
            store.save(&next, DAMAGED_SAVES).await.map(drop),
        ));
    }
    results
}

#[cfg(feature = "sqlite")]
#[test]
fn a_damaged_database_page_is_a_corrupt_document_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("canvases.db");
    let rt = runtime();
    rt.block_on(async {
        let store = SqliteStore::open(&path).expect("open");
        for i in 0..DAMAGED_CANVASES {
            let id = format!("canvas-{i}");
            store.create(&doc(&id, &id, 100)).await.expect("create");
            for revision in 1..=DAMAGED_SAVES {
                let mut next = doc(&id, &id, 100 + revision as usize);
                next.revision = revision;
                store.save(&next, revision - 1).await.expect("save");
            }
        }
    });
    // Closing the last connection moves everything into the database file.
    let bytes = std::fs::read(&path).expect("read the database");
    let page = 32 * 1024;
    let pages = bytes.len() / page;
    assert!(pages >= 8, "{pages} pages: too few to damage the middle");
    let mut damaged = bytes;
    for p in pages / 3..pages * 2 / 3 {
        for (i, b) in damaged[p * page..(p + 1) * page].iter_mut().enumerate() {
            *b = (i * 7 + p) as u8;
        }
    }
    std::fs::write(&path, &damaged).expect("damage the middle pages");

    let location = path.display().to_string();
    let results = rt.block_on(async {
        match SqliteStore::open(&path) {
            Ok(store) => every_call(&store).await,
            Err(e) => vec![("open".to_owned(), Err(e))],
        }
    });
    let mut corrupt = 0;
    for (call, result) in &results {
        let Err(e) = result else { continue };
        assert_eq!(e.code(), "corrupt_document", "{call}: {e}");
        assert!(
            e.to_string().contains(&location),
            "{call} names the file: {e}"
        );
        corrupt += 1;
    }
    assert!(corrupt > 0, "the damage went unnoticed: {results:?}");
}

// ---- Read-only databases ----

/// Sets a file's or directory's permission bits.
#[cfg(all(unix, feature = "sqlite"))]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Whether this process may write to the file `path` after all: root may
/// write to a read-only file.
#[cfg(all(unix, feature = "sqlite"))]
fn writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().write(true).open(path).is_ok()
}

/// Whether this process may create files in `dir` after all.
#[cfg(all(unix, feature = "sqlite"))]
fn dir_writable(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let created = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    created
}

/// Reads everything from a read-only store and tries every change: reads
/// work, and each change is a `storage` error that says the database is
/// read-only.
#[cfg(feature = "sqlite")]
async fn check_read_only(how: &str, store: &SqliteStore) {
    assert!(store.is_read_only(), "{how}: read-only");
    let page = store.list(&ListQuery::first(10)).await.expect("list");
    let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["alpha", "beta"], "{how}");
    let current = store.get("alpha").await.expect("get");
    assert_eq!((current.revision, current.nodes.len()), (1, 2), "{how}");
    let first = store.get_revision("alpha", 0).await.expect("get_revision");
    assert_eq!(first.nodes.len(), 1, "{how}");
    assert_eq!(store.history("alpha").await.expect("history").len(), 2);

    let mut next = current.clone();
    next.revision = 2;
    let refused = [
        ("save", store.save(&next, 1).await.map(drop)),
        (
            "create",
            store.create(&doc("gamma", "Gamma", 0)).await.map(drop),
        ),
        ("delete", store.delete("beta", None).await),
        (
            "prune",
            store
                .prune("alpha", reelgraph::store::Prune::KeepLast(1))
                .await
                .map(drop),
        ),
    ];
    for (call, result) in refused {
        let e = result.expect_err(call);
        assert_eq!(e.code(), "storage", "{how}: {call}: {e}");
        assert!(e.to_string().contains("read-only"), "{how}: {call}: {e}");
    }
    assert_eq!(store.get("alpha").await.expect("get").revision, 1);
    assert_eq!(store.history("alpha").await.expect("history").len(), 2);
}

#[cfg(all(unix, feature = "sqlite"))]
#[test]
fn a_read_only_database_opens_for_reading_and_refuses_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let path = data.join("canvases.db");
    let rt = runtime();
    rt.block_on(async {
        let store = SqliteStore::open(&path).expect("open");
        store
            .create(&doc("alpha", "Alpha", 1))
            .await
            .expect("create");
        store.create(&doc("beta", "Beta", 0)).await.expect("create");
        let mut next = doc("alpha", "Alpha", 2);
        next.revision = 1;
        store.save(&next, 0).await.expect("save");
    });
    let before = std::fs::read(&path).expect("read the database");
    let cache = data.join("cache.db");
    drop(SqliteCache::open(&cache).expect("a cache"));

    chmod(&path, 0o444);
    chmod(&cache, 0o444);
    rt.block_on(async {
        // Meaningful as root too, where chmod stops no write.
        let store = SqliteStore::open_read_only(&path).expect("open read-only");
        check_read_only("open_read_only", &store).await;
        if !writable(&path) {
            let store = SqliteStore::open(&path).expect("open a read-only file");
            check_read_only("open on a read-only file", &store).await;
        }
        // A read-only result cache opens too, and a put says why it fails
        // (a run goes on without the cache).
        if !writable(&cache) {
            use reelgraph::cache::ResultCache;
            let cache = SqliteCache::open(&cache).expect("open a read-only cache");
            let key = reelgraph::exec::ContentKey([7; 32]);
            assert_eq!(cache.get(&key).await.expect("a miss"), None);
            let outputs = json!({"image": "a.png"})
                .as_object()
                .cloned()
                .expect("object");
            let e = cache
                .put(key, Arc::new(outputs))
                .await
                .expect_err("read-only");
            assert_eq!(e.code(), "storage");
            assert!(e.to_string().contains("read-only"), "{e}");
        }
    });
    chmod(&path, 0o644);
    chmod(&data, 0o555);
    rt.block_on(async {
        if !dir_writable(&data) {
            let store = SqliteStore::open(&path).expect("open in a read-only directory");
            check_read_only("open in a read-only directory", &store).await;
        }
    });
    chmod(&data, 0o755);
    assert_eq!(std::fs::read(&path).expect("read"), before, "unchanged");
}

// ---- A damaged file-store index ----

/// Every file under `dir`, by path relative to it, with its bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                files.insert(path.strip_prefix(dir).expect("inside").to_path_buf(), bytes);
            }
        }
    }
    files
}

fn canvas_dir(root: &Path, id: &str) -> PathBuf {
    root.join("canvases").join(id)
}

fn version_path(root: &Path, id: &str, revision: u64) -> PathBuf {
    canvas_dir(root, id)
        .join("versions")
        .join(format!("{revision:020}.json"))
}

/// Stores canvas `id` at revisions 0 to `last`, one more shot each time;
/// returns the documents by revision.
async fn saved_versions(store: &FileStore, id: &str, last: u64) -> Vec<CanvasDocument> {
    let mut docs = vec![doc(id, &format!("{id} 0"), 1)];
    store.create(&docs[0]).await.expect("create");
    for revision in 1..=last {
        let mut next = doc(id, &format!("{id} {revision}"), 1 + revision as usize);
        next.revision = revision;
        store.save(&next, revision - 1).await.expect("save");
        docs.push(next);
    }
    docs
}

/// A delete of a canvas whose index is damaged removes that canvas's files
/// and nothing else; with an expected revision it removes nothing.
#[test]
fn deleting_a_canvas_with_a_damaged_index_keeps_every_other_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    runtime().block_on(async {
        let store = FileStore::open(root).expect("open");
        // Ids whose directory names share a prefix with the damaged one's.
        for id in ["reel", "reel-2", "reel_", "reelx", "Reel"] {
            saved_versions(&store, id, 2).await;
        }
        std::fs::write(
            canvas_dir(root, "reel").join("index.json"),
            b"{\"layout\": 1,",
        )
        .expect("damage the index");
        let before = tree(root);

        let refused = store
            .delete("reel", Some(2))
            .await
            .expect_err("no revision to compare");
        assert_eq!(refused.code(), "corrupt_document");
        assert_eq!(tree(root), before, "a refused delete removes nothing");

        store.delete("reel", None).await.expect("delete");
        let after = tree(root);
        let gone: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
        assert!(
            gone.iter()
                .all(|p| p.starts_with(Path::new("canvases").join("reel"))),
            "only the deleted canvas's files go: {gone:?}"
        );
        for (path, bytes) in &after {
            assert_eq!(
                before.get(path),
                Some(bytes),
                "{} unchanged",
                path.display()
            );
        }
        for id in ["reel-2", "reel_", "reelx", "Reel"] {
            assert_eq!(store.history(id).await.expect(id).len(), 3, "{id}");
        }
    });
}

#[test]
fn a_damaged_index_is_rebuilt_from_the_version_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    runtime().block_on(async {
        let store = FileStore::open(root).expect("open");
        let docs = saved_versions(&store, "reel", 3).await;
        saved_versions(&store, "other", 1).await;
        let index = canvas_dir(root, "reel").join("index.json");
        let garbage = b"{\"layout\": 1, \"id\": \"reel\", \"versi";
        std::fs::write(&index, garbage).expect("damage the index");
        let err = store.get("reel").await.expect_err("damaged index");
        assert_eq!(err.code(), "corrupt_document");
        assert!(err.to_string().contains("rebuild_index"), "{err}");

        let rebuilt = store
            .rebuild_index("reel")
            .await
            .expect("rebuild")
            .expect("the index was damaged");
        assert_eq!(rebuilt.id, "reel");
        assert_eq!(rebuilt.revisions, [0, 1, 2, 3]);
        assert!(rebuilt.damaged.is_empty(), "{:?}", rebuilt.damaged);
        let kept = PathBuf::from(rebuilt.old_index.expect("the old index is kept"));
        assert_eq!(std::fs::read(&kept).expect("the kept index"), garbage);

        // The canvas and its whole history read again, and list.
        assert_eq!(store.get("reel").await.expect("get"), docs[3]);
        for (revision, doc) in docs.iter().enumerate() {
            let revision = revision as u64;
            assert_eq!(
                &store
                    .get_revision("reel", revision)
                    .await
                    .expect("get_revision"),
                doc
            );
        }
        let history = store.history("reel").await.expect("history");
        let revisions: Vec<u64> = history.iter().map(|v| v.revision).collect();
        assert_eq!(revisions, [3, 2, 1, 0]);
        for v in &history[..3] {
            let r = v.revision as usize;
            assert_eq!(
                v.summary,
                reelgraph::store::change_summary(Some(&docs[r - 1]), &docs[r])
            );
            let size = std::fs::metadata(version_path(root, "reel", v.revision)).expect("size");
            assert_eq!(v.size_bytes, size.len());
        }
        let listed = store.list(&ListQuery::first(10)).await.expect("list");
        let ids: Vec<&str> = listed.items.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["other", "reel"]);
        assert_eq!(listed.items[1].name, "reel 3");

        // It saves on as before; a sound index is left alone.
        let mut next = doc("reel", "reel 4", 2);
        next.revision = 4;
        store.save(&next, 3).await.expect("save after the rebuild");
        assert_eq!(store.rebuild_index("reel").await.expect("sound"), None);
        assert_eq!(store.history("reel").await.expect("history").len(), 5);
    });
}

#[test]
fn a_rebuild_sets_damaged_versions_aside_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    runtime().block_on(async {
        let store = FileStore::open(root).expect("open");
        let docs = saved_versions(&store, "reel", 3).await;
        saved_versions(&store, "lost", 1).await;
        saved_versions(&store, "sound", 1).await;
        std::fs::write(canvas_dir(root, "reel").join("index.json"), b"").expect("damage");
        std::fs::write(version_path(root, "reel", 1), b"{\"format\": \"reelgr").expect("damage");
        std::fs::write(canvas_dir(root, "lost").join("index.json"), b"[").expect("damage");
        for revision in 0..=1 {
            std::fs::write(version_path(root, "lost", revision), b"\xff").expect("damage");
        }

        let results = store.rebuild_damaged_indexes().await.expect("rebuild");
        assert_eq!(results.len(), 2, "{results:?}");
        let err = results[0]
            .as_ref()
            .expect_err("no readable version of `lost`");
        assert_eq!(err.code(), "corrupt_document");
        assert_eq!(
            store.get("lost").await.expect_err("still lost").code(),
            "corrupt_document"
        );
        assert!(
            !canvas_dir(root, "lost").join("damaged").exists(),
            "nothing is moved when nothing can be rebuilt"
        );

        let rebuilt = results[1].as_ref().expect("`reel` is rebuilt");
        assert_eq!(rebuilt.revisions, [0, 2, 3]);
        assert_eq!(rebuilt.damaged.len(), 1, "{:?}", rebuilt.damaged);
        let aside = PathBuf::from(&rebuilt.damaged[0].path);
        assert!(aside.starts_with(canvas_dir(root, "reel").join("damaged")));
        assert_eq!(
            std::fs::read(&aside).expect("set aside"),
            b"{\"format\": \"reelgr"
        );
        assert_eq!(store.get("reel").await.expect("get"), docs[3]);
        assert_eq!(
            store.get_revision("reel", 0).await.expect("oldest"),
            docs[0]
        );
        let err = store.get_revision("reel", 1).await.expect_err("set aside");
        assert_eq!(err.code(), "not_found");
        let history = store.history("reel").await.expect("history");
        assert_eq!(
            history.iter().map(|v| v.revision).collect::<Vec<_>>(),
            [3, 2, 0]
        );
        assert_eq!(store.history("sound").await.expect("untouched").len(), 2);
    });
}
