//! Explanations: the flagship's model upload sends an `ExplanationSpec` Vertex AI accepts for a
//! custom container — `explanation_metadata` with `inputs` keyed by the features the serving
//! container receives and `outputs` keyed by the prediction field it returns (both required:
//! REST reference `ExplanationMetadata`; GCPC `v1/model/upload_model/remote_runner.py` drops an
//! empty metadata, so missing maps would silently upload a model without explanations).

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn upload_metadata_names_the_contract_features_and_the_prediction() {
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    let registry = c.model.models.iter().find(|m| m.key == "churn").unwrap_or_else(|| panic!("no churn model"));
    let e = registry.explanation.as_ref().unwrap_or_else(|| panic!("flagship model has no explanation"));
    let dataset = c.model.datasets.iter().find(|d| d.key == e.dataset).unwrap_or_else(|| panic!("no dataset"));
    let features: BTreeSet<&str> = dataset.columns.iter().map(|c| c.name.as_str()).filter(|n| !e.exclude.iter().any(|x| x == n)).collect();
    assert!(!features.contains("churned") && features.contains("tenure_months"), "{features:?}");
    let json: Value = serde_json::from_str(c.output.get("pipelines/dev/training.json").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let register = &json["components"]["comp-condition-1"]["dag"]["tasks"]["register"]["inputs"]["parameters"];
    let metadata = &register["explanation_metadata"]["runtimeValue"]["constant"];
    let inputs: BTreeSet<&str> = metadata["inputs"].as_object().into_iter().flat_map(|m| m.keys()).map(String::as_str).collect();
    assert_eq!(inputs, features);
    let outputs: Vec<&String> = metadata["outputs"].as_object().into_iter().flat_map(|m| m.keys()).collect();
    assert_eq!(outputs, [&e.prediction]);
    assert!(register["explanation_parameters"]["runtimeValue"]["constant"]["sampledShapleyAttribution"].is_object());
}
