//! Reviewing generated changes: pairs of specs (the examples with one small edit each) and the
//! exact semantic changes they cause; snapshots of the Markdown and JSON reports; the Markdown's
//! structure as a real parser (pulldown-cmark) reads it, truncation included. The CLI side
//! (`diff --base`, `build --fail-on-change`) is in `review_cli.rs`.

mod support;

use mlopsgen::diff::report::{Report, GITHUB_COMMENT_LIMIT};
use mlopsgen::diff::{self, FileDiff, Files};
use mlopsgen::output::write::Action;
use mlopsgen::review::{Change, Kind};
use mlopsgen::targets;
use mlopsgen::{compile, Compilation, Options, Source};
use support::files;
use pulldown_cmark::{BlockQuoteKind, CodeBlockKind, Event, Parser, Tag, TagEnd};

const MINIMAL: &str = include_str!("../specs/minimal.yaml");
const FLAGSHIP: &str = include_str!("../specs/flagship.yaml");
/// A DAG as the Airflow target writes it (`dags/dev/training.py` of the flagship).
const TRAINING_DAG: &str = include_str!("fixtures/review/training_dag.py");

fn compiled(text: &str) -> Compilation {
    let text = text.replace("output: ../generated/minimal", "output: generated").replace("output: ../generated/flagship", "output: generated");
    // The flagship's `component` step reads `components/…` from the spec's folder: compile it
    // as if it were in `specs/`.
    let spec_file = if text.contains("kind: component") { "specs/mlops.yaml" } else { "mlops.yaml" };
    let source = Source { name: "mlops.yaml".into(), text };
    let options = Options { spec_file: spec_file.into(), out_override: None };
    compile(&source, &options).unwrap_or_else(|e| panic!("the spec doesn't compile: {e:?}"))
}

/// `text` with `from` replaced by `to` (which must occur).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the spec has no {from:?}");
    text.replacen(from, to, 1)
}

fn changes(old: &str, new: &str) -> Vec<Change> {
    targets::review(&files(&compiled(old)), &files(&compiled(new)))
}

/// (target, subject, kind, destructive) of each change, in report order.
fn seen(changes: &[Change]) -> Vec<(&str, &str, Kind, bool)> {
    changes.iter().map(|c| (c.target, c.subject.as_str(), c.kind, c.destructive)).collect()
}

fn find<'a>(changes: &'a [Change], subject: &str) -> &'a Change {
    changes.iter().find(|c| c.subject == subject).unwrap_or_else(|| panic!("no change to {subject}"))
}

/// (path, old, new) of a change's details.
fn details(c: &Change) -> Vec<(&str, Option<&str>, Option<&str>)> {
    c.details.iter().map(|d| (d.path.as_str(), d.old.as_deref(), d.new.as_deref())).collect()
}

const ADD_BUCKET: (&str, &str) = ("    artifacts: {}\n", "    artifacts: {}\n    data: {versioning: true}\n");
const NEW_DEFAULT: (&str, &str) = ("default: hello", "default: bonjour");
const NEW_BASE: (&str, &str) = ("base: python:3.12-slim", "base: python:3.13-slim");

#[test]
fn a_bucket_added() {
    let c = changes(MINIMAL, &edit(MINIMAL, ADD_BUCKET.0, ADD_BUCKET.1));
    assert_eq!(
        seen(&c),
        [
            ("terraform", "google_storage_bucket.data", Kind::Added, false),
            ("terraform", "output.buckets", Kind::Changed, false),
        ]
    );
    assert_eq!(details(&c[1]), [("value.data", None, Some("google_storage_bucket.data.name"))]);
}

#[test]
fn a_parameter_default_changed() {
    let c = changes(MINIMAL, &edit(MINIMAL, NEW_DEFAULT.0, NEW_DEFAULT.1));
    assert_eq!(seen(&c), [("kubeflow", "hello (dev) / parameter greeting", Kind::Changed, false)]);
    assert_eq!(details(&c[0]), [("defaultValue", Some("hello"), Some("bonjour"))]);
}

#[test]
fn a_base_image_changed() {
    let c = changes(MINIMAL, &edit(MINIMAL, NEW_BASE.0, NEW_BASE.1));
    assert_eq!(seen(&c), [("docker", "image job", Kind::Changed, false)]);
    assert_eq!(c[0].summary.as_deref(), Some("base image changed"));
    assert_eq!(details(&c[0]), [("FROM", Some("python:3.12-slim"), Some("python:3.13-slim"))]);
}

