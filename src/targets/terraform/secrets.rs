//! `secrets.tf`: the Secret Manager secrets of `secrets` that Terraform creates.
//!
//! Only the secret (its name, replication, IAM) is managed: no `google_secret_manager_secret_version`
//! is ever generated, so no secret value reaches the spec, this module or its state; the owner adds
//! versions with `gcloud secrets versions add`. `existing: true` secrets are only read (a data
//! source), for the accessor grants in `iam.tf`. Resource reference:
//! https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/secret_manager_secret;
//! replication: https://cloud.google.com/secret-manager/docs/choosing-replication.

use super::depends_on_apis;
use super::monitoring;
use super::syntax::{block, call, data, ident, list, r, resource, ri, s, var, BlockExt, Item, TfFile};
use crate::model::iam::{Agent, Member, Scope};
use crate::model::{Model, Secret};
use hcl::expr::Expression;

/// The file.
pub fn file(m: &Model) -> TfFile {
    let mut f = TfFile::new();
    for secret in &m.secrets {
        if secret.existing {
            f.push(existing(m, secret));
        } else {
            for i in item(m, secret) {
                f.push(i);
            }
        }
    }
    f
}

/// An `existing` secret is read as a data source, so a plan fails at once, naming it, where it
/// is missing (its grants and the services taking it would fail later otherwise).
fn existing(m: &Model, secret: &Secret) -> Item {
    let b = data("google_secret_manager_secret", &ident(&secret.id))
        .attr("secret_id", s(&secret.id))
        .attr("depends_on", depends_on_apis(m, &["secretmanager.googleapis.com"]));
    Item::from(b)
        .note(format!("secrets.{}: existing (created and owned outside this module; it must exist in every", secret.id))
        .note(format!("environment's project before the plan). {}", readers(m, secret)))
}

/// Which identities read it (from the derived grants).
fn readers(m: &Model, secret: &Secret) -> String {
    let mut who: Vec<String> = m
        .grants
        .iter()
        .filter(|g| g.scope == Scope::Secret(secret.id.clone()))
        .map(|g| format!("the {} identity", g.member.as_str()))
        .collect();
    who.dedup();
    if who.is_empty() {
        "Nothing reads it.".to_owned()
    } else {
        format!("Read (secretAccessor on this secret only) by {}.", who.join(", "))
    }
}

/// `google_secret_manager_secret.<id>.secret_id` for a created secret, the data source's for an
/// existing one (so what uses a secret waits for it), the id itself for one outside `secrets`.
pub fn secret_id(m: &Model, id: &str) -> Expression {
    match m.secrets.iter().find(|s| s.id == id) {
        Some(sec) if sec.existing => r(&["data", "google_secret_manager_secret", &ident(id), "secret_id"]),
        Some(_) => r(&["google_secret_manager_secret", &ident(id), "secret_id"]),
        None => s(id),
    }
}

fn item(m: &Model, secret: &Secret) -> Vec<Item> {
    let replication = if secret.locations.is_empty() {
        block("replication").add_block(block("auto").build())
    } else {
        let mut managed = block("user_managed");
        for loc in &secret.locations {
            managed = managed.add_block(block("replicas").attr("location", s(loc)).build());
        }
        block("replication").add_block(managed.build())
    };
    let mut b = resource("google_secret_manager_secret", &ident(&secret.id))
        .attr("secret_id", s(&secret.id))
        .attr("labels", var("labels"))
        .add_block(replication.build())
        .attr("deletion_protection", var("deletion_protection"));
    let mut depends = vec![super::api("secretmanager.googleapis.com")];
    if let Some(rot) = &secret.rotation {
        // The first notification is one period after creation; Secret Manager then moves
        // next_rotation_time itself, so Terraform sets it only when it creates the secret.
        let period = format!("{}s", rot.period_seconds);
        let next = call("timeadd", vec![call("timestamp", vec![]), s(&period)]);
        b = b
            .add_block(block("topics").attr("name", r(&["google_pubsub_topic", &monitoring::topic(&rot.topic), "id"])).build())
            .add_block(block("rotation").attr("rotation_period", s(&period)).attr("next_rotation_time", next).build())
            .add_block(block("lifecycle").attr("ignore_changes", list([ri(&["rotation[0]", "next_rotation_time"])])).build());
        // Secret Manager checks that its agent may publish to the topic when the secret is saved.
        depends.extend(m.grants.iter().filter(|g| g.member == Member::Agent(Agent::SecretManager) && g.scope == Scope::Topic(rot.topic.clone())).map(|g| {
            let (ty, name) = super::iam::address(g);
            r(&[ty, &name])
        }));
    }
    let b = b.attr("depends_on", list(depends));
    let rotation = secret.rotation.as_ref().map(|rot| {
        let topic = resource("google_pubsub_topic", &monitoring::topic(&rot.topic))
            .attr("name", s(&rot.topic))
            .attr("labels", var("labels"))
            .attr("depends_on", depends_on_apis(m, &["pubsub.googleapis.com"]));
        Item::from(topic)
            .note(format!("secrets.{}.rotation: Secret Manager publishes SECRET_ROTATE here every {} days; the", secret.id, rot.period_seconds / 86_400))
            .note("team's rotator subscribes and adds a new version (https://cloud.google.com/secret-manager/docs/secret-rotation).")
            .skip("CKV_GCP_83", "rotation notifications carry the secret's name, not its value; Google-managed encryption")
    });
    let replicated = if secret.locations.is_empty() { "automatic replication".to_owned() } else { format!("replicated to {}", secret.locations.join(", ")) };
    let item = Item::from(b)
        .note(format!("secrets.{}: created empty ({replicated}); add its value with", secret.id))
        .note(format!("  gcloud secrets versions add {} --data-file=- --project=<project>", secret.id))
        .note(readers(m, secret));
    rotation.into_iter().chain([item]).collect()
}
