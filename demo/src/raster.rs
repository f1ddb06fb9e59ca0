//! RGBA pictures in memory: what the demo functions paint, read and write as PNG.

use std::io::Cursor;

/// An sRGB colour without alpha.
pub(crate) type Rgb = [u8; 3];

/// Largest picture the demo functions read: more is not a demo any more.
const MAX_PIXELS: u64 = 40_000_000;

/// An 8-bit RGBA picture, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Raster {
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes.
    pub data: Vec<u8>,
}

impl Raster {
    /// A picture filled with one opaque colour.
    pub fn new(width: u32, height: u32, fill: Rgb) -> Raster {
        let mut data = Vec::with_capacity(width as usize * height as usize * 4);
        for _ in 0..(width as usize * height as usize) {
            data.extend_from_slice(&[fill[0], fill[1], fill[2], 255]);
        }
        Raster {
            width,
            height,
            data,
        }
    }

    fn index(&self, x: u32, y: u32) -> usize {
        (y as usize * self.width as usize + x as usize) * 4
    }

    /// The pixel at `(x, y)`; the caller keeps inside the picture.
    pub fn get(&self, x: u32, y: u32) -> [u8; 4] {
        let i = self.index(x, y);
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }

    /// Sets the pixel at `(x, y)`; the caller keeps inside the picture.
    pub fn put(&mut self, x: u32, y: u32, px: [u8; 4]) {
        let i = self.index(x, y);
        self.data[i..i + 4].copy_from_slice(&px);
    }

    /// Mixes `color` over the pixel at `(x, y)` with `alpha` (0..1); outside
    /// the picture nothing happens.
    pub fn blend(&mut self, x: i64, y: i64, color: Rgb, alpha: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let i = self.index(x as u32, y as u32);
        let a = alpha.clamp(0.0, 1.0);
        for (c, above) in color.iter().enumerate() {
            let below = f32::from(self.data[i + c]);
            self.data[i + c] = to_u8(below + (f32::from(*above) - below) * a);
        }
        let below = f32::from(self.data[i + 3]) / 255.0;
        self.data[i + 3] = to_u8((a + below * (1.0 - a)) * 255.0);
    }

