//! One pass over a log's entries, sorting them into releases and reproductions, with the root
//! recomputed on the way so that what was read is exactly what the checkpoint commits to.
//!
//! Used to build offline bundles and allowlists from a local clone. Memory grows with the
//! number of releases and reproductions (their parsed content), never with entry bytes.

use std::collections::BTreeMap;

use crate::bundle::{Bundle, ProvenEntry};
use crate::entry::release::SevTails;
use crate::entry::{self, Entry, Release, Reproduction};
use crate::merkle::{self, Frontier, Hash};
use crate::note::VerifierKey;
use crate::policy::{Acceptance, Policy, Rejection, ReproductionEvidence};
use crate::store::{Snapshot, StoreError};

/// A release entry found in the log.
#[derive(Clone, Debug)]
pub struct LoggedRelease {
    pub index: u64,
    pub leaf: Hash,
    pub signer: VerifierKey,
    pub release: Release,
    /// The `sevTail` of the release's artifacts that have one, by artifact name.
    pub sev_tails: SevTails,
}

/// A reproduction entry found in the log.
#[derive(Clone, Debug)]
pub struct LoggedReproduction {
    pub index: u64,
    pub signer: VerifierKey,
    pub reproduction: Reproduction,
}

/// Every valid entry of a snapshot, by kind, plus the indexes of entries that did not parse.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub releases: Vec<LoggedRelease>,
    /// Reproductions grouped by the index of the release they are about.
    pub reproductions: BTreeMap<u64, Vec<LoggedReproduction>>,
    pub invalid: Vec<(u64, String)>,
}

impl Catalog {
    /// Reads every entry of `snap`, checks that they hash to the checkpoint's root, and sorts
    /// them. The caller must have verified the checkpoint's signature.
    pub fn scan(snap: &Snapshot<'_>) -> Result<Catalog, StoreError> {
        let mut cat = Catalog::default();
        let mut frontier = Frontier::new();
        snap.for_each_entry(|index, bytes| {
            let leaf = merkle::leaf_hash(bytes);
            frontier.push(leaf);
            match entry::parse_entry(bytes) {
                Ok(p) => match p.entry {
                    Entry::Release(release) => cat.releases.push(LoggedRelease {
                        index,
                        leaf,
                        signer: p.signer,
                        // Parsed once more for the tails; it parsed above, so it parses again.
                        sev_tails: Release::from_statement_with_sev_tails(&p.statement_bytes)
                            .map(|(_, tails)| tails)
                            .unwrap_or_default(),
                        release,
                    }),
                    Entry::Reproduction(reproduction) => cat
                        .reproductions
                        .entry(reproduction.release.index)
                        .or_default()
                        .push(LoggedReproduction {
                            index,
                            signer: p.signer,
                            reproduction,
                        }),
                },
                Err(e) => cat.invalid.push((index, e.to_string())),
            }
            Ok(())
        })?;
        if frontier.root() != snap.root() {
            return Err(StoreError::Corrupt {
                path: "tile/entries".into(),
                reason: "the entries do not hash to the checkpoint's root; run `fwlog log verify`"
                    .into(),
            });
        }
        Ok(cat)
    }

    /// The reproductions about release `index`.
    pub fn reproductions_of(&self, index: u64) -> &[LoggedReproduction] {
        self.reproductions
            .get(&index)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The releases that list an artifact with this SHA-256, oldest first.
    pub fn releases_with(&self, sha256: &[u8; 32]) -> Vec<&LoggedRelease> {
        self.releases
            .iter()
            .filter(|r| r.release.artifacts.iter().any(|a| &a.sha256 == sha256))
            .collect()
    }

    /// Evaluates one logged release against a policy.
    pub fn evaluate(&self, policy: &Policy, r: &LoggedRelease) -> Result<Acceptance, Rejection> {
        let evidence: Vec<ReproductionEvidence<'_>> = self
            .reproductions_of(r.index)
            .iter()
            .map(|x| ReproductionEvidence {
                index: x.index,
                signer: &x.signer,
                reproduction: &x.reproduction,
            })
            .collect();
        policy.evaluate(&r.signer, &r.release, r.index, &r.leaf, &evidence)
    }

    /// An offline bundle for release `r`: its entry and every reproduction about it, each with an
    /// inclusion proof against the snapshot's checkpoint (kept verbatim, cosignatures included).
    pub fn bundle(&self, snap: &Snapshot<'_>, r: &LoggedRelease) -> Result<Bundle, StoreError> {
        let prove = |index: u64| -> Result<ProvenEntry, StoreError> {
            let entry = snap.entry(index)?;
            let proof = snap.prove(index)?.path;
            Ok(ProvenEntry {
                index,
                entry,
                proof,
            })
        };
        let release = prove(r.index)?;
        let reproductions = self
            .reproductions_of(r.index)
            .iter()
            .filter(|x| {
                x.reproduction.release.leaf_hash == r.leaf
                    && x.reproduction.release.origin == snap.info.origin
            })
            .take(crate::bundle::MAX_REPRODUCTIONS)
            .map(|x| prove(x.index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Bundle {
            origin: snap.info.origin.clone(),
            log_key: snap.info.key.to_string(),
            checkpoint: snap.checkpoint_bytes.clone(),
            release,
            reproductions,
        })
    }
}
