//! Rules that come from the generated files rather than from Google Cloud: values a Dockerfile
//! instruction can't carry (or that its linter can't read), and names the generator reserves.

use super::semantic::Checker;
use crate::diagnostic::Code;
use crate::spec::yaml::pointer_push;

/// Whether a JSON pointer names one of the spec's free-text descriptions (the only strings that
/// may span lines: no generated file puts them where a newline would end an instruction).
pub fn is_description(pointer: &str) -> bool {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    matches!(
        segments.as_slice(),
        ["project", "description"]
            | ["pipelines", _, "description"]
            | ["pipelines", _, "parameters", _, "description"]
            | ["models", _, "description"]
    )
}

/// Runs the rules.
pub fn check(c: &mut Checker<'_>) {
    images(c);
    reserved_buckets(c);
}

fn images(c: &mut Checker<'_>) {
    for (name, image) in &c.spec.images {
        let p = pointer_push("/images", name);
        if let Some(req) = &image.requirements {
            let plain = req.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-' | '/'));
            if !plain {
                let pos = c.at(&format!("{p}/requirements"));
                let hint = "name the requirements file with letters, digits, `.`, `_`, `-` and `/` only".to_owned();
                c.report(Code::UnsafeString, pos, format!("the Dockerfile can't copy `{req}` reliably"), Some(hint));
            }
        }
        let mut quoted: Vec<(String, &str)> =
            image.env.iter().map(|(k, v)| (pointer_push(&format!("{p}/env"), k), v.as_str())).collect();
        if let Some(serving) = &image.serving {
            quoted.push((format!("{p}/serving/health_route"), &serving.health_route));
            quoted.push((format!("{p}/serving/predict_route"), &serving.predict_route));
        }
        for (pointer, value) in quoted {
            if value.ends_with('\\') || value.contains("\\'") {
                let pos = c.at(&pointer);
                let hint = "Dockerfile linters read it as an escaped quote; move or drop the backslash".to_owned();
                c.report(
                    Code::UnsafeString,
                    pos,
                    "a backslash can't end this value or come right before `'`",
                    Some(hint),
                );
            }
        }
        if image.base.rsplit_once(':').is_some_and(|(_, tag)| tag == "latest") {
            let pos = c.at(&format!("{p}/base"));
            let hint = "use a version tag such as `python:3.11-slim` (and optionally `digest`)".to_owned();
            c.report(Code::InvalidValue, pos, format!("`{}` is not pinned: `latest` moves", image.base), Some(hint));
        }
    }
}

/// The Composer environment's DAG bucket is `<gcp_project>-composer`, so no declared bucket may
/// take that name.
fn reserved_buckets(c: &mut Checker<'_>) {
    if c.spec.orchestration.composer.is_some() && c.spec.storage.buckets.contains_key("composer") {
        let pos = c.key_at("/storage/buckets/composer");
        let message = "bucket `composer` would collide with the Composer environment's bucket";
        c.report(Code::DuplicateName, pos, message, Some("rename the bucket".to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Diagnostic, Source};

    const BASE: &str = "version: 1
project: {name: demo}
environments: {dev: {gcp_project: acme-demo-dev, region: us-central1}}
terraform: {state_bucket: acme-demo-tf-state}
storage: {buckets: {artifacts: {}}}
";

    fn diagnostics(extra: &str) -> Vec<Diagnostic> {
        let source = Source { name: "t.yaml".into(), text: format!("{BASE}{extra}") };
        match crate::spec::load(&source).map(|doc| crate::validate::check(&doc)) {
            Ok(Ok(_)) => Vec::new(),
            Ok(Err(d)) | Err(d) => d,
        }
    }

    fn codes_and_lines(extra: &str) -> Vec<(&'static str, usize)> {
        diagnostics(extra).iter().map(|d| (d.code.as_str(), d.pos.line)).collect()
    }

    #[test]
    fn newline_in_an_image_env_value_is_rejected_at_its_line() {
        let spec = "images:\n  job:\n    context: job\n    base: python:3.12-slim\n    env:\n      GREETING: \"hello\\nRUN rm -rf /\"\n";
        assert_eq!(codes_and_lines(spec), vec![("E036", 11)]);
    }

    #[test]
    fn an_env_var_named_description_is_not_a_description() {
        let spec = "images:\n  job:\n    context: job\n    base: python:3.12-slim\n    env: {description: \"a\\nb\"}\n";
        assert_eq!(codes_and_lines(spec), vec![("E036", 10)]);
        assert!(codes_and_lines("models: {}\n").is_empty());
        assert!(is_description("/pipelines/p/parameters/lr/description"));
        assert!(!is_description("/images/job/env/description") && !is_description("/project/labels/description"));
    }

    #[test]
    fn backslashes_before_quotes_or_at_the_end_are_rejected() {
        let spec =
            |v: &str| format!("images:\n  job:\n    context: job\n    base: python:3.12-slim\n    env: {{A: {v}}}\n");
        assert_eq!(codes_and_lines(&spec(r#""a\\""#)), vec![("E036", 10)]);
        assert_eq!(codes_and_lines(&spec(r#""a\\'b""#)), vec![("E036", 10)]);
        assert!(codes_and_lines(&spec(r#""a\\b 'c' \"d\" $E""#)).is_empty());
    }

    #[test]
    fn requirements_paths_and_latest_tags() {
        let spec = "images:\n  job:\n    context: job\n    base: python:latest\n    requirements: \"req s.txt\"\n";
        assert_eq!(codes_and_lines(spec), vec![("E035", 9), ("E036", 10)]);
    }

    #[test]
    fn the_composer_bucket_name_is_reserved() {
        let text = BASE.replace("{artifacts: {}}", "{artifacts: {}, composer: {}}");
        let source = Source {
            name: "t.yaml".into(),
            text: format!("{text}orchestration: {{composer: {{image_version: composer-3-airflow-2.10.5}}}}\n"),
        };
        let found = match crate::spec::load(&source).map(|doc| crate::validate::check(&doc)) {
            Ok(Err(d)) => d.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        assert_eq!(found, vec!["E022"]);
    }
}
