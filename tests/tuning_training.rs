//! Tuning feeds training, every run writes its own job directories, training jobs log to the
//! environment's TensorBoard, and metrics outputs reach the console as artifact metadata. The
//! generated helper programs are run with `python3` against stand-ins for the Vertex AI SDK
//! (skipped with a note when there is no `python3`), and their results are followed through the
//! compiled wiring the way Vertex AI resolves it.
//!
//! Sources: kfp `dsl.PIPELINE_JOB_ID_PLACEHOLDER` (`sdk/python/kfp/dsl/__init__.py`), substituted
//! inside constant task inputs as GCPC's compiled Vertex pipelines rely on
//! (`preview/automl/forecasting/*_pipeline.yaml`, `job_display_name`); REST
//! `HyperparameterTuningJob.trials`, `Trial.finalMeasurement`, `StudySpec.MetricSpec.GoalType`;
//! REST `CustomJobSpec.tensorboard` / `baseOutputDirectory`; kfp's artifact metadata for
//! `Metrics`/`ClassificationMetrics` (`sdk/python/kfp/dsl/types/artifact_types.py`) returned in
//! the executor output file (`executor_output.json`, the executor input's `outputs.outputFile`).

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn pipeline(env: &str, name: &str) -> Value {
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    let text = c.output.get(&format!("pipelines/{env}/{name}.json")).unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{env}/{name}: {e}"))
}

/// The program a helper task runs (`python3 -c <program> {{$}}`).
fn program(spec: &Value, task: &str) -> String {
    let exec = &spec["deploymentSpec"]["executors"][format!("exec-{task}")]["container"];
    assert_eq!(exec["command"][0], "python3", "{task}");
    assert_eq!(exec["args"], json!(["{{$}}"]), "{task} takes the executor input");
    exec["command"][2].as_str().unwrap_or_default().to_owned()
}

fn python() -> Option<&'static str> {
    ["python3"].into_iter().find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// Runs `script` with the executor input and `driver_prelude` (stand-ins) in a fresh process;
