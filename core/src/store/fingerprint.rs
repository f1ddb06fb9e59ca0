//! Fingerprints of saved versions: what a change summary needs to know about
//! a version, in 16 bytes per node and 8 per edge, so that a save describes
//! its change without reading and parsing the document it replaces.
//!
//! A fingerprint keeps, in document order, a hash of each node's id and of
//! the whole node, a hash of each edge's id, and one hash each of the name,
//! the groups, the story, the metadata and the viewport. Comparing two of
//! them with the same rules as [`change_summary`](super::change_summary)
//! gives the same words: the hashes are of the values, not of their JSON, and
//! they treat values alike exactly where `==` does (maps in any order, `0.0`
//! and `-0.0`), so only a 64-bit hash collision can tell them apart.
//!
//! Stores keep the fingerprint of each canvas's current version next to it
//! (see the file and SQLite stores); it is a cache: when it is missing,
//! damaged, or no longer matches the stored document, the save reads the
//! previous document as before.

use serde::Serialize;
use serde::ser;

use super::summary::{Changes, diff};
use crate::model::{CanvasDocument, Node};

/// What [`Fingerprint::summary_since`] compares; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// Per node, in document order: (hash of its id, hash of the node).
    nodes: Vec<(u64, u64)>,
    /// Per edge, in document order: the hash of its id. The summary counts
    /// edges added and removed, never changed.
    edges: Vec<u64>,
    name: u64,
    groups: u64,
    story: u64,
    metadata: u64,
    viewport: u64,
}

impl Fingerprint {
    /// The fingerprint of a document.
    pub(crate) fn of(doc: &CanvasDocument) -> Fingerprint {
        Fingerprint::with_nodes(doc, doc.nodes.iter().map(node_entry).collect())
    }

    /// The fingerprint of a document whose nodes' entries (see
    /// [`node_entry`]) were taken as its JSON was written.
    pub(crate) fn with_nodes(doc: &CanvasDocument, nodes: Vec<(u64, u64)>) -> Fingerprint {
        Fingerprint {
            nodes,
            edges: doc.edges.iter().map(|e| hash_str(&e.id)).collect(),
            name: hash_str(&doc.name),
            groups: hash_value(&doc.groups),
            story: hash_value(&doc.story),
            metadata: hash_value(&doc.metadata),
            viewport: hash_value(&doc.viewport),
        }
    }

    /// Sets the nodes' entries, in document order.
    pub(crate) fn set_nodes(&mut self, nodes: Vec<(u64, u64)>) {
        self.nodes = nodes;
    }

    /// The change from `before` to this version, worded as
    /// [`change_summary`](super::change_summary) words it.
    pub(crate) fn summary_since(&self, before: &Fingerprint) -> String {
        Changes {
            nodes: diff(&before.nodes, &self.nodes, |n| n.0),
            edges: diff(&before.edges, &self.edges, |e| *e),
            groups: before.groups != self.groups,
            renamed: before.name != self.name,
            story: before.story != self.story,
            metadata: before.metadata != self.metadata,
            viewport: before.viewport != self.viewport,
        }
        .describe()
    }

    /// The fingerprint as bytes, sealed with `tag` (which names the stored
    /// version it describes) and a checksum.
    pub(crate) fn to_bytes(&self, tag: &[u64]) -> Vec<u8> {
        let words = 4 + tag.len() + 5 + 2 * self.nodes.len() + self.edges.len() + 1;
        let mut out = Vec::with_capacity(8 * words);
        out.extend_from_slice(MAGIC);
        let mut put = |w: u64| out.extend_from_slice(&w.to_le_bytes());
        put(tag.len() as u64);
        tag.iter().copied().for_each(&mut put);
        put(self.nodes.len() as u64);
        put(self.edges.len() as u64);
        for w in [
            self.name,
            self.groups,
            self.story,
            self.metadata,
            self.viewport,
        ] {
            put(w);
        }
        for &(id, node) in &self.nodes {
            put(id);
            put(node);
        }
        self.edges.iter().copied().for_each(&mut put);
        let check = checksum(&out);
        out.extend_from_slice(&check.to_le_bytes());
        out
    }

