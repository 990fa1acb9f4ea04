//! Stage 3 — the resolved model: the one IR every target reads.
//!
//! Lowering (`lower.rs`) turns a validated [`crate::spec::Spec`] into a [`Model`]: every name is
//! resolved per environment (bucket names, image URIs, service-account emails, repository URLs),
//! every reference is checked and replaced by its target's key, and every pipeline's steps are
//! topologically ordered with a name tie-break. Nothing after lowering sees YAML, and all targets
//! take their names from here, so the artifacts cannot disagree with each other.

pub mod access;
pub mod caching;
pub mod component;
pub mod delivery;
pub mod derived;
pub mod actions;
mod env;
pub mod graph;
pub mod iam;
pub mod lower;
pub mod naming;
pub mod paths;
pub mod presence;
pub mod terraform_access;
mod pipeline;
mod scope;

pub use env::*;
pub use lower::lower;
pub use pipeline::*;
pub use scope::*;

pub use crate::spec::{
    Accelerator, Alerts, ColumnType, ComposerSize, Explanation, ExplanationMethod, FileFormat, Goal, InstancesFormat,
    OnlineStoreType, Orchestrator, ParamType, PredictionsFormat, Scale, SearchParam, Serving,
};
// What a step declares, read from the spec (see `spec::step`), is the model's vocabulary too.
pub use crate::spec::{Arg, ArgPart, ArtifactType, CmpOp, Condition, DataSource, Destination, IoType, Operand, Output, RegistryRef, FOUND};
use std::collections::BTreeMap;

/// The whole resolved project.
#[derive(Debug, Clone)]
pub struct Model {
    /// Project identity.
    pub project: Project,
    /// Environments in promotion order (first = default).
    pub environments: Vec<Environment>,
    /// Terraform state location.
    pub state: TerraformState,
    /// Where the generated files live, relative to the repository root (e.g. `generated/flagship`).
    pub output_dir: String,
    /// The spec file, relative to the repository root (e.g. `specs/flagship.yaml`).
    pub spec_path: String,
    /// Buckets, sorted by key.
    pub buckets: Vec<Bucket>,
    /// Key of the bucket holding pipeline roots.
    pub pipeline_root_bucket: String,
    /// Images, sorted by key.
    pub images: Vec<Image>,
    /// Datasets, sorted by key.
    pub datasets: Vec<Dataset>,
    /// Feature Store, if declared.
    pub features: Option<FeatureStore>,
    /// Pipelines, sorted by key.
    pub pipelines: Vec<Pipeline>,
    /// Registry models, sorted by key.
    pub models: Vec<RegistryModel>,
    /// Endpoints, sorted by key.
    pub endpoints: Vec<Endpoint>,
    /// Cloud Run services, sorted by key.
    pub services: Vec<Service>,
    /// Cloud Functions, sorted by key.
    pub functions: Vec<Function>,
    /// Secret Manager secrets of `secrets`, sorted by id.
    pub secrets: Vec<Secret>,
    /// Create a Vertex AI TensorBoard (display name [`Model::tensorboard_name`]).
    pub tensorboard: bool,
    /// Composer environment, if declared.
    pub composer: Option<Composer>,
    /// CI/CD, if declared.
    pub ci: Option<Ci>,
    /// Monitoring.
    pub monitoring: Monitoring,
    /// Service accounts the declared usage needs, sorted by role.
    pub service_accounts: Vec<SaRole>,
    /// IAM grants derived from declared usage (see [`iam`]).
    pub grants: Vec<iam::Grant>,
    /// Google APIs the project uses, sorted.
    pub apis: Vec<&'static str>,
    /// Roles bound to an existing service account, with its email template (`{project}`,
    /// `{env}`); each environment's resolved email is [`Environment::sa_email`].
    pub external_sas: BTreeMap<SaRole, String>,
    /// `overrides.terraform`: resource address → attributes deep-merged into its block.
    pub terraform_overrides: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// `overrides.cloudbuild`: config name → JSON Pointer → value (see [`crate::targets::patch`]).
    pub cloudbuild_overrides: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// `overrides.pipelines`: pipeline key → JSON Pointer → value.
    pub pipeline_overrides: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// The model each environment with `overrides` sees (lowered from its merged spec), by
    /// environment name; an environment not listed sees this model. See [`Model::for_env`].
    pub env_views: Vec<(String, Model)>,
    /// What targets derive from this model once and read more than once (see [`derived`]): a
    /// lowered model is not changed afterwards; code that changes one (a test) changes a clone,
    /// which derives its own, or empties this ([`Model::without_grants`]).
    pub derived: derived::Derived,
}

