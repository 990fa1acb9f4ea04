//! The `mlopsgen` binary: parses arguments and maps results to exit codes (see `cli`).

mod cli;

/// mimalloc: the targets run on parallel threads and allocate many short strings, where glibc's
/// allocator spent a third of the instructions (see README, Performance).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
