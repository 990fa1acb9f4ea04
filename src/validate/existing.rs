//! Checks references to resources that exist already: `external` buckets (owned elsewhere, only
//! granted on), `adopt`ed buckets (imported, then owned) and BigQuery tables of other projects
//! (`bq://project.dataset.table`). Each diagnostic says which of the two a setting belongs to.

use super::names;
use super::semantic::Checker;
use crate::diagnostic::Code;
use crate::model::SaRole;
use crate::spec::DataSource;
use crate::spec::yaml::pointer_push;
use std::collections::BTreeMap;

/// Roles that may run as an external service account: the runtime identities. The CI and
/// Terraform identities stay this spec's own (their triggers, state and plan/apply split are
/// derived from them).
pub const EXTERNAL_ROLES: [SaRole; 5] = [SaRole::Pipelines, SaRole::Training, SaRole::Serving, SaRole::Functions, SaRole::Composer];

/// Checks `service_accounts`: each key a runtime role, each email a user-managed service
/// account's (`<id>@<project>.iam.gserviceaccount.com`, with `{project}`/`{env}` allowed).
fn check_service_accounts(c: &mut Checker<'_>) {
    for (key, sa) in &c.spec.service_accounts {
        let p = pointer_push("/service_accounts", key);
        if !EXTERNAL_ROLES.iter().any(|r| r.as_str() == key) {
            let pos = c.key_at(&p);
            let names: Vec<&str> = EXTERNAL_ROLES.iter().map(|r| r.as_str()).collect();
            let message = format!("`{key}` is not a runtime identity that can be an existing service account");
            c.report(Code::UnknownReference, pos, message, Some(format!("one of: {}", names.join(", "))));
            continue;
        }
        let email = &sa.external;
        let envs = c.spec.environments.iter();
        let found = envs.filter_map(|(name, e)| email_problem(email, &e.gcp_project, name).map(|why| (name, why))).next();
        if let Some((env, why)) = found {
            let why = if email.contains('{') { format!("{why} (in `{env}`)") } else { why };
            let pos = c.at(&format!("{p}/external"));
            let message = format!("`{email}` is not a user-managed service account email: {why}");
            let hint = "write `<account id>@<project id>.iam.gserviceaccount.com`; `{project}` and `{env}` stand for the environment's project and name";
            c.report(Code::InvalidName, pos, message, Some(hint.into()));
        }
    }
}

/// Why an email template is not `<id>@<project>.iam.gserviceaccount.com` (account ids are 6–30
/// of `a-z0-9-`, starting with a letter; project ids likewise, with `{project}` and `{env}`
/// standing for the environment's values, https://cloud.google.com/iam/docs/service-accounts-create).
/// The charset this allows is also what makes the email safe in HCL, YAML, JSON and Python.
fn email_problem(template: &str, project: &str, env: &str) -> Option<String> {
    let braces = template.replace("{project}", "").replace("{env}", "");
    if braces.contains(['{', '}']) {
        return Some("`{project}` and `{env}` are the only placeholders".into());
    }
    let sample = crate::model::naming::per_env(template, project, env);
    let Some((id, domain)) = sample.split_once('@') else { return Some("it has no `@`".into()) };
    let word = |w: &str| {
        (6..=30).contains(&w.len())
            && w.starts_with(|c: char| c.is_ascii_lowercase())
            && !w.ends_with('-')
            && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if domain.ends_with("gserviceaccount.com") && !domain.ends_with(".iam.gserviceaccount.com") {
        return Some("a Google-managed default or service-agent account; run as a user-managed account with only the roles it needs".into());
    }
    let Some(project) = domain.strip_suffix(".iam.gserviceaccount.com") else {
        return Some("it does not end in `.iam.gserviceaccount.com`".into());
    };
    if !word(id) {
        return Some(format!("`{id}` is not an account id (6-30 of a-z, 0-9, `-`, starting with a letter)"));
    }
    if !word(project) {
        return Some(format!("`{project}` is not a project id (6-30 of a-z, 0-9, `-`, starting with a letter)"));
    }
    None
}

/// Checks every bucket, and what uses external data.
pub fn check(c: &mut Checker<'_>) {
    check_service_accounts(c);
    let spec = c.spec;
    for (key, b) in &spec.storage.buckets {
        let p = pointer_push("/storage/buckets", key);
        if let Some(name) = &b.external {
            c.value_name(names::BUCKET, "bucket name", name, &format!("{p}/external"));
            // Settings that would change a bucket this spec does not own.
            let owned_settings = [
                ("versioning", b.versioning),
                ("lifecycle", b.lifecycle.is_some()),
                ("kms_key", b.kms_key.is_some()),
                ("adopt", !b.adopt.is_empty()),
            ];
            for (field, set) in owned_settings {
                if set {
                    let pos = c.key_at(&format!("{p}/{field}"));
                    let message = format!("bucket `{key}` is external (owned elsewhere, only granted on), so it cannot take `{field}`");
                    let hint = if field == "adopt" {
                        "use `external` for a bucket someone else manages, `adopt` for one this spec should now own"
                    } else {
                        "remove it, or replace `external` with `adopt` so this spec owns the bucket and its settings"
                    };
                    c.report(Code::WrongKind, pos, message, Some(hint.into()));
                }
            }
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (env, name) in &b.adopt {
            let at = pointer_push(&format!("{p}/adopt"), env);
            if !spec.environments.contains_key(env) {
                let pos = c.key_at(&at);
                let hint = super::suggest::hint(env, spec.environments.keys().map(String::as_str));
                c.report(Code::UnknownReference, pos, format!("bucket `{key}` is adopted in `{env}`, which is not an environment"), Some(hint));
            }
            c.value_name(names::BUCKET, "bucket name", name, &at);
            // Bucket names are global: one bucket lives in one project, so one environment.
            if let Some(other) = seen.insert(name.as_str(), env.as_str()) {
                let pos = c.at(&at);
                let message = format!("bucket `{name}` is adopted in both `{other}` and `{env}`, but a bucket exists in one project only");
                c.report(Code::DuplicateName, pos, message, Some("adopt it in the environment whose project holds it; the others create their own".into()));
            }
        }
    }
    for (fk, f) in &spec.functions {
        let Some(t) = &f.trigger else { continue };
        if spec.storage.buckets.get(&t.bucket).is_some_and(|b| b.external.is_some()) {
            let pos = c.at(&format!("{}/trigger/bucket", pointer_push("/functions", fk)));
            let message = format!("function `{fk}` is triggered by bucket `{}`, which is external", t.bucket);
            let hint = "an Eventarc Cloud Storage trigger needs the bucket's project's storage agent to publish events; trigger on a bucket this spec owns or adopts";
            c.report(Code::WrongKind, pos, message, Some(hint.into()));
        }
    }
    let Some(features) = &spec.features else { return };
    for (gk, g) in &features.groups {
        let source = spec.datasets.get(&g.dataset).and_then(|d| DataSource::parse(&d.source));
        if let Some(DataSource::BigQuery { project: Some(project), .. }) = source {
            let pos = c.at(&format!("{}/dataset", pointer_push("/features/groups", gk)));
            let message = format!("feature group `{gk}` reads dataset `{}`, a table of project `{project}`", g.dataset);
            let hint = "Feature Store syncs with the environment's Vertex AI service agent, which mlopsgen grants nothing in other projects; copy the table into the environment's project (e.g. a view or a scheduled query) and point a dataset at it";
            c.report(Code::WrongKind, pos, message, Some(hint.into()));
        }
    }
}
