//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed tree head.
//!
//! A checkpoint is a [signed note](crate::note) whose text is
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64 of the 32-byte RFC 9162 root hash>\n
//! [<extension line>\n]...   (optional, non-empty, not recommended)
//! ```
//!
//! signed by the log's Ed25519 key (type 0x01) and optionally cosigned by witnesses
//! (tlog-cosignature/v1, type 0x04, see [`crate::cosignature`]). The origin names the log; it
//! should equal the log key's name, but need not (sum.golang.org signs `go.sum database
//! tree`), so verifiers are told which origin to expect.

use thiserror::Error;

use crate::cosignature::{self, CosignatureVerifier};
use crate::merkle::Hash;
use crate::note::{
    self, Note, NoteError, SignerKey, Verifier, VerifierKey, ALG_COSIGNATURE_V1, ALG_ED25519,
};

/// Most extension lines a checkpoint may carry. C2SP does not recommend extensions (monitors
/// cannot audit them) and fwlog writes none; 16 leaves room for other ecosystems' few
/// while bounding what a parser accepts.
pub const MAX_EXTENSION_LINES: usize = 16;

/// Why a checkpoint was rejected, while parsing or verifying.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("checkpoint text is {len} bytes, more than the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("checkpoint text does not end in a newline")]
    MissingFinalNewline,
    #[error("checkpoint text has {lines} line(s); origin, size and root hash are required")]
    TooFewLines { lines: usize },
    #[error("line {line}: control character U+{code:04X}")]
    ControlCharacter { line: usize, code: u32 },
    #[error("line 1: empty origin")]
    EmptyOrigin,
    #[error("line 2: tree size is not a canonical decimal u64 (digits only, no leading zeros)")]
    MalformedSize,
    #[error("line 3: root hash is not canonical standard base64 of 32 bytes")]
    MalformedRoot,
    #[error("line {line}: empty extension line")]
    EmptyExtensionLine { line: usize },
    #[error("more than {max} extension lines")]
    TooManyExtensionLines { max: usize },
    #[error("log key {name} has signature type 0x{alg:02x}, not Ed25519 (0x01)")]
    LogKeyAlgorithm { name: String, alg: u8 },
    #[error("witness key {name} has signature type 0x{alg:02x}, not cosignature/v1 (0x04)")]
    WitnessKeyAlgorithm { name: String, alg: u8 },
    #[error("checkpoint has no signature from the log key")]
    MissingLogSignature,
    #[error("the log key's signature on the checkpoint does not verify")]
    InvalidSignature,
    #[error("checkpoint origin {got:?} is not the expected {expected:?}")]
    OriginMismatch { expected: String, got: String },
    #[error("cosignature from witness {name} does not verify")]
    InvalidCosignature { name: String },
    #[error("{have} valid witness cosignature(s), {need} required")]
    WitnessQuorum { have: usize, need: usize },
}

/// The tree head a checkpoint text states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `example.com/log`; non-empty, no control characters.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 9162 root hash of the first `size` leaves.
    pub root: Hash,
    /// Extension lines, each non-empty, without their `'\n'`; at most
    /// [`MAX_EXTENSION_LINES`].
    pub extensions: Vec<String>,
}

/// Canonical decimal: ASCII digits only, no sign, no leading zero unless exactly "0".
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Rejects control characters (Unicode `Cc`, which includes `'\n'`) in one line.
fn check_line(s: &str, line: usize) -> Result<(), CheckpointError> {
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(CheckpointError::ControlCharacter {
            line,
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

impl Checkpoint {
    /// Parses a checkpoint note text, strictly.
    ///
    /// At least three lines, every one ending in `'\n'`: a non-empty origin; the size as
    /// canonical decimal (`"0"` allowed; no leading zeros, sign or spaces; must fit in a u64);
    /// the root as canonical standard base64 of exactly 32 bytes; then up to
    /// [`MAX_EXTENSION_LINES`] non-empty extension lines. No control characters anywhere.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > note::MAX_NOTE_BYTES {
            return Err(CheckpointError::TooLarge {
                len: text.len(),
                max: note::MAX_NOTE_BYTES,
            });
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            check_line(line, i + 1)?;
        }
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines { lines: lines.len() });
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_size(size).ok_or(CheckpointError::MalformedSize)?;
        let root = Hash::from_base64(root).map_err(|_| CheckpointError::MalformedRoot)?;
        if extensions.len() > MAX_EXTENSION_LINES {
            return Err(CheckpointError::TooManyExtensionLines {
                max: MAX_EXTENSION_LINES,
            });
        }
        if let Some(i) = extensions.iter().position(|e| e.is_empty()) {
            return Err(CheckpointError::EmptyExtensionLine { line: 4 + i });
        }
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        })
    }

    /// `origin\nsize\nbase64(root)\n` followed by each extension line and `'\n'`.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for ext in &self.extensions {
            text.push_str(ext);
            text.push('\n');
        }
        text
    }

    /// Checks that [`Checkpoint::to_text`] is a text [`Checkpoint::parse_text`] accepts and
    /// maps back to `self` (the fields are public, so they can hold anything).
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if self.origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        check_line(&self.origin, 1)?;
        if self.extensions.len() > MAX_EXTENSION_LINES {
            return Err(CheckpointError::TooManyExtensionLines {
                max: MAX_EXTENSION_LINES,
            });
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtensionLine { line: 4 + i });
            }
            check_line(ext, 4 + i)?;
        }
        Ok(())
    }
}

