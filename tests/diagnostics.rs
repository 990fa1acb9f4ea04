//! Every spec in `tests/invalid/` has exactly one problem, named on its first line as
//! `# expect: E020 at 35:16`. The test checks the code and position, then snapshots the rendered
//! diagnostic (caret excerpt and hint) so wording changes show up in review.

use mlopsgen::diagnostic::render;
use mlopsgen::{compile, Error, Options, Source};
use std::path::Path;

#[test]
fn each_invalid_spec_reports_its_problem_at_its_position() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    assert!(files.len() >= 30, "expected the invalid-spec corpus, found {} files", files.len());
    for path in files {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let expect = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).unwrap_or_else(|| panic!("{name}: no `# expect:` line"));
        let (code, pos) = expect.split_once(" at ").unwrap_or_else(|| panic!("{name}: bad expect line"));
        let source = Source { name: format!("tests/invalid/{name}.yaml"), text: text.clone() };
        let options = Options { spec_file: path.clone(), out_override: None };
        let diagnostics = match compile(&source, &options) {
            Err(Error::Invalid(d)) => d,
            other => panic!("{name}: expected diagnostics, got {other:?}"),
        };
        assert_eq!(diagnostics.len(), 1, "{name}: expected one problem, got:\n{}", render(&source, &diagnostics, false));
        let d = &diagnostics[0];
        assert_eq!(d.code.as_str(), code, "{name}: wrong code");
        assert_eq!(format!("{}:{}", d.pos.line, d.pos.col), pos, "{name}: wrong position");
        insta::assert_snapshot!(name, render(&source, &diagnostics, false));
    }
}

/// Schema and semantic mistakes come in one run: schema slips are reported and then read as their
/// hints say (an unknown field as the field meant, `contaner` as `container`, `"3"` as 3), so the
/// semantic checks still see the rest of the spec (issue: "errors come in rounds"). Without the
/// repairs of enum values and types, the `=<` condition, the cron and the memory limit would wait
/// for a second run.
#[test]
fn one_run_reports_every_independent_mistake_at_its_position() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/many_mistakes.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let source = Source { name: "many_mistakes.yaml".into(), text };
    let options = Options { spec_file: path, out_override: None };
    let Err(Error::Invalid(diagnostics)) = compile(&source, &options) else { panic!("expected diagnostics") };
    let got: Vec<(String, String, &str)> =
        diagnostics.iter().map(|d| (d.code.as_str().to_owned(), format!("{}:{}", d.pos.line, d.pos.col), d.message.as_str())).collect();
    let expected = [
        ("E010", "6:1", "unknown field `projct`"),
        ("E032", "11:45", "unknown region `us-central9`"),
        ("E020", "14:10", "no bucket `artifacts`"),
        ("E030", "15:5", "invalid bucket name `Artifacts`"),
        ("E010", "16:30", "unknown field `versoning`"),
        ("E021", "22:7", "cycle"),
        ("E020", "24:16", "unknown image `trainr`"),
        ("E010", "26:40", "`integer` is not allowed here"),
        ("E020", "32:56", "unknown parameter `lr`"),
        ("E033", "33:25", "`n1-standard` has no size `7`"),
        ("E010", "34:9", "unknown field `retrys`"),
        ("E010", "36:15", "`contaner` is not allowed here"),
        ("E035", "38:15", "unknown comparison `=<`"),
        ("E020", "39:15", "`orchestration.composer` is not declared"),
        ("E031", "39:22", "the hour field `25` is not valid (values 0-23"),
        ("E010", "41:40", "unknown field `min_replica`"),
        ("E010", "41:70", "expected an integer, found the string `\"3\"`"),
        ("E035", "43:33", "invalid Cloud Run memory limit `512MB`"),
        ("E010", "43:40", "unknown field `port`"),
    ];
    assert_eq!(got.len(), expected.len(), "{}", render(&source, &diagnostics, false));
    for ((code, pos, message), (want_code, want_pos, fragment)) in got.iter().zip(expected) {
        assert_eq!((code.as_str(), pos.as_str()), (want_code, want_pos), "{message}");
        assert!(message.contains(fragment), "{pos}: `{message}` lacks `{fragment}`");
    }
}

