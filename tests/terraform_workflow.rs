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
use subst_support::expand;

fn compile_spec(name: &str) -> Compilation {
    let path = format!("specs/{name}.yaml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path)).unwrap_or_else(|e| panic!("{e}"));
    let source = Source { name: path.clone(), text };
    let options = Options { spec_file: path.into(), out_override: None };
    compile(&source, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn build(c: &Compilation, kind: &str, env: &Environment) -> Value {
    let text = c.output.get(&paths::cloudbuild(kind)).unwrap_or_else(|| panic!("no {kind}.yaml"));
    let mut values = variables(&c.model, env);
    values.insert("SHORT_SHA".into(), "abc1234".into());
    values.insert("COMMIT_SHA".into(), "abc1234".into());
    values.insert("_BASE_BRANCH".into(), "main".into());
    let yaml: serde_yaml::Value = serde_yaml::from_str(&expand(text, &values)).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn steps(build: &Value) -> Vec<&Value> {
    build["steps"].as_array().map(|s| s.iter().collect()).unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn env_of(step: &Value, key: &str) -> Option<String> {
    strings(&step["env"]).iter().find_map(|e| e.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

/// Every step id `id` waits for, directly or through others.
fn upstream(build: &Value, id: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![id.to_owned()];
    while let Some(next) = todo.pop() {
        let step = steps(build).into_iter().find(|s| s["id"] == next.as_str()).unwrap_or_else(|| panic!("no step {next}"));
        for wait in strings(&step["waitFor"]).into_iter().filter(|w| w != "-") {
            if seen.insert(wait.clone()) {
                todo.push(wait);
            }
        }
    }
    seen
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
            assert!(script(apply).contains("terraform apply -input=false \"$1\""), "{kind}: {}", script(apply));
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
                // A function is created by the apply from the source its deploy step uploads, so
                // that step runs first (and only uploads while the function does not exist).
                if id.starts_with("deploy-function-") {
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
    let custom = m.grants.iter().any(|g| mlopsgen::model::iam::custom_role(g.role).is_some());
    // (What apply needs beyond what planning reads: the changes.)
    let reads: BTreeSet<&str> = areas(m, custom).iter().flat_map(|a| a.reads.iter().copied()).collect();
    let mut writes: BTreeSet<&str> = areas(m, custom).iter().flat_map(|a| a.manages.iter().copied()).filter(|p| !reads.contains(p)).collect();
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
    for a in areas(m, custom) {
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
