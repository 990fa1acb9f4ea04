//! Stage 2 — validation: types, then semantic checks; all diagnostics are collected.
//!
//! `check` deserialises the typed [`Spec`] and checks that it read every key the document holds
//! ([`conforming`]); a document that passes is exactly one the JSON Schema accepts, so the schema
//! is compiled and run only to explain a document that fails (positions come from the span index).
//! Then the semantic checks in [`semantic`] run. It only returns a spec when there is no
//! diagnostic at all.

mod access;
mod airflow;
mod components;
mod contracts;
pub mod emitted;
pub mod envs;
mod existing;
pub mod facts;
pub mod kfp;
pub mod names;
mod refs;
mod schema;
pub mod semantic;
pub mod suggest;
mod target_rules;
mod unused;

pub use schema::{spec_schema, spec_schema_json};
pub use unused::warnings;

use crate::diagnostic::{Code, Diagnostic};
use crate::spec::{yaml::Document, Spec};
use std::path::Path;

/// Validates a parsed document into a typed spec: [`conforming`] and the semantic checks, or, for
/// a document that doesn't conform, the JSON Schema's diagnostics with the semantic problems that
/// don't depend on them.
pub fn check(doc: &Document) -> Result<Spec, Vec<Diagnostic>> {
    check_in(doc, Path::new("."))
}

/// [`check`] for a spec in folder `base`, where the component files of `component` steps are
/// read from (they are part of the spec: their interfaces type the steps' inputs and outputs).
pub fn check_in(doc: &Document, base: &Path) -> Result<Spec, Vec<Diagnostic>> {
    check_reusing(doc, base, &mut components::Loaded::new())
}

/// [`check_in`], taking the component files already in `loaded` from there (an environment's
/// spec names the files the spec does) and adding those it reads.
fn check_reusing(doc: &Document, base: &Path, loaded: &mut components::Loaded) -> Result<Spec, Vec<Diagnostic>> {
    let Some(spec) = conforming(doc) else {
        let schema_errors = schema_errors(doc);
        if !schema_errors.is_empty() {
            return Err(with_independent_problems(doc, schema_errors));
        }
        return typed_in(doc, base, loaded);
    };
    semantics(spec, doc, base, loaded)
}

/// Loads the spec's component files and runs the semantic checks.
fn semantics(mut spec: Spec, doc: &Document, base: &Path, loaded: &mut components::Loaded) -> Result<Spec, Vec<Diagnostic>> {
    let mut diagnostics = components::attach(&mut spec, doc, base, loaded);
    diagnostics.extend(semantic::check(&spec, doc));
    if diagnostics.is_empty() {
        return Ok(spec);
    }
    diagnostics.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.code.cmp(&b.code)));
    diagnostics.dedup();
    Err(diagnostics)
}

/// The typed spec, if the document is one the JSON Schema accepts, without compiling the schema
/// (its compilation is most of a small spec's validation time).
///
/// The schema is derived from the serde types, so it checks what deserialising checks (types,
/// required fields, enum values, integer ranges) plus one thing serde does not always check:
/// unknown keys (`additionalProperties: false`; serde drops them inside flattened and internally
/// tagged types). So a document conforms when it deserialises and every key it holds comes back
/// when the spec is serialised again (every field serialises, absent options as `null`).
/// `tests/schema.rs` checks this agrees with the schema on every example, invalid spec and fuzz seed.
pub fn conforming(doc: &Document) -> Option<Spec> {
    let spec: Spec = serde::Deserialize::deserialize(&doc.value).ok()?;
    let read = serde_json::to_value(&spec).ok()?;
    holds_every_key(&read, &doc.value).then_some(spec)
}

/// Whether every object key in `written` (recursively, arrays element by element) is also in `read`.
fn holds_every_key(read: &serde_json::Value, written: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (read, written) {
        (Value::Object(read), Value::Object(written)) => {
            written.iter().all(|(key, value)| read.get(key).is_some_and(|r| holds_every_key(r, value)))
        }
        (Value::Array(read), Value::Array(written)) => {
            read.len() == written.len() && read.iter().zip(written).all(|(r, w)| holds_every_key(r, w))
        }
        (Value::Object(_), _) | (_, Value::Object(_)) | (Value::Array(_), _) | (_, Value::Array(_)) => false,
        _ => true,
    }
}

