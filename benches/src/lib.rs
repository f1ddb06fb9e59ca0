//! Shared helpers for the reelgraph benchmarks: a deterministic generator of
//! large, valid production canvases.
//!
//! [`Dag::generate`] plans a layered random DAG of built-in node types with an
//! exact number of nodes and edges, scene by scene, the way a canvas grows in
//! an editor:
//!
//! ```text
//! layer 0  act, character (+ its voice), location, style, prop
//! layer 1  scene            <- act
//! layer 2  shot             <- scene, location, style, characters (1-4), props (0-3)
//! layer 3  prompt (25 %)    <- shot, style
//! layer 4  image_gen        <- shot, prompt?, reference? (previous shot's image, 10 %)
//!          audio_gen (50 %) <- voice, shot
//! layer 5  video_gen        <- image_gen.image, shot
//! layer 6  effect           <- video_gen.video
//! layer 7  upscale (50 %)   <- effect.media
//! layer 8  composite        <- background (upscale or effect), layers (random
//!                              image/video outputs, half from the same scene,
//!                              half from anywhere earlier in the canvas)
//! layer 9  combine_audio    <- the scene's audio_gen tracks
//!          edit             <- the scene's composites (clips), combine_audio (audio), shots
//! layer 10 export           <- edit.edl
//! ```
//!
//! Every edge is type-correct, single inputs get one edge, every required
//! property and input is set, so the canvas validates with no diagnostics.
//! The edges above are the structural ones; the rest of the edge budget goes
//! to the `multiple` inputs `composite.layers`, `shot.characters`, `shot.props`
//! and `edit.shots`. Nodes are added in scene order and each node's incoming
//! edges right after it, so every edge points forward in insertion order and
//! the canvas's topological positions equal the node indexes used here.
//!
//! The plan is compact (a few bytes per node and edge); ops are materialised on
//! demand, so a process holding the plan holds little beyond the canvas.
//!
//! ```
//! use reelgraph::Catalog;
//! use reelgraph_benches::Dag;
//!
//! let dag = Dag::generate(2_000, 4_000, 7);
//! let canvas = dag.build(&Catalog::builtin(), 1_000);
//! assert_eq!((canvas.node_count(), canvas.edge_count()), (2_000, 4_000));
//! assert!(canvas.validate().diagnostics.is_empty());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reelgraph::{Canvas, Catalog, Op, PortRef};
use serde_json::{Value, json};

/// The seed every benchmark uses.
pub const SEED: u64 = 0x5EED_F11A;
/// Ops per `apply` when building.
pub const BATCH: usize = 1_000;

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
struct PlanNode {
    kind: Kind,
    /// 1-based number within its kind; the node id is `{type}_{serial}`.
    serial: u32,
    /// Index of the node's first incoming edge in `Dag::edges`.
    first_edge: u32,
}

#[derive(Debug, Clone, Copy)]
struct PlanEdge {
    source: u32,
    target: u32,
    port: &'static str,
}

/// A planned canvas: nodes in insertion order, each followed by its incoming edges.
#[derive(Debug, Clone)]
pub struct Dag {
    seed: u64,
    nodes: Vec<PlanNode>,
    edges: Vec<PlanEdge>,
}

#[derive(Debug, Default)]
struct ShotPlan {
    prompt: bool,
    audio: bool,
    upscale: bool,
    reference: bool,
    extra_characters: u32,
    extra_props: u32,
    extra_layers: u32,
}

#[derive(Debug, Default)]
struct ScenePlan {
    new_act: bool,
    new_characters: u32,
    new_location: bool,
    new_props: u32,
    new_style: bool,
    shots: Vec<ShotPlan>,
    extra_edit_shots: u32,
}

