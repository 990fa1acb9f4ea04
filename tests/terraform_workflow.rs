//! Terraform in the workflow (`ci.terraform`), walked over `specs/promotion.yaml` (dev, staging,
//! prod) and the flagship: every triggered build is expanded with the substitutions its trigger
//! passes, and each Terraform step is checked against the IAM proof and the step graph:
//!
//! - it impersonates the plan SA (PR) or the apply SA (CD, release) of the environment it acts on,
//!   and the identity the build runs as is the member that environment's Terraform grants
//!   `getAccessToken` on that SA (read from its tfvars), with the proof holding;
//! - the plan identity holds no permission any apply needs, and nobody running PR code may
//!   impersonate an apply identity;
//! - init runs before plan, the plan file is written in the working copy apply reads, apply
//!   before any deploy, and every plan before the PR's summary;
//! - a release applies only a plan a review build of the same environment made, printed and
//!   published for the same commit (`plans/<COMMIT_SHA>/` in the next environment's state
//!   bucket), which only that build's identity can create and nobody can replace.

use mlopsgen::model::actions::Act;
use mlopsgen::model::iam::{Member, Scope};
use mlopsgen::model::terraform_access::{areas, by_name};
use mlopsgen::model::{paths, Environment, Model, SaRole};
use mlopsgen::proof::{self, roles::Roles};
use mlopsgen::model::delivery::{variables, Workflow};
use mlopsgen::{compile, Compilation, Options, Source};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

#[path = "support/subst.rs"]
mod subst_support;
use subst_support::{expand, for_build};
#[path = "support/cloudbuild_config.rs"]
mod cloudbuild_config;
use cloudbuild_config::{steps, strings, upstream};

