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

/// The Python of a conformance venv: `$VAR`, else `<tools>/<venv>/bin/python` (`$MLOPSGEN_TOOLS`,
/// default `target/conformance-tools`), if it exists.
pub fn venv_python(var: &str, venv: &str) -> Option<std::path::PathBuf> {
    let tools = std::env::var_os("MLOPSGEN_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance-tools"));
    let python = std::env::var_os(var).map(std::path::PathBuf::from).unwrap_or_else(|| tools.join(venv).join("bin/python"));
    python.exists().then_some(python)
}

/// The Airflow venvs' Pythons that exist, by name: Airflow 2.10 (`PY_AF2`) and 3 (`PY_AF3`).
pub fn airflow_pythons() -> Vec<(&'static str, std::path::PathBuf)> {
    [("airflow2", "PY_AF2", "venv-airflow2"), ("airflow3", "PY_AF3", "venv-airflow3")]
        .into_iter()
        .filter_map(|(name, var, venv)| Some((name, venv_python(var, venv)?)))
        .collect()
}
