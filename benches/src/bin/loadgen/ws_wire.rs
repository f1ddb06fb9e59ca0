//! The messages of `/v1/ws` the fan-out clients send (the server's own
//! `ClientMessage`) and the part of each server message they read.

use std::time::UNIX_EPOCH;

use reelgraph::event::Timestamp;
use reelgraph_server::serve::ws::messages::{ClientMessage, Topic};

pub fn subscribe(topic: Topic, id: &str) -> ClientMessage {
    ClientMessage::Subscribe {
        reference: None,
        topic,
        id: id.to_owned(),
        since: None,
    }
}

/// One item of a server frame, as far as the clients look at it. Run
/// events are read for their `seq` and `ts` only: ten thousand clients
/// read every event, on the same cores as the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Subscribed,
    /// `error` or `resync`: the client stops and reports it.
    Trouble(String),
    /// A run event: its `seq`, and its `ts` in milliseconds since the epoch.
    RunEvent {
        seq: u64,
        ts_ms: u64,
    },
    Other,
}

/// The items of a JSON frame (an array of objects), by a scanner that
/// reads the top-level `type`, `run_id`, `seq` and `ts` of each object and
/// steps over everything else without building it. A frame that is not
/// such an array is an error.
pub fn items(frame: &str) -> Result<Vec<Item>, String> {
    let mut scan = Scanner {
        bytes: frame.as_bytes(),
        at: 0,
    };
    let mut items = Vec::new();
    scan.expect(b'[')?;
    if scan.peek() == Some(b']') {
        scan.at += 1;
    } else {
        loop {
            let start = scan.at;
            let fields = scan.object()?;
            items.push(fields.item(frame[start..scan.at].trim()));
            match scan.next()? {
                b',' => {}
                b']' => break,
                other => return Err(scan.unexpected(other)),
            }
        }
    }
    if scan.peek().is_some() {
        return Err("text after the frame's array".to_owned());
    }
    Ok(items)
}

/// The fields of an item the clients read.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a str>,
    run_id: bool,
    seq: Option<u64>,
    ts: Option<&'a str>,
}

impl Fields<'_> {
    fn item(&self, text: &str) -> Item {
        match (self.kind, self.run_id, self.seq, self.ts) {
            (Some("subscribed"), ..) => Item::Subscribed,
            (Some("error" | "resync"), ..) => Item::Trouble(text.to_owned()),
            (Some(_), true, Some(seq), Some(ts)) => Item::RunEvent {
                seq,
                ts_ms: Timestamp::parse(ts)
                    .and_then(|t| t.0.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            },
            _ => Item::Other,
        }
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.at) {
            if !b.is_ascii_whitespace() {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    fn next(&mut self) -> Result<u8, String> {
        let b = self.peek().ok_or("the frame ends early")?;
        self.at += 1;
        Ok(b)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), String> {
        match self.next()? {
            b if b == wanted => Ok(()),
            other => Err(self.unexpected(other)),
        }
    }

    fn unexpected(&self, b: u8) -> String {
        format!("unexpected `{}` at byte {}", char::from(b), self.at - 1)
    }

    /// An object, keeping the fields an item is read for.
    fn object(&mut self) -> Result<Fields<'a>, String> {
        let mut fields = Fields::default();
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(fields);
        }
        loop {
            self.expect(b'"')?;
            let key = self.string_body()?;
            self.expect(b':')?;
            match key {
                "type" => fields.kind = Some(self.string()?),
                "ts" => fields.ts = Some(self.string()?),
                "seq" => fields.seq = Some(self.number()?),
                "run_id" => {
                    fields.run_id = true;
                    self.skip()?;
                }
                _ => self.skip()?,
            }
            match self.next()? {
                b',' => {}
                b'}' => return Ok(fields),
                other => return Err(self.unexpected(other)),
            }
        }
    }

    fn string(&mut self) -> Result<&'a str, String> {
        self.expect(b'"')?;
        self.string_body()
    }

    /// The rest of a string after its opening quote, escapes left as they
    /// are (the fields read never hold any).
    fn string_body(&mut self) -> Result<&'a str, String> {
        let start = self.at;
        loop {
            match self.bytes.get(self.at) {
                None => return Err("a string runs to the end of the frame".to_owned()),
                Some(b'\\') => self.at += 2,
                Some(b'"') => {
                    self.at += 1;
                    return std::str::from_utf8(&self.bytes[start..self.at - 1])
                        .map_err(|e| e.to_string());
                }
                Some(_) => self.at += 1,
            }
        }
    }

    fn number(&mut self) -> Result<u64, String> {
        self.peek();
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| format!("no whole number at byte {start}"))
    }

    /// Steps over one value of any kind.
    fn skip(&mut self) -> Result<(), String> {
        match self.next()? {
            b'"' => self.string_body().map(drop),
            b'{' | b'[' => {
                let mut depth = 1usize;
                while depth > 0 {
                    match self.bytes.get(self.at) {
                        None => return Err("a value runs to the end of the frame".to_owned()),
                        Some(b'"') => {
                            self.at += 1;
                            self.string_body()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => depth -= 1,
                        Some(_) => {}
                    }
                    self.at += 1;
                }
                Ok(())
            }
            // A number, `true`, `false` or `null`: up to the next delimiter.
            _ => {
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanner_reads_what_serde_json_reads() {
        let frame = r#"[{"type":"subscribed","topic":"run","id":"r"},
            {"type":"node_progress","run_id":"r","seq":41,"ts":"2026-12-07T00:40:00.120Z",
             "node":"p","message":"a \"quoted\" } ]","outputs":{"a":[1,{"b":null}]},"progress":0.5,"ok":true},
            {"type":"error","error":{"code":"too_slow"}},{}]"#;
        let items = items(frame).expect("a frame");
        assert_eq!(items.len(), 4);
        assert_eq!(items[0], Item::Subscribed);
        assert_eq!(
            items[1],
            Item::RunEvent {
                seq: 41,
                ts_ms: 1_796_604_000_120
            }
        );
        assert!(matches!(&items[2], Item::Trouble(t) if t.contains("too_slow")));
        assert_eq!(items[3], Item::Other);
        assert_eq!(super::items("[]").expect("empty"), []);
    }

    #[test]
    fn a_broken_frame_is_an_error() {
        for frame in [
            "",
            "{}",
            "[",
            r#"[{"type":"x"}"#,
            r#"[{"seq":}]"#,
            "[1]",
            "[{}] x",
        ] {
            assert!(items(frame).is_err(), "{frame}");
        }
    }
}
