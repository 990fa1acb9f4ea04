//! A grant's reasons stay a list from the model to `iam.tf`: each is one comment line above its
//! binding, whatever it contains (a reason with `; ` in it once became two lines, because the
//! reasons were joined with `; ` and split again).

mod support;

use mlopsgen::targets::{Shard, TARGETS};
use mlopsgen::OutputSet;
use std::path::Path;

#[test]
fn each_reason_is_one_comment_line_above_its_binding() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    let mut model = support::compile_spec(&spec).model;
    let reasons = vec!["reads the data; writes the features".to_owned(), "a second reason".to_owned()];
    let before = model.grants.clone();
    let Some(grant) = model.grants.iter_mut().find(|g| g.role == "roles/storage.objectUser") else { panic!("no object user grant") };
    grant.reasons.clone_from(&reasons);
    let Some(terraform) = TARGETS.iter().find(|t| t.id() == "terraform") else { panic!("no terraform target") };
    let iam_tf = |model: &mlopsgen::model::Model| {
        let mut out = OutputSet::new(&model.spec_path);
        terraform.emit(model, &mut out, Shard::ALL).unwrap_or_else(|e| panic!("{e}"));
        out.get("terraform/iam.tf").unwrap_or_default().to_owned()
    };
    let text = iam_tf(&model);
    let block = "# reads the data; writes the features\n# a second reason\nresource \"";
    assert!(text.contains(block), "the reasons are not one comment line each:\n{text}");
    assert!(!text.lines().any(|l| l == "# writes the features"), "a reason was split");
    // Only that binding's comments changed: as many lines as before, but for one extra reason.
    let original = {
        model.grants = before;
        iam_tf(&model)
    };
    let changed = text.lines().filter(|l| !original.lines().any(|o| o == *l)).count();
    assert_eq!(changed, 2, "{text}");
}
