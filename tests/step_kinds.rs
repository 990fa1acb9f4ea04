//! What a step declares is read once, from the spec (`spec::step`), by validation and lowering
//! alike: for every step of every example, the model's step has exactly the outputs (names and
//! types), args and user container (image, and whether one exists at all) that the spec step's
//! capabilities give, so what validation checks a step against is what the targets write. The
//! examples cover every step kind (checked), so a kind whose two readings disagree fails here.

use mlopsgen::diagnostic::Source;
use mlopsgen::model::lower::Layout;
use mlopsgen::model::StepKind;
use mlopsgen::spec::Arg;
use std::collections::BTreeSet;
use std::path::Path;

/// Each example spec, validated and lowered.
fn examples() -> Vec<(String, mlopsgen::spec::Spec, mlopsgen::model::Model)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.display().to_string();
            let doc = mlopsgen::spec::load(&Source { name: name.clone(), text }).unwrap_or_else(|d| panic!("{name}: {d:?}"));
            let spec = mlopsgen::validate::check_in(&doc, &dir).unwrap_or_else(|d| panic!("{name}: {d:?}"));
            let layout = Layout { spec_path: name.clone(), output_dir: "generated".into() };
            let model = mlopsgen::model::lower(&spec, &layout).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, spec, model)
        })
        .collect()
}

#[test]
fn lowered_steps_have_what_their_spec_steps_declare() {
    let mut kinds = BTreeSet::new();
    let mut steps = 0;
    for (name, spec, model) in examples() {
        for (key, p) in &spec.pipelines {
            let pipeline = model.pipelines.iter().find(|mp| mp.key == *key).unwrap_or_else(|| panic!("{name}: no pipeline {key}"));
            for (step_name, s) in &p.steps {
                let at = format!("{name} {key}.{step_name}");
                let lowered = pipeline.step(step_name).unwrap_or_else(|| panic!("{at}: not lowered"));
                kinds.insert(lowered.kind.name());
                steps += 1;
                assert_eq!(lowered.outputs, s.outputs(), "{at}: outputs");
                let spec_container = s.user_container();
                let model_container = lowered.kind.user_container();
                assert_eq!(spec_container.is_some(), model_container.is_some(), "{at}: user container");
                if let (Some(sc), Some((_, mc))) = (spec_container, model_container) {
                    assert_eq!(mc.image, sc.image, "{at}: image");
                    let args: Vec<Arg> = sc.args.iter().map(|a| Arg::parse(a)).collect();
                    assert_eq!(mc.args, args, "{at}: args");
                }
                // The outputs validation read from the component file when it loaded it are the
                // ones the lowered step's component (parsed again) declares.
                if let StepKind::Component { component, .. } = &lowered.kind {
                    assert_eq!(component.outputs, s.outputs(), "{at}: component outputs");
                }
            }
        }
    }
    let all = ["container", "custom_training", "hyperparameter_tuning", "model_upload", "model_promote", "endpoint_deploy", "batch_prediction", "data_validation", "component"];
    let missing: Vec<&str> = all.iter().copied().filter(|k| !kinds.contains(k)).collect();
    assert!(missing.is_empty(), "no example has a step of kind {missing:?} ({steps} steps read)");
}
