//! What CD and a release upload to the KFP repository, and sync into the Composer bucket, names
//! its images by digest only. The committed upload and DAG sync steps (flagship `cd.yaml`,
//! promotion `release.yaml`) run with bash, as Cloud Build would run them (`$$` → `$`, the file's
//! substitutions filled in), against a stand-in registry: a `gcloud` answering `artifacts docker
//! images describe REF:SHA` with a digest and keeping what `storage rsync` sends, and a `curl`
//! that keeps the uploaded content. The uploaded template (and each synced DAG) equals the
//! committed one with every reference to the environment's Docker repository replaced by
//! `REPO/IMAGE@<that digest>`, and a registry that has no digest for the commit fails the step
//! before anything is uploaded or synced. Either way the step removes its temporary copy.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHA: &str = "abc1234";

/// Answers `describe REF:TAG` with `sha256:` + the hex of REF's bytes (distinct per image), or
/// nothing when `$REGISTRY` is `empty`; `auth print-access-token` with a token.
const FAKE_GCLOUD: &str = r#"#!/bin/sh
case "$1 $2 $3 $4" in
  "artifacts docker images describe")
    [ "$REGISTRY" = empty ] && exit 0
    ref="${5%:*}"
    echo "sha256:$(printf '%s' "$ref" | od -An -tx1 | tr -d ' \n' | cut -c1-64)" ;;
  "auth print-access-token  ") echo token ;;
  "storage rsync --recursive --delete-unmatched-destination-objects") mkdir -p "$CAPTURE/synced" && cp -R "$5/." "$CAPTURE/synced/" ;;
esac
"#;

/// Keeps `-F content=@PATH;filename=NAME` as `$CAPTURE/NAME`, logs the `tags=` field and answers
/// as the repository does, `<package>/<version>` (kfp `RegistryClient.upload_pipeline` splits it
/// so), the version being the content's `sha256:`.
const FAKE_CURL: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    -F)
      shift
      case "$1" in
        content=@*)
          spec="${1#content=@}"; cp "${spec%%;filename=*}" "$CAPTURE/${spec##*;filename=}"
          answer="package/sha256:$(sha256sum "${spec%%;filename=*}" | cut -d' ' -f1)" ;;
        tags=*) echo "${1#tags=}" >> "$CAPTURE/tags" ;;
      esac ;;
  esac
  shift
done
echo "$answer"
"#;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn build(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// Replaces `${NAME}` with the file's substitution (or the commit for `SHORT_SHA`), `$$` with `$`.
fn substitute(text: &str, subs: &BTreeMap<String, String>) -> String {
    let mut out = text.replace("${SHORT_SHA}", SHA);
    for (k, v) in subs {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out.replace("$$", "$")
}

/// The digest the stand-in registry gives an image (see [`FAKE_GCLOUD`]).
fn digest(image: &str) -> String {
    let hex: String = image.bytes().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..64.min(hex.len())])
}

/// The template with every `REPO/IMAGE:TAG` string replaced by `REPO/IMAGE@digest`.
fn pinned(value: &Value, repo: &str) -> Value {
    match value {
        Value::String(s) if s.starts_with(&format!("{repo}/")) && !s.contains('@') => {
            let image = s.rsplit_once(':').map_or(s.as_str(), |(i, _)| i);
            Value::String(format!("{image}@{}", digest(image)))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| pinned(v, repo)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), pinned(v, repo))).collect()),
        other => other.clone(),
    }
}

/// Runs every `upload-*` step of a config; returns (step id, success, capture dir, step env).
fn run_uploads(rel: &str, registry: &str, dir: &Path) -> Vec<(String, bool, PathBuf, BTreeMap<String, String>)> {
    run_steps(rel, registry, dir, "upload-")
}

