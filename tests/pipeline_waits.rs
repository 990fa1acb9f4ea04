//! A scheduled pipeline's DAG outlives a failed status request: `RunPipelineJobOperator` waits in
//! the triggerer, and `PipelineJobAsyncHook.wait_for_pipeline_job` turns any failed request into
//! an error event without the job (providers-google 15.1 and 22.8, `hooks/vertex_ai/pipeline_job.py`;
//! `GetPipelineJob` has no default retry), so one 503 during a run of hours failed the task while
//! the run went on, and clearing it started a second run. Every pipeline DAG of the examples and
//! the hostile fixture, in every environment, is loaded by each Airflow venv (2.10 and 3) and its
//! run task's `execute_complete` is fed the trigger's events
//! (`tests/conformance/checks/pipeline_wait_check.py`): a failed request waits again on the same
//! job a bounded number of times, a failed run fails the task, a success returns the job. Without
//! a venv the test says so and passes; CI's conformance run has them.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn a_failed_status_request_waits_again_on_the_same_job() {
    let pythons: Vec<PathBuf> = support::airflow_pythons().into_iter().map(|(_, python)| python).collect();
    if pythons.is_empty() {
        eprintln!("SKIP: no Airflow venv (set PY_AF2/PY_AF3 or run tests/conformance/setup.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let script = Path::new(ROOT).join("tests/conformance/checks/pipeline_wait_check.py");
    let mut cases = Vec::new();
    for spec in ["specs/flagship.yaml", "specs/forecast.yaml", "tests/fixtures/airflow_hostile.yaml"] {
        let c = support::compile_spec(&Path::new(ROOT).join(spec));
        for env in &c.model.environments {
            for p in &c.model.for_env(&env.name).pipelines {
                if p.schedule.as_ref().is_none_or(|s| s.orchestrator != mlopsgen::model::Orchestrator::Composer) {
                    continue;
                }
                let (file, text) = c
                    .output
                    .files()
                    .find(|(f, _)| f.starts_with(&format!("dags/{}/", env.name)) && f.ends_with(&format!("/{}.py", p.key)))
                    .unwrap_or_else(|| panic!("{spec}: no DAG for {} in {}", p.key, env.name));
                let name = format!("{}_{}", cases.len(), file.replace('/', "_"));
                std::fs::write(tmp.path().join(&name), text).unwrap_or_else(|e| panic!("write: {e}"));
                let run_task = mlopsgen::targets::airflow::RUN_PIPELINE_TASK;
                cases.push(json!({"dag_file": tmp.path().join(&name), "task_id": run_task, "project_id": env.gcp_project, "region": env.region}));
            }
        }
    }
    let list = tmp.path().join("cases.json");
    std::fs::write(&list, serde_json::to_string(&cases).unwrap_or_default()).unwrap_or_else(|e| panic!("write: {e}"));
    for python in &pythons {
        let out = Command::new(python).arg(&script).arg(&list).output().unwrap_or_else(|e| panic!("python: {e}"));
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}:\n{log}", python.display());
    }
    let checked = cases.len();
    assert!(checked >= 6, "{checked}");
}
