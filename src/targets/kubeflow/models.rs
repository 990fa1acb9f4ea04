//! Model Registry and serving steps as GCPC tasks: `model_upload` (`ModelUploadOp`, fed by a
//! small task that turns the trained `system.Model` into the `google.UnmanagedContainerModel`
//! the op reads, and by a lookup of the registry model it adds a version to), `model_promote`
//! (moves an alias), `endpoint_deploy` (`ModelDeployOp` to the Terraform-managed endpoint,
//! brought in by an importer, then a task retiring idle models; a canary first computes the
//! split) and `batch_prediction` (`ModelBatchPredictOp`, on an upload or a version by alias).

use super::bug;
use super::gcpc::{number, op_task, text, value, GCPC_IMAGE, Op};
use super::ir::{self, ArtifactSpec, ComponentSpec, ExecutorSpec, Importer, ImporterUri, ParameterSpec, TypeSchema};
use super::jobs::display_name;
use super::json::float;
use super::plan::{Ctx, PlannedTask, Source};
use crate::model::{
    CmpOp, Condition, Operand, Pipeline,
    ArtifactType, DataSource, Destination, Explanation, ExplanationMethod, Goal, InstancesFormat, IoType, ParamType, PredictionsFormat,
    RegistryModel, SaRole, Step, StepKind, FOUND,
};
use crate::model::actions;
use crate::model::iam::Member;
use crate::targets::TargetError;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Reads the executor input (`{{$}}`) and writes the executor output: the
/// `unmanaged_container_model` artifact gets the trained model's URI and the serving container
/// spec as `containerSpec` metadata, which is what `ModelUploadOp`'s launcher reads. Runs on the
/// GCPC image, which has Python.
const UNMANAGED_MODEL_SCRIPT: &str = r#"import json, os, sys
ex = json.loads(sys.argv[1])
model = ex["inputs"]["artifacts"]["model"]["artifacts"][0]
out = ex["outputs"]["artifacts"]["unmanaged_container_model"]["artifacts"][0]
out["uri"] = model["uri"]
out["metadata"] = {"containerSpec": ex["inputs"]["parameterValues"]["container_spec"]}
path = ex["outputs"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"artifacts": {"unmanaged_container_model": {"artifacts": [out]}}}, f)
"#;

/// Undeploys every model on the endpoint that the deploy left without traffic. `deployModel`
/// replaces the endpoint's traffic split with the one given (REST `endpoints.deployModel`:
/// "the Endpoint's trafficSplit will be overwritten"), so after a 100 % deploy the earlier models
/// sit at 0 % yet keep their replicas until `undeployModel` (GCPC's ModelDeployOp only deploys).
const RETIRE_SCRIPT: &str = r#"import json, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
resource = ex["inputs"]["artifacts"]["endpoint"]["artifacts"][0]["metadata"]["resourceName"]
endpoint = aiplatform.Endpoint(resource)
split = endpoint.traffic_split
for deployed in endpoint.list_models():
    if not split.get(deployed.id):
        print("undeploying", deployed.id, "(no traffic)")
        endpoint.undeploy(deployed_model_id=deployed.id)
"#;

/// Finds the registry model a pipeline works on: the oldest model with the display name (every
/// upload after the first adds a version to it, so there is one). Output `model`
/// (`google.VertexModel`) has `metadata.resourceName`:
/// - without an alias (the upload's `parent_model`): the model, or `""` when none exists yet.
///   GCPC's upload launcher passes `parent_model` only when that name is non-empty
///   (`container/v1/model/upload_model/remote_runner.py`: `if parent_model_name:`), so the first
///   run creates the model and every later run uploads a new version of it (REST
///   `models.upload`: `parentModel`, "only specify this field when uploading a new version").
/// - with an alias: `<model>@<alias>` (REST `BatchPredictionJob.model` takes a version alias),
///   checked to exist (`models.get` of `<model>@<alias>` is NotFound without it), and output
///   `found`: false, with `resourceName` `""`, while no version holds the alias, so the steps
///   after it are skipped (see `crate::model::RegistryRef::found`). Any other error fails the
///   task. `found` goes in the executor output's `parameterValues`, where kfp's own Python
///   executor writes its outputs (`kfp/dsl/executor.py`).
const FIND_MODEL_SCRIPT: &str = r#"import json, os, sys
from google.api_core import exceptions
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
p = ex["inputs"]["parameterValues"]
name = p["display_name"].replace("\\", "\\\\").replace('"', '\\"')
models = aiplatform.Model.list(filter='display_name="%s"' % name, order_by="create_time", project=p["project"], location=p["location"])
out = ex["outputs"]["artifacts"]["model"]["artifacts"][0]
resource = ""
if not models:
    print("no registry model %r yet" % p["display_name"])