impl ScenePlan {
    fn random(rng: &mut SmallRng, index: usize) -> Self {
        let shots = (0..rng.random_range(4..=12))
            .map(|j| ShotPlan {
                prompt: rng.random_bool(0.25),
                // The scene's combine_audio needs at least one track.
                audio: j == 0 || rng.random_bool(0.5),
                upscale: rng.random_bool(0.5),
                reference: j > 0 && rng.random_bool(0.1),
                ..ShotPlan::default()
            })
            .collect();
        ScenePlan {
            new_act: index > 0 && index.is_multiple_of(20),
            new_characters: rng.random_range(0..=2),
            new_location: rng.random_bool(0.5),
            new_props: rng.random_range(0..=2),
            new_style: rng.random_bool(0.05),
            shots,
            extra_edit_shots: 0,
        }
    }

    fn node_count(&self) -> usize {
        let assets = usize::from(self.new_act)
            + 2 * self.new_characters as usize
            + usize::from(self.new_location)
            + self.new_props as usize
            + usize::from(self.new_style);
        let shots: usize = self
            .shots
            .iter()
            .map(|s| 5 + usize::from(s.prompt) + usize::from(s.audio) + usize::from(s.upscale))
            .sum();
        // scene, combine_audio, edit, export
        assets + 4 + shots
    }

    /// Structural edges, without extras.
    fn edge_count(&self) -> usize {
        let shots: usize = self
            .shots
            .iter()
            .map(|s| {
                let (p, a, u, r) = (
                    usize::from(s.prompt),
                    usize::from(s.audio),
                    usize::from(s.upscale),
                    usize::from(s.reference),
                );
                // shot 4, prompt 2, image_gen 1+p+r, audio_gen 2, video_gen 2,
                // effect 1, upscale 1, composite background 1, edit clip 1, track 1
                4 + 2 * p + (1 + p + r) + 2 * a + 2 + 1 + u + 1 + 1 + a
            })
            .sum();
        // scene.act, edit.audio, export.edl
        3 + shots
    }
}

/// Nodes every canvas starts with, so that every pool is non-empty.
const BASE_NODES: usize = 9;

/// Random picks from `pool`, preferring its most recent `recent` entries.
fn pick(rng: &mut SmallRng, pool: &[u32], recent: usize) -> u32 {
    let len = pool.len();
    if len > recent && rng.random_bool(0.8) {
        pool[len - 1 - rng.random_range(0..recent)]
    } else {
        pool[rng.random_range(0..len)]
    }
}

/// Picks up to `count` entries of `pool` that are not in `taken`, adding them to it.
fn pick_distinct(
    rng: &mut SmallRng,
    pool: &[u32],
    recent: usize,
    count: u32,
    taken: &mut Vec<u32>,
) -> u32 {
    let mut found = 0;
    let mut tries = 0;
    while found < count && tries < 16 * count {
        tries += 1;
        let candidate = pick(rng, pool, recent);
        if !taken.contains(&candidate) {
            taken.push(candidate);
            found += 1;
        }
    }
    found
}

struct Builder<'r> {
    rng: &'r mut SmallRng,
    nodes: Vec<PlanNode>,
    edges: Vec<PlanEdge>,
    serials: BTreeMap<Kind, u32>,
    acts: Vec<u32>,
    characters: Vec<u32>,
    voices: Vec<u32>,
    locations: Vec<u32>,
    styles: Vec<u32>,
    props: Vec<u32>,
    /// Every image or video output so far (image_gen, video_gen, effect, upscale).
    media: Vec<u32>,
    /// Layer edges that could not be placed yet.
    layer_debt: u32,
}

