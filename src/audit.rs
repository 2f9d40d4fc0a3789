//! Full audit of a log kept in Git: what `fwlog log verify` runs.
//!
//! 1. The checkpoint is signed by the log key (given by the auditor, or, trust on first use,
//!    the key in `log-info`) for the log's origin.
//! 2. Every entry bundle is decoded, every entry validated, and every hash tile recomputed from
//!    the entries in one streaming pass; each stored tile must equal its recomputation, and the
//!    tree must hold no tile the size does not call for. Bundles are read a chunk at a time on
//!    the calling thread; the entries of a chunk are validated (for fwlog/v1 logs, an Ed25519
//!    signature each) and leaf-hashed on the rayon pool while the next chunk is read, and the
//!    results are fed to the tile recomputation in log order, so findings come out in the same
//!    order as from a sequential pass. Memory is bounded (two chunks, a lookup cache, and
//!    O(levels · 256) hashes), whatever the log size.
//! 3. The recomputed root must be the checkpoint's. When it is not, the stored tiles tell which
//!    side changed: if they still hash to the checkpoint root, the entries changed.
//! 4. Along the first-parent history, each commit's checkpoint must be signed by the same key
//!    and be consistent with its child's (proved from the child's tiles, O(log n) reads); these
//!    checks also run on the pool, a batch of commits at a time, reported in chain order. The
//!    branch reflog, when present, must only ever have moved forward.
//!
//! Pool threads read the repository through handles of their own ([`LogStore::open`] on the
//! same directory), since git2 handles are not `Sync`.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use git2::Oid;
use rayon::prelude::*;
use serde::Serialize;

use crate::merkle::{self, Hash};
use crate::note::VerifierKey;
use crate::store::{EntryLookup, EntryValidator, LogStore, Snapshot, StoreError};
use crate::tiles::{self, Tile, TileError, TileHashReader, TileKind, TileReader, TILE_WIDTH};

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

    let pool = StorePool::new(store);
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
        check_tiles(&pool, &snap, validator, &mut f, progress)?
    };
    let commits_checked = check_history(store, &pool, &snap, &key, &mut f, progress)?;

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

/// Entry bundles read per chunk. Each chunk is validated and leaf-hashed on the rayon pool while
/// this thread feeds the previous chunk's results into the tile check and reads the next chunk.
const CHUNK_BUNDLES: usize = if cfg!(test) { 2 } else { 16 };
/// A chunk stops growing once its bundles hold this many bytes (logs of large entries).
const CHUNK_BYTES: usize = if cfg!(test) { 16 << 10 } else { 2 << 20 };
/// Bytes of decoded entry bundles kept for validators' lookups after their chunk is done.
const CACHE_BYTES: usize = if cfg!(test) { 16 << 10 } else { 4 << 20 };

/// An entry bundle as read: its bytes and where each entry lies in them.
struct Bundle {
    data: Vec<u8>,
    entries: Vec<Range<usize>>,
}

impl Bundle {
    fn decode(tile: &Tile, data: Vec<u8>) -> Result<Bundle, TileError> {
        let lens: Vec<usize> = tiles::decode_entry_bundle(tile, &data)?
            .iter()
            .map(|e| e.len())
            .collect();
        // Decoded, the layout is known: each entry follows its two length bytes.
        let mut at = 0;
        let entries = lens
            .into_iter()
            .map(|len| {
                at += 2 + len;
                at - len..at
            })
            .collect();
        Ok(Bundle { data, entries })
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        self.entries.get(i).map(|r| &self.data[r.clone()])
    }

    fn bytes(&self) -> usize {
        self.data.len() + self.entries.len() * std::mem::size_of::<Range<usize>>()
    }
}

