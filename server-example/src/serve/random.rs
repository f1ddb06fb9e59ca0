//! Random tokens from the operating system's generator: key secrets, key
//! ids, canvas ids.

use rand::TryRngCore;

/// `bytes` random bytes as lowercase hex (twice as many digits).
pub fn hex_token(bytes: usize) -> reelgraph::Result<String> {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng
        .try_fill_bytes(&mut buffer)
        .map_err(|e| reelgraph::Error::Runtime {
            what: "the operating system's random numbers".to_owned(),
            message: e.to_string(),
        })?;
    Ok(hex(&buffer))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The bytes of lowercase or uppercase hex; none if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hex_and_differ() {
        let a = hex_token(32).expect("random");
        let b = hex_token(32).expect("random");
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(unhex(&a).map(|bytes| hex(&bytes)), Some(a));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
