//! `dsse_entry`, `statement`, `policy` and `bundle`: the JSON and TOML formats of entries,
//! policies and offline bundles.

use fwlog::bundle::Bundle;
use fwlog::entry::dsse::Envelope;
use fwlog::entry::{
    self, parse_rfc3339_utc, rfc3339_utc, statement, Entry, Release, Reproduction, MAX_ENTRY_BYTES,
};
use fwlog::merkle;
use fwlog::note::{ALG_COSIGNATURE_V1, ALG_ED25519};
use fwlog::policy::{Policy, ReproductionEvidence};

use super::fixtures::{fixtures, RELEASE_INDEX, REPRODUCTION_INDICES};

/// `Envelope::parse` (its `to_bytes` parses back to the same envelope), `Envelope::verify`,
/// `parse_entry`, and the payload re-signed by a fixture key: `parse_entry` of that must
/// succeed exactly when `parse_statement` of the payload does.
pub fn dsse_entry(data: &[u8]) {
    let parsed = entry::parse_entry(data);
    let Ok(env) = Envelope::parse(data) else {
        assert!(
            parsed.is_err(),
            "parse_entry accepted what Envelope::parse rejects"
        );
        return;
    };
    let bytes = env.to_bytes();
    if bytes.len() <= MAX_ENTRY_BYTES {
        assert_eq!(Envelope::parse(&bytes).as_ref(), Ok(&env));
    }
    let signer = env.verify();
    if let Ok(p) = &parsed {
        assert_eq!(signer.as_ref(), Ok(&p.signer));
        assert_eq!(p.statement_bytes, env.payload);
        assert_eq!(entry::parse_statement(&env.payload).as_ref(), Ok(&p.entry));
    }
    if let Ok(key) = &signer {
        assert_eq!(key.alg(), ALG_ED25519);
    }

    let f = fixtures();
    let resigned = entry::sign_entry(&env.payload, &f.vendor);
    if resigned.len() <= MAX_ENTRY_BYTES {
        let statement = entry::parse_statement(&env.payload);
        match entry::parse_entry(&resigned) {
            Ok(p) => {
                assert_eq!(p.signer, f.vendor.verifier_key());
                assert_eq!(statement, Ok(p.entry));
            }
            Err(e) => assert!(statement.is_err(), "re-signed entry rejected: {e}"),
        }
    }
}

/// `parse_statement`; a parsed release or reproduction re-serialises to a statement that
/// parses back to the same value. Also RFC 3339 timestamps of the input.
pub fn statement(data: &[u8]) {
    let kind = statement::predicate_type(data);
    match entry::parse_statement(data) {
        Ok(Entry::Release(r)) => {
            assert_eq!(kind.as_deref(), Ok(entry::RELEASE_PREDICATE));
            let bytes = r
                .to_statement_bytes()
                .expect("a parsed release must serialise");
            assert_eq!(Release::from_statement(&bytes), Ok(r));
        }
        Ok(Entry::Reproduction(r)) => {
            assert_eq!(kind.as_deref(), Ok(entry::REPRODUCTION_PREDICATE));
            let bytes = r
                .to_statement_bytes()
                .expect("a parsed reproduction must serialise");
            assert_eq!(Reproduction::from_statement(&bytes), Ok(r));
        }
        Err(_) => {}
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(t) = parse_rfc3339_utc(s) {
            assert_eq!(rfc3339_utc(t), s);
        }
    }
}

/// `Policy::parse` of UTF-8 input: what it accepts satisfies the documented rules, and is
/// evaluated against the fixture release and reproductions.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = Policy::parse(text) else {
        return;
    };
    assert!(!p.origin.is_empty());
    assert_eq!(p.log_key.alg(), ALG_ED25519);
    assert!(p.witnesses.iter().all(|k| k.alg() == ALG_COSIGNATURE_V1));
    assert!(p.witness_quorum <= p.witnesses.len());
    assert!(p.rebuilder_quorum <= p.rebuilders.len());
    assert!(p.rebuilders.iter().all(|k| k.alg() == ALG_ED25519));
    for v in &p.vendors {
        assert_eq!(v.key.alg(), ALG_ED25519);
        assert!(!v.firmware.is_empty());
    }
    for keys in [&p.witnesses, &p.rebuilders] {
        for (i, a) in keys.iter().enumerate() {
            assert!(
                keys[..i].iter().all(|b| b.public_key() != a.public_key()),
                "a key listed twice in one role was accepted"
            );
        }
    }

    let f = fixtures();
    let leaf = f.leaves[RELEASE_INDEX as usize];
    let signers: Vec<_> = f.rebuilders.iter().map(|r| r.verifier_key()).collect();
    let evidence: Vec<ReproductionEvidence<'_>> = f
        .reproductions
        .iter()
        .zip(&signers)
        .zip(REPRODUCTION_INDICES)
        .map(|((reproduction, signer), index)| ReproductionEvidence {
            index,
            signer,
            reproduction,
        })
        .collect();
    let vendor = f.vendor.verifier_key();
    if let Ok(a) = p.evaluate(&vendor, &f.release, RELEASE_INDEX, &leaf, &evidence) {
        assert!(a.reproduced_by.len() >= p.rebuilder_quorum);
    }
    let _ = p.evaluate(&vendor, &f.release, RELEASE_INDEX + 1, &leaf, &evidence);
}

/// `Bundle::parse` (canonical: `to_bytes` is the input) and `verify` against the fixture
/// policy, for the fixture artifact and for one that is in no release.
pub fn bundle(data: &[u8]) {
    let Ok(b) = Bundle::parse(data) else {
        return;
    };
    assert_eq!(b.to_bytes(), data, "Bundle::to_bytes is not the input");
    let f = fixtures();
    if let Ok(v) = b.verify(&f.policy, &f.artifact_sha256) {
        assert_eq!(v.checkpoint.checkpoint.origin, f.policy.origin);
        assert!(v.checkpoint.witnesses.len() >= f.policy.witness_quorum);
        assert!(v.acceptance.reproduced_by.len() >= f.policy.rebuilder_quorum);
        let size = v.checkpoint.checkpoint.size;
        let root = v.checkpoint.checkpoint.root;
        let leaf = merkle::leaf_hash(&b.release.entry);
        assert_eq!(
            merkle::verify_inclusion(b.release.index, size, &leaf, &b.release.proof, &root),
            Ok(())
        );
    }
    assert!(b.verify(&f.policy, &[0xee; 32]).is_err());
}
