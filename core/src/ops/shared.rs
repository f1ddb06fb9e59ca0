//! `SharedOps`: a list of ops held by an [`Applied`](crate::Applied) and an
//! [`UndoStack`](crate::UndoStack) at once, without a copy.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Op;

/// Ops that more than one owner reads: an apply's inverse is both returned
/// and kept for undo. Cloning it counts a reference; it reads as a slice
/// and serialises as a plain array. Passing it to [`Canvas::apply`]
/// moves the ops out when no one else holds them, and copies them otherwise.
///
/// [`Canvas::apply`]: crate::Canvas::apply
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedOps(Arc<Vec<Op>>);

impl SharedOps {
    /// The ops, copied only when another owner still holds them.
    pub fn into_vec(self) -> Vec<Op> {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl Deref for SharedOps {
    type Target = [Op];

    fn deref(&self) -> &[Op] {
        &self.0
    }
}

impl From<Vec<Op>> for SharedOps {
    fn from(ops: Vec<Op>) -> Self {
        SharedOps(Arc::new(ops))
    }
}

impl From<SharedOps> for Vec<Op> {
    fn from(ops: SharedOps) -> Self {
        ops.into_vec()
    }
}

impl Serialize for SharedOps {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedOps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Op>::deserialize(deserializer).map(SharedOps::from)
    }
}

// Inline, as the plain array it serialises as: the schemas stay as they were.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for SharedOps {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Vec<Op>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<Op>>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_move_out_when_unshared_and_are_copied_when_shared() {
        let ops = SharedOps::from(vec![Op::RemoveNode { id: "a".into() }]);
        let kept = ops.clone();
        let first = ops.as_ptr();
        // Shared: a copy, the kept list untouched.
        let copied = ops.into_vec();
        assert_ne!(copied.as_ptr(), first);
        // The last owner: the same allocation, moved out.
        let moved = kept.into_vec();
        assert_eq!(moved.as_ptr(), first);
        assert_eq!(copied, moved);
    }
}
