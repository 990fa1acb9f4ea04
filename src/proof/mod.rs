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
use crate::model::iam::{Agent, Grant, Member, Scope};
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
    },
    /// A granted role provides no permission any action of its member needs on its resource.
    Unused {
        /// Who.
        member: Member,
        /// The role.
        role: String,
        /// Where.
        scope: Scope,
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

/// Checks the model's grants against its actions.
/// With environment views ([`Model::env_views`]), each environment's actions are checked against
/// that environment's grants ([`prove_env`]: Terraform binds a grant only where its view has it),
/// and the proofs are joined.
pub fn prove(m: &Model, roles: &Roles) -> Proof {
    if m.env_views.is_empty() {
        return with_outside(m, check(actions::derive(m), m.grants.clone(), roles));
    }
    let mut all = Proof { actions: Vec::new(), grants: Vec::new(), problems: Vec::new(), outside: Vec::new() };
    for env in &m.environments {
        let proof = prove_env(m, &env.name, roles);
        for p in proof.actions {
            if !all.actions.iter().any(|a| a.action == p.action) {
                all.actions.push(p);
            }
        }
        for g in proof.grants {
            if !all.grants.contains(&g) {
                all.grants.push(g);
            }
        }
        for p in proof.problems {
            if !all.problems.contains(&p) {
                all.problems.push(p);
            }
        }
        for g in proof.outside {
            if !all.outside.contains(&g) {
                all.outside.push(g);
            }
        }
    }
    all
}

/// The proof in one environment: its view's actions against its view's grants.
pub fn prove_env(m: &Model, env: &str, roles: &Roles) -> Proof {
    let view = m.for_env(env);
    with_outside(view, check(actions::derive(view), view.grants.clone(), roles))
}

/// `proof` with the grants of `m` that an external account's owner makes (see [`Proof::outside`]).
fn with_outside(m: &Model, mut proof: Proof) -> Proof {
    proof.outside = m.grants.iter().filter(|g| crate::model::iam::outside(m, g)).cloned().collect();
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
                });
            }
            checks.push(Check { permission, granted_by: best.map(|i| (grants[i].role.to_owned(), grants[i].scope.clone())) });
        }
        proven.push(Proven { action, doc: needs.doc, checks });
    }
    let terraform = grants.len() - google_count;
    for (g, used) in grants.iter().zip(used).take(terraform) {
        if !used && roles.permissions(g.role).is_some() {
            problems.push(Problem::Unused { member: g.member, role: g.role.to_owned(), scope: g.scope.clone() });
        }
    }
    proven.sort_by(|a, b| (a.action.member, a.action.act).cmp(&(b.action.member, b.action.act)).then(a.action.why.cmp(&b.action.why)));
    Proof { actions: proven, grants, problems, outside: Vec::new() }
}

/// The acts an identity performs (for reports and tests).
pub fn acts_of(proof: &Proof, member: Member) -> Vec<Act> {
    proof.actions.iter().filter(|p| p.action.member == member).map(|p| p.action.act).collect()
}
