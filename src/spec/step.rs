//! What a pipeline step declares, read from the spec alone: the settings every kind shares, its
//! container image and args, its outputs and their types, its `when:` condition, and the
//! syntax inside them (`{{params.x}}` args, `step.output OP value` conditions, `<model>@<alias>`
//! references, `bq://`/`gs://` dataset sources). Validation checks these and lowering builds the
//! model from them, so both read one definition; every match on [`Step`] here is exhaustive, so
//! a new step kind is walked through each capability by the compiler.

use super::{ComponentStep, Env, OutputType, ParamType, SearchParam, Step, StepCommon};
use std::collections::BTreeMap;

/// No environment variables (a tuning step has none).
static NO_ENV: Env = BTreeMap::new();

/// No declared outputs (a tuning step's outputs are its search space).
static NO_OUTPUTS: BTreeMap<String, OutputType> = BTreeMap::new();

/// A step's `reads`, `writes` and `env`.
pub type DeclaredAccess<'a> = (&'a [String], &'a [String], &'a Env);

/// The container of a step kind that runs one the spec's author wrote: its image, args, declared
/// outputs and declared access, as the spec gives them.
#[derive(Debug, Clone, Copy)]
pub struct UserContainer<'a> {
    /// Image key from `images`.
    pub image: &'a str,
    /// Arguments, with their `{{…}}` placeholders.
    pub args: &'a [String],
    /// Outputs by name and type.
    pub outputs: &'a BTreeMap<String, OutputType>,
    /// `reads`.
    pub reads: &'a [String],
    /// `writes`.
    pub writes: &'a [String],
    /// Environment variables.
    pub env: &'a Env,
}

impl Step {
    /// The container the spec's author wrote (`None` for the built-in kinds, whose container
    /// mlopsgen provides, and for component files, whose container the file gives).
    pub fn user_container(&self) -> Option<UserContainer<'_>> {
        match self {
            Step::Container(c) => {
                Some(UserContainer { image: &c.image, args: &c.args, outputs: &c.outputs, reads: &c.reads, writes: &c.writes, env: &c.env })
            }
            Step::CustomTraining(c) => {
                Some(UserContainer { image: &c.image, args: &c.args, outputs: &c.outputs, reads: &c.reads, writes: &c.writes, env: &c.env })
            }
            Step::HyperparameterTuning(t) => {
                Some(UserContainer { image: &t.image, args: &t.args, outputs: &NO_OUTPUTS, reads: &t.reads, writes: &t.writes, env: &NO_ENV })
            }
            Step::ModelUpload(_)
            | Step::ModelPromote(_)
            | Step::EndpointDeploy(_)
            | Step::BatchPrediction(_)
            | Step::DataValidation(_)
            | Step::Component(_) => None,
        }
    }

    /// What a container-running step declares it reads and writes, and its environment
    /// (`None` for the other kinds, whose access mlopsgen derives itself).
    pub fn declared_access(&self) -> Option<DeclaredAccess<'_>> {
        self.user_container().map(|c| (c.reads, c.writes, c.env))
    }

    /// The settings every step kind shares.
    pub fn common(&self) -> &StepCommon {
        match self {
            Step::Container(s) => &s.common,
            Step::CustomTraining(s) => &s.common,
            Step::HyperparameterTuning(s) => &s.common,
            Step::ModelUpload(s) => &s.common,
            Step::ModelPromote(s) => &s.common,
            Step::EndpointDeploy(s) => &s.common,
            Step::BatchPrediction(s) => &s.common,
            Step::DataValidation(s) => &s.common,
            Step::Component(s) => &s.common,
        }
    }

    /// The image from `images` its [`Step::user_container`] runs (a `component` step's optional
    /// image replaces the file's and is its own field).
    pub fn image(&self) -> Option<&str> {
        self.user_container().map(|c| c.image)
    }

    /// The args of its [`Step::user_container`] (none for the other kinds).
    pub fn args(&self) -> &[String] {
        self.user_container().map_or(&[], |c| c.args)
    }

    /// The outputs the spec declares by name and type (`outputs:` of a [`Step::user_container`]
    /// that has them; empty for the others).
    pub fn declared_outputs(&self) -> &BTreeMap<String, OutputType> {
        self.user_container().map_or(&NO_OUTPUTS, |c| c.outputs)
    }

    /// Outputs of a step kind: declared ones for user containers, fixed ones for built-in kinds.
    pub fn outputs(&self) -> Vec<Output> {
        let declared = |outs: &BTreeMap<String, OutputType>| {
            outs.iter().map(|(n, t)| Output { name: n.clone(), ty: t.io_type() }).collect()
        };
        let fixed = |list: &[(&str, ArtifactType)]| {
            list.iter().map(|(n, t)| Output { name: (*n).to_owned(), ty: IoType::Artifact(*t) }).collect()
        };
        match self {
            Step::Container(s) => declared(&s.outputs),
            Step::CustomTraining(s) => declared(&s.outputs),
            Step::HyperparameterTuning(t) => {
                t.search_space.iter().map(|(n, p)| Output { name: n.clone(), ty: IoType::Parameter(p.best_value_type()) }).collect()
            }
            Step::EndpointDeploy(_) => Vec::new(),
            Step::ModelUpload(_) => fixed(&[("model", ArtifactType::VertexModel)]),
            Step::ModelPromote(_) => vec![Output { name: "promoted".into(), ty: IoType::Parameter(ParamType::Bool) }],
            Step::BatchPrediction(_) => fixed(&[("predictions", ArtifactType::VertexBatchPredictionJob)]),
            Step::DataValidation(_) => fixed(&[
                ("dataset", ArtifactType::Dataset),
                ("metrics", ArtifactType::Metrics),
                ("report", ArtifactType::Markdown),
            ]),
            Step::Component(c) => c.outputs(),
        }
    }
}

