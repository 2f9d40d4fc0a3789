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
