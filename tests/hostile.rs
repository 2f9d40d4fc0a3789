//! Hostile inputs: a log repository crafted to attack whoever reads it, resource caps, and
//! (ignored, run by `scripts/stress.sh`) SIGKILL loops for `log integrate`, `witness cosign`
//! and `monitor`.
//!
//! Every hostile repository is built with real git plumbing (`hash-object`, `mktree`,
//! `commit-tree`, `update-ref`, `fast-import`) on top of a valid log, then every reading and
//! writing command runs against it as a child process with a deadline. Each run must finish in
//! time, must not panic or die of a signal, must fail (when it fails) with one `fwlog:` line (or
//! `log verify`'s findings), must keep its memory bounded when the repository holds a giant
//! blob, and must write nothing outside the sandbox's work directory.
//!
//! Run with `--nocapture` to see one line per command and case.

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fwlog::checkpoint::{Checkpoint, SignedCheckpoint};
use fwlog::entry::{Artifact, Environment, Release};
use fwlog::note::{SignerKey, ALG_COSIGNATURE_V1};
use sha2::{Digest as _, Sha256, Sha384};

const ORIGIN: &str = "hostile.example/log";
/// Every child process gets this long; then it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(30);
/// Peak RSS allowed for a command that reads a repository holding a 100 MB blob.
const MAX_RSS_KIB: i64 = 80 * 1024;
const CANARY: &[u8] = b"canary: nothing may touch this file\n";

// ---------------------------------------------------------------------------------------------
// Running children with a deadline
// ---------------------------------------------------------------------------------------------

/// One finished child process.
#[derive(Debug)]
struct Run {
    args: Vec<String>,
    /// Exit code; `None` when a signal ended it.
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// Peak resident set of the child itself (not of its children), KiB, as last seen.
    maxrss_kib: i64,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn describe(&self) -> String {
        format!(
            "fwlog {:?}: code {:?} signal {:?} in {:?}, rss {} KiB\nstdout: {}\nstderr: {}",
            self.args,
            self.code,
            self.signal,
            self.elapsed,
            self.maxrss_kib,
            truncate(&self.stdout),
            truncate(&self.stderr)
        )
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= 3000 {
        return s.to_string();
    }
    let mut end = 3000;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Reads a pipe to the end on a thread.
fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Runs `cmd` to completion, killing it (and failing the test) after `DEADLINE`, watching its
/// peak resident memory.
// The child is reaped with `waitpid` (to keep polling its /proc entry until it exits).
#[allow(clippy::zombie_processes)]
fn run_bounded(mut cmd: Command) -> Run {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let pid = child.id() as libc::pid_t;
    let status_file = format!("/proc/{pid}/status");
    let mut hwm = 0;
    let status = loop {
        // The child's own high-water mark (getrusage's ru_maxrss would include the test
        // process's, inherited at exec). Polled every millisecond until the child exits.
        if let Some(kib) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        }) {
            hwm = hwm.max(kib);
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child, writing into the local above.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break status;
        }
        assert!(
            r == 0,
            "waitpid failed: {}",
            std::io::Error::last_os_error()
        );
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let mut status = 0;
            // SAFETY: reaping our own killed child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            panic!(
                "fwlog {args:?} did not finish within {DEADLINE:?} (hang): stderr so far: {}",
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.join().expect("stdout thread")).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().expect("stderr thread")).into_owned();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    Run {
        args,
        code,
        signal,
        stdout,
        stderr,
        elapsed,
        maxrss_kib: hwm,
    }
}

// ---------------------------------------------------------------------------------------------
// The sandbox: everything a test writes lives in `work`; `parent` must not change
// ---------------------------------------------------------------------------------------------

/// `parent/` holds `canary` and `s/`; `s/` holds `work/` (the current directory of every
/// command), `home/` (HOME) and `tmp/` (TMPDIR). After every command: `parent/` lists the
/// same names, the canary is unchanged, `home/` and `tmp/` are empty.
struct Sandbox {
    _dir: tempfile::TempDir,
    parent: PathBuf,
    work: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    canary: PathBuf,
    listing: BTreeSet<String>,
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let parent = dir.path().to_path_buf();
        let s = parent.join("s");
        let (work, home, tmp) = (s.join("work"), s.join("home"), s.join("tmp"));
        for d in [&work, &home, &tmp] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let canary = parent.join("canary");
        std::fs::write(&canary, CANARY).expect("canary");
        let listing = listing(&parent);
        Sandbox {
            _dir: dir,
            parent,
            work,
            home,
            tmp,
            canary,
            listing,
        }
    }

    fn cmd(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.work)
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "fwlog test")
            .env("GIT_AUTHOR_EMAIL", "test@fwlog.invalid")
            .env("GIT_COMMITTER_NAME", "fwlog test")
            .env("GIT_COMMITTER_EMAIL", "test@fwlog.invalid")
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        cmd
    }

    /// Runs fwlog with a deadline and checks that nothing outside `work` changed.
    fn fwlog(&self, args: &[&str]) -> Run {
        let run = run_bounded(self.cmd(&common::bin(), args));
        self.check_outside(&run);
        assert_no_crash(&run);
        run
    }

    /// fwlog that must succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.fwlog(args);
        assert!(run.ok(), "expected success: {}", run.describe());
        run.stdout
    }

    fn check_outside(&self, run: &Run) {
        assert_eq!(
            listing(&self.parent),
            self.listing,
            "files appeared or vanished next to the sandbox after {}",
            run.describe()
        );
        assert_eq!(
            std::fs::read(&self.canary).expect("canary"),
            CANARY,
            "canary changed after {}",
            run.describe()
        );
        for d in [&self.home, &self.tmp] {
            assert!(
                listing(d).is_empty(),
                "{} is not empty after {}: {:?}",
                d.display(),
                run.describe(),
                listing(d)
            );
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).expect("write");
    }

    /// Real git in `work/<dir>`, with optional stdin; panics on failure; raw stdout.
    fn git(&self, dir: &str, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
        let mut cmd = self.cmd(Path::new("git"), args);
        cmd.current_dir(self.work.join(dir))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn git");
        let out = drain(child.stdout.take().expect("stdout"));
        let err = drain(child.stderr.take().expect("stderr"));
        if let Some(data) = input {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(data).expect("git stdin");
        }
        let status = child.wait().expect("wait git");
        let stdout = out.join().expect("git stdout");
        let stderr = err.join().expect("git stderr");
        assert!(
            status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&stderr)
        );
        stdout
    }

    fn git_str(&self, dir: &str, args: &[&str]) -> String {
        String::from_utf8(self.git(dir, args, None))
            .expect("utf-8")
            .trim()
            .to_string()
    }
}

/// No panic, no abort, no signal, no allocation failure.
fn assert_no_crash(run: &Run) {
    assert!(
        run.signal.is_none(),
        "killed by a signal: {}",
        run.describe()
    );
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "memory allocation",
        "stack overflow",
        "capacity overflow",
    ] {
        assert!(!run.stderr.contains(bad), "{bad}: {}", run.describe());
    }
}

/// What shape a failure's stderr must have.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// Exactly one line, `fwlog: …`.
    OneLine,
    /// `log verify`: findings (`error: …`, `warning: …`), then one `fwlog: …` line; or just one
    /// `fwlog:` line when the log cannot be read at all.
    Verify,
    /// `log verify --json`: the report on stdout and nothing on stderr, or one `fwlog:` line
    /// when the log cannot be read at all.
    VerifyJson,
    /// `log integrate`: any number of `fwlog: left in place: …` lines, then at most one other
    /// `fwlog:` line (or `nothing to integrate`).
    Integrate,
    /// `monitor`: event lines go to stdout; stderr has one `fwlog: …` line on failure.
    Monitor,
}

