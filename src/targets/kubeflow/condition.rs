//! Lays planned tasks out in DAGs the way kfp compiles `dsl.If` blocks.
//!
//! Every distinct condition scope (see [`crate::model::condition_scopes`]) becomes a task
//! `condition-N` in its parent DAG, running the sub-DAG component `comp-condition-N` with a
//! `triggerPolicy.condition` in CEL. Values cross into a sub-DAG as its inputs, named
//! `pipelinechannel--<param>` or `pipelinechannel--<task>-<output>`; every group on a task's path
//! also receives the values its enclosing conditions test, as kfp does. Dependencies between a
//! task and a producer outside its DAG become dependencies of the outermost group that contains
//! the task but not the producer.

use super::bug;
use super::container::declare;
use super::ir::{ArtifactInput, CachingOptions, ComponentRef, ComponentSpec, Dag, ExecutorSpec, ParamInput, RetryPolicy, Task, TaskInfo, TaskInputs, TriggerPolicy};
use super::json::python_float;
use super::plan::{output_key, PlannedTask, Source};
use crate::model::{Condition, IoType, Operand, ParamType, Pipeline, Step};
use crate::targets::TargetError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The laid-out pipeline: the root DAG plus every component and executor.
#[derive(Debug, Default)]
pub struct Layout {
    /// Top-level tasks.
    pub root: Dag,
    /// Components by name.
    pub components: BTreeMap<String, ComponentSpec>,
    /// Executors by label.
    pub executors: BTreeMap<String, ExecutorSpec>,
}

/// One `dsl.If` group.
#[derive(Debug)]
struct Group {
    key: String,
    parent: Option<usize>,
    condition: Condition,
    /// The value the condition tests.
    operand: Source,
    /// The parameter it compares with, when not a literal.
    rhs: Option<Source>,
    inputs: BTreeMap<String, Source>,
    deps: BTreeSet<String>,
    dag: Dag,
}

