//! References to what exists, on `specs/promotion.yaml` (prod adopts its existing `landing`
//! bucket; `reference` is another team's bucket; `orders` is a table of the warehouse project):
//! - an adopted bucket is imported (Terraform `import`, id in the provider's documented
//!   `{{project_id}}/{{bucket}}` form) exactly where it is adopted, created elsewhere, and
//!   protected from destruction;
//! - external resources produce no resource block, only a data source and grants;
//! - grants land where the data is (the other project's dataset, the external bucket), and the
//!   BigQuery jobs stay in the environment's project;
//! - misuse is reported at its position, saying external or adopted.

mod support;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Block, Body, Expression, Value};
use mlopsgen::model::iam::Scope;
use mlopsgen::model::{DataSource, Ownership};
use mlopsgen::{compile, Compilation, Error, Options, Source};
use std::path::Path;

const SPEC: &str = "specs/promotion.yaml";

fn promotion() -> Compilation {
    support::compile_spec(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC))
}

fn tf(c: &Compilation, name: &str) -> Body {
    let text = c.output.get(&format!("terraform/{name}")).unwrap_or_else(|| panic!("no terraform/{name}"));
    hcl::parse(text).unwrap_or_else(|e| panic!("terraform/{name}: {e}"))
}

fn attr<'b>(body: &'b Body, key: &str) -> &'b Expression {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr()).unwrap_or_else(|| panic!("no attribute {key}"))
}

fn labelled<'b>(body: &'b Body, kind: &str, labels: [&str; 2]) -> Option<&'b Block> {
    body.blocks().find(|b| b.identifier() == kind && b.labels().iter().map(|l| l.as_str()).eq(labels))
}

// Terraform's `lookup`, `compact` and `toset` (https://developer.hashicorp.com/terraform/language/functions),
// as far as the generated expressions use them.
fn lookup(args: FuncArgs) -> Result<Value, String> {
    let v = args.into_values();
    let key = v[1].as_str().unwrap_or_default();
    Ok(v[0].as_object().and_then(|o| o.get(key).cloned()).unwrap_or_else(|| v[2].clone()))
}
fn compact(args: FuncArgs) -> Result<Value, String> {
    let list = args.into_values().remove(0);
    Ok(Value::Array(list.as_array().into_iter().flatten().filter(|x| x.as_str() != Some("")).cloned().collect()))
}
fn toset(args: FuncArgs) -> Result<Value, String> {
    let mut list: Vec<Value> = args.into_values().remove(0).as_array().cloned().unwrap_or_default();
    list.dedup();
    Ok(Value::Array(list))
}

/// `var.*` from an environment's tfvars, with the functions above.
fn env_context(c: &Compilation, env: &str) -> Context<'static> {
    let mut vars = hcl::value::Map::new();
    for a in tf(c, &format!("env/{env}.tfvars")).attributes() {
        vars.insert(a.key().to_owned(), a.expr().evaluate(&Context::new()).unwrap_or_else(|e| panic!("tfvars: {e}")));
    }
    let mut ctx = Context::new();
    ctx.declare_var("var", Value::Object(vars));
    ctx.declare_func("lookup", FuncDef::builder().params([ParamType::Any, ParamType::String, ParamType::Any]).build(lookup));
    ctx.declare_func("compact", FuncDef::builder().param(ParamType::Any).build(compact));
    ctx.declare_func("toset", FuncDef::builder().param(ParamType::Any).build(toset));
    ctx
}

