//! DSSE, the Dead Simple Signing Envelope (<https://github.com/secure-systems-lab/dsse>,
//! `envelope.md` and `protocol.md`), in the profile fwlog logs:
//!
//! ```json
//! {"payloadType":"application/vnd.in-toto+json","payload":"<base64>","signatures":[{"keyid":"<vkey>","sig":"<base64>"}]}
//! ```
//!
//! The signature is Ed25519 over `PAE(payloadType, payload)`. Nothing is canonicalised: the
//! decoded payload bytes are what was signed, and the envelope bytes are logged as submitted.
//!
//! Deliberate departures from the DSSE envelope spec, all toward strictness: unknown fields are
//! rejected (DSSE says consumers must ignore them), `keyid` is required and must be a Go-note
//! verifier key string, base64 must be canonical standard base64 (DSSE also allows URL-safe),
//! and exactly one signature is accepted ([`Envelope::verify`]).

use std::borrow::Cow;

use serde::Deserialize;

use super::statement::Obj;
use super::{EntryError, MAX_ENTRY_BYTES, PAYLOAD_TYPE};
use crate::b64;
use crate::note::{self, SignerKey, VerifierKey};

/// `VerifierKey::parse`, remembered. A log's entries are signed by a handful of keys, and
/// parsing one (decompressing its point) costs a tenth of checking a signature. Parsing is a
/// pure function of the string, so remembering it changes only the time. Bounded: at most
/// [`KEY_MEMO`] keys of up to [`KEY_MEMO_LEN`] bytes; emptied when full.
fn parse_keyid(keyid: &str) -> Result<VerifierKey, note::NoteError> {
    type Memo = std::sync::Mutex<std::collections::HashMap<String, VerifierKey>>;
    static KEYS: std::sync::OnceLock<Memo> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(Memo::default);
    // A poisoned memo is still a consistent map: a panic cannot tear an insert.
    let lock = || keys.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(key) = lock().get(keyid) {
        return Ok(key.clone());
    }
    let key = VerifierKey::parse(keyid)?;
    if keyid.len() <= KEY_MEMO_LEN {
        let mut map = lock();
        if map.len() >= KEY_MEMO {
            map.clear();
        }
        map.insert(keyid.to_string(), key.clone());
    }
    Ok(key)
}

/// Keys the `keyid` memo holds at most.
const KEY_MEMO: usize = 256;
/// The longest `keyid` the memo holds.
const KEY_MEMO_LEN: usize = 512;

/// The DSSE pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let head = pae_head(payload_type, body.len());
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    out
}

/// [`pae`] up to the body: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP`.
fn pae_head(payload_type: &str, body_len: usize) -> String {
    format!("DSSEv1 {} {payload_type} {body_len} ", payload_type.len())
}

/// One envelope signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The signer's Go-note verifier key string (`name+hex+base64`).
    pub keyid: String,
    /// The raw signature bytes (decoded from base64).
    pub sig: Vec<u8>,
}

/// A DSSE envelope with its payload and signatures decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The media type the signature binds, e.g. [`PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The signed body, decoded.
    pub payload: Vec<u8>,
    /// The signatures in envelope order.
    pub signatures: Vec<Signature>,
}

/// The envelope as parsed: strings borrowed from the input unless they hold JSON escapes, so
/// that the base64 payload (most of an entry) is not copied before it is decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope<'a> {
    #[serde(rename = "payloadType", borrow)]
    payload_type: Cow<'a, str>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(borrow)]
    signatures: Vec<Obj<WireSignature<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature<'a> {
    #[serde(borrow)]
    keyid: Cow<'a, str>,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

