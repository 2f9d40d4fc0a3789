//! End-to-end and tamper tests for the Git-backed log (`fwlog log …`, `fwlog submit`): the real
//! binary against real repositories, checked with real `git`, tampered with git plumbing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use base64::Engine as _;
use common::{fails, fwlog_in, git, keygen, ok, Log};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "example.com/fwlog-test";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs real git with extra environment (e.g. a private GIT_INDEX_FILE); returns raw stdout.
fn git_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Vec<u8> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "tamperer")
        .env("GIT_AUTHOR_EMAIL", "t@fwlog.invalid")
        .env("GIT_COMMITTER_NAME", "tamperer")
        .env("GIT_COMMITTER_EMAIL", "t@fwlog.invalid");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The bytes of `rev:path` (binary safe).
fn blob(repo: &Path, rev: &str, path: &str) -> Vec<u8> {
    git_env(repo, &["cat-file", "blob", &format!("{rev}:{path}")], &[])
}

fn rev_parse(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", rev]).trim().to_string()
}

fn commit_count(repo: &Path, rev: &str) -> u64 {
    git(repo, &["rev-list", "--count", rev])
        .trim()
        .parse()
        .unwrap()
}

/// Every file path in the tree of `rev`, from `git ls-tree -r --name-only`.
fn tree_files(repo: &Path, rev: &str) -> BTreeSet<String> {
    git(repo, &["ls-tree", "-r", "--name-only", rev])
        .lines()
        .map(str::to_string)
        .collect()
}

/// One change to a tree: write `Some(bytes)` at a path, or remove it.
type Edit<'a> = (&'a str, Option<&'a [u8]>);

/// Builds (with plumbing only: hash-object, read-tree, update-index, write-tree, commit-tree)
/// a commit whose tree is `base`'s tree with `edits` applied and whose parent is `parent`.
/// Does not move any ref; returns the new commit id.
fn forge_commit(repo: &Path, base: &str, edits: &[Edit<'_>], parent: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let env: [(&str, &Path); 1] = [("GIT_INDEX_FILE", &index)];
    git_env(repo, &["read-tree", base], &env);
    for (n, (path, data)) in edits.iter().enumerate() {
        match data {
            Some(bytes) => {
                let file = tmp.path().join(format!("blob{n}"));
                std::fs::write(&file, bytes).unwrap();
                let oid = git(repo, &["hash-object", "-w", file.to_str().unwrap()]);
                let info = format!("100644,{},{path}", oid.trim());
                git_env(repo, &["update-index", "--add", "--cacheinfo", &info], &env);
            }
            None => {
                git_env(repo, &["update-index", "--force-remove", path], &env);
            }
        }
    }
    let tree = String::from_utf8(git_env(repo, &["write-tree"], &env)).unwrap();
    let mut args = vec!["commit-tree", tree.trim(), "-m", "tampered"];
    if let Some(p) = parent {
        args.extend(["-p", p]);
    }
    git(repo, &args).trim().to_string()
}

/// Commits `edits` on top of the branch `fwlog` and moves the branch there (a fast-forward).
fn tamper(repo: &Path, edits: &[Edit<'_>]) -> String {
    let commit = forge_commit(repo, "fwlog", edits, Some("fwlog"));
    git(repo, &["update-ref", "refs/heads/fwlog", &commit]);
    commit
}

fn assert_no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "panic: {stderr}");
}

/// Asserts a failure reported as exactly one `fwlog: …` line; returns it.
fn one_error_line(stderr: &str) -> String {
    assert_no_panic(stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("fwlog: "), "{stderr}");
    lines[0].to_string()
}

/// The outcome of `fwlog log verify --json`.
struct Verdict {
    success: bool,
    json: Value,
    stderr: String,
}

impl Verdict {
    fn kinds(&self, severity: &str) -> BTreeSet<String> {
        self.json["findings"]
            .as_array()
            .expect("findings array")
            .iter()
            .filter(|f| f["severity"] == severity)
            .map(|f| f["kind"].as_str().unwrap().to_string())
            .collect()
    }
    fn errors(&self) -> BTreeSet<String> {
        self.kinds("error")
    }
    fn warnings(&self) -> BTreeSet<String> {
        self.kinds("warning")
    }
    fn findings_of(&self, kind: &str) -> Vec<&Value> {
        self.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == kind)
            .collect()
    }
    /// Fails with the findings when `kind` is not among the errors, or the audit passed.
    fn expect_error(&self, kind: &str) {
        assert!(!self.success, "verify passed: {}", self.json);
        assert!(
            self.errors().contains(kind),
            "no {kind} error in {:#}",
            self.json["findings"]
        );
        assert_no_panic(&self.stderr);
    }
}

fn verify_in(dir: &Path, repo: &str, extra: &[&str]) -> Verdict {
    let mut args = vec!["log", "verify", "--repo", repo, "--json"];
    args.extend_from_slice(extra);
    let out = fwlog_in(dir, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_panic(&stderr);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json printed no JSON ({e}): stdout {:?} stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let success = out.status.success();
    // Exit status and findings agree: non-zero exactly when there is an error finding.
    let has_error = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["severity"] == "error");
    assert_eq!(success, !has_error, "exit status vs findings: {json:#}");
    Verdict {
        success,
        json,
        stderr,
    }
}

fn verify(log: &Log, extra: &[&str]) -> Verdict {
    verify_in(log.path(), "log", extra)
}

/// RFC 9162 leaf hash, computed here independently of the crate.
fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn entry_text(i: usize) -> String {
    format!("entry number {i}\n")
}

/// C2SP tlog-tiles `<N>`: 3-digit groups, all but the last prefixed with `x`.
fn tile_index(n: u64) -> String {
    let mut groups = vec![];
    let mut n = n;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g:03}/")
            } else {
                format!("{g:03}")
            }
        })
        .collect()
}

/// The tiles C2SP tlog-tiles says exist for a tree of `size` (full tiles plus the partial tile
/// of each level), written independently of the crate's own `expected_tiles`.
fn expected_tiles(size: u64) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |dir: &str, n: u64| {
        for i in 0..n / 256 {
            out.insert(format!("tile/{dir}/{}", tile_index(i)));
        }
        if !n.is_multiple_of(256) {
            out.insert(format!("tile/{dir}/{}.p/{}", tile_index(n / 256), n % 256));
        }
    };
    add("entries", size);
    let mut level = 0;
    let mut n = size;
    while n > 0 {
        add(&level.to_string(), n);
        n /= 256;
        level += 1;
    }
    out
}

/// Asserts the tree of `rev` holds exactly checkpoint, log-info, the tiles for `size` and
/// index shards.
fn assert_tree_layout(repo: &Path, rev: &str, size: u64) {
    let files = tree_files(repo, rev);
    let tiles: BTreeSet<String> = files
        .iter()
        .filter(|f| f.starts_with("tile/"))
        .cloned()
        .collect();
    assert_eq!(tiles, expected_tiles(size), "tiles at size {size}");
    for f in &files {
        let ok = f == "checkpoint" || f == "log-info" || f.starts_with("tile/");
        assert!(ok, "unexpected file {f} at size {size}");
    }
    assert!(files.contains("checkpoint") && files.contains("log-info"));
}

