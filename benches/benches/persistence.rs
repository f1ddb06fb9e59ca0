//! Benchmarks of persistence, ComfyUI import and rendering. Goals, on a
//! 2-core machine: save + get of a 10,000-node canvas ≤ 30 ms in the file and
//! SQLite stores; a page of 100 out of 100,000 canvases in SQLite ≤ 5 ms; SVG
//! of a 1,000-node canvas ≤ 100 ms; an import of 1 MB of any shape ≤ 1 s.
//!
//! `cargo bench -p reelgraph-benches --bench persistence` (about three
//! minutes); one group: `cargo bench -p reelgraph-benches --bench persistence -- list`.
//!
//! Stores live in temporary directories on the disk `std::env::temp_dir()`
//! is on, so saves pay real fsyncs. The listing stores are filled through the
//! public `create` in a scratch directory on tmpfs (`/dev/shm`, where fsync
//! costs nothing), then copied to disk: filling them on disk would cost an
//! fsync or more per canvas. The import group needs the ComfyUI workflow set
//! (`bash scripts/fetch-comfyui-workflows.sh`) and is skipped without it.

use std::cell::{OnceCell, RefCell};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use reelgraph::format::{comfyui, react_flow};
use reelgraph::render::{self, LayoutMode, SvgOptions};
use reelgraph::store::{
    CanvasStore, FileStore, ListQuery, MemoryStore, Page, Prune, SqliteStore, change_summary,
};
use reelgraph::{Canvas, CanvasDocument, Catalog, Op};
use reelgraph_benches::{BATCH, Dag, SEED};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// The canvas saved and loaded.
const SAVE_NODES: usize = 10_000;
const SAVE_EDGES: usize = 20_000;
/// Canvases in the listing stores.
const SQLITE_CANVASES: usize = 100_000;
const FILE_CANVASES: usize = 10_000;
const PAGE: usize = 100;
/// The canvas rendered.
const RENDER_NODES: usize = 1_000;
const RENDER_EDGES: usize = 2_000;

/// Sums the time of `iters` runs of `timed`, each after an untimed `before`
/// and followed by an untimed `after` that gets what `timed` returned.
fn each<S, T>(
    iters: u64,
    mut before: impl FnMut() -> S,
    mut timed: impl FnMut(S) -> T,
    mut after: impl FnMut(T),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let input = before();
        let start = Instant::now();
        let output = timed(input);
        total += start.elapsed();
        after(output);
    }
    total
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// A directory for set-up work on tmpfs when there is one.
fn scratch_dir() -> TempDir {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("reelgraph-bench-")
            .tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    dir.expect("a scratch directory")
}

fn disk_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("reelgraph-bench-")
        .tempdir()
        .expect("a temporary directory")
}

/// Copies the files and directories under `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creates the directory");
    for entry in std::fs::read_dir(from).expect("reads the directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copies the file");
        }
    }
}

