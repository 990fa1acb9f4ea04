//! The committed flagship `cd.yaml`'s function deploy script, run with bash against a stand-in
//! `gcloud` that answers `functions describe` the three ways the API can, in the words gcloud
//! 578 prints them (`api_lib/functions/v1/util.py` `GetHttpErrorMessage`): the function exists,
//! it does not (404), or the build may not look (403, "or resource may not exist"). Only the
//! second may pass without deploying; a permission error must fail the build. And the identities
//! that deploy a function may look it up and follow the deploy's operation before Terraform has
//! created it, when no binding on the function exists yet.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `gcloud` that logs its arguments and answers `functions describe` as `$DESCRIBE` says.
const FAKE_GCLOUD: &str = r#"#!/bin/sh
echo "$*" >> "$GCLOUD_LOG"
case "$1 $2" in
  "functions describe")
    case "$DESCRIBE" in
      exists) echo "projects/p/locations/r/functions/f" ;;
      missing) echo "ERROR: (gcloud.functions.describe) ResponseError: status=[404], code=[Not Found], message=[Resource 'projects/p/locations/r/functions/f' was not found]" >&2; exit 1 ;;
      denied) echo "ERROR: (gcloud.functions.describe) ResponseError: status=[403], code=[Forbidden], message=[Permission 'cloudfunctions.functions.get' denied on 'projects/p/locations/r/functions/f' (or resource may not exist).]" >&2; exit 1 ;;
    esac ;;
esac
exit 0
"#;

fn deploy_step() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/flagship/cloudbuild/cd.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let build = serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"));
    let steps = build["steps"].as_array().cloned().unwrap_or_default();
    steps.into_iter().find(|s| s["id"].as_str().is_some_and(|id| id.starts_with("deploy-function-"))).unwrap_or_else(|| panic!("no deploy-function step"))
}

/// Runs the step's script as Cloud Build would (`$$` → `$`; substitutions get placeholder values);
/// returns whether it succeeded and the `gcloud` calls it made.
fn run(step: &Value, describe: &str, dir: &Path) -> (bool, String) {
    run_with(step, describe, dir, &[])
}

