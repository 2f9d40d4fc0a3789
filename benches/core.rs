//! Core benchmarks, in memory: leaf hashing, tile-based proof generation for logs of 100k and
//! 1M leaves, proof verification, root computation (fwlog vs rs_merkle), `tiles::append`, and
//! fwlog's Merkle maths against Cloudflare's `tlog_tiles` over the same leaves (`vs_tlog_tiles/*`).
//!
//! `cargo bench --bench core` (add a filter, e.g. `-- proof`, to run a subset).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use fwlog::merkle::{self, Frontier, Hash, MerkleError, Node, Rfc6962Hasher};
use fwlog::tiles::{self, Tile, TileHashReader};
use tlog_tiles as tl;

/// Log sizes for the proof benchmarks.
const SIZES: [u64; 2] = [100_000, 1_000_000];
/// Entries per `tiles::append` call while building the in-memory logs.
const BUILD_BATCH: u64 = 4096;

/// The deterministic entry `i`: 8 bytes of index plus 24 bytes of filler.
fn entry(i: u64) -> Vec<u8> {
    let mut e = i.to_be_bytes().to_vec();
    e.extend_from_slice(&[0xa5; 24]);
    e
}

/// A log of `n` entries as tiles in a `HashMap`, built through `tiles::append` exactly as the
/// store builds it (writes applied, superseded partials deleted), and its root.
fn build_log(n: u64) -> (HashMap<Tile, Vec<u8>>, Hash) {
    let mut store: HashMap<Tile, Vec<u8>> = HashMap::new();
    let mut size = 0;
    let mut root = merkle::empty_root();
    while size < n {
        let end = (size + BUILD_BATCH).min(n);
        let entries: Vec<Vec<u8>> = (size..end).map(entry).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let a = tiles::append(&store, size, &refs).expect("append");
        for t in a.deletes {
            store.remove(&t);
        }
        store.extend(a.writes);
        size = a.new_size;
        root = a.root;
    }
    (store, root)
}

/// SplitMix64, for spreading proof indexes over the whole tree.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn leaf_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("leaf_hash");
    for size in [64usize, 1024, 16 * 1024] {
        let data = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, d| {
            b.iter(|| merkle::leaf_hash(black_box(d)))
        });
    }
    g.finish();
}

fn proofs(c: &mut Criterion) {
    for n in SIZES {
        let (store, root) = build_log(n);
        let reader = TileHashReader::new(&store, n);
        assert_eq!(merkle::tree_root(n, &reader).unwrap(), root);

        let mut g = c.benchmark_group(format!("proof/{n}"));
        g.sample_size(50).measurement_time(Duration::from_secs(3));
        let mut k = 0u64;
        g.bench_function("inclusion_proof", |b| {
            b.iter(|| {
                k += 1;
                merkle::inclusion_proof(mix(k) % n, n, &reader).unwrap()
            })
        });
        let mut k = 0u64;
        g.bench_function("consistency_proof", |b| {
            b.iter(|| {
                k += 1;
                merkle::consistency_proof(1 + mix(k) % (n - 1), n, &reader).unwrap()
            })
        });
        g.bench_function("tree_root_from_tiles", |b| {
            b.iter(|| merkle::tree_root(n, &reader).unwrap())
        });

        // Verification, over a rotating set of precomputed proofs.
        let incl: Vec<(u64, Hash, Vec<Hash>)> = (0..256)
            .map(|k| {
                let i = mix(k) % n;
                let p = merkle::inclusion_proof(i, n, &reader).unwrap();
                (i, merkle::leaf_hash(&entry(i)), p)
            })
            .collect();
        let cons: Vec<(u64, Hash, Vec<Hash>)> = (0..64)
            .map(|k| {
                let m = 1 + mix(k) % (n - 1);
                let old_root =
                    merkle::tree_root(m, &TileHashReader::with_store_size(&store, m, n).unwrap())
                        .unwrap();
                (
                    m,
                    old_root,
                    merkle::consistency_proof(m, n, &reader).unwrap(),
                )
            })
            .collect();
        let mut k = 0usize;
        g.bench_function("verify_inclusion", |b| {
            b.iter(|| {
                k += 1;
                let (i, leaf, p) = &incl[k % incl.len()];
                merkle::verify_inclusion(*i, n, leaf, p, &root).unwrap()
            })
        });
        let mut k = 0usize;
        g.bench_function("verify_consistency", |b| {
            b.iter(|| {
                k += 1;
                let (m, old_root, p) = &cons[k % cons.len()];
                merkle::verify_consistency(*m, n, old_root, &root, p).unwrap()
            })
        });
        g.finish();
    }
}