#[test]
fn an_unused_parameter_is_a_warning_at_its_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/minimal.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let marker = "    parameters:\n";
    assert!(text.contains(marker), "specs/minimal.yaml has no pipeline parameters block");
    let text = text.replacen(marker, "    parameters:\n      forgotten: {type: int, default: 1}\n", 1);
    let line = text.lines().position(|l| l.contains("forgotten:")).map_or(0, |i| i + 1);
    let source = Source { name: "specs/minimal.yaml".into(), text };
    let c = compile(&source, &Options { spec_file: path, out_override: None }).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.warnings.len(), 1, "{}", render(&source, &c.warnings, false));
    let w = &c.warnings[0];
    assert_eq!((w.code.as_str(), w.pos.line, w.pos.col), ("W001", line, 7));
    assert!(render(&source, &c.warnings, false).starts_with("warning[W001]: parameter `forgotten`"));
    let flagship = mlopsgen::diagnostic::Source { name: "specs/flagship.yaml".into(), text: include_str!("../specs/flagship.yaml").into() };
    let c = compile(&flagship, &Options { spec_file: "specs/flagship.yaml".into(), out_override: None }).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.warnings.is_empty(), "{}", render(&flagship, &c.warnings, false));
}

/// A release into the last environment that waits for approval with no `ci.approvers` can only
/// be approved by the project's owners: a warning (W003) at `ci.approve_last`; listing approvers
/// or opting out of the approval silences it.
#[test]
fn an_approval_nobody_is_named_to_give_is_a_warning() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/promotion.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let named = "  approvers: [\"group:relay-releases@acme.example\"]\n";
    assert!(text.contains(named), "specs/promotion.yaml names no approvers");
    let compile_with = |text: String| {
        let source = Source { name: "specs/promotion.yaml".into(), text };
        let c = compile(&source, &Options { spec_file: path.clone(), out_override: None }).unwrap_or_else(|e| panic!("{e}"));
        (render(&source, &c.warnings, false), c.warnings)
    };
    let unnamed = text.replacen(named, "", 1);
    let line = unnamed.lines().position(|l| l.contains("approve_last:")).map_or(0, |i| i + 1);
    let (rendered, warnings) = compile_with(unnamed.clone());
    assert_eq!(warnings.len(), 1, "{rendered}");
    assert_eq!((warnings[0].code.as_str(), warnings[0].pos.line), ("W003", line), "{rendered}");
    assert!(rendered.contains("release into `prod` waits for an approval"), "{rendered}");
    assert!(compile_with(text).1.is_empty());
    assert!(compile_with(unnamed.replacen("approve_last: true", "approve_last: false", 1)).1.is_empty());
}

/// A batch prediction on an alias no step sets is skipped on every run (its lookup finds no
/// version holding it, which is not a failure): a warning (W004) at the step's `model`.
#[test]
fn an_alias_no_step_sets_is_a_warning_at_the_prediction() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/flagship.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.contains("model: churn@champion"), "the flagship scores no alias");
    let text = text.replacen("model: churn@champion", "model: churn@champoin", 1);
    let (line, col) = text.lines().enumerate().find_map(|(i, l)| l.find("churn@champoin").map(|c| (i + 1, c + 1))).unwrap_or_default();
    let source = Source { name: "specs/flagship.yaml".into(), text };
    let c = compile(&source, &Options { spec_file: path, out_override: None }).unwrap_or_else(|e| panic!("{e}"));
    let rendered = render(&source, &c.warnings, false);
    assert_eq!(c.warnings.len(), 1, "{rendered}");
    assert_eq!((c.warnings[0].code.as_str(), c.warnings[0].pos.line, c.warnings[0].pos.col), ("W004", line, col), "{rendered}");
    assert!(rendered.contains("no step moves alias `champoin` onto a version of model `churn`"), "{rendered}");
}
