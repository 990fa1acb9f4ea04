//! The permission table: which IAM permissions each runtime [`Act`] needs, and the Google Cloud
//! page that says so. Only the permissions the call checks are listed (a role may hold more).

use crate::model::actions::Act;

/// One row: the permissions an act needs and the documentation that lists them.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// Permissions, all required.
    pub permissions: &'static [&'static str],
    /// The Google Cloud page naming them.
    pub doc: &'static str,
}

const VERTEX: &str = "https://cloud.google.com/vertex-ai/docs/general/access-control";
const STORAGE: &str = "https://cloud.google.com/storage/docs/access-control/iam-permissions";
const BIGQUERY: &str = "https://cloud.google.com/bigquery/docs/access-control";
const FUNCTIONS: &str = "https://cloud.google.com/functions/docs/reference/iam/permissions";

/// The row for an act.
pub fn needs(act: Act) -> Needs {
    let (permissions, doc): (&'static [&'static str], &'static str) = match act {
        Act::SubmitPipelineJob => (&["aiplatform.pipelineJobs.create", "aiplatform.pipelineJobs.get"], VERTEX),
        // The pipeline's identity records lineage (metadata store, artifacts, executions, contexts).
        Act::RecordPipelineMetadata => (
            &["aiplatform.metadataStores.get", "aiplatform.artifacts.create", "aiplatform.executions.create", "aiplatform.contexts.create"],
            "https://cloud.google.com/vertex-ai/docs/pipelines/configure-project#service-account",
        ),
        Act::CreateCustomJob => (&["aiplatform.customJobs.create", "aiplatform.customJobs.get"], VERTEX),
        Act::CreateTuningJob => (&["aiplatform.hyperparameterTuningJobs.create", "aiplatform.hyperparameterTuningJobs.get"], VERTEX),
        Act::CreateTrainingPipeline => (&["aiplatform.trainingPipelines.create", "aiplatform.trainingPipelines.get"], VERTEX),
        Act::UploadModel => (&["aiplatform.models.upload"], VERTEX),
        Act::DeployModel => (&["aiplatform.endpoints.deploy"], VERTEX),
        Act::RetireModels => (&["aiplatform.endpoints.get", "aiplatform.endpoints.undeploy"], VERTEX),
        Act::ReadEndpoint => (&["aiplatform.endpoints.get"], VERTEX),
        // Lookup: `models.list` by display name, then `models.get` of the versions.
        Act::FindModel => (&["aiplatform.models.list", "aiplatform.models.get"], VERTEX),
        // `models.mergeVersionAliases` and `models.patch` (labels) are both `models.update`.
        Act::MoveAlias => (&["aiplatform.models.get", "aiplatform.models.list", "aiplatform.models.update"], VERTEX),
        Act::CreateBatchPredictionJob => (&["aiplatform.batchPredictionJobs.create", "aiplatform.batchPredictionJobs.get"], VERTEX),
        // The SDK's `Endpoint.predict` gets the endpoint before predicting (`dedicated_endpoint_enabled`).
        Act::Predict => (&["aiplatform.endpoints.get", "aiplatform.endpoints.predict"], "https://cloud.google.com/vertex-ai/docs/general/endpoint-access-control"),
        // The job's uploader creates an experiment, runs and time series, then writes them.
        Act::WriteTensorboard => (
            &[
                "aiplatform.tensorboards.get",
                "aiplatform.tensorboardExperiments.create",
                "aiplatform.tensorboardExperiments.write",
                "aiplatform.tensorboardRuns.create",
                "aiplatform.tensorboardRuns.write",
                "aiplatform.tensorboardTimeSeries.create",
            ],
            "https://cloud.google.com/vertex-ai/docs/experiments/tensorboard-training",
        ),
        Act::FindTensorboard => (&["aiplatform.tensorboards.list"], VERTEX),
        Act::ReadTuningJob => (&["aiplatform.hyperparameterTuningJobs.get"], VERTEX),
        Act::ActAs => (&["iam.serviceAccounts.actAs"], "https://cloud.google.com/iam/docs/service-accounts-actas"),
        Act::ReadObjects => (&["storage.objects.get", "storage.objects.list"], STORAGE),
        Act::WriteObjects => (&["storage.objects.create", "storage.objects.delete", "storage.objects.get", "storage.objects.list"], STORAGE),
        Act::GetBucket => (&["storage.buckets.get"], STORAGE),
        Act::ReadTables => (&["bigquery.tables.get", "bigquery.tables.getData"], BIGQUERY),
        // The DAG sensor's `Client.get_table` (`tables.get`), for `Table.modified`.
        Act::GetTableMetadata => (&["bigquery.tables.get"], BIGQUERY),
        // Loading or inserting into a table, creating it first if needed.
        Act::WriteTables => (&["bigquery.tables.create", "bigquery.tables.get", "bigquery.tables.updateData"], BIGQUERY),
        Act::RunQueryJobs => (&["bigquery.jobs.create"], BIGQUERY),
        Act::PullArtifacts => (&["artifactregistry.repositories.downloadArtifacts"], "https://cloud.google.com/artifact-registry/docs/access-control"),
        Act::PushArtifacts => (&["artifactregistry.repositories.uploadArtifacts"], "https://cloud.google.com/artifact-registry/docs/access-control"),
        Act::WriteLogs => (&["logging.logEntries.create"], "https://cloud.google.com/logging/docs/access-control"),
        Act::WriteMetrics => (&["monitoring.timeSeries.create"], "https://cloud.google.com/monitoring/access-control"),
        Act::AccessSecret => (&["secretmanager.versions.access"], "https://cloud.google.com/secret-manager/docs/access-control"),
        Act::ReceiveEvents => (&["eventarc.events.receiveEvent"], "https://cloud.google.com/eventarc/docs/access-control"),
        Act::Invoke => (&["run.routes.invoke"], "https://cloud.google.com/run/docs/securing/managing-access"),
        Act::Publish => (&["pubsub.topics.publish"], "https://cloud.google.com/pubsub/docs/access-control"),
        Act::UpdateService => (&["run.services.get", "run.services.update"], "https://cloud.google.com/run/docs/reference/iam/permissions"),
        // `schedules.delete` (a long-running operation) needs `aiplatform.schedules.delete`
        // (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.schedules/delete).
        Act::DeleteSchedules => (
            &["aiplatform.schedules.list", "aiplatform.schedules.delete"],
            "https://cloud.google.com/vertex-ai/docs/general/access-control",
        ),
        // `gcloud builds list` (https://cloud.google.com/build/docs/iam-roles-permissions).
        Act::ReadBuilds => (&["cloudbuild.builds.list"], "https://cloud.google.com/build/docs/iam-roles-permissions"),
        Act::ManageSchedules => (
            &["aiplatform.schedules.create", "aiplatform.schedules.get", "aiplatform.schedules.list", "aiplatform.schedules.update"],
            "https://cloud.google.com/vertex-ai/docs/pipelines/schedule-pipeline-run",
        ),
        Act::UpdateFunction => (&["cloudfunctions.functions.update"], FUNCTIONS),
        // Checked on the project: a function that doesn't exist yet has no policy of its own, and
        // without `get` above it the API answers 403 instead of 404 (https://google.aip.dev/211).
        Act::FindFunction => (&["cloudfunctions.functions.get"], FUNCTIONS),
        // gcloud's v2 deploy reads the project's number (`GetProjectNumber`), then polls
        // `projects/*/locations/*/operations/*` (not under the function).
        Act::FollowFunctionDeploy => (&["resourcemanager.projects.get", "cloudfunctions.operations.get"], FUNCTIONS),
        // The environment's workers read the environment and its bucket and write logs and metrics.
        Act::RunComposer => (
            &["composer.environments.get", "storage.objects.get", "logging.logEntries.create", "monitoring.timeSeries.create"],
            "https://cloud.google.com/composer/docs/composer-3/access-control",
        ),
        Act::Impersonate => (&["iam.serviceAccounts.getAccessToken"], "https://cloud.google.com/iam/docs/service-account-impersonation"),
        Act::CreateObjects => (&["storage.objects.create"], STORAGE),
        Act::ReadRepository => (
            &["cloudbuild.repositories.accessReadToken"],
            "https://cloud.google.com/build/docs/api/reference/rest/v2/projects.locations.connections.repositories/accessReadToken",
        ),
        Act::ApproveBuilds => (&["cloudbuild.builds.approve"], "https://cloud.google.com/build/docs/securing-builds/gate-builds-on-approval"),
        Act::ReadInfra(area) => (
            crate::model::terraform_access::by_name(area).map_or(&[][..], |a| a.reads),
            "https://cloud.google.com/iam/docs/permissions-reference",
        ),
        Act::ManageInfra(area) => (
            crate::model::terraform_access::by_name(area).map_or(&[][..], |a| a.manages),
            "https://cloud.google.com/iam/docs/permissions-reference",
        ),
        Act::ManageSaPolicy => (
            &["iam.serviceAccounts.getIamPolicy", "iam.serviceAccounts.setIamPolicy"],
            "https://cloud.google.com/composer/docs/composer-3/access-control#service-agent",
        ),
    };
    Needs { permissions, doc }
}