    /// Reads what [`Fingerprint::to_bytes`] wrote with the same `tag`; none if
    /// the bytes are damaged, cut short, or sealed with another tag.
    pub(crate) fn from_bytes(bytes: &[u8], tag: &[u64]) -> Option<Fingerprint> {
        let body = bytes.strip_prefix(MAGIC)?;
        if body.len() % 8 != 0 || body.len() < 8 {
            return None;
        }
        let (body, check) = body.split_at(body.len() - 8);
        if word(check)? != checksum(&bytes[..bytes.len() - 8]) {
            return None;
        }
        let mut words = body.chunks_exact(8).map(|c| word(c).unwrap_or_default());
        let mut next = || words.next();
        if usize::try_from(next()?).ok()? != tag.len() {
            return None;
        }
        for &expected in tag {
            if next()? != expected {
                return None;
            }
        }
        let node_count = usize::try_from(next()?).ok()?;
        let edge_count = usize::try_from(next()?).ok()?;
        let expected_words = (1 + tag.len() + 2 + 5)
            .checked_add(node_count.checked_mul(2)?)?
            .checked_add(edge_count)?;
        if body.len() / 8 != expected_words {
            return None;
        }
        let (name, groups, story, metadata, viewport) =
            (next()?, next()?, next()?, next()?, next()?);
        let mut nodes = Vec::with_capacity(node_count);
        for _ in 0..node_count {
            nodes.push((next()?, next()?));
        }
        let mut edges = Vec::with_capacity(edge_count);
        for _ in 0..edge_count {
            edges.push(next()?);
        }
        Some(Fingerprint {
            nodes,
            edges,
            name,
            groups,
            story,
            metadata,
            viewport,
        })
    }
}

/// A node's entry in a fingerprint: the hash of its id, and the hash of the
/// node (see [`node_entry_from_json`]).
pub(crate) fn node_entry(node: &Node) -> (u64, u64) {
    // Serialising a node cannot fail; were it to, the node would hash as empty.
    let json = serde_json::to_vec(node).unwrap_or_default();
    node_entry_from_json(node, &json)
}

/// A node's entry from its JSON as serde_json writes it — one text per
/// value: map keys sorted, each number in its one shortest form, so equal
/// nodes write equal JSON. The one exception `==` makes, `0.0 == -0.0`, is
/// made here too: a `-0.0` token hashes as `0.0`. (With serde_json's
/// `preserve_order` feature, maps would keep their insertion order and two
/// equal nodes could hash apart; reelgraph does not enable it.)
pub(crate) fn node_entry_from_json(node: &Node, json: &[u8]) -> (u64, u64) {
    let mut h = Hasher::new();
    if h.bytes_noting(json, b'-') {
        let normal = without_negative_zero(json);
        if normal.len() != json.len() {
            h = Hasher::new();
            h.bytes(&normal);
        }
    }
    (hash_str(&node.id), h.finish())
}

