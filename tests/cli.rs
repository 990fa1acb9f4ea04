//! CLI behaviour: every exit code, `--check` on drifted output, hand-edit refusal, orphan
//! deletion, unmanaged files left alone, colour, and byte-identical rebuilds.

use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MINIMAL: &str = include_str!("../specs/minimal.yaml");

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A temp project holding `mlops.yaml` (the minimal example, writing to `out/`).
    fn new(spec: &str) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = Project { dir };
        p.write_spec(spec);
        p
    }

    fn write_spec(&self, spec: &str) {
        let spec = spec.replace("output: ../generated/minimal", "output: out");
        std::fs::write(self.dir.path().join("mlops.yaml"), spec).unwrap_or_else(|e| panic!("{e}"));
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
        cmd.current_dir(self.dir.path())
            .env_remove("MLOPSGEN_FAULT")
            .env_remove("MLOPSGEN_NO_MEMO")
            .env("MLOPSGEN_CACHE_DIR", self.cache())
            .env("NO_COLOR", "1")
            .args(args);
        cmd
    }

    /// The memo cache of this project's commands (outside `out/`).
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The memo files in the cache.
    fn memos(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.cache()).into_iter().flatten().flatten().map(|e| e.path()).collect()
    }

    /// Every file under `out/` (relative path → bytes).
    fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        collect(&self.out(), &self.out(), &mut files);
        files
    }

    /// The first generated file other than the manifest.
    fn some_output(&self) -> PathBuf {
        let tree = self.tree();
        let rel = tree.keys().find(|k| !k.starts_with(".mlopsgen")).unwrap_or_else(|| panic!("no generated files"));
        self.out().join(rel)
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(bytes) = std::fs::read(&path) {
            let rel = path.strip_prefix(root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            files.insert(rel, bytes);
        }
    }
}

fn with_second_pipeline(spec: &str) -> String {
    format!("{spec}  extra:\n    steps:\n      only:\n        kind: container\n        image: job\n        args: [extra]\n")
}

#[test]
fn build_then_check_is_up_to_date() {
    let p = Project::new(MINIMAL);
    p.cmd(&["build"]).assert().code(0).stdout(predicate::str::contains("added"));
    assert!(p.tree().len() > 1, "the minimal spec generates files");
    p.cmd(&["build", "--check"]).assert().code(0).stdout(predicate::str::contains("up to date"));
    p.cmd(&["diff"]).assert().code(0).stdout("");
    p.cmd(&["validate"]).assert().code(0);
}

#[test]
fn a_streamed_build_writes_exactly_the_compiled_output_set() {
    let flagship = include_str!("../specs/flagship.yaml").replace("output: ../generated/flagship", "output: out");
    let p = Project::new(&flagship);
    // The flagship's `component` step reads a file next to the spec.
    let component = p.dir.path().join("components/profile/component.yaml");
    std::fs::create_dir_all(component.parent().unwrap_or(p.dir.path())).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&component, include_str!("../specs/components/profile/component.yaml")).unwrap_or_else(|e| panic!("{e}"));
    p.cmd(&["build"]).assert().code(0);
    let spec = p.dir.path().join("mlops.yaml");
    let source = mlopsgen::Source { name: spec.display().to_string(), text: flagship };
    let options = mlopsgen::Options { spec_file: spec, out_override: None };
    let compiled = mlopsgen::compile(&source, &options).unwrap_or_else(|e| panic!("{e}"));
    let expected: BTreeMap<String, Vec<u8>> = compiled.output.files().map(|(p, t)| (p.to_owned(), t.as_bytes().to_vec())).collect();
    let mut written = p.tree();
    let manifest = written.remove(".mlopsgen/manifest.json");
    assert!(manifest.is_some(), "the build writes its manifest");
    assert_eq!(written.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "nothing staged is left behind");
    assert!(written == expected, "the files on disk differ from the output set");
}

#[test]
fn a_streamed_diff_reports_what_the_in_memory_review_does() {
    // Built with a second pipeline, then diffed without it and with a changed default: files
    // removed, changed (pipelines, DAGs, Terraform) and unchanged.
    let p = Project::new(&with_second_pipeline(MINIMAL));
    p.cmd(&["build"]).assert().code(0);
    let changed = MINIMAL.replace("default: hello", "default: bonjour").replace("output: ../generated/minimal", "output: out");
    p.write_spec(&changed);
    let streamed = p.cmd(&["diff", "--format", "json"]).assert().code(1).get_output().stdout.clone();
    let spec = p.dir.path().join("mlops.yaml");
    let source = mlopsgen::Source { name: "mlops.yaml".into(), text: changed };
    let options = mlopsgen::Options { spec_file: spec, out_override: None };
    let compiled = mlopsgen::compile(&source, &options).unwrap_or_else(|e| panic!("{e}"));
    let on_disk: BTreeMap<String, String> = p
        .tree()
        .into_iter()
        .filter(|(path, _)| !path.starts_with(".mlopsgen/"))
        .map(|(path, bytes)| (path, String::from_utf8_lossy(&bytes).into_owned()))
        .collect();
    let in_memory = mlopsgen::diff::review(&compiled.model, &compiled.output, &on_disk, None).json();
    assert!(in_memory.contains("\"removed\"") && in_memory.contains("bonjour"), "{in_memory}");
    assert_eq!(String::from_utf8_lossy(&streamed), in_memory);
}

