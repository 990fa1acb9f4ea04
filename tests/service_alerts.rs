//! `monitoring.alerts.service_p99_latency_ms` / `service_error_rate`: each Cloud Run service gets
//! alert policies on Cloud Run's own metrics, filtered to the name Terraform gives that service
//! (so the policy watches the service that exists), and a 5xx ratio whose numerator is the
//! denominator narrowed to `response_code_class="5xx"`. Metrics:
//! <https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run>.

use hcl::structure::{Block, Body};
use mlopsgen::{compile, Error, Options, Source};

const BASE: &str = "version: 1
project: {name: demo}
environments:
  dev: {gcp_project: acme-demo-dev, region: us-central1}
terraform: {state_bucket: acme-demo-tf-state}
storage:
  buckets:
    artifacts: {}
images:
  server:
    context: server
    base: python:3.12-slim
    serving: {port: 8080}
";

fn compiled(rest: &str) -> Result<mlopsgen::Compilation, Error> {
    let source = Source { name: "spec.yaml".into(), text: format!("{BASE}{rest}") };
    compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None })
}

fn resources(text: &str, ty: &str) -> Vec<Block> {
    let body: Body = hcl::from_str(text).unwrap_or_else(|e| panic!("does not parse: {e}\n{text}"));
    body.into_blocks().filter(|b| b.identifier.as_str() == "resource" && b.labels.first().is_some_and(|l| l.as_str() == ty)).collect()
}

fn string_attr(body: &Body, key: &str) -> String {
    let expr = body.attributes().find(|a| a.key.as_str() == key).map(|a| a.expr.clone());
    match expr {
        Some(hcl::Expression::TemplateExpr(t)) => t.to_string(),
        Some(hcl::Expression::String(s)) => s,
        other => panic!("{key}: {other:?}"),
    }
}

fn nested<'a>(body: &'a Body, path: &[&str]) -> &'a Body {
    path.iter().fold(body, |b, name| {
        &b.blocks().find(|x| x.identifier.as_str() == *name).unwrap_or_else(|| panic!("no `{name}` block")).body
    })
}

#[test]
fn each_service_gets_latency_and_5xx_ratio_policies_on_its_own_cloud_run_metrics() {
    let c = compiled(
        "services:\n  api: {image: server}\n  admin: {image: server}\nmonitoring:\n  notify: [\"email:oncall@acme.example\"]\n  alerts: {service_p99_latency_ms: 800, service_error_rate: 0.02}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let runtime = c.output.get("terraform/runtime.tf").unwrap_or_default();
    let monitoring = c.output.get("terraform/monitoring.tf").unwrap_or_default();
    let services = resources(runtime, "google_cloud_run_v2_service");
    assert_eq!(services.len(), 2);
    let policies = resources(monitoring, "google_monitoring_alert_policy");
    for service in &services {
        let key = service.labels[1].as_str();
        let name = string_attr(&service.body, "name");
        let watching = format!("resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"{name}\"");
        let policy = |suffix: &str| {
            policies.iter().find(|p| p.labels[1].as_str() == format!("service_{key}_{suffix}")).unwrap_or_else(|| panic!("no {suffix} policy for {key}"))
        };
        let latency = nested(&policy("latency").body, &["conditions", "condition_threshold"]);
        assert!(string_attr(latency, "filter").contains(&watching), "{}", string_attr(latency, "filter"));
        assert!(string_attr(latency, "filter").starts_with("metric.type=\"run.googleapis.com/request_latencies\""));
        // One p99 over the service: each series' distribution of the period, merged across the
        // revisions and response codes of the service (a per-series p99 would judge each small
        // series alone, where one slow request is its p99).
        let agg = nested(latency, &["aggregations"]);
        assert_eq!((string_attr(agg, "per_series_aligner"), string_attr(agg, "cross_series_reducer")), ("ALIGN_DELTA".into(), "REDUCE_PERCENTILE_99".into()));
        let by = agg.attributes().find(|a| a.key.as_str() == "group_by_fields").map(|a| a.expr.to_string()).unwrap_or_default();
        assert_eq!(by.split_whitespace().collect::<String>(), "[\"resource.label.service_name\"]");

        let errors = nested(&policy("errors").body, &["conditions", "condition_threshold"]);
        let (numerator, denominator) = (string_attr(errors, "filter"), string_attr(errors, "denominator_filter"));
        assert!(denominator.contains(&watching) && denominator.starts_with("metric.type=\"run.googleapis.com/request_count\""));
        assert_eq!(numerator, format!("{denominator} AND metric.label.response_code_class=\"5xx\""));
        // Both sides are rates summed across revisions, so the ratio is the service's 5xx share.
        for side in ["aggregations", "denominator_aggregations"] {
            let agg = nested(errors, &[side]);
            assert_eq!((string_attr(agg, "per_series_aligner"), string_attr(agg, "cross_series_reducer")), ("ALIGN_RATE".into(), "REDUCE_SUM".into()));
        }
    }
}

#[test]
fn service_alerts_without_services_or_with_a_rate_outside_0_1_are_positioned_errors() {
    let Err(Error::Invalid(d)) = compiled("monitoring:\n  alerts:\n    service_p99_latency_ms: 800\n") else { panic!("accepted") };
    assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E020", 16, 29), "{d:?}");
    let Err(Error::Invalid(d)) = compiled("services:\n  api: {image: server}\nmonitoring:\n  alerts:\n    service_error_rate: 1.5\n") else {
        panic!("accepted")
    };
    assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E035", 18, 25), "{d:?}");
}

/// A Cloud Run service's startup probe gives a starting server the whole window Cloud Run allows
/// (failureThreshold x periodSeconds at most 240 s, each try's timeout within its period:
/// <https://cloud.google.com/run/docs/configuring/healthchecks>), as the default TCP probe does,
/// on the image's health route; the provider's defaults (3 tries of 1 s, 10 s apart) would shut
/// down a server still loading its model after 30 s and fail the revision.
#[test]
fn the_startup_probe_waits_as_long_as_cloud_run_allows() {
    let c = compiled("services:\n  api: {image: server}\n").unwrap_or_else(|e| panic!("{e}"));
    let runtime = c.output.get("terraform/runtime.tf").unwrap_or_else(|| panic!("no runtime.tf"));
    let service = resources(runtime, "google_cloud_run_v2_service").into_iter().next().unwrap_or_else(|| panic!("no service"));
    let probe = service
        .body
        .blocks()
        .filter(|b| b.identifier.as_str() == "template")
        .flat_map(|t| t.body.blocks().filter(|b| b.identifier.as_str() == "containers"))
        .flat_map(|c| c.body.blocks().filter(|b| b.identifier.as_str() == "startup_probe"))
        .next()
        .unwrap_or_else(|| panic!("no startup probe"));
    let number = |key: &str| match probe.body.attributes().find(|a| a.key.as_str() == key).map(|a| a.expr.clone()) {
        Some(hcl::Expression::Number(n)) => n.as_u64().unwrap_or_default(),
        other => panic!("{key}: {other:?}"),
    };
    let (period, timeout, failures) = (number("period_seconds"), number("timeout_seconds"), number("failure_threshold"));
    assert_eq!(period * failures, 240, "the startup window");
    assert!(timeout <= period, "a try's timeout must fit its period");
    let get = probe.body.blocks().find(|b| b.identifier.as_str() == "http_get").unwrap_or_else(|| panic!("no http_get"));
    assert_eq!(string_attr(&get.body, "path"), "/health");
}
