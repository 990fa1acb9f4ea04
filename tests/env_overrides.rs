//! `environments.<env>.overrides` end to end, on the flagship spec (dev: small tuning, no
//! accelerator, no training schedule; prod: an endpoint replica floor of 2): each environment's
//! pipelines and DAGs change exactly where its overrides say and nowhere else, the files shared
//! by every environment do not change, the IAM proof holds over every environment's actions, and
//! a bad override is a positioned diagnostic.

use mlopsgen::diagnostic::Code;
use mlopsgen::{compile, Compilation, Error, Options, Source};
use serde_json::Value;
use std::collections::BTreeSet;

const FLAGSHIP: &str = include_str!("../specs/flagship.yaml");

fn compiled(name: &str, text: String) -> Result<Compilation, Error> {
    let options = Options { spec_file: "specs/flagship.yaml".into(), out_override: None };
    compile(&Source { name: name.into(), text }, &options)
}

/// The flagship document as JSON (YAML accepts it), with or without every environment's overrides.
fn flagship(with_overrides: bool) -> (Value, Compilation) {
    let doc = mlopsgen::spec::load(&Source { name: "flagship".into(), text: FLAGSHIP.into() }).unwrap_or_else(|e| panic!("{e:?}"));
    let mut value = doc.value;
    if !with_overrides {
        for env in value["environments"].as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
            env.as_object_mut().map(|e| e.remove("overrides"));
        }
    }
    let c = compiled("flagship.json", value.to_string()).unwrap_or_else(|e| panic!("{e}"));
    (value, c)
}

/// Leaf paths where two JSON values differ.
fn differing(a: &Value, b: &Value, at: String, out: &mut BTreeSet<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                differing(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), format!("{at}/{k}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differing(p, q, format!("{at}/{i}"), out);
            }
        }
        _ if a != b => {
            out.insert(at);
        }
        _ => {}
    }
}

