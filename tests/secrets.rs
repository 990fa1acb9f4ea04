//! `secrets:`: each secret's `secretAccessor` binding exists exactly for the identities that run
//! what uses it (read from the generated Terraform, where Cloud Run and Functions say who they
//! run as), the proof fails when one is removed, Cloud Run and Functions take the secret by
//! reference (resolved by the platform when an instance starts), pipeline steps get the version's
//! resource name, and no secret value can be written in the spec or appears in the output.

mod support;

use hcl::{Block, Body};
use mlopsgen::model::actions;
use mlopsgen::model::iam::{Member, Scope};
use mlopsgen::model::{SaRole, StepKind};
use mlopsgen::proof::{check, roles::Roles, Problem};
use mlopsgen::{compile, Error, Options, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn flagship() -> mlopsgen::Compilation {
    support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml"))
}

fn parse(c: &mlopsgen::Compilation, file: &str) -> Body {
    let text = c.output.get(&format!("terraform/{file}")).unwrap_or_else(|| panic!("no {file}"));
    hcl::parse(text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn attr(body: &Body, key: &str) -> Option<String> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr().to_string().trim_matches('"').to_owned())
}

fn blocks<'a>(body: &'a Body, id: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == id)
}

fn resource<'a>(body: &'a Body, ty: &str, name: &str) -> &'a Block {
    blocks(body, "resource")
        .find(|b| b.labels()[0].as_str() == ty && b.labels()[1].as_str() == name)
        .unwrap_or_else(|| panic!("no {ty}.{name}"))
}

/// How the generated Terraform refers to a secret's id: the resource it creates, or the data
/// source of an `existing` one.
fn secret_ref(c: &mlopsgen::Compilation, id: &str) -> String {
    let s = c.model.secrets.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("secret {id} not declared"));
    let ident = id.replace('-', "_");
    if s.existing {
        format!("data.google_secret_manager_secret.{ident}.secret_id")
    } else {
        format!("google_secret_manager_secret.{ident}.secret_id")
    }
}

/// The identity (`google_service_account.<role>`) the generated service or function runs as.
fn runs_as(body: &Body, ty: &str, name: &str) -> String {
    let b = resource(body, ty, name);
    let email = match ty {
        "google_cloud_run_v2_service" => blocks(b.body(), "template").find_map(|t| attr(t.body(), "service_account")),
        _ => blocks(b.body(), "service_config").find_map(|s| attr(s.body(), "service_account_email")),
    };
    let email = email.unwrap_or_else(|| panic!("{ty}.{name} names no service account"));
    email.strip_suffix(".email").unwrap_or_else(|| panic!("{email}")).to_owned()
}

#[test]
fn each_secret_is_readable_by_exactly_the_identities_that_use_it() {
    let c = flagship();
    let runtime = parse(&c, "runtime.tf");
    // Expected: from what each service, function and container step declares, and who each runs as.
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for s in &c.model.services {
        let who = runs_as(&runtime, "google_cloud_run_v2_service", &s.key.replace('-', "_"));
        let used = s.access.secret_env.values().map(|e| e.secret.clone()).chain(s.access.reads.iter().filter(|r| r.kind.section() == "secrets").map(|r| r.key.clone()));
        expected.extend(used.map(|id| (secret_ref(&c, &id), format!("{who}.member"))));
    }
    for f in &c.model.functions {
        let who = runs_as(&runtime, "google_cloudfunctions2_function", &f.key.replace('-', "_"));
        let used = f.access.secret_env.values().map(|e| e.secret.clone()).chain(f.access.reads.iter().filter(|r| r.kind.section() == "secrets").map(|r| r.key.clone()));
        expected.extend(used.map(|id| (secret_ref(&c, &id), format!("{who}.member"))));
    }
    for p in &c.model.pipelines {
        for step in &p.steps {
            // Container steps run as the pipeline job's service account (the pipelines SA).
            let StepKind::Container { container, .. } = &step.kind else { continue };
            expected.extend(container.access.secret_env.values().map(|e| (secret_ref(&c, &e.secret), "google_service_account.pipelines.member".to_owned())));
        }
    }
    let ids: BTreeSet<String> = c.model.secrets.iter().map(|s| secret_ref(&c, &s.id)).collect();
    assert!(expected.len() >= 3 && expected.iter().map(|(s, _)| s).collect::<BTreeSet<_>>().len() == ids.len(), "the flagship uses each secret: {expected:?}");

    let iam = parse(&c, "iam.tf");
    let mut granted: BTreeSet<(String, String)> = BTreeSet::new();
    for b in blocks(&iam, "resource") {
        let ty = b.labels()[0].as_str();
        let role = attr(b.body(), "role").unwrap_or_default();
        if role.starts_with("roles/secretmanager.") && ty != "google_secret_manager_secret_iam_member" {
            // The project-wide exceptions are Terraform's own identities: `terraform plan`
            // refreshes the secrets' metadata (`secretmanager.viewer` holds no `versions.access`:
            // it can't read a value) and `terraform apply` creates and deletes them (admin, like
            // its other areas; README "Terraform in the workflow" names the risk).
            let member = attr(b.body(), "member").unwrap_or_default();
            let allowed = [("roles/secretmanager.viewer", "google_service_account.plan.member"), ("roles/secretmanager.admin", "google_service_account.apply.member")];
            assert!(allowed.contains(&(role.as_str(), member.as_str())), "{role} granted to {member} on more than one secret");
        }
        if ty != "google_secret_manager_secret_iam_member" {
            continue;
        }
        let secret = attr(b.body(), "secret_id").unwrap_or_default();
        if !ids.contains(&secret) {
            continue; // the CI's GitHub token: not of `secrets`
        }
        assert_eq!(role, "roles/secretmanager.secretAccessor");
        granted.insert((secret, attr(b.body(), "member").unwrap_or_default()));
    }
    assert_eq!(granted, expected);
}

