//! Mutation suite: every small change to a signed artifact is rejected by the library's
//! parse + verify, or is provably equivalent (it re-parses to the same verified content and
//! the change is in a part nothing authenticates: an unknown key's signature line, a duplicated
//! signature line, a tlog-proof's `extra`).
//!
//! Inputs, all real (made with the library against a real Git-backed log):
//! - a checkpoint with the log's signature, a witness cosignature and an unknown key's line;
//! - a C2SP tlog-proof (with an `extra` line) for the release entry;
//! - a DSSE release entry and a reproduction entry;
//! - an offline bundle (release + two reproductions, cosigned checkpoint) with its policy.
//!
//! Mutations: every byte XOR each of nine masks (inputs over 4 KiB: 4096 positions spread
//! evenly over the input); removing each line; duplicating each line. For the bundle also
//! structural ones: each line of its embedded checkpoint removed or duplicated, each proof
//! hash removed or duplicated, each reproduction removed or duplicated.
//!
//! Counts are printed per input (`--nocapture`); the test fails on any variant that is
//! accepted with a different meaning, or accepted for a reason the classifier cannot name.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use fwlog::bundle::Bundle;
use fwlog::catalog::Catalog;
use fwlog::checkpoint::{SignedCheckpoint, VerifiedCheckpoint};
use fwlog::cosignature;
use fwlog::entry::{
    self, Artifact, Environment, FwlogEntries, ObtainedArtifact, Release, Reproduction, Verdict,
};
use fwlog::merkle::{leaf_hash, Hash};
use fwlog::note::{NoteSignature, SignerKey, VerifierKey, ALG_COSIGNATURE_V1};
use fwlog::policy::Policy;
use fwlog::proof::TlogProof;
use fwlog::store::{EntrySchema, LogStore, NewEntry, DEFAULT_BRANCH};
use sha2::{Digest as _, Sha256, Sha384};

const ORIGIN: &str = "mutation.example/log";
const MASKS: [u8; 9] = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff];
/// Inputs longer than this get a sample of `SAMPLE` byte positions, spread evenly.
const ALL_BYTES_UP_TO: usize = 4096;
const SAMPLE: usize = 4096;

/// The full set (every mask at every position) runs in release builds (~5 s). Unoptimised
/// builds verify signatures ~100x slower (the full set takes over 10 minutes there), so they
/// run one mask per position, rotating through the nine, and 1024 positions of inputs over
/// 4 KiB, unless `FWLOG_MUTATION_FULL=1`.
fn full() -> bool {
    !cfg!(debug_assertions) || std::env::var_os("FWLOG_MUTATION_FULL").is_some_and(|v| v == "1")
}

/// What the library made of one variant.
enum Outcome {
    Rejected,
    /// Accepted; the semantic content (everything that was verified) as a comparable string,
    /// and the raw parts a classifier may look at.
    Accepted {
        meaning: String,
        parts: Parts,
    },
}

/// Unauthenticated parts of an accepted input, to explain why two accepted inputs with the
/// same meaning differ.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parts {
    /// The checkpoint note as parsed (text and every signature line).
    text: String,
    known_lines: Vec<(String, u32, Vec<u8>)>,
    all_lines: Vec<(String, u32, Vec<u8>)>,
    /// A tlog-proof's `extra`.
    extra: Option<Vec<u8>>,
}

struct Fixture {
    log_key: VerifierKey,
    witness: VerifierKey,
    checkpoint: Vec<u8>,
    proof: Vec<u8>,
    release_leaf: Hash,
    release: Vec<u8>,
    reproduction: Vec<u8>,
    bundle: Vec<u8>,
    policy: Policy,
    artifact: [u8; 32],
}

fn env(description: &str) -> Environment {
    Environment {
        description: description.into(),
        container_image: None,
        debian_snapshot: None,
    }
}

fn release(i: u32) -> (Release, [u8; 32], [u8; 48]) {
    let image = format!("firmware image {i}\n");
    let sha256: [u8; 32] = Sha256::digest(image.as_bytes()).into();
    let sha384: [u8; 48] = Sha384::digest(image.as_bytes()).into();
    let r = Release {
        firmware_name: "mutant-fw".into(),
        version: format!("2.{i}"),
        recipe: "cp \"$FWLOG_SOURCE\" \"$FWLOG_OUT/fw.bin\"\n".into(),
        env: [("OPT".to_string(), "-O2".to_string())]
            .into_iter()
            .collect(),
        source_date_epoch: 1_700_000_000,
        environment: env("debian bookworm"),
        source_uri: Some("https://mutation.example/src.tar".into()),
        source_sha256: Sha256::digest(b"source archive").into(),
        artifacts: vec![Artifact {
            name: "fw.bin".into(),
            sha256,
            sha384,
            snp_ovmf_hash: None,
            other_digests: Default::default(),
        }],
        released_on: 1_700_000_100 + u64::from(i),
    };
    (r, sha256, sha384)
}

