//! Shared helpers for the CLI tests: run the real `fwlog` binary and real `git` in temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `fwlog` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fwlog"))
}

/// Runs `fwlog ARGS` in `dir` with a clean, deterministic git identity.
pub fn fwlog_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "fwlog test")
        .env("GIT_AUTHOR_EMAIL", "test@fwlog.invalid")
        .env("GIT_COMMITTER_NAME", "fwlog test")
        .env("GIT_COMMITTER_EMAIL", "test@fwlog.invalid")
        .output()
        .expect("run fwlog")
}

/// Runs fwlog and asserts success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = fwlog_in(dir, args);
    assert!(
        out.status.success(),
        "fwlog {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs fwlog and asserts failure; returns stderr.
pub fn fails(dir: &Path, args: &[&str]) -> String {
    let out = fwlog_in(dir, args);
    assert!(
        !out.status.success(),
        "fwlog {args:?} unexpectedly succeeded:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

/// What one `fwlog` process gave: its exit code and its output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `fwlog ARGS` in `dir`; asserts it exited normally (not by a signal) and never
/// panicked.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let out = fwlog_in(dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked") && !stdout.contains("panicked"),
        "fwlog {args:?} panicked:\n{stderr}"
    );
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("fwlog {args:?} was killed by a signal:\n{stderr}"));
    Run {
        code,
        stdout,
        stderr,
    }
}

/// Runs fwlog and asserts the exit code.
pub fn expect(dir: &Path, args: &[&str], code: i32) -> Run {
    let r = run(dir, args);
    assert_eq!(
        r.code, code,
        "fwlog {args:?}: exit {} (want {code})\nstdout: {}\nstderr: {}",
        r.code, r.stdout, r.stderr
    );
    r
}

/// Runs real `git ARGS` in `dir` and returns stdout; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "tamperer")
        .env("GIT_AUTHOR_EMAIL", "t@fwlog.invalid")
        .env("GIT_COMMITTER_NAME", "tamperer")
        .env("GIT_COMMITTER_EMAIL", "t@fwlog.invalid")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 git output")
}

/// Generates a signer key file `<dir>/<file>` named `name`; returns the verifier key.
pub fn keygen(dir: &Path, name: &str, file: &str) -> String {
    ok(dir, &["key", "generate", "--name", name, "--out", file])
        .trim()
        .to_string()
}

/// A fresh log: temp dir with `log.key` and an initialised repo at `<dir>/log`.
pub struct Log {
    pub dir: tempfile::TempDir,
    pub vkey: String,
}

impl Log {
    pub fn new(origin: &str) -> Log {
        let dir = tempfile::tempdir().expect("tempdir");
        let vkey = keygen(dir.path(), origin, "log.key");
        ok(
            dir.path(),
            &[
                "log",
                "init",
                "--repo",
                "log",
                "--origin",
                origin,
                "--key",
                "log.key",
                "--entries",
                "any",
            ],
        );
        Log { dir, vkey }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// Writes `count` small distinct entry files starting at `start`; returns their names.
    pub fn write_entries(&self, start: usize, count: usize) -> Vec<String> {
        (start..start + count)
            .map(|i| {
                let name = format!("e{i}.bin");
                std::fs::write(self.path().join(&name), format!("entry number {i}\n"))
                    .expect("write entry");
                name
            })
            .collect()
    }

    /// Appends the given files as one batch; returns stdout.
    pub fn append(&self, files: &[String]) -> String {
        let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
        args.extend(files.iter().map(String::as_str));
        ok(self.path(), &args)
    }
}
