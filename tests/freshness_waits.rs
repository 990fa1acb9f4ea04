//! `schedule.wait_for` waits for fresh data. For every scheduled pipeline with `wait_for` in the
//! examples and the hostile Airflow fixture, each environment's DAG is loaded by each Airflow venv
//! (2.10 and 3) and its sensor is poked against stand-in BigQuery/GCS clients
//! (`tests/conformance/checks/freshness_check.py`): it must wait while the table or objects are
//! missing or older than the last successful run's end (the data that run took, even when it
//! landed after the run started), pass once they are newer, read exactly
//! the dataset's resolved table or objects (from the model, not the template), and time out after
//! 6 hours. A sensor timeout fails the task without retries (Airflow 2.10
//! `airflow/models/taskinstance.py` `_run_raw_task`, Airflow 3 `airflow/sdk/execution_time/task_runner.py`:
//! `except (AirflowFailException, AirflowSensorTimeout)` → fail), so the run fails and the
//! `dag_failures` alert fires. Without a venv the test says so and passes; CI's conformance run has them.

mod support;

use mlopsgen::model::DataSource;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn wait_for_waits_for_data_newer_than_the_last_success() {
    let pythons: Vec<PathBuf> = support::airflow_pythons().into_iter().map(|(_, python)| python).collect();
    if pythons.is_empty() {
        eprintln!("SKIP: no Airflow venv (set PY_AF2/PY_AF3 or run tests/conformance/setup.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let script = Path::new(ROOT).join("tests/conformance/checks/freshness_check.py");
    let specs = ["specs/flagship.yaml", "tests/fixtures/airflow_hostile.yaml"];
    let (mut checked, mut kinds) = (0, std::collections::BTreeSet::new());
    for spec in specs {
        let c = support::compile_spec(&Path::new(ROOT).join(spec));
        for p in &c.model.pipelines {
            let Some(key) = p.schedule.as_ref().and_then(|s| s.wait_for.as_ref()) else { continue };
            let ds = c.model.dataset(key).unwrap_or_else(|| panic!("dataset"));
            for env in &c.model.environments {
                // An environment whose overrides switch the schedule off has no DAG for it.
                if c.model.for_env(&env.name).pipeline(&p.key).is_none_or(|v| v.schedule.is_none()) {
                    continue;
                }
                let task_id = format!("wait_for_{}", key.replace('-', "_"));
                let want = match &ds.source {
                    DataSource::BigQuery { project, dataset, table } => {
                        let project = project.as_deref().unwrap_or(&env.gcp_project);
                        json!({"task_id": task_id, "kind": "bigquery", "table": format!("{project}.{dataset}.{table}")})
                    }
                    DataSource::Gcs { bucket, path } => {
                        let glob = path.contains(['*', '?', '[']);
                        json!({"task_id": task_id, "kind": "gcs", "bucket": env.bucket_name(bucket), "object": path, "glob": glob})
                    }
                };
                kinds.insert(want["kind"].to_string());
                let (file, text) = c
                    .output
                    .files()
                    .find(|(f, _)| f.starts_with(&format!("dags/{}/", env.name)) && f.ends_with(&format!("/{}.py", p.key)))
                    .unwrap_or_else(|| panic!("no DAG for {} in {}", p.key, env.name));
                let path = tmp.path().join(file.replace('/', "_"));
                std::fs::write(&path, text).unwrap_or_else(|e| panic!("write: {e}"));
                for python in &pythons {
                    let out = Command::new(python).arg(&script).arg(&path).arg(want.to_string()).output().unwrap_or_else(|e| panic!("python: {e}"));
                    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                    assert!(out.status.success(), "{spec} {file} ({}):\n{log}", python.display());
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 && kinds.len() == 2, "{checked} {kinds:?}");
}
