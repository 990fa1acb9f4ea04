//! `overrides:` — the escape hatch for a provider argument the spec does not model.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Attributes set on (or removed from) generated files after generation, so the output stays
/// owned: the manifest, `build --check` and `diff` see the overridden files.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Terraform resources by address (`google_storage_bucket.data`, `data.google_project.this`):
    /// each mapping is deep-merged into that block's body. A mapping merges into the nested block
    /// (or object attribute) of that name, or becomes a new nested block; any other value sets
    /// the attribute (strings are literal, escaped: `${` stays text); `null` removes the
    /// attribute or nested blocks of that name. An address or removal that matches nothing is an
    /// error, so a stale override fails loudly when the generated resource is renamed.
    #[serde(default)]
    pub terraform: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}
