//! Full audit of a log kept in Git: what `fwlog log verify` runs.
//!
//! 1. The checkpoint is signed by the log key (given by the auditor, or, trust on first use,
//!    the key in `log-info`) for the log's origin.
//! 2. Every entry bundle is decoded, every entry validated, and every hash tile recomputed from
//!    the entries in one streaming pass (memory O(levels · 256)); each stored tile must equal
//!    its recomputation, and the tree must hold no tile the size does not call for.
//! 3. The recomputed root must be the checkpoint's. When it is not, the stored tiles tell which
//!    side changed: if they still hash to the checkpoint root, the entries changed.
//! 4. Every index record must point at an entry with that leaf hash, each entry exactly once.
//! 5. Along the first-parent history, each commit's checkpoint must be signed by the same key
//!    and be consistent with its child's (proved from the child's tiles). The branch reflog, when
//!    present, must only ever have moved forward.

use std::collections::HashMap;

use serde::Serialize;

use crate::merkle::{self, Hash};
use crate::note::VerifierKey;
use crate::store::{EntryValidator, LogStore, Snapshot, StoreError};
use crate::tiles::{self, Tile, TileHashReader, TileKind, TileReader, TILE_WIDTH};

/// How bad a finding is: errors fail the audit, warnings are reported only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found, with where it is.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable machine-readable name, e.g. `changed_entry`, `missing_tile`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The result of an audit. `findings` empty of errors means the log verified.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub commit: String,
    pub log_key: String,
    /// `given` when the auditor named the key, `log-info` when it was taken from the repo.
    pub key_source: &'static str,
    pub entries_checked: u64,
    pub commits_checked: u64,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.findings
            .iter()
            .all(|f| f.severity == Severity::Warning)
    }
}

/// Progress callbacks: `(phase, done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(&'static str, u64, u64);

/// Per-kind cap on detailed findings; the rest are summed up in one line.
const MAX_DETAILED: usize = 50;

struct Findings {
    list: Vec<Finding>,
    counts: HashMap<&'static str, usize>,
}

impl Findings {
    fn add(
        &mut self,
        severity: Severity,
        kind: &'static str,
        message: String,
        path: Option<String>,
        index: Option<u64>,
        commit: Option<String>,
    ) {
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        if *n <= MAX_DETAILED {
            self.list.push(Finding {
                severity,
                kind,
                message,
                path,
                index,
                commit,
            });
        }
    }
    fn error(&mut self, kind: &'static str, message: String) {
        self.add(Severity::Error, kind, message, None, None, None);
    }
    fn finish(mut self) -> Vec<Finding> {
        let mut extra: Vec<_> = self
            .counts
            .iter()
            .filter(|(_, &n)| n > MAX_DETAILED)
            .map(|(k, n)| (*k, *n))
            .collect();
        extra.sort();
        for (kind, n) in extra {
            let severity = self
                .list
                .iter()
                .find(|f| f.kind == kind)
                .map_or(Severity::Error, |f| f.severity);
            self.list.push(Finding {
                severity,
                kind,
                message: format!("{} more {kind} findings not listed", n - MAX_DETAILED),
                path: None,
                index: None,
                commit: None,
            });
        }
        self.list
    }
}

