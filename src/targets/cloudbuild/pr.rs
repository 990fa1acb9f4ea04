//! `pr.yaml`: the checks a pull request must pass, all in parallel.
//!
//! The spec's lint and test commands (`sh -c` in `ci.python_image`), `mlopsgen build --check` so
//! stale generated files fail the PR, and the generated artifacts' own checks: every compiled
//! pipeline template parses as JSON and every DAG compiles.

use super::build::{path_arg, rust_image, Step, PYTHON};
use super::deploy::output_path;
use super::subst::{literal, var};
use super::vars;
use crate::model::{paths, Ci, Model};

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
        Step::new("mlopsgen-check", rust_image())
            .entrypoint("sh")
            .args([
                "-c".to_owned(),
                format!(
                    "cargo install --locked mlopsgen --version \"{}\" && mlopsgen build --check -- \"$$1\"",
                    var(vars::MLOPSGEN_VERSION)
                ),
                "mlopsgen-check".to_owned(),
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
    steps
}
