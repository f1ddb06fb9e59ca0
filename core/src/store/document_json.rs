//! A stored document's JSON, written and read on two threads when it is
//! large: the `nodes` array on one, the rest of the document on the other.
//!
//! Both halves go through the model's own serde code, and the results are
//! exactly those of one thread: [`write`] gives the bytes of
//! `serde_json::to_string`, and [`Halves`] give what
//! [`CanvasDocument::from_json`] gives, or nothing (and the caller parses
//! the whole text on one thread) whenever the document is not laid out as
//! [`write`] lays it out, is not of the current format version, or does not
//! parse — so every error, with its line and column, comes from the
//! one-thread parse.
//!
//! [`write`] borrows the document, so it runs its second half on a scoped
//! thread. [`Halves`] own their text, so the stores parse them on tokio's
//! blocking pool (see `super::Read`), whose threads live on: a thread made
//! for one parse would get a malloc arena that the next one pays to fault
//! in again.

use serde::Deserialize;

use super::fingerprint;
use crate::error::{Error, Result};
use crate::limits;
use crate::model::{CANVAS_FORMAT, CanvasDocument, DocumentOut, Edge, FORMAT_VERSION, Group, Node};

/// Documents from this size up are read on two threads.
const PARALLEL_BYTES: usize = 1 << 20;
/// Documents with this many nodes and up are written on two threads.
const PARALLEL_NODES: usize = 2_000;

/// How far into a document [`nodes_start`] looks: [`write`] puts `nodes`
/// after the id, the name and a few short fields.
const HEAD_BYTES: usize = 64 * 1024;
/// Where the `nodes` array starts in [`write`]'s layout, and what follows it.
const NODES_KEY: &[u8] = b"\"nodes\":";
const AFTER_NODES: &str = "],\"edges\":[";

