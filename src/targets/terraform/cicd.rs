//! `cicd.tf`: the Cloud Build 2nd-gen GitHub connection, the repository link and the triggers
//! (PR checks, CD on the main branch, releases on tags), plus the substitutions every trigger
//! passes — defined once here, in [`trigger_substitutions`], for both Terraform and the Cloud Build
//! configs.

use super::iam::address;
use super::syntax::{
    block, call, iref, lit, num, object, r, r0, resource, s, tpl, var, BlockExt, Item, TfFile,
};
use super::{api, depends_on_apis, sa, storage};
use crate::model::iam::{Agent, Member};
use crate::model::{paths, Ci, Environment, Model, SaRole};
use hcl::expr::{Conditional, Expression};
use std::collections::BTreeMap;

/// Trigger kinds an environment can run (`var.ci_triggers`).
pub const TRIGGERS: &[&str] = &["cd", "pr", "release"];

/// A substitution's value in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Substitution {
    /// Known when mlopsgen runs.
    Literal(String),
    /// The Composer environment's DAG folder (`gs://…/dags`), known once Terraform created it.
    ComposerDagPrefix,
}

/// Every user substitution the triggers pass to `cloudbuild/*.yaml`, with its value in `env`:
/// - `_ENV`, `_REGION`: the environment and its region; `_NEXT_ENV`: the next environment in
///   promotion order (empty in the last);
/// - `_DOCKER_REPO` (`REGION-docker.pkg.dev/PROJECT/REPO`), `_KFP_REPO` (`https://REGION-kfp.pkg.dev/PROJECT/REPO`);
/// - `_ARTIFACTS_BUCKET`: the pipeline-root bucket name (pipeline roots, function sources);
/// - `_PIPELINES_SA`: the email pipelines run as;
/// - `_COMPOSER_DAG_PREFIX`: where CD copies the DAGs.
pub fn trigger_substitutions(m: &Model, env: &Environment) -> BTreeMap<String, Substitution> {
    let mut subs = BTreeMap::new();
    let mut put = |k: &str, v: String| subs.insert(k.to_owned(), Substitution::Literal(v));
    put("_ENV", env.name.clone());
    put("_REGION", env.region.clone());
    let next = m.environments.iter().skip_while(|e| e.name != env.name).nth(1);
    put("_NEXT_ENV", next.map(|e| e.name.clone()).unwrap_or_default());
    if storage::has_docker_repo(m) {
        put("_DOCKER_REPO", env.docker_repo());
    }
    if storage::has_kfp_repo(m) {
        put("_KFP_REPO", env.kfp_repo());
    }
    if !m.pipelines.is_empty() || !m.functions.is_empty() {
        put("_ARTIFACTS_BUCKET", env.bucket_name(&m.pipeline_root_bucket));
    }
    if !m.pipelines.is_empty() {
        put("_PIPELINES_SA", env.sa_email(SaRole::Pipelines));
    }
    if m.composer.is_some() {
        subs.insert("_COMPOSER_DAG_PREFIX".into(), Substitution::ComposerDagPrefix);
    }
    subs
}

/// The literal substitutions of an environment (its `build_substitutions` tfvar).
pub fn literal_substitutions(m: &Model, env: &Environment) -> BTreeMap<String, String> {
    trigger_substitutions(m, env)
        .into_iter()
        .filter_map(|(k, v)| match v {
            Substitution::Literal(v) => Some((k, v)),
            Substitution::ComposerDagPrefix => None,
        })
        .collect()
}

/// RE2 pattern matching exactly `text`.
fn exact(text: &str) -> String {
    let mut out = String::from("^");
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let Some(ci) = &m.ci else { return f };
    connection(&mut f, m, ci);
    let substitutions = if m.composer.is_some() {
        let prefix = r0(&["google_composer_environment", "composer", "config"], &["dag_gcs_prefix"]);
        call("merge", vec![var("build_substitutions"), object([("_COMPOSER_DAG_PREFIX".to_owned(), prefix)])])
    } else {
        var("build_substitutions")
    };
    let pr = block("pull_request")
        .attr("branch", s(exact(&ci.branch)))
        .attr("comment_control", s("COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"))
        .build();
    let triggers = [
        ("pr", "Checks every pull request into the main branch (lint, tests, compile).", pr),
        ("cd", "Deploys every push to the main branch to the first environment.", block("push").attr("branch", s(exact(&ci.branch))).build()),
        ("release", "Promotes release tags to this environment.", block("push").attr("tag", s(&ci.release_tag)).build()),
    ];
    for (kind, description, event) in triggers {
        let enabled = call("contains", vec![var("ci_triggers"), s(kind)]);
        let count = Expression::Conditional(Box::new(Conditional::new(enabled, num(1), num(0))));
        let event_config = block("repository_event_config")
            .attr("repository", r(&["google_cloudbuildv2_repository", "github", "id"]))
            .add_block(event)
            .build();
        let b = resource("google_cloudbuild_trigger", kind)
            .attr("count", count)
            .attr("name", s(format!("{}-{kind}", m.project.name)))
            .attr("description", s(description))
            .attr("location", var("region"))
            .attr("filename", s(format!("{}/{}", m.output_dir, paths::cloudbuild(kind))))
            .attr("service_account", sa(SaRole::Ci, "id"))
            .attr("substitutions", substitutions.clone())
            .add_block(event_config)
            .attr("depends_on", depends_on_apis(m, &["cloudbuild.googleapis.com"]));
        f.push(Item::from(b).note(format!(
            "ci: `{kind}` runs {} as the CI SA (the config logs to Cloud Logging only, as a build SA requires).",
            paths::cloudbuild(kind)
        )));
    }
    f
}

fn connection(f: &mut TfFile, m: &Model, ci: &Ci) {
    let version = tpl(vec![
        lit("projects/"),
        iref(var("project_id")),
        lit(format!("/secrets/{}/versions/latest", ci.oauth_token_secret)),
    ]);
    let github = block("github_config")
        .attr("app_installation_id", num(ci.app_installation_id))
        .add_block(block("authorizer_credential").attr("oauth_token_secret_version", version).build())
        .build();
    let mut deps: Vec<Expression> = ["cloudbuild.googleapis.com", "secretmanager.googleapis.com"]
        .iter()
        .filter(|a| m.apis.contains(a))
        .map(|a| api(a))
        .collect();
    deps.extend(m.grants.iter().filter(|g| g.member == Member::Agent(Agent::CloudBuild)).map(|g| {
        let (ty, name) = address(g);
        r(&[ty, &name])
    }));
    f.push(
        Item::from(
            resource("google_cloudbuildv2_connection", "github")
                .attr("name", s(&ci.connection))
                .attr("location", var("region"))
                .add_block(github)
                .attr("depends_on", super::syntax::list(deps)),
        )
        .note(format!(
            "ci.github: connects GitHub App installation {} with the token in secret `{}`.",
            ci.app_installation_id, ci.oauth_token_secret
        )),
    );
    f.push(
        Item::from(
            resource("google_cloudbuildv2_repository", "github")
                .attr("name", s(&ci.repo))
                .attr("location", var("region"))
                .attr("parent_connection", r(&["google_cloudbuildv2_connection", "github", "name"]))
                .attr("remote_uri", s(format!("https://github.com/{}/{}.git", ci.owner, ci.repo))),
        )
        .note(format!("ci.github: {}/{}", ci.owner, ci.repo)),
    );
}
