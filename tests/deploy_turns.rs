//! Deploys take turns (`cloudbuild/turn.rs`): two pushes or two release tags close together must
//! not deploy side by side, and an older commit must never be deployed over a newer one.
//!
//! - In every example's CD and release config, `take-turn` starts with the build and every step
//!   that can touch the environment waits for it; the steps that may run before it change nothing
//!   outside the build (`docker build`, zipping a function, the release's wait for its commit).
//! - The step's script, run with bash against a stand-in `gcloud builds list` that filters as the
//!   server does and answers in no helpful order, decides as the rule says: alone it goes; it
//!   waits for an older build of its identity until that ends; it stops under a newer build that
//!   started first, already succeeded, or waits behind the same older one; a retry of an old
//!   commit stops if another commit deployed since, unless it is a rollback naming the commit
//!   deployed now (`_ROLLBACK=<sha>`);
//!   builds of other identities don't count, and its own must be recognisable; times with and
//!   without fractional seconds compare as times; a refused listing says which grant is missing.
//! - For each order in which two builds start, exactly one of them goes first; and in simulated
//!   runs of two to five pushes, the step's own decision program never lets two builds deploy at
//!   once, deploys commits oldest first, and deploys the newest last.
//! - The identity each such build runs as is proven to hold `cloudbuild.builds.list`.

use mlopsgen::model::actions::Act;
use mlopsgen::model::delivery::{variables, Workflow};
use mlopsgen::model::iam::{Member, Scope};
use mlopsgen::model::paths;
use mlopsgen::proof::{self, roles::Roles};
use serde_json::{json, Value};
use std::path::Path;

mod support;
#[path = "support/subst.rs"]
mod subst_support;
#[path = "support/cloudbuild_config.rs"]
mod cloudbuild_config;
use cloudbuild_config::{steps, strings, upstream};

const SPECS: [&str; 3] = ["flagship", "promotion", "forecast"];

/// A build config of `spec` with the first environment's substitutions, and values for a build.
fn config(c: &mlopsgen::Compilation, workflow: &str) -> Option<Value> {
    let text = c.output.get(&paths::cloudbuild(workflow))?;
    let values = subst_support::for_build(variables(&c.model, &c.model.environments[0]), "abc1234", "me", RUNNER);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&subst_support::expand(text, &values)).unwrap_or_else(|e| panic!("{e}"));
    Some(serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}")))
}

fn compile(spec: &str) -> mlopsgen::Compilation {
    support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("specs/{spec}.yaml")))
}

/// Whether a step that may run before the turn really changes nothing outside the build.
fn local_only(step: &Value) -> bool {
    let id = step["id"].as_str().unwrap_or_default();
    let args = strings(&step["args"]);
    if id.starts_with("build-") {
        return step["name"] == "gcr.io/cloud-builders/docker" && args.first().map(String::as_str) == Some("build");
    }
    if id.starts_with("package-function-") {
        return step["entrypoint"] == "python" && args.starts_with(&["-m".to_owned(), "zipfile".to_owned(), "-c".to_owned()]);
    }
    // Reads the image marks until they exist (`gcloud artifacts docker images describe`).
    id == "wait-deployed" && args.iter().any(|a| a.contains("images describe")) && !args.iter().any(|a| a.contains("tags add"))
}

