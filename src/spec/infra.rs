//! Spec types for infrastructure: storage, images, datasets, features, models, endpoints,
//! services, functions, orchestration, CI and monitoring.

use super::Env;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Cloud Storage settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Buckets by short name; the bucket is created as `<gcp_project>-<name>`.
    #[serde(default)]
    pub buckets: BTreeMap<String, Bucket>,
    /// The bucket that holds pipeline roots and templates. Defaults to `artifacts`.
    #[serde(default)]
    pub pipeline_root: Option<String>,
}

/// One Cloud Storage bucket (uniform access and public-access prevention are always on).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Keep old object versions.
    #[serde(default)]
    pub versioning: bool,
    /// Object lifecycle rules.
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
    /// Cloud KMS key (full resource name) for customer-managed encryption.
    #[serde(default)]
    pub kms_key: Option<String>,
    /// An existing bucket owned elsewhere (its name, the same in every environment): Terraform
    /// reads it with a `google_storage_bucket` data source and only grants on it, never creates,
    /// changes or destroys it; it takes no other settings.
    #[serde(default)]
    pub external: Option<String>,
    /// Existing buckets this spec now owns, by environment: `{<env>: <existing bucket name>}`.
    /// In those environments Terraform imports the bucket (an `import` block) instead of creating
    /// `<gcp_project>-<name>`, then applies this entry's settings to it; the bucket is protected
    /// by `lifecycle.prevent_destroy`. Other environments create the bucket as usual.
    #[serde(default)]
    pub adopt: BTreeMap<String, String>,
}

/// Object lifecycle rules of a bucket.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// Delete objects older than this many days.
    #[serde(default)]
    pub delete_after_days: Option<u32>,
    /// Move objects to Nearline storage after this many days.
    #[serde(default)]
    pub nearline_after_days: Option<u32>,
    /// Delete noncurrent versions after this many newer versions exist.
    #[serde(default)]
    pub keep_versions: Option<u32>,
}

/// A container image built from this repository.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Build context directory, relative to the repository root.
    pub context: String,
    /// Base image with a tag, e.g. `python:3.11-slim`.
    pub base: String,
    /// Optional base image digest (`sha256:…`) to pin the base exactly.
    #[serde(default)]
    pub digest: Option<String>,
    /// Python requirements file, relative to the context.
    #[serde(default)]
    pub requirements: Option<String>,
    /// Debian packages to install in the image.
    #[serde(default)]
    pub system_packages: Vec<String>,
    /// Exec-form entrypoint.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// Exec-form default arguments.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// Environment variables baked into the image.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Set for serving images: the HTTP contract Vertex AI and Cloud Run expect.
    #[serde(default)]
    pub serving: Option<Serving>,
}

/// HTTP contract of a serving image.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Serving {
    /// Port the server listens on (`AIP_HTTP_PORT`).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Health route (`AIP_HEALTH_ROUTE`).
    #[serde(default = "default_health")]
    pub health_route: String,
    /// Prediction route (`AIP_PREDICT_ROUTE`).
    #[serde(default = "default_predict")]
    pub predict_route: String,
}

fn default_port() -> u16 {
    8080
}
fn default_health() -> String {
    "/health".into()
}
fn default_predict() -> String {
    "/predict".into()
}

/// A dataset and its column contract.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// `bq://dataset.table` (in the environment's project), `bq://project.dataset.table` (a table
    /// in another project, the same in every environment: its dataset is granted on there, jobs
    /// still run in the environment's project) or `gs://<bucket>/<path>` where `<bucket>` is a
    /// bucket name from `storage.buckets`.
    pub source: String,
    /// File format for `gs://` sources.
    #[serde(default)]
    pub format: Option<FileFormat>,
    /// A small sample file in the repository, validated by the CI checks.
    #[serde(default)]
    pub sample: Option<String>,
    /// Columns and their rules.
    pub columns: BTreeMap<String, Column>,
}

/// File format of a dataset on Cloud Storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// One column's contract.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether missing values are allowed.
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Smallest allowed value (numeric columns).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed value (numeric columns).
    #[serde(default)]
    pub max: Option<f64>,
    /// The only allowed values.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Values must be unique.
    #[serde(default)]
    pub unique: bool,
    /// Largest allowed share of missing values, 0–1.
    #[serde(default)]
    pub max_missing_ratio: Option<f64>,
}