/// A checkpoint with its note (signatures not yet checked).
///
/// `note` is authoritative: [`SignedCheckpoint::verify`] re-parses the checkpoint from the
/// note's text, so a `checkpoint` field edited after parsing or signing cannot be vouched for.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    /// The parsed note text.
    pub checkpoint: Checkpoint,
    /// The signed note; add cosignatures here.
    pub note: Note,
}

impl SignedCheckpoint {
    /// [`Note::parse`] then [`Checkpoint::parse_text`] of its text; verifies no signature.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_text(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Validates `checkpoint` and signs its text with the log key (type 0x01 line).
    pub fn sign(checkpoint: Checkpoint, log_key: &SignerKey) -> Result<Self, CheckpointError> {
        checkpoint.validate()?;
        let mut note = Note::new(&checkpoint.to_text())?;
        note.try_sign(log_key)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The encoded note: text, empty line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }

    /// Verifies: the log key's Ed25519 signature is present and valid (missing →
    /// CheckpointError::MissingLogSignature; invalid → InvalidSignature), `expected_origin` (if
    /// Some) equals the origin, then each witness key (alg 0x04) whose cosignature line is
    /// present and valid counts once; a present but invalid cosignature from a listed witness
    /// is an error; unknown lines (other keys, other types like 0x05 RFC 6962 STH, ML-DSA) are
    /// ignored. Fewer than `quorum` valid witnesses → CheckpointError::WitnessQuorum{have, need}.
    ///
    /// Also: `log_key` must be type 0x01 ([`CheckpointError::LogKeyAlgorithm`]) and every
    /// witness type 0x04 ([`CheckpointError::WitnessKeyAlgorithm`]): a key in the wrong role is
    /// a configuration error, reported rather than silently not counted. A witness listed
    /// twice counts once. `expected_origin: None` skips the origin check; pass `Some` unless
    /// the key is known to sign a single origin. The returned checkpoint is parsed from the
    /// verified note text; witnesses are listed in the order given.
    pub fn verify(
        &self,
        log_key: &VerifierKey,
        expected_origin: Option<&str>,
        witnesses: &[VerifierKey],
        quorum: usize,
    ) -> Result<VerifiedCheckpoint, CheckpointError> {
        if log_key.alg() != ALG_ED25519 {
            return Err(CheckpointError::LogKeyAlgorithm {
                name: log_key.name().to_owned(),
                alg: log_key.alg(),
            });
        }
        if let Some(w) = witnesses.iter().find(|w| w.alg() != ALG_COSIGNATURE_V1) {
            return Err(CheckpointError::WitnessKeyAlgorithm {
                name: w.name().to_owned(),
                alg: w.alg(),
            });
        }
        let checkpoint = Checkpoint::parse_text(self.note.text())?;

        match self.note.verify(&[log_key]) {
            Ok(_) => {}
            Err(NoteError::Unverified) => return Err(CheckpointError::MissingLogSignature),
            Err(NoteError::InvalidSignature { .. }) => {
                return Err(CheckpointError::InvalidSignature)
            }
            Err(e) => return Err(e.into()),
        }

        if let Some(expected) = expected_origin {
            if checkpoint.origin != expected {
                return Err(CheckpointError::OriginMismatch {
                    expected: expected.to_owned(),
                    got: checkpoint.origin,
                });
            }
        }

        let mut unique: Vec<&VerifierKey> = Vec::new();
        for w in witnesses {
            if !unique.contains(&w) {
                unique.push(w);
            }
        }
        let cosigners: Vec<CosignatureVerifier> = unique
            .iter()
            .map(|w| CosignatureVerifier((*w).clone()))
            .collect();
        let dyns: Vec<&dyn Verifier> = cosigners.iter().map(|c| c as &dyn Verifier).collect();
        let verified = match self.note.verify(&dyns) {
            Ok(indices) => indices,
            Err(NoteError::Unverified) => Vec::new(),
            Err(NoteError::InvalidSignature { name }) => {
                return Err(CheckpointError::InvalidCosignature { name })
            }
            Err(e) => return Err(e.into()),
        };
        let cosigned: Vec<WitnessCosignature> = verified
            .iter()
            .filter_map(|&i| {
                let key = *unique.get(i)?;
                let line = self.note.find_signature(key.name(), key.key_id())?;
                Some(WitnessCosignature {
                    key: key.clone(),
                    timestamp: cosignature::timestamp(line)?,
                })
            })
            .collect();
        if cosigned.len() < quorum {
            return Err(CheckpointError::WitnessQuorum {
                have: cosigned.len(),
                need: quorum,
            });
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            note: self.note.clone(),
            witnesses: cosigned,
        })
    }
}

