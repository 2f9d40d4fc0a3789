//! The body of every fuzz target, one public function per target.
//!
//! This module is compiled twice: into the `fwlog_fuzz` library that the cargo-fuzz binaries
//! in `fuzz_targets/` call, and, by `#[path]`, into `tests/fuzz_regressions.rs`, which replays
//! the saved inputs under `fuzz/regressions/<target>/` through [`run`] in plain `cargo test`.
//! It therefore uses only crates the main package depends on (no `arbitrary`: see
//! [`input::Input`]), and every check is an `assert!`: a finding is a panic.

mod checkpoint;
mod entry;
mod fixtures;
mod input;
mod log_info;
mod measure;
mod merkle_diff;
mod note;
pub mod seeds;
mod tiles;

pub use checkpoint::{checkpoint, cosignature, tlog_proof, witness_request};
pub use entry::{bundle, dsse_entry, policy, statement};
pub use log_info::log_info;
pub use measure::measure;
pub use merkle_diff::merkle_diff;
pub use note::{keys, note};
pub use tiles::{tile_path, tiles};

/// A target's body: panics on a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name of its binary and of its corpus, seed and regression folders.
pub const TARGETS: &[(&str, Target)] = &[
    ("note", note),
    ("keys", keys),
    ("checkpoint", checkpoint),
    ("cosignature", cosignature),
    ("tlog_proof", tlog_proof),
    ("tile_path", tile_path),
    ("tiles", tiles),
    ("dsse_entry", dsse_entry),
    ("statement", statement),
    ("policy", policy),
    ("bundle", bundle),
    ("witness_request", witness_request),
    ("log_info", log_info),
    ("measure", measure),
    ("merkle_diff", merkle_diff),
];

/// Runs target `name` on `data`; `None` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> Option<()> {
    let (_, target) = TARGETS.iter().find(|(n, _)| *n == name)?;
    target(data);
    Some(())
}