#[test]
fn removing_a_secret_grant_fails_the_proof_naming_the_user() {
    let c = flagship();
    let roles = Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let secret_grants: Vec<usize> = (0..c.model.grants.len())
        .filter(|&i| matches!(&c.model.grants[i].scope, Scope::Secret(id) if c.model.secrets.iter().any(|s| &s.id == id)))
        .collect();
    assert!(secret_grants.len() >= 3);
    for i in secret_grants {
        let mut grants = c.model.grants.clone();
        let removed = grants.remove(i);
        let proof = check(actions::derive(&c.model), grants, &roles);
        let missing = proof.problems.iter().find_map(|p| match p {
            Problem::Missing { member, action, permission: "secretmanager.versions.access", scope, .. } if *member == removed.member && *scope == removed.scope => Some(action.clone()),
            _ => None,
        });
        let action = missing.unwrap_or_else(|| panic!("no missing access after removing {removed:?}: {:?}", proof.problems));
        assert!(action.contains("takes secret"), "{action}");
    }
}

#[test]
fn cloud_run_and_functions_take_secrets_by_reference_and_wait_for_their_grants() {
    let c = flagship();
    let runtime = parse(&c, "runtime.tf");
    let api = resource(&runtime, "google_cloud_run_v2_service", "api");
    let container = blocks(api.body(), "template").flat_map(|t| blocks(t.body(), "containers")).next().unwrap_or_else(|| panic!("no container"));
    let env: BTreeMap<String, &Block> = blocks(container.body(), "env").map(|e| (attr(e.body(), "name").unwrap_or_default(), e)).collect();
    let signing = env.get("SIGNING_KEY").unwrap_or_else(|| panic!("no SIGNING_KEY env"));
    assert_eq!(attr(signing.body(), "value"), None, "a secret env var has no literal value");
    let key_ref = blocks(signing.body(), "value_source").flat_map(|v| blocks(v.body(), "secret_key_ref")).next().unwrap_or_else(|| panic!("no secret_key_ref"));
    assert_eq!(attr(key_ref.body(), "secret"), Some(secret_ref(&c, "api-signing-key")));
    assert_eq!(attr(key_ref.body(), "version").as_deref(), Some("latest"));
    // Cloud Run checks the accessor grant when it deploys a revision: the service waits for it.
    let depends = attr(api.body(), "depends_on").unwrap_or_default();
    assert!(depends.contains("google_secret_manager_secret_iam_member.serving_secret_api_signing_key_secretmanager_secretaccessor"), "{depends}");

    let func = resource(&runtime, "google_cloudfunctions2_function", "on_new_data");
    let config = blocks(func.body(), "service_config").next().unwrap_or_else(|| panic!("no service_config"));
    let secret_env: Vec<&Block> = blocks(config.body(), "secret_environment_variables").collect();
    assert_eq!(secret_env.len(), 1);
    let e = secret_env[0].body();
    assert_eq!(attr(e, "key").as_deref(), Some("PARTNER_TOKEN"));
    assert_eq!(attr(e, "secret"), Some(secret_ref(&c, "partner-feed-token")));
    assert_eq!(attr(e, "version").as_deref(), Some("3"));
    // By number, as CD's `gcloud functions deploy --set-secrets` writes it back (google-cloud-sdk
    // command_lib/functions/secrets_config.py `_SubstituteDefaultProject`): the project id would
    // be a change in every plan after the first deploy, and a redeploy by every apply.
    assert_eq!(attr(e, "project_id").as_deref(), Some("data.google_project.this.number"));
    assert!(parse(&c, "providers.tf").blocks().any(|b| b.identifier() == "data" && b.labels().iter().map(|l| l.as_str()).eq(["google_project", "this"])));
    let plain = attr(config.body(), "environment_variables").unwrap_or_default();
    assert!(!plain.contains("PARTNER_TOKEN"), "{plain}");
    let depends = attr(func.body(), "depends_on").unwrap_or_default();
    assert!(depends.contains("google_secret_manager_secret_iam_member.functions_secret_partner_feed_token"), "{depends}");
}

#[test]
fn pipeline_steps_get_the_secret_version_name_of_their_environment() {
    let c = flagship();
    for env in &c.model.environments {
        let path = format!("pipelines/{}/training.json", env.name);
        let text = c.output.get(&path).unwrap_or_else(|| panic!("no {path}"));
        let want = format!("\"value\": \"projects/{}/secrets/report-webhook-url/versions/latest\"", env.gcp_project);
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(text).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_default();
        assert!(pretty.contains(&want), "{path} lacks {want}");
    }
}

