//! What the plan needs to know about a node, read from the catalog: whether it only reads,
//! and which node of the same connector reads a write's target record back.
use psaflow_core::{Catalog, Effect, NodeSpec};

/// The node changes nothing (its declared effect).
pub fn is_read(spec: &NodeSpec) -> bool {
    spec.effect == Effect::Read
}

/// The node makes a new record (it has no target to read back).
fn is_create(spec: &NodeSpec) -> bool {
    spec.effect == Effect::Create
}

/// The node that reads the record `spec` writes, from what nodes declare: a read node of the
/// same connector whose output key is the writer's (both give `User`), taking exactly one
/// required parameter that the writer requires too (the record's id). Returns the reader and that
/// parameter's name. Creates have no target yet, so they have no reader.
pub fn reader_for<'c>(catalog: &'c Catalog, spec: &NodeSpec) -> Option<(&'c NodeSpec, &'c str)> {
    if is_read(spec) || is_create(spec) {
        return None;
    }
    let key = &spec.output_key;
    catalog.iter().find_map(|reader| {
        let required: Vec<&str> = reader
            .params
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name.as_str())
            .collect();
        let same_place = reader.connector == spec.connector;
        let ok = same_place
            && is_read(reader)
            && !key.is_empty()
            && &reader.output_key == key
            && required.len() == 1
            && spec.param(required[0]).is_some_and(|p| p.required);
        ok.then(|| (reader, required[0]))
    })
}