impl Builder<'_> {
    fn add(&mut self, kind: Kind) -> u32 {
        let serial = self.serials.entry(kind).or_insert(0);
        *serial += 1;
        let index = u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
        self.nodes.push(PlanNode {
            kind,
            serial: *serial,
            first_edge: u32::try_from(self.edges.len()).expect("fewer than 2^32 edges"),
        });
        match kind {
            Kind::Act => self.acts.push(index),
            Kind::Character => self.characters.push(index),
            Kind::Voice => self.voices.push(index),
            Kind::Location => self.locations.push(index),
            Kind::Style => self.styles.push(index),
            Kind::Prop => self.props.push(index),
            Kind::ImageGen | Kind::VideoGen | Kind::Effect | Kind::Upscale => {
                self.media.push(index);
            }
            _ => {}
        }
        index
    }

    fn link(&mut self, source: u32, target: u32, port: &'static str) {
        debug_assert!(source < target);
        self.edges.push(PlanEdge {
            source,
            target,
            port,
        });
    }

    fn character(&mut self) {
        self.add(Kind::Character);
        self.add(Kind::Voice);
    }

    fn scene(&mut self, plan: &ScenePlan) {
        if plan.new_act {
            self.add(Kind::Act);
        }
        for _ in 0..plan.new_characters {
            self.character();
        }
        if plan.new_location {
            self.add(Kind::Location);
        }
        for _ in 0..plan.new_props {
            self.add(Kind::Prop);
        }
        if plan.new_style {
            self.add(Kind::Style);
        }
        let act = *self.acts.last().expect("base act");
        let location = if plan.new_location {
            *self.locations.last().expect("a location")
        } else {
            pick(self.rng, &self.locations, 20)
        };
        let style = if self.rng.random_bool(0.8) {
            *self.styles.last().expect("base style")
        } else {
            pick(self.rng, &self.styles, 5)
        };
        let scene = self.add(Kind::Scene);
        self.link(act, scene, "act");

        let mut shots = Vec::new();
        let mut tracks = Vec::new();
        let mut clips = Vec::new();
        let mut local_media: Vec<u32> = Vec::new();
        let mut previous_image = None;
        for s in &plan.shots {
            let shot = self.add(Kind::Shot);
            shots.push(shot);
            self.link(scene, shot, "scene");
            self.link(location, shot, "location");
            self.link(style, shot, "style");
            let mut cast = Vec::new();
            pick_distinct(self.rng, &self.characters, 30, 1, &mut cast);
            let found = pick_distinct(
                self.rng,
                &self.characters,
                30,
                s.extra_characters,
                &mut cast,
            );
            self.layer_debt += s.extra_characters - found;
            for c in cast {
                self.link(c, shot, "characters");
            }
            let mut props = Vec::new();
            let found = pick_distinct(self.rng, &self.props, 30, s.extra_props, &mut props);
            self.layer_debt += s.extra_props - found;
            for p in props {
                self.link(p, shot, "props");
            }

            let prompt = s.prompt.then(|| {
                let prompt = self.add(Kind::Prompt);
                self.link(shot, prompt, "shot");
                self.link(style, prompt, "style");
                prompt
            });
            let image = self.add(Kind::ImageGen);
            self.link(shot, image, "shot");
            if let Some(prompt) = prompt {
                self.link(prompt, image, "prompt");
            }
            if let (true, Some(previous)) = (s.reference, previous_image) {
                self.link(previous, image, "reference");
            }
            previous_image = Some(image);
            if s.audio {
                let voice = pick(self.rng, &self.voices, 30);
                let audio = self.add(Kind::AudioGen);
                self.link(voice, audio, "voice");
                self.link(shot, audio, "shot");
                tracks.push(audio);
            }
            let video = self.add(Kind::VideoGen);
            self.link(image, video, "image");
            self.link(shot, video, "shot");
            let effect = self.add(Kind::Effect);
            self.link(video, effect, "media");
            let background = if s.upscale {
                let upscale = self.add(Kind::Upscale);
                self.link(effect, upscale, "image");
                local_media.extend([image, video, effect]);
                upscale
            } else {
                local_media.extend([image, video]);
                effect
            };
            let composite = self.add(Kind::Composite);
            self.link(background, composite, "background");
            let wanted = s.extra_layers + self.layer_debt;
            let mut layers = vec![background];
            let (mut found, mut tries) = (0, 0);
            while found < wanted && tries < 16 * wanted {
                tries += 1;
                let pool = if self.rng.random_bool(0.5) {
                    &local_media
                } else {
                    &self.media
                };
                let candidate = pool[self.rng.random_range(0..pool.len())];
                if !layers.contains(&candidate) {
                    layers.push(candidate);
                    found += 1;
                }
            }
            self.layer_debt = wanted - found;
            for &layer in &layers[1..] {
                self.link(layer, composite, "layers");
            }
            if s.upscale {
                local_media.push(background);
            } else {
                local_media.push(effect);
            }
            clips.push(composite);
        }
        let mix = self.add(Kind::CombineAudio);
        for &t in &tracks {
            self.link(t, mix, "tracks");
        }
        let edit = self.add(Kind::Edit);
        for &c in &clips {
            self.link(c, edit, "clips");
        }
        self.link(mix, edit, "audio");
        let mut cut = shots.clone();
        cut.shuffle(self.rng);
        cut.truncate(plan.extra_edit_shots as usize);
        cut.sort_unstable();
        for s in cut {
            self.link(s, edit, "shots");
        }
        let export = self.add(Kind::Export);
        self.link(edit, export, "edl");
    }
}

