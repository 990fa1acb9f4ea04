//! Steps that put a commit's artifacts into one environment: pipeline templates into its KFP
//! repository, DAGs into its Composer bucket, images into its Cloud Run services, sources into
//! its Cloud Functions. CD runs them for the build's environment, a release for the next one.
//!
//! Terraform owns each service's and function's configuration (scaling, environment, IAM, event
//! triggers) and ignores the code these steps move: the image built for this commit, or the
//! function's zipped source, uploaded to [`Function::source_object`] in the pipeline-root bucket.
//! Services are updated, never created: Terraform creates them (on a placeholder image). A
//! function is created by Terraform from the source the first CD uploads, so until then its
//! deploy step finds nothing to deploy (see `terraform/bootstrap.sh`). Each deploy names the revision's
//! secret environment variables from the spec (`env: {X: {secret: …}}`), as Terraform does.

use super::build::{path_arg, Step, GCLOUD, PYTHON};
use super::subst::{literal, var, Live};
use crate::model::delivery::{variables as vars, Stage};
use crate::model::access::SecretEnv;
use crate::model::{paths, Function, Model};

/// Defines `pin_images FILE...`: rewrites every reference in the files to an image of
/// `$DOCKER_REPO` (the keys in `$IMAGES`) from its moving tag to the digest of `:$SHA`, the image
/// this build pushed or promoted, so what the files start runs exactly those images; a reference
/// left on a tag fails the step. References are double-quoted strings (JSON, and the DAGs'
/// Python constants). Digests: <https://cloud.google.com/artifact-registry/docs/docker/manage-images#tags>.
macro_rules! pin_images {
    () => {
        "pin_images() {
  for image in $${IMAGES:-}; do
    ref=\"$$DOCKER_REPO/$$image\"
    digest=\"$$(gcloud artifacts docker images describe \"$$ref:$$SHA\" --format='value(image_summary.digest)')\"
    case \"$$digest\" in
      sha256:*) ;;
      *) echo \"no digest for $$ref:$$SHA: '$$digest'\" >&2; exit 1 ;;
    esac
    sed -i \"s|\\\"$$ref:[^\\\"@]*\\\"|\\\"$$ref@$$digest\\\"|g\" \"$$@\"
  done
  if [ -n \"$${DOCKER_REPO:-}\" ] && grep -o \"\\\"$$DOCKER_REPO/[^\\\"@]*:[^\\\"]*\\\"\" \"$$@\"; then
    echo \"these still name images by tag: $$*\" >&2
    exit 1
  fi
}
"
    };
}

/// Uploads a template to the KFP repository in `$KFP_REPO` with the tags in `$TAGS`
/// (comma-separated: the commit, so every version stays addressable, and the environment, which
/// moves); `$1` is the file, in the step's working directory, pinned first (`pin_images`). The
/// pinned copy is a temporary file, removed when the step ends, however it ends: Cloud Build
/// discards a step's container, `/tmp` with it, after the step anyway (only `/workspace` and
/// volumes persist, <https://cloud.google.com/build/docs/configuring-builds/pass-data-between-steps>),
/// so the `trap` is for the step run anywhere else (locally, in the tests). The upload is the
/// repository's documented multipart upload (`tags`, `content`), authenticated as the build
/// (<https://cloud.google.com/artifact-registry/docs/kfp/manage-templates#upload>). It answers
/// `<package>/<version>` (kfp's `RegistryClient.upload_pipeline` reads it so), the version being
/// `sha256:…`; the step writes that version to `$VERSION_FILE` ([`TEMPLATE_VERSIONS`]), for a
/// Vertex AI schedule to run exactly this upload.
const UPLOAD_TEMPLATE: &str = concat!(
    "set -euo pipefail\n",
    pin_images!(),
    "pinned=\"$$(mktemp)\"
trap 'rm -f -- \"$$pinned\"' EXIT
cp -- \"$$1\" \"$$pinned\"
pin_images \"$$pinned\"
if ! answer=\"$$(curl --fail-with-body --silent --show-error -X POST \\
  -H \"Authorization: Bearer $$(gcloud auth print-access-token)\" \\
  -F \"tags=$$TAGS\" \\
  -F \"content=@$$pinned;filename=$$1\" \\
  \"$$KFP_REPO\" 2>&1)\"; then
  echo \"$$answer\" >&2
  exit 1
fi
echo \"uploaded $$answer\"
case \"$$answer\" in
  */sha256:*) printf '%s\\n' \"$${answer##*/}\" > \"$$VERSION_FILE\" ;;
  *) echo \"the repository answered no version: $$answer\" >&2; exit 1 ;;
