//! Diffs between two versions of the generated files: unified text diffs, per-target semantic
//! changes ([`crate::targets::review`]), and the reports built from them (terminal text, a
//! Markdown PR comment, JSON).
//!
//! Both sides are plain `path → text` maps ([`Files`]): the files on disk or at a git ref on one
//! side, the [`OutputSet`] on the other, so the same code serves `build`, `diff` and
//! `diff --base REF`; [`review`] builds the report of a compilation against either, and a
//! [`Reviewer`] reviews a streamed build file by file.

pub mod git;
pub mod report;
mod reviewer;
pub mod unified;

pub use reviewer::{Reviewed, Reviewer};
pub use unified::{stat, unified};

use crate::model::graph;
use crate::model::{paths, Model};
use crate::output::write::{Action, Plan};
use crate::output::OutputSet;
use crate::review::{touched_tasks, Change};
use crate::targets::{self, TargetRef};
use report::Report;
use std::collections::BTreeMap;

pub use crate::output::{FileDiff, Files};

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

/// Whether a file goes into a review's sides: it differs, or its target is reviewed whole.
fn reviewed(path: &str, differs: bool) -> bool {
    !path.starts_with(".mlopsgen/") && (differs || targets::reviewed_whole(path))
}

/// The report of what the output set of `model` changes in `old` (the files at `base`, or on
/// disk).
pub fn review(model: &Model, output: &OutputSet, old: &Files, base: Option<&str>) -> Report {
    let new: Files = output
        .files()
        .filter(|(p, t)| reviewed(p, old.get(*p).map(String::as_str) != Some(*t)))
        .map(|(p, t)| (p.to_owned(), t.to_owned()))
        .collect();
    let old: Files =
        old.iter().filter(|(p, t)| reviewed(p, output.get(p) != Some(t.as_str()))).map(|(p, t)| (p.clone(), t.clone())).collect();
    let changes = targets::review(&old, &new);
    review_changes(model, into_changed_files(old, new), changes, base)
}

/// The report of changed files (each with its texts, by path) and their semantic changes, as a
/// streamed `diff` collects them.
pub fn review_changes(model: &Model, files: Vec<FileDiff>, changes: Vec<Change>, base: Option<&str>) -> Report {
    let graphs = pipeline_graphs(model, &files, &changes);
    Report::new(&model.spec_path, &model.output_dir, base, files, changes).with_graphs(graphs)
}

/// Mermaid graphs of the pipelines whose compiled template or DAG changes, added and changed
/// steps outlined.
fn pipeline_graphs(model: &Model, files: &[FileDiff], changes: &[Change]) -> BTreeMap<String, String> {
    let changed_paths: std::collections::BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let changed = |pipeline: &str| {
        model.environments.iter().any(|e| {
            let owned = [paths::pipeline_json(&e.name, pipeline), paths::dag_file(&e.name, pipeline)];
            owned.iter().any(|p| changed_paths.contains(p.as_str()))
        })
    };
    // The changes of the target the compiled pipeline templates belong to.
    let templates = TargetRef::of(&paths::pipeline_json("env", "pipeline"));
    let template_changes = || changes.iter().filter(|c| TargetRef::of_id(c.target) == templates);
    model
        .pipelines
        .iter()
        .filter(|p| changed(&p.key))
        .map(|p| {
            let touched = touched_tasks(template_changes(), &p.key);
            (p.key.clone(), graph::render(p, graph::Format::Mermaid) + &graph::mermaid_highlight(p, &touched))
        })
        .collect()
}
