//! What exists in which environment (`environments.<env>.overrides` removing an entry with `null`,
//! or moving schedules between Composer and Vertex AI), on the forecast and flagship examples:
//!
//! - for each environment, the resources Terraform creates from the one module with that
//!   environment's tfvars (each `count` evaluated from the generated tfvars and variable defaults)
//!   are exactly those of the module generated for that environment's view alone;
//! - every reference to a counted resource picks an instance (`[0]`, `[*]`), in expressions and
//!   inside string templates, except in `depends_on`;
//! - the IAM proof holds in each environment on its own grants, and an identity that exists only
//!   in some environments is granted only there;
//! - dev's CD never syncs DAGs and prod's release never creates Vertex AI schedules, with the
//!   guard each such step runs (executed here with bash) deciding from the trigger's substitutions.

use hcl::expr::{BinaryOperator, Expression, TemplateExpr, TraversalOperator};
use mlopsgen::model::Model;
use mlopsgen::{compile, Compilation, Options, OutputSet, Source};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn example(name: &str) -> Compilation {
    let path = format!("specs/{name}.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let options = Options { spec_file: path.clone().into(), out_override: None };
    compile(&Source { name: path, text }, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn compiled(text: &str) -> Compilation {
    let options = Options { spec_file: "specs/forecast.yaml".into(), out_override: None };
    compile(&Source { name: "forecast.yaml".into(), text: text.into() }, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn body(text: &str, what: &str) -> hcl::Body {
    hcl::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Every `terraform/*.tf` of an output, parsed.
fn modules(out: &OutputSet) -> Vec<(String, hcl::Body)> {
    out.files()
        .filter(|(p, _)| p.starts_with("terraform/") && p.ends_with(".tf") && !p.contains("/env/"))
        .map(|(p, text)| (p.to_owned(), body(text, p)))
        .collect()
}

/// The variables of environment `env`: its tfvars, over the defaults of `variables.tf`.
fn variables(out: &OutputSet, env: &str) -> BTreeMap<String, Value> {
    let mut vars = BTreeMap::new();
    for (_, b) in modules(out) {
        for v in b.blocks().filter(|b| b.identifier.as_str() == "variable") {
            if let Some(default) = v.body.attributes().find(|a| a.key.as_str() == "default") {
                let name = v.labels.first().map(|l| l.as_str().to_owned()).unwrap_or_default();
                vars.insert(name, eval(&default.expr, &BTreeMap::new()));
            }
        }
    }
    let path = format!("terraform/env/{env}.tfvars");
    for a in body(out.get(&path).unwrap_or_else(|| panic!("no {path}")), &path).attributes() {
        vars.insert(a.key.to_string(), eval(&a.expr, &BTreeMap::new()));
    }
    vars
}

/// Evaluates what the generated `count` expressions use: literals, lists, `var.x`, `contains`,
/// `length`, `&&`, `||`, `==`, `!=`, `>`, `? :`. Anything else fails the test.
fn eval(e: &Expression, vars: &BTreeMap<String, Value>) -> Value {
    match e {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(*b),
        Expression::Number(n) => serde_json::json!(n.as_f64()),
        Expression::String(s) => Value::String(s.clone()),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) if !s.contains("${") => Value::String(s.clone()),
            other => panic!("cannot evaluate {other:?}"),
        },
        Expression::Array(items) => Value::Array(items.iter().map(|i| eval(i, vars)).collect()),
        Expression::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (hcl::format::to_string(k).unwrap_or_default().trim_matches('"').to_owned(), eval(v, vars))).collect())
        }
        Expression::Parenthesis(p) => eval(p, vars),
        Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
            (Expression::Variable(v), [TraversalOperator::GetAttr(name)]) if v.as_str() == "var" => {
                vars.get(name.as_str()).cloned().unwrap_or_else(|| panic!("var.{name} has no value"))
            }
            _ => panic!("cannot evaluate {t:?}"),
        },
        Expression::FuncCall(f) => {
            let args: Vec<Value> = f.args.iter().map(|a| eval(a, vars)).collect();
            match (f.name.name.as_str(), args.as_slice()) {
                ("contains", [Value::Array(list), item]) => Value::Bool(list.contains(item)),
                ("length", [Value::Array(list)]) => serde_json::json!(list.len() as f64),
                ("length", [Value::Object(map)]) => serde_json::json!(map.len() as f64),
                _ => panic!("cannot evaluate {f:?}"),
            }
        }
        Expression::Conditional(c) => match eval(&c.cond_expr, vars) {
            Value::Bool(true) => eval(&c.true_expr, vars),
            Value::Bool(false) => eval(&c.false_expr, vars),
            other => panic!("condition is {other}"),
        },
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Binary(b) => {
                let (l, r) = (eval(&b.lhs_expr, vars), eval(&b.rhs_expr, vars));
                let num = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
                Value::Bool(match b.operator {
                    BinaryOperator::And => l == Value::Bool(true) && r == Value::Bool(true),
                    BinaryOperator::Or => l == Value::Bool(true) || r == Value::Bool(true),
                    BinaryOperator::Eq => l == r,
                    BinaryOperator::NotEq => l != r,
                    BinaryOperator::Greater => num(&l) > num(&r),
                    other => panic!("cannot evaluate {other:?}"),
                })
            }
            other => panic!("cannot evaluate {other:?}"),
        },
        other => panic!("cannot evaluate {other:?}"),
    }
}

