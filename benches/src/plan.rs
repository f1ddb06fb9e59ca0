//! Planning a canvas scene by scene: what each scene and shot adds, and the
//! builder that turns those choices into planned nodes and edges.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::dag::{Dag, Kind, PlanEdge, PlanNode};

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

fn bump(slot: &mut u32, cap: u32) -> bool {
    if *slot < cap {
        *slot += 1;
        true
    } else {
        false
    }
}
