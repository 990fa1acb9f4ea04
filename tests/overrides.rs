//! `overrides.terraform`: a value set on a generated resource lands in the emitted file (parsed
//! back with hcl-rs), survives `build --check`, removes with `null`, stays literal text, and an
//! override that matches nothing is an E020 at its key.

use assert_cmd::Command;
use hcl::structure::{Block, Body, Structure};
use mlopsgen::{compile, Error, Options, Source};
use std::path::Path;

const BASE: &str = "version: 1
project: {name: demo}
environments:
  dev: {gcp_project: acme-demo-dev, region: us-central1}
terraform: {state_bucket: acme-demo-tf-state}
storage:
  buckets:
    artifacts: {}
";

fn compiled(overrides: &str) -> Result<mlopsgen::Compilation, Error> {
    let source = Source { name: "spec.yaml".into(), text: format!("{BASE}{overrides}") };
    compile(&source, &Options { spec_file: "specs/spec.yaml".into(), out_override: None })
}

fn bucket(storage_tf: &str) -> Block {
    let body: Body = hcl::from_str(storage_tf).unwrap_or_else(|e| panic!("storage.tf does not parse: {e}"));
    body.into_blocks()
        .find(|b| b.identifier.as_str() == "resource" && b.labels.iter().map(|l| l.as_str()).eq(["google_storage_bucket", "artifacts"]))
        .unwrap_or_else(|| panic!("no bucket in:\n{storage_tf}"))
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a hcl::Expression> {
    body.attributes().find(|a| a.key.as_str() == key).map(|a| &a.expr)
}

fn blocks<'a>(body: &'a Body, name: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier.as_str() == name)
}

#[test]
fn overrides_set_merge_and_remove_attributes_of_the_addressed_resource() {
    let c = compiled(
        r#"overrides:
  terraform:
    google_storage_bucket.artifacts:
      soft_delete_policy: {retention_duration_seconds: 1209600}
      versioning: {enabled: true}
      public_access_prevention: null
      storage_class: "${var.region}"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = c.output.get("terraform/storage.tf").unwrap_or_default();
    let b = bucket(text);
    // A new nested block, created whole.
    let soft: Vec<_> = blocks(&b.body, "soft_delete_policy").collect();
    assert_eq!(soft.len(), 1, "{text}");
    assert_eq!(attr(&soft[0].body, "retention_duration_seconds"), Some(&hcl::Expression::Number(1209600.into())));
    // Merged into the one existing `versioning` block: still one block, now enabled.
    let versioning: Vec<_> = blocks(&b.body, "versioning").collect();
    assert_eq!(versioning.len(), 1, "{text}");
    assert_eq!(attr(&versioning[0].body, "enabled"), Some(&hcl::Expression::Bool(true)));
    // Removed, while the rest of the generated block stays.
    assert!(attr(&b.body, "public_access_prevention").is_none(), "{text}");
    assert!(attr(&b.body, "uniform_bucket_level_access").is_some(), "{text}");
    // A spec string is a literal: Terraform reads `$${` as the text `${`, never a reference.
    assert!(text.contains(r#"storage_class = "$${var.region}""#), "{text}");
    // New entries go before the meta-arguments that end the block.
    let last = b.body.iter().next_back();
    assert!(matches!(last, Some(Structure::Attribute(a)) if a.key.as_str() == "depends_on"), "{text}");
}

#[test]
fn an_override_that_matches_nothing_is_an_e020_at_its_key_with_a_suggestion() {
    let spec = "overrides:\n  terraform:\n    google_storage_bucket.artifact:\n      versioning: {enabled: true}\n";
    let Err(Error::Invalid(d)) = compiled(spec) else { panic!("expected a diagnostic") };
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E020", 11, 5));
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `google_storage_bucket.artifacts`?"));

    // Removing an attribute the generated block does not have is stale too, reported at that key.
    let spec = "overrides:\n  terraform:\n    google_storage_bucket.artifacts:\n      versioning: {retention: null}\n";
    let Err(Error::Invalid(d)) = compiled(spec) else { panic!("expected a diagnostic") };
    assert_eq!((d[0].code.as_str(), d[0].pos.line, d[0].pos.col), ("E020", 12, 20), "{d:?}");
}

#[test]
fn an_overridden_file_is_owned_output_and_survives_build_check() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = dir.path().join("mlops.yaml");
    let text = format!("{BASE}overrides:\n  terraform:\n    google_storage_bucket.artifacts:\n      soft_delete_policy: {{retention_duration_seconds: 0}}\n");
    std::fs::write(&spec, text).unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str]| Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}")).args(args).arg(&spec).assert();
    run(&["build"]).success();
    let written = std::fs::read_to_string(dir.path().join("generated/terraform/storage.tf")).unwrap_or_default();
    assert_eq!(blocks(&bucket(&written).body, "soft_delete_policy").count(), 1, "{written}");
    run(&["build", "--check"]).success();
    // A team's own `*.extra.tf` next to the generated files: Terraform loads it with the module,
    // and mlopsgen neither refuses it as a hand edit nor removes it as an orphan.
    let extra = dir.path().join("generated/terraform/team.extra.tf");
    let own = "resource \"google_storage_bucket\" \"team\" {\n  name     = \"team\"\n  location = var.region\n}\n";
    std::fs::write(&extra, own).unwrap_or_else(|e| panic!("{e}"));
    run(&["build", "--check"]).success();
    run(&["build"]).success();
    run(&["diff"]).success();
    assert_eq!(std::fs::read_to_string(&extra).ok().as_deref(), Some(own));
    // Editing the overridden line by hand is a hand edit like any other.
    std::fs::write(dir.path().join("generated/terraform/storage.tf"), written.replace("retention_duration_seconds = 0", "retention_duration_seconds = 7"))
        .unwrap_or_else(|e| panic!("{e}"));
    run(&["build", "--check"]).failure();
    assert!(Path::new(&dir.path().join("generated/.mlopsgen/manifest.json")).exists());
}
