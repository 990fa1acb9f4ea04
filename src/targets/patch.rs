//! File overrides (`overrides.cloudbuild`, `overrides.pipelines`): values set at, or removed
//! from, a JSON Pointer (RFC 6901, https://www.rfc-editor.org/rfc/rfc6901) in a generated
//! file's document, after the target built it and before it is printed.
//!
//! Rule, like RFC 6902's `add`/`replace`/`remove` with the parent required to exist:
//! - every token but the last must name something that exists: an object member, an array
//!   index, or (an extension, so an override follows a step instead of its position) the one
//!   element of an array of mappings whose `id` or `name` is the token;
//! - `null` removes what the pointer names (which must exist);
//! - any other value replaces it, or adds a new member to an object, or appends to an array
//!   when the last token is `-`.
//!
//! A pointer that does not resolve is a [`Problem`], reported at the override in the spec: an
//! override of something the generator no longer writes fails loudly instead of vanishing.

use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::validate::emitted::UnappliedFileOverride as Problem;

/// Applies each `pointer → value` of `patches` to `doc`, in pointer order; `map` turns each
/// string of a value into the target's literal form (Cloud Build escapes `$`). Returns what does
/// not apply, as `(pointer, message)`.
pub fn apply(doc: &mut Value, patches: &BTreeMap<String, Value>, map: &dyn Fn(&str) -> String) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (pointer, value) in patches {
        if let Err(message) = apply_one(doc, pointer, value, map) {
            problems.push((pointer.clone(), message));
        }
    }
    problems
}

/// The tokens of a pointer (`/a/b~1c` → `a`, `b/c`).
pub fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("`{pointer}` is not a JSON Pointer: it must start with `/`"));
    };
    rest.split('/')
        .map(|t| {
            if t.replace("~0", "").replace("~1", "").contains('~') {
                Err(format!("`{pointer}`: `~` must be written `~0` (and `/` inside a name `~1`)"))
            } else {
                Ok(crate::spec::yaml::unescape_segment(t))
            }
        })
        .collect()
}

fn apply_one(doc: &mut Value, pointer: &str, value: &Value, map: &dyn Fn(&str) -> String) -> Result<(), String> {
    let tokens = tokens(pointer)?;
    let Some((last, parents)) = tokens.split_last() else { return Err("the empty pointer names the whole file".into()) };
    let mut at = doc;
    let mut walked = String::new();
    for t in parents {
        at = child(at, t).ok_or_else(|| missing(&walked, t))?;
        walked = crate::spec::yaml::pointer_push(&walked, t);
    }
    let value = literal(value, map);
    match (at, value.is_null()) {
        (Value::Object(o), true) => o.shift_remove(last).map(drop).ok_or_else(|| missing(&walked, last)),
        (Value::Object(o), false) => {
            o.insert(last.clone(), value);
            Ok(())
        }
        (Value::Array(items), remove) => {
            if last == "-" && !remove {
                items.push(value);
                return Ok(());
            }
            let i = index(items, last).ok_or_else(|| missing(&walked, last))?;
            if remove {
                items.remove(i);
            } else {
                items[i] = value;
            }
            Ok(())
        }
        _ => Err(format!("`{walked}` is a value, not a mapping or list, so it has no `{last}`")),
    }
}

fn child<'v>(v: &'v mut Value, token: &str) -> Option<&'v mut Value> {
    match v {
        Value::Object(o) => o.get_mut(token),
        Value::Array(items) => {
            let i = index(items, token)?;
            items.get_mut(i)
        }
        _ => None,
    }
}

/// An array index: a number without leading zeros (RFC 6901 §4), or the one element whose `id`
/// or `name` is the token.
fn index(items: &[Value], token: &str) -> Option<usize> {
    if token == "0" || (!token.starts_with('0') && !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit())) {
        return token.parse().ok().filter(|&i| i < items.len());
    }
    let named = |v: &Value| ["id", "name"].iter().any(|k| v.get(k).and_then(Value::as_str) == Some(token));
    let mut found = items.iter().enumerate().filter(|(_, v)| named(v)).map(|(i, _)| i);
    match (found.next(), found.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

fn missing(walked: &str, token: &str) -> String {
    let parent = if walked.is_empty() { "the file".to_owned() } else { format!("`{walked}`") };
    format!("{parent} has no `{token}`: the generated file no longer has what this override addresses")
}

/// A value with each string mapped by `map` (keys are left alone: they are checked names).
fn literal(value: &Value, map: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(map(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| literal(v, map)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), literal(v, map))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: &mut Value, pointer: &str, value: Value) -> Vec<(String, String)> {
        apply(doc, &BTreeMap::from([(pointer.to_owned(), value)]), &|s| s.to_owned())
    }

    #[test]
    fn sets_adds_removes_and_appends() {
        let mut doc = json!({"steps": [{"id": "a", "timeout": "60s"}, {"id": "b/c"}], "options": {}});
        assert!(run(&mut doc, "/steps/a/timeout", json!("120s")).is_empty());
        assert!(run(&mut doc, "/steps/b~1c/timeout", json!("5s")).is_empty());
        assert!(run(&mut doc, "/options/machineType", json!("E2_HIGHCPU_8")).is_empty());
        assert!(run(&mut doc, "/steps/0/id", Value::Null).is_empty());
        assert!(run(&mut doc, "/steps/-", json!({"id": "z"})).is_empty());
        assert_eq!(doc, json!({"steps": [{"timeout": "120s"}, {"id": "b/c", "timeout": "5s"}, {"id": "z"}], "options": {"machineType": "E2_HIGHCPU_8"}}));
    }

    #[test]
    fn what_does_not_resolve_is_a_problem() {
        let mut doc = json!({"steps": [{"id": "a"}, {"id": "a"}], "n": 1});
        let before = doc.clone();
        for (pointer, value) in [
            ("/steps/b/timeout", json!("1s")),  // no such id
            ("/steps/a/timeout", json!("1s")),  // two elements have it
            ("/steps/7", json!({})),            // no such index
            ("/steps/01", json!({})),           // leading zero
            ("/options/machineType", json!("x")), // no parent
            ("/missing", Value::Null),          // nothing to remove
            ("/n/x", json!(1)),                 // into a scalar
            ("steps", json!(1)),                // not a pointer
            ("/a~2", json!(1)),                 // bad escape
        ] {
            assert_eq!(run(&mut doc, pointer, value).len(), 1, "{pointer}");
        }
        assert_eq!(doc, before);
    }
}
