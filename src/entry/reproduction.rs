//! The reproduction predicate (`https://fwlog.dev/attestation/reproduction/v1`): a rebuilder
//! states what rebuilding a logged release gave.
//!
//! The single subject is the release entry itself, `{"name":"release","digest":{"sha256":
//! "<SHA-256 of the release entry's bytes>"}}`, and the predicate is
//!
//! ```json
//! {"release":{"origin":"<log origin>","index":12,"leafHash":"<base64>"},
//!  "verdict":"reproduced",
//!  "artifacts":[{"name":"OVMF.fd","digest":{"sha256":"…","sha384":"…"}}],
//!  "environment":{"description":"…","containerImage":"…","debianSnapshot":"…"},
//!  "rebuiltOn":"2026-11-26T12:00:00Z","note":"optional"}
//! ```
//!
//! Whether the verdict agrees with the release's digests needs the release, so it is checked by
//! [`super::check_reproduction`] (and the log's validator), with [`compare`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::release::{exactly_sha256, Environment, Release, WireEnvironment, MAX_TEXT_BYTES};
use super::statement::{
    self, check_text, check_unique_names, present, DigestSet, Obj, StrictMap, Subject,
};
use super::{EntryError, REPRODUCTION_PREDICATE};
use crate::merkle::Hash;
use crate::note::SignerKey;

/// The name of a reproduction's only subject.
pub const RELEASE_SUBJECT: &str = "release";

/// Longest log origin, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 255;

/// What a rebuild gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Every release artifact was rebuilt bit for bit, and nothing else.
    Reproduced,
    /// The build ran, but at least one artifact differs, is missing or is extra.
    Mismatch,
    /// The build did not complete; artifacts may be empty.
    Failed,
}

impl Verdict {
    /// The wire string: `reproduced`, `mismatch` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Mismatch => "mismatch",
            Verdict::Failed => "failed",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = EntryError;

    /// Exactly one of the three wire strings (case-sensitive).
    fn from_str(s: &str) -> Result<Verdict, EntryError> {
        match s {
            "reproduced" => Ok(Verdict::Reproduced),
            "mismatch" => Ok(Verdict::Mismatch),
            "failed" => Ok(Verdict::Failed),
            _ => Err(EntryError::Verdict(s.to_string())),
        }
    }
}

/// Which logged release a reproduction is about: the log, the index, and two hashes of the
/// entry's bytes, so the reference cannot be satisfied by another entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseRef {
    /// The log's origin (checkpoint first line).
    pub origin: String,
    /// The release entry's index in that log.
    pub index: u64,
    /// RFC 9162 leaf hash of the release entry.
    pub leaf_hash: Hash,
    /// SHA-256 of the release entry's bytes (the statement subject's digest).
    pub entry_sha256: [u8; 32],
}

/// One artifact as the rebuilder obtained it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObtainedArtifact {
    /// File name, as in the release.
    pub name: String,
    /// SHA-256 of the rebuilt file.
    pub sha256: [u8; 32],
    /// SHA-384 of the rebuilt file.
    pub sha384: [u8; 48],
}

/// A reproduction statement's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reproduction {
    /// The release rebuilt.
    pub release: ReleaseRef,
    /// The outcome.
    pub verdict: Verdict,
    /// What the rebuild produced (may be empty when it failed).
    pub artifacts: Vec<ObtainedArtifact>,
    /// Where the rebuild ran.
    pub environment: Environment,
    /// Rebuild time, Unix seconds.
    pub rebuilt_on: u64,
    /// Free text, e.g. why a build failed: at most 4096 bytes, no control characters but newline.
    pub note: Option<String>,
}

/// The digests compared for one artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArtifactDigests {
    /// SHA-256.
    pub sha256: [u8; 32],
    /// SHA-384.
    pub sha384: [u8; 48],
}

/// One row of [`compare`]: an artifact name with what the release says and what the rebuild
/// gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactComparison {
    /// Artifact name.
    pub name: String,
    /// The release's digests; `None` for an artifact the release does not have.
    pub expected: Option<ArtifactDigests>,
    /// The rebuild's digests; `None` for an artifact the rebuild did not produce.
    pub obtained: Option<ArtifactDigests>,
    /// Both present and both digests equal.
    pub matches: bool,
}