/// The resources Terraform creates from an output's module with environment `env`'s tfvars.
fn created(out: &OutputSet, env: &str) -> BTreeSet<String> {
    let vars = variables(out, env);
    let mut found = BTreeSet::new();
    for (_, b) in modules(out) {
        for r in b.blocks().filter(|b| b.identifier.as_str() == "resource") {
            let count = r.body.attributes().find(|a| a.key.as_str() == "count").map_or(1.0, |a| {
                eval(&a.expr, &vars).as_f64().unwrap_or_else(|| panic!("count of {:?} is not a number", r.labels))
            });
            if count >= 1.0 {
                found.insert(r.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("."));
            }
        }
    }
    found
}

/// The files of one environment's view generated on their own (a one-environment project).
fn alone(view: &Model) -> OutputSet {
    mlopsgen::targets::emit_all(view).unwrap_or_else(|e| panic!("{e}"))
}

fn each_environment_creates_what_its_view_does(c: &Compilation) {
    for env in &c.model.environments {
        let shared = created(&c.output, &env.name);
        let own = created(&alone(c.model.for_env(&env.name)), &env.name);
        assert_eq!(shared, own, "{}: the shared module with its tfvars creates what its view's own module does", env.name);
    }
}

#[test]
fn forecast_each_environment_creates_exactly_its_views_resources() {
    let c = example("forecast");
    each_environment_creates_what_its_view_does(&c);
    // The example exercises it: Composer only where a schedule runs on it, the Pub/Sub alert
    // target in prod only.
    let has = |env: &str, address: &str| created(&c.output, env).contains(address);
    let composer = "google_composer_environment.composer";
    assert!(!has("dev", composer) && has("staging", composer) && has("prod", composer));
    let topic = "google_monitoring_notification_channel.pubsub_1";
    assert!(!has("dev", topic) && !has("staging", topic) && has("prod", topic));
    assert!(c.model.for_env("dev").composer.is_none() && c.model.for_env("prod").composer.is_some());
}

#[test]
fn flagship_each_environment_creates_exactly_its_views_resources() {
    each_environment_creates_what_its_view_does(&example("flagship"));
}

