//! JSON Schema validation of the raw document, with errors mapped back to YAML positions.

use super::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::yaml::pointer_push;
use jsonschema::error::{TypeKind, ValidationErrorKind};
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

/// Rewrites the schema so that each violation is reported at the node the user wrote, in terms of
/// that node's own schema (used for validation only; the published schema keeps schemars' form):
///
/// - a `oneOf` of tagged variants (every branch has a `const` for the same property, like a step's
///   `kind`) becomes `if kind == x then <branch>` rules, so a bad step is reported against its own
///   kind's fields instead of as "matches none of the variants";
/// - an optional section (`anyOf: [X, {type: null}]`) becomes `if null else X`, so a mistake inside
///   `monitoring` is reported at its own field instead of as the whole section failing `anyOf`;
/// - a `oneOf` of string constants (a unit enum with a description per value) becomes one `enum`,
///   so a wrong value gets "did you mean" from the list of allowed values.
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
                } else if let Some(values) = string_constants(branches) {
                    map.remove("oneOf");
                    map.insert("type".into(), json!("string"));
                    map.insert("enum".into(), Value::Array(values));
                }
            }
            if let Some(inner) = optional_branch(map) {
                map.remove("anyOf");
                map.insert("if".into(), json!({"type": "null"}));
                map.insert("else".into(), inner);
            }
            for v in map.values_mut() {
                discriminate(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(discriminate),
        _ => {}
    }
}

/// The non-null branch of `anyOf: [X, {"type": "null"}]` (schemars' form of an `Option`).
fn optional_branch(map: &serde_json::Map<String, Value>) -> Option<Value> {
    let Some(Value::Array(branches)) = map.get("anyOf") else { return None };
    let null = json!({"type": "null"});
    match branches.as_slice() {
        [x, n] | [n, x] if *n == null && *x != null => Some(x.clone()),
        _ => None,
    }
}

/// The values of a `oneOf` whose branches are each one string constant.
fn string_constants(branches: &[Value]) -> Option<Vec<Value>> {
    branches
        .iter()
        .map(|b| {
            let c = b.get("const").filter(|c| c.is_string())?;
            b.get("type").is_none_or(|t| t == "string").then(|| c.clone())
        })
        .collect()
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
                    let hint = match meant_value(&got, &options) {
                        Some((c, true)) => format!("did you mean `{c}`? (the case matters here)"),
                        Some((c, false)) => format!("did you mean `{c}`?"),
                        None => format!("use one of: {}", options.join(", ")),
                    };
                    vec![Diagnostic::new(Code::Schema, doc.spans.value(&pointer), msg).with_hint(hint)]
                }
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
                    let msg = format!("missing field `{name}`{}", at(&pointer));
                    // The caret goes on the key of the mapping that lacks the field (its value may
                    // start lines below); the document itself has no key.
                    let pos = if pointer.is_empty() { doc.spans.value(&pointer) } else { doc.spans.key(&pointer) };
                    let parent = pointer.rsplit('/').next().filter(|p| !p.is_empty()).unwrap_or("the spec");
                    vec![Diagnostic::new(Code::Schema, pos, msg).with_hint(format!("add `{name}:` to `{parent}`"))]
                }
                ValidationErrorKind::Type { kind } => {
                    let expected = match kind {
                        TypeKind::Single(t) => a_json_type(&t.to_string()),
                        // An optional field allows `null` too; nobody means to write that.
                        TypeKind::Multiple(set) => set
                            .iter()
                            .map(|t| t.to_string())
                            .filter(|t| t != "null")
                            .map(|t| a_json_type(&t))
                            .collect::<Vec<_>>()
                            .join(" or "),
                    };
                    let msg = format!("expected {expected}, found {}{}", describe(e.instance()), at(&pointer));
                    let diagnostic = Diagnostic::new(Code::Schema, doc.spans.value(&pointer), msg);
                    vec![match type_hint(e.instance(), kind) {
                        Some(hint) => diagnostic.with_hint(hint),
                        None => diagnostic,
                    }]
                }
                _ => vec![Diagnostic::new(Code::Schema, doc.spans.value(&pointer), format!("{}{}", tidy(&e.to_string()), at(&pointer)))],
            }
        })
        .collect();
    out.sort_by(|a, b| a.pos.cmp(&b.pos).then_with(|| a.message.cmp(&b.message)));
    out.dedup();
    out
}

/// "a number", "an object" … for a JSON Schema type name.
fn a_json_type(name: &str) -> String {
    match name {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "null" => "nothing".to_owned(),
        "boolean" => "true or false".to_owned(),
        other => format!("a {other}"),
    }
}