fn new_entry(name: &str, bytes: Vec<u8>) -> NewEntry {
    NewEntry {
        name: name.into(),
        bytes,
        pending_path: None,
    }
}

/// A log of 21 entries (19 releases, then two reproductions of release 5), cosigned by a
/// witness, with an extra line from a key nobody trusts; and everything cut from it.
fn fixture(dir: &std::path::Path) -> Fixture {
    let log = SignerKey::generate(ORIGIN).expect("log key");
    let witness = SignerKey::generate("witness.example/w1").expect("witness key");
    let stranger = SignerKey::generate("stranger.example/k").expect("stranger key");
    let vendor = SignerKey::generate("vendor.example/rel").expect("vendor key");
    let rebuilders = [
        SignerKey::generate("go-a.example/rebuild").expect("key"),
        SignerKey::generate("go-b.example/rebuild").expect("key"),
    ];
    let store = LogStore::init(
        &dir.join("log"),
        DEFAULT_BRANCH,
        ORIGIN,
        &log,
        EntrySchema::Fwlog,
    )
    .expect("init");
    let validator = FwlogEntries::new(ORIGIN);
    let releases: Vec<NewEntry> = (0..19)
        .map(|i| new_entry(&format!("r{i}"), release(i).0.sign(&vendor).expect("sign")))
        .collect();
    store.append(&log, &releases, &validator).expect("append");
    let index = 5u64;
    let release_bytes = releases[index as usize].bytes.clone();
    let (rel, sha256, sha384) = release(index as u32);
    let reps: Vec<NewEntry> = rebuilders
        .iter()
        .enumerate()
        .map(|(k, key)| {
            let rep = Reproduction {
                release: entry::release_ref(ORIGIN, index, &release_bytes),
                verdict: Verdict::Reproduced,
                artifacts: vec![ObtainedArtifact {
                    name: rel.artifacts[0].name.clone(),
                    sha256,
                    sha384,
                }],
                environment: env("a rebuilder's machine"),
                rebuilt_on: 1_700_000_500,
                note: Some(format!("rebuilt by {k}\nno surprises")),
            };
            new_entry(&format!("rep{k}"), rep.sign(key).expect("sign"))
        })
        .collect();
    let reproduction = reps[0].bytes.clone();
    store.append(&log, &reps, &validator).expect("append");

    let head = store.head().expect("head");
    let text = head.checkpoint.note.text().to_string();
    let cosig = cosignature::cosign(&text, &witness, 1_700_001_000);
    let unknown = NoteSignature {
        name: stranger.name().to_string(),
        key_id: stranger.key_id(),
        sig: stranger.sign(text.as_bytes()).to_vec(),
    };
    store
        .add_cosignatures(&text, &[cosig, unknown])
        .expect("cosign");
    let snap = store.head().expect("head");
    let checkpoint = snap.checkpoint_bytes.clone();
    let p = snap.prove(index).expect("prove");
    let proof = TlogProof::from_checkpoint_bytes(
        Some(b"opaque context the verifier must not trust".to_vec()),
        p.index,
        p.path.clone(),
        &checkpoint,
    )
    .expect("proof")
    .to_bytes();

    let catalog = Catalog::scan(&snap).expect("scan");
    let logged = catalog.releases_with(&sha256)[0];
    let bundle = catalog.bundle(&snap, logged).expect("bundle");
    assert_eq!(bundle.reproductions.len(), 2);
    let witness_vkey = witness.verifier_key_for(ALG_COSIGNATURE_V1);
    let policy = Policy::parse(&format!(
        "[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n[witnesses]\nquorum = 1\nkeys = [\"{witness_vkey}\"]\n\n\
         [[vendors]]\nkey = \"{}\"\nfirmware = [\"mutant-fw\"]\n\n\
         [rebuilders]\nquorum = 2\nkeys = [\"{}\", \"{}\"]\n",
        log.verifier_key(),
        vendor.verifier_key(),
        rebuilders[0].verifier_key(),
        rebuilders[1].verifier_key(),
    ))
    .expect("policy");
    Fixture {
        log_key: log.verifier_key(),
        witness: witness_vkey,
        checkpoint,
        proof,
        release_leaf: leaf_hash(&release_bytes),
        release: release_bytes,
        reproduction,
        bundle: bundle.to_bytes(),
        policy,
        artifact: sha256,
    }
}

