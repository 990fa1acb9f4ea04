//! Checks only the generated files can answer, placed in the spec: overrides an environment
//! can't have because a target writes one file set for every environment (E035 at the
//! environment's `overrides`), `overrides.terraform` entries that match no generated block and
//! file overrides whose pointer no longer resolves (E020 at their key). The targets find them (`targets::unexpressed`, after lowering and before
//! any file is written); the spec is parsed again for positions, only on this error path.

use crate::diagnostic::{Code, Diagnostic, Source};

/// What the targets found they can't express; empty when the spec is fine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unexpressed {
    /// Environments whose overrides change a shared file set.
    pub shared: Vec<SharedDifference>,
    /// `overrides.terraform` entries that match nothing (looked for only without `shared`).
    pub overrides: Vec<UnmatchedOverride>,
    /// File overrides that do not apply (looked for only without `shared`).
    pub file_overrides: Vec<UnappliedFileOverride>,
}

/// An environment whose overrides change the files of a target that is not per environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDifference {
    /// The environment.
    pub env: String,
    /// The target's title.
    pub target: &'static str,
    /// The files that would differ.
    pub files: Vec<String>,
}

/// An override that does not apply: `path` is the override's key path below the address
/// (empty for the address itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedOverride {
    /// The address as written in the spec.
    pub address: String,
    /// Keys from the address down to the offending one.
    pub path: Vec<String>,
    /// What is wrong.
    pub message: String,
    /// The closest existing address, for an unknown one.
    pub did_you_mean: Option<String>,
    /// The environment whose own overrides (`environments.<env>.overrides.overrides.terraform`)
    /// hold it; `None` for the spec's `overrides.terraform`.
    pub env: Option<String>,
}

/// A file override (`overrides.cloudbuild`, `overrides.pipelines`) that does not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnappliedFileOverride {
    /// Which section: `cloudbuild` or `pipelines`.
    pub section: &'static str,
    /// The file's key in that section (a config name, a pipeline key).
    pub file: String,
    /// The pointer as written in the spec.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// The environment whose view the file belongs to, when it is not every environment's.
    pub env: Option<String>,
}

/// The diagnostics for what the targets can't express: the shared differences if there are any,
/// else the unmatched overrides.
pub fn check(source: &Source, found: &Unexpressed) -> Result<(), Vec<Diagnostic>> {
    if !found.shared.is_empty() {
        return Err(shared_diagnostics(source, &found.shared));
    }
    if !found.overrides.is_empty() {
        return Err(override_diagnostics(source, &found.overrides));
    }
    if !found.file_overrides.is_empty() {
        return Err(file_override_diagnostics(source, &found.file_overrides));
    }
    Ok(())
}

/// Overrides that change a target generating one file set for every environment (see
/// `targets::shared_differences`), as E035 at the environment's `overrides`.
fn shared_diagnostics(source: &Source, found: &[SharedDifference]) -> Vec<Diagnostic> {
    let doc = crate::spec::load(source).ok();
    found
        .iter()
        .map(|f| {
            let pos = doc.as_ref().map(|d| d.spans.key(&crate::spec::envs::overrides_pointer(&f.env))).unwrap_or_default();
            let msg = format!(
                "the overrides of `{}` change {} ({}) in a way one file set for every environment cannot express",
                f.env,
                f.target,
                f.files.join(", ")
            );
            let hint = "overrides may change literal Terraform attributes (variables in env/<env>.tfvars), \
                        remove an entry (`null`: its resources get a count), change list members that refer \
                        to such resources, and change pipelines, DAGs and schedules; not Dockerfiles, nor a \
                        reference or a nested block of a resource every environment has";
            Diagnostic::new(Code::InvalidValue, pos, msg).with_hint(hint)
        })
        .collect()
}

/// `overrides.terraform` entries that match nothing, as E020 at their key in the spec (the
/// document is parsed again for positions: only on this error path).
fn override_diagnostics(source: &Source, problems: &[UnmatchedOverride]) -> Vec<Diagnostic> {
    let doc = crate::spec::load(source).ok();
    problems
        .iter()
        .map(|p| {
            let keys = std::iter::once("terraform").chain(std::iter::once(p.address.as_str())).chain(p.path.iter().map(String::as_str));
            let below = |base: String| keys.clone().fold(base, |at, key| crate::spec::yaml::pointer_push(&at, key));
            let pointer = written_at(doc.as_ref(), p.env.as_deref(), below);
            let message = match &p.env {
                Some(env) => format!("in environment `{env}`: {}", p.message),
                None => p.message.clone(),
            };
            let pos = doc.as_ref().map(|d| d.spans.key(&pointer)).unwrap_or_default();
            let d = Diagnostic::new(Code::UnknownReference, pos, message);
            match &p.did_you_mean {
                Some(m) => d.with_hint(format!("did you mean `{m}`?")),
                None => d,
            }
        })
        .collect()
}

/// Where an override is written: below the environment's own `overrides` when it is there, else
/// below the spec's; `below` appends the override's keys to either.
fn written_at(doc: Option<&crate::spec::yaml::Document>, env: Option<&str>, below: impl Fn(String) -> String) -> String {
    let spec = below("/overrides".to_owned());
    let Some(env) = env else { return spec };
    let theirs = below(format!("{}/overrides", crate::spec::envs::overrides_pointer(env)));
    if doc.is_some_and(|d| d.value.pointer(&theirs).is_some()) {
        theirs
    } else {
        spec
    }
}

/// `overrides.cloudbuild` / `overrides.pipelines` entries that do not apply, as E020 at their
/// pointer in the spec: in the environment's overrides when that is where it is written.
fn file_override_diagnostics(source: &Source, problems: &[UnappliedFileOverride]) -> Vec<Diagnostic> {
    let doc = crate::spec::load(source).ok();
    problems
        .iter()
        .map(|p| {
            let below = |base: String| {
                let at = crate::spec::yaml::pointer_push(&crate::spec::yaml::pointer_push(&base, p.section), &p.file);
                if p.pointer.is_empty() {
                    at
                } else {
                    crate::spec::yaml::pointer_push(&at, &p.pointer)
                }
            };
            let pointer = written_at(doc.as_ref(), p.env.as_deref(), below);
            let pos = doc.as_ref().map(|d| d.spans.key(&pointer)).unwrap_or_default();
            let message = match &p.env {
                Some(env) if !p.pointer.is_empty() => format!("{} (in `{env}`)", p.message),
                _ => p.message.clone(),
            };
            let d = Diagnostic::new(Code::UnknownReference, pos, message);
            if p.pointer.is_empty() {
                d
            } else {
                d.with_hint("check the generated file (mlopsgen diff / build) for the path it has now; see README, Escape hatches")
            }
        })
        .collect()
}
