//! What validation asks of each distinct spec on a canvas, worked out once
//! per run: port types as small numbers (an input's accepted types,
//! conversions included, as a bit set), and the spec's property index. An
//! edge's types are then one bit test, not string comparisons under the
//! catalogue's lock, and a condition's parent is a position, not a name.

use std::collections::HashMap;

use crate::catalog::{Catalog, InputSpec, NodeTypeSpec, PropertyIndex};
use crate::model::DataType;

/// Tables by spec, found by the spec's address.
pub(super) struct SpecTables<'c> {
    catalog: &'c Catalog,
    /// Spec numbers by the spec's address (a pointer scan of a few dozen
    /// types cost more than the hash).
    numbers: HashMap<usize, SpecId, foldhash::fast::FixedState>,
    specs: Vec<&'c NodeTypeSpec>,
    tables: Vec<SpecTable>,
    /// Port type names by number.
    types: Vec<Box<str>>,
}

pub(super) struct SpecTable {
    pub index: PropertyIndex,
    /// Some property has an `applies_when` condition.
    pub conditional: bool,
    /// Positions of the required properties.
    pub required: Box<[usize]>,
    /// By output: its type's number.
    outputs: Box<[usize]>,
    /// By input: the types it accepts.
    inputs: Box<[Accepted]>,
}

enum Accepted {
    Any,
    /// Bit `n` for type number `n`.
    Types(u64),
    /// Types numbered past the bit set: asked of the catalogue.
    Ask,
}

/// A spec's number in `SpecTables`.
pub(super) type SpecId = u32;

impl<'c> SpecTables<'c> {
    pub fn new(catalog: &'c Catalog) -> Self {
        SpecTables {
            catalog,
            numbers: HashMap::default(),
            specs: Vec::new(),
            tables: Vec::new(),
            types: Vec::new(),
        }
    }

    /// The number of `spec`'s tables, worked out on its first use.
    pub fn id(&mut self, spec: &'c NodeTypeSpec) -> SpecId {
        let address = std::ptr::from_ref(spec) as usize;
        if let Some(&id) = self.numbers.get(&address) {
            return id;
        }
        let outputs = spec
            .outputs
            .iter()
            .map(|o| self.type_number(o.data_type.as_str()))
            .collect();
        let inputs = spec.inputs.iter().map(|i| self.accepted(i)).collect();
        let table = SpecTable {
            index: PropertyIndex::new(spec),
            conditional: spec.properties.iter().any(|p| p.applies_when.is_some()),
            required: (0..spec.properties.len())
                .filter(|&at| spec.properties[at].required)
                .collect(),
            outputs,
            inputs,
        };
        let id = self.specs.len() as SpecId;
        self.specs.push(spec);
        self.tables.push(table);
        self.numbers.insert(address, id);
        id
    }

    #[inline]
    pub fn table(&self, id: SpecId) -> &SpecTable {
        &self.tables[id as usize]
    }

    /// `Catalog::accepts` for output `output` of spec `source` and input
    /// `input` of spec `target`.
    #[inline]
    pub fn accepts(&self, source: SpecId, output: usize, target: SpecId, input: usize) -> bool {
        match self.table(target).inputs[input] {
            Accepted::Any => true,
            Accepted::Types(bits) => {
                let given = self.table(source).outputs[output];
                given < 64 && bits & (1 << given) != 0
            }
            Accepted::Ask => self.catalog.accepts(
                &self.specs[target as usize].inputs[input],
                &self.specs[source as usize].outputs[output].data_type,
            ),
        }
    }

    /// The types an input accepts: what `Catalog::accepts` says yes to.
    fn accepted(&mut self, input: &InputSpec) -> Accepted {
        if input.accepts.0.iter().any(|t| t.as_str() == DataType::ANY) {
            return Accepted::Any;
        }
        let mut bits = 0u64;
        for name in self.catalog.accepted_types(input) {
            let n = self.type_number(&name);
            if n >= 64 {
                return Accepted::Ask;
            }
            bits |= 1 << n;
        }
        Accepted::Types(bits)
    }

    fn type_number(&mut self, name: &str) -> usize {
        match self.types.iter().position(|t| **t == *name) {
            Some(n) => n,
            None => {
                self.types.push(name.into());
                self.types.len() - 1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Accepted, SpecId, SpecTables};
    use crate::catalog::Catalog;
    use crate::model::DataType;

    #[test]
    fn accepts_agrees_with_the_catalogue_for_every_output_and_input() {
        let catalog = Catalog::builtin();
        // More types than the bit set holds, unions, and a conversion
        // between two of them.
        for i in 0..70 {
            catalog
                .register_json(&format!(
                    r#"{{"type": "t{i}", "category": "test", "title": "T",
                        "inputs": [{{"name": "in", "type": ["k{i}", "image"]}}],
                        "outputs": [{{"name": "out", "type": "k{i}"}}]}}"#
                ))
                .expect("a valid spec");
        }
        catalog.add_conversion(DataType::new("k3"), DataType::new("k69"));
        let specs = catalog.types();
        let mut tables = SpecTables::new(&catalog);
        let ids: Vec<SpecId> = specs.iter().map(|s| tables.id(s)).collect();
        let (mut yes, mut no) = (0, 0);
        for (source, &source_id) in specs.iter().zip(&ids) {
            for (output_at, output) in source.outputs.iter().enumerate() {
                for (target, &target_id) in specs.iter().zip(&ids) {
                    for (input_at, input) in target.inputs.iter().enumerate() {
                        let expected = catalog.accepts(input, &output.data_type);
                        let got = tables.accepts(source_id, output_at, target_id, input_at);
                        assert_eq!(
                            got, expected,
                            "{}.{} into {}.{}",
                            source.type_name, output.name, target.type_name, input.name
                        );
                        if expected { yes += 1 } else { no += 1 }
                    }
                }
            }
        }
        assert!(yes > 0 && no > 0);
        let asked = tables
            .tables
            .iter()
            .flat_map(|t| t.inputs.iter())
            .filter(|a| matches!(a, Accepted::Ask))
            .count();
        assert!(asked > 0, "some inputs are past the bit set");
        // A spec met again keeps its number.
        assert_eq!(tables.id(&specs[5]), ids[5]);
    }
}
