//! Git pack files (version 2), written whole-object, and their index (version 2): what an
//! append needs and no more.
//!
//! A pack is `"PACK"`, the version (2) and the object count as big-endian u32s, then each
//! object as a header (type in bits 4–6 of the first byte, size as a little-endian base-128
//! varint whose first group is the low 4 bits of the first byte) followed by the zlib stream of
//! its content, and last the SHA-1 of everything before it. No deltas: appends store new
//! objects whole and `git gc` deltifies them later.
//!
//! Its index is `"\xfftOc"`, version 2, a fan-out table of 256 big-endian u32s (entry `b`: how
//! many object names start with a byte ≤ `b`), the sorted object names, the CRC-32 of each
//! object's packed bytes (header and zlib stream), each object's offset in the pack as a u32
//! (with the top bit set, an index into a following table of u64 offsets, used for offsets over
//! 2^31 − 1), the pack's trailing SHA-1 and the SHA-1 of the index before it. Byte for byte what
//! `git index-pack` writes for the same pack. See git's `Documentation/gitformat-pack.txt`.
//!
//! Writing the index here, rather than with libgit2's indexer, saves inflating and re-hashing
//! every object just written: the caller already knows each object's name.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::{write::ZlibEncoder, Compression};
use git2::{ObjectType, Oid};
use sha1::{Digest as _, Sha1};

/// zlib level of appended objects: the fastest (`git gc` later deltifies what it can).
const LEVEL: u32 = 1;

/// A pack in memory: its bytes (with the trailing SHA-1), and where each object starts and the
/// CRC-32 of its packed bytes, in the order given.
struct Pack {
    bytes: Vec<u8>,
    offsets: Vec<u64>,
    crcs: Vec<u32>,
}

fn build_pack(objects: &[(ObjectType, &[u8])]) -> std::io::Result<Pack> {
    let count = u32::try_from(objects.len())
        .map_err(|_| std::io::Error::other("too many objects for one pack"))?;
    let bodies: Vec<std::io::Result<Vec<u8>>> = objects
        .iter()
        .map(|(kind, data)| {
            let mut out = object_header(*kind, data.len())?;
            let mut z = ZlibEncoder::new(out.split_off(out.len()), Compression::new(LEVEL));
            z.write_all(data)?;
            let body = z.finish()?;
            out.extend_from_slice(&body);
            Ok(out)
        })
        .collect();
    let mut bytes =
        Vec::with_capacity(12 + bodies.iter().flatten().map(Vec::len).sum::<usize>() + 20);
    bytes.extend_from_slice(b"PACK");
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&count.to_be_bytes());
    let mut offsets = Vec::with_capacity(objects.len());
    let mut crcs = Vec::with_capacity(objects.len());
    for body in bodies {
        let body = body?;
        offsets.push(bytes.len() as u64);
        crcs.push(crc32fast::hash(&body));
        bytes.extend_from_slice(&body);
    }
    let digest = Sha1::digest(&bytes);
    bytes.extend_from_slice(&digest);
    Ok(Pack {
        bytes,
        offsets,
        crcs,
    })
}

/// Offsets above this go to the index's table of 64-bit offsets (as `git index-pack` does).
const MAX_OFFSET32: u64 = 0x7fff_ffff;

/// The version-2 index of `pack`, whose objects are named `names` (in pack order).
fn build_index(pack: &Pack, names: &[Oid]) -> std::io::Result<Vec<u8>> {
    let sum = pack
        .bytes
        .len()
        .checked_sub(20)
        .and_then(|at| pack.bytes.get(at..))
        .ok_or_else(|| std::io::Error::other("a pack without its checksum"))?;
    index_bytes(names, &pack.crcs, &pack.offsets, sum)
}

