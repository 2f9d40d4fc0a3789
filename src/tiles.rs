//! C2SP tlog-tiles: tile paths, tile maths, entry bundles and the append path.
//!
//! A log of `n` entries is stored as *tiles*. A hash tile at tile level `L` holds up to 256
//! consecutive node hashes of Merkle level `8·L`: tile `N` at level `L` holds the hashes of the
//! complete subtrees `(8·L, N·256 + i)` for `i` in `0..W`. Level-0 hashes are leaf hashes; a
//! level-(L+1) hash is the root of a *full* level-L tile. The rightmost tile at each level may be
//! *partial* (`W < 256`); partial tiles are never hashed upward. Entry bundles
//! (`tile/entries/N`) hold the entries whose leaf hashes are in level-0 tile `N`.
//!
//! Pure maths, apart from the [`TileReader`] storage seam: no filesystem, Git or network I/O.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Range;

use thiserror::Error;

use crate::merkle::{self, Hash, HashReader, MerkleError, Node, HASH_SIZE};

/// Merkle levels covered by one tile level: a tile holds a subtree of height 8.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes (or entries) in a full tile: `2^TILE_HEIGHT`.
pub const TILE_WIDTH: u64 = 256;

/// The largest entry an entry bundle can hold (its length prefix is a big-endian u16).
pub const MAX_ENTRY_SIZE: usize = 65535;

/// The largest tile level a path may name (tlog-tiles allows `0..=63`). A tree of fewer than
/// 2^64 leaves only ever has tiles at levels `0..=7`.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Tile levels that can hold a hash in a tree of at most 2^64 − 1 leaves: `64 / 8`.
const TREE_TILE_LEVELS: u8 = 64 / TILE_HEIGHT;

/// Why a tile path, tile or bundle was rejected, or a tile could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TileError {
    /// The path is not exactly the canonical `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    #[error("malformed tile path {path:?}: {reason}")]
    MalformedPath { path: String, reason: &'static str },
    /// A caller of an append passed a different number of leaf hashes than entries.
    #[error("{leaves} leaf hashes for {entries} entries")]
    LeafCount { entries: usize, leaves: usize },
    /// A [`Tile`] value with a level above 63 or a width outside `1..=256`.
    #[error("invalid tile: {reason}")]
    InvalidTile { reason: &'static str },
    /// A hash tile was asked to decode as an entry bundle, or the reverse.
    #[error("{path} is not {expected}")]
    WrongKind {
        path: String,
        expected: &'static str,
    },
    /// A hash tile whose length is not `width · 32` bytes.
    #[error("{path}: expected {expected} bytes, got {got}")]
    WrongLength {
        path: String,
        expected: usize,
        got: usize,
    },
    /// An entry bundle that ends inside a length prefix or entry, before `width` entries.
    #[error("entry bundle {path} is truncated in entry {entry}")]
    TruncatedBundle { path: String, entry: u16 },
    /// An entry bundle with bytes left over after its `width` entries.
    #[error("entry bundle {path} has {extra} trailing bytes")]
    TrailingBytes { path: String, extra: usize },
    /// An entry longer than [`MAX_ENTRY_SIZE`] bytes.
    #[error("entry {index} is {len} bytes; an entry bundle holds at most 65535")]
    EntryTooLarge { index: usize, len: usize },
    /// A tile the maths needs is absent from storage.
    #[error("tile {path} is missing")]
    MissingTile { path: String },
    /// `old_size + entries` does not fit in a u64.
    #[error("log size overflows: {old_size} + {added}")]
    SizeOverflow { old_size: u64, added: u64 },
    /// A [`TileHashReader`] asked to serve a tree larger than the stored one.
    #[error("cannot serve a tree of size {size} from tiles of size {store_size}")]
    StoreTooSmall { size: u64, store_size: u64 },
    /// The storage behind a [`TileReader`] failed (I/O, Git, HTTP).
    #[error("reading {path}: {reason}")]
    Storage { path: String, reason: String },
}

/// Which tree a tile belongs to: the hash tree at a tile level (`Hash(L)` holds Merkle level
/// `8·L` hashes), or the entry bundles (aligned with level-0 hash tiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A hash tile at tile level `0..=63`.
    Hash(u8),
    /// An entry bundle.
    Entries,
}

/// One tile: tile `index` of `kind`, holding `width` hashes or entries (`1..=256`; 256 = full).
/// A hash tile `(L, N, W)` holds the Merkle nodes `(8·L, N·256 + i)` for `i < W`; an entry
/// bundle `(N, W)` holds entries `N·256 + i` for `i < W`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Hash tile level or entry bundle.
    pub kind: TileKind,
    /// Position within the level: tile `N` starts at item `N·256`.
    pub index: u64,
    /// Items held: `1..=256`, 256 for a full tile.
    pub width: u16,
}

impl Tile {
    /// A checked tile: level at most [`MAX_TILE_LEVEL`], width in `1..=256`.
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<Tile, TileError> {
        let tile = Tile { kind, index, width };
        tile.validate()?;
        Ok(tile)
    }

    /// Checks the level (`0..=63`) and the width (`1..=256`).
    pub fn validate(&self) -> Result<(), TileError> {
        if let TileKind::Hash(level) = self.kind {
            if level > MAX_TILE_LEVEL {
                return Err(TileError::InvalidTile {
                    reason: "level above 63",
                });
            }
        }
        if self.width == 0 || u64::from(self.width) > TILE_WIDTH {
            return Err(TileError::InvalidTile {
                reason: "width outside 1..=256",
            });
        }
        Ok(())
    }

    /// `tile/<L>/<N>` or `tile/entries/<N>`, with `.p/<W>` appended when `W < 256`; `N` as
    /// [`format_index`]. Canonical (and accepted by [`Tile::parse_path`]) for valid tiles.
    pub fn path(&self) -> String {
        let mut p = String::with_capacity(32);
        match self.kind {
            TileKind::Hash(level) => {
                let _ = write!(p, "tile/{level}/");
            }
            TileKind::Entries => p.push_str("tile/entries/"),
        }
        p.push_str(&format_index(self.index));
        if !self.is_full() {
            let _ = write!(p, ".p/{}", self.width);
        }
        p
    }