#[test]
fn created_secrets_have_no_versions_and_no_value_appears_anywhere() {
    let c = flagship();
    let secrets = parse(&c, "secrets.tf");
    for s in &c.model.secrets {
        let ident = s.id.replace('-', "_");
        let kind = if s.existing { "data" } else { "resource" };
        assert!(blocks(&secrets, kind).any(|b| b.labels()[0].as_str() == "google_secret_manager_secret" && b.labels()[1].as_str() == ident), "{}", s.id);
    }
    let replicated = resource(&secrets, "google_secret_manager_secret", "report_webhook_url");
    let replicas: Vec<String> = blocks(replicated.body(), "replication")
        .flat_map(|r| blocks(r.body(), "user_managed"))
        .flat_map(|u| blocks(u.body(), "replicas"))
        .filter_map(|r| attr(r.body(), "location"))
        .collect();
    assert_eq!(replicas, ["europe-west4", "europe-west1"]);
    // Terraform would keep a version's payload in state: none is created or read for `secrets`.
    for (path, text) in c.output.files() {
        assert!(!text.contains("resource \"google_secret_manager_secret_version\""), "{path}");
        for s in &c.model.secrets {
            assert!(!text.contains(&format!("secret_version_access\" \"{}\"", s.id.replace('-', "_"))), "{path} reads {}", s.id);
        }
    }
}

#[test]
fn a_spec_cannot_hold_a_secret_value() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid/secret_unknown.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = text.replace("{secret: api-kye}", "{secret: api-key, value: hunter2}");
    let source = Source { name: "value.yaml".into(), text };
    let Err(Error::Invalid(d)) = compile(&source, &Options { spec_file: path, out_override: None }) else { panic!("a value was accepted") };
    assert!(d.iter().any(|d| d.pos.line == 42), "{d:?}");
}

#[test]
fn a_read_declared_twice_is_one_grant() {
    // `reads: [secrets.x]` beside `env: {X: {secret: x}}` is the same use: one binding, two reasons.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid/secret_unknown.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = text.lines().skip(1).collect::<Vec<_>>().join("\n").replace("{secret: api-kye}}", "{secret: api-key}}\n    reads: [secrets.api-key]");
    let source = Source { name: "twice.yaml".into(), text };
    let c = compile(&source, &Options { spec_file: path, out_override: None }).unwrap_or_else(|e| panic!("{e:?}"));
    let grants: Vec<_> = c.model.grants.iter().filter(|g| g.scope == Scope::Secret("api-key".into())).collect();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].member, Member::Sa(SaRole::Serving));
    assert_eq!(grants[0].reasons.len(), 2, "{:?}", grants[0].reasons);
}

#[test]
fn rotation_notices_go_to_a_topic_the_secret_manager_agent_may_publish_to() {
    let c = flagship();
    let rotated: Vec<_> = c.model.secrets.iter().filter(|s| s.rotation.is_some()).collect();
    assert!(!rotated.is_empty(), "the flagship rotates a secret");
    let secrets = parse(&c, "secrets.tf");
    let roles = Roles::load().unwrap_or_else(|e| panic!("{e}"));
    for s in rotated {
        let rot = s.rotation.as_ref().unwrap_or_else(|| unreachable!());
        let b = resource(&secrets, "google_secret_manager_secret", &s.id.replace('-', "_"));
        let r = blocks(b.body(), "rotation").next().unwrap_or_else(|| panic!("{}: no rotation", s.id));
        assert_eq!(attr(r.body(), "rotation_period"), Some(format!("{}s", rot.period_seconds)));
        let topic = blocks(b.body(), "topics").find_map(|t| attr(t.body(), "name")).unwrap_or_else(|| panic!("{}: rotation needs a topic", s.id));
        let topic_resource = topic.strip_suffix(".id").unwrap_or_else(|| panic!("{topic}"));
        let name = topic_resource.strip_prefix("google_pubsub_topic.").unwrap_or_else(|| panic!("{topic}"));
        assert_eq!(attr(resource(&secrets, "google_pubsub_topic", name).body(), "name"), Some(rot.topic.clone()));
        // The secret waits for the agent's publish grant, and the proof needs that grant.
        let depends = attr(b.body(), "depends_on").unwrap_or_default();
        assert!(depends.contains("google_pubsub_topic_iam_member.secretmanager_agent_"), "{depends}");
        let mut grants = c.model.grants.clone();
        let before = grants.len();
        grants.retain(|g| g.scope != Scope::Topic(rot.topic.clone()));
        assert_eq!(grants.len() + 1, before);
        let proof = check(actions::derive(&c.model), grants, &roles);
        assert!(proof.problems.iter().any(|p| matches!(p, Problem::Missing { member: Member::Agent(_), permission: "pubsub.topics.publish", scope: Scope::Topic(t), .. } if *t == rot.topic)), "{:?}", proof.problems);
    }
}
