//! Pipelines: tasks added, removed or changed (image, command/args, resources, inputs, edges,
//! condition); parameters added, removed or with new defaults; read from the PipelineSpec JSON of
//! each environment (`pipelines/<env>/<name>.json`, reported as `<name> (<env>)`).
//!
//! A task's fields are paths inside its PipelineSpec task, except that inputs are flattened to
//! `inputs.<name>` holding their effective value (the task's constant, `<task>.<output>` for a
//! data edge, `params.<name>` for a pipeline parameter, else the component's default), and its
//! executor's container is under `container.`, so a custom job's image shows up as
//! `inputs.worker_pool_specs[0].container_spec.image_uri` and a plain step's as `container.image`.

use super::{compare_keyed, diff_fields, files_under, flatten_entries, flatten_json, Change, Detail, Fields, Kind};
use super::Files;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// `pipelines/<env>/<name>.json` → `<name> (<env>)`.
fn label(path: &str) -> String {
    let rest = path.trim_start_matches("pipelines/").trim_end_matches(".json");
    match rest.split_once('/') {
        Some((env, name)) => format!("{name} ({env})"),
        None => rest.to_owned(),
    }
}

/// Tasks of pipeline `name` (any environment) that these changes (of pipeline files) add or change.
pub fn touched_tasks<'a>(changes: impl IntoIterator<Item = &'a Change>, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name} (");
    let mut tasks: Vec<&str> = changes
        .into_iter()
        .filter(|c| matches!(c.kind, Kind::Added | Kind::Changed))
        .filter_map(|c| c.subject.strip_prefix(&prefix)?.split_once(") / task ").map(|(_, task)| task))
        .collect();
    tasks.sort_unstable();
    tasks.dedup();
    tasks
}

/// Every task of a pipeline (root DAG and sub-DAGs) with its fields.
fn tasks(spec: &Value) -> BTreeMap<String, Fields> {
    let mut out = BTreeMap::new();
    let mut dags = vec![spec.pointer("/root/dag/tasks")];
    if let Some(components) = spec.get("components").and_then(Value::as_object) {
        dags.extend(components.values().map(|c| c.pointer("/dag/tasks")));
    }
    for tasks in dags.into_iter().flatten().filter_map(Value::as_object) {
        for (name, task) in tasks {
            out.insert(name.clone(), task_fields(spec, task));
        }
    }
    out
}

fn task_fields(spec: &Value, task: &Value) -> Fields {
    let mut fields = Fields::new();
    let component = task.pointer("/componentRef/name").and_then(Value::as_str).and_then(|n| spec.get("components")?.get(n));
    if let Some(map) = task.as_object() {
        let rest: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "componentRef" | "taskInfo" | "inputs"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        flatten_json(&Value::Object(rest), "", &mut fields);
    }
    for (name, value) in effective_inputs(task, component) {
        flatten_json(&value, &format!("inputs.{name}"), &mut fields);
    }
    if let Some((kind, exec)) = component.and_then(|c| executor(spec, c)) {
        flatten_json(exec, kind, &mut fields);
    }
    fields
}

/// The component's input defaults, overridden by what the task passes.
fn effective_inputs(task: &Value, component: Option<&Value>) -> BTreeMap<String, Value> {
    let mut inputs = BTreeMap::new();
    if let Some(defs) = component.and_then(|c| c.pointer("/inputDefinitions/parameters")).and_then(Value::as_object) {
        for (name, def) in defs {
            if let Some(default) = def.get("defaultValue") {
                inputs.insert(name.clone(), default.clone());
            }
        }
    }
    for kind in ["parameters", "artifacts"] {
        for (name, spec) in task.pointer(&format!("/inputs/{kind}")).and_then(Value::as_object).into_iter().flatten() {
            inputs.insert(name.clone(), input_value(spec));
        }
    }
    inputs
}

/// A task input spec as the value a reviewer thinks of.
fn input_value(spec: &Value) -> Value {
    let s = |p: &str| spec.pointer(p).and_then(Value::as_str);
    if let Some(c) = spec.pointer("/runtimeValue/constant") {
        return c.clone();
    }
    let from = |task: Option<&str>, key: Option<&str>| task.zip(key).map(|(t, k)| Value::String(format!("{t}.{k}")));
    from(s("/taskOutputArtifact/producerTask"), s("/taskOutputArtifact/outputArtifactKey"))
        .or_else(|| from(s("/taskOutputParameter/producerTask"), s("/taskOutputParameter/outputParameterKey")))
        .or_else(|| s("/componentInputParameter").or_else(|| s("/componentInputArtifact")).map(|p| Value::String(format!("params.{p}"))))
        .unwrap_or_else(|| spec.clone())
}