fn tree_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("reads the directory")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                tree_bytes(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

// ---------------------------------------------------------------------------
// Save and load

const BIG_ID: &str = "big";

/// The 10,000-node canvas: its document, its JSON, and its next version.
struct Big {
    doc: CanvasDocument,
    text: String,
    moved: CanvasDocument,
}

fn big() -> Big {
    let catalog = Catalog::builtin();
    let dag = Dag::generate(SAVE_NODES, SAVE_EDGES, SEED);
    let mut canvas = Canvas::new(catalog, BIG_ID, "Big");
    for batch in dag.batches(BATCH) {
        canvas.apply(batch).expect("a valid batch");
    }
    let doc = canvas.to_document();
    let text = serde_json::to_string(&doc).expect("serialises");
    eprintln!(
        "save/load canvas: {} nodes, {} edges, {} bytes of JSON ({:.2} MB), revision {}",
        doc.nodes.len(),
        doc.edges.len(),
        text.len(),
        text.len() as f64 / 1e6,
        doc.revision
    );
    let mut moved = doc.clone();
    next_version(&mut moved);
    eprintln!(
        "change summary of one save: {:?}",
        change_summary(Some(&doc), &moved)
    );
    Big { doc, text, moved }
}

/// The next revision of the document, with one node moved.
fn next_version(doc: &mut CanvasDocument) {
    doc.revision += 1;
    let i = usize::try_from(doc.revision).expect("a small revision") % doc.nodes.len();
    doc.nodes[i].position.x += 10.0;
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn save_load(c: &mut Criterion, rt: &Runtime) {
    // Set-up runs only when a bench that needs it runs (criterion does not
    // call the benches a filter leaves out).
    let big_cell = OnceCell::new();
    let big = || big_cell.get_or_init(big);
    let dir = OnceCell::new();

    let mut group = c.benchmark_group("save_load");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));

    // Single-thread references for the work around the I/O: serde_json's
    // encode and `from_json`'s decode, and the change summary computed from
    // two documents. Stores split a large document across two threads
    // (nodes on one, the rest on the other) and word the summary from
    // fingerprints kept with the previous version, so they beat these.
    group.bench_function("pieces/encode_json", |b| {
        let doc = &big().doc;
        b.iter_with_large_drop(|| serde_json::to_string(black_box(doc)).expect("serialises"));
    });
    group.bench_function("pieces/decode_json", |b| {
        let text = &big().text;
        b.iter_with_large_drop(|| CanvasDocument::from_json(black_box(text)).expect("parses"));
    });
    group.bench_function("pieces/change_summary", |b| {
        let big = big();
        b.iter(|| change_summary(Some(black_box(&big.doc)), black_box(&big.moved)));
    });

    // A save takes tens of milliseconds: flat sampling keeps the group short.
    group
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(3));
    bench_store(&mut group, rt, "memory", MemoryStore::new, &big);
    let disk = || dir.get_or_init(disk_dir).path();
    bench_store(
        &mut group,
        rt,
        "file",
        || FileStore::open(disk().join("files")).expect("opens"),
        &big,
    );
    bench_store(
        &mut group,
        rt,
        "sqlite",
        || SqliteStore::open(disk().join("canvases.db")).expect("opens"),
        &big,
    );
    if let Some(dir) = dir.get() {
        eprintln!(
            "stores on disk: {} ({} bytes after the benches)",
            dir.path().display(),
            tree_bytes(dir.path())
        );
    }
    group.finish();
}

/// A store holding the big canvas, and the revision it holds.
struct Saving<S> {
    store: S,
    doc: CanvasDocument,
    current: u64,
}

impl<S: CanvasStore> Saving<S> {
    fn new(rt: &Runtime, name: &str, store: S, doc: &CanvasDocument) -> Self {
        let started = Instant::now();
        rt.block_on(store.create(doc)).expect("creates");
        eprintln!("{name}: create took {}", ms(started.elapsed()));
        Saving {
            store,
            doc: doc.clone(),
            current: doc.revision,
        }
    }

    /// Times saving the next version, and with `get`, loading it back.
    fn save(&mut self, rt: &Runtime, get: bool) -> Duration {
        next_version(&mut self.doc);
        let start = Instant::now();
        let info = rt
            .block_on(self.store.save(&self.doc, self.current))
            .expect("saves");
        let loaded = get.then(|| rt.block_on(self.store.get(BIG_ID)).expect("loads"));
        let took = start.elapsed();
        if let Some(loaded) = loaded {
            assert_eq!(loaded.revision, info.revision);
        }
        self.current = info.revision;
        rt.block_on(self.store.prune(BIG_ID, Prune::KeepLast(2)))
            .expect("prunes");
        took
    }
}

/// Save, get, and the pair, on one store. Each save is a new revision with
/// one node moved; the history is pruned to two versions after each,
/// outside the timing, so every iteration meets the same store.
fn bench_store<'a, S: CanvasStore>(
    group: &mut Group<'_>,
    rt: &Runtime,
    name: &str,
    open: impl Fn() -> S,
    big: &impl Fn() -> &'a Big,
) {
    let cell = OnceCell::new();
    let state = || cell.get_or_init(|| RefCell::new(Saving::new(rt, name, open(), &big().doc)));

    group.bench_function(format!("{name}/save"), |b| {
        let mut s = state().borrow_mut();
        b.iter_custom(|iters| (0..iters).map(|_| s.save(rt, false)).sum());
    });
    group.bench_function(format!("{name}/get"), |b| {
        let s = state().borrow();
        let loaded = rt.block_on(s.store.get(BIG_ID)).expect("loads");
        assert_eq!(loaded.revision, s.current);
        assert_eq!(loaded.nodes.len(), SAVE_NODES);
        b.iter_custom(|iters| {
            each(
                iters,
                || (),
                |()| rt.block_on(s.store.get(BIG_ID)).expect("loads"),
                drop,
            )
        });
    });
    group.bench_function(format!("{name}/save_then_get"), |b| {
        let mut s = state().borrow_mut();
        b.iter_custom(|iters| (0..iters).map(|_| s.save(rt, true)).sum());
    });
}

