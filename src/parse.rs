//! Small strict lexical helpers shared by the text formats (checkpoints, proofs, witness
//! requests, commit messages).

/// Parses canonical ASCII decimal: digits only, no sign, no leading zeros except "0" itself,
/// fits in u64. Go's `strconv.ParseUint` is more lenient ("+1" is not accepted, but "01" is);
/// C2SP formats require the canonical form.
pub fn canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::canonical_u64;

    #[test]
    fn canonical_decimal() {
        assert_eq!(canonical_u64("0"), Some(0));
        assert_eq!(canonical_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1e3",
            "٣",
        ] {
            assert_eq!(canonical_u64(bad), None, "{bad:?}");
        }
    }
}
