//! Writes one JSON Schema file per public JSON type (see `reelgraph::schema`):
//!
//! ```text
//! cargo run -p reelgraph --example schemas -- docs/schema
//! ```
//!
//! `make generate` rewrites them; `make test` fails when they are out of date.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("docs/schema"), PathBuf::from);
    match write_all(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("schemas: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, schema) in reelgraph::schema::all() {
        let path = dir.join(format!("{name}.json"));
        let mut text = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
        text.push('\n');
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
