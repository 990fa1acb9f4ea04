//! Deploys of one workflow take turns: `take-turn`, the first step of `cd.yaml` and
//! `release.yaml`, lets nothing that touches the environment run while an older build of the same
//! workflow still deploys, and stops a build that would put an older commit over a newer one.
//!
//! Cloud Build runs every triggered build at once; it has no per-trigger concurrency setting
//! (GoogleCloudPlatform/cloud-builders-community#198, #520). Two pushes a few minutes apart would
//! otherwise deploy side by side, and whichever finished last would win the environment's image
//! tags, templates, DAGs and services, even the older commit.
//!
//! The step lists the project's builds of the workflow (its tags) run as its own identity
//! (`gcloud builds list`, <https://cloud.google.com/sdk/gcloud/reference/builds/list>). A build
//! ranks by the date of its commit, the creation of the commit's first build (`createTime`: the
//! push or tag that started it, a release waiting for approval included), so a retry or re-run
//! of an old commit ranks old; a rollback (`_ROLLBACK=<the commit deployed now>`, README) ranks
//! by its own creation, goes only while the commit it names is the last one deployed (the success
//! that finished last), and runs alone: it stops if any other build of the workflow works. Then:
//! - a build of another commit that ranks higher succeeded: stop (fail) without deploying;
//! - a higher-ranked build is working and started no later than this one: stop, it deploys the
//!   newer commit;
//! - a lower-ranked build is working: wait for it to end, unless a higher-ranked one is working
//!   too (then stop: that one waits for the same builds and deploys after them, so at most one
//!   build ever waits);
//! - otherwise: go.
//!
//! Only started (`WORKING`) builds count: a build's step statuses are not updated while it runs
//! (the API's `BuildStep.status`), so whether a build has decided is known from its start alone,
//! and its first step decides. A build's `startTime` never changes, so any two working builds
//! agree on which started first: the older goes first if it did, else it stops; the newer waits.
//!
//! Builds of other identities are ignored, so someone who can start builds but is not this
//! workflow cannot hold its deploys back; the step fails if its own build does not show its
//! identity the way it compares (`serviceAccount` ends with the email). Listing needs
//! `cloudbuild.builds.list` on the project (`roles/cloudbuild.builds.viewer`, `iam::ci`; the
//! proof's act is `ReadBuilds`). Listings are filtered by the server and read whole
//! (`--limit=unlimited`), so their order does not matter.

use super::build::{Step, GCLOUD};
use super::subst::{literal, var, Live, ROLLBACK};
use crate::model::delivery::{variables as vars, Stage, Workflow};
use crate::model::Model;

/// The id of the step that takes the turn.
pub const TAKE_TURN: &str = "take-turn";

