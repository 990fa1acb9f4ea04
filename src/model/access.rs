//! Declared data access: what a container step, service or function says it reads and writes
//! (`reads: [buckets.data, datasets.customers]`, `writes: [buckets.predictions]`), and
//! environment variables that name a resource (`{{buckets.predictions}}`), resolved to that
//! resource's real name in each environment.
//!
//! A reference is `<section>.<key>`: `buckets.<key>` (`storage.buckets`), `datasets.<key>`,
//! `endpoints.<key>` or `secrets.<id>` (a Secret Manager secret of the environment's project).
//! Validation (`validate::access`) checks each one; [`super::actions`] turns them into actions of
//! the declaring identity and [`super::iam`] grants exactly those.
//!
//! Secrets are one concept with two spellings: `env: {X: {secret: s}}` (the platform hands the
//! value over) *implies* reading `secrets.s`, so it needs no `reads` entry; `reads: [secrets.s]`
//! alone means the code reads it through the Secret Manager API. Either way the identity gets
//! `secretAccessor` on that secret alone, and every secret named must be declared in `secrets`.

use super::{Environment, Model};
use crate::spec;
use std::collections::BTreeMap;

/// What kind of resource a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A bucket of `storage.buckets`.
    Bucket,
    /// A dataset of `datasets` (a BigQuery table or objects of a bucket).
    Dataset,
    /// A Vertex AI endpoint of `endpoints` (reading it means calling predict).
    Endpoint,
    /// A Secret Manager secret of `secrets` (by id).
    Secret,
}

impl Kind {
    /// Every kind, in the order diagnostics list them.
    pub const ALL: [Kind; 4] = [Kind::Bucket, Kind::Dataset, Kind::Endpoint, Kind::Secret];

    /// The reference prefix (`buckets`, …).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Bucket => "buckets",
            Kind::Dataset => "datasets",
            Kind::Endpoint => "endpoints",
            Kind::Secret => "secrets",
        }
    }

    /// Singular noun for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Bucket => "bucket",
            Kind::Dataset => "dataset",
            Kind::Endpoint => "endpoint",
            Kind::Secret => "secret",
        }
    }

    /// Whether an identity can be declared to write this kind (endpoints are written by
    /// `endpoint_deploy` steps, secrets by whoever owns them).
    pub fn writable(self) -> bool {
        matches!(self, Kind::Bucket | Kind::Dataset)
    }
}

/// A reference to one declared resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ref {
    /// Its kind.
    pub kind: Kind,
    /// Its key (or secret id).
    pub key: String,
}

impl Ref {
    /// Parses `<section>.<key>`; the error is the hint to show.
    pub fn parse(text: &str) -> Result<Ref, String> {
        let hint = || "write `buckets.<key>`, `datasets.<key>`, `endpoints.<key>` or `secrets.<id>`".to_owned();
        let (section, key) = text.trim().split_once('.').ok_or_else(hint)?;
        let kind = Kind::ALL.into_iter().find(|k| k.section() == section).ok_or_else(hint)?;
        if key.is_empty() {
            return Err(hint());
        }
        Ok(Ref { kind, key: key.to_owned() })
    }

    /// How the spec spells it.
    pub fn spelled(&self) -> String {
        format!("{}.{}", self.kind.section(), self.key)
    }
}

/// An environment variable that takes a secret's version (`env: {X: {secret: s, version: v}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    /// Secret id (key of `secrets`).
    pub secret: String,
    /// `latest` or a version number.
    pub version: String,
}

/// What one identity-bearing entry declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Read, sorted and deduplicated (`reads`, without the secrets only `env` takes).
    pub reads: Vec<Ref>,
    /// Written, sorted and deduplicated.
    pub writes: Vec<Ref>,
    /// Environment variables that take a secret, by variable name (each implies reading it).
    pub secret_env: BTreeMap<String, SecretEnv>,
}

impl Access {
    /// From validated spec lists (unparsable entries were rejected by validation and are skipped).
    pub fn from_spec(reads: &[String], writes: &[String], env: &spec::Env) -> Access {
        let parse = |l: &[String]| {
            let mut v: Vec<Ref> = l.iter().filter_map(|r| Ref::parse(r).ok()).collect();
            v.sort();
            v.dedup();
            v
        };
        let secret_env = env
            .iter()
            .filter_map(|(name, v)| match v {
                spec::EnvValue::Secret(s) => Some((name.clone(), SecretEnv { secret: s.secret.clone(), version: s.version() })),
                spec::EnvValue::Text(_) => None,
            })
            .collect();
        Access { reads: parse(reads), writes: parse(writes), secret_env }
    }