/// One entry bundle read by the tile check, in log order.
struct ReadBundle {
    tile: Tile,
    /// The level-0 hashes as stored: `None` when absent or malformed (`compare_tile` says so).
    stored0: Option<Vec<Hash>>,
    /// The entries, or the finding (kind, message) that the bundle could not be read.
    body: Result<Arc<Bundle>, (&'static str, String)>,
}

fn read_bundle(snap: &Snapshot<'_>, tile: &Tile) -> ReadBundle {
    let level0 = Tile {
        kind: TileKind::Hash(0),
        index: tile.index,
        width: tile.width,
    };
    let body = match snap.read_tile(tile) {
        Ok(Some(data)) => Bundle::decode(tile, data)
            .map(Arc::new)
            .map_err(|e| ("malformed_tile", e.to_string())),
        Ok(None) => Err((
            "missing_tile",
            format!("entry bundle {} is missing", tile.path()),
        )),
        Err(e) => Err(("malformed_tile", e.to_string())),
    };
    ReadBundle {
        tile: *tile,
        stored0: read_hashes(snap, &level0),
        body,
    }
}

/// Reads the next chunk of `bundles` from `*next` on, and advances `*next` past it.
fn read_chunk(snap: &Snapshot<'_>, bundles: &[Tile], next: &mut usize) -> Vec<ReadBundle> {
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while let Some(tile) = bundles.get(*next) {
        if chunk.len() == CHUNK_BUNDLES || bytes >= CHUNK_BYTES {
            break;
        }
        let rb = read_bundle(snap, tile);
        bytes += rb.body.as_ref().map_or(0, |b| b.bytes());
        chunk.push(rb);
        *next += 1;
    }
    chunk
}

/// What validation found for one entry: its leaf hash, and why it is invalid.
type Checked = (Hash, Option<String>);

/// Validates and leaf-hashes every entry of the lookup's chunk on the rayon pool; one list per
/// bundle (empty for a bundle that could not be read), in order.
fn validate_chunk(lookup: &ChunkLookup<'_>, validator: &dyn EntryValidator) -> Vec<Vec<Checked>> {
    lookup
        .chunk
        .par_iter()
        .map(|rb| match &rb.body {
            Ok(bundle) => bundle
                .entries
                .par_iter()
                .map(|r| {
                    let e = &bundle.data[r.clone()];
                    (merkle::leaf_hash(e), validator.validate(e, lookup).err())
                })
                .collect(),
            Err(_) => Vec::new(),
        })
        .collect()
}

/// Recently read entry bundles, least recently used first, at most [`CACHE_BYTES`] in all.
#[derive(Default)]
struct BundleCache {
    bundles: VecDeque<(u64, Arc<Bundle>)>,
    bytes: usize,
}

impl BundleCache {
    fn get(&mut self, index: u64) -> Option<Arc<Bundle>> {
        let at = self.bundles.iter().rposition(|(i, _)| *i == index)?;
        let hit = self.bundles.remove(at)?;
        let bundle = Arc::clone(&hit.1);
        self.bundles.push_back(hit);
        Some(bundle)
    }

    fn insert(&mut self, index: u64, bundle: Arc<Bundle>) {
        if let Some(at) = self.bundles.iter().position(|(i, _)| *i == index) {
            if let Some((_, old)) = self.bundles.remove(at) {
                self.bytes -= old.bytes();
            }
        }
        let n = bundle.bytes();
        if n > CACHE_BYTES {
            return;
        }
        while self.bytes + n > CACHE_BYTES {
            let Some((_, old)) = self.bundles.pop_front() else {
                break;
            };
            self.bytes -= old.bytes();
        }
        self.bytes += n;
        self.bundles.push_back((index, bundle));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Repository handles for pool threads, which cannot share the auditor's (git2 handles are not
/// `Sync`): opened on first need from the same repository, and reused.
struct StorePool {
    dir: PathBuf,
    branch: String,
    stores: Mutex<Vec<LogStore>>,
}

impl StorePool {
    fn new(store: &LogStore) -> StorePool {
        let branch = store
            .refname()
            .strip_prefix("refs/heads/")
            .unwrap_or(crate::store::DEFAULT_BRANCH);
        StorePool {
            dir: store.repo().path().to_path_buf(),
            branch: branch.to_string(),
            stores: Mutex::new(Vec::new()),
        }
    }

    /// Runs `op` with a handle no other thread uses meanwhile.
    fn with<R>(
        &self,
        op: impl FnOnce(&LogStore) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let popped = lock(&self.stores).pop();
        let store = match popped {
            Some(s) => s,
            None => LogStore::open(&self.dir, &self.branch)?,
        };
        let out = op(&store);
        lock(&self.stores).push(store);
        out
    }
}

/// The audited snapshot's entries for validators on pool threads: recently read bundles from a
/// cache, the rest read through the pool's repository handles.
struct SharedEntries<'p> {
    pool: &'p StorePool,
    commit: Oid,
    size: u64,
    cache: Mutex<BundleCache>,
}

impl SharedEntries<'_> {
    /// What `Snapshot::entry` returns, errors included.
    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        if let Some((tile, at)) = tiles::entry_bundle_for_index(index, self.size) {
            if let Some(e) = lock(&self.cache)
                .get(tile.index)
                .and_then(|b| b.get(at).map(<[u8]>::to_vec))
            {
                return Ok(e);
            }
        }
        self.pool.with(|store| self.read(store, index))
    }