// ---------------------------------------------------------------------------
// Listing

const SHOWS: [&str; 10] = [
    "Trailer",
    "Pilot",
    "Episode",
    "Teaser",
    "Promo",
    "Short",
    "Music video",
    "Commercial",
    "Documentary",
    "Pitch",
];
/// One canvas in ten is named after it.
const COMMON_PREFIX: &str = "Trailer";
/// One canvas in a thousand.
const RARE_PREFIX: &str = "Rare";

fn list_id(i: usize) -> String {
    format!("canvas-{i:06}")
}

fn list_name(i: usize) -> String {
    if i % 1_000 == 999 {
        format!("{RARE_PREFIX} cut {i}")
    } else {
        format!("{} {i:06}", SHOWS[i % SHOWS.len()])
    }
}

/// A small canvas (a shot and its image) to copy under many ids.
fn small_template() -> CanvasDocument {
    let mut canvas = Canvas::new(Catalog::builtin(), "template", "Template");
    canvas
        .apply(vec![
            Op::add_node("s1", "shot", json!({"number": 1, "camera": "wide"})),
            Op::add_node("img", "image_gen", json!({})),
            Op::connect(("s1", "shot"), ("img", "shot")),
        ])
        .expect("a valid canvas");
    canvas.to_document()
}

/// Creates `count` small canvases through the public `create`, one after
/// another.
fn fill<S: CanvasStore>(rt: &Runtime, store: &S, count: usize, template: &CanvasDocument) {
    rt.block_on(async {
        let mut doc = template.clone();
        for i in 0..count {
            doc.id = list_id(i);
            doc.name = list_name(i);
            store.create(&doc).await.expect("creates");
        }
    });
}

/// The pages benched: the first, one from the middle, and the first of two
/// name prefixes.
fn queries(count: usize) -> [(&'static str, ListQuery); 4] {
    let prefixed = |prefix: &str| ListQuery {
        limit: PAGE,
        name_prefix: Some(prefix.to_owned()),
        ..ListQuery::default()
    };
    [
        ("first_page", ListQuery::first(PAGE)),
        (
            "middle_page",
            ListQuery {
                // A cursor is where the previous page ended (checked below).
                cursor: Some(list_id(count / 2 - 1)),
                limit: PAGE,
                name_prefix: None,
            },
        ),
        ("prefix_1_in_10", prefixed(COMMON_PREFIX)),
        ("prefix_1_in_1000", prefixed(RARE_PREFIX)),
    ]
}

/// A store of `count` small canvases on disk, opened by `open` in a
/// directory: filled on tmpfs, closed, and copied (filling it on disk would
/// cost an fsync or more per canvas; a short run on disk says how long).
fn listing_store<S: CanvasStore>(
    rt: &Runtime,
    name: &str,
    count: usize,
    open: impl Fn(&Path) -> S,
) -> (TempDir, S) {
    const PROBE: usize = 100;
    let template = small_template();
    let probe = disk_dir();
    let store = open(probe.path());
    let started = Instant::now();
    fill(rt, &store, PROBE, &template);
    let per_create = started.elapsed().as_secs_f64() / PROBE as f64;
    drop((store, probe));
    eprintln!(
        "{name}: create on disk {:.2} ms each, so {count} would take ~{:.0} s",
        per_create * 1e3,
        per_create * count as f64
    );

    let scratch = scratch_dir();
    let started = Instant::now();
    let store = open(scratch.path());
    fill(rt, &store, count, &template);
    // Closing a SQLite store checkpoints its WAL into the database file.
    drop(store);
    let filled = started.elapsed();
    let started = Instant::now();
    let disk = disk_dir();
    copy_tree(scratch.path(), disk.path());
    drop(scratch);
    let store = open(disk.path());
    eprintln!(
        "{name}: {count} creates on tmpfs took {}, copying to disk {} ({} bytes)",
        ms(filled),
        ms(started.elapsed()),
        tree_bytes(disk.path())
    );

    let pages: Vec<Page> = queries(count)
        .iter()
        .map(|(query, q)| {
            let page = rt.block_on(store.list(q)).expect("lists");
            eprintln!(
                "{name}/{query}: {} items, more: {}",
                page.items.len(),
                page.next_cursor.is_some()
            );
            page
        })
        .collect();
    let (first, middle) = (&pages[0], &pages[1]);
    assert_eq!(first.items.len(), PAGE, "{name}");
    assert_eq!(first.items[0].id, list_id(0), "{name}");
    assert_eq!(
        first.next_cursor.as_deref(),
        Some(first.items[PAGE - 1].id.as_str())
    );
    assert_eq!(middle.items.len(), PAGE, "{name}");
    assert_eq!(middle.items[0].id, list_id(count / 2), "{name}");
    for (page, prefix) in pages[2..].iter().zip([COMMON_PREFIX, RARE_PREFIX]) {
        assert!(!page.items.is_empty(), "{name}");
        assert!(
            page.items.iter().all(|s| s.name.starts_with(prefix)),
            "{name}"
        );
    }
    (disk, store)
}

fn list(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("list");
    // Pages take from tens of microseconds to tens of milliseconds.
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let sqlite = OnceCell::new();
    bench_list(&mut group, rt, "sqlite_100k", SQLITE_CANVASES, &|| {
        &sqlite
            .get_or_init(|| {
                listing_store(rt, "sqlite", SQLITE_CANVASES, |dir| {
                    SqliteStore::open(dir.join("list.db")).expect("opens")
                })
            })
            .1
    });
    drop(sqlite);

    let files = OnceCell::new();
    bench_list(&mut group, rt, "file_10k", FILE_CANVASES, &|| {
        &files
            .get_or_init(|| {
                listing_store(rt, "file", FILE_CANVASES, |dir| {
                    FileStore::open(dir).expect("opens")
                })
            })
            .1
    });
    group.finish();
}

fn bench_list<'a, S: CanvasStore + 'a>(
    group: &mut Group<'_>,
    rt: &Runtime,
    name: &str,
    count: usize,
    store: &impl Fn() -> &'a S,
) {
    for (query_name, query) in &queries(count) {
        group.bench_function(format!("{name}/{query_name}"), |b| {
            let store = store();
            b.iter(|| rt.block_on(store.list(black_box(query))).expect("lists"));
        });
    }
}

// ---------------------------------------------------------------------------
// ComfyUI import

fn workflows_dir() -> PathBuf {
    match std::env::var_os("REELGRAPH_COMFYUI_WORKFLOWS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/comfyui-workflows/comfyui_workflow_templates_json/templates"),
    }
}

