//! The core's input types read straight from Python objects: a serde
//! `Deserializer` over `dict`, `list`, `tuple`, `str`, `int`, `float`,
//! `bool` and `None`.
//!
//! Op dicts used to be written as JSON text and read back; reading them in
//! place skips the text and the second pass, and an error names the value
//! it is about (`ops[2].position.x`) instead of a column in text nobody
//! wrote. The rules are those of JSON text: no NaN, no infinity, integers
//! within 64 bits, `str` keys, at most [`MAX_DEPTH`] levels.
//!
//! The common ops are read by `op_dict` first; what it does not read
//! (another op, a bad value) comes here.

use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use crate::convert::{Bad, BadKind, MAX_DEPTH, too_deep, type_name};
use crate::py_str;

/// Reads a `T` from `obj`; errors name `arg` and the place in it.
pub fn from_python<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<T> {
    read_at(obj, MAX_DEPTH).map_err(|bad| bad.into_py_err(arg))
}

/// Reads a `T` from `obj`, `depth` levels of nesting left; the error's
/// place starts at `obj`.
pub fn read_at<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, depth: usize) -> Result<T, Bad> {
    T::deserialize(PyDeserializer { obj, depth })
}

impl de::Error for Bad {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Bad::new(BadKind::Serde(msg.to_string()))
    }
}

/// One Python value, `depth` levels of nesting left.
struct PyDeserializer<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    depth: usize,
}

impl PyDeserializer<'_, '_> {
    fn deeper(&self) -> Result<usize, Bad> {
        self.depth.checked_sub(1).ok_or_else(too_deep)
    }
}

impl<'de> de::Deserializer<'de> for PyDeserializer<'_, '_> {
    type Error = Bad;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Bad> {
        let obj = self.obj;
        // Exact types first: they are what callers pass almost always.
        if let Ok(s) = obj.cast::<PyString>() {
            return visitor.visit_str(py_str::text(s)?);
        }
        if obj.is_none() {
            return visitor.visit_unit();
        }
        // bool before int: in Python, True is an int.
        if let Ok(b) = obj.cast::<PyBool>() {
            return visitor.visit_bool(b.is_true());
        }
        if obj.is_instance_of::<PyInt>() {
            if let Ok(i) = obj.extract::<i64>() {
                return visitor.visit_i64(i);
            }
            if let Ok(u) = obj.extract::<u64>() {
                return visitor.visit_u64(u);
            }
            return Err(Bad::new(BadKind::Value(
                crate::convert::BEYOND_64_BITS.to_owned(),
            )));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let x = f.value();
            if !x.is_finite() {
                return Err(Bad::new(BadKind::Value(crate::convert::not_finite(x))));
            }
            return visitor.visit_f64(x);
        }
        if let Ok(dict) = obj.cast::<PyDict>() {
            let depth = self.deeper()?;
            return visitor.visit_map(DictAccess {
                items: dict.iter(),
                value: None,
                depth,
            });
        }
        if let Ok(list) = obj.cast::<PyList>() {
            let depth = self.deeper()?;
            return visitor.visit_seq(ItemAccess {
                items: list.iter(),
                index: 0,
                depth,
            });
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            let depth = self.deeper()?;
            return visitor.visit_seq(ItemAccess {
                items: tuple.iter(),
                index: 0,
                depth,
            });
        }
        Err(Bad::new(BadKind::Type(type_name(obj))))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Bad> {
        if self.obj.is_none() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Bad> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant as its name, any other variant as a dict of one entry
    /// (serde's external tagging, as in JSON text).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Bad> {
        if let Ok(s) = self.obj.cast::<PyString>() {
            return visitor.visit_enum(py_str::text(s)?.into_deserializer());
        }
        if let Ok(dict) = self.obj.cast::<PyDict>()
            && dict.len() == 1
            && let Some((key, value)) = dict.iter().next()
        {
            let depth = self.deeper()?;
            return visitor.visit_enum(OneEntry { key, value, depth });
        }
        Err(de::Error::invalid_type(
            de::Unexpected::Other(&type_name(self.obj)),
            &"a variant name or a dict of one entry",
        ))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// A dict's entries; the key read last is kept to name the place of an error.
struct DictAccess<'py> {
    items: pyo3::types::iter::BoundDictIterator<'py>,
    value: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    depth: usize,
}

impl<'de> MapAccess<'de> for DictAccess<'_> {
    type Error = Bad;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Bad> {
        let Some((key, value)) = self.items.next() else {
            return Ok(None);
        };
        let Ok(name) = key.cast::<PyString>() else {
            return Err(Bad::new(BadKind::Key(type_name(&key))));
        };
        let read = seed.deserialize(py_str::text(name)?.into_deserializer());
        self.value = Some((key, value));
        read.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Bad> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        seed.deserialize(PyDeserializer {
            obj: &value,
            depth: self.depth,
        })
        .map_err(|bad| bad.at(format!(".{key}")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The items of a list or tuple, counted to name the place of an error.
struct ItemAccess<I> {
    items: I,
    index: usize,
    depth: usize,
}

impl<'de, 'py, I> SeqAccess<'de> for ItemAccess<I>
where
    I: ExactSizeIterator<Item = Bound<'py, PyAny>>,
{
    type Error = Bad;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Bad> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(PyDeserializer {
            obj: &item,
            depth: self.depth,
        })
        .map(Some)
        .map_err(|bad| bad.at(format!("[{index}]")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An enum written as a dict of one entry: `{"variant": value}`.
struct OneEntry<'py> {
    key: Bound<'py, PyAny>,
    value: Bound<'py, PyAny>,
    depth: usize,
}

impl<'de, 'py> EnumAccess<'de> for OneEntry<'py> {
    type Error = Bad;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Bad> {
        let variant = seed.deserialize(PyDeserializer {
            obj: &self.key,
            depth: self.depth,
        })?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for OneEntry<'_> {
    type Error = Bad;

    fn unit_variant(self) -> Result<(), Bad> {
        de::Deserialize::deserialize(self.inner())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Bad> {
        let at = format!(".{}", self.key);
        seed.deserialize(self.inner()).map_err(|bad| bad.at(at))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Bad> {
        let at = format!(".{}", self.key);
        de::Deserializer::deserialize_seq(self.inner(), visitor).map_err(|bad| bad.at(at))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Bad> {
        let at = format!(".{}", self.key);
        de::Deserializer::deserialize_map(self.inner(), visitor).map_err(|bad| bad.at(at))
    }
}

impl<'py> OneEntry<'py> {
    fn inner(&self) -> PyDeserializer<'_, 'py> {
        PyDeserializer {
            obj: &self.value,
            depth: self.depth,
        }
    }
}
