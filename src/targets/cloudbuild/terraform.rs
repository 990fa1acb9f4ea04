//! Terraform in the builds (`ci.terraform`): pull requests plan every environment, CD and
//! releases apply the environment they deploy into.
//!
//! Each environment is planned and applied in a copy of the generated `terraform/` folder in a
//! volume (so parallel `init`s with different backends never share `.terraform`), with the
//! environment's `env/<env>.backend.hcl` and `env/<env>.tfvars`. The build's own identity only
//! impersonates: the google provider and the gcs backend mint tokens for the environment's plan
//! or apply SA (`GOOGLE_IMPERSONATE_SERVICE_ACCOUNT`, and `GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT`
//! for the backend: hashicorp/terraform#32557; provider:
//! <https://registry.terraform.io/providers/hashicorp/google/latest/docs/guides/provider_reference#impersonate_service_account>).
//!
//! - PR: `tf-init-<env>` → `tf-plan-<env>` (`-lock=false`: a PR never takes the state lock), then
//!   `terraform-plans` prints every plan's summary and the full plans, top to bottom.
//! - CD / release: `tf-init` → `tf-drift` (`plan -refresh-only -detailed-exitcode`: exit 2 = the
//!   real resources differ from the state; `allowExitCodes: [2]`, so the build shows the step
//!   failed and goes on, while any other failure fails the build) and `tf-plan` (`-out`, under the lock) → `tf-apply`, which applies exactly that saved
//!   plan: Terraform refuses a saved plan once the state changed after it was made
//!   (<https://developer.hashicorp.com/terraform/cli/commands/apply#saved-plan-mode>) and holds the
//!   state lock while applying (<https://developer.hashicorp.com/terraform/language/backend/gcs>).
//! - A release initialises after `plan-fetch`, with the dependency lock file inside the reviewed
//!   plan: a saved plan applies only with the providers it was made with.
//! - Every command that takes the lock waits for it up to 15 minutes (`-lock-timeout=15m`, less
//!   than the plan step's timeout; Terraform's default is 0s: "Error acquiring the state lock" at
//!   once), so a build pushed while an earlier one applies plans after that apply instead of
//!   failing (<https://developer.hashicorp.com/terraform/cli/commands/plan>, `-lock-timeout`). A
//!   plan made before another build's apply still fails as stale, which keeps an older build
//!   from applying over a newer one.

use super::build::{Step, GCLOUD};
use super::deploy::output_path;
use super::subst::{literal, Live};
use crate::model::delivery::{variables as vars, Stage};
use crate::model::{paths, terraform_access, Model, SaRole};

/// The volume holding each environment's working copy, plan and provider plugins.
const VOLUME: (&str, &str) = ("terraform", "/tf-work");

/// Copies the module (`$1`) into `$WORK` and initialises it against `$ENV`'s backend; with `$2`,
/// the dependency lock file to install the providers of (a release: the one its reviewed plan
/// was made with, so the apply doesn't meet a provider released since the review).
const INIT: &str = "set -eu
rm -rf \"$$WORK\"
mkdir -p \"$$WORK\"
cp -R \"$$1/.\" \"$$WORK/\"
if [ -n \"$${2:-}\" ]; then
  cp \"$$2\" \"$$WORK/.terraform.lock.hcl\"
fi
terraform -chdir=\"$$WORK\" init -input=false -reconfigure -backend-config=\"env/$$ENV.backend.hcl\"";

/// Plans `$ENV` into `$WORK/plan.tfplan` and writes its text to `plan.txt`; `$@` are extra
/// `plan` flags.
const PLAN: &str = "set -eu
cd \"$$WORK\"
terraform plan -input=false -lock-timeout=15m -no-color -var-file=\"env/$$ENV.tfvars\" -out=plan.tfplan \"$$@\"
terraform show -no-color plan.tfplan > plan.txt";

/// Prints the semantic diff (when the PR build made one), then, for every environment named in
/// `$@`, the plan's summary (one line per resource change and the `Plan:` line), then every full
/// plan: what a reviewer reads top to bottom.
const SUMMARY: &str = "set -eu
if [ -f /diff/semantic.txt ]; then
  echo \"==== mlopsgen diff: this pull request against its base branch ====\"
  cat /diff/semantic.txt
  echo
fi
for env in \"$$@\"; do
  echo \"==== terraform plan: $$env ====\"
  grep -E '^  # |^Plan: |^No changes|^Changes to Outputs' \"/tf-work/$$env/plan.txt\" || true
done
for env in \"$$@\"; do
  echo
  echo \"==== full plan: $$env ====\"
  cat \"/tf-work/$$env/plan.txt\"
done";

/// Reports drift: exit 2 when refreshing would change the state.
const DRIFT: &str = "set -u
cd \"$$WORK\"
terraform plan -input=false -lock=false -refresh-only -detailed-exitcode -no-color -var-file=\"env/$$ENV.tfvars\"
code=$$?
case \"$$code\" in
  0) echo \"$$ENV: no drift\" ;;
  2) echo \"$$ENV: DRIFT: resources changed outside Terraform (above); tf-apply applies the code again\" >&2 ;;
