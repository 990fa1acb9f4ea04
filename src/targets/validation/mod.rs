//! The validation target: the data validator package the built-in `validator` image runs.
//!
//! It writes, under `validation/` (the image's build context):
//! - `requirements.txt`, the pinned runtime;
//! - `mlops_validation/*.py`, the rule engine, readers, drift scores and reports — the same
//!   for every spec, copied from `templates/validation/`;
//! - `mlops_validation/contracts.json`, the only spec-specific part: every dataset's column
//!   rules and its source URI per environment ([`contracts`]).
//!
//! Pipelines (`data_validation` steps), the drift DAG and the CI sample checks all run this
//! package; its command line is documented in `mlops_validation/cli.py`. Nothing is written
//! when lowering added no `validator` image (nothing would run it).

pub mod contracts;

use crate::model::lower::VALIDATOR_IMAGE;
use crate::model::{paths, Model};
use crate::output::OutputSet;
use crate::targets::TargetError;

/// The package's static files, by name inside `mlops_validation/`.
const PACKAGE: &[(&str, &str)] = &[
    ("__init__.py", include_str!("../../../templates/validation/mlops_validation/__init__.py")),
    ("__main__.py", include_str!("../../../templates/validation/mlops_validation/__main__.py")),
    ("cli.py", include_str!("../../../templates/validation/mlops_validation/cli.py")),
    ("contracts.py", include_str!("../../../templates/validation/mlops_validation/contracts.py")),
    ("drift.py", include_str!("../../../templates/validation/mlops_validation/drift.py")),
    ("monitoring.py", include_str!("../../../templates/validation/mlops_validation/monitoring.py")),
    ("readers.py", include_str!("../../../templates/validation/mlops_validation/readers.py")),
    ("report.py", include_str!("../../../templates/validation/mlops_validation/report.py")),
    ("requests_log.py", include_str!("../../../templates/validation/mlops_validation/requests_log.py")),
    ("rules.py", include_str!("../../../templates/validation/mlops_validation/rules.py")),
];

const REQUIREMENTS: &str = include_str!("../../../templates/validation/requirements.txt");

/// Emits the validator package.
pub fn emit(model: &Model, out: &mut OutputSet) -> Result<(), TargetError> {
    if model.image(VALIDATOR_IMAGE).is_none() {
        return Ok(());
    }
    out.insert(paths::validator_file("requirements.txt"), REQUIREMENTS)?;
    for (name, text) in PACKAGE {
        out.insert(paths::validator_file(&format!("{}/{name}", paths::VALIDATOR_PACKAGE)), text)?;
    }
    let json = serde_json::to_string_pretty(&contracts::build(model))
        .map_err(|e| TargetError::Failed { target: "validation", message: e.to_string() })?;
    out.insert(paths::validator_file(&format!("{}/contracts.json", paths::VALIDATOR_PACKAGE)), json)?;
    Ok(())
}
