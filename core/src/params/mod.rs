//! Task parameters: the request a node sends to a function runner, built
//! from its type's `task` section, its properties, what its upstream nodes
//! provide, and a quality tier. Runs send them; a [`TaskPreview`] shows them
//! without running anything.

mod context;

use std::collections::BTreeMap;

use petgraph::stable_graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canvas::{Canvas, EdgeOrder, NodeEntry};
use crate::catalog::spec::same_name;
use crate::catalog::{NodeTypeSpec, TaskSpec, Template, property_applies};
use crate::error::{Error, Result};
use crate::model::PortRef;
use crate::quality::Quality;

/// What a node's task would look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskPreview {
    pub node: String,
    pub node_type: String,
    pub function: String,
    pub quality: Quality,
    /// Whether a `resource` error may retry one tier lower.
    pub quality_fallback: bool,
    pub params: Map<String, Value>,
    /// What arrives on each connected input, by port name.
    pub inputs: BTreeMap<String, Vec<PortRef>>,
}

pub(crate) use context::Contexts;
use context::NodeContext;

impl Canvas {
    /// The task `node` would send at `quality`.
    ///
    /// ```
    /// use reelgraph::{Canvas, Catalog, Op, Quality};
    /// use serde_json::json;
    ///
    /// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
    /// canvas.apply(vec![
    ///     Op::add_node("hero", "character", json!({
    ///         "name": "Mara", "lora": "loras/mara.safetensors", "trigger_word": "mara_v2"})),
    ///     Op::add_node("s1", "shot", json!({"number": 1, "prompt": "Mara looks up"})),
    ///     Op::add_node("img", "image_gen", json!({})),
    ///     Op::connect(("hero", "character"), ("s1", "characters")),
    ///     Op::connect(("s1", "shot"), ("img", "shot")),
    /// ]).unwrap();
    /// let task = canvas.task_preview("img", Quality::Draft).unwrap();
    /// assert_eq!(task.function, "image.generate");
    /// assert_eq!(task.params["loras"], json!([{"path": "loras/mara.safetensors", "weight": 0.8}]));
    /// assert_eq!(task.params["trigger_words"], json!(["mara_v2"]));
    /// ```
    pub fn task_preview(&self, node: &str, quality: Quality) -> Result<TaskPreview> {
        let entry = self
            .entry(node)
            .ok_or_else(|| Error::UnknownNode { node: node.into() })?;
        self.task_preview_with(node, entry, quality, &mut Contexts::new(self))
    }

    /// [`Canvas::task_preview`], with context channels shared between previews.
    fn task_preview_with(
        &self,
        node: &str,
        entry: &NodeEntry,
        quality: Quality,
        contexts: &mut Contexts<'_>,
    ) -> Result<TaskPreview> {
        let (spec, task, params) = self.task_params_of(node, entry, quality, false, contexts)?;
        let mut inputs: BTreeMap<String, Vec<PortRef>> = BTreeMap::new();
        for (_, src, link) in self.incoming_by(entry.ix, &contexts.order) {
            let source = PortRef::new(&*self.graph[src], &*link.source_port);
            // The port's name is copied once, not once per edge.
            match inputs.get_mut(&*link.target_port) {
                Some(sources) => sources.push(source),
                None => {
                    inputs.insert(link.target_port.to_string(), vec![source]);
                }
            }
        }
        Ok(TaskPreview {
            node: node.into(),
            node_type: spec.type_name.to_string(),
            function: task.function.clone(),
            quality,
            quality_fallback: task.quality_fallback,
            params,
            inputs,
        })
    }

