//! The live canvas: the document plus the indexes that make every op a
//! constant-time check (node and edge maps, a graph with a maintained
//! topological order).

mod apply;
mod changes;
mod connect;
mod decode;
mod graph;
mod load;
mod properties;
mod reach;

use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use petgraph::visit::{EdgeIndexable, EdgeRef, NodeIndexable};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use apply::Applied;
pub use properties::Properties;

pub(crate) use changes::Change;
use changes::ChangeLog;
pub(crate) use graph::Graph;

use crate::catalog::{Catalog, NodeTypeSpec};
use crate::error::{Error, Result};
use crate::limits::{MAX_DOCUMENT_BYTES, check_text};
use crate::model::{
    CANVAS_FORMAT, CanvasDocument, DocumentOut, Edge, FORMAT_VERSION, Group, Node, PortRef,
    Position, Story, Viewport, check_id,
};

/// Edge data kept in the graph; the endpoints are the graph's own.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub id: Arc<str>,
    pub source_port: Arc<str>,
    pub target_port: Arc<str>,
}

/// Nodes and edges by id, in canvas order. Every op and every plan looks ids
/// up, so the hasher is foldhash (seeded per map) rather than SipHash.
pub(crate) type IdMap<V> = IndexMap<Arc<str>, V, foldhash::quality::RandomState>;

/// A node as the canvas holds it.
#[derive(Debug, Clone)]
pub(crate) struct NodeEntry {
    pub ix: NodeIndex,
    pub type_name: Arc<str>,
    pub type_version: u32,
    /// None when the type is unknown or its version unsupported: the node is
    /// kept as loaded, reported by validation, and refuses ops that need a spec.
    pub spec: Option<Arc<NodeTypeSpec>>,
    // Boxed: most nodes have neither, and these are in every node.
    pub label: Option<Box<str>>,
    pub position: Position,
    pub properties: Properties,
    pub ui: Option<Box<Value>>,
    /// What the node itself contributes to its content key, hashed by the
    /// planner on first use and kept: a plan then reads no property values
    /// of unchanged nodes. Every change to a node goes through
    /// `Canvas::replace_node`, which clears it.
    pub own_digest: OnceLock<[u8; 32]>,
    /// Every value was checked against `spec` by an op. Specs never change
    /// under a node, so validation need not check them again; values from a
    /// loaded document or a restore are not known to be checked.
    pub values_checked: bool,
}

/// Why an edge could not join the graph; it is kept, in its place, and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detached {
    /// An end names a node that does not exist.
    Dangling,
    /// Source and target are the same node.
    SelfLoop,
    /// It would close a cycle.
    Cycle,
}

/// An edge in the canvas order: live in the graph, or kept aside.
#[derive(Debug, Clone)]
pub(crate) enum EdgeSlot {
    Live(EdgeIndex),
    Detached(Box<(Edge, Detached)>),
}

/// A production canvas: nodes, edges, groups and layout. Ops keep it valid at
/// the level of connections (the graph is acyclic and every edge an op makes
/// fits its ports); what a loaded document brings that does not fit is kept
/// and reported by [`Canvas::validate`].
///
/// ```
/// use reelgraph::{Canvas, Catalog, Op};
/// use serde_json::json;
///
/// let mut canvas = Canvas::new(Catalog::builtin(), "demo", "Demo");
/// let applied = canvas.apply(vec![
///     Op::add_node("hero", "character", json!({"name": "Mara", "trigger_word": "mara_v2"})),
///     Op::add_node("s1", "shot", json!({"number": 1, "prompt": "Mara looks up"})),
///     Op::connect(("hero", "character"), ("s1", "characters")),
/// ]).unwrap();
/// assert_eq!(applied.revision, 1);
///
/// // Undo with the inverse ops.
/// canvas.apply(applied.inverse).unwrap();
/// assert_eq!(canvas.node_count(), 0);
/// ```
#[derive(Debug)]
pub struct Canvas {
    catalog: Catalog,
    /// Shared with every change event, which would otherwise copy it.
    id: Arc<str>,
    name: String,
    revision: u64,
    created_at: String,
    updated_at: String,
    /// The millisecond `updated_at` shows, when an apply wrote it (else 0).
    updated_ms: u64,
    nodes: IdMap<NodeEntry>,
    edges: IdMap<EdgeSlot>,
    groups: IndexMap<String, Group>,
    viewport: Viewport,
    story: Story,
    metadata: Map<String, Value>,
    pub(crate) graph: Graph,
    migrated: Vec<Migrated>,
    changes: ChangeLog,
    spare_journal: apply::SpareJournal,
    /// The buffer a new node's property values are built in, by spec position.
    spare_slots: Vec<Option<Value>>,
}

