//! C2SP signed-note (<https://c2sp.org/signed-note>) and the key strings of Go's
//! `golang.org/x/mod/sumdb/note`.
//!
//! A signed note is
//!
//! ```text
//! <text, every line ending in '\n'>
//! <empty line>
//! — <key name> <base64(key ID (4 bytes, big-endian) || signature)>\n   (one or more)
//! ```
//!
//! The signed message is the text *including* its final `'\n'`; the separating empty line is
//! not signed. The text may itself contain empty lines, so text and signatures are split at the
//! *last* `"\n\n"`.
//!
//! A key is named by the pair (key name, key ID), where
//! `key ID = SHA-256(name || 0x0A || signature type || public key)[:4]` read big-endian. The
//! signature type is hashed, so one Ed25519 key has different IDs as a note signer (type 0x01)
//! and as a tlog-cosignature/v1 witness (type 0x04).
//!
//! Choices where the spec leaves room (all strict, all documented on the items):
//! - Two signature lines with the same (name, key ID) are accepted (the spec does not forbid
//!   them, and lines from unknown keys must be ignored); when the key is known, every one of
//!   its lines must verify.
//! - "Control character" means Unicode `Cc` (C0, DEL and C1); only `'\n'` is allowed. The spec
//!   forbids only C0.
//! - Ed25519 verification is RFC 8032 with canonical `S` and no small-order `R` or `A`
//!   (`verify_strict`); honest signatures always pass.
//! - Key IDs in key strings must be 8 *lowercase* hex digits, base64 must be canonical standard
//!   padded base64 (Go accepts uppercase hex and non-canonical base64).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::b64;

/// Signature type byte of plain Ed25519 note signatures (C2SP signed-note).
pub const ALG_ED25519: u8 = 0x01;

/// Signature type byte of timestamped Ed25519 witness cosignatures (C2SP tlog-cosignature/v1).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Largest encoded note [`Note::parse`] looks at; longer input is rejected before parsing.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Most signature lines a note may carry (Go's limit; the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_SIZE: usize = 64;

/// Length of an Ed25519 public key or seed.
const ED25519_KEY_SIZE: usize = 32;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Prefix of Go's encoded signer keys, there so that a secret is never mistaken for a vkey.
const SIGNER_PREFIX: &str = "PRIVATE+KEY+";

/// Why a note, a key string or a signature was rejected.
///
/// Variants never carry secret key material; parse errors carry the 1-based line number of
/// the note where that helps.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NoteError {
    #[error("note is {len} bytes, more than the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("note is not valid UTF-8")]
    InvalidUtf8,
    #[error("line {line}: control character U+{code:04X} (only newline is allowed)")]
    ControlCharacter { line: usize, code: u32 },
    #[error("note text is empty")]
    EmptyText,
    #[error("note text does not end in a newline")]
    TextMissingNewline,
    #[error("note has no signature lines")]
    NoSignatures,
    #[error("line {line}: last signature line does not end in a newline")]
    MissingFinalNewline { line: usize },
    #[error("line {line}: malformed signature line: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("note has more than {max} signature lines")]
    TooManySignatures { max: usize },
    #[error("signature is empty")]
    EmptySignature,
    #[error("invalid key name: must be non-empty, without spaces, '+' or control characters")]
    InvalidKeyName,
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(&'static str),
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    #[error("verifier key ID {expected:08x} does not match its key ({computed:08x})")]
    KeyIdMismatch { expected: u32, computed: u32 },
    #[error("signer key ID does not match the key derived from its seed")]
    SignerKeyIdMismatch,
    #[error("invalid Ed25519 public key (not a curve point, or of small order)")]
    InvalidPublicKey,
    #[error("invalid signature from known key {name}")]
    InvalidSignature { name: String },
    #[error("more than one verifier for key {name}+{key_id:08x}")]
    AmbiguousVerifier { name: String, key_id: u32 },
    #[error("note has no signature from a known key")]
    Unverified,
    #[error("operating system random number generator failed")]
    RandomSource,
}

/// `SHA-256(name || 0x0A || alg || public)[:4]` read big-endian: the key ID that C2SP
/// signed-note recommends and Go computes.
pub fn key_id(name: &str, alg: u8, public: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Reports whether `name` may name a key: non-empty, with no Unicode white space (Go's
/// `unicode.IsSpace`), no `'+'` and no control character.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// Parses exactly 8 lowercase hex digits.
fn parse_key_id_hex(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// The signature types this module has verifier keys for.
fn check_alg(alg: u8) -> Result<(), NoteError> {
    match alg {
        ALG_ED25519 | ALG_COSIGNATURE_V1 => Ok(()),
        other => Err(NoteError::UnsupportedAlgorithm(other)),
    }
}

/// Best-effort overwrite of a temporary buffer that held secret bytes.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&*buf);
}

/// RFC 8032 Ed25519 verification with canonical `S` and no small-order `R` or key.
/// See [`crate::ed25519`].
pub(crate) fn ed25519_verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
    crate::ed25519::verify_strict(key, msg, sig)
}

/// Anything that can check one signature line's blob (the bytes after the 4-byte key id).
///
/// A verifier claims the lines whose (name, key ID) equal its own; [`Note::verify`] hands it
/// those lines only.
pub trait Verifier {
    /// The key name signature lines must carry.
    fn name(&self) -> &str;
    /// The key ID signature lines must carry.
    fn key_id(&self) -> u32;
    /// `msg` is the note text (including final '\n'); `sig` the blob after the key id.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool;
}

/// A public key in C2SP vkey form: `name+<8 lowercase hex key ID>+base64(type || 32-byte key)`.
///
/// Holds Ed25519 keys of type [`ALG_ED25519`] (note signers, e.g. a log) or
/// [`ALG_COSIGNATURE_V1`] (witnesses, checked through
/// [`crate::cosignature::CosignatureVerifier`]). The key ID is always recomputed, never trusted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    alg: u8,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Builds the verifier key for `key` used under `name` with signature type `alg`
    /// (0x01 or 0x04); rejects invalid names and small-order keys.
    pub fn new(name: &str, alg: u8, key: VerifyingKey) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        check_alg(alg)?;
        if key.is_weak() {
            return Err(NoteError::InvalidPublicKey);
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, alg, key.as_bytes()),
            alg,
            key,
        })
    }

    /// Parses `name+<8 lowercase hex>+base64(alg || 32-byte public key)`.
    ///
    /// The string is split at its first two `'+'` only (base64 contains `'+'`); nothing is
    /// trimmed. The key ID is recomputed and a mismatch rejected. Types other than 0x01 and
    /// 0x04 are [`NoteError::UnsupportedAlgorithm`].
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, rest) = s
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey("missing key ID"))?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey("missing key"))?;
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let expected = parse_key_id_hex(id_hex).ok_or(NoteError::MalformedVerifierKey(
            "key ID is not 8 lowercase hex digits",
        ))?;
        let raw = b64::decode_canonical(key_b64)
            .map_err(|_| NoteError::MalformedVerifierKey("key is not canonical standard base64"))?;
        let (&alg, public) = raw
            .split_first()
            .ok_or(NoteError::MalformedVerifierKey("empty key"))?;
        check_alg(alg)?;
        let public = <[u8; ED25519_KEY_SIZE]>::try_from(public)
            .map_err(|_| NoteError::MalformedVerifierKey("Ed25519 key is not 32 bytes"))?;
        let computed = key_id(name, alg, &public);
        if computed != expected {
            return Err(NoteError::KeyIdMismatch { expected, computed });
        }
        let key = VerifyingKey::from_bytes(&public).map_err(|_| NoteError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(NoteError::InvalidPublicKey);
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: computed,
            alg,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `SHA-256(name || 0x0A || alg || public key)[:4]`, big-endian.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type byte: [`ALG_ED25519`] or [`ALG_COSIGNATURE_V1`].
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl fmt::Display for VerifierKey {
    /// The canonical vkey string; [`VerifierKey::parse`] of it yields `self`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 1 + ED25519_KEY_SIZE];
        raw[0] = self.alg;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, b64::encode(raw))
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    /// Same as [`VerifierKey::parse`].
    fn from_str(s: &str) -> Result<Self, NoteError> {
        VerifierKey::parse(s)
    }
}

