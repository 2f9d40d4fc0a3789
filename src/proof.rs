//! C2SP tlog-proof: an offline-verifiable proof that one entry is in a log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64, unauthenticated>]
//! index <N>
//! <base64 hash>          (0..=63 lines, leaf side first)
//!
//! <checkpoint note, verbatim, with its signatures and cosignatures>
//! ```
//!
//! The checkpoint bytes are kept verbatim, so a proof re-serialises to exactly the bytes it
//! was parsed from. Verification binds the proof to a leaf hash the caller computed itself from
//! the entry it cares about: the proof never names the entry.

use crate::checkpoint::{CheckpointError, SignedCheckpoint, VerifiedCheckpoint};
use crate::merkle::{self, Hash, MerkleError, MAX_PROOF_HASHES};
use crate::note::{VerifierKey, MAX_NOTE_BYTES};
use crate::{b64, parse};
use thiserror::Error;

/// The first line of every v1 proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Cap on the unauthenticated `extra` data, decoded.
pub const MAX_EXTRA_BYTES: usize = 64 * 1024;

/// Cap on a whole proof file: the checkpoint note cap plus a full path and the extra data.
pub const MAX_PROOF_BYTES: usize = MAX_NOTE_BYTES + 96 * 1024;

#[derive(Debug, Error)]
pub enum ProofError {
    #[error("proof is larger than {MAX_PROOF_BYTES} bytes")]
    TooLarge,
    #[error("malformed proof at line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("checkpoint in proof: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] MerkleError),
}

/// A parsed tlog-proof. `checkpoint_bytes` are the note exactly as it appeared.
#[derive(Clone, Debug)]
pub struct TlogProof {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub path: Vec<Hash>,
    pub checkpoint: SignedCheckpoint,
    checkpoint_bytes: Vec<u8>,
}