/// The workflows of the set (name, text): the files that are an object with
/// `nodes` and `links` arrays; the rest are index and metadata files.
fn workflows() -> Option<Vec<(String, String)>> {
    let dir = workflows_dir();
    if !dir.is_dir() {
        eprintln!(
            "\nNOTE: the ComfyUI workflow set is missing at {}; run \
             `bash scripts/fetch-comfyui-workflows.sh` (or set REELGRAPH_COMFYUI_WORKFLOWS). \
             Skipping the import group.\n",
            dir.display()
        );
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("reads the directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let all = files.len();
    let set: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).expect("reads the file");
            let value: Value = serde_json::from_str(&text).expect("JSON");
            let is_workflow = value.get("nodes").is_some_and(Value::is_array)
                && value.get("links").is_some_and(Value::is_array);
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            is_workflow.then_some((name, text))
        })
        .collect();
    eprintln!(
        "ComfyUI set: {} workflows of {all} files, {} bytes, in {}",
        set.len(),
        set.iter().map(|(_, t)| t.len()).sum::<usize>(),
        dir.display()
    );
    Some(set)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// The slowest workflow to import into a fresh catalogue, by the median of
/// a few runs of each; prints the five slowest.
fn slowest(set: &[(String, String)]) -> &str {
    const RUNS: usize = 3;
    let started = Instant::now();
    let mut per_file: Vec<(Duration, &str, usize, usize)> = set
        .iter()
        .map(|(name, text)| {
            let mut nodes = 0;
            let times = (0..RUNS)
                .map(|_| {
                    let catalog = Catalog::builtin();
                    let start = Instant::now();
                    let import =
                        comfyui::import(&catalog, text).unwrap_or_else(|e| panic!("{name}: {e}"));
                    let took = start.elapsed();
                    nodes = import.canvas.nodes.len();
                    took
                })
                .collect();
            (median(times), name.as_str(), text.len(), nodes)
        })
        .collect();
    per_file.sort_by_key(|f| std::cmp::Reverse(f.0));
    eprintln!(
        "import: timed every file {RUNS} times in {}; slowest medians:",
        ms(started.elapsed())
    );
    for (took, name, size, nodes) in per_file.iter().take(5) {
        eprintln!("  {took:>10.2?}  {name} ({size} bytes, {nodes} nodes)");
    }
    let sum: Duration = per_file.iter().map(|f| f.0).sum();
    eprintln!("  sum of the per-file medians: {}", ms(sum));
    per_file[0].1
}

