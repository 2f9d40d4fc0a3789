//! The log in Git: a C2SP tlog-tiles tree committed on a branch, one commit per append.
//!
//! Tree layout at the branch root (normative description in `log-format.md`):
//! - `checkpoint`: the signed checkpoint (C2SP tlog-checkpoint note);
//! - `log-info`: origin and log verifier key, so a clone knows what it holds;
//! - `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`: exactly the tiles that exist for the
//!   checkpoint's size (full tiles, plus the current partial tile of each level);
//! - `pending/<sha256>.entry`: entries submitted for the next integration (not yet logged).
//!
//! Writing order gives crash safety: every object is written first (content-addressed and
//! harmless when orphaned, fsynced), the commit next, and the branch ref last with a
//! compare-and-swap against the commit the append started from. A concurrent appender that
//! moved the branch makes the swap fail, and the append is redone on the new head.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Once;

use git2::{build::TreeUpdateBuilder, ErrorCode, FileMode, ObjectType, Oid, Repository};
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::leaf_index::LeafIndex;
use crate::merkle::{self, Hash, MerkleError};
use crate::note::{NoteError, SignerKey, VerifierKey};
use crate::proof::TlogProof;
use crate::tiles::{self, Tile, TileError, TileHashReader, TileKind, TileReader, MAX_ENTRY_SIZE};

pub const CHECKPOINT_PATH: &str = "checkpoint";
pub const INFO_PATH: &str = "log-info";
pub const PENDING_DIR: &str = "pending";
pub const DEFAULT_BRANCH: &str = "fwlog";
/// Git config key (boolean) that asks fwlog to bring a checkout of the log branch along after
/// each commit. `fwlog log init` sets it in repositories it creates; elsewhere the user's work
/// tree is left alone unless they set it (`git config fwlog.syncWorktree true`).
pub const SYNC_WORKTREE_CONFIG: &str = "fwlog.syncWorktree";
/// Above this many pack files, appends merge packs geometrically (as `git repack
/// --geometric=2` would) so that object lookups do not slow down with the number of appends.
/// The higher, the less data merges copy (by a simulation of git's geometric split over 1000
/// appends: 3.9 times the data at 16 packs, 2.0 at 64) and the more packs a lookup may search
/// (git's own `gc.autoPackLimit` is 50).
pub const REPACK_THRESHOLD: usize = 64;
/// First line of `log-info`.
pub const INFO_HEADER: &str = "fwlog-log/v1";

/// Largest blob read from a log tree: a full entry bundle of maximal entries.
pub const MAX_BLOB_BYTES: usize = 256 * (2 + MAX_ENTRY_SIZE);
/// Largest `log-info` accepted.
const MAX_SMALL_FILE: usize = 1 << 20;
/// Age past which a branch ref lock, found while holding the writer lock, is taken for one a
/// killed process left behind.
const STALE_REF_LOCK: std::time::Duration = std::time::Duration::from_secs(2);
/// How often an append is redone when another writer moved the branch meanwhile.
const CAS_RETRIES: usize = 32;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} is not a fwlog log: {1}")]
    NotALog(String, String),
    #[error("a log already exists on branch {0}; refusing to re-initialise it")]
    AlreadyInitialised(String),
    #[error("the log moved while appending (another writer won {0} times); retry")]
    Moved(usize),
    #[error("corrupt log file {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("tiles: {0}")]
    Tile(#[from] TileError),
    #[error("merkle: {0}")]
    Merkle(#[from] MerkleError),
    #[error("key: {0}")]
    Key(#[from] NoteError),
    #[error("the signing key {given} is not this log's key {expected}")]
    WrongKey { given: String, expected: String },
    #[error("entry {name}: {reason}")]
    InvalidEntry { name: String, reason: String },
    #[error("entry index {index} is not in a log of size {size}")]
    NoSuchEntry { index: u64, size: u64 },
    #[error("the branch is locked by {0}; if no other fwlog or git process is running, a killed one left it: remove the file")]
    Locked(String),
    #[error("proof: {0}")]
    Proof(#[from] crate::proof::ProofError),
    #[error(transparent)]
    LeafIndex(#[from] crate::leaf_index::LeafIndexError),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

fn corrupt(path: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Makes libgit2 fsync object files and refs, so that a power cut after the ref update cannot
/// leave the ref pointing at objects that never reached the disk; and bounds the memory it
/// keeps while reading: pack files are mapped in windows of [`PACK_WINDOW`] bytes, at most
/// [`PACK_MAPPED`] in all (the defaults, 1 GiB and 8 GiB, let a full pass over a large log
/// leave its whole pack resident), and parsed objects are cached up to [`OBJECT_CACHE`].
///
/// It also turns off libgit2's re-hashing of every object read
/// (`GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION`; git itself checks object names only in `fsck`
/// and when it receives objects). What fwlog reads is checked against the Merkle tree and the
/// signed checkpoints instead, and the SHA-1 was 7% of the CPU time of an audit.
fn enable_fsync() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: git_libgit2_opts with GIT_OPT_ENABLE_FSYNC_GITDIR takes one int argument; it
        // only sets a global flag. git2 initialises libgit2 before any repository is opened,
        // and `Repository::open*` below runs after this call; we init explicitly here.
        unsafe {
            libgit2_sys::init();
            libgit2_sys::git_libgit2_opts(
                libgit2_sys::GIT_OPT_ENABLE_FSYNC_GITDIR as std::ffi::c_int,
                1 as std::ffi::c_int,
            );
        }
        // SAFETY: these set libgit2 globals before any repository is opened (see above).
        unsafe {
            let _ = git2::opts::set_mwindow_size(PACK_WINDOW);
            let _ = git2::opts::set_mwindow_mapped_limit(PACK_MAPPED);
            let _ = git2::opts::set_cache_max_size(OBJECT_CACHE);
        }
        git2::opts::strict_hash_verification(false);
        // Appends name their blobs themselves and pack them with the trees that reference
        // them (see `LogStore::flush_pack`); libgit2's check that a tree's or ref's target is
        // already in the object database would make them write every blob twice. Tests run
        // `git fsck` over what appends write.
        git2::opts::strict_object_creation(false);
    });
}

/// Size of one mapped window of a pack file.
const PACK_WINDOW: usize = 4 << 20;
/// Most bytes of pack files mapped at once. Mapped pages count in a process's RSS: at 32 MiB
/// the audit of a gc'd 101k-entry log peaked at 77 MiB; at 8 MiB, 51–55 MiB in the same time.
const PACK_MAPPED: usize = 8 << 20;
/// Most bytes of parsed objects libgit2 keeps cached. At 16 MiB, what the cache kept and let go
/// fragmented the heap: an audit of 3,000 single-entry commits peaked at 157 to 214 MiB of
/// anonymous memory, 88 to 108 MiB at 2 MiB, and 30 to 47 MiB at 2 MiB with the history
/// check's trims (`audit::release_free_memory`; 62 to 67 MiB at 16 MiB with them). It costs
/// some speed: at 2 MiB, `fwlog log verify` of the harness's 100k-entry log took 3.15–3.24 s
/// against 3.01–3.13 s, and of its 1M-entry log after `git gc` 34.7 s against 34.0 s.
const OBJECT_CACHE: isize = 2 << 20;

/// Which entries a log accepts, as declared in its `log-info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntrySchema {
    /// DSSE envelopes of fwlog release and reproduction statements (`log-format.md` §9).
    Fwlog,
    /// Any non-empty byte string of at most 65535 bytes: a general-purpose tlog.
    Any,
}

impl EntrySchema {
    pub fn as_str(self) -> &'static str {
        match self {
            EntrySchema::Fwlog => "fwlog/v1",
            EntrySchema::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<EntrySchema> {
        match s {
            "fwlog/v1" => Some(EntrySchema::Fwlog),
            "any" => Some(EntrySchema::Any),
            _ => None,
        }
    }
}

/// The `log-info` file: which log this is and what it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogInfo {
    pub origin: String,
    pub key: VerifierKey,
    pub entries: EntrySchema,
}

impl LogInfo {
    /// `fwlog-log/v1\norigin <origin>\nkey <verifier key>\nentries <schema>\n`, exactly.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "{INFO_HEADER}\norigin {}\nkey {}\nentries {}\n",
            self.origin,
            self.key,
            self.entries.as_str()
        )
        .into_bytes()
    }

    pub fn parse(bytes: &[u8]) -> Result<LogInfo> {
        let bad = |r: &str| corrupt(INFO_PATH, r);
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let [header, origin, key, entries] = lines.as_slice() else {
            return Err(bad(
                "expected four lines: fwlog-log/v1, origin, key, entries",
            ));
        };
        if *header != INFO_HEADER {
            return Err(bad("first line must be fwlog-log/v1"));
        }
        let origin = origin
            .strip_prefix("origin ")
            .ok_or_else(|| bad("second line must be `origin <origin>`"))?;
        let key = key
            .strip_prefix("key ")
            .ok_or_else(|| bad("third line must be `key <verifier key>`"))?;
        let key = VerifierKey::parse(key).map_err(|e| bad(&format!("log key: {e}")))?;
        let entries = entries
            .strip_prefix("entries ")
            .and_then(EntrySchema::parse)
            .ok_or_else(|| bad("fourth line must be `entries fwlog/v1` or `entries any`"))?;
        let info = LogInfo {
            origin: origin.to_string(),
            key,
            entries,
        };
        if info.to_bytes() != bytes {
            return Err(bad("not in canonical form"));
        }
        Ok(info)
    }
}