#[test]
fn check_and_diff_report_drift_with_exit_1() {
    let p = Project::new(MINIMAL);
    p.cmd(&["build"]).assert().code(0);
    p.write_spec(&MINIMAL.replace("default: hello", "default: bonjour"));
    p.cmd(&["build", "--check"]).assert().code(1).stderr(predicate::str::contains("out of date"));
    p.cmd(&["diff"]).assert().code(1).stdout(predicate::str::contains("+").and(predicate::str::contains("bonjour")));
    p.cmd(&["diff", "--stat"]).assert().code(1).stdout(predicate::str::contains("file(s) changed"));
    // A deleted generated file is drift too.
    p.write_spec(MINIMAL);
    std::fs::remove_file(p.some_output()).ok();
    p.cmd(&["build", "--check"]).assert().code(1);
}

#[test]
fn invalid_specs_and_usage_errors_exit_2() {
    let p = Project::new(&MINIMAL.replace("image: job\n        inputs", "image: jobb\n        inputs"));
    p.cmd(&["build"]).assert().code(2).stderr(predicate::str::contains("E020").and(predicate::str::contains("did you mean `job`?")));
    assert!(!p.out().exists(), "nothing is written for an invalid spec");
    p.cmd(&["build", "--bogus"]).assert().code(2);
    p.cmd(&["build", "missing.yaml"]).assert().code(2).stderr(predicate::str::contains("missing.yaml"));
    p.cmd(&["build", "--check", "--force"]).assert().code(2);
}

#[test]
fn hand_edits_are_refused_with_exit_3_and_nothing_is_written() {
    let p = Project::new(MINIMAL);
    p.cmd(&["build"]).assert().code(0);
    let edited = p.some_output();
    std::fs::write(&edited, "my hand edit\n").ok();
    p.write_spec(&MINIMAL.replace("default: hello", "default: bonjour"));
    let before = p.tree();
    // The check names the hand edit and the way out, instead of sending the user to a `build`
    // that refuses.
    p.cmd(&["build", "--check"]).assert().code(1).stderr(
        predicate::str::contains("would refuse to overwrite them")
            .and(predicate::str::contains("move the change into the spec"))
            .and(predicate::str::contains("--force"))
            .and(predicate::str::contains("to regenerate").not()),
    );
    p.cmd(&["build"]).assert().code(3).stderr(predicate::str::contains("edited by hand").and(predicate::str::contains("my hand edit")));
    assert_eq!(p.tree(), before, "a refused build writes nothing");
    p.cmd(&["build", "--force"]).assert().code(0);
    assert_ne!(std::fs::read_to_string(&edited).unwrap_or_default(), "my hand edit\n");
    p.cmd(&["build", "--check"]).assert().code(0);
}

#[test]
fn unmanaged_files_are_never_touched() {
    let p = Project::new(MINIMAL);
    p.cmd(&["build"]).assert().code(0);
    let notes = p.out().join("terraform/NOTES.md");
    std::fs::create_dir_all(notes.parent().unwrap_or(Path::new("."))).ok();
    std::fs::write(&notes, "ours").ok();
    p.cmd(&["build"]).assert().code(0);
    p.cmd(&["build", "--check"]).assert().code(0);
    assert_eq!(std::fs::read_to_string(&notes).unwrap_or_default(), "ours");
    // An unmanaged file where mlopsgen wants to write is a conflict, not an overwrite.
    let in_the_way = p.some_output();
    let rel = in_the_way.strip_prefix(p.out()).map(Path::to_path_buf).unwrap_or_default();
    let manifest = p.out().join(".mlopsgen/manifest.json");
    std::fs::remove_file(&manifest).ok();
    std::fs::write(&in_the_way, "someone else's file\n").ok();
    p.cmd(&["build"]).assert().code(3).stderr(predicate::str::contains(rel.to_string_lossy().as_ref()).and(predicate::str::contains("not written by mlopsgen")));
    assert_eq!(std::fs::read_to_string(&in_the_way).unwrap_or_default(), "someone else's file\n");
}

