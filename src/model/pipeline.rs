//! Resolved pipelines: typed parameters, steps in topological order, data edges and conditions.

use super::{
    Accelerator, Arg, Condition, Destination, Goal, InstancesFormat, IoType, Output, ParamType, PredictionsFormat, RegistryRef, SaRole, SearchParam,
};
use std::collections::BTreeMap;

/// A pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Spec key.
    pub key: String,
    /// KFP pipeline name (`<project>-<key>`, lowercase and hyphens).
    pub name: String,
    /// Airflow DAG id (`<project>_<key>`, underscores).
    pub dag_id: String,
    /// Description.
    pub description: Option<String>,
    /// Parameters, sorted by name.
    pub params: Vec<Param>,
    /// Steps in topological order (ties broken by name).
    pub steps: Vec<Step>,
    /// Schedule.
    pub schedule: Option<Schedule>,
}

impl Pipeline {
    /// Values a scheduled run passes, on either orchestrator: the schedule's values over the
    /// parameters' defaults. A float parameter given as a whole number is written as a float
    /// (`1.0`), as its KFP type says.
    pub fn scheduled_values(&self, schedule: &Schedule) -> BTreeMap<String, serde_json::Value> {
        let mut values: BTreeMap<String, serde_json::Value> =
            self.params.iter().filter_map(|p| Some((p.name.clone(), p.default.clone()?))).collect();
        values.extend(schedule.parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (name, value) in values.iter_mut() {
            let is_float = self.param(name).is_some_and(|p| p.ty == ParamType::Float);
            if let (true, Some(whole)) = (is_float && !value.is_f64(), value.as_i64()) {
                *value = serde_json::Value::from(whole as f64);
            }
        }
        values
    }

    /// Looks up a step.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Looks up a parameter.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// kfp's task name for a step name (its `sanitize_k8s_name`): lowercase, every run of other
/// characters one `-`, no `-` at either end (`train_model` → `train-model`).
pub fn kfp_task_name(step: &str) -> String {
    let mut out = String::new();
    for c in step.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// A pipeline parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: ParamType,
    /// Default value (already checked against the type).
    pub default: Option<serde_json::Value>,
    /// Description.
    pub description: Option<String>,
}

/// A schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Five-field cron.
    pub cron: String,
    /// Scheduler.
    pub orchestrator: super::Orchestrator,
    /// IANA time zone the cron is read in.
    pub time_zone: String,
    /// Parameter values for scheduled runs.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Dataset key to wait for.
    pub wait_for: Option<String>,
}

/// The shortest time between two consecutive times of a five-field cron, in seconds, read in UTC
/// over its times after 2025-01-01 (a fixed start, so output never depends on the clock): a daily
/// cron from its minutes and hours ([`daily_gap`]); one whose day-of-month and month are `*`
/// repeats every week, so its first eight days show every gap; any other over its first 64 times
/// (enough for month days to show February). `None` for a cron that does not parse or fires
/// fewer than twice.
pub fn shortest_cron_gap(cron: &str) -> Option<u64> {
    use chrono::TimeZone;
    if let Some(gap) = daily_gap(cron) {
        return Some(gap);
    }
    let parsed = croner::parser::CronParser::new().parse(cron).ok()?;
    let start = chrono::Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single()?;
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let weekly = fields.get(2..4) == Some(&["*", "*"][..]);
    let horizon = weekly.then(|| start + chrono::Duration::days(8));
    let mut times = Vec::new();
    for t in parsed.iter_after(start).take(64) {
        let past = horizon.is_some_and(|h| t > h);
        times.push(t);
        if past && times.len() >= 2 {
            break;
        }
    }
    times.windows(2).filter_map(|w| u64::try_from((w[1] - w[0]).num_seconds()).ok()).min()
}

/// [`shortest_cron_gap`] of a cron that fires every day (`M H * * *`), from its minutes and hours
/// alone: the closest two of its times of day, the last one's gap running into the next day's
/// first. `None` for any other cron, or fields other than numbers, `*`, ranges, steps and lists.
fn daily_gap(cron: &str) -> Option<u64> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [minute, hour, "*", "*", "*"] = fields.as_slice() else { return None };
    let (minutes, hours) = (cron_values(minute, 59)?, cron_values(hour, 23)?);
    let times: Vec<u64> = hours.iter().flat_map(|h| minutes.iter().map(move |m| h * 3600 + m * 60)).collect();
    let (first, last) = (*times.first()?, *times.last()?);
    let wrap = first + 86_400 - last;
    Some(times.windows(2).map(|w| w[1] - w[0]).chain(std::iter::once(wrap)).min().unwrap_or(wrap))
}

