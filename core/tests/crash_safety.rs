//! Crash safety of the durable stores, with real processes.
//!
//! A writer process saves one canvas in a loop and is killed with SIGKILL at
//! random moments; after every kill the store, opened afresh, must hold the
//! last save the writer saw succeed (or the one after it, when the kill
//! landed between the write and the report), with a history that loads.
//! Two writer processes racing on one store: exactly one wins each round.
//! And a file store holding what interrupted writes leave behind still reads
//! right and cleans up. After every kill the history's change summaries are
//! those of the documents: a fingerprint a kill left behind is never trusted
//! for the wrong version.
//!
//! The child processes are this test binary, re-run with an environment
//! variable that turns the ignored `crash_child` test into the writer.
//! `REELGRAPH_CRASH_SEED` replays a run's kill delays (each run prints its seed).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reelgraph::store::{CanvasStore, FileStore, Prune, change_summary};
use reelgraph::{Canvas, CanvasDocument, Catalog, Op};
use serde_json::json;

/// Kills per store.
const KILLS: usize = 200;
/// Longest wait before a kill, after the writer's first save.
const MAX_KILL_DELAY: Duration = Duration::from_millis(20);
/// The writer prunes to this many versions every `PRUNE_EVERY` saves, so
/// kills land in prunes too and the history stays short.
const KEEP_VERSIONS: usize = 8;
const PRUNE_EVERY: u64 = 16;

const ROLE: &str = "REELGRAPH_CRASH_CHILD";
const KIND: &str = "REELGRAPH_CRASH_STORE";
const PATH: &str = "REELGRAPH_CRASH_PATH";
const TAG: &str = "REELGRAPH_CRASH_TAG";
const CANVAS: &str = "crash";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Files,
    #[cfg(feature = "sqlite")]
    Sqlite,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Files => "files",
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => "sqlite",
        }
    }

    fn parse(name: &str) -> Kind {
        match name {
            "files" => Kind::Files,
            #[cfg(feature = "sqlite")]
            "sqlite" => Kind::Sqlite,
            other => panic!("unknown store kind {other:?}"),
        }
    }

    /// Where the store lives inside a test directory.
    fn location(self, dir: &Path) -> PathBuf {
        match self {
            Kind::Files => dir.join("store"),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => dir.join("canvases.db"),
        }
    }

    fn open(self, location: &Path) -> Box<dyn CanvasStore> {
        match self {
            Kind::Files => Box::new(FileStore::open(location).expect("open the file store")),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite => Box::new(
                reelgraph::store::SqliteStore::open(location).expect("open the SQLite store"),
            ),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// What the writer saves as `revision`: a function of the revision alone,
/// with a size that varies (up to 64 KiB of payload) so that a torn write
/// cannot pass for a whole one.
fn expected(revision: u64, tag: &str) -> CanvasDocument {
    // Building a canvas loads the catalogue; do it once per shape.
    static SHAPES: std::sync::OnceLock<Vec<CanvasDocument>> = std::sync::OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        let catalog = Catalog::builtin();
        (1..=5)
            .map(|shots| {
                let mut canvas = Canvas::new(catalog.clone(), CANVAS, "Crash");
                let ops: Vec<Op> = (0..shots)
                    .map(|i| Op::add_node(&format!("s{i}"), "shot", json!({"number": i + 1})))
                    .collect();
                canvas.apply(ops).expect("shots apply");
                canvas.to_document()
            })
            .collect()
    });
    let mut doc = shapes[(revision % 5) as usize].clone();
    doc.revision = revision;
    doc.name = format!("Crash {tag} {revision}");
    doc.created_at = "2025-01-01T00:00:00.000Z".into();
    doc.updated_at = "2025-01-01T00:00:00.000Z".into();
    let payload = (revision * 7919 % 65_536) as usize;
    doc.metadata.insert(
        "payload".into(),
        json!(format!("{revision}:").repeat(payload / 8 + 1)),
    );
    doc
}

/// The child side. Ignored in ordinary runs; the crash tests run it in a
/// child process with `REELGRAPH_CRASH_CHILD` set.
#[test]
#[ignore = "the writer process of the crash tests; runs only when they re-run this binary"]
fn crash_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let kind = Kind::parse(&std::env::var(KIND).expect("store kind"));
    let location = PathBuf::from(std::env::var(PATH).expect("store path"));
    let rt = runtime();
    rt.block_on(async {
        let store = kind.open(&location);
        match role.as_str() {
            "writer" => writer(&*store).await,
            "racer" => racer(&*store, &std::env::var(TAG).expect("racer tag")).await,
            other => panic!("unknown role {other:?}"),
        }
    });
}