/// What an entry validator learns about a valid entry.
#[derive(Clone, Debug, Default)]
pub struct EntryInfo {
    /// One line for `fwlog log list`.
    pub summary: String,
}

/// Read access to the log an entry is being validated against: entries already logged, and
/// those earlier in the same batch.
pub trait EntryLookup {
    fn size(&self) -> u64;
    fn entry(&self, index: u64) -> Result<Vec<u8>>;
}

/// Checks an entry before it is logged and again during audits. The store itself only enforces
/// the size limits of the tile format.
pub trait EntryValidator: Sync {
    fn validate(
        &self,
        entry: &[u8],
        log: &dyn EntryLookup,
    ) -> std::result::Result<EntryInfo, String>;

    /// Indexes of logged entries that validating `entry` will look up, so that an append can
    /// read them once before validating a batch in parallel. A guess: an index missing here
    /// only makes that entry's check run again, alone, with full access to the log.
    fn referenced(&self, _entry: &[u8]) -> Vec<u64> {
        Vec::new()
    }
}

/// Accepts any non-empty entry that fits an entry bundle.
pub struct AnyEntry;

impl EntryValidator for AnyEntry {
    fn validate(
        &self,
        entry: &[u8],
        _: &dyn EntryLookup,
    ) -> std::result::Result<EntryInfo, String> {
        Ok(EntryInfo {
            summary: format!("{} bytes", entry.len()),
        })
    }
}

fn check_entry_size(entry: &[u8]) -> std::result::Result<(), String> {
    if entry.is_empty() {
        Err("entry is empty".into())
    } else if entry.len() > MAX_ENTRY_SIZE {
        Err(format!(
            "entry is {} bytes; the limit is {MAX_ENTRY_SIZE}",
            entry.len()
        ))
    } else {
        Ok(())
    }
}

/// A Git repository holding a log on one branch.
pub struct LogStore {
    repo: Repository,
    refname: String,
}

/// The log as of one commit.
pub struct Snapshot<'r> {
    repo: &'r Repository,
    pub commit: git2::Commit<'r>,
    pub tree: git2::Tree<'r>,
    pub info: LogInfo,
    pub checkpoint: SignedCheckpoint,
    pub checkpoint_bytes: Vec<u8>,
}

impl Snapshot<'_> {
    pub fn size(&self) -> u64 {
        self.checkpoint.checkpoint.size
    }

    pub fn root(&self) -> Hash {
        self.checkpoint.checkpoint.root
    }

    /// Reads a regular file of the snapshot's tree, refusing anything else (symlinks,
    /// submodules, directories) and blobs larger than `cap` before reading them.
    pub fn read_file(&self, path: &str, cap: usize) -> Result<Option<Vec<u8>>> {
        read_file(self.repo, &self.tree, path, cap)
    }

    /// Every non-directory entry below `dir`, with whether it is a regular file. Names that are
    /// not UTF-8 are shown lossily (and then match nothing).
    pub fn list_files(&self, dir: &str) -> Result<Vec<(String, bool)>> {
        let sub = match self.tree.get_path(Path::new(dir)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        // A submodule or file where a directory belongs is itself the finding; its object may
        // not even exist in this repository.
        if sub.kind() != Some(ObjectType::Tree) {
            return Ok(vec![(dir.to_string(), false)]);
        }
        let mut out = Vec::new();
        self.walk_tree(&self.repo.find_tree(sub.id())?, dir, &mut out)?;
        Ok(out)
    }

    /// Depth-first walk on raw names (git2's walk gives up on non-UTF-8 directory names).
    fn walk_tree(
        &self,
        tree: &git2::Tree<'_>,
        prefix: &str,
        out: &mut Vec<(String, bool)>,
    ) -> Result<()> {
        for e in tree.iter() {
            let path = format!("{prefix}/{}", String::from_utf8_lossy(e.name_bytes()));
            match e.kind() {
                Some(ObjectType::Tree) => match self.repo.find_tree(e.id()) {
                    Ok(sub) => self.walk_tree(&sub, &path, out)?,
                    Err(_) => out.push((path, false)),
                },
                kind => {
                    let regular =
                        kind == Some(ObjectType::Blob) && e.filemode() == i32::from(FileMode::Blob);
                    out.push((path, regular));
                }
            }
        }
        Ok(())
    }

    /// Entry `index`, read from its entry bundle.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>> {
        let mut found = self.entries(&[index])?;
        found.remove(&index).ok_or(StoreError::NoSuchEntry {
            index,
            size: self.size(),
        })
    }

    /// Entries `indexes`, each entry bundle read once (indexes in ascending order read each
    /// bundle once in all). Fails as [`Snapshot::entry`] would for the first bad index.
    pub fn entries(&self, indexes: &[u64]) -> Result<BTreeMap<u64, Vec<u8>>> {
        let size = self.size();
        let mut out = BTreeMap::new();
        // The bundle read last: its tile index, path, bytes, and where each entry lies in them.
        type Read = (u64, String, Vec<u8>, Vec<std::ops::Range<usize>>);
        let mut bundle: Option<Read> = None;
        for &index in indexes {
            let (tile, at) = tiles::entry_bundle_for_index(index, size)
                .ok_or(StoreError::NoSuchEntry { index, size })?;
            if bundle.as_ref().is_none_or(|b| b.0 != tile.index) {
                let path = tile.path();
                let data = self
                    .read_tile(&tile)?
                    .ok_or_else(|| corrupt(&path, "missing entry bundle"))?;
                // Each entry follows its two length bytes.
                let mut end = 0;
                let ranges = tiles::decode_entry_bundle(&tile, &data)?
                    .iter()
                    .map(|e| {
                        end += 2 + e.len();
                        end - e.len()..end
                    })
                    .collect();
                bundle = Some((tile.index, path, data, ranges));
            }
            if let Some((_, path, data, ranges)) = &bundle {
                let entry = ranges
                    .get(at)
                    .and_then(|r| data.get(r.clone()))
                    .ok_or_else(|| corrupt(path, "short entry bundle"))?;
                out.insert(index, entry.to_vec());
            }
        }
        Ok(out)
    }

    /// Calls `f` with every entry in order, reading one entry bundle at a time (memory is one
    /// bundle, whatever the log size).
    pub fn for_each_entry(&self, mut f: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        for tile in tiles::entry_bundles_for_size(self.size()) {
            let path = tile.path();
            let data = self
                .read_tile(&tile)?
                .ok_or_else(|| corrupt(&path, "missing entry bundle"))?;
            for (i, e) in tiles::decode_entry_bundle(&tile, &data)?
                .into_iter()
                .enumerate()
            {
                f(tile.index * tiles::TILE_WIDTH + i as u64, e)?;
            }
        }
        Ok(())
    }

    /// An inclusion proof for entry `index` against this snapshot's checkpoint, with the
    /// checkpoint bytes verbatim (including any witness cosignatures).
    pub fn prove(&self, index: u64) -> Result<TlogProof> {
        let size = self.size();
        if index >= size {
            return Err(StoreError::NoSuchEntry { index, size });
        }
        let path = merkle::inclusion_proof(index, size, &TileHashReader::new(self, size))?;
        Ok(TlogProof::from_checkpoint_bytes(
            None,
            index,
            path,
            &self.checkpoint_bytes,
        )?)
    }

    /// The consistency proof from size `old` to this snapshot's size, computed from its tiles.
    pub fn consistency(&self, old: u64) -> Result<Vec<Hash>> {
        Ok(merkle::consistency_proof(
            old,
            self.size(),
            &TileHashReader::new(self, self.size()),
        )?)
    }

    /// The root of this tree's prefix of `m <= size` leaves, from the tiles (O(log n) reads).
    pub fn root_at(&self, m: u64) -> Result<Hash> {
        let reader = TileHashReader::with_store_size(self, m, self.size())?;
        Ok(merkle::tree_root(m, &reader)?)
    }

    /// Whether this snapshot's tree extends the tree of size `m` with root `root_m`: every tree
    /// extends the empty one; a smaller tree never extends a larger one; equal sizes need equal
    /// roots; otherwise a consistency proof computed from this snapshot's tiles must verify.
    pub fn extends(&self, m: u64, root_m: &Hash) -> bool {
        let n = self.size();
        match m {
            0 => true,
            _ if m > n => false,
            _ if m == n => root_m == &self.root(),
            _ => self
                .consistency(m)
                .is_ok_and(|p| merkle::verify_consistency(m, n, root_m, &self.root(), &p).is_ok()),
        }
    }

    /// Recomputes the root from the right-edge tiles (O(log n) reads) and compares it with the
    /// checkpoint: catches a tampered right edge before anything is appended to it.
    ///
    /// The partial entry bundle is checked too (O(256) hashes): its entries are copied into the
    /// next bundle, so a tampered one would otherwise be signed over by the next checkpoint.
    pub fn check_right_edge(&self) -> Result<()> {
        let size = self.size();
        let root = merkle::tree_root(size, &TileHashReader::new(self, size))?;
        if root != self.root() {
            return Err(corrupt(
                "tile/",
                "tiles do not hash to the checkpoint's root",
            ));
        }
        let partial = (size % tiles::TILE_WIDTH) as u16;
        if partial != 0 {
            let bundle = Tile {
                kind: TileKind::Entries,
                index: size / tiles::TILE_WIDTH,
                width: partial,
            };
            let path = bundle.path();
            let data = self
                .read_tile(&bundle)?
                .ok_or_else(|| corrupt(&path, "missing entry bundle"))?;
            let leaves: Vec<Hash> = tiles::decode_entry_bundle(&bundle, &data)?
                .iter()
                .map(|e| merkle::leaf_hash(e))
                .collect();
            let level0 = Tile {
                kind: TileKind::Hash(0),
                index: bundle.index,
                width: bundle.width,
            };
            let stored = self
                .read_tile(&level0)?
                .ok_or_else(|| corrupt(&level0.path(), "missing tile"))?;
            if tiles::decode_hash_tile(&level0, &stored)? != leaves {
                return Err(corrupt(
                    &path,
                    "entries do not match the level-0 tile the checkpoint commits to",
                ));
            }
        }
        Ok(())
    }
}