// ---------------------------------------------------------------------------------------------
// Parse + verify, per input kind
// ---------------------------------------------------------------------------------------------

fn verified_meaning(v: &VerifiedCheckpoint) -> String {
    let w: Vec<(String, u64)> = v
        .witnesses
        .iter()
        .map(|w| (w.key.to_string(), w.timestamp))
        .collect();
    format!("{:?} witnesses {w:?}", v.checkpoint)
}

fn parts(fx: &Fixture, cp: &SignedCheckpoint, extra: Option<Vec<u8>>) -> Parts {
    let known = [
        (fx.log_key.name(), fx.log_key.key_id()),
        (fx.witness.name(), fx.witness.key_id()),
    ];
    let all: Vec<(String, u32, Vec<u8>)> = cp
        .note
        .signatures()
        .iter()
        .map(|s| (s.name.clone(), s.key_id, s.sig.clone()))
        .collect();
    let mut known_lines: Vec<_> = all
        .iter()
        .filter(|(n, id, _)| known.contains(&(n.as_str(), *id)))
        .cloned()
        .collect();
    known_lines.sort();
    known_lines.dedup();
    Parts {
        text: cp.note.text().to_string(),
        known_lines,
        all_lines: all,
        extra,
    }
}

fn check_checkpoint(fx: &Fixture, bytes: &[u8]) -> Outcome {
    let Ok(cp) = SignedCheckpoint::parse(bytes) else {
        return Outcome::Rejected;
    };
    match cp.verify(
        &fx.log_key,
        Some(ORIGIN),
        std::slice::from_ref(&fx.witness),
        1,
    ) {
        Ok(v) => Outcome::Accepted {
            meaning: verified_meaning(&v),
            parts: parts(fx, &cp, None),
        },
        Err(_) => Outcome::Rejected,
    }
}

fn check_proof(fx: &Fixture, bytes: &[u8]) -> Outcome {
    let Ok(p) = TlogProof::parse(bytes) else {
        return Outcome::Rejected;
    };
    match p.verify(
        &fx.release_leaf,
        &fx.log_key,
        Some(ORIGIN),
        std::slice::from_ref(&fx.witness),
        1,
    ) {
        Ok(v) => Outcome::Accepted {
            meaning: format!(
                "index {} path {:?} {}",
                p.index,
                p.path,
                verified_meaning(&v)
            ),
            parts: parts(fx, &p.checkpoint, p.extra.clone()),
        },
        Err(_) => Outcome::Rejected,
    }
}

fn check_entry(_: &Fixture, bytes: &[u8]) -> Outcome {
    match entry::parse_entry(bytes) {
        Ok(p) => Outcome::Accepted {
            meaning: format!("{p:?}"),
            parts: Parts {
                text: String::new(),
                known_lines: vec![],
                all_lines: vec![],
                extra: None,
            },
        },
        Err(_) => Outcome::Rejected,
    }
}

fn check_bundle(fx: &Fixture, bytes: &[u8]) -> Outcome {
    let Ok(b) = Bundle::parse(bytes) else {
        return Outcome::Rejected;
    };
    let Ok(v) = b.verify(&fx.policy, &fx.artifact) else {
        return Outcome::Rejected;
    };
    let cp = SignedCheckpoint::parse(&b.checkpoint).expect("verified, so it parses");
    let entries: Vec<(u64, Vec<u8>, Vec<Hash>)> = std::iter::once(&b.release)
        .chain(&b.reproductions)
        .map(|e| (e.index, e.entry.clone(), e.proof.clone()))
        .collect();
    Outcome::Accepted {
        meaning: format!(
            "{} {} {entries:?} {} {:?} {} {:?}",
            b.origin,
            b.log_key,
            verified_meaning(&v.checkpoint),
            v.release,
            v.artifact_name,
            v.acceptance
        ),
        parts: parts(fx, &cp, None),
    }
}

/// Why an accepted variant with the original's meaning differs from it, if the difference is
/// in a part nothing authenticates; `None` when it cannot say.
fn explain(orig: &Parts, var: &Parts) -> Option<&'static str> {
    if orig.text != var.text || orig.known_lines != var.known_lines {
        return None;
    }
    if orig.extra != var.extra {
        return (orig.all_lines == var.all_lines).then_some("extra (unauthenticated)");
    }
    if var.all_lines.len() > orig.all_lines.len() {
        return Some("duplicated signature line");
    }
    if orig.all_lines != var.all_lines {
        return Some("unknown key's signature line");
    }
    // Same text, same lines, same extra: a byte-identical input would not be a variant.
    None
}

