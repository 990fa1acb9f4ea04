//! Vertex AI training jobs: `custom_training` steps as GCPC's
//! `create_custom_training_job_from_component` compiles them, and `hyperparameter_tuning`
//! steps as `HyperparameterTuningJobRunOp` tasks.
//!
//! A custom training step keeps its own interface: the CustomJob component gains the step's
//! inputs and outputs, and its worker pool spec (the default of `worker_pool_specs`) carries the
//! user container with its placeholders, which the backend resolves inside the launcher's
//! payload. The trainer therefore writes outputs to the same `{{$.outputs…}}` paths as in a
//! container step (Cloud Storage FUSE paths under `/gcs/`).
//!
//! Each run's jobs write under their own directory, `<pipeline root>/<run id>/<step>`: the
//! tuning job's trials and the training job's `AIP_MODEL_DIR`, checkpoints and TensorBoard logs
//! (`base_output_directory`, REST `CustomJobSpec.baseOutputDirectory`). With
//! `experiments.tensorboard`, a task before each training job looks up the environment's
//! TensorBoard (its ID is server-assigned, so only its display name is known here) and the job
//! gets its resource name (`CustomJobSpec.tensorboard`).

use super::container::{placeholder, render_args, step_component, wire_inputs};
use super::container::parameter_type;
use super::gcpc::{number, op_task, task_with, text, value, Fragment, Op};
use super::ir::{ComponentSpec, ExecutorSpec, ParameterSpec};
use super::models::gcpc_python;
use super::json::float;
use super::plan::{Ctx, PlannedTask};
use super::bug;
use super::plan::Source;
use crate::model::{ArgPart, Container, Goal, IoType, Machine, ParamType, SaRole, Scale, SearchParam, Step, StepKind};
use crate::targets::TargetError;
use serde_json::{json, Value};

/// The run's ID as Vertex AI substitutes it in a task's constant inputs (kfp
/// `dsl.PIPELINE_JOB_ID_PLACEHOLDER`; GCPC's compiled Vertex pipelines rely on the substitution
/// inside longer strings, e.g. `job_display_name` in
/// `preview/automl/forecasting/*_pipeline.yaml`).
pub const RUN_ID: &str = "{{$.pipeline_job_uuid}}";

/// Where a job of this run writes: `<pipeline root>/<run id>/<step>`, new for every run.
pub fn run_dir(ctx: &Ctx<'_>, step: &Step) -> String {
    format!("{}/{RUN_ID}/{}", ctx.env.pipeline_root(&ctx.model.pipeline_root_bucket, ctx.pipeline), step.name)
}

/// Finds the TensorBoard Terraform created by its display name in the environment's project and
/// region and writes its resource name as the `tensorboard` output; fails unless exactly one
/// matches. Runs on the GCPC image (Vertex AI SDK installed).
pub const TENSORBOARD_SCRIPT: &str = r#"import json, os, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
p = ex["inputs"]["parameterValues"]
found = aiplatform.Tensorboard.list(filter='display_name="%s"' % p["display_name"], project=p["project"], location=p["location"])
if len(found) != 1:
    sys.exit("expected one TensorBoard named %r in %s/%s, found %d" % (p["display_name"], p["project"], p["location"], len(found)))
