//! `overrides.cloudbuild` and `overrides.pipelines`: a JSON Pointer sets or removes a value of a
//! generated Cloud Build config or compiled pipeline (read back by parsing the emitted file), the
//! strings stay literal, a pointer that no longer resolves is an E020 at its key, the result is
//! deterministic, per environment where the file is, and survives `build --check` and `diff`.

use assert_cmd::Command;
use mlopsgen::{compile, Error, Options, Source};
use serde_json::Value;

/// Two environments, a pipeline and CI (`tests/fixtures/ci_pipeline.yaml`).
const BASE: &str = include_str!("fixtures/ci_pipeline.yaml");

fn compiled(extra: &str) -> Result<mlopsgen::Compilation, Error> {
    let source = Source { name: "spec.yaml".into(), text: format!("{BASE}{extra}") };
    compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None })
}

fn yaml(c: &mlopsgen::Compilation, path: &str) -> serde_yaml::Value {
    serde_yaml::from_str(c.output.get(path).unwrap_or_default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(c: &mlopsgen::Compilation, path: &str) -> Value {
    serde_json::from_str(c.output.get(path).unwrap_or_default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn step<'a>(build: &'a serde_yaml::Value, id: &str) -> &'a serde_yaml::Value {
    let steps = build["steps"].as_sequence().unwrap_or_else(|| panic!("no steps"));
    steps.iter().find(|s| s["id"].as_str() == Some(id)).unwrap_or_else(|| panic!("no step {id}"))
}

const OVERRIDES: &str = r#"overrides:
  cloudbuild:
    cd:
      /options/machineType: E2_HIGHCPU_32
      /steps/build-job/timeout: 1800s
      /tags/-: "cost-$center"
  pipelines:
    hello:
      /root/dag/tasks/report/retryPolicy: {maxRetryCount: 2, backoffDuration: 60s}
      /root/dag/tasks/prepare/cachingOptions: null
"#;

#[test]
fn pointers_set_add_append_and_remove_in_the_emitted_files() {
    let plain = compiled("").unwrap_or_else(|e| panic!("{e}"));
    let c = compiled(OVERRIDES).unwrap_or_else(|e| panic!("{e}"));
    let cd = yaml(&c, "cloudbuild/cd.yaml");
    assert_eq!(cd["options"]["machineType"].as_str(), Some("E2_HIGHCPU_32"));
    assert_eq!(step(&cd, "build-job")["timeout"].as_str(), Some("1800s"));
    // The step next to it keeps what the generator gave it.
    let before = yaml(&plain, "cloudbuild/cd.yaml");
    assert_eq!(step(&cd, "push-job"), step(&before, "push-job"));
    // A spec string is literal in Cloud Build: `$` is escaped, so no substitution is made and
    // no undeclared one is referenced (Cloud Build reads `$$` as `$`).
    let tags = cd["tags"].as_sequence().cloned().unwrap_or_default();
    assert_eq!(tags.last().and_then(|t| t.as_str()), Some("cost-$$center"));
    // Only the addressed config changes.
    assert_eq!(c.output.get("cloudbuild/pr.yaml"), plain.output.get("cloudbuild/pr.yaml"));
    for env in ["dev", "prod"] {
        let p = json(&c, &format!("pipelines/{env}/hello.json"));
        let tasks = &p["root"]["dag"]["tasks"];
        assert_eq!(tasks["report"]["retryPolicy"]["maxRetryCount"], 2, "{env}");
        assert_eq!(tasks["report"]["retryPolicy"]["backoffDuration"], "60s", "{env}");
        assert!(tasks["prepare"].get("cachingOptions").is_none(), "{env}");
        // Everything else is the generator's.
        let mut back = p.clone();
        back["root"]["dag"]["tasks"]["report"].as_object_mut().map(|o| o.remove("retryPolicy"));
        let original = json(&plain, &format!("pipelines/{env}/hello.json"));
        back["root"]["dag"]["tasks"]["prepare"]["cachingOptions"] = original["root"]["dag"]["tasks"]["prepare"]["cachingOptions"].clone();
        assert_eq!(back, original, "{env}");
    }
    // Deterministic: the same spec gives the same bytes.
    let again = compiled(OVERRIDES).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.output.get("cloudbuild/cd.yaml"), c.output.get("cloudbuild/cd.yaml"));
    assert_eq!(again.output.get("pipelines/dev/hello.json"), c.output.get("pipelines/dev/hello.json"));
}

#[test]
fn removing_the_only_use_of_a_substitution_removes_its_declaration() {
    let plain = compiled("").unwrap_or_else(|e| panic!("{e}"));
    let before = yaml(&plain, "cloudbuild/cd.yaml");
    let Some(subs) = before["substitutions"].as_mapping() else { panic!("cd.yaml declares no substitutions") };
    assert!(subs.keys().any(|k| k.as_str() == Some("_ENV")), "{subs:?}");
    // Drop every step: nothing references a substitution any more, so none is declared (the
    // file declares exactly what it uses, overridden or not).
    let c = compiled("overrides:\n  cloudbuild:\n    cd:\n      /steps: [{name: busybox, args: [\"true\"]}]\n      /images: null\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let cd = yaml(&c, "cloudbuild/cd.yaml");
    let live = cd["substitutions"].as_mapping().map_or(0, |m| m.len());
    assert_eq!(live, 0, "{}", c.output.get("cloudbuild/cd.yaml").unwrap_or_default());
}

#[test]
fn a_pointer_that_no_longer_resolves_is_an_e020_at_its_key() {
    let line = BASE.lines().count() + 4;
    for (extra, col) in [
        ("overrides:\n  cloudbuild:\n    cd:\n      /steps/build-jobs/timeout: 1s\n", 7),
        ("overrides:\n  cloudbuild:\n    cd:\n      /optionz/machineType: x\n", 7),
        ("overrides:\n  pipelines:\n    hello:\n      /root/dag/tasks/train/retryPolicy: {maxRetryCount: 1}\n", 7),
        ("overrides:\n  pipelines:\n    hello:\n      /root/dag/tasks/report/nothing: null\n", 7),
        // Fields Cloud Build names are plain; a key the YAML writer would have to quote is refused.
        ("overrides:\n  cloudbuild:\n    cd:\n      /options/machine type: x\n", 7),
        ("overrides:\n  cloudbuild:\n    cd:\n      /substitutions/_X: y\n", 7),
    ] {
        let Err(Error::Invalid(d)) = compiled(extra) else { panic!("expected a diagnostic for {extra}") };
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E020", line, col), "{extra}: {d:?}");
    }
    // A file that is not generated is reported at its own key.
    let Err(Error::Invalid(d)) = compiled("overrides:\n  cloudbuild:\n    deploy:\n      /timeout: 1s\n") else { panic!("expected a diagnostic") };
    assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E020", line - 1, 5), "{d:?}");
    assert!(d[0].message.contains("pr, cd, release"), "{}", d[0].message);
}

#[test]
fn an_environment_overrides_its_own_pipeline_file_only() {
    let spec = BASE.replace(
        "  dev: {gcp_project: acme-demo-dev, region: us-central1}\n",
        "  dev:\n    gcp_project: acme-demo-dev\n    region: us-central1\n    overrides:\n      overrides:\n        pipelines:\n          hello:\n            /root/dag/tasks/report/retryPolicy: {maxRetryCount: 5}\n",
    );
    let source = Source { name: "spec.yaml".into(), text: spec.clone() };
    let c = compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None }).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json(&c, "pipelines/dev/hello.json")["root"]["dag"]["tasks"]["report"]["retryPolicy"]["maxRetryCount"], 5);
    assert!(json(&c, "pipelines/prod/hello.json")["root"]["dag"]["tasks"]["report"].get("retryPolicy").is_none());
    // Stale in that environment: reported inside its overrides.
    let stale = spec.replace("tasks/report/retryPolicy", "tasks/reprt/retryPolicy");
    let source = Source { name: "spec.yaml".into(), text: stale };
    let Err(Error::Invalid(d)) = compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None }) else {
        panic!("expected a diagnostic")
    };
    assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E020", 12, 13), "{d:?}");
}

