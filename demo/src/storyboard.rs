//! Storyboard frames: a sketch of the shot with its facts lettered on it.

use serde_json::{Map, Value, json};

use super::font::{self, CELL};
use super::raster::{Raster, Rgb, Rng, hsl, mix};

/// What a frame says about its shot, gathered from a shot record, the
/// `shots` context and `scene_info`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ShotInfo {
    pub node: Option<String>,
    pub label: Option<String>,
    pub number: Option<u64>,
    pub scene_node: Option<String>,
    pub scene_number: Option<u64>,
    pub heading: Option<String>,
    pub camera: Option<String>,
    pub movement: Option<String>,
    pub lens_mm: Option<f64>,
    pub duration: Option<f64>,
    pub dialogue: Option<String>,
}

fn text_of(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl ShotInfo {
    /// The facts in one shot record (a shot node's properties plus `node`,
    /// or a `shots` context entry, or the `shot` field of a descriptor).
    pub fn from_record(value: &Value) -> ShotInfo {
        let Some(o) = value.as_object() else {
            return ShotInfo::default();
        };
        // A bare input reference {node, port} says nothing but the node.
        let mut info = ShotInfo {
            node: text_of(o, "node"),
            label: text_of(o, "label"),
            number: o.get("number").and_then(Value::as_u64),
            camera: text_of(o, "camera"),
            movement: text_of(o, "movement"),
            lens_mm: o.get("lens_mm").and_then(Value::as_f64),
            duration: o.get("duration").and_then(Value::as_f64),
            dialogue: text_of(o, "dialogue"),
            heading: text_of(o, "heading"),
            scene_number: o.get("scene_number").and_then(Value::as_u64),
            ..ShotInfo::default()
        };
        match o.get("scene") {
            Some(Value::Object(scene)) => {
                info.scene_node = text_of(scene, "node");
                info.scene_number = info
                    .scene_number
                    .or_else(|| scene.get("number").and_then(Value::as_u64));
                info.heading = info.heading.or_else(|| text_of(scene, "heading"));
            }
            Some(Value::Number(n)) => info.scene_number = info.scene_number.or(n.as_u64()),
            Some(Value::String(s)) => info.scene_node = Some(s.clone()),
            _ => {}
        }
        info
    }

    /// Fills what `self` lacks from `other`.
    pub fn merge(mut self, other: ShotInfo) -> ShotInfo {
        self.node = self.node.or(other.node);
        self.label = self.label.or(other.label);
        self.number = self.number.or(other.number);
        self.scene_node = self.scene_node.or(other.scene_node);
        self.scene_number = self.scene_number.or(other.scene_number);
        self.heading = self.heading.or(other.heading);
        self.camera = self.camera.or(other.camera);
        self.movement = self.movement.or(other.movement);
        self.lens_mm = self.lens_mm.or(other.lens_mm);
        self.duration = self.duration.or(other.duration);
        self.dialogue = self.dialogue.or(other.dialogue);
        self
    }

    /// Fills the scene number and heading from `scene_info` entries
    /// (`{node, number, heading}`), matched by the scene's node id.
    pub fn with_scenes(mut self, scenes: Option<&Value>) -> ShotInfo {
        let (Some(scene_node), Some(Value::Array(scenes))) = (&self.scene_node, scenes) else {
            return self;
        };
        if let Some(scene) = scenes
            .iter()
            .filter_map(Value::as_object)
            .find(|s| s.get("node").and_then(Value::as_str) == Some(scene_node))
        {
            self.scene_number = self
                .scene_number
                .or_else(|| scene.get("number").and_then(Value::as_u64));
            self.heading = self.heading.or_else(|| text_of(scene, "heading"));
        }
        self
    }

    /// The shot for a task: its `shot` record merged with the `shots`
    /// context entry for the same node (or the only one), scenes resolved
    /// from `scene_info`.
    pub fn for_params(params: &Map<String, Value>) -> ShotInfo {
        let direct = params
            .get("shot")
            .map(ShotInfo::from_record)
            .unwrap_or_default();
        let context: Vec<ShotInfo> = match params.get("shots") {
            Some(Value::Array(items)) => items.iter().map(ShotInfo::from_record).collect(),
            _ => Vec::new(),
        };
        let matching = match &direct.node {
            Some(node) => context.iter().find(|c| c.node.as_deref() == Some(node)),
            None if context.len() == 1 => context.first(),
            None => None,
        };
        let info = match matching {
            Some(m) => direct.merge(m.clone()),
            None => direct,
        };
        info.with_scenes(params.get("scene_info"))
    }

    /// Whether anything is known about the shot.
    pub fn is_known(&self) -> bool {
        self.number.is_some() || self.camera.is_some() || self.node.is_some()
    }

    /// The short form carried in descriptors: `{node, number, scene, heading, duration, label}`.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                o.insert(k.to_owned(), v);
            }
        };
        put("node", json!(self.node));
        put("number", json!(self.number));
        put("scene", json!(self.scene_number));
        put("scene_node", json!(self.scene_node));
        put("heading", json!(self.heading));
        put("duration", json!(self.duration));
        put("label", json!(self.label));
        Value::Object(o)
    }

    /// `SC 3 / SHOT 2`, `SHOT 2` or `FRAME`.
    pub fn title(&self) -> String {
        match (self.scene_number, self.number) {
            (Some(sc), Some(n)) => format!("SC {sc} / SHOT {n}"),
            (None, Some(n)) => format!("SHOT {n}"),
            _ => self
                .label
                .clone()
                .map_or_else(|| "FRAME".to_owned(), |l| l.to_uppercase()),
        }
    }

    /// The file-name stem: `shot-03-02`, `shot-02` or `frame`.
    pub fn stem(&self) -> String {
        match (self.scene_number, self.number) {
            (Some(sc), Some(n)) => format!("shot-{sc:02}-{n:02}"),
            (None, Some(n)) => format!("shot-{n:02}"),
            _ => "frame".to_owned(),
        }
    }
}

