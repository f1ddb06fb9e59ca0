//! The core's top-level modules form layers that only point down: no two
//! modules import each other, directly or around a circle. A circle makes
//! every module in it one unit that can only be read, tested and moved
//! together.
//!
//! The test reads `core/src/**/*.rs` for `crate::<module>` paths (also inside
//! `use crate::{...}` groups, and root re-exports such as `crate::Canvas`,
//! resolved through `lib.rs`), outside comments and unit-test modules, and
//! fails on any circle
//! between top-level modules that is not in [`ALLOWED`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Circles that remain for a reason, each with the reason. Keep this short:
/// an entry that no longer matches a circle fails the test too, so that a
/// circle once broken stays broken.
const ALLOWED: &[(&[&str], &str)] = &[(
    &["cache", "exec"],
    "the cache keys results by exec::ContentKey; ContentKey moves out of exec",
)];

type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn top_level_modules_form_no_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let roots =
        root_reexports(&fs::read_to_string(src.join("lib.rs")).expect("core/src/lib.rs reads"));
    let edges = module_edges(&src, &roots);
    assert!(
        edges.len() >= 10,
        "found only {} modules with imports under {}: a path mistake?",
        edges.len(),
        src.display()
    );

    let circles = circles(&edges);
    let mut problems = Vec::new();
    for circle in &circles {
        if !ALLOWED.iter().any(|(allowed, _)| same_set(allowed, circle)) {
            problems.push(format!(
                "modules {} import each other:\n{}",
                circle.join(", "),
                describe(circle, &edges)
            ));
        }
    }
    for (allowed, reason) in ALLOWED {
        if !circles.iter().any(|c| same_set(allowed, c)) {
            problems.push(format!(
                "the allowed circle {} ({reason}) is gone or has changed: \
                 remove or update its entry in ALLOWED",
                allowed.join(", ")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nmove what both sides need into a module below them both",
        problems.join("\n\n")
    );
}

#[test]
fn reads_grouped_and_root_paths() {
    let roots = root_reexports("pub use canvas::{Canvas, Migrated};\npub use ops::Op;\n");
    let text = "use crate::{Canvas, error::Error, model::{self, Node}};\n\
                // crate::store::Store is only mentioned\n\
                /// [`Op`](crate::Op)\n\
                fn f() -> crate::limits::Limit { crate::Op::noop() }\n\
                #[cfg(test)]\nmod tests { use crate::store::Store; }\n";
    let found: BTreeSet<String> = referenced_modules(text, &roots).into_iter().collect();
    let expected: BTreeSet<String> = ["canvas", "error", "limits", "model", "ops"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
}

/// Item name → module, from the `pub use module::...;` lines of `lib.rs`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in lib.split(';') {
        let stmt = stmt.trim();
        let Some(rest) = stmt.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        for item in items.split([',', '{', '}']) {
            let item = item.trim();
            if !item.is_empty() && !item.contains("::") {
                out.insert(item.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// From module → to module → the files that make the edge.
fn module_edges(src: &Path, roots: &BTreeMap<String, String>) -> Edges {
    let mut edges = Edges::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).expect("a file under src");
        let first = rel.components().next().expect("a path").as_os_str();
        let from = first
            .to_str()
            .expect("a UTF-8 name")
            .trim_end_matches(".rs")
            .to_owned();
        if from == "lib" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("a source file reads");
        for to in referenced_modules(&text, roots) {
            if to != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    edges
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("a source directory reads") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level modules `text` names through `crate::`, comments and the
/// unit-test module (by custom the file's last item) left out.
fn referenced_modules(text: &str, roots: &BTreeMap<String, String>) -> Vec<String> {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut push = |name: &str| {
        if let Some(module) = roots.get(name) {
            out.push(module.clone());
        } else if name.starts_with(|c: char| c.is_ascii_lowercase()) && name != "self" {
            out.push(name.to_owned());
        }
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::x, B, c::{y, z}}`: the names at the group's top level.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        push(head(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        push(head(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            push(head(rest));
        }
    }
    out
}

/// The first path segment of `path`.
fn head(path: &str) -> &str {
    let path = path.trim_start();
    let end = path
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(path.len());
    &path[..end]
}

/// Strongly connected groups of more than one module, each sorted.
fn circles(edges: &Edges) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(from, tos)| {
            std::iter::once(from.as_str()).chain(tos.keys().map(|s| s.as_str()))
        })
        .collect();
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(n) = todo.pop() {
            for to in edges.get(&n).into_iter().flat_map(|tos| tos.keys()) {
                if seen.insert(to.clone()) {
                    todo.push(to.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&str, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        if out.iter().any(|c| c.iter().any(|m| m == n)) {
            continue;
        }
        let circle: Vec<String> = nodes
            .iter()
            .filter(|m| m == &n || (reachable[n].contains(**m) && reachable[**m].contains(*n)))
            .map(|m| m.to_string())
            .collect();
        if circle.len() > 1 {
            out.push(circle);
        }
    }
    out
}

fn same_set(allowed: &[&str], circle: &[String]) -> bool {
    allowed.len() == circle.len() && allowed.iter().all(|a| circle.iter().any(|c| c == a))
}

fn describe(circle: &[String], edges: &Edges) -> String {
    let mut out = String::new();
    for from in circle {
        for (to, files) in edges.get(from).into_iter().flatten() {
            if circle.contains(to) {
                let files: Vec<&str> = files.iter().map(|s| s.as_str()).collect();
                out.push_str(&format!("  {from} -> {to} ({})\n", files.join(", ")));
            }
        }
    }
    out
}
