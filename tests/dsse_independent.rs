//! An independent DSSE verifier, written from the DSSE spec (secure-systems-lab/dsse
//! `protocol.md` and `envelope.md`) and C2SP signed-note's verifier key format, checks the
//! envelopes `fwlog::entry::sign_entry` produces.
//!
//! It shares no code with `fwlog::entry::dsse` or `fwlog::note`: its own PAE, JSON read through
//! `serde_json::Value`, base64 through the `base64` crate, the key ID recomputed with `sha2`, and
//! Ed25519 through `ed25519_dalek` directly.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use fwlog::entry::{parse_entry, sign_entry, Entry};
use fwlog::note::SignerKey;

const IN_TOTO: &str = "application/vnd.in-toto+json";

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN in ASCII decimal.
fn pae(payload_type: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = b"DSSEv1".to_vec();
    for part in [payload_type, body] {
        out.push(b' ');
        out.extend_from_slice(part.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(part);
    }
    out
}

/// A verifier key string `name+<8 hex>+base64(0x01 || key)`, split at the first two `+` only,
/// key ID `SHA-256(name || "\n" || 0x01 || key)[:4]` checked.
fn vkey(s: &str) -> Result<(String, VerifyingKey), String> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not name+id+key".into());
    };
    let raw = STANDARD.decode(b64).map_err(|e| e.to_string())?;
    if raw.len() != 33 || raw[0] != 0x01 {
        return Err("not an Ed25519 (0x01) key".into());
    }
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n']);
    h.update(&raw);
    if format!(
        "{:08x}",
        u32::from_be_bytes(h.finalize()[..4].try_into().unwrap())
    ) != id
    {
        return Err("key ID mismatch".into());
    }
    let key = VerifyingKey::from_bytes(raw[1..].try_into().unwrap()).map_err(|e| e.to_string())?;
    Ok((name.to_string(), key))
}

/// Verifies every signature of a DSSE JSON envelope; returns (payload type, body, signer
/// names).
fn verify(envelope: &[u8]) -> Result<(String, Vec<u8>, Vec<String>), String> {
    let v: Value = serde_json::from_slice(envelope).map_err(|e| e.to_string())?;
    let payload_type = v["payloadType"].as_str().ok_or("no payloadType")?;
    let body = STANDARD
        .decode(v["payload"].as_str().ok_or("no payload")?)
        .map_err(|e| e.to_string())?;
    let sigs = v["signatures"].as_array().ok_or("no signatures")?;
    if sigs.is_empty() {
        return Err("no signatures".into());
    }
    let message = pae(payload_type.as_bytes(), &body);
    let mut names = Vec::new();
    for s in sigs {
        let (name, key) = vkey(s["keyid"].as_str().ok_or("no keyid")?)?;
        let sig = STANDARD
            .decode(s["sig"].as_str().ok_or("no sig")?)
            .map_err(|e| e.to_string())?;
        let sig = Signature::from_slice(&sig).map_err(|e| e.to_string())?;
        key.verify_strict(&message, &sig)
            .map_err(|_| format!("bad signature by {name}"))?;
        names.push(name);
    }
    Ok((payload_type.to_string(), body, names))
}

fn vendor() -> SignerKey {
    SignerKey::from_seed("vendor.example/release", [1; 32]).unwrap()
}

#[test]
fn pae_spec_example() {
    assert_eq!(
        pae(b"http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
}

#[test]
fn verifies_fwlog_envelopes() {
    let keys = [
        vendor(),
        SignerKey::from_seed("rebuilder.example/ci", [2; 32]).unwrap(),
        SignerKey::generate("a\"quoted\\name").unwrap(),
    ];
    let bodies: [&[u8]; 4] = [b"", b"{}", b"\x00\xff not even UTF-8 \n", &[0x7b; 5000]];
    for key in &keys {
        for body in bodies {
            let env = sign_entry(body, key);
            let (ty, got, names) = verify(&env).unwrap();
            assert_eq!(ty, IN_TOTO);
            assert_eq!(got, body);
            assert_eq!(names, [key.name()]);
        }
    }
}

#[test]
fn verifies_the_golden_release_and_fwlog_agrees() {
    let golden = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/entry/release-golden.json"),
    )
    .unwrap();
    let (ty, body, names) = verify(&golden).unwrap();
    assert_eq!(
        (ty.as_str(), names.as_slice()),
        (IN_TOTO, ["vendor.example/release".to_string()].as_slice())
    );
    // fwlog writes the same bytes for the same statement and key, and parses them.
    assert_eq!(sign_entry(&body, &vendor()), golden);
    let parsed = parse_entry(&golden).unwrap();
    assert_eq!(parsed.statement_bytes, body);
    assert!(matches!(parsed.entry, Entry::Release(ref r) if r.firmware_name == "ovmf"));
    let statement: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        statement["predicateType"],
        "https://fwlog.dev/attestation/release/v1"
    );
}

#[test]
fn rejects_modified_envelopes() {
    let body = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let env = sign_entry(body, &vendor());
    let mut v: Value = serde_json::from_slice(&env).unwrap();
    assert!(verify(&env).is_ok());

    let mut changed = v.clone();
    changed["payload"] =
        Value::from(STANDARD.encode(br#"{"_type":"https://in-toto.io/Statement/v2"}"#));
    let err = verify(&serde_json::to_vec(&changed).unwrap()).unwrap_err();
    assert!(err.contains("bad signature"), "{err}");

    let mut retyped = v.clone();
    retyped["payloadType"] = Value::from("application/json");
    assert!(verify(&serde_json::to_vec(&retyped).unwrap()).is_err());

    let mut rekeyed = v.clone();
    rekeyed["signatures"][0]["keyid"] = Value::from(
        SignerKey::from_seed("vendor.example/release", [3; 32])
            .unwrap()
            .verifier_key()
            .to_string(),
    );
    assert!(verify(&serde_json::to_vec(&rekeyed).unwrap()).is_err());

    let mut sig = STANDARD
        .decode(v["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    sig[10] ^= 1;
    v["signatures"][0]["sig"] = Value::from(STANDARD.encode(sig));
    assert!(verify(&serde_json::to_vec(&v).unwrap()).is_err());
}
