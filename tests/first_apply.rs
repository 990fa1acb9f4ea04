//! A first `terraform apply` on an empty project: every BigQuery dataset a binding or feature
//! group names is either created by this Terraform or checked by a precondition that fails with
//! a message naming it (instead of a 404 halfway through the apply), and Composer runs a
//! triggerer for the deferrable tasks of the DAGs it will run. Every secret the module reads or
//! binds without creating it is named in `bootstrap.sh` before the first full apply.

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

/// A batch prediction writing into `bq://<dataset>` needs that dataset to exist, in the job's
/// region (https://cloud.google.com/vertex-ai/docs/predictions/get-batch-predictions,
/// "Limitations"): an output nobody else creates is created here, in `var.region`, and the
/// job identity's binding refers to it, so Terraform creates the dataset first.
#[test]
fn batch_prediction_output_datasets_are_created_in_the_job_region_before_their_bindings() {
    let c = support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/forecast.yaml"));
    let destinations: BTreeSet<String> = c
        .model
        .pipelines
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.kind {
            mlopsgen::model::StepKind::BatchPrediction { destination: mlopsgen::model::Destination::BigQueryDataset(ds), .. } => Some(ds.clone()),
            _ => None,
        })
        .collect();
    assert!(!destinations.is_empty(), "specs/forecast.yaml has no batch prediction into BigQuery");
    let storage = parse(&c, "storage.tf");
    let iam = parse(&c, "iam.tf");
    for ds in &destinations {
        let created = storage
            .blocks()
            .find(|b| b.identifier() == "resource" && b.labels()[0].as_str() == "google_bigquery_dataset" && attr(b.body(), "dataset_id").map(|e| e.to_string()) == Some(format!("\"{ds}\"")))
            .unwrap_or_else(|| panic!("nothing creates output dataset {ds}"));
        assert_eq!(attr(created.body(), "location").map(|e| e.to_string()).as_deref(), Some("var.region"));
        let address = format!("google_bigquery_dataset.{}.dataset_id", created.labels()[1].as_str());
        let bindings: Vec<_> = iam
            .blocks()
            .filter(|b| b.labels().first().map(|l| l.as_str()) == Some("google_bigquery_dataset_iam_member"))
            .filter(|b| attr(b.body(), "dataset_id").map(|e| e.to_string()) == Some(address.clone()))
            .collect();
        assert!(!bindings.is_empty(), "no binding refers to {address}");
        for b in bindings {
            assert!(checked(b.body()).is_empty(), "a created dataset needs no existence precondition");
        }
    }
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

/// Every binding to a Google-managed service agent waits for that agent's API
/// (`depends_on = [google_project_service.<api>]`), and `bootstrap.sh`, which runs before the
/// first `terraform init`, enables that API and creates the agent
/// (`gcloud beta services identity create`, Service Usage `generateServiceIdentity`) before it
/// prints the `terraform init` line. Checked on every example.
#[test]
fn service_agents_exist_before_their_bindings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bound = 0;
    for spec in ["flagship", "minimal", "promotion"] {
        let c = support::compile_spec(&root.join(format!("specs/{spec}.yaml")));
        let iam = parse(&c, "iam.tf");
        let script = c.output.get("terraform/bootstrap.sh").unwrap_or_else(|| panic!("bootstrap.sh"));
        let bindings: Vec<_> = iam
            .blocks()
            .filter(|b| b.identifier() == "resource" && b.labels()[0].as_str().ends_with("_iam_member"))
            .collect();
        // Agents named by the project number (every agent but Cloud Storage's, which the data source creates).
        let numbered: Vec<_> = bindings
            .iter()
            .filter(|b| attr(b.body(), "member").is_some_and(|m| m.to_string().contains("data.google_project.this.number")))
            .map(|b| b.labels()[1].as_str().to_owned())
            .collect();
        let mut covered = BTreeSet::new();
        for agent in mlopsgen::model::iam::agents(&c.model.grants) {
            let Some(api) = agent.api() else { continue };
            let service = format!("google_project_service.{}", api.split('.').next().unwrap_or(api));
            let create = format!("gcloud beta services identity create --service={api} --project=\"${{project}}\"");
            let at = script.find(&create).unwrap_or_else(|| panic!("{spec}: bootstrap.sh does not create the {api} agent"));
            let enable = script.find("gcloud services enable").unwrap_or_else(|| panic!("enable"));
            assert!(enable < at && script[enable..at].contains(api), "{spec}: {api} is not enabled before its agent is created");
            assert!(at < script.find("terraform init").map_or(usize::MAX, |i| i.max(script.rfind("ready:").unwrap_or(0))));
            for b in bindings.iter().filter(|b| b.labels()[1].as_str().starts_with(&format!("{}_", agent.as_str()))) {
                let deps = attr(b.body(), "depends_on").map(|d| d.to_string()).unwrap_or_default();
                assert!(deps.contains(&service), "{spec}: {} does not wait for {service}: {deps}", b.labels()[1].as_str());
                covered.insert(b.labels()[1].as_str().to_owned());
                bound += 1;
            }
        }
        for name in &numbered {
            assert!(covered.contains(name), "{spec}: binding {name} names a service agent bootstrap.sh does not create");
        }
    }
    assert!(bound >= 2, "the examples bind the Composer and Cloud Build agents: {bound}");
}

