//! Build script: fingerprints the generator's sources so `build --check` can trust a memo of an
//! earlier compile only when it was made by this exact generator (see `src/output/memo.rs`), and
//! links the binaries position-dependent on Linux ([`link_at_a_fixed_address`]).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let mut paths = Vec::new();
    for dir in ["src", "templates"] {
        println!("cargo:rerun-if-changed={dir}");
        files(Path::new(dir), &mut paths);
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={file}");
        paths.push(PathBuf::from(file));
    }
    paths.sort();
    let mut hasher = DefaultHasher::new();
    for path in &paths {
        path.to_string_lossy().hash(&mut hasher);
        std::fs::read(path).unwrap_or_default().hash(&mut hasher);
    }
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=MLOPSGEN_FINGERPRINT={version}+{:016x}", hasher.finish());
    link_at_a_fixed_address();
}

/// A position-independent executable is relocated by the dynamic loader at every start: some
/// 21,000 relocations written into about 100 pages of `.data.rel.ro` and the GOT, each page a
/// copy-on-write fault (a sixth of the page faults of `validate` on the minimal spec). Linked at a
/// fixed address, those addresses are final in the file. Only the binaries (not tests or benches),
/// and only with the GNU toolchain, whose `cc` takes the last of rustc's `-pie` and this `-no-pie`.
fn link_at_a_fixed_address() {
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-linux-gnu")) {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
