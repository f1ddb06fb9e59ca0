//! Context channels: what a node and everything upstream of it provide
//! (LoRAs, trigger words, prompts, shots, ...), each value once, upstream
//! first.
//!
//! The order is that of a post-order walk from the node, following inputs
//! in spec order and edges in canvas order. That walk visits an input's
//! whole upstream before the next input's, so a node's channels are its
//! inputs' channels joined in input order, then its own values. Each
//! node's channels are worked out once, from its inputs', and shared:
//! previews and runs no longer walk every ancestor of every task.

use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use foldhash::HashMap;
use petgraph::stable_graph::NodeIndex;
use serde_json::Value;

use super::Scope;
use crate::canvas::Canvas;
use crate::model::same_value;
use crate::quality::Quality;

/// One channel's values, as indexes into [`Contexts::values`].
type Channel = Rc<Vec<u32>>;

/// A node's channels: (channel index, values), in no particular order.
pub(super) type NodeContext = Rc<Vec<(u16, Channel)>>;

/// The context channels of a canvas's nodes, worked out on demand and kept.
pub(crate) struct Contexts<'c> {
    canvas: &'c Canvas,
    /// Channel names; a channel is its index here.
    names: Vec<Box<str>>,
    /// Every value provided, with its hash; exact repeats share one index.
    values: Vec<(Value, u64)>,
    /// The first value index of each hash, to share exact repeats.
    by_hash: HashMap<u64, u32>,
    /// Each node's channels once worked out. A map, not a table by slot:
    /// one preview should not pay for the whole canvas.
    nodes: HashMap<NodeIndex, NodeContext>,
    /// Some provided integer is beyond 2^53, where `same_value` compares
    /// integers with floats inexactly and "the same" stops being an
    /// equivalence: joining channels could then keep other values than the
    /// walk does, so each node walks its upstream instead.
    walk: bool,
    /// Channel indexes no longer in use, cleared, kept for the next join:
    /// one node after another would otherwise allocate and free them.
    spare: Vec<Index>,
}

impl<'c> Contexts<'c> {
    pub(crate) fn new(canvas: &'c Canvas) -> Self {
        Contexts {
            canvas,
            names: Vec::new(),
            values: Vec::new(),
            by_hash: HashMap::default(),
            nodes: HashMap::default(),
            walk: false,
            spare: Vec::new(),
        }
    }

    /// The channels of the node at `ix`.
    pub(super) fn of(&mut self, ix: NodeIndex) -> NodeContext {
        if let Some(known) = self.nodes.get(&ix) {
            return known.clone();
        }
        // Every node upstream first, so each joins channels already known.
        let order = self.post_order(ix, |contexts, n| contexts.nodes.contains_key(&n));
        for (n, upstream) in order {
            let own = self.own_values(n);
            let context = if self.walk {
                self.walked(n)
            } else {
                self.joined(&upstream, &own)
            };
            self.nodes.insert(n, context);
        }
        self.nodes[&ix].clone()
    }

    /// The values of `channel` in `context`: a list, or null when there are none.
    pub(super) fn values_of(&self, context: &NodeContext, channel: &str) -> Value {
        let values: Vec<Value> = self.values_in(context, channel).cloned().collect();
        if values.is_empty() {
            Value::Null
        } else {
            Value::Array(values)
        }
    }

