//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses some of these

use mlopsgen::{compile, Options, Source};
use std::path::Path;

/// Compiles a spec file (panicking with rendered diagnostics if it is invalid).
pub fn compile_spec(spec: &Path) -> mlopsgen::Compilation {
    let text = std::fs::read_to_string(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
    let source = Source { name: spec.display().to_string(), text };
    match compile(&source, &Options { spec_file: spec.to_path_buf(), out_override: None }) {
        Ok(c) => c,
        Err(mlopsgen::Error::Invalid(d)) => panic!("{}", mlopsgen::diagnostic::render(&source, &d, false)),
        Err(e) => panic!("{e}"),
    }
}

/// A compilation's files by path, the form `diff` and the reviews compare.
pub fn files(c: &mlopsgen::Compilation) -> mlopsgen::output::Files {
    c.output.files().map(|(p, t)| (p.to_owned(), t.to_owned())).collect()
}
