//! The in-toto Statement v1 layer (<https://github.com/in-toto/attestation>, `spec/v1`), and
//! the strict lexical rules every fwlog predicate shares: digest sets, subject names, free
//! text, RFC 3339 timestamps.
//!
//! A statement is
//!
//! ```json
//! {"_type":"https://in-toto.io/Statement/v1","subject":[{"name":…,"digest":{"sha256":…}}],
//!  "predicateType":"<URI>","predicate":{…}}
//! ```
//!
//! Parsing is strict where the in-toto spec is lenient: unknown fields and duplicate keys are
//! rejected at every level, JSON arrays are never accepted where an object is expected (serde
//! would otherwise read a struct from an array), optional fields must be absent rather than
//! `null`, and every subject must carry a SHA-256 digest.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::EntryError;

/// The `_type` of every statement: in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// Longest subject (artifact file) name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// Latest timestamp `YYYY-MM-DDTHH:MM:SSZ` can express: 9999-12-31T23:59:59Z.
pub const MAX_TIMESTAMP: u64 = 253_402_300_799;

/// Digest algorithms whose value length is checked (hex digits).
const KNOWN_DIGESTS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

// ---------------------------------------------------------------------------------------------
// Strict serde building blocks, shared by the predicates.

/// A value that must be a JSON object. serde's derived `Deserialize` for structs also accepts a
/// JSON array of the field values; wrapping a struct in `Obj` refuses that, so that one value
/// has one encoding. Serialises transparently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Obj<T>(pub T);

impl<T: Serialize> Serialize for Obj<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjVisitor(PhantomData)).map(Obj)
    }
}

/// A JSON object of string values that rejects duplicate keys (serde_json's own maps keep the
/// last value silently). Used for `digest` and `env`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct StrictMap(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for StrictMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = StrictMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if out.contains_key(&k) {
                        return Err(de::Error::custom(format_args!("duplicate key `{k}`")));
                    }
                    out.insert(k, v);
                }
                Ok(StrictMap(out))
            }
        }
        d.deserialize_map(MapVisitor)
    }
}

/// `deserialize_with` for optional string fields: when the key is present its value must be a
/// string (`null` is refused); absence gives `None` through `#[serde(default)]`.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// The statement as it appears on the wire, generic in the predicate.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireStatement<P> {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Obj<WireSubject>>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: P,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSubject {
    name: String,
    digest: StrictMap,
}

// ---------------------------------------------------------------------------------------------
// Public statement types.

/// A validated in-toto digest set: lowercase algorithm names to lowercase hex.
///
/// `sha256`, `sha384` and `sha512` must have their exact lengths; other algorithms must be named
/// `[a-z0-9-]+` with non-empty, even-length lowercase hex values and are kept unchecked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestSet(BTreeMap<String, String>);

impl DigestSet {
    /// Validates every pair; the first bad one is [`EntryError::Digest`].
    pub fn from_map(map: BTreeMap<String, String>) -> Result<DigestSet, EntryError> {
        for (alg, value) in &map {
            check_digest(alg, value)?;
        }
        Ok(DigestSet(map))
    }

    /// The hex value for `alg`, if present.
    pub fn get(&self, alg: &str) -> Option<&str> {
        self.0.get(alg).map(String::as_str)
    }

    /// The decoded SHA-256 digest, if present (it was length-checked on construction).
    pub fn sha256(&self) -> Option<[u8; 32]> {
        self.get("sha256").and_then(lower_hex)
    }

    /// The decoded SHA-384 digest, if present.
    pub fn sha384(&self) -> Option<[u8; 48]> {
        self.get("sha384").and_then(lower_hex)
    }