/// Everything lettered on a frame besides the shot.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameText {
    pub prompt: String,
    pub trigger_words: Vec<String>,
    /// `(file stem, weight)` of each LoRA.
    pub loras: Vec<(String, f64)>,
    pub quality: String,
    pub footer: String,
}

/// How the light of a frame looks, from words in the prompt.
fn palette(prompt: &str, rng: &mut Rng) -> (Rgb, Rgb, Rgb, Rgb) {
    let p = prompt.to_lowercase();
    let jitter = rng.range(-15.0, 15.0);
    let base = rng.range(0.0, 360.0);
    let has = |words: &[&str]| words.iter().any(|w| p.contains(w));
    // Time of day first: "dark hair" must not make a dawn shot night.
    let (top, bottom, light) = if has(&["dawn", "sunrise", "morning"]) {
        (
            hsl(205.0 + jitter, 0.40, 0.38),
            hsl(35.0 + jitter, 0.75, 0.68),
            [255, 240, 200],
        )
    } else if has(&["dusk", "sunset", "evening", "twilight"]) {
        (
            hsl(250.0 + jitter, 0.40, 0.20),
            hsl(22.0 + jitter, 0.70, 0.52),
            [255, 214, 150],
        )
    } else if has(&["night", "storm", "moon"]) {
        (
            hsl(220.0 + jitter, 0.45, 0.08),
            hsl(205.0 + jitter, 0.35, 0.24),
            [225, 232, 255],
        )
    } else if has(&["amber", "lamp", "candle", "flame", "fire"]) {
        (
            hsl(25.0 + jitter, 0.35, 0.10),
            hsl(35.0 + jitter, 0.65, 0.42),
            [255, 205, 120],
        )
    } else if has(&["pure black", "on black"]) {
        ([8, 8, 10], [30, 30, 34], [200, 200, 200])
    } else {
        (
            hsl(base, 0.40, 0.30),
            hsl(base + 25.0, 0.45, 0.60),
            [255, 236, 190],
        )
    };
    let ground = hsl(base + 160.0, 0.22, 0.11);
    (top, bottom, ground, light)
}

/// How tall a figure stands, as a share of the frame height, by framing.
fn figure_size(camera: &str) -> Option<f32> {
    Some(match camera {
        "aerial" => 0.07,
        "extreme_wide" => 0.12,
        "wide" => 0.26,
        "full" => 0.7,
        "medium_wide" => 0.8,
        "medium" => 1.05,
        "over_the_shoulder" => 1.1,
        "medium_close_up" => 1.3,
        "close_up" => 1.7,
        "extreme_close_up" => 2.6,
        // An insert shows a thing, a point of view what someone sees.
        "insert" | "pov" => return None,
        _ => 1.0,
    })
}

