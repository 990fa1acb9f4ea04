//! Terraform: resources by address, with changed argument paths; IAM members as grants/revokes;
//! state-bearing resources removed or replaced flagged as destructive.

use super::{diff_fields, files_under, Change, Kind, Target};
use crate::diff::Files;
use hcl::{Block, Body, Structure};
use std::collections::BTreeMap;

/// Resource types whose removal or replacement loses data or breaks consumers.
const STATEFUL: [&str; 12] = [
    "google_storage_bucket",
    "google_vertex_ai_endpoint",
    "google_vertex_ai_feature_online_store",
    "google_vertex_ai_feature_group",
    "google_vertex_ai_feature_group_feature",
    "google_vertex_ai_feature_online_store_featureview",
    "google_vertex_ai_tensorboard",
    "google_bigquery_dataset",
    "google_artifact_registry_repository",
    "google_composer_environment",
    "google_secret_manager_secret",
    "google_service_account",
];

/// Arguments whose change forces Terraform to replace the resource (for the types above).
const FORCES_REPLACEMENT: [&str; 10] =
    ["name", "location", "region", "project", "repository_id", "dataset_id", "account_id", "format", "secret_id", "feature_online_store"];

/// A parsed resource: flattened arguments.
type Resources = BTreeMap<String, BTreeMap<String, String>>;

fn parse(files: &Files) -> Resources {
    let mut out = Resources::new();
    for (_, text) in files_under(files, "terraform/", ".tf") {
        let Ok(body) = hcl::parse(text) else { continue };
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
            let address = match (block.identifier.as_str(), labels.as_slice()) {
                ("resource", [ty, name]) => format!("{ty}.{name}"),
                ("data", [ty, name]) => format!("data.{ty}.{name}"),
                ("module", [name]) => format!("module.{name}"),
                ("output" | "variable", [name]) => format!("{}.{name}", block.identifier.as_str()),
                _ => continue,
            };
            let mut fields = BTreeMap::new();
            flatten(&block.body, "", &mut fields);
            out.insert(address, fields);
        }
    }
    out
}

fn flatten(body: &Body, prefix: &str, out: &mut BTreeMap<String, String>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let value = hcl::format::to_string(&a.expr).unwrap_or_default();
                out.insert(format!("{prefix}{}", a.key.as_str()), value.trim().to_owned());
            }
            Structure::Block(b) => {
                let n = counts.entry(block_key(b)).or_insert(0);
                let p = format!("{prefix}{}[{n}].", block_key(b));
                *n += 1;
                flatten(&b.body, &p, out);
            }
        }
    }
}

fn block_key(b: &Block) -> String {
    let mut key = b.identifier.as_str().to_owned();
    for l in &b.labels {
        key.push(':');
        key.push_str(l.as_str());
    }
    key
}

fn resource_type(address: &str) -> &str {
    address.split('.').next().unwrap_or("")
}

/// `grant roles/x to member on <scope>` for IAM member resources.
fn iam_summary(address: &str, fields: &BTreeMap<String, String>, verb: &str) -> Option<String> {
    if !resource_type(address).ends_with("_iam_member") {
        return None;
    }
    let unquote = |s: &String| s.trim_matches('"').to_owned();
    let role = fields.get("role").map(unquote)?;
    let member = fields.get("member").map(unquote).unwrap_or_default();
    let scope = ["bucket", "repository", "service_account_id", "project", "secret_id"]
        .iter()
        .find_map(|k| fields.get(*k).map(|v| format!("{} {}", k.replace('_', " "), unquote(v))))
        .unwrap_or_default();
    let preposition = if verb == "grant" { "to" } else { "from" };
    Some(format!("{verb} {role} {preposition} {member} on {scope}").trim_end_matches(" on ").to_owned())
}

/// Terraform changes between two versions.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let (before, after) = (parse(old), parse(new));
    let mut out = Vec::new();
    for (address, fields) in &after {
        let stateful = STATEFUL.contains(&resource_type(address));
        match before.get(address) {
            None => {
                let mut c = Change::new(Target::Terraform, address.clone(), Kind::Added);
                c.summary = iam_summary(address, fields, "grant");
                out.push(c);
            }
            Some(old_fields) => {
                let details = diff_fields(old_fields, fields);
                if details.is_empty() {
                    continue;
                }
                let replaced = stateful && details.iter().any(|d| FORCES_REPLACEMENT.contains(&d.path.as_str()));
                let kind = if replaced { Kind::Replaced } else { Kind::Changed };
                let mut c = Change::new(Target::Terraform, address.clone(), kind);
                c.destructive = replaced;
                if resource_type(address).ends_with("_iam_member") {
                    c.summary = match (iam_summary(address, old_fields, "revoke"), iam_summary(address, fields, "grant")) {
                        (Some(r), Some(g)) => Some(format!("{r}; {g}")),
                        (r, g) => r.or(g),
                    };
                }
                c.details = details;
                out.push(c);
            }
        }
    }
    for (address, fields) in &before {
        if !after.contains_key(address) {
            let mut c = Change::new(Target::Terraform, address.clone(), Kind::Removed);
            c.destructive = STATEFUL.contains(&resource_type(address));
            c.summary = iam_summary(address, fields, "revoke");
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(tf: &str) -> Files {
        Files::from([("terraform/main.tf".to_owned(), tf.to_owned())])
    }

    #[test]
    fn reports_added_removed_changed_and_destructive() {
        let old = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n  versioning {\n    enabled = false\n  }\n}\nresource \"google_storage_bucket\" \"old\" {\n  name = \"o\"\n}\n");
        let new = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n  versioning {\n    enabled = true\n  }\n}\nresource \"google_storage_bucket_iam_member\" \"r\" {\n  bucket = \"a\"\n  role = \"roles/storage.objectViewer\"\n  member = \"serviceAccount:x\"\n}\n");
        let c = changes(&old, &new);
        let seen: Vec<_> = c.iter().map(|c| (c.subject.as_str(), c.kind, c.destructive)).collect();
        assert!(seen.contains(&("google_storage_bucket.old", Kind::Removed, true)));
        assert!(seen.contains(&("google_storage_bucket.data", Kind::Changed, false)));
        assert!(seen.contains(&("google_storage_bucket_iam_member.r", Kind::Added, false)));
        let data = c.iter().find(|c| c.subject == "google_storage_bucket.data").map(|c| c.details.clone()).unwrap_or_default();
        assert_eq!(data[0].path, "versioning[0].enabled");
        assert_eq!((data[0].old.as_deref(), data[0].new.as_deref()), (Some("false"), Some("true")));
        let grant = c.iter().find(|c| c.kind == Kind::Added).and_then(|c| c.summary.clone());
        assert_eq!(grant.as_deref(), Some("grant roles/storage.objectViewer to serviceAccount:x on bucket a"));
    }

    #[test]
    fn renaming_a_bucket_is_a_replacement() {
        let old = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"a\"\n}\n");
        let new = files("resource \"google_storage_bucket\" \"data\" {\n  name = \"b\"\n}\n");
        let c = changes(&old, &new);
        assert_eq!((c[0].kind, c[0].destructive), (Kind::Replaced, true));
    }
}
