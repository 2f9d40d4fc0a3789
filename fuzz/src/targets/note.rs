//! `note` and `keys`: C2SP signed notes and Go-note key strings.

use fwlog::note::{self, Note, SignerKey, Verifier, VerifierKey};

use super::fixtures::fixtures;
use super::input::Input;

/// `Note::parse`, its canonical re-encoding, and verification against every fixture and
/// vector key.
pub fn note(data: &[u8]) {
    let Ok(parsed) = Note::parse(data) else {
        return;
    };
    // Parsing is strict enough that the encoding is unique.
    assert_eq!(parsed.to_bytes(), data, "Note::to_bytes is not the input");
    assert_eq!(Note::parse(&parsed.to_bytes()).as_ref(), Ok(&parsed));
    assert!(!parsed.signatures().is_empty());
    assert!(parsed.text().ends_with('\n'));

    let f = fixtures();
    let verifiers = f.note_verifiers();
    if let Ok(indices) = parsed.verify(&verifiers) {
        assert!(!indices.is_empty(), "Ok(empty) instead of Unverified");
        assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
        for &i in &indices {
            let v = verifiers[i];
            assert!(
                parsed.find_signature(v.name(), v.key_id()).is_some(),
                "verifier {i} counted without a line"
            );
        }
    }
    for key in &f.vector_verifiers {
        let _ = parsed.verify(&[key as &dyn Verifier]);
    }

    // Signing the text with a fixture key must give a note that verifies under it and still
    // parses back. Skipped when the note already has two lines under the key's (name, ID),
    // since signing replaces only the first of them.
    let own_lines = parsed
        .signatures()
        .iter()
        .filter(|s| s.name == f.log_vk.name() && s.key_id == f.log_vk.key_id())
        .count();
    let mut resigned = parsed.clone();
    if own_lines <= 1 && resigned.try_sign(&f.log).is_ok() {
        assert_eq!(resigned.verify(&[&f.log_vk as &dyn Verifier]), Ok(vec![0]));
        assert_eq!(Note::parse(&resigned.to_bytes()), Ok(resigned));
    }
}

/// `VerifierKey::parse` and `SignerKey::parse` of the input as a string (canonical round trip),
/// then keys built from a seed and name taken from the input (generation round trip).
pub fn keys(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = VerifierKey::parse(s) {
            assert_eq!(k.to_string(), s, "VerifierKey display is not the input");
            assert_eq!(VerifierKey::parse(&k.to_string()).as_ref(), Ok(&k));
            assert!(note::valid_key_name(k.name()));
            assert_eq!(
                k.key_id(),
                note::key_id(k.name(), k.alg(), k.public_key().as_bytes())
            );
        }
        if let Ok(sk) = SignerKey::parse(s) {
            let canonical = sk.to_key_string();
            assert_eq!(canonical, s.strip_suffix('\n').unwrap_or(s));
            check_signer(&sk, data);
        }
    }

    let mut input = Input::new(data);
    let seed = input.array::<32>();
    let alg = input.u8();
    let name = String::from_utf8_lossy(input.rest());
    match SignerKey::from_seed(&name, seed) {
        Ok(sk) => {
            check_key_string(&sk);
            match sk.try_verifier_key_for(alg) {
                Ok(vk) => {
                    assert!(alg == note::ALG_ED25519 || alg == note::ALG_COSIGNATURE_V1);
                    assert_eq!(VerifierKey::parse(&vk.to_string()), Ok(vk));
                }
                Err(_) => assert!(alg != note::ALG_ED25519 && alg != note::ALG_COSIGNATURE_V1),
            }
        }
        Err(_) => assert!(!note::valid_key_name(&name)),
    }
}

/// A signer key's signatures verify under its verifier key, and only as type 0x01.
fn check_signer(sk: &SignerKey, msg: &[u8]) {
    check_key_string(sk);
    let vk = sk.verifier_key();
    let sig = sk.sign(msg);
    assert!(vk.verify(msg, &sig), "own signature does not verify");
    let witness = sk.verifier_key_for(note::ALG_COSIGNATURE_V1);
    assert!(
        !witness.verify(msg, &sig),
        "a 0x04 key verified a plain signature"
    );
}

/// A signer key's string parses back to the same key, with or without its final newline, and
/// so does its verifier key's.
fn check_key_string(sk: &SignerKey) {
    let s = sk.to_key_string();
    for text in [s.clone(), format!("{s}\n")] {
        let again = SignerKey::parse(&text).expect("to_key_string output must parse");
        assert_eq!(again.name(), sk.name());
        assert_eq!(again.key_id(), sk.key_id());
        assert_eq!(again.verifier_key(), sk.verifier_key());
    }
    let vk = sk.verifier_key();
    assert_eq!(VerifierKey::parse(&vk.to_string()), Ok(vk));
}