    /// The strict inverse of [`Tile::path`]: accepts only the canonical form (`L` in `0..=63`
    /// without leading zeros, `N` in 3-digit groups with no leading `x000` group, `W` in
    /// `1..=255` without leading zeros and only after `.p/`, nothing after).
    pub fn parse_path(path: &str) -> Result<Tile, TileError> {
        let bad = |reason| TileError::MalformedPath {
            path: path.to_string(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("does not start with tile/"))?;
        let mut segments = rest.split('/');
        let kind = match segments.next() {
            Some("entries") => TileKind::Entries,
            Some(s) => {
                let level =
                    parse_decimal(s, 2).ok_or_else(|| bad("level is not canonical decimal"))?;
                if level > u64::from(MAX_TILE_LEVEL) {
                    return Err(bad("level above 63"));
                }
                TileKind::Hash(level as u8)
            }
            None => return Err(bad("missing level")),
        };
        let mut index = 0u64;
        let mut first = true;
        let width = loop {
            let seg = segments.next().ok_or_else(|| bad("missing index"))?;
            let (digits, last, partial) = if let Some(d) = seg.strip_prefix('x') {
                (d, false, false)
            } else if let Some(d) = seg.strip_suffix(".p") {
                (d, true, true)
            } else {
                (seg, true, false)
            };
            let group =
                three_digits(digits).ok_or_else(|| bad("index group is not three digits"))?;
            if first && !last && group == 0 {
                return Err(bad("index has a leading x000 group"));
            }
            first = false;
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(group))
                .ok_or_else(|| bad("index overflows u64"))?;
            if !last {
                continue;
            }
            if !partial {
                break TILE_WIDTH as u16;
            }
            let w = segments
                .next()
                .ok_or_else(|| bad("missing width after .p/"))?;
            let w = parse_decimal(w, 3).ok_or_else(|| bad("width is not canonical decimal"))?;
            if !(1..TILE_WIDTH).contains(&w) {
                return Err(bad("partial width outside 1..=255"));
            }
            break w as u16;
        };
        if segments.next().is_some() {
            return Err(bad("extra path elements"));
        }
        Ok(Tile { kind, index, width })
    }

    /// Whether the tile holds all 256 hashes or entries.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The full tile at the same position (`width = 256`).
    pub fn full(&self) -> Tile {
        Tile {
            width: TILE_WIDTH as u16,
            ..*self
        }
    }
}

/// Canonical decimal of at most `max_len` ASCII digits, no sign, no leading zeros but "0".
fn parse_decimal(s: &str, max_len: usize) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > max_len || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

/// Exactly three ASCII digits.
fn three_digits(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

/// The `<N>` path encoding: decimal in 3-digit groups, every group but the last prefixed with
/// `x`, no leading zero group: 5 → `005`, 1000 → `x001/000`, 1234067 → `x001/x234/067`.
pub fn format_index(n: u64) -> String {
    let mut groups = Vec::with_capacity(7);
    let mut n = n;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            let _ = write!(s, "x{g:03}/");
        } else {
            let _ = write!(s, "{g:03}");
        }
    }
    s
}

/// `size >> shift`, 0 when `shift >= 64`.
fn shr(size: u64, shift: u32) -> u64 {
    size.checked_shr(shift).unwrap_or(0)
}

/// Number of Merkle level-`8·L` hashes in a tree of `size` leaves: `⌊size / 256^L⌋`.
fn hashes_at_level(level: u8, size: u64) -> u64 {
    shr(size, u32::from(level) * u32::from(TILE_HEIGHT))
}

/// The tiles of one level given how many items (`count`) it holds: `⌊count/256⌋` full tiles,
/// then one partial tile of width `count mod 256` if that is non-zero.
fn tiles_for_count(kind: TileKind, count: u64) -> impl Iterator<Item = Tile> {
    let full = count / TILE_WIDTH;
    let rem = (count % TILE_WIDTH) as u16;
    (0..full)
        .map(move |index| Tile {
            kind,
            index,
            width: TILE_WIDTH as u16,
        })
        .chain((rem > 0).then_some(Tile {
            kind,
            index: full,
            width: rem,
        }))
}

/// Every hash tile of a tree of `size` leaves, in `(level, index)` order, lazily: at level `L`
/// with `c = ⌊size / 256^L⌋` hashes, `⌊c/256⌋` full tiles and a partial of width `c mod 256`.
pub fn hash_tiles(size: u64) -> impl Iterator<Item = Tile> {
    (0..TREE_TILE_LEVELS)
        .take_while(move |&l| hashes_at_level(l, size) > 0)
        .flat_map(move |l| tiles_for_count(TileKind::Hash(l), hashes_at_level(l, size)))
}

/// Every hash tile that exists for a tree of `size` leaves (full tiles plus at most one partial
/// per level), in `(level, index)` order. Level `L` holds the level-`8L` node hashes; a
/// level-(L+1) hash is the root of a FULL level-L tile; partial tiles are never hashed upward.
/// Allocates about `size/255` tiles: use [`hash_tiles`] or [`hash_tile_count`] for big trees.
pub fn hash_tiles_for_size(size: u64) -> Vec<Tile> {
    hash_tiles(size).collect()
}

/// `Σ_L ⌈⌊size / 256^L⌋ / 256⌉`: the number of hash tiles [`hash_tiles`] yields, in O(1).
pub fn hash_tile_count(size: u64) -> u64 {
    (0..TREE_TILE_LEVELS)
        .map(|l| hashes_at_level(l, size).div_ceil(TILE_WIDTH))
        .sum()
}

/// The entry bundles of a log of `size` entries: `⌊size/256⌋` full bundles, then a partial of
/// width `size mod 256` if non-zero.
pub fn entry_bundles_for_size(size: u64) -> impl Iterator<Item = Tile> {
    tiles_for_count(TileKind::Entries, size)
}

/// The right-edge partial tile at each hash level and the partial entry bundle, in `Tile`
/// order: the only existing tiles an append reads or supersedes (full tiles never change; a
/// level without a partial tile gains new tiles after its last full one).
pub fn right_edge_tiles(size: u64) -> Vec<Tile> {
    (0..TREE_TILE_LEVELS)
        .filter_map(|l| partial_tile(TileKind::Hash(l), hashes_at_level(l, size)))
        .chain(partial_tile(TileKind::Entries, size))
        .collect()
}

/// The partial tile of a level holding `count` items, if `count mod 256 != 0`.
fn partial_tile(kind: TileKind, count: u64) -> Option<Tile> {
    let rem = (count % TILE_WIDTH) as u16;
    (rem > 0).then_some(Tile {
        kind,
        index: count / TILE_WIDTH,
        width: rem,
    })
}

/// Tile `index` of a level holding `count` items, as it exists then: full if
/// `index < ⌊count/256⌋`, the partial if `index == ⌊count/256⌋` and `count mod 256 != 0`.
fn tile_at(kind: TileKind, index: u64, count: u64) -> Option<Tile> {
    let full = count / TILE_WIDTH;
    if index < full {
        Some(Tile {
            kind,
            index,
            width: TILE_WIDTH as u16,
        })
    } else if index == full {
        partial_tile(kind, count)
    } else {
        None
    }
}

/// Which tile (as it exists at `size`) stores or can compute the hash of the complete subtree
/// `node = (l, i)`, and which of its hashes fold (as a perfect subtree) into it: with
/// `L = ⌊l/8⌋` and `r = l − 8L`, the node covers the level-`8L` hashes
/// `[i·2^r, (i+1)·2^r)`, held by level-`L` tile `⌊i·2^r / 256⌋` at offsets
/// `(i·2^r mod 256) .. + 2^r`. `None` when the node is not complete within `[0, size)`
/// (`i ≥ ⌊size / 2^l⌋`) or `l > 63`.
pub fn tile_for_node(node: Node, size: u64) -> Option<(Tile, Range<usize>)> {
    if node.level > MAX_TILE_LEVEL || node.index >= shr(size, u32::from(node.level)) {
        return None;
    }
    let level = node.level / TILE_HEIGHT;
    let r = node.level % TILE_HEIGHT;
    // node.index < 2^(64 − l), so node.index << r < 2^(64 − 8L) and cannot overflow.
    let first = node.index << r;
    let tile = tile_at(
        TileKind::Hash(level),
        first / TILE_WIDTH,
        hashes_at_level(level, size),
    )?;
    let start = (first % TILE_WIDTH) as usize;
    Some((tile, start..start + (1usize << r)))
}

