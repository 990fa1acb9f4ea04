//! The manifest: which files mlopsgen owns in an output directory, with their sha256.
//!
//! Written last by a build (and, with `pending`, first): a file whose bytes hash to its recorded
//! value (or its pending value during a build) is unmodified; anything else was edited by hand.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Manifest format version.
pub const FORMAT: u32 = 1;

/// `.mlopsgen/manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version.
    pub format: u32,
    /// sha256 of what the files were generated from: the spec text, or, when the spec reads
    /// component files, the spec text and those files ([`inputs_sha256`]).
    pub spec_sha256: String,
    /// Owned files: path → sha256 of their contents.
    pub files: BTreeMap<String, String>,
    /// Set only while a build is writing: path → sha256 it is about to have (`""` = deletion).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<String, String>,
}

impl Manifest {
    /// Whether `hash` is a state of `path` that mlopsgen wrote (recorded or pending).
    pub fn owns_state(&self, path: &str, hash: &str) -> bool {
        self.files.get(path).is_some_and(|h| h == hash) || self.pending.get(path).is_some_and(|h| h == hash)
    }

    /// Whether `path` is managed (recorded or pending).
    pub fn manages(&self, path: &str) -> bool {
        self.files.contains_key(path) || self.pending.contains_key(path)
    }

    /// Serialises with sorted keys, two-space indent and a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// The manifest's `spec_sha256` for a spec whose text hashes to `spec_sha256` and that reads
/// `files` (path from the spec's folder, sha256 of the bytes; sorted): the spec's hash alone
/// when it reads none, else the sha256 of `spec <hash>` and one `file <path> <hash>` line each.
/// So editing a component file makes the manifest stale, which `build --check` reports.
pub fn inputs_sha256(spec_sha256: &str, files: &[(String, String)]) -> String {
    if files.is_empty() {
        return spec_sha256.to_owned();
    }
    let mut text = format!("spec {spec_sha256}\n");
    for (path, sha) in files {
        text.push_str(&format!("file {path} {sha}\n"));
    }
    sha256_hex(text.as_bytes())
}
