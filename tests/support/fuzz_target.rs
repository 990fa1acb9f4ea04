//! The fuzz target, shared by cargo-fuzz (`fuzz/fuzz_targets/compile.rs`) and the stable
//! harness (`tests/fuzz_smoke.rs`): spec bytes → `mlopsgen::compile` → every artifact parses.
//!
//! Invariants: no panic; an invalid spec fails with at least one diagnostic; no internal error;
//! a spec that compiles yields artifacts that all re-parse (see `artifacts.rs`), and `validate`'s
//! count of its files without rendering them (`targets::paths`) names exactly the files rendered.
#![allow(dead_code)]

use super::artifacts;
use mlopsgen::{compile, Error, Options, Source};
use std::path::PathBuf;

/// Runs one input; `Err` describes a broken invariant. Panics propagate (the fuzzer's crash).
pub fn check(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(()); // the CLI reads specs as UTF-8 and rejects anything else before compiling
    };
    let source = Source { name: "fuzz.yaml".into(), text: text.to_owned() };
    let options = Options { spec_file: PathBuf::from("specs/fuzz.yaml"), out_override: Some(PathBuf::from("/nonexistent/out")) };
    match compile(&source, &options) {
        Err(Error::Invalid(d)) if d.is_empty() => Err("invalid without a diagnostic".into()),
        Err(Error::Invalid(_)) => Ok(()),
        Err(Error::Internal(e)) => Err(format!("internal error: {e}")),
        Ok(c) => {
            for (path, contents) in c.output.files() {
                artifacts::parse(path, contents)?;
            }
            let counted = mlopsgen::targets::paths(&c.model).map_err(|e| format!("counting the files: {e}"))?;
            let rendered: std::collections::BTreeSet<String> = c.output.files().map(|(p, _)| p.to_owned()).collect();
            if counted != rendered {
                let only = |a: &std::collections::BTreeSet<String>, b: &std::collections::BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>();
                return Err(format!("paths without rendering differ: only counted {:?}, only rendered {:?}", only(&counted, &rendered), only(&rendered, &counted)));
            }
            Ok(())
        }
    }
}
