//! Building a node type in code instead of JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::spec::{
    Accepts, InputSpec, NodeTypeSpec, OutputSpec, PropertyKind, PropertySpec, TaskSpec, Template,
};
use crate::model::DataType;

/// Builds a [`NodeTypeSpec`]; register the result with [`crate::Catalog::register`].
///
/// ```
/// use reelgraph::{Catalog, NodeTypeBuilder, PropertyKind, PropertySpec};
///
/// let spec = NodeTypeBuilder::new("color_grade", "post", "Colour grade")
///     .input("image", &["image"], true, false)
///     .output("image", "image")
///     .property(PropertySpec::new("exposure", PropertyKind::Float).range(-5.0, 5.0).default_value(0.0))
///     .task("media.grade")
///     .param_property("exposure", "exposure")
///     .build();
/// let catalog = Catalog::builtin();
/// catalog.register(spec).unwrap();
/// ```
#[derive(Debug)]
pub struct NodeTypeBuilder {
    spec: NodeTypeSpec,
}

impl NodeTypeBuilder {
    pub fn new(type_name: &str, category: &str, title: &str) -> Self {
        NodeTypeBuilder {
            spec: NodeTypeSpec {
                type_name: Arc::from(type_name),
                version: 1,
                category: category.into(),
                title: title.into(),
                description: String::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                properties: Vec::new(),
                provides: BTreeMap::new(),
                task: None,
                migrations: Vec::new(),
            },
        }
    }

    pub fn version(mut self, version: u32) -> Self {
        self.spec.version = version;
        self
    }

    pub fn description(mut self, text: &str) -> Self {
        self.spec.description = text.into();
        self
    }

    /// An input accepting one type or a union of types.
    pub fn input(mut self, name: &str, types: &[&str], required: bool, multiple: bool) -> Self {
        self.spec.inputs.push(InputSpec {
            name: Arc::from(name),
            accepts: Accepts(types.iter().map(|t| DataType::new(t)).collect()),
            required,
            multiple,
            description: String::new(),
        });
        self
    }

    pub fn output(mut self, name: &str, data_type: &str) -> Self {
        self.spec.outputs.push(OutputSpec {
            name: Arc::from(name),
            data_type: DataType::new(data_type),
            description: String::new(),
        });
        self
    }

    pub fn property(mut self, property: PropertySpec) -> Self {
        self.spec.properties.push(property);
        self
    }

    /// What this node hands downstream on a context channel.
    pub fn provides(mut self, channel: &str, template: Template) -> Self {
        self.spec.provides.insert(channel.into(), template);
        self
    }

    /// Makes the node a task for the runner function `function`.
    pub fn task(mut self, function: &str) -> Self {
        self.spec.task = Some(TaskSpec {
            function: function.into(),
            params: BTreeMap::new(),
            quality: BTreeMap::new(),
            quality_fallback: false,
        });
        self
    }

    /// A task parameter computed by `template` (call [`Self::task`] first).
    pub fn param(mut self, name: &str, template: Template) -> Self {
        if let Some(task) = &mut self.spec.task {
            task.params.insert(name.into(), template);
        }
        self
    }

    /// A task parameter taken from a property of the same node.
    pub fn param_property(self, name: &str, property: &str) -> Self {
        self.param(name, Template::Property(property.into()))
    }

    pub fn build(self) -> NodeTypeSpec {
        self.spec
    }
}

impl PropertySpec {
    /// A property with no constraints beyond its kind.
    pub fn new(name: &str, kind: PropertyKind) -> Self {
        PropertySpec {
            name: Arc::from(name),
            kind,
            description: String::new(),
            default: None,
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            max_items: None,
            values: Vec::new(),
            pattern: None,
            required: false,
            items: None,
            fields: None,
            applies_when: None,
            affects_output: true,
            compiled_pattern: Default::default(),
        }
    }

    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    pub fn values(mut self, values: &[&str]) -> Self {
        self.values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    pub fn pattern(mut self, pattern: &str) -> Self {
        self.pattern = Some(pattern.into());
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}