/// Compares obtained artifacts with a release's. Rows: every release artifact in release order,
/// then obtained artifacts the release does not name (or names twice) in their order. The
/// verdict is [`Verdict::Reproduced`] when every row matches, else [`Verdict::Mismatch`]
/// (never `Failed`, which only the rebuilder can know).
pub fn compare(
    release: &Release,
    obtained: &[ObtainedArtifact],
) -> (Vec<ArtifactComparison>, Verdict) {
    let mut used = vec![false; obtained.len()];
    let mut rows = Vec::with_capacity(release.artifacts.len());
    for a in &release.artifacts {
        let expected = ArtifactDigests {
            sha256: a.sha256,
            sha384: a.sha384,
        };
        let found = obtained
            .iter()
            .enumerate()
            .find(|(i, o)| o.name == a.name && !used.get(*i).copied().unwrap_or(true));
        let got = found.map(|(i, o)| {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
            ArtifactDigests {
                sha256: o.sha256,
                sha384: o.sha384,
            }
        });
        rows.push(ArtifactComparison {
            name: a.name.clone(),
            expected: Some(expected),
            obtained: got,
            matches: got == Some(expected),
        });
    }
    for (o, _) in obtained.iter().zip(&used).filter(|(_, u)| !**u) {
        rows.push(ArtifactComparison {
            name: o.name.clone(),
            expected: None,
            obtained: Some(ArtifactDigests {
                sha256: o.sha256,
                sha384: o.sha384,
            }),
            matches: false,
        });
    }
    let verdict = if rows.iter().all(|r| r.matches) {
        Verdict::Reproduced
    } else {
        Verdict::Mismatch
    };
    (rows, verdict)
}

/// An order-independent digest of a set of artifacts, for checking a reproduction against a
/// release that is no longer in memory: SHA-256 over each artifact in byte order of its name,
/// as the name's length (8 bytes, big-endian), the name, its SHA-256 and its SHA-384.
///
/// When the release's artifact names are unique and so are the rebuild's (as in every entry
/// that parses), [`compare`] says `Reproduced` exactly when the release's digest equals the
/// rebuild's ([`obtained_set_digest`]). Both say that the two sets of (name, SHA-256, SHA-384)
/// are equal: `compare` gives each release artifact the obtained one of the same name, and
/// `Reproduced` means that all of them match and none is left over, a bijection that keeps
/// names and digests; the length prefix makes the encoding of a sorted set injective.
pub fn release_set_digest(release: &Release) -> [u8; 32] {
    set_digest(
        release
            .artifacts
            .iter()
            .map(|a| (a.name.as_str(), &a.sha256, &a.sha384))
            .collect(),
    )
}

/// [`release_set_digest`] of a rebuild's artifacts.
pub fn obtained_set_digest(obtained: &[ObtainedArtifact]) -> [u8; 32] {
    set_digest(
        obtained
            .iter()
            .map(|a| (a.name.as_str(), &a.sha256, &a.sha384))
            .collect(),
    )
}

fn set_digest(mut items: Vec<(&str, &[u8; 32], &[u8; 48])>) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    items.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, sha256, sha384) in items {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(sha256);
        h.update(sha384);
    }
    h.finalize().into()
}

