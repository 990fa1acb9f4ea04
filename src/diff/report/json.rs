//! The JSON report: a stable document for other tools (schema in the README, "Reviewing
//! changes"). Keys never disappear within a `format` version; `null` marks an absent value.

use super::{status, Counts, Report, JSON_FORMAT};
use crate::review::Change;
use crate::targets::TargetRef;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct FileEntry<'a> {
    path: &'a str,
    status: &'static str,
    target: TargetRef,
}

#[derive(Serialize)]
struct Doc<'a> {
    format: u32,
    spec: &'a str,
    output_dir: &'a str,
    base: Option<&'a str>,
    summary: Counts,
    targets: BTreeMap<TargetRef, Counts>,
    files: Vec<FileEntry<'a>>,
    changes: &'a [Change],
}

impl Report {
    /// The report as pretty-printed JSON, ending in a newline.
    pub fn json(&self) -> String {
        let doc = Doc {
            format: JSON_FORMAT,
            spec: &self.spec,
            output_dir: &self.output_dir,
            base: self.base.as_deref(),
            summary: self.totals(),
            targets: self.counts(),
            files: self
                .files
                .iter()
                .map(|f| FileEntry { path: &f.path, status: status(f.action), target: TargetRef::of(&f.path) })
                .collect(),
            changes: &self.changes,
        };
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }
}