#[test]
fn orphans_are_deleted_only_when_unmodified() {
    let p = Project::new(&with_second_pipeline(MINIMAL));
    p.cmd(&["build"]).assert().code(0);
    let extra: Vec<String> = p.tree().into_keys().filter(|k| k.contains("extra")).collect();
    assert!(!extra.is_empty(), "the extra pipeline generates files");
    p.write_spec(MINIMAL);
    p.cmd(&["build"]).assert().code(0).stdout(predicate::str::contains(format!("{} removed", extra.len())));
    assert!(p.tree().keys().all(|k| !k.contains("extra")));

    p.write_spec(&with_second_pipeline(MINIMAL));
    p.cmd(&["build"]).assert().code(0);
    let kept = p.out().join(&extra[0]);
    std::fs::write(&kept, "edited orphan\n").ok();
    p.write_spec(MINIMAL);
    p.cmd(&["build"]).assert().code(0).stderr(predicate::str::contains("kept"));
    assert_eq!(std::fs::read_to_string(&kept).unwrap_or_default(), "edited orphan\n");
    p.cmd(&["build", "--check"]).assert().code(0);
}

/// Terraform is reviewed whole; the files of an environment the spec drops turn up only after
/// every target ran, as orphans. `diff` and `build` still report them (the backend move first,
/// as destructive) with the changes to the files that stay.
#[test]
fn a_dropped_environments_terraform_files_are_reviewed_with_the_rest() {
    let dev = "  dev: {gcp_project: acme-demo-dev, region: us-central1}\n";
    assert!(MINIMAL.contains(dev), "the minimal spec's environment moved");
    let p = Project::new(&MINIMAL.replace(dev, &format!("{dev}  prod: {{gcp_project: acme-demo-prod, region: us-central1}}\n")));
    p.cmd(&["build"]).assert().code(0);
    assert!(p.tree().contains_key("terraform/env/prod.backend.hcl"));
    p.write_spec(MINIMAL);
    let expected = |stdout: &str| {
        let destructive = stdout.find("DESTRUCTIVE").unwrap_or(usize::MAX);
        let backend = stdout.find("env/prod.backend.hcl").unwrap_or(usize::MAX);
        destructive < backend
            && stdout.contains("env/prod.tfvars")
            && stdout.contains("google_artifact_registry_repository.docker")
            && stdout.contains("pipeline hello (prod)")
    };
    for args in [&["diff"][..], &["build"][..]] {
        let out = p.cmd(args).output().unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(expected(&stdout), "`{}` left out changes:\n{stdout}", args[0]);
    }
    assert!(!p.tree().contains_key("terraform/env/prod.backend.hcl"));
}

/// A resource that an earlier build wrote into a file mlopsgen no longer generates (an orphan)
/// and that now lives in another file is neither added nor removed: the orphan, which turns up
/// after every target ran, is reviewed with the rest of Terraform, not on its own (where the
/// bucket would read as destroyed).
#[test]
fn a_resource_moved_out_of_an_orphaned_file_is_not_reported_destroyed() {
    let p = Project::new(MINIMAL);
    p.cmd(&["build"]).assert().code(0);
    let storage = std::fs::read_to_string(p.out().join("terraform/storage.tf")).unwrap_or_default();
    let start = storage.find("# storage.buckets.artifacts\n").unwrap_or_else(|| panic!("no artifacts bucket in storage.tf"));
    let end = start + storage[start..].find("\n}\n").unwrap_or_else(|| panic!("unterminated block")) + 3;
    let (moved, rest) = (storage[start..end].to_owned(), format!("{}{}", &storage[..start], &storage[end..]));
    // As an earlier build would have left them: the bucket in `legacy.tf`, both files in the manifest.
    std::fs::write(p.out().join("terraform/storage.tf"), &rest).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.out().join("terraform/legacy.tf"), &moved).unwrap_or_else(|e| panic!("{e}"));
    let manifest_path = p.out().join(".mlopsgen/manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    manifest["files"]["terraform/storage.tf"] = mlopsgen::output::manifest::sha256_hex(rest.as_bytes()).into();
    manifest["files"]["terraform/legacy.tf"] = mlopsgen::output::manifest::sha256_hex(moved.as_bytes()).into();
    std::fs::write(&manifest_path, manifest.to_string()).unwrap_or_else(|e| panic!("{e}"));
    for args in [&["diff"][..], &["build"][..]] {
        let out = p.cmd(args).output().unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("legacy.tf") || args[0] == "build", "`diff` does not show the orphan:\n{stdout}");
        assert!(!stdout.contains("google_storage_bucket.artifacts") && !stdout.contains("DESTRUCTIVE"), "`{}`:\n{stdout}", args[0]);
    }
    assert!(!p.out().join("terraform/legacy.tf").exists(), "the orphan stays");
    p.cmd(&["build", "--check"]).assert().code(0);
}

