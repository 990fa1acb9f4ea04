//! `monitoring.tf`: notification channels, log-based metrics and alert policies for what
//! `monitoring.alerts` asks (pipeline, build and DAG failures, endpoint and Cloud Run service
//! latency and errors), and the drift alert on the metric the drift job writes.

use super::depends_on_apis;
use super::syntax::{block, ident, iref, list, lit, num, r, record, resource, s, tpl, BlockExt, Item, TfFile};
use crate::model::{Endpoint, Model, Service};
use hcl::expr::Expression;
use hcl::structure::Block;

/// Custom metric the drift job writes: the PSI of one column, labels `column` and `dataset`.
pub const DRIFT_METRIC: &str = "custom.googleapis.com/mlopsgen/drift_psi";

const MONITORING: &str = "monitoring.googleapis.com";

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let mon = &m.monitoring;
    for c in &mon.channels {
        f.push(
            Item::from(
                resource("google_monitoring_notification_channel", &c.key)
                    .attr("display_name", s(&c.address))
                    .attr("type", s(&c.kind))
                    .attr("labels", record([("email_address", s(&c.address))]))
                    .attr("depends_on", depends_on_apis(m, &[MONITORING])),
            )
            .note(format!("monitoring.notify: {}:{}", c.kind, c.address)),
        );
    }
    let a = &mon.alerts;
    if a.pipeline_failures && !m.pipelines.is_empty() {
        let filter = "resource.type=\"aiplatform.googleapis.com/PipelineJob\" AND jsonPayload.state=\"PIPELINE_STATE_FAILED\"";
        log_alert(&mut f, m, "pipeline_failures", "Vertex AI pipeline run failed", filter, "monitoring.alerts.pipeline_failures");
    }
    if a.build_failures && m.ci.is_some() {
        let filter = "resource.type=\"build\" AND textPayload=~\"^ERROR: build step .* failed\"";
        log_alert(&mut f, m, "build_failures", "Cloud Build build failed", filter, "monitoring.alerts.build_failures");
    }
    if let (true, Some(c)) = (a.dag_failures, &m.composer) {
        let filter = format!(
            "metric.type=\"composer.googleapis.com/workflow/run_count\" AND resource.type=\"cloud_composer_workflow\" AND resource.label.environment_name=\"{}\" AND metric.label.state=\"failed\"",
            c.name
        );
        let cond = threshold(filter, 0.0, "0s", aggregation("ALIGN_SUM", Some("REDUCE_SUM"), "300s"));
        policy(&mut f, m, "dag_failures", "Composer DAG run failed", cond, "monitoring.alerts.dag_failures", Vec::new());
    }
    for e in &m.endpoints {
        endpoint_alerts(&mut f, m, e);
    }
    for sv in &m.services {
        service_alerts(&mut f, m, sv);
    }
    if let Some(d) = &mon.drift {
        drift(&mut f, m, &d.dataset, d.threshold, &d.endpoint);
    }
    f
}

fn aggregation(aligner: &str, reducer: Option<&str>, period: &str) -> Block {
    block("aggregations")
        .attr("alignment_period", s(period))
        .attr("per_series_aligner", s(aligner))
        .opt("cross_series_reducer", reducer.map(s))
        .build()
}

fn number(v: f64) -> Expression {
    num(hcl::Number::from_f64(v).unwrap_or_else(|| 0.into()))
}

fn threshold(filter: impl Into<Expression>, value: f64, duration: &str, agg: Block) -> hcl::structure::BlockBuilder {
    block("condition_threshold")
        .attr("filter", filter.into())
        .attr("comparison", s("COMPARISON_GT"))
        .attr("threshold_value", number(value))
        .attr("duration", s(duration))
        .add_block(agg)
        .add_block(block("trigger").attr("count", num(1)).build())
}