elif p["alias"]:
    version = models[0].resource_name + "@" + p["alias"]
    try:
        aiplatform.Model(model_name=version)
        resource = version
    except exceptions.NotFound:
        print("no version of %r holds %r yet" % (p["display_name"], p["alias"]))
else:
    resource = models[0].resource_name
if resource:
    out["uri"] = "https://%s-aiplatform.googleapis.com/v1/%s" % (p["location"], resource)
    print("registry model:", resource)
elif p["alias"]:
    print("skipping the steps that read it: a training run that promotes a version makes them run")
else:
    print("this upload creates it")
out["metadata"] = {"resourceName": resource}
output = {"artifacts": {"model": {"artifacts": [out]}}}
if p["alias"]:
    output["parameterValues"] = {"found": bool(resource)}
path = ex["outputs"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(output, f)
"#;

/// Promotes the uploaded version, in stages (input `stage`):
/// - `decide`: whether to move the alias onto it: with a goal, only when the `metric` input
///   beats the value the current holder recorded as label `mlopsgen-metric` when it was promoted
///   (label values can't hold `.`, so `0.91` is written `0_91`); a holder without that label
///   (moved by hand) is kept. Writes `promoted` (true/false) and changes nothing in the registry.
/// - `move`: records the metric as the version's label (`models.patch` of `<model>@<version>`
///   updates version labels, REST `UpdateModelRequest.model`) and moves the alias onto it (REST
///   `models.mergeVersionAliases`; an alias is unique within a model, so Vertex takes it off the
///   version that had it — Model Registry docs, "How to use model version aliases").
/// - `decide-and-move`: both, in one task, where nothing runs on the promotion.
///
/// Where steps run on the promotion (a deploy `when: promote.promoted == true`), the promote task
/// only decides and a task after those steps moves the alias ([`move_alias`]): moving it first
/// would leave `champion` on a version whose deploy failed, which every later run then compares
/// with and the scoring pipeline predicts with.
///
/// Runs promoting one model take turns: from deciding to moving the alias a run holds the model's
/// promotion lock, an object `<lock_root>/<model id>/<alias>` created only if absent (Cloud
/// Storage request preconditions: `ifGenerationMatch=0` fails with 412 when the object exists,
/// <https://cloud.google.com/storage/docs/request-preconditions>). Without it two runs could
/// both beat the champion they read, and the last deploy and alias move would win, even the
/// worse model's. A run waits while another holds the lock (polling every 30 s), takes over a
/// lock older than the lease its holder wrote into it (`lease_seconds` of the holder's step: the
/// holder failed or was cancelled after deciding) or one its own step of its own run holds (a
/// retried task; the holder is `<run id>/<step>`), releases it when it does not promote, and otherwise the
/// task that moves the alias releases it; that task moves nothing if the lock is no longer the
/// generation its run took.
const PROMOTE_SCRIPT: &str = r#"import json, os, sys, time
from datetime import datetime, timezone
from google.api_core import exceptions
from google.cloud import aiplatform, aiplatform_v1, storage
ex = json.loads(sys.argv[1])
p = ex["inputs"]["parameterValues"]
version = ex["inputs"]["artifacts"]["model"]["artifacts"][0]["metadata"]["resourceName"]
model = version.rsplit("@", 1)[0]
alias, goal, metric, stage = p["alias"], p["goal"], p.get("metric"), p["stage"]
LABEL = "mlopsgen-metric"
bucket, _, prefix = p["lock_root"].removeprefix("gs://").partition("/")
lock = storage.Client(project=version.split("/")[1]).bucket(bucket).blob("%s/%s/%s" % (prefix, model.rsplit("/", 1)[1], alias))
GONE = (exceptions.NotFound, exceptions.PreconditionFailed)

def take_lock():
    run = p["run"]
    while True:
        try:
            mine = json.dumps({"run": run, "lease_seconds": float(p["lease_seconds"])})
            lock.upload_from_string(mine, content_type="application/json", if_generation_match=0)
            print("run %s took the promotion lock gs://%s/%s" % (run, bucket, lock.name))
            return lock.generation
        except exceptions.PreconditionFailed:
            pass
        try:
            lock.reload()
            held = json.loads(lock.download_as_bytes(if_generation_match=lock.generation))
        except GONE:
            continue
        holder = held.get("run")
        age = (datetime.now(timezone.utc) - lock.time_created).total_seconds()
        if holder == run or age > float(held.get("lease_seconds", p["lease_seconds"])):
            print("taking over the promotion lock of run %s, held %d s" % (holder, age))
            try:
                lock.delete(if_generation_match=lock.generation)
            except GONE:
                pass
            continue
        print("run %s holds the promotion lock of %r (%d s); waiting" % (holder, alias, age))
        time.sleep(30)

def release(generation):
    try:
        lock.delete(if_generation_match=int(generation))
        print("released the promotion lock")
    except GONE:
        print("the promotion lock was no longer this run's")

if stage == "move":
    generation = int(p["lock_generation"])
    try:
        lock.reload()
    except exceptions.NotFound:
        pass
    if lock.generation != generation:
        sys.exit("this run held the promotion lock of %r longer than lease_seconds and lost it: %r stays where it is" % (alias, alias))
else:
    generation = take_lock()
keep = False
try:
    promote = True
    if goal and stage != "move":
        try:
            holder = aiplatform.Model(model_name=model + "@" + alias)
        except exceptions.NotFound:
            holder = None
        recorded = (holder.labels or {}).get(LABEL) if holder else None
        if holder is None:
            print("no version holds %r yet" % alias)
        elif recorded is None:
            print("version %s holds %r without a recorded metric; keeping it" % (holder.version_id, alias))
            promote = False
        else:
            best = float(recorded.replace("_", "."))
            promote = metric > best if goal == "maximize" else metric < best
            print("candidate %r vs %r of version %s: %s" % (metric, best, holder.version_id, "promote" if promote else "keep"))
    if promote and stage == "decide":
        print("promoting %s: %r moves to it once the steps that run on the promotion succeed" % (version, alias))
        keep = True
    if promote and stage != "decide":
        location = version.split("/")[3]
        client = aiplatform_v1.ModelServiceClient(client_options={"api_endpoint": location + "-aiplatform.googleapis.com"})
        if goal:
            labels = dict(aiplatform.Model(model_name=version).labels or {})
            labels[LABEL] = repr(float(metric)).lower().replace(".", "_").replace("+", "")
            client.update_model(model={"name": version, "labels": labels}, update_mask={"paths": ["labels"]})
        client.merge_version_aliases(name=version, version_aliases=[alias])
        print("moved %r to %s" % (alias, version))
finally:
    if not keep:
        release(generation)
outputs = ex["outputs"].get("parameters", {})
for name, text in (("promoted", "true" if promote else "false"), ("lock_generation", str(generation) if keep else "")):
    if name in outputs:
        os.makedirs(os.path.dirname(outputs[name]["outputFile"]), exist_ok=True)
        with open(outputs[name]["outputFile"], "w") as f:
            f.write(text)
"#;

/// A canary's traffic split: the new model (`"0"`, REST `endpoints.deployModel` `trafficSplit`)
/// gets `percent`, the deployed model serving the most traffic now keeps the rest (so the split
/// sums to 100, as the API requires), every other model gets nothing and is then retired. On an
/// endpoint without traffic the new model gets 100.
const SPLIT_SCRIPT: &str = r#"import json, os, sys
from google.cloud import aiplatform
ex = json.loads(sys.argv[1])
resource = ex["inputs"]["artifacts"]["endpoint"]["artifacts"][0]["metadata"]["resourceName"]
percent = int(ex["inputs"]["parameterValues"]["percent"])
serving = {k: v for k, v in aiplatform.Endpoint(resource).traffic_split.items() if v}
if serving:
    keep = max(sorted(serving), key=lambda k: serving[k])
    split = {"0": percent, keep: 100 - percent}
else:
    split = {"0": 100}
print("traffic split:", split)
path = ex["outputs"]["parameters"]["traffic_split"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(split, f)
"#;

/// A Python program on the GCPC image (which has Python and the Vertex AI SDK), given the
/// executor input (`{{$}}`) as its one argument.
pub fn gcpc_python(script: &str) -> ir::Container {
    ir::Container {
        args: vec![ir::EXECUTOR_INPUT.into()],
        command: vec!["python3".into(), "-c".into(), script.into()],
        image: GCPC_IMAGE.into(),
        ..ir::Container::default()
    }
}

fn artifact(ty: ArtifactType) -> ArtifactSpec {
    ArtifactSpec { artifact_type: TypeSchema::titled(ty.schema_title()), is_optional: false }
}

/// A `model_upload` step: the converter task, then the upload.
pub fn upload(ctx: &mut Ctx<'_>, step: &Step, model: &str, aliases: &[String]) -> Result<Vec<PlannedTask>, TargetError> {
    let registry = ctx.model.model(model).ok_or_else(|| bug(format!("no model `{model}`")))?;
    let convert_key = ctx.helper_key(step, "unmanaged-model")?;
    let convert = unmanaged_model(ctx, step, &convert_key, registry)?;
    let unmanaged =
        Source::Output { task: convert_key, key: "unmanaged_container_model".into(), ty: IoType::Artifact(ArtifactType::UnmanagedContainerModel) };
    let parent_key = ctx.helper_key(step, "parent")?;
    let parent = find_model(ctx, step, &parent_key, &registry.display_name, "");
    let parent_model = Source::Output { task: parent_key, key: "model".into(), ty: IoType::Artifact(ArtifactType::VertexModel) };
    let mut inputs = vec![
        ("display_name", text(&registry.display_name)),
        ("parent_model", parent_model),
        ("unmanaged_container_model", unmanaged),
        ("labels", value(json!(ctx.env.labels))),
        ("project", text(&ctx.env.gcp_project)),
        ("location", text(&ctx.env.region)),
    ];
    if let Some(d) = &registry.description {
        inputs.push(("description", text(d)));
    }
    if !aliases.is_empty() {
        inputs.push(("version_aliases", value(json!(aliases))));
    }
    if let Some(e) = &registry.explanation {
        inputs.push(("explanation_metadata", value(explanation_metadata(ctx, e)?)));
        inputs.push(("explanation_parameters", value(explanation_parameters(e))));
    }
    let upload = op_task(ctx.task_of(&step.name)?, step, Op::ModelUpload, inputs)?;
    Ok(vec![parent, convert, upload])
}

/// The lookup task of a registry model (see [`FIND_MODEL_SCRIPT`]); `alias` empty for an upload's parent.
fn find_model(ctx: &Ctx<'_>, step: &Step, key: &str, display_name: &str, alias: &str) -> PlannedTask {
    let mut component = ComponentSpec::default();
    for name in ["alias", "display_name", "location", "project"] {
        component.input_definitions.parameters.insert(name.into(), ParameterSpec::of("STRING"));
    }
    component.output_definitions.artifacts.insert("model".into(), artifact(ArtifactType::VertexModel));
    if !alias.is_empty() {
        component.output_definitions.parameters.insert(FOUND.into(), ParameterSpec::of("BOOLEAN"));
    }
    let mut task = PlannedTask::new(key, step, component, ExecutorSpec::Container(gcpc_python(FIND_MODEL_SCRIPT)));
    task.cache = false; // reads the registry, which changes between runs
    task.inputs.insert("alias".into(), text(alias));
    task.inputs.insert("display_name".into(), text(display_name));
    task.inputs.insert("location".into(), text(&ctx.env.region));
    task.inputs.insert("project".into(), text(&ctx.env.gcp_project));
    task
}

/// A `model_promote` step's main task: it takes the model's promotion lock and decides, and
/// moves the alias too unless steps run on the promotion (`deferred`), in which case it keeps the
/// lock (output `lock_generation`) and [`move_alias`] moves the alias after them.
pub fn promote(ctx: &Ctx<'_>, step: &Step, alias: &str, goal: Option<Goal>, lease_minutes: u32, deferred: bool) -> Result<PlannedTask, TargetError> {
    let mut task = promote_task(ctx, step, ctx.task_of(&step.name)?, alias, goal)?;
    let outputs = &mut task.component.output_definitions.parameters;
    outputs.insert("promoted".into(), ParameterSpec::of("BOOLEAN"));
    if deferred {
        outputs.insert(LOCK_GENERATION.into(), ParameterSpec::of("STRING"));
    }
    let inputs = &mut task.component.input_definitions.parameters;
    inputs.insert("lease_seconds".into(), ParameterSpec::of("NUMBER_INTEGER"));
    inputs.insert("run".into(), ParameterSpec::of("STRING"));
    task.inputs.insert("lease_seconds".into(), number(lease_minutes * 60));
    // The holder: this run's step (two promotions of one model in a run are two holders).
    task.inputs.insert("run".into(), text(format!("{}/{}", super::jobs::RUN_ID, step.name)));
    task.inputs.insert("stage".into(), text(if deferred { "decide" } else { "decide-and-move" }));
    Ok(task)
}

/// The promote task's output naming the generation of the lock it keeps for [`move_alias`].
const LOCK_GENERATION: &str = "lock_generation";

/// The task that moves a promotion's alias once every step that runs on the promotion (`awaited`,
/// [`promotion_awaits`]) has succeeded, housekeeping aside (a deploy's retire task); it runs
/// among them, under the same condition.
pub fn move_alias(ctx: &mut Ctx<'_>, step: &Step, alias: &str, goal: Option<Goal>, awaited: &[&PlannedTask]) -> Result<PlannedTask, TargetError> {
    let host = awaited.first().ok_or_else(|| bug(format!("step `{}`: nothing runs on its promotion", step.name)))?;
    let key = ctx.helper_key(step, "move-alias")?;
    let mut task = promote_task(ctx, step, &key, alias, goal)?;
    task.component.input_definitions.parameters.insert(LOCK_GENERATION.into(), ParameterSpec::of("STRING"));
    let decided = Source::Output { task: ctx.task_of(&step.name)?.to_owned(), key: LOCK_GENERATION.into(), ty: IoType::Parameter(ParamType::String) };
    task.inputs.insert(LOCK_GENERATION.into(), decided);
    task.inputs.insert("stage".into(), text("move"));
    task.step = host.step.clone();
    task.after = awaited.iter().map(|t| t.key.clone()).collect();
    task.cache = false; // writes the registry
    Ok(task)
}

/// The steps a promotion's alias waits for: those that run only because `promote` promoted
/// (their condition scope is the promote step's plus `<promote>.promoted` being true), without
/// a guard of their own (a guarded step's tasks sit in a group of their own inside the scope).
pub fn promotion_awaits<'p>(pipeline: &'p Pipeline, promote: &Step, scopes: &BTreeMap<String, Vec<Condition>>) -> Vec<&'p Step> {
    let promoted = |c: &Condition| {
        c.step == promote.name
            && c.output == "promoted"
            && matches!((c.op, &c.value), (CmpOp::Eq, Operand::Literal(Value::Bool(true))) | (CmpOp::Ne, Operand::Literal(Value::Bool(false))))
    };
    let Some(outer) = scopes.get(&promote.name) else { return Vec::new() };
    pipeline
        .steps
        .iter()
        .filter(|s| s.guard().is_none())
        .filter(|s| scopes.get(&s.name).is_some_and(|scope| scope.len() == outer.len() + 1 && scope.starts_with(outer) && scope.last().is_some_and(promoted)))
        .collect()
}

