//! Per-environment documents: `environments.<env>.overrides` merged onto the spec.
//!
//! The one merge rule is JSON Merge Patch (RFC 7386, <https://www.rfc-editor.org/rfc/rfc7386>):
//! a mapping in the overrides merges into the mapping it names key by key; any other value (a
//! scalar, a list) replaces what it names; `null` removes the key. Nothing here knows a field of
//! the spec, so a field added to any overridable section is overridable without code.

use super::yaml::{pointer_push, Document};
use serde_json::Value;

/// Top-level sections an environment cannot override, with the reason: they are shared by every
/// environment by construction (one image promoted through all of them, one set of triggers, one
/// state layout), or they define the environments themselves.
pub const SHARED_SECTIONS: &[(&str, &str)] = &[
    ("version", "the spec format is the same for every environment"),
    ("project", "the project name prefixes every environment's resources"),
    ("output", "every environment is generated into one output directory"),
    ("environments", "set the environment's own fields directly"),
    ("terraform", "the state layout is already per environment"),
    ("images", "one image is built and promoted through every environment"),
    ("ci", "one set of build configs serves every environment"),
];

/// Applies `patch` to `target` by JSON Merge Patch (RFC 7386 §2).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Pointer of an environment's overrides in the document (`/environments/dev/overrides`).
pub fn overrides_pointer(env: &str) -> String {
    pointer_push(&pointer_push("/environments", env), "overrides")
}

/// An environment's overrides, if it has any.
pub fn overrides_of<'d>(doc: &'d Document, env: &str) -> Option<&'d serde_json::Map<String, Value>> {
    doc.value.pointer(&overrides_pointer(env)).and_then(Value::as_object).filter(|m| !m.is_empty())
}

/// The document one environment sees: the spec without any environment's overrides, with this
/// environment's merged in; positions of what they set point at the overrides. `None` when the
/// environment has no overrides (it sees the spec itself).
pub fn env_document(doc: &Document, env: &str) -> Option<Document> {
    let patch = overrides_of(doc, env)?;
    let mut value = doc.value.clone();
    if let Some(Value::Object(envs)) = value.get_mut("environments") {
        for e in envs.values_mut().filter_map(Value::as_object_mut) {
            e.remove("overrides");
        }
    }
    let patch = Value::Object(patch.clone());
    merge_patch(&mut value, &patch);
    let spans = doc.spans.overlaid(&overrides_pointer(env), patch);
    Some(Document { value, spans })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(base: Value, patch: Value) -> Value {
        let mut v = base;
        merge_patch(&mut v, &patch);
        v
    }

    #[test]
    fn maps_merge_by_key() {
        let v = merged(json!({"a": {"x": 1, "y": 2}, "b": 3}), json!({"a": {"y": 20, "z": 30}}));
        assert_eq!(v, json!({"a": {"x": 1, "y": 20, "z": 30}, "b": 3}));
    }

    #[test]
    fn scalars_and_lists_replace() {
        let v = merged(json!({"n": 1, "l": [1, 2, 3], "s": "a"}), json!({"n": 5, "l": [9], "s": {"k": 1}}));
        assert_eq!(v, json!({"n": 5, "l": [9], "s": {"k": 1}}));
        // A list of mappings is replaced, never merged element by element.
        let v = merged(json!({"l": [{"a": 1}, {"b": 2}]}), json!({"l": [{"c": 3}]}));
        assert_eq!(v, json!({"l": [{"c": 3}]}));
    }

    #[test]
    fn null_removes() {
        let v = merged(json!({"services": {"api": {"x": 1}, "web": {}}, "s": {"cron": "x"}}), json!({"services": {"api": null}, "s": null}));
        assert_eq!(v, json!({"services": {"web": {}}}));
    }

    #[test]
    fn env_document_drops_every_environments_overrides_and_points_at_the_override() {
        let text = "environments:\n  dev:\n    overrides:\n      a: {b: 2}\n  prod:\n    overrides:\n      a: {c: 3}\na:\n  b: 1\n  d: [1, 2]\n";
        let Ok(doc) = super::super::yaml::parse(text) else { panic!("parse") };
        let Some(dev) = env_document(&doc, "dev") else { panic!("dev has overrides") };
        assert_eq!(dev.value, json!({"environments": {"dev": {}, "prod": {}}, "a": {"b": 2, "d": [1, 2]}}));
        assert_eq!(dev.spans.value("/a/b").line, 4, "the overridden value is at the override");
        assert_eq!(dev.spans.value("/a/d").line, 10, "a value kept from the spec stays there");
        assert!(env_document(&doc, "staging").is_none());
    }
}
