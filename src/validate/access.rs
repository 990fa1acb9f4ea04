//! Checks declared data access (`reads`, `writes`), the `{{buckets.x}}`-style names and
//! `{secret: …}` values in environment variables of container steps, services and functions
//! (see `model::access`), and the `secrets` section itself.

use super::names;
use super::semantic::Checker;
use super::suggest;
use crate::diagnostic::Code;
use crate::model::access::{env_parts, EnvPart, Kind, Ref};
use crate::spec::yaml::pointer_push;
use crate::spec::{Env, EnvValue};

/// Checks the `secrets` section and every declaring entry.
pub fn check(c: &mut Checker<'_>) {
    let spec = c.spec;
    for (id, s) in &spec.secrets {
        let at = pointer_push("/secrets", id);
        c.value_name(names::SECRET_ID, "secret id", id, &at);
        if s.existing && !s.locations.is_empty() {
            let pos = c.at(&format!("{at}/locations"));
            let hint = "drop `locations` (the secret's owner chose its replication) or `existing` (Terraform creates it)";
            c.report(Code::InvalidValue, pos, format!("secret `{id}` is `existing`: mlopsgen does not create it, so it sets no replication"), Some(hint.into()));
        }
        if let Some(r) = &s.rotation {
            if s.existing {
                let pos = c.at(&format!("{at}/rotation"));
                let hint = "rotate it where it is owned, or drop `existing` so Terraform creates it";
                c.report(Code::InvalidValue, pos, format!("secret `{id}` is `existing`: mlopsgen does not create it, so it sets no rotation"), Some(hint.into()));
            }
            if !(1..=36_500).contains(&r.period_days) {
                let pos = c.at(&format!("{at}/rotation/period_days"));
                let hint = "Secret Manager takes a rotation period from 1 hour to 100 years; write 1 to 36500 days";
                c.report(Code::InvalidValue, pos, format!("rotation period of {} days is out of range", r.period_days), Some(hint.into()));
            }
        }
        for (i, loc) in s.locations.iter().enumerate() {
            if !super::facts::REGIONS.contains(&loc.as_str()) {
                let pos = c.at(&format!("{at}/locations/{i}"));
                let hint = suggest::hint(loc, super::facts::REGIONS.iter().copied());
                c.report(Code::UnknownRegion, pos, format!("unknown region `{loc}` (user-managed replication takes regions)"), Some(hint));
            }
        }
    }
    for (pk, p) in &spec.pipelines {
        for (sk, step) in &p.steps {
            if let Some((reads, writes, env)) = step.declared_access() {
                let at = pointer_push(&format!("{}/steps", pointer_push("/pipelines", pk)), sk);
                entry(c, &at, reads, writes, env);
            }
        }
    }
    for (k, s) in &spec.services {
        entry(c, &pointer_push("/services", k), &s.reads, &s.writes, &s.env);
    }
    for (k, f) in &spec.functions {
        entry(c, &pointer_push("/functions", k), &f.reads, &f.writes, &f.env);
    }
}

fn entry(c: &mut Checker<'_>, at: &str, reads: &[String], writes: &[String], env: &Env) {
    let mut declared = Vec::new();
    for (field, list) in [("reads", reads), ("writes", writes)] {
        for (i, text) in list.iter().enumerate() {
            let ptr = format!("{at}/{field}/{i}");
            let Some(r) = reference(c, text, &ptr) else { continue };
            if field == "writes" && !r.kind.writable() {
                let pos = c.at(&ptr);
                let hint = match r.kind {
                    Kind::Endpoint => "an `endpoint_deploy` step deploys to an endpoint; list it under `reads` to call it",
                    _ => "list it under `reads`; mlopsgen grants only secret access, never secret writes",
                };
                c.report(Code::WrongKind, pos, format!("{} `{}` can't be written", r.kind.noun(), r.key), Some(hint.into()));
            }
            declared.push(r);
        }
    }
    for (name, value) in env {
        let ptr = pointer_push(&format!("{at}/env"), name);
        let value = match value {
            EnvValue::Text(t) => t,
            EnvValue::Secret(s) => {
                secret(c, &s.secret, &format!("{ptr}/secret"));
                if s.version.as_ref().is_some_and(|v| !v.is_valid()) {
                    let pos = c.at(&format!("{ptr}/version"));
                    let message = format!("environment variable `{name}`: `{}` is not a secret version", s.version());
                    c.report(Code::InvalidValue, pos, message, Some("write `latest` or a version number (1, 2, …)".into()));
                }
                continue;
            }
        };
        for part in env_parts(value) {
            let EnvPart::Name(text) = part else { continue };
            let Some(r) = reference(c, text, &ptr) else { continue };
            if !declared.contains(&r) {
                let pos = c.at(&ptr);
                let message = format!("environment variable `{name}` names {} `{}`, which this entry neither reads nor writes", r.kind.noun(), r.key);
                let hint = format!("add `{}` to `reads` or `writes` so its identity gets access", r.spelled());
                c.report(Code::UnknownReference, pos, message, Some(hint));
            }
        }
    }
}

/// Parses a reference and checks it names something declared; reports and returns `None` if not.
fn reference(c: &mut Checker<'_>, text: &str, ptr: &str) -> Option<Ref> {
    let r = match Ref::parse(text) {
        Ok(r) => r,
        Err(hint) => {
            let pos = c.at(ptr);
            c.report(Code::UnknownReference, pos, format!("`{text}` names no bucket, dataset, endpoint or secret"), Some(hint));
            return None;
        }
    };
    let spec = c.spec;
    let keys: Vec<&str> = match r.kind {
        Kind::Bucket => spec.storage.buckets.keys().map(String::as_str).collect(),
        Kind::Dataset => spec.datasets.keys().map(String::as_str).collect(),
        Kind::Endpoint => spec.endpoints.keys().map(String::as_str).collect(),
        Kind::Secret => return secret(c, &r.key, ptr).then_some(r),
    };
    if keys.contains(&r.key.as_str()) {
        return Some(r);
    }
    let pos = c.at(ptr);
    let hint = suggest::hint(&r.key, keys.iter().copied());
    c.report(Code::UnknownReference, pos, format!("unknown {} `{}`", r.kind.noun(), r.key), Some(hint));
    None
}

/// Checks that `id` is declared in `secrets`; reports it otherwise.
fn secret(c: &mut Checker<'_>, id: &str, ptr: &str) -> bool {
    let spec = c.spec;
    if spec.secrets.contains_key(id) {
        return true;
    }
    let pos = c.at(ptr);
    let hint = match suggest::closest(id, spec.secrets.keys().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("declare it: `secrets: {{{id}: {{}}}}` (Terraform creates it) or `{{{id}: {{existing: true}}}}`"),
    };
    c.report(Code::UnknownReference, pos, format!("secret `{id}` is not declared in `secrets`"), Some(hint));
    false
}
