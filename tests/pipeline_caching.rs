//! Execution caching across scheduled runs, simulated from the compiled PipelineSpec the way
//! Vertex AI decides it (https://cloud.google.com/vertex-ai/docs/pipelines/configure-caching):
//! a task with `cachingOptions.enableCache` is skipped, and an earlier execution's outputs are
//! reused, when that execution had the same input parameter values, input artifact IDs, output
//! definitions and component spec (image, command, args, env). Fresh executions create new
//! artifacts (new IDs); their output parameters may repeat, so the simulation treats them as
//! repeating (it finds every task that *could* hit). Conditions are assumed true, so every task
//! runs. Submits pass no `enable_caching` (checked below), so the per-task flags decide.

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a finished task left behind: its output artifacts' IDs and output parameters.
#[derive(Clone, Default)]
struct Outputs {
    artifacts: BTreeMap<String, Value>,
    parameters: BTreeMap<String, Value>,
}

/// Vertex ML Metadata as far as caching sees it: cache key → the execution's outputs.
#[derive(Default)]
struct Metadata {
    executions: BTreeMap<String, Outputs>,
}

/// One simulated run; `hits` collects the `taskInfo.name` path of every task that reused a result.
struct Run<'a> {
    spec: &'a Value,
    run: usize,
    force_cache: bool,
    metadata: &'a mut Metadata,
    hits: BTreeSet<String>,
}

impl Run<'_> {
    /// Runs the tasks of `dag` (inputs bound in `scope`), producers first.
    fn dag(&mut self, dag: &Value, scope: &Outputs, path: &str) {
        let tasks = dag["tasks"].as_object().cloned().unwrap_or_default();
        let mut done: BTreeMap<String, Outputs> = BTreeMap::new();
        while done.len() < tasks.len() {
            let ready = tasks.iter().find(|(key, task)| !done.contains_key(*key) && upstream(task).iter().all(|u| done.contains_key(u)));
            let Some((key, task)) = ready else { panic!("{path}: tasks wait on each other") };
            let outputs = self.task(task, scope, &done, path);
            done.insert(key.clone(), outputs);
        }
    }

    fn task(&mut self, task: &Value, scope: &Outputs, done: &BTreeMap<String, Outputs>, path: &str) -> Outputs {
        let name = format!("{path}/{}", task["taskInfo"]["name"].as_str().unwrap_or_default());
        let bound = bind(task, scope, done);
        let component = &self.spec["components"][task["componentRef"]["name"].as_str().unwrap_or_default()];
        if let Some(sub) = component.get("dag") {
            self.dag(sub, &bound, &name);
            return Outputs::default();
        }
        let executor = &self.spec["deploymentSpec"]["executors"][component["executorLabel"].as_str().unwrap_or_default()];
        let key = json!([bound.parameters, bound.artifacts, component["outputDefinitions"], executor]).to_string();
        let cache = self.force_cache || task["cachingOptions"]["enableCache"] == json!(true);
        if cache {
            if let Some(previous) = self.metadata.executions.get(&key) {
                self.hits.insert(name);
                return previous.clone();
            }
        }
        let produced = Outputs {
            artifacts: names(&component["outputDefinitions"]["artifacts"]).map(|o| (o.clone(), json!(format!("run{}:{name}:{o}", self.run)))).collect(),
            parameters: names(&component["outputDefinitions"]["parameters"]).map(|o| (o.clone(), json!(format!("{name}:{o}")))).collect(),
        };
        self.metadata.executions.insert(key, produced.clone());
        produced
    }
}

fn names(map: &Value) -> impl Iterator<Item = &String> {
    map.as_object().into_iter().flat_map(|m| m.keys())
}

/// Tasks this one waits for: its dependencies and the producers it reads.
fn upstream(task: &Value) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = task["dependentTasks"].as_array().into_iter().flatten().filter_map(|d| d.as_str().map(str::to_owned)).collect();
    for side in ["parameters", "artifacts"] {
        for input in task["inputs"][side].as_object().into_iter().flat_map(|m| m.values()) {
            for field in ["taskOutputParameter", "taskOutputArtifact"] {
                if let Some(p) = input[field]["producerTask"].as_str() {
                    out.insert(p.to_owned());
                }
            }
        }
    }
    out
}

/// The values a task's inputs resolve to.
fn bind(task: &Value, scope: &Outputs, done: &BTreeMap<String, Outputs>) -> Outputs {
    let mut bound = Outputs::default();
    for (name, input) in task["inputs"]["parameters"].as_object().into_iter().flatten() {
        let value = if let Some(c) = input.get("runtimeValue") {
            c["constant"].clone()
        } else if let Some(p) = input["componentInputParameter"].as_str() {
            scope.parameters.get(p).cloned().unwrap_or(Value::Null)
        } else {
            let out = &input["taskOutputParameter"];
            done[out["producerTask"].as_str().unwrap_or_default()].parameters[out["outputParameterKey"].as_str().unwrap_or_default()].clone()
        };
        bound.parameters.insert(name.clone(), value);
    }
    for (name, input) in task["inputs"]["artifacts"].as_object().into_iter().flatten() {
        let id = if let Some(a) = input["componentInputArtifact"].as_str() {
            scope.artifacts[a].clone()
        } else {
            let out = &input["taskOutputArtifact"];
            done[out["producerTask"].as_str().unwrap_or_default()].artifacts[out["outputArtifactKey"].as_str().unwrap_or_default()].clone()
        };
        bound.artifacts.insert(name.clone(), id);
    }
    bound
}

