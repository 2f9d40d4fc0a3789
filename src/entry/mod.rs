//! The entries fwlog logs: signed in-toto statements about firmware releases and their
//! reproductions.
//!
//! An entry's bytes are a DSSE envelope ([`dsse`]), JSON, exactly as signed and submitted; the
//! log never re-serialises it. Its payload is an in-toto Statement v1 ([`statement`]) whose
//! predicate is either a release ([`release`], [`RELEASE_PREDICATE`]) or a reproduction
//! ([`reproduction`], [`REPRODUCTION_PREDICATE`]).
//!
//! The envelope's `keyid` is the signer's Go-note verifier key string, so every entry carries
//! the key that signed it; [`parse_entry`] verifies the signature under that key, and deciding
//! whether the key is trusted (a vendor, a known rebuilder) is the policy's job.
//!
//! [`FwlogEntries`] is the [`crate::store::EntryValidator`] the log runs on every entry before
//! it is appended and again during audits: a reproduction must point at a release in the same
//! log, by index, leaf hash and SHA-256, and its verdict must agree with the digests.

pub mod dsse;
pub mod release;
pub mod reproduction;
pub mod statement;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::merkle;
use crate::note::{NoteError, SignerKey, VerifierKey};
use crate::store::{EntryInfo, EntryLookup, EntryValidator};

pub use release::{Artifact, Environment, Release};
pub use reproduction::{compare, ObtainedArtifact, ReleaseRef, Reproduction, Verdict};
pub use statement::{parse_rfc3339_utc, rfc3339_utc};

/// The DSSE payload type of every entry: an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Predicate type of release statements.
pub const RELEASE_PREDICATE: &str = "https://fwlog.dev/attestation/release/v1";

/// Predicate type of reproduction statements.
pub const REPRODUCTION_PREDICATE: &str = "https://fwlog.dev/attestation/reproduction/v1";

/// Largest entry: the tile format stores lengths as u16.
pub const MAX_ENTRY_BYTES: usize = crate::tiles::MAX_ENTRY_SIZE;

