//! `Canvas::from_json` in one pass: a current, well-formed document is read
//! straight into the canvas's tables. Ids, type names and port names are
//! borrowed from the text and looked up, so a node's type and an edge's ends
//! cost no allocation; property names are the spec's own. Anything this pass
//! does not take as it is (an older format, a node type to migrate, a limit
//! or id rule broken, malformed text) gives `None`, and the caller takes the
//! document path, which migrates or says exactly what is wrong.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::changes::ChangeLog;
use super::load::{link_ends, node_entry, to_properties};
use super::{Canvas, EdgeSlot, Graph, IdMap};
use crate::catalog::{Catalog, NodeTypeSpec};
use crate::limits::{
    MAX_PORT_BYTES, check_canvas_fields, check_group, check_position, check_property_depth,
    check_text, check_ui,
};
use crate::model::{
    CANVAS_FORMAT, CanvasDocument, Edge, FORMAT_VERSION, Group, PortRef, Position, Story, Viewport,
    check_id,
};
use crate::unique_keys::UniqueValue;

/// The canvas of a current document, or `None` for the document path.
pub(super) fn decode(catalog: &Catalog, text: &str) -> Option<Canvas> {
    let doc: DocumentIn = serde_json::from_str(text).ok()?;
    if doc.format != CANVAS_FORMAT || doc.format_version != FORMAT_VERSION {
        return None;
    }
    let header = CanvasDocument {
        format: CANVAS_FORMAT.into(),
        format_version: doc.format_version,
        id: doc.id,
        name: doc.name,
        revision: doc.revision,
        created_at: doc.created_at,
        updated_at: doc.updated_at,
        nodes: Vec::new(),
        edges: Vec::new(),
        groups: Vec::new(),
        viewport: doc.viewport,
        story: doc.story,
        metadata: doc.metadata,
    };
    check_canvas_fields(&header).ok()?;

    let mut graph = Graph::with_capacity(doc.nodes.len(), doc.edges.len());
    let mut nodes = IdMap::with_capacity_and_hasher(doc.nodes.len(), Default::default());
    let mut specs = Specs::new(catalog);
    for node in doc.nodes {
        let (id, entry) = node.into_entry(&mut specs, &mut graph)?;
        if nodes.insert(id, entry).is_some() {
            return None;
        }
    }

    let mut edges = IdMap::with_capacity_and_hasher(doc.edges.len(), Default::default());
    for edge in &doc.edges {
        check_id(&edge.id).ok()?;
        if edge.source.port.len() > MAX_PORT_BYTES || edge.target.port.len() > MAX_PORT_BYTES {
            return None;
        }
        let id: Arc<str> = Arc::from(&*edge.id);
        let (source, target) = (
            (&*edge.source.node, &*edge.source.port),
            (&*edge.target.node, &*edge.target.port),
        );
        let slot = match link_ends(&mut graph, &nodes, id.clone(), source, target) {
            Ok(ix) => EdgeSlot::Live(ix),
            Err(why) => EdgeSlot::Detached(Box::new((edge.to_edge(), why))),
        };
        if edges.insert(id, slot).is_some() {
            return None;
        }
    }

    let mut groups = IndexMap::with_capacity(doc.groups.len());
    for group in doc.groups {
        check_group(&group).ok()?;
        if groups.contains_key(&group.id) {
            return None;
        }
        groups.insert(group.id.clone(), group);
    }

    Some(Canvas {
        catalog: catalog.clone(),
        id: header.id.into(),
        name: header.name,
        revision: header.revision,
        created_at: header.created_at,
        updated_at: header.updated_at,
        updated_ms: 0,
        nodes,
        edges,
        groups,
        viewport: header.viewport,
        story: header.story,
        metadata: header.metadata,
        graph,
        migrated: Vec::new(),
        changes: ChangeLog::starting_at(header.revision),
        spare_journal: Default::default(),
        spare_slots: Vec::new(),
    })
}

/// `CanvasDocument` with its nodes and edges borrowed from the text; the
/// same fields, defaults and refusals.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentIn<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    format_version: u32,
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    revision: u64,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    updated_at: String,
    #[serde(default, borrow)]
    nodes: Vec<NodeIn<'a>>,
    #[serde(default, borrow)]
    edges: Vec<EdgeIn<'a>>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    viewport: Viewport,
    #[serde(default)]
    story: Story,
    #[serde(default, deserialize_with = "crate::unique_keys::map")]
    metadata: Map<String, Value>,
}