fn compile_spec(name: &str) -> Compilation {
    let path = format!("specs/{name}.yaml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path)).unwrap_or_else(|e| panic!("{e}"));
    let source = Source { name: path.clone(), text };
    let options = Options { spec_file: path.into(), out_override: None };
    compile(&source, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn build(c: &Compilation, kind: &str, env: &Environment) -> Value {
    let text = c.output.get(&paths::cloudbuild(kind)).unwrap_or_else(|| panic!("no {kind}.yaml"));
    let values = for_build(variables(&c.model, env), "abc1234", "the-build", "the-trigger-identity@example.iam.gserviceaccount.com");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&expand(text, &values)).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn env_of(step: &Value, key: &str) -> Option<String> {
    strings(&step["env"]).iter().find_map(|e| e.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

/// A tfvars string value (`key = "value"`), as Terraform reads it.
fn tfvar(c: &Compilation, env: &str, key: &str) -> Option<String> {
    let text = c.output.get(&format!("terraform/env/{env}.tfvars"))?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The member of `target`'s grants that `runner` (an email) is there: a cross-environment member
/// whose tfvars names it, else one of the environment's own SAs.
fn member_in(c: &Compilation, target: &Environment, runner: &str) -> Member {
    let m = &c.model;
    if tfvar(c, &target.name, "checks_sa").as_deref() == Some(runner) {
        return Member::Checker;
    }
    if tfvar(c, &target.name, "promoter_sa").as_deref() == Some(runner) {
        return Member::Promoter;
    }
    if let Some(role) = SaRole::ALL.into_iter().find(|r| target.sa_email(*r) == runner) {
        return Member::Sa(role);
    }
    panic!("{runner} has no grant in {} ({:?})", target.name, m.grants.len());
}

/// Each environment's triggered builds: (kind, the environment it runs in).
fn triggered(m: &Model) -> Vec<(&'static str, &Environment)> {
    let mut out = Vec::new();
    for (i, env) in m.environments.iter().enumerate() {
        for kind in mlopsgen::targets::terraform::triggers(m, i) {
            out.push((kind, env));
        }
    }
    out
}

fn walk(spec: &str) {
    let c = compile_spec(spec);
    let m = &c.model;
    let roles = Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let proof = proof::prove(m, &roles);
    assert!(proof.holds(), "{spec}: {:?}", proof.problems);
    let may_impersonate = |who: Member, sa: SaRole| {
        proof.actions.iter().any(|p| {
            p.action.member == who
                && p.action.act == Act::Impersonate
                && p.action.scope == Scope::ServiceAccount(sa)
                && p.checks.iter().all(|c| c.granted_by.is_some())
        })
    };
    let mut planned = BTreeSet::new();
    let mut applied = Vec::new();
    // The plans review builds publish (the folder, for the commit), by the environment whose
    // triggers run them; a release may apply only one of these.
    let mut published: BTreeSet<(String, String)> = BTreeSet::new();
    for (kind, home) in triggered(m).into_iter().filter(|(k, _)| *k == "review") {
        let b = build(&c, kind, home);
        let step = |id: &str| steps(&b).into_iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("review: no {id}"));
        let (plan, publish) = (step("tf-plan"), step("plan-publish"));
        let script = |s: &Value| strings(&s["args"]).join("\n");
        // tf-plan writes plan.tfplan and its text in WORK; plan-publish uploads both from there
        // (create only) and prints the text, after the plan.
        assert!(script(plan).contains("-out=plan.tfplan") && script(plan).contains("terraform show -no-color plan.tfplan > plan.txt"));
        assert_eq!(env_of(plan, "WORK"), env_of(publish, "WORK"));
        assert!(upstream(&b, "plan-publish").contains("tf-plan"));
        let upload = script(publish);
        assert!(upload.contains("gcloud storage cp --if-generation-match=0") && upload.contains("cat \"$WORK/plan.txt\""), "{upload}");
        let folder = env_of(publish, "PLANS").unwrap_or_default();
        let next = m.environments.iter().skip_while(|e| e.name != home.name).nth(1).unwrap_or_else(|| panic!("review in the last environment"));
        assert_eq!(folder, format!("gs://{}/plans/abc1234", m.state.bucket_for(next)), "review@{}", home.name);
        assert_eq!(env_of(plan, "ENV").as_deref(), Some(next.name.as_str()));
        published.insert((home.name.clone(), folder));
    }
    for (kind, home) in triggered(m) {
        let b = build(&c, kind, home);
        let runner = home.sa_email(Workflow::named(kind).unwrap_or_else(|| panic!("no workflow {kind}")).identity());
        let tf: Vec<&Value> = steps(&b).into_iter().filter(|s| env_of(s, "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT").is_some()).collect();
        for s in &tf {
            let id = s["id"].as_str().unwrap_or_default();
            let sa = env_of(s, "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT").unwrap_or_default();
            assert_eq!(env_of(s, "GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT").as_deref(), Some(sa.as_str()), "{kind}: {id}: the backend runs as another identity");
            let target_name = env_of(s, "ENV").unwrap_or_default();
            let target = m.environments.iter().find(|e| e.name == target_name).unwrap_or_else(|| panic!("{kind}: {id} acts on `{target_name}`"));
            // PR builds run the PR's code: only ever the plan identity; deploying builds the apply one.
            let role = if matches!(kind, "pr" | "review") { SaRole::Plan } else { SaRole::Apply };
            assert_eq!(sa, target.sa_email(role), "{kind}@{}: {id}", home.name);
            let who = member_in(&c, target, &runner);
            assert!(may_impersonate(who, role), "{kind}@{}: {id}: {runner} ({who:?}) may not impersonate {sa}", home.name);
            if kind == "pr" {
                planned.insert(target.name.clone());
            }
        }
        let ids: Vec<String> = tf.iter().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect();
        if kind == "pr" {
            for env in &m.environments {
                let (init, plan) = (format!("tf-init-{}", env.name), format!("tf-plan-{}", env.name));
                assert!(upstream(&b, &plan).contains(&init), "pr: {plan} does not wait for {init}");
                assert!(upstream(&b, "terraform-plans").contains(&plan), "pr: the summary does not wait for {plan}");
                let work = |id: &str| tf.iter().find(|s| s["id"] == id).and_then(|s| env_of(s, "WORK"));
                assert_eq!(work(&init), work(&plan), "pr: {plan} plans elsewhere than {init} initialised");
            }
            // Each environment plans in a working copy of its own (parallel inits never share one).
            let works: BTreeSet<Option<String>> = tf.iter().map(|s| env_of(s, "WORK")).collect();
            assert_eq!(works.len(), m.environments.len());
        } else if ids.iter().any(|i| i == "tf-apply") {
            let apply = tf.iter().find(|s| s["id"] == "tf-apply").unwrap_or_else(|| panic!("no tf-apply"));
            let before = upstream(&b, "tf-apply");
            let script = |s: &Value| strings(&s["args"]).join("\n");
            let args = strings(&apply["args"]);
            assert!(script(apply).contains("terraform apply -input=false -lock-timeout=15m \"$1\""), "{kind}: {}", script(apply));
            if kind == "cd" {
                // The plan file the plan step writes is the one apply applies, in the same working copy.
                let plan = tf.iter().find(|s| s["id"] == "tf-plan").unwrap_or_else(|| panic!("no tf-plan"));
                assert!(before.contains("tf-plan") && before.contains("tf-init") && before.contains("tf-drift"), "{kind}: apply waits for {before:?}");
                assert!(script(plan).contains("-out=plan.tfplan") && args.get(3).map(String::as_str) == Some("plan.tfplan"), "{args:?}");
                assert_eq!(env_of(plan, "WORK"), env_of(apply, "WORK"));
                assert!(!script(plan).contains("-lock=false"), "{kind}: the applied plan is made without the state lock");
            } else {
                // A release plans nothing itself: it applies the file plan-fetch downloaded from
                // the folder a review build of the same environment published for this commit,
                // and prints it (terraform show) before applying it.
                assert!(!ids.iter().any(|i| i == "tf-plan"), "release@{}: plans itself", home.name);
                let fetch = steps(&b).into_iter().find(|s| s["id"] == "plan-fetch").unwrap_or_else(|| panic!("release: no plan-fetch"));
                assert!(before.contains("plan-fetch") && before.contains("tf-init") && before.contains("tf-drift"), "{kind}: apply waits for {before:?}");
                let reviewed = env_of(fetch, "REVIEWED").unwrap_or_default();
                assert_eq!(args.get(3), Some(&format!("{reviewed}/plan.tfplan")), "{args:?}");
                assert_eq!(args.get(4).map(String::as_str), Some("show"));
                assert!(script(apply).contains("terraform show -no-color \"$1\""));
                assert!(!reviewed.starts_with(&env_of(apply, "WORK").unwrap_or_default()), "tf-init would delete the reviewed plan");
                let folder = env_of(fetch, "PLANS").unwrap_or_default();
                assert!(published.contains(&(home.name.clone(), folder.clone())), "release@{}: applies {folder}, which no review build published", home.name);
                assert_eq!(env_of(fetch, "SA"), Some(env_of(apply, "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT").unwrap_or_default()), "the apply SA reads the plan");
            }
            // Nothing is deployed before the infrastructure it lands in is applied.
            for s in steps(&b) {
                let id = s["id"].as_str().unwrap_or_default();
                // A function is created by the apply from the source its stage step uploads, so
                // that step runs first; its deploy runs after, like every other.
                if id.starts_with("stage-function-") {
                    assert!(upstream(&b, "tf-apply").contains(id), "{kind}@{}: tf-apply runs before {id} uploaded its source", home.name);
                    continue;
                }
                let deploys = ["upload-", "deploy-", "sync-dags", "promote-", "run-", "mark-deployed"].iter().any(|p| id.starts_with(p));
                if deploys {
                    assert!(upstream(&b, id).contains("tf-apply"), "{kind}@{}: {id} runs before tf-apply", home.name);
                }
            }
            applied.push(env_of(apply, "ENV").unwrap_or_default());
        }
    }
    let all: BTreeSet<String> = m.environments.iter().map(|e| e.name.clone()).collect();
    assert_eq!(planned, all, "{spec}: not every environment is planned in PRs");
    // CD applies the first environment, each release the next one: every environment once.
    applied.sort();
    assert_eq!(applied, Vec::from_iter(all.iter().cloned()), "{spec}");

    // The plan identity cannot apply: none of its roles holds a permission any apply act needs.
    // (What apply needs beyond what planning reads: the changes.)
    let reads: BTreeSet<&str> = areas(m).iter().flat_map(|a| a.reads.iter().copied()).collect();
    let mut writes: BTreeSet<&str> = areas(m).iter().flat_map(|a| a.manages.iter().copied()).filter(|p| !reads.contains(p)).collect();
    writes.extend(proof::table::needs(Act::WriteObjects).permissions.iter().filter(|p| !p.ends_with(".get") && !p.ends_with(".list")));
    assert!(writes.contains("resourcemanager.projects.setIamPolicy") && writes.contains("storage.objects.create"));
    for g in m.grants.iter().filter(|g| g.member == Member::Sa(SaRole::Plan)) {
        for w in &writes {
            assert!(!roles.grants(g.role, w), "plan SA: {} holds {w}", g.role);
        }
    }
    // Nobody who runs PR code can become the apply identity.
    for who in [Member::Checker, Member::Sa(SaRole::Checks)] {
        assert!(!m.grants.iter().any(|g| g.member == who && g.scope == Scope::ServiceAccount(SaRole::Apply)), "{who:?}");
    }
    // The review builds' identity (the promoter, create only) and the apply SA can write under
    // plans/; PR code (checks SA, checker) and what it impersonates (plan SA) cannot.
    let writers: BTreeSet<Member> = m
        .grants
        .iter()
        .filter(|g| matches!(g.scope, Scope::StatePlans | Scope::StateBucket | Scope::Project) && roles.grants(g.role, "storage.objects.create"))
        .map(|g| g.member)
        .collect();
    assert!(writers.contains(&Member::Promoter) && writers.contains(&Member::Sa(SaRole::Apply)), "{spec}: {writers:?}");
    for who in [Member::Checker, Member::Sa(SaRole::Checks), Member::Sa(SaRole::Plan)] {
        assert!(!writers.contains(&who), "{spec}: {who:?} can write reviewed plans");
    }
    let promoter_plans: Vec<&str> = m.grants.iter().filter(|g| g.member == Member::Promoter && g.scope == Scope::StatePlans).map(|g| g.role).collect();
    assert_eq!(promoter_plans, ["roles/storage.objectCreator"]);
    assert!(!roles.grants("roles/storage.objectCreator", "storage.objects.delete"), "a published plan could be replaced");
    // Every area's permissions are listed in the proof's table.
    for a in areas(m) {
        assert!(by_name(a.name).is_some());
    }
}

#[test]
fn three_environments_plan_in_prs_and_apply_in_promotion_order_as_their_own_identities() {
    walk("promotion");
}

#[test]
fn the_flagship_plans_and_applies_as_its_own_identities() {
    walk("flagship");
}

/// Without `ci.terraform.apply` nothing applies and no apply identity exists; without `plan`,
/// PR builds run no Terraform.
#[test]
fn the_switches_turn_the_steps_and_identities_off() {
    let c = compile_spec("promotion");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/promotion.yaml")).unwrap_or_default();
    assert!(text.contains("terraform: {plan: true, apply: true}"));
    for (switch, gone) in [("{plan: true, apply: false}", "tf-apply"), ("{plan: false, apply: false}", "tf-init-dev")] {
        let source = Source { name: "specs/promotion.yaml".into(), text: text.replace("{plan: true, apply: true}", switch) };
        let options = Options { spec_file: "specs/promotion.yaml".into(), out_override: None };
        let off = compile(&source, &options).unwrap_or_else(|e| panic!("{e}"));
        for kind in ["pr", "cd", "release"] {
            let yaml = off.output.get(&paths::cloudbuild(kind)).unwrap_or_default();
            assert!(!yaml.contains(&format!("id: {gone}")), "{switch}: {kind} still has {gone}");
        }
        assert!(!off.model.service_accounts.contains(&SaRole::Apply), "{switch}");
    }
    assert!(c.model.service_accounts.contains(&SaRole::Apply) && c.model.service_accounts.contains(&SaRole::Plan));
}

/// A stand-in `gcloud`: `storage cp` on a folder standing for Cloud Storage (`$FAKE_GCS/<bucket>/…`,
/// `--if-generation-match=0` refusing an existing object) and `builds list`, which prints
/// `$FAKE_BUILDS` (the API's JSON) after checking the filter names the commit.
const FAKE_GCLOUD: &str = r#"import os, shutil, sys
args = [a for a in sys.argv[1:] if not a.startswith("--impersonate-service-account=")]
def local(path):
    return os.path.join(os.environ["FAKE_GCS"], path[len("gs://"):]) if path.startswith("gs://") else path
if args[:2] == ["builds", "list"]:
    assert any(a.startswith("--filter=") and "COMMIT_SHA=" + os.environ["SHA"] in a and "status=SUCCESS" in a for a in args), args
    sys.stdout.write(open(os.environ["FAKE_BUILDS"]).read())
    if os.environ.get("FAKE_BUILDS_FAIL"):  # a listing that fails after printing part of it
        sys.exit("ERROR: (gcloud.builds.list) " + os.environ["FAKE_BUILDS_FAIL"])
elif args[:2] == ["storage", "cp"]:
    create_only = "--if-generation-match=0" in args
    paths = [a for a in args[2:] if not a.startswith("--")]
    *sources, target = paths
    for source in sources:
        dest = local(target) + (os.path.basename(source) if target.endswith("/") else "")
        if create_only and os.path.exists(dest):
            sys.exit("precondition failed: " + target)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(local(source), dest)
else:
    sys.exit("unexpected gcloud call: " + " ".join(sys.argv[1:]))
"#;

/// Standard base64, as the Cloud Build API encodes `buildStepOutputs`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// Runs a step's bash script (its `-c` argument, then the step's other arguments as `$0`, `$1`…)
/// with its env and `extra`, `gcloud` faked and `terraform` a no-op.
fn run_script(step: &Value, dir: &Path, extra: &[(&str, String)]) -> (bool, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let gcloud = bin.join("gcloud");
    std::fs::write(&gcloud, format!("#!/bin/sh\nexec python3 -c '{}' \"$@\"\n", FAKE_GCLOUD.replace('\'', "'\\''"))).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bin.join("terraform"), "#!/bin/sh\necho terraform \"$@\"\n").unwrap_or_else(|e| panic!("{e}"));
    let _ = std::process::Command::new("chmod").arg("+x").arg(&gcloud).arg(bin.join("terraform")).status();
    let args = strings(&step["args"]);
    let mut rest = args.iter().skip_while(|a| *a != "-c").skip(1);
    let script = rest.next().unwrap_or_else(|| panic!("no script in {args:?}"));
    let mut command = std::process::Command::new("bash");
    command.args(["-c", script]).args(rest).env_clear().env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    for entry in strings(&step["env"]) {
        let (key, value) = entry.split_once('=').unwrap_or_else(|| panic!("{entry}"));
        command.env(key, value);
    }
    for (key, value) in extra {
        command.env(key, value);
    }
    let out = command.output().unwrap_or_else(|e| panic!("{e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The runtime property behind "a release applies exactly the reviewed plan": other identities of
/// the project can write under `plans/` (the Composer workers' role covers every bucket), so the
/// review build records the plan's sha256 as its step output and the release's `plan-fetch`
/// downloads the plan and applies it only if it matches what a successful review build of the
/// commit, run as the release's own identity, recorded. Run with bash against a stand-in gcloud:
/// the published plan passes; a replaced one, one vouched for only by a build of another
/// identity, and one with no review build fail.
#[test]
fn a_release_applies_only_the_plan_its_review_build_recorded() {
    let c = compile_spec("flagship");
    let m = &c.model;
    let home = &m.environments[0];
    let dir = std::env::temp_dir().join(format!("mlopsgen-reviewed-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (gcs, work, outputs) = (dir.join("gcs"), dir.join("work"), dir.join("builder-outputs"));
    for d in [&gcs, &work, &outputs] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
    }
    // A plan file is a zip that holds the lock file of the providers it was made with
    // (Terraform's internal/plans/planfile).
    let zip = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.writestr('tfplan', 'the reviewed plan')\n    z.writestr('.terraform.lock.hcl', 'the reviewed providers')\n";
    let made = std::process::Command::new("python3").args(["-c", zip]).arg(work.join("plan.tfplan")).status();
    assert!(made.is_ok_and(|s| s.success()), "python3 could not write the plan archive");
    let plan_bytes = std::fs::read(work.join("plan.tfplan")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(work.join("plan.txt"), "Plan: 1 to add, 0 to change, 0 to destroy.\n").unwrap_or_else(|e| panic!("{e}"));

    let review = build(&c, "review", home);
    let publish = steps(&review).into_iter().find(|s| s["id"] == "plan-publish").unwrap_or_else(|| panic!("no plan-publish"));
    let fake = |extra: &mut Vec<(&'static str, String)>| {
        extra.push(("FAKE_GCS", gcs.display().to_string()));
        extra.push(("FAKE_BUILDS", dir.join("builds.json").display().to_string()));
    };
    let mut extra = vec![("WORK", work.display().to_string()), ("BUILDER_OUTPUT", outputs.display().to_string())];
    fake(&mut extra);
    let (ok, out) = run_script(publish, &dir, &extra);
    assert!(ok, "{out}");
    let recorded = std::fs::read(outputs.join("output")).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = run_script(publish, &dir, &extra);
    assert!(!ok && out.contains("is never replaced"), "a second review build replaced the plan: {out}");

    let runner = home.sa_email(SaRole::Promote);
    // What `gcloud builds list --format=json` prints: one successful review build of the commit.
    let review_build = |account: &str, output: &[u8], created: &str| {
        let ids: Vec<Value> = steps(&review).iter().map(|s| serde_json::json!({"id": s["id"]})).collect();
        let mut outputs = vec![String::new(); ids.len()];
        let at = ids.iter().position(|s| s["id"] == "plan-publish").unwrap_or_else(|| panic!("no plan-publish"));
        outputs[at] = base64(output);
        serde_json::json!({
            "serviceAccount": format!("projects/{}/serviceAccounts/{account}", home.gcp_project),
            "createTime": created,
            "status": "SUCCESS",
            "tags": ["review"],
            "steps": ids,
            "results": {"buildStepOutputs": outputs},
        })
    };
    let release = build(&c, "release", home);
    let fetch = steps(&release).into_iter().find(|s| s["id"] == "plan-fetch").unwrap_or_else(|| panic!("no plan-fetch"));
    assert_eq!(env_of(fetch, "RUNNER"), Some(runner.clone()), "the release looks for review builds run as itself");
    let reviewed = env_of(fetch, "REVIEWED").unwrap_or_default();
    let mut extra = vec![("REVIEWED", dir.join("reviewed").display().to_string()), ("WAIT_SECONDS", "0".to_owned())];
    fake(&mut extra);
    assert!(!reviewed.is_empty());
    let builds = |list: Vec<Value>| std::fs::write(dir.join("builds.json"), Value::Array(list).to_string()).unwrap_or_else(|e| panic!("{e}"));

    builds(vec![review_build(&runner, &recorded, "2026-12-06T10:00:00Z")]);
    let (ok, out) = run_script(fetch, &dir, &extra);
    assert!(ok && out.contains("as the review build recorded"), "{out}");
    assert_eq!(std::fs::read(dir.join("reviewed/plan.tfplan")).ok(), Some(plan_bytes), "the fetched plan is not the reviewed one");
    // The release initialises after the fetch with the providers the review planned with: a
    // saved plan is refused with other ones ("Inconsistent dependency lock file"), and a newer
    // provider may be out by the time the release is approved.
    let init = steps(&release).into_iter().find(|s| s["id"] == "tf-init").unwrap_or_else(|| panic!("no tf-init"));
    assert!(upstream(&release, "tf-init").contains("plan-fetch"), "tf-init does not wait for plan-fetch");
    let mut init = init.clone();
    let lock = format!("{reviewed}/.terraform.lock.hcl");
    let args = init["args"].as_array_mut().unwrap_or_else(|| panic!("args"));
    assert_eq!(args.last().and_then(Value::as_str), Some(lock.as_str()), "tf-init is not given the reviewed lock file");
    *args.last_mut().unwrap_or_else(|| panic!("args")) = Value::String(dir.join("reviewed/.terraform.lock.hcl").display().to_string());
    let module = dir.join("module");
    std::fs::create_dir_all(&module).unwrap_or_else(|e| panic!("{e}"));
    let n = args.len();
    args[n - 2] = Value::String(module.display().to_string());
    let (ok, out) = run_script(&init, &dir, &[("WORK", dir.join("release-work").display().to_string())]);
    assert!(ok && out.contains("terraform -chdir="), "{out}");
    assert_eq!(std::fs::read_to_string(dir.join("release-work/.terraform.lock.hcl")).unwrap_or_default(), "the reviewed providers");

    // Someone who can write objects replaces the plan after the review.
    let folder = env_of(fetch, "PLANS").unwrap_or_default();
    let stored = gcs.join(folder.trim_start_matches("gs://")).join("plan.tfplan");
    std::fs::write(&stored, "a different plan").unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = run_script(fetch, &dir, &extra);
    assert!(!ok && out.contains("is not the plan the review build published"), "a replaced plan was accepted: {out}");

    // ... and vouches for it with a build of their own, which runs as another identity.
    let digest = std::process::Command::new("sha256sum").arg(&stored).output().unwrap_or_else(|e| panic!("{e}"));
    let digest = String::from_utf8_lossy(&digest.stdout).split(' ').next().unwrap_or_default().to_owned();
    // (The newer build: without the identity check, the release would take its word.)
    let forged = review_build(&home.sa_email(SaRole::Composer), digest.as_bytes(), "2026-12-06T11:00:00Z");
    builds(vec![review_build(&runner, &recorded, "2026-12-06T10:00:00Z"), forged]);
    let (ok, out) = run_script(fetch, &dir, &extra);
    assert!(!ok && out.contains("is not the plan the review build published"), "a build of another identity vouched for the plan: {out}");

    builds(Vec::new());
    let (ok, out) = run_script(fetch, &dir, &extra);
    assert!(!ok && out.contains("no successful review build for commit"), "{out}");

    // A listing that fails after printing a valid (empty) list is an error, not "no build yet".
    let mut failing = extra.clone();
    failing.push(("FAKE_BUILDS_FAIL", "PERMISSION_DENIED".to_owned()));
    let (ok, out) = run_script(fetch, &dir, &failing);
    assert!(!ok && out.contains("cannot list this project's review builds"), "a failed listing read as no review build: {out}");
    // The step keeps nothing at a fixed path: the list is piped, not written to a file.
    let script = strings(&fetch["args"]).last().cloned().unwrap_or_default();
    assert!(!script.contains("/tmp"), "plan-fetch writes under /tmp: {script}");

    // Without the identity to trust (an unset variable), nothing is trusted.
    builds(vec![review_build(&runner, &recorded, "2026-12-06T10:00:00Z")]);
    let mut unset = extra.clone();
    unset.push(("RUNNER", String::new()));
    let (ok, out) = run_script(fetch, &dir, &unset);
    assert!(!ok && out.contains("is not set"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Seconds in a Go duration as Terraform and Cloud Build write them (`15m`, `1200s`).
fn seconds(duration: &str) -> u64 {
    let (number, unit) = duration.split_at(duration.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len());
    let n: u64 = number.parse().unwrap_or_else(|e| panic!("{duration}: {e}"));
    n * match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => panic!("unit {other} in {duration}"),
    }
}

#[test]
fn every_command_taking_the_state_lock_waits_for_it_within_its_step() {
    // Terraform's -lock-timeout defaults to 0s: a CD build whose plan starts while an earlier
    // build applies would fail at once with "Error acquiring the state lock". Each plan or apply
    // that locks waits instead, and gives up before Cloud Build's step timeout kills it.
    let mut waiting = 0;
    for spec in ["flagship", "promotion", "forecast"] {
        let c = compile_spec(spec);
        for kind in ["pr", "cd", "release", "review"] {
            if c.output.get(&paths::cloudbuild(kind)).is_none() {
                continue;
            }
            let b = build(&c, kind, &c.model.environments[0]);
            for step in steps(&b) {
                let args = strings(&step["args"]);
                let script = args.join(" ");
                if !(script.contains("terraform plan") || script.contains("terraform apply")) {
                    continue;
                }
                // `-lock=false` in the command, or passed to the script (a PR's or review's plan).
                for command in script.lines().filter(|l| l.starts_with("terraform plan") || l.starts_with("terraform apply")) {
                    if args.iter().any(|a| a == "-lock=false") || command.contains("-lock=false") {
                        continue;
                    }
                    let timeout = command.split_whitespace().find_map(|w| w.strip_prefix("-lock-timeout="));
                    let timeout = timeout.unwrap_or_else(|| panic!("{spec} {kind} {}: `{command}` takes the lock without waiting for it", step["id"]));
                    let step_timeout = step["timeout"].as_str().unwrap_or_else(|| panic!("{spec} {kind} {}: no timeout", step["id"]));
                    assert!(seconds(timeout) < seconds(step_timeout), "{spec} {kind} {}: waits {timeout} for the lock in a {step_timeout} step", step["id"]);
                    assert!(seconds(timeout) >= 600, "{spec} {kind} {}: an apply takes minutes; waiting {timeout} is not enough", step["id"]);
                    waiting += 1;
                }
            }
        }
    }
    assert!(waiting >= 6, "only {waiting} locking commands found");
}
