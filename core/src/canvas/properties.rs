//! A node's property values: a small vector sorted by name, whose names share
//! their allocation with the node-type spec. Cheaper than a map per node.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Property values of one node, sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties(Vec<(Arc<str>, Value)>);

impl Properties {
    pub fn get(&self, name: &str) -> Option<&Value> {
        // Callers mostly pass the spec's own name, which is the key's allocation:
        // a pointer scan of a few entries beats comparing strings.
        if let Some((_, v)) = self
            .0
            .iter()
            .find(|(k, _)| std::ptr::eq(k.as_ptr(), name.as_ptr()) && k.len() == name.len())
        {
            return Some(v);
        }
        self.find(name).ok().map(|i| &self.0[i].1)
    }

    /// Sets a value, returning the previous one.
    pub fn set(&mut self, name: Arc<str>, value: Value) -> Option<Value> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.find(name).ok().map(|i| self.0.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// Drops spare capacity: a canvas holds many of these.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }

    /// From entries, usually already in name order (a JSON object's
    /// iteration order).
    pub(crate) fn from_sorted(entries: Vec<(Arc<str>, Value)>) -> Self {
        let mut props = Properties(entries);
        props.sort();
        props
    }

    /// From entries already in name order, each name once.
    pub(crate) fn in_name_order(entries: Vec<(Arc<str>, Value)>) -> Self {
        debug_assert!(entries.is_sorted_by(|a, b| a.0 < b.0));
        Properties(entries)
    }

    /// Puts the values in name order (a name given twice keeps its first value).
    fn sort(&mut self) {
        if !self.0.is_sorted_by(|a, b| a.0 <= b.0) {
            self.0.sort_by(|a, b| a.0.cmp(&b.0));
            self.0.dedup_by(|a, b| a.0 == b.0);
        }
    }

    /// A JSON object of the values.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name))
    }
}

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

impl crate::catalog::PropertyValues for Properties {
    fn value(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}
