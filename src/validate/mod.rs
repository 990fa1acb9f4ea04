//! Stage 2 — validation: schema, types, then semantic checks; all diagnostics are collected.
//!
//! `check` runs the JSON Schema over the raw document (positions come from the span index),
//! deserialises the typed [`Spec`], then runs the semantic checks in [`semantic`]. It only
//! returns a spec when there is no diagnostic at all.

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
        return Err(schema_errors);
    }
    typed(doc)
}

/// The JSON Schema's diagnostics for a document, in source order (empty if it conforms).
pub fn schema_errors(doc: &Document) -> Vec<Diagnostic> {
    schema::check(doc)
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
