//! The list of targets: one [`Target`] implementation per target folder, and [`TARGETS`], the
//! one list everything that runs or reviews targets reads. Adding a target is a folder with an
//! `emit`, a review in `src/review/`, an implementation here and one line in [`TARGETS`].

use super::{airflow, cloudbuild, docker, kubeflow, terraform, validation, Shard, Target, TargetError};
use crate::model::Model;
use crate::output::{Emitter, Files};
use crate::review::{self, Change};
use serde::{Serialize, Serializer};

/// Every target, in the order they run and their changes are reported.
pub static TARGETS: &[&dyn Target] = &[&Terraform, &Kubeflow, &Airflow, &Cloudbuild, &Docker, &Validation];

/// `terraform/`: the project's infrastructure, IAM and CI/CD triggers.
#[derive(Debug)]
struct Terraform;

impl Target for Terraform {
    fn id(&self) -> &'static str {
        "terraform"
    }
    fn title(&self) -> &'static str {
        "Terraform"
    }
    fn dir(&self) -> &'static str {
        "terraform"
    }
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
        terraform::emit(model, out, shard)
    }
    fn per_environment(&self) -> bool {
        true // per-environment literals become variables in env/<env>.tfvars (terraform::per_env)
    }
    fn review(&self, old: &Files, new: &Files) -> Vec<Change> {
        review::terraform::changes(old, new)
    }
    fn reviewed_whole(&self) -> bool {
        true // resources are matched by address across files
    }
}

/// `pipelines/`: a compiled Kubeflow pipeline per pipeline and environment (the largest target,
/// so it runs on two threads).
#[derive(Debug)]
struct Kubeflow;

impl Target for Kubeflow {
    fn id(&self) -> &'static str {
        "kubeflow"
    }
    fn title(&self) -> &'static str {
        "Pipelines"
    }
    fn dir(&self) -> &'static str {
        "pipelines"
    }
    fn shards(&self) -> usize {
        2
    }
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
        kubeflow::emit(model, out, shard)
    }
    fn per_environment(&self) -> bool {
        true
    }
    fn review(&self, old: &Files, new: &Files) -> Vec<Change> {
        review::kubeflow::changes(old, new)
    }
}

/// `dags/`: Airflow DAGs that submit the pipelines.
#[derive(Debug)]
struct Airflow;

impl Target for Airflow {
    fn id(&self) -> &'static str {
        "airflow"
    }
    fn title(&self) -> &'static str {
        "Airflow DAGs"
    }
    fn dir(&self) -> &'static str {
        "dags"
    }
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
        airflow::emit(model, out, shard)
    }
    fn per_environment(&self) -> bool {
        true
    }
    fn review(&self, old: &Files, new: &Files) -> Vec<Change> {
        review::airflow::changes(old, new)
    }
}

/// `cloudbuild/`: the PR, build, release and deploy configs.
#[derive(Debug)]
struct Cloudbuild;

impl Target for Cloudbuild {
    fn id(&self) -> &'static str {
        "cloudbuild"
    }
    fn title(&self) -> &'static str {
        "Cloud Build"
    }
    fn dir(&self) -> &'static str {
        "cloudbuild"
    }
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
        cloudbuild::emit(model, out, shard)
    }
    fn per_environment(&self) -> bool {
        true // one file set from every environment's union, per-environment steps guarded (cloudbuild::only_in)
    }
    fn review(&self, old: &Files, new: &Files) -> Vec<Change> {
        review::cloudbuild::changes(old, new)
    }
}

/// `docker/`: a Dockerfile and build context per image.
#[derive(Debug)]
struct Docker;

impl Target for Docker {
    fn id(&self) -> &'static str {
        "docker"
    }
    fn title(&self) -> &'static str {
        "Dockerfiles"
    }
    fn dir(&self) -> &'static str {
        "docker"
    }
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
        docker::emit(model, out, shard)
    }
    fn review(&self, old: &Files, new: &Files) -> Vec<Change> {
        review::docker::changes(old, new)
    }
}

/// `validation/`: the validator package and its data contracts.
#[derive(Debug)]
struct Validation;

impl Target for Validation {
    fn id(&self) -> &'static str {
        "validation"
    }
    fn title(&self) -> &'static str {
        "Validation"
    }
    fn dir(&self) -> &'static str {
        "validation"
    }
    fn emit(&self, model: &Model, out: &mut dyn Emitter, shard: Shard) -> Result<(), TargetError> {
        validation::emit(model, out, shard)
    }
    fn review(&self, old: &Files, new: &Files) -> Vec<Change> {
        review::validation::changes(old, new)
    }
}

/// A target by its place in [`TARGETS`], or "other" for a path outside every target's folder:
/// what reports group and order files and changes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetRef(pub(super) usize);

impl TargetRef {
    /// Files outside every target's folder.
    pub const OTHER: TargetRef = TargetRef(usize::MAX);

    /// The target a generated path belongs to.
    pub fn of(path: &str) -> TargetRef {
        let dir = path.split('/').next().unwrap_or("");
        TARGETS.iter().position(|t| t.dir() == dir).map_or(TargetRef::OTHER, TargetRef)
    }

    /// The target with this id (see [`Target::id`]).
    pub fn of_id(id: &str) -> TargetRef {
        TARGETS.iter().position(|t| t.id() == id).map_or(TargetRef::OTHER, TargetRef)
    }

    /// The target, unless "other".
    pub fn target(self) -> Option<&'static dyn Target> {
        TARGETS.get(self.0).copied()
    }

    /// Its id (`other` for files outside every target).
    pub fn id(self) -> &'static str {
        self.target().map_or("other", |t| t.id())
    }

    /// Its name in reports.
    pub fn title(self) -> &'static str {
        self.target().map_or("Other files", |t| t.title())
    }
}

impl Serialize for TargetRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_and_folders_are_unique_and_paths_find_their_target() {
        let ids: BTreeSet<_> = TARGETS.iter().map(|t| t.id()).collect();
        let dirs: BTreeSet<_> = TARGETS.iter().map(|t| t.dir()).collect();
        assert_eq!((ids.len(), dirs.len()), (TARGETS.len(), TARGETS.len()));
        for t in TARGETS {
            let found = TargetRef::of(&format!("{}/x", t.dir()));
            assert_eq!((found.id(), TargetRef::of_id(t.id())), (t.id(), found));
        }
        assert_eq!(TargetRef::of("README.md"), TargetRef::OTHER);
        assert!(TargetRef::OTHER > TargetRef::of_id("validation"), "other files are reported last");
    }
}
