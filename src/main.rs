//! The `mlopsgen` binary: parses arguments and maps results to exit codes (see `cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
