//! A first `terraform apply` on an empty project: every BigQuery dataset a binding or feature
//! group names is either created by this Terraform or checked by a precondition that fails with
//! a message naming it (instead of a 404 halfway through the apply), and Composer runs a
//! triggerer for the deferrable tasks of the DAGs it will run.

mod support;

use hcl::{Body, Expression};
use std::collections::BTreeSet;
use std::path::Path;

fn parse(c: &mlopsgen::Compilation, file: &str) -> Body {
    let text = c.output.get(&format!("terraform/{file}")).unwrap_or_else(|| panic!("no {file}"));
    hcl::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn attr(body: &Body, key: &str) -> Option<Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr().clone())
}

/// The dataset ids the resource's preconditions check with `contains(…dataset_id, "<id>")`.
fn checked(body: &Body) -> BTreeSet<String> {
    body.blocks()
        .filter(|b| b.identifier() == "lifecycle")
        .flat_map(|l| l.body().blocks().filter(|b| b.identifier() == "precondition"))
        .filter_map(|p| {
            let condition = attr(p.body(), "condition")?.to_string();
            let message = attr(p.body(), "error_message")?.to_string();
            let id = condition.strip_prefix("contains(data.google_bigquery_datasets.this.datasets[*].dataset_id, \"")?.strip_suffix("\")")?;
            assert!(message.contains(&format!("BigQuery dataset {id} does not exist")), "{message}");
            Some(id.to_owned())
        })
        .collect()
}

#[test]
fn bigquery_datasets_nothing_creates_are_checked_before_use() {
    let c = support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml"));
    let mut bodies = Vec::new();
    for file in ["iam.tf", "vertex.tf", "storage.tf"] {
        bodies.push(parse(&c, file));
    }
    let resources = || bodies.iter().flat_map(|b| b.blocks()).filter(|b| b.identifier() == "resource");
    let created: BTreeSet<String> = resources()
        .filter(|b| b.labels()[0].as_str() == "google_bigquery_dataset")
        .filter_map(|b| attr(b.body(), "dataset_id").map(|e| e.to_string().trim_matches('"').to_owned()))
        .collect();
    let mut seen = 0;
    for b in resources() {
        let ty = b.labels()[0].as_str();
        let used = match ty {
            "google_bigquery_dataset_iam_member" => match attr(b.body(), "dataset_id") {
                Some(Expression::String(id)) => id,
                _ => continue, // a reference to a dataset this Terraform creates
            },
            "google_vertex_ai_feature_group" => {
                let group = c.model.features.as_ref().and_then(|f| f.groups.iter().find(|g| g.key == b.labels()[1].as_str()));
                let source = group.and_then(|g| c.model.dataset(&g.dataset)).map(|d| &d.source);
                let Some(mlopsgen::model::DataSource::BigQuery { dataset, .. }) = source else { panic!("feature group without BigQuery source") };
                dataset.clone()
            }
            _ => continue,
        };
        assert!(!created.contains(&used));
        assert!(checked(b.body()).contains(&used), "{ty}.{} uses dataset {used} unchecked", b.labels()[1].as_str());
        seen += 1;
    }
    assert!(seen >= 4, "{seen}");
    assert!(bodies[2].blocks().any(|b| b.identifier() == "data" && b.labels()[0].as_str() == "google_bigquery_datasets"));
}

#[test]
fn composer_runs_a_triggerer_when_a_dag_defers() {
    let c = support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml"));
    let defers = c.output.files().any(|(path, text)| path.starts_with("dags/") && text.contains("deferrable=True"));
    assert!(defers, "the flagship's DAGs use deferrable operators");
    let runtime = parse(&c, "runtime.tf");
    let composer = runtime
        .blocks()
        .find(|b| b.identifier() == "resource" && b.labels()[0].as_str() == "google_composer_environment")
        .unwrap_or_else(|| panic!("no Composer environment"));
    let child = |body: &Body, name: &str| -> Body {
        body.blocks().find(|b| b.identifier() == name).map(|b| b.body().clone()).unwrap_or_else(|| panic!("no {name}"))
    };
    let triggerer = child(&child(&child(composer.body(), "config"), "workloads_config"), "triggerer");
    let count = attr(&triggerer, "count").and_then(|e| if let Expression::Number(n) = e { n.as_u64() } else { None });
    assert!(count.is_some_and(|n| n >= 1), "{count:?}");
}