/// A head-and-shoulders silhouette: `size` is its full height, `(cx, bottom)`
/// the middle of its base.
fn figure(r: &mut Raster, cx: f32, bottom: f32, size: f32, color: Rgb) {
    let top = bottom - size;
    let head_r = size * 0.11;
    r.fill_circle(cx, top + head_r * 1.1, head_r, color, 0.94);
    let neck = top + head_r * 2.0;
    let y0 = neck.max(0.0) as i64;
    let y1 = (bottom.min(r.height as f32)) as i64;
    for y in y0..y1 {
        let t = ((y as f32 - neck) / (size * 0.12)).clamp(0.0, 1.0);
        let half = size * (0.05 + 0.17 * t.sqrt());
        let x0 = (cx - half).round() as i64;
        r.fill_rect(x0, y, (2.0 * half).round() as i64, 1, color, 0.94);
    }
}

/// Paints a storyboard frame of `width × height`.
pub(crate) fn paint(
    width: u32,
    height: u32,
    seed: u64,
    shot: &ShotInfo,
    text: &FrameText,
) -> Raster {
    let mut rng = Rng::new(seed);
    let (top, bottom, ground, light) = palette(&text.prompt, &mut rng);
    let mut r = Raster::new(width, height, top);
    let (w, h) = (width as f32, height as f32);

    // Sky.
    for y in 0..height {
        let c = mix(top, bottom, y as f32 / (h * 0.7));
        for x in 0..width {
            r.put(x, y, [c[0], c[1], c[2], 255]);
        }
    }
    // A light: sun, moon or lamp, with a glow.
    let (lx, ly) = (rng.range(0.15, 0.85) * w, rng.range(0.18, 0.42) * h);
    for (scale, alpha) in [(4.0, 0.08), (2.5, 0.12), (1.6, 0.2), (1.0, 0.95)] {
        r.fill_circle(lx, ly, h * 0.05 * scale, light, alpha);
    }
    // Far and near land.
    let horizon = h * rng.range(0.58, 0.68);
    let far = mix(ground, bottom, 0.55);
    for (base, amp, color) in [
        (horizon - h * 0.06, h * 0.05, far),
        (horizon, h * 0.07, ground),
    ] {
        let (f1, f2) = (rng.range(1.0, 3.0), rng.range(3.0, 7.0));
        let (p1, p2) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
        for x in 0..width {
            let t = x as f32 / w * std::f32::consts::TAU;
            let y = base + amp * (0.6 * (t * f1 + p1).sin() + 0.4 * (t * f2 + p2).sin());
            let y0 = y.max(0.0) as u32;
            for yy in y0..height {
                let shade = mix(color, [0, 0, 0], (yy as f32 - y) / h);
                r.put(x, yy, [shade[0], shade[1], shade[2], 255]);
            }
        }
    }
    // The cast, sized by framing.
    let camera = shot.camera.as_deref().unwrap_or("medium");
    let people = text.trigger_words.len().min(3);
    if let Some(size) = figure_size(camera) {
        let size = size * h;
        let dark = mix(ground, [0, 0, 0], 0.6);
        for i in 0..people {
            let (cx, s) = if camera == "over_the_shoulder" && people > 1 && i == 0 {
                (w * 0.18, size * 1.25)
            } else {
                (w * (i as f32 + 1.0) / (people as f32 + 1.0), size)
            };
            let bottom = if s < h * 0.5 {
                horizon + s * 0.35
            } else {
                h + s * 0.1
            };
            figure(&mut r, cx, bottom, s, dark);
        }
    }
    // Rule-of-thirds guides and the frame line.
    for i in 1..3 {
        r.fill_rect(
            (w * i as f32 / 3.0) as i64,
            0,
            1,
            i64::from(height),
            [255, 255, 255],
            0.12,
        );
        r.fill_rect(
            0,
            (h * i as f32 / 3.0) as i64,
            i64::from(width),
            1,
            [255, 255, 255],
            0.12,
        );
    }
    letter(&mut r, shot, text);
    r
}

