//! `mlopsgen iam`: the offline least-privilege proof.
//!
//! For every identity, each runtime action it performs ([`crate::model::actions`], derived from
//! the model), the permissions that action needs ([`table`], citing the Google Cloud docs) and the
//! granted role and resource that provide each one ([`crate::model::iam`], what Terraform binds;
//! role contents from [`roles`]). It fails when a needed permission is not granted on a resource
//! that covers the one acted on, when a granted role provides nothing any action needs, or when a
//! granted role is unknown to the role data.

pub mod report;
pub mod roles;
pub mod table;

use crate::model::actions::{self, Act, Action};
use crate::model::iam::{acts_at, Agent, Grant, Member, Scope};
use crate::model::Model;
use roles::Roles;
use std::collections::BTreeSet;

/// One needed permission and what provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The permission.
    pub permission: &'static str,
    /// The role and the resource it is granted on, `None` when nothing grants it.
    pub granted_by: Option<(String, Scope)>,
}

/// One action with its checks.
#[derive(Debug, Clone)]
pub struct Proven {
    /// The action.
    pub action: Action,
    /// The page listing the permissions it needs.
    pub doc: &'static str,
    /// One check per needed permission.
    pub checks: Vec<Check>,
    /// The environments whose proof has this action with these checks: every environment, or,
    /// where environments differ, those whose grants provide it this way (the same action may
    /// be granted by another role in another environment, e.g. a narrower custom role).
    pub environments: Vec<String>,
}

/// Something that breaks least privilege or the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An action's permission is not granted on a covering resource.
    Missing {
        /// Who.
        member: Member,
        /// The action's reason.
        action: String,
        /// The permission.
        permission: &'static str,
        /// On what.
        scope: Scope,
        /// The environments it is missing in ([`prove`]; empty from [`check`] alone).
        environments: Vec<String>,
    },
    /// A granted role provides no permission any action of its member needs on its resource.
    Unused {
        /// Who.
        member: Member,
        /// The role.
        role: String,
        /// Where.
        scope: Scope,
        /// The environments it is unused in ([`prove`]; empty from [`check`] alone).
        environments: Vec<String>,
    },
    /// A granted role the role data doesn't know (update `data/gcp-iam/roles.json`).
    UnknownRole {
        /// The role.
        role: String,
    },
}

/// The proof for one model.
#[derive(Debug, Clone)]
pub struct Proof {
    /// Every action, sorted by member.
    pub actions: Vec<Proven>,
    /// The grants checked: Terraform's plus those Google makes itself.
    pub grants: Vec<Grant>,
    /// What fails.
    pub problems: Vec<Problem>,
    /// Grants the proof counts that this Terraform cannot make: those on an external service
    /// account (`service_accounts.<role>.external`), which its owner makes in its project.
    pub outside: Vec<Grant>,
    /// Every environment of the spec.
    pub environments: Vec<String>,
}

impl Problem {
    /// The problem with no environments, to compare it across environments.
    fn without_environments(&self) -> Problem {
        let mut p = self.clone();
        if let Problem::Missing { environments, .. } | Problem::Unused { environments, .. } = &mut p {
            environments.clear();
        }
        p
    }

    /// Its environments.
    fn into_environments(self) -> Vec<String> {
        match self {
            Problem::Missing { environments, .. } | Problem::Unused { environments, .. } => environments,
            Problem::UnknownRole { .. } => Vec::new(),
        }
    }
}

