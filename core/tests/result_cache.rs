//! The result caches. One behaviour suite runs against every cache (the
//! executor must not care where results live); then what is particular to
//! the SQLite cache: a file shared with a second process, damaged rows,
//! and files from a newer schema.
//!
//! The second process is this test binary, re-run with an environment
//! variable that turns the ignored `sqlite_file::second_process` test into
//! the other side.

use std::sync::Arc;

use reelgraph::cache::{CacheStats, MemoryCache, ResultCache};
use reelgraph::exec::ContentKey;
use reelgraph::runner::Outputs;
use serde_json::json;

fn key(n: u32) -> ContentKey {
    let mut bytes = [0xA5; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    ContentKey(bytes)
}

/// Outputs of the same size for every `n` below a million.
fn outputs(n: u32) -> Arc<Outputs> {
    Arc::new(object(
        json!({"image": format!("frames/{n:06}.png"), "seed": 1}),
    ))
}

fn object(value: serde_json::Value) -> Outputs {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Outputs whose entry is exactly `size` bytes.
fn outputs_of_size(size: u64) -> Arc<Outputs> {
    let overhead = entry_size(&object(json!({"blob": ""})));
    let fill = usize::try_from(size - overhead).expect("fits");
    let made = Arc::new(object(json!({"blob": "x".repeat(fill)})));
    assert_eq!(entry_size(&made), size);
    made
}

/// What an entry counts against a budget, worked out independently of the
/// caches: the outputs' JSON length plus the 32-byte key.
fn entry_size(outputs: &Outputs) -> u64 {
    serde_json::to_string(outputs).expect("json").len() as u64 + 32
}

/// The size of every `outputs(n)` entry.
fn unit() -> u64 {
    entry_size(&outputs(0))
}

async fn present(cache: &dyn ResultCache, n: u32) -> bool {
    cache.get(&key(n)).await.expect("get").is_some()
}

// The suite. Each function gets a fresh cache.

pub async fn put_then_get_returns_the_outputs(cache: &dyn ResultCache) {
    cache.put(key(1), outputs(1)).await.expect("put");
    let found = cache.get(&key(1)).await.expect("get").expect("a hit");
    assert_eq!(*found, *outputs(1));
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.bytes), (1, unit()));
}

pub async fn an_unknown_key_is_a_miss(cache: &dyn ResultCache) {
    assert!(cache.get(&key(404)).await.expect("get").is_none());
    cache.put(key(1), outputs(1)).await.expect("put");
    assert!(cache.get(&key(2)).await.expect("get").is_none());
    assert!(cache.get_many(&[]).await.expect("get_many").is_empty());
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (0, 2));
}

pub async fn a_put_replaces_what_the_key_held(cache: &dyn ResultCache) {
    cache.put(key(1), outputs(1)).await.expect("put");
    let bigger = Arc::new(object(
        json!({"image": "frames/000001.png", "note": "re-rendered"}),
    ));
    cache.put(key(1), bigger.clone()).await.expect("replace");
    assert_eq!(cache.get(&key(1)).await.expect("get"), Some(bigger.clone()));
    let stats = cache.stats();
    assert_eq!(stats.entries, 1);
    assert_eq!(stats.bytes, entry_size(&bigger), "the old size is gone");
    assert_eq!(stats.evictions, 0, "a replacement is not an eviction");
}

pub async fn get_many_answers_in_order(cache: &dyn ResultCache) {
    cache.put(key(1), outputs(1)).await.expect("put");
    cache.put(key(3), outputs(3)).await.expect("put");
    let asked = [key(3), key(2), key(1), key(4), key(3)];
    let found = cache.get_many(&asked).await.expect("get_many");
    let expected = [
        Some(outputs(3)),
        None,
        Some(outputs(1)),
        None,
        Some(outputs(3)),
    ];
    assert_eq!(found, expected);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (3, 2));
}

pub async fn stats_count_every_call(cache: &dyn ResultCache) {
    assert_eq!(cache.stats(), CacheStats::default());
    for n in 0..5 {
        cache.put(key(n), outputs(n)).await.expect("put");
    }
    for n in 0..8 {
        cache.get(&key(n)).await.expect("get");
    }
    cache
        .get_many(&[key(0), key(9), key(4)])
        .await
        .expect("get_many");
    assert_eq!(
        cache.stats(),
        CacheStats {
            entries: 5,
            bytes: 5 * unit(),
            hits: 5 + 2,
            misses: 3 + 1,
            evictions: 0,
        }
    );
}

