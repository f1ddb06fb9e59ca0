//! RIFF/WAVE files: 16-bit PCM mono out, common PCM and float layouts in.

/// The bytes of a 16-bit PCM mono WAV file holding `samples` (−1..1, clipped).
pub(crate) fn encode(samples: &[f32], sample_rate: u32) -> Vec<u8> {
    let data_len = samples.len() as u32 * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decoded audio: mono samples (channels averaged) and their rate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// The same sound at another rate (linear interpolation).
    pub fn resampled(self, rate: u32) -> Audio {
        if rate == self.sample_rate || self.samples.is_empty() {
            return Audio {
                samples: self.samples,
                sample_rate: rate,
            };
        }
        let ratio = f64::from(self.sample_rate) / f64::from(rate);
        let n = (self.samples.len() as f64 / ratio).round() as usize;
        let last = self.samples.len() - 1;
        let samples = (0..n)
            .map(|i| {
                let pos = i as f64 * ratio;
                let i0 = (pos.floor() as usize).min(last);
                let i1 = (i0 + 1).min(last);
                let t = (pos - i0 as f64) as f32;
                self.samples[i0] + (self.samples[i1] - self.samples[i0]) * t
            })
            .collect();
        Audio {
            samples,
            sample_rate: rate,
        }
    }
}

/// Reads a WAV file: PCM 8/16/24/32-bit or 32-bit float, any channel count.
pub(crate) fn decode(bytes: &[u8]) -> Result<Audio, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".to_owned());
    }
    let mut format: Option<(u16, u16, u32, u16)> = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32_at(bytes, pos + 4) as usize;
        let body_start = pos + 8;
        let body_end = body_start.saturating_add(len).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => {
                if body.len() < 16 {
                    return Err("the fmt chunk is too short".to_owned());
                }
                let mut tag = u16_at(body, 0);
                let channels = u16_at(body, 2);
                let rate = u32_at(body, 4);
                let bits = u16_at(body, 14);
                if tag == 0xFFFE && body.len() >= 26 {
                    tag = u16_at(body, 24); // WAVE_FORMAT_EXTENSIBLE: the sub-format
                }
                format = Some((tag, channels, rate, bits));
            }
            b"data" => {
                let (tag, channels, rate, bits) =
                    format.ok_or_else(|| "the data chunk comes before fmt".to_owned())?;
                return samples(body, tag, channels, rate, bits);
            }
            _ => {}
        }
        pos = body_start.saturating_add(len + (len & 1));
    }
    Err("no data chunk".to_owned())
}

fn samples(data: &[u8], tag: u16, channels: u16, rate: u32, bits: u16) -> Result<Audio, String> {
    if channels == 0 || rate == 0 {
        return Err("zero channels or a zero sample rate".to_owned());
    }
    let width = usize::from(bits / 8);
    let read: fn(&[u8]) -> f32 = match (tag, bits) {
        (1, 8) => |b| (f32::from(b[0]) - 128.0) / 128.0,
        (1, 16) => |b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
        (1, 24) => |b| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0,
        (1, 32) => |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
        (3, 32) => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        _ => {
            return Err(format!(
                "format {tag} with {bits} bits per sample is not supported"
            ));
        }
    };
    let frame = width * usize::from(channels);
    let samples = data
        .chunks_exact(frame)
        .map(|f| f.chunks_exact(width).map(read).sum::<f32>() / f32::from(channels))
        .collect();
    Ok(Audio {
        samples,
        sample_rate: rate,
    })
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_round_trip() {
        let bytes = encode(&[0.0, 0.5, -0.5, 1.0], 8000);
        assert_eq!(bytes.len(), 44 + 8);
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(u32_at(&bytes, 24), 8000);
        assert_eq!(u32_at(&bytes, 40), 8);
        let audio = decode(&bytes).expect("decodes");
        assert_eq!(audio.sample_rate, 8000);
        assert_eq!(audio.samples.len(), 4);
        assert!((audio.samples[1] - 0.5).abs() < 1e-3);
        assert!((audio.samples[3] - 1.0).abs() < 1e-3);
    }

    #[test]
    fn stereo_is_averaged_and_truncated_input_is_refused() {
        let mut bytes = encode(&[0.0; 4], 100);
        bytes[22] = 2; // channels
        let audio = decode(&bytes).expect("decodes");
        assert_eq!(audio.samples.len(), 2);
        assert!(decode(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(decode(b"garbage").is_err());
    }

    #[test]
    fn resampling_keeps_the_duration() {
        let audio = Audio {
            samples: vec![0.25; 22050],
            sample_rate: 22050,
        };
        let up = audio.resampled(44100);
        assert_eq!(up.samples.len(), 44100);
        assert!((up.duration() - 1.0).abs() < 1e-9);
    }
}
