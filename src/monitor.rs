//! The log monitor: follows a log published in a Git repository, run after run, and checks
//! that the log only ever grows.
//!
//! One run ([`monitor_once`]):
//!
//! 1. **Fetch.** The branch is fetched from the remote into a bare cache repository
//!    `<state>/repo.git` with the system `git` binary (`git fetch --no-tags --force -- <URL>
//!    +refs/heads/<branch>:refs/heads/<branch>`), then read with git2, without a work tree.
//!    Why the system `git`: git2's https transport would need OpenSSL development files to
//!    build on a fresh machine, while the installed `git` already speaks https (with the
//!    system's CA store, proxies and credential helpers), ssh, local paths and `file://`.
//!    Hooks are disabled (`core.hooksPath=/dev/null`), terminal prompts too
//!    (`GIT_TERMINAL_PROMPT=0`), and stalled https transfers time out.
//! 2. **Checkpoint.** The fetched checkpoint must carry a valid signature by the log key given
//!    on the command line, for the origin recorded in the state (first run: the policy's
//!    origin, else the key's name, else — when `log-info` names another origin than the key's
//!    name — the checkpoint's own origin, which is then recorded).
//! 3. **Consistency** with the last checkpoint this monitor verified (kept in the state): from
//!    size 0 there is nothing to prove; equal sizes need equal roots; a larger size needs an
//!    RFC 9162 consistency proof, computed from the fetched tiles and verified against both
//!    signed roots; a smaller size is inconsistent. Two checkpoints signed by the log key that
//!    are provably inconsistent are a **fork**: evidence is written to the state directory and
//!    the state is left as it was. Tiles that cannot produce a proof leading to the new root
//!    are a **broken repository** (an error), never a fork: only signed data proves a fork.
//!    A branch that no longer descends from the last commit seen (a force-push) but whose
//!    checkpoint is consistent is a warning: history was rewritten, the log was not forked.
//! 4. **Entries.** Every new entry (indexes `old..new`) is read from the entry bundles and
//!    hashed into the right edge of the old tree (read from the tiles and checked against the
//!    old signed root); the result must be the new signed root, which proves that each entry is
//!    included. Entries of a `fwlog/v1` log are then parsed, their signatures verified and
//!    reproductions checked against their release ([`FwlogEntries`]).
//! 5. **Report** every new entry and every alert ([`Event`]), then store the new state,
//!    atomically (temp file, fsync, rename, fsync of the directory).
//!
//! Alerts: a `mismatch` verdict; a vendor key releasing the same firmware name and version
//! twice with different artifact digests (releases are remembered across runs); with a
//! policy, an entry signed by a key the policy does not list in that role (or a vendor
//! releasing firmware it may not release); with a policy and a stale limit, a release that
//! still lacks the rebuilder quorum that many days after its `releasedOn` (reported once); an
//! entry that fails validation (it is in the log for good, so it is reported and passed).
//!
//! The state (`log-format.md` §12) is one file, `<state>/monitor.json`, so that one rename
//! replaces it whole. A state file that cannot be read or parsed, or whose checkpoint no
//! longer verifies, is reported as local corruption ([`MonitorError::LocalStateCorrupt`]),
//! never as a fork: a damaged disk must not look like an attack, nor an attack like a damaged
//! disk.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::entry::{self, Entry, FwlogEntries, Verdict};
use crate::merkle::{self, Hash, HashReader, Node};
use crate::note::{VerifierKey, ALG_ED25519};
use crate::policy::Policy;
use crate::store::{EntrySchema, LogStore, Snapshot};
use crate::tiles::{self, TileHashReader, TileReader, TILE_WIDTH};

/// The state file, in the state directory.
pub const STATE_FILE: &str = "monitor.json";
/// The bare cache repository the log is fetched into, in the state directory.
pub const REPO_DIR: &str = "repo.git";
/// Held (flock) while a run uses the state directory.
pub const LOCK_FILE: &str = "lock";
/// The `format` field of the state file.
pub const STATE_FORMAT: &str = "fwlog-monitor/v1";
/// Largest state file read.
pub const MAX_STATE_BYTES: usize = 64 << 20;
/// Most releases a state file holds.
pub const MAX_STATE_RELEASES: usize = 1 << 20;
/// Most keys remembered per release in `reproducedBy` or `mismatchBy`.
pub const MAX_KEYS_PER_RELEASE: usize = 256;

/// What to monitor, and how.
#[derive(Clone, Debug)]
pub struct MonitorOptions {
    /// Anything `git fetch` accepts: a local path, `file://`, `https://`, ssh.
    pub remote: String,
    /// The branch the log lives on.
    pub branch: String,
    /// The log's verifier key (type 0x01).
    pub log_key: VerifierKey,
    /// The state directory (created if absent).
    pub state_dir: PathBuf,
    /// Enables the unknown-signer and stale alerts.
    pub policy: Option<Policy>,
    /// Alert on releases without the policy's rebuilder quorum this many days after release.
    pub stale_days: Option<u64>,
    /// The current time, Unix seconds (for the stale alert and evidence file names).
    pub now: u64,
}

/// An artifact of a release: its name and digests (hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ArtifactDigests {
    pub name: String,
    pub sha256: String,
    pub sha384: String,
}

/// Alert kinds. Each alert makes the run exit 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A reproduction with verdict `mismatch`.
    Mismatch,
    /// The same vendor key, firmware name and version released with different artifacts.
    DuplicateRelease,
    /// Signed by a key the policy does not list in that role.
    UnknownSigner,
    /// A listed vendor released firmware its policy entry does not allow.
    FirmwareNotAllowed,
    /// A release still without the rebuilder quorum after `--stale-days`.
    Stale,
    /// An entry that fails parsing, its signature or the reproduction rules.
    InvalidEntry,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Mismatch => "mismatch",
            AlertKind::DuplicateRelease => "duplicate_release",
            AlertKind::UnknownSigner => "unknown_signer",
            AlertKind::FirmwareNotAllowed => "firmware_not_allowed",
            AlertKind::Stale => "stale",
            AlertKind::InvalidEntry => "invalid_entry",
        }
    }
}

