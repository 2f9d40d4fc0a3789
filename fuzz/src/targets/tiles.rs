//! `tile_path` and `tiles`: C2SP tlog-tiles paths, tile contents, and proofs served from tiles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fwlog::merkle::{self, Frontier, Hash};
use fwlog::tiles::{self, Tile, TileHashReader, TileKind, MAX_TILE_LEVEL, TILE_WIDTH};

use super::input::Input;

/// `Tile::parse_path` of the input (canonical: `path()` is the input), then tiles built from
/// the input, whose paths must parse back to them.
pub fn tile_path(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(t) = Tile::parse_path(s) {
            assert_eq!(t.path(), s, "Tile::path is not the input");
            assert_eq!(t.validate(), Ok(()));
            assert_eq!(Tile::parse_path(&t.path()), Ok(t));
        }
    }
    let mut input = Input::new(data);
    let level = input.u8();
    let kind = if level == u8::MAX {
        TileKind::Entries
    } else {
        TileKind::Hash(level)
    };
    let index = input.u64();
    let width = input.u16() % 300;
    let valid = (level == u8::MAX || level <= MAX_TILE_LEVEL)
        && width >= 1
        && u64::from(width) <= TILE_WIDTH;
    match Tile::new(kind, index, width) {
        Ok(t) => {
            assert!(valid, "Tile::new accepted {t:?}");
            assert_eq!(Tile::parse_path(&t.path()), Ok(t), "path {}", t.path());
        }
        Err(_) => assert!(!valid, "Tile::new rejected {kind:?} {index} {width}"),
    }
}

/// `decode_hash_tile` / `decode_entry_bundle` of the input for a tile (possibly invalid) taken
/// from the input, `TileHashReader` proofs over a store holding the fuzzed tile, and (selector
/// bit 2) an honest two-batch `append` whose tiles must serve the same roots and proofs as
/// plain Merkle maths.
pub fn tiles(data: &[u8]) {
    let mut input = Input::new(data);
    let selector = input.u8();
    let level = input.u8();
    let index = input.u64();
    let width = input.u16();
    let size = input.u64();
    let honest_sizes = (input.below(300), input.below(300), input.u16());
    let body = input.rest();
    let kind = if selector & 1 == 0 {
        TileKind::Hash(level)
    } else {
        TileKind::Entries
    };
    let tile = Tile { kind, index, width };

    if let Ok(hashes) = tiles::decode_hash_tile(&tile, body) {
        assert_eq!(tile.validate(), Ok(()));
        assert_eq!(hashes.len(), usize::from(width));
        assert_eq!(tiles::encode_hash_tile(&hashes), body);
    }
    if let Ok(entries) = tiles::decode_entry_bundle(&tile, body) {
        assert_eq!(tile.validate(), Ok(()));
        assert_eq!(entries.len(), usize::from(width));
        assert_eq!(tiles::encode_entry_bundle(&entries).as_deref(), Ok(body));
    }

    // Proofs and appends over a store that holds the fuzzed bytes: errors, never panics.
    let size = if selector & 2 == 0 {
        size % 70_000
    } else {
        size
    };
    let mut store: HashMap<Tile, Vec<u8>> = HashMap::new();
    store.insert(tile, body.to_vec());
    store.insert(tile.full(), body.to_vec());
    let reader = TileHashReader::new(&store, size);
    let _ = merkle::tree_root(size, &reader);
    if size > 0 {
        let _ = merkle::inclusion_proof(index % size, size, &reader);
        let _ = merkle::consistency_proof(1 + index % size, size, &reader);
    }
    let older_size = size.checked_add(1).map_or(index, |s| index % s);
    if let Ok(older) = TileHashReader::with_store_size(&store, older_size, size) {
        let _ = merkle::tree_root(older.size(), &older);
    }
    let _ = tiles::append(&store, size, &[body]);

    if selector & 4 != 0 {
        honest(honest_sizes);
    }
}

/// Appends `first` then `second` generated entries to an empty tile store and checks the
/// result against `merkle` on the plain leaf list.
fn honest((first, second, pick): (u64, u64, u16)) {
    let n = first + second;
    let entries: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut e = i.to_le_bytes().to_vec();
            e.resize(8 + (i % 5) as usize, 0xa5);
            e
        })
        .collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();

    let mut store: BTreeMap<Tile, Vec<u8>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (old, batch) in [
        (0, &refs[..first as usize]),
        (first, &refs[first as usize..]),
    ] {
        let a = tiles::append(&store, old, batch).expect("honest append");
        assert_eq!(a.new_size, old + batch.len() as u64);
        for t in &a.deletes {
            store.remove(t);
        }
        store.extend(a.writes);
        roots.push(a.root);
    }
    let mut frontier = Frontier::new();
    for (i, leaf) in leaves.iter().enumerate() {
        if i as u64 == first {
            assert_eq!(frontier.root(), roots[0]);
        }
        frontier.push(*leaf);
    }
    assert_eq!(roots[1], frontier.root());
    assert_eq!(roots[1], merkle::subtree_root(&leaves));

    // The store holds exactly the tiles of a tree of n leaves.
    let expected: BTreeSet<Tile> = tiles::hash_tiles(n)
        .chain(tiles::entry_bundles_for_size(n))
        .collect();
    let stored: BTreeSet<Tile> = store.keys().copied().collect();
    assert_eq!(stored, expected);
    if n == 0 {
        return;
    }

    let reader = TileHashReader::new(&store, n);
    assert_eq!(merkle::tree_root(n, &reader), Ok(roots[1]));
    let index = u64::from(pick) % n;
    let proof = merkle::inclusion_proof(index, n, &reader).expect("inclusion proof from tiles");
    assert_eq!(
        merkle::verify_inclusion(index, n, &leaves[index as usize], &proof, &roots[1]),
        Ok(())
    );
    let (bundle, at) = tiles::entry_bundle_for_index(index, n).expect("bundle for index");
    let stored_bundle = tiles::decode_entry_bundle(&bundle, &store[&bundle]).expect("bundle");
    assert_eq!(stored_bundle[at], refs[index as usize]);
    if first > 0 {
        let older = TileHashReader::with_store_size(&store, first, n).expect("older size");
        assert_eq!(merkle::tree_root(first, &older), Ok(roots[0]));
        let c = merkle::consistency_proof(first, n, &reader).expect("consistency from tiles");
        assert_eq!(
            merkle::verify_consistency(first, n, &roots[0], &roots[1], &c),
            Ok(())
        );
    }
}
