//! Lettering with the public-domain 8×8 bitmap font, scaled up by whole pixels.

use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};

use super::raster::{Raster, Rgb};

/// Width and height of one glyph cell at scale 1.
pub(crate) const CELL: u32 = 8;

/// The bitmap of `c`: ASCII and Latin-1 as drawn by the font; a few common
/// typographic marks by their ASCII look-alikes; anything else as `?`.
pub(crate) fn glyph(c: char) -> [u8; 8] {
    let code = c as u32;
    match code {
        0..=127 => BASIC_LEGACY[code as usize],
        0xA0..=0xFF => LATIN_LEGACY[(code - 0xA0) as usize],
        _ => {
            let ascii = match c {
                '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
                '\u{2018}' | '\u{2019}' | '\u{201A}' => '\'',
                '\u{201C}' | '\u{201D}' | '\u{201E}' => '"',
                '\u{2026}' => '.',
                '\u{00D7}' => 'x',
                _ => '?',
            };
            BASIC_LEGACY[ascii as usize]
        }
    }
}

/// Pixel width of `text` at `scale`.
pub(crate) fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * CELL * scale
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a
/// `scale × scale` square. Returns the x just after the last glyph.
pub(crate) fn draw_text(r: &mut Raster, x: i64, y: i64, text: &str, scale: u32, color: Rgb) -> i64 {
    let s = i64::from(scale.max(1));
    let mut pen = x;
    for c in text.chars() {
        let bits = glyph(c);
        for (row, line) in bits.iter().enumerate() {
            for col in 0..8 {
                if line >> col & 1 == 1 {
                    r.fill_rect(pen + col * s, y + row as i64 * s, s, s, color, 1.0);
                }
            }
        }
        pen += 8 * s;
    }
    pen
}

/// Draws `text` over a dark drop shadow, so it reads on any picture.
pub(crate) fn draw_label(
    r: &mut Raster,
    x: i64,
    y: i64,
    text: &str,
    scale: u32,
    color: Rgb,
) -> i64 {
    let offset = i64::from(scale.max(1)).min(2);
    draw_text(r, x + offset, y + offset, text, scale, [0, 0, 0]);
    draw_text(r, x, y, text, scale, color)
}

/// Breaks `text` into lines of at most `width` characters at spaces; a word
/// longer than a line is cut.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while !word.is_empty() {
            let used = line.chars().count();
            if used == 0 {
                if word.len() <= width {
                    line.extend(word.drain(..));
                } else {
                    let rest = word.split_off(width);
                    lines.push(word.iter().collect());
                    word = rest;
                }
            } else if used + 1 + word.len() <= width {
                line.push(' ');
                line.extend(word.drain(..));
            } else {
                lines.push(std::mem::take(&mut line));
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// At most `max_lines` lines of `text` wrapped at `width`; the last one ends
/// in `...` when text was left out.
pub(crate) fn wrap_clipped(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines = wrap(text, width);
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            *last = clip(&format!("{last} ..."), width);
        }
    }
    lines
}

/// `text` cut to `width` characters, ending in `...` when it was longer.
pub(crate) fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let keep: String = text.chars().take(width.saturating_sub(3)).collect();
    format!("{}...", keep.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
        for line in wrap("the quick brown fox jumps over the lazy dog", 10) {
            assert!(line.chars().count() <= 10, "{line:?}");
        }
    }

    #[test]
    fn clipped_wrap_marks_what_was_left_out() {
        let lines = wrap_clipped("one two three four five six", 9, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with("..."), "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 9), "{lines:?}");
    }

    #[test]
    fn drawing_text_sets_pixels_and_advances() {
        let mut r = Raster::new(64, 16, [0, 0, 0]);
        let end = draw_text(&mut r, 0, 0, "AB", 2, [255, 255, 255]);
        assert_eq!(end, 32);
        let lit = r.data.chunks_exact(4).filter(|p| p[0] == 255).count();
        assert!(lit > 40, "only {lit} pixels lit");
        // 'A' is symmetric about its middle at scale 1 (columns 0..6).
        assert_eq!(glyph('A')[2], 0x33);
        assert_eq!(glyph('\u{2014}'), glyph('-'));
        assert_eq!(glyph('\u{4E2D}'), glyph('?'));
    }
}
