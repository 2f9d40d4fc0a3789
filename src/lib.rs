//! fwlog: a transparency log of firmware releases and their independent reproductions, kept in a
//! Git repository.
//!
//! Data flows one way: entry bytes → leaf hash ([`merkle`]) → tiles ([`tiles`]) → signed
//! checkpoint ([`checkpoint`], [`note`]) → Git commit. Verification runs the same path
//! backwards. Each module implements one specification:
//!
//! | module | specification |
//! |---|---|
//! | [`merkle`] | RFC 9162 §2.1 Merkle trees, inclusion and consistency proofs |
//! | [`note`] | C2SP signed-note, Ed25519 keys in Go `note` string form |
//! | [`ed25519`] | RFC 8032 Ed25519 verification, strict (canonical `S`, no small-order `R` or `A`) |
//! | [`checkpoint`] | C2SP tlog-checkpoint |
//! | [`cosignature`] | C2SP tlog-cosignature/v1 (witness cosignatures, type 0x04) |
//! | [`tiles`] | C2SP tlog-tiles: paths, tile maths, entry bundles |
//! | [`proof`] | C2SP tlog-proof: offline single-leaf inclusion proofs |
//!
//! `log-format.md` at the repository root is the normative description of every byte.

pub mod audit;
pub mod b64;
pub mod bundle;
pub mod catalog;
pub mod checkpoint;
pub mod cosignature;
pub mod ed25519;
pub mod entry;
pub mod fsutil;
pub mod gitpack;
pub mod leaf_index;
pub mod measure;
pub mod merkle;
pub mod monitor;
pub mod note;
pub mod parse;
pub mod policy;
pub mod proof;
pub mod rebuild;
pub mod store;
pub mod tiles;
pub mod witness;

/// libgit2 inflates every Git object it reads, and deflates what it writes, through the C zlib
/// API, which would otherwise be the system's zlib. These references link zlib-rs's
/// implementation of that API (libz-rs-sys, feature `export-symbols`) into every binary built
/// on this crate: the linker then resolves all of libgit2's zlib calls to it, never to the
/// system library, so that one implementation serves them all (`tests/zlib_link.rs` checks the
/// binary asks the system for none). zlib-rs inflates faster: `fwlog log verify` of a 101k-entry
/// log took 3.24 s instead of 3.40 s. These are the seven functions libgit2 calls.
mod zlib_link {
    use std::ffi::{c_char, c_int, c_uint, c_ulong};

    use libz_rs_sys as z;

    #[used]
    static INFLATE_INIT: unsafe extern "C" fn(z::z_streamp, *const c_char, c_int) -> c_int =
        z::inflateInit_;
    #[used]
    static INFLATE: unsafe extern "C" fn(z::z_streamp, i32) -> i32 = z::inflate;
    #[used]
    static INFLATE_END: unsafe extern "C" fn(z::z_streamp) -> i32 = z::inflateEnd;
    #[used]
    static DEFLATE_INIT: unsafe extern "C" fn(z::z_streamp, c_int, *const c_char, c_int) -> c_int =
        z::deflateInit_;
    #[used]
    static DEFLATE: unsafe extern "C" fn(z::z_streamp, c_int) -> c_int = z::deflate;
    #[used]
    static DEFLATE_END: unsafe extern "C" fn(z::z_streamp) -> i32 = z::deflateEnd;
    #[used]
    static CRC32: unsafe extern "C" fn(c_ulong, *const u8, c_uint) -> c_ulong = z::crc32;
}