/// Saves revision after revision, reporting each after `save` returned Ok.
async fn writer(store: &dyn CanvasStore) {
    let mut out = std::io::stdout().lock();
    let mut revision = store.get(CANVAS).await.expect("the canvas loads").revision;
    // A kill between a save and its prune skips that prune; catch up.
    store
        .prune(CANVAS, Prune::KeepLast(KEEP_VERSIONS))
        .await
        .expect("prune");
    loop {
        let next = revision + 1;
        store
            .save(&expected(next, "w"), revision)
            .await
            .expect("the only writer saves");
        writeln!(out, "\n@saved {next}").expect("stdout");
        out.flush().expect("stdout");
        revision = next;
        if revision % PRUNE_EVERY == 0 {
            store
                .prune(CANVAS, Prune::KeepLast(KEEP_VERSIONS))
                .await
                .expect("prune");
        }
    }
}

/// For each `go <revision>` line on stdin, tries to replace that revision
/// with its own document and reports whether it won.
async fn racer(store: &dyn CanvasStore, tag: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n@ready").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let Some(revision) = line.strip_prefix("go ") else {
            continue;
        };
        let revision: u64 = revision.parse().expect("a revision");
        let result = match store.save(&expected(revision + 1, tag), revision).await {
            Ok(_) => "won".to_owned(),
            Err(e) => e.code().to_owned(),
        };
        writeln!(out, "\n@{result}").expect("stdout");
        out.flush().expect("stdout");
    }
}

/// A child process and the `@` lines it prints, as they arrive.
struct ChildProc {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: thread::JoinHandle<()>,
    stderr: thread::JoinHandle<String>,
}

impl ChildProc {
    fn spawn(role: &str, kind: Kind, location: &Path, tag: &str) -> ChildProc {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "--quiet",
            ])
            .env(ROLE, role)
            .env(KIND, kind.name())
            .env(PATH, location)
            .env(TAG, tag)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(report) = line.trim().strip_prefix('@')
                    && tx.send(report.to_owned()).is_err()
                {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
            text
        });
        ChildProc {
            child,
            lines,
            reader,
            stderr,
        }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the child reports within 30 s")
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().expect("stdin")
    }

    /// SIGKILLs the child and returns every line it printed that was not
    /// yet taken. Panics (with its stderr) if it had died by itself.
    fn kill(mut self) -> Vec<String> {
        let exited = self.child.try_wait().expect("try_wait");
        self.child.kill().expect("kill");
        let status = self.child.wait().expect("wait");
        self.reader.join().expect("stdout reader");
        let stderr = self.stderr.join().expect("stderr reader");
        assert!(
            exited.is_none(),
            "the child died by itself ({status}) before the kill:\n{stderr}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
        }
        self.lines.try_iter().collect()
    }
}

fn seed() -> u64 {
    let seed = std::env::var("REELGRAPH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    eprintln!("crash test seed: {seed} (REELGRAPH_CRASH_SEED replays it)");
    seed
}

/// Checks what a fresh store holds after a kill; returns the revision.
async fn check_after_kill(kind: Kind, location: &Path, last_reported: u64) -> u64 {
    let store = kind.open(location);
    let doc = store
        .get(CANVAS)
        .await
        .expect("the canvas loads after a kill");
    assert!(
        doc.revision == last_reported || doc.revision == last_reported + 1,
        "after a kill the store holds revision {}, but the writer had reported {last_reported}",
        doc.revision
    );
    assert_eq!(
        doc,
        expected(doc.revision, "w"),
        "revision {}",
        doc.revision
    );
    let history = store.history(CANVAS).await.expect("the history loads");
    assert_eq!(
        history[0].revision, doc.revision,
        "history starts at the current version"
    );
    assert!(
        history.len() <= KEEP_VERSIONS + PRUNE_EVERY as usize,
        "prunes keep the history short: {} versions",
        history.len()
    );
    for version in &history {
        let old = store
            .get_revision(CANVAS, version.revision)
            .await
            .unwrap_or_else(|e| panic!("version {} loads: {e}", version.revision));
        assert_eq!(old, expected(version.revision, "w"));
        // Each save replaced the revision before it: a fingerprint left
        // stale or torn by a kill must not have worded its summary.
        let previous = (version.revision > 1).then(|| expected(version.revision - 1, "w"));
        assert_eq!(
            version.summary,
            change_summary(previous.as_ref(), &old),
            "the summary of revision {}",
            version.revision
        );
    }
    let page = store
        .list(&reelgraph::store::ListQuery::first(10))
        .await
        .expect("list");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].revision, doc.revision);
    doc.revision
}

