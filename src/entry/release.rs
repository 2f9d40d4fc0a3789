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
//!  "artifacts":[{"name":"OVMF.fd","snpOvmfHash":"<96 hex>"}],
//!  "releasedOn":"2026-11-26T12:00:00Z"}
//! ```

use std::collections::BTreeMap;

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

    /// The in-toto statement, compact JSON, after [`Release::check`].
    pub fn to_statement_bytes(&self) -> Result<Vec<u8>, EntryError> {
        self.check()?;
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
                    })
                })
                .collect(),
            released_on: statement::rfc3339_utc(self.released_on),
        };
        statement::write(&self.subjects()?, RELEASE_PREDICATE, &wire)
    }

    /// Parses a statement strictly as a release: predicate type, every field rule, and the
    /// artifacts matching the subjects one to one, by name and in order.
    pub fn from_statement(statement_bytes: &[u8]) -> Result<Release, EntryError> {
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
        let artifacts = subjects
            .into_iter()
            .zip(wire.artifacts)
            .map(|(s, Obj(a))| artifact(s, a))
            .collect::<Result<Vec<_>, _>>()?;
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
        Ok(release)
    }

    /// Statement bytes signed into an envelope, refusing what would not fit in the log.
    pub fn sign(&self, key: &SignerKey) -> Result<Vec<u8>, EntryError> {
        super::sign_checked(&self.to_statement_bytes()?, key)
    }
}

/// A digest map that holds `sha256` and nothing else.
pub(crate) fn exactly_sha256(map: &BTreeMap<String, String>) -> Option<[u8; 32]> {
    match map.iter().next() {
        Some((alg, value)) if map.len() == 1 && alg == "sha256" => lower_hex(value),
        _ => None,
    }
}

fn artifact(subject: Subject, wire: WireArtifact) -> Result<Artifact, EntryError> {
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
    let mut other_digests = subject.digest.as_map().clone();
    other_digests.remove("sha256");
    other_digests.remove("sha384");
    Ok(Artifact {
        name: subject.name,
        sha256,
        sha384,
        snp_ovmf_hash,
        other_digests,
    })
}
