//! Writes a benchmark spec of N pipelines × M steps, and optionally its kfp DSL twin.
//!
//! ```text
//! specgen <pipelines> <steps> <spec.yaml> [<dsl.py>]
//! ```

use mlopsgen_bench::specgen::{kfp_dsl, spec, Scale};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(n), Some(m), Some(out)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: specgen <pipelines> <steps> <spec.yaml> [<dsl.py>]");
        return ExitCode::from(2);
    };
    let (Ok(n), Ok(m)) = (n.parse::<usize>(), m.parse::<usize>()) else {
        eprintln!("error: <pipelines> and <steps> must be numbers");
        return ExitCode::from(2);
    };
    let scale = Scale::new(n, m);
    let mut files = vec![(out.clone(), spec(&scale))];
    if let Some(dsl) = args.get(3) {
        files.push((dsl.clone(), kfp_dsl(&scale)));
    }
    for (path, text) in files {
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: can't write {path}: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
