//! JSON Schema validation of the raw document, with errors mapped back to YAML positions.

use super::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::yaml::pointer_push;
use jsonschema::error::ValidationErrorKind;
use crate::spec::{yaml::Document, Spec};
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The spec's JSON Schema, derived from the serde types.
pub fn spec_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Spec);
    serde_json::to_value(schema).unwrap_or_default()
}

/// The schema as pretty JSON with a trailing newline (`mlopsgen schema`, `mlops.schema.json`).
pub fn spec_schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&spec_schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// Compiles the validator now (it is compiled once per process, on first use). The CLI calls
/// this on a second thread at start-up, so compiling overlaps reading and parsing the spec.
pub fn prepare() {
    validator();
}

/// The validation schema (with tagged `oneOf`s rewritten) and its compiled validator.
///
/// The schema is taken as schemars builds it, without the keyword reordering its serialisation
/// applies for the published file: validation doesn't depend on keyword order, and diagnostics
/// are sorted by position and message.
fn validator() -> Option<&'static (Value, jsonschema::Validator)> {
    static VALIDATOR: OnceLock<Option<(Value, jsonschema::Validator)>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let mut schema = schemars::schema_for!(Spec).to_value();
            discriminate(&mut schema);
            let validator = jsonschema::validator_for(&schema).ok()?;
            Some((schema, validator))
        })
        .as_ref()
}

/// Rewrites each `oneOf` of tagged variants (every branch has a `const` for the same property,
/// like a step's `kind`) into `if kind == x then <branch>` rules, so a bad step is reported against
/// its own kind's fields instead of as "matches none of the variants". Used for validation only;
/// the published schema keeps schemars' `oneOf`.
fn discriminate(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Array(branches)) = map.get("oneOf") {
                if let Some((tag, consts)) = common_tag(branches) {
                    let rules: Vec<Value> = branches
                        .iter()
                        .zip(&consts)
                        .map(|(branch, c)| {
                            json!({"if": {"properties": {tag.clone(): {"const": c}}, "required": [tag.clone()]}, "then": branch})
                        })
                        .collect();
                    map.remove("oneOf");
                    map.insert("type".into(), json!("object"));
                    map.insert("required".into(), json!([tag.clone()]));
                    map.insert("properties".into(), json!({tag: {"enum": consts}}));
                    map.insert("allOf".into(), Value::Array(rules));
                }
            }
            for v in map.values_mut() {
                discriminate(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(discriminate),
        _ => {}
    }
}

/// The property every branch pins with `const`, and those constants.
fn common_tag(branches: &[Value]) -> Option<(String, Vec<Value>)> {
    let first = branches.first()?.get("properties")?.as_object()?;
    first.iter().find_map(|(name, prop)| {
        prop.get("const")?;
        let consts: Option<Vec<Value>> =
            branches.iter().map(|b| b.get("properties")?.get(name)?.get("const").cloned()).collect();
        consts.map(|c| (name.clone(), c))
    })
}

/// Checks the document against the schema; one diagnostic per violation, in source order.
pub fn check(doc: &Document) -> Vec<Diagnostic> {
    let Some((schema, validator)) = validator() else {
        return vec![Diagnostic::new(Code::Schema, Default::default(), "internal error: the spec schema does not compile")];
    };
    let mut out: Vec<Diagnostic> = validator
        .iter_errors(&doc.value)
        .flat_map(|e| {
            let pointer = e.instance_path().to_string();
            match e.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    let allowed = allowed_properties(schema, &e.schema_path().to_string());
                    unexpected
                        .iter()
                        .map(|prop| {
                            let pos = doc.spans.key(&pointer_push(&pointer, prop));
                            let msg = format!("unknown field `{prop}`{}", at(&pointer));
                            Diagnostic::new(Code::Schema, pos, msg)
                                .with_hint(suggest::hint(prop, allowed.iter().map(String::as_str)))
                        })
                        .collect::<Vec<_>>()
                }
                ValidationErrorKind::Enum { options } => {
                    let options: Vec<String> = options.as_array().into_iter().flatten().map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned)).collect();
                    let got = e.instance().as_str().map_or_else(|| e.instance().to_string(), str::to_owned);
                    let msg = format!("`{got}` is not allowed here{}", at(&pointer));
                    let hint = match suggest::closest(&got, options.iter().map(String::as_str)) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!("use one of: {}", options.join(", ")),
                    };
                    vec![Diagnostic::new(Code::Schema, doc.spans.value(&pointer), msg).with_hint(hint)]
                }
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
                    let msg = format!("missing field `{name}`{}", at(&pointer));
                    vec![Diagnostic::new(Code::Schema, doc.spans.value(&pointer), msg)]
                }
                _ => vec![Diagnostic::new(Code::Schema, doc.spans.value(&pointer), format!("{}{}", tidy(&e.to_string()), at(&pointer)))],
            }
        })
        .collect();
    out.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.message.cmp(&b.message)));
    out.dedup();
    out
}

fn at(pointer: &str) -> String {
    if pointer.is_empty() { String::new() } else { format!(" (at `{}`)", pointer.trim_start_matches('/').replace('/', ".")) }
}

/// Property names allowed beside the `additionalProperties` keyword at `keyword_path`.
fn allowed_properties(schema: &Value, keyword_path: &str) -> Vec<String> {
    let parent = keyword_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// Shortens jsonschema's messages that echo whole sub-documents.
fn tidy(message: &str) -> String {
    if message.len() > 200 {
        let cut: String = message.chars().take(200).collect();
        format!("{cut}…")
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_schema_is_the_published_one_up_to_keyword_order() {
        assert_eq!(schemars::schema_for!(Spec).to_value(), spec_schema());
    }
}