/// The JSON Schema's diagnostics for a document, in source order (empty if it conforms).
pub fn schema_errors(doc: &Document) -> Vec<Diagnostic> {
    schema::check(doc)
}

/// Adds to a document's schema errors the semantic problems that do not depend on them, so one run
/// reports both. Each schema error is read past as its hint says the user meant
/// ([`schema::repairs`]): an unknown field as the known field it is closest to (`defualt` as
/// `default`), an enum value with a slip as the value it is closest to, a quoted number as the
/// number; any other wrong value is dropped. If the result deserialises, the semantic checks run on
/// it. A semantic problem at the position of a schema error is left out (the same mistake seen
/// twice). If the rest does not deserialise (a missing field, a dropped value that was required),
/// the schema errors stand alone.
pub fn with_independent_problems(doc: &Document, mut schema_errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut recovered = doc.value.clone();
    // A repair can uncover an error under it (a renamed field's value of the wrong type): a few
    // rounds read past those too.
    for _ in 0..4 {
        let mut repairs = schema::repairs(&recovered);
        if repairs.is_empty() {
            break;
        }
        // Deepest first, so dropping a node never moves one a later repair names.
        repairs.sort_by_key(|r| std::cmp::Reverse(repair_pointer(r).matches('/').count()));
        for repair in &repairs {
            apply(&mut recovered, repair);
        }
    }
    if let Ok(spec) = serde_json::from_value::<Spec>(recovered) {
        let taken: std::collections::BTreeSet<_> = schema_errors.iter().map(|d| d.pos).collect();
        schema_errors.extend(semantic::check(&spec, doc).into_iter().filter(|d| !taken.contains(&d.pos)));
    }
    schema_errors.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.code.cmp(&b.code)).then_with(|| a.message.cmp(&b.message)));
    schema_errors.dedup();
    schema_errors
}

fn repair_pointer(repair: &schema::Repair) -> &str {
    match repair {
        schema::Repair::Rename { pointer, .. } | schema::Repair::Set { pointer, .. } | schema::Repair::Remove { pointer } => pointer,
    }
}

/// Applies one repair to the document's JSON value.
fn apply(value: &mut serde_json::Value, repair: &schema::Repair) {
    let Some((parent, last)) = repair_pointer(repair).rsplit_once('/') else { return };
    let key = crate::spec::yaml::unescape_segment(last);
    match (value.pointer_mut(parent), repair) {
        (Some(serde_json::Value::Object(map)), schema::Repair::Rename { meant, .. }) => {
            if let Some(v) = map.remove(&key) {
                if let Some(meant) = meant.as_deref().filter(|m| !map.contains_key(*m)) {
                    map.insert(meant.to_owned(), v);
                }
            }
        }
        (Some(serde_json::Value::Object(map)), schema::Repair::Set { value, .. }) => {
            map.insert(key, value.clone());
        }
        (Some(serde_json::Value::Object(map)), schema::Repair::Remove { .. }) => {
            map.remove(&key);
        }
        (Some(serde_json::Value::Array(items)), schema::Repair::Set { value, .. }) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value.clone();
            }
        }
        // Removing a list item would shift the ones after it: leave the list as it is.
        _ => {}
    }
}

/// Deserialises the typed spec and runs the semantic checks; the second half of [`check`], for
/// a document that passed (or is passing, on another thread) the schema.
pub fn typed(doc: &Document) -> Result<Spec, Vec<Diagnostic>> {
    typed_in(doc, Path::new("."), &mut components::Loaded::new())
}

fn typed_in(doc: &Document, base: &Path, loaded: &mut components::Loaded) -> Result<Spec, Vec<Diagnostic>> {
    let spec: Spec = match serde_path_to_error::deserialize(&doc.value) {
        Ok(spec) => spec,
        Err(e) => {
            let pointer: String = e.path().iter().map(|seg| format!("/{seg}")).collect();
            let pos = doc.spans.value(&pointer);
            return Err(vec![Diagnostic::new(Code::Schema, pos, e.inner().to_string())]);
        }
    };
    semantics(spec, doc, base, loaded)
}
