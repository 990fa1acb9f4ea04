//! `component` steps: a KFP component file in the repository, read at build time. Its inputs
//! and outputs type the step (a wrong input name or type, a missing required input, a reference
//! to an output it lacks are positioned errors in the spec); a file kfp 2 can't load as a
//! container component is an error naming the file and the position in it; the pipeline JSON
//! wires the component like any step; and the file is an input of the build, so editing it makes
//! `build --check` fail (through the memo too).

use assert_cmd::Command;
use mlopsgen::diagnostic::Code;
use mlopsgen::{compile, Compilation, Error, Options, Source};
use serde_json::{json, Value};
use std::path::Path;

/// The flagship's component, as kfp 2.17 wrote it.
const PROFILE: &str = include_str!("../specs/components/profile/component.yaml");

const SPEC: &str = "version: 1
project: {name: demo}
environments:
  dev: {gcp_project: acme-demo-dev, region: us-central1}
terraform: {state_bucket: acme-demo-tf-state}
storage:
  buckets:
    artifacts: {}
images:
  job: {context: job, base: python:3.12-slim, entrypoint: [python, -m, job]}
datasets:
  rows: {source: gs://artifacts/rows/*.csv, format: csv, columns: {a: {type: string}}}
pipelines:
  p:
    parameters:
      cols: {type: int, default: 10}
    steps:
      check: {kind: data_validation, dataset: rows}
      profile:
        kind: component
        component: components/profile.yaml
        inputs: {data: check.dataset, max_columns: params.cols}
      report:
        kind: container
        image: job
        inputs: {rows: profile.rows, stats: profile.stats}
        args: [report, --rows, '{{inputs.rows}}', --stats, '{{inputs.stats}}']
        when: profile.rows > 0
";

/// Writes the spec and the component file into a fresh folder.
fn project(spec: &str, component: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("components")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("spec.yaml"), spec).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("components/profile.yaml"), component).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn compiled(dir: &Path) -> Result<Compilation, Error> {
    let spec_file = dir.join("spec.yaml");
    let text = std::fs::read_to_string(&spec_file).unwrap_or_default();
    compile(&Source { name: "spec.yaml".into(), text }, &Options { spec_file, out_override: None })
}

fn problems(spec: &str, component: &str) -> Vec<mlopsgen::Diagnostic> {
    let dir = project(spec, component);
    match compiled(dir.path()) {
        Err(Error::Invalid(d)) => d,
        other => panic!("expected diagnostics, got {:?}", other.map(|c| c.output.len())),
    }
}

/// 1-based line of the first line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("no `{needle}`"))
}

