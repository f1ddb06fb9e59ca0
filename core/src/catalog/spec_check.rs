//! Checks a spec once, at registration, so nothing later has to: unique
//! names, well-formed constraints, valid defaults, templates that refer to
//! things that exist, and compiled patterns.

use std::collections::HashSet;

use regex::Regex;

use super::spec::{NodeTypeSpec, PropertyKind, PropertySpec, Template};
use super::value_check::check_value;
use crate::error::{Error, Result};
use crate::limits::{MAX_VALUE_DEPTH, too_deep};
use crate::model::check_id;
use crate::quality::Quality;

pub(super) fn prepare(spec: NodeTypeSpec) -> Result<NodeTypeSpec> {
    let name = spec.type_name.to_string();
    let fail = |message: String| Error::InvalidSpec {
        type_name: name.clone(),
        message,
    };
    check_id(&spec.type_name).map_err(|e| fail(format!("type name: {e}")))?;
    if spec.version == 0 {
        return Err(fail("version starts at 1".into()));
    }
    unique("input", spec.inputs.iter().map(|p| &*p.name)).map_err(&fail)?;
    unique("output", spec.outputs.iter().map(|p| &*p.name)).map_err(&fail)?;
    unique("property", spec.properties.iter().map(|p| &*p.name)).map_err(&fail)?;
    for input in &spec.inputs {
        if input.accepts.0.is_empty() {
            return Err(fail(format!("input `{}` accepts no type", input.name)));
        }
    }
    for prop in &spec.properties {
        if prop.name.is_empty() {
            return Err(fail("a property has no name".into()));
        }
        prepare_property(prop, &prop.name).map_err(&fail)?;
        if let Some(cond) = &prop.applies_when
            && spec.property(&cond.property).is_none()
        {
            return Err(fail(format!(
                "property `{}` applies_when names unknown property `{}`",
                prop.name, cond.property
            )));
        }
    }
    // Defaults are checked after every pattern is compiled.
    for prop in &spec.properties {
        if let Some(default) = &prop.default {
            check_value("(default)", &prop.name, prop, default)
                .map_err(|e| fail(format!("default of `{}`: {e}", prop.name)))?;
        }
    }
    for (channel, template) in &spec.provides {
        check_template(&spec, template, false)
            .map_err(|m| fail(format!("provides `{channel}`: {m}")))?;
    }
    if let Some(task) = &spec.task {
        if task.function.trim().is_empty() {
            return Err(fail("task.function is empty".into()));
        }
        for (param, template) in &task.params {
            check_template(&spec, template, true)
                .map_err(|m| fail(format!("task param `{param}`: {m}")))?;
        }
    }
    for m in &spec.migrations {
        if m.from_version >= spec.version {
            return Err(fail(format!(
                "migration from_version {} is not below version {}",
                m.from_version, spec.version
            )));
        }
        // A migrated node must still fit the limits of a loaded one.
        if let Some((name, _)) = m
            .set_defaults
            .iter()
            .find(|(_, v)| too_deep(v, MAX_VALUE_DEPTH))
        {
            return Err(fail(format!(
                "migration from_version {} sets `{name}` to a value nested deeper than {MAX_VALUE_DEPTH} levels",
                m.from_version
            )));
        }
    }
    Ok(spec)
}

fn unique<'a>(kind: &str, names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(format!("{kind} `{n}` is declared twice"));
        }
    }
    Ok(())
}

