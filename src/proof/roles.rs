//! Role contents: the predefined roles mlopsgen grants (embedded from `data/gcp-iam/roles.json`,
//! a snapshot of Google's `roles.get` output; see that folder's README) and mlopsgen's own
//! custom roles ([`crate::model::iam::CUSTOM_ROLES`]). Parsed only when `mlopsgen iam` runs.

use crate::model::iam::CUSTOM_ROLES;
use std::collections::BTreeMap;

/// The embedded snapshot.
const SNAPSHOT: &str = include_str!("../../data/gcp-iam/roles.json");

#[derive(Debug, serde::Deserialize)]
struct Entry {
    permissions: Vec<String>,
}

/// Role → its permissions, sorted.
#[derive(Debug)]
pub struct Roles(BTreeMap<String, Vec<String>>);

impl Roles {
    /// Parses the snapshot and adds the custom roles.
    pub fn load() -> Result<Roles, String> {
        let parsed: BTreeMap<String, Entry> =
            serde_json::from_str(SNAPSHOT).map_err(|e| format!("data/gcp-iam/roles.json: {e}"))?;
        let mut roles: BTreeMap<String, Vec<String>> = parsed.into_iter().map(|(k, v)| (k, v.permissions)).collect();
        for c in CUSTOM_ROLES {
            roles.insert(c.id.to_owned(), c.permissions.iter().map(|p| (*p).to_owned()).collect());
        }
        for permissions in roles.values_mut() {
            permissions.sort_unstable();
        }
        Ok(Roles(roles))
    }

    /// A role's permissions, `None` for a role the data doesn't know.
    pub fn permissions(&self, role: &str) -> Option<&[String]> {
        self.0.get(role).map(Vec::as_slice)
    }

    /// Whether a role includes a permission.
    pub fn grants(&self, role: &str, permission: &str) -> bool {
        self.permissions(role).is_some_and(|ps| ps.binary_search_by(|p| p.as_str().cmp(permission)).is_ok())
    }

    /// Every role the data knows.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}