impl Verifier for VerifierKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Plain Ed25519 over `msg` for type 0x01 keys (`sig` must be exactly 64 bytes). Always
    /// false for type 0x04 keys: wrap those in [`crate::cosignature::CosignatureVerifier`].
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.verify_parts(&[msg], sig)
    }
}

impl VerifierKey {
    /// [`Verifier::verify`] over the concatenation of `msg_parts`, for signed messages that
    /// are a header and a body (DSSE's PAE) without copying them into one buffer.
    pub fn verify_parts(&self, msg_parts: &[&[u8]], sig: &[u8]) -> bool {
        self.alg == ALG_ED25519 && crate::ed25519::verify_strict_parts(&self.key, msg_parts, sig)
    }
}

/// An Ed25519 signing key under a name, stored as Go's `note.GenerateKey` writes it:
/// `PRIVATE+KEY+name+<8 hex key ID>+base64(0x01 || 32-byte seed)`.
///
/// The key ID is that of the type 0x01 verifier key. The same seed can also act as a witness
/// ([`SignerKey::verifier_key_for`] with [`ALG_COSIGNATURE_V1`]). `Debug` shows the name and
/// key ID only; there is deliberately no `Display` and no `Clone`.
pub struct SignerKey {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl SignerKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let mut seed = [0u8; ED25519_KEY_SIZE];
        OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|_| NoteError::RandomSource)?;
        let key = SignerKey::from_seed(name, seed);
        wipe(&mut seed);
        key
    }

    /// The key with the given RFC 8032 seed (the 32-byte private key).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let key = SigningKey::from_bytes(&seed);
        Ok(SignerKey {
            name: name.to_owned(),
            key_id: key_id(name, ALG_ED25519, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses `PRIVATE+KEY+name+<8 lowercase hex>+base64(0x01 || 32-byte seed)`, optionally
    /// followed by exactly one `'\n'` (as in a key file). The key ID is recomputed from the
    /// derived public key and a mismatch rejected. Errors never include any part of `s`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let s = s.strip_suffix('\n').unwrap_or(s);
        let rest = s
            .strip_prefix(SIGNER_PREFIX)
            .ok_or(NoteError::MalformedSignerKey("missing PRIVATE+KEY+ prefix"))?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedSignerKey("missing key ID"))?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedSignerKey("missing key"))?;
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let expected = parse_key_id_hex(id_hex).ok_or(NoteError::MalformedSignerKey(
            "key ID is not 8 lowercase hex digits",
        ))?;
        let mut raw = b64::decode_canonical(key_b64)
            .map_err(|_| NoteError::MalformedSignerKey("key is not canonical standard base64"))?;
        let parsed = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => <[u8; ED25519_KEY_SIZE]>::try_from(seed)
                .map_err(|_| NoteError::MalformedSignerKey("Ed25519 seed is not 32 bytes"))
                .and_then(|mut seed| {
                    let key = SignerKey::from_seed(name, seed);
                    wipe(&mut seed);
                    key
                }),
            Some((&alg, _)) => Err(NoteError::UnsupportedAlgorithm(alg)),
            None => Err(NoteError::MalformedSignerKey("empty key")),
        };
        wipe(&mut raw);
        let key = parsed?;
        if key.key_id != expected {
            return Err(NoteError::SignerKeyIdMismatch);
        }
        Ok(key)
    }

    /// The canonical `PRIVATE+KEY+…` string, byte for byte what Go's `note.GenerateKey`
    /// writes. It is the secret: store it like one.
    pub fn to_key_string(&self) -> String {
        let mut raw = [0u8; 1 + ED25519_KEY_SIZE];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        let s = format!(
            "{SIGNER_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            b64::encode(raw)
        );
        wipe(&mut raw);
        s
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID of the type 0x01 verifier key.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching type 0x01 verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            alg: ALG_ED25519,
            key: self.key.verifying_key(),
        }
    }

    /// The verifier key of the same seed and name under signature type `alg`: 0x04 gives the
    /// witness key, whose key ID differs from the 0x01 one. Any `alg` other than
    /// [`ALG_COSIGNATURE_V1`] yields the [`ALG_ED25519`] key; use
    /// [`SignerKey::try_verifier_key_for`] to have other types rejected.
    pub fn verifier_key_for(&self, alg: u8) -> VerifierKey {
        self.try_verifier_key_for(alg)
            .unwrap_or_else(|_| self.verifier_key())
    }

    /// Like [`SignerKey::verifier_key_for`], but types other than 0x01 and 0x04 are
    /// [`NoteError::UnsupportedAlgorithm`].
    pub fn try_verifier_key_for(&self, alg: u8) -> Result<VerifierKey, NoteError> {
        check_alg(alg)?;
        let key = self.key.verifying_key();
        Ok(VerifierKey {
            name: self.name.clone(),
            key_id: key_id(&self.name, alg, key.as_bytes()),
            alg,
            key,
        })
    }

    /// The deterministic RFC 8032 Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