esac"
);

/// The volume the template uploads write each version to, one file per pipeline
/// ([`template_version_file`]); it outlives the step (<https://cloud.google.com/build/docs/configuring-builds/pass-data-between-steps>).
pub const TEMPLATE_VERSIONS: (&str, &str) = ("template-versions", "/template-versions");

/// The file an upload writes pipeline `p`'s new template version to.
pub fn template_version_file(p: &crate::model::Pipeline) -> String {
    format!("{}/{}", TEMPLATE_VERSIONS.1, literal(&p.key))
}

/// Mirrors the DAG folder `$1` into the Composer folder `$2` (deleting DAGs that no longer
/// exist), each DAG's image references pinned first (`pin_images`), from a temporary copy: a
/// DAG then runs the images of the commit that deployed it, not whatever its environment's tag
/// names later (CD moves the tag when it pushes, before it deploys, and a failed deploy leaves it
/// there).
const SYNC_DAGS: &str = concat!(
    "set -euo pipefail\n",
    pin_images!(),
    "pinned=\"$$(mktemp -d)\"
trap 'rm -rf -- \"$$pinned\"' EXIT
cp -R -- \"$$1/.\" \"$$pinned/\"
mapfile -t dags < <(find \"$$pinned\" -type f -name '*.py')
if [ \"$${#dags[@]}\" -gt 0 ]; then pin_images \"$${dags[@]}\"; fi
gcloud storage rsync --recursive --delete-unmatched-destination-objects \"$$pinned\" \"$$2\""
);

/// Redeploys function `$NAME` from the source at `$OBJECT` (`stage-function-<key>` put it there)
/// — if Terraform has created the function; the flags are the values Terraform gives it. Only a 404
/// answer means "not created yet"; any other failure (permission denied, a wrong project, an
/// outage) fails the step. gcloud's functions commands print an HTTP error as
/// `ResponseError: status=[404], code=[Not Found], message=[…]` (google-cloud-sdk
/// `api_lib/functions/v1/util.py` `GetHttpErrorMessage`, which `FunctionResourceCommand.Run`
/// applies to `describe`), so the status is matched, not the API's `NOT_FOUND` (kept for other
/// formats). The API answers 404 only to a caller allowed `functions.get` above the function
/// (<https://google.aip.dev/211>; `iam::FUNCTION_DEPLOYER`); anyone else gets 403.
const DEPLOY_FUNCTION: &str = "set -euo pipefail
if ! answer=\"$$(gcloud functions describe \"$$NAME\" --region=\"$$REGION\" --project=\"$$PROJECT\" --format='value(name)' 2>&1)\"; then
  case \"$$answer\" in
    *\"status=[404]\"*|*NOT_FOUND*)
      echo \"$$NAME does not exist yet: terraform apply creates it from $$OBJECT\"
      exit 0
      ;;
  esac
  echo \"$$answer\" >&2
  exit 1
fi
secrets=(--clear-secrets)
if [ -n \"$$SECRETS\" ]; then secrets=(--set-secrets=\"$$SECRETS\"); fi
gcloud functions deploy \"$$NAME\" --gen2 --quiet --region=\"$$REGION\" --project=\"$$PROJECT\" \\
  --source=\"$$OBJECT\" --runtime=\"$$RUNTIME\" --entry-point=\"$$ENTRY_POINT\" \\
  --service-account=\"$$SERVICE_ACCOUNT\" --build-service-account=\"$$BUILD_SERVICE_ACCOUNT\" \"$${secrets[@]}\"";

/// The volume the function archives are written to (outside the checkout).
const ARCHIVES: (&str, &str) = ("function-archives", "/function-archives");

/// A path inside the output directory, relative to the repository root (where builds run).
/// `rel` is generator text and may hold live substitutions; the output directory is literal.
pub fn output_path(model: &Model, rel: &str) -> String {
    match model.output_dir.as_str() {
        "" | "." => rel.to_owned(),
        dir => format!("{}/{rel}", literal(dir.trim_end_matches('/'))),
    }
}

/// Uploads every pipeline's compiled template for the stage's environment, tagged with the
/// commit and the environment (so `Environment::template_uri` resolves to it).
pub fn upload_templates(model: &Model, stage: Stage, after: &[String]) -> Vec<Step> {
    let env = stage.var(vars::ENV);
    let upserted = super::schedule::upserted(model);
    model
        .pipelines
        .iter()
        .map(|p| {
            let file = paths::pipeline_json(&env, &p.key);
            let (dir, name) = file.rsplit_once('/').unwrap_or((".", file.as_str()));
            let step = Step::new(format!("upload-{}", p.key), GCLOUD)
                .entrypoint("bash")
                .dir(output_path(model, dir))
                .env("KFP_REPO", stage.var(vars::KFP_REPO))
                .env("TAGS", format!("{},{env}", var("SHORT_SHA")));
            // Only where a schedule step reads the version: Cloud Build rejects a build whose named
            // volume only one step uses (`BuildStep.volumes`: "must be used by at least two build
            // steps").
            let step = if upserted.contains(p.key.as_str()) {
                let (volume, mount) = TEMPLATE_VERSIONS;
                step.env("VERSION_FILE", template_version_file(p)).volume(volume, mount)
            } else {
                step.env("VERSION_FILE", "/dev/null")
            };
            let step = if model.images.is_empty() {
                step
            } else {
                step.env("DOCKER_REPO", stage.var(vars::DOCKER_REPO)).env("IMAGES", image_keys(model)).env("SHA", var("SHORT_SHA"))
            };
            step.args(["-c", UPLOAD_TEMPLATE, "upload-template", name])
                .after(after)
                .timeout(300)
        })
        .collect()
}

/// Mirrors the environment's DAG folder into its Composer bucket ([`SYNC_DAGS`]: pinned, deleting
/// DAGs of pipelines that no longer exist), if any environment has DAGs: the configs serve every environment, and one
/// whose overrides alone schedule on Composer still gets its DAGs (`only_in` skips the step
/// where there are none).
pub fn sync_dags(model: &Model, stage: Stage, after: &[String]) -> Option<Step> {
    crate::model::presence::any_dags(model).then(|| {
        let dags = output_path(model, &paths::dags_dir(&stage.var(vars::ENV)));
        let step = Step::new("sync-dags", GCLOUD).entrypoint("bash");
        let step = if model.images.is_empty() {
            step
        } else {
            step.env("DOCKER_REPO", stage.var(vars::DOCKER_REPO)).env("IMAGES", image_keys(model)).env("SHA", var("SHORT_SHA"))
        };
        step.args(["-c", SYNC_DAGS, "sync-dags"])
            .args([path_arg(dags), stage.var(vars::COMPOSER_DAG_FOLDER)])
            .after(after)
            .timeout(600)
    })
}

/// Rolls each Cloud Run service onto this commit's image (`update` fails rather than create a
/// service Terraform does not know).
pub fn deploy_services(model: &Model, stage: Stage, after: &[String]) -> Vec<Step> {
    model
        .services
        .iter()
        .map(|s| {
            let image = format!("{}/{}:{}", stage.var(vars::DOCKER_REPO), s.image, var("SHORT_SHA"));
            Step::new(format!("deploy-service-{}", s.key), GCLOUD)
                .entrypoint("gcloud")
                .args(["run", "services", "update", s.name.as_str(), "--quiet"])
                .args([
                    format!("--image={image}"),
                    format!("--region={}", stage.var(vars::REGION)),
                    format!("--project={}", stage.var(vars::PROJECT)),
                    format!("--service-account={}", stage.var(vars::SERVING_SA)),
                    secrets_flag(&s.access.secret_env),
                ])
                .after(after)
                .timeout(900)
        })
        .collect()
}

/// The spec's secret environment variables as gcloud's `--set-secrets` list
/// (`NAME=SECRET:VERSION,…`; ids, names and versions hold no `,` or `=`).
fn secrets_list(secrets: &std::collections::BTreeMap<String, SecretEnv>) -> String {
    secrets.iter().map(|(name, s)| format!("{}={}:{}", literal(name), literal(&s.secret), literal(&s.version))).collect::<Vec<_>>().join(",")
}

/// The revision's secrets, exactly the spec's: `--set-secrets` replaces every secret of the
/// previous revision, `--clear-secrets` removes them when the spec has none; without either,
/// `update` would keep whatever the previous revision had
/// (<https://cloud.google.com/sdk/gcloud/reference/run/services/update>,
/// <https://cloud.google.com/sdk/gcloud/reference/functions/deploy>).
fn secrets_flag(secrets: &std::collections::BTreeMap<String, SecretEnv>) -> String {
    if secrets.is_empty() {
        "--clear-secrets".to_owned()
    } else {
        format!("--set-secrets={}", secrets_list(secrets))
    }
}

/// Zips each Cloud Function's source at this commit and uploads it to [`Function::source_object`]
/// (two steps per function): what Terraform creates a function from, and [`deploy_functions`]
/// deploys. With `ci.terraform.apply` the apply waits for these and the deploys for the apply, so
/// a function is deployed into the infrastructure this commit applies, and the apply's grants
/// (`iam::FUNCTION_DEPLOYER`) exist before a deploy needs them.
pub fn stage_functions(model: &Model, stage: Stage, after: &[String]) -> Vec<Step> {
    model.functions.iter().flat_map(|f| stage_function(model, f, stage, after)).collect()
}

fn stage_function(model: &Model, f: &Function, stage: Stage, after: &[String]) -> [Step; 2] {
    let (volume, mount) = ARCHIVES;
    let archive = format!("{mount}/{}.zip", literal(&f.key));
    let package = Step::new(format!("package-function-{}", f.key), PYTHON)
        .entrypoint("python")
        .dir(literal(&f.source))
        .args(["-m", "zipfile", "-c", archive.as_str(), "."])
        .volume(volume, mount)
        .timeout(300);
    let mut waits = after.to_vec();
    waits.push(package.id.clone());
    let upload = Step::new(staged_id(f), GCLOUD)
        .entrypoint("gcloud")
        .args(["storage".to_owned(), "cp".to_owned(), archive, source_url(model, f, stage)])
        .volume(volume, mount)
        .after(&waits)
        .timeout(300);
    [package, upload]
}

/// The id prefix of the steps that upload a function's source (`stage-function-<key>`).
const STAGE_FUNCTION: &str = "stage-function-";

/// The id of the step that uploads a function's source.
fn staged_id(f: &Function) -> String {
    format!("{STAGE_FUNCTION}{}", f.key)
}

/// The ids of the source uploads among `steps` (what an apply that creates functions waits for).
pub fn staged_ids(steps: &[Step]) -> Vec<String> {
    steps.iter().filter(|s| s.id.starts_with(STAGE_FUNCTION)).map(|s| s.id.clone()).collect()
}

/// `gs://<pipeline-root bucket>/<source object>` in the stage's environment.
fn source_url(model: &Model, f: &Function, stage: Stage) -> String {
    let bucket = stage.var(&vars::bucket(&model.pipeline_root_bucket));
    format!("gs://{bucket}/{}", literal(&f.source_object()))
}

/// Deploys each Cloud Function from the source its `stage-function-<key>` step uploaded, after
/// that step and `after` ([`DEPLOY_FUNCTION`]).
pub fn deploy_functions(model: &Model, stage: Stage, after: &[String]) -> Vec<Step> {
    model
        .functions
        .iter()
        .map(|f| {
            let mut waits = after.to_vec();
            waits.push(staged_id(f));
            Step::new(format!("deploy-function-{}", f.key), GCLOUD)
                .entrypoint("bash")
                .env("NAME", literal(&f.name))
                .env("REGION", stage.var(vars::REGION))
                .env("PROJECT", stage.var(vars::PROJECT))
                .env("OBJECT", source_url(model, f, stage))
                .env("RUNTIME", literal(&f.runtime))
                .env("ENTRY_POINT", literal(&f.entry_point))
                .env("SERVICE_ACCOUNT", stage.var(vars::FUNCTIONS_SA))
                .env("BUILD_SERVICE_ACCOUNT", stage.var(vars::FUNCTIONS_SA_RESOURCE))
                .env("SECRETS", secrets_list(&f.access.secret_env))
                .args(["-c", DEPLOY_FUNCTION])
                .after(&waits)
                .timeout(1200)
        })
        .collect()
}

/// Tag prefix that marks an image as deployed with its commit: `deployed-<SHORT_SHA>`.
pub const DEPLOYED: &str = crate::model::delivery::DEPLOYED_TAG_PREFIX;

/// Adds the tag `deployed-<sha>` to each image in `$REPO` (`$IMAGES`, space-separated) at
/// `:<sha>`: the mark a release waits for. `tags add` on an existing tag moves it to the same
/// digest, so a re-run changes nothing.
const MARK_DEPLOYED: &str = "set -euo pipefail
for image in $$IMAGES; do
  gcloud artifacts docker tags add \"$$REPO/$$image:$$SHA\" \"$$REPO/$$image:$$MARK$$SHA\"
done";

/// Waits until every image in `$IMAGES` carries `deployed-<sha>` in `$REPO` (the build that
/// deployed this commit there finished every step), for at most `$WAIT_SECONDS`. Only a
/// `NOT_FOUND` answer means "not yet"; any other error fails at once.
const WAIT_DEPLOYED: &str = "set -euo pipefail
deadline=$$((SECONDS + WAIT_SECONDS))
for image in $$IMAGES; do
  ref=\"$$REPO/$$image:$$MARK$$SHA\"
  until answer=\"$$(gcloud artifacts docker images describe \"$$ref\" --format='value(image_summary.digest)' 2>&1)\"; do
    case \"$$answer\" in
      *NOT_FOUND*|*\"not found\"*) ;;
      *) echo \"$$answer\" >&2; exit 1 ;;
    esac
    if (( SECONDS >= deadline )); then
      echo \"$$ref does not exist: this commit has not been deployed here; deploy it, then retry this build\" >&2
      exit 1
    fi
    echo \"waiting for $$ref\"
    sleep 30
  done
  echo \"$$ref: $$answer\"
done";

/// The last step of a build that deploys a commit into the stage's environment: waits for every
/// step before it, then marks the commit's images there as deployed ([`DEPLOYED`]).
pub fn mark_deployed(model: &Model, stage: Stage, steps: &[Step]) -> Option<Step> {
    if model.images.is_empty() {
        return None;
    }
    Some(
        Step::new("mark-deployed", GCLOUD)
            .entrypoint("bash")
            .env("REPO", stage.var(vars::DOCKER_REPO))
            .env("IMAGES", image_keys(model))
            .env("SHA", var("SHORT_SHA"))
            .env("MARK", DEPLOYED)
            .args(["-c", MARK_DEPLOYED])
            .after(&ids(steps))
            .timeout(300),
    )
}

/// The first step of a release: waits until the commit was deployed into the environment it is
/// promoted from (see [`mark_deployed`]), so nothing is copied before it exists there.
pub fn wait_deployed(model: &Model, stage: Stage, wait_seconds: u32) -> Option<Step> {
    if model.images.is_empty() {
        return None;
    }
    Some(
        Step::new("wait-deployed", GCLOUD)
            .entrypoint("bash")
            .env("REPO", stage.var(vars::DOCKER_REPO))
            .env("IMAGES", image_keys(model))
            .env("SHA", var("SHORT_SHA"))
            .env("MARK", DEPLOYED)
            .env("WAIT_SECONDS", wait_seconds.to_string())
            .args(["-c", WAIT_DEPLOYED])
            .timeout(wait_seconds + 120),
    )
}

/// The image keys, space-separated (keys are lowercase names; no quoting needed).
fn image_keys(model: &Model) -> String {
    model.images.iter().map(|i| literal(&i.key)).collect::<Vec<_>>().join(" ")
}

/// Joins many steps into one id to wait for: with more than one, appends a step `id` that does
/// nothing but wait for them all. Steps that need every image then list one id instead of every
/// push, which keeps a config linear in the images rather than images × pipelines.
pub fn join(steps: &mut Vec<Step>, id: &str, ids: Vec<String>) -> Vec<String> {
    if ids.len() <= 1 {
        return ids;
    }
    steps.push(Step::new(id, GCLOUD).entrypoint("true").after(&ids).timeout(60));
    vec![id.to_owned()]
}

/// The ids of some steps.
pub fn ids(steps: &[Step]) -> Vec<String> {
    steps.iter().map(|s| s.id.clone()).collect()
}
