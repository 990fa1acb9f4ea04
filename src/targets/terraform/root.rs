//! The root module's frame: `versions.tf`, `providers.tf`, `variables.tf`, `outputs.tf`, and the
//! per-environment `env/<env>.tfvars` and `env/<env>.backend.hcl`.

use super::syntax::{
    block, call, ident, object, r, r0, record, s, string_map, strings, tpl, var, BlockExt, Item, TfFile,
};
use super::{bucket, cicd, iam, runtime, sa, storage};
use crate::model::delivery::{self, Workflow};
use crate::model::iam::{Member, Scope};
use crate::model::{Environment, Model, SaRole};
use hcl::expr::{BinaryOp, BinaryOperator, Expression, Operation};
use hcl::structure::{Block, Body};

/// The provider range: 6.50 is the newest schema checked offline; everything emitted is also valid in
/// 7.x (explicit `disable_on_destroy`, Cloud Run `deletion_protection`, functions `event_type`).
pub const PROVIDER_VERSION: &str = ">= 6.50, < 8";

/// `versions.tf`.
pub fn versions(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let providers = block("required_providers")
        .attr("google", record([("source", s("hashicorp/google")), ("version", s(PROVIDER_VERSION))]))
        .build();
    let tf = block("terraform")
        .attr("required_version", s(">= 1.5.0"))
        .add_block(providers)
        // Partial configuration: each environment's bucket and prefix come from its
        // `env/<env>.backend.hcl` (https://developer.hashicorp.com/terraform/language/backend#partial-configuration).
        .add_block(block("backend").add_label("gcs").build());
    let env = m.default_env();
    f.push(
        Item::from(tf)
            .note(format!("google provider {PROVIDER_VERSION}: checked against the 6.50 schema and valid in 7.x (explicit"))
            .note("disable_on_destroy, Cloud Run deletion_protection, functions event_type); 8.0 may remove fields.")
            .note("Each environment keeps its state in a bucket of its own project (bootstrap.sh creates it; versioned,")
            .note("public access prevented); env/<env>.backend.hcl names it:")
            .note(format!(
                "  terraform init -reconfigure -backend-config=env/{0}.backend.hcl && terraform apply -var-file=env/{0}.tfvars",
                env.name
            )),
    );
    f
}

/// `providers.tf`.
pub fn providers(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    f.push(
        Item::from(
            block("provider")
                .add_label("google")
                .attr("project", var("project_id"))
                .attr("region", var("region"))
                .attr("default_labels", var("labels")),
        )
        .note("Every resource is created in the environment's project and region and carries its labels."),
    );
    if needs_project_number(m) {
        f.push(
            Item::from(super::syntax::data("google_project", "this").attr("project_id", var("project_id")))
                .note("The project number names Google-managed service agents."),
        );
    }
    f
}

/// Whether a service-agent email (built from the project number) is needed.
pub fn needs_project_number(m: &Model) -> bool {
    m.grants.iter().any(|g| matches!(g.member, crate::model::iam::Member::Agent(a) if a != crate::model::iam::Agent::Storage))
        || super::iam::names_agents_of_external(m)
        || m.functions.iter().any(|f| !f.access.secret_env.is_empty())
}

fn variable(name: &str, ty: Expression, description: &str, validation: Option<(Expression, String)>) -> Block {
    let mut b = block("variable").add_label(name).attr("type", ty).attr("description", s(description));
    if let Some((condition, message)) = validation {
        b = b.add_block(block("validation").attr("condition", condition).attr("error_message", s(message)).build());
    }
    b.build()
}

fn matches(name: &str, pattern: &str) -> Expression {
    call("can", vec![call("regex", vec![s(pattern), var(name)])])
}

fn ty(name: &str) -> Expression {
    r(&[name])
}

fn ty_of(outer: &str, inner: &str) -> Expression {
    call(outer, vec![ty(inner)])
}