    fn read(&self, store: &LogStore, index: u64) -> Result<Vec<u8>, StoreError> {
        let snap = store.snapshot(self.commit)?;
        if let Some((tile, at)) = tiles::entry_bundle_for_index(index, self.size) {
            if let Ok(Some(data)) = snap.read_tile(&tile) {
                if let Ok(bundle) = Bundle::decode(&tile, data) {
                    if let Some(e) = bundle.get(at).map(<[u8]>::to_vec) {
                        lock(&self.cache).insert(tile.index, Arc::new(bundle));
                        return Ok(e);
                    }
                }
            }
        }
        // Whatever went wrong, fail exactly as the snapshot does.
        snap.entry(index)
    }
}

/// The log as validators see it while a chunk is validated: the chunk itself, then the rest.
struct ChunkLookup<'a> {
    chunk: &'a [ReadBundle],
    shared: &'a SharedEntries<'a>,
}

impl EntryLookup for ChunkLookup<'_> {
    fn size(&self) -> u64 {
        self.shared.size
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        if index < self.shared.size {
            let first = self.chunk.first().map_or(0, |rb| rb.tile.index);
            let hit = (index / TILE_WIDTH)
                .checked_sub(first)
                .and_then(|k| self.chunk.get(usize::try_from(k).ok()?))
                .filter(|rb| rb.tile.index == index / TILE_WIDTH)
                .and_then(|rb| rb.body.as_ref().ok())
                .and_then(|b| b.get((index % TILE_WIDTH) as usize));
            if let Some(e) = hit {
                return Ok(e.to_vec());
            }
        }
        self.shared.entry(index)
    }
}

/// The sequential half of the tile check: results fed in log order, bundle by bundle.
struct TileCheck<'s, 'r> {
    snap: &'s Snapshot<'r>,
    rc: Recompute,
    /// Full tiles completed so far at each level.
    full_count: Vec<u64>,
    /// Entries whose leaf hash is not the stored level-0 hash: the first few, and how many.
    leaf_mismatches: Vec<u64>,
    mismatch_count: usize,
    checked: u64,
    total: u64,
}

impl TileCheck<'_, '_> {
    /// Takes one bundle's results; false when the rest of the tile check cannot be done.
    fn bundle(
        &mut self,
        rb: &ReadBundle,
        results: Vec<Checked>,
        f: &mut Findings,
        progress: Progress<'_>,
    ) -> bool {
        let bundle = &rb.tile;
        progress("entries", bundle.index, self.total);
        let base = bundle.index * TILE_WIDTH;
        // A bundle that cannot be read is reported, and the stored level-0 hashes stand in for
        // its leaves so that the rest of the tree can still be checked.
        let leaves: Vec<Hash> = match &rb.body {
            Ok(_) => results
                .into_iter()
                .enumerate()
                .map(|(i, (leaf, invalid))| {
                    if let Some(reason) = invalid {
                        f.add(
                            Severity::Error,
                            "invalid_entry",
                            format!("entry {}: {reason}", base + i as u64),
                            Some(bundle.path()),
                            Some(base + i as u64),
                            None,
                        );
                    }
                    leaf
                })
                .collect(),
            Err((kind, message)) => {
                f.add(
                    Severity::Error,
                    kind,
                    message.clone(),
                    Some(bundle.path()),
                    None,
                    None,
                );
                rb.stored0.clone().unwrap_or_default()
            }
        };
        if leaves.len() != usize::from(bundle.width) {
            f.error("audit_incomplete", format!("entries {base}.. could not be read from the bundle or the level-0 tile; the rest of the tile check is skipped"));
            return false;
        }
        if let Some(stored) = &rb.stored0 {
            for (i, (a, b)) in leaves.iter().zip(stored).enumerate() {
                if a != b {
                    self.mismatch_count += 1;
                    if self.leaf_mismatches.len() < MAX_DETAILED {
                        self.leaf_mismatches.push(base + i as u64);
                    }
                }
            }
        }
        self.checked += leaves.len() as u64;
        for leaf in leaves {
            self.rc.push(leaf);
        }
        for (mut tile, hashes) in std::mem::take(&mut self.rc.completed) {
            let TileKind::Hash(level) = tile.kind else {
                continue;
            };
            let level = usize::from(level);
            if self.full_count.len() <= level {
                self.full_count.resize(level + 1, 0);
            }
            tile.index = self.full_count[level];
            self.full_count[level] += 1;
            compare_tile(self.snap, &tile, &hashes, f);
        }
        true
    }
}

