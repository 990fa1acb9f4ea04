//! What each identity does at run time, derived from the model (not from the grants).
//!
//! Every pipeline step, schedule, service, function, build and drift job performs [`Act`]s on
//! resources; each [`Action`] names who performs it, on what ([`Scope`]) and which spec entry
//! causes it. `mlopsgen iam` (see [`crate::proof`]) checks these against [`super::iam::derive`]'s
//! grants with the permissions each act needs, so the two derivations check each other.
//!
//! Adding an identity: give it a [`Member`], derive its grants in `iam.rs` and its actions here
//! (one function, called from [`derive`]); a new kind of act also needs a row in the proof's
//! permission table.

use super::access::{Access, Kind};
use super::delivery::{self, Deliverable, Workflow};
use super::iam::{Agent, Member, Scope};
use super::{DataSource, Destination, InputSource, Model, Orchestrator, SaRole, Step, StepKind};

/// A kind of runtime operation; its permissions are in the proof's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Act {
    /// Submit a Vertex AI pipeline job and follow it.
    SubmitPipelineJob,
    /// Record a pipeline run's lineage in Vertex ML Metadata.
    RecordPipelineMetadata,
    /// Create a Vertex AI custom job and follow it.
    CreateCustomJob,
    /// Create a hyperparameter tuning job and follow it.
    CreateTuningJob,
    /// Create a custom training pipeline (the drift job) and follow it.
    CreateTrainingPipeline,
    /// Upload a model to the Model Registry.
    UploadModel,
    /// Deploy a model to an endpoint.
    DeployModel,
    /// Read an endpoint's deployed models and undeploy those left without traffic.
    RetireModels,
    /// Read an endpoint's traffic split (a canary deploy keeps the busiest model serving).
    ReadEndpoint,
    /// Find a registry model by display name and read its versions (upload parent, alias lookup).
    FindModel,
    /// Move a version alias and record the promoted version's metric as a label.
    MoveAlias,
    /// Create tables of a BigQuery dataset and write their rows (batch prediction output, declared writes).
    WriteTables,
    /// Create a batch prediction job and follow it.
    CreateBatchPredictionJob,
    /// Call an endpoint's predict method.
    Predict,
    /// Write TensorBoard runs of a training job.
    WriteTensorboard,
    /// Find the project's TensorBoard by display name (the training task's lookup).
    FindTensorboard,
    /// Read a finished hyperparameter tuning job's trials (the best-trial task).
    ReadTuningJob,
    /// Start a job that runs as another service account.
    ActAs,
    /// Read objects of a bucket.
    ReadObjects,
    /// Create, overwrite and delete objects of a bucket.
    WriteObjects,
    /// Read a bucket's metadata (Vertex AI checks the pipeline root).
    GetBucket,
    /// Read tables of a BigQuery dataset.
    ReadTables,
    /// Read the metadata of a BigQuery dataset's tables (whether one exists, when it changed).
    GetTableMetadata,
    /// Run BigQuery jobs (queries, reads) in the project.
    RunQueryJobs,
    /// Pull an image or template from an Artifact Registry repository.
    PullArtifacts,
    /// Push images or templates to an Artifact Registry repository.
    PushArtifacts,
    /// Write log entries.
    WriteLogs,
    /// Write custom metric points.
    WriteMetrics,
    /// Read a secret's value.
    AccessSecret,
    /// Receive Eventarc events.
    ReceiveEvents,
    /// Invoke a Cloud Run service (or a 2nd-gen function's service).
    Invoke,
    /// Publish Pub/Sub messages.
    Publish,
    /// Roll a Cloud Run service onto a new revision.
    UpdateService,
    /// Redeploy a Cloud Function.
    UpdateFunction,
    /// Look a Cloud Function up where it may not exist yet (before the apply that creates it).
    FindFunction,
    /// What `gcloud functions deploy` reads above the function: the project's number, and the
    /// deploy's long-running operation.
    FollowFunctionDeploy,
    /// Run a Composer environment's workers.
    RunComposer,
    /// Manage the IAM policy of a service account (Composer's workload identity bindings).
    ManageSaPolicy,
    /// Find a Vertex AI schedule by display name and create or update it.
    ManageSchedules,
    /// List the Vertex AI schedules of the environment's project and delete stale ones.
    DeleteSchedules,
    /// List the project's Cloud Build builds and read their step outputs.
    ReadBuilds,
    /// Mint access tokens for a service account (run Terraform as it).
    Impersonate,
    /// Create objects of a bucket without overwriting or deleting any.
    CreateObjects,
    /// Approve or reject builds waiting for approval (a person, not a build).
    ApproveBuilds,
    /// Get a read token for a connected repository (`git fetch` from GitHub).
    ReadRepository,
    /// Refresh the resources of one area of the Terraform module (`terraform plan`; see
    /// [`super::terraform_access`]).
    ReadInfra(&'static str),
    /// Create, change and delete them (`terraform apply`).
    ManageInfra(&'static str),
}

/// One runtime operation of one identity on one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Action {
    /// Who performs it.
    pub member: Member,
    /// What.
    pub act: Act,
    /// On what.
    pub scope: Scope,
    /// The spec entry that causes it.
    pub why: String,
}