// ---------------------------------------------------------------------------------------------
// Variants and counting
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    variants: usize,
    rejected: usize,
    equivalent: BTreeMap<&'static str, usize>,
    /// Accepted with a meaning other than the original's: must stay empty.
    different: Vec<String>,
    /// Accepted, same meaning, but the difference is not in a known unauthenticated part.
    unexplained: Vec<String>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.variants += o.variants;
        self.rejected += o.rejected;
        for (k, v) in o.equivalent {
            *self.equivalent.entry(k).or_default() += v;
        }
        self.different.extend(o.different);
        self.unexplained.extend(o.unexplained);
    }

    fn record(&mut self, what: String, orig: &(String, Parts), outcome: Outcome) {
        self.variants += 1;
        match outcome {
            Outcome::Rejected => self.rejected += 1,
            Outcome::Accepted { meaning, parts } => {
                if meaning != orig.0 {
                    self.different.push(what);
                } else {
                    match explain(&orig.1, &parts) {
                        Some(why) => *self.equivalent.entry(why).or_default() += 1,
                        None => self.unexplained.push(what),
                    }
                }
            }
        }
    }
}

type Check = fn(&Fixture, &[u8]) -> Outcome;

fn lines(input: &[u8]) -> Vec<&[u8]> {
    input.split_inclusive(|&b| b == b'\n').collect()
}

/// Byte flips (threaded), line removals and line duplications of `input`.
fn mutate(fx: &Fixture, name: &str, input: &[u8], check: Check) -> Tally {
    let start = Instant::now();
    let orig = match check(fx, input) {
        Outcome::Accepted { meaning, parts } => (meaning, parts),
        Outcome::Rejected => panic!("{name}: the unmutated input is rejected"),
    };
    let full = full();
    let sample = if full { SAMPLE } else { SAMPLE / 4 };
    let positions: Vec<usize> = if input.len() <= ALL_BYTES_UP_TO {
        (0..input.len()).collect()
    } else {
        let mut p: Vec<usize> = (0..sample).map(|i| i * input.len() / sample).collect();
        p.dedup();
        p
    };
    let total = Mutex::new(Tally::default());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for chunk in positions.chunks(positions.len().div_ceil(threads)) {
            let (orig, total) = (&orig, &total);
            s.spawn(move || {
                let mut t = Tally::default();
                let mut buf = input.to_vec();
                for &pos in chunk {
                    let masks = if full {
                        &MASKS[..]
                    } else {
                        &MASKS[pos % MASKS.len()..=pos % MASKS.len()]
                    };
                    for &mask in masks {
                        buf[pos] ^= mask;
                        t.record(format!("byte {pos} ^ {mask:#04x}"), orig, check(fx, &buf));
                        buf[pos] ^= mask;
                    }
                }
                total.lock().expect("tally").merge(t);
            });
        }
    });
    let mut tally = total.into_inner().expect("tally");
    let ls = lines(input);
    for i in 0..ls.len() {
        let removed: Vec<u8> = ls
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        tally.record(format!("line {i} removed"), &orig, check(fx, &removed));
        let duplicated: Vec<u8> = ls
            .iter()
            .enumerate()
            .flat_map(|(j, l)| {
                let n = if j == i { 2 } else { 1 };
                std::iter::repeat_n(*l, n).flatten().copied()
            })
            .collect();
        tally.record(
            format!("line {i} duplicated"),
            &orig,
            check(fx, &duplicated),
        );
    }
    report(name, input.len(), positions.len(), &tally, start);
    tally
}

fn report(name: &str, len: usize, positions: usize, t: &Tally, start: Instant) {
    let eq: usize = t.equivalent.values().sum();
    println!(
        "mutation {name}: {len} bytes, {positions} positions x {} + line edits: {} variants, \
         {} rejected, {eq} equivalent {:?}, {} accepted-and-different, {} unexplained ({} ms)",
        if full() {
            "9 masks"
        } else {
            "1 mask (reduced: debug build)"
        },
        t.variants,
        t.rejected,
        t.equivalent,
        t.different.len(),
        t.unexplained.len(),
        start.elapsed().as_millis()
    );
}