fn import(c: &mut Criterion) {
    let Some(set) = workflows() else {
        return;
    };
    let bytes: usize = set.iter().map(|(_, t)| t.len()).sum();
    let count = set.len();

    let mut group = c.benchmark_group("import");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("Catalog::builtin", |b| {
        b.iter_with_large_drop(Catalog::builtin);
    });
    // Criterion calls a bench's closure once per batch of iterations: the
    // ranking runs once.
    let slowest_file = OnceCell::new();
    group.bench_function("slowest_file_fresh_catalog", |b| {
        let text = slowest_file.get_or_init(|| {
            let name = slowest(&set);
            let text = &set
                .iter()
                .find(|(n, _)| n == name)
                .expect("the slowest file")
                .1;
            eprintln!("slowest_file_fresh_catalog: {name}, {} bytes", text.len());
            text
        });
        b.iter_custom(|iters| {
            each(
                iters,
                Catalog::builtin,
                |catalog| comfyui::import(&catalog, text).expect("imports"),
                drop,
            )
        });
    });

    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(bytes as u64));
    // As the importer's test does: one catalogue for the whole pass (fresh
    // for each pass), so classes met again are merged.
    group.bench_function(format!("all_{count}/one_catalog"), |b| {
        b.iter_custom(|iters| {
            each(
                iters,
                Catalog::builtin,
                |catalog| {
                    set.iter()
                        .map(|(name, text)| {
                            comfyui::import(&catalog, text)
                                .unwrap_or_else(|e| panic!("{name}: {e}"))
                        })
                        .collect::<Vec<_>>()
                },
                drop,
            )
        });
    });
    // Each workflow into its own fresh catalogue, made just before it
    // outside the timing: the sum of the single imports.
    group.bench_function(format!("all_{count}/fresh_catalog_each"), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    set.iter()
                        .map(|(_, text)| {
                            each(
                                1,
                                Catalog::builtin,
                                |catalog| comfyui::import(&catalog, text).expect("imports"),
                                drop,
                            )
                        })
                        .sum::<Duration>()
                })
                .sum()
        });
    });
    group.finish();
}

/// About 1 MB of JSON in each shape that once made an importer quadratic.
const HOSTILE_BYTES: usize = 1 << 20;

/// One ComfyUI node with ~48,000 widget values.
/// Makes the text of one hostile input.
type MakeText = fn() -> String;

fn comfyui_many_widgets() -> String {
    let mut values = Vec::new();
    let mut len = 0;
    while len < HOSTILE_BYTES {
        let v = format!("value number {:06}", values.len());
        len += v.len() + 3;
        values.push(Value::String(v));
    }
    let wf = json!({
        "version": 0.4,
        "nodes": [{"id": 1, "type": "ManyWidgets", "pos": [0, 0], "widgets_values": values}],
        "links": [],
    });
    wf.to_string()
}

/// Half a million small widget values on one ComfyUI node: the most values
/// 1 MB holds.
fn comfyui_many_small_widgets() -> String {
    let mut values = Vec::new();
    let mut len = 0;
    while len < HOSTILE_BYTES {
        values.push(json!(values.len() % 10));
        len += 2;
    }
    let wf = json!({
        "version": 0.4,
        "nodes": [{"id": 1, "type": "ManyWidgets", "pos": [0, 0], "widgets_values": values}],
        "links": [],
    });
    wf.to_string()
}

/// 1.5 KB of subgraph definitions, each instantiating the previous one 8
/// times; seven instances of 4,096 nodes each, one more than the cap takes.
fn comfyui_subgraph_bomb() -> String {
    let definition = |k: usize| {
        let nodes: Vec<Value> = if k == 0 {
            vec![json!({"id": 1, "type": "Leaf", "widgets_values": [1]})]
        } else {
            (1..=8)
                .map(|i| json!({"id": i, "type": format!("b{}", k - 1)}))
                .collect()
        };
        json!({"id": format!("b{k}"), "name": format!("Bomb {k}"), "inputs": [],
               "outputs": [], "links": [], "nodes": nodes})
    };
    let defs: Vec<Value> = (0..=4).map(definition).collect();
    let nodes: Vec<Value> = (1..=7).map(|i| json!({"id": i, "type": "b4"})).collect();
    let wf = json!({"nodes": nodes, "links": [], "definitions": {"subgraphs": defs}});
    wf.to_string()
}

