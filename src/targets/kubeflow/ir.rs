//! Serde types for the parts of KFP's `PipelineSpec` (schema 2.1.0) that mlopsgen writes.
//!
//! Field names are the proto3 JSON names; proto3 defaults (false, 0, empty) are skipped as
//! `MessageToDict` does. `google.protobuf.Value` fields are `serde_json::Value`s whose numbers
//! are floats (see [`super::json::proto_value`]). The vendored GCPC fragments deserialize into
//! the same types, with unknown fields rejected, so a fragment mlopsgen can't represent fails
//! loudly instead of losing data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `schemaVersion` of the IR.
pub const SCHEMA_VERSION: &str = "2.1.0";
/// `sdkVersion`: the kfp release whose compiler output this matches.
pub const SDK_VERSION: &str = "kfp-2.17.3";
/// `schemaVersion` of every artifact type.
pub const ARTIFACT_SCHEMA_VERSION: &str = "0.0.1";
/// The placeholder the launcher replaces with the whole executor input (JSON), where the
/// executor output file's path is (`outputs.outputFile`).
pub const EXECUTOR_INPUT: &str = "{{$}}";

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A whole pipeline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSpec {
    /// Components by `comp-…` name.
    pub components: BTreeMap<String, ComponentSpec>,
    /// Default pipeline root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_pipeline_root: Option<String>,
    /// Executors.
    pub deployment_spec: DeploymentSpec,
    /// Name and description.
    pub pipeline_info: PipelineInfo,
    /// The root component (pipeline parameters and top-level DAG).
    pub root: ComponentSpec,
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// [`SDK_VERSION`].
    pub sdk_version: String,
}

/// `pipelineInfo`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineInfo {
    /// Pipeline name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `deploymentSpec` (a `PipelineDeploymentConfig`).
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentSpec {
    /// Executors by `exec-…` label.
    pub executors: BTreeMap<String, ExecutorSpec>,
}

/// A component: an executor (`executorLabel`) or a sub-DAG (`dag`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentSpec {
    /// Sub-DAG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dag: Option<Dag>,
    /// Executor label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_label: Option<String>,
    /// Inputs.
    #[serde(default, skip_serializing_if = "Interface::is_empty")]
    pub input_definitions: Interface,
    /// Outputs.
    #[serde(default, skip_serializing_if = "Interface::is_empty")]
    pub output_definitions: Interface,
}

/// Input or output definitions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Artifacts by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, ArtifactSpec>,
    /// Parameters by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, ParameterSpec>,
}

impl Interface {
    /// No artifacts and no parameters.
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty() && self.parameters.is_empty()
    }
}

/// An artifact type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypeSchema {
    /// e.g. `system.Model`.
    pub schema_title: String,
    /// [`ARTIFACT_SCHEMA_VERSION`].
    pub schema_version: String,
}

impl TypeSchema {
    /// The type with the usual schema version.
    pub fn titled(title: &str) -> Self {
        TypeSchema { schema_title: title.to_owned(), schema_version: ARTIFACT_SCHEMA_VERSION.to_owned() }
    }
}

/// An artifact input or output definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtifactSpec {
    /// Type.
    pub artifact_type: TypeSchema,
    /// Optional input.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_optional: bool,
}

/// A parameter input or output definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParameterSpec {
    /// `STRING`, `NUMBER_INTEGER`, `NUMBER_DOUBLE`, `BOOLEAN`, `LIST` or `STRUCT`.
    pub parameter_type: String,
    /// Default (a `google.protobuf.Value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
    /// Optional input.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_optional: bool,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ParameterSpec {
    /// A required parameter of a type.
    pub fn of(parameter_type: &str) -> Self {
        ParameterSpec { parameter_type: parameter_type.to_owned(), default_value: None, is_optional: false, description: None }
    }
}

/// A DAG.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dag {
    /// Tasks by key.
    pub tasks: BTreeMap<String, Task>,
}