/// The lettering: header band, shot facts, prompt panel, footer.
fn letter(r: &mut Raster, shot: &ShotInfo, text: &FrameText) {
    let (width, height) = (i64::from(r.width), i64::from(r.height));
    let s: u32 = if r.width >= 560 { 2 } else { 1 };
    let big = s + 1;
    let cell = i64::from(CELL * s);
    let margin = cell;
    let white = [245, 245, 240];
    let amber = [255, 200, 90];
    let cols = ((width - 2 * margin) / cell).max(8) as usize;

    // Header band.
    let heading = shot
        .heading
        .as_deref()
        .map(|h| font::clip(h, cols.saturating_sub(6)));
    let band = i64::from(CELL * big) + 12 + if heading.is_some() { cell + 6 } else { 0 };
    r.fill_rect(0, 0, width, band, [0, 0, 0], 0.6);
    font::draw_label(r, margin, 6, &shot.title(), big, white);
    if let Some(heading) = &heading {
        font::draw_label(r, margin, 6 + i64::from(CELL * big) + 6, heading, s, amber);
    }
    let badge = font::text_width("DEMO", s) as i64 + 2 * i64::from(s) * 3;
    let bx = width - margin - badge;
    r.fill_rect(bx, 6, badge, cell + 8, [200, 30, 40], 0.95);
    font::draw_text(r, bx + i64::from(s) * 3, 10, "DEMO", s, white);

    // Shot facts.
    let mut y = band + 8;
    let line = cell + 4;
    let mut facts = Vec::new();
    if let Some(c) = &shot.camera {
        facts.push(c.replace('_', " ").to_uppercase());
    }
    if let Some(l) = shot.lens_mm {
        facts.push(format!("{l}MM"));
    }
    if let Some(m) = &shot.movement {
        facts.push(m.replace('_', " ").to_uppercase());
    }
    if let Some(d) = shot.duration {
        facts.push(format!("{d:.1}S"));
    }
    if !facts.is_empty() {
        font::draw_label(
            r,
            margin,
            y,
            &font::clip(&facts.join(" | "), cols),
            s,
            white,
        );
        y += line;
    }
    if !text.trigger_words.is_empty() {
        let cast = format!("CAST: {}", text.trigger_words.join(", "));
        font::draw_label(r, margin, y, &font::clip(&cast, cols), s, amber);
        y += line;
    }
    if !text.loras.is_empty() {
        let loras: Vec<String> = text
            .loras
            .iter()
            .map(|(name, weight)| format!("{name} @{weight:.2}"))
            .collect();
        let small_cols = ((width - 2 * margin) / i64::from(CELL)).max(8) as usize;
        let loras = font::clip(&format!("LORA {}", loras.join(", ")), small_cols);
        font::draw_label(r, margin, y, &loras, 1, [200, 210, 220]);
        y += i64::from(CELL) + 4;
    }
    if let Some(d) = &shot.dialogue {
        font::draw_label(
            r,
            margin,
            y,
            &font::clip(&format!("\"{d}\""), cols),
            s,
            [190, 230, 255],
        );
    }

    // Prompt panel and footer.
    let prompt = strip_leading(&text.prompt, &text.trigger_words);
    let max_lines = ((height / 4) / line).clamp(1, 5) as usize;
    let lines = font::wrap_clipped(&prompt, cols, max_lines);
    let footer_h = i64::from(CELL) + 8;
    let panel = lines.len() as i64 * line + footer_h + 10;
    r.fill_rect(0, height - panel, width, panel, [0, 0, 0], 0.62);
    let mut y = height - panel + 6;
    for l in &lines {
        font::draw_text(r, margin, y, l, s, white);
        y += line;
    }
    let footer = font::clip(
        &format!("{} | {}", text.quality.to_uppercase(), text.footer),
        ((width - 2 * margin) / i64::from(CELL)).max(8) as usize,
    );
    font::draw_text(r, margin, height - footer_h, &footer, 1, [170, 175, 180]);

    // Frame line.
    r.stroke_rect(3, 3, width - 6, height - 6, 2, [230, 230, 225]);
}

/// `prompt` without the trigger words it starts with (they are on the CAST line).
fn strip_leading(prompt: &str, words: &[String]) -> String {
    let mut rest = prompt.trim();
    loop {
        let before = rest;
        for w in words {
            if let Some(r) = rest.strip_prefix(w.as_str()) {
                rest = r.trim_start_matches([',', ' ']);
            }
        }
        if rest == before {
            return rest.to_owned();
        }
    }
}

