//! Terraform and Cloud Build agree end to end: read back with hcl-rs and evaluated per environment
//! (with its tfvars), each trigger exists where the promotion order wants it, runs a config file
//! the build wrote, as that environment's CI SA, and passes exactly `delivery::variables`;
//! the buckets CD writes to (Composer DAGs, function sources) are the ones Terraform creates.

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Body, Expression, Value};
use mlopsgen::model::{paths, Environment, Model, SaRole};
use mlopsgen::model::delivery::{variables, workflows, Workflow};
use mlopsgen::targets::cloudbuild::{live_references, subst};
use mlopsgen::targets::terraform;
use mlopsgen::{compile, Compilation, Options, Source};
use std::collections::BTreeMap;
use std::path::Path;

fn flagship() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The flagship with a `staging` environment between dev and prod: the middle of a promotion
/// chain both receives a release and sends one.
fn three_environments() -> String {
    let prod = "  prod:\n    gcp_project: acme-churn-prod";
    assert!(flagship().contains(prod));
    flagship().replace(prod, &format!("  staging: {{gcp_project: acme-churn-stg, region: europe-west4}}\n{prod}"))
}

fn build(text: &str) -> Compilation {
    let source = Source { name: "specs/flagship.yaml".into(), text: text.to_owned() };
    match compile(&source, &Options { spec_file: "specs/flagship.yaml".into(), out_override: None }) {
        Ok(c) => c,
        Err(mlopsgen::Error::Invalid(d)) => panic!("{}", mlopsgen::diagnostic::render(&source, &d, false)),
        Err(e) => panic!("{e}"),
    }
}

fn tf(c: &Compilation, name: &str) -> Body {
    let text = c.output.get(&format!("{}/{name}", paths::TERRAFORM_DIR)).unwrap_or_else(|| panic!("no {name}"));
    hcl::parse(text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

/// `resource "<ty>" "<name>"` bodies of a file, by name.
fn resources<'b>(body: &'b Body, ty: &str) -> BTreeMap<String, &'b Body> {
    body.blocks()
        .filter(|b| b.identifier() == "resource" && b.labels().first().map(|l| l.as_str()) == Some(ty))
        .filter_map(|b| Some((b.labels().get(1)?.as_str().to_owned(), b.body())))
        .collect()
}

fn resource<'b>(body: &'b Body, ty: &str, name: &str) -> &'b Body {
    resources(body, ty).remove(name).unwrap_or_else(|| panic!("no {ty}.{name}"))
}

fn attr<'b>(body: &'b Body, key: &str) -> &'b Expression {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr()).unwrap_or_else(|| panic!("no attribute {key}"))
}

fn nested<'b>(body: &'b Body, path: &[&str]) -> &'b Body {
    path.iter().fold(body, |b, name| {
        b.blocks().find(|x| x.identifier() == *name).map(|x| x.body()).unwrap_or_else(|| panic!("no block {name}"))
    })
}

/// The text of an expression (references compare as text).
fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr).unwrap_or_else(|e| panic!("{e}"))
}

fn contains(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(args[0].as_array().is_some_and(|a| a.contains(&args[1]))))
}

fn length(args: FuncArgs) -> Result<Value, String> {
    let n = match &args[0] {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        other => return Err(format!("length of {other:?}")),
    };
    Ok(Value::from(n as u64))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    Ok(args[0].as_object().and_then(|o| args[1].as_str().and_then(|k| o.get(k))).cloned().unwrap_or_else(|| args[2].clone()))
}

fn toset(args: FuncArgs) -> Result<Value, String> {
    let mut items = args[0].as_array().cloned().unwrap_or_default();
    items.dedup();
    Ok(Value::Array(items))
}

