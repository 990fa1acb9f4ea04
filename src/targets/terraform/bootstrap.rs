//! `terraform/bootstrap.sh`: what must exist before the first `terraform init` — the state bucket,
//! and the APIs Terraform itself calls. Idempotent; every spec value is single-quoted.

use crate::model::Model;
use std::fmt::Write;

/// APIs Terraform needs before it can enable the others (`google_project_service` uses Service
/// Usage; project IAM uses Resource Manager).
pub const TERRAFORM_APIS: &[&str] = &[
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
];

/// Single-quotes a value for bash.
fn q(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The script.
pub fn script(m: &Model) -> String {
    let envs: Vec<&str> = m.environments.iter().map(|e| e.name.as_str()).collect();
    let default = m.default_env();
    let mut s = String::from("#!/usr/bin/env bash\n");
    let _ = writeln!(s, "# Prepares a project for this Terraform module: enables the APIs Terraform itself needs and");
    let _ = writeln!(s, "# creates the state bucket (in the {} project). Safe to run again.", default.name);
    let _ = writeln!(s, "# usage: terraform/bootstrap.sh [{}]", envs.join("|"));
    s.push_str("set -euo pipefail\n\n");
    let _ = writeln!(s, "env_name=\"${{1:-{}}}\"", default.name);
    s.push_str("case \"${env_name}\" in\n");
    for e in &m.environments {
        let _ = writeln!(s, "  {})", q(&e.name));
        let _ = writeln!(s, "    project={}", q(&e.gcp_project));
        s.push_str("    ;;\n");
    }
    s.push_str("  *)\n");
    let _ = writeln!(s, "    echo \"usage: $0 [{}]\" >&2", envs.join("|"));
    s.push_str("    exit 2\n    ;;\nesac\n\n");
    let _ = writeln!(s, "state_bucket={}", q(&m.state.bucket));
    let _ = writeln!(s, "state_project={}", q(&default.gcp_project));
    let _ = writeln!(s, "state_region={}", q(&default.region));
    s.push('\n');
    s.push_str("gcloud services enable --project=\"${project}\" \\\n");
    let apis: Vec<String> = TERRAFORM_APIS.iter().map(|a| format!("  {a}")).collect();
    s.push_str(&apis.join(" \\\n"));
    s.push_str("\n\n");
    s.push_str("if ! gcloud storage buckets describe \"gs://${state_bucket}\" --project=\"${state_project}\" >/dev/null 2>&1; then\n");
    s.push_str("  gcloud storage buckets create \"gs://${state_bucket}\" --project=\"${state_project}\" \\\n");
    s.push_str("    --location=\"${state_region}\" --uniform-bucket-level-access --public-access-prevention\n");
    s.push_str("fi\n");
    s.push_str("gcloud storage buckets update \"gs://${state_bucket}\" --project=\"${state_project}\" --versioning\n");
    s.push_str("echo \"ready: terraform init -reconfigure -backend-config=env/${env_name}.backend.hcl\"\n");
    s
}
