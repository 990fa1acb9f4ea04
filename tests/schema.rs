//! The committed `mlops.schema.json` must match the schema derived from the spec types, and every
//! example spec must point editors at it.

use std::path::Path;

#[test]
fn committed_schema_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(root.join("mlops.schema.json")).unwrap_or_default();
    assert!(
        committed == mlopsgen::validate::spec_schema_json(),
        "mlops.schema.json is stale: run `cargo run -q -- schema > mlops.schema.json`"
    );
}

#[test]
fn example_specs_declare_the_schema() {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    // An unreadable folder or file fails the test: it must not pass by checking nothing.
    let entries = std::fs::read_dir(&specs).unwrap_or_else(|e| panic!("{}: {e}", specs.display()));
    let mut checked = 0;
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", specs.display())).path();
        if path.is_dir() {
            continue; // files specs read (`components/`), not specs
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.starts_with("# yaml-language-server: $schema=../mlops.schema.json\n"),
            "{} must start with the yaml-language-server schema line",
            path.display()
        );
        checked += 1;
    }
    assert!(checked > 0, "no example specs in {}", specs.display());
}