impl TileReader for Snapshot<'_> {
    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, TileError> {
        let path = tile.path();
        self.read_file(&path, MAX_BLOB_BYTES)
            .map_err(|e| TileError::Storage {
                path,
                reason: e.to_string(),
            })
    }
}

impl EntryLookup for Snapshot<'_> {
    fn size(&self) -> u64 {
        Snapshot::size(self)
    }
    fn entry(&self, index: u64) -> Result<Vec<u8>> {
        Snapshot::entry(self, index)
    }
}

fn read_file(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    path: &str,
    cap: usize,
) -> Result<Option<Vec<u8>>> {
    let entry = match tree.get_path(Path::new(path)) {
        Ok(e) => e,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    read_entry_blob(repo, &entry, path, cap).map(Some)
}

/// The content of a tree entry that must be a regular file of at most `cap` bytes; the size is
/// checked from the object header before the blob is read.
fn read_entry_blob(
    repo: &Repository,
    entry: &git2::TreeEntry<'_>,
    path: &str,
    cap: usize,
) -> Result<Vec<u8>> {
    if entry.kind() != Some(ObjectType::Blob) || entry.filemode() != i32::from(FileMode::Blob) {
        return Err(corrupt(path, "not a regular file"));
    }
    let (len, kind) = repo.odb()?.read_header(entry.id())?;
    if kind != ObjectType::Blob || len > cap {
        return Err(corrupt(
            path,
            format!("{len} bytes is over the {cap}-byte limit"),
        ));
    }
    Ok(repo.find_blob(entry.id())?.content().to_vec())
}

/// A file under `pending/`: its path, and its bytes or why it cannot be logged as is.
pub type PendingEntry = (String, std::result::Result<Vec<u8>, String>);

/// A run of appends by one writer ([`LogStore::append_session`]), for writers that append
/// batch after batch (a log server, an import). [`LogStore::append`] opens the duplicate index
/// and closes it again, and closing makes it durable (about 4 ms at 50k entries and 11 ms at
/// 300k, measured); a session opens it once and closes it when dropped. It holds the branch's
/// writer lock meanwhile, so every other write to the branch waits until the session is
/// dropped: other processes, and this one too (a [`LogStore::append`] or integration of the
/// same branch called while a session lives would wait forever; append through the session).
/// Each append is otherwise exactly [`LogStore::append`]: the index is checked against the
/// branch head before every use.
pub struct AppendSession<'s> {
    store: &'s LogStore,
    index: LeafIndex,
}

impl AppendSession<'_> {
    /// [`LogStore::append`], with the session's open index.
    pub fn append(
        &mut self,
        key: &SignerKey,
        entries: &[NewEntry],
        validator: &dyn EntryValidator,
    ) -> Result<AppendOutcome> {
        check_entry_sizes(entries)?;
        self.store
            .append_with(key, entries, validator, &mut self.index)
    }
}

/// Every entry within the tile format's size limits, before any lock is taken.
fn check_entry_sizes(entries: &[NewEntry]) -> Result<()> {
    for e in entries {
        check_entry_size(&e.bytes).map_err(|reason| StoreError::InvalidEntry {
            name: e.name.clone(),
            reason,
        })?;
    }
    Ok(())
}

/// What an append did.
#[derive(Clone, Debug, Default)]
pub struct AppendOutcome {
    pub old_size: u64,
    pub new_size: u64,
    /// For each input entry, in order: its index, and whether it was already logged.
    pub entries: Vec<AppendedEntry>,
    /// The new commit, when anything was appended.
    pub commit: Option<Oid>,
    /// Retries caused by concurrent writers.
    pub retries: usize,
    /// Wall time of each phase of the attempt that was committed, in order, for benchmarks:
    /// [`APPEND_PHASES`].
    pub phases: Vec<(&'static str, std::time::Duration)>,
}

/// The phases [`AppendOutcome::phases`] times: reading and checking the head and syncing the
/// leaf index (`head`); duplicate lookups (`dedup`); validation and building the commit and its
/// pack, which run side by side (`validate`, `build`, and the two together: `validate+build`);
/// publishing the pack and moving the branch (`publish+ref`); the wait for the leaf index's
/// record (`record`); keeping a checkout in step and repacking (`worktree+repack`).
pub const APPEND_PHASES: [&str; 8] = [
    "head",
    "dedup",
    "validate",
    "build",
    "validate+build",
    "publish+ref",
    "record",
    "worktree+repack",
];

#[derive(Clone, Debug)]
pub struct AppendedEntry {
    pub index: u64,
    pub leaf: Hash,
    pub duplicate: bool,
}

/// One entry to append, with the name used in messages (a file name) and, for integration,
/// the pending path to remove in the same commit.
pub struct NewEntry {
    pub name: String,
    pub bytes: Vec<u8>,
    pub pending_path: Option<String>,
}

/// The phase timer of an append ([`AppendOutcome::phases`]).
struct Phases {
    list: Vec<(&'static str, std::time::Duration)>,
    clock: std::time::Instant,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            list: Vec::with_capacity(APPEND_PHASES.len()),
            clock: std::time::Instant::now(),
        }
    }

