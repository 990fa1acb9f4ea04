//! `mlopsgen graph`: prints a pipeline's step DAG, and fails cleanly for unknown pipelines.

use assert_cmd::Command;
use predicates::str::contains;

fn mlopsgen() -> Command {
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn prints_mermaid_by_default_and_dot_on_request() {
    mlopsgen()
        .args(["graph", "training", "specs/flagship.yaml"])
        .assert()
        .success()
        .stdout(contains("flowchart TD\n"))
        .stdout(contains("s4 -.->|\"when auc #62;= params.min_auc\"| s5"));
    mlopsgen()
        .args(["graph", "scoring", "--format", "dot", "specs/flagship.yaml"])
        .assert()
        .success()
        .stdout(contains("\"validate\" -> \"predict\";"));
}

#[test]
fn unknown_pipeline_is_a_usage_error() {
    mlopsgen()
        .args(["graph", "nope", "specs/flagship.yaml"])
        .assert()
        .code(2)
        .stderr(contains("has no pipeline `nope` (pipelines: scoring, training)"));
}
