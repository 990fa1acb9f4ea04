//! View models of the DAG templates: every value a template prints, resolved from the model.
//!
//! Values bound for operator fields that Airflow may render as Jinja carry a Jinja-inert
//! alternative ([`Templated`]); whether a field is templated differs between provider versions
//! (`parameter_values` is in providers-google 22 but not 15), so the DAG picks the form at parse
//! time from the operator's `template_fields`. The templates only loop and print.

use super::python;
use crate::model::{
    Composer, DataSource, Dataset, Drift, Environment, Model, Pipeline, SaRole, Schedule,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Task id of the operator that runs the pipeline.
pub const RUN_PIPELINE_TASK: &str = "run_pipeline";
/// Task id of the drift job.
pub const DRIFT_TASK: &str = "run_drift_job";
/// The drift job's metric (a Cloud Monitoring custom metric type).
pub const DRIFT_METRIC: &str = "custom.googleapis.com/mlopsgen/drift_psi";
/// The image that runs the drift job.
pub const DRIFT_IMAGE: &str = "validator";

/// What every DAG of an environment shares.
#[derive(Debug, Serialize)]
pub struct Common {
    /// Module docstring, also the DAG's `doc_md`.
    pub doc: String,
    /// DAG id.
    pub dag_id: String,
    /// Five-field cron.
    pub cron: String,
    /// IANA time zone of the cron (and of the start date).
    pub time_zone: String,
    /// `dagrun_timeout`, seconds: the shortest time between two of the cron's times
    /// ([`crate::model::shortest_cron_gap`]), so a run lasts at most until the next one is due.
    pub run_timeout: Option<u64>,
    /// DAG tags.
    pub tags: Vec<String>,
    /// Owner in `default_args`.
    pub owner: String,
    /// GCP project id.
    pub project_id: String,
    /// Region.
    pub region: String,
    /// Service account the Vertex AI job runs as.
    pub service_account: String,
    /// Labels of the Vertex AI job.
    pub labels: BTreeMap<String, String>,
}

/// A continuous-training (or any scheduled pipeline) DAG.
#[derive(Debug, Serialize)]
pub struct PipelineDag {
    /// Shared fields.
    pub common: Common,
    /// Pipeline job display name (the KFP pipeline name).
    pub display_name: String,
    /// Compiled template in the KFP repository.
    pub template_path: String,
    /// Pipeline root.
    pub pipeline_root: String,
    /// Parameter values: schedule values over defaults.
    pub parameter_values: Vec<Entry>,
    /// Jinja-inert forms of the parameter values that contain Jinja markup.
    pub parameter_overrides: Vec<Entry>,
    /// Task id of the pipeline run.
    pub run_task: &'static str,
    /// Data-freshness sensor.
    pub sensor: Option<Sensor>,
}

/// A value for a field Airflow may render as Jinja, with its Jinja-inert form if that differs.
#[derive(Debug, Serialize)]
pub struct Templated {
    /// The value as written in the spec.
    pub value: Value,
    /// What to pass instead where the operator renders the field.
    pub inert: Option<Value>,
}

impl Templated {
    fn new(value: Value) -> Self {
        let inert = Some(python::inert_value(&value)).filter(|i| *i != value);
        Templated { value, inert }
    }
}

/// A name and a value.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Name.
    pub name: String,
    /// Value.
    pub value: Value,
}

/// A sensor waiting for a dataset.
#[derive(Debug, Serialize)]
pub struct Sensor {
    /// Task id (`wait_for_<dataset>`), also the Python variable.
    pub task_id: String,
    /// Where the data lives.
    pub source: SensorSource,
}

/// The sensed object.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SensorSource {
    /// A BigQuery table in the environment's project: its modification time.
    Bigquery {
        /// `project.dataset.table`.
        table: String,
    },
    /// Objects in a bucket: their update times.
    Gcs {
        /// Bucket name.
        bucket: String,
        /// Object name or glob.
        object: String,
        /// The object name is a glob.
        use_glob: bool,
    },
}