/// A ratio condition: the numerator's rate over the denominator's, each summed over 5 minutes,
/// above `limit`.
fn ratio(numerator: String, denominator: String, limit: f64) -> hcl::structure::BlockBuilder {
    threshold(s(numerator), limit, "300s", aggregation("ALIGN_RATE", Some("REDUCE_SUM"), "300s"))
        .attr("denominator_filter", s(denominator))
        .add_block(
            block("denominator_aggregations")
                .attr("alignment_period", s("300s"))
                .attr("per_series_aligner", s("ALIGN_RATE"))
                .attr("cross_series_reducer", s("REDUCE_SUM"))
                .build(),
        )
}

fn channels(m: &Model) -> Expression {
    list(m.monitoring.channels.iter().map(|c| r(&["google_monitoring_notification_channel", &c.key, "name"])))
}

fn policy(
    f: &mut TfFile,
    m: &Model,
    name: &str,
    title: &str,
    condition: hcl::structure::BlockBuilder,
    reason: &str,
    extra_deps: Vec<Expression>,
) {
    let display = format!("{}: {title}", m.project.name);
    let mut deps = match depends_on_apis(m, &[MONITORING]) {
        Expression::Array(a) => a,
        _ => Vec::new(),
    };
    deps.extend(extra_deps);
    let b = resource("google_monitoring_alert_policy", name)
        .attr("display_name", s(&display))
        .attr("combiner", s("OR"))
        .attr("severity", s("ERROR"))
        .attr("notification_channels", channels(m))
        .add_block(block("conditions").attr("display_name", s(title)).add_block(condition.build()).build())
        .add_block(block("alert_strategy").attr("auto_close", s("1800s")).build())
        .add_block(
            block("documentation")
                .attr("content", s(format!("{title} in {} (`{reason}` in the spec).", m.project.name)))
                .attr("mime_type", s("text/markdown"))
                .build(),
        )
        .attr("depends_on", list(deps));
    f.push(Item::from(b).note(reason));
}

/// A log-based counter and an alert on any increase.
fn log_alert(f: &mut TfFile, m: &Model, name: &str, title: &str, filter: &str, reason: &str) {
    let metric_name = format!("{}-{}", m.project.name, name.replace('_', "-"));
    f.push(
        Item::from(
            resource("google_logging_metric", name)
                .attr("name", s(&metric_name))
                .attr("description", s(format!("{title} ({reason}).")))
                .attr("filter", s(filter))
                .add_block(
                    block("metric_descriptor")
                        .attr("metric_kind", s("DELTA"))
                        .attr("value_type", s("INT64"))
                        .attr("unit", s("1"))
                        .build(),
                )
                .attr("depends_on", depends_on_apis(m, &["logging.googleapis.com"])),
        )
        .note(reason),
    );
    let filter = tpl(vec![
        lit("metric.type=\"logging.googleapis.com/user/"),
        iref(r(&["google_logging_metric", name, "name"])),
        lit("\""),
    ]);
    let cond = threshold(filter, 0.0, "0s", aggregation("ALIGN_SUM", Some("REDUCE_SUM"), "300s"));
    policy(f, m, name, title, cond, reason, Vec::new());
}

fn endpoint_filter(metric: &str, e: &Endpoint) -> String {
    format!(
        "metric.type=\"aiplatform.googleapis.com/prediction/online/{metric}\" AND resource.type=\"aiplatform.googleapis.com/Endpoint\" AND resource.label.endpoint_id=\"{}\"",
        e.id
    )
}

