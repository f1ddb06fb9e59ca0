//! `reelgraph run --remote`: the files a run's outputs name were written
//! by the farm's workers into the server's results folder, not here. They
//! are downloaded into --out, where a local run would have put them, so
//! the paths the run prints are true and the folder is complete.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use reelgraph::exec::RunReport;
use reelgraph::remote::HttpRunner;
use serde_json::Value;

use crate::report::plural;

/// Downloads every file the report's outputs name that --out does not
/// have yet (a name carries a prefix of the content key: a file already
/// there is the same file). Says what it did, and warns of each file it
/// could not get; the run's result does not depend on them.
pub async fn fetch(remote: &HttpRunner, report: &RunReport, out: &Path, say: &dyn Fn(&str)) {
    let mut paths = BTreeSet::new();
    for outputs in report.outputs.values() {
        for value in outputs.values() {
            file_paths(value, &mut paths);
        }
    }
    let mut fetched = 0;
    for path in paths {
        if !is_plain(path) {
            say(&format!(
                "warning: not downloading `{path}`: an output names a path outside the output folder"
            ));
            continue;
        }
        let to = out.join(path);
        if to.is_file() {
            continue;
        }
        match remote.download(path, &to).await {
            Ok(()) => fetched += 1,
            Err(e) => say(&format!("warning: {e}; {}", e.hint())),
        }
    }
    if fetched > 0 {
        say(&format!(
            "downloaded {} from {}",
            plural(fetched, "file"),
            remote.config().server
        ));
    }
}

/// Every `path` of a file descriptor (`{"path": ..., "media_type": ...}`)
/// anywhere in `value`.
fn file_paths<'v>(value: &'v Value, out: &mut BTreeSet<&'v str>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| file_paths(v, out)),
        Value::Object(o) => match (o.get("path"), o.get("media_type")) {
            (Some(Value::String(path)), Some(Value::String(_))) => {
                out.insert(path);
            }
            _ => o.values().for_each(|v| file_paths(v, out)),
        },
        _ => {}
    }
}

/// Relative, plain names only: what a server sends cannot write outside --out.
fn is_plain(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_file_descriptors_with_plain_relative_paths_are_fetched() {
        let outputs = json!({
            "image": {"path": "frames/a.png", "media_type": "image/png"},
            "layers": [{"path": "../escape.png", "media_type": "image/png"},
                       {"meta": {"path": "audio/b.wav", "media_type": "audio/wav"}}],
            "text": {"path": "not-a-file-without-media-type"}
        });
        let mut paths = BTreeSet::new();
        file_paths(&outputs, &mut paths);
        assert_eq!(
            paths.iter().copied().collect::<Vec<_>>(),
            ["../escape.png", "audio/b.wav", "frames/a.png"]
        );
        let plain: Vec<&str> = paths.into_iter().filter(|p| is_plain(p)).collect();
        assert_eq!(plain, ["audio/b.wav", "frames/a.png"]);
        assert!(!is_plain("/etc/passwd") && !is_plain("a\\b") && !is_plain(""));
    }
}