/// Every place an expression refers to `address.<attr>` without picking an instance.
fn unindexed(e: &Expression, counted: &BTreeSet<String>, out: &mut Vec<String>) {
    match e {
        Expression::Traversal(t) => {
            unindexed(&t.expr, counted, out);
            if let Expression::Variable(root) = &t.expr {
                let name_at = usize::from(root.as_str() == "data");
                let names: Vec<&str> = t
                    .operators
                    .iter()
                    .take(name_at + 1)
                    .filter_map(|op| match op {
                        TraversalOperator::GetAttr(a) => Some(a.as_str()),
                        _ => None,
                    })
                    .collect();
                let address = std::iter::once(root.as_str()).chain(names).collect::<Vec<_>>().join(".");
                let picked = matches!(
                    t.operators.get(name_at + 1),
                    Some(TraversalOperator::Index(_) | TraversalOperator::FullSplat | TraversalOperator::AttrSplat)
                );
                if counted.contains(&address) && !picked {
                    out.push(hcl::format::to_string(e).unwrap_or_default());
                }
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    unindexed(i, counted, out);
                }
            }
        }
        Expression::Array(items) => items.iter().for_each(|i| unindexed(i, counted, out)),
        Expression::Object(o) => o.values().for_each(|v| unindexed(v, counted, out)),
        Expression::FuncCall(f) => f.args.iter().for_each(|a| unindexed(a, counted, out)),
        Expression::Parenthesis(p) => unindexed(p, counted, out),
        Expression::Conditional(c) => [&c.cond_expr, &c.true_expr, &c.false_expr].into_iter().for_each(|x| unindexed(x, counted, out)),
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => unindexed(&u.expr, counted, out),
            hcl::expr::Operation::Binary(b) => [&b.lhs_expr, &b.rhs_expr].into_iter().for_each(|x| unindexed(x, counted, out)),
        },
        Expression::ForExpr(f) => {
            [Some(&f.collection_expr), f.key_expr.as_ref(), Some(&f.value_expr), f.cond_expr.as_ref()].into_iter().flatten().for_each(|x| unindexed(x, counted, out))
        }
        Expression::TemplateExpr(t) => {
            // Interpolations are parsed as the expressions they are.
            let text = match t.as_ref() {
                TemplateExpr::QuotedString(s) => s.clone(),
                TemplateExpr::Heredoc(h) => h.template.clone(),
            };
            let template = hcl::Template::from_expr(&TemplateExpr::QuotedString(text)).unwrap_or_else(|e| panic!("{e}"));
            for element in template.elements() {
                if let hcl::template::Element::Interpolation(i) = element {
                    unindexed(&i.expr, counted, out);
                }
            }
        }
        _ => {}
    }
}

fn every_reference_to_a_counted_resource_is_indexed(c: &Compilation) -> usize {
    let files = modules(&c.output);
    let counted: BTreeSet<String> = files
        .iter()
        .flat_map(|(_, b)| b.blocks().filter(|b| b.body.attributes().any(|a| a.key.as_str() == "count")))
        .map(|b| {
            let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
            if b.identifier.as_str() == "data" { format!("data.{}", labels.join(".")) } else { labels.join(".") }
        })
        .collect();
    let mut bad = Vec::new();
    fn walk(body: &hcl::Body, top: bool, counted: &BTreeSet<String>, out: &mut Vec<String>) {
        for a in body.attributes().filter(|a| !(top && a.key.as_str() == "depends_on")) {
            unindexed(&a.expr, counted, out);
        }
        for b in body.blocks().filter(|b| b.identifier.as_str() != "lifecycle") {
            walk(&b.body, false, counted, out);
        }
    }
    for (path, b) in &files {
        for block in b.blocks() {
            let before = bad.len();
            walk(&block.body, true, &counted, &mut bad);
            for r in bad.iter_mut().skip(before) {
                *r = format!("{path}: {} {:?}: {r}", block.identifier, block.labels);
            }
        }
    }
    assert!(bad.is_empty(), "references to counted resources without an index:\n{}", bad.join("\n"));
    counted.len()
}

#[test]
fn every_reference_to_a_counted_resource_picks_an_instance() {
    let counted = every_reference_to_a_counted_resource_is_indexed(&example("forecast"));
    assert!(counted > 10, "forecast counts its per-environment resources ({counted})");
    every_reference_to_a_counted_resource_is_indexed(&example("flagship"));
    every_reference_to_a_counted_resource_is_indexed(&example("promotion"));
}

