//! Hostile input: a bounded fuzz pass of the native loader. The documents
//! the repository holds (the demo film, the docs' example, the ComfyUI
//! fixtures, every document in the shared vectors) are mutated byte by byte
//! and structure by structure, and each result must load or be refused with
//! a code, never panic; what loads must write a text that loads back to the
//! same text, and draw in all three picture formats at a bounded size.
//!
//! The seed is fixed so CI sees the same cases; `PROPTEST_RNG_SEED=<n>` and
//! `PROPTEST_CASES=<n>` explore further.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use reelgraph::render::{self, SvgOptions};
use reelgraph::{Canvas, Catalog};
use serde_json::Value;

use crate::render::markup::{check_dot, check_mermaid, check_xml};
use crate::render::view_box;

/// Cases per run: the whole test stays under a few seconds in a debug build.
const CASES: u32 = 800;

// ---------------------------------------------------------------------------
// Seeds

/// A document to start from, and where it came from.
#[derive(Debug)]
struct Seed {
    name: String,
    text: String,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Every native document the repository holds, plus the ComfyUI fixtures
/// (other JSON the loader must refuse well).
fn seeds() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut file = |name: String, path: PathBuf| {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        seeds.push(Seed { name, text });
    };
    file(
        "examples/short-film/canvas.json".into(),
        repo("../examples/short-film/canvas.json"),
    );
    file(
        "docs/snippets/canvas-document.json".into(),
        repo("../docs/snippets/canvas-document.json"),
    );
    for path in json_files(&repo("tests/fixtures/comfyui")) {
        file(format!("fixtures/comfyui/{}", name_of(&path)), path);
    }
    let vectors = repo("tests/vectors");
    let mut areas: Vec<PathBuf> = fs::read_dir(&vectors)
        .expect("the vectors directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|p| p.is_dir())
        .collect();
    areas.sort();
    for area in areas {
        for path in json_files(&area) {
            let text = fs::read_to_string(&path).expect("a vector");
            let vector: Value = serde_json::from_str(&text).expect("a vector is JSON");
            let name = format!("vectors/{}/{}", name_of(&area), name_of(&path));
            let documents = [
                ("input.canvas", vector.pointer("/input/canvas")),
                ("expected.canvas", vector.pointer("/expected/canvas")),
            ];
            for (at, document) in documents {
                if let Some(document) = document.filter(|d| d.is_object()) {
                    seeds.push(Seed {
                        name: format!("{name} {at}"),
                        text: serde_json::to_string_pretty(document).expect("writes"),
                    });
                }
            }
            if let Some(Value::String(text)) = vector.pointer("/input/document_text") {
                seeds.push(Seed {
                    name: format!("{name} input.document_text"),
                    text: text.clone(),
                });
            }
        }
    }
    seeds
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("a UTF-8 file name")
        .to_owned()
}

// ---------------------------------------------------------------------------
// Mutations

/// One change to a document's text. Positions and picks are taken modulo
/// what the text has, so any number means something.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flips one bit of one byte.
    FlipBit { at: usize, bit: u8 },
    /// Cuts the text off.
    Truncate { at: usize },
    /// Inserts a token that breaks or bends JSON.
    Insert { at: usize, token: &'static str },
    /// Repeats a run of bytes in place.
    DuplicateRange { at: usize, len: usize },
    /// Changes the JSON value at pre-order position `pick` (when the text is JSON).
    Value { pick: usize, change: Change },
    /// Changes the `nth` value of a member named `key`, where the loader
    /// takes more than one shape or any value (labels, positions, properties).
    Field {
        key: &'static str,
        nth: usize,
        change: Change,
    },
}

/// A change to one JSON value.
#[derive(Debug, Clone)]
enum Change {
    /// An object writes one of its keys a second time, with another value.
    DuplicateKey { key: usize },
    /// An object member or array element is written twice.
    DuplicateSubtree { item: usize },
    /// The value is wrapped in arrays or objects this deep.
    Nest { depth: usize, array: bool },
    /// The value becomes this number literal.
    Number(&'static str),
    /// The value becomes a long string of this unit.
    LongString { bytes: usize, unit: &'static str },
    /// An object's first key becomes a long string.
    LongKey { bytes: usize },
    /// The value becomes this JSON literal.
    Literal(&'static str),
}

const KEYS: &[&str] = &[
    "label",
    "name",
    "id",
    "x",
    "y",
    "zoom",
    "properties",
    "ui",
    "metadata",
    "type",
    "type_version",
    "port",
    "node",
    "nodes",
    "edges",
    "groups",
    "revision",
    "format_version",
    "story",
];

const TOKENS: &[&str] = &[
    ",",
    "\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    "\\",
    "\\u0000",
    "\\ud800",
    "NaN",
    "Infinity",
    "-",
    "1e999",
    "\u{0}",
    "\u{FEFF}",
    "null",
    "\"format\": 2,",
    "/*",
    "0x10",
];

const NUMBERS: &[&str] = &[
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "-0.0",
    "-0",
    "5e-324",
    "1e-400",
    "1e309",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "4294967296",
    "0.1",
    "-1",
    "1.5",
];

const UNITS: &[&str] = &[
    "a",
    "映",
    "🎬",
    "\\\"<&>'",
    "\\u0000\\n\\t",
    "\u{FFFF}\u{FDD0}",
    "\u{202E}",
    " ",
    "é\\\\",
];

const LITERALS: &[&str] = &["null", "true", "\"\"", "[]", "{}", "0", "\"x\"", "[null]"];

/// String lengths: around the label limit, and well past it.
const LENGTHS: &[usize] = &[129, 1024, 1025, 65_536, 1 << 20];

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<usize>().prop_map(|key| Change::DuplicateKey { key }),
        any::<usize>().prop_map(|item| Change::DuplicateSubtree { item }),
        (1usize..160, any::<bool>()).prop_map(|(depth, array)| Change::Nest { depth, array }),
        prop::sample::select(NUMBERS).prop_map(Change::Number),
        (prop::sample::select(LENGTHS), prop::sample::select(UNITS))
            .prop_map(|(bytes, unit)| Change::LongString { bytes, unit }),
        prop::sample::select(LENGTHS).prop_map(|bytes| Change::LongKey { bytes }),
        prop::sample::select(LITERALS).prop_map(Change::Literal),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<usize>(), prop::sample::select(TOKENS))
            .prop_map(|(at, token)| Mutation::Insert { at, token }),
        1 => (any::<usize>(), 1usize..256).prop_map(|(at, len)| Mutation::DuplicateRange { at, len }),
        // Structure-aware changes get through the parser more often.
        4 => (any::<usize>(), change()).prop_map(|(pick, change)| Mutation::Value { pick, change }),
        8 => (prop::sample::select(KEYS), any::<usize>(), change())
            .prop_map(|(key, nth, change)| Mutation::Field { key, nth, change }),
    ]
}

/// `text` with `mutation` applied.
fn mutate(text: &str, mutation: &Mutation) -> String {
    let bytes = text.as_bytes();
    let at = |at: usize| {
        if bytes.is_empty() {
            0
        } else {
            at % (bytes.len() + 1)
        }
    };
    let lossy = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    match mutation {
        Mutation::FlipBit { at: i, bit } => {
            let mut b = bytes.to_vec();
            if !b.is_empty() {
                let i = *i % b.len();
                b[i] ^= 1 << bit;
            }
            lossy(b)
        }
        Mutation::Truncate { at: i } => lossy(bytes[..at(*i)].to_vec()),
        Mutation::Insert { at: i, token } => {
            let i = at(*i);
            lossy([&bytes[..i], token.as_bytes(), &bytes[i..]].concat())
        }
        Mutation::DuplicateRange { at: i, len } => {
            let i = at(*i);
            let end = (i + len).min(bytes.len());
            lossy([&bytes[..end], &bytes[i..end], &bytes[end..]].concat())
        }
        Mutation::Value { pick, change } => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                let target = pick % count_values(&value);
                write_with(&value, target, change)
            }
            Err(_) => text.to_owned(),
        },
        Mutation::Field { key, nth, change } => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                let mut found = Vec::new();
                members_named(&value, key, &mut 0, &mut found);
                if found.is_empty() {
                    return text.to_owned();
                }
                write_with(&value, found[nth % found.len()], change)
            }
            Err(_) => text.to_owned(),
        },
    }
}