/// The drift-monitoring DAG.
#[derive(Debug, Serialize)]
pub struct DriftDag {
    /// Shared fields.
    pub common: Common,
    /// Custom job display name.
    pub display_name: String,
    /// Validator image.
    pub image: String,
    /// Staging bucket URL.
    pub staging_bucket: String,
    /// Container args.
    pub args: Templated,
    /// Task id.
    pub task_id: &'static str,
}

/// Where a DAG goes: the model, its Composer environment and the GCP environment.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The model.
    pub model: &'a Model,
    /// The Composer settings (the DAGs' Airflow version).
    pub composer: &'a Composer,
    /// The environment whose values the DAG holds.
    pub env: &'a Environment,
}

/// The DAG-specific part of [`Common`].
struct Head<'a> {
    dag_id: &'a str,
    cron: &'a str,
    time_zone: &'a str,
    tag: &'a str,
    runs_as: SaRole,
    doc: String,
}

/// The DAG of a scheduled pipeline in one environment.
pub fn pipeline_dag(t: Target<'_>, pipeline: &Pipeline, schedule: &Schedule) -> Result<PipelineDag, String> {
    let (model, env) = (t.model, t.env);
    let wait_for = match &schedule.wait_for {
        Some(key) => Some(model.dataset(key).ok_or_else(|| format!("unknown dataset `{key}`"))?),
        None => None,
    };
    let template_path = env.template_uri(pipeline);
    let mut doc = format!("Runs the Vertex AI pipeline `{}` in the `{}` environment.\n\n", pipeline.name, env.name);
    if let Some(d) = pipeline.description.as_deref().filter(|d| !d.trim().is_empty()) {
        doc.push_str(&format!("{}\n\n", d.trim_end()));
    }
    doc.push_str(&format!("- Schedule: `{}` ({}); no catch-up; one run at a time.\n", schedule.cron, schedule.time_zone));
    if let Some(ds) = wait_for {
        doc.push_str(&format!("- Waits for: dataset `{}` at `{}`.\n", ds.key, env.dataset_uri(ds)));
    }
    let repo = env.kfp_repo_id();
    doc.push_str(&format!("- Runs: the compiled pipeline from the KFP repository `{repo}` at tag `{}`.\n", env.name));
    let head = Head { dag_id: &pipeline.dag_id, cron: &schedule.cron, time_zone: &schedule.time_zone, tag: &pipeline.key, runs_as: SaRole::Pipelines, doc };
    let common = common(t, head);
    let values = pipeline.scheduled_values(schedule);
    Ok(PipelineDag {
        common,
        display_name: pipeline.name.clone(),
        template_path,
        pipeline_root: env.pipeline_root(&model.pipeline_root_bucket, pipeline),
        parameter_values: values.iter().map(|(name, value)| Entry { name: name.clone(), value: value.clone() }).collect(),
        parameter_overrides: values
            .into_iter()
            .filter_map(|(name, value)| Some(Entry { name, value: Templated::new(value).inert? }))
            .collect(),
        run_task: RUN_PIPELINE_TASK,
        sensor: wait_for.map(|ds| sensor(env, ds)),
    })
}

/// Task id of the sensor waiting for a dataset (also its Python variable, so `-` becomes `_`).
fn sensor_task_id(dataset: &Dataset) -> String {
    format!("wait_for_{}", dataset.key.replace('-', "_"))
}

fn sensor(env: &Environment, ds: &Dataset) -> Sensor {
    let task_id = sensor_task_id(ds);
    let source = match &ds.source {
        DataSource::BigQuery { project, dataset, table } => SensorSource::Bigquery {
            table: format!("{}.{dataset}.{table}", env.table_project(project.as_deref())),
        },
        DataSource::Gcs { bucket, path } => SensorSource::Gcs {
            bucket: env.bucket_name(bucket),
            object: path.clone(),
            use_glob: path.contains(['*', '?', '[']),
        },
    };
    Sensor { task_id, source }
}