impl TlogProof {
    /// Builds a proof around a signed checkpoint (serialised once, then kept verbatim).
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        path: Vec<Hash>,
        checkpoint: SignedCheckpoint,
    ) -> Self {
        let checkpoint_bytes = checkpoint.to_bytes();
        TlogProof {
            extra,
            index,
            path,
            checkpoint,
            checkpoint_bytes,
        }
    }

    /// Builds a proof around checkpoint bytes taken verbatim (e.g. from a log's `checkpoint`
    /// file, cosignatures included); they must parse as a signed checkpoint.
    pub fn from_checkpoint_bytes(
        extra: Option<Vec<u8>>,
        index: u64,
        path: Vec<Hash>,
        checkpoint_bytes: &[u8],
    ) -> Result<Self, ProofError> {
        let checkpoint = SignedCheckpoint::parse(checkpoint_bytes)?;
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint,
            checkpoint_bytes: checkpoint_bytes.to_vec(),
        })
    }

    /// Strict parser: exact header, canonical decimal index, canonical base64 32-byte hashes,
    /// at most 63 of them, one empty line, then a checkpoint note that must itself parse.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(ProofError::TooLarge);
        }
        let malformed = |line, reason| ProofError::Malformed { line, reason };
        // Proof lines are never empty, so the first blank line ends them.
        let split =
            find(bytes, b"\n\n").ok_or(malformed(1, "no blank line before the checkpoint"))?;
        let head =
            std::str::from_utf8(&bytes[..split + 1]).map_err(|_| malformed(1, "not UTF-8"))?;
        let checkpoint_bytes = bytes[split + 2..].to_vec();
        let mut lines = head
            .split_terminator('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .peekable();

        match lines.next() {
            Some((_, HEADER)) => {}
            _ => return Err(malformed(1, "first line is not c2sp.org/tlog-proof@v1")),
        }
        let mut extra = None;
        if let Some((n, l)) = lines.peek().copied() {
            if let Some(data) = l.strip_prefix("extra ") {
                let data = b64::decode_canonical(data)
                    .map_err(|_| malformed(n, "extra is not canonical base64"))?;
                if data.len() > MAX_EXTRA_BYTES {
                    return Err(malformed(n, "extra data too large"));
                }
                extra = Some(data);
                lines.next();
            }
        }
        let (n, l) = lines.next().ok_or(malformed(2, "missing index line"))?;
        let index = l
            .strip_prefix("index ")
            .and_then(parse::canonical_u64)
            .ok_or(malformed(n, "expected `index <N>` in canonical decimal"))?;
        let mut path = Vec::new();
        for (n, l) in lines {
            if path.len() == MAX_PROOF_HASHES {
                return Err(malformed(n, "more than 63 proof hashes"));
            }
            path.push(
                Hash::from_base64(l)
                    .map_err(|_| malformed(n, "hash is not canonical base64 of 32 bytes"))?,
            );
        }
        let checkpoint = SignedCheckpoint::parse(&checkpoint_bytes)?;
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint,
            checkpoint_bytes,
        })
    }

    /// The canonical encoding; for a parsed proof, exactly the input bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&b64::encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.path {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint_bytes);
        bytes
    }

    /// Verifies the checkpoint (log signature, origin, witness quorum) and then that `leaf` is at
    /// `index` in the tree the checkpoint commits to. `leaf` must be computed by the caller from
    /// the entry it means to check, never taken from the proof's context.
    pub fn verify(
        &self,
        leaf: &Hash,
        log_key: &VerifierKey,
        expected_origin: Option<&str>,
        witnesses: &[VerifierKey],
        quorum: usize,
    ) -> Result<VerifiedCheckpoint, ProofError> {
        let verified = self
            .checkpoint
            .verify(log_key, expected_origin, witnesses, quorum)?;
        let cp = &verified.checkpoint;
        merkle::verify_inclusion(self.index, cp.size, leaf, &self.path, &cp.root)?;
        Ok(verified)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::cosignature;
    use crate::merkle::{leaf_hash, tree_root, LeafHashes};
    use crate::note::{SignerKey, ALG_COSIGNATURE_V1};

    struct Fixture {
        log: SignerKey,
        witness: SignerKey,
        leaves: Vec<Hash>,
        proof: TlogProof,
    }

    fn fixture(index: u64, size: u64) -> Fixture {
        let log = SignerKey::from_seed("example.com/log", [7; 32]).unwrap();
        let witness = SignerKey::from_seed("example.com/witness", [9; 32]).unwrap();
        let leaves: Vec<Hash> = (0..size)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect();
        let reader = LeafHashes(&leaves);
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size,
            root: tree_root(size, &reader).unwrap(),
            extensions: vec![],
        };
        let mut signed = SignedCheckpoint::sign(cp, &log).unwrap();
        let cosig = cosignature::cosign(&signed.checkpoint.to_text(), &witness, 1_700_000_000);
        signed.note.add_signature(cosig);
        let path = merkle::inclusion_proof(index, size, &reader).unwrap();
        let proof = TlogProof::new(Some(b"firmware.bin".to_vec()), index, path, signed);
        Fixture {
            log,
            witness,
            leaves,
            proof,
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let f = fixture(5, 13);
        let bytes = f.proof.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra ZmlybXdhcmUuYmlu\nindex 5\n"));
        let parsed = TlogProof::parse(&bytes).unwrap();
        assert_eq!(parsed.to_bytes(), bytes);
        let wkey = f.witness.verifier_key_for(ALG_COSIGNATURE_V1);
        let v = parsed
            .verify(
                &f.leaves[5],
                &f.log.verifier_key(),
                Some("example.com/log"),
                std::slice::from_ref(&wkey),
                1,
            )
            .unwrap();
        assert_eq!(v.witnesses.len(), 1);
        // The wrong leaf, origin or an unmet quorum fail.
        assert!(matches!(
            parsed.verify(&f.leaves[4], &f.log.verifier_key(), None, &[], 0),
            Err(ProofError::Inclusion(MerkleError::RootMismatch))
        ));
        assert!(parsed
            .verify(&f.leaves[5], &f.log.verifier_key(), Some("other"), &[], 0)
            .is_err());
        assert!(matches!(
            parsed.verify(&f.leaves[5], &f.log.verifier_key(), None, &[wkey], 2),
            Err(ProofError::Checkpoint(
                CheckpointError::WitnessQuorum { .. }
            ))
        ));
    }

    #[test]
    fn without_extra_and_single_leaf() {
        let f = fixture(0, 1);
        let mut p = f.proof.clone();
        p.extra = None;
        let bytes = p.to_bytes();
        assert!(bytes.starts_with(b"c2sp.org/tlog-proof@v1\nindex 0\n\nexample.com/log\n1\n"));
        let parsed = TlogProof::parse(&bytes).unwrap();
        assert!(parsed.path.is_empty());
        parsed
            .verify(&f.leaves[0], &f.log.verifier_key(), None, &[], 0)
            .unwrap();
    }

    #[test]
    fn every_byte_mutation_is_rejected_or_equivalent() {
        let f = fixture(6, 11);
        let bytes = f.proof.to_bytes();
        let key = f.log.verifier_key();
        let (mut rejected, mut equivalent) = (0, 0);
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x20, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                match TlogProof::parse(&b).and_then(|p| {
                    p.verify(&f.leaves[6], &key, Some("example.com/log"), &[], 0)
                        .map(|_| p)
                }) {
                    Err(_) => rejected += 1,
                    Ok(p) => {
                        // Only the unauthenticated extra data or an ignored signature line
                        // (the witness's, with no witness required) may change.
                        assert_eq!(
                            (p.index, &p.path, p.checkpoint.checkpoint.clone()),
                            (
                                f.proof.index,
                                &f.proof.path,
                                f.proof.checkpoint.checkpoint.clone()
                            )
                        );
                        equivalent += 1;
                    }
                }
            }
        }
        assert!(
            rejected > equivalent,
            "{rejected} rejected, {equivalent} equivalent"
        );
    }

    #[test]
    fn malformed_inputs() {
        let f = fixture(2, 5);
        let good = String::from_utf8(f.proof.to_bytes()).unwrap();
        let cases = [
            good.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
            good.replace("index 2", "index 02"),
            good.replace("index 2", "index  2"),
            good.replace("index 2", "index +2"),
            good.replace("index 2\n", "index 2\n\n"),
            good.replacen("\n\n", "\n", 1),
            good.replace("extra ZmlybXdhcmUuYmlu", "extra ZmlybXdhcmUuYmlu="),
            good.replace("extra ", "extra  "),
            good.replace("index 2\n", "index 2\nAAAA\n"),
            format!("{good}garbage"),
            good.replacen("c2sp.org/tlog-proof@v1\n", "", 1),
        ];
        for (i, c) in cases.iter().enumerate() {
            let r = TlogProof::parse(c.as_bytes())
                .and_then(|p| p.verify(&f.leaves[2], &f.log.verifier_key(), None, &[], 0));
            assert!(r.is_err(), "case {i} accepted");
        }
        // 64 hashes are refused before anything else is looked at.
        let long = good.replace(
            "index 2\n",
            &format!("index 2\n{}", format!("{}\n", Hash::default()).repeat(64)),
        );
        assert!(matches!(
            TlogProof::parse(long.as_bytes()),
            Err(ProofError::Malformed { .. })
        ));
    }
}
