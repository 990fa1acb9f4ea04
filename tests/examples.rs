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

/// Snapshots each target's files (those under its folder) for every example: snapshot
/// `<target id>__<example>`, one per entry of the target registry.
#[test]
fn every_target() {
    for spec in examples() {
        let c = compile_example(&spec);
        let name = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        for target in mlopsgen::targets::TARGETS {
            let prefix = format!("{}/", target.dir());
            let mut text = String::new();
            for (path, contents) in c.output.files().filter(|(p, _)| p.starts_with(&prefix)) {
                text.push_str(&format!("=== {path} ===\n{contents}"));
            }
            insta::assert_snapshot!(format!("{}__{name}", target.id()), text);
        }
    }
}

/// Every generated file belongs to a target's folder, so the snapshots above see all of them.
#[test]
fn every_file_is_in_a_target_folder() {
    for spec in examples() {
        let c = compile_example(&spec);
        let dirs: Vec<String> = mlopsgen::targets::TARGETS.iter().map(|t| format!("{}/", t.dir())).collect();
        let stray: Vec<&str> = c.output.files().map(|(p, _)| p).filter(|p| !dirs.iter().any(|d| p.starts_with(d.as_str()))).collect();
        assert!(stray.is_empty(), "{}: files outside every target folder: {stray:?}", spec.display());
    }
}