fn write_with(value: &Value, target: usize, change: &Change) -> String {
    let mut out = String::new();
    write_changed(value, target, change, &mut 0, &mut out);
    out
}

/// Pre-order positions (as [`count_values`] numbers them) of the values of
/// members named `key`.
fn members_named(value: &Value, key: &str, next: &mut usize, found: &mut Vec<usize>) {
    *next += 1;
    match value {
        Value::Array(items) => {
            for item in items {
                members_named(item, key, next, found);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if k == key {
                    found.push(*next);
                }
                members_named(v, key, next, found);
            }
        }
        _ => {}
    }
}

fn count_values(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_values).sum(),
        Value::Object(map) => map.values().map(count_values).sum(),
        _ => 0,
    }
}

/// Writes `value` as JSON text, applying `change` to the value at pre-order
/// position `target`. Written by hand: a `Value` cannot hold a key twice.
fn write_changed(
    value: &Value,
    target: usize,
    change: &Change,
    next: &mut usize,
    out: &mut String,
) {
    let here = *next;
    *next += 1;
    if here != target {
        return write_plain(value, target, change, next, out);
    }
    match (change, value) {
        (Change::DuplicateKey { key }, Value::Object(map)) if !map.is_empty() => {
            let (k, _) = map.iter().nth(key % map.len()).expect("a member");
            let other = map
                .values()
                .nth((key / map.len()) % map.len())
                .expect("a value");
            write_plain(value, target, change, next, out);
            out.pop();
            out.push(',');
            out.push_str(&serde_json::to_string(k).expect("a key"));
            out.push(':');
            out.push_str(&serde_json::to_string(other).expect("a value"));
            out.push('}');
        }
        (Change::DuplicateSubtree { item }, Value::Object(map)) if !map.is_empty() => {
            let (k, v) = map.iter().nth(item % map.len()).expect("a member");
            write_plain(value, target, change, next, out);
            out.pop();
            out.push(',');
            out.push_str(&serde_json::to_string(k).expect("a key"));
            out.push(':');
            out.push_str(&serde_json::to_string(v).expect("a value"));
            out.push('}');
        }
        (Change::DuplicateSubtree { item }, Value::Array(items)) if !items.is_empty() => {
            let mut items = items.clone();
            let i = item % items.len();
            items.insert(i, items[i].clone());
            out.push_str(&serde_json::to_string(&items).expect("an array"));
        }
        (Change::Nest { depth, array }, _) => {
            let (open, close) = if *array { ("[", "]") } else { ("{\"a\":", "}") };
            out.push_str(&open.repeat(*depth));
            write_plain(value, target, change, next, out);
            out.push_str(&close.repeat(*depth));
        }
        (Change::Number(literal), _) => out.push_str(literal),
        (Change::LongString { bytes, unit }, _) => {
            out.push('"');
            out.push_str(&unit.repeat(bytes / unit.len() + 1));
            out.push('"');
        }
        (Change::LongKey { bytes }, Value::Object(map)) if !map.is_empty() => {
            let mut map = map.clone();
            let first = map.keys().next().expect("a key").clone();
            let v = map.remove(&first).expect("the value");
            map.insert("k".repeat(*bytes), v);
            out.push_str(&serde_json::to_string(&map).expect("an object"));
        }
        (Change::Literal(literal), _) => out.push_str(literal),
        // The change does not fit this value: leave it as it is.
        _ => write_plain(value, target, change, next, out),
    }
}