/// The entry bundle (as it exists at `size`) holding entry `index`, and the entry's position
/// in it; `None` when `index >= size`.
pub fn entry_bundle_for_index(index: u64, size: u64) -> Option<(Tile, usize)> {
    if index >= size {
        return None;
    }
    let tile = tile_at(TileKind::Entries, index / TILE_WIDTH, size)?;
    Some((tile, (index % TILE_WIDTH) as usize))
}

/// Whether `tile` is one of the tiles that exist for a tree of `size` leaves, by arithmetic
/// alone (no enumeration, so any size is fine): with `c` the number of hashes (or entries) at its
/// level, a full tile has index below `c / 256`, and the partial tile has index `c / 256` and
/// width `c mod 256 > 0`.
pub fn exists_at_size(tile: &Tile, size: u64) -> bool {
    let count = match tile.kind {
        TileKind::Entries => size,
        TileKind::Hash(level) => size
            .checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))
            .unwrap_or(0),
    };
    let (full, rest) = (count / TILE_WIDTH, count % TILE_WIDTH);
    if tile.is_full() {
        tile.index < full
    } else {
        tile.index == full && u64::from(tile.width) == rest
    }
}

/// Decodes a hash tile: exactly `width · 32` bytes, read as `width` consecutive hashes.
pub fn decode_hash_tile(tile: &Tile, data: &[u8]) -> Result<Vec<Hash>, TileError> {
    tile.validate()?;
    if tile.kind == TileKind::Entries {
        return Err(TileError::WrongKind {
            path: tile.path(),
            expected: "a hash tile",
        });
    }
    let expected = usize::from(tile.width) * HASH_SIZE;
    if data.len() != expected {
        return Err(TileError::WrongLength {
            path: tile.path(),
            expected,
            got: data.len(),
        });
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; HASH_SIZE];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}

/// Encodes a hash tile: the concatenation of the hashes (`32 · len` bytes).
pub fn encode_hash_tile(hashes: &[Hash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * HASH_SIZE);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Decodes an entry bundle: exactly `tile.width` records of `u16 big-endian length || bytes`,
/// each length checked against the bytes left, and no trailing bytes.
pub fn decode_entry_bundle<'d>(tile: &Tile, data: &'d [u8]) -> Result<Vec<&'d [u8]>, TileError> {
    tile.validate()?;
    if tile.kind != TileKind::Entries {
        return Err(TileError::WrongKind {
            path: tile.path(),
            expected: "an entry bundle",
        });
    }
    let mut out = Vec::with_capacity(usize::from(tile.width));
    let mut rest = data;
    for entry in 0..tile.width {
        let truncated = || TileError::TruncatedBundle {
            path: tile.path(),
            entry,
        };
        let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(truncated());
        }
        let (body, tail) = tail.split_at(len);
        out.push(body);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(TileError::TrailingBytes {
            path: tile.path(),
            extra: rest.len(),
        });
    }
    Ok(out)
}

/// Encodes an entry bundle: `u16 big-endian length || bytes` per entry. Rejects entries longer
/// than [`MAX_ENTRY_SIZE`].
pub fn encode_entry_bundle(entries: &[&[u8]]) -> Result<Vec<u8>, TileError> {
    let total = entries.iter().map(|e| e.len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for (index, e) in entries.iter().enumerate() {
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge {
            index,
            len: e.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Storage seam: returns the bytes stored at a tile's path, or `None` when absent. Implemented
/// elsewhere over a Git tree, a directory, HTTP; failures other than absence are
/// [`TileError::Storage`].
pub trait TileReader {
    /// The bytes at `tile.path()`, or `None` when no such tile is stored.
    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, TileError>;
}

/// An in-memory tile store (tests, staging a batch of writes).
impl TileReader for HashMap<Tile, Vec<u8>> {
    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, TileError> {
        Ok(self.get(tile).cloned())
    }
}

/// An in-memory tile store (tests, staging a batch of writes).
impl TileReader for BTreeMap<Tile, Vec<u8>> {
    fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, TileError> {
        Ok(self.get(tile).cloned())
    }
}

/// Reads and decodes a hash tile that must exist.
fn read_hash_tile(reader: &dyn TileReader, tile: &Tile) -> Result<Vec<Hash>, TileError> {
    match reader.read_tile(tile)? {
        Some(data) => decode_hash_tile(tile, &data),
        None => Err(TileError::MissingTile { path: tile.path() }),
    }
}

/// Serves node hashes of the tree of `size` leaves from tiles ([`merkle::HashReader`]). Node
/// `(l, i)` is the perfect-subtree fold of the level-`8⌊l/8⌋` hashes that [`tile_for_node`]
/// names. Each tile is read at most once per `read_hashes` call; full tiles by their full path,
/// the right edge from the partial tile as it exists at the store's size, falling back to the
/// full tile when that partial is absent (tlog-tiles lets superseded partials go). Tiles of the
/// wrong length are rejected as [`MerkleError::MissingNode`] with the reason.
pub struct TileHashReader<'a> {
    reader: &'a dyn TileReader,
    size: u64,
    store_size: u64,
}

impl<'a> TileHashReader<'a> {
    /// Serves the tree of `size` from tiles stored for exactly that size.
    pub fn new(reader: &'a dyn TileReader, size: u64) -> Self {
        TileHashReader {
            reader,
            size,
            store_size: size,
        }
    }

    /// Serves the tree of `size` (an older checkpoint) from tiles stored for `store_size >=
    /// size`: a right-edge tile at `size` is a prefix of the same-index tile at `store_size`.
    pub fn with_store_size(
        reader: &'a dyn TileReader,
        size: u64,
        store_size: u64,
    ) -> Result<Self, TileError> {
        if store_size < size {
            return Err(TileError::StoreTooSmall { size, store_size });
        }
        Ok(TileHashReader {
            reader,
            size,
            store_size,
        })
    }

    /// The tree size whose nodes this reader serves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads `tile` (as stored), falling back to its full tile when a partial is absent.
    fn load(&self, tile: &Tile) -> Result<Vec<Hash>, TileError> {
        match self.reader.read_tile(tile)? {
            Some(data) => decode_hash_tile(tile, &data),
            None if !tile.is_full() => {
                let full = tile.full();
                match self.reader.read_tile(&full)? {
                    Some(data) => decode_hash_tile(&full, &data),
                    None => Err(TileError::MissingTile { path: tile.path() }),
                }
            }
            None => Err(TileError::MissingTile { path: tile.path() }),
        }
    }

    /// The hash of one node, using and filling the per-call tile cache; `Err` is the reason.
    fn node(&self, node: Node, cache: &mut HashMap<Tile, Vec<Hash>>) -> Result<Hash, String> {
        let Some((tile, range)) = tile_for_node(node, self.size) else {
            return Err(format!("outside a tree of {} leaves", self.size));
        };
        // The same tile as stored at store_size >= size: full, or a partial at least as wide.
        let count = hashes_at_level(node.level / TILE_HEIGHT, self.store_size);
        let stored = tile_at(tile.kind, tile.index, count).unwrap_or(tile);
        let hashes = match cache.entry(stored) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(self.load(&stored).map_err(|e| e.to_string())?),
        };
        match hashes.get(range) {
            Some(span) => Ok(merkle::subtree_root(span)),
            None => Err(format!("{} holds too few hashes", stored.path())),
        }
    }
}

impl HashReader for TileHashReader<'_> {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>, MerkleError> {
        let mut cache = HashMap::new();
        nodes
            .iter()
            .map(|&n| {
                self.node(n, &mut cache)
                    .map_err(|reason| MerkleError::MissingNode {
                        level: n.level,
                        index: n.index,
                        reason,
                    })
            })
            .collect()
    }
}

