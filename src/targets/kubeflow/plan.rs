//! Planning: each step of a pipeline becomes one or more KFP tasks with their component,
//! executor and input sources, before condition groups are laid out (see `condition.rs`).
//!
//! A step's main task has the step's name (sanitised as kfp sanitises component names) and
//! produces the step's outputs; helper tasks (an importer, a converter) get `<step>-<what>` keys.

use super::ir::{ComponentSpec, ExecutorSpec};
use super::{bug, container, jobs, metrics, models, trials};
use crate::model::{kfp_task_name as task_key, Environment, InputSource, IoType, Model, ParamType, Pipeline, Step, StepKind};
use crate::targets::TargetError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Where a task input comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A pipeline parameter.
    Param {
        /// Parameter name.
        name: String,
        /// Its type.
        ty: ParamType,
    },
    /// Another task's output.
    Output {
        /// Producer task key.
        task: String,
        /// Output name on the producer's component.
        key: String,
        /// Output type.
        ty: IoType,
    },
    /// A literal (a `google.protobuf.Value`).
    Constant(Value),
}

impl Source {
    /// kfp's name for a value passed into a sub-DAG (`pipelinechannel--<param>` or
    /// `pipelinechannel--<task>-<output>`); `None` for literals.
    pub fn channel(&self) -> Option<String> {
        match self {
            Source::Param { name, .. } => Some(format!("pipelinechannel--{name}")),
            Source::Output { task, key, .. } => Some(format!("pipelinechannel--{task}-{key}")),
            Source::Constant(_) => None,
        }
    }

    /// Whether it is an artifact.
    pub fn is_artifact(&self) -> bool {
        matches!(self, Source::Output { ty: IoType::Artifact(_), .. })
    }
}

/// One KFP task before placement.
#[derive(Debug, Clone)]
pub struct PlannedTask {
    /// Task key (also names `comp-<key>` and `exec-<key>`).
    pub key: String,
    /// `taskInfo.name`.
    pub display: String,
    /// The step it belongs to.
    pub step: String,
    /// Its component (interface and executor label filled in by [`PlannedTask::new`]).
    pub component: ComponentSpec,
    /// Its executor.
    pub executor: ExecutorSpec,
    /// Inputs by name.
    pub inputs: BTreeMap<String, Source>,
    /// Tasks it waits for without reading their data.
    pub after: BTreeSet<String>,
    /// Caching enabled.
    pub cache: bool,
    /// The boolean output of an earlier task of the same step that it runs under, for a step
    /// with a guard ([`Step::guard`]); the step's tasks without one run outside the guard.
    pub guard: Option<Source>,
    /// Retries.
    pub retries: Option<u32>,
    /// Housekeeping after the step's work is done (retiring idle models): a promotion's alias
    /// does not wait for it (`models::move_alias`).
    pub cleanup: bool,
}

impl PlannedTask {
    /// A task running `executor`, with the component's executor label pointing at it.
    pub fn new(key: &str, step: &Step, mut component: ComponentSpec, executor: ExecutorSpec) -> Self {
        component.executor_label = Some(format!("exec-{key}"));
        PlannedTask {
            key: key.to_owned(),
            display: key.to_owned(),
            step: step.name.clone(),
            component,
            executor,
            inputs: BTreeMap::new(),
            after: BTreeSet::new(),
            cache: step.cache,
            guard: None,
            retries: None,
            cleanup: false,
        }
    }
}

/// What the step builders read.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The model.
    pub model: &'a Model,
    /// The environment being compiled.
    pub env: &'a Environment,
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    keys: BTreeMap<String, String>,
    taken: BTreeSet<String>,
}

impl Ctx<'_> {
    /// The main task key of a step.
    pub fn task_of(&self, step: &str) -> Result<&str, TargetError> {
        self.keys.get(step).map(String::as_str).ok_or_else(|| bug(format!("no task for step `{step}`")))
    }

    /// A fresh helper task key `<step key>-<what>` (with `-2`, `-3`… if taken).
    pub fn helper_key(&mut self, step: &Step, what: &str) -> Result<String, TargetError> {
        let base = format!("{}-{what}", self.task_of(&step.name)?);
        let mut key = base.clone();
        let mut n = 1;
        while self.taken.contains(&key) {
            n += 1;
            key = format!("{base}-{n}");
        }
        self.taken.insert(key.clone());
        Ok(key)
    }

    /// The source of a step input.
    pub fn source(&self, step: &Step, input: &str) -> Result<Source, TargetError> {
        let i = step.input(input).ok_or_else(|| bug(format!("step `{}` has no input `{input}`", step.name)))?;
        Ok(match &i.source {
            InputSource::Param(name) => match i.ty {
                IoType::Parameter(ty) => Source::Param { name: name.clone(), ty },
                IoType::Artifact(_) => return Err(bug(format!("parameter `{name}` typed as an artifact"))),
            },
            InputSource::Output { step: producer, output } => {
                let producer_step = self.pipeline.step(producer).ok_or_else(|| bug(format!("no step `{producer}`")))?;
                Source::Output { task: trials::output_task(producer_step), key: output_key(producer_step, output).to_owned(), ty: i.ty }
            }
        })
    }
}

/// The output name a step's output has on its main task's component (GCPC ops name some
/// outputs differently).
pub fn output_key<'s>(step: &Step, output: &'s str) -> &'s str {
    match &step.kind {
        StepKind::BatchPrediction { .. } if output == "predictions" => "batchpredictionjob",
        StepKind::BatchPrediction { .. }
        | StepKind::Container { .. }
        | StepKind::DataValidation { .. }
        | StepKind::CustomTraining { .. }
        | StepKind::HyperparameterTuning { .. }
        | StepKind::ModelUpload { .. }
        | StepKind::ModelPromote { .. }
        | StepKind::EndpointDeploy { .. }
        | StepKind::Component { .. } => output,
    }
}

