//! Spec types for Vertex AI pipelines: typed parameters, steps of every kind, schedules.

use super::Accelerator;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A Vertex AI pipeline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// What the pipeline does.
    #[serde(default)]
    pub description: Option<String>,
    /// Typed run-time parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
    /// Steps by name; order comes from their inputs and `after`.
    pub steps: BTreeMap<String, Step>,
    /// Let steps reuse an earlier run's result (Vertex AI execution caching). On (the default),
    /// only container and custom-training steps that read an upstream output and name no
    /// `bq://`/`gs://` data reuse results; data validation, tuning, uploads, deploys and batch
    /// prediction always do new work. Off: no step reuses results. A step's `cache` overrides both.
    #[serde(default = "yes")]
    pub caching: bool,
    /// When the pipeline runs on its own.
    #[serde(default)]
    pub schedule: Option<Schedule>,
}

fn yes() -> bool {
    true
}

/// A pipeline parameter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Value type.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Default value; without one the parameter is required at run time.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// What the parameter means.
    #[serde(default)]
    pub description: Option<String>,
}

/// Type of a pipeline parameter or output parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Text.
    String,
    /// Whole number.
    Int,
    /// Floating-point number.
    Float,
    /// true/false.
    Bool,
    /// JSON list.
    List,
    /// JSON object.
    Struct,
}

/// When a pipeline runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Five-field cron expression (UTC).
    pub cron: String,
    /// What triggers the runs.
    #[serde(default)]
    pub orchestrator: Orchestrator,
    /// Parameter values for scheduled runs (override defaults).
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Before each run, wait until this BigQuery dataset's table exists (Composer only): a sensor
    /// checks every 10 minutes and fails the run after 6 hours. It checks existence, not freshness:
    /// a table that already exists passes at once.
    #[serde(default)]
    pub wait_for: Option<String>,
}

/// Scheduler of a pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Orchestrator {
    /// A Cloud Composer (Airflow) DAG.
    #[default]
    Composer,
}

/// Settings every step kind shares.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepCommon {
    /// Inputs by name: `<step>.<output>` or `params.<parameter>`.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// Steps that must finish first although no data flows from them.
    #[serde(default)]
    pub after: Vec<String>,
    /// Run only if this holds: an output parameter of an earlier step compared with a literal or
    /// a pipeline parameter, e.g. `evaluate.auc >= 0.8` or `evaluate.auc >= params.min_auc`.
    #[serde(default)]
    pub when: Option<String>,
    /// Retries on failure.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Reuse an earlier run's result when the inputs, outputs and container are the same
    /// (`true` opts a step with side effects or external reads in; default: decided by the
    /// step kind, see the pipeline's `caching`).
    #[serde(default)]
    pub cache: Option<bool>,
}

/// Kinds of pipeline output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
pub enum OutputType {
    /// A dataset artifact.
    Dataset,
    /// A model artifact.
    Model,
    /// Scalar metrics.
    Metrics,
    /// Classification metrics (confusion matrix, ROC).
    ClassificationMetrics,
    /// A Markdown report.
    Markdown,
    /// An HTML report.
    HTML,
    /// Any other artifact.
    Artifact,
    /// A string output parameter.
    String,
    /// An integer output parameter.
    Int,
    /// A float output parameter.
    Float,
    /// A boolean output parameter.
    Bool,
}

/// Compute resources of a container step.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU limit, e.g. `4`.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory limit, e.g. `16G`.
    #[serde(default)]
    pub memory: Option<String>,
    /// Accelerator.
    #[serde(default)]
    pub accelerator: Option<Accelerator>,
}

/// A Compute Engine machine for a Vertex AI job.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Machine type, e.g. `n1-standard-8`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Optional accelerator.
    #[serde(default)]
    pub accelerator: Option<Accelerator>,
    /// Number of replicas.
    #[serde(default = "one")]
    pub replica_count: u32,
}

fn one() -> u32 {
    1
}

/// One pipeline step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Run a container from `images`.
    Container(ContainerStep),
    /// Run a container as a Vertex AI custom training job.
    CustomTraining(CustomTrainingStep),
    /// Run a Vertex AI hyperparameter tuning job.
    HyperparameterTuning(TuningStep),
    /// Upload a model artifact to the Vertex AI Model Registry.
    ModelUpload(ModelUploadStep),
    /// Deploy a registered model to an endpoint.
    EndpointDeploy(EndpointDeployStep),
    /// Run a Vertex AI batch prediction job.
    BatchPrediction(BatchPredictionStep),
    /// Validate a dataset against its column contract.
    DataValidation(DataValidationStep),
}

/// No environment variables (a tuning step has none).
static NO_ENV: BTreeMap<String, String> = BTreeMap::new();

/// A step's `reads`, `writes` and `env`.
pub type DeclaredAccess<'a> = (&'a [String], &'a [String], &'a BTreeMap<String, String>);

impl Step {
    /// What a container-running step declares it reads and writes, and its environment
    /// (`None` for the other kinds, whose access mlopsgen derives itself).
    pub fn declared_access(&self) -> Option<DeclaredAccess<'_>> {
        match self {
            Step::Container(c) => Some((&c.reads, &c.writes, &c.env)),
            Step::CustomTraining(c) => Some((&c.reads, &c.writes, &c.env)),
            Step::HyperparameterTuning(t) => Some((&t.reads, &t.writes, &NO_ENV)),
            _ => None,
        }
    }
}

