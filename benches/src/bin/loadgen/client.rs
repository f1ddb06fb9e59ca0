//! One virtual user's HTTP/1.1 connection: keep-alive, one request at a
//! time, reconnecting when the server closed it.

use std::io::Read;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    authorization: HeaderValue,
    host: HeaderValue,
    accept_encoding: Option<HeaderValue>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(addr: SocketAddr, key: &str) -> Client {
        Client {
            addr,
            authorization: HeaderValue::from_str(&format!("Bearer {key}"))
                .expect("the API key is a valid header value"),
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid host"),
            accept_encoding: None,
            sender: None,
        }
    }

    /// Sends `Accept-Encoding: value` with every request, as a browser
    /// does, and decodes what comes back compressed.
    pub fn accept_encoding(mut self, value: Option<&str>) -> Client {
        self.accept_encoding =
            value.map(|v| HeaderValue::from_str(v).expect("--accept-encoding is a header value"));
        self
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }

    /// Sends one request; `if_match` sets `If-Match`, a body is sent as JSON.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        if_match: Option<u64>,
        body: Option<Bytes>,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone())
            .header(header::AUTHORIZATION, self.authorization.clone());
        if let Some(value) = &self.accept_encoding {
            request = request.header(header::ACCEPT_ENCODING, value.clone());
        }
        if let Some(revision) = if_match {
            request = request.header(header::IF_MATCH, revision.to_string());
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| format!("ready: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                self.sender = None;
                return Err(format!("send: {e}"));
            }
        };
        let status = response.status();
        let coding = response.headers().get(header::CONTENT_ENCODING).cloned();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let body = match coding {
            Some(coding) => decode(coding.as_bytes(), &body)?,
            None => body,
        };
        Ok(Answer { status, body })
    }
}

/// A body in the `Content-Encoding` `coding`, decoded as a client would.
fn decode(coding: &[u8], body: &[u8]) -> Result<Bytes, String> {
    let mut plain = Vec::with_capacity(body.len() * 8);
    let read = match coding {
        b"gzip" => flate2::read::GzDecoder::new(body).read_to_end(&mut plain),
        b"br" => brotli::Decompressor::new(body, 4096).read_to_end(&mut plain),
        other => {
            return Err(format!(
                "an answer in Content-Encoding {}",
                String::from_utf8_lossy(other)
            ));
        }
    };
    read.map_err(|e| format!("decoding the body: {e}"))?;
    Ok(Bytes::from(plain))
}