impl Envelope {
    /// Parses envelope JSON strictly: at most [`MAX_ENTRY_BYTES`], one JSON object with exactly
    /// the fields `payloadType`, `payload` and `signatures` (each signature exactly `keyid` and
    /// `sig`), no duplicate keys, canonical standard base64. Signatures are not checked here;
    /// see [`Envelope::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Envelope, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let wire = serde_json::from_slice::<Obj<WireEnvelope>>(bytes)
            .map_err(|e| EntryError::MalformedEnvelope(e.to_string()))?
            .0;
        let payload =
            b64::decode_canonical(&wire.payload).map_err(|_| EntryError::Base64("payload"))?;
        let signatures = wire
            .signatures
            .into_iter()
            .map(|Obj(s)| {
                let sig = b64::decode_canonical(&s.sig).map_err(|_| EntryError::Base64("sig"))?;
                Ok(Signature {
                    keyid: s.keyid.into_owned(),
                    sig,
                })
            })
            .collect::<Result<Vec<_>, EntryError>>()?;
        Ok(Envelope {
            payload_type: wire.payload_type.into_owned(),
            payload,
            signatures,
        })
    }

    /// Signs `body` under `payload_type` with `key`; the keyid is the key's verifier key string.
    pub fn sign(payload_type: &str, body: &[u8], key: &SignerKey) -> Envelope {
        Envelope {
            payload_type: payload_type.to_string(),
            payload: body.to_vec(),
            signatures: vec![Signature {
                keyid: key.verifier_key().to_string(),
                sig: key.sign(&pae(payload_type, body)).to_vec(),
            }],
        }
    }

    /// Checks the fwlog profile and the signature, returning the signer: `payloadType` is
    /// exactly [`PAYLOAD_TYPE`]; exactly one signature; `sig` is 64 bytes; `keyid` parses as a
    /// type 0x01 (Ed25519) verifier key; the signature verifies (RFC 8032, strict) over
    /// [`pae`]. Whether the signer is trusted is the caller's policy.
    pub fn verify(&self) -> Result<VerifierKey, EntryError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(EntryError::PayloadType(self.payload_type.clone()));
        }
        let [sig] = self.signatures.as_slice() else {
            return Err(EntryError::SignatureCount(self.signatures.len()));
        };
        if sig.sig.len() != note::ED25519_SIGNATURE_SIZE {
            return Err(EntryError::SignatureLength(sig.sig.len()));
        }
        let key = parse_keyid(&sig.keyid).map_err(EntryError::KeyId)?;
        if key.alg() != note::ALG_ED25519 {
            return Err(EntryError::KeyType(key.alg()));
        }
        let head = pae_head(&self.payload_type, self.payload.len());
        if !key.verify_parts(&[head.as_bytes(), &self.payload], &sig.sig) {
            return Err(EntryError::BadSignature(key.name().to_string()));
        }
        Ok(key)
    }

    /// The envelope as compact JSON, fields in the order `payloadType`, `payload`, `signatures`
    /// (`keyid`, `sig`): byte for byte what `serde_json::to_vec` writes for that struct, written
    /// by hand so that it cannot fail.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(64 + self.payload.len() * 4 / 3);
        out.push_str("{\"payloadType\":");
        json_string(&mut out, &self.payload_type);
        out.push_str(",\"payload\":");
        json_string(&mut out, &b64::encode(&self.payload));
        out.push_str(",\"signatures\":[");
        for (i, s) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"keyid\":");
            json_string(&mut out, &s.keyid);
            out.push_str(",\"sig\":");
            json_string(&mut out, &b64::encode(&s.sig));
            out.push('}');
        }
        out.push_str("]}");
        out.into_bytes()
    }
}