/// Runs every step of a config whose id starts with `prefix`, as [`run_uploads`] does.
fn run_steps(rel: &str, registry: &str, dir: &Path, prefix: &str) -> Vec<(String, bool, PathBuf, BTreeMap<String, String>)> {
    let config = build(rel);
    let subs: BTreeMap<String, String> = config["substitutions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    for (name, body) in [("gcloud", FAKE_GCLOUD), ("curl", FAKE_CURL)] {
        std::fs::write(bin.join(name), body).unwrap_or_else(|e| panic!("{e}"));
        let _ = Command::new("chmod").arg("+x").arg(bin.join(name)).status();
    }
    let mut out = Vec::new();
    let steps = config["steps"].as_array().cloned().unwrap_or_default();
    for step in steps.iter().filter(|s| s["id"].as_str().is_some_and(|id| id.starts_with(prefix))) {
        let id = step["id"].as_str().unwrap_or_default().to_owned();
        let capture = dir.join(format!("{registry}-{id}"));
        let tmp = dir.join(format!("{registry}-{id}-tmp"));
        for d in [&capture, &tmp] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        let args: Vec<String> = step["args"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).map(|a| substitute(a, &subs)).collect();
        let workdir = root().join(substitute(step["dir"].as_str().unwrap_or("."), &subs));
        let mut command = Command::new("bash");
        command.args(&args).current_dir(&workdir).env_clear();
        command.env("PATH", format!("{}:/usr/bin:/bin", bin.display())).env("CAPTURE", &capture).env("REGISTRY", registry).env("TMPDIR", &tmp);
        let mut env = BTreeMap::new();
        for entry in step["env"].as_array().into_iter().flatten().filter_map(|e| e.as_str()) {
            let (key, value) = entry.split_once('=').unwrap_or_else(|| panic!("{entry}"));
            env.insert(key.to_owned(), substitute(value, &subs));
        }
        // A volume is a folder of the capture here.
        for volume in step["volumes"].as_array().into_iter().flatten() {
            let (mount, name) = (volume["path"].as_str().unwrap_or_default(), volume["name"].as_str().unwrap_or_default());
            std::fs::create_dir_all(capture.join(name)).unwrap_or_else(|e| panic!("{e}"));
            for value in env.values_mut().filter(|v| v.starts_with(mount)) {
                *value = format!("{}{}", capture.join(name).display(), &value[mount.len()..]);
            }
        }
        command.envs(&env);
        let ok = command.stderr(std::process::Stdio::null()).status().unwrap_or_else(|e| panic!("{e}")).success();
        // The step's temporary copy goes with the step, whether it uploaded or failed.
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap_or_else(|e| panic!("{e}")).flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{rel} {id} left {left:?} in its temporary directory");
        env.insert("__DIR".into(), workdir.display().to_string());
        env.insert("__ARGS".into(), args.join("\u{1}"));
        out.push((id, ok, capture, env));
    }
    out
}

