//! Least-privilege IAM derived from declared usage.
//!
//! Each [`Grant`] gives one identity one role on the narrowest resource that needs it, and says
//! which spec entry asked for it, so a reviewer can trace every binding. Project-level roles are
//! used only where Google Cloud offers no narrower scope (creating Vertex AI jobs, writing logs,
//! running BigQuery jobs, Composer's worker role, Eventarc delivery).

use super::actions::{self, step_datasets, Act};
use super::delivery::{self, Deliverable, Workflow};
use super::{DataSource, Model, Orchestrator, SaRole, StepKind};
use indexmap::IndexSet;
use std::collections::BTreeMap;

/// Who receives a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Member {
    /// One of the project's runtime service accounts.
    Sa(SaRole),
    /// A Google-managed service agent of the project.
    Agent(Agent),
    /// The promotion SA of the environment before this one in promotion order: its release builds
    /// deploy into this environment (absent in the first).
    Promoter,
    /// The first environment's checks SA (`var.checks_sa`), in every environment: its PR builds
    /// plan each environment's Terraform as that environment's plan SA (`ci.terraform.plan`).
    Checker,
    /// The people of `ci.approvers` (IAM principals from the spec), in the environment whose
    /// release trigger waits for approval: they approve the release into the last environment.
    Approvers,
}

/// Google-managed service agents that need a grant for a declared feature to work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Agent {
    /// Cloud Build (`service-N@gcp-sa-cloudbuild`): reads the GitHub token for the connection.
    CloudBuild,
    /// Cloud Composer (`service-N@cloudcomposer-accounts`): runs the environment as its SA.
    Composer,
    /// Cloud Storage (`service-N@gs-project-accounts`): publishes bucket events for Eventarc.
    Storage,
    /// Vertex AI (`service-N@gcp-sa-aiplatform`): runs jobs started without a service account.
    Vertex,
    /// Cloud Monitoring notifications (`service-N@gcp-sa-monitoring-notification`): publishes
    /// alerts to `pubsub:` channels' topics.
    MonitoringNotification,
    /// Secret Manager (`service-N@gcp-sa-secretmanager`): publishes rotation notifications to a
    /// secret's topics.
    SecretManager,
}

impl Agent {
    /// Short name (Terraform resource names).
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::CloudBuild => "cloudbuild_agent",
            Agent::Composer => "composer_agent",
            Agent::Storage => "storage_agent",
            Agent::Vertex => "vertex_agent",
            Agent::MonitoringNotification => "monitoring_agent",
            Agent::SecretManager => "secretmanager_agent",
        }
    }

    /// The API whose service identity this agent is, when it must be created explicitly before a
    /// binding can name it. Enabling an API does not always create its agent (Service Usage
    /// `services.generateServiceIdentity`,
    /// https://cloud.google.com/service-usage/docs/reference/rest/v1beta1/services/generateServiceIdentity),
    /// and IAM rejects a binding for a member that does not exist yet. The Cloud Storage agent
    /// needs none: the `google_storage_project_service_account` data source creates it when read
    /// (https://registry.terraform.io/providers/hashicorp/google/latest/docs/data-sources/storage_project_service_account).
    pub fn api(self) -> Option<&'static str> {
        match self {
            Agent::CloudBuild => Some("cloudbuild.googleapis.com"),
            Agent::Composer => Some("composer.googleapis.com"),
            Agent::Storage => None,
            Agent::Vertex => Some("aiplatform.googleapis.com"),
            Agent::MonitoringNotification => Some("monitoring.googleapis.com"),
            Agent::SecretManager => Some("secretmanager.googleapis.com"),
        }
    }
}

/// Whether a grant is on a role's external service account (`service_accounts.<role>.external`):
/// the binding belongs to the account's IAM policy, in its owner's project, which this
/// Terraform's apply SA has no `iam.serviceAccounts.setIamPolicy` on (and should not: a binding
/// in another team's project would be destroyed with this environment), so its owner makes it.
pub fn outside(m: &Model, g: &Grant) -> bool {
    matches!(g.scope, Scope::ServiceAccount(r) if m.is_external(r))
}

/// Whether `member` acts in the environment at `index` of the promotion order, and so whether
/// Terraform binds its grants there (what `targets::terraform::iam::condition` and the
/// approvers' `for_each` test with that environment's tfvars): a workflow's identity where the
/// workflow's trigger runs ([`Workflow::runs_at`]; a release's review runs as the release's
/// identity), the Cloud Build service agent where any trigger runs, the promoter where a previous
/// environment releases into this one, the approvers where the release into the last environment
/// waits for them; every other member everywhere.
pub fn acts_at(m: &Model, member: Member, index: usize) -> bool {
    let count = m.environments.len();
    let workflows = delivery::workflows(m);
    let runs = |w: Workflow| workflows.contains(&w) && w.runs_at(index, count);
    match member {
        Member::Agent(Agent::CloudBuild) => workflows.iter().any(|w| w.runs_at(index, count)),
        Member::Promoter => index > 0,
        Member::Approvers => m.approval_required() && runs(Workflow::Release) && index + 2 == count,
        _ => workflow_of(member).is_none_or(runs),
    }
}

