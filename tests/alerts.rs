//! Alerts that arrive: every `monitoring.notify` target becomes a Cloud Monitoring notification
//! channel of the type and labels Monitoring's channel descriptors define
//! (https://cloud.google.com/monitoring/support/notification-options), credentials come from
//! Secret Manager into `sensitive_labels`, every alert policy (DAG failures included) notifies
//! every channel, a `pubsub:` topic is created and its publisher is the Monitoring notification
//! agent, and the DAGs rely on no Airflow email backend. Bad targets are rejected at their
//! position.

mod support;

use hcl::Body;
use mlopsgen::{compile, Error, Options, Source};
use std::collections::BTreeSet;
use std::path::Path;

fn flagship() -> (String, mlopsgen::Compilation) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    (std::fs::read_to_string(&path).unwrap_or_default(), support::compile_spec(&path))
}

fn parse(c: &mlopsgen::Compilation, file: &str) -> Body {
    hcl::parse(c.output.get(&format!("terraform/{file}")).unwrap_or_else(|| panic!("no {file}"))).unwrap_or_else(|e| panic!("hcl: {e}"))
}

fn attr(body: &Body, key: &str) -> Option<String> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr().to_string())
}

fn blocks<'a>(body: &'a Body, kind: &'a str, ty: &'a str) -> impl Iterator<Item = &'a hcl::Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == kind && b.labels()[0].as_str() == ty)
}

#[test]
fn every_target_is_a_channel_every_alert_notifies() {
    let (_, c) = flagship();
    let tf = parse(&c, "monitoring.tf");
    let spec = c.model.monitoring.channels.clone();
    let kinds: BTreeSet<&str> = spec.iter().map(|ch| ch.kind.as_str()).collect();
    assert!(kinds.len() >= 5, "the flagship exercises every channel kind: {kinds:?}");
    let mut names = BTreeSet::new();
    for ch in &spec {
        let b = blocks(&tf, "resource", "google_monitoring_notification_channel")
            .find(|b| b.labels()[1].as_str() == ch.key)
            .unwrap_or_else(|| panic!("no channel for {}:{}", ch.kind, ch.address));
        let ty = attr(b.body(), "type").unwrap_or_default();
        let labels = attr(b.body(), "labels").unwrap_or_default();
        let sensitive = b.body().blocks().find(|s| s.identifier() == "sensitive_labels").map(|s| s.body().clone());
        let secret_ref = |key: &str| {
            let body = sensitive.as_ref().unwrap_or_else(|| panic!("{}: no sensitive_labels", ch.key));
            let value = attr(body, key).unwrap_or_else(|| panic!("{}: no {key}", ch.key));
            // The credential is the secret's latest version, read by the data source for that secret.
            let data = value.strip_prefix("data.google_secret_manager_secret_version_access.").and_then(|v| v.strip_suffix(".secret_data"));
            let data = data.unwrap_or_else(|| panic!("{}: {key} = {value}", ch.key));
            let d = blocks(&tf, "data", "google_secret_manager_secret_version_access").find(|d| d.labels()[1].as_str() == data).unwrap_or_else(|| panic!("data source"));
            assert_eq!(attr(d.body(), "secret"), ch.secret.as_ref().map(|s| format!("\"{s}\"")), "{}", ch.key);
        };
        match ch.kind.as_str() {
            "email" => assert!(ty == "\"email\"" && labels.contains(&format!("email_address = \"{}\"", ch.address))),
            "slack" => {
                assert!(ty == "\"slack\"" && labels.contains(&format!("channel_name = \"{}\"", ch.address)), "{labels}");
                assert!(ch.secret.is_some());
                secret_ref("auth_token");
            }
            "webhook" => assert!(ty == "\"webhook_tokenauth\"" && labels.contains(&format!("url = \"{}\"", ch.address))),
            "pagerduty" => {
                assert_eq!(ty, "\"pagerduty\"");
                secret_ref("service_key");
            }
            "pubsub" => {
                let topic = blocks(&tf, "resource", "google_pubsub_topic")
                    .find(|t| attr(t.body(), "name") == Some(format!("\"{}\"", ch.address)))
                    .unwrap_or_else(|| panic!("topic created"));
                let topic_name = topic.labels()[1].as_str();
                // Kept a week for subscribers that come after the first alerts (Pub/Sub delivers
                // only to subscriptions that exist at publication; replay-overview).
                assert_eq!(attr(topic.body(), "message_retention_duration").as_deref(), Some("\"604800s\""));
                assert!(ty == "\"pubsub\"" && labels.contains(&format!("google_pubsub_topic.{topic_name}.id")), "{labels}");
                // Cloud Monitoring publishes as its notification agent, which needs publisher on the topic.
                let iam = parse(&c, "iam.tf");
                let binding = blocks(&iam, "resource", "google_pubsub_topic_iam_member")
                    .find(|b| attr(b.body(), "topic") == Some(format!("google_pubsub_topic.{topic_name}.name")))
                    .unwrap_or_else(|| panic!("publisher binding"));
                assert_eq!(attr(binding.body(), "role").as_deref(), Some("\"roles/pubsub.publisher\""));
                assert!(attr(binding.body(), "member").unwrap_or_default().contains("@gcp-sa-monitoring-notification.iam.gserviceaccount.com"));
            }
            other => panic!("unexpected kind {other}"),
        }
        names.insert(format!("google_monitoring_notification_channel.{}.name", ch.key));
    }
    let mut policies = 0;
    for p in blocks(&tf, "resource", "google_monitoring_alert_policy") {
        let listed = attr(p.body(), "notification_channels").unwrap_or_default();
        for n in &names {
            assert!(listed.contains(n.as_str()), "{} does not notify {n}", p.labels()[1].as_str());
        }
        policies += 1;
    }
    assert!(policies >= 5, "{policies}");
    // DAG failures: a failed run is counted by Composer's run_count metric with state=failed
    // (https://cloud.google.com/monitoring/api/metrics_gcp#gcp-composer); the policy fires on any.
    let dag = blocks(&tf, "resource", "google_monitoring_alert_policy").find(|p| p.labels()[1].as_str() == "dag_failures").unwrap_or_else(|| panic!("dag_failures"));
    let text = hcl::to_string(&Body::builder().add_block(dag.clone()).build()).unwrap_or_else(|e| panic!("hcl: {e}"));
    assert!(text.contains("composer.googleapis.com/workflow/run_count") && text.contains("metric.label.state=\\\"failed\\\""), "{text}");
    let composer = c.model.composer.as_ref().unwrap_or_else(|| panic!("composer"));
    assert!(text.contains(&format!("resource.label.environment_name=\\\"{}\\\"", composer.name)));
}