/// The executor of a component: `("container", …)` or `("importer", …)`.
fn executor<'a>(spec: &'a Value, component: &Value) -> Option<(&'static str, &'a Value)> {
    let label = component.get("executorLabel")?.as_str()?;
    let exec = spec.pointer("/deploymentSpec/executors")?.get(label)?;
    exec.get("container").map(|c| ("container", c)).or_else(|| exec.get("importer").map(|i| ("importer", i)))
}

/// The pipeline's parameters. An integer's default is a JSON number the way kfp writes it
/// (`40.0`); it is shown as the integer the spec declared (`40`).
fn parameters(spec: &Value) -> BTreeMap<String, Fields> {
    let mut params = flatten_entries(spec.pointer("/root/inputDefinitions/parameters"));
    for fields in params.values_mut() {
        if fields.get("parameterType").is_some_and(|t| t == "NUMBER_INTEGER") {
            if let Some(default) = fields.get_mut("defaultValue") {
                if let Some(whole) = default.strip_suffix(".0").filter(|w| w.parse::<i64>().is_ok()) {
                    *default = whole.to_owned();
                }
            }
        }
    }
    params
}

/// Pipeline-level settings: the default pipeline root and the pipeline's name.
fn settings(spec: &Value) -> Fields {
    let mut fields = Fields::new();
    for key in ["defaultPipelineRoot", "pipelineInfo"] {
        if let Some(v) = spec.get(key) {
            flatten_json(v, key, &mut fields);
        }
    }
    fields
}

fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// The number of distinct task names of a pipeline (as [`tasks`] counts them), read without
/// building the JSON tree: an added pipeline only reports its size.
fn task_count(text: &str) -> Option<usize> {
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Spec {
        root: Option<Component>,
        #[serde(default)]
        components: BTreeMap<String, Component>,
    }
    #[derive(serde::Deserialize)]
    struct Component {
        dag: Option<Dag>,
    }
    #[derive(serde::Deserialize)]
    struct Dag {
        #[serde(default)]
        tasks: BTreeMap<String, IgnoredAny>,
    }
    let spec: Spec = serde_json::from_str(text).ok()?;
    let dags = spec.root.iter().chain(spec.components.values()).filter_map(|c| c.dag.as_ref());
    Some(dags.flat_map(|d| d.tasks.keys()).collect::<BTreeSet<_>>().len())
}

/// Label → text of every pipeline file.
fn pipelines(files: &Files) -> BTreeMap<String, &str> {
    files_under(files, "pipelines/", ".json").map(|(p, t)| (label(p), t.as_str())).collect()
}

/// Pipeline changes between two versions.
///
/// Files that aren't valid JSON are skipped (each text is parsed once); one pipeline's two
/// versions are parsed at a time, so memory stays at one pipeline's worth whatever the number of
/// pipelines.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    let (before, after) = (pipelines(old), pipelines(new));
    let mut present = BTreeSet::new();
    let mut out = Vec::new();
    for (name, text) in &after {
        let Some(prev) = before.get(name).and_then(|t| parse(t)) else {
            let Some(count) = task_count(text).or_else(|| parse(text).map(|spec| tasks(&spec).len())) else { continue };
            present.insert(name.as_str());
            let mut c = Change::new(format!("pipeline {name}"), Kind::Added);
            c.summary = Some(format!("{count} task(s)"));
            out.push(c);
            continue;
        };
        let Some(spec) = parse(text) else { continue };
        present.insert(name.as_str());
        let settings = diff_fields(&settings(&prev), &settings(&spec));
        if !settings.is_empty() {
            let mut c = Change::new(format!("pipeline {name}"), Kind::Changed);
            c.details = settings;
            out.push(c);
        }
        for (_, mut c) in compare_keyed(&tasks(&prev), &tasks(&spec), |t| format!("{name} / task {t}")) {
            c.summary = summarize(&c.details);
            out.push(c);
        }
        let params = compare_keyed(&parameters(&prev), &parameters(&spec), |p| format!("{name} / parameter {p}"));
        out.extend(params.into_iter().map(|(_, c)| c));
    }
    for (name, text) in &before {
        if !present.contains(name.as_str()) && parse(text).is_some() {
            out.push(Change::new(format!("pipeline {name}"), Kind::Removed));
        }
    }
    out
}

