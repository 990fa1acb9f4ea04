//! The delivery plan: how a commit reaches each environment, whatever CI system runs it.
//!
//! - [`Workflow`]: the four workflows (pull-request checks, deploy on push, release, release
//!   review): what starts each ([`Event`]), where each runs in promotion order, the identity it
//!   runs as and the environment it acts on; [`workflows`] says which a model has.
//! - [`Deliverable`]: what a deploying workflow puts into an environment, [`deliverables`].
//! - [`variables`]: the values a workflow reads for the environment it runs in and the next one.
//!
//! Terraform creates each environment's triggers from it and passes the variables
//! (`terraform::cicd`); the grants (`iam::ci`) and the proof's acts (`actions::ci`) of the
//! identities follow the workflows and deliverables, with exhaustive matches, so a new
//! deliverable cannot go ungranted or unproven; the Cloud Build target renders each workflow as a
//! build file. A second CI emitter would render the same plan.

pub mod variables;

pub use variables::{next_env, run_pipeline, variables, Stage};

use super::{terraform_access, Ci, Function, Image, Model, Orchestrator, Pipeline, SaRole, Service};

/// The build argument a deploy passes to every image build: the commit SHA, which the Dockerfiles
/// put in the `org.opencontainers.image.revision` label.
pub const REVISION_ARG: &str = "REVISION";

/// The tag prefix that marks an image as deployed with its commit, `deployed-<SHORT_SHA>`: the
/// last step of a build that deploys a commit writes it, a release copies from it, and the Docker
/// repository's cleanup policy keeps what carries it.
pub const DEPLOYED_TAG_PREFIX: &str = "deployed-";

/// A CI workflow, by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workflow {
    /// Lint, test and check every pull request into the main branch, plan every environment.
    Checks,
    /// Deploy every push to the main branch into the first environment.
    Deploy,
    /// Promote a release tag from an environment into the next one.
    Release,
    /// Plan the next environment for a release tag and publish the plan the release applies.
    Review,
}

/// What starts a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'m> {
    /// A pull request into the branch.
    PullRequest { branch: &'m str },
    /// A push to the branch.
    Push { branch: &'m str },
    /// A pushed tag matching the pattern (RE2).
    Tag { pattern: &'m str },
}

impl Workflow {
    /// Every workflow, in the order the files and triggers are listed.
    pub const ALL: [Workflow; 4] = [Workflow::Checks, Workflow::Deploy, Workflow::Release, Workflow::Review];

    /// Its name: the build file (`paths::cloudbuild`) and the trigger are named after it.
    pub fn name(self) -> &'static str {
        match self {
            Workflow::Checks => "pr",
            Workflow::Deploy => "cd",
            Workflow::Release => "release",
            Workflow::Review => "review",
        }
    }

    /// The workflow called `name`.
    pub fn named(name: &str) -> Option<Workflow> {
        Workflow::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The identity its builds run as. Pull requests run the PR's code, so as the read-only
    /// checks SA; deploys as the CI SA; releases and their reviews as the promotion SA (see
    /// `iam::ci`). The trigger names it; build files name no account.
    pub fn identity(self) -> SaRole {
        match self {
            Workflow::Checks => SaRole::Checks,
            Workflow::Deploy => SaRole::Ci,
            Workflow::Release | Workflow::Review => SaRole::Promote,
        }
    }

    /// The environment it deploys into or plans: its own (deploy) or the next (release, review).
    pub fn acts_on(self) -> Stage {
        match self {
            Workflow::Checks | Workflow::Deploy => Stage::Current,
            Workflow::Release | Workflow::Review => Stage::Next,
        }
    }

    /// Whether its builds deploy into an environment, and so take turns with the other builds of
    /// the workflow there: an older one deploys first, and none deploys over a newer commit
    /// (`cloudbuild::turn`; each build lists the project's builds, `iam::ci`).
    pub fn takes_turns(self) -> bool {
        matches!(self, Workflow::Deploy | Workflow::Release)
    }

    /// What starts it.
    pub fn event(self, ci: &Ci) -> Event<'_> {
        match self {
            Workflow::Checks => Event::PullRequest { branch: &ci.branch },
            Workflow::Deploy => Event::Push { branch: &ci.branch },
            Workflow::Release | Workflow::Review => Event::Tag { pattern: &ci.release_tag },
        }
    }

    /// Whether it runs in the environment at `index` of `count` in promotion order: checks and
    /// deploys in the first, releases and reviews wherever there is a next environment.
    pub fn runs_at(self, index: usize, count: usize) -> bool {
        match self {
            Workflow::Checks | Workflow::Deploy => index == 0,
            Workflow::Release | Workflow::Review => index + 1 < count,
        }
    }

    /// One sentence on what it does (the trigger's description).
    pub fn describe(self) -> &'static str {
        match self {
            Workflow::Checks => "Checks every pull request into the main branch (lint, tests, generated files).",
            Workflow::Deploy => "Deploys every push to the main branch to this environment.",
            Workflow::Release => "Promotes release tags from this environment to the next one.",
            Workflow::Review => "Plans the next environment for a release tag and publishes the plan the release applies.",
        }
    }
}