fn roots(c: &mut Criterion) {
    let n = 100_000u64;
    let leaves: Vec<Hash> = (0..n).map(|i| merkle::leaf_hash(&entry(i))).collect();
    let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
    let fw = merkle::subtree_root(&leaves);
    let rs = rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(&raw)
        .root()
        .unwrap();
    assert_eq!(fw.0, rs, "fwlog and rs_merkle disagree on the root");
    let mut frontier = Frontier::new();
    leaves.iter().for_each(|l| frontier.push(*l));
    assert_eq!(frontier.root(), fw);
    let entries: Vec<Vec<u8>> = (0..n).map(entry).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let empty: HashMap<Tile, Vec<u8>> = HashMap::new();

    let mut g = c.benchmark_group(format!("root/{n}"));
    g.sample_size(20)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(n));
    g.bench_function("fwlog_subtree_root", |b| {
        b.iter(|| merkle::subtree_root(black_box(&leaves)))
    });
    g.bench_function("fwlog_frontier_push", |b| {
        b.iter(|| {
            let mut f = Frontier::new();
            for l in black_box(&leaves) {
                f.push(*l);
            }
            f.root()
        })
    });
    g.bench_function("rs_merkle_from_leaves", |b| {
        b.iter(|| {
            rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(black_box(&raw))
                .root()
                .unwrap()
        })
    });
    // From entry bytes: leaf hashing, every tile (entry bundles included) and the root.
    g.bench_function("fwlog_tiles_append_from_entries", |b| {
        b.iter(|| tiles::append(&empty, 0, black_box(&refs)).unwrap().root)
    });
    g.finish();
}