/// ~12,000 React Flow edges without ids between the same two ports.
fn react_flow_edges_without_ids() -> String {
    let mut edges = Vec::new();
    let mut len = 0;
    while len < HOSTILE_BYTES {
        let e = json!({"source": "hero", "sourceHandle": "character",
                       "target": "s1", "targetHandle": "characters"});
        len += e.to_string().len() + 1;
        edges.push(e);
    }
    let flow = json!({
        "nodes": [
            {"id": "hero", "type": "character", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "s1", "type": "shot", "position": {"x": 300, "y": 0}, "data": {}},
        ],
        "edges": edges,
    });
    flow.to_string()
}

fn import_hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("import_hostile");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let comfyui_shapes: [(&str, MakeText); 3] = [
        ("comfyui_one_node_widget_values_1mb", comfyui_many_widgets),
        (
            "comfyui_one_node_500k_small_widget_values_1mb",
            comfyui_many_small_widgets,
        ),
        (
            "comfyui_subgraph_bomb_to_the_node_cap",
            comfyui_subgraph_bomb,
        ),
    ];
    for (name, make) in comfyui_shapes {
        group.bench_function(name, |b| {
            let text = make();
            eprintln!("{name}: {} bytes", text.len());
            b.iter_custom(|iters| {
                each(
                    iters,
                    Catalog::builtin,
                    |catalog| comfyui::import(&catalog, &text).expect("imports"),
                    drop,
                )
            });
        });
    }
    group.bench_function("react_flow_edges_without_ids_1mb", |b| {
        let text = react_flow_edges_without_ids();
        eprintln!("React Flow edges without ids, {} bytes", text.len());
        let catalog = Catalog::builtin();
        b.iter_with_large_drop(|| react_flow::import_json(&catalog, &text).expect("imports"));
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// Rendering

/// The 1,000-node canvas, without positions (so laid out in layers).
fn render_canvas() -> Canvas {
    let dag = Dag::generate(RENDER_NODES, RENDER_EDGES, SEED);
    let canvas = dag.build(&Catalog::builtin(), BATCH);
    let layout = render::layout(&canvas, LayoutMode::Auto);
    assert!(
        layout.layered,
        "nodes without positions get the layered layout"
    );
    eprintln!(
        "render canvas: {} nodes, {} edges; SVG {} bytes, DOT {} bytes, Mermaid {} bytes",
        canvas.node_count(),
        canvas.edge_count(),
        render::to_svg(&canvas, &SvgOptions::default()).len(),
        render::to_dot(&canvas).len(),
        render::to_mermaid(&canvas).len()
    );
    canvas
}

fn render(c: &mut Criterion) {
    let cell = OnceCell::new();
    let canvas = || cell.get_or_init(render_canvas);
    let options = SvgOptions::default();

    let mut group = c.benchmark_group("render");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function(format!("svg_{RENDER_NODES}_nodes"), |b| {
        let canvas = canvas();
        b.iter_with_large_drop(|| render::to_svg(black_box(canvas), &options));
    });
    group.bench_function(format!("layout_{RENDER_NODES}_nodes"), |b| {
        let canvas = canvas();
        b.iter_with_large_drop(|| render::layout(black_box(canvas), LayoutMode::Auto));
    });
    group.sample_size(30);
    group.bench_function(format!("dot_{RENDER_NODES}_nodes"), |b| {
        let canvas = canvas();
        b.iter_with_large_drop(|| render::to_dot(black_box(canvas)));
    });
    group.bench_function(format!("mermaid_{RENDER_NODES}_nodes"), |b| {
        let canvas = canvas();
        b.iter_with_large_drop(|| render::to_mermaid(black_box(canvas)));
    });
    group.finish();
}

fn all(c: &mut Criterion) {
    let rt = Runtime::new().expect("a tokio runtime");
    save_load(c, &rt);
    list(c, &rt);
    import(c);
    import_hostile(c);
    render(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = all
}
criterion_main!(benches);
