//! Checks references to resources that exist already: `external` buckets (owned elsewhere, only
//! granted on), `adopt`ed buckets (imported, then owned) and BigQuery tables of other projects
//! (`bq://project.dataset.table`). Each diagnostic says which of the two a setting belongs to.

use super::names;
use super::semantic::Checker;
use crate::diagnostic::Code;
use crate::model::DataSource;
use crate::spec::yaml::pointer_push;
use std::collections::BTreeMap;

/// Checks every bucket, and what uses external data.
pub fn check(c: &mut Checker<'_>) {
    let spec = c.spec;
    for (key, b) in &spec.storage.buckets {
        let p = pointer_push("/storage/buckets", key);
        if let Some(name) = &b.external {
            c.value_name(names::BUCKET, "bucket name", name, &format!("{p}/external"));
            // Settings that would change a bucket this spec does not own.
            let owned_settings = [
                ("versioning", b.versioning),
                ("lifecycle", b.lifecycle.is_some()),
                ("kms_key", b.kms_key.is_some()),
                ("adopt", !b.adopt.is_empty()),
            ];
            for (field, set) in owned_settings {
                if set {
                    let pos = c.key_at(&format!("{p}/{field}"));
                    let message = format!("bucket `{key}` is external (owned elsewhere, only granted on), so it cannot take `{field}`");
                    let hint = if field == "adopt" {
                        "use `external` for a bucket someone else manages, `adopt` for one this spec should now own"
                    } else {
                        "remove it, or replace `external` with `adopt` so this spec owns the bucket and its settings"
                    };
                    c.report(Code::WrongKind, pos, message, Some(hint.into()));
                }
            }
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (env, name) in &b.adopt {
            let at = pointer_push(&format!("{p}/adopt"), env);
            if !spec.environments.contains_key(env) {
                let pos = c.key_at(&at);
                let hint = super::suggest::hint(env, spec.environments.keys().map(String::as_str));
                c.report(Code::UnknownReference, pos, format!("bucket `{key}` is adopted in `{env}`, which is not an environment"), Some(hint));
            }
            c.value_name(names::BUCKET, "bucket name", name, &at);
            // Bucket names are global: one bucket lives in one project, so one environment.
            if let Some(other) = seen.insert(name.as_str(), env.as_str()) {
                let pos = c.at(&at);
                let message = format!("bucket `{name}` is adopted in both `{other}` and `{env}`, but a bucket exists in one project only");
                c.report(Code::DuplicateName, pos, message, Some("adopt it in the environment whose project holds it; the others create their own".into()));
            }
        }
    }
    for (fk, f) in &spec.functions {
        let Some(t) = &f.trigger else { continue };
        if spec.storage.buckets.get(&t.bucket).is_some_and(|b| b.external.is_some()) {
            let pos = c.at(&format!("{}/trigger/bucket", pointer_push("/functions", fk)));
            let message = format!("function `{fk}` is triggered by bucket `{}`, which is external", t.bucket);
            let hint = "an Eventarc Cloud Storage trigger needs the bucket's project's storage agent to publish events; trigger on a bucket this spec owns or adopts";
            c.report(Code::WrongKind, pos, message, Some(hint.into()));
        }
    }
    let Some(features) = &spec.features else { return };
    for (gk, g) in &features.groups {
        let source = spec.datasets.get(&g.dataset).and_then(|d| DataSource::parse(&d.source));
        if let Some(DataSource::BigQuery { project: Some(project), .. }) = source {
            let pos = c.at(&format!("{}/dataset", pointer_push("/features/groups", gk)));
            let message = format!("feature group `{gk}` reads dataset `{}`, a table of project `{project}`", g.dataset);
            let hint = "Feature Store syncs with the environment's Vertex AI service agent, which mlopsgen grants nothing in other projects; copy the table into the environment's project (e.g. a view or a scheduled query) and point a dataset at it";
            c.report(Code::WrongKind, pos, message, Some(hint.into()));
        }
    }
}