fn json(c: &Compilation, path: &str) -> Value {
    serde_json::from_str(c.output.get(path).unwrap_or_else(|| panic!("no {path}"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn each_environment_differs_exactly_where_its_overrides_say() {
    let (spec, with) = flagship(true);
    let (_, without) = flagship(false);
    let overrides = |env: &str| &spec["environments"][env]["overrides"];
    assert!(overrides("dev").is_object() && overrides("prod").is_object(), "the flagship exercises overrides in both environments");

    // Only the overridden pipelines, dev's training DAG (its schedule is null), the Terraform
    // attributes that now differ per environment and the Composer grants dev no longer needs
    // (iam.tf) change; Cloud Build and the Dockerfiles do not.
    let paths: BTreeSet<&str> = with.output.files().chain(without.output.files()).map(|(p, _)| p).collect();
    let changed: BTreeSet<&str> = paths.into_iter().filter(|p| with.output.get(p) != without.output.get(p)).collect();
    assert_eq!(
        changed,
        BTreeSet::from([
            "dags/dev/training.py",
            "pipelines/dev/training.json",
            "pipelines/prod/training.json",
            "terraform/env/dev.tfvars",
            "terraform/env/prod.tfvars",
            "terraform/iam.tf",
            "terraform/runtime.tf",
            "terraform/storage.tf",
            "terraform/variables.tf",
        ]),
    );
    // dev: no DAG for the training pipeline, whose schedule the override removes.
    assert!(overrides("dev")["pipelines"]["training"]["schedule"].is_null());
    assert!(with.output.get("dags/dev/training.py").is_none() && with.output.get("dags/prod/training.py").is_some());

    // dev: only the tune and train tasks change, to the overridden values.
    let (dev, dev_base) = (json(&with, "pipelines/dev/training.json"), json(&without, "pipelines/dev/training.json"));
    let mut paths = BTreeSet::new();
    differing(&dev, &dev_base, String::new(), &mut paths);
    assert!(!paths.is_empty());
    let of_task = |p: &str, task: &str| {
        [format!("/root/dag/tasks/{task}/"), format!("/components/comp-{task}/"), format!("/deploymentSpec/executors/exec-{task}/")]
            .iter()
            .any(|prefix| p.starts_with(prefix.as_str()))
    };
    for p in &paths {
        assert!(of_task(p, "tune") || of_task(p, "train"), "{p} changed in dev");
    }
    let tasks = &dev["root"]["dag"]["tasks"];
    let constant = |task: &str, param: &str| tasks[task]["inputs"]["parameters"][param]["runtimeValue"]["constant"].clone();
    let tune = &overrides("dev")["pipelines"]["training"]["steps"]["tune"];
    assert_eq!(constant("tune", "max_trial_count").as_f64(), tune["max_trials"].as_f64());
    assert_eq!(constant("tune", "parallel_trial_count").as_f64(), tune["parallel_trials"].as_f64());
    let train_spec = &dev["components"]["comp-train"]["inputDefinitions"]["parameters"]["worker_pool_specs"]["defaultValue"][0]["machine_spec"];
    let train = &overrides("dev")["pipelines"]["training"]["steps"]["train"]["machine"];
    assert_eq!(train_spec["machine_type"], train["type"]);
    assert!(train_spec.get("accelerator_type").is_none(), "accelerator: null removes the accelerator: {train_spec}");

    // prod: only the deploy task's replica floor changes.
    let (prod, prod_base) = (json(&with, "pipelines/prod/training.json"), json(&without, "pipelines/prod/training.json"));
    let mut paths = BTreeSet::new();
    differing(&prod, &prod_base, String::new(), &mut paths);
    assert_eq!(paths.len(), 1, "{paths:?}");
    let floor = paths.first().map(String::as_str).unwrap_or_default();
    // The deploy task sits in the DAG of its `when` condition.
    assert!(floor.ends_with("/tasks/deploy/inputs/parameters/dedicated_resources_min_replica_count/runtimeValue/constant"), "{floor}");
    assert_eq!(prod.pointer(floor).and_then(Value::as_f64), overrides("prod")["endpoints"]["churn"]["min_replicas"].as_f64());
}

#[test]
fn the_iam_proof_covers_every_environments_actions() {
    let (_, c) = flagship(true);
    assert_eq!(c.model.env_views.len(), 2);
    let roles = mlopsgen::proof::roles::Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let proof = mlopsgen::proof::prove(&c.model, &roles);
    assert!(proof.holds(), "{:?}", proof.problems);
    // Each environment's own actions are proven against its own grants (Terraform binds a grant
    // only where its environment's view has it): nothing missing, nothing unused.
    for env in &c.model.environments {
        let own = mlopsgen::proof::prove_env(&c.model, &env.name, &roles);
        assert!(own.holds(), "{}: {:?}", env.name, own.problems);
    }
}

/// The flagship with dev's overrides replaced by `overrides` (YAML, indented under `overrides:`).
fn with_dev_overrides(overrides: &str) -> (String, Result<Compilation, Error>) {
    let start = FLAGSHIP.find("    overrides:\n      pipelines:").unwrap_or_else(|| panic!("dev overrides moved"));
    let end = FLAGSHIP[start..].find("  prod:").map(|i| start + i).unwrap_or_else(|| panic!("no prod"));
    let text = format!("{}    overrides:\n{overrides}{}", &FLAGSHIP[..start], &FLAGSHIP[end..]);
    let result = compiled("flagship.yaml", text.clone());
    (text, result)
}

fn problems(result: Result<Compilation, Error>) -> Vec<mlopsgen::Diagnostic> {
    match result {
        Err(Error::Invalid(d)) => d,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("compiled"),
    }
}

/// 1-based line and column of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).unwrap_or_else(|| panic!("no {needle}"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn an_override_naming_nothing_is_e020_at_its_key_with_a_suggestion() {
    let (text, result) = with_dev_overrides("      pipelines:\n        trainign:\n          schedule: null\n");
    let d = problems(result);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Code::UnknownReference);
    assert_eq!((d[0].pos.line, d[0].pos.col), position_of(&text, "trainign:"));
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `training`?"));

    // A field name is checked the same way: `max_trails` is no field of a tuning step.
    let (text, result) = with_dev_overrides("      pipelines:\n        training:\n          steps:\n            tune: {max_trails: 4}\n");
    let d = problems(result);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].pos.line, d[0].pos.col), position_of(&text, "max_trails"));
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `max_trials`?"));
}