/// Reads the workflow's build history once (dating each commit; only the fields [`DECIDE`] reads,
/// so a long history stays small), then lists the project's ongoing builds and the successes
/// since this build's date and asks [`DECIDE`] what to do, every `$POLL_SECONDS` while an older
/// build works, for up to `$WAIT_SECONDS`. A listing that fails is an error, never "no other
/// build".
const SCRIPT: &str = r#"set -euo pipefail
: "$${RUNNER:?RUNNER, the identity this build runs as, is not set}"
echo "take-turn: build $$BUILD of commit $$SHA as $$RUNNER; _ROLLBACK='$$ROLLBACK'"
filter="tags=$${TAGS// / AND tags=}"
denied() {
  echo "cannot list this project's builds tagged $$TAGS as $$RUNNER (the error is above)." >&2
  echo "If it is PERMISSION_DENIED: the identity needs roles/cloudbuild.builds.viewer on $$PROJECT, which this" >&2
  echo "environment's Terraform grants; before that apply: gcloud projects add-iam-policy-binding $$PROJECT" >&2
  echo "  --member=serviceAccount:$$RUNNER --role=roles/cloudbuild.builds.viewer" >&2
  exit 1
}
fields="id,status,createTime,startTime,finishTime,serviceAccount,substitutions.COMMIT_SHA,substitutions._ROLLBACK"
list() { gcloud builds list --region="$$REGION" --limit=unlimited --format="json($$fields)" "$$@"; }
deadline=$$((SECONDS + WAIT_SECONDS))
history="$$(list --page-size=100 --filter="$$filter")" || denied
dated="$$(printf '%s\n' "$$history" | python3 -c "$$DECIDE" date "$$BUILD" "$$RUNNER" "$$ROLLBACK")"
since="$${dated%%$$'\n'*}"
firsts="$${dated#*$$'\n'}"
while :; do
  ongoing="$$(list --ongoing --filter="$$filter")" || denied
  succeeded="$$(list --filter="$$filter AND status=SUCCESS AND create_time>\"$$since\"")" || denied
  verdict="$$(printf '%s\n%s\n%s\n' "$$firsts" "$$ongoing" "$$succeeded" | python3 -c "$$DECIDE" turn "$$BUILD" "$$RUNNER" "$$ROLLBACK")"
  case "$$verdict" in
    go) echo "no older build tagged $$TAGS is deploying: going on"; exit 0 ;;
    wait\ *)
      if (( SECONDS >= deadline )); then
        echo "older builds still deploying after $$WAIT_SECONDS s: $${verdict#wait }." >&2
        echo "This build deployed nothing; the next push (or tag) deploys a newer commit." >&2
        exit 1
      fi
      echo "waiting for older builds to end: $${verdict#wait }"
      sleep "$$POLL_SECONDS" ;;
    *) echo "$$verdict" >&2; exit 1 ;;
  esac
done"#;

/// `date BUILD RUNNER ROLLBACK` reads the workflow's builds and prints this build's date (the
/// first build of its commit; its own creation for a rollback), then, on the next line, the date
/// of every commit (JSON). A rollback must name the commit deployed now, which it replaces.
/// `turn BUILD RUNNER ROLLBACK` reads those dates, the ongoing builds and the successes since this
/// build's date, and prints `go`, `wait <ids>`, or why the build stops. A build ranks by its
/// commit's date, a rollback by its own creation, ties by creation. Times are RFC 3339 in UTC with
/// up to nine fractional digits, compared as numbers.
const DECIDE: &str = r#"import json, sys
mode, me_id, runner, rollback = sys.argv[1:5]
text, docs, decoder = sys.stdin.read(), [], json.JSONDecoder()
while text.strip():
    doc, end = decoder.raw_decode(text.strip())
    docs.append(doc)
    text = text.strip()[end:]
def instant(t):
    whole, _, fraction = t.replace("+00:00", "Z").rstrip("Z").partition(".")
    return whole, int((fraction + "000000000")[:9])
def ours(b):
    return b.get("serviceAccount", "").rsplit("/", 1)[-1] == runner
def commit(b):
    return b.get("substitutions", {}).get("COMMIT_SHA", "?")
def rolls_back(b):
    return rollback if b.get("id") == me_id else b.get("substitutions", {}).get("_ROLLBACK", "")
def find_me(builds):
    mine = [b for b in builds if b.get("id") == me_id]
    if not mine or not mine[0].get("startTime"):
        sys.exit("build " + me_id + " is not among the started builds listed")
    if not ours(mine[0]):
        sys.exit("this build runs as " + mine[0].get("serviceAccount", "?") + ", not as " + runner + ": its builds cannot be told apart")
    return mine[0]
if mode == "date":
    history = [b for b in docs[0] if ours(b)]
    me = find_me(docs[0])
    firsts = {}
    for b in sorted(history, key=lambda b: instant(b["createTime"])):
        if not rolls_back(b):
            firsts.setdefault(commit(b), b["createTime"])
    if rollback:
        # What finished last deployed last: deploys take turns, in rank order, not creation order.
        done = [b for b in history if b.get("status") == "SUCCESS" and b["id"] != me_id]
        last = max(done, key=lambda b: instant(b.get("finishTime") or b["createTime"]), default=None)
        deployed = commit(last) if last else "nothing"
        if len(rollback) < 7 or not last or not deployed.startswith(rollback):
            sys.exit("_ROLLBACK=" + rollback + " must name (at least 7 characters of) the commit deployed here, which the rollback replaces: " + deployed)
    print(me["createTime"] if rollback else firsts.get(commit(me), me["createTime"]))
    print(json.dumps(firsts))
    sys.exit()