/// The `checkpoint` file of `rev`, split into (size, root).
fn checkpoint_of(repo: &Path, rev: &str) -> (u64, String) {
    let text = String::from_utf8(blob(repo, rev, "checkpoint")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    (lines[1].parse().unwrap(), lines[2].to_string())
}

/// A log of 300 entries (`e0.bin`…`e299.bin`) appended in batches of 1, 99, 160 and 40:
/// sizes 1, 100, 260 (across the first tile boundary) and 300. Built once per test process
/// (every fwlog commit is fsynced, which is slow on a busy disk), then copied for each test:
/// the repository, its reflog, the key file (mode kept) and the entry files.
fn log300() -> Log {
    static TEMPLATE: OnceLock<(PathBuf, String)> = OnceLock::new();
    let (src, vkey) = TEMPLATE.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_templates(base);
        let dir = base.join(format!("cli_log-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let vkey = keygen(&dir, ORIGIN, "log.key");
        ok(
            &dir,
            &[
                "log",
                "init",
                "--repo",
                "log",
                "--origin",
                ORIGIN,
                "--key",
                "log.key",
                "--entries",
                "any",
            ],
        );
        let mut start = 0;
        for n in [1, 99, 160, 40] {
            let mut args = vec![
                "log".to_string(),
                "append".into(),
                "--repo".into(),
                "log".into(),
                "--key".into(),
                "log.key".into(),
            ];
            for i in start..start + n {
                std::fs::write(dir.join(format!("e{i}.bin")), entry_text(i)).unwrap();
                args.push(format!("e{i}.bin"));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ok(&dir, &args);
            start += n;
        }
        (dir, vkey)
    });
    let dir = tempfile::tempdir().unwrap();
    copy_dir(src, dir.path());
    Log {
        dir,
        vkey: vkey.clone(),
    }
}

/// Templates left by test processes that are gone (Linux: no /proc/<pid>).
fn remove_stale_templates(base: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("cli_log-template-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn append_files(log: &Log, files: &[String], extra: &[&str]) -> String {
    let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(String::as_str));
    ok(log.path(), &args)
}

fn prove_and_check(dir: &Path, repo: &str, vkey: &str, index: u64, entry: &str) {
    let proof = format!("p{index}.tlog-proof");
    let idx = index.to_string();
    ok(
        dir,
        &[
            "log", "prove", "--repo", repo, "--index", &idx, "--out", &proof,
        ],
    );
    let text = std::fs::read_to_string(dir.join(&proof)).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\n"), "{text}");
    assert!(text.contains(&format!("\nindex {index}\n")), "{text}");
    let out = ok(
        dir,
        &[
            "proof",
            "verify",
            &proof,
            "--log-key",
            vkey,
            "--leaf",
            entry,
        ],
    );
    assert!(out.contains(&format!("index {index}")), "{out}");
}

// ---------------------------------------------------------------------------------------------
// 1. End to end
// ---------------------------------------------------------------------------------------------

#[test]
fn e2e_batches_across_the_tile_boundary() {
    let log = Log::new(ORIGIN);
    let repo = log.repo();
    assert_eq!(commit_count(&repo, "fwlog"), 1);
    assert_tree_layout(&repo, "fwlog", 0);
    assert_eq!(checkpoint_of(&repo, "fwlog").0, 0);
    let v = verify(&log, &[]);
    assert!(v.success && v.json["size"] == 0, "{}", v.json);

    // Re-initialising is refused with a clear message, and changes nothing.
    let head = rev_parse(&repo, "fwlog");
    let err = fails(
        log.path(),
        &[
            "log",
            "init",
            "--repo",
            "log",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    let line = one_error_line(&err);
    assert!(
        line.contains("already exists") && line.contains("fwlog"),
        "{line}"
    );
    assert_eq!(rev_parse(&repo, "fwlog"), head);

    let mut start = 0usize;
    let mut commits = 1;
    for n in [1usize, 99, 160, 40] {
        let files = log.write_entries(start, n);
        let out = log.append(&files);
        let expected: String = (start..start + n)
            .map(|i| format!("{i} e{i}.bin\n"))
            .collect();
        assert_eq!(out, expected);
        start += n;
        commits += 1;
        let size = start as u64;
        assert_eq!(
            commit_count(&repo, "fwlog"),
            commits,
            "one commit per batch"
        );
        let subject = git(&repo, &["log", "-1", "--format=%s", "fwlog"]);
        assert!(
            subject
                .split(|c: char| !c.is_ascii_digit())
                .any(|w| w == size.to_string()),
            "commit message does not name size {size}: {subject}"
        );
        assert_tree_layout(&repo, "fwlog", size);
        assert_eq!(checkpoint_of(&repo, "fwlog").0, size);
    }
    // The exact tile set at 300, spelled out.
    let tiles: Vec<String> = tree_files(&repo, "fwlog")
        .into_iter()
        .filter(|f| f.starts_with("tile/"))
        .collect();
    assert_eq!(
        tiles,
        [
            "tile/0/000",
            "tile/0/001.p/44",
            "tile/1/000.p/1",
            "tile/entries/000",
            "tile/entries/001.p/44"
        ]
    );
    // Older commits keep their own tile sets (size 100: one partial per level).
    assert_tree_layout(&repo, "fwlog~2", 100);

    // The non-bare checkout followed the branch, tiles readable from disk.
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
    assert_eq!(git(&repo, &["diff", "--stat", "fwlog"]), "");
    assert_eq!(
        std::fs::read(repo.join("tile/entries/000")).unwrap(),
        blob(&repo, "fwlog", "tile/entries/000")
    );

    // list, plain and JSON.
    let list = ok(log.path(), &["log", "list", "--repo", "log"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 300);
    for (i, line) in lines.iter().enumerate() {
        let e = entry_text(i);
        let want = format!(
            "{i} {} {} {} bytes",
            b64(&leaf_hash(e.as_bytes())),
            e.len(),
            e.len()
        );
        assert_eq!(*line, want);
    }
    let list: Value =
        serde_json::from_str(&ok(log.path(), &["log", "list", "--repo", "log", "--json"])).unwrap();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 300);
    for (i, row) in rows.iter().enumerate() {
        let e = entry_text(i);
        assert_eq!(row["index"], i);
        assert_eq!(row["leaf_hash"], b64(&leaf_hash(e.as_bytes())));
        assert_eq!(row["size"], e.len());
        assert_eq!(row["summary"], format!("{} bytes", e.len()));
    }

    // Proofs for entries in full and partial tiles, checked by `fwlog proof verify`.
    for i in [0u64, 1, 99, 100, 255, 256, 259, 260, 299] {
        prove_and_check(log.path(), "log", &log.vkey, i, &format!("e{i}.bin"));
    }
    // Proof to stdout is the same bytes.
    let stdout = ok(
        log.path(),
        &["log", "prove", "--repo", "log", "--index", "7"],
    );
    prove_and_check(log.path(), "log", &log.vkey, 7, "e7.bin");
    assert_eq!(
        stdout,
        std::fs::read_to_string(log.path().join("p7.tlog-proof")).unwrap()
    );
    // The proof does not verify for another entry, or under another key.
    let err = fails(
        log.path(),
        &[
            "proof",
            "verify",
            "p7.tlog-proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e8.bin",
        ],
    );
    assert_no_panic(&err);
    let other = keygen(log.path(), ORIGIN, "other.key");
    let err = fails(
        log.path(),
        &[
            "proof",
            "verify",
            "p7.tlog-proof",
            "--log-key",
            &other,
            "--leaf",
            "e7.bin",
        ],
    );
    assert_no_panic(&err);

    // Real git accepts every object the appends packed (their packs and indexes are fwlog's
    // own writing), and reads the branch.
    git(&repo, &["fsck", "--strict", "--full", "--no-dangling"]);
    assert_eq!(git(&repo, &["rev-list", "--count", "fwlog"]).trim(), "5");

    // verify: exit 0 and the JSON fields.
    let (_, root) = checkpoint_of(&repo, "fwlog");
    let v = verify(&log, &[]);
    assert!(v.success, "{:#}", v.json);
    assert_eq!(v.json["origin"], ORIGIN);
    assert_eq!(v.json["size"], 300);
    assert_eq!(v.json["root"], root.as_str());
    assert_eq!(v.json["findings"], serde_json::json!([]));
    assert_eq!(v.json["key_source"], "log-info");
    let v = verify(&log, &["--log-key", &log.vkey]);
    assert!(v.success, "{:#}", v.json);
    assert_eq!(v.json["key_source"], "given");
    // An older revision verifies as itself.
    let v = verify(&log, &["--rev", "fwlog~1"]);
    assert!(v.success, "{:#}", v.json);
    assert_eq!(v.json["size"], 260);
    // Plain output.
    let out = ok(log.path(), &["log", "verify", "--repo", "log"]);
    assert!(
        out.contains("size 300") && out.contains("log verified"),
        "{out}"
    );
}

#[test]
fn init_into_existing_repo_on_a_new_branch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vkey = keygen(d, ORIGIN, "log.key");
    std::fs::create_dir(d.join("r")).unwrap();
    let r = d.join("r");
    git(&r, &["init", "-q", "-b", "main"]);
    std::fs::write(r.join("README"), "hello\n").unwrap();
    git(&r, &["add", "README"]);
    git(&r, &["commit", "-q", "-m", "first"]);
    let main = rev_parse(&r, "main");

    ok(
        d,
        &[
            "log",
            "init",
            "--repo",
            "r",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    assert_eq!(rev_parse(&r, "main"), main, "main untouched");
    assert_eq!(git(&r, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/main");
    // The log branch is its own root, not based on main.
    assert_eq!(commit_count(&r, "fwlog"), 1);

    for i in 0..3 {
        std::fs::write(d.join(format!("x{i}")), format!("x {i}\n")).unwrap();
    }
    let out = ok(
        d,
        &[
            "log", "append", "--repo", "r", "--key", "log.key", "x0", "x1", "x2",
        ],
    );
    assert_eq!(out, "0 x0\n1 x1\n2 x2\n");
    assert_tree_layout(&r, "fwlog", 3);
    // The checked-out main branch and its work tree are left alone.
    assert_eq!(git(&r, &["status", "--porcelain"]), "");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&r)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(on_disk, BTreeSet::from([".git".into(), "README".into()]));
    let v = verify_in(d, "r", &["--log-key", &vkey]);
    assert!(v.success, "{:#}", v.json);
    assert_eq!(v.json["size"], 3);
    // Re-init still refused.
    let err = fails(
        d,
        &[
            "log",
            "init",
            "--repo",
            "r",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    one_error_line(&err);
}

#[test]
fn init_with_branch_option() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vkey = keygen(d, ORIGIN, "log.key");
    ok(
        d,
        &[
            "log",
            "init",
            "--repo",
            "r",
            "--branch",
            "releases",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    let r = d.join("r");
    let branches = git(&r, &["branch", "--list", "--format=%(refname)"]);
    assert_eq!(branches.trim(), "refs/heads/releases");
    std::fs::write(d.join("a"), "a\n").unwrap();
    let out = ok(
        d,
        &[
            "log", "append", "--repo", "r", "--branch", "releases", "--key", "log.key", "a",
        ],
    );
    assert_eq!(out, "0 a\n");
    // Without --branch the default branch is looked for, and is not there.
    let err = fails(d, &["log", "list", "--repo", "r"]);
    let line = one_error_line(&err);
    assert!(line.contains("fwlog"), "{line}");
    let list = ok(d, &["log", "list", "--repo", "r", "--branch", "releases"]);
    assert_eq!(list.lines().count(), 1);
    assert_tree_layout(&r, "releases", 1);
    let v = verify_in(d, "r", &["--branch", "releases", "--log-key", &vkey]);
    assert!(v.success && v.json["size"] == 1, "{:#}", v.json);
    ok(
        d,
        &[
            "log", "prove", "--repo", "r", "--branch", "releases", "--index", "0", "--out",
            "p.proof",
        ],
    );
    ok(
        d,
        &[
            "proof",
            "verify",
            "p.proof",
            "--log-key",
            &vkey,
            "--leaf",
            "a",
        ],
    );
    // A second log in the same repository on another branch.
    ok(
        d,
        &[
            "log",
            "init",
            "--repo",
            "r",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    assert_eq!(commit_count(&r, "fwlog"), 1);
    assert_eq!(commit_count(&r, "releases"), 2);
}

#[test]
fn init_in_bare_repo() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vkey = keygen(d, ORIGIN, "log.key");
    git(d, &["init", "-q", "--bare", "bare.git"]);
    let bare = d.join("bare.git");
    ok(
        d,
        &[
            "log",
            "init",
            "--repo",
            "bare.git",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    let names: Vec<String> = (0..270)
        .map(|i| {
            let n = format!("b{i}");
            std::fs::write(d.join(&n), entry_text(i)).unwrap();
            n
        })
        .collect();
    for chunk in names.chunks(90) {
        let mut args = vec!["log", "append", "--repo", "bare.git", "--key", "log.key"];
        args.extend(chunk.iter().map(String::as_str));
        ok(d, &args);
    }
    assert_eq!(commit_count(&bare, "fwlog"), 4);
    assert_tree_layout(&bare, "fwlog", 270);
    let v = verify_in(d, "bare.git", &["--log-key", &vkey]);
    assert!(v.success && v.json["size"] == 270, "{:#}", v.json);
    prove_and_check(d, "bare.git", &vkey, 269, "b269");
    // A clone carries the whole log and verifies on its own.
    git(
        d,
        &["clone", "-q", "--branch", "fwlog", "bare.git", "clone"],
    );
    let v = verify_in(d, "clone", &["--log-key", &vkey]);
    assert!(v.success && v.json["size"] == 270, "{:#}", v.json);
}

// ---------------------------------------------------------------------------------------------
// 2. Across the level-2 boundary (65536 entries)
// ---------------------------------------------------------------------------------------------

#[test]
fn e2e_across_level_two_boundary() {
    // A bare repository (as a server holds it): no checkout to keep in step, which would
    // otherwise dominate the run time with tens of thousands of index shards.
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vkey = keygen(d, ORIGIN, "log.key");
    git(d, &["init", "-q", "--bare", "log.git"]);
    let repo = d.join("log.git");
    ok(
        d,
        &[
            "log",
            "init",
            "--repo",
            "log.git",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    let total = 65_530usize;
    std::fs::create_dir(d.join("e")).unwrap();
    let files: Vec<String> = (0..total + 10)
        .map(|i| {
            let name = format!("e/{i}");
            std::fs::write(d.join(&name), entry_text(i)).unwrap();
            name
        })
        .collect();
    let t_files = t0.elapsed();
    let append = |batch: &[String]| {
        let mut args = vec!["log", "append", "--repo", "log.git", "--key", "log.key"];
        args.extend(batch.iter().map(String::as_str));
        ok(d, &args)
    };
    let mut at = 0;
    for n in [16_383usize, 16_383, 16_383, 16_381] {
        let out = append(&files[at..at + n]);
        assert_eq!(out.lines().count(), n);
        let last = at + n - 1;
        assert_eq!(out.lines().last().unwrap(), format!("{last} e/{last}"));
        at += n;
    }
    assert_eq!(at, total);
    let t_bulk = t0.elapsed();
    assert_eq!(commit_count(&repo, "fwlog"), 5);
    assert_tree_layout(&repo, "fwlog", total as u64);
    let files_now = tree_files(&repo, "fwlog");
    assert!(files_now.contains("tile/1/000.p/255"));
    assert!(!files_now.iter().any(|f| f.starts_with("tile/2/")));

    // Cross 65536.
    let out = append(&files[total..total + 10]);
    assert_eq!(out.lines().count(), 10);
    assert_eq!(commit_count(&repo, "fwlog"), 6);
    assert_tree_layout(&repo, "fwlog", 65_540);
    let files_now = tree_files(&repo, "fwlog");
    for t in [
        "tile/2/000.p/1",
        "tile/1/000",
        "tile/0/255",
        "tile/0/256.p/4",
        "tile/entries/255",
        "tile/entries/256.p/4",
    ] {
        assert!(files_now.contains(t), "{t} missing");
    }
    assert!(!files_now.contains("tile/1/000.p/255"));
    for i in [0u64, 65_535, 65_536, 65_539] {
        prove_and_check(d, "log.git", &vkey, i, &format!("e/{i}"));
    }
    let t_verify = Instant::now();
    let v = verify_in(d, "log.git", &["--log-key", &vkey]);
    assert!(v.success, "{:#}", v.json);
    assert_eq!(v.json["size"], 65_540);
    assert_eq!(v.json["entries_checked"], 65_540);
    git(&repo, &["fsck", "--strict", "--full", "--no-dangling"]);
    eprintln!(
        "level-2 test: write files {:?}, 4 bulk appends {:?}, verify {:?}, total {:?}",
        t_files,
        t_bulk - t_files,
        t_verify.elapsed(),
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Duplicates and entry limits
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicates_are_reported_not_appended() {
    let log = Log::new(ORIGIN);
    let repo = log.repo();
    let files = log.write_entries(0, 10);
    log.append(&files);
    let head = rev_parse(&repo, "fwlog");

    // Only already-logged entries: existing indexes, no new commit.
    let out = log.append(&["e5.bin".into(), "e0.bin".into()]);
    assert_eq!(
        out,
        "5 e5.bin (already logged)\n0 e0.bin (already logged)\n"
    );
    assert_eq!(rev_parse(&repo, "fwlog"), head);
    assert_eq!(checkpoint_of(&repo, "fwlog").0, 10);

    // Same content under another name is the same entry.
    std::fs::copy(log.path().join("e3.bin"), log.path().join("copy3.bin")).unwrap();
    let out = log.append(&["copy3.bin".into()]);
    assert_eq!(out, "3 copy3.bin (already logged)\n");
    assert_eq!(rev_parse(&repo, "fwlog"), head);

    // Mixed batch with duplicates inside the batch itself.
    let new = log.write_entries(10, 2);
    std::fs::copy(log.path().join("e10.bin"), log.path().join("copy10.bin")).unwrap();
    let out = log.append(&[
        "e5.bin".into(),
        new[0].clone(),
        "copy10.bin".into(),
        new[1].clone(),
        new[0].clone(),
    ]);
    assert_eq!(
        out,
        "5 e5.bin (already logged)\n10 e10.bin\n10 copy10.bin (already logged)\n\
         11 e11.bin\n10 e10.bin (already logged)\n"
    );
    assert_eq!(checkpoint_of(&repo, "fwlog").0, 12);
    assert_eq!(commit_count(&repo, "fwlog"), 3);
    assert_eq!(
        ok(log.path(), &["log", "list", "--repo", "log"])
            .lines()
            .count(),
        12
    );

    // JSON output marks duplicates.
    let new = log.write_entries(12, 1);
    let out = append_files(&log, &["e1.bin".into(), new[0].clone()], &["--json"]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["old_size"], 12);
    assert_eq!(j["size"], 13);
    let e = j["entries"].as_array().unwrap();
    assert_eq!(
        (&e[0]["index"], &e[0]["duplicate"], &e[0]["file"]),
        (&Value::from(1), &Value::from(true), &Value::from("e1.bin"))
    );
    assert_eq!(
        (&e[1]["index"], &e[1]["duplicate"]),
        (&12.into(), &false.into())
    );
    assert_eq!(
        e[1]["leaf_hash"],
        b64(&leaf_hash(entry_text(12).as_bytes()))
    );
    let out = append_files(&log, &["e1.bin".into()], &["--json"]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&j["old_size"], &j["size"]), (&13.into(), &13.into()));
    assert!(j["commit"].is_null(), "{j}");
    let v = verify(&log, &[]);
    assert!(v.success && v.json["size"] == 13, "{:#}", v.json);
}

#[test]
fn oversized_and_empty_entries_are_refused() {
    let log = Log::new(ORIGIN);
    let repo = log.repo();
    let files = log.write_entries(0, 3);
    log.append(&files);
    let head = rev_parse(&repo, "fwlog");
    let objects = git(&repo, &["count-objects", "-v"]);
    let p = log.path();
    std::fs::write(p.join("big.bin"), vec![b'x'; 65_536]).unwrap();
    std::fs::write(p.join("max.bin"), vec![b'y'; 65_535]).unwrap();
    std::fs::write(p.join("empty.bin"), b"").unwrap();
    let new = log.write_entries(3, 1);

    for bad in ["big.bin", "empty.bin"] {
        // Alone, and in a batch with valid entries: the whole batch is refused.
        for batch in [vec![bad], vec![new[0].as_str(), bad, "e0.bin"]] {
            let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
            args.extend(batch);
            let err = fails(p, &args);
            let line = one_error_line(&err);
            assert!(line.contains(bad), "{line}");
            assert_eq!(rev_parse(&repo, "fwlog"), head, "branch moved");
        }
        let err = fails(p, &["submit", "--repo", "log", bad]);
        one_error_line(&err);
        assert_eq!(rev_parse(&repo, "fwlog"), head, "branch moved");
    }
    let err = fails(
        p,
        &[
            "log", "append", "--repo", "log", "--key", "log.key", "big.bin",
        ],
    );
    assert!(err.contains("65535"), "{err}");
    let err = fails(
        p,
        &[
            "log",
            "append",
            "--repo",
            "log",
            "--key",
            "log.key",
            "empty.bin",
        ],
    );
    assert!(err.contains("empty"), "{err}");
    assert_eq!(
        git(&repo, &["count-objects", "-v"]),
        objects,
        "objects written"
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");

    // The largest entry fits, alongside others, in one bundle.
    let out = log.append(&["max.bin".into(), new[0].clone()]);
    assert_eq!(out, "3 max.bin\n4 e3.bin\n");
    let list = ok(p, &["log", "list", "--repo", "log"]);
    assert!(list.lines().nth(3).unwrap().contains(" 65535 "), "{list}");
    prove_and_check(p, "log", &log.vkey, 3, "max.bin");
    let v = verify(&log, &[]);
    assert!(v.success && v.json["size"] == 5, "{:#}", v.json);
}

// ---------------------------------------------------------------------------------------------
// 4. submit / integrate
// ---------------------------------------------------------------------------------------------

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn submit_then_integrate() {
    let log = Log::new(ORIGIN);
    let repo = log.repo();
    let p = log.path();
    let base = log.write_entries(0, 2);
    log.append(&base);
    let subs = log.write_entries(100, 5);
    let mut args = vec!["submit", "--repo", "log"];
    args.extend(subs.iter().map(String::as_str));
    let out = ok(p, &args);
    let mut expected_paths = vec![];
    for (line, f) in out.lines().zip(&subs) {
        let want = format!(
            "pending/{}.entry",
            sha256_hex(&std::fs::read(p.join(f)).unwrap())
        );
        assert_eq!(line, format!("{want} {f}"));
        expected_paths.push(want);
    }
    // The submit commit touches only pending/.
    let touched: Vec<String> = git(&repo, &["show", "--name-only", "--format=", "fwlog"])
        .lines()
        .map(str::to_string)
        .collect();
    let mut sorted = expected_paths.clone();
    sorted.sort();
    assert_eq!(touched, sorted);
    let stat = git(&repo, &["show", "--stat=300", "--format=", "fwlog"]);
    assert!(
        stat.lines()
            .filter(|l| l.contains('|'))
            .all(|l| l.trim_start().starts_with("pending/")),
        "{stat}"
    );
    // Nothing logged yet; pending files do not trouble the audit.
    assert_eq!(checkpoint_of(&repo, "fwlog").0, 2);
    let v = verify(&log, &[]);
    assert!(v.success && v.json["size"] == 2, "{:#}", v.json);
    // Submitting again is a no-op.
    let head = rev_parse(&repo, "fwlog");
    let out = fwlog_in(p, &["submit", "--repo", "log", &subs[0]]);
    assert!(out.status.success());
    assert_eq!(rev_parse(&repo, "fwlog"), head);
    // A submitted entry that is already logged is integrated as a duplicate.
    ok(p, &["submit", "--repo", "log", &base[1]]);
    let dup_path = format!("pending/{}.entry", sha256_hex(entry_text(1).as_bytes()));

    let before = commit_count(&repo, "fwlog");
    let out = ok(
        p,
        &["log", "integrate", "--repo", "log", "--key", "log.key"],
    );
    assert_eq!(commit_count(&repo, "fwlog"), before + 1, "one commit");
    // Deterministic order: by pending file name (the SHA-256), new indexes from 2.
    let mut all = expected_paths.clone();
    all.push(dup_path.clone());
    all.sort();
    let mut next = 2;
    let mut want = String::new();
    let mut order = vec![];
    for path in &all {
        if *path == dup_path {
            want.push_str(&format!(
                "1 {path} (already logged; removed from pending)\n"
            ));
        } else {
            want.push_str(&format!("{next} {path}\n"));
            next += 1;
            order.push(path.clone());
        }
    }
    assert_eq!(out, want);
    let list = ok(p, &["log", "list", "--repo", "log"]);
    for (i, path) in order.iter().enumerate() {
        let f = subs
            .iter()
            .find(|f| path.contains(&sha256_hex(&std::fs::read(p.join(f)).unwrap())))
            .unwrap();
        let entry = std::fs::read(p.join(f)).unwrap();
        let line = list.lines().nth(i + 2).unwrap();
        assert!(line.starts_with(&format!("{} {} ", i + 2, b64(&leaf_hash(&entry)))));
    }
    // The same commit removed them from pending/ and added tiles.
    let status = git(&repo, &["show", "--name-status", "--format=", "fwlog"]);
    for path in &all {
        assert!(status.contains(&format!("D\t{path}")), "{status}");
    }
    assert!(status.contains("checkpoint"), "{status}");
    assert!(!tree_files(&repo, "fwlog")
        .iter()
        .any(|f| f.starts_with("pending/")));
    assert_tree_layout(&repo, "fwlog", 7);
    let v = verify(&log, &[]);
    assert!(v.success && v.json["size"] == 7, "{:#}", v.json);
    // Nothing left: integrate is a no-op.
    let head = rev_parse(&repo, "fwlog");
    ok(
        p,
        &["log", "integrate", "--repo", "log", "--key", "log.key"],
    );
    assert_eq!(rev_parse(&repo, "fwlog"), head);
}

#[test]
fn integrate_leaves_invalid_pending_files_in_place() {
    let log = Log::new(ORIGIN);
    let repo = log.repo();
    let p = log.path();
    let subs = log.write_entries(0, 2);
    ok(p, &["submit", "--repo", "log", &subs[0], &subs[1]]);
    // A misnamed pending file, committed with plumbing (as a pull request could).
    let wrong = format!("pending/{}.entry", "0".repeat(64));
    let junk = "pending/notes.txt";
    tamper(
        &repo,
        &[
            (&wrong, Some(b"hello\n".as_slice())),
            (junk, Some(b"x\n".as_slice())),
        ],
    );
    let out = fwlog_in(
        p,
        &["log", "integrate", "--repo", "log", "--key", "log.key"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_no_panic(&stderr);
    assert!(!out.status.success(), "bad pending files must fail the run");
    assert!(stderr.contains(&wrong) && stderr.contains(junk), "{stderr}");
    assert!(stderr.contains("left in place"), "{stderr}");
    // The valid ones were integrated; the invalid ones are still pending.
    assert_eq!(checkpoint_of(&repo, "fwlog").0, 2);
    let files = tree_files(&repo, "fwlog");
    let pending: Vec<&String> = files.iter().filter(|f| f.starts_with("pending/")).collect();
    assert_eq!(pending, [&wrong, &junk.to_string()]);
    let v = verify(&log, &[]);
    assert!(v.success && v.json["size"] == 2, "{:#}", v.json);
}

#[test]
fn integrate_leaves_empty_pending_file_in_place() {
    let log = Log::new(ORIGIN);
    let repo = log.repo();
    let p = log.path();
    let subs = log.write_entries(0, 1);
    ok(p, &["submit", "--repo", "log", &subs[0]]);
    // Correctly named (SHA-256 of the empty string), but empty: not a valid entry.
    let empty = format!("pending/{}.entry", sha256_hex(b""));
    tamper(&repo, &[(&empty, Some(b"".as_slice()))]);
    let out = fwlog_in(
        p,
        &["log", "integrate", "--repo", "log", "--key", "log.key"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_no_panic(&stderr);
    assert!(stderr.contains(&empty), "{stderr}");
    assert_eq!(
        checkpoint_of(&repo, "fwlog").0,
        1,
        "the valid entry was not integrated: {stderr}"
    );
    assert!(tree_files(&repo, "fwlog").contains(&empty));
}

// ---------------------------------------------------------------------------------------------
// 5. Tampering
// ---------------------------------------------------------------------------------------------

#[test]
fn tamper_changed_entry() {
    let log = log300();
    let repo = log.repo();
    let mut bundle = blob(&repo, "fwlog", "tile/entries/000");
    assert_eq!(&bundle[..3], b"\x00\x0fe");
    bundle[2] = b'E'; // entry 0: "entry number 0\n" -> "Entry number 0\n"
    tamper(&repo, &[("tile/entries/000", Some(&bundle))]);
    let v = verify(&log, &[]);
    v.expect_error("changed_entry");
    let f = v.findings_of("changed_entry");
    assert_eq!(f.len(), 1, "{:#}", v.json);
    assert_eq!(f[0]["index"], 0);
    assert!(
        !v.errors().contains("checkpoint_root_mismatch"),
        "the tiles still match the checkpoint: the entries changed, {:#}",
        v.json
    );
}

#[test]
fn tamper_changed_tile() {
    let log = log300();
    let repo = log.repo();
    let mut tile = blob(&repo, "fwlog", "tile/0/000");
    assert_eq!(tile.len(), 8192);
    tile[100] ^= 1;
    tamper(&repo, &[("tile/0/000", Some(&tile))]);
    let v = verify(&log, &[]);
    v.expect_error("changed_tile");
    assert!(v
        .findings_of("changed_tile")
        .iter()
        .any(|f| f["path"] == "tile/0/000"));
    assert!(!v.errors().contains("changed_entry"), "{:#}", v.json);
    assert!(!v.errors().contains("checkpoint_root_mismatch"));
}

#[test]
fn tamper_missing_tile() {
    let log = log300();
    let repo = log.repo();
    tamper(&repo, &[("tile/0/001.p/44", None)]);
    let v = verify(&log, &[]);
    v.expect_error("missing_tile");
    assert!(v
        .findings_of("missing_tile")
        .iter()
        .any(|f| f["path"] == "tile/0/001.p/44"));
    // A missing entry bundle too.
    let log = log300();
    tamper(&log.repo(), &[("tile/entries/001.p/44", None)]);
    let v = verify(&log, &[]);
    v.expect_error("missing_tile");
    assert!(v
        .findings_of("missing_tile")
        .iter()
        .any(|f| f["path"] == "tile/entries/001.p/44"));
}

#[test]
fn tamper_malformed_tile() {
    let log = log300();
    let repo = log.repo();
    let tile = blob(&repo, "fwlog", "tile/0/001.p/44");
    tamper(&repo, &[("tile/0/001.p/44", Some(&tile[..100]))]);
    let v = verify(&log, &[]);
    assert!(!v.success);
    let errs = v.errors();
    assert!(
        errs.contains("malformed_tile") || errs.contains("changed_tile"),
        "{:#}",
        v.json
    );
    let log = log300();
    let bundle = blob(&log.repo(), "fwlog", "tile/entries/001.p/44");
    tamper(
        &log.repo(),
        &[("tile/entries/001.p/44", Some(&bundle[..bundle.len() - 3]))],
    );
    verify(&log, &[]).expect_error("malformed_tile");
}

/// The checkpoint note with its root line replaced, signature untouched.
fn with_root(cp: &[u8], root: &str) -> Vec<u8> {
    let text = String::from_utf8(cp.to_vec()).unwrap();
    let mut lines: Vec<&str> = text.split('\n').collect();
    assert_ne!(lines[2], root);
    lines[2] = root;
    lines.join("\n").into_bytes()
}

#[test]
fn tamper_forged_checkpoint() {
    let log = log300();
    let repo = log.repo();
    let cp = blob(&repo, "fwlog", "checkpoint");
    let forged = with_root(&cp, &b64(&[0xaa; 32]));
    tamper(&repo, &[("checkpoint", Some(&forged))]);
    let v = verify(&log, &["--log-key", &log.vkey]);
    v.expect_error("bad_checkpoint_signature");
    let v = verify(&log, &[]);
    v.expect_error("bad_checkpoint_signature");
    // Appending on top of a forged checkpoint is refused.
    let files = log.write_entries(300, 1);
    let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
    args.push(&files[0]);
    let err = fails(log.path(), &args);
    one_error_line(&err);
}

fn signer(path: &Path) -> fwlog::note::SignerKey {
    let text = std::fs::read_to_string(path).unwrap();
    fwlog::note::SignerKey::parse(text.trim_end()).unwrap()
}

#[test]
fn tamper_resigned_with_another_key() {
    let log = log300();
    let repo = log.repo();
    keygen(log.path(), ORIGIN, "evil.key");
    let evil = signer(&log.path().join("evil.key"));
    let cp = fwlog::checkpoint::SignedCheckpoint::parse(&blob(&repo, "fwlog", "checkpoint"))
        .unwrap()
        .checkpoint;
    let resigned = fwlog::checkpoint::SignedCheckpoint::sign(cp, &evil)
        .unwrap()
        .to_bytes();
    // log-info with the key line replaced, everything else kept.
    let info: String = String::from_utf8(blob(&repo, "fwlog", "log-info"))
        .unwrap()
        .lines()
        .map(|l| match l.strip_prefix("key ") {
            Some(_) => format!("key {}\n", evil.verifier_key()),
            None => format!("{l}\n"),
        })
        .collect();
    let info = info.into_bytes();
    tamper(
        &repo,
        &[("checkpoint", Some(&resigned)), ("log-info", Some(&info))],
    );
    // The auditor who knows the real key sees it.
    let v = verify(&log, &["--log-key", &log.vkey]);
    assert!(!v.success);
    let errs = v.errors();
    assert!(
        errs.contains("log_key_mismatch") && errs.contains("bad_checkpoint_signature"),
        "{:#}",
        v.json
    );
    // Trust on first use is fooled at the head, but the history was signed by another key.
    let v = verify(&log, &[]);
    v.expect_error("history_bad_checkpoint");
    // The real key no longer appends.
    let files = log.write_entries(300, 1);
    let err = fails(
        log.path(),
        &[
            "log", "append", "--repo", "log", "--key", "log.key", &files[0],
        ],
    );
    let line = one_error_line(&err);
    assert!(line.contains("not this log's key"), "{line}");
}

#[test]
fn tamper_history_shrunk() {
    let log = log300();
    let repo = log.repo();
    // A commit on top of the size-300 head holding the size-100 log, with a checkpoint for
    // size 100 signed by the real log key.
    let old = rev_parse(&repo, "fwlog~2");
    assert_eq!(checkpoint_of(&repo, &old).0, 100);
    let cp = fwlog::checkpoint::SignedCheckpoint::parse(&blob(&repo, &old, "checkpoint"))
        .unwrap()
        .checkpoint;
    let signed =
        fwlog::checkpoint::SignedCheckpoint::sign(cp, &signer(&log.path().join("log.key")))
            .unwrap()
            .to_bytes();
    let commit = forge_commit(&repo, &old, &[("checkpoint", Some(&signed))], Some("fwlog"));
    git(&repo, &["update-ref", "refs/heads/fwlog", &commit]);
    let v = verify(&log, &["--log-key", &log.vkey]);
    v.expect_error("history_shrunk");
    assert_eq!(
        v.errors(),
        BTreeSet::from(["history_shrunk".to_string()]),
        "{:#}",
        v.json
    );
    assert_eq!(v.json["size"], 100);
}

#[test]
fn tamper_history_rewritten_with_other_entries() {
    let log = log300();
    let repo = log.repo();
    let old_tip = rev_parse(&repo, "fwlog");
    // Reset the branch to size 100 and append different entries.
    git(&repo, &["update-ref", "refs/heads/fwlog", "fwlog~2"]);
    let other = log.write_entries(1000, 250);
    log.append(&other);
    assert_eq!(checkpoint_of(&repo, "fwlog").0, 350);
    let reflog = git(&repo, &["reflog", "show", "--format=%H", "fwlog"]);
    assert!(reflog.contains(&old_tip), "{reflog}");
    let v = verify(&log, &["--log-key", &log.vkey]);
    v.expect_error("history_rewritten");
    assert!(v
        .findings_of("history_rewritten")
        .iter()
        .any(|f| f["severity"] == "error" && f["commit"] == old_tip.as_str()));
    // The first-parent history alone is consistent: only the reflog tells.
    assert_eq!(
        v.errors(),
        BTreeSet::from(["history_rewritten".to_string()]),
        "{:#}",
        v.json
    );
    // Same for a rewrite to a shorter log of the same entries.
    let log = log300();
    let repo = log.repo();
    git(&repo, &["update-ref", "refs/heads/fwlog", "fwlog~2"]);
    let again: Vec<String> = (100..150).map(|i| format!("e{i}.bin")).collect();
    log.append(&again);
    verify(&log, &[]).expect_error("history_rewritten");
    // And for a plain reset to an older commit, with nothing appended after it.
    let log = log300();
    git(&log.repo(), &["update-ref", "refs/heads/fwlog", "fwlog~1"]);
    let v = verify(&log, &[]);
    v.expect_error("history_rewritten");
    assert_eq!(v.json["size"], 260);
}

#[test]
fn tamper_history_inconsistent() {
    // A commit on top of the real head holding another log (other entries, same key and
    // origin, larger size): every checkpoint is validly signed, but not consistent.
    let log = log300();
    let repo = log.repo();
    ok(
        log.path(),
        &[
            "log",
            "init",
            "--repo",
            "log",
            "--branch",
            "alt",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    let other = log.write_entries(5000, 310);
    let mut args = vec![
        "log", "append", "--repo", "log", "--branch", "alt", "--key", "log.key",
    ];
    args.extend(other.iter().map(String::as_str));
    ok(log.path(), &args);
    let commit = forge_commit(&repo, "alt", &[], Some("fwlog"));
    git(&repo, &["update-ref", "refs/heads/fwlog", &commit]);
    let v = verify(&log, &["--log-key", &log.vkey]);
    v.expect_error("history_inconsistent");
    assert_eq!(
        v.errors(),
        BTreeSet::from(["history_inconsistent".to_string()]),
        "{:#}",
        v.json
    );
}

#[test]
fn consistent_force_push_is_only_a_warning() {
    let log = log300();
    let repo = log.repo();
    let old_tip = rev_parse(&repo, "fwlog");
    // Reset to size 100, then re-append the same entries (in other batches) and more.
    git(&repo, &["update-ref", "refs/heads/fwlog", "fwlog~2"]);
    let same: Vec<String> = (100..300).map(|i| format!("e{i}.bin")).collect();
    log.append(&same);
    let more = log.write_entries(300, 20);
    log.append(&more);
    assert_ne!(rev_parse(&repo, "fwlog"), old_tip);
    let v = verify(&log, &["--log-key", &log.vkey]);
    assert!(v.success, "{:#}", v.json);
    assert!(v.errors().is_empty());
    assert!(v.warnings().contains("history_rewritten"), "{:#}", v.json);
    assert_eq!(v.json["size"], 320);
    // Same size, same root, different commits: also only a warning.
    let log = log300();
    let repo = log.repo();
    git(&repo, &["update-ref", "refs/heads/fwlog", "fwlog~2"]);
    log.append(&same);
    let v = verify(&log, &[]);
    assert!(v.success, "{:#}", v.json);
    assert!(v.warnings().contains("history_rewritten"), "{:#}", v.json);
}

#[test]
fn tamper_unexpected_files() {
    let log = log300();
    let repo = log.repo();
    let full = blob(&repo, "fwlog", "tile/0/000");
    tamper(
        &repo,
        &[
            ("tile/0/002", Some(&full)),
            ("tile/entries/001", Some(b"\x00\x01x".as_slice())),
            ("tile/README", Some(b"hi\n".as_slice())),
        ],
    );
    let v = verify(&log, &[]);
    v.expect_error("unexpected_file");
    let paths: BTreeSet<String> = v
        .findings_of("unexpected_file")
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            "tile/0/002".to_string(),
            "tile/README".to_string(),
            "tile/entries/001".to_string()
        ])
    );
    // A leftover partial tile superseded by its full tile is unexpected as well.
    let log = log300();
    let stale = blob(&log.repo(), "fwlog~1", "tile/0/001.p/4");
    tamper(&log.repo(), &[("tile/0/001.p/4", Some(&stale))]);
    verify(&log, &[]).expect_error("unexpected_file");
}

#[test]
fn tamper_origin_and_history_checkpoint() {
    // A parent commit whose checkpoint is forged is caught by the history walk.
    let log = log300();
    let repo = log.repo();
    let parent = rev_parse(&repo, "fwlog~1");
    let cp = blob(&repo, &parent, "checkpoint");
    let forged = with_root(&cp, &b64(&[0x55; 32]));
    let bad_parent = forge_commit(
        &repo,
        &parent,
        &[("checkpoint", Some(&forged))],
        Some(&rev_parse(&repo, "fwlog~2")),
    );
    let tip_tree = rev_parse(&repo, "fwlog^{tree}");
    let tip = git(
        &repo,
        &[
            "commit-tree",
            &tip_tree,
            "-p",
            &bad_parent,
            "-m",
            "re-parented",
        ],
    );
    git(&repo, &["update-ref", "refs/heads/fwlog", tip.trim()]);
    let v = verify(&log, &["--log-key", &log.vkey]);
    v.expect_error("history_bad_checkpoint");

    // log-info naming another origin than the checkpoint.
    let log = log300();
    let info = String::from_utf8(blob(&log.repo(), "fwlog", "log-info"))
        .unwrap()
        .replace(&format!("origin {ORIGIN}\n"), "origin example.com/other\n");
    tamper(&log.repo(), &[("log-info", Some(info.as_bytes()))]);
    verify(&log, &[]).expect_error("origin_mismatch");
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile-ish inputs
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_repo_arguments() {
    let log = Log::new(ORIGIN);
    let p = log.path();
    std::fs::create_dir(p.join("empty")).unwrap();
    std::fs::write(p.join("afile"), "x\n").unwrap();
    std::fs::create_dir(p.join("plain")).unwrap();
    git(&p.join("plain"), &["init", "-q", "-b", "main"]);
    std::fs::write(p.join("e.bin"), "entry\n").unwrap();
    // A repository with an `fwlog` branch that is not a log.
    let nolog = p.join("nolog");
    std::fs::create_dir(&nolog).unwrap();
    git(&nolog, &["init", "-q", "-b", "fwlog"]);
    std::fs::write(nolog.join("README"), "x\n").unwrap();
    git(&nolog, &["add", "README"]);
    git(&nolog, &["commit", "-q", "-m", "x"]);

    for repo in ["nonexistent", "empty", "afile", "plain", "nolog"] {
        let cmds: [Vec<&str>; 6] = [
            vec!["log", "list", "--repo", repo],
            vec!["log", "verify", "--repo", repo],
            vec!["log", "verify", "--repo", repo, "--json"],
            vec!["log", "prove", "--repo", repo, "--index", "0"],
            vec!["log", "append", "--repo", repo, "--key", "log.key", "e.bin"],
            vec!["log", "integrate", "--repo", repo, "--key", "log.key"],
        ];
        for args in cmds {
            let err = fails(p, &args);
            let line = one_error_line(&err);
            assert!(
                line.contains(repo) || line.contains("fwlog"),
                "{args:?}: {line}"
            );
        }
        let err = fails(p, &["submit", "--repo", repo, "e.bin"]);
        one_error_line(&err);
    }
    let err = fails(p, &["log", "list", "--repo", "plain"]);
    assert!(err.contains("no branch"), "{err}");
    let err = fails(p, &["log", "list", "--repo", "nolog"]);
    assert!(err.contains("log-info"), "{err}");
    // A branch name git would refuse.
    let err = fails(p, &["log", "list", "--repo", "log", "--branch", "a..b"]);
    one_error_line(&err);
    // Unknown revision.
    let err = fails(p, &["log", "verify", "--repo", "log", "--rev", "nosuchrev"]);
    one_error_line(&err);
    // init where a file stands.
    let err = fails(
        p,
        &[
            "log",
            "init",
            "--repo",
            "afile",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    one_error_line(&err);
}

#[test]
fn hostile_indexes_keys_and_files() {
    let log = Log::new(ORIGIN);
    let p = log.path();
    // Proving in an empty log.
    let err = fails(p, &["log", "prove", "--repo", "log", "--index", "0"]);
    one_error_line(&err);
    let files = log.write_entries(0, 3);
    log.append(&files);
    for idx in ["3", "4", "18446744073709551615"] {
        let err = fails(p, &["log", "prove", "--repo", "log", "--index", idx]);
        let line = one_error_line(&err);
        assert!(line.contains(idx) && line.contains("size 3"), "{line}");
    }
    for idx in ["-1", "x", "18446744073709551616"] {
        let err = fails(p, &["log", "prove", "--repo", "log", "--index", idx]);
        assert_no_panic(&err);
    }
    let head = rev_parse(&log.repo(), "fwlog");
    // Another key, a public key, a world-readable key, a missing file, a directory.
    keygen(p, ORIGIN, "other.key");
    std::fs::write(p.join("pub.key"), format!("{}\n", log.vkey)).unwrap();
    std::fs::create_dir(p.join("adir")).unwrap();
    let new = log.write_entries(3, 1);
    for key in ["other.key", "pub.key", "nokey", "env:FWLOG_TEST_UNSET_VAR"] {
        let err = fails(
            p,
            &["log", "append", "--repo", "log", "--key", key, &new[0]],
        );
        let line = one_error_line(&err);
        assert!(!line.contains("PRIVATE"), "key material in error: {line}");
    }
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::copy(p.join("log.key"), p.join("open.key")).unwrap();
        std::fs::set_permissions(p.join("open.key"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let err = fails(
            p,
            &[
                "log", "append", "--repo", "log", "--key", "open.key", &new[0],
            ],
        );
        one_error_line(&err);
    }
    for entry in ["nosuchfile", "adir"] {
        let err = fails(
            p,
            &["log", "append", "--repo", "log", "--key", "log.key", entry],
        );
        one_error_line(&err);
    }
    assert_eq!(rev_parse(&log.repo(), "fwlog"), head);
    // Bad verifier keys for verify.
    let err = fails(
        p,
        &["log", "verify", "--repo", "log", "--log-key", "not-a-key"],
    );
    one_error_line(&err);
}

#[test]
fn append_refuses_a_tampered_right_edge_hash_tile() {
    let log = log300();
    let repo = log.repo();
    let mut tile = blob(&repo, "fwlog", "tile/0/001.p/44");
    tile[0] ^= 1;
    let tip = tamper(&repo, &[("tile/0/001.p/44", Some(&tile))]);
    let files = log.write_entries(300, 5);
    let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
    args.extend(files.iter().map(String::as_str));
    let err = fails(log.path(), &args);
    let line = one_error_line(&err);
    assert!(line.contains("tile"), "{line}");
    assert_eq!(rev_parse(&repo, "fwlog"), tip);
}

#[test]
fn tampered_right_edge_entry_bundle_survives_append_but_not_verify() {
    let log = log300();
    let repo = log.repo();
    let mut bundle = blob(&repo, "fwlog", "tile/entries/001.p/44");
    assert_eq!(&bundle[..3], b"\x00\x11e"); // entry 256: "entry number 256\n"
    bundle[2] = b'E';
    tamper(&repo, &[("tile/entries/001.p/44", Some(&bundle))]);
    let files = log.write_entries(300, 5);
    let out = fwlog_in(
        log.path(),
        &[
            "log", "append", "--repo", "log", "--key", "log.key", &files[0], &files[1],
        ],
    );
    assert_no_panic(&String::from_utf8_lossy(&out.stderr));
    // Whether or not the append went through, the audit still points at entry 256.
    let v = verify(&log, &[]);
    v.expect_error("changed_entry");
    assert!(v
        .findings_of("changed_entry")
        .iter()
        .any(|f| f["index"] == 256));
}

#[test]
fn append_refuses_a_tampered_right_edge_entry_bundle() {
    let log = log300();
    let repo = log.repo();
    let mut bundle = blob(&repo, "fwlog", "tile/entries/001.p/44");
    bundle[2] = b'E'; // entry 256
    let tip = tamper(&repo, &[("tile/entries/001.p/44", Some(&bundle))]);
    let files = log.write_entries(300, 1);
    let err = fails(
        log.path(),
        &[
            "log", "append", "--repo", "log", "--key", "log.key", &files[0],
        ],
    );
    one_error_line(&err);
    assert_eq!(rev_parse(&repo, "fwlog"), tip);
}

#[test]
fn init_refuses_branch_named_head() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d, ORIGIN, "log.key");
    let err = fails(
        d,
        &[
            "log",
            "init",
            "--repo",
            "r",
            "--branch",
            "HEAD",
            "--origin",
            ORIGIN,
            "--key",
            "log.key",
            "--entries",
            "any",
        ],
    );
    one_error_line(&err);
}
