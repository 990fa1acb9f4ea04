//! `terraform/bootstrap.sh`: what must exist before the first `terraform init` — the state bucket,
//! the APIs Terraform itself calls, and the service agents `iam.tf` binds roles to, per environment.
//! Idempotent; every spec value is single-quoted. Its header
//! spells out an environment's first deploy, which Terraform and CD share (see `runtime`).

use super::runtime::CREATE_FUNCTIONS;
use crate::model::iam::Scope;
use crate::model::{presence, terraform_access, Model, Ownership};
use std::collections::BTreeSet;
use std::fmt::Write;

/// APIs Terraform needs before it can enable the others (`google_project_service` uses Service
/// Usage; project IAM uses Resource Manager).
pub const TERRAFORM_APIS: &[&str] = &[
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
];

/// Why the script creates service agents (comment lines before the commands). The GA provider
/// (6.x) has no resource for it: `google_project_service_identity` exists only in google-beta
/// (https://registry.terraform.io/providers/hashicorp/google-beta/latest/docs/resources/project_service_identity,
/// hashicorp/terraform-provider-google#12994), and this module stays on one provider whose schema
/// the conformance check knows. `gcloud beta services identity create` calls the same
/// `services.generateServiceIdentity` and is idempotent
/// (https://cloud.google.com/sdk/gcloud/reference/beta/services/identity/create).
const AGENTS_NOTE: &str = "\
# Google-managed service agents that iam.tf grants roles to. Enabling an API does not always
# create its agent, and a binding to an agent that does not exist fails. Idempotent.
";

