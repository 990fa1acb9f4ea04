//! Custom KFP components: the component YAML file a `component` step names, read at build time.
//!
//! The file is what kfp 2 writes for a container component (`kfp.compiler.Compiler().compile`
//! or `kfp component build`): a `PipelineSpec` whose `pipelineInfo.name` names the component,
//! `components.comp-<name>` its interface and `deploymentSpec.executors.exec-<name>` its
//! container. That is how kfp's own loader reads it (`kfp.dsl.structures.ComponentSpec.from_ir_dicts`
//! in kubeflow/pipelines `sdk/python/kfp/dsl/structures.py`: the component key is
//! `comp-` + the sanitised name, the executor `exec-` + the same; no executor means a pipeline,
//! a graph component). The interface and the container are parsed into the IR types the
//! Kubeflow target writes, which reject fields they can't carry, so nothing in the file is
//! silently dropped; descriptions are dropped as kfp's loader drops them.
//!
//! Not supported (each reported at its position in the file): kfp 1 component files
//! (`implementation.container`), graph components, importer executors, artifact lists, artifact
//! types outside `system.*`/the Vertex types mlopsgen knows, and a second YAML document (a
//! `PlatformSpec` of kfp-kubernetes settings).

use super::{kfp_task_name, ArtifactType, IoType, Output, ParamType};
use crate::diagnostic::Pos;
use crate::spec::yaml::{self, pointer_push};
use crate::targets::kubeflow::ir::{ComponentSpec, Container, ExecutorSpec};
use serde_json::Value;

/// A loaded component file.
#[derive(Debug, Clone)]
pub struct Component {
    /// The path as the spec gives it (relative to the spec's folder).
    pub path: String,
    /// sha256 of the file's bytes (an input of the build, see the manifest).
    pub sha256: String,
    /// `pipelineInfo.name`.
    pub name: String,
    /// Inputs, sorted by name.
    pub inputs: Vec<ComponentInput>,
    /// Outputs, sorted by name.
    pub outputs: Vec<Output>,
    /// The interface as the IR carries it (no executor label: the pipeline gives one).
    pub interface: ComponentSpec,
    /// The container, as written.
    pub container: Container,
}

impl Component {
    /// Looks up an input.
    pub fn input(&self, name: &str) -> Option<&ComponentInput> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

/// A component input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInput {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: IoType,
    /// Whether a task may leave it unset (it has a default or `isOptional`).
    pub optional: bool,
}

/// Why a component file can't be used: a position in the file and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Where in the component file.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// Parses a component file's text.
pub fn parse(path: &str, text: &str) -> Result<Component, LoadError> {
    let doc = yaml::parse(text).map_err(|mut d| {
        let first = d.remove(0);
        LoadError { pos: first.pos, message: first.message }
    })?;
    let at = |pointer: &str, message: String| LoadError { pos: doc.spans.value(pointer), message };
    let v = &doc.value;
    if v.get("implementation").is_some() {
        let hint = "a kfp 1 component (`implementation.container`) is not supported: load it with kfp 2 and write it again with `kfp.compiler.Compiler().compile(component, \"component.yaml\")`";
        return Err(LoadError { pos: doc.spans.key("/implementation"), message: hint.into() });
    }
    let Some(name) = v.pointer("/pipelineInfo/name").and_then(Value::as_str) else {
        return Err(at("/pipelineInfo", "not a kfp 2 component file: `pipelineInfo.name` is missing".into()));
    };
    let key = kfp_task_name(name);
    let exec_ptr = pointer_push("/deploymentSpec/executors", &format!("exec-{key}"));
    let Some(executor) = v.pointer(&exec_ptr) else {
        return Err(at("/pipelineInfo/name", format!("`{name}` has no executor `exec-{key}`: it is a pipeline (graph component); only container components are supported")));
    };
    let executor: ExecutorSpec = serde_json::from_value(executor.clone()).map_err(|e| at(&exec_ptr, format!("executor `exec-{key}`: {e}")))?;
    let ExecutorSpec::Container(container) = executor else {
        return Err(at(&exec_ptr, format!("executor `exec-{key}` is not a container")));
    };
    let comp_ptr = pointer_push("/components", &format!("comp-{key}"));
    let Some(raw) = v.pointer(&comp_ptr) else {
        return Err(at("/components", format!("component `comp-{key}` is missing")));
    };
    let mut raw = raw.clone();
    drop_descriptions(&mut raw);
    let mut interface: ComponentSpec = serde_json::from_value(raw).map_err(|e| at(&comp_ptr, format!("component `comp-{key}`: {e}")))?;
    if interface.dag.is_some() {
        return Err(at(&comp_ptr, format!("component `comp-{key}` is a pipeline (graph component); only container components are supported")));
    }
    interface.executor_label = None;
    let mut inputs = Vec::new();
    for (side, dir) in [("inputDefinitions", true), ("outputDefinitions", false)] {
        let defs = if dir { &interface.input_definitions } else { &interface.output_definitions };
        for (n, p) in &defs.parameters {
            let ptr = pointer_push(&format!("{comp_ptr}/{side}/parameters"), n);
            let ty = param_type(&p.parameter_type).ok_or_else(|| at(&format!("{ptr}/parameterType"), format!("unknown parameter type `{}`", p.parameter_type)))?;
            inputs.push((dir, n.clone(), IoType::Parameter(ty), p.is_optional || p.default_value.is_some()));
        }
        for (n, a) in &defs.artifacts {
            let ptr = pointer_push(&format!("{comp_ptr}/{side}/artifacts"), n);
            let title = &a.artifact_type.schema_title;
            let ty = artifact_type(title).ok_or_else(|| at(&format!("{ptr}/artifactType/schemaTitle"), format!("artifact type `{title}` is not one mlopsgen knows (system.Dataset, system.Model, system.Metrics, system.ClassificationMetrics, system.Markdown, system.HTML, system.Artifact, google.VertexModel, google.VertexEndpoint, google.VertexBatchPredictionJob, google.UnmanagedContainerModel)")))?;
            inputs.push((dir, n.clone(), IoType::Artifact(ty), a.is_optional));
        }
    }
    let (ins, outs): (Vec<_>, Vec<_>) = inputs.into_iter().partition(|(dir, ..)| *dir);
    let mut inputs: Vec<ComponentInput> = ins.into_iter().map(|(_, name, ty, optional)| ComponentInput { name, ty, optional }).collect();
    let mut outputs: Vec<Output> = outs.into_iter().map(|(_, name, ty, _)| Output { name, ty }).collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    outputs.sort_by(|a, b| a.name.cmp(&b.name));
    check_placeholders(&container, &inputs, &outputs).map_err(|m| at(&format!("{exec_ptr}/container"), m))?;
    Ok(Component {
        path: path.to_owned(),
        sha256: crate::output::manifest::sha256_hex(text.as_bytes()),
        name: name.to_owned(),
        inputs,
        outputs,
        interface,
        container,
    })
}