#[derive(Default)]
struct Actions(Vec<Action>);

impl Actions {
    fn add(&mut self, member: impl Into<Member>, act: Act, scope: Scope, why: impl Into<String>) {
        self.0.push(Action { member: member.into(), act, scope, why: why.into() });
    }

    /// Reading a dataset: its BigQuery tables (with query jobs) or its bucket's objects.
    fn read_dataset(&mut self, m: &Model, who: impl Into<Member>, key: &str, why: &str) {
        let who = who.into();
        match m.dataset(key).map(|d| &d.source) {
            Some(bq @ DataSource::BigQuery { .. }) => {
                if let Some(scope) = bq.table_scope() {
                    self.add(who, Act::ReadTables, scope, why);
                }
                self.add(who, Act::RunQueryJobs, Scope::Project, why);
            }
            Some(DataSource::Gcs { bucket, .. }) => self.add(who, Act::ReadObjects, Scope::Bucket(bucket.clone()), why),
            None => {}
        }
    }

    /// Waiting for a dataset to change (a DAG's sensor): a BigQuery table's metadata
    /// (`tables.get`: `Table.modified`, no rows, no job), or its bucket's objects.
    fn wait_for_dataset(&mut self, m: &Model, who: impl Into<Member>, key: &str, why: &str) {
        match m.dataset(key).map(|d| &d.source) {
            Some(bq @ DataSource::BigQuery { .. }) => {
                if let Some(scope) = bq.table_scope() {
                    self.add(who, Act::GetTableMetadata, scope, why);
                }
            }
            _ => self.read_dataset(m, who, key, why),
        }
    }

    /// What an entry declares it reads and writes (`reads`, `writes`), done as `who`.
    fn declared(&mut self, m: &Model, who: impl Into<Member>, access: &Access, at: &str) {
        let who = who.into();
        for r in &access.reads {
            let why = format!("{at} reads {} `{}` (declared in `reads`)", r.kind.noun(), r.key);
            match r.kind {
                Kind::Bucket => self.add(who, Act::ReadObjects, Scope::Bucket(r.key.clone()), why),
                Kind::Dataset => self.read_dataset(m, who, &r.key, &why),
                Kind::Endpoint => self.add(who, Act::Predict, Scope::Project, format!("{at} calls endpoint `{}` (declared in `reads`)", r.key)),
                Kind::Secret => self.add(who, Act::AccessSecret, Scope::Secret(r.key.clone()), why),
            }
        }
        for (name, s) in &access.secret_env {
            let why = format!("{at} takes secret `{}` in env `{name}`", s.secret);
            self.add(who, Act::AccessSecret, Scope::Secret(s.secret.clone()), why);
        }
        for r in &access.writes {
            let why = format!("{at} writes {} `{}` (declared in `writes`)", r.kind.noun(), r.key);
            match (r.kind, m.dataset(&r.key).map(|d| &d.source)) {
                (Kind::Bucket, _) => self.add(who, Act::WriteObjects, Scope::Bucket(r.key.clone()), why),
                (Kind::Dataset, Some(bq @ DataSource::BigQuery { .. })) => {
                    if let Some(scope) = bq.table_scope() {
                        self.add(who, Act::WriteTables, scope, why.clone());
                    }
                    self.add(who, Act::RunQueryJobs, Scope::Project, why);
                }
                (Kind::Dataset, Some(DataSource::Gcs { bucket, .. })) => self.add(who, Act::WriteObjects, Scope::Bucket(bucket.clone()), why),
                // Validation rejects writing endpoints and secrets.
                _ => {}
            }
        }
    }

