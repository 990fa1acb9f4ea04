//! `pr.yaml`: the checks a pull request must pass, all in parallel.
//!
//! The spec's lint and test commands (`sh -c` in `ci.python_image`, in a virtualenv holding
//! `ci.requirements` and `ci.packages`), `mlopsgen build --check` in the spec's pinned mlopsgen
//! image so stale generated files fail the PR, and the generated artifacts' own checks: every compiled
//! pipeline template parses as JSON and every DAG compiles. When datasets declare a `sample`,
//! the generated validator checks each sample against its contract ([`sample_steps`]).

use super::build::{path_arg, Step, GCLOUD, PYTHON};
use super::deploy::output_path;
use super::subst::{literal, var, Live};
use crate::model::delivery::{variables as vars, Stage};
use crate::model::naming::VALIDATOR_IMAGE;
use crate::model::{paths, Ci, Model};

/// Id of the step that fails the PR when the generated files are stale.
const CHECK_ID: &str = "mlopsgen-check";

/// The virtualenv the lint and test tools are installed into (outside the checkout).
const CI_VENV: (&str, &str) = ("ci-venv", "/ci-venv");

/// The volume the validator's requirements are installed into (outside the checkout).
const VALIDATOR_DEPS: (&str, &str) = ("validator-deps", "/validator-deps");

/// Where Cloud Build checks the repository out (every step's default working directory).
const CHECKOUT: &str = "/workspace";

/// Parses each file named on the command line as JSON.
const CHECK_JSON: &str = "import json
import sys

