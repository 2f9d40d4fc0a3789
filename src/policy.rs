//! Guest-owner policy: which log, which witnesses, which vendors may release which firmware,
//! and how many independent rebuilders must have reproduced a release.
//!
//! The file is TOML with exactly these keys (portable between tools); unknown keys and
//! duplicate keys are rejected:
//!
//! ```toml
//! [log]
//! origin = "example.com/firmware-log"
//! key = "example.com/firmware-log+1a2b3c4d+AQ..."      # log verifier key (type 0x01)
//! [witnesses]
//! quorum = 1                                           # 0 = no witness needed
//! keys = ["witness.example/w1+...+BA..."]              # cosignature/v1 (0x04) keys
//! [[vendors]]
//! key = "vendor.example/release+...+AQ..."
//! firmware = ["seabios", "ovmf"]                       # names this key may release
//! [rebuilders]
//! quorum = 2
//! keys = ["go-a.example/rebuild+...", "go-b.example/rebuild+..."]
//! on_mismatch = "reject"                               # or "ignore"
//! ```
//!
//! Evaluation ([`Policy::evaluate`]) is pure: it takes entries that were already parsed,
//! signature-checked and proven to be in a checkpoint that met [`Policy::log_key`] and the
//! witness quorum, and decides.

use std::collections::BTreeSet;

use serde::Deserialize;
use thiserror::Error;

use crate::entry::release::Release;
use crate::entry::reproduction::{self, Reproduction, Verdict};
use crate::merkle::Hash;
use crate::note::{VerifierKey, ALG_COSIGNATURE_V1, ALG_ED25519};

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 1 << 20;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy is not valid TOML for fwlog: {0}")]
    Syntax(String),
    #[error("policy: {0}")]
    Invalid(String),
}

/// What the policy says about reproductions that report a mismatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnMismatch {
    /// A mismatch from a trusted rebuilder rejects the release.
    #[default]
    Reject,
    /// Mismatches are reported but do not reject.
    Ignore,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    log: LogSection,
    witnesses: Option<Quorum>,
    #[serde(default)]
    vendors: Vec<VendorSection>,
    rebuilders: Option<Rebuilders>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    origin: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quorum {
    quorum: usize,
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VendorSection {
    key: String,
    firmware: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rebuilders {
    quorum: usize,
    keys: Vec<String>,
    #[serde(default)]
    on_mismatch: OnMismatch,
}

/// A vendor key and the firmware names it may release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vendor {
    pub key: VerifierKey,
    pub firmware: BTreeSet<String>,
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub origin: String,
    pub log_key: VerifierKey,
    pub witness_quorum: usize,
    pub witnesses: Vec<VerifierKey>,
    pub vendors: Vec<Vendor>,
    pub rebuilder_quorum: usize,
    pub rebuilders: Vec<VerifierKey>,
    pub on_mismatch: OnMismatch,
}

/// Why a release does not meet the policy: the first rule that failed, in words.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Rejection {
    #[error("release is signed by {signer}, which is not a vendor key in the policy")]
    UnknownVendor { signer: String },
    #[error("vendor key {signer} may not release firmware {name:?} (allowed: {allowed})")]
    FirmwareNotAllowed {
        signer: String,
        name: String,
        allowed: String,
    },
    #[error(
        "only {have} of the required {need} trusted rebuilders reproduced this release{detail}"
    )]
    RebuilderQuorum {
        have: usize,
        need: usize,
        detail: String,
    },
    #[error("trusted rebuilder {signer} reported a mismatch for this release (entry {index})")]
    Mismatch { signer: String, index: u64 },
}

/// A release that meets the policy, with the evidence counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acceptance {
    /// Names of the distinct trusted rebuilder keys that reproduced it.
    pub reproduced_by: Vec<String>,
    /// Names of trusted rebuilder keys that reported a mismatch (when `on_mismatch = "ignore"`).
    pub mismatches_ignored: Vec<String>,
}

/// One reproduction considered by [`Policy::evaluate`]: its log index, signer and content.
pub struct ReproductionEvidence<'a> {
    pub index: u64,
    pub signer: &'a VerifierKey,
    pub reproduction: &'a Reproduction,
}

