//! What Terraform itself needs in an environment when Cloud Build plans and applies it
//! (`ci.terraform`): per area of the module, what `terraform plan` reads (refreshing each
//! resource, its IAM policy and the state) and what `terraform apply` changes, with the
//! predefined roles that hold exactly those reads (the plan SA's) and writes (the apply SA's).
//!
//! Both [`super::actions`] (the acts) and [`super::iam`] (the grants) read this table, and the
//! proof checks each role against the role data, so a role that lacks a listed permission fails
//! `mlopsgen iam`. The permissions are the `get`/`create`/`update`/`delete`/`setIamPolicy` calls
//! the google provider makes for the resources of each area (the provider's resource pages name
//! the API methods; their permissions are in each product's IAM permissions reference).

use super::{Model, SaRole};

/// One area of the module: resources of one API (or the project's IAM policy, the enabled APIs,
/// the custom roles) and what planning and applying it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Area {
    /// The API (or pseudo-area) name.
    pub name: &'static str,
    /// The plan SA's role.
    pub read_role: &'static str,
    /// What refreshing the area's resources needs.
    pub reads: &'static [&'static str],
    /// The apply SA's role.
    pub manage_role: &'static str,
    /// What creating, changing and deleting them needs.
    pub manages: &'static [&'static str],
}

const fn area(
    name: &'static str,
    read_role: &'static str,
    reads: &'static [&'static str],
    manage_role: &'static str,
    manages: &'static [&'static str],
) -> Area {
    Area { name, read_role, reads, manage_role, manages }
}

/// The areas, by API (only those whose API the model enables apply).
const BY_API: &[Area] = &[
    area("aiplatform.googleapis.com", "roles/aiplatform.viewer", &["aiplatform.endpoints.get", "aiplatform.tensorboards.get"],
        "roles/aiplatform.admin", &["aiplatform.endpoints.create", "aiplatform.endpoints.update", "aiplatform.endpoints.delete", "aiplatform.tensorboards.create", "aiplatform.tensorboards.delete"]),
    area("artifactregistry.googleapis.com", "roles/artifactregistry.viewer", &["artifactregistry.repositories.get"],
        "roles/artifactregistry.admin", &["artifactregistry.repositories.create", "artifactregistry.repositories.update", "artifactregistry.repositories.delete", "artifactregistry.repositories.setIamPolicy"]),
    area("bigquery.googleapis.com", "roles/bigquery.metadataViewer", &["bigquery.datasets.get", "bigquery.tables.get"],
        "roles/bigquery.admin", &["bigquery.datasets.create", "bigquery.datasets.update", "bigquery.datasets.delete", "bigquery.datasets.setIamPolicy"]),
    // Triggers are guarded by `cloudbuild.builds.*`; connections and repositories by their own.
    area("cloudbuild.googleapis.com", "roles/cloudbuild.viewer", &["cloudbuild.builds.get", "cloudbuild.connections.get", "cloudbuild.repositories.get"],
        "roles/cloudbuild.editor", &["cloudbuild.builds.create", "cloudbuild.builds.update", "cloudbuild.connections.create", "cloudbuild.connections.update", "cloudbuild.connections.delete", "cloudbuild.repositories.create", "cloudbuild.repositories.delete"]),
    area("cloudfunctions.googleapis.com", "roles/cloudfunctions.viewer", &["cloudfunctions.functions.get"],
        "roles/cloudfunctions.admin", &["cloudfunctions.functions.create", "cloudfunctions.functions.update", "cloudfunctions.functions.delete", "cloudfunctions.functions.setIamPolicy"]),
    area("composer.googleapis.com", "roles/composer.viewer", &["composer.environments.get"],
        "roles/composer.admin", &["composer.environments.create", "composer.environments.update", "composer.environments.delete"]),
    area("eventarc.googleapis.com", "roles/eventarc.viewer", &["eventarc.triggers.get"],
        "roles/eventarc.admin", &["eventarc.triggers.create", "eventarc.triggers.update", "eventarc.triggers.delete"]),
    area("iam.googleapis.com", "roles/iam.serviceAccountViewer", &["iam.serviceAccounts.get"],
        "roles/iam.serviceAccountAdmin", &["iam.serviceAccounts.create", "iam.serviceAccounts.update", "iam.serviceAccounts.delete", "iam.serviceAccounts.setIamPolicy"]),
    area("monitoring.googleapis.com", "roles/monitoring.viewer", &["monitoring.alertPolicies.get", "monitoring.notificationChannels.get"],
        "roles/monitoring.editor", &["monitoring.alertPolicies.create", "monitoring.alertPolicies.update", "monitoring.alertPolicies.delete", "monitoring.notificationChannels.create", "monitoring.notificationChannels.update", "monitoring.notificationChannels.delete"]),
    area("pubsub.googleapis.com", "roles/pubsub.viewer", &["pubsub.topics.get"],
        "roles/pubsub.admin", &["pubsub.topics.create", "pubsub.topics.update", "pubsub.topics.delete", "pubsub.topics.setIamPolicy"]),
    area("run.googleapis.com", "roles/run.viewer", &["run.services.get"],
        "roles/run.admin", &["run.services.create", "run.services.update", "run.services.delete", "run.services.setIamPolicy"]),
    area("secretmanager.googleapis.com", "roles/secretmanager.viewer", &["secretmanager.secrets.get"],
        "roles/secretmanager.admin", &["secretmanager.secrets.create", "secretmanager.secrets.update", "secretmanager.secrets.delete", "secretmanager.secrets.setIamPolicy"]),
    area("storage.googleapis.com", "roles/storage.bucketViewer", &["storage.buckets.get"],
        "roles/storage.admin", &["storage.buckets.create", "storage.buckets.update", "storage.buckets.delete", "storage.buckets.setIamPolicy"]),
];

