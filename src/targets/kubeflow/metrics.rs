//! Metrics that show up: the Vertex AI console draws a `system.Metrics` or
//! `system.ClassificationMetrics` artifact from its metadata (what kfp's `Metrics.log_metric`,
//! `ClassificationMetrics.log_confusion_matrix` and `log_roc_curve` fill in,
//! `sdk/python/kfp/dsl/types/artifact_types.py`), never from the file's contents. A user
//! container or a remote custom training job only writes the file, and a custom job can't report
//! metadata at all (GCPC's launcher writes only `gcp_resources`, kubeflow/pipelines#7234).
//!
//! So after a `container` or `custom_training` step, one task per metrics output reads the file
//! the step wrote and returns the same file as an artifact of the same type whose metadata is
//! the file's JSON, in the kfp executor-output contract (`executor_output.json` at the executor
//! input's `outputs.outputFile`, which Vertex AI reads after the container exits). The file
//! holds the metadata as kfp builds it: `{"auc": 0.91, …}` for Metrics (a kfp v1
//! `{"metrics": [{"name": …, "numberValue": …}]}` file is accepted too), and
//! `{"confusionMatrix": {"annotationSpecs": […], "rows": […]}, "confidenceMetrics": […]}` for
//! ClassificationMetrics.

use super::ir::{ArtifactSpec, ComponentSpec, ExecutorSpec, TypeSchema};
use super::models::gcpc_python;
use super::plan::{Ctx, PlannedTask, Source};
use crate::model::{kfp_task_name, ArtifactType, IoType, Step, StepKind};
use crate::targets::TargetError;

/// Reads the step's file (an input artifact's `gs://` URI is mounted under `/gcs/`) and writes
/// the executor output giving the task's one output artifact that URI and the file's JSON as
/// metadata. Runs on the GCPC image (Python).
pub const PUBLISH_SCRIPT: &str = r#"import json, os, sys
ex = json.loads(sys.argv[1])
source = ex["inputs"]["artifacts"]["source"]["artifacts"][0]
(name, outs), = ex["outputs"]["artifacts"].items()
out = outs["artifacts"][0]
with open(source["uri"].replace("gs://", "/gcs/", 1)) as f:
    data = json.load(f)
if isinstance(data.get("metrics"), list):
    data = {m["name"]: m["numberValue"] for m in data["metrics"]}
out["uri"] = source["uri"]
out["metadata"] = data
path = ex["outputs"]["outputFile"]
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump({"artifacts": {name: {"artifacts": [out]}}}, f)
"#;

/// The publishing tasks of a step's metrics outputs (none for built-in step kinds, which report
/// their own).
pub fn publish(ctx: &mut Ctx<'_>, step: &Step) -> Result<Vec<PlannedTask>, TargetError> {
    if !matches!(step.kind, StepKind::Container { .. } | StepKind::CustomTraining { .. }) {
        return Ok(Vec::new());
    }
    let main = ctx.task_of(&step.name)?.to_owned();
    let mut tasks = Vec::new();
    for output in &step.outputs {
        let IoType::Artifact(ty @ (ArtifactType::Metrics | ArtifactType::ClassificationMetrics)) = output.ty else { continue };
        let key = ctx.helper_key(step, &kfp_task_name(&output.name))?;
        let spec = || ArtifactSpec { artifact_type: TypeSchema::titled(ty.schema_title()), is_optional: false };
        let mut component = ComponentSpec::default();
        component.input_definitions.artifacts.insert("source".into(), spec());
        component.output_definitions.artifacts.insert(output.name.clone(), spec());
        let mut task = PlannedTask::new(&key, step, component, ExecutorSpec::Container(gcpc_python(PUBLISH_SCRIPT)));
        task.inputs.insert("source".into(), Source::Output { task: main.clone(), key: output.name.clone(), ty: output.ty });
        tasks.push(task);
    }
    Ok(tasks)
}
