//! Diffs between two versions of the generated files: unified text diffs, per-target semantic
//! changes, and the reports built from them (terminal text, a Markdown PR comment, JSON).
//!
//! Both sides are plain `path → text` maps ([`Files`]): the files on disk or at a git ref on one
//! side, the [`crate::OutputSet`] on the other, so the same code serves `build`, `diff` and
//! `diff --base REF`; [`review`] builds the report of a compilation against either.

pub mod git;
pub mod report;
pub mod semantic;
pub mod unified;

pub use unified::{stat, unified};

use crate::model::{paths, Model};
use crate::output::write::{Action, Plan};
use crate::targets::kubeflow::graph;
use crate::Compilation;
use report::Report;
use std::collections::BTreeMap;

/// Generated files by path.
pub type Files = BTreeMap<String, String>;

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Path inside the output directory.
    pub path: String,
    /// Added, changed or removed.
    pub action: Action,
    /// Old contents (`None` if added).
    pub old: Option<String>,
    /// New contents (`None` if removed).
    pub new: Option<String>,
}

/// The changed files between two versions.
pub fn changed_files(old: &Files, new: &Files) -> Vec<FileDiff> {
    into_changed_files(old.clone(), new.clone())
}

/// [`changed_files`], moving the texts instead of copying them.
fn into_changed_files(mut old: Files, new: Files) -> Vec<FileDiff> {
    let mut out = Vec::new();
    for (path, text) in new {
        match old.remove(&path) {
            None => out.push(FileDiff { path, action: Action::Add, old: None, new: Some(text) }),
            Some(o) if o != text => out.push(FileDiff { path, action: Action::Change, old: Some(o), new: Some(text) }),
            Some(_) => {}
        }
    }
    for (path, text) in old {
        out.push(FileDiff { path, action: Action::Remove, old: Some(text), new: None });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The files of a plan that change, as [`FileDiff`]s.
pub fn plan_files(plan: &Plan) -> Vec<FileDiff> {
    plan.changes()
        .map(|f| FileDiff { path: f.path.clone(), action: f.action, old: f.old.clone(), new: f.new.map(str::to_owned) })
        .collect()
}

/// Whether a file goes into a review's sides: it differs, or semantic diffs read its target whole.
fn reviewed(path: &str, differs: bool) -> bool {
    !path.starts_with(".mlopsgen/") && (differs || semantic::reads_unchanged(path))
}

/// The report of what `compilation` changes in `old` (the files at `base`, or on disk).
pub fn review(compilation: &Compilation, old: &Files, base: Option<&str>) -> Report {
    let output = &compilation.output;
    let new: Files = output
        .files()
        .filter(|(p, t)| reviewed(p, old.get(*p).map(String::as_str) != Some(*t)))
        .map(|(p, t)| (p.to_owned(), t.to_owned()))
        .collect();
    let old: Files =
        old.iter().filter(|(p, t)| reviewed(p, output.get(p) != Some(t.as_str()))).map(|(p, t)| (p.clone(), t.clone())).collect();
    report(compilation, old, new, base)
}

/// The report of two sides that hold every file that differs.
fn report(compilation: &Compilation, old: Files, new: Files, base: Option<&str>) -> Report {
    let changes = semantic::changes(&old, &new);
    review_changes(&compilation.model, into_changed_files(old, new), changes, base)
}

/// The report of changed files (each with its texts, by path) and their semantic changes, as a
/// streamed `diff` collects them.
pub fn review_changes(model: &Model, files: Vec<FileDiff>, changes: Vec<semantic::Change>, base: Option<&str>) -> Report {
    let graphs = pipeline_graphs(model, &files, &changes);
    Report::new(&model.spec_path, &model.output_dir, base, files, changes).with_graphs(graphs)
}

/// Mermaid graphs of the pipelines whose compiled template or DAG changes, added and changed
/// steps outlined.
fn pipeline_graphs(model: &Model, files: &[FileDiff], changes: &[semantic::Change]) -> BTreeMap<String, String> {
    let changed_paths: std::collections::BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let changed = |pipeline: &str| {
        model.environments.iter().any(|e| {
            let owned = [paths::pipeline_json(&e.name, pipeline), paths::dag_file(&e.name, pipeline)];
            owned.iter().any(|p| changed_paths.contains(p.as_str()))
        })
    };
    model
        .pipelines
        .iter()
        .filter(|p| changed(&p.key))
        .map(|p| {
            let touched = semantic::touched_tasks(changes, &p.key);
            (p.key.clone(), graph::render(p, graph::Format::Mermaid) + &graph::mermaid_highlight(p, &touched))
        })
        .collect()
}