    /// Whether it declares `r` at all (a secret taken by `env` counts as read).
    pub fn declares(&self, r: &Ref) -> bool {
        self.reads.contains(r) || self.writes.contains(r) || (r.kind == Kind::Secret && self.secret_env.values().any(|s| s.secret == r.key))
    }
}

/// The text environment variables of a spec `env` (those taking a secret are in
/// [`Access::secret_env`]).
pub fn text_env(env: &spec::Env) -> BTreeMap<String, String> {
    env.iter()
        .filter_map(|(name, v)| match v {
            spec::EnvValue::Text(t) => Some((name.clone(), t.clone())),
            spec::EnvValue::Secret(_) => None,
        })
        .collect()
}

/// A secret version's resource name in one environment (`projects/P/secrets/S/versions/V`).
pub fn secret_version(env: &Environment, s: &SecretEnv) -> String {
    format!("projects/{}/secrets/{}/versions/{}", env.gcp_project, s.secret, s.version)
}

/// A piece of an environment variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvPart<'a> {
    /// Literal text.
    Text(&'a str),
    /// `{{…}}`: the reference text between the braces.
    Name(&'a str),
}

/// Splits a value at its `{{buckets.…}}`, `{{datasets.…}}`, `{{endpoints.…}}` and
/// `{{secrets.…}}` names; any other `{{…}}` (and an unclosed `{{`) stays text, so values that
/// already held braces keep their meaning.
pub fn env_parts(value: &str) -> Vec<EnvPart<'_>> {
    let mut out = Vec::new();
    let mut rest = value;
    let mut from = 0;
    while let Some(found) = rest[from..].find("{{") {
        let start = from + found;
        let Some(len) = rest[start + 2..].find("}}") else { break };
        let inner = rest[start + 2..start + 2 + len].trim();
        if !Kind::ALL.iter().any(|k| inner.strip_prefix(k.section()).is_some_and(|r| r.starts_with('.'))) {
            from = start + 2;
            continue;
        }
        if start > 0 {
            out.push(EnvPart::Text(&rest[..start]));
        }
        out.push(EnvPart::Name(inner));
        rest = &rest[start + 2 + len + 2..];
        from = 0;
    }
    if !rest.is_empty() {
        out.push(EnvPart::Text(rest));
    }
    out
}

/// The name a reference stands for in one environment: a bucket's name, a dataset's
/// `bq://PROJECT.DATASET.TABLE` or `gs://` URI, an endpoint's or secret's resource name.
pub fn resolve(m: &Model, env: &Environment, r: &Ref) -> Option<String> {
    match r.kind {
        Kind::Bucket => m.buckets.iter().any(|b| b.key == r.key).then(|| env.bucket_name(&r.key)),
        Kind::Dataset => m.dataset(&r.key).map(|d| env.dataset_uri(d)),
        Kind::Endpoint => m.endpoint(&r.key).map(|e| env.endpoint_resource(e.id)),
        Kind::Secret => Some(format!("projects/{}/secrets/{}", env.gcp_project, r.key)),
    }
}

/// An environment variable's value in one environment, its `{{…}}` references resolved
/// (validation rejected any that resolve to nothing; such a one would stay as written).
pub fn resolve_env(m: &Model, env: &Environment, value: &str) -> String {
    env_parts(value)
        .into_iter()
        .map(|p| match p {
            EnvPart::Text(t) => t.to_owned(),
            EnvPart::Name(n) => Ref::parse(n).ok().and_then(|r| resolve(m, env, &r)).unwrap_or_else(|| format!("{{{{{n}}}}}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(Ref::parse("buckets.data"), Ok(Ref { kind: Kind::Bucket, key: "data".into() }));
        assert_eq!(Ref::parse("secrets.api-key").map(|r| r.spelled()), Ok("secrets.api-key".into()));
        assert!(Ref::parse("bucket.data").is_err());
        assert!(Ref::parse("buckets.").is_err());
        assert!(Ref::parse("data").is_err());
    }

    #[test]
    fn splits_env_values() {
        assert_eq!(env_parts("gs://{{ buckets.x }}/out"), vec![EnvPart::Text("gs://"), EnvPart::Name("buckets.x"), EnvPart::Text("/out")]);
        assert_eq!(env_parts("a {{b"), vec![EnvPart::Text("a {{b")]);
        assert_eq!(env_parts("{{ jinja }} {{$}}"), vec![EnvPart::Text("{{ jinja }} {{$}}")]);
        assert_eq!(env_parts("{{x}}{{buckets.b}}"), vec![EnvPart::Text("{{x}}"), EnvPart::Name("buckets.b")]);
        assert_eq!(env_parts(""), vec![]);
    }
}