/// One signature line, `— <name> base64(key ID (big-endian) || sig)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name; must satisfy [`valid_key_name`].
    pub name: String,
    /// The key ID, the first 4 bytes of the decoded blob read big-endian.
    pub key_id: u32,
    /// The signature blob after the key ID (64 bytes for Ed25519, 72 for cosignature/v1).
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// The encoded line: `"— name base64(keyid BE || sig)\n"` with an em dash (U+2014).
    pub fn to_line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.sig.len());
        blob.extend_from_slice(&self.key_id.to_be_bytes());
        blob.extend_from_slice(&self.sig);
        format!("{SIG_PREFIX}{} {}\n", self.name, b64::encode(blob))
    }

    /// Parses one signature line, which must end in its `'\n'` (as a witness returns it).
    pub fn from_line(line: &str) -> Result<Self, NoteError> {
        let body = line
            .strip_suffix('\n')
            .ok_or(NoteError::MissingFinalNewline { line: 1 })?;
        if body.contains('\n') {
            return Err(NoteError::MalformedSignatureLine {
                line: 1,
                reason: "more than one line",
            });
        }
        check_controls(body)?;
        parse_signature_line(body, 1)
    }

    /// Length of [`NoteSignature::to_line`] without building it.
    fn line_len(&self) -> usize {
        SIG_PREFIX.len() + self.name.len() + 1 + (4 + self.sig.len()).div_ceil(3) * 4 + 1
    }
}

/// Parses a signature line without its `'\n'`; `line` is its 1-based number in the note.
fn parse_signature_line(body: &str, line: usize) -> Result<NoteSignature, NoteError> {
    let malformed = |reason| NoteError::MalformedSignatureLine { line, reason };
    let rest = body.strip_prefix(SIG_PREFIX).ok_or(malformed(
        "does not start with an em dash (U+2014) and a space",
    ))?;
    let (name, sig_b64) = rest
        .split_once(' ')
        .ok_or(malformed("no space after the key name"))?;
    if !valid_key_name(name) {
        return Err(malformed("invalid key name"));
    }
    let blob = b64::decode_canonical(sig_b64)
        .map_err(|_| malformed("signature is not canonical standard base64"))?;
    let (id, sig) = blob
        .split_first_chunk::<4>()
        .ok_or(malformed("signature shorter than 5 bytes"))?;
    if sig.is_empty() {
        return Err(malformed("signature shorter than 5 bytes"));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(*id),
        sig: sig.to_vec(),
    })
}

/// Rejects every Unicode control character but `'\n'`, naming its 1-based line.
fn check_controls(s: &str) -> Result<(), NoteError> {
    let mut line = 1;
    for c in s.chars() {
        if c == '\n' {
            line += 1;
        } else if c.is_control() {
            return Err(NoteError::ControlCharacter {
                line,
                code: u32::from(c),
            });
        }
    }
    Ok(())
}

