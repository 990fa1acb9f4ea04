//! The terraform target (not implemented yet).

use crate::model::Model;
use crate::output::OutputSet;
use crate::targets::TargetError;

/// Emits this target's files.
pub fn emit(_model: &Model, _out: &mut OutputSet) -> Result<(), TargetError> {
    Ok(())
}