/// `cache` holds three `outputs(n)` entries.
pub async fn the_least_recently_used_go_first(cache: &dyn ResultCache) {
    for n in 1..=3 {
        cache.put(key(n), outputs(n)).await.expect("put");
    }
    // Use order now: 2, 3, 1 (a get is a use; a miss is not).
    assert!(present(cache, 1).await);
    assert!(!present(cache, 9).await);
    cache.put(key(4), outputs(4)).await.expect("put");
    assert_eq!(cache.stats().evictions, 1);
    // Checked with get_many, which is also a use: 3, 1, 4 -> 1, 4, 3.
    let found = cache.get_many(&[key(2), key(3)]).await.expect("get_many");
    assert_eq!(found, [None, Some(outputs(3))], "2 was the oldest");
    cache.put(key(5), outputs(5)).await.expect("put");
    for (n, kept) in [(1, false), (3, true), (4, true), (5, true)] {
        assert_eq!(present(cache, n).await, kept, "entry {n}");
    }
    let stats = cache.stats();
    assert_eq!(stats.evictions, 2);
    assert_eq!((stats.entries, stats.bytes), (3, 3 * unit()));
}

/// `cache` holds three `outputs(n)` entries.
pub async fn an_entry_larger_than_the_budget_is_not_stored(cache: &dyn ResultCache) {
    cache.put(key(1), outputs(1)).await.expect("put");
    cache.put(key(2), outputs(2)).await.expect("put");
    let huge = outputs_of_size(3 * unit() + 1);
    cache
        .put(key(3), huge.clone())
        .await
        .expect("an oversize put is not an error");
    assert!(!present(cache, 3).await);
    assert!(
        present(cache, 1).await && present(cache, 2).await,
        "nothing evicted"
    );
    assert_eq!(cache.stats().evictions, 0);
    assert_eq!(cache.stats().bytes, 2 * unit());

    // Replaced by something that cannot be kept: the old value goes too.
    cache.put(key(2), huge).await.expect("put");
    assert!(!present(cache, 2).await, "never the replaced value");
    assert!(present(cache, 1).await);
    let stats = cache.stats();
    assert_eq!(
        (stats.entries, stats.bytes, stats.evictions),
        (1, unit(), 0)
    );

    // Exactly the budget fits, and makes room by evicting the rest.
    cache
        .put(key(4), outputs_of_size(3 * unit()))
        .await
        .expect("put");
    assert!(present(cache, 4).await);
    assert!(!present(cache, 1).await);
    let stats = cache.stats();
    assert_eq!(
        (stats.entries, stats.bytes, stats.evictions),
        (1, 3 * unit(), 1)
    );
}

/// Many tasks at once, each with its own keys plus a shared one.
pub async fn tasks_share_one_cache(cache: Arc<dyn ResultCache>) {
    const TASKS: u32 = 8;
    const EACH: u32 = 50;
    cache.put(key(0), outputs(0)).await.expect("put");
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            let mine: Vec<u32> = (1..=EACH).map(|i| t * 1000 + i).collect();
            for &n in &mine {
                cache.put(key(n), outputs(n)).await.expect("put");
                assert_eq!(cache.get(&key(0)).await.expect("get"), Some(outputs(0)));
            }
            let keys: Vec<ContentKey> = mine.iter().map(|&n| key(n)).collect();
            let found = cache.get_many(&keys).await.expect("get_many");
            let expected: Vec<_> = mine.iter().map(|&n| Some(outputs(n))).collect();
            assert_eq!(found, expected, "task {t} reads back what it wrote");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let entries = u64::from(TASKS * EACH + 1);
    assert_eq!(
        cache.stats(),
        CacheStats {
            entries,
            bytes: entries * unit(),
            hits: 2 * u64::from(TASKS * EACH),
            misses: 0,
            evictions: 0,
        }
    );
}

/// `cache` holds twenty `outputs(n)` entries; many tasks overfill it at once.
pub async fn the_budget_holds_under_concurrent_puts(cache: Arc<dyn ResultCache>) {
    const TASKS: u32 = 8;
    const EACH: u32 = 30;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let cache = cache.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let n = t * 1000 + i;
                cache.put(key(n), outputs(n)).await.expect("put");
                // Reads in between, from other tasks' keys too.
                cache
                    .get(&key(((t + 1) % TASKS) * 1000 + i))
                    .await
                    .expect("get");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    // One more call, so counters that mirror the file are current.
    cache.get(&key(u32::MAX)).await.expect("get");
    let stats = cache.stats();
    assert_eq!(stats.entries, 20, "full, and no more than full");
    assert_eq!(stats.bytes, 20 * unit());
    assert_eq!(stats.evictions, u64::from(TASKS * EACH) - 20);
    assert_eq!(stats.hits + stats.misses, u64::from(TASKS * EACH) + 1);
}