impl Dag {
    /// Plans a canvas of exactly `nodes` nodes and `edges` edges (see the
    /// module docs for the shape). Deterministic for a given seed (and `rand`
    /// version).
    ///
    /// # Panics
    /// When `edges` is below the shape's structural edges (about 1.86 per
    /// node) or far above them (more than about 3.5 per node), or `nodes` < 100.
    pub fn generate(nodes: usize, edges: usize, seed: u64) -> Dag {
        assert!(nodes >= 100, "plan at least 100 nodes");
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut scenes = Vec::new();
        let mut planned_nodes = BASE_NODES;
        let mut planned_edges = 0;
        loop {
            let next = ScenePlan::random(&mut rng, scenes.len());
            if planned_nodes + next.node_count() > nodes {
                break;
            }
            planned_nodes += next.node_count();
            planned_edges += next.edge_count();
            scenes.push(next);
        }
        assert!(
            planned_edges <= edges,
            "{edges} edges are too few for {nodes} nodes of this shape: it needs {planned_edges}"
        );
        let fill = nodes - planned_nodes;

        // Spread the extra edges over the `multiple` inputs.
        let extras = edges - planned_edges;
        let mut placed = 0;
        let mut attempts = 0;
        while placed < extras {
            attempts += 1;
            assert!(
                attempts < 64 * extras + 1_000,
                "{edges} edges are too many for {nodes} nodes of this shape"
            );
            let scene = rng.random_range(0..scenes.len());
            let plan = &mut scenes[scene];
            let shot_count = plan.shots.len();
            let shot = &mut plan.shots[rng.random_range(0..shot_count)];
            let roll: f64 = rng.random();
            let ok = if roll < 0.5 {
                bump(&mut shot.extra_layers, 12)
            } else if roll < 0.7 {
                bump(&mut shot.extra_characters, 3)
            } else if roll < 0.9 {
                bump(&mut shot.extra_props, 3)
            } else {
                bump(&mut plan.extra_edit_shots, shot_count as u32)
            };
            placed += usize::from(ok);
        }

        let mut b = Builder {
            rng: &mut rng,
            nodes: Vec::with_capacity(nodes),
            edges: Vec::with_capacity(edges),
            serials: BTreeMap::new(),
            acts: Vec::new(),
            characters: Vec::new(),
            voices: Vec::new(),
            locations: Vec::new(),
            styles: Vec::new(),
            props: Vec::new(),
            media: Vec::new(),
            layer_debt: 0,
        };
        b.add(Kind::Act);
        b.character();
        b.character();
        b.add(Kind::Location);
        b.add(Kind::Style);
        b.add(Kind::Prop);
        b.add(Kind::Prop);
        for i in 0..fill {
            match i % 3 {
                0 => b.add(Kind::Prop),
                1 => b.add(Kind::Location),
                _ => b.add(Kind::Style),
            };
        }
        for plan in &scenes {
            b.scene(plan);
        }
        assert_eq!(
            b.layer_debt, 0,
            "the last composites could not take every extra layer edge; plan more nodes"
        );
        assert_eq!((b.nodes.len(), b.edges.len()), (nodes, edges));
        Dag {
            seed,
            nodes: b.nodes,
            edges: b.edges,
        }
    }

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