/// Audits the log at `rev` (default: the branch head).
pub fn audit(
    store: &LogStore,
    rev: Option<&str>,
    log_key: Option<&VerifierKey>,
    validator: &dyn EntryValidator,
    progress: Progress<'_>,
) -> Result<AuditReport, StoreError> {
    let snap = match rev {
        Some(r) => store.at_rev(r)?,
        None => store.head()?,
    };
    let mut f = Findings {
        list: Vec::new(),
        counts: HashMap::new(),
    };
    let (key, key_source) = match log_key {
        Some(k) => {
            if k != &snap.info.key {
                f.error(
                    "log_key_mismatch",
                    format!("log-info names key {}, not the expected {k}", snap.info.key),
                );
            }
            (k.clone(), "given")
        }
        None => (snap.info.key.clone(), "log-info"),
    };
    let cp = &snap.checkpoint.checkpoint;
    if cp.origin != snap.info.origin {
        f.error(
            "origin_mismatch",
            format!(
                "checkpoint origin {:?} is not log-info's {:?}",
                cp.origin, snap.info.origin
            ),
        );
    }
    if let Err(e) = snap.checkpoint.verify(&key, None, &[], 0) {
        f.add(
            Severity::Error,
            "bad_checkpoint_signature",
            format!("checkpoint: {e}"),
            Some("checkpoint".into()),
            None,
            None,
        );
    }

    // The checkpoint's size decides how much work the checks below do: first make sure the
    // repository really holds that many entry bundles, so that a signed but absurd size (2^63)
    // is a finding, not an allocation failure or an endless loop.
    let bundles_present = snap.list_files("tile/entries")?.len() as u64;
    let bundles_expected = snap.size().div_ceil(TILE_WIDTH);
    // A few missing bundles are reported one by one below; a size out of all proportion to the
    // repository's content is reported once, without walking it.
    let entries_checked = if bundles_expected
        > bundles_present.saturating_mul(2).saturating_add(1024)
    {
        f.error(
            "missing_tile",
            format!(
                "the checkpoint claims {} entries ({bundles_expected} entry bundles) but the repository holds {bundles_present} entry bundles",
                snap.size()
            ),
        );
        check_unexpected_files(&snap, &mut f)?;
        0
    } else {
        let n = check_tiles(&snap, validator, &mut f, progress)?;
        n
    };
    let commits_checked = check_history(store, &snap, &key, &mut f, progress)?;

    Ok(AuditReport {
        origin: cp.origin.clone(),
        size: cp.size,
        root: cp.root.to_base64(),
        commit: snap.commit.id().to_string(),
        log_key: key.to_string(),
        key_source,
        entries_checked,
        commits_checked,
        findings: f.finish(),
    })
}

/// Streaming recomputation of every hash tile from leaf hashes.
struct Recompute {
    /// Partial hashes at each tile level (level L holds Merkle level 8L).
    levels: Vec<Vec<Hash>>,
    /// Full tiles completed by the last push, with their hashes, to compare and drop.
    completed: Vec<(Tile, Vec<Hash>)>,
}

impl Recompute {
    fn push(&mut self, leaf: Hash) {
        let mut carry = Some(leaf);
        let mut level = 0usize;
        while let Some(h) = carry.take() {
            if self.levels.len() == level {
                self.levels.push(Vec::with_capacity(TILE_WIDTH as usize));
            }
            self.levels[level].push(h);
            if self.levels[level].len() as u64 == TILE_WIDTH {
                let hashes = std::mem::take(&mut self.levels[level]);
                let root = merkle::subtree_root(&hashes);
                // The tile's index is how many full tiles this level has completed so far.
                self.completed.push((
                    Tile {
                        kind: TileKind::Hash(level as u8),
                        index: 0,
                        width: 256,
                    },
                    hashes,
                ));
                carry = Some(root);
                level += 1;
            }
        }
    }

    /// The RFC 9162 root: right fold of the perfect subtrees of the size's binary
    /// decomposition, taken level by level from the partial hashes, highest level first.
    fn root(&self) -> Hash {
        let mut parts = Vec::new();
        for hashes in self.levels.iter().rev() {
            let mut at = 0;
            while at < hashes.len() {
                let chunk = 1usize << (usize::BITS - 1 - (hashes.len() - at).leading_zeros());
                parts.push(merkle::subtree_root(&hashes[at..at + chunk]));
                at += chunk;
            }
        }
        match parts.split_last() {
            None => merkle::empty_root(),
            Some((last, rest)) => rest
                .iter()
                .rev()
                .fold(*last, |acc, h| merkle::node_hash(h, &acc)),
        }
    }
}