    /// The values of `channel` in `context`, borrowed.
    pub(super) fn values_in<'s>(
        &'s self,
        context: &'s NodeContext,
        channel: &str,
    ) -> impl Iterator<Item = &'s Value> + 's {
        let index = self.names.iter().position(|n| &**n == channel);
        let ids = index.and_then(|index| context.iter().find(|(c, _)| usize::from(*c) == index));
        ids.into_iter()
            .flat_map(|(_, ids)| ids.iter())
            .map(|&id| &self.values[id as usize].0)
    }

    /// Nodes upstream of `ix` (and `ix`), each after all of its inputs and
    /// with them in spec order, not descending past nodes `stop` says are known.
    fn post_order(
        &self,
        ix: NodeIndex,
        stop: impl Fn(&Self, NodeIndex) -> bool,
    ) -> Vec<(NodeIndex, Vec<NodeIndex>)> {
        let mut order = Vec::new();
        let mut seen = foldhash::HashSet::default();
        let mut stack = vec![(ix, None)];
        while let Some((n, expanded)) = stack.pop() {
            if let Some(upstream) = expanded {
                order.push((n, upstream));
                continue;
            }
            if !seen.insert(n) {
                continue;
            }
            let upstream = self.canvas.upstream_in_spec_order(n);
            let next: Vec<_> = upstream
                .iter()
                .rev()
                .filter(|u| !seen.contains(*u) && !stop(self, **u))
                .map(|u| (*u, None))
                .collect();
            stack.push((n, Some(upstream)));
            stack.extend(next);
        }
        order
    }

    /// A node's channels from its inputs' channels, in input order, then
    /// its own values.
    fn joined(&mut self, upstream: &[NodeIndex], own: &[(u16, u32)]) -> NodeContext {
        let mut channels: Vec<(u16, Channel)> = Vec::new();
        let mut firsts: Vec<Option<Index>> = Vec::new();
        for u in upstream {
            let theirs = self.nodes[u].clone();
            for (channel, ids) in theirs.iter() {
                match channels.iter().position(|(c, _)| c == channel) {
                    None => {
                        channels.push((*channel, ids.clone()));
                        firsts.push(None);
                    }
                    Some(at) if Rc::ptr_eq(&channels[at].1, ids) => {}
                    Some(at) => {
                        for &id in ids.iter() {
                            self.push_unique(&mut channels[at].1, &mut firsts[at], id);
                        }
                    }
                }
            }
        }
        for &(channel, id) in own {
            let at = match channels.iter().position(|(c, _)| *c == channel) {
                Some(at) => at,
                None => {
                    channels.push((channel, Rc::new(Vec::new())));
                    firsts.push(None);
                    channels.len() - 1
                }
            };
            self.push_unique(&mut channels[at].1, &mut firsts[at], id);
        }
        self.recycle(firsts);
        Rc::new(channels)
    }

    /// A node's channels by walking everything upstream of it.
    fn walked(&mut self, ix: NodeIndex) -> NodeContext {
        let mut channels: Vec<(u16, Channel)> = Vec::new();
        let mut firsts: Vec<Option<Index>> = Vec::new();
        for (n, _) in self.post_order(ix, |_, _| false) {
            for (channel, id) in self.own_values(n) {
                let at = match channels.iter().position(|(c, _)| *c == channel) {
                    Some(at) => at,
                    None => {
                        channels.push((channel, Rc::new(Vec::new())));
                        firsts.push(None);
                        channels.len() - 1
                    }
                };
                self.push_unique(&mut channels[at].1, &mut firsts[at], id);
            }
        }
        self.recycle(firsts);
        Rc::new(channels)
    }

    /// Keeps a join's channel indexes, cleared, for the next one.
    fn recycle(&mut self, firsts: Vec<Option<Index>>) {
        for mut index in firsts.into_iter().flatten() {
            index.clear();
            self.spare.push(index);
        }
    }

    /// Appends `id` to `channel` unless a value the same as it is there
    /// already. `first` indexes the channel by hash, built on first need.
    fn push_unique(&mut self, channel: &mut Channel, first: &mut Option<Index>, id: u32) {
        let hash = self.values[id as usize].1;
        let index = first.get_or_insert_with(|| {
            let mut index = self.spare.pop().unwrap_or_default();
            for (at, &known) in channel.iter().enumerate() {
                index
                    .entry(self.values[known as usize].1)
                    .or_insert(at as u32);
            }
            index
        });
        let value = &self.values[id as usize].0;
        if let Some(&at) = index.get(&hash) {
            let known = channel[at as usize];
            if known == id || same_value(&self.values[known as usize].0, value) {
                return;
            }
            // Another value of the same hash: compare with each of them.
            let same = channel[at as usize..].iter().any(|&k| {
                self.values[k as usize].1 == hash && same_value(&self.values[k as usize].0, value)
            });
            if same {
                return;
            }
        } else {
            index.insert(hash, channel.len() as u32);
        }
        Rc::make_mut(channel).push(id);
    }

    /// What the node itself provides, as (channel, value index) pairs.
    fn own_values(&mut self, ix: NodeIndex) -> Vec<(u16, u32)> {
        let canvas = self.canvas;
        let (id, entry) = canvas.entry_at(ix);
        let Some(spec) = entry.spec.as_deref() else {
            return Vec::new();
        };
        if spec.provides.is_empty() {
            return Vec::new();
        }
        let scope = Scope {
            canvas,
            id,
            entry,
            spec,
            quality: Quality::Standard,
            context: None,
        };
        let mut own = Vec::new();
        for (channel, template) in &spec.provides {
            let channel = self.channel(channel);
            match scope.eval(template) {
                Value::Null => {}
                Value::Array(items) => {
                    for item in items.into_iter().filter(|i| !i.is_null()) {
                        own.push((channel, self.intern(item)));
                    }
                }
                one => own.push((channel, self.intern(one))),
            }
        }
        own
    }

    fn channel(&mut self, name: &str) -> u16 {
        match self.names.iter().position(|n| &**n == name) {
            Some(at) => at as u16,
            None => {
                self.names.push(name.into());
                (self.names.len() - 1) as u16
            }
        }
    }

    /// The index of `value`, shared with an exact repeat met before.
    fn intern(&mut self, value: Value) -> u32 {
        let hash = hash_of(&value, &mut self.walk);
        if let Some(&first) = self.by_hash.get(&hash)
            && self.values[first as usize].0 == value
        {
            return first;
        }
        let id = self.values.len() as u32;
        self.by_hash.entry(hash).or_insert(id);
        self.values.push((value, hash));
        id
    }
}

/// A channel's first position of each hash.
type Index = HashMap<u64, u32>;

/// A hash under which values that are [`same_value`] agree: numbers hash
/// as the float they compare as, object fields in any order. Sets `inexact`
/// for integers that a float cannot hold.
fn hash_of(value: &Value, inexact: &mut bool) -> u64 {
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    feed(value, &mut hasher, inexact);
    hasher.finish()
}