/// The workflow whose trigger decides where a workflow identity acts: the first that runs as it
/// (a release's review runs wherever the release does); `None` for every other member.
pub fn workflow_of(member: Member) -> Option<Workflow> {
    Workflow::ALL.into_iter().find(|w| member == Member::Sa(w.identity()))
}

/// The service agents some grant names, each once, in a stable order.
pub fn agents(grants: &[Grant]) -> Vec<Agent> {
    let mut all: Vec<Agent> = grants
        .iter()
        .filter_map(|g| match g.member {
            Member::Agent(a) => Some(a),
            _ => None,
        })
        .collect();
    all.sort();
    all.dedup();
    all
}

impl Member {
    /// Short name (Terraform resource names).
    pub fn as_str(self) -> &'static str {
        match self {
            Member::Sa(r) => r.as_str(),
            Member::Agent(a) => a.as_str(),
            Member::Promoter => "promoter",
            Member::Checker => "checker",
            Member::Approvers => "approvers",
        }
    }
}

/// What a role is granted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The whole project (only where no narrower scope exists).
    Project,
    /// One bucket (by key).
    Bucket(String),
    /// The Docker repository.
    DockerRepo,
    /// The KFP template repository.
    KfpRepo,
    /// Another service account (actAs).
    ServiceAccount(SaRole),
    /// A Secret Manager secret (by id).
    Secret(String),
    /// A BigQuery dataset of the environment's project (by dataset id).
    BigQueryDataset(String),
    /// A BigQuery dataset of another project (external data a dataset's `bq://project.dataset.table`
    /// names): the binding is made on that dataset, in that project.
    ExternalDataset {
        /// Its project.
        project: String,
        /// Its dataset id.
        dataset: String,
    },
    /// The BigQuery dataset an endpoint logs its requests and responses to (by endpoint key).
    RequestLog(String),
    /// The Composer environment's bucket.
    ComposerBucket,
    /// A Cloud Function (by key).
    Function(String),
    /// A Cloud Run service (by key).
    CloudRunService(String),
    /// The environment's Terraform state bucket (created by `bootstrap.sh`, `var.state_bucket`).
    StateBucket,
    /// The Cloud Build GitHub connection (`google_cloudbuildv2_connection.github`; its
    /// repositories inherit its IAM policy).
    Connection,
    /// The reviewed plans in the state bucket: objects under `plans/` (an IAM condition on the
    /// object name; the state bucket has uniform bucket-level access).
    StatePlans,
    /// The buckets Cloud Functions keeps its copies of function sources in (`gcf-v2-sources-*`):
    /// created by the service on the first deploy, so the role is granted on the project with an
    /// IAM condition on their names.
    FunctionSources,
    /// A Pub/Sub topic this Terraform creates (by topic id).
    Topic(String),
}

/// One IAM binding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// Who.
    pub member: Member,
    /// Where.
    pub scope: Scope,
    /// Role, e.g. `roles/storage.objectViewer`.
    pub role: &'static str,
    /// Why: the spec entries that need it, one reason each (a comment line each in `iam.tf`).
    pub reasons: Vec<String>,
}

/// A project-level custom role mlopsgen creates where no predefined role is narrow enough.
#[derive(Debug, Clone, Copy)]
pub struct CustomRole {
    /// What grants name as the role (the Terraform resource's name; not `roles/…`).
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Its permissions.
    pub permissions: &'static [&'static str],
}

/// Calling an endpoint's predict method: `roles/aiplatform.user` has 446 permissions, and the
/// provider has no endpoint-level IAM resource, so callers get a project role with just these.
/// `endpoints.get` too: the Vertex AI SDK's `Endpoint(name).predict()` reads the endpoint first
/// (`Endpoint.dedicated_endpoint_enabled` fetches the resource; google-cloud-aiplatform
/// `models.py`), so without it every caller using the SDK gets 403. Not `endpoints.explain`:
/// calling `explain` is not what a service's `endpoint:` says.
pub const ENDPOINT_PREDICTOR: CustomRole = CustomRole {
    id: "endpoint_predictor",
    title: "Vertex AI endpoint predictor",
    permissions: &["aiplatform.endpoints.get", "aiplatform.endpoints.predict"],
};

/// Deleting the Vertex AI schedules a deploy made that its environment no longer has, where the
/// deploy schedules nothing itself: `roles/aiplatform.user` (446 permissions) would be granted
/// for two.
pub const SCHEDULE_PRUNER: CustomRole = CustomRole {
    id: "schedule_pruner",
    title: "Vertex AI schedule pruner",
    permissions: &["aiplatform.schedules.delete", "aiplatform.schedules.list"],
};

