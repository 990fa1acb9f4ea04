//! Stage 1 — surface syntax: the `mlops.yaml` types.
//!
//! These serde types are the single source of truth for the spec: `schemars` derives the JSON Schema
//! (`mlopsgen schema`, `mlops.schema.json`) from the same definitions, and doc comments become the
//! schema's descriptions, so editors show them on hover. Every struct rejects unknown fields.
//! Maps are `BTreeMap`s so nothing downstream depends on key order — except `environments`, whose
//! order is the promotion order (first = default, release promotes to the next).

pub mod envs;
mod identities;
mod infra;
mod overrides;
mod pipeline;
mod secrets;
mod step;
pub mod yaml;

pub use identities::ServiceAccount;
pub use infra::*;
pub use overrides::Overrides;
pub use pipeline::*;
pub use secrets::*;
pub use step::*;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole mlopsgen project: one ML system on Google Cloud.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec format version. Only `1` exists.
    pub version: u32,
    /// Name, labels and description shared by every resource.
    pub project: Project,
    /// Output directory, relative to the spec file. Defaults to `generated`.
    #[serde(default)]
    pub output: Option<String>,
    /// Deployment environments in promotion order: the first is the default, and a release
    /// promotes from each environment to the next.
    pub environments: IndexMap<String, Environment>,
    /// Terraform state location.
    pub terraform: TerraformSettings,
    /// Cloud Storage buckets.
    #[serde(default)]
    pub storage: Storage,
    /// Container images built from this repository.
    #[serde(default)]
    pub images: BTreeMap<String, Image>,
    /// Datasets with their column contracts (validated in CI and in pipelines).
    #[serde(default)]
    pub datasets: BTreeMap<String, Dataset>,
    /// Vertex AI Feature Store (V2): online store, feature groups and views.
    #[serde(default)]
    pub features: Option<Features>,
    /// Vertex AI pipelines and their steps.
    #[serde(default)]
    pub pipelines: BTreeMap<String, Pipeline>,
    /// Models registered in the Vertex AI Model Registry.
    #[serde(default)]
    pub models: BTreeMap<String, ModelDef>,
    /// Vertex AI online prediction endpoints.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Cloud Run services.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Cloud Functions (2nd gen).
    #[serde(default)]
    pub functions: BTreeMap<String, Function>,
    /// Secret Manager secrets (by secret id) that services, functions and steps use through
    /// `env: {NAME: {secret: <id>}}` or `reads: [secrets.<id>]`.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
    /// Runtime identities bound to existing service accounts instead of ones mlopsgen creates,
    /// by role: `pipelines` (runs pipelines and their container steps), `training` (custom
    /// training and tuning jobs), `serving` (endpoints and Cloud Run services), `functions`,
    /// `composer`.
    #[serde(default)]
    pub service_accounts: BTreeMap<String, ServiceAccount>,
    /// Experiment tracking.
    #[serde(default)]
    pub experiments: Option<Experiments>,
    /// Orchestrators for scheduled pipelines.
    #[serde(default)]
    pub orchestration: Orchestration,
    /// CI/CD on Cloud Build.
    #[serde(default)]
    pub ci: Option<Ci>,
    /// Notifications, alerts and drift detection.
    #[serde(default)]
    pub monitoring: Option<Monitoring>,
    /// Escape hatch: attributes set on generated resources the spec does not model.
    #[serde(default)]
    pub overrides: Overrides,
}

/// Project identity.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Short name (lowercase letters, digits, hyphens); the prefix of every resource name.
    pub name: String,
    /// What the system does; lands in descriptions and DAG docs.
    #[serde(default)]
    pub description: Option<String>,
    /// Labels put on every resource that takes labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One deployment environment (a GCP project and region).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The GCP project id.
    pub gcp_project: String,
    /// The GCP region every regional resource is created in.
    pub region: String,
    /// Extra labels for this environment's resources.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// This environment's differences from the rest of the spec: a partial spec (any of
    /// `pipelines`, `endpoints`, `models`, `services`, `functions`, `storage`, `features`,
    /// `datasets`, `experiments`, `orchestration`, `monitoring`, `overrides`) merged onto it for
    /// this environment only, by JSON Merge Patch (RFC 7386): mappings merge key by key, any other
    /// value (a scalar, a list) replaces the one it overrides, and `null` removes the key — a
    /// pipeline's `schedule: null` disables its schedule, `services: {api: null}` leaves the
    /// service out of this environment (an entry exists in every environment whose overrides do
    /// not remove it; Terraform counts its resources per environment), `monitoring: {notify: […]}`
    /// sets this environment's notification targets, `schedule: {orchestrator: vertex}` moves a
    /// schedule to Vertex AI here (an environment has Composer only if one of its schedules runs
    /// there). Every key must name something the spec has (an entry it declares or a field of the
    /// section it is in), and the merged spec is validated like the spec itself.
    #[serde(default)]
    pub overrides: serde_json::Map<String, serde_json::Value>,
}

/// Where Terraform keeps its state.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerraformSettings {
    /// Name of each environment's Terraform state bucket, created by `bootstrap.sh` in that
    /// environment's own project (so whoever administers one environment cannot read or change
    /// another's state). `{project}` and `{env}` are replaced by the environment's GCP project and
    /// name; a name with neither gets `-<env>` appended (`acme-tf-state` → `acme-tf-state-dev`).
    pub state_bucket: String,
    /// State prefix; the environment name is appended. Defaults to `mlopsgen/<project>`.
    #[serde(default)]
    pub state_prefix: Option<String>,
}

/// Parses spec text into a document with positions (the YAML stage of validation).
pub fn load(source: &crate::diagnostic::Source) -> Result<yaml::Document, Vec<crate::diagnostic::Diagnostic>> {
    yaml::parse(&source.text)
}

impl Spec {
    /// Whether anything runs on Composer: a pipeline scheduled there, or drift detection (a DAG). A
    /// spec whose schedules are all on Vertex AI gets no Composer environment, DAGs or Composer IAM,
    /// even with `orchestration.composer` declared (validation warns about that).
    pub fn needs_composer(&self) -> bool {
        let mut schedules = self.pipelines.values().filter_map(|p| p.schedule.as_ref());
        schedules.any(|s| s.orchestrator == Orchestrator::Composer)
            || self.monitoring.as_ref().is_some_and(|m| m.drift.is_some())
    }
}
