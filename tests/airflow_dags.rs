//! The Airflow DAGs judged by a real Airflow, against expectations built from the model.
//!
//! For every example spec and `tests/fixtures/airflow_hostile.yaml` (quotes, backslashes, Jinja
//! markup, a multi-line description), this test derives what each environment's DAGs must hold
//! from the resolved [`Model`] alone, independently of the templates: DAG ids, schedule, task
//! ids, dependencies, and the values each operator receives at run time (template path,
//! parameter values, pipeline root, service account, sensor target, drift-job arguments). It
//! writes the generated `dags/` and that expectation (the `airflow_dagbag.py --expect` shape) to a
//! temp dir, then for each Airflow venv found runs
//!
//! - `tests/conformance/checks/airflow_render.py --expect`: loads the DAGs and compares the
//!   fields *after* Airflow's Jinja rendering, so spec strings must come out exactly as written,
//!   and finds each pipeline's description verbatim in its DAG's `doc_md`;
//! - `tests/conformance/checks/airflow_dagbag.py --expect` (when that script is in the tree):
//!   DAG attributes and fields as loaded (fields holding Jinja markup are left out there, as
//!   providers that render a field get its Jinja-inert form).
//!
//! Before that, `py_compile` and `ruff check` (the conformance `ruff.toml` when present) run over
//! every DAG file with the main venv's python.
//!
//! Venvs: `PY_MAIN`, `PY_AF2`, `PY_AF3` (as the conformance `run.sh` exports them), else
//! `$MLOPSGEN_TOOLS/venv-{main,airflow2,airflow3}/bin/python`, else `target/conformance-tools/…`. With none
//! installed the test says so and passes; the conformance run has them.

mod support;

use mlopsgen::model::{Model, SaRole};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("specs"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    specs.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    specs.push(Path::new(ROOT).join("tests/fixtures/airflow_hostile.yaml"));
    specs.sort();
    specs
}

