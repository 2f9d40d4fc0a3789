//! RFC 9162 §2.1 Merkle tree hashing, proof generation and proof verification (SHA-256).
//!
//! Pure maths: no I/O, no encoding beyond the 32-byte hash. Proof *generation* reads stored
//! node hashes through the [`HashReader`] seam, so the same code serves an in-memory tree, the
//! C2SP tiles of a Git-backed log, or anything else that can answer "what is the hash of the
//! complete subtree at (level, index)". Proof *verification* is the iterative algorithm of
//! RFC 9162 §2.1.3.2 and §2.1.4.2 and never trusts proof lengths or sizes it did not check.
//!
//! Terminology used throughout:
//! - a *node* `(level, index)` is the root of the complete subtree over leaves
//!   `[index·2^level, (index+1)·2^level)`; level 0 nodes are leaf hashes;
//! - a tree of size `n` is the RFC 9162 tree over leaves `[0, n)`; its root is `MTH(D[0:n])`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Length of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// The longest inclusion or consistency proof any tree of at most 2^63 leaves can need.
pub const MAX_PROOF_HASHES: usize = 63;

/// A SHA-256 tree hash (leaf, node or root).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// Decodes standard padded base64 that must hold exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Hash, MerkleError> {
        let bytes = crate::b64::decode_canonical(s).map_err(|_| MerkleError::MalformedHash)?;
        Hash::from_slice(&bytes)
    }

    /// Decodes lowercase or uppercase hex that must hold exactly 32 bytes.
    pub fn from_hex(s: &str) -> Result<Hash, MerkleError> {
        let bytes = hex::decode(s).map_err(|_| MerkleError::MalformedHash)?;
        Hash::from_slice(&bytes)
    }

    /// Copies a 32-byte slice; any other length is [`MerkleError::MalformedHash`].
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, MerkleError> {
        <[u8; HASH_SIZE]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| MerkleError::MalformedHash)
    }

    /// Standard padded base64, the encoding every C2SP format uses for hashes.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// Why a proof did not verify or could not be produced.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MerkleError {
    #[error("malformed hash: expected 32 bytes of standard base64")]
    MalformedHash,
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree sizes out of order: {first} > {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("a consistency proof from the empty tree is meaningless")]
    EmptyFirstTree,
    #[error("proof has the wrong number of hashes")]
    WrongProofLength,
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    #[error("node ({level}, {index}) is not available: {reason}")]
    MissingNode {
        level: u8,
        index: u64,
        reason: String,
    },
}

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// `SHA-256("")`: the root of the empty tree (not the hash of an empty leaf).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// A complete subtree: `(level, index)` covers leaves `[index << level, (index + 1) << level)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub level: u8,
    pub index: u64,
}

impl Node {
    pub fn new(level: u8, index: u64) -> Node {
        Node { level, index }
    }
}

/// Storage seam for proof generation: returns the hash of each requested complete subtree, in
/// the order asked. Implementations may fail (missing tile, I/O); they must never return a hash
/// for a node outside the tree they serve.
pub trait HashReader {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>, MerkleError>;
}

/// An in-memory reader over leaf hashes, computing interior nodes on demand. O(2^level) per
/// node: meant for tests, small trees and single tiles.
pub struct LeafHashes<'a>(pub &'a [Hash]);

impl HashReader for LeafHashes<'_> {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>, MerkleError> {
        nodes
            .iter()
            .map(|n| {
                let width = 1u64.checked_shl(u32::from(n.level)).unwrap_or(0);
                let lo = n.index.checked_mul(width);
                let hi = lo.and_then(|lo| lo.checked_add(width));
                match (lo, hi) {
                    (Some(lo), Some(hi)) if width != 0 && hi <= self.0.len() as u64 => {
                        Ok(subtree_root(&self.0[lo as usize..hi as usize]))
                    }
                    _ => Err(MerkleError::MissingNode {
                        level: n.level,
                        index: n.index,
                        reason: format!("outside a tree of {} leaves", self.0.len()),
                    }),
                }
            })
            .collect()
    }
}

