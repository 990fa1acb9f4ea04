//! Renders a [`Proof`] as text (grouped by identity) or JSON.

use super::{Problem, Proof, Proven};
use crate::model::iam::{Agent, Member, Scope};
use serde_json::{json, Value};
use std::fmt::Write;

/// How an identity is named in reports.
pub fn member_name(m: Member) -> String {
    match m {
        Member::Sa(r) => format!("{} SA", r.as_str()),
        Member::Agent(Agent::CloudBuild) => "Cloud Build service agent".into(),
        Member::Agent(Agent::Composer) => "Cloud Composer service agent".into(),
        Member::Agent(Agent::Storage) => "Cloud Storage service agent".into(),
        Member::Agent(Agent::Vertex) => "Vertex AI service agent".into(),
        Member::Agent(Agent::MonitoringNotification) => "Cloud Monitoring notification service agent".into(),
        Member::Agent(Agent::SecretManager) => "Secret Manager service agent".into(),
        Member::Promoter => "promoter (previous environment's CI SA)".into(),
        Member::Checker => "checker (first environment's checks SA)".into(),
        Member::Approvers => "approvers (ci.approvers, people)".into(),
    }
}

/// How a resource is named in reports.
pub fn scope_name(s: &Scope) -> String {
    match s {
        Scope::Project => "project".into(),
        Scope::Bucket(k) => format!("bucket `{k}`"),
        Scope::DockerRepo => "Docker repository".into(),
        Scope::KfpRepo => "KFP repository".into(),
        Scope::ServiceAccount(r) => format!("{} SA", r.as_str()),
        Scope::Secret(id) => format!("secret `{id}`"),
        Scope::BigQueryDataset(d) => format!("BigQuery dataset `{d}`"),
        Scope::ExternalDataset { project, dataset } => format!("BigQuery dataset `{dataset}` of project `{project}` (external)"),
        Scope::RequestLog(e) => format!("request-log dataset of endpoint `{e}`"),
        Scope::ComposerBucket => "Composer bucket".into(),
        Scope::Function(k) => format!("function `{k}`"),
        Scope::CloudRunService(k) => format!("service `{k}`"),
        Scope::FunctionSources => "Cloud Functions source buckets".into(),
        Scope::Topic(t) => format!("Pub/Sub topic `{t}`"),
        Scope::StateBucket => "Terraform state bucket".into(),
        Scope::Connection => "Cloud Build GitHub connection".into(),
        Scope::StatePlans => "reviewed plans (plans/) in the Terraform state bucket".into(),
    }
}

/// One line per problem.
pub fn problem_line(p: &Problem) -> String {
    let in_env = |envs: &[String]| if envs.is_empty() { String::new() } else { format!(" (in {})", envs.join(", ")) };
    match p {
        Problem::Missing { member, action, permission, scope, environments: env } => format!(
            "missing: {} needs {permission} on {} ({action}) and no granted role provides it{}",
            member_name(*member),
            scope_name(scope),
            in_env(env)
        ),
        Problem::Unused { member, role, scope, environments: env } => format!(
            "unused: {role} on {} granted to {} provides nothing any of its actions needs{}",
            scope_name(scope),
            member_name(*member),
            in_env(env)
        ),
        Problem::UnknownRole { role } => format!("unknown role: {role} is not in data/gcp-iam/roles.json"),
    }
}

/// `, in dev` after an action proven this way in some environments only (another grant proves it
/// in the others), nothing after one proven the same way in every environment.
fn only_in(proof: &Proof, p: &Proven) -> String {
    if p.environments.len() < proof.environments.len() {
        format!(", in {}", p.environments.join(", "))
    } else {
        String::new()
    }
}

/// The text report: per identity, each action with its permissions and what grants them.
pub fn text(proof: &Proof) -> String {
    let mut out = String::new();
    let mut current = None;
    for p in &proof.actions {
        if current != Some(p.action.member) {
            current = Some(p.action.member);
            let _ = writeln!(out, "\n{}", member_name(p.action.member));
        }
        let _ = writeln!(out, "  {} on {}{}  [{}]", p.action.why, scope_name(&p.action.scope), only_in(proof, p), p.doc);
        for c in &p.checks {
            match &c.granted_by {
                Some((role, scope)) => {
                    let _ = writeln!(out, "    {}  <- {role} on {}", c.permission, scope_name(scope));
                }
                None => {
                    let _ = writeln!(out, "    {}  <- MISSING", c.permission);
                }
            }
        }
    }
    let _ = writeln!(out);
    for g in &proof.outside {
        let _ = writeln!(out, "outside this module: {} on {} for {} (made by the owner of the external account)", g.role, scope_name(&g.scope), member_name(g.member));
    }
    for p in &proof.problems {
        let _ = writeln!(out, "{}", problem_line(p));
    }
    let checks: usize = proof.actions.iter().map(|p| p.checks.len()).sum();
    let _ = writeln!(
        out,
        "iam: {} actions, {checks} permission checks, {} grants; {} problem(s)",
        proof.actions.len(),
        proof.grants.len(),
        proof.problems.len()
    );
    out
}

/// The JSON report.
pub fn json(proof: &Proof) -> Value {
    let actions: Vec<Value> = proof
        .actions
        .iter()
        .map(|p| {
            let checks: Vec<Value> = p
                .checks
                .iter()
                .map(|c| {
                    let by = c.granted_by.as_ref().map(|(role, scope)| json!({"role": role, "resource": scope_name(scope)}));
                    json!({"permission": c.permission, "granted_by": by})
                })
                .collect();
            json!({
                "identity": member_name(p.action.member),
                "action": p.action.why,
                "resource": scope_name(&p.action.scope),
                "doc": p.doc,
                "permissions": checks,
                "environments": p.environments,
            })
        })
        .collect();
    let problems: Vec<Value> = proof.problems.iter().map(|p| Value::String(problem_line(p))).collect();
    let outside: Vec<Value> = proof
        .outside
        .iter()
        .map(|g| json!({"identity": member_name(g.member), "role": g.role, "resource": scope_name(&g.scope)}))
        .collect();
    json!({"holds": proof.holds(), "actions": actions, "problems": problems, "outside": outside})
}
