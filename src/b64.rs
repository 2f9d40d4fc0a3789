//! Standard, padded, canonical base64 (RFC 4648 §4), the only encoding C2SP formats use.
//!
//! The `base64` crate's `STANDARD` engine already requires canonical padding and rejects
//! non-zero trailing bits, URL-safe characters and whitespace; this module names that choice
//! once so that no caller reaches for a lenient engine by accident.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

pub use base64::DecodeError;

/// Decodes canonical standard base64; anything Go's encoder would not emit is rejected.
pub fn decode_canonical(s: &str) -> Result<Vec<u8>, DecodeError> {
    STANDARD.decode(s)
}

/// Encodes as standard padded base64.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}