/// The result of appending to a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append {
    /// `old_size + entries.len()`.
    pub new_size: u64,
    /// RFC 9162 root of the tree of `new_size` leaves.
    pub root: Hash,
    /// Tiles to store (new full tiles and new partials, hash tiles and entry bundles), sorted.
    pub writes: Vec<(Tile, Vec<u8>)>,
    /// Partial tiles superseded by `writes` (the old right-edge partials), sorted.
    pub deletes: Vec<Tile>,
}

/// Computes every tile (hash tiles at all levels and entry bundles) that changes when `entries`
/// are appended to a log of `old_size` whose tiles `reader` serves. At each level the old
/// right-edge partial is read, extended and written as full and/or new partial tiles (the old
/// partial is deleted); each newly full level-L tile's root is appended to level L+1. The root
/// is the right fold of the perfect subtrees of `new_size`'s binary decomposition, each folded
/// from the new right-edge partials. Reads at most one tile per level plus one bundle; hashing
/// is O(batch + levels·256). Entries over [`MAX_ENTRY_SIZE`] fail before anything is read.
/// After applying `writes` and `deletes` the tile set is exactly
/// `hash_tiles_for_size(new_size) ∪ entry_bundles_for_size(new_size)`.
pub fn append(
    reader: &dyn TileReader,
    old_size: u64,
    entries: &[&[u8]],
) -> Result<Append, TileError> {
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    append_leaves(reader, old_size, entries, &leaves)
}

