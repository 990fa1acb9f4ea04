//! Owned output on disk: plan what a build would change, then apply it safely.
//!
//! Rules: a file whose bytes don't match the manifest was edited by hand and is never
//! overwritten without `--force`; a file mlopsgen never wrote is never touched (an unmanaged file
//! in the way is a conflict); an orphan is deleted only if unmodified. Writes go through a temp
//! file and a rename under an exclusive lock on `.mlopsgen/`, and the manifest lists pending
//! hashes while files change, so a killed build leaves every file old or new and a rerun
//! converges. No path may leave the output directory or pass through a symlink.

use super::manifest::{sha256_hex, Manifest, FORMAT};
use super::{check_path, OutputSet, PathError};
use crate::model::paths::MANIFEST;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Errors while reading or writing the output directory.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A path component inside the output directory is a symlink.
    #[error("{0}: refusing to follow a symlink inside the output directory")]
    Symlink(PathBuf),
    /// The manifest can't be parsed.
    #[error("{path}: unreadable manifest ({reason}); delete it to let mlopsgen take ownership again")]
    BadManifest {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A manifest entry is not a safe relative path.
    #[error("manifest entry rejected: {0}")]
    Path(#[from] PathError),
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io { path: path.to_owned(), source }
}

/// What happens to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Created.
    Add,
    /// Rewritten.
    Change,
    /// Deleted (an unmodified orphan).
    Remove,
    /// Left as is (already up to date).
    Unchanged,
}

/// Why a file can't be written without `--force`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A managed file whose bytes don't match the manifest.
    HandEdited,
    /// A file mlopsgen never wrote sits where it wants to write.
    Unmanaged,
}

/// One file in a plan.
#[derive(Debug, Clone)]
pub struct FileChange<'a> {
    /// Path relative to the output directory.
    pub path: String,
    /// What happens.
    pub action: Action,
    /// Current contents (lossy UTF-8) if the file exists and differs; `None` for an unchanged
    /// file, whose contents are `new` (so a large tree isn't held twice).
    pub old: Option<String>,
    /// New contents (borrowed from the output set), unless removed.
    pub new: Option<&'a str>,
    /// Set if the change needs `--force`.
    pub conflict: Option<ConflictKind>,
}

/// What a build would do.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Every generated or orphaned file, by path.
    pub files: Vec<FileChange<'a>>,
    /// Modified orphans: no longer generated, edited by hand, so left alone (and unmanaged).
    pub kept: Vec<String>,
    /// The manifest the build writes.
    pub manifest: Manifest,
    /// Whether the manifest on disk differs from it.
    pub manifest_stale: bool,
}

impl<'a> Plan<'a> {
    /// Files that change (added, changed, removed).
    pub fn changes(&self) -> impl Iterator<Item = &FileChange<'a>> {
        self.files.iter().filter(|f| f.action != Action::Unchanged)
    }

    /// Files that need `--force`.
    pub fn conflicts(&self) -> impl Iterator<Item = &FileChange<'a>> {
        self.files.iter().filter(|f| f.conflict.is_some())
    }

    /// Whether the output directory already matches.
    pub fn is_up_to_date(&self) -> bool {
        self.changes().next().is_none() && !self.manifest_stale
    }

    /// Number of files with an action.
    pub fn count(&self, action: Action) -> usize {
        self.files.iter().filter(|f| f.action == action).count()
    }
}

