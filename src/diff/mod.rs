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
    let mut out = Vec::new();
    for (path, text) in new {
        match old.get(path) {
            None => out.push(FileDiff { path: path.clone(), action: Action::Add, old: None, new: Some(text.clone()) }),
            Some(o) if o != text => out.push(FileDiff {
                path: path.clone(),
                action: Action::Change,
                old: Some(o.clone()),
                new: Some(text.clone()),
            }),
            Some(_) => {}
        }
    }
    for (path, text) in old {
        if !new.contains_key(path) {
            out.push(FileDiff { path: path.clone(), action: Action::Remove, old: Some(text.clone()), new: None });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The two sides of a build plan (disk before, output set after), for diffing. An unchanged
/// file's plan entry keeps only its new text, which is also its text on disk.
pub fn sides(plan: &Plan) -> (Files, Files) {
    let mut old = Files::new();
    let mut new = Files::new();
    for f in &plan.files {
        let before = if f.action == Action::Unchanged { &f.new } else { &f.old };
        if let Some(o) = before {
            old.insert(f.path.clone(), o.clone());
        }
        if let Some(n) = &f.new {
            new.insert(f.path.clone(), n.clone());
        }
    }
    (old, new)
}

/// The files of a plan that change, as [`FileDiff`]s.
pub fn plan_files(plan: &Plan) -> Vec<FileDiff> {
    plan.changes()
        .map(|f| FileDiff { path: f.path.clone(), action: f.action, old: f.old.clone(), new: f.new.clone() })
        .collect()
}

/// The report of what `compilation` changes in `old` (the files on disk, or at `base`).
pub fn review(compilation: &Compilation, old: &Files, base: Option<&str>) -> Report {
    let new: Files = compilation.output.files().map(|(p, t)| (p.to_owned(), t.to_owned())).collect();
    let old: Files = old.iter().filter(|(p, _)| !p.starts_with(".mlopsgen/")).map(|(p, t)| (p.clone(), t.clone())).collect();
    let files = changed_files(&old, &new);
    let changes = semantic::changes(&old, &new);
    let graphs = pipeline_graphs(&compilation.model, &files, &changes);
    let model = &compilation.model;
    Report::new(&model.spec_path, &model.output_dir, base, files, changes).with_graphs(graphs)
}

/// Mermaid graphs of the pipelines whose compiled template or DAG changes, added and changed
/// steps outlined.
fn pipeline_graphs(model: &Model, files: &[FileDiff], changes: &[semantic::Change]) -> BTreeMap<String, String> {
    let changed = |pipeline: &str| {
        model.environments.iter().any(|e| {
            let owned = [paths::pipeline_json(&e.name, pipeline), paths::dag_file(&e.name, pipeline)];
            files.iter().any(|f| owned.contains(&f.path))
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