/// Plans every task of a pipeline, in step order.
pub fn plan(model: &Model, env: &Environment, pipeline: &Pipeline) -> Result<Vec<PlannedTask>, TargetError> {
    let keys: BTreeMap<String, String> = pipeline.steps.iter().map(|s| (s.name.clone(), task_key(&s.name))).collect();
    let taken: BTreeSet<String> = keys.values().cloned().collect();
    if taken.len() != keys.len() {
        return Err(bug(format!("pipeline `{}`: two steps share a task name", pipeline.key)));
    }
    let scopes = pipeline.condition_scopes().map_err(|c| bug(format!("conditions of step `{}` don't nest", c.step)))?;
    // What each promotion's alias waits for (`models::promotion_awaits`), by promote step.
    let awaits: BTreeMap<&str, Vec<&Step>> = pipeline
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::ModelPromote { .. }))
        .map(|s| (s.name.as_str(), models::promotion_awaits(pipeline, s, &scopes)))
        .collect();
    let mut ctx = Ctx { model, env, pipeline, keys, taken };
    let mut tasks = Vec::new();
    for step in &pipeline.steps {
        let mut planned = match &step.kind {
            StepKind::Container { container, resources } => vec![container::container_step(&ctx, step, container, resources)?],
            StepKind::DataValidation { dataset } => vec![container::validation_step(&ctx, step, dataset)?],
            StepKind::Component { component, image } => vec![container::component_step(&ctx, step, component, image.as_deref())?],
            StepKind::CustomTraining { container, machine } => jobs::custom_training(&mut ctx, step, container, machine)?,
            StepKind::HyperparameterTuning { .. } => {
                let job = jobs::tuning(&ctx, step)?;
                let best = trials::is_read(pipeline, step).then(|| trials::best_trial(step, &job.key)).transpose()?;
                if let Some(b) = &best {
                    if !ctx.taken.insert(b.key.clone()) {
                        return Err(bug(format!("step `{}`: the task name `{}` of its best trial is taken", step.name, b.key)));
                    }
                }
                std::iter::once(job).chain(best).collect()
            }
            StepKind::ModelUpload { model, version_aliases } => models::upload(&mut ctx, step, model, version_aliases)?,
            StepKind::EndpointDeploy { endpoint, traffic_percent } => models::deploy(&mut ctx, step, endpoint, *traffic_percent)?,
            StepKind::ModelPromote { alias, goal, lease_minutes } => {
                let deferred = awaits.get(step.name.as_str()).is_some_and(|a| !a.is_empty());
                vec![models::promote(&ctx, step, alias, *goal, *lease_minutes, deferred)?]
            }
            StepKind::BatchPrediction { .. } => models::batch_predict(&mut ctx, step)?,
        };
        planned.extend(metrics::publish(&mut ctx, step)?);
        link_step(&ctx, step, &mut planned)?;
        tasks.extend(planned);
    }
    // A promotion's alias moves after the steps that run on it (`models::PROMOTE_SCRIPT`).
    for step in &pipeline.steps {
        let StepKind::ModelPromote { alias, goal, .. } = &step.kind else { continue };
        let awaited = awaits.get(step.name.as_str()).map_or(&[][..], Vec::as_slice);
        if awaited.is_empty() {
            continue;
        }
        let theirs: Vec<&PlannedTask> = awaited.iter().flat_map(|a| tasks.iter().filter(move |t| t.step == a.name && !t.cleanup)).collect();
        let mover = models::move_alias(&mut ctx, step, alias, *goal, &theirs)?;
        tasks.push(mover);
    }
    Ok(tasks)
}

/// Gives the main task its name, retries and the step's non-data dependencies: everything it
/// waits for that no task of the step reads data from, except the condition's producer (the
/// condition group waits for that).
fn link_step(ctx: &Ctx<'_>, step: &Step, planned: &mut [PlannedTask]) -> Result<(), TargetError> {
    let main_key = ctx.task_of(&step.name)?;
    let read: BTreeSet<&str> = planned
        .iter()
        .flat_map(|t| t.inputs.values())
        .filter_map(|s| match s {
            Source::Output { task, .. } => Some(task.as_str()),
            _ => None,
        })
        .collect();
    let mut after = BTreeSet::new();
    for dep in &step.depends_on {
        let task = ctx.task_of(dep)?;
        let is_condition = step.condition.as_ref().is_some_and(|c| &c.step == dep);
        // Reading a tuning step's results means reading its best-trial task, which follows the job.
        let reads_results = ctx.pipeline.step(dep).is_some_and(|d| read.contains(trials::output_task(d).as_str()));
        if !read.contains(task) && !is_condition && !reads_results {
            after.insert(task.to_owned());
        }
    }
    let main = planned
        .iter_mut()
        .find(|t| t.key == main_key)
        .ok_or_else(|| bug(format!("step `{}` has no main task", step.name)))?;
    main.display = step.name.clone();
    main.retries = step.retries;
    main.after.extend(after);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_keys_follow_kfp_sanitising() {
        assert_eq!(task_key("train"), "train");
        assert_eq!(task_key("train_model"), "train-model");
        assert_eq!(task_key("a__b-_c_"), "a-b-c");
    }
}
