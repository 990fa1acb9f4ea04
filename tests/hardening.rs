//! Nothing lost: builds killed at every write point, concurrent builds, oversized and hostile
//! YAML, and symlinks inside the output directory.

use assert_cmd::Command;
use mlopsgen::output::manifest::{sha256_hex, Manifest};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MINIMAL: &str = include_str!("../specs/minimal.yaml");

/// The minimal spec writing to `out/`.
fn spec_a() -> String {
    format!(
        "{}  extra:\n    steps:\n      only:\n        kind: container\n        image: job\n        args: [extra]\n",
        MINIMAL.replace("output: ../generated/minimal", "output: out")
    )
}

/// A different spec: one default changed, one pipeline removed, one added.
fn spec_b() -> String {
    spec_a().replace("default: hello", "default: bonjour").replace("  extra:\n", "  another:\n")
}

fn mlopsgen(dir: &Path, args: &[&str], fault: Option<&str>) -> std::process::Output {
    let mut cmd = Command::cargo_bin("mlopsgen").unwrap_or_else(|e| panic!("{e}"));
    cmd.current_dir(dir).args(args).env("NO_COLOR", "1").env_remove("MLOPSGEN_FAULT");
    if let Some(f) = fault {
        cmd.env("MLOPSGEN_FAULT", f);
    }
    cmd.output().unwrap_or_else(|e| panic!("{e}"))
}

type Tree = BTreeMap<String, Vec<u8>>;

fn tree(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.insert(path.strip_prefix(root).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn built(spec: &str) -> (tempfile::TempDir, Tree) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("mlops.yaml"), spec).ok();
    // The flagship's `component` step reads a file next to the spec.
    std::fs::create_dir_all(dir.path().join("components/profile")).ok();
    std::fs::write(dir.path().join("components/profile/component.yaml"), PROFILE_COMPONENT).ok();
    assert!(mlopsgen(dir.path(), &["build"], None).status.success());
    let t = tree(&dir.path().join("out"));
    (dir, t)
}

const FLAGSHIP: &str = include_str!("../specs/flagship.yaml");
const PROFILE_COMPONENT: &str = include_str!("../specs/components/profile/component.yaml");

/// The flagship writing to `out/`.
fn flagship_a() -> String {
    FLAGSHIP.replace("output: ../generated/flagship", "output: out")
}

/// The flagship changed: the project renamed (so nearly every file is rewritten), a default
/// edited, the `scoring` pipeline (and its DAGs) removed, so the build rewrites and deletes files.
fn flagship_b() -> String {
    let text = flagship_a()
        .replace("project:\n  name: churn\n", "project:\n  name: chorn\n")
        .replace("default: 0.05", "default: 0.07")
        .replace("Validate the customer table, tune", "Validate, tune");
    let start = text.find("  scoring:\n").unwrap_or_else(|| panic!("no scoring pipeline"));
    let end = text.find("\nmodels:").unwrap_or_else(|| panic!("no models"));
    format!("{}{}", &text[..start], &text[end + 1..])
}

/// Spec A built, then a build of spec B killed at its `n`th write point: checks every file is
/// A's or B's version, the manifest claims no hash a file lacks, a rerun converges, and the
/// unmanaged file and the hand-edited orphan are intact. `false` when the build ran to the end
/// (n is past the last write point).
fn kill_trial(a: &str, b: &str, tree_a: &Tree, tree_b: &Tree, orphan: &str, n: usize) -> bool {
    let (dir, _) = built(a);
    let out = dir.path().join("out");
    std::fs::write(out.join("UNMANAGED.txt"), "mine").ok();
    std::fs::write(out.join(orphan), "edited orphan").ok();
    std::fs::write(dir.path().join("mlops.yaml"), b).ok();
    let killed = mlopsgen(dir.path(), &["build"], Some(&format!("kill-at={n}")));
    if killed.status.success() {
        return false;
    }
    assert_eq!(killed.status.code(), None, "kill-at={n}: expected death by signal: {killed:?}");

    let now = tree(&out);
    for (path, bytes) in &now {
        if path.contains(".mlopsgen-") || path == "UNMANAGED.txt" || path == orphan || path.ends_with("manifest.json") {
            continue;
        }
        assert!(
            tree_a.get(path) == Some(bytes) || tree_b.get(path) == Some(bytes),
            "kill-at={n}: {path} is neither the old nor the new version"
        );
    }
    let manifest: Manifest = serde_json::from_slice(&now[".mlopsgen/manifest.json"]).unwrap_or_else(|e| panic!("kill-at={n}: {e}"));
    for path in manifest.files.keys() {
        let hash = now.get(path).map(|b| sha256_hex(b));
        let claimed = manifest.files.get(path).cloned();
        let pending = manifest.pending.get(path).cloned();
        let ok = match &hash {
            Some(h) => claimed.as_ref() == Some(h) || pending.as_ref() == Some(h) || path == orphan,
            None => pending.as_deref() == Some(""),
        };
        assert!(ok, "kill-at={n}: manifest claims {path} = {claimed:?} (pending {pending:?}) but disk has {hash:?}");
    }

    let rerun = mlopsgen(dir.path(), &["build"], None);
    assert!(rerun.status.success(), "kill-at={n}: rerun failed: {}", String::from_utf8_lossy(&rerun.stderr));
    assert!(mlopsgen(dir.path(), &["build", "--check"], None).status.success(), "kill-at={n}: not converged");
    let after = tree(&out);
    assert_eq!(after.get("UNMANAGED.txt").map(Vec::as_slice), Some(&b"mine"[..]), "kill-at={n}: unmanaged file touched");
    assert_eq!(after.get(orphan).map(Vec::as_slice), Some(&b"edited orphan"[..]), "kill-at={n}: hand-edited orphan lost");
    let generated: BTreeSet<_> = after.keys().filter(|k| *k != "UNMANAGED.txt" && *k != orphan).collect();
    assert_eq!(generated, tree_b.keys().collect::<BTreeSet<_>>(), "kill-at={n}: stray or missing files");
    true
}

