//! Dockerfiles with hostile spec strings: every value reads back unchanged through Docker's own
//! quoting rules (quoted `ENV`/`LABEL` values, exec-form JSON), and nothing is expanded.

use mlopsgen::model::paths;
use mlopsgen::{compile, Options, Source};

const SPEC: &str = r#"version: 1
project: {name: demo}
environments: {dev: {gcp_project: acme-demo-dev, region: us-central1}}
terraform: {state_bucket: acme-demo-tf-state}
storage: {buckets: {artifacts: {}}}
images:
  web:
    context: "web app"
    base: python:3.12-slim
    digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    requirements: requirements/prod.txt
    system_packages: [libgomp1=12.2.0-14]
    entrypoint: [python, -c, "print(\"a $HOME \\\\ 'b'\")"]
    cmd: ["--flag={{ x }}", "${Y}"]
    env:
      HOSTILE: "say \"hi\" \\ $HOME ${X} {{ x }} {% y %} %{z} `tick` 'single'"
      PLAIN: "0"
    serving: {port: 9000, health_route: "/h?x=\"1\"&y='$Z'\\w", predict_route: "/p{{q}}%{r}"}
"#;

fn dockerfile() -> String {
    let source = Source { name: "spec.yaml".into(), text: SPEC.to_owned() };
    let options = Options { spec_file: "spec.yaml".into(), out_override: None };
    let c = match compile(&source, &options) {
        Ok(c) => c,
        Err(mlopsgen::Error::Invalid(d)) => panic!("{}", mlopsgen::diagnostic::render(&source, &d, false)),
        Err(e) => panic!("{e}"),
    };
    c.output.get(&paths::dockerfile("web")).map(str::to_owned).unwrap_or_else(|| panic!("no Dockerfile"))
}

/// Reads a Dockerfile word the way Docker's lexer does: `'…'` is literal, inside `"…"` a `\`
/// escapes `"`, `\` and `$`; an unquoted or double-quoted `$` would expand, which this test
/// treats as a failure, as it does unquoted text.
fn read_word(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    Some('\'') => break,
                    Some(c) => out.push(c),
                    None => panic!("unclosed ' in {word}"),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => out.push(chars.next().unwrap_or_else(|| panic!("dangling escape in {word}"))),
                    Some('$') => panic!("expanding $ in {word}"),
                    Some(c) => out.push(c),
                    None => panic!("unclosed \" in {word}"),
                }
            },
            c => panic!("unquoted {c:?} in {word}"),
        }
    }
    out
}

/// The value of `ENV NAME=...` (or a continuation line `    NAME=...`).
fn env_value(text: &str, name: &str) -> String {
    let line = text
        .lines()
        .map(|l| l.trim_start().trim_start_matches("ENV ").trim_end_matches(" \\"))
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"));
    read_word(line)
}

fn instruction<'t>(text: &'t str, keyword: &str) -> &'t str {
    text.lines().find_map(|l| l.strip_prefix(keyword)).unwrap_or_else(|| panic!("no {keyword} in\n{text}"))
}

#[test]
fn hostile_values_read_back_unchanged() {
    let text = dockerfile();
    assert_eq!(env_value(&text, "HOSTILE"), r#"say "hi" \ $HOME ${X} {{ x }} {% y %} %{z} `tick` 'single'"#);
    assert_eq!(env_value(&text, "PLAIN"), "0");
    assert_eq!(env_value(&text, "AIP_HEALTH_ROUTE"), r#"/h?x="1"&y='$Z'\w"#);
    assert_eq!(env_value(&text, "AIP_PREDICT_ROUTE"), "/p{{q}}%{r}");
    let entrypoint: Vec<String> = serde_json::from_str(instruction(&text, "ENTRYPOINT ")).unwrap_or_default();
    assert_eq!(entrypoint, ["python", "-c", r#"print("a $HOME \\ 'b'")"#]);
    let cmd: Vec<String> = serde_json::from_str(instruction(&text, "CMD ")).unwrap_or_default();
    assert_eq!(cmd, ["--flag={{ x }}", "${Y}"]);
}

#[test]
fn images_pin_their_base_and_run_unprivileged() {
    let text = dockerfile();
    let base = "python:3.12-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_eq!(instruction(&text, "FROM "), format!("{base} AS dependencies"));
    assert_eq!(text.lines().rfind(|l| l.starts_with("FROM ")), Some(format!("FROM {base}").as_str()));
    assert!(text.contains("COPY requirements/prod.txt /tmp/requirements.txt"));
    assert!(text.contains("'libgomp1=12.2.0-14'") && !text.contains("hadolint ignore"), "{text}");
    assert_eq!(instruction(&text, "EXPOSE "), "9000");
    assert!(text.contains("AIP_HTTP_PORT=9000") && text.contains("HEALTHCHECK "));
    assert_eq!(text.lines().rfind(|l| l.starts_with("USER ")), Some("USER 10001:10001"));
}

/// A serving image listens where both platforms look: Vertex AI sets only `AIP_HTTP_PORT`
/// (custom container requirements), so the image sets `PORT` to the same port for servers that
/// read it (gunicorn binds `0.0.0.0:$PORT` when it is set); Cloud Run sets `PORT` itself. An
/// image whose own `env` sets `PORT` keeps its value.
#[test]
fn serving_images_set_port_to_the_serving_port_unless_their_env_does() {
    // The raw values of `NAME=` in ENV lines (ports are written bare, user values quoted).
    let raw = |text: &str, name: &str| -> Vec<String> {
        let prefix = format!("{name}=");
        text.lines()
            .map(|l| l.trim_start().trim_start_matches("ENV ").trim_end_matches(" \\"))
            .filter_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_owned))
            .collect()
    };
    let text = dockerfile();
    assert_eq!(raw(&text, "PORT"), ["9000"]);
    assert_eq!(raw(&text, "PORT"), raw(&text, "AIP_HTTP_PORT"));
    let own = SPEC.replace("      PLAIN: \"0\"\n", "      PLAIN: \"0\"\n      PORT: \"7000\"\n");
    assert_ne!(own, SPEC);
    let source = Source { name: "spec.yaml".into(), text: own };
    let options = Options { spec_file: "spec.yaml".into(), out_override: None };
    let text = match compile(&source, &options) {
        Ok(c) => c.output.get(&paths::dockerfile("web")).map(str::to_owned).unwrap_or_default(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(raw(&text, "PORT"), ["'7000'"], "the image's own PORT, once: {text}");
}