/// [`run`] with some of the step's environment replaced.
fn run_with(step: &Value, describe: &str, dir: &Path, replaced: &[(&str, &str)]) -> (bool, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let gcloud = bin.join("gcloud");
    std::fs::write(&gcloud, FAKE_GCLOUD).unwrap_or_else(|e| panic!("{e}"));
    let _ = Command::new("chmod").arg("+x").arg(&gcloud).status();
    let log = dir.join(format!("{describe}.log"));
    let args: Vec<String> = step["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).map(|a| a.replace("$$", "$")).collect();
    let mut command = Command::new("bash");
    command.args(&args).env_clear().env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    command.env("GCLOUD_LOG", &log).env("DESCRIBE", describe);
    for entry in step["env"].as_array().into_iter().flatten().filter_map(|e| e.as_str()) {
        let (key, value) = entry.split_once('=').unwrap_or_else(|| panic!("{entry}"));
        let value = replaced.iter().find(|(k, _)| *k == key).map_or(value, |(_, v)| *v);
        command.env(key, if value.contains("${") { "placeholder" } else { value });
    }
    let ok = command.status().unwrap_or_else(|e| panic!("{e}")).success();
    (ok, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn deploy_function_fails_on_errors_and_waits_only_for_a_missing_function() {
    let step = deploy_step();
    assert_eq!(step["entrypoint"], "bash");
    let dir: PathBuf = std::env::temp_dir().join(format!("mlopsgen-deploy-function-{}", std::process::id()));
    let deploys = |log: &str| log.lines().any(|l| l.starts_with("functions deploy"));

    let (ok, log) = run(&step, "exists", &dir);
    assert!(ok && deploys(&log), "an existing function is redeployed: {log}");
    let (ok, log) = run(&step, "missing", &dir);
    assert!(ok && !deploys(&log) && log.starts_with("functions describe"), "a missing function is left to the apply: {log}");
    let (ok, log) = run(&step, "denied", &dir);
    assert!(!ok && !deploys(&log), "permission denied must fail the build: {log}");

    // The new revision gets exactly the spec's secret environment variables (gcloud would
    // otherwise keep the previous revision's): each one, or none at all (`--clear-secrets`).
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    let source = mlopsgen::Source { name: "specs/flagship.yaml".into(), text: std::fs::read_to_string(&spec).unwrap_or_default() };
    let c = mlopsgen::compile(&source, &mlopsgen::Options { spec_file: spec, out_override: None }).unwrap_or_else(|e| panic!("{e}"));
    let function = c.model.functions.iter().find(|f| step["id"] == format!("deploy-function-{}", f.key)).unwrap_or_else(|| panic!("no function"));
    let listed: Vec<String> = function.access.secret_env.iter().map(|(k, v)| format!("{k}={}:{}", v.secret, v.version)).collect();
    assert!(!listed.is_empty(), "the flagship's function takes no secret any more");
    let deploy_line = |log: &str| log.lines().rev().find(|l| l.starts_with("functions deploy")).unwrap_or_default().to_owned();
    let (ok, log) = run(&step, "exists", &dir);
    assert!(ok && deploy_line(&log).ends_with(&format!(" --set-secrets={}", listed.join(","))), "{log}");
    let (ok, log) = run_with(&step, "exists", &dir, &[("SECRETS", "")]);
    assert!(ok && deploy_line(&log).ends_with(" --clear-secrets"), "a function without secrets keeps none: {log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first CD (or release) into an environment runs before the apply that creates its function
/// (bootstrap.sh applies with `create_functions=false`), so no binding on the function exists yet:
/// the deploying identities must still be able to look it up (else the API answers 403, not 404)
/// and, on later deploys, follow the deploy's operation, which is not under the function.
#[test]
fn the_function_lookups_hold_before_the_function_exists() {
    use mlopsgen::model::actions::{self, Act};
    use mlopsgen::model::iam::{Scope, FUNCTION_DEPLOYER};
    use mlopsgen::proof::{check, roles::Roles, Problem};
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    let source = mlopsgen::Source { name: "specs/flagship.yaml".into(), text: std::fs::read_to_string(&spec).unwrap_or_default() };
    let c = mlopsgen::compile(&source, &mlopsgen::Options { spec_file: spec, out_override: None }).unwrap_or_else(|e| panic!("{e}"));
    let roles = Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let lookups: Vec<_> =
        actions::derive(&c.model).into_iter().filter(|a| matches!(a.act, Act::FindFunction | Act::FollowFunctionDeploy)).collect();
    let members: std::collections::BTreeSet<_> = lookups.iter().map(|a| a.member).collect();
    assert!(lookups.len() >= 4 && members.len() >= 2, "the CI and promote identities both deploy the function: {lookups:?}");
    let missing = |grants: Vec<_>| -> Vec<Problem> {
        check(lookups.clone(), grants, &roles).problems.into_iter().filter(|p| matches!(p, Problem::Missing { .. })).collect()
    };
    let before_the_function: Vec<_> = c.model.grants.iter().filter(|g| !matches!(g.scope, Scope::Function(_))).cloned().collect();
    assert_eq!(missing(before_the_function.clone()), Vec::new());
    // The role alone covers them, whatever else an identity happens to hold (the flagship's CI SA
    // reads the project through `cloudbuild.builds.viewer` too; a promoter may hold nothing else).
    let the_role_alone: Vec<_> = before_the_function.iter().filter(|g| g.role == FUNCTION_DEPLOYER.id).cloned().collect();
    assert_eq!(missing(the_role_alone), Vec::new());
    let needed: Vec<&str> = lookups.iter().flat_map(|a| mlopsgen::proof::table::needs(a.act).permissions.iter().copied()).collect();
    assert!(needed.contains(&"resourcemanager.projects.get"), "gcloud functions deploy reads the project's number: {needed:?}");
    let without_the_role: Vec<_> = before_the_function.into_iter().filter(|g| g.role != FUNCTION_DEPLOYER.id).collect();
    let gaps = missing(without_the_role);
    for permission in ["cloudfunctions.functions.get", "cloudfunctions.operations.get"] {
        assert!(gaps.iter().any(|p| matches!(p, Problem::Missing { permission: q, .. } if *q == permission)), "{permission}: {gaps:?}");
    }
    // And Terraform makes those bindings whether or not it creates the functions yet.
    let iam = c.output.get("terraform/iam.tf").unwrap_or_else(|| panic!("no iam.tf"));
    let bindings: Vec<&str> = iam.split("\nresource ").filter(|b| b.contains(FUNCTION_DEPLOYER.id)).collect();
    assert!(bindings.len() >= 3, "the role and a binding per deploying identity: {bindings:?}");
    assert!(bindings.iter().all(|b| !b.contains("create_functions")), "{bindings:?}");
}