/// A node that was brought to its type's current version on load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Migrated {
    pub node: String,
    pub from_version: u32,
    pub to_version: u32,
}

impl Canvas {
    /// An empty canvas, for ids and names written in the program.
    ///
    /// # Panics
    ///
    /// When `id` is not a valid id (empty, over [`crate::model::MAX_ID_BYTES`],
    /// control characters, white space at either end) or `name` is over
    /// [`crate::limits::MAX_LABEL_BYTES`]: no store could save that canvas.
    /// For ids and names from users, use [`Canvas::try_new`].
    pub fn new(catalog: Catalog, id: &str, name: &str) -> Self {
        match Canvas::try_new(catalog, id, name) {
            Ok(canvas) => canvas,
            Err(e) => panic!("Canvas::new: {e} (use Canvas::try_new for ids from users)"),
        }
    }

    /// An empty canvas, or why `id` or `name` cannot be a saved canvas's:
    /// `invalid_id` or `invalid_field`. The checks are the ones every load
    /// and save makes.
    ///
    /// ```
    /// use reelgraph::{Canvas, Catalog};
    ///
    /// let canvas = Canvas::try_new(Catalog::builtin(), "film", "Film").unwrap();
    /// assert_eq!(canvas.id(), "film");
    /// let err = Canvas::try_new(Catalog::builtin(), " film", "Film").unwrap_err();
    /// assert_eq!(err.code(), "invalid_id");
    /// ```
    pub fn try_new(catalog: Catalog, id: &str, name: &str) -> Result<Self> {
        check_id(id)?;
        check_text("name", name)?;
        let now = now_rfc3339();
        Ok(Canvas {
            catalog,
            id: id.into(),
            name: name.into(),
            revision: 0,
            created_at: now.clone(),
            updated_at: now,
            updated_ms: 0,
            nodes: IdMap::default(),
            edges: IdMap::default(),
            groups: IndexMap::new(),
            viewport: Viewport::default(),
            story: Story::default(),
            metadata: Map::new(),
            graph: Graph::new(),
            migrated: Vec::new(),
            changes: ChangeLog::default(),
            spare_journal: Default::default(),
            spare_slots: Vec::new(),
        })
    }

    /// Reads a canvas from its JSON document (see [`Canvas::from_document`]).
    pub fn from_json(catalog: Catalog, text: &str) -> Result<Self> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::TooLarge {
                size: text.len(),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        // One pass for a current document; the document path for the rest.
        if let Some(canvas) = decode::decode(&catalog, text) {
            return Ok(canvas);
        }
        Canvas::from_document(catalog, CanvasDocument::from_json(text)?)
    }

    /// Builds a canvas from a document. Nodes of older type versions are
    /// migrated; nodes of unknown types, dangling edges and edges that would
    /// close a cycle are kept as they are and reported by [`Canvas::validate`],
    /// so loading never loses data. Duplicate ids are refused.
    pub fn from_document(catalog: Catalog, doc: CanvasDocument) -> Result<Self> {
        load::load(catalog, doc)
    }

