//! Snapshot tests: every target's output for every example spec in `specs/`.
//!
//! One snapshot per (target, spec) holds all of that target's files under `=== path ===`
//! headers. Review changes with `cargo insta review`.

mod support;

use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    specs.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    specs.sort();
    assert!(!specs.is_empty(), "no example specs found");
    specs
}

/// Compiles an example spec (panicking with rendered diagnostics if it is invalid).
pub fn compile_example(spec: &Path) -> mlopsgen::Compilation {
    support::compile_spec(spec)
}

/// Snapshots the files under `prefixes` for every example.
fn snapshot(target: &str, prefixes: &[&str]) {
    for spec in examples() {
        let c = compile_example(&spec);
        let mut text = String::new();
        for (path, contents) in c.output.files() {
            if prefixes.iter().any(|p| path.starts_with(p)) {
                text.push_str(&format!("=== {path} ===\n{contents}"));
            }
        }
        let name = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        insta::assert_snapshot!(format!("{target}__{name}"), text);
    }
}

#[test]
fn terraform() {
    snapshot("terraform", &["terraform/"]);
}

#[test]
fn kubeflow() {
    snapshot("kubeflow", &["pipelines/"]);
}

#[test]
fn airflow() {
    snapshot("airflow", &["dags/"]);
}

#[test]
fn cloudbuild() {
    snapshot("cloudbuild", &["cloudbuild/"]);
}

#[test]
fn docker() {
    snapshot("docker", &["docker/"]);
}

#[test]
fn validation() {
    snapshot("validation", &["validation/"]);
}