/// Feature views that sync: the google provider cannot set a feature group's time-series column,
/// so Vertex AI reads every BigQuery source as a time series keyed by `feature_timestamp`
/// (FeatureGroup.BigQuery.time_series; https://cloud.google.com/vertex-ai/docs/featurestore/latest/create-featuregroup).
/// Every generated feature group's source contract has that TIMESTAMP column (so the data
/// validation step checks the table has it), and a contract without it is rejected at the group.
#[test]
fn feature_groups_read_tables_with_a_feature_timestamp() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    let c = support::compile_spec(&path);
    let vertex = parse(&c, "vertex.tf");
    let mut groups = 0;
    for b in vertex.blocks().filter(|b| b.identifier() == "resource" && b.labels()[0].as_str() == "google_vertex_ai_feature_group") {
        let group = c.model.features.as_ref().and_then(|f| f.groups.iter().find(|g| g.key == b.labels()[1].as_str())).unwrap_or_else(|| panic!("group"));
        let ds = c.model.dataset(&group.dataset).unwrap_or_else(|| panic!("dataset"));
        let col = ds.columns.iter().find(|col| col.name == mlopsgen::validate::facts::FEATURE_TIMESTAMP);
        assert!(col.is_some_and(|col| col.ty == mlopsgen::spec::ColumnType::Timestamp && !col.nullable), "{}", group.key);
        groups += 1;
    }
    assert!(groups >= 1);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let without = text.replace("      feature_timestamp: {type: timestamp, nullable: false}\n", "");
    let source = mlopsgen::Source { name: "flagship.yaml".into(), text: without.clone() };
    let options = mlopsgen::Options { spec_file: path, out_override: None };
    let Err(mlopsgen::Error::Invalid(d)) = mlopsgen::compile(&source, &options) else { panic!("accepted without feature_timestamp") };
    let hit = d.iter().find(|d| d.message.contains("feature_timestamp")).unwrap_or_else(|| panic!("reported"));
    let line = without.lines().position(|l| l.trim_start().starts_with("dataset: customers") && l.starts_with("      ")).unwrap_or_else(|| panic!("group dataset line"));
    assert_eq!(hit.pos.line, line + 1, "{}", hit.message);
}

/// No alert policy waits on a log-based metric made in the same apply: Cloud Monitoring answers
/// 404 "Cannot find metric(s) … could take up to 10 minutes" for a metric that new
/// (terraform-provider-google#11102), failing the first apply. Pipeline and build failures are
/// log-match conditions instead, which read the log entries themselves and must carry a
/// notification rate limit (https://cloud.google.com/monitoring/alerts/log-based-alerts).
/// Checked on every example, with each failure alert the examples ask for present.
#[test]
fn alert_policies_need_no_metric_created_in_the_same_apply() {
    let mut log_matches = BTreeSet::new();
    for spec in ["flagship", "minimal", "promotion", "forecast"] {
        let c = support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("specs/{spec}.yaml")));
        let Some(text) = c.output.get("terraform/monitoring.tf") else { continue };
        let body = hcl::parse(text).unwrap_or_else(|e| panic!("{spec}: {e}"));
        for block in body.blocks().filter(|b| b.identifier() == "resource") {
            let (ty, name) = (block.labels()[0].as_str(), block.labels()[1].as_str());
            assert_ne!(ty, "google_logging_metric", "{spec}: {name} is a log-based metric an alert would wait for");
            if ty != "google_monitoring_alert_policy" {
                continue;
            }
            let conditions: Vec<&hcl::Block> = block.body().blocks().filter(|b| b.identifier() == "conditions").collect();
            for condition in &conditions {
                if let Some(filter) = condition.body().blocks().find_map(|b| attr(b.body(), "filter")) {
                    assert!(!filter.to_string().contains("logging.googleapis.com/user/"), "{spec}: {name} reads a log-based metric");
                }
            }
            let matched_log = conditions.iter().any(|c| c.body().blocks().any(|b| b.identifier() == "condition_matched_log"));
            if matched_log {
                assert_eq!(conditions.len(), 1, "{spec}: {name}: a log-match policy takes one condition");
                let strategy = block.body().blocks().find(|b| b.identifier() == "alert_strategy");
                let limit = strategy.and_then(|s| s.body().blocks().find(|b| b.identifier() == "notification_rate_limit"));
                assert!(limit.and_then(|l| attr(l.body(), "period")).is_some(), "{spec}: {name} has no notification rate limit");
                log_matches.insert(name.to_owned());
            }
        }
    }
    assert_eq!(log_matches, BTreeSet::from(["build_failures".to_owned(), "pipeline_failures".to_owned()]));
}

