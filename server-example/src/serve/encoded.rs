//! An event serialised at most once per wire format, however many
//! WebSocket clients it goes to: the first client of a format pays for the
//! bytes, the others share them.

use std::fmt;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde::Serialize;

/// The wire formats of `/v1/ws`, chosen by subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `reelgraph.json.v1`: text frames.
    Json,
    /// `reelgraph.msgpack.v1`: binary frames, maps with field names.
    MsgPack,
}

/// Something a connection sends, as bytes of one format.
pub trait Outgoing: Send + Sync + fmt::Debug {
    /// The item's bytes in `format` (shared: a clone of `Bytes` is cheap).
    fn bytes(&self, format: Format) -> Bytes;
}

/// `value` with its bytes in each format, made on first use.
#[derive(Debug)]
pub struct Encoded<T> {
    pub value: T,
    json: OnceLock<Bytes>,
    msgpack: OnceLock<Bytes>,
}

impl<T: Serialize> Encoded<T> {
    pub fn new(value: T) -> Encoded<T> {
        Encoded {
            value,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        }
    }
}

impl<T: Serialize + Send + Sync + fmt::Debug> Outgoing for Encoded<T> {
    fn bytes(&self, format: Format) -> Bytes {
        match format {
            Format::Json => self.json.get_or_init(|| encode(&self.value, format)),
            Format::MsgPack => self.msgpack.get_or_init(|| encode(&self.value, format)),
        }
        .clone()
    }
}

/// `value` in `format`. The server's own types always serialise; a failure
/// would be a bug, logged, and sent as `null` rather than end a connection.
pub fn encode<T: Serialize>(value: &T, format: Format) -> Bytes {
    let bytes = match format {
        Format::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
        Format::MsgPack => rmp_serde::to_vec_named(value).map_err(|e| e.to_string()),
    };
    match bytes {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            tracing::error!("could not serialise an outgoing message: {e}");
            match format {
                Format::Json => Bytes::from_static(b"null"),
                Format::MsgPack => Bytes::from_static(&[0xc0]),
            }
        }
    }
}

/// One frame of `items`: an array whose elements are the items' bytes,
/// written one after the other behind the array's header.
pub fn batch(format: Format, items: &[std::sync::Arc<dyn Outgoing>]) -> Vec<u8> {
    let parts: Vec<Bytes> = items.iter().map(|item| item.bytes(format)).collect();
    let size: usize = parts.iter().map(Bytes::len).sum::<usize>() + parts.len() + 5;
    let mut frame = Vec::with_capacity(size);
    match format {
        Format::Json => {
            frame.push(b'[');
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    frame.push(b',');
                }
                frame.extend_from_slice(part);
            }
            frame.push(b']');
        }
        Format::MsgPack => {
            msgpack_array_header(&mut frame, parts.len());
            for part in &parts {
                frame.extend_from_slice(part);
            }
        }
    }
    frame
}

/// The MessagePack header of an array of `len` elements (fixarray,
/// array 16 or array 32).
fn msgpack_array_header(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        out.push(0xdd);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;

    fn items(n: usize) -> Vec<Arc<dyn Outgoing>> {
        (0..n)
            .map(|i| Arc::new(Encoded::new(json!({"seq": i, "type": "x"}))) as Arc<dyn Outgoing>)
            .collect()
    }

    #[test]
    fn a_batch_reads_back_as_an_array_in_both_formats() {
        for n in [0, 1, 15, 16, 70_000] {
            let items = items(n);
            let json: Vec<Value> =
                serde_json::from_slice(&batch(Format::Json, &items)).expect("a JSON array");
            let msgpack: Vec<Value> = rmp_serde::from_slice(&batch(Format::MsgPack, &items))
                .expect("a MessagePack array");
            assert_eq!(json.len(), n);
            assert_eq!(json, msgpack);
            if n > 0 {
                assert_eq!(json[n - 1]["seq"], n - 1);
            }
        }
    }

    #[test]
    fn bytes_are_made_once_per_format() {
        let item = Encoded::new(json!({"a": 1}));
        let first = item.bytes(Format::Json);
        let again = item.bytes(Format::Json);
        // The same allocation, not a copy made again.
        assert_eq!(first.as_ptr(), again.as_ptr());
        assert_ne!(item.bytes(Format::MsgPack), first);
    }
}