/// One store-sized batch: 1,000 entries of 1 KiB appended to a log of 100k, in memory (the
/// tile maths of `fwlog log append`, without Git).
fn append_batch(c: &mut Criterion) {
    let n = 100_000u64;
    let (store, _) = build_log(n);
    let entries: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| {
            let mut e = vec![0x3cu8; 1024];
            e[..8].copy_from_slice(&(n + i).to_be_bytes());
            e
        })
        .collect();
    let mut g = c.benchmark_group("tiles_append");
    g.sample_size(30).throughput(Throughput::Elements(1000));
    g.bench_function("1000x1KiB_onto_100k", |b| {
        b.iter_batched(
            || entries.iter().map(Vec::as_slice).collect::<Vec<&[u8]>>(),
            |refs| tiles::append(&store, n, &refs).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Stored hashes in `tlog_tiles`'s dense order (Crosby–Wallach: the hash of node `(level, index)`
/// is at `tl::stored_hash_index(level, index)`), i.e. every complete-subtree hash of the tree,
/// held in one `Vec`. Both libraries read proofs and roots out of the same instance, so they are
/// compared on identical storage: each side's `HashReader` is a bounds-checked `Vec` index.
struct StoredHashes(Vec<tl::Hash>);

impl StoredHashes {
    /// Builds the store the way a `tlog_tiles` log writer does: one
    /// `stored_hashes_for_record_hash` call per leaf, appending what it returns (the leaf hash
    /// plus one interior hash per subtree the leaf completes; it reads the left siblings back
    /// from the store).
    fn build(leaves: &[Hash]) -> StoredHashes {
        let n = leaves.len() as u64;
        let mut s = StoredHashes(Vec::with_capacity(tl::stored_hash_count(n) as usize));
        for (i, leaf) in leaves.iter().enumerate() {
            let new = tl::stored_hashes_for_record_hash(i as u64, tl::Hash(leaf.0), &s).unwrap();
            s.0.extend(new);
        }
        debug_assert_eq!(s.0.len() as u64, tl::stored_hash_count(n));
        s
    }
}

impl tl::HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tl::Hash>, tl::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tl::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// fwlog's reader over the same store. fwlog asks for `(level, index)` nodes; the mapping to a
/// slot is `tl::stored_hash_index`, the very function `tlog_tiles` calls while planning its
/// reads, so the index arithmetic costs both sides the same.
impl merkle::HashReader for StoredHashes {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>, MerkleError> {
        nodes
            .iter()
            .map(|n| {
                self.0
                    .get(tl::stored_hash_index(n.level, n.index) as usize)
                    .map(|h| Hash(h.0))
                    .ok_or_else(|| MerkleError::MissingNode {
                        level: n.level,
                        index: n.index,
                        reason: "not stored".into(),
                    })
            })
            .collect()
    }
}

fn to_fw(hashes: &[tl::Hash]) -> Vec<Hash> {
    hashes.iter().map(|h| Hash(h.0)).collect()
}

/// fwlog against `tlog_tiles` 0.2 on the same leaf hashes, in the same run. Both use the same
/// `sha2` crate, so the differences are in the tree code around it. Groups:
///
/// - `vs_tlog_tiles/root_from_leaves/{100000,1000000}`: the RFC 9162 root from a slice of leaf
///   hashes, all `n - 1` interior hashes computed each iteration:
///   - `fwlog_subtree_root`: `merkle::subtree_root`, recursive `MTH` over the slice, nothing
///     stored;
///   - `fwlog_frontier_push`: `Frontier::push` per leaf, then `Frontier::root` (O(log n) state);
///   - `tlog_tiles_stored_hashes_then_tree_hash`: `tlog_tiles` has no root-from-leaves function;
///     its way is the log writer's: `stored_hashes_for_record_hash` per leaf into a
///     `Vec` store (every interior hash kept, ~2n hashes, one small `Vec` per call), then
///     `tree_hash(n)`. So this side also pays for storing the whole tree (see
///     `StoredHashes::build`), which is what a tlog_tiles user must do to get a root.
/// - `vs_tlog_tiles/from_store/1000000`, all reading the shared 1M-leaf store:
///   - `{fwlog_tree_root,tlog_tiles_tree_hash}_{100000,1000000}`: root of the tree of that size
///     (a prefix of the store), each reading the ≤ log2(n)+1 complete-subtree hashes of the
///     size's binary decomposition and folding them;
///   - `{fwlog_inclusion_proof,tlog_tiles_prove_record}`: inclusion proof for a leaf spread over
///     the tree (the same index sequence on both sides) in the 1M tree;
///   - `{fwlog_consistency_proof,tlog_tiles_prove_tree}`: consistency proof from a size spread
///     over `[1, n)` (the same sequence on both sides) to the 1M tree.
///
/// Before timing, roots and proofs from both sides are asserted equal (hash for hash).
fn vs_tlog_tiles(c: &mut Criterion) {
    let n_max = SIZES[1];
    let leaves: Vec<Hash> = (0..n_max).map(|i| merkle::leaf_hash(&entry(i))).collect();
    // Built once and shared: stored hash indexes are prefix-stable, so the 1M store also serves
    // every smaller tree.
    let store = StoredHashes::build(&leaves);

    for n in SIZES {
        let ls = &leaves[..n as usize];
        let fw = merkle::subtree_root(ls);
        let mut frontier = Frontier::new();
        ls.iter().for_each(|l| frontier.push(*l));
        assert_eq!(frontier.root(), fw);
        assert_eq!(merkle::tree_root(n, &store).unwrap(), fw);
        assert_eq!(
            tl::tree_hash(n, &store).unwrap().0,
            fw.0,
            "roots differ at {n}"
        );
        let own = StoredHashes::build(ls);
        assert_eq!(tl::tree_hash(n, &own).unwrap().0, fw.0);
        assert_eq!(own.0[..], store.0[..own.0.len()]);
        drop(own);

        let mut g = c.benchmark_group(format!("vs_tlog_tiles/root_from_leaves/{n}"));
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .measurement_time(Duration::from_secs(if n > 100_000 { 8 } else { 3 }))
            .throughput(Throughput::Elements(n));
        g.bench_function("fwlog_subtree_root", |b| {
            b.iter(|| merkle::subtree_root(black_box(ls)))
        });
        g.bench_function("fwlog_frontier_push", |b| {
            b.iter(|| {
                let mut f = Frontier::new();
                for l in black_box(ls) {
                    f.push(*l);
                }
                f.root()
            })
        });
        g.bench_function("tlog_tiles_stored_hashes_then_tree_hash", |b| {
            b.iter(|| {
                let s = StoredHashes::build(black_box(ls));
                tl::tree_hash(n, &s).unwrap()
            })
        });
        g.finish();
    }

    let n = n_max;
    // Equal work: the same proofs, hash for hash, over a spread of indexes and sizes plus the
    // edges (first and last leaf, powers of two, m == n).
    let mut idx: Vec<u64> = (0..512).map(|k| mix(k) % n).collect();
    idx.extend([0, 1, n / 2, n - 2, n - 1, 1 << 19, (1 << 19) - 1]);
    for &i in &idx {
        let fw = merkle::inclusion_proof(i, n, &store).unwrap();
        let tp = tl::prove_record(n, i, &store).unwrap();
        assert_eq!(fw, to_fw(&tp), "inclusion proofs differ for {i}");
        let root = merkle::tree_root(n, &store).unwrap();
        merkle::verify_inclusion(i, n, &leaves[i as usize], &fw, &root).unwrap();
    }
    let mut sizes: Vec<u64> = (0..512).map(|k| 1 + mix(k) % (n - 1)).collect();
    sizes.extend([1, 2, 3, n / 2, n - 1, n, 1 << 19, (1 << 19) + 1]);
    for &m in &sizes {
        let fw = merkle::consistency_proof(m, n, &store).unwrap();
        let tp = tl::prove_tree(n, m, &store).unwrap();
        assert_eq!(fw, to_fw(&tp), "consistency proofs differ for {m}");
    }

    let mut g = c.benchmark_group(format!("vs_tlog_tiles/from_store/{n}"));
    g.sample_size(50).measurement_time(Duration::from_secs(3));
    for size in SIZES {
        g.bench_function(format!("fwlog_tree_root_{size}"), |b| {
            b.iter(|| merkle::tree_root(black_box(size), &store).unwrap())
        });
        g.bench_function(format!("tlog_tiles_tree_hash_{size}"), |b| {
            b.iter(|| tl::tree_hash(black_box(size), &store).unwrap())
        });
    }
    let mut k = 0u64;
    g.bench_function("fwlog_inclusion_proof", |b| {
        b.iter(|| {
            k += 1;
            merkle::inclusion_proof(mix(k) % n, n, &store).unwrap()
        })
    });
    let mut k = 0u64;
    g.bench_function("tlog_tiles_prove_record", |b| {
        b.iter(|| {
            k += 1;
            tl::prove_record(n, mix(k) % n, &store).unwrap()
        })
    });
    let mut k = 0u64;
    g.bench_function("fwlog_consistency_proof", |b| {
        b.iter(|| {
            k += 1;
            merkle::consistency_proof(1 + mix(k) % (n - 1), n, &store).unwrap()
        })
    });
    let mut k = 0u64;
    g.bench_function("tlog_tiles_prove_tree", |b| {
        b.iter(|| {
            k += 1;
            tl::prove_tree(n, 1 + mix(k) % (n - 1), &store).unwrap()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    leaf_hashing,
    proofs,
    roots,
    append_batch,
    vs_tlog_tiles
);
criterion_main!(benches);