    /// Algorithm names, sorted.
    pub fn algorithms(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The underlying sorted map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// One statement subject: an artifact name and its digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// An artifact file name (see [`check_name`]).
    pub name: String,
    /// Its digests; always holds at least `sha256`.
    pub digest: DigestSet,
}

/// Reads `_type` and `predicateType` of a statement without interpreting the predicate, to
/// choose the predicate parser. The subjects are checked here already.
pub fn predicate_type(statement: &[u8]) -> Result<String, EntryError> {
    let wire: WireStatement<IgnoredAny> = from_json(statement)?;
    check_statement_head(&wire)?;
    Ok(wire.predicate_type)
}

/// Parses a statement whose predicate must be of type `expected` into validated subjects and
/// the wire form of the predicate.
pub(crate) fn parse<P: DeserializeOwned>(
    statement: &[u8],
    expected: &str,
) -> Result<(Vec<Subject>, P), EntryError> {
    let wire: WireStatement<Obj<P>> = from_json(statement)?;
    let subjects = check_statement_head(&wire)?;
    if wire.predicate_type != expected {
        return Err(EntryError::PredicateTypeMismatch {
            expected: expected.to_string(),
            got: wire.predicate_type,
        });
    }
    Ok((subjects, wire.predicate.0))
}

/// Writes a statement, compact, fields in the order `_type`, `subject`, `predicateType`,
/// `predicate`. The caller validated everything; the subjects are checked again so that the
/// writer never emits what [`parse`] rejects.
pub(crate) fn write<P: Serialize>(
    subjects: &[Subject],
    predicate_type: &str,
    predicate: &P,
) -> Result<Vec<u8>, EntryError> {
    check_subjects(subjects)?;
    let wire = WireStatement {
        type_: STATEMENT_TYPE.to_string(),
        subject: subjects
            .iter()
            .map(|s| {
                Obj(WireSubject {
                    name: s.name.clone(),
                    digest: StrictMap(s.digest.0.clone()),
                })
            })
            .collect(),
        predicate_type: predicate_type.to_string(),
        predicate: Obj(predicate),
    };
    serde_json::to_vec(&wire).map_err(|e| EntryError::Serialize(e.to_string()))
}

/// Strict JSON of a statement: one object, nothing after it but JSON white space.
fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EntryError> {
    serde_json::from_slice::<Obj<T>>(bytes)
        .map(|o| o.0)
        .map_err(|e| EntryError::MalformedStatement(e.to_string()))
}

fn check_statement_head<P>(wire: &WireStatement<P>) -> Result<Vec<Subject>, EntryError> {
    if wire.type_ != STATEMENT_TYPE {
        return Err(EntryError::StatementType(wire.type_.clone()));
    }
    let subjects = wire
        .subject
        .iter()
        .map(|s| {
            Ok(Subject {
                name: s.0.name.clone(),
                digest: DigestSet::from_map(s.0.digest.0.clone())?,
            })
        })
        .collect::<Result<Vec<_>, EntryError>>()?;
    check_subjects(&subjects)?;
    Ok(subjects)
}

/// At least one subject; names valid and unique; each has a SHA-256 digest.
fn check_subjects(subjects: &[Subject]) -> Result<(), EntryError> {
    if subjects.is_empty() {
        return Err(EntryError::NoSubjects);
    }
    check_unique_names(subjects.iter().map(|s| s.name.as_str()))?;
    for s in subjects {
        // DigestSet values are valid by construction.
        if s.digest.get("sha256").is_none() {
            return Err(EntryError::MissingDigest {
                name: s.name.clone(),
                alg: "sha256",
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Lexical rules.

/// Checks one digest pair: see [`DigestSet`].
pub fn check_digest(alg: &str, value: &str) -> Result<(), EntryError> {
    let bad = |reason: &'static str| EntryError::Digest {
        alg: alg.to_string(),
        reason,
    };
    if alg.is_empty()
        || !alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad("algorithm name must match [a-z0-9-]+"));
    }
    if !is_lower_hex(value.as_bytes()) {
        return Err(bad("value must be lowercase hex"));
    }
    match KNOWN_DIGESTS.iter().find(|(name, _)| *name == alg) {
        Some(&(_, len)) if value.len() != len => Err(bad("value has the wrong length")),
        None if value.is_empty() || !value.len().is_multiple_of(2) => {
            Err(bad("value must be a non-empty, even number of hex digits"))
        }
        _ => Ok(()),
    }
}

/// The value of each lowercase hex digit; `0xff` for every other byte. Digests are a good part
/// of every statement, so they are checked and decoded in one table-driven pass.
const LOWER_HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Whether every byte is a lowercase hex digit.
fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|&b| LOWER_HEX[usize::from(b)] != 0xff)
}

/// Decodes exactly `2·N` lowercase hex digits.
pub fn lower_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let &[hi, lo] = pair else {
            return None;
        };
        let (hi, lo) = (LOWER_HEX[usize::from(hi)], LOWER_HEX[usize::from(lo)]);
        if (hi | lo) & 0xf0 != 0 {
            return None;
        }
        *o = hi << 4 | lo;
    }
    Some(out)
}

