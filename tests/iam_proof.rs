//! `mlopsgen iam`, the offline least-privilege proof: it holds on every example, fails naming the
//! identity, action and permission when a grant is removed, fails on a role nothing needs, and
//! the identities it assumes are the ones the generated files run as. Role contents are the
//! 2026-08-22 snapshot in data/gcp-iam (see its README).

mod support;

use assert_cmd::Command;
use mlopsgen::model::actions::{self, batch_prediction_identity, Act};
use mlopsgen::model::iam::{Grant, Member, Scope, ENDPOINT_PREDICTOR};
use mlopsgen::model::{SaRole, StepKind};
use mlopsgen::proof::{check, prove, roles::Roles, Problem};
use std::path::{Path, PathBuf};

fn specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 2, "expected the examples in specs/");
    specs
}

fn flagship() -> mlopsgen::Compilation {
    support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml"))
}

fn roles() -> Roles {
    Roles::load().unwrap_or_else(|e| panic!("{e}"))
}

fn iam(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).arg("iam").args(args);
    cmd.output().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_proof_holds_on_every_example() {
    for spec in specs() {
        let spec = spec.to_string_lossy().into_owned();
        let out = iam(&[&spec, "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(out.status.code(), Some(0), "{spec}: {}", report["problems"]);
        assert_eq!(report["holds"], true);
        let actions = report["actions"].as_array().unwrap_or_else(|| panic!("{spec}: no actions"));
        assert!(!actions.is_empty());
        for a in actions {
            for p in a["permissions"].as_array().into_iter().flatten() {
                assert!(p["granted_by"]["role"].is_string(), "{spec}: {a}");
            }
            assert!(a["doc"].as_str().is_some_and(|d| d.starts_with("https://cloud.google.com/")), "{a}");
        }
    }
}

#[test]
fn removing_a_grant_fails_naming_identity_action_and_permission() {
    let binding = "google_bigquery_dataset_iam_member.training_bq_churn_bigquery_dataviewer";
    let out = iam(&["specs/flagship.yaml", "--without", binding]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("missing: training SA needs bigquery.tables.getData on BigQuery dataset `churn`"))
        .unwrap_or_else(|| panic!("no missing line in:\n{text}"));
    assert!(line.contains("pipeline `training` step `train`"), "{line}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("IAM problem(s)"));
}

/// Forecast's staging and prod run on Composer, so a release into them only deletes stale Vertex
/// AI schedules, with the `schedule_pruner` custom role rather than `roles/aiplatform.user`: the
/// proof checks each environment against its own grants, so without that binding the promoter
/// lacks both permissions there (dev's `aiplatform.user` does not stand in for it).
#[test]
fn the_schedule_pruner_is_what_lets_a_release_prune_an_environment_on_composer() {
    let out = iam(&["specs/forecast.yaml", "--without", "google_project_iam_member.promoter_schedule_pruner"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for permission in ["aiplatform.schedules.list", "aiplatform.schedules.delete"] {
        let missing = format!("missing: promoter (previous environment's CI SA) needs {permission} on project");
        let line = |l: &str| l.starts_with(&missing) && l.contains("deletes the Vertex AI schedules") && l.ends_with(" (in staging, prod)");
        assert!(text.lines().any(line), "no `{missing}` in staging and prod in:\n{text}");
    }
}

/// The report shows which grant proves an action in which environment. Forecast's releases into
/// staging and prod (on Composer) prune with the `schedule_pruner` custom role alone; dev, where
/// nothing releases, has no promoter, so no other grant shows up for that action (a joined report
/// that kept one proof per action used to show dev's `aiplatform.user` for it).
#[test]
fn the_report_names_the_grant_that_proves_an_action_in_each_environment() {
    let out = iam(&["specs/forecast.yaml", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let prune: Vec<&serde_json::Value> = report["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["identity"].as_str().is_some_and(|i| i.starts_with("promoter")) && a["action"].as_str().is_some_and(|w| w.contains("deletes the Vertex AI schedules")))
        .collect();
    assert_eq!(prune.len(), 1, "{prune:?}");
    assert_eq!(prune[0]["environments"], serde_json::json!(["staging", "prod"]));
    for p in prune[0]["permissions"].as_array().into_iter().flatten() {
        assert_eq!(p["granted_by"]["role"], "schedule_pruner", "{p}");
    }
    // No promoter acts in the first environment.
    let promoter_in_dev = report["actions"].as_array().into_iter().flatten().filter(|a| {
        a["identity"].as_str().is_some_and(|i| i.starts_with("promoter")) && a["environments"].as_array().is_some_and(|e| e.contains(&serde_json::json!("dev")))
    });
    assert_eq!(promoter_in_dev.count(), 0);
    // CD's own prune in dev (Vertex AI schedules) is proven by `aiplatform.user`, in the text too.
    let text = String::from_utf8_lossy(&iam(&["specs/forecast.yaml"]).stdout).into_owned();
    assert!(text.contains("deletes the Vertex AI schedules mlopsgen made that this environment no longer has on project, in staging, prod  ["), "{text}");
    assert!(text.contains("aiplatform.schedules.delete  <- schedule_pruner on project"), "{text}");
    // Every identity's actions sit under one heading.
    let headings: Vec<&str> = text.lines().filter(|l| !l.is_empty() && !l.starts_with(' ') && !l.starts_with("iam:") && !l.starts_with("outside")).collect();
    let distinct: std::collections::BTreeSet<&&str> = headings.iter().collect();
    assert_eq!(headings.len(), distinct.len(), "{headings:?}");
}

#[test]
fn an_unknown_binding_is_bad_usage() {
    let out = iam(&["specs/flagship.yaml", "--without", "google_project_iam_member.nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_role_no_action_needs_fails() {
    let c = flagship();
    let mut grants = c.model.grants.clone();
    grants.push(Grant {
        member: Member::Sa(SaRole::Serving),
        scope: Scope::Project,
        role: "roles/logging.logWriter",
        reasons: vec!["test".into()],
    });
    let proof = check(actions::derive(&c.model), grants, &roles());
    assert_eq!(
        proof.problems,
        vec![Problem::Unused { member: Member::Sa(SaRole::Serving), role: "roles/logging.logWriter".into(), scope: Scope::Project, environments: vec![] }]
    );
}

#[test]
fn a_grant_on_the_wrong_resource_provides_nothing() {
    // objectViewer on `predictions` instead of `data`: the pipelines SA can't read the scoring batch.
    let c = flagship();
    let mut grants = c.model.grants.clone();
    let g = grants
        .iter_mut()
        .find(|g| g.member == Member::Sa(SaRole::Pipelines) && g.scope == Scope::Bucket("data".into()))
        .unwrap_or_else(|| panic!("no pipelines grant on `data`"));
    g.scope = Scope::Bucket("predictions".into());
    let proof = check(actions::derive(&c.model), grants, &roles());
    assert!(proof.problems.iter().any(|p| matches!(p, Problem::Missing { member: Member::Sa(SaRole::Pipelines), permission: "storage.objects.get", scope: Scope::Bucket(b), .. } if b == "data")));
    // (On `predictions` the moved role is not unused: the batch prediction job, which runs as the
    // pipelines SA, reads back what it writes there.)
}

#[test]
fn weakening_a_declared_read_fails_naming_the_service() {
    // `services.api.reads: [buckets.predictions]` gives the serving SA objectViewer on that bucket alone.
    let binding = "google_storage_bucket_iam_member.serving_predictions_storage_objectviewer";
    let out = iam(&["specs/flagship.yaml", "--without", binding]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("missing: serving SA needs storage.objects.get on bucket `predictions`"))
        .unwrap_or_else(|| panic!("no missing line in:\n{text}"));
    assert!(line.contains("service `api`") && line.contains("declared in `reads`"), "{line}");
}

#[test]
fn declared_access_is_granted_on_that_resource_alone() {
    let c = flagship();
    let serving: Vec<&Grant> = c.model.grants.iter().filter(|g| g.member == Member::Sa(SaRole::Serving)).collect();
    assert!(serving.iter().any(|g| g.scope == Scope::Bucket("predictions".into()) && g.role == "roles/storage.objectViewer"));
    // No storage role on the project for any runtime identity (Terraform's own plan and apply
    // identities read and manage the buckets themselves: `ci.terraform`).
    let terraform = [Member::Sa(SaRole::Plan), Member::Sa(SaRole::Apply)];
    assert!(!c.model.grants.iter().any(|g| g.scope == Scope::Project && g.role.starts_with("roles/storage.") && !terraform.contains(&g.member)));
    // Every grant for a declared action is on the action's own resource.
    for a in actions::declared(&c.model) {
        assert!(c.model.grants.iter().any(|g| g.member == a.member && g.scope == a.scope), "{a:?}");
    }
}

#[test]
fn batch_prediction_runs_as_the_pipelines_sa_which_holds_exactly_its_reads_and_writes() {
    assert_eq!(batch_prediction_identity(), Member::Sa(SaRole::Pipelines));
    let c = flagship();
    let proof = prove(&c.model, &roles());
    assert!(proof.holds(), "{:?}", proof.problems);
    let job: Vec<_> = proof.actions.iter().filter(|p| p.action.why.contains("step `predict`")).collect();
    assert!(job.iter().any(|p| p.action.act == Act::WriteObjects && p.action.scope == Scope::Bucket("predictions".into())));
    assert!(job.iter().any(|p| p.action.act == Act::ActAs && p.action.scope == Scope::ServiceAccount(SaRole::Pipelines)));
    assert!(job.iter().all(|p| p.action.member == Member::Sa(SaRole::Pipelines)));
}

#[test]
fn env_vars_naming_resources_resolve_per_environment() {
    let c = flagship();
    let runtime = c.output.get("terraform/runtime.tf").unwrap_or_else(|| panic!("no runtime.tf"));
    assert!(runtime.contains("name  = \"PREDICTIONS_BUCKET\"\n        value = google_storage_bucket.predictions.name"), "{runtime}");
    let customers = c.model.dataset("customers").unwrap_or_else(|| panic!("no customers"));
    for env in &c.model.environments {
        let path = format!("pipelines/{}/training.json", env.name);
        let text = c.output.get(&path).unwrap_or_else(|| panic!("no {path}"));
        let expected = format!("{{\n                      \"name\": \"CUSTOMERS_TABLE\",\n                      \"value\": \"{}\"", env.dataset_uri(customers));
        assert!(text.contains(&expected), "{path}: {expected}");
    }
}

#[test]
fn an_unknown_role_fails() {
    let c = flagship();
    let mut grants = c.model.grants.clone();
    grants[0].role = "roles/aiplatform.madeUp";
    let proof = check(actions::derive(&c.model), grants, &roles());
    assert!(proof.problems.contains(&Problem::UnknownRole { role: "roles/aiplatform.madeUp".into() }));
}

#[test]
fn every_permission_in_the_table_exists_in_some_role() {
    // A typo in the table would make an action unprovable; each permission must be real.
    let roles = roles();
    let c = flagship();
    for a in actions::derive(&c.model) {
        for p in mlopsgen::proof::table::needs(a.act).permissions {
            assert!(roles.names().any(|r| roles.grants(r, p)), "{p} (for {:?}) is in no known role", a.act);
        }
    }
}

#[test]
fn the_serving_sa_holds_only_what_calling_predict_needs_project_wide() {
    let c = flagship();
    let project: Vec<&Grant> =
        c.model.grants.iter().filter(|g| g.member == Member::Sa(SaRole::Serving) && g.scope == Scope::Project).collect();
    assert_eq!(project.len(), 1, "{project:?}");
    assert_eq!(project[0].role, ENDPOINT_PREDICTOR.id);
    // Exactly what the proof says a predict call needs (the SDK reads the endpoint first).
    let mut needed = mlopsgen::proof::table::needs(Act::Predict).permissions.to_vec();
    needed.sort_unstable();
    assert_eq!(ENDPOINT_PREDICTOR.permissions, needed.as_slice());
    let iam = c.output.get("terraform/iam.tf").unwrap_or_else(|| panic!("no iam.tf"));
    let body = hcl::parse(iam).unwrap_or_else(|e| panic!("{e}"));
    let binding = body
        .blocks()
        .find(|b| b.labels().get(1).map(|l| l.as_str()) == Some("serving_endpoint_predictor"))
        .unwrap_or_else(|| panic!("no serving predictor binding"));
    let role = binding.body().attributes().find(|a| a.key() == "role").map(|a| a.expr().to_string());
    assert_eq!(role.as_deref(), Some("google_project_iam_custom_role.endpoint_predictor.id"));
    assert!(iam.contains("resource \"google_project_iam_custom_role\" \"endpoint_predictor\""));
}

#[test]
fn training_reads_the_bigquery_table_its_input_comes_from() {
    // `train` takes `validate.dataset` (the BigQuery table `customers`), so the training SA reads it.
    let c = flagship();
    let reads = actions::derive(&c.model).into_iter().any(|a| {
        a.member == Member::Sa(SaRole::Training)
            && a.act == Act::ReadTables
            && a.scope == Scope::BigQueryDataset("churn".into())
            && a.why.contains("step `train`")
    });
    assert!(reads);
    let granted = c.model.grants.iter().any(|g| {
        g.member == Member::Sa(SaRole::Training) && g.scope == Scope::BigQueryDataset("churn".into()) && g.role == "roles/bigquery.dataViewer"
    });
    assert!(granted);
}

/// The `service_account` a pipeline task runs its job as: the task's constant, else its
/// component's default, else "" (the GCPC default).
fn task_service_account(pipeline: &serde_json::Value, task: &str) -> String {
    let t = support::pipeline_task(pipeline, task);
    let constant = &t["inputs"]["parameters"]["service_account"]["runtimeValue"]["constant"];
    let component = t["componentRef"]["name"].as_str().unwrap_or_else(|| panic!("task {task} has no component"));
    let default = &pipeline["components"][component]["inputDefinitions"]["parameters"]["service_account"]["defaultValue"];
    constant.as_str().or(default.as_str()).unwrap_or_default().to_owned()
}

#[test]
fn jobs_run_as_the_identities_the_proof_assumes() {
    let c = flagship();
    let mut checked = 0;
    for env in &c.model.environments {
        for p in &c.model.pipelines {
            let path = format!("pipelines/{}/{}.json", env.name, p.key);
            let text = c.output.get(&path).unwrap_or_else(|| panic!("no {path}"));
            let json: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
            for step in &p.steps {
                let expected = match &step.kind {
                    StepKind::BatchPrediction { .. } => batch_prediction_identity(),
                    StepKind::CustomTraining { .. } => Member::Sa(SaRole::Training),
                    _ => continue,
                };
                let task = mlopsgen::model::kfp_task_name(&step.name);
                let actual = task_service_account(&json, &task);
                match expected {
                    Member::Sa(r) => assert_eq!(actual, env.sa_email(r), "{path} {task}"),
                    // No account: the job runs as the Vertex AI service agent (GCPC batch_predict_job docs).
                    Member::Agent(_) => assert_eq!(actual, "", "{path} {task}: change actions::batch_prediction_identity"),
                    Member::Promoter | Member::Checker | Member::Approvers => unreachable!(),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "{checked}");
}

#[test]
fn the_proof_is_deterministic() {
    let c = flagship();
    let roles = roles();
    let a = mlopsgen::proof::report::text(&prove(&c.model, &roles));
    let b = mlopsgen::proof::report::text(&prove(&c.model, &roles));
    assert_eq!(a, b);
}

#[test]
fn a_model_without_a_grant_generates_no_binding_for_it_even_after_its_module_was_derived() {
    // The checks before any target derive the merged Terraform module and keep it with the model
    // (`model::derived`); dropping a grant afterwards must drop that module too, or iam.tf keeps
    // the binding `iam --without` proves the project can do without.
    let binding = "training_bq_churn_bigquery_dataviewer";
    let compiled = flagship();
    let iam_tf = |out: &mlopsgen::output::OutputSet| out.get("terraform/iam.tf").unwrap_or_else(|| panic!("no iam.tf")).to_owned();
    assert!(iam_tf(&compiled.output).contains(binding), "the flagship's iam.tf binds {binding}");
    let model = compiled.model;
    // Environment views are what make the checks derive the merged module before any target runs.
    assert!(!model.env_views.is_empty(), "the flagship has environment views");
    mlopsgen::targets::unexpressed(&model).unwrap_or_else(|e| panic!("{e}"));
    let address = |g: &Grant| mlopsgen::targets::terraform::binding_address(g).1;
    let model = model.without_grants(&|g| address(g) == binding);
    let iam = iam_tf(&mlopsgen::targets::emit_all(&model).unwrap_or_else(|e| panic!("{e}")));
    assert!(iam.contains("google_bigquery_dataset_iam_member"), "iam.tf no longer binds the other datasets");
    assert!(!iam.contains(binding), "iam.tf still binds {binding}");
}

/// The proof checks an identity in an environment exactly where Terraform binds its grants
/// (`iam::acts_at` against each environment's tfvars, on every example): a workflow's identity
/// where `ci_triggers` runs the workflow, the Cloud Build agent where it runs any, the promoter
/// where `promoter_sa` is set, the approvers where the release into the last environment runs.
#[test]
fn identities_act_where_terraform_binds_their_grants() {
    use mlopsgen::model::delivery::Workflow;
    use mlopsgen::model::iam::{acts_at, Agent};
    for spec in specs() {
        let c = support::compile_spec(&spec);
        let m = &c.model;
        let last = m.environments.last().map(|e| e.name.clone()).unwrap_or_default();
        for (i, env) in m.environments.iter().enumerate() {
            let path = format!("terraform/env/{}.tfvars", env.name);
            let text = c.output.get(&path).unwrap_or_else(|| panic!("{}: no {path}", spec.display()));
            let vars: serde_json::Value = hcl::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
            let triggers: Vec<&str> = vars["ci_triggers"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
            let at = |member| acts_at(m, member, i);
            let place = format!("{} {}", spec.display(), env.name);
            for w in [Workflow::Checks, Workflow::Deploy, Workflow::Release] {
                assert_eq!(at(Member::Sa(w.identity())), triggers.contains(&w.name()), "{place}: {}", w.name());
            }
            assert_eq!(at(Member::Agent(Agent::CloudBuild)), !triggers.is_empty(), "{place}");
            if let Some(promoter) = vars["promoter_sa"].as_str() {
                assert_eq!(at(Member::Promoter), !promoter.is_empty(), "{place}");
            }
            if m.approval_required() {
                let next = vars["build_substitutions"]["_NEXT_ENV"].as_str();
                assert_eq!(at(Member::Approvers), triggers.contains(&"release") && next == Some(last.as_str()), "{place}");
            }
        }
    }
}

/// A DAG's sensor only asks BigQuery when the table last changed (`Client.get_table`, the
/// generated `data_is_fresh`: `tables.get`), so the Composer SA may read the table's metadata
/// and nothing else: no rows (`dataViewer`) and no jobs (`jobUser`).
#[test]
fn waiting_for_a_table_reads_its_metadata_only() {
    let c = flagship();
    let dag = c.output.get("dags/prod/training.py").unwrap_or_else(|| panic!("no prod training DAG"));
    assert!(dag.contains(".get_table(DATA_TABLE)") && !dag.contains("query("), "the sensor does more than tables.get");
    let composer = Member::Sa(SaRole::Composer);
    let bigquery: Vec<&Grant> = c.model.grants.iter().filter(|g| g.member == composer && g.role.starts_with("roles/bigquery.")).collect();
    assert!(!bigquery.is_empty(), "the Composer SA may not look at the table it waits for");
    assert!(bigquery.iter().all(|g| g.role == "roles/bigquery.metadataViewer" && matches!(g.scope, Scope::BigQueryDataset(_))), "{bigquery:?}");
    let acts: Vec<Act> = actions::derive(&c.model).into_iter().filter(|a| a.member == composer && matches!(a.scope, Scope::BigQueryDataset(_))).map(|a| a.act).collect();
    assert_eq!(acts, [Act::GetTableMetadata]);
}