    /// Fills a rectangle (clipped to the picture) with `color` at `alpha`.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: Rgb, alpha: f32) {
        let x0 = x.max(0);
        let y0 = y.max(0);
        let x1 = (x + w).min(i64::from(self.width));
        let y1 = (y + h).min(i64::from(self.height));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.blend(xx, yy, color, alpha);
            }
        }
    }

    /// Draws the outline of a rectangle `thickness` pixels wide, inside its bounds.
    pub fn stroke_rect(&mut self, x: i64, y: i64, w: i64, h: i64, thickness: i64, color: Rgb) {
        let t = thickness.max(1);
        self.fill_rect(x, y, w, t, color, 1.0);
        self.fill_rect(x, y + h - t, w, t, color, 1.0);
        self.fill_rect(x, y + t, t, h - 2 * t, color, 1.0);
        self.fill_rect(x + w - t, y + t, t, h - 2 * t, color, 1.0);
    }

    /// Fills a disc with soft (anti-aliased) edges.
    pub fn fill_circle(&mut self, cx: f32, cy: f32, r: f32, color: Rgb, alpha: f32) {
        let x0 = (cx - r - 1.0).floor() as i64;
        let x1 = (cx + r + 1.0).ceil() as i64;
        let y0 = (cy - r - 1.0).floor() as i64;
        let y1 = (cy + r + 1.0).ceil() as i64;
        for y in y0.max(0)..=y1.min(i64::from(self.height) - 1) {
            for x in x0.max(0)..=x1.min(i64::from(self.width) - 1) {
                let dx = x as f32 + 0.5 - cx;
                let dy = y as f32 + 0.5 - cy;
                let d = (dx * dx + dy * dy).sqrt();
                let cover = (r + 0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    self.blend(x, y, color, alpha * cover);
                }
            }
        }
    }

    /// Whether every pixel is fully opaque.
    pub fn is_opaque(&self) -> bool {
        self.data.chunks_exact(4).all(|p| p[3] == 255)
    }

    /// A copy of the region `(x, y, w, h)` (in source pixels, fractional)
    /// resampled bilinearly to `out_w × out_h`.
    pub fn resample_region(
        &self,
        region: (f32, f32, f32, f32),
        out_w: u32,
        out_h: u32,
        smooth: bool,
    ) -> Raster {
        let (rx, ry, rw, rh) = region;
        let mut out = Raster::new(out_w.max(1), out_h.max(1), [0, 0, 0]);
        if self.width == 0 || self.height == 0 {
            return out;
        }
        let max_x = (self.width - 1) as f32;
        let max_y = (self.height - 1) as f32;
        let sx = rw / out.width as f32;
        let sy = rh / out.height as f32;
        for y in 0..out.height {
            let fy = (ry + (y as f32 + 0.5) * sy - 0.5).clamp(0.0, max_y);
            for x in 0..out.width {
                let fx = (rx + (x as f32 + 0.5) * sx - 0.5).clamp(0.0, max_x);
                let px = if smooth {
                    self.sample_bilinear(fx, fy)
                } else {
                    self.get(fx.round() as u32, fy.round() as u32)
                };
                out.put(x, y, px);
            }
        }
        out
    }

    /// The whole picture resampled to `out_w × out_h`.
    pub fn resize(&self, out_w: u32, out_h: u32, smooth: bool) -> Raster {
        self.resample_region(
            (0.0, 0.0, self.width as f32, self.height as f32),
            out_w,
            out_h,
            smooth,
        )
    }

    /// The picture shrunk to `out_w × out_h` by averaging the source pixels
    /// under each output pixel (sharper and calmer than bilinear when
    /// shrinking a lot, e.g. for thumbnails).
    pub fn shrink(&self, out_w: u32, out_h: u32) -> Raster {
        let (out_w, out_h) = (out_w.max(1), out_h.max(1));
        if out_w >= self.width || out_h >= self.height {
            return self.resize(out_w, out_h, true);
        }
        let mut out = Raster::new(out_w, out_h, [0, 0, 0]);
        let span = |i: u32, n: u32, of: u32| {
            let a = (u64::from(i) * u64::from(of) / u64::from(n)) as u32;
            let b = ((u64::from(i) + 1) * u64::from(of) / u64::from(n)) as u32;
            (a, b.max(a + 1).min(of))
        };
        for y in 0..out_h {
            let (y0, y1) = span(y, out_h, self.height);
            for x in 0..out_w {
                let (x0, x1) = span(x, out_w, self.width);
                let mut sum = [0u32; 4];
                for sy in y0..y1 {
                    for sx in x0..x1 {
                        let p = self.get(sx, sy);
                        for c in 0..4 {
                            sum[c] += u32::from(p[c]);
                        }
                    }
                }
                let n = (y1 - y0) * (x1 - x0);
                out.put(x, y, sum.map(|s| ((s + n / 2) / n) as u8));
            }
        }
        out
    }

    /// The colour at a fractional position inside the picture.
    pub fn sample_bilinear(&self, fx: f32, fy: f32) -> [u8; 4] {
        let x0 = fx.floor() as u32;
        let y0 = fy.floor() as u32;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let tx = fx - x0 as f32;
        let ty = fy - y0 as f32;
        let (a, b, c, d) = (
            self.get(x0, y0),
            self.get(x1, y0),
            self.get(x0, y1),
            self.get(x1, y1),
        );
        let mut px = [0u8; 4];
        for i in 0..4 {
            let top = f32::from(a[i]) + (f32::from(b[i]) - f32::from(a[i])) * tx;
            let bottom = f32::from(c[i]) + (f32::from(d[i]) - f32::from(c[i])) * tx;
            px[i] = to_u8(top + (bottom - top) * ty);
        }
        px
    }

    /// Copies `src` onto this picture with its top-left corner at `(x, y)`.
    pub fn paste(&mut self, src: &Raster, x: i64, y: i64) {
        for sy in 0..src.height {
            let ty = y + i64::from(sy);
            if ty < 0 || ty >= i64::from(self.height) {
                continue;
            }
            for sx in 0..src.width {
                let tx = x + i64::from(sx);
                if tx < 0 || tx >= i64::from(self.width) {
                    continue;
                }
                let p = src.get(sx, sy);
                self.blend(tx, ty, [p[0], p[1], p[2]], f32::from(p[3]) / 255.0);
            }
        }
    }

    /// PNG bytes (RGB when every pixel is opaque, RGBA otherwise).
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let opaque = self.is_opaque();
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width, self.height);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let pixels: Vec<u8> = if opaque {
            encoder.set_color(png::ColorType::Rgb);
            self.data
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect()
        } else {
            encoder.set_color(png::ColorType::Rgba);
            self.data.clone()
        };
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// Decodes a PNG of any colour type and bit depth into RGBA.
    pub fn from_png(bytes: &[u8]) -> Result<Raster, String> {
        let mut decoder = png::Decoder::new(Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
        let (width, height) = {
            let info = reader.info();
            (info.width, info.height)
        };
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(format!(
                "{width}×{height} is too large for the demo functions"
            ));
        }
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| "the picture is too large to decode".to_owned())?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        let line = info.line_size;
        let mut out = Raster::new(info.width, info.height, [0, 0, 0]);
        for y in 0..info.height {
            let row = &buf[y as usize * line..];
            for x in 0..info.width {
                let xi = x as usize;
                let px = match info.color_type {
                    png::ColorType::Grayscale => [row[xi], row[xi], row[xi], 255],
                    png::ColorType::GrayscaleAlpha => {
                        let g = row[xi * 2];
                        [g, g, g, row[xi * 2 + 1]]
                    }
                    png::ColorType::Rgb => [row[xi * 3], row[xi * 3 + 1], row[xi * 3 + 2], 255],
                    png::ColorType::Rgba => [
                        row[xi * 4],
                        row[xi * 4 + 1],
                        row[xi * 4 + 2],
                        row[xi * 4 + 3],
                    ],
                    png::ColorType::Indexed => {
                        return Err("an indexed PNG was not expanded".to_owned());
                    }
                };
                out.put(x, y, px);
            }
        }
        Ok(out)
    }
}

