//! `service_accounts.<role>.external`: a runtime role runs as an existing account. No
//! `google_service_account` is created for it, every grant its work needs goes to that email (the
//! IAM proof holds with the grants iam.tf makes), each environment gets its own email, grants on
//! the account itself are left to its owner (listed in an output and by `mlopsgen iam`), and a
//! bad role or email is a positioned diagnostic.

use hcl::structure::Body;
use mlopsgen::model::iam::{Member, Scope};
use mlopsgen::model::SaRole;
use mlopsgen::{compile, Error, Options, Source};

/// Two environments, a pipeline and CI (`tests/fixtures/ci_pipeline.yaml`).
const BASE: &str = include_str!("fixtures/ci_pipeline.yaml");

const EXTERNAL: &str = "service_accounts:\n  pipelines: {external: \"runner-{env}@acme-identity.iam.gserviceaccount.com\"}\n";

fn compiled(extra: &str) -> Result<mlopsgen::Compilation, Error> {
    let source = Source { name: "spec.yaml".into(), text: format!("{BASE}{extra}") };
    compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None })
}

fn resources(c: &mlopsgen::Compilation, ty: &str) -> Vec<(String, Body)> {
    let mut all = Vec::new();
    for (path, text) in c.output.files().filter(|(p, _)| p.ends_with(".tf")) {
        let body: Body = hcl::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        for b in body.into_blocks() {
            let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
            if b.identifier.as_str() == "resource" && labels.first() == Some(&ty) {
                all.push((labels.get(1).map(|s| s.to_string()).unwrap_or_default(), b.body.clone()));
            }
        }
    }
    all
}

fn attr(body: &Body, key: &str) -> String {
    body.attributes().find(|a| a.key.as_str() == key).map(|a| hcl::format::to_string(&a.expr).unwrap_or_default()).unwrap_or_default()
}

#[test]
fn the_role_runs_as_the_external_account_with_the_grants_its_work_needs() {
    let c = compiled(EXTERNAL).unwrap_or_else(|e| panic!("{e}"));
    let accounts: Vec<String> = resources(&c, "google_service_account").into_iter().map(|(n, _)| n).collect();
    assert!(!accounts.contains(&"pipelines".to_owned()), "{accounts:?}");
    assert!(accounts.contains(&"ci".to_owned()), "{accounts:?}");
    // Every binding to the pipelines identity names the external email, per environment.
    let email = "\"serviceAccount:runner-${var.env}@acme-identity.iam.gserviceaccount.com\"";
    let bindings = c.model.grants.iter().filter(|g| g.member == Member::Sa(SaRole::Pipelines)).count();
    let mut found = 0;
    for ty in ["google_project_iam_member", "google_storage_bucket_iam_member", "google_artifact_registry_repository_iam_member"] {
        for (name, body) in resources(&c, ty) {
            if name.starts_with("pipelines_") {
                assert_eq!(attr(&body, "member"), email, "{name}");
                found += 1;
            }
        }
    }
    assert!(found > 0 && found == bindings, "{found} bindings in iam.tf, {bindings} grants");
    // The proof checks the pipelines identity's actions against these grants and holds.
    let roles = mlopsgen::proof::roles::Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let proof = mlopsgen::proof::prove(&c.model, &roles);
    assert!(proof.holds(), "{:?}", proof.problems);
    assert!(!mlopsgen::proof::acts_of(&proof, Member::Sa(SaRole::Pipelines)).is_empty());
    // Each environment's CD runs the pipeline as that environment's account.
    for env in ["dev", "prod"] {
        let tfvars = c.output.get(&format!("terraform/env/{env}.tfvars")).unwrap_or_default();
        assert!(tfvars.contains(&format!("runner-{env}@acme-identity.iam.gserviceaccount.com")), "{tfvars}");
    }
}

#[test]
fn grants_on_the_external_account_are_left_to_its_owner_and_listed() {
    let c = compiled(EXTERNAL).unwrap_or_else(|e| panic!("{e}"));
    // CD submits the pipeline as the external account: it needs actAs on it, a binding in the
    // account's own IAM policy (its project), which this Terraform does not make ...
    let act_as = |g: &&mlopsgen::model::iam::Grant| g.scope == Scope::ServiceAccount(SaRole::Pipelines);
    assert!(c.model.grants.iter().any(|g| act_as(&g) && g.member == Member::Sa(SaRole::Ci)));
    for (name, body) in resources(&c, "google_service_account_iam_member") {
        assert!(!attr(&body, "service_account_id").contains("runner"), "{name} binds on the external account");
    }
    // ... but lists, with the Vertex AI service agent's Token Creator a cross-project account needs.
    let outputs = c.output.get("terraform/outputs.tf").unwrap_or_default();
    let body: Body = hcl::from_str(outputs).unwrap_or_else(|e| panic!("{e}"));
    let listed = body.blocks().find(|b| b.labels.iter().any(|l| l.as_str() == "external_service_account_grants"));
    let listed = listed.map(|b| attr(&b.body, "value")).unwrap_or_default();
    assert!(listed.contains("roles/iam.serviceAccountUser") && listed.contains("google_service_account.ci.member"), "{listed}");
    assert!(listed.contains("roles/iam.serviceAccountTokenCreator") && listed.contains("gcp-sa-aiplatform"), "{listed}");
    let roles = mlopsgen::proof::roles::Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let proof = mlopsgen::proof::prove(&c.model, &roles);
    assert_eq!(proof.outside.len(), 1, "{:?}", proof.outside);
    assert!(mlopsgen::proof::report::text(&proof).contains("outside this module: roles/iam.serviceAccountUser on pipelines SA for ci SA"));
    // An account of the environment's own project needs no cross-project Token Creator.
    let own = compiled("service_accounts:\n  pipelines: {external: \"shared-runner@{project}.iam.gserviceaccount.com\"}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!own.output.get("terraform/outputs.tf").unwrap_or_default().contains("serviceAccountTokenCreator"));
}

#[test]
fn a_bad_role_or_email_is_a_positioned_diagnostic() {
    let line = BASE.lines().count() + 2;
    for (extra, code, col) in [
        ("service_accounts:\n  ci: {external: \"x-runner@acme-identity.iam.gserviceaccount.com\"}\n", "E020", 3),
        ("service_accounts:\n  pipelines: {external: \"runner@acme-identity.iam.gserviceaccount\"}\n", "E030", 25),
        ("service_accounts:\n  pipelines: {external: \"123456789-compute@developer.gserviceaccount.com\"}\n", "E030", 25),
        ("service_accounts:\n  pipelines: {external: \"run@acme-identity.iam.gserviceaccount.com\"}\n", "E030", 25),
        ("service_accounts:\n  pipelines: {external: \"runner-{region}@acme-identity.iam.gserviceaccount.com\"}\n", "E030", 25),
        ("service_accounts:\n  pipelines: {external: \"runner\\\"@acme-identity.iam.gserviceaccount.com\"}\n", "E030", 25),
    ] {
        let Err(Error::Invalid(d)) = compiled(extra) else { panic!("expected a diagnostic for {extra}") };
        assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), (code, line, col), "{extra}: {d:?}");
    }
}