/// A task of a DAG.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Task {
    /// Caching (absent on condition groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_options: Option<CachingOptions>,
    /// The component it runs.
    pub component_ref: ComponentRef,
    /// Sibling tasks it waits for, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependent_tasks: Vec<String>,
    /// Input wiring.
    #[serde(default, skip_serializing_if = "TaskInputs::is_empty")]
    pub inputs: TaskInputs,
    /// Retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Display name.
    pub task_info: TaskInfo,
    /// Run condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_policy: Option<TriggerPolicy>,
}

/// `cachingOptions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CachingOptions {
    /// Reuse cached results.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_cache: bool,
}

/// `componentRef`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentRef {
    /// `comp-…` name.
    pub name: String,
}

/// `taskInfo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInfo {
    /// Display name.
    pub name: String,
}

/// `triggerPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerPolicy {
    /// CEL expression over `inputs.parameter_values[…]`.
    pub condition: String,
}

/// `retryPolicy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Wait before the first retry.
    pub backoff_duration: String,
    /// Exponential backoff factor.
    pub backoff_factor: f64,
    /// Longest wait.
    pub backoff_max_duration: String,
    /// Retries.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_retry_count: u32,
}

impl RetryPolicy {
    /// What kfp's `set_retry(n)` writes: immediate retry, factor 2, at most an hour.
    pub fn retries(n: u32) -> Self {
        RetryPolicy { backoff_duration: "0s".into(), backoff_factor: 2.0, backoff_max_duration: "3600s".into(), max_retry_count: n }
    }
}

/// A task's inputs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInputs {
    /// Artifacts by input name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, ArtifactInput>,
    /// Parameters by input name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, ParamInput>,
}

impl TaskInputs {
    /// No inputs.
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty() && self.parameters.is_empty()
    }
}

/// Where a parameter input comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ParamInput {
    /// An input of the enclosing DAG.
    ComponentInputParameter(String),
    /// A sibling task's output.
    #[serde(rename_all = "camelCase")]
    TaskOutputParameter {
        /// Output name.
        output_parameter_key: String,
        /// Task key.
        producer_task: String,
    },
    /// A literal.
    RuntimeValue {
        /// The value (a `google.protobuf.Value`).
        constant: Value,
    },
}

/// Where an artifact input comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ArtifactInput {
    /// An input of the enclosing DAG.
    ComponentInputArtifact(String),
    /// A sibling task's output.
    #[serde(rename_all = "camelCase")]
    TaskOutputArtifact {
        /// Output name.
        output_artifact_key: String,
        /// Task key.
        producer_task: String,
    },
}

/// An executor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ExecutorSpec {
    /// A container.
    Container(Container),
    /// An importer (run by the backend, no container).
    Importer(Importer),
}

/// A container executor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    /// Arguments (placeholders resolved by the backend).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Environment, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Image URI.
    pub image: String,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// An environment variable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Container resources, in both the current string form and the deprecated numeric form, as
/// kfp writes them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// Accelerator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<AcceleratorConfig>,
    /// CPU limit in cores (deprecated form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// Memory limit in GB (deprecated form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<f64>,
    /// CPU limit as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_cpu_limit: Option<String>,
    /// Memory limit as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_memory_limit: Option<String>,
}

/// An accelerator (int64 counts are JSON strings).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceleratorConfig {
    /// Count (deprecated form).
    pub count: String,
    /// Count.
    pub resource_count: String,
    /// Type.
    pub resource_type: String,
    /// Type (deprecated form).
    #[serde(rename = "type")]
    pub ty: String,
}

/// An importer executor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Importer {
    /// The artifact's URI.
    pub artifact_uri: ImporterUri,
    /// Metadata of the imported artifact (a `google.protobuf.Struct`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Type of the imported artifact.
    pub type_schema: TypeSchema,
}

/// An importer's URI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ImporterUri {
    /// A literal URI.
    Constant(String),
    /// The importer component's input parameter of that name.
    RuntimeParameter(String),
}