for path in sys.argv[1:]:
    print(\"checking\", path, flush=True)
    with open(path, encoding=\"utf-8\") as f:
        json.load(f)";

/// Creates a virtualenv at `$1` and installs the rest of the arguments (`-r FILE`, specifiers)
/// into it; the lint and test steps activate it.
const MAKE_VENV: &str = "set -eu
venv=\"$$1\"
shift
python -m venv \"$$venv\"
\"$$venv/bin/python\" -m pip install --quiet --no-cache-dir --disable-pip-version-check --root-user-action=ignore \"$$@\"";

/// The volume holding the base branch's checkout and the semantic diff.
pub const DIFF: (&str, &str) = ("semantic-diff", "/diff");

/// Fetches the head of branch `$BRANCH` of `$REMOTE` into `/diff/base` (one commit): a GitHub App
/// checkout has no history to compare with (GoogleCloudPlatform/cloud-builders#351). The read
/// token comes from the build's repository connection (`$REPOSITORY`, `accessReadToken`:
/// <https://cloud.google.com/build/docs/api/reference/rest/v2/projects.locations.connections.repositories/accessReadToken>)
/// and goes to GitHub as an HTTP header, never into a URL or the log.
const FETCH_BASE: &str = "set -euo pipefail
answer=\"$$(curl -fsS -X POST -H \"Authorization: Bearer $$(gcloud auth print-access-token)\" \\
  \"https://cloudbuild.googleapis.com/v2/$$REPOSITORY:accessReadToken\")\"
token=\"$$(printf '%s\\n' \"$$answer\" | sed -n 's/.*\"token\": *\"\\([^\"]*\\)\".*/\\1/p')\"
test -n \"$$token\"
header=\"Authorization: Basic $$(printf 'x-access-token:%s' \"$$token\" | base64 -w0)\"
rm -rf /diff/base
git init -q /diff/base
git -C /diff/base -c http.extraHeader=\"$$header\" fetch -q --depth=1 \"$$REMOTE\" \"refs/heads/$$BRANCH\"
git -C /diff/base checkout -q FETCH_HEAD
echo \"base: $$BRANCH at $$(git -C /diff/base rev-parse HEAD)\"";

/// Compares what the PR's spec generates with the output committed on the base branch: in a copy
/// of the checkout whose output folder `$OUT` is the base's, `mlopsgen diff` (exit 1: changes).
const SEMANTIC_DIFF: &str = "set -u
rm -rf /diff/pr
mkdir -p /diff/pr
cp -R /workspace/. /diff/pr/
cd /diff/pr
test -e .git || mkdir .git
rm -rf \"$$OUT\"
mkdir -p \"$$OUT\"
if [ -d \"/diff/base/$$OUT\" ]; then cp -R \"/diff/base/$$OUT/.\" \"$$OUT/\"; fi
mlopsgen diff --color=never -- \"$$1\" > /diff/semantic.txt
code=$$?
cat /diff/semantic.txt
test \"$$code\" -le 1";

/// Installs every image's `system_packages` (validated Debian package names) with apt-get, as
/// the Dockerfiles do: a test that imports the trainer's code loads its native libraries (a
/// `libgomp1` for LightGBM), which `ci.python_image` lacks and the virtualenv can't hold. Each
/// step is a fresh container (only volumes persist between steps), so each test step installs
/// them itself. `None` when no image has any.
fn system_packages(model: &Model) -> Option<String> {
    let packages: std::collections::BTreeSet<&str> = model.images.iter().flat_map(|i| i.system_packages.iter().map(String::as_str)).collect();
    (!packages.is_empty()).then(|| {
        let names: Vec<String> = packages.into_iter().map(literal).collect();
        format!("apt-get update -qq && apt-get install --yes --no-install-recommends -qq {} > /dev/null || exit 1", names.join(" "))
    })
}

/// The PR steps.
pub fn steps(model: &Model, ci: &Ci) -> Vec<Step> {
    let mut steps = Vec::new();
    let deps = dependencies(ci);
    let after = deps.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    steps.extend(deps);
    let native = system_packages(model);
    for (kind, commands) in [("lint", &ci.lint), ("test", &ci.test)] {
        for (i, command) in commands.iter().enumerate() {
            let mut step = Step::new(format!("{kind}-{}", i + 1), literal(&ci.python_image)).entrypoint("sh").timeout(1800);
            // Tests import the code the images run, native libraries included.
            let install = (kind == "test").then_some(native.as_deref()).flatten();
            let mut script = install.map(|i| format!("{i}\n")).unwrap_or_default();
            if !after.is_empty() {
                // `.` of a missing file ends a non-interactive `sh`, so a command never runs without its tools.
                let (volume, mount) = CI_VENV;
                script.push_str(&format!(". {mount}/bin/activate\n"));
                step = step.volume(volume, mount).after(&after);
            }
            // `sh -c` would read a script starting with `-` as options.
            let end_of_options = (script.is_empty() && command.starts_with('-')).then_some("--".to_owned());
            script.push_str(&literal(command));
            steps.push(step.args(std::iter::once("-c".to_owned()).chain(end_of_options).chain([script])));
        }
    }
    // The image is mlopsgen's own (its Dockerfile puts the binary on PATH), pinned by digest in
    // the spec: the check runs exactly the generator the team chose, with nothing to install.
    // mlopsgen names files from the repository root, the folder holding `.git`; a GitHub App
    // checkout has none (GoogleCloudPlatform/cloud-builders#351), so the step marks the
    // checkout as the root first.
    steps.push(
        Step::new(CHECK_ID, literal(&ci.mlopsgen_image))
            .entrypoint("sh")
            .args(["-c", "test -e .git || mkdir .git\nexec mlopsgen build --check -- \"$$1\"", CHECK_ID])
            .args([literal(&model.spec_path)])
            .timeout(600),
    );
    if !model.pipelines.is_empty() {
        let templates = model
            .environments
            .iter()
            .flat_map(|e| model.pipelines.iter().map(|p| output_path(model, &paths::pipeline_json(&e.name, &p.key))));
        steps.push(
            Step::new("pipeline-templates", PYTHON).entrypoint("python").args(["-c", CHECK_JSON]).args(templates),
        );
    }
    // Every environment's DAG folder, where it has one (its overrides may add or drop Composer).
    let dag_envs: Vec<&str> =
        model.environments.iter().map(|e| e.name.as_str()).filter(|env| model.for_env(env).deploys_dags()).collect();
    if !dag_envs.is_empty() {
        let dirs = dag_envs.iter().map(|env| path_arg(output_path(model, &paths::dags_dir(env))));
        steps.push(Step::new("dag-syntax", PYTHON).entrypoint("python").args(["-m", "compileall", "-q"]).args(dirs));
    }
    steps.extend(sample_steps(model));
    let diff = diff_steps(model, ci);
    let after_diff: Vec<String> = diff.last().map(|s| s.id.clone()).into_iter().collect();
    steps.extend(diff);
    steps.extend(super::terraform::plan_steps(model, &after_diff));
    steps
}

/// `diff-base` fetches the base branch (`_BASE_BRANCH`, set on pull-request builds), then
/// `semantic-diff` prints `mlopsgen diff` of the PR against it; the plan summary prints it again
/// above the plans. None when the output folder is the repository root.
fn diff_steps(model: &Model, ci: &Ci) -> Vec<Step> {
    let out = literal(model.output_dir.trim_end_matches('/'));
    if out.is_empty() || out == "." {
        return Vec::new();
    }
    let (volume, mount) = DIFF;
    let repository = format!(
        "projects/{}/locations/{}/connections/{}/repositories/{}",
        Stage::Current.var(vars::PROJECT),
        Stage::Current.var(vars::REGION),
        literal(&ci.connection),
        literal(&ci.repo)
    );
    let fetch = Step::new("diff-base", GCLOUD)
        .entrypoint("bash")
        .env("REPOSITORY", repository)
        .env("REMOTE", format!("https://github.com/{}/{}.git", literal(&ci.owner), literal(&ci.repo)))
        .env("BRANCH", var("_BASE_BRANCH"))
        .args(["-c", FETCH_BASE])
        .volume(volume, mount)
        .timeout(600);
    let diff = Step::new("semantic-diff", literal(&ci.mlopsgen_image))
        .entrypoint("sh")
        .env("OUT", out)
        .args(["-c", SEMANTIC_DIFF, "semantic-diff"])
        .args([literal(&model.spec_path)])
        .volume(volume, mount)
        .after(std::slice::from_ref(&fetch.id))
        .timeout(600);
    vec![fetch, diff]
}

/// Checks every declared dataset sample with the generated validator, the way its image runs
/// it: the image's base, its pinned requirements, its entrypoint in its build context (the
/// generated `validation/` folder), with `samples --root` naming the checkout, which sample paths
/// are relative to. The requirements install starts with the build; the check waits for it and
/// for `mlopsgen-check`, so stale contracts fail as stale rather than as a broken sample.
fn sample_steps(model: &Model) -> Vec<Step> {
    let Some(image) = model.image(VALIDATOR_IMAGE) else { return Vec::new() };
    let (Some((program, module)), Some(requirements)) = (image.entrypoint.split_first(), &image.requirements) else {
        return Vec::new();
    };
    if !model.datasets.iter().any(|d| d.sample.is_some()) {
        return Vec::new();
    }
    let (volume, mount) = VALIDATOR_DEPS;
    let base = literal(&image.base_ref());
    let context = literal(&image.context);
    let install = Step::new("validator-deps", base.as_str())
        .entrypoint("python")
        .dir(context.clone())
        .args(["-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check"])
        .args(["--root-user-action=ignore", "--target", mount, "-r"])
        .args([path_arg(literal(requirements))])
        .volume(volume, mount)
        .timeout(900);
    let check = Step::new("data-samples", base.as_str())
        .entrypoint(&literal(program))
        .dir(context)
        .env("PYTHONPATH", mount)
        .args(module.iter().map(|a| literal(a)))
        .args(["samples", "--root", CHECKOUT])
        .volume(volume, mount)
        .after(&[install.id.clone(), CHECK_ID.to_owned()])
        .timeout(600);
    vec![install, check]
}

/// The step installing `ci.requirements` and `ci.packages` into [`CI_VENV`], if there is any.
fn dependencies(ci: &Ci) -> Option<Step> {
    if (ci.requirements.is_empty() && ci.packages.is_empty()) || (ci.lint.is_empty() && ci.test.is_empty()) {
        return None;
    }
    let (volume, mount) = CI_VENV;
    let files = ci.requirements.iter().flat_map(|f| ["-r".to_owned(), path_arg(literal(f))]);
    Some(
        Step::new("ci-deps", literal(&ci.python_image))
            .entrypoint("sh")
            .args(["-c", MAKE_VENV, "ci-deps", mount])
            .args(files)
            .args(ci.packages.iter().map(|p| literal(p)))
            .volume(volume, mount)
            .timeout(900),
    )
}