/// An artifact (subject) name: non-empty, at most 255 bytes, no control characters, no `/` or
/// `\`, not `.` or `..`. Names are printed and compared, never used as paths, but must be safe
/// for both.
pub fn check_name(name: &str) -> Result<(), EntryError> {
    let bad = |reason: &'static str| EntryError::Name {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        Err(bad("empty"))
    } else if name.len() > MAX_NAME_BYTES {
        Err(bad("longer than 255 bytes"))
    } else if name.chars().any(char::is_control) {
        Err(bad("contains a control character"))
    } else if name.contains(['/', '\\']) {
        Err(bad("contains a slash or backslash"))
    } else if name == "." || name == ".." {
        Err(bad("is . or .."))
    } else {
        Ok(())
    }
}

/// Every name valid ([`check_name`]) and no name twice.
pub fn check_unique_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), EntryError> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        check_name(name)?;
        if !seen.insert(name) {
            return Err(EntryError::DuplicateName(name.to_string()));
        }
    }
    Ok(())
}

/// Free text (descriptions, notes): at most `max` bytes, no control characters but `'\n'`.
pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), EntryError> {
    if s.len() > max {
        return Err(EntryError::Text {
            field,
            reason: "too long",
        });
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(EntryError::Text {
            field,
            reason: "control character other than newline",
        });
    }
    Ok(())
}