#[test]
fn dags_rely_on_no_email_backend() {
    let (_, c) = flagship();
    let mut dags = 0;
    for (path, text) in c.output.files().filter(|(p, _)| p.starts_with("dags/")) {
        for word in ["email_on_failure", "\"email\":", "SmtpNotifier", "smtp_conn_id"] {
            assert!(!text.contains(word), "{path} uses {word}");
        }
        dags += 1;
    }
    // training (prod; dev switches its schedule off) and drift (dev, prod); scoring is on Vertex AI.
    assert!(dags >= 3, "{dags}");
}

#[test]
fn bad_targets_are_reported_at_their_position() {
    let (text, _) = flagship();
    let bad = [
        "slack:alerts",
        "slack:#Has Space",
        "webhook:http://insecure.example/x",
        "webhook:https://x.example/\"quote",
        "webhook:https://x.example/${var.x}",
        "pagerduty:not a secret",
        "pubsub:goog-reserved",
        "pubsub:1starts-with-digit",
        "sms:+15555550100",
    ];
    let list: String = bad.iter().map(|t| format!("    - '{t}'\n")).collect();
    let start = text.find("  notify:\n").unwrap_or_else(|| panic!("notify list"));
    let end = start + text[start..].find("  slack_token_secret:").unwrap_or_else(|| panic!("slack_token_secret"));
    let changed = format!("{}  notify:\n{list}{}", &text[..start], &text[end..]);
    let first_line = changed[..start].lines().count() + 2;
    let source = Source { name: "flagship.yaml".into(), text: changed };
    let options = Options { spec_file: Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml"), out_override: None };
    let Err(Error::Invalid(d)) = compile(&source, &options) else { panic!("bad targets accepted") };
    for (i, target) in bad.iter().enumerate() {
        let hit = d.iter().find(|d| d.message.contains(&format!("`{target}`"))).unwrap_or_else(|| panic!("{target} not reported"));
        assert_eq!((hit.code.as_str(), hit.pos.line), ("E035", first_line + i), "{target}");
    }
}

#[test]
fn slack_without_a_token_secret_is_reported() {
    let (text, _) = flagship();
    let changed = text.replace("  slack_token_secret: slack-bot-token\n", "");
    let source = Source { name: "flagship.yaml".into(), text: changed };
    let options = Options { spec_file: Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml"), out_override: None };
    let Err(Error::Invalid(d)) = compile(&source, &options) else { panic!("slack without a token accepted") };
    assert!(d.iter().any(|d| d.message.contains("needs a Slack token")), "{d:?}");
}

/// The examples' monitoring files, parsed.
fn monitoring_files() -> Vec<(String, mlopsgen::Compilation, Body)> {
    let mut out = Vec::new();
    for spec in ["minimal", "flagship", "promotion", "forecast"] {
        let c = support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("specs/{spec}.yaml")));
        if c.output.get("terraform/monitoring.tf").is_some() {
            let tf = parse(&c, "monitoring.tf");
            out.push((spec.to_owned(), c, tf));
        }
    }
    out
}

