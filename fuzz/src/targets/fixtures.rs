//! Fixed keys, a small signed and cosigned log, and a policy that trusts it: the "known world"
//! the verifying targets check fuzzed input against. Everything is derived from constant seeds
//! (Ed25519 signing is deterministic), built once per process.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use fwlog::checkpoint::{Checkpoint, SignedCheckpoint};
use fwlog::cosignature::{self, CosignatureVerifier};
use fwlog::entry::{self, Artifact, Environment, ObtainedArtifact, Release, Reproduction, Verdict};
use fwlog::merkle::{self, Hash, LeafHashes};
use fwlog::note::{SignerKey, Verifier, VerifierKey, ALG_COSIGNATURE_V1};
use fwlog::policy::Policy;
use sha2::{Digest, Sha256, Sha384};

/// The fixture log's origin (also its key's name).
pub const ORIGIN: &str = "example.com/firmware-log";
/// Leaves in the fixture log.
pub const LOG_SIZE: u64 = 13;
/// Where the release entry sits.
pub const RELEASE_INDEX: u64 = 2;
/// Where the two reproductions sit.
pub const REPRODUCTION_INDICES: [u64; 2] = [4, 5];
/// The size the fixture witness has already cosigned.
pub const WITNESS_OLD_SIZE: u64 = 5;
/// The timestamp of every fixture cosignature.
pub const COSIGNED_AT: u64 = 1_700_000_000;
/// The released firmware file's contents.
pub const FIRMWARE: &[u8] = b"fwlog fuzz fixture: OVMF.fd";

/// Signer keys of the C2SP signed-note vectors (golang.org/x/mod sumdb/note tests).
pub const VECTOR_SIGNERS: [&str; 2] = [
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    "PRIVATE+KEY+EnochRoot+af0cfe78+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
];
/// Verifier keys of the signed-note vectors (the two above, the spec example, sum.golang.org).
pub const VECTOR_VERIFIERS: [&str; 4] = [
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
];
/// The tlog-cosignature/v1 vector's witness key (type 0x04) and the text it cosigned.
pub const VECTOR_COSIGNER: &str =
    "example.org/witness+cacf2e50+BGbguFjkYqYJ5m/nE3DIFtiEb/ED1UmaIqf+w3/bxCSn";
pub const VECTOR_CHECKPOINT_TEXT: &str =
    "example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

/// Seeds of the fixture keys.
const LOG_SEED: [u8; 32] = [0x11; 32];
pub const WITNESS_SEEDS: [[u8; 32]; 2] = [[0x21; 32], [0x22; 32]];
pub const WITNESS_NAMES: [&str; 2] = ["witness.example/w1", "witness.example/w2"];
const VENDOR_SEED: [u8; 32] = [0x31; 32];
const REBUILDER_SEEDS: [[u8; 32]; 2] = [[0x41; 32], [0x42; 32]];
const REBUILDER_NAMES: [&str; 2] = ["rebuild-a.example/r", "rebuild-b.example/r"];

pub struct Fixtures {
    pub log: SignerKey,
    pub log_vk: VerifierKey,
    pub witnesses: Vec<SignerKey>,
    /// The witnesses' cosignature/v1 (0x04) keys.
    pub witness_vks: Vec<VerifierKey>,
    pub vendor: SignerKey,
    pub rebuilders: Vec<SignerKey>,
    pub vector_signers: Vec<SignerKey>,
    /// Type 0x01 keys of the vectors.
    pub vector_verifiers: Vec<VerifierKey>,
    /// The fixture witnesses and the vector's witness, as cosignature verifiers.
    pub cosigners: Vec<CosignatureVerifier>,
    /// The log's entries (the release and reproductions among fillers) and leaf hashes.
    pub entries: Vec<Vec<u8>>,
    pub leaves: Vec<Hash>,
    pub release: Release,
    pub reproductions: Vec<Reproduction>,
    /// The checkpoint of all [`LOG_SIZE`] leaves, signed and cosigned by both witnesses.
    pub checkpoint: SignedCheckpoint,
    pub policy_text: String,
    pub policy: Policy,
    /// SHA-256 of [`FIRMWARE`], the artifact a bundle is checked for.
    pub artifact_sha256: [u8; 32],
}

impl Fixtures {
    /// Every fixture and vector key a note can be verified against: plain Ed25519 keys and
    /// cosignature verifiers.
    pub fn note_verifiers(&self) -> Vec<&dyn Verifier> {
        let mut out: Vec<&dyn Verifier> = vec![&self.log_vk];
        out.extend(self.vector_verifiers.iter().map(|k| k as &dyn Verifier));
        out.extend(self.cosigners.iter().map(|k| k as &dyn Verifier));
        out
    }

    /// The log's checkpoint at `size` (at most [`LOG_SIZE`]), log-signed and cosigned by both
    /// witnesses.
    pub fn checkpoint_at(&self, size: u64) -> SignedCheckpoint {
        signed_checkpoint(&self.log, &self.witnesses, &self.leaves, size)
    }

    /// A witness key by index, rebuilt from its seed (signer keys are not `Clone`).
    pub fn witness(&self, i: usize) -> SignerKey {
        SignerKey::from_seed(WITNESS_NAMES[i], WITNESS_SEEDS[i]).expect("valid name")
    }
}

/// The fixtures, built on first use.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(build)
}

