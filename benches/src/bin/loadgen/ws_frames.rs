//! The little of the WebSocket protocol (RFC 6455) a fan-out client needs,
//! read straight off its socket: the opening handshake, the server's
//! frames, and the client's masked frames.
//!
//! Why not a WebSocket library here: ten thousand clients share two cores
//! with the server they measure. Through tokio-tungstenite, the per-frame
//! costs that are not reading the socket (a zeroed read buffer, waker
//! proxies, buffer splits) were about a fifth of the generator's CPU, and
//! that CPU is taken from the server under test.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The server's answer to the handshake may not be longer than this.
const MAX_HEAD: usize = 16 * 1024;
/// A frame's payload may not be longer than this (the server's batches are
/// far smaller; a longer one means the stream is out of step).
const MAX_PAYLOAD: u64 = 16 * 1024 * 1024;
/// Room made in the read buffer before each read.
const READ_ROOM: usize = 4096;

pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// A frame from the server, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub opcode: u8,
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// A close frame's code and reason, as a sentence.
    pub fn close_reason(&self) -> String {
        match self.payload {
            [hi, lo, reason @ ..] => format!(
                "closed by the server: {} {}",
                u16::from_be_bytes([*hi, *lo]),
                String::from_utf8_lossy(reason)
            ),
            _ => "closed by the server".to_owned(),
        }
    }
}

/// One client's connection after the handshake.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read; those before `taken` were taken as frames.
    read: Vec<u8>,
    taken: usize,
    masks: SmallRng,
}

impl Connection {
    /// Makes the opening handshake on `stream` for `GET path` with the
    /// subprotocol and the API key, and checks the server's answer (101,
    /// the accept key, the subprotocol).
    pub async fn handshake(
        mut stream: TcpStream,
        host: &str,
        path: &str,
        subprotocol: &str,
        api_key: &str,
        seed: u64,
    ) -> Result<Connection, String> {
        let key = generate_key();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Protocol: {subprotocol}\r\nAuthorization: Bearer {api_key}\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let mut read = Vec::with_capacity(READ_ROOM);
        let head_len = loop {
            if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if read.len() > MAX_HEAD {
                return Err("handshake: the answer's head is too long".to_owned());
            }
            read.reserve(READ_ROOM);
            match stream.read_buf(&mut read).await {
                Ok(0) => return Err("handshake: the server closed the connection".to_owned()),
                Ok(_) => {}
                Err(e) => return Err(format!("handshake: {e}")),
            }
        };
        check_answer(
            &read[..head_len],
            &derive_accept_key(key.as_bytes()),
            subprotocol,
        )?;
        Ok(Connection {
            stream,
            read,
            taken: head_len,
            masks: SmallRng::seed_from_u64(seed),
        })
    }

    /// Reads what the socket has; `Ok(false)` when the server closed it.
    pub async fn read_more(&mut self) -> std::io::Result<bool> {
        if self.read.capacity() - self.read.len() < READ_ROOM / 4 {
            self.read.drain(..self.taken);
            self.taken = 0;
            self.read.reserve(READ_ROOM);
        }
        Ok(self.stream.read_buf(&mut self.read).await? > 0)
    }

    /// The next whole frame in what was read, if there is one. Hand it
    /// back with [`consume`](Connection::consume) once done with it.
    pub fn frame(&self) -> Result<Option<(Frame<'_>, usize)>, String> {
        let unread = &self.read[self.taken..];
        let Some((opcode, start, len)) = parse_header(unread)? else {
            return Ok(None);
        };
        let payload = &unread[start..start + len];
        Ok(Some((Frame { opcode, payload }, start + len)))
    }

    /// Drops the `len` bytes of a frame taken with [`frame`](Connection::frame).
    pub fn consume(&mut self, len: usize) {
        self.taken += len;
        if self.taken == self.read.len() {
            self.read.clear();
            self.taken = 0;
        }
    }

    /// Sends one masked frame.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let frame = client_frame(opcode, payload, self.masks.random());
        self.stream.write_all(&frame).await
    }
}

/// Checks the head of the server's answer to the handshake.
fn check_answer(head: &[u8], accept: &str, subprotocol: &str) -> Result<(), String> {
    let head = std::str::from_utf8(head).map_err(|_| "handshake: an answer that is not text")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 101 ") {
        return Err(format!("handshake: answered `{status}`"));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    };
    if header("sec-websocket-accept") != Some(accept) {
        return Err("handshake: a wrong Sec-WebSocket-Accept".to_owned());
    }
    if header("sec-websocket-protocol") != Some(subprotocol) {
        return Err(format!(
            "handshake: the server did not choose {subprotocol}"
        ));
    }
    Ok(())
}

