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
    for entry in std::fs::read_dir(specs).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../mlops.schema.json\n"),
            "{} must start with the yaml-language-server schema line",
            entry.path().display()
        );
    }
}
