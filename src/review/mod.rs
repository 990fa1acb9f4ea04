//! Semantic review: what a change to the generated files means, per target.
//!
//! Each module reads both versions of one target's files (hcl-rs for Terraform, serde for
//! pipeline JSON and data contracts, the YAML layer for Cloud Build, light line readers for the
//! fixed shapes of generated DAGs and Dockerfiles) and reports changes keyed by stable identities:
//! resource addresses, task names, DAG files, step ids, images, datasets. Destructive changes
//! (state-bearing resources removed or replaced) are flagged so reports can put them first.
//!
//! This layer knows formats, not targets: the registry ([`crate::targets::TARGETS`]) says which
//! review reads which target's files, stamps each change with the target's id and orders them.

pub mod airflow;
pub mod cloudbuild;
pub mod docker;
mod hcl_flat;
pub mod kubeflow;
pub use kubeflow::touched_tasks;
pub mod terraform;
pub mod validation;

pub use crate::output::Files;
use serde::Serialize;
use std::collections::BTreeMap;

/// Field path → value, flattened.
type Fields = BTreeMap<String, String>;

/// What happened to a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// It appears.
    Added,
    /// It disappears.
    Removed,
    /// It changes in place.
    Changed,
    /// It is destroyed and created again (a forced replacement).
    Replaced,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// Field path inside the subject, e.g. `lifecycle_rule[0].condition.age`.
    pub path: String,
    /// Old value, if any.
    pub old: Option<String>,
    /// New value, if any.
    pub new: Option<String>,
}

/// One semantic change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The id of the target whose files changed (`terraform`, `kubeflow` …; see
    /// [`crate::targets::Target::id`]), set by the registry when it runs the review.
    pub target: &'static str,
    /// Stable identity, e.g. `google_storage_bucket.data` or `training (dev) / task train`.
    pub subject: String,
    /// What happened.
    pub kind: Kind,
    /// Whether state may be lost (a bucket, endpoint, feature store… removed or replaced).
    pub destructive: bool,
    /// A one-line description for people, e.g. `grant roles/storage.objectViewer to … on bucket data`.
    pub summary: Option<String>,
    /// Changed fields.
    pub details: Vec<Detail>,
}

impl Change {
    fn new(subject: impl Into<String>, kind: Kind) -> Self {
        Change { target: "", subject: subject.into(), kind, destructive: false, summary: None, details: Vec::new() }
    }
}

/// Files of one target folder, with the folder prefix.
fn files_under<'a>(files: &'a Files, prefix: &'a str, ext: &'a str) -> impl Iterator<Item = (&'a String, &'a String)> {
    files.iter().filter(move |(p, _)| p.starts_with(prefix) && p.ends_with(ext))
}

/// Changes between two keyed collections of flat fields (tasks, steps, contracts…): added,
/// removed, or changed with their details; each with its key, so callers can add summaries.
fn compare_keyed(
    before: &BTreeMap<String, Fields>,
    after: &BTreeMap<String, Fields>,
    subject: impl Fn(&str) -> String,
) -> Vec<(String, Change)> {
    let mut out = Vec::new();
    for (key, fields) in after {
        let change = match before.get(key) {
            None => Change::new(subject(key), Kind::Added),
            Some(prev) => {
                let details = diff_fields(prev, fields);
                if details.is_empty() {
                    continue;
                }
                let mut c = Change::new(subject(key), Kind::Changed);
                c.details = details;
                c
            }
        };
        out.push((key.clone(), change));
    }
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        out.push((key.clone(), Change::new(subject(key), Kind::Removed)));
    }
    out
}

/// Compares two flat `path → value` maps into details.
fn diff_fields(old: &Fields, new: &Fields) -> Vec<Detail> {
    let mut details = Vec::new();
    for (k, v) in new {
        match old.get(k) {
            Some(o) if o == v => {}
            o => details.push(Detail { path: k.clone(), old: o.cloned(), new: Some(v.clone()) }),
        }
    }
    for (k, v) in old {
        if !new.contains_key(k) {
            details.push(Detail { path: k.clone(), old: Some(v.clone()), new: None });
        }
    }
    details.sort_by(|a, b| a.path.cmp(&b.path));
    details
}

/// Each entry of a JSON object (absent: none), flattened with [`flatten_json`]: key → fields.
fn flatten_entries(object: Option<&serde_json::Value>) -> BTreeMap<String, Fields> {
    let entries = object.and_then(serde_json::Value::as_object).into_iter().flatten();
    entries
        .map(|(name, v)| {
            let mut fields = Fields::new();
            flatten_json(v, "", &mut fields);
            (name.clone(), fields)
        })
        .collect()
}

/// Flattens a JSON value into `path → compact JSON` leaves.
fn flatten_json(v: &serde_json::Value, prefix: &str, out: &mut Fields) {
    match v {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, item) in map {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_json(item, &p, out);
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() && items.iter().any(|i| i.is_object()) => {
            for (i, item) in items.iter().enumerate() {
                flatten_json(item, &format!("{prefix}[{i}]"), out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}