impl Model {
    /// What environment `env` sees: its own view if its overrides made one, else this model.
    /// Targets that generate files per environment read pipelines, schedules, machines and
    /// replicas from here.
    pub fn for_env(&self, env: &str) -> &Model {
        self.env_views.iter().find(|(name, _)| name == env).map_or(self, |(_, view)| view)
    }

    /// This model with the grants `dropped` picks removed, here and in every environment view
    /// (`mlopsgen iam --without` proves what is left). What was derived from the grants it had is
    /// dropped with them, so nothing read later is stale.
    pub fn without_grants(mut self, dropped: &impl Fn(&iam::Grant) -> bool) -> Model {
        self.grants.retain(|g| !dropped(g));
        self.derived = derived::Derived::default();
        self.env_views = std::mem::take(&mut self.env_views)
            .into_iter()
            .map(|(env, view)| (env, view.without_grants(dropped)))
            .collect();
        self
    }
}

/// Project identity.
#[derive(Debug, Clone)]
pub struct Project {
    /// Short name, prefix of resource names.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Labels for every resource (project labels plus `managed-by: mlopsgen`).
    pub labels: BTreeMap<String, String>,
}

/// Terraform state location.
#[derive(Debug, Clone)]
pub struct TerraformState {
    /// State bucket name pattern (`terraform.state_bucket`); see [`TerraformState::bucket_for`].
    pub bucket: String,
    /// State prefix; `/<env>` is appended per environment.
    pub prefix: String,
}

impl TerraformState {
    /// The state bucket of one environment, in that environment's project: the pattern with
    /// `{project}` and `{env}` replaced, or the name with `-<env>` appended when it has neither.
    pub fn bucket_for(&self, env: &Environment) -> String {
        state_bucket_name(&self.bucket, &env.gcp_project, &env.name)
    }
}

/// `terraform.state_bucket` for one environment (see [`TerraformState::bucket_for`]).
pub fn state_bucket_name(pattern: &str, project: &str, env: &str) -> String {
    if pattern.contains("{project}") || pattern.contains("{env}") {
        pattern.replace("{project}", project).replace("{env}", env)
    } else {
        format!("{pattern}-{env}")
    }
}

/// A bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Spec key (also the Terraform resource name).
    pub key: String,
    /// Keep object versions.
    pub versioning: bool,
    /// Delete objects after days.
    pub delete_after_days: Option<u32>,
    /// Move to Nearline after days.
    pub nearline_after_days: Option<u32>,
    /// Keep this many noncurrent versions.
    pub keep_versions: Option<u32>,
    /// CMEK key.
    pub kms_key: Option<String>,
    /// Who owns it: this spec (created or adopted) or someone else.
    pub ownership: Ownership,
}

/// Who owns a resource the spec names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Ownership {
    /// Terraform creates it in every environment.
    #[default]
    Owned,
    /// It exists already in some environments (environment → its name there): Terraform imports
    /// it there (an `import` block), creates it elsewhere, and refuses to destroy it.
    Adopted(BTreeMap<String, String>),
    /// Owned elsewhere (its name): Terraform reads it with a data source and only grants on it.
    External(String),
}

impl Bucket {
    /// Whether Terraform manages the bucket (creates or imports it).
    pub fn managed(&self) -> bool {
        !matches!(self.ownership, Ownership::External(_))
    }
}

/// What an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// Runs pipeline steps or training jobs.
    Job,
    /// Serves HTTP predictions (Vertex AI endpoint or Cloud Run).
    Serving,
}

/// A container image built from the repository.
#[derive(Debug, Clone)]
pub struct Image {
    /// Spec key; the image name in Artifact Registry.
    pub key: String,
    /// Build context relative to the repository root.
    pub context: String,
    /// Base image with tag.
    pub base: String,
    /// Optional base digest.
    pub digest: Option<String>,
    /// Requirements file relative to the context.
    pub requirements: Option<String>,
    /// Debian packages.
    pub system_packages: Vec<String>,
    /// Exec-form entrypoint.
    pub entrypoint: Vec<String>,
    /// Exec-form cmd.
    pub cmd: Vec<String>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Serving contract (serving images only).
    pub serving: Option<Serving>,
    /// Job or serving.
    pub role: ImageRole,
    /// Whether a `hyperparameter_tuning` step in any environment runs it as its trial container
    /// (set by `lower_all`: one Dockerfile serves every environment).
    pub tuning_trials: bool,
}

