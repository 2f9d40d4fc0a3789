//! Offline bundles: everything a guest owner needs to check one firmware release against a
//! policy without network access, in one file.
//!
//! ```json
//! {"format":"fwlog-bundle/v1",
//!  "origin":"<log origin>",
//!  "logKey":"<log verifier key>",
//!  "checkpoint":"<signed checkpoint note, verbatim, with cosignatures>",
//!  "release":{"index":N,"entry":"<base64 entry bytes>","proof":["<base64 hash>",…]},
//!  "reproductions":[{"index":M,"entry":"…","proof":[…]},…]}
//! ```
//!
//! The bundle is written as compact JSON in exactly this field order, and a reader rejects any
//! other encoding of the same content (the bytes must re-serialise identically), unknown
//! fields, and duplicate fields. Nothing in a bundle is trusted: the log key and witnesses come
//! from the verifier's policy, every entry is proven against the one checkpoint, and every
//! entry's signature is checked.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{CheckpointError, SignedCheckpoint, VerifiedCheckpoint};
use crate::entry::{self, Entry, EntryError};
use crate::merkle::{self, Hash, MerkleError, MAX_PROOF_HASHES};
use crate::policy::{Acceptance, Policy, Rejection, ReproductionEvidence};
use crate::tiles::MAX_ENTRY_SIZE;

/// The `format` value of this version.
pub const FORMAT: &str = "fwlog-bundle/v1";
/// Largest bundle accepted: a release and up to 255 reproductions of maximal size, base64.
pub const MAX_BUNDLE_BYTES: usize = 24 << 20;
/// Most reproductions one bundle may carry.
pub const MAX_REPRODUCTIONS: usize = 255;

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("bundle is larger than {MAX_BUNDLE_BYTES} bytes")]
    TooLarge,
    #[error("malformed bundle: {0}")]
    Malformed(String),
    #[error("bundle is for log {got:?}, but the policy trusts {want:?}")]
    WrongLog { got: String, want: String },
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("entry {index} is not included in the checkpoint: {source}")]
    NotIncluded { index: u64, source: MerkleError },
    #[error("entry {index}: {source}")]
    Entry { index: u64, source: EntryError },
    #[error("entry {index} is not a {expected}")]
    WrongKind { index: u64, expected: &'static str },
    #[error("the artifact (sha256 {0}) is not a subject of the release")]
    NotASubject(String),
    #[error("policy: {0}")]
    Policy(#[from] Rejection),
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    origin: String,
    #[serde(rename = "logKey")]
    log_key: String,
    checkpoint: String,
    release: WireEntry,
    reproductions: Vec<WireEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct WireEntry {
    index: u64,
    entry: String,
    proof: Vec<String>,
}

/// One logged entry with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenEntry {
    pub index: u64,
    pub entry: Vec<u8>,
    pub proof: Vec<Hash>,
}

/// A parsed bundle. Nothing in it is verified until [`Bundle::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    pub origin: String,
    pub log_key: String,
    pub checkpoint: Vec<u8>,
    pub release: ProvenEntry,
    pub reproductions: Vec<ProvenEntry>,
}

/// The outcome of a successful verification.
#[derive(Clone, Debug)]
pub struct Verified {
    pub checkpoint: VerifiedCheckpoint,
    pub release: entry::ParsedEntry,
    /// The release subject that matched the artifact.
    pub artifact_name: String,
    pub acceptance: Acceptance,
}

fn to_wire(e: &ProvenEntry) -> WireEntry {
    WireEntry {
        index: e.index,
        entry: crate::b64::encode(&e.entry),
        proof: e.proof.iter().map(Hash::to_base64).collect(),
    }
}

fn from_wire(w: &WireEntry) -> Result<ProvenEntry, BundleError> {
    let entry = crate::b64::decode_canonical(&w.entry).map_err(|_| {
        BundleError::Malformed(format!("entry {} is not canonical base64", w.index))
    })?;
    if entry.is_empty() || entry.len() > MAX_ENTRY_SIZE {
        return Err(BundleError::Malformed(format!(
            "entry {} has {} bytes",
            w.index,
            entry.len()
        )));
    }
    if w.proof.len() > MAX_PROOF_HASHES {
        return Err(BundleError::Malformed(format!(
            "entry {} has a proof of {} hashes",
            w.index,
            w.proof.len()
        )));
    }
    let proof = w
        .proof
        .iter()
        .map(|h| {
            Hash::from_base64(h)
                .map_err(|_| BundleError::Malformed(format!("entry {}: bad proof hash", w.index)))
        })
        .collect::<Result<_, _>>()?;
    Ok(ProvenEntry {
        index: w.index,
        entry,
        proof,
    })
}

