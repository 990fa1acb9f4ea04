//! `monitoring.tf`: notification channels (with the topics of `pubsub:` channels) and alert
//! policies for what `monitoring.alerts` asks (pipeline and build failures on their log entries,
//! DAG failures, endpoint and Cloud Run service latency and errors), and the drift alert on the
//! metric the drift job writes.

use super::depends_on_apis;
use super::syntax::{block, call, data, ident, iref, list, lit, num, op, r, record, resource, s, tpl, BlockExt, Item, TfFile};
use crate::model::delivery::{self, Workflow};
use crate::model::{Channel, Endpoint, Model, Service};
use hcl::expr::{BinaryOperator, Expression, Traversal, TraversalOperator};
use hcl::structure::Block;
use hcl::Identifier;

/// Custom metric the drift job writes: the PSI of one column, labels `column` and `dataset`.
pub const DRIFT_METRIC: &str = "custom.googleapis.com/mlopsgen/drift_psi";

/// How long an alert topic keeps its messages for subscribers that come later (a week).
const ALERT_RETENTION: &str = "604800s";

/// The monitored resource the drift job writes its points to.
pub const DRIFT_RESOURCE: &str = "global";

const MONITORING: &str = "monitoring.googleapis.com";

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let mon = &m.monitoring;
    let mut topics: Vec<&str> = mon.channels.iter().filter(|c| c.kind == "pubsub").map(|c| c.address.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    // Pub/Sub delivers a message only to the subscriptions that exist when it is published
    // (https://cloud.google.com/pubsub/docs/subscription-overview): with a week's retention on
    // the topic, a consumer that subscribes after the first alerts can seek back to them
    // (`messageRetentionDuration`, https://cloud.google.com/pubsub/docs/replay-overview).
    for t in topics {
        f.push(
            Item::from(
                resource("google_pubsub_topic", &topic(t))
                    .attr("name", s(t))
                    .attr("message_retention_duration", s(ALERT_RETENTION))
                    .attr("depends_on", depends_on_apis(m, &["pubsub.googleapis.com"])),
            )
            .note(format!("monitoring.notify: alerts are published to topic `{t}`"))
            .skip("CKV_GCP_83", "alert notifications carry no customer data; Google-managed encryption"),
        );
    }
    for c in &mon.channels {
        channel(&mut f, m, c);
    }
    let a = &mon.alerts;
    if a.pipeline_failures && !m.pipelines.is_empty() {
        let filter = "resource.type=\"aiplatform.googleapis.com/PipelineJob\" AND jsonPayload.state=\"PIPELINE_STATE_FAILED\"";
        log_alert(&mut f, m, "pipeline_failures", "Vertex AI pipeline run failed", filter, "monitoring.alerts.pipeline_failures");
    }
    if a.build_failures && m.ci.is_some() {
        build_failures(&mut f, m);
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

/// Terraform name of the topic a `pubsub:` channel publishes to: `topic_` and the id with every
/// character but letters and digits spelled `_XX` (hex), so distinct ids never share a name.
pub fn topic(id: &str) -> String {
    let mut name = String::from("topic_");
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else {
            name.push_str(&format!("_{:02x}", u32::from(c)));
        }
    }
    name
}

/// One notification channel. Channel types and labels are Cloud Monitoring's descriptors
/// (`gcloud beta monitoring channel-descriptors list`;
/// https://cloud.google.com/monitoring/support/notification-options): `email` (`email_address`),
/// `slack` (`channel_name`, `auth_token`), `webhook_tokenauth` (`url`), `pagerduty`
/// (`service_key`) and `pubsub` (`topic`). Credentials go in `sensitive_labels`, read from the
/// secret's latest version by `google_secret_manager_secret_version_access`
/// (https://registry.terraform.io/providers/hashicorp/google/latest/docs/data-sources/secret_manager_secret_version_access;
/// the value lands in the state, marked sensitive, so the state bucket's access matters).
fn channel(f: &mut TfFile, m: &Model, c: &Channel) {
    let secret = c.secret.as_ref().map(|id| {
        f.push(
            Item::from(
                data("google_secret_manager_secret_version_access", &c.key)
                    .attr("secret", s(id))
                    .attr("depends_on", depends_on_apis(m, &["secretmanager.googleapis.com"])),
            )
            .note(format!("monitoring.notify: the {} channel's credential (latest version of secret `{id}`)", c.kind)),
        );
        r(&["data", "google_secret_manager_secret_version_access", &c.key, "secret_data"])
    });
    let (ty, labels, sensitive): (&str, Vec<(&str, Expression)>, Option<&str>) = match c.kind.as_str() {
        "slack" => ("slack", vec![("channel_name", s(&c.address))], Some("auth_token")),
        "webhook" => ("webhook_tokenauth", vec![("url", s(&c.address))], None),
        "pagerduty" => ("pagerduty", Vec::new(), Some("service_key")),
        "pubsub" => ("pubsub", vec![("topic", r(&["google_pubsub_topic", &topic(&c.address), "id"]))], None),
        _ => ("email", vec![("email_address", s(&c.address))], None),
    };
    let mut deps = vec![MONITORING];
    if c.kind == "pubsub" {
        deps.push("pubsub.googleapis.com");
    }
    let mut b = resource("google_monitoring_notification_channel", &c.key)
        .attr("display_name", s(format!("{}: {}:{}", m.project.name, c.kind, c.address)))
        .attr("type", s(ty));
    if !labels.is_empty() {
        b = b.attr("labels", record(labels));
    }
    if let (Some(key), Some(value)) = (sensitive, secret) {
        b = b.add_block(block("sensitive_labels").attr(key, value).build());
    }
    f.push(Item::from(b.attr("depends_on", depends_on_apis(m, &deps))).note(format!("monitoring.notify: {}:{}", c.kind, c.address)));
}

fn aggregation(aligner: &str, reducer: Option<&str>, period: &str) -> Block {
    block("aggregations")
        .attr("alignment_period", s(period))
        .attr("per_series_aligner", s(aligner))
        .opt("cross_series_reducer", reducer.map(s))
        .build()
}

/// The 99th percentile of a latency distribution over all of one resource's series (every
/// revision and response code of a service, say), per 5 minutes: each series' distribution of the
/// period (`ALIGN_DELTA`) merged across the series that share `by` (`REDUCE_PERCENTILE_99`, valid
/// for DELTA distributions: `Aggregation.Reducer` in google/monitoring/v3/common.proto). A
/// percentile per series instead would judge each small series alone, where one slow request is
/// its p99.
fn p99_over(by: &str) -> Block {
    block("aggregations")
        .attr("alignment_period", s("300s"))
        .attr("per_series_aligner", s("ALIGN_DELTA"))
        .attr("cross_series_reducer", s("REDUCE_PERCENTILE_99"))
        .attr("group_by_fields", list([s(by)]))
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
    policy_if(f, m, name, title, condition, reason, extra_deps, None);
}

/// [`policy`], created only where `only` holds (a `count`).
#[allow(clippy::too_many_arguments)]
fn policy_if(
    f: &mut TfFile,
    m: &Model,
    name: &str,
    title: &str,
    condition: hcl::structure::BlockBuilder,
    reason: &str,
    extra_deps: Vec<Expression>,
    only: Option<Expression>,
) {
    let display = format!("{}: {title}", m.project.name);
    let mut deps = match depends_on_apis(m, &[MONITORING]) {
        Expression::Array(a) => a,
        _ => Vec::new(),
    };
    deps.extend(extra_deps);
    let condition = condition.build();
    let strategy = alert_strategy(&condition);
    let b = resource("google_monitoring_alert_policy", name)
        .opt("count", only.map(super::syntax::count_if))
        .attr("display_name", s(&display))
        .attr("combiner", s("OR"))
        .attr("severity", s("ERROR"))
        .attr("notification_channels", channels(m))
        .add_block(block("conditions").attr("display_name", s(title)).add_block(condition).build())
        .add_block(strategy)
        .add_block(
            block("documentation")
                .attr("content", s(format!("{title} in {} (`{reason}` in the spec).", m.project.name)))
                .attr("mime_type", s("text/markdown"))
                .build(),
        )
        .attr("depends_on", list(deps));
    f.push(Item::from(b).note(reason));
}

/// An alert on every log entry `filter` matches. A log-match condition reads the log entries
/// themselves, so nothing has to exist before the policy: a threshold on a log-based metric
/// created in the same apply fails with 404 "Cannot find metric(s)" for up to 10 minutes
/// (terraform-provider-google#11102), which would break every first apply. Log-match policies
/// notify at most once per `notification_rate_limit` period (required for them:
/// https://cloud.google.com/monitoring/alerts/log-based-alerts) and take one condition.
fn log_alert(f: &mut TfFile, m: &Model, name: &str, title: &str, filter: &str, reason: &str) {
    let cond = block("condition_matched_log").attr("filter", s(filter));
    policy(f, m, name, title, cond, reason, Vec::new());
}

/// A failed step of a build that deploys: CD's or a release's. A pull request's checks and a
/// review fail as part of development (their status shows on the pull request), so they page
/// nobody. The log entries of a build are on the `build` resource, whose `build_trigger_id` label
/// names the trigger that started it (Cloud Logging monitored resources,
/// <https://cloud.google.com/logging/docs/api/v2/resource-list>); the policy exists only where
/// one of those triggers runs.
fn build_failures(f: &mut TfFile, m: &Model) {
    let deploying: Vec<Workflow> = delivery::workflows(m).into_iter().filter(|w| matches!(w, Workflow::Deploy | Workflow::Release)).collect();
    let Some(only) = deploying.iter().map(|w| super::cicd::runs(*w)).reduce(|a, b| op(a, BinaryOperator::Or, b)) else { return };
    let ids = call("concat", deploying.iter().map(|w| splat(&["google_cloudbuild_trigger", w.name()], "trigger_id")).collect());
    let matches = call("formatlist", vec![s("resource.labels.build_trigger_id=\"%s\""), ids]);
    let filter = tpl(vec![
        lit("resource.type=\"build\" AND ("),
        iref(call("join", vec![s(" OR "), matches])),
        lit(") AND textPayload=~\"^ERROR: build step .* failed\""),
    ]);
    let cond = block("condition_matched_log").attr("filter", filter);
    policy_if(f, m, "build_failures", "Cloud Build build failed", cond, "monitoring.alerts.build_failures", Vec::new(), Some(only));
}

/// `<resource>[*].<attr>`: the attribute of every instance of a resource with `count`.
fn splat(resource: &[&str], attr: &str) -> Expression {
    let ops = vec![TraversalOperator::FullSplat, TraversalOperator::GetAttr(Identifier::unchecked(attr))];
    Traversal::new(r(resource), ops).into()
}

/// Incidents close 30 minutes after the condition stops holding; a log-match condition also
/// limits notifications to one per 5 minutes.
fn alert_strategy(condition: &Block) -> Block {
    let strategy = block("alert_strategy").attr("auto_close", s("1800s"));
    if condition.identifier() == "condition_matched_log" {
        strategy.add_block(block("notification_rate_limit").attr("period", s("300s")).build()).build()
    } else {
        strategy.build()
    }
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
        // The whole request's latency (`latency_type` is also `model` and `overhead`, parts of it).
        let filter = format!("{} AND metric.label.latency_type=\"total\"", endpoint_filter("prediction_latencies", e));
        let cond = threshold(s(filter), f64::from(ms), "300s", p99_over("resource.label.endpoint_id"));
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
        // The 99th percentile of the service's latency over 5 minutes, across its revisions.
        let cond = threshold(s(service_filter("request_latencies", sv, "")), f64::from(ms), "300s", p99_over("resource.label.service_name"));
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
    // A metric threshold's filter must name the resource type (the API rejects one without:
    // `MetricThreshold.filter` in google/monitoring/v3/alert.proto, "must specify the metric
    // type and the resource type"): the drift job writes to `global` (validation/monitoring.py).
    let filter = format!("metric.type=\"{DRIFT_METRIC}\" AND resource.type=\"{DRIFT_RESOURCE}\" AND metric.label.dataset=\"{dataset}\"");
    let cond = threshold(s(filter), limit, "0s", aggregation("ALIGN_MAX", None, "3600s"));
    let title = format!("drift between dataset {dataset} and endpoint {endpoint} requests above PSI {limit}");
    policy(f, m, "drift", &title, cond, "monitoring.drift", vec![r(&["google_monitoring_metric_descriptor", "drift_psi"])]);
}
