//! Data contracts (`validation/<package>/contracts.json`): datasets added or removed, and changed
//! column rules, sources and formats, reported as `contract <dataset>`.

use super::{compare_keyed, flatten_entries, Change, Fields};
use super::Files;
use crate::model::paths;
use serde_json::Value;
use std::collections::BTreeMap;

fn contracts(files: &Files) -> BTreeMap<String, Fields> {
    let path = paths::validator_file(&format!("{}/contracts.json", paths::VALIDATOR_PACKAGE));
    let Some(doc) = files.get(&path).and_then(|t| serde_json::from_str::<Value>(t).ok()) else { return BTreeMap::new() };
    flatten_entries(doc.get("datasets"))
}

/// Data-contract changes between two versions.
pub fn changes(old: &Files, new: &Files) -> Vec<Change> {
    compare_keyed(&contracts(old), &contracts(new), |name| format!("contract {name}"))
        .into_iter()
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_changed_column_rules() {
        let doc = |min: &str| format!("{{\"datasets\": {{\"customers\": {{\"columns\": {{\"age\": {{\"min\": {min}}}}}}}}}}}");
        let path = "validation/mlops_validation/contracts.json".to_owned();
        let c = changes(&Files::from([(path.clone(), doc("0"))]), &Files::from([(path, doc("18"))]));
        assert_eq!(c[0].subject, "contract customers");
        assert_eq!((c[0].details[0].path.as_str(), c[0].details[0].new.as_deref()), ("columns.age.min", Some("18")));
    }
}