    fn incoming(&self, node: usize) -> std::ops::Range<usize> {
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

    /// Outgoing adjacency (targets by source).
    fn successors(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for e in &self.edges {
            out[e.source as usize].push(e.target);
        }
        out
    }

    /// Incoming adjacency (sources by target).
    fn predecessors(&self) -> Vec<Vec<u32>> {
        (0..self.nodes.len())
            .map(|i| self.incoming(i).map(|e| self.edges[e].source).collect())
            .collect()
    }

    fn reach(adjacency: &[Vec<u32>], start: usize) -> Vec<bool> {
        let mut seen = vec![false; adjacency.len()];
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(n) = stack.pop() {
            for &m in &adjacency[n] {
                if !seen[m as usize] {
                    seen[m as usize] = true;
                    stack.push(m as usize);
                }
            }
        }
        seen
    }

    fn port_taken(&self, node: usize, port: &str) -> bool {
        self.incoming(node).any(|e| self.edges[e].port == port)
    }

    fn probe(&self, source: usize, target: usize, port: &str, succ: &[Vec<u32>]) -> Probe {
        let below = Self::reach(succ, target);
        let closes_cycle = below[source];
        let (lo, hi) = (target.min(source), target.max(source));
        let future_cone = if source > target {
            (target..source).filter(|&i| below[i]).count()
        } else {
            0
        };
        let past_cone = if source > target {
            let above = Self::reach(&self.predecessors(), source);
            (target + 1..=source).filter(|&i| above[i]).count()
        } else {
            0
        };
        Probe {
            source: PortRef::new(self.id(source), self.kind(source).output()),
            target: PortRef::new(self.id(target), port),
            window: hi - lo,
            future_cone,
            past_cone,
            closes_cycle,
        }
    }

    /// `effect.media -> image_gen.reference` where the image_gen is the
    /// effect's grandparent (image_gen -> video_gen -> effect), mid-canvas.
    pub fn near_cycle(&self) -> Probe {
        let succ = self.successors();
        let mid = self.nodes.len() / 2;
        let found = (mid..self.nodes.len())
            .filter(|&i| self.kind(i) == Kind::ImageGen && !self.port_taken(i, "reference"))
            .find_map(|i| {
                let video = succ[i]
                    .iter()
                    .find(|&&v| self.kind(v as usize) == Kind::VideoGen)?;
                let effect = succ[*video as usize]
                    .iter()
                    .find(|&&f| self.kind(f as usize) == Kind::Effect)?;
                Some((*effect as usize, i))
            });
        let (source, target) = found.expect("an image_gen -> video_gen -> effect chain");
        self.probe(source, target, "reference", &succ)
    }

    /// The canvas's first image_gen with a free `reference` input.
    fn first_free_image_gen(&self) -> usize {
        (0..self.nodes.len())
            .find(|&i| self.kind(i) == Kind::ImageGen && !self.port_taken(i, "reference"))
            .expect("an image_gen")
    }

    /// The cycle-closing connect with the widest window in the canvas: over
    /// every image_gen with a free `reference`, the image output furthest
    /// downstream of it (in topological position), back into that
    /// `reference` (layer 8 or 7 back to layer 4). Image_gens have the widest
    /// reach of the types that can be the target of a cycle here.
    pub fn far_cycle(&self) -> Probe {
        let succ = self.successors();
        let mut stamp = vec![u32::MAX; self.nodes.len()];
        let mut best: Option<(usize, usize)> = None;
        let mut stack = Vec::new();
        for (epoch, target) in (0..self.nodes.len())
            .filter(|&i| self.kind(i) == Kind::ImageGen && !self.port_taken(i, "reference"))
            .enumerate()
        {
            let epoch = epoch as u32;
            let mut furthest = None;
            stack.push(target as u32);
            stamp[target] = epoch;
            while let Some(n) = stack.pop() {
                for &m in &succ[n as usize] {
                    if stamp[m as usize] != epoch {
                        stamp[m as usize] = epoch;
                        stack.push(m);
                        if self.kind(m as usize).outputs_image() {
                            furthest = furthest.max(Some(m as usize));
                        }
                    }
                }
            }
            if let Some(source) = furthest
                && best.is_none_or(|(s, t)| source - target > s - t)
            {
                best = Some((source, target));
            }
        }
        let (source, target) = best.expect("an image_gen with a downstream image");
        self.probe(source, target, "reference", &succ)
    }

    /// A back edge over the whole canvas that does not close a cycle (the last
    /// composite, not downstream of the first image_gen, into its `reference`):
    /// accepted, but the topological order must be repaired.
    pub fn far_back_edge(&self) -> Probe {
        let succ = self.successors();
        let target = self.first_free_image_gen();
        let below = Self::reach(&succ, target);
        let source = (0..self.nodes.len())
            .rev()
            .find(|&i| !below[i] && self.kind(i) == Kind::Composite)
            .expect("an unrelated composite");
        self.probe(source, target, "reference", &succ)
    }

    /// A forward edge (the common case): a mid-canvas image_gen as one more
    /// layer of the last composite.
    pub fn forward_edge(&self) -> Probe {
        let succ = self.successors();
        let target = (0..self.nodes.len())
            .rev()
            .find(|&i| self.kind(i) == Kind::Composite)
            .expect("a composite");
        let taken: Vec<u32> = self
            .incoming(target)
            .map(|e| self.edges[e].source)
            .collect();
        let source = (self.nodes.len() / 2..target)
            .find(|&i| self.kind(i) == Kind::ImageGen && !taken.contains(&(i as u32)))
            .expect("an image_gen");
        self.probe(source, target, "layers", &succ)
    }

    /// The node with the most upstream nodes among the exports (the deepest
    /// layer), and that count (itself excluded).
    pub fn deepest_export(&self) -> (String, usize) {
        let pred = self.predecessors();
        let (node, upstream) = (0..self.nodes.len())
            .filter(|&i| self.kind(i) == Kind::Export)
            .map(|i| (i, Self::reach(&pred, i).iter().filter(|&&b| b).count() - 1))
            .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)))
            .expect("an export");
        (self.id(node), upstream)
    }

    /// An image_gen in the middle of the canvas and its upstream count.
    pub fn middle_image_gen(&self) -> (String, usize) {
        let pred = self.predecessors();
        let node = (self.nodes.len() / 2..self.nodes.len())
            .find(|&i| self.kind(i) == Kind::ImageGen)
            .expect("an image_gen");
        let upstream = Self::reach(&pred, node).iter().filter(|&&b| b).count() - 1;
        (self.id(node), upstream)
    }

    /// Counts that describe the shape.
    pub fn summary(&self) -> Summary {
        let mut nodes = BTreeMap::new();
        for n in &self.nodes {
            *nodes.entry(n.kind.type_name()).or_insert(0) += 1;
        }
        let mut ports = BTreeMap::new();
        for e in &self.edges {
            let t = self.nodes[e.target as usize].kind.type_name();
            *ports.entry(format!("{t}.{}", e.port)).or_insert(0) += 1;
        }
        // Longest path, in edges: nodes are in topological order.
        let mut depth = vec![0usize; self.nodes.len()];
        for e in &self.edges {
            let d = depth[e.source as usize] + 1;
            let t = &mut depth[e.target as usize];
            *t = (*t).max(d);
        }
        let max_in = (0..self.nodes.len())
            .map(|i| self.incoming(i).len())
            .max()
            .unwrap_or(0);
        let succ = self.successors();
        let max_out = succ.iter().map(Vec::len).max().unwrap_or(0);
        Summary {
            nodes: self.nodes.len(),
            edges: self.edges.len(),
            scenes: nodes.get("scene").copied().unwrap_or(0),
            by_type: nodes,
            by_port: ports,
            longest_path: depth.into_iter().max().unwrap_or(0),
            max_in_degree: max_in,
            max_out_degree: max_out,
        }
    }
}