#[test]
fn uploaded_templates_name_images_by_digest_only() {
    let dir = std::env::temp_dir().join(format!("mlopsgen-pinning-{}", std::process::id()));
    let (mut checked, mut kept) = (0, 0);
    for rel in ["generated/flagship/cloudbuild/cd.yaml", "generated/promotion/cloudbuild/cd.yaml", "generated/promotion/cloudbuild/release.yaml"] {
        let uploads = run_uploads(rel, "answers", &dir);
        assert!(!uploads.is_empty(), "{rel} uploads no template");
        for (id, ok, capture, env) in uploads {
            assert!(ok, "{rel} {id} failed");
            let repo = &env["DOCKER_REPO"];
            let name = format!("{}.json", id.trim_start_matches("upload-"));
            let committed: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(&env["__DIR"]).join(&name)).unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"));
            let sent = std::fs::read_to_string(capture.join(&name)).unwrap_or_else(|e| panic!("{rel} {id}: nothing uploaded: {e}"));
            let sent: Value = serde_json::from_str(&sent).unwrap_or_else(|e| panic!("{e}"));
            assert!(committed.to_string().contains(&format!("\"{repo}/")), "{rel} {id}: the template names no image of {repo}");
            assert_eq!(sent, pinned(&committed, repo), "{rel} {id}: uploaded template differs from the committed one pinned to digests");
            assert!(!sent.to_string().contains(&format!("{repo}/job:")) && sent.to_string().contains("@sha256:"), "{rel} {id}");
            let tags = std::fs::read_to_string(capture.join("tags")).unwrap_or_default();
            assert!(tags.trim().starts_with(&format!("{SHA},")), "{rel} {id}: version tagged by commit: {tags}");
            // The version the repository answered is kept for the schedule step of a pipeline
            // scheduled on Vertex AI: the uploaded bytes' digest.
            if env["VERSION_FILE"] != "/dev/null" {
                let version = std::fs::read_to_string(&env["VERSION_FILE"]).unwrap_or_else(|e| panic!("{rel} {id}: no version kept: {e}"));
                let digest = Command::new("sha256sum").arg(capture.join(&name)).output().map_err(|e| e.to_string());
                let digest = digest.map(|o| format!("sha256:{}\n", String::from_utf8_lossy(&o.stdout).split(' ').next().unwrap_or_default()));
                assert_eq!(Ok(version), digest, "{rel} {id}");
                kept += 1;
            }
            checked += 1;
        }
    }
    assert!(checked >= 3 && kept >= 2, "{checked} uploads, {kept} versions kept");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_image_without_a_digest_stops_the_upload() {
    let dir = std::env::temp_dir().join(format!("mlopsgen-pinning-missing-{}", std::process::id()));
    for (id, ok, capture, _) in run_uploads("generated/promotion/cloudbuild/release.yaml", "empty", &dir) {
        assert!(!ok, "{id} passed with no digest to pin");
        assert!(!capture.join("tags").exists(), "{id} uploaded a template with unpinned images");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A DAG runs what the commit that synced it built: the drift DAG's validator by digest, not by
/// the environment tag CD moves before it deploys (and leaves moved when a later step fails).
#[test]
fn synced_dags_name_images_by_digest_only() {
    let dir = std::env::temp_dir().join(format!("mlopsgen-dag-pinning-{}", std::process::id()));
    let rel = "generated/flagship/cloudbuild/cd.yaml";
    let runs = run_steps(rel, "answers", &dir, "sync-dags");
    let [(id, ok, capture, env)] = runs.as_slice() else { panic!("{rel}: not one sync-dags step: {}", runs.len()) };
    assert!(ok, "{rel} {id} failed");
    let repo = &env["DOCKER_REPO"];
    let source = Path::new(&env["__DIR"]).join(env["__ARGS"].split('\u{1}').rev().nth(1).unwrap_or_else(|| panic!("no DAG folder argument")));
    let mut compared = 0;
    for entry in std::fs::read_dir(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display())).flatten() {
        let name = entry.file_name();
        let committed = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{e}"));
        let synced = std::fs::read_to_string(capture.join("synced").join(&name)).unwrap_or_else(|e| panic!("{name:?} not synced: {e}"));
        let mut expected = committed.clone();
        for image in env["IMAGES"].split(' ') {
            let reference = format!("{repo}/{image}");
            while let Some(at) = expected.find(&format!("\"{reference}:")) {
                let end = expected[at + 1..].find('"').map(|e| at + 1 + e).unwrap_or_else(|| panic!("unclosed"));
                expected.replace_range(at..=end, &format!("\"{reference}@{}\"", digest(&reference)));
            }
        }
        assert_eq!(synced, expected, "{name:?}: the synced DAG is not the committed one pinned to digests");
        compared += usize::from(committed != synced);
    }
    assert!(compared >= 1, "no DAG of {} names an image: nothing was shown pinned", source.display());
    let runs = run_steps(rel, "empty", &dir, "sync-dags");
    assert!(runs.iter().all(|(_, ok, capture, _)| !ok && !capture.join("synced").exists()), "a DAG was synced with no digest to pin");
    let _ = std::fs::remove_dir_all(&dir);
}
