//! Stage 4 — targets: pure functions from the [`Model`] to files, inserted into an [`Emitter`]
//! (the whole [`OutputSet`], or a [`Stream`] that passes each file on).
//!
//! Each target reads only the model (never the spec or YAML) and inserts its files. Structured
//! formats are built with typed writers (hcl-rs for HCL, serde for JSON and YAML); Python and
//! Dockerfiles come from minijinja templates in `templates/`.
//!
//! A target is a [`Target`] (its id, output folder, emitter and semantic review) listed once in
//! [`TARGETS`]; building, streaming, reviewing (`build`, `diff`), the snapshot tests and the
//! benchmarks all read that list.

pub mod airflow;
pub mod cloudbuild;
pub mod docker;
pub mod kubeflow;
pub mod patch;
mod registry;
pub mod templates;
pub mod terraform;
pub mod validation;

pub use registry::{TargetRef, TARGETS};

use crate::model::Model;
use crate::output::{Emitter, Files, OutputSet, PathError, PathsOnly, Stream};
use crate::review::Change;
use crate::validate::emitted::{SharedDifference, Unexpressed};
use std::collections::BTreeSet;

/// An error inside a target: always a bug in mlopsgen (validation guarantees valid input).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A target produced an invalid path or wrote a file twice.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Anything else a target can't do.
    #[error("{target}: {message}")]
    Failed {
        /// Which target.
        target: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// One generated artifact: what it is called, where its files go, how they are made and how a
/// change to them is reviewed. Implementations live in `registry.rs`, each listed in [`TARGETS`].
pub trait Target: Sync {
    /// Stable id: snapshot names, the `target` of a [`Change`] and of `diff --format json`.
    fn id(&self) -> &'static str;
    /// Name in reports.
    fn title(&self) -> &'static str;
    /// The folder of the output directory its files go in (every path it emits starts `dir/`).
    fn dir(&self) -> &'static str;
    /// Threads its [`Target::emit`] runs on, each taking a [`Shard`] of the work.
    fn shards(&self) -> usize {
        1
    }
    /// Emits its files or, with a [`Shard`] short of [`Shard::ALL`], its share of them.
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError>;
    /// The semantic changes between two versions of its files (the sides may hold other files,
    /// which it ignores).
    fn review(&self, old: &Files, new: &Files) -> Vec<Change>;
    /// Whether [`Target::review`] needs all its files when one changes, unchanged ones included
    /// (Terraform matches resources by address across files); otherwise it gets only those that
    /// differ.
    fn reviewed_whole(&self) -> bool {
        false
    }
    /// Whether the target generates each environment's files from that environment's view of
    /// the model ([`Model::for_env`]); a target that does not serves every environment from one
    /// file set, which `environments.<env>.overrides` must leave unchanged.
    fn per_environment(&self) -> bool {
        false
    }
}

/// A share of a target's work, so that the largest (a pipeline JSON per pipeline and environment)
/// runs on several threads: shard `index` of `count` takes every `count`-th item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which share, from 0.
    pub index: usize,
    /// How many shares.
    pub count: usize,
}