/// [`append`] for a caller that already hashed the entries: `leaves[i]` must be
/// `merkle::leaf_hash(entries[i])` (one list per entry, or the call fails).
pub(crate) fn append_leaves(
    reader: &dyn TileReader,
    old_size: u64,
    entries: &[&[u8]],
    leaves: &[Hash],
) -> Result<Append, TileError> {
    if leaves.len() != entries.len() {
        return Err(TileError::LeafCount {
            entries: entries.len(),
            leaves: leaves.len(),
        });
    }
    if let Some((index, e)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| e.len() > MAX_ENTRY_SIZE)
    {
        return Err(TileError::EntryTooLarge {
            index,
            len: e.len(),
        });
    }
    let added = entries.len() as u64;
    let new_size = old_size
        .checked_add(added)
        .ok_or(TileError::SizeOverflow { old_size, added })?;
    let mut writes = Vec::new();
    let mut deletes = Vec::new();

    if !entries.is_empty() {
        // Entry bundles: extend the old partial bundle, cut into bundles of 256.
        let old_bundle = partial_tile(TileKind::Entries, old_size);
        let old_data = match &old_bundle {
            Some(t) => reader
                .read_tile(t)?
                .ok_or_else(|| TileError::MissingTile { path: t.path() })?,
            None => Vec::new(),
        };
        let mut all: Vec<&[u8]> = match &old_bundle {
            Some(t) => decode_entry_bundle(t, &old_data)?,
            None => Vec::new(),
        };
        all.extend_from_slice(entries);
        let first = old_size / TILE_WIDTH;
        for (k, chunk) in all.chunks(TILE_WIDTH as usize).enumerate() {
            let tile = Tile {
                kind: TileKind::Entries,
                index: first + k as u64,
                width: chunk.len() as u16,
            };
            writes.push((tile, encode_entry_bundle(chunk)?));
        }
        deletes.extend(old_bundle);
    }

    // Hash tiles, level by level, while a level gains hashes.
    let mut new_partials: Vec<Option<Vec<Hash>>> = vec![None; usize::from(TREE_TILE_LEVELS)];
    let mut gained: Vec<Hash> = leaves.to_vec();
    let mut level = 0u8;
    while !gained.is_empty() {
        if level >= TREE_TILE_LEVELS {
            // Unreachable: a level-8 hash needs 2^64 leaves and new_size fits in a u64.
            return Err(TileError::SizeOverflow { old_size, added });
        }
        let kind = TileKind::Hash(level);
        let count = hashes_at_level(level, old_size);
        let old = partial_tile(kind, count);
        let mut hashes = match &old {
            Some(t) => read_hash_tile(reader, t)?,
            None => Vec::new(),
        };
        hashes.append(&mut gained);
        let first = count / TILE_WIDTH;
        for (k, chunk) in hashes.chunks(TILE_WIDTH as usize).enumerate() {
            let tile = Tile {
                kind,
                index: first + k as u64,
                width: chunk.len() as u16,
            };
            writes.push((tile, encode_hash_tile(chunk)));
            if tile.is_full() {
                gained.push(merkle::subtree_root(chunk));
            } else if let Some(slot) = new_partials.get_mut(usize::from(level)) {
                *slot = Some(chunk.to_vec());
            }
        }
        deletes.extend(old);
        level += 1;
    }

    // Root: the perfect subtrees of new_size, largest first, from each level's partial tile.
    let mut peaks = Vec::new();
    for l in (0..TREE_TILE_LEVELS).rev() {
        let Some(tile) = partial_tile(TileKind::Hash(l), hashes_at_level(l, new_size)) else {
            continue;
        };
        let hashes = match new_partials.get_mut(usize::from(l)).and_then(Option::take) {
            Some(h) => h,
            // Levels at or above the last one that gained hashes are unchanged.
            None => read_hash_tile(reader, &tile)?,
        };
        let mut offset = 0usize;
        for bit in (0..TILE_HEIGHT).rev() {
            let w = 1usize << bit;
            if usize::from(tile.width) & w != 0 {
                let span = hashes
                    .get(offset..offset + w)
                    .ok_or(TileError::WrongLength {
                        path: tile.path(),
                        expected: usize::from(tile.width) * HASH_SIZE,
                        got: hashes.len() * HASH_SIZE,
                    })?;
                peaks.push(merkle::subtree_root(span));
                offset += w;
            }
        }
    }
    let root = match peaks.split_last() {
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |acc, h| merkle::node_hash(h, &acc)),
        None => merkle::empty_root(),
    };

    writes.sort_by_key(|w| w.0);
    deletes.sort();
    Ok(Append {
        new_size,
        root,
        writes,
        deletes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exists_at_size_matches_the_enumeration() {
        for size in [0u64, 1, 255, 256, 257, 300, 65535, 65536, 65537, 70000] {
            let listed: std::collections::BTreeSet<Tile> = hash_tiles(size)
                .chain(entry_bundles_for_size(size))
                .collect();
            for t in &listed {
                assert!(exists_at_size(t, size), "{} at {size}", t.path());
            }
            for kind in [
                TileKind::Hash(0),
                TileKind::Hash(1),
                TileKind::Hash(2),
                TileKind::Entries,
            ] {
                for index in 0..300 {
                    for width in [1u16, 44, 112, 255, 256] {
                        let t = Tile { kind, index, width };
                        assert_eq!(
                            exists_at_size(&t, size),
                            listed.contains(&t),
                            "{} at {size}",
                            t.path()
                        );
                    }
                }
            }
        }
        let huge = Tile {
            kind: TileKind::Entries,
            index: 1 << 50,
            width: 256,
        };
        assert!(exists_at_size(&huge, u64::MAX));
    }
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    fn json(name: &str) -> serde_json::Value {
        let path = format!("{}/tests/data/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn paths(tiles: &[Tile]) -> Vec<String> {
        tiles.iter().map(Tile::path).collect()
    }

    fn strs(v: &serde_json::Value) -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    /// A tile store that records every read.
    #[derive(Default)]
    struct Store {
        tiles: BTreeMap<Tile, Vec<u8>>,
        reads: RefCell<Vec<Tile>>,
    }

    impl TileReader for Store {
        fn read_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>, TileError> {
            self.reads.borrow_mut().push(*tile);
            Ok(self.tiles.get(tile).cloned())
        }
    }

    impl Store {
        fn apply(&mut self, a: &Append) {
            for d in &a.deletes {
                assert!(
                    self.tiles.remove(d).is_some(),
                    "deleting absent {}",
                    d.path()
                );
            }
            for (t, b) in &a.writes {
                self.tiles.insert(*t, b.clone());
            }
        }

        fn take_reads(&self) -> Vec<Tile> {
            std::mem::take(&mut *self.reads.borrow_mut())
        }
    }

    /// Independent oracle: every perfect node hash, levels[l][i] = node (l, i), kept
    /// incrementally.
    #[derive(Default)]
    struct Levels(Vec<Vec<Hash>>);

    impl Levels {
        fn push(&mut self, leaf: Hash) {
            let mut h = leaf;
            let mut l = 0;
            loop {
                if self.0.len() == l {
                    self.0.push(Vec::new());
                }
                self.0[l].push(h);
                let n = self.0[l].len();
                if n % 2 == 1 {
                    break;
                }
                h = merkle::node_hash(&self.0[l][n - 2], &self.0[l][n - 1]);
                l += 1;
            }
        }
    }

    impl HashReader for Levels {
        fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>, MerkleError> {
            nodes
                .iter()
                .map(|n| {
                    self.0
                        .get(usize::from(n.level))
                        .and_then(|l| l.get(n.index as usize))
                        .copied()
                        .ok_or(MerkleError::MissingNode {
                            level: n.level,
                            index: n.index,
                            reason: "oracle".into(),
                        })
                })
                .collect()
        }
    }

    fn rs_merkle_root(leaves: &[Hash]) -> Hash {
        let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
        Hash(
            rs_merkle::MerkleTree::<merkle::Rfc6962Hasher>::from_leaves(&raw)
                .root()
                .unwrap(),
        )
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn vector_index_paths() {
        let v = json("tiles.json");
        let cases = v["full_level0_tile_path_by_N"].as_object().unwrap();
        assert!(!cases.is_empty());
        for (n, want) in cases {
            let t = Tile::new(TileKind::Hash(0), n.parse().unwrap(), 256).unwrap();
            assert_eq!(t.path(), want.as_str().unwrap());
            assert_eq!(Tile::parse_path(want.as_str().unwrap()).unwrap(), t);
        }
        assert_eq!(format_index(5), "005");
        assert_eq!(format_index(1000), "x001/000");
        assert_eq!(format_index(1234067), "x001/x234/067");
        assert_eq!(format_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }

    #[test]
    fn vector_hash_tiles_for_size() {
        let v = json("tiles.json");
        let cases = v["hash_tiles_for_tree_size"].as_object().unwrap();
        assert_eq!(cases.len(), 7);
        for (size, want) in cases {
            let size: u64 = size.parse().unwrap();
            let got = hash_tiles_for_size(size);
            assert_eq!(hash_tile_count(size), got.len() as u64);
            assert!(got.windows(2).all(|w| w[0] < w[1]), "order at {size}");
            if want.is_array() {
                assert_eq!(paths(&got), strs(want), "size {size}");
                continue;
            }
            assert_eq!(
                got.len() as u64,
                want["count"].as_u64().unwrap(),
                "size {size}"
            );
            let partial: Vec<Tile> = got.iter().copied().filter(|t| !t.is_full()).collect();
            assert_eq!(paths(&partial), strs(&want["partial_tiles"]));
            let full: Vec<Tile> = got.iter().copied().filter(Tile::is_full).collect();
            assert_eq!(paths(&full[..2]), strs(&want["first_full"]));
            // last_full: the last full tile at each level, lowest level first.
            let mut last: BTreeMap<TileKind, Tile> = BTreeMap::new();
            for t in &full {
                last.insert(t.kind, *t);
            }
            assert_eq!(
                paths(&last.into_values().collect::<Vec<_>>()),
                strs(&want["last_full"])
            );
        }
        assert!(hash_tiles_for_size(0).is_empty());
        assert_eq!(entry_bundles_for_size(0).count(), 0);
    }

    #[test]
    fn vector_eight_leaf_log() {
        let v = json("tiles.json");
        let e = &v["eight_leaf_log"];
        let leaves: Vec<Vec<u8>> = strs(&json("merkle.json")["leaves_hex"])
            .iter()
            .map(|x| hex::decode(x).unwrap())
            .collect();
        let entries: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let bundle = hex::decode(e["entry_bundle_hex"].as_str().unwrap()).unwrap();
        let tile0 = hex::decode(e["level0_tile_hex"].as_str().unwrap()).unwrap();
        let bundle_tile = Tile::parse_path(e["entry_bundle_path"].as_str().unwrap()).unwrap();
        let hash_tile = Tile::parse_path(e["level0_tile_path"].as_str().unwrap()).unwrap();

        assert_eq!(encode_entry_bundle(&entries).unwrap(), bundle);
        assert_eq!(decode_entry_bundle(&bundle_tile, &bundle).unwrap(), entries);
        let hashes: Vec<Hash> = entries.iter().map(|x| merkle::leaf_hash(x)).collect();
        assert_eq!(encode_hash_tile(&hashes), tile0);
        assert_eq!(decode_hash_tile(&hash_tile, &tile0).unwrap(), hashes);

        // The same bytes, and nothing else (no level-1 tile at size 8), from an append.
        let a = append(&Store::default(), 0, &entries).unwrap();
        assert_eq!(a.new_size, 8);
        assert!(a.deletes.is_empty());
        assert_eq!(a.writes, vec![(hash_tile, tile0), (bundle_tile, bundle)]);
        let root = json("merkle.json")["roots"]["8"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(a.root, Hash::from_base64(&root).unwrap());
    }

    #[test]
    fn parse_path_rejects_non_canonical() {
        for p in [
            "tile/0/1",
            "tile/0/01",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/x000/x001/001",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/010",
            "tile/0/005.p/+10",
            "tile/0/005.p/",
            "tile/0/005.p",
            "tile/0/005.p/1/",
            "tile/0/005.p/1/2",
            "tile/0/005.q/1",
            "tile/0/x005",
            "tile/0/x005.p/1",
            "tile/0/x05/005",
            "tile/0/x0005/005",
            "tile/0/005/006",
            "tile/0/005/",
            "tile/64/000",
            "tile/00/000",
            "tile/01/000",
            "tile/+1/000",
            "tile/0/../000",
            "tile/0/./000",
            "tile/data/000",
            "tile/Entries/000",
            "tile/8/0/000",
            "tile/8/data/000",
            "tile/0/000/",
            "tile/0/",
            "tile/0",
            "tile/",
            "tile//000",
            "/tile/0/000",
            "tiles/0/000",
            "tile/0/-01",
            "tile/0/ 01",
            "tile/0/x１２/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/entries/5",
            "tile/entries/005.p/256",
            "checkpoint",
            "",
        ] {
            let e = Tile::parse_path(p);
            assert!(
                matches!(e, Err(TileError::MalformedPath { .. })),
                "{p:?} gave {e:?}"
            );
        }
    }

    #[test]
    fn parse_path_round_trips() {
        for p in [
            "tile/0/000",
            "tile/0/000.p/1",
            "tile/0/005.p/255",
            "tile/0/005.p/10",
            "tile/63/000",
            "tile/7/x001/000.p/17",
            "tile/0/x001/x000/000",
            "tile/entries/000.p/8",
            "tile/entries/x123/x456/789",
            "tile/2/x018/x446/x744/x073/x709/x551/615",
        ] {
            let t = Tile::parse_path(p).unwrap();
            assert_eq!(t.path(), p);
            t.validate().unwrap();
        }
        assert_eq!(
            Tile::parse_path("tile/1/001.p/17").unwrap(),
            Tile {
                kind: TileKind::Hash(1),
                index: 1,
                width: 17
            }
        );
        for (n, w) in [
            (0u64, 1u16),
            (999, 255),
            (1000, 256),
            (u64::MAX, 7),
            (1234067, 256),
        ] {
            for kind in [TileKind::Hash(0), TileKind::Hash(63), TileKind::Entries] {
                let t = Tile::new(kind, n, w).unwrap();
                assert_eq!(Tile::parse_path(&t.path()).unwrap(), t);
            }
        }
        assert!(Tile::new(TileKind::Hash(64), 0, 1).is_err());
        assert!(Tile::new(TileKind::Hash(0), 0, 0).is_err());
        assert!(Tile::new(TileKind::Entries, 0, 257).is_err());
    }

    #[test]
    fn entry_bundle_errors() {
        let t = |w| Tile {
            kind: TileKind::Entries,
            index: 0,
            width: w,
        };
        let good = encode_entry_bundle(&[b"ab", b"", b"xyz"]).unwrap();
        assert_eq!(good, b"\x00\x02ab\x00\x00\x00\x03xyz");
        assert_eq!(
            decode_entry_bundle(&t(3), &good).unwrap(),
            vec![&b"ab"[..], b"", b"xyz"]
        );
        // Truncated inside an entry, inside a length prefix, and before the last entry.
        for cut in [good.len() - 1, 5, 4, 1, 0] {
            let e = decode_entry_bundle(&t(3), &good[..cut]);
            assert!(
                matches!(e, Err(TileError::TruncatedBundle { .. })),
                "cut {cut}: {e:?}"
            );
        }
        // Trailing bytes, including a whole extra entry (wrong count).
        let mut extra = good.clone();
        extra.push(0);
        assert!(matches!(
            decode_entry_bundle(&t(3), &extra),
            Err(TileError::TrailingBytes { extra: 1, .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&t(2), &good),
            Err(TileError::TrailingBytes { extra: 5, .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&t(4), &good),
            Err(TileError::TruncatedBundle { entry: 3, .. })
        ));
        // A length prefix claiming more than is left.
        assert!(matches!(
            decode_entry_bundle(&t(1), b"\xff\xffabc"),
            Err(TileError::TruncatedBundle { entry: 0, .. })
        ));
        // Size limits.
        let max = vec![7u8; MAX_ENTRY_SIZE];
        let enc = encode_entry_bundle(&[&max]).unwrap();
        assert_eq!(&enc[..2], b"\xff\xff");
        assert_eq!(decode_entry_bundle(&t(1), &enc).unwrap(), vec![&max[..]]);
        let big = vec![7u8; MAX_ENTRY_SIZE + 1];
        assert_eq!(
            encode_entry_bundle(&[b"a", &big]),
            Err(TileError::EntryTooLarge {
                index: 1,
                len: 65536
            })
        );
        // Wrong kind, invalid widths.
        assert!(matches!(
            decode_entry_bundle(&Tile::new(TileKind::Hash(0), 0, 3).unwrap(), &good),
            Err(TileError::WrongKind { .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&t(0), b""),
            Err(TileError::InvalidTile { .. })
        ));
        assert!(matches!(
            decode_entry_bundle(&t(257), &good),
            Err(TileError::InvalidTile { .. })
        ));
    }

    #[test]
    fn hash_tile_errors() {
        let t = Tile {
            kind: TileKind::Hash(0),
            index: 0,
            width: 2,
        };
        let data = encode_hash_tile(&[merkle::leaf_hash(b"a"), merkle::leaf_hash(b"b")]);
        assert_eq!(decode_hash_tile(&t, &data).unwrap().len(), 2);
        for bad in [
            &data[..63],
            &data[..32],
            &[][..],
            &[data.clone(), vec![0]].concat(),
        ] {
            assert!(matches!(
                decode_hash_tile(&t, bad),
                Err(TileError::WrongLength { expected: 64, .. })
            ));
        }
        let e = Tile {
            kind: TileKind::Entries,
            ..t
        };
        assert!(matches!(
            decode_hash_tile(&e, &data),
            Err(TileError::WrongKind { .. })
        ));
        let l64 = Tile {
            kind: TileKind::Hash(64),
            ..t
        };
        assert!(matches!(
            decode_hash_tile(&l64, &data),
            Err(TileError::InvalidTile { .. })
        ));
    }

    #[test]
    fn tile_for_node_examples() {
        let h = |l, i, w| Tile {
            kind: TileKind::Hash(l),
            index: i,
            width: w,
        };
        assert_eq!(tile_for_node(Node::new(0, 0), 0), None);
        assert_eq!(tile_for_node(Node::new(0, 0), 1), Some((h(0, 0, 1), 0..1)));
        assert_eq!(
            tile_for_node(Node::new(3, 1), 20),
            Some((h(0, 0, 20), 8..16))
        );
        assert_eq!(tile_for_node(Node::new(3, 2), 20), None);
        assert_eq!(
            tile_for_node(Node::new(7, 1), 256),
            Some((h(0, 0, 256), 128..256))
        );
        assert_eq!(tile_for_node(Node::new(8, 0), 255), None);
        assert_eq!(
            tile_for_node(Node::new(8, 0), 256),
            Some((h(1, 0, 1), 0..1))
        );
        assert_eq!(
            tile_for_node(Node::new(9, 1), 70000),
            Some((h(1, 0, 256), 2..4))
        );
        assert_eq!(
            tile_for_node(Node::new(0, 69999), 70000),
            Some((h(0, 273, 112), 111..112))
        );
        assert_eq!(
            tile_for_node(Node::new(16, 0), 70000),
            Some((h(2, 0, 1), 0..1))
        );
        assert_eq!(
            tile_for_node(Node::new(63, 0), u64::MAX),
            Some((h(7, 0, 255), 0..128))
        );
        assert_eq!(
            tile_for_node(Node::new(62, 1), u64::MAX),
            Some((h(7, 0, 255), 64..128))
        );
        assert_eq!(
            tile_for_node(Node::new(0, u64::MAX - 1), u64::MAX).map(|x| x.1),
            Some(254..255)
        );
        assert_eq!(tile_for_node(Node::new(64, 0), u64::MAX), None);
        assert_eq!(tile_for_node(Node::new(255, 0), u64::MAX), None);
        // Every complete node of small trees maps into a tile that exists at that size.
        for size in [1u64, 255, 256, 257, 511, 512, 65535, 65536, 70000] {
            let tiles: BTreeSet<Tile> = hash_tiles(size).collect();
            for level in 0..20u8 {
                let n = size >> level;
                for index in [0, n / 2, n.saturating_sub(1), n] {
                    let got = tile_for_node(Node::new(level, index), size);
                    assert_eq!(got.is_some(), index < n, "({level},{index}) at {size}");
                    if let Some((t, r)) = got {
                        assert!(tiles.contains(&t) && r.end <= usize::from(t.width));
                    }
                }
            }
        }
        assert_eq!(
            entry_bundle_for_index(300, 70000),
            Some((Tile::new(TileKind::Entries, 1, 256).unwrap(), 44))
        );
        assert_eq!(
            entry_bundle_for_index(69999, 70000),
            Some((Tile::new(TileKind::Entries, 273, 112).unwrap(), 111))
        );
        assert_eq!(entry_bundle_for_index(70000, 70000), None);
    }

    #[test]
    fn counts_and_right_edge() {
        for size in [0u64, 1, 255, 256, 257, 65535, 65536, 65537, 70000, 1 << 20] {
            let list = hash_tiles_for_size(size);
            assert_eq!(hash_tile_count(size), list.len() as u64);
            let bundles: Vec<Tile> = entry_bundles_for_size(size).collect();
            assert_eq!(bundles.len() as u64, size.div_ceil(256));
            let partials: Vec<Tile> = list
                .iter()
                .chain(&bundles)
                .copied()
                .filter(|t| !t.is_full())
                .collect();
            assert_eq!(right_edge_tiles(size), partials);
        }
        // Huge trees: counted, not listed.
        assert_eq!(hash_tile_count(u64::MAX), {
            (0..8)
                .map(|l| (u64::MAX >> (8 * l)).div_ceil(256))
                .sum::<u64>()
        });
        assert_eq!(
            paths(&right_edge_tiles(u64::MAX))[..],
            [
                "tile/0/x072/x057/x594/x037/x927/935.p/255",
                "tile/1/x281/x474/x976/x710/655.p/255",
                "tile/2/x001/x099/x511/x627/775.p/255",
                "tile/3/x004/x294/x967/295.p/255",
                "tile/4/x016/x777/215.p/255",
                "tile/5/x065/535.p/255",
                "tile/6/255.p/255",
                "tile/7/000.p/255",
                "tile/entries/x072/x057/x594/x037/x927/935.p/255",
            ]
        );
        let mut it = hash_tiles(u64::MAX);
        assert_eq!(it.next().map(|t| t.path()), Some("tile/0/000".to_string()));
    }

    fn small_or_boundary(n: u64) -> bool {
        n <= 3000 || n == 70_001
    }

    /// Grows a log across the 256 and 65536 boundaries, checking after every batch the tile
    /// set, every tile's contents, the root (three ways), proofs through TileHashReader, and
    /// how many tiles were read.
    #[test]
    fn append_grows_log() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut store = Store::default();
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut leaves: Vec<Hash> = Vec::new();
        let mut oracle = Levels::default();
        let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
        let mut batches: Vec<u64> = vec![0, 1, 1, 6, 247, 1, 255, 256, 1, 0, 300];
        while batches.iter().sum::<u64>() < 3000 {
            batches.push(rng.below(400) + 1);
        }
        let sum = batches.iter().sum::<u64>();
        batches.extend([65530 - sum, 5, 1, 1, 255, 256, 511]);
        let sum = batches.iter().sum::<u64>();
        batches.push(69_990 - sum);
        batches.extend([10, 0, 1]);

        for &batch in &batches {
            let old = entries.len() as u64;
            for k in 0..batch {
                let e = (old + k).to_string().into_bytes();
                leaves.push(merkle::leaf_hash(&e));
                oracle.push(*leaves.last().unwrap());
                entries.push(e);
            }
            let refs: Vec<&[u8]> = entries[old as usize..].iter().map(Vec::as_slice).collect();
            store.take_reads();
            let a = append(&store, old, &refs).unwrap();
            let n = a.new_size;
            assert_eq!(n, entries.len() as u64);

            // Reads: only right-edge tiles of the old size, each once: O(levels).
            let reads = store.take_reads();
            let edge = right_edge_tiles(old);
            assert!(
                reads.iter().all(|t| edge.contains(t)),
                "{old}+{batch}: read {:?}",
                paths(&reads)
            );
            assert_eq!(reads.iter().collect::<BTreeSet<_>>().len(), reads.len());
            assert!(reads.len() <= 9);
            // Deletes: exactly the old right-edge partials that no longer exist.
            let want: BTreeSet<Tile> = hash_tiles(n).chain(entry_bundles_for_size(n)).collect();
            let superseded: Vec<Tile> =
                edge.iter().copied().filter(|t| !want.contains(t)).collect();
            assert_eq!(a.deletes, superseded, "{old}+{batch}");
            if batch == 0 {
                assert!(a.writes.is_empty() && a.deletes.is_empty());
            }
            store.apply(&a);

            // Tile set and contents.
            assert_eq!(
                store.tiles.keys().copied().collect::<BTreeSet<_>>(),
                want,
                "size {n}"
            );
            for (t, data) in &store.tiles {
                let lo = (t.index * 256) as usize;
                let hi = lo + usize::from(t.width);
                match t.kind {
                    TileKind::Entries => {
                        let got = decode_entry_bundle(t, data).unwrap();
                        assert!(got
                            .into_iter()
                            .eq(entries[lo..hi].iter().map(Vec::as_slice)));
                    }
                    TileKind::Hash(l) => {
                        let got = decode_hash_tile(t, data).unwrap();
                        assert_eq!(
                            got[..],
                            oracle.0[8 * usize::from(l)][lo..hi],
                            "{}",
                            t.path()
                        );
                    }
                }
            }

            // Root three ways, and through the tile reader.
            // The O(n) references run on small trees and at the big boundaries (debug builds
            // hash slowly); the incremental oracle checks every size.
            assert_eq!(a.root, merkle::tree_root(n, &oracle).unwrap());
            if n == 0 {
                assert_eq!(a.root, merkle::empty_root());
            } else if small_or_boundary(n) {
                assert_eq!(a.root, merkle::subtree_root(&leaves));
                assert_eq!(a.root, rs_merkle_root(&leaves));
            }
            let tr = TileHashReader::new(&store, n);
            assert_eq!(merkle::tree_root(n, &tr).unwrap(), a.root);
            roots.insert(n, a.root);
            if n == 0 {
                continue;
            }

            // Inclusion proofs in the new tree.
            let small = n <= 3000;
            let mut idx = vec![n - 1, rng.below(n), old.min(n - 1)];
            if small {
                idx.extend([0, n / 2, rng.below(n)]);
            }
            idx.dedup();
            for i in idx {
                store.take_reads();
                let p = merkle::inclusion_proof(i, n, &tr).unwrap();
                let reads = store.take_reads();
                assert_eq!(
                    reads.iter().collect::<BTreeSet<_>>().len(),
                    reads.len(),
                    "a tile read twice"
                );
                assert_eq!(p, merkle::inclusion_proof(i, n, &oracle).unwrap());
                if small {
                    assert_eq!(
                        p,
                        merkle::inclusion_proof(i, n, &merkle::LeafHashes(&leaves)).unwrap()
                    );
                }
                merkle::verify_inclusion(i, n, &leaves[i as usize], &p, &a.root).unwrap();
            }

            // Consistency proofs from the previous size and a random earlier one.
            let sizes: Vec<u64> = roots.keys().copied().filter(|&m| m > 0).collect();
            let m2 = sizes[rng.below(sizes.len() as u64) as usize];
            for m in [old, m2, 1, n] {
                if m == 0 || (!small && (m == 1 || m == n)) {
                    continue;
                }
                store.take_reads();
                let p = merkle::consistency_proof(m, n, &tr).unwrap();
                let reads = store.take_reads();
                assert_eq!(
                    reads.iter().collect::<BTreeSet<_>>().len(),
                    reads.len(),
                    "a tile read twice"
                );
                assert_eq!(p, merkle::consistency_proof(m, n, &oracle).unwrap());
                if small {
                    assert_eq!(
                        p,
                        merkle::consistency_proof(m, n, &merkle::LeafHashes(&leaves)).unwrap()
                    );
                }
                merkle::verify_consistency(m, n, &roots[&m], &a.root, &p).unwrap();
            }

            // An older tree served from today's tiles (superseded partials are gone).
            let old_reader = TileHashReader::with_store_size(&store, m2, n).unwrap();
            assert_eq!(merkle::tree_root(m2, &old_reader).unwrap(), roots[&m2]);
            let i = rng.below(m2);
            let p = merkle::inclusion_proof(i, m2, &old_reader).unwrap();
            merkle::verify_inclusion(i, m2, &leaves[i as usize], &p, &roots[&m2]).unwrap();
        }
        assert_eq!(entries.len(), 70_001);

        // One expensive cross-check at full size against the reference reader.
        let n = entries.len() as u64;
        let tr = TileHashReader::new(&store, n);
        let i = 65535;
        assert_eq!(
            merkle::inclusion_proof(i, n, &tr).unwrap(),
            merkle::inclusion_proof(i, n, &merkle::LeafHashes(&leaves)).unwrap()
        );
        assert_eq!(
            merkle::consistency_proof(65537, n, &tr).unwrap(),
            merkle::consistency_proof(65537, n, &merkle::LeafHashes(&leaves)).unwrap()
        );
    }

    #[test]
    fn append_errors() {
        let big = vec![0u8; MAX_ENTRY_SIZE + 1];
        let store = Store::default();
        assert_eq!(
            append(&store, 0, &[b"ok", &big]),
            Err(TileError::EntryTooLarge {
                index: 1,
                len: MAX_ENTRY_SIZE + 1
            })
        );
        assert!(
            store.reads.borrow().is_empty(),
            "nothing read before validation"
        );
        assert!(append(&store, 0, &[&big[1..]]).is_ok());
        assert!(matches!(
            append(&store, u64::MAX, &[b"x"]),
            Err(TileError::SizeOverflow { .. })
        ));
        // The right edge of the claimed old size is missing.
        assert!(matches!(
            append(&store, 5, &[b"x"]),
            Err(TileError::MissingTile { .. })
        ));
        assert!(matches!(
            append(&store, 5, &[]),
            Err(TileError::MissingTile { .. })
        ));
        // A right-edge tile of the wrong length.
        let mut s = Store::default();
        s.apply(&append(&s, 0, &[b"a", b"b", b"c"]).unwrap());
        let t = Tile::new(TileKind::Hash(0), 0, 3).unwrap();
        s.tiles.get_mut(&t).unwrap().pop();
        assert!(matches!(
            append(&s, 3, &[b"d"]),
            Err(TileError::WrongLength { .. })
        ));
        let b = Tile::new(TileKind::Entries, 0, 3).unwrap();
        s.tiles.get_mut(&b).unwrap().push(0);
        assert!(matches!(
            append(&s, 3, &[b"d"]),
            Err(TileError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn tile_hash_reader_rejects_bad_tiles() {
        let mut s = Store::default();
        let entries: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        s.apply(&append(&s, 0, &refs).unwrap());
        let full = Tile::new(TileKind::Hash(0), 0, 256).unwrap();
        let partial = Tile::new(TileKind::Hash(0), 1, 44).unwrap();

        // Truncated and over-long tiles: errors, not panics.
        for (t, cut) in [
            (full, true),
            (partial, true),
            (full, false),
            (partial, false),
        ] {
            let mut bad = Store {
                tiles: s.tiles.clone(),
                ..Store::default()
            };
            let data = bad.tiles.get_mut(&t).unwrap();
            if cut {
                data.truncate(data.len() - 1);
            } else {
                data.extend_from_slice(&[0; 32]);
            }
            let r = TileHashReader::new(&bad, 300);
            let leaf = if t == full { 5 } else { 290 };
            let e = merkle::inclusion_proof(leaf, 300, &r).unwrap_err();
            assert!(
                matches!(&e, MerkleError::MissingNode { reason, .. } if reason.contains("expected")),
                "{e:?}"
            );
        }

        // Missing tiles and nodes outside the tree.
        let mut gone = Store {
            tiles: s.tiles.clone(),
            ..Store::default()
        };
        gone.tiles.remove(&partial);
        let r = TileHashReader::new(&gone, 300);
        assert!(matches!(
            merkle::tree_root(300, &r),
            Err(MerkleError::MissingNode { .. })
        ));
        let r = TileHashReader::new(&s, 300);
        let e = r.read_hashes(&[Node::new(0, 300)]).unwrap_err();
        assert!(
            matches!(&e, MerkleError::MissingNode { reason, .. } if reason.contains("outside")),
            "{e:?}"
        );
        assert!(r.read_hashes(&[Node::new(64, 0)]).is_err());
        assert!(matches!(
            TileHashReader::with_store_size(&s, 301, 300),
            Err(TileError::StoreTooSmall { .. })
        ));

        // Fallback: the partial for size 200 is gone, the full tile serves it.
        let r = TileHashReader::new(&s, 200);
        let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
        assert_eq!(
            merkle::tree_root(200, &r).unwrap(),
            merkle::subtree_root(&leaves[..200])
        );
        let reads = s.take_reads();
        assert_eq!(paths(&reads), ["tile/0/000.p/200", "tile/0/000"]);
    }
}
