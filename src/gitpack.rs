//! Git pack files (version 2), written whole-object: what an append needs and no more.
//!
//! A pack is `"PACK"`, the version (2) and the object count as big-endian u32s, then each
//! object as a header (type in bits 4–6 of the first byte, size as a little-endian base-128
//! varint whose first group is the low 4 bits of the first byte) followed by the zlib stream of
//! its content, and last the SHA-1 of everything before it. No deltas: appends store new
//! objects whole and `git gc` deltifies them later. See git's
//! `Documentation/gitformat-pack.txt`.

use std::io::Write as _;

use flate2::{write::ZlibEncoder, Compression};
use git2::ObjectType;
use rayon::prelude::*;
use sha1::{Digest as _, Sha1};

/// zlib level of appended objects: the fastest (`git gc` later deltifies what it can).
const LEVEL: u32 = 1;

/// The pack holding `objects` (type and content), whole, compressed in parallel.
pub fn pack_objects(objects: &[(ObjectType, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let count = u32::try_from(objects.len())
        .map_err(|_| std::io::Error::other("too many objects for one pack"))?;
    let bodies: Vec<std::io::Result<Vec<u8>>> = objects
        .par_iter()
        .map(|(kind, data)| {
            let mut out = object_header(*kind, data.len())?;
            let mut z = ZlibEncoder::new(out.split_off(out.len()), Compression::new(LEVEL));
            z.write_all(data)?;
            let body = z.finish()?;
            out.extend_from_slice(&body);
            Ok(out)
        })
        .collect();
    let mut pack =
        Vec::with_capacity(12 + bodies.iter().flatten().map(Vec::len).sum::<usize>() + 20);
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    for body in bodies {
        pack.extend_from_slice(&body?);
    }
    let digest = Sha1::digest(&pack);
    pack.extend_from_slice(&digest);
    Ok(pack)
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
        let pack = pack_objects(&objects).unwrap();
        let odb = repo.odb().unwrap();
        let mut w = odb.packwriter().unwrap();
        w.write_all(&pack).unwrap();
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
}
