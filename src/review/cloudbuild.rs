//! Cloud Build (`cloudbuild/<name>.yaml`): steps added, removed or changed by step id (a step's
//! `name` is its builder image), and the build-level settings (`options`, `substitutions`,
//! `timeout`, `availableSecrets`, `images`…) as one `<file> / settings` change.
//!
//! Destructive: a deploy's `prune-schedules` step removed (or the whole config that had one),
//! after which Vertex AI schedules the spec drops are never deleted and keep starting runs.

use super::{compare_keyed, diff_fields, files_under, flatten_json, Change, Fields, Kind};
use super::Files;
use crate::model::delivery::PRUNE_STEP;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a deploy that stops pruning schedules is flagged: the change that drops the last Vertex AI
/// schedule also drops the step that would delete it, and Vertex AI keeps starting its runs.
const PRUNING_STOPS: &str = "schedules this change drops keep running on Vertex AI: nothing deletes them any more \
                             (set `ci.prune_schedules: true` until this change has reached every environment)";

/// Why removing a config that pruned schedules is flagged (`ci` removed): no deploy deletes them.
const PRUNING_GONE: &str = "no deploy deletes the Vertex AI schedules mlopsgen made any more: they keep starting runs \
                            until deleted by hand (`gcloud ai schedules delete`)";

/// Steps by id (`#<index>` without one) and the other top-level fields.
fn parse(text: &str) -> (BTreeMap<String, Fields>, Fields) {
    let Ok(doc) = crate::spec::yaml::parse(text) else { return Default::default() };
    let mut steps = BTreeMap::new();
    for (i, step) in doc.value.get("steps").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let id = step.get("id").and_then(Value::as_str).map_or_else(|| format!("#{i}"), str::to_owned);
        let mut fields = Fields::new();
        flatten_json(step, "", &mut fields);
        fields.remove("id");
        steps.insert(id, fields);
    }
    let mut settings = Fields::new();
    if let Some(map) = doc.value.as_object() {
        for (key, value) in map.iter().filter(|(k, _)| k.as_str() != "steps") {
            flatten_json(value, key, &mut settings);
        }
    }
    (steps, settings)
}

/// Cloud Build changes between two versions.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, text) in files_under(new, "cloudbuild/", ".yaml") {
        let file = path.trim_start_matches("cloudbuild/");
        let Some(prev) = old.get(path) else {
            let mut c = Change::new(file.to_owned(), Kind::Added);
            c.summary = Some(format!("{} step(s)", parse(text).0.len()));
            out.push(c);
            continue;
        };
        let ((s0, c0), (s1, c1)) = (parse(prev), parse(text));
        let settings = diff_fields(&c0, &c1);
        if !settings.is_empty() {
            let mut c = Change::new(format!("{file} / settings"), Kind::Changed);
            c.details = settings;
            out.push(c);
        }
        for (id, mut c) in compare_keyed(&s0, &s1, |id| format!("{file} / step {id}")) {
            c.summary = match c.kind {
                Kind::Added => s1.get(&id).and_then(|f| f.get("name")).map(|n| format!("runs {n}")),
                Kind::Removed if id == PRUNE_STEP => {
                    c.destructive = true;
                    Some(PRUNING_STOPS.to_owned())
                }
                _ => c.details.iter().any(|d| d.path == "name").then(|| "builder image changed".to_owned()),
            };
            out.push(c);
        }
    }
    for (path, text) in files_under(old, "cloudbuild/", ".yaml").filter(|(p, _)| !new.contains_key(*p)) {
        let mut c = Change::new(path.trim_start_matches("cloudbuild/").to_owned(), Kind::Removed);
        if parse(text).0.contains_key(PRUNE_STEP) {
            c.destructive = true;
            c.summary = Some(PRUNING_GONE.to_owned());
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_that_pruned_schedules_removed_is_destructive() {
        let cd = "steps:\n  - id: upload\n    name: gcloud\n  - id: prune-schedules\n    name: gcloud\n";
        let pr = "steps:\n  - id: test\n    name: python\n";
        let old = Files::from([("cloudbuild/cd.yaml".to_owned(), cd.to_owned()), ("cloudbuild/pr.yaml".to_owned(), pr.to_owned())]);
        let c = changes(&old, &Files::new());
        let seen: Vec<_> = c.iter().map(|c| (c.subject.as_str(), c.kind, c.destructive)).collect();
        assert_eq!(seen, [("cd.yaml", Kind::Removed, true), ("pr.yaml", Kind::Removed, false)]);
        assert!(c[0].summary.as_deref().is_some_and(|s| s.contains("gcloud ai schedules delete")));
    }

    #[test]
    fn reports_steps_and_settings() {
        let old = "steps:\n  - id: a\n    name: img:1\n    args: [x]\n  - id: b\n    name: img:1\ntimeout: 60s\n";
        let new = "steps:\n  - id: a\n    name: img:2\n    args: [x]\n  - id: c\n    name: img:1\ntimeout: 90s\n";
        let c = changes(
            &Files::from([("cloudbuild/cd.yaml".to_owned(), old.to_owned())]),
            &Files::from([("cloudbuild/cd.yaml".to_owned(), new.to_owned())]),
        );
        let seen: Vec<_> = c.iter().map(|c| (c.subject.as_str(), c.kind, c.summary.as_deref())).collect();
        assert_eq!(
            seen,
            [
                ("cd.yaml / settings", Kind::Changed, None),
                ("cd.yaml / step a", Kind::Changed, Some("builder image changed")),
                ("cd.yaml / step c", Kind::Added, Some("runs img:1")),
                ("cd.yaml / step b", Kind::Removed, None),
            ]
        );
    }
}
