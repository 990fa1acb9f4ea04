//! The Cloud Build target: one build file per workflow of the delivery plan
//! ([`crate::model::delivery`]), `cloudbuild/{pr,cd,release,review}.yaml`, built as serde values.
//!
//! The plan says which workflows exist, what starts each and as whom; Terraform creates the
//! triggers that run these files. The files are the same for every environment; what differs is
//! a substitution whose value is the plan's [`delivery::variables`], which Terraform also passes
//! to each environment's triggers.
//!
//! Escaping: every string from the spec goes through [`subst::literal`] (`$` → `$$`), so the only
//! live substitutions are the generator's own; [`render`] checks that each one is declared, and
//! declares exactly those, with the default environment's values.

mod budget;
mod build;
mod cd;
mod deploy;
mod only_in;
mod pr;
mod release;
pub mod schedule;
pub mod subst;
mod terraform;
mod turn;
mod yaml;

use crate::model::delivery::{self, Workflow};
use crate::model::{paths, Model};
use crate::output::Emitter;
use crate::targets::{patch, Shard, TargetError};
use build::{Build, Options, Step};
use std::collections::BTreeMap;

/// Emits the Cloud Build configs (none without a `ci` section): one set for every environment,
/// with what any environment has (`presence::union`), each step for what some environment lacks
/// guarded (`only_in`).
pub fn emit(model: &Model, out: &mut dyn Emitter, _all: Shard) -> Result<(), TargetError> {
    let union = crate::model::presence::union(model);
    for config in builds(&union) {
        let path = paths::cloudbuild(config.workflow.name());
        out.insert_with(path, || render(&union, config))?;
    }
    if model.ci.is_some() {
        for (path, text) in schedule::files(model) {
            out.insert(path, text)?;
        }
    }
    Ok(())
}

/// One config before assembly.
#[derive(Clone)]
struct Config {
    workflow: Workflow,
    steps: Vec<Step>,
    images: Vec<String>,
}

/// One config per workflow of the plan; a deploying workflow's builds take turns (`turn.rs`).
fn builds(model: &Model) -> Vec<Config> {
    let Some(ci) = &model.ci else { return Vec::new() };
    let config = |workflow: Workflow, steps, images| {
        let steps = if workflow.takes_turns() { turn::take(model, workflow, steps) } else { steps };
        Config { workflow, steps, images }
    };
    delivery::workflows(model)
        .into_iter()
        .map(|workflow| match workflow {
            Workflow::Checks => config(workflow, pr::steps(model, ci), Vec::new()),
            Workflow::Deploy => {
                let (steps, images) = cd::steps(model);
                config(workflow, only_in::guard(model, steps, workflow.acts_on()), images)
            }
            Workflow::Release => {
                let (steps, images) = release::steps(model);
                config(workflow, only_in::guard(model, steps, workflow.acts_on()), images)
            }
            Workflow::Review => config(workflow, terraform::review_steps(model), Vec::new()),
        })
        .collect()
}

/// Assembles and writes one config, declaring the substitutions it uses.
fn render(model: &Model, config: Config) -> Result<String, TargetError> {
    let name = config.workflow.name();
    let fail =
        |message: String| TargetError::Failed { target: "cloudbuild", message: format!("{name}.yaml: {message}") };
    if config.steps.is_empty() {
        return Err(fail(format!("the delivery plan has workflow `{name}`, but it has no steps")));
    }
    let env = model.default_env();
    let mut build = assemble(model, config).map_err(fail)?;
    let mut value = serde_json::to_value(&build).map_err(|e| fail(e.to_string()))?;
    if let Some(p) = patched(model, name, &mut value).into_iter().next() {
        return Err(fail(format!("override `{}`: {}", p.pointer, p.message)));
    }
    let defaults = delivery::variables(model, env);
    for reference in live_references(&value).map_err(fail)? {
        if subst::BUILT_INS.contains(&reference.as_str()) {
            continue;
        }
        let switch = subst::SWITCHES.contains(&reference.as_str()).then(String::new);
        let default = defaults.get(&reference).cloned().or(switch).ok_or_else(|| fail(format!("`{reference}` has no value")))?;
        build.substitutions.insert(reference, default);
    }
    // Declared after the overrides, so a step an override removes takes its substitutions along
    // and the file declares exactly what it uses, as without overrides.
    value["substitutions"] = serde_json::to_value(&build.substitutions).map_err(|e| fail(e.to_string()))?;
    Ok(yaml::document(&value))
}

