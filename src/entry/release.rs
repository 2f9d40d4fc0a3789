//! The release predicate (`https://fwlog.dev/attestation/release/v1`): a vendor states which
//! firmware artifacts it released and how to rebuild them.
//!
//! The statement's subjects are the artifacts (each with `sha256` and `sha384`); the predicate
//! borrows SLSA provenance v1 field names:
//!
//! ```json
//! {"firmware":{"name":"ovmf","version":"2024.05"},
//!  "buildDefinition":{"buildType":"https://fwlog.dev/build/script/v1",
//!    "externalParameters":{"recipe":"…","env":{"K":"V"},"sourceDateEpoch":1700000000},
//!    "internalParameters":{"environment":{"description":"…","containerImage":"…","debianSnapshot":"…"}},
//!    "resolvedDependencies":[{"name":"source","uri":"…","digest":{"sha256":"…"}}]},
//!  "artifacts":[{"name":"OVMF.fd","snpOvmfHash":"<96 hex>","sevTail":"<base64>"}],
//!  "releasedOn":"2026-11-26T12:00:00Z"}
//! ```
//!
//! `snpOvmfHash` and `sevTail` (the image's last 4096 bytes, [`SevTail`]) let anyone compute an
//! SEV-SNP OVMF image's launch measurements from the log alone. The tails are not fields of
//! [`Artifact`] (whose literal other code builds) but travel beside the release as [`SevTails`]:
//! read them with [`Release::from_statement_with_sev_tails`], write them with
//! [`Release::to_statement_bytes_with_sev_tails`] or [`Release::sign_with_sev_tails`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::statement::{
    self, check_text, check_token, check_unique_names, lower_hex, present, DigestSet, Obj,
    StrictMap, Subject,
};
use super::{EntryError, RELEASE_PREDICATE};
use crate::note::SignerKey;

/// The only `buildDefinition.buildType`: a shell recipe run in a described environment.
pub const BUILD_TYPE: &str = "https://fwlog.dev/build/script/v1";

/// Longest recipe, in bytes.
pub const MAX_RECIPE_BYTES: usize = 32 * 1024;

/// Most `env` pairs.
pub const MAX_ENV_PAIRS: usize = 64;

/// Longest `env` value, in bytes.
pub const MAX_ENV_VALUE_BYTES: usize = 4096;

/// Longest free-text description or note, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Longest short token (container image, snapshot id), in bytes.
pub const MAX_TOKEN_BYTES: usize = 255;

/// Longest source URI hint, in bytes.
pub const MAX_URI_BYTES: usize = 2048;

/// `env` names the rebuilder sets itself and that a release may therefore not set.
pub const RESERVED_ENV: [&str; 3] = ["SOURCE_DATE_EPOCH", "PATH", "HOME"];

/// Prefix of `env` names reserved for fwlog.
pub const RESERVED_ENV_PREFIX: &str = "FWLOG_";

/// Name of the single resolved dependency: the source archive.
pub const SOURCE_DEPENDENCY: &str = "source";

/// Length of a `sevTail`: one page, the last of the image.
pub const SEV_TAIL_LEN: usize = 4096;

/// The last [`SEV_TAIL_LEN`] bytes of an SEV-SNP capable OVMF image: the page holding its OVMF
/// footer table and SEV metadata. With the artifact's `snpOvmfHash` it gives every SEV-SNP
/// launch measurement of the image (`crate::measure::snp_digest_from_tail`).
#[derive(Clone, PartialEq, Eq)]
pub struct SevTail(Box<[u8; SEV_TAIL_LEN]>);

impl SevTail {
    /// Exactly [`SEV_TAIL_LEN`] bytes; `None` otherwise.
    pub fn new(bytes: &[u8]) -> Option<SevTail> {
        <[u8; SEV_TAIL_LEN]>::try_from(bytes)
            .ok()
            .map(|b| SevTail(Box::new(b)))
    }