fn survives_sigkill_mid_save(kind: Kind) {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = kind.location(dir.path());
    let rt = runtime();
    rt.block_on(async {
        kind.open(&location)
            .create(&expected(1, "w"))
            .await
            .expect("create");
    });
    let mut rng = SmallRng::seed_from_u64(seed());
    let started = Instant::now();
    let mut stored = 1;
    let mut unreported = 0;
    let mut saves = 0;
    for _ in 0..KILLS {
        let child = ChildProc::spawn("writer", kind, &location, "w");
        // Kill only once it is saving: first the report of one save...
        let first = child.next_line();
        let delay = rng.random_range(Duration::ZERO..=MAX_KILL_DELAY);
        thread::sleep(delay);
        // ...then a random moment later.
        let rest = child.kill();
        let reported: Vec<u64> = std::iter::once(first)
            .chain(rest)
            .map(|line| {
                line.strip_prefix("saved ")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected report {line:?}"))
            })
            .collect();
        assert_eq!(
            reported[0],
            stored + 1,
            "the writer starts from the stored revision"
        );
        assert!(reported.windows(2).all(|w| w[1] == w[0] + 1));
        let last = *reported.last().expect("one report at least");
        saves += reported.len();
        stored = rt.block_on(check_after_kill(kind, &location, last));
        if stored == last + 1 {
            unreported += 1;
        }
    }
    eprintln!(
        "{}: {KILLS} kills, {saves} saves reported, {unreported} kills between a save and its report, {:.1} s",
        kind.name(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn file_store_survives_sigkill_mid_save() {
    survives_sigkill_mid_save(Kind::Files);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_store_survives_sigkill_mid_save() {
    survives_sigkill_mid_save(Kind::Sqlite);
}

/// Two processes try to replace the same revision, round after round.
fn two_processes_exactly_one_wins(kind: Kind) {
    const ROUNDS: u64 = 30;
    let dir = tempfile::tempdir().expect("temp dir");
    let location = kind.location(dir.path());
    let rt = runtime();
    rt.block_on(async {
        kind.open(&location)
            .create(&expected(1, "a"))
            .await
            .expect("create");
    });
    let mut racers = [
        ChildProc::spawn("racer", kind, &location, "a"),
        ChildProc::spawn("racer", kind, &location, "b"),
    ];
    for racer in &racers {
        assert_eq!(racer.next_line(), "ready");
    }
    let mut wins = [0; 2];
    for revision in 1..=ROUNDS {
        for racer in &mut racers {
            writeln!(racer.stdin(), "go {revision}").expect("send go");
            racer.stdin().flush().expect("flush");
        }
        let results: Vec<String> = racers.iter().map(ChildProc::next_line).collect();
        let winners: Vec<usize> = (0..2).filter(|&i| results[i] == "won").collect();
        assert_eq!(winners.len(), 1, "round {revision}: {results:?}");
        let loser = 1 - winners[0];
        assert_eq!(results[loser], "conflict", "round {revision}");
        wins[winners[0]] += 1;
        let tag = ["a", "b"][winners[0]];
        let stored = rt.block_on(async { kind.open(&location).get(CANVAS).await.expect("get") });
        assert_eq!(
            stored,
            expected(revision + 1, tag),
            "the winner's document is stored"
        );
    }
    for racer in racers {
        racer.kill();
    }
    eprintln!("{}: wins per process {wins:?}", kind.name());
}

#[test]
fn two_processes_on_one_file_store_exactly_one_wins() {
    two_processes_exactly_one_wins(Kind::Files);
}

#[cfg(feature = "sqlite")]
#[test]
fn two_processes_on_one_sqlite_database_exactly_one_wins() {
    two_processes_exactly_one_wins(Kind::Sqlite);
}

// What interrupted writes leave in a file store. The tests know the layout
// (see the `FileStore` docs); the canvas ids are plain lowercase words, so
// their directory names are the ids themselves.

fn canvas_dir(root: &Path, id: &str) -> PathBuf {
    root.join("canvases").join(id)
}

fn version_path(root: &Path, id: &str, revision: u64) -> PathBuf {
    canvas_dir(root, id)
        .join("versions")
        .join(format!("{revision:020}.json"))
}

fn doc(id: &str, revision: u64) -> CanvasDocument {
    let mut d = expected(revision, "r");
    d.id = id.into();
    d
}

#[tokio::test]
async fn leftovers_of_an_interrupted_save_are_ignored_then_swept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("open");
    store.create(&doc("left", 1)).await.expect("create");
    store.save(&doc("left", 2), 1).await.expect("save");
    // A save of revision 3 that died after writing its version file, and
    // writes that died before their rename.
    let orphan = version_path(dir.path(), "left", 3);
    std::fs::write(&orphan, b"{\"format\": \"reelgraph.can").expect("orphan");
    let temps = [
        canvas_dir(dir.path(), "left").join("index.json.tmp"),
        version_path(dir.path(), "left", 4).with_extension("json.tmp"),
    ];
    for temp in &temps {
        std::fs::write(temp, b"half").expect("temp");
    }

    assert_eq!(store.get("left").await.expect("get"), doc("left", 2));
    let revisions: Vec<u64> = store
        .history("left")
        .await
        .expect("history")
        .iter()
        .map(|v| v.revision)
        .collect();
    assert_eq!(revisions, [2, 1]);
    assert_eq!(
        store
            .get_revision("left", 3)
            .await
            .expect_err("orphan")
            .code(),
        "not_found"
    );
    let page = store
        .list(&reelgraph::store::ListQuery::first(10))
        .await
        .expect("list");
    assert_eq!(page.items.len(), 1);

    store
        .save(&doc("left", 3), 2)
        .await
        .expect("the orphan's revision is saved over");
    assert_eq!(
        store.get_revision("left", 3).await.expect("v3"),
        doc("left", 3)
    );
    std::fs::write(orphan.with_file_name("00000000000000000009.json"), b"x").expect("orphan");
    assert_eq!(
        store
            .prune("left", Prune::KeepLast(10))
            .await
            .expect("prune"),
        0
    );
    for temp in &temps {
        assert!(!temp.exists(), "{} is swept", temp.display());
    }
    assert!(!orphan.with_file_name("00000000000000000009.json").exists());
    assert_eq!(store.history("left").await.expect("history").len(), 3);
}

#[tokio::test]
async fn a_half_created_canvas_does_not_exist_and_can_be_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("open");
    // A create that died before writing its index.
    std::fs::create_dir_all(canvas_dir(dir.path(), "half").join("versions")).expect("dir");
    std::fs::write(version_path(dir.path(), "half", 7), b"{}").expect("version");

    assert_eq!(
        store.get("half").await.expect_err("absent").code(),
        "not_found"
    );
    assert_eq!(
        store.history("half").await.expect_err("absent").code(),
        "not_found"
    );
    let page = store
        .list(&reelgraph::store::ListQuery::first(10))
        .await
        .expect("list");
    assert!(page.items.is_empty());
    assert_eq!(
        store
            .save(&doc("half", 8), 7)
            .await
            .expect_err("absent")
            .code(),
        "not_found"
    );

    store.create(&doc("half", 1)).await.expect("create");
    assert_eq!(store.get("half").await.expect("get"), doc("half", 1));
    assert!(
        !version_path(dir.path(), "half", 7).exists(),
        "leftovers are cleared"
    );
}

#[tokio::test]
async fn a_half_deleted_canvas_is_gone_and_its_id_reusable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("open");
    store.create(&doc("gone", 1)).await.expect("create");
    store.save(&doc("gone", 2), 1).await.expect("save");
    // A delete that died after removing the index, before the versions.
    std::fs::remove_file(canvas_dir(dir.path(), "gone").join("index.json")).expect("rm index");

    assert_eq!(
        store.get("gone").await.expect_err("gone").code(),
        "not_found"
    );
    assert_eq!(
        store.delete("gone", None).await.expect_err("gone").code(),
        "not_found"
    );
    store
        .create(&doc("gone", 1))
        .await
        .expect("the id is reusable");
    let history = store.history("gone").await.expect("history");
    assert_eq!(history.len(), 1, "no version of the old canvas survives");
    assert_eq!(
        store.get_revision("gone", 2).await.expect_err("old").code(),
        "not_found"
    );
}

#[tokio::test]
async fn a_missing_version_file_is_damage_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("open");
    store.create(&doc("lost", 1)).await.expect("create");
    store.save(&doc("lost", 2), 1).await.expect("save");
    let current = version_path(dir.path(), "lost", 2);
    std::fs::remove_file(&current).expect("rm");

    let err = store.get("lost").await.expect_err("lost");
    assert_eq!(err.code(), "corrupt_document");
    assert_eq!(
        err.details()["location"],
        json!(current.display().to_string())
    );
    assert_eq!(
        store
            .get_revision("lost", 1)
            .await
            .expect("the older version"),
        doc("lost", 1)
    );
    // Restoring: save the old version over the damaged one.
    let mut restored = doc("lost", 1);
    restored.revision = 3;
    let info = store.save(&restored, 2).await.expect("restore");
    assert_eq!(info.summary, "replaces an unreadable version");
    assert_eq!(store.get("lost").await.expect("restored"), restored);
}