/// The document as `serde_json::to_string` writes it, with its nodes'
/// fingerprint entries (see [`fingerprint::node_entry_from_json`]), taken
/// as each node is written, and what `beside` returns. A large document's
/// nodes are written on a scoped second thread while this one writes the
/// rest and runs `beside`.
///
/// Each node and edge is checked against the [limits](crate::limits) just
/// before it is written, while its memory is at hand: what a reader would
/// refuse is refused, and a value too deep never reaches the serialiser.
pub(super) fn write<B>(
    doc: &CanvasDocument,
    beside: impl FnOnce() -> B,
) -> (Result<String>, Vec<(u64, u64)>, B) {
    let (shell, nodes, other) = if doc.nodes.len() < PARALLEL_NODES {
        let nodes = write_nodes(&doc.nodes);
        (write_shell(doc), nodes, beside())
    } else {
        std::thread::scope(|s| {
            let nodes = s.spawn(|| write_nodes(&doc.nodes));
            let shell = write_shell(doc);
            let other = beside();
            match nodes.join() {
                Ok(nodes) => (shell, nodes, other),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    };
    match nodes {
        Ok((nodes, entries)) => (splice(shell, &nodes), entries, other),
        Err(e) => (Err(e), Vec::new(), other),
    }
}

/// The document without its nodes, written; its edges checked on the way
/// (the caller checks the canvas's own fields and groups before `write`:
/// `beside` may read them).
fn write_shell(doc: &CanvasDocument) -> Result<String> {
    doc.edges.iter().try_for_each(limits::check_edge)?;
    Ok(serde_json::to_string(&shell(doc))?)
}

/// The nodes as serde_json writes a `Vec<Node>`, one node at a time, and
/// each node's fingerprint entry from the bytes just written.
fn write_nodes(nodes: &[Node]) -> Result<(String, Vec<(u64, u64)>)> {
    let mut out = Vec::with_capacity(nodes.len() * 256 + 2);
    let mut entries = Vec::with_capacity(nodes.len());
    out.push(b'[');
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        limits::check_node(node)?;
        let start = out.len();
        serde_json::to_writer(&mut out, node)?;
        entries.push(fingerprint::node_entry_from_json(node, &out[start..]));
    }
    out.push(b']');
    let text = String::from_utf8(out).map_err(|_| Error::InvalidJson {
        message: "serde_json wrote bytes that are not UTF-8".into(),
    })?;
    Ok((text, entries))
}

/// Puts the nodes' JSON in place of the shell's empty `nodes`.
fn splice(shell: Result<String>, nodes: &str) -> Result<String> {
    let shell = shell?;
    // The shell's fields before `nodes` are numbers and strings, in which a
    // quote is escaped: the first `"nodes":[]` is the key.
    let at = shell
        .find("\"nodes\":[]")
        .map(|i| i + NODES_KEY.len())
        .ok_or_else(|| Error::InvalidJson {
            message: "the document shell has no nodes".into(),
        })?;
    let mut text = String::with_capacity(shell.len() + nodes.len());
    text.push_str(&shell[..at]);
    text.push_str(nodes);
    text.push_str(&shell[at + 2..]);
    Ok(text)
}

/// A document without its nodes, serialised as [`CanvasDocument`] is with an
/// empty `nodes`. Built by destructuring, so a new document field fails to
/// compile here rather than being left out; the tests compare the bytes.
type Shell<'a> = DocumentOut<'a, [Node; 0], &'a [Edge], &'a [Group]>;

fn shell(doc: &CanvasDocument) -> Shell<'_> {
    let CanvasDocument {
        format,
        format_version,
        id,
        name,
        revision,
        created_at,
        updated_at,
        nodes: _,
        edges,
        groups,
        viewport,
        story,
        metadata,
    } = doc;
    DocumentOut {
        format,
        format_version: *format_version,
        id,
        name,
        revision: *revision,
        created_at,
        updated_at,
        nodes: [],
        edges,
        groups,
        viewport,
        story,
        metadata,
    }
}

/// A large document cut in two, to be parsed on two threads: its nodes and
/// the rest. Each half is parsed by the model's own serde code; together
/// they give what [`CanvasDocument::from_json`] gives for the whole.
#[derive(Debug)]
pub(super) struct Halves {
    /// `{"nodes":[…]}`: the nodes inside an object, as in the document, so
    /// that nesting counts against serde_json's depth limit as it would.
    nodes: String,
    /// The document with `"nodes":[]`.
    rest: String,
    /// Where the `[]` is in `rest`.
    at: usize,
}

impl Halves {
    /// `text` cut in two; none if it is small, mostly not nodes, or not laid
    /// out as [`write`] lays it out (it is then parsed whole, on one thread).
    pub(super) fn of(text: &str) -> Option<Halves> {
        if text.len() < PARALLEL_BYTES {
            return None;
        }
        let start = nodes_start(text.as_bytes())?;
        // An older format version is migrated by `from_json`: not worth a split.
        if !text[..start].contains(&format!("\"format_version\":{FORMAT_VERSION},")) {
            return None;
        }
        let end = start + text[start..].find(AFTER_NODES)? + 1;
        // Both halves are copies; that pays only when the nodes are a good
        // share of the work.
        if end - start < text.len() / 4 {
            return None;
        }
        let mut nodes = String::with_capacity(end - start + 10);
        nodes.push_str("{\"nodes\":");
        nodes.push_str(&text[start..end]);
        nodes.push('}');
        let mut rest = String::with_capacity(text.len() - (end - start) + 2);
        rest.push_str(&text[..start]);
        rest.push_str("[]");
        rest.push_str(&text[end..]);
        Some(Halves {
            nodes,
            rest,
            at: start,
        })
    }

    /// The nodes; none if they do not parse.
    pub(super) fn parse_nodes(&self) -> Option<Vec<Node>> {
        serde_json::from_str::<Nodes>(&self.nodes)
            .ok()
            .map(|n| n.nodes)
    }

    /// The document without its nodes; none unless it parses, is of the
    /// current format version (`from_json` returns it as it is) and has no
    /// other `nodes`.
    pub(super) fn parse_rest(&self) -> Option<CanvasDocument> {
        let doc = serde_json::from_str::<CanvasDocument>(&self.rest).ok()?;
        let current = doc.format == CANVAS_FORMAT && doc.format_version == FORMAT_VERSION;
        (current && doc.nodes.is_empty()).then_some(doc)
    }

    /// The document from its parsed halves.
    pub(super) fn join(
        rest: Option<CanvasDocument>,
        nodes: Option<Vec<Node>>,
    ) -> Option<CanvasDocument> {
        let mut doc = rest?;
        doc.nodes = nodes?;
        Some(doc)
    }

    /// Both halves parsed here, one after the other.
    #[cfg(test)]
    fn parse(&self) -> Option<CanvasDocument> {
        Halves::join(self.parse_rest(), self.parse_nodes())
    }

    /// The text the halves were cut from, to parse it whole after all.
    pub(super) fn whole(&self) -> String {
        let nodes = &self.nodes[NODES_KEY.len() + 1..self.nodes.len() - 1];
        let mut text = String::with_capacity(self.rest.len() + nodes.len());
        text.push_str(&self.rest[..self.at]);
        text.push_str(nodes);
        text.push_str(&self.rest[self.at + 2..]);
        text
    }
}

#[derive(Deserialize)]
struct Nodes {
    nodes: Vec<Node>,
}

/// Where the value of the top-level `nodes` key starts, when it is written
/// `"nodes":[` as [`write`] writes it: the first such key one level deep,
/// outside every string, within the first [`HEAD_BYTES`].
fn nodes_start(text: &[u8]) -> Option<usize> {
    let text = &text[..text.len().min(HEAD_BYTES + NODES_KEY.len() + 1)];
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                if depth == 1
                    && text[i..].starts_with(NODES_KEY)
                    && text.get(i + NODES_KEY.len()) == Some(&b'[')
                {
                    return Some(i + NODES_KEY.len());
                }
                // Skip the string.
                i += 1;
                loop {
                    match *text.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;
    use crate::model::{PortRef, Position, StoryStructure};

    /// What two threads read: the halves, parsed; none if `text` is not cut.
    /// The halves always give back the text.
    fn read(text: &str) -> Option<CanvasDocument> {
        let halves = Halves::of(text)?;
        assert_eq!(halves.whole(), text);
        halves.parse()
    }

    /// A document large enough for two threads.
    fn big(nodes: usize) -> CanvasDocument {
        let mut doc: CanvasDocument = serde_json::from_value(json!({
            "format": "reelgraph.canvas",
            "format_version": 2,
            "id": "big \"quoted\" \\ \"nodes\":[",
            "name": "{\"nodes\":[]}",
            "metadata": {"nodes": [1, 2], "x": "],\"edges\":["},
        }))
        .expect("a document");
        doc.nodes = (0..nodes)
            .map(|i| {
                let mut properties = Map::new();
                properties.insert("prompt".into(), json!(format!("shot {i} \"wide\" ]}}")));
                properties.insert("weights".into(), json!([0.5, -1, i, {"k": null}]));
                Node {
                    id: format!("n{i}"),
                    node_type: "shot".into(),
                    type_version: 1,
                    label: (i % 3 == 0).then(|| format!("Shot {i}")),
                    position: Position::new(i as f64 * 1.5, -0.25),
                    properties,
                    ui: (i % 5 == 0).then(|| json!({"collapsed": true})),
                }
            })
            .collect();
        doc.edges = (1..nodes)
            .map(|i| Edge {
                id: format!("e{i}"),
                source: PortRef::new(format!("n{}", i - 1), "shot"),
                target: PortRef::new(format!("n{i}"), "shot"),
            })
            .collect();
        doc.groups.push(Group {
            id: "g".into(),
            label: None,
            nodes: vec!["n1".into()],
            ui: Some(json!({"color": "red"})),
        });
        doc
    }

    #[test]
    fn two_threads_write_the_bytes_of_one() {
        for nodes in [0, 10, PARALLEL_NODES, PARALLEL_NODES + 1] {
            let mut doc = big(nodes);
            let one = serde_json::to_string(&doc).expect("json");
            assert_eq!(write(&doc, || ()).0.expect("json"), one, "{nodes} nodes");
            doc.story.structure = Some(StoryStructure::BeatSheet);
            doc.story.page_count = Some(90);
            let one = serde_json::to_string(&doc).expect("json");
            assert_eq!(
                write(&doc, || ()).0.expect("json"),
                one,
                "{nodes} nodes with a story"
            );
        }
    }

    #[test]
    fn a_large_document_is_prepared_as_a_small_one_is() {
        let mut doc = big(PARALLEL_NODES + 3);
        doc.nodes[5].position.x = -0.0;
        doc.nodes[6]
            .properties
            .insert("z".into(), json!([-0.0, "-0.0"]));
        let (text, fingerprint) = crate::store::prepare(&doc).expect("prepares");
        assert_eq!(text, serde_json::to_string(&doc).expect("json"));
        assert_eq!(fingerprint, fingerprint::Fingerprint::of(&doc));
    }

    #[test]
    fn two_threads_read_what_one_reads() {
        let doc = big(6_000);
        let text = write(&doc, || ()).0.expect("json");
        assert!(text.len() >= PARALLEL_BYTES, "{} bytes", text.len());
        assert_eq!(read(&text), Some(doc.clone()));
        assert_eq!(
            read(&text[..1000]),
            None,
            "small documents are left to one thread"
        );

        // Laid out otherwise, or not current, or not valid: left to one thread.
        let others = [
            text.replacen("\"nodes\":[", "\"nodes\" : [", 1),
            text.replacen("\"format_version\":2", "\"format_version\":1", 1),
            text.replacen("\"format\":\"reelgraph.canvas\"", "\"format\":\"other\"", 1),
            text.replacen("\"id\":\"n5\"", "\"id\":5", 1),
            text.replacen("],\"edges\":[", "],\"edges\":[],\"nodes\":[", 1),
            text.replacen("\"viewport\"", "\"viewports\"", 1),
            text[..text.len() - 1].to_owned(),
            format!("{text} x"),
        ];
        for other in &others {
            assert_eq!(read(other), None);
        }
    }

    #[test]
    fn a_node_holding_the_boundary_is_read_on_one_thread() {
        let mut doc = big(6_000);
        doc.nodes[7].properties.insert("a".into(), json!([1]));
        doc.nodes[7].properties.insert("edges".into(), json!([2]));
        let text = write(&doc, || ()).0.expect("json");
        assert!(text.contains("[1],\"edges\":[2]"));
        assert_eq!(read(&text), None);
        assert_eq!(CanvasDocument::from_json(&text).expect("parses"), doc);
    }

    #[test]
    fn nesting_counts_as_it_does_on_one_thread() {
        // Deepen one node's properties until one thread refuses the document;
        // two threads must refuse it too, and read the one just below.
        let doc = big(6_000);
        let text = write(&doc, || ()).0.expect("json");
        let marker = "\"weights\":[0.5,-1,100,";
        assert!(text.contains(marker));
        let mut below = None;
        for depth in 100..140 {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let deep = text.replacen(marker, &format!("\"weights\":[{nested},-1,100,"), 1);
            match CanvasDocument::from_json(&deep) {
                Ok(one) => {
                    assert_eq!(read(&deep), Some(one), "depth {depth}");
                    below = Some(depth);
                }
                Err(_) => {
                    assert_eq!(read(&deep), None, "depth {depth}");
                    assert!(below.is_some(), "some depth parses");
                    return;
                }
            }
        }
        panic!("no depth was refused");
    }

    #[test]
    fn the_nodes_key_is_found_only_at_the_top() {
        assert_eq!(nodes_start(br#"{"a":{"nodes":[]},"nodes":[1]}"#), Some(26));
        assert_eq!(nodes_start(br#"{"a":"\"nodes\":[","nodes":[1]}"#), Some(27));
        assert_eq!(nodes_start(br#"{"a":"x\\","nodes":[1]}"#), Some(19));
        assert_eq!(nodes_start(br#"{"nodes":{"nodes":[1]}}"#), None);
        assert_eq!(nodes_start(br#"{"a":"unterminated"#), None);
        assert_eq!(nodes_start(br#"]]"nodes":["#), None);
        let far = format!(r#"{{"a":"{}","nodes":[]}}"#, "x".repeat(HEAD_BYTES));
        assert_eq!(nodes_start(far.as_bytes()), None);
    }
}
