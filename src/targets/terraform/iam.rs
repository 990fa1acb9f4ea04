//! `iam.tf`: one service account per role and one binding per derived [`Grant`], each on the
//! narrowest resource Terraform can address, with the spec entries that need it as comments.
//! Bindings exist only in the environments that need them ([`condition`]): the CI SA's where
//! triggers run, the promoter's where a release comes from, a function's once it is created.

use super::syntax::{block, call, count_if, data, ident, iref, list, lit, op, r, resource, ri, s, tpl, var, BlockExt, Item, TfFile};
use super::{bucket, depends_on_apis, runtime, sa};
use crate::model::iam::{custom_role, outside, workflow_of, Agent, CustomRole, Grant, Member, Scope, CUSTOM_ROLES};
use crate::model::{Model, SaRole};
use hcl::expr::{BinaryOperator, Expression};
use hcl::structure::BlockBuilder;

/// Name prefix of the buckets Cloud Functions (2nd gen) copies function sources into.
const FUNCTION_SOURCES: &str = "gcf-v2-sources-";

/// `var.promoter_sa`: email of the previous environment's promotion SA, empty in the first.
pub const PROMOTER_VAR: &str = "promoter_sa";

/// `var.checks_sa`: email of the first environment's checks SA, whose PR builds plan every
/// environment (`ci.terraform.plan`).
pub const CHECKER_VAR: &str = "checks_sa";

/// `var.state_bucket`: the environment's state bucket (`bootstrap.sh` creates it).
pub const STATE_BUCKET_VAR: &str = "state_bucket";

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let env = m.default_env();
    for role in m.service_accounts.iter().filter(|r| !m.is_external(**r)) {
        f.push(
            resource("google_service_account", role.as_str())
                .attr("account_id", s(env.sa_id(*role)))
                .attr("display_name", s(format!("{} {}", m.project.name, role.as_str())))
                .attr("description", s(purpose(*role)))
                .attr("depends_on", depends_on_apis(m, &["iam.googleapis.com"])),
        );
    }
    if m.grants.iter().any(|g| g.member == Member::Agent(Agent::Storage)) {
        f.push(
            Item::from(data("google_storage_project_service_account", "this").attr("project", var("project_id")))
                .note("The Cloud Storage service agent, which publishes bucket events to Eventarc."),
        );
    }
    for c in CUSTOM_ROLES.iter().filter(|c| m.grants.iter().any(|g| g.role == c.id)) {
        f.push(
            Item::from(
                resource("google_project_iam_custom_role", c.id)
                    .attr("project", var("project_id"))
                    .attr("role_id", s(custom_role_id(m, c)))
                    .attr("title", s(c.title))
                    .attr("permissions", Expression::Array(c.permissions.iter().map(|p| s(*p)).collect()))
                    .attr("depends_on", depends_on_apis(m, &["iam.googleapis.com"])),
            )
            .note("No predefined role is this narrow (see `mlopsgen iam`)."),
        );
    }
    let created = super::storage::prediction_datasets(m);
    for g in m.grants.iter().filter(|g| !outside(m, g)) {
        let role = match custom_role(g.role) {
            Some(c) => r(&["google_project_iam_custom_role", c.id, "id"]),
            None => s(g.role),
        };
        let mut b = binding(m, g, &created).attr("role", role).attr("member", member(m, g.member));
        if g.scope == Scope::StatePlans {
            // `resource.name` of an object: `projects/_/buckets/BUCKET/objects/NAME`
            // (https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name).
            let prefix = tpl(vec![
                lit("resource.name.startsWith(\"projects/_/buckets/"),
                iref(var(STATE_BUCKET_VAR)),
                lit(format!("/objects/{}/\")", crate::model::paths::REVIEWED_PLANS)),
            ]);
            let condition = block("condition")
                .attr("title", s("reviewed-plans"))
                .attr("description", s("Only the reviewed Terraform plans"))
                .attr("expression", prefix)
                .build();
            b = b.add_block(condition);
        }
        if g.scope == Scope::FunctionSources {
            let condition = block("condition")
                .attr("title", s("function-source-buckets"))
                .attr("description", s("Cloud Functions' own source buckets"))
                .attr("expression", s(format!("resource.name.startsWith(\"projects/_/buckets/{FUNCTION_SOURCES}\")")))
                .build();
            b = b.add_block(condition);
        }
        // A binding waits for the API its scope lives in and, for a service agent, the API that
        // agent belongs to (bootstrap.sh creates the agent itself; see `bootstrap`).
        let mut apis: Vec<&str> = scope_api(&g.scope).into_iter().collect();
        if let Member::Agent(a) = g.member {
            apis.extend(a.api().filter(|api| !apis.contains(api)));
        }
        if !apis.is_empty() {
            b = b.attr("depends_on", depends_on_apis(m, &apis));
        } else if g.member == Member::Checker {
            // In the first environment `var.checks_sa` is the checks SA this module creates.
            b = b.attr("depends_on", super::syntax::list(vec![r(&["google_service_account", SaRole::Checks.as_str()])]));
        }
        if let Scope::BigQueryDataset(id) = &g.scope {
            if !created.contains(&id.as_str()) {
                b = b.add_block(super::storage::dataset_exists(id));
            }
        }
        let mut item = Item::from(b);
        if g.member == Member::Sa(SaRole::Apply) && g.role == "roles/iam.serviceAccountAdmin" {
            item = item.skip("CKV_GCP_49", "the apply SA runs Terraform, which creates and manages this project's service accounts");
        }
        if g.role == "roles/composer.worker" {
            item = item.skip("CKV_GCP_49", "Cloud Composer requires roles/composer.worker on the environment's own SA");
        }
        for reason in &g.reasons {
            item = item.note(reason);
        }
        f.push(item);
    }
    f
}

