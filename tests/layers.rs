//! The library's modules form layers: each imports only from the layers below it, so there is no
//! import circle between them and no stage reaches up into a later one (e.g. `output` into
//! `diff`, or `diff` into the crate root's `Compilation`). Read from the source, not by eye:
//! every `crate::<module>` path outside comments and test code is checked against the order
//! below. Doc links (`[`crate::…`]`) are comments and may point anywhere. Within the order, a
//! few submodules are off limits to a layer above them ([`FORBIDDEN`]: `validate` must not use
//! `model::lower`).

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

/// Submodules a layer may not use although their parent module sits below it: `validate` reads
/// what a spec declares from `spec` (`spec::step`), not from the lowering code that builds the
/// model from it, so checking and lowering share one definition.
const FORBIDDEN: &[(&str, &str)] = &[("validate", "model::lower")];

/// Every module path a file's code names, with grouped imports expanded
/// (`model::{lower::{a, b}, naming}` → `model::lower::a`, `model::lower::b`, `model::naming`).
fn module_paths(code: &str) -> Vec<String> {
    fn expand(prefix: &str, text: &str, out: &mut Vec<String>) -> usize {
        let mut path = prefix.to_owned();
        let mut i = 0;
        let chars: Vec<char> = text.chars().collect();
        while i < chars.len() {
            match chars[i] {
                '{' => {
                    i += 1 + expand(&path, &text[text.char_indices().nth(i + 1).map_or(text.len(), |(b, _)| b)..], out);
                    path = prefix.to_owned();
                }
                '}' => {
                    out.push(path);
                    return i + 1;
                }
                ',' => {
                    out.push(std::mem::replace(&mut path, prefix.to_owned()));
                    i += 1;
                }
                c if c.is_alphanumeric() || c == '_' || c == ':' => {
                    path.push(c);
                    i += 1;
                }
                c if c.is_whitespace() => i += 1,
                _ => {
                    out.push(path);
                    return i;
                }
            }
        }
        out.push(path);
        i
    }
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut found = Vec::new();
        expand("", &code[at..], &mut found);
        out.extend(found.into_iter().map(|p| p.split("::").filter(|s| !s.is_empty() && *s != "crate" && *s != "super").collect::<Vec<_>>().join("::")));
    }
    out
}

#[test]
fn module_paths_expand_grouped_imports() {
    let paths = module_paths("use crate::model::{lower::{parse, Layout}, naming};\nlet x = super::super::model::lower::f();");
    for wanted in ["model::lower::parse", "model::lower::Layout", "model::naming", "model::lower::f"] {
        assert!(paths.iter().any(|p| p == wanted), "{wanted} missing from {paths:?}");
    }
}

#[test]
fn validate_does_not_import_lowering_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    let mut seen = 0;
    for (module, forbidden) in FORBIDDEN {
        for file in sources(&src.join(module)) {
            let code = code(&file);
            if code.contains(forbidden) {
                let file = file.strip_prefix(&src).unwrap_or(&file).display().to_string();
                problems.push(format!("{file} ({module}) names {forbidden}"));
            }
            for used in module_paths(&code) {
                seen += 1;
                if used == *forbidden || used.starts_with(&format!("{forbidden}::")) {
                    let file = file.strip_prefix(&src).unwrap_or(&file).display().to_string();
                    problems.push(format!("{file} ({module}) uses {used}"));
                }
            }
        }
    }
    assert!(seen > 20, "only {seen} module paths found: is the source readable?");
    assert!(problems.is_empty(), "imports of a module this layer must not use:\n{}", problems.join("\n"));
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

/// Targets are independent: what two of them share (a trigger's identity, a build argument, a
/// file's path) lives in the model, so no target's folder imports another's.
#[test]
fn targets_do_not_import_each_other() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/targets");
    let folders: Vec<String> = std::fs::read_dir(&targets)
        .unwrap_or_else(|e| panic!("{}: {e}", targets.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert!(folders.len() >= 5, "only {folders:?} found under src/targets");
    let mut problems = Vec::new();
    for own in &folders {
        for file in sources(&targets.join(own)) {
            let code = code(&file);
            // `crate::targets::<other>` (grouped imports expanded) or `super::super::<other>` from
            // a target's submodule.
            let mut used: Vec<String> = module_paths(&code).into_iter().filter(|p| p.starts_with("targets::")).collect();
            used.extend(code.match_indices("super::super::").map(|(at, m)| format!("targets::{}", &code[at + m.len()..])));
            for path in used {
                let other = folders.iter().find(|f| *f != own && path.strip_prefix("targets::").is_some_and(|rest| rest == f.as_str() || rest.starts_with(&format!("{f}::"))));
                if let Some(other) = other {
                    problems.push(format!("{} ({own}) uses {other}", file.strip_prefix(&targets).unwrap_or(&file).display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "targets importing each other:\n{}", problems.join("\n"));
}