impl Shard {
    /// All of the work.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether the `i`-th item is this shard's.
    pub fn takes(self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// What the spec asks for that the generated files can't express, found by running the targets
/// on the model and its environment views before any file is written: environments whose
/// overrides change a shared file set ([`shared_differences`]) and, when there are none,
/// `overrides.terraform` entries that match no generated block. `validate::emitted` places each
/// in the spec.
pub fn unexpressed(model: &Model) -> Result<Unexpressed, TargetError> {
    let shared = shared_differences(model)?;
    if !shared.is_empty() {
        return Ok(Unexpressed { shared, ..Unexpressed::default() });
    }
    let overrides = terraform::override_problems(model);
    let mut file_overrides = cloudbuild::override_problems(model);
    file_overrides.extend(kubeflow::override_problems(model));
    Ok(Unexpressed { shared, overrides, file_overrides })
}

/// Each environment view whose files differ, for a target that is not per environment, from the
/// files of the model itself, and each whose Terraform module differs beyond per-environment
/// variables (a resource in one environment only): the overrides mlopsgen cannot honour yet.
/// Empty when no environment has overrides.
pub fn shared_differences(model: &Model) -> Result<Vec<SharedDifference>, TargetError> {
    let mut found = Vec::new();
    if model.env_views.is_empty() {
        return Ok(found);
    }
    let files = |target: &dyn Target, m: &Model| -> Result<OutputSet, TargetError> {
        let mut set = OutputSet::new(&m.spec_path);
        target.emit(m, &mut set, Shard::ALL).map(|()| set)
    };
    for &target in TARGETS.iter().filter(|t| !t.per_environment()) {
        let base = files(target, model)?;
        for (env, view) in &model.env_views {
            let theirs = files(target, view)?;
            let mut paths: BTreeSet<&str> = base.files().map(|(p, _)| p).collect();
            paths.extend(theirs.files().map(|(p, _)| p));
            let differing: Vec<String> =
                paths.into_iter().filter(|p| base.get(p) != theirs.get(p)).map(str::to_owned).collect();
            if !differing.is_empty() {
                found.push(SharedDifference { env: env.clone(), target: target.title(), files: differing });
            }
        }
    }
    for p in terraform::per_env_problems(model) {
        found.push(SharedDifference { env: p.env, target: "Terraform", files: p.files });
    }
    Ok(found)
}

/// Runs every target (each shard on its own thread, for a large model) and merges their files in [`TARGETS`] order (the
/// first failing target's error wins, and a path two targets write is an error, as when they
/// run one after the other).
pub fn emit_all(model: &Model) -> Result<OutputSet, TargetError> {
    let sets = on_threads(model, |target, shard| {
        let mut set = OutputSet::new(&model.spec_path);
        target.emit(model, &mut set, shard).map(|()| set)
    });
    let mut out = OutputSet::new(&model.spec_path);
    for set in sets {
        out.merge(set?)?;
    }
    Ok(out)
}

/// Runs every target as [`emit_all`] does, but passes each prepared file to `sink` as it is
/// emitted (from any of the threads) instead of collecting them; returns every path. Files
/// emitted before an error may already have reached the sink.
pub fn emit_each(model: &Model, sink: &(dyn Fn(String, String) + Sync)) -> Result<BTreeSet<String>, TargetError> {
    union(on_threads(model, |target, shard| {
        let mut stream = Stream::new(&model.spec_path, sink);
        target.emit(model, &mut stream, shard).map(|()| stream.into_paths())
    }))
}

/// Every path [`emit_each`] returns, found by running the targets without rendering any file's
/// text ([`PathsOnly`]): what `validate` counts. Rendering only serialises files the targets have
/// decided on; that every valid spec renders is the fuzz target's invariant
/// (`tests/support/fuzz_target.rs`), which also checks these paths against the rendered ones.
pub fn paths(model: &Model) -> Result<BTreeSet<String>, TargetError> {
    union(on_threads(model, |target, shard| {
        let mut paths = PathsOnly::default();
        target.emit(model, &mut paths, shard).map(|()| paths.into_paths())
    }))
}

/// The paths of every shard, in [`TARGETS`] order (the first failing shard's error wins); a path
/// two shards write is an error.
fn union(shards: Vec<Result<BTreeSet<String>, TargetError>>) -> Result<BTreeSet<String>, TargetError> {
    let mut all = BTreeSet::new();
    for paths in shards {
        for path in paths? {
            if all.contains(&path) {
                return Err(PathError { path, reason: "generated twice" }.into());
            }
            all.insert(path);
        }
    }
    Ok(all)
}

/// Models with fewer pipeline steps than this emit on the calling thread ([`on_threads`]).
const PARALLEL_STEPS: usize = 100;

/// `run` on each shard of each target, each on its own thread; results in [`TARGETS`] order.
///
/// A small model's targets run one after the other on the calling thread instead: on two cores,
/// threads bought no wall time below about 100 steps, and each cost its stack and heap pages
/// (at the flagship's size, a third of the page faults of a build).
fn on_threads<T: Send>(model: &Model, run: impl Fn(&dyn Target, Shard) -> Result<T, TargetError> + Sync) -> Vec<Result<T, TargetError>> {
    let shards = TARGETS.iter().flat_map(|&t| {
        let count = t.shards();
        (0..count).map(move |index| (t, Shard { index, count }))
    });
    if model.pipelines.iter().map(|p| p.steps.len()).sum::<usize>() < PARALLEL_STEPS {
        return shards.map(|(t, shard)| run(t, shard)).collect();
    }
    std::thread::scope(|scope| {
        let run = &run;
        let running: Vec<_> = shards.map(|(t, shard)| scope.spawn(move || run(t, shard))).collect();
        running.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// Whether a generated file is reviewed even when unchanged ([`Target::reviewed_whole`]), so a
/// caller comparing file by file must keep both its texts.
pub fn reviewed_whole(path: &str) -> bool {
    TargetRef::of(path).target().is_some_and(|t| t.reviewed_whole())
}

/// All semantic changes between two versions of the output, each stamped with its target, in
/// report order ([`sort_changes`]).
///
/// Only files that differ are passed on, but for a target reviewed whole: once one of its files
/// differs, its review reads them all (an identical file can change nothing elsewhere).
pub fn review(old: &Files, new: &Files) -> Vec<Change> {
    let differing = |files: &Files| -> Files {
        files.iter().filter(|(p, _)| old.get(*p) != new.get(*p)).map(|(p, t)| (p.clone(), t.clone())).collect()
    };
    let some_equal = old.iter().any(|(p, t)| new.get(p) == Some(t));
    let filtered = some_equal.then(|| (differing(old), differing(new)));
    let (old_diff, new_diff) = filtered.as_ref().map_or((old, new), |(o, n)| (o, n));
    let mut out = Vec::new();
    for (i, &target) in TARGETS.iter().enumerate() {
        let sides = if target.reviewed_whole() {
            if !old_diff.keys().chain(new_diff.keys()).any(|p| TargetRef::of(p) == TargetRef(i)) {
                continue;
            }
            (old, new)
        } else {
            (old_diff, new_diff)
        };
        out.extend(target.review(sides.0, sides.1).into_iter().map(|c| Change { target: target.id(), ..c }));
    }
    sort_changes(&mut out);
    out
}

/// Puts changes in report order: destructive ones first, then by target (in [`TARGETS`] order)
/// and subject.
pub fn sort_changes(changes: &mut [Change]) {
    let key = |c: &Change| (!c.destructive, TargetRef::of_id(c.target));
    changes.sort_by(|a, b| (key(a), &a.subject, a.kind).cmp(&(key(b), &b.subject, b.kind)));
}
