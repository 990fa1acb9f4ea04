//! Terraform: resources added, removed, changed or replaced by address, with the changed argument
//! paths; IAM member resources as grants and revokes; per-environment variable and backend files.
//!
//! Destructive: a state-bearing resource (bucket, endpoint, feature store, dataset, registry,
//! Composer environment, secret, service account…) removed, or changed in an argument that forces
//! Terraform to replace it; and a changed state backend, which Terraform only follows after
//! `terraform init -migrate-state`.

use super::hcl_flat::{self, referenced_resource};
use super::{diff_fields, files_under, Change, Fields, Kind};
use super::Files;
use std::collections::BTreeSet;

/// A state-bearing resource type: the arguments whose change forces a new resource (from the
/// Google provider's documentation: these arguments are immutable) and what destroying it loses.
struct Stateful {
    ty: &'static str,
    immutable: &'static [&'static str],
    loses: &'static str,
}

const fn stateful(ty: &'static str, immutable: &'static [&'static str], loses: &'static str) -> Stateful {
    Stateful { ty, immutable, loses }
}

const DATA: &str = "its data is deleted";
const SERVING: &str = "its deployed models and callers' URL go with it";

const STATEFUL: &[Stateful] = &[
    stateful("google_storage_bucket", &["name", "location", "project"], "its objects are deleted"),
    stateful("google_vertex_ai_endpoint", &["name", "location", "region", "project", "network", "encryption_spec"], SERVING),
    stateful("google_vertex_ai_feature_online_store", &["name", "region", "project"], DATA),
    stateful("google_vertex_ai_feature_group", &["name", "region", "project"], DATA),
    stateful("google_vertex_ai_feature_group_feature", &["name", "region", "project", "feature_group"], DATA),
    stateful("google_vertex_ai_feature_online_store_featureview", &["name", "region", "project", "feature_online_store"], DATA),
    stateful("google_vertex_ai_tensorboard", &["region", "project", "encryption_spec"], "its experiment logs are deleted"),
    stateful("google_bigquery_dataset", &["dataset_id", "location", "project"], "its tables are deleted"),
    stateful("google_bigquery_table", &["dataset_id", "table_id", "project"], DATA),
    stateful(
        "google_artifact_registry_repository",
        &["repository_id", "location", "format", "mode", "project", "kms_key_name"],
        "its images and packages are deleted",
    ),
    stateful("google_composer_environment", &["name", "region", "project"], "its Airflow database and logs are deleted"),
    stateful("google_secret_manager_secret", &["secret_id", "project", "replication"], "its versions are deleted"),
    stateful("google_service_account", &["account_id", "project"], "grants elsewhere that name it stop working"),
    stateful("google_cloud_run_v2_service", &["name", "location", "project"], "its URL and revisions go with it"),
    stateful("google_pubsub_topic", &["name", "project"], "undelivered messages are lost"),
    stateful("google_pubsub_subscription", &["name", "topic", "project"], "undelivered messages are lost"),
];

/// Arguments of IAM member resources naming what the grant is on, most specific first.
const IAM_SCOPES: [&str; 8] =
    ["bucket", "repository", "dataset_id", "secret_id", "cloud_function", "service_account_id", "name", "project"];

fn resource_type(address: &str) -> &str {
    address.split('.').next().unwrap_or("")
}

/// The state-bearing type of an address, if it is one.
fn stateful_type(address: &str) -> Option<&'static Stateful> {
    let ty = resource_type(address);
    STATEFUL.iter().find(|s| s.ty == ty)
}

/// Whether a changed argument path is (inside) one of `args`.
fn forces_replacement(path: &str, args: &[&str]) -> bool {
    args.iter().any(|a| path == *a || path.strip_prefix(a).is_some_and(|rest| rest.starts_with(['.', '['])))
}

fn is_iam_member(address: &str) -> bool {
    resource_type(address).ends_with("_iam_member")
}

/// A value for people: the resource a reference points at, or the literal without quotes.
fn readable(value: &str) -> String {
    referenced_resource(value).map_or_else(|| value.trim_matches('"').to_owned(), str::to_owned)
}

/// `grant roles/x to google_service_account.ci on google_storage_bucket.data`.
fn iam_summary(fields: &Fields, verb: &str) -> Option<String> {
    let role = readable(fields.get("role")?);
    let member = fields.get("member").map(|m| readable(m)).unwrap_or_default();
    let preposition = if verb == "grant" { "to" } else { "from" };
    let mut s = format!("{verb} {role} {preposition} {member}");
    if let Some((key, value)) = IAM_SCOPES.iter().find_map(|k| fields.get(*k).map(|v| (*k, v))) {
        match referenced_resource(value) {
            Some(resource) => s.push_str(&format!(" on {resource}")),
            None => s.push_str(&format!(" on {} {}", key.trim_end_matches("_id").replace('_', " "), readable(value))),
        }
    }
    if fields.keys().any(|k| k.starts_with("condition")) {
        s.push_str(" (with a condition)");
    }
    Some(s)
}

