//! Checks for what Kubeflow pipelines on Vertex AI can't express: colliding task names,
//! conditions that don't nest, values GCPC ops can't carry, resource strings kfp rejects.

use super::semantic::Checker;
use crate::diagnostic::Code;
use crate::model::{condition_scopes, kfp_task_name as task_name, ScopeStep};
use crate::spec::yaml::pointer_push;
use crate::spec::*;
use std::collections::BTreeMap;

/// Inputs and outputs of GCPC's CustomJob component; a `custom_training` step's own inputs and
/// outputs join that interface, so they can't reuse these names.
pub const CUSTOM_JOB_NAMES: [&str; 19] = [
    "base_output_directory",
    "display_name",
    "enable_web_access",
    "encryption_spec_key_name",
    "gcp_resources",
    "labels",
    "location",
    "max_wait_duration",
    "network",
    "persistent_resource_id",
    "project",
    "psc_interface_config",
    "reserved_ip_ranges",
    "restart_job_on_worker_restart",
    "service_account",
    "strategy",
    "tensorboard",
    "timeout",
    "worker_pool_specs",
];

/// Pipeline-level checks.
pub fn pipeline(c: &mut Checker<'_>, p: &Pipeline, pp: &str) {
    let mut tasks: BTreeMap<String, &str> = BTreeMap::new();
    for name in p.steps.keys() {
        let sp = pointer_push(&format!("{pp}/steps"), name);
        if let Some(other) = tasks.insert(task_name(name), name) {
            let pos = c.key_at(&sp);
            c.report(Code::DuplicateName, pos, format!("steps `{other}` and `{name}` would both be the Kubeflow task `{}`", task_name(name)), Some("rename one of them".into()));
        }
    }
    for (name, step) in &p.steps {
        let sp = pointer_push(&format!("{pp}/steps"), name);
        step_checks(c, p, step, &sp);
    }
    nesting(c, p, pp);
}

fn step_checks(c: &mut Checker<'_>, p: &Pipeline, step: &Step, sp: &str) {
    match step {
        Step::Container(s) => {
            let r = s.resources.as_ref();
            if let Some(cpu) = r.and_then(|r| r.cpu.as_deref()).filter(|v| !is_cpu(v)) {
                let pos = c.at(&format!("{sp}/resources/cpu"));
                c.report(Code::InvalidValue, pos, format!("invalid cpu `{cpu}`"), Some("write cores like `4` or `0.5`, or millicores like `500m`".into()));
            }
            if let Some(mem) = r.and_then(|r| r.memory.as_deref()).filter(|v| !is_memory(v)) {
                let pos = c.at(&format!("{sp}/resources/memory"));
                c.report(Code::InvalidValue, pos, format!("invalid memory `{mem}`"), Some("write a whole number with an optional unit: K, M, G, T, P, E or Ki, Mi, Gi, Ti, Pi, Ei (e.g. `16G`)".into()));
            }
        }
        Step::CustomTraining(s) => {
            let names = s.common.inputs.keys().map(|n| ("inputs", n)).chain(s.outputs.keys().map(|n| ("outputs", n)));
            for (section, n) in names.filter(|(_, n)| CUSTOM_JOB_NAMES.contains(&n.as_str())) {
                let pos = c.key_at(&pointer_push(&format!("{sp}/{section}"), n));
                c.report(Code::DuplicateName, pos, format!("`{n}` is a setting of the Vertex AI custom job this step runs as"), Some("rename it".into()));
            }
            // The job's container runs in a remote CustomJob, not in the task: GCPC's launcher
            // (`container/v1/custom_job/remote_runner.py`) only writes `gcp_resources`, so an
            // output parameter file the job writes is never read (kubeflow/pipelines#7234).
            // Artifacts are files under the pipeline root, which the job writes through `/gcs/`.
            for (n, _) in s.outputs.iter().filter(|(_, t)| matches!(t, OutputType::String | OutputType::Int | OutputType::Float | OutputType::Bool)) {
                let pos = c.at(&pointer_push(&format!("{sp}/outputs"), n));
                c.report(
                    Code::WrongKind,
                    pos,
                    format!("a custom training job can't return the output parameter `{n}`"),
                    Some("the job runs outside the pipeline task, which reads only the job's status: write it into a `Metrics` output, or return it from a `container` step".into()),
                );
            }
        }
        Step::HyperparameterTuning(t) => {
            for (i, arg) in t.args.iter().enumerate() {
                for part in Arg::parse(arg).0 {
                    let ArgPart::Input(input) = part else { continue };
                    if input_is_artifact(p, &t.common, &input) {
                        let pos = c.at(&format!("{sp}/args/{i}"));
                        c.report(Code::WrongKind, pos, format!("tuning trials can't read the artifact input `{input}`"), Some("pass a parameter, or a Cloud Storage URI the trials read themselves".into()));
                    }
                }
            }
        }
        Step::BatchPrediction(b) if c.spec.datasets.get(&b.dataset).is_some_and(|d| d.format == Some(FileFormat::Parquet)) => {
            let pos = c.at(&format!("{sp}/dataset"));
            c.report(Code::WrongKind, pos, format!("batch prediction can't read the Parquet dataset `{}`", b.dataset), Some("Vertex AI batch prediction reads BigQuery tables and CSV or JSON Lines files".into()));
        }
        _ => {}
    }
}