/// `google_project_service`: every module enables its APIs.
const SERVICE_USAGE: Area = area("service usage", "roles/serviceusage.serviceUsageViewer", &["serviceusage.services.get", "serviceusage.services.list"],
    "roles/serviceusage.serviceUsageAdmin", &["serviceusage.services.enable", "serviceusage.services.disable"]);

/// The IAM policies of the project and of the resources `iam.tf` binds roles on: reading them all
/// is `roles/iam.securityReviewer`; changing the project's is `projectIamAdmin` (resource-level
/// policies are in each API's admin role above).
const IAM_POLICIES: Area = area(
    "IAM policies",
    "roles/iam.securityReviewer",
    &["resourcemanager.projects.getIamPolicy", "iam.serviceAccounts.getIamPolicy", "storage.buckets.getIamPolicy", "artifactregistry.repositories.getIamPolicy"],
    "roles/resourcemanager.projectIamAdmin",
    &["resourcemanager.projects.getIamPolicy", "resourcemanager.projects.setIamPolicy"],
);

/// `google_project_iam_custom_role`. Held whether or not the module has one yet: the apply SA
/// cannot use a role in the apply that grants it (IAM takes minutes to propagate,
/// <https://cloud.google.com/iam/docs/access-change-propagation>), so the change that brings the
/// first custom role (an endpoint's first caller, a deploy that only prunes schedules) would fail
/// its apply; the apply SA can change the project's IAM policy anyway.
const CUSTOM_ROLES: Area =
    area("custom roles", "roles/iam.roleViewer", &["iam.roles.get"], "roles/iam.roleAdmin", &["iam.roles.create", "iam.roles.update", "iam.roles.delete"]);

/// The areas of this model's module.
pub fn areas(m: &Model) -> Vec<&'static Area> {
    let mut out: Vec<&'static Area> = BY_API.iter().filter(|a| m.apis.contains(&a.name)).collect();
    out.extend([&SERVICE_USAGE, &IAM_POLICIES, &CUSTOM_ROLES]);
    out
}

/// An area by name (the proof's permission table looks acts up by it).
pub fn by_name(name: &str) -> Option<&'static Area> {
    BY_API.iter().chain([&SERVICE_USAGE, &IAM_POLICIES, &CUSTOM_ROLES]).find(|a| a.name == name)
}

/// The service accounts resources of the module run as, which applying them needs actAs on:
/// Cloud Build triggers (the CI identities), Cloud Run services, functions and Composer
/// (<https://cloud.google.com/iam/docs/service-accounts-actas>).
pub fn runs_as(m: &Model) -> Vec<SaRole> {
    let mut out = Vec::new();
    if m.ci.is_some() {
        out.extend([SaRole::Ci, SaRole::Checks]);
        if m.environments.len() > 1 {
            out.push(SaRole::Promote);
        }
    }
    if !m.services.is_empty() {
        out.push(SaRole::Serving);
    }
    if !m.functions.is_empty() {
        out.push(SaRole::Functions);
    }
    if m.composer.is_some() {
        out.push(SaRole::Composer);
    }
    out
}

/// The secrets whose values Terraform reads while planning (notification channels' credentials,
/// `google_secret_manager_secret_version_access` data sources, read on every plan).
pub fn secrets_read(m: &Model) -> Vec<&str> {
    let mut out: Vec<&str> = m.monitoring.channels.iter().filter_map(|c| c.secret.as_deref()).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the model's Cloud Build plans (`ci.terraform.plan`) and applies (`ci.terraform.apply`).
pub fn plans(m: &Model) -> bool {
    m.ci.as_ref().is_some_and(|c| c.plan)
}

/// See [`plans`].
pub fn applies(m: &Model) -> bool {
    m.ci.as_ref().is_some_and(|c| c.apply)
}

/// Whether releases apply a reviewed plan: a `review` build in the environment a release comes
/// from plans the next environment as that environment's plan SA and publishes the plan in its
/// state bucket; the release build applies exactly that file (`cloudbuild::terraform`).
pub fn reviews(m: &Model) -> bool {
    plans(m) && applies(m) && m.environments.len() > 1
}
