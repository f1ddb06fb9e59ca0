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
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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
    let mut tables = Tables::new(catalog);
    let mut de = serde_json::Deserializer::from_str(text);
    let head = DocumentSeed(&mut tables).deserialize(&mut de).ok()?;
    de.end().ok()?;
    if head.format != CANVAS_FORMAT || head.format_version != FORMAT_VERSION {
        return None;
    }
    let header = CanvasDocument {
        format: CANVAS_FORMAT.into(),
        format_version: head.format_version,
        id: head.id,
        name: head.name,
        revision: head.revision,
        created_at: head.created_at,
        updated_at: head.updated_at,
        nodes: Vec::new(),
        edges: Vec::new(),
        groups: Vec::new(),
        viewport: head.viewport,
        story: head.story,
        metadata: head.metadata,
    };
    check_canvas_fields(&header).ok()?;

    let mut groups = IndexMap::with_capacity(head.groups.len());
    for group in head.groups {
        check_group(&group).ok()?;
        if groups.contains_key(&group.id) {
            return None;
        }
        groups.insert(group.id.clone(), group);
    }

    let Tables {
        graph,
        nodes,
        edges,
        ..
    } = tables;
    Some(Canvas {
        catalog: catalog.clone(),
        id: header.id,
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
    })
}

/// The node and edge tables, filled as the document's lists are read: no
/// list of parsed nodes or edges is held in between.
struct Tables<'c> {
    specs: Specs<'c>,
    graph: Graph,
    nodes: IdMap<super::NodeEntry>,
    edges: IdMap<EdgeSlot>,
}

impl<'c> Tables<'c> {
    fn new(catalog: &'c Catalog) -> Self {
        Tables {
            specs: Specs::new(catalog),
            graph: Graph::new(),
            nodes: IdMap::default(),
            edges: IdMap::default(),
        }
    }

    /// Adds a node; `None` on a duplicate id or a node for the document path.
    fn add_node(&mut self, node: NodeIn<'_>) -> Option<()> {
        let (id, entry) = node.into_entry(&mut self.specs, &mut self.graph)?;
        match self.nodes.entry(id) {
            indexmap::map::Entry::Occupied(_) => None,
            indexmap::map::Entry::Vacant(slot) => {
                slot.insert(entry);
                Some(())
            }
        }
    }

    /// Adds an edge, live or kept aside, once every node is in; `None` on
    /// a duplicate id or a broken limit.
    fn add_edge(&mut self, edge: &EdgeIn<'_>) -> Option<()> {
        check_id(&edge.id).ok()?;
        if edge.source.port.len() > MAX_PORT_BYTES || edge.target.port.len() > MAX_PORT_BYTES {
            return None;
        }
        let id: Arc<str> = Arc::from(&*edge.id);
        let (source, target) = (
            (&*edge.source.node, &*edge.source.port),
            (&*edge.target.node, &*edge.target.port),
        );
        let slot = match link_ends(&mut self.graph, &self.nodes, id.clone(), source, target) {
            Ok(ix) => EdgeSlot::Live(ix),
            Err(why) => EdgeSlot::Detached(Box::new((edge.to_edge(), why))),
        };
        match self.edges.entry(id) {
            indexmap::map::Entry::Occupied(_) => None,
            indexmap::map::Entry::Vacant(free) => {
                free.insert(slot);
                Some(())
            }
        }
    }
}

/// What a document holds besides its nodes and edges.
struct Head<'a> {
    format: Cow<'a, str>,
    format_version: u32,
    id: String,
    name: String,
    revision: u64,
    created_at: String,
    updated_at: String,
    groups: Vec<Group>,
    viewport: Viewport,
    story: Story,
    metadata: Map<String, Value>,
}

/// The fields of `CanvasDocument`; any other is refused.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Format,
    FormatVersion,
    Id,
    Name,
    Revision,
    CreatedAt,
    UpdatedAt,
    Nodes,
    Edges,
    Groups,
    Viewport,
    Story,
    Metadata,
}

/// Reads a document as `CanvasDocument` does (the same fields, defaults
/// and refusals), with nodes and edges going straight into the tables.
/// Edges listed before the nodes wait for them.
struct DocumentSeed<'t, 'c>(&'t mut Tables<'c>);