/// `Node`, borrowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeIn<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    node_type: Cow<'a, str>,
    type_version: u32,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    position: Position,
    #[serde(default, borrow)]
    properties: PropertiesIn<'a>,
    #[serde(default, deserialize_with = "crate::unique_keys::option_value")]
    ui: Option<Value>,
}

impl NodeIn<'_> {
    /// The node's table entry, after the checks `check_node` makes; `None`
    /// when one fails or the node needs migrating.
    fn into_entry(
        self,
        specs: &mut Specs<'_>,
        graph: &mut Graph,
    ) -> Option<(Arc<str>, super::NodeEntry)> {
        check_id(&self.id).ok()?;
        if let Some(label) = &self.label {
            check_text("label", label).ok()?;
        }
        check_position(self.position).ok()?;
        check_ui(self.ui.as_ref()).ok()?;
        for (name, value) in &self.properties.0 {
            check_property_depth(&self.id, name, value).ok()?;
        }
        if self.properties.has_duplicates() {
            return None;
        }
        let spec = match specs.get(&self.node_type) {
            Some(spec) if spec.version == self.type_version => Some(spec),
            Some(spec) if self.type_version < spec.version => return None,
            _ => None,
        };
        let id: Arc<str> = Arc::from(&*self.id);
        let type_name = spec
            .as_ref()
            .map_or_else(|| Arc::from(&*self.node_type), |s| s.type_name.clone());
        let properties = to_properties(spec.as_deref(), self.properties.0);
        let entry = node_entry(
            graph,
            &id,
            type_name,
            self.type_version,
            spec,
            properties,
            self.label,
            self.position,
            self.ui,
        );
        Some((id, entry))
    }
}

/// A node's properties in document order, names borrowed.
#[derive(Default)]
struct PropertiesIn<'a>(Vec<(Cow<'a, str>, Value)>);

impl PropertiesIn<'_> {
    fn has_duplicates(&self) -> bool {
        let names = &self.0;
        if names.windows(2).all(|w| w[0].0 < w[1].0) {
            return false;
        }
        let mut sorted: Vec<&str> = names.iter().map(|(k, _)| &**k).collect();
        sorted.sort_unstable();
        sorted.windows(2).any(|w| w[0] == w[1])
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for PropertiesIn<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = PropertiesIn<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(Name(name)) = map.next_key()? {
                    let UniqueValue(value) = map.next_value()?;
                    entries.push((name, value));
                }
                Ok(PropertiesIn(entries))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl<'de> Visitor<'de> for Key {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        d.deserialize_str(Key)
    }
}

/// `Edge`, borrowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeIn<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    source: PortIn<'a>,
    #[serde(borrow)]
    target: PortIn<'a>,
}

impl EdgeIn<'_> {
    /// The document edge, for an edge kept aside.
    fn to_edge(&self) -> Edge {
        Edge {
            id: self.id.to_string(),
            source: PortRef::new(&*self.source.node, &*self.source.port),
            target: PortRef::new(&*self.target.node, &*self.target.port),
        }
    }
}

/// `PortRef`, borrowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortIn<'a> {
    #[serde(borrow)]
    node: Cow<'a, str>,
    #[serde(borrow)]
    port: Cow<'a, str>,
}

/// The catalogue's specs by type name, looked up once per type: the
/// catalogue's own lookup takes a lock.
struct Specs<'c> {
    catalog: &'c Catalog,
    known: HashMap<String, Option<Arc<NodeTypeSpec>>, foldhash::quality::RandomState>,
}

impl<'c> Specs<'c> {
    fn new(catalog: &'c Catalog) -> Self {
        Specs {
            catalog,
            known: HashMap::default(),
        }
    }

    fn get(&mut self, type_name: &str) -> Option<Arc<NodeTypeSpec>> {
        if let Some(spec) = self.known.get(type_name) {
            return spec.clone();
        }
        let spec = self.catalog.get(type_name);
        self.known.insert(type_name.to_owned(), spec.clone());
        spec
    }
}