/// A config's build, before substitutions are declared; its timeout is its steps' ([`budget`]).
fn assemble(model: &Model, config: Config) -> Result<Build, String> {
    let seconds = budget::timeout(config.steps.iter().map(budget::Span::of)).map_err(|e| format!("timeout: {e}"))?;
    Ok(Build {
        steps: config.steps,
        timeout: format!("{seconds}s"),
        images: config.images,
        options: Options::standard(),
        substitutions: BTreeMap::new(),
        tags: tags(model, config.workflow),
    })
}

/// The tags of a workflow's builds: for filtering builds and alerts, and how `take-turn` finds
/// the other builds of its workflow (`turn.rs`).
fn tags(model: &Model, workflow: Workflow) -> Vec<String> {
    vec!["mlopsgen".to_owned(), model.project.name.clone(), workflow.name().to_owned()]
}

/// Applies `overrides.cloudbuild.<name>` to a config's document, and derives its timeout again
/// from the steps they leave; returns what does not apply.
/// Strings are made literal ([`subst::literal`]); keys must be plain names, which the YAML
/// writer prints unquoted; `substitutions` is derived from the config, so not overridable.
fn patched(model: &Model, name: &str, value: &mut serde_json::Value) -> Vec<patch::Problem> {
    let Some(patches) = model.cloudbuild_overrides.get(name) else { return Vec::new() };
    let problem = |pointer: &str, message: String| patch::Problem {
        section: "cloudbuild",
        file: name.to_owned(),
        pointer: pointer.to_owned(),
        message,
        env: None,
    };
    let mut problems = Vec::new();
    for (pointer, v) in patches {
        let tokens = patch::tokens(pointer).unwrap_or_default();
        if tokens.first().is_some_and(|t| t == "substitutions") {
            problems.push(problem(pointer, "`substitutions` are derived from the steps that use them".into()));
        }
        let mut keys = Vec::new();
        object_keys(v, &mut keys);
        keys.extend(tokens.last().cloned().filter(|t| t.parse::<usize>().is_err() && t != "-"));
        if let Some(bad) = keys.iter().find(|k| !yaml::plain_key(k)) {
            problems.push(problem(pointer, format!("`{bad}` is not a Cloud Build field name (letters, digits, `_`)")));
        }
    }
    if problems.is_empty() {
        let found = patch::apply(value, patches, &subst::literal);
        problems.extend(found.into_iter().map(|(pointer, message)| problem(&pointer, message)));
    }
    // Overridden steps move the build's timeout, unless the overrides set it (`budget.rs`).
    if problems.is_empty() && !patches.contains_key("/timeout") {
        match budget::spans(&value["steps"]).map(|spans| spans.and_then(budget::timeout)) {
            None => {}
            Some(Ok(seconds)) => value["timeout"] = format!("{seconds}s").into(),
            Some(Err(message)) => {
                let pointer = patches.keys().find(|p| p.starts_with("/steps")).or(patches.keys().next());
                problems.push(problem(pointer.map_or("", String::as_str), format!("the build's timeout: {message}")));
            }
        }
    }
    problems
}

fn object_keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                object_keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| object_keys(v, out)),
        _ => {}
    }
}

/// The `overrides.cloudbuild` entries that do not apply: a config that is not generated, or a
/// pointer that does not resolve in it. Checked against what [`emit`] writes: the configs of
/// every environment's union.
pub fn override_problems(model: &Model) -> Vec<patch::Problem> {
    let mut problems = Vec::new();
    let union = crate::model::presence::union(model);
    let model = &union;
    let built: Vec<Config> = builds(model);
    for name in model.cloudbuild_overrides.keys() {
        let Some(config) = built.iter().find(|c| c.workflow.name() == name) else {
            let names: Vec<&str> = built.iter().map(|c| c.workflow.name()).collect();
            problems.push(patch::Problem {
                section: "cloudbuild",
                file: name.clone(),
                pointer: String::new(),
                message: format!("`{name}` is not a Cloud Build config mlopsgen generates (it generates {})", names.join(", ")),
                env: None,
            });
            continue;
        };
        let Ok(mut value) = assemble(model, config.clone()).and_then(|b| serde_json::to_value(b).map_err(|e| e.to_string())) else {
            continue;
        };
        problems.extend(patched(model, name, &mut value));
    }
    problems
}

/// Every substitution a value's strings reference.
pub fn live_references(value: &serde_json::Value) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    match value {
        serde_json::Value::String(s) => names.extend(subst::live(s)?),
        serde_json::Value::Array(items) => {
            for item in items {
                names.extend(live_references(item)?);
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values() {
                names.extend(live_references(item)?);
            }
        }
        _ => {}
    }
    names.sort();
    names.dedup();
    Ok(names)
}