/// A short token (URI, image reference, snapshot id, version): 1..=`max` bytes of printable
/// ASCII without spaces.
pub fn check_token(field: &'static str, s: &str, max: usize) -> Result<(), EntryError> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(EntryError::Text {
            field,
            reason: "must be 1 to the limit of bytes of printable ASCII without spaces",
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 UTC timestamps, exactly `YYYY-MM-DDTHH:MM:SSZ`.

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`. Only values up to [`MAX_TIMESTAMP`] have
/// four-digit years and parse back; the entry writers refuse larger ones.
pub fn rfc3339_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // days <= u64::MAX / 86400 < 2^48, far inside i64.
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` (years 1970–9999, real calendar dates, seconds 0–59:
/// no leap seconds, no fractions, no offsets) into Unix seconds.
pub fn parse_rfc3339_utc(s: &str) -> Option<u64> {
    // A fixed-size array: the constant indices below cannot panic.
    let b: &[u8; 20] = s.as_bytes().try_into().ok()?;
    if b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if y < 1970 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    u64::try_from(secs).ok()
}

/// Checks a timestamp field before writing.
pub(crate) fn check_timestamp(field: &'static str, t: u64) -> Result<(), EntryError> {
    if t > MAX_TIMESTAMP {
        return Err(EntryError::Timestamp {
            field,
            value: t.to_string(),
        });
    }
    Ok(())
}

/// Parses a timestamp field.
pub(crate) fn timestamp(field: &'static str, s: &str) -> Result<u64, EntryError> {
    parse_rfc3339_utc(s).ok_or_else(|| EntryError::Timestamp {
        field,
        value: s.to_string(),
    })
}

fn is_leap(y: u32) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`] for days >= 0.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_match_known_dates() {
        for (t, s) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (1_795_694_400, "2026-11-26T12:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (MAX_TIMESTAMP, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339_utc(t), s);
            assert_eq!(parse_rfc3339_utc(s), Some(t), "{s}");
        }
        // Every day boundary over several 400-year cycles round-trips.
        let mut t = 0;
        while t <= MAX_TIMESTAMP {
            assert_eq!(parse_rfc3339_utc(&rfc3339_utc(t)), Some(t));
            t += 86_400 * 7 + 3_601;
        }
        assert!(rfc3339_utc(u64::MAX).len() > 20);
    }

    #[test]
    fn malformed_timestamps_rejected() {
        for bad in [
            "",
            "2026-11-26T12:00:00",
            "2026-11-26T12:00:00z",
            "2026-11-26t12:00:00Z",
            "2026-11-26 12:00:00Z",
            "2026-11-26T12:00:00.5Z",
            "2026-11-26T12:00:00+00:00",
            "2026-11-26T12:00:60Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T12:60:00Z",
            "2026-13-26T12:00:00Z",
            "2026-00-26T12:00:00Z",
            "2026-11-00T12:00:00Z",
            "2026-11-31T12:00:00Z",
            "2025-02-29T12:00:00Z",
            "2100-02-29T12:00:00Z",
            "1969-12-31T23:59:59Z",
            "+026-11-26T12:00:00Z",
            "2026-1-126T12:00:00Z",
            "２026-11-26T12:00:00Z",
            "10000-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_utc(bad), None, "{bad:?}");
        }
        assert_eq!(parse_rfc3339_utc("2000-02-29T00:00:00Z"), Some(951_782_400));
    }

    #[test]
    fn digests() {
        let h64 = "a".repeat(64);
        assert!(check_digest("sha256", &h64).is_ok());
        assert!(check_digest("sha384", &"0".repeat(96)).is_ok());
        assert!(check_digest("sha512", &"f".repeat(128)).is_ok());
        assert!(check_digest("blake3-x", "00ff").is_ok());
        for (alg, value) in [
            ("sha256", "A".repeat(64)),
            ("sha256", "a".repeat(63)),
            ("sha256", "a".repeat(66)),
            ("sha384", h64.clone()),
            ("sha512", h64.clone()),
            ("SHA256", h64.clone()),
            ("sha_256", h64.clone()),
            ("", h64.clone()),
            ("gitCommit", h64.clone()),
            ("other", String::new()),
            ("other", "abc".into()),
            ("other", "zz".into()),
            ("sha256", format!("{}g", "a".repeat(63))),
        ] {
            assert!(
                matches!(check_digest(alg, &value), Err(EntryError::Digest { .. })),
                "{alg} {value}"
            );
        }
        // Every byte pair, against the definition.
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let lower = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                let want = (lower(a) && lower(b)).then(|| {
                    let v = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                    [v(a) << 4 | v(b)]
                });
                let pair = [a, b];
                let got = std::str::from_utf8(&pair).ok().and_then(lower_hex::<1>);
                if std::str::from_utf8(&pair).is_ok() {
                    assert_eq!(got, want, "{a:#x} {b:#x}");
                }
                assert_eq!(is_lower_hex(&pair), want.is_some());
            }
        }
        assert_eq!(lower_hex::<2>("00ff"), Some([0, 255]));
        assert_eq!(lower_hex::<2>("00FF"), None);
        assert_eq!(lower_hex::<2>("00f"), None);
    }

    #[test]
    fn names() {
        for good in [
            "OVMF.fd",
            "a",
            "…ünïcode",
            "x..y",
            ".hidden",
            &"n".repeat(255),
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "/",
            "a\nb",
            "a\u{7f}",
            "a\u{85}",
            &"n".repeat(256),
        ] {
            assert!(
                matches!(check_name(bad), Err(EntryError::Name { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_unique_names(["a", "b", "a"].into_iter()),
            Err(EntryError::DuplicateName(n)) if n == "a"
        ));
    }

    #[test]
    fn strict_building_blocks() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct S {
            #[allow(dead_code)]
            a: String,
            #[serde(default, deserialize_with = "present")]
            b: Option<String>,
        }
        let ok: Obj<S> = serde_json::from_str(r#"{"a":"x"}"#).unwrap();
        assert_eq!(ok.0.b, None);
        let ok: Obj<S> = serde_json::from_str(r#"{"a":"x","b":"y"}"#).unwrap();
        assert_eq!(ok.0.b.as_deref(), Some("y"));
        for bad in [
            r#"["x"]"#,
            r#"["x","y"]"#,
            r#"{"a":"x","b":null}"#,
            r#"{"a":"x","a":"y"}"#,
            r#"{"a":"x","c":1}"#,
            r#"{"a":"x"} x"#,
        ] {
            assert!(serde_json::from_str::<Obj<S>>(bad).is_err(), "{bad}");
        }
        let m: StrictMap = serde_json::from_str(r#"{"b":"1","a":"2"}"#).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":"2","b":"1"}"#);
        let dup = serde_json::from_str::<StrictMap>(r#"{"a":"1","a":"1"}"#).unwrap_err();
        assert!(dup.to_string().contains("duplicate key `a`"), "{dup}");
        assert!(serde_json::from_str::<StrictMap>(r#"[["a","1"]]"#).is_err());
        assert!(serde_json::from_str::<StrictMap>(r#"{"a":1}"#).is_err());
    }
}
