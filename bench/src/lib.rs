//! Benchmark helpers for mlopsgen: [`specgen`] writes scaled specs (and their kfp DSL twins).

pub mod specgen;