/// What every environment's DAGs must contain, from the model alone.
fn expectations(model: &Model) -> Value {
    let mut envs = Map::new();
    for env in &model.environments {
        let mut dags = Map::new();
        // The environment's own view: its overrides may switch a schedule off or change values.
        let view = model.for_env(&env.name);
        for p in &view.pipelines {
            // Only Composer schedules become DAGs (`orchestrator: vertex` is a Vertex AI schedule).
            let Some(s) = p.schedule.as_ref().filter(|s| s.orchestrator == mlopsgen::model::Orchestrator::Composer) else { continue };
            let mut tasks = Map::new();
            let mut upstream = Vec::new();
            if let Some(key) = &s.wait_for {
                // A freshness check (tests/freshness_waits.rs runs its callable): rescheduled
                // every 10 minutes, failing after 6 hours. What it reads is a module constant.
                let (operator, fields) =
                    ("PythonSensor", json!({"mode": "reschedule", "poke_interval": 600, "timeout": 21600}));
                let task_id = format!("wait_for_{}", key.replace('-', "_"));
                tasks.insert(task_id.clone(), json!({"operator": operator, "upstream": [], "fields": fields}));
                upstream.push(task_id);
            }
            let mut values: Map<String, Value> =
                p.params.iter().filter_map(|prm| Some((prm.name.clone(), prm.default.clone()?))).collect();
            values.extend(s.parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
            let fields = json!({
                "project_id": env.gcp_project,
                "region": env.region,
                "display_name": p.name,
                "template_path": env.template_uri(p),
                "pipeline_root": env.pipeline_root(&model.pipeline_root_bucket, p),
                "parameter_values": values,
                "service_account": env.sa_email(SaRole::Pipelines),
                "deferrable": true,
                // One submission per run: a retry would submit a second PipelineJob.
                "retries": 0,
            });
            tasks.insert(
                "run_pipeline".into(),
                json!({"operator": "RunPipelineJobOperator", "upstream": upstream, "fields": fields}),
            );
            let mut dag = json!({"schedule": s.cron, "catchup": false, "max_active_runs": 1, "tasks": tasks});
            if let Some(d) = &p.description {
                dag["doc_md_contains"] = json!([d.trim_end()]);
            }
            dags.insert(p.dag_id.clone(), dag);
        }
        if let Some(drift) = &model.monitoring.drift {
            let ds = model.dataset(&drift.dataset).unwrap_or_else(|| panic!("dataset {}", drift.dataset));
            let ep = model.endpoint(&drift.endpoint).unwrap_or_else(|| panic!("endpoint {}", drift.endpoint));
            let fields = json!({
                "project_id": env.gcp_project,
                "region": env.region,
                "container_uri": env.image_ref("validator"),
                "args": ["drift", "--dataset", env.dataset_uri(ds),
                         "--requests", format!("bq://{}.{}.*", env.gcp_project, ep.logging_dataset),
                         "--threshold", drift.threshold.to_string(),
                         "--metric", "custom.googleapis.com/mlopsgen/drift_psi"],
                "deferrable": true,
                "retries": 0,
            });
            let task = json!({"operator": "CreateCustomContainerTrainingJobOperator", "upstream": [], "fields": fields});
            dags.insert(
                model.drift_dag_id(),
                json!({"schedule": drift.cron, "catchup": false, "max_active_runs": 1, "tasks": {"run_drift_job": task}}),
            );
        }
        if !dags.is_empty() {
            envs.insert(env.name.clone(), Value::Object(dags));
        }
    }
    Value::Object(envs)
}

fn has_jinja_markup(v: &Value) -> bool {
    match v {
        Value::String(s) => ["{{", "{%", "{#"].iter().any(|m| s.contains(m)),
        Value::Array(items) => items.iter().any(has_jinja_markup),
        Value::Object(map) => map.values().any(has_jinja_markup),
        _ => false,
    }
}

/// The expectation as loaded (before rendering): fields with Jinja markup left out, and no
/// `doc_md_contains` (only airflow_render.py reads it).
fn as_loaded(expect: &Value) -> Value {
    let mut loaded = expect.clone();
    for dags in loaded.as_object_mut().into_iter().flat_map(|e| e.values_mut()) {
        for dag in dags.as_object_mut().into_iter().flat_map(|d| d.values_mut()) {
            if let Some(d) = dag.as_object_mut() {
                d.remove("doc_md_contains");
            }
            for task in dag["tasks"].as_object_mut().into_iter().flat_map(|t| t.values_mut()) {
                if let Some(fields) = task["fields"].as_object_mut() {
                    fields.retain(|_, v| !has_jinja_markup(v));
                }
            }
        }
    }
    loaded
}

/// The python of a conformance venv: `$var`, else `$MLOPSGEN_TOOLS/<venv>`, else the default tools dir.
/// `py_compile` and `ruff check` (with the conformance config when present) over every DAG file.
fn python_checks(python: &Path, outdir: &Path) -> Result<(), String> {
    let entries = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())).collect()
    };
    let files: Vec<PathBuf> = entries(&outdir.join("dags")).iter().flat_map(|env| entries(env)).collect();
    let ruff_config = Path::new(ROOT).join("tests/conformance/ruff.toml");
    let mut ruff = Command::new(python);
    ruff.args(["-m", "ruff", "check", "--no-cache"]);
    if ruff_config.exists() {
        ruff.arg("--config").arg(&ruff_config);
    }
    let mut compile = Command::new(python);
    compile.args(["-m", "py_compile"]).args(&files).env("PYTHONPYCACHEPREFIX", outdir.join("pycache"));
    ruff.arg(outdir.join("dags"));
    for mut cmd in [compile, ruff] {
        let out = cmd.output().map_err(|e| format!("{}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        }
    }
    Ok(())
}

/// Runs a checker script; `Err` with its output when it reports problems.
fn run_check(python: &Path, script: &str, outdir: &Path, expect: &Path) -> Result<(), String> {
    let script = Path::new(ROOT).join("tests/conformance/checks").join(script);
    let out = Command::new(python)
        .arg(&script)
        .arg(outdir)
        .arg("--expect")
        .arg(expect)
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(())
    } else {
        Err(text)
    }
}

