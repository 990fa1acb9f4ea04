//! Airflow DAGs: schedules and task ids, read from the generated DAG files.

use super::{files_under, Change, Detail, Kind, Target};
use crate::diff::Files;
use std::collections::BTreeSet;

/// What a reviewer needs from a DAG file: its schedule and task ids (string literals after
/// `schedule=` and `task_id=`; mlopsgen writes both as plain Python string literals).
#[derive(Debug, Default, PartialEq, Eq)]
struct Dag {
    schedule: Option<String>,
    tasks: BTreeSet<String>,
}

fn literal_after<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.match_indices(key)
        .filter_map(|(i, _)| {
            let rest = text[i + key.len()..].trim_start();
            let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            let end = rest[1..].find(quote)?;
            Some(&rest[1..1 + end])
        })
        .collect()
}

fn parse(text: &str) -> Dag {
    Dag {
        schedule: literal_after(text, "schedule=").first().map(|s| (*s).to_owned()),
        tasks: literal_after(text, "task_id=").into_iter().map(str::to_owned).collect(),
    }
}

fn label(path: &str) -> String {
    let rest = path.trim_start_matches("dags/").trim_end_matches(".py");
    match rest.split_once('/') {
        Some((env, name)) => format!("DAG {name} ({env})"),
        None => format!("DAG {rest}"),
    }
}

/// DAG changes between two versions.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, text) in files_under(new, "dags/", ".py") {
        let subject = label(path);
        let Some(prev) = old.get(path) else {
            out.push(Change::new(Target::Airflow, subject, Kind::Added));
            continue;
        };
        let (d0, d1) = (parse(prev), parse(text));
        let mut details = Vec::new();
        if d0.schedule != d1.schedule {
            details.push(Detail { path: "schedule".into(), old: d0.schedule.clone(), new: d1.schedule.clone() });
        }
        for t in d1.tasks.difference(&d0.tasks) {
            details.push(Detail { path: format!("task {t}"), old: None, new: Some("added".into()) });
        }
        for t in d0.tasks.difference(&d1.tasks) {
            details.push(Detail { path: format!("task {t}"), old: Some("removed".into()), new: None });
        }
        if !details.is_empty() || prev.as_str() != text.as_str() {
            let mut c = Change::new(Target::Airflow, subject, Kind::Changed);
            c.details = details;
            out.push(c);
        }
    }
    for (path, _) in files_under(old, "dags/", ".py").filter(|(p, _)| !new.contains_key(*p)) {
        out.push(Change::new(Target::Airflow, label(path), Kind::Removed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_schedule_and_task_changes() {
        let old = Files::from([("dags/dev/t.py".to_owned(), "DAG(schedule=\"0 3 * * *\")\nA(task_id=\"run\")\n".to_owned())]);
        let new = Files::from([("dags/dev/t.py".to_owned(), "DAG(schedule=\"0 4 * * *\")\nA(task_id=\"run\")\nB(task_id='wait')\n".to_owned())]);
        let c = changes(&old, &new);
        assert_eq!(c[0].subject, "DAG t (dev)");
        let d: Vec<_> = c[0].details.iter().map(|d| (d.path.as_str(), d.old.as_deref(), d.new.as_deref())).collect();
        assert_eq!(d, [("schedule", Some("0 3 * * *"), Some("0 4 * * *")), ("task wait", None, Some("added"))]);
    }
}