/// The sorted values `0..=max` a cron field of numbers allows (`*`, `a`, `a-b`, `*/n`, `a-b/n`,
/// comma lists); `None` for anything else.
fn cron_values(field: &str, max: u64) -> Option<Vec<u64>> {
    let mut values = std::collections::BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u64>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" => (0, max),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                // `a/n` is not a cron croner reads (validation rejects it).
                None if part.contains('/') => return None,
                None => {
                    let a: u64 = r.parse().ok()?;
                    (a, a)
                }
            },
        };
        if from > to || to > max {
            return None;
        }
        values.extend((from..=to).step_by(usize::try_from(step).ok()?));
    }
    Some(values.into_iter().collect())
}

/// Where a step input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// A pipeline parameter.
    Param(String),
    /// Another step's output.
    Output {
        /// Producer step.
        step: String,
        /// Producer's output name.
        output: String,
    },
}

/// A step input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Input name.
    pub name: String,
    /// Source.
    pub source: InputSource,
    /// Type (of the source).
    pub ty: IoType,
}

/// A Vertex AI job machine.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Machine type.
    pub machine_type: String,
    /// Accelerator.
    pub accelerator: Option<Accelerator>,
    /// Replicas.
    pub replica_count: u32,
}

/// Container resources.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// CPU limit.
    pub cpu: Option<String>,
    /// Memory limit.
    pub memory: Option<String>,
    /// Accelerator.
    pub accelerator: Option<Accelerator>,
}

/// A user container: the image, its command and templated args.
#[derive(Debug, Clone)]
pub struct Container {
    /// Image key.
    pub image: String,
    /// Command (the image's entrypoint when the spec gives none).
    pub command: Vec<String>,
    /// Templated arguments.
    pub args: Vec<Arg>,
    /// Environment variables (values may hold `{{buckets.x}}`-style names, see [`super::access`]).
    pub env: BTreeMap<String, String>,
    /// What the step declares it reads and writes.
    pub access: super::access::Access,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// A container run by the pipeline.
    Container {
        /// The container.
        container: Container,
        /// Resources.
        resources: Resources,
    },
    /// A container run as a Vertex AI custom training job.
    CustomTraining {
        /// The container.
        container: Container,
        /// Machine.
        machine: Machine,
    },
    /// A hyperparameter tuning job.
    HyperparameterTuning {
        /// The trial container.
        container: Container,
        /// Metric id.
        metric: String,
        /// Goal.
        goal: Goal,
        /// Search space, sorted by name.
        search_space: BTreeMap<String, SearchParam>,
        /// Total trials.
        max_trials: u32,
        /// Parallel trials.
        parallel_trials: u32,
        /// Machine.
        machine: Machine,
    },
    /// Upload to the Model Registry.
    ModelUpload {
        /// Registry model key.
        model: String,
        /// Version aliases.
        version_aliases: Vec<String>,
    },
    /// Move an alias onto an uploaded version.
    ModelPromote {
        /// The alias.
        alias: String,
        /// How the `metric` input compares with the alias holder's (`None`: always promote).
        goal: Option<Goal>,
        /// How long a run may hold the model's promotion lock (`models::PROMOTE_SCRIPT`).
        lease_minutes: u32,
    },
    /// Deploy to an endpoint.
    EndpointDeploy {
        /// Endpoint key.
        endpoint: String,
        /// Traffic share for the new model.
        traffic_percent: u32,
    },
    /// Batch prediction.
    BatchPrediction {
        /// Dataset key.
        dataset: String,
        /// The registry version read by alias, when there is no `model` input.
        registry: Option<RegistryRef>,
        /// Where predictions go.
        destination: Destination,
        /// Input format.
        instances_format: InstancesFormat,
        /// Output format.
        predictions_format: PredictionsFormat,
        /// Machine type.
        machine_type: String,
        /// Max replicas.
        max_replicas: u32,
    },
    /// Dataset validation.
    DataValidation {
        /// Dataset key.
        dataset: String,
    },
    /// A KFP container component from a component file.
    Component {
        /// The loaded file.
        component: std::sync::Arc<super::component::Component>,
        /// Image key from `images` replacing the file's image.
        image: Option<String>,
    },
}