/// Compares the output set with the directory (read-only).
pub fn plan<'a>(out_dir: &Path, set: &'a OutputSet, spec_sha256: &str) -> Result<Plan<'a>, WriteError> {
    let old = read_manifest(out_dir)?;
    let mut files = Vec::new();
    let mut new_hashes = BTreeMap::new();
    for (path, contents) in set.files() {
        new_hashes.insert(path.to_owned(), sha256_hex(contents.as_bytes()));
        let disk = read_existing(out_dir, path)?;
        let (action, conflict) = classify(&old, path, disk.as_deref(), contents.as_bytes());
        files.push(FileChange {
            path: path.to_owned(),
            action,
            old: disk.filter(|_| action != Action::Unchanged).map(lossy_utf8),
            new: Some(contents),
            conflict,
        });
    }
    let (removed, kept) = orphans(out_dir, &old, |p| set.get(p).is_some())?;
    for (path, old_text) in removed {
        files.push(FileChange { path, action: Action::Remove, old: Some(old_text), new: None, conflict: None });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest { format: FORMAT, spec_sha256: spec_sha256.to_owned(), files: new_hashes, pending: BTreeMap::new() };
    let manifest_stale = old != manifest;
    Ok(Plan { files, kept, manifest, manifest_stale })
}

/// What a build does to the generated file `path`, given its bytes on disk (if any) and the
/// manifest on disk.
pub(crate) fn classify(old: &Manifest, path: &str, disk: Option<&[u8]>, new: &[u8]) -> (Action, Option<ConflictKind>) {
    match disk {
        None => (Action::Add, None),
        Some(bytes) if bytes == new => (Action::Unchanged, None),
        Some(bytes) if old.owns_state(path, &sha256_hex(bytes)) => (Action::Change, None),
        Some(_) if old.manages(path) => (Action::Change, Some(ConflictKind::HandEdited)),
        Some(_) => (Action::Change, Some(ConflictKind::Unmanaged)),
    }
}

/// The files the manifest on disk owns that are no longer generated: unmodified ones, with their
/// text, to remove; and those edited by hand, to keep.
pub(crate) type Orphans = (Vec<(String, String)>, Vec<String>);

/// Finds the [`Orphans`] of `old`, given which paths are generated now.
pub(crate) fn orphans(out_dir: &Path, old: &Manifest, generated: impl Fn(&str) -> bool) -> Result<Orphans, WriteError> {
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    for path in old.files.keys().chain(old.pending.keys()).filter(|p| !generated(p)) {
        if !seen.insert(path) {
            continue;
        }
        check_path(path)?;
        let Some(bytes) = read_existing(out_dir, path)? else { continue };
        if old.owns_state(path, &sha256_hex(&bytes)) {
            removed.push((path.clone(), lossy_utf8(bytes)));
        } else {
            kept.push(path.clone());
        }
    }
    Ok((removed, kept))
}

/// Bytes as text, replacing invalid UTF-8 (without copying valid text).
pub(super) fn lossy_utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Reads the manifest; a missing one is empty.
pub fn read_manifest(out_dir: &Path) -> Result<Manifest, WriteError> {
    let path = out_dir.join(MANIFEST);
    let Some(bytes) = read_existing(out_dir, MANIFEST)? else { return Ok(Manifest::default()) };
    serde_json::from_slice(&bytes).map_err(|e| WriteError::BadManifest { path, reason: e.to_string() })
}

/// Reads a file inside `out_dir` if it exists, refusing symlinked components.
pub(crate) fn read_existing(out_dir: &Path, rel: &str) -> Result<Option<Vec<u8>>, WriteError> {
    let full = out_dir.join(rel);
    if !no_symlinks(out_dir, rel)? {
        return Ok(None);
    }
    match std::fs::read(&full) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&full)(e)),
    }
}

/// Walks `rel`'s components under `out_dir`: errors on a symlink; `Ok(false)` if one is missing.
pub(super) fn no_symlinks(out_dir: &Path, rel: &str) -> Result<bool, WriteError> {
    let mut cur = out_dir.to_path_buf();
    for part in rel.split('/') {
        cur.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return Err(WriteError::Symlink(cur)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err(&cur)(e)),
        }
    }
    Ok(true)
}