// ---------------------------------------------------------------------------------------------
// Wire form (field order = output order).

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireReproduction {
    release: Obj<WireReleaseRef>,
    verdict: String,
    artifacts: Vec<Obj<WireObtained>>,
    environment: Obj<WireEnvironment>,
    rebuilt_on: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    note: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireReleaseRef {
    origin: String,
    index: u64,
    leaf_hash: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireObtained {
    name: String,
    digest: StrictMap,
}

/// Origin: non-empty, at most 255 bytes, no control characters.
pub fn check_origin(origin: &str) -> Result<(), EntryError> {
    if origin.is_empty() || origin.len() > MAX_ORIGIN_BYTES || origin.chars().any(char::is_control)
    {
        return Err(EntryError::Origin(origin.to_string()));
    }
    Ok(())
}

impl Reproduction {
    /// Checks every field rule of the reproduction predicate that needs no release: origin,
    /// unique valid artifact names, environment, note, timestamp; `reproduced` needs at least
    /// one artifact.
    pub fn check(&self) -> Result<(), EntryError> {
        check_origin(&self.release.origin)?;
        check_unique_names(self.artifacts.iter().map(|a| a.name.as_str()))?;
        if self.verdict == Verdict::Reproduced && self.artifacts.is_empty() {
            return Err(EntryError::VerdictContradicted(
                "reproduced, but no artifacts listed".into(),
            ));
        }
        self.environment.check()?;
        if let Some(note) = &self.note {
            check_text("note", note, MAX_TEXT_BYTES)?;
        }
        statement::check_timestamp("rebuiltOn", self.rebuilt_on)
    }

    /// The in-toto statement, compact JSON, after [`Reproduction::check`].
    pub fn to_statement_bytes(&self) -> Result<Vec<u8>, EntryError> {
        self.check()?;
        let subject = Subject {
            name: RELEASE_SUBJECT.to_string(),
            digest: DigestSet::from_map(BTreeMap::from([(
                "sha256".to_string(),
                hex::encode(self.release.entry_sha256),
            )]))?,
        };
        let wire = WireReproduction {
            release: Obj(WireReleaseRef {
                origin: self.release.origin.clone(),
                index: self.release.index,
                leaf_hash: self.release.leaf_hash.to_base64(),
            }),
            verdict: self.verdict.as_str().to_string(),
            artifacts: self
                .artifacts
                .iter()
                .map(|a| {
                    Obj(WireObtained {
                        name: a.name.clone(),
                        digest: StrictMap(BTreeMap::from([
                            ("sha256".to_string(), hex::encode(a.sha256)),
                            ("sha384".to_string(), hex::encode(a.sha384)),
                        ])),
                    })
                })
                .collect(),
            environment: self.environment.to_wire(),
            rebuilt_on: statement::rfc3339_utc(self.rebuilt_on),
            note: self.note.clone(),
        };
        statement::write(&[subject], REPRODUCTION_PREDICATE, &wire)
    }

    /// Parses a statement strictly as a reproduction: predicate type, the single `release`
    /// subject with exactly a sha256 digest, artifacts with exactly sha256 and sha384, and every
    /// rule of [`Reproduction::check`].
    pub fn from_statement(statement_bytes: &[u8]) -> Result<Reproduction, EntryError> {
        let (subjects, wire) =
            statement::parse::<WireReproduction>(statement_bytes, REPRODUCTION_PREDICATE)?;
        let [subject] = subjects.as_slice() else {
            return Err(EntryError::ReproductionSubject(format!(
                "expected exactly one subject, got {}",
                subjects.len()
            )));
        };
        if subject.name != RELEASE_SUBJECT {
            return Err(EntryError::ReproductionSubject(format!(
                "the subject must be named {RELEASE_SUBJECT:?}"
            )));
        }
        let entry_sha256 = exactly_sha256(subject.digest.as_map()).ok_or_else(|| {
            EntryError::ReproductionSubject("digest must be exactly {sha256}".into())
        })?;
        let Obj(r) = wire.release;
        let leaf_hash =
            Hash::from_base64(&r.leaf_hash).map_err(|_| EntryError::Base64("leafHash"))?;
        let artifacts = wire
            .artifacts
            .into_iter()
            .map(|Obj(a)| obtained(a))
            .collect::<Result<Vec<_>, _>>()?;
        let repro = Reproduction {
            release: ReleaseRef {
                origin: r.origin,
                index: r.index,
                leaf_hash,
                entry_sha256,
            },
            verdict: wire.verdict.parse()?,
            artifacts,
            environment: Environment::from_wire(wire.environment.0)?,
            rebuilt_on: statement::timestamp("rebuiltOn", &wire.rebuilt_on)?,
            note: wire.note,
        };
        repro.check()?;
        Ok(repro)
    }

    /// Statement bytes signed into an envelope, refusing what would not fit in the log.
    pub fn sign(&self, key: &SignerKey) -> Result<Vec<u8>, EntryError> {
        super::sign_checked(&self.to_statement_bytes()?, key)
    }
}

fn obtained(w: WireObtained) -> Result<ObtainedArtifact, EntryError> {
    let digest = DigestSet::from_map(w.digest.0)?;
    let (Some(sha256), Some(sha384), 2) = (digest.sha256(), digest.sha384(), digest.as_map().len())
    else {
        return Err(EntryError::Digest {
            alg: digest.algorithms().collect::<Vec<_>>().join(","),
            reason: "an obtained artifact's digest must be exactly {sha256, sha384}",
        });
    };
    Ok(ObtainedArtifact {
        name: w.name,
        sha256,
        sha384,
    })
}

/// The release index a reproduction statement names, read loosely (unknown fields skipped,
/// nothing validated): `None` for anything else. A hint for prefetching, never a verdict; it
/// costs a fraction of [`Reproduction::from_statement`].
pub(crate) fn release_index_hint(statement: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "predicateType")]
        predicate_type: String,
        predicate: Predicate,
    }
    #[derive(Deserialize)]
    struct Predicate {
        release: Option<Index>,
    }
    #[derive(Deserialize)]
    struct Index {
        index: u64,
    }
    let head: Head = serde_json::from_slice(statement).ok()?;
    if head.predicate_type != REPRODUCTION_PREDICATE {
        return None;
    }
    head.predicate.release.map(|r| r.index)
}