#[test]
fn nothing_touches_the_environment_before_the_builds_turn() {
    let mut seen = 0;
    for spec in SPECS {
        let c = compile(spec);
        for workflow in [Workflow::Deploy, Workflow::Release] {
            let Some(b) = config(&c, workflow.name()) else { continue };
            seen += 1;
            let all = steps(&b);
            let turn = all.first().unwrap_or_else(|| panic!("{spec}: empty"));
            assert_eq!(turn["id"], "take-turn", "{spec} {}: take-turn is not the first step", workflow.name());
            assert_eq!(strings(&turn["waitFor"]), ["-"], "{spec}: take-turn does not start with the build");
            for step in &all[1..] {
                let id = step["id"].as_str().unwrap_or_default();
                if !upstream(&b, id).contains("take-turn") {
                    assert!(local_only(step), "{spec} {}: `{id}` may run before the build's turn", workflow.name());
                }
            }
            let env = |key: &str| strings(&turn["env"]).iter().find_map(|e| e.strip_prefix(&format!("{key}=")).map(str::to_owned));
            assert_eq!(env("RUNNER").as_deref(), Some(RUNNER), "the turn is not among the builds of the build's own identity");
            assert_eq!(env("TAGS"), Some(format!("mlopsgen {} {}", c.model.project.name, workflow.name())));
            let tags = strings(&b["tags"]);
            assert!(env("TAGS").unwrap_or_default().split(' ').all(|t| tags.iter().any(|x| x == t)), "the builds do not carry the tags the turn lists");
        }
        // Checks and reviews deploy nothing and take no turn.
        for workflow in ["pr", "review"] {
            let text = c.output.get(&paths::cloudbuild(workflow));
            assert!(!text.unwrap_or_default().contains("id: take-turn"), "{spec} {workflow}");
            assert!(workflow == "review" || text.is_some(), "{spec}: no {workflow}.yaml");
        }
    }
    assert_eq!(seen, 6, "every example has a CD and a release config");
}

#[test]
fn every_identity_taking_turns_may_list_its_projects_builds() {
    let roles = Roles::load().unwrap_or_else(|e| panic!("{e}"));
    for spec in SPECS {
        let c = compile(spec);
        let proof = proof::prove(&c.model, &roles);
        assert!(proof.holds(), "{spec}: {:?}", proof.problems);
        for workflow in mlopsgen::model::delivery::workflows(&c.model).into_iter().filter(|w| w.takes_turns()) {
            let listed = proof.actions.iter().any(|p| {
                p.action.member == Member::Sa(workflow.identity())
                    && p.action.act == Act::ReadBuilds
                    && p.action.scope == Scope::Project
                    && p.checks.iter().any(|c| c.permission == "cloudbuild.builds.list" && c.granted_by.is_some())
            });
            assert!(listed, "{spec}: the {} identity is not proven to list builds", workflow.name());
        }
    }
}

/// The identity the builds of the test run as.
const RUNNER: &str = "churn-ci@acme-churn-dev.iam.gserviceaccount.com";

/// A stand-in `gcloud builds list`, filtering as the server does: `$FAKE_BUILDS` holds snapshots
/// of the project's builds (a JSON array of arrays); the n-th `--ongoing` listing shows the n-th
/// snapshot's queued and working builds (the last one from then on), the listing of successes
/// since a time that follows it the same snapshot's, and the whole history (read first) the first
/// snapshot's. It answers oldest first: the step must not rely on the order.
const FAKE_GCLOUD: &str = r#"import json, os, sys
args = sys.argv[1:]
assert args[:2] == ["builds", "list"] and "--limit=unlimited" in args, args
assert any(a.startswith("--format=json(") and "substitutions._ROLLBACK" in a for a in args), args
filt = next(a for a in args if a.startswith("--filter="))[len("--filter="):]
tags = "tags=mlopsgen AND tags=churn AND tags=cd"
assert filt.startswith(tags), filt
rest = filt[len(tags):]
if os.environ.get("FAKE_FAIL"):
    sys.exit("ERROR: (gcloud.builds.list) PERMISSION_DENIED")
def instant(t):
    whole, _, fraction = t.rstrip("Z").partition(".")
    return whole, int((fraction + "000000000")[:9])
snapshots = json.load(open(os.environ["FAKE_BUILDS"]))
snapshot = lambda n: snapshots[max(0, min(n, len(snapshots) - 1))]
calls = os.environ["FAKE_BUILDS"] + ".calls"
n = int(open(calls).read()) if os.path.exists(calls) else 0
if "--ongoing" in args:
    assert rest == "", rest
    open(calls, "w").write(str(n + 1))
    builds = [b for b in snapshot(n) if b["status"] in ("QUEUED", "WORKING")]
