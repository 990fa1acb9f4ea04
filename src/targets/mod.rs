//! Stage 4 — targets: pure functions from the [`Model`] to files, inserted into an [`Emitter`]
//! (the whole [`OutputSet`], or a [`Stream`] that passes each file on).
//!
//! Each target reads only the model (never the spec or YAML) and inserts its files. Structured
//! formats are built with typed writers (hcl-rs for HCL, serde for JSON and YAML); Python and
//! Dockerfiles come from minijinja templates in `templates/`.

pub mod airflow;
pub mod cloudbuild;
pub mod docker;
pub mod kubeflow;
pub mod terraform;
pub mod validation;

use crate::model::Model;
use crate::output::{Emitter, OutputSet, PathError, Stream};
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

/// A target's entry point: it emits its files, or with a [`Shard`] short of [`Shard::ALL`], its
/// share of them.
pub type Emit = fn(&Model, &mut dyn Emitter, Shard) -> Result<(), TargetError>;

/// Every target, in the order they run, with the number of shards (threads) it runs on.
pub const TARGETS: &[(&str, Emit, usize)] = &[
    ("terraform", terraform::emit, 1),
    ("kubeflow", kubeflow::emit, 2),
    ("airflow", airflow::emit, 1),
    ("cloudbuild", cloudbuild::emit, 1),
    ("docker", docker::emit, 1),
    ("validation", validation::emit, 1),
];

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

/// Runs every target (each shard on its own thread) and merges their files in [`TARGETS`] order (the
/// first failing target's error wins, and a path two targets write is an error, as when they
/// run one after the other).
pub fn emit_all(model: &Model) -> Result<OutputSet, TargetError> {
    let sets = on_threads(|emit, shard| {
        let mut set = OutputSet::new(&model.spec_path);
        emit(model, &mut set, shard).map(|()| set)
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
    let streams = on_threads(|emit, shard| {
        let mut stream = Stream::new(&model.spec_path, sink);
        emit(model, &mut stream, shard).map(|()| stream.into_paths())
    });
    let mut all = BTreeSet::new();
    for paths in streams {
        for path in paths? {
            if all.contains(&path) {
                return Err(PathError { path, reason: "generated twice" }.into());
            }
            all.insert(path);
        }
    }
    Ok(all)
}

/// `run` on each shard of each target, each on its own thread; results in [`TARGETS`] order.
fn on_threads<T: Send>(run: impl Fn(Emit, Shard) -> Result<T, TargetError> + Sync) -> Vec<Result<T, TargetError>> {
    let shards = TARGETS.iter().flat_map(|&(_, emit, count)| (0..count).map(move |index| (emit, Shard { index, count })));
    std::thread::scope(|scope| {
        let run = &run;
        let running: Vec<_> = shards.map(|(emit, shard)| scope.spawn(move || run(emit, shard))).collect();
        running.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}