/// The promote program's task with its inputs, for either stage.
fn promote_task(ctx: &Ctx<'_>, step: &Step, key: &str, alias: &str, goal: Option<Goal>) -> Result<PlannedTask, TargetError> {
    let mut component = ComponentSpec::default();
    component.input_definitions.artifacts.insert("model".into(), artifact(ArtifactType::VertexModel));
    for name in ["alias", "goal", "lock_root", "stage"] {
        component.input_definitions.parameters.insert(name.into(), ParameterSpec::of("STRING"));
    }
    let mut task = PlannedTask::new(key, step, component, ExecutorSpec::Container(gcpc_python(PROMOTE_SCRIPT)));
    task.inputs.insert("lock_root".into(), text(ctx.env.promotion_lock_root(&ctx.model.pipeline_root_bucket)));
    task.inputs.insert("model".into(), ctx.source(step, "model")?);
    if let Some(metric) = step.input("metric") {
        super::container::declare(&mut task.component.input_definitions, "metric", metric.ty);
        task.inputs.insert("metric".into(), ctx.source(step, "metric")?);
    }
    task.inputs.insert("alias".into(), text(alias));
    let goal = match goal {
        Some(Goal::Maximize) => "maximize",
        Some(Goal::Minimize) => "minimize",
        None => "",
    };
    task.inputs.insert("goal".into(), text(goal));
    Ok(task)
}