/// Terraform changes between two versions.
///
/// A file with the same text on both sides holds the same blocks on both, and a resource's,
/// data source's, variable's, output's or local's address is unique in a module (no such block can
/// have moved into or out of it), so only the other files are read. Terraform allows several
/// `terraform` blocks, and several `provider` blocks of one provider (aliases): when the files
/// read hold one and some were left out, every file is read.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let tf = |files: &Files, other: &Files, every: bool| {
        let read = files_under(files, "terraform/", ".tf").filter(|(path, text)| every || other.get(*path) != Some(*text));
        hcl_flat::blocks(read.map(|(_, text)| text.as_str()))
    };
    let (mut before, mut after) = (tf(old, new, false), tf(new, old, false));
    let repeatable = |address: &String| address == "terraform" || address.starts_with("provider.");
    let skipped = files_under(new, "terraform/", ".tf").any(|(path, text)| old.get(path) == Some(text));
    if skipped && before.keys().chain(after.keys()).any(repeatable) {
        (before, after) = (tf(old, new, true), tf(new, old, true));
    }
    let mut out = Vec::new();
    for (address, fields) in &after {
        match before.get(address) {
            None => {
                let mut c = Change::new(address.clone(), Kind::Added);
                if is_iam_member(address) {
                    c.summary = iam_summary(fields, "grant");
                }
                out.push(c);
            }
            Some(old_fields) => {
                if let Some(c) = changed(address, old_fields, fields) {
                    out.push(c);
                }
            }
        }
    }
    for (address, fields) in before.iter().filter(|(a, _)| !after.contains_key(*a)) {
        let mut c = Change::new(address.clone(), Kind::Removed);
        let stateful = stateful_type(address);
        c.destructive = stateful.is_some();
        if is_iam_member(address) {
            c.summary = iam_summary(fields, "revoke");
        } else if let Some(s) = stateful {
            c.summary = Some(format!("destroyed: {}", s.loses));
        }
        out.push(c);
    }
    out.extend(environment_files(old, new));
    out
}

/// A resource present on both sides: changed in place, replaced, or (IAM) revoked and granted.
fn changed(address: &str, old: &Fields, new: &Fields) -> Option<Change> {
    let details = diff_fields(old, new);
    if details.is_empty() {
        return None;
    }
    let stateful = stateful_type(address);
    let forcing: Vec<&str> = match stateful {
        Some(s) => details.iter().filter(|d| forces_replacement(&d.path, s.immutable)).map(|d| d.path.as_str()).collect(),
        None => Vec::new(),
    };
    let mut c = Change::new(address, if forcing.is_empty() { Kind::Changed } else { Kind::Replaced });
    if let (false, Some(s)) = (forcing.is_empty(), stateful) {
        c.destructive = true;
        c.summary = Some(format!("destroyed and re-created ({} can't change in place): {}", forcing.join(", "), s.loses));
    } else if is_iam_member(address) {
        c.summary = match (iam_summary(old, "revoke"), iam_summary(new, "grant")) {
            (Some(r), Some(g)) => Some(format!("{r}; {g}")),
            (r, g) => r.or(g),
        };
    }
    c.details = details;
    Some(c)
}