impl ComponentStep {
    /// The outputs its component file declares (none before the file is read: validation
    /// reports why it couldn't be).
    pub fn outputs(&self) -> Vec<Output> {
        self.loaded.as_deref().map(|f| f.outputs.clone()).unwrap_or_default()
    }
}

impl OutputType {
    /// Maps a spec output type to its model type.
    pub fn io_type(self) -> IoType {
        use ArtifactType as A;
        match self {
            OutputType::Dataset => IoType::Artifact(A::Dataset),
            OutputType::Model => IoType::Artifact(A::Model),
            OutputType::Metrics => IoType::Artifact(A::Metrics),
            OutputType::ClassificationMetrics => IoType::Artifact(A::ClassificationMetrics),
            OutputType::Markdown => IoType::Artifact(A::Markdown),
            OutputType::HTML => IoType::Artifact(A::Html),
            OutputType::Artifact => IoType::Artifact(A::Artifact),
            OutputType::String => IoType::Parameter(ParamType::String),
            OutputType::Int => IoType::Parameter(ParamType::Int),
            OutputType::Float => IoType::Parameter(ParamType::Float),
            OutputType::Bool => IoType::Parameter(ParamType::Bool),
        }
    }
}

impl SearchParam {
    /// Type of a tuning step's output: the best trial's value of one hyperparameter (Vertex reports
    /// every trial parameter as a JSON number or string, REST `Trial.Parameter.value`).
    pub fn best_value_type(&self) -> ParamType {
        match self {
            SearchParam::Integer { .. } => ParamType::Int,
            SearchParam::Categorical { .. } => ParamType::String,
            SearchParam::Double { .. } | SearchParam::Discrete { .. } => ParamType::Float,
        }
    }
}

/// Artifact types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArtifactType {
    /// `system.Dataset`.
    Dataset,
    /// `system.Model`.
    Model,
    /// `system.Metrics`.
    Metrics,
    /// `system.ClassificationMetrics`.
    ClassificationMetrics,
    /// `system.Markdown`.
    Markdown,
    /// `system.HTML`.
    Html,
    /// `system.Artifact`.
    Artifact,
    /// `google.VertexModel`.
    VertexModel,
    /// `google.VertexEndpoint`.
    VertexEndpoint,
    /// `google.VertexBatchPredictionJob`.
    VertexBatchPredictionJob,
    /// `google.UnmanagedContainerModel`.
    UnmanagedContainerModel,
}

impl ArtifactType {
    /// The KFP `schemaTitle`.
    pub fn schema_title(self) -> &'static str {
        match self {
            ArtifactType::Dataset => "system.Dataset",
            ArtifactType::Model => "system.Model",
            ArtifactType::Metrics => "system.Metrics",
            ArtifactType::ClassificationMetrics => "system.ClassificationMetrics",
            ArtifactType::Markdown => "system.Markdown",
            ArtifactType::Html => "system.HTML",
            ArtifactType::Artifact => "system.Artifact",
            ArtifactType::VertexModel => "google.VertexModel",
            ArtifactType::VertexEndpoint => "google.VertexEndpoint",
            ArtifactType::VertexBatchPredictionJob => "google.VertexBatchPredictionJob",
            ArtifactType::UnmanagedContainerModel => "google.UnmanagedContainerModel",
        }
    }
}