#[test]
fn killed_builds_leave_old_or_new_files_and_a_rerun_converges() {
    let (_a, tree_a) = built(&spec_a());
    let (_b, tree_b) = built(&spec_b());
    let orphan = tree_a.keys().find(|k| k.contains("extra")).cloned().unwrap_or_else(|| panic!("no orphan candidate"));
    let mut points = 0;
    for n in 1..500 {
        if !kill_trial(&spec_a(), &spec_b(), &tree_a, &tree_b, &orphan, n) {
            break; // n is past the last crash point
        }
        points = n;
    }
    assert!(points >= 10, "only {points} crash points were exercised");
    eprintln!("crash points exercised: {points}");
}

/// The flagship's build has many more write points: find how many (binary search on where a
/// kill stops landing), then kill at 32 of them spread evenly from the first to the last.
#[test]
fn killed_flagship_builds_leave_old_or_new_files_and_a_rerun_converges() {
    let (a, b) = (flagship_a(), flagship_b());
    let (_a, tree_a) = built(&a);
    let (_b, tree_b) = built(&b);
    let orphan = tree_a.keys().find(|k| k.contains("scoring") && !tree_b.contains_key(*k)).cloned().unwrap_or_else(|| panic!("no orphan"));
    let lands = |n: usize| {
        let (dir, _) = built(&a);
        std::fs::write(dir.path().join("out").join(&orphan), "edited orphan").ok();
        std::fs::write(dir.path().join("mlops.yaml"), &b).ok();
        !mlopsgen(dir.path(), &["build"], Some(&format!("kill-at={n}"))).status.success()
    };
    let (mut lo, mut hi) = (1, 2); // lands(lo), and !lands(hi) once found
    while lands(hi) {
        lo = hi;
        hi *= 2;
        assert!(hi < 100_000, "kill-at never stops landing");
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if lands(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let total = lo;
    let samples: BTreeSet<usize> = (0..32).map(|i| 1 + i * (total - 1) / 31).collect();
    for &n in &samples {
        assert!(kill_trial(&a, &b, &tree_a, &tree_b, &orphan, n), "kill-at={n} did not land (total {total})");
    }
    assert!(samples.len() >= 30, "only {} distinct kill points in {total}", samples.len());
    eprintln!("flagship: {total} write points, killed at {} of them: {samples:?}", samples.len());
}

#[test]
fn concurrent_builds_wait_for_each_other_and_leave_consistent_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("mlops.yaml"), spec_a()).ok();
    for trial in 0..3 {
        let spec = if trial % 2 == 0 { spec_b() } else { spec_a() };
        std::fs::write(dir.path().join("mlops.yaml"), &spec).ok();
        let path = dir.path().to_path_buf();
        let first = std::thread::spawn(move || mlopsgen(&path, &["build"], Some("hold-lock=1500")));
        std::thread::sleep(std::time::Duration::from_millis(400));
        let second = mlopsgen(dir.path(), &["build"], None);
        let first = first.join().unwrap_or_else(|_| panic!("thread panicked"));
        assert!(first.status.success() && second.status.success(), "trial {trial}: {first:?} {second:?}");
        assert!(
            String::from_utf8_lossy(&second.stderr).contains("waiting for another mlopsgen build"),
            "trial {trial}: the second build did not wait: {second:?}"
        );
        assert!(mlopsgen(dir.path(), &["build", "--check"], None).status.success(), "trial {trial}: inconsistent output");
    }
}

#[test]
fn oversized_deep_and_huge_specs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("big.yaml", format!("version: 1\n# {}\n", "x".repeat(5 * 1024 * 1024)), "E003"),
        ("deep.yaml", format!("version: 1\nx: {}{}\n", "[".repeat(100), "]".repeat(100)), "E003"),
        ("wide.yaml", format!("version: 1\nx: [{}]\n", vec!["1"; 250_000].join(",")), "E003"),
    ];
    for (name, text, code) in cases {
        std::fs::write(dir.path().join(name), text).ok();
        let out = mlopsgen(dir.path(), &["validate", name], None);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(code), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn thousands_of_entities_validate() {
    let mut spec = spec_a();
    spec.push_str("datasets:\n");
    for i in 0..2000 {
        spec.push_str(&format!("  d{i}:\n    source: bq://ds.t{i}\n    columns: {{c: {{type: int, min: 0}}}}\n"));
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("mlops.yaml"), spec).ok();
    let out = mlopsgen(dir.path(), &["validate"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[cfg(unix)]
#[test]
fn symlinks_inside_the_output_dir_are_never_followed() {
    let (dir, _) = built(&spec_a());
    let outside = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");
    let victim = tree(&out).into_keys().find(|k| k.contains('/') && !k.starts_with(".mlopsgen")).unwrap_or_default();
    let folder = victim.split('/').next().unwrap_or_default().to_owned();
    std::fs::remove_dir_all(out.join(&folder)).ok();
    std::os::unix::fs::symlink(outside.path(), out.join(&folder)).ok();
    std::fs::write(dir.path().join("mlops.yaml"), spec_b()).ok();
    for args in [&["build"][..], &["build", "--force"][..]] {
        let result = mlopsgen(dir.path(), args, None);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {result:?}");
        assert!(String::from_utf8_lossy(&result.stderr).contains("symlink"));
    }
    assert!(tree(outside.path()).is_empty(), "a write landed outside the output directory");
}
