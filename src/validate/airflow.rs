//! Airflow name checks: every DAG of an environment needs its own `dag_id` and file.
//!
//! Pipelines can't collide with each other (their KFP names are checked to be unique, and DAG ids
//! follow the same key), but the drift-monitoring DAG (id and file stem `<project>_drift`, with
//! `-` as `_`) can collide with a scheduled pipeline keyed `drift` or `<project>_drift`.

use super::semantic::Checker;
use crate::diagnostic::Code;
use crate::model::naming;
use crate::spec::yaml::pointer_push;

/// Reports scheduled pipelines whose DAG would collide with the drift-monitoring DAG.
pub fn dag_names(c: &mut Checker<'_>) {
    if c.spec.monitoring.as_ref().and_then(|m| m.drift.as_ref()).is_none() {
        return;
    }
    let project = &c.spec.project.name;
    let drift_dag_id = naming::drift_dag_id(project);
    let clashes: Vec<String> = c
        .spec
        .pipelines
        .iter()
        .filter(|(key, p)| {
            p.schedule.is_some()
                && (naming::dag_id(project, key) == drift_dag_id || **key == drift_dag_id)
        })
        .map(|(key, _)| key.clone())
        .collect();
    for key in clashes {
        let pos = c.key_at(&pointer_push("/pipelines", &key));
        c.report(
            Code::DuplicateName,
            pos,
            format!("the DAG of pipeline `{key}` would collide with the drift-monitoring DAG `{drift_dag_id}`"),
            Some("rename the pipeline".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Source;

    fn codes(pipeline_key: &str) -> Vec<String> {
        let text = format!(
            "version: 1\nproject: {{name: demo}}\nenvironments: {{dev: {{gcp_project: acme-demo-dev, region: us-central1}}}}\n\
             terraform: {{state_bucket: acme-demo-tf-state}}\nstorage: {{buckets: {{artifacts: {{}}}}}}\n\
             images: {{job: {{context: job, base: python:3.12-slim}}}}\n\
             datasets: {{d: {{source: bq://x.y, columns: {{c: {{type: int}}}}}}}}\n\
             pipelines: {{{pipeline_key}: {{steps: {{a: {{kind: container, image: job}}}}, schedule: {{cron: '0 1 * * *'}}}}}}\n\
             endpoints: {{e: {{machine_type: n1-standard-4, request_logging: {{sampling_rate: 0.1}}}}}}\n\
             orchestration: {{composer: {{image_version: composer-3-airflow-2.10.5}}}}\n\
             monitoring: {{drift: {{endpoint: e, dataset: d, threshold: 0.2, cron: '0 6 * * *'}}}}\n"
        );
        let source = Source { name: "t.yaml".into(), text };
        let doc = match crate::spec::load(&source) {
            Ok(doc) => doc,
            Err(d) => panic!("{d:?}"),
        };
        match crate::validate::check(&doc) {
            Ok(_) => Vec::new(),
            Err(ds) => ds.iter().map(|d| format!("{}: {}", d.code.as_str(), d.message)).collect(),
        }
    }

    #[test]
    fn drift_dag_collisions() {
        assert_eq!(codes("training"), Vec::<String>::new());
        for key in ["drift", "demo_drift"] {
            let got = codes(key);
            assert!(got.iter().any(|d| d.starts_with("E022") && d.contains("drift-monitoring")), "{key}: {got:?}");
        }
    }
}