fn assert_clean_failure(run: &Run, shape: Shape) {
    assert_no_crash(run);
    if run.ok() {
        return;
    }
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let fwlog_lines = lines.iter().filter(|l| l.starts_with("fwlog: ")).count();
    match shape {
        Shape::OneLine => assert!(
            lines.len() == 1 && lines[0].starts_with("fwlog: "),
            "expected one `fwlog:` line: {}",
            run.describe()
        ),
        Shape::Verify => {
            assert_eq!(fwlog_lines, 1, "{}", run.describe());
            assert!(
                lines.last().is_some_and(|l| l.starts_with("fwlog: ")),
                "{}",
                run.describe()
            );
            assert!(
                lines.iter().all(|l| l.starts_with("fwlog: ")
                    || l.starts_with("error: ")
                    || l.starts_with("warning: ")),
                "{}",
                run.describe()
            );
        }
        Shape::VerifyJson => {
            if lines.is_empty() {
                let v: serde_json::Value = serde_json::from_str(&run.stdout)
                    .unwrap_or_else(|e| panic!("verify --json: {e}: {}", run.describe()));
                assert!(
                    v["findings"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|f| f["severity"] == "error")),
                    "{}",
                    run.describe()
                );
            } else {
                assert!(
                    lines.len() == 1 && lines[0].starts_with("fwlog: ") && run.stdout.is_empty(),
                    "{}",
                    run.describe()
                );
            }
        }
        Shape::Integrate => {
            let other: Vec<&&str> = lines
                .iter()
                .filter(|l| !l.starts_with("fwlog: left in place: "))
                .collect();
            assert!(
                other.len() <= 1
                    && other.iter().all(|l| l.starts_with("fwlog: ")
                        || **l == "nothing to integrate"
                        || l.starts_with("log size ")),
                "{}",
                run.describe()
            );
        }
        Shape::Monitor => {
            assert!(
                matches!(run.code, Some(1 | 3 | 4 | 5)),
                "monitor exit code: {}",
                run.describe()
            );
            if run.code != Some(3) {
                assert_eq!(fwlog_lines, 1, "{}", run.describe());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Git plumbing: trees edited with mktree, one level at a time
// ---------------------------------------------------------------------------------------------

/// A tree entry as `git ls-tree` prints it.
#[derive(Clone, Debug)]
struct TreeEntry {
    mode: String,
    kind: String,
    oid: String,
    name: Vec<u8>,
}

fn ls_tree(sb: &Sandbox, repo: &str, tree: &str) -> Vec<TreeEntry> {
    let out = sb.git(repo, &["ls-tree", "-z", tree], None);
    out.split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .map(|rec| {
            let tab = rec.iter().position(|&b| b == b'\t').expect("tab");
            let head = String::from_utf8(rec[..tab].to_vec()).expect("ls-tree head");
            let mut parts = head.split(' ');
            TreeEntry {
                mode: parts.next().expect("mode").to_string(),
                kind: parts.next().expect("type").to_string(),
                oid: parts.next().expect("oid").to_string(),
                name: rec[tab + 1..].to_vec(),
            }
        })
        .collect()
}

fn mktree(sb: &Sandbox, repo: &str, entries: &[TreeEntry]) -> String {
    let mut input = Vec::new();
    for e in entries {
        input.extend_from_slice(format!("{} {} {}\t", e.mode, e.kind, e.oid).as_bytes());
        input.extend_from_slice(&e.name);
        input.push(0);
    }
    let out = sb.git(repo, &["mktree", "-z", "--missing"], Some(&input));
    String::from_utf8(out).expect("oid").trim().to_string()
}

/// `tree` with the entry at `path` (components, raw bytes) replaced by `new`, or removed when
/// `new` is `None`; intermediate trees are created as needed. Any name goes, `..` and `.git`
/// included: `mktree` does not check.
fn tree_put(
    sb: &Sandbox,
    repo: &str,
    tree: Option<&str>,
    path: &[&[u8]],
    new: Option<(&str, &str, &str)>,
) -> String {
    let mut entries = tree.map(|t| ls_tree(sb, repo, t)).unwrap_or_default();
    let (first, rest) = path.split_first().expect("non-empty path");
    let existing = entries.iter().position(|e| e.name == *first);
    if rest.is_empty() {
        if let Some(i) = existing {
            entries.remove(i);
        }
        if let Some((mode, kind, oid)) = new {
            entries.push(TreeEntry {
                mode: mode.into(),
                kind: kind.into(),
                oid: oid.into(),
                name: first.to_vec(),
            });
        }
    } else {
        let sub = existing
            .map(|i| entries.remove(i))
            .filter(|e| e.kind == "tree")
            .map(|e| e.oid);
        let oid = tree_put(sb, repo, sub.as_deref(), rest, new);
        entries.push(TreeEntry {
            mode: "040000".into(),
            kind: "tree".into(),
            oid,
            name: first.to_vec(),
        });
    }
    mktree(sb, repo, &entries)
}

fn blob(sb: &Sandbox, repo: &str, data: &[u8]) -> String {
    let out = sb.git(repo, &["hash-object", "-w", "--stdin"], Some(data));
    String::from_utf8(out).expect("oid").trim().to_string()
}

fn cat_blob(sb: &Sandbox, repo: &str, spec: &str) -> Vec<u8> {
    sb.git(repo, &["cat-file", "blob", spec], None)
}

/// One edit of the head tree: put `(mode, type, oid)` at a path, or remove it.
struct Edit<'a> {
    path: Vec<&'a [u8]>,
    new: Option<(&'a str, &'a str, String)>,
}

fn put<'a>(path: &'a str, mode: &'a str, kind: &'a str, oid: String) -> Edit<'a> {
    Edit {
        path: path.split('/').map(str::as_bytes).collect(),
        new: Some((mode, kind, oid)),
    }
}

fn put_raw<'a>(path: Vec<&'a [u8]>, mode: &'a str, kind: &'a str, oid: String) -> Edit<'a> {
    Edit {
        path,
        new: Some((mode, kind, oid)),
    }
}

/// Commits the head tree with `edits` applied on top of the branch and moves the branch there
/// (commit-tree + update-ref). `message` defaults to "hostile".
fn tamper(sb: &Sandbox, repo: &str, edits: &[Edit<'_>], message: Option<&Path>) -> String {
    let mut tree = sb.git_str(repo, &["rev-parse", "fwlog^{tree}"]);
    for e in edits {
        let new = e.new.as_ref().map(|(m, k, o)| (*m, *k, o.as_str()));
        tree = tree_put(sb, repo, Some(&tree), &e.path, new);
    }
    let msg_file = message.map(|m| m.to_string_lossy().into_owned());
    let mut args = vec!["commit-tree", tree.as_str(), "-p", "fwlog"];
    match &msg_file {
        Some(f) => args.extend(["-F", f.as_str()]),
        None => args.extend(["-m", "hostile"]),
    }
    let commit = sb.git_str(repo, &args);
    sb.git(repo, &["update-ref", "refs/heads/fwlog", &commit], None);
    commit
}

// ---------------------------------------------------------------------------------------------
// A valid base log: fwlog schema, three releases
// ---------------------------------------------------------------------------------------------

fn release_entry(vendor: &SignerKey, i: u32) -> (Vec<u8>, [u8; 32]) {
    let firmware = format!("hostile firmware image {i}\n");
    let sha256: [u8; 32] = Sha256::digest(firmware.as_bytes()).into();
    let sha384: [u8; 48] = Sha384::digest(firmware.as_bytes()).into();
    let release = Release {
        firmware_name: "hostile-fw".into(),
        version: format!("1.{i}"),
        recipe: "printf 'hostile firmware image %s\\n' \"$V\" > \"$FWLOG_OUT/fw.bin\"\n".into(),
        env: [("V".to_string(), i.to_string())].into_iter().collect(),
        source_date_epoch: 1_700_000_000,
        environment: Environment {
            description: "any POSIX shell".into(),
            container_image: None,
            debian_snapshot: None,
        },
        source_uri: None,
        source_sha256: Sha256::digest(b"source").into(),
        artifacts: vec![Artifact {
            name: "fw.bin".into(),
            sha256,
            sha384,
            snp_ovmf_hash: None,
            other_digests: Default::default(),
        }],
        released_on: 1_700_000_000 + u64::from(i),
    };
    (release.sign(vendor).expect("sign release"), sha256)
}

/// The base log in `work/log`: `log.key`, three releases `r0..r2.json` appended, `r3.json`
/// ready to append. `schema` is `fwlog` or `any`.
struct Base {
    vkey: String,
    key: SignerKey,
    /// SHA-256 of r0's artifact, for `bundle --sha256`.
    artifact: String,
    /// Absolute path of the repository, for `monitor --remote`.
    remote: String,
}

fn base_log(sb: &Sandbox, schema: &str) -> Base {
    let vkey = sb
        .ok(&["key", "generate", "--name", ORIGIN, "--out", "log.key"])
        .trim()
        .to_string();
    let key_text = std::fs::read_to_string(sb.path("log.key")).expect("log.key");
    let key = SignerKey::parse(key_text.trim_end()).expect("signer key");
    sb.ok(&[
        "log",
        "init",
        "--repo",
        "log",
        "--origin",
        ORIGIN,
        "--key",
        "log.key",
        "--entries",
        schema,
    ]);
    let vendor = SignerKey::generate("vendor.example/release").expect("vendor key");
    let mut artifact = String::new();
    for i in 0..4 {
        let (entry, digest) = release_entry(&vendor, i);
        sb.write(&format!("r{i}.json"), &entry);
        if i == 0 {
            artifact = hex::encode(digest);
        }
    }
    sb.ok(&[
        "log", "append", "--repo", "log", "--key", "log.key", "r0.json", "r1.json", "r2.json",
    ]);
    Base {
        vkey,
        key,
        artifact,
        remote: sb.path("log").to_string_lossy().into_owned(),
    }
}

/// Signs a checkpoint for `size` with the current root, as a log operator turned hostile could.
fn forged_checkpoint(sb: &Sandbox, base: &Base, size: u64) -> Vec<u8> {
    let current = cat_blob(sb, "log", "fwlog:checkpoint");
    let root = SignedCheckpoint::parse(&current)
        .expect("checkpoint")
        .checkpoint
        .root;
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
        extensions: vec![],
    };
    SignedCheckpoint::sign(cp, &base.key)
        .expect("sign")
        .to_bytes()
}