fn pipeline(c: &Compilation) -> Value {
    serde_json::from_str(c.output.get("pipelines/dev/p.json").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_component_runs_as_written_wired_to_its_producers_and_consumers() {
    let dir = project(SPEC, PROFILE);
    let c = compiled(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let ir = pipeline(&c);
    let file: Value = component_json(PROFILE);
    // The interface and the container are the file's (kfp's loader keeps both).
    assert_eq!(ir["components"]["comp-profile"]["inputDefinitions"], file["components"]["comp-profile"]["inputDefinitions"]);
    assert_eq!(ir["components"]["comp-profile"]["outputDefinitions"], file["components"]["comp-profile"]["outputDefinitions"]);
    assert_eq!(ir["deploymentSpec"]["executors"]["exec-profile"], file["deploymentSpec"]["executors"]["exec-profile"]);
    let tasks = &ir["root"]["dag"]["tasks"];
    // Its inputs come from the validation step's artifact and the pipeline parameter.
    assert_eq!(
        tasks["profile"]["inputs"],
        json!({
            "artifacts": {"data": {"taskOutputArtifact": {"outputArtifactKey": "dataset", "producerTask": "check"}}},
            "parameters": {"max_columns": {"componentInputParameter": "cols"}}
        })
    );
    // Its outputs feed the next step, typed as the file declares them, and gate it.
    let report = ir["components"]["comp-condition-1"]["dag"]["tasks"]["report"].clone();
    assert!(report.is_object(), "report runs in the condition's sub-DAG: {tasks}");
    let report_inputs = ir["components"]["comp-report"]["inputDefinitions"].clone();
    assert_eq!(report_inputs["parameters"]["rows"]["parameterType"], "NUMBER_INTEGER");
    assert_eq!(report_inputs["artifacts"]["stats"]["artifactType"]["schemaTitle"], "system.HTML");
    let condition = tasks["condition-1"]["triggerPolicy"]["condition"].as_str().unwrap_or_default();
    assert!(condition.contains("pipelinechannel--profile-rows"), "{condition}");
}

/// The component file as JSON (YAML 1.2 core: a kfp file is plain mappings, lists and scalars).
fn component_json(text: &str) -> Value {
    mlopsgen::spec::yaml::parse(text).unwrap_or_else(|e| panic!("{e:?}")).value
}

#[test]
fn inputs_are_checked_against_the_component_interface() {
    // An input the component doesn't have: at its key, with the name it meant.
    let spec = SPEC.replace("max_columns: params.cols", "max_colums: params.cols");
    let d = problems(&spec, PROFILE);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].code, d[0].pos.line), (Code::UnknownReference, line_of(&spec, "max_colums")));
    assert!(d[0].message.contains("no input `max_colums`") && d[0].hint.as_deref().unwrap_or_default().contains("max_columns"), "{d:?}");

    // An artifact where the component takes an integer, and a float parameter for it.
    let spec = SPEC.replace("max_columns: params.cols", "max_columns: check.dataset");
    let d = problems(&spec, PROFILE);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].code, d[0].pos.line), (Code::WrongKind, line_of(&spec, "max_columns: check.dataset")));
    assert!(d[0].message.contains("int parameter") && d[0].message.contains("system.Dataset"), "{d:?}");
    let spec = SPEC.replace("cols: {type: int, default: 10}", "cols: {type: float, default: 10.5}");
    assert_eq!(problems(&spec, PROFILE).iter().map(|d| d.code).collect::<Vec<_>>(), [Code::WrongKind]);

    // A required input left out (`max_columns` has a default, `data` doesn't).
    let spec = SPEC.replace("inputs: {data: check.dataset, max_columns: params.cols}", "inputs: {max_columns: params.cols}");
    let d = problems(&spec, PROFILE);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].pos.line, line_of(&spec, "  profile:"));
    assert!(d[0].message.contains("must set input `data`"), "{d:?}");

    // A later step reading an output the component doesn't declare.
    let spec = SPEC.replace("rows: profile.rows,", "rows: profile.row_count,");
    let d = problems(&spec, PROFILE);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].code, d[0].pos.line), (Code::UnknownReference, line_of(&spec, "profile.row_count")));
    assert!(d[0].message.contains("has no output `row_count`"), "{d:?}");
}

#[test]
fn a_generic_artifact_input_takes_any_artifact() {
    let generic = PROFILE.replace("schemaTitle: system.Dataset", "schemaTitle: system.Artifact");
    let dir = project(SPEC, &generic);
    assert!(compiled(dir.path()).is_ok());
}

/// The diagnostic for a component file, which must name the file and the position in it.
fn file_problem(component: &str) -> mlopsgen::Diagnostic {
    let d = problems(SPEC, component);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].pos.line, line_of(SPEC, "component: components/profile.yaml"), "at the step's `component`");
    d[0].clone()
}

#[test]
fn a_component_file_kfp_cant_load_is_an_error_at_its_position_in_the_file() {
    // Broken YAML.
    let broken = PROFILE.replace("    executorLabel: exec-profile", "    executorLabel: [exec-profile");
    let d = file_problem(&broken);
    assert!(d.message.contains("components/profile.yaml:") && d.message.contains("invalid YAML"), "{d:?}");
    // A container field mlopsgen can't carry: the position of that executor in the file.
    let extra = PROFILE.replace("        image: python:3.11-slim", "        image: python:3.11-slim\n        lifecycle: {}");
    let d = file_problem(&extra);
    let at = format!("components/profile.yaml:{}:", line_of(&extra, "lifecycle"));
    assert!(d.message.contains(&at) && d.message.contains("lifecycle"), "{d:?} (want {at})");
    // An artifact type nothing knows.
    let unknown = PROFILE.replace("schemaTitle: system.HTML", "schemaTitle: acme.Report");
    let d = file_problem(&unknown);
    let at = format!("components/profile.yaml:{}:", line_of(&unknown, "acme.Report"));
    assert!(d.message.contains(&at), "{d:?} (want {at})");
    // A placeholder naming an input the component lacks (kfp's loader refuses it too).
    let d = file_problem(&PROFILE.replace("inputs.parameters[''max_columns'']", "inputs.parameters[''max_cols'']"));
    assert!(d.message.contains("input `max_cols`"), "{d:?}");
    // A kfp 1 file.
    let v1 = "name: profile\ninputs:\n- {name: data, type: Dataset}\nimplementation:\n  container: {image: python:3.11-slim}\n";
    let d = file_problem(v1);
    assert!(d.message.contains("components/profile.yaml:4:") && d.message.contains("kfp 1"), "{d:?}");
    // A missing file, and a path out of the repository.
    let d = problems(&SPEC.replace("components/profile.yaml", "components/nope.yaml"), PROFILE);
    assert!(d.len() == 1 && d[0].message.contains("can't read component file `components/nope.yaml`"), "{d:?}");
    let d = problems(&SPEC.replace("components/profile.yaml", "../profile.yaml"), PROFILE);
    assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), [Code::PathEscape]);
}