/// Warning kinds: reported, but the run still exits 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The branch does not descend from the last commit seen, but the checkpoint is consistent.
    HistoryRewritten,
    /// `log-info` names another key or origin than the verified checkpoint's.
    LogInfoMismatch,
}

impl WarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::HistoryRewritten => "history_rewritten",
            WarningKind::LogInfoMismatch => "log_info_mismatch",
        }
    }
}

/// What a run reports, in order: the new entries and alerts, then one `Checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A new release entry.
    Release {
        index: u64,
        leaf_hash: String,
        name: String,
        version: String,
        /// The signer key's name.
        signer: String,
        /// The signer's verifier key.
        signer_key: String,
        /// `releasedOn`, RFC 3339.
        released_on: String,
        artifacts: Vec<ArtifactDigests>,
    },
    /// A new reproduction entry.
    Reproduction {
        index: u64,
        leaf_hash: String,
        release_index: u64,
        /// The release's firmware name and version, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        release_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        release_version: Option<String>,
        verdict: String,
        signer: String,
        signer_key: String,
    },
    /// A new entry of a log with schema `any`, or one that did not validate.
    Entry {
        index: u64,
        leaf_hash: String,
        bytes: usize,
    },
    Alert {
        kind: AlertKind,
        /// The entry that raised it.
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        /// The release it is about.
        #[serde(skip_serializing_if = "Option::is_none")]
        release_index: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        signer_key: Option<String>,
        message: String,
    },
    Warning {
        kind: WarningKind,
        message: String,
    },
    /// The checkpoint now stored in the state.
    Checkpoint {
        origin: String,
        old_size: u64,
        size: u64,
        root: String,
        commit: String,
    },
}

/// How a run that found no fork ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub origin: String,
    pub old_size: u64,
    pub new_size: u64,
    pub root: Hash,
    pub commit: String,
    /// Whether there was no state before this run.
    pub first_run: bool,
    pub new_entries: u64,
    pub alerts: usize,
    pub warnings: usize,
}

/// Why a run stopped. The state is never updated when a run returns an error.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// The state file (or the cache repository) is unreadable or damaged: a problem of this
    /// machine, not evidence against the log.
    #[error("local monitor state {} is corrupt or unreadable: {reason}", path.display())]
    LocalStateCorrupt { path: PathBuf, reason: String },
    /// Two checkpoints signed by the log key are inconsistent; `evidence` is the summary file,
    /// `files` every file written.
    #[error("FORK: {reason}; evidence in {}", evidence.display())]
    Fork {
        evidence: PathBuf,
        files: Vec<PathBuf>,
        reason: String,
    },
    #[error("fetching {remote} failed: {reason}")]
    Fetch { remote: String, reason: String },
    /// The fetched checkpoint is not signed by the log key, or names another origin.
    #[error("the fetched checkpoint does not verify: {0}")]
    Checkpoint(String),
    /// The fetched repository is not a readable log: missing or corrupt tiles, entries that do
    /// not hash to the checkpoint, no branch…
    #[error("broken log repository: {0}")]
    BrokenRepo(String),
    /// The options disagree with each other or with the state (another log key…).
    #[error("{0}")]
    Config(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MonitorError + '_ {
    move |source| MonitorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// State file

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StateFile {
    format: String,
    origin: String,
    log_key: String,
    entries: String,
    commit: String,
    size: u64,
    checkpoint: String,
    releases: Vec<ReleaseRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReleaseRecord {
    index: u64,
    vendor: String,
    name: String,
    version: String,
    released_on: u64,
    artifacts: Vec<ArtifactRecord>,
    reproduced_by: Vec<String>,
    mismatch_by: Vec<String>,
    stale_alerted: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
struct ArtifactRecord {
    name: String,
    sha256: String,
}

/// A state file that parsed and whose checkpoint verified under its own key.
#[derive(Debug)]
struct State {
    file: StateFile,
    checkpoint: Checkpoint,
}

impl StateFile {
    /// Compact JSON and a newline. Plain strings, integers and string-keyed maps cannot fail
    /// to serialise; were it ever to, the empty result never equals a stored file and is never
    /// written (see `save`).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        if !out.is_empty() {
            out.push(b'\n');
        }
        out
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads `<state>/monitor.json`: `None` when absent; any other failure is local corruption.
fn load_state(path: &Path) -> Result<Option<State>, MonitorError> {
    let corrupt = |reason: String| MonitorError::LocalStateCorrupt {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = match read_capped(path, MAX_STATE_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(corrupt(format!("cannot read it: {e}"))),
    };
    parse_state(&bytes).map(Some).map_err(corrupt)
}

fn read_capped(path: &Path, cap: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut data = Vec::new();
    file.take(cap as u64 + 1).read_to_end(&mut data)?;
    if data.len() > cap {
        return Err(std::io::Error::other(format!(
            "larger than the {cap}-byte limit"
        )));
    }
    Ok(data)
}

/// Strict parse: the exact bytes this module writes (compact JSON, fields in order, one final
/// newline), every field valid, and the checkpoint signed by the recorded key.
fn parse_state(bytes: &[u8]) -> Result<State, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or("the file does not end in a newline (truncated?)")?;
    let file: StateFile = serde_json::from_slice(body).map_err(|e| format!("not valid: {e}"))?;
    if file.to_bytes() != bytes {
        return Err("not in canonical form (edited or damaged)".into());
    }
    if file.format != STATE_FORMAT {
        return Err(format!("format {:?} is not {STATE_FORMAT:?}", file.format));
    }
    let key = VerifierKey::parse(&file.log_key).map_err(|e| format!("logKey: {e}"))?;
    if key.alg() != ALG_ED25519 {
        return Err("logKey is not an Ed25519 (0x01) key".into());
    }
    let schema = EntrySchema::parse(&file.entries)
        .ok_or_else(|| format!("entries {:?} is not fwlog/v1 or any", file.entries))?;
    if !(is_lower_hex(&file.commit, 40) || is_lower_hex(&file.commit, 64)) {
        return Err("commit is not a lowercase hex object id".into());
    }
    let signed = SignedCheckpoint::parse(file.checkpoint.as_bytes())
        .map_err(|e| format!("checkpoint: {e}"))?;
    let verified = signed
        .verify(&key, Some(&file.origin), &[], 0)
        .map_err(|e| format!("checkpoint: {e}"))?;
    let checkpoint = verified.checkpoint;
    if checkpoint.size != file.size {
        return Err(format!(
            "size {} is not the checkpoint's size {}",
            file.size, checkpoint.size
        ));
    }
    if schema == EntrySchema::Any && !file.releases.is_empty() {
        return Err("a log of schema any has no releases".into());
    }
    if file.releases.len() > MAX_STATE_RELEASES {
        return Err(format!("more than {MAX_STATE_RELEASES} releases"));
    }
    let mut last: Option<u64> = None;
    for r in &file.releases {
        let bad = |what: String| format!("release {}: {what}", r.index);
        if last.is_some_and(|l| l >= r.index) || r.index >= file.size {
            return Err(bad("indexes must increase and be below the size".into()));
        }
        last = Some(r.index);
        VerifierKey::parse(&r.vendor).map_err(|e| bad(format!("vendor: {e}")))?;
        entry::release::check_firmware_name(&r.name).map_err(|e| bad(e.to_string()))?;
        entry::release::check_version(&r.version).map_err(|e| bad(e.to_string()))?;
        if r.artifacts.is_empty() {
            return Err(bad("no artifacts".into()));
        }
        if r.artifacts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("artifacts are not sorted by name".into()));
        }
        let mut names = BTreeSet::new();
        for a in &r.artifacts {
            if a.name.is_empty() || !names.insert(a.name.as_str()) || !is_lower_hex(&a.sha256, 64) {
                return Err(bad(format!("artifact {:?}", a.name)));
            }
        }
        for list in [&r.reproduced_by, &r.mismatch_by] {
            if list.len() > MAX_KEYS_PER_RELEASE {
                return Err(bad("too many rebuilder keys".into()));
            }
            let mut seen = BTreeSet::new();
            for k in list {
                VerifierKey::parse(k).map_err(|e| bad(format!("rebuilder key: {e}")))?;
                if !seen.insert(k) {
                    return Err(bad(format!("rebuilder key {k} listed twice")));
                }
            }
        }
    }
    Ok(State { file, checkpoint })
}

/// Writes `data` to `dir/name` atomically: temp file in `dir`, fsync, rename, fsync of `dir`.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, MonitorError> {
    let path = dir.join(name);
    crate::fsutil::write_atomic(&path, data).map_err(io_err(&path))?;
    Ok(path)
}