    /// The canvas as a JSON document.
    pub fn to_json(&self) -> String {
        // Serialising plain data into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The canvas as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A document copy of the canvas.
    pub fn to_document(&self) -> CanvasDocument {
        CanvasDocument {
            format: CANVAS_FORMAT.into(),
            format_version: FORMAT_VERSION,
            id: self.id.to_string(),
            name: self.name.clone(),
            revision: self.revision,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            nodes: self.nodes().collect(),
            edges: self.edges().collect(),
            groups: self.groups.values().cloned().collect(),
            viewport: self.viewport,
            story: self.story,
            metadata: self.metadata.clone(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn revision(&self) -> u64 {
        self.revision
    }
    pub fn created_at(&self) -> &str {
        &self.created_at
    }
    pub fn updated_at(&self) -> &str {
        &self.updated_at
    }
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    pub fn viewport(&self) -> Viewport {
        self.viewport
    }
    pub fn story(&self) -> Story {
        self.story
    }
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    /// Every edge, live or kept aside.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }
    /// Nodes migrated to their type's current version when the canvas was loaded.
    pub fn migrations_applied(&self) -> &[Migrated] {
        &self.migrated
    }

    /// One node, as a document node.
    pub fn node(&self, id: &str) -> Option<Node> {
        self.nodes.get_key_value(id).map(|(k, e)| node_doc(k, e))
    }

    /// Every node, in canvas order.
    pub fn nodes(&self) -> impl Iterator<Item = Node> + '_ {
        self.nodes.iter().map(|(k, e)| node_doc(k, e))
    }

    /// One edge, as a document edge.
    pub fn edge(&self, id: &str) -> Option<Edge> {
        self.edges.get(id).map(|slot| self.edge_doc(slot))
    }

    /// Every edge, in canvas order.
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.edges.values().map(|slot| self.edge_doc(slot))
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Node ids in a topological order (every node after the nodes that feed it).
    pub fn topological_order(&self) -> Vec<String> {
        self.graph
            .nodes_iter()
            .map(|ix| self.graph[ix].to_string())
            .collect()
    }

    /// The edges arriving at a node, as (edge, source node, source port, target port),
    /// in canvas order.
    pub(crate) fn incoming(&self, ix: NodeIndex) -> Vec<(EdgeIndex, NodeIndex, &Link)> {
        self.incoming_by(ix, &EdgeOrder::Lookup(self))
    }

    /// [`Canvas::incoming`], with edge positions from `order`.
    pub(crate) fn incoming_by(
        &self,
        ix: NodeIndex,
        order: &EdgeOrder<'_>,
    ) -> Vec<(EdgeIndex, NodeIndex, &Link)> {
        let mut list: Vec<_> = self
            .graph
            .inner()
            .edges_directed(ix, Direction::Incoming)
            .map(|e| (e.id(), e.source(), e.weight()))
            .collect();
        if list.len() > 1 {
            // One lookup per edge, not one per comparison.
            list.sort_by_cached_key(|(eix, _, link)| order.position(*eix, link));
        }
        list
    }

    /// Nodes whose content or incoming edges changed after `revision`, or
    /// `None` when that is too long ago to know.
    pub(crate) fn changes_since(&self, revision: u64) -> Option<&[Change]> {
        self.changes.since(revision)
    }

    pub(crate) fn entry(&self, id: &str) -> Option<&NodeEntry> {
        self.nodes.get(id)
    }

    pub(crate) fn entry_at(&self, ix: NodeIndex) -> (&Arc<str>, &NodeEntry) {
        let id = &self.graph[ix];
        let entry = &self.nodes[&**id];
        (id, entry)
    }

    /// An edge's position in the canvas order.
    pub(crate) fn edge_position(&self, id: &str) -> usize {
        self.edges.get_index_of(id).unwrap_or(usize::MAX)
    }

    /// Every live edge's position in the canvas order, by graph edge slot:
    /// one pass instead of a map lookup per edge, for whole-canvas work.
    pub(crate) fn edge_positions(&self) -> Vec<u32> {
        let mut positions = vec![u32::MAX; self.graph.inner().edge_bound()];
        for (position, slot) in self.edges.values().enumerate() {
            if let EdgeSlot::Live(eix) = slot {
                positions[eix.index()] = position as u32;
            }
        }
        positions
    }

    /// Every node by graph slot: one pass over the node map instead of a
    /// lookup per node, for whole-canvas work.
    pub(crate) fn entries_by_slot(&self) -> Vec<Option<(&Arc<str>, &NodeEntry)>> {
        let mut slots = vec![None; self.graph.inner().node_bound()];
        for (id, entry) in &self.nodes {
            slots[entry.ix.index()] = Some((id, entry));
        }
        slots
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Arc<str>, &NodeEntry)> {
        self.nodes.iter()
    }

    /// Edges kept aside, in canvas order.
    pub(crate) fn detached_edges(&self) -> impl Iterator<Item = &(Edge, Detached)> {
        self.edges.values().filter_map(|slot| match slot {
            EdgeSlot::Detached(d) => Some(&**d),
            EdgeSlot::Live(_) => None,
        })
    }

    /// The length of the canvas's JSON without its nodes and edges (their
    /// lists empty): the part of a document that is neither.
    pub(crate) fn header_json_len(&self) -> usize {
        let none: [(); 0] = [];
        crate::delta::json_len(&DocumentOut {
            format: CANVAS_FORMAT,
            format_version: FORMAT_VERSION,
            id: &self.id,
            name: &self.name,
            revision: self.revision,
            created_at: &self.created_at,
            updated_at: &self.updated_at,
            nodes: none,
            edges: none,
            groups: self.groups.values().collect::<Vec<_>>(),
            viewport: &self.viewport,
            story: &self.story,
            metadata: &self.metadata,
        })
    }

    fn edge_doc(&self, slot: &EdgeSlot) -> Edge {
        match slot {
            EdgeSlot::Live(ix) => {
                let g = self.graph.inner();
                let link = &g[*ix];
                let (s, t) = g
                    .edge_endpoints(*ix)
                    .unwrap_or((NodeIndex::end(), NodeIndex::end()));
                Edge {
                    id: link.id.to_string(),
                    source: PortRef::new(&*g[s], &*link.source_port),
                    target: PortRef::new(&*g[t], &*link.target_port),
                }
            }
            EdgeSlot::Detached(d) => d.0.clone(),
        }
    }
}

/// Where edges stand in the canvas order: a table for whole-canvas passes,
/// or a map lookup per edge for the few a re-plan (or small run) touches.
pub(crate) enum EdgeOrder<'c> {
    Table(Vec<u32>),
    Lookup(&'c Canvas),
}

impl EdgeOrder<'_> {
    pub(crate) fn position(&self, edge: EdgeIndex, link: &Link) -> usize {
        match self {
            EdgeOrder::Table(positions) => positions[edge.index()] as usize,
            EdgeOrder::Lookup(canvas) => canvas.edge_position(&link.id),
        }
    }
}

pub(crate) fn node_doc(id: &str, e: &NodeEntry) -> Node {
    Node {
        id: id.into(),
        node_type: e.type_name.to_string(),
        type_version: e.type_version,
        label: e.label.as_deref().map(str::to_owned),
        position: e.position,
        properties: e.properties.to_map(),
        ui: e.ui.as_deref().cloned(),
    }
}

/// The current time as RFC 3339 with milliseconds, UTC.
pub(crate) fn now_rfc3339() -> String {
    now_rfc3339_at(std::time::SystemTime::now())
}

/// A time as RFC 3339 with milliseconds, UTC.
pub(crate) fn now_rfc3339_at(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

// Serialisation streams straight from the live structures, without building a
// document copy: this is the hot path of every save.
impl Serialize for Canvas {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct NodeOut<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            node_type: &'a str,
            type_version: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            label: Option<&'a str>,
            position: Position,
            properties: &'a Properties,
            #[serde(skip_serializing_if = "Option::is_none")]
            ui: Option<&'a Value>,
        }
        #[derive(Serialize)]
        struct PortOut<'a> {
            node: &'a str,
            port: &'a str,
        }
        #[derive(Serialize)]
        struct EdgeOut<'a> {
            id: &'a str,
            source: PortOut<'a>,
            target: PortOut<'a>,
        }
        struct Seq<I>(std::cell::RefCell<Option<I>>);
        impl<I: Iterator<Item = T>, T: Serialize> Serialize for Seq<I> {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                let iter = self.0.borrow_mut().take();
                s.collect_seq(iter.into_iter().flatten())
            }
        }
        let g = self.graph.inner();
        let nodes = self.nodes.iter().map(|(id, e)| NodeOut {
            id,
            node_type: &e.type_name,
            type_version: e.type_version,
            label: e.label.as_deref(),
            position: e.position,
            properties: &e.properties,
            ui: e.ui.as_deref(),
        });
        let edges = self.edges.values().map(|slot| match slot {
            EdgeSlot::Live(ix) => {
                let link = &g[*ix];
                let (src, tgt) = g
                    .edge_endpoints(*ix)
                    .unwrap_or((NodeIndex::end(), NodeIndex::end()));
                EdgeOut {
                    id: &link.id,
                    source: PortOut {
                        node: &g[src],
                        port: &link.source_port,
                    },
                    target: PortOut {
                        node: &g[tgt],
                        port: &link.target_port,
                    },
                }
            }
            EdgeSlot::Detached(d) => EdgeOut {
                id: &d.0.id,
                source: PortOut {
                    node: &d.0.source.node,
                    port: &d.0.source.port,
                },
                target: PortOut {
                    node: &d.0.target.node,
                    port: &d.0.target.port,
                },
            },
        });
        DocumentOut {
            format: CANVAS_FORMAT,
            format_version: FORMAT_VERSION,
            id: &self.id,
            name: &self.name,
            revision: self.revision,
            created_at: &self.created_at,
            updated_at: &self.updated_at,
            nodes: Seq(std::cell::RefCell::new(Some(nodes))),
            edges: Seq(std::cell::RefCell::new(Some(edges))),
            groups: Seq(std::cell::RefCell::new(Some(self.groups.values()))),
            viewport: &self.viewport,
            story: &self.story,
            metadata: &self.metadata,
        }
        .serialize(s)
    }
}
