//! The Dockerfile target: `docker/<image>/Dockerfile` and `Dockerfile.dockerignore` per image.
//!
//! The Dockerfile lives in the output directory while the build context is the image's
//! `context` folder (CD runs `docker build --file <Dockerfile> <context>`), so `COPY` paths are
//! relative to the context, and the ignore file is the BuildKit per-Dockerfile one
//! (`<Dockerfile>.dockerignore`, which BuildKit prefers to the context's own `.dockerignore`).
//!
//! Images are multi-stage when they install requirements (a virtualenv built in a
//! `dependencies` stage and copied into the runtime stage), run as a non-root user, pin their
//! base by tag (and digest when given), and carry OCI labels; serving images declare the Vertex
//! AI serving contract (`AIP_HTTP_PORT`, `AIP_HEALTH_ROUTE`, `AIP_PREDICT_ROUTE`) and a
//! `HEALTHCHECK`. The templates in `templates/docker/` only print this module's view-model.

mod render;

use crate::model::{paths, Image, Model};
use crate::output::Emitter;
use crate::targets::{Shard, TargetError};
use serde::Serialize;
use std::sync::OnceLock;

/// The non-root user (and group) id images run as.
const APP_UID: u32 = 10001;

/// The templates, by name; the first two are rendered into each image's folder under their names.
const TEMPLATES: [(&str, &str); 3] = [
    ("Dockerfile", include_str!("../../../templates/docker/Dockerfile.j2")),
    ("Dockerfile.dockerignore", include_str!("../../../templates/docker/Dockerfile.dockerignore.j2")),
    ("system-packages", include_str!("../../../templates/docker/system-packages.j2")),
];

/// Emits each image's Dockerfile and ignore file.
pub fn emit(model: &Model, out: &mut dyn Emitter, _all: Shard) -> Result<(), TargetError> {
    let fail = |e: minijinja::Error| TargetError::Failed { target: "docker", message: format!("{e:#}") };
    for image in &model.images {
        let dockerfile = paths::dockerfile(&image.key);
        let mut view = None; // made at the first render, shared by the image's two files
        for (name, path) in
            [("Dockerfile", dockerfile.clone()), ("Dockerfile.dockerignore", format!("{dockerfile}.dockerignore"))]
        {
            out.insert_with(path, || {
                let env = templates().map_err(|message| TargetError::Failed { target: "docker", message: message.clone() })?;
                let view = view.get_or_insert_with(|| DockerfileView::new(model, image));
                env.get_template(name).and_then(|t| t.render(&*view)).map_err(fail)
            })?;
        }
    }
    Ok(())
}

/// The environment that loads [`TEMPLATES`], made once per process (the checks before any target
/// runs emit this target again for each environment's view); each template is compiled when
/// first rendered.
fn templates() -> Result<&'static minijinja::Environment<'static>, &'static String> {
    static ENVIRONMENT: OnceLock<Result<minijinja::Environment<'static>, String>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| render::environment(&TEMPLATES).map_err(|e| format!("{e:#}"))).as_ref()
}

/// What the Dockerfile template prints for one image.
#[derive(Debug, Serialize)]
struct DockerfileView<'m> {
    /// OCI labels besides the revision (which the template takes from the build argument).
    labels: Vec<Label>,
    /// What `FROM` names: the base, pinned to its digest when one is given.
    from: String,
    /// Requirements file relative to the context; `Some` makes the image multi-stage.
    requirements: Option<&'m str>,
    /// Debian packages.
    system_packages: &'m [String],
    /// Whether any package lacks a `=version` (the Dockerfile then explains its DL3008 ignore).
    unpinned_packages: bool,
    /// Environment variables, sorted by name.
    env: Vec<EnvVar<'m>>,
    /// The serving contract, for serving images.
    serving: Option<ServingView<'m>>,
    /// Exec-form entrypoint.
    entrypoint: &'m [String],
    /// Exec-form default arguments.
    cmd: &'m [String],
    /// Whether it runs tuning trials, which report their metric with cloudml-hypertune (Vertex AI's
    /// hyperparameter tuning docs name the library): it writes the file `CLOUD_ML_HP_METRIC_FILE`
    /// names, which the platform points under `/var/hypertune` (its default is under `/tmp`), and
    /// creates the folder when missing, which only root can do under `/var`
    /// (GoogleCloudPlatform/cloudml-hypertune#6), so the image creates it for its non-root user.
    tuning_trials: bool,
    /// Non-root user id.
    uid: u32,
}

#[derive(Debug, Serialize)]
struct Label {
    key: &'static str,
    value: String,
}

#[derive(Debug, Serialize)]
struct EnvVar<'m> {
    name: &'m str,
    value: &'m str,
}

#[derive(Debug, Serialize)]
struct ServingView<'m> {
    port: u16,
    health_route: &'m str,
    predict_route: &'m str,
    /// Whether the image sets `PORT` to the serving port too (unless its own `env` sets it):
    /// Vertex AI sets only `AIP_HTTP_PORT` (custom container requirements), and servers that
    /// read `PORT` (gunicorn's default bind, `0.0.0.0:$PORT`, and most frameworks) would
    /// otherwise listen elsewhere there, failing the deploy's health checks. Cloud Run sets
    /// `PORT` itself, to the same port (the service's `container_port`).
    port_env: bool,
}

impl<'m> DockerfileView<'m> {
    fn new(model: &'m Model, image: &'m Image) -> Self {
        let mut labels = vec![
            Label { key: "org.opencontainers.image.title", value: image.key.clone() },
            Label { key: "org.opencontainers.image.base.name", value: image.base.clone() },
        ];
        if let Some(ci) = &model.ci {
            let source = format!("https://github.com/{}/{}", ci.owner, ci.repo);
            labels.push(Label { key: "org.opencontainers.image.source", value: source });
        }
        DockerfileView {
            labels,
            from: image.base_ref(),
            requirements: image.requirements.as_deref(),
            system_packages: &image.system_packages,
            unpinned_packages: image.system_packages.iter().any(|p| !p.contains('=')),
            env: image.env.iter().map(|(name, value)| EnvVar { name, value }).collect(),
            serving: image.serving.as_ref().map(|s| ServingView {
                port: s.port,
                health_route: &s.health_route,
                predict_route: &s.predict_route,
                port_env: !image.env.contains_key("PORT"),
            }),
            entrypoint: &image.entrypoint,
            cmd: &image.cmd,
            uid: APP_UID,
            tuning_trials: image.tuning_trials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = templates().unwrap_or_else(|e| panic!("{e}"));
        crate::targets::templates::assert_all_compile(env, &TEMPLATES);
    }

    /// The argument the deploy build passes (`delivery::REVISION_ARG`) is the one the templates read.
    #[test]
    fn template_declares_the_revision_argument() {
        use crate::model::delivery::REVISION_ARG;
        assert!(TEMPLATES[0].1.contains(&format!("ARG {REVISION_ARG}=")));
        assert!(TEMPLATES[0].1.contains(&format!("\"${{{REVISION_ARG}}}\"")));
    }
}