// ---------------------------------------------------------------------------------------------
// The battery: every command against a hostile repository
// ---------------------------------------------------------------------------------------------

/// What a case demands beyond "no crash, no hang, no escape, clean failures".
struct Expect<'a> {
    /// `log verify` must fail (every tampered log) or pass (a valid but unusual one).
    verify_ok: bool,
    /// Text `log verify`'s output must contain.
    verify_says: &'a [&'a str],
    /// Check the peak RSS of commands that do not spawn git.
    bounded_memory: bool,
}

const TAMPERED: Expect<'static> = Expect {
    verify_ok: false,
    verify_says: &[],
    bounded_memory: false,
};

/// Before tampering: a monitor follows the valid log into `st-old`.
fn monitor_before(sb: &Sandbox, base: &Base) {
    let r = sb.fwlog(&[
        "monitor",
        "--remote",
        &base.remote,
        "--log-key",
        &base.vkey,
        "--state",
        "st-old",
    ]);
    assert!(r.ok(), "monitor on the valid log: {}", r.describe());
}

/// Runs every command against the (tampered) log in `work/log`; returns one summary line.
fn battery(sb: &Sandbox, base: &Base, case: &str, expect: &Expect<'_>) -> String {
    let vkey = base.vkey.as_str();
    let remote = base.remote.as_str();
    let mut summary = Vec::new();
    let mut record = |name: &str, run: &Run, shape: Shape, git_child: bool| {
        assert_clean_failure(run, shape);
        if expect.bounded_memory && !git_child {
            assert!(
                run.maxrss_kib < MAX_RSS_KIB,
                "{case}: {name} used {} KiB: {}",
                run.maxrss_kib,
                run.describe()
            );
        }
        let first = if run.ok() {
            "ok".to_string()
        } else {
            run.stderr
                .lines()
                .rfind(|l| l.starts_with("fwlog: "))
                .unwrap_or("")
                .chars()
                .take(110)
                .collect()
        };
        summary.push(format!(
            "  {name:<14} exit {:?} {:>5} ms {:>6} KiB  {first}",
            run.code.unwrap_or(-1),
            run.elapsed.as_millis(),
            run.maxrss_kib
        ));
    };

    let verify = sb.fwlog(&["log", "verify", "--repo", "log", "--log-key", vkey]);
    record("verify", &verify, Shape::Verify, false);
    assert_eq!(
        verify.ok(),
        expect.verify_ok,
        "{case}: log verify: {}",
        verify.describe()
    );
    for needle in expect.verify_says {
        assert!(
            verify.output().contains(needle),
            "{case}: verify does not say {needle:?}: {}",
            verify.describe()
        );
    }
    let r = sb.fwlog(&["log", "verify", "--repo", "log", "--json"]);
    record("verify --json", &r, Shape::VerifyJson, false);
    if !r.stdout.is_empty() {
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{case}: verify --json: {e}: {}", r.describe()));
        assert!(v["findings"].is_array(), "{case}: {}", r.describe());
    }
    let r = sb.fwlog(&["log", "list", "--repo", "log"]);
    record("list", &r, Shape::OneLine, false);
    for index in ["0", "2"] {
        let out = format!("p{index}.proof");
        let r = sb.fwlog(&[
            "log", "prove", "--repo", "log", "--index", index, "--out", &out,
        ]);
        record(&format!("prove {index}"), &r, Shape::OneLine, false);
    }
    let r = sb.fwlog(&[
        "bundle",
        "--repo",
        "log",
        "--sha256",
        &base.artifact,
        "--out",
        "b.json",
    ]);
    record("bundle", &r, Shape::OneLine, false);
    for state in ["st-old", "st-new"] {
        let r = sb.fwlog(&[
            "monitor",
            "--remote",
            remote,
            "--log-key",
            vkey,
            "--state",
            state,
        ]);
        record(&format!("monitor {state}"), &r, Shape::Monitor, true);
    }
    let r = sb.fwlog(&["log", "integrate", "--repo", "log", "--key", "log.key"]);
    record("integrate", &r, Shape::Integrate, false);
    let r = sb.fwlog(&[
        "log", "append", "--repo", "log", "--key", "log.key", "r3.json",
    ]);
    record("append", &r, Shape::OneLine, false);
    let line = format!("case {case}:\n{}", summary.join("\n"));
    println!("{line}");
    line
}

/// A fresh sandbox with the base log, a monitor that saw it, and `r3.json` ready.
fn setup(schema: &str) -> (Sandbox, Base) {
    let sb = Sandbox::new();
    let base = base_log(&sb, schema);
    monitor_before(&sb, &base);
    (sb, base)
}

// ---------------------------------------------------------------------------------------------
// 1. Hostile repositories
// ---------------------------------------------------------------------------------------------

/// 100 MB of zeros (git stores it in ~100 KB) as the hash tile and as the entry bundle.
#[test]
fn hostile_giant_tiles() {
    let (sb, base) = setup("fwlog");
    let giant = blob(&sb, "log", &vec![0u8; 100 << 20]);
    tamper(
        &sb,
        "log",
        &[
            put("tile/0/000.p/3", "100644", "blob", giant.clone()),
            put("tile/entries/000.p/3", "100644", "blob", giant.clone()),
        ],
        None,
    );
    battery(
        &sb,
        &base,
        "giant tiles",
        &Expect {
            verify_ok: false,
            verify_says: &["104857600 bytes is over the"],
            bounded_memory: true,
        },
    );
}

#[test]
fn hostile_truncated_tiles() {
    let (sb, base) = setup("fwlog");
    let tile = cat_blob(&sb, "log", "fwlog:tile/0/000.p/3");
    let bundle = cat_blob(&sb, "log", "fwlog:tile/entries/000.p/3");
    let t = blob(&sb, "log", &tile[..tile.len() - 33]);
    // Cut inside the second entry: its length prefix promises more than is left.
    let first = usize::from(u16::from_be_bytes([bundle[0], bundle[1]]));
    let b = blob(&sb, "log", &bundle[..first + 2 + 40]);
    tamper(
        &sb,
        "log",
        &[
            put("tile/0/000.p/3", "100644", "blob", t),
            put("tile/entries/000.p/3", "100644", "blob", b),
        ],
        None,
    );
    battery(
        &sb,
        &base,
        "truncated tiles",
        &Expect {
            verify_says: &["malformed_tile"],
            ..TAMPERED
        },
    );
}

#[test]
fn hostile_truncated_bundle_one_byte() {
    let (sb, base) = setup("fwlog");
    let b = blob(&sb, "log", &[0xff]);
    tamper(
        &sb,
        "log",
        &[put("tile/entries/000.p/3", "100644", "blob", b)],
        None,
    );
    battery(&sb, &base, "one-byte entry bundle", &TAMPERED);
}

/// Tree entries named `..`, `.` and `.git` (git's fsck refuses them, `mktree` writes them).
#[test]
fn hostile_dot_dot_names() {
    let (sb, base) = setup("fwlog");
    let b = blob(&sb, "log", b"escaped\n");
    let dd: &[u8] = b"..";
    tamper(
        &sb,
        "log",
        &[
            put_raw(
                vec![b"tile", dd, dd, b"escaped"],
                "100644",
                "blob",
                b.clone(),
            ),
            put_raw(vec![dd, b"escaped"], "100644", "blob", b.clone()),
            put_raw(vec![b"tile", b"0", dd], "100644", "blob", b.clone()),
            put_raw(
                vec![b"pending", dd, dd, b"x.entry"],
                "100644",
                "blob",
                b.clone(),
            ),
            put_raw(vec![b"index", b"."], "100644", "blob", b.clone()),
            put_raw(vec![b"tile", b"..%2f"], "100644", "blob", b),
        ],
        None,
    );
    let listing = sb.git(
        "log",
        &["ls-tree", "-r", "-z", "--name-only", "fwlog"],
        None,
    );
    assert!(
        listing.windows(13).any(|w| w == b"tile/../../es"),
        "the tree holds ../.. paths"
    );
    battery(
        &sb,
        &base,
        "dot-dot names",
        &Expect {
            verify_says: &["unexpected_file"],
            ..TAMPERED
        },
    );
    assert!(!sb.parent.join("escaped").exists());
    assert!(!sb.work.join("escaped").exists());
}