/// Runs the suite. `$make` gives `(guard, cache)`, an unbounded cache and
/// whatever must live as long as it; `$bounded(max_bytes)` the same with a
/// byte budget.
macro_rules! cache_suite {
    ($name:ident, $make:expr, $bounded:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn put_then_get_returns_the_outputs() {
                let (_guard, cache) = $make;
                super::put_then_get_returns_the_outputs(&cache).await;
            }
            #[tokio::test]
            async fn an_unknown_key_is_a_miss() {
                let (_guard, cache) = $make;
                super::an_unknown_key_is_a_miss(&cache).await;
            }
            #[tokio::test]
            async fn a_put_replaces_what_the_key_held() {
                let (_guard, cache) = $make;
                super::a_put_replaces_what_the_key_held(&cache).await;
            }
            #[tokio::test]
            async fn get_many_answers_in_order() {
                let (_guard, cache) = $make;
                super::get_many_answers_in_order(&cache).await;
            }
            #[tokio::test]
            async fn stats_count_every_call() {
                let (_guard, cache) = $make;
                super::stats_count_every_call(&cache).await;
            }
            #[tokio::test]
            async fn the_least_recently_used_go_first() {
                let (_guard, cache) = ($bounded)(3 * unit());
                super::the_least_recently_used_go_first(&cache).await;
            }
            #[tokio::test]
            async fn an_entry_larger_than_the_budget_is_not_stored() {
                let (_guard, cache) = ($bounded)(3 * unit());
                super::an_entry_larger_than_the_budget_is_not_stored(&cache).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn tasks_share_one_cache() {
                let (_guard, cache) = $make;
                super::tasks_share_one_cache(Arc::new(cache)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn the_budget_holds_under_concurrent_puts() {
                let (_guard, cache) = ($bounded)(20 * unit());
                super::the_budget_holds_under_concurrent_puts(Arc::new(cache)).await;
            }
        }
    };
}

fn budget(max_bytes: u64) -> usize {
    usize::try_from(max_bytes).expect("a small budget")
}

cache_suite!(memory, ((), MemoryCache::new(usize::MAX)), |max: u64| (
    (),
    MemoryCache::new(budget(max))
));

#[cfg(feature = "sqlite")]
cache_suite!(sqlite, sqlite_file::in_temp_dir(None), |max: u64| {
    sqlite_file::in_temp_dir(Some(budget(max)))
});

#[cfg(feature = "sqlite")]
cache_suite!(
    sqlite_in_memory,
    (
        (),
        reelgraph::cache::SqliteCache::open_in_memory().expect("open")
    ),
    |max: u64| {
        let cache = reelgraph::cache::SqliteCache::open_in_memory().expect("open");
        ((), cache.with_max_bytes(budget(max)))
    }
);

#[cfg(feature = "sqlite")]
mod sqlite_file {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use reelgraph::cache::SqliteCache;
    use rusqlite::Connection;

    use super::*;

    /// Set in the second process to the cache file's path.
    const CHILD: &str = "REELGRAPH_RESULT_CACHE_CHILD";

    /// A cache in a fresh temporary directory, removed with the guard.
    pub fn in_temp_dir(max_bytes: Option<usize>) -> (tempfile::TempDir, SqliteCache) {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = SqliteCache::open(dir.path().join("results.db")).expect("open");
        match max_bytes {
            Some(max) => (dir, cache.with_max_bytes(max)),
            None => (dir, cache),
        }
    }

    fn open() -> (tempfile::TempDir, PathBuf, SqliteCache) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("results.db");
        let cache = SqliteCache::open(&path).expect("open");
        (dir, path, cache)
    }

    /// A second connection, to look at or damage what the cache wrote.
    fn raw(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("raw connection");
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        conn
    }

    fn rows(path: &Path) -> i64 {
        raw(path)
            .query_row("SELECT count(*) FROM results", [], |r| r.get(0))
            .expect("count")
    }

    /// The other process. Ignored in ordinary runs;
    /// `a_second_process_reuses_results` runs it with `CHILD` set.
    #[test]
    #[ignore = "the second process of `a_second_process_reuses_results`; runs only when that test re-runs this binary"]
    fn second_process() {
        let Ok(path) = std::env::var(CHILD) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let cache = SqliteCache::open(&path).expect("the child opens the file");
            let keys: Vec<ContentKey> = (1..=20).map(key).collect();
            let found = cache.get_many(&keys).await.expect("get_many");
            let expected: Vec<_> = (1..=20).map(|n| Some(outputs(n))).collect();
            assert_eq!(found, expected, "the child reads what the parent wrote");
            assert_eq!(cache.stats().entries, 20);
            for n in 100..110 {
                cache
                    .put(key(n), outputs(n))
                    .await
                    .expect("the child writes");
            }
            println!("\n@read {} wrote 10", cache.stats().hits);
        });
    }

    #[tokio::test]
    async fn a_second_process_reuses_results() {
        let (_dir, path, cache) = open();
        for n in 1..=20 {
            cache.put(key(n), outputs(n)).await.expect("put");
        }
        // The parent keeps its connection open while the child works.
        let child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "sqlite_file::second_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
                "--quiet",
            ])
            .env(CHILD, &path)
            .output()
            .expect("run the second process");
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success(),
            "the second process failed ({}):\n{stdout}\n{}",
            child.status,
            String::from_utf8_lossy(&child.stderr)
        );
        assert!(
            stdout
                .lines()
                .any(|line| line.trim() == "@read 20 wrote 10"),
            "the second process ran its checks:\n{stdout}"
        );

        let keys: Vec<ContentKey> = (100..110).map(key).collect();
        let found = cache.get_many(&keys).await.expect("get_many");
        let expected: Vec<_> = (100..110).map(|n| Some(outputs(n))).collect();
        assert_eq!(found, expected, "the parent reads what the child wrote");
        assert_eq!(
            cache.stats().entries,
            30,
            "the file's count, both processes' entries"
        );
    }

    #[tokio::test]
    async fn a_corrupt_row_is_a_miss_and_is_deleted() {
        let (_dir, path, cache) = open();
        for n in 1..=4 {
            cache.put(key(n), outputs(n)).await.expect("put");
        }
        let conn = raw(&path);
        let damage = |n: u32, sql_value: &str| {
            let sql = format!("UPDATE results SET outputs = {sql_value} WHERE key = ?1");
            let changed = conn.execute(&sql, [&key(n).0[..]]).expect("damage");
            assert_eq!(changed, 1);
        };
        damage(1, r#"'{"image": "frames/0'"#); // cut short
        damage(2, "'[1, 2]'"); // JSON, but not an object
        damage(3, "x'00ff'"); // not text at all
        drop(conn);

        let found = cache
            .get_many(&[key(1), key(2), key(3), key(4)])
            .await
            .expect("damage never fails a lookup");
        assert_eq!(found, [None, None, None, Some(outputs(4))]);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 3));
        assert_eq!(
            (stats.entries, stats.bytes),
            (1, unit()),
            "damaged rows deleted"
        );
        assert_eq!(rows(&path), 1);

        // The node runs again and its result is stored soundly.
        cache.put(key(1), outputs(1)).await.expect("put");
        assert_eq!(cache.get(&key(1)).await.expect("get"), Some(outputs(1)));
    }

    #[tokio::test]
    async fn a_file_from_a_newer_schema_is_refused() {
        let (_dir, path, cache) = open();
        cache.put(key(1), outputs(1)).await.expect("put");
        drop(cache);
        raw(&path)
            .pragma_update(None, "user_version", 2)
            .expect("bump");
        let err = SqliteCache::open(&path).expect_err("newer schema");
        assert_eq!(err.code(), "storage");
        let message = err.to_string();
        assert!(
            message.contains("newer reelgraph") && message.contains("schema 2"),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert_eq!(rows(&path), 1, "the file is left as it was");
    }

    #[tokio::test]
    async fn results_and_totals_survive_reopening() {
        let (_dir, path, cache) = open();
        for n in 1..=5 {
            cache.put(key(n), outputs(n)).await.expect("put");
        }
        drop(cache);
        let cache = SqliteCache::open(&path).expect("reopen");
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.bytes), (5, 5 * unit()));
        assert_eq!(
            (stats.hits, stats.misses),
            (0, 0),
            "counters are per opening"
        );
        assert_eq!(cache.get(&key(3)).await.expect("get"), Some(outputs(3)));
        let version: u32 = raw(&path)
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version");
        assert_eq!(version, 1);
    }

    #[tokio::test]
    async fn a_file_over_a_new_budget_shrinks_at_the_next_put() {
        let (_dir, path, cache) = open();
        for n in 1..=5 {
            cache.put(key(n), outputs(n)).await.expect("put");
        }
        assert!(present(&cache, 1).await, "1 is now the most recently used");
        drop(cache);
        let cache = SqliteCache::open(&path)
            .expect("reopen")
            .with_max_bytes(budget(3 * unit()));
        cache.put(key(6), outputs(6)).await.expect("put");
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.evictions), (3, 3));
        for (n, kept) in [
            (1, true),
            (2, false),
            (3, false),
            (4, false),
            (5, true),
            (6, true),
        ] {
            assert_eq!(present(&cache, n).await, kept, "entry {n}");
        }
    }
}