/// A container step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Image from `images`.
    pub image: String,
    /// Command (defaults to the image's entrypoint).
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments; `{{params.x}}`, `{{inputs.x}}` and `{{outputs.x}}` are replaced.
    #[serde(default)]
    pub args: Vec<String>,
    /// Outputs by name and type.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputType>,
    /// Environment variables; `{{buckets.<key>}}`, `{{datasets.<key>}}` and `{{endpoints.<key>}}`
    /// in a value become that resource's name in each environment (it must be in `reads` or
    /// `writes`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Data it reads: `buckets.<key>`, `datasets.<key>`, `endpoints.<key>` (calls predict) or
    /// `secrets.<id>` (a Secret Manager secret); its identity gets read access to each, on that
    /// resource alone where IAM allows (README, "Identities and IAM").
    #[serde(default)]
    pub reads: Vec<String>,
    /// Data it writes: `buckets.<key>` or `datasets.<key>`; its identity gets write access to each.
    #[serde(default)]
    pub writes: Vec<String>,
    /// CPU, memory and accelerator limits.
    #[serde(default)]
    pub resources: Option<Resources>,
}

/// A custom training job step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomTrainingStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Image from `images`.
    pub image: String,
    /// Command (defaults to the image's entrypoint).
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments; `{{params.x}}`, `{{inputs.x}}` and `{{outputs.x}}` are replaced.
    #[serde(default)]
    pub args: Vec<String>,
    /// Outputs by name and type.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputType>,
    /// Environment variables; `{{buckets.<key>}}`, `{{datasets.<key>}}` and `{{endpoints.<key>}}`
    /// in a value become that resource's name in each environment (it must be in `reads` or
    /// `writes`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Data it reads: `buckets.<key>`, `datasets.<key>`, `endpoints.<key>` (calls predict) or
    /// `secrets.<id>` (a Secret Manager secret); its identity gets read access to each, on that
    /// resource alone where IAM allows (README, "Identities and IAM").
    #[serde(default)]
    pub reads: Vec<String>,
    /// Data it writes: `buckets.<key>` or `datasets.<key>`; its identity gets write access to each.
    #[serde(default)]
    pub writes: Vec<String>,
    /// Machine the job runs on.
    pub machine: Machine,
}

/// A hyperparameter tuning step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TuningStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Image from `images` that trains one trial and reports the metric.
    pub image: String,
    /// Command (defaults to the image's entrypoint).
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments; the trial's values are appended as `--<name>=<value>`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Data it reads: `buckets.<key>`, `datasets.<key>`, `endpoints.<key>` (calls predict) or
    /// `secrets.<id>` (a Secret Manager secret); its identity gets read access to each, on that
    /// resource alone where IAM allows (README, "Identities and IAM").
    #[serde(default)]
    pub reads: Vec<String>,
    /// Data it writes: `buckets.<key>` or `datasets.<key>`; its identity gets write access to each.
    #[serde(default)]
    pub writes: Vec<String>,
    /// Metric to optimise and its goal.
    pub metric: TuningMetric,
    /// Search space by hyperparameter name.
    pub search_space: BTreeMap<String, SearchParam>,
    /// Total trials.
    pub max_trials: u32,
    /// Trials at once.
    #[serde(default = "one")]
    pub parallel_trials: u32,
    /// Machine each trial runs on.
    pub machine: Machine,
}

/// The metric a tuning job optimises.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TuningMetric {
    /// Metric id the trainer reports (hypertune).
    pub name: String,
    /// Whether larger is better.
    pub goal: Goal,
}

/// Optimisation direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// One hyperparameter's search range.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SearchParam {
    /// A floating-point range.
    Double {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Scale of the search.
        #[serde(default)]
        scale: Scale,
    },
    /// An integer range.
    Integer {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Scale of the search.
        #[serde(default)]
        scale: Scale,
    },
    /// A list of strings.
    Categorical {
        /// Candidate values.
        values: Vec<String>,
    },
    /// A list of numbers.
    Discrete {
        /// Candidate values.
        values: Vec<f64>,
    },
}

/// How a numeric range is searched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Linear.
    #[default]
    Linear,
    /// Logarithmic.
    Log,
}

/// Upload a model to the registry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelUploadStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Model from `models`; its `model` input is the trained artifact.
    pub model: String,
    /// Version aliases to set, e.g. `challenger`.
    #[serde(default)]
    pub version_aliases: Vec<String>,
}

/// Deploy a registered model.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointDeployStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Endpoint from `endpoints`; its `model` input is a `model_upload` step's output.
    pub endpoint: String,
    /// Share of traffic for the new model, 1–100.
    #[serde(default = "hundred")]
    pub traffic_percent: u32,
}

fn hundred() -> u32 {
    100
}

/// Batch prediction.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPredictionStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Dataset from `datasets` to score.
    pub dataset: String,
    /// Bucket from `storage.buckets` for the predictions.
    pub destination: String,
    /// Machine type of the prediction workers.
    pub machine_type: String,
    /// Maximum replicas.
    #[serde(default = "one")]
    pub max_replicas: u32,
}

/// Validate a dataset.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataValidationStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Dataset from `datasets`.
    pub dataset: String,
}