impl StepKind {
    /// The spec's `kind` string.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Container { .. } => "container",
            StepKind::CustomTraining { .. } => "custom_training",
            StepKind::HyperparameterTuning { .. } => "hyperparameter_tuning",
            StepKind::ModelUpload { .. } => "model_upload",
            StepKind::ModelPromote { .. } => "model_promote",
            StepKind::EndpointDeploy { .. } => "endpoint_deploy",
            StepKind::BatchPrediction { .. } => "batch_prediction",
            StepKind::DataValidation { .. } => "data_validation",
            StepKind::Component { .. } => "component",
        }
    }

    /// The container the spec's author wrote, and the identity it runs as: a `container` step
    /// in the pipeline's own task (the pipelines SA), a custom job or each tuning trial as a
    /// Vertex AI CustomJob (the training SA). `None` for the built-in kinds and component files,
    /// whose identity and access mlopsgen derives itself (`super::actions`).
    pub fn user_container(&self) -> Option<(SaRole, &Container)> {
        match self {
            StepKind::Container { container, .. } => Some((SaRole::Pipelines, container)),
            StepKind::CustomTraining { container, .. } | StepKind::HyperparameterTuning { container, .. } => Some((SaRole::Training, container)),
            StepKind::ModelUpload { .. }
            | StepKind::ModelPromote { .. }
            | StepKind::EndpointDeploy { .. }
            | StepKind::BatchPrediction { .. }
            | StepKind::DataValidation { .. }
            | StepKind::Component { .. } => None,
        }
    }
}

/// A pipeline step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Step name (the KFP task name and Airflow-safe).
    pub name: String,
    /// What it does.
    pub kind: StepKind,
    /// Inputs, sorted by name (includes one per `{{params.x}}` used in args, named `x`).
    pub inputs: Vec<Input>,
    /// Outputs, sorted by name.
    pub outputs: Vec<Output>,
    /// Every step this one waits for (data producers, `after`, condition producer), sorted.
    pub depends_on: Vec<String>,
    /// Condition.
    pub condition: Option<Condition>,
    /// Retries.
    pub retries: Option<u32>,
    /// Caching enabled.
    pub cache: bool,
}

impl Step {
    /// The condition mlopsgen adds around its main task ([`RegistryRef::found`]): a batch
    /// prediction on a version by alias runs only once a version holds the alias.
    pub fn guard(&self) -> Option<Condition> {
        match &self.kind {
            StepKind::BatchPrediction { registry: Some(_), .. } => Some(RegistryRef::found(&self.name)),
            _ => None,
        }
    }

    /// Looks up an input.
    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// Looks up an output.
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// Whether it takes an input from, or runs on a condition on, step `producer`.
    pub fn reads_from(&self, producer: &str) -> bool {
        let input = self.inputs.iter().any(|i| matches!(&i.source, InputSource::Output { step: p, .. } if p == producer));
        input || self.condition.as_ref().is_some_and(|c| c.step == producer)
    }
}

#[cfg(test)]
mod tests {
    use super::shortest_cron_gap;

    #[test]
    fn a_daily_cron_gap_is_read_from_its_minutes_and_hours_as_croner_walks_it() {
        use chrono::TimeZone;
        // The shortcut against walking the cron's times with croner over two days.
        let walked = |cron: &str| {
            let parsed = croner::parser::CronParser::new().parse(cron).ok()?;
            let start = chrono::Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).single()?;
            let times: Vec<_> = parsed.iter_after(start).take_while(|t| *t < start + chrono::Duration::days(3)).collect();
            times.windows(2).filter_map(|w| u64::try_from((w[1] - w[0]).num_seconds()).ok()).min()
        };
        for cron in ["0 2 * * *", "30 4 * * *", "*/15 * * * *", "5,35 8-18 * * *", "0 */6 * * *", "10 0,23 * * *", "7 3/5 * * *", "59 23 * * *", "0 5-3 * * *"] {
            assert_eq!(super::daily_gap(cron), walked(cron), "{cron}");
        }
        assert_eq!(super::daily_gap("0 2 * * 1-5"), None, "not daily: croner walks it");
    }

    #[test]
    fn the_shortest_gap_is_the_closest_two_cron_times() {
        assert_eq!(shortest_cron_gap("*/15 * * * *"), Some(15 * 60));
        assert_eq!(shortest_cron_gap("0 2 * * 1-5"), Some(24 * 3600), "Monday to Friday: a day, not the weekend's three");
        assert_eq!(shortest_cron_gap("0 4 * * 0"), Some(7 * 24 * 3600));
        assert_eq!(shortest_cron_gap("0 0 1 * *"), Some(28 * 24 * 3600), "February is the shortest month");
        assert_eq!(shortest_cron_gap("not a cron"), None);
    }
}