/// Cloud Monitoring rejects a metric threshold whose filter names no resource type
/// (`MetricThreshold.filter` in google/monitoring/v3/alert.proto: "must specify the metric type
/// and the resource type"; the API answers 400 "must specify a restriction on \"resource.type\"",
/// terraform-provider-google#4165), so such a policy fails every apply. The drift alert names the
/// resource the drift job writes its points to.
#[test]
fn metric_thresholds_name_their_resource_type() {
    let mut thresholds = 0;
    for (spec, c, tf) in monitoring_files() {
        for p in blocks(&tf, "resource", "google_monitoring_alert_policy") {
            let name = p.labels()[1].as_str();
            for cond in p.body().blocks().filter(|b| b.identifier() == "conditions") {
                for t in cond.body().blocks().filter(|b| b.identifier() == "condition_threshold") {
                    for key in ["filter", "denominator_filter"] {
                        let Some(filter) = attr(t.body(), key) else { continue };
                        assert!(filter.contains("resource.type=\\\""), "{spec}: {name}.{key} names no resource type: {filter}");
                        thresholds += 1;
                    }
                }
            }
        }
        let Some(drift) = blocks(&tf, "resource", "google_monitoring_alert_policy").find(|p| p.labels()[1].as_str() == "drift") else { continue };
        let writer = c.output.get("validation/mlops_validation/monitoring.py").unwrap_or_else(|| panic!("{spec}: no drift writer"));
        let resource = writer.split("\"resource\": {\"type\": \"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("writer"));
        let filter = hcl::to_string(&Body::builder().add_block(drift.clone()).build()).unwrap_or_default();
        assert!(filter.contains(&format!("resource.type=\\\"{resource}\\\"")), "{spec}: the drift alert reads another resource than `{resource}`: {filter}");
    }
    assert!(thresholds >= 8, "{thresholds}");
}

/// The environments' `ci_triggers` and the trigger ids Terraform would give them.
fn trigger_context(c: &mlopsgen::Compilation, env: &str) -> hcl::eval::Context<'static> {
    use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
    use hcl::Value;
    let tfvars = hcl::parse(c.output.get(&format!("terraform/env/{env}.tfvars")).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let triggers = tfvars.attributes().find(|a| a.key() == "ci_triggers").map(|a| a.expr().evaluate(&Context::new()));
    let triggers = triggers.unwrap_or_else(|| panic!("{env}: no ci_triggers")).unwrap_or_else(|e| panic!("{e}"));
    let mut instances = hcl::value::Map::new();
    for w in ["pr", "cd", "release", "review"] {
        let created = triggers.as_array().is_some_and(|t| t.contains(&Value::from(w)));
        let ids = if created { vec![Value::Object([("trigger_id".to_owned(), Value::from(format!("{w}-id")))].into_iter().collect())] } else { Vec::new() };
        instances.insert(w.to_owned(), Value::Array(ids));
    }
    fn strings(v: &Value) -> Vec<String> {
        v.as_array().into_iter().flatten().map(|s| s.as_str().unwrap_or_default().to_owned()).collect()
    }
    fn contains(a: FuncArgs) -> Result<Value, String> {
        Ok(Value::Bool(a[0].as_array().is_some_and(|l| l.contains(&a[1]))))
    }
    fn concat(a: FuncArgs) -> Result<Value, String> {
        Ok(Value::Array(a.iter().flat_map(|l| l.as_array().cloned().unwrap_or_default()).collect()))
    }
    fn formatlist(a: FuncArgs) -> Result<Value, String> {
        let format = a[0].as_str().unwrap_or_default().to_owned();
        Ok(Value::Array(strings(&a[1]).into_iter().map(|s| Value::from(format.replacen("%s", &s, 1))).collect()))
    }
    fn join(a: FuncArgs) -> Result<Value, String> {
        Ok(Value::from(strings(&a[1]).join(a[0].as_str().unwrap_or_default())))
    }
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object([("ci_triggers".to_owned(), triggers)].into_iter().collect()));
    ctx.declare_var("google_cloudbuild_trigger", Value::Object(instances));
    ctx.declare_func("contains", FuncDef::builder().params([ParamType::Any, ParamType::Any]).build(contains));
    ctx.declare_func("concat", FuncDef::builder().variadic_param(ParamType::Any).build(concat));
    ctx.declare_func("formatlist", FuncDef::builder().params([ParamType::Any, ParamType::Any]).build(formatlist));
    ctx.declare_func("join", FuncDef::builder().params([ParamType::Any, ParamType::Any]).build(join));
    ctx
}