/// Lays out a pipeline's tasks.
pub fn layout(pipeline: &Pipeline, tasks: Vec<PlannedTask>) -> Result<Layout, TargetError> {
    let scopes = pipeline.condition_scopes().map_err(|c| bug(format!("conditions of step `{}` don't nest", c.step)))?;
    // What each step's guard tests: the output of the task its guarded task names.
    let guards: BTreeMap<&str, &Source> = tasks.iter().filter_map(|t| Some((t.step.as_str(), t.guard.as_ref()?))).collect();
    let mut groups: Vec<Group> = Vec::new();
    // Group index path of every task, outermost first.
    let mut paths: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for t in &tasks {
        let mut scope: &[Condition] = scopes.get(&t.step).ok_or_else(|| bug(format!("step `{}` has no scope", t.step)))?;
        // A guarded step's other tasks (its lookup) run before the guard is known.
        if t.guard.is_none() && guards.contains_key(t.step.as_str()) {
            scope = &scope[..scope.len().saturating_sub(1)];
        }
        let mut path = Vec::new();
        for depth in 1..=scope.len() {
            let existing = groups.iter().position(|g| g.parent == path.last().copied() && g.condition == scope[depth - 1]);
            let index = match existing {
                Some(i) => i,
                None => {
                    let condition = scope[depth - 1].clone();
                    groups.push(Group {
                        key: format!("condition-{}", groups.len() + 1),
                        parent: path.last().copied(),
                        operand: match guards.get(condition.step.as_str()) {
                            Some(&tested) if pipeline.step(&condition.step).and_then(Step::guard).as_ref() == Some(&condition) => tested.clone(),
                            _ => operand(pipeline, &condition)?,
                        },
                        rhs: rhs_param(pipeline, &condition)?,
                        condition,
                        inputs: BTreeMap::new(),
                        deps: BTreeSet::new(),
                        dag: Dag::default(),
                    });
                    groups.len() - 1
                }
            };
            path.push(index);
        }
        paths.insert(t.key.clone(), path);
    }
    let depth_of = |source: &Source| match source {
        Source::Output { task, .. } => paths.get(task).map_or(0, Vec::len),
        _ => 0,
    };

    let mut out = Layout::default();
    for t in tasks {
        let path = &paths[&t.key];
        // Values this task reads, plus the operands of every condition around it.
        let mut channels: Vec<&Source> = t.inputs.values().collect();
        let operands: Vec<Source> =
            path.iter().flat_map(|g| std::iter::once(groups[*g].operand.clone()).chain(groups[*g].rhs.clone())).collect();
        channels.extend(&operands);
        let mut deps: BTreeSet<(usize, String)> = BTreeSet::new();
        for source in channels {
            let Some(name) = source.channel() else { continue };
            let level = depth_of(source);
            for g in &path[level.min(path.len())..] {
                groups[*g].inputs.insert(name.clone(), source.clone());
            }
            if let Source::Output { task, .. } = source {
                deps.insert((level, task.clone()));
            }
        }
        for after in &t.after {
            deps.insert((paths.get(after).map_or(0, Vec::len), after.clone()));
        }
        let mut own_deps = Vec::new();
        for (level, dep) in deps {
            match path.get(level) {
                Some(g) => {
                    groups[*g].deps.insert(dep);
                }
                None => own_deps.push(dep),
            }
        }
        own_deps.sort();
        let spec = Task {
            caching_options: Some(CachingOptions { enable_cache: t.cache }),
            component_ref: ComponentRef { name: format!("comp-{}", t.key) },
            dependent_tasks: own_deps,
            inputs: wire(&t.inputs, path.len(), &depth_of),
            retry_policy: t.retries.map(RetryPolicy::retries),
            task_info: TaskInfo { name: t.display.clone() },
            trigger_policy: None,
        };
        match path.last() {
            Some(g) => groups[*g].dag.tasks.insert(t.key.clone(), spec),
            None => out.root.tasks.insert(t.key.clone(), spec),
        };
        out.components.insert(format!("comp-{}", t.key), t.component);
        out.executors.insert(format!("exec-{}", t.key), t.executor);
    }

    // Innermost groups first, so each sub-DAG is complete before it is placed in its parent.
    for index in (0..groups.len()).rev() {
        let depth = std::iter::successors(groups[index].parent, |p| groups[*p].parent).count() + 1;
        let g = std::mem::take(&mut groups[index].dag);
        let group = &groups[index];
        let mut component = ComponentSpec { dag: Some(g), ..ComponentSpec::default() };
        for (name, source) in &group.inputs {
            declare(&mut component.input_definitions, name, source_type(source)?);
        }
        let spec = Task {
            caching_options: None,
            component_ref: ComponentRef { name: format!("comp-{}", group.key) },
            dependent_tasks: group.deps.iter().cloned().collect(),
            inputs: wire(&group.inputs, depth - 1, &depth_of),
            retry_policy: None,
            task_info: TaskInfo { name: display(&group.condition) },
            trigger_policy: Some(TriggerPolicy { condition: cel(&group.operand, group.rhs.as_ref(), &group.condition)? }),
        };
        let (key, parent) = (group.key.clone(), group.parent);
        out.components.insert(format!("comp-{key}"), component);
        match parent {
            Some(p) => groups[p].dag.tasks.insert(key, spec),
            None => out.root.tasks.insert(key, spec),
        };
    }
    Ok(out)
}

/// The output parameter a condition tests, as a source.
fn operand(pipeline: &Pipeline, c: &Condition) -> Result<Source, TargetError> {
    let step = pipeline.step(&c.step).ok_or_else(|| bug(format!("condition on unknown step `{}`", c.step)))?;
    let out = step.output(&c.output).ok_or_else(|| bug(format!("step `{}` has no output `{}`", c.step, c.output)))?;
    Ok(Source::Output { task: super::trials::output_task(step), key: output_key(step, &c.output).to_owned(), ty: out.ty })
}

/// The pipeline parameter a condition compares with, as a source (`None` for a literal).
fn rhs_param(pipeline: &Pipeline, c: &Condition) -> Result<Option<Source>, TargetError> {
    let Operand::Param(name) = &c.value else { return Ok(None) };
    let param = pipeline.param(name).ok_or_else(|| bug(format!("condition on unknown parameter `{name}`")))?;
    Ok(Some(Source::Param { name: name.clone(), ty: param.ty }))
}

