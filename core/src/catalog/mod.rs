//! The node-type catalogue: built-in types compiled in from `core/catalog/*.json`,
//! plus whatever users register at run time.

mod builder;
mod property_index;
pub mod spec;
mod spec_check;
mod value_check;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock, RwLock};

pub use builder::NodeTypeBuilder;
pub(crate) use property_index::PropertyIndex;
pub use spec::{
    Accepts, AppliesWhen, InputSpec, Migration, NodeTypeSpec, OutputSpec, PropertyKind,
    PropertySpec, TaskSpec, Template,
};
pub(crate) use value_check::{PropertyValues, check_value, property_applies};

use crate::error::{Error, Result};
use crate::model::DataType;

const BUILTIN_FILES: [(&str, &str); 5] = [
    ("story.json", include_str!("../../catalog/story.json")),
    ("assets.json", include_str!("../../catalog/assets.json")),
    (
        "generation.json",
        include_str!("../../catalog/generation.json"),
    ),
    ("post.json", include_str!("../../catalog/post.json")),
    ("output.json", include_str!("../../catalog/output.json")),
];

/// The built-in types, parsed once per process: every canvas made without
/// a catalogue starts from them, and parsing the files took 5.8M
/// instructions each time. Never changed after it is built.
static BUILTIN: LazyLock<Registry> = LazyLock::new(|| {
    let catalog = Catalog::empty();
    for (file, text) in BUILTIN_FILES {
        if let Err(e) = catalog.register_json(text) {
            // The files are compiled in and covered by tests; this is a build defect.
            panic!("built-in catalogue file {file} is invalid: {e}");
        }
    }
    catalog.add_conversion(DataType::new("integer"), DataType::new("float"));
    catalog.read().clone()
});

/// A shared, thread-safe registry of node types. Cloning is cheap and clones
/// see each other's registrations.
///
/// ```
/// use reelgraph::Catalog;
///
/// let catalog = Catalog::builtin();
/// let shot = catalog.get("shot").expect("shot is built in");
/// assert_eq!(shot.category, "story");
///
/// catalog.register_json(r#"{
///     "type": "lut_grade", "category": "post", "title": "LUT grade",
///     "inputs": [{"name": "image", "type": "image", "required": true}],
///     "outputs": [{"name": "image", "type": "image"}],
///     "properties": [{"name": "lut", "type": "asset_ref", "pattern": ".*\\.cube"}]
/// }"#).unwrap();
/// assert!(catalog.get("lut_grade").is_some());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    inner: Arc<RwLock<Registry>>,
}

#[derive(Debug, Default, Clone)]
struct Registry {
    types: BTreeMap<Arc<str>, Registered>,
    /// `(from, to)`: an output of `from` may feed an input of `to`.
    conversions: HashSet<(DataType, DataType)>,
}

impl Catalog {
    /// A catalogue with no types and no conversions.
    pub fn empty() -> Self {
        Catalog::default()
    }

    /// The built-in catalogue: story, assets, generation, post and output types,
    /// and the `integer → float` conversion.
    pub fn builtin() -> Self {
        // Each catalogue gets its own registry, so registrations stay apart;
        // the specs in it are immutable and shared.
        Catalog {
            inner: Arc::new(RwLock::new(BUILTIN.clone())),
        }
    }

    /// Registers one spec. A type already registered at the same or a higher
    /// version is refused; a higher version replaces the older one (its
    /// migrations bring old nodes forward).
    pub fn register(&self, spec: NodeTypeSpec) -> Result<Arc<NodeTypeSpec>> {
        let spec = Arc::new(spec_check::prepare(spec)?);
        let mut reg = self.write();
        if let Some(existing) = reg.types.get(&spec.type_name)
            && existing.spec.version >= spec.version
        {
            return Err(Error::DuplicateNodeType {
                type_name: spec.type_name.to_string(),
                version: existing.spec.version,
            });
        }
        reg.types
            .insert(spec.type_name.clone(), Registered::new(spec.clone()));
        Ok(spec)
    }