/// The tasks of the second of two identical scheduled runs that reuse the first run's results.
fn second_run_hits(spec: &Value, parameters: &BTreeMap<String, Value>, force_cache: bool) -> BTreeSet<String> {
    let mut metadata = Metadata::default();
    let mut scope = Outputs::default();
    for (name, def) in spec["root"]["inputDefinitions"]["parameters"].as_object().into_iter().flatten() {
        scope.parameters.insert(name.clone(), parameters.get(name).cloned().unwrap_or_else(|| def["defaultValue"].clone()));
    }
    let mut hits = BTreeSet::new();
    for run in 1..=2 {
        let mut r = Run { spec, run, force_cache, metadata: &mut metadata, hits: BTreeSet::new() };
        r.dag(&spec["root"]["dag"], &scope, "");
        hits = r.hits;
    }
    hits
}

/// Steps whose work must happen on every run: they read data the pipeline doesn't pass in or
/// change something outside it.
fn must_do_new_work(step: &mlopsgen::model::Step) -> bool {
    use mlopsgen::model::{ArgPart, InputSource, StepKind};
    match &step.kind {
        StepKind::Container { container, .. } | StepKind::CustomTraining { container, .. } => {
            let reads_world = container.args.iter().flat_map(|a| &a.0).any(|p| matches!(p, ArgPart::Text(t) if t.contains("bq://") || t.contains("gs://")));
            reads_world || !step.inputs.iter().any(|i| matches!(i.source, InputSource::Output { .. }))
        }
        _ => true,
    }
}

/// A compiled pipeline: key, dev-environment JSON, scheduled parameters, steps that must not hit.
type Compiled = (String, Value, BTreeMap<String, Value>, BTreeSet<String>);

/// Every pipeline of a spec.
fn compiled(spec: &str) -> Vec<Compiled> {
    let c = support::compile_spec(Path::new(spec));
    let env = &c.model.environments[0].name;
    c.model
        .pipelines
        .iter()
        .map(|p| {
            let text = c.output.get(&format!("pipelines/{env}/{}.json", p.key)).unwrap_or_else(|| panic!("no JSON for {}", p.key));
            let json: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
            let params = p.schedule.as_ref().map(|s| s.parameters.clone().into_iter().collect()).unwrap_or_default();
            let fresh = p.steps.iter().filter(|s| must_do_new_work(s)).map(|s| s.name.clone()).collect();
            (p.key.clone(), json, params, fresh)
        })
        .collect()
}

/// The step a hit task belongs to: main tasks carry the step name, helpers `<step>-<what>`.
fn owning_step<'s>(hit: &str, steps: &'s BTreeSet<String>) -> Option<&'s String> {
    let task = hit.rsplit('/').next().unwrap_or(hit);
    steps.iter().find(|s| task == s.as_str() || task.starts_with(&format!("{}-", mlopsgen::model::kfp_task_name(s))))
}

#[test]
fn a_second_scheduled_run_does_all_the_work_that_must_be_redone() {
    for spec in ["specs/flagship.yaml", "specs/minimal.yaml", "tests/conformance/kfp_parity/specs/condition.yaml"] {
        for (key, json, params, fresh) in compiled(spec) {
            let hits = second_run_hits(&json, &params, false);
            let wrong: Vec<_> = hits.iter().filter(|h| owning_step(h, &fresh).is_some()).collect();
            assert!(wrong.is_empty(), "{spec} `{key}`: run 2 would reuse run 1's result for {wrong:?}");
            // The simulation can fail: with caching forced on (the old output), every such step hits.
            let forced = second_run_hits(&json, &params, true);
            for step in &fresh {
                assert!(forced.iter().any(|h| owning_step(h, &BTreeSet::from([step.clone()])).is_some()), "{spec} `{key}`: `{step}` never hits even when forced");
            }
        }
    }
}

#[test]
fn pure_steps_over_repeating_values_still_reuse_results() {
    let runs = compiled("tests/conformance/kfp_parity/specs/condition.yaml");
    let (_, json, params, _) = &runs[0];
    let hits = second_run_hits(json, params, false);
    // `flagged` reads only `evaluate.acc`, an output parameter that may repeat; `publish` reads
    // the `report` artifact, new on every run, so it can't hit.
    assert!(hits.iter().any(|h| h.ends_with("/flagged")), "{hits:?}");
    assert!(!hits.iter().any(|h| h.ends_with("/publish")), "{hits:?}");
}

#[test]
fn submits_leave_caching_to_the_tasks() {
    // aiplatform.PipelineJob and Airflow's RunPipelineJobOperator only rewrite every task's
    // cachingOptions when `enable_caching` is not None (aiplatform pipeline_jobs.py
    // `_set_enable_caching_value`; providers-google operators/vertex_ai/pipeline_job.py).
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    let submitters: Vec<_> = c.output.files().filter(|(path, _)| path.starts_with("dags/") || path.starts_with("cloudbuild/")).collect();
    assert!(submitters.iter().any(|(_, text)| text.contains("class RunPipelineJob(RunPipelineJobOperator)")));
    for (path, text) in submitters {
        assert!(!text.contains("enable_caching"), "{path} overrides the per-task caching");
    }
}
