//! C2SP tlog-cosignature/v1 (<https://c2sp.org/tlog-cosignature>): timestamped Ed25519
//! witness cosignatures, signature type 0x04.
//!
//! A witness with Ed25519 key `pk` under name `N` signs a checkpoint text `C` at time `T`
//! (POSIX seconds, at most 2^63 − 1) by signing
//!
//! ```text
//! cosignature/v1\n
//! time <T in decimal, no leading zeros>\n
//! <C, including its final '\n' and any extension lines>
//! ```
//!
//! and appending the note signature line `— N base64(key ID || T (u64 big-endian) || sig)`,
//! 4 + 8 + 64 = 76 bytes, where `key ID = SHA-256(N || 0x0A || 0x04 || pk)[:4]`. The message
//! does not name the witness, so one key must serve one witness role only.

use thiserror::Error;

use crate::note::{self, NoteSignature, SignerKey, Verifier, VerifierKey, ALG_COSIGNATURE_V1};

/// Largest timestamp the spec allows (2^63 − 1); larger ones are never valid.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Length of a cosignature/v1 blob after the key ID: 8-byte timestamp + 64-byte signature.
pub const COSIGNATURE_SIZE: usize = 8 + note::ED25519_SIGNATURE_SIZE;

/// Why a cosignature verifier could not be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CosignatureError {
    #[error("key {name} has signature type 0x{alg:02x}, not cosignature/v1 (0x04)")]
    WrongAlgorithm { name: String, alg: u8 },
}

/// `"cosignature/v1\ntime <T>\n" || checkpoint_text`: the message a witness signs.
pub fn message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    message_bytes(checkpoint_text.as_bytes(), timestamp)
}

fn message_bytes(text: &[u8], timestamp: u64) -> Vec<u8> {
    let header = format!("cosignature/v1\ntime {timestamp}\n");
    let mut msg = Vec::with_capacity(header.len() + text.len());
    msg.extend_from_slice(header.as_bytes());
    msg.extend_from_slice(text);
    msg
}

/// Splits a 72-byte blob into its timestamp (≤ [`MAX_TIMESTAMP`]) and signature.
fn split_blob(blob: &[u8]) -> Option<(u64, &[u8])> {
    if blob.len() != COSIGNATURE_SIZE {
        return None;
    }
    let (ts, sig) = blob.split_first_chunk::<8>()?;
    let ts = u64::from_be_bytes(*ts);
    (ts <= MAX_TIMESTAMP).then_some((ts, sig))
}

/// Checks cosignature/v1 lines of one witness key (type 0x04) for [`note::Note::verify`].
///
/// The field is public for convenience; a key of any other type never verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier(pub VerifierKey);

impl CosignatureVerifier {
    /// Wraps a type 0x04 verifier key; other types are [`CosignatureError::WrongAlgorithm`].
    pub fn new(key: VerifierKey) -> Result<Self, CosignatureError> {
        if key.alg() != ALG_COSIGNATURE_V1 {
            return Err(CosignatureError::WrongAlgorithm {
                name: key.name().to_owned(),
                alg: key.alg(),
            });
        }
        Ok(CosignatureVerifier(key))
    }
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn key_id(&self) -> u32 {
        self.0.key_id()
    }

    /// `sig` must be `T (8 bytes, big-endian, ≤ 2^63 − 1) || Ed25519 signature (64 bytes)`
    /// over [`message`]`(msg, T)`.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if self.0.alg() != ALG_COSIGNATURE_V1 {
            return false;
        }
        let Some((timestamp, sig)) = split_blob(sig) else {
            return false;
        };
        note::ed25519_verify(self.0.public_key(), &message_bytes(msg, timestamp), sig)
    }
}

/// The timestamp of a cosignature/v1 line: `None` unless the blob is exactly 72 bytes with a
/// timestamp ≤ 2^63 − 1. Says nothing about validity; verify the note first.
pub fn timestamp(sig: &NoteSignature) -> Option<u64> {
    split_blob(&sig.sig).map(|(ts, _)| ts)
}

