//! Canvas ids as file names, reversibly.
//!
//! An id (1 to 128 bytes of UTF-8, see [`crate::model::check_id`]) becomes a
//! name that is safe on every common file system, case-insensitive ones
//! included:
//!
//! - the readable form keeps `a-z`, `0-9`, `-` and `_` and writes every other
//!   byte as `%XX` (upper-case hex): `teaser` stays `teaser`, `Act 1/Scene 2`
//!   becomes `%41ct%201%2F%53cene%202`. Upper-case letters appear only inside
//!   escapes, so two ids never map to names that differ only in case.
//! - an id whose readable form would pass [`MAX_READABLE`] bytes (128 bytes of
//!   non-ASCII text would need 384) is written as `~` and its bytes in
//!   lower-case base32 (RFC 4648 alphabet, no padding): at most 206 bytes.
//!
//! [`decode`] accepts only names that [`encode`] produces, so stray files
//! (`.DS_Store`, editor backups, temp files) are never mistaken for canvases.

/// Longest readable name; longer ones switch to base32. With a `.lock`
/// suffix this stays well under the usual 255-byte file name limit.
pub(super) const MAX_READABLE: usize = 200;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn kept(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

/// The file name for an id.
pub(super) fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if kept(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
        if out.len() > MAX_READABLE {
            return base32(id.as_bytes());
        }
    }
    out
}

/// The id a file name stands for; none if [`encode`] would not produce it.
pub(super) fn decode(name: &str) -> Option<String> {
    let bytes = match name.strip_prefix('~') {
        Some(rest) => unbase32(rest)?,
        None => unescape(name)?,
    };
    let id = String::from_utf8(bytes).ok()?;
    crate::model::check_id(&id).ok()?;
    (encode(&id) == name).then_some(id)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(1 + bytes.len().div_ceil(5) * 8);
    out.push('~');
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let value = BASE32.iter().position(|&a| a == c)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

fn unescape(name: &str) -> Option<Vec<u8>> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_stay_short() {
        let long_ascii = "A".repeat(128);
        let long_utf8 = "é".repeat(64);
        let ids = [
            "teaser",
            "Teaser",
            "act 1/scene 2",
            "..",
            ".",
            "%41",
            "~abc",
            "CON",
            "🎬 final",
            long_ascii.as_str(),
            long_utf8.as_str(),
        ];
        let mut names = std::collections::HashSet::new();
        for id in ids {
            let name = encode(id);
            assert!(name.len() <= 206, "{id:?} -> {name} is too long");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_%~".contains(&b)),
                "{name} has an unsafe byte"
            );
            assert_eq!(decode(&name).as_deref(), Some(id), "{name}");
            assert!(
                names.insert(name.to_ascii_lowercase()),
                "{name} collides on a case-insensitive file system"
            );
        }
        assert_eq!(encode("teaser"), "teaser");
        assert!(encode(&long_utf8).starts_with('~'));
    }

    #[test]
    fn foreign_names_are_not_canvases() {
        for name in [
            "Teaser",
            ".DS_Store",
            "a%2",
            "a%zz",
            "%61",
            "~",
            "~A",
            "index.json.tmp",
            "",
        ] {
            assert_eq!(decode(name), None, "{name:?}");
        }
    }
}
