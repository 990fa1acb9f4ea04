//! cargo-fuzz target: spec bytes → `mlopsgen::compile` → every artifact parses.
//! The check itself lives in `tests/support/fuzz_target.rs`, shared with `tests/fuzz_smoke.rs`.
#![no_main]

#[path = "../../tests/support/artifacts.rs"]
mod artifacts;
#[path = "../../tests/support/fuzz_target.rs"]
mod fuzz_target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = fuzz_target::check(data) {
        panic!("{e}");
    }
});
