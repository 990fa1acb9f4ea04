//! The Airflow target: Cloud Composer DAGs that schedule the compiled pipelines.
//!
//! # Layout
//! One DAG file per environment and scheduled pipeline, `dags/<env>/<pipeline>.py`
//! ([`paths::dag_file`]), because every value in it (project, region, template tag, service
//! account, buckets) is that environment's. CD copies `dags/<env>/` into that environment's
//! Composer bucket, so each Composer environment only ever sees its own DAGs and the DAG ids can
//! stay the same across environments. With `monitoring.drift`, each environment also gets
//! `dags/<env>/<drift DAG id>.py` ([`paths::drift_dag_file`]).
//!
//! # What a pipeline DAG does
//! An optional sensor waits for new data in the schedule's `wait_for` dataset (a `PythonSensor`
//! in reschedule mode: the BigQuery table's modification time, or the update time of a matching
//! Cloud Storage object, globs included, must be later than the last successful run's end;
//! it times out after 6 hours, failing the run), then `RunPipelineJobOperator` runs the compiled
//! template from the KFP repository at the environment's tag, with the schedule's parameter values
//! over the defaults, the pipeline root and the pipelines service account. Batch-prediction
//! pipelines are scheduled pipelines like any other. `catchup=False` and `max_active_runs=1` keep
//! retraining runs from piling up; retries back off exponentially. The operators are deferrable,
//! so the Composer environment needs a triggerer.
//!
//! # Failure notification
//! The DAGs send nothing themselves: Airflow's `email_on_failure` needs an SMTP or SendGrid
//! backend Composer does not configure. A failed task fails the DAG run, which Composer counts in
//! `composer.googleapis.com/workflow/run_count` with `state=failed`
//! (https://cloud.google.com/monitoring/api/metrics_gcp#gcp-composer); the Terraform target's
//! `dag_failures` alert policy on that metric notifies every `monitoring.notify` channel.
//!
//! # Drift
//! The drift DAG runs the `validator` image as a Vertex AI custom job
//! (`CreateCustomContainerTrainingJobOperator`, the same in providers-google 15 and 22) with
//! `drift --dataset … --requests bq://<project>.<logging dataset>.* --threshold … --metric …`; the
//! generated file documents that command-line contract for the image that implements it. The job
//! runs as the pipelines service account (Composer's when there are no pipelines).
//!
//! # Airflow versions and Jinja
//! The Composer image names the Airflow major version; the files load on Airflow 2.10 (Composer
//! 2/3) and Airflow 3 either way: `DAG` and `CronTriggerTimetable` come from `airflow.sdk` with an
//! Airflow 2 fallback, the schedule is an explicit `CronTriggerTimetable` (runs fire at the cron
//! time on both), and `catchup` is always set. Templates use `[[ ]]`/`[% %]` so Airflow's `{{ }}`
//! passes through; every value is printed as a Python literal ([`python`]). Airflow renders Jinja
//! in an operator's `template_fields` at run time, and which fields those are differs between
//! provider versions (`parameter_values` is templated in providers-google 22, not in 15), so a spec
//! string with Jinja markup is written as is and, where the installed operator templates that
//! field, replaced by a Jinja string literal that renders back to it. `doc_md` is not rendered by
//! either version and carries the description verbatim.

mod python;
mod render;
mod view;

pub use view::RUN_PIPELINE_TASK;

use crate::model::{paths, Model, Orchestrator};
use crate::output::Emitter;
use crate::targets::{Shard, TargetError};
use serde::Serialize;

/// Emits every environment's DAGs.
pub fn emit(model: &Model, out: &mut dyn Emitter, _all: Shard) -> Result<(), TargetError> {
    for env in &model.environments {
        // The environment's own pipelines and schedules (its overrides may change a cron or
        // disable a schedule with `schedule: null`).
        let model = model.for_env(&env.name);
        let Some(composer) = &model.composer else { continue };
        let target = view::Target { model, composer, env };
        for pipeline in &model.pipelines {
            let Some(schedule) = pipeline.schedule.as_ref().filter(|s| s.orchestrator == Orchestrator::Composer) else {
                continue;
            };
            out.insert_with(paths::dag_file(&env.name, &pipeline.key), || {
                render_view("pipeline_dag.py.j2", &view::pipeline_dag(target, pipeline, schedule).map_err(failed)?)
            })?;
        }
        if let Some(drift) = &model.monitoring.drift {
            out.insert_with(paths::drift_dag_file(&env.name, &model.drift_dag_id()), || {
                render_view("drift_dag.py.j2", &view::drift_dag(target, drift).map_err(failed)?)
            })?;
        }
    }
    Ok(())
}

/// The DAG templates (part of the binary): the environment is made once per process, when the
/// first DAG renders, and each template is compiled when first rendered.
fn templates() -> Result<&'static minijinja::Environment<'static>, &'static String> {
    static ENVIRONMENT: std::sync::OnceLock<Result<minijinja::Environment<'static>, String>> = std::sync::OnceLock::new();
    ENVIRONMENT.get_or_init(|| render::environment().map_err(|e| e.to_string())).as_ref()
}

fn render_view(name: &str, view: &impl Serialize) -> Result<String, TargetError> {
    let text = templates().map_err(failed)?.get_template(name).and_then(|t| t.render(view)).map_err(failed)?;
    Ok(python::guard_line_length(&text))
}

fn failed(e: impl std::fmt::Display) -> TargetError {
    TargetError::Failed { target: "airflow", message: e.to_string() }
}
