//! Each environment's Terraform state lives in a bucket of its own project: the committed
//! `bootstrap.sh` is run for every environment against a stand-in `gcloud` that logs its calls,
//! and the bucket it creates (in that environment's project, versioned, uniform access, public
//! access prevented) is the one the environment's `env/<env>.backend.hcl` points Terraform at.
//! No two environments share a bucket, and no bucket is created in another environment's project.
//! (gcs backend: <https://developer.hashicorp.com/terraform/language/backend/gcs>; flags:
//! <https://cloud.google.com/sdk/gcloud/reference/storage/buckets/create>.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `gcloud` that logs its arguments; `buckets describe` answers "not found" so the script creates.
const FAKE_GCLOUD: &str = "#!/bin/sh
echo \"$*\" >> \"$GCLOUD_LOG\"
case \"$1 $2 $3\" in
  \"storage buckets describe\") exit 1 ;;
esac
exit 0
";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// `bucket = "…"` of a backend file.
fn backend_bucket(example: &str, env: &str) -> String {
    let path = root().join(format!("generated/{example}/terraform/env/{env}.backend.hcl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text.lines().find(|l| l.trim_start().starts_with("bucket")).unwrap_or_else(|| panic!("{}: no bucket", path.display()));
    line.split('"').nth(1).unwrap_or_else(|| panic!("{line}")).to_owned()
}

/// `project_id = "…"` of an environment's tfvars.
fn project(example: &str, env: &str) -> String {
    let path = root().join(format!("generated/{example}/terraform/env/{env}.tfvars"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let line = text.lines().find(|l| l.trim_start().starts_with("project_id")).unwrap_or_else(|| panic!("no project_id"));
    line.split('"').nth(1).unwrap_or_else(|| panic!("{line}")).to_owned()
}

fn envs(example: &str) -> Vec<String> {
    let dir = root().join(format!("generated/{example}/terraform/env"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".tfvars").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Runs `bootstrap.sh ENV`; returns the logged gcloud calls.
fn bootstrap(example: &str, env: &str, dir: &Path) -> Vec<String> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let gcloud = bin.join("gcloud");
    std::fs::write(&gcloud, FAKE_GCLOUD).unwrap_or_else(|e| panic!("{e}"));
    let _ = Command::new("chmod").arg("+x").arg(&gcloud).status();
    let log = dir.join(format!("{example}-{env}.log"));
    let script = root().join(format!("generated/{example}/terraform/bootstrap.sh"));
    let status = Command::new("bash")
        .arg(&script)
        .arg(env)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("GCLOUD_LOG", &log)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "bootstrap.sh {env} failed");
    std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_owned).collect()
}

#[test]
fn every_environment_keeps_its_state_in_its_own_project() {
    let dir = std::env::temp_dir().join(format!("mlopsgen-state-{}", std::process::id()));
    for example in ["flagship", "minimal", "promotion"] {
        let mut buckets = BTreeSet::new();
        for env in envs(example) {
            let (bucket, project) = (backend_bucket(example, &env), project(example, &env));
            assert!(buckets.insert(bucket.clone()), "{example}: {env} shares state bucket {bucket}");
            let calls = bootstrap(example, &env, &dir);
            let creates: Vec<&String> = calls.iter().filter(|c| c.starts_with("storage buckets create")).collect();
            assert_eq!(creates.len(), 1, "{example} {env}: {calls:?}");
            let create = creates[0];
            assert!(create.contains(&format!("gs://{bucket} ")), "{example} {env}: creates {create}, backend uses {bucket}");
            assert!(create.contains(&format!("--project={project} ")), "{example} {env}: {create} not in {project}");
            for flag in ["--uniform-bucket-level-access", "--public-access-prevention"] {
                assert!(create.contains(flag), "{example} {env}: {create} lacks {flag}");
            }
            let update = calls.iter().find(|c| c.starts_with("storage buckets update")).unwrap_or_else(|| panic!("{calls:?}"));
            assert!(update.contains(&format!("gs://{bucket} ")) && update.contains("--versioning"), "{update}");
            assert!(update.contains(&format!("--project={project}")), "{update}");
            // Nothing is created or changed in any other project.
            for call in &calls {
                if let Some(at) = call.find("--project=") {
                    assert!(call[at..].starts_with(&format!("--project={project}")), "{example} {env}: {call}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