fn signed_checkpoint(
    log: &SignerKey,
    witnesses: &[SignerKey],
    leaves: &[Hash],
    size: u64,
) -> SignedCheckpoint {
    let root = merkle::tree_root(size, &LeafHashes(leaves)).expect("size within the log");
    let cp = Checkpoint {
        origin: ORIGIN.to_string(),
        size,
        root,
        extensions: vec![],
    };
    let mut signed = SignedCheckpoint::sign(cp, log).expect("fixture checkpoint signs");
    let text = signed.checkpoint.to_text();
    for w in witnesses {
        signed
            .note
            .add_signature(cosignature::cosign(&text, w, COSIGNED_AT));
    }
    signed
}

fn key(name: &str, seed: [u8; 32]) -> SignerKey {
    SignerKey::from_seed(name, seed).expect("valid fixture key name")
}

fn environment() -> Environment {
    Environment {
        description: "Debian bookworm, GCC 12".to_string(),
        container_image: Some("docker.io/library/debian:bookworm".to_string()),
        debian_snapshot: Some("20240601T000000Z".to_string()),
    }
}

fn release() -> Release {
    Release {
        firmware_name: "ovmf".to_string(),
        version: "2024.05".to_string(),
        recipe: "#!/bin/sh\nset -eu\nmake -C OvmfPkg BUILD_TARGET=\"$TARGET\"\n".to_string(),
        env: BTreeMap::from([("TARGET".to_string(), "RELEASE".to_string())]),
        source_date_epoch: 1_700_000_000,
        environment: environment(),
        source_uri: Some("https://example.com/edk2-2024.05.tar.gz".to_string()),
        source_sha256: Sha256::digest(b"edk2 source").into(),
        artifacts: vec![Artifact {
            name: "OVMF.fd".to_string(),
            sha256: Sha256::digest(FIRMWARE).into(),
            sha384: Sha384::digest(FIRMWARE).into(),
            snp_ovmf_hash: Some([0x5a; 48]),
            other_digests: BTreeMap::new(),
        }],
        released_on: 1_700_000_100,
    }
}

fn build() -> Fixtures {
    let log = key(ORIGIN, LOG_SEED);
    let log_vk = log.verifier_key();
    let witnesses: Vec<SignerKey> = (0..2)
        .map(|i| key(WITNESS_NAMES[i], WITNESS_SEEDS[i]))
        .collect();
    let witness_vks: Vec<VerifierKey> = witnesses
        .iter()
        .map(|w| w.verifier_key_for(ALG_COSIGNATURE_V1))
        .collect();
    let vendor = key("vendor.example/release", VENDOR_SEED);
    let rebuilders: Vec<SignerKey> = (0..2)
        .map(|i| key(REBUILDER_NAMES[i], REBUILDER_SEEDS[i]))
        .collect();
    let vector_signers = VECTOR_SIGNERS
        .iter()
        .map(|s| SignerKey::parse(s).expect("vector signer key"))
        .collect();
    let vector_verifiers = VECTOR_VERIFIERS
        .iter()
        .map(|s| VerifierKey::parse(s).expect("vector verifier key"))
        .collect();
    let mut cosigners: Vec<CosignatureVerifier> = witness_vks
        .iter()
        .map(|k| CosignatureVerifier::new(k.clone()).expect("0x04 key"))
        .collect();
    cosigners.push(
        CosignatureVerifier::new(VerifierKey::parse(VECTOR_COSIGNER).expect("vector cosigner"))
            .expect("0x04 key"),
    );

    // The log: fillers, the release at RELEASE_INDEX, reproductions after it.
    let release = release();
    let release_entry = release.sign(&vendor).expect("fixture release signs");
    let mut entries: Vec<Vec<u8>> = (0..LOG_SIZE)
        .map(|i| format!("filler entry {i}").into_bytes())
        .collect();
    entries[RELEASE_INDEX as usize] = release_entry.clone();
    let mut reproductions = Vec::new();
    for (r, &index) in rebuilders.iter().zip(REPRODUCTION_INDICES.iter()) {
        let rep = Reproduction {
            release: entry::release_ref(ORIGIN, RELEASE_INDEX, &release_entry),
            verdict: Verdict::Reproduced,
            artifacts: vec![ObtainedArtifact {
                name: "OVMF.fd".to_string(),
                sha256: Sha256::digest(FIRMWARE).into(),
                sha384: Sha384::digest(FIRMWARE).into(),
            }],
            environment: environment(),
            rebuilt_on: 1_700_000_200,
            note: Some("rebuilt twice\nsame bytes".to_string()),
        };
        entries[index as usize] = rep.sign(r).expect("fixture reproduction signs");
        reproductions.push(rep);
    }
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();

    let policy_text = format!(
        "[log]\norigin = \"{ORIGIN}\"\nkey = \"{log_vk}\"\n\n\
         [witnesses]\nquorum = 1\nkeys = [\"{}\", \"{}\"]\n\n\
         [[vendors]]\nkey = \"{}\"\nfirmware = [\"ovmf\", \"seabios\"]\n\n\
         [rebuilders]\nquorum = 2\nkeys = [\"{}\", \"{}\"]\non_mismatch = \"reject\"\n",
        witness_vks[0],
        witness_vks[1],
        vendor.verifier_key(),
        rebuilders[0].verifier_key(),
        rebuilders[1].verifier_key(),
    );
    let policy = Policy::parse(&policy_text).expect("fixture policy parses");

    let checkpoint = signed_checkpoint(&log, &witnesses, &leaves, LOG_SIZE);
    Fixtures {
        log,
        log_vk,
        witnesses,
        witness_vks,
        vendor,
        rebuilders,
        vector_signers,
        vector_verifiers,
        cosigners,
        entries,
        leaves,
        release,
        reproductions,
        checkpoint,
        policy_text,
        policy,
        artifact_sha256: Sha256::digest(FIRMWARE).into(),
    }
}