    /// A node's spec, task and params at `quality`; inputs appear in the
    /// params as `{"node", "port"}` references. With `skip_input_params`, a
    /// param that is exactly an input is left out (the executor fills those
    /// with outputs). `contexts` keeps the context channels worked out, for
    /// the next node.
    pub(crate) fn task_params_of<'c>(
        &'c self,
        node: &str,
        entry: &'c NodeEntry,
        quality: Quality,
        skip_input_params: bool,
        contexts: &mut Contexts<'_>,
    ) -> Result<(&'c NodeTypeSpec, &'c TaskSpec, Map<String, Value>)> {
        let spec = self.spec_of(node, entry)?;
        let task = spec.task.as_ref().ok_or_else(|| Error::NoTask {
            node: node.into(),
            type_name: spec.type_name.to_string(),
        })?;
        // Context is worked out only for nodes whose templates read it.
        let context = if task.params.values().any(reads_context) {
            Some(contexts.of(entry.ix))
        } else {
            None
        };
        let scope = Scope {
            canvas: self,
            id: node,
            entry,
            spec,
            quality,
            order: &contexts.order,
            context: context.as_ref().map(|c| (&*contexts, c)),
        };
        let mut params = Map::new();
        for (name, template) in &task.params {
            if skip_input_params && matches!(template, Template::Input(_)) {
                continue;
            }
            let value = scope.eval(template);
            if !value.is_null() {
                params.insert(name.clone(), value);
            }
        }
        Ok((spec, task, params))
    }

    /// Previews of every node that has a task, in topological order.
    pub fn task_previews(&self, quality: Quality) -> Vec<TaskPreview> {
        let mut contexts = Contexts::whole(self);
        // Entries by graph slot: one pass instead of an id lookup per node.
        let slots = self.entries_by_slot();
        self.graph
            .nodes_iter()
            .filter_map(|ix| {
                let (id, entry) = slots[ix.index()]?;
                entry.spec.as_ref()?.task.as_ref()?;
                self.task_preview_with(id, entry, quality, &mut contexts)
                    .ok()
            })
            .collect()
    }

    /// The nodes feeding `n`, by the spec's input order, then canvas order.
    fn upstream_in_spec_order(&self, n: NodeIndex, order: &EdgeOrder<'_>) -> Vec<NodeIndex> {
        let (_, entry) = self.entry_at(n);
        let mut incoming = self.incoming_by(n, order);
        if let Some(spec) = &entry.spec
            && incoming.len() > 1
        {
            let rank = |port: &str| spec.inputs.iter().position(|p| same_name(&p.name, port));
            // Stable sort: edges of one input keep canvas order.
            incoming.sort_by_cached_key(|(_, _, link)| rank(&link.target_port));
        }
        incoming.into_iter().map(|(_, src, _)| src).collect()
    }
}

/// Whether a template reads upstream context.
fn reads_context(template: &Template) -> bool {
    match template {
        Template::Context(_) => true,
        Template::Template(text) => text.contains("{context."),
        Template::Object(fields) => fields.values().any(reads_context),
        Template::List(items) => items.iter().any(reads_context),
        Template::IfSet(cond) => reads_context(&cond.then),
        Template::Value(_) | Template::Property(_) | Template::Quality(_) | Template::Input(_) => {
            false
        }
    }
}

/// Everything a template may read.
struct Scope<'a> {
    canvas: &'a Canvas,
    id: &'a str,
    entry: &'a NodeEntry,
    spec: &'a NodeTypeSpec,
    quality: Quality,
    /// Where edges stand in the canvas order.
    order: &'a EdgeOrder<'a>,
    /// The node's context channels, when its templates read them.
    context: Option<(&'a Contexts<'a>, &'a NodeContext)>,
}

