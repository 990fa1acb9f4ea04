//! Terraform files as flat `address → argument path → value` maps, parsed with hcl-rs.
//!
//! Addresses follow Terraform: `google_storage_bucket.data`, `data.google_project.this`,
//! `module.x`, `output.x`, `variable.x`, `local.x`, `provider.google`, `terraform`. Nested blocks
//! become `versioning[0].enabled` (or `env[LOG_LEVEL].value` when the block has a literal
//! `name`, so inserting one block doesn't renumber its siblings); object values become
//! `labels.team`; every other value is its expression on one line, as HCL (`"text"` is a
//! literal, `var.region` a reference).

use super::Fields;
use hcl::format::{Format, Formatter};
use hcl::{Block, Body, Expression, ObjectKey, Structure};
use std::collections::BTreeMap;

/// The blocks of a set of `.tf` files by address.
pub fn blocks<'a>(texts: impl Iterator<Item = &'a str>) -> BTreeMap<String, Fields> {
    let mut out = BTreeMap::new();
    for text in texts {
        let Ok(body) = hcl::parse(text) else { continue };
        for structure in body.iter() {
            match structure {
                Structure::Block(block) => {
                    if block.identifier.as_str() == "locals" {
                        for (name, fields) in attributes_as_blocks(&block.body, "local.") {
                            out.insert(name, fields);
                        }
                    } else if let Some(address) = address(block) {
                        let mut fields = Fields::new();
                        flatten_body(&block.body, "", &mut fields);
                        out.insert(address, fields);
                    }
                }
                Structure::Attribute(_) => {}
            }
        }
    }
    out
}

/// The top-level attributes of an attribute-only file (`.tfvars`, `.backend.hcl`).
pub fn attributes(text: &str) -> Option<Fields> {
    let body = hcl::parse(text).ok()?;
    let mut fields = Fields::new();
    flatten_body(&body, "", &mut fields);
    Some(fields)
}

fn address(block: &Block) -> Option<String> {
    let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
    let kind = block.identifier.as_str();
    Some(match (kind, labels.as_slice()) {
        ("resource", [ty, name]) => format!("{ty}.{name}"),
        ("data", [ty, name]) => format!("data.{ty}.{name}"),
        ("module" | "output" | "variable" | "provider", [name]) => format!("{kind}.{name}"),
        ("terraform", []) => "terraform".to_owned(),
        _ => return None,
    })
}

/// `locals { a = 1 }` → `local.a` with one field, `value` (or the object's keys).
fn attributes_as_blocks(body: &Body, prefix: &str) -> Vec<(String, Fields)> {
    body.attributes()
        .map(|a| {
            let mut fields = Fields::new();
            flatten_expr(&a.expr, "value", &mut fields);
            (format!("{prefix}{}", a.key.as_str()), fields)
        })
        .collect()
}

fn flatten_body(body: &Body, prefix: &str, out: &mut Fields) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => flatten_expr(&a.expr, &format!("{prefix}{}", a.key.as_str()), out),
            Structure::Block(b) => {
                let key = block_key(b);
                let index = match literal_name(&b.body) {
                    Some(name) => name,
                    None => {
                        let n = counts.entry(key.clone()).or_insert(0);
                        *n += 1;
                        (*n - 1).to_string()
                    }
                };
                flatten_body(&b.body, &format!("{prefix}{key}[{index}]."), out);
            }
        }
    }
}

/// A block's `name = "literal"`, used to key repeated blocks.
fn literal_name(body: &Body) -> Option<String> {
    body.attributes().find(|a| a.key.as_str() == "name").and_then(|a| match &a.expr {
        Expression::String(s) => Some(s.clone()),
        _ => None,
    })
}

fn block_key(b: &Block) -> String {
    let mut key = b.identifier.as_str().to_owned();
    for l in &b.labels {
        key.push(':');
        key.push_str(l.as_str());
    }
    key
}

/// Objects become one field per key; everything else one field holding the expression.
fn flatten_expr(expr: &Expression, path: &str, out: &mut Fields) {
    match expr {
        Expression::Object(object) if !object.is_empty() => {
            for (key, value) in object {
                let key = match key {
                    ObjectKey::Identifier(i) => i.as_str().to_owned(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    ObjectKey::Expression(e) => one_line(e),
                    other => other.to_string(),
                };
                flatten_expr(value, &format!("{path}.{key}"), out);
            }
        }
        other => {
            out.insert(path.to_owned(), one_line(other));
        }
    }
}

/// An expression as compact, single-line HCL.
pub fn one_line(expr: &Expression) -> String {
    let mut formatter = Formatter::builder().compact(true).prefer_ident_keys(true).build_vec();
    let text = expr.format_string(&mut formatter).unwrap_or_default();
    text.trim().replace('\n', "\\n")
}

/// `google_service_account.ci.member` → `google_service_account.ci`: the resource a
/// reference points at, if the expression is a plain attribute reference to one.
pub fn referenced_resource(value: &str) -> Option<&str> {
    // `[N]` after the resource name (a `count` instance) is dropped: it names the same resource.
    fn without_index(p: &str) -> &str {
        match p.split_once('[') {
            Some((name, idx)) if idx.strip_suffix(']').is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())) => name,
            _ => p,
        }
    }
    let parts: Vec<&str> = value.split('.').collect();
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !parts.iter().all(|p| valid(without_index(p))) {
        return None;
    }
    let len = match parts.as_slice() {
        ["data", ty, _, _] if ty.starts_with("google_") => 3,
        [ty, _, _] if ty.starts_with("google_") => 2,
        _ => return None,
    };
    let end: usize = parts[..len - 1].iter().map(|p| p.len() + 1).sum::<usize>() + without_index(parts[len - 1]).len();
    value.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_blocks_objects_and_named_blocks() {
        let tf = r#"
resource "google_cloud_run_v2_service" "api" {
  labels = { team = "ml", "cost-center" = "x" }
  template {
    containers {
      env {
        name  = "A"
        value = var.a
      }
    }
  }
  depends_on = [google_project_service.run]
}
locals { ids = ["a", "b"] }
"#;
        let b = blocks(std::iter::once(tf));
        let api = &b["google_cloud_run_v2_service.api"];
        assert_eq!(api["labels.team"], "\"ml\"");
        assert_eq!(api["labels.cost-center"], "\"x\"");
        assert_eq!(api["template[0].containers[0].env[A].value"], "var.a");
        assert_eq!(api["depends_on"], "[google_project_service.run]");
        assert_eq!(b["local.ids"]["value"], "[\"a\", \"b\"]");
    }

    #[test]
    fn finds_referenced_resources() {
        assert_eq!(referenced_resource("google_service_account.ci.member"), Some("google_service_account.ci"));
        assert_eq!(referenced_resource("data.google_project.this.number"), Some("data.google_project.this"));
        assert_eq!(referenced_resource("var.project_id"), None);
        assert_eq!(referenced_resource("\"serviceAccount:x@y\""), None);
    }
}
