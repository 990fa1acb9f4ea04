//! Reports of a change set: terminal text ([`Report::text`], and the short [`Report::summary`]
//! `build` prints), a Markdown PR comment ([`Report::markdown`]) and stable JSON
//! ([`Report::json`], documented in the README under "Reviewing changes").

mod json;
mod markdown;
mod text;

pub use markdown::{GITHUB_COMMENT_LIMIT, MARKDOWN_LIMIT};

use crate::review::{Change, Kind};
use crate::targets::TargetRef;
use super::FileDiff;
use crate::output::write::Action;
use serde::Serialize;
use std::collections::BTreeMap;

/// JSON report format version (bump on any incompatible change).
pub const JSON_FORMAT: u32 = 1;

/// Everything a report shows.
#[derive(Debug)]
pub struct Report {
    /// The spec (repository-relative).
    pub spec: String,
    /// The output directory (repository-relative).
    pub output_dir: String,
    /// The git revision compared against, if any (else: the files on disk).
    pub base: Option<String>,
    /// Changed files (the manifest excluded).
    pub files: Vec<FileDiff>,
    /// Semantic changes, destructive first.
    pub changes: Vec<Change>,
    /// Mermaid graphs of the changed pipelines: pipeline name → flowchart.
    pub graphs: BTreeMap<String, String>,
}

/// Per-target (or total) counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Files that appear.
    pub files_added: usize,
    /// Files whose contents change.
    pub files_changed: usize,
    /// Files that disappear.
    pub files_removed: usize,
    /// Semantic changes.
    pub changes: usize,
    /// Semantic changes flagged destructive.
    pub destructive: usize,
}

impl Counts {
    fn add_file(&mut self, action: Action) {
        match action {
            Action::Add => self.files_added += 1,
            Action::Change => self.files_changed += 1,
            Action::Remove => self.files_removed += 1,
            Action::Unchanged => {}
        }
    }

    fn add_change(&mut self, change: &Change) {
        self.changes += 1;
        self.destructive += usize::from(change.destructive);
    }
}

impl Report {
    /// Builds a report; `.mlopsgen/` bookkeeping files are left out.
    pub fn new(spec: &str, output_dir: &str, base: Option<&str>, files: Vec<FileDiff>, changes: Vec<Change>) -> Self {
        let files: Vec<FileDiff> = files.into_iter().filter(|f| !f.path.starts_with(".mlopsgen/")).collect();
        Report {
            spec: spec.to_owned(),
            output_dir: output_dir.to_owned(),
            base: base.map(str::to_owned),
            files,
            changes,
            graphs: BTreeMap::new(),
        }
    }

    /// Adds Mermaid graphs of changed pipelines (name → flowchart), shown in the Markdown report.
    #[must_use]
    pub fn with_graphs(mut self, graphs: BTreeMap<String, String>) -> Self {
        self.graphs = graphs;
        self
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn destructive(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.destructive)
    }

    /// Counts per target, in target order.
    pub fn counts(&self) -> BTreeMap<TargetRef, Counts> {
        let mut counts: BTreeMap<TargetRef, Counts> = BTreeMap::new();
        for f in &self.files {
            counts.entry(TargetRef::of(&f.path)).or_default().add_file(f.action);
        }
        for c in &self.changes {
            counts.entry(TargetRef::of_id(c.target)).or_default().add_change(c);
        }
        counts
    }

    /// Counts over all targets.
    pub fn totals(&self) -> Counts {
        let mut total = Counts::default();
        for f in &self.files {
            total.add_file(f.action);
        }
        for c in &self.changes {
            total.add_change(c);
        }
        total
    }

    /// Changes grouped by target, destructive first within each.
    fn by_target(&self) -> BTreeMap<TargetRef, Vec<&Change>> {
        let mut groups: BTreeMap<TargetRef, Vec<&Change>> = BTreeMap::new();
        for c in &self.changes {
            groups.entry(TargetRef::of_id(c.target)).or_default().push(c);
        }
        groups
    }
}

/// `added`, `removed`, `changed`, `replaced`.
fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Added => "added",
        Kind::Removed => "removed",
        Kind::Changed => "changed",
        Kind::Replaced => "replaced",
    }
}

/// Terraform-plan style markers: `+`, `-`, `~`, `-/+`.
fn kind_symbol(k: Kind) -> &'static str {
    match k {
        Kind::Added => "+",
        Kind::Removed => "-",
        Kind::Changed => "~",
        Kind::Replaced => "-/+",
    }
}

/// A file's status word.
fn status(a: Action) -> &'static str {
    match a {
        Action::Add => "added",
        Action::Change => "changed",
        Action::Remove => "removed",
        Action::Unchanged => "unchanged",
    }
}

/// `3 added, 1 changed` for a set of changes (kinds in a fixed order, zero counts left out).
fn kind_counts<'a>(changes: impl Iterator<Item = &'a Change>) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for c in changes {
        *counts.entry(c.kind).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{n} {}", kind_word(*k))).collect::<Vec<_>>().join(", ")
}

/// Cuts text to `n` characters, marking the cut with `…`.
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_owned()
    }
}