    /// Submitting a pipeline run: create the job, act as the pipelines SA, fetch the template.
    fn start_pipeline(&mut self, who: impl Into<Member>, why: &str) {
        let who = who.into();
        self.add(who, Act::SubmitPipelineJob, Scope::Project, why);
        self.add(who, Act::ActAs, Scope::ServiceAccount(SaRole::Pipelines), why);
        self.add(who, Act::PullArtifacts, Scope::KfpRepo, format!("{why} from its template"));
    }
}

/// The identity a batch prediction job runs as: the pipelines SA, which the Kubeflow target passes
/// as `ModelBatchPredictOp`'s `service_account` (BatchPredictionJob.serviceAccount; left empty,
/// the job would run as the Vertex AI service agent with Google's project-wide grants). Whoever
/// creates the job needs `iam.serviceAccounts.actAs` on that account
/// (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs#BatchPredictionJob),
/// here the pipelines SA on itself. The job reads its dataset and writes its destination bucket
/// as this account, so those grants go to it and nowhere else.
pub fn batch_prediction_identity() -> Member {
    Member::Sa(SaRole::Pipelines)
}

/// The actions of what container steps, services and functions declare they read and write
/// (`reads`, `writes`): [`super::iam`] grants exactly these, so the grants for declared access
/// come from the same walk the proof checks.
pub fn declared(m: &Model) -> Vec<Action> {
    let mut a = Actions::default();
    for p in &m.pipelines {
        for step in &p.steps {
            let Some((who, container)) = step.kind.user_container() else { continue };
            let at = format!("pipeline `{}` step `{}` (as the {} SA)", p.key, step.name, who.as_str());
            a.declared(m, who, &container.access, &at);
        }
    }
    for s in &m.services {
        a.declared(m, SaRole::Serving, &s.access, &format!("service `{}` (as the serving SA)", s.key));
    }
    for f in &m.functions {
        a.declared(m, SaRole::Functions, &f.access, &format!("function `{}` (as the functions SA)", f.key));
    }
    a.0
}

/// Every action the model's declared usage performs, sorted.
pub fn derive(m: &Model) -> Vec<Action> {
    let mut a = Actions(declared(m));
    pipelines(&mut a, m);
    serving(&mut a, m);
    schedules(&mut a, m);
    drift(&mut a, m);
    functions(&mut a, m);
    ci(&mut a, m);
    terraform(&mut a, m);
    for c in m.monitoring.channels.iter().filter(|c| c.kind == "pubsub") {
        let why = format!("monitoring.notify: Cloud Monitoring publishes alerts to topic `{}`", c.address);
        a.add(Member::Agent(Agent::MonitoringNotification), Act::Publish, Scope::Topic(c.address.clone()), why);
    }
    for (s, r) in m.secrets.iter().filter_map(|s| Some((s, s.rotation.as_ref()?))) {
        a.add(Member::Agent(Agent::SecretManager), Act::Publish, Scope::Topic(r.topic.clone()), super::iam::rotation_reason(&s.id, &r.topic));
    }
    a.0.sort();
    a.0.dedup();
    a.0
}

