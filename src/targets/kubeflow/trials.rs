//! Tuning feeds training: the task after a `hyperparameter_tuning` step's job that reads the
//! finished job and returns the best trial's hyperparameters as output parameters, which later
//! steps take as inputs (`learning_rate: tune.learning_rate`).
//!
//! GCPC 2.22's `HyperparameterTuningJobRunOp` outputs only `gcp_resources`, and its
//! `v1.hyperparameter_tuning_job` exports only that op and `serialize_metrics`/`_parameters`
//! (GCPC 1.x's `GetBestTrialOp`/`GetBestHyperparametersOp` are gone), so this task reads the job
//! named there itself.

use super::bug;
use super::container::parameter_type;
use super::ir::{ComponentSpec, ExecutorSpec, ParameterSpec};
use super::models::gcpc_python;
use super::plan::{PlannedTask, Source};
use crate::model::{kfp_task_name, IoType, ParamType, Pipeline, Step, StepKind};
use crate::targets::TargetError;

/// Reads the job from `gcp_resources` (GCPC's `GcpResources` JSON: one resource whose
/// `resourceUri` is `https://<region>-aiplatform.googleapis.com/v1/<job name>`,
/// `gcp_launcher/job_remote_runner.py`), keeps the succeeded trials (`Trial.State` 4), picks the
/// best final value of the study's metric (`StudySpec.MetricSpec.GoalType` 1 = maximize,
/// 2 = minimize) and writes each declared output parameter's file (whole numbers without a
/// fraction, so an `integer` hyperparameter parses as NUMBER_INTEGER). Runs on the GCPC image (Vertex
/// AI SDK installed).
pub const BEST_TRIAL_SCRIPT: &str = r#"import json, os, sys
from google.cloud import aiplatform_v1 as v1
ex = json.loads(sys.argv[1])
uri = json.loads(ex["inputs"]["parameterValues"]["gcp_resources"])["resources"][0]["resourceUri"]
host, name = uri.split("https://", 1)[1].split("/v1/", 1)
client = v1.JobServiceClient(client_options={"api_endpoint": host})
job = v1.HyperparameterTuningJob.to_dict(client.get_hyperparameter_tuning_job(name=name))
spec = job["study_spec"]["metrics"][0]
def final(trial):
    return [m["value"] for m in trial["final_measurement"]["metrics"] if m["metric_id"] == spec["metric_id"]]
done = [t for t in job["trials"] if t["state"] == 4 and final(t)]
if not done:
    sys.exit("no trial of " + name + " succeeded with metric " + spec["metric_id"])
pick = max if spec["goal"] == 1 else min
best = pick(done, key=lambda t: final(t)[0])
values = {p["parameter_id"]: p["value"] for p in best["parameters"]}
print("best trial", best["id"], spec["metric_id"], final(best)[0], values)
for key, out in ex["outputs"]["parameters"].items():
    value = values[key]
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    os.makedirs(os.path.dirname(out["outputFile"]), exist_ok=True)
    with open(out["outputFile"], "w") as f:
        f.write(text)
"#;

/// Key of the task that produces a step's outputs: the best-trial task for a tuning step (its
/// job's task has only `gcp_resources`), the step's own task otherwise.
pub fn output_task(step: &Step) -> String {
    match step.kind {
        StepKind::HyperparameterTuning { .. } => format!("{}-best", kfp_task_name(&step.name)),
        _ => kfp_task_name(&step.name),
    }
}

/// Whether a later step reads the tuning step's results (only then is the task added).
pub fn is_read(pipeline: &Pipeline, step: &Step) -> bool {
    pipeline.steps.iter().any(|s| s.reads_from(&step.name))
}

/// The best-trial task of a tuning step whose job runs as task `job`.
pub fn best_trial(step: &Step, job: &str) -> Result<PlannedTask, TargetError> {
    let StepKind::HyperparameterTuning { search_space, .. } = &step.kind else {
        return Err(bug(format!("step `{}` is not a tuning step", step.name)));
    };
    let mut component = ComponentSpec::default();
    component.input_definitions.parameters.insert("gcp_resources".into(), ParameterSpec::of("STRING"));
    for (name, p) in search_space {
        component.output_definitions.parameters.insert(name.clone(), ParameterSpec::of(parameter_type(p.best_value_type())));
    }
    let mut task = PlannedTask::new(&output_task(step), step, component, ExecutorSpec::Container(gcpc_python(BEST_TRIAL_SCRIPT)));
    let resources = Source::Output { task: job.to_owned(), key: "gcp_resources".into(), ty: IoType::Parameter(ParamType::String) };
    task.inputs.insert("gcp_resources".into(), resources);
    Ok(task)
}