/// Symlinks (mode 120000) where files are expected, pointing at /etc/passwd and at the canary.
#[test]
fn hostile_symlinks() {
    let (sb, base) = setup("fwlog");
    let passwd = blob(&sb, "log", b"/etc/passwd");
    let canary = blob(&sb, "log", sb.canary.to_string_lossy().as_bytes());
    let pending = format!(
        "pending/{}.entry",
        hex::encode(Sha256::digest(b"/etc/passwd"))
    );
    tamper(
        &sb,
        "log",
        &[
            put("tile/0/000.p/3", "120000", "blob", passwd.clone()),
            put("tile/entries/000.p/3", "120000", "blob", canary.clone()),
            put(&pending, "120000", "blob", passwd),
            put("index/ff/ff", "120000", "blob", canary),
        ],
        None,
    );
    let out = battery(
        &sb,
        &base,
        "symlinks",
        &Expect {
            verify_says: &["not a regular file"],
            ..TAMPERED
        },
    );
    assert!(!out.contains("root:"), "/etc/passwd leaked: {out}");
}

#[test]
fn hostile_symlinked_checkpoint_and_log_info() {
    let (sb, base) = setup("fwlog");
    let canary = blob(&sb, "log", sb.canary.to_string_lossy().as_bytes());
    let passwd = blob(&sb, "log", b"/etc/passwd");
    tamper(
        &sb,
        "log",
        &[
            put("checkpoint", "120000", "blob", canary),
            put("log-info", "120000", "blob", passwd),
        ],
        None,
    );
    battery(
        &sb,
        &base,
        "symlinked checkpoint and log-info",
        &Expect {
            verify_says: &["not a regular file"],
            ..TAMPERED
        },
    );
}

/// Submodule entries (mode 160000, a commit that does not exist here) as tiles and pending.
#[test]
fn hostile_submodules() {
    let (sb, base) = setup("fwlog");
    let commit = "0123456789abcdef0123456789abcdef01234567".to_string();
    tamper(
        &sb,
        "log",
        &[
            put("tile/entries/000.p/3", "160000", "commit", commit.clone()),
            put("tile/1", "160000", "commit", commit.clone()),
            put("pending/sub", "160000", "commit", commit),
        ],
        None,
    );
    battery(
        &sb,
        &base,
        "submodules",
        &Expect {
            verify_says: &["not a regular file"],
            ..TAMPERED
        },
    );
}

/// A submodule where the `tile/` directory should be: a finding, not an abort. At `index/`
/// (outside the layout): ignored.
#[test]
fn hostile_submodule_instead_of_a_directory() {
    for dir in ["index", "tile"] {
        let (sb, base) = setup("fwlog");
        let commit = "0123456789abcdef0123456789abcdef01234567".to_string();
        tamper(&sb, "log", &[put(dir, "160000", "commit", commit)], None);
        let r = sb.fwlog(&["log", "verify", "--repo", "log", "--log-key", &base.vkey]);
        assert_clean_failure(&r, Shape::Verify);
        if dir == "index" {
            // Outside the layout (the duplicate index of earlier versions): not read at all.
            assert!(r.ok(), "{dir}: {}", r.describe());
            continue;
        }
        assert!(!r.ok());
        let kind = if dir == "tile" {
            "missing_tile"
        } else {
            "bad_index"
        };
        assert!(
            r.stderr.contains(kind) && r.stdout.contains("size 3"),
            "{dir}: the audit aborted instead of reporting {kind}: {}",
            r.describe()
        );
    }
}

/// A checkpoint signed by the real log key claiming 2^63 (and u64::MAX) entries: everything but
/// `log verify` (see the ignored test below).
#[test]
fn hostile_huge_size_checkpoint_other_commands() {
    for size in [1u64 << 63, u64::MAX] {
        let (sb, base) = setup("fwlog");
        let cp = forged_checkpoint(&sb, &base, size);
        let b = blob(&sb, "log", &cp);
        tamper(&sb, "log", &[put("checkpoint", "100644", "blob", b)], None);
        // The battery without verify: run the rest by hand.
        let vkey = base.vkey.as_str();
        for args in [
            vec!["log", "list", "--repo", "log"],
            vec!["log", "prove", "--repo", "log", "--index", "0"],
            vec![
                "log",
                "prove",
                "--repo",
                "log",
                "--index",
                "9223372036854775807",
            ],
            vec![
                "bundle",
                "--repo",
                "log",
                "--sha256",
                &base.artifact,
                "--out",
                "b.json",
            ],
            vec![
                "log", "append", "--repo", "log", "--key", "log.key", "r3.json",
            ],
            vec!["log", "integrate", "--repo", "log", "--key", "log.key"],
        ] {
            let r = sb.fwlog(&args);
            let shape = if args[1] == "integrate" {
                Shape::Integrate
            } else {
                Shape::OneLine
            };
            assert_clean_failure(&r, shape);
            println!("size {size}: {args:?}: {:?} {}", r.code, r.stderr.trim());
            if args[1] != "integrate" {
                assert!(!r.ok(), "{}", r.describe());
            }
        }
        for state in ["st-old", "st-new"] {
            let r = sb.fwlog(&[
                "monitor",
                "--remote",
                &base.remote,
                "--log-key",
                vkey,
                "--state",
                state,
            ]);
            assert_clean_failure(&r, Shape::Monitor);
            assert!(!r.ok(), "{}", r.describe());
            println!(
                "size {size}: monitor {state}: {:?} {}",
                r.code,
                r.stderr.trim()
            );
        }
    }
}

/// Regression (fixed in af697c6): the audit allocated for the size a log-signed checkpoint
/// claims (2^63 entries: a 2^59-byte Vec, abort) before reading any tile.
#[test]
fn hostile_huge_size_checkpoint_verify() {
    for size in [1u64 << 63, u64::MAX, 1u64 << 40] {
        let (sb, base) = setup("fwlog");
        let cp = forged_checkpoint(&sb, &base, size);
        let b = blob(&sb, "log", &cp);
        tamper(&sb, "log", &[put("checkpoint", "100644", "blob", b)], None);
        let r = sb.fwlog(&["log", "verify", "--repo", "log", "--log-key", &base.vkey]);
        assert_clean_failure(&r, Shape::Verify);
        assert!(!r.ok(), "{}", r.describe());
        assert!(
            r.stderr.contains("missing_tile") || r.stderr.contains("audit_incomplete"),
            "{}",
            r.describe()
        );
    }
}

/// 5,000 commits (fast-import) that change nothing: a valid log with a deep history.
#[test]
fn hostile_deep_history() {
    let (sb, base) = setup("fwlog");
    let head = sb.git_str("log", &["rev-parse", "fwlog"]);
    let mut stream = String::new();
    for i in 1..=5000 {
        let msg = format!("deep history commit {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/fwlog\nmark :{i}\ncommitter t <t@fwlog.invalid> {} +0000\ndata {}\n{msg}",
            1_700_000_000 + i,
            msg.len()
        ));
        if i == 1 {
            stream.push_str(&format!("from {head}\n\n"));
        } else {
            stream.push_str(&format!("from :{}\n\n", i - 1));
        }
    }
    sb.git("log", &["fast-import", "--quiet"], Some(stream.as_bytes()));
    let count = sb.git_str("log", &["rev-list", "--count", "fwlog"]);
    assert!(count.parse::<u64>().expect("count") > 5000);
    let line = battery(
        &sb,
        &base,
        "deep history",
        &Expect {
            verify_ok: true,
            verify_says: &["log verified"],
            bounded_memory: false,
        },
    );
    assert!(line.contains("append         exit 0"), "{line}");
}

/// File names that are not UTF-8 under tile/ and pending/.
#[test]
fn hostile_non_utf8_names() {
    let (sb, base) = setup("fwlog");
    let b = blob(&sb, "log", b"x");
    let entry = std::fs::read(sb.path("r3.json")).expect("r3");
    let e = blob(&sb, "log", &entry);
    let bad: &[u8] = b"\xff\xfe\x80.entry";
    tamper(
        &sb,
        "log",
        &[
            put_raw(
                vec![b"tile", b"0", b"\xff\xfe"],
                "100644",
                "blob",
                b.clone(),
            ),
            put_raw(vec![b"tile", b"entries\xc3"], "100644", "blob", b),
            put_raw(vec![b"pending", bad], "100644", "blob", e),
        ],
        None,
    );
    battery(
        &sb,
        &base,
        "non-UTF-8 names",
        &Expect {
            verify_says: &["unexpected_file"],
            ..TAMPERED
        },
    );
}

/// A directory whose name is not UTF-8 under tile/ (or index/, outside the layout, ignored): the audit must report it as a
/// finding (the store documents "names that are not UTF-8 are shown lossily"), not abort.
#[test]
fn hostile_non_utf8_directory_names() {
    for dir in ["tile", "index"] {
        let (sb, base) = setup("fwlog");
        let b = blob(&sb, "log", b"x");
        tamper(
            &sb,
            "log",
            &[put_raw(
                vec![dir.as_bytes(), b"\xc3\x28", b"00"],
                "100644",
                "blob",
                b,
            )],
            None,
        );
        let r = sb.fwlog(&["log", "verify", "--repo", "log", "--log-key", &base.vkey]);
        assert_clean_failure(&r, Shape::Verify);
        if dir == "index" {
            // Outside the layout (the duplicate index of earlier versions): not read at all.
            assert!(r.ok(), "{dir}: {}", r.describe());
            continue;
        }
        assert!(!r.ok());
        let kind = if dir == "tile" {
            "unexpected_file"
        } else {
            "bad_index"
        };
        assert!(
            r.stderr.contains(kind) && r.stdout.contains("size 3"),
            "{dir}: the audit aborted instead of reporting {kind}: {}",
            r.describe()
        );
    }
}

