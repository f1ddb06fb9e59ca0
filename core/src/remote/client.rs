//! The HTTP side that [`HttpRunner`](super::HttpRunner) and
//! [`Worker`](super::Worker) share: one client with the key, and one
//! reading of what went wrong, so both map failures to task errors alike.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sse::SseReader;
use crate::ErrorBody;
use crate::runner::TaskError;

/// A client of one server's `/v1` API.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    /// Without a trailing slash.
    base: String,
    key: String,
    request_timeout: Duration,
}

/// Why a call gave no answer to use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallError {
    /// No answer, or one that says "later": the connection was refused or
    /// cut, the request timed out, a 5xx or a 429. Trying again may work.
    Unreachable(String),
    /// The server refused the request with its error body.
    Refused { status: u16, body: ErrorBody },
}

impl CallError {
    /// The server's error code, when it refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Refused { body, .. } => Some(&body.code),
            CallError::Unreachable(_) => None,
        }
    }

    /// As a task's error: what cannot be reached is `transient` (so retries
    /// and circuit breakers apply), a refused key `permanent`, and any other
    /// refusal `invalid_input` (the task as sent cannot work).
    pub fn to_task_error(&self, server: &str) -> TaskError {
        match self {
            CallError::Unreachable(message) => TaskError::transient(format!(
                "the task server {server} is unreachable: {message}"
            ))
            .with_hint(
                "check that the server is running and reachable from here; the task is tried again",
            ),
            CallError::Refused {
                status: 401 | 403,
                body,
            } => TaskError::permanent(format!(
                "the task server {server} refused the key: {}",
                body.message
            ))
            .with_hint("check the key and its `run` scope (`reelgraph keys create --scope run`)"),
            CallError::Refused { body, .. } => TaskError::invalid_input(format!(
                "the task server {server} refused the task ({}): {}",
                body.code, body.message
            ))
            .with_hint(body.hint.clone()),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Unreachable(message) => f.write_str(message),
            CallError::Refused { status, body } => {
                write!(f, "{status} {}: {}", body.code, body.message)
            }
        }
    }
}

/// The server's error envelope.
#[derive(serde::Deserialize)]
pub(crate) struct Envelope {
    pub error: ErrorBody,
}

