//! `checkpoint`, `cosignature`, `tlog_proof` and `witness_request`: the tree-head formats and
//! what verifies them.

use fwlog::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use fwlog::cosignature::{self, CosignatureVerifier, COSIGNATURE_SIZE, MAX_TIMESTAMP};
use fwlog::merkle;
use fwlog::note::{self, Note, NoteSignature, Verifier};
use fwlog::proof::TlogProof;
use fwlog::witness::{AddCheckpoint, StateDir, Witness, WitnessError};

use super::fixtures::{fixtures, COSIGNED_AT, ORIGIN, VECTOR_CHECKPOINT_TEXT, WITNESS_OLD_SIZE};
use super::input::Input;

/// `Checkpoint::parse_text` (canonical; anything it accepts signs, cosigns and verifies) and
/// `SignedCheckpoint::parse` + `verify` with the fixture and vector keys.
pub fn checkpoint(data: &[u8]) {
    let f = fixtures();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse_text(text) {
            assert_eq!(cp.to_text(), text, "Checkpoint::to_text is not the input");
            assert_eq!(cp.validate(), Ok(()));
            if text.len() < note::MAX_NOTE_BYTES / 2 {
                let mut signed = SignedCheckpoint::sign(cp.clone(), &f.log)
                    .expect("a parsed checkpoint must sign");
                signed
                    .note
                    .add_signature(cosignature::cosign(text, &f.witnesses[1], COSIGNED_AT));
                let v = signed
                    .verify(&f.log_vk, Some(&cp.origin), &f.witness_vks, 1)
                    .expect("a freshly signed and cosigned checkpoint must verify");
                assert_eq!(v.checkpoint, cp);
                assert_eq!(v.witnesses.len(), 1);
                assert_eq!(v.witnesses[0].timestamp, COSIGNED_AT);
                let again = SignedCheckpoint::parse(&signed.to_bytes()).expect("re-parse");
                assert_eq!(again.checkpoint, cp);
            }
        }
    }

    let Ok(signed) = SignedCheckpoint::parse(data) else {
        return;
    };
    assert_eq!(signed.to_bytes(), data);
    assert_eq!(
        Checkpoint::parse_text(signed.note.text()).as_ref(),
        Ok(&signed.checkpoint)
    );
    for origin in [None, Some(ORIGIN)] {
        for quorum in 0..=3 {
            if let Ok(v) = signed.verify(&f.log_vk, origin, &f.witness_vks, quorum) {
                assert!(v.witnesses.len() >= quorum);
                assert_eq!(v.checkpoint, signed.checkpoint);
                if let Some(o) = origin {
                    assert_eq!(v.checkpoint.origin, o);
                }
            }
        }
    }
    let vector_cosigner = [f.cosigners[2].0.clone()];
    for key in &f.vector_verifiers {
        let _ = signed.verify(key, None, &vector_cosigner, 0);
    }
    // A key in the wrong role is a configuration error, whatever the note holds.
    assert!(matches!(
        signed.verify(&f.witness_vks[0], None, &[], 0),
        Err(CheckpointError::LogKeyAlgorithm { .. })
    ));
    assert!(matches!(
        signed.verify(&f.log_vk, None, std::slice::from_ref(&f.log_vk), 0),
        Err(CheckpointError::WitnessKeyAlgorithm { .. })
    ));
}

/// `NoteSignature::from_line` (canonical) checked as a cosignature on the vector's and the
/// fixture's checkpoint, then cosignatures made from the input that must verify exactly when
/// they should.
pub fn cosignature(data: &[u8]) {
    let f = fixtures();
    if let Ok(line) = std::str::from_utf8(data) {
        if let Ok(sig) = NoteSignature::from_line(line) {
            assert_eq!(
                sig.to_line(),
                line,
                "NoteSignature::to_line is not the input"
            );
            if let Some(t) = cosignature::timestamp(&sig) {
                assert!(t <= MAX_TIMESTAMP);
                assert_eq!(sig.sig.len(), COSIGNATURE_SIZE);
            }
            let verifiers: Vec<&dyn Verifier> =
                f.cosigners.iter().map(|c| c as &dyn Verifier).collect();
            let cp_text = f.checkpoint.note.text();
            for text in [VECTOR_CHECKPOINT_TEXT, cp_text] {
                let mut n = Note::new(text).expect("fixture text");
                n.add_signature(sig.clone());
                if let Ok(indices) = n.verify(&verifiers) {
                    assert_eq!(indices.len(), 1);
                    let v = verifiers[indices[0]];
                    assert_eq!((v.name(), v.key_id()), (sig.name.as_str(), sig.key_id));
                    assert!(cosignature::timestamp(&sig).is_some());
                }
            }
            let mut signed = f.checkpoint.clone();
            signed.note.add_signature(sig);
            let _ = signed.verify(&f.log_vk, Some(ORIGIN), &f.witness_vks, 2);
        }
    }

    let mut input = Input::new(data);
    let timestamp = input.u64();
    let which = usize::from(input.u8() & 1);
    let flip = usize::from(input.u16());
    let text = String::from_utf8_lossy(input.rest());
    let witness = &f.witnesses[which];
    let sig = cosignature::cosign(&text, witness, timestamp);
    assert_eq!(NoteSignature::from_line(&sig.to_line()).as_ref(), Ok(&sig));
    let own = CosignatureVerifier(f.witness_vks[which].clone());
    let other = CosignatureVerifier(f.witness_vks[1 - which].clone());
    let msg = text.as_bytes();
    assert_eq!(own.verify(msg, &sig.sig), timestamp <= MAX_TIMESTAMP);
    assert!(!other.verify(msg, &sig.sig));
    assert!(!witness.verifier_key().verify(msg, &sig.sig));
    let mut bad = sig.sig.clone();
    let bit = flip % (bad.len() * 8);
    bad[bit / 8] ^= 1 << (bit % 8);
    assert!(
        !own.verify(msg, &bad),
        "a cosignature with bit {bit} flipped verified"
    );
}