fn assert_clean(name: &str, t: &Tally) {
    assert!(
        t.different.is_empty(),
        "{name}: {} variants accepted with another meaning, e.g. {:?}",
        t.different.len(),
        &t.different[..t.different.len().min(10)]
    );
    assert!(
        t.unexplained.is_empty(),
        "{name}: {} variants accepted for no known reason, e.g. {:?}",
        t.unexplained.len(),
        &t.unexplained[..t.unexplained.len().min(10)]
    );
    assert!(t.rejected > 0 && t.variants > t.rejected / 2);
}

/// Structural mutations of the bundle: its checkpoint's lines, its proofs, its reproductions.
fn mutate_bundle_structure(fx: &Fixture) -> Tally {
    let start = Instant::now();
    let orig = match check_bundle(fx, &fx.bundle) {
        Outcome::Accepted { meaning, parts } => (meaning, parts),
        Outcome::Rejected => panic!("the bundle is rejected"),
    };
    let base = Bundle::parse(&fx.bundle).expect("bundle");
    let mut tally = Tally::default();
    let try_bundle = |what: String, b: &Bundle, tally: &mut Tally| {
        tally.record(what, &orig, check_bundle(fx, &b.to_bytes()));
    };
    let cp_lines = lines(&base.checkpoint);
    for i in 0..cp_lines.len() {
        for dup in [false, true] {
            let mut b = base.clone();
            b.checkpoint = cp_lines
                .iter()
                .enumerate()
                .flat_map(|(j, l)| {
                    let n = match (j == i, dup) {
                        (false, _) => 1,
                        (true, false) => 0,
                        (true, true) => 2,
                    };
                    std::iter::repeat_n(*l, n).flatten().copied()
                })
                .collect();
            try_bundle(format!("checkpoint line {i} dup={dup}"), &b, &mut tally);
        }
    }
    for e in 0..=base.reproductions.len() {
        let proof_len = if e == 0 {
            base.release.proof.len()
        } else {
            base.reproductions[e - 1].proof.len()
        };
        for i in 0..proof_len {
            for dup in [false, true] {
                let mut b = base.clone();
                let proof = if e == 0 {
                    &mut b.release.proof
                } else {
                    &mut b.reproductions[e - 1].proof
                };
                if dup {
                    proof.insert(i, proof[i]);
                } else {
                    proof.remove(i);
                }
                try_bundle(
                    format!("entry {e} proof hash {i} dup={dup}"),
                    &b,
                    &mut tally,
                );
            }
        }
        if e > 0 {
            let mut b = base.clone();
            b.reproductions.remove(e - 1);
            try_bundle(format!("reproduction {e} removed"), &b, &mut tally);
            let mut b = base.clone();
            let r = b.reproductions[e - 1].clone();
            b.reproductions.push(r);
            try_bundle(format!("reproduction {e} duplicated"), &b, &mut tally);
        }
    }
    // The release swapped with a reproduction, and indexes shifted by one.
    let mut b = base.clone();
    std::mem::swap(&mut b.release, &mut b.reproductions[0]);
    try_bundle("release swapped with a reproduction".into(), &b, &mut tally);
    for delta in [1i64, -1] {
        let mut b = base.clone();
        b.release.index = b.release.index.wrapping_add_signed(delta);
        try_bundle(format!("release index {delta:+}"), &b, &mut tally);
    }
    report("bundle (structure)", fx.bundle.len(), 0, &tally, start);
    tally
}

#[test]
fn every_small_change_is_rejected_or_equivalent() {
    let start = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let fx = fixture(dir.path());
    let inputs: [(&str, &[u8], Check); 5] = [
        ("checkpoint", &fx.checkpoint, check_checkpoint),
        ("tlog-proof", &fx.proof, check_proof),
        ("release entry", &fx.release, check_entry),
        ("reproduction entry", &fx.reproduction, check_entry),
        ("bundle", &fx.bundle, check_bundle),
    ];
    let mut failures = Vec::new();
    for (name, input, check) in inputs {
        let t = mutate(&fx, name, input, check);
        if let Err(e) = std::panic::catch_unwind(|| assert_clean(name, &t)) {
            failures.push(e);
        }
    }
    let t = mutate_bundle_structure(&fx);
    if let Err(e) = std::panic::catch_unwind(|| assert_clean("bundle (structure)", &t)) {
        failures.push(e);
    }
    println!("mutation suite: {} ms", start.elapsed().as_millis());
    if let Some(e) = failures.into_iter().next() {
        std::panic::resume_unwind(e);
    }
}
