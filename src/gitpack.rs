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
    if names.len() != pack.offsets.len() {
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
        idx.extend_from_slice(&pack.crcs[i].to_be_bytes());
    }
    let mut large = Vec::new();
    for &i in &order {
        let offset = pack.offsets[i];
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
    let pack_sum = &pack.bytes[pack.bytes.len() - 20..];
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
        let idx_path = pack_path.with_extension("idx");
        let ours = std::fs::read(&idx_path).unwrap();
        let theirs = dir.path().join("theirs.idx");
        let out = git(
            dir.path(),
            &[
                "index-pack",
                "-o",
                theirs.to_str().unwrap(),
                pack_path.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(ours, std::fs::read(&theirs).unwrap());
        let out = git(dir.path(), &["verify-pack", idx_path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
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
}