/// `TlogProof::parse` (canonical: `to_bytes` is the input) and `verify` against the fixture
/// log's key, witnesses and leaves.
pub fn tlog_proof(data: &[u8]) {
    let Ok(proof) = TlogProof::parse(data) else {
        return;
    };
    assert_eq!(
        proof.to_bytes(),
        data,
        "TlogProof::to_bytes is not the input"
    );
    let f = fixtures();
    let leaf = usize::try_from(proof.index)
        .ok()
        .and_then(|i| f.leaves.get(i))
        .copied()
        .unwrap_or_else(|| merkle::leaf_hash(b"not in the fixture log"));
    for quorum in 0..=2 {
        let Ok(v) = proof.verify(&leaf, &f.log_vk, Some(ORIGIN), &f.witness_vks, quorum) else {
            continue;
        };
        assert!(v.witnesses.len() >= quorum);
        let cp = &v.checkpoint;
        assert_eq!(
            merkle::root_from_inclusion(proof.index, cp.size, &leaf, &proof.path),
            Ok(cp.root)
        );
        let other = merkle::leaf_hash(b"some other entry");
        assert!(proof
            .verify(&other, &f.log_vk, Some(ORIGIN), &f.witness_vks, quorum)
            .is_err());
    }
}

/// `AddCheckpoint::parse` (canonical round trip), then, for checkpoints the fixture log really
/// signed, the whole `Witness::add_checkpoint` against a fresh state that has cosigned size
/// [`WITNESS_OLD_SIZE`].
pub fn witness_request(data: &[u8]) {
    let _ = witness_outcome(data);
}

/// What [`witness_request`] got from `Witness::add_checkpoint`, if it got that far.
pub(super) fn witness_outcome(data: &[u8]) -> Option<Result<NoteSignature, WitnessError>> {
    let req = AddCheckpoint::parse(data).ok()?;
    assert_eq!(
        req.to_bytes(),
        data,
        "AddCheckpoint::to_bytes is not the input"
    );
    assert_eq!(AddCheckpoint::parse(&req.to_bytes()).as_ref(), Ok(&req));

    let f = fixtures();
    let signed = SignedCheckpoint::parse(&req.checkpoint).ok()?;
    // Only a checkpoint the log signed gets past the witness's signature check: skip the state
    // directory for everything else, to keep the target fast.
    signed.verify(&f.log_vk, Some(ORIGIN), &[], 0).ok()?;
    let base = std::path::Path::new("/dev/shm");
    let tmp = if base.is_dir() {
        tempfile::tempdir_in(base)
    } else {
        tempfile::tempdir()
    }
    .expect("temporary directory");
    let state = StateDir::new(tmp.path()).expect("state dir");
    let old = f.checkpoint_at(WITNESS_OLD_SIZE);
    {
        let lock = state.lock(ORIGIN).expect("lock");
        state.store(&lock, ORIGIN, &old.to_bytes()).expect("store");
    }
    let witness = Witness {
        key: f.witness(0),
        logs: vec![f.log_vk.clone()],
        state,
    };
    let outcome = witness.add_checkpoint(&req, COSIGNED_AT);
    match &outcome {
        Ok(line) => {
            let (size, root) = (signed.checkpoint.size, signed.checkpoint.root);
            assert_eq!(req.old, WITNESS_OLD_SIZE);
            assert!(size >= req.old);
            if size > req.old {
                let old_root = old.checkpoint.root;
                assert_eq!(
                    merkle::verify_consistency(req.old, size, &old_root, &root, &req.proof),
                    Ok(()),
                    "witness cosigned an inconsistent checkpoint"
                );
            } else {
                assert_eq!(root, old.checkpoint.root);
            }
            let w1 = &f.witness_vks[0];
            assert_eq!((line.name.as_str(), line.key_id), (w1.name(), w1.key_id()));
            assert_eq!(cosignature::timestamp(line), Some(COSIGNED_AT));
            assert!(
                CosignatureVerifier(w1.clone()).verify(signed.note.text().as_bytes(), &line.sig),
                "the witness's cosignature does not verify"
            );
            // Merged into the request's note it verifies too, unless that note already held
            // two or more lines under the witness's (name, key ID): Note::parse accepts such
            // duplicates and add_signature replaces only the first (see fuzz/README.md).
            let own_lines = signed
                .note
                .signatures()
                .iter()
                .filter(|s| s.name == w1.name() && s.key_id == w1.key_id())
                .count();
            if own_lines <= 1 {
                let mut cosigned = signed.clone();
                cosigned.note.add_signature(line.clone());
                cosigned
                    .verify(&f.log_vk, Some(ORIGIN), std::slice::from_ref(w1), 1)
                    .expect("the witness's cosignature must verify in the note");
            }
        }
        Err(e) => assert_ne!(e.status(), 500, "witness state error: {e}"),
    }
    Some(outcome)
}