fn input_is_artifact(p: &Pipeline, common: &StepCommon, input: &str) -> bool {
    let Some((ns, out)) = common.inputs.get(input).and_then(|r| r.split_once('.')) else { return false };
    p.steps.get(ns).is_some_and(|s| s.outputs().iter().any(|o| o.name == out && matches!(o.ty, IoType::Artifact(_))))
}

/// Conditions must nest: a step's dependencies can't run under unrelated conditions.
fn nesting(c: &mut Checker<'_>, p: &Pipeline, pp: &str) {
    let steps: Vec<ScopeStep> = p
        .steps
        .iter()
        .map(|(name, step)| {
            let cm = step.common();
            let condition = cm.when.as_deref().and_then(Condition::parse);
            let mut deps: Vec<String> = cm.after.clone();
            let refs = cm.inputs.values().filter_map(|r| r.split_once('.').map(|(ns, _)| ns.to_owned()));
            deps.extend(refs.filter(|ns| ns != "params"));
            deps.extend(condition.as_ref().map(|c| c.step.clone()));
            deps.retain(|d| d != name && p.steps.contains_key(d));
            let by_alias = matches!(step, Step::BatchPrediction(b) if b.registry().is_some());
            ScopeStep { name: name.clone(), deps, condition, guard: by_alias.then(|| RegistryRef::found(name)) }
        })
        .collect();
    if let Err(conflict) = condition_scopes(&steps) {
        let guarded = |scope: &[crate::model::Condition]| scope.last().is_some_and(|w| *w == RegistryRef::found(&w.step));
        let describe = |(step, scope): &(String, Vec<crate::model::Condition>)| match scope.last() {
            Some(w) if guarded(scope) => format!("`{step}` (which runs only once a version holds the alias `{}` reads)", w.step),
            Some(w) => format!("`{step}` (which runs only when {}.{} {} {})", w.step, w.output, w.op.as_str(), w.value),
            None => format!("`{step}` (which always runs)"),
        };
        let pos = c.key_at(&pointer_push(&format!("{pp}/steps"), &conflict.step));
        c.report(
            Code::WrongKind,
            pos,
            format!("step `{}` depends on {} and {}, whose conditions don't nest", conflict.step, describe(&conflict.first), describe(&conflict.second)),
            Some(if guarded(&conflict.first.1) || guarded(&conflict.second.1) {
                "a step reading a registry version by alias, and every step after it, runs only once a version holds the alias, in a condition group that must nest with the others; make one of those steps depend on the other".into()
            } else {
                "Kubeflow runs conditional steps inside nested condition groups; make one of those steps depend on the other, or give them the same `when`".into()
            }),
        );
    }
}

/// `ExplanationMetadata.inputs` must name at least one feature, and every `exclude` must be a
/// column of the dataset (Vertex AI API: ExplanationMetadata; inputs and outputs are required).
fn explanation_features(c: &mut Checker<'_>, model: &str, e: &crate::spec::Explanation) {
    let ptr = format!("{model}/explanation");
    let spec = c.spec;
    if !c.reference("dataset", &e.dataset, &spec.datasets, &format!("{ptr}/dataset")) {
        return;
    }
    let Some(columns) = spec.datasets.get(&e.dataset).map(|d| &d.columns) else { return };
    for (i, col) in e.exclude.iter().enumerate() {
        c.reference("column", col, columns, &format!("{ptr}/exclude/{i}"));
    }
    if !e.prediction.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic() || ch == '_') || !e.prediction.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
        let pos = c.at(&format!("{ptr}/prediction"));
        c.report(Code::InvalidName, pos, format!("prediction field `{}` is not an identifier", e.prediction), Some("use letters, digits and `_`, starting with a letter or `_`".into()));
    }
    if columns.keys().all(|col| e.exclude.contains(col)) {
        let pos = c.at(&format!("{ptr}/exclude"));
        c.report(Code::InvalidValue, pos, format!("`exclude` leaves no input feature of dataset `{}`", e.dataset), Some("explanations attribute a prediction to at least one input column".into()));
    }
}