/// What `gcloud functions deploy` needs above the function: looking the function up before
/// Terraform has created it (the API answers 403, not 404, to a caller without
/// `functions.get` on a parent, whether or not the resource exists: <https://google.aip.dev/211>)
/// and following the deploy's long-running operation, a `projects/*/locations/*/operations/*`
/// resource outside the function (gcloud's v2 deploy waits with `operations.get`), after reading
/// the project's number (`projects.get`: gcloud 578 `command_lib/functions/v2/deploy/command.py`
/// checks the default build service account through `project_util.GetProjectNumber`, and a 403
/// there fails the deploy). `roles/cloudfunctions.viewer` would add 115 more and not that one.
pub const FUNCTION_DEPLOYER: CustomRole = CustomRole {
    id: "function_deployer",
    title: "Cloud Functions deploy lookups",
    permissions: &["cloudfunctions.functions.get", "cloudfunctions.operations.get", "resourcemanager.projects.get"],
};

/// Every custom role (Terraform creates those a grant uses).
///
/// A role no grant uses any more is deleted, and a deleted custom role can be undeleted for 7
/// days only (<https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/delete>; the
/// google provider undeletes it when it is declared again within them); after that its id stays
/// taken for up to 30 days more, and an apply that declares it again fails until then.
pub const CUSTOM_ROLES: &[CustomRole] = &[ENDPOINT_PREDICTOR, SCHEDULE_PRUNER, FUNCTION_DEPLOYER];

/// Whether a grant's role is one of [`CUSTOM_ROLES`].
pub fn custom_role(role: &str) -> Option<&'static CustomRole> {
    CUSTOM_ROLES.iter().find(|c| c.id == role)
}

/// Read-write object access without bucket or IAM administration.
const OBJECT_USER: &str = "roles/storage.objectUser";
const OBJECT_VIEWER: &str = "roles/storage.objectViewer";
const AIPLATFORM_USER: &str = "roles/aiplatform.user";
const ACT_AS: &str = "roles/iam.serviceAccountUser";
/// Minting access tokens for a service account (impersonation).
const SECRET_ACCESSOR: &str = "roles/secretmanager.secretAccessor";
const TOKEN_CREATOR: &str = "roles/iam.serviceAccountTokenCreator";
/// Approves and rejects pending builds (<https://cloud.google.com/build/docs/iam-roles-permissions>).
const APPROVER: &str = "roles/cloudbuild.builds.approver";
/// Lists and reads the project's builds (`cloudbuild.builds.list`, `cloudbuild.builds.get`).
const BUILDS_VIEWER: &str = "roles/cloudbuild.builds.viewer";
/// Creates objects, and cannot overwrite or delete them (no `storage.objects.delete`).
const OBJECT_CREATOR: &str = "roles/storage.objectCreator";
const AR_READER: &str = "roles/artifactregistry.reader";
const AR_WRITER: &str = "roles/artifactregistry.writer";
const DATA_EDITOR: &str = "roles/bigquery.dataEditor";