/// `var.*` from the environment's tfvars (plus variable defaults), and `contains`/`length`.
fn env_context(c: &Compilation, env: &Environment) -> Context<'static> {
    let mut vars = hcl::value::Map::new();
    for v in tf(c, "variables.tf").blocks().filter(|b| b.identifier() == "variable") {
        if let Some(default) = v.body().attributes().find(|a| a.key() == "default") {
            let name = v.labels().first().map(|l| l.as_str().to_owned()).unwrap_or_default();
            vars.insert(name, default.expr().evaluate(&Context::new()).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    for a in tf(c, &format!("env/{}.tfvars", env.name)).attributes() {
        let value = a.expr().evaluate(&Context::new()).unwrap_or_else(|e| panic!("tfvars {}: {e}", a.key()));
        vars.insert(a.key().to_owned(), value);
    }
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(vars));
    ctx.declare_func("contains", FuncDef::builder().params([ParamType::Any, ParamType::Any]).build(contains));
    ctx.declare_func("length", FuncDef::builder().param(ParamType::Any).build(length));
    ctx.declare_func("lookup", FuncDef::builder().params([ParamType::Any, ParamType::Any, ParamType::Any]).build(lookup));
    ctx.declare_func("toset", FuncDef::builder().param(ParamType::Any).build(toset));
    ctx
}

/// `ci.approvers` get the approver role in exactly the project whose release trigger waits for
/// approval (the pending build is there; approving it needs `cloudbuild.builds.approve` there),
/// and nowhere else.
fn check_approvers(c: &Compilation) {
    let m = &c.model;
    let approvers = m.ci.as_ref().map(|ci| ci.approvers.clone()).unwrap_or_default();
    assert!(!approvers.is_empty());
    let (cicd, iam) = (tf(c, "cicd.tf"), tf(c, "iam.tf"));
    let release = resource(&cicd, "google_cloudbuild_trigger", "release");
    let binding = resource(&iam, "google_project_iam_member", "approvers_cloudbuild_builds_approver");
    assert_eq!(string(attr(binding, "role"), &Context::new()), "roles/cloudbuild.builds.approver");
    let mut gated = Vec::new();
    for env in &m.environments {
        let ctx = env_context(c, env);
        let waits = count(release, &ctx) == 1 && eval(attr(nested(release, &["approval_config"]), "approval_required"), &ctx) == Value::Bool(true);
        let members: Vec<String> = eval(attr(binding, "for_each"), &ctx).as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        assert_eq!(members, if waits { approvers.clone() } else { Vec::new() }, "{}", env.name);
        if waits {
            assert_eq!(string(attr(binding, "project"), &ctx), env.gcp_project);
            gated.push(env.name.clone());
        }
    }
    // The one environment promoting into the last.
    let before_last = &m.environments[m.environments.len() - 2];
    assert_eq!(gated, std::slice::from_ref(&before_last.name));
    assert_eq!(text(attr(binding, "member")), "each.value");
}

#[test]
fn approvers_may_approve_where_the_release_into_the_last_environment_waits() {
    check_approvers(&build(&flagship()));
    check_approvers(&build(&three_environments()));
}

fn eval(expr: &Expression, ctx: &Context) -> Value {
    expr.evaluate(ctx).unwrap_or_else(|e| panic!("{} does not evaluate: {e}", text(expr)))
}

fn string(expr: &Expression, ctx: &Context) -> String {
    match eval(expr, ctx) {
        Value::String(s) => s,
        other => panic!("{} is {other:?}, not a string", text(expr)),
    }
}

/// How many instances a resource has in an environment (1 without `count`).
fn count(body: &Body, ctx: &Context) -> u64 {
    body.attributes().find(|a| a.key() == "count").map_or(1, |a| eval(a.expr(), ctx).as_u64().unwrap_or(99))
}

fn as_strings(value: &Value) -> BTreeMap<String, String> {
    let object = value.as_object().unwrap_or_else(|| panic!("{value:?} is not an object"));
    object.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_else(|| panic!("{k} = {v:?}")).to_owned())).collect()
}

