//! `secrets:` — Secret Manager secrets the system uses, and `{secret: …}` environment values.
//!
//! Only secret *containers* are declared: a secret's values (versions) are never in the spec,
//! the generated files or Terraform state; whoever owns a secret adds versions
//! (`gcloud secrets versions add`). See `model::access` for how uses become grants.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Secret Manager secret, by its secret id (the map key) in each environment's project.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// `true`: the secret exists already (created and owned outside this spec); mlopsgen only
    /// grants access to it. Otherwise Terraform creates the secret (without any version).
    #[serde(default)]
    pub existing: bool,
    /// Regions to replicate the secret to (user-managed replication). Empty: automatic
    /// replication (Google chooses the locations). Ignored for `existing` secrets.
    #[serde(default)]
    pub locations: Vec<String>,
    /// A rotation schedule: Secret Manager publishes a `SECRET_ROTATE` message to a Pub/Sub topic
    /// Terraform creates for the secret every period; the team's rotator subscribes to it and adds
    /// the new version. Only for secrets Terraform creates.
    #[serde(default)]
    pub rotation: Option<Rotation>,
}

/// How often a secret is due for rotation.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Days between rotation notifications (1 to 36500). The first is one period after the secret
    /// is created.
    pub period_days: u32,
}

/// A secret version to expose: `latest` or a version number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SecretVersion {
    /// A version number (1, 2, …).
    Number(u64),
    /// `latest` (or a number written as a string).
    Name(String),
}

impl SecretVersion {
    /// The version as Secret Manager spells it (`latest`, `3`).
    pub fn spelled(&self) -> String {
        match self {
            SecretVersion::Number(n) => n.to_string(),
            SecretVersion::Name(s) => s.trim().to_owned(),
        }
    }

    /// Whether Secret Manager accepts it: `latest` or a positive version number.
    pub fn is_valid(&self) -> bool {
        let v = self.spelled();
        v == "latest" || (v.parse::<u64>().is_ok_and(|n| n > 0) && !v.starts_with('0'))
    }
}

/// An environment variable whose value is a secret's version, read by the platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretEnv {
    /// Key of `secrets`.
    pub secret: String,
    /// Version to expose. Defaults to `latest`.
    #[serde(default)]
    pub version: Option<SecretVersion>,
}

impl SecretEnv {
    /// The version, `latest` when unset.
    pub fn version(&self) -> String {
        self.version.as_ref().map_or_else(|| "latest".to_owned(), SecretVersion::spelled)
    }
}

/// An environment variable's value: text (where `{{buckets.x}}`-style names are replaced), or
/// `{secret: <key>, version: …}` — the secret's value on Cloud Run and Cloud Functions, the
/// secret version's resource name in pipeline steps (README, "Secrets").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    /// Literal text.
    Text(String),
    /// A secret.
    Secret(SecretEnv),
}

/// Environment variables of a service, function or container step.
pub type Env = BTreeMap<String, EnvValue>;