/// `variables.tf`.
pub fn variables(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let envs: Vec<&str> = m.environments.iter().map(|e| e.name.as_str()).collect();
    f.push(variable(
        "project_id",
        ty("string"),
        "GCP project of the environment.",
        Some((matches("project_id", "^[a-z][a-z0-9-]{4,28}[a-z0-9]$"), "project_id must be a GCP project id.".into())),
    ));
    f.push(variable(
        "region",
        ty("string"),
        "Region of every regional resource.",
        Some((matches("region", "^[a-z]+-[a-z]+[0-9]+$"), "region must be a GCP region such as europe-west4.".into())),
    ));
    f.push(variable(
        "env",
        ty("string"),
        "Environment name (also the image tag the environment runs).",
        Some((call("contains", vec![strings(&envs), var("env")]), format!("env must be one of: {}.", envs.join(", ")))),
    ));
    f.push(variable("labels", ty_of("map", "string"), "Labels put on every resource that takes labels.", None));
    if deletion_protection(m) {
        let what = if m.created_secrets().next().is_some() { "Cloud Run services and Secret Manager secrets" } else { "Cloud Run services" };
        f.push(variable(
            "deletion_protection",
            ty("bool"),
            &format!("Refuse to destroy {what} (on in the last environment of the promotion order)."),
            None,
        ));
    }
    if !m.functions.is_empty() {
        f.push(
            block("variable")
                .add_label(runtime::CREATE_FUNCTIONS)
                .attr("type", ty("bool"))
                .attr(
                    "description",
                    s("Create the Cloud Functions. Pass false on an environment's first apply: a function is created from the source its first CD or release build uploads (see bootstrap.sh)."),
                )
                .attr("default", super::syntax::bool(true))
                .build(),
        );
    }
    if m.ci.is_some() {
        let kinds: Vec<&str> = delivery::workflows(m).into_iter().map(Workflow::name).collect();
        let unknown = call("setsubtract", vec![var("ci_triggers"), strings(&kinds)]);
        let none_unknown = Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(
            call("length", vec![unknown]),
            BinaryOperator::Eq,
            Expression::Number(0.into()),
        ))));
        f.push(variable(
            "ci_triggers",
            ty_of("set", "string"),
            "Cloud Build triggers created in this environment's project: pr and cd in the first environment, release wherever there is a next one.",
            Some((none_unknown, format!("ci_triggers may only contain: {}.", kinds.join(", ")))),
        ));
        f.push(variable(
            "build_substitutions",
            ty_of("map", "string"),
            "Cloud Build substitutions with this environment's values (see cloudbuild/*.yaml).",
            None,
        ));
    }
    if m.grants.iter().any(|g| g.member == Member::Checker) {
        f.push(variable(
            iam::CHECKER_VAR,
            ty("string"),
            "Email of the first environment's checks SA, whose pull-request builds plan this environment as its plan SA.",
            None,
        ));
    }
    if m.grants.iter().any(|g| g.scope == Scope::StateBucket) {
        f.push(variable(
            iam::STATE_BUCKET_VAR,
            ty("string"),
            "This environment's Terraform state bucket (bootstrap.sh creates it; env/<env>.backend.hcl names it too).",
            None,
        ));
    }
    if m.grants.iter().any(|g| g.member == Member::Promoter) {
        f.push(variable(
            iam::PROMOTER_VAR,
            ty("string"),
            "Email of the previous environment's promotion SA, whose release builds deploy into this environment (empty in the first).",
            None,
        ));
    }
    f
}

