//! Bodies kept compressed: the coding a request's `Accept-Encoding` picks,
//! and the compressed bytes.
//!
//! The compression layer (see `app`) compresses a body on every request.
//! A canvas is read far more often than it changes, so its GET keeps each
//! coding's bytes per revision and answers with them; the layer then leaves
//! the response alone. The choice follows the layer's rule, so a client gets
//! the coding it got before: gzip and brotli (at the layer's levels), the
//! highest `q` winning and brotli winning a tie.

use std::io::Write;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_ENCODING;

/// The layer leaves bodies under this many bytes uncompressed.
pub const MIN_SIZE: usize = 32;

/// The codings the compression layer makes, in its order of preference
/// when two have the same `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coding {
    Gzip,
    Brotli,
}

impl Coding {
    /// The token of `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// The coding `headers` ask for, or `None` for the body as it is (no
/// `Accept-Encoding`, only codings the server does not make, or `q=0`).
pub fn preferred(headers: &HeaderMap) -> Option<Coding> {
    let mut best: Option<(u16, Option<Coding>)> = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.splitn(2, ';');
            let name = parts.next().unwrap_or("").trim();
            let coding = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")
            {
                Some(Coding::Gzip)
            } else if name.eq_ignore_ascii_case("br") {
                Some(Coding::Brotli)
            } else if name.eq_ignore_ascii_case("identity") {
                None
            } else {
                continue;
            };
            let q = match parts.next() {
                Some(q) => match q_value(q.trim()) {
                    Some(q) => q,
                    None => continue,
                },
                None => 1000,
            };
            // Identity ranks below every coding at the same `q`.
            if q > 0 && best.is_none_or(|b| (q, coding) > b) {
                best = Some((q, coding));
            }
        }
    }
    best.and_then(|(_, coding)| coding)
}

/// A `q=` parameter in thousandths (RFC 9110, 12.4.2): `0` to `1` with at
/// most three decimals; anything else is not a q-value.
fn q_value(text: &str) -> Option<u16> {
    let rest = text
        .strip_prefix("q=")
        .or_else(|| text.strip_prefix("Q="))?;
    let (whole, fraction) = match rest.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (rest, ""),
    };
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value = 0_u16;
    for (digit, scale) in fraction.bytes().zip([100_u16, 10, 1]) {
        value += u16::from(digit - b'0') * scale;
    }
    if whole == 1000 && value > 0 {
        return None;
    }
    Some(whole + value)
}

/// `bytes` compressed with `coding` at the compression layer's level
/// (gzip 6, brotli 4).
pub fn compress(bytes: &[u8], coding: Coding) -> Bytes {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    // Writing into a `Vec` cannot fail.
    match coding {
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(6));
            let _ = encoder.write_all(bytes);
            let _ = encoder.finish();
        }
        Coding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: 4,
                ..Default::default()
            };
            let _ = brotli::BrotliCompress(&mut &bytes[..], &mut out, &params);
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::http::HeaderValue;

    use super::*;

    fn pick(values: &[&'static str]) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_static(value));
        }
        preferred(&headers)
    }

    #[test]
    fn the_highest_q_wins_and_brotli_wins_a_tie() {
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&["gzip, deflate, br, zstd"]), Some(Coding::Brotli));
        assert_eq!(pick(&["gzip, deflate"]), Some(Coding::Gzip));
        assert_eq!(pick(&["br;q=0.5, gzip"]), Some(Coding::Gzip));
        assert_eq!(pick(&["gzip;q=0.8", "br;q=0.9"]), Some(Coding::Brotli));
        assert_eq!(pick(&["X-GZIP"]), Some(Coding::Gzip));
        assert_eq!(pick(&["zstd, deflate"]), None);
        assert_eq!(pick(&["br;q=0, gzip;q=0"]), None);
        assert_eq!(pick(&["identity, gzip;q=0.5"]), None);
        assert_eq!(pick(&["identity;q=0.5, gzip;q=0.5"]), Some(Coding::Gzip));
        // A malformed q-value drops its item, as the layer does.
        assert_eq!(pick(&["br;q=2, gzip;q=0.1"]), Some(Coding::Gzip));
        assert_eq!(pick(&["br;q=0.1234"]), None);
    }

    #[test]
    fn q_values_are_read_in_thousandths() {
        assert_eq!(q_value("q=1"), Some(1000));
        assert_eq!(q_value("q=1.000"), Some(1000));
        assert_eq!(q_value("Q=0.25"), Some(250));
        assert_eq!(q_value("q=0."), Some(0));
        assert_eq!(q_value("q=1.5"), None);
        assert_eq!(q_value("q=.5"), None);
        assert_eq!(q_value("level=1"), None);
    }

    #[test]
    fn compressed_bytes_read_back() {
        let text = br#"{"nodes":[{"id":"a"},{"id":"b"},{"id":"c"}]}"#.repeat(50);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&compress(&text, Coding::Gzip)[..])
            .read_to_end(&mut plain)
            .expect("gzip");
        assert_eq!(plain, text);
        plain.clear();
        brotli::Decompressor::new(&compress(&text, Coding::Brotli)[..], 4096)
            .read_to_end(&mut plain)
            .expect("brotli");
        assert_eq!(plain, text);
    }
}
