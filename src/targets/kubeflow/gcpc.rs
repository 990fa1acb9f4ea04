//! Google Cloud Pipeline Components, pinned to one GCPC version: the vendored component and
//! executor of each op (`vendor/*.json`, written by
//! `tests/conformance/kfp_parity/vendor_gcpc.py`), and tasks that call them with checked inputs.
//!
//! The payload templates inside the executors are GCPC's own, byte for byte; mlopsgen only
//! chooses the task inputs, and only inputs the op declares.

use super::bug;
use super::ir::{ComponentSpec, ExecutorSpec};
use super::json::float;
use super::plan::{PlannedTask, Source};
use crate::model::Step;
use crate::targets::TargetError;
use serde::Deserialize;
use serde_json::Value;
use std::sync::OnceLock;

/// The pinned GCPC release.
pub const GCPC_VERSION: &str = "2.22.0";
/// Its launcher image.
pub const GCPC_IMAGE: &str = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0";

/// A vendored GCPC op: its component and executor as the pinned GCPC version compiles them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fragment {
    /// GCPC version the fragment came from.
    pub gcpc_version: String,
    /// The component.
    pub component: ComponentSpec,
    /// The executor.
    pub executor: ExecutorSpec,
}

/// The GCPC v1 ops mlopsgen calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `CustomTrainingJobOp` (`v1.custom_job`).
    CustomTrainingJob,
    /// `HyperparameterTuningJobRunOp` (`v1.hyperparameter_tuning_job`).
    HyperparameterTuningJob,
    /// `ModelUploadOp` (`v1.model`).
    ModelUpload,
    /// `ModelDeployOp` (`v1.endpoint`).
    ModelDeploy,
    /// `ModelBatchPredictOp` (`v1.batch_predict_job`).
    ModelBatchPredict,
}

impl Op {
    fn source(self) -> &'static str {
        match self {
            Op::CustomTrainingJob => include_str!("vendor/custom-training-job.json"),
            Op::HyperparameterTuningJob => include_str!("vendor/hyperparameter-tuning-job.json"),
            Op::ModelUpload => include_str!("vendor/model-upload.json"),
            Op::ModelDeploy => include_str!("vendor/model-deploy.json"),
            Op::ModelBatchPredict => include_str!("vendor/model-batch-predict.json"),
        }
    }

    /// The op's vendored component and executor (parsed once per process, then cloned).
    pub fn fragment(self) -> Result<Fragment, TargetError> {
        type Parsed = OnceLock<Result<Fragment, String>>;
        static CUSTOM_TRAINING_JOB: Parsed = OnceLock::new();
        static HYPERPARAMETER_TUNING_JOB: Parsed = OnceLock::new();
        static MODEL_UPLOAD: Parsed = OnceLock::new();
        static MODEL_DEPLOY: Parsed = OnceLock::new();
        static MODEL_BATCH_PREDICT: Parsed = OnceLock::new();
        // An exhaustive match, not an index: a new op fails to compile until it has a cache.
        let parsed = match self {
            Op::CustomTrainingJob => &CUSTOM_TRAINING_JOB,
            Op::HyperparameterTuningJob => &HYPERPARAMETER_TUNING_JOB,
            Op::ModelUpload => &MODEL_UPLOAD,
            Op::ModelDeploy => &MODEL_DEPLOY,
            Op::ModelBatchPredict => &MODEL_BATCH_PREDICT,
        };
        parsed.get_or_init(|| self.parse()).clone().map_err(bug)
    }

    fn parse(self) -> Result<Fragment, String> {
        let fragment: Fragment =
            serde_json::from_str(self.source()).map_err(|e| format!("vendored GCPC fragment {self:?}: {e}"))?;
        if fragment.gcpc_version != GCPC_VERSION {
            return Err(format!("vendored GCPC fragment {self:?} is from {}", fragment.gcpc_version));
        }
        Ok(fragment)
    }
}

/// A task calling a GCPC op with the given inputs; every input must be one the op declares
/// (kfp-style `pipelinechannel--…` inputs feeding placeholders inside constants excepted).
pub fn op_task(key: &str, step: &Step, op: Op, inputs: Vec<(&str, Source)>) -> Result<PlannedTask, TargetError> {
    let Fragment { component, executor, .. } = op.fragment()?;
    task_with(key, step, component, executor, inputs)
}

/// A task running a (possibly adapted) GCPC component with checked inputs.
pub fn task_with(
    key: &str,
    step: &Step,
    component: ComponentSpec,
    executor: ExecutorSpec,
    inputs: Vec<(&str, Source)>,
) -> Result<PlannedTask, TargetError> {
    for (name, source) in &inputs {
        let declared = if source.is_artifact() {
            component.input_definitions.artifacts.contains_key(*name)
        } else {
            component.input_definitions.parameters.contains_key(*name)
        };
        if !declared && !name.starts_with("pipelinechannel--") {
            return Err(bug(format!("GCPC component for step `{}` has no input `{name}`", step.name)));
        }
    }
    let mut task = PlannedTask::new(key, step, component, executor);
    task.inputs = inputs.into_iter().map(|(n, s)| (n.to_owned(), s)).collect();
    Ok(task)
}

/// A string constant.
pub fn text(s: impl Into<String>) -> Source {
    Source::Constant(Value::String(s.into()))
}

/// A number constant (stored as a `google.protobuf.Value` double).
pub fn number(n: impl Into<f64>) -> Source {
    Source::Constant(float(n.into()))
}

/// A structured constant (numbers must already be floats).
pub fn value(v: Value) -> Source {
    Source::Constant(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::kubeflow::ir::ExecutorSpec;

    #[test]
    fn every_vendored_fragment_loads_and_runs_the_pinned_image() {
        for op in [Op::CustomTrainingJob, Op::HyperparameterTuningJob, Op::ModelUpload, Op::ModelDeploy, Op::ModelBatchPredict] {
            let f = op.fragment();
            let Ok(Fragment { executor: ExecutorSpec::Container(c), component, .. }) = f else { panic!("{op:?}: {f:?}") };
            assert_eq!(c.image, GCPC_IMAGE, "{op:?}");
            assert!(component.output_definitions.parameters.contains_key("gcp_resources"), "{op:?}");
        }
    }

    #[test]
    fn custom_job_inputs_match_the_names_validation_reserves() {
        let Ok(f) = Op::CustomTrainingJob.fragment() else { panic!("fragment") };
        let mut names: Vec<&str> = f.component.input_definitions.parameters.keys().map(String::as_str).collect();
        names.push("gcp_resources");
        names.sort_unstable();
        let mut reserved = crate::validate::kfp::CUSTOM_JOB_NAMES.to_vec();
        reserved.sort_unstable();
        assert_eq!(names, reserved);
    }
}