/// returns stdout, or the exit failure as `Err`.
fn run(py: &str, packages: &[(&str, &str)], prelude: &str, script: &str, executor_input: &Value) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (module, text) in packages {
        let path = dir.path().join(module.replace('.', "/"));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(path.join("__init__.py"), text).unwrap_or_else(|e| panic!("{e}"));
    }
    for init in ["google/__init__.py", "google/cloud/__init__.py"] {
        std::fs::create_dir_all(dir.path().join(init).parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join(init), "").unwrap_or_else(|e| panic!("{e}"));
    }
    let driver = format!("import sys\n{prelude}\nsys.argv = ['-c', {:?}]\nexec(compile({:?}, 'task', 'exec'), {{}})\n", executor_input.to_string(), script);
    let out = Command::new(py).arg("-c").arg(driver).env("PYTHONPATH", dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

#[test]
fn two_runs_write_their_trials_and_training_outputs_to_different_directories() {
    let spec = pipeline("dev", "training");
    let root = spec["defaultPipelineRoot"].as_str().unwrap_or_default().to_owned();
    let tasks = &spec["root"]["dag"]["tasks"];
    for task in ["tune", "train"] {
        let dir = tasks[task]["inputs"]["parameters"]["base_output_directory"]["runtimeValue"]["constant"].as_str().unwrap_or_default();
        // What Vertex AI makes of the constant in two runs.
        let runs: Vec<String> = ["churn-training-20261207030000", "churn-training-20261214030000"]
            .iter()
            .map(|id| dir.replace("{{$.pipeline_job_uuid}}", id))
            .collect();
        assert_ne!(runs[0], runs[1], "{task}: two runs share `{dir}`");
        for r in &runs {
            assert!(r.starts_with(&format!("{root}/")) && r.ends_with(&format!("/{task}")), "{task}: {r} is not under the pipeline root");
            assert!(!r.contains("{{"), "{task}: {r} keeps a placeholder Vertex AI does not fill");
        }
    }
}

const FAKE_JOB_SERVICE: &str = r#"
class JobServiceClient:
    calls = []
    def __init__(self, client_options):
        JobServiceClient.calls.append(("endpoint", client_options["api_endpoint"]))
    def get_hyperparameter_tuning_job(self, name):
        JobServiceClient.calls.append(("get", name))
        trial = lambda id, state, auc, lr, depth: {
            "id": id, "state": state,
            "final_measurement": {"metrics": [{"metric_id": "auc", "value": auc}] if auc is not None else []},
            "parameters": [{"parameter_id": "learning_rate", "value": lr}, {"parameter_id": "max_depth", "value": depth}]}
        return {"study_spec": {"metrics": [{"metric_id": "auc", "goal": GOAL}]}, "trials": [
            trial("1", 4, 0.81, 0.2, 3.0),
            trial("2", 4, 0.93, 0.0123, 7.0),
            trial("3", 5, 0.99, 0.3, 10.0),   # infeasible: never the best
            trial("4", 4, 0.86, 0.05, 4.0),
            trial("5", 2, None, 0.1, 5.0)]}   # still running, no final measurement

class HyperparameterTuningJob:
    @staticmethod
    def to_dict(job):
        return job

GOAL = 1
"#;

#[test]
fn the_best_trials_values_reach_the_training_jobs_arguments() {
    let spec = pipeline("dev", "training");
    let tasks = &spec["root"]["dag"]["tasks"];
    // The best-trial task reads the tuning job's `gcp_resources`.
    assert_eq!(tasks["tune-best"]["inputs"]["parameters"]["gcp_resources"]["taskOutputParameter"], json!({"outputParameterKey": "gcp_resources", "producerTask": "tune"}));
    let Some(py) = python() else {
        eprintln!("note: no python3; the best-trial program was not run");
        return;
    };
    let script = program(&spec, "tune-best");
    let job = "projects/acme-churn-dev/locations/europe-west4/hyperparameterTuningJobs/42";
    let resources = json!({"resources": [{"resourceType": "HyperparameterTuningJob", "resourceUri": format!("https://europe-west4-aiplatform.googleapis.com/v1/{job}")}]});
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = |n: &str| out.path().join("outputs").join(n).display().to_string();
    let executor_input = json!({
        "inputs": {"parameterValues": {"gcp_resources": resources.to_string()}},
        "outputs": {"parameters": {"learning_rate": {"outputFile": file("learning_rate")}, "max_depth": {"outputFile": file("max_depth")}},
                    "outputFile": file("executor_output.json")},
    });
    for (goal, lr, depth) in [(1, "0.0123", "7"), (2, "0.2", "3")] {
        let prelude = format!("from google.cloud import aiplatform_v1\naiplatform_v1.GOAL = {goal}");
        let log = run(py, &[("google.cloud.aiplatform_v1", FAKE_JOB_SERVICE)], &prelude, &script, &executor_input).unwrap_or_else(|e| panic!("{e}"));
        assert!(log.contains("best trial"), "{log}");
        let read = |n: &str| std::fs::read_to_string(file(n)).unwrap_or_default();
        assert_eq!((read("learning_rate").as_str(), read("max_depth").as_str()), (lr, depth), "goal {goal}: {log}");

        // Follow the values into the training job: train's inputs come from the best-trial
        // task's outputs, and its worker pool's args name those inputs.
        let train = &tasks["train"]["inputs"]["parameters"];
        let mut values = std::collections::BTreeMap::new();
        for name in ["learning_rate", "max_depth"] {
            assert_eq!(train[name]["taskOutputParameter"], json!({"outputParameterKey": name, "producerTask": "tune-best"}));
            values.insert(format!("{{{{$.inputs.parameters['{name}']}}}}"), read(name));
        }
        let pools = &spec["components"]["comp-train"]["inputDefinitions"]["parameters"]["worker_pool_specs"]["defaultValue"];
        let args: Vec<String> = pools[0]["container_spec"]["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|a| values.iter().fold(a.to_owned(), |a, (p, v)| a.replace(p, v)))
            .collect();
        let after = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
        assert_eq!((after("--lr").as_deref(), after("--max-depth").as_deref()), (Some(lr), Some(depth)), "{args:?}");
    }
}

const FAKE_TENSORBOARD: &str = r#"
class _Board:
    def __init__(self, name):
        self.resource_name = name

class Tensorboard:
    boards = {}
    @staticmethod
    def list(filter, project, location):
        return [_Board(n) for n in Tensorboard.boards.get((filter, project, location), [])]
"#;

#[test]
fn each_environment_trains_with_its_own_tensorboard() {
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    // The display name Terraform gives the TensorBoard.
    let vertex_tf = c.output.get("terraform/vertex.tf").unwrap_or_default();
    let block = vertex_tf.split("resource \"google_vertex_ai_tensorboard\"").nth(1).unwrap_or_default();
    let display = block.lines().find_map(|l| l.trim().strip_prefix("display_name = ")).unwrap_or_default().trim_matches('"').to_owned();
    assert!(!display.is_empty(), "no TensorBoard in vertex.tf");
    let boards = json!({"dev": ["projects/111/locations/europe-west4/tensorboards/1001"], "prod": ["projects/222/locations/europe-west4/tensorboards/2002"]});
    let Some(py) = python() else {
        eprintln!("note: no python3; the TensorBoard lookup was not run");
        return;
    };
    for env in ["dev", "prod"] {
        let spec = pipeline(env, "training");
        let tasks = &spec["root"]["dag"]["tasks"];
        assert_eq!(tasks["train"]["inputs"]["parameters"]["tensorboard"]["taskOutputParameter"], json!({"outputParameterKey": "tensorboard", "producerTask": "train-tensorboard"}));
        let lookup = &tasks["train-tensorboard"]["inputs"]["parameters"];
        let constant = |n: &str| lookup[n]["runtimeValue"]["constant"].as_str().unwrap_or_default().to_owned();
        assert_eq!(constant("display_name"), display);
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = out.path().join("tensorboard").display().to_string();
        let executor_input = json!({
            "inputs": {"parameterValues": {"display_name": constant("display_name"), "location": constant("location"), "project": constant("project")}},
            "outputs": {"parameters": {"tensorboard": {"outputFile": file}}},
        });
        // Each project holds its own board; the lookup must find the one of the run's project.
        let table: Vec<String> = ["dev", "prod"]
            .iter()
            .map(|e| {
                let project = if *e == "dev" { "acme-churn-dev" } else { "acme-churn-prod" };
                format!("(('display_name=\"{display}\"', {project:?}, 'europe-west4'), {})", boards[e])
            })
            .collect();
        let prelude = format!("from google.cloud import aiplatform\naiplatform.Tensorboard.boards = dict([{}])", table.join(", "));
        let script = program(&spec, "train-tensorboard");
        let log = run(py, &[("google.cloud.aiplatform", FAKE_TENSORBOARD)], &prelude, &script, &executor_input).unwrap_or_else(|e| panic!("{env}: {e}"));
        assert_eq!(std::fs::read_to_string(&file).unwrap_or_default(), boards[env][0].as_str().unwrap_or_default(), "{env}: {log}");
        // No TensorBoard (Terraform not applied): the task fails instead of training without one.
        let none = run(py, &[("google.cloud.aiplatform", FAKE_TENSORBOARD)], "", &script, &executor_input);
        assert!(none.is_err_and(|e| e.contains("expected one TensorBoard")), "{env}");
    }
}

#[test]
fn metrics_outputs_are_returned_as_artifact_metadata() {
    let spec = pipeline("dev", "training");
    let tasks = &spec["root"]["dag"]["tasks"];
    let cases = [
        ("train-metrics", "train", "metrics", "system.Metrics", json!({"auc": 0.91, "log_loss": 0.3})),
        ("evaluate-report", "evaluate", "report", "system.ClassificationMetrics", json!({
            "confusionMatrix": {"annotationSpecs": [{"displayName": "stay"}, {"displayName": "churn"}], "rows": [{"row": [90, 10]}, {"row": [5, 45]}]},
            "confidenceMetrics": [{"confidenceThreshold": 0.5, "recall": 0.9, "falsePositiveRate": 0.1}]})),
    ];
    let py = python();
    for (task, step, output, schema, file_json) in cases {
        let source = &tasks[task]["inputs"]["artifacts"]["source"]["taskOutputArtifact"];
        assert_eq!(source, &json!({"outputArtifactKey": output, "producerTask": step}), "{task}");
        let declared = &spec["components"][format!("comp-{task}")]["outputDefinitions"]["artifacts"][output]["artifactType"]["schemaTitle"];
        assert_eq!(declared, schema, "{task}");
        let Some(py) = py else {
            eprintln!("note: no python3; the publishing program was not run");
            return;
        };
        // The step wrote its file under the pipeline root; the task sees it under /gcs/.
        let gcs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let uri = format!("gs://acme-churn-dev-artifacts/pipeline-root/training/run/{step}/{output}");
        let local = gcs.path().join(uri.trim_start_matches("gs://"));
        std::fs::create_dir_all(local.parent().unwrap_or(gcs.path())).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&local, file_json.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let prelude = format!(
            "import builtins\n_open = builtins.open\nbuiltins.open = lambda p, *a, **k: _open(p.replace('/gcs/', {:?}, 1) if p.startswith('/gcs/') else p, *a, **k)",
            format!("{}/", gcs.path().display())
        );
        let executor_output = gcs.path().join("task/executor_output.json");
        let own = json!({"name": "projects/1/locations/europe-west4/metadataStores/default/artifacts/9", "type": {"schemaTitle": schema}, "uri": format!("gs://acme-churn-dev-artifacts/pipeline-root/training/run/{task}/{output}"), "metadata": {}});
        let executor_input = json!({
            "inputs": {"artifacts": {"source": {"artifacts": [{"name": "a", "type": {"schemaTitle": schema}, "uri": uri, "metadata": {}}]}}},
            "outputs": {"artifacts": {output: {"artifacts": [own]}}, "outputFile": executor_output.display().to_string()},
        });
        run(py, &[], &prelude, &program(&spec, task), &executor_input).unwrap_or_else(|e| panic!("{task}: {e}"));
        let written: Value = serde_json::from_str(&std::fs::read_to_string(&executor_output).unwrap_or_default()).unwrap_or_default();
        let artifact = &written["artifacts"][output]["artifacts"][0];
        assert_eq!(artifact["metadata"], file_json, "{task}: the console reads this metadata");
        assert_eq!(artifact["uri"], json!(uri), "{task}: the artifact is the step's file");
        assert_eq!((&artifact["name"], &artifact["type"]["schemaTitle"]), (&own["name"], &json!(schema)), "{task}: name and type kept");
    }
}

#[test]
fn a_tuning_step_nobody_reads_gets_no_best_trial_task() {
    // specs/gcpc.yaml's `fit` waits for `tune` without reading its results.
    let c = support::compile_spec(Path::new("tests/conformance/kfp_parity/specs/gcpc.yaml"));
    let spec: Value = serde_json::from_str(c.output.get("pipelines/dev/vertex.json").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let tasks = spec["root"]["dag"]["tasks"].as_object().cloned().unwrap_or_default();
    assert!(tasks.contains_key("tune") && !tasks.contains_key("tune-best"), "{:?}", tasks.keys().collect::<Vec<_>>());
    assert_eq!(tasks["fit"]["dependentTasks"], json!(["prepare", "tune"]));
}

#[test]
fn trial_images_let_their_non_root_user_write_the_tuning_metric() {
    // cloudml-hypertune writes /var/hypertune/output.metric and creates the folder when it is
    // missing, which the image's non-root user can't do under /var
    // (GoogleCloudPlatform/cloudml-hypertune#6): a trial image creates it for that user, in the
    // runtime stage, whichever environments tune (forecast's dev does not; its Dockerfile is shared).
    let mut trial_images = 0;
    for spec in ["flagship", "forecast", "promotion", "minimal"] {
        let c = support::compile_spec(Path::new(&format!("specs/{spec}.yaml")));
        let views = std::iter::once(&c.model).chain(c.model.env_views.iter().map(|(_, v)| v));
        let tuned: std::collections::BTreeSet<String> = views
            .flat_map(|m| m.pipelines.iter().flat_map(|p| &p.steps))
            .filter_map(|s| match &s.kind {
                mlopsgen::model::StepKind::HyperparameterTuning { container, .. } => Some(container.image.clone()),
                _ => None,
            })
            .collect();
        for image in &c.model.images {
            let text = c.output.get(&mlopsgen::model::paths::dockerfile(&image.key)).unwrap_or_else(|| panic!("{spec}: no Dockerfile for {}", image.key));
            let runtime = text.rsplit_once("\nFROM ").map_or(text, |(_, stage)| stage);
            let creates = runtime.contains("&& install --directory --owner=app --group=app /var/hypertune");
            assert_eq!(creates, tuned.contains(&image.key), "{spec}/{}: creates /var/hypertune: {creates}", image.key);
            if creates {
                let user = runtime.find("useradd --system --uid 10001 --gid app").unwrap_or_else(|| panic!("{spec}/{}: no app user", image.key));
                let folder = runtime.find("install --directory --owner=app --group=app /var/hypertune").unwrap_or_default();
                let switch = runtime.find("\nUSER 10001:10001").unwrap_or_else(|| panic!("{spec}/{}: no USER", image.key));
                assert!(user < folder && folder < switch, "{spec}/{}: the folder is made for the app user, before USER", image.key);
                trial_images += 1;
            }
        }
    }
    assert!(trial_images >= 2, "the examples tune with {trial_images} images");
}
