//! Stage 4 — targets: pure functions from the [`Model`] to files in the [`OutputSet`].
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
use crate::output::{OutputSet, PathError};

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
pub type Emit = fn(&Model, &mut OutputSet) -> Result<(), TargetError>;

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
    let sets: Vec<Result<OutputSet, TargetError>> = std::thread::scope(|scope| {
        let running: Vec<_> = TARGETS
            .iter()
            .map(|(_, emit)| {
                scope.spawn(move || {
                    let mut set = OutputSet::new(&model.spec_path);
                    emit(model, &mut set).map(|()| set)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut out = OutputSet::new(&model.spec_path);
    for set in sets {
        out.merge(set?)?;
    }
    Ok(out)
}
