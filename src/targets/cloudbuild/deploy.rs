//! Steps that put a commit's artifacts into one environment: pipeline templates into its KFP
//! repository, DAGs into its Composer bucket, images into its Cloud Run services, sources into
//! its Cloud Functions. CD runs them for the build's environment, a release for the next one.
//!
//! Terraform owns each service's and function's configuration (scaling, environment, IAM); these
//! steps move only the code: the image built for this commit, or the function's source.

use super::build::{path_arg, Step, GCLOUD};
use super::subst::{literal, var};
use super::vars::{self, Scope};
use crate::model::{paths, Model};

/// Uploads a template to the KFP repository in `$KFP_REPO` with the tags in `$TAGS`
/// (comma-separated); `$1` is the file, in the step's working directory. This is the
/// repository's documented multipart upload (`tags`, `content`), authenticated as the build.
const UPLOAD_TEMPLATE: &str = "set -euo pipefail
curl --fail-with-body --silent --show-error -X POST \\
  -H \"Authorization: Bearer $$(gcloud auth print-access-token)\" \\
  -F \"tags=$$TAGS\" \\
  -F \"content=@$$1\" \\
  \"$$KFP_REPO\"";

/// A path inside the output directory, relative to the repository root (where builds run).
/// `rel` is generator text and may hold live substitutions; the output directory is literal.
pub fn output_path(model: &Model, rel: &str) -> String {
    match model.output_dir.as_str() {
        "" | "." => rel.to_owned(),
        dir => format!("{}/{rel}", literal(dir.trim_end_matches('/'))),
    }
}

/// Uploads every pipeline's compiled template for the scope's environment, tagged with the
/// commit and the environment (so `Environment::template_uri` resolves to it).
pub fn upload_templates(model: &Model, scope: Scope, after: &[String]) -> Vec<Step> {
    let env = scope.var(vars::ENV);
    model
        .pipelines
        .iter()
        .map(|p| {
            let file = paths::pipeline_json(&env, &p.key);
            let (dir, name) = file.rsplit_once('/').unwrap_or((".", file.as_str()));
            Step::new(format!("upload-{}", p.key), GCLOUD)
                .entrypoint("bash")
                .dir(output_path(model, dir))
                .env("KFP_REPO", scope.var(vars::KFP_REPO))
                .env("TAGS", format!("{},{env}", var("SHORT_SHA")))
                .args(["-c", UPLOAD_TEMPLATE, "upload-template", name])
                .after(after)
                .timeout(300)
        })
        .collect()
}

/// Mirrors the environment's DAG folder into its Composer bucket (deleting DAGs of pipelines that
/// no longer exist), if the model has DAGs.
pub fn sync_dags(model: &Model, scope: Scope, after: &[String]) -> Option<Step> {
    vars::deploys_dags(model).then(|| {
        let dags = output_path(model, &paths::dags_dir(&scope.var(vars::ENV)));
        Step::new("sync-dags", GCLOUD)
            .entrypoint("gcloud")
            .args(["storage", "rsync", "--recursive", "--delete-unmatched-destination-objects"])
            .args([path_arg(dags), scope.var(vars::COMPOSER_DAG_FOLDER)])
            .after(after)
            .timeout(600)
    })
}

/// Rolls each Cloud Run service onto this commit's image.
pub fn deploy_services(model: &Model, scope: Scope, after: &[String]) -> Vec<Step> {
    model
        .services
        .iter()
        .map(|s| {
            let image = format!("{}/{}:{}", scope.var(vars::DOCKER_REPO), s.image, var("SHORT_SHA"));
            Step::new(format!("deploy-service-{}", s.key), GCLOUD)
                .entrypoint("gcloud")
                .args(["run", "deploy", s.name.as_str(), "--quiet"])
                .args([
                    format!("--image={image}"),
                    format!("--region={}", scope.var(vars::REGION)),
                    format!("--project={}", scope.var(vars::PROJECT)),
                    format!("--service-account={}", scope.var(vars::SERVING_SA)),
                ])
                .after(after)
                .timeout(900)
        })
        .collect()
}

/// Deploys each Cloud Function (2nd gen) from its source at this commit.
pub fn deploy_functions(model: &Model, scope: Scope, after: &[String]) -> Vec<Step> {
    model
        .functions
        .iter()
        .map(|f| {
            let sa = scope.var(vars::FUNCTIONS_SA);
            let trigger = match &f.trigger_bucket {
                Some(bucket) => vec![
                    format!("--trigger-bucket={}", scope.var(&vars::bucket(bucket))),
                    format!("--trigger-service-account={sa}"),
                ],
                None => vec!["--trigger-http".to_owned(), "--no-allow-unauthenticated".to_owned()],
            };
            Step::new(format!("deploy-function-{}", f.key), GCLOUD)
                .entrypoint("gcloud")
                .args(["functions", "deploy", f.name.as_str(), "--gen2", "--quiet"])
                .args([
                    format!("--region={}", scope.var(vars::REGION)),
                    format!("--project={}", scope.var(vars::PROJECT)),
                    format!("--runtime={}", literal(&f.runtime)),
                    format!("--entry-point={}", literal(&f.entry_point)),
                    format!("--source={}", literal(&f.source)),
                    format!("--service-account={sa}"),
                    format!("--build-service-account={}", scope.var(vars::FUNCTIONS_SA_RESOURCE)),
                ])
                .args(trigger)
                .after(after)
                .timeout(1200)
        })
        .collect()
}

/// The ids of some steps.
pub fn ids(steps: &[Step]) -> Vec<String> {
    steps.iter().map(|s| s.id.clone()).collect()
}