#[test]
fn overridden_files_are_owned_output_shown_by_diff_and_survive_build_check() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = dir.path().join("mlops.yaml");
    std::fs::write(&spec, BASE).unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str]| Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}")).args(args).arg(&spec).assert();
    run(&["build"]).success();
    std::fs::write(&spec, format!("{BASE}{OVERRIDES}")).unwrap_or_else(|e| panic!("{e}"));
    // `diff` shows the overridden values before they are written.
    let shown = run(&["diff"]).get_output().stdout.clone();
    let shown = String::from_utf8_lossy(&shown);
    assert!(shown.contains("E2_HIGHCPU_32") && shown.contains("maxRetryCount"), "{shown}");
    run(&["build"]).success();
    run(&["build", "--check"]).success();
    let written = std::fs::read_to_string(dir.path().join("generated/cloudbuild/cd.yaml")).unwrap_or_default();
    assert!(written.contains("machineType: E2_HIGHCPU_32"), "{written}");
    // A hand edit of an overridden value is a hand edit like any other.
    let edited = written.replace("E2_HIGHCPU_32", "E2_HIGHCPU_8");
    std::fs::write(dir.path().join("generated/cloudbuild/cd.yaml"), edited).unwrap_or_else(|e| panic!("{e}"));
    run(&["build", "--check"]).failure();
}