/// A note text and its signature lines, at most one per (name, key ID).
///
/// Built by [`Note::new`] + [`Note::sign`] / [`Note::add_signature`], or by [`Note::parse`].
/// Every `Note` encodes ([`Note::to_bytes`]) to bytes that [`Note::parse`] accepts and decodes
/// back to the same `Note`, once it has at least one signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note over `text`.
    ///
    /// The text must be non-empty, end in `'\n'` and contain no control character but
    /// `'\n'`. Empty lines are allowed (the spec says so: the split is at the last empty
    /// line), and so is a text ending in an empty line. At most [`MAX_NOTE_BYTES`].
    pub fn new(text: &str) -> Result<Self, NoteError> {
        if text.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                len: text.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        if text.is_empty() {
            return Err(NoteError::EmptyText);
        }
        if !text.ends_with('\n') {
            return Err(NoteError::TextMissingNewline);
        }
        check_controls(text)?;
        Ok(Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses an encoded signed note, strictly, without checking any signature.
    ///
    /// Rejects: more than [`MAX_NOTE_BYTES`]; invalid UTF-8; control characters other than
    /// `'\n'`; no empty line or no signature line after the last one; a last line without
    /// `'\n'`; any line after the text that is not `— <valid name> <canonical base64 of ≥ 5
    /// bytes>`; more than [`MAX_SIGNATURES`] lines.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                len: bytes.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::InvalidUtf8)?;
        check_controls(s)?;
        let split = s.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let text = s.get(..split + 1).ok_or(NoteError::NoSignatures)?;
        let block = s.get(split + 2..).ok_or(NoteError::NoSignatures)?;
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        // The text has `n` lines, the empty separator is line n+1.
        let first_line = text.matches('\n').count() + 2;
        let Some(body) = block.strip_suffix('\n') else {
            return Err(NoteError::MissingFinalNewline {
                line: first_line + block.matches('\n').count(),
            });
        };
        if body.matches('\n').count() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures: Vec<NoteSignature> = Vec::new();
        for (i, line_text) in body.split('\n').enumerate() {
            let line = first_line + i;
            let sig = parse_signature_line(line_text, line)?;
            signatures.push(sig);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, ending in `'\n'`: exactly the message every signature covers.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The line from key (name, key ID), if present.
    pub fn find_signature(&self, name: &str, key_id: u32) -> Option<&NoteSignature> {
        self.signatures
            .iter()
            .find(|s| s.name == name && s.key_id == key_id)
    }

    /// Adds `sig`, replacing the line with the same (name, key ID) in place if there is one,
    /// else appending it. A line that would make the note unparseable (invalid name, empty
    /// blob, a line beyond [`MAX_SIGNATURES`] or [`MAX_NOTE_BYTES`]) is dropped; use
    /// [`Note::try_add_signature`] to learn why.
    pub fn add_signature(&mut self, sig: NoteSignature) {
        let _ = self.try_add_signature(sig);
    }

    /// Like [`Note::add_signature`], but reports a line it cannot add.
    pub fn try_add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        if !valid_key_name(&sig.name) {
            return Err(NoteError::InvalidKeyName);
        }
        if sig.sig.is_empty() {
            return Err(NoteError::EmptySignature);
        }
        // Every earlier line from this (name, key ID) goes: a parsed note may hold several.
        let same = |s: &NoteSignature| s.name == sig.name && s.key_id == sig.key_id;
        let old_len: usize = self
            .signatures
            .iter()
            .filter(|s| same(s))
            .map(NoteSignature::line_len)
            .sum();
        let new_len = self.encoded_len() - old_len + sig.line_len();
        if new_len > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                len: new_len,
                max: MAX_NOTE_BYTES,
            });
        }
        if let Some(first) = self.signatures.iter().position(same) {
            self.signatures.retain(|s| !same(s));
            self.signatures
                .insert(first.min(self.signatures.len()), sig);
            return Ok(());
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Signs the text with `signer` (type 0x01) and adds the line as
    /// [`Note::add_signature`] does.
    pub fn sign(&mut self, signer: &SignerKey) {
        let _ = self.try_sign(signer);
    }

    /// Like [`Note::sign`], but reports a line it cannot add.
    pub fn try_sign(&mut self, signer: &SignerKey) -> Result<(), NoteError> {
        let sig = NoteSignature {
            name: signer.name.clone(),
            key_id: signer.key_id,
            sig: signer.sign(self.text.as_bytes()).to_vec(),
        };
        self.try_add_signature(sig)
    }

    /// `text || "\n" || signature lines`: the canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(self.text.as_bytes());
        out.push(b'\n');
        for sig in &self.signatures {
            out.extend_from_slice(sig.to_line().as_bytes());
        }
        out
    }

    /// Length of [`Note::to_bytes`].
    fn encoded_len(&self) -> usize {
        self.text.len()
            + 1
            + self
                .signatures
                .iter()
                .map(NoteSignature::line_len)
                .sum::<usize>()
    }

    /// Checks every signature line whose (name, key id) matches a verifier. Lines from unknown
    /// keys are ignored. A known key whose signature fails → Err(NoteError::InvalidSignature{name}).
    /// Returns, in order, the indices into `verifiers` of the keys that verified (each at most
    /// once).
    ///
    /// "In order" means ascending index. Two verifiers with the same (name, key ID) that both
    /// match a line are [`NoteError::AmbiguousVerifier`]. If no known key signed the note the
    /// result is [`NoteError::Unverified`] (the spec says such a note MUST be rejected), never
    /// an empty list.
    pub fn verify(&self, verifiers: &[&dyn Verifier]) -> Result<Vec<usize>, NoteError> {
        let mut verified = vec![false; verifiers.len()];
        for sig in &self.signatures {
            let mut matching = verifiers
                .iter()
                .enumerate()
                .filter(|(_, v)| v.key_id() == sig.key_id && v.name() == sig.name);
            let Some((index, verifier)) = matching.next() else {
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteError::AmbiguousVerifier {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !verifier.verify(self.text.as_bytes(), &sig.sig) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                });
            }
            if let Some(slot) = verified.get_mut(index) {
                *slot = true;
            }
        }
        let indices: Vec<usize> = verified
            .iter()
            .enumerate()
            .filter_map(|(i, &ok)| ok.then_some(i))
            .collect();
        if indices.is_empty() {
            return Err(NoteError::Unverified);
        }
        Ok(indices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/signed-note.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn vkey(v: &Value, name: &str) -> VerifierKey {
        VerifierKey::parse(v["keys"][name]["verifier"].as_str().unwrap()).unwrap()
    }

    fn skey(v: &Value, name: &str) -> SignerKey {
        SignerKey::parse(v["keys"][name]["signer"].as_str().unwrap()).unwrap()
    }

    /// The Go example note, signed by PeterNeumann only.
    fn peter_note(v: &Value) -> String {
        let text = v["sign"][0]["text"].as_str().unwrap();
        let line = v["sign"][0]["signature_line"].as_str().unwrap();
        format!("{text}\n{line}")
    }

    #[test]
    fn vector_keys_parse_and_round_trip() {
        let v = vectors();
        let keys = v["keys"].as_object().unwrap();
        assert_eq!(keys.len(), 4);
        for (name, k) in keys {
            let vs = k["verifier"].as_str().unwrap();
            let vk = VerifierKey::parse(vs).unwrap();
            assert_eq!(vk.to_string(), vs);
            assert_eq!(vk.name(), name);
            assert_eq!(vk.alg(), ALG_ED25519);
            assert_eq!(vs.parse::<VerifierKey>().unwrap(), vk);
            assert_eq!(
                format!("{:08x}", vk.key_id()),
                vs.split('+').nth(1).unwrap()
            );
            if let Some(hex) = k.get("public_hex") {
                assert_eq!(
                    hex::encode(vk.public_key().as_bytes()),
                    hex.as_str().unwrap()
                );
            }
            if let Some(ss) = k.get("signer") {
                let ss = ss.as_str().unwrap();
                let sk = SignerKey::parse(ss).unwrap();
                assert_eq!(sk.to_key_string(), ss);
                assert_eq!(sk.name(), name);
                assert_eq!(sk.key_id(), vk.key_id());
                assert_eq!(sk.verifier_key(), vk);
                assert_eq!(sk.verifier_key().to_string(), vs);
                // A key file with one trailing newline.
                let sk2 = SignerKey::parse(&format!("{ss}\n")).unwrap();
                assert_eq!(sk2.to_key_string(), ss);
            }
        }
    }

    #[test]
    fn vector_sign_reproduces_lines() {
        let v = vectors();
        for case in v["sign"].as_array().unwrap() {
            let sk = skey(&v, case["signer"].as_str().unwrap());
            let mut note = Note::new(case["text"].as_str().unwrap()).unwrap();
            note.sign(&sk);
            assert_eq!(note.signatures().len(), 1);
            assert_eq!(
                note.signatures()[0].to_line(),
                case["signature_line"].as_str().unwrap()
            );
        }
        // Signing with PeterNeumann then EnochRoot reproduces Go's doubly-signed note.
        let first = &v["valid_notes"][0];
        let mut note = Note::new(first["text"].as_str().unwrap()).unwrap();
        note.sign(&skey(&v, "PeterNeumann"));
        note.sign(&skey(&v, "EnochRoot"));
        assert_eq!(note.to_bytes(), first["note"].as_str().unwrap().as_bytes());
        // Signing again replaces rather than duplicates.
        note.sign(&skey(&v, "PeterNeumann"));
        assert_eq!(note.to_bytes(), first["note"].as_str().unwrap().as_bytes());
    }

    #[test]
    fn vector_valid_notes_verify() {
        let v = vectors();
        let notes = v["valid_notes"].as_array().unwrap();
        assert_eq!(notes.len(), 3);
        for case in notes {
            let bytes = case["note"].as_str().unwrap().as_bytes();
            let note = Note::parse(bytes).unwrap();
            assert_eq!(note.to_bytes(), bytes, "canonical re-encoding");
            if let Some(text) = case.get("text") {
                assert_eq!(note.text(), text.as_str().unwrap());
            }
            let keys: Vec<VerifierKey> = case["verifies_with"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| vkey(&v, n.as_str().unwrap()))
                .collect();
            let dyns: Vec<&dyn Verifier> = keys.iter().map(|k| k as &dyn Verifier).collect();
            let want: Vec<usize> = (0..keys.len()).collect();
            assert_eq!(note.verify(&dyns).unwrap(), want);
            // Each key alone verifies too; the other line is then from an unknown key.
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(
                    note.verify(&[k as &dyn Verifier]).unwrap(),
                    vec![0],
                    "key {i}"
                );
            }
            // Keys that did not sign: the note is unverified.
            let other = vkey(&v, "example.com/foo");
            if !keys.contains(&other) {
                assert_eq!(note.verify(&[&other]), Err(NoteError::Unverified));
            }
        }
    }

    #[test]
    fn vector_bad_verifier_keys_rejected() {
        let v = vectors();
        let bad = v["bad_verifier_keys"].as_array().unwrap();
        assert_eq!(bad.len(), 5);
        for s in bad {
            let s = s.as_str().unwrap();
            assert!(VerifierKey::parse(s).is_err(), "{s}");
        }
        let err = |i: usize| VerifierKey::parse(bad[i].as_str().unwrap()).unwrap_err();
        assert!(matches!(err(0), NoteError::MalformedVerifierKey(_)));
        assert_eq!(err(1), NoteError::UnsupportedAlgorithm(0x65));
        assert!(matches!(
            err(2),
            NoteError::KeyIdMismatch {
                expected: 0xc74f20a4,
                ..
            }
        ));
        assert!(matches!(err(3), NoteError::MalformedVerifierKey(_)));
        assert!(matches!(err(4), NoteError::MalformedVerifierKey(_)));
    }

    #[test]
    fn vector_malformed_notes_rejected() {
        let v = vectors();
        let cases = v["malformed_notes"].as_array().unwrap();
        assert_eq!(cases.len(), 8);
        for case in cases {
            let why = case["why"].as_str().unwrap();
            let err = Note::parse(case["note"].as_str().unwrap().as_bytes()).unwrap_err();
            match why {
                "text alone, no signatures" | "text and blank line, no signatures" => {
                    assert_eq!(err, NoteError::NoSignatures, "{why}")
                }
                "last signature line lacks its newline" => {
                    assert_eq!(err, NoteError::MissingFinalNewline { line: 4 }, "{why}")
                }
                "leading control byte" => assert_eq!(
                    err,
                    NoteError::ControlCharacter { line: 1, code: 1 },
                    "{why}"
                ),
                "key name with a space" => assert!(
                    matches!(err, NoteError::MalformedSignatureLine { line: 4, .. }),
                    "{why}: {err:?}"
                ),
                "non-signature line after the signatures" => assert!(
                    matches!(err, NoteError::MalformedSignatureLine { line: 5, .. }),
                    "{why}: {err:?}"
                ),
                "101 signature lines" => assert_eq!(
                    err,
                    NoteError::TooManySignatures {
                        max: MAX_SIGNATURES
                    },
                    "{why}"
                ),
                "carriage return in text" => assert_eq!(
                    err,
                    NoteError::ControlCharacter {
                        line: 1,
                        code: 0x0d
                    },
                    "{why}"
                ),
                other => panic!("unexpected malformed_notes case {other:?}"),
            }
        }
    }

    #[test]
    fn vector_invalid_signature_rejected() {
        let v = vectors();
        let case = &v["invalid_signature"];
        let key = vkey(&v, case["verifier"].as_str().unwrap());
        let note = Note::parse(case["note"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(
            note.verify(&[&key]),
            Err(NoteError::InvalidSignature {
                name: "PeterNeumann".into()
            })
        );
    }

    #[test]
    fn tampered_text_or_signature_rejected() {
        let v = vectors();
        let key = vkey(&v, "PeterNeumann");
        let good = peter_note(&v);
        assert_eq!(
            Note::parse(good.as_bytes())
                .unwrap()
                .verify(&[&key])
                .unwrap(),
            vec![0]
        );

        // One text byte changed.
        let bad = good.replacen("answer", "Answer", 1);
        let note = Note::parse(bad.as_bytes()).unwrap();
        assert!(matches!(
            note.verify(&[&key]),
            Err(NoteError::InvalidSignature { .. })
        ));

        // Every byte of the signature (after the key ID) flipped in turn.
        let note = Note::parse(good.as_bytes()).unwrap();
        for i in 0..ED25519_SIGNATURE_SIZE {
            let mut sig = note.signatures()[0].clone();
            sig.sig[i] ^= 0x01;
            let mut n = note.clone();
            n.add_signature(sig);
            assert_eq!(n.signatures().len(), 1);
            assert!(
                matches!(n.verify(&[&key]), Err(NoteError::InvalidSignature { .. })),
                "byte {i}"
            );
        }

        // A flipped key ID makes the line one from an unknown key: ignored, so unverified.
        let mut sig = note.signatures()[0].clone();
        sig.key_id ^= 1;
        let mut n = Note::new(note.text()).unwrap();
        n.add_signature(sig);
        assert_eq!(n.verify(&[&key]), Err(NoteError::Unverified));

        // A truncated or extended signature from a known key is invalid, not malformed.
        for len in [63, 65, 1] {
            let mut sig = note.signatures()[0].clone();
            sig.sig.resize(len, 0);
            let mut n = note.clone();
            n.add_signature(sig);
            let reparsed = Note::parse(&n.to_bytes()).unwrap();
            assert!(matches!(
                reparsed.verify(&[&key]),
                Err(NoteError::InvalidSignature { .. })
            ));
        }
    }

    #[test]
    fn unknown_keys_ignored_known_failures_fatal() {
        let v = vectors();
        let peter = vkey(&v, "PeterNeumann");
        let enoch = vkey(&v, "EnochRoot");
        let text = v["sign"][0]["text"].as_str().unwrap();
        let mut note = Note::new(text).unwrap();
        note.sign(&skey(&v, "PeterNeumann"));
        // Lines from unknown keys: same name other ID, same ID other name, other types, a
        // huge post-quantum-sized blob.
        let pid = peter.key_id();
        for (name, id, len) in [
            ("PeterNeumann", pid ^ 0x8000_0000, 64),
            ("PeterNeumann2", pid, 64),
            ("ct.example/log", 0x1234_5678, 1 + 8 + 4 + 2 + 72),
            ("mldsa.example/w", 0xdead_beef, 2420 + 8),
        ] {
            note.add_signature(NoteSignature {
                name: name.into(),
                key_id: id,
                sig: vec![0xa5; len],
            });
        }
        assert_eq!(note.signatures().len(), 5);
        let parsed = Note::parse(&note.to_bytes()).unwrap();
        assert_eq!(parsed, note);
        assert_eq!(parsed.verify(&[&enoch, &peter]).unwrap(), vec![1]);

        // An unknown-key line sitting in front is still ignored.
        let mut front = Note::new(text).unwrap();
        front.add_signature(note.signatures()[2].clone());
        front.sign(&skey(&v, "PeterNeumann"));
        assert_eq!(front.verify(&[&peter]).unwrap(), vec![0]);

        // Two verifiers claiming the same (name, key ID): ambiguous.
        assert!(matches!(
            parsed.verify(&[&peter, &peter]),
            Err(NoteError::AmbiguousVerifier { .. })
        ));
        // A type 0x04 key never verifies a plain signature line.
        let w = skey(&v, "PeterNeumann").verifier_key_for(ALG_COSIGNATURE_V1);
        assert_ne!(w.key_id(), peter.key_id());
        assert!(!w.verify(note.text().as_bytes(), &note.signatures()[0].sig));
    }

    #[test]
    fn duplicate_lines_each_verified() {
        let v = vectors();
        let peter = vkey(&v, "PeterNeumann");
        let good = peter_note(&v);
        let line = v["sign"][0]["signature_line"].as_str().unwrap();
        // The same valid line twice: parses, verifies once.
        let dup = Note::parse(format!("{good}{line}").as_bytes()).unwrap();
        assert_eq!(dup.verify(&[&peter]).unwrap(), vec![0]);
        // A second, broken line from the known key rejects the note.
        // Change a signature character well past the 4-byte key ID.
        let mut bad_line = line.to_string();
        let at = bad_line.len() - 12;
        let c = if &bad_line[at..=at] == "A" { "B" } else { "A" };
        bad_line.replace_range(at..=at, c);
        assert_ne!(bad_line, line);
        let bad = Note::parse(format!("{good}{bad_line}").as_bytes()).unwrap();
        assert!(matches!(
            bad.verify(&[&peter]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn signature_count_limits() {
        let text = "hello\n";
        let line = |i: usize| {
            NoteSignature {
                name: format!("k{i}"),
                key_id: i as u32,
                sig: vec![7; 64],
            }
            .to_line()
        };
        let mut ok = format!("{text}\n");
        for i in 0..MAX_SIGNATURES {
            ok.push_str(&line(i));
        }
        assert_eq!(Note::parse(ok.as_bytes()).unwrap().signatures().len(), 100);
        let too_many = format!("{ok}{}", line(MAX_SIGNATURES));
        assert_eq!(
            Note::parse(too_many.as_bytes()),
            Err(NoteError::TooManySignatures { max: 100 })
        );
        // add_signature keeps the same limit.
        let mut note = Note::parse(ok.as_bytes()).unwrap();
        let extra = NoteSignature {
            name: "extra".into(),
            key_id: 1,
            sig: vec![1],
        };
        assert_eq!(
            note.try_add_signature(extra.clone()),
            Err(NoteError::TooManySignatures { max: 100 })
        );
        note.add_signature(extra);
        assert_eq!(note.signatures().len(), 100);
    }

    #[test]
    fn malformed_signature_lines_rejected() {
        let v = vectors();
        let good = peter_note(&v);
        let line = v["sign"][0]["signature_line"].as_str().unwrap();
        let b64 = line.trim_end().rsplit(' ').next().unwrap();
        assert!(b64.ends_with("AM="));
        let with_line = |l: &str| good.replace(line, l);
        let cases: Vec<(String, &str)> = vec![
            (
                with_line(&line.replacen('\u{2014}', "-", 1)),
                "hyphen for em dash",
            ),
            (
                with_line(&line.replacen('\u{2014}', "\u{2013}", 1)),
                "en dash",
            ),
            (
                with_line(&line.replacen("\u{2014} ", "\u{2014}", 1)),
                "no space after dash",
            ),
            (
                with_line(&line.replacen("\u{2014} ", "\u{2014}  ", 1)),
                "two spaces after dash",
            ),
            (
                with_line(&line.replacen("PeterNeumann ", "PeterNeumann  ", 1)),
                "two spaces",
            ),
            (
                with_line(&line.replace('/', "_").replace('+', "-")),
                "URL-safe base64",
            ),
            (with_line(&line.replacen("AM=", "AM", 1)), "missing padding"),
            (
                with_line(&line.replacen("AM=", "AN=", 1)),
                "non-zero trailing bits",
            ),
            (
                with_line(&line.replacen("AM=", "AM= ", 1)),
                "trailing space",
            ),
            (
                with_line(&line.replacen("AM=", "AM=\u{a0}", 1)),
                "trailing NBSP",
            ),
            (
                with_line(&format!(
                    "\u{2014} PeterNeumann {}\n",
                    b64::encode([1, 2, 3, 4])
                )),
                "4 bytes",
            ),
            (with_line("\u{2014} PeterNeumann \n"), "empty base64"),
            (
                with_line(&line.replacen("PeterNeumann", "Peter+Neumann", 1)),
                "plus in name",
            ),
            (
                with_line(&line.replacen("PeterNeumann", "Peter\u{3000}Neumann", 1)),
                "ideographic space",
            ),
            (format!("{good}\n"), "empty line after signatures"),
            (good.replacen("\n\n", "\n \n", 1), "separator with a space"),
        ];
        for (note, why) in cases {
            assert!(
                matches!(
                    Note::parse(note.as_bytes()),
                    Err(NoteError::MalformedSignatureLine { .. } | NoteError::NoSignatures)
                ),
                "{why}: {:?}",
                Note::parse(note.as_bytes())
            );
        }
        // Hyphen for em dash names line 4.
        assert!(matches!(
            Note::parse(with_line(&line.replacen('\u{2014}', "-", 1)).as_bytes()),
            Err(NoteError::MalformedSignatureLine { line: 4, .. })
        ));
    }

    #[test]
    fn control_characters_and_encoding_rejected() {
        let v = vectors();
        let good = peter_note(&v);
        for (c, line) in [
            ("\r", 2),
            ("\t", 2),
            ("\0", 2),
            ("\u{7f}", 2),
            ("\u{85}", 2),
            ("\u{1b}", 2),
        ] {
            let bad = good.replacen("then", &format!("then{c}"), 1);
            assert!(
                matches!(Note::parse(bad.as_bytes()), Err(NoteError::ControlCharacter { line: l, .. }) if l == line),
                "{c:?}"
            );
            assert!(matches!(
                Note::new(&format!("a\nb{c}\n")),
                Err(NoteError::ControlCharacter { line: 2, .. })
            ));
        }
        // CR in the signature line, and CRLF line endings.
        let crlf = good.replace('\n', "\r\n");
        assert!(matches!(
            Note::parse(crlf.as_bytes()),
            Err(NoteError::ControlCharacter { .. })
        ));
        let bad_sig = good.replacen("AM=\n", "AM=\r\n", 1);
        assert!(matches!(
            Note::parse(bad_sig.as_bytes()),
            Err(NoteError::ControlCharacter { line: 4, code: 13 })
        ));
        // Invalid UTF-8.
        let mut bytes = good.clone().into_bytes();
        bytes[3] = 0xff;
        assert_eq!(Note::parse(&bytes), Err(NoteError::InvalidUtf8));
        // Too large, checked first.
        let big = vec![b'a'; MAX_NOTE_BYTES + 1];
        assert!(matches!(Note::parse(&big), Err(NoteError::TooLarge { .. })));
    }

    #[test]
    fn note_text_rules() {
        assert_eq!(Note::new(""), Err(NoteError::EmptyText));
        assert_eq!(Note::new("a"), Err(NoteError::TextMissingNewline));
        assert_eq!(Note::new("a\nb"), Err(NoteError::TextMissingNewline));
        let k = SignerKey::from_seed("example.com/k", [9; 32]).unwrap();
        // Empty lines inside the text, a text ending in an empty line, a text of one
        // newline: all allowed, and all survive the split at the last empty line.
        for text in ["a\n\nb\n", "a\n\n", "\n", "a\n\n\u{2014} x AAAAAAA=\n"] {
            let mut note = Note::new(text).unwrap();
            note.sign(&k);
            let parsed = Note::parse(&note.to_bytes()).unwrap();
            assert_eq!(parsed.text(), text);
            assert_eq!(parsed, note);
            assert_eq!(parsed.verify(&[&k.verifier_key()]).unwrap(), vec![0]);
        }
        // Unsigned notes encode to something parse refuses.
        let unsigned = Note::new("a\n").unwrap();
        assert_eq!(
            Note::parse(&unsigned.to_bytes()),
            Err(NoteError::NoSignatures)
        );
    }

    #[test]
    fn add_signature_validates() {
        let mut note = Note::new("a\n").unwrap();
        let bad_name = NoteSignature {
            name: "a b".into(),
            key_id: 1,
            sig: vec![1],
        };
        assert_eq!(
            note.try_add_signature(bad_name.clone()),
            Err(NoteError::InvalidKeyName)
        );
        note.add_signature(bad_name);
        assert!(note.signatures().is_empty());
        let empty = NoteSignature {
            name: "a".into(),
            key_id: 1,
            sig: vec![],
        };
        assert_eq!(
            note.try_add_signature(empty),
            Err(NoteError::EmptySignature)
        );
        let huge = NoteSignature {
            name: "a".into(),
            key_id: 1,
            sig: vec![0; MAX_NOTE_BYTES],
        };
        assert!(matches!(
            note.try_add_signature(huge),
            Err(NoteError::TooLarge { .. })
        ));
        // Replacement keeps the position.
        for (name, id) in [("a", 1), ("b", 2), ("a", 1)] {
            note.add_signature(NoteSignature {
                name: name.into(),
                key_id: id,
                sig: vec![id as u8; 3],
            });
        }
        let names: Vec<&str> = note.signatures().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(note.to_bytes().len(), note.encoded_len());
    }

    #[test]
    fn signature_line_round_trip() {
        let v = vectors();
        let line = v["sign"][0]["signature_line"].as_str().unwrap();
        let sig = NoteSignature::from_line(line).unwrap();
        assert_eq!(sig.name, "PeterNeumann");
        assert_eq!(sig.key_id, 0xc74f20a3);
        assert_eq!(sig.sig.len(), 64);
        assert_eq!(sig.to_line(), line);
        assert_eq!(sig.line_len(), line.len());
        assert!(NoteSignature::from_line(line.trim_end()).is_err());
        assert!(NoteSignature::from_line(&format!("{line}{line}")).is_err());
        assert!(NoteSignature::from_line(&line.replace('\n', "\r\n")).is_err());
    }

    #[test]
    fn verifier_key_strictness() {
        let v = vectors();
        let good = v["keys"]["PeterNeumann"]["verifier"].as_str().unwrap();
        let bad = [
            good.replacen("c74f20a3", "C74F20A3", 1),
            good.replacen("c74f20a3", "c74f20a", 1),
            good.replacen("c74f20a3", "0c74f20a3", 1),
            good.replacen("PeterNeumann", "", 1),
            good.replacen("PeterNeumann", "Peter Neumann", 1),
            format!(" {good}"),
            format!("{good}\n"),
            format!("{good} "),
            good.replacen("+ARpc", "+ARpc\n", 1),
            good.replace('/', "_"),
            good.replacen("10TW", "10TW=", 1),
        ];
        for s in &bad {
            assert!(VerifierKey::parse(s).is_err(), "{s:?}");
        }
        // A small-order public key (the identity) with a correct key ID.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let id = key_id("weak", ALG_ED25519, &identity);
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&identity);
        let s = format!("weak+{id:08x}+{}", b64::encode(&raw));
        assert_eq!(VerifierKey::parse(&s), Err(NoteError::InvalidPublicKey));
        // Type 0x04 keys parse; 0x02 (ECDSA) does not.
        let w = "example.org/witness+cacf2e50+BGbguFjkYqYJ5m/nE3DIFtiEb/ED1UmaIqf+w3/bxCSn";
        assert_eq!(VerifierKey::parse(w).unwrap().alg(), ALG_COSIGNATURE_V1);
        let mut raw2 = vec![0x02];
        raw2.extend_from_slice(&[5; 32]);
        let id2 = key_id("e", 0x02, &[5; 32]);
        let s2 = format!("e+{id2:08x}+{}", b64::encode(&raw2));
        assert_eq!(
            VerifierKey::parse(&s2),
            Err(NoteError::UnsupportedAlgorithm(2))
        );
        // new() agrees with parse().
        let pk = VerifierKey::parse(good).unwrap();
        let again = VerifierKey::new("PeterNeumann", ALG_ED25519, *pk.public_key()).unwrap();
        assert_eq!(again, pk);
        assert_eq!(
            VerifierKey::new("a+b", ALG_ED25519, *pk.public_key()),
            Err(NoteError::InvalidKeyName)
        );
        assert_eq!(
            VerifierKey::new("a", 0x05, *pk.public_key()),
            Err(NoteError::UnsupportedAlgorithm(5))
        );
    }

    #[test]
    fn signer_key_strictness_and_secrecy() {
        let v = vectors();
        let good = v["keys"]["PeterNeumann"]["signer"].as_str().unwrap();
        let seed_b64 = good.splitn(5, '+').nth(4).unwrap();
        let sk = SignerKey::parse(good).unwrap();
        let debug = format!("{sk:?}");
        assert!(
            debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
            "{debug}"
        );
        let seed_hex = hex::encode(sk.key.as_bytes());
        assert!(!debug.contains(&seed_hex) && !debug.contains(&seed_b64[4..20]));

        let bad = [
            format!("{good}\n\n"),
            format!("{good}\r\n"),
            format!("{good} "),
            format!(" {good}"),
            good.replacen("PRIVATE+KEY+", "PRIVATE+KEY+ ", 1),
            good.replacen("PRIVATE+KEY+", "private+key+", 1),
            good.replacen("PRIVATE+KEY+", "", 1),
            good.replacen("c74f20a3", "c74f20a4", 1),
            good.replacen("c74f20a3", "C74F20A3", 1),
            good.replacen("+AYEK", "+AIEK", 1), // type byte 0x02
            good.replacen("+AYEK", "+BIEK", 1), // type byte 0x04
            format!("{good}AAAA"),
            good.replacen("HKDFz", "HKDF", 1),
        ];
        for s in &bad {
            let err = SignerKey::parse(s).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                !shown.contains(&seed_b64[4..12]),
                "error echoes key: {shown}"
            );
        }
        assert_eq!(
            SignerKey::parse(&good.replacen("c74f20a3", "c74f20a4", 1)).unwrap_err(),
            NoteError::SignerKeyIdMismatch
        );
        assert!(matches!(
            SignerKey::parse(&good.replacen("+AYEK", "+BIEK", 1)),
            Err(NoteError::UnsupportedAlgorithm(4))
        ));

        let g = SignerKey::generate("example.com/new").unwrap();
        let again = SignerKey::parse(&g.to_key_string()).unwrap();
        assert_eq!(again.verifier_key(), g.verifier_key());
        assert_ne!(
            g.key_id(),
            SignerKey::generate("example.com/new").unwrap().key_id()
        );
        assert_eq!(
            SignerKey::generate("bad name").unwrap_err(),
            NoteError::InvalidKeyName
        );
        assert_eq!(
            SignerKey::from_seed("", [0; 32]).unwrap_err(),
            NoteError::InvalidKeyName
        );

        // Witness key of the same seed: other type byte, other key ID, same public key.
        let w = sk.verifier_key_for(ALG_COSIGNATURE_V1);
        assert_eq!(w.alg(), ALG_COSIGNATURE_V1);
        assert_eq!(w.public_key(), sk.verifier_key().public_key());
        assert_eq!(
            w.key_id(),
            key_id(
                "PeterNeumann",
                ALG_COSIGNATURE_V1,
                w.public_key().as_bytes()
            )
        );
        assert_eq!(VerifierKey::parse(&w.to_string()).unwrap(), w);
        assert_eq!(sk.verifier_key_for(ALG_ED25519), sk.verifier_key());
        assert_eq!(
            sk.try_verifier_key_for(5),
            Err(NoteError::UnsupportedAlgorithm(5))
        );
    }

    #[test]
    fn key_names() {
        for ok in ["a", "example.com/log", "go.sum", "\u{e9}t\u{e9}", "a-b_c~"] {
            assert!(valid_key_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2028}",
            "a\u{1}",
            "a\u{7f}",
            "a\n",
        ] {
            assert!(!valid_key_name(bad), "{bad:?}");
        }
    }
}