/// A checkpoint whose log signature, origin and witness quorum were checked.
#[derive(Clone, Debug)]
pub struct VerifiedCheckpoint {
    /// Parsed from the verified note text.
    pub checkpoint: Checkpoint,
    /// The note as verified, including lines from keys that were not checked.
    pub note: Note,
    /// The listed witnesses whose cosignatures verified, once each.
    pub witnesses: Vec<WitnessCosignature>,
}

/// A witness whose cosignature/v1 on the checkpoint verified, and the time it signed at.
#[derive(Clone, Debug)]
pub struct WitnessCosignature {
    /// The witness's type 0x04 key.
    pub key: VerifierKey,
    /// The cosignature's timestamp, POSIX seconds (not checked against any clock).
    pub timestamp: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSignature;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/signed-note.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    const ROOT: &str = "HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn log_key() -> SignerKey {
        SignerKey::from_seed("example.org/log", [0x22; 32]).unwrap()
    }

    /// The cosignature vector's witness.
    fn witness(v: &Value) -> SignerKey {
        let c = &v["cosignature_v1"];
        let seed: [u8; 32] = hex::decode(c["cosigner_seed_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        SignerKey::from_seed("example.org/witness", seed).unwrap()
    }

    /// The cosignature vector's checkpoint, signed by `log_key()`, with the vector's
    /// cosignature line and its must-ignore lines.
    fn cosigned(v: &Value) -> SignedCheckpoint {
        let c = &v["cosignature_v1"];
        let cp = Checkpoint::parse_text(c["checkpoint_text"].as_str().unwrap()).unwrap();
        let mut signed = SignedCheckpoint::sign(cp, &log_key()).unwrap();
        let mut lines = vec![c["signature_line"].as_str().unwrap()];
        for l in c["must_ignore_lines"].as_array().unwrap() {
            lines.push(l.as_str().unwrap());
        }
        for l in lines {
            signed
                .note
                .add_signature(NoteSignature::from_line(l).unwrap());
        }
        assert_eq!(signed.note.signatures().len(), 4);
        SignedCheckpoint::parse(&signed.to_bytes()).unwrap()
    }

    #[test]
    fn vector_sum_golang_org() {
        let v = vectors();
        let case = &v["valid_notes"][2];
        let key =
            VerifierKey::parse(v["keys"]["sum.golang.org"]["verifier"].as_str().unwrap()).unwrap();
        let bytes = case["note"].as_str().unwrap().as_bytes();
        let signed = SignedCheckpoint::parse(bytes).unwrap();
        let want = &case["checkpoint"];
        assert_eq!(signed.checkpoint.origin, want["origin"].as_str().unwrap());
        assert_eq!(signed.checkpoint.size, want["size"].as_u64().unwrap());
        assert_eq!(
            signed.checkpoint.root.to_base64(),
            want["root"].as_str().unwrap()
        );
        assert!(signed.checkpoint.extensions.is_empty());
        assert_eq!(signed.to_bytes(), bytes);
        assert_eq!(signed.checkpoint.to_text(), signed.note.text());

        let ok = signed
            .verify(&key, Some("go.sum database tree"), &[], 0)
            .unwrap();
        assert_eq!(ok.checkpoint, signed.checkpoint);
        assert!(ok.witnesses.is_empty());
        // The key's name is not the origin.
        assert_eq!(
            signed
                .verify(&key, Some("sum.golang.org"), &[], 0)
                .unwrap_err(),
            CheckpointError::OriginMismatch {
                expected: "sum.golang.org".into(),
                got: "go.sum database tree".into()
            }
        );
        // No witnesses listed: any quorum above zero fails.
        assert_eq!(
            signed.verify(&key, None, &[], 1).unwrap_err(),
            CheckpointError::WitnessQuorum { have: 0, need: 1 }
        );
        // Another log's key: its line is unknown, so the log signature is missing.
        let other =
            VerifierKey::parse(v["keys"]["PeterNeumann"]["verifier"].as_str().unwrap()).unwrap();
        assert_eq!(
            signed.verify(&other, None, &[], 0).unwrap_err(),
            CheckpointError::MissingLogSignature
        );
        // A tampered size.
        let bad = case["note"]
            .as_str()
            .unwrap()
            .replacen("30055305", "30055306", 1);
        let bad = SignedCheckpoint::parse(bad.as_bytes()).unwrap();
        assert_eq!(
            bad.verify(&key, None, &[], 0).unwrap_err(),
            CheckpointError::InvalidSignature
        );
    }

    #[test]
    fn vector_cosignature_on_checkpoint() {
        let v = vectors();
        let signed = cosigned(&v);
        let log = log_key().verifier_key();
        let w = witness(&v).verifier_key_for(ALG_COSIGNATURE_V1);
        assert_eq!(
            w.to_string(),
            v["cosignature_v1"]["cosigner_verifier"].as_str().unwrap()
        );
        let ok = signed
            .verify(&log, Some("example.org/log"), std::slice::from_ref(&w), 1)
            .unwrap();
        assert_eq!(ok.witnesses.len(), 1);
        assert_eq!(ok.witnesses[0].key, w);
        assert_eq!(ok.witnesses[0].timestamp, 1234);
        assert_eq!(ok.checkpoint.size, 10);
        assert_eq!(ok.note, signed.note);

        // The same witness listed twice counts once.
        let twice = [w.clone(), w.clone()];
        assert_eq!(
            signed
                .verify(&log, None, &twice, 1)
                .unwrap()
                .witnesses
                .len(),
            1
        );
        assert_eq!(
            signed.verify(&log, None, &twice, 2).unwrap_err(),
            CheckpointError::WitnessQuorum { have: 1, need: 2 }
        );
        // A listed witness that did not cosign does not count, and is not an error.
        let absent = SignerKey::from_seed("example.org/w2", [3; 32])
            .unwrap()
            .verifier_key_for(ALG_COSIGNATURE_V1);
        let both = [absent.clone(), w.clone()];
        let ok = signed.verify(&log, None, &both, 1).unwrap();
        assert_eq!(ok.witnesses.len(), 1);
        assert_eq!(
            signed.verify(&log, None, &both, 2).unwrap_err(),
            CheckpointError::WitnessQuorum { have: 1, need: 2 }
        );

        // Only the must-ignore lines: verified log signature, zero witnesses.
        let mut only_ignored =
            SignedCheckpoint::sign(signed.checkpoint.clone(), &log_key()).unwrap();
        for l in v["cosignature_v1"]["must_ignore_lines"].as_array().unwrap() {
            only_ignored
                .note
                .add_signature(NoteSignature::from_line(l.as_str().unwrap()).unwrap());
        }
        assert!(only_ignored
            .verify(&log, None, std::slice::from_ref(&w), 0)
            .unwrap()
            .witnesses
            .is_empty());
        assert_eq!(
            only_ignored
                .verify(&log, None, std::slice::from_ref(&w), 1)
                .unwrap_err(),
            CheckpointError::WitnessQuorum { have: 0, need: 1 }
        );
    }

    #[test]
    fn invalid_cosignature_and_wrong_key_types() {
        let v = vectors();
        let signed = cosigned(&v);
        let log = log_key().verifier_key();
        let ws = witness(&v);
        let w = ws.verifier_key_for(ALG_COSIGNATURE_V1);

        // A cosignature over another timestamp's message, under the right key ID.
        let mut bad = signed.clone();
        let mut line = cosignature::cosign(signed.note.text(), &ws, 1234);
        line.sig[7] = 0xd3; // timestamp 1235, signature for 1234
        bad.note.add_signature(line);
        assert_eq!(
            bad.verify(&log, None, std::slice::from_ref(&w), 0)
                .unwrap_err(),
            CheckpointError::InvalidCosignature {
                name: "example.org/witness".into()
            }
        );
        // ...but ignored when that witness is not listed.
        assert!(bad.verify(&log, None, &[], 0).is_ok());

        // A type 0x01 key passed as a witness is a configuration error.
        assert_eq!(
            signed
                .verify(&log, None, &[ws.verifier_key()], 0)
                .unwrap_err(),
            CheckpointError::WitnessKeyAlgorithm {
                name: "example.org/witness".into(),
                alg: ALG_ED25519
            }
        );
        // So is a type 0x04 key passed as the log key.
        assert!(matches!(
            signed.verify(&w, None, &[], 0),
            Err(CheckpointError::LogKeyAlgorithm {
                alg: ALG_COSIGNATURE_V1,
                ..
            })
        ));
        // The log signature missing entirely.
        let mut unsigned = Note::new(signed.note.text()).unwrap();
        unsigned.add_signature(signed.note.signatures()[1].clone());
        let no_log = SignedCheckpoint::parse(&unsigned.to_bytes()).unwrap();
        assert_eq!(
            no_log
                .verify(&log, None, std::slice::from_ref(&w), 1)
                .unwrap_err(),
            CheckpointError::MissingLogSignature
        );
        // A stale `checkpoint` field is not what verify returns.
        let mut edited = signed.clone();
        edited.checkpoint.size = 11;
        let ok = edited.verify(&log, None, &[w], 1).unwrap();
        assert_eq!(ok.checkpoint.size, 10);
    }

    #[test]
    fn text_rejections() {
        let good = format!("example.org/log\n10\n{ROOT}\n");
        let cp = Checkpoint::parse_text(&good).unwrap();
        assert_eq!(cp.to_text(), good);
        let root31 = crate::b64::encode([0u8; 31]);
        let root33 = crate::b64::encode([0u8; 33]);
        let size_cases = [
            "01",
            "00",
            "-1",
            "+1",
            "18446744073709551616",
            " 1",
            "1 ",
            "",
            "1e3",
            "0x1",
            "١",
        ];
        for size in size_cases {
            let t = format!("example.org/log\n{size}\n{ROOT}\n");
            assert_eq!(
                Checkpoint::parse_text(&t),
                Err(CheckpointError::MalformedSize),
                "{size:?}"
            );
        }
        for root in [
            root31.as_str(),
            root33.as_str(),
            "HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
            "HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_=",
            "",
        ] {
            let t = format!("example.org/log\n10\n{root}\n");
            assert_eq!(
                Checkpoint::parse_text(&t),
                Err(CheckpointError::MalformedRoot),
                "{root:?}"
            );
        }
        let cases: Vec<(String, CheckpointError)> = vec![
            (
                good.trim_end().to_owned(),
                CheckpointError::MissingFinalNewline,
            ),
            (String::new(), CheckpointError::MissingFinalNewline),
            (
                "example.org/log\n10\n".into(),
                CheckpointError::TooFewLines { lines: 2 },
            ),
            ("\n".into(), CheckpointError::TooFewLines { lines: 1 }),
            (format!("\n10\n{ROOT}\n"), CheckpointError::EmptyOrigin),
            (
                format!("{good}\n"),
                CheckpointError::EmptyExtensionLine { line: 4 },
            ),
            (
                format!("{good}ext\n\nmore\n"),
                CheckpointError::EmptyExtensionLine { line: 5 },
            ),
            (
                format!("example.org/log\r\n10\n{ROOT}\n"),
                CheckpointError::ControlCharacter { line: 1, code: 13 },
            ),
            (
                format!("{good}a\tb\n"),
                CheckpointError::ControlCharacter { line: 4, code: 9 },
            ),
            (
                format!("{good}{}", "x\n".repeat(MAX_EXTENSION_LINES + 1)),
                CheckpointError::TooManyExtensionLines {
                    max: MAX_EXTENSION_LINES,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse_text(&text), Err(want), "{text:?}");
        }
        // Edge sizes that are valid.
        for (s, n) in [("0", 0u64), ("18446744073709551615", u64::MAX)] {
            let t = format!("o\n{s}\n{ROOT}\n");
            assert_eq!(Checkpoint::parse_text(&t).unwrap().size, n);
        }
        // Origins are opaque: spaces and '+' are allowed.
        assert!(Checkpoint::parse_text(&format!("go.sum database tree+x\n1\n{ROOT}\n")).is_ok());
    }

    #[test]
    fn extensions_round_trip() {
        let exts: Vec<String> = (0..MAX_EXTENSION_LINES)
            .map(|i| format!("ext {i} \u{2014} +/="))
            .collect();
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 70000,
            root: Hash::from_base64(ROOT).unwrap(),
            extensions: exts,
        };
        let text = cp.to_text();
        assert_eq!(Checkpoint::parse_text(&text).unwrap(), cp);
        let log = log_key();
        let v = vectors();
        let ws = witness(&v);
        let mut signed = SignedCheckpoint::sign(cp.clone(), &log).unwrap();
        signed
            .note
            .add_signature(cosignature::cosign(&text, &ws, 1_700_000_000));
        let bytes = signed.to_bytes();
        let parsed = SignedCheckpoint::parse(&bytes).unwrap();
        assert_eq!(parsed.checkpoint, cp);
        assert_eq!(parsed.to_bytes(), bytes);
        let ok = parsed
            .verify(
                &log.verifier_key(),
                Some("example.org/log"),
                &[ws.verifier_key_for(ALG_COSIGNATURE_V1)],
                1,
            )
            .unwrap();
        assert_eq!(ok.checkpoint.extensions.len(), MAX_EXTENSION_LINES);
        assert_eq!(ok.witnesses[0].timestamp, 1_700_000_000);
        // Dropping an extension line breaks both signatures.
        let shorter = String::from_utf8(bytes)
            .unwrap()
            .replacen("ext 3 \u{2014} +/=\n", "", 1);
        let tampered = SignedCheckpoint::parse(shorter.as_bytes()).unwrap();
        assert_eq!(
            tampered
                .verify(&log.verifier_key(), None, &[], 0)
                .unwrap_err(),
            CheckpointError::InvalidSignature
        );
    }

    #[test]
    fn sign_validates_fields() {
        let root = Hash::from_base64(ROOT).unwrap();
        let base = Checkpoint {
            origin: "o".into(),
            size: 1,
            root,
            extensions: vec![],
        };
        let bad = [
            (
                Checkpoint {
                    origin: String::new(),
                    ..base.clone()
                },
                CheckpointError::EmptyOrigin,
            ),
            (
                Checkpoint {
                    origin: "o\n2".into(),
                    ..base.clone()
                },
                CheckpointError::ControlCharacter { line: 1, code: 10 },
            ),
            (
                Checkpoint {
                    extensions: vec![String::new()],
                    ..base.clone()
                },
                CheckpointError::EmptyExtensionLine { line: 4 },
            ),
            (
                Checkpoint {
                    extensions: vec!["a\nb".into()],
                    ..base.clone()
                },
                CheckpointError::ControlCharacter { line: 4, code: 10 },
            ),
            (
                Checkpoint {
                    extensions: vec!["x".into(); MAX_EXTENSION_LINES + 1],
                    ..base.clone()
                },
                CheckpointError::TooManyExtensionLines {
                    max: MAX_EXTENSION_LINES,
                },
            ),
        ];
        for (cp, want) in bad {
            assert_eq!(SignedCheckpoint::sign(cp, &log_key()).unwrap_err(), want);
        }
        let signed = SignedCheckpoint::sign(base.clone(), &log_key()).unwrap();
        assert_eq!(
            signed.note.text(),
            "o\n1\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        );
        assert!(signed
            .verify(&log_key().verifier_key(), Some("o"), &[], 0)
            .is_ok());
    }

    #[test]
    fn parse_propagates_note_errors() {
        let good = format!("example.org/log\n10\n{ROOT}\n");
        assert_eq!(
            SignedCheckpoint::parse(good.as_bytes()).unwrap_err(),
            CheckpointError::Note(NoteError::NoSignatures)
        );
        // A well-formed note whose text is not a checkpoint.
        let mut note = Note::new("hello\n").unwrap();
        note.sign(&log_key());
        assert_eq!(
            SignedCheckpoint::parse(&note.to_bytes()).unwrap_err(),
            CheckpointError::TooFewLines { lines: 1 }
        );
    }
}