impl Image {
    /// The base image reference: `base@digest` when a digest pins it, else `base`.
    pub fn base_ref(&self) -> String {
        match &self.digest {
            Some(digest) => format!("{}@{digest}", self.base),
            None => self.base.clone(),
        }
    }
}

/// A dataset with its contract.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Spec key.
    pub key: String,
    /// Location.
    pub source: DataSource,
    /// File format (GCS sources).
    pub format: Option<FileFormat>,
    /// Sample file in the repository (relative to the repository root).
    pub sample: Option<String>,
    /// Columns, sorted by name.
    pub columns: Vec<Column>,
}

/// One column's contract.
#[derive(Debug, Clone)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Type.
    pub ty: ColumnType,
    /// Nulls allowed.
    pub nullable: bool,
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Allowed values.
    pub allowed: Vec<String>,
    /// Unique values.
    pub unique: bool,
    /// Largest missing share.
    pub max_missing_ratio: Option<f64>,
}

/// Feature Store V2.
#[derive(Debug, Clone)]
pub struct FeatureStore {
    /// Online store resource name (`<project>_features`, underscores as the API requires).
    pub online_store_name: String,
    /// Store type.
    pub store_type: OnlineStoreType,
    /// Groups, sorted by key.
    pub groups: Vec<FeatureGroup>,
    /// Views, sorted by key (one per group when the spec declares none).
    pub views: Vec<FeatureView>,
}

/// A feature group.
#[derive(Debug, Clone)]
pub struct FeatureGroup {
    /// Spec key (resource name).
    pub key: String,
    /// Dataset key (a BigQuery dataset).
    pub dataset: String,
    /// Entity id column.
    pub entity_id: String,
    /// Feature columns.
    pub features: Vec<String>,
}

/// A feature view.
#[derive(Debug, Clone)]
pub struct FeatureView {
    /// Spec key (resource name).
    pub key: String,
    /// Group key.
    pub group: String,
    /// Sync cron.
    pub sync_cron: Option<String>,
}

/// A model in the registry.
#[derive(Debug, Clone)]
pub struct RegistryModel {
    /// Spec key.
    pub key: String,
    /// Registry display name (`<project>-<key>`).
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Serving image key.
    pub serving_image: String,
    /// Serving contract of that image.
    pub serving: Serving,
    /// Explainability.
    pub explanation: Option<Explanation>,
}

/// A Vertex AI endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Spec key.
    pub key: String,
    /// Display name (`<project>-<key>`).
    pub display_name: String,
    /// Numeric resource id (9 digits, no leading zero), derived from project and key.
    pub id: u64,
    /// Machine type of deployed models.
    pub machine_type: String,
    /// Accelerator of deployed models.
    pub accelerator: Option<Accelerator>,
    /// Minimum replicas.
    pub min_replicas: u32,
    /// Maximum replicas.
    pub max_replicas: u32,
    /// Request-response logging sampling rate; `Some` enables logging to BigQuery.
    pub request_logging: Option<f64>,
    /// BigQuery dataset id receiving request logs (`<project>_<key>_requests`, underscores).
    pub logging_dataset: String,
}

/// A Cloud Run service.
#[derive(Debug, Clone)]
pub struct Service {
    /// Spec key.
    pub key: String,
    /// Service name (`<project>-<key>`).
    pub name: String,
    /// Image key.
    pub image: String,
    /// Container port (the image's serving port, else 8080).
    pub port: u16,
    /// Allow unauthenticated access.
    pub public: bool,
    /// Min instances.
    pub min_instances: u32,
    /// Max instances.
    pub max_instances: u32,
    /// CPU limit.
    pub cpu: Option<String>,
    /// Memory limit.
    pub memory: Option<String>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// What it declares it reads and writes (`reads`, `writes`).
    pub access: access::Access,
    /// Endpoint key it calls.
    pub endpoint: Option<String>,
}