/// Appends `s` as a JSON string exactly as serde_json escapes it: `"` and `\` backslashed,
/// `\b \t \n \f \r` short forms, other C0 controls as `\u00xx` (lowercase hex), all else as is.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SignerKey {
        SignerKey::from_seed("vendor.example/release", [1; 32]).unwrap()
    }

    #[test]
    fn pae_matches_the_spec_example() {
        // protocol.md's test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        assert_eq!(pae("é", b"\x00"), b"DSSEv1 2 \xc3\xa9 1 \x00");
    }

    #[test]
    fn writer_is_serde_json_compact() {
        #[derive(serde::Serialize)]
        struct W<'a> {
            #[serde(rename = "payloadType")]
            payload_type: &'a str,
            payload: String,
            signatures: Vec<S<'a>>,
        }
        #[derive(serde::Serialize)]
        struct S<'a> {
            keyid: &'a str,
            sig: String,
        }
        let all_c0: String = (0u8..0x20).map(char::from).collect();
        for (ty, keyid) in [
            (PAYLOAD_TYPE, "k"),
            ("a\"b\\c/d\u{7f}é\u{2028}", "x\"y"),
            (all_c0.as_str(), "😀"),
        ] {
            let env = Envelope {
                payload_type: ty.into(),
                payload: b"{}\xff".to_vec(),
                signatures: vec![
                    Signature {
                        keyid: keyid.into(),
                        sig: vec![1, 2, 3],
                    },
                    Signature {
                        keyid: all_c0.clone(),
                        sig: vec![],
                    },
                ],
            };
            let w = W {
                payload_type: ty,
                payload: b64::encode(&env.payload),
                signatures: env
                    .signatures
                    .iter()
                    .map(|s| S {
                        keyid: &s.keyid,
                        sig: b64::encode(&s.sig),
                    })
                    .collect(),
            };
            assert_eq!(
                String::from_utf8(env.to_bytes()).unwrap(),
                serde_json::to_string(&w).unwrap()
            );
            assert_eq!(Envelope::parse(&env.to_bytes()).unwrap(), env);
        }
    }

    #[test]
    fn sign_then_verify() {
        let env = Envelope::sign(PAYLOAD_TYPE, b"body", &key());
        assert_eq!(env.verify().unwrap(), key().verifier_key());
        let parsed = Envelope::parse(&env.to_bytes()).unwrap();
        assert_eq!(parsed, env);
        // Cosignature-type (0x04) keys are not entry signers, even with a good signature.
        let mut env4 = env.clone();
        env4.signatures[0].keyid = key().verifier_key_for(note::ALG_COSIGNATURE_V1).to_string();
        assert_eq!(env4.verify(), Err(EntryError::KeyType(0x04)));
        // The payload type is authenticated.
        let mut other = Envelope::sign("application/json", b"body", &key());
        assert!(matches!(other.verify(), Err(EntryError::PayloadType(_))));
        other.payload_type = PAYLOAD_TYPE.into();
        assert!(matches!(other.verify(), Err(EntryError::BadSignature(_))));
    }

    /// A signature only the key's owner can make, with `R` the identity and `S = k·a`: the
    /// cofactorless equation holds, so non-strict verification accepts it; entries refuse it.
    #[test]
    fn small_order_r_is_refused() {
        use curve25519_dalek::scalar::Scalar;
        use sha2::{Digest as _, Sha512};
        let sk = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let vk = sk.verifying_key();
        assert_eq!(vk.as_bytes(), key().verifier_key().public_key().as_bytes());
        let msg = pae(PAYLOAD_TYPE, b"body");
        let mut r = [0u8; 32];
        r[0] = 1; // the identity point's encoding
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r)
                .chain_update(vk.as_bytes())
                .chain_update(&msg),
        );
        let s = k * sk.to_scalar();
        let mut sig = r.to_vec();
        sig.extend_from_slice(s.as_bytes());
        let dalek_sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        assert!(ed25519_dalek::Verifier::verify(&vk, &msg, &dalek_sig).is_ok());
        let env = Envelope {
            payload_type: PAYLOAD_TYPE.into(),
            payload: b"body".to_vec(),
            signatures: vec![Signature {
                keyid: key().verifier_key().to_string(),
                sig,
            }],
        };
        assert!(matches!(env.verify(), Err(EntryError::BadSignature(_))));
    }

    #[test]
    fn escaped_strings_parse_as_their_unescaped_text() {
        let env = Envelope::sign(PAYLOAD_TYPE, b"body \xff\xfe", &key());
        let plain = String::from_utf8(env.to_bytes()).unwrap();
        // Escape one character of every string: the parser then cannot borrow the input.
        let mut escaped = plain.clone();
        for field in [
            "\"payloadType\":\"",
            "\"payload\":\"",
            "\"keyid\":\"",
            "\"sig\":\"",
        ] {
            let at = escaped.find(field).unwrap() + field.len();
            let c = escaped[at..].chars().next().unwrap();
            escaped.replace_range(at..at + c.len_utf8(), &format!("\\u{:04x}", c as u32));
        }
        assert_ne!(escaped, plain);
        assert_eq!(Envelope::parse(escaped.as_bytes()).unwrap(), env);
        assert_eq!(Envelope::parse(plain.as_bytes()).unwrap(), env);
    }

    #[test]
    fn size_limit() {
        let big = vec![b' '; MAX_ENTRY_BYTES + 1];
        assert_eq!(
            Envelope::parse(&big),
            Err(EntryError::TooLarge(MAX_ENTRY_BYTES + 1))
        );
    }
}
