//! The Kubeflow target: one KFP `PipelineSpec` (IR schema 2.1.0, the JSON Vertex AI Pipelines
//! runs) per pipeline and environment, shaped like kfp 2.17.3's compiler output for the
//! equivalent DSL pipeline, with Vertex AI steps as Google Cloud Pipeline Components.
//!
//! Stages: `plan` turns each step into tasks (`container`, `jobs`, `models` per step kind, GCPC
//! fragments from `gcpc`), `condition` lays them out in `dsl.If`-style sub-DAGs, and [`json`]
//! prints the spec with kfp's key order and number format. [`graph`] draws a pipeline's step
//! DAG for review.

mod condition;
mod container;
mod gcpc;
mod ir;
mod jobs;
pub mod json;
mod metrics;
mod models;
mod plan;
mod stream;
mod trials;

use crate::model::{paths, Environment, Model, Pipeline};
use crate::output::Emitter;
use crate::targets::{patch, Shard, TargetError};
use ir::{DeploymentSpec, ParameterSpec, PipelineInfo, PipelineSpec};

/// Emits `pipelines/<env>/<pipeline>.json` for every environment and the shard's pipelines.
pub fn emit(model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
    for env in &model.environments {
        // The environment's own pipelines (its overrides may change or leave out any of them);
        // sharding by the spec's pipeline order keeps a pipeline on one thread in every view.
        let view = model.for_env(&env.name);
        for (_, pipeline) in model.pipelines.iter().enumerate().filter(|(i, _)| shard.takes(*i)) {
            let Some(pipeline) = view.pipelines.iter().find(|p| p.key == pipeline.key) else { continue };
            out.insert_with(paths::pipeline_json(&env.name, &pipeline.key), || render(view, env, pipeline))?;
        }
    }
    Ok(())
}

/// The PipelineSpec JSON of one pipeline in one environment.
pub fn render(model: &Model, env: &Environment, pipeline: &Pipeline) -> Result<String, TargetError> {
    let spec = pipeline_spec(model, env, pipeline)?;
    if model.pipeline_overrides.contains_key(&pipeline.key) {
        let mut value = serde_json::to_value(&spec).map_err(|e| bug(format!("pipeline `{}`: {e}", pipeline.key)))?;
        if let Some(p) = patched(model, env, pipeline, &mut value).into_iter().next() {
            return Err(bug(format!("pipeline `{}`, override `{}`: {}", pipeline.key, p.pointer, p.message)));
        }
        return Ok(json::to_string(&value));
    }
    stream::to_string(&spec, TYPICAL_SIZE).map_err(|e| bug(format!("serialising pipeline `{}`: {e}", pipeline.key)))
}

/// Applies `overrides.pipelines.<key>` (of the environment's view) to a pipeline's document;
/// returns what does not apply.
fn patched(model: &Model, env: &Environment, pipeline: &Pipeline, value: &mut serde_json::Value) -> Vec<patch::Problem> {
    let Some(patches) = model.pipeline_overrides.get(&pipeline.key) else { return Vec::new() };
    let found = patch::apply(value, patches, &str::to_owned);
    found
        .into_iter()
        .map(|(pointer, message)| patch::Problem {
            section: "pipelines",
            file: pipeline.key.clone(),
            pointer,
            message,
            env: Some(env.name.clone()),
        })
        .collect()
}

/// The `overrides.pipelines` entries that do not apply, in any environment's view: a key that
/// is no pipeline, or a pointer that does not resolve in that environment's compiled pipeline.
pub fn override_problems(model: &Model) -> Vec<patch::Problem> {
    let mut problems = Vec::new();
    for env in &model.environments {
        let view = model.for_env(&env.name);
        for key in view.pipeline_overrides.keys() {
            let Some(pipeline) = view.pipelines.iter().find(|p| &p.key == key) else {
                // Left out of this environment by its overrides: nothing to override there.
                if model.pipeline(key).is_some() {
                    continue;
                }
                problems.push(patch::Problem {
                    section: "pipelines",
                    file: key.clone(),
                    pointer: String::new(),
                    message: format!("`{key}` is not a pipeline of the spec"),
                    env: Some(env.name.clone()),
                });
                continue;
            };
            let Ok(spec) = pipeline_spec(view, env, pipeline) else { continue };
            let Ok(mut value) = serde_json::to_value(&spec) else { continue };
            problems.extend(patched(view, env, pipeline, &mut value));
        }
    }
    problems.sort_by(|a, b| (&a.file, &a.pointer).cmp(&(&b.file, &b.pointer)));
    problems.dedup_by(|a, b| a.file == b.file && a.pointer == b.pointer && a.message == b.message);
    problems
}

/// Room reserved for a pipeline's JSON up front (a five-step pipeline prints about 22 kB).
const TYPICAL_SIZE: usize = 32 * 1024;

#[cfg(test)]
#[test]
fn streams_the_text_the_value_path_prints() {
    let source = crate::Source { name: "specs/flagship.yaml".into(), text: include_str!("../../../specs/flagship.yaml").into() };
    let options = crate::Options { spec_file: "specs/flagship.yaml".into(), out_override: None };
    let Ok(crate::Compilation { model, .. }) = crate::compile(&source, &options) else { panic!("flagship does not compile") };
    for env in &model.environments {
        for pipeline in &model.pipelines {
            let spec = pipeline_spec(&model, env, pipeline).ok();
            let via_value = spec.as_ref().and_then(|s| serde_json::to_value(s).ok()).map(|v| json::to_string(&v));
            assert_eq!(spec.and_then(|s| stream::to_string(&s, 0).ok()), via_value);
        }
    }
}

fn pipeline_spec(model: &Model, env: &Environment, pipeline: &Pipeline) -> Result<PipelineSpec, TargetError> {
    let tasks = plan::plan(model, env, pipeline)?;
    let layout = condition::layout(pipeline, tasks)?;
    let mut root = ir::ComponentSpec { dag: Some(layout.root), ..ir::ComponentSpec::default() };
    for p in &pipeline.params {
        root.input_definitions.parameters.insert(
            p.name.clone(),
            ParameterSpec {
                parameter_type: container::parameter_type(p.ty).to_owned(),
                default_value: p.default.as_ref().map(json::proto_value),
                is_optional: p.default.is_some(),
                description: p.description.clone(),
            },
        );
    }
    Ok(PipelineSpec {
        components: layout.components,
        default_pipeline_root: Some(env.pipeline_root(&model.pipeline_root_bucket, pipeline)),
        deployment_spec: DeploymentSpec { executors: layout.executors },
        pipeline_info: PipelineInfo { name: pipeline.name.clone(), description: pipeline.description.clone() },
        root,
        schema_version: ir::SCHEMA_VERSION.to_owned(),
        sdk_version: ir::SDK_VERSION.to_owned(),
    })
}

/// An internal error of this target (validation guarantees valid input).
fn bug(message: impl Into<String>) -> TargetError {
    TargetError::Failed { target: "kubeflow", message: message.into() }
}