impl Policy {
    /// Parses and validates a policy file: every key string parses, witness keys are
    /// cosignature (0x04) keys, all others Ed25519 (0x01) keys, quorums are reachable, vendor
    /// firmware lists are non-empty, and no key is listed twice in one role.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::Invalid(format!(
                "larger than {MAX_POLICY_BYTES} bytes"
            )));
        }
        let file: File = toml::from_str(text)
            .map_err(|e| PolicyError::Syntax(e.to_string().trim().replace('\n', " ")))?;
        let key = |s: &str, role: &str, alg: u8| -> Result<VerifierKey, PolicyError> {
            let k = VerifierKey::parse(s)
                .map_err(|e| PolicyError::Invalid(format!("{role} key {s:?}: {e}")))?;
            if k.alg() != alg {
                let want = if alg == ALG_COSIGNATURE_V1 {
                    "a cosignature/v1 (0x04)"
                } else {
                    "an Ed25519 (0x01)"
                };
                return Err(PolicyError::Invalid(format!(
                    "{role} key {s:?} must be {want} key"
                )));
            }
            Ok(k)
        };
        let keys =
            |list: &[String], role: &str, alg: u8| -> Result<Vec<VerifierKey>, PolicyError> {
                let mut out: Vec<VerifierKey> = Vec::new();
                for s in list {
                    let k = key(s, role, alg)?;
                    // The same key material under another name is the same signer: it must count once.
                    if out.iter().any(|o| o.public_key() == k.public_key()) {
                        return Err(PolicyError::Invalid(format!(
                            "{role} key {s:?} is listed twice"
                        )));
                    }
                    out.push(k);
                }
                Ok(out)
            };
        if file.log.origin.is_empty() {
            return Err(PolicyError::Invalid("log origin is empty".into()));
        }
        let log_key = key(&file.log.key, "log", ALG_ED25519)?;
        let (witness_quorum, witnesses) = match &file.witnesses {
            Some(w) => (w.quorum, keys(&w.keys, "witness", ALG_COSIGNATURE_V1)?),
            None => (0, Vec::new()),
        };
        if witness_quorum > witnesses.len() {
            return Err(PolicyError::Invalid(format!(
                "witness quorum {witness_quorum} is more than the {} witness keys listed",
                witnesses.len()
            )));
        }
        let mut vendors: Vec<Vendor> = Vec::new();
        for v in &file.vendors {
            let k = key(&v.key, "vendor", ALG_ED25519)?;
            if vendors.iter().any(|x| x.key == k) {
                return Err(PolicyError::Invalid(format!(
                    "vendor key {:?} is listed twice",
                    v.key
                )));
            }
            if v.firmware.is_empty() {
                return Err(PolicyError::Invalid(format!(
                    "vendor key {:?} may release no firmware",
                    v.key
                )));
            }
            vendors.push(Vendor {
                key: k,
                firmware: v.firmware.iter().cloned().collect(),
            });
        }
        let (rebuilder_quorum, rebuilders, on_mismatch) = match &file.rebuilders {
            Some(r) => (
                r.quorum,
                keys(&r.keys, "rebuilder", ALG_ED25519)?,
                r.on_mismatch,
            ),
            None => (0, Vec::new(), OnMismatch::Reject),
        };
        if rebuilder_quorum > rebuilders.len() {
            return Err(PolicyError::Invalid(format!(
                "rebuilder quorum {rebuilder_quorum} is more than the {} rebuilder keys listed",
                rebuilders.len()
            )));
        }
        Ok(Policy {
            origin: file.log.origin,
            log_key,
            witness_quorum,
            witnesses,
            vendors,
            rebuilder_quorum,
            rebuilders,
            on_mismatch,
        })
    }

    /// Decides whether `release` (at `release_index`, with `release_leaf`, signed by `signer`)
    /// meets the policy given the reproductions about it. Reproductions from keys the policy
    /// does not list, or about another entry, are ignored; a trusted key counts once however
    /// many entries it signed, and a trusted key that reported a mismatch (or whose
    /// "reproduced" artifacts do not match the release) does not count.
    ///
    /// This is [`Policy::classify`] of each reproduction, then [`Policy::evaluate_classified`].
    pub fn evaluate(
        &self,
        signer: &VerifierKey,
        release: &Release,
        release_index: u64,
        release_leaf: &Hash,
        reproductions: &[ReproductionEvidence<'_>],
    ) -> Result<Acceptance, Rejection> {
        let found: Vec<Finding> = reproductions
            .iter()
            .filter_map(|r| self.classify(release, release_index, release_leaf, r))
            .collect();
        self.evaluate_classified(signer, release, &found)
    }

    /// The position of `key` among the trusted rebuilders.
    pub fn rebuilder_position(&self, key: &VerifierKey) -> Option<usize> {
        self.rebuilders.iter().position(|k| k == key)
    }

    /// What one reproduction says about `release` (at `release_index`, with `release_leaf`):
    /// `None` when it does not count (about another entry or log, signed by a key that is not a
    /// trusted rebuilder, or a `failed` verdict); otherwise a reproduction when the rebuilder
    /// says `reproduced` and its artifacts match the release's, else a mismatch.
    pub fn classify(
        &self,
        release: &Release,
        release_index: u64,
        release_leaf: &Hash,
        r: &ReproductionEvidence<'_>,
    ) -> Option<Finding> {
        let about = &r.reproduction.release;
        if about.origin != self.origin
            || about.index != release_index
            || &about.leaf_hash != release_leaf
        {
            return None;
        }
        let rebuilder = u32::try_from(self.rebuilder_position(r.signer)?).ok()?;
        let (_, implied) = reproduction::compare(release, &r.reproduction.artifacts);
        Finding::of(r.index, rebuilder, r.reproduction.verdict, implied)
    }

    /// Decides whether `release`, signed by `signer`, meets the policy given what the trusted
    /// rebuilders found, in log order (the first mismatch is the one reported).
    pub fn evaluate_classified(
        &self,
        signer: &VerifierKey,
        release: &Release,
        found: &[Finding],
    ) -> Result<Acceptance, Rejection> {
        let vendor = self
            .vendors
            .iter()
            .find(|v| &v.key == signer)
            .ok_or_else(|| Rejection::UnknownVendor {
                signer: signer.to_string(),
            })?;
        if !vendor.firmware.contains(&release.firmware_name) {
            return Err(Rejection::FirmwareNotAllowed {
                signer: signer.name().to_string(),
                name: release.firmware_name.clone(),
                allowed: vendor
                    .firmware
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // Positions in `self.rebuilders`, so each trusted key counts once.
        let mut good: BTreeSet<usize> = BTreeSet::new();
        let mut bad: BTreeSet<usize> = BTreeSet::new();
        let mut first_bad: Option<(usize, u64)> = None;
        for f in found {
            let k = f.rebuilder as usize;
            // A position out of range is not a trusted key: it cannot count.
            if k >= self.rebuilders.len() {
                continue;
            }
            if f.reproduced {
                good.insert(k);
            } else {
                bad.insert(k);
                first_bad.get_or_insert((k, f.index));
            }
        }
        if self.on_mismatch == OnMismatch::Reject {
            if let Some((k, index)) = first_bad {
                return Err(Rejection::Mismatch {
                    signer: self.rebuilders[k].name().to_string(),
                    index,
                });
            }
        }
        let name = |i: &usize| self.rebuilders[*i].name().to_string();
        let reproduced_by: Vec<String> = good.difference(&bad).map(name).collect();
        if reproduced_by.len() < self.rebuilder_quorum {
            let detail = if reproduced_by.is_empty() {
                String::new()
            } else {
                format!(" ({})", reproduced_by.join(", "))
            };
            return Err(Rejection::RebuilderQuorum {
                have: reproduced_by.len(),
                need: self.rebuilder_quorum,
                detail,
            });
        }
        Ok(Acceptance {
            reproduced_by,
            mismatches_ignored: bad.iter().map(name).collect(),
        })
    }
}

/// What one trusted rebuilder's reproduction entry says about a release, once compared with it
/// (see [`Policy::classify`]). [`crate::catalog::evaluate_releases`] keeps these as bits per
/// release, so that its memory does not grow with the number of reproductions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The reproduction's log index.
    pub index: u64,
    /// Its signer's position in [`Policy::rebuilders`].
    pub rebuilder: u32,
    /// The rebuilder said `reproduced` and its artifacts match the release's; otherwise it
    /// said `mismatch`, or said `reproduced` of artifacts that do not match.
    pub reproduced: bool,
}

impl Finding {
    /// The finding of a reproduction at `index` by trusted rebuilder `rebuilder`, given its
    /// verdict and the verdict its artifacts imply (see [`reproduction::compare`]); `None` for a
    /// `failed` verdict, which says nothing about the release.
    pub fn of(index: u64, rebuilder: u32, said: Verdict, implied: Verdict) -> Option<Finding> {
        match (said, implied) {
            (Verdict::Failed, _) => None,
            (Verdict::Reproduced, Verdict::Reproduced) => Some(Finding {
                index,
                rebuilder,
                reproduced: true,
            }),
            _ => Some(Finding {
                index,
                rebuilder,
                reproduced: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::SignerKey;

    fn key(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(name, [seed; 32]).unwrap()
    }

    fn policy_text() -> String {
        format!(
            "[log]\norigin = \"example.com/log\"\nkey = \"{}\"\n[witnesses]\nquorum = 1\nkeys = [\"{}\"]\n\
             [[vendors]]\nkey = \"{}\"\nfirmware = [\"ovmf\"]\n[rebuilders]\nquorum = 2\nkeys = [\"{}\", \"{}\"]\non_mismatch = \"reject\"\n",
            key("example.com/log", 1).verifier_key(),
            key("w.example/w1", 2).verifier_key_for(ALG_COSIGNATURE_V1),
            key("vendor.example/release", 3).verifier_key(),
            key("go-a.example/rebuild", 4).verifier_key(),
            key("go-b.example/rebuild", 5).verifier_key(),
        )
    }

    #[test]
    fn parses_the_documented_shape() {
        let p = Policy::parse(&policy_text()).unwrap();
        assert_eq!(p.origin, "example.com/log");
        assert_eq!((p.witness_quorum, p.witnesses.len()), (1, 1));
        assert_eq!((p.rebuilder_quorum, p.rebuilders.len()), (2, 2));
        assert_eq!(p.on_mismatch, OnMismatch::Reject);
        assert!(p.vendors[0].firmware.contains("ovmf"));
    }

    #[test]
    fn rejects_unknown_duplicate_and_inconsistent_keys() {
        let good = policy_text();
        let cases = [
            good.replace("[log]\n", "[log]\nextra = 1\n"),
            good.replace(
                "origin = \"example.com/log\"\n",
                "origin = \"example.com/log\"\norigin = \"x\"\n",
            ),
            good.replace("quorum = 2", "quorum = 3"),
            good.replace("quorum = 1", "quorum = 2"),
            good.replace("on_mismatch = \"reject\"", "on_mismatch = \"maybe\""),
            good.replace("firmware = [\"ovmf\"]", "firmware = []"),
            good.replace("[rebuilders]", "[rebuilder]"),
            // A witness key of the wrong type (0x01 instead of 0x04).
            good.replace(
                &key("w.example/w1", 2)
                    .verifier_key_for(ALG_COSIGNATURE_V1)
                    .to_string(),
                &key("w.example/w1", 2).verifier_key().to_string(),
            ),
            good.replace("key = \"example.com", "key = \"xexample.com"),
            "not toml [".to_string(),
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(Policy::parse(c).is_err(), "case {i} accepted:\n{c}");
        }
        let dup_rebuilder = good.replace(
            &format!("\"{}\"]", key("go-b.example/rebuild", 5).verifier_key()),
            &format!("\"{}\"]", key("go-a.example/rebuild", 4).verifier_key()),
        );
        assert!(Policy::parse(&dup_rebuilder)
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
    }
}