/// Every secret id the module's blocks name as a literal (`secret_id`/`secret` attributes, and
/// `…/secrets/<id>/versions/…` in strings), minus those it creates.
fn secrets_named_not_created(c: &mlopsgen::Compilation) -> BTreeSet<String> {
    fn walk(body: &Body, named: &mut BTreeSet<String>, created: &mut BTreeSet<String>, creates: bool) {
        for a in body.attributes() {
            if let Expression::String(id) = a.expr() {
                if creates && a.key() == "secret_id" {
                    created.insert(id.clone());
                } else if a.key() == "secret_id" || a.key() == "secret" {
                    named.insert(id.clone());
                }
            }
        }
        for b in body.blocks() {
            let creates = b.identifier() == "resource" && b.labels().first().is_some_and(|l| l.as_str() == "google_secret_manager_secret");
            walk(b.body(), named, created, creates);
        }
    }
    let (mut named, mut created) = (BTreeSet::new(), BTreeSet::new());
    for (path, text) in c.output.files().filter(|(p, _)| p.starts_with("terraform/") && p.ends_with(".tf")) {
        let file = path.trim_start_matches("terraform/");
        walk(&parse(c, file), &mut named, &mut created, false);
        for part in text.split("/secrets/").skip(1) {
            if let Some((id, _)) = part.split_once("/versions/") {
                named.insert(id.to_owned());
            }
        }
    }
    named.retain(|id| !created.contains(id));
    named
}

/// Checks, for every example, that bootstrap.sh names each of `needed` (in backticks) in its
/// first-deploy steps before the first `terraform apply` without `-target`; how many it named.
fn named_before_first_full_apply(needed: impl Fn(&mlopsgen::Compilation) -> BTreeSet<String>) -> usize {
    let mut named = 0;
    for spec in ["flagship", "forecast", "promotion", "minimal"] {
        let c = support::compile_spec(Path::new(&format!("specs/{spec}.yaml")));
        let script = c.output.get("terraform/bootstrap.sh").unwrap_or_else(|| panic!("{spec}: no bootstrap.sh"));
        let full_apply = script.lines().position(|l| l.contains("terraform apply -var-file=env/ENV.tfvars") && !l.contains("-target"));
        let before: String = script.lines().take(full_apply.unwrap_or_else(|| panic!("{spec}: no full apply step"))).collect();
        for id in needed(&c) {
            assert!(before.contains(&format!("`{id}`")), "{spec}: `{id}` is not named before the first full apply:\n{script}");
            named += 1;
        }
    }
    named
}

#[test]
fn secrets_nothing_creates_are_named_before_the_first_full_apply() {
    // A missing secret fails the apply: `google_secret_manager_secret_version_access` (read on
    // every plan for a notification channel's credential) and the connection's token version
    // are NotFound errors (REST `secrets.versions.access`), and a binding on a missing secret
    // fails too.
    let named = named_before_first_full_apply(secrets_named_not_created);
    assert!(named >= 4, "the examples name {named} secrets they don't create");
}

/// The datasets the module's preconditions require, and the resources of other owners it binds
/// roles on (`data "google_storage_bucket"`, a dataset grant with its own `project`).
fn data_not_created(c: &mlopsgen::Compilation) -> BTreeSet<String> {
    let mut needed = BTreeSet::new();
    for (path, _) in c.output.files().filter(|(p, _)| p.starts_with("terraform/") && p.ends_with(".tf")) {
        let body = parse(c, path.trim_start_matches("terraform/"));
        for b in body.blocks() {
            let kind = b.labels().first().map(|l| l.as_str().to_owned()).unwrap_or_default();
            let literal = |key: &str| match attr(b.body(), key) {
                Some(Expression::String(s)) => Some(s),
                _ => None,
            };
            match (b.identifier(), kind.as_str()) {
                ("data", "google_storage_bucket") => needed.extend(literal("name")),
                ("resource", "google_bigquery_dataset_iam_member") => {
                    if let (Some(project), Some(dataset)) = (literal("project"), literal("dataset_id")) {
                        needed.insert(format!("{project}:{dataset}"));
                    }
                }
                _ => {}
            }
            needed.extend(checked(b.body()));
        }
    }
    needed
}

#[test]
fn data_nothing_creates_is_named_before_the_first_full_apply() {
    // The first full apply fails on a dataset a precondition checks (it must exist) and on a
    // resource of another owner this Terraform binds roles on (reading and setting its IAM policy
    // needs the owner's grant).
    let named = named_before_first_full_apply(data_not_created);
    assert!(named >= 3, "the examples name {named} resources nothing creates");
}
