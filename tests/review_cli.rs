//! The CLI side of reviewing: `mlopsgen diff --base REF` against the output committed in a
//! temporary git repository (exit codes 0 / 1 / 2), and `build --fail-on-change` for hooks.

use assert_cmd::Command;
use std::path::Path;

const MINIMAL: &str = include_str!("../specs/minimal.yaml");
const NEW_DEFAULT: (&str, &str) = ("default: hello", "default: bonjour");

/// `text` with `from` replaced by `to` (which must occur).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the spec has no {from:?}");
    text.replacen(from, to, 1)
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("git: {e}"));
    assert!(status.success(), "git {args:?} failed");
}

fn mlopsgen(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(dir).env_remove("MLOPSGEN_FAULT").env("NO_COLOR", "1").args(args);
    cmd
}

fn json_of(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).unwrap_or_else(|e| panic!("not JSON: {e}"))
}

#[test]
fn diff_base_compares_with_the_committed_output() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let spec = MINIMAL.replace("output: ../generated/minimal", "output: generated");
    std::fs::write(dir.join("mlops.yaml"), &spec).unwrap_or_else(|e| panic!("{e}"));
    git(dir, &["init", "-q", "-b", "main"]);
    mlopsgen(dir, &["build"]).assert().code(0);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "generated"]);

    let same = mlopsgen(dir, &["diff", "--base", "HEAD", "--format", "json"]).assert().code(0);
    let doc = json_of(&same.get_output().stdout);
    assert_eq!((doc["base"].as_str(), doc["summary"]["changes"].as_u64()), (Some("HEAD"), Some(0)));

    // The author edits the spec and forgets to regenerate: --base still sees the change.
    std::fs::write(dir.join("mlops.yaml"), edit(&spec, NEW_DEFAULT.0, NEW_DEFAULT.1)).unwrap_or_else(|e| panic!("{e}"));
    let changed = mlopsgen(dir, &["diff", "--base", "HEAD", "--format", "json"]).assert().code(1);
    let doc = json_of(&changed.get_output().stdout);
    assert_eq!(doc["spec"], "mlops.yaml");
    assert_eq!(doc["output_dir"], "generated");
    assert_eq!(doc["files"], serde_json::json!([{"path": "pipelines/dev/hello.json", "status": "changed", "target": "kubeflow"}]));
    assert_eq!(doc["changes"][0]["subject"], "hello (dev) / parameter greeting");
    assert_eq!(doc["changes"][0]["details"][0], serde_json::json!({"path": "defaultValue", "old": "hello", "new": "bonjour"}));

    // Regenerated but not committed: the disk is current, the commit is not.
    mlopsgen(dir, &["build"]).assert().code(0);
    mlopsgen(dir, &["diff"]).assert().code(0);
    mlopsgen(dir, &["diff", "--base", "HEAD", "--format", "markdown"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("`hello (dev) / parameter greeting`"));

    mlopsgen(dir, &["diff", "--base", "no-such-ref"]).assert().code(2).stderr(predicates::str::contains("`no-such-ref` is not a commit in this repository"));
}

#[test]
fn build_fail_on_change_exits_1_only_when_it_wrote() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = MINIMAL.replace("output: ../generated/minimal", "output: generated");
    std::fs::write(tmp.path().join("mlops.yaml"), &spec).unwrap_or_else(|e| panic!("{e}"));
    mlopsgen(tmp.path(), &["build", "--fail-on-change"]).assert().code(1).stderr(predicates::str::contains("stage the regenerated files"));
    mlopsgen(tmp.path(), &["build", "--fail-on-change"]).assert().code(0);
    // A comment-only spec edit rewrites only the manifest (it records the spec's hash): still a change.
    std::fs::write(tmp.path().join("mlops.yaml"), format!("{spec}# a comment\n")).unwrap_or_else(|e| panic!("{e}"));
    mlopsgen(tmp.path(), &["build", "--fail-on-change"]).assert().code(1);
    mlopsgen(tmp.path(), &["build", "--fail-on-change"]).assert().code(0);
}

#[test]
fn diff_base_outside_a_repository_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = MINIMAL.replace("output: ../generated/minimal", "output: generated");
    std::fs::write(tmp.path().join("mlops.yaml"), spec).unwrap_or_else(|e| panic!("{e}"));
    mlopsgen(tmp.path(), &["diff", "--base", "HEAD"]).env("GIT_CEILING_DIRECTORIES", tmp.path().parent().unwrap_or(tmp.path())).assert().code(2);
}
