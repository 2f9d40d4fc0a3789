//! The committed seed corpora (`fuzz/seeds/<target>/`), generated from the fixtures so that
//! every verifying target starts from inputs that verify. Regenerate with
//! `cargo test --release --test fuzz_regressions -- --ignored regenerate_seeds`.

use std::path::Path;

use fwlog::bundle::{Bundle, ProvenEntry};
use fwlog::checkpoint::{Checkpoint, SignedCheckpoint};
use fwlog::cosignature;
use fwlog::entry::{self, dsse::Envelope};
use fwlog::merkle::{self, LeafHashes};
use fwlog::note::{Note, ALG_COSIGNATURE_V1};
use fwlog::proof::TlogProof;
use fwlog::store::{EntrySchema, LogInfo};
use fwlog::tiles::{self, Tile, TileKind};
use fwlog::witness::AddCheckpoint;

use super::fixtures::{
    fixtures, COSIGNED_AT, LOG_SIZE, ORIGIN, RELEASE_INDEX, REPRODUCTION_INDICES, WITNESS_OLD_SIZE,
};

/// One seed: target, file name, contents.
pub type Seed = (&'static str, String, Vec<u8>);

fn seed(target: &'static str, name: &str, bytes: impl Into<Vec<u8>>) -> Seed {
    (target, name.to_string(), bytes.into())
}

fn proven(index: u64) -> ProvenEntry {
    let f = fixtures();
    ProvenEntry {
        index,
        entry: f.entries[index as usize].clone(),
        proof: merkle::inclusion_proof(index, LOG_SIZE, &LeafHashes(&f.leaves))
            .expect("fixture proof"),
    }
}

/// Every seed. `root` is the repository root (for the SEV vectors the `measure` seeds wrap).
/// Panics if a fixture that should verify does not.
pub fn generate(root: &Path) -> Vec<Seed> {
    let f = fixtures();
    let reader = LeafHashes(&f.leaves);
    let cp_bytes = f.checkpoint.to_bytes();
    let cp_text = f.checkpoint.checkpoint.to_text();
    let mut out = Vec::new();

    // note, checkpoint, cosignature
    out.push(seed("note", "cosigned-checkpoint", cp_bytes.clone()));
    let mut n = Note::new("hello fuzzer\n\nthe text may hold empty lines\n").expect("text");
    for s in &f.vector_signers {
        n.sign(s);
    }
    n.add_signature(cosignature::cosign(n.text(), &f.witnesses[0], 7));
    out.push(seed("note", "three-signers", n.to_bytes()));
    out.push(seed("checkpoint", "text", cp_text.clone()));
    out.push(seed("checkpoint", "signed", cp_bytes.clone()));
    let with_ext = Checkpoint {
        extensions: vec!["ext one".into(), "— ext two".into()],
        ..f.checkpoint.checkpoint.clone()
    };
    let signed_ext = SignedCheckpoint::sign(with_ext, &f.log).expect("sign");
    out.push(seed("checkpoint", "extensions", signed_ext.to_bytes()));
    out.push(seed("checkpoint", "size-0", f.checkpoint_at(0).to_bytes()));
    let line = cosignature::cosign(&cp_text, &f.witnesses[0], COSIGNED_AT).to_line();
    out.push(seed("cosignature", "w1", line));
    let line = cosignature::cosign(&cp_text, &f.witnesses[1], u64::MAX).to_line();
    out.push(seed("cosignature", "timestamp-too-large", line));
    let mut structured = COSIGNED_AT.to_le_bytes().to_vec();
    structured.extend_from_slice(&[1, 0x34, 0x12]);
    structured.extend_from_slice(cp_text.as_bytes());
    out.push(seed("cosignature", "structured", structured));

    // keys
    out.push(seed("keys", "log-signer", f.log.to_key_string()));
    out.push(seed("keys", "log-verifier", f.log_vk.to_string()));
    out.push(seed(
        "keys",
        "witness-verifier",
        f.witness_vks[0].to_string(),
    ));
    out.push(seed(
        "keys",
        "signer-newline",
        format!("{}\n", f.vendor.to_key_string()),
    ));
    let mut structured = vec![0x42; 32];
    structured.push(ALG_COSIGNATURE_V1);
    structured.extend_from_slice(b"example.com/structured");
    out.push(seed("keys", "structured", structured));

    // tlog_proof
    for (index, extra) in [
        (RELEASE_INDEX, Some(b"OVMF.fd".to_vec())),
        (0, None),
        (12, None),
    ] {
        let path = merkle::inclusion_proof(index, LOG_SIZE, &reader).expect("proof");
        let proof = TlogProof::from_checkpoint_bytes(extra, index, path, &cp_bytes).expect("p");
        proof
            .verify(
                &f.leaves[index as usize],
                &f.log_vk,
                Some(ORIGIN),
                &f.witness_vks,
                2,
            )
            .expect("fixture proof verifies");
        out.push(seed(
            "tlog_proof",
            &format!("index-{index}"),
            proof.to_bytes(),
        ));
    }
    let one = TlogProof::new(None, 0, vec![], f.checkpoint_at(1));
    out.push(seed("tlog_proof", "size-1", one.to_bytes()));

    // tile_path, tiles
    for (name, path) in [
        ("full", "tile/0/000"),
        ("partial", "tile/1/x001/234.p/7"),
        ("entries", "tile/entries/x123/x456/789.p/255"),
        ("deep", "tile/63/x018/x446/x744/x073/x709/x551/615"),
    ] {
        out.push(seed("tile_path", name, path));
    }
    let mut structured = vec![1];
    structured.extend_from_slice(&12u64.to_le_bytes());
    structured.extend_from_slice(&[255, 0, 0xff, 0xff]);
    out.push(seed("tile_path", "structured", structured));
    let hash_tile = tiles::encode_hash_tile(&f.leaves[..8]);
    let entries: Vec<&[u8]> = f.entries[..8].iter().map(Vec::as_slice).collect();
    let bundle = tiles::encode_entry_bundle(&entries).expect("bundle");
    for (name, selector, width, body) in [
        ("hash-tile", 0u8, 8u16, hash_tile),
        ("entry-bundle", 1, 8, bundle),
    ] {
        let mut s = vec![selector, 0];
        s.extend_from_slice(&0u64.to_le_bytes());
        s.extend_from_slice(&width.to_le_bytes());
        s.extend_from_slice(&13u64.to_le_bytes());
        s.extend_from_slice(&[0x2c, 0x01, 0x05, 0x01, 0x07, 0x00]);
        s.extend_from_slice(&body);
        out.push(seed("tiles", name, s));
    }
    assert_eq!(
        Tile::new(TileKind::Entries, 0, 8)
            .map(|t| t.path())
            .as_deref(),
        Ok("tile/entries/000.p/8")
    );

    // dsse_entry, statement
    for (name, index) in [
        ("release", RELEASE_INDEX),
        ("reproduction", REPRODUCTION_INDICES[0]),
    ] {
        let bytes = &f.entries[index as usize];
        let parsed = entry::parse_entry(bytes).expect("fixture entry parses");
        out.push(seed("dsse_entry", name, bytes.clone()));
        out.push(seed("statement", name, parsed.statement_bytes));
    }
    let other = Envelope::sign("text/plain", b"not a statement", &f.vendor).to_bytes();
    out.push(seed("dsse_entry", "other-payload", other));
    out.push(seed("statement", "timestamp", "2024-02-29T23:59:59Z"));

    // policy, bundle
    out.push(seed("policy", "fixture", f.policy_text.clone()));
    let minimal = format!("[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n", f.log_vk);
    out.push(seed("policy", "minimal", minimal));
    let full = Bundle {
        origin: ORIGIN.to_string(),
        log_key: f.log_vk.to_string(),
        checkpoint: cp_bytes.clone(),
        release: proven(RELEASE_INDEX),
        reproductions: REPRODUCTION_INDICES.iter().map(|&i| proven(i)).collect(),
    };
    full.verify(&f.policy, &f.artifact_sha256)
        .expect("fixture bundle verifies");
    out.push(seed("bundle", "full", full.to_bytes()));
    let short = Bundle {
        reproductions: vec![proven(REPRODUCTION_INDICES[1])],
        ..full
    };
    assert!(short.verify(&f.policy, &f.artifact_sha256).is_err());
    out.push(seed("bundle", "one-reproduction", short.to_bytes()));

    // witness_request
    for (name, old, size) in [
        ("extend", WITNESS_OLD_SIZE, LOG_SIZE),
        ("extend-power-of-two", WITNESS_OLD_SIZE, 8),
        ("same-size", WITNESS_OLD_SIZE, WITNESS_OLD_SIZE),
        ("conflict", 0, LOG_SIZE),
    ] {
        let proof = if old == 0 || old == size {
            vec![]
        } else {
            merkle::consistency_proof(old, size, &reader).expect("consistency")
        };
        let req = AddCheckpoint {
            old,
            proof,
            checkpoint: f.checkpoint_at(size).to_bytes(),
        };
        let outcome = super::checkpoint::witness_outcome(&req.to_bytes()).expect("reaches");
        match outcome {
            Ok(_) => assert_ne!(name, "conflict"),
            Err(e) => assert_eq!((name, e.status()), ("conflict", 409), "{e}"),
        }
        out.push(seed("witness_request", name, req.to_bytes()));
    }

    // log_info
    for (name, entries) in [("fwlog", EntrySchema::Fwlog), ("any", EntrySchema::Any)] {
        let info = LogInfo {
            origin: ORIGIN.to_string(),
            key: f.log_vk.clone(),
            entries,
        };
        out.push(seed("log_info", name, info.to_bytes()));
    }

    // measure: parameters, then the last page of a real OVMF build.
    let sev = root.join("tests/data/vectors/sev");
    for file in ["ovmf_AmdSev_suffix.bin", "ovmf_OvmfX64_suffix.bin"] {
        let Ok(image) = std::fs::read(sev.join(file)) else {
            continue;
        };
        // selector 0x00: QEMU, vCPU signature, no kernel; 0x02: with a kernel; 0x06: EC2.
        for selector in [0x00u8, 0x02, 0x06] {
            let mut s = vec![selector, 1];
            s.extend_from_slice(&0x00a0_0f11u32.to_le_bytes());
            s.extend_from_slice(&1u64.to_le_bytes());
            s.extend_from_slice(&image);
            let name = format!("{}-{selector:02x}", file.trim_end_matches("_suffix.bin"));
            out.push(seed("measure", &name, s));
        }
    }

    // merkle_diff: n, index, m (u16 each, reduced mod their ranges), choice, delta.
    for (name, n, index, m) in [
        ("single", 0u16, 0u16, 0u16),
        ("small", 6, 3, 2),
        ("power-of-two", 4095, 1000, 1023),
        ("largest", 4999, 4321, 3000),
    ] {
        let mut s = Vec::new();
        for v in [n, index, m] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        s.extend_from_slice(&0x0102_0304u32.to_le_bytes());
        s.extend_from_slice(&1u64.to_le_bytes());
        out.push(seed("merkle_diff", name, s));
    }

    out
}

/// Writes every seed under `dir/<target>/<name>`, replacing what was there.
pub fn write_all(root: &Path, dir: &Path) -> std::io::Result<usize> {
    let seeds = generate(root);
    for (target, _) in super::TARGETS {
        let sub = dir.join(target);
        if sub.is_dir() {
            std::fs::remove_dir_all(&sub)?;
        }
    }
    for (target, name, bytes) in &seeds {
        let sub = dir.join(target);
        std::fs::create_dir_all(&sub)?;
        std::fs::write(sub.join(name), bytes)?;
    }
    Ok(seeds.len())
}
