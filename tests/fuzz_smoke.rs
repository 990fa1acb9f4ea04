//! Stable-toolchain fuzzing: the cargo-fuzz target (`tests/support/fuzz_target.rs`) run over the
//! committed seeds (`fuzz/corpus/compile/`) and over deterministic random mutations of them:
//! bit flips, byte edits, splices of two seeds, line duplication and deletion, and values
//! replaced by hostile strings (`tests/fixtures/hostile_strings.json`).
//!
//! `MLOPSGEN_FUZZ_ITERS` (default 2000) and `MLOPSGEN_FUZZ_SECS` (default 40) bound the run,
//! `MLOPSGEN_FUZZ_SEED` picks the sequence. A long run:
//! `MLOPSGEN_FUZZ_ITERS=100000000 MLOPSGEN_FUZZ_SECS=600 nice cargo test --release --test fuzz_smoke -- --nocapture`.
//! A failing input is written to `target/fuzz-crashes/` and should join the seeds once fixed.

#[path = "support/artifacts.rs"]
mod artifacts;
#[path = "support/fuzz_target.rs"]
mod fuzz_target;

use std::path::Path;
use std::time::{Duration, Instant};

const HOSTILE: &str = include_str!("fixtures/hostile_strings.json");
/// YAML and spec fragments worth splicing in.
const TOKENS: &[&str] = &[
    "&a ", "*a", "<<: *a", "!!str ", "? ", "- ", ": ", "{", "}", "[", "]", "'", "\"", "#", "|\n", ">-\n", "\t", "\r\n",
    "~", "null", "yes", "0x1F", "1e999", "-.inf", ".nan", "{{params.x}}", "{{inputs.x}}", "{{outputs.y}}", "after: [x]",
    "kind: container", "when: a.b == 1", "---\n", "...\n", "\u{feff}", "%YAML 1.2\n",
];

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/compile");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], hostile: &[String]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(8) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 if at < data.len() => {
                data.remove(at);
            }
            3 => {
                // Splice: this seed's head, another's tail.
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            4 | 5 => {
                // Duplicate or delete a line.
                let text = String::from_utf8_lossy(&data).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    if rng.below(2) == 0 {
                        lines.insert(i, lines[i]);
                    } else {
                        lines.remove(i);
                    }
                }
                data = lines.join("\n").into_bytes();
            }
            6 => {
                // A `key: value` line gets a hostile value, written as a JSON (= YAML) string.
                let text = String::from_utf8_lossy(&data).into_owned();
                let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                let candidates: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(": ")).collect();
                if !candidates.is_empty() {
                    let i = candidates[rng.below(candidates.len())];
                    let h = serde_json::to_string(&hostile[rng.below(hostile.len())]).unwrap_or_default();
                    if let Some((key, _)) = lines[i].split_once(": ") {
                        lines[i] = format!("{key}: {h}");
                    }
                }
                data = lines.join("\n").into_bytes();
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run_one(data: &[u8]) -> Result<(), String> {
    match std::panic::catch_unwind(|| fuzz_target::check(data)) {
        Ok(result) => result,
        Err(p) => Err(format!(
            "panic: {}",
            p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default()
        )),
    }
}

fn save_crash(data: &[u8], n: u64) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    std::fs::create_dir_all(&dir).ok();
    let path = dir.join(format!("crash-{n}.yaml"));
    std::fs::write(&path, data).ok();
    path.display().to_string()
}

#[test]
fn fuzz_smoke() {
    let seeds = seeds();
    assert!(seeds.len() >= 10, "fuzz/corpus/compile/ holds only {} seeds", seeds.len());
    let hostile: Vec<String> = serde_json::from_str(HOSTILE).unwrap_or_else(|e| panic!("{e}"));
    let iters: u64 = env_or("MLOPSGEN_FUZZ_ITERS", 2000);
    let limit = Duration::from_secs(env_or("MLOPSGEN_FUZZ_SECS", 40));
    let mut rng = Rng(env_or("MLOPSGEN_FUZZ_SEED", 0x9e37_79b9_7f4a_7c15_u64) | 1);
    let start = Instant::now();
    let mut crashes = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        if let Err(e) = run_one(seed) {
            crashes.push(format!("seed {i}: {e}"));
        }
    }
    let mut execs = seeds.len() as u64;
    while execs < iters + seeds.len() as u64 && start.elapsed() < limit {
        let data = mutate(&mut rng, &seeds, &hostile);
        if let Err(e) = run_one(&data) {
            let at = save_crash(&data, execs);
            crashes.push(format!("{at}: {}", e.chars().take(2000).collect::<String>()));
        }
        execs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("fuzz_smoke: {execs} execs in {secs:.1}s ({:.0}/s), {} crashes", execs as f64 / secs, crashes.len());
    assert!(crashes.is_empty(), "{} crash(es):\n{}", crashes.len(), crashes.join("\n"));
}
