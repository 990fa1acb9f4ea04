//! The Cloud Build config as serde types (the fields of `cloudbuild.yaml` this target writes)
//! and a small builder for steps.

use serde::Serialize;
use std::collections::BTreeMap;

/// Docker, with the Cloud Build worker's registry credentials.
pub const DOCKER: &str = "gcr.io/cloud-builders/docker";
/// The Google Cloud CLI (with curl and bash).
pub const GCLOUD: &str = "gcr.io/google.com/cloudsdktool/google-cloud-cli:slim";
/// Python for the generator's own checks and the pipeline submission.
pub const PYTHON: &str = "python:3.12-slim";
/// The Vertex AI SDK the pipeline submission installs.
pub const AIPLATFORM: &str = "google-cloud-aiplatform==1.165.1";

/// A whole build config. It names no `serviceAccount`: one file serves every environment, and
/// each environment's trigger sets `service_account` to that environment's account, the only
/// identity a triggered build runs as (a file naming one account would name the first
/// environment's everywhere). A user-specified account needs `options.logging`
/// ([`Options::standard`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    /// Steps.
    pub steps: Vec<Step>,
    /// Build timeout, e.g. `3600s`.
    pub timeout: String,
    /// Images pushed by the build (Cloud Build records their digests as provenance).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Options.
    pub options: Options,
    /// Substitutions the file uses, with the default environment's values.
    pub substitutions: BTreeMap<String, String>,
    /// Build tags (for filtering builds and alerts).
    pub tags: Vec<String>,
}

/// Build options.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// `CLOUD_LOGGING_ONLY`: required with a user-managed service account.
    pub logging: &'static str,
    /// Worker machine type.
    pub machine_type: &'static str,
    /// `ALLOW_LOOSE`: triggers pass every environment value, not only those a file uses.
    pub substitution_option: &'static str,
}

impl Options {
    /// The options every generated build uses.
    pub fn standard() -> Self {
        Options { logging: "CLOUD_LOGGING_ONLY", machine_type: "E2_HIGHCPU_8", substitution_option: "ALLOW_LOOSE" }
    }
}

/// One build step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Step id (what `waitFor` names).
    pub id: String,
    /// Builder image.
    pub name: String,
    /// Entrypoint override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// Arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory relative to `/workspace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// `KEY=value` environment entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Volumes shared with the other steps that mount the same name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Step ids this step waits for (`-` = start with the build).
    pub wait_for: Vec<String>,
    /// Step timeout, e.g. `600s`.
    pub timeout: String,
    /// Exit codes with which the step shows as failed but the build goes on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_exit_codes: Vec<i32>,
}

/// A volume steps share (outside `/workspace`, so nothing lands in the checkout).
#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    /// Name; steps mounting the same name share it.
    pub name: String,
    /// Mount path.
    pub path: String,
}

impl Step {
    /// A step running `name`'s default entrypoint; it starts with the build and times out after
    /// ten minutes until told otherwise.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Step {
            id: id.into(),
            name: name.into(),
            entrypoint: None,
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            volumes: Vec::new(),
            wait_for: vec!["-".to_owned()],
            timeout: "600s".to_owned(),
            allow_exit_codes: Vec::new(),
        }
    }

    /// Sets the entrypoint.
    pub fn entrypoint(mut self, entrypoint: &str) -> Self {
        self.entrypoint = Some(entrypoint.to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the working directory.
    pub fn dir(mut self, dir: String) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<str>) -> Self {
        self.env.push(format!("{key}={}", value.as_ref()));
        self
    }

    /// Mounts the volume `name` at `path`.
    pub fn volume(mut self, name: &str, path: &str) -> Self {
        self.volumes.push(Volume { name: name.to_owned(), path: path.to_owned() });
        self
    }

    /// Waits for these steps (none: start with the build).
    pub fn after(mut self, ids: &[String]) -> Self {
        self.wait_for = if ids.is_empty() { vec!["-".to_owned()] } else { ids.to_vec() };
        self
    }

    /// Sets the timeout in seconds.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout = format!("{seconds}s");
        self
    }
}

/// A path argument that can't be mistaken for a flag.
pub fn path_arg(path: String) -> String {
    if path.starts_with('-') {
        format!("./{path}")
    } else {
        path
    }
}