fn eval(expr: &Expression, ctx: &Context) -> Value {
    expr.evaluate(ctx).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// The import blocks of a file, with the resource address each imports into.
fn imports(body: &Body) -> Vec<(String, &Body)> {
    body.blocks()
        .filter(|b| b.identifier() == "import")
        .map(|b| (attr(b.body(), "to").to_string(), b.body()))
        .collect()
}

#[test]
fn an_adopted_bucket_is_imported_where_adopted_and_created_elsewhere() {
    let c = promotion();
    let storage = tf(&c, "storage.tf");
    let adopted: Vec<_> = c.model.buckets.iter().filter(|b| matches!(b.ownership, Ownership::Adopted(_))).collect();
    assert!(!adopted.is_empty(), "{SPEC} adopts no bucket");
    for b in adopted {
        let Ownership::Adopted(names) = &b.ownership else { continue };
        let to = format!("google_storage_bucket.{}", b.key);
        let found: Vec<_> = imports(&storage).into_iter().filter(|(t, _)| *t == to).collect();
        assert_eq!(found.len(), 1, "one import block into {to}");
        let import = found[0].1;
        let resource = labelled(&storage, "resource", ["google_storage_bucket", &b.key]).unwrap_or_else(|| panic!("no {to}"));
        for env in &c.model.environments {
            let mut ctx = env_context(&c, &env.name);
            let name = eval(attr(resource.body(), "name"), &ctx);
            assert_eq!(name.as_str(), Some(env.bucket_name(&b.key).as_str()), "{to} in {}", env.name);
            let instances = eval(attr(import, "for_each"), &ctx);
            let instances = instances.as_array().cloned().unwrap_or_default();
            match names.get(&env.name) {
                Some(existing) => {
                    // The provider's documented import id of google_storage_bucket is
                    // `{{project_id}}/{{bucket}}` (or `{{bucket}}`):
                    // https://registry.terraform.io/providers/hashicorp/google/6.50.0/docs/resources/storage_bucket#import
                    assert_eq!(instances, vec![Value::from(existing.as_str())], "{to} is imported once in {}", env.name);
                    let mut each = hcl::value::Map::new();
                    each.insert("value".to_owned(), instances[0].clone());
                    ctx.declare_var("each", Value::Object(each));
                    let id = eval(attr(import, "id"), &ctx);
                    assert_eq!(id.as_str(), Some(format!("{}/{existing}", env.gcp_project).as_str()));
                    // The resource imported is the one the spec names in that environment.
                    assert_eq!(name.as_str(), Some(existing.as_str()));
                }
                None => assert!(instances.is_empty(), "{to} is created, not imported, in {}", env.name),
            }
        }
        let lifecycle = resource.body().blocks().find(|l| l.identifier() == "lifecycle").map(Block::body);
        let protect = lifecycle.map(|l| eval(attr(l, "prevent_destroy"), &Context::new()));
        assert_eq!(protect, Some(Value::Bool(true)), "{to}: an adopted bucket holds data Terraform did not create");
    }
}

#[test]
fn external_resources_produce_no_resource_blocks() {
    let c = promotion();
    let external: Vec<(String, String)> = c
        .model
        .buckets
        .iter()
        .filter_map(|b| if let Ownership::External(n) = &b.ownership { Some((b.key.clone(), n.clone())) } else { None })
        .collect();
    let foreign: Vec<(String, String)> = c
        .model
        .datasets
        .iter()
        .filter_map(|d| match &d.source {
            DataSource::BigQuery { project: Some(p), dataset, .. } => Some((p.clone(), dataset.clone())),
            _ => None,
        })
        .collect();
    assert!(!external.is_empty() && !foreign.is_empty(), "{SPEC} names no external bucket or table");
    let files: Vec<_> = c.output.files().filter(|(p, _)| p.starts_with("terraform/") && p.ends_with(".tf")).collect();
    for (path, text) in files {
        let body = hcl::parse(text).unwrap_or_else(|e| panic!("{path}: {e}"));
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            let rendered = hcl::to_string(&Body::from(vec![block.clone()])).unwrap_or_default();
            if block.identifier() == "resource" && !labels[0].ends_with("_iam_member") {
                for (key, name) in &external {
                    assert!(labels != ["google_storage_bucket", key.as_str()], "{path}: external bucket `{key}` is created");
                    assert!(!rendered.contains(name.as_str()), "{path}: resource {labels:?} manages external bucket {name}");
                }
                for (project, dataset) in &foreign {
                    assert!(!rendered.contains(project.as_str()), "{path}: resource {labels:?} manages something of {project} ({dataset})");
                }
            }
            if block.identifier() == "import" {
                let to = attr(block.body(), "to").to_string();
                assert!(!external.iter().any(|(k, _)| to.ends_with(&format!(".{k}"))), "{path}: external bucket imported: {to}");
            }
        }
    }
    let storage = tf(&c, "storage.tf");
    for (key, name) in &external {
        let data = labelled(&storage, "data", ["google_storage_bucket", key]).unwrap_or_else(|| panic!("no data source for `{key}`"));
        assert_eq!(eval(attr(data.body(), "name"), &Context::new()).as_str(), Some(name.as_str()));
        for env in &c.model.environments {
            assert_eq!(&env.bucket_name(key), name, "an external bucket has its one name in {}", env.name);
        }
    }
}