/// Every entry bundle read, every entry validated and leaf-hashed (on the rayon pool), every
/// hash tile recomputed and compared, and the root checked. Returns the entries checked.
///
/// Memory is bounded whatever the size: two chunks of bundles (the one being validated and the
/// one being read), the lookup cache, and O(levels · 256) hashes.
fn check_tiles(
    pool: &StorePool,
    snap: &Snapshot<'_>,
    validator: &dyn EntryValidator,
    f: &mut Findings,
    progress: Progress<'_>,
) -> Result<u64, StoreError> {
    let size = snap.size();
    let bundles: Vec<Tile> = tiles::entry_bundles_for_size(size).collect();
    let mut check = TileCheck {
        snap,
        rc: Recompute {
            levels: Vec::new(),
            completed: Vec::new(),
        },
        full_count: Vec::new(),
        leaf_mismatches: Vec::new(),
        mismatch_count: 0,
        checked: 0,
        total: bundles.len() as u64,
    };
    let shared = SharedEntries {
        pool,
        commit: snap.commit.id(),
        size,
        cache: Mutex::new(BundleCache::default()),
    };
    // This thread reads and checks while the pool validates, and sleeps most of the time: the
    // pool gets one thread more than the global one so that every core stays busy. Measured
    // on a 101k-entry log, 2 cores: 1.81–1.85 cores busy and 3.36–3.52 s with 2 pool threads,
    // 1.91 cores and 3.22–3.25 s with 3.
    let local = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads() + 1)
        .build()
        .ok();
    let mut next = 0;
    let mut current = read_chunk(snap, &bundles, &mut next);
    // The chunk validated in the previous round, with its results, not yet fed to the check.
    let mut done: Option<(Vec<ReadBundle>, Vec<Vec<Checked>>)> = None;
    let mut complete = true;
    while complete && (!current.is_empty() || done.is_some()) {
        let mut results = Vec::new();
        let mut upcoming = Vec::new();
        // The body runs on this thread (it holds the git2 handles); the spawned validation runs
        // on the pool meanwhile, and the scope ends when both are done.
        in_place_scope(local.as_ref(), |s| {
            if !current.is_empty() {
                let lookup = ChunkLookup {
                    chunk: &current,
                    shared: &shared,
                };
                let results = &mut results;
                s.spawn(move |_| *results = validate_chunk(&lookup, validator));
            }
            if let Some((chunk, checked)) = done.take() {
                for (rb, results) in chunk.into_iter().zip(checked) {
                    complete = complete && check.bundle(&rb, results, f, progress);
                    if let Ok(bundle) = rb.body {
                        lock(&shared.cache).insert(rb.tile.index, bundle);
                    }
                }
            }
            if complete {
                upcoming = read_chunk(snap, &bundles, &mut next);
            }
        });
        let validated = std::mem::replace(&mut current, upcoming);
        done = (!validated.is_empty()).then_some((validated, results));
    }
    if !complete {
        return Ok(check.checked);
    }
    progress("entries", check.total, check.total);
    let TileCheck {
        rc,
        full_count,
        leaf_mismatches,
        mismatch_count,
        checked,
        ..
    } = check;
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
        if stored_root == Some(cp_root) && mismatch_count > 0 {
            for &i in &leaf_mismatches {
                f.add(
                    Severity::Error,
                    "changed_entry",
                    format!("entry {i} does not match the leaf hash the checkpoint commits to"),
                    None,
                    Some(i),
                    None,
                );
            }
            // Beyond the detailed ones, only the count is reported.
            *f.counts.entry("changed_entry").or_default() += mismatch_count - leaf_mismatches.len();
        } else {
            f.error(
                "checkpoint_root_mismatch",
                format!("the entries hash to root {root}, but the checkpoint says {cp_root}: the checkpoint does not commit to this log (forged, re-signed or rewritten)"),
            );
        }
    }
    Ok(checked)
}