/// The words a title-card prompt asks for: `the words THE LAST LIGHTHOUSE in ...`.
pub(crate) fn title_words(prompt: &str) -> Option<String> {
    // ASCII lowercasing keeps byte offsets valid in `prompt`.
    let lower = prompt.to_ascii_lowercase();
    let at = lower.find("the words ")? + "the words ".len();
    let words: String = prompt[at..]
        .chars()
        .take_while(|c| {
            c.is_uppercase()
                || c.is_ascii_digit()
                || matches!(c, ' ' | '\'' | '-' | '!' | '?' | '.' | ':')
        })
        .collect();
    let words = words.trim();
    (words.chars().filter(|c| c.is_alphabetic()).count() >= 2).then(|| words.to_owned())
}

/// A title card: the words in large letters, centred on black.
pub(crate) fn paint_title(width: u32, height: u32, words: &str, quality: &str) -> Raster {
    let mut r = Raster::new(width, height, [4, 4, 6]);
    let lines = font::wrap(words, 18);
    let longest = lines
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1)
        .max(1) as u32;
    let scale = (width * 8 / 10 / (longest * CELL))
        .min(height * 6 / 10 / (lines.len().max(1) as u32 * CELL * 3 / 2))
        .clamp(1, 12);
    let line_h = i64::from(CELL * scale * 3 / 2);
    let total = line_h * lines.len() as i64;
    let mut y = (i64::from(height) - total) / 2;
    for l in &lines {
        let x = (i64::from(width) - i64::from(font::text_width(l, scale))) / 2;
        font::draw_text(&mut r, x, y, l, scale, [236, 236, 230]);
        y += line_h;
    }
    let note = format!("DEMO TITLE CARD | {}", quality.to_uppercase());
    font::draw_text(&mut r, 8, i64::from(height) - 14, &note, 1, [110, 110, 110]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shot_info_merges_record_context_and_scenes() {
        let params = json!({
            "shot": {"node": "shot_3b", "type": "shot", "number": 2, "camera": "close_up",
                     "lens_mm": 85, "duration": 6.0, "dialogue": "Not tonight."},
            "shots": [{"node": "shot_3b", "number": 2, "movement": "static",
                       "scene": {"node": "scene_3", "port": "scene"}}],
            "scene_info": [{"node": "scene_3", "number": 3, "heading": "INT. LANTERN ROOM - NIGHT"}],
        });
        let info = ShotInfo::for_params(params.as_object().expect("object"));
        assert_eq!(info.title(), "SC 3 / SHOT 2");
        assert_eq!(info.stem(), "shot-03-02");
        assert_eq!(info.heading.as_deref(), Some("INT. LANTERN ROOM - NIGHT"));
        assert_eq!(info.movement.as_deref(), Some("static"));
        assert_eq!(info.dialogue.as_deref(), Some("Not tonight."));
        assert_eq!(ShotInfo::for_params(&Map::new()).stem(), "frame");
    }

    #[test]
    fn leading_trigger_words_are_stripped_once_listed() {
        let words = vec!["nora_vance".to_owned(), "elias_marr".to_owned()];
        assert_eq!(
            strip_leading("nora_vance, elias_marr, two figures", &words),
            "two figures"
        );
        assert_eq!(
            strip_leading("a beacon, nora_vance", &words),
            "a beacon, nora_vance"
        );
    }

    #[test]
    fn title_words_are_found() {
        assert_eq!(
            title_words("the words THE LAST LIGHTHOUSE in weathered serif capitals").as_deref(),
            Some("THE LAST LIGHTHOUSE")
        );
        assert_eq!(title_words("a lighthouse at dusk"), None);
    }

    #[test]
    fn frames_are_deterministic_and_lettered() {
        let shot = ShotInfo {
            number: Some(1),
            camera: Some("wide".into()),
            ..ShotInfo::default()
        };
        let text = FrameText {
            prompt: "a lighthouse at dusk".into(),
            trigger_words: vec!["nora_vance".into()],
            quality: "draft".into(),
            ..FrameText::default()
        };
        let a = paint(320, 180, 7, &shot, &text);
        assert_eq!(a, paint(320, 180, 7, &shot, &text));
        assert_ne!(a, paint(320, 180, 8, &shot, &text));
        // Same light (same keywords, same seed), different words: only the
        // lettering differs, and it differs in many pixels.
        let other = FrameText {
            prompt: "a lighthouse at dusk, waves below".into(),
            ..text.clone()
        };
        let b = paint(320, 180, 7, &shot, &other);
        let changed = a
            .data
            .chunks_exact(4)
            .zip(b.data.chunks_exact(4))
            .filter(|(p, q)| p != q)
            .count();
        assert!(changed > 50, "only {changed} pixels differ");
    }
}