/// Removes `description` from every input and output definition (kfp's loader drops them too:
/// `InputSpec.from_ir_component_inputs_dict` reads type, default and optionality only).
fn drop_descriptions(component: &mut Value) {
    for side in ["inputDefinitions", "outputDefinitions"] {
        for kind in ["parameters", "artifacts"] {
            if let Some(Value::Object(entries)) = component.get_mut(side).and_then(|s| s.get_mut(kind)) {
                for entry in entries.values_mut() {
                    if let Value::Object(e) = entry {
                        e.remove("description");
                    }
                }
            }
        }
    }
}

/// Each `{{$.inputs.…['x']}}`/`{{$.outputs.…['x']}}` in the command and args names an input or
/// output the component declares (kfp's loader checks the same).
fn check_placeholders(container: &Container, inputs: &[ComponentInput], outputs: &[Output]) -> Result<(), String> {
    for text in container.command.iter().chain(&container.args) {
        for (prefix, is_input) in [("$.inputs.parameters['", true), ("$.inputs.artifacts['", true), ("$.outputs.parameters['", false), ("$.outputs.artifacts['", false)] {
            let mut rest = text.as_str();
            while let Some(at) = rest.find(prefix) {
                rest = &rest[at + prefix.len()..];
                let name = rest.split('\'').next().unwrap_or_default();
                let known = if is_input { inputs.iter().any(|i| i.name == name) } else { outputs.iter().any(|o| o.name == name) };
                if !known {
                    let what = if is_input { "input" } else { "output" };
                    return Err(format!("the container refers to {what} `{name}`, which the component does not declare"));
                }
            }
        }
    }
    Ok(())
}

/// The spec type of an IR parameter type.
fn param_type(ir: &str) -> Option<ParamType> {
    Some(match ir {
        "STRING" => ParamType::String,
        "NUMBER_INTEGER" => ParamType::Int,
        "NUMBER_DOUBLE" => ParamType::Float,
        "BOOLEAN" => ParamType::Bool,
        "LIST" => ParamType::List,
        "STRUCT" => ParamType::Struct,
        _ => return None,
    })
}

/// The artifact type of a `schemaTitle`.
fn artifact_type(title: &str) -> Option<ArtifactType> {
    use ArtifactType::*;
    [Dataset, Model, Metrics, ClassificationMetrics, Markdown, Html, Artifact, VertexModel, VertexEndpoint, VertexBatchPredictionJob, UnmanagedContainerModel]
        .into_iter()
        .find(|t| t.schema_title() == title)
}

/// Whether a value of type `given` may feed a component input of type `wanted`, as kfp's type
/// check decides (kubeflow/pipelines `sdk/python/kfp/dsl/types/type_utils.py`,
/// `check_parameter_type_compatibility` and `check_artifact_type_compatibility`): parameters of
/// the same type; artifacts of the same type, or any artifact when either side is the generic
/// `system.Artifact`.
pub fn accepts(wanted: IoType, given: IoType) -> bool {
    match (wanted, given) {
        (IoType::Artifact(w), IoType::Artifact(g)) => w == g || w == ArtifactType::Artifact || g == ArtifactType::Artifact,
        _ => wanted == given,
    }
}

/// The component files a model's steps read, as (path from the spec's folder, sha256), sorted
/// and without repeats: the build's inputs besides the spec.
pub fn files(model: &super::Model) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = model
        .pipelines
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.kind {
            super::StepKind::Component { component } => Some((component.path.clone(), component.sha256.clone())),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
