//! `release.yaml`: what a release tag runs to promote a commit to the next environment.
//!
//! Nothing is rebuilt: each image the commit's CD build pushed is copied by digest into the next
//! environment's repository (the copy must keep the digest, or the step fails), then that
//! environment's templates, DAGs, services and functions are deployed from the same commit.

use super::build::{Step, DOCKER};
use super::deploy::{self, ids};
use super::subst::var;
use super::vars::{self, Scope};
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

/// The release steps and the images they push.
pub fn steps(model: &Model) -> (Vec<Step>, Vec<String>) {
    let next = Scope::Next;
    let mut steps = Vec::new();
    let mut images = Vec::new();
    for image in &model.images {
        let src = format!("{}/{}:{}", Scope::Current.var(vars::DOCKER_REPO), image.key, var("SHORT_SHA"));
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
                .timeout(900),
        );
    }
    let promotions = ids(&steps);
    let promoted = deploy::join(&mut steps, "images-promoted", promotions);
    let uploads = deploy::upload_templates(model, next, &promoted);
    let uploaded = if uploads.is_empty() { promoted.clone() } else { ids(&uploads) };
    steps.extend(uploads);
    steps.extend(deploy::sync_dags(model, next, &uploaded));
    steps.extend(deploy::deploy_services(model, next, &promoted));
    steps.extend(deploy::deploy_functions(model, next, &promoted));
    (steps, images)
}