/// The version-2 index of a pack whose trailing checksum is `pack_sum` and whose objects are
/// named `names`, with those CRC-32s and offsets (all three in the same order).
fn index_bytes(
    names: &[Oid],
    crcs: &[u32],
    offsets: &[u64],
    pack_sum: &[u8],
) -> std::io::Result<Vec<u8>> {
    if names.len() != offsets.len() || names.len() != crcs.len() {
        return Err(std::io::Error::other("one name per packed object needed"));
    }
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_unstable_by(|&a, &b| names[a].as_bytes().cmp(names[b].as_bytes()));
    if order.windows(2).any(|w| names[w[0]] == names[w[1]]) {
        return Err(std::io::Error::other("an object is packed twice"));
    }
    let mut idx = Vec::with_capacity(8 + 1024 + names.len() * 28 + 40);
    idx.extend_from_slice(b"\xfftOc");
    idx.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for name in names {
        fanout[usize::from(name.as_bytes()[0])] += 1;
    }
    let mut running = 0u32;
    for n in fanout {
        running += n;
        idx.extend_from_slice(&running.to_be_bytes());
    }
    for &i in &order {
        idx.extend_from_slice(names[i].as_bytes());
    }
    for &i in &order {
        idx.extend_from_slice(&crcs[i].to_be_bytes());
    }
    let mut large = Vec::new();
    for &i in &order {
        let offset = offsets[i];
        if offset > MAX_OFFSET32 {
            let slot =
                u32::try_from(large.len()).map_err(|_| std::io::Error::other("pack too large"))?;
            idx.extend_from_slice(&(slot | 0x8000_0000).to_be_bytes());
            large.push(offset);
        } else {
            idx.extend_from_slice(&(offset as u32).to_be_bytes());
        }
    }
    for offset in large {
        idx.extend_from_slice(&offset.to_be_bytes());
    }
    idx.extend_from_slice(pack_sum);
    let digest = Sha1::digest(&idx);
    idx.extend_from_slice(&digest);
    Ok(idx)
}

/// Writes `objects` (name, type, content; each name must be the object's Git name) as a pack
/// and its index in `pack_dir` (a repository's `objects/pack`), durably: [`prepare_pack`], then
/// [`PendingPack::publish`]. Returns the pack's path.
pub fn write_pack(
    pack_dir: &Path,
    objects: &[(Oid, ObjectType, &[u8])],
) -> std::io::Result<PathBuf> {
    prepare_pack(pack_dir, objects)?.publish()
}

/// A pack and its index written and fsynced under temporary names in the pack directory,
/// invisible to git until published; dropped unpublished, both files are removed.
pub struct PendingPack {
    dir: PathBuf,
    hex: String,
    pack: tempfile::NamedTempFile,
    idx: tempfile::NamedTempFile,
}

/// Builds the pack of `objects` and its index and writes both under temporary names in
/// `pack_dir`, fsynced. `tmp_pack_` files are what `git prune` removes if a crash leaves one.
pub fn prepare_pack(
    pack_dir: &Path,
    objects: &[(Oid, ObjectType, &[u8])],
) -> std::io::Result<PendingPack> {
    let parts: Vec<(ObjectType, &[u8])> = objects.iter().map(|(_, k, d)| (*k, *d)).collect();
    let names: Vec<Oid> = objects.iter().map(|(o, _, _)| *o).collect();
    let pack = build_pack(&parts)?;
    let idx = build_index(&pack, &names)?;
    let hex = hex::encode(&pack.bytes[pack.bytes.len() - 20..]);
    // Git creates `objects/pack` on demand too; a repository may lack it.
    std::fs::create_dir_all(pack_dir)?;
    let temp = |data: &[u8]| -> std::io::Result<tempfile::NamedTempFile> {
        let mut f = tempfile::Builder::new()
            .prefix("tmp_pack_")
            .tempfile_in(pack_dir)?;
        f.write_all(data)?;
        Ok(f)
    };
    let (pack_file, idx_file) = (temp(&pack.bytes)?, temp(&idx)?);
    // The two fsyncs wait on the disk, not the CPU: side by side they take the time of one.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| pack_file.as_file().sync_all());
        let b = idx_file.as_file().sync_all();
        (a.join(), b)
    });
    a.map_err(|_| std::io::Error::other("fsync thread panicked"))??;
    b?;
    Ok(PendingPack {
        dir: pack_dir.to_path_buf(),
        hex,
        pack: pack_file,
        idx: idx_file,
    })
}

impl PendingPack {
    /// Renames the pack and then its index to `pack-<sha1>.{pack,idx}` and fsyncs the
    /// directory. Git and libgit2 find packs by their index, so nothing is visible before the
    /// last rename. Returns the pack's path.
    pub fn publish(self) -> std::io::Result<PathBuf> {
        let pack_path = self.dir.join(format!("pack-{}.pack", self.hex));
        self.pack.persist(&pack_path).map_err(|e| e.error)?;
        self.idx
            .persist(self.dir.join(format!("pack-{}.idx", self.hex)))
            .map_err(|e| e.error)?;
        crate::fsutil::sync_dir(&self.dir)?;
        Ok(pack_path)
    }
}

