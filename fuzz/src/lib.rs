//! The fuzz targets' bodies, shared with `tests/fuzz_regressions.rs` (which includes
//! `src/targets/mod.rs` by path), so that a saved crash input replays through exactly the code
//! the fuzzer ran.

#[path = "targets/mod.rs"]
pub mod targets;
