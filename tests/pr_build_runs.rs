//! The flagship's PR build, run for real on this machine: a team's repository (the spec, the
//! generated files it commits, its code, tests, requirements and data sample) is laid out in a
//! temporary directory and every step of `cloudbuild/pr.yaml` runs in file order, each in a clean
//! environment holding only what its image holds:
//!
//! - a `python:*` image: a fresh virtualenv of this machine's Python (python and pip, nothing
//!   installed) first on `PATH`, the system's base tools after it;
//! - the spec's `ci.mlopsgen_image`: the `mlopsgen` binary this crate builds, which is what its
//!   `Dockerfile` installs on `PATH`;
//! - the spec's `ci.terraform.image`: [`TERRAFORM`], a stand-in `terraform` (the real one would
//!   reach Google Cloud) that keeps the CLI's contract as far as the steps use it: `-chdir`, `init`
//!   reads the backend file and must come first, `plan` reads the tfvars and writes `-out`, `show`
//!   reads that file; it refuses to run without the impersonation variables.
//!
//! Volumes become directories shared by the steps that mount them, `/workspace` the checkout.
//! Cloud Build runs steps as `entrypoint args…` after replacing `$$` by `$`
//! (<https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values>); so does
//! this test. Needs Python 3 with `venv` and the package index (pip installs the pinned tools).

#[path = "support/cloudbuild_config.rs"]
mod cloudbuild_config;

use cloudbuild_config::strings;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SPEC: &str = "specs/flagship.yaml";

/// Files of the team's repository besides the shared ones and the generated output.
const REPO_FILES: &[(&str, &str)] = &[
    ("trainer/requirements.txt", "packaging==24.1\n"),
    ("server/requirements.txt", "# the server's runtime dependencies\n"),
    // Imports a package only `trainer/requirements.txt` installs: the tests need the spec's
    // requirements installed before they run.
    (
        "tests/test_versions.py",
        "from packaging.version import Version\n\n\ndef test_versions_order() -> None:\n    assert Version(\"1.10\") > Version(\"1.9\")\n",
    ),
];

/// Files the team's repository shares with this one (the flagship's data sample).
const SHARED_FILES: &[&str] = &[SPEC, "data/samples/customers.csv", "specs/components/profile/component.yaml"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A scratch directory, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlopsgen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The first `name` on the test's own `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// What the machine needs to reach the package index (not tools: the images get these too).
fn network_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("PIP_") || k.to_ascii_lowercase().ends_with("_proxy") || k == "SSL_CERT_FILE")
        .collect()
}

/// Base tools every image used here has (Debian's coreutils and `sh`).
const SYSTEM_PATH: &str = "/usr/bin:/bin";

/// The stand-in `terraform` (see the module doc).
const TERRAFORM: &str = r#"#!/bin/sh
set -eu
if [ "${1#-chdir=}" != "$1" ]; then cd "${1#-chdir=}"; shift; fi
: "${GOOGLE_IMPERSONATE_SERVICE_ACCOUNT:?terraform runs as the build itself}"
test "${GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT:-}" = "$GOOGLE_IMPERSONATE_SERVICE_ACCOUNT"
command="$1"
shift
last=""
for arg in "$@"; do
  case "$arg" in
    -backend-config=*|-var-file=*) test -f "${arg#*=}" || { echo "no file ${arg#*=} in $(pwd)" >&2; exit 1; } ;;
    -out=*) out="${arg#-out=}" ;;
  esac
  last="$arg"
done
case "$command" in
  init) test -f versions.tf && mkdir -p .terraform && echo "$GOOGLE_IMPERSONATE_SERVICE_ACCOUNT" > .terraform/as ;;
  plan)
    test "$(cat .terraform/as)" = "$GOOGLE_IMPERSONATE_SERVICE_ACCOUNT" || { echo "plan before init" >&2; exit 1; }
    printf '  # google_service_account.plan will be created
Plan: 1 to add, 0 to change, 0 to destroy (%s as %s)
' "$ENV" "$GOOGLE_IMPERSONATE_SERVICE_ACCOUNT" > "$out" ;;
  show) cat "$last" ;;
  *) echo "unexpected: terraform $command" >&2; exit 1 ;;
esac
"#;

/// The stand-in `gcloud` of the Cloud SDK image: the build's access token.
const GCLOUD: &str = "#!/bin/sh
[ \"$*\" = 'auth print-access-token' ] || { echo \"unexpected: gcloud $*\" >&2; exit 1; }
echo build-access-token
";

/// The stand-in `curl`: Cloud Build's `accessReadToken` for the connection's repository, called
/// with the build's token, answering as the API does (pretty-printed JSON).
const CURL: &str = r#"#!/bin/sh
case "$*" in
  *"-X POST -H Authorization: Bearer build-access-token https://cloudbuild.googleapis.com/v2/projects/acme-churn-dev/locations/europe-west4/connections/churn-github/repositories/churn:accessReadToken") ;;
  *) echo "unexpected: curl $*" >&2; exit 1 ;;