fn check_triggers(c: &Compilation) {
    let m: &Model = &c.model;
    let cicd = tf(c, "cicd.tf");
    let triggers = resources(&cicd, "google_cloudbuild_trigger");
    let kinds: Vec<&str> = workflows(m).into_iter().map(Workflow::name).collect();
    assert_eq!(triggers.len(), kinds.len());
    for (i, env) in m.environments.iter().enumerate() {
        let ctx = env_context(c, env);
        let has_next = i + 1 < m.environments.len();
        let mut expected: Vec<&str> = if i == 0 { vec!["pr", "cd"] } else { Vec::new() };
        if has_next {
            expected.push("release");
            if mlopsgen::model::terraform_access::reviews(m) {
                expected.push("review");
            }
        }
        assert_eq!(terraform::triggers(m, i), expected, "{}", env.name);
        let mut enabled = Vec::new();
        for (kind, body) in &triggers {
            assert!(kinds.contains(&kind.as_str()), "trigger {kind} has no config");
            let file = paths::cloudbuild(kind);
            assert!(c.output.get(&file).is_some(), "{file} missing");
            assert_eq!(string(attr(body, "filename"), &ctx), format!("{}/{file}", m.output_dir));
            let runner = format!("google_service_account.{}.id", identity(kind).as_str());
            assert_eq!(text(attr(body, "service_account")), runner, "{kind}");
            if count(body, &ctx) == 0 {
                continue;
            }
            enabled.push(kind.as_str());
            let passed = as_strings(&eval(attr(body, "substitutions"), &ctx));
            assert_eq!(passed, variables(m, env), "{} {kind}", env.name);
            let config = serde_json::to_value(
                serde_yaml::from_str::<serde_yaml::Value>(c.output.get(&file).unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            for reference in live_references(&config).unwrap_or_else(|e| panic!("{e}")) {
                // A switch (`_ROLLBACK`) is set by hand on a run, else the file's empty default.
                let known = subst::BUILT_INS.contains(&reference.as_str()) || subst::SWITCHES.contains(&reference.as_str());
                assert!(
                    passed.contains_key(&reference) || known,
                    "{} {kind}: the trigger passes no `{reference}`",
                    env.name
                );
            }
            if kind == "release" {
                assert_eq!(passed.get("_NEXT_ENV"), m.environments.get(i + 1).map(|e| &e.name));
            }
        }
        enabled.sort_unstable();
        expected.sort_unstable();
        assert_eq!(enabled, expected, "{}", env.name);
        let connection = resource(&cicd, "google_cloudbuildv2_connection", "github");
        assert_eq!(count(connection, &ctx), u64::from(!expected.is_empty()), "{}", env.name);
    }
}

fn check_identities(c: &Compilation) {
    let m = &c.model;
    let iam = tf(c, "iam.tf");
    let ci = resource(&iam, "google_service_account", "ci");
    for (i, env) in m.environments.iter().enumerate() {
        let ctx = env_context(c, env);
        assert_eq!(string(attr(ci, "account_id"), &ctx), env.sa_id(SaRole::Ci));
        let previous = i.checked_sub(1).and_then(|p| m.environments.get(p));
        let promoter = ctx_var(&ctx, terraform::PROMOTER_VAR);
        assert_eq!(promoter, previous.map(|p| p.sa_email(SaRole::Promote)).unwrap_or_default(), "{}", env.name);
    }
    // The configs name no account, so the trigger's is the one a build runs as: in each
    // environment, every trigger it runs names the account of its kind that this module creates
    // there, whose id is that environment's (so it lives in the environment's project).
    for kind in workflows(m).into_iter().map(Workflow::name) {
        let config: serde_yaml::Value =
            serde_yaml::from_str(c.output.get(&paths::cloudbuild(kind)).unwrap_or_default()).unwrap_or_default();
        assert!(config.get("serviceAccount").is_none(), "{kind}: the file names an account");
        assert_eq!(config["options"]["logging"].as_str(), Some("CLOUD_LOGGING_ONLY"), "{kind}: a user-specified account needs it");
    }
    let cicd = tf(c, "cicd.tf");
    for (i, env) in m.environments.iter().enumerate() {
        let ctx = env_context(c, env);
        for kind in terraform::triggers(m, i) {
            let trigger = resource(&cicd, "google_cloudbuild_trigger", kind);
            let named = text(attr(trigger, "service_account"));
            let role = identity(kind);
            assert_eq!(named, format!("google_service_account.{}.id", role.as_str()), "{} {kind}", env.name);
            let account = resource(&iam, "google_service_account", role.as_str());
            assert_eq!(string(attr(account, "account_id"), &ctx), env.sa_id(role), "{} {kind}", env.name);
            assert!(env.sa_email(role).ends_with(&format!("@{}.iam.gserviceaccount.com", env.gcp_project)), "{} {kind}", env.name);
        }
    }
}

fn ctx_var(ctx: &Context, name: &str) -> String {
    let expr: Expression = hcl::expr::Traversal::builder(hcl::expr::Variable::unchecked("var")).attr(name).build().into();
    string(&expr, ctx)
}

fn check_buckets(c: &Compilation) {
    let m = &c.model;
    let storage = tf(c, "storage.tf");
    let runtime = tf(c, "runtime.tf");
    let composer = resource(&runtime, "google_composer_environment", "composer");
    assert_eq!(text(attr(nested(composer, &["storage_config"]), "bucket")), "google_storage_bucket.composer.name");
    for env in &m.environments {
        let ctx = env_context(c, env);
        let name = |key: &str| string(attr(resource(&storage, "google_storage_bucket", key), "name"), &ctx);
        assert_eq!(name("composer"), env.composer_bucket());
        let subs = variables(m, env);
        let dags = subs.get("_COMPOSER_DAG_FOLDER").unwrap_or_else(|| panic!("no DAG folder"));
        assert!(dags.starts_with(&format!("gs://{}/dags/", name("composer"))), "{dags}");
        let root = name(&m.pipeline_root_bucket);
        assert_eq!(root, env.bucket_name(&m.pipeline_root_bucket));
        assert_eq!(subs.get(&format!("_BUCKET_{}", m.pipeline_root_bucket.to_uppercase())), Some(&root));
        for f in &m.functions {
            let function = resource(&runtime, "google_cloudfunctions2_function", &f.key.replace('-', "_"));
            let source = nested(function, &["build_config", "source", "storage_source"]);
            assert_eq!(string(attr(source, "object"), &ctx), f.source_object());
            assert_eq!(text(attr(source, "bucket")), format!("google_storage_bucket.{}.name", m.pipeline_root_bucket));
            let cd = c.output.get(&paths::cloudbuild("cd")).unwrap_or_default();
            assert!(cd.contains(&format!("OBJECT=gs://${{_BUCKET_ARTIFACTS}}/{}", f.source_object())));
        }
    }
}

#[test]
fn flagship_triggers_run_the_configs_with_their_environments_values() {
    check_triggers(&build(&flagship()));
}

#[test]
fn every_environment_of_a_three_step_promotion_gets_its_triggers() {
    check_triggers(&build(&three_environments()));
}

#[test]
fn triggers_run_as_the_ci_sa_and_releases_are_granted_to_the_previous_one() {
    check_identities(&build(&flagship()));
    check_identities(&build(&three_environments()));
}

#[test]
fn cd_writes_to_the_buckets_terraform_creates() {
    check_buckets(&build(&flagship()));
    check_buckets(&build(&three_environments()));
}

#[test]
fn promoter_grants_exist_only_where_a_release_arrives() {
    let c = build(&three_environments());
    let iam = tf(&c, "iam.tf");
    for (i, env) in c.model.environments.iter().enumerate() {
        let ctx = env_context(&c, env);
        let promoted: Vec<u64> = iam
            .blocks()
            .filter(|b| b.labels().get(1).is_some_and(|l| l.as_str().starts_with("promoter_")))
            .map(|b| count(b.body(), &ctx))
            .collect();
        assert!(!promoted.is_empty());
        assert!(promoted.iter().all(|n| *n == u64::from(i > 0)), "{}: {promoted:?}", env.name);
    }
}

#[test]
fn the_build_identities_hold_what_the_builds_do() {
    use mlopsgen::model::iam::{Member, Scope};
    let c = build(&flagship());
    let m = &c.model;
    let has = |who: Member, scope: Scope, role: &str| {
        let found = m.grants.iter().find(|g| g.member == who && g.scope == scope && g.role == role);
        assert!(found.is_some_and(|g| g.reasons.iter().any(|r| r.starts_with("ci"))), "{who:?} lacks {role} on {scope:?}");
    };
    let ci = Member::Sa(SaRole::Ci);
    has(ci, Scope::Project, "roles/logging.logWriter");
    has(ci, Scope::Project, "roles/aiplatform.user");
    has(ci, Scope::ServiceAccount(SaRole::Pipelines), "roles/iam.serviceAccountUser");
    for who in [ci, Member::Promoter] {
        has(who, Scope::DockerRepo, "roles/artifactregistry.writer");
        has(who, Scope::KfpRepo, "roles/artifactregistry.writer");
        has(who, Scope::ComposerBucket, "roles/storage.objectUser");
        has(who, Scope::Bucket(m.pipeline_root_bucket.clone()), "roles/storage.objectUser");
        for s in &m.services {
            has(who, Scope::CloudRunService(s.key.clone()), "roles/run.developer");
        }
        has(who, Scope::ServiceAccount(SaRole::Serving), "roles/iam.serviceAccountUser");
        for f in &m.functions {
            has(who, Scope::Function(f.key.clone()), "roles/cloudfunctions.developer");
        }
        has(who, Scope::ServiceAccount(SaRole::Functions), "roles/iam.serviceAccountUser");
    }
    // A release runs in the previous environment's project: it needs nothing project-wide here,
    // except the scheduler API for the Vertex AI schedules it creates or updates here, and the
    // lookups of the functions it deploys (`function_deployer`: they may not exist yet).
    for who in [ci, Member::Promoter] {
        has(who, Scope::Project, "roles/aiplatform.user");
        has(who, Scope::Project, "function_deployer");
    }
    let project_wide: Vec<_> = m.grants.iter().filter(|g| g.member == Member::Promoter && g.scope == Scope::Project).collect();
    for g in project_wide {
        let expected = match g.role {
            "roles/aiplatform.user" => "Vertex AI schedule",
            "function_deployer" => "redeploys it",
            other => panic!("the promoter holds {other} project-wide: {:?}", g.reasons),
        };
        assert!(g.reasons.iter().all(|r| r.contains(expected)), "{}: {:?}", g.role, g.reasons);
    }
}

/// The identity the workflow called `kind` runs as.
fn identity(kind: &str) -> SaRole {
    Workflow::named(kind).unwrap_or_else(|| panic!("no workflow {kind}")).identity()
}

/// Terraform creates a custom role only where a grant uses it, but the apply SA may manage custom
/// roles whether or not the module has one: it cannot use a role in the apply that grants it (IAM
/// propagates in minutes), so the change that brings the first one (here, the flagship's only
/// endpoint caller and its function, on a module without them) applies with a role granted long
/// before.
#[test]
fn the_apply_sa_may_manage_custom_roles_before_the_first_one() {
    let caller = "    endpoint: churn\n    # Serves the latest batch scores too";
    assert!(flagship().contains(caller), "the flagship's service no longer calls the endpoint");
    let function = flagship().split("\nfunctions:\n").nth(1).and_then(|rest| rest.split("\n\n").next()).map(|body| format!("\nfunctions:\n{body}\n"));
    let function = function.unwrap_or_else(|| panic!("the flagship has no functions"));
    let c = build(&flagship().replace(caller, "    # Serves the latest batch scores too").replace(&function, "\n"));
    assert!(c.model.functions.is_empty());
    let iam = tf(&c, "iam.tf");
    assert!(resources(&iam, "google_project_iam_custom_role").is_empty(), "a custom role no grant uses");
    let members = resources(&iam, "google_project_iam_member");
    for (binding, role) in [("apply_iam_roleadmin", "roles/iam.roleAdmin"), ("plan_iam_roleviewer", "roles/iam.roleViewer")] {
        let body = members.get(binding).unwrap_or_else(|| panic!("no {binding}"));
        assert_eq!(attr(body, "role"), &Expression::from(role), "{binding}");
    }
}

/// Artifact Registry deletes an image once no KEEP policy matches it and a DELETE policy does
/// (KEEP wins: https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy-overview).
/// The images still in use long after newer builds are those an environment runs (its tag) and
/// those a build deployed (its mark, `deployed-<sha>`: a registry model version runs its serving
/// image by the digest of the run that registered it, and rollbacks copy an old mark); every tag
/// the deploying builds write must be kept, whatever the DELETE rule says.
#[test]
fn the_registry_cleanup_keeps_every_image_an_environment_runs_or_deployed() {
    let c = build(&flagship());
    let storage = tf(&c, "storage.tf");
    let repo = resource(&storage, "google_artifact_registry_repository", "docker");
    let policies: Vec<&Body> =
        repo.blocks().filter(|b| b.identifier() == "cleanup_policies").map(|b| b.body()).collect();
    assert!(policies.iter().any(|p| text(attr(p, "action")) == "\"DELETE\""), "no DELETE rule to guard against");
    let kept: Vec<String> = policies
        .iter()
        .filter(|p| text(attr(p, "action")) == "\"KEEP\"")
        .filter_map(|p| p.blocks().find(|b| b.identifier() == "condition"))
        .filter_map(|condition| condition.body().attributes().find(|a| a.key() == "tag_prefixes").map(|a| a.expr().clone()))
        .flat_map(|prefixes| match prefixes {
            Expression::Array(items) => items.into_iter().filter_map(|i| if let Expression::String(s) = i { Some(s) } else { None }).collect(),
            _ => Vec::new(),
        })
        .collect();
    let keeps = |tag: &str| kept.iter().any(|prefix| tag.starts_with(prefix.as_str()));
    for env in &c.model.environments {
        assert!(keeps(env.image_tag()), "`{}` is not kept: {kept:?}", env.image_tag());
    }
    for kind in ["cd", "release"] {
        let config: serde_yaml::Value =
            serde_yaml::from_str(c.output.get(&paths::cloudbuild(kind)).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let mark = config["steps"].as_sequence().into_iter().flatten().find(|s| s["id"].as_str() == Some("mark-deployed"));
        let env = mark.and_then(|m| m["env"].as_sequence()).unwrap_or_else(|| panic!("{kind}: no mark-deployed"));
        let prefix = env.iter().filter_map(|e| e.as_str()?.strip_prefix("MARK=")).next().unwrap_or_else(|| panic!("{kind}: no MARK"));
        assert!(keeps(&format!("{prefix}abc1234")), "{kind} marks `{prefix}<sha>`, which the cleanup deletes: {kept:?}");
    }
}