/// An exclusive lock on the state directory for the whole run (released when dropped).
struct DirLock {
    _file: std::fs::File,
}

fn lock_dir(dir: &Path) -> Result<DirLock, MonitorError> {
    let path = dir.join(LOCK_FILE);
    match crate::fsutil::lock_file(&path, false).map_err(io_err(&path))? {
        Some(file) => Ok(DirLock { _file: file }),
        None => Err(MonitorError::Config(format!(
            "another monitor run holds {}; try again later",
            path.display()
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Fetch

/// Fetches the branch into the bare cache repository, creating it when absent.
fn fetch(opts: &MonitorOptions, repo_dir: &Path) -> Result<(), MonitorError> {
    if repo_dir.exists() {
        git2::Repository::open_bare(repo_dir).map_err(|e| MonitorError::LocalStateCorrupt {
            path: repo_dir.to_path_buf(),
            reason: format!(
                "not a bare Git repository ({}); it is only a cache: delete it and run again",
                e.message()
            ),
        })?;
    } else {
        git2::Repository::init_bare(repo_dir).map_err(|e| MonitorError::Io {
            path: repo_dir.to_path_buf(),
            source: std::io::Error::other(e.message().to_string()),
        })?;
    }
    if opts.remote.is_empty() || opts.remote.starts_with('-') {
        return Err(MonitorError::Config(format!(
            "invalid remote {:?}",
            opts.remote
        )));
    }
    let git_dir = std::path::absolute(repo_dir).map_err(io_err(repo_dir))?;
    let refspec = format!("+refs/heads/{0}:refs/heads/{0}", opts.branch);
    let mut cmd = Command::new("git");
    cmd.arg("--git-dir")
        .arg(&git_dir)
        .args([
            "-c",
            "protocol.file.allow=always",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "http.lowSpeedLimit=1000",
            "-c",
            "http.lowSpeedTime=60",
            "fetch",
            "--quiet",
            "--no-tags",
            "--force",
            "--",
            &opts.remote,
            &refspec,
        ])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .stdin(Stdio::null());
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().map_err(|e| MonitorError::Fetch {
        remote: opts.remote.clone(),
        reason: format!("cannot run git: {e}"),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(3)
            .collect();
        let mut reason = lines.join("; ");
        if reason.is_empty() {
            reason = format!("git exited with {}", out.status);
        }
        reason.truncate(500);
        return Err(MonitorError::Fetch {
            remote: opts.remote.clone(),
            reason,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Merkle helpers

/// The roots a consistency proof implies, `(root of the first m leaves, root of n leaves)`,
/// by RFC 9162 §2.1.4.2 with step 1 already applied: `proof[0]` must be the first node (for a
/// power-of-two `m`, the root of the first `m` leaves). `None` when the proof has the wrong
/// shape. Used only to explain a failed verification: a proof that leads to the signed new
/// root authenticates the old-size root it implies.
fn consistency_roots(m: u64, n: u64, proof: &[Hash]) -> Option<(Hash, Hash)> {
    if m == 0 || m >= n || proof.is_empty() || proof.len() > merkle::MAX_PROOF_HASHES + 1 {
        return None;
    }
    let (mut f, mut s) = (m - 1, n - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (proof[0], proof[0]);
    for c in &proof[1..] {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            fr = merkle::node_hash(c, &fr);
            sr = merkle::node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = merkle::node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some((fr, sr))
}

/// The complete subtrees of a tree of `size` leaves, largest first (one per set bit).
fn edge_nodes(size: u64) -> Vec<Node> {
    (0..64u8)
        .rev()
        .filter(|b| size >> b & 1 == 1)
        .map(|b| Node::new(b, (size >> b) & !1))
        .collect()
}

/// The right edge of a tree (the roots of [`edge_nodes`]), extended leaf by leaf.
struct Edge {
    size: u64,
    roots: Vec<Hash>,
}

impl Edge {
    fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.roots.pop() {
                Some(left) => h = merkle::node_hash(&left, &h),
                None => break,
            }
            s >>= 1;
        }
        self.roots.push(h);
        self.size += 1;
    }

    fn root(&self) -> Hash {
        match self.roots.split_last() {
            None => merkle::empty_root(),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, h| merkle::node_hash(h, &acc)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run

/// One monitor run: fetch, verify, report, store. See the module documentation.
pub fn monitor_once(
    opts: &MonitorOptions,
    report: &mut dyn FnMut(Event),
) -> Result<Outcome, MonitorError> {
    if opts.log_key.alg() != ALG_ED25519 {
        return Err(MonitorError::Config(format!(
            "the log key {} is not an Ed25519 (0x01) key",
            opts.log_key
        )));
    }
    if !git2::Reference::is_valid_name(&format!("refs/heads/{}", opts.branch)) {
        return Err(MonitorError::Config(format!(
            "invalid branch name {:?}",
            opts.branch
        )));
    }
    if let Some(p) = &opts.policy {
        if p.log_key != opts.log_key {
            return Err(MonitorError::Config(format!(
                "the policy's log key {} is not the given log key {}",
                p.log_key, opts.log_key
            )));
        }
    }
    let dir = opts.state_dir.as_path();
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let _lock = lock_dir(dir)?;
    let state_path = dir.join(STATE_FILE);
    let state = load_state(&state_path)?;
    if let Some(st) = &state {
        if st.file.log_key != opts.log_key.to_string() {
            return Err(MonitorError::Config(format!(
                "{} follows the log with key {}, not {}; use another --state directory for another log",
                state_path.display(),
                st.file.log_key,
                opts.log_key
            )));
        }
        if let Some(p) = &opts.policy {
            if p.origin != st.file.origin {
                return Err(MonitorError::Config(format!(
                    "the policy's origin {:?} is not the origin {:?} this state follows",
                    p.origin, st.file.origin
                )));
            }
        }
    }

    let repo_dir = dir.join(REPO_DIR);
    fetch(opts, &repo_dir)?;
    let broken =
        |what: &str, e: &dyn std::fmt::Display| MonitorError::BrokenRepo(format!("{what}: {e}"));
    let store =
        LogStore::open(&repo_dir, &opts.branch).map_err(|e| MonitorError::LocalStateCorrupt {
            path: repo_dir.clone(),
            reason: format!("{e}; it is only a cache: delete it and run again"),
        })?;
    let head = store
        .head_commit()
        .map_err(|e| broken("the fetched branch", &e))?;
    let snap = store
        .snapshot(head)
        .map_err(|e| broken(&format!("commit {head}"), &e))?;

    let mut events: Vec<Event> = Vec::new();
    let mut warnings = 0usize;
    let mut warn = |events: &mut Vec<Event>, kind: WarningKind, message: String| {
        warnings += 1;
        events.push(Event::Warning { kind, message });
    };

    // 2. The new checkpoint.
    let new_cp = &snap.checkpoint.checkpoint;
    let origin = match (&state, &opts.policy) {
        (Some(st), _) => st.file.origin.clone(),
        (None, Some(p)) => p.origin.clone(),
        (None, None) if snap.info.origin == opts.log_key.name() => opts.log_key.name().to_string(),
        (None, None) => new_cp.origin.clone(),
    };
    snap.checkpoint
        .verify(&opts.log_key, Some(&origin), &[], 0)
        .map_err(|e| MonitorError::Checkpoint(format!("commit {head}: {e}")))?;
    if snap.info.key != opts.log_key || snap.info.origin != origin {
        warn(
            &mut events,
            WarningKind::LogInfoMismatch,
            format!(
                "log-info names origin {:?} and key {}, but the checkpoint is for {:?} signed by {}",
                snap.info.origin, snap.info.key, origin, opts.log_key
            ),
        );
    }
    // 3. Consistency with the last verified checkpoint.
    let empty = Checkpoint {
        origin: origin.clone(),
        size: 0,
        root: merkle::empty_root(),
        extensions: vec![],
    };
    let old_cp = state.as_ref().map_or(&empty, |st| &st.checkpoint);
    if let Some(st) = &state {
        if let Some(fork) = find_fork(old_cp, &snap)? {
            let files = write_evidence(opts, st, &snap, &fork)?;
            return Err(MonitorError::Fork {
                evidence: files[0].clone(),
                files,
                reason: fork.reason,
            });
        }
        let old_commit = git2::Oid::from_str(&st.file.commit).ok();
        if old_commit != Some(head) {
            let descends = old_commit
                .and_then(|o| store.repo().graph_descendant_of(head, o).ok())
                .unwrap_or(false);
            if !descends {
                warn(
                    &mut events,
                    WarningKind::HistoryRewritten,
                    format!(
                        "branch {} now points at {head}, which does not descend from the last commit seen, {}; its checkpoint is consistent with the last one verified (size {} -> {}), so history was rewritten, not forked",
                        opts.branch, st.file.commit, old_cp.size, new_cp.size
                    ),
                );
            }
        }
    }

    // 4. The new entries (of the schema first seen: log-info is not signed).
    let schema = snap.info.entries;
    if let Some(st) = &state {
        if st.file.entries != schema.as_str() {
            return Err(MonitorError::BrokenRepo(format!(
                "log-info now declares entries {}, but this log was {}",
                schema.as_str(),
                st.file.entries
            )));
        }
    }

    let mut file = match &state {
        Some(st) => st.file.clone(),
        None => StateFile {
            format: STATE_FORMAT.into(),
            origin: origin.clone(),
            log_key: opts.log_key.to_string(),
            entries: schema.as_str().into(),
            commit: String::new(),
            size: 0,
            checkpoint: String::new(),
            releases: Vec::new(),
        },
    };
    let mut alerts = 0usize;
    let mut cx = EntryContext {
        opts,
        schema,
        validator: FwlogEntries::new(origin.clone()),
        releases: &mut file.releases,
        events: &mut events,
        alerts: &mut alerts,
        reproductions: Vec::new(),
        by_identity: HashMap::new(),
    };
    for (i, r) in cx.releases.iter().enumerate() {
        cx.by_identity
            .entry((r.vendor.clone(), r.name.clone(), r.version.clone()))
            .or_default()
            .push(i);
    }
    let new_entries = read_new_entries(&snap, old_cp, &mut cx)?;
    cx.apply_reproductions();
    cx.check_stale();

    // 5. Report, then store.
    file.commit = head.to_string();
    file.size = new_cp.size;
    file.checkpoint = String::from_utf8(snap.checkpoint_bytes.clone())
        .map_err(|_| MonitorError::BrokenRepo("checkpoint is not UTF-8".into()))?;
    for e in events {
        report(e);
    }
    let bytes = file.to_bytes();
    if bytes.is_empty() {
        return Err(MonitorError::Config(
            "cannot serialise the monitor state".into(),
        ));
    }
    write_atomic(dir, STATE_FILE, &bytes)?;
    report(Event::Checkpoint {
        origin: origin.clone(),
        old_size: old_cp.size,
        size: new_cp.size,
        root: new_cp.root.to_base64(),
        commit: head.to_string(),
    });
    Ok(Outcome {
        origin,
        old_size: old_cp.size,
        new_size: new_cp.size,
        root: new_cp.root,
        commit: head.to_string(),
        first_run: state.is_none(),
        new_entries,
        alerts,
        warnings,
    })
}

/// Proof that two signed checkpoints are inconsistent.
struct ForkFound {
    reason: String,
    /// The consistency proof from the fetched tiles, when one was computed.
    proof: Vec<Hash>,
    /// Lines explaining what the proof shows.
    details: Vec<String>,
}

/// Compares the last verified checkpoint with the fetched one. `Ok(Some)` is a fork proven by
/// signed data; tiles that cannot produce a proof leading to the new root are a broken
/// repository (`Err`), not a fork.
fn find_fork(old: &Checkpoint, snap: &Snapshot<'_>) -> Result<Option<ForkFound>, MonitorError> {
    let new = &snap.checkpoint.checkpoint;
    let (m, n) = (old.size, new.size);
    let fork = |reason: String| {
        Ok(Some(ForkFound {
            reason,
            proof: vec![],
            details: vec![],
        }))
    };
    if n < m {
        return fork(format!(
            "the log shrank: the new checkpoint has size {n}, the last verified one {m}; a log never loses entries"
        ));
    }
    if n == m {
        if new.root == old.root {
            return Ok(None);
        }
        return fork(format!(
            "two checkpoints of size {m} with different roots ({} and {})",
            old.root, new.root
        ));
    }
    if m == 0 {
        return Ok(None);
    }
    let proof = snap.consistency(m).map_err(|e| {
        MonitorError::BrokenRepo(format!(
            "cannot compute a consistency proof from size {m} to {n} from the tiles: {e}"
        ))
    })?;
    if merkle::verify_consistency(m, n, &old.root, &new.root, &proof).is_ok() {
        return Ok(None);
    }
    // Which side fails? The proof with its first node made explicit: for a power-of-two m
    // that node is the new tree's root of its first m leaves, read from the tiles.
    let mut full = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        let node = Node::new(m.trailing_zeros() as u8, 0);
        let first = TileHashReader::new(snap, n)
            .read_hashes(&[node])
            .map_err(|e| MonitorError::BrokenRepo(format!("reading the tiles: {e}")))?;
        full.extend(first);
    }
    full.extend_from_slice(&proof);
    match consistency_roots(m, n, &full) {
        Some((prefix, root)) if root == new.root && prefix != old.root => {
            let mut details = vec![format!(
                "the consistency proof below leads to the new checkpoint's root {root}, and the root it implies for the first {m} entries is {prefix}, not the old checkpoint's {}",
                old.root
            )];
            if m.is_power_of_two() {
                details.push(format!(
                    "(m = {m} is a power of two: a verifier starts from the old root; starting from the new tree's node for the first {m} entries, {prefix}, the proof leads to the new root)"
                ));
            }
            Ok(Some(ForkFound {
                reason: format!(
                    "the checkpoint of size {n} does not extend the last verified one of size {m}: the first {m} entries differ"
                ),
                proof,
                details,
            }))
        }
        _ => Err(MonitorError::BrokenRepo(format!(
            "the consistency proof from size {m} to {n} computed from the tiles does not lead to the new checkpoint's root: the tiles are corrupt (this proves nothing against the log's signed checkpoints)"
        ))),
    }
}

/// Writes `fork-<t>.txt` (everything, self-contained) and `fork-<t>-old.checkpoint`,
/// `fork-<t>-new.checkpoint` (each note verbatim, for `fwlog checkpoint verify`).
fn write_evidence(
    opts: &MonitorOptions,
    st: &State,
    snap: &Snapshot<'_>,
    fork: &ForkFound,
) -> Result<Vec<PathBuf>, MonitorError> {
    let dir = opts.state_dir.as_path();
    let mut stem = format!("fork-{}", opts.now);
    let mut k = 1;
    while dir.join(format!("{stem}.txt")).exists() {
        k += 1;
        stem = format!("fork-{}-{k}", opts.now);
    }
    let old_name = format!("{stem}-old.checkpoint");
    let new_name = format!("{stem}-new.checkpoint");
    let new_cp = &snap.checkpoint.checkpoint;
    let key = &opts.log_key;
    let mut t = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(t, "fwlog monitor: fork evidence\n");
    let _ = writeln!(t, "reason: {}", fork.reason);
    let _ = writeln!(t, "origin: {}", st.file.origin);
    let _ = writeln!(t, "log key: {key}");
    let _ = writeln!(t, "remote: {} (branch {})", opts.remote, opts.branch);
    let _ = writeln!(
        t,
        "detected at: {} (unix {})",
        entry::rfc3339_utc(opts.now),
        opts.now
    );
    let _ = writeln!(
        t,
        "old checkpoint: size {} root {} (the last one this monitor verified; commit {})",
        st.checkpoint.size, st.checkpoint.root, st.file.commit
    );
    let _ = writeln!(
        t,
        "new checkpoint: size {} root {} (fetched; commit {})",
        new_cp.size,
        new_cp.root,
        snap.commit.id()
    );
    let _ = writeln!(
        t,
        "Both checkpoints carry a valid signature by the log key. Check each with:"
    );
    let _ = writeln!(t, "  fwlog checkpoint verify {old_name} --log-key '{key}'");
    let _ = writeln!(t, "  fwlog checkpoint verify {new_name} --log-key '{key}'");
    for d in &fork.details {
        let _ = writeln!(t, "{d}");
    }
    if !fork.proof.is_empty() {
        let _ = writeln!(
            t,
            "\n-----BEGIN CONSISTENCY PROOF {} {}----- (RFC 9162, base64, leaf side first)",
            st.checkpoint.size, new_cp.size
        );
        for h in &fork.proof {
            let _ = writeln!(t, "{}", h.to_base64());
        }
        let _ = writeln!(t, "-----END CONSISTENCY PROOF-----");
    }
    let _ = write!(
        t,
        "\n-----BEGIN OLD CHECKPOINT-----\n{}-----END OLD CHECKPOINT-----\n",
        st.file.checkpoint
    );
    let _ = write!(
        t,
        "\n-----BEGIN NEW CHECKPOINT-----\n{}-----END NEW CHECKPOINT-----\n",
        String::from_utf8_lossy(&snap.checkpoint_bytes)
    );
    let summary = write_atomic(dir, &format!("{stem}.txt"), t.as_bytes())?;
    let old = write_atomic(dir, &old_name, st.file.checkpoint.as_bytes())?;
    let new = write_atomic(dir, &new_name, &snap.checkpoint_bytes)?;
    Ok(vec![summary, old, new])
}

/// What entry processing updates.
struct EntryContext<'a> {
    opts: &'a MonitorOptions,
    schema: EntrySchema,
    validator: FwlogEntries,
    releases: &'a mut Vec<ReleaseRecord>,
    events: &'a mut Vec<Event>,
    alerts: &'a mut usize,
    /// (release index, signer key, verdict), applied after all entries of the run.
    reproductions: Vec<(u64, String, Verdict)>,
    /// Positions in `releases` by (vendor key, firmware name, version).
    by_identity: HashMap<(String, String, String), Vec<usize>>,
}

/// Reads entries `old.size..new size` from the entry bundles, proves them included (see the
/// module documentation) and processes each. Returns how many were read.
fn read_new_entries(
    snap: &Snapshot<'_>,
    old: &Checkpoint,
    cx: &mut EntryContext<'_>,
) -> Result<u64, MonitorError> {
    let (m, n) = (old.size, snap.size());
    let broken = |s: String| MonitorError::BrokenRepo(s);
    let nodes = edge_nodes(m);
    let roots = TileHashReader::new(snap, n)
        .read_hashes(&nodes)
        .map_err(|e| broken(format!("reading the tree's edge at size {m}: {e}")))?;
    let mut edge = Edge { size: m, roots };
    if edge.root() != old.root {
        return Err(broken(format!(
            "the tiles' nodes for the first {m} entries do not hash to the verified root: corrupt tiles"
        )));
    }
    let first_bundle = m / TILE_WIDTH;
    for tile in tiles::entry_bundles_for_size(n).filter(|t| t.index >= first_bundle) {
        let path = tile.path();
        let data = snap
            .read_tile(&tile)
            .map_err(|e| broken(e.to_string()))?
            .ok_or_else(|| broken(format!("missing entry bundle {path}")))?;
        let entries =
            tiles::decode_entry_bundle(&tile, &data).map_err(|e| broken(e.to_string()))?;
        for (i, bytes) in entries.into_iter().enumerate() {
            let index = tile.index * TILE_WIDTH + i as u64;
            if index < m {
                continue;
            }
            let leaf = merkle::leaf_hash(bytes);
            edge.push(leaf);
            cx.entry(snap, index, &leaf, bytes);
        }
    }
    if edge.size != n || edge.root() != snap.root() {
        return Err(broken(format!(
            "entries {m}..{n} read from the entry bundles do not hash to the checkpoint's root"
        )));
    }
    Ok(n - m)
}

fn digests(a: &entry::Artifact) -> ArtifactDigests {
    ArtifactDigests {
        name: a.name.clone(),
        sha256: hex::encode(a.sha256),
        sha384: hex::encode(a.sha384),
    }
}

impl EntryContext<'_> {
    fn alert(
        &mut self,
        kind: AlertKind,
        index: Option<u64>,
        release_index: Option<u64>,
        signer_key: Option<String>,
        message: String,
    ) {
        *self.alerts += 1;
        self.events.push(Event::Alert {
            kind,
            index,
            release_index,
            signer_key,
            message,
        });
    }

    fn release_at(&self, index: u64) -> Option<&ReleaseRecord> {
        self.releases
            .binary_search_by_key(&index, |r| r.index)
            .ok()
            .map(|i| &self.releases[i])
    }

    fn entry(&mut self, snap: &Snapshot<'_>, index: u64, leaf: &Hash, bytes: &[u8]) {
        let plain = Event::Entry {
            index,
            leaf_hash: leaf.to_base64(),
            bytes: bytes.len(),
        };
        if self.schema == EntrySchema::Any {
            self.events.push(plain);
            return;
        }
        let parsed = match self.validator.check(bytes, snap) {
            Ok((p, _)) => p,
            Err(e) => {
                self.events.push(plain);
                self.alert(
                    AlertKind::InvalidEntry,
                    Some(index),
                    None,
                    None,
                    format!("entry {index} is not a valid fwlog entry: {e}"),
                );
                return;
            }
        };
        let signer = parsed.signer.to_string();
        let signer_name = parsed.signer.name().to_string();
        match parsed.entry {
            Entry::Release(r) => {
                self.events.push(Event::Release {
                    index,
                    leaf_hash: leaf.to_base64(),
                    name: r.firmware_name.clone(),
                    version: r.version.clone(),
                    signer: signer_name.clone(),
                    signer_key: signer.clone(),
                    released_on: entry::rfc3339_utc(r.released_on),
                    artifacts: r.artifacts.iter().map(digests).collect(),
                });
                let mut artifacts: Vec<ArtifactRecord> = r
                    .artifacts
                    .iter()
                    .map(|a| ArtifactRecord {
                        name: a.name.clone(),
                        sha256: hex::encode(a.sha256),
                    })
                    .collect();
                artifacts.sort();
                if let Some(p) = &self.opts.policy {
                    match p.vendors.iter().find(|v| v.key == parsed.signer) {
                        None => self.alert(
                            AlertKind::UnknownSigner,
                            Some(index),
                            Some(index),
                            Some(signer.clone()),
                            format!(
                                "release {} {} is signed by {signer}, which is not a vendor key in the policy",
                                r.firmware_name, r.version
                            ),
                        ),
                        Some(v) if !v.firmware.contains(&r.firmware_name) => self.alert(
                            AlertKind::FirmwareNotAllowed,
                            Some(index),
                            Some(index),
                            Some(signer.clone()),
                            format!(
                                "vendor {signer_name} may not release firmware {:?} under the policy",
                                r.firmware_name
                            ),
                        ),
                        Some(_) => {}
                    }
                }
                let identity = (signer.clone(), r.firmware_name.clone(), r.version.clone());
                let earlier = self.by_identity.get(&identity).and_then(|positions| {
                    positions
                        .iter()
                        .map(|&i| &self.releases[i])
                        .find(|e| e.artifacts != artifacts)
                        .map(|e| e.index)
                });
                if let Some(first) = earlier {
                    self.alert(
                        AlertKind::DuplicateRelease,
                        Some(index),
                        Some(first),
                        Some(signer.clone()),
                        format!(
                            "{signer_name} released {} {} again with different artifacts (earlier release: entry {first})",
                            r.firmware_name, r.version
                        ),
                    );
                }
                self.by_identity
                    .entry(identity)
                    .or_default()
                    .push(self.releases.len());
                self.releases.push(ReleaseRecord {
                    index,
                    vendor: signer,
                    name: r.firmware_name,
                    version: r.version,
                    released_on: r.released_on,
                    artifacts,
                    reproduced_by: vec![],
                    mismatch_by: vec![],
                    stale_alerted: false,
                });
            }
            Entry::Reproduction(rep) => {
                let release_index = rep.release.index;
                let (release_name, release_version) = match self.release_at(release_index) {
                    Some(r) => (Some(r.name.clone()), Some(r.version.clone())),
                    None => (None, None),
                };
                let what = match (&release_name, &release_version) {
                    (Some(n), Some(v)) => format!("release {release_index} ({n} {v})"),
                    _ => format!("release {release_index}"),
                };
                self.events.push(Event::Reproduction {
                    index,
                    leaf_hash: leaf.to_base64(),
                    release_index,
                    release_name,
                    release_version,
                    verdict: rep.verdict.as_str().into(),
                    signer: signer_name.clone(),
                    signer_key: signer.clone(),
                });
                if rep.verdict == Verdict::Mismatch {
                    self.alert(
                        AlertKind::Mismatch,
                        Some(index),
                        Some(release_index),
                        Some(signer.clone()),
                        format!("{signer_name} could not reproduce {what}: mismatch"),
                    );
                }
                if let Some(p) = &self.opts.policy {
                    if !p.rebuilders.contains(&parsed.signer) {
                        self.alert(
                            AlertKind::UnknownSigner,
                            Some(index),
                            Some(release_index),
                            Some(signer.clone()),
                            format!(
                                "reproduction of {what} is signed by {signer}, which is not a rebuilder key in the policy"
                            ),
                        );
                    }
                }
                self.reproductions
                    .push((release_index, signer, rep.verdict));
            }
        }
    }

    /// Records each reproduction's signer with its release (after the run's releases exist).
    fn apply_reproductions(&mut self) {
        for (index, signer, verdict) in std::mem::take(&mut self.reproductions) {
            let Ok(i) = self.releases.binary_search_by_key(&index, |r| r.index) else {
                continue;
            };
            let r = &mut self.releases[i];
            let list = match verdict {
                Verdict::Reproduced => &mut r.reproduced_by,
                Verdict::Mismatch => &mut r.mismatch_by,
                Verdict::Failed => continue,
            };
            if !list.contains(&signer) && list.len() < MAX_KEYS_PER_RELEASE {
                list.push(signer);
            }
        }
    }

    /// With a policy and `--stale-days`: alerts once for each release by a listed vendor that
    /// lacks the rebuilder quorum that many days after its `releasedOn`.
    fn check_stale(&mut self) {
        let (Some(p), Some(days)) = (&self.opts.policy, self.opts.stale_days) else {
            return;
        };
        if p.rebuilder_quorum == 0 {
            return;
        }
        let limit = days.saturating_mul(86_400);
        let trusted: BTreeSet<String> = p.rebuilders.iter().map(|k| k.to_string()).collect();
        let mut raised = Vec::new();
        for r in self.releases.iter_mut() {
            if r.stale_alerted || r.released_on.saturating_add(limit) > self.opts.now {
                continue;
            }
            let listed = p
                .vendors
                .iter()
                .any(|v| v.key.to_string() == r.vendor && v.firmware.contains(&r.name));
            if !listed {
                continue;
            }
            let have = r
                .reproduced_by
                .iter()
                .filter(|k| trusted.contains(*k) && !r.mismatch_by.contains(k))
                .count();
            if have < p.rebuilder_quorum {
                r.stale_alerted = true;
                raised.push((
                    r.index,
                    r.vendor.clone(),
                    format!(
                        "release {} ({} {}) has {have} of the {} trusted reproductions required, {days} day(s) after its release on {}",
                        r.index,
                        r.name,
                        r.version,
                        p.rebuilder_quorum,
                        entry::rfc3339_utc(r.released_on)
                    ),
                ));
            }
        }
        for (index, vendor, message) in raised {
            self.alert(AlertKind::Stale, None, Some(index), Some(vendor), message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::LeafHashes;

    fn leaves(n: u64, salt: u8) -> Vec<Hash> {
        (0..n)
            .map(|i| merkle::leaf_hash(&[salt, (i & 0xff) as u8, (i >> 8) as u8]))
            .collect()
    }

    #[test]
    fn consistency_roots_agree_with_the_verifier() {
        let all = leaves(70, 0);
        for n in 2..=70u64 {
            let tree = &all[..n as usize];
            for m in 1..n {
                let proof = merkle::consistency_proof(m, n, &LeafHashes(tree)).unwrap();
                let old_root = merkle::subtree_root(&tree[..m as usize]);
                let new_root = merkle::subtree_root(tree);
                merkle::verify_consistency(m, n, &old_root, &new_root, &proof).unwrap();
                let mut full = Vec::new();
                if m.is_power_of_two() {
                    full.push(old_root);
                }
                full.extend_from_slice(&proof);
                assert_eq!(
                    consistency_roots(m, n, &full),
                    Some((old_root, new_root)),
                    "m={m} n={n}"
                );
            }
        }
    }

    #[test]
    fn a_forked_prefix_shows_in_the_implied_old_root() {
        // Tree B differs from tree A in leaf 1; a proof from B's tiles leads to B's root and
        // implies B's prefix root, not A's.
        let a = leaves(7, 0);
        let mut b = a.clone();
        b[1] = merkle::leaf_hash(b"other");
        for m in 2..7u64 {
            let proof = merkle::consistency_proof(m, 7, &LeafHashes(&b)).unwrap();
            let a_root = merkle::subtree_root(&a[..m as usize]);
            let b_root = merkle::subtree_root(&b);
            assert!(merkle::verify_consistency(m, 7, &a_root, &b_root, &proof).is_err());
            let mut full = Vec::new();
            if m.is_power_of_two() {
                full.push(merkle::subtree_root(&b[..m as usize]));
            }
            full.extend_from_slice(&proof);
            let (prefix, root) = consistency_roots(m, 7, &full).unwrap();
            assert_eq!(root, b_root);
            assert_eq!(prefix, merkle::subtree_root(&b[..m as usize]));
            assert_ne!(prefix, a_root);
        }
    }

    #[test]
    fn edge_extends_to_the_root() {
        let all = leaves(600, 3);
        for m in [0u64, 1, 2, 3, 5, 8, 255, 256, 257, 300] {
            let nodes = edge_nodes(m);
            assert_eq!(nodes.len() as u32, m.count_ones());
            let roots = LeafHashes(&all).read_hashes(&nodes).unwrap();
            let mut edge = Edge { size: m, roots };
            assert_eq!(edge.root(), merkle::subtree_root(&all[..m as usize]));
            for leaf in &all[m as usize..] {
                edge.push(*leaf);
            }
            assert_eq!(edge.root(), merkle::subtree_root(&all));
        }
    }

    #[test]
    fn state_parsing_is_strict() {
        let key = crate::note::SignerKey::from_seed("example.com/log", [7; 32]).unwrap();
        let cp = SignedCheckpoint::sign(
            Checkpoint {
                origin: "example.com/log".into(),
                size: 2,
                root: merkle::leaf_hash(b"x"),
                extensions: vec![],
            },
            &key,
        )
        .unwrap();
        let file = StateFile {
            format: STATE_FORMAT.into(),
            origin: "example.com/log".into(),
            log_key: key.verifier_key().to_string(),
            entries: "fwlog/v1".into(),
            commit: "0".repeat(40),
            size: 2,
            checkpoint: String::from_utf8(cp.to_bytes()).unwrap(),
            releases: vec![],
        };
        let good = file.to_bytes();
        assert!(parse_state(&good).is_ok());
        assert!(parse_state(&good[..good.len() - 1]).is_err());
        assert!(parse_state(&good[..good.len() / 2]).is_err());
        assert!(parse_state(b"").is_err());
        assert!(parse_state(b"garbage\n").is_err());
        let spaced = String::from_utf8(good.clone())
            .unwrap()
            .replacen(",", ", ", 1);
        assert!(parse_state(spaced.as_bytes()).is_err());
        let mut wrong = file.clone();
        wrong.size = 3;
        assert!(parse_state(&wrong.to_bytes()).is_err());
        let mut wrong = file.clone();
        wrong.checkpoint = wrong.checkpoint.replacen("\n2\n", "\n3\n", 1);
        assert!(parse_state(&wrong.to_bytes())
            .unwrap_err()
            .contains("checkpoint"));
        let mut wrong = file.clone();
        wrong.origin = "example.com/other".into();
        assert!(parse_state(&wrong.to_bytes()).is_err());
        let mut wrong = file;
        wrong.releases.push(ReleaseRecord {
            index: 2,
            vendor: key.verifier_key().to_string(),
            name: "ovmf".into(),
            version: "1".into(),
            released_on: 0,
            artifacts: vec![ArtifactRecord {
                name: "a".into(),
                sha256: "0".repeat(64),
            }],
            reproduced_by: vec![],
            mismatch_by: vec![],
            stale_alerted: false,
        });
        assert!(parse_state(&wrong.to_bytes())
            .unwrap_err()
            .contains("below the size"));
        wrong.releases[0].index = 1;
        assert!(parse_state(&wrong.to_bytes()).is_ok());
    }
}
