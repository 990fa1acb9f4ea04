//! Property tests (the stable-toolchain stand-in for cargo-fuzz): arbitrary input never panics,
//! and whenever a mutated spec compiles, every artifact it produces parses again.
//!
//! `PROPTEST_CASES` scales the run (CI uses the default; a long run is documented in the README).

use mlopsgen::{compile, Error, Options, Source};
use proptest::prelude::*;
use std::path::PathBuf;

const FLAGSHIP: &str = include_str!("../specs/flagship.yaml");

/// Strings that try to break out of every target language.
pub const HOSTILE: &[&str] = &[
    "${var.project}", "%{if true}x%{endif}", "$HOME", "${HOME}", "$$", "$_ENV", "\"quoted\"", "'single'",
    "back\\slash", "{{ ds }}", "{% raw %}", "{{params.x}}", ": colon", "# hash", "&anchor", "*alias", "!tag",
    "- dash", "? q", "null", "yes", "'''triple'''", "\"\"\"triple\"\"\"", "ünïcødé ✓", "`tick`", "a\tb",
];

fn options() -> Options {
    Options { spec_file: PathBuf::from("specs/flagship.yaml"), out_override: Some(PathBuf::from("/nonexistent/out")) }
}

/// Compiles; on success, re-parses every JSON, YAML and HCL artifact.
fn compile_and_reparse(text: &str) -> Result<(), String> {
    let source = Source { name: "fuzz.yaml".into(), text: text.to_owned() };
    match compile(&source, &options()) {
        Err(Error::Invalid(d)) => {
            if d.is_empty() {
                return Err("invalid without diagnostics".into());
            }
            Ok(())
        }
        Err(Error::Internal(e)) => Err(format!("internal error: {e}")),
        Ok(c) => {
            for (path, contents) in c.output.files() {
                let ok = if path.ends_with(".json") {
                    serde_json::from_str::<serde_json::Value>(contents).is_ok()
                } else if path.ends_with(".yaml") {
                    mlopsgen::spec::yaml::parse(contents).is_ok()
                } else if path.ends_with(".tf") || path.ends_with(".tfvars") || path.ends_with(".hcl") {
                    hcl::parse(contents).is_ok()
                } else {
                    true
                };
                if !ok {
                    return Err(format!("{path} does not parse:\n{contents}"));
                }
            }
            Ok(())
        }
    }
}

/// Applies one mutation to the flagship spec's lines.
fn mutate(lines: &mut Vec<String>, op: u8, at: usize, hostile: &str) {
    if lines.is_empty() {
        return;
    }
    let i = at % lines.len();
    match op % 5 {
        0 => {
            // Replace the value of a `key: value` line with a quoted hostile string.
            if let Some((key, _)) = lines[i].split_once(": ") {
                let quoted = serde_json::to_string(hostile).unwrap_or_default();
                lines[i] = format!("{key}: {quoted}");
            }
        }
        1 => {
            lines.remove(i);
        }
        2 => {
            let dup = lines[i].clone();
            lines.insert(i, dup);
        }
        3 => {
            let j = (at / 7) % lines.len();
            lines.swap(i, j);
        }
        _ => {
            // Append a hostile string inside an existing flow list or value.
            lines[i].push_str(hostile);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        prop_assert!(compile_and_reparse(&text).is_ok());
    }

    #[test]
    fn mutated_flagship_never_panics_and_artifacts_parse(
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), 0..HOSTILE.len()), 1..4)
    ) {
        let mut lines: Vec<String> = FLAGSHIP.lines().map(str::to_owned).collect();
        for (op, at, h) in ops {
            mutate(&mut lines, op, at, HOSTILE[h]);
        }
        let text = lines.join("\n");
        let result = compile_and_reparse(&text);
        prop_assert!(result.is_ok(), "{:?}", result);
    }
}