/// Datasets a step reads: those its args name literally and those a `data_validation` step it
/// takes an input from passed on.
pub fn step_datasets<'m>(m: &'m Model, pipeline: &'m super::Pipeline, step: &Step) -> Vec<&'m str> {
    let mut out = Vec::new();
    if let StepKind::Container { container, .. }
    | StepKind::CustomTraining { container, .. }
    | StepKind::HyperparameterTuning { container, .. } = &step.kind
    {
        let texts: Vec<&str> = container
            .args
            .iter()
            .flat_map(|a| &a.0)
            .filter_map(|p| if let super::ArgPart::Text(t) = p { Some(t.as_str()) } else { None })
            .collect();
        for d in &m.datasets {
            let uri = match &d.source {
                DataSource::BigQuery { project: None, dataset, table } => format!("bq://{dataset}.{table}"),
                DataSource::BigQuery { project: Some(project), dataset, table } => format!("bq://{project}.{dataset}.{table}"),
                DataSource::Gcs { bucket, path } => format!("gs://{bucket}/{path}"),
            };
            if texts.iter().any(|t| t.contains(&uri)) {
                out.push(d.key.as_str());
            }
        }
    }
    for input in &step.inputs {
        if let InputSource::Output { step: producer, .. } = &input.source {
            if let Some(StepKind::DataValidation { dataset }) = pipeline.step(producer).map(|s| &s.kind) {
                out.push(dataset.as_str());
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn pipelines(a: &mut Actions, m: &Model) {
    use SaRole::{Pipelines, Serving, Training};
    let root = Scope::Bucket(m.pipeline_root_bucket.clone());
    for p in &m.pipelines {
        let runs = format!("pipeline `{}` runs as the pipelines SA", p.key);
        a.add(Pipelines, Act::RecordPipelineMetadata, Scope::Project, runs.clone());
        a.add(Pipelines, Act::GetBucket, root.clone(), format!("{runs}: Vertex AI checks the pipeline root"));
        a.add(Pipelines, Act::ReadObjects, root.clone(), format!("{runs} and reads artifacts under the pipeline root"));
        a.add(Pipelines, Act::WriteObjects, root.clone(), format!("{runs} and writes artifacts under the pipeline root"));
        for step in &p.steps {
            let at = format!("pipeline `{}` step `{}`", p.key, step.name);
            let datasets = step_datasets(m, p, step);
            match &step.kind {
                // Runs as the pipelines SA, reading and writing artifacts under the pipeline root
                // (above). An `image` from `images` comes from the project's repository; else the
                // image is pulled as the component file names it (README "Custom components").
                StepKind::Component { image, .. } => {
                    if image.is_some() {
                        a.add(Pipelines, Act::PullArtifacts, Scope::DockerRepo, format!("{at} runs its image"));
                    }
                }
                StepKind::Container { .. } | StepKind::DataValidation { .. } => {
                    a.add(Pipelines, Act::PullArtifacts, Scope::DockerRepo, format!("{at} runs its image"));
                    for d in &datasets {
                        a.read_dataset(m, Pipelines, d, &format!("{at} reads dataset `{d}`"));
                    }
                    if let StepKind::DataValidation { dataset } = &step.kind {
                        a.read_dataset(m, Pipelines, dataset, &format!("{at} validates dataset `{dataset}`"));
                    }
                }
                StepKind::CustomTraining { .. } | StepKind::HyperparameterTuning { .. } => {
                    let job = if matches!(step.kind, StepKind::CustomTraining { .. }) { Act::CreateCustomJob } else { Act::CreateTuningJob };
                    a.add(Pipelines, job, Scope::Project, format!("{at} starts its job"));
                    a.add(Pipelines, Act::ActAs, Scope::ServiceAccount(Training), format!("{at} runs its job as the training SA"));
                    let as_training = format!("{at} (as the training SA)");
                    a.add(Training, Act::PullArtifacts, Scope::DockerRepo, format!("{as_training} runs its image"));
                    a.add(Training, Act::ReadObjects, root.clone(), format!("{as_training} reads its input artifacts"));
                    a.add(Training, Act::WriteObjects, root.clone(), format!("{as_training} writes its output artifacts"));
                    if m.tensorboard && matches!(step.kind, StepKind::CustomTraining { .. }) {
                        let logs = format!("{at}: the job uploads its TensorBoard logs");
                        a.add(Pipelines, Act::FindTensorboard, Scope::Project, format!("{at}: its tensorboard task looks up the TensorBoard"));
                        a.add(Training, Act::WriteTensorboard, Scope::Project, format!("{logs} (as the training SA) to the TensorBoard"));
                        a.add(Training, Act::WriteObjects, root.clone(), format!("{logs}, written under the run's base output directory"));
                    }
                    if matches!(step.kind, StepKind::HyperparameterTuning { .. }) && p.steps.iter().any(|s| s.reads_from(&step.name)) {
                        a.add(Pipelines, Act::ReadTuningJob, Scope::Project, format!("{at}: its best-trial task reads the job's trials"));
                    }
                    for d in &datasets {
                        a.read_dataset(m, Training, d, &format!("{as_training} reads dataset `{d}`"));
                    }
                }
                StepKind::ModelUpload { model, .. } => {
                    a.add(Pipelines, Act::FindModel, Scope::Project, format!("{at}: its parent task finds registry model `{model}` to add a version to"));
                    a.add(Pipelines, Act::UploadModel, Scope::Project, format!("{at} uploads its model"));
                }
                StepKind::ModelPromote { alias, .. } => {
                    a.add(Pipelines, Act::MoveAlias, Scope::Project, format!("{at} moves alias `{alias}` and records the metric"));
                    a.add(Pipelines, Act::WriteObjects, root.clone(), format!("{at} takes and releases its model's promotion lock (promotion-locks/)"));
                }
                StepKind::EndpointDeploy { endpoint, traffic_percent } => {
                    a.add(Pipelines, Act::DeployModel, Scope::Project, format!("{at} deploys to endpoint `{endpoint}`"));
                    if *traffic_percent < 100 {
                        let split = format!("{at}: its split task reads endpoint `{endpoint}`'s traffic split for the canary");
                        a.add(Pipelines, Act::ReadEndpoint, Scope::Project, split);
                    }
                    let retire = format!("{at}: its retire task undeploys the models left at 0 % on endpoint `{endpoint}`");
                    a.add(Pipelines, Act::RetireModels, Scope::Project, retire);
                    a.add(Pipelines, Act::ActAs, Scope::ServiceAccount(Serving), format!("{at}: the deployed model runs as the serving SA"));
                }
                StepKind::BatchPrediction { dataset, destination, registry, .. } => {
                    a.add(Pipelines, Act::CreateBatchPredictionJob, Scope::Project, format!("{at} starts its job"));
                    if let Some(r) = registry {
                        a.add(Pipelines, Act::FindModel, Scope::Project, format!("{at}: its lookup task finds `{}@{}`", r.model, r.alias));
                    }
                    let job = batch_prediction_identity();
                    if let Member::Sa(sa) = job {
                        a.add(Pipelines, Act::ActAs, Scope::ServiceAccount(sa), format!("{at} runs its job as the {} SA", sa.as_str()));
                    }
                    a.read_dataset(m, job, dataset, &format!("{at} (its job) scores dataset `{dataset}`"));
                    match destination {
                        Destination::Bucket(bucket) => {
                            let write = format!("{at} (its job) writes predictions to bucket `{bucket}`");
                            a.add(job, Act::WriteObjects, Scope::Bucket(bucket.clone()), write);
                        }
                        Destination::BigQueryDataset(ds) => {
                            let write = format!("{at} (its job) writes prediction tables into BigQuery dataset `{ds}`");
                            a.add(job, Act::WriteTables, Scope::BigQueryDataset(ds.clone()), write);
                        }
                        Destination::BigQueryProject => {
                            let write = format!("{at} (its job) creates a BigQuery dataset of prediction tables");
                            a.add(job, Act::WriteTables, Scope::Project, write);
                        }
                    }
                }
            }
        }
    }
}

fn serving(a: &mut Actions, m: &Model) {
    for e in &m.endpoints {
        if !m.pipelines.is_empty() {
            let why = format!("endpoint `{}` serves models whose artifacts the pipelines wrote under the pipeline root", e.key);
            a.add(SaRole::Serving, Act::ReadObjects, Scope::Bucket(m.pipeline_root_bucket.clone()), why);
        }
    }
    for s in &m.services {
        if let Some(e) = &s.endpoint {
            a.add(SaRole::Serving, Act::Predict, Scope::Project, format!("service `{}` calls endpoint `{e}`", s.key));
        }
    }
}

fn schedules(a: &mut Actions, m: &Model) {
    use SaRole::Composer;
    let Some(_) = &m.composer else { return };
    let env = "orchestration.composer: the environment runs as the Composer SA";
    a.add(Composer, Act::RunComposer, Scope::Project, env);
    a.add(Member::Agent(Agent::Composer), Act::ManageSaPolicy, Scope::ServiceAccount(Composer), env);
    for p in m.pipelines.iter().filter(|p| p.schedule.as_ref().is_some_and(|s| s.orchestrator == Orchestrator::Composer)) {
        a.start_pipeline(Composer, &format!("pipeline `{}` schedule: its DAG starts runs as the pipelines SA", p.key));
        if let Some(d) = p.schedule.as_ref().and_then(|s| s.wait_for.as_deref()) {
            a.wait_for_dataset(m, Composer, d, &format!("pipeline `{}` schedule waits for dataset `{d}`", p.key));
        }
    }
}

/// The drift DAG starts a custom training pipeline running the validator image as
/// [`Model::drift_runner`]; the job reads the dataset and the request log and writes a metric.
fn drift(a: &mut Actions, m: &Model) {
    let Some(d) = &m.monitoring.drift else { return };
    let runner = m.drift_runner();
    let start = "monitoring.drift: the drift DAG starts the drift job";
    a.add(SaRole::Composer, Act::CreateTrainingPipeline, Scope::Project, start);
    a.add(SaRole::Composer, Act::ActAs, Scope::ServiceAccount(runner), format!("{start} as the {} SA", runner.as_str()));
    let job = format!("monitoring.drift: the drift job (as the {} SA)", runner.as_str());
    a.add(runner, Act::PullArtifacts, Scope::DockerRepo, format!("{job} runs the validator image"));
    a.add(runner, Act::WriteMetrics, Scope::Project, format!("{job} writes the drift metric"));
    let log = format!("{job} reads the request log of endpoint `{}`", d.endpoint);
    a.add(runner, Act::ReadTables, Scope::RequestLog(d.endpoint.clone()), log.clone());
    a.add(runner, Act::RunQueryJobs, Scope::Project, log);
    a.read_dataset(m, runner, &d.dataset, &format!("{job} compares dataset `{}`", d.dataset));
}

fn functions(a: &mut Actions, m: &Model) {
    use SaRole::Functions;
    for f in &m.functions {
        let fk = &f.key;
        let build = format!("function `{fk}` is built by Cloud Build as the functions SA");
        a.add(Functions, Act::WriteLogs, Scope::Project, build.clone());
        a.add(Functions, Act::PushArtifacts, Scope::DockerRepo, format!("{build} and pushes its image"));
        a.add(Functions, Act::ReadObjects, Scope::Bucket(m.pipeline_root_bucket.clone()), format!("{build} from its source archive"));
        a.add(Functions, Act::ReadObjects, Scope::FunctionSources, format!("{build} from Cloud Functions' copy of that archive"));
        if let Some(b) = &f.trigger_bucket {
            let why = format!("function `{fk}` is triggered by new objects in bucket `{b}`");
            a.add(Functions, Act::ReceiveEvents, Scope::Project, why.clone());
            a.add(Functions, Act::Invoke, Scope::Function(fk.clone()), format!("{why}; the trigger invokes it as the functions SA"));
            a.add(Functions, Act::ReadObjects, Scope::Bucket(b.clone()), format!("{why} and reads them"));
            a.add(Member::Agent(Agent::Storage), Act::Publish, Scope::Project, format!("{why}: Cloud Storage publishes the events"));
        }
        if let Some(p) = &f.starts_pipeline {
            a.start_pipeline(Functions, &format!("function `{fk}` starts pipeline `{p}` as the pipelines SA"));
        }
    }
}

fn ci(a: &mut Actions, m: &Model) {
    use SaRole::Ci;
    let Some(ci) = &m.ci else { return };
    let workflows = delivery::workflows(m);
    for w in &workflows {
        let who = match w {
            Workflow::Checks => "pull-request checks run as the checks SA",
            Workflow::Deploy => "builds run as the CI SA",
            Workflow::Release | Workflow::Review => "releases run as the promote SA",
        };
        a.add(w.identity(), Act::WriteLogs, Scope::Project, format!("ci: {who} and log to Cloud Logging only"));
        if w.takes_turns() {
            a.add(w.identity(), Act::ReadBuilds, Scope::Project, TAKES_TURN);
        }
    }
    if !m.images.is_empty() {
        let pull = "ci.mlopsgen_image: the PR check pulls the pinned mlopsgen image from the Docker repository";
        a.add(SaRole::Checks, Act::PullArtifacts, Scope::DockerRepo, pull);
    }
    let base = "ci: the PR build fetches the base branch for the semantic diff with a read token of the connection's repository";
    a.add(SaRole::Checks, Act::ReadRepository, Scope::Connection, base);
    let releases = workflows.contains(&Workflow::Release);
    if releases {
        for image in &m.images {
            let why = format!("ci: a release pulls image `{}` from this environment to copy it by digest to the next", image.key);
            a.add(SaRole::Promote, Act::PullArtifacts, Scope::DockerRepo, why);
        }
    }
    let token = format!("ci.github.oauth_token_secret: the Cloud Build connection reads secret `{}`", ci.oauth_token_secret);
    a.add(Member::Agent(Agent::CloudBuild), Act::AccessSecret, Scope::Secret(ci.oauth_token_secret.clone()), token);
    if m.approval_required() && !ci.approvers.is_empty() {
        let why = "ci.approvers: approve the release into the last environment, whose build waits for approval in this project";
        a.add(Member::Approvers, Act::ApproveBuilds, Scope::Project, why);
    }
    deploys(a, m, Ci.into(), "ci: CD");
    if releases {
        deploys(a, m, Member::Promoter, "ci: a release from the previous environment");
    }
    if let Some(p) = &ci.run_pipeline {
        let why = format!("ci.run_pipeline: CD starts pipeline `{p}` as the pipelines SA");
        a.add(Ci, Act::SubmitPipelineJob, Scope::Project, why.clone());
        a.add(Ci, Act::ActAs, Scope::ServiceAccount(SaRole::Pipelines), why.clone());
        let check = format!("{why}: the Vertex AI SDK checks the pipeline-root bucket before submitting");
        a.add(Ci, Act::GetBucket, Scope::Bucket(m.pipeline_root_bucket.clone()), check);
    }
}

/// Why a deploy or a release reads its project's builds (`cloudbuild::turn`).
pub const TAKES_TURN: &str = "ci: a deploy or release waits for older builds of its workflow and stops if a newer one deploys (take-turn)";

/// Why a release reads its project's builds: the plan it applies must be the one its review build
/// recorded (`plan-fetch`), since identities other than the builds' can write under `plans/`.
pub const RELEASE_CHECKS_PLAN: &str =
    "ci.terraform.apply: a release checks that the plan it applies is the one its review build recorded";

/// `ci.terraform`: PR builds plan every environment as its plan SA; CD and releases apply as the
/// apply SA (see `cloudbuild::terraform`).
fn terraform(a: &mut Actions, m: &Model) {
    use super::terraform_access::{applies, areas, plans, reviews, runs_as, secrets_read};
    if plans(m) {
        let why = "ci.terraform.plan: the first environment's PR build runs terraform plan for this environment as its plan SA";
        a.add(Member::Checker, Act::Impersonate, Scope::ServiceAccount(SaRole::Plan), why);
        a.add(SaRole::Plan, Act::ReadObjects, Scope::StateBucket, "ci.terraform.plan: terraform plan reads the state (-lock=false)");
        for area in areas(m) {
            a.add(SaRole::Plan, Act::ReadInfra(area.name), Scope::Project, format!("ci.terraform.plan: terraform plan refreshes the {} resources", area.name));
        }
        for id in secrets_read(m) {
            a.add(SaRole::Plan, Act::AccessSecret, Scope::Secret(id.to_owned()), format!("ci.terraform.plan: terraform plan reads secret `{id}` (a notification channel's credential)"));
        }
    }
    if applies(m) {
        let why = |by: &str| format!("ci.terraform.apply: {by} runs terraform plan and apply for this environment as its apply SA");
        a.add(SaRole::Ci, Act::Impersonate, Scope::ServiceAccount(SaRole::Apply), why("CD"));
        if m.environments.len() > 1 {
            a.add(Member::Promoter, Act::Impersonate, Scope::ServiceAccount(SaRole::Apply), why("a release from the previous environment"));
        }
        a.add(SaRole::Apply, Act::WriteObjects, Scope::StateBucket, "ci.terraform.apply: terraform writes the state and takes the lock (a lock object)");
        if reviews(m) {
            let why = "ci.terraform.apply: a review build from the previous environment plans this one as its plan SA";
            a.add(Member::Promoter, Act::Impersonate, Scope::ServiceAccount(SaRole::Plan), why);
            let why = "ci.terraform.apply: a review build from the previous environment publishes this environment's plan under plans/";
            a.add(Member::Promoter, Act::CreateObjects, Scope::StatePlans, why);
            let why = "ci.terraform.apply: the release into this environment downloads the reviewed plan as the apply SA";
            a.add(SaRole::Apply, Act::ReadObjects, Scope::StatePlans, why);
            a.add(SaRole::Promote, Act::ReadBuilds, Scope::Project, RELEASE_CHECKS_PLAN);
        }
        for area in areas(m) {
            a.add(SaRole::Apply, Act::ReadInfra(area.name), Scope::Project, format!("ci.terraform.apply: the apply build's plan refreshes the {} resources", area.name));
            a.add(SaRole::Apply, Act::ManageInfra(area.name), Scope::Project, format!("ci.terraform.apply: terraform apply manages the {} resources", area.name));
        }
        for id in secrets_read(m) {
            a.add(SaRole::Apply, Act::AccessSecret, Scope::Secret(id.to_owned()), format!("ci.terraform.apply: the apply build's plan reads secret `{id}` (a notification channel's credential)"));
        }
        for r in runs_as(m) {
            let why = format!("ci.terraform.apply: terraform creates resources that run as the {} SA", r.as_str());
            a.add(SaRole::Apply, Act::ActAs, Scope::ServiceAccount(r), why);
        }
    }
}

/// What a build does to put a commit into an environment: one arm per [`Deliverable`] (the twin
/// of `iam::deploys`).
fn deploys(a: &mut Actions, m: &Model, who: Member, by: &str) {
    for d in delivery::deliverables(m) {
        match d {
            Deliverable::Image(image) => a.add(who, Act::PushArtifacts, Scope::DockerRepo, format!("{by} pushes image `{}`", image.key)),
            // Impersonating the apply SA is an act of `ci.terraform` (`terraform`).
            Deliverable::Terraform => {}
            Deliverable::Template(p) => {
                a.add(who, Act::PushArtifacts, Scope::KfpRepo, format!("{by} uploads the template of pipeline `{}`", p.key));
            }
            Deliverable::Dags => a.add(who, Act::WriteObjects, Scope::ComposerBucket, format!("{by} syncs the DAGs into the Composer bucket")),
            // A Vertex AI schedule creates each run from its `createPipelineJobRequest`, which names
            // the pipelines SA: whoever writes the schedule needs the scheduler API (docs:
            // roles/aiplatform.user, https://cloud.google.com/vertex-ai/docs/pipelines/schedule-pipeline-run),
            // the right to create the pipeline jobs it asks for, and actAs on the account they run as.
            Deliverable::Schedule(p) => {
                let why = format!("{by} creates or updates the Vertex AI schedule of pipeline `{}`", p.key);
                a.add(who, Act::ManageSchedules, Scope::Project, why.clone());
                a.add(who, Act::SubmitPipelineJob, Scope::Project, format!("{why}, whose runs it starts"));
                a.add(who, Act::ActAs, Scope::ServiceAccount(SaRole::Pipelines), format!("{why}, whose runs run as the pipelines SA"));
            }
            Deliverable::StaleSchedules => {
                let why = format!("{by} deletes the Vertex AI schedules mlopsgen made that this environment no longer has");
                a.add(who, Act::DeleteSchedules, Scope::Project, why);
            }
            Deliverable::Service(s) => {
                let why = format!("{by} rolls service `{}` onto the new `{}` image", s.key, s.image);
                a.add(who, Act::UpdateService, Scope::CloudRunService(s.key.clone()), why.clone());
                a.add(who, Act::ActAs, Scope::ServiceAccount(SaRole::Serving), format!("{why}, which runs as the serving SA"));
            }
            Deliverable::Function(f) => {
                let why = format!("{by} uploads the source of function `{}` and redeploys it", f.key);
                a.add(who, Act::WriteObjects, Scope::Bucket(m.pipeline_root_bucket.clone()), why.clone());
                a.add(who, Act::FindFunction, Scope::Project, why.clone());
                a.add(who, Act::UpdateFunction, Scope::Function(f.key.clone()), why.clone());
                a.add(who, Act::FollowFunctionDeploy, Scope::Project, why.clone());
                a.add(who, Act::ActAs, Scope::ServiceAccount(SaRole::Functions), format!("{why}, which runs as the functions SA"));
            }
        }
    }
}
