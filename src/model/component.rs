//! Custom KFP components: what the component YAML file a `component` step names declares.
//!
//! The file is what kfp 2 writes for a container component (`kfp.compiler.Compiler().compile`
//! or `kfp component build`): a `PipelineSpec` whose `pipelineInfo.name` names the component,
//! `components.comp-<name>` its interface and `deploymentSpec.executors.exec-<name>` its
//! container. That is how kfp's own loader reads it (kubeflow/pipelines
//! `sdk/python/kfp/dsl/structures.py`, `ComponentSpec.from_ir_dicts`: the component key is
//! `comp-` + the sanitised name, the executor `exec-` + the same; no executor means a pipeline,
//! a graph component). Inputs and outputs become typed step inputs and outputs, an input is
//! optional as kfp decides it (`isOptional`, else whether it has a default), and descriptions
//! are dropped as kfp's loader drops them (`InputSpec.from_ir_component_inputs_dict`).
//!
//! Fields are read strictly: anything the Kubeflow target couldn't write back is reported at its
//! position in the file instead of being dropped — kfp 1 files (`implementation.container`),
//! graph components, importers, artifact lists, container resources or lifecycle hooks, artifact
//! types mlopsgen doesn't know, placeholders naming undeclared inputs or outputs.

use super::{kfp_task_name, ArtifactType, IoType, Output, ParamType};
use crate::diagnostic::Pos;
use crate::spec::yaml::pointer_push;
use crate::spec::ComponentFile;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a component file declares.
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
    /// Its container.
    pub container: ComponentContainer,
}

impl Component {
    /// Looks up an input.
    pub fn input(&self, name: &str) -> Option<&ComponentInput> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

/// A component input.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentInput {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: IoType,
    /// Whether a task may leave it unset.
    pub optional: bool,
    /// Default value of a parameter.
    pub default: Option<Value>,
}

/// A component's container, as written (placeholders included).
#[derive(Debug, Clone, Default)]
pub struct ComponentContainer {
    /// Image.
    pub image: String,
    /// Command.
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
}