/// The task that attaches the serving container to the trained model directory.
fn unmanaged_model(ctx: &Ctx<'_>, step: &Step, key: &str, registry: &RegistryModel) -> Result<PlannedTask, TargetError> {
    let mut component = ComponentSpec::default();
    component.input_definitions.artifacts.insert("model".into(), artifact(ArtifactType::Model));
    component.input_definitions.parameters.insert("container_spec".into(), ParameterSpec::of("STRUCT"));
    component.output_definitions.artifacts.insert("unmanaged_container_model".into(), artifact(ArtifactType::UnmanagedContainerModel));
    let executor = gcpc_python(UNMANAGED_MODEL_SCRIPT);
    let serving = &registry.serving;
    let container_spec = json!({
        "healthRoute": serving.health_route,
        "imageUri": ctx.env.image_ref(&registry.serving_image),
        "ports": [{"containerPort": float(f64::from(serving.port))}],
        "predictRoute": serving.predict_route,
    });
    let mut task = PlannedTask::new(key, step, component, ExecutorSpec::Container(executor));
    task.inputs.insert("model".into(), ctx.source(step, "model")?);
    task.inputs.insert("container_spec".into(), value(container_spec));
    Ok(task)
}

/// Vertex `ExplanationMetadata` for a custom container: one input per dataset column the model
/// reads and the explained prediction field as the output. The API requires both maps (keys
/// match the instance and prediction fields, REST reference `ExplanationMetadata`), and GCPC's
/// upload launcher drops an empty metadata (`v1/model/upload_model/remote_runner.py`).
fn explanation_metadata(ctx: &Ctx<'_>, e: &Explanation) -> Result<Value, TargetError> {
    let data = ctx.model.dataset(&e.dataset).ok_or_else(|| bug(format!("no dataset `{}`", e.dataset)))?;
    let inputs: serde_json::Map<String, Value> =
        data.columns.iter().filter(|c| !e.exclude.contains(&c.name)).map(|c| (c.name.clone(), json!({}))).collect();
    Ok(json!({"inputs": inputs, "outputs": {e.prediction.as_str(): {}}}))
}

