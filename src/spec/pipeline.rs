//! Spec types for Vertex AI pipelines: typed parameters, steps of every kind, schedules.

use super::{Accelerator, Env};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Vertex AI pipeline.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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

fn utc() -> String {
    "UTC".to_owned()
}

/// A pipeline parameter.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Five-field cron expression, read in `time_zone`.
    pub cron: String,
    /// What triggers the runs: a Cloud Composer DAG (the default) or a Vertex AI schedule.
    #[serde(default)]
    pub orchestrator: Orchestrator,
    /// IANA time zone the cron is read in, e.g. `Europe/Berlin` (default `UTC`): runs follow
    /// the zone's daylight-saving changes.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Parameter values for scheduled runs (override defaults).
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Before each run, wait for new data in this dataset (`composer` only): a sensor checks every
    /// 10 minutes until the BigQuery table (its modification time) or a matching Cloud Storage
    /// object (its update time) is newer than the end of the DAG's last successful run (the
    /// first run only needs the data to exist), and fails the run, which alerts, after 6 hours.
    #[serde(default)]
    pub wait_for: Option<String>,
}

/// Scheduler of a pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Orchestrator {
    /// A Cloud Composer (Airflow) DAG.
    #[default]
    Composer,
    /// A Vertex AI Pipelines schedule (no Composer environment needed), which CD creates and
    /// updates.
    Vertex,
}

/// Settings every step kind shares.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepCommon {
    /// Inputs by name: `<step>.<output>` or `params.<parameter>`. A `hyperparameter_tuning`
    /// step's outputs are its search-space names, each the best trial's value, so
    /// `learning_rate: tune.learning_rate` trains with what tuning found.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
    /// Move an alias (`champion`) onto an uploaded model version, optionally only when its metric
    /// beats the version holding the alias now.
    ModelPromote(ModelPromoteStep),
    /// Deploy a registered model to an endpoint.
    EndpointDeploy(EndpointDeployStep),
    /// Run a Vertex AI batch prediction job.
    BatchPrediction(BatchPredictionStep),
    /// Validate a dataset against its column contract.
    DataValidation(DataValidationStep),
    /// Run a KFP component from a component YAML file in the repository.
    Component(ComponentStep),
}

/// A container step.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
    /// `writes`). `{secret: <id>, version: latest}` takes a secret of `secrets` (and implies
    /// reading it).
    #[serde(default)]
    pub env: Env,
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
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
    /// `writes`). `{secret: <id>, version: latest}` takes a secret of `secrets` (and implies
    /// reading it).
    #[serde(default)]
    pub env: Env,
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
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
    /// Search space by hyperparameter name. Each name is also an output of the step: the best
    /// trial's value of that hyperparameter (`double` and `discrete` as Float, `integer` as Int,
    /// `categorical` as String), read by later steps as `<step>.<name>`. A task after the job
    /// picks the succeeded trial with the best final value of `metric`.
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
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TuningMetric {
    /// Metric id the trainer reports (hypertune).
    pub name: String,
    /// Whether larger is better.
    pub goal: Goal,
}

/// Optimisation direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// One hyperparameter's search range.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Linear.
    #[default]
    Linear,
    /// Logarithmic.
    Log,
}

/// Upload a model to the registry.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelUploadStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Model from `models`; its `model` input is the trained artifact. Every run uploads a new
    /// version of the registry model with this display name (the first run creates it).
    pub model: String,
    /// Version aliases the new version takes (moved off the version that had them).
    #[serde(default = "challenger")]
    pub version_aliases: Vec<String>,
}

fn challenger() -> Vec<String> {
    vec!["challenger".into()]
}

/// Promote an uploaded model version: move `alias` onto it. With a `metric` input and a `goal`,
/// only when the metric beats the value recorded on the version holding the alias now (or no
/// version holds it yet); the promoted version records its metric as a label. Output `promoted`
/// (Bool) says whether it moved, for a later step's `when`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPromoteStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// The alias to move.
    #[serde(default = "champion")]
    pub alias: String,
    /// Whether a larger or smaller `metric` input wins; required with a `metric` input.
    #[serde(default)]
    pub goal: Option<Goal>,
    /// The longest a run may hold the model's promotion lock, in minutes, 10–1440 (default 120):
    /// from deciding to moving the alias, the steps that run on the promotion (a deploy) included.
    /// Runs promoting the same model wait for the lock in turn; one holding it longer (its
    /// deploy failed, or it was cancelled) loses it to the next.
    #[serde(default = "two_hours")]
    pub lease_minutes: u32,
}