/// Kinds of task change, in the order summaries name them.
const CATEGORIES: [&str; 6] = ["image", "command/args", "resources", "edges", "inputs", "condition"];

/// The kind of change a task field path belongs to.
fn category(path: &str) -> Option<&'static str> {
    let has = |keys: &[&str]| keys.iter().any(|k| path.contains(k));
    if path.ends_with("container.image") || path.ends_with("image_uri") || path.ends_with("artifactUri") {
        Some("image")
    } else if has(&[".args", ".command", "container_spec.env"]) {
        Some("command/args")
    } else if has(&["resources", "machine_spec", "machine_type", "replica_count", "accelerator"]) {
        Some("resources")
    } else if path.starts_with("dependentTasks") {
        Some("edges")
    } else if path.starts_with("inputs.") {
        Some("inputs")
    } else if path.starts_with("triggerPolicy") {
        Some("condition")
    } else {
        None
    }
}

/// Names the kinds of task change a reviewer cares about most, e.g. `image, resources changed`.
fn summarize(details: &[Detail]) -> Option<String> {
    let found: Vec<&str> = details.iter().filter_map(|d| category(&d.path)).collect();
    let parts: Vec<&str> = CATEGORIES.into_iter().filter(|c| found.contains(c)).collect();
    (!parts.is_empty()).then(|| format!("{} changed", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_pipeline_counts_its_tasks_as_the_full_parse_does() {
        for text in [
            include_str!("../../generated/flagship/pipelines/dev/training.json"),
            include_str!("../../generated/flagship/pipelines/prod/scoring.json"),
        ] {
            let full = parse(text).map(|spec| tasks(&spec).len());
            assert!(full.is_some_and(|n| n > 1), "{full:?}");
            assert_eq!(task_count(text), full);
        }
    }

    fn pipeline(image: &str, default: f64, extra_task: bool) -> String {
        let mut tasks = serde_json::json!({"train": {
            "componentRef": {"name": "comp-train"}, "taskInfo": {"name": "train"},
            "inputs": {"parameters": {"lr": {"componentInputParameter": "lr"}}}
        }});
        if extra_task {
            tasks["eval"] = serde_json::json!({"componentRef": {"name": "comp-train"}, "dependentTasks": ["train"]});
        }
        serde_json::json!({
            "components": {"comp-train": {"executorLabel": "exec-train",
                "inputDefinitions": {"parameters": {"machine": {"defaultValue": "n1-standard-4"}}}}},
            "deploymentSpec": {"executors": {"exec-train": {"container": {"image": image, "args": ["--x"]}}}},
            "root": {"dag": {"tasks": tasks}, "inputDefinitions": {"parameters": {"lr": {"defaultValue": default, "parameterType": "NUMBER_DOUBLE"}}}}
        })
        .to_string()
    }

    #[test]
    fn integer_defaults_are_shown_as_integers() {
        let spec = |d: f64| serde_json::json!({"root": {"inputDefinitions": {"parameters": {"epochs": {"defaultValue": d, "parameterType": "NUMBER_INTEGER"}, "lr": {"defaultValue": d, "parameterType": "NUMBER_DOUBLE"}}}}});
        assert_eq!(parameters(&spec(40.0))["epochs"]["defaultValue"], "40");
        assert_eq!(parameters(&spec(40.0))["lr"]["defaultValue"], "40.0");
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
                ("training (dev) / parameter lr", Kind::Changed),
            ]
        );
        assert_eq!(c[0].summary.as_deref(), Some("image changed"));
        assert_eq!(c[2].details[0].path, "defaultValue");
    }

    #[test]
    fn inputs_show_their_effective_values() {
        let spec: Value = serde_json::from_str(&pipeline("img:1", 0.1, true)).unwrap_or_default();
        let t = tasks(&spec);
        assert_eq!(t["train"]["inputs.lr"], "params.lr");
        assert_eq!(t["train"]["inputs.machine"], "n1-standard-4");
        assert_eq!(t["train"]["container.image"], "img:1");
        assert_eq!(t["eval"]["dependentTasks"], "[\"train\"]");
    }
}