fn check_tiles(
    snap: &Snapshot<'_>,
    validator: &dyn EntryValidator,
    f: &mut Findings,
    progress: Progress<'_>,
) -> Result<u64, StoreError> {
    let size = snap.size();
    let mut rc = Recompute {
        levels: Vec::new(),
        completed: Vec::new(),
    };
    let mut full_count: Vec<u64> = Vec::new();
    let mut leaf_mismatches: Vec<u64> = Vec::new();
    let mut checked = 0u64;
    let bundles: Vec<Tile> = tiles::entry_bundles_for_size(size).collect();
    let total = bundles.len() as u64;
    for (b, bundle) in bundles.iter().enumerate() {
        progress("entries", b as u64, total);
        let base = bundle.index * TILE_WIDTH;
        let level0 = Tile {
            kind: TileKind::Hash(0),
            index: bundle.index,
            width: bundle.width,
        };
        let stored0 = read_hashes(snap, &level0);
        // A bundle that cannot be read is reported, and the stored level-0 hashes stand in for
        // its leaves so that the rest of the tree can still be checked.
        let unreadable = |f: &mut Findings, kind: &'static str, message: String| {
            f.add(
                Severity::Error,
                kind,
                message,
                Some(bundle.path()),
                None,
                None,
            );
            stored0.clone().unwrap_or_default()
        };
        let leaves: Vec<Hash> = match snap.read_tile(bundle) {
            Ok(Some(data)) => match tiles::decode_entry_bundle(bundle, &data) {
                Ok(entries) => entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        if let Err(reason) = validator.validate(e, snap) {
                            f.add(
                                Severity::Error,
                                "invalid_entry",
                                format!("entry {}: {reason}", base + i as u64),
                                Some(bundle.path()),
                                Some(base + i as u64),
                                None,
                            );
                        }
                        merkle::leaf_hash(e)
                    })
                    .collect(),
                Err(e) => unreadable(f, "malformed_tile", e.to_string()),
            },
            Ok(None) => unreadable(
                f,
                "missing_tile",
                format!("entry bundle {} is missing", bundle.path()),
            ),
            Err(e) => unreadable(f, "malformed_tile", e.to_string()),
        };
        if leaves.len() != usize::from(bundle.width) {
            f.error("audit_incomplete", format!("entries {base}.. could not be read from the bundle or the level-0 tile; the rest of the tile check is skipped"));
            return Ok(checked);
        }
        if let Some(stored) = &stored0 {
            for (i, (a, b)) in leaves.iter().zip(stored).enumerate() {
                if a != b {
                    leaf_mismatches.push(base + i as u64);
                }
            }
        }
        checked += leaves.len() as u64;
        for leaf in leaves {
            rc.push(leaf);
        }
        for (mut tile, hashes) in std::mem::take(&mut rc.completed) {
            let TileKind::Hash(level) = tile.kind else {
                continue;
            };
            let n = full_count.get(usize::from(level)).copied().unwrap_or(0);
            if full_count.len() <= usize::from(level) {
                full_count.resize(usize::from(level) + 1, 0);
            }
            full_count[usize::from(level)] = n + 1;
            tile.index = n;
            compare_tile(snap, &tile, &hashes, f);
        }
    }
    progress("entries", total, total);
    // The partial tiles of every level.
    for (level, hashes) in rc.levels.iter().enumerate() {
        if hashes.is_empty() {
            continue;
        }
        let index = full_count.get(level).copied().unwrap_or(0);
        let tile = Tile {
            kind: TileKind::Hash(level as u8),
            index,
            width: hashes.len() as u16,
        };
        compare_tile(snap, &tile, hashes, f);
    }
    check_unexpected_files(snap, f)?;

    let root = rc.root();
    let cp_root = snap.root();
    if root != cp_root {
        let stored_root = merkle::tree_root(size, &TileHashReader::new(snap, size)).ok();
        if stored_root == Some(cp_root) && !leaf_mismatches.is_empty() {
            for i in leaf_mismatches {
                f.add(
                    Severity::Error,
                    "changed_entry",
                    format!("entry {i} does not match the leaf hash the checkpoint commits to"),
                    None,
                    Some(i),
                    None,
                );
            }
        } else {
            f.error(
                "checkpoint_root_mismatch",
                format!("the entries hash to root {root}, but the checkpoint says {cp_root}: the checkpoint does not commit to this log (forged, re-signed or rewritten)"),
            );
        }
    }
    Ok(checked)
}

/// Reads a hash tile as stored; `None` when absent or malformed (reported by `compare_tile`).
fn read_hashes(snap: &Snapshot<'_>, tile: &Tile) -> Option<Vec<Hash>> {
    let data = snap.read_tile(tile).ok()??;
    tiles::decode_hash_tile(tile, &data).ok()
}

fn compare_tile(snap: &Snapshot<'_>, tile: &Tile, hashes: &[Hash], f: &mut Findings) {
    let path = tile.path();
    match snap.read_tile(tile) {
        Ok(Some(data)) if data == tiles::encode_hash_tile(hashes) => {}
        Ok(Some(_)) => f.add(
            Severity::Error,
            "changed_tile",
            format!("{path} does not match the tile recomputed from the entries"),
            Some(path),
            None,
            None,
        ),
        Ok(None) => f.add(
            Severity::Error,
            "missing_tile",
            format!("{path} is missing"),
            Some(path),
            None,
            None,
        ),
        Err(e) => f.add(
            Severity::Error,
            "malformed_tile",
            e.to_string(),
            Some(path),
            None,
            None,
        ),
    }
}