#[test]
fn dags_load_and_render_as_the_model_says() {
    let pythons = support::airflow_pythons();
    let main_python = support::venv_python("PY_MAIN", "venv-main");
    if pythons.is_empty() && main_python.is_none() {
        eprintln!("SKIP: no conformance venv (set PY_MAIN/PY_AF2/PY_AF3 or run tests/conformance/setup.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dagbag_present = Path::new(ROOT).join("tests/conformance/checks/airflow_dagbag.py").exists();
    let mut checks = Vec::new();
    for spec in specs() {
        let c = support::compile_spec(&spec);
        let expect = expectations(&c.model);
        if expect.as_object().is_none_or(Map::is_empty) {
            continue;
        }
        let name = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let outdir = tmp.path().join(&name);
        for (path, contents) in c.output.files().filter(|(p, _)| p.starts_with("dags/")) {
            let file = outdir.join(path);
            std::fs::create_dir_all(file.parent().unwrap_or(&outdir)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&file, contents).unwrap_or_else(|e| panic!("{e}"));
        }
        if let Some(python) = &main_python {
            python_checks(python, &outdir).unwrap_or_else(|e| panic!("{name}: ruff/py_compile:\n{e}"));
        }
        let rendered = outdir.join("expect.json");
        std::fs::write(&rendered, expect.to_string()).unwrap_or_else(|e| panic!("{e}"));
        checks.push((name.clone(), "airflow_render.py", outdir.clone(), rendered));
        if dagbag_present {
            let loaded = outdir.join("expect-loaded.json");
            std::fs::write(&loaded, as_loaded(&expect).to_string()).unwrap_or_else(|e| panic!("{e}"));
            checks.push((name, "airflow_dagbag.py", outdir, loaded));
        }
    }
    // One thread per Airflow version; each runs its checks one after another.
    let jobs: Vec<_> = pythons
        .into_iter()
        .map(|(version, python)| {
            let checks = checks.clone();
            std::thread::spawn(move || {
                checks
                    .iter()
                    .filter_map(|(name, script, outdir, expect)| {
                        run_check(&python, script, outdir, expect).err().map(|e| format!("{name} {version} {script}:\n{e}"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let failures: Vec<String> = jobs.into_iter().flat_map(|j| j.join().unwrap_or_else(|_| vec!["checker thread panicked".into()])).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hostile_strings_snapshot() {
    let c = support::compile_spec(&Path::new(ROOT).join("tests/fixtures/airflow_hostile.yaml"));
    let text: String =
        c.output.files().filter(|(p, _)| p.starts_with("dags/")).map(|(p, t)| format!("=== {p} ===\n{t}")).collect();
    insta::assert_snapshot!("airflow_hostile", text);
}

/// Each environment's DAG ids with the cron and time zone the model gives them.
fn timing_expectations(model: &Model) -> Value {
    let mut envs = Map::new();
    for env in &model.environments {
        let mut dags = Map::new();
        for p in &model.for_env(&env.name).pipelines {
            let Some(s) = p.schedule.as_ref().filter(|s| s.orchestrator == mlopsgen::model::Orchestrator::Composer) else { continue };
            dags.insert(p.dag_id.clone(), json!({"cron": s.cron, "time_zone": s.time_zone}));
        }
        if let Some(drift) = &model.monitoring.drift {
            dags.insert(model.drift_dag_id(), json!({"cron": drift.cron, "time_zone": "UTC"}));
        }
        if !dags.is_empty() {
            envs.insert(env.name.clone(), Value::Object(dags));
        }
    }
    Value::Object(envs)
}

/// The scheduler starts every DAG's runs at the model's cron times in its time zone, across a
/// daylight-saving change, the first one at once for the latest cron time already past, and no
/// DAG waits to be unpaused: `tests/conformance/checks/dag_timing.py` asks each Airflow
/// version's own `CronTriggerTimetable.next_dagrun_info` with a fixed clock and compares with
/// times computed from the cron and zone alone.
#[test]
fn dags_start_runs_at_their_cron_times_in_their_time_zone() {
    let pythons = support::airflow_pythons();
    if pythons.is_empty() {
        eprintln!("SKIP: no Airflow venv (set PY_AF2/PY_AF3 or run tests/conformance/setup.sh)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut failures = Vec::new();
    let mut zones = std::collections::BTreeSet::new();
    for spec in specs() {
        let c = support::compile_spec(&spec);
        let expect = timing_expectations(&c.model);
        let Some(envs) = expect.as_object().filter(|e| !e.is_empty()) else { continue };
        zones.extend(envs.values().flat_map(|d| d.as_object().into_iter().flat_map(|d| d.values())).map(|d| d["time_zone"].to_string()));
        let name = spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let outdir = tmp.path().join(&name);
        for (path, contents) in c.output.files().filter(|(p, _)| p.starts_with("dags/")) {
            let file = outdir.join(path);
            std::fs::create_dir_all(file.parent().unwrap_or(&outdir)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&file, contents).unwrap_or_else(|e| panic!("{e}"));
        }
        let expect_file = outdir.join("timing.json");
        std::fs::write(&expect_file, expect.to_string()).unwrap_or_else(|e| panic!("{e}"));
        for (version, python) in &pythons {
            if let Err(e) = run_check(python, "dag_timing.py", &outdir, &expect_file) {
                failures.push(format!("{name} {version}:\n{e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The examples must exercise a zone with daylight saving, or the DST crossing proves nothing.
    assert!(zones.iter().any(|z| z != "\"UTC\""), "no DAG outside UTC: {zones:?}");
}