esac
printf '{
  "token": "repo-read-token",
  "expirationTime": "2026-12-06T09:00:00Z"
}
'
"#;

/// The `python:*` image's `apt-get`: logs each call to `$HOME/apt-get.log` (each step has a home
/// of its own), so the test sees what a step installs without touching this machine.
const APT_GET: &str = "#!/bin/sh\necho \"$*\" >> \"$HOME/apt-get.log\"\n";

/// Stands in for the images of the PR build.
struct Images {
    scratch: PathBuf,
    python: PathBuf,
    mlopsgen_image: String,
    mlopsgen_bin: PathBuf,
    terraform_image: String,
    /// The Cloud SDK image: stand-in `gcloud` and `curl`, this machine's `git`.
    gcloud_image: String,
    /// Substitution values of a pull-request build (the file's defaults, `_BASE_BRANCH`).
    substitutions: Vec<(String, String)>,
    /// Extra environment (the base branch's remote, standing in for GitHub).
    overrides: Vec<(String, String)>,
}

/// Writes an executable stand-in.
fn tool(dir: &Path, name: &str, text: &str) {
    write(&dir.join(name), text);
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.join(name), mode).unwrap_or_else(|e| panic!("{e}"));
}

impl Images {
    /// The `PATH` of a fresh container of `image` for step `id`.
    fn path_for(&self, id: &str, image: &str) -> String {
        if image.starts_with("python:") {
            let venv = self.scratch.join("images").join(id);
            let made = Command::new(&self.python).args(["-m", "venv"]).arg(&venv).status();
            assert!(made.is_ok_and(|s| s.success()), "cannot create a virtualenv for {id}");
            // The image's package manager: it logs what the step installs instead of installing.
            tool(&venv.join("bin"), "apt-get", APT_GET);
            format!("{}:{SYSTEM_PATH}", venv.join("bin").display())
        } else if image == self.mlopsgen_image {
            let bin = self.scratch.join("images").join(id);
            std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
            let _ = std::fs::remove_file(bin.join("mlopsgen"));
            std::os::unix::fs::symlink(&self.mlopsgen_bin, bin.join("mlopsgen")).unwrap_or_else(|e| panic!("{e}"));
            format!("{}:{SYSTEM_PATH}", bin.display())
        } else if image == self.terraform_image {
            let bin = self.scratch.join("images").join(id);
            tool(&bin, "terraform", TERRAFORM);
            format!("{}:{SYSTEM_PATH}", bin.display())
        } else if image == self.gcloud_image {
            let bin = self.scratch.join("images").join(id);
            tool(&bin, "gcloud", GCLOUD);
            tool(&bin, "curl", CURL);
            let git = on_path("git").unwrap_or_else(|| panic!("git is needed on PATH"));
            let _ = std::fs::remove_file(bin.join("git"));
            std::os::unix::fs::symlink(git, bin.join("git")).unwrap_or_else(|e| panic!("{e}"));
            format!("{}:{SYSTEM_PATH}", bin.display())
        } else {
            panic!("step {id}: no stand-in for image {image}");
        }
    }
}

/// What Cloud Build does to a PR step's strings: `${KEY}` → its value, `$$` → `$`, and what this
/// test does: mounts become directories.
fn resolve(text: &str, mounts: &[(String, PathBuf)], substitutions: &[(String, String)]) -> String {
    let mut text = text.to_owned();
    for (key, value) in substitutions {
        text = text.replace(&format!("${{{key}}}"), value);
    }
    assert!(!text.replace("$$", "").contains('$'), "unexpected substitution in {text}");
    let mut out = text.replace("$$", "$");
    for (path, dir) in mounts {
        out = out.replace(path.as_str(), &dir.display().to_string());
    }
    out
}

/// Runs one step as Cloud Build would; returns whether it succeeded.
fn run_step(step: &Value, repo: &Path, images: &Images) -> bool {
    let id = step["id"].as_str().unwrap_or_default();
    let mut command = step_command(step, repo, images);
    command.status().unwrap_or_else(|e| panic!("step {id}: {e}")).success()
}