#[test]
fn a_wrong_type_in_an_override_points_at_the_override() {
    let (text, result) = with_dev_overrides("      endpoints:\n        churn: {min_replicas: two}\n");
    let d = problems(result);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Code::Schema);
    assert!(d[0].message.contains("environment `dev`"), "{}", d[0].message);
    assert_eq!((d[0].pos.line, d[0].pos.col), position_of(&text, "two}"));
}

#[test]
fn a_removal_that_breaks_a_reference_is_reported_for_that_environment() {
    // Removing the validate step leaves `train`'s input `validate.dataset` dangling in dev only.
    let (_, result) = with_dev_overrides("      pipelines:\n        training:\n          steps:\n            validate: null\n");
    let d = problems(result);
    assert!(!d.is_empty());
    assert!(d.iter().all(|d| d.message.starts_with("in environment `dev`")), "{d:?}");
    assert!(d.iter().any(|d| d.code == Code::UnknownReference), "{d:?}");
}

#[test]
fn shared_sections_and_shared_files_cannot_differ() {
    let (text, result) = with_dev_overrides("      images:\n        trainer: {base: python:3.11-slim}\n");
    let d = problems(result);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Code::InvalidValue);
    assert_eq!((d[0].pos.line, d[0].pos.col), position_of(&text, "images:\n        trainer"));

    // A resource may exist in some environments only (`count`), but a reference that is neither
    // in a block existing only where its target does nor an element of a list cannot change per
    // environment: a function triggered by another bucket in dev is refused at dev's overrides,
    // naming the file.
    let (text, result) = with_dev_overrides("      functions:\n        on-new-data: {trigger: {bucket: predictions}}\n");
    let d = problems(result);
    assert!(d.iter().all(|d| d.code == Code::InvalidValue), "{d:?}");
    assert!(d.iter().any(|d| d.message.contains("Terraform (") && d.message.contains("terraform/runtime.tf")), "{d:?}");
    let dev_overrides = text.find("  dev:").and_then(|i| text[i..].find("overrides:").map(|j| i + j)).unwrap_or_default();
    let line = text[..dev_overrides].matches('\n').count() + 1;
    assert!(d.iter().all(|d| d.pos.line == line), "{d:?}");
}

