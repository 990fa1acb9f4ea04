//! Paths of generated files inside the output directory: one definition shared by the targets
//! that write a file and the targets that refer to it (Cloud Build copies DAGs, uploads templates).

/// Compiled pipeline template of a pipeline in an environment.
pub fn pipeline_json(env: &str, pipeline: &str) -> String {
    format!("pipelines/{env}/{pipeline}.json")
}

/// Folder of an environment's Airflow DAGs.
pub fn dags_dir(env: &str) -> String {
    format!("dags/{env}")
}

/// Airflow DAG file of a pipeline in an environment.
pub fn dag_file(env: &str, pipeline: &str) -> String {
    format!("dags/{env}/{pipeline}.py")
}

/// Airflow DAG file of the drift-monitoring job in an environment: named after its DAG id
/// ([`super::Model::drift_dag_id`]), so file and id follow one rule.
pub fn drift_dag_file(env: &str, dag_id: &str) -> String {
    format!("dags/{env}/{dag_id}.py")
}

/// Vertex AI schedule (the `projects.locations.schedules` request body) of a pipeline in an
/// environment, which CD creates or updates.
pub fn schedule_file(env: &str, pipeline: &str) -> String {
    format!("{}/{pipeline}.json", schedules_dir(env))
}

/// The folder of the Cloud Build configs and the files their steps read.
pub const CLOUDBUILD_DIR: &str = "cloudbuild";

/// The folder of an environment's Vertex AI schedules: what a deploy wants there.
pub fn schedules_dir(env: &str) -> String {
    format!("{CLOUDBUILD_DIR}/schedules/{env}")
}

/// Dockerfile of an image.
pub fn dockerfile(image: &str) -> String {
    format!("docker/{image}/Dockerfile")
}

/// Cloud Build config by name (`pr`, `cd`, `release`).
pub fn cloudbuild(name: &str) -> String {
    format!("{CLOUDBUILD_DIR}/{name}.yaml")
}

/// A file of the generated validator (the `validator` image's build context).
pub fn validator_file(name: &str) -> String {
    format!("{}/{name}", super::naming::VALIDATOR_DIR)
}

/// Python package of the validator inside its folder (`python -m mlops_validation`).
pub const VALIDATOR_PACKAGE: &str = "mlops_validation";

/// Terraform root module folder.
pub const TERRAFORM_DIR: &str = "terraform";

/// Folder of the state bucket holding the reviewed plans, one folder per commit
/// (`plans/<COMMIT_SHA>/`; see `cloudbuild::terraform`).
pub const REVIEWED_PLANS: &str = "plans";

/// The manifest of owned files.
pub const MANIFEST: &str = ".mlopsgen/manifest.json";