#[test]
fn rebuilds_are_byte_identical_and_key_order_does_not_matter() {
    let a = Project::new(MINIMAL);
    let b = Project::new(&reorder_keys(MINIMAL));
    a.cmd(&["build"]).assert().code(0);
    let first = a.tree();
    std::fs::remove_dir_all(a.out()).ok();
    a.cmd(&["build"]).assert().code(0);
    assert_eq!(a.tree(), first, "two builds of one spec differ");
    b.cmd(&["build"]).assert().code(0);
    let strip = |t: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        t.into_iter().filter(|(k, _)| !k.ends_with("manifest.json")).collect()
    };
    assert_eq!(strip(b.tree()), strip(first), "reordering spec keys changed the output");
}

/// Re-emits a YAML spec as JSON (still YAML) with every mapping's keys reversed, except the
/// environments, whose order is the promotion order.
fn reorder_keys(spec: &str) -> String {
    let value: serde_json::Value = serde_yaml::from_str(spec).unwrap_or_default();
    fn reverse(v: serde_json::Value, key: &str) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) if key != "environments" => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.reverse();
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| { let v = reverse(v, &k); (k, v) }).collect())
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(|i| reverse(i, "")).collect()),
            other => other,
        }
    }
    serde_json::to_string_pretty(&reverse(value, "")).unwrap_or_default().replace("../generated/minimal", "out")
}

/// A failing compile (forced with `MLOPSGEN_FAULT=internal`) shows whether `--check` compiled.
#[test]
fn check_memo_skips_the_compile_only_while_nothing_changed() {
    let p = Project::new(MINIMAL);
    let check_without_compiling = |p: &Project| p.cmd(&["build", "--check"]).env("MLOPSGEN_FAULT", "internal").assert();
    p.cmd(&["build"]).assert().code(0);
    assert_eq!(p.memos().len(), 1, "a build records its memo");
    check_without_compiling(&p).code(0).stdout(predicate::str::contains("up to date"));
    p.cmd(&["build", "--check"]).env("MLOPSGEN_FAULT", "internal").env("MLOPSGEN_NO_MEMO", "1").assert().code(101);

    // A hand edit or a spec edit is never hidden by the memo: the check compiles again.
    let file = p.some_output();
    let original = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&file, [original.as_slice(), b"# edit\n"].concat()).unwrap_or_else(|e| panic!("{e}"));
    check_without_compiling(&p).code(101);
    p.cmd(&["build", "--check"]).assert().code(1).stderr(predicate::str::contains("out of date"));
    std::fs::write(&file, &original).unwrap_or_else(|e| panic!("{e}"));
    check_without_compiling(&p).code(0);
    p.write_spec(&format!("{MINIMAL}# a comment changes the spec's hash\n"));
    check_without_compiling(&p).code(101);

    // A memo from another generator is ignored.
    p.write_spec(MINIMAL);
    let memo = &p.memos()[0];
    let text = std::fs::read_to_string(memo).unwrap_or_else(|e| panic!("{e}"));
    let forged = text.replace(mlopsgen::output::memo::GENERATOR, "0.0.0+0000000000000000");
    assert_ne!(forged, text);
    std::fs::write(memo, forged).unwrap_or_else(|e| panic!("{e}"));
    check_without_compiling(&p).code(101);
    p.cmd(&["build", "--check"]).assert().code(0);
    check_without_compiling(&p).code(0);
}

#[test]
fn internal_errors_exit_101() {
    let p = Project::new(MINIMAL);
    p.cmd(&["build"]).env("MLOPSGEN_FAULT", "internal").assert().code(101).stderr(predicate::str::contains("bug"));
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let p = Project::new(MINIMAL);
    p.cmd(&["diff"]).assert().code(1).stdout(predicate::str::contains("\u{1b}[").not());
    p.cmd(&["diff", "--color", "always"]).assert().code(1).stdout(predicate::str::contains("\u{1b}[32m"));
}

#[test]
fn init_writes_a_valid_spec_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(dir.path()).arg("init").assert().code(0);
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(dir.path()).arg("validate").assert().code(0);
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(dir.path()).arg("init").assert().code(2);
}

#[test]
fn schema_prints_the_json_schema() {
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.arg("schema").assert().code(0).stdout(predicate::str::contains("\"$schema\""));
}

/// The README's commands table lists every subcommand `--help` offers.
#[test]
fn every_subcommand_in_help_is_in_the_readme() {
    let help = Command::cargo_bin("mlopsgen").map(|mut c| c.arg("--help").output()).ok().and_then(Result::ok).map(|o| o.stdout);
    let help = String::from_utf8_lossy(&help.unwrap_or_default()).into_owned();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap_or_default();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 6, "no commands found in --help:\n{help}");
    for c in commands {
        assert!(readme.contains(&format!("| `mlopsgen {c}")), "README's commands table lacks `mlopsgen {c}`");
    }
}
