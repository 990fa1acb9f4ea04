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

/// Runs every target.
pub fn emit_all(model: &Model) -> Result<OutputSet, TargetError> {
    let mut out = OutputSet::new(&model.spec_path);
    for (_, emit) in TARGETS {
        emit(model, &mut out)?;
    }
    Ok(out)
}