/// A 10 MB commit message on top of a valid log.
#[test]
fn hostile_huge_commit_message() {
    let (sb, base) = setup("fwlog");
    let mut msg = b"fwlog: append 1 entries, size 3 -> 3\n\n".to_vec();
    while msg.len() < 10 << 20 {
        msg.extend_from_slice(b"entry 0 0000000000000000000000000000000000000000000000000000000000000000 \x1b[31mred\x1b[0m\n");
    }
    sb.write("msg.txt", &msg);
    tamper(&sb, "log", &[], Some(&sb.path("msg.txt")));
    let line = battery(
        &sb,
        &base,
        "10 MB commit message",
        &Expect {
            verify_ok: true,
            verify_says: &["log verified"],
            bounded_memory: false,
        },
    );
    assert!(line.contains("append         exit 0"), "{line}");
}

/// log-info with 100,000 lines (200 KB, under the cap) and with 12 MB (over it).
#[test]
fn hostile_huge_log_info() {
    for what in ["100k-line log-info", "12 MB log-info"] {
        let (sb, base) = setup("fwlog");
        let mut data = cat_blob(&sb, "log", "fwlog:log-info");
        if what.starts_with("100k") {
            data.extend(std::iter::repeat_n(*b"x\n", 100_000).flatten());
        } else {
            data.resize(12 << 20, b'x');
        }
        let b = blob(&sb, "log", &data);
        tamper(&sb, "log", &[put("log-info", "100644", "blob", b)], None);
        battery(&sb, &base, what, &TAMPERED);
    }
}

/// The duplicate index beside the repository is a cache, never trusted: 50 MB of garbage in
/// its place, or a table claiming that a new entry is already logged, changes no answer.
#[test]
fn hostile_leaf_index() {
    let (sb, _base) = setup("fwlog");
    let git_dir = sb.path("log").join(".git");
    let path = fwlog::leaf_index::index_path(&git_dir, "refs/heads/fwlog");
    let append = |file: &str| {
        let run = sb.fwlog(&["log", "append", "--repo", "log", "--key", "log.key", file]);
        assert_clean_failure(&run, Shape::OneLine);
        assert!(run.ok(), "{}", run.describe());
        run.stdout
    };
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, vec![0x5a; 50 << 20]).expect("garbage");
    assert_eq!(append("r0.json"), "0 r0.json (already logged)\n");
    assert!(std::fs::metadata(&path).expect("rebuilt").len() < 50 << 20);

    // A table that covers the log but says r3 (not logged) is entry 1.
    let r3 = std::fs::read(sb.path("r3.json")).expect("r3");
    {
        let store = fwlog::store::LogStore::open(&sb.path("log"), "fwlog").expect("open");
        let snap = store.head().expect("head");
        let mut index =
            fwlog::leaf_index::LeafIndex::open(&git_dir, "refs/heads/fwlog").expect("index");
        index.sync(&snap).expect("sync");
        let leaf = fwlog::merkle::leaf_hash(&r3);
        index
            .record(1, &[leaf], snap.size(), &snap.root())
            .expect("lie");
    }
    assert_eq!(append("r3.json"), "3 r3.json\n");
    assert_eq!(append("r3.json"), "3 r3.json (already logged)\n");
    sb.ok(&["log", "verify", "--repo", "log"]);
}

/// A batch refused by validation leaves the duplicate index as it was (its records are
/// prepared while the batch is checked, and dropped): the next append finds it in sync, with
/// nothing to rebuild, and appends the batch's valid entry as new.
#[test]
fn refused_batch_records_nothing() {
    let (sb, _base) = setup("fwlog");
    let git_dir = sb.path("log").join(".git");
    sb.write("bad.json", b"{\"payloadType\":\"nonsense\"}");
    let run = sb.fwlog(&[
        "log", "append", "--repo", "log", "--key", "log.key", "r3.json", "bad.json",
    ]);
    assert_clean_failure(&run, Shape::OneLine);
    assert!(!run.ok(), "{}", run.describe());
    {
        let store = fwlog::store::LogStore::open(&sb.path("log"), "fwlog").expect("open");
        let snap = store.head().expect("head");
        let mut index =
            fwlog::leaf_index::LeafIndex::open(&git_dir, "refs/heads/fwlog").expect("index");
        assert_eq!(
            index.sync(&snap).expect("sync"),
            0,
            "index moved or was rebuilt"
        );
    }
    let run = sb.fwlog(&[
        "log", "append", "--repo", "log", "--key", "log.key", "r3.json",
    ]);
    assert!(run.ok(), "{}", run.describe());
    assert_eq!(run.stdout, "3 r3.json\n");
}

/// `n` valid pending entries (plus three bad ones) in a general-purpose log: integrate appends
/// the valid ones in one commit and leaves the bad ones, the log verifies, the monitor follows.
fn many_pending(n: usize) {
    let (sb, base) = setup("any");
    let head = sb.git_str("log", &["rev-parse", "fwlog"]);
    let mut stream = Vec::new();
    stream.extend_from_slice(
        b"commit refs/heads/fwlog\ncommitter t <t@fwlog.invalid> 1700000000 +0000\ndata 8\npending\n",
    );
    stream.extend_from_slice(format!("from {head}\n").as_bytes());
    let mut add = |path: &[u8], data: &[u8]| {
        stream.extend_from_slice(b"M 100644 inline ");
        stream.extend_from_slice(path);
        stream.extend_from_slice(format!("\ndata {}\n", data.len()).as_bytes());
        stream.extend_from_slice(data);
        stream.push(b'\n');
    };
    for i in 0..n {
        let e = format!("pending entry number {i}\n");
        add(
            fwlog::store::pending_path(e.as_bytes()).as_bytes(),
            e.as_bytes(),
        );
    }
    add(b"pending/not-a-hash.entry", b"misnamed\n");
    add(fwlog::store::pending_path(b"").as_bytes(), b"");
    add(b"pending/\xff\xfe.entry", b"not utf-8 name\n");
    stream.push(b'\n');
    sb.git("log", &["fast-import", "--quiet"], Some(&stream));

    let r = sb.fwlog(&["log", "integrate", "--repo", "log", "--key", "log.key"]);
    assert_clean_failure(&r, Shape::Integrate);
    println!(
        "{n} pending: integrate exit {:?} in {:?}, {} left in place",
        r.code,
        r.elapsed,
        r.stderr.matches("left in place").count()
    );
    // Three bad files: exit 1, each named; everything else logged.
    assert_eq!(r.code, Some(1), "{}", r.describe());
    assert_eq!(
        r.stderr.matches("left in place").count(),
        3,
        "{}",
        r.describe()
    );
    assert!(
        r.stderr.contains(&format!("log size 3 -> {}", n + 3)),
        "{}",
        r.describe()
    );
    let v = sb.fwlog(&["log", "verify", "--repo", "log", "--log-key", &base.vkey]);
    assert!(v.ok(), "{}", v.describe());
    let files = sb.git(
        "log",
        &["ls-tree", "-r", "-z", "--name-only", "fwlog", "pending"],
        None,
    );
    assert_eq!(
        files.split(|&b| b == 0).filter(|f| !f.is_empty()).count(),
        3
    );
    // Integrating again changes nothing and says so.
    let r = sb.fwlog(&["log", "integrate", "--repo", "log", "--key", "log.key"]);
    assert_clean_failure(&r, Shape::Integrate);
    assert!(
        r.stderr.contains("nothing to integrate"),
        "{}",
        r.describe()
    );
    // The monitor follows the big step.
    let m = sb.fwlog(&[
        "monitor",
        "--remote",
        &base.remote,
        "--log-key",
        &base.vkey,
        "--state",
        "st-old",
    ]);
    assert!(m.ok(), "{}", m.describe());
}

#[test]
fn hostile_thousand_pending() {
    many_pending(1_000);
}

/// `pending()` reads each file with `Tree::get_path`, and libgit2 does not cache trees over
/// 4 KiB: the whole `pending/` tree is re-read, inflated and SHA-1-checked per file, O(n²).
/// Measured: 1,000 files 2.3 s, 2,000 7.9 s, 4,000 20 s; 10,000 pass the 30 s deadline.
#[test]
fn hostile_ten_thousand_pending() {
    many_pending(10_000);
}