/// The workflows the model has (none without `ci`): checks always; deploy when there is
/// something to deliver; release when there is also a next environment; review when releases
/// apply a reviewed Terraform plan ([`terraform_access::reviews`]).
pub fn workflows(m: &Model) -> Vec<Workflow> {
    if m.ci.is_none() {
        return Vec::new();
    }
    let delivers = !deliverables(m).is_empty();
    Workflow::ALL
        .into_iter()
        .filter(|w| match w {
            Workflow::Checks => true,
            Workflow::Deploy => delivers,
            Workflow::Release => delivers && m.environments.len() > 1,
            Workflow::Review => terraform_access::reviews(m),
        })
        .collect()
}

/// Something a deploying workflow puts into an environment.
#[derive(Debug, Clone, Copy)]
pub enum Deliverable<'m> {
    /// An image, built and pushed by a deploy, copied by digest by a release.
    Image(&'m Image),
    /// The environment's Terraform, applied as its apply SA (`ci.terraform.apply`).
    Terraform,
    /// A pipeline's compiled template, uploaded to the environment's KFP repository.
    Template(&'m Pipeline),
    /// The environment's DAGs, synced into its Composer bucket.
    Dags,
    /// A pipeline's Vertex AI schedule, created or updated.
    Schedule(&'m Pipeline),
    /// The removal of the project's schedules the environment no longer has
    /// ([`super::Ci::owns_vertex_schedules`]).
    StaleSchedules,
    /// A Cloud Run service rolled onto the new image.
    Service(&'m Service),
    /// A function's source, uploaded, and the function redeployed.
    Function(&'m Function),
}

/// The id of the build step that delivers [`Deliverable::StaleSchedules`]; the review flags a
/// deploy that loses it, after which schedules the spec drops keep running.
pub const PRUNE_STEP: &str = "prune-schedules";

/// What a deploy or a release delivers into an environment of `m`, in the order the builds do it
/// (the deploy also starts `ci.run_pipeline`, [`run_pipeline`], which needs a template).
pub fn deliverables(m: &Model) -> Vec<Deliverable<'_>> {
    let mut out: Vec<Deliverable> = m.images.iter().map(Deliverable::Image).collect();
    if terraform_access::applies(m) {
        out.push(Deliverable::Terraform);
    }
    out.extend(m.pipelines.iter().map(Deliverable::Template));
    if m.deploys_dags() {
        out.push(Deliverable::Dags);
    }
    out.extend(vertex_scheduled(m).map(Deliverable::Schedule));
    if m.ci.as_ref().is_some_and(|c| c.owns_vertex_schedules) {
        out.push(Deliverable::StaleSchedules);
    }
    out.extend(m.services.iter().map(Deliverable::Service));
    out.extend(m.functions.iter().map(Deliverable::Function));
    out
}

/// The pipelines scheduled on Vertex AI (rather than Composer) in `m`.
pub fn vertex_scheduled(m: &Model) -> impl Iterator<Item = &Pipeline> {
    m.pipelines.iter().filter(|p| p.schedule.as_ref().is_some_and(|s| s.orchestrator == Orchestrator::Vertex))
}
