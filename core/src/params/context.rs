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
use crate::canvas::{Canvas, EdgeOrder};
use crate::model::same_value;
use crate::quality::Quality;

/// One channel's values, as indexes into [`Contexts::values`].
type Channel = Rc<Vec<u32>>;

/// A node's channels: (channel index, values), in no particular order.
pub(super) type NodeContext = Rc<Vec<(u16, Channel)>>;

/// No value of this hash (yet), in [`Interned::next`].
const NONE: u32 = u32::MAX;

/// A value provided by some node.
struct Interned {
    value: Value,
    hash: u64,
    /// Values that are [`same_value`] share a class: a channel keeps one
    /// value of each class.
    class: u32,
    /// The next value of the same hash, or [`NONE`].
    next: u32,
}

/// The context channels of a canvas's nodes, worked out on demand and kept.
pub(crate) struct Contexts<'c> {
    canvas: &'c Canvas,
    /// Where each edge stands in the canvas order.
    pub(super) order: EdgeOrder<'c>,
    /// Channel names; a channel is its index here.
    names: Vec<Box<str>>,
    /// Every value provided; exact repeats share one index.
    values: Vec<Interned>,
    /// The first value index of each hash.
    by_hash: HashMap<u64, u32>,
    classes: u32,
    /// Each node's channels once worked out. A map, not a table by slot:
    /// one preview should not pay for the whole canvas.
    nodes: HashMap<NodeIndex, NodeContext>,
    /// Some provided integer is beyond 2^53, where `same_value` compares
    /// integers with floats inexactly and "the same" stops being an
    /// equivalence: classes then mean nothing, and each node walks its
    /// upstream and compares values one by one instead.
    walk: bool,
    /// By class: the join channel that holds a value of it, as
    /// `stamp + position`. A join's channels take fresh stamps, so
    /// nothing is cleared between joins.
    marks: Vec<u32>,
    stamp: u32,
}

impl<'c> Contexts<'c> {
    /// Contexts for a few nodes: edge positions are looked up as needed.
    pub(crate) fn new(canvas: &'c Canvas) -> Self {
        Self::with_order(canvas, EdgeOrder::Lookup(canvas))
    }

    /// Contexts for most of the canvas: every edge position in one table.
    pub(crate) fn whole(canvas: &'c Canvas) -> Self {
        Self::with_order(canvas, EdgeOrder::Table(canvas.edge_positions()))
    }

    fn with_order(canvas: &'c Canvas, order: EdgeOrder<'c>) -> Self {
        Contexts {
            canvas,
            order,
            names: Vec::new(),
            values: Vec::new(),
            by_hash: HashMap::default(),
            classes: 0,
            nodes: HashMap::default(),
            walk: false,
            marks: Vec::new(),
            stamp: 0,
        }
    }

    fn known(&self, ix: NodeIndex) -> Option<&NodeContext> {
        self.nodes.get(&ix)
    }

    /// The channels of the node at `ix`.
    pub(super) fn of(&mut self, ix: NodeIndex) -> NodeContext {
        if let Some(known) = self.known(ix) {
            return known.clone();
        }
        // Every node upstream first, so each joins channels already known.
        let order = self.post_order(ix, |contexts, n| contexts.known(n).is_some());
        for (n, upstream) in order {
            let own = self.own_values(n);
            let context = if self.walk {
                self.walked(n)
            } else {
                self.joined(&upstream, &own)
            };
            self.nodes.insert(n, context);
        }
        self.known(ix).cloned().unwrap_or_default()
    }

    /// The values of `channel` in `context`: a list, or null when there are none.
    pub(super) fn values_of(&self, context: &NodeContext, channel: &str) -> Value {
        let ids = self.ids_in(context, channel);
        if ids.is_empty() {
            Value::Null
        } else {
            Value::Array(
                ids.iter()
                    .map(|&id| self.values[id as usize].value.clone())
                    .collect(),
            )
        }
    }