fn prepare_property(prop: &PropertySpec, path: &str) -> Result<(), String> {
    if let (Some(min), Some(max)) = (prop.min, prop.max)
        && min > max
    {
        return Err(format!("`{path}`: min {min} is above max {max}"));
    }
    match prop.kind {
        PropertyKind::Enum if prop.values.is_empty() => {
            return Err(format!("`{path}`: an enum needs `values`"));
        }
        PropertyKind::List if prop.items.is_none() => {
            return Err(format!("`{path}`: a list needs `items`"));
        }
        _ => {}
    }
    if let Some(pattern) = &prop.pattern {
        let anchored = format!("^(?:{pattern})$");
        let re = Regex::new(&anchored).map_err(|e| format!("`{path}`: bad pattern: {e}"))?;
        // A fresh spec has no compiled pattern yet; a clone of a prepared one
        // already holds the same regex.
        let _ = prop.compiled_pattern.set(re);
    }
    if let Some(items) = &prop.items {
        prepare_property(items, &format!("{path}[]"))?;
        check_nested_default(items, &format!("{path}[]"))?;
    }
    if let Some(fields) = &prop.fields {
        unique("field", fields.iter().map(|f| &*f.name))?;
        for f in fields {
            if f.name.is_empty() {
                return Err(format!("`{path}`: an object field has no name"));
            }
            let field_path = format!("{path}.{}", f.name);
            prepare_property(f, &field_path)?;
            check_nested_default(f, &field_path)?;
        }
    }
    Ok(())
}

/// Defaults of list items and object fields must fit their own constraints,
/// like top-level defaults. (Patterns are compiled before this runs.)
fn check_nested_default(prop: &PropertySpec, path: &str) -> Result<(), String> {
    match &prop.default {
        Some(default) => check_value("(default)", path, prop, default)
            .map_err(|e| format!("default of `{path}`: {e}")),
        None => Ok(()),
    }
}

fn check_template(spec: &NodeTypeSpec, t: &Template, in_task: bool) -> Result<(), String> {
    match t {
        Template::Value(_) => Ok(()),
        // Provides are evaluated without upstream context, so it has no meaning there.
        Template::Context(_) if !in_task => {
            Err("`context` is only available in task params".into())
        }
        Template::Context(_) => Ok(()),
        Template::Property(p) => known_property(spec, p),
        Template::Input(i) => match spec.input(i) {
            Some(_) => Ok(()),
            None => Err(format!("unknown input `{i}`")),
        },
        Template::Quality(q) => known_preset(spec, q, in_task),
        Template::Template(text) => {
            for placeholder in placeholders(text) {
                match placeholder.split_once('.') {
                    Some(("property", p)) => known_property(spec, p)?,
                    Some(("quality", q)) => known_preset(spec, q, in_task)?,
                    Some(("context", _)) if !in_task => {
                        return Err("`{context.*}` is only available in task params".into());
                    }
                    Some(("context", _)) => {}
                    Some(("node", "id" | "label")) => {}
                    None if placeholder == "quality" => {}
                    _ => return Err(format!("unknown placeholder `{{{placeholder}}}`")),
                }
            }
            Ok(())
        }
        Template::Object(fields) => fields
            .values()
            .try_for_each(|f| check_template(spec, f, in_task)),
        Template::List(items) => items
            .iter()
            .try_for_each(|f| check_template(spec, f, in_task)),
        Template::IfSet(cond) => {
            known_property(spec, &cond.property)?;
            check_template(spec, &cond.then, in_task)
        }
    }
}

fn known_property(spec: &NodeTypeSpec, p: &str) -> Result<(), String> {
    spec.property(p)
        .map(|_| ())
        .ok_or_else(|| format!("unknown property `{p}`"))
}

fn known_preset(spec: &NodeTypeSpec, name: &str, in_task: bool) -> Result<(), String> {
    let Some(task) = spec.task.as_ref().filter(|_| in_task) else {
        return Err(format!("quality preset `{name}` outside a task"));
    };
    for tier in Quality::ALL {
        match task.quality.get(&tier) {
            Some(presets) if presets.contains_key(name) => {}
            _ => return Err(format!("quality tier `{tier}` has no preset `{name}`")),
        }
    }
    Ok(())
}

/// The `{...}` placeholders of a text template.
pub(crate) fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(inside, _)| inside))
}