/// Rounds and clamps to a byte.
pub(crate) fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// HSL (hue in degrees, saturation and lightness 0..1) to sRGB.
pub(crate) fn hsl(hue: f32, saturation: f32, lightness: f32) -> Rgb {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    [
        to_u8((r + m) * 255.0),
        to_u8((g + m) * 255.0),
        to_u8((b + m) * 255.0),
    ]
}

/// Linear mix of two colours, `t` from 0 (`a`) to 1 (`b`).
pub(crate) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    [
        to_u8(f32::from(a[0]) + (f32::from(b[0]) - f32::from(a[0])) * t),
        to_u8(f32::from(a[1]) + (f32::from(b[1]) - f32::from(a[1])) * t),
        to_u8(f32::from(a[2]) + (f32::from(b[2]) - f32::from(a[2])) * t),
    ]
}

/// A small deterministic random source (SplitMix64): the same seed paints
/// the same picture on every machine.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float in `0..1`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A float in `lo..hi`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_rgb_and_rgba() {
        let mut r = Raster::new(5, 3, [10, 20, 30]);
        r.put(4, 2, [200, 100, 50, 255]);
        let back = Raster::from_png(&r.to_png().expect("encodes")).expect("decodes");
        assert_eq!(back, r);
        r.put(0, 0, [1, 2, 3, 128]);
        let back = Raster::from_png(&r.to_png().expect("encodes")).expect("decodes");
        assert_eq!(back, r);
    }

    #[test]
    fn garbage_is_not_a_png() {
        assert!(Raster::from_png(b"not a png at all").is_err());
    }

    #[test]
    fn resize_keeps_a_flat_colour_and_the_size_asked_for() {
        let r = Raster::new(7, 5, [40, 80, 120]);
        let big = r.resize(21, 15, true);
        assert_eq!((big.width, big.height), (21, 15));
        assert!(big.data.chunks_exact(4).all(|p| p == [40, 80, 120, 255]));
    }

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl(120.0, 1.0, 0.5), [0, 255, 0]);
        assert_eq!(hsl(240.0, 1.0, 0.5), [0, 0, 255]);
        assert_eq!(hsl(0.0, 0.0, 1.0), [255, 255, 255]);
    }
}
