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

/// `validate` counts the files without rendering them (`targets::paths`); the count names exactly
/// the files a build renders, for every example (the fuzz target checks the same on every input
/// that compiles).
#[test]
fn paths_without_rendering_are_the_rendered_paths() {
    for spec in examples() {
        let c = compile_example(&spec);
        let counted = mlopsgen::targets::paths(&c.model).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
        let rendered: Vec<&str> = c.output.files().map(|(p, _)| p).collect();
        assert_eq!(counted.iter().map(String::as_str).collect::<Vec<_>>(), rendered, "{}", spec.display());
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

/// The committed `generated/<example>/` holds exactly what the build makes (besides the
/// manifest and hand-owned `*.extra.tf`): `build --check` only compares the files the build
/// makes, so a file left behind by a merge or a renamed output would otherwise stay committed,
/// and CD's `sync-dags` would upload a stale DAG file to Composer, where it keeps running.
#[test]
fn committed_output_has_no_file_the_build_does_not_make() {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    for spec in examples() {
        let c = compile_example(&spec);
        let name = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated").join(&name);
        let mut committed = Vec::new();
        walk(&dir, &dir, &mut committed);
        let made: std::collections::BTreeSet<&str> = c.output.files().map(|(p, _)| p).collect();
        let extra: Vec<&String> = committed
            .iter()
            .filter(|p| !p.starts_with(".mlopsgen/") && !p.ends_with(".extra.tf") && !made.contains(p.as_str()))
            .collect();
        assert!(!made.is_empty(), "{name}: the build made nothing");
        assert!(extra.is_empty(), "generated/{name} has files the build does not make: {extra:?}");
    }
}