    /// The last [`SEV_TAIL_LEN`] bytes of `image`; `None` for a shorter image.
    pub fn of_image(image: &[u8]) -> Option<SevTail> {
        let start = image.len().checked_sub(SEV_TAIL_LEN)?;
        SevTail::new(image.get(start..)?)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; SEV_TAIL_LEN] {
        &self.0
    }
}

impl fmt::Debug for SevTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.0.as_slice());
        write!(f, "SevTail(sha256 {})", hex::encode(digest))
    }
}

/// The `sevTail` of a release's artifacts that have one, by artifact name.
pub type SevTails = BTreeMap<String, SevTail>;

/// One released artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// File name; also the statement subject's name.
    pub name: String,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// SHA-384 of the file.
    pub sha384: [u8; 48],
    /// The AMD SEV-SNP launch measurement of this OVMF build, when the vendor publishes one.
    pub snp_ovmf_hash: Option<[u8; 48]>,
    /// Further digests of the subject (algorithms other than sha256 and sha384), kept as given.
    pub other_digests: BTreeMap<String, String>,
}

/// Where a build ran (release) or a rebuild ran (reproduction).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    /// Free text, at most 4096 bytes, no control characters but newline.
    pub description: String,
    /// A container image reference, e.g. `docker.io/debian@sha256:…`.
    pub container_image: Option<String>,
    /// A snapshot.debian.org timestamp, e.g. `20240601T000000Z`.
    pub debian_snapshot: Option<String>,
}

