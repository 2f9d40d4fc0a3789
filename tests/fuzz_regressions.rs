//! Replays saved fuzz inputs in plain `cargo test`: every file under
//! `fuzz/regressions/<target>/` (minimised crashes, kept once fixed) and the committed seed
//! corpora under `fuzz/seeds/<target>/`, through exactly the code the cargo-fuzz target runs:
//! the target bodies live in `fuzz/src/targets/` and are compiled into this test by path.
//! A panic in any of them is a failure.

use std::panic;
use std::path::{Path, PathBuf};

#[path = "../fuzz/src/targets/mod.rs"]
mod targets;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs every file of every `<dir>/<target>/` and returns how many ran; panics listing every
/// input that panicked.
fn replay(dir: &Path) -> usize {
    let Ok(targets) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut targets: Vec<PathBuf> = targets.map(|e| e.expect("read_dir").path()).collect();
    targets.sort();
    let mut ran = 0;
    let mut failures = Vec::new();
    for target_dir in targets.iter().filter(|p| p.is_dir()) {
        let target = target_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 target folder name");
        let mut files: Vec<PathBuf> = std::fs::read_dir(target_dir)
            .expect("read_dir")
            .map(|e| e.expect("read_dir").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("read input");
            let outcome = panic::catch_unwind(|| targets::run(target, &data));
            match outcome {
                Ok(Some(())) => ran += 1,
                Ok(None) => failures.push(format!("{}: no fuzz target {target:?}", file.display())),
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| e.downcast_ref::<&str>().copied())
                        .unwrap_or("(non-string panic)");
                    failures.push(format!("{}: {msg}", file.display()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} input(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    ran
}

#[test]
fn regressions_replay_without_panicking() {
    replay(&root().join("fuzz/regressions"));
}

#[test]
fn seeds_replay_without_panicking() {
    let ran = replay(&root().join("fuzz/seeds"));
    assert!(ran > 0, "no seeds under fuzz/seeds");
}

/// The fixtures behind the seeds still verify (bundle, proofs, entries): the generator panics
/// otherwise. Nothing is written.
#[test]
fn seed_fixtures_verify() {
    let seeds = targets::seeds::generate(&root());
    for (target, _) in targets::TARGETS {
        assert!(
            seeds.iter().any(|(t, _, _)| t == target),
            "no seed for target {target}"
        );
    }
}

#[test]
#[ignore = "rewrites fuzz/seeds; run by hand after a format change"]
fn regenerate_seeds() {
    let n = targets::seeds::write_all(&root(), &root().join("fuzz/seeds")).expect("write seeds");
    println!("wrote {n} seeds");
}
