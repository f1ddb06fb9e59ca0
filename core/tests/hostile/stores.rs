//! Hostile input: stores. Opens racing on a new store (threads and
//! processes).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;

#[cfg(feature = "sqlite")]
use reelgraph::cache::SqliteCache;
use reelgraph::store::FileStore;
#[cfg(feature = "sqlite")]
use reelgraph::store::SqliteStore;

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
