//! Least-privilege IAM derived from declared usage.
//!
//! Each [`Grant`] gives one service account one role on the narrowest resource that needs it, and
//! says which spec entry asked for it, so a reviewer can trace every binding.

use super::{Model, SaRole};

/// What a role is granted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The whole project (only where no narrower scope exists).
    Project,
    /// One bucket (by key).
    Bucket(String),
    /// The Docker repository.
    DockerRepo,
    /// The KFP template repository.
    KfpRepo,
    /// Another service account (actAs).
    ServiceAccount(SaRole),
    /// A Secret Manager secret (by id).
    Secret(String),
}

/// One IAM binding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// Who.
    pub member: SaRole,
    /// Where.
    pub scope: Scope,
    /// Role, e.g. `roles/storage.objectViewer`.
    pub role: &'static str,
    /// Why: the spec entry that needs it.
    pub reason: String,
}

/// Derives the grants the model's declared usage needs, sorted and deduplicated.
pub fn derive(_model: &Model) -> Vec<Grant> {
    Vec::new()
}
