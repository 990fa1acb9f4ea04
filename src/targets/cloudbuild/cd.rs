//! `cd.yaml`: what a push to the main branch runs in the first environment.
//!
//! Every image is built in parallel (BuildKit, cached from the environment's tag) and pushed with
//! the commit and environment tags; once all are pushed, the pipeline templates are uploaded, the
//! DAGs synced, services and functions deployed, and optionally the training pipeline started;
//! last, the images are marked deployed (what a release waits for).

use super::build::{path_arg, Step, AIPLATFORM, DOCKER, PYTHON};
use super::deploy::{self, ids, output_path};
use super::schedule;
use super::subst::{literal, var, Live};
use super::terraform;
use crate::model::delivery::{self, variables as vars, Stage, REVISION_ARG};
use crate::model::{paths, Model};

/// Submits the pipeline run described by the step's environment and prints its resource name.
const SUBMIT_PIPELINE: &str = "import os

from google.cloud import aiplatform

aiplatform.init(project=os.environ[\"PROJECT\"], location=os.environ[\"REGION\"])
job = aiplatform.PipelineJob(
    display_name=os.environ[\"DISPLAY_NAME\"],
    template_path=os.environ[\"TEMPLATE_URI\"],
    pipeline_root=os.environ[\"PIPELINE_ROOT\"],
)
job.submit(service_account=os.environ[\"SERVICE_ACCOUNT\"])
print(\"submitted\", job.resource_name)";

/// The CD steps and the images they push.
pub fn steps(model: &Model) -> (Vec<Step>, Vec<String>) {
    let (mut steps, images) = build_images(model);
    let mut pushes: Vec<String> = steps.iter().filter(|s| s.id.starts_with("push-")).map(|s| s.id.clone()).collect();
    // With `ci.terraform.apply`, deploys wait for the environment's apply, and the apply for the
    // functions' sources: Terraform creates a function from the source uploaded for it.
    let sources = deploy::stage_functions(model, Stage::Current, &pushes);
    let infra = terraform::apply_steps(model, Stage::Current, &[], &deploy::staged_ids(&sources));
    pushes.extend(infra.last().map(|s| s.id.clone()));
    steps.extend(sources);
    steps.extend(infra);
    let pushed = deploy::join(&mut steps, "images-pushed", pushes);
    let uploads = deploy::upload_templates(model, Stage::Current, &pushed);
    let uploaded = if uploads.is_empty() { pushed.clone() } else { ids(&uploads) };
    steps.extend(uploads);
    steps.extend(deploy::sync_dags(model, Stage::Current, &uploaded));
    steps.extend(schedule::steps(model, Stage::Current, &uploaded));
    steps.extend(deploy::deploy_services(model, Stage::Current, &pushed));
    steps.extend(deploy::deploy_functions(model, Stage::Current, &pushed));
    steps.extend(run_pipeline(model, &uploaded));
    let mark = deploy::mark_deployed(model, Stage::Current, &steps);
    steps.extend(mark);
    (steps, images)
}


/// Build and push steps for every image, and the pushed references.
fn build_images(model: &Model) -> (Vec<Step>, Vec<String>) {
    let env = Stage::Current.var(vars::ENV);
    let mut steps = Vec::new();
    let mut images = Vec::new();
    for image in &model.images {
        let repo = format!("{}/{}", Stage::Current.var(vars::DOCKER_REPO), image.key);
        let (commit_tag, env_tag) = (format!("{repo}:{}", var("SHORT_SHA")), format!("{repo}:{env}"));
        let build = Step::new(format!("build-{}", image.key), DOCKER)
            .env("DOCKER_BUILDKIT", "1")
            .args([
                "build".to_owned(),
                format!("--file={}", output_path(model, &paths::dockerfile(&image.key))),
                format!("--cache-from={env_tag}"),
                "--build-arg=BUILDKIT_INLINE_CACHE=1".to_owned(),
                format!("--build-arg={REVISION_ARG}={}", var("COMMIT_SHA")),
                format!("--tag={commit_tag}"),
                format!("--tag={env_tag}"),
                path_arg(literal(&image.context)),
            ])
            .timeout(3600);
        let push = Step::new(format!("push-{}", image.key), DOCKER)
            .args(["push", "--all-tags", repo.as_str()])
            .after(std::slice::from_ref(&build.id))
            .timeout(900);
        steps.extend([build, push]);
        images.extend([commit_tag, env_tag]);
    }
    (steps, images)
}

/// Starts `ci.run_pipeline` from the template just uploaded, as the pipelines service account.
fn run_pipeline(model: &Model, after: &[String]) -> Option<Step> {
    let pipeline = delivery::run_pipeline(model)?;
    let current = |name: &str| Stage::Current.var(name);
    Some(
        Step::new(format!("run-{}", pipeline.key), PYTHON)
            .entrypoint("sh")
            .env("PROJECT", current(vars::PROJECT))
            .env("REGION", current(vars::REGION))
            .env("DISPLAY_NAME", format!("{}-{}", pipeline.name, var("SHORT_SHA")))
            .env("TEMPLATE_URI", current(vars::RUN_TEMPLATE_URI))
            .env("PIPELINE_ROOT", current(vars::RUN_PIPELINE_ROOT))
            .env("SERVICE_ACCOUNT", current(vars::PIPELINES_SA))
            .args([
                "-c".to_owned(),
                format!("pip install --quiet --no-cache-dir '{AIPLATFORM}' && exec python -c \"$$1\""),
                "run-pipeline".to_owned(),
                SUBMIT_PIPELINE.to_owned(),
            ])
            .after(after)
            .timeout(900),
    )
}
