//! `apis.tf`: one `google_project_service` per Google API the spec uses (`model.apis`).

use super::syntax::{bool, resource, s, BlockExt, Item, TfFile};
use crate::model::Model;

/// Terraform name of an API's `google_project_service` (`aiplatform.googleapis.com` → `aiplatform`).
pub fn ident(service: &str) -> &str {
    service.split('.').next().unwrap_or(service)
}

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    f.push(Item::comment([
        "APIs the spec's resources use. disable_on_destroy = false: destroying this module never turns",
        "an API off for other users of the project (the default changed in provider 7.0).",
    ]));
    for api in &m.apis {
        f.push(
            resource("google_project_service", ident(api))
                .attr("service", s(*api))
                .attr("disable_on_destroy", bool(false)),
        );
    }
    f
}