/// Single-quotes a value for bash.
fn q(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The script.
pub fn script(m: &Model) -> String {
    let envs: Vec<&str> = m.environments.iter().map(|e| e.name.as_str()).collect();
    let default = m.default_env();
    let mut s = String::from("#!/usr/bin/env bash\n");
    let _ = writeln!(s, "# Prepares a project for this Terraform module: enables the APIs Terraform itself needs,");
    let _ = writeln!(s, "# creates the service agents it binds roles to and the environment's state bucket in its own");
    let _ = writeln!(s, "# project (versioned, uniform access, public access prevented). Safe to run again.");
    let _ = writeln!(s, "# usage: terraform/bootstrap.sh [{}]", envs.join("|"));
    s.push_str("#\n");
    for line in first_deploy(m) {
        let _ = writeln!(s, "# {line}");
    }
    s.push_str("set -euo pipefail\n\n");
    let _ = writeln!(s, "env_name=\"${{1:-{}}}\"", default.name);
    s.push_str("case \"${env_name}\" in\n");
    for e in &m.environments {
        let _ = writeln!(s, "  {})", q(&e.name));
        let _ = writeln!(s, "    project={}", q(&e.gcp_project));
        let _ = writeln!(s, "    region={}", q(&e.region));
        let _ = writeln!(s, "    state_bucket={}", q(&m.state.bucket_for(e)));
        s.push_str("    ;;\n");
    }
    s.push_str("  *)\n");
    let _ = writeln!(s, "    echo \"usage: $0 [{}]\" >&2", envs.join("|"));
    s.push_str("    exit 2\n    ;;\nesac\n\n");
    let agents: Vec<&str> = crate::model::iam::agents(&m.grants).into_iter().filter_map(|a| a.api()).collect();
    s.push_str("gcloud services enable --project=\"${project}\" \\\n");
    let apis: Vec<String> = TERRAFORM_APIS.iter().chain(&agents).map(|a| format!("  {a}")).collect();
    s.push_str(&apis.join(" \\\n"));
    s.push_str("\n\n");
    if !agents.is_empty() {
        s.push_str(AGENTS_NOTE);
        for api in &agents {
            let _ = writeln!(s, "gcloud beta services identity create --service={api} --project=\"${{project}}\"");
        }
        s.push('\n');
    }
    // https://cloud.google.com/storage/docs/creating-buckets, /docs/using-public-access-prevention,
    // /docs/using-object-versioning; Terraform's gcs backend recommends versioning the state bucket
    // (https://developer.hashicorp.com/terraform/language/backend/gcs).
    s.push_str("if ! gcloud storage buckets describe \"gs://${state_bucket}\" --project=\"${project}\" >/dev/null 2>&1; then\n");
    s.push_str("  gcloud storage buckets create \"gs://${state_bucket}\" --project=\"${project}\" \\\n");
    s.push_str("    --location=\"${region}\" --uniform-bucket-level-access --public-access-prevention\n");
    s.push_str("fi\n");
    s.push_str("gcloud storage buckets update \"gs://${state_bucket}\" --project=\"${project}\" \\\n");
    s.push_str("  --versioning --uniform-bucket-level-access --public-access-prevention\n");
    s.push_str("echo \"ready: terraform init -reconfigure -backend-config=env/${env_name}.backend.hcl\"\n");
    s
}

/// The first deploy of each environment, step by step (comment lines).
fn first_deploy(m: &Model) -> Vec<String> {
    let envs: Vec<&str> = m.environments.iter().map(|e| e.name.as_str()).collect();
    let functions = !m.functions.is_empty();
    let mut steps: Vec<Vec<String>> = vec![vec!["terraform/bootstrap.sh ENV".to_owned()]];
    if let Some(ci) = &m.ci {
        steps.push(vec![
            format!(
                "in {} (it runs the triggers): install the GitHub App (installation {}) on the repository and",
                super::cicd::runners(m).join(", "),
                ci.app_installation_id
            ),
            format!("   store a GitHub token in secret `{}`", ci.oauth_token_secret),
        ]);
    }
    steps.push(vec!["cd terraform && terraform init -reconfigure -backend-config=env/ENV.backend.hcl".to_owned()]);
    steps.extend(secret_steps(m));
    steps.extend(data_steps(m));
    let mut apply = vec![format!(
        "terraform apply -var-file=env/ENV.tfvars{}",
        if functions { format!(" -var={CREATE_FUNCTIONS}=false") } else { String::new() }
    )];
    if !m.services.is_empty() {
        apply.push("   (Cloud Run services start on a placeholder image until the first build deploys theirs)".to_owned());
    }
    if crate::model::terraform_access::applies(m) {
        // The chicken and egg of `ci.terraform.apply`: the apply SA the builds run Terraform as is
        // itself created (and granted its roles) by Terraform.
        apply.push("   by hand, as a project admin: it creates the plan and apply SAs; from then on CD and releases".to_owned());
        apply.push("   apply this environment as its apply SA".to_owned());
    } else if crate::model::terraform_access::plans(m) {
        apply.push("   by hand, as a project admin (also later applies); it creates the plan SA PR builds plan as".to_owned());
    }
    // `depends_on` orders a binding before what uses it, but IAM takes effect up to minutes later
    // (https://cloud.google.com/iam/docs/access-change-propagation): a resource created right
    // after its service agent's grant (Composer, a service reading a secret) can fail once.
    apply.push("   a PERMISSION_DENIED on a role this apply just granted is IAM propagation: run the same apply again".to_owned());
    steps.push(apply);
    match (&m.ci, envs.split_first()) {
        (Some(ci), Some((first, rest))) => {
            let mut build = vec![format!("build: in {first}, push to `{}` (CD)", ci.branch)];
            if !rest.is_empty() {
                build.push(format!("   in {}, push a tag matching `{}` (a release)", rest.join(", "), ci.release_tag));
                // Every environment with a next one runs its release (and review) trigger on each
                // tag, acting on the next environment as its identities.
                let triggers = if terraform_access::reviews(m) { "release and review" } else { "release" };
                build.push(format!("   once every environment is applied: each tag runs every environment's {triggers}"));
            }
            if functions {
                build.push("   The build uploads each function's zipped source before deploying it.".to_owned());
            }
            steps.push(build);
        }
        _ if functions => {
            let root = format!("gs://PROJECT-{}", m.pipeline_root_bucket);
            steps.push(vec![format!("upload each function's zipped source to {root}/functions/KEY/source.zip")]);
        }
        _ => {}
    }
    if functions {
        steps.push(vec!["terraform apply -var-file=env/ENV.tfvars  (creates the functions from that source)".to_owned()]);
    }
    let mut lines = vec![format!("First deploy, one environment at a time in promotion order ({}):", envs.join(", "))];
    let mut n = 0;
    for step in steps {
        for (i, line) in step.into_iter().enumerate() {
            if i == 0 && !line.starts_with(' ') {
                n += 1;
                lines.push(format!("  {n}. {line}"));
            } else {
                lines.push(format!("  {line}"));
            }
        }
    }
    if !m.services.is_empty() || functions {
        lines.push("From then on builds deploy images and function sources; Terraform ignores both once it has".to_owned());
        lines.push("created the services and functions (lifecycle.ignore_changes).".to_owned());
    }
    lines
}

/// What the first full apply needs of data nothing here creates: the BigQuery datasets of the
/// environment's project the spec reads (`precondition`s in `iam.tf` stop the plan while one is
/// missing), and, on resources of other owners (datasets of other projects, `external` buckets),
/// the right to read and set their IAM policy, which this Terraform binds roles in
/// (`google_bigquery_dataset_iam_member` reads and writes the dataset's access; a bucket's IAM
/// member its policy). Nothing in this module can grant that, so the owners must.
fn data_steps(m: &Model) -> Vec<Vec<String>> {
    let mut steps = Vec::new();
    let datasets = super::storage::source_datasets(m);
    if !datasets.is_empty() {
        let list: Vec<String> = datasets.iter().map(|d| format!("`{d}`")).collect();
        steps.push(vec![format!("make sure BigQuery dataset(s) {} exist in ENV's project, with their tables", list.join(", "))]);
    }
    let mut foreign = BTreeSet::new();
    for g in presence::views(m).flat_map(|v| &v.grants) {
        match &g.scope {
            Scope::ExternalDataset { project, dataset } => {
                foreign.insert(format!("BigQuery dataset `{project}:{dataset}`"));
            }
            Scope::Bucket(key) => {
                if let Some(Ownership::External(name)) = m.buckets.iter().find(|b| b.key == *key).map(|b| &b.ownership) {
                    foreign.insert(format!("bucket `{name}`"));
                }
            }
            _ => {}
        }
    }
    if !foreign.is_empty() {
        let who = if terraform_access::applies(m) { "whoever applies (you now, then ENV's apply SA)" } else { "whoever applies" };
        let mut step = vec![
            format!("ask the owners of {}, on which this Terraform grants roles,", foreign.into_iter().collect::<Vec<_>>().join(", ")),
            format!("   to let {who} read them and set their IAM policy"),
            "   (e.g. roles/bigquery.dataOwner on a dataset; storage.buckets.get, .getIamPolicy, .setIamPolicy on a bucket)".to_owned(),
        ];
        if terraform_access::plans(m) {
            step.push("   and ENV's plan SA read them and their IAM policy (every plan refreshes those grants)".to_owned());
        }
        steps.push(step);
    }
    steps
}

/// Secrets need a version before anything reads them: Cloud Run refuses to deploy a revision
/// whose secret environment variable has no version to resolve
/// (https://cloud.google.com/run/docs/configuring/services/secrets, "How secrets are checked"),
/// and Terraform never writes a value. So the secrets it creates come first, then their values.
/// A secret it does not create must exist beforehand: `existing` ones, and the notification
/// channels' credentials, which every plan reads through a
/// `google_secret_manager_secret_version_access` data source (an error, not an empty value,
/// when the secret or its version is missing) and which get IAM bindings by id.
fn secret_steps(m: &Model) -> Vec<Vec<String>> {
    let mut steps = Vec::new();
    let created: BTreeSet<&str> = m.created_secrets().map(|s| s.id.as_str()).collect();
    let mut existing: Vec<&str> = m.secrets.iter().filter(|s| s.existing).map(|s| s.id.as_str()).collect();
    existing.extend(terraform_access::secrets_read(m).into_iter().filter(|id| !created.contains(id)));
    existing.sort_unstable();
    existing.dedup();
    let existing: Vec<String> = existing.iter().map(|id| format!("`{id}`")).collect();
    if !existing.is_empty() {
        steps.push(vec![format!("make sure secret(s) {} exist in ENV's project, with a version", existing.join(", "))]);
    }
    let created: Vec<&str> = m.created_secrets().map(|s| s.id.as_str()).collect();
    if !created.is_empty() {
        let targets: Vec<String> = created.iter().map(|id| format!(" -target=google_secret_manager_secret.{}", super::syntax::ident(id))).collect();
        steps.push(vec![
            format!("terraform apply -var-file=env/ENV.tfvars{}", targets.concat()),
            "   then give each a first version (Terraform never holds secret values), e.g.".to_owned(),
        ]);
        let last = steps.len() - 1;
        steps[last].extend(created.iter().map(|id| format!("   gcloud secrets versions add {id} --data-file=FILE --project=PROJECT")));
    }
    steps
}