firsts, ongoing, succeeded = docs
def rank(b):
    own = instant(b["createTime"])
    dated = own if rolls_back(b) or commit(b) not in firsts else min(own, instant(firsts[commit(b)]))
    return dated, own, b["id"]
me = find_me(ongoing)
mine = rank(me)
later = [b for b in succeeded if ours(b) and commit(b) != commit(me) and rank(b) > mine]
others = [b for b in ongoing if ours(b) and b["id"] != me_id and b.get("status") == "WORKING"]
newer = [b for b in others if rank(b) > mine]
older = sorted((b for b in others if rank(b) < mine), key=rank)
first_started = [b for b in newer if instant(b.get("startTime") or "9999") <= instant(me["startTime"])]
stop = " stops without deploying commit " + commit(me)
if rollback and others:
    # A rollback replaces the commit it named, which any other build may replace first: it
    # neither waits nor overtakes, it runs alone.
    b = min(others, key=rank)
    print("build " + b["id"] + " of commit " + commit(b) + " is working here: this rollback"
          + stop + "; run it again when no other build of this workflow runs")
elif later:
    b = max(later, key=lambda b: instant(b["createTime"]))
    print("build " + b["id"] + " deployed newer commit " + commit(b) + " here: this build" + stop
          + " (to roll back to it on purpose, run the trigger on it with --substitutions=_ROLLBACK=" + commit(b) + ")")
elif first_started or (older and newer):
    b = max(newer, key=rank)
    print("build " + b["id"] + " of newer commit " + commit(b) + " deploys here after the builds before it: this build" + stop)
else:
    print("wait " + " ".join(b["id"] for b in older) if older else "go")"#;

/// How long a build waits for an older one to end; then it stops, and the next push deploys.
/// The build's timeout leaves room for it (`budget.rs`).
const WAIT_SECONDS: u32 = 7200;

/// The longest `take-turn` may run: what a build's timeout must leave room for.
const LONGEST_WAIT: u32 = WAIT_SECONDS + 120;

/// Steps that change nothing outside the build and may run before the turn: image builds,
/// function archives, and a release's wait for its commit's deployment.
fn before_turn(id: &str) -> bool {
    id.starts_with("build-") || id.starts_with("package-function-") || id == "wait-deployed"
}

/// Puts [`TAKE_TURN`] first in a deploying workflow's `steps` (in dependency order) and makes
/// every step but those [`before_turn`] wait for it, directly or through a step it waits for.
pub fn take(model: &Model, workflow: Workflow, steps: Vec<Step>) -> Vec<Step> {
    let tags = super::tags(model, workflow).iter().map(|t| literal(t)).collect::<Vec<_>>().join(" ");
    let turn = Step::new(TAKE_TURN, GCLOUD)
        .entrypoint("bash")
        .env("REGION", Stage::Current.var(vars::REGION))
        .env("PROJECT", Stage::Current.var(vars::PROJECT))
        .env("TAGS", tags)
        .env("BUILD", var("BUILD_ID"))
        .env("RUNNER", var("SERVICE_ACCOUNT_EMAIL"))
        .env("SHA", var("COMMIT_SHA"))
        .env("ROLLBACK", var(ROLLBACK))
        .env("WAIT_SECONDS", WAIT_SECONDS.to_string())
        .env("POLL_SECONDS", "30")
        .env("DECIDE", DECIDE)
        .args(["-c", SCRIPT])
        .timeout(LONGEST_WAIT);
    let mut in_turn = std::collections::BTreeSet::from([TAKE_TURN.to_owned()]);
    let mut out = vec![turn];
    for mut step in steps {
        if !before_turn(&step.id) {
            if !step.wait_for.iter().any(|w| in_turn.contains(w)) {
                step.wait_for.retain(|w| w != "-");
                step.wait_for.push(TAKE_TURN.to_owned());
            }
            in_turn.insert(step.id.clone());
        }
        out.push(step);
    }
    out
}