#[test]
fn grants_land_where_the_data_is() {
    let c = promotion();
    let iam = tf(&c, "iam.tf");
    let m = &c.model;
    let roles = mlopsgen::proof::roles::Roles::load().unwrap_or_else(|e| panic!("{e}"));
    let proof = mlopsgen::proof::prove(m, &roles);
    assert!(proof.problems.is_empty(), "{:?}", proof.problems);
    // The proof sees the reads of the other project's table (so a missing grant there fails it).
    let acts = mlopsgen::model::actions::derive(m);
    assert!(acts.iter().any(|a| matches!(a.scope, Scope::ExternalDataset { .. })), "no action on the external table");
    let dropped: Vec<_> = m.grants.iter().filter(|g| !matches!(g.scope, Scope::ExternalDataset { .. })).cloned().collect();
    let weakened = mlopsgen::proof::check(acts, dropped, &roles);
    assert!(!weakened.problems.is_empty(), "the proof passes without the grants on the external table");
    let mut external_grants = 0;
    for g in &m.grants {
        let (ty, name) = mlopsgen::targets::terraform::binding_address(g);
        let body = labelled(&iam, "resource", [ty, &name]).unwrap_or_else(|| panic!("no {ty}.{name}")).body();
        match &g.scope {
            Scope::ExternalDataset { project, dataset } => {
                external_grants += 1;
                assert_eq!(ty, "google_bigquery_dataset_iam_member");
                assert_eq!(eval(attr(body, "project"), &Context::new()).as_str(), Some(project.as_str()));
                assert_eq!(eval(attr(body, "dataset_id"), &Context::new()).as_str(), Some(dataset.as_str()));
                // Query jobs run, and are billed, in the environment's project.
                let jobs = m.grants.iter().any(|j| j.member == g.member && j.scope == Scope::Project && j.role == "roles/bigquery.jobUser");
                assert!(jobs, "{:?} reads {project}.{dataset} but cannot run jobs in its own project", g.member);
            }
            Scope::Bucket(key) if m.buckets.iter().any(|b| &b.key == key && !b.managed()) => {
                external_grants += 1;
                assert_eq!(attr(body, "bucket").to_string(), format!("data.google_storage_bucket.{key}.name"));
            }
            _ => {}
        }
    }
    assert!(external_grants >= 2, "no grant on the external bucket and table");
    // Every rendering of the table names its own project, in every environment.
    for env in &m.environments {
        for d in &m.datasets {
            let DataSource::BigQuery { project: Some(project), dataset, table } = &d.source else { continue };
            let uri = format!("bq://{project}.{dataset}.{table}");
            assert_eq!(env.dataset_uri(d), uri);
            let pipeline = c.output.get(&format!("pipelines/{}/hello.json", env.name)).unwrap_or_default();
            assert!(pipeline.contains(&uri), "pipeline of {} reads {uri}", env.name);
            assert!(!pipeline.contains(&format!("{}.{dataset}.{table}", env.gcp_project)));
        }
    }
}

/// Compiles the promotion spec with one edit and returns `(code, line:col, message)` of each
/// problem.
fn problems(from: &str, to: &str) -> (String, Vec<(String, String, String)>) {
    let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC)).unwrap_or_default();
    let text = base.replacen(from, to, 1);
    assert_ne!(text, base, "edit `{from}` not applied");
    let source = Source { name: "edited.yaml".into(), text: text.clone() };
    let options = Options { spec_file: Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC), out_override: None };
    let Err(Error::Invalid(d)) = compile(&source, &options) else { panic!("`{to}` was accepted") };
    (text, d.iter().map(|d| (d.code.as_str().to_owned(), format!("{}:{}", d.pos.line, d.pos.col), d.message.clone())).collect())
}

/// `line:col` (1-based) of the first `needle` after `anchor` in `text`.
fn position(text: &str, anchor: &str, needle: &str) -> String {
    let start = text.find(anchor).unwrap_or_else(|| panic!("no `{anchor}`"));
    let at = start + text[start..].find(needle).unwrap_or_else(|| panic!("no `{needle}` after `{anchor}`"));
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

fn expect_one(edit: (&str, &str), code: &str, anchor: &str, needle: &str, says: &str) {
    let (text, got) = problems(edit.0, edit.1);
    assert_eq!(got.len(), 1, "{got:?}");
    let (c, pos, message) = &got[0];
    assert_eq!((c.as_str(), pos.clone()), (code, position(&text, anchor, needle)), "{message}");
    assert!(message.contains(says), "`{message}` does not say `{says}`");
}

#[test]
fn misuse_is_reported_at_its_position() {
    let external = "      external: acme-shared-reference-data";
    // An external bucket cannot take settings that would change it.
    expect_one((external, &format!("{external}\n      versioning: true")), "E023", "reference:", "versioning", "external");
    expect_one((external, &format!("{external}\n      lifecycle: {{delete_after_days: 30}}")), "E023", "reference:", "lifecycle", "external");
    expect_one((external, &format!("{external}\n      adopt: {{prod: acme-x}}")), "E023", "reference:", "adopt", "external");
    expect_one((external, "      external: Not_A_Bucket"), "E030", "reference:", "Not_A_Bucket", "bucket name");
    // Adopting in an environment that does not exist, or one bucket in two projects.
    expect_one(("adopt: {prod: acme-relay-landing}", "adopt: {prd: acme-relay-landing}"), "E020", "landing:", "prd", "not an environment");
    expect_one(
        ("adopt: {prod: acme-relay-landing}", "adopt: {prod: acme-relay-landing, staging: acme-relay-landing}"),
        "E022",
        "landing:",
        "acme-relay-landing}",
        "one project only",
    );
    // A three-part table reference names a valid project; four parts are no table.
    expect_one(("bq://acme-warehouse.sales.orders", "bq://Acme.sales.orders"), "E030", "orders:", "bq://", "GCP project id");
    expect_one(("bq://acme-warehouse.sales.orders", "bq://a.b.c.d"), "E035", "orders:", "bq://", "invalid dataset source");
    // An unknown key under a bucket is a schema error at that key.
    expect_one((external, &format!("{external}\n      adopted: true")), "E010", "reference:", "adopted", "unknown field");
}