/// `terraform/env/<env>.tfvars` (variable values) and `<env>.backend.hcl` (where state lives).
fn environment_files(old: &Files, new: &Files) -> Vec<Change> {
    let is_env_file = |p: &str| p.starts_with("terraform/env/") && (p.ends_with(".tfvars") || p.ends_with(".hcl"));
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).filter(|p| is_env_file(p)).collect();
    let mut out = Vec::new();
    for path in paths {
        let parse = |files: &Files| files.get(path).and_then(|t| hcl_flat::attributes(t));
        let subject = path.trim_start_matches("terraform/").to_owned();
        let backend = path.ends_with(".backend.hcl");
        let mut c = match (parse(old), parse(new)) {
            (Some(a), Some(b)) => {
                let details = diff_fields(&a, &b);
                if details.is_empty() {
                    continue;
                }
                let mut c = Change::new(subject, Kind::Changed);
                c.details = details;
                c
            }
            (None, Some(_)) => Change::new(subject, Kind::Added),
            (Some(_), None) => Change::new(subject, Kind::Removed),
            (None, None) => continue,
        };
        if backend && c.kind != Kind::Added {
            c.destructive = true;
            c.summary = Some("the state backend moves: run terraform init -migrate-state before applying".into());
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn files(tf: &str) -> Files {
        Files::from([("terraform/main.tf".to_owned(), tf.to_owned())])
    }

    #[test]
    fn reports_added_removed_changed_and_destructive() {
        let old = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n  versioning {\n    enabled = false\n  }\n}\nresource \"google_storage_bucket\" \"old\" {\n  name = \"o\"\n}\n");
        let new = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n  versioning {\n    enabled = true\n  }\n}\nresource \"google_storage_bucket_iam_member\" \"r\" {\n  bucket = google_storage_bucket.data.name\n  role = \"roles/storage.objectViewer\"\n  member = \"serviceAccount:x\"\n}\n");
        let c = changes(&old, &new);
        let seen: Vec<_> = c.iter().map(|c| (c.subject.as_str(), c.kind, c.destructive)).collect();
        assert!(seen.contains(&("google_storage_bucket.old", Kind::Removed, true)));
        assert!(seen.contains(&("google_storage_bucket.data", Kind::Changed, false)));
        assert!(seen.contains(&("google_storage_bucket_iam_member.r", Kind::Added, false)));
        let data = c.iter().find(|c| c.subject == "google_storage_bucket.data").map(|c| c.details.clone()).unwrap_or_default();
        assert_eq!(data[0].path, "versioning[0].enabled");
        assert_eq!((data[0].old.as_deref(), data[0].new.as_deref()), (Some("false"), Some("true")));
        let grant = c.iter().find(|c| c.kind == Kind::Added).and_then(|c| c.summary.clone());
        assert_eq!(grant.as_deref(), Some("grant roles/storage.objectViewer to serviceAccount:x on google_storage_bucket.data"));
    }

    #[test]
    fn a_block_moved_to_another_file_is_no_change_and_unchanged_files_add_nothing() {
        let bucket = "resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n}\n";
        let topic = "resource \"google_pubsub_topic\" \"t\" {\n  name = \"t\"\n}\n";
        let module = |pairs: &[(&str, &str)]| -> Files { pairs.iter().map(|(p, t)| (format!("terraform/{p}"), (*t).to_owned())).collect() };
        let old = module(&[("a.tf", bucket), ("b.tf", ""), ("c.tf", topic)]);
        let new = module(&[("a.tf", ""), ("b.tf", bucket), ("c.tf", topic)]);
        assert!(changes(&old, &new).is_empty(), "{:?}", changes(&old, &new));
        let grown = module(&[("a.tf", ""), ("b.tf", &format!("{bucket}{}", topic.replace("\"t\" {", "\"u\" {"))), ("c.tf", topic)]);
        let added: Vec<String> = changes(&old, &grown).into_iter().map(|c| c.subject).collect();
        assert_eq!(added, ["google_pubsub_topic.u"]);
        // A second `terraform` block (allowed) in a file that changes, beside an unchanged one.
        let versions = "terraform {\n  required_version = \">= 1.5\"\n}\n";
        let edited = module(&[("a.tf", &format!("{bucket}{versions}")), ("v.tf", versions)]);
        let regenerated = module(&[("a.tf", bucket), ("v.tf", versions)]);
        assert!(changes(&edited, &regenerated).is_empty(), "{:?}", changes(&edited, &regenerated));
    }

    #[test]
    fn renaming_a_bucket_is_a_replacement() {
        let old = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n}\n");
        let new = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"b\"\n}\n");
        let c = changes(&old, &new);
        assert_eq!((c[0].kind, c[0].destructive), (Kind::Replaced, true));
        assert_eq!(c[0].summary.as_deref(), Some("destroyed and re-created (name can't change in place): its objects are deleted"));
    }

    #[test]
    fn iam_scopes_read_as_resources_or_literals() {
        let project = fields(&[("project", "var.project_id"), ("role", "\"roles/x\""), ("member", "google_service_account.ci.member")]);
        assert_eq!(iam_summary(&project, "grant").as_deref(), Some("grant roles/x to google_service_account.ci on project var.project_id"));
        let dataset = fields(&[("dataset_id", "\"ds\""), ("role", "\"roles/y\""), ("member", "\"user:a@b\"")]);
        assert_eq!(iam_summary(&dataset, "revoke").as_deref(), Some("revoke roles/y from user:a@b on dataset ds"));
    }

    #[test]
    fn backend_moves_are_destructive_and_tfvars_are_details() {
        let old = Files::from([
            ("terraform/env/dev.backend.hcl".to_owned(), "prefix = \"a\"\n".to_owned()),
            ("terraform/env/dev.tfvars".to_owned(), "region = \"x\"\n".to_owned()),
        ]);
        let new = Files::from([
            ("terraform/env/dev.backend.hcl".to_owned(), "prefix = \"b\"\n".to_owned()),
            ("terraform/env/dev.tfvars".to_owned(), "region = \"y\"\n".to_owned()),
        ]);
        let c = changes(&old, &new);
        let seen: Vec<_> = c.iter().map(|c| (c.subject.as_str(), c.destructive, c.details[0].path.as_str())).collect();
        assert_eq!(seen, [("env/dev.backend.hcl", true, "prefix"), ("env/dev.tfvars", false, "region")]);
    }
}