elif rest == "":
    builds = snapshot(0)
else:
    prefix = ' AND status=SUCCESS AND create_time>"'
    assert rest.startswith(prefix) and rest.endswith('"'), rest
    since = instant(rest[len(prefix):-1])
    builds = [b for b in snapshot(n - 1) if b["status"] == "SUCCESS" and instant(b["createTime"]) > since]
print(json.dumps(sorted(builds, key=lambda b: instant(b["createTime"]))))
"#;

/// The commit the test's builds are of (`COMMIT_SHA` in [`config`]).
const COMMIT: &str = "abc1234";

/// A build as the API lists it, of commit `commit-of-<id>`.
fn build(id: &str, status: &str, created: &str, started: Option<&str>, account: &str) -> Value {
    of_commit(&format!("commit-of-{id}"), id, status, created, started, account)
}

fn of_commit(commit: &str, id: &str, status: &str, created: &str, started: Option<&str>, account: &str) -> Value {
    let mut b = json!({
        "id": id, "status": status, "createTime": created,
        "serviceAccount": format!("projects/acme-churn-dev/serviceAccounts/{account}"),
        "substitutions": {"COMMIT_SHA": commit},
    });
    if let Some(t) = started {
        b["startTime"] = json!(t);
    }
    b
}

/// The build running the step: commit [`COMMIT`], created at 10:00:00, started at 10:00:05.
fn me() -> Value {
    of_commit(COMMIT, "me", "WORKING", "2026-12-07T10:00:00Z", Some("2026-12-07T10:00:05Z"), RUNNER)
}

