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

use crate::model::naming::VALIDATOR_IMAGE;
use crate::model::{paths, Model};
use crate::output::Emitter;
use crate::targets::{Shard, TargetError};

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
pub fn emit(model: &Model, out: &mut dyn Emitter, _all: Shard) -> Result<(), TargetError> {
    if model.image(VALIDATOR_IMAGE).is_none() {
        return Ok(());
    }
    out.insert(paths::validator_file("requirements.txt"), REQUIREMENTS)?;
    for (name, text) in PACKAGE {
        out.insert(paths::validator_file(&format!("{}/{name}", paths::VALIDATOR_PACKAGE)), *text)?;
    }
    out.insert_with(paths::validator_file(&format!("{}/contracts.json", paths::VALIDATOR_PACKAGE)), || {
        serde_json::to_string_pretty(&contracts::build(model))
            .map_err(|e| TargetError::Failed { target: "validation", message: e.to_string() })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{compile, Compilation, Options, Source};

    const HOSTILE: [&str; 8] = ["q\"uote", "back\\slash", "${x}", "%{y}", "$VAR", "{{ z }}", "{% w %}", "ünï 🚀"];

    fn build(spec: &str) -> Compilation {
        let source = Source { name: "mlops.yaml".into(), text: spec.into() };
        let options = Options { spec_file: "mlops.yaml".into(), out_override: None };
        compile(&source, &options).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn spec() -> String {
        let allowed: Vec<String> = HOSTILE.iter().map(|s| serde_json::to_string(s).unwrap_or_default()).collect();
        format!(
            "version: 1\nproject: {{name: shop}}\n\
             environments:\n  dev: {{gcp_project: acme-shop-dev, region: us-central1}}\n  \
             prod: {{gcp_project: acme-shop-prod, region: us-central1}}\n\
             terraform: {{state_bucket: acme-shop-tf-state}}\n\
             storage: {{buckets: {{artifacts: {{}}, data: {{}}}}}}\n\
             datasets:\n  sales:\n    source: 'gs://data/in \"q\" $x/*.csv'\n    format: csv\n    \
             columns:\n      plan: {{type: string, allowed: [{}]}}\n\
             pipelines:\n  check:\n    steps:\n      validate: {{kind: data_validation, dataset: sales}}\n",
            allowed.join(", ")
        )
    }

    #[test]
    fn contracts_carry_hostile_strings_verbatim() {
        let c = build(&spec());
        let text = c.output.get("validation/mlops_validation/contracts.json").unwrap_or_else(|| panic!("no contracts"));
        let json: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let sales = &json["datasets"]["sales"];
        assert_eq!(sales["columns"]["plan"]["allowed"], serde_json::json!(HOSTILE));
        assert_eq!(sales["sources"]["dev"], "gs://acme-shop-dev-data/in \"q\" $x/*.csv");
        assert_eq!(sales["sources"]["prod"], "gs://acme-shop-prod-data/in \"q\" $x/*.csv");
        assert_eq!(sales["format"], "csv");
    }

    #[test]
    fn the_package_is_byte_identical_across_builds() {
        let a = build(&spec());
        let b = build(&spec());
        let files = |c: &Compilation| {
            c.output.files().filter(|(p, _)| p.starts_with("validation/")).map(|(p, t)| (p.to_owned(), t.to_owned())).collect::<Vec<_>>()
        };
        assert_eq!(files(&a), files(&b));
        assert_eq!(files(&a).len(), 12);
    }

    #[test]
    fn nothing_is_written_when_nothing_runs_the_validator() {
        let spec = spec().replace("pipelines:\n  check:\n    steps:\n      validate: {kind: data_validation, dataset: sales}\n", "");
        let c = build(&spec);
        assert!(c.output.files().all(|(p, _)| !p.starts_with("validation/")));
    }
}