#[test]
fn a_steps_image_changed() {
    let from = "      evaluate:\n        kind: container\n        image: trainer";
    let c = changes(FLAGSHIP, &edit(FLAGSHIP, from, &from.replace("trainer", "server")));
    assert_eq!(
        seen(&c),
        [
            ("kubeflow", "training (dev) / task evaluate", Kind::Changed, false),
            ("kubeflow", "training (prod) / task evaluate", Kind::Changed, false),
        ]
    );
    let dev = find(&c, "training (dev) / task evaluate");
    assert_eq!(dev.summary.as_deref(), Some("image, command/args changed"));
    let image = dev.details.iter().find(|d| d.path == "container.image").unwrap_or_else(|| panic!("no image detail"));
    let repo = "europe-west4-docker.pkg.dev/acme-churn-dev/churn-images";
    assert_eq!(image.old.as_deref(), Some(format!("{repo}/trainer:dev").as_str()));
    assert_eq!(image.new.as_deref(), Some(format!("{repo}/server:dev").as_str()));
}

/// The flagship without its endpoint (and what refers to it).
fn flagship_without_endpoint() -> String {
    let mut s = FLAGSHIP.to_owned();
    for (from, to) in [
        ("      deploy:\n        kind: endpoint_deploy\n        endpoint: churn\n        inputs: {model: register.model}\n        traffic_percent: 100\n        when: promote.promoted == true\n", ""),
        ("endpoints:\n  churn:\n    machine_type: n1-standard-4\n    min_replicas: 1\n    max_replicas: 3\n    request_logging: {sampling_rate: 0.1}\n", ""),
        ("    endpoint: churn\n    # Serves", "    # Serves"),
        ("    endpoint_p99_latency_ms: 500\n    endpoint_error_rate: 0.05\n", ""),
        ("      endpoints:\n        churn: {min_replicas: 2}   # a replica floor that survives one zone's outage\n", ""),
        ("  drift:\n    endpoint: churn\n    dataset: customers\n    threshold: 0.2\n    cron: \"0 6 * * *\"\n", ""),
    ] {
        s = edit(&s, from, to);
    }
    s
}

#[test]
fn an_endpoint_removed_is_destructive_and_first() {
    let c = changes(FLAGSHIP, &flagship_without_endpoint());
    let destructive: Vec<_> = c.iter().take_while(|c| c.destructive).map(|c| (c.subject.as_str(), c.kind)).collect();
    assert_eq!(
        destructive,
        [("google_bigquery_dataset.churn_requests", Kind::Removed), ("google_vertex_ai_endpoint.churn", Kind::Removed)]
    );
    assert!(c.iter().skip(2).all(|c| !c.destructive), "destructive changes come first");
    let endpoint = find(&c, "google_vertex_ai_endpoint.churn");
    assert_eq!(endpoint.summary.as_deref(), Some("destroyed: its deployed models and callers' URL go with it"));
    let api = find(&c, "google_cloud_run_v2_service.api");
    assert_eq!(
        details(api),
        [
            ("template[0].containers[0].env[VERTEX_ENDPOINT].name", Some("\"VERTEX_ENDPOINT\""), None),
            ("template[0].containers[0].env[VERTEX_ENDPOINT].value", Some("google_vertex_ai_endpoint.churn.id"), None),
        ]
    );
    let revoke = find(&c, "google_project_iam_member.serving_endpoint_predictor");
    assert_eq!((revoke.kind, revoke.summary.as_deref()), (
        Kind::Removed,
        Some("revoke google_project_iam_custom_role.endpoint_predictor from google_service_account.serving on project var.project_id")
    ));
    assert_eq!(find(&c, "google_project_iam_custom_role.endpoint_predictor").kind, Kind::Removed);
    for env in ["dev", "prod"] {
        assert_eq!(find(&c, &format!("training ({env}) / task deploy")).kind, Kind::Removed);
    }
}