/// `rayon::in_place_scope` on `pool`, or on the global pool.
fn in_place_scope<'scope, OP, R>(pool: Option<&rayon::ThreadPool>, op: OP) -> R
where
    OP: FnOnce(&rayon::Scope<'scope>) -> R,
{
    match pool {
        Some(pool) => pool.in_place_scope(op),
        None => rayon::in_place_scope(op),
    }
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

/// Commits whose checks run in parallel in one round of the history check.
const HISTORY_BATCH: usize = if cfg!(test) { 3 } else { 256 };

/// First-parent history: every checkpoint signed by `key`, for the same origin, and consistent
/// with the next one. Then the reflog: the branch only ever moved forward.
///
/// This thread walks the chain a batch of commits at a time; each commit's checks (its
/// checkpoint's signature, a consistency proof from its child's tiles) run on the rayon pool,
/// and their findings are reported in chain order.
fn check_history(
    store: &LogStore,
    pool: &StorePool,
    snap: &Snapshot<'_>,
    key: &VerifierKey,
    f: &mut Findings,
    progress: Progress<'_>,
) -> Result<u64, StoreError> {
    let mut child = snap.commit.clone();
    let mut checked = 1u64;
    let mut more = true;
    while more {
        let mut pairs = Vec::with_capacity(HISTORY_BATCH);
        while pairs.len() < HISTORY_BATCH {
            let Ok(parent) = child.parent(0) else {
                more = false;
                break;
            };
            pairs.push((child.id(), parent.id()));
            child = parent;
        }
        let results: Vec<_> = pairs
            .par_iter()
            .map(|&(child_id, pid)| pool.with(|s| check_commit(s, child_id, pid, key)))
            .collect();
        release_free_memory();
        for result in results {
            checked += 1;
            progress("history", checked, 0);
            let (findings, stop) = result?;
            for d in findings {
                f.add(d.severity, d.kind, d.message, d.path, d.index, d.commit);
            }
            if stop {
                more = false;
                break;
            }
        }
    }
    check_reflog(store, snap, f);
    Ok(checked)
}

/// Hands the C heap's free pages back to the system (glibc's `malloc_trim`). Each commit of the
/// history check parses that commit's own versions of the right-edge trees, on several
/// threads, and glibc keeps what they free, too fragmented to reuse: without this, memory grew
/// with the number of commits (`fwlog log verify` of a log of 3,000 single-entry appends: 157 to
/// 214 MiB anonymous; with it, and libgit2's object cache at 2 MiB, 30 to 47 MiB). Once per
/// batch of [`HISTORY_BATCH`] commits it costs little.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer; it trims glibc's own arenas under their locks and
    // may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The checks of one commit of the history (`pid`, the first parent of `child_id`): the
/// findings, and whether the walk stops there (the parent holds no readable checkpoint).
fn check_commit(
    store: &LogStore,
    child_id: Oid,
    pid: Oid,
    key: &VerifierKey,
) -> Result<(Vec<Finding>, bool), StoreError> {
    let child = store.snapshot(child_id)?;
    let finding = |kind, message, commit: Oid| Finding {
        severity: Severity::Error,
        kind,
        message,
        path: None,
        index: None,
        commit: Some(commit.to_string()),
    };
    let older = match store.snapshot(pid) {
        Ok(s) => s,
        Err(e) => {
            let bad = finding("history_bad_checkpoint", format!("commit {pid}: {e}"), pid);
            return Ok((vec![bad], true));
        }
    };
    let mut out = Vec::new();
    if let Err(e) = older
        .checkpoint
        .verify(key, Some(&child.checkpoint.checkpoint.origin), &[], 0)
    {
        out.push(finding(
            "history_bad_checkpoint",
            format!("commit {pid}: {e}"),
            pid,
        ));
    }
    let (m, n) = (older.size(), child.size());
    let consistent = if m > n {
        out.push(finding(
            "history_shrunk",
            format!(
                "commit {child_id} has {n} entries but its parent {pid} had {m}: entries vanished"
            ),
            child_id,
        ));
        true
    } else {
        child.extends(m, &older.root())
    };
    if !consistent {
        out.push(finding(
            "history_inconsistent",
            format!("the checkpoint of {child_id} (size {n}) is not consistent with its parent {pid} (size {m})"),
            child_id,
        ));
    }
    Ok((out, false))
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
    let repo = store.repo();
    let first_parent = |id: Oid| repo.find_commit(id).ok()?.parent_id(0).ok();
    // The newest commit known to be the tip or one of its ancestors. Entries come newest first,
    // and an append moves the branch from a commit to its child: then `old` is the first
    // parent of the known ancestor and needs no history walk (one walk per entry would make
    // this check quadratic in the number of appends).
    let mut known = tip;
    for entry in reflog.iter() {
        let old = entry.id_old();
        if old.is_zero() {
            continue;
        }
        let ancestor = old == tip
            || (entry.id_new() == known && first_parent(known) == Some(old))
            || repo.graph_descendant_of(tip, old).unwrap_or(false);
        if ancestor {
            known = old;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::SignedCheckpoint;
    use crate::note::SignerKey;
    use crate::store::{AnyEntry, EntrySchema, NewEntry, DEFAULT_BRANCH};

    const ORIGIN: &str = "audit.example/log";

    /// Entry `<i>:<j>` refers to entry `j` (which must start with `<j>:`); entries containing
    /// `bad` are invalid. Lookups go wherever `j` is: this chunk, an earlier one, a later one,
    /// or past the end of the log.
    struct RefValidator;

    impl EntryValidator for RefValidator {
        fn validate(
            &self,
            entry: &[u8],
            log: &dyn EntryLookup,
        ) -> Result<crate::store::EntryInfo, String> {
            let text = std::str::from_utf8(entry).map_err(|e| e.to_string())?;
            if text.contains("bad") {
                return Err(format!("{text} is bad"));
            }
            let j: u64 = text
                .split(':')
                .nth(1)
                .and_then(|j| j.parse().ok())
                .ok_or("no reference")?;
            let target = log.entry(j).map_err(|e| format!("lookup {j}: {e}"))?;
            if !target.starts_with(format!("{j}:").as_bytes()) {
                return Err(format!("entry {j} is not what {text} refers to"));
            }
            Ok(Default::default())
        }
    }

    fn entry_text(i: u64, size: u64) -> String {
        // The entry before (mostly in the same chunk); far back (the cache, or a read of the
        // worker's own); later; past the end of the log; itself; a hot one; the chunk before.
        let j = match i % 9 {
            0 => i.saturating_sub(1),
            1 => i / 2,
            2 if i + 700 < size => i + 700,
            2 if i % 4 == 2 => size + 3,
            2 => i - 700,
            3 => i,
            4 => 5,
            _ => i.saturating_sub(300),
        };
        let bad = if i % 97 == 13 { " bad" } else { "" };
        format!("{i}:{j}{bad}")
    }

    fn new_log(dir: &std::path::Path, size: u64) -> LogStore {
        let key = SignerKey::generate(ORIGIN).unwrap();
        let store = LogStore::init(dir, DEFAULT_BRANCH, ORIGIN, &key, EntrySchema::Any).unwrap();
        let entries: Vec<NewEntry> = (0..size)
            .map(|i| NewEntry {
                name: format!("e{i}"),
                bytes: entry_text(i, size).into_bytes(),
                pending_path: None,
            })
            .collect();
        store.append(&key, &entries, &AnyEntry).unwrap();
        store
    }

    /// The invalid-entry findings a sequential pass over the snapshot gives.
    fn sequential_findings(snap: &Snapshot<'_>) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for i in 0..snap.size() {
            // Entries of a bundle that cannot be read are not validated.
            if let Ok(e) = snap.entry(i) {
                if let Err(reason) = RefValidator.validate(&e, snap) {
                    out.push((i, format!("entry {i}: {reason}")));
                }
            }
        }
        out
    }

    fn audit_findings(store: &LogStore) -> (AuditReport, Vec<(u64, String)>) {
        let report = audit(store, None, None, &RefValidator, &mut |_, _, _| {}).unwrap();
        let invalid = report
            .findings
            .iter()
            .filter(|f| f.kind == "invalid_entry" && f.index.is_some())
            .map(|f| (f.index.unwrap_or_default(), f.message.clone()))
            .collect();
        (report, invalid)
    }

    #[test]
    fn parallel_validation_reports_what_a_sequential_pass_does_in_order() {
        let dir = tempfile::tempdir().unwrap();
        // Several chunks of CHUNK_BUNDLES bundles, and a partial bundle.
        let size = 7 * 256 + 41;
        let store = new_log(dir.path(), size);
        let snap = store.head().unwrap();
        let expected = sequential_findings(&snap);
        assert!(expected.len() > 20, "{expected:?}");
        assert!(expected.len() < MAX_DETAILED, "{expected:?}");
        assert!(expected.iter().any(|(_, m)| m.contains("lookup")));
        let (report, invalid) = audit_findings(&store);
        assert_eq!(invalid, expected);
        assert_eq!(report.entries_checked, size);
        let others: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.kind != "invalid_entry")
            .collect();
        assert!(others.is_empty(), "{others:?}");
        // And again: nothing depends on thread timing.
        assert_eq!(audit_findings(&store).1, expected);
    }

    /// A bundle that cannot be decoded: reported where it lies, its stored level-0 hashes stand
    /// in, and lookups into it fail as the snapshot's do.
    #[test]
    fn unreadable_bundle_is_reported_in_order_and_lookups_fail_alike() {
        let dir = tempfile::tempdir().unwrap();
        let size = 6 * 256 + 3;
        let store = new_log(dir.path(), size);
        let repo = store.repo();
        let head = repo.find_commit(store.head_commit().unwrap()).unwrap();
        let mut update = git2::build::TreeUpdateBuilder::new();
        update.upsert(
            "tile/entries/002",
            repo.blob(b"\x00\x05abc").unwrap(),
            git2::FileMode::Blob,
        );
        let tree = repo
            .find_tree(update.create_updated(repo, &head.tree().unwrap()).unwrap())
            .unwrap();
        let sig = git2::Signature::now("t", "t@example").unwrap();
        repo.commit(Some(store.refname()), &sig, &sig, "tamper", &tree, &[&head])
            .unwrap();

        let snap = store.head().unwrap();
        let expected = sequential_findings(&snap);
        assert!(expected
            .iter()
            .any(|(_, m)| m.contains("lookup") && m.contains("tile/entries/002")));
        let (report, invalid) = audit_findings(&store);
        assert!(expected.len() > MAX_DETAILED);
        assert_eq!(invalid, expected[..MAX_DETAILED]);
        let more = format!(
            "{} more invalid_entry findings not listed",
            expected.len() - MAX_DETAILED
        );
        assert!(report.findings.iter().any(|f| f.message == more));
        let kinds: Vec<(&str, Option<u64>)> =
            report.findings.iter().map(|f| (f.kind, f.index)).collect();
        // The bundle's finding comes between the findings of the entries around it.
        let at = kinds
            .iter()
            .position(|(k, _)| *k == "malformed_tile")
            .unwrap();
        assert!(kinds[..at]
            .iter()
            .all(|(k, i)| *k == "invalid_entry" && i.is_some_and(|i| i < 512)));
        assert!(kinds[at + 1..]
            .iter()
            .all(|(k, i)| *k != "invalid_entry" || i.is_none_or(|i| i >= 768)));
        assert_eq!(report.entries_checked, size);
    }

    /// The reflog check names exactly the old branch values that are not ancestors of the tip,
    /// newest first, however it finds the ancestors.
    #[test]
    fn reflog_check_names_the_rewritten_commits() {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::generate(ORIGIN).unwrap();
        let store =
            LogStore::init(dir.path(), DEFAULT_BRANCH, ORIGIN, &key, EntrySchema::Any).unwrap();
        let append = |i: u64| {
            let e = NewEntry {
                name: format!("e{i}"),
                bytes: format!("{i}:{i}").into_bytes(),
                pending_path: None,
            };
            store.append(&key, &[e], &AnyEntry).unwrap();
            store.head_commit().unwrap()
        };
        let commits: Vec<Oid> = (0..5).map(append).collect();
        // Rewind to the second append and log other entries from there.
        store
            .repo()
            .reference(store.refname(), commits[1], true, "rewind")
            .unwrap();
        for i in 10..13 {
            append(i);
        }
        let tip = store.head_commit().unwrap();
        let repo = store.repo();
        let reflog = repo.reflog(store.refname()).unwrap();
        assert!(reflog.len() >= 9, "{}", reflog.len());
        let expected: Vec<String> = reflog
            .iter()
            .map(|e| e.id_old())
            .filter(|&old| {
                !old.is_zero() && old != tip && !repo.graph_descendant_of(tip, old).unwrap()
            })
            .map(|old| old.to_string())
            .collect();
        assert_eq!(expected.len(), 3, "{expected:?}");
        let report = audit(&store, None, None, &RefValidator, &mut |_, _, _| {}).unwrap();
        let named: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.kind == "history_rewritten")
            .map(|f| f.commit.clone().unwrap_or_default())
            .collect();
        assert_eq!(named, expected);
    }

    /// History findings come out newest first, across batches, and the walk stops at the first
    /// commit without a readable checkpoint, as a sequential walk does.
    #[test]
    fn history_findings_in_chain_order() {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::generate(ORIGIN).unwrap();
        let other = SignerKey::generate(ORIGIN).unwrap();
        let store =
            LogStore::init(dir.path(), DEFAULT_BRANCH, ORIGIN, &key, EntrySchema::Any).unwrap();
        let mut chain = vec![store.head_commit().unwrap()];
        for i in 0..12u64 {
            let e = NewEntry {
                name: format!("e{i}"),
                bytes: format!("{i}:{i}").into_bytes(),
                pending_path: None,
            };
            store.append(&key, &[e], &AnyEntry).unwrap();
            chain.push(store.head_commit().unwrap());
        }
        // Rebuild the chain: the checkpoints of commits 3, 6 and 7 signed by another key, and
        // commit 1's checkpoint unreadable.
        let repo = store.repo();
        let sig = git2::Signature::now("t", "t@example").unwrap();
        let mut parent: Option<git2::Commit<'_>> = None;
        for (i, id) in chain.iter().enumerate() {
            let old = repo.find_commit(*id).unwrap();
            let mut tree = old.tree().unwrap();
            let replace = match i {
                1 => Some(b"not a checkpoint".to_vec()),
                3 | 6 | 7 => {
                    let cp = store.snapshot(*id).unwrap().checkpoint.checkpoint;
                    Some(SignedCheckpoint::sign(cp, &other).unwrap().to_bytes())
                }
                _ => None,
            };
            if let Some(bytes) = replace {
                let mut update = git2::build::TreeUpdateBuilder::new();
                update.upsert(
                    "checkpoint",
                    repo.blob(&bytes).unwrap(),
                    git2::FileMode::Blob,
                );
                tree = repo
                    .find_tree(update.create_updated(repo, &tree).unwrap())
                    .unwrap();
            }
            let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
            let new = repo
                .commit(None, &sig, &sig, "rebuilt", &tree, &parents)
                .unwrap();
            parent = Some(repo.find_commit(new).unwrap());
        }
        let tip = parent.unwrap().id();
        repo.reference(store.refname(), tip, true, "rebuilt")
            .unwrap();

        let report = audit(&store, None, None, &RefValidator, &mut |_, _, _| {}).unwrap();
        let history: Vec<(&str, String)> = report
            .findings
            .iter()
            .filter(|f| f.kind.starts_with("history_") && f.kind != "history_rewritten")
            .map(|f| (f.kind, f.message.clone()))
            .collect();
        let kinds: Vec<&str> = history.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, ["history_bad_checkpoint"; 4], "{history:?}");
        // Commits 7, 6, 3 (bad signatures), then 1 (unreadable), where the walk stops.
        let commits: Vec<usize> = history
            .iter()
            .map(|(_, m)| {
                let id = repo.find_commit(tip).unwrap();
                let mut at = id;
                let mut depth = 0;
                while !m.contains(&at.id().to_string()) {
                    at = at.parent(0).unwrap();
                    depth += 1;
                }
                chain.len() - 1 - depth
            })
            .collect();
        assert_eq!(commits, [7, 6, 3, 1]);
        // The commits walked: the tip and its parents down to commit 1.
        assert_eq!(report.commits_checked, chain.len() as u64 - 1);
    }

    #[test]
    fn bundle_ranges_and_cache_budget() {
        let entries: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let tile = Tile {
            kind: TileKind::Entries,
            index: 0,
            width: 5,
        };
        let bundle = Bundle::decode(&tile, tiles::encode_entry_bundle(&refs).unwrap()).unwrap();
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(bundle.get(i), Some(e.as_slice()));
        }
        assert_eq!(bundle.get(5), None);

        let mut cache = BundleCache::default();
        let big = |n: usize| {
            Arc::new(Bundle {
                data: vec![0; n],
                entries: Vec::new(),
            })
        };
        for i in 0..10 {
            cache.insert(i, big(CACHE_BYTES / 4));
            assert!(cache.bytes <= CACHE_BYTES);
            // Bundle 0 is used all along, so it stays.
            assert!(cache.get(0).is_some());
        }
        assert!(cache.get(1).is_none());
        assert!(cache.get(9).is_some());
        cache.insert(99, big(CACHE_BYTES + 1));
        assert!(cache.get(99).is_none());
        assert_eq!(
            cache.bytes,
            cache.bundles.iter().map(|(_, b)| b.bytes()).sum::<usize>()
        );
    }
}