    /// The values of `channel` in `context`, borrowed.
    pub(super) fn values_in<'s>(
        &'s self,
        context: &'s NodeContext,
        channel: &str,
    ) -> impl Iterator<Item = &'s Value> + 's {
        self.ids_in(context, channel)
            .iter()
            .map(|&id| &self.values[id as usize].value)
    }

    fn ids_in<'s>(&self, context: &'s NodeContext, channel: &str) -> &'s [u32] {
        let index = self.names.iter().position(|n| &**n == channel);
        index
            .and_then(|index| context.iter().find(|(c, _)| usize::from(*c) == index))
            .map_or(&[], |(_, ids)| ids.as_slice())
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
            let upstream = self.canvas.upstream_in_spec_order(n, &self.order);
            stack.push((n, None));
            let at = stack.len() - 1;
            stack.extend(
                upstream
                    .iter()
                    .rev()
                    .filter(|u| !seen.contains(*u) && !stop(self, **u))
                    .map(|u| (*u, None)),
            );
            stack[at].1 = Some(upstream);
        }
        order
    }

    /// A node's channels from its inputs' channels, in input order, then
    /// its own values.
    fn joined(&mut self, upstream: &[NodeIndex], own: &[(u16, u32)]) -> NodeContext {
        // A join's channel `at` marks its classes with `stamp + at`.
        let names = self.names.len() as u32;
        if self.stamp.checked_add(2 * names + 1).is_none() {
            self.marks.fill(0);
            self.stamp = 0;
        }
        self.stamp += names + 1;
        let mut channels: Vec<(u16, Channel)> = Vec::new();
        // Whether a channel's classes are marked: only once a value is added.
        let mut marked: Vec<bool> = Vec::new();
        for u in upstream {
            let Some(theirs) = self.known(*u).cloned() else {
                continue;
            };
            for (channel, ids) in theirs.iter() {
                match channels.iter().position(|(c, _)| c == channel) {
                    None => {
                        channels.push((*channel, ids.clone()));
                        marked.push(false);
                    }
                    Some(at) if Rc::ptr_eq(&channels[at].1, ids) => {}
                    Some(at) => {
                        for &id in ids.iter() {
                            self.push_class(&mut channels[at].1, &mut marked[at], at, id);
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
                    marked.push(false);
                    channels.len() - 1
                }
            };
            self.push_class(&mut channels[at].1, &mut marked[at], at, id);
        }
        Rc::new(channels)
    }

    /// Appends `id` to the join's channel `at` unless a value of its class
    /// is there already.
    fn push_class(&mut self, channel: &mut Channel, marked: &mut bool, at: usize, id: u32) {
        let stamp = self.stamp + at as u32;
        if !*marked {
            for &known in channel.iter() {
                self.marks[self.values[known as usize].class as usize] = stamp;
            }
            *marked = true;
        }
        let class = self.values[id as usize].class as usize;
        if self.marks[class] != stamp {
            self.marks[class] = stamp;
            Rc::make_mut(channel).push(id);
        }
    }

    /// A node's channels by walking everything upstream of it.
    fn walked(&mut self, ix: NodeIndex) -> NodeContext {
        let mut channels: Vec<(u16, Channel)> = Vec::new();
        for (n, _) in self.post_order(ix, |_, _| false) {
            for (channel, id) in self.own_values(n) {
                let at = match channels.iter().position(|(c, _)| *c == channel) {
                    Some(at) => at,
                    None => {
                        channels.push((channel, Rc::new(Vec::new())));
                        channels.len() - 1
                    }
                };
                let (value, hash) = (
                    &self.values[id as usize].value,
                    self.values[id as usize].hash,
                );
                let same = channel_has(&self.values, &channels[at].1, hash, value);
                if !same {
                    Rc::make_mut(&mut channels[at].1).push(id);
                }
            }
        }
        Rc::new(channels)
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
            order: &EdgeOrder::Lookup(canvas),
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

    /// The index of `value`, shared with an exact repeat met before; its
    /// class that of a value the same as it, if any.
    fn intern(&mut self, value: Value) -> u32 {
        let hash = hash_of(&value, &mut self.walk);
        let id = self.values.len() as u32;
        let mut class = None;
        let mut last = NONE;
        let mut at = self.by_hash.get(&hash).copied().unwrap_or(NONE);
        while at != NONE {
            let known = &self.values[at as usize];
            if known.value == value {
                return at;
            }
            if class.is_none() && same_value(&known.value, &value) {
                class = Some(known.class);
            }
            last = at;
            at = known.next;
        }
        if last == NONE {
            self.by_hash.insert(hash, id);
        } else {
            self.values[last as usize].next = id;
        }
        let class = class.unwrap_or_else(|| {
            self.classes += 1;
            self.marks.push(0);
            self.classes - 1
        });
        self.values.push(Interned {
            value,
            hash,
            class,
            next: NONE,
        });
        id
    }
}

/// Whether `channel` holds a value the same as `value` (of hash `hash`).
fn channel_has(values: &[Interned], channel: &[u32], hash: u64, value: &Value) -> bool {
    channel.iter().any(|&k| {
        let known = &values[k as usize];
        known.hash == hash && same_value(&known.value, value)
    })
}

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