/// `outputs.tf`.
pub fn outputs(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let mut output = |name: &str, description: &str, value: Expression| {
        f.push(block("output").add_label(name).attr("description", s(description)).attr("value", value));
    };
    if !m.buckets.is_empty() {
        let names = m.buckets.iter().map(|b| (b.key.clone(), bucket(m, &b.key)));
        output("buckets", "Bucket names by spec key.", object(names));
    }
    if !m.service_accounts.is_empty() {
        let emails = m.service_accounts.iter().map(|role| (role.as_str().to_owned(), sa(m, *role, "email")));
        output("service_accounts", "Service account emails by role.", object(emails));
    }
    let external = super::iam::external_grants(m);
    if !external.is_empty() {
        output(
            "external_service_account_grants",
            "Grants on external service accounts (service_accounts.<role>.external) that their owner makes in the account's project: this module cannot.",
            Expression::Array(external),
        );
    }
    if storage::has_docker_repo(m) {
        output(
            "docker_repository",
            "Docker repository path: images are <path>/<image>:<tag>.",
            tpl(storage::docker_repository_path()),
        );
    }
    if storage::has_kfp_repo(m) {
        output(
            "kfp_repository",
            "KFP repository URL holding the compiled pipeline templates.",
            tpl(storage::kfp_repository_url()),
        );
    }
    if m.composer.is_some() {
        let attr = |a: &str| r0(&["google_composer_environment", "composer", "config"], &[a]);
        output("composer_dag_prefix", "gs:// folder Composer loads DAGs from (CD copies the DAGs here).", attr("dag_gcs_prefix"));
        output("composer_airflow_uri", "Airflow web UI.", attr("airflow_uri"));
    }
    if !m.endpoints.is_empty() {
        let ids = m.endpoints.iter().map(|e| (e.key.clone(), r(&["google_vertex_ai_endpoint", &ident(&e.key), "id"])));
        output("endpoints", "Vertex AI endpoint resource names by spec key.", object(ids));
    }
    if !m.services.is_empty() {
        let uris = m.services.iter().map(|sv| (sv.key.clone(), r(&["google_cloud_run_v2_service", &ident(&sv.key), "uri"])));
        output("service_urls", "Cloud Run service URLs by spec key.", object(uris));
    }
    if m.tensorboard {
        output("tensorboard", "Vertex AI TensorBoard resource name.", r(&["google_vertex_ai_tensorboard", "tensorboard", "id"]));
    }
    f
}

/// `env/<env>.tfvars` for the environment at `index` in promotion order.
pub fn tfvars(m: &Model, index: usize) -> TfFile {
    let mut f = TfFile::new();
    let Some(env) = m.environments.get(index) else { return f };
    let mut body = Body::builder()
        .add_attribute(("project_id", s(&env.gcp_project)))
        .add_attribute(("region", s(&env.region)))
        .add_attribute(("env", s(&env.name)))
        .add_attribute(("labels", string_map(&env.labels)));
    if deletion_protection(m) {
        let last = m.environments.len() > 1 && index + 1 == m.environments.len();
        body = body.add_attribute(("deletion_protection", super::syntax::bool(last)));
    }
    if m.ci.is_some() {
        let subs = delivery::variables(m, env);
        body = body
            .add_attribute(("ci_triggers", strings(cicd::triggers(m, index))))
            .add_attribute(("build_substitutions", string_map(&subs)));
    }
    if m.grants.iter().any(|g| g.member == Member::Checker) {
        body = body.add_attribute((iam::CHECKER_VAR, s(m.default_env().sa_email(SaRole::Checks))));
    }
    if m.grants.iter().any(|g| g.scope == Scope::StateBucket) {
        body = body.add_attribute((iam::STATE_BUCKET_VAR, s(m.state.bucket_for(env))));
    }
    if m.grants.iter().any(|g| g.member == Member::Promoter) {
        let previous = index.checked_sub(1).and_then(|i| m.environments.get(i));
        body = body.add_attribute((iam::PROMOTER_VAR, s(previous.map(|e| e.sa_email(SaRole::Promote)).unwrap_or_default())));
    }
    f.push(Item::attributes(body.build()));
    f
}

/// `env/<env>.backend.hcl`: the environment's state bucket (in its own project) and prefix.
pub fn backend(m: &Model, env: &Environment) -> TfFile {
    let mut f = TfFile::new();
    let prefix = format!("{}/{}", m.state.prefix, env.name);
    let body = Body::builder().add_attribute(("bucket", s(m.state.bucket_for(env)))).add_attribute(("prefix", s(prefix)));
    f.push(
        Item::attributes(body.build())
            .note(format!("terraform init -reconfigure -backend-config=env/{}.backend.hcl", env.name)),
    );
    f
}

/// Whether anything takes `var.deletion_protection`: Cloud Run services, and secrets Terraform
/// creates (destroying one deletes its versions, which are in no state).
fn deletion_protection(m: &Model) -> bool {
    !m.services.is_empty() || m.created_secrets().next().is_some()
}