/// An environment whose overrides alone schedule a pipeline on Composer gets its DAGs: the release
/// into it syncs them into its Composer bucket (the step is skipped where there are none), as the
/// IAM proof already assumed. Before, the configs were made from the spec without overrides, so
/// prod's DAG was generated and its Composer created but the DAG never reached it. An override
/// of that step is checked against the configs the target writes, and applies.
#[test]
fn dags_only_an_environments_overrides_schedule_are_synced_and_overridable() {
    let prod = "  prod: {gcp_project: acme-demo-prod, region: us-central1}\n";
    assert!(BASE.contains(prod));
    let with_composer = "  prod:\n    gcp_project: acme-demo-prod\n    region: us-central1\n    overrides:\n      orchestration: {composer: {image_version: composer-3-airflow-2.10.5}}\n      pipelines: {hello: {schedule: {cron: \"0 3 * * *\", orchestrator: composer}}}\n";
    let text = format!("{}overrides:\n  cloudbuild:\n    release:\n      /steps/sync-dags/timeout: 900s\n", BASE.replacen(prod, with_composer, 1));
    let source = Source { name: "spec.yaml".into(), text };
    let c = compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None });
    let c = c.unwrap_or_else(|e| match e {
        Error::Invalid(d) => panic!("{}", mlopsgen::diagnostic::render(&source, &d, false)),
        e => panic!("{e}"),
    });
    let release = yaml(&c, "cloudbuild/release.yaml");
    let sync = step(&release, "sync-dags");
    assert_eq!(sync["timeout"].as_str(), Some("900s"));
    let args: Vec<&str> = sync["args"].as_sequence().into_iter().flatten().filter_map(|a| a.as_str()).collect();
    assert!(args.iter().any(|a| a.contains("gcloud storage rsync")) && args.contains(&"${_NEXT_COMPOSER_DAG_FOLDER}"), "{args:?}");
    assert!(args.contains(&"only-in"), "the sync must be skipped where there are no DAGs: {args:?}");
    assert!(c.output.get("dags/prod/hello.py").is_some(), "prod's DAG is generated");
    // The pull request compiles it: the DAG folders of the environments that have DAGs.
    let pr = yaml(&c, "cloudbuild/pr.yaml");
    let compiled: Vec<&str> = step(&pr, "dag-syntax")["args"].as_sequence().into_iter().flatten().filter_map(|a| a.as_str()).collect();
    let dirs: Vec<&&str> = compiled.iter().filter(|a| a.contains("dags/")).collect();
    assert!(dirs.len() == 1 && dirs[0].ends_with("/dags/prod"), "{compiled:?}");
}