    /// Records the time since the last lap (or restart) as `name`.
    fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.list.push((name, now - self.clock));
        self.clock = now;
    }

    /// Records a phase timed elsewhere.
    fn push(&mut self, name: &'static str, took: std::time::Duration) {
        self.list.push((name, took));
    }

    /// Restarts the lap clock without recording.
    fn restart(&mut self) {
        self.clock = std::time::Instant::now();
    }
}

/// What [`LogStore::build_commit`] made: the commit, the log it holds, and its pack.
struct BuiltCommit {
    commit: Oid,
    new_size: u64,
    root: Hash,
    pack: crate::gitpack::PendingPack,
}

impl LogStore {
    /// Opens an existing repository (bare or not). `branch` is a short branch name.
    pub fn open(dir: &Path, branch: &str) -> Result<LogStore> {
        enable_fsync();
        let repo = Repository::open(dir)
            .map_err(|e| StoreError::NotALog(dir.display().to_string(), e.message().to_string()))?;
        LogStore::with_repo(repo, branch)
    }

    fn with_repo(repo: Repository, branch: &str) -> Result<LogStore> {
        let refname = format!("refs/heads/{branch}");
        // Names git's porcelain refuses for branches, even where the ref name is valid.
        if branch == "HEAD" || branch.starts_with('-') || !git2::Reference::is_valid_name(&refname)
        {
            return Err(StoreError::Invalid {
                what: "branch name",
                reason: branch.to_string(),
            });
        }
        Ok(LogStore { repo, refname })
    }

    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    pub fn refname(&self) -> &str {
        &self.refname
    }

    /// Creates the repository if needed (non-bare, HEAD on the log branch) and commits the
    /// size-0 checkpoint and `log-info`. Refuses when the branch already exists.
    pub fn init(
        dir: &Path,
        branch: &str,
        origin: &str,
        key: &SignerKey,
        entries: EntrySchema,
    ) -> Result<LogStore> {
        enable_fsync();
        // Validate everything before creating anything, so a refused init leaves no repo behind.
        let refname = format!("refs/heads/{branch}");
        if branch == "HEAD" || branch.starts_with('-') || !git2::Reference::is_valid_name(&refname)
        {
            return Err(StoreError::Invalid {
                what: "branch name",
                reason: branch.to_string(),
            });
        }
        let info = LogInfo {
            origin: origin.to_string(),
            key: key.verifier_key(),
            entries,
        };
        let cp = Checkpoint {
            origin: origin.to_string(),
            size: 0,
            root: merkle::empty_root(),
            extensions: vec![],
        };
        let signed = SignedCheckpoint::sign(cp, key)?;
        if LogInfo::parse(&info.to_bytes())? != info {
            return Err(StoreError::Invalid {
                what: "origin",
                reason: origin.to_string(),
            });
        }
        let (repo, created) = match Repository::open(dir) {
            Ok(r) => (r, false),
            Err(_) => {
                let mut opts = git2::RepositoryInitOptions::new();
                opts.initial_head(branch).mkpath(true);
                (Repository::init_opts(dir, &opts)?, true)
            }
        };
        let store = LogStore::with_repo(repo, branch)?;
        if store.repo.find_reference(&store.refname).is_ok() {
            return Err(StoreError::AlreadyInitialised(branch.to_string()));
        }
        let commit = store.commit_initial(origin, &info, &signed)?;
        if created {
            // The work tree is fwlog's own: check the log out and keep it following.
            if let Ok(mut cfg) = store.repo.config() {
                let _ = cfg.set_bool(SYNC_WORKTREE_CONFIG, true);
            }
            let _ = store.apply_tree_change(None, commit);
        }
        Ok(store)
    }

    fn commit_initial(
        &self,
        origin: &str,
        info: &LogInfo,
        signed: &SignedCheckpoint,
    ) -> Result<Oid> {
        let repo = &self.repo;
        let mut tb = repo.treebuilder(None)?;
        tb.insert(
            CHECKPOINT_PATH,
            repo.blob(&signed.to_bytes())?,
            FileMode::Blob.into(),
        )?;
        tb.insert(
            INFO_PATH,
            repo.blob(&info.to_bytes())?,
            FileMode::Blob.into(),
        )?;
        let tree = repo.find_tree(tb.write()?)?;
        let sig = signature(repo)?;
        let msg = format!("fwlog: initialise log {origin}\n\nsize 0\n");
        let commit = repo.commit(None, &sig, &sig, &msg, &tree, &[])?;
        // Create only if absent: a concurrent init loses cleanly.
        let branch = self.refname.trim_start_matches("refs/heads/");
        repo.reference(&self.refname, commit, false, "fwlog: init")
            .map_err(|e| match e.code() {
                ErrorCode::Exists => StoreError::AlreadyInitialised(branch.to_string()),
                _ => e.into(),
            })?;
        // A reflog for the branch, even in a bare repository (where git keeps none by default),
        // so that audits can see rewrites: turn it on in the repository's own config when unset.
        if let Ok(cfg) = repo
            .config()
            .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        {
            if cfg.get_entry("core.logAllRefUpdates").is_err() {
                let mut cfg = cfg;
                cfg.set_bool("core.logAllRefUpdates", true)?;
            }
        }
        let mut reflog = repo.reflog(&self.refname)?;
        if reflog.is_empty() {
            reflog.append(commit, &sig, Some("fwlog: init"))?;
            reflog.write()?;
        }
        Ok(commit)
    }

    /// The commit the branch points at now.
    pub fn head_commit(&self) -> Result<Oid> {
        let r = self.repo.find_reference(&self.refname).map_err(|_| {
            StoreError::NotALog(
                self.repo.path().display().to_string(),
                format!("no branch {}", self.refname),
            )
        })?;
        r.target()
            .ok_or_else(|| corrupt(&self.refname, "symbolic ref"))
    }