fn feed(value: &Value, hasher: &mut impl Hasher, inexact: &mut bool) {
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(b) => {
            hasher.write_u8(1);
            b.hash(hasher);
        }
        Value::Number(n) => {
            const EXACT: u64 = 1 << 53;
            if n.as_i64().is_some_and(|i| i.unsigned_abs() > EXACT)
                || n.as_u64().is_some_and(|u| u > EXACT)
            {
                *inexact = true;
            }
            let f = n.as_f64().unwrap_or(0.0);
            // -0.0 and 0.0 compare the same.
            let f = if f == 0.0 { 0.0 } else { f };
            hasher.write_u8(2);
            hasher.write_u64(f.to_bits());
        }
        Value::String(s) => {
            hasher.write_u8(3);
            s.hash(hasher);
        }
        Value::Array(items) => {
            hasher.write_u8(4);
            hasher.write_usize(items.len());
            for item in items {
                feed(item, hasher, inexact);
            }
        }
        Value::Object(map) => {
            // Fields in any order: a sum of each field's own hash.
            let mut sum = 0u64;
            for (k, v) in map {
                let mut field = foldhash::fast::FixedState::with_seed(1).build_hasher();
                k.hash(&mut field);
                feed(v, &mut field, inexact);
                sum = sum.wrapping_add(field.finish());
            }
            hasher.write_u8(5);
            hasher.write_usize(map.len());
            hasher.write_u64(sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Catalog, Op};

    /// Shared characters reached by several paths, a style read twice by
    /// one shot's prompt, and an edit joining everything.
    fn diamonds() -> Canvas {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let character = |id: &str, lora: &str, word: &str| {
            Op::add_node(
                id,
                "character",
                json!({"name": id, "lora": lora, "lora_weight": 0.5, "trigger_word": word}),
            )
        };
        canvas
            .apply(vec![
                character("c1", "loras/a.safetensors", "a"),
                character("c2", "loras/a.safetensors", "a"),
                character("c3", "loras/c.safetensors", "c"),
                Op::add_node("st", "style", json!({"name": "noir", "prompt": "rain"})),
                Op::add_node("s1", "shot", json!({"number": 1, "prompt": "one"})),
                Op::add_node("s2", "shot", json!({"number": 2, "prompt": "two"})),
                Op::add_node("i1", "image_gen", json!({})),
                Op::add_node("i2", "image_gen", json!({})),
                Op::add_node("v1", "video_gen", json!({})),
                Op::add_node("e", "edit", json!({})),
                Op::connect(("c2", "character"), ("s1", "characters")),
                Op::connect(("c1", "character"), ("s1", "characters")),
                Op::connect(("st", "style"), ("s1", "style")),
                Op::connect(("c3", "character"), ("s2", "characters")),
                Op::connect(("c1", "character"), ("s2", "characters")),
                Op::connect(("st", "style"), ("s2", "style")),
                Op::connect(("s1", "shot"), ("i1", "shot")),
                Op::connect(("s2", "shot"), ("i2", "shot")),
                Op::connect(("i1", "image"), ("i2", "reference")),
                Op::connect(("i2", "image"), ("v1", "image")),
                Op::connect(("s1", "shot"), ("v1", "shot")),
                Op::connect(("s2", "shot"), ("e", "shots")),
                Op::connect(("s1", "shot"), ("e", "shots")),
                Op::connect(("v1", "video"), ("e", "clips")),
                Op::connect(("i1", "image"), ("e", "clips")),
            ])
            .expect("the canvas builds");
        canvas
    }

    #[test]
    fn joining_inputs_gives_what_walking_upstream_gives() {
        let canvas = diamonds();
        let mut joined = Contexts::new(&canvas);
        let mut walked = Contexts::new(&canvas);
        walked.walk = true;
        for ix in canvas.graph.nodes_iter() {
            let (a, b) = (joined.of(ix), walked.of(ix));
            for channel in walked.names.clone() {
                assert_eq!(
                    joined.values_of(&a, &channel),
                    walked.values_of(&b, &channel),
                    "channel `{channel}` of `{}`",
                    canvas.entry_at(ix).0
                );
            }
        }
        let edit = canvas.entry("e").expect("the edit").ix;
        let context = joined.of(edit);
        let loras = joined.values_of(&context, "loras");
        assert_eq!(
            loras,
            json!([
                {"path": "loras/c.safetensors", "weight": 0.5},
                {"path": "loras/a.safetensors", "weight": 0.5}
            ])
        );
    }

    #[test]
    fn values_the_same_but_spelled_apart_are_kept_once() {
        let mut inexact = false;
        let (one, one_float) = (json!({"w": 1, "p": "x"}), json!({"p": "x", "w": 1.0}));
        assert!(same_value(&one, &one_float));
        assert_eq!(
            hash_of(&one, &mut inexact),
            hash_of(&one_float, &mut inexact)
        );
        assert!(!inexact);
        hash_of(&json!([9_007_199_254_740_993_u64]), &mut inexact);
        assert!(inexact);
    }
}