/// A Cloud Function (2nd gen).
#[derive(Debug, Clone)]
pub struct Function {
    /// Spec key.
    pub key: String,
    /// Function name (`<project>-<key>`).
    pub name: String,
    /// Source directory relative to the repository root.
    pub source: String,
    /// Runtime.
    pub runtime: String,
    /// Entry point.
    pub entry_point: String,
    /// Bucket key whose finalized objects trigger it; `None` = HTTP.
    pub trigger_bucket: Option<String>,
    /// Memory.
    pub memory: Option<String>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// What it declares it reads and writes (`reads`, `writes`).
    pub access: access::Access,
    /// Pipeline key it may start.
    pub starts_pipeline: Option<String>,
}

/// A Secret Manager secret (`secrets.<id>`); the same id in each environment's project.
#[derive(Debug, Clone)]
pub struct Secret {
    /// Secret id.
    pub id: String,
    /// Created outside the spec: mlopsgen only grants access to it.
    pub existing: bool,
    /// User-managed replication regions; empty = automatic replication.
    pub locations: Vec<String>,
    /// Rotation schedule, if any.
    pub rotation: Option<SecretRotation>,
}

/// A secret's rotation schedule and the topic its notifications go to.
#[derive(Debug, Clone)]
pub struct SecretRotation {
    /// Seconds between notifications.
    pub period_seconds: u64,
    /// Pub/Sub topic id (`<project>-<secret>-rotation`), created by Terraform.
    pub topic: String,
}

impl Model {
    /// The secrets Terraform creates (not the `existing` ones).
    pub fn created_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.secrets.iter().filter(|s| !s.existing)
    }
}

impl Function {
    /// Object in the pipeline-root bucket holding the zipped source: CD uploads it on every
    /// deploy, and Terraform creates the function from it.
    pub fn source_object(&self) -> String {
        format!("functions/{}/source.zip", self.key)
    }
}

/// A Composer environment.
#[derive(Debug, Clone)]
pub struct Composer {
    /// Environment name (`<project>-composer`).
    pub name: String,
    /// Image version.
    pub image_version: String,
    /// Size.
    pub size: ComposerSize,
}

/// CI/CD settings.
#[derive(Debug, Clone)]
pub struct Ci {
    /// GitHub owner.
    pub owner: String,
    /// GitHub repository.
    pub repo: String,
    /// GitHub App installation id.
    pub app_installation_id: u64,
    /// Secret Manager secret id with the OAuth token.
    pub oauth_token_secret: String,
    /// Main branch.
    pub branch: String,
    /// Release tag pattern.
    pub release_tag: String,
    /// Image for lint/test steps.
    pub python_image: String,
    /// Requirements files installed before lint and tests (the spec's, or every image's).
    pub requirements: Vec<String>,
    /// Pip requirement specifiers installed with them.
    pub packages: Vec<String>,
    /// mlopsgen image (by digest) the PR check runs.
    pub mlopsgen_image: String,
    /// Whether promotion into the last environment waits for approval.
    pub approve_last: bool,
    /// IAM principals granted the Cloud Build approver role where that approval is given.
    pub approvers: Vec<String>,
    /// Lint commands.
    pub lint: Vec<String>,
    /// Test commands.
    pub test: Vec<String>,
    /// Pipeline key to start after deploy.
    pub run_pipeline: Option<String>,
    /// Cloud Build connection name (`<project>-github`).
    pub connection: String,
    /// Whether PR builds plan every environment's Terraform (`ci.terraform.plan`).
    pub plan: bool,
    /// Whether CD and releases apply it (`ci.terraform.apply`).
    pub apply: bool,
    /// The Terraform image of the plan and apply steps.
    pub terraform_image: String,
    /// Whether deploys own the project's Vertex AI schedules: some environment schedules a
    /// pipeline on Vertex AI, so every deploy and release also deletes the schedules its
    /// environment no longer has ([`delivery::Deliverable::StaleSchedules`]; set by
    /// `lower::lower_all`, which sees every environment).
    pub owns_vertex_schedules: bool,
}

/// A notification channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Terraform-safe key, e.g. `email_0`.
    pub key: String,
    /// The target's prefix in `monitoring.notify` (`email`, `slack`, `webhook`, `pagerduty`, `pubsub`).
    pub kind: String,
    /// What follows the prefix: address, Slack channel, URL, secret id or topic name.
    pub address: String,
    /// Secret Manager secret whose latest version holds the channel's credential (Slack's bot
    /// token, PagerDuty's integration key).
    pub secret: Option<String>,
}

/// Drift detection.
#[derive(Debug, Clone)]
pub struct Drift {
    /// Endpoint key.
    pub endpoint: String,
    /// Dataset key.
    pub dataset: String,
    /// PSI threshold.
    pub threshold: f64,
    /// Cron.
    pub cron: String,
}

