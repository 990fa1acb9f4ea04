//! Streaming builds: each generated file is compared with the output directory as a target emits
//! it and, if it changes, staged to a temp file in `.mlopsgen/`, so a build holds paths and hashes
//! rather than the whole output (a thousand pipelines are 50 MB of text).
//!
//! Under the build's [`lock`], a [`Stager`] receives the files (from every target's thread);
//! [`Stager::finish`] adds the orphans and the new manifest; [`Staged::apply`] then follows the
//! protocol of [`super::write`]: a conflict refuses the build (the staged files are dropped);
//! otherwise a pending manifest, the renames in path order, the removals and the final manifest.
//! `build` stages the files that change, `build --check` and `diff` only compare them ([`Mode`]);
//! an [`Observer`] (the review `build` and `diff` print) is told about every file as it passes.

use super::manifest::{sha256_hex, Manifest, FORMAT};
use super::write::{self, crash_point, io_err, Action, ConflictKind, Dirs, WriteError};
use super::{check_path, FileDiff, OutputSet};
use crate::model::paths::MANIFEST;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The exclusive lock on `.mlopsgen/` a build holds while it stages and writes; released on drop.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] std::fs::File);

/// Takes the build lock of `out_dir` (creating `.mlopsgen/`), calling `on_wait` once if another
/// build holds it, and removes the temp files a killed build left.
pub fn lock(out_dir: &Path, on_wait: impl FnOnce()) -> Result<Lock, WriteError> {
    let meta_dir = out_dir.join(".mlopsgen");
    write::ensure_dirs(out_dir, ".mlopsgen")?;
    let file = std::fs::File::open(&meta_dir).map_err(io_err(&meta_dir))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            on_wait();
            file.lock().map_err(io_err(&meta_dir))?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&meta_dir)(e)),
    }
    write::hold_lock_for_tests();
    write::remove_stale_temp_files(out_dir)?;
    Ok(Lock(file))
}

/// One generated or orphaned file of a streamed build.
#[derive(Debug)]
pub struct Entry {
    /// Path relative to the output directory.
    pub path: String,
    /// What happens.
    pub action: Action,
    /// Set if the change needs `--force`.
    pub conflict: Option<ConflictKind>,
    /// The new contents, staged in `.mlopsgen/` (for added and changed files).
    staged: Option<tempfile::TempPath>,
}

/// What a [`Stager`] does with the files that change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only compare them (`build --check`, `diff`).
    Compare,
    /// Stage them for [`Staged::apply`] (`build`).
    Stage,
}

/// Told about each file a [`Stager`] compares (from any target's thread), e.g. to review it.
pub trait Observer: Sync {
    /// A generated file (`new` is its text) or an orphan (`new` is `None`); `old` is its text on
    /// disk, if any.
    fn file(&self, path: &str, action: Action, old: Option<&str>, new: Option<&str>);
}

/// Receives generated files one by one (see the module docs).
pub struct Stager<'a> {
    out_dir: &'a Path,
    old: Manifest,
    mode: Mode,
    observer: Option<&'a dyn Observer>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Stager<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stager").field("out_dir", &self.out_dir).field("mode", &self.mode).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    files: Vec<Entry>,
    hashes: BTreeMap<String, String>,
    error: Option<WriteError>,
}

impl<'a> Stager<'a> {
    /// A stager comparing files with `out_dir`, telling `observer` about each.
    pub fn new(out_dir: &'a Path, mode: Mode, observer: Option<&'a dyn Observer>) -> Result<Self, WriteError> {
        let old = write::read_manifest(out_dir)?;
        Ok(Stager { out_dir, old, mode, observer, state: Mutex::default() })
    }