#[test]
fn a_new_function_adds_iam_grants() {
    let function = "functions:\n  on-scores:\n    source: functions/on_scores\n    runtime: python312\n    entry_point: handle\n    trigger: {bucket: predictions}\n    starts_pipeline: scoring\n";
    let c = changes(FLAGSHIP, &edit(FLAGSHIP, "functions:\n", function));
    let grants: Vec<(&str, &str)> = c
        .iter()
        .filter(|c| c.kind == Kind::Added && c.subject.contains("_iam_member."))
        .map(|c| (c.subject.as_str(), c.summary.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        grants,
        [
            (
                "google_cloud_run_v2_service_iam_member.functions_on_scores_run_invoker",
                "grant roles/run.invoker to google_service_account.functions on google_cloudfunctions2_function.on_scores"
            ),
            (
                "google_cloudfunctions2_function_iam_member.ci_on_scores_cloudfunctions_developer",
                "grant roles/cloudfunctions.developer to google_service_account.ci on google_cloudfunctions2_function.on_scores"
            ),
            (
                "google_cloudfunctions2_function_iam_member.promoter_on_scores_cloudfunctions_developer",
                "grant roles/cloudfunctions.developer to serviceAccount:${var.promoter_sa} on google_cloudfunctions2_function.on_scores"
            ),
            (
                "google_storage_bucket_iam_member.functions_predictions_storage_objectviewer",
                "grant roles/storage.objectViewer to google_service_account.functions on google_storage_bucket.predictions"
            ),
        ]
    );
    assert_eq!(find(&c, "google_cloudfunctions2_function.on_scores").kind, Kind::Added);
    assert_eq!(find(&c, "cd.yaml / step deploy-function-on-scores").kind, Kind::Added);
    assert!(c.iter().all(|c| !c.destructive));
}

#[test]
fn a_dag_schedule_changed() {
    let path = "dags/dev/training.py".to_owned();
    let old = Files::from([(path.clone(), TRAINING_DAG.to_owned())]);
    let new_text = edit(TRAINING_DAG, "CronTriggerTimetable(\"0 3 * * 1\"", "CronTriggerTimetable(\"0 5 * * 1\"");
    let new_text = edit(&new_text, "    \"max_depth\": 6,\n", "    \"max_depth\": 8,\n");
    let c = targets::review(&old, &Files::from([(path, new_text)]));
    assert_eq!(seen(&c), [("airflow", "DAG training (dev)", Kind::Changed, false)]);
    assert_eq!(c[0].summary.as_deref(), Some("schedule changed"));
    assert_eq!(
        details(&c[0]),
        [
            ("schedule", Some("0 3 * * 1"), Some("0 5 * * 1")),
            (
                "setting PARAMETER_VALUES",
                Some("{\"learning_rate\": 0.05, \"max_depth\": 6, \"min_auc\": 0.8}"),
                Some("{\"learning_rate\": 0.05, \"max_depth\": 8, \"min_auc\": 0.8}")
            ),
        ]
    );
}

/// With the Airflow target, a spec's cron edit shows as the DAGs' schedule change; without it
/// (branches that don't have the target yet), the schedule lands in no other file.
#[test]
fn a_spec_schedule_change_reaches_the_dags() {
    let new = edit(FLAGSHIP, "cron: \"0 3 * * 1\"", "cron: \"0 5 * * 1\"");
    let c = changes(FLAGSHIP, &new);
    if !files(&compiled(FLAGSHIP)).keys().any(|p| p.starts_with("dags/")) {
        assert_eq!(seen(&c), []);
        return;
    }
    assert_eq!(
        seen(&c),
        // dev's overrides disable the training schedule: no DAG there to change.
        [("airflow", "DAG training (prod)", Kind::Changed, false)]
    );
    assert_eq!(details(&c[0]), [("schedule", Some("0 3 * * 1"), Some("0 5 * * 1"))]);
}

/// The report of one pair, as `mlopsgen diff --base main` would print it.
fn report(old: &str, new: &str) -> Report {
    let new = compiled(new);
    diff::review(&new.model, &new.output, &files(&compiled(old)), Some("main"))
}

fn minimal_pair() -> Report {
    let new = [ADD_BUCKET, NEW_DEFAULT, NEW_BASE].iter().fold(MINIMAL.to_owned(), |s, (from, to)| edit(&s, from, to));
    report(MINIMAL, &new)
}

#[test]
fn markdown_and_json_snapshots() {
    let r = minimal_pair();
    insta::assert_snapshot!("minimal_pair_markdown", r.markdown());
    insta::assert_snapshot!("minimal_pair_json", r.json());
    assert_eq!(r.markdown(), minimal_pair().markdown(), "the report is deterministic");
}

/// What pulldown-cmark sees in a Markdown report.
#[derive(Debug, Default)]
struct Structure {
    tables: Vec<(Vec<String>, usize)>,
    details_open: usize,
    details_close: usize,
    fenced_blocks: Vec<(String, String)>,
    caution_before_table: bool,
}

fn structure(markdown: &str) -> Structure {
    let options = pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_GFM;
    let mut s = Structure::default();
    let (mut in_head, mut in_cell, mut rows, mut head, mut cell) = (false, false, 0, Vec::new(), String::new());
    let mut block: Option<(String, String)> = None;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableCell) => in_cell = true,
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                if in_head {
                    head.push(std::mem::take(&mut cell));
                }
                cell.clear();
            }
            Event::End(TagEnd::TableRow) => rows += 1,
            Event::End(TagEnd::Table) => s.tables.push((std::mem::take(&mut head), std::mem::replace(&mut rows, 0))),
            Event::Start(Tag::BlockQuote(Some(BlockQuoteKind::Caution))) if s.tables.is_empty() => {
                s.caution_before_table = true;
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => block = Some((lang.to_string(), String::new())),
            Event::End(TagEnd::CodeBlock) => s.fenced_blocks.extend(block.take()),
            Event::Text(t) => {
                if let Some((_, body)) = block.as_mut() {
                    body.push_str(&t);
                } else if in_cell {
                    cell.push_str(&t);
                }
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                s.details_open += h.matches("<details>").count();
                s.details_close += h.matches("</details>").count();
            }
            _ => {}
        }
    }
    assert!(block.is_none(), "a code fence is never closed");
    s
}