/// A release statement's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// Firmware name, `[a-z0-9][a-z0-9._+-]{0,63}`.
    pub firmware_name: String,
    /// Version: 1 to 64 bytes of printable ASCII without spaces.
    pub version: String,
    /// The build script, verbatim.
    pub recipe: String,
    /// Extra environment for the recipe.
    pub env: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH` for the build.
    pub source_date_epoch: u64,
    /// The build environment.
    pub environment: Environment,
    /// Where the source archive may be fetched (a hint; the digest is what counts).
    pub source_uri: Option<String>,
    /// SHA-256 of the source archive.
    pub source_sha256: [u8; 32],
    /// The released artifacts, in subject order.
    pub artifacts: Vec<Artifact>,
    /// Release time, Unix seconds.
    pub released_on: u64,
}

// ---------------------------------------------------------------------------------------------
// Wire form (field order = output order).

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WireRelease {
    firmware: Obj<WireFirmware>,
    build_definition: Obj<WireBuildDefinition>,
    artifacts: Vec<Obj<WireArtifact>>,
    released_on: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFirmware {
    name: String,
    version: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireBuildDefinition {
    build_type: String,
    external_parameters: Obj<WireExternal>,
    internal_parameters: Obj<WireInternal>,
    resolved_dependencies: Vec<Obj<WireDependency>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireExternal {
    recipe: String,
    env: StrictMap,
    source_date_epoch: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireInternal {
    environment: Obj<WireEnvironment>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDependency {
    name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    uri: Option<String>,
    digest: StrictMap,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireArtifact {
    name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    snp_ovmf_hash: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    sev_tail: Option<String>,
}

/// The environment object, shared with the reproduction predicate.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WireEnvironment {
    description: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    container_image: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    debian_snapshot: Option<String>,
}

impl Environment {
    /// Description free text; optional tokens printable ASCII without spaces.
    pub fn check(&self) -> Result<(), EntryError> {
        check_text("environment.description", &self.description, MAX_TEXT_BYTES)?;
        if let Some(image) = &self.container_image {
            check_token("environment.containerImage", image, MAX_TOKEN_BYTES)?;
        }
        if let Some(snapshot) = &self.debian_snapshot {
            check_token("environment.debianSnapshot", snapshot, MAX_TOKEN_BYTES)?;
        }
        Ok(())
    }

    pub(crate) fn to_wire(&self) -> Obj<WireEnvironment> {
        Obj(WireEnvironment {
            description: self.description.clone(),
            container_image: self.container_image.clone(),
            debian_snapshot: self.debian_snapshot.clone(),
        })
    }

    pub(crate) fn from_wire(w: WireEnvironment) -> Result<Environment, EntryError> {
        let env = Environment {
            description: w.description,
            container_image: w.container_image,
            debian_snapshot: w.debian_snapshot,
        };
        env.check()?;
        Ok(env)
    }
}

/// `[a-z0-9][a-z0-9._+-]{0,63}`.
pub fn check_firmware_name(name: &str) -> Result<(), EntryError> {
    let b = name.as_bytes();
    let ok = matches!(b.first(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.len() <= 64
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'+' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(EntryError::FirmwareName(name.to_string()))
    }
}

/// 1 to 64 bytes of printable ASCII, no spaces.
pub fn check_version(version: &str) -> Result<(), EntryError> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version.bytes().all(|c| (0x21..=0x7e).contains(&c));
    if ok {
        Ok(())
    } else {
        Err(EntryError::Version(version.to_string()))
    }
}

/// An `env` pair: name `[A-Za-z_][A-Za-z0-9_]*`, not `FWLOG_*`, `SOURCE_DATE_EPOCH`, `PATH` or
/// `HOME`; value without NUL, at most 4096 bytes.
pub fn check_env_pair(key: &str, value: &str) -> Result<(), EntryError> {
    let bad_key = |reason: &'static str| EntryError::EnvKey {
        key: key.to_string(),
        reason,
    };
    let b = key.as_bytes();
    if !matches!(b.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'_')
        || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        return Err(bad_key("must match [A-Za-z_][A-Za-z0-9_]*"));
    }
    if key.starts_with(RESERVED_ENV_PREFIX) || RESERVED_ENV.contains(&key) {
        return Err(bad_key("reserved for the rebuilder"));
    }
    if value.contains('\0') {
        return Err(EntryError::EnvValue {
            key: key.to_string(),
            reason: "contains NUL",
        });
    }
    if value.len() > MAX_ENV_VALUE_BYTES {
        return Err(EntryError::EnvValue {
            key: key.to_string(),
            reason: "longer than 4096 bytes",
        });
    }
    Ok(())
}

impl Release {
    /// Checks every field rule of the release predicate (the same rules parsing applies).
    pub fn check(&self) -> Result<(), EntryError> {
        check_firmware_name(&self.firmware_name)?;
        check_version(&self.version)?;
        if self.recipe.is_empty() {
            return Err(EntryError::Recipe("empty"));
        }
        if self.recipe.len() > MAX_RECIPE_BYTES {
            return Err(EntryError::Recipe("longer than 32 KiB"));
        }
        if self.env.len() > MAX_ENV_PAIRS {
            return Err(EntryError::TooManyEnv(self.env.len()));
        }
        for (k, v) in &self.env {
            check_env_pair(k, v)?;
        }
        self.environment.check()?;
        if let Some(uri) = &self.source_uri {
            check_token("source uri", uri, MAX_URI_BYTES)?;
        }
        if self.artifacts.is_empty() {
            return Err(EntryError::NoSubjects);
        }
        check_unique_names(self.artifacts.iter().map(|a| a.name.as_str()))?;
        for a in &self.artifacts {
            for (alg, value) in &a.other_digests {
                if alg == "sha256" || alg == "sha384" {
                    return Err(EntryError::Digest {
                        alg: alg.clone(),
                        reason: "belongs in the artifact's own field",
                    });
                }
                statement::check_digest(alg, value)?;
            }
        }
        statement::check_timestamp("releasedOn", self.released_on)
    }

    /// The statement subjects: one per artifact, with sha256, sha384 and any other digests.
    pub fn subjects(&self) -> Result<Vec<Subject>, EntryError> {
        self.artifacts
            .iter()
            .map(|a| {
                let mut map = a.other_digests.clone();
                map.insert("sha256".into(), hex::encode(a.sha256));
                map.insert("sha384".into(), hex::encode(a.sha384));
                Ok(Subject {
                    name: a.name.clone(),
                    digest: DigestSet::from_map(map)?,
                })
            })
            .collect()
    }

    /// The in-toto statement, compact JSON, after [`Release::check`]; no `sevTail`.
    pub fn to_statement_bytes(&self) -> Result<Vec<u8>, EntryError> {
        self.to_statement_bytes_with_sev_tails(&SevTails::new())
    }

    /// The in-toto statement with the given `sevTail`s, after [`Release::check`]. Every tail
    /// must name an artifact of the release that has an `snp_ovmf_hash`.
    pub fn to_statement_bytes_with_sev_tails(
        &self,
        sev_tails: &SevTails,
    ) -> Result<Vec<u8>, EntryError> {
        self.check()?;
        for name in sev_tails.keys() {
            match self.artifacts.iter().find(|a| &a.name == name) {
                None => {
                    return Err(EntryError::Digest {
                        alg: "sevTail".into(),
                        reason: "names no artifact of the release",
                    })
                }
                Some(a) if a.snp_ovmf_hash.is_none() => return Err(tail_without_hash()),
                Some(_) => {}
            }
        }
        let mut digest = BTreeMap::new();
        digest.insert("sha256".to_string(), hex::encode(self.source_sha256));
        let wire = WireRelease {
            firmware: Obj(WireFirmware {
                name: self.firmware_name.clone(),
                version: self.version.clone(),
            }),
            build_definition: Obj(WireBuildDefinition {
                build_type: BUILD_TYPE.to_string(),
                external_parameters: Obj(WireExternal {
                    recipe: self.recipe.clone(),
                    env: StrictMap(self.env.clone()),
                    source_date_epoch: self.source_date_epoch,
                }),
                internal_parameters: Obj(WireInternal {
                    environment: self.environment.to_wire(),
                }),
                resolved_dependencies: vec![Obj(WireDependency {
                    name: SOURCE_DEPENDENCY.to_string(),
                    uri: self.source_uri.clone(),
                    digest: StrictMap(digest),
                })],
            }),
            artifacts: self
                .artifacts
                .iter()
                .map(|a| {
                    Obj(WireArtifact {
                        name: a.name.clone(),
                        snp_ovmf_hash: a.snp_ovmf_hash.map(hex::encode),
                        sev_tail: sev_tails
                            .get(&a.name)
                            .map(|t| crate::b64::encode(t.as_bytes())),
                    })
                })
                .collect(),
            released_on: statement::rfc3339_utc(self.released_on),
        };
        statement::write(&self.subjects()?, RELEASE_PREDICATE, &wire)
    }

    /// Parses a statement strictly as a release: predicate type, every field rule, and the
    /// artifacts matching the subjects one to one, by name and in order. Any `sevTail` is
    /// checked and dropped; [`Release::from_statement_with_sev_tails`] keeps them.
    pub fn from_statement(statement_bytes: &[u8]) -> Result<Release, EntryError> {
        Release::from_statement_with_sev_tails(statement_bytes).map(|(release, _)| release)
    }

    /// [`Release::from_statement`], also returning the artifacts' `sevTail`s: each canonical
    /// base64 of exactly [`SEV_TAIL_LEN`] bytes, on an artifact that has `snpOvmfHash`.
    pub fn from_statement_with_sev_tails(
        statement_bytes: &[u8],
    ) -> Result<(Release, SevTails), EntryError> {
        let (subjects, wire) = statement::parse::<WireRelease>(statement_bytes, RELEASE_PREDICATE)?;
        let WireBuildDefinition {
            build_type,
            external_parameters: Obj(external),
            internal_parameters: Obj(internal),
            resolved_dependencies,
        } = wire.build_definition.0;
        if build_type != BUILD_TYPE {
            return Err(EntryError::BuildType(build_type));
        }
        let [Obj(source)] = <[_; 1]>::try_from(resolved_dependencies).map_err(|deps| {
            EntryError::Dependencies(format!("expected exactly one, got {}", deps.len()))
        })?;
        if source.name != SOURCE_DEPENDENCY {
            return Err(EntryError::Dependencies(format!(
                "the dependency must be named {SOURCE_DEPENDENCY:?}, not {:?}",
                source.name
            )));
        }
        let source_sha256 = exactly_sha256(&source.digest.0)
            .ok_or_else(|| EntryError::Dependencies("digest must be exactly {sha256}".into()))?;
        if subjects.len() != wire.artifacts.len() {
            return Err(EntryError::ArtifactsMismatch(format!(
                "{} subjects but {} artifacts",
                subjects.len(),
                wire.artifacts.len()
            )));
        }
        let mut sev_tails = SevTails::new();
        let mut artifacts = Vec::with_capacity(subjects.len());
        for (s, Obj(a)) in subjects.into_iter().zip(wire.artifacts) {
            let (artifact, tail) = artifact(s, a)?;
            if let Some(tail) = tail {
                sev_tails.insert(artifact.name.clone(), tail);
            }
            artifacts.push(artifact);
        }
        let release = Release {
            firmware_name: wire.firmware.0.name,
            version: wire.firmware.0.version,
            recipe: external.recipe,
            env: external.env.0,
            source_date_epoch: external.source_date_epoch,
            environment: Environment::from_wire(internal.environment.0)?,
            source_uri: source.uri,
            source_sha256,
            artifacts,
            released_on: statement::timestamp("releasedOn", &wire.released_on)?,
        };
        release.check()?;
        Ok((release, sev_tails))
    }

    /// Statement bytes signed into an envelope, refusing what would not fit in the log.
    pub fn sign(&self, key: &SignerKey) -> Result<Vec<u8>, EntryError> {
        super::sign_checked(&self.to_statement_bytes()?, key)
    }

    /// [`Release::sign`] with `sevTail`s ([`Release::to_statement_bytes_with_sev_tails`]).
    pub fn sign_with_sev_tails(
        &self,
        sev_tails: &SevTails,
        key: &SignerKey,
    ) -> Result<Vec<u8>, EntryError> {
        super::sign_checked(&self.to_statement_bytes_with_sev_tails(sev_tails)?, key)
    }
}

fn tail_without_hash() -> EntryError {
    EntryError::Digest {
        alg: "sevTail".into(),
        reason: "only allowed together with snpOvmfHash",
    }
}

/// A digest map that holds `sha256` and nothing else.
pub(crate) fn exactly_sha256(map: &BTreeMap<String, String>) -> Option<[u8; 32]> {
    match map.iter().next() {
        Some((alg, value)) if map.len() == 1 && alg == "sha256" => lower_hex(value),
        _ => None,
    }
}

fn artifact(
    subject: Subject,
    wire: WireArtifact,
) -> Result<(Artifact, Option<SevTail>), EntryError> {
    if subject.name != wire.name {
        return Err(EntryError::ArtifactsMismatch(format!(
            "artifact {:?} is not subject {:?}",
            wire.name, subject.name
        )));
    }
    let missing = |alg| EntryError::MissingDigest {
        name: subject.name.clone(),
        alg,
    };
    let sha256 = subject.digest.sha256().ok_or_else(|| missing("sha256"))?;
    let sha384 = subject.digest.sha384().ok_or_else(|| missing("sha384"))?;
    let snp_ovmf_hash = wire
        .snp_ovmf_hash
        .map(|h| {
            lower_hex(&h).ok_or(EntryError::Digest {
                alg: "snpOvmfHash".into(),
                reason: "must be 96 lowercase hex digits",
            })
        })
        .transpose()?;
    let sev_tail = match wire.sev_tail {
        None => None,
        Some(_) if snp_ovmf_hash.is_none() => return Err(tail_without_hash()),
        Some(text) => Some(
            crate::b64::decode_canonical(&text)
                .ok()
                .and_then(|bytes| SevTail::new(&bytes))
                .ok_or(EntryError::Base64("sevTail"))?,
        ),
    };
    let mut other_digests = subject.digest.as_map().clone();
    other_digests.remove("sha256");
    other_digests.remove("sha384");
    let artifact = Artifact {
        name: subject.name,
        sha256,
        sha384,
        snp_ovmf_hash,
        other_digests,
    };
    Ok((artifact, sev_tail))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256, Sha384};

    use super::*;

    fn artifact(name: &str, snp: bool) -> Artifact {
        Artifact {
            name: name.into(),
            sha256: Sha256::digest(name).into(),
            sha384: Sha384::digest(name).into(),
            snp_ovmf_hash: snp.then(|| Sha384::digest(b"ovmf hash").into()),
            other_digests: BTreeMap::new(),
        }
    }

    fn release() -> Release {
        Release {
            firmware_name: "ovmf".into(),
            version: "2024.05".into(),
            recipe: "make\n".into(),
            env: BTreeMap::new(),
            source_date_epoch: 1_700_000_000,
            environment: Environment::default(),
            source_uri: None,
            source_sha256: [7; 32],
            artifacts: vec![artifact("OVMF.fd", true), artifact("OVMF_VARS.fd", false)],
            released_on: 1_795_694_400,
        }
    }

    fn tail() -> SevTail {
        let bytes: Vec<u8> = (0..SEV_TAIL_LEN).map(|i| (i * 7 % 251) as u8).collect();
        SevTail::new(&bytes).unwrap()
    }

    fn tails() -> SevTails {
        SevTails::from([("OVMF.fd".to_string(), tail())])
    }

    /// The release statement with the tail, as text, with `from` replaced by `to`.
    fn edited(from: &str, to: &str) -> Result<(Release, SevTails), EntryError> {
        let text = String::from_utf8(
            release()
                .to_statement_bytes_with_sev_tails(&tails())
                .unwrap(),
        )
        .unwrap();
        assert!(text.contains(from), "{from} not in {text}");
        Release::from_statement_with_sev_tails(text.replacen(from, to, 1).as_bytes())
    }

    #[test]
    fn sev_tail_round_trip_and_shape() {
        let r = release();
        let bytes = r.to_statement_bytes_with_sev_tails(&tails()).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let expected = format!(
            r#""artifacts":[{{"name":"OVMF.fd","snpOvmfHash":"{}","sevTail":"{}"}},{{"name":"OVMF_VARS.fd"}}]"#,
            hex::encode(r.artifacts[0].snp_ovmf_hash.unwrap()),
            crate::b64::encode(tail().as_bytes())
        );
        assert!(text.contains(&expected), "{text}");
        assert_eq!(
            Release::from_statement_with_sev_tails(&bytes).unwrap(),
            (r.clone(), tails())
        );
        // The plain parser checks and drops the tail; without tails nothing changes.
        assert_eq!(Release::from_statement(&bytes).unwrap(), r);
        let plain = r.to_statement_bytes().unwrap();
        assert!(!String::from_utf8(plain.clone())
            .unwrap()
            .contains("sevTail"));
        assert_eq!(
            r.to_statement_bytes_with_sev_tails(&SevTails::new())
                .unwrap(),
            plain
        );
        assert_eq!(
            Release::from_statement_with_sev_tails(&plain).unwrap(),
            (r.clone(), SevTails::new())
        );
        // A signed entry with a tail fits the log easily, and parses as an entry.
        let key = SignerKey::from_seed("vendor.example/release", [1; 32]).unwrap();
        let entry = r.sign_with_sev_tails(&tails(), &key).unwrap();
        assert!(entry.len() < 12_000, "{}", entry.len());
        let parsed = super::super::parse_entry(&entry).unwrap();
        assert_eq!(parsed.entry, super::super::Entry::Release(r));
        assert_eq!(
            Release::from_statement_with_sev_tails(&parsed.statement_bytes)
                .unwrap()
                .1,
            tails()
        );
        assert!(format!("{:?}", tail()).starts_with("SevTail(sha256 "));
    }

    #[test]
    fn sev_tail_constructors() {
        assert!(SevTail::new(&[0; SEV_TAIL_LEN - 1]).is_none());
        assert!(SevTail::new(&[0; SEV_TAIL_LEN + 1]).is_none());
        assert!(SevTail::of_image(&[0; SEV_TAIL_LEN - 1]).is_none());
        let mut image = vec![1u8; 3 * SEV_TAIL_LEN];
        image[SEV_TAIL_LEN * 2..].copy_from_slice(tail().as_bytes());
        assert_eq!(SevTail::of_image(&image), Some(tail()));
    }

    #[test]
    fn sev_tail_rejections() {
        let b64 = crate::b64::encode(tail().as_bytes());
        let hash = hex::encode(release().artifacts[0].snp_ovmf_hash.unwrap());
        let base64 = |r: Result<(Release, SevTails), EntryError>| {
            assert_eq!(r, Err(EntryError::Base64("sevTail")))
        };
        // Wrong lengths, non-canonical encodings.
        base64(edited(&b64, &crate::b64::encode([0u8; SEV_TAIL_LEN - 1])));
        base64(edited(&b64, &crate::b64::encode([0u8; SEV_TAIL_LEN + 1])));
        base64(edited(&b64, ""));
        base64(edited(&b64, b64.trim_end_matches('=')));
        base64(edited(&b64, &format!("{b64}\\n")));
        assert!(b64.contains('/'));
        base64(edited(&b64, &b64.replacen('/', "_", 1)));
        // 4096 bytes encode to ...xx== ; a non-zero padding bit is not canonical.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = b64.clone().into_bytes();
        let at = bits.len() - 3;
        let index = ALPHABET.iter().position(|&c| c == bits[at]).unwrap();
        bits[at] = ALPHABET[index | 1];
        base64(edited(&b64, std::str::from_utf8(&bits).unwrap()));
        // Not a string, null, duplicated.
        assert!(matches!(
            edited(&format!("\"{b64}\""), "null"),
            Err(EntryError::MalformedStatement(_))
        ));
        assert!(matches!(
            edited(&format!("\"{b64}\""), "[]"),
            Err(EntryError::MalformedStatement(_))
        ));
        assert!(matches!(
            edited(
                "\"sevTail\":",
                &format!("\"sevTail\":\"{b64}\",\"sevTail\":")
            ),
            Err(EntryError::MalformedStatement(_))
        ));
        // Only together with snpOvmfHash, on the reader and on the writer.
        let no_hash = edited(&format!("\"snpOvmfHash\":\"{hash}\","), "");
        assert!(
            matches!(&no_hash, Err(EntryError::Digest { alg, reason }) if alg == "sevTail" && reason.contains("snpOvmfHash")),
            "{no_hash:?}"
        );
        let mut r = release();
        r.artifacts[0].snp_ovmf_hash = None;
        assert!(matches!(
            r.to_statement_bytes_with_sev_tails(&tails()),
            Err(EntryError::Digest { reason, .. }) if reason.contains("snpOvmfHash")
        ));
        let vars = SevTails::from([("OVMF_VARS.fd".to_string(), tail())]);
        assert!(matches!(
            release().to_statement_bytes_with_sev_tails(&vars),
            Err(EntryError::Digest { reason, .. }) if reason.contains("snpOvmfHash")
        ));
        let stray = SevTails::from([("other.fd".to_string(), tail())]);
        assert!(matches!(
            release().to_statement_bytes_with_sev_tails(&stray),
            Err(EntryError::Digest { reason, .. }) if reason.contains("no artifact")
        ));
        // The field name is exact.
        assert!(matches!(
            edited("\"sevTail\":", "\"sev_tail\":"),
            Err(EntryError::MalformedStatement(_))
        ));
    }
}