/// Monitoring.
#[derive(Debug, Clone, Default)]
pub struct Monitoring {
    /// Notification channels.
    pub channels: Vec<Channel>,
    /// Alerts.
    pub alerts: Alerts,
    /// Drift detection.
    pub drift: Option<Drift>,
}

/// A runtime identity: one service account per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SaRole {
    /// Submits and runs Vertex AI pipeline jobs.
    Pipelines,
    /// Runs custom training and tuning jobs.
    Training,
    /// Serves models (endpoints) and Cloud Run services.
    Serving,
    /// Runs CD (pushes to the main branch) in the first environment.
    Ci,
    /// Runs the pull-request checks: reads, never writes or deploys.
    Checks,
    /// Runs a release's promotion from its environment to the next one.
    Promote,
    /// Runs the Composer environment.
    Composer,
    /// Runs (and builds) Cloud Functions.
    Functions,
    /// Plans the environment's Terraform in pull requests: reads resources, IAM policies and state.
    Plan,
    /// Applies the environment's Terraform from CD and releases: manages its resources and IAM.
    Apply,
}

impl SaRole {
    /// Every role, in order.
    pub const ALL: [SaRole; 10] = [
        SaRole::Pipelines,
        SaRole::Training,
        SaRole::Serving,
        SaRole::Ci,
        SaRole::Checks,
        SaRole::Promote,
        SaRole::Composer,
        SaRole::Functions,
        SaRole::Plan,
        SaRole::Apply,
    ];

    /// Short name: the Terraform resource name and the suffix of the account id.
    pub fn as_str(self) -> &'static str {
        match self {
            SaRole::Pipelines => "pipelines",
            SaRole::Training => "training",
            SaRole::Serving => "serving",
            SaRole::Ci => "ci",
            SaRole::Checks => "checks",
            SaRole::Promote => "promote",
            SaRole::Composer => "composer",
            SaRole::Functions => "functions",
            SaRole::Plan => "plan",
            SaRole::Apply => "apply",
        }
    }
}

impl Model {
    /// The default (first) environment.
    pub fn default_env(&self) -> &Environment {
        &self.environments[0]
    }

    /// Display name of the TensorBoard (Terraform creates it; training tasks look it up by it,
    /// since Vertex AI assigns its ID).
    pub fn tensorboard_name(&self) -> &str {
        &self.project.name
    }

    /// Looks up a pipeline by key.
    pub fn pipeline(&self, key: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.key == key)
    }

    /// Looks up a dataset by key.
    pub fn dataset(&self, key: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.key == key)
    }

    /// Looks up an image by key.
    pub fn image(&self, key: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.key == key)
    }

    /// Looks up a registry model by key.
    pub fn model(&self, key: &str) -> Option<&RegistryModel> {
        self.models.iter().find(|m| m.key == key)
    }

    /// Looks up an endpoint by key.
    pub fn endpoint(&self, key: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.key == key)
    }

    /// Airflow DAG id of the drift-monitoring job (`<project>_drift`, underscores).
    pub fn drift_dag_id(&self) -> String {
        naming::drift_dag_id(&self.project.name)
    }

    /// Whether a role runs as an existing service account mlopsgen does not create.
    pub fn is_external(&self, role: SaRole) -> bool {
        self.external_sas.contains_key(&role)
    }

    /// Whether a service account role is in use.
    pub fn uses(&self, role: SaRole) -> bool {
        self.service_accounts.contains(&role)
    }

    /// The identity the drift job runs as: the pipelines SA (it reads what the pipelines read), or
    /// Composer's own when there are no pipelines.
    pub fn drift_runner(&self) -> SaRole {
        if self.uses(SaRole::Pipelines) {
            SaRole::Pipelines
        } else {
            SaRole::Composer
        }
    }

    /// Whether DAGs are deployed to the Composer bucket: scheduled pipelines or drift detection,
    /// on a declared Composer environment.
    pub fn deploys_dags(&self) -> bool {
        self.composer.is_some() && (self.pipelines.iter().any(|p| p.schedule.is_some()) || self.monitoring.drift.is_some())
    }

    /// Whether the release into the last environment waits for an approval (`ci.approve_last`,
    /// with more than one environment).
    pub fn approval_required(&self) -> bool {
        self.environments.len() > 1 && self.ci.as_ref().is_some_and(|c| c.approve_last)
    }
}
