//! `cicd.tf`: the Cloud Build 2nd-gen GitHub connection, the repository link and one trigger per
//! workflow of the delivery plan ([`delivery::workflows`]), which runs the build file the Cloud
//! Build target writes for it: pull requests and pushes to the main branch in the first
//! environment, release tags in every environment that has a next one. Each trigger runs as its
//! workflow's identity and passes the environment's [`delivery::variables`] (the
//! `build_substitutions` tfvar), so a build sees exactly the values the files were written for.

use super::iam::address;
use super::syntax::{block, call, count_if, iref, lit, num, r, resource, s, tpl, var, BlockExt, Item, TfFile};
use super::{api, depends_on_apis, sa};
use crate::model::iam::{Agent, Member};
use crate::model::delivery::{self, Event, Stage, Workflow};
use crate::model::{paths, Ci, Model};
use hcl::expr::{BinaryOp, BinaryOperator, Expression, Operation};

/// The triggers (`var.ci_triggers`) of the environment at `index` in promotion order: the
/// workflows that run there ([`Workflow::runs_at`]).
pub fn triggers(m: &Model, index: usize) -> Vec<&'static str> {
    let count = m.environments.len();
    delivery::workflows(m).into_iter().filter(|w| w.runs_at(index, count)).map(Workflow::name).collect()
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

/// `contains(var.ci_triggers, name)`: whether the environment runs the workflow's trigger (and so
/// needs its identity's grants).
pub fn runs(workflow: Workflow) -> Expression {
    call("contains", vec![var("ci_triggers"), s(workflow.name())])
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

/// The event block that starts a workflow's trigger.
fn event(ci: &Ci, workflow: Workflow) -> hcl::structure::Block {
    match workflow.event(ci) {
        Event::PullRequest { branch } => block("pull_request")
            .attr("branch", s(exact(branch)))
            .attr("comment_control", s("COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"))
            .build(),
        Event::Push { branch } => block("push").attr("branch", s(exact(branch))).build(),
        Event::Tag { pattern } => block("push").attr("tag", s(pattern)).build(),
    }
}

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    let Some(ci) = &m.ci else { return f };
    connection(&mut f, m, ci);
    for workflow in delivery::workflows(m) {
        let (kind, identity) = (workflow.name(), workflow.identity());
        let enabled = runs(workflow);
        let event_config = block("repository_event_config")
            .attr("repository", super::syntax::ri(&["google_cloudbuildv2_repository", "github[0]", "id"]))
            .add_block(event(ci, workflow))
            .build();
        let mut b = resource("google_cloudbuild_trigger", kind)
            .attr("count", count_if(enabled))
            .attr("name", s(format!("{}-{kind}", m.project.name)))
            .attr("description", s(workflow.describe()))
            .attr("location", var("region"))
            .attr("filename", s(format!("{}/{}", m.output_dir, paths::cloudbuild(kind))))
            .attr("service_account", sa(m, identity, "id"))
            .attr("substitutions", var("build_substitutions"))
            .add_block(event_config)
            .attr("depends_on", depends_on_apis(m, &["cloudbuild.googleapis.com"]));
        if let Some(approval) = approval(m, workflow) {
            b = b.add_block(approval);
        }
        f.push(Item::from(b).note(format!(
            "ci: `{kind}` runs {} as this environment's {} SA (the file names no account).",
            paths::cloudbuild(kind),
            identity.as_str()
        )));
    }
    f
}

/// `approval_config` of the release trigger that promotes into the last environment (unless
/// `ci.approve_last` is off): its builds wait, unstarted, until someone with
/// `roles/cloudbuild.builds.approver` approves them
/// (<https://cloud.google.com/build/docs/securing-builds/gate-builds-on-approval>).
fn approval(m: &Model, workflow: Workflow) -> Option<hcl::structure::Block> {
    (workflow == Workflow::Release && m.approval_required()).then(|| block("approval_config").attr("approval_required", into_last(m)).build())
}

/// `lookup(var.build_substitutions, "_NEXT_ENV", "") == "<last>"`: whether this environment's
/// release promotes into the last environment.
fn into_last(m: &Model) -> Expression {
    let last = m.environments.last().map(|e| e.name.as_str()).unwrap_or_default();
    let next = call("lookup", vec![var("build_substitutions"), s(Stage::Next.key(delivery::variables::ENV)), s("")]);
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(next, BinaryOperator::Eq, s(last)))))
}

/// Whether this environment runs the release trigger that waits for approval (where
/// `ci.approvers` get `roles/cloudbuild.builds.approver`: approving needs
/// `cloudbuild.builds.approve` in the project the pending build is in,
/// <https://cloud.google.com/build/docs/automating-builds/approve-builds>).
pub fn gated(m: &Model) -> Expression {
    Expression::Operation(Box::new(Operation::Binary(BinaryOp::new(runs(Workflow::Release), BinaryOperator::And, into_last(m)))))
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
