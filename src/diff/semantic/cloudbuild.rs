//! Cloud Build: steps added, removed or changed, by step id.

use super::{diff_fields, files_under, flatten_json, Change, Kind, Target};
use crate::diff::Files;
use serde_json::Value;
use std::collections::BTreeMap;

fn steps(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let Ok(doc) = crate::spec::yaml::parse(text) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for (i, step) in doc.value.get("steps").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let id = step.get("id").and_then(Value::as_str).map_or_else(|| format!("#{i}"), str::to_owned);
        let mut fields = BTreeMap::new();
        flatten_json(step, "", &mut fields);
        out.insert(id, fields);
    }
    out
}

/// Cloud Build changes between two versions.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, text) in files_under(new, "cloudbuild/", ".yaml") {
        let file = path.trim_start_matches("cloudbuild/");
        let Some(prev) = old.get(path) else {
            out.push(Change::new(Target::Cloudbuild, file.to_owned(), Kind::Added));
            continue;
        };
        let (s0, s1) = (steps(prev), steps(text));
        for (id, fields) in &s1 {
            let subject = format!("{file} / step {id}");
            match s0.get(id) {
                None => out.push(Change::new(Target::Cloudbuild, subject, Kind::Added)),
                Some(f0) => {
                    let details = diff_fields(f0, fields);
                    if !details.is_empty() {
                        let mut c = Change::new(Target::Cloudbuild, subject, Kind::Changed);
                        c.details = details;
                        out.push(c);
                    }
                }
            }
        }
        for id in s0.keys().filter(|id| !s1.contains_key(*id)) {
            out.push(Change::new(Target::Cloudbuild, format!("{file} / step {id}"), Kind::Removed));
        }
    }
    for (path, _) in files_under(old, "cloudbuild/", ".yaml").filter(|(p, _)| !new.contains_key(*p)) {
        out.push(Change::new(Target::Cloudbuild, path.trim_start_matches("cloudbuild/").to_owned(), Kind::Removed));
    }
    out
}