esac
exit \"$$code\"";

/// Applies the saved plan `$1` (under the state lock; refused if the state changed since),
/// printing it first when `$2` is `show` (a plan made by another build).
const APPLY: &str = "set -eu
cd \"$$WORK\"
if [ \"$${2:-}\" = show ]; then
  echo \"==== applying this plan, published for $$ENV at commit $$SHA by the review build ====\"
  terraform show -no-color \"$$1\"
fi
terraform apply -input=false -lock-timeout=15m \"$$1\"";

/// Publishes `$WORK/plan.txt` and `$WORK/plan.tfplan` under `$PLANS` (create only: a published
/// plan is never replaced), records the plan's sha256 as the step's output (what `plan-fetch`
/// checks; Cloud Build keeps the first 4 KB of `$BUILDER_OUTPUT/output` as the build's
/// `results.buildStepOutputs`), then prints the summary and the full plan: what the approver reads.
const PUBLISH: &str = "set -euo pipefail
for f in plan.txt plan.tfplan; do
  if ! gcloud storage cp --if-generation-match=0 \"$$WORK/$$f\" \"$$PLANS/$$f\"; then
    echo \"$$PLANS/$$f: a plan for this commit was published already and is never replaced; to plan again, delete it (versioning keeps it) and re-run this build\" >&2
    exit 1
  fi
done
sha256sum \"$$WORK/plan.tfplan\" | cut -d' ' -f1 > \"$${BUILDER_OUTPUT:-/builder/outputs}/output\"
echo \"==== reviewed plan for $$ENV at commit $$SHA: $$PLANS ====\"
grep -E '^  # |^Plan: |^No changes|^Changes to Outputs' \"$$WORK/plan.txt\" || true
echo
cat \"$$WORK/plan.txt\"";

/// Prints the plan digest the newest successful review build in the JSON list on stdin recorded
/// (its `plan-publish` step's output), among builds that ran as `argv[1]`, or nothing.
const RECORDED_DIGEST: &str = "import base64, json, sys
for build in sorted(json.load(sys.stdin), key=lambda b: b.get(\"createTime\", \"\"), reverse=True):
    if build.get(\"serviceAccount\", \"\").rsplit(\"/\", 1)[-1] != sys.argv[1]:
        continue
    ids = [step.get(\"id\") for step in build.get(\"steps\", [])]
    outputs = build.get(\"results\", {}).get(\"buildStepOutputs\", [])
    if \"plan-publish\" in ids and ids.index(\"plan-publish\") < len(outputs):
        print(base64.b64decode(outputs[ids.index(\"plan-publish\")]).decode().strip())
        break";

/// Waits (up to `$WAIT_SECONDS`) for this commit's successful review build (`$SHA`, tag
/// `review`, in `$REGION`, run as `$RUNNER`: the promote SA, this build's own identity, which only
/// the triggers run builds as), downloads the plan it published from `$PLANS` into `$REVIEWED` as `$SA`
/// (the apply SA: the build's own identity cannot read the plans), and fails unless the plan's
/// sha256 is the one that build recorded, then takes the providers it was made with from inside
/// it (a plan file is a zip holding the configuration's `.terraform.lock.hcl`: Terraform's
/// `internal/plans/planfile`, `dependencyLocksFilename`), so they are checked with it. Other identities of the project can write objects
/// under `plans/` (the Composer environment's `composer.worker` role covers every bucket of the
/// project), but not a build that runs as `$RUNNER`: a replaced plan is never applied. The build
/// list is piped, not kept in a file, and under `pipefail` a listing that fails part-way fails
/// `recorded` rather than reading as "no review build yet".
const FETCH: &str = "set -euo pipefail
: \"$${RUNNER:?RUNNER, the identity review builds run as, is not set}\"
recorded() {
  gcloud builds list --region=\"$$REGION\" --filter=\"tags=review AND substitutions.COMMIT_SHA=$$SHA AND status=SUCCESS\" --format=json \\
    | python3 -c \"$$RECORDED_DIGEST\" \"$$RUNNER\"
}
deadline=$$((SECONDS + WAIT_SECONDS))
while :; do
  if ! digest=\"$$(recorded)\"; then
    echo \"cannot list this project's review builds as $$RUNNER\" >&2
    exit 1
  fi
  if [ -n \"$$digest\" ]; then
    break
  fi
  if (( SECONDS >= deadline )); then
    echo \"no successful review build for commit $$SHA: run the review trigger for this tag, read its plan, then retry this build\" >&2
    exit 1
  fi
  echo \"waiting for this commit's review build to publish its plan to $$PLANS\"
  sleep 30
done
rm -rf \"$$REVIEWED\"
mkdir -p \"$$REVIEWED\"
gcloud storage cp --impersonate-service-account=\"$$SA\" \"$$PLANS/plan.tfplan\" \"$$PLANS/plan.txt\" \"$$REVIEWED/\"
actual=\"$$(sha256sum \"$$REVIEWED/plan.tfplan\" | cut -d' ' -f1)\"
if [ \"$$actual\" != \"$$digest\" ]; then
  echo \"$$PLANS/plan.tfplan (sha256 $$actual) is not the plan the review build published (sha256 $$digest): it was replaced; delete the folder and run the review trigger again\" >&2
  exit 1
fi
echo \"$$PLANS/plan.tfplan: sha256 $$actual, as the review build recorded\"
python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(\".terraform.lock.hcl\"))' \\
  \"$$REVIEWED/plan.tfplan\" > \"$$REVIEWED/.terraform.lock.hcl\"";

/// Where a release keeps the downloaded reviewed plan (outside the working copy `tf-init` resets).
const REVIEWED: &str = "/tf-work/reviewed";

/// How long a release waits for its review build to publish the plan.
const FETCH_WAIT_SECONDS: u32 = 3600;

/// A Terraform step acting as `sa` on environment `env` in working copy `work`.
fn step(model: &Model, id: String, env: &str, sa: &str, work: &str, script: &str) -> Step {
    let image = model.ci.as_ref().map(|c| literal(&c.terraform_image)).unwrap_or_default();
    let (volume, mount) = VOLUME;
    Step::new(id, image)
        .entrypoint("sh")
        .env("TF_IN_AUTOMATION", "1")
        .env("ENV", env)
        .env("WORK", work)
        .env("GOOGLE_IMPERSONATE_SERVICE_ACCOUNT", sa)
        .env("GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT", sa)
        .args(["-c", script])
        .volume(volume, mount)
}

/// The module folder, relative to the repository root.
fn module(model: &Model) -> String {
    output_path(model, paths::TERRAFORM_DIR)
}

/// PR steps: every environment planned as its plan SA, then the summary (after `diff` too).
pub fn plan_steps(model: &Model, diff: &[String]) -> Vec<Step> {
    if !terraform_access::plans(model) {
        return Vec::new();
    }
    let mut steps = Vec::new();
    let mut plans = Vec::new();
    for env in &model.environments {
        let name = literal(&env.name);
        let sa = env.sa_email(SaRole::Plan);
        let work = format!("{}/{name}", VOLUME.1);
        let init = step(model, format!("tf-init-{}", env.name), &name, &sa, &work, INIT)
            .args(["tf-init".to_owned(), module(model)])
            .timeout(600);
        let plan = step(model, format!("tf-plan-{}", env.name), &name, &sa, &work, PLAN)
            .args(["tf-plan", "-lock=false"])
            .after(std::slice::from_ref(&init.id))
            .timeout(1200);
        plans.push(plan.id.clone());
        steps.extend([init, plan]);
    }
    let (volume, mount) = VOLUME;
    let image = model.ci.as_ref().map(|c| literal(&c.terraform_image)).unwrap_or_default();
    let mut summary = Step::new("terraform-plans", image)
        .entrypoint("sh")
        .args(["-c", SUMMARY, "terraform-plans"])
        .args(model.environments.iter().map(|e| literal(&e.name)))
        .volume(volume, mount);
    if !diff.is_empty() {
        let (volume, mount) = super::pr::DIFF;
        summary = summary.volume(volume, mount);
        plans.extend(diff.iter().cloned());
    }
    steps.push(summary.after(&plans).timeout(120));
    steps
}

/// The folder of the reviewed plan for this commit in the stage's state bucket.
fn plans_folder(stage: Stage) -> String {
    format!("gs://{}/{}/{}", stage.var(vars::STATE_BUCKET), paths::REVIEWED_PLANS, super::subst::var("COMMIT_SHA"))
}

/// `review.yaml` (with [`terraform_access::reviews`]): what a release tag runs beside the
/// release, in the same environment: the next environment planned as its plan SA (read-only,
/// `-lock=false`) and the plan published under `plans/<COMMIT_SHA>/` in that environment's state
/// bucket and printed. The release applies exactly that file ([`apply_steps`]).
pub fn review_steps(model: &Model) -> Vec<Step> {
    if !terraform_access::reviews(model) {
        return Vec::new();
    }
    let next = Stage::Next;
    let (env, sa) = (next.var(vars::ENV), next.var(vars::PLAN_SA));
    let work = format!("{}/work", VOLUME.1);
    let init = step(model, "tf-init".to_owned(), &env, &sa, &work, INIT).args(["tf-init".to_owned(), module(model)]).timeout(600);
    let plan = step(model, "tf-plan".to_owned(), &env, &sa, &work, PLAN)
        .args(["tf-plan", "-lock=false"])
        .after(std::slice::from_ref(&init.id))
        .timeout(1200);
    let (volume, mount) = VOLUME;
    let publish = Step::new("plan-publish", GCLOUD)
        .entrypoint("bash")
        .env("ENV", &env)
        .env("WORK", &work)
        .env("SHA", super::subst::var("COMMIT_SHA"))
        .env("PLANS", plans_folder(next))
        .args(["-c", PUBLISH])
        .volume(volume, mount)
        .after(std::slice::from_ref(&plan.id))
        .timeout(300);
    vec![init, plan, publish]
}

/// CD / release steps applying the stage's environment as its apply SA, after `after`, with the
/// apply itself also after `apply_after`; the last id is what deploys wait for. CD plans and
/// applies its own plan; a release (with [`terraform_access::reviews`]) applies the plan its
/// review build published for the commit, fetched by `plan-fetch`.
pub fn apply_steps(model: &Model, stage: Stage, after: &[String], apply_after: &[String]) -> Vec<Step> {
    if !terraform_access::applies(model) {
        return Vec::new();
    }
    let env = stage.var(vars::ENV);
    let sa = stage.var(vars::APPLY_SA);
    let work = format!("{}/work", VOLUME.1);
    // A release applies the plan its review build published; CD plans and applies its own.
    let reviewed = stage == Stage::Next && terraform_access::reviews(model);
    let fetch = reviewed.then(|| {
        let (volume, mount) = VOLUME;
        Step::new("plan-fetch", GCLOUD)
            .entrypoint("bash")
            .env("SA", &sa)
            .env("PLANS", plans_folder(stage))
            .env("REVIEWED", REVIEWED)
            .env("WAIT_SECONDS", FETCH_WAIT_SECONDS.to_string())
            .env("REGION", Stage::Current.var(vars::REGION))
            .env("SHA", super::subst::var("COMMIT_SHA"))
            .env("RUNNER", Stage::Current.var(vars::PROMOTE_SA))
            .env("RECORDED_DIGEST", RECORDED_DIGEST)
            .args(["-c", FETCH])
            .volume(volume, mount)
            .after(after)
            .timeout(FETCH_WAIT_SECONDS + 300)
    });
    // A saved plan applies only with the providers it was made with (Terraform: "Inconsistent
    // dependency lock file"), and a release may run days after its review: it initialises with
    // the lock file inside the reviewed plan.
    let init = step(model, "tf-init".to_owned(), &env, &sa, &work, INIT)
        .args(["tf-init".to_owned(), module(model)])
        .args(fetch.as_ref().map(|_| format!("{REVIEWED}/.terraform.lock.hcl")))
        .after(fetch.as_ref().map_or(after, |f| std::slice::from_ref(&f.id)))
        .timeout(600);
    let ready = std::slice::from_ref(&init.id);
    // `allowExitCodes`: with exit 2 the step has a failure status and the build succeeds
    // (https://cloud.google.com/build/docs/build-config-file-schema#allowexitcodes).
    let mut drift = step(model, "tf-drift".to_owned(), &env, &sa, &work, DRIFT).after(ready).timeout(1200);
    drift.allow_exit_codes = vec![2];
    let (plan, file) = match fetch {
        Some(fetch) => (fetch, format!("{REVIEWED}/plan.tfplan")),
        None => (step(model, "tf-plan".to_owned(), &env, &sa, &work, PLAN).args(["tf-plan"]).after(ready).timeout(1200), "plan.tfplan".to_owned()),
    };
    let mut waits = vec![init.id.clone(), plan.id.clone(), drift.id.clone()];
    waits.extend(apply_after.iter().cloned());
    let apply = step(model, "tf-apply".to_owned(), &env, &sa, &work, APPLY)
        .env("SHA", super::subst::var("COMMIT_SHA"))
        .args(["tf-apply".to_owned(), file])
        .args(reviewed.then(|| "show".to_owned()))
        .after(&waits)
        .timeout(3600);
    // A step waits only for steps before it in the config (Cloud Build): the fetch precedes init.
    if reviewed {
        vec![plan, init, drift, apply]
    } else {
        vec![init, drift, plan, apply]
    }
}
