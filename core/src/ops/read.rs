//! Reading an [`Op`]: the `op` tag first, then the fields straight into
//! that variant, without buffering the op (serde's internally tagged enums
//! read every op into an intermediate tree and then read that again).
//! Fields written before the tag (a document with sorted keys) are kept
//! until the tag is read; each is checked as it would be in place. Bad ops
//! get serde's own errors: unknown variant, unknown, duplicate or missing
//! field, `op` given twice.

use std::fmt;
use std::vec;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, Unexpected, VariantAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::Value;

use super::{Op, OpFields};
use crate::unique_keys::UniqueValue;

const TAG: &str = "op";

/// Declares `Op` from the one list of its variants, and `OpFields`: the same
/// variants with the same field attributes, externally tagged, which derives
/// the reading of each variant's fields. Field attributes must be serde's
/// (a `schemars` one would need the twin to derive `JsonSchema` too).
macro_rules! op_enum {
    (
        $(#[$meta:meta])*
        pub enum Op {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident {
                    $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum Op {
            $(
                $(#[$variant_meta])*
                $variant { $( $(#[$field_meta])* $field: $ty ),* },
            )*
        }

        #[derive(::serde::Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        enum OpFields {
            $(
                $(#[$variant_meta])*
                $variant { $( $(#[$field_meta])* $field: $ty ),* },
            )*
        }

        impl From<OpFields> for Op {
            fn from(fields: OpFields) -> Op {
                match fields {
                    $( OpFields::$variant { $($field),* } => Op::$variant { $($field),* }, )*
                }
            }
        }
    };
}
pub(super) use op_enum;

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        d.deserialize_any(OpVisitor)
    }
}

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = Op;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("internally tagged enum Op")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Op, A::Error> {
        let mut before = Vec::new();
        loop {
            match map.next_key_seed(KeyOrTag)? {
                None => return Err(de::Error::missing_field(TAG)),
                Some(Key::Tag) => break,
                Some(Key::Other(key)) => {
                    let UniqueValue(value) = map.next_value()?;
                    before.push((key, value));
                }
            }
        }
        let rest = RestOfOp {
            before: before.into_iter(),
            pending: None,
            map,
        };
        OpFields::deserialize(rest).map(Op::from)
    }
}

/// A key of the op's object: the tag, or a field to keep until the tag.
enum Key {
    Tag,
    Other(String),
}

struct KeyOrTag;

impl<'de> DeserializeSeed<'de> for KeyOrTag {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeyOrTag {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(if key == TAG {
            Key::Tag
        } else {
            Key::Other(key.to_owned())
        })
    }

    fn visit_string<E>(self, key: String) -> Result<Key, E> {
        Ok(if key == TAG {
            Key::Tag
        } else {
            Key::Other(key)
        })
    }
}

/// The op after its tag: the tag's value names the variant, then the fields
/// kept from before the tag, then the rest of the object.
struct RestOfOp<A> {
    before: vec::IntoIter<(String, Value)>,
    pending: Option<Value>,
    map: A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for RestOfOp<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for RestOfOp<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        mut self,
        seed: V,
    ) -> Result<(V::Value, Self), A::Error> {
        let variant = self.map.next_value_seed(seed)?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for RestOfOp<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        Err(de::Error::invalid_type(Unexpected::Map, &"unit variant"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Map, &"newtype variant"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, A::Error> {
        Err(de::Error::invalid_type(Unexpected::Map, &"tuple variant"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RestOfOp<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.before.next() {
            self.pending = Some(value);
            return seed.deserialize(StringDeserializer::new(key)).map(Some);
        }
        self.map.next_key_seed(NotTag(seed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.pending.take() {
            Some(value) => seed.deserialize(value).map_err(de::Error::custom),
            None => self.map.next_value_seed(seed),
        }
    }
}

/// A field key after the tag: a second tag is refused, anything else goes
/// to the variant's own field reader, unchanged.
struct NotTag<K>(K);

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for NotTag<K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for NotTag<K> {
    type Value = K::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<K::Value, E> {
        if key == TAG {
            return Err(E::duplicate_field(TAG));
        }
        self.0.deserialize(StrDeserializer::new(key))
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<K::Value, E> {
        if key == TAG {
            return Err(E::duplicate_field(TAG));
        }
        self.0.deserialize(BorrowedStrDeserializer::new(key))
    }

    fn visit_string<E: de::Error>(self, key: String) -> Result<K::Value, E> {
        if key == TAG {
            return Err(E::duplicate_field(TAG));
        }
        self.0.deserialize(StringDeserializer::new(key))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Op;

    fn parse_error(text: &str) -> String {
        serde_json::from_str::<Op>(text)
            .expect_err(text)
            .to_string()
    }

    #[test]
    fn the_tag_may_come_anywhere_and_reads_the_same() {
        let first = r#"{"op":"move_node","id":"a","position":{"x":1,"y":2}}"#;
        let middle = r#"{"id":"a","op":"move_node","position":{"x":1,"y":2}}"#;
        let last = r#"{"position":{"x":1,"y":2},"id":"a","op":"move_node"}"#;
        let op: Op = serde_json::from_str(first).expect("parses");
        for text in [middle, last] {
            assert_eq!(serde_json::from_str::<Op>(text).expect("parses"), op);
        }
        let value = json!({"position": {"x": 1, "y": 2}, "id": "a", "op": "move_node"});
        assert_eq!(serde_json::from_value::<Op>(value).expect("parses"), op);
    }

    #[test]
    fn bad_ops_get_serdes_errors_wherever_the_tag_is() {
        for (text, expected) in [
            (r#"{"id":"a"}"#, "missing field `op`"),
            (r#"{"op":"paint","id":"a"}"#, "unknown variant `paint`"),
            (r#"{"id":"a","op":"paint"}"#, "unknown variant `paint`"),
            (r#"{"op":7,"id":"a"}"#, "expected variant identifier"),
            (
                r#"{"op":"remove_node","id":"a","op":"remove_node"}"#,
                "duplicate field `op`",
            ),
            (
                r#"{"op":"remove_node","id":"a","id":"b"}"#,
                "duplicate field `id`",
            ),
            (
                r#"{"id":"a","op":"remove_node","id":"b"}"#,
                "duplicate field `id`",
            ),
            (
                r#"{"id":"a","id":"b","op":"remove_node"}"#,
                "duplicate field `id`",
            ),
            (
                r#"{"op":"remove_node","id":"a","colour":1}"#,
                "unknown field `colour`",
            ),
            (
                r#"{"colour":1,"op":"remove_node","id":"a"}"#,
                "unknown field `colour`",
            ),
            (r#"{"op":"remove_node"}"#, "missing field `id`"),
            (
                r#"{"op":"remove_node","id":5}"#,
                "invalid type: integer `5`",
            ),
            (
                r#"{"id":5,"op":"remove_node"}"#,
                "invalid type: integer `5`",
            ),
            (
                r#"{"properties":{"k":1,"k":2},"op":"set_properties","id":"a"}"#,
                "duplicate key `k`",
            ),
            (r#""remove_node""#, "expected internally tagged enum Op"),
            // serde accepts this form for tagged enums; reelgraph never did
            // document it, and refuses it.
            (
                r#"["remove_node","a"]"#,
                "expected internally tagged enum Op",
            ),
        ] {
            let error = parse_error(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