fn source_type(source: &Source) -> Result<IoType, TargetError> {
    match source {
        Source::Param { ty, .. } => Ok(IoType::Parameter(*ty)),
        Source::Output { ty, .. } => Ok(*ty),
        Source::Constant(_) => Err(bug("a literal can't cross into a condition group")),
    }
}

/// Wires inputs inside a DAG at `depth` (0 = root): producers in the same DAG by task output,
/// everything else from the enclosing DAG's inputs.
fn wire(inputs: &BTreeMap<String, Source>, depth: usize, depth_of: &dyn Fn(&Source) -> usize) -> TaskInputs {
    let mut wired = TaskInputs::default();
    for (name, source) in inputs {
        let channel = source.channel().unwrap_or_default();
        match source {
            Source::Constant(v) => {
                wired.parameters.insert(name.clone(), ParamInput::RuntimeValue { constant: v.clone() });
            }
            Source::Param { name: param, .. } => {
                let from = if depth == 0 { param.clone() } else { channel };
                wired.parameters.insert(name.clone(), ParamInput::ComponentInputParameter(from));
            }
            Source::Output { task, key, ty } => {
                let local = depth_of(source) == depth;
                match ty {
                    IoType::Parameter(_) => {
                        let input = if local {
                            ParamInput::TaskOutputParameter { output_parameter_key: key.clone(), producer_task: task.clone() }
                        } else {
                            ParamInput::ComponentInputParameter(channel)
                        };
                        wired.parameters.insert(name.clone(), input);
                    }
                    IoType::Artifact(_) => {
                        let input = if local {
                            ArtifactInput::TaskOutputArtifact { output_artifact_key: key.clone(), producer_task: task.clone() }
                        } else {
                            ArtifactInput::ComponentInputArtifact(channel)
                        };
                        wired.artifacts.insert(name.clone(), input);
                    }
                }
            }
        }
    }
    wired
}

/// The group's display name: the condition as the spec writes it.
fn display(c: &Condition) -> String {
    format!("{}.{} {} {}", c.step, c.output, c.op.as_str(), c.value)
}

/// The CEL expression kfp writes for `operand <op> value`: integer values wrapped in `int()`,
/// integers promoted with `double()` when compared with a float, strings single-quoted; a
/// parameter is read from the group's `pipelinechannel--<param>` input (kfp 2.17.3 compiles
/// `dsl.If(task.outputs["x"] >= param)` so, see its `compiler_utils` condition rendering).
fn cel(operand: &Source, rhs_param: Option<&Source>, c: &Condition) -> Result<String, TargetError> {
    let typed = |source: &Source| match source_type(source)? {
        IoType::Parameter(ty) => Ok((format!("inputs.parameter_values['{}']", source.channel().unwrap_or_default()), ty)),
        IoType::Artifact(_) => Err(bug(format!("condition on artifact `{}.{}`", c.step, c.output))),
    };
    let int = |(text, ty): (String, ParamType)| if ty == ParamType::Int { (format!("int({text})"), ty) } else { (text, ty) };
    let (mut lhs, ty) = int(typed(operand)?);
    if let Some(param) = rhs_param {
        let (mut rhs, rhs_ty) = int(typed(param)?);
        match (ty, rhs_ty) {
            (ParamType::Int, ParamType::Float) => lhs = format!("double({lhs})"),
            (ParamType::Float, ParamType::Int) => rhs = format!("double({rhs})"),
            _ => {}
        }
        return Ok(format!("{lhs} {} {rhs}", c.op.as_str()));
    }
    let Operand::Literal(value) = &c.value else { return Err(bug("parameter operand without its source")) };
    let rhs = match value {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => {
            if ty == ParamType::Int {
                lhs = format!("double({lhs})");
            }
            python_float(n.as_f64().unwrap_or_default())
        }
        Value::Number(n) if ty == ParamType::Float => format!("double({n})"),
        Value::Number(n) => n.to_string(),
        other => return Err(bug(format!("condition value `{other}`"))),
    };
    Ok(format!("{lhs} {} {rhs}", c.op.as_str()))
}