/// RFC 9162 `MTH` over a slice of leaf hashes, computed directly (O(n) time, O(log n) stack).
pub fn subtree_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&subtree_root(&leaves[..k]), &subtree_root(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (RFC 9162's `k`); requires `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees that make up leaves `[lo, hi)`, left to right, when `lo` is a multiple
/// of the largest power of two not exceeding `hi - lo`... more precisely whenever the range is a
/// right part produced by RFC 9162's recursive split, which is the only way it is used. Each
/// greedy step takes the largest aligned power of two that fits.
fn range_nodes(lo: u64, hi: u64, out: &mut Vec<Node>) {
    let mut lo = lo;
    while lo < hi {
        let remaining = hi - lo;
        // Largest power of two <= remaining that is also aligned at lo.
        let mut level = 63 - remaining.leading_zeros();
        if lo != 0 {
            level = level.min(lo.trailing_zeros());
        }
        out.push(Node::new(level as u8, lo >> level));
        lo += 1u64 << level;
    }
}

/// Folds the hashes of consecutive complete subtrees (left to right, sizes non-increasing) into
/// the RFC 9162 root of their union: right to left, `h = node(left, h)`.
fn fold_range(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// A proof or root under construction: a list of items, each the fold of a run of nodes.
#[derive(Default)]
struct Plan {
    nodes: Vec<Node>,
    /// End offset (exclusive) into `nodes` of each item.
    ends: Vec<usize>,
}

impl Plan {
    /// Adds one item: the RFC 9162 hash of leaves `[lo, hi)` (`lo < hi`).
    fn push_range(&mut self, lo: u64, hi: u64) {
        range_nodes(lo, hi, &mut self.nodes);
        self.ends.push(self.nodes.len());
    }

    /// Reads every node in one call and folds each item.
    fn resolve(self, reader: &dyn HashReader) -> Result<Vec<Hash>, MerkleError> {
        let hashes = reader.read_hashes(&self.nodes)?;
        if hashes.len() != self.nodes.len() {
            return Err(MerkleError::MissingNode {
                level: 0,
                index: 0,
                reason: "hash reader returned the wrong number of hashes".into(),
            });
        }
        let mut out = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for end in self.ends {
            out.push(fold_range(&hashes[start..end]).ok_or(MerkleError::WrongProofLength)?);
            start = end;
        }
        Ok(out)
    }
}

/// The root of the tree of size `n`: the fold of the complete subtrees given by the binary
/// decomposition of `n` (one per set bit, largest first). Reads at most 64 nodes.
pub fn tree_root(n: u64, reader: &dyn HashReader) -> Result<Hash, MerkleError> {
    if n == 0 {
        return Ok(empty_root());
    }
    let mut plan = Plan::default();
    plan.push_range(0, n);
    Ok(plan.resolve(reader)?[0])
}

/// RFC 9162 §2.1.3.1 `PATH(m, D[lo:hi])`, as the ranges whose roots form the proof, leaf side
/// first. Recursion depth is at most 64.
fn inclusion_ranges(m: u64, lo: u64, hi: u64, plan: &mut Plan) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        inclusion_ranges(m, lo, lo + k, plan);
        plan.push_range(lo + k, hi);
    } else {
        inclusion_ranges(m - k, lo + k, hi, plan);
        plan.push_range(lo, lo + k);
    }
}

/// The inclusion proof of leaf `index` in the tree of size `n` (RFC 9162 §2.1.3.1), leaf side
/// first. It reads O(log n) nodes.
pub fn inclusion_proof(
    index: u64,
    n: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>, MerkleError> {
    if index >= n {
        return Err(MerkleError::IndexOutOfRange { index, size: n });
    }
    let mut plan = Plan::default();
    inclusion_ranges(index, 0, n, &mut plan);
    plan.resolve(reader)
}

/// RFC 9162 §2.1.4.1 `SUBPROOF(m, D[lo:hi], b)` as ranges, leaf side first.
fn consistency_ranges(m: u64, lo: u64, hi: u64, complete: bool, plan: &mut Plan) {
    let n = hi - lo;
    if m == n {
        if !complete {
            plan.push_range(lo, hi);
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        consistency_ranges(m, lo, lo + k, complete, plan);
        plan.push_range(lo + k, hi);
    } else {
        consistency_ranges(m - k, lo + k, hi, false, plan);
        plan.push_range(lo, lo + k);
    }
}

/// The consistency proof between trees of sizes `m` and `n` (RFC 9162 §2.1.4.1), for
/// `0 < m <= n`; empty when `m == n`.
pub fn consistency_proof(
    m: u64,
    n: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>, MerkleError> {
    if m > n {
        return Err(MerkleError::SizesOutOfOrder {
            first: m,
            second: n,
        });
    }
    if m == 0 {
        return Err(MerkleError::EmptyFirstTree);
    }
    let mut plan = Plan::default();
    if m < n {
        consistency_ranges(m, 0, n, true, &mut plan);
    }
    plan.resolve(reader)
}

/// Verifies that `leaf` is at `index` in the tree of size `n` with root `root`
/// (RFC 9162 §2.1.3.2). The size must come from a signed checkpoint: a proof alone is valid for
/// several sizes.
pub fn verify_inclusion(
    index: u64,
    n: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if &root_from_inclusion(index, n, leaf, proof)? == root {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

/// The root that an inclusion proof implies, after checking its shape against `(index, n)`:
/// the path must be exactly as long as the tree needs (the final `sn == 0` check).
pub fn root_from_inclusion(
    index: u64,
    n: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, MerkleError> {
    if index >= n {
        return Err(MerkleError::IndexOutOfRange { index, size: n });
    }
    let (mut f, mut s) = (index, n - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(MerkleError::WrongProofLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(MerkleError::WrongProofLength);
    }
    Ok(r)
}

/// Verifies that the tree of size `n` with root `root_n` extends the tree of size `m` with root
/// `root_m` (RFC 9162 §2.1.4.2).
///
/// Edge cases the RFC leaves open, decided here:
/// - `m == n`: the proof must be empty and the roots equal;
/// - `m == 0`: rejected with [`MerkleError::EmptyFirstTree`]. Every tree extends the empty tree,
///   so there is nothing to verify; callers that start from size 0 must not ask for a proof.
pub fn verify_consistency(
    m: u64,
    n: u64,
    root_m: &Hash,
    root_n: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if m > n {
        return Err(MerkleError::SizesOutOfOrder {
            first: m,
            second: n,
        });
    }
    if m == 0 {
        return Err(MerkleError::EmptyFirstTree);
    }
    if m == n {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength);
        }
        return if root_m == root_n {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        };
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_HASHES {
        return Err(MerkleError::WrongProofLength);
    }
    // When m is a power of two the old root is itself the first node of the path.
    let (first, rest) = if m.is_power_of_two() {
        (root_m, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    let (mut f, mut s) = (m - 1, n - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(MerkleError::WrongProofLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(MerkleError::WrongProofLength);
    }
    if &fr == root_m && &sr == root_n {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch)
    }
}

/// The right edge of a tree being built leaf by leaf: the roots of the perfect subtrees of the
/// size's binary decomposition, largest first. Memory O(log n); each push costs amortised O(1)
/// hashes. Used to recompute a root from a stream of entries without holding them.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    size: u64,
    roots: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash: merges one perfect subtree per trailing one bit of the old size.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.roots.pop() {
                Some(left) => h = node_hash(&left, &h),
                None => break,
            }
            s >>= 1;
        }
        self.roots.push(h);
        self.size += 1;
    }

    /// The RFC 9162 root of the leaves pushed so far (right fold of the subtree roots).
    pub fn root(&self) -> Hash {
        fold_range(&self.roots).unwrap_or_else(empty_root)
    }
}

/// RFC 6962 hashing for `rs_merkle`, for use as a test and benchmark oracle only (never to
/// verify outside input: rs_merkle accepts padded proofs). Leaves are passed already hashed with
/// [`leaf_hash`]; rs_merkle promotes an unpaired node unchanged, which yields RFC 9162's
/// left-balanced shape, and interior nodes get the 0x01 prefix here.
#[derive(Clone)]
pub struct Rfc6962Hasher;

impl rs_merkle::Hasher for Rfc6962Hasher {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => node_hash(&Hash(*left), &Hash(*r)).0,
            None => *left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        Hash::from_base64(s).unwrap()
    }

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/merkle.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn leaves(v: &serde_json::Value) -> Vec<Hash> {
        v["leaves_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| leaf_hash(&hex::decode(x.as_str().unwrap()).unwrap()))
            .collect()
    }

    fn hashes(v: &serde_json::Value) -> Vec<Hash> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| h(x.as_str().unwrap()))
            .collect()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(empty_root(), leaf_hash(b""));
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn vector_leaf_and_node_hashes() {
        let v = vectors();
        let ls = leaves(&v);
        assert_eq!(ls, hashes(&v["leaf_hashes"]));
        let extra = &v["extra_hashes"];
        assert_eq!(
            leaf_hash(b"L123456").to_hex(),
            extra["leaf_hash(ascii 'L123456')"].as_str().unwrap()
        );
        let n = node_hash(&Hash::from_slice(&[0; 32]).unwrap(), &Hash::default());
        assert_ne!(n, Hash::default());
        let mut l = [0u8; 32];
        let mut r = [0u8; 32];
        // node_hash over raw ASCII is not expressible with 32-byte hashes; check via SHA-256.
        l[..4].copy_from_slice(b"N123");
        r[..4].copy_from_slice(b"N456");
        let mut want = Sha256::new();
        want.update([1u8]);
        want.update(b"N123N456");
        assert_eq!(
            hex::encode(want.finalize()),
            extra["node_hash(ascii 'N123', ascii 'N456')"]
                .as_str()
                .unwrap()
        );
        assert_eq!(
            leaf_hash(b"hello world").to_base64(),
            extra["leaf_hash(ascii 'hello world') base64"]
                .as_str()
                .unwrap()
        );
    }

    #[test]
    fn vector_roots() {
        let v = vectors();
        let ls = leaves(&v);
        for (size, root) in v["roots"].as_object().unwrap() {
            let size: u64 = size.parse().unwrap();
            assert_eq!(
                tree_root(size, &LeafHashes(&ls)).unwrap(),
                h(root.as_str().unwrap()),
                "size {size}"
            );
            assert_eq!(
                subtree_root(&ls[..size as usize]),
                h(root.as_str().unwrap())
            );
        }
        assert_eq!(h(v["empty_tree_root"].as_str().unwrap()), empty_root());
    }

    #[test]
    fn vector_inclusion_proofs_generate_and_verify() {
        let v = vectors();
        let ls = leaves(&v);
        let roots = v["roots"].as_object().unwrap();
        for case in v["inclusion"].as_array().unwrap() {
            let (i, n) = (
                case["index"].as_u64().unwrap(),
                case["tree_size"].as_u64().unwrap(),
            );
            let want = hashes(&case["path"]);
            assert_eq!(
                inclusion_proof(i, n, &LeafHashes(&ls)).unwrap(),
                want,
                "inclusion {i} in {n}"
            );
            let root = h(roots[&n.to_string()].as_str().unwrap());
            verify_inclusion(i, n, &ls[i as usize], &want, &root).unwrap();
        }
    }

    #[test]
    fn vector_consistency_proofs_generate_and_verify() {
        let v = vectors();
        let ls = leaves(&v);
        let roots = v["roots"].as_object().unwrap();
        for case in v["consistency"].as_array().unwrap() {
            let (m, n) = (
                case["first"].as_u64().unwrap(),
                case["second"].as_u64().unwrap(),
            );
            let want = hashes(&case["proof"]);
            assert_eq!(
                consistency_proof(m, n, &LeafHashes(&ls)).unwrap(),
                want,
                "consistency {m} {n}"
            );
            let rm = h(roots[&m.to_string()].as_str().unwrap());
            let rn = h(roots[&n.to_string()].as_str().unwrap());
            verify_consistency(m, n, &rm, &rn, &want).unwrap();
        }
    }

    #[test]
    fn vector_must_reject() {
        let v = vectors();
        let cases = v["must_reject"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let get = |k: &str| case.get(k).and_then(|x| x.as_str()).map(Hash::from_base64);
            let path: Vec<Result<Hash, _>> = case
                .get("path")
                .or_else(|| case.get("proof"))
                .and_then(|p| p.as_array())
                .map(|a| {
                    a.iter()
                        .map(|x| Hash::from_base64(x.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            let path: Result<Vec<Hash>, _> = path.into_iter().collect();
            let result = match case["kind"].as_str().unwrap() {
                "inclusion" => (|| {
                    let path = path?;
                    verify_inclusion(
                        case["index"].as_u64().unwrap(),
                        case["tree_size"].as_u64().unwrap(),
                        &get("leaf_hash").unwrap()?,
                        &path,
                        &get("root").unwrap()?,
                    )
                })(),
                "consistency" => (|| {
                    let path = path?;
                    verify_consistency(
                        case["first"].as_u64().unwrap(),
                        case["second"].as_u64().unwrap(),
                        &get("first_root").or_else(|| get("root1")).unwrap()?,
                        &get("second_root").or_else(|| get("root2")).unwrap()?,
                        &path,
                    )
                })(),
                k => panic!("unknown kind {k}"),
            };
            assert!(result.is_err(), "must reject: {case}");
        }
    }

    /// Values in the transparency-dev probes that are not 32 bytes are placeholders
    /// ("don't care 1"); map each to a domain-separated SHA-256 of its bytes so equal placeholders stay equal and
    /// the probe's intent (equality and size logic) is what gets tested.
    fn probe_hash(v: &serde_json::Value) -> Hash {
        let raw = B64.decode(v.as_str().unwrap()).unwrap();
        Hash::from_slice(&raw).unwrap_or_else(|_| {
            // Domain-separated so that "" never maps onto the real empty-tree root.
            Hash(
                Sha256::new()
                    .chain_update(b"probe placeholder:")
                    .chain_update(&raw)
                    .finalize()
                    .into(),
            )
        })
    }

    /// Probes write an absent proof as `null`.
    fn probe_proof(v: &serde_json::Value) -> Vec<Hash> {
        v.as_array()
            .map(|a| a.iter().map(probe_hash).collect())
            .unwrap_or_default()
    }

    fn probe_files(kind: &str) -> Vec<(String, serde_json::Value)> {
        let mut out = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/transparency-dev-merkle"
        ))
        .join(kind)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                    out.push((p.display().to_string(), v));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn transparency_dev_inclusion_probes() {
        let files = probe_files("inclusion");
        assert!(files.len() > 80, "found {} probes", files.len());
        for (name, v) in files {
            let proof = probe_proof(&v["proof"]);
            // The leaf hash is an input we decode strictly (transparency-dev checks its size
            // too); only roots are compared as opaque values.
            let got = Hash::from_base64(v["leafHash"].as_str().unwrap()).and_then(|leaf| {
                verify_inclusion(
                    v["leafIdx"].as_u64().unwrap(),
                    v["treeSize"].as_u64().unwrap(),
                    &leaf,
                    &proof,
                    &probe_hash(&v["root"]),
                )
            });
            assert_eq!(
                got.is_err(),
                v["wantErr"].as_bool().unwrap(),
                "{name}: {got:?}"
            );
        }
    }

    #[test]
    fn transparency_dev_consistency_probes() {
        let files = probe_files("consistency");
        assert!(files.len() > 80, "found {} probes", files.len());
        for (name, v) in files {
            let proof: Vec<Hash> = probe_proof(&v["proof"]);
            let got = verify_consistency(
                v["size1"].as_u64().unwrap(),
                v["size2"].as_u64().unwrap(),
                &probe_hash(&v["root1"]),
                &probe_hash(&v["root2"]),
                &proof,
            );
            assert_eq!(
                got.is_err(),
                v["wantErr"].as_bool().unwrap(),
                "{name}: {got:?}"
            );
        }
    }

    #[test]
    fn range_nodes_are_aligned_and_cover() {
        for n in 1..300u64 {
            let mut nodes = Vec::new();
            range_nodes(0, n, &mut nodes);
            assert_eq!(nodes.len() as u32, n.count_ones());
            let mut at = 0;
            for node in nodes {
                assert_eq!(node.index << node.level, at);
                at += 1 << node.level;
            }
            assert_eq!(at, n);
        }
    }

    /// Property tests: generated proofs verify; any mutation is rejected; roots agree with
    /// rs_merkle (used here only as an oracle, never on outside input).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn tree(n: u64) -> Vec<Hash> {
            (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
        }

        /// Sizes and positions that include the interesting small cases and powers of two.
        fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
            prop_oneof![1u64..70, 1u64..3000, (0u32..12).prop_map(|e| 1u64 << e)]
                .prop_flat_map(|n| (Just(n), 0..n))
        }

        fn mutate(proof: &[Hash], choice: usize, bit: usize) -> Vec<Vec<Hash>> {
            let mut out = Vec::new();
            if !proof.is_empty() {
                let mut flipped = proof.to_vec();
                let at = choice % proof.len();
                flipped[at].0[bit % 32] ^= 1 << (bit % 8);
                out.push(flipped);
                out.push(proof[..proof.len() - 1].to_vec());
                out.push(proof[1..].to_vec());
            }
            let mut longer = proof.to_vec();
            longer.push(leaf_hash(b"extra"));
            out.push(longer);
            let mut front = vec![leaf_hash(b"extra")];
            front.extend_from_slice(proof);
            out.push(front);
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn roots_match_rs_merkle(n in 1u64..3000) {
                let leaves = tree(n);
                let mut frontier = Frontier::new();
                leaves.iter().for_each(|l| frontier.push(*l));
                prop_assert_eq!(frontier.root(), subtree_root(&leaves));
                let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
                let oracle = rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(&raw).root().unwrap();
                prop_assert_eq!(tree_root(n, &LeafHashes(&leaves)).unwrap().0, oracle);
                prop_assert_eq!(subtree_root(&leaves).0, oracle);
            }

            #[test]
            fn inclusion_round_trip_and_mutations((n, i) in size_and_index(), choice in any::<usize>(), bit in any::<usize>()) {
                let leaves = tree(n);
                let reader = LeafHashes(&leaves);
                let root = tree_root(n, &reader).unwrap();
                let proof = inclusion_proof(i, n, &reader).unwrap();
                prop_assert!(proof.len() <= 64 - (n - 1).leading_zeros() as usize);
                verify_inclusion(i, n, &leaves[i as usize], &proof, &root).unwrap();
                for bad in mutate(&proof, choice, bit) {
                    prop_assert!(verify_inclusion(i, n, &leaves[i as usize], &bad, &root).is_err());
                }
                let other = (i + 1 + (choice as u64 % n.max(2))) % n;
                if other != i {
                    prop_assert!(verify_inclusion(other, n, &leaves[i as usize], &proof, &root).is_err());
                    prop_assert!(verify_inclusion(i, n, &leaves[other as usize], &proof, &root).is_err());
                }
                // A changed size may still verify (a proof alone fits several sizes; the size
                // comes from the signed checkpoint), but never a size the index is outside of.
                prop_assert!(verify_inclusion(n, n, &leaves[i as usize], &proof, &root).is_err());
            }

            #[test]
            fn consistency_round_trip_and_mutations((n, m) in size_and_index(), choice in any::<usize>(), bit in any::<usize>()) {
                let m = m + 1; // 1..=n
                let leaves = tree(n);
                let reader = LeafHashes(&leaves);
                let (rm, rn) = (tree_root(m, &reader).unwrap(), tree_root(n, &reader).unwrap());
                let proof = consistency_proof(m, n, &reader).unwrap();
                verify_consistency(m, n, &rm, &rn, &proof).unwrap();
                for bad in mutate(&proof, choice, bit) {
                    prop_assert!(verify_consistency(m, n, &rm, &rn, &bad).is_err());
                }
                if m < n {
                    prop_assert!(verify_consistency(m, n, &rn, &rm, &proof).is_err());
                    prop_assert!(verify_consistency(m + 1, n, &rm, &rn, &proof).is_err()
                        || tree_root(m + 1, &reader).unwrap() == rm);
                }
                prop_assert!(verify_consistency(m, n, &leaf_hash(b"x"), &rn, &proof).is_err());
            }
        }
    }
}
