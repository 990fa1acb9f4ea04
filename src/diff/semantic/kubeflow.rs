//! Pipelines: tasks added/removed, changed images, args, resources and edges; parameters added,
//! removed or with new defaults. Read from the PipelineSpec JSON of each environment.

use super::{diff_fields, files_under, flatten_json, Change, Detail, Kind, Target};
use crate::diff::Files;
use serde_json::Value;
use std::collections::BTreeMap;

/// `pipelines/<env>/<name>.json` → `<name> (<env>)`.
fn label(path: &str) -> String {
    let rest = path.trim_start_matches("pipelines/").trim_end_matches(".json");
    match rest.split_once('/') {
        Some((env, name)) => format!("{name} ({env})"),
        None => rest.to_owned(),
    }
}

/// Every task of a pipeline (root DAG and sub-DAGs), flattened with its executor.
fn tasks(spec: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut dags = vec![spec.pointer("/root/dag/tasks")];
    if let Some(components) = spec.get("components").and_then(Value::as_object) {
        dags.extend(components.values().map(|c| c.pointer("/dag/tasks")));
    }
    for tasks in dags.into_iter().flatten().filter_map(Value::as_object) {
        for (name, task) in tasks {
            let mut fields = BTreeMap::new();
            let mut task = task.clone();
            if let Some(map) = task.as_object_mut() {
                map.remove("componentRef");
                map.remove("taskInfo");
            }
            flatten_json(&task, "", &mut fields);
            let component = task_component(spec, name, tasks);
            if let Some(container) = component.and_then(|c| executor(spec, c)) {
                flatten_json(container, "container", &mut fields);
            }
            out.insert(name.clone(), fields);
        }
    }
    out
}

fn task_component<'a>(spec: &'a Value, task: &str, tasks: &serde_json::Map<String, Value>) -> Option<&'a Value> {
    let name = tasks.get(task)?.pointer("/componentRef/name")?.as_str()?;
    spec.get("components")?.get(name)
}

fn executor<'a>(spec: &'a Value, component: &Value) -> Option<&'a Value> {
    let label = component.get("executorLabel")?.as_str()?;
    let exec = spec.pointer("/deploymentSpec/executors")?.get(label)?;
    exec.get("container").or_else(|| exec.get("importer"))
}

fn parameters(spec: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(params) = spec.pointer("/root/inputDefinitions/parameters") {
        flatten_json(params, "", &mut out);
    }
    out
}

fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// Label → text of every pipeline file that parses.
fn valid_pipelines(files: &Files) -> BTreeMap<String, &str> {
    files_under(files, "pipelines/", ".json").filter(|(_, t)| parse(t).is_some()).map(|(p, t)| (label(p), t.as_str())).collect()
}

/// Pipeline changes between two versions.
///
/// Files that aren't valid JSON are skipped; one pipeline's two versions are parsed at a time, so
/// memory stays at one pipeline's worth whatever the number of pipelines.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let (before, after) = (valid_pipelines(old), valid_pipelines(new));
    let mut out = Vec::new();
    for (name, text) in &after {
        let Some(prev) = before.get(name).and_then(|t| parse(t)) else {
            out.push(Change::new(Target::Kubeflow, format!("pipeline {name}"), Kind::Added));
            continue;
        };
        let Some(spec) = parse(text) else { continue };
        let (prev, spec) = (&prev, &spec);
        let (t0, t1) = (tasks(prev), tasks(spec));
        for (task, fields) in &t1 {
            match t0.get(task) {
                None => out.push(Change::new(Target::Kubeflow, format!("{name} / task {task}"), Kind::Added)),
                Some(f0) => {
                    let details = diff_fields(f0, fields);
                    if !details.is_empty() {
                        let mut c = Change::new(Target::Kubeflow, format!("{name} / task {task}"), Kind::Changed);
                        c.summary = summarize(&details);
                        c.details = details;
                        out.push(c);
                    }
                }
            }
        }
        for task in t0.keys().filter(|t| !t1.contains_key(*t)) {
            out.push(Change::new(Target::Kubeflow, format!("{name} / task {task}"), Kind::Removed));
        }
        let details = diff_fields(&parameters(prev), &parameters(spec));
        if !details.is_empty() {
            let mut c = Change::new(Target::Kubeflow, format!("{name} / parameters"), Kind::Changed);
            c.details = details;
            out.push(c);
        }
    }
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        out.push(Change::new(Target::Kubeflow, format!("pipeline {name}"), Kind::Removed));
    }
    out
}

/// Names the kinds of change a reviewer cares about most.
fn summarize(details: &[Detail]) -> Option<String> {
    let mut parts = Vec::new();
    let has = |p: &str| details.iter().any(|d| d.path.starts_with(p));
    if has("container.image") {
        parts.push("image");
    }
    if has("container.args") || has("container.command") {
        parts.push("command/args");
    }
    if has("container.resources") {
        parts.push("resources");
    }
    if has("dependentTasks") || has("inputs") {
        parts.push("inputs/edges");
    }
    if has("triggerPolicy") {
        parts.push("condition");
    }
    (!parts.is_empty()).then(|| format!("{} changed", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(image: &str, default: f64, extra_task: bool) -> String {
        let mut tasks = serde_json::json!({"train": {"componentRef": {"name": "comp-train"}, "taskInfo": {"name": "train"}}});
        if extra_task {
            tasks["eval"] = serde_json::json!({"componentRef": {"name": "comp-train"}, "dependentTasks": ["train"]});
        }
        serde_json::json!({
            "components": {"comp-train": {"executorLabel": "exec-train"}},
            "deploymentSpec": {"executors": {"exec-train": {"container": {"image": image, "args": ["--x"]}}}},
            "root": {"dag": {"tasks": tasks}, "inputDefinitions": {"parameters": {"lr": {"defaultValue": default, "parameterType": "NUMBER_DOUBLE"}}}}
        })
        .to_string()
    }

    #[test]
    fn reports_image_task_and_parameter_changes() {
        let old = Files::from([("pipelines/dev/training.json".to_owned(), pipeline("img:1", 0.1, true))]);
        let new = Files::from([("pipelines/dev/training.json".to_owned(), pipeline("img:2", 0.2, false))]);
        let c = changes(&old, &new);
        let seen: Vec<_> = c.iter().map(|c| (c.subject.as_str(), c.kind)).collect();
        assert_eq!(
            seen,
            [
                ("training (dev) / task train", Kind::Changed),
                ("training (dev) / task eval", Kind::Removed),
                ("training (dev) / parameters", Kind::Changed),
            ]
        );
        assert_eq!(c[0].summary.as_deref(), Some("image changed"));
        assert_eq!(c[2].details[0].path, "lr.defaultValue");
    }
}
