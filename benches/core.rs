//! Core benchmarks, in memory: leaf hashing, tile-based proof generation for logs of 100k and
//! 1M leaves, proof verification, root computation (fwlog vs rs_merkle), and `tiles::append`.
//!
//! `cargo bench --bench core` (add a filter, e.g. `-- proof`, to run a subset).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use fwlog::merkle::{self, Frontier, Hash, Rfc6962Hasher};
use fwlog::tiles::{self, Tile, TileHashReader};

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

criterion_group!(benches, leaf_hashing, proofs, roots, append_batch);
criterion_main!(benches);