/// The opcode, payload start and payload length of the frame at the start
/// of `bytes`, once all of it is there. Server frames are never masked,
/// and the server sends each message as one frame.
fn parse_header(bytes: &[u8]) -> Result<Option<(u8, usize, usize)>, String> {
    let [first, second, rest @ ..] = bytes else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err("a frame with reserved bits set".to_owned());
    }
    let opcode = first & 0x0F;
    if first & 0x80 == 0 || opcode == opcode::CONTINUATION {
        return Err("a fragmented message".to_owned());
    }
    if second & 0x80 != 0 {
        return Err("a masked frame from the server".to_owned());
    }
    let (len, start) = match second & 0x7F {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 4),
            _ => return Ok(None),
        },
        127 => match rest.get(..8) {
            Some(eight) => (
                u64::from_be_bytes(eight.try_into().expect("eight bytes")),
                10,
            ),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if len > MAX_PAYLOAD {
        return Err(format!("a frame of {len} bytes"));
    }
    let len = len as usize;
    Ok((bytes.len() >= start + len).then_some((opcode, start, len)))
}

/// A whole client frame: FIN set, masked with `mask` as every frame from a
/// client must be.
fn client_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame as LibFrame;

    /// Frames as tungstenite writes them for a server (unmasked).
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let frame = match opcode {
            opcode::TEXT => LibFrame::message(payload.to_vec(), OpCode::Data(Data::Text), true),
            opcode::PING => LibFrame::ping(payload.to_vec()),
            _ => unreachable!("only the opcodes the tests use"),
        };
        let mut bytes = Vec::new();
        frame.format(&mut bytes).expect("formats");
        bytes
    }

    #[test]
    fn reads_frames_of_each_length_form_and_waits_for_partial_ones() {
        for len in [0, 5, 125, 126, 300, 65_535, 65_536, 70_000] {
            let payload = vec![b'x'; len];
            let bytes = server_frame(opcode::TEXT, &payload);
            let (code, start, got) = parse_header(&bytes)
                .expect("a frame")
                .expect("a whole frame");
            assert_eq!((code, got), (opcode::TEXT, len));
            assert_eq!(&bytes[start..start + got], &payload[..]);
            assert_eq!(start + got, bytes.len());
            for cut in [1, 2, bytes.len() - 1] {
                if cut < bytes.len() {
                    assert_eq!(
                        parse_header(&bytes[..cut]).expect("a partial frame"),
                        None,
                        "len {len} cut {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_what_a_server_must_not_send() {
        let mut masked = server_frame(opcode::TEXT, b"hi");
        masked[1] |= 0x80;
        assert!(parse_header(&masked).is_err());
        let mut fragment = server_frame(opcode::TEXT, b"hi");
        fragment[0] &= 0x7F;
        assert!(parse_header(&fragment).is_err());
        let mut reserved = server_frame(opcode::PING, b"");
        reserved[0] |= 0x40;
        assert!(parse_header(&reserved).is_err());
        let huge = [0x81, 127, 0, 0, 0, 0, 0x10, 0, 0, 0];
        assert!(parse_header(&huge).is_err());
    }

    #[test]
    fn client_frames_are_masked_and_read_back_by_a_tungstenite_server() {
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};
        for len in [0, 7, 200, 70_000] {
            let text: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let bytes = client_frame(opcode::TEXT, text.as_bytes(), [1, 2, 3, 4]);
            assert_eq!(bytes[1] & 0x80, 0x80, "the mask bit");
            let stream = std::io::Cursor::new(bytes);
            let mut server = WebSocket::from_raw_socket(stream, Role::Server, None);
            assert_eq!(server.read().expect("a message"), Message::text(text));
        }
    }

    #[test]
    fn the_answer_to_the_handshake_is_checked() {
        let accept = derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nsec-websocket-accept: {accept}\r\nSec-WebSocket-Protocol: p.v1\r\n\r\n"
        );
        assert_eq!(check_answer(good.as_bytes(), &accept, "p.v1"), Ok(()));
        assert!(check_answer(good.as_bytes(), "other", "p.v1").is_err());
        assert!(check_answer(good.as_bytes(), &accept, "q.v1").is_err());
        let refused = "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n";
        assert!(
            check_answer(refused.as_bytes(), &accept, "p.v1")
                .expect_err("refused")
                .contains("401")
        );
    }
}