    /// The log at the branch head.
    pub fn head(&self) -> Result<Snapshot<'_>> {
        self.snapshot(self.head_commit()?)
    }

    /// The log at `rev` (any revision git understands).
    pub fn at_rev(&self, rev: &str) -> Result<Snapshot<'_>> {
        let obj = self.repo.revparse_single(rev)?;
        let commit = obj.peel_to_commit()?;
        self.snapshot(commit.id())
    }

    /// Reads and parses `checkpoint` and `log-info` at a commit. Signatures are not verified
    /// here: callers decide which key to trust.
    pub fn snapshot(&self, commit: Oid) -> Result<Snapshot<'_>> {
        let commit = self.repo.find_commit(commit)?;
        let tree = commit.tree()?;
        let info_bytes =
            read_file(&self.repo, &tree, INFO_PATH, MAX_SMALL_FILE)?.ok_or_else(|| {
                StoreError::NotALog(commit.id().to_string(), "no log-info file".into())
            })?;
        let info = LogInfo::parse(&info_bytes)?;
        let checkpoint_bytes = read_file(
            &self.repo,
            &tree,
            CHECKPOINT_PATH,
            crate::note::MAX_NOTE_BYTES,
        )?
        .ok_or_else(|| StoreError::NotALog(commit.id().to_string(), "no checkpoint file".into()))?;
        let checkpoint = SignedCheckpoint::parse(&checkpoint_bytes)?;
        Ok(Snapshot {
            repo: &self.repo,
            commit,
            tree,
            info,
            checkpoint,
            checkpoint_bytes,
        })
    }

    /// Appends a batch as one commit. Duplicates (already logged, or repeated in the batch) are
    /// reported with their existing index and not appended again. Every new entry must pass
    /// `validator`; one invalid entry fails the whole batch and nothing is written.
    pub fn append(
        &self,
        key: &SignerKey,
        entries: &[NewEntry],
        validator: &dyn EntryValidator,
    ) -> Result<AppendOutcome> {
        check_entry_sizes(entries)?;
        // Held across retries: appenders through this repository take turns.
        let mut index = LeafIndex::open(self.repo.path(), &self.refname)?;
        self.append_with(key, entries, validator, &mut index)
    }

    /// Opens an [`AppendSession`]: appends that keep the duplicate index open between them.
    /// Waits for other writers of the branch, and keeps them waiting until it is dropped.
    pub fn append_session(&self) -> Result<AppendSession<'_>> {
        Ok(AppendSession {
            store: self,
            index: LeafIndex::open(self.repo.path(), &self.refname)?,
        })
    }

    fn append_with(
        &self,
        key: &SignerKey,
        entries: &[NewEntry],
        validator: &dyn EntryValidator,
        index: &mut LeafIndex,
    ) -> Result<AppendOutcome> {
        let mut retries = 0;
        loop {
            let writer = self.writer()?;
            match writer.try_append(key, entries, validator, retries, index)? {
                Some(outcome) => return Ok(outcome),
                None if retries < CAS_RETRIES => {
                    retries += 1;
                    // Back off a little, with jitter, so racing appenders interleave.
                    let jitter = u64::from(std::process::id() % 7) + retries as u64;
                    std::thread::sleep(std::time::Duration::from_millis(jitter * 3));
                }
                None => return Err(StoreError::Moved(retries)),
            }
        }
    }

    /// One append attempt; `Ok(None)` when the branch moved under us.
    fn try_append(
        &self,
        key: &SignerKey,
        entries: &[NewEntry],
        validator: &dyn EntryValidator,
        retries: usize,
        index: &mut LeafIndex,
    ) -> Result<Option<AppendOutcome>> {
        // Everything this attempt writes lands in one pack (see prepare_pack).
        let mut phases = Phases::start();
        let odb = self.repo.odb()?;
        let mempack = odb.add_new_mempack_backend(1000)?;
        let snap = self.head()?;
        if key.verifier_key() != snap.info.key {
            return Err(StoreError::WrongKey {
                given: key.verifier_key().to_string(),
                expected: snap.info.key.to_string(),
            });
        }
        snap.checkpoint
            .verify(&snap.info.key, Some(&snap.info.origin), &[], 0)?;
        snap.check_right_edge()?;
        let old_size = snap.size();
        index.sync(&snap)?;
        phases.lap("head");

        // Deduplicate against the log and within the batch.
        let mut outcome = AppendOutcome {
            old_size,
            retries,
            ..Default::default()
        };
        let mut fresh: Vec<(&NewEntry, Hash)> = Vec::new();
        let mut seen: BTreeMap<Hash, u64> = BTreeMap::new();
        let leaves: Vec<Hash> = {
            use rayon::prelude::*;
            entries
                .par_iter()
                .map(|e| merkle::leaf_hash(&e.bytes))
                .collect()
        };
        let logged = index.find_many(&snap, &leaves)?;
        for ((e, &leaf), logged) in entries.iter().zip(&leaves).zip(logged) {
            let existing = match seen.get(&leaf) {
                Some(&i) => Some(i),
                None => logged,
            };
            match existing {
                Some(index) => outcome.entries.push(AppendedEntry {
                    index,
                    leaf,
                    duplicate: true,
                }),
                None => {
                    let index = old_size + fresh.len() as u64;
                    seen.insert(leaf, index);
                    fresh.push((e, leaf));
                    outcome.entries.push(AppendedEntry {
                        index,
                        leaf,
                        duplicate: false,
                    });
                }
            }
        }
        let pending_paths: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.pending_path.as_deref())
            .collect();
        if fresh.is_empty() && pending_paths.is_empty() {
            outcome.new_size = old_size;
            return Ok(Some(outcome));
        }
        phases.lap("dedup");
        // The leaf index records the batch meanwhile, on its own thread; the record is committed
        // only once the branch has moved, else dropped.
        let leaves: Vec<Hash> = fresh.iter().map(|(_, leaf)| *leaf).collect();
        let planned_size = old_size + fresh.len() as u64;
        let committed = std::thread::scope(|s| {
            // Created here so that a panic below drops the sender and frees the recorder.
            let (decide, decision) = std::sync::mpsc::channel::<Option<Hash>>();
            let leaves = &leaves;
            let recorder = s.spawn(move || {
                // A failure to record only costs the next sync a catch-up.
                let _ = index.record_if(old_size, leaves, planned_size, || {
                    decision.recv().ok().flatten()
                });
            });
            let committed = self.validate_and_commit(
                key,
                &snap,
                &fresh,
                &pending_paths,
                validator,
                &mut phases,
            );
            phases.restart();
            let root = match &committed {
                Ok(Some((_, root))) => Some(*root),
                _ => None,
            };
            let _ = decide.send(root);
            let _ = recorder.join();
            phases.lap("record");
            committed
        });
        let Some((commit, _)) = committed? else {
            return Ok(None);
        };
        let new_size = planned_size;
        mempack.reset()?;
        self.follow_worktree();
        self.maybe_repack();
        phases.lap("worktree+repack");
        outcome.new_size = new_size;
        outcome.commit = Some(commit);
        outcome.phases = phases.list;
        Ok(Some(outcome))
    }

    /// Validates `fresh` while building the commit that appends it (see
    /// [`LogStore::build_commit`]), then publishes the commit's pack and moves the branch from
    /// `snap`'s commit to it. `Ok(None)` when the branch moved meanwhile; otherwise the commit
    /// and the new root.
    ///
    /// Validation (signature checks, on the thread pool) and building the commit and its pack
    /// (mostly one thread, and disk waits) overlap; the pack is published only once every entry
    /// passed. The checker reads the log through its own repository handle.
    fn validate_and_commit(
        &self,
        key: &SignerKey,
        snap: &Snapshot<'_>,
        fresh: &[(&NewEntry, Hash)],
        pending_paths: &[&str],
        validator: &dyn EntryValidator,
        phases: &mut Phases,
    ) -> Result<Option<(Oid, Hash)>> {
        // The repository's object database, with this attempt's in-memory backend.
        let odb = self.repo.odb()?;
        let checker = self.writer()?;
        let base = snap.commit.id();
        let side_by_side = std::time::Instant::now();
        let (verdict, built) = std::thread::scope(|s| {
            let check = s.spawn(move || {
                let started = std::time::Instant::now();
                let verdict = checker
                    .snapshot(base)
                    .and_then(|snap| validate_batch(&snap, fresh, validator));
                (verdict, started.elapsed())
            });
            let started = std::time::Instant::now();
            let built = self.build_commit(key, snap, fresh, pending_paths, &odb);
            let build_time = started.elapsed();
            let (verdict, validate_time) = check.join().unwrap_or_else(|_| {
                let panicked = std::io::Error::other("the validation thread panicked");
                (Err(StoreError::Io(panicked)), std::time::Duration::ZERO)
            });
            phases.push("validate", validate_time);
            phases.push("build", build_time);
            (verdict, built)
        });
        phases.push("validate+build", side_by_side.elapsed());
        verdict?;
        let built = built?;
        let started = std::time::Instant::now();
        built.pack.publish()?;
        odb.refresh()?;
        let new_size = built.new_size;
        if !self.swap_ref(base, built.commit, &format!("fwlog: size {new_size}"))? {
            return Ok(None);
        }
        phases.push("publish+ref", started.elapsed());
        Ok(Some((built.commit, built.root)))
    }

    /// The commit appending `fresh` (and removing `pending_paths`) on top of `snap`, with its
    /// objects: trees and commit in the in-memory backend of `odb`, and everything new written
    /// as a pack not yet published ([`crate::gitpack::prepare_pack`]).
    fn build_commit(
        &self,
        key: &SignerKey,
        snap: &Snapshot<'_>,
        fresh: &[(&NewEntry, Hash)],
        pending_paths: &[&str],
        odb: &git2::Odb<'_>,
    ) -> Result<BuiltCommit> {
        let repo = &self.repo;
        let old_size = snap.size();
        let mut update = TreeUpdateBuilder::new();
        let mut blobs: HashMap<Oid, &[u8]> = HashMap::new();
        let appended;
        let checkpoint;
        let new_size;
        let mut new_root = snap.root();
        let mut message;
        if fresh.is_empty() {
            new_size = old_size;
            message = format!(
                "fwlog: remove {} pending duplicate(s), size {old_size}\n\n",
                pending_paths.len()
            );
        } else {
            let bytes: Vec<&[u8]> = fresh.iter().map(|(e, _)| e.bytes.as_slice()).collect();
            let fresh_leaves: Vec<Hash> = fresh.iter().map(|(_, leaf)| *leaf).collect();
            appended = tiles::append_leaves(snap, old_size, &bytes, &fresh_leaves)?;
            new_size = appended.new_size;
            new_root = appended.root;
            let cp = Checkpoint {
                origin: snap.info.origin.clone(),
                size: new_size,
                root: appended.root,
                extensions: vec![],
            };
            checkpoint = SignedCheckpoint::sign(cp, key)?.to_bytes();
            let mut files: Vec<(String, &[u8])> = appended
                .writes
                .iter()
                .map(|(tile, data)| (tile.path(), data.as_slice()))
                .collect();
            files.push((CHECKPOINT_PATH.to_string(), &checkpoint));
            // The blobs go straight into this append's pack, named here with libgit2's
            // collision-detecting SHA-1.
            for (path, data) in files {
                let oid = Oid::hash_object(ObjectType::Blob, data)?;
                update.upsert(path, oid, FileMode::Blob);
                blobs.insert(oid, data);
            }
            for tile in &appended.deletes {
                update.remove(tile.path());
            }
            message = format!(
                "fwlog: append {} entries, size {old_size} -> {new_size}\n\n",
                fresh.len()
            );
            for (i, (e, leaf)) in fresh.iter().enumerate().take(100) {
                message.push_str(&format!(
                    "entry {} {} {}\n",
                    old_size + i as u64,
                    leaf.to_hex(),
                    one_line(&e.name)
                ));
            }
            if fresh.len() > 100 {
                message.push_str(&format!("... and {} more\n", fresh.len() - 100));
            }
        }
        for p in pending_paths {
            update.remove(*p);
        }
        let tree = repo.find_tree(update.create_updated(repo, &snap.tree)?)?;
        let sig = signature(repo)?;
        let commit = repo.commit(None, &sig, &sig, &message, &tree, &[&snap.commit])?;
        let pack = self.prepare_pack(odb, commit, &snap.tree, &blobs)?;
        Ok(BuiltCommit {
            commit,
            new_size,
            root: new_root,
            pack,
        })
    }

    /// A second handle on the same repository, for one write. Its object database gets an
    /// in-memory backend, so that everything one append writes lands in a single pack file.
    fn writer(&self) -> Result<LogStore> {
        let repo = Repository::open(self.repo.path())?;
        Ok(LogStore {
            repo,
            refname: self.refname.clone(),
        })
    }

    /// The objects new in `commit` (relative to `base`, its parent's tree) as one pack file and
    /// its index, written and fsynced but not yet published ([`crate::gitpack::prepare_pack`]).
    /// `blobs` holds the new blobs, by name, which never went into the object database; the
    /// trees and the commit are read from its in-memory backend. The pack must be published
    /// before the ref that makes the objects reachable moves.
    ///
    /// The pack is built here rather than with `git_mempack_dump`, which packs each commit's
    /// whole tree: an append must write O(batch + log n) objects, not the whole snapshot. Nor
    /// with libgit2's pack builder, whose delta search alone took about a quarter of an append,
    /// nor its indexer, which inflates and re-hashes every object: objects are stored whole,
    /// compressed at zlib level 1 (`git gc` deltifies them later), and the index is written
    /// from the names already known.
    fn prepare_pack(
        &self,
        odb: &git2::Odb<'_>,
        commit: Oid,
        base: &git2::Tree<'_>,
        blobs: &HashMap<Oid, &[u8]>,
    ) -> Result<crate::gitpack::PendingPack> {
        let mut oids = vec![commit];
        let tree = self.repo.find_commit(commit)?.tree()?;
        changed_objects(&self.repo, &tree, Some(base), &mut oids)?;
        let mut seen = std::collections::HashSet::new();
        oids.retain(|o| seen.insert(*o));
        let mut buffered = Vec::new();
        for oid in &oids {
            if !blobs.contains_key(oid) {
                let obj = odb.read(*oid)?;
                buffered.push((*oid, obj.kind(), obj.data().to_vec()));
            }
        }
        let mut objects: Vec<(Oid, ObjectType, &[u8])> = buffered
            .iter()
            .map(|(oid, kind, data)| (*oid, *kind, data.as_slice()))
            .collect();
        for oid in &oids {
            if let Some(data) = blobs.get(oid) {
                objects.push((*oid, ObjectType::Blob, data));
            }
        }
        let pack_dir = self.repo.path().join("objects").join("pack");
        Ok(crate::gitpack::prepare_pack(&pack_dir, &objects)?)
    }

    /// Compare-and-swap of the branch from `old` to `new`. `Ok(false)` when it no longer
    /// points at `old` (or another writer holds its lock).
    ///
    /// Callers hold the branch's writer lock ([`crate::leaf_index::writer_lock`]), so no other
    /// fwlog process is inside this function: a ref lock older than [`STALE_REF_LOCK`] was
    /// left by a killed process (git holds one for microseconds) and is removed, once.
    fn swap_ref(&self, old: Oid, new: Oid, msg: &str) -> Result<bool> {
        let lock = self.repo.path().join(format!("{}.lock", self.refname));
        let mut removed_stale = false;
        for wait_ms in [10, 20, 40, 80, 160, 320, 0] {
            match self
                .repo
                .reference_matching(&self.refname, new, true, old, msg)
            {
                Ok(_) => return Ok(true),
                Err(e) if e.code() == ErrorCode::Locked => {
                    if !removed_stale && is_stale(&lock) {
                        removed_stale = true;
                        std::fs::remove_file(&lock)?;
                        continue;
                    }
                    if wait_ms == 0 {
                        return Err(StoreError::Locked(lock.display().to_string()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(wait_ms));
                }
                Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => {
                    return Ok(false)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    /// Adds signature lines (witness cosignatures) to the head's checkpoint and commits, only
    /// if the head's checkpoint text is still `checkpoint_text` (else the log moved and the
    /// cosignatures are for an older checkpoint). Lines replace earlier ones from the same key.
    pub fn add_cosignatures(
        &self,
        checkpoint_text: &str,
        sigs: &[crate::note::NoteSignature],
    ) -> Result<Oid> {
        let _writer = crate::leaf_index::writer_lock(self.repo.path(), &self.refname)?;
        for _ in 0..=CAS_RETRIES {
            let snap = self.head()?;
            if snap.checkpoint.note.text() != checkpoint_text {
                return Err(StoreError::Moved(0));
            }
            let mut note = snap.checkpoint.note.clone();
            for sig in sigs {
                note.try_add_signature(sig.clone())?;
            }
            let mut update = TreeUpdateBuilder::new();
            update.upsert(
                CHECKPOINT_PATH,
                self.repo.blob(&note.to_bytes())?,
                FileMode::Blob,
            );
            let tree = self
                .repo
                .find_tree(update.create_updated(&self.repo, &snap.tree)?)?;
            let sig = signature(&self.repo)?;
            let names: Vec<&str> = sigs.iter().map(|s| s.name.as_str()).collect();
            let msg = format!(
                "fwlog: cosign checkpoint size {} by {}\n",
                snap.size(),
                names.join(", ")
            );
            let commit = self
                .repo
                .commit(None, &sig, &sig, &msg, &tree, &[&snap.commit])?;
            let old = snap.commit.id();
            if self.swap_ref(old, commit, "fwlog: cosign")? {
                self.follow_worktree();
                return Ok(commit);
            }
        }
        Err(StoreError::Moved(CAS_RETRIES))
    }

    /// Commits files under `pending/` on the branch, for a pull-request workflow. Returns the
    /// pending paths. Entries are named by their SHA-256, so submitting twice is a no-op.
    pub fn submit(&self, entries: &[NewEntry]) -> Result<(Vec<String>, Option<Oid>)> {
        for e in entries {
            check_entry_size(&e.bytes).map_err(|reason| StoreError::InvalidEntry {
                name: e.name.clone(),
                reason,
            })?;
        }
        let _writer = crate::leaf_index::writer_lock(self.repo.path(), &self.refname)?;
        for _ in 0..=CAS_RETRIES {
            let snap = self.head()?;
            let mut update = TreeUpdateBuilder::new();
            let mut paths = Vec::new();
            let mut added = 0;
            for e in entries {
                let path = pending_path(&e.bytes);
                if snap.read_file(&path, MAX_ENTRY_SIZE)?.is_none() {
                    update.upsert(&path, self.repo.blob(&e.bytes)?, FileMode::Blob);
                    added += 1;
                }
                paths.push(path);
            }
            if added == 0 {
                return Ok((paths, None));
            }
            let tree = self
                .repo
                .find_tree(update.create_updated(&self.repo, &snap.tree)?)?;
            let sig = signature(&self.repo)?;
            let mut msg = format!("fwlog: submit {added} pending entries\n\n");
            for p in &paths {
                msg.push_str(&format!("{p}\n"));
            }
            let commit = self
                .repo
                .commit(None, &sig, &sig, &msg, &tree, &[&snap.commit])?;
            let old = snap.commit.id();
            if self.swap_ref(old, commit, "fwlog: submit")? {
                self.follow_worktree();
                return Ok((paths, Some(commit)));
            }
        }
        Err(StoreError::Moved(CAS_RETRIES))
    }

    /// The pending entries at the head, in integration order (by path, i.e. by SHA-256), each
    /// with its problem if it cannot be logged as is (the caller reports and keeps those).
    pub fn pending(&self) -> Result<Vec<PendingEntry>> {
        let snap = self.head()?;
        let dir = match snap.tree.get_path(Path::new(PENDING_DIR)) {
            Ok(e) => e,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(vec![]),
            Err(e) => return Err(e.into()),
        };
        let dir = dir
            .to_object(&self.repo)?
            .peel_to_tree()
            .map_err(|_| corrupt(PENDING_DIR, "not a directory"))?;
        let mut out = Vec::new();
        for item in dir.iter() {
            let name = String::from_utf8_lossy(item.name_bytes()).into_owned();
            let path = format!("{PENDING_DIR}/{name}");
            // Read through the directory's own entries: a lookup by path per file would re-read
            // the whole pending/ tree each time (quadratic in the number of files).
            let content = match read_entry_blob(&self.repo, &item, &path, MAX_ENTRY_SIZE) {
                Ok(bytes) if pending_path(&bytes) == path => {
                    check_entry_size(&bytes).map(|()| bytes)
                }
                Ok(_) => Err("file name is not pending/<sha256 of content>.entry".to_string()),
                Err(e) => Err(e.to_string()),
            };
            out.push((path, content));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Each append adds one pack; libgit2 searches packs one by one, so lookups would slow down
    /// with the number of appends. Past [`REPACK_THRESHOLD`] packs, merge them geometrically
    /// (each object is rewritten O(log n) times over the log's life): here, by copying the
    /// whole objects that appends write ([`crate::gitpack::merge_packs`]), and with the system
    /// git when that cannot (packs with deltas, a multi-pack index). Best effort and safe to
    /// interrupt: the new pack is published before the old ones are deleted.
    fn maybe_repack(&self) {
        let pack_dir = self.repo.path().join("objects").join("pack");
        let packs = std::fs::read_dir(&pack_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
                    .count()
            })
            .unwrap_or(0);
        if packs <= REPACK_THRESHOLD {
            return;
        }
        if let Ok(Some(rollup)) = crate::gitpack::geometric_rollup(&pack_dir) {
            if rollup.len() >= 2 && crate::gitpack::merge_packs(&pack_dir, &rollup).is_ok() {
                // Objects of the deleted packs stay readable through open handles; the
                // merged pack is found on the next refresh (or miss) anyway.
                if let Ok(odb) = self.repo.odb() {
                    let _ = odb.refresh();
                }
                return;
            }
        }
        let _ = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(self.repo.path())
            .args([
                "repack",
                "-d",
                "-q",
                "--geometric=2",
                // No delta search (it made each repack take about a second at 12k entries):
                // merging packs only copies compressed objects. `git gc` deltifies later.
                "--window=0",
                "--no-write-bitmap-index",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// Brings a non-bare checkout of the branch up to the branch head, like a fast-forward, when
    /// it is safe: the index holds exactly the tree of a recent commit of the branch (so no
    /// staged change of the user's can be lost) and the work tree matches the index. Runs under
    /// a lock file so that concurrent appenders cannot interleave their updates, and always
    /// moves to the *current* head, never back. Best effort: the log is already committed.
    fn follow_worktree(&self) {
        let _ = self.try_follow_worktree();
    }

    fn try_follow_worktree(&self) -> Result<()> {
        let repo = &self.repo;
        if repo.is_bare()
            || !matches!(repo.head(), Ok(h) if h.name_bytes() == self.refname.as_bytes())
        {
            return Ok(());
        }
        // A user's work tree is touched only when asked (or when fwlog created the repository).
        let asked = repo
            .config()
            .and_then(|c| c.get_bool(SYNC_WORKTREE_CONFIG))
            .unwrap_or(false);
        if !asked {
            return Ok(());
        }
        let _lock = crate::fsutil::lock_file(&repo.path().join("fwlog-worktree.lock"), true)?;
        let head = repo.find_commit(self.head_commit()?)?;
        let mut index = repo.index()?;
        index.read(true)?;
        let index_tree = index.write_tree()?;
        if index_tree == head.tree_id() {
            return Ok(());
        }
        // The commit the checkout is at: a recent first-parent ancestor with the index's tree.
        let mut at = Some(head.clone());
        let mut base = None;
        for _ in 0..1000 {
            let Some(c) = at else { break };
            if c.tree_id() == index_tree {
                base = Some(c.id());
                break;
            }
            at = c.parent(0).ok();
        }
        let Some(base) = base else { return Ok(()) };
        // Only the files this change touches must be as the base commit has them (O(changed),
        // not a status scan of the whole work tree).
        let Some(workdir) = repo.workdir() else {
            return Ok(());
        };
        let base_tree = repo.find_commit(base)?.tree()?;
        let diff = repo.diff_tree_to_tree(Some(&base_tree), Some(&head.tree()?), None)?;
        for delta in diff.deltas() {
            let Some(path) = delta.old_file().path().or(delta.new_file().path()) else {
                continue;
            };
            let target = workdir.join(path);
            let untouched = if delta.old_file().exists() {
                Oid::hash_file(ObjectType::Blob, &target)
                    .is_ok_and(|id| id == delta.old_file().id())
            } else {
                std::fs::symlink_metadata(&target).is_err()
            };
            if !untouched {
                return Ok(());
            }
        }
        self.apply_tree_change(Some(base), head.id())
    }

    /// Applies the change between two commits' trees to the work tree (writes added and modified
    /// files, removes deleted ones) and resets the index to the second.
    fn apply_tree_change(&self, old: Option<Oid>, new: Oid) -> Result<()> {
        let repo = &self.repo;
        let Some(workdir) = repo.workdir() else {
            return Ok(());
        };
        let new_tree = repo.find_commit(new)?.tree()?;
        let old_tree = old
            .map(|o| repo.find_commit(o).and_then(|c| c.tree()))
            .transpose()?;
        let diff = repo.diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)?;
        for delta in diff.deltas() {
            let (Some(path), file) = (
                delta.new_file().path().or(delta.old_file().path()),
                delta.new_file(),
            ) else {
                continue;
            };
            // Only the log's own layout is synced, never through a symlinked directory: a
            // hostile tree could otherwise write into .git (hooks) or outside the work tree.
            if !is_layout_path(path) || through_symlink(workdir, path) {
                continue;
            }
            let target = workdir.join(path);
            match delta.status() {
                git2::Delta::Deleted => {
                    let _ = std::fs::remove_file(&target);
                    let mut dir = target.parent();
                    while let Some(d) = dir.filter(|d| *d != workdir) {
                        if std::fs::remove_dir(d).is_err() {
                            break;
                        }
                        dir = d.parent();
                    }
                }
                _ => {
                    if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink())
                    {
                        continue;
                    }
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&target, repo.find_blob(file.id())?.content())?;
                }
            }
        }
        let mut index = repo.index()?;
        index.read_tree(&new_tree)?;
        index.write()?;
        Ok(())
    }
}

/// Collects `tree` and, recursively, every blob and subtree that is not identical in `base`
/// (same name, same object). Unchanged subtrees are skipped whole.
fn changed_objects(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    base: Option<&git2::Tree<'_>>,
    out: &mut Vec<Oid>,
) -> Result<()> {
    out.push(tree.id());
    for entry in tree.iter() {
        let old = base.and_then(|b| b.get_name_bytes(entry.name_bytes()));
        if old.as_ref().is_some_and(|o| o.id() == entry.id()) {
            continue;
        }
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id())?;
                let old_sub = match old {
                    Some(o) if o.kind() == Some(ObjectType::Tree) => Some(repo.find_tree(o.id())?),
                    _ => None,
                };
                changed_objects(repo, &sub, old_sub.as_ref(), out)?;
            }
            _ => out.push(entry.id()),
        }
    }
    Ok(())
}

/// Whether the lock file at `path` was last modified more than [`STALE_REF_LOCK`] ago.
fn is_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_REF_LOCK)
}

/// Whether `path` lies in the log's layout: `checkpoint`, `log-info`, or under `tile/`,
/// `pending/`, with plain components only.
fn is_layout_path(path: &Path) -> bool {
    let mut parts = path.components();
    let first = match parts.next() {
        Some(std::path::Component::Normal(c)) => c.to_str().unwrap_or(""),
        _ => return false,
    };
    let plain = path.components().all(|c| match c {
        std::path::Component::Normal(n) => !n.eq_ignore_ascii_case(".git"),
        _ => false,
    });
    plain && matches!(first, CHECKPOINT_PATH | INFO_PATH | "tile" | PENDING_DIR)
}

/// Whether any directory on the way from `root` to `path` is a symlink in the work tree.
fn through_symlink(root: &Path, path: &Path) -> bool {
    let mut at = root.to_path_buf();
    let Some(parent) = path.parent() else {
        return false;
    };
    parent.components().any(|c| {
        at.push(c);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
    })
}

/// `pending/<sha256 hex>.entry`.
pub fn pending_path(entry: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{PENDING_DIR}/{}.entry", hex::encode(Sha256::digest(entry)))
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect()
}

fn signature(repo: &Repository) -> Result<git2::Signature<'static>> {
    match repo.signature() {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Ok(git2::Signature::now("fwlog", "fwlog@localhost")?),
    }
}