/// A custom role's id in the project (`<project>_<id>`: ids allow letters, digits, `_` and `.`).
fn custom_role_id(m: &Model, c: &CustomRole) -> String {
    format!("{}_{}", ident(&m.project.name), c.id)
}

/// What each identity does (its description).
fn purpose(role: SaRole) -> &'static str {
    match role {
        SaRole::Pipelines => "Runs Vertex AI pipelines and their container steps.",
        SaRole::Training => "Runs Vertex AI custom training and tuning jobs.",
        SaRole::Serving => "Serves predictions: Vertex AI endpoint models and Cloud Run services.",
        SaRole::Ci => "Runs Cloud Build CD: builds, pushes and deploys the main branch.",
        SaRole::Checks => "Runs Cloud Build pull-request checks: reads only, no push, deploy or actAs.",
        SaRole::Promote => "Runs Cloud Build releases: promotes this environment's images and artifacts to the next one.",
        SaRole::Composer => "Runs the Cloud Composer environment and its DAGs.",
        SaRole::Functions => "Builds and runs Cloud Functions and receives their events.",
        SaRole::Plan => "Plans this environment's Terraform in pull-request builds: reads resources, IAM policies and state only.",
        SaRole::Apply => "Applies this environment's Terraform from CD and releases: manages its resources and IAM.",
    }
}

fn agent_email(agent: Agent) -> Expression {
    let number = iref(r(&["data", "google_project", "this", "number"]));
    match agent {
        Agent::CloudBuild => {
            tpl(vec![lit("serviceAccount:service-"), number, lit("@gcp-sa-cloudbuild.iam.gserviceaccount.com")])
        }
        Agent::Composer => {
            tpl(vec![lit("serviceAccount:service-"), number, lit("@cloudcomposer-accounts.iam.gserviceaccount.com")])
        }
        Agent::Storage => r(&["data", "google_storage_project_service_account", "this", "member"]),
        Agent::Vertex => {
            tpl(vec![lit("serviceAccount:service-"), number, lit("@gcp-sa-aiplatform.iam.gserviceaccount.com")])
        }
        Agent::SecretManager => {
            tpl(vec![lit("serviceAccount:service-"), number, lit("@gcp-sa-secretmanager.iam.gserviceaccount.com")])
        }
        Agent::MonitoringNotification => tpl(vec![
            lit("serviceAccount:service-"),
            number,
            lit("@gcp-sa-monitoring-notification.iam.gserviceaccount.com"),
        ]),
    }
}

fn member(model: &Model, m: Member) -> Expression {
    match m {
        Member::Sa(role) => sa(model, role, "member"),
        Member::Agent(a) => agent_email(a),
        Member::Promoter => tpl(vec![lit("serviceAccount:"), iref(var(PROMOTER_VAR))]),
        Member::Checker => tpl(vec![lit("serviceAccount:"), iref(var(CHECKER_VAR))]),
        Member::Approvers => r(&["each", "value"]),
    }
}

