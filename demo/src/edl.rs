//! CMX3600 edit decision lists and non-drop-frame timecode.

use std::fmt::Write as _;

/// A frame rate: the real one, and the whole number timecode counts in
/// (29.97 counts as 30, 23.976 as 24: non-drop-frame timecode).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    pub actual: f64,
    pub nominal: u32,
}

impl Rate {
    /// A rate from frames per second (above 0, at most 240).
    pub fn new(fps: f64) -> Result<Rate, String> {
        if !fps.is_finite() || fps <= 0.0 || fps > 240.0 {
            return Err(format!(
                "{fps} is not a frame rate; use e.g. 24, 25 or 29.97"
            ));
        }
        Ok(Rate {
            actual: fps,
            nominal: (fps.round() as u32).max(1),
        })
    }

    /// Whole frames in `seconds` of real time.
    pub fn frames(self, seconds: f64) -> u64 {
        (seconds.max(0.0) * self.actual).round() as u64
    }

    /// Real time of `frames`, in seconds.
    pub fn seconds(self, frames: u64) -> f64 {
        frames as f64 / self.actual
    }

    /// Parses `HH:MM:SS:FF` (`;` is accepted as the last separator too) into
    /// frames since 00:00:00:00.
    pub fn parse(self, text: &str) -> Result<u64, String> {
        let bad = || format!("{text:?} is not a timecode; write HH:MM:SS:FF, e.g. 01:00:00:00");
        let parts: Vec<&str> = text.trim().split([':', ';', '.']).collect();
        let [h, m, s, f] = parts.as_slice() else {
            return Err(bad());
        };
        let field = |p: &str| -> Result<u64, String> {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse::<u64>().map_err(|_| bad())
        };
        let (h, m, s, f) = (field(h)?, field(m)?, field(s)?, field(f)?);
        if h > 23 || m > 59 || s > 59 {
            return Err(bad());
        }
        let fps = u64::from(self.nominal);
        if f >= fps {
            return Err(format!(
                "{text:?} has frame {f}, but at {} fps frames run 00 to {:02}",
                self.actual,
                fps - 1
            ));
        }
        Ok(((h * 60 + m) * 60 + s) * fps + f)
    }

    /// `frames` as `HH:MM:SS:FF`; hours wrap at 24 as timecode does.
    pub fn format(self, frames: u64) -> String {
        let fps = u64::from(self.nominal);
        let f = frames % fps;
        let total_seconds = frames / fps;
        let s = total_seconds % 60;
        let m = total_seconds / 60 % 60;
        let h = total_seconds / 3600 % 24;
        format!("{h:02}:{m:02}:{s:02}:{f:02}")
    }
}

/// Which track an event cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    Video,
    Audio,
}

/// One cut of an edit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub reel: String,
    pub track: Track,
    pub source_in: u64,
    pub source_out: u64,
    pub record_in: u64,
    pub record_out: u64,
    pub clip_name: String,
    pub comments: Vec<String>,
}

/// A reel name as CMX3600 wants it: at most 8 characters of `A-Z a-z 0-9 _`.
pub(crate) fn reel_name(name: &str) -> String {
    let reel: String = name
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(8)
        .collect();
    if reel.is_empty() {
        "AX".to_owned()
    } else {
        reel
    }
}

/// The text of a CMX3600 EDL with `events` numbered from 1 in order.
pub(crate) fn write(title: &str, rate: Rate, events: &[Event]) -> String {
    let mut out = String::new();
    let title: String = title.chars().filter(|c| !c.is_control()).take(70).collect();
    let _ = writeln!(out, "TITLE: {title}");
    let _ = writeln!(out, "FCM: NON-DROP FRAME");
    for (i, e) in events.iter().enumerate() {
        let track = match e.track {
            Track::Video => "V",
            Track::Audio => "A",
        };
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:03}  {:<8} {:<5} {:<8} {} {} {} {}",
            i + 1,
            e.reel,
            track,
            "C",
            rate.format(e.source_in),
            rate.format(e.source_out),
            rate.format(e.record_in),
            rate.format(e.record_out),
        );
        let _ = writeln!(out, "* FROM CLIP NAME: {}", e.clip_name);
        for c in &e.comments {
            let _ = writeln!(out, "* {c}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(fps: f64) -> Rate {
        Rate::new(fps).expect("a rate")
    }

    #[test]
    fn timecode_round_trips_at_common_rates() {
        for fps in [23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0] {
            let r = rate(fps);
            for tc in ["00:00:00:00", "01:00:00:00", "10:59:59:01", "23:59:59:00"] {
                let frames = r.parse(tc).expect("parses");
                assert_eq!(r.format(frames), tc, "{fps} fps");
            }
        }
    }

    #[test]
    fn timecode_counts_in_nominal_frames() {
        assert_eq!(rate(24.0).parse("01:00:00:00"), Ok(86_400));
        assert_eq!(rate(25.0).parse("00:00:01:24"), Ok(49));
        assert_eq!(rate(29.97).parse("00:01:00:00"), Ok(1800));
        assert_eq!(rate(29.97).format(1799), "00:00:59:29");
        assert_eq!(rate(24.0).format(24 * 3600 * 24 + 5), "00:00:00:05");
    }

    #[test]
    fn bad_timecodes_are_refused() {
        let r = rate(25.0);
        for tc in [
            "",
            "1:00:00",
            "01:00:00:25",
            "01:60:00:00",
            "24:00:00:00",
            "aa:bb:cc:dd",
            "001:00:00:00",
        ] {
            assert!(r.parse(tc).is_err(), "{tc:?}");
        }
        assert!(Rate::new(0.0).is_err());
        assert!(Rate::new(f64::NAN).is_err());
    }

    #[test]
    fn durations_use_the_real_rate() {
        assert_eq!(rate(24.0).frames(3.5), 84);
        assert_eq!(rate(29.97).frames(100.0), 2997);
        assert_eq!(rate(25.0).frames(0.02), 1);
    }

    #[test]
    fn event_lines_have_cmx_columns() {
        let r = rate(24.0);
        let text = write(
            "Test",
            r,
            &[Event {
                reel: reel_name("a reel name"),
                track: Track::Video,
                source_in: 0,
                source_out: 48,
                record_in: 86_400,
                record_out: 86_448,
                clip_name: "a.png".into(),
                comments: vec![],
            }],
        );
        assert_eq!(
            text,
            "TITLE: Test\nFCM: NON-DROP FRAME\n\n\
             001  a_reel_n V     C        00:00:00:00 00:00:02:00 01:00:00:00 01:00:02:00\n\
             * FROM CLIP NAME: a.png\n"
        );
    }
}