/// Model checks: explanation settings Vertex AI requires, and descriptions GCPC inserts raw
/// into a JSON payload.
pub fn models(c: &mut Checker<'_>) {
    for (name, m) in &c.spec.models {
        let p = pointer_push("/models", name);
        if let Some(e) = &m.explanation {
            let (field, value) = match e.method {
                ExplanationMethod::SampledShapley => ("path_count", e.path_count),
                ExplanationMethod::IntegratedGradients | ExplanationMethod::Xrai => ("step_count", e.step_count),
            };
            if value.is_none() {
                let pos = c.at(&format!("{p}/explanation"));
                c.report(Code::InvalidValue, pos, format!("this explanation method needs `{field}`"), Some("Vertex AI requires it: path_count 1–50 for sampled Shapley, step_count 1–100 otherwise".into()));
            }
            explanation_features(c, &p, e);
        }
        if let Some(d) = &m.description {
            if d.contains(['"', '\\']) || d.contains("{{") || d.contains("}}") {
                let pos = c.at(&format!("{p}/description"));
                c.report(Code::UnsafeString, pos, "a model description can't contain `\"`, `\\`, `{{` or `}}`", Some("the model upload component inserts it as is into a JSON request".into()));
            }
        }
    }
}

/// KFP's backend replaces `{{$…}}` placeholders in commands, arguments and parameter values, so
/// spec text that reaches a pipeline can't contain one (descriptions excepted: nothing resolves
/// them). Arguments already reject every `{{`. An image's entrypoint and cmd count: a step
/// without a `command` runs the entrypoint.
pub fn placeholders(c: &mut Checker<'_>) {
    let mut found = Vec::new();
    super::semantic::walk_strings(&c.doc.value, &|s| s.contains("{{$"), &mut found);
    let reaches_pipeline = |p: &str| {
        let parts: Vec<&str> = p.split('/').collect();
        matches!(
            parts.as_slice(),
            ["", "pipelines", ..]
                | ["", "models", ..]
                | ["", "images", _, "serving" | "entrypoint" | "cmd", ..]
                | ["", "datasets", _, "source"]
        )
    };
    for (pointer, text) in found {
        if text.contains("{{$") && reaches_pipeline(&pointer) && !pointer.ends_with("/description") {
            let pos = c.at(&pointer);
            c.report(Code::UnsafeString, pos, "`{{$` starts a Kubeflow placeholder, which the pipeline backend would replace", Some("pass the text through a pipeline parameter's value at run time instead".into()));
        }
    }
}

/// kfp's cpu format: `([0-9]*[.])?[0-9]+m?`.
fn is_cpu(s: &str) -> bool {
    let s = s.strip_suffix('m').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or(("", s));
    !frac.is_empty() && int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
}

