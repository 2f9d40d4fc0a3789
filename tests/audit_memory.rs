//! `fwlog log verify` keeps its memory bounded however many commits the history holds: a log
//! grown by one-entry appends has one commit per entry, and the history check visits each.
//! Before the history check handed freed memory back (and libgit2's object cache shrank to
//! 2 MiB), the audit of this test's 3,000 commits peaked at 72 MiB of anonymous memory, and it
//! grew with every commit; now about 22 MiB.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fwlog::note::SignerKey;
use fwlog::store::{AnyEntry, EntrySchema, LogStore, NewEntry, DEFAULT_BRANCH};

const ORIGIN: &str = "test.example/audit-memory";

/// `kB` value of `field` in `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `fwlog log verify` on `dir` and returns the highest anonymous RSS seen (sampled every
/// few milliseconds, so it can only miss a peak, never invent one).
fn verify_peak_anon_kib(dir: &Path) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fwlog"))
        .args(["log", "verify", "--repo"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run fwlog");
    let mut peak = 0;
    loop {
        if let Some(kib) = status_kib(child.id(), "RssAnon:") {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "log verify failed");
            return peak;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn audit_memory_does_not_grow_with_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SignerKey::from_seed(ORIGIN, [9; 32]).expect("key");
    git2::Repository::init_bare(dir.path()).expect("git init --bare");
    let store =
        LogStore::init(dir.path(), DEFAULT_BRANCH, ORIGIN, &key, EntrySchema::Any).expect("init");
    let commits = 3000;
    for i in 0..commits {
        let entry = NewEntry {
            name: format!("e{i}"),
            bytes: format!("entry {i}\n").into_bytes(),
            pending_path: None,
        };
        store.append(&key, &[entry], &AnyEntry).expect("append");
    }
    let peak = verify_peak_anon_kib(dir.path());
    assert!(peak > 0, "no sample of the audit's memory");
    assert!(
        peak < 64 << 10,
        "log verify of {commits} commits peaked at {} MiB of anonymous memory",
        peak >> 10
    );
}