/// The type of a step input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IoType {
    /// An artifact.
    Artifact(ArtifactType),
    /// A parameter.
    Parameter(ParamType),
}

/// A named, typed step output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: IoType,
}

/// One piece of a templated argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgPart {
    /// Literal text.
    Text(String),
    /// `{{params.x}}`: value of a pipeline parameter (the step gets an input named `x`).
    Param(String),
    /// `{{inputs.x}}`: an input's value (parameters) or local path (artifacts).
    Input(String),
    /// `{{outputs.x}}`: an output's local path (artifacts) or output file (parameters).
    Output(String),
}

/// A templated argument: literal text interleaved with references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg(pub Vec<ArgPart>);

/// Comparison operators of conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// Run a step only if an earlier step's output parameter compares true.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Producer step.
    pub step: String,
    /// Producer's output parameter.
    pub output: String,
    /// Operator.
    pub op: CmpOp,
    /// Right-hand side.
    pub value: Operand,
}

/// The right-hand side of a condition: a literal or a pipeline parameter (`params.x`).
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number, boolean or string.
    Literal(serde_json::Value),
    /// A pipeline parameter's run-time value.
    Param(String),
}

impl std::fmt::Display for Operand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operand::Literal(v) => write!(f, "{v}"),
            Operand::Param(name) => write!(f, "params.{name}"),
        }
    }
}

impl Arg {
    /// Splits `train --lr {{params.lr}}` into text and references. Unknown namespaces stay text
    /// (validation reports them).
    pub fn parse(arg: &str) -> Arg {
        let mut parts = Vec::new();
        let mut rest = arg;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else { break };
            let inner = rest[start + 2..start + len].trim();
            let part = match inner.split_once('.') {
                Some(("params", n)) => Some(ArgPart::Param(n.to_owned())),
                Some(("inputs", n)) => Some(ArgPart::Input(n.to_owned())),
                Some(("outputs", n)) => Some(ArgPart::Output(n.to_owned())),
                _ => None,
            };
            match part {
                Some(p) => {
                    if start > 0 {
                        parts.push(ArgPart::Text(rest[..start].to_owned()));
                    }
                    parts.push(p);
                }
                None => parts.push(ArgPart::Text(rest[..start + len + 2].to_owned())),
            }
            rest = &rest[start + len + 2..];
        }
        if !rest.is_empty() {
            parts.push(ArgPart::Text(rest.to_owned()));
        }
        // Merge adjacent text pieces.
        let mut merged: Vec<ArgPart> = Vec::new();
        for p in parts {
            match (merged.last_mut(), p) {
                (Some(ArgPart::Text(a)), ArgPart::Text(b)) => a.push_str(&b),
                (_, p) => merged.push(p),
            }
        }
        Arg(merged)
    }
}

impl Condition {
    /// Parses `step.output OP value`.
    pub fn parse(text: &str) -> Option<Condition> {
        let ops = [(">=", CmpOp::Ge), ("<=", CmpOp::Le), ("==", CmpOp::Eq), ("!=", CmpOp::Ne), (">", CmpOp::Gt), ("<", CmpOp::Lt)];
        let (idx, sym, op) = ops.iter().filter_map(|(s, op)| text.find(s).map(|i| (i, *s, *op))).min_by_key(|t| t.0)?;
        let lhs = text[..idx].trim();
        let rhs = text[idx + sym.len()..].trim();
        let (step, output) = lhs.split_once('.')?;
        let value = match (rhs.strip_prefix("params."), serde_json::from_str::<serde_json::Value>(rhs)) {
            (Some(name), _) => Operand::Param(name.to_owned()),
            (_, Ok(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::String(_)))) => Operand::Literal(v),
            _ => Operand::Literal(serde_json::Value::String(unquote(rhs))),
        };
        Some(Condition { step: step.to_owned(), output: output.to_owned(), op, value })
    }
}

/// `'it''s'` → `it's`: strips one pair of matching quotes, `'` or `"` (a doubled quote inside is
/// one quote); anything else is taken as written.
fn unquote(text: &str) -> String {
    for q in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(q).and_then(|t| t.strip_suffix(q)).filter(|_| text.len() >= 2) {
            return inner.replace(&format!("{q}{q}"), &q.to_string());
        }
    }
    text.to_owned()
}


/// A registry model version named by alias (`churn@champion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// Model key from `models`.
    pub model: String,
    /// Version alias.
    pub alias: String,
}