/// `name = value` attributes of a tfvars file.
fn tfvars(c: &Compilation, env: &str) -> hcl::Body {
    let path = format!("terraform/env/{env}.tfvars");
    hcl::from_str(c.output.get(&path).unwrap_or_else(|| panic!("no {path}"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn attribute(body: &hcl::Body, key: &str) -> Option<hcl::Expression> {
    body.attributes().find(|a| a.key.as_str() == key).map(|a| a.expr.clone())
}

#[test]
fn a_literal_terraform_attribute_that_differs_is_a_variable_each_tfvars_sets() {
    let (spec, with) = flagship(true);
    let (_, without) = flagship(false);
    let floor_of = |c: &Compilation| -> hcl::Expression {
        let runtime: hcl::Body = hcl::from_str(c.output.get("terraform/runtime.tf").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let service = runtime
            .into_blocks()
            .find(|b| b.labels.iter().map(|l| l.as_str()).eq(["google_cloud_run_v2_service", "api"]))
            .unwrap_or_else(|| panic!("no service"));
        let template = service.body.blocks().find(|b| b.identifier.as_str() == "template").cloned();
        let scaling = template.and_then(|t| t.body.blocks().find(|b| b.identifier.as_str() == "scaling").cloned());
        scaling.and_then(|b| attribute(&b.body, "min_instance_count")).unwrap_or_else(|| panic!("no min_instance_count"))
    };
    let floor = floor_of(&with);
    let hcl::Expression::Traversal(t) = &floor else { panic!("min_instance_count is not a variable: {floor:?}") };
    let hcl::Expression::Variable(root) = &t.expr else { panic!("{floor:?}") };
    assert_eq!(root.as_str(), "var");
    let Some(hcl::expr::TraversalOperator::GetAttr(name)) = t.operators.first() else { panic!("{floor:?}") };
    let variables: hcl::Body = hcl::from_str(with.output.get("terraform/variables.tf").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(variables.blocks().any(|b| b.identifier.as_str() == "variable" && b.labels.iter().any(|l| l.as_str() == name.as_str())));
    // prod's tfvars holds prod's override, dev's the spec's own value.
    let want = |v: &Value| hcl::Expression::Number(v.as_u64().unwrap_or_else(|| panic!("{v}")).into());
    assert_eq!(attribute(&tfvars(&with, "prod"), name.as_str()), Some(want(&spec["environments"]["prod"]["overrides"]["services"]["api"]["min_instances"])));
    assert_eq!(attribute(&tfvars(&with, "dev"), name.as_str()), Some(floor_of(&without)), "dev keeps the spec's value");
    // Without overrides there is no such variable: the module keeps the literal.
    assert!(!without.output.get("terraform/variables.tf").unwrap_or_default().contains(name.as_str()));
}

/// The flagship with `extra` appended to prod's overrides.
fn with_prod_overrides(extra: &str) -> (String, Result<Compilation, Error>) {
    let anchor = "        api: {min_instances: 1}    # one warm instance: no cold start in prod\n";
    assert!(FLAGSHIP.contains(anchor), "prod's overrides moved");
    let text = FLAGSHIP.replacen(anchor, &format!("{anchor}{extra}"), 1);
    let result = compiled("flagship.yaml", text.clone());
    (text, result)
}

#[test]
fn an_environments_own_terraform_override_naming_nothing_is_e020_there() {
    // An environment's own `overrides.terraform` entry matching nothing was an index panic when
    // the environment was not the first; it is E020 at the entry, in both environments.
    let entry = "google_storage_bucket.dtaa: {labels: {tier: gold}}";
    let (text, result) = with_prod_overrides(&format!("      overrides:\n        terraform:\n          {entry}\n"));
    let d = problems(result);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Code::UnknownReference);
    assert!(d[0].message.starts_with("in environment `prod`"), "{}", d[0].message);
    assert_eq!((d[0].pos.line, d[0].pos.col), position_of(&text, entry));
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `google_storage_bucket.data`?"));

    let (text, result) = with_dev_overrides(&format!("      overrides:\n        terraform:\n          {entry}\n"));
    let d = problems(result);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].message.starts_with("in environment `dev`"), "{}", d[0].message);
    assert_eq!((d[0].pos.line, d[0].pos.col), position_of(&text, entry));

    // One that matches applies to that environment's view only: a literal, so a variable.
    let retention = "google_storage_bucket.data: {soft_delete_policy: {retention_duration_seconds: 604800}}";
    let (_, result) = with_prod_overrides(&format!("      overrides:\n        terraform:\n          {retention}\n"));
    let c = result.unwrap_or_else(|e| panic!("{e}"));
    let set = |env: &str| attribute(&tfvars(&c, env), "storage_bucket_data_soft_delete_policy_retention_duration_seconds");
    assert_eq!((set("dev"), set("prod")), (Some(1209600.into()), Some(604800.into())));
}

#[test]
fn a_component_file_an_environment_cannot_load_is_reported_for_each_environment_naming_it() {
    let missing = "            profile: {component: components/none.yaml}\n";
    let dev = format!("      pipelines:\n        training:\n          steps:\n{missing}");
    let (text, _) = with_dev_overrides(&dev);
    let anchor = "        api: {min_instances: 1}    # one warm instance: no cold start in prod\n";
    let prod = format!("      pipelines:\n        training:\n          steps:\n{missing}");
    let text = text.replacen(anchor, &format!("{anchor}{prod}"), 1);
    let d = problems(compiled("flagship.yaml", text));
    let envs: Vec<bool> = ["dev", "prod"].iter().map(|e| d.iter().any(|d| d.message.starts_with(&format!("in environment `{e}`")) && d.message.contains("none.yaml"))).collect();
    assert_eq!(envs, [true, true], "{d:?}");
}
