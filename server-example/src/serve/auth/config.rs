//! The security flags of `reelgraph serve`, each also read from a
//! `REELGRAPH_*` environment variable.

use std::time::Duration;

use super::csrf::OriginPolicy;

/// Sessions, CSRF, headers and rate limits.
#[derive(Debug, Clone, clap::Args)]
pub struct SecurityArgs {
    /// Requests a second each API key may make on average (`0`: no limit).
    /// Requests without a valid key are limited the same way per client address.
    #[arg(long, env = "REELGRAPH_RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT)]
    pub rate_limit: u32,
    /// How many requests a key may make at once; the rate refills them.
    #[arg(long, env = "REELGRAPH_RATE_BURST", default_value_t = DEFAULT_RATE_BURST)]
    pub rate_burst: u32,
    /// How long a browser session lasts (e.g. `12h`, `30m`).
    #[arg(long, env = "REELGRAPH_SESSION_TTL", default_value = "12h", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,
    /// The server is reached over HTTPS (directly or through a proxy):
    /// session cookies get `Secure`, and the server's origin is `https://`.
    #[arg(long, env = "REELGRAPH_BEHIND_TLS")]
    pub behind_tls: bool,
    /// Trust `X-Forwarded-Proto: https` from the proxy in front to mean the
    /// same as `--behind-tls` for that request. Only behind a proxy that sets it.
    #[arg(long, env = "REELGRAPH_TRUST_FORWARDED_PROTO")]
    pub trust_forwarded_proto: bool,
    /// An origin besides the server's own whose pages may make
    /// state-changing requests with a session cookie (`scheme://host[:port]`;
    /// repeat the flag, or separate with commas in the variable).
    #[arg(
        long = "allowed-origin",
        env = "REELGRAPH_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Send `Strict-Transport-Security` with this max-age in seconds. Only
    /// when every client reaches the server over HTTPS.
    #[arg(long, env = "REELGRAPH_HSTS_MAX_AGE")]
    pub hsts_max_age: Option<u64>,
}

/// Far above what one client of a canvas editor sends, low enough that one
/// runaway script cannot take the server from everyone else.
pub const DEFAULT_RATE_LIMIT: u32 = 1000;
/// Room for a page that loads many things at once.
pub const DEFAULT_RATE_BURST: u32 = 2000;
/// How long a session lasts unless `--session-ttl` says otherwise.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

impl Default for SecurityArgs {
    fn default() -> Self {
        SecurityArgs {
            rate_limit: DEFAULT_RATE_LIMIT,
            rate_burst: DEFAULT_RATE_BURST,
            session_ttl: DEFAULT_SESSION_TTL,
            behind_tls: false,
            trust_forwarded_proto: false,
            allowed_origins: Vec::new(),
            hsts_max_age: None,
        }
    }
}

impl SecurityArgs {
    /// How the CSRF check judges where a request comes from.
    pub fn origin_policy(&self) -> OriginPolicy {
        OriginPolicy {
            behind_tls: self.behind_tls,
            trust_forwarded_proto: self.trust_forwarded_proto,
            allowed: self.allowed_origins.clone(),
        }
    }
}