/// Runs the flagship CD's `take-turn` with `snapshots` of the project's builds; returns whether
/// it succeeded and its output.
fn take_turn(dir: &Path, snapshots: &[Vec<Value>], extra: &[(&str, &str)]) -> (bool, String) {
    let c = compile("flagship");
    let b = config(&c, "cd").unwrap_or_else(|| panic!("no cd.yaml"));
    let turn = steps(&b).into_iter().find(|s| s["id"] == "take-turn").cloned().unwrap_or_else(|| panic!("no take-turn"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let gcloud = bin.join("gcloud");
    std::fs::write(&gcloud, format!("#!/bin/sh\nexec python3 -c '{}' \"$@\"\n", FAKE_GCLOUD.replace('\'', "'\\''"))).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::process::Command::new("chmod").arg("+x").arg(&gcloud).status();
    let builds = dir.join("builds.json");
    std::fs::write(&builds, json!(snapshots).to_string()).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(dir.join("builds.json.calls"));
    let args = strings(&turn["args"]);
    let script = args.iter().skip_while(|a| *a != "-c").nth(1).unwrap_or_else(|| panic!("no script"));
    let mut command = std::process::Command::new("bash");
    command.args(["-c", script]).env_clear().env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    for entry in strings(&turn["env"]) {
        let (key, value) = entry.split_once('=').unwrap_or_else(|| panic!("{entry}"));
        command.env(key, value);
    }
    command.env("FAKE_BUILDS", &builds).env("POLL_SECONDS", "0");
    for (key, value) in extra {
        command.env(key, value);
    }
    let out = command.output().unwrap_or_else(|e| panic!("{e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A scratch folder, removed when dropped, also when a test fails.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("mlopsgen-turns-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    Scratch(dir)
}

#[test]
fn a_build_waits_for_older_ones_and_never_deploys_over_a_newer_one() {
    let scratch = scratch("rule");
    let dir = &scratch.0;
    let now = [("WAIT_SECONDS", "0")];
    let older = |status: &str, account: &str| build("older", status, "2026-12-07T09:50:00Z", Some("2026-12-07T09:50:03Z"), account);
    let newer = |status: &str, started: Option<&str>| build("newer", status, "2026-12-07T10:00:01Z", started, RUNNER);
    let stopped = |out: &str| out.contains("stops without deploying commit abc1234");

    let (ok, out) = take_turn(dir, &[vec![me()]], &now);
    assert!(ok && out.contains("going on"), "alone: {out}");

    let (ok, out) = take_turn(dir, &[vec![me(), older("WORKING", RUNNER)]], &now);
    assert!(!ok && out.contains("older builds still deploying") && out.contains("deployed nothing"), "an older build deploys: {out}");
    assert!(!out.contains("retry"), "a retry is a new build, the newest: it must not be advised: {out}");

    // It waits while the older build works, and goes once it has ended.
    let (ok, out) = take_turn(dir, &[vec![me(), older("WORKING", RUNNER)], vec![me(), older("SUCCESS", RUNNER)]], &[("WAIT_SECONDS", "600")]);
    assert!(ok && out.contains("waiting for older builds to end: older") && out.contains("going on"), "{out}");

    let (ok, out) = take_turn(dir, &[vec![me(), older("WORKING", "someone@else.iam.gserviceaccount.com")]], &now);
    assert!(ok, "a build of another identity held the deploy back: {out}");

    let (ok, out) = take_turn(dir, &[vec![me(), newer("WORKING", Some("2026-12-07T10:00:04Z"))]], &now);
    assert!(!ok && stopped(&out) && out.contains("commit-of-newer"), "a newer build started first: {out}");

    // A newer build that started after this one waits for it (it sees this one, older, working).
    let (ok, out) = take_turn(dir, &[vec![me(), newer("WORKING", Some("2026-12-07T10:00:06Z"))]], &now);
    assert!(ok, "{out}");
    let (ok, out) = take_turn(dir, &[vec![me(), newer("QUEUED", None)]], &now);
    assert!(ok, "a queued newer build has not decided yet: {out}");
    // With an older build deploying and a newer one waiting for it, this one gives way: only the
    // newest waits, so waits never chain.
    let (ok, out) = take_turn(dir, &[vec![me(), older("WORKING", RUNNER), newer("WORKING", Some("2026-12-07T10:00:06Z"))]], &now);
    assert!(!ok && stopped(&out) && out.contains("commit-of-newer"), "{out}");

    // A newer commit is already deployed (a release approved before an older one).
    let (ok, out) = take_turn(dir, &[vec![me(), newer("SUCCESS", Some("2026-12-07T10:00:04Z"))]], &now);
    assert!(!ok && stopped(&out), "{out}");
    let (ok, out) = take_turn(dir, &[vec![me(), older("SUCCESS", RUNNER)]], &now);
    assert!(ok, "{out}");

    // A retry is a new build of an old commit: the commit dates from its first build, so a
    // commit deployed since wins, unless the retry is a rollback on purpose.
    let first = of_commit(COMMIT, "first", "FAILURE", "2026-12-07T09:40:00Z", Some("2026-12-07T09:40:02Z"), RUNNER);
    let since = build("since", "SUCCESS", "2026-12-07T09:45:00Z", Some("2026-12-07T09:45:02Z"), RUNNER);
    let history = vec![me(), first.clone(), since];
    let (ok, out) = take_turn(dir, std::slice::from_ref(&history), &now);
    assert!(!ok && stopped(&out) && out.contains("--substitutions=_ROLLBACK=commit-of-since"), "a retry rolled back: {out}");
    // A rollback names the commit it replaces: the one deployed now, not one deployed before.
    let (ok, out) = take_turn(dir, std::slice::from_ref(&history), &[("WAIT_SECONDS", "0"), ("ROLLBACK", "commit-of-since")]);
    assert!(ok, "a rollback on purpose was refused: {out}");
    let (ok, out) = take_turn(dir, std::slice::from_ref(&history), &[("WAIT_SECONDS", "0"), ("ROLLBACK", "commit-of-older")]);
    assert!(!ok && out.contains("must name") && out.contains("commit-of-since"), "a stale rollback went: {out}");
    let (ok, out) = take_turn(dir, std::slice::from_ref(&history), &[("WAIT_SECONDS", "0"), ("ROLLBACK", "commi")]);
    assert!(!ok && out.contains("at least 7 characters"), "a rollback named by a prefix of 5 went: {out}");
    // A rollback runs alone: any other build of the workflow may deploy first and replace the
    // commit it names.
    let mut busy = history.clone();
    busy.push(newer("WORKING", Some("2026-12-07T10:00:06Z")));
    let (ok, out) = take_turn(dir, &[busy], &[("WAIT_SECONDS", "600"), ("ROLLBACK", "commit-of-since")]);
    assert!(!ok && out.contains("this rollback stops without deploying") && !out.contains("waiting"), "{out}");
    // The commit deployed now is the success that finished last, not the one created last: a
    // re-run of an old commit ranks old and may deploy before a newer build created earlier.
    let finished = |id: &str, created: &str, done: &str| {
        let mut b = build(id, "SUCCESS", created, Some(created), RUNNER);
        b["finishTime"] = json!(done);
        b
    };
    let deploys = vec![
        me(),
        finished("a", "2026-12-07T09:10:00Z", "2026-12-07T09:20:00Z"),
        finished("c", "2026-12-07T09:30:00Z", "2026-12-07T09:50:00Z"),
        finished("rerun-of-a", "2026-12-07T09:40:00Z", "2026-12-07T09:45:00Z"),
    ];
    let (ok, out) = take_turn(dir, std::slice::from_ref(&deploys), &[("WAIT_SECONDS", "0"), ("ROLLBACK", "commit-of-c")]);
    assert!(ok, "{out}");
    let (ok, out) = take_turn(dir, &[deploys], &[("WAIT_SECONDS", "0"), ("ROLLBACK", "commit-of-rerun-of-a")]);
    assert!(!ok && out.contains("commit-of-c"), "the rollback named a commit deployed before the last: {out}");
    // A retry of an older commit ranks by that commit's first build: it waits behind this build
    // (and gives way to it), not this build behind it, whether it started after or before.
    let b1 = build("b", "FAILURE", "2026-12-07T09:55:00Z", Some("2026-12-07T09:55:02Z"), RUNNER);
    for started in ["2026-12-07T10:00:40Z", "2026-12-07T10:00:02Z"] {
        let mut b2 = build("b2", "WORKING", "2026-12-07T10:00:01Z", Some(started), RUNNER);
        b2["substitutions"]["COMMIT_SHA"] = json!("commit-of-b");
        let (ok, out) = take_turn(dir, &[vec![me(), older("WORKING", RUNNER), b1.clone(), b2]], &now);
        assert!(!ok && out.contains("older builds still deploying") && out.contains("b2"), "a retry of an older commit stopped the newest: {out}");
    }
    // Re-running the commit deployed last is no rollback.
    let deployed = of_commit(COMMIT, "first", "SUCCESS", "2026-12-07T09:40:00Z", Some("2026-12-07T09:40:02Z"), RUNNER);
    let earlier = build("earlier", "SUCCESS", "2026-12-07T09:30:00Z", Some("2026-12-07T09:30:02Z"), RUNNER);
    let (ok, out) = take_turn(dir, &[vec![me(), deployed, earlier]], &now);
    assert!(ok, "{out}");

    // Times compare as times: 10:00:00.100 is after 10:00:00, though "." sorts before "Z".
    let fraction = build("fraction", "WORKING", "2026-12-07T10:00:00.100Z", Some("2026-12-07T10:00:04.5Z"), RUNNER);
    let (ok, out) = take_turn(dir, &[vec![me(), fraction]], &now);
    assert!(!ok && stopped(&out) && out.contains("commit-of-fraction"), "{out}");

    let (ok, out) = take_turn(dir, &[vec![me()]], &[("FAKE_FAIL", "1")]);
    assert!(!ok && out.contains("cannot list this project's builds"), "a failed listing read as no other build: {out}");
    let grant = ["gcloud projects add-iam-policy-binding acme-churn-dev", &format!("--member=serviceAccount:{RUNNER}"), "--role=roles/cloudbuild.builds.viewer"];
    assert!(grant.iter().all(|g| out.contains(g)), "the refused listing does not say which grant is missing: {out}");
    let (ok, out) = take_turn(dir, &[vec![older("WORKING", RUNNER)]], &now);
    assert!(!ok && out.contains("not among the started builds"), "{out}");
    // A build whose identity is listed in another form (a unique id) cannot tell builds apart.
    let mut unique = me();
    unique["serviceAccount"] = json!("projects/acme-churn-dev/serviceAccounts/112233445566778899");
    let (ok, out) = take_turn(dir, &[vec![unique, older("WORKING", RUNNER)]], &now);
    assert!(!ok && out.contains("cannot be told apart"), "{out}");
}

/// Two builds of commits A (older) and B (newer), both working: whatever order they started in,
/// exactly one goes first; when B started first A stops (B then waits for A to end, and deploys),
/// when A started first it goes and B waits. Either way B's commit is deployed last.
#[test]
fn of_two_builds_one_goes_first_and_the_newer_commit_is_deployed_last() {
    let scratch = scratch("pairs");
    let dir = &scratch.0;
    let now = [("WAIT_SECONDS", "0")];
    for (a_start, b_start) in [("10:00:05", "10:00:09"), ("10:00:09", "10:00:05"), ("10:00:05", "10:00:05")] {
        let commit = |id: &str| if id == "me" { COMMIT.to_owned() } else { format!("commit-of-{id}") };
        let a = |id: &str| of_commit(&commit(id), id, "WORKING", "2026-12-07T10:00:00Z", Some(&format!("2026-12-07T{a_start}Z")), RUNNER);
        let b = |id: &str| of_commit(&commit(id), id, "WORKING", "2026-12-07T10:00:02Z", Some(&format!("2026-12-07T{b_start}Z")), RUNNER);
        // Each decides as `me`, with the other listed under its own id.
        let (a_goes, a_out) = take_turn(dir, &[vec![a("me"), b("b")]], &now);
        let (b_goes, b_out) = take_turn(dir, &[vec![b("me"), a("a")]], &now);
        let why = format!("A started {a_start}, B {b_start}:\nA: {a_out}\nB: {b_out}");
        assert!(!(a_goes && b_goes), "both deploy at once: {why}");
        assert!(b_out.contains("older builds still deploying"), "B does not wait for A: {why}");
        if b_start <= a_start {
            assert!(a_out.contains("stops without deploying"), "A would deploy after B: {why}");
        } else {
            assert!(a_goes, "A, started first, does not go: {why}");
        }
    }
}

/// Drives the step's decision program (`DECIDE`, from the committed config) through simulated
/// pushes: builds created in order, each starting after a random queueing delay, polling its turn
/// against a consistent build list, then deploying for a random time; some deploys of older
/// commits fail and are retried later (a new build of the same commit). Checks, for every seed:
/// no two builds ever deploy at once, commits are deployed oldest first, and the newest is
/// deployed last. One Python process runs every scenario.
const SIMULATE: &str = r#"import contextlib, io, json, random, sys
DECIDE, RUNNER = sys.argv[1], sys.argv[2]
def decide(args, stdin):
    out, saved = io.StringIO(), (sys.argv, sys.stdin)
    sys.argv, sys.stdin = ["-c"] + args, io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(DECIDE, {"__name__": "__main__"})
    except SystemExit as e:
        if e.code not in (None, 0):
            raise AssertionError(str(e.code))
    finally:
        sys.argv, sys.stdin = saved
    return out.getvalue().strip()
stamp = lambda s: "2026-12-07T%02d:%02d:%02dZ" % (10 + s // 3600, s // 60 % 60, s % 60)
API = ("id", "createTime", "startTime", "status", "serviceAccount", "substitutions")
api = lambda b: {k: v for k, v in b.items() if k in API}
retried = 0
for seed in range(80):
    rng = random.Random(seed)
    n = rng.randint(2, 5)
    builds = []
    def push(commit, created, fails):
        builds.append({"id": "b%d" % len(builds), "createTime": stamp(created), "created": created, "status": "QUEUED",
                       "start": created + rng.randint(0, 90), "length": rng.randint(5, 200), "fails": fails,
                       "serviceAccount": "projects/p/serviceAccounts/" + RUNNER, "substitutions": {"COMMIT_SHA": commit}})
    for i, t in enumerate(sorted(rng.sample(range(0, 600), n))):
        push("c%d" % i, t, i < n - 1 and rng.random() < 0.3)
    deploying, deployed = None, []
    for now in range(0, 20000):
        if deploying and deploying["until"] == now:
            b, deploying = deploying, None
            b["status"] = "FAILURE" if b["fails"] else "SUCCESS"
            if b["fails"] and rng.random() < 0.7:
                push(b["substitutions"]["COMMIT_SHA"], now + rng.randint(1, 300), False)
                retried += 1
            elif not b["fails"]:
                deployed.append(b["substitutions"]["COMMIT_SHA"])
        order = [b for b in builds if b["created"] <= now]
        rng.shuffle(order)
        for b in order:
            if b["status"] == "QUEUED" and b["start"] == now:
                b["status"], b["startTime"], b["phase"] = "WORKING", stamp(now), "turn"
                history = json.dumps([api(x) for x in builds if x["created"] <= now])
                b["since"], b["firsts"] = decide(["date", b["id"], RUNNER, ""], history).split("\n")
            if b.get("phase") != "turn" or (now - b["start"]) % 3:
                continue
            ongoing = [api(x) for x in builds if x["status"] in ("QUEUED", "WORKING") and x["created"] <= now]
            done = [api(x) for x in builds if x["status"] == "SUCCESS" and x["createTime"] > b["since"]]
            verdict = decide(["turn", b["id"], RUNNER, ""], b["firsts"] + "\n" + json.dumps(ongoing) + "\n" + json.dumps(done))
            if verdict == "go":
                assert deploying is None, "seed %d: %s and %s deploy at once" % (seed, deploying["id"], b["id"])
                b["phase"], b["until"], deploying = "deploying", now + b["length"], b
            elif not verdict.startswith("wait "):
                b["phase"], b["status"] = "stopped", "FAILURE"
        if all(b["status"] in ("SUCCESS", "FAILURE") for b in builds) and now > 1000:
            break
    assert all(b["status"] in ("SUCCESS", "FAILURE") for b in builds), "seed %d: stuck" % seed
    order = [int(c[1:]) for c in deployed]
    assert order == sorted(order), "seed %d: deployed out of order: %s" % (seed, deployed)
    assert deployed and deployed[-1] == "c%d" % (n - 1), "seed %d: the newest commit was not deployed last: %s" % (seed, deployed)
assert retried > 10, retried
print("simulated 80 seeds, %d retries" % retried)
"#;

#[test]
fn simulated_pushes_deploy_one_at_a_time_oldest_first_and_the_newest_last() {
    let c = compile("flagship");
    let b = config(&c, "cd").unwrap_or_else(|| panic!("no cd.yaml"));
    let turn = steps(&b).into_iter().find(|s| s["id"] == "take-turn").cloned().unwrap_or_else(|| panic!("no take-turn"));
    let decide = strings(&turn["env"]).iter().find_map(|e| e.strip_prefix("DECIDE=").map(str::to_owned)).unwrap_or_else(|| panic!("no DECIDE"));
    let out = std::process::Command::new("python3").args(["-c", SIMULATE, &decide, RUNNER]).output().unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("simulated 80 seeds"), "{text}");
}
