//! Which steps may reuse an earlier run's result (Vertex AI execution caching).
//!
//! Vertex AI skips a task when Vertex ML Metadata holds an execution with the same cache key: the
//! task's input parameter values and input artifact IDs, its output definitions and its component
//! spec (image string, command, args, env) — <https://cloud.google.com/vertex-ai/docs/pipelines/configure-caching>.
//! A step that reads data the pipeline does not pass in (a table, a bucket, the registry) or
//! that changes something outside the pipeline (uploads, deploys, predictions) has the same key
//! on every scheduled run, so with caching on it would run once and never again. Such steps
//! therefore don't reuse results unless the spec says `cache: true`. A container or training
//! step that only computes on upstream outputs may: every upstream step that does new work
//! makes new artifacts with new IDs, so its key changes exactly when its inputs do.

use super::{ArgPart, Container, Input, InputSource, StepKind};

/// Whether a step of this kind, with these inputs, reuses earlier results when the spec says
/// nothing: only container, component and custom-training steps that read at least one upstream output
/// and name no external data (`bq://`, `gs://`) in their args or environment.
pub fn reuse_by_default(kind: &StepKind, inputs: &[Input]) -> bool {
    let container = match kind {
        StepKind::Container { container, .. } | StepKind::CustomTraining { container, .. } => container,
        StepKind::HyperparameterTuning { .. }
        | StepKind::ModelUpload { .. }
        | StepKind::ModelPromote { .. }
        | StepKind::EndpointDeploy { .. }
        | StepKind::BatchPrediction { .. }
        | StepKind::DataValidation { .. } => return false,
        StepKind::Component { component, .. } => {
            let c = &component.container;
            let external = c.command.iter().chain(&c.args).chain(c.env.iter().map(|(_, v)| v)).any(|t| t.contains("bq://") || t.contains("gs://"));
            return reads_upstream(inputs) && !external;
        }
    };
    reads_upstream(inputs) && !names_external_data(container)
}

/// Whether a step reads at least one upstream output.
fn reads_upstream(inputs: &[Input]) -> bool {
    inputs.iter().any(|i| matches!(i.source, InputSource::Output { .. }))
}

/// Whether a literal in the container's args or environment points at data outside the pipeline.
fn names_external_data(container: &Container) -> bool {
    let external = |text: &str| text.contains("bq://") || text.contains("gs://");
    let in_args = container.args.iter().flat_map(|a| &a.0).any(|part| matches!(part, ArgPart::Text(t) if external(t)));
    in_args || container.env.values().any(|v| external(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arg, IoType, Resources};
    use std::collections::BTreeMap;

    fn container(args: &[&str]) -> StepKind {
        let args = args.iter().map(|a| Arg(vec![ArgPart::Text((*a).to_owned())])).collect();
        let container = Container { image: "job".into(), command: Vec::new(), args, env: BTreeMap::new(), access: Default::default() };
        StepKind::Container { container, resources: Resources::default() }
    }

    fn upstream() -> Input {
        let source = InputSource::Output { step: "train".into(), output: "model".into() };
        Input { name: "model".into(), source, ty: IoType::Parameter(crate::model::ParamType::String) }
    }

    #[test]
    fn only_pure_steps_over_upstream_outputs_reuse_results() {
        assert!(reuse_by_default(&container(&["score"]), &[upstream()]));
        assert!(!reuse_by_default(&container(&["score"]), &[]), "no upstream input: it reads the world");
        assert!(!reuse_by_default(&container(&["--data", "bq://p.d.t"]), &[upstream()]));
        let deploy = StepKind::EndpointDeploy { endpoint: "e".into(), traffic_percent: 100 };
        assert!(!reuse_by_default(&deploy, &[upstream()]));
        assert!(!reuse_by_default(&StepKind::DataValidation { dataset: "d".into() }, &[]));
    }
}
