//! `cicd.tf`: the Cloud Build 2nd-gen GitHub connection, the repository link and the triggers that
//! run the configs the Cloud Build target writes ([`cloudbuild::configs`]): pull requests and
//! pushes to the main branch in the first environment, release tags in every environment that has a
//! next one. Each environment's triggers run as its CI SA and pass its
//! [`cloudbuild::substitutions`] (the `build_substitutions` tfvar), so a build sees exactly the
//! values the configs were written for.

use super::iam::address;
use super::syntax::{block, call, count_if, iref, lit, num, r, resource, s, tpl, var, BlockExt, Item, TfFile};
use super::{api, depends_on_apis, sa};
use crate::model::iam::{Agent, Member};
use crate::model::{paths, Ci, Model};
use crate::targets::cloudbuild;
use hcl::expr::{BinaryOp, BinaryOperator, Expression, Operation};

/// The triggers (`var.ci_triggers`) of the environment at `index` in promotion order: `pr` and `cd`
/// in the first, `release` wherever there is a next environment to promote to.
pub fn triggers(m: &Model, index: usize) -> Vec<&'static str> {
    let has_next = index + 1 < m.environments.len();
    cloudbuild::configs(m)
        .into_iter()
        .filter(|kind| if matches!(*kind, "release" | "review") { has_next } else { index == 0 })
        .collect()
}

/// The environments that run triggers.
pub fn runners(m: &Model) -> Vec<&str> {
    m.environments.iter().enumerate().filter(|(i, _)| !triggers(m, *i).is_empty()).map(|(_, e)| e.name.as_str()).collect()
}

/// `length(var.ci_triggers) > 0`: whether the environment runs any trigger (and so needs the
/// GitHub connection and the CI SA's grants).
pub fn has_triggers() -> Expression {
    let length = call("length", vec![var("ci_triggers")]);
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(length, BinaryOperator::Greater, num(0)))))
}

/// `contains(var.ci_triggers, kind)`: whether the environment runs trigger `kind` (and so needs
/// its identity's grants).
pub fn runs(kind: &str) -> Expression {
    call("contains", vec![var("ci_triggers"), s(kind)])
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

/// What each trigger does.
fn describe(kind: &str) -> &'static str {
    match kind {
        "pr" => "Checks every pull request into the main branch (lint, tests, generated files).",
        "cd" => "Deploys every push to the main branch to this environment.",
        "review" => "Plans the next environment for a release tag and publishes the plan the release applies.",
        _ => "Promotes release tags from this environment to the next one.",
    }
}

/// The event that starts a trigger.
fn event(ci: &Ci, kind: &str) -> hcl::structure::Block {
    match kind {
        "pr" => block("pull_request")
            .attr("branch", s(exact(&ci.branch)))
            .attr("comment_control", s("COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"))
            .build(),
        "cd" => block("push").attr("branch", s(exact(&ci.branch))).build(),
        _ => block("push").attr("tag", s(&ci.release_tag)).build(),
    }
}

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let Some(ci) = &m.ci else { return f };
    connection(&mut f, m, ci);
    for kind in cloudbuild::configs(m) {
        let enabled = runs(kind);
        let event_config = block("repository_event_config")
            .attr("repository", super::syntax::ri(&["google_cloudbuildv2_repository", "github[0]", "id"]))
            .add_block(event(ci, kind))
            .build();
        let mut b = resource("google_cloudbuild_trigger", kind)
            .attr("count", count_if(enabled))
            .attr("name", s(format!("{}-{kind}", m.project.name)))
            .attr("description", s(describe(kind)))
            .attr("location", var("region"))
            .attr("filename", s(format!("{}/{}", m.output_dir, paths::cloudbuild(kind))))
            .attr("service_account", sa(m, cloudbuild::identity(kind), "id"))
            .attr("substitutions", var("build_substitutions"))
            .add_block(event_config)
            .attr("depends_on", depends_on_apis(m, &["cloudbuild.googleapis.com"]));
        if let Some(approval) = approval(m, kind) {
            b = b.add_block(approval);
        }
        f.push(Item::from(b).note(format!(
            "ci: `{kind}` runs {} as this environment's {} SA (the file names no account).",
            paths::cloudbuild(kind),
            cloudbuild::identity(kind).as_str()
        )));
    }
    f
}

/// `approval_config` of the release trigger that promotes into the last environment (unless
/// `ci.approve_last` is off): its builds wait, unstarted, until someone with
/// `roles/cloudbuild.builds.approver` approves them
/// (<https://cloud.google.com/build/docs/securing-builds/gate-builds-on-approval>).
fn approval(m: &Model, kind: &str) -> Option<hcl::structure::Block> {
    (kind == "release" && m.approval_required()).then(|| block("approval_config").attr("approval_required", into_last(m)).build())
}

/// `lookup(var.build_substitutions, "_NEXT_ENV", "") == "<last>"`: whether this environment's
/// release promotes into the last environment.
fn into_last(m: &Model) -> Expression {
    let last = m.environments.last().map(|e| e.name.as_str()).unwrap_or_default();
    let next = call("lookup", vec![var("build_substitutions"), s(cloudbuild::Scope::Next.key("ENV")), s("")]);
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(next, BinaryOperator::Eq, s(last)))))
}

/// Whether this environment runs the release trigger that waits for approval (where
/// `ci.approvers` get `roles/cloudbuild.builds.approver`: approving needs
/// `cloudbuild.builds.approve` in the project the pending build is in,
/// <https://cloud.google.com/build/docs/automating-builds/approve-builds>).
pub fn gated(m: &Model) -> Expression {
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(runs("release"), BinaryOperator::And, into_last(m)))))
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
                .attr("count", count_if(has_triggers()))
                .attr("name", s(&ci.connection))
                .attr("location", var("region"))
                .add_block(github)
                .attr("depends_on", super::syntax::list(deps)),
        )
        .note(format!(
            "ci.github: connects GitHub App installation {} with the token in secret `{}`",
            ci.app_installation_id, ci.oauth_token_secret
        ))
        .note("(only in environments that run triggers; the secret must exist before the first apply there)."),
    );
    f.push(
        Item::from(
            resource("google_cloudbuildv2_repository", "github")
                .attr("count", count_if(has_triggers()))
                .attr("name", s(&ci.repo))
                .attr("location", var("region"))
                .attr("parent_connection", super::syntax::ri(&["google_cloudbuildv2_connection", "github[0]", "name"]))
                .attr("remote_uri", s(format!("https://github.com/{}/{}.git", ci.owner, ci.repo))),
        )
        .note(format!("ci.github: {}/{}", ci.owner, ci.repo)),
    );
}