fn champion() -> String {
    "champion".into()
}

fn two_hours() -> u32 {
    120
}

/// Deploy a registered model.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointDeployStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Endpoint from `endpoints`; its `model` input is a `model_upload` step's output.
    pub endpoint: String,
    /// Share of traffic for the new model, 1–100. Below 100 is a canary: the model serving the
    /// most traffic before keeps the rest, every other model is undeployed.
    #[serde(default = "hundred")]
    pub traffic_percent: u32,
}

fn hundred() -> u32 {
    100
}

/// Batch prediction.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPredictionStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Dataset from `datasets` to score.
    pub dataset: String,
    /// A registry model version by alias, `<model>@<alias>` (e.g. `churn@champion`), instead of
    /// a `model` input: nothing is uploaded, the job reads the version holding the alias.
    #[serde(default)]
    pub model: Option<String>,
    /// Where predictions go: a bucket from `storage.buckets` (under `<pipeline>/<step>/`),
    /// `bq://<dataset>` (an existing BigQuery dataset of the environment's project; the job
    /// creates its tables) or `bigquery` (a new dataset per job in the environment's project).
    pub destination: String,
    /// Input format; default from the dataset (`bigquery` for tables, else its `format`).
    #[serde(default)]
    pub instances_format: Option<InstancesFormat>,
    /// Output format; default `jsonl` for a bucket, `bigquery` for BigQuery (the only one allowed there).
    #[serde(default)]
    pub predictions_format: Option<PredictionsFormat>,
    /// Machine type of the prediction workers.
    pub machine_type: String,
    /// Maximum replicas.
    #[serde(default = "one")]
    pub max_replicas: u32,
}

impl BatchPredictionStep {
    /// The registry version it reads by alias (`model: churn@champion`), if it names one.
    pub fn registry(&self) -> Option<super::RegistryRef> {
        self.model.as_deref().and_then(super::RegistryRef::parse)
    }
}

/// Vertex batch prediction input formats (`InputConfig.instancesFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InstancesFormat {
    /// One JSON instance per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// A BigQuery table.
    Bigquery,
    /// TFRecord files.
    TfRecord,
    /// Gzipped TFRecord files.
    TfRecordGzip,
    /// A text file listing one file URI per line.
    FileList,
}

/// Vertex batch prediction output formats (`OutputConfig.predictionsFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PredictionsFormat {
    /// One JSON prediction per line.
    Jsonl,
    /// CSV.
    Csv,
    /// BigQuery tables (`predictions`, `errors`).
    Bigquery,
}

/// Validate a dataset.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataValidationStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// Dataset from `datasets`.
    pub dataset: String,
}

/// Run a KFP container component defined in a component YAML file: the file kfp 2 writes with
/// `kfp.compiler.Compiler().compile(component, "component.yaml")` (what
/// `kfp.components.load_component_from_file` reads). mlopsgen reads it at build time: its
/// inputs and outputs (names and types) are the step's, so `inputs`, `when` and later steps'
/// `<step>.<output>` references are checked against them, and its container runs as written,
/// as the pipelines service account.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentStep {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: StepCommon,
    /// The component YAML file, relative to the spec file's folder (inside the repository).
    /// It is an input of the build: when it changes, `build --check` reports the output stale.
    pub component: String,
    /// Image from `images` to run instead of the image the file names: the container's command
    /// and args stay the file's, the image is the one CI builds and pushes for each environment,
    /// and the pipelines service account gets read access to the image repository. Without it
    /// the file's image is pulled as written (README "Custom components").
    #[serde(default)]
    pub image: Option<String>,
    /// The component file as read at build time (not part of the spec text).
    #[serde(skip)]
    pub loaded: Option<std::sync::Arc<ComponentFile>>,
}

/// A component file as validation read it: its path as the spec gives it, its text and its YAML
/// (what the file means is `model::component`'s to say).
#[derive(Debug)]
pub struct ComponentFile {
    /// The path, relative to the spec's folder.
    pub path: String,
    /// The file's text.
    pub text: String,
    /// Its YAML, with positions.
    pub doc: super::yaml::Document,
    /// The outputs it declares, sorted by name (read by `model::component::parse` when
    /// validation loads the file).
    pub outputs: Vec<super::Output>,
}
