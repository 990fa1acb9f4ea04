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
    let before = support::compile_spec(&spec).model;
    let reasons = vec!["reads the data; writes the features".to_owned(), "a second reason".to_owned()];
    // A lowered model is not changed (what targets derive from it is kept with it): change a clone.
    let mut model = before.clone();
    // Terraform binds each environment's own grants (the flagship's environments have views).
    let first = model.grants.iter().find(|g| g.role == "roles/storage.objectUser").map(|g| (g.member, g.scope.clone()));
    let Some((member, scope)) = first else { panic!("no object user grant") };
    let views = model.env_views.iter_mut().map(|(_, v)| v);
    for m in views.map(|v| &mut v.grants).chain([&mut model.grants]) {
        if let Some(grant) = m.iter_mut().find(|g| g.role == "roles/storage.objectUser" && g.member == member && g.scope == scope) {
            grant.reasons.clone_from(&reasons);
        }
    }
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
    let original = iam_tf(&before);
    let changed = text.lines().filter(|l| !original.lines().any(|o| o == *l)).count();
    assert_eq!(changed, 2, "{text}");
}