/// Vertex `ExplanationParameters` for an attribution method.
fn explanation_parameters(e: &Explanation) -> Value {
    let count = |key: &str, n: Option<u32>| match n {
        Some(n) => json!({ key: float(f64::from(n)) }),
        None => json!({}),
    };
    match e.method {
        ExplanationMethod::SampledShapley => json!({"sampledShapleyAttribution": count("pathCount", e.path_count)}),
        ExplanationMethod::IntegratedGradients => json!({"integratedGradientsAttribution": count("stepCount", e.step_count)}),
        ExplanationMethod::Xrai => json!({"xraiAttribution": count("stepCount", e.step_count)}),
    }
}

/// An `endpoint_deploy` step: an importer of the Terraform-managed endpoint, then the deploy.
pub fn deploy(ctx: &mut Ctx<'_>, step: &Step, endpoint: &str, traffic_percent: u32) -> Result<Vec<PlannedTask>, TargetError> {
    let endpoint = ctx.model.endpoint(endpoint).ok_or_else(|| bug(format!("no endpoint `{endpoint}`")))?;
    let importer_key = ctx.helper_key(step, "endpoint")?;
    let resource = ctx.env.endpoint_resource(endpoint.id);
    let uri = format!("https://{}-aiplatform.googleapis.com/v1/{resource}", ctx.env.region);
    let mut component = ComponentSpec::default();
    component.input_definitions.parameters.insert("uri".into(), ParameterSpec::of("STRING"));
    component.output_definitions.artifacts.insert("artifact".into(), artifact(ArtifactType::VertexEndpoint));
    let executor = Importer {
        artifact_uri: ImporterUri::Constant(uri.clone()),
        metadata: Some(json!({"resourceName": resource})),
        type_schema: TypeSchema::titled(ArtifactType::VertexEndpoint.schema_title()),
    };
    let mut importer = PlannedTask::new(&importer_key, step, component, ExecutorSpec::Importer(executor));
    importer.inputs.insert("uri".into(), text(uri));

    let imported = Source::Output { task: importer_key.clone(), key: "artifact".into(), ty: IoType::Artifact(ArtifactType::VertexEndpoint) };
    let mut tasks = vec![importer];
    let split_source = if traffic_percent < 100 {
        let key = ctx.helper_key(step, "split")?;
        tasks.push(canary_split(step, &key, imported.clone(), traffic_percent));
        Source::Output { task: key, key: "traffic_split".into(), ty: IoType::Parameter(ParamType::Struct) }
    } else {
        value(json!({"0": float(100.0)}))
    };
    let mut inputs = vec![
        ("model", ctx.source(step, "model")?),
        ("endpoint", imported),
        ("dedicated_resources_machine_type", text(&endpoint.machine_type)),
        ("dedicated_resources_min_replica_count", number(endpoint.min_replicas)),
        ("dedicated_resources_max_replica_count", number(endpoint.max_replicas)),
        ("traffic_split", split_source),
        ("service_account", text(ctx.env.sa_email(SaRole::Serving))),
    ];
    if let Some(acc) = &endpoint.accelerator {
        inputs.push(("dedicated_resources_accelerator_type", text(&acc.ty)));
        inputs.push(("dedicated_resources_accelerator_count", number(acc.count)));
    }
    let deploy = op_task(ctx.task_of(&step.name)?, step, Op::ModelDeploy, inputs)?;
    let retire = retire_idle_models(ctx, step, &importer_key, &deploy.key)?;
    tasks.extend([deploy, retire]);
    Ok(tasks)
}