    /// Takes one prepared file. The first I/O error is kept for [`Stager::finish`] and every
    /// later file is ignored.
    pub fn file(&self, path: String, text: String) {
        if self.state().error.is_some() {
            return;
        }
        let hash = sha256_hex(text.as_bytes());
        let result = self.compare(&path, &text);
        let mut state = self.state();
        match result {
            Ok(entry) => {
                state.hashes.insert(path, hash);
                state.files.push(entry);
            }
            Err(e) => state.error = state.error.take().or(Some(e)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Classifies, stages and shows the observer one file.
    fn compare(&self, path: &str, text: &str) -> Result<Entry, WriteError> {
        let disk = write::read_existing(self.out_dir, path)?;
        let (action, conflict) = write::classify(&self.old, path, disk.as_deref(), text.as_bytes());
        let staged = match action {
            Action::Add | Action::Change if self.mode == Mode::Stage => Some(stage(self.out_dir, path, text.as_bytes())?),
            _ => None,
        };
        if let Some(observer) = self.observer {
            observer.file(path, action, disk.map(write::lossy_utf8).as_deref(), Some(text));
        }
        Ok(Entry { path: path.to_owned(), action, conflict, staged })
    }

    /// Ends the stream: `generated` is every path the targets emitted. Adds the orphans and the
    /// manifest the build writes.
    pub fn finish(self, generated: &BTreeSet<String>, spec_sha256: &str) -> Result<Staged, WriteError> {
        let State { mut files, hashes, error } = self.state.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = error {
            return Err(e);
        }
        let (removed, kept) = write::orphans(self.out_dir, &self.old, |p| generated.contains(p))?;
        for (path, old_text) in removed {
            if let Some(observer) = self.observer {
                observer.file(&path, Action::Remove, Some(&old_text), None);
            }
            files.push(Entry { path, action: Action::Remove, conflict: None, staged: None });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = Manifest { format: FORMAT, spec_sha256: spec_sha256.to_owned(), files: hashes, pending: BTreeMap::new() };
        let manifest_stale = self.old != manifest;
        let out_dir = self.out_dir.to_path_buf();
        Ok(Staged { out_dir, old: self.old, files, kept, manifest, manifest_stale })
    }
}

/// Writes `bytes` to a temp file in `.mlopsgen/` (with the mode `rel` gets).
fn stage(out_dir: &Path, rel: &str, bytes: &[u8]) -> Result<tempfile::TempPath, WriteError> {
    let dir = out_dir.join(".mlopsgen");
    let mut tmp = tempfile::Builder::new().prefix(".mlopsgen-").tempfile_in(&dir).map_err(io_err(&dir))?;
    tmp.write_all(bytes).map_err(io_err(tmp.path()))?;
    write::set_mode(tmp.as_file(), rel.ends_with(".sh")).map_err(io_err(tmp.path()))?;
    crash_point();
    Ok(tmp.into_temp_path())
}

/// A streamed build, ready to apply.
#[derive(Debug)]
pub struct Staged {
    out_dir: PathBuf,
    old: Manifest,
    /// Every generated or orphaned file, by path.
    pub files: Vec<Entry>,
    /// Modified orphans: no longer generated, edited by hand, so left alone (and unmanaged).
    pub kept: Vec<String>,
    /// The manifest the build writes.
    pub manifest: Manifest,
    /// Whether the manifest on disk differs from it.
    pub manifest_stale: bool,
}

/// The result of [`Staged::apply`].
#[derive(Debug)]
pub enum Outcome {
    /// Written (or already up to date).
    Written(Staged),
    /// Nothing written: these files need `--force`.
    Conflicts(Staged),
}

impl Staged {
    /// Files that change (added, changed, removed).
    pub fn changed(&self) -> impl Iterator<Item = &Entry> {
        self.files.iter().filter(|f| f.action != Action::Unchanged)
    }

    /// Files that need `--force`.
    pub fn conflicts(&self) -> impl Iterator<Item = &Entry> {
        self.files.iter().filter(|f| f.conflict.is_some())
    }

    /// Whether the output directory already matches.
    pub fn is_up_to_date(&self) -> bool {
        self.changed().next().is_none() && !self.manifest_stale
    }

    /// Number of files with an action.
    pub fn count(&self, action: Action) -> usize {
        self.files.iter().filter(|f| f.action == action).count()
    }

    /// The conflicting files as diffs (the text on disk against the staged text).
    pub fn conflict_diffs(&self) -> Vec<FileDiff> {
        let read = |path: &Path| std::fs::read(path).ok().map(write::lossy_utf8);
        self.conflicts()
            .map(|f| FileDiff {
                path: f.path.clone(),
                action: f.action,
                old: read(&self.out_dir.join(&f.path)),
                new: f.staged.as_deref().and_then(read),
            })
            .collect()
    }

    /// Refuses conflicts unless `force`; otherwise writes a pending manifest, renames the staged
    /// files into place, removes orphans and writes the final manifest. Needs the build's lock.
    pub fn apply(mut self, force: bool, _lock: &Lock) -> Result<Outcome, WriteError> {
        if !force && self.conflicts().next().is_some() {
            return Ok(Outcome::Conflicts(self));
        }
        self.write()?;
        Ok(Outcome::Written(self))
    }

    /// The writes of [`Staged::apply`] (none if the directory is up to date).
    fn write(&mut self) -> Result<(), WriteError> {
        if self.is_up_to_date() {
            return Ok(());
        }
        let out_dir = self.out_dir.clone();
        let mut pending = self.old.clone();
        pending.pending =
            self.changed().map(|f| (f.path.clone(), self.manifest.files.get(&f.path).cloned().unwrap_or_default())).collect();
        let mut dirs = Dirs::default();
        write::write_atomic(&out_dir, MANIFEST, pending.to_json().as_bytes(), &mut dirs)?;
        for f in self.files.iter_mut().filter(|f| f.action != Action::Unchanged) {
            match (f.action, f.staged.take()) {
                (Action::Remove, _) => {
                    write::remove(&out_dir, &f.path)?;
                    dirs.0.clear(); // the removal may have deleted emptied directories
                }
                (_, Some(staged)) => persist(&out_dir, &f.path, staged, &mut dirs)?,
                _ => {}
            }
        }
        write::write_atomic(&out_dir, MANIFEST, self.manifest.to_json().as_bytes(), &mut dirs)?;
        crash_point();
        Ok(())
    }
}

/// Renames a staged file to `rel` (copying it through a temp file beside `rel` if the rename
/// crosses file systems).
fn persist(out_dir: &Path, rel: &str, staged: tempfile::TempPath, dirs: &mut Dirs) -> Result<(), WriteError> {
    check_path(rel)?;
    let parent_rel = rel.rsplit_once('/').map_or("", |(d, _)| d);
    if !dirs.0.contains(parent_rel) {
        write::ensure_dirs(out_dir, parent_rel)?;
        dirs.0.insert(parent_rel.to_owned());
    }
    let target = out_dir.join(rel);
    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(WriteError::Symlink(target));
    }
    crash_point();
    match staged.persist(&target) {
        Ok(()) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::CrossesDevices => {
            let bytes = std::fs::read(&e.path).map_err(io_err(&e.path))?;
            return write::write_atomic(out_dir, rel, &bytes, dirs);
        }
        Err(e) => return Err(io_err(&target)(e.error)),
    }
    crash_point();
    Ok(())
}

/// Builds an in-memory output set through the streamed path: locks, stages every file, applies.
pub fn build(out_dir: &Path, set: &OutputSet, spec_sha256: &str, force: bool, on_wait: impl FnOnce()) -> Result<Outcome, WriteError> {
    let lock = lock(out_dir, on_wait)?;
    let stager = Stager::new(out_dir, Mode::Stage, None)?;
    let generated: BTreeSet<String> = set.files().map(|(p, _)| p.to_owned()).collect();
    for (path, text) in set.files() {
        stager.file(path.to_owned(), text.to_owned());
    }
    stager.finish(&generated, spec_sha256)?.apply(force, &lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> OutputSet {
        let mut s = OutputSet::new("spec.yaml");
        for (p, c) in files {
            s.insert(*p, *c).ok();
        }
        s
    }

    fn written(dir: &Path, s: &OutputSet, force: bool) -> Staged {
        match build(dir, s, "hash", force, || {}) {
            Ok(Outcome::Written(p)) => p,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn first_build_adds_then_rebuild_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = set(&[("a/x.json", "1"), ("b.json", "2")]);
        let p = written(dir.path(), &s, false);
        assert_eq!((p.count(Action::Add), p.count(Action::Unchanged)), (2, 0));
        let p = written(dir.path(), &s, false);
        assert_eq!((p.count(Action::Add), p.count(Action::Unchanged)), (0, 2));
        assert!(write::plan(dir.path(), &s, "hash").is_ok_and(|p| p.is_up_to_date()));
    }

    #[test]
    fn hand_edits_and_unmanaged_files_are_conflicts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        written(dir.path(), &set(&[("x.json", "1")]), false);
        std::fs::write(dir.path().join("x.json"), "edited").ok();
        std::fs::write(dir.path().join("y.json"), "mine").ok();
        let s = set(&[("x.json", "2"), ("y.json", "3")]);
        let Ok(Outcome::Conflicts(p)) = build(dir.path(), &s, "hash", false, || {}) else { panic!("no conflict") };
        let kinds: Vec<_> = p.conflicts().map(|f| (f.path.as_str(), f.conflict)).collect();
        assert_eq!(kinds, [("x.json", Some(ConflictKind::HandEdited)), ("y.json", Some(ConflictKind::Unmanaged))]);
        assert_eq!(std::fs::read_to_string(dir.path().join("x.json")).ok().as_deref(), Some("edited"));
        written(dir.path(), &s, true);
        assert_eq!(std::fs::read_to_string(dir.path().join("x.json")).ok().as_deref(), Some("2\n"));
    }

    #[test]
    fn orphans_are_removed_only_when_unmodified() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        written(dir.path(), &set(&[("keep.json", "k"), ("old/a.json", "a"), ("old/b.json", "b")]), false);
        std::fs::write(dir.path().join("old/b.json"), "edited").ok();
        let keep = set(&[("keep.json", "k")]);
        let p = written(dir.path(), &keep, false);
        assert_eq!(p.count(Action::Remove), 1);
        assert_eq!(p.kept, ["old/b.json"]);
        assert!(!dir.path().join("old/a.json").exists());
        assert!(dir.path().join("old/b.json").exists());
        let m = write::read_manifest(dir.path()).unwrap_or_default();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["keep.json"]);
    }

    #[test]
    fn refuses_symlinks_inside_the_output_dir() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outside = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path(), dir.path().join("pipelines")).ok();
        let files = set(&[("pipelines/x.json", "1")]);
        let result = build(dir.path(), &files, "hash", true, || {});
        assert!(matches!(result, Err(WriteError::Symlink(_))), "{result:?}");
        assert_eq!(std::fs::read_dir(outside.path()).map(|d| d.count()).unwrap_or(0), 0);
    }

    #[test]
    fn manifest_entries_that_escape_are_rejected() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join(".mlopsgen")).ok();
        let evil = r#"{"format":1,"spec_sha256":"","files":{"../victim":"00"}}"#;
        std::fs::write(dir.path().join(MANIFEST), evil).ok();
        assert!(matches!(write::plan(dir.path(), &set(&[]), "hash"), Err(WriteError::Path(_))));
    }
}