/// What the owner of each external service account must grant on it, one line per binding
/// ([`outside`]) and, when the account lives in another project, per service agent that attaches
/// it to a resource here: attaching an account of another project needs the org policy
/// `iam.disableCrossProjectServiceAccountUsage` unenforced in the account's project and
/// `roles/iam.serviceAccountTokenCreator` on it for the service agents of the project whose
/// resources run as it (https://cloud.google.com/iam/docs/attach-service-accounts, "Configure
/// for a resource in a different project"). Empty without external accounts.
pub fn external_grants(m: &Model) -> Vec<Expression> {
    let line = |role: &str, on: SaRole, member: Expression| {
        super::syntax::object(vec![
            ("role".to_owned(), s(role)),
            ("service_account".to_owned(), sa(m, on, "email")),
            ("member".to_owned(), member),
        ])
    };
    let mut lines = Vec::new();
    for g in m.grants.iter().filter(|g| outside(m, g)) {
        if let Scope::ServiceAccount(on) = g.scope {
            lines.push(line(g.role, on, member(m, g.member)));
        }
    }
    for (role, agent) in external_agents(m) {
        lines.push(line("roles/iam.serviceAccountTokenCreator", role, agent_email(agent)));
    }
    lines
}

/// Whether [`external_grants`] names a service agent (by the project number).
pub fn names_agents_of_external(m: &Model) -> bool {
    !external_agents(m).is_empty()
}

/// Each external account of another project with the service agents that attach it here.
fn external_agents(m: &Model) -> Vec<(SaRole, Agent)> {
    let other_project = |email: &String| crate::model::naming::sa_project(email) != Some("{project}");
    m.external_sas
        .iter()
        .filter(|(role, email)| m.uses(**role) && other_project(email))
        .flat_map(|(role, _)| attaching_agents(*role).iter().map(|a| (*role, *a)))
        .collect()
}

/// The service agents that attach a role's account to the resources it runs: Vertex AI for
/// pipeline, training and endpoint jobs, Composer for its environment's nodes.
fn attaching_agents(role: SaRole) -> &'static [Agent] {
    match role {
        SaRole::Pipelines | SaRole::Training | SaRole::Serving => &[Agent::Vertex],
        SaRole::Composer => &[Agent::Composer],
        _ => &[],
    }
}

/// When a binding exists only in some environments, the condition (its `count`).
pub fn condition(g: &Grant) -> Option<Expression> {
    let mut all = Vec::new();
    // A workflow's identity is needed only where its trigger runs.
    match (g.member, workflow_of(g.member)) {
        (_, Some(workflow)) => all.push(super::cicd::runs(workflow)),
        (Member::Agent(Agent::CloudBuild), _) => all.push(super::cicd::has_triggers()),
        (Member::Promoter, _) => all.push(op(var(PROMOTER_VAR), BinaryOperator::NotEq, s(""))),
        _ => {}
    }
    if matches!(g.scope, Scope::Function(_)) {
        all.push(var(runtime::CREATE_FUNCTIONS));
    }
    all.into_iter().reduce(|a, b| op(a, BinaryOperator::And, b))
}

/// Terraform name of a binding: `<member>_<scope>_<role>`.
fn name(g: &Grant) -> String {
    let scope = match &g.scope {
        Scope::Project => String::new(),
        Scope::Bucket(k) => format!("{}_", ident(k)),
        Scope::DockerRepo => "docker_".into(),
        Scope::KfpRepo => "kfp_".into(),
        Scope::ServiceAccount(r) => format!("on_{}_", r.as_str()),
        Scope::Secret(id) => format!("secret_{}_", ident(id)),
        Scope::BigQueryDataset(d) => format!("bq_{}_", ident(d)),
        Scope::ExternalDataset { project, dataset } => format!("bq_{}_{}_", ident(project), ident(dataset)),
        Scope::RequestLog(k) => format!("{}_", super::vertex::request_log(k)),
        Scope::ComposerBucket => "composer_bucket_".into(),
        Scope::FunctionSources => "function_sources_".into(),
        Scope::Topic(t) => format!("{}_", super::monitoring::topic(t)),
        Scope::StateBucket => "state_".into(),
        Scope::StatePlans => "state_plans_".into(),
        Scope::Connection => "connection_".into(),
        Scope::Function(k) | Scope::CloudRunService(k) => format!("{}_", ident(k)),
    };
    let role = g.role.trim_start_matches("roles/").replace('.', "_").to_lowercase();
    format!("{}_{scope}{role}", g.member.as_str())
}

/// The API a binding needs when it references nothing Terraform creates.
fn scope_api(scope: &Scope) -> Option<&'static str> {
    match scope {
        Scope::Secret(_) => Some("secretmanager.googleapis.com"),
        Scope::BigQueryDataset(_) | Scope::ExternalDataset { .. } => Some("bigquery.googleapis.com"),
        _ => None,
    }
}