/// Creates the directories of `rel_dir` under `out_dir`, refusing symlinks.
pub(super) fn ensure_dirs(out_dir: &Path, rel_dir: &str) -> Result<(), WriteError> {
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let mut cur = out_dir.to_path_buf();
    for part in rel_dir.split('/').filter(|p| !p.is_empty()) {
        cur.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return Err(WriteError::Symlink(cur)),
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(io_err(&cur)(io::Error::other("not a directory"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&cur).map_err(io_err(&cur))?,
            Err(e) => return Err(io_err(&cur)(e)),
        }
    }
    Ok(())
}

/// Directories this build has already created or checked (no symlinks), so that writing a
/// thousand files into one folder checks the folder once. A removal forgets them all: it may
/// delete the directories it empties.
#[derive(Debug, Default)]
pub(super) struct Dirs(pub(super) std::collections::HashSet<String>);

/// Writes through a temp file in the same directory and renames it into place.
pub(super) fn write_atomic(out_dir: &Path, rel: &str, bytes: &[u8], dirs: &mut Dirs) -> Result<(), WriteError> {
    check_path(rel)?;
    let parent_rel = rel.rsplit_once('/').map_or("", |(d, _)| d);
    if !dirs.0.contains(parent_rel) {
        ensure_dirs(out_dir, parent_rel)?;
        dirs.0.insert(parent_rel.to_owned());
    }
    let target = out_dir.join(rel);
    if let Ok(m) = std::fs::symlink_metadata(&target) {
        if m.file_type().is_symlink() {
            return Err(WriteError::Symlink(target));
        }
    }
    let dir = out_dir.join(parent_rel);
    let mut tmp = tempfile::Builder::new().prefix(".mlopsgen-").tempfile_in(&dir).map_err(io_err(&dir))?;
    tmp.write_all(bytes).map_err(io_err(&target))?;
    set_mode(tmp.as_file(), rel.ends_with(".sh")).map_err(io_err(&target))?;
    crash_point();
    tmp.persist(&target).map_err(|e| io_err(&target)(e.error))?;
    crash_point();
    Ok(())
}

/// Temp files (`.mlopsgen-*`) left by a build that was killed between writing and renaming.
pub(super) fn remove_stale_temp_files(dir: &Path) -> Result<(), WriteError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            remove_stale_temp_files(&path)?;
        } else if kind.is_file() && entry.file_name().to_string_lossy().starts_with(".mlopsgen-") {
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// Concurrency-test hook: with `MLOPSGEN_FAULT=hold-lock=MS` (debug builds only), a build keeps
/// the lock for MS milliseconds before planning.
pub(super) fn hold_lock_for_tests() {
    if !cfg!(debug_assertions) {
        return;
    }
    let Ok(fault) = std::env::var("MLOPSGEN_FAULT") else { return };
    if let Some(ms) = fault.split(',').find_map(|f| f.strip_prefix("hold-lock=")?.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Crash-test hook: with `MLOPSGEN_FAULT=kill-at=N` (debug builds only), the process aborts at
/// its N-th crash point (before and after every rename and removal), as a SIGKILL would stop it.
pub(super) fn crash_point() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static POINTS: AtomicUsize = AtomicUsize::new(0);
    if !cfg!(debug_assertions) {
        return;
    }
    let Ok(fault) = std::env::var("MLOPSGEN_FAULT") else { return };
    let Some(n) = fault.split(',').find_map(|f| f.strip_prefix("kill-at=")?.parse::<usize>().ok()) else { return };
    if POINTS.fetch_add(1, Ordering::SeqCst) + 1 == n {
        std::process::abort();
    }
}

#[cfg(unix)]
pub(super) fn set_mode(file: &std::fs::File, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))
}

#[cfg(not(unix))]
pub(super) fn set_mode(_file: &std::fs::File, _executable: bool) -> io::Result<()> {
    Ok(())
}

/// Deletes an orphan and then its parent directories while they are empty.
pub(super) fn remove(out_dir: &Path, rel: &str) -> Result<(), WriteError> {
    check_path(rel)?;
    if !no_symlinks(out_dir, rel)? {
        return Ok(());
    }
    let target = out_dir.join(rel);
    crash_point();
    std::fs::remove_file(&target).map_err(io_err(&target))?;
    let mut dir = rel;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        if std::fs::remove_dir(out_dir.join(parent)).is_err() {
            break;
        }
        dir = parent;
    }
    Ok(())
}