/// The task computing a canary's traffic split (see [`SPLIT_SCRIPT`]).
fn canary_split(step: &Step, key: &str, endpoint: Source, percent: u32) -> PlannedTask {
    let mut component = ComponentSpec::default();
    component.input_definitions.artifacts.insert("endpoint".into(), artifact(ArtifactType::VertexEndpoint));
    component.input_definitions.parameters.insert("percent".into(), ParameterSpec::of("NUMBER_INTEGER"));
    component.output_definitions.parameters.insert("traffic_split".into(), ParameterSpec::of("STRUCT"));
    let mut task = PlannedTask::new(key, step, component, ExecutorSpec::Container(gcpc_python(SPLIT_SCRIPT)));
    task.cache = false; // reads the endpoint, which changes between runs
    task.inputs.insert("endpoint".into(), endpoint);
    task.inputs.insert("percent".into(), number(percent));
    task
}

/// The task after a deploy that undeploys the endpoint's models left at 0 % traffic.
fn retire_idle_models(ctx: &mut Ctx<'_>, step: &Step, importer: &str, deploy: &str) -> Result<PlannedTask, TargetError> {
    let key = ctx.helper_key(step, "retire")?;
    let mut component = ComponentSpec::default();
    component.input_definitions.artifacts.insert("endpoint".into(), artifact(ArtifactType::VertexEndpoint));
    let executor = gcpc_python(RETIRE_SCRIPT);
    let mut task = PlannedTask::new(&key, step, component, ExecutorSpec::Container(executor));
    let endpoint = Source::Output { task: importer.to_owned(), key: "artifact".into(), ty: IoType::Artifact(ArtifactType::VertexEndpoint) };
    task.inputs.insert("endpoint".into(), endpoint);
    task.after.insert(deploy.to_owned());
    // The new model serves once the deploy succeeded; a failed retire leaves idle replicas, not
    // a different model serving, so the alias moves regardless.
    task.cleanup = true;
    Ok(task)
}