/// Why an entry (or a statement, or a reproduction's reference) was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// Over [`MAX_ENTRY_BYTES`].
    #[error("entry is {0} bytes; the limit is 65535")]
    TooLarge(usize),
    /// Not JSON, not an object, an unknown or missing field, a duplicate key, a wrong type.
    #[error("malformed DSSE envelope: {0}")]
    MalformedEnvelope(String),
    /// Base64 that is not canonical standard padded base64, or of the wrong length.
    #[error("{0} is not canonical standard base64 of the right length")]
    Base64(&'static str),
    /// `payloadType` other than [`PAYLOAD_TYPE`].
    #[error("payloadType {0:?} is not application/vnd.in-toto+json")]
    PayloadType(String),
    /// Not exactly one signature.
    #[error("envelope has {0} signatures; exactly one is required")]
    SignatureCount(usize),
    /// A signature that is not 64 bytes.
    #[error("signature is {0} bytes, not 64")]
    SignatureLength(usize),
    /// `keyid` is not a verifier key string.
    #[error("keyid is not a verifier key: {0}")]
    KeyId(NoteError),
    /// `keyid` names a key of another signature type than Ed25519 (0x01).
    #[error("keyid is a key of type 0x{0:02x}; entries are signed with type 0x01 keys")]
    KeyType(u8),
    /// The signature does not verify under the key named by `keyid`.
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    /// The payload is not a statement of the expected shape.
    #[error("malformed statement: {0}")]
    MalformedStatement(String),
    /// `_type` other than in-toto Statement v1.
    #[error("statement _type {0:?} is not https://in-toto.io/Statement/v1")]
    StatementType(String),
    /// A predicate type fwlog does not log.
    #[error("unknown predicateType {0:?}")]
    UnknownPredicateType(String),
    /// A statement parsed as one predicate type holds another.
    #[error("predicateType {got:?} is not the expected {expected:?}")]
    PredicateTypeMismatch {
        /// The type the parser handles.
        expected: String,
        /// The statement's type.
        got: String,
    },
    /// A statement without subjects (or a release without artifacts).
    #[error("statement has no subjects")]
    NoSubjects,
    /// A digest algorithm name or value breaks the rules.
    #[error("digest {alg}: {reason}")]
    Digest {
        /// The algorithm (or field) name.
        alg: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A subject lacks a digest fwlog requires.
    #[error("subject {name:?} has no {alg} digest")]
    MissingDigest {
        /// Subject name.
        name: String,
        /// The missing algorithm.
        alg: &'static str,
    },
    /// An artifact or subject name breaks the rules.
    #[error("name {name:?} {reason}")]
    Name {
        /// The name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A name appears twice among subjects or artifacts.
    #[error("name {0:?} appears twice")]
    DuplicateName(String),
    /// Free text or a token field breaks the rules.
    #[error("{field}: {reason}")]
    Text {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `firmware.name` is not `[a-z0-9][a-z0-9._+-]{0,63}`.
    #[error("firmware name {0:?} does not match [a-z0-9][a-z0-9._+-]{{0,63}}")]
    FirmwareName(String),
    /// `firmware.version` is not 1..64 printable ASCII without spaces.
    #[error("version {0:?} must be 1 to 64 printable ASCII characters without spaces")]
    Version(String),
    /// The recipe is empty or too long.
    #[error("recipe is {0}")]
    Recipe(&'static str),
    /// An `env` name is malformed or reserved.
    #[error("env name {key:?}: {reason}")]
    EnvKey {
        /// The name.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An `env` value is malformed.
    #[error("env value of {key}: {reason}")]
    EnvValue {
        /// The name.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// More than 64 `env` pairs.
    #[error("{0} env pairs; at most 64 are allowed")]
    TooManyEnv(usize),
    /// `buildType` other than [`release::BUILD_TYPE`].
    #[error("unknown buildType {0:?}")]
    BuildType(String),
    /// `resolvedDependencies` is not exactly one `source` with a sha256 digest.
    #[error("resolvedDependencies: {0}")]
    Dependencies(String),
    /// A release's `artifacts` do not match its subjects one to one.
    #[error("artifacts do not match subjects: {0}")]
    ArtifactsMismatch(String),
    /// A timestamp that is not `YYYY-MM-DDTHH:MM:SSZ` or out of range.
    #[error("{field} {value:?} is not a YYYY-MM-DDTHH:MM:SSZ time between 1970 and 9999")]
    Timestamp {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// A verdict other than `reproduced`, `mismatch` or `failed`.
    #[error("unknown verdict {0:?}")]
    Verdict(String),
    /// A log origin that is empty, too long or has control characters.
    #[error("invalid origin {0:?}")]
    Origin(String),
    /// A reproduction's subject is not the single `release` subject.
    #[error("reproduction subject: {0}")]
    ReproductionSubject(String),
    /// A reproduction names an index the log does not have (yet).
    #[error("release index {index} is not in the log (size {size})")]
    ReleaseIndex {
        /// The referenced index.
        index: u64,
        /// The log size.
        size: u64,
    },
    /// A reproduction points at an entry that is not a release.
    #[error("entry {0} is not a release")]
    NotARelease(u64),
    /// A reproduction's leaf hash is not the referenced entry's.
    #[error("leafHash does not match entry {0}")]
    LeafHashMismatch(u64),
    /// A reproduction's subject digest is not the referenced entry's SHA-256.
    #[error("subject sha256 does not match entry {0}")]
    EntryDigestMismatch(u64),
    /// A reproduction names another log.
    #[error("reproduction is for log {got:?}, not this log {expected:?}")]
    OriginMismatch {
        /// This log's origin.
        expected: String,
        /// The reproduction's origin.
        got: String,
    },
    /// The verdict disagrees with the digests.
    #[error("verdict contradicted: {0}")]
    VerdictContradicted(String),
    /// The referenced entry could not be read.
    #[error("reading the release entry: {0}")]
    Lookup(String),
    /// JSON serialisation failed (not expected to happen).
    #[error("serialising: {0}")]
    Serialize(String),
}

/// An entry's statement, by predicate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A vendor's release.
    Release(release::Release),
    /// A rebuilder's reproduction of a logged release.
    Reproduction(reproduction::Reproduction),
}

/// A parsed, signature-checked entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedEntry {
    /// The key that signed the envelope (from its `keyid`); not yet trusted by anyone.
    pub signer: VerifierKey,
    /// The signed payload, verbatim.
    pub statement_bytes: Vec<u8>,
    /// The statement's content.
    pub entry: Entry,
}

/// Parses AND verifies the envelope's signature, then parses the statement and predicate
/// strictly.
pub fn parse_entry(bytes: &[u8]) -> Result<ParsedEntry, EntryError> {
    let envelope = dsse::Envelope::parse(bytes)?;
    let signer = envelope.verify()?;
    let entry = parse_statement(&envelope.payload)?;
    Ok(ParsedEntry {
        signer,
        statement_bytes: envelope.payload,
        entry,
    })
}

/// Parses statement bytes as whichever predicate they declare (no signature involved).
pub fn parse_statement(statement_bytes: &[u8]) -> Result<Entry, EntryError> {
    // One pass instead of two for what fwlog writes: when the text names a predicate type, try
    // that parser first. Its success is the answer (it checks the statement's head and its
    // `predicateType` too); on any failure the two-pass path below decides, errors included.
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static FINDERS: LazyLock<[Finder<'static>; 2]> = LazyLock::new(|| {
        [REPRODUCTION_PREDICATE, RELEASE_PREDICATE]
            .map(|p| Finder::new(format!("\"predicateType\":\"{p}\"").as_bytes()).into_owned())
    });
    let [reproduction, release] = &*FINDERS;
    let names = |finder: &Finder<'_>| finder.find(statement_bytes).is_some();
    if names(reproduction) {
        if let Ok(r) = Reproduction::from_statement(statement_bytes) {
            return Ok(Entry::Reproduction(r));
        }
    } else if names(release) {
        if let Ok(r) = Release::from_statement(statement_bytes) {
            return Ok(Entry::Release(r));
        }
    }
    match statement::predicate_type(statement_bytes)?.as_str() {
        RELEASE_PREDICATE => Ok(Entry::Release(Release::from_statement(statement_bytes)?)),
        REPRODUCTION_PREDICATE => Ok(Entry::Reproduction(Reproduction::from_statement(
            statement_bytes,
        )?)),
        other => Err(EntryError::UnknownPredicateType(other.to_string())),
    }
}

/// Signs a statement into envelope bytes (compact JSON, one signature, keyid = the key's
/// verifier key string). Does not check the statement; [`Release::sign`] and
/// [`Reproduction::sign`] do.
pub fn sign_entry(statement_bytes: &[u8], key: &SignerKey) -> Vec<u8> {
    dsse::Envelope::sign(PAYLOAD_TYPE, statement_bytes, key).to_bytes()
}

/// [`sign_entry`], refusing envelopes over [`MAX_ENTRY_BYTES`].
pub(crate) fn sign_checked(statement_bytes: &[u8], key: &SignerKey) -> Result<Vec<u8>, EntryError> {
    let bytes = sign_entry(statement_bytes, key);
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// SHA-256 of an entry's bytes, as a reproduction's subject names its release.
pub fn entry_sha256(entry: &[u8]) -> [u8; 32] {
    Sha256::digest(entry).into()
}

/// The reference a reproduction of the entry `release_entry`, logged at `index` in the log
/// `origin`, must carry.
pub fn release_ref(origin: &str, index: u64, release_entry: &[u8]) -> ReleaseRef {
    ReleaseRef {
        origin: origin.to_string(),
        index,
        leaf_hash: merkle::leaf_hash(release_entry),
        entry_sha256: entry_sha256(release_entry),
    }
}

/// Checks a reproduction against the entry it references (`release_entry`, the bytes at
/// `reproduction.release.index` of the log `origin`): same origin, leaf hash and SHA-256, the
/// entry is a well-formed release, and the verdict agrees with [`compare`] (`reproduced`:
/// every artifact equal and no extras; `mismatch`: at least one difference, or, for a release
/// stating an `snpOvmfHash`, a note saying which measurement basis the rebuilt image
/// contradicts; `failed`: no constraint). Returns the release.
///
/// The release's signature is not checked again: `release_entry` is an entry of the log (or
/// of the batch being appended), validated on its own, and the reproduction binds its exact
/// bytes by leaf hash and SHA-256. Checking it here would double the cost of validating a log
/// of reproductions.
pub fn check_reproduction(
    repro: &Reproduction,
    release_entry: &[u8],
    origin: &str,
) -> Result<Release, EntryError> {
    let release = check_release_ref(repro, release_entry, origin)?;
    check_verdict(repro, &release)?;
    Ok(release)
}

/// The first half of [`check_reproduction`]: origin, leaf hash and SHA-256 of `release_entry`
/// as `repro` names them, and the entry parses as a release, which is returned.
fn check_release_ref(
    repro: &Reproduction,
    release_entry: &[u8],
    origin: &str,
) -> Result<Release, EntryError> {
    let r = &repro.release;
    if r.origin != origin {
        return Err(EntryError::OriginMismatch {
            expected: origin.to_string(),
            got: r.origin.clone(),
        });
    }
    if merkle::leaf_hash(release_entry) != r.leaf_hash {
        return Err(EntryError::LeafHashMismatch(r.index));
    }
    if entry_sha256(release_entry) != r.entry_sha256 {
        return Err(EntryError::EntryDigestMismatch(r.index));
    }
    let envelope = dsse::Envelope::parse(release_entry)?;
    let Entry::Release(release) = parse_statement(&envelope.payload)? else {
        return Err(EntryError::NotARelease(r.index));
    };
    Ok(release)
}

/// The second half of [`check_reproduction`]: the verdict agrees with [`compare`].
fn check_verdict(repro: &Reproduction, release: &Release) -> Result<(), EntryError> {
    let (rows, implied) = compare(release, &repro.artifacts);
    match (repro.verdict, implied) {
        (Verdict::Reproduced, Verdict::Mismatch) => {
            let bad: Vec<&str> = rows
                .iter()
                .filter(|r| !r.matches)
                .map(|r| r.name.as_str())
                .collect();
            Err(EntryError::VerdictContradicted(format!(
                "reproduced, but these artifacts differ, are missing or are extra: {}",
                bad.join(", ")
            )))
        }
        // Equal digests with a different SEV-SNP measurement basis (`snpOvmfHash`, `sevTail`):
        // only the rebuilder, who has the image, can tell; its note must say what differs.
        (Verdict::Mismatch, Verdict::Reproduced)
            if repro.note.is_some()
                && release.artifacts.iter().any(|a| a.snp_ovmf_hash.is_some()) =>
        {
            Ok(())
        }
        (Verdict::Mismatch, Verdict::Reproduced) => Err(EntryError::VerdictContradicted(
            "mismatch, but every artifact equals the release's".into(),
        )),
        _ => Ok(()),
    }
}

/// Releases already parsed, with their exact bytes: those validated as entries and those that
/// reproductions named. A release is reproduced by many rebuilders, and hashing and parsing it
/// again for each costs as much as checking the reproduction's own signature. A remembered
/// release is used only when the entry the log shows at the named index is byte for byte the
/// remembered one, and its hashes are computed from those bytes, so the memo never changes a
/// verdict, whichever log or lookup it is used with.
///
/// Keyed by the last [`MEMO_KEY_BYTES`] bytes of the entry (they hold the envelope's
/// signature): a cheap key, whose collisions cost only a miss. Bounded: emptied when it holds
/// [`RELEASE_MEMO_BYTES`] of entries.
#[derive(Default)]
struct ReleaseMemo {
    map: std::sync::Mutex<ReleaseMap>,
}

#[derive(Default)]
struct ReleaseMap {
    by_tail: std::collections::HashMap<Vec<u8>, std::sync::Arc<KnownRelease>>,
    bytes: usize,
}

/// A release entry's bytes, the parsed release, and (once a reproduction needed them) the
/// bytes' leaf hash and SHA-256.
struct KnownRelease {
    bytes: Vec<u8>,
    release: Release,
    hashes: std::sync::OnceLock<(merkle::Hash, [u8; 32])>,
}

/// Bytes at the end of an entry that key the release memo.
const MEMO_KEY_BYTES: usize = 128;
/// Entry bytes the release memo holds at most (a few hundred typical releases).
const RELEASE_MEMO_BYTES: usize = 4 << 20;

fn memo_key(entry: &[u8]) -> &[u8] {
    entry
        .get(entry.len().saturating_sub(MEMO_KEY_BYTES)..)
        .unwrap_or(entry)
}

impl ReleaseMemo {
    /// The release `repro` names, given the bytes `release_entry` the log holds at its index:
    /// what [`check_release_ref`] returns (or fails with), remembered.
    fn check(
        &self,
        repro: &Reproduction,
        release_entry: Vec<u8>,
        origin: &str,
    ) -> Result<std::sync::Arc<KnownRelease>, EntryError> {
        let r = &repro.release;
        let hit = self.lock().by_tail.get(memo_key(&release_entry)).cloned();
        if let Some(known) = hit.filter(|k| k.bytes == release_entry) {
            // The same bytes: the same release; the same checks, in the same order.
            if r.origin != origin {
                return Err(EntryError::OriginMismatch {
                    expected: origin.to_string(),
                    got: r.origin.clone(),
                });
            }
            let (leaf, sha256) = known
                .hashes
                .get_or_init(|| (merkle::leaf_hash(&known.bytes), entry_sha256(&known.bytes)));
            if *leaf != r.leaf_hash {
                return Err(EntryError::LeafHashMismatch(r.index));
            }
            if *sha256 != r.entry_sha256 {
                return Err(EntryError::EntryDigestMismatch(r.index));
            }
            return Ok(known);
        }
        let release = check_release_ref(repro, &release_entry, origin)?;
        let known = KnownRelease {
            hashes: std::sync::OnceLock::from((r.leaf_hash, r.entry_sha256)),
            bytes: release_entry,
            release,
        };
        Ok(self.insert(known))
    }

    /// Remembers `release`, parsed from the entry `bytes`.
    fn remember(&self, bytes: &[u8], release: &Release) {
        self.insert(KnownRelease {
            bytes: bytes.to_vec(),
            release: release.clone(),
            hashes: std::sync::OnceLock::new(),
        });
    }

    fn insert(&self, known: KnownRelease) -> std::sync::Arc<KnownRelease> {
        let known = std::sync::Arc::new(known);
        let mut map = self.lock();
        if map.bytes + known.bytes.len() > RELEASE_MEMO_BYTES {
            *map = ReleaseMap::default();
        }
        map.bytes += known.bytes.len();
        let key = memo_key(&known.bytes).to_vec();
        if let Some(old) = map.by_tail.insert(key, known.clone()) {
            map.bytes -= old.bytes.len();
        }
        known
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReleaseMap> {
        // The map is consistent between statements: a panic elsewhere cannot leave it torn.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The entry validator of a fwlog log whose origin is `origin`: every entry must parse and
/// verify ([`parse_entry`]); a reproduction must reference a release already in the log (or
/// earlier in the batch being appended) and pass [`check_reproduction`].
///
/// The validator is not told the index of the entry it checks, so it cannot require the
/// release to precede the reproduction within one batch; it can only require the index to be
/// below the log size it is shown.
pub struct FwlogEntries {
    /// The log's origin; reproductions must name it.
    pub origin: String,
    /// Releases already checked; it makes validation faster, never different.
    releases: ReleaseMemo,
}

impl Clone for FwlogEntries {
    fn clone(&self) -> FwlogEntries {
        FwlogEntries::new(self.origin.clone())
    }
}

impl std::fmt::Debug for FwlogEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwlogEntries")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl FwlogEntries {
    /// The validator for the log `origin`.
    pub fn new(origin: impl Into<String>) -> FwlogEntries {
        FwlogEntries {
            origin: origin.into(),
            releases: ReleaseMemo::default(),
        }
    }

    /// [`EntryValidator::validate`] with a typed error: the parsed entry and its summary line.
    pub fn check(
        &self,
        entry: &[u8],
        log: &dyn EntryLookup,
    ) -> Result<(ParsedEntry, String), EntryError> {
        let parsed = parse_entry(entry)?;
        let signer = parsed.signer.name().to_string();
        let summary = match &parsed.entry {
            Entry::Release(r) => {
                self.releases.remember(entry, r);
                format!(
                    "release {} {} by {signer} ({} artifacts)",
                    r.firmware_name,
                    r.version,
                    r.artifacts.len()
                )
            }
            Entry::Reproduction(repro) => {
                let index = repro.release.index;
                let size = log.size();
                if index >= size {
                    return Err(EntryError::ReleaseIndex { index, size });
                }
                let release = log
                    .entry(index)
                    .map_err(|e| EntryError::Lookup(e.to_string()))?;
                let release = self.releases.check(repro, release, &self.origin)?;
                check_verdict(repro, &release.release)?;
                format!("reproduction of #{index} {} by {signer}", repro.verdict)
            }
        };
        Ok((parsed, summary))
    }
}

impl EntryValidator for FwlogEntries {
    fn validate(&self, entry: &[u8], log: &dyn EntryLookup) -> Result<EntryInfo, String> {
        self.check(entry, log)
            .map(|(_, summary)| EntryInfo { summary })
            .map_err(|e| e.to_string())
    }

    /// The release a reproduction names (read without checking the signature).
    fn referenced(&self, entry: &[u8]) -> Vec<u64> {
        dsse::Envelope::parse(entry)
            .ok()
            .and_then(|e| reproduction::release_index_hint(&e.payload))
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sha2::{Digest as _, Sha256, Sha384};

    use super::*;
    use crate::b64;
    use crate::store::StoreError;

    /// Where the golden release envelope lives (see [`golden_release_envelope`]).
    const GOLDEN: &str = "tests/data/entry/release-golden.json";
    const ORIGIN: &str = "example.org/fwlog";

    fn vendor() -> SignerKey {
        SignerKey::from_seed("vendor.example/release", [1; 32]).unwrap()
    }

    fn rebuilder() -> SignerKey {
        SignerKey::from_seed("rebuilder.example/ci", [2; 32]).unwrap()
    }

    fn sha256(b: &[u8]) -> [u8; 32] {
        Sha256::digest(b).into()
    }

    fn sha384(b: &[u8]) -> [u8; 48] {
        Sha384::digest(b).into()
    }

    fn artifact(name: &str) -> Artifact {
        Artifact {
            name: name.into(),
            sha256: sha256(name.as_bytes()),
            sha384: sha384(name.as_bytes()),
            snp_ovmf_hash: None,
            other_digests: BTreeMap::new(),
        }
    }

    /// The fixed release behind the golden envelope. Changing it changes the golden bytes.
    fn sample_release() -> Release {
        let mut ovmf = artifact("OVMF.fd");
        ovmf.snp_ovmf_hash = Some(sha384(b"launch measurement"));
        Release {
            firmware_name: "ovmf".into(),
            version: "2024.05".into(),
            recipe: "#!/bin/sh\nset -eu\nmake -C OvmfPkg BUILD_TARGET=\"$TARGET\"\n".into(),
            env: BTreeMap::from([("TARGET".into(), "RELEASE".into())]),
            source_date_epoch: 1_700_000_000,
            environment: Environment {
                description: "Debian bookworm, GCC 12".into(),
                container_image: Some(format!(
                    "docker.io/library/debian@sha256:{}",
                    hex::encode(sha256(b"image"))
                )),
                debian_snapshot: Some("20240601T000000Z".into()),
            },
            source_uri: Some("https://example.org/edk2-stable202405.tar.gz".into()),
            source_sha256: sha256(b"source"),
            artifacts: vec![ovmf, artifact("OVMF_VARS.fd")],
            released_on: 1_795_694_400,
        }
    }

    fn sample_envelope() -> Vec<u8> {
        sample_release().sign(&vendor()).unwrap()
    }

    fn obtained(a: &Artifact) -> ObtainedArtifact {
        ObtainedArtifact {
            name: a.name.clone(),
            sha256: a.sha256,
            sha384: a.sha384,
        }
    }

    fn sample_reproduction(release_entry: &[u8], index: u64) -> Reproduction {
        let release = sample_release();
        Reproduction {
            release: release_ref(ORIGIN, index, release_entry),
            verdict: Verdict::Reproduced,
            artifacts: release.artifacts.iter().map(obtained).collect(),
            environment: Environment {
                description: "rebuilt on CI\nsecond line".into(),
                container_image: None,
                debian_snapshot: Some("20240601T000000Z".into()),
            },
            rebuilt_on: 1_795_698_000,
            note: None,
        }
    }

    /// A log in memory.
    struct MemLog(Vec<Vec<u8>>);

    impl EntryLookup for MemLog {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
            self.0
                .get(index as usize)
                .cloned()
                .ok_or(StoreError::NoSuchEntry {
                    index,
                    size: self.size(),
                })
        }
    }

    /// Replaces `from` (which must occur) by `to` in the sample release's statement and signs
    /// the result with the vendor key.
    fn edited_release(from: &str, to: &str) -> Result<ParsedEntry, EntryError> {
        let stmt = String::from_utf8(sample_release().to_statement_bytes().unwrap()).unwrap();
        assert!(stmt.contains(from), "{from} not in {stmt}");
        parse_entry(&sign_entry(
            stmt.replacen(from, to, 1).as_bytes(),
            &vendor(),
        ))
    }

    fn edited_reproduction(from: &str, to: &str) -> Result<ParsedEntry, EntryError> {
        let repro = sample_reproduction(&sample_envelope(), 0);
        let stmt = String::from_utf8(repro.to_statement_bytes().unwrap()).unwrap();
        assert!(stmt.contains(from), "{from} not in {stmt}");
        parse_entry(&sign_entry(
            stmt.replacen(from, to, 1).as_bytes(),
            &rebuilder(),
        ))
    }

    /// Edits the envelope JSON text (not the payload) without re-signing.
    fn edited_envelope(from: &str, to: &str) -> Result<ParsedEntry, EntryError> {
        let env = String::from_utf8(sample_envelope()).unwrap();
        assert!(env.contains(from), "{from} not in envelope");
        parse_entry(env.replacen(from, to, 1).as_bytes())
    }

    fn payload_b64() -> String {
        b64::encode(sample_release().to_statement_bytes().unwrap())
    }

    fn sig_b64() -> String {
        let env = dsse::Envelope::parse(&sample_envelope()).unwrap();
        b64::encode(&env.signatures[0].sig)
    }

    #[test]
    fn release_round_trip() {
        let release = sample_release();
        let bytes = release.sign(&vendor()).unwrap();
        let parsed = parse_entry(&bytes).unwrap();
        assert_eq!(parsed.signer, vendor().verifier_key());
        assert_eq!(parsed.entry, Entry::Release(release.clone()));
        assert_eq!(
            parsed.statement_bytes,
            release.to_statement_bytes().unwrap()
        );
        assert_eq!(sign_entry(&parsed.statement_bytes, &vendor()), bytes);

        // Minimal: every optional field absent, and kept absent on the wire.
        let mut minimal = release.clone();
        minimal.env.clear();
        minimal.environment = Environment::default();
        minimal.source_uri = None;
        minimal.artifacts = vec![artifact("a.bin")];
        let stmt = minimal.to_statement_bytes().unwrap();
        let text = String::from_utf8(stmt.clone()).unwrap();
        for absent in [
            "uri",
            "containerImage",
            "debianSnapshot",
            "snpOvmfHash",
            "null",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert!(text.contains(r#""env":{}"#));
        assert_eq!(Release::from_statement(&stmt).unwrap(), minimal);

        // Other digest algorithms on subjects are kept.
        let mut extra = release;
        extra.artifacts[1]
            .other_digests
            .insert("sha512".into(), "ab".repeat(64));
        extra.artifacts[1]
            .other_digests
            .insert("blake3".into(), "cd".repeat(32));
        let parsed = parse_entry(&extra.sign(&vendor()).unwrap()).unwrap();
        assert_eq!(parsed.entry, Entry::Release(extra));
    }

    #[test]
    fn release_statement_shape() {
        let text = String::from_utf8(sample_release().to_statement_bytes().unwrap()).unwrap();
        let prefix = format!(
            concat!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"OVMF.fd","#,
                r#""digest":{{"sha256":"{}","sha384":"{}"}}}},"#
            ),
            hex::encode(sha256(b"OVMF.fd")),
            hex::encode(sha384(b"OVMF.fd"))
        );
        assert!(text.starts_with(&prefix), "{text}");
        for part in [
            r#""predicateType":"https://fwlog.dev/attestation/release/v1","predicate":{"firmware":{"name":"ovmf","version":"2024.05"},"buildDefinition":{"buildType":"https://fwlog.dev/build/script/v1","externalParameters":{"recipe":"#,
            r#""env":{"TARGET":"RELEASE"},"sourceDateEpoch":1700000000},"internalParameters":{"environment":{"description":"Debian bookworm, GCC 12","containerImage":"#,
            r#""debianSnapshot":"20240601T000000Z"}},"resolvedDependencies":[{"name":"source","uri":"https://example.org/edk2-stable202405.tar.gz","digest":{"sha256":"#,
            r#""artifacts":[{"name":"OVMF.fd","snpOvmfHash":"#,
            r#"{"name":"OVMF_VARS.fd"}],"releasedOn":"2026-11-26T12:00:00Z"}}"#,
        ] {
            assert!(text.contains(part), "{part}\nnot in\n{text}");
        }
    }

    #[test]
    fn reproduction_round_trip() {
        let release_entry = sample_envelope();
        let mut repro = sample_reproduction(&release_entry, 7);
        let bytes = repro.sign(&rebuilder()).unwrap();
        let parsed = parse_entry(&bytes).unwrap();
        assert_eq!(parsed.signer, rebuilder().verifier_key());
        assert_eq!(parsed.entry, Entry::Reproduction(repro.clone()));
        let text = String::from_utf8(parsed.statement_bytes).unwrap();
        assert!(
            text.starts_with(&format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"release","digest":{{"sha256":"{}"}}}}],"predicateType":"https://fwlog.dev/attestation/reproduction/v1","predicate":{{"release":{{"origin":"example.org/fwlog","index":7,"leafHash":"{}"}},"verdict":"reproduced","artifacts":[{{"name":"OVMF.fd","digest":{{"sha256":"#,
                hex::encode(sha256(&release_entry)),
                merkle::leaf_hash(&release_entry).to_base64()
            )),
            "{text}"
        );
        assert!(
            text.ends_with(r#""rebuiltOn":"2026-11-26T13:00:00Z"}}"#),
            "{text}"
        );

        repro.verdict = Verdict::Failed;
        repro.artifacts.clear();
        repro.note = Some("make: *** [all] Error 2\nout of disk".into());
        let parsed = parse_entry(&repro.sign(&rebuilder()).unwrap()).unwrap();
        assert_eq!(parsed.entry, Entry::Reproduction(repro));
    }

    /// The envelope of [`sample_release`] signed with `SignerKey::from_seed(
    /// "vendor.example/release", [1; 32])`. Ed25519 (RFC 8032) is deterministic, so these bytes
    /// never change unless the format does. The file was written by this test, run once as
    /// `FWLOG_UPDATE_GOLDEN=1 cargo test --lib entry::tests::golden_release_envelope`, and then
    /// checked independently by `tests/dsse_independent.rs`.
    #[test]
    fn golden_release_envelope() {
        let bytes = sample_envelope();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
        if std::env::var_os("FWLOG_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let golden = std::fs::read(&path).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&golden)
        );
        let parsed = parse_entry(&golden).unwrap();
        assert_eq!(parsed.entry, Entry::Release(sample_release()));
        assert_eq!(
            parsed.signer.to_string(),
            vendor().verifier_key().to_string()
        );
    }

    #[test]
    fn envelope_rejections() {
        use EntryError as E;
        let p = payload_b64();
        let sig = sig_b64();
        let keyid = vendor().verifier_key().to_string();
        let other = rebuilder().verifier_key().to_string();

        // Shape: unknown fields, duplicate keys, arrays for objects, nulls, trailing bytes.
        let m = |r: Result<ParsedEntry, EntryError>, what: &str| match r {
            Err(E::MalformedEnvelope(msg)) => assert!(msg.contains(what), "{msg} lacks {what}"),
            other => panic!("expected MalformedEnvelope({what}), got {other:?}"),
        };
        m(
            edited_envelope("{\"payloadType\"", "{\"x\":1,\"payloadType\""),
            "unknown field",
        );
        m(
            edited_envelope("\"sig\":", "\"extra\":\"\",\"sig\":"),
            "unknown field",
        );
        m(
            edited_envelope("{\"payloadType\"", "{\"payloadType\":\"x\",\"payloadType\""),
            "duplicate field",
        );
        m(
            edited_envelope(
                ",\"signatures\"",
                &format!(",\"payload\":\"{p}\",\"signatures\""),
            ),
            "duplicate field",
        );
        m(
            edited_envelope(&format!("\"keyid\":\"{keyid}\","), ""),
            "missing field `keyid`",
        );
        m(edited_envelope("]}", "]} x"), "trailing characters");
        m(edited_envelope("]}", "],}"), "");
        let as_array = format!(r#"["{PAYLOAD_TYPE}","{p}",[["{keyid}","{sig}"]]]"#);
        m(parse_entry(as_array.as_bytes()), "expected a JSON object");
        let sig_array = format!(
            r#"{{"payloadType":"{PAYLOAD_TYPE}","payload":"{p}","signatures":[["{keyid}","{sig}"]]}}"#
        );
        m(parse_entry(sig_array.as_bytes()), "expected a JSON object");
        m(
            edited_envelope(&format!("\"{keyid}\""), "null"),
            "invalid type: null",
        );
        m(parse_entry(b"\xff"), "");
        m(parse_entry(b""), "EOF");
        m(parse_entry(b"null"), "expected a JSON object");
        let mut bad_utf8 = sample_envelope();
        let at = bad_utf8.windows(5).position(|w| w == b"keyid").unwrap() + 10;
        bad_utf8[at] = 0xff;
        m(parse_entry(&bad_utf8), "");

        // Payload type, signature count.
        assert!(matches!(
            edited_envelope(PAYLOAD_TYPE, "application/vnd.in-toto+JSON"),
            Err(E::PayloadType(_))
        ));
        let typed = dsse::Envelope::sign(
            "application/json",
            &sample_release().to_statement_bytes().unwrap(),
            &vendor(),
        );
        assert_eq!(
            parse_entry(&typed.to_bytes()),
            Err(E::PayloadType("application/json".into()))
        );
        let one = format!("{{\"keyid\":\"{keyid}\",\"sig\":\"{sig}\"}}");
        assert_eq!(
            edited_envelope(&one, &format!("{one},{one}")),
            Err(E::SignatureCount(2))
        );
        assert_eq!(edited_envelope(&one, ""), Err(E::SignatureCount(0)));

        // Base64: not base64, not canonical, URL-safe, whitespace.
        assert_eq!(edited_envelope(&p, "!!!!"), Err(E::Base64("payload")));
        assert_eq!(
            edited_envelope(&sig, &sig.replace("==", "")),
            Err(E::Base64("sig"))
        );
        assert_eq!(
            edited_envelope(&sig, &format!("{sig}\\n")),
            Err(E::Base64("sig"))
        );
        assert_eq!(
            edited_envelope(&sig, &sig.replace("==", "=")),
            Err(E::Base64("sig"))
        );
        // 64 bytes = 86 chars + "==": the last char carries 4 bits, 2 of them must be zero.
        let last = sig.as_bytes()[85];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let pos = alphabet.iter().position(|&c| c == last).unwrap();
        let noncanonical = format!("{}{}==", &sig[..85], char::from(alphabet[pos ^ 1]));
        assert_eq!(edited_envelope(&sig, &noncanonical), Err(E::Base64("sig")));
        let p_url = p.replace('+', "-").replace('/', "_");
        if p_url != p {
            assert_eq!(edited_envelope(&p, &p_url), Err(E::Base64("payload")));
        }

        // Signature bytes.
        let short = b64::encode(&b64::decode_canonical(&sig).unwrap()[..63]);
        assert_eq!(edited_envelope(&sig, &short), Err(E::SignatureLength(63)));
        assert!(matches!(
            edited_envelope(&keyid, "vendor.example/release"),
            Err(E::KeyId(_))
        ));
        assert!(matches!(
            edited_envelope(&keyid, &keyid.replacen("vendor", "vendoR", 1)),
            Err(E::KeyId(NoteError::KeyIdMismatch { .. }))
        ));
        assert_eq!(
            edited_envelope(&keyid, &other),
            Err(E::BadSignature("rebuilder.example/ci".into()))
        );
        let witness = vendor()
            .verifier_key_for(crate::note::ALG_COSIGNATURE_V1)
            .to_string();
        assert_eq!(edited_envelope(&keyid, &witness), Err(E::KeyType(4)));

        // The payload is what was signed.
        let changed = String::from_utf8(sample_release().to_statement_bytes().unwrap())
            .unwrap()
            .replace("2024.05", "2024.06");
        assert!(matches!(
            edited_envelope(&p, &b64::encode(changed)),
            Err(E::BadSignature(_))
        ));

        // Size.
        let mut big = sample_envelope();
        big.resize(MAX_ENTRY_BYTES + 1, b' ');
        assert_eq!(parse_entry(&big), Err(E::TooLarge(MAX_ENTRY_BYTES + 1)));
        let mut huge = sample_release();
        huge.recipe = "x".repeat(release::MAX_RECIPE_BYTES);
        huge.env = (0..64)
            .map(|i| (format!("V{i}"), "y".repeat(500)))
            .collect();
        assert!(matches!(huge.sign(&vendor()), Err(E::TooLarge(_))));
    }

    #[test]
    fn statement_rejections() {
        use EntryError as E;
        let h256 = hex::encode(sha256(b"OVMF.fd"));
        let h384 = hex::encode(sha384(b"OVMF.fd"));
        let s = |r: Result<ParsedEntry, EntryError>, what: &str| match r {
            Err(E::MalformedStatement(msg)) => assert!(msg.contains(what), "{msg} lacks {what}"),
            other => panic!("expected MalformedStatement({what}), got {other:?}"),
        };
        // Unknown fields at each level we define.
        for (from, to) in [
            ("{\"_type\"", "{\"x\":1,\"_type\""),
            (
                "{\"name\":\"OVMF.fd\",\"digest\"",
                "{\"name\":\"OVMF.fd\",\"uri\":\"u\",\"digest\"",
            ),
            ("{\"firmware\"", "{\"x\":1,\"firmware\""),
            ("\"version\":\"2024.05\"", "\"version\":\"2024.05\",\"x\":1"),
            ("{\"buildType\"", "{\"x\":1,\"buildType\""),
            ("{\"recipe\"", "{\"x\":1,\"recipe\""),
            ("{\"environment\"", "{\"x\":1,\"environment\""),
            ("{\"description\"", "{\"x\":1,\"description\""),
            ("{\"name\":\"source\"", "{\"x\":1,\"name\":\"source\""),
            (
                "{\"name\":\"OVMF_VARS.fd\"",
                "{\"x\":1,\"name\":\"OVMF_VARS.fd\"",
            ),
        ] {
            s(edited_release(from, to), "unknown field");
        }
        // Duplicate keys: in the digest map, in env, in structs.
        s(
            edited_release(
                &format!("\"sha256\":\"{h256}\""),
                &format!("\"sha256\":\"{h256}\",\"sha256\":\"{h256}\""),
            ),
            "duplicate key `sha256`",
        );
        s(
            edited_release(
                "\"TARGET\":\"RELEASE\"",
                "\"TARGET\":\"RELEASE\",\"TARGET\":\"DEBUG\"",
            ),
            "duplicate key `TARGET`",
        );
        s(
            edited_release("{\"_type\"", "{\"predicateType\":\"x\",\"_type\""),
            "duplicate field",
        );
        s(
            edited_release(
                "\"version\":\"2024.05\"",
                "\"version\":\"2024.05\",\"version\":\"1\"",
            ),
            "duplicate field",
        );
        // Types: optional fields present must be strings, numbers must be u64 integers, objects
        // must be objects.
        s(
            edited_release(
                "\"uri\":\"https://example.org/edk2-stable202405.tar.gz\"",
                "\"uri\":null",
            ),
            "invalid type: null",
        );
        for epoch in [
            "-1",
            "1.7e9",
            "1700000000.0",
            "\"1700000000\"",
            "18446744073709551616",
        ] {
            assert!(
                matches!(
                    edited_release("1700000000", epoch),
                    Err(E::MalformedStatement(_))
                ),
                "{epoch}"
            );
        }
        s(
            edited_release(
                "{\"name\":\"ovmf\",\"version\":\"2024.05\"}",
                "[\"ovmf\",\"2024.05\"]",
            ),
            "expected a JSON object",
        );
        s(
            edited_release("\"env\":{", "\"env\":{\"N\":1,"),
            "invalid type",
        );
        assert!(matches!(
            edited_release(
                "\"predicateType\":\"https://fwlog.dev/attestation/release/v1\",",
                ""
            ),
            Err(E::MalformedStatement(_))
        ));

        // Statement layer.
        assert!(matches!(
            edited_release("Statement/v1", "Statement/v0.1"),
            Err(E::StatementType(_))
        ));
        assert!(matches!(
            edited_release("attestation/release/v1", "attestation/release/v2"),
            Err(E::UnknownPredicateType(_))
        ));
        assert_eq!(
            edited_release(&format!(",\"sha384\":\"{h384}\""), ""),
            Err(E::MissingDigest {
                name: "OVMF.fd".into(),
                alg: "sha384"
            })
        );
        assert!(matches!(
            edited_release(&format!("{{\"sha256\":\"{h256}\","), "{"),
            Err(E::MissingDigest { alg: "sha256", .. })
        ));
        // Bad digests.
        for (from, to) in [
            (h256.clone(), h256.to_uppercase()),
            (h256.clone(), h256[1..].to_string()),
            (h256.clone(), format!("{h256}00")),
            (
                format!("\"sha384\":\"{h384}\""),
                format!("\"sha384\":\"{h256}\""),
            ),
            (
                format!("\"sha384\":\"{h384}\""),
                format!("\"sha384\":\"{h384}\",\"SHA512\":\"00\""),
            ),
            (
                format!("\"sha384\":\"{h384}\""),
                format!("\"sha384\":\"{h384}\",\"x\":\"0\""),
            ),
        ] {
            assert!(
                matches!(edited_release(&from, &to), Err(E::Digest { .. })),
                "{to}"
            );
        }
        // Bad subject names (the artifact list follows the subjects, so edit both).
        for bad in ["..", ".", "", "a/b", "a\\\\b", "a\\u0000b", "a\\nb"] {
            let r = edited_release("\"OVMF.fd\"", &format!("\"{bad}\""));
            assert!(matches!(r, Err(E::Name { .. })), "{bad}: {r:?}");
        }
        assert_eq!(
            edited_release("\"OVMF_VARS.fd\"", "\"OVMF.fd\""),
            Err(E::DuplicateName("OVMF.fd".into()))
        );
        assert!(matches!(
            edited_release("{\"name\":\"OVMF_VARS.fd\"}", "{\"name\":\"other.fd\"}"),
            Err(E::ArtifactsMismatch(_))
        ));
        assert!(matches!(
            edited_release(",{\"name\":\"OVMF_VARS.fd\"}", ""),
            Err(E::ArtifactsMismatch(_))
        ));
        assert!(matches!(
            edited_release("\"snpOvmfHash\":\"", "\"snpOvmfHash\":\"00"),
            Err(E::Digest { .. })
        ));

        // Release predicate fields.
        assert_eq!(
            edited_release("\"ovmf\"", "\"OVMF\""),
            Err(E::FirmwareName("OVMF".into()))
        );
        assert!(matches!(
            edited_release("\"ovmf\"", "\"-ovmf\""),
            Err(E::FirmwareName(_))
        ));
        assert!(matches!(
            edited_release("\"ovmf\"", &format!("\"{}\"", "o".repeat(65))),
            Err(E::FirmwareName(_))
        ));
        assert_eq!(
            edited_release("\"2024.05\"", "\"2024 05\""),
            Err(E::Version("2024 05".into()))
        );
        assert!(matches!(
            edited_release("\"2024.05\"", "\"\""),
            Err(E::Version(_))
        ));
        assert!(matches!(
            edited_release("\"2024.05\"", "\"2024.05é\""),
            Err(E::Version(_))
        ));
        for key in [
            "PATH",
            "HOME",
            "SOURCE_DATE_EPOCH",
            "FWLOG_X",
            "1A",
            "A-B",
            "",
            "Ä",
        ] {
            let r = edited_release("\"TARGET\"", &format!("\"{key}\""));
            assert!(matches!(r, Err(E::EnvKey { .. })), "{key}: {r:?}");
        }
        assert!(matches!(
            edited_release("\"RELEASE\"", "\"RE\\u0000LEASE\""),
            Err(E::EnvValue { .. })
        ));
        assert!(matches!(
            edited_release("\"RELEASE\"", &format!("\"{}\"", "v".repeat(4097))),
            Err(E::EnvValue { .. })
        ));
        let many: String = (0..65).map(|i| format!("\"V{i}\":\"\",")).collect();
        assert_eq!(
            edited_release("\"TARGET\"", &format!("{many}\"TARGET\"")),
            Err(E::TooManyEnv(66))
        );
        assert!(matches!(
            edited_release("\"recipe\":\"#!/bin/sh", "\"recipe\":\"\",\"x\":\""),
            Err(E::MalformedStatement(_))
        ));
        let mut empty_recipe = sample_release();
        empty_recipe.recipe.clear();
        assert_eq!(empty_recipe.to_statement_bytes(), Err(E::Recipe("empty")));
        assert!(matches!(
            edited_release("build/script/v1", "build/script/v2"),
            Err(E::BuildType(_))
        ));
        assert!(matches!(
            edited_release("\"name\":\"source\"", "\"name\":\"src\""),
            Err(E::Dependencies(_))
        ));
        assert!(matches!(
            edited_release(
                "\"resolvedDependencies\":[",
                "\"resolvedDependencies\":[{\"name\":\"source\",\"digest\":{}},"
            ),
            Err(E::Dependencies(_))
        ));
        assert!(matches!(
            edited_release(
                "\"resolvedDependencies\":[",
                "\"resolvedDependencies\":[],\"x\":["
            ),
            Err(E::MalformedStatement(_))
        ));
        let src = hex::encode(sha256(b"source"));
        assert!(matches!(
            edited_release(
                &format!("{{\"sha256\":\"{src}\"}}"),
                &format!(
                    "{{\"sha256\":\"{src}\",\"sha512\":\"{}\"}}",
                    "0".repeat(128)
                )
            ),
            Err(E::Dependencies(_))
        ));
        assert!(matches!(
            edited_release("Debian bookworm", "Debian\\u001b[31m"),
            Err(E::Text { .. })
        ));
        assert!(matches!(
            edited_release("\"20240601T000000Z\"", "\"2024 06 01\""),
            Err(E::Text { .. })
        ));
        for bad in [
            "2026-11-26T12:00:00",
            "2026-11-26T12:00:00.000Z",
            "2026-11-26T12:00:00+00:00",
            "2026-02-30T12:00:00Z",
            "2026-11-26T25:00:00Z",
            "26-11-26T12:00:00Z",
        ] {
            assert!(
                matches!(
                    edited_release("2026-11-26T12:00:00Z", bad),
                    Err(E::Timestamp {
                        field: "releasedOn",
                        ..
                    })
                ),
                "{bad}"
            );
        }

        // Reproduction predicate.
        assert_eq!(
            edited_reproduction("\"reproduced\"", "\"Reproduced\""),
            Err(E::Verdict("Reproduced".into()))
        );
        assert_eq!(
            edited_reproduction("\"reproduced\"", "\"ok\""),
            Err(E::Verdict("ok".into()))
        );
        assert!(matches!(
            edited_reproduction("\"name\":\"release\"", "\"name\":\"rel\""),
            Err(E::ReproductionSubject(_))
        ));
        let entry_hex = hex::encode(sha256(&sample_envelope()));
        assert!(matches!(
            edited_reproduction(
                &format!("{{\"sha256\":\"{entry_hex}\"}}"),
                &format!("{{\"sha256\":\"{entry_hex}\",\"sha384\":\"{h384}\"}}")
            ),
            Err(E::ReproductionSubject(_))
        ));
        assert!(matches!(
            edited_reproduction(
                "}],\"predicateType\"",
                &format!(
                    "}},{{\"name\":\"x\",\"digest\":{{\"sha256\":\"{h256}\"}}}}],\"predicateType\""
                )
            ),
            Err(E::ReproductionSubject(_))
        ));
        assert!(matches!(
            edited_reproduction("\"leafHash\":\"", "\"leafHash\":\"AAAA"),
            Err(E::Base64("leafHash"))
        ));
        assert!(matches!(
            edited_reproduction(&format!(",\"sha384\":\"{h384}\""), ""),
            Err(E::Digest { .. })
        ));
        assert!(matches!(
            edited_reproduction("\"origin\":\"", "\"origin\":\"\\t"),
            Err(E::Origin(_))
        ));
        assert!(matches!(
            edited_reproduction("\"index\":0", "\"index\":-1"),
            Err(E::MalformedStatement(_))
        ));
        assert!(matches!(
            edited_reproduction("2026-11-26T13:00:00Z", "2026-11-26T13:00:00"),
            Err(E::Timestamp {
                field: "rebuiltOn",
                ..
            })
        ));
        assert!(matches!(
            edited_reproduction("\"rebuiltOn\"", "\"note\":\"a\\u0007\",\"rebuiltOn\""),
            Err(E::Text { field: "note", .. })
        ));
        assert!(matches!(
            edited_reproduction("\"rebuiltOn\"", "\"note\":null,\"rebuiltOn\""),
            Err(E::MalformedStatement(_))
        ));
        assert!(matches!(
            edited_reproduction("\"OVMF_VARS.fd\"", "\"OVMF.fd\""),
            Err(E::DuplicateName(_))
        ));
        assert!(matches!(
            edited_reproduction("\"OVMF_VARS.fd\"", "\"..\""),
            Err(E::Name { .. })
        ));
        let h = |a: &str| {
            format!(
                "{{\"name\":\"{a}\",\"digest\":{{\"sha256\":\"{}\",\"sha384\":\"{}\"}}}}",
                hex::encode(sha256(a.as_bytes())),
                hex::encode(sha384(a.as_bytes()))
            )
        };
        let both = format!("[{},{}]", h("OVMF.fd"), h("OVMF_VARS.fd"));
        assert!(matches!(
            edited_reproduction(&both, "[]"),
            Err(E::VerdictContradicted(_))
        ));
        assert!(
            edited_reproduction("\"verdict\":\"reproduced\"", "\"verdict\":\"mismatch\"").is_ok()
        );
        assert!(edited_reproduction(&both, "[],\"note\":\"x\"").is_err());
    }

    #[test]
    fn writers_refuse_what_parsers_refuse() {
        let mut r = sample_release();
        r.released_on = statement::MAX_TIMESTAMP + 1;
        assert!(matches!(
            r.to_statement_bytes(),
            Err(EntryError::Timestamp { .. })
        ));
        let mut r = sample_release();
        r.env.insert("PATH".into(), "/bin".into());
        assert!(matches!(
            r.to_statement_bytes(),
            Err(EntryError::EnvKey { .. })
        ));
        let mut r = sample_release();
        r.artifacts[0]
            .other_digests
            .insert("sha384".into(), "00".repeat(48));
        assert!(matches!(
            r.to_statement_bytes(),
            Err(EntryError::Digest { .. })
        ));
        let mut r = sample_release();
        r.artifacts.clear();
        assert_eq!(r.to_statement_bytes(), Err(EntryError::NoSubjects));
        let mut p = sample_reproduction(&sample_envelope(), 0);
        p.release.origin = String::new();
        assert!(matches!(p.to_statement_bytes(), Err(EntryError::Origin(_))));
    }

    #[test]
    fn verdict_strings() {
        for v in [Verdict::Reproduced, Verdict::Mismatch, Verdict::Failed] {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert!(matches!("".parse::<Verdict>(), Err(EntryError::Verdict(_))));
    }

    #[test]
    fn compare_rows() {
        let release = sample_release();
        let mut got: Vec<ObtainedArtifact> = release.artifacts.iter().map(obtained).collect();
        let (rows, v) = compare(&release, &got);
        assert_eq!(v, Verdict::Reproduced);
        assert!(rows.iter().all(|r| r.matches) && rows.len() == 2);

        got[1].sha384[0] ^= 1;
        got.swap(0, 1);
        got.push(ObtainedArtifact {
            name: "extra.bin".into(),
            sha256: [0; 32],
            sha384: [0; 48],
        });
        let (rows, v) = compare(&release, &got);
        assert_eq!(v, Verdict::Mismatch);
        let summary: Vec<(&str, bool, bool, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.expected.is_some(),
                    r.obtained.is_some(),
                    r.matches,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("OVMF.fd", true, true, true),
                ("OVMF_VARS.fd", true, true, false),
                ("extra.bin", false, true, false)
            ]
        );
        let (rows, v) = compare(&release, &[]);
        assert_eq!(v, Verdict::Mismatch);
        assert!(rows.iter().all(|r| r.obtained.is_none()));
        // A name obtained twice: the second copy is an extra row.
        let twice = vec![obtained(&release.artifacts[0]); 2];
        let (rows, v) = compare(&release, &twice);
        assert_eq!((rows.len(), v), (3, Verdict::Mismatch));
    }

    proptest::proptest! {
        /// `compare` says reproduced exactly when the artifact-set digests are equal, for
        /// unique names on each side (what parsing guarantees): the release's own artifacts in
        /// any order, or with one dropped, added, renamed or altered in one digest.
        #[test]
        fn set_digests_agree_with_compare(
            picks in proptest::collection::btree_map(0u8..6, 0u8..3, 0..4),
            change in 0u8..6,
            which in 0usize..4,
            rotate in 0usize..4,
        ) {
            let release = Release {
                artifacts: picks
                    .iter()
                    .map(|(n, d)| Artifact {
                        name: format!("n{n}"),
                        sha256: [*d; 32],
                        sha384: [*d; 48],
                        ..artifact("x")
                    })
                    .collect(),
                ..sample_release()
            };
            let mut got: Vec<ObtainedArtifact> = release.artifacts.iter().map(obtained).collect();
            let at = which % got.len().max(1);
            match (change, got.get_mut(at)) {
                (1, Some(_)) => {
                    got.remove(at);
                }
                (2, _) => got.push(ObtainedArtifact {
                    // Names n0..n5 are taken or free; n9 never is.
                    name: "n9".into(),
                    sha256: [0; 32],
                    sha384: [0; 48],
                }),
                (3, Some(a)) => a.name = "n9".into(),
                (4, Some(a)) => a.sha256[31] ^= 1,
                (5, Some(a)) => a.sha384[0] ^= 1,
                _ => {}
            }
            let len = got.len().max(1);
            got.rotate_left(rotate % len);
            let reproduced = compare(&release, &got).1 == Verdict::Reproduced;
            let equal = reproduction::release_set_digest(&release)
                == reproduction::obtained_set_digest(&got);
            proptest::prop_assert_eq!(reproduced, equal);
            // Only "no change" (or a change with nothing to change) reproduces.
            let unchanged = change == 0 || (change != 2 && release.artifacts.is_empty());
            proptest::prop_assert_eq!(reproduced, unchanged);
        }
    }

    #[test]
    fn set_digests_of_the_same_artifacts_match_in_any_order() {
        let release = sample_release();
        let mut got: Vec<ObtainedArtifact> = release.artifacts.iter().map(obtained).collect();
        let want = reproduction::release_set_digest(&release);
        assert_eq!(reproduction::obtained_set_digest(&got), want);
        got.reverse();
        assert_eq!(reproduction::obtained_set_digest(&got), want);
        got[0].sha384[47] ^= 1;
        assert_ne!(reproduction::obtained_set_digest(&got), want);
    }

    #[test]
    fn validator() {
        use EntryError as E;
        let v = FwlogEntries::new(ORIGIN);
        let release = sample_envelope();
        let log = MemLog(vec![b"not an entry".to_vec(), release.clone()]);
        let (_, summary) = v.check(&release, &log).unwrap();
        assert_eq!(
            summary,
            "release ovmf 2024.05 by vendor.example/release (2 artifacts)"
        );

        let good = sample_reproduction(&release, 1);
        let entry = good.sign(&rebuilder()).unwrap();
        assert_eq!(
            v.validate(&entry, &log).unwrap().summary,
            "reproduction of #1 reproduced by rebuilder.example/ci"
        );
        // What a batch prefetches: the release a reproduction names, nothing for a release or
        // for what does not parse.
        assert_eq!(v.referenced(&entry), vec![1]);
        assert_eq!(v.referenced(&release), Vec::<u64>::new());
        assert_eq!(v.referenced(b"{}"), Vec::<u64>::new());
        let check = |r: &Reproduction, log: &MemLog| {
            v.check(&r.sign(&rebuilder()).unwrap(), log).map(|(_, s)| s)
        };

        // Index out of range, and an index holding something else.
        let mut r = good.clone();
        r.release.index = 2;
        assert_eq!(check(&r, &log), Err(E::ReleaseIndex { index: 2, size: 2 }));
        r.release.index = u64::MAX;
        assert!(matches!(check(&r, &log), Err(E::ReleaseIndex { .. })));
        r.release.index = 0;
        assert_eq!(check(&r, &log), Err(E::LeafHashMismatch(0)));

        // Pointing at a reproduction (with that entry's own hashes).
        let log3 = MemLog(vec![release.clone(), entry.clone()]);
        let at_repro = sample_reproduction(&entry, 1);
        assert_eq!(check(&at_repro, &log3), Err(E::NotARelease(1)));

        // Hashes and origin.
        let mut r = good.clone();
        r.release.leaf_hash.0[31] ^= 1;
        assert_eq!(check(&r, &log), Err(E::LeafHashMismatch(1)));
        let mut r = good.clone();
        r.release.entry_sha256[0] ^= 1;
        assert_eq!(check(&r, &log), Err(E::EntryDigestMismatch(1)));
        let mut r = good.clone();
        r.release.origin = "example.org/other-log".into();
        assert_eq!(
            check(&r, &log),
            Err(E::OriginMismatch {
                expected: ORIGIN.into(),
                got: "example.org/other-log".into()
            })
        );

        // The release memo (warm now) never outlives the bytes: another log holding other bytes
        // at index 1 fails the reproduction, and a fresh validator agrees on every case.
        let mut other = sample_release();
        other.version = "2024.08".into();
        let other_release = other.sign(&vendor()).unwrap();
        let forked = MemLog(vec![b"not an entry".to_vec(), other_release]);
        assert_eq!(check(&good, &forked), Err(E::LeafHashMismatch(1)));
        // Bytes that end like the remembered release (its memo key) but differ earlier.
        let mut altered = release.clone();
        altered[40] ^= 0x01;
        assert!(release.len() > 40 + MEMO_KEY_BYTES);
        let tampered = MemLog(vec![b"not an entry".to_vec(), altered]);
        assert_eq!(check(&good, &tampered), Err(E::LeafHashMismatch(1)));
        let mut bad_sha = good.clone();
        bad_sha.release.entry_sha256[0] ^= 1;
        let mut bad_leaf = good.clone();
        bad_leaf.release.leaf_hash.0[0] ^= 1;
        let mut elsewhere = good.clone();
        elsewhere.release.origin = "example.org/other-log".into();
        for (r, log) in [
            (&good, &log),
            (&good, &forked),
            (&good, &tampered),
            (&bad_sha, &log),
            (&bad_leaf, &log),
            (&elsewhere, &log),
        ] {
            let cold = FwlogEntries::new(ORIGIN);
            let entry = r.sign(&rebuilder()).unwrap();
            assert_eq!(
                v.check(&entry, log).map(|(_, s)| s),
                cold.check(&entry, log).map(|(_, s)| s)
            );
        }

        // A validator that met the release only as an entry (hashes not yet computed).
        for r in [&good, &bad_sha, &bad_leaf, &elsewhere] {
            let seen = FwlogEntries::new(ORIGIN);
            seen.check(&release, &log).unwrap();
            let entry = r.sign(&rebuilder()).unwrap();
            assert_eq!(
                seen.check(&entry, &log).map(|(_, s)| s),
                FwlogEntries::new(ORIGIN)
                    .check(&entry, &log)
                    .map(|(_, s)| s)
            );
        }

        // Verdicts against digests.
        let mut r = good.clone();
        r.artifacts[1].sha256[5] ^= 0x40;
        assert!(
            matches!(check(&r, &log), Err(E::VerdictContradicted(m)) if m.contains("OVMF_VARS.fd"))
        );
        r.verdict = Verdict::Mismatch;
        assert_eq!(
            check(&r, &log).unwrap(),
            "reproduction of #1 mismatch by rebuilder.example/ci"
        );
        let mut r = good.clone();
        r.artifacts[0].sha384[47] ^= 1;
        assert!(matches!(check(&r, &log), Err(E::VerdictContradicted(_))));
        let mut r = good.clone();
        r.artifacts.pop();
        assert!(matches!(check(&r, &log), Err(E::VerdictContradicted(_))));
        let mut r = good.clone();
        r.artifacts.push(ObtainedArtifact {
            name: "extra.bin".into(),
            sha256: [0; 32],
            sha384: [0; 48],
        });
        assert!(matches!(check(&r, &log), Err(E::VerdictContradicted(_))));
        let mut r = good.clone();
        r.verdict = Verdict::Mismatch;
        assert!(
            matches!(check(&r, &log), Err(E::VerdictContradicted(m)) if m.contains("mismatch"))
        );
        // Equal digests, but the rebuilt OVMF.fd contradicts the release's snpOvmfHash: a
        // mismatch with a note saying so is accepted (the sample release states one).
        r.note = Some("OVMF.fd: snpOvmfHash differs from the rebuilt image's".into());
        assert_eq!(
            check(&r, &log).unwrap(),
            "reproduction of #1 mismatch by rebuilder.example/ci"
        );
        // A release without snpOvmfHash: a note does not excuse a mismatch of equal digests.
        let mut plain = sample_release();
        plain.artifacts[0].snp_ovmf_hash = None;
        let plain = plain.sign(&vendor()).unwrap();
        let plain_log = MemLog(vec![b"not an entry".to_vec(), plain.clone()]);
        let mut r = sample_reproduction(&plain, 1);
        r.verdict = Verdict::Mismatch;
        r.note = Some("OVMF.fd: snpOvmfHash differs".into());
        assert!(matches!(
            check(&r, &plain_log),
            Err(E::VerdictContradicted(_))
        ));
        let mut r = good.clone();
        r.verdict = Verdict::Failed;
        r.artifacts.clear();
        assert!(check(&r, &log).is_ok());

        // A release signed by anyone parses; the validator is not a trust policy. Entries that
        // fail to parse are rejected with their reason.
        assert!(v
            .validate(b"{}", &log)
            .unwrap_err()
            .contains("malformed DSSE envelope"));
    }

    /// The log keeps entries as submitted and does not require the envelope to be in the
    /// writer's canonical form: JSON white space and key order outside the signed payload are
    /// not authenticated, so one signed statement has several valid envelope encodings (with
    /// different leaf hashes). This test documents that behaviour.
    #[test]
    fn envelope_encoding_is_not_canonicalised() {
        let original = String::from_utf8(sample_envelope()).unwrap();
        let want = parse_entry(original.as_bytes()).unwrap();
        let spaced = original.replacen("{\"payloadType\":", "{ \"payloadType\" : ", 1);
        assert_eq!(parse_entry(spaced.as_bytes()).unwrap(), want);
        let env = dsse::Envelope::parse(original.as_bytes()).unwrap();
        let reordered = format!(
            r#"{{"signatures":[{{"sig":"{}","keyid":"{}"}}],"payload":"{}","payloadType":"{}"}}"#,
            b64::encode(&env.signatures[0].sig),
            env.signatures[0].keyid,
            b64::encode(&env.payload),
            env.payload_type
        );
        assert_eq!(parse_entry(reordered.as_bytes()).unwrap(), want);
        assert_eq!(env.to_bytes(), original.as_bytes());
    }

    /// Every single-byte change of a valid envelope (all 255 other values at every offset in
    /// release builds, as CI runs them; a sparse sample in debug builds, where Ed25519 is two
    /// orders of magnitude slower) is rejected, or yields the very same parsed entry. None is
    /// accepted with different content.
    #[test]
    fn byte_flips_rejected() {
        let original = sample_envelope();
        let want = parse_entry(&original).unwrap();
        let (values, step): (Vec<u8>, usize) = if cfg!(debug_assertions) {
            (vec![0x01, 0x20, 0xff], 17)
        } else {
            ((1..=255).collect(), 1)
        };
        let offsets: Vec<usize> = (0..original.len()).step_by(step).collect();
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        let (rejected, equivalent, different) = std::thread::scope(|s| {
            let handles: Vec<_> = offsets
                .chunks(offsets.len().div_ceil(threads))
                .map(|part| {
                    let (original, want, values) = (&original, &want, &values);
                    s.spawn(move || {
                        let mut counts = (0u64, 0u64, Vec::new());
                        let mut m = original.clone();
                        for &i in part {
                            for &x in values {
                                m[i] = original[i] ^ x;
                                match parse_entry(&m) {
                                    Err(_) => counts.0 += 1,
                                    Ok(p) if &p == want => counts.1 += 1,
                                    Ok(_) => counts.2.push((i, x)),
                                }
                            }
                            m[i] = original[i];
                        }
                        counts
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold((0, 0, Vec::new()), |mut acc, c| {
                    acc.0 += c.0;
                    acc.1 += c.1;
                    acc.2.extend(c.2);
                    acc
                })
        });
        println!(
            "byte flips over {} of {} offsets, {} values each: {rejected} rejected, \
             {equivalent} accepted as the same entry, {} accepted as a different entry",
            offsets.len(),
            original.len(),
            values.len(),
            different.len()
        );
        assert!(different.is_empty(), "accepted as different: {different:?}");
        assert_eq!(rejected + equivalent, (offsets.len() * values.len()) as u64);
    }
}
