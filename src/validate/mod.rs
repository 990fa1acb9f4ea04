//! Stage 2 — validation: schema, types, then semantic checks; all diagnostics are collected.
//!
//! `check` runs the JSON Schema over the raw document (positions come from the span index),
//! deserialises the typed [`Spec`], then runs the semantic checks in [`semantic`]. It only
//! returns a spec when there is no diagnostic at all.

mod access;
mod airflow;
mod contracts;
pub mod facts;
pub mod kfp;
pub mod names;
mod refs;
mod schema;
pub mod semantic;
pub mod suggest;
mod target_rules;
mod unused;

pub use schema::{prepare, spec_schema, spec_schema_json};
pub use unused::warnings;

use crate::diagnostic::{Code, Diagnostic};
use crate::spec::{yaml::Document, Spec};

/// Validates a parsed document into a typed spec: [`schema_errors`], then, if there are none,
/// [`typed`].
pub fn check(doc: &Document) -> Result<Spec, Vec<Diagnostic>> {
    let schema_errors = schema_errors(doc);
    if !schema_errors.is_empty() {
        return Err(with_independent_problems(doc, schema_errors));
    }
    typed(doc)
}

/// The JSON Schema's diagnostics for a document, in source order (empty if it conforms).
pub fn schema_errors(doc: &Document) -> Vec<Diagnostic> {
    schema::check(doc)
}

/// Adds to a document's schema errors the semantic problems that do not depend on them, so one run
/// reports both. An unknown field is read as the known field it is closest to (`defualt` as
/// `default`, as its "did you mean" hint says) if that one is absent, and dropped otherwise; if
/// the result deserialises, the semantic checks run on it. A semantic problem at the position of a
/// schema error is left out (the same mistake seen twice). If the rest does not deserialise (a
/// wrong type, a missing field), the schema errors stand alone.
pub fn with_independent_problems(doc: &Document, mut schema_errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut recovered = doc.value.clone();
    for (pointer, meant) in schema::unknown_fields(doc) {
        read_as(&mut recovered, &pointer, meant.as_deref());
    }
    if let Ok(spec) = serde_json::from_value::<Spec>(recovered) {
        let taken: std::collections::BTreeSet<_> = schema_errors.iter().map(|d| d.pos).collect();
        schema_errors.extend(semantic::check(&spec, doc).into_iter().filter(|d| !taken.contains(&d.pos)));
    }
    schema_errors.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.code.cmp(&b.code)).then_with(|| a.message.cmp(&b.message)));
    schema_errors.dedup();
    schema_errors
}

/// Moves the member a JSON pointer names to the key `meant` (if given and free), else removes it.
fn read_as(value: &mut serde_json::Value, pointer: &str, meant: Option<&str>) {
    let Some((parent, last)) = pointer.rsplit_once('/') else { return };
    let key = last.replace("~1", "/").replace("~0", "~");
    if let Some(serde_json::Value::Object(map)) = value.pointer_mut(parent) {
        if let Some(v) = map.remove(&key) {
            if let Some(meant) = meant.filter(|m| !map.contains_key(*m)) {
                map.insert(meant.to_owned(), v);
            }
        }
    }
}

/// Deserialises the typed spec and runs the semantic checks; the second half of [`check`], for
/// a document that passed (or is passing, on another thread) the schema.
pub fn typed(doc: &Document) -> Result<Spec, Vec<Diagnostic>> {
    let spec: Spec = match serde_path_to_error::deserialize(&doc.value) {
        Ok(spec) => spec,
        Err(e) => {
            let pointer: String = e.path().iter().map(|seg| format!("/{seg}")).collect();
            let pos = doc.spans.value(&pointer);
            return Err(vec![Diagnostic::new(Code::Schema, pos, e.inner().to_string())]);
        }
    };
    let mut diagnostics = semantic::check(&spec, doc);
    if diagnostics.is_empty() {
        Ok(spec)
    } else {
        diagnostics.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.code.cmp(&b.code)));
        diagnostics.dedup();
        Err(diagnostics)
    }
}