/// Why a component file can't be used: a position in the file and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Where in the component file.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ComponentDef {
    #[serde(default)]
    executor_label: Option<String>,
    #[serde(default)]
    input_definitions: Definitions,
    #[serde(default)]
    output_definitions: Definitions,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Definitions {
    #[serde(default)]
    parameters: BTreeMap<String, ParameterDef>,
    #[serde(default)]
    artifacts: BTreeMap<String, ArtifactDef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ParameterDef {
    parameter_type: String,
    #[serde(default)]
    default_value: Option<Value>,
    #[serde(default)]
    is_optional: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArtifactDef {
    artifact_type: TypeDef,
    #[serde(default)]
    is_optional: bool,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TypeDef {
    schema_title: String,
    schema_version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutorDef {
    container: ContainerDef,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerDef {
    image: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<EnvDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvDef {
    name: String,
    value: String,
}

/// The only artifact schema version kfp's artifact types have (`0.0.1`).
const SCHEMA_VERSION: &str = "0.0.1";

/// Reads what a component file declares.
pub fn parse(file: &ComponentFile) -> Result<Component, LoadError> {
    let doc = &file.doc;
    let at = |pointer: &str, message: String| LoadError { pos: doc.spans.value(pointer), message };
    let v = &doc.value;
    if v.get("implementation").is_some() {
        let message = "a kfp 1 component (`implementation.container`) is not supported: load it with kfp 2 and write it again with `kfp.compiler.Compiler().compile(component, \"component.yaml\")`";
        return Err(LoadError { pos: doc.spans.key("/implementation"), message: message.into() });
    }
    let Some(name) = v.pointer("/pipelineInfo/name").and_then(Value::as_str) else {
        return Err(at("/pipelineInfo", "not a kfp 2 component file: `pipelineInfo.name` is missing".into()));
    };
    let key = kfp_task_name(name);
    let exec_ptr = pointer_push("/deploymentSpec/executors", &format!("exec-{key}"));
    let Some(executor) = v.pointer(&exec_ptr) else {
        return Err(at("/pipelineInfo/name", format!("`{name}` has no executor `exec-{key}`: it is a pipeline (graph component); only container components are supported")));
    };
    let executor: ExecutorDef = strict(executor, &exec_ptr, doc)?;
    let comp_ptr = pointer_push("/components", &format!("comp-{key}"));
    let Some(raw) = v.pointer(&comp_ptr) else {
        return Err(at("/components", format!("component `comp-{key}` is missing")));
    };
    let def: ComponentDef = strict(raw, &comp_ptr, doc)?;
    if def.executor_label.as_deref().is_some_and(|l| l != format!("exec-{key}")) {
        return Err(at(&format!("{comp_ptr}/executorLabel"), format!("the executor label must be `exec-{key}`")));
    }
    let param = |side: &str, n: &str, p: &ParameterDef| -> Result<ParamType, LoadError> {
        let ptr = pointer_push(&format!("{comp_ptr}/{side}/parameters"), n);
        param_type(&p.parameter_type).ok_or_else(|| at(&format!("{ptr}/parameterType"), format!("unknown parameter type `{}`", p.parameter_type)))
    };
    let artifact = |side: &str, n: &str, a: &ArtifactDef| -> Result<ArtifactType, LoadError> {
        let ptr = pointer_push(&format!("{comp_ptr}/{side}/artifacts"), n);
        let t = &a.artifact_type;
        if t.schema_version != SCHEMA_VERSION {
            return Err(at(&format!("{ptr}/artifactType/schemaVersion"), format!("artifact schema version `{}` is not {SCHEMA_VERSION}", t.schema_version)));
        }
        artifact_type(&t.schema_title).ok_or_else(|| at(&format!("{ptr}/artifactType/schemaTitle"), format!("artifact type `{}` is not one mlopsgen knows ({})", t.schema_title, known_artifacts())))
    };
    let mut inputs = Vec::new();
    for (n, p) in &def.input_definitions.parameters {
        let ty = IoType::Parameter(param("inputDefinitions", n, p)?);
        // kfp <= 2.0.0b8 wrote defaults without `isOptional`; kfp reads those as optional.
        let optional = p.is_optional.unwrap_or(p.default_value.is_some());
        inputs.push(ComponentInput { name: n.clone(), ty, optional, default: p.default_value.clone() });
    }
    for (n, a) in &def.input_definitions.artifacts {
        let ty = IoType::Artifact(artifact("inputDefinitions", n, a)?);
        inputs.push(ComponentInput { name: n.clone(), ty, optional: a.is_optional, default: None });
    }
    let mut outputs = Vec::new();
    for (n, p) in &def.output_definitions.parameters {
        outputs.push(Output { name: n.clone(), ty: IoType::Parameter(param("outputDefinitions", n, p)?) });
    }
    for (n, a) in &def.output_definitions.artifacts {
        outputs.push(Output { name: n.clone(), ty: IoType::Artifact(artifact("outputDefinitions", n, a)?) });
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    outputs.sort_by(|a, b| a.name.cmp(&b.name));
    let c = executor.container;
    let container = ComponentContainer { image: c.image, command: c.command, args: c.args, env: c.env.into_iter().map(|e| (e.name, e.value)).collect() };
    check_placeholders(&container, &inputs, &outputs).map_err(|m| at(&format!("{exec_ptr}/container"), m))?;
    Ok(Component {
        path: file.path.clone(),
        sha256: format!("{:x}", Sha256::digest(file.text.as_bytes())),
        name: name.to_owned(),
        inputs,
        outputs,
        container,
    })
}

/// Deserialises a part of the file, positioning serde's complaint at that part (an unknown
/// field at its key).
fn strict<T: serde::de::DeserializeOwned>(value: &Value, pointer: &str, doc: &crate::spec::yaml::Document) -> Result<T, LoadError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner: String = e.path().iter().map(|seg| format!("/{seg}")).filter(|seg| seg != "/.").collect();
        let at = format!("{pointer}{inner}");
        let message = e.inner().to_string();
        let unknown = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next());
        let pos = match unknown {
            Some(field) => doc.spans.key(&pointer_push(&at, field)),
            None => doc.spans.value(&at),
        };
        LoadError { pos, message }
    })
}

/// Each `{{$.inputs.…['x']}}`/`{{$.outputs.…['x']}}` in the command and args names an input or
/// output the component declares (kfp's loader checks the same).
fn check_placeholders(container: &ComponentContainer, inputs: &[ComponentInput], outputs: &[Output]) -> Result<(), String> {
    const PREFIXES: [(&str, bool); 4] =
        [("$.inputs.parameters['", true), ("$.inputs.artifacts['", true), ("$.outputs.parameters['", false), ("$.outputs.artifacts['", false)];
    for text in container.command.iter().chain(&container.args) {
        for (prefix, is_input) in PREFIXES {
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

const ARTIFACTS: [ArtifactType; 11] = {
    use ArtifactType::*;
    [Dataset, Model, Metrics, ClassificationMetrics, Markdown, Html, Artifact, VertexModel, VertexEndpoint, VertexBatchPredictionJob, UnmanagedContainerModel]
};

/// The artifact type of a `schemaTitle`.
fn artifact_type(title: &str) -> Option<ArtifactType> {
    ARTIFACTS.into_iter().find(|t| t.schema_title() == title)
}

fn known_artifacts() -> String {
    ARTIFACTS.map(ArtifactType::schema_title).join(", ")
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
            super::StepKind::Component { component, .. } => Some((component.path.clone(), component.sha256.clone())),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
