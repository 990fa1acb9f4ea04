//! Airflow DAGs (`dags/<env>/<name>.py`, reported as `DAG <name> (<env>)`): schedule, task ids,
//! task dependencies and the module-level settings (`PROJECT_ID = …`, `TEMPLATE_PATH = …`).
//!
//! mlopsgen writes DAG files in a fixed shape, so a light reader suffices: the schedule is the
//! `schedule=` argument (its cron string when wrapped in a timetable), tasks are `task_id=`
//! literals, dependencies are `a >> b` lines, settings are top-level `UPPER_CASE = value`
//! assignments, which may span lines until their brackets close.

use super::{diff_fields, files_under, Change, Detail, Kind};
use super::Files;
use std::collections::BTreeMap;

/// A Python string literal at the start of `text`: its contents.
fn string_literal(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = text[1..].find(quote)?;
    Some(&text[1..1 + end])
}

/// The rest of the line after `key`, for each occurrence.
fn after<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> {
    text.lines().filter_map(move |l| l.find(key).map(|i| l[i + key.len()..].trim()))
}

/// `schedule="@daily",` → `@daily`; `schedule=CronTriggerTimetable("0 3 * * *", …),` →
/// `0 3 * * *`; anything else (`None`, a dataset) → its expression.
fn schedule(text: &str) -> Option<String> {
    let expr = after(text, "schedule=").next()?.trim_end_matches(',');
    if let Some(s) = string_literal(expr) {
        return Some(s.to_owned());
    }
    let inner = expr.find('(').map(|i| expr[i + 1..].trim_start()).and_then(string_literal);
    Some(inner.map_or_else(|| expr.to_owned(), str::to_owned))
}

/// Top-level `UPPER_CASE = value` assignments, values on one line.
fn settings(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(" = ") else { continue };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            continue;
        }
        let mut value = value.trim().to_owned();
        while depth(&value) > 0 {
            let Some(next) = lines.next() else { break };
            value.push(' ');
            value.push_str(next.trim());
        }
        out.insert(name.to_owned(), value.replace("[ ", "[").replace("{ ", "{").replace(", ]", "]").replace(", }", "}"));
    }
    out
}

/// Open brackets minus closed ones outside string literals.
fn depth(text: &str) -> i32 {
    let (mut depth, mut quote) = (0, None);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => break,
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// What a reviewer needs from a DAG file, as flat fields.
fn fields(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = settings(text).into_iter().map(|(k, v)| (format!("setting {k}"), v)).collect();
    if let Some(s) = schedule(text) {
        out.insert("schedule".into(), s);
    }
    for id in after(text, "task_id=").filter_map(string_literal) {
        out.insert(format!("task {id}"), "present".into());
    }
    let edges: Vec<&str> = text.lines().map(str::trim).filter(|l| l.contains(" >> ") && !l.starts_with('#')).collect();
    if !edges.is_empty() {
        out.insert("dependencies".into(), edges.join("; "));
    }
    out
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
            let mut c = Change::new(subject, Kind::Added);
            c.summary = schedule(text).map(|s| format!("schedule {s}"));
            out.push(c);
            continue;
        };
        if prev == text {
            continue;
        }
        let mut c = Change::new(subject, Kind::Changed);
        c.details = diff_fields(&fields(prev), &fields(text)).into_iter().map(task_detail).collect();
        if c.details.iter().any(|d| d.path == "schedule") {
            c.summary = Some("schedule changed".into());
        }
        out.push(c);
    }
    for (path, _) in files_under(old, "dags/", ".py").filter(|(p, _)| !new.contains_key(*p)) {
        out.push(Change::new(label(path), Kind::Removed));
    }
    out
}

/// `task x: (none) → present` reads better as `task x: → added`.
fn task_detail(mut d: Detail) -> Detail {
    if d.path.starts_with("task ") {
        d.old = d.old.map(|_| "removed".into());
        d.new = d.new.map(|_| "added".into());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAG: &str = "PROJECT_ID = \"p\"\nLABELS = {\n    \"env\": \"dev\",\n}\nwith DAG(\n    dag_id=\"t\",\n    schedule=CronTriggerTimetable(\"0 3 * * *\", timezone=\"UTC\"),\n) as dag:\n    run = A(task_id=\"run\")\n";

    #[test]
    fn reports_schedule_task_and_setting_changes() {
        let new_dag = DAG.replace("0 3", "0 4").replace("\"p\"", "\"q\"") + "    wait = B(task_id='wait')\n    wait >> run\n";
        let old = Files::from([("dags/dev/t.py".to_owned(), DAG.to_owned())]);
        let new = Files::from([("dags/dev/t.py".to_owned(), new_dag)]);
        let c = changes(&old, &new);
        assert_eq!((c[0].subject.as_str(), c[0].summary.as_deref()), ("DAG t (dev)", Some("schedule changed")));
        let d: Vec<_> = c[0].details.iter().map(|d| (d.path.as_str(), d.old.as_deref(), d.new.as_deref())).collect();
        assert_eq!(
            d,
            [
                ("dependencies", None, Some("wait >> run")),
                ("schedule", Some("0 3 * * *"), Some("0 4 * * *")),
                ("setting PROJECT_ID", Some("\"p\""), Some("\"q\"")),
                ("task wait", None, Some("added")),
            ]
        );
    }

    #[test]
    fn multi_line_settings_are_joined() {
        assert_eq!(settings(DAG)["LABELS"], "{\"env\": \"dev\"}");
        assert_eq!(schedule("schedule=\"@daily\",").as_deref(), Some("@daily"));
        assert_eq!(schedule("schedule=None,").as_deref(), Some("None"));
    }
}