#[test]
fn output_is_deterministic() {
    let dir = project(SPEC, PROFILE);
    let a = compiled(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let b = compiled(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.output.files().collect::<Vec<_>>(), b.output.files().collect::<Vec<_>>());
    assert_eq!(a.spec_sha256, b.spec_sha256);
}

fn mlopsgen(dir: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(dir).env("MLOPSGEN_CACHE_DIR", cache).env_remove("MLOPSGEN_NO_MEMO").args(args);
    cmd.output().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn editing_the_component_file_makes_build_check_fail() {
    let dir = project(SPEC, PROFILE);
    let cache = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(mlopsgen(dir.path(), cache.path(), &["build", "spec.yaml"]).status.success());
    // Twice: the second check is answered by the memo.
    for _ in 0..2 {
        let check = mlopsgen(dir.path(), cache.path(), &["build", "--check", "spec.yaml"]);
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    }
    // A change that alters the pipeline, and one that doesn't (a comment): both are drift.
    let newer = PROFILE.replace("python:3.11-slim", "python:3.12-slim");
    for edited in [newer.clone(), format!("{newer}# reviewed\n")] {
        std::fs::write(dir.path().join("components/profile.yaml"), &edited).unwrap_or_else(|e| panic!("{e}"));
        let check = mlopsgen(dir.path(), cache.path(), &["build", "--check", "spec.yaml"]);
        assert_eq!(check.status.code(), Some(1), "{}", String::from_utf8_lossy(&check.stdout));
        assert!(mlopsgen(dir.path(), cache.path(), &["build", "spec.yaml"]).status.success());
        let check = mlopsgen(dir.path(), cache.path(), &["build", "--check", "spec.yaml"]);
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    }
    let json = std::fs::read_to_string(dir.path().join("generated/pipelines/dev/p.json")).unwrap_or_default();
    assert!(json.contains("python:3.12-slim"));
}

#[test]
fn an_image_from_images_replaces_the_files_image_and_is_granted() {
    use mlopsgen::model::iam::{Member, Scope};
    use mlopsgen::model::SaRole;
    let spec = SPEC.replace("component: components/profile.yaml", "component: components/profile.yaml\n        image: job");
    let dir = project(&spec, PROFILE);
    let c = compiled(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let container = &pipeline(&c)["deploymentSpec"]["executors"]["exec-profile"]["container"];
    let file = component_json(PROFILE);
    let written = &file["deploymentSpec"]["executors"]["exec-profile"]["container"];
    // The environment's image of `job`, with the file's command and args.
    let job = c.model.environments[0].image_ref("job");
    assert_eq!(container["image"], json!(job));
    assert_eq!((&container["command"], &container["args"]), (&written["command"], &written["args"]));
    // The pipelines SA may pull it, and the IAM proof holds.
    assert!(c.model.grants.iter().any(|g| g.member == Member::Sa(SaRole::Pipelines)
        && g.scope == Scope::DockerRepo
        && g.role == "roles/artifactregistry.reader"
        && g.reasons.iter().any(|r| r.contains("step `profile`"))));
    let roles = mlopsgen::proof::roles::Roles::load().unwrap_or_else(|e| panic!("{e}"));
    assert!(mlopsgen::proof::prove(&c.model, &roles).holds());
    // An image the spec doesn't declare is an unknown reference at `image`.
    let d = problems(&spec.replace("image: job\n        inputs: {data", "image: jb\n        inputs: {data"), PROFILE);
    assert_eq!(d.iter().map(|d| (d.code, d.pos.line)).collect::<Vec<_>>(), [(Code::UnknownReference, line_of(&spec, "image: job"))]);
}