/// The command running one step as Cloud Build would.
fn step_command(step: &Value, repo: &Path, images: &Images) -> Command {
    let id = step["id"].as_str().unwrap_or_default();
    let image = step["name"].as_str().unwrap_or_default();
    let mut mounts = vec![("/workspace".to_owned(), repo.to_path_buf())];
    for volume in step["volumes"].as_array().into_iter().flatten() {
        let dir = images.scratch.join("volumes").join(volume["name"].as_str().unwrap_or_default());
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        mounts.push((volume["path"].as_str().unwrap_or_default().to_owned(), dir));
    }
    let entrypoint = step["entrypoint"].as_str().unwrap_or_else(|| panic!("step {id} relies on its image's entrypoint"));
    let subs = &images.substitutions;
    let args: Vec<String> = strings(&step["args"]).iter().map(|a| resolve(a, &mounts, subs)).collect();
    let dir = step["dir"].as_str().map_or(repo.to_path_buf(), |d| repo.join(resolve(d, &mounts, subs)));
    let home = images.scratch.join("home").join(id);
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(entrypoint);
    command.args(&args).current_dir(&dir).env_clear().envs(network_env());
    command.env("PATH", images.path_for(id, image)).env("HOME", &home);
    for entry in strings(&step["env"]) {
        let (key, value) = entry.split_once('=').unwrap_or_else(|| panic!("bad env {entry}"));
        let overridden = images.overrides.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        command.env(key, overridden.unwrap_or_else(|| resolve(value, &mounts, subs)));
    }
    eprintln!("--- step {id} ({image})");
    command
}

/// Copies a directory tree (files only; no links in the repository here).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Runs git in `dir` (this machine's git; no user configuration).
fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git").args(args).current_dir(dir).env("GIT_CONFIG_NOSYSTEM", "1").env("HOME", dir).status();
    assert!(status.is_ok_and(|s| s.success()), "git {args:?} failed in {}", dir.display());
}

