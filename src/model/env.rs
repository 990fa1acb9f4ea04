//! Per-environment resolved names: what [`super::naming`] derives from the spec's keys, placed in
//! one environment's GCP project and region.

use super::naming;
use super::{DataSource, Dataset, Pipeline, SaRole};
use std::collections::BTreeMap;

/// One environment with its resolved names.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Environment name (`dev`, `prod`).
    pub name: String,
    /// GCP project id.
    pub gcp_project: String,
    /// Region.
    pub region: String,
    /// Labels: project labels, environment labels, `env` and `managed-by`.
    pub labels: BTreeMap<String, String>,
    /// Project name (resource-name prefix).
    pub(super) project_name: String,
    /// Buckets whose name in this environment is not `<gcp_project>-<key>`: external ones and
    /// those adopted here (key → name).
    pub(super) bucket_names: BTreeMap<String, String>,
    /// Roles bound to an existing service account (`service_accounts.<role>.external`), with its
    /// email in this environment.
    pub(super) external_sas: BTreeMap<SaRole, String>,
}

impl Environment {
    /// Artifact Registry Docker repository id (`<project>-images`).
    pub fn docker_repo_id(&self) -> String {
        naming::docker_repo_id(&self.project_name)
    }

    /// Artifact Registry KFP repository id (`<project>-pipelines`).
    pub fn kfp_repo_id(&self) -> String {
        naming::kfp_repo_id(&self.project_name)
    }

    /// Docker repository host path: `REGION-docker.pkg.dev/PROJECT/REPO`.
    pub fn docker_repo(&self) -> String {
        format!("{}{}/{}/{}", self.region, naming::DOCKER_HOST_SUFFIX, self.gcp_project, self.docker_repo_id())
    }

    /// KFP repository URL: `https://REGION-kfp.pkg.dev/PROJECT/REPO`.
    pub fn kfp_repo(&self) -> String {
        format!("https://{}{}/{}/{}", self.region, naming::KFP_HOST_SUFFIX, self.gcp_project, self.kfp_repo_id())
    }

    /// Image URI with a tag: `REGION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG`.
    pub fn image_uri(&self, image: &str, tag: &str) -> String {
        format!("{}/{image}:{tag}", self.docker_repo())
    }

    /// The tag pipelines and services run in this environment (the environment name); CD
    /// moves it to each new build.
    pub fn image_tag(&self) -> &str {
        &self.name
    }

    /// Image URI at this environment's tag.
    pub fn image_ref(&self, image: &str) -> String {
        self.image_uri(image, self.image_tag())
    }

    /// Bucket name: `<gcp_project>-<key>`, or the existing bucket's name for an external bucket
    /// or one adopted in this environment.
    pub fn bucket_name(&self, key: &str) -> String {
        match self.bucket_names.get(key) {
            Some(name) => name.clone(),
            None => format!("{}-{key}", self.gcp_project),
        }
    }

    /// Bucket URL: `gs://<gcp_project>-<key>`.
    pub fn bucket_url(&self, key: &str) -> String {
        format!("gs://{}", self.bucket_name(key))
    }

    /// Service account id (`<project>-<role>`, 6–30 characters).
    pub fn sa_id(&self, role: SaRole) -> String {
        naming::service_account_id(&self.project_name, role.as_str())
    }

    /// Service account email: the one this environment creates, or the external one.
    pub fn sa_email(&self, role: SaRole) -> String {
        match self.external_sas.get(&role) {
            Some(email) => email.clone(),
            None => format!("{}@{}.iam.gserviceaccount.com", self.sa_id(role), self.gcp_project),
        }
    }

    /// Service account resource name: `projects/PROJECT/serviceAccounts/EMAIL`, with the project
    /// that holds the account (an external one's, from its email).
    pub fn sa_resource(&self, role: SaRole) -> String {
        let email = self.sa_email(role);
        let project = naming::sa_project(&email).unwrap_or(&self.gcp_project).to_owned();
        format!("projects/{project}/serviceAccounts/{email}")
    }

    /// Bucket the Composer environment keeps its DAGs in (`<gcp_project>-composer`): created by
    /// Terraform and given to the environment as `storage_config.bucket`, so its name is known
    /// before the environment exists.
    pub fn composer_bucket(&self) -> String {
        self.bucket_name("composer")
    }

    /// Folder of the Composer bucket that holds this project's generated DAGs
    /// (`gs://<composer bucket>/dags/<project>`); CD mirrors `dags/<env>/` into it, so other DAGs
    /// in the bucket (Composer's own `airflow_monitoring.py`) are never touched.
    pub fn composer_dag_folder(&self) -> String {
        format!("gs://{}/dags/{}", self.composer_bucket(), self.project_name)
    }

    /// Pipeline root of a pipeline: `gs://<artifacts bucket>/pipeline-root/<pipeline>`.
    pub fn pipeline_root(&self, root_bucket: &str, pipeline: &Pipeline) -> String {
        format!("{}/pipeline-root/{}", self.bucket_url(root_bucket), pipeline.key)
    }

    /// Where promote tasks keep the promotion locks of registry models:
    /// `gs://<artifacts bucket>/promotion-locks` (`targets::kubeflow::models`).
    pub fn promotion_lock_root(&self, root_bucket: &str) -> String {
        format!("{}/promotion-locks", self.bucket_url(root_bucket))
    }

    /// Where CD uploads a pipeline's compiled template in this environment: the KFP repository
    /// package `<pipeline name>` at tag `<env>`.
    pub fn template_uri(&self, pipeline: &Pipeline) -> String {
        format!("{}/{}/{}", self.kfp_repo(), pipeline.name, self.name)
    }

    /// Fully qualified BigQuery table or `gs://` URI of a dataset.
    pub fn dataset_uri(&self, dataset: &Dataset) -> String {
        match &dataset.source {
            DataSource::BigQuery { project, dataset, table } => {
                format!("bq://{}.{dataset}.{table}", self.table_project(project.as_deref()))
            }
            DataSource::Gcs { bucket, path } => format!("{}/{path}", self.bucket_url(bucket)),
        }
    }

    /// The project a BigQuery table of a dataset lives in: its own, or this environment's.
    pub fn table_project<'a>(&'a self, project: Option<&'a str>) -> &'a str {
        project.unwrap_or(&self.gcp_project)
    }

    /// Full endpoint resource name.
    pub fn endpoint_resource(&self, endpoint_id: u64) -> String {
        format!("projects/{}/locations/{}/endpoints/{endpoint_id}", self.gcp_project, self.region)
    }

    /// Full Model Registry resource name of a model (its id is its display name).
    pub fn model_resource(&self, model_display_name: &str) -> String {
        format!("projects/{}/locations/{}/models/{model_display_name}", self.gcp_project, self.region)
    }
}
