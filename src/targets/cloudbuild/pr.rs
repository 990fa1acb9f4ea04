//! `pr.yaml`: the checks a pull request must pass, all in parallel.
//!
//! The spec's lint and test commands (`sh -c` in `ci.python_image`), `mlopsgen build --check` so
//! stale generated files fail the PR, and the generated artifacts' own checks: every compiled
//! pipeline template parses as JSON and every DAG compiles. When datasets declare a `sample`,
//! the generated validator checks each sample against its contract ([`sample_steps`]).

use super::build::{path_arg, rust_image, Step, PYTHON};
use super::deploy::output_path;
use super::subst::{literal, var};
use super::vars;
use crate::model::lower::VALIDATOR_IMAGE;
use crate::model::{paths, Ci, Model};

/// Id of the step that fails the PR when the generated files are stale.
const CHECK_ID: &str = "mlopsgen-check";

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

/// The PR steps.
pub fn steps(model: &Model, ci: &Ci) -> Vec<Step> {
    let mut steps = Vec::new();
    for (kind, commands) in [("lint", &ci.lint), ("test", &ci.test)] {
        for (i, command) in commands.iter().enumerate() {
            // `sh -c` would read a command starting with `-` as options.
            let end_of_options = command.starts_with('-').then_some("--".to_owned());
            steps.push(
                Step::new(format!("{kind}-{}", i + 1), literal(&ci.python_image))
                    .entrypoint("sh")
                    .args(std::iter::once("-c".to_owned()).chain(end_of_options).chain([literal(command)]))
                    .timeout(1800),
            );
        }
    }
    steps.push(
        Step::new(CHECK_ID, rust_image())
            .entrypoint("sh")
            .args([
                "-c".to_owned(),
                format!(
                    "cargo install --locked mlopsgen --version \"{}\" && mlopsgen build --check -- \"$$1\"",
                    var(vars::MLOPSGEN_VERSION)
                ),
                CHECK_ID.to_owned(),
                literal(&model.spec_path),
            ])
            .timeout(1800),
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
    if model.deploys_dags() {
        let dirs = model.environments.iter().map(|e| path_arg(output_path(model, &paths::dags_dir(&e.name))));
        steps.push(Step::new("dag-syntax", PYTHON).entrypoint("python").args(["-m", "compileall", "-q"]).args(dirs));
    }
    steps.extend(sample_steps(model));
    steps
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
