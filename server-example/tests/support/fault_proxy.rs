//! A TCP proxy in front of the server under test that misbehaves on
//! demand: it delays new connections, closes them at once (a server that
//! is down), answers `503`, or cuts every open connection (a dropped event
//! stream). Each new fault also cuts the open connections, so a client's
//! pooled connections see it too.
//!
//! ```ignore
//! let proxy = FaultProxy::start(&server.base_url).await;
//! proxy.set(Fault::Unavailable);
//! // ... the client at proxy.url gets 503s
//! proxy.set(Fault::Pass);
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes bytes both ways.
    Pass,
    /// Waits this long, then passes bytes both ways.
    Delay(Duration),
    /// Closes the connection at once, as a server that is not there.
    Down,
    /// Answers every request `503 Service Unavailable` and closes.
    Unavailable,
}

/// The proxy; dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: give this to the client instead of the server's URL.
    pub url: String,
    fault: Arc<Mutex<Fault>>,
    /// Bumped to cut every open connection.
    cuts: watch::Sender<u64>,
    /// The first line and headers of the first request of each connection.
    heads: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `target` (`http://127.0.0.1:PORT`), passing bytes.
    pub async fn start(target: &str) -> FaultProxy {
        let target = target
            .strip_prefix("http://")
            .expect("an http:// URL")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let (cuts, _) = watch::channel(0u64);
        let heads = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let fault = fault.clone();
            let cuts = cuts.clone();
            let heads = heads.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let now = *fault.lock().unwrap_or_else(PoisonError::into_inner);
                    let cut = cuts.subscribe();
                    tokio::spawn(connection(client, target.clone(), now, cut, heads.clone()));
                }
            }
        });
        FaultProxy {
            url,
            fault,
            cuts,
            heads,
            accept,
        }
    }

    /// Applies `fault` to new connections and cuts the open ones.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
        self.cut();
    }

    /// Cuts every open connection (clients see their streams drop).
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// The heads of the requests that opened connections so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn connection(
    mut client: TcpStream,
    target: String,
    fault: Fault,
    mut cut: watch::Receiver<u64>,
    heads: Arc<Mutex<Vec<String>>>,
) {
    match fault {
        Fault::Down => return,
        Fault::Unavailable => {
            let _ = read_head(&mut client).await;
            let _ = client
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            return;
        }
        Fault::Delay(wait) => tokio::time::sleep(wait).await,
        Fault::Pass => {}
    }
    let Ok(mut server) = TcpStream::connect(&target).await else {
        return;
    };
    // The head is read first (and passed on) so that tests can see it.
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    heads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(String::from_utf8_lossy(&head).into_owned());
    if server.write_all(&head).await.is_err() {
        return;
    }
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.changed() => {}
    }
}

/// Reads up to the end of the first request's head (or what came before
/// the client stopped sending).
async fn read_head(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&byte[..n]);
    }
    Some(head)
}