/// Collects grants, merging the reasons of identical bindings.
#[derive(Default)]
struct Grants(BTreeMap<(Member, Scope, &'static str), IndexSet<String>>);

impl Grants {
    fn add(&mut self, member: impl Into<Member>, scope: Scope, role: &'static str, reason: impl Into<String>) {
        self.0.entry((member.into(), scope, role)).or_default().insert(reason.into());
    }

    /// Drops a role another grant to the same member on the same resource includes (objectViewer
    /// beside objectUser, …), keeping its reasons on the broader one.
    fn into_vec(mut self) -> Vec<Grant> {
        const SUBSUMED: [(&str, &str); 3] =
            [(OBJECT_VIEWER, OBJECT_USER), (AR_READER, AR_WRITER), ("roles/bigquery.dataViewer", DATA_EDITOR)];
        let keys: Vec<(Member, Scope, &'static str)> = self.0.keys().cloned().collect();
        for (member, scope, role) in keys {
            let Some(&(_, broader)) = SUBSUMED.iter().find(|(narrow, _)| *narrow == role) else { continue };
            if self.0.contains_key(&(member, scope.clone(), broader)) {
                let reasons = self.0.remove(&(member, scope.clone(), role)).unwrap_or_default();
                self.0.entry((member, scope, broader)).or_default().extend(reasons);
            }
        }
        self.0
            .into_iter()
            .map(|((member, scope, role), reasons)| Grant { member, scope, role, reasons: Vec::from_iter(reasons) })
            .collect()
    }
}

impl From<SaRole> for Member {
    fn from(r: SaRole) -> Member {
        Member::Sa(r)
    }
}

impl DataSource {
    /// The BigQuery dataset holding a BigQuery source's table, where grants on it go: in the
    /// environment's project, or in the other project it names. `None` for Cloud Storage.
    pub fn table_scope(&self) -> Option<Scope> {
        match self {
            DataSource::BigQuery { project: None, dataset, .. } => Some(Scope::BigQueryDataset(dataset.clone())),
            DataSource::BigQuery { project: Some(project), dataset, .. } => {
                Some(Scope::ExternalDataset { project: project.clone(), dataset: dataset.clone() })
            }
            DataSource::Gcs { .. } => None,
        }
    }
}

/// Read access to a dataset: the BigQuery dataset (wherever it is; the query jobs run in the
/// environment's project) or the bucket holding it.
fn read_dataset(g: &mut Grants, m: &Model, who: SaRole, dataset: &str, reason: &str) {
    let source = m.dataset(dataset).map(|d| &d.source);
    match source {
        Some(bq @ DataSource::BigQuery { .. }) => {
            if let Some(scope) = bq.table_scope() {
                g.add(who, scope, "roles/bigquery.dataViewer", reason);
            }
            g.add(who, Scope::Project, "roles/bigquery.jobUser", format!("{reason} (BigQuery jobs have no narrower scope)"));
        }
        Some(DataSource::Gcs { bucket, .. }) => g.add(who, Scope::Bucket(bucket.clone()), OBJECT_VIEWER, reason),
        None => {}
    }
}

/// Waiting for a dataset (see `actions::Actions::wait_for_dataset`): a BigQuery table's metadata
/// only, so the waiting identity reads no rows and runs no jobs.
fn wait_for_dataset(g: &mut Grants, m: &Model, who: SaRole, dataset: &str, reason: &str) {
    match m.dataset(dataset).map(|d| &d.source) {
        Some(bq @ DataSource::BigQuery { .. }) => {
            if let Some(scope) = bq.table_scope() {
                g.add(who, scope, "roles/bigquery.metadataViewer", reason);
            }
        }
        _ => read_dataset(g, m, who, dataset, reason),
    }
}

/// Derives the grants the model's declared usage needs, sorted and deduplicated.
pub fn derive(m: &Model) -> Vec<Grant> {
    derive_all(&[m])
}

/// The grants every one of `models` needs, merged: the one Terraform module binds the same roles
/// in every environment, so an environment whose overrides need a grant ([`Model::env_views`])
/// gets it everywhere, and one that needs fewer keeps the others (Terraform has no
/// per-environment IAM yet).
pub fn derive_all(models: &[&Model]) -> Vec<Grant> {
    let mut g = Grants::default();
    for m in models {
        collect(&mut g, m);
    }
    for m in models {
        terraform(&mut g, m);
    }
    g.into_vec()
}

fn collect(g: &mut Grants, m: &Model) {
    declared(g, m);
    pipelines(g, m);
    serving(g, m);
    ci(g, m);
    composer(g, m);
    drift(g, m);
    functions(g, m);
    notifications(g, m);
    for (s, r) in m.secrets.iter().filter_map(|s| Some((s, s.rotation.as_ref()?))) {
        g.add(Member::Agent(Agent::SecretManager), Scope::Topic(r.topic.clone()), "roles/pubsub.publisher", rotation_reason(&s.id, &r.topic));
    }
}

/// Why the Secret Manager agent publishes to a rotation topic: Secret Manager sends the
/// notifications as its service agent, which needs `pubsub.topics.publish` on each topic of a
/// secret (https://cloud.google.com/secret-manager/docs/secret-rotation,
/// https://cloud.google.com/secret-manager/docs/event-notifications).
pub fn rotation_reason(secret: &str, topic: &str) -> String {
    format!("secrets.{secret}.rotation: Secret Manager publishes rotation notifications to topic `{topic}`")
}

/// `pubsub:` notification channels: Cloud Monitoring publishes alerts to the topic as its
/// notification agent, which needs `roles/pubsub.publisher` on it
/// (https://cloud.google.com/monitoring/support/notification-options#pubsub).
fn notifications(g: &mut Grants, m: &Model) {
    for c in m.monitoring.channels.iter().filter(|c| c.kind == "pubsub") {
        let why = format!("monitoring.notify: Cloud Monitoring publishes alerts to topic `{}`", c.address);
        g.add(Member::Agent(Agent::MonitoringNotification), Scope::Topic(c.address.clone()), "roles/pubsub.publisher", why);
    }
}

/// The narrowest predefined (or custom) role for an action of declared access
/// ([`actions::declared`]), granted on the action's own resource.
fn declared_role(act: Act) -> Option<&'static str> {
    Some(match act {
        Act::ReadObjects => OBJECT_VIEWER,
        Act::WriteObjects => OBJECT_USER,
        Act::ReadTables => "roles/bigquery.dataViewer",
        Act::WriteTables => DATA_EDITOR,
        Act::RunQueryJobs => "roles/bigquery.jobUser",
        Act::Predict => ENDPOINT_PREDICTOR.id,
        Act::AccessSecret => "roles/secretmanager.secretAccessor",
        _ => return None,
    })
}

/// Grants for what steps, services and functions declare they read and write: one per action of
/// [`actions::declared`], so these grants and the proof's actions come from one walk.
fn declared(g: &mut Grants, m: &Model) {
    for a in actions::declared(m) {
        let Some(role) = declared_role(a.act) else { continue };
        let why = match a.act {
            Act::RunQueryJobs => format!("{} (BigQuery jobs have no narrower scope)", a.why),
            Act::Predict => format!("{} (the provider has no endpoint-level IAM)", a.why),
            _ => a.why,
        };
        g.add(a.member, a.scope, role, why);
    }
}

fn pipelines(g: &mut Grants, m: &Model) {
    use SaRole::{Pipelines, Serving, Training};
    let root = Scope::Bucket(m.pipeline_root_bucket.clone());
    for p in &m.pipelines {
        let pk = &p.key;
        let runs = format!("pipeline `{pk}` runs on Vertex AI Pipelines as the pipelines SA");
        g.add(Pipelines, Scope::Project, AIPLATFORM_USER, format!("{runs} (Vertex AI jobs have no narrower scope)"));
        g.add(Pipelines, root.clone(), OBJECT_USER, format!("{runs} and keeps its artifacts under the pipeline root"));
        g.add(Pipelines, root.clone(), "roles/storage.legacyBucketReader", format!("{runs}: Vertex AI checks the pipeline-root bucket"));
        for step in &p.steps {
            let sk = &step.name;
            let at = format!("pipeline `{pk}` step `{sk}`");
            match &step.kind {
                // Beyond the pipeline root, only the image when it is one of the spec's.
                StepKind::Component { image, .. } => {
                    if let Some(image) = image {
                        g.add(Pipelines, Scope::DockerRepo, AR_READER, format!("{at} runs image `{image}`"));
                    }
                }
                StepKind::Container { container, .. } => {
                    g.add(Pipelines, Scope::DockerRepo, AR_READER, format!("{at} runs image `{}`", container.image));
                    for d in step_datasets(m, p, step) {
                        read_dataset(g, m, Pipelines, d, &format!("{at} reads dataset `{d}`"));
                    }
                }
                StepKind::CustomTraining { container, .. } | StepKind::HyperparameterTuning { container, .. } => {
                    let job = format!("{at} runs as the training SA");
                    g.add(Pipelines, Scope::ServiceAccount(Training), ACT_AS, job.clone());
                    g.add(Training, Scope::DockerRepo, AR_READER, format!("{at} runs image `{}`", container.image));
                    g.add(Training, root.clone(), OBJECT_USER, format!("{job} and reads and writes pipeline artifacts"));
                    if m.tensorboard && matches!(step.kind, StepKind::CustomTraining { .. }) {
                        g.add(Training, Scope::Project, AIPLATFORM_USER, format!("{job} and logs to the TensorBoard (experiments.tensorboard)"));
                    }
                    for d in step_datasets(m, p, step) {
                        read_dataset(g, m, Training, d, &format!("{at} reads dataset `{d}`"));
                    }
                }
                StepKind::EndpointDeploy { endpoint, .. } => {
                    let why = format!("{at} deploys to endpoint `{endpoint}`, whose models run as the serving SA");
                    g.add(Pipelines, Scope::ServiceAccount(Serving), ACT_AS, why);
                }
                StepKind::BatchPrediction { dataset, destination, .. } => {
                    // A job without its own account runs as the Vertex AI service agent, which
                    // Google grants project-wide storage and BigQuery access itself.
                    if let Member::Sa(job) = super::actions::batch_prediction_identity() {
                        let runs = format!("{at} runs its batch prediction job as the {} SA", job.as_str());
                        g.add(Pipelines, Scope::ServiceAccount(job), ACT_AS, runs.clone());
                        read_dataset(g, m, job, dataset, &format!("{runs} and scores dataset `{dataset}`"));
                        match destination {
                            super::Destination::Bucket(bucket) => {
                                g.add(job, Scope::Bucket(bucket.clone()), OBJECT_USER, format!("{runs} and writes predictions to bucket `{bucket}`"));
                            }
                            super::Destination::BigQueryDataset(ds) => {
                                let why = format!("{runs} and writes prediction tables into BigQuery dataset `{ds}`");
                                g.add(job, Scope::BigQueryDataset(ds.clone()), DATA_EDITOR, why);
                            }
                            // `bq://project`: the job creates a dataset of its own, so the grant
                            // can't be narrower than the project.
                            super::Destination::BigQueryProject => {
                                g.add(job, Scope::Project, DATA_EDITOR, format!("{runs} and creates a BigQuery dataset of prediction tables"));
                            }
                        }
                    }
                }
                StepKind::DataValidation { dataset } => {
                    g.add(Pipelines, Scope::DockerRepo, AR_READER, format!("{at} runs image `{}`", super::naming::VALIDATOR_IMAGE));
                    read_dataset(g, m, Pipelines, dataset, &format!("{at} validates dataset `{dataset}`"));
                }
                // The registry and endpoint calls are covered by the project-wide Vertex AI User role above.
                StepKind::ModelUpload { .. } | StepKind::ModelPromote { .. } => {}
            }
        }
    }
}

fn serving(g: &mut Grants, m: &Model) {
    for e in &m.endpoints {
        if !m.pipelines.is_empty() {
            let why = format!("endpoint `{}` serves models whose artifacts live under the pipeline root", e.key);
            g.add(SaRole::Serving, Scope::Bucket(m.pipeline_root_bucket.clone()), OBJECT_VIEWER, why);
        }
    }
    for s in &m.services {
        if let Some(e) = &s.endpoint {
            let why = format!("service `{}` calls endpoint `{e}` (the provider has no endpoint-level IAM)", s.key);
            g.add(SaRole::Serving, Scope::Project, ENDPOINT_PREDICTOR.id, why);
        }
    }
}

fn ci(g: &mut Grants, m: &Model) {
    use SaRole::Ci;
    let Some(ci) = &m.ci else { return };
    let workflows = delivery::workflows(m);
    // Each workflow's builds run as its identity (`delivery::Workflow::identity`) and log to Cloud
    // Logging only (CLOUD_LOGGING_ONLY); log writing has no narrower scope than the project.
    for w in &workflows {
        let who = match w {
            Workflow::Checks => "checks (pull requests)",
            Workflow::Deploy => "CI (CD)",
            Workflow::Release | Workflow::Review => "promotion (releases)",
        };
        let why = format!("ci: builds run as the {who} SA and log to Cloud Logging only (no narrower scope)");
        g.add(w.identity(), Scope::Project, "roles/logging.logWriter", why);
        if w.takes_turns() {
            g.add(w.identity(), Scope::Project, BUILDS_VIEWER, format!("{} (builds have no narrower scope)", actions::TAKES_TURN));
        }
    }
    if !m.images.is_empty() {
        let pull = "ci.mlopsgen_image: the PR check pulls the pinned mlopsgen image from the Docker repository";
        g.add(SaRole::Checks, Scope::DockerRepo, AR_READER, pull);
    }
    let base = "ci: the PR build fetches the base branch for the semantic diff with a read token of the connection's repository";
    g.add(SaRole::Checks, Scope::Connection, "roles/cloudbuild.readTokenAccessor", base);
    let releases = workflows.contains(&Workflow::Release);
    if releases {
        for image in &m.images {
            let why = format!("ci: a release pulls image `{}` from this environment to copy it by digest to the next", image.key);
            g.add(SaRole::Promote, Scope::DockerRepo, AR_READER, why);
        }
    }
    let token = format!("ci.github.oauth_token_secret: the Cloud Build connection reads secret `{}`", ci.oauth_token_secret);
    g.add(Member::Agent(Agent::CloudBuild), Scope::Secret(ci.oauth_token_secret.clone()), "roles/secretmanager.secretAccessor", token);
    if m.approval_required() && !ci.approvers.is_empty() {
        let why = "ci.approvers: approve the release into the last environment, whose build waits for approval in this project (builds have no narrower scope)";
        g.add(Member::Approvers, Scope::Project, APPROVER, why);
    }
    deploys(g, m, Ci.into(), "ci: CD");
    if releases {
        deploys(g, m, Member::Promoter, "ci: a release from the previous environment");
    }
    if let Some(p) = &ci.run_pipeline {
        let why = format!("ci.run_pipeline: CD starts pipeline `{p}` as the pipelines SA");
        g.add(Ci, Scope::Project, AIPLATFORM_USER, format!("{why} (Vertex AI jobs have no narrower scope)"));
        g.add(Ci, Scope::ServiceAccount(SaRole::Pipelines), ACT_AS, why.clone());
        let check = format!("{why}: the Vertex AI SDK checks the pipeline-root bucket before submitting");
        g.add(Ci, Scope::Bucket(m.pipeline_root_bucket.clone()), "roles/storage.legacyBucketReader", check);
    }
}

/// What a build needs to put a commit into an environment (CD into the first one, a release into
/// the next): one arm per [`Deliverable`] (the twin of `actions::deploys`).
fn deploys(g: &mut Grants, m: &Model, who: Member, by: &str) {
    let delivered = delivery::deliverables(m);
    let schedules = delivered.iter().any(|d| matches!(d, Deliverable::Schedule(_)));
    for d in delivered {
        match d {
            Deliverable::Image(image) => g.add(who, Scope::DockerRepo, AR_WRITER, format!("{by} pushes image `{}`", image.key)),
            // Impersonating the apply SA is granted with the rest of `ci.terraform` (`terraform`).
            Deliverable::Terraform => {}
            Deliverable::Template(p) => g.add(who, Scope::KfpRepo, AR_WRITER, format!("{by} uploads the template of pipeline `{}`", p.key)),
            Deliverable::Dags => g.add(who, Scope::ComposerBucket, OBJECT_USER, format!("{by} syncs the DAGs into the Composer bucket")),
            Deliverable::Schedule(p) => {
                let why = format!("{by} creates or updates the Vertex AI schedule of pipeline `{}`", p.key);
                g.add(who, Scope::Project, AIPLATFORM_USER, format!("{why} (the scheduler API has no narrower scope)"));
                g.add(who, Scope::ServiceAccount(SaRole::Pipelines), ACT_AS, format!("{why}, whose runs run as the pipelines SA"));
            }
            Deliverable::StaleSchedules => {
                let why = format!("{by} deletes the Vertex AI schedules mlopsgen made that this environment no longer has");
                // Where the deploy also schedules, the role it schedules with covers this.
                let (role, scope) = if schedules {
                    (AIPLATFORM_USER, "the scheduler API has no narrower scope")
                } else {
                    (SCHEDULE_PRUNER.id, "schedules have no narrower scope")
                };
                g.add(who, Scope::Project, role, format!("{why} ({scope})"));
            }
            Deliverable::Service(s) => {
                let why = format!("{by} rolls service `{}` onto the new `{}` image", s.key, s.image);
                g.add(who, Scope::CloudRunService(s.key.clone()), "roles/run.developer", why.clone());
                g.add(who, Scope::ServiceAccount(SaRole::Serving), ACT_AS, why);
            }
            Deliverable::Function(f) => {
                let why = format!("{by} uploads the source of function `{}` and redeploys it", f.key);
                g.add(who, Scope::Bucket(m.pipeline_root_bucket.clone()), OBJECT_USER, why.clone());
                g.add(who, Scope::Function(f.key.clone()), "roles/cloudfunctions.developer", why.clone());
                g.add(who, Scope::Project, FUNCTION_DEPLOYER.id, format!("{why} (it looks the function up before it exists, and waits on the deploy's operation)"));
                g.add(who, Scope::ServiceAccount(SaRole::Functions), ACT_AS, why);
            }
        }
    }
}

/// `ci.terraform`: the plan and apply SAs' roles (see [`super::terraform_access`]) and who may
/// impersonate them: the first environment's PR builds the plan SA, CD (first environment) and the
/// release from the previous environment the apply SA.
fn terraform(g: &mut Grants, m: &Model) {
    use super::terraform_access::{applies, areas, plans, reviews, runs_as, secrets_read};
    if plans(m) {
        let why = "ci.terraform.plan: PR builds plan this environment as its plan SA";
        g.add(Member::Checker, Scope::ServiceAccount(SaRole::Plan), TOKEN_CREATOR, why);
        g.add(SaRole::Plan, Scope::StateBucket, OBJECT_VIEWER, "ci.terraform.plan: terraform plan reads the state (-lock=false)");
        for a in areas(m) {
            g.add(SaRole::Plan, Scope::Project, a.read_role, format!("ci.terraform.plan: terraform plan refreshes the {} resources", a.name));
        }
        for id in secrets_read(m) {
            g.add(SaRole::Plan, Scope::Secret(id.to_owned()), SECRET_ACCESSOR, format!("ci.terraform.plan: terraform plan reads secret `{id}` (a notification channel's credential)"));
        }
    }
    if applies(m) {
        let why = |by: &str| format!("ci.terraform.apply: {by} applies this environment as its apply SA");
        g.add(SaRole::Ci, Scope::ServiceAccount(SaRole::Apply), TOKEN_CREATOR, why("CD"));
        if m.environments.len() > 1 {
            g.add(Member::Promoter, Scope::ServiceAccount(SaRole::Apply), TOKEN_CREATOR, why("a release from the previous environment"));
        }
        g.add(SaRole::Apply, Scope::StateBucket, OBJECT_USER, "ci.terraform.apply: terraform writes the state and its lock object");
        if reviews(m) {
            let why = "ci.terraform.apply: a review build from the previous environment plans this one as its plan SA";
            g.add(Member::Promoter, Scope::ServiceAccount(SaRole::Plan), TOKEN_CREATOR, why);
            let why = "ci.terraform.apply: a review build from the previous environment publishes this environment's plan under plans/ (create only)";
            g.add(Member::Promoter, Scope::StatePlans, OBJECT_CREATOR, why);
            let why = format!("{} (builds have no narrower scope)", actions::RELEASE_CHECKS_PLAN);
            g.add(SaRole::Promote, Scope::Project, BUILDS_VIEWER, why);
        }
        for a in areas(m) {
            g.add(SaRole::Apply, Scope::Project, a.manage_role, format!("ci.terraform.apply: terraform apply manages the {} resources", a.name));
        }
        for id in secrets_read(m) {
            g.add(SaRole::Apply, Scope::Secret(id.to_owned()), SECRET_ACCESSOR, format!("ci.terraform.apply: the apply build's plan reads secret `{id}` (a notification channel's credential)"));
        }
        for r in runs_as(m) {
            let why = format!("ci.terraform.apply: terraform creates resources that run as the {} SA", r.as_str());
            g.add(SaRole::Apply, Scope::ServiceAccount(r), ACT_AS, why);
        }
    }
}

fn composer(g: &mut Grants, m: &Model) {
    use SaRole::Composer;
    if m.composer.is_none() {
        return;
    }
    let env = "orchestration.composer: the environment runs as the Composer SA";
    g.add(Composer, Scope::Project, "roles/composer.worker", format!("{env} (Composer requires this project role)"));
    g.add(Member::Agent(Agent::Composer), Scope::ServiceAccount(Composer), "roles/composer.ServiceAgentV2Ext", env);
    for p in m.pipelines.iter().filter(|p| p.schedule.as_ref().is_some_and(|s| s.orchestrator == Orchestrator::Composer)) {
        let why = format!("pipeline `{}` schedule: its DAG starts runs as the pipelines SA", p.key);
        g.add(Composer, Scope::Project, AIPLATFORM_USER, format!("{why} (Vertex AI jobs have no narrower scope)"));
        g.add(Composer, Scope::ServiceAccount(SaRole::Pipelines), ACT_AS, why.clone());
        g.add(Composer, Scope::KfpRepo, AR_READER, format!("{why} from the template in the KFP repository"));
        if let Some(d) = p.schedule.as_ref().and_then(|s| s.wait_for.as_deref()) {
            wait_for_dataset(g, m, Composer, d, &format!("pipeline `{}` schedule waits for dataset `{d}`", p.key));
        }
    }
}

/// Drift detection: the drift DAG on Composer starts the drift job on Vertex AI as
/// [`Model::drift_runner`]; the job runs the validator image, reads the training dataset and the
/// endpoint's request log, and writes the PSI to a custom Cloud Monitoring metric.
fn drift(g: &mut Grants, m: &Model) {
    use SaRole::Composer;
    let Some(d) = &m.monitoring.drift else { return };
    let runner = m.drift_runner();
    let job = format!("monitoring.drift: the drift job runs as the {} SA", runner.as_str());
    let metric = format!("{job} and writes the drift metric (custom metrics have no narrower scope)");
    g.add(runner, Scope::Project, "roles/monitoring.metricWriter", metric);
    let log = format!("{job} and reads the request log of endpoint `{}`", d.endpoint);
    g.add(runner, Scope::RequestLog(d.endpoint.clone()), "roles/bigquery.dataViewer", log.clone());
    g.add(runner, Scope::Project, "roles/bigquery.jobUser", format!("{log} (BigQuery jobs have no narrower scope)"));
    read_dataset(g, m, runner, &d.dataset, &format!("{job} and compares dataset `{}`", d.dataset));
    g.add(runner, Scope::DockerRepo, AR_READER, format!("{job} and runs image `{}`", super::naming::VALIDATOR_IMAGE));
    let start = "monitoring.drift: the drift DAG starts the drift job on Vertex AI";
    g.add(Composer, Scope::Project, AIPLATFORM_USER, format!("{start} (Vertex AI jobs have no narrower scope)"));
    // The DAG names the account even when it is Composer's own, which then needs actAs on itself.
    g.add(Composer, Scope::ServiceAccount(runner), ACT_AS, format!("{start} as the {} SA", runner.as_str()));
}

fn functions(g: &mut Grants, m: &Model) {
    use SaRole::Functions;
    for f in &m.functions {
        let fk = &f.key;
        let build = format!("function `{fk}` is built by Cloud Build as the functions SA");
        g.add(Functions, Scope::Project, "roles/logging.logWriter", format!("{build} (build logs have no narrower scope)"));
        g.add(Functions, Scope::DockerRepo, AR_WRITER, format!("{build} and pushes its image"));
        g.add(Functions, Scope::Bucket(m.pipeline_root_bucket.clone()), OBJECT_VIEWER, format!("{build} from its source archive"));
        g.add(Functions, Scope::FunctionSources, OBJECT_VIEWER, format!("{build} from Cloud Functions' copy of that archive"));
        if let Some(b) = &f.trigger_bucket {
            let why = format!("function `{fk}` is triggered by new objects in bucket `{b}`");
            g.add(Functions, Scope::Project, "roles/eventarc.eventReceiver", format!("{why} (Eventarc has no narrower scope)"));
            g.add(Functions, Scope::Function(fk.clone()), "roles/run.invoker", format!("{why}; the trigger invokes it as the functions SA"));
            g.add(Functions, Scope::Bucket(b.clone()), OBJECT_VIEWER, format!("{why} and reads them"));
            g.add(Member::Agent(Agent::Storage), Scope::Project, "roles/pubsub.publisher", format!("{why}: Cloud Storage publishes the events (no narrower scope)"));
        }
        if let Some(p) = &f.starts_pipeline {
            let why = format!("function `{fk}` starts pipeline `{p}` as the pipelines SA");
            g.add(Functions, Scope::Project, AIPLATFORM_USER, format!("{why} (Vertex AI jobs have no narrower scope)"));
            g.add(Functions, Scope::ServiceAccount(SaRole::Pipelines), ACT_AS, why.clone());
            g.add(Functions, Scope::KfpRepo, AR_READER, format!("{why} from the template in the KFP repository"));
        }
    }
}