fn yes() -> bool {
    true
}

/// Type of a dataset column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Text.
    String,
    /// Whole numbers.
    Int,
    /// Floating-point numbers.
    Float,
    /// true/false.
    Bool,
    /// Date and time.
    Timestamp,
}

/// Vertex AI Feature Store (V2).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// The online store serving features.
    pub online_store: OnlineStore,
    /// Feature groups by name, each backed by a BigQuery dataset.
    #[serde(default)]
    pub groups: BTreeMap<String, FeatureGroup>,
    /// Feature views by name; a view per group is created when empty.
    #[serde(default)]
    pub views: BTreeMap<String, FeatureView>,
}

/// Online store type.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineStore {
    /// `optimized` (recommended) or `bigtable`.
    #[serde(rename = "type")]
    pub ty: OnlineStoreType,
}

/// Kind of Feature Store online serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnlineStoreType {
    /// Optimized online serving.
    Optimized,
    /// Bigtable online serving.
    Bigtable,
}

/// A feature group over a BigQuery dataset.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureGroup {
    /// A dataset from `datasets` with a `bq://` source.
    pub dataset: String,
    /// Column holding the entity id.
    pub entity_id: String,
    /// Columns exposed as features.
    pub features: Vec<String>,
}

/// A feature view served by the online store.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureView {
    /// The feature group it serves.
    pub group: String,
    /// Cron schedule for syncing from BigQuery.
    #[serde(default)]
    pub sync_cron: Option<String>,
}

/// A model in the Vertex AI Model Registry.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelDef {
    /// Image (from `images`, with `serving`) that serves predictions.
    pub serving_image: String,
    /// What the model predicts.
    #[serde(default)]
    pub description: Option<String>,
    /// Explainable AI configuration.
    #[serde(default)]
    pub explanation: Option<Explanation>,
}

/// Explainable AI settings. Vertex Explainable AI for custom models is deprecated: announced
/// 2026-03-16, shut off 2027-03-16. The model is uploaded with `explanation_metadata` whose
/// inputs are the dataset's columns (less `exclude`) and whose output is `prediction`; the
/// serving container must accept instances keyed by those columns and answer with that field.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// Attribution method.
    pub method: ExplanationMethod,
    /// Dataset from `datasets` whose column contract lists the model's input features.
    pub dataset: String,
    /// Columns of that dataset that are not model inputs (the label, identifiers).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The prediction field the attributions explain (a key of each prediction the serving
    /// container returns).
    pub prediction: String,
    /// Feature permutations (sampled Shapley only).
    #[serde(default)]
    pub path_count: Option<u32>,
    /// Integral approximation steps (integrated gradients and XRAI).
    #[serde(default)]
    pub step_count: Option<u32>,
}

/// Explainable AI attribution method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationMethod {
    /// Sampled Shapley values.
    SampledShapley,
    /// Integrated gradients.
    IntegratedGradients,
    /// XRAI.
    Xrai,
}

/// A Vertex AI online prediction endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Machine type of deployed models.
    pub machine_type: String,
    /// Optional accelerator of deployed models.
    #[serde(default)]
    pub accelerator: Option<Accelerator>,
    /// Minimum replicas.
    #[serde(default = "one")]
    pub min_replicas: u32,
    /// Maximum replicas.
    #[serde(default = "one")]
    pub max_replicas: u32,
    /// Log requests and responses to BigQuery (feeds drift detection).
    #[serde(default)]
    pub request_logging: Option<RequestLogging>,
}

fn one() -> u32 {
    1
}

/// Request-response logging of an endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestLogging {
    /// Share of requests logged, 0–1.
    pub sampling_rate: f64,
}

/// An accelerator attached to a machine.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    /// Vertex AI accelerator type, e.g. `NVIDIA_TESLA_T4`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Number of accelerators.
    #[serde(default = "one")]
    pub count: u32,
}

/// A Cloud Run service.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Image from `images`.
    pub image: String,
    /// Allow unauthenticated invocations.
    #[serde(default)]
    pub public: bool,
    /// Minimum instances.
    #[serde(default)]
    pub min_instances: u32,
    /// Maximum instances.
    #[serde(default = "default_max_instances")]
    pub max_instances: u32,
    /// CPU limit, e.g. `1`.
    #[serde(default)]
    pub cpu: Option<String>,
    /// Memory limit, e.g. `512Mi`.
    #[serde(default)]
    pub memory: Option<String>,
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
    /// Endpoint the service calls for predictions (grants it `aiplatform.user`).
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn default_max_instances() -> u32 {
    3
}