fn endpoint_alerts(f: &mut TfFile, m: &Model, e: &Endpoint) {
    let a = &m.monitoring.alerts;
    let key = ident(&e.key);
    let deps = vec![r(&["google_vertex_ai_endpoint", &key])];
    if let Some(ms) = a.endpoint_p99_latency_ms {
        let cond = threshold(
            s(endpoint_filter("prediction_latencies", e)),
            f64::from(ms),
            "300s",
            aggregation("ALIGN_PERCENTILE_99", None, "300s"),
        );
        let title = format!("endpoint {} p99 latency above {ms} ms", e.key);
        policy(f, m, &format!("{key}_latency"), &title, cond, "monitoring.alerts.endpoint_p99_latency_ms", deps.clone());
    }
    if let Some(rate) = a.endpoint_error_rate {
        let cond = ratio(endpoint_filter("error_count", e), endpoint_filter("prediction_count", e), rate);
        let title = format!("endpoint {} error ratio above {rate}", e.key);
        policy(f, m, &format!("{key}_errors"), &title, cond, "monitoring.alerts.endpoint_error_rate", deps);
    }
}

/// A Cloud Run metric of one service, across its revisions. Metric and labels:
/// <https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run> — `request_latencies` is a
/// DELTA distribution in ms, `request_count` a DELTA INT64 with the metric label
/// `response_code_class` (`2xx` … `5xx`), both on the `cloud_run_revision` resource whose
/// `service_name` label is the service's name.
fn service_filter(metric: &str, sv: &Service, extra: &str) -> String {
    format!(
        "metric.type=\"run.googleapis.com/{metric}\" AND resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"{}\"{extra}",
        sv.name
    )
}

fn service_alerts(f: &mut TfFile, m: &Model, sv: &Service) {
    let a = &m.monitoring.alerts;
    let key = ident(&sv.key);
    let deps = vec![r(&["google_cloud_run_v2_service", &key])];
    if let Some(ms) = a.service_p99_latency_ms {
        // The 99th percentile of each revision's latency distribution over 5 minutes.
        let cond = threshold(
            s(service_filter("request_latencies", sv, "")),
            f64::from(ms),
            "300s",
            aggregation("ALIGN_PERCENTILE_99", None, "300s"),
        );
        let title = format!("service {} p99 latency above {ms} ms", sv.key);
        policy(f, m, &format!("service_{key}_latency"), &title, cond, "monitoring.alerts.service_p99_latency_ms", deps.clone());
    }
    if let Some(rate) = a.service_error_rate {
        // 5xx requests per second over all requests per second, each summed across revisions: a ratio.
        let five_xx = " AND metric.label.response_code_class=\"5xx\"";
        let cond = ratio(service_filter("request_count", sv, five_xx), service_filter("request_count", sv, ""), rate);
        let title = format!("service {} 5xx ratio above {rate}", sv.key);
        policy(f, m, &format!("service_{key}_errors"), &title, cond, "monitoring.alerts.service_error_rate", deps);
    }
}

fn drift(f: &mut TfFile, m: &Model, dataset: &str, limit: f64, endpoint: &str) {
    let label = |key: &str, description: &str| {
        block("labels").attr("key", s(key)).attr("value_type", s("STRING")).attr("description", s(description)).build()
    };
    f.push(
        Item::from(
            resource("google_monitoring_metric_descriptor", "drift_psi")
                .attr("type", s(DRIFT_METRIC))
                .attr("display_name", s("Feature drift (PSI)"))
                .attr("description", s("Population stability index of a column between training data and logged requests."))
                .attr("metric_kind", s("GAUGE"))
                .attr("value_type", s("DOUBLE"))
                .attr("unit", s("1"))
                .add_block(label("column", "Column compared."))
                .add_block(label("dataset", "Training dataset (spec key)."))
                .attr("depends_on", depends_on_apis(m, &[MONITORING])),
        )
        .note("monitoring.drift: the drift job writes one point per column and run."),
    );
    let filter = format!("metric.type=\"{DRIFT_METRIC}\" AND metric.label.dataset=\"{dataset}\"");
    let cond = threshold(s(filter), limit, "0s", aggregation("ALIGN_MAX", None, "3600s"));
    let title = format!("drift between dataset {dataset} and endpoint {endpoint} requests above PSI {limit}");
    policy(f, m, "drift", &title, cond, "monitoring.drift", vec![r(&["google_monitoring_metric_descriptor", "drift_psi"])]);
}