impl Bundle {
    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = Wire {
            format: FORMAT.to_string(),
            origin: self.origin.clone(),
            log_key: self.log_key.clone(),
            checkpoint: String::from_utf8_lossy(&self.checkpoint).into_owned(),
            release: to_wire(&self.release),
            reproductions: self.reproductions.iter().map(to_wire).collect(),
        };
        // Serialising plain strings and integers cannot fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Strict parse: size cap, known fields only, the right format, canonical encoding.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge);
        }
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
        if wire.format != FORMAT {
            return Err(BundleError::Malformed(format!(
                "format {:?} is not {FORMAT:?}",
                wire.format
            )));
        }
        if wire.reproductions.len() > MAX_REPRODUCTIONS {
            return Err(BundleError::Malformed(format!(
                "more than {MAX_REPRODUCTIONS} reproductions"
            )));
        }
        let bundle = Bundle {
            origin: wire.origin.clone(),
            log_key: wire.log_key.clone(),
            checkpoint: wire.checkpoint.clone().into_bytes(),
            release: from_wire(&wire.release)?,
            reproductions: wire
                .reproductions
                .iter()
                .map(from_wire)
                .collect::<Result<_, _>>()?,
        };
        let mut indexes: Vec<u64> = std::iter::once(bundle.release.index)
            .chain(bundle.reproductions.iter().map(|r| r.index))
            .collect();
        indexes.sort_unstable();
        if indexes.windows(2).any(|w| w[0] == w[1]) {
            return Err(BundleError::Malformed(
                "an entry index appears twice".into(),
            ));
        }
        if bundle.to_bytes() != bytes {
            return Err(BundleError::Malformed(
                "not in canonical form (compact JSON, fields in order)".into(),
            ));
        }
        Ok(bundle)
    }

    /// Verifies the bundle offline for an artifact with SHA-256 `artifact`: the bundle names the
    /// policy's log; the checkpoint meets the log key and witness quorum; every entry is
    /// included in it and correctly signed; the artifact is a subject of the release; and the
    /// release meets the policy's vendor and rebuilder rules.
    pub fn verify(&self, policy: &Policy, artifact: &[u8; 32]) -> Result<Verified, BundleError> {
        if self.origin != policy.origin || self.log_key != policy.log_key.to_string() {
            return Err(BundleError::WrongLog {
                got: format!("{} ({})", self.origin, self.log_key),
                want: format!("{} ({})", policy.origin, policy.log_key),
            });
        }
        let signed = SignedCheckpoint::parse(&self.checkpoint)?;
        let checkpoint = signed.verify(
            &policy.log_key,
            Some(&policy.origin),
            &policy.witnesses,
            policy.witness_quorum,
        )?;
        let (size, root) = (checkpoint.checkpoint.size, checkpoint.checkpoint.root);
        let include = |e: &ProvenEntry| -> Result<Hash, BundleError> {
            let leaf = merkle::leaf_hash(&e.entry);
            merkle::verify_inclusion(e.index, size, &leaf, &e.proof, &root).map_err(|source| {
                BundleError::NotIncluded {
                    index: e.index,
                    source,
                }
            })?;
            Ok(leaf)
        };
        let release_leaf = include(&self.release)?;
        let release =
            entry::parse_entry(&self.release.entry).map_err(|source| BundleError::Entry {
                index: self.release.index,
                source,
            })?;
        let Entry::Release(rel) = &release.entry else {
            return Err(BundleError::WrongKind {
                index: self.release.index,
                expected: "release",
            });
        };
        let artifact_name = rel
            .artifacts
            .iter()
            .find(|a| &a.sha256 == artifact)
            .map(|a| a.name.clone())
            .ok_or_else(|| BundleError::NotASubject(hex::encode(artifact)))?;
        let mut parsed = Vec::with_capacity(self.reproductions.len());
        for r in &self.reproductions {
            include(r)?;
            let p = entry::parse_entry(&r.entry).map_err(|source| BundleError::Entry {
                index: r.index,
                source,
            })?;
            if !matches!(p.entry, Entry::Reproduction(_)) {
                return Err(BundleError::WrongKind {
                    index: r.index,
                    expected: "reproduction",
                });
            }
            parsed.push((r.index, p));
        }
        let evidence: Vec<ReproductionEvidence<'_>> = parsed
            .iter()
            .filter_map(|(index, p)| match &p.entry {
                Entry::Reproduction(rep) => Some(ReproductionEvidence {
                    index: *index,
                    signer: &p.signer,
                    reproduction: rep,
                }),
                Entry::Release(_) => None,
            })
            .collect();
        let acceptance = policy.evaluate(
            &release.signer,
            rel,
            self.release.index,
            &release_leaf,
            &evidence,
        )?;
        Ok(Verified {
            checkpoint,
            artifact_name,
            acceptance,
            release,
        })
    }
}