    /// Registers one spec (a JSON object) or several (a JSON array), all or none.
    pub fn register_json(&self, text: &str) -> Result<Vec<Arc<NodeTypeSpec>>> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let specs = match value {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(parse_spec)
                .collect::<Result<Vec<_>>>()?,
            one => vec![parse_spec(one)?],
        };
        let prepared = specs
            .into_iter()
            .map(spec_check::prepare)
            .collect::<Result<Vec<_>>>()?;
        {
            let reg = self.read();
            for spec in &prepared {
                if let Some(existing) = reg.types.get(&spec.type_name)
                    && existing.spec.version >= spec.version
                {
                    return Err(Error::DuplicateNodeType {
                        type_name: spec.type_name.to_string(),
                        version: existing.spec.version,
                    });
                }
            }
        }
        let mut reg = self.write();
        Ok(prepared
            .into_iter()
            .map(|spec| {
                let spec = Arc::new(spec);
                reg.types
                    .insert(spec.type_name.clone(), Registered::new(spec.clone()));
                spec
            })
            .collect())
    }

    /// The current spec of a type.
    pub fn get(&self, type_name: &str) -> Option<Arc<NodeTypeSpec>> {
        self.read().types.get(type_name).map(|r| r.spec.clone())
    }

    /// The current spec of a type with its [`PropertyIndex`].
    pub(crate) fn get_indexed(
        &self,
        type_name: &str,
    ) -> Option<(Arc<NodeTypeSpec>, Arc<PropertyIndex>)> {
        self.read()
            .types
            .get(type_name)
            .map(|r| (r.spec.clone(), r.index.clone()))
    }

    /// Every registered type, sorted by name.
    pub fn types(&self) -> Vec<Arc<NodeTypeSpec>> {
        self.read().types.values().map(|r| r.spec.clone()).collect()
    }

    /// The names of every registered type, sorted.
    pub fn type_names(&self) -> Vec<String> {
        self.read().types.keys().map(|k| k.to_string()).collect()
    }

    /// Declares that outputs of `from` may feed inputs of `to`.
    pub fn add_conversion(&self, from: DataType, to: DataType) {
        self.write().conversions.insert((from, to));
    }

    /// Whether an input accepts an output of type `given`: equal types, an
    /// `any` input, a union that lists it, or a declared conversion.
    pub fn accepts(&self, input: &InputSpec, given: &DataType) -> bool {
        if input
            .accepts
            .0
            .iter()
            .any(|t| t == given || t.as_str() == DataType::ANY)
        {
            return true;
        }
        let reg = self.read();
        input
            .accepts
            .0
            .iter()
            .any(|t| reg.conversions.contains(&(given.clone(), t.clone())))
    }

    /// Every output type an input accepts, for hints: its own types and those
    /// that convert to them.
    pub fn accepted_types(&self, input: &InputSpec) -> Vec<String> {
        let reg = self.read();
        let mut out: Vec<String> = input.accepts.0.iter().map(|t| t.to_string()).collect();
        for (from, to) in &reg.conversions {
            if input.accepts.lists(to) && !out.iter().any(|t| t == from.as_str()) {
                out.push(from.to_string());
            }
        }
        out
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the map half-written
        // (inserts are single calls), so a poisoned lock is still sound.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A registered spec, with what its properties say worked out once.
#[derive(Debug, Clone)]
struct Registered {
    spec: Arc<NodeTypeSpec>,
    index: Arc<PropertyIndex>,
}

impl Registered {
    fn new(spec: Arc<NodeTypeSpec>) -> Self {
        let index = Arc::new(PropertyIndex::new(&spec));
        Registered { spec, index }
    }
}

fn parse_spec(value: serde_json::Value) -> Result<NodeTypeSpec> {
    let type_name = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("?")
        .to_owned();
    serde_json::from_value(value).map_err(|e| Error::InvalidSpec {
        type_name,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogues_share_specs_but_not_registrations() {
        let (one, other) = (Catalog::builtin(), Catalog::builtin());
        let spec = |c: &Catalog| c.get("shot").expect("shot is built in");
        assert!(Arc::ptr_eq(&spec(&one), &spec(&other)));

        one.register_json(
            r#"{"type": "lut_grade", "category": "post", "title": "LUT grade",
                "outputs": [{"name": "image", "type": "image"}]}"#,
        )
        .expect("registers");
        one.add_conversion(DataType::new("text"), DataType::new("image"));
        assert!(one.get("lut_grade").is_some());
        assert!(other.get("lut_grade").is_none());
        assert!(Catalog::builtin().get("lut_grade").is_none());
        let fresh = Catalog::builtin();
        assert_eq!(fresh.read().conversions, other.read().conversions);
        assert_ne!(one.read().conversions, other.read().conversions);
    }
}
