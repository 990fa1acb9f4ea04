//! One hostile-string corpus (`tests/fixtures/hostile_strings.json`) through every spec field
//! that reaches generated text.
//!
//! Each corpus string is put, exactly (the whole spec is written as JSON, which is YAML), into
//! one field of the flagship spec and compiled in-process. The outcome must be one of:
//! - **rejected**: `Error::Invalid` with at least one diagnostic (the CLI's exit code 2);
//! - **inert**: every artifact re-parses with its real parser, the string arrives whole inside a
//!   decoded literal of an artifact under each of the field's expected folders, and no active
//!   part (HCL interpolation or directive, Cloud Build substitution, KFP placeholder, shell or
//!   Dockerfile expansion) exists that the unmodified flagship does not have.
//!
//! Python files (Airflow DAGs, the validator package) are checked by
//! `tests/conformance/checks/hostile_python.py` with `ast`; this test writes the changed Python
//! files of every accepted case to a temp dir and runs it (`MLOPSGEN_HOSTILE_PYTHON`, else
//! `python3`; skipped with a note when neither exists). Run with `-- --nocapture` for the table.
//! By default a deterministic third of the field × string product runs (debug builds are slow);
//! `MLOPSGEN_HOSTILE_FULL=1` (set by `.ci/run`) runs all of it.

#[path = "support/artifacts.rs"]
mod artifacts;

mod support;

use mlopsgen::{compile, Error, Options, Source};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FLAGSHIP: &str = include_str!("../specs/flagship.yaml");
const CORPUS: &str = include_str!("fixtures/hostile_strings.json");
/// Stands for the hostile string in a field's edit template.
const H: &str = "@@";

/// How an edit puts its template into the spec.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    /// Replace (or add) the value at the pointer.
    Set,
    /// Add the template's entries to the mapping at the pointer.
    Merge,
    /// Append the template to the list at the pointer.
    Push,
}
use Op::{Merge, Push, Set};

/// A spec field: its edits (op, JSON pointer, JSON template with `@@`) and the output folders
/// where the string must arrive as a literal when accepted (`dags/`, `validation/`: via Python).
struct Field {
    name: &'static str,
    edits: &'static [(Op, &'static str, &'static str)],
    expect: &'static [&'static str],
    /// The value is matched as an RE2 pattern, so it may also arrive regex-escaped.
    re2: bool,
}

const fn f(name: &'static str, edits: &'static [(Op, &'static str, &'static str)], expect: &'static [&'static str]) -> Field {
    Field { name, edits, expect, re2: false }
}

/// RE2's meaning of a literal: every metacharacter behind a backslash.
fn re2_escape(s: &str) -> String {
    s.chars().flat_map(|c| if "\\.+*?()|[]{}^$".contains(c) { vec!['\\', c] } else { vec![c] }).collect()
}

