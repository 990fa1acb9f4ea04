//! Every name and URL mlopsgen derives from the spec's keys, spelled once. Plain functions of the
//! project name and keys, so validation (which runs before lowering) checks exactly the names the
//! targets write; [`super::Environment`] adds the per-environment parts (GCP project, region).

use sha2::{Digest, Sha256};

/// Host suffix of Artifact Registry Docker repositories: `REGION-docker.pkg.dev`.
pub const DOCKER_HOST_SUFFIX: &str = "-docker.pkg.dev";

/// Host suffix of Artifact Registry KFP repositories: `REGION-kfp.pkg.dev`.
pub const KFP_HOST_SUFFIX: &str = "-kfp.pkg.dev";

/// The label every resource and pipeline run carries (`managed-by: mlopsgen`); a deploy deletes
/// only Vertex AI schedules that carry it (`delivery::Deliverable::StaleSchedules`).
pub const MANAGED_BY: (&str, &str) = ("managed-by", "mlopsgen");

/// The label that names the project (`mlopsgen-project: <project>`) on a Vertex AI schedule's
/// runs, beside the environment's labels: what a deploy's prune step matches, so another mlopsgen
/// project in the same GCP project (say `churn-eu` beside `churn`) keeps its schedules.
pub const PROJECT_LABEL: &str = "mlopsgen-project";

/// The label naming an environment (`env: <name>`) on its resources and pipeline runs.
pub const ENV_LABEL: &str = "env";

/// Label keys mlopsgen sets itself, which the spec's labels may not: [`MANAGED_BY`],
/// [`ENV_LABEL`] and [`PROJECT_LABEL`]. Deploys find what they made by them.
pub const RESERVED_LABELS: [&str; 3] = [MANAGED_BY.0, ENV_LABEL, PROJECT_LABEL];

/// Key of the built-in data-validation and drift image; specs may not declare it.
pub const VALIDATOR_IMAGE: &str = "validator";

/// Folder (inside the output directory) holding the generated validator package.
pub const VALIDATOR_DIR: &str = "validation";

/// A project-scoped resource: `<project>-<key>` (Cloud Run services, functions, endpoints'
/// display names, the Composer environment, the GitHub connection …).
pub fn prefixed(project: &str, key: &str) -> String {
    format!("{project}-{key}")
}

/// A pipeline's KFP name and template package: `<project>-<key>`, underscores as hyphens (KFP
/// pipeline names are lowercase letters, digits and hyphens).
pub fn pipeline_name(project: &str, key: &str) -> String {
    prefixed(project, key).replace('_', "-")
}

/// A pipeline's Airflow `dag_id` and DAG file stem: `<project>_<key>`, hyphens as underscores.
pub fn dag_id(project: &str, key: &str) -> String {
    format!("{project}_{key}").replace('-', "_")
}

/// The drift-monitoring DAG's id and file stem: `<project>_drift`, hyphens as underscores (it can
/// collide with a pipeline keyed `drift`, which validation reports).
pub fn drift_dag_id(project: &str) -> String {
    dag_id(project, "drift")
}

/// The Vertex job display name of a step: `<pipeline name>-<step>`.
pub fn job_display_name(pipeline_name: &str, step: &str) -> String {
    format!("{pipeline_name}-{step}")
}

/// A service account id: `<project>-<role>` (6–30 characters).
pub fn service_account_id(project: &str, role: &str) -> String {
    prefixed(project, role)
}

/// A user-managed service account's project, from its email
/// (`<id>@<project>.iam.gserviceaccount.com`).
pub fn sa_project(email: &str) -> Option<&str> {
    email.split_once('@')?.1.strip_suffix(".iam.gserviceaccount.com")
}

/// `{project}` and `{env}` in a per-environment template replaced by an environment's values.
pub fn per_env(template: &str, project: &str, env: &str) -> String {
    template.replace("{project}", project).replace("{env}", env)
}

/// Artifact Registry Docker repository id: `<project>-images`.
pub fn docker_repo_id(project: &str) -> String {
    prefixed(project, "images")
}

/// Artifact Registry KFP repository id: `<project>-pipelines`.
pub fn kfp_repo_id(project: &str) -> String {
    prefixed(project, "pipelines")
}

/// The BigQuery dataset an endpoint logs requests to: `<project>_<key>_requests`.
pub fn request_log_dataset(project: &str, endpoint: &str) -> String {
    format!("{project}_{endpoint}_requests").replace('-', "_")
}

/// The Feature Store online store: `<project>_features`.
pub fn online_store_name(project: &str) -> String {
    format!("{project}_features").replace('-', "_")
}

/// A stable 9-digit endpoint id from the project and endpoint key (user-chosen ids make the
/// endpoint's resource name known before it exists). `CreateEndpointRequest.endpoint_id`: an id
/// starting with a digit "may be up to 9 characters, and valid characters are [0-9] with no
/// leading zeros" (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/create;
/// older API docs said 1-10 digits, the provider still accepts 10).
pub fn endpoint_id(project: &str, key: &str) -> u64 {
    let digest = Sha256::digest(format!("{project}/{key}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    100_000_000 + u64::from_be_bytes(bytes) % 900_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ids_are_nine_digits_and_stable() {
        let id = endpoint_id("churn", "churn");
        assert!((100_000_000..1_000_000_000).contains(&id));
        assert_eq!(id, endpoint_id("churn", "churn"));
        assert_ne!(id, endpoint_id("churn", "other"));
    }

    #[test]
    fn kfp_and_airflow_names_swap_separators_in_opposite_directions() {
        assert_eq!(pipeline_name("my-proj", "daily_train"), "my-proj-daily-train");
        assert_eq!(dag_id("my-proj", "daily_train"), "my_proj_daily_train");
    }
}