/// A Cloud Function (2nd gen).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// Source directory, relative to the repository root.
    pub source: String,
    /// Runtime, e.g. `python312`.
    pub runtime: String,
    /// Function entry point.
    pub entry_point: String,
    /// Event trigger; without one the function is HTTP-triggered (and private).
    #[serde(default)]
    pub trigger: Option<FunctionTrigger>,
    /// Memory, e.g. `256M`.
    #[serde(default)]
    pub memory: Option<String>,
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
    /// Pipeline the function may start (grants it `aiplatform.user` and actAs on the pipelines SA).
    #[serde(default)]
    pub starts_pipeline: Option<String>,
}

/// Event that triggers a function.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionTrigger {
    /// Bucket (from `storage.buckets`) whose new objects trigger the function.
    pub bucket: String,
}

/// Experiment tracking.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experiments {
    /// Create a Vertex AI TensorBoard instance and log pipeline runs to it.
    #[serde(default = "yes")]
    pub tensorboard: bool,
}

/// Orchestrators.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Orchestration {
    /// Cloud Composer 3 environment for `orchestrator: composer` schedules.
    #[serde(default)]
    pub composer: Option<Composer>,
}

/// A Cloud Composer environment.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Composer {
    /// Composer image version, e.g. `composer-3-airflow-2.10.5`.
    pub image_version: String,
    /// Environment size.
    #[serde(default)]
    pub size: ComposerSize,
}

/// Cloud Composer environment size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComposerSize {
    /// Small.
    #[default]
    Small,
    /// Medium.
    Medium,
    /// Large.
    Large,
}

/// CI/CD on Cloud Build.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ci {
    /// The GitHub repository Cloud Build connects to.
    pub github: GitHub,
    /// Main branch: pushes deploy to the first environment.
    #[serde(default = "default_branch")]
    pub branch: String,
    /// Tag pattern (RE2) that promotes a release to the next environments.
    #[serde(default = "default_release_tag")]
    pub release_tag: String,
    /// Image the lint and test commands run in.
    #[serde(default = "default_ci_image")]
    pub python_image: String,
    /// Requirements files (paths from the repository root) installed into a fresh virtualenv
    /// before the lint and test commands run; default: every image's `requirements`.
    #[serde(default)]
    pub requirements: Option<Vec<String>>,
    /// Further pip requirement specifiers installed with them: the lint and test tools, pinned
    /// (e.g. `ruff==0.8.4`, `pytest==8.3.4`).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The mlopsgen image the PR check runs, pinned by digest (`…/mlopsgen@sha256:…`): built from
    /// mlopsgen's own `Dockerfile` at the revision the team pins (see the README).
    pub mlopsgen_image: String,
    /// Whether promotion into the last environment waits for an approval in Cloud Build.
    #[serde(default = "default_true")]
    pub approve_last: bool,
    /// Who may approve the release into the last environment: IAM principals (`user:EMAIL`,
    /// `group:EMAIL`, `serviceAccount:EMAIL`, `domain:DOMAIN`) granted
    /// `roles/cloudbuild.builds.approver` in the project whose trigger waits for the approval.
    /// Without any, only that project's owners can approve (warning W003).
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Lint commands (run with `sh -c`).
    #[serde(default)]
    pub lint: Vec<String>,
    /// Test commands (run with `sh -c`).
    #[serde(default)]
    pub test: Vec<String>,
    /// Pipeline to start after a successful deploy.
    #[serde(default)]
    pub run_pipeline: Option<String>,
    /// Whether every deploy and release deletes the Vertex AI schedules mlopsgen made that its
    /// environment no longer has (the `prune-schedules` step). Default: while some environment
    /// schedules a pipeline on Vertex AI. Set `true` in the change that drops the last such
    /// schedule (or moves it to Composer), and keep it until that change has reached every
    /// environment: without it, that change also drops the step, and the schedule it meant to
    /// remove keeps running. `false` is an error while a pipeline is scheduled on Vertex AI.
    #[serde(default)]
    pub prune_schedules: Option<bool>,
    /// Terraform in the workflow: plans in pull requests, applies on merge and promotion.
    #[serde(default)]
    pub terraform: CiTerraform,
}