const FIELDS: &[Field] = &[
    f("project.name", &[(Set, "/project/name", r#""@@""#)], &[]),
    f("project.description", &[(Set, "/project/description", r#""@@""#)], &[]),
    f("project.labels value", &[(Set, "/project/labels/team", r#""@@""#)], &[]),
    f("project.labels key", &[(Merge, "/project/labels", r#"{"@@": "x"}"#)], &[]),
    f("environments key", &[(Merge, "/environments", r#"{"@@": {"gcp_project": "acme-churn-qa", "region": "europe-west4"}}"#)], &[]),
    f("environments.gcp_project", &[(Set, "/environments/dev/gcp_project", r#""@@""#)], &[]),
    f("environments.region", &[(Set, "/environments/dev/region", r#""@@""#)], &[]),
    f("environments.labels value", &[(Set, "/environments/prod/labels/tier", r#""@@""#)], &[]),
    f("terraform.state_bucket", &[(Set, "/terraform/state_bucket", r#""@@""#)], &[]),
    f("terraform.state_prefix", &[(Set, "/terraform/state_prefix", r#""@@""#)], &[]),
    f("storage.buckets key", &[(Merge, "/storage/buckets", r#"{"@@": {}}"#)], &[]),
    f("storage.pipeline_root", &[(Set, "/storage/pipeline_root", r#""@@""#)], &[]),
    f("storage.buckets.kms_key", &[(Set, "/storage/buckets/data/kms_key", r#""@@""#)], &[]),
    f("images key", &[(Merge, "/images", r#"{"@@": {"context": "x", "base": "python:3.11-slim"}}"#)], &[]),
    f("images.context", &[(Set, "/images/trainer/context", r#""@@""#)], &[]),
    f("images.base", &[(Set, "/images/trainer/base", r#""@@""#)], &[]),
    f("images.digest", &[(Set, "/images/trainer/digest", r#""@@""#)], &[]),
    f("images.requirements", &[(Set, "/images/trainer/requirements", r#""@@""#)], &[]),
    f("images.system_packages", &[(Set, "/images/trainer/system_packages/0", r#""@@""#)], &[]),
    f("images.entrypoint", &[(Set, "/images/trainer/entrypoint/2", r#""@@""#)], &[]),
    f("images.cmd", &[(Set, "/images/trainer/cmd", r#"["@@"]"#)], &[]),
    f("images.env value", &[(Set, "/images/trainer/env/PYTHONHASHSEED", r#""@@""#)], &[]),
    f("images.env key", &[(Merge, "/images/trainer/env", r#"{"@@": "1"}"#)], &[]),
    f("images.serving.health_route", &[(Set, "/images/server/serving/health_route", r#""@@""#)], &[]),
    f("images.serving.predict_route", &[(Set, "/images/server/serving/predict_route", r#""@@""#)], &[]),
    f("datasets key", &[(Merge, "/datasets", r#"{"@@": {"source": "bq://churn.extra", "columns": {"c": {"type": "int"}}}}"#)], &[]),
    f("datasets.source (bq)", &[(Set, "/datasets/customers/source", r#""@@""#)], &[]),
    f("datasets.source (gs)", &[(Set, "/datasets/scoring_batch/source", r#""gs://data/@@""#)], &[]),
    f("datasets.sample", &[(Set, "/datasets/customers/sample", r#""@@""#)], &[]),
    f("datasets.columns key", &[(Merge, "/datasets/customers/columns", r#"{"@@": {"type": "string"}}"#)], &[]),
    f("datasets.columns.allowed", &[(Set, "/datasets/customers/columns/plan/allowed/0", r#""@@""#)], &[]),
    f("features.groups.entity_id", &[(Set, "/features/groups/customer/entity_id", r#""@@""#)], &[]),
    f("features.views.sync_cron", &[(Set, "/features/views/customer_serving/sync_cron", r#""@@""#)], &[]),
    f("pipelines key", &[(Merge, "/pipelines", r#"{"@@": {"steps": {"s": {"kind": "container", "image": "trainer"}}}}"#)], &[]),
    f("pipelines.description", &[(Set, "/pipelines/training/description", r#""@@""#)], &[]),
    f("pipelines.parameters key", &[(Merge, "/pipelines/training/parameters", r#"{"@@": {"type": "string", "default": "x"}}"#)], &[]),
    f("pipelines.parameters.description", &[(Set, "/pipelines/training/parameters/min_auc/description", r#""@@""#)], &[]),
    f("pipelines.parameters.default (string)", &[(Merge, "/pipelines/training/parameters", r#"{"note": {"type": "string", "default": "@@"}}"#)], &[]),
    f("pipelines.parameters.default (struct)", &[(Merge, "/pipelines/training/parameters", r#"{"conf": {"type": "struct", "default": {"@@": ["@@"]}}}"#)], &[]),
    f(
        "pipelines.schedule.parameters",
        &[
            (Merge, "/pipelines/training/parameters", r#"{"note": {"type": "string", "default": "x"}}"#),
            (Set, "/pipelines/training/schedule/parameters", r#"{"note": "@@"}"#),
        ],
        &[],
    ),
    f("pipelines.schedule.cron", &[(Set, "/pipelines/training/schedule/cron", r#""@@""#)], &[]),
    f("pipelines.steps key", &[(Merge, "/pipelines/training/steps", r#"{"@@": {"kind": "container", "image": "trainer"}}"#)], &[]),
    f("steps.args (container)", &[(Push, "/pipelines/training/steps/evaluate/args", r#""@@""#)], &[]),
    f("steps.args (custom_training)", &[(Push, "/pipelines/training/steps/train/args", r#""@@""#)], &[]),
    f("steps.args (tuning)", &[(Push, "/pipelines/training/steps/tune/args", r#""@@""#)], &[]),
    f("steps.command", &[(Set, "/pipelines/training/steps/evaluate/command", r#"["sh", "-c", "@@"]"#)], &[]),
    f("steps.env value", &[(Set, "/pipelines/training/steps/evaluate/env", r#"{"HOSTILE": "@@"}"#)], &[]),
    f("steps.env key", &[(Set, "/pipelines/training/steps/evaluate/env", r#"{"@@": "x"}"#)], &[]),
    f("steps.outputs key", &[(Merge, "/pipelines/training/steps/evaluate/outputs", r#"{"@@": "String"}"#)], &[]),
    f("steps.resources", &[(Set, "/pipelines/training/steps/evaluate/resources/memory", r#""@@""#)], &[]),
    f("steps.machine.type", &[(Set, "/pipelines/training/steps/train/machine/type", r#""@@""#)], &[]),
    f("steps.machine.accelerator.type", &[(Set, "/pipelines/training/steps/train/machine/accelerator/type", r#""@@""#)], &[]),
    f("steps.metric.name", &[(Set, "/pipelines/training/steps/tune/metric/name", r#""@@""#)], &[]),
    f("steps.search_space key", &[(Merge, "/pipelines/training/steps/tune/search_space", r#"{"@@": {"type": "integer", "min": 1, "max": 2}}"#)], &[]),
    f(
        "steps.search_space categorical",
        &[(Merge, "/pipelines/training/steps/tune/search_space", r#"{"booster": {"type": "categorical", "values": ["@@"]}}"#)],
        &[],
    ),
    f("steps.version_aliases", &[(Set, "/pipelines/training/steps/register/version_aliases/0", r#""@@""#)], &[]),
    f("steps.batch machine_type", &[(Set, "/pipelines/scoring/steps/predict/machine_type", r#""@@""#)], &[]),
    f("models key", &[(Merge, "/models", r#"{"@@": {"serving_image": "server"}}"#)], &[]),
    f("models.description", &[(Set, "/models/churn/description", r#""@@""#)], &[]),
    f("endpoints key", &[(Merge, "/endpoints", r#"{"@@": {"machine_type": "n1-standard-2"}}"#)], &[]),
    f("endpoints.machine_type", &[(Set, "/endpoints/churn/machine_type", r#""@@""#)], &[]),
    f("services key", &[(Merge, "/services", r#"{"@@": {"image": "server"}}"#)], &[]),
    f("services.cpu", &[(Set, "/services/api/cpu", r#""@@""#)], &[]),
    f("services.memory", &[(Set, "/services/api/memory", r#""@@""#)], &[]),
    f("services.env value", &[(Set, "/services/api/env/LOG_LEVEL", r#""@@""#)], &[]),
    f("services.env key", &[(Merge, "/services/api/env", r#"{"@@": "x"}"#)], &[]),
    f("functions key", &[(Merge, "/functions", r#"{"@@": {"source": "f", "runtime": "python312", "entry_point": "h"}}"#)], &[]),
    f("functions.source", &[(Set, "/functions/on-new-data/source", r#""@@""#)], &[]),
    f("functions.runtime", &[(Set, "/functions/on-new-data/runtime", r#""@@""#)], &[]),
    f("functions.entry_point", &[(Set, "/functions/on-new-data/entry_point", r#""@@""#)], &[]),
    f("functions.memory", &[(Set, "/functions/on-new-data/memory", r#""@@""#)], &[]),
    f("functions.env value", &[(Set, "/functions/on-new-data/env", r#"{"HOSTILE": "@@"}"#)], &[]),
    f("orchestration.composer.image_version", &[(Set, "/orchestration/composer/image_version", r#""@@""#)], &[]),
    f("ci.github.owner", &[(Set, "/ci/github/owner", r#""@@""#)], &[]),
    f("ci.github.repo", &[(Set, "/ci/github/repo", r#""@@""#)], &[]),
    f("ci.github.oauth_token_secret", &[(Set, "/ci/github/oauth_token_secret", r#""@@""#)], &[]),
    Field { name: "ci.branch", edits: &[(Set, "/ci/branch", r#""@@""#)], expect: &[], re2: true },
    f("ci.release_tag", &[(Set, "/ci/release_tag", r#""@@""#)], &[]),
    f("ci.python_image", &[(Set, "/ci/python_image", r#""@@""#)], &[]),
    f("ci.lint", &[(Set, "/ci/lint/0", r#""@@""#)], &[]),
    f("ci.test", &[(Set, "/ci/test/0", r#""@@""#)], &[]),
    f("monitoring.notify", &[(Set, "/monitoring/notify/0", r#""@@""#)], &[]),
    f("monitoring.notify (email)", &[(Set, "/monitoring/notify/0", r#""email:@@""#)], &[]),
    f("monitoring.drift.cron", &[(Set, "/monitoring/drift/cron", r#""@@""#)], &[]),
];

fn corpus() -> Vec<String> {
    serde_json::from_str(CORPUS).unwrap_or_else(|e| panic!("hostile_strings.json: {e}"))
}

fn flagship() -> Value {
    let source = Source { name: "flagship.yaml".into(), text: FLAGSHIP.into() };
    mlopsgen::spec::load(&source).unwrap_or_else(|e| panic!("{e:?}")).value
}

/// The template with every `@@` (in keys and strings) replaced by `hostile`.
fn fill(template: &Value, hostile: &str) -> Value {
    match template {
        Value::String(s) => Value::String(s.replace(H, hostile)),
        Value::Array(items) => Value::Array(items.iter().map(|i| fill(i, hostile)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.replace(H, hostile), fill(v, hostile))).collect()),
        other => other.clone(),
    }
}

fn apply(doc: &mut Value, op: Op, pointer: &str, value: Value) {
    let (parent, last) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {pointer}"));
    let Some(target) = doc.pointer_mut(if op == Set { parent } else { pointer }) else {
        panic!("{pointer} is not in the flagship spec")
    };
    match (op, target, value) {
        (Set, Value::Object(map), value) => {
            map.insert(last.to_owned(), value);
        }
        (Set, Value::Array(items), value) => {
            let i: usize = last.parse().unwrap_or_else(|_| panic!("{pointer}: not an index"));
            items[i] = value;
        }
        (Merge, Value::Object(map), Value::Object(add)) => map.extend(add),
        (Push, Value::Array(items), value) => items.push(value),
        _ => panic!("cannot {op:?} at {pointer}"),
    }
}

fn spec_text(field: &Field, hostile: &str) -> String {
    let mut doc = flagship();
    for (op, pointer, template) in field.edits {
        let template: Value = serde_json::from_str(template).unwrap_or_else(|e| panic!("{}: {e}", field.name));
        apply(&mut doc, *op, pointer, fill(&template, hostile));
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| panic!("{e}"))
}

fn options() -> Options {
    Options { spec_file: PathBuf::from("specs/flagship.yaml"), out_override: Some(PathBuf::from("/nonexistent/out")) }
}

type Files = BTreeMap<String, String>;

fn compile_text(text: &str) -> Result<Result<Files, Error>, String> {
    let source = Source { name: "hostile.json".into(), text: text.to_owned() };
    std::panic::catch_unwind(|| compile(&source, &options()))
        .map(|r| r.map(|c| support::files(&c)))
        .map_err(|p| p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default())
}

/// What the unmodified flagship produces, and every active part in it.
struct Baseline {
    files: Files,
    active: BTreeSet<String>,
}

fn baseline() -> Baseline {
    let text = serde_json::to_string_pretty(&flagship()).unwrap_or_else(|e| panic!("{e}"));
    let files = match compile_text(&text) {
        Ok(Ok(files)) => files,
        other => panic!("the flagship does not compile: {other:?}"),
    };
    let mut active = BTreeSet::new();
    for (path, text) in &files {
        match artifacts::parse(path, text) {
            Ok(Some(p)) => active.extend(p.active),
            Ok(None) => {}
            Err(e) => panic!("baseline: {e}"),
        }
    }
    Baseline { files, active }
}

/// One case's outcome.
enum Outcome {
    Rejected(String),
    /// Nothing in the output changed: the field reaches no artifact (e.g. `project.description`).
    Unused,
    Inert { python: Files, python_needed: bool },
    Failed(String),
}

fn check_case(field: &Field, hostile: &str, base: &Baseline) -> Outcome {
    let files = match compile_text(&spec_text(field, hostile)) {
        Err(panic) => return Outcome::Failed(format!("panic: {panic}")),
        Ok(Err(Error::Invalid(d))) => {
            return match d.first() {
                Some(first) => Outcome::Rejected(first.code.as_str().to_owned()),
                None => Outcome::Failed("invalid without a diagnostic".into()),
            }
        }
        Ok(Err(e)) => return Outcome::Failed(e.to_string()),
        Ok(Ok(files)) => files,
    };
    if files == base.files {
        return Outcome::Unused;
    }
    let forms: Vec<String> = if field.re2 { vec![hostile.to_owned(), re2_escape(hostile)] } else { vec![hostile.to_owned()] };
    let mut found = Vec::new();
    let mut python = Files::new();
    // Unchanged files were checked once in the baseline; only changed ones can carry the string.
    for (path, text) in files.iter().filter(|(p, t)| base.files.get(*p) != Some(*t)) {
        match artifacts::parse(path, text) {
            Err(e) => return Outcome::Failed(e),
            Ok(None) => {
                if path.ends_with(".py") {
                    python.insert(path.clone(), text.clone());
                }
            }
            Ok(Some(p)) => {
                if let Some(new) = p.active.iter().find(|a| !base.active.contains(*a)) {
                    return Outcome::Failed(format!("{path}: new active part {new:?}"));
                }
                if forms.iter().any(|h| p.has_literal(h)) {
                    found.push(path.clone());
                }
            }
        }
    }
    for folder in field.expect {
        let arrived = found.iter().any(|p| p.starts_with(folder));
        let via_python = python.keys().any(|p| p.starts_with(folder));
        if !arrived && !via_python {
            return Outcome::Failed(format!("accepted but not a literal under {folder} (found in {found:?})"));
        }
    }
    if found.is_empty() && python.is_empty() {
        return Outcome::Failed("accepted but found in no artifact".into());
    }
    let python_needed = found.is_empty() || field.expect.iter().any(|f| f.starts_with("dags/") || f.starts_with("validation/"));
    Outcome::Inert { python, python_needed }
}

#[derive(Default)]
struct Tally {
    inert: usize,
    unused: usize,
    rejected: BTreeMap<String, usize>,
    failed: Vec<String>,
}

/// Writes the changed Python files of accepted cases (and the baseline's) for hostile_python.py.
struct PythonCases {
    dir: tempfile::TempDir,
    cases: Vec<Value>,
}

impl PythonCases {
    fn new(base: &Baseline) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (path, text) in base.files.iter().filter(|(p, _)| p.ends_with(".py")) {
            write(&dir.path().join("baseline").join(path), text);
        }
        PythonCases { dir, cases: Vec::new() }
    }

    fn add(&mut self, field: &Field, hostile: &str, python: &Files, needed: bool) {
        let id = self.cases.len();
        for (path, text) in python {
            write(&self.dir.path().join(format!("cases/{id}")).join(path), text);
        }
        let python: Vec<&String> = python.keys().collect();
        let same_shape = field.edits.iter().all(|(op, _, _)| *op == Set);
        self.cases.push(json!({"id": id, "field": field.name, "value": hostile, "files": python,
                               "require_literal": needed, "same_shape": same_shape}));
    }
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

fn python() -> Option<PathBuf> {
    let candidates = [std::env::var_os("MLOPSGEN_HOSTILE_PYTHON").map(PathBuf::from), Some(PathBuf::from("python3"))];
    candidates.into_iter().flatten().find(|p| std::process::Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[test]
fn every_field_rejects_or_carries_every_hostile_string_inertly() {
    let corpus = corpus();
    let base = baseline();
    // Every field × every string with MLOPSGEN_HOSTILE_FULL=1 (CI); by default a deterministic
    // third of the product, so each field still meets ~15 strings and each string ~28 fields.
    let stride = if std::env::var_os("MLOPSGEN_HOSTILE_FULL").is_some_and(|v| v == "1") { 1 } else { 3 };
    let cases: Vec<(usize, usize)> =
        (0..FIELDS.len()).flat_map(|f| (0..corpus.len()).map(move |h| (f, h))).filter(|(f, h)| (f + h) % stride == 0).collect();
    let outcomes: Vec<(usize, usize, Outcome)> = std::thread::scope(|scope| {
        let workers: Vec<_> = cases
            .chunks(cases.len().div_ceil(workers()).max(1))
            .map(|chunk| scope.spawn(|| chunk.iter().map(|&(f, h)| (f, h, check_case(&FIELDS[f], &corpus[h], &base))).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_else(|_| panic!("worker panicked"))).collect()
    });

    let mut tallies: Vec<Tally> = FIELDS.iter().map(|_| Tally::default()).collect();
    let mut py = PythonCases::new(&base);
    for (f, h, outcome) in outcomes {
        let tally = &mut tallies[f];
        match outcome {
            Outcome::Rejected(code) => *tally.rejected.entry(code).or_default() += 1,
            Outcome::Failed(why) => tally.failed.push(format!("{:?}: {why}", short(&corpus[h]))),
            Outcome::Unused => tally.unused += 1,
            Outcome::Inert { python, python_needed } => {
                tally.inert += 1;
                if !python.is_empty() {
                    py.add(&FIELDS[f], &corpus[h], &python, python_needed);
                }
            }
        }
    }

    println!("\n{:<40} {:>6} {:>6} {:>8}  rejected by code / failures", "field", "inert", "unused", "rejected");
    let (mut inert, mut unused, mut rejected, mut failed) = (0, 0, 0, 0);
    for (field, t) in FIELDS.iter().zip(&tallies) {
        let r: usize = t.rejected.values().sum();
        let codes: Vec<String> = t.rejected.iter().map(|(c, n)| format!("{c}×{n}")).collect();
        println!("{:<40} {:>6} {:>6} {:>8}  {}{}", field.name, t.inert, t.unused, r, codes.join(" "), if t.failed.is_empty() { String::new() } else { format!("  FAILED×{}", t.failed.len()) });
        inert += t.inert;
        unused += t.unused;
        rejected += r;
        failed += t.failed.len();
    }
    println!(
        "{} strings × {} fields, {} cases run: {inert} inert, {unused} unused (output unchanged), {rejected} rejected, {failed} failed; {} Python cases",
        corpus.len(),
        FIELDS.len(),
        cases.len(),
        py.cases.len()
    );

    let python_result = run_python_check(&py);
    let failures: Vec<String> =
        FIELDS.iter().zip(&tallies).flat_map(|(field, t)| t.failed.iter().map(move |why| format!("{}: {why}", field.name))).collect();
    assert!(failures.is_empty(), "{} case(s) neither rejected nor inert:\n{}", failures.len(), failures.join("\n"));
    if let Err(e) = python_result {
        panic!("{e}");
    }
}

fn run_python_check(py: &PythonCases) -> Result<(), String> {
    write(&py.dir.path().join("cases.json"), &serde_json::to_string(&py.cases).unwrap_or_default());
    let Some(python) = python() else {
        println!("hostile_python.py: SKIPPED (no python3; set MLOPSGEN_HOSTILE_PYTHON)");
        return Ok(());
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/checks/hostile_python.py");
    let out = std::process::Command::new(python).arg(script).arg(py.dir.path()).output().map_err(|e| e.to_string())?;
    println!("{}", String::from_utf8_lossy(&out.stdout).trim_end());
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("hostile_python.py failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}… ({} chars)", s.chars().take(30).collect::<String>(), s.chars().count())
    } else {
        s.to_owned()
    }
}
