//! Server-sent events read from a streaming response, as the server's
//! run and task event routes send them.

use serde_json::Value;

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: u64,
    pub event: String,
    pub data: Value,
}

/// Reads events as they come, until `stop` says so or the stream ends.
pub async fn read_events(
    response: &mut reqwest::Response,
    stop: impl Fn(&Sse) -> bool,
) -> Vec<Sse> {
    let mut buffer: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("a chunk of the stream") {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let Some(event) = parse_event(&String::from_utf8(block).expect("UTF-8")) else {
                continue;
            };
            let done = stop(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }
    events
}

/// An event block; `None` for a keep-alive comment.
fn parse_event(block: &str) -> Option<Sse> {
    let (mut id, mut event, mut data) = (None, None, None);
    for line in block.lines() {
        let field = |prefix: &str| {
            line.strip_prefix(prefix)
                .map(|v| v.strip_prefix(' ').unwrap_or(v).to_owned())
        };
        if let Some(v) = field("id:") {
            id = Some(v.parse::<u64>().expect("a numeric id"));
        } else if let Some(v) = field("event:") {
            event = Some(v);
        } else if let Some(v) = field("data:") {
            data = Some(serde_json::from_str(&v).expect("JSON data"));
        }
    }
    Some(Sse {
        id: id.unwrap_or(u64::MAX),
        event: event?,
        data: data?,
    })
}
