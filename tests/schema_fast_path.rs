//! `validate::conforming` (deserialise, then check every written key was read) stands in for the
//! JSON Schema on valid specs, so the schema is compiled only to explain a failure. It must accept
//! exactly the documents that both the schema and the typed parse accept: checked here on every
//! example, invalid spec, fixture and fuzz seed, and on systematic mutations of the flagship (an
//! unknown key added to each mapping, each scalar replaced by a value of other types).

use mlopsgen::diagnostic::Source;
use mlopsgen::spec::{load, yaml::Document, Spec};
use mlopsgen::validate::{conforming, schema_errors};
use serde_json::{json, Value};
use std::path::Path;

/// What the fast path says, and what the schema and serde say together.
fn verdicts(doc: &Document) -> (bool, bool) {
    let fast = conforming(doc).is_some();
    let slow = schema_errors(doc).is_empty() && serde_json::from_value::<Spec>(doc.value.clone()).is_ok();
    (fast, slow)
}

fn yaml_files(dir: &str) -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn document(path: &Path) -> Option<Document> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load(&Source { name: path.display().to_string(), text }).ok()
}

#[test]
fn the_fast_path_agrees_with_the_schema_on_every_corpus() {
    let mut seen = (0, 0);
    for dir in ["specs", "tests/invalid", "tests/fixtures", "fuzz/corpus/compile"] {
        for path in yaml_files(dir) {
            let Some(doc) = document(&path) else { continue }; // not YAML the loader accepts
            let (fast, slow) = verdicts(&doc);
            assert_eq!(fast, slow, "{}: conforming says {fast}, schema + serde say {slow}", path.display());
            if fast { seen.0 += 1 } else { seen.1 += 1 }
        }
    }
    // Both verdicts occur, so the agreement is not vacuous.
    assert!(seen.0 >= 3 && seen.1 >= 10, "conforming / not conforming: {seen:?}");
}

/// Every node of a JSON value with its pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

#[test]
fn the_fast_path_rejects_every_unknown_key_and_wrong_type_the_schema_rejects() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    let mut base = document(&path).unwrap_or_else(|| panic!("flagship does not load"));
    assert_eq!(verdicts(&base), (true, true));
    let mut all = Vec::new();
    pointers(&base.value, String::new(), &mut all);
    let (mut unknown_keys, mut retyped) = (0, 0);
    for pointer in &all {
        let node = base.value.pointer(pointer).cloned().unwrap_or(Value::Null);
        let mut variants = Vec::new();
        if let Value::Object(mut map) = node.clone() {
            map.insert("zz_not_a_field".into(), json!(1));
            variants.push(Value::Object(map));
        }
        if !matches!(node, Value::Object(_) | Value::Array(_)) {
            variants.extend([json!("a string"), json!(7), json!(-1), json!(2.5), json!(true), json!(null), json!([1]), json!({"k": 1})]);
        }
        for variant in variants {
            let original = base.value.clone();
            if let Some(slot) = base.value.pointer_mut(pointer) {
                *slot = variant.clone();
            }
            let (fast, slow) = verdicts(&base);
            base.value = original;
            assert_eq!(fast, slow, "{pointer} = {variant}: conforming says {fast}, schema + serde say {slow}");
            // Override payloads are free-form by design (attributes the spec does not model).
            let free_form = pointer.starts_with("/overrides/terraform/")
                || (pointer.starts_with("/environments/") && (pointer.contains("/overrides/") || pointer.ends_with("/overrides")));
            if variant.get("zz_not_a_field").is_some() && !free_form {
                assert!(!fast, "{pointer}: an unknown key passed");
                unknown_keys += 1;
            } else {
                retyped += 1;
            }
        }
    }
    assert!(unknown_keys > 50 && retyped > 500, "{unknown_keys} mappings, {retyped} scalar variants");
}