impl RegistryRef {
    /// `churn@champion` → model `churn`, alias `champion`.
    pub fn parse(text: &str) -> Option<RegistryRef> {
        let (model, alias) = text.split_once('@')?;
        Some(RegistryRef { model: model.to_owned(), alias: alias.to_owned() })
    }

    /// The condition a step reading a version by alias runs under (its guard, see
    /// `model::scope`): its lookup found a version holding the alias. Until one does (no
    /// training run has promoted a version yet), the step and every step after it are skipped
    /// and the run succeeds, instead of failing on every scheduled run.
    pub fn found(step: &str) -> Condition {
        Condition { step: step.to_owned(), output: FOUND.to_owned(), op: CmpOp::Eq, value: Operand::Literal(serde_json::Value::Bool(true)) }
    }
}

/// The boolean a version lookup outputs ([`RegistryRef::found`]).
pub const FOUND: &str = "found";

/// Where a dataset lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A BigQuery table, in the environment's project unless `project` names another.
    BigQuery {
        /// The project owning the table when it is not the environment's (`bq://project.dataset.table`):
        /// external data, only granted on.
        project: Option<String>,
        /// Dataset id.
        dataset: String,
        /// Table id.
        table: String,
    },
    /// Objects in one of the spec's buckets.
    Gcs {
        /// Bucket key.
        bucket: String,
        /// Object path or glob inside the bucket.
        path: String,
    },
}

impl DataSource {
    /// Parses a dataset source (`bq://dataset.table`, `bq://project.dataset.table` or
    /// `gs://bucket/path`).
    pub fn parse(source: &str) -> Option<DataSource> {
        if let Some(rest) = source.strip_prefix("bq://") {
            let parts: Vec<&str> = rest.split('.').collect();
            let (project, dataset, table) = match parts[..] {
                [dataset, table] => (None, dataset, table),
                [project, dataset, table] if !project.is_empty() => (Some(project.to_owned()), dataset, table),
                _ => return None,
            };
            (!dataset.is_empty() && !table.is_empty())
                .then(|| DataSource::BigQuery { project, dataset: dataset.to_owned(), table: table.to_owned() })
        } else if let Some(rest) = source.strip_prefix("gs://") {
            let (bucket, path) = rest.split_once('/')?;
            (!bucket.is_empty() && !path.is_empty())
                .then(|| DataSource::Gcs { bucket: bucket.to_owned(), path: path.to_owned() })
        } else {
            None
        }
    }
}

/// Where a batch prediction job writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A bucket key (objects under `<pipeline>/<step>/`).
    Bucket(String),
    /// An existing BigQuery dataset of the environment's project.
    BigQueryDataset(String),
    /// A new BigQuery dataset per job in the environment's project.
    BigQueryProject,
}

impl Destination {
    /// Parses a batch prediction step's `destination` (`bq://dataset`, `bigquery` or a bucket key;
    /// validation checks the names).
    pub fn parse(text: &str) -> Destination {
        match text.strip_prefix("bq://") {
            Some(dataset) => Destination::BigQueryDataset(dataset.to_owned()),
            None if text == "bigquery" => Destination::BigQueryProject,
            None => Destination::Bucket(text.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_templated_args() {
        let arg = Arg::parse("--lr={{params.lr}}/{{ outputs.model }}{{other}}");
        assert_eq!(
            arg.0,
            [
                ArgPart::Text("--lr=".into()),
                ArgPart::Param("lr".into()),
                ArgPart::Text("/".into()),
                ArgPart::Output("model".into()),
                ArgPart::Text("{{other}}".into()),
            ]
        );
    }

    #[test]
    fn parses_conditions() {
        let c = Condition::parse("evaluate.auc >= 0.8");
        assert_eq!(c.map(|c| (c.step, c.output, c.op, c.value)), Some(("evaluate".into(), "auc".into(), CmpOp::Ge, Operand::Literal(serde_json::json!(0.8)))));
        let c = Condition::parse("evaluate.auc >= params.min_auc");
        assert_eq!(c.map(|c| c.value), Some(Operand::Param("min_auc".into())));
    }

    #[test]
    fn condition_strings_keep_their_quotes_inside() {
        let value = |t: &str| Condition::parse(t).map(|c| c.value);
        let text = |s: &str| Some(Operand::Literal(serde_json::json!(s)));
        assert_eq!(value("s.out == 'it''s \"ok\"'"), text("it's \"ok\""));
        assert_eq!(value("s.out == \"a'b\""), text("a'b"));
        assert_eq!(value("s.out == ready"), text("ready"));
    }

}