fn pr_build(repo: &Path) -> Value {
    let text = std::fs::read_to_string(repo.join("generated/flagship/cloudbuild/pr.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_flagship_pr_build_passes_on_a_real_checkout_and_fails_on_stale_output() {
    let python = on_path("python3").unwrap_or_else(|| panic!("python3 is needed on PATH"));
    for tool in ["ruff", "pytest", "mlopsgen"] {
        let found = std::env::split_paths(SYSTEM_PATH).any(|d| d.join(tool).exists());
        assert!(!found, "{tool} is installed in {SYSTEM_PATH}: the stand-in images would not be clean");
    }
    let scratch = scratch("pr-build");
    let repo = scratch.join("repo");
    for path in SHARED_FILES {
        write(&repo.join(path), &std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}")));
    }
    for (path, text) in REPO_FILES {
        write(&repo.join(path), text);
    }
    // The team builds in its clone; the build's checkout has no `.git` (GitHub App checkouts:
    // GoogleCloudPlatform/cloud-builders#351).
    std::fs::create_dir_all(repo.join(".git")).unwrap_or_else(|e| panic!("{e}"));
    let mlopsgen_bin = PathBuf::from(env!("CARGO_BIN_EXE_mlopsgen"));
    let mlopsgen = |args: &[&str], dir: &Path| Command::new(&mlopsgen_bin).args(args).current_dir(dir).env("HOME", &scratch).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(mlopsgen(&["build", SPEC], &repo).status.success(), "mlopsgen build failed in the checkout");
    // The base branch: this state, committed on `main` of a repository standing in for GitHub.
    let remote = scratch.join("remote");
    copy_tree(&repo, &remote);
    git(&remote, &["init", "-q", "-b", "main"]);
    git(&remote, &["add", "-A"]);
    git(&remote, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base"]);
    // The pull request: keep dev's artifacts longer, regenerated.
    let spec = repo.join(SPEC);
    let edited = std::fs::read_to_string(&spec).unwrap_or_default().replacen("delete_after_days: 30", "delete_after_days: 45", 1);
    assert!(edited.contains("delete_after_days: 45"), "the flagship changed: pick another edit");
    write(&spec, &edited);
    assert!(mlopsgen(&["build", SPEC], &repo).status.success(), "mlopsgen build failed in the checkout");
    std::fs::remove_dir_all(repo.join(".git")).unwrap_or_else(|e| panic!("{e}"));
    // What `mlopsgen diff --base main` reports in a clone with history (the PR's spec, the base's output).
    let clone = scratch.join("clone");
    git(&scratch, &["clone", "-q", remote.to_str().unwrap_or_default(), clone.to_str().unwrap_or_default()]);
    write(&clone.join(SPEC), &edited);
    let expected = mlopsgen(&["diff", "--color=never", "--base", "main", SPEC], &clone);
    assert_eq!(expected.status.code(), Some(1), "{}", String::from_utf8_lossy(&expected.stderr));
    let expected = String::from_utf8_lossy(&expected.stdout).into_owned();

    let build = pr_build(&repo);
    let check = build["steps"].as_array().and_then(|s| s.iter().find(|s| s["id"] == "mlopsgen-check")).cloned();
    let check = check.unwrap_or_else(|| panic!("no mlopsgen-check step"));
    let images = Images {
        scratch: scratch.clone(),
        python,
        mlopsgen_image: check["name"].as_str().unwrap_or_default().to_owned(),
        mlopsgen_bin,
        terraform_image: build["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == "terraform-plans"))
            .and_then(|s| s["name"].as_str())
            .unwrap_or_default()
            .to_owned(),
        gcloud_image: build["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == "diff-base"))
            .and_then(|s| s["name"].as_str())
            .unwrap_or_default()
            .to_owned(),
        substitutions: {
            let mut subs: Vec<(String, String)> = build["substitutions"]
                .as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                .unwrap_or_default();
            subs.push(("_BASE_BRANCH".into(), "main".into()));
            subs
        },
        overrides: vec![("REMOTE".into(), format!("file://{}", remote.display()))],
    };
    let mut ran = Vec::new();
    for step in build["steps"].as_array().into_iter().flatten() {
        let id = step["id"].as_str().unwrap_or_default();
        for wait in strings(&step["waitFor"]) {
            assert!(wait == "-" || ran.contains(&wait), "{id} waits for `{wait}`, which has not run");
        }
        assert!(run_step(step, &repo, &images), "PR step {id} failed");
        ran.push(id.to_owned());
    }
    for kind in ["ci-deps", "lint-1", "test-1", "mlopsgen-check", "pipeline-templates", "dag-syntax", "data-samples", "diff-base", "semantic-diff", "terraform-plans"] {
        assert!(ran.iter().any(|r| r == kind), "the PR build has no step {kind}: {ran:?}");
    }
    // The tests ran with the images' native packages installed (the trainer's `libgomp1`), lint
    // without: each test step is a fresh container, so it installs them itself, before its command.
    let installs = |id: &str| std::fs::read_to_string(scratch.join("home").join(id).join("apt-get.log")).unwrap_or_default();
    assert!(installs("test-1").lines().any(|l| l.starts_with("install ") && l.split(' ').any(|w| w == "libgomp1")), "test-1 installed {:?}", installs("test-1"));
    assert!(installs("lint-1").is_empty(), "lint-1 installed {:?}", installs("lint-1"));
    // The summary prints every environment's plan, in promotion order, each planned as its
    // environment's plan SA (the email Terraform's `google_service_account.plan` gets there).
    let summary = build["steps"].as_array().and_then(|s| s.iter().find(|s| s["id"] == "terraform-plans")).cloned();
    let out = step_command(&summary.unwrap_or_default(), &repo, &images).output().unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    // The semantic diff comes first, exactly what `mlopsgen diff --base main` says with history,
    // though the checkout has none: the build fetched the base branch itself.
    let semantic = std::fs::read_to_string(scratch.join("volumes/semantic-diff/semantic.txt")).unwrap_or_default();
    assert_eq!(semantic, expected, "the build's semantic diff");
    assert!(expected.contains("45"), "the diff does not show the edit:\n{expected}");
    let diff_at = text.find(&expected).unwrap_or_else(|| panic!("no semantic diff in the summary:\n{text}"));
    let plans_at = text.find("==== terraform plan:").unwrap_or_default();
    assert!(diff_at < plans_at, "the semantic diff comes after the plans");
    let iam = std::fs::read_to_string(repo.join("generated/flagship/terraform/iam.tf")).unwrap_or_default();
    let account = iam.split("resource \"google_service_account\" \"plan\"").nth(1).and_then(|r| r.split('"').nth(1)).unwrap_or_default().to_owned();
    let mut at = 0;
    for env in ["dev", "prod"] {
        let tfvars = std::fs::read_to_string(repo.join(format!("generated/flagship/terraform/env/{env}.tfvars"))).unwrap_or_default();
        let project = tfvars.lines().find_map(|l| l.strip_prefix("project_id")).and_then(|v| v.split('"').nth(1)).unwrap_or_default();
        let line = format!("({env} as {account}@{project}.iam.gserviceaccount.com)");
        let found = text[at..].find(&line).unwrap_or_else(|| panic!("no plan summary {line} after byte {at} in:\n{text}"));
        at += found + line.len();
    }

    // The same check fails once a generated file no longer matches the spec.
    let tfvars = repo.join("generated/flagship/terraform/env/dev.tfvars");
    let mut text = std::fs::read_to_string(&tfvars).unwrap_or_else(|e| panic!("{e}"));
    text.push_str("# edited by hand\n");
    write(&tfvars, &text);
    assert!(!run_step(&check, &repo, &images), "mlopsgen-check passed on a stale generated file");
    let _ = std::fs::remove_dir_all(&scratch);
}
