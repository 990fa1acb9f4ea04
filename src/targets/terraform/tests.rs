//! Tests of the Terraform target: escaping, per-environment consistency with the model, IAM.

use super::syntax::{resource, s, BlockExt, TfFile};
use crate::model::iam::{Member, Scope};
use crate::model::{Model, SaRole};
use crate::{compile, Compilation, Options, Source};
use hcl::eval::{Context, Evaluate};
use hcl::{Body, Expression, Value};

const FLAGSHIP: &str = include_str!("../../../specs/flagship.yaml");
const HOSTILE: &str = r#"a "quote" \back\slash ${var.x} %{if true}y%{endif} $VAR $${z} {{ jinja }} {% raw %}"#;

fn build(text: &str) -> Compilation {
    let source = Source { name: "specs/flagship.yaml".into(), text: text.into() };
    match compile(&source, &Options { spec_file: "specs/flagship.yaml".into(), out_override: None }) {
        Ok(c) => c,
        Err(crate::Error::Invalid(d)) => panic!("{}", crate::diagnostic::render(&source, &d, false)),
        Err(e) => panic!("{e}"),
    }
}

fn file(c: &Compilation, name: &str) -> Body {
    let text = c.output.get(&format!("terraform/{name}")).unwrap_or_else(|| panic!("no terraform/{name}"));
    hcl::parse(text).unwrap_or_else(|e| panic!("terraform/{name} does not parse: {e}"))
}

/// The body of `resource "<ty>" "<name>"`.
fn resource_body<'b>(body: &'b Body, ty: &str, name: &str) -> &'b Body {
    body.blocks()
        .find(|b| {
            b.identifier() == "resource" && b.labels().iter().map(|l| l.as_str()).eq([ty, name])
        })
        .map(|b| b.body())
        .unwrap_or_else(|| panic!("no resource {ty}.{name}"))
}

fn attr<'b>(body: &'b Body, key: &str) -> &'b Expression {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr()).unwrap_or_else(|| panic!("no attribute {key}"))
}

/// A context with `var.*` from an environment's tfvars.
fn env_context(c: &Compilation, env: &str) -> Context<'static> {
    let vars = file(c, &format!("env/{env}.tfvars"));
    let mut map = hcl::value::Map::new();
    for a in vars.attributes() {
        let v: Value = a.expr().evaluate(&Context::new()).unwrap_or_else(|e| panic!("tfvars {}: {e}", a.key()));
        map.insert(a.key().to_owned(), v);
    }
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(map));
    ctx
}

fn eval(expr: &Expression, ctx: &Context) -> String {
    match expr.evaluate(ctx) {
        Ok(Value::String(s)) => s,
        other => panic!("{expr:?} evaluated to {other:?}"),
    }
}

#[test]
fn spec_strings_stay_literal() {
    let mut f = TfFile::new();
    f.push(resource("x", "y").attr("description", s(HOSTILE)).attr("labels", super::syntax::object([("k".to_owned(), s(HOSTILE))])));
    let text = f.render().unwrap_or_default();
    let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let r = resource_body(&body, "x", "y");
    // No variables are declared: any interpolation that survived would fail to evaluate.
    assert_eq!(eval(attr(r, "description"), &Context::new()), HOSTILE);
    let labels = attr(r, "labels").evaluate(&Context::new()).ok();
    assert_eq!(labels.and_then(|v| v.as_object().and_then(|o| o.get("k").cloned())), Some(Value::from(HOSTILE)));
}

#[test]
fn hostile_service_env_round_trips() {
    let spec = FLAGSHIP.replace("env: {LOG_LEVEL: info,", &format!("env: {{LOG_LEVEL: '{}',", HOSTILE.replace('\'', "''")));
    assert_ne!(spec, FLAGSHIP);
    let c = build(&spec);
    let runtime = file(&c, "runtime.tf");
    let run = resource_body(&runtime, "google_cloud_run_v2_service", "api");
    let template = run.blocks().find(|b| b.identifier() == "template").map(|b| b.body());
    let container = template.and_then(|t| t.blocks().find(|b| b.identifier() == "containers")).map(|b| b.body());
    let env = container.and_then(|c| c.blocks().find(|b| b.identifier() == "env")).map(|b| b.body());
    let env = env.unwrap_or_else(|| panic!("no env block"));
    assert_eq!(eval(attr(env, "value"), &Context::new()), HOSTILE);
}

