//! The environment-specific values workflows read.
//!
//! One set of workflow files serves every environment: whatever differs between environments is
//! a variable (`_ENV`, `_DOCKER_REPO`, …), and [`variables`] is the single place its value is
//! computed, always from [`Environment`] methods. Terraform gives each environment's triggers the
//! whole map of that environment; the Cloud Build target declares in each file the subset it uses
//! (as substitutions, with the default environment's values). Names start with `_` and are
//! upper-case, as Cloud Build requires of user-defined substitutions.

use crate::model::{presence, Environment, Model, Pipeline, SaRole};
use std::collections::BTreeMap;

/// Which environment a step acts on: the build's own or the next one in promotion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The environment the trigger belongs to (`_ENV`, `_DOCKER_REPO`, …).
    Current,
    /// The environment a release promotes to (`_NEXT_ENV`, `_NEXT_DOCKER_REPO`, …).
    Next,
}

impl Stage {
    /// The key of a value for this stage's environment, e.g. `_NEXT_DOCKER_REPO`.
    pub fn key(self, name: &str) -> String {
        match self {
            Stage::Current => format!("_{name}"),
            Stage::Next => format!("_NEXT_{name}"),
        }
    }
}

/// Environment name.
pub const ENV: &str = "ENV";
/// GCP project id.
pub const PROJECT: &str = "PROJECT";
/// Region.
pub const REGION: &str = "REGION";
/// Docker repository host path ([`Environment::docker_repo`]).
pub const DOCKER_REPO: &str = "DOCKER_REPO";
/// KFP template repository URL ([`Environment::kfp_repo`]).
pub const KFP_REPO: &str = "KFP_REPO";
/// Where the generated DAGs go ([`Environment::composer_dag_folder`]).
pub const COMPOSER_DAG_FOLDER: &str = "COMPOSER_DAG_FOLDER";
/// Runtime identity of Cloud Run services.
pub const SERVING_SA: &str = "SERVING_SA";
/// Runtime identity of Cloud Functions.
pub const FUNCTIONS_SA: &str = "FUNCTIONS_SA";
/// The same account as a resource name (what `--build-service-account` takes).
pub const FUNCTIONS_SA_RESOURCE: &str = "FUNCTIONS_SA_RESOURCE";
/// Identity pipeline runs execute as.
pub const PIPELINES_SA: &str = "PIPELINES_SA";
/// Template CD starts after deploying (`ci.run_pipeline`).
pub const RUN_TEMPLATE_URI: &str = "RUN_TEMPLATE_URI";
/// Pipeline root of that run.
pub const RUN_PIPELINE_ROOT: &str = "RUN_PIPELINE_ROOT";

/// What the environment has among what not every environment has ([`crate::model::presence`]),
/// space-separated; workflow steps for those things run only where listed (the Cloud Build
/// target guards them, `only_in`).
pub const PRESENT: &str = "PRESENT";

/// The environment's Terraform apply identity (`ci.terraform.apply`).
pub const APPLY_SA: &str = "APPLY_SA";
/// The environment's Terraform plan identity (a release's review build plans with it).
pub const PLAN_SA: &str = "PLAN_SA";
/// The identity the environment's releases and their review builds run as (a release trusts
/// only review builds run as it).
pub const PROMOTE_SA: &str = "PROMOTE_SA";
/// The environment's Terraform state bucket (the reviewed plans live under `plans/` there).
pub const STATE_BUCKET: &str = "STATE_BUCKET";

/// Key of a bucket's name, e.g. `BUCKET_RAW_DATA` for bucket `raw-data`.
pub fn bucket(key: &str) -> String {
    format!("BUCKET_{}", key.to_ascii_uppercase().replace('-', "_"))
}

/// Every variable a workflow run for `env` may read, with its value: the environment's own
/// values, the next environment's under `_NEXT_` (when there is one).
pub fn variables(model: &Model, env: &Environment) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    insert_env(&mut out, model, env, Stage::Current);
    if let Some(next) = next_env(model, env) {
        insert_env(&mut out, model, next, Stage::Next);
    }
    if let Some(run) = run_pipeline(model) {
        out.insert(Stage::Current.key(RUN_TEMPLATE_URI), env.template_uri(run));
        out.insert(Stage::Current.key(RUN_PIPELINE_ROOT), env.pipeline_root(&model.pipeline_root_bucket, run));
    }
    out
}

fn insert_env(out: &mut BTreeMap<String, String>, model: &Model, env: &Environment, stage: Stage) {
    let mut put = |name: &str, value: String| {
        out.insert(stage.key(name), value);
    };
    put(ENV, env.name.clone());
    put(PROJECT, env.gcp_project.clone());
    put(REGION, env.region.clone());
    if !model.images.is_empty() {
        put(DOCKER_REPO, env.docker_repo());
    }
    if !model.pipelines.is_empty() {
        put(KFP_REPO, env.kfp_repo());
    }
    if presence::any_dags(model) {
        put(COMPOSER_DAG_FOLDER, env.composer_dag_folder());
    }
    if !model.services.is_empty() {
        put(SERVING_SA, env.sa_email(SaRole::Serving));
    }
    if !model.functions.is_empty() {
        put(FUNCTIONS_SA, env.sa_email(SaRole::Functions));
        put(FUNCTIONS_SA_RESOURCE, env.sa_resource(SaRole::Functions));
    }
    let function_buckets = model.functions.iter().flat_map(|f| [f.trigger_bucket.as_deref(), Some(&model.pipeline_root_bucket)]);
    for key in function_buckets.flatten() {
        put(&bucket(key), env.bucket_name(key));
    }
    if crate::model::terraform_access::applies(model) {
        put(APPLY_SA, env.sa_email(SaRole::Apply));
    }
    if crate::model::terraform_access::reviews(model) {
        put(PLAN_SA, env.sa_email(SaRole::Plan));
        put(PROMOTE_SA, env.sa_email(SaRole::Promote));
        put(STATE_BUCKET, model.state.bucket_for(env));
    }
    if run_pipeline(model).is_some() {
        put(PIPELINES_SA, env.sa_email(SaRole::Pipelines));
    }
    if !presence::conditional(model).is_empty() {
        put(PRESENT, presence::keys(model.for_env(&env.name)).into_iter().collect::<Vec<_>>().join(" "));
    }
}

/// The environment after `env` in promotion order.
pub fn next_env<'m>(model: &'m Model, env: &Environment) -> Option<&'m Environment> {
    let at = model.environments.iter().position(|e| e.name == env.name)?;
    model.environments.get(at + 1)
}

/// The pipeline CD starts after deploying, if any.
pub fn run_pipeline(model: &Model) -> Option<&Pipeline> {
    model.ci.as_ref()?.run_pipeline.as_deref().and_then(|key| model.pipeline(key))
}