impl Proof {
    /// Whether nothing fails.
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Whether a binding on `granted` applies to a request on `needed`: the same resource, or an
/// unconditional project binding (IAM policies inherit down the resource hierarchy).
fn covers(granted: &Scope, needed: &Scope) -> bool {
    granted == needed || *granted == Scope::Project || (*granted == Scope::StateBucket && *needed == Scope::StatePlans)
}

/// Roles Google grants its service agents itself when their API is enabled, for the agents an
/// action names (https://cloud.google.com/iam/docs/service-agents).
pub fn google_granted(acts: &[Action]) -> Vec<Grant> {
    let agents: BTreeSet<Agent> =
        acts.iter().filter_map(|a| if let Member::Agent(x) = a.member { Some(x) } else { None }).collect();
    agents
        .into_iter()
        .filter_map(|agent| match agent {
            Agent::Vertex => Some(Grant {
                member: Member::Agent(agent),
                scope: Scope::Project,
                role: "roles/aiplatform.serviceAgent",
                reasons: vec!["granted by Google when the Vertex AI API is enabled".into()],
            }),
            _ => None,
        })
        .collect()
}

/// Checks the model's grants against its actions, in each environment ([`prove_env`]), and joins
/// the proofs: an action proven the same way in every environment it happens in once, one proven
/// by other grants in some environments once per way, each with its environments
/// ([`Proven::environments`]), and each problem with its environment.
pub fn prove(m: &Model, roles: &Roles) -> Proof {
    let names: Vec<String> = m.environments.iter().map(|e| e.name.clone()).collect();
    let mut all = Proof { actions: Vec::new(), grants: Vec::new(), problems: Vec::new(), outside: Vec::new(), environments: names };
    let same_grant = |a: &Grant, b: &Grant| (a.member, &a.scope, a.role) == (b.member, &b.scope, b.role);
    for env in &m.environments {
        let proof = prove_env(m, &env.name, roles);
        for p in proof.actions {
            match all.actions.iter_mut().find(|a| a.action == p.action && a.checks == p.checks) {
                Some(a) => a.environments.extend(p.environments),
                None => all.actions.push(p),
            }
        }
        for g in proof.grants {
            if !all.grants.iter().any(|h| same_grant(h, &g)) {
                all.grants.push(g);
            }
        }
        for p in proof.problems {
            // One problem per binding or permission, with every environment it is in.
            match all.problems.iter_mut().find(|q| q.without_environments() == p.without_environments()) {
                Some(Problem::Missing { environments, .. } | Problem::Unused { environments, .. }) => environments.extend(p.into_environments()),
                Some(Problem::UnknownRole { .. }) => {}
                None => all.problems.push(p),
            }
        }
        for g in proof.outside {
            if !all.outside.iter().any(|h| same_grant(h, &g)) {
                all.outside.push(g);
            }
        }
    }
    // In the order of one environment's proof; the ways of proving one action stay in the order of
    // the environments (a stable sort).
    all.actions.sort_by(by_member_and_act);
    all
}

/// The proof in one environment: the actions of its view ([`Model::env_views`]; the model itself
/// without overrides) against the grants of its view, of the identities that act there
/// ([`acts_at`]: Terraform binds a grant only where its view has it and its identity acts, e.g.
/// CD's only in the first environment, the promoter's in every later one), each action and
/// problem marked with the environment.
pub fn prove_env(m: &Model, env: &str, roles: &Roles) -> Proof {
    let view = m.for_env(env);
    let index = m.environments.iter().position(|e| e.name == env).unwrap_or_default();
    let acts_here = |member: Member| acts_at(m, member, index);
    let mut acts = actions::derive(view);
    acts.retain(|a| acts_here(a.member));
    let mut grants = view.grants.clone();
    grants.retain(|g| acts_here(g.member));
    let mut proof = check(acts, grants, roles);
    proof.outside = view.grants.iter().filter(|g| acts_here(g.member) && crate::model::iam::outside(view, g)).cloned().collect();
    for p in &mut proof.actions {
        p.environments = vec![env.to_owned()];
    }
    for p in &mut proof.problems {
        if let Problem::Missing { environments, .. } | Problem::Unused { environments, .. } = p {
            *environments = vec![env.to_owned()];
        }
    }
    proof.environments = vec![env.to_owned()];
    proof
}

/// Checks `grants` against `acts` (what [`prove`] does; separate so tests can weaken grants).
pub fn check(acts: Vec<Action>, mut grants: Vec<Grant>, roles: &Roles) -> Proof {
    let google = google_granted(&acts);
    let google_count = google.len();
    grants.extend(google);
    let mut problems = Vec::new();
    for g in &grants {
        if roles.permissions(g.role).is_none() {
            problems.push(Problem::UnknownRole { role: g.role.to_owned() });
        }
    }
    let mut used = vec![false; grants.len()];
    let mut proven = Vec::new();
    for action in acts {
        let needs = table::needs(action.act);
        let mut checks = Vec::new();
        for &permission in needs.permissions {
            let providers: Vec<usize> = (0..grants.len())
                .filter(|&i| {
                    let g = &grants[i];
                    g.member == action.member && covers(&g.scope, &action.scope) && roles.grants(g.role, permission)
                })
                .collect();
            for &i in &providers {
                used[i] = true;
            }
            // Show the narrowest provider: one on the resource itself before a project-wide one.
            let best = providers.iter().min_by_key(|&&i| grants[i].scope == Scope::Project).copied();
            if best.is_none() {
                problems.push(Problem::Missing {
                    member: action.member,
                    action: action.why.clone(),
                    permission,
                    scope: action.scope.clone(),
                    environments: Vec::new(),
                });
            }
            checks.push(Check { permission, granted_by: best.map(|i| (grants[i].role.to_owned(), grants[i].scope.clone())) });
        }
        proven.push(Proven { action, doc: needs.doc, checks, environments: Vec::new() });
    }
    let terraform = grants.len() - google_count;
    for (g, used) in grants.iter().zip(used).take(terraform) {
        if !used && roles.permissions(g.role).is_some() {
            problems.push(Problem::Unused { member: g.member, role: g.role.to_owned(), scope: g.scope.clone(), environments: Vec::new() });
        }
    }
    proven.sort_by(by_member_and_act);
    Proof { actions: proven, grants, problems, outside: Vec::new(), environments: Vec::new() }
}

/// The order of a proof's actions: by identity, then act, then reason.
fn by_member_and_act(a: &Proven, b: &Proven) -> std::cmp::Ordering {
    (a.action.member, a.action.act).cmp(&(b.action.member, b.action.act)).then(a.action.why.cmp(&b.action.why))
}

/// The acts an identity performs (for reports and tests).
pub fn acts_of(proof: &Proof, member: Member) -> Vec<Act> {
    proof.actions.iter().filter(|p| p.action.member == member).map(|p| p.action.act).collect()
}