fn bump(slot: &mut u32, cap: u32) -> bool {
    if *slot < cap {
        *slot += 1;
        true
    } else {
        false
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

/// One timed apply.
#[derive(Debug, Clone, Copy)]
pub struct BatchTiming {
    pub ops: usize,
    pub elapsed: Duration,
}

impl BatchTiming {
    pub fn per_op(&self) -> Duration {
        self.elapsed / u32::try_from(self.ops.max(1)).unwrap_or(u32::MAX)
    }
}

/// Median, 90th percentile and worst per-op time over batches.
pub fn per_op_stats(timings: &[BatchTiming]) -> (Duration, Duration, Duration) {
    let mut per_op: Vec<Duration> = timings.iter().map(BatchTiming::per_op).collect();
    per_op.sort_unstable();
    if per_op.is_empty() {
        return Default::default();
    }
    let at = |q: f64| per_op[((per_op.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(1.0))
}

/// A connection to measure, with the size of the work a cycle check does for it.
#[derive(Debug, Clone)]
pub struct Probe {
    pub source: PortRef,
    pub target: PortRef,
    /// Topological positions between the ends (0 for a forward edge).
    pub window: usize,
    /// Nodes downstream of the target inside the window (what the forward
    /// search may visit before it meets the source).
    pub future_cone: usize,
    /// Nodes upstream of the source inside the window (searched only when the
    /// edge is accepted and the order must be repaired).
    pub past_cone: usize,
    pub closes_cycle: bool,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} -> {}.{} (window {} positions, future cone {}, past cone {}, {})",
            self.source.node,
            self.source.port,
            self.target.node,
            self.target.port,
            self.window,
            self.future_cone,
            self.past_cone,
            if self.closes_cycle {
                "closes a cycle"
            } else {
                "no cycle"
            }
        )
    }
}

/// The shape of a generated canvas.
#[derive(Debug, Clone)]
pub struct Summary {
    pub nodes: usize,
    pub edges: usize,
    pub scenes: usize,
    pub by_type: BTreeMap<&'static str, usize>,
    pub by_port: BTreeMap<String, usize>,
    /// Longest path, in edges.
    pub longest_path: usize,
    pub max_in_degree: usize,
    pub max_out_degree: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} nodes, {} edges, {} scenes; longest path {} edges; max in-degree {}, max out-degree {}",
            self.nodes,
            self.edges,
            self.scenes,
            self.longest_path,
            self.max_in_degree,
            self.max_out_degree
        )?;
        let types: Vec<String> = self
            .by_type
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        writeln!(f, "nodes: {}", types.join(", "))?;
        let ports: Vec<String> = self
            .by_port
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        write!(f, "edges into: {}", ports.join(", "))
    }
}