impl Api {
    /// A client of `server` (`http://host:port`, no `/v1`). `read_timeout`
    /// bounds a wait for the next bytes: longer than any long poll, and
    /// than the pause between an event stream's keep-alives.
    pub fn new(
        server: &str,
        key: &str,
        request_timeout: Duration,
        read_timeout: Duration,
    ) -> crate::Result<Api> {
        let base = server.trim_end_matches('/');
        if !base.starts_with("http://") {
            return Err(crate::Error::InvalidField {
                field: "server",
                message: format!(
                    "`{server}` is not an http:// URL (such as http://farm.local:8080); \
                     reach an https server through a TLS proxy on this machine"
                ),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(request_timeout)
            .read_timeout(read_timeout)
            .build()
            .map_err(|e| crate::Error::Runtime {
                what: "the HTTP client".into(),
                message: e.to_string(),
            })?;
        Ok(Api {
            http,
            base: base.to_owned(),
            key: key.to_owned(),
            request_timeout,
        })
    }

    pub fn server(&self) -> &str {
        &self.base
    }

    /// `POST {path}` with a JSON body; `extra` adds to the request's time
    /// limit (a long poll's wait).
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        extra: Duration,
    ) -> Result<T, CallError> {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .timeout(self.request_timeout + extra)
            .json(body);
        answer(request.send().await).await
    }

    /// `POST {path}` whose answer is not needed beyond its status.
    pub async fn send<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<(), CallError> {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .timeout(self.request_timeout)
            .json(body);
        checked(request.send().await).await.map(drop)
    }

    /// `POST {path}` with no body, its answer not needed beyond its status.
    pub async fn send_empty(&self, path: &str) -> Result<(), CallError> {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .timeout(self.request_timeout);
        checked(request.send().await).await.map(drop)
    }

    /// `GET` of the path `segments` make below the server (each one
    /// percent-encoded as needed): the body.
    pub async fn get_bytes(&self, segments: &[&str]) -> Result<Vec<u8>, CallError> {
        let mut url = reqwest::Url::parse(&self.base)
            .map_err(|e| CallError::Unreachable(format!("the server URL is not usable: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| CallError::Unreachable("the server URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        let request = self
            .http
            .get(url)
            .bearer_auth(&self.key)
            .timeout(self.request_timeout);
        let response = checked(request.send().await).await?;
        let bytes = response.bytes().await.map_err(|e| unreachable(&e))?;
        Ok(bytes.to_vec())
    }

    /// An event stream (`GET {path}`, SSE) from after event `after`.
    pub async fn events(&self, path: &str, after: Option<u64>) -> Result<SseReader, CallError> {
        let mut request = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.key)
            .header("accept", "text/event-stream");
        if let Some(seq) = after {
            request = request.header("last-event-id", seq.to_string());
        }
        // No overall time limit: the stream lasts as long as the task; the
        // client's read timeout notices a stream that went silent.
        let response = tokio::time::timeout(self.request_timeout, request.send())
            .await
            .map_err(|_| CallError::Unreachable("no answer in time".into()))?;
        let response = checked(response).await?;
        Ok(SseReader::new(response.bytes_stream()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("server", &self.base)
            .finish_non_exhaustive()
    }
}

async fn answer<T: DeserializeOwned>(
    response: reqwest::Result<reqwest::Response>,
) -> Result<T, CallError> {
    let response = checked(response).await?;
    let bytes = response.bytes().await.map_err(|e| unreachable(&e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        CallError::Unreachable(format!(
            "the answer is not what this reelgraph reads ({e}); is the server the same version?"
        ))
    })
}

/// The response when it is a success; the error otherwise.
async fn checked(
    response: reqwest::Result<reqwest::Response>,
) -> Result<reqwest::Response, CallError> {
    let response = response.map_err(|e| unreachable(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(CallError::Unreachable(format!(
            "the server answered {status}"
        )));
    }
    let bytes = response.bytes().await.map_err(|e| unreachable(&e))?;
    match serde_json::from_slice::<Envelope>(&bytes) {
        Ok(envelope) => Err(CallError::Refused {
            status: status.as_u16(),
            body: envelope.error,
        }),
        // Not the reference server's body (a proxy's page): the status says it all.
        Err(_) => Err(CallError::Refused {
            status: status.as_u16(),
            body: ErrorBody {
                code: format!("http_{}", status.as_u16()),
                message: format!("the server answered {status}"),
                hint: "check the server URL: it should be the reelgraph server itself".into(),
                details: serde_json::Value::Object(Default::default()),
            },
        }),
    }
}

/// Waits between tries at a server that cannot be reached: doubling from
/// 100 ms up to `cap`, each wait a random part of that ("full jitter"), so
/// many clients coming back at once do not arrive at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    ceiling: Duration,
    cap: Duration,
    rng: SmallRng,
}

impl Backoff {
    pub fn new(cap: Duration) -> Backoff {
        Backoff {
            ceiling: Duration::from_millis(100),
            cap,
            rng: SmallRng::seed_from_u64(RandomState::new().hash_one(std::process::id())),
        }
    }

    /// After a success: the next wait starts short again.
    pub fn reset(&mut self) {
        self.ceiling = Duration::from_millis(100);
    }

    pub async fn wait(&mut self) {
        let ceiling = self.ceiling.min(self.cap);
        self.ceiling = ceiling.saturating_mul(2);
        let millis = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let wait = Duration::from_millis(self.rng.random_range(millis / 2..=millis));
        tokio::time::sleep(wait).await;
    }
}

fn unreachable(error: &reqwest::Error) -> CallError {
    let what = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "the connection failed"
    };
    // reqwest's own text names the URL; its source says why.
    let cause = std::error::Error::source(error)
        .map(|s| s.to_string())
        .unwrap_or_else(|| error.to_string());
    CallError::Unreachable(format!("{what} ({cause})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str) -> CallError {
        CallError::Refused {
            status,
            body: ErrorBody {
                code: code.into(),
                message: "no".into(),
                hint: "do this".into(),
                details: serde_json::json!({}),
            },
        }
    }

    #[test]
    fn failures_map_to_task_errors_by_what_retrying_can_do() {
        use crate::runner::TaskErrorKind::*;
        let kind = |e: CallError| e.to_task_error("http://x").kind;
        assert_eq!(kind(CallError::Unreachable("down".into())), Transient);
        assert_eq!(kind(refused(401, "unauthorized")), Permanent);
        assert_eq!(kind(refused(403, "forbidden")), Permanent);
        assert_eq!(kind(refused(422, "invalid_field")), InvalidInput);
        let hint = refused(403, "forbidden").to_task_error("http://x").hint;
        assert!(hint.contains("`run` scope"), "{hint}");
    }

    #[test]
    fn only_http_urls_are_taken() {
        let api = |url: &str| Api::new(url, "k", Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(
            api("http://farm:8080/").expect("an http URL").server(),
            "http://farm:8080"
        );
        let error = api("farm:8080").expect_err("no scheme");
        assert_eq!(error.code(), "invalid_field");
    }
}
