//! `reelgraph keys`: create, list and revoke the API keys of a server's
//! data directory, with the server stopped or running.

use std::io::Write;
use std::path::{Path, PathBuf};

use reelgraph_server::serve::auth::key_routes::check_new_key;
use reelgraph_server::serve::auth::keys::{KeyInfo, KeyStore, Revoke};
use reelgraph_server::serve::config::DEFAULT_DATA_DIR;
use reelgraph_server::serve::registry::Scope;
use reelgraph_server::serve::server_db::{self, ServerDb};

use crate::fail::Failure;
use crate::{CmdResult, exit};

/// Manage the API keys of a server's data directory.
///
/// A key is shown once, when it is made; the server keeps only its hash.
/// A running server sees a new key at once and a revoked one within a
/// second.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The server's data directory.
    #[arg(long, env = "REELGRAPH_DATA_DIR", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Make a key and print it (only this once).
    Create {
        /// Who or what uses the key, for the list.
        #[arg(long)]
        name: String,
        /// What the key may do: read, write, run, admin (comma-separated).
        #[arg(long = "scope", value_delimiter = ',', required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List the keys: id, name, scopes, created, last used, revoked.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (`key_...`); its sessions end too.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
}

fn parse_scope(name: &str) -> Result<Scope, String> {
    Scope::parse(name.trim())
        .ok_or_else(|| format!("`{name}` is not a scope: use read, write, run or admin"))
}

pub fn main(args: &Args) -> CmdResult {
    let keys = open(&args.data_dir)?;
    let mut out = std::io::stdout().lock();
    let written = match &args.command {
        KeysCommand::Create { name, scopes } => {
            check_new_key(name, scopes).map_err(|e| Failure::core(&e))?;
            let (info, secret) = keys.create(name, scopes).map_err(|e| Failure::core(&e))?;
            writeln!(
                out,
                "created {} ({}: {})",
                info.id,
                info.name,
                scope_list(&info.scopes)
            )
            .and_then(|()| writeln!(out, "{secret}"))
            .and_then(|()| writeln!(out, "the key is shown only this once: keep it"))
        }
        KeysCommand::List { json } => {
            let list = keys.list().map_err(|e| Failure::core(&e))?;
            if *json {
                serde_json::to_writer_pretty(&mut out, &list)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(out))
            } else {
                write_table(&mut out, &list)
            }
        }
        KeysCommand::Revoke { id } => match keys.revoke(id).map_err(|e| Failure::core(&e))? {
            Revoke::Revoked(info) => writeln!(out, "revoked {} ({})", info.id, info.name),
            Revoke::NotFound => {
                return Err(Failure::core(&reelgraph::Error::NotFound {
                    kind: "api key",
                    id: id.clone(),
                }));
            }
            Revoke::LastAdmin => {
                return Err(Failure::new(
                    "conflict",
                    format!(
                        "{id} is the last admin key that is not revoked: revoking it would leave nobody who can manage keys"
                    ),
                    "make another admin key first: reelgraph keys create --name NAME --scope admin",
                ));
            }
        },
    };
    written.map_err(|e| Failure::write(Path::new("<stdout>"), e))?;
    Ok(exit::OK)
}

/// The key store of `dir`; the directory must exist (a typo makes no new one).
fn open(dir: &Path) -> Result<KeyStore, Failure> {
    if !dir.is_dir() {
        return Err(Failure::core(&reelgraph::Error::Io {
            action: "open the data directory",
            path: dir.display().to_string(),
            message: "no such directory".to_owned(),
        }));
    }
    let db = ServerDb::open(&dir.join(server_db::FILE)).map_err(|e| Failure::core(&e))?;
    KeyStore::open(db).map_err(|e| Failure::core(&e))
}

fn scope_list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn write_table(out: &mut impl Write, keys: &[KeyInfo]) -> std::io::Result<()> {
    let rows: Vec<[String; 6]> = keys
        .iter()
        .map(|key| {
            [
                key.id.clone(),
                key.name.clone(),
                scope_list(&key.scopes),
                key.created_at.clone(),
                key.last_used_at.clone().unwrap_or_else(|| "-".to_owned()),
                key.revoked_at.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"].map(str::to_owned);
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .chain([&header])
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}