/// `json` with every `-0.0` number (outside strings) written `0.0`.
fn without_negative_zero(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    let mut in_string = false;
    while i < json.len() {
        let b = json[i];
        if in_string {
            match b {
                b'\\' => {
                    out.extend_from_slice(&json[i..(i + 2).min(json.len())]);
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'-'
            && json[i + 1..].starts_with(b"0.0")
            && !json.get(i + 4).is_some_and(u8::is_ascii_digit)
        {
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The first bytes of a stored fingerprint: a name and its encoding version.
const MAGIC: &[u8; 8] = b"rgfp\x00\x00\x00\x01";

fn word(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = Hasher::new();
    h.bytes(bytes);
    h.finish()
}

// ---------------------------------------------------------------------------
// Hashing

/// A 64-bit hash that is the same on every platform and in every build (the
/// fingerprints are stored): a multiply-xorshift step per 8-byte word, each
/// step a bijection of the state, and a final avalanche. Not for adversaries;
/// a collision only words a history line wrongly.
#[derive(Debug, Clone, Copy)]
struct Hasher(u64);

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher {
    fn new() -> Hasher {
        Hasher(0x243F_6A88_85A3_08D3)
    }

    #[inline]
    fn word(&mut self, w: u64) {
        let x = (self.0 ^ w).wrapping_mul(MULTIPLIER);
        self.0 = x ^ (x >> 29);
    }

    /// [`Hasher::bytes`], saying whether `byte` occurs in `bytes`.
    #[inline]
    fn bytes_noting(&mut self, bytes: &[u8], byte: u8) -> bool {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        let pattern = ONES * u64::from(byte);
        // A zero byte in `w ^ pattern` is an occurrence.
        let has = |w: u64| {
            let x = w ^ pattern;
            (x.wrapping_sub(ONES) & !x & HIGHS) != 0
        };
        self.word(bytes.len() as u64);
        let mut seen = false;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let w = word(chunk).unwrap_or_default();
            seen |= has(w);
            self.word(w);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            seen |= rest.contains(&byte);
            self.word(u64::from_le_bytes(last));
        }
        seen
    }

    #[inline]
    fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.word(word(chunk).unwrap_or_default());
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }

    fn finish(self) -> u64 {
        // MurmurHash3's 64-bit finaliser.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }
}

fn hash_str(s: &str) -> u64 {
    let mut h = Hasher::new();
    h.bytes(s.as_bytes());
    h.finish()
}

/// The hash of a value as serde sees it. Every kind of value starts with its
/// own tag and is self-delimiting, so different values hash different
/// streams of words.
fn hash_value<T: Serialize + ?Sized>(value: &T) -> u64 {
    let mut h = Hasher::new();
    if value.serialize(&mut h).is_err() {
        // Only 128-bit integers cannot be hashed; no canvas holds one.
        h.word(tag::ERROR);
    }
    h.finish()
}

mod tag {
    pub(super) const BOOL: u64 = 1;
    pub(super) const UNSIGNED: u64 = 2;
    pub(super) const SIGNED: u64 = 3;
    pub(super) const FLOAT: u64 = 4;
    pub(super) const STRING: u64 = 5;
    pub(super) const BYTES: u64 = 6;
    pub(super) const NONE: u64 = 7;
    pub(super) const SOME: u64 = 8;
    pub(super) const UNIT: u64 = 9;
    pub(super) const VARIANT: u64 = 10;
    pub(super) const SEQ: u64 = 11;
    pub(super) const STRUCT: u64 = 12;
    pub(super) const FIELD: u64 = 13;
    pub(super) const MAP: u64 = 14;
    pub(super) const END: u64 = 15;
    pub(super) const ERROR: u64 = 16;
}

type Error = serde_json::Error;

impl<'a> ser::Serializer for &'a mut Hasher {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = MapHasher<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.word(tag::BOOL);
        self.word(u64::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.word(tag::SIGNED);
        self.word(v as u64);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.word(tag::UNSIGNED);
        self.word(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        // `==` holds 0.0 and -0.0 equal; so does the hash.
        let v = if v == 0.0 { 0.0 } else { v };
        self.word(tag::FLOAT);
        self.word(v.to_bits());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.word(tag::STRING);
        self.bytes(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.word(tag::BYTES);
        self.bytes(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.word(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.word(tag::SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.word(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.word(tag::VARIANT);
        self.bytes(variant.as_bytes());
        self.serialize_unit()
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.word(tag::VARIANT);
        self.bytes(variant.as_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, Error> {
        self.word(tag::SEQ);
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Self, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, Error> {
        self.word(tag::VARIANT);
        self.bytes(variant.as_bytes());
        self.serialize_seq(Some(len))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapHasher<'a>, Error> {
        Ok(MapHasher {
            parent: self,
            entry: Hasher::new(),
            sum: 0,
            count: 0,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, Error> {
        self.word(tag::STRUCT);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, Error> {
        self.word(tag::VARIANT);
        self.bytes(variant.as_bytes());
        self.word(tag::STRUCT);
        Ok(self)
    }
}

impl ser::SerializeSeq for &mut Hasher {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        self.word(tag::END);
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Hasher {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for &mut Hasher {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for &mut Hasher {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for &mut Hasher {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.word(tag::FIELD);
        self.bytes(key.as_bytes());
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        self.word(tag::END);
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Hasher {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeStruct::end(self)
    }
}

/// Hashes a map without regard to the order of its entries (as `==` on
/// maps compares them): each entry is hashed on its own and the entry
/// hashes are summed.
#[derive(Debug)]
struct MapHasher<'a> {
    parent: &'a mut Hasher,
    entry: Hasher,
    sum: u64,
    count: u64,
}

impl ser::SerializeMap for MapHasher<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.entry = Hasher::new();
        key.serialize(&mut self.entry)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut self.entry)?;
        self.sum = self.sum.wrapping_add(self.entry.finish());
        self.count += 1;
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        self.parent.word(tag::MAP);
        self.parent.word(self.count);
        self.parent.word(self.sum);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{Edge, Group, PortRef, StoryStructure};
    use crate::store::change_summary;

    fn node(id: &str, x: f64, properties: serde_json::Value) -> Node {
        let serde_json::Value::Object(properties) = properties else {
            panic!("properties are an object");
        };
        Node {
            id: id.into(),
            node_type: "shot".into(),
            type_version: 1,
            label: None,
            position: crate::model::Position::new(x, 0.0),
            properties,
            ui: None,
        }
    }

    fn edge(id: &str, from: &str, to: &str) -> Edge {
        Edge {
            id: id.into(),
            source: PortRef::new(from, "shot"),
            target: PortRef::new(to, "shot"),
        }
    }

    fn base() -> CanvasDocument {
        let mut doc: CanvasDocument = serde_json::from_value(json!({
            "format": "reelgraph.canvas",
            "format_version": 2,
            "id": "fp",
            "name": "Fingerprints",
        }))
        .expect("a document");
        doc.nodes = (0..8)
            .map(|i| {
                node(
                    &format!("n{i}"),
                    f64::from(i),
                    json!({"number": i, "tags": ["a", "b"]}),
                )
            })
            .collect();
        doc.edges = (0..7)
            .map(|i| edge(&format!("e{i}"), &format!("n{i}"), &format!("n{}", i + 1)))
            .collect();
        doc
    }

    type Change = fn(&mut CanvasDocument);

    /// Each change applied to the base, as a function of a copy.
    fn changes() -> Vec<(&'static str, Change)> {
        vec![
            ("nothing", |_| {}),
            ("revision only", |d| d.revision += 1),
            ("moved", |d| d.nodes[3].position.x += 1.0),
            ("minus zero", |d| d.nodes[0].position.x = -0.0),
            ("property", |d| {
                d.nodes[5].properties.insert("number".into(), json!(5.0));
            }),
            ("label", |d| d.nodes[1].label = Some("one".into())),
            ("empty label", |d| d.nodes[1].label = Some(String::new())),
            ("ui", |d| d.nodes[1].ui = Some(json!(null))),
            ("nested", |d| {
                d.nodes[2]
                    .properties
                    .insert("tags".into(), json!(["a", ["b"]]));
            }),
            ("swapped strings", |d| {
                d.nodes[2]
                    .properties
                    .insert("tags".into(), json!(["b", "a"]));
            }),
            ("added", |d| d.nodes.push(node("n9", 9.0, json!({})))),
            ("inserted", |d| {
                d.nodes.insert(4, node("n10", 1.0, json!({})))
            }),
            ("removed", |d| {
                d.nodes.remove(2);
            }),
            ("reordered", |d| d.nodes.reverse()),
            ("reordered and changed", |d| {
                d.nodes.swap(1, 6);
                d.nodes[1].node_type = "image_gen".into();
            }),
            ("replaced", |d| {
                d.nodes[7] = node("n11", 7.0, json!({"number": 7}))
            }),
            ("edge added", |d| d.edges.push(edge("e9", "n0", "n7"))),
            ("edge removed", |d| {
                d.edges.remove(0);
            }),
            ("edge rewired", |d| d.edges[2].target.node = "n7".into()),
            ("edges reordered", |d| d.edges.reverse()),
            ("group", |d| {
                d.groups.push(Group {
                    id: "g".into(),
                    label: None,
                    nodes: vec!["n1".into()],
                    ui: None,
                });
            }),
            ("renamed", |d| d.name = "Other".into()),
            ("story", |d| {
                d.story.structure = Some(StoryStructure::ThreeAct)
            }),
            ("metadata", |d| {
                d.metadata
                    .insert("k".into(), json!({"a": 1, "b": [true, null]}));
            }),
            ("viewport", |d| d.viewport.zoom = 2.0),
            ("viewport and node", |d| {
                d.viewport.x = 3.0;
                d.nodes[0].position.y = 3.0;
            }),
            ("everything", |d| {
                d.nodes.clear();
                d.edges.clear();
                d.name.clear();
            }),
        ]
    }

    #[test]
    fn fingerprints_word_every_change_as_documents_do() {
        let changes = changes();
        let mut versions = vec![("base", base())];
        for (what, change) in &changes {
            let mut doc = base();
            change(&mut doc);
            versions.push((what, doc));
        }
        // Every pair, both ways: fingerprints give the documents' words.
        for (a, before) in &versions {
            for (b, after) in &versions {
                let expected = change_summary(Some(before), after);
                let got = Fingerprint::of(after).summary_since(&Fingerprint::of(before));
                assert_eq!(got, expected, "{a} -> {b}");
            }
        }
        let summary = |what: &str| {
            let (_, doc) = versions.iter().find(|(w, _)| *w == what).expect(what);
            Fingerprint::of(doc).summary_since(&Fingerprint::of(&base()))
        };
        assert_eq!(summary("nothing"), "no content change");
        assert_eq!(summary("minus zero"), "no content change");
        assert_eq!(summary("moved"), "1 node changed");
        assert_eq!(summary("property"), "1 node changed", "5 and 5.0 differ");
        assert_eq!(summary("reordered"), "no content change");
        assert_eq!(summary("edge rewired"), "no content change");
        assert_eq!(summary("viewport and node"), "1 node changed");
        assert_eq!(summary("replaced"), "+1 node, -1 node");
    }

    #[test]
    fn minus_zero_is_zero_outside_strings_only() {
        assert_eq!(serde_json::to_string(&-0.0f64).expect("json"), "-0.0");
        let cases: [(&str, &str); 6] = [
            (r#"{"x":-0.0,"y":-0.0}"#, r#"{"x":0.0,"y":0.0}"#),
            (r#"[-0.0]"#, r#"[0.0]"#),
            (r#"{"x":-0.01,"y":-0.0e5}"#, r#"{"x":-0.01,"y":0.0e5}"#),
            (
                r#"{"s":"-0.0","t":"\"-0.0"}"#,
                r#"{"s":"-0.0","t":"\"-0.0"}"#,
            ),
            (r#"{"s":"\\","x":-0.0}"#, r#"{"s":"\\","x":0.0}"#),
            (r#"{"x":-10.0}"#, r#"{"x":-10.0}"#),
        ];
        for (json, expected) in cases {
            assert_eq!(
                String::from_utf8(without_negative_zero(json.as_bytes())).expect("utf8"),
                expected
            );
        }
        // Strings that differ only by a minus stay apart.
        let a = node("a", 1.0, json!({"s": "-0.0"}));
        let b = node("a", 1.0, json!({"s": "0.0"}));
        assert_ne!(node_entry(&a), node_entry(&b));
        let a = node("a", -0.0, json!({"n": -0.0, "m": [-0.0]}));
        let b = node("a", 0.0, json!({"n": 0.0, "m": [0.0]}));
        assert_eq!(a, b);
        assert_eq!(node_entry(&a), node_entry(&b));
    }

    #[test]
    fn maps_hash_alike_in_any_order() {
        let mut a = serde_json::Map::new();
        a.insert("x".into(), json!(1));
        a.insert("y".into(), json!({"p": [1, 2], "q": "r"}));
        let b: serde_json::Map<String, serde_json::Value> = a
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(hash_value(&a), hash_value(&b));
        // Distinct values, distinct hashes: keys and values do not blur.
        let values = [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(-1),
            json!(""),
            json!("0"),
            json!([]),
            json!([[]]),
            json!([null]),
            json!({}),
            json!({"": null}),
            json!({"a": "b"}),
            json!({"b": "a"}),
            json!({"a": "b", "c": "d"}),
            json!({"a": "d", "c": "b"}),
            json!(["ab", "c"]),
            json!(["a", "bc"]),
            json!("abcdefgh"),
            json!("abcdefgh\u{0}"),
        ];
        let hashes: std::collections::HashSet<u64> = values.iter().map(hash_value).collect();
        assert_eq!(hashes.len(), values.len());
    }

    #[test]
    fn bytes_round_trip_and_refuse_damage_and_other_tags() {
        let fingerprint = Fingerprint::of(&base());
        let bytes = fingerprint.to_bytes(&[7, 9]);
        assert_eq!(
            Fingerprint::from_bytes(&bytes, &[7, 9]),
            Some(fingerprint.clone())
        );
        assert_eq!(Fingerprint::from_bytes(&bytes, &[7, 8]), None);
        assert_eq!(Fingerprint::from_bytes(&bytes, &[7]), None);
        assert_eq!(
            Fingerprint::from_bytes(&bytes[..bytes.len() - 8], &[7, 9]),
            None
        );
        assert_eq!(Fingerprint::from_bytes(&[], &[]), None);
        for i in [0, 9, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x10;
            assert_eq!(Fingerprint::from_bytes(&damaged, &[7, 9]), None, "byte {i}");
        }
        let empty = Fingerprint::of(&CanvasDocument {
            nodes: Vec::new(),
            edges: Vec::new(),
            ..base()
        });
        assert_eq!(
            Fingerprint::from_bytes(&empty.to_bytes(&[]), &[]),
            Some(empty)
        );
    }
}