/// The drift-monitoring DAG of one environment.
pub fn drift_dag(t: Target<'_>, drift: &Drift) -> Result<DriftDag, String> {
    let (model, env) = (t.model, t.env);
    let dataset = model.dataset(&drift.dataset).ok_or_else(|| format!("unknown dataset `{}`", drift.dataset))?;
    let endpoint = model.endpoint(&drift.endpoint).ok_or_else(|| format!("unknown endpoint `{}`", drift.endpoint))?;
    let args = drift_args(env, dataset, &endpoint.logging_dataset, drift.threshold);
    let doc = format!(
        "Drift monitoring of endpoint `{}` in the `{}` environment.\n\n\
         Compares the prediction requests the endpoint logs to BigQuery with the training dataset\n\
         `{}`, writes the population stability index to the Cloud Monitoring metric\n\
         `{DRIFT_METRIC}` and fails the run when it exceeds {}.\n\n\
         - Schedule: `{}` (UTC); no catch-up; one run at a time.\n\
         - Runs: the `{DRIFT_IMAGE}` image as a Vertex AI custom job.\n",
        endpoint.display_name, env.name, drift.dataset, drift.threshold, drift.cron,
    );
    let dag_id = model.drift_dag_id();
    let common = common(t, Head { dag_id: &dag_id, cron: &drift.cron, time_zone: "UTC", tag: "drift", runs_as: model.drift_runner(), doc });
    Ok(DriftDag {
        common,
        display_name: format!("{}-drift", model.project.name),
        image: env.image_ref(DRIFT_IMAGE),
        staging_bucket: env.bucket_url(&model.pipeline_root_bucket),
        args: Templated::new(Value::from(args)),
        task_id: DRIFT_TASK,
    })
}

/// The drift job's command line (the contract the `validator` image implements).
fn drift_args(env: &Environment, dataset: &Dataset, logging_dataset: &str, threshold: f64) -> Vec<String> {
    vec![
        "drift".into(),
        "--dataset".into(),
        env.dataset_uri(dataset),
        "--requests".into(),
        format!("bq://{}.{logging_dataset}.*", env.gcp_project),
        "--threshold".into(),
        threshold.to_string(),
        "--metric".into(),
        DRIFT_METRIC.into(),
    ]
}

fn common(t: Target<'_>, head: Head<'_>) -> Common {
    let Target { model, composer, env } = t;
    let mut doc = head.doc;
    if model.monitoring.alerts.dag_failures && !model.monitoring.channels.is_empty() {
        let to: Vec<String> = model.monitoring.channels.iter().map(|c| format!("{}:{}", c.kind, c.address)).collect();
        doc.push_str(&format!("- On failure: Cloud Monitoring alert `dag_failures` notifies {}.\n", to.join(", ")));
    }
    let major = crate::validate::facts::airflow_major(&composer.image_version);
    let airflow = major.map_or_else(String::new, |m| format!(" (Airflow {m})"));
    doc.push_str(&format!("- Composer: `{}`{airflow}; the file loads on Airflow 2.10+ and 3.\n", composer.image_version));
    Common {
        doc,
        dag_id: head.dag_id.to_owned(),
        cron: head.cron.to_owned(),
        time_zone: head.time_zone.to_owned(),
        run_timeout: crate::model::shortest_cron_gap(head.cron),
        tags: vec!["mlopsgen".into(), model.project.name.clone(), env.name.clone(), head.tag.to_owned()],
        owner: model.project.name.clone(),
        project_id: env.gcp_project.clone(),
        region: env.region.clone(),
        service_account: env.sa_email(head.runs_as),
        labels: env.labels.clone(),
    }
}
