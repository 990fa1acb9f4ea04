//! The library's modules form layers: each imports only from the layers below it, so there is no
//! import circle between them and no stage reaches up into a later one (e.g. `output` into
//! `diff`, or `diff` into the crate root's `Compilation`). Read from the source, not by eye:
//! every `crate::<module>` path outside comments and test code is checked against the order
//! below. Doc links (`[`crate::…`]`) are comments and may point anywhere.

use std::path::{Path, PathBuf};

/// The library's top-level modules, lowest layer first; a module may import from the modules
/// before it. `review` (what a change to each file format means) sits below `targets`, whose
/// registry pairs each target's emitter with its review; `diff` and `proof` are the top.
const LAYERS: &[&str] = &["diagnostic", "spec", "model", "validate", "output", "review", "targets", "diff", "proof"];

/// Every `.rs` file under `path` (a file or a folder).
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let entries = std::fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut files = Vec::new();
    for entry in entries {
        let p = entry.unwrap_or_else(|e| panic!("{}: {e}", path.display())).path();
        if p.is_dir() || p.extension().is_some_and(|e| e == "rs") {
            files.extend(sources(&p));
        }
    }
    files
}

/// The non-test, non-comment code of a file: test modules (`tests.rs`, or a file's tail from
/// its `#[cfg(test)]`) and comment lines are left out.
fn code(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The first path segment after each `crate::` (`{` for a grouped import of crate-root items).
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(at, m)| code[at + m.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{').collect())
        .collect()
}

#[test]
fn modules_import_only_from_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    let mut seen = 0;
    for (rank, module) in LAYERS.iter().enumerate() {
        let folder = src.join(module);
        let files = if folder.is_dir() { sources(&folder) } else { sources(&src.join(format!("{module}.rs"))) };
        for file in files {
            let code = code(&file);
            // In a module's root file, `super::` is the crate root.
            let root_file = file.file_name().is_some_and(|n| n == "mod.rs") && file.parent() == Some(folder.as_path()) || !folder.is_dir();
            if root_file && code.contains("super::") {
                problems.push(format!("{module}'s root file uses super:: (the crate root)"));
            }
            for used in crate_paths(&code) {
                seen += 1;
                let allowed = used == *module || LAYERS[..rank].contains(&used.as_str());
                if !allowed {
                    let file = file.strip_prefix(&src).unwrap_or(&file).display().to_string();
                    problems.push(format!("{file} ({module}) uses crate::{used}"));
                }
            }
        }
    }
    assert!(seen > 50, "only {seen} crate paths found: is the source readable?");
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "imports from a higher layer or the crate root:\n{}", problems.join("\n"));
}

#[test]
fn every_library_module_has_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap_or_default();
    let modules: Vec<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("pub mod ").or_else(|| l.strip_prefix("mod "))).map(|m| m.trim_end_matches(';')).collect();
    assert!(!modules.is_empty(), "no modules in src/lib.rs");
    for m in modules {
        assert!(LAYERS.contains(&m), "module `{m}` has no place in LAYERS");
    }
}