/// The cosignature/v1 line of `witness` over `checkpoint_text` at `timestamp`, under the
/// witness's type 0x04 key ID. `timestamp` must not exceed [`MAX_TIMESTAMP`]; a larger one
/// yields a line every verifier rejects.
pub fn cosign(checkpoint_text: &str, witness: &SignerKey, timestamp: u64) -> NoteSignature {
    let key = witness.verifier_key_for(ALG_COSIGNATURE_V1);
    let signature = witness.sign(&message(checkpoint_text, timestamp));
    let mut blob = Vec::with_capacity(COSIGNATURE_SIZE);
    blob.extend_from_slice(&timestamp.to_be_bytes());
    blob.extend_from_slice(&signature);
    NoteSignature {
        name: witness.name().to_owned(),
        key_id: key.key_id(),
        sig: blob,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{Note, NoteError, ALG_ED25519};
    use serde_json::Value;

    fn vector() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/signed-note.json"
        );
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["cosignature_v1"].clone()
    }

    fn witness(v: &Value) -> SignerKey {
        let seed: [u8; 32] = hex::decode(v["cosigner_seed_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let name = v["cosigner_verifier"]
            .as_str()
            .unwrap()
            .split('+')
            .next()
            .unwrap();
        SignerKey::from_seed(name, seed).unwrap()
    }

    #[test]
    fn vector_reproduces_and_verifies() {
        let v = vector();
        let text = v["checkpoint_text"].as_str().unwrap();
        let ts = v["timestamp"].as_u64().unwrap();
        let w = witness(&v);
        let vk = w.verifier_key_for(ALG_COSIGNATURE_V1);
        assert_eq!(vk.to_string(), v["cosigner_verifier"].as_str().unwrap());
        assert_eq!(VerifierKey::parse(&vk.to_string()).unwrap(), vk);

        let line = cosign(text, &w, ts);
        assert_eq!(line.to_line(), v["signature_line"].as_str().unwrap());
        assert_eq!(line.sig.len(), COSIGNATURE_SIZE);
        assert_eq!(timestamp(&line), Some(1234));
        assert_eq!(
            message(text, ts),
            format!("cosignature/v1\ntime 1234\n{text}").into_bytes()
        );

        let cv = CosignatureVerifier::new(vk.clone()).unwrap();
        assert!(cv.verify(text.as_bytes(), &line.sig));
        // The parsed line, inside a note, verifies through Note::verify.
        let note_bytes = format!("{text}\n{}", v["signature_line"].as_str().unwrap());
        let note = Note::parse(note_bytes.as_bytes()).unwrap();
        assert_eq!(note.verify(&[&cv]).unwrap(), vec![0]);
        // The bare type 0x04 key is not a plain Ed25519 verifier.
        assert_eq!(
            note.verify(&[&vk]),
            Err(NoteError::InvalidSignature {
                name: vk.name().into()
            })
        );
    }

    #[test]
    fn vector_must_ignore_lines_are_ignored() {
        let v = vector();
        let text = v["checkpoint_text"].as_str().unwrap();
        let cv =
            CosignatureVerifier::new(witness(&v).verifier_key_for(ALG_COSIGNATURE_V1)).unwrap();
        let ignore: Vec<&str> = v["must_ignore_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(ignore.len(), 2);
        for line in &ignore {
            let sig = NoteSignature::from_line(line).unwrap();
            assert!(sig.name != cv.name() || sig.key_id != cv.key_id());
            let note = Note::parse(format!("{text}\n{line}").as_bytes()).unwrap();
            assert_eq!(note.verify(&[&cv]), Err(NoteError::Unverified));
        }
        let all = format!(
            "{text}\n{}{}{}",
            ignore[0],
            v["signature_line"].as_str().unwrap(),
            ignore[1]
        );
        let note = Note::parse(all.as_bytes()).unwrap();
        assert_eq!(note.verify(&[&cv]).unwrap(), vec![0]);
    }

    #[test]
    fn tampering_rejected() {
        let v = vector();
        let text = v["checkpoint_text"].as_str().unwrap();
        let w = witness(&v);
        let cv = CosignatureVerifier::new(w.verifier_key_for(ALG_COSIGNATURE_V1)).unwrap();
        let good = cosign(text, &w, 1234);
        assert!(cv.verify(text.as_bytes(), &good.sig));
        // Any flipped bit in timestamp or signature.
        for i in 0..COSIGNATURE_SIZE {
            let mut sig = good.sig.clone();
            sig[i] ^= 0x80;
            assert!(!cv.verify(text.as_bytes(), &sig), "byte {i}");
        }
        // Other text, other lengths.
        assert!(!cv.verify(
            b"example.org/log\n11\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            &good.sig
        ));
        assert!(!cv.verify(text.as_bytes(), &good.sig[..71]));
        assert!(!cv.verify(text.as_bytes(), &[good.sig.clone(), vec![0]].concat()));
        assert!(!cv.verify(text.as_bytes(), &good.sig[8..]));
        // Timestamps above 2^63 - 1 are invalid even when correctly signed.
        let big = cosign(text, &w, MAX_TIMESTAMP + 1);
        assert!(!cv.verify(text.as_bytes(), &big.sig));
        assert_eq!(timestamp(&big), None);
        let max = cosign(text, &w, MAX_TIMESTAMP);
        assert!(cv.verify(text.as_bytes(), &max.sig));
        assert_eq!(timestamp(&max), Some(MAX_TIMESTAMP));
        let zero = cosign(text, &w, 0);
        assert!(cv.verify(text.as_bytes(), &zero.sig));
        // A plain Ed25519 signature over the text is not a cosignature.
        let plain = w.sign(text.as_bytes());
        assert!(!cv.verify(text.as_bytes(), &[[0u8; 8].as_slice(), &plain].concat()));
    }

    #[test]
    fn wrong_key_types() {
        let v = vector();
        let w = witness(&v);
        assert_eq!(
            CosignatureVerifier::new(w.verifier_key()),
            Err(CosignatureError::WrongAlgorithm {
                name: "example.org/witness".into(),
                alg: ALG_ED25519
            })
        );
        // Built by hand around a type 0x01 key it verifies nothing.
        let text = v["checkpoint_text"].as_str().unwrap();
        let line = cosign(text, &w, 5);
        let bogus = CosignatureVerifier(w.verifier_key());
        assert!(!bogus.verify(text.as_bytes(), &line.sig));
        // Key IDs differ by type byte.
        assert_ne!(line.key_id, w.key_id());
    }
}
