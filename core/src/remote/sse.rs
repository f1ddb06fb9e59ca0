//! Reads a server-sent event stream (`text/event-stream`) into events: the
//! `id:`, `event:` and `data:` fields up to each blank line; comments (the
//! server's keep-alives) are skipped.

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};

use super::client::CallError;

/// One event of the stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SseEvent {
    pub id: Option<String>,
    /// `message` when the server names none.
    pub event: String,
    pub data: String,
}

/// Events as they arrive on a byte stream.
pub(crate) struct SseReader {
    bytes: BoxStream<'static, Result<Bytes, String>>,
    buffer: Vec<u8>,
    /// The event being read (fields seen before its blank line).
    pending: SseEvent,
    has_data: bool,
}

impl SseReader {
    pub fn new<E: ToString>(
        bytes: impl futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static,
    ) -> SseReader {
        SseReader {
            bytes: bytes.map(|chunk| chunk.map_err(|e| e.to_string())).boxed(),
            buffer: Vec::new(),
            pending: SseEvent::default(),
            has_data: false,
        }
    }

    /// The next event; `None` when the stream ended cleanly, an error when
    /// it was cut.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, CallError> {
        loop {
            while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(event) = self.line(line) {
                    return Ok(Some(event));
                }
            }
            match self.bytes.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(CallError::Unreachable(format!(
                        "the event stream broke ({e})"
                    )));
                }
                None => return Ok(None),
            }
        }
    }

    /// Takes one line; a blank line ends the event (if it had data).
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.pending);
            let had_data = std::mem::replace(&mut self.has_data, false);
            return had_data.then(|| SseEvent {
                event: if event.event.is_empty() {
                    "message".into()
                } else {
                    event.event
                },
                ..event
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.pending.id = Some(value.to_owned()),
            "event" => self.pending.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn reader(chunks: &[&'static str]) -> SseReader {
        let chunks: Vec<Result<Bytes, String>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        SseReader::new(stream::iter(chunks))
    }

    #[tokio::test]
    async fn events_split_across_chunks_and_keep_alives_between_them() {
        let mut events = reader(&[
            ": keep-alive\n\nid: 0\nevent: task_qu",
            "eued\ndata: {\"a\":1}\r\n\r\n",
            "id: 1\ndata: line one\ndata: line two\n\n",
        ]);
        let first = events.next().await.expect("read").expect("an event");
        assert_eq!(
            (
                first.id.as_deref(),
                first.event.as_str(),
                first.data.as_str()
            ),
            (Some("0"), "task_queued", "{\"a\":1}")
        );
        let second = events.next().await.expect("read").expect("an event");
        assert_eq!(
            (second.event.as_str(), second.data.as_str()),
            ("message", "line one\nline two")
        );
        assert_eq!(events.next().await.expect("a clean end"), None);
    }

    #[tokio::test]
    async fn a_cut_stream_is_an_error() {
        let chunks: Vec<Result<Bytes, String>> = vec![
            Ok(Bytes::from_static(b"id: 0\ndata: {}\n")),
            Err("reset".into()),
        ];
        let mut events = SseReader::new(stream::iter(chunks));
        assert!(matches!(
            events.next().await,
            Err(CallError::Unreachable(_))
        ));
    }
}
