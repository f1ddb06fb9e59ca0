//! Content keys: what a node's result depends on, hashed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// A 256-bit BLAKE3 hash naming a node's result by its content: its type and
/// type version, the properties that matter, the quality tier and the keys of
/// its inputs. Node ids and layout are not part of it, so two nodes doing the
/// same work share a result, and moving a node changes nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentKey(pub [u8; 32]);

impl ContentKey {
    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        // On the stack, then one allocation of the right size: every task
        // sends its key as an idempotency key.
        let mut hex = [0u8; 64];
        for (i, byte) in self.0.into_iter().enumerate() {
            hex[2 * i] = DIGITS[usize::from(byte >> 4)];
            hex[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
        }
        std::str::from_utf8(&hex)
            .expect("hex digits are ASCII")
            .to_owned()
    }

    /// The first 12 hex digits, for messages.
    pub fn short(&self) -> String {
        self.to_string()[..12].to_owned()
    }
}

impl fmt::Display for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentKey({})", self.short())
    }
}

impl FromStr for ContentKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidField {
            field: "content key",
            message: format!("{s:?} is not 64 hex digits"),
        };
        if s.len() != 64 {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or_else(invalid)?, 16)
                .map_err(|_| invalid())?;
        }
        Ok(ContentKey(bytes))
    }
}

impl Serialize for ContentKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ContentKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContentKey".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A node's content key: a BLAKE3 hash of what its result depends on.",
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
        })
    }
}

impl<'de> Deserialize<'de> for ContentKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Writes values in one canonical byte form, then hashes them with BLAKE3:
/// every value is tagged and length-prefixed, object keys are sorted, and
/// numbers that are equal (`1` and `1.0`) hash the same, as they compare the
/// same. Bytes are gathered first and hashed in one call, which is several
/// times faster than feeding BLAKE3 many small pieces.
#[derive(Debug, Default)]
pub(crate) struct KeyHasher(Vec<u8>);

impl KeyHasher {
    /// Starts a hash in `domain`, reusing the buffer.
    pub fn start(&mut self, domain: u8) {
        self.0.clear();
        self.0.push(domain);
    }

    #[inline]
    pub fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A length as LEB128: one byte for the short strings most names are.
    fn len(&mut self, mut n: usize) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    pub fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    pub fn tag(&mut self, tag: u8) {
        self.0.push(tag);
    }

    pub fn bytes(&mut self, bytes: &[u8; 32]) {
        self.0.extend_from_slice(bytes);
    }

    pub fn value(&mut self, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::Null => self.tag(b'n'),
            Value::Bool(b) => self.tag(if *b { b't' } else { b'f' }),
            Value::Number(n) => self.number(n),
            Value::String(s) => {
                self.tag(b's');
                self.str(s);
            }
            Value::Array(items) => {
                self.tag(b'a');
                self.len(items.len());
                for item in items {
                    self.value(item);
                }
            }
            Value::Object(map) => {
                self.tag(b'o');
                self.len(map.len());
                // serde_json's map iterates in key order, unless a crate in
                // the build turns on its `preserve_order` feature.
                let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
                if sorted {
                    for (k, v) in map {
                        self.str(k);
                        self.value(v);
                    }
                } else {
                    let mut fields: Vec<_> = map.iter().collect();
                    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in fields {
                        self.str(k);
                        self.value(v);
                    }
                }
            }
        }
    }

    fn number(&mut self, n: &serde_json::Number) {
        // Integral values hash as integers whatever their spelling.
        if let Some(i) = n.as_i64() {
            self.tag(b'i');
            self.u64(i as u64);
        } else if let Some(u) = n.as_u64() {
            self.tag(b'u');
            self.u64(u);
        } else {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                self.tag(b'i');
                self.u64(f as i64 as u64);
            } else {
                self.tag(b'd');
                self.u64(f.to_bits());
            }
        }
    }

    pub fn finish(&self) -> [u8; 32] {
        *blake3::hash(&self.0).as_bytes()
    }
}