#[test]
fn the_proof_holds_per_environment_and_composer_is_granted_only_where_it_exists() {
    let c = example("forecast");
    let roles = mlopsgen::proof::roles::Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let composer = mlopsgen::model::iam::Member::Sa(mlopsgen::model::SaRole::Composer);
    for env in &c.model.environments {
        let proof = mlopsgen::proof::prove_env(&c.model, &env.name, &roles);
        assert!(proof.holds(), "{}: {:?}", env.name, proof.problems);
        let has_composer = c.model.for_env(&env.name).composer.is_some();
        assert_eq!(proof.grants.iter().any(|g| g.member == composer), has_composer, "{}: Composer SA grants", env.name);
        assert_eq!(!mlopsgen::proof::acts_of(&proof, composer).is_empty(), has_composer, "{}: Composer SA acts", env.name);
    }
    // Terraform creates the Composer SA's bindings only where the proof has them.
    for (i, env) in c.model.environments.iter().enumerate() {
        let iam = created(&c.output, &env.name);
        let has = iam.iter().any(|a| a.starts_with("google_project_iam_member.composer_"));
        assert_eq!(has, c.model.for_env(&env.name).composer.is_some(), "{} ({i})", env.name);
    }
}

/// The build steps that run for an environment: a guarded step runs when its key is among the
/// words of the substitution its guard reads, the guard executed with bash as Cloud Build would
/// (after replacing `$$` by `$` and substituting `${_…}`).
fn running_steps(c: &Compilation, config: &str, build_env: &str) -> Vec<Value> {
    let yaml: Value = serde_yaml::from_str(c.output.get(&format!("cloudbuild/{config}.yaml")).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let vars = variables(&c.output, build_env);
    let subst = vars.get("build_substitutions").and_then(Value::as_object).cloned().unwrap_or_default();
    let resolve = |s: &str| {
        let mut out = s.replace("$$", "\u{0}");
        for (k, v) in &subst {
            out = out.replace(&format!("${{{k}}}"), v.as_str().unwrap_or_default());
        }
        out.replace('\u{0}', "$")
    };
    let mut running = Vec::new();
    for step in yaml["steps"].as_array().into_iter().flatten() {
        let args: Vec<String> = step["args"].as_array().into_iter().flatten().filter_map(Value::as_str).map(resolve).collect();
        let guarded = step["entrypoint"] == "bash" && args.get(2).map(String::as_str) == Some("only-in");
        if guarded {
            let env: Vec<(String, String)> = step["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_owned(), resolve(v))))
                .collect();
            // The guard's command is replaced by `echo RUN`: what matters is whether it runs.
            let out = std::process::Command::new("bash")
                .args([args[0].as_str(), args[1].as_str(), "only-in", "echo", "RUN"])
                .envs(env)
                .output()
                .unwrap_or_else(|e| panic!("bash: {e}"));
            assert!(out.status.success());
            if String::from_utf8_lossy(&out.stdout).trim() != "RUN" {
                continue;
            }
        }
        running.push(step.clone());
    }
    running
}

fn runs(steps: &[Value], id_prefix: &str) -> bool {
    steps.iter().any(|s| s["id"].as_str().is_some_and(|id| id.starts_with(id_prefix)))
}

#[test]
fn dev_never_syncs_dags_and_prod_never_creates_vertex_schedules() {
    let c = example("forecast");
    // CD runs in dev; the release that runs in staging deploys into prod, and the one in dev
    // into staging.
    let dev = running_steps(&c, "cd", "dev");
    assert!(!runs(&dev, "sync-dags"), "dev has no Composer: its CD syncs no DAGs");
    assert!(runs(&dev, "schedule-training") && runs(&dev, "schedule-scoring"), "dev's schedules are on Vertex AI");
    assert!(!runs(&dev, "upload-tuning"), "tuning does not exist in dev");
    let prod = running_steps(&c, "release", "staging");
    assert!(!runs(&prod, "schedule-"), "prod runs on Composer: its release creates no Vertex AI schedule");
    assert!(runs(&prod, "sync-dags") && runs(&prod, "upload-tuning"));
    let staging = running_steps(&c, "release", "dev");
    assert!(runs(&staging, "sync-dags") && runs(&staging, "upload-tuning") && !runs(&staging, "schedule-"));
    // Schedule files exist only for the environment on Vertex AI.
    let files: BTreeSet<&str> = c.output.files().map(|(p, _)| p).filter(|p| p.starts_with("cloudbuild/schedules/")).collect();
    assert!(!files.is_empty() && files.iter().all(|p| p.starts_with("cloudbuild/schedules/dev/")), "{files:?}");
    assert!(c.output.files().all(|(p, _)| !p.starts_with("dags/dev/")), "no DAGs for dev");
}

#[test]
fn a_null_override_removes_the_entry_in_that_environment_only() {
    let text = std::fs::read_to_string("specs/forecast.yaml").unwrap_or_default();
    let with = text.replacen("      monitoring:\n        notify: [email:forecasting-dev@acme.example]\n  staging:", "      monitoring:\n        notify: [email:forecasting-dev@acme.example]\n        alerts: {service_p99_latency_ms: null, service_error_rate: null}\n      services: {api: null}\n  staging:", 1);
    assert_ne!(with, text, "dev's overrides moved");
    let c = compiled(&with);
    assert!(c.model.for_env("dev").services.is_empty());
    assert_eq!(c.model.for_env("prod").services.len(), 1);
    assert!(!created(&c.output, "dev").contains("google_cloud_run_v2_service.api"));
    assert!(created(&c.output, "prod").contains("google_cloud_run_v2_service.api"));
    each_environment_creates_what_its_view_does(&c);
    every_reference_to_a_counted_resource_is_indexed(&c);
    let dev = running_steps(&c, "cd", "dev");
    assert!(!runs(&dev, "deploy-service-api"), "dev's CD does not deploy a service dev does not have");
    assert!(runs(&running_steps(&c, "release", "staging"), "deploy-service-api"));
}

/// Every place an expression reads into the result of `one(…)`, which is null where the resource
/// does not exist: `one(x[*].config)[0]` fails the plan there ("Attempt to index null value"),
/// `one(x[*].config[0].uri)` is null.
fn into_one(e: &Expression, out: &mut Vec<String>) {
    let mut inner = |x: &Expression| into_one(x, out);
    match e {
        Expression::Traversal(t) => {
            let mut base = &t.expr;
            while let Expression::Parenthesis(p) = base {
                base = p;
            }
            let reads_into_one = matches!(base, Expression::FuncCall(f) if f.name.name.as_str() == "one");
            inner(&t.expr);
            if reads_into_one {
                out.push(hcl::format::to_string(e).unwrap_or_default());
            }
        }
        Expression::Array(items) => items.iter().for_each(inner),
        Expression::Object(o) => o.values().for_each(inner),
        Expression::FuncCall(f) => f.args.iter().for_each(inner),
        Expression::Parenthesis(p) => inner(p),
        Expression::Conditional(c) => [&c.cond_expr, &c.true_expr, &c.false_expr].into_iter().for_each(inner),
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => inner(&u.expr),
            hcl::expr::Operation::Binary(b) => [&b.lhs_expr, &b.rhs_expr].into_iter().for_each(inner),
        },
        _ => {}
    }
}

#[test]
fn nothing_reads_into_the_value_of_a_resource_that_may_not_exist() {
    let mut ones = 0;
    for spec in ["forecast", "flagship", "promotion", "minimal"] {
        let c = example(spec);
        let mut bad = Vec::new();
        for (path, body) in modules(&c.output) {
            fn walk(body: &hcl::Body, path: &str, bad: &mut Vec<String>, ones: &mut usize) {
                for a in body.attributes() {
                    let before = bad.len();
                    into_one(&a.expr, bad);
                    bad.iter_mut().skip(before).for_each(|b| *b = format!("{path}: {} = {b}", a.key));
                    *ones += hcl::format::to_string(&a.expr).unwrap_or_default().matches("one(").count();
                }
                for b in body.blocks() {
                    walk(&b.body, path, bad, ones);
                }
            }
            walk(&body, &path, &mut bad, &mut ones);
        }
        assert!(bad.is_empty(), "{spec}: reads into a value that is null where its resource is absent:\n{}", bad.join("\n"));
    }
    assert!(ones >= 3, "forecast's outputs of the Composer environment use one(): {ones}");
}
