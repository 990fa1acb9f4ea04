//! The up-to-date memo: a no-op `build --check` without recompiling.
//!
//! Compilation is deterministic, so a spec's output is fixed by its text and the generator that
//! compiles it. After a check or build finds an output directory up to date, a memo records the
//! spec's sha256, the generator's fingerprint (a hash of its sources, from `build.rs`) and the
//! sha256 of the manifest then on disk. The next check with the same spec text, generator and
//! manifest only has to confirm that every file still has its recorded hash — the cost of reading
//! the tree. Any mismatch, or any doubt, falls back to the full compile, which gives the same
//! answer with its diagnostics. A spec that reads component files has their paths and hashes in
//! the memo too, and each must still hash the same. Memos live outside the project (`$MLOPSGEN_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/mlopsgen`, else `~/.cache/mlopsgen`), so a check still writes nothing in it.

use super::manifest::{sha256_hex, Manifest};
use super::write::read_existing;
use crate::model::paths::MANIFEST;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// This generator's fingerprint: its version and a hash of its sources.
pub const GENERATOR: &str = env!("MLOPSGEN_FINGERPRINT");

/// Set to any value to ignore and skip memos.
pub const DISABLE_VAR: &str = "MLOPSGEN_NO_MEMO";

/// What one invocation asks about: a spec file (as given, from a working directory) and an
/// optional `--out`.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    /// The spec path as given on the command line.
    pub spec_file: &'a Path,
    /// `--out`, if given.
    pub out_override: Option<&'a Path>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Memo {
    generator: String,
    spec_sha256: String,
    out_dir: PathBuf,
    manifest_sha256: String,
    /// Component files the spec reads: path from the spec's folder, sha256.
    #[serde(default)]
    components: Vec<(String, String)>,
}

/// An output directory found up to date through its memo.
#[derive(Debug)]
pub struct UpToDate {
    /// The output directory, as the compile would have resolved it.
    pub out_dir: PathBuf,
    /// Number of generated files.
    pub files: usize,
}

/// The memo file for `key`, or `None` when memos are disabled or there is no cache directory.
fn memo_path(key: Key) -> Option<PathBuf> {
    if std::env::var_os(DISABLE_VAR).is_some() {
        return None;
    }
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = var("MLOPSGEN_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("mlopsgen")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/mlopsgen")))?;
    let cwd = std::env::current_dir().ok()?;
    let out = key.out_override.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let id = format!("{}\0{}\0{out}", cwd.display(), key.spec_file.display());
    Some(dir.join(format!("check-{}.json", &sha256_hex(id.as_bytes())[..32])))
}

/// Whether the memo proves the output of `spec_text` up to date without compiling.
pub fn check(key: Key, spec_text: &str) -> Option<UpToDate> {
    let memo: Memo = serde_json::from_slice(&std::fs::read(memo_path(key)?).ok()?).ok()?;
    let spec_dir = key.spec_file.parent().unwrap_or(Path::new(""));
    for (path, hash) in &memo.components {
        if sha256_hex(&std::fs::read(spec_dir.join(path)).ok()?) != *hash {
            return None;
        }
    }
    let spec_sha256 = super::manifest::inputs_sha256(&sha256_hex(spec_text.as_bytes()), &memo.components);
    if memo.generator != GENERATOR || memo.spec_sha256 != spec_sha256 {
        return None;
    }
    let manifest_bytes = read_existing(&memo.out_dir, MANIFEST).ok()??;
    if sha256_hex(&manifest_bytes) != memo.manifest_sha256 {
        return None;
    }
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).ok()?;
    if !manifest.pending.is_empty() || manifest.spec_sha256 != spec_sha256 {
        return None;
    }
    for (path, hash) in &manifest.files {
        super::check_path(path).ok()?;
        let bytes = read_existing(&memo.out_dir, path).ok()??;
        if sha256_hex(&bytes) != *hash {
            return None;
        }
    }
    Some(UpToDate { out_dir: memo.out_dir, files: manifest.files.len() })
}

/// Records that `out_dir` is up to date with `spec_sha256` (of the spec and the component files
/// `components` it reads); best effort (a cache that can't be written only costs speed).
pub fn record(key: Key, spec_sha256: &str, components: &[(String, String)], out_dir: &Path) {
    let Some(path) = memo_path(key) else { return };
    let Ok(Some(manifest)) = read_existing(out_dir, MANIFEST) else { return };
    let memo = Memo {
        generator: GENERATOR.to_owned(),
        spec_sha256: spec_sha256.to_owned(),
        out_dir: out_dir.to_owned(),
        manifest_sha256: sha256_hex(&manifest),
        components: components.to_vec(),
    };
    let Some(dir) = path.parent() else { return };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&serde_json::to_vec(&memo).unwrap_or_default())?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    };
    let _ = write();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_fingerprint_names_version_and_sources() {
        let (version, hash) = GENERATOR.split_once('+').unwrap_or_default();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        assert_eq!(hash.len(), 16);
    }
}
