//! `service_accounts:` — runtime identities this spec uses but does not create.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A runtime identity bound to a service account that exists already and is managed elsewhere
/// (a team's shared pipeline runner, a service account of a central identity project).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    /// Email of the existing user-managed service account
    /// (`<id>@<project>.iam.gserviceaccount.com`); `{project}` and `{env}` are replaced by the
    /// environment's GCP project and name (`runner-{env}@acme-identity.iam.gserviceaccount.com`).
    /// mlopsgen creates no service account for the role; it still grants this account what the
    /// role's work needs on the environment's resources. Grants on the account itself (another
    /// identity's `roles/iam.serviceAccountUser` to run things as it) are made by its owner:
    /// `terraform output external_service_account_grants` lists them.
    pub external: String,
}