const TABLE_HEADER: [&str; 6] = ["Target", "Files added", "Files changed", "Files removed", "Changes", "Destructive"];

#[test]
fn markdown_is_well_formed() {
    let r = report(FLAGSHIP, &flagship_without_endpoint());
    let md = r.markdown();
    let s = structure(&md);
    assert_eq!(s.tables.len(), 1, "one summary table");
    assert_eq!(s.tables[0].0, TABLE_HEADER);
    assert_eq!(s.tables[0].1, r.counts().len() + 1, "a row per target and a total");
    assert!(s.caution_before_table, "destructive changes are called out before the table");
    assert_eq!(s.details_open, s.details_close, "<details> blocks are balanced");
    // Diffs that do not fit GitHub's comment limit are left out, and the note says how many.
    let note = format!(" of {} file diff(s)", r.files.len());
    let omitted = md.find(&note).and_then(|at| md[..at].rsplit(' ').next()?.parse::<usize>().ok()).unwrap_or(0);
    let sections = ["Pipeline graph", "added <code>", "changed <code>", "removed <code>"]
        .iter()
        .map(|kind| md.matches(&format!("<details><summary>{kind}")).count())
        .sum::<usize>();
    assert_eq!(sections + omitted, r.graphs.len() + r.files.len(), "a section per graph and per file");
    let mermaid = s.fenced_blocks.iter().filter(|(lang, _)| lang == "mermaid").count();
    assert_eq!(mermaid, r.graphs.len());
    assert_eq!(r.graphs.keys().collect::<Vec<_>>(), ["training"]);
    assert!(s.fenced_blocks.iter().all(|(_, body)| !body.contains("</details>")), "a fence swallowed a section end");
    assert!(md.len() < GITHUB_COMMENT_LIMIT);
}

#[test]
fn oversized_reports_are_truncated_with_a_note() {
    let big: String = (0..300).map(|i| format!("line {i} with some text `and ``` backticks`\n")).collect();
    let files: Vec<FileDiff> = (0..40)
        .map(|i| FileDiff { path: format!("terraform/f{i}.tf"), action: Action::Add, old: None, new: Some(big.clone()) })
        .collect();
    let r = Report::new("mlops.yaml", "generated", Some("main"), files, Vec::new());
    let md = r.markdown();
    assert!(md.chars().count() < GITHUB_COMMENT_LIMIT, "{} characters", md.chars().count());
    assert!(md.contains("_Truncated to stay under GitHub's 65535-character comment limit: left out "), "no note");
    let s = structure(&md);
    assert_eq!(s.details_open, s.details_close);
    assert!(s.details_open > 0 && s.details_open < 40, "some but not all file diffs fit");
    assert_eq!(s.tables[0].1, 2);
}