path = ex["outputs"]["parameters"]["tensorboard"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    f.write(found[0].resource_name)
"#;

/// The task that looks up the environment's TensorBoard for a training step.
fn tensorboard_lookup(ctx: &mut Ctx<'_>, step: &Step) -> Result<PlannedTask, TargetError> {
    let key = ctx.helper_key(step, "tensorboard")?;
    let mut component = ComponentSpec::default();
    for name in ["display_name", "location", "project"] {
        component.input_definitions.parameters.insert(name.into(), ParameterSpec::of(parameter_type(ParamType::String)));
    }
    component.output_definitions.parameters.insert("tensorboard".into(), ParameterSpec::of(parameter_type(ParamType::String)));
    let mut task = PlannedTask::new(&key, step, component, ExecutorSpec::Container(gcpc_python(TENSORBOARD_SCRIPT)));
    task.inputs.insert("display_name".into(), text(ctx.model.tensorboard_name()));
    task.inputs.insert("location".into(), text(&ctx.env.region));
    task.inputs.insert("project".into(), text(&ctx.env.gcp_project));
    // A recreated TensorBoard gets a new ID: look it up on every run.
    task.cache = false;
    Ok(task)
}

/// A `custom_training` step: its job's task, after the TensorBoard lookup when there is one.
pub fn custom_training(ctx: &mut Ctx<'_>, step: &Step, container: &Container, machine: &Machine) -> Result<Vec<PlannedTask>, TargetError> {
    let mut job = custom_job(ctx, step, container, machine)?;
    job.inputs.insert("base_output_directory".into(), text(run_dir(ctx, step)));
    if !ctx.model.tensorboard {
        return Ok(vec![job]);
    }
    let lookup = tensorboard_lookup(ctx, step)?;
    let name = Source::Output { task: lookup.key.clone(), key: "tensorboard".into(), ty: IoType::Parameter(ParamType::String) };
    job.inputs.insert("tensorboard".into(), name);
    Ok(vec![lookup, job])
}

/// The CustomJob task of a `custom_training` step.
fn custom_job(ctx: &Ctx<'_>, step: &Step, container: &Container, machine: &Machine) -> Result<PlannedTask, TargetError> {
    let Fragment { mut component, executor, .. } = Op::CustomTrainingJob.fragment()?;
    let container_spec = json!({
        "args": render_args(ctx, &container.args, |p| placeholder(step, p))?,
        "command": container.command,
        "env": super::container::env_vars(ctx, container),
        "image_uri": ctx.env.image_ref(&container.image),
    });
    let pool = json!({
        "container_spec": container_spec,
        "disk_spec": {"boot_disk_size_gb": float(100.0), "boot_disk_type": "pd-ssd"},
        "machine_spec": machine_spec(machine),
    });
    // The function's arguments become the CustomJob inputs' defaults; `None` removes one.
    let defaults: [(&str, Option<Value>); 6] = [
        ("display_name", Some(json!(display_name(ctx, step)))),
        ("worker_pool_specs", Some(Value::Array(worker_pools(&pool, machine.replica_count)))),
        ("service_account", Some(json!(ctx.env.sa_email(SaRole::Training)))),
        ("labels", Some(json!(ctx.env.labels))),
        ("reserved_ip_ranges", None),
        ("psc_interface_config", None),
    ];
    let params = &mut component.input_definitions.parameters;
    for (name, default) in defaults {
        let p = params.get_mut(name).ok_or_else(|| bug(format!("CustomJob has no input `{name}`")))?;
        p.default_value = default;
    }
    // The reloaded component marks every input with a default optional.
    for p in params.values_mut().filter(|p| p.default_value.is_some()) {
        p.is_optional = true;
    }
    let user = step_component(step);
    params.extend(user.input_definitions.parameters);
    component.output_definitions.parameters.extend(user.output_definitions.parameters);
    component.input_definitions.artifacts = user.input_definitions.artifacts;
    component.output_definitions.artifacts = user.output_definitions.artifacts;
    let mut task = task_with(ctx.task_of(&step.name)?, step, component, executor, Vec::new())?;
    wire_inputs(ctx, step, &mut task)?;
    Ok(task)
}

/// A `hyperparameter_tuning` step.
pub fn tuning(ctx: &Ctx<'_>, step: &Step) -> Result<PlannedTask, TargetError> {
    let StepKind::HyperparameterTuning { container, metric, goal, search_space, max_trials, parallel_trials, machine } = &step.kind
    else {
        return Err(bug(format!("step `{}` is not a tuning step", step.name)));
    };
    // Pipeline values inside the constant worker pool spec travel as kfp does it: a task input
    // `pipelinechannel--…` and a placeholder naming it.
    let mut channels = Vec::new();
    let args = render_args(ctx, &container.args, |part| match part {
        ArgPart::Text(t) => Ok(t.clone()),
        ArgPart::Param(name) | ArgPart::Input(name) => {
            let source = ctx.source(step, name)?;
            let channel = source.channel().filter(|_| !source.is_artifact());
            let channel = channel.ok_or_else(|| bug(format!("tuning step `{}` can't pass `{name}` to its trials", step.name)))?;
            let placeholder = format!("{{{{$.inputs.parameters['{channel}']}}}}");
            channels.push((channel, source));
            Ok(placeholder)
        }
        ArgPart::Output(name) => Err(bug(format!("tuning step `{}` has no output `{name}`", step.name))),
    })?;
    let pool = json!({
        "container_spec": {"args": args, "command": container.command, "image_uri": ctx.env.image_ref(&container.image)},
        "machine_spec": machine_spec(machine),
    });
    let goal = match goal {
        Goal::Maximize => 1.0,
        Goal::Minimize => 2.0,
    };
    let mut inputs = vec![
        ("display_name", text(display_name(ctx, step))),
        ("base_output_directory", text(run_dir(ctx, step))),
        ("worker_pool_specs", value(Value::Array(worker_pools(&pool, machine.replica_count)))),
        ("study_spec_metrics", value(json!([{"goal": float(goal), "metric_id": metric}]))),
        ("study_spec_parameters", value(Value::Array(search_space.iter().map(|(n, p)| study_parameter(n, p)).collect()))),
        ("max_trial_count", number(*max_trials)),
        ("parallel_trial_count", number(*parallel_trials)),
        ("service_account", text(ctx.env.sa_email(SaRole::Training))),
        ("project", text(&ctx.env.gcp_project)),
        ("location", text(&ctx.env.region)),
    ];
    channels.sort_by(|a, b| a.0.cmp(&b.0));
    channels.dedup_by(|a, b| a.0 == b.0);
    inputs.extend(channels.iter().map(|(n, s)| (n.as_str(), s.clone())));
    op_task(ctx.task_of(&step.name)?, step, Op::HyperparameterTuningJob, inputs)
}

/// The Vertex job name of a step: `<pipeline name>-<step>`.
pub fn display_name(ctx: &Ctx<'_>, step: &Step) -> String {
    crate::model::naming::job_display_name(&ctx.pipeline.name, &step.name)
}

/// `machine_spec` of a worker pool (accelerator fields only with an accelerator).
fn machine_spec(machine: &Machine) -> Value {
    let mut spec = json!({"machine_type": machine.machine_type});
    if let (Some(acc), Some(map)) = (&machine.accelerator, spec.as_object_mut()) {
        map.insert("accelerator_type".into(), json!(acc.ty));
        map.insert("accelerator_count".into(), float(f64::from(acc.count)));
    }
    spec
}

/// One pool with the chief, plus one with the remaining replicas (Vertex wants exactly one
/// replica in the first pool).
fn worker_pools(pool: &Value, replicas: u32) -> Vec<Value> {
    let with_count = |n: u32| {
        let mut p = pool.clone();
        if let Some(map) = p.as_object_mut() {
            map.insert("replica_count".into(), float(f64::from(n)));
        }
        p
    };
    let mut pools = vec![with_count(1)];
    if replicas > 1 {
        pools.push(with_count(replicas - 1));
    }
    pools
}

/// A `StudySpec.ParameterSpec` as GCPC's `serialize_parameters` writes it (enums as numbers,
/// int64 bounds as strings).
fn study_parameter(name: &str, p: &SearchParam) -> Value {
    let scale = |s: &Scale| match s {
        Scale::Linear => float(1.0),
        Scale::Log => float(2.0),
    };
    let (key, spec, scale_type) = match p {
        SearchParam::Double { min, max, scale: s } => {
            ("double_value_spec", json!({"max_value": float(*max), "min_value": float(*min)}), scale(s))
        }
        SearchParam::Integer { min, max, scale: s } => {
            ("integer_value_spec", json!({"max_value": max.to_string(), "min_value": min.to_string()}), scale(s))
        }
        SearchParam::Categorical { values } => ("categorical_value_spec", json!({"values": values}), float(0.0)),
        SearchParam::Discrete { values } => {
            ("discrete_value_spec", json!({"values": values.iter().map(|v| float(*v)).collect::<Vec<_>>()}), float(1.0))
        }
    };
    json!({"conditional_parameter_specs": [], key: spec, "parameter_id": name, "scale_type": scale_type})
}