#[test]
fn tfvars_give_the_models_names() {
    let c = build(FLAGSHIP);
    let m: &Model = &c.model;
    let storage = file(&c, "storage.tf");
    let iam = file(&c, "iam.tf");
    for env in &m.environments {
        let ctx = env_context(&c, &env.name);
        for b in &m.buckets {
            let name = attr(resource_body(&storage, "google_storage_bucket", &b.key), "name");
            assert_eq!(eval(name, &ctx), env.bucket_name(&b.key), "bucket {} in {}", b.key, env.name);
        }
        for role in &m.service_accounts {
            let body = resource_body(&iam, "google_service_account", role.as_str());
            let email = format!("{}@{}.iam.gserviceaccount.com", eval(attr(body, "account_id"), &ctx), eval(&Expression::from(hcl::expr::Traversal::builder(hcl::expr::Variable::unchecked("var")).attr("project_id").build()), &ctx));
            assert_eq!(email, env.sa_email(*role));
        }
        let docker = eval(attr(resource_body(&storage, "google_artifact_registry_repository", "docker"), "repository_id"), &ctx);
        let kfp = eval(attr(resource_body(&storage, "google_artifact_registry_repository", "kfp"), "repository_id"), &ctx);
        let mut repos = hcl::value::Map::new();
        repos.insert("docker".into(), Value::from_iter([("repository_id", Value::from(docker))]));
        repos.insert("kfp".into(), Value::from_iter([("repository_id", Value::from(kfp))]));
        let mut ctx = ctx;
        ctx.declare_var("google_artifact_registry_repository", Value::Object(repos));
        let outputs = file(&c, "outputs.tf");
        let output = |name: &str| {
            outputs
                .blocks()
                .find(|b| b.identifier() == "output" && b.labels().first().map(|l| l.as_str()) == Some(name))
                .map(|b| eval(attr(b.body(), "value"), &ctx))
        };
        assert_eq!(output("docker_repository"), Some(env.docker_repo()));
        assert_eq!(output("kfp_repository"), Some(env.kfp_repo()));
        let subs = crate::model::delivery::variables(m, env);
        assert_eq!(subs.get("_DOCKER_REPO"), Some(&env.docker_repo()));
        assert_eq!(subs.get("_ENV"), Some(&env.name));
        let composer = eval(attr(resource_body(&storage, "google_storage_bucket", "composer"), "name"), &ctx);
        assert_eq!(composer, env.composer_bucket());
    }
}

#[test]
fn every_declared_service_is_covered() {
    let c = build(FLAGSHIP);
    let all: String = c.output.files().filter(|(p, _)| p.ends_with(".tf")).map(|(_, t)| t).collect();
    for ty in [
        "google_storage_bucket",
        "google_artifact_registry_repository",
        "google_service_account",
        "google_cloudbuildv2_connection",
        "google_cloudbuild_trigger",
        "google_composer_environment",
        "google_cloud_run_v2_service",
        "google_cloudfunctions2_function",
        "google_vertex_ai_endpoint",
        "google_vertex_ai_tensorboard",
        "google_vertex_ai_feature_online_store",
        "google_vertex_ai_feature_group",
        "google_vertex_ai_feature_online_store_featureview",
        "google_monitoring_alert_policy",
        "google_monitoring_notification_channel",
    ] {
        assert!(all.contains(&format!("resource \"{ty}\"")), "{ty} missing");
    }
    for api in &c.model.apis {
        assert!(all.contains(&format!("service            = \"{api}\"")), "{api} not enabled");
    }
    assert!(all.contains(super::monitoring::DRIFT_METRIC));
}

