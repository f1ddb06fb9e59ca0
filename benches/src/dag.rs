//! The generated canvas: node kinds, the plan (nodes in insertion order, each
//! followed by its incoming edges), and the ops and canvas made from it.

use std::time::Instant;

use reelgraph::{Canvas, Catalog, Op};
use serde_json::{Value, json};

use crate::timing::BatchTiming;

/// A node kind of the generated canvas (one built-in node type each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Act,
    Character,
    Voice,
    Location,
    Style,
    Prop,
    Scene,
    Shot,
    Prompt,
    ImageGen,
    AudioGen,
    VideoGen,
    Effect,
    Upscale,
    Composite,
    CombineAudio,
    Edit,
    Export,
}

impl Kind {
    /// The built-in node type.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Act => "act",
            Kind::Character => "character",
            Kind::Voice => "voice",
            Kind::Location => "location",
            Kind::Style => "style",
            Kind::Prop => "prop",
            Kind::Scene => "scene",
            Kind::Shot => "shot",
            Kind::Prompt => "prompt",
            Kind::ImageGen => "image_gen",
            Kind::AudioGen => "audio_gen",
            Kind::VideoGen => "video_gen",
            Kind::Effect => "effect",
            Kind::Upscale => "upscale",
            Kind::Composite => "composite",
            Kind::CombineAudio => "combine_audio",
            Kind::Edit => "edit",
            Kind::Export => "export",
        }
    }

    /// The node type's one output port.
    pub fn output(self) -> &'static str {
        match self {
            Kind::Act => "act",
            Kind::Character => "character",
            Kind::Voice => "voice",
            Kind::Location => "location",
            Kind::Style => "style",
            Kind::Prop => "prop",
            Kind::Scene => "scene",
            Kind::Shot => "shot",
            Kind::Prompt => "prompt",
            Kind::ImageGen | Kind::Upscale | Kind::Composite => "image",
            Kind::AudioGen | Kind::CombineAudio => "audio",
            Kind::VideoGen | Kind::Export => "video",
            Kind::Effect => "media",
            Kind::Edit => "edl",
        }
    }

    /// The layer in the module docs' table.
    pub fn layer(self) -> u8 {
        match self {
            Kind::Act | Kind::Character | Kind::Voice | Kind::Location | Kind::Style => 0,
            Kind::Prop => 0,
            Kind::Scene => 1,
            Kind::Shot => 2,
            Kind::Prompt => 3,
            Kind::ImageGen | Kind::AudioGen => 4,
            Kind::VideoGen => 5,
            Kind::Effect => 6,
            Kind::Upscale => 7,
            Kind::Composite => 8,
            Kind::CombineAudio | Kind::Edit => 9,
            Kind::Export => 10,
        }
    }

    /// Whether the output carries an image (and so may feed `image_gen.reference`).
    pub fn outputs_image(self) -> bool {
        matches!(
            self,
            Kind::ImageGen | Kind::Effect | Kind::Upscale | Kind::Composite
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanNode {
    pub(crate) kind: Kind,
    /// 1-based number within its kind; the node id is `{type}_{serial}`.
    pub(crate) serial: u32,
    /// Index of the node's first incoming edge in `Dag::edges`.
    pub(crate) first_edge: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanEdge {
    pub(crate) source: u32,
    pub(crate) target: u32,
    pub(crate) port: &'static str,
}

/// A planned canvas: nodes in insertion order, each followed by its incoming edges.
#[derive(Debug, Clone)]
pub struct Dag {
    pub(crate) seed: u64,
    pub(crate) nodes: Vec<PlanNode>,
    pub(crate) edges: Vec<PlanEdge>,
}

impl Dag {
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Add-node ops plus connect ops.
    pub fn op_count(&self) -> usize {
        self.nodes.len() + self.edges.len()
    }

    pub fn kind(&self, node: usize) -> Kind {
        self.nodes[node].kind
    }

    /// The canvas id of a node: `{type}_{serial}`.
    pub fn id(&self, node: usize) -> String {
        let n = &self.nodes[node];
        format!("{}_{}", n.kind.type_name(), n.serial)
    }

    pub(crate) fn incoming(&self, node: usize) -> std::ops::Range<usize> {
        let start = self.nodes[node].first_edge as usize;
        let end = self
            .nodes
            .get(node + 1)
            .map_or(self.edges.len(), |n| n.first_edge as usize);
        start..end
    }

    /// Every op in build order: each node, then its incoming edges.
    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        (0..self.nodes.len()).flat_map(move |i| {
            std::iter::once(self.add_op(i)).chain(self.incoming(i).map(|e| self.connect_op(e)))
        })
    }

    /// The ops in batches of `size`.
    pub fn batches(&self, size: usize) -> impl Iterator<Item = Vec<Op>> + '_ {
        let mut ops = self.ops();
        std::iter::from_fn(move || {
            let batch: Vec<Op> = ops.by_ref().take(size).collect();
            (!batch.is_empty()).then_some(batch)
        })
    }

    /// Builds the canvas through `Canvas::apply`, `batch` ops per apply.
    pub fn build(&self, catalog: &Catalog, batch: usize) -> Canvas {
        self.build_timed(catalog, batch).0
    }

    /// Like [`Dag::build`], also timing each apply (op materialisation is not timed).
    pub fn build_timed(&self, catalog: &Catalog, batch: usize) -> (Canvas, Vec<BatchTiming>) {
        let mut canvas = Canvas::new(catalog.clone(), "bench", "Benchmark canvas");
        let mut timings = Vec::with_capacity(self.op_count() / batch + 1);
        for (n, ops) in self.batches(batch).enumerate() {
            let count = ops.len();
            let start = Instant::now();
            let result = canvas.apply(ops);
            let elapsed = start.elapsed();
            if let Err(e) = result {
                panic!("batch {n} was rejected: {e} ({})", e.details());
            }
            timings.push(BatchTiming {
                ops: count,
                elapsed,
            });
        }
        (canvas, timings)
    }

    /// The add_node op of one node.
    pub fn add_op(&self, node: usize) -> Op {
        let n = self.nodes[node];
        Op::add_node(&self.id(node), n.kind.type_name(), self.properties(node))
    }

    /// The connect op of one edge (edges are numbered in build order).
    pub fn connect_op(&self, edge: usize) -> Op {
        let e = self.edges[edge];
        let source = self.id(e.source as usize);
        let target = self.id(e.target as usize);
        let out = self.nodes[e.source as usize].kind.output();
        Op::connect((&source, out), (&target, e.port))
    }

    /// Typical property values, varied by a hash of the node index.
    fn properties(&self, node: usize) -> Value {
        let n = self.nodes[node];
        let h = mix(self.seed ^ (node as u64).wrapping_mul(0x9E37_79B9));
        let s = n.serial;
        let choose = |shift: u32, options: &[&'static str]| -> &'static str {
            options[(h.rotate_right(shift) % options.len() as u64) as usize]
        };
        let count = |port: &str| {
            self.incoming(node)
                .filter(|&e| self.edges[e].port == port)
                .count()
        };
        match n.kind {
            Kind::Act => json!({"number": s, "title": format!("Act {s}")}),
            Kind::Character => json!({
                "name": format!("Character {s}"),
                "description": words(h, 8),
                "lora": format!("loras/character_{s}.safetensors"),
                "lora_weight": 0.6 + (h % 5) as f64 / 10.0,
                "trigger_word": format!("chr{s}"),
            }),
            Kind::Voice => json!({
                "name": format!("Character {s}"),
                "voice_id": format!("vx-{:08x}", h as u32),
                "speed": 1.0,
            }),
            Kind::Location => json!({
                "name": format!("Location {s}"),
                "description": words(h, 10),
                "interior": h & 1 == 0,
                "time_of_day": choose(3, &["dawn", "morning", "day", "afternoon", "golden_hour", "dusk", "evening", "night"]),
            }),
            Kind::Style => json!({
                "name": format!("Look {s}"),
                "prompt": words(h, 8),
                "negative_prompt": "blurry, low quality, watermark",
            }),
            Kind::Prop => json!({"name": format!("Prop {s}"), "description": words(h, 6)}),
            Kind::Scene => json!({
                "number": s,
                "heading": format!("{} LOCATION {} - {}", choose(1, &["INT.", "EXT."]), h % 997, choose(7, &["DAY", "NIGHT"])),
                "time_of_day": choose(9, &["day", "night", "dawn", "dusk", "morning", "afternoon", "evening"]),
            }),
            Kind::Shot => {
                let mut v = json!({
                    "number": s,
                    "camera": choose(2, &["extreme_wide", "wide", "full", "medium_wide", "medium", "medium_close_up", "close_up", "extreme_close_up", "over_the_shoulder", "insert", "pov", "aerial"]),
                    "movement": choose(7, &["static", "pan", "tilt", "dolly", "handheld", "steadicam"]),
                    "lens_mm": ([24, 35, 50, 85][(h >> 11) as usize % 4]),
                    "duration": 2.0 + (h % 40) as f64 / 10.0,
                    "prompt": words(h, 12),
                });
                if h % 10 < 3 {
                    v["dialogue"] = Value::String(words(h >> 5, 9));
                }
                v
            }
            Kind::Prompt => json!({"text": words(h, 10), "negative_text": "text, logo"}),
            Kind::ImageGen => json!({
                "seed": h as u32,
                "width": 1344,
                "height": 768,
                "sampler": choose(4, &["euler", "dpmpp_2m", "dpmpp_2m_sde"]),
            }),
            Kind::AudioGen => json!({
                "mode": "tts",
                "text": words(h, 8),
                "emotion": choose(5, &["neutral", "happy", "sad", "angry", "whisper"]),
            }),
            Kind::VideoGen => json!({
                "seed": (h >> 8) as u32,
                "duration": 2.0 + (h % 40) as f64 / 10.0,
                "motion_strength": 0.3 + (h % 6) as f64 / 10.0,
            }),
            Kind::Effect => match h % 5 {
                0 => json!({"effect": "blur", "radius": 2.0 + (h % 9) as f64}),
                1 => json!({"effect": "color", "saturation": 1.1, "contrast": 1.05}),
                2 => json!({"effect": "filter", "filter": "film_grain", "intensity": 0.4}),
                3 => json!({"effect": "sharpen", "amount": 0.8}),
                _ => json!({"effect": "denoise", "strength": 0.3}),
            },
            Kind::Upscale => {
                json!({"factor": ([2, 4][(h >> 3) as usize % 2]), "model": "realesrgan_x4plus"})
            }
            Kind::Composite => {
                let layers: Vec<Value> = (0..count("layers"))
                    .map(|i| {
                        json!({
                            "input_index": i,
                            "opacity": 0.5 + (h.rotate_right(i as u32) % 6) as f64 / 10.0,
                            "blend_mode": choose(6 + i as u32, &["normal", "screen", "overlay", "multiply"]),
                        })
                    })
                    .collect();
                json!({"width": 1920, "height": 1080, "layers": layers})
            }
            Kind::CombineAudio => {
                let tracks: Vec<Value> = (0..count("tracks"))
                    .map(|i| json!({"input_index": i, "gain_db": -3.0}))
                    .collect();
                json!({"normalize": true, "tracks": tracks})
            }
            Kind::Edit => json!({"title": format!("Scene {s} cut"), "fps": 24.0}),
            Kind::Export => json!({
                "path": format!("renders/scene_{s}.mp4"),
                "format": "mp4",
                "resolution": "1080p",
            }),
        }
    }
}

/// splitmix64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const WORDS: [&str; 32] = [
    "cinematic",
    "rain",
    "neon",
    "alley",
    "close",
    "portrait",
    "soft",
    "light",
    "golden",
    "hour",
    "fog",
    "harbor",
    "night",
    "window",
    "reflection",
    "wide",
    "desert",
    "road",
    "dust",
    "storm",
    "candle",
    "kitchen",
    "quiet",
    "morning",
    "crowd",
    "market",
    "red",
    "coat",
    "silhouette",
    "rooftop",
    "city",
    "skyline",
];

/// `n` words chosen by the bits of `h`.
fn words(h: u64, n: usize) -> String {
    let mut z = h;
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        z = mix(z);
        out.push_str(WORDS[(z % 32) as usize]);
    }
    out
}