impl Scope<'_> {
    fn eval(&self, template: &Template) -> Value {
        match template {
            Template::Value(v) => v.clone(),
            Template::Property(name) => self.property(name),
            Template::Quality(name) => self.preset(name),
            Template::Context(channel) => self.context(channel),
            Template::Input(port) => self.input(port),
            Template::Template(text) => {
                let text = self.render(text);
                if text.is_empty() {
                    Value::Null
                } else {
                    Value::String(text)
                }
            }
            Template::Object(fields) => {
                let map: Map<String, Value> = fields
                    .iter()
                    .map(|(k, t)| (k.clone(), self.eval(t)))
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                if map.is_empty() {
                    Value::Null
                } else {
                    Value::Object(map)
                }
            }
            Template::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    match self.eval(item) {
                        Value::Null => {}
                        Value::Array(inner) => {
                            out.extend(inner.into_iter().filter(|v| !v.is_null()))
                        }
                        one => out.push(one),
                    }
                }
                if out.is_empty() {
                    Value::Null
                } else {
                    Value::Array(out)
                }
            }
            Template::IfSet(cond) => {
                if self.property_ref(&cond.property).is_none() {
                    Value::Null
                } else {
                    self.eval(&cond.then)
                }
            }
        }
    }

    /// A property's value, or null when it is unset, empty text, or does not apply.
    fn property(&self, name: &str) -> Value {
        self.property_ref(name).cloned().unwrap_or(Value::Null)
    }

    /// [`Scope::property`], borrowed; `None` where that gives null.
    fn property_ref(&self, name: &str) -> Option<&Value> {
        let prop = self.spec.property(name)?;
        if !property_applies(self.spec, &self.entry.properties, prop) {
            return None;
        }
        match self.entry.properties.get(&prop.name)? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::Null => None,
            v => Some(v),
        }
    }

    /// A context channel's values, or null when it has none.
    fn context(&self, channel: &str) -> Value {
        match self.context {
            Some((contexts, context)) => contexts.values_of(context, channel),
            None => Value::Null,
        }
    }

    fn preset(&self, name: &str) -> Value {
        self.preset_ref(name).cloned().unwrap_or(Value::Null)
    }

    fn preset_ref(&self, name: &str) -> Option<&Value> {
        self.spec
            .task
            .as_ref()
            .and_then(|t| t.quality.get(&self.quality))
            .and_then(|presets| presets.get(name))
    }

    /// References to what arrives on an input: one object for a single input,
    /// a list for a `multiple` one, null when nothing is connected.
    fn input(&self, port: &str) -> Value {
        let mut edges = self
            .canvas
            .graph
            .inner()
            .edges_directed(self.entry.ix, petgraph::Direction::Incoming)
            .filter(|e| &*e.weight().target_port == port)
            .map(|e| (e.id(), e.source(), e.weight()));
        let Some(first) = edges.next() else {
            return Value::Null;
        };
        let reference = |(_, src, link): (_, NodeIndex, &crate::canvas::Link)| {
            let mut reference = Map::new();
            reference.insert(
                "node".into(),
                Value::String(self.canvas.graph[src].to_string()),
            );
            reference.insert("port".into(), Value::String(link.source_port.to_string()));
            Value::Object(reference)
        };
        let multiple = self.spec.input(port).is_some_and(|p| p.multiple);
        // One edge, the usual case, needs no list to sort.
        let Some(second) = edges.next() else {
            let one = reference(first);
            return if multiple {
                Value::Array(vec![one])
            } else {
                one
            };
        };
        let mut all: Vec<_> = [first, second].into_iter().chain(edges).collect();
        // Edges of a multiple input keep canvas order.
        all.sort_by_cached_key(|(eix, _, link)| self.order.position(*eix, link));
        let mut refs = all.into_iter().map(reference);
        if multiple {
            Value::Array(refs.collect())
        } else {
            refs.next().unwrap_or(Value::Null)
        }
    }

    /// Fills `{...}` placeholders; then collapses white space and trims stray
    /// separators left by empty placeholders.
    fn render(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let key = &after[..close];
            // Written straight into the text: no value is cloned to be read.
            match key.split_once('.') {
                Some(("property", p)) => push_text(&mut out, self.property_ref(p)),
                Some(("quality", q)) => push_text(&mut out, self.preset_ref(q)),
                Some(("context", c)) => {
                    if let Some((contexts, context)) = self.context {
                        push_joined(&mut out, contexts.values_in(context, c));
                    }
                }
                Some(("node", "id")) => out.push_str(self.id),
                Some(("node", "label")) => out.push_str(self.entry.label.as_deref().unwrap_or("")),
                None if key == "quality" => out.push_str(self.quality.as_str()),
                _ => {}
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        tidy(&out)
    }
}

/// Appends a value as text: a string as is, a list as its items' texts
/// joined by ", " (empty ones left out), anything else as JSON.
fn push_text(out: &mut String, value: Option<&Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Array(items)) => push_joined(out, items.iter()),
        Some(other) => {
            use std::fmt::Write;
            // Writing into a String cannot fail.
            let _ = write!(out, "{other}");
        }
    }
}

/// Appends the texts of `items` joined by ", ", empty ones left out.
fn push_joined<'v>(out: &mut String, items: impl Iterator<Item = &'v Value>) {
    let mut first = true;
    for item in items {
        let mark = out.len();
        if !first {
            out.push_str(", ");
        }
        let start = out.len();
        push_text(out, Some(item));
        if out.len() == start {
            out.truncate(mark);
        } else {
            first = false;
        }
    }
}

/// Collapses runs of white space and drops separators left dangling by
/// empty placeholders (", ," or a leading comma).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if word == "," && (out.is_empty() || out.ends_with(',')) {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    let trimmed = out.trim_matches(|c: char| c == ',' || c.is_whitespace());
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
}