#[test]
fn functions_need_the_pipeline_root_bucket() {
    let spec = FLAGSHIP.replace("  pipeline_root: artifacts\n", "").replace("    artifacts:\n      lifecycle: {delete_after_days: 90}\n", "");
    let source = Source { name: "x.yaml".into(), text: spec };
    let err = compile(&source, &Options { spec_file: "x.yaml".into(), out_override: None }).err();
    let messages = match err {
        Some(crate::Error::Invalid(d)) => d.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    assert!(messages.iter().any(|m| m.contains("function sources")), "{messages:?}");
}

#[test]
fn derived_grants_are_narrow_and_traceable() {
    let c = build(FLAGSHIP);
    let grants = &c.model.grants;
    assert!(!grants.is_empty());
    for g in grants {
        assert!(!g.reasons.is_empty(), "{g:?} has no reason");
        assert!(!["roles/owner", "roles/editor"].contains(&g.role), "{g:?}");
        // Terraform's own identities read (plan) or manage (apply) the whole project by design
        // (`ci.terraform`; `tests/terraform_workflow.rs` proves the plan SA cannot change anything).
        if matches!(g.member, Member::Sa(SaRole::Plan | SaRole::Apply)) {
            continue;
        }
        assert!(!(g.scope == Scope::Project && g.role.starts_with("roles/storage.")), "{g:?}");
        assert!(!g.role.ends_with(".admin"), "{g:?}");
    }
    let find = |member: Member, scope: Scope, role: &str| grants.iter().find(|g| g.member == member && g.scope == scope && g.role == role);
    let act_as = find(Member::Sa(SaRole::Pipelines), Scope::ServiceAccount(SaRole::Training), "roles/iam.serviceAccountUser");
    assert!(act_as.is_some_and(|g| g.reasons.iter().any(|r| r.contains("pipeline `training` step `train` runs as the training SA"))), "{act_as:?}");
    let logs = find(Member::Sa(SaRole::Ci), Scope::Project, "roles/logging.logWriter");
    assert!(logs.is_some());
    let reader = find(Member::Sa(SaRole::Pipelines), Scope::BigQueryDataset("churn".into()), "roles/bigquery.dataViewer");
    assert!(reader.is_some_and(|g| g.reasons.iter().any(|r| r.contains("validates dataset `customers`"))));
    // Sorted and without duplicate bindings.
    let keys: Vec<_> = grants.iter().map(|g| (g.member, g.scope.clone(), g.role)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
    // Every binding in iam.tf carries its reason as a comment.
    let iam = c.output.get("terraform/iam.tf").unwrap_or_default();
    for g in grants {
        let (ty, name) = super::iam::address(g);
        let header = format!("resource \"{ty}\" \"{name}\"");
        let at = iam.find(&header).unwrap_or_else(|| panic!("{header} missing"));
        let comments: String = g.reasons.iter().map(|r| format!("# {r}\n")).collect();
        assert!(iam[..at].ends_with(&comments), "{header}");
    }
}

#[test]
fn the_drift_job_gets_its_grants_only_with_drift_detection() {
    let has = |c: &Compilation, member: SaRole, scope: &Scope, role: &str| {
        c.model.grants.iter().any(|g| g.member == Member::Sa(member) && &g.scope == scope && g.role == role)
    };
    let log = Scope::RequestLog("churn".into());
    let c = build(FLAGSHIP);
    assert_eq!(c.model.drift_runner(), SaRole::Pipelines);
    assert!(has(&c, SaRole::Pipelines, &Scope::Project, "roles/monitoring.metricWriter"));
    assert!(has(&c, SaRole::Pipelines, &log, "roles/bigquery.dataViewer"));
    assert!(has(&c, SaRole::Composer, &Scope::ServiceAccount(SaRole::Pipelines), "roles/iam.serviceAccountUser"));
    // On the dataset Terraform creates for the endpoint's request log, not the project.
    let iam = file(&c, "iam.tf");
    let body = resource_body(&iam, "google_bigquery_dataset_iam_member", "pipelines_churn_requests_bigquery_dataviewer");
    assert_eq!(attr(body, "dataset_id").to_string(), "google_bigquery_dataset.churn_requests.dataset_id");
    let vertex = file(&c, "vertex.tf");
    resource_body(&vertex, "google_bigquery_dataset", "churn_requests");

    let start = FLAGSHIP.find("  drift:\n").unwrap_or_else(|| panic!("flagship declares no drift"));
    let without = format!("{}{}", &FLAGSHIP[..start], FLAGSHIP[start..].split_once("\n\n").map_or("", |(_, rest)| rest));
    let c = build(&without);
    assert!(c.model.monitoring.drift.is_none());
    assert!(c.model.grants.iter().all(|g| g.role != "roles/monitoring.metricWriter" && !matches!(g.scope, Scope::RequestLog(_))));

    // Without pipelines, Composer's own account runs the job.
    let spec = "version: 1\nproject: {name: demo}\nenvironments: {dev: {gcp_project: acme-demo-dev, region: us-central1}}\n\
        terraform: {state_bucket: acme-demo-tf-state}\nstorage: {buckets: {data: {}}}\n\
        datasets: {d: {source: 'gs://data/x/*.csv', format: csv, columns: {c: {type: int}}}}\n\
        endpoints: {e: {machine_type: n1-standard-4, request_logging: {sampling_rate: 0.1}}}\n\
        orchestration: {composer: {image_version: composer-3-airflow-2.10.5}}\n\
        monitoring: {drift: {endpoint: e, dataset: d, threshold: 0.2, cron: '0 6 * * *'}}\n";
    let c = build(spec);
    assert_eq!(c.model.drift_runner(), SaRole::Composer);
    assert!(has(&c, SaRole::Composer, &Scope::Project, "roles/monitoring.metricWriter"));
    assert!(has(&c, SaRole::Composer, &Scope::RequestLog("e".into()), "roles/bigquery.dataViewer"));
    assert!(has(&c, SaRole::Composer, &Scope::Bucket("data".into()), "roles/storage.objectViewer"));
    assert!(has(&c, SaRole::Composer, &Scope::ServiceAccount(SaRole::Composer), "roles/iam.serviceAccountUser"));
}