/// A `.git` directory in the log's tree must never reach the checkout's own `.git`.
#[test]
fn hostile_dot_git_entry_is_not_written_into_the_git_dir() {
    let (sb, _base) = setup("fwlog");
    let marker = blob(&sb, "log", b"written by a hostile tree\n");
    let config = blob(
        &sb,
        "log",
        format!(
            "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = \"touch {}/pwned; false\"\n",
            sb.work.display()
        )
        .as_bytes(),
    );
    tamper(
        &sb,
        "log",
        &[
            put(".git/fwlog-pwned", "100644", "blob", marker),
            put(".git/config", "100644", "blob", config),
        ],
        None,
    );
    let git_config = std::fs::read(sb.path("log/.git/config")).expect("config");
    sb.ok(&[
        "log", "append", "--repo", "log", "--key", "log.key", "r3.json",
    ]);
    assert!(
        !sb.path("log/.git/fwlog-pwned").exists(),
        "fwlog wrote a tree entry into the repository's .git directory"
    );
    assert_eq!(
        std::fs::read(sb.path("log/.git/config")).expect("config"),
        git_config,
        "fwlog overwrote .git/config from the tree"
    );
}

/// The offline bundle, truncated at many lengths, through `fwlog verify`.
#[test]
fn hostile_truncated_offline_bundles() {
    let (sb, base) = setup("fwlog");
    sb.ok(&[
        "bundle",
        "--repo",
        "log",
        "--sha256",
        &base.artifact,
        "--out",
        "b.json",
    ]);
    let policy = format!(
        "[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n[[vendors]]\nkey = \"{}\"\nfirmware = [\"hostile-fw\"]\n",
        base.vkey,
        vendor_of(&sb)
    );
    sb.write("policy.toml", policy.as_bytes());
    let verify = |file: &str| {
        sb.fwlog(&[
            "verify",
            "--policy",
            "policy.toml",
            "--bundle",
            file,
            "--sha256",
            &base.artifact,
        ])
    };
    assert!(verify("b.json").ok(), "{}", verify("b.json").describe());
    let bundle = std::fs::read(sb.path("b.json")).expect("bundle");
    let mut lengths: Vec<usize> = (0..bundle.len()).step_by(bundle.len() / 23 + 1).collect();
    lengths.extend([1, bundle.len() - 1, bundle.len() / 2]);
    for len in lengths {
        sb.write("t.json", &bundle[..len]);
        let r = verify("t.json");
        assert!(!r.ok(), "truncated to {len}: {}", r.describe());
        assert_clean_failure(&r, Shape::OneLine);
    }
}

/// The vendor key of r0.json, from its DSSE keyid.
fn vendor_of(sb: &Sandbox) -> String {
    let entry = std::fs::read(sb.path("r0.json")).expect("r0");
    fwlog::entry::parse_entry(&entry)
        .expect("entry")
        .signer
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// 2. Resource caps through the CLI (those not covered by cli_core, cli_log, cli_release)
// ---------------------------------------------------------------------------------------------

fn fail_line(run: &Run) -> String {
    assert!(!run.ok(), "expected failure: {}", run.describe());
    assert_clean_failure(run, Shape::OneLine);
    run.stderr.trim().to_string()
}

/// A note of exactly 1 MiB verifies; 1 MiB + 1 is refused as over the limit.
#[test]
fn cap_note_bytes_boundary() {
    let sb = Sandbox::new();
    let key = SignerKey::generate(ORIGIN).expect("key");
    let vkey = key.verifier_key().to_string();
    let note_with = |pad: usize| {
        // 16 extension lines share the padding (each line well under the cap).
        let per = pad / 16;
        let mut ext: Vec<String> = (0..16).map(|_| "e".repeat(per)).collect();
        ext[0].push_str(&"e".repeat(pad - per * 16));
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: 1,
            root: fwlog::merkle::leaf_hash(b"x"),
            extensions: ext,
        };
        SignedCheckpoint::sign(cp, &key).expect("sign").to_bytes()
    };
    let small = note_with(16).len();
    let max = fwlog::note::MAX_NOTE_BYTES;
    let exact = note_with(16 + max - small);
    assert_eq!(exact.len(), max);
    sb.write("max.cp", &exact);
    let out = sb.ok(&["checkpoint", "verify", "max.cp", "--log-key", &vkey]);
    assert!(out.contains("size 1"), "{out}");
    let mut over = exact.clone();
    over.insert(0, b'x');
    sb.write("over.cp", &over);
    let line = fail_line(&sb.fwlog(&["checkpoint", "verify", "over.cp", "--log-key", &vkey]));
    assert!(line.contains("limit") && line.contains("1048576"), "{line}");
    // Signed at 1 MiB + 1 cannot even be produced by the library.
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 1,
        root: fwlog::merkle::leaf_hash(b"x"),
        extensions: vec!["e".repeat(max)],
    };
    assert!(SignedCheckpoint::sign(cp, &key).is_err());
}

/// 100 signature lines (the log's and 99 unknown keys') verify; 101 are refused.
#[test]
fn cap_signature_lines() {
    let sb = Sandbox::new();
    let key = SignerKey::generate(ORIGIN).expect("key");
    let vkey = key.verifier_key().to_string();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 5,
        root: fwlog::merkle::leaf_hash(b"x"),
        extensions: vec![],
    };
    let note = String::from_utf8(SignedCheckpoint::sign(cp, &key).expect("sign").to_bytes())
        .expect("utf-8");
    let unknown = |n: usize| {
        (0..n)
            .map(|i| {
                let k = SignerKey::generate(&format!("other{i}.example/key")).expect("key");
                let sig = fwlog::note::NoteSignature {
                    name: k.name().to_string(),
                    key_id: k.key_id(),
                    sig: k.sign(b"anything").to_vec(),
                };
                sig.to_line()
            })
            .collect::<String>()
    };
    let lines = unknown(100);
    let hundred = format!(
        "{note}{}",
        lines
            .lines()
            .take(99)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    sb.write("100.cp", hundred.as_bytes());
    sb.ok(&["checkpoint", "verify", "100.cp", "--log-key", &vkey]);
    let hundred_one = format!("{note}{lines}");
    sb.write("101.cp", hundred_one.as_bytes());
    let line = fail_line(&sb.fwlog(&["checkpoint", "verify", "101.cp", "--log-key", &vkey]));
    assert!(line.contains("100"), "{line}");
    // The same through a proof file.
    let proof = format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{hundred_one}");
    sb.write("101.proof", proof.as_bytes());
    sb.write("e.bin", b"x");
    let line = fail_line(&sb.fwlog(&[
        "proof",
        "verify",
        "101.proof",
        "--log-key",
        &vkey,
        "--leaf",
        "e.bin",
    ]));
    assert!(line.contains("100"), "{line}");
}

/// A proof of 63 hashes parses (and fails only on inclusion); 64 hashes are refused as such.
#[test]
fn cap_proof_hashes() {
    let sb = Sandbox::new();
    let key = SignerKey::generate(ORIGIN).expect("key");
    let vkey = key.verifier_key().to_string();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: u64::MAX,
        root: fwlog::merkle::leaf_hash(b"x"),
        extensions: vec![],
    };
    let note = String::from_utf8(SignedCheckpoint::sign(cp, &key).expect("sign").to_bytes())
        .expect("utf-8");
    let h = fwlog::merkle::leaf_hash(b"h").to_base64();
    sb.write("e.bin", b"x");
    for (n, needle) in [(63, "inclusion"), (64, "more than 63")] {
        let proof = format!(
            "c2sp.org/tlog-proof@v1\nindex 0\n{}\n{note}",
            format!("{h}\n").repeat(n)
        );
        let file = format!("{n}.proof");
        sb.write(&file, proof.as_bytes());
        let line = fail_line(&sb.fwlog(&[
            "proof",
            "verify",
            &file,
            "--log-key",
            &vkey,
            "--leaf",
            "e.bin",
        ]));
        assert!(line.contains(needle), "{n}: {line}");
    }
}

/// Bundles over 24 MiB and policies over 1 MiB are refused by size, before parsing.
#[test]
fn cap_bundle_and_policy_bytes() {
    let (sb, base) = setup("fwlog");
    sb.ok(&[
        "bundle",
        "--repo",
        "log",
        "--sha256",
        &base.artifact,
        "--out",
        "b.json",
    ]);
    let policy = format!(
        "[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n[[vendors]]\nkey = \"{}\"\nfirmware = [\"hostile-fw\"]\n",
        base.vkey,
        vendor_of(&sb)
    );
    sb.write("policy.toml", policy.as_bytes());
    let mut big = std::fs::read(sb.path("b.json")).expect("bundle");
    big.resize(fwlog::bundle::MAX_BUNDLE_BYTES + 1, b' ');
    sb.write("big.json", &big);
    let r = sb.fwlog(&[
        "verify",
        "--policy",
        "policy.toml",
        "--bundle",
        "big.json",
        "--sha256",
        &base.artifact,
    ]);
    let line = fail_line(&r);
    assert!(
        line.contains("25165824") && line.contains("limit"),
        "{line}"
    );
    assert!(r.maxrss_kib < MAX_RSS_KIB, "{}", r.describe());

    let mut big = policy.clone().into_bytes();
    big.extend(std::iter::repeat_n(b'#', fwlog::policy::MAX_POLICY_BYTES));
    sb.write("big.toml", &big);
    for args in [
        vec![
            "verify", "--policy", "big.toml", "--bundle", "b.json", "--sha256",
        ],
        vec!["allowlist", "--repo", "log", "--policy", "big.toml"],
        vec![
            "monitor",
            "--remote",
            &base.remote,
            "--log-key",
            &base.vkey,
            "--state",
            "st-p",
            "--policy",
            "big.toml",
        ],
    ] {
        let mut args = args;
        if args[0] == "verify" {
            args.push(&base.artifact);
        }
        let line = fail_line(&sb.fwlog(&args));
        assert!(line.contains("1048576") && line.contains("limit"), "{line}");
    }
    assert!(!sb.path("st-p/monitor.json").exists());
}

