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

/// A target's entry point.
pub type Emit = fn(&Model, &mut dyn Emitter) -> Result<(), TargetError>;

/// Every target, in the order they run.
pub const TARGETS: &[(&str, Emit)] = &[
    ("terraform", terraform::emit),
    ("kubeflow", kubeflow::emit),
    ("airflow", airflow::emit),
    ("cloudbuild", cloudbuild::emit),
    ("docker", docker::emit),
    ("validation", validation::emit),
];

/// Runs every target, each on its own thread, and merges their files in [`TARGETS`] order (the
/// first failing target's error wins, and a path two targets write is an error, as when they
/// run one after the other).
pub fn emit_all(model: &Model) -> Result<OutputSet, TargetError> {
    let sets = on_threads(|emit| {
        let mut set = OutputSet::new(&model.spec_path);
        emit(model, &mut set).map(|()| set)
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
    let streams = on_threads(|emit| {
        let mut stream = Stream::new(&model.spec_path, sink);
        emit(model, &mut stream).map(|()| stream.into_paths())
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

/// `run` on each target's entry point, each on its own thread; results in [`TARGETS`] order.
fn on_threads<T: Send>(run: impl Fn(Emit) -> Result<T, TargetError> + Sync) -> Vec<Result<T, TargetError>> {
    std::thread::scope(|scope| {
        let running: Vec<_> = TARGETS.iter().map(|(_, emit)| scope.spawn(|| run(*emit))).collect();
        running.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}