/// A failed build pages only when it deploys (CD, a release): a pull request's checks and a
/// review fail as part of development and show on the pull request. Evaluated per environment
/// with its tfvars: the policy exists where a deploying trigger runs (Cloud Build writes a build's
/// logs to the project it runs in:
/// <https://cloud.google.com/build/docs/securing-builds/store-manage-build-logs>), so not in the
/// flagship's prod, and its filter matches the log entries of exactly those triggers' builds (the
/// `build` resource's `build_trigger_id`).
#[test]
fn build_failures_page_only_for_builds_that_deploy() {
    use hcl::eval::Evaluate;
    let mut paging = 0;
    for (spec, c, tf) in monitoring_files() {
        let Some(policy) = blocks(&tf, "resource", "google_monitoring_alert_policy").find(|p| p.labels()[1].as_str() == "build_failures") else { continue };
        let expr = |body: &hcl::Body, key: &str| body.attributes().find(|a| a.key() == key).map(|a| a.expr().clone()).unwrap_or_else(|| panic!("{key}"));
        let condition = policy.body().blocks().find(|b| b.identifier() == "conditions").and_then(|b| b.body().blocks().next()).unwrap_or_else(|| panic!("condition"));
        for env in &c.model.environments {
            let ctx = trigger_context(&c, &env.name);
            let count = expr(policy.body(), "count").evaluate(&ctx).unwrap_or_else(|e| panic!("{spec}/{}: {e}", env.name));
            let triggers = ctx_triggers(&c, &env.name);
            let deploying: Vec<&str> = ["cd", "release"].into_iter().filter(|w| triggers.contains(&(*w).to_owned())).collect();
            assert_eq!(count, hcl::Value::from(u64::from(!deploying.is_empty())), "{spec}/{}: triggers {triggers:?}", env.name);
            if deploying.is_empty() {
                continue;
            }
            let filter = expr(condition.body(), "filter").evaluate(&ctx).unwrap_or_else(|e| panic!("{spec}/{}: {e}", env.name));
            let filter = filter.as_str().unwrap_or_default().to_owned();
            let matched: Vec<&str> = ["pr", "cd", "release", "review"].into_iter().filter(|w| filter.contains(&format!("build_trigger_id=\"{w}-id\""))).collect();
            assert_eq!(matched, deploying, "{spec}/{}: {filter}", env.name);
            assert!(filter.starts_with("resource.type=\"build\" AND (") && filter.ends_with(") AND textPayload=~\"^ERROR: build step .* failed\""), "{filter}");
            paging += 1;
        }
    }
    assert!(paging >= 2, "{paging}");
}

fn ctx_triggers(c: &mlopsgen::Compilation, env: &str) -> Vec<String> {
    let tfvars = hcl::parse(c.output.get(&format!("terraform/env/{env}.tfvars")).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let text = attr(&tfvars, "ci_triggers").unwrap_or_default();
    ["pr", "cd", "release", "review"].into_iter().filter(|w| text.contains(&format!("\"{w}\""))).map(str::to_owned).collect()
}