/// The type-and-size header of a whole (undeltified) object.
fn object_header(kind: ObjectType, size: usize) -> std::io::Result<Vec<u8>> {
    let code: u8 = match kind {
        ObjectType::Commit => 1,
        ObjectType::Tree => 2,
        ObjectType::Blob => 3,
        ObjectType::Tag => 4,
        _ => return Err(std::io::Error::other("not a packable object type")),
    };
    let mut size = size as u64;
    let mut out = vec![(code << 4) | (size & 0x0f) as u8];
    size >>= 4;
    while size > 0 {
        if let Some(last) = out.last_mut() {
            *last |= 0x80;
        }
        out.push((size & 0x7f) as u8);
        size >>= 7;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Merging packs.

/// Why packs were not merged. Nothing is deleted when a merge fails.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// The pack holds deltas, whose offsets a merge here does not rewrite (`git repack` can).
    #[error("{}: holds deltas", .0.display())]
    Deltas(PathBuf),
}

fn corrupt(path: &Path, reason: impl Into<String>) -> MergeError {
    MergeError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Largest pack index read (about 38 million objects; an append's packs hold thousands).
const MAX_INDEX_BYTES: u64 = 1 << 30;

/// A version-2 pack index, parsed and checked: names (sorted), CRC-32s and offsets, and the
/// checksum of the pack it indexes.
struct IndexEntries {
    names: Vec<Oid>,
    crcs: Vec<u32>,
    offsets: Vec<u64>,
    pack_sum: [u8; 20],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map(u32::from_be_bytes)
}

/// Parses a version-2 pack index strictly: its size follows from the fan-out table, names are
/// strictly increasing and agree with the fan-out, 64-bit offsets are referenced in range, and
/// the trailing SHA-1 matches.
fn parse_index(idx: &[u8]) -> Result<IndexEntries, String> {
    if idx.get(..8) != Some(b"\xfftOc\x00\x00\x00\x02".as_slice()) {
        return Err("not a version-2 pack index".into());
    }
    let mut fanout = [0u32; 256];
    for (b, f) in fanout.iter_mut().enumerate() {
        *f = be32(idx, 8 + 4 * b).ok_or("short fan-out table")?;
    }
    if fanout.windows(2).any(|w| w[0] > w[1]) {
        return Err("fan-out table decreases".into());
    }
    let n = fanout[255] as usize;
    let names_at = 8 + 1024;
    let crcs_at = n
        .checked_mul(20)
        .and_then(|x| x.checked_add(names_at))
        .ok_or("too many objects")?;
    let offsets_at = crcs_at + 4 * n;
    let large_at = offsets_at + 4 * n;
    if idx.len() < large_at + 40 {
        return Err("shorter than its fan-out table says".into());
    }
    let mut large = 0usize;
    for i in 0..n {
        if be32(idx, offsets_at + 4 * i).ok_or("short offsets")? & 0x8000_0000 != 0 {
            large += 1;
        }
    }
    if idx.len() != large_at + 8 * large + 40 {
        return Err("not the size its tables give".into());
    }
    let body = idx.len() - 20;
    if Sha1::digest(&idx[..body]).as_slice() != &idx[body..] {
        return Err("index checksum mismatch".into());
    }
    let mut names = Vec::with_capacity(n);
    let mut counts = [0u32; 256];
    for i in 0..n {
        let at = names_at + 20 * i;
        let name = Oid::from_bytes(&idx[at..at + 20]).map_err(|e| e.to_string())?;
        if names
            .last()
            .is_some_and(|last: &Oid| last.as_bytes() >= name.as_bytes())
        {
            return Err("object names out of order".into());
        }
        counts[usize::from(name.as_bytes()[0])] += 1;
        names.push(name);
    }
    let mut running = 0u32;
    for (c, f) in counts.iter().zip(fanout) {
        running += c;
        if running != f {
            return Err("fan-out table disagrees with the names".into());
        }
    }
    let crcs = (0..n)
        .map(|i| be32(idx, crcs_at + 4 * i).ok_or("short CRC table"))
        .collect::<Result<Vec<u32>, _>>()?;
    let mut offsets = Vec::with_capacity(n);
    for i in 0..n {
        let w = be32(idx, offsets_at + 4 * i).ok_or("short offsets")?;
        if w & 0x8000_0000 == 0 {
            offsets.push(u64::from(w));
            continue;
        }
        let slot = (w & 0x7fff_ffff) as usize;
        if slot >= large {
            return Err("64-bit offset slot out of range".into());
        }
        let at = large_at + 8 * slot;
        let big = idx
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .ok_or("short 64-bit offsets")?;
        offsets.push(u64::from_be_bytes(big));
    }
    let mut pack_sum = [0u8; 20];
    pack_sum.copy_from_slice(&idx[body - 20..body]);
    Ok(IndexEntries {
        names,
        crcs,
        offsets,
        pack_sum,
    })
}

/// The `.pack` files of `pack_dir` a geometric merge should combine, smallest first: sorted by
/// size, the smallest packs while the next one is less than twice their total. Each byte is
/// then rewritten O(log n) times over a log's life, and the packs left hold sizes that at least
/// double. Only packs with an index and without a `.keep`, `.promisor`, `.mtimes` or `.bitmap`
/// file are candidates (git's own repacks leave those alone). `None` when the directory has a
/// multi-pack index, which a merge here would leave stale.
pub fn geometric_rollup(pack_dir: &Path) -> std::io::Result<Option<Vec<PathBuf>>> {
    if pack_dir.join("multi-pack-index").exists() {
        return Ok(None);
    }
    let mut packs = Vec::new();
    for entry in std::fs::read_dir(pack_dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "pack") {
            continue;
        }
        let pinned = ["keep", "promisor", "mtimes", "bitmap"]
            .iter()
            .any(|x| path.with_extension(x).exists());
        if pinned || !path.with_extension("idx").is_file() {
            continue;
        }
        let size = std::fs::metadata(&path)?.len();
        packs.push((size, path));
    }
    packs.sort();
    let mut total = 0u64;
    let mut take = 0;
    for (size, _) in &packs {
        if take > 0 && *size >= total.saturating_mul(2) {
            break;
        }
        total = total.saturating_add(*size);
        take += 1;
    }
    if take < 2 {
        return Ok(Some(Vec::new()));
    }
    Ok(Some(packs.into_iter().take(take).map(|(_, p)| p).collect()))
}

/// A writer that keeps the SHA-1 of what went through it and how much.
struct Hashing<W> {
    inner: W,
    sha: Sha1,
    written: u64,
}

impl<W: std::io::Write> Hashing<W> {
    fn put(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(data)?;
        self.sha.update(data);
        self.written += data.len() as u64;
        Ok(())
    }
}

/// What is copied from one source pack.
struct Source {
    path: PathBuf,
    index: IndexEntries,
    /// Object positions (in `index`) by offset.
    order: Vec<usize>,
    /// Whether each object (in `order`) is copied: not when an earlier source has it.
    copy: Vec<bool>,
}

/// Merges `packs` (`.pack` files in `pack_dir`, each with its `.idx`) into one pack, published
/// with its index before the old packs are deleted, so that every object stays findable
/// throughout; returns the new pack's path. Objects are copied as they are stored (type
/// header and zlib stream, checked against the index's CRC-32), never inflated; an object in
/// several packs is copied once. Packs holding deltas are refused ([`MergeError::Deltas`]):
/// appends write none, and `git repack` can merge them. Memory is a copy buffer and about 32
/// bytes per object; a failed merge removes its temporary files and deletes nothing.
pub fn merge_packs(pack_dir: &Path, packs: &[PathBuf]) -> Result<PathBuf, MergeError> {
    let mut seen = std::collections::HashSet::new();
    let mut sources = Vec::with_capacity(packs.len());
    let mut count = 0u32;
    for path in packs {
        let idx_path = path.with_extension("idx");
        let len = std::fs::metadata(&idx_path)?.len();
        if len > MAX_INDEX_BYTES {
            return Err(corrupt(&idx_path, "index too large"));
        }
        let index = parse_index(&std::fs::read(&idx_path)?).map_err(|r| corrupt(&idx_path, r))?;
        let mut order: Vec<usize> = (0..index.names.len()).collect();
        order.sort_unstable_by_key(|&i| index.offsets[i]);
        let copy: Vec<bool> = order.iter().map(|&i| seen.insert(index.names[i])).collect();
        let copied = copy.iter().filter(|c| **c).count();
        count = u32::try_from(copied)
            .ok()
            .and_then(|c| count.checked_add(c))
            .ok_or_else(|| corrupt(path, "too many objects for one pack"))?;
        sources.push(Source {
            path: path.clone(),
            index,
            order,
            copy,
        });
    }
    drop(seen);
    let mut names = Vec::with_capacity(count as usize);
    let mut crcs = Vec::with_capacity(count as usize);
    let mut offsets = Vec::with_capacity(count as usize);
    let mut pack_file = tempfile::Builder::new()
        .prefix("tmp_pack_")
        .tempfile_in(pack_dir)?;
    let sum = {
        let mut out = Hashing {
            inner: std::io::BufWriter::with_capacity(1 << 20, pack_file.as_file_mut()),
            sha: Sha1::new(),
            written: 0,
        };
        out.put(b"PACK")?;
        out.put(&2u32.to_be_bytes())?;
        out.put(&count.to_be_bytes())?;
        for source in &sources {
            copy_objects(source, &mut out, &mut names, &mut crcs, &mut offsets)?;
        }
        let sum: [u8; 20] = out.sha.clone().finalize().into();
        out.inner.write_all(&sum)?;
        out.inner.flush()?;
        sum
    };
    let idx = index_bytes(&names, &crcs, &offsets, &sum)?;
    let mut idx_file = tempfile::Builder::new()
        .prefix("tmp_pack_")
        .tempfile_in(pack_dir)?;
    idx_file.write_all(&idx)?;
    pack_file.as_file().sync_all()?;
    idx_file.as_file().sync_all()?;
    let published = PendingPack {
        dir: pack_dir.to_path_buf(),
        hex: hex::encode(sum),
        pack: pack_file,
        idx: idx_file,
    }
    .publish()?;
    for source in &sources {
        // The merged pack may be one of its sources, when the others held only copies.
        if source.path == published {
            continue;
        }
        // The index first: git and libgit2 find packs by it.
        for ext in ["idx", "pack", "rev"] {
            match std::fs::remove_file(source.path.with_extension(ext)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
    }
    crate::fsutil::sync_dir(pack_dir)?;
    Ok(published)
}

/// Copies `source`'s objects that it should (in pack order) to `out`, checking each one's
/// CRC-32 against the index and that none is a delta, and notes their names, CRC-32s and new
/// offsets.
fn copy_objects<W: std::io::Write>(
    source: &Source,
    out: &mut Hashing<W>,
    names: &mut Vec<Oid>,
    crcs: &mut Vec<u32>,
    offsets: &mut Vec<u64>,
) -> Result<(), MergeError> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let path = &source.path;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let index = &source.index;
    let mut head = [0u8; 12];
    file.read_exact(&mut head)?;
    if &head[..8] != b"PACK\x00\x00\x00\x02"
        || u32::from_be_bytes([head[8], head[9], head[10], head[11]]) as usize != index.names.len()
        || len < 32
    {
        return Err(corrupt(path, "not a version-2 pack of its index's objects"));
    }
    let mut trailer = [0u8; 20];
    file.seek(SeekFrom::Start(len - 20))?;
    file.read_exact(&mut trailer)?;
    if trailer != index.pack_sum {
        return Err(corrupt(path, "not the pack its index names"));
    }
    file.seek(SeekFrom::Start(12))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 12u64;
    for (k, (&i, &copy)) in source.order.iter().zip(&source.copy).enumerate() {
        let start = index.offsets[i];
        let end = match source.order.get(k + 1) {
            Some(&next) => index.offsets[next],
            None => len - 20,
        };
        if start != at || end <= start {
            return Err(corrupt(path, "objects do not tile the pack"));
        }
        let new_offset = out.written;
        let mut crc = crc32fast::Hasher::new();
        let mut left = end - start;
        let mut first = true;
        while left > 0 {
            let take = left.min(buf.len() as u64) as usize;
            let chunk = &mut buf[..take];
            reader.read_exact(chunk)?;
            if first {
                // Types 1-4 are whole objects; 6 and 7 are deltas.
                if !(1..=4).contains(&((chunk[0] >> 4) & 7)) {
                    return Err(MergeError::Deltas(path.clone()));
                }
                first = false;
            }
            crc.update(chunk);
            if copy {
                out.put(chunk)?;
            }
            left -= take as u64;
        }
        let crc = crc.finalize();
        if crc != index.crcs[i] {
            return Err(corrupt(
                path,
                format!("object {} fails its CRC", index.names[i]),
            ));
        }
        if copy {
            names.push(index.names[i]);
            crcs.push(crc);
            offsets.push(new_offset);
        }
        at = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(object_header(ObjectType::Blob, 0).unwrap(), [0x30]);
        assert_eq!(object_header(ObjectType::Blob, 15).unwrap(), [0x3f]);
        assert_eq!(object_header(ObjectType::Blob, 16).unwrap(), [0xb0, 0x01]);
        assert_eq!(
            object_header(ObjectType::Commit, 300).unwrap(),
            [0x9c, 0x12]
        );
        assert!(object_header(ObjectType::Any, 1).is_err());
    }

    /// libgit2's indexer accepts the pack and real git reads every object back.
    #[test]
    fn git_reads_the_pack() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let big: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let objects = vec![
            (ObjectType::Blob, b"hello\n".to_vec()),
            (ObjectType::Blob, big.clone()),
            (ObjectType::Blob, Vec::new()),
        ];
        let parts: Vec<(ObjectType, &[u8])> =
            objects.iter().map(|(k, d)| (*k, d.as_slice())).collect();
        let pack = build_pack(&parts).unwrap();
        let odb = repo.odb().unwrap();
        let mut w = odb.packwriter().unwrap();
        w.write_all(&pack.bytes).unwrap();
        w.commit().unwrap();
        for (_, data) in &objects {
            let oid = git2::Oid::hash_object(ObjectType::Blob, data).unwrap();
            let out = std::process::Command::new("git")
                .arg("--git-dir")
                .arg(dir.path())
                .args(["cat-file", "blob", &oid.to_string()])
                .output()
                .unwrap();
            assert!(out.status.success());
            assert_eq!(&out.stdout, data);
        }
        let fsck = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(dir.path())
            .args(["fsck", "--strict"])
            .output()
            .unwrap();
        assert!(
            fsck.status.success(),
            "{}",
            String::from_utf8_lossy(&fsck.stderr)
        );
    }

    fn git(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        std::process::Command::new("git")
            .arg("--git-dir")
            .arg(dir)
            .args(args)
            .output()
            .unwrap()
    }

    /// The pack's index is byte for byte what `git index-pack` writes for it, and
    /// `git verify-pack` accepts the pair.
    fn assert_index_is_gits(git_dir: &Path, pack: &Path) {
        let theirs = git_dir.join("theirs.idx");
        let out = git(
            git_dir,
            &[
                "index-pack",
                "-o",
                theirs.to_str().unwrap(),
                pack.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let idx = pack.with_extension("idx");
        assert_eq!(
            std::fs::read(&idx).unwrap(),
            std::fs::read(&theirs).unwrap()
        );
        let out = git(git_dir, &["verify-pack", idx.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn sample_objects() -> Vec<(Oid, ObjectType, Vec<u8>)> {
        let mut datas: Vec<Vec<u8>> = vec![b"hello\n".to_vec(), Vec::new()];
        datas.push((0..100_000u32).flat_map(|i| i.to_le_bytes()).collect());
        datas.extend((0..300u32).map(|i| format!("blob {i}").into_bytes()));
        datas
            .into_iter()
            .map(|d| {
                let oid = Oid::hash_object(ObjectType::Blob, &d).unwrap();
                (oid, ObjectType::Blob, d)
            })
            .collect()
    }

    /// The index is byte for byte what `git index-pack` writes for the same pack, and git and
    /// libgit2 read every object back from the written pair.
    #[test]
    fn index_equals_git_index_pack() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let objects = sample_objects();
        let refs: Vec<(Oid, ObjectType, &[u8])> = objects
            .iter()
            .map(|(o, k, d)| (*o, *k, d.as_slice()))
            .collect();
        let pack_dir = dir.path().join("objects/pack");
        let pack_path = write_pack(&pack_dir, &refs).unwrap();
        assert_index_is_gits(dir.path(), &pack_path);
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(&pack_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let odb = repo.odb().unwrap();
        odb.refresh().unwrap();
        for (oid, _, data) in &objects {
            assert_eq!(odb.read(*oid).unwrap().data(), data.as_slice());
            let out = git(dir.path(), &["cat-file", "blob", &oid.to_string()]);
            assert_eq!(&out.stdout, data);
        }
    }

    /// A pack dropped before it is published leaves no file behind; a missing pack directory
    /// is created.
    #[test]
    fn unpublished_pack_leaves_nothing() {
        let parent = tempfile::tempdir().unwrap();
        let dir = tempfile::TempDir::new_in(parent.path()).unwrap();
        std::fs::remove_dir(dir.path()).unwrap();
        let objects = sample_objects();
        let refs: Vec<(Oid, ObjectType, &[u8])> = objects
            .iter()
            .map(|(o, k, d)| (*o, *k, d.as_slice()))
            .collect();
        let pending = prepare_pack(dir.path(), &refs).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        drop(pending);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Offsets past 2^31 - 1 go to the 64-bit table, as git writes them.
    #[test]
    fn large_offsets() {
        let mut bytes = vec![0u8; 12];
        bytes.extend_from_slice(&[0xab; 20]);
        let pack = Pack {
            bytes,
            offsets: vec![12, MAX_OFFSET32 + 1, 5 << 32],
            crcs: vec![1, 2, 3],
        };
        let names: Vec<Oid> = [0x30u8, 0x10, 0x20]
            .iter()
            .map(|&b| Oid::from_bytes(&[b; 20]).unwrap())
            .collect();
        let idx = build_index(&pack, &names).unwrap();
        let n = 3;
        let base = 8 + 1024 + n * 20 + n * 4;
        let word = |at: usize| u32::from_be_bytes(idx[at..at + 4].try_into().unwrap());
        // Sorted: 0x10 (offset 2^31), 0x20 (5 << 32), 0x30 (12).
        assert_eq!(word(base), 0x8000_0000);
        assert_eq!(word(base + 4), 0x8000_0001);
        assert_eq!(word(base + 8), 12);
        let table = base + n * 4;
        assert_eq!(&idx[table..table + 8], &(MAX_OFFSET32 + 1).to_be_bytes());
        assert_eq!(&idx[table + 8..table + 16], &(5u64 << 32).to_be_bytes());
        assert_eq!(&idx[table + 16..table + 36], &[0xab; 20]);
        assert_eq!(idx.len(), table + 16 + 40);
        // The CRCs follow the sorted names.
        assert_eq!(word(8 + 1024 + n * 20), 2);
        assert_eq!(word(8 + 4 * 0x10), 1);
        assert_eq!(word(8 + 4 * 0xff), 3);
        // A name twice, or a missing name, is refused.
        let twice = vec![names[0], names[0], names[1]];
        assert!(build_index(&pack, &twice).is_err());
        assert!(build_index(&pack, &names[..2]).is_err());
    }

    fn blob(data: &[u8]) -> (Oid, ObjectType, Vec<u8>) {
        (
            Oid::hash_object(ObjectType::Blob, data).unwrap(),
            ObjectType::Blob,
            data.to_vec(),
        )
    }

    fn publish(pack_dir: &Path, objects: &[(Oid, ObjectType, Vec<u8>)]) -> PathBuf {
        let refs: Vec<(Oid, ObjectType, &[u8])> = objects
            .iter()
            .map(|(o, k, d)| (*o, *k, d.as_slice()))
            .collect();
        write_pack(pack_dir, &refs).unwrap()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Four packs (one object in two of them) merge into one whose index is byte for byte what
    /// `git index-pack` writes, that `git verify-pack` and `git fsck` accept, and from which git
    /// and libgit2 read every object; the old packs are gone.
    #[test]
    fn merged_pack_is_what_git_would_index() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let pack_dir = dir.path().join("objects/pack");
        let mut all = Vec::new();
        let mut packs = Vec::new();
        for p in 0..4u32 {
            let mut objects: Vec<_> = (0..50u32)
                .map(|i| blob(format!("pack {p} blob {i}").as_bytes()))
                .collect();
            objects.push(blob(b"in two packs"));
            if p == 0 {
                objects.push(blob(
                    &(0..200_000u32)
                        .flat_map(|i| i.to_le_bytes())
                        .collect::<Vec<_>>(),
                ));
            }
            packs.push(publish(&pack_dir, &objects));
            all.extend(objects);
        }
        all.sort_by_key(|(o, _, _)| *o);
        all.dedup_by_key(|(o, _, _)| *o);
        let merged = merge_packs(&pack_dir, &packs).unwrap();
        let idx_path = merged.with_extension("idx");
        assert_eq!(files(&pack_dir).len(), 2, "{:?}", files(&pack_dir));
        assert_index_is_gits(dir.path(), &merged);
        let index = parse_index(&std::fs::read(&idx_path).unwrap()).unwrap();
        assert_eq!(index.names.len(), all.len());
        let odb = repo.odb().unwrap();
        odb.refresh().unwrap();
        for (oid, _, data) in &all {
            assert_eq!(odb.read(*oid).unwrap().data(), data.as_slice());
        }
        let out = git(dir.path(), &["fsck", "--strict", "--full"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Merging the merged pack with a pack of copies keeps the merged pack.
        let copies = publish(&pack_dir, &all[..3]);
        let again = merge_packs(&pack_dir, &[merged.clone(), copies]).unwrap();
        assert_eq!(again, merged);
        assert_eq!(files(&pack_dir).len(), 2, "{:?}", files(&pack_dir));
    }

    /// A pack with deltas, a pack whose object fails its CRC and a pack whose index is damaged
    /// are refused, leaving every file as it was and no temporary file.
    #[test]
    fn refused_merges_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let pack_dir = dir.path().join("objects/pack");
        let base: Vec<u8> = (0..4000u32).flat_map(|i| (i / 7).to_le_bytes()).collect();
        let a = publish(&pack_dir, &[blob(b"one"), blob(&base)]);
        // git packs two similar blobs as a base and a delta.
        let mut similar = base.clone();
        similar[100] ^= 1;
        let delta_dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(dir.path())
            .args(["hash-object", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(&similar)?;
                c.wait_with_output()
            })
            .unwrap();
        let similar_oid = String::from_utf8(out.stdout).unwrap();
        let base_oid = Oid::hash_object(ObjectType::Blob, &base)
            .unwrap()
            .to_string();
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(dir.path())
            .args(["pack-objects", "--window=10"])
            .arg(delta_dir.path().join("d"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                write!(c.stdin.take().unwrap(), "{base_oid}\n{}", similar_oid)?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(out.status.success());
        let hexname = String::from_utf8(out.stdout).unwrap().trim().to_string();
        for ext in ["pack", "idx"] {
            std::fs::copy(
                delta_dir.path().join(format!("d-{hexname}.{ext}")),
                pack_dir.join(format!("pack-{hexname}.{ext}")),
            )
            .unwrap();
        }
        let deltas = pack_dir.join(format!("pack-{hexname}.pack"));
        let before = files(&pack_dir);
        assert!(matches!(
            merge_packs(&pack_dir, &[a.clone(), deltas]),
            Err(MergeError::Deltas(_))
        ));
        assert_eq!(files(&pack_dir), before);

        let b = publish(&pack_dir, &[blob(b"two"), blob(b"three")]);
        let mut bytes = std::fs::read(&b).unwrap();
        let at = bytes.len() - 21;
        bytes[at] ^= 1;
        std::fs::write(&b, &bytes).unwrap();
        let before = files(&pack_dir);
        let err = merge_packs(&pack_dir, &[a.clone(), b.clone()]).unwrap_err();
        assert!(err.to_string().contains("fails its CRC"), "{err}");
        assert_eq!(files(&pack_dir), before);

        let c = publish(&pack_dir, &[blob(b"four")]);
        let idx = c.with_extension("idx");
        let mut bytes = std::fs::read(&idx).unwrap();
        bytes[8 + 1024] ^= 1;
        std::fs::write(&idx, &bytes).unwrap();
        let err = merge_packs(&pack_dir, &[a, c]).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        assert_eq!(files(&pack_dir).len(), before.len() + 2);
    }

    /// The index parser refuses what git would not write.
    #[test]
    fn index_parser_is_strict() {
        let objects = sample_objects();
        let parts: Vec<(ObjectType, &[u8])> =
            objects.iter().map(|(_, k, d)| (*k, d.as_slice())).collect();
        let names: Vec<Oid> = objects.iter().map(|(o, _, _)| *o).collect();
        let pack = build_pack(&parts).unwrap();
        let idx = build_index(&pack, &names).unwrap();
        let parsed = parse_index(&idx).unwrap();
        assert_eq!(parsed.names.len(), names.len());
        assert_eq!(&parsed.pack_sum[..], &pack.bytes[pack.bytes.len() - 20..]);
        let reseal = |mut b: Vec<u8>| {
            let body = b.len() - 20;
            let sum = Sha1::digest(&b[..body]);
            b[body..].copy_from_slice(&sum);
            b
        };
        let n = names.len();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        cases.push(idx[..idx.len() - 1].to_vec());
        let mut v = idx.clone();
        v[7] = 3;
        cases.push(reseal(v));
        // Names swapped (out of order), with the checksum fixed.
        let mut v = idx.clone();
        let (x, y) = (8 + 1024, 8 + 1024 + 20);
        let first: Vec<u8> = v[x..y].to_vec();
        v.copy_within(y..y + 20, x);
        v[y..y + 20].copy_from_slice(&first);
        cases.push(reseal(v));
        // A fan-out entry off by one.
        let mut v = idx.clone();
        v[8 + 4 * 200 + 3] ^= 1;
        cases.push(reseal(v));
        // A 64-bit offset slot that does not exist.
        let mut v = idx.clone();
        let off = 8 + 1024 + 24 * n;
        v[off] |= 0x80;
        cases.push(reseal(v));
        for (i, c) in cases.iter().enumerate() {
            assert!(parse_index(c).is_err(), "case {i} accepted");
        }
    }

    /// The rollup takes the smallest packs while the next is under twice their total, and
    /// leaves pinned packs and multi-pack-indexed directories alone.
    #[test]
    fn geometric_rollup_picks_the_small_packs() {
        let dir = tempfile::tempdir().unwrap();
        let pack_dir = dir.path();
        let mk = |name: &str, size: usize| {
            std::fs::write(pack_dir.join(format!("pack-{name}.pack")), vec![0u8; size]).unwrap();
            std::fs::write(pack_dir.join(format!("pack-{name}.idx")), b"").unwrap();
        };
        mk("a", 100);
        mk("b", 100);
        mk("c", 150);
        mk("d", 1000);
        mk("e", 5000);
        let got = |v: Option<Vec<PathBuf>>| -> Vec<String> {
            v.unwrap()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        // 100, 100 (< 200), 150 (< 400), then 1000 >= 700: stop.
        assert_eq!(
            got(geometric_rollup(pack_dir).unwrap()),
            ["pack-a.pack", "pack-b.pack", "pack-c.pack"]
        );
        std::fs::write(pack_dir.join("pack-b.keep"), b"").unwrap();
        std::fs::remove_file(pack_dir.join("pack-c.idx")).unwrap();
        // a alone: nothing to merge.
        assert!(got(geometric_rollup(pack_dir).unwrap()).is_empty());
        mk("f", 120);
        assert_eq!(
            got(geometric_rollup(pack_dir).unwrap()),
            ["pack-a.pack", "pack-f.pack"]
        );
        std::fs::write(pack_dir.join("multi-pack-index"), b"").unwrap();
        assert!(geometric_rollup(pack_dir).unwrap().is_none());
    }
}