/// kfp's memory format: `[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?`.
fn is_memory(s: &str) -> bool {
    let s = s.strip_suffix('i').filter(|r| r.ends_with(['E', 'P', 'T', 'G', 'M', 'K'])).unwrap_or(s);
    let digits = s.strip_suffix(['E', 'P', 'T', 'G', 'M', 'K']).unwrap_or(s);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    const BASE: &str = "version: 1
project: {name: demo}
environments: {dev: {gcp_project: acme-demo-dev, region: us-central1}}
terraform: {state_bucket: acme-demo-tf-state}
storage: {buckets: {artifacts: {}, out: {}}}
images:
  job: {context: job, base: python:3.12-slim, entrypoint: [python, -m, job]}
  server: {context: server, base: python:3.12-slim, serving: {}}
datasets:
  rows: {source: gs://artifacts/rows/*.parquet, format: parquet, columns: {a: {type: string}}}
models:
  m: {serving_image: server, description: 'say \"hi\"', explanation: {method: xrai, dataset: rows, prediction: score}}
pipelines:
  p:
    parameters: {lr: {type: float, default: 0.1, description: 'not resolved: {{$}}'}}
    steps:
";

    /// Messages of every diagnostic for BASE plus these steps.
    fn problems(steps: &str) -> Vec<String> {
        let source = Source { name: "t.yaml".into(), text: format!("{BASE}{steps}") };
        let doc = match crate::spec::load(&source) {
            Ok(doc) => doc,
            Err(d) => return d.into_iter().map(|d| d.message).collect(),
        };
        match super::super::check(&doc) {
            Ok(_) => Vec::new(),
            Err(d) => d.into_iter().map(|d| d.message).collect(),
        }
    }

    #[test]
    fn reports_what_kubeflow_cannot_express() {
        let steps = "      train_a: {kind: container, image: job, outputs: {m: Model, ok: Bool}, resources: {cpu: 4 cores, memory: 1.5G}}
      train-a: {kind: container, image: job}
      a: {kind: container, image: job, when: train_a.ok == true, inputs: {m: train_a.m}}
      b: {kind: container, image: job, outputs: {ok: Bool}}
      c: {kind: container, image: job, when: b.ok == true}
      d: {kind: container, image: job, after: [a, c]}
      job: {kind: custom_training, image: job, machine: {type: n1-standard-4}, inputs: {labels: params.lr}}
      tune:
        kind: hyperparameter_tuning
        image: job
        args: [--m, '{{inputs.m}}', --lr, '{{params.lr}}']
        inputs: {m: train_a.m}
        metric: {name: auc, goal: maximize}
        search_space: {x: {type: double, min: 0.1, max: 1}}
        max_trials: 2
        machine: {type: n1-standard-4}
      up: {kind: model_upload, model: m, inputs: {model: train_a.m}}
      score: {kind: batch_prediction, dataset: rows, destination: out, machine_type: n1-standard-4, inputs: {model: up.model}}
      leak: {kind: container, image: job, env: {X: '{{$}}'}, command: [sh, '{{$.pipeline_job_name}}']}
";
        let got = problems(steps);
        let want = [
            "steps `train-a` and `train_a` would both be the Kubeflow task `train-a`",
            "invalid cpu `4 cores`",
            "invalid memory `1.5G`",
            "step `d` depends on `a` (which runs only when train_a.ok == true) and `c` (which runs only when b.ok == true), whose conditions don't nest",
            "`labels` is a setting of the Vertex AI custom job this step runs as",
            "tuning trials can't read the artifact input `m`",
            "batch prediction can't read the Parquet dataset `rows`",
            "this explanation method needs `step_count`",
            "`{{$` starts a Kubeflow placeholder, which the pipeline backend would replace",
            "a model description can't contain `\"`, `\\`, `{{` or `}}`",
        ];
        for w in want {
            assert!(got.iter().any(|g| g == w), "missing {w:?} in {got:#?}");
        }
        assert_eq!(got.len(), want.len() + 1, "{got:#?}"); // the placeholder twice
    }

    #[test]
    fn image_entrypoint_and_cmd_cannot_hold_placeholders() {
        let source = Source {
            name: "t.yaml".into(),
            text: BASE.replace("entrypoint: [python, -m, job]", "entrypoint: [python, '{{$.inputs.parameters[\"x\"]}}'], cmd: ['{{$}}']")
                + "      s: {kind: container, image: job}\n",
        };
        let doc = crate::spec::load(&source).unwrap_or_else(|d| panic!("{d:?}"));
        let got: Vec<String> = super::super::check(&doc).err().unwrap_or_default().into_iter().map(|d| d.message).collect();
        let placeholder = "`{{$` starts a Kubeflow placeholder, which the pipeline backend would replace";
        assert_eq!(got.iter().filter(|g| *g == placeholder).count(), 2, "{got:#?}"); // entrypoint and cmd
    }

    #[test]
    fn resource_formats_follow_kfp() {
        for ok in ["4", "0.5", ".5", "500m", "1.5m"] {
            assert!(is_cpu(ok), "{ok}");
        }
        for bad in ["", "m", "4.", "1e3", "-1", "4 cores", "1.2.3"] {
            assert!(!is_cpu(bad), "{bad}");
        }
        for ok in ["16G", "512Mi", "1024", "1Ei", "3K"] {
            assert!(is_memory(ok), "{ok}");
        }
        for bad in ["", "G", "16GB", "1.5G", "16g", "16i", "-1"] {
            assert!(!is_memory(bad), "{bad}");
        }
    }
}
