//! `release.yaml`: what a release tag runs to promote a commit to the next environment.
//!
//! First it waits until the commit was deployed into this environment (its images carry the
//! `deployed-` mark the deploying build writes last), so a tag pushed early cannot promote what is
//! not there yet. Nothing is rebuilt: each image is copied from that mark (the digest that was
//! deployed, whatever `:<sha>` points at now), by digest, into the next environment's
//! repository (the copy must keep the digest, or the step fails), that environment's templates,
//! DAGs, services and functions are deployed from the same commit, and the copies are marked.

use super::build::{Step, DOCKER};
use super::deploy::{self, ids};
use super::schedule;
use super::subst::{var, Live};
use crate::model::delivery::{variables as vars, Stage};
use crate::model::Model;

/// Copies `$SRC` to the repository `$DST` under each tag in `$TAGS` (space-separated) and fails
/// unless the copy has the source's digest.
const PROMOTE_IMAGE: &str = "set -euo pipefail
docker pull \"$$SRC\"
digest_in() { docker inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' \"$$SRC\" | sed -n \"s|^$$1@||p\"; }
want=\"$$(digest_in \"$${SRC%:*}\")\"
for tag in $$TAGS; do docker tag \"$$SRC\" \"$$DST:$$tag\"; done
docker push --all-tags \"$$DST\"
got=\"$$(digest_in \"$$DST\")\"
echo \"$$SRC ($$want) -> $$DST ($$got)\"
test -n \"$$want\" && test \"$$want\" = \"$$got\"";

/// How long a release waits for the commit's deployment into its own environment (a tag pushed
/// while CD, or the previous release, still runs).
const WAIT_SECONDS: u32 = 7200;

/// The release steps and the images they push.
pub fn steps(model: &Model) -> (Vec<Step>, Vec<String>) {
    let next = Stage::Next;
    let mut steps: Vec<Step> = deploy::wait_deployed(model, Stage::Current, WAIT_SECONDS).into_iter().collect();
    let waited = ids(&steps);
    // The next environment's Terraform is applied once the commit is known deployed here; the
    // copies and deploys wait for it (`ci.terraform.apply`).
    // Functions' sources are uploaded before the apply, which creates them from those (`cd.rs`).
    let sources = deploy::stage_functions(model, next, &waited);
    let infra = super::terraform::apply_steps(model, next, &waited, &deploy::staged_ids(&sources));
    let mut ready = waited.clone();
    ready.extend(infra.last().map(|s| s.id.clone()));
    steps.extend(sources);
    steps.extend(infra);
    let mut images = Vec::new();
    for image in &model.images {
        // The digest `wait-deployed` found deployed, by its mark: `:<sha>` may have moved since
        // (a re-run of CD for this commit rebuilds and pushes it before it deploys, or fails).
        let src = format!("{}/{}:{}{}", Stage::Current.var(vars::DOCKER_REPO), image.key, deploy::DEPLOYED, var("SHORT_SHA"));
        let dst = format!("{}/{}", next.var(vars::DOCKER_REPO), image.key);
        images.push(format!("{dst}:{}", var("SHORT_SHA")));
        images.push(format!("{dst}:{}", next.var(vars::ENV)));
        steps.push(
            Step::new(format!("promote-{}", image.key), DOCKER)
                .entrypoint("bash")
                .env("SRC", &src)
                .env("DST", &dst)
                .env("TAGS", format!("{} {}", var("SHORT_SHA"), next.var(vars::ENV)))
                .args(["-c", PROMOTE_IMAGE])
                .after(&ready)
                .timeout(900),
        );
    }
    let promotions = steps.iter().filter(|s| s.id.starts_with("promote-")).map(|s| s.id.clone()).collect();
    let mut promoted = deploy::join(&mut steps, "images-promoted", promotions);
    if promoted.is_empty() {
        // No image to copy: what follows still waits for the deployment check and the apply.
        promoted = ready;
    }
    let uploads = deploy::upload_templates(model, next, &promoted);
    let uploaded = if uploads.is_empty() { promoted.clone() } else { ids(&uploads) };
    steps.extend(uploads);
    steps.extend(deploy::sync_dags(model, next, &uploaded));
    steps.extend(schedule::steps(model, next, &uploaded));
    steps.extend(deploy::deploy_services(model, next, &promoted));
    steps.extend(deploy::deploy_functions(model, next, &promoted));
    let mark = deploy::mark_deployed(model, next, &steps);
    steps.extend(mark);
    (steps, images)
}