/// Resource type and name of a grant's binding.
pub fn address(g: &Grant) -> (&'static str, String) {
    let ty = match &g.scope {
        Scope::Project | Scope::FunctionSources => "google_project_iam_member",
        Scope::Bucket(_) | Scope::ComposerBucket | Scope::StateBucket | Scope::StatePlans => "google_storage_bucket_iam_member",
        Scope::DockerRepo | Scope::KfpRepo => "google_artifact_registry_repository_iam_member",
        Scope::ServiceAccount(_) => "google_service_account_iam_member",
        Scope::Secret(_) => "google_secret_manager_secret_iam_member",
        Scope::BigQueryDataset(_) | Scope::ExternalDataset { .. } | Scope::RequestLog(_) => "google_bigquery_dataset_iam_member",
        Scope::Function(_) if g.role.starts_with("roles/run.") => "google_cloud_run_v2_service_iam_member",
        Scope::Function(_) => "google_cloudfunctions2_function_iam_member",
        Scope::CloudRunService(_) => "google_cloud_run_v2_service_iam_member",
        Scope::Topic(_) => "google_pubsub_topic_iam_member",
        Scope::Connection => "google_cloudbuildv2_connection_iam_member",
    };
    (ty, name(g))
}

/// The binding resource for a grant's scope, without role and member.
/// `created`: the BigQuery datasets this Terraform creates ([`super::storage::prediction_datasets`]).
fn binding(m: &Model, g: &Grant, created: &[&str]) -> BlockBuilder {
    let (ty, n) = address(g);
    let b = match g.member {
        // One binding per approver, keyed by principal, where the approval is given.
        Member::Approvers => {
            let approvers = m.ci.as_ref().map(|c| c.approvers.as_slice()).unwrap_or_default();
            let all = call("toset", vec![super::syntax::strings(approvers)]);
            let none = call("toset", vec![list(Vec::new())]);
            let gated = super::cicd::gated(m);
            resource(ty, &n).attr("for_each", Expression::Conditional(Box::new(hcl::expr::Conditional::new(gated, all, none))))
        }
        _ => resource(ty, &n).opt("count", condition(g).map(count_if)),
    };
    match &g.scope {
        Scope::Project => b.attr("project", var("project_id")),
        Scope::FunctionSources => b.attr("project", var("project_id")),
        Scope::Bucket(k) => b.attr("bucket", bucket(m, k)),
        Scope::DockerRepo | Scope::KfpRepo => {
            let repo = if g.scope == Scope::DockerRepo { "docker" } else { "kfp" };
            b.attr("location", r(&["google_artifact_registry_repository", repo, "location"]))
                .attr("repository", r(&["google_artifact_registry_repository", repo, "name"]))
        }
        Scope::ServiceAccount(role) => b.attr("service_account_id", sa(m, *role, "name")),
        Scope::Secret(id) => b.attr("secret_id", super::secrets::secret_id(m, id)),
        Scope::BigQueryDataset(id) if created.contains(&id.as_str()) => {
            b.attr("dataset_id", r(&["google_bigquery_dataset", &super::storage::prediction_dataset_name(id), "dataset_id"]))
        }
        Scope::BigQueryDataset(id) => b.attr("dataset_id", s(id)),
        // The binding goes on the dataset where the data is; `project` is that dataset's project
        // (google_bigquery_dataset_iam_member takes `project`, defaulting to the provider's).
        Scope::ExternalDataset { project, dataset } => b.attr("project", s(project)).attr("dataset_id", s(dataset)),
        Scope::RequestLog(k) => b.attr("dataset_id", r(&["google_bigquery_dataset", &super::vertex::request_log(k), "dataset_id"])),
        Scope::ComposerBucket => b.attr("bucket", bucket(m, super::storage::COMPOSER_BUCKET)),
        Scope::Function(k) if g.role.starts_with("roles/run.") => {
            b.attr("location", var("region")).attr("name", function_name(k))
        }
        Scope::Function(k) => b.attr("location", var("region")).attr("cloud_function", function_name(k)),
        Scope::CloudRunService(k) => b
            .attr("location", var("region"))
            .attr("name", r(&["google_cloud_run_v2_service", &ident(k), "name"])),
        Scope::Topic(t) => b.attr("topic", r(&["google_pubsub_topic", &super::monitoring::topic(t), "name"])),
        Scope::StateBucket | Scope::StatePlans => b.attr("bucket", var(STATE_BUCKET_VAR)),
        Scope::Connection => b
            .attr("location", var("region"))
            .attr("name", ri(&["google_cloudbuildv2_connection", "github[0]", "name"])),
    }
}

/// `google_cloudfunctions2_function.<key>[0].name` (functions have a `count`).
fn function_name(key: &str) -> Expression {
    let instance = format!("{}[0]", ident(key));
    ri(&["google_cloudfunctions2_function", &instance, "name"])
}