/// A `batch_prediction` step: on an upload's output, or on a registry version by alias through a
/// lookup task (no upload), with the spec's formats and destination (REST `BatchPredictionJob`:
/// `inputConfig.instancesFormat`, `outputConfig.predictionsFormat`, `gcsDestination` or
/// `bigqueryDestination`, whose `outputUri` is `bq://project` or `bq://project.dataset`).
pub fn batch_predict(ctx: &mut Ctx<'_>, step: &Step) -> Result<Vec<PlannedTask>, TargetError> {
    let StepKind::BatchPrediction { dataset, registry, destination, instances_format, predictions_format, machine_type, max_replicas } = &step.kind
    else {
        return Err(bug(format!("step `{}` is not a batch prediction", step.name)));
    };
    let data = ctx.model.dataset(dataset).ok_or_else(|| bug(format!("no dataset `{dataset}`")))?;
    let uri = ctx.env.dataset_uri(data);
    let mut tasks = Vec::new();
    let mut guard = None;
    let model = match registry {
        Some(r) => {
            let registered = ctx.model.model(&r.model).ok_or_else(|| bug(format!("no model `{}`", r.model)))?;
            let key = ctx.helper_key(step, "model")?;
            tasks.push(find_model(ctx, step, &key, &registered.display_name, &r.alias));
            guard = Some(Source::Output { task: key.clone(), key: FOUND.into(), ty: IoType::Parameter(ParamType::Bool) });
            Source::Output { task: key, key: "model".into(), ty: IoType::Artifact(ArtifactType::VertexModel) }
        }
        None => ctx.source(step, "model")?,
    };
    let mut inputs = vec![
        ("job_display_name", text(display_name(ctx, step))),
        ("model", model),
        ("instances_format", text(instances_format_name(*instances_format))),
        ("predictions_format", text(predictions_format_name(*predictions_format))),
        ("machine_type", text(machine_type)),
        ("max_replica_count", number(*max_replicas)),
        ("labels", value(json!(ctx.env.labels))),
        ("project", text(&ctx.env.gcp_project)),
        ("location", text(&ctx.env.region)),
    ];
    // The job's identity (BatchPredictionJob.serviceAccount; empty runs it as the Vertex AI
    // service agent): the proof grants this account the job's reads and writes.
    if let Member::Sa(role) = actions::batch_prediction_identity() {
        inputs.push(("service_account", text(ctx.env.sa_email(role))));
    }
    match &data.source {
        DataSource::BigQuery { .. } => inputs.push(("bigquery_source_input_uri", text(uri))),
        DataSource::Gcs { .. } => inputs.push(("gcs_source_uris", value(json!([uri])))),
    }
    let project = &ctx.env.gcp_project;
    match destination {
        Destination::Bucket(bucket) => {
            let prefix = format!("{}/{}/{}", ctx.env.bucket_url(bucket), ctx.pipeline.key, step.name);
            inputs.push(("gcs_destination_output_uri_prefix", text(prefix)));
        }
        Destination::BigQueryDataset(ds) => inputs.push(("bigquery_destination_output_uri", text(format!("bq://{project}.{ds}")))),
        Destination::BigQueryProject => inputs.push(("bigquery_destination_output_uri", text(format!("bq://{project}")))),
    }
    let mut predict = op_task(ctx.task_of(&step.name)?, step, Op::ModelBatchPredict, inputs)?;
    predict.guard = guard;
    tasks.push(predict);
    Ok(tasks)
}

fn instances_format_name(f: InstancesFormat) -> &'static str {
    match f {
        InstancesFormat::Jsonl => "jsonl",
        InstancesFormat::Csv => "csv",
        InstancesFormat::Bigquery => "bigquery",
        InstancesFormat::TfRecord => "tf-record",
        InstancesFormat::TfRecordGzip => "tf-record-gzip",
        InstancesFormat::FileList => "file-list",
    }
}

fn predictions_format_name(f: PredictionsFormat) -> &'static str {
    match f {
        PredictionsFormat::Jsonl => "jsonl",
        PredictionsFormat::Csv => "csv",
        PredictionsFormat::Bigquery => "bigquery",
    }
}