/// VmHWM and VmRSS of this process, in bytes (Linux; zeros elsewhere).
pub fn memory_status() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// A local runner with a no-op function for every function of the built-in
/// catalogue: each returns `true` on every declared output. For measuring
/// the executor rather than the work.
pub fn noop_runner() -> reelgraph::runner::LocalRunner {
    let runner = reelgraph::runner::LocalRunner::new();
    let catalog = Catalog::builtin();
    for name in catalog.type_names() {
        let Some(task) = catalog.get(&name).and_then(|spec| spec.task.clone()) else {
            continue;
        };
        runner.register(&task.function, |task, _ctx| async move {
            Ok(task
                .outputs
                .iter()
                .map(|port| (port.to_string(), Value::Bool(true)))
                .collect())
        });
    }
    runner
}

/// The node type of [`layered_dag`]: a task that reads its inputs and a number.
pub const STEP_TYPE: &str = r#"{
  "type": "step", "category": "post", "title": "Step",
  "inputs": [{"name": "in", "type": "text", "multiple": true}],
  "outputs": [{"name": "out", "type": "text"}],
  "properties": [{"name": "n", "type": "integer"}],
  "task": {"function": "step", "params": {"n": {"property": "n"}, "in": {"input": "in"}}}
}"#;

/// A layered DAG of `layers × width` [`STEP_TYPE`] nodes; each node after
/// the first layer reads `fan_in` distinct nodes of the layer before. The
/// canvas for measuring the executor itself, with [`noop_step_runner`].
pub fn layered_dag(layers: usize, width: usize, fan_in: usize, seed: u64) -> Canvas {
    let catalog = Catalog::builtin();
    catalog
        .register_json(STEP_TYPE)
        .expect("the step type registers");
    let mut canvas = Canvas::new(catalog, "layered", "Layered");
    let mut rng = SmallRng::seed_from_u64(seed);
    let id = |layer: usize, i: usize| format!("s{layer}_{i}");
    for layer in 0..layers {
        let mut ops = Vec::with_capacity(width * (1 + fan_in));
        for i in 0..width {
            ops.push(Op::add_node(
                &id(layer, i),
                "step",
                json!({"n": layer * width + i}),
            ));
            if layer > 0 {
                let mut sources: Vec<usize> = (0..width).collect();
                sources.shuffle(&mut rng);
                for &s in sources.iter().take(fan_in) {
                    ops.push(Op::connect(
                        (&id(layer - 1, s), "out"),
                        (&id(layer, i), "in"),
                    ));
                }
            }
        }
        canvas.apply(ops).expect("a valid layer");
    }
    canvas
}

