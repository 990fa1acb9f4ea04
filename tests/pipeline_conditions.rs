//! Conditions on pipeline parameters decide at run time with the run's parameter value: the
//! flagship's deploy group compares `evaluate.auc` with the `min_auc` the run was submitted with.
//! The condition group's inputs are wired as kfp 2.17.3 wires `dsl.If(auc >= min_auc)` (the
//! parameter enters as `pipelinechannel--min_auc` from the root's `min_auc`), and the CEL it
//! holds is evaluated here the way the Vertex AI Pipelines backend does for these expressions
//! (kfp `compiler_utils` renders them; the driver evaluates `triggerPolicy.condition` over
//! `inputs.parameter_values`). Parity with kfp's output is checked by tests/conformance/kfp_parity.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Evaluates the comparisons kfp emits: `[double(][int(]inputs.parameter_values['x'][)][)]` or a
/// literal on either side of one operator.
fn evaluate(cel: &str, values: &BTreeMap<String, f64>) -> bool {
    let ops = [">=", "<=", "==", "!=", ">", "<"];
    let (op, at) = ops.iter().find_map(|op| cel.find(&format!(" {op} ")).map(|at| (*op, at))).unwrap_or_else(|| panic!("no operator in {cel}"));
    let side = |text: &str| -> f64 {
        let mut t = text.trim();
        for wrap in ["double(", "int("] {
            if let Some(inner) = t.strip_prefix(wrap).and_then(|x| x.strip_suffix(')')) {
                t = inner;
            }
        }
        match t.strip_prefix("inputs.parameter_values['").and_then(|x| x.strip_suffix("']")) {
            Some(name) => *values.get(name).unwrap_or_else(|| panic!("{name} is not an input of the group")),
            None => t.parse().unwrap_or_else(|e| panic!("{t}: {e}")),
        }
    };
    let (l, r) = (side(&cel[..at]), side(&cel[at + op.len() + 2..]));
    match op {
        ">=" => l >= r,
        "<=" => l <= r,
        ">" => l > r,
        "<" => l < r,
        "==" => l == r,
        _ => l != r,
    }
}

#[test]
fn deploy_runs_only_above_the_runs_min_auc() {
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    let json: Value = serde_json::from_str(c.output.get("pipelines/dev/training.json").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let tasks = json["root"]["dag"]["tasks"].as_object().cloned().unwrap_or_default();
    let (_, group) = tasks.iter().find(|(_, t)| t.get("triggerPolicy").is_some()).unwrap_or_else(|| panic!("no condition group"));
    let component = &json["components"][group["componentRef"]["name"].as_str().unwrap_or_default()];
    // The upload sits in the group; the deploy in the promotion's group nested inside it.
    assert!(component["dag"]["tasks"].get("register").is_some(), "register is not inside the condition");
    let nested = component["dag"]["tasks"].as_object().into_iter().flatten().any(|(_, t)| {
        json["components"][t["componentRef"]["name"].as_str().unwrap_or_default()]["dag"]["tasks"].get("deploy").is_some()
    });
    assert!(nested, "deploy is not inside the condition");
    // The run's `min_auc` reaches the group unchanged.
    assert_eq!(group["inputs"]["parameters"]["pipelinechannel--min_auc"]["componentInputParameter"], "min_auc");
    assert_eq!(component["inputDefinitions"]["parameters"]["pipelinechannel--min_auc"]["parameterType"], "NUMBER_DOUBLE");
    let cel = group["triggerPolicy"]["condition"].as_str().unwrap_or_default();
    let run = |auc: f64, min_auc: f64| {
        evaluate(cel, &BTreeMap::from([("pipelinechannel--evaluate-auc".to_owned(), auc), ("pipelinechannel--min_auc".to_owned(), min_auc)]))
    };
    assert!(run(0.85, 0.8), "{cel}");
    assert!(!run(0.85, 0.9), "a run submitted with min_auc=0.9 must not deploy a 0.85 model: {cel}");
    assert!(run(0.9, 0.9));
}

#[test]
fn int_and_float_sides_compare_as_numbers() {
    let values = BTreeMap::from([("a".to_owned(), 3.0), ("b".to_owned(), 2.5)]);
    assert!(evaluate("double(int(inputs.parameter_values['a'])) >= inputs.parameter_values['b']", &values));
    assert!(!evaluate("int(inputs.parameter_values['a']) < 2", &values));
}