/// Terraform plan and apply in Cloud Build (see the README's "Terraform in the workflow").
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CiTerraform {
    /// Pull-request builds run `terraform plan` for every environment as that environment's
    /// read-only plan SA and print each plan; stale generated files or a failing plan fail the PR.
    #[serde(default = "default_true")]
    pub plan: bool,
    /// CD applies the first environment's Terraform and each release the next environment's
    /// (behind the approval into the last) as that environment's apply SA, which holds admin
    /// roles on its project. Off: applies stay manual.
    #[serde(default)]
    pub apply: bool,
    /// The Terraform image the plan and apply steps run, pinned by version or digest.
    #[serde(default = "default_terraform_image")]
    pub image: String,
}

impl Default for CiTerraform {
    fn default() -> Self {
        CiTerraform { plan: true, apply: false, image: default_terraform_image() }
    }
}

fn default_terraform_image() -> String {
    "hashicorp/terraform:1.9.8".into()
}

fn default_branch() -> String {
    "main".into()
}
fn default_release_tag() -> String {
    "^v[0-9]+\\.[0-9]+\\.[0-9]+$".into()
}
fn default_true() -> bool {
    true
}
fn default_ci_image() -> String {
    "python:3.11-slim".into()
}

/// A GitHub repository connected through the Cloud Build GitHub App.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitHub {
    /// Repository owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Installation id of the Cloud Build GitHub App.
    pub app_installation_id: u64,
    /// Secret Manager secret holding the GitHub OAuth token (secret id, latest version is used).
    pub oauth_token_secret: String,
}

/// Notifications, alerts and drift detection.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Notification targets Cloud Monitoring alerts go to: `email:ADDRESS`, `slack:#CHANNEL`
    /// (bot token from `slack_token_secret`), `webhook:https://URL` (token-auth webhook),
    /// `pagerduty:SECRET` (a Secret Manager secret holding the PagerDuty integration key) or
    /// `pubsub:TOPIC` (a topic this Terraform creates in each environment).
    #[serde(default)]
    pub notify: Vec<String>,
    /// Secret Manager secret (id, in each environment's project) holding the Slack bot token the
    /// `slack:` channels post with; Terraform reads its latest version when it applies.
    #[serde(default)]
    pub slack_token_secret: Option<String>,
    /// Alerts to create.
    #[serde(default)]
    pub alerts: Alerts,
    /// Training/serving drift detection.
    #[serde(default)]
    pub drift: Option<Drift>,
}

/// Alert policies.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Alert when a Vertex AI pipeline run fails.
    #[serde(default)]
    pub pipeline_failures: bool,
    /// Alert when a Cloud Build build fails.
    #[serde(default)]
    pub build_failures: bool,
    /// Alert when a Composer DAG run fails.
    #[serde(default)]
    pub dag_failures: bool,
    /// Alert when an endpoint's p99 latency exceeds this many milliseconds.
    #[serde(default)]
    pub endpoint_p99_latency_ms: Option<u32>,
    /// Alert when an endpoint's error ratio exceeds this share, 0–1.
    #[serde(default)]
    pub endpoint_error_rate: Option<f64>,
    /// Alert when a Cloud Run service's p99 request latency (`run.googleapis.com/request_latencies`,
    /// per revision, over 5 minutes) exceeds this many milliseconds; one policy per service.
    #[serde(default)]
    pub service_p99_latency_ms: Option<u32>,
    /// Alert when the share of a Cloud Run service's requests answered with a 5xx status
    /// (`run.googleapis.com/request_count` with `response_code_class="5xx"` over all requests, 5
    /// minutes) exceeds this share, 0–1; one policy per service.
    #[serde(default)]
    pub service_error_rate: Option<f64>,
}

/// Drift detection between training data and logged prediction requests.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// Endpoint (with `request_logging`) whose requests are compared.
    pub endpoint: String,
    /// Training dataset to compare against.
    pub dataset: String,
    /// Population stability index above which drift is flagged.
    pub threshold: f64,
    /// Cron schedule of the drift job.
    pub cron: String,
}