/// Every path under `tile/` must be a tile the size calls for.
fn check_unexpected_files(snap: &Snapshot<'_>, f: &mut Findings) -> Result<(), StoreError> {
    let size = snap.size();
    for (path, regular) in snap.list_files("tile")? {
        let known = Tile::parse_path(&path).is_ok_and(|t| tiles::exists_at_size(&t, size));
        if !known || !regular {
            let why = if regular {
                "is not a tile of a log of this size"
            } else {
                "is not a regular file"
            };
            f.add(
                Severity::Error,
                "unexpected_file",
                format!("{path} {why}"),
                Some(path),
                None,
                None,
            );
        }
    }
    Ok(())
}

/// First-parent history: every checkpoint signed by `key`, for the same origin, and consistent
/// with the next one. Then the reflog: the branch only ever moved forward.
fn check_history(
    store: &LogStore,
    snap: &Snapshot<'_>,
    key: &VerifierKey,
    f: &mut Findings,
    progress: Progress<'_>,
) -> Result<u64, StoreError> {
    let mut child_id = snap.commit.id();
    let mut checked = 1u64;
    loop {
        let child = store.snapshot(child_id)?;
        let Ok(parent) = child.commit.parent(0) else {
            break;
        };
        let pid = parent.id();
        checked += 1;
        progress("history", checked, 0);
        let commit = Some(pid.to_string());
        let older = match store.snapshot(pid) {
            Ok(s) => s,
            Err(e) => {
                f.add(
                    Severity::Error,
                    "history_bad_checkpoint",
                    format!("commit {pid}: {e}"),
                    None,
                    None,
                    commit,
                );
                break;
            }
        };
        if let Err(e) =
            older
                .checkpoint
                .verify(key, Some(&child.checkpoint.checkpoint.origin), &[], 0)
        {
            f.add(
                Severity::Error,
                "history_bad_checkpoint",
                format!("commit {pid}: {e}"),
                None,
                None,
                commit.clone(),
            );
        }
        let (m, n) = (older.size(), child.size());
        let consistent = if m > n {
            f.add(
                Severity::Error,
                "history_shrunk",
                format!("commit {child_id} has {n} entries but its parent {pid} had {m}: entries vanished"),
                None,
                None,
                Some(child_id.to_string()),
            );
            true
        } else {
            child.extends(m, &older.root())
        };
        if !consistent {
            f.add(
                Severity::Error,
                "history_inconsistent",
                format!("the checkpoint of {child_id} (size {n}) is not consistent with its parent {pid} (size {m})"),
                None,
                None,
                Some(child_id.to_string()),
            );
        }
        child_id = pid;
    }
    check_reflog(store, snap, f);
    Ok(checked)
}

/// Old values of the branch (from this clone's reflog) that are not first-parent ancestors of
/// the audited commit mean history was rewritten here: a warning when the old checkpoint is
/// still consistent with the new one, an error when entries vanished or changed.
fn check_reflog(store: &LogStore, snap: &Snapshot<'_>, f: &mut Findings) {
    let Ok(reflog) = store.repo().reflog(store.refname()) else {
        return;
    };
    if store.head_commit().ok() != Some(snap.commit.id()) {
        return; // auditing another revision: the reflog speaks of the branch head
    }
    let tip = snap.commit.id();
    for entry in reflog.iter() {
        let old = entry.id_old();
        if old.is_zero()
            || old == tip
            || store.repo().graph_descendant_of(tip, old).unwrap_or(false)
        {
            continue;
        }
        let Ok(prev) = store.snapshot(old) else {
            continue;
        };
        let m = prev.size();
        let consistent = snap.extends(m, &prev.root());
        let (severity, kind, what) = if consistent {
            (
                Severity::Warning,
                "history_rewritten",
                "history was rewritten, but the old checkpoint is consistent with the new one",
            )
        } else {
            (
                Severity::Error,
                "history_rewritten",
                "history was rewritten and entries vanished or changed",
            )
        };
        f.add(
            severity,
            kind,
            format!("branch was at {old} (size {m}): {what}"),
            None,
            None,
            Some(old.to_string()),
        );
    }
}