/// Runs `canvas` to its end as the execution bench measures it: a fresh run
/// with its events read by a consumer on another task. Returns the report
/// and how many events the consumer read. Call inside a tokio runtime.
pub async fn run_with_consumer(
    executor: &reelgraph::exec::Executor,
    canvas: &std::sync::Arc<std::sync::Mutex<Canvas>>,
) -> (reelgraph::exec::RunReport, usize) {
    let mut run = executor
        .start(canvas, reelgraph::exec::RunOptions::new())
        .await
        .expect("a run starts");
    let mut events = run.events().expect("the event stream");
    let consumer = tokio::spawn(async move {
        let mut read = 0usize;
        while events.next().await.is_some() {
            read += 1;
        }
        read
    });
    let report = run.finish().await;
    (report, consumer.await.expect("the consumer ends"))
}

/// A local runner whose `step` function does nothing but answer.
pub fn noop_step_runner() -> reelgraph::runner::LocalRunner {
    let runner = reelgraph::runner::LocalRunner::new();
    runner.register("step", |_task, _ctx| async move {
        Ok(reelgraph::runner::Outputs::from_iter([(
            "out".to_owned(),
            Value::Bool(true),
        )]))
    });
    runner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> (Dag, Canvas) {
        let dag = Dag::generate(5_000, 10_000, 11);
        let canvas = dag.build(&Catalog::builtin(), BATCH);
        (dag, canvas)
    }

    #[test]
    fn exact_counts_and_a_clean_report() {
        let (dag, canvas) = small();
        assert_eq!((dag.node_count(), dag.edge_count()), (5_000, 10_000));
        assert_eq!((canvas.node_count(), canvas.edge_count()), (5_000, 10_000));
        let report = canvas.validate();
        assert!(
            report.diagnostics.is_empty(),
            "{:?}",
            &report.diagnostics[..3.min(report.diagnostics.len())]
        );
    }

    #[test]
    fn same_seed_same_ops_other_seed_other_ops() {
        let a: Vec<Op> = Dag::generate(1_000, 2_000, 3).ops().collect();
        let b: Vec<Op> = Dag::generate(1_000, 2_000, 3).ops().collect();
        let c: Vec<Op> = Dag::generate(1_000, 2_000, 4).ops().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn insertion_order_is_the_topological_order() {
        let (dag, canvas) = small();
        let ids: Vec<String> = (0..dag.node_count()).map(|i| dag.id(i)).collect();
        assert_eq!(canvas.topological_order(), ids);
    }

    #[test]
    fn probes_do_what_they_say() {
        let (dag, canvas) = small();
        for probe in [dag.near_cycle(), dag.far_cycle()] {
            assert!(probe.closes_cycle, "{probe}");
            let err = canvas
                .can_connect(&probe.source, &probe.target)
                .expect_err("a cycle");
            assert_eq!(err.code(), "cycle", "{probe}");
        }
        for probe in [dag.forward_edge(), dag.far_back_edge()] {
            assert!(!probe.closes_cycle, "{probe}");
            canvas
                .can_connect(&probe.source, &probe.target)
                .unwrap_or_else(|e| panic!("{probe}: {e}"));
        }
    }

    #[test]
    fn too_few_edges_are_refused() {
        let result = std::panic::catch_unwind(|| Dag::generate(1_000, 1_000, 1));
        assert!(result.is_err());
    }
}
