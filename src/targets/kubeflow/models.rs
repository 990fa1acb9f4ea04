//! Model Registry and serving steps as GCPC tasks: `model_upload` (`ModelUploadOp`, fed by a
//! small task that turns the trained `system.Model` into the `google.UnmanagedContainerModel`
//! the op reads), `endpoint_deploy` (`ModelDeployOp` to the Terraform-managed endpoint, brought
//! in by an importer) and `batch_prediction` (`ModelBatchPredictOp`).

use super::bug;
use super::gcpc::{number, op_task, text, value, GCPC_IMAGE, Op};
use super::ir::{self, ArtifactSpec, ComponentSpec, ExecutorSpec, Importer, ImporterUri, ParameterSpec, TypeSchema};
use super::jobs::display_name;
use super::json::float;
use super::plan::{Ctx, PlannedTask, Source};
use crate::model::{ArtifactType, DataSource, Explanation, ExplanationMethod, FileFormat, IoType, RegistryModel, SaRole, Step};
use crate::model::actions;
use crate::model::iam::Member;
use crate::targets::TargetError;
use serde_json::{json, Value};

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

/// A Python program on the GCPC image (which has Python and the Vertex AI SDK), given the
/// executor input (`{{$}}`) as its one argument.
fn gcpc_python(script: &str) -> ir::Container {
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
    let mut inputs = vec![
        ("display_name", text(&registry.display_name)),
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
    Ok(vec![convert, upload])
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
    let mut inputs = vec![
        ("model", ctx.source(step, "model")?),
        ("endpoint", imported),
        ("dedicated_resources_machine_type", text(&endpoint.machine_type)),
        ("dedicated_resources_min_replica_count", number(endpoint.min_replicas)),
        ("dedicated_resources_max_replica_count", number(endpoint.max_replicas)),
        ("traffic_split", value(json!({"0": float(f64::from(traffic_percent))}))),
        ("service_account", text(ctx.env.sa_email(SaRole::Serving))),
    ];
    if let Some(acc) = &endpoint.accelerator {
        inputs.push(("dedicated_resources_accelerator_type", text(&acc.ty)));
        inputs.push(("dedicated_resources_accelerator_count", number(acc.count)));
    }
    let deploy = op_task(ctx.task_of(&step.name)?, step, Op::ModelDeploy, inputs)?;
    let retire = retire_idle_models(ctx, step, &importer_key, &deploy.key)?;
    Ok(vec![importer, deploy, retire])
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
    Ok(task)
}

/// A `batch_prediction` step.
pub fn batch_predict(
    ctx: &Ctx<'_>,
    step: &Step,
    dataset: &str,
    destination: &str,
    machine_type: &str,
    max_replicas: u32,
) -> Result<PlannedTask, TargetError> {
    let data = ctx.model.dataset(dataset).ok_or_else(|| bug(format!("no dataset `{dataset}`")))?;
    let uri = ctx.env.dataset_uri(data);
    let mut inputs = vec![
        ("job_display_name", text(display_name(ctx, step))),
        ("model", ctx.source(step, "model")?),
        ("gcs_destination_output_uri_prefix", text(format!("{}/{}/{}", ctx.env.bucket_url(destination), ctx.pipeline.key, step.name))),
        ("machine_type", text(machine_type)),
        ("max_replica_count", number(max_replicas)),
        ("labels", value(json!(ctx.env.labels))),
        ("project", text(&ctx.env.gcp_project)),
        ("location", text(&ctx.env.region)),
    ];
    // The job's identity (BatchPredictionJob.serviceAccount; empty runs it as the Vertex AI
    // service agent): the proof grants this account the job's reads and writes.
    if let Member::Sa(role) = actions::batch_prediction_identity() {
        inputs.push(("service_account", text(ctx.env.sa_email(role))));
    }
    match (&data.source, data.format) {
        (DataSource::BigQuery { .. }, _) => {
            inputs.push(("instances_format", text("bigquery")));
            inputs.push(("bigquery_source_input_uri", text(uri)));
        }
        (DataSource::Gcs { .. }, Some(FileFormat::Csv)) => {
            inputs.push(("instances_format", text("csv")));
            inputs.push(("gcs_source_uris", value(json!([uri]))));
        }
        (DataSource::Gcs { .. }, _) => {
            return Err(bug(format!("batch prediction can't read dataset `{dataset}` (validation should have caught it)")));
        }
    }
    op_task(ctx.task_of(&step.name)?, step, Op::ModelBatchPredict, inputs)
}
