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

/// A task of a compiled pipeline (PipelineSpec JSON), wherever it sits: the root DAG or a
/// condition group's sub-DAG.
pub fn pipeline_task<'a>(pipeline: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    let components = pipeline["components"].as_object().into_iter().flatten().map(|(_, c)| &c["dag"]["tasks"]);
    let mut dags = std::iter::once(&pipeline["root"]["dag"]["tasks"]).chain(components);
    dags.find_map(|tasks| tasks.get(key)).unwrap_or_else(|| panic!("no task `{key}`"))
}
