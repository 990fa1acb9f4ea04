//! Kubeflow output carries hostile spec strings intact: the JSON re-parses to the exact text,
//! CEL string literals are escaped, and output is byte-identical across runs.

use mlopsgen::{compile, Options, Source};
use serde_json::Value;

const SPEC: &str = r#"
version: 1
project: {name: hx}
environments:
  dev: {gcp_project: acme-hx-dev, region: europe-west4}
terraform: {state_bucket: acme-hx-tf-state}
storage:
  buckets: {artifacts: {}}
images:
  job: {context: job, base: python:3.12-slim, entrypoint: [python, -m, job]}
pipelines:
  hostile:
    description: "Quotes \" and 'single', back\\slash, ${tf} %{tf} $VAR {{ jinja }} {% block %}\nnew line, Größe ✓ 😀"
    parameters:
      text: {type: string, default: "a \"b\" \\c ${x} %{y} $Z {% if %} é"}
      obj: {type: struct, default: {"k\"ey": ["v\\al", 1, 2.5e-7, true, null]}}
    steps:
      make:
        kind: container
        image: job
        command: [sh, -c, "echo \"$HOME\" '%{x}' ${y} \\n"]
        args: ["--x=\"quoted\" ${a} %{b} $C \\ é", "{{params.text}}", "{{outputs.label}}"]
        outputs: {label: String}
        env: {QUOTE: "\"q\" ${v} %{w} $X \\"}
      use:
        kind: container
        image: job
        args: [use, "{{params.obj}}"]
        when: "make.label == \"it's \\ ok\""
"#;

fn pipeline_json() -> String {
    let source = Source { name: "hostile.yaml".into(), text: SPEC.into() };
    let options = Options { spec_file: "hostile.yaml".into(), out_override: Some("out".into()) };
    let c = match compile(&source, &options) {
        Ok(c) => c,
        Err(mlopsgen::Error::Invalid(d)) => panic!("{}", mlopsgen::diagnostic::render(&source, &d, false)),
        Err(e) => panic!("{e}"),
    };
    c.output.get("pipelines/dev/hostile.json").map(str::to_owned).unwrap_or_else(|| panic!("no pipeline JSON"))
}

fn at<'v>(v: &'v Value, pointer: &str) -> &'v Value {
    v.pointer(pointer).unwrap_or_else(|| panic!("no {pointer}"))
}

#[test]
fn hostile_strings_round_trip() {
    let text = pipeline_json();
    assert!(text.is_ascii() || text.contains('😀'), "only astral characters are written raw");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        at(&v, "/pipelineInfo/description"),
        "Quotes \" and 'single', back\\slash, ${tf} %{tf} $VAR {{ jinja }} {% block %}\nnew line, Größe ✓ 😀"
    );
    assert_eq!(at(&v, "/root/inputDefinitions/parameters/text/defaultValue"), "a \"b\" \\c ${x} %{y} $Z {% if %} é");
    assert_eq!(at(&v, "/root/inputDefinitions/parameters/obj/defaultValue"), &serde_json::json!({"k\"ey": ["v\\al", 1.0, 2.5e-7, true, null]}));
    let make = at(&v, "/deploymentSpec/executors/exec-make/container");
    assert_eq!(at(make, "/command/2"), "echo \"$HOME\" '%{x}' ${y} \\n");
    assert_eq!(at(make, "/args/0"), "--x=\"quoted\" ${a} %{b} $C \\ é");
    assert_eq!(at(make, "/env/0/value"), "\"q\" ${v} %{w} $X \\");
    assert_eq!(
        at(&v, "/root/dag/tasks/condition-1/triggerPolicy/condition"),
        "inputs.parameter_values['pipelinechannel--make-label'] == 'it\\'s \\\\ ok'"
    );
}

#[test]
fn output_is_deterministic() {
    assert_eq!(pipeline_json(), pipeline_json());
}