/// Validates the entries of a batch: entry k may refer to logged entries and to entries 0..k
/// of the batch, never later ones. Signature checks dominate, so the entries are validated in
/// parallel against the logged entries they reference (read once, beforehand, through
/// `snap`, which cannot be shared between threads); an entry that fails that way is checked
/// again alone against the whole log, which decides.
fn validate_batch(
    snap: &Snapshot<'_>,
    fresh: &[(&NewEntry, Hash)],
    validator: &dyn EntryValidator,
) -> Result<()> {
    use rayon::prelude::*;
    let size = snap.size();
    let mut wanted: Vec<u64> = fresh
        .par_iter()
        .flat_map_iter(|(e, _)| validator.referenced(&e.bytes))
        .filter(|&i| i < size)
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    // A bundle that cannot be read is left to the one-by-one check below, which reports it.
    let logged = snap.entries(&wanted).unwrap_or_default();
    let verdicts: Vec<std::result::Result<(), String>> = fresh
        .par_iter()
        .enumerate()
        .map(|(k, (e, _))| {
            let lookup = Prefetched {
                size,
                logged: &logged,
                batch: &fresh[..k],
            };
            validator.validate(&e.bytes, &lookup).map(|_| ())
        })
        .collect();
    for (k, verdict) in verdicts.into_iter().enumerate() {
        if verdict.is_ok() {
            continue;
        }
        let e = fresh[k].0;
        let lookup = BatchLookup {
            snap,
            batch: &fresh[..k],
        };
        validator
            .validate(&e.bytes, &lookup)
            .map_err(|reason| StoreError::InvalidEntry {
                name: e.name.clone(),
                reason,
            })?;
    }
    Ok(())
}