// ---------------------------------------------------------------------------------------------
// 3. SIGKILL loops (ignored; `scripts/stress.sh` runs them)
// ---------------------------------------------------------------------------------------------

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn iterations() -> usize {
    std::env::var("FWLOG_STRESS_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn seed() -> u64 {
    std::env::var("FWLOG_STRESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// How a killed run went.
struct Killed {
    /// It exited by itself before the kill.
    finished: Option<std::process::ExitStatus>,
    /// Children of it were still running after it died (waited for).
    orphans: bool,
}

/// Starts `cmd` in its own process group, SIGKILLs the process (only it: its children live on,
/// as after a crash) after `delay` unless it finished, then waits until every process of the
/// group is gone (reaping the orphans itself, as a child subreaper).
fn run_and_kill(mut cmd: Command, delay: Duration) -> Killed {
    use std::os::unix::process::CommandExt as _;
    static SUBREAPER: std::sync::Once = std::sync::Once::new();
    SUBREAPER.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer flag and touches no memory. Orphans
        // of killed children then become our children, reaped below, instead of init's.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "prctl: {}", std::io::Error::last_os_error());
    });
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn");
    let pgid = child.id() as libc::pid_t;
    let deadline = Instant::now() + delay;
    let finished = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep((deadline - now).min(Duration::from_micros(300)));
    };
    let mut orphans = false;
    let start = Instant::now();
    loop {
        // Orphans were reparented to this process (a subreaper): reap those that exited.
        // SAFETY: waitpid on members of a process group we created; no memory is passed.
        while unsafe { libc::waitpid(-pgid, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        // SAFETY: kill with signal 0 only checks whether the group still has members.
        if unsafe { libc::kill(-pgid, 0) } != 0 {
            break;
        }
        orphans = true;
        assert!(
            start.elapsed() < DEADLINE,
            "children of a killed fwlog still run after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    Killed { finished, orphans }
}

/// A log in `dir/log` (`any` entries), for the loops.
struct StressLog {
    dir: tempfile::TempDir,
    vkey: fwlog::note::VerifierKey,
    vkey_str: String,
}

impl StressLog {
    fn new() -> StressLog {
        let log = common::Log::new(ORIGIN);
        let vkey = fwlog::note::VerifierKey::parse(&log.vkey).expect("vkey");
        StressLog {
            vkey_str: log.vkey.clone(),
            vkey,
            dir: log.dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self) -> PathBuf {
        self.path().join("log")
    }

    fn fwlog(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(common::bin());
        cmd.args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_NAME", "fwlog test")
            .env("GIT_AUTHOR_EMAIL", "test@fwlog.invalid")
            .env("GIT_COMMITTER_NAME", "fwlog test")
            .env("GIT_COMMITTER_EMAIL", "test@fwlog.invalid");
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.fwlog(args).output().expect("run fwlog");
        assert!(
            out.status.success(),
            "fwlog {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A stale ref lock left by a killed writer: removed as the error message tells the
    /// operator to. Returns whether there was one.
    fn clear_ref_lock(&self) -> bool {
        let lock = self.repo().join(".git/refs/heads/fwlog.lock");
        let stale = lock.exists();
        if stale {
            std::fs::remove_file(&lock).expect("remove lock");
        }
        stale
    }

    /// Size and checkpoint bytes at the branch head; the checkpoint must verify and the right
    /// edge must hash to it.
    fn head(&self) -> (u64, Vec<u8>) {
        let store =
            fwlog::store::LogStore::open(&self.repo(), fwlog::store::DEFAULT_BRANCH).expect("open");
        let snap = store.head().expect("head");
        snap.checkpoint
            .verify(&self.vkey, Some(ORIGIN), &[], 0)
            .expect("checkpoint verifies");
        snap.check_right_edge().expect("right edge");
        (snap.size(), snap.checkpoint_bytes.clone())
    }

    /// The full audit, in process (what `fwlog log verify` runs).
    fn audit(&self) {
        let store =
            fwlog::store::LogStore::open(&self.repo(), fwlog::store::DEFAULT_BRANCH).expect("open");
        let report = fwlog::audit::audit(
            &store,
            None,
            Some(&self.vkey),
            &fwlog::store::AnyEntry,
            &mut |_, _, _| {},
        )
        .expect("audit runs");
        assert!(report.ok(), "audit: {:?}", report.findings);
    }

    fn pending(&self) -> BTreeSet<String> {
        let store =
            fwlog::store::LogStore::open(&self.repo(), fwlog::store::DEFAULT_BRANCH).expect("open");
        store
            .pending()
            .expect("pending")
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// A stale `index.lock` left by a killed writer in the checkout, removed as git's message
    /// tells the user to. Returns whether there was one.
    fn clear_index_lock(&self) -> bool {
        let lock = self.repo().join(".git/index.lock");
        let stale = lock.exists();
        if stale {
            std::fs::remove_file(&lock).expect("remove index.lock");
        }
        stale
    }

    /// After a later fwlog write (which brings a clean checkout along): is the checkout in step
    /// with the branch? If not, fwlog could not heal it: `git reset --hard`, as a user would.
    fn checkout_stuck(&self) -> bool {
        if self.git_clean() {
            return false;
        }
        let out = Command::new("git")
            .args(["reset", "--hard", "-q"])
            .current_dir(self.repo())
            .output()
            .expect("git reset");
        assert!(out.status.success(), "git reset --hard failed");
        true
    }

    fn git_clean(&self) -> bool {
        Command::new("git")
            .args(["status", "--porcelain"])
            .current_dir(self.repo())
            .output()
            .map(|o| o.status.success() && o.stdout.is_empty())
            .unwrap_or(false)
    }
}

/// The middle one of three measurements.
fn median_of_3(mut f: impl FnMut() -> Duration) -> Duration {
    let mut d = [f(), f(), f()];
    d.sort();
    d[1]
}

/// Calibrates the kill window: the duration of one unkilled run of `cmd`.
fn timed(mut cmd: Command) -> Duration {
    let t = Instant::now();
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "calibration run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed()
}

/// Uniform in 0 ..= 1.2 × typical, so kills land in every phase and a few runs finish.
fn random_delay(rng: &mut Rng, typical: Duration) -> Duration {
    let max = (typical.as_micros() as u64 * 6 / 5).max(2_000);
    Duration::from_micros(rng.below(max))
}

#[derive(Default, Debug)]
struct Counts(std::collections::BTreeMap<&'static str, usize>);

impl Counts {
    fn add(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }

    fn line(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `fwlog log integrate` killed at random points: every time the log verifies, the batch is
/// all or nothing (all pending files integrated and removed, or all still pending), and the
/// next integrate finishes the job.
#[test]
#[ignore = "stress: run by scripts/stress.sh (FWLOG_STRESS_ITERATIONS, default 200)"]
fn stress_kill_integrate() {
    let seed = seed();
    let mut rng = Rng(seed);
    let log = StressLog::new();
    let integrate = ["log", "integrate", "--repo", "log", "--key", "log.key"];
    // Calibrate on a typical batch.
    let mut counter = 0usize;
    let mut submit = |log: &StressLog, rng: &mut Rng| -> BTreeSet<String> {
        let k = 1 + rng.below(20) as usize;
        let files: Vec<String> = (0..k)
            .map(|_| {
                counter += 1;
                let name = format!("p{counter}.bin");
                std::fs::write(log.path().join(&name), format!("pending {counter}\n"))
                    .expect("write");
                name
            })
            .collect();
        let mut args = vec!["submit", "--repo", "log"];
        args.extend(files.iter().map(String::as_str));
        log.ok(&args)
            .lines()
            .map(|l| l.split(' ').next().expect("path").to_string())
            .collect()
    };
    let typical = median_of_3(|| {
        submit(&log, &mut rng);
        timed(log.fwlog(&integrate))
    });
    let mut counts = Counts::default();
    let n = iterations();
    let start = Instant::now();
    for _ in 0..n {
        let batch = submit(&log, &mut rng);
        if log.checkout_stuck() {
            counts.add("checkout_not_healed_by_next_write");
        }
        let (old, _) = log.head();
        assert_eq!(log.pending(), batch);
        let killed = run_and_kill(log.fwlog(&integrate), random_delay(&mut rng, typical));
        if log.clear_ref_lock() {
            counts.add("stale_ref_lock");
        }
        if log.clear_index_lock() {
            counts.add("stale_index_lock");
        }
        let (size, _) = log.head();
        let pending = log.pending();
        match killed.finished {
            Some(s) => {
                assert!(s.success(), "integrate failed by itself");
                counts.add("finished");
            }
            None if size == old => {
                assert_eq!(
                    pending, batch,
                    "killed before the commit: all still pending"
                );
                counts.add("killed_before_commit");
            }
            None => {
                assert_eq!(size, old + batch.len() as u64, "all or nothing");
                assert!(
                    pending.is_empty(),
                    "integrated but still pending: {pending:?}"
                );
                counts.add("killed_after_commit");
            }
        }
        log.audit();
        if !pending.is_empty() {
            log.ok(&integrate);
        }
        assert_eq!(log.head().0, old + batch.len() as u64);
        assert!(log.pending().is_empty());
    }
    submit(&log, &mut rng);
    log.ok(&integrate);
    if log.checkout_stuck() {
        counts.add("checkout_not_healed_by_next_write");
    }
    log.ok(&["log", "verify", "--repo", "log"]);
    println!(
        "STRESS integrate: iterations={n} seed={seed} typical_ms={} {} elapsed_s={}",
        typical.as_millis(),
        counts.line(),
        start.elapsed().as_secs()
    );
}

/// `fwlog witness cosign` killed at random points: the witness state is always the state
/// before or the checkpoint being cosigned (whole, parsing, log-signed), never a torn file; the
/// log verifies; and the next cosign succeeds.
#[test]
#[ignore = "stress: run by scripts/stress.sh (FWLOG_STRESS_ITERATIONS, default 200)"]
fn stress_kill_witness_cosign() {
    let seed = seed();
    let mut rng = Rng(seed);
    let log = StressLog::new();
    let wkey = SignerKey::generate("witness.example/w1").expect("witness key");
    let wfile = log.path().join("w.key");
    std::fs::write(&wfile, format!("{}\n", wkey.to_key_string())).expect("w.key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&wfile, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let wvkey = wkey.verifier_key_for(ALG_COSIGNATURE_V1);
    let state_dir = log.path().join("wstate");
    let state_file = state_dir.join(format!(
        "{}.checkpoint",
        hex::encode(Sha256::digest(ORIGIN.as_bytes()))
    ));
    let vkey = log.vkey_str.clone();
    let cosign = [
        "witness",
        "cosign",
        "--repo",
        "log",
        "--key",
        "w.key",
        "--state",
        "wstate",
        "--log-key",
        &vkey,
    ];
    let mut counter = 0usize;
    let mut append = |log: &StressLog| {
        counter += 1;
        let name = format!("w{counter}.bin");
        std::fs::write(log.path().join(&name), format!("witnessed {counter}\n")).expect("write");
        log.ok(&["log", "append", "--repo", "log", "--key", "log.key", &name]);
    };
    let typical = median_of_3(|| {
        append(&log);
        timed(log.fwlog(&cosign))
    });
    let mut counts = Counts::default();
    let n = iterations();
    let start = Instant::now();
    for _ in 0..n {
        append(&log);
        if log.checkout_stuck() {
            counts.add("checkout_not_healed_by_next_write");
        }
        let before = std::fs::read(&state_file).ok();
        let (size, cp) = log.head();
        let killed = run_and_kill(log.fwlog(&cosign), random_delay(&mut rng, typical));
        if log.clear_ref_lock() {
            counts.add("stale_ref_lock");
        }
        if log.clear_index_lock() {
            counts.add("stale_index_lock");
        }
        let after = std::fs::read(&state_file).ok();
        let state_moved = after.as_deref() == Some(cp.as_slice());
        assert!(
            after == before || state_moved,
            "witness state is neither before nor after"
        );
        if let Some(bytes) = &after {
            let signed = SignedCheckpoint::parse(bytes).expect("state parses");
            signed
                .verify(&log.vkey, Some(ORIGIN), &[], 0)
                .expect("state is log-signed");
        }
        let (size_now, cp_now) = log.head();
        assert_eq!(size_now, size);
        let committed = cp_now != cp;
        if committed {
            let signed = SignedCheckpoint::parse(&cp_now).expect("parses");
            signed
                .verify(&log.vkey, Some(ORIGIN), std::slice::from_ref(&wvkey), 1)
                .expect("cosigned head verifies");
        }
        counts.add(match (killed.finished, state_moved, committed) {
            (Some(s), _, _) => {
                assert!(s.success(), "cosign failed by itself");
                "finished"
            }
            (None, false, false) => "killed_before_state",
            (None, true, false) => "killed_after_state_before_commit",
            (None, true, true) => "killed_after_commit",
            (None, false, true) => panic!("committed a cosignature without storing the state"),
        });
        log.audit();
        if !committed {
            let out = log.fwlog(&cosign).output().expect("cosign");
            assert!(
                out.status.success(),
                "the next cosign fails: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (_, cp_now) = log.head();
        SignedCheckpoint::parse(&cp_now)
            .expect("parses")
            .verify(&log.vkey, Some(ORIGIN), std::slice::from_ref(&wvkey), 1)
            .expect("cosigned");
    }
    let temps = listing(&state_dir)
        .into_iter()
        .filter(|n| n.starts_with(".tmp-"))
        .count();
    log.ok(&["log", "verify", "--repo", "log"]);
    println!(
        "STRESS witness_cosign: iterations={n} seed={seed} typical_ms={} {} temp_files_left={temps} elapsed_s={}",
        typical.as_millis(),
        counts.line(),
        start.elapsed().as_secs()
    );
}

/// `fwlog monitor` killed at random points (its `git fetch` child lives on, as after a crash):
/// the state is the old file or a complete new one for the new size, and the next run succeeds
/// and reaches the new size.
#[test]
#[ignore = "stress: run by scripts/stress.sh (FWLOG_STRESS_ITERATIONS, default 200)"]
fn stress_kill_monitor() {
    let seed = seed();
    let mut rng = Rng(seed);
    let log = StressLog::new();
    let remote = log.repo().to_string_lossy().into_owned();
    let vkey = log.vkey_str.clone();
    let monitor = [
        "monitor",
        "--remote",
        &remote,
        "--log-key",
        &vkey,
        "--state",
        "mstate",
    ];
    let state_file = log.path().join("mstate/monitor.json");
    let mut counter = 0usize;
    let mut append = |log: &StressLog, rng: &mut Rng| {
        let k = 1 + rng.below(5) as usize;
        let files: Vec<String> = (0..k)
            .map(|_| {
                counter += 1;
                let name = format!("m{counter}.bin");
                std::fs::write(log.path().join(&name), format!("monitored {counter}\n"))
                    .expect("write");
                name
            })
            .collect();
        let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
        args.extend(files.iter().map(String::as_str));
        log.ok(&args);
    };
    let typical = median_of_3(|| {
        append(&log, &mut rng);
        timed(log.fwlog(&monitor))
    });
    let size_of = |bytes: &[u8]| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(bytes).expect("monitor.json is JSON");
        v["size"].as_u64().expect("size")
    };
    let mut counts = Counts::default();
    let n = iterations();
    let start = Instant::now();
    for _ in 0..n {
        append(&log, &mut rng);
        let before = std::fs::read(&state_file).expect("state");
        let old = size_of(&before);
        let (new, _) = log.head();
        let killed = run_and_kill(log.fwlog(&monitor), random_delay(&mut rng, typical));
        if killed.orphans {
            counts.add("git_outlived_fwlog");
        }
        let after = std::fs::read(&state_file).expect("state");
        let size = size_of(&after);
        match (killed.finished, size) {
            (Some(s), _) => {
                assert!(s.success(), "monitor failed by itself");
                assert_eq!(size, new);
                counts.add("finished");
            }
            (None, s) if s == old => {
                assert_eq!(after, before, "state changed but kept the old size");
                counts.add("killed_state_old");
            }
            (None, s) => {
                assert_eq!(s, new, "state moved to a size that is neither old nor new");
                counts.add("killed_state_new");
            }
        }
        let out = log.fwlog(&monitor).output().expect("monitor");
        assert!(
            out.status.success(),
            "the next monitor run fails: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(size_of(&std::fs::read(&state_file).expect("state")), new);
    }
    let temps = listing(&log.path().join("mstate"))
        .into_iter()
        .filter(|n| n.starts_with(".tmp-"))
        .count();
    println!(
        "STRESS monitor: iterations={n} seed={seed} typical_ms={} {} temp_files_left={temps} elapsed_s={}",
        typical.as_millis(),
        counts.line(),
        start.elapsed().as_secs()
    );
}