/// The value the user wrote, in their terms, for "found …".
fn describe(value: &Value) -> String {
    let shown = |v: &Value| {
        let text = v.to_string();
        if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
    };
    match value {
        Value::Null => "nothing (an empty value)".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(_) => format!("the string `{}`", shown(value)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// Whether the schema's expected type(s) include the JSON type `name`.
fn allows(expected: &TypeKind, name: &str) -> bool {
    match expected {
        TypeKind::Single(t) => t.to_string() == name,
        TypeKind::Multiple(set) => set.iter().any(|t| t.to_string() == name),
    }
}

/// A hint for the common slips: a number or boolean written in quotes, a single item where a
/// list is expected.
fn type_hint(value: &Value, expected: &TypeKind) -> Option<String> {
    let wants = |name: &str| allows(expected, name);
    match value {
        Value::String(s) if (wants("number") && s.trim().parse::<f64>().is_ok()) || (wants("integer") && s.trim().parse::<i64>().is_ok()) => {
            Some(format!("remove the quotes: {}", s.trim()))
        }
        Value::String(s) if wants("boolean") && matches!(s.as_str(), "true" | "false") => Some(format!("remove the quotes: {s}")),
        Value::String(_) | Value::Number(_) | Value::Bool(_) if wants("array") => Some("write a list, e.g. `[value]`".to_owned()),
        Value::Number(n) if wants("string") => Some(format!("quote it: \"{n}\"")),
        _ => None,
    }
}

/// The enum value the user evidently meant by `got`: the same but for case (`true`), or the
/// closest option (`false`).
fn meant_value<'a>(got: &str, options: &'a [String]) -> Option<(&'a str, bool)> {
    match options.iter().find(|o| o.eq_ignore_ascii_case(got)) {
        Some(same) => Some((same, true)),
        None => suggest::closest(got, options.iter().map(String::as_str)).map(|c| (c, false)),
    }
}

/// How to read past one schema error so the rest of the document can still be checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Repair {
    /// An unknown field: read it as the known field it is closest to (if that one is absent),
    /// else drop it.
    Rename { pointer: String, meant: Option<String> },
    /// A value with an evident intended form: an enum value with a case slip or typo, a quoted
    /// number or boolean, a single item where a list goes.
    Set { pointer: String, value: Value },
    /// Any other wrong value: drop it (an optional field then takes its default).
    Remove { pointer: String },
}

/// One repair per schema error, each reading the document as its diagnostic's hint says the user
/// meant. Missing fields have none: nothing says what their value would be. Error path only: it
/// validates again.
pub(super) fn repairs(value: &Value) -> Vec<Repair> {
    let Some((schema, validator)) = validator() else { return Vec::new() };
    validator
        .iter_errors(value)
        .flat_map(|e| {
            let pointer = e.instance_path().to_string();
            match e.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    let allowed = allowed_properties(schema, &e.schema_path().to_string());
                    unexpected
                        .iter()
                        .map(|p| Repair::Rename {
                            pointer: pointer_push(&pointer, p),
                            meant: suggest::closest(p, allowed.iter().map(String::as_str)).map(str::to_owned),
                        })
                        .collect()
                }
                ValidationErrorKind::Enum { options } => {
                    let options: Vec<String> = options.as_array().into_iter().flatten().filter_map(|o| o.as_str().map(str::to_owned)).collect();
                    let meant = e.instance().as_str().and_then(|got| meant_value(got, &options));
                    vec![match meant {
                        Some((value, _)) => Repair::Set { pointer, value: Value::String(value.to_owned()) },
                        None => Repair::Remove { pointer },
                    }]
                }
                ValidationErrorKind::Required { .. } => Vec::new(),
                ValidationErrorKind::Type { kind } => vec![match intended(e.instance(), kind) {
                    Some(value) => Repair::Set { pointer, value },
                    None => Repair::Remove { pointer },
                }],
                _ => vec![Repair::Remove { pointer }],
            }
        })
        .collect()
}

/// The value a slip [`type_hint`] describes was meant to be: the number or boolean in quotes,
/// the single item as a one-item list.
fn intended(value: &Value, expected: &TypeKind) -> Option<Value> {
    let wants = |name: &str| allows(expected, name);
    match value {
        Value::String(s) if wants("integer") => s.trim().parse::<i64>().ok().map(Value::from),
        Value::String(s) if wants("number") => s.trim().parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        Value::String(s) if wants("boolean") => s.parse::<bool>().ok().map(Value::Bool),
        Value::String(_) | Value::Number(_) | Value::Bool(_) if wants("array") => Some(Value::Array(vec![value.clone()])),
        _ => None,
    }
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