fn write_plain(value: &Value, target: usize, change: &Change, next: &mut usize, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_changed(item, target, change, next, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("a key"));
                out.push(':');
                write_changed(v, target, change, next, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&serde_json::to_string(scalar).expect("a scalar")),
    }
}

// ---------------------------------------------------------------------------
// The property

/// What a picture may weigh: a fixed part and a part per node, edge and group.
fn size_bound(canvas: &Canvas) -> usize {
    let items = canvas.node_count() + canvas.edge_count() + canvas.groups().count();
    10_000 + 8_000 * items
}

fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// The first `n` bytes of `text` (at a char boundary), for failure messages.
fn head(text: &str, n: usize) -> &str {
    let mut end = n.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Loads `text`; a refusal must carry a code and a message, a canvas must
/// write a fixed point and draw at a bounded size in all three formats.
fn check(catalog: &Catalog, text: &str) -> Result<(), TestCaseError> {
    let canvas = match Canvas::from_json(catalog.clone(), text) {
        Ok(canvas) => canvas,
        Err(e) => {
            prop_assert!(is_code(e.code()), "refused without a code: {e}");
            prop_assert!(!e.to_string().is_empty(), "refused with no message");
            return Ok(());
        }
    };
    let written = canvas.to_json();
    let again = Canvas::from_json(catalog.clone(), &written).map_err(|e| {
        TestCaseError::fail(format!(
            "the canvas's own text does not load ({}: {e}): {}",
            e.code(),
            head(&written, 2000)
        ))
    })?;
    let rewritten = again.to_json();
    if rewritten != written {
        let at = written
            .bytes()
            .zip(rewritten.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(written.len().min(rewritten.len()));
        let from = at.saturating_sub(80);
        return Err(TestCaseError::fail(format!(
            "writing is not a fixed point at byte {at}: {:?} then {:?}",
            head(&written[from..], 200),
            head(&rewritten[from..], 200)
        )));
    }

    let bound = size_bound(&canvas);
    let svg = render::to_svg(&canvas, &SvgOptions::default());
    let dot = render::to_dot(&canvas);
    let mermaid = render::to_mermaid(&canvas);
    for (format, picture) in [("svg", &svg), ("dot", &dot), ("mermaid", &mermaid)] {
        prop_assert!(
            picture.len() < bound,
            "the {} picture is {} bytes, over {}",
            format,
            picture.len(),
            bound
        );
    }
    check_xml(&svg).map_err(|e| TestCaseError::fail(format!("SVG: {e}")))?;
    let [x0, y0, w, h] = view_box(&svg);
    prop_assert!(
        [x0, y0, w, h].iter().all(|v| v.is_finite()) && w > 0.0 && h > 0.0,
        "the SVG view box is {} {} {} {}",
        x0,
        y0,
        w,
        h
    );
    check_dot(&dot).map_err(|e| TestCaseError::fail(format!("DOT: {e}")))?;
    check_mermaid(&mermaid).map_err(|e| TestCaseError::fail(format!("Mermaid: {e}")))?;
    Ok(())
}

fn config() -> Config {
    let mut config = Config {
        cases: CASES,
        max_shrink_iters: 256,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_some() {
        config.cases = Config::default().cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x5eed_2e11_9a7f);
    }
    config
}

#[test]
fn every_seed_passes_the_property() {
    let seeds = seeds();
    assert!(seeds.len() > 100, "found only {} seeds", seeds.len());
    let catalog = Catalog::builtin();
    // Unmutated, the demo film loads and every seed passes the property.
    assert!(Canvas::from_json(catalog.clone(), &seeds[0].text).is_ok());
    for seed in &seeds {
        check(&catalog, &seed.text).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
    }
}

#[test]
fn mutated_documents_load_or_are_refused_with_a_code() {
    let seeds = seeds();
    let catalog = Catalog::builtin();
    let mut runner = TestRunner::new(config());
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..=3));
    let result = runner.run(&strategy, |(seed, mutations)| {
        let mut text = seeds[seed].text.clone();
        for m in &mutations {
            text = mutate(&text, m);
        }
        check(&catalog, &text).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n  seed: {}\n  mutated text ({} bytes): {}",
                seeds[seed].name,
                text.len(),
                head(&text, 1500)
            ))
        })
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (seed, mutations))) => panic!(
            "{reason}\n  minimal case: seed {seed} ({}), mutations {mutations:?}",
            seeds[seed].name
        ),
        Err(e) => panic!("{e}"),
    }
}