impl<'de, 't, 'c> DeserializeSeed<'de> for DocumentSeed<'t, 'c> {
    type Value = Head<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Head<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 't, 'c> Visitor<'de> for DocumentSeed<'t, 'c> {
    type Value = Head<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a canvas document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
        fn twice<E: de::Error>(seen: bool, field: &'static str) -> Result<(), E> {
            if seen {
                Err(E::duplicate_field(field))
            } else {
                Ok(())
            }
        }
        let tables = self.0;
        let (mut format, mut format_version, mut id) = (None, None, None);
        let (mut name, mut revision, mut created_at, mut updated_at) = (None, None, None, None);
        let (mut groups, mut viewport, mut story, mut metadata) = (None, None, None, None);
        let (mut nodes_seen, mut edges_seen) = (false, false);
        let mut waiting: Vec<EdgeIn<'de>> = Vec::new();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Format => {
                    twice::<A::Error>(format.is_some(), "format")?;
                    format = Some(map.next_value::<Cow<'de, str>>()?);
                }
                Field::FormatVersion => {
                    twice::<A::Error>(format_version.is_some(), "format_version")?;
                    format_version = Some(map.next_value::<u32>()?);
                }
                Field::Id => {
                    twice::<A::Error>(id.is_some(), "id")?;
                    id = Some(map.next_value::<String>()?);
                }
                Field::Name => {
                    twice::<A::Error>(name.is_some(), "name")?;
                    name = Some(map.next_value::<String>()?);
                }
                Field::Revision => {
                    twice::<A::Error>(revision.is_some(), "revision")?;
                    revision = Some(map.next_value::<u64>()?);
                }
                Field::CreatedAt => {
                    twice::<A::Error>(created_at.is_some(), "created_at")?;
                    created_at = Some(map.next_value::<String>()?);
                }
                Field::UpdatedAt => {
                    twice::<A::Error>(updated_at.is_some(), "updated_at")?;
                    updated_at = Some(map.next_value::<String>()?);
                }
                Field::Nodes => {
                    twice::<A::Error>(nodes_seen, "nodes")?;
                    nodes_seen = true;
                    map.next_value_seed(ListSeed(&mut *tables, List::Nodes))?;
                }
                Field::Edges => {
                    twice::<A::Error>(edges_seen, "edges")?;
                    edges_seen = true;
                    if nodes_seen {
                        map.next_value_seed(ListSeed(&mut *tables, List::Edges))?;
                    } else {
                        waiting = map.next_value()?;
                    }
                }
                Field::Groups => {
                    twice::<A::Error>(groups.is_some(), "groups")?;
                    groups = Some(map.next_value::<Vec<Group>>()?);
                }
                Field::Viewport => {
                    twice::<A::Error>(viewport.is_some(), "viewport")?;
                    viewport = Some(map.next_value::<Viewport>()?);
                }
                Field::Story => {
                    twice::<A::Error>(story.is_some(), "story")?;
                    story = Some(map.next_value::<Story>()?);
                }
                Field::Metadata => {
                    twice::<A::Error>(metadata.is_some(), "metadata")?;
                    metadata = Some(map.next_value::<MetadataIn>()?.0);
                }
            }
        }
        for edge in &waiting {
            tables.add_edge(edge).ok_or_else(refused)?;
        }
        Ok(Head {
            format: format.ok_or_else(|| de::Error::missing_field("format"))?,
            format_version: format_version
                .ok_or_else(|| de::Error::missing_field("format_version"))?,
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            name: name.unwrap_or_default(),
            revision: revision.unwrap_or_default(),
            created_at: created_at.unwrap_or_default(),
            updated_at: updated_at.unwrap_or_default(),
            groups: groups.unwrap_or_default(),
            viewport: viewport.unwrap_or_default(),
            story: story.unwrap_or_default(),
            metadata: metadata.unwrap_or_default(),
        })
    }
}

/// The error that sends a document to the document path, which words it.
fn refused<E: de::Error>() -> E {
    E::custom("not for the one-pass load")
}

/// Which list a [`ListSeed`] reads.
#[derive(Clone, Copy)]
enum List {
    Nodes,
    Edges,
}

/// A document's `nodes` or `edges`, each item into the tables as it is read.
struct ListSeed<'t, 'c>(&'t mut Tables<'c>, List);

impl<'de, 't, 'c> DeserializeSeed<'de> for ListSeed<'t, 'c> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, 't, 'c> Visitor<'de> for ListSeed<'t, 'c> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ListSeed(tables, list) = self;
        match list {
            List::Nodes => {
                while let Some(node) = seq.next_element::<NodeIn<'de>>()? {
                    tables.add_node(node).ok_or_else(refused)?;
                }
            }
            List::Edges => {
                while let Some(edge) = seq.next_element::<EdgeIn<'de>>()? {
                    tables.add_edge(&edge).ok_or_else(refused)?;
                }
            }
        }
        Ok(())
    }
}

/// `metadata`, with unique keys at every depth.
struct MetadataIn(Map<String, Value>);

impl<'de> Deserialize<'de> for MetadataIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::unique_keys::map(d).map(MetadataIn)
    }
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
