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
    /// Cloud Build configs by name (`pr`, `cd`, `release` for `cloudbuild/<name>.yaml`): each
    /// maps a JSON Pointer (RFC 6901) into the config to the value set there, e.g.
    /// `/options/machineType: E2_HIGHCPU_8` or `/steps/<step id>/timeout: 1800s`. A token naming
    /// an array element may be its index or the `id` (or `name`) of the one element that has it;
    /// every token but the last must exist; `null` removes what the pointer names; `-` as the
    /// last token appends to a list. Strings are literal (`$` is escaped, so no substitution
    /// is made from them); new keys must be plain names. A pointer that no longer resolves is an
    /// error. Cloud Build files are shared by every environment, so they are overridden here only.
    #[serde(default)]
    pub cloudbuild: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Compiled pipelines by pipeline key (`pipelines/<env>/<key>.json`): JSON Pointers into the
    /// KFP PipelineSpec, with the rules of `cloudbuild`, e.g.
    /// `/root/dag/tasks/train/retryPolicy: {maxRetryCount: 2, backoffDuration: 60s}`. Applied to
    /// every environment's file; `environments.<env>.overrides.overrides.pipelines` changes one
    /// environment's only.
    #[serde(default)]
    pub pipelines: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}