/// The log as a batch's validation sees it, from entries read beforehand.
struct Prefetched<'a> {
    size: u64,
    logged: &'a BTreeMap<u64, Vec<u8>>,
    batch: &'a [(&'a NewEntry, Hash)],
}

impl EntryLookup for Prefetched<'_> {
    fn size(&self) -> u64 {
        self.size + self.batch.len() as u64
    }
    fn entry(&self, index: u64) -> Result<Vec<u8>> {
        let found = if index < self.size {
            self.logged.get(&index).cloned()
        } else {
            self.batch
                .get((index - self.size) as usize)
                .map(|(e, _)| e.bytes.clone())
        };
        found.ok_or(StoreError::NoSuchEntry {
            index,
            size: self.size(),
        })
    }
}

struct BatchLookup<'a, 'r> {
    snap: &'a Snapshot<'r>,
    batch: &'a [(&'a NewEntry, Hash)],
}

impl EntryLookup for BatchLookup<'_, '_> {
    fn size(&self) -> u64 {
        self.snap.size() + self.batch.len() as u64
    }
    fn entry(&self, index: u64) -> Result<Vec<u8>> {
        let base = self.snap.size();
        if index < base {
            self.snap.entry(index)
        } else {
            self.batch
                .get((index - base) as usize)
                .map(|(e, _)| e.bytes.clone())
                .ok_or(StoreError::NoSuchEntry {
                    index,
                    size: self.size(),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed append reports every phase, in order; a batch of duplicates commits nothing
    /// and reports none.
    #[test]
    fn append_reports_its_phases() {
        let dir = tempfile::tempdir().unwrap();
        let key = SignerKey::generate("phases.example/log").unwrap();
        let store = LogStore::init(
            dir.path(),
            DEFAULT_BRANCH,
            "phases.example/log",
            &key,
            EntrySchema::Any,
        )
        .unwrap();
        let entries: Vec<NewEntry> = (0..3)
            .map(|i| NewEntry {
                name: format!("e{i}"),
                bytes: format!("entry {i}\n").into_bytes(),
                pending_path: None,
            })
            .collect();
        let out = store.append(&key, &entries, &AnyEntry).unwrap();
        let names: Vec<&str> = out.phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, APPEND_PHASES);
        let again = store.append(&key, &entries, &AnyEntry).unwrap();
        assert!(again.commit.is_none() && again.phases.is_empty());
    }

    /// A session appends what plain appends do (same tree, same duplicates found), holds the
    /// writer lock while it lives, and leaves an index plain appends keep using.
    #[test]
    fn append_session_is_plain_appends_with_the_index_kept_open() {
        let key = SignerKey::generate("session.example/log").unwrap();
        let batch = |from: u32, to: u32| -> Vec<NewEntry> {
            (from..to)
                .map(|i| NewEntry {
                    name: format!("e{i}"),
                    bytes: format!("entry {i}\n").into_bytes(),
                    pending_path: None,
                })
                .collect()
        };
        let init = |dir: &Path| {
            LogStore::init(
                dir,
                DEFAULT_BRANCH,
                "session.example/log",
                &key,
                EntrySchema::Any,
            )
            .unwrap()
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (plain, sessioned) = (init(a.path()), init(b.path()));
        let batches = [batch(0, 300), batch(250, 600), batch(0, 10)];
        let mut session = sessioned.append_session().unwrap();
        for entries in &batches {
            let p = plain.append(&key, entries, &AnyEntry).unwrap();
            let s = session.append(&key, entries, &AnyEntry).unwrap();
            let dup = |o: &AppendOutcome| -> Vec<(u64, bool)> {
                o.entries.iter().map(|e| (e.index, e.duplicate)).collect()
            };
            assert_eq!(dup(&p), dup(&s));
            assert_eq!(p.new_size, s.new_size);
        }
        assert_eq!(
            plain.head().unwrap().root(),
            sessioned.head().unwrap().root()
        );
        // Other writers wait while the session lives.
        let lock = sessioned.repo.path().join("fwlog").join(format!(
            "writer-{}.lock",
            crate::leaf_index::branch_id(&sessioned.refname)
        ));
        assert!(crate::fsutil::lock_file(&lock, false).unwrap().is_none());
        drop(session);
        assert!(crate::fsutil::lock_file(&lock, false).unwrap().is_some());
        // The index the session kept still finds what it recorded.
        let again = sessioned.append(&key, &batch(590, 600), &AnyEntry).unwrap();
        assert!(again.commit.is_none() && again.entries.iter().all(|e| e.duplicate));
    }
}
