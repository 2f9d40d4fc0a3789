//! End-to-end tests of the `fwlog` binary's core commands: `key generate`, `key public`,
//! `checkpoint verify` and `proof verify`.
//!
//! Inputs come from the public vectors (`tests/data/vectors/signed-note.json`: Go's sumdb/note
//! keys, a real sum.golang.org checkpoint, sigsum-go's cosignature vector) and from real logs
//! built with `fwlog log init/append/prove`. The library is used only to *make* fixtures
//! (witness cosignatures, extra signature lines); every verification goes through the binary.
//! Hashes and key IDs the tests expect are recomputed here independently (sha2, ed25519-dalek).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use common::{fails, keygen, ok, Log};
use fwlog::checkpoint::{Checkpoint, SignedCheckpoint};
use fwlog::cosignature;
use fwlog::note::{NoteSignature, SignerKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Origin (and key name) of the logs these tests build.
const ORIGIN: &str = "example.com/fw-log";

/// Environment variable the env: key tests use (unique to this file).
const KEY_VAR: &str = "FWLOG_CLI_CORE_TEST_KEY";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/vectors/signed-note.json"
    );
    serde_json::from_str(&fs::read_to_string(path).expect("read vectors")).expect("parse vectors")
}

/// A string field of the vectors by JSON pointer.
fn vs<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector {pointer} missing"))
}

/// Asserts the failure contract: exactly one line on stderr, starting with `fwlog: `, no panic.
/// Returns the line without its newline.
fn assert_one_line(stderr: &str, what: &str) -> String {
    assert!(!stderr.contains("panicked"), "{what}: panicked:\n{stderr}");
    assert!(
        stderr.starts_with("fwlog: "),
        "{what}: stderr does not start with `fwlog: `: {stderr:?}"
    );
    assert!(
        stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
        "{what}: stderr is not exactly one line: {stderr:?}"
    );
    stderr.trim_end_matches('\n').to_string()
}

/// Runs fwlog, asserts it fails with one `fwlog: ` line on stderr; returns that line.
fn fail1(dir: &Path, args: &[&str]) -> String {
    let stderr = fails(dir, args);
    assert_one_line(&stderr, &format!("fwlog {args:?}"))
}

/// Like [`fail1`], and the line must contain `needle`.
fn fail_with(dir: &Path, args: &[&str], needle: &str) -> String {
    let line = fail1(dir, args);
    assert!(
        line.contains(needle),
        "fwlog {args:?}: expected {needle:?} in {line:?}"
    );
    line
}

/// Runs fwlog in `dir` with extra environment variables set and others removed.
fn fwlog_env(dir: &Path, args: &[&str], set: &[(&str, &str)], unset: &[&str]) -> Output {
    let mut cmd = Command::new(common::bin());
    cmd.args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "fwlog test")
        .env("GIT_AUTHOR_EMAIL", "test@fwlog.invalid")
        .env("GIT_COMMITTER_NAME", "fwlog test")
        .env("GIT_COMMITTER_EMAIL", "test@fwlog.invalid");
    for (k, v) in set {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    cmd.output().expect("run fwlog")
}

fn env_ok(dir: &Path, args: &[&str], set: &[(&str, &str)]) -> String {
    let out = fwlog_env(dir, args, set, &[]);
    assert!(
        out.status.success(),
        "fwlog {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn env_fail1(dir: &Path, args: &[&str], set: &[(&str, &str)], unset: &[&str]) -> String {
    let out = fwlog_env(dir, args, set, unset);
    assert!(
        !out.status.success(),
        "fwlog {args:?} unexpectedly succeeded"
    );
    assert_one_line(
        &String::from_utf8_lossy(&out.stderr),
        &format!("fwlog {args:?}"),
    )
}

fn write_mode(path: &Path, contents: impl AsRef<[u8]>, mode: u32) {
    fs::write(path, contents).expect("write file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn write_private(path: &Path, contents: impl AsRef<[u8]>) {
    write_mode(path, contents, 0o600);
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Key ID computed independently: SHA-256(name || 0x0A || type || public)[:4], as 8 hex digits.
fn key_id_hex(name: &str, alg: u8, public: &[u8]) -> String {
    hex::encode(&sha256(&[name.as_bytes(), &[b'\n', alg], public])[..4])
}

/// Splits a vkey `name+hex+base64` at its first two `+` and decodes the key.
fn split_vkey(vkey: &str) -> (String, String, Vec<u8>) {
    let mut it = vkey.splitn(3, '+');
    let (name, id, key) = (
        it.next().unwrap(),
        it.next().expect("key id"),
        it.next().expect("key"),
    );
    let raw = B64.decode(key).expect("vkey base64");
    assert_eq!(B64.encode(&raw), key, "vkey base64 is canonical");
    (name.to_string(), id.to_string(), raw)
}

/// RFC 9162 leaf hash, computed here.
fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    sha256(&[&[0u8], entry])
}

/// RFC 9162 Merkle tree hash of a list of leaf hashes, computed here.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            sha256(&[&[1u8], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// The bytes `Log::write_entries` writes for entry `i`.
fn entry_bytes(i: usize) -> Vec<u8> {
    format!("entry number {i}\n").into_bytes()
}

/// A log with `n` entries appended in the given batch sizes.
fn log_with_batches(batches: &[usize]) -> Log {
    let log = Log::new(ORIGIN);
    let mut start = 0;
    for &b in batches {
        let names = log.write_entries(start, b);
        log.append(&names);
        start += b;
    }
    log
}

/// 300 entries in five batches of uneven sizes.
fn big_log() -> Log {
    log_with_batches(&[1, 99, 100, 37, 63])
}

/// The log's current checkpoint, read from its branch with git.
fn log_checkpoint(log: &Log) -> String {
    common::git(&log.repo(), &["show", "fwlog:checkpoint"])
}

/// Line 3 of a checkpoint: its root hash in base64.
fn root_line(cp: &str) -> &str {
    cp.lines().nth(2).expect("root line")
}

/// A witness made with the CLI: its signer key (for cosigning fixtures) and 0x04 vkey.
struct Witness {
    key: SignerKey,
    vkey: String,
    /// The type 0x01 vkey of the same seed (a wrong-role key).
    plain_vkey: String,
}

fn witness(dir: &Path, name: &str) -> Witness {
    let file = format!("{}.key", name.replace('/', "_"));
    let plain_vkey = keygen(dir, name, &file);
    let vkey = ok(dir, &["key", "public", "--witness", &file])
        .trim()
        .to_string();
    let text = fs::read_to_string(dir.join(&file)).expect("read witness key");
    let key = SignerKey::parse(&text).expect("parse witness key");
    Witness {
        key,
        vkey,
        plain_vkey,
    }
}

/// Adds cosignatures (witness, timestamp) to a signed checkpoint note.
fn cosign(cp: &[u8], witnesses: &[(&SignerKey, u64)]) -> Vec<u8> {
    let mut signed = SignedCheckpoint::parse(cp).expect("parse checkpoint fixture");
    let text = signed.note.text().to_string();
    for (w, t) in witnesses {
        signed.note.add_signature(cosignature::cosign(&text, w, *t));
    }
    signed.to_bytes()
}

/// Splits a tlog-proof into (head up to and including the blank line, checkpoint note).
fn split_proof(proof: &str) -> (&str, &str) {
    let at = proof.find("\n\n").expect("blank line in proof") + 2;
    proof.split_at(at)
}

/// Borrows owned arguments for `ok`/`fails`.
fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Flips `mask` in byte `i`.
fn flipped(bytes: &[u8], i: usize, mask: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[i] ^= mask;
    b
}

// ---------------------------------------------------------------------------------------------
// 1. key generate / key public
// ---------------------------------------------------------------------------------------------

#[test]
fn key_generate_writes_private_go_format_key() {
    let dir = tempfile::tempdir().unwrap();
    let vkey = keygen(dir.path(), ORIGIN, "log.key");
    let path = dir.path().join("log.key");
    assert_eq!(mode_of(&path), 0o600, "key file mode");

    let content = fs::read_to_string(&path).unwrap();
    assert!(
        content.ends_with('\n') && content.matches('\n').count() == 1,
        "one line ending in a newline: {content:?}"
    );
    let rest = content
        .trim_end_matches('\n')
        .strip_prefix(&format!("PRIVATE+KEY+{ORIGIN}+"))
        .unwrap_or_else(|| panic!("Go signer key prefix: {content:?}"));
    let (id, key_b64) = rest.split_once('+').expect("id+key");
    assert!(
        id.len() == 8
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "8 lowercase hex digits: {id:?}"
    );
    let raw = B64.decode(key_b64).expect("base64 seed");
    assert_eq!(B64.encode(&raw), key_b64, "canonical base64");
    assert_eq!(raw.len(), 33, "type byte + 32-byte seed");
    assert_eq!(raw[0], 0x01, "Ed25519 type byte");

    // stdout of generate == key public FILE, exactly one line.
    let public = ok(dir.path(), &["key", "public", "log.key"]);
    assert_eq!(public, format!("{vkey}\n"));

    // The vkey is the seed's public key under the same name and ID, the ID recomputed here.
    let (name, vid, vraw) = split_vkey(&vkey);
    assert_eq!(name, ORIGIN);
    assert_eq!(vid, id, "signer key ID is the vkey's ID");
    assert_eq!(vraw.len(), 33);
    assert_eq!(vraw[0], 0x01);
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    let public_key = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(
        &vraw[1..],
        public_key.as_bytes(),
        "vkey holds the seed's key"
    );
    assert_eq!(vid, key_id_hex(ORIGIN, 0x01, &vraw[1..]));

    // Two keys are different keys.
    let other = keygen(dir.path(), ORIGIN, "other.key");
    assert_ne!(other, vkey);
}

#[test]
fn key_generate_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), ORIGIN, "log.key");
    let path = dir.path().join("log.key");
    let before = fs::read(&path).unwrap();

    let line = fail_with(
        dir.path(),
        &["key", "generate", "--name", "other", "--out", "log.key"],
        "already exists",
    );
    assert!(line.contains("log.key"), "names the file: {line}");
    assert_eq!(fs::read(&path).unwrap(), before, "key file unchanged");
    assert_eq!(mode_of(&path), 0o600);

    // Any existing file, not only keys; an absolute path too.
    fs::write(dir.path().join("notes.txt"), "precious\n").unwrap();
    let abs = dir.path().join("notes.txt");
    fail_with(
        dir.path(),
        &[
            "key",
            "generate",
            "--name",
            "x",
            "--out",
            abs.to_str().unwrap(),
        ],
        "already exists",
    );
    assert_eq!(fs::read_to_string(&abs).unwrap(), "precious\n");

    // No temporary files left behind.
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["log.key", "notes.txt"]);

    // A directory that does not exist.
    fail1(
        dir.path(),
        &[
            "key",
            "generate",
            "--name",
            "x",
            "--out",
            "no/such/dir/k.key",
        ],
    );
}

#[test]
fn key_generate_does_not_follow_a_dangling_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.key");
    std::os::unix::fs::symlink(&target, dir.path().join("link.key")).unwrap();
    fail_with(
        dir.path(),
        &["key", "generate", "--name", "x", "--out", "link.key"],
        "already exists",
    );
    assert!(!target.exists(), "wrote through the symlink");
}

#[test]
fn key_generate_rejects_invalid_names() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a b", "a+b", "", "a\tb", "a\nb", "+", " lead"] {
        let line = fail_with(
            dir.path(),
            &["key", "generate", "--name", name, "--out", "k.key"],
            "invalid key name",
        );
        assert!(!dir.path().join("k.key").exists(), "{name:?}: file created");
        assert!(line.len() < 300, "short message: {line}");
    }
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn key_public_witness_is_type_4_with_its_own_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let vkey = keygen(dir.path(), "witness.example/w1", "w.key");
    let wkey = ok(dir.path(), &["key", "public", "--witness", "w.key"]);
    assert_eq!(wkey.matches('\n').count(), 1);
    let wkey = wkey.trim();
    let (n1, id1, raw1) = split_vkey(&vkey);
    let (n2, id2, raw2) = split_vkey(wkey);
    assert_eq!(n1, n2, "same name");
    assert_ne!(id1, id2, "the type byte is hashed into the key ID");
    assert_eq!(raw2.len(), 33);
    assert_eq!(raw2[0], 0x04, "cosignature/v1 type byte");
    assert_eq!(raw1[1..], raw2[1..], "same Ed25519 public key");
    assert_eq!(id2, key_id_hex(&n2, 0x04, &raw2[1..]));
    assert_eq!(id1, key_id_hex(&n1, 0x01, &raw1[1..]));
}

// ---------------------------------------------------------------------------------------------
// 2. Go key compatibility, file modes, env: keys
// ---------------------------------------------------------------------------------------------

#[test]
fn go_signer_keys_from_vectors_give_their_verifier_keys() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    for who in ["PeterNeumann", "EnochRoot"] {
        let signer = vs(&v, &format!("/keys/{who}/signer"));
        let verifier = vs(&v, &format!("/keys/{who}/verifier"));
        // As Go writes it (no newline) and as a text file (with one).
        for (file, contents) in [
            (format!("{who}.key"), signer.to_string()),
            (format!("{who}-nl.key"), format!("{signer}\n")),
        ] {
            write_private(&dir.path().join(&file), contents);
            let out = ok(dir.path(), &["key", "public", &file]);
            assert_eq!(out, format!("{verifier}\n"), "{file}");
            // The witness key of the same seed: same name and key, type 0x04, own ID.
            let wkey = ok(dir.path(), &["key", "public", "--witness", &file]);
            let (name, id, raw) = split_vkey(wkey.trim());
            let (_, vid, vraw) = split_vkey(verifier);
            assert_eq!(name, who);
            assert_eq!(raw[0], 0x04);
            assert_eq!(raw[1..], vraw[1..]);
            assert_ne!(id, vid);
            assert_eq!(id, key_id_hex(who, 0x04, &raw[1..]));
        }
    }
    let (_, _, raw) = split_vkey(vs(&v, "/keys/PeterNeumann/verifier"));
    assert_eq!(
        hex::encode(&raw[1..]),
        vs(&v, "/keys/PeterNeumann/public_hex")
    );

    // A Go key signs a real log whose checkpoint verifies under Go's verifier key.
    let peter = vs(&v, "/keys/PeterNeumann/verifier");
    ok(
        dir.path(),
        &[
            "log",
            "init",
            "--repo",
            "log",
            "--origin",
            "example.com/go-key",
            "--key",
            "PeterNeumann.key",
            "--entries",
            "any",
        ],
    );
    fs::write(dir.path().join("a.bin"), "a\n").unwrap();
    ok(
        dir.path(),
        &[
            "log",
            "append",
            "--repo",
            "log",
            "--key",
            "PeterNeumann.key",
            "a.bin",
        ],
    );
    let cp = common::git(&dir.path().join("log"), &["show", "fwlog:checkpoint"]);
    fs::write(dir.path().join("cp"), &cp).unwrap();
    let out = ok(
        dir.path(),
        &["checkpoint", "verify", "cp", "--log-key", peter],
    );
    assert!(
        out.starts_with("origin example.com/go-key\nsize 1\n"),
        "{out}"
    );
}

#[test]
fn cosignature_vector_seed_gives_the_sigsum_witness_key() {
    // sigsum-go's witness: seed 0x11 00…00, name example.org/witness. Written as a Go signer
    // key string, `key public --witness` must give the vector's 0x04 key.
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let seed: [u8; 32] = hex::decode(vs(&v, "/cosignature_v1/cosigner_seed_hex"))
        .unwrap()
        .try_into()
        .unwrap();
    let key = SignerKey::from_seed("example.org/witness", seed).unwrap();
    let key_string = key.to_key_string();
    assert!(key_string.starts_with("PRIVATE+KEY+example.org/witness+"));
    write_private(&dir.path().join("w.key"), format!("{key_string}\n"));
    let out = ok(dir.path(), &["key", "public", "--witness", "w.key"]);
    assert_eq!(out.trim(), vs(&v, "/cosignature_v1/cosigner_verifier"));
}

#[test]
fn signer_key_files_readable_by_others_are_refused() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let signer = vs(&v, "/keys/PeterNeumann/signer");
    let secret = signer.rsplit('+').next().unwrap();
    let path = dir.path().join("peter.key");
    for mode in [0o644, 0o640, 0o604, 0o660, 0o666] {
        write_mode(&path, signer, mode);
        let line = fail_with(dir.path(), &["key", "public", "peter.key"], "mode");
        assert!(
            line.contains(&format!("{mode:03o}")),
            "names the mode {mode:03o}: {line}"
        );
        assert!(!line.contains(secret), "leaks key material: {line}");
    }
    for mode in [0o600, 0o400] {
        write_mode(&path, signer, mode);
        let out = ok(dir.path(), &["key", "public", "peter.key"]);
        assert_eq!(out.trim(), vs(&v, "/keys/PeterNeumann/verifier"));
    }

    // The log commands refuse such a key too, before touching anything.
    write_mode(&path, signer, 0o644);
    fail_with(
        dir.path(),
        &[
            "log",
            "init",
            "--repo",
            "log",
            "--origin",
            "o.example",
            "--key",
            "peter.key",
        ],
        "mode",
    );
    assert!(!dir.path().join("log").exists(), "no repository created");
    let log = Log::new(ORIGIN);
    let names = log.write_entries(0, 1);
    fs::set_permissions(
        log.path().join("log.key"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    fail_with(
        log.path(),
        &[
            "log", "append", "--repo", "log", "--key", "log.key", &names[0],
        ],
        "mode",
    );
    assert!(log_checkpoint(&log).contains("\n0\n"), "log still empty");
}

#[test]
fn signer_keys_from_environment_variables() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let signer = vs(&v, "/keys/PeterNeumann/signer");
    let verifier = vs(&v, "/keys/PeterNeumann/verifier");
    let arg = format!("env:{KEY_VAR}");

    for value in [signer.to_string(), format!("{signer}\n")] {
        let out = env_ok(dir.path(), &["key", "public", &arg], &[(KEY_VAR, &value)]);
        assert_eq!(out, format!("{verifier}\n"));
    }
    let out = env_ok(
        dir.path(),
        &["key", "public", "--witness", &arg],
        &[(KEY_VAR, signer)],
    );
    let (_, _, raw) = split_vkey(out.trim());
    assert_eq!(raw[0], 0x04);

    // Unset: one line naming the variable.
    let line = env_fail1(dir.path(), &["key", "public", &arg], &[], &[KEY_VAR]);
    assert!(line.contains(KEY_VAR), "{line}");

    // Invalid content (the key ID altered): refused without echoing the secret.
    let bad = signer.replace("+c74f20a3+", "+c74f20a4+");
    let secret = signer.rsplit('+').next().unwrap();
    let line = env_fail1(
        dir.path(),
        &["key", "public", &arg],
        &[(KEY_VAR, &bad)],
        &[],
    );
    assert!(!line.contains(secret), "leaks key material: {line}");

    // A whole log run from an env key; its checkpoint verifies under the Go verifier key.
    let env = [(KEY_VAR, signer)];
    env_ok(
        dir.path(),
        &[
            "log",
            "init",
            "--repo",
            "log",
            "--origin",
            "example.com/env",
            "--key",
            &arg,
            "--entries",
            "any",
        ],
        &env,
    );
    fs::write(dir.path().join("a.bin"), "a\n").unwrap();
    fs::write(dir.path().join("b.bin"), "b\n").unwrap();
    env_ok(
        dir.path(),
        &[
            "log", "append", "--repo", "log", "--key", &arg, "a.bin", "b.bin",
        ],
        &env,
    );
    let cp = common::git(&dir.path().join("log"), &["show", "fwlog:checkpoint"]);
    fs::write(dir.path().join("cp"), cp).unwrap();
    let out = ok(
        dir.path(),
        &[
            "checkpoint",
            "verify",
            "cp",
            "--log-key",
            verifier,
            "--origin",
            "example.com/env",
        ],
    );
    assert!(out.contains("size 2\n"), "{out}");
}

#[test]
fn malformed_signer_keys_fail_cleanly() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let signer = vs(&v, "/keys/PeterNeumann/signer");
    let secret = signer.rsplit('+').next().unwrap();
    let cases = [
        ("wrong key ID", signer.replace("+c74f20a3+", "+c74f20a4+")),
        ("truncated seed", signer[..signer.len() - 4].to_string()),
        ("no prefix", signer.replacen("PRIVATE+KEY+", "", 1)),
        (
            "a verifier key",
            vs(&v, "/keys/PeterNeumann/verifier").to_string(),
        ),
        ("empty", String::new()),
        ("two newlines", format!("{signer}\n\nx")),
        ("binary", "\u{0}\u{1}\u{2}".to_string()),
    ];
    for (why, contents) in cases {
        write_private(&dir.path().join("k.key"), &contents);
        let line = fail1(dir.path(), &["key", "public", "k.key"]);
        assert!(!line.contains(secret), "{why}: leaks key material: {line}");
    }
    // Not UTF-8, a directory, a missing file.
    write_private(&dir.path().join("k.key"), [0xffu8, 0xfe, 0x00]);
    fail1(dir.path(), &["key", "public", "k.key"]);
    fs::create_dir(dir.path().join("d")).unwrap();
    fs::set_permissions(dir.path().join("d"), fs::Permissions::from_mode(0o700)).unwrap();
    fail1(dir.path(), &["key", "public", "d"]);
    fail_with(dir.path(), &["key", "public", "missing.key"], "missing.key");
}

// ---------------------------------------------------------------------------------------------
// 3. checkpoint verify
// ---------------------------------------------------------------------------------------------

/// Writes the vectors' sum.golang.org checkpoint to `dir/sum.cp`; returns (note, vkey).
fn sum_golang(v: &Value, dir: &Path) -> (String, String) {
    let note = vs(v, "/valid_notes/2/note").to_string();
    fs::write(dir.join("sum.cp"), &note).unwrap();
    (note, vs(v, "/keys/sum.golang.org/verifier").to_string())
}

#[test]
fn checkpoint_sum_golang_org_vector() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = sum_golang(&v, dir.path());
    let want = "origin go.sum database tree\nsize 30055305\nroot mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n";

    let out = ok(
        dir.path(),
        &["checkpoint", "verify", "sum.cp", "--log-key", &key],
    );
    assert_eq!(out, want);
    let out = ok(
        dir.path(),
        &[
            "checkpoint",
            "verify",
            "sum.cp",
            "--log-key",
            &key,
            "--origin",
            "go.sum database tree",
        ],
    );
    assert_eq!(out, want);

    // The key's name is not the origin; a wrong or near-miss origin fails.
    for wrong in [
        "sum.golang.org",
        "go.sum database tree ",
        "go.sum database",
        "",
    ] {
        fail_with(
            dir.path(),
            &[
                "checkpoint",
                "verify",
                "sum.cp",
                "--log-key",
                &key,
                "--origin",
                wrong,
            ],
            "origin",
        );
    }

    // --json.
    let out = ok(
        dir.path(),
        &[
            "checkpoint",
            "verify",
            "sum.cp",
            "--log-key",
            &key,
            "--json",
        ],
    );
    let j: Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(j["origin"], "go.sum database tree");
    assert_eq!(j["size"], 30055305);
    assert_eq!(j["root"], "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=");
    assert_eq!(j["witnesses"], Value::Array(vec![]));

    // The log key given as a file holding it.
    fs::write(dir.path().join("sum.vkey"), format!("{key}\n")).unwrap();
    let out = ok(
        dir.path(),
        &["checkpoint", "verify", "sum.cp", "--log-key", "sum.vkey"],
    );
    assert_eq!(out, want);
}

#[test]
fn checkpoint_go_and_c2sp_example_notes_are_not_checkpoints() {
    // Correctly signed notes whose text is not a checkpoint: rejected as such, one line.
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("/valid_notes/0/note", "/keys/PeterNeumann/verifier"),
        ("/valid_notes/0/note", "/keys/EnochRoot/verifier"),
        ("/valid_notes/1/note", "/keys/example.com~1foo/verifier"),
        ("/invalid_signature/note", "/keys/PeterNeumann/verifier"),
    ];
    for (note, key) in cases {
        fs::write(dir.path().join("n"), vs(&v, note)).unwrap();
        let line = fail1(
            dir.path(),
            &["checkpoint", "verify", "n", "--log-key", vs(&v, key)],
        );
        assert!(
            line.contains("origin, size and root hash are required"),
            "{line}"
        );
    }
    // Every malformed note of the vectors fails cleanly too.
    for m in v["malformed_notes"].as_array().unwrap() {
        fs::write(dir.path().join("n"), m["note"].as_str().unwrap()).unwrap();
        fail1(
            dir.path(),
            &[
                "checkpoint",
                "verify",
                "n",
                "--log-key",
                vs(&v, "/keys/PeterNeumann/verifier"),
            ],
        );
    }
}

#[test]
fn checkpoint_note_malformations_fail() {
    // The vectors' malformed-note cases, transposed onto the sum.golang.org checkpoint.
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let (note, key) = sum_golang(&v, dir.path());
    let (text, sigs) = note.split_at(note.rfind("\n\n").unwrap() + 1);
    let sig_line = &sigs[1..];
    let mut bad_sig = sig_line.to_string();
    // Change one signature byte well after the key ID (the vectors' invalid_signature case).
    let pos = "— sum.golang.org ".len() + 40;
    let c = bad_sig.as_bytes()[pos];
    bad_sig.replace_range(pos..pos + 1, if c == b'A' { "B" } else { "A" });
    let cases = [
        ("text only", text.to_string()),
        ("text and blank line", format!("{text}\n")),
        ("no final newline", note.trim_end_matches('\n').to_string()),
        ("leading control byte", format!("\u{1}{note}")),
        (
            "key name with space",
            note.replace("— sum.golang.org ", "— sum golang.org "),
        ),
        ("line after signatures", format!("{note}hello\n")),
        (
            "101 signature lines",
            format!("{text}\n{}", sig_line.repeat(101)),
        ),
        ("carriage return", note.replacen("tree\n", "tree\r\n", 1)),
        ("invalid known signature", format!("{text}\n{bad_sig}")),
        ("hyphen instead of em dash", note.replace('—', "-")),
        (
            "size with leading zero",
            note.replace("\n30055305\n", "\n030055305\n"),
        ),
        (
            "size with plus",
            note.replace("\n30055305\n", "\n+30055305\n"),
        ),
        ("root not base64", note.replace("mXfg", "mX.g")),
        ("empty", String::new()),
        ("two blank lines", note.replacen("\n\n", "\n\n\n", 1)),
    ];
    for (why, bytes) in cases {
        fs::write(dir.path().join("bad.cp"), &bytes).unwrap();
        let out = common::fwlog_in(
            dir.path(),
            &["checkpoint", "verify", "bad.cp", "--log-key", &key],
        );
        assert!(!out.status.success(), "{why}: accepted {bytes:?}");
        assert_one_line(&String::from_utf8_lossy(&out.stderr), why);
    }
}

/// Changes one base64 character of a signature line well past the key ID.
fn corrupt_sig_line(line: &str) -> String {
    let at = line.len() - 12;
    let c = if &line[at..=at] == "A" { "B" } else { "A" };
    let mut bad = line.to_string();
    bad.replace_range(at..=at, c);
    assert_ne!(bad, line);
    bad
}

#[test]
fn checkpoint_repeated_signature_lines() {
    // Repeated lines from one key are allowed, but every line from a known key must verify.
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let (note, key) = sum_golang(&v, dir.path());
    let (text, sigs) = note.split_at(note.rfind("\n\n").unwrap() + 1);
    let sig_line = &sigs[1..];
    let bad_line = corrupt_sig_line(sig_line);
    let run = |contents: &str| -> Output {
        fs::write(dir.path().join("d.cp"), contents).unwrap();
        common::fwlog_in(
            dir.path(),
            &["checkpoint", "verify", "d.cp", "--log-key", &key],
        )
    };
    assert!(
        run(&format!("{note}{sig_line}")).status.success(),
        "valid line twice"
    );
    for (why, contents) in [
        ("valid then broken", format!("{note}{bad_line}")),
        ("broken then valid", format!("{text}\n{bad_line}{sig_line}")),
    ] {
        let out = run(&contents);
        assert!(!out.status.success(), "{why}: accepted");
        let line = assert_one_line(&String::from_utf8_lossy(&out.stderr), why);
        assert!(line.contains("does not verify"), "{why}: {line}");
    }

    // A witness that cosigned twice (two valid lines) counts once; a broken second line from
    // a listed witness rejects the checkpoint.
    let log = log_with_batches(&[2]);
    let d = log.path();
    let w = witness(d, "witness.example/twice");
    let cp = log_checkpoint(&log);
    let cp_text = &cp[..cp.find("\n\n").unwrap() + 1];
    let l1 = cosignature::cosign(cp_text, &w.key, 1_700_000_000).to_line();
    let l2 = cosignature::cosign(cp_text, &w.key, 1_700_000_500).to_line();
    fs::write(d.join("twice.cp"), format!("{cp}{l1}{l2}")).unwrap();
    let out = ok(
        d,
        &[
            "checkpoint",
            "verify",
            "twice.cp",
            "--log-key",
            &log.vkey,
            "--witness",
            &w.vkey,
            "--witness-quorum",
            "1",
        ],
    );
    assert_eq!(out.matches("witness ").count(), 1, "{out}");
    fail_with(
        d,
        &[
            "checkpoint",
            "verify",
            "twice.cp",
            "--log-key",
            &log.vkey,
            "--witness",
            &w.vkey,
            "--witness",
            &w.vkey,
            "--witness-quorum",
            "2",
        ],
        "1 valid witness cosignature(s), 2 required",
    );
    fs::write(
        d.join("broken.cp"),
        format!("{cp}{l1}{}", corrupt_sig_line(&l2)),
    )
    .unwrap();
    fail_with(
        d,
        &[
            "checkpoint",
            "verify",
            "broken.cp",
            "--log-key",
            &log.vkey,
            "--witness",
            &w.vkey,
            "--witness-quorum",
            "1",
        ],
        "does not verify",
    );
}

#[test]
fn checkpoint_from_a_real_log() {
    let log = Log::new(ORIGIN);
    // Size 0 right after init: the empty tree's root is SHA-256("").
    let cp0 = log_checkpoint(&log);
    fs::write(log.path().join("cp0"), &cp0).unwrap();
    let out = ok(
        log.path(),
        &[
            "checkpoint",
            "verify",
            "cp0",
            "--log-key",
            &log.vkey,
            "--origin",
            ORIGIN,
        ],
    );
    assert_eq!(
        out,
        format!(
            "origin {ORIGIN}\nsize 0\nroot {}\n",
            B64.encode(sha256(&[]))
        )
    );

    let names = log.write_entries(0, 5);
    log.append(&names);
    let cp = log_checkpoint(&log);
    // The checked-out work tree holds the same checkpoint.
    if let Ok(worktree) = fs::read_to_string(log.repo().join("checkpoint")) {
        assert_eq!(worktree, cp, "work tree checkpoint matches the branch");
    }
    fs::write(log.path().join("cp"), &cp).unwrap();
    let root = B64.encode(mth(&(0..5)
        .map(|i| leaf_hash(&entry_bytes(i)))
        .collect::<Vec<_>>()));
    let out = ok(
        log.path(),
        &[
            "checkpoint",
            "verify",
            "cp",
            "--log-key",
            &log.vkey,
            "--origin",
            ORIGIN,
        ],
    );
    assert_eq!(out, format!("origin {ORIGIN}\nsize 5\nroot {root}\n"));
    let out = ok(
        log.path(),
        &["checkpoint", "verify", "cp", "--log-key", &log.vkey],
    );
    assert_eq!(out, format!("origin {ORIGIN}\nsize 5\nroot {root}\n"));
    fail_with(
        log.path(),
        &[
            "checkpoint",
            "verify",
            "cp",
            "--log-key",
            &log.vkey,
            "--origin",
            "example.com/other",
        ],
        "origin",
    );
}

#[test]
fn checkpoint_any_flipped_byte_fails() {
    let log = log_with_batches(&[3]);
    let dir = log.path();
    let w = witness(dir, "witness.example/flip");
    let plain = log_checkpoint(&log).into_bytes();
    let cosigned = cosign(&plain, &[(&w.key, 1_700_000_000)]);

    fs::write(dir.join("good.cp"), &cosigned).unwrap();
    let trust = [
        "--log-key",
        &log.vkey,
        "--witness",
        &w.vkey,
        "--witness-quorum",
        "1",
    ];
    let args = |file: &'static str| -> Vec<&str> {
        let mut a = vec!["checkpoint", "verify", file];
        a.extend_from_slice(&trust);
        a
    };
    ok(dir, &args("good.cp"));

    // Every byte of the text, the log signature and the cosignature matters.
    for i in 0..cosigned.len() {
        for mask in [0x01u8, 0x80] {
            fs::write(dir.join("bad.cp"), flipped(&cosigned, i, mask)).unwrap();
            let stderr = fails(dir, &args("bad.cp"));
            assert_one_line(&stderr, &format!("byte {i} ^ {mask:#04x}"));
        }
    }
    // Without witnesses required, every byte of the log-signed part still matters.
    for i in 0..plain.len() {
        fs::write(dir.join("bad.cp"), flipped(&plain, i, 0x01)).unwrap();
        let stderr = fails(
            dir,
            &["checkpoint", "verify", "bad.cp", "--log-key", &log.vkey],
        );
        assert_one_line(&stderr, &format!("plain byte {i}"));
    }
}

#[test]
fn checkpoint_wrong_keys_fail() {
    let v = vectors();
    let log = log_with_batches(&[2]);
    let dir = log.path();
    fs::write(dir.join("cp"), log_checkpoint(&log)).unwrap();
    let verify = |key: &str| fail1(dir, &["checkpoint", "verify", "cp", "--log-key", key]);

    // Another key under the same name, another name, Go's keys: no signature from that key.
    let same_name = keygen(dir, ORIGIN, "same-name.key");
    let line = verify(&same_name);
    assert!(line.contains("no signature from the log key"), "{line}");
    let other = keygen(dir, "example.com/other-log", "other.key");
    verify(&other);
    verify(vs(&v, "/keys/PeterNeumann/verifier"));
    verify(vs(&v, "/keys/sum.golang.org/verifier"));

    // The right key in the witness role (type 0x04) is a configuration error.
    let as_witness = ok(dir, &["key", "public", "--witness", "log.key"]);
    let line = verify(as_witness.trim());
    assert!(line.contains("0x04"), "{line}");

    // The vectors' bad verifier keys (bad ID, type, length) are refused as keys.
    for bad in v["bad_verifier_keys"].as_array().unwrap() {
        let line = verify(bad.as_str().unwrap());
        assert!(line.contains("verifier key"), "{line}");
    }
    // The log key as a witness (type 0x01) is refused as well.
    let line = fail1(
        dir,
        &[
            "checkpoint",
            "verify",
            "cp",
            "--log-key",
            &log.vkey,
            "--witness",
            &log.vkey,
        ],
    );
    assert!(line.contains("0x01"), "{line}");
    verify("");
    verify("not a key");
}

#[test]
fn checkpoint_unknown_signature_lines_are_ignored() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let (note, key) = sum_golang(&v, dir.path());
    let (text, sigs) = note.split_at(note.rfind("\n\n").unwrap() + 1);
    let sig_line = &sigs[1..];
    let must_ignore: Vec<&str> = v["cosignature_v1"]["must_ignore_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let peter_line = {
        let n = vs(&v, "/valid_notes/0/note");
        n[n.rfind("\n\n").unwrap() + 2..].to_string()
    };
    // 20 lines from unknown keys, one claiming sum.golang.org's name under another key ID.
    let mut many = String::new();
    for i in 0..20u8 {
        let blob: Vec<u8> = std::iter::repeat_n(i, 4 + 72).collect();
        let name = if i == 0 {
            "sum.golang.org".to_string()
        } else {
            format!("witness{i}.example")
        };
        many.push_str(&format!("— {name} {}\n", B64.encode(blob)));
    }
    let cases = [
        format!("{note}{}", must_ignore.concat()),
        format!("{note}{peter_line}"),
        format!("{text}\n{}{sig_line}", must_ignore[1]),
        format!("{note}{many}"),
    ];
    let want = "origin go.sum database tree\nsize 30055305\nroot mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n";
    for (i, c) in cases.iter().enumerate() {
        fs::write(dir.path().join("x.cp"), c).unwrap();
        let out = ok(
            dir.path(),
            &["checkpoint", "verify", "x.cp", "--log-key", &key],
        );
        assert_eq!(out, want, "case {i}");
    }

    // A real log checkpoint also signed by another log key: verifies under either key.
    let log = log_with_batches(&[4]);
    let other = SignerKey::from_seed(ORIGIN, [0x33; 32]).unwrap();
    let mut signed = SignedCheckpoint::parse(log_checkpoint(&log).as_bytes()).unwrap();
    signed.note.sign(&other);
    // And an invalid cosignature from a witness nobody asked about.
    signed.note.add_signature(NoteSignature {
        name: "witness.example/unlisted".into(),
        key_id: 0x0102_0304,
        sig: vec![7; 72],
    });
    fs::write(log.path().join("two.cp"), signed.to_bytes()).unwrap();
    for k in [log.vkey.clone(), other.verifier_key().to_string()] {
        let out = ok(
            log.path(),
            &[
                "checkpoint",
                "verify",
                "two.cp",
                "--log-key",
                &k,
                "--origin",
                ORIGIN,
            ],
        );
        assert!(out.contains("size 4\n"), "{out}");
    }
    // Only other signatures, the log's own missing: refused.
    let mut only_other = SignedCheckpoint::parse(log_checkpoint(&log).as_bytes()).unwrap();
    let text = only_other.note.text().to_string();
    only_other.note = fwlog::note::Note::new(&text).unwrap();
    only_other.note.sign(&other);
    fs::write(log.path().join("other.cp"), only_other.to_bytes()).unwrap();
    fail_with(
        log.path(),
        &["checkpoint", "verify", "other.cp", "--log-key", &log.vkey],
        "no signature from the log key",
    );
}

#[test]
fn checkpoint_sigsum_cosignature_vector() {
    // sigsum-go's cosignature line, byte for byte, on its checkpoint text signed by our log key.
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let text = vs(&v, "/cosignature_v1/checkpoint_text");
    let line = vs(&v, "/cosignature_v1/signature_line");
    let wkey = vs(&v, "/cosignature_v1/cosigner_verifier");
    let must_ignore: Vec<&str> = v["cosignature_v1"]["must_ignore_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let log = SignerKey::from_seed("example.org/log", [0x42; 32]).unwrap();
    let signed = SignedCheckpoint::sign(Checkpoint::parse_text(text).unwrap(), &log).unwrap();
    let base = String::from_utf8(signed.to_bytes()).unwrap();
    let lkey = log.verifier_key().to_string();
    let trust = [
        "--log-key",
        &lkey,
        "--origin",
        "example.org/log",
        "--witness",
        wkey,
        "--witness-quorum",
        "1",
    ];
    let run = |contents: &str| {
        fs::write(dir.path().join("c.cp"), contents).unwrap();
        let mut a = vec!["checkpoint", "verify", "c.cp"];
        a.extend_from_slice(&trust);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };

    for contents in [
        format!("{base}{line}"),
        format!("{base}{line}{}", must_ignore.concat()),
        format!("{base}{}{line}", must_ignore.concat()),
    ] {
        let args = run(&contents);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ok(dir.path(), &args);
        assert_eq!(
            out,
            "origin example.org/log\nsize 10\nroot HA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nwitness example.org/witness time 1234\n"
        );
    }
    // Only the lines that must be ignored: no cosignature from the witness.
    let args = run(&format!("{base}{}", must_ignore.concat()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fail_with(
        dir.path(),
        &args,
        "0 valid witness cosignature(s), 1 required",
    );

    // JSON names the witness, its key and the timestamp.
    let args = run(&format!("{base}{line}"));
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--json");
    let j: Value = serde_json::from_str(&ok(dir.path(), &args)).unwrap();
    assert_eq!(j["size"], 10);
    assert_eq!(j["witnesses"][0]["name"], "example.org/witness");
    assert_eq!(j["witnesses"][0]["key"], wkey);
    assert_eq!(j["witnesses"][0]["timestamp"], 1234);
    assert_eq!(j["witnesses"].as_array().unwrap().len(), 1);
}

#[test]
fn checkpoint_witness_quorum() {
    let log = log_with_batches(&[2, 1]);
    let dir = log.path();
    let w1 = witness(dir, "witness.example/one");
    let w2 = witness(dir, "witness.example/two");
    let w3 = witness(dir, "witness.example/three");
    let plain = log_checkpoint(&log);
    fs::write(dir.join("plain.cp"), &plain).unwrap();
    let both = cosign(
        plain.as_bytes(),
        &[(&w1.key, 1_700_000_000), (&w2.key, 1_700_000_001)],
    );
    fs::write(dir.join("both.cp"), &both).unwrap();
    let verify = |file: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["checkpoint", "verify", file, "--log-key", &log.vkey]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run_ok = |file: &str, extra: &[&str]| {
        let a = verify(file, extra);
        ok(dir, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let run_fail = |file: &str, extra: &[&str], needle: &str| {
        let a = verify(file, extra);
        fail_with(
            dir,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            needle,
        )
    };

    // 0 of 1.
    run_fail(
        "plain.cp",
        &["--witness", &w1.vkey, "--witness-quorum", "1"],
        "0 valid witness cosignature(s), 1 required",
    );
    // Quorum 0 (the default) with a witness listed: passes, no witness reported.
    let out = run_ok("plain.cp", &["--witness", &w1.vkey]);
    assert!(!out.contains("witness"), "{out}");

    // Two witnesses reach quorum 2, each reported with its time.
    let out = run_ok(
        "both.cp",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w2.vkey,
            "--witness-quorum",
            "2",
        ],
    );
    assert!(out.ends_with(
        "witness witness.example/one time 1700000000\nwitness witness.example/two time 1700000001\n"
    ), "{out}");

    // The same witness listed twice counts once.
    run_fail(
        "both.cp",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w1.vkey,
            "--witness-quorum",
            "2",
        ],
        "1 valid witness cosignature(s), 2 required",
    );
    let out = run_ok(
        "both.cp",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w1.vkey,
            "--witness-quorum",
            "1",
        ],
    );
    assert_eq!(out.matches("witness ").count(), 1, "{out}");

    // A witness that did not cosign does not count.
    run_fail(
        "both.cp",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w3.vkey,
            "--witness-quorum",
            "2",
        ],
        "1 valid witness cosignature(s), 2 required",
    );
    run_ok(
        "both.cp",
        &[
            "--witness",
            &w3.vkey,
            "--witness",
            &w2.vkey,
            "--witness-quorum",
            "1",
        ],
    );
    // A quorum larger than the witnesses given.
    run_fail(
        "both.cp",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w2.vkey,
            "--witness-quorum",
            "3",
        ],
        "--witness-quorum",
    );
    run_fail("both.cp", &["--witness-quorum", "1"], "--witness-quorum");
    // A witness's type 0x01 key is the wrong role.
    run_fail(
        "both.cp",
        &["--witness", &w1.plain_vkey, "--witness-quorum", "1"],
        "0x01",
    );
    // Witness keys may be given as files.
    fs::write(dir.join("w2.vkey"), format!("{}\n", w2.vkey)).unwrap();
    run_ok(
        "both.cp",
        &["--witness", "w2.vkey", "--witness-quorum", "1"],
    );

    // A cosignature transplanted from another checkpoint of the same log: invalid when the
    // witness is listed (a known key's bad signature rejects the note), ignored otherwise.
    let old_text = plain.replacen("\n3\n", "\n2\n", 1);
    let stolen = cosignature::cosign(
        &old_text[..old_text.find("\n\n").unwrap() + 1],
        &w1.key,
        1_600_000_000,
    );
    let mut signed = SignedCheckpoint::parse(plain.as_bytes()).unwrap();
    signed.note.add_signature(stolen);
    fs::write(dir.join("stolen.cp"), signed.to_bytes()).unwrap();
    run_fail(
        "stolen.cp",
        &["--witness", &w1.vkey, "--witness-quorum", "1"],
        "does not verify",
    );
    run_fail("stolen.cp", &["--witness", &w1.vkey], "does not verify");
    run_ok("stolen.cp", &[]);

    // --json.
    let out = run_ok(
        "both.cp",
        &[
            "--witness",
            &w2.vkey,
            "--witness",
            &w1.vkey,
            "--witness",
            &w3.vkey,
            "--witness-quorum",
            "2",
            "--json",
            "--origin",
            ORIGIN,
        ],
    );
    let j: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["origin"], ORIGIN);
    assert_eq!(j["size"], 3);
    assert_eq!(j["root"], root_line(&plain));
    let ws = j["witnesses"].as_array().unwrap();
    assert_eq!(ws.len(), 2, "{out}");
    let mut got: Vec<(String, String, u64)> = ws
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["key"].as_str().unwrap().to_string(),
                w["timestamp"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "witness.example/one".to_string(),
                w1.vkey.clone(),
                1_700_000_000
            ),
            (
                "witness.example/two".to_string(),
                w2.vkey.clone(),
                1_700_000_001
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 4. proof verify
// ---------------------------------------------------------------------------------------------

fn prove(log: &Log, index: usize) -> String {
    let out = format!("p{index}.proof");
    ok(
        log.path(),
        &[
            "log",
            "prove",
            "--repo",
            "log",
            "--index",
            &index.to_string(),
            "--out",
            &out,
        ],
    );
    fs::read_to_string(log.path().join(out)).unwrap()
}

#[test]
fn proof_verify_entries_of_a_300_entry_log() {
    let log = big_log();
    let dir = log.path();
    let cp = log_checkpoint(&log);
    let leaves: Vec<[u8; 32]> = (0..300).map(|i| leaf_hash(&entry_bytes(i))).collect();
    let root = B64.encode(mth(&leaves));
    assert_eq!(root_line(&cp), root, "the log's root is RFC 9162's");
    assert!(cp.starts_with(&format!("{ORIGIN}\n300\n")));

    for n in [0usize, 1, 137, 255, 256, 298, 299] {
        let proof = prove(&log, n);
        assert!(
            proof.starts_with(&format!("c2sp.org/tlog-proof@v1\nindex {n}\n")),
            "{proof}"
        );
        assert!(proof.ends_with(&cp), "proof carries the current checkpoint");
        let file = format!("p{n}.proof");
        let entry = format!("e{n}.bin");
        let want = format!("index {n}\norigin {ORIGIN}\nsize 300\nroot {root}\n");
        let out = ok(
            dir,
            &[
                "proof",
                "verify",
                &file,
                "--log-key",
                &log.vkey,
                "--leaf",
                &entry,
            ],
        );
        assert_eq!(out, want);
        let hash = B64.encode(leaves[n]);
        let out = ok(
            dir,
            &[
                "proof",
                "verify",
                &file,
                "--log-key",
                &log.vkey,
                "--leaf-hash",
                &hash,
                "--origin",
                ORIGIN,
            ],
        );
        assert_eq!(out, want);
        let out = ok(
            dir,
            &[
                "proof",
                "verify",
                &file,
                "--log-key",
                &log.vkey,
                "--leaf",
                &entry,
                "--json",
            ],
        );
        let j: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(j["index"], n);
        assert_eq!(j["size"], 300);
        assert_eq!(j["origin"], ORIGIN);
        assert_eq!(j["root"], root.as_str());
        assert_eq!(j["witnesses"], Value::Array(vec![]));
    }
}

#[test]
fn proof_with_the_wrong_entry_or_index_fails() {
    let log = big_log();
    let dir = log.path();
    let proof = prove(&log, 137);
    let args = |leaf_flag: &'static str, leaf: &str, file: &str| -> Vec<String> {
        [
            "proof",
            "verify",
            file,
            "--log-key",
            &log.vkey,
            leaf_flag,
            leaf,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let check = |a: Vec<String>, needle: &str| {
        fail_with(
            dir,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            needle,
        );
    };

    // Another entry, by file and by hash.
    check(args("--leaf", "e138.bin", "p137.proof"), "inclusion proof");
    check(args("--leaf", "e0.bin", "p137.proof"), "inclusion proof");
    check(
        args(
            "--leaf-hash",
            &B64.encode(leaf_hash(&entry_bytes(136))),
            "p137.proof",
        ),
        "inclusion proof",
    );
    // The right entry hashed without the 0x00 leaf prefix, or as the raw entry bytes.
    check(
        args(
            "--leaf-hash",
            &B64.encode(sha256(&[&entry_bytes(137)])),
            "p137.proof",
        ),
        "inclusion proof",
    );
    // An empty entry.
    fs::write(dir.join("empty.bin"), "").unwrap();
    check(args("--leaf", "empty.bin", "p137.proof"), "inclusion proof");
    // A malformed --leaf-hash.
    for bad in [
        "",
        "abc",
        &B64.encode([0u8; 31]),
        &hex::encode(leaf_hash(&entry_bytes(137))),
    ] {
        check(args("--leaf-hash", bad, "p137.proof"), "--leaf-hash");
    }
    check(args("--leaf", "missing.bin", "p137.proof"), "missing.bin");

    // The proof's index moved to the neighbour's, with either entry.
    for (index, entry) in [
        (136, "e136.bin"),
        (138, "e138.bin"),
        (138, "e137.bin"),
        (9, "e9.bin"),
    ] {
        let moved = proof.replacen("index 137\n", &format!("index {index}\n"), 1);
        fs::write(dir.join("moved.proof"), moved).unwrap();
        check(args("--leaf", entry, "moved.proof"), "inclusion proof");
    }
    // Index outside the tree.
    for index in ["300", "301", "18446744073709551615"] {
        let moved = proof.replacen("index 137\n", &format!("index {index}\n"), 1);
        fs::write(dir.join("moved.proof"), moved).unwrap();
        check(args("--leaf", "e137.bin", "moved.proof"), "moved.proof");
    }

    // Wrong log key, wrong origin.
    let other = keygen(dir, ORIGIN, "other.key");
    fail_with(
        dir,
        &[
            "proof",
            "verify",
            "p137.proof",
            "--log-key",
            &other,
            "--leaf",
            "e137.bin",
        ],
        "no signature from the log key",
    );
    fail_with(
        dir,
        &[
            "proof",
            "verify",
            "p137.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e137.bin",
            "--origin",
            "example.com/other",
        ],
        "origin",
    );
}

#[test]
fn proof_tampering_fails() {
    let log = big_log();
    let dir = log.path();
    let proof = prove(&log, 200);
    let (head, _) = split_proof(&proof);
    let hashes: Vec<&str> = head.lines().skip(2).filter(|l| !l.is_empty()).collect();
    assert!(
        hashes.len() >= 8,
        "a 300-leaf proof has 8 or 9 hashes: {head}"
    );
    let verify = |contents: &[u8], why: &str| {
        fs::write(dir.join("t.proof"), contents).unwrap();
        let stderr = fails(
            dir,
            &[
                "proof",
                "verify",
                "t.proof",
                "--log-key",
                &log.vkey,
                "--leaf",
                "e200.bin",
            ],
        );
        assert_one_line(&stderr, why);
    };
    ok(
        dir,
        &[
            "proof",
            "verify",
            "p200.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e200.bin",
        ],
    );

    for (i, h) in hashes.iter().enumerate() {
        // A different hash on that line.
        let mut raw = B64.decode(h).unwrap();
        raw[7] ^= 0x01;
        verify(
            proof.replacen(h, &B64.encode(&raw), 1).as_bytes(),
            &format!("hash {i} changed"),
        );
        // The line dropped, or doubled.
        verify(
            proof.replacen(&format!("{h}\n"), "", 1).as_bytes(),
            &format!("hash {i} dropped"),
        );
        verify(
            proof
                .replacen(&format!("{h}\n"), &format!("{h}\n{h}\n"), 1)
                .as_bytes(),
            &format!("hash {i} doubled"),
        );
    }
    // Two lines swapped, the order reversed, a hash appended.
    verify(
        proof
            .replacen(
                &format!("{}\n{}\n", hashes[0], hashes[1]),
                &format!("{}\n{}\n", hashes[1], hashes[0]),
                1,
            )
            .as_bytes(),
        "swapped",
    );
    let reversed: Vec<&str> = hashes.iter().rev().copied().collect();
    verify(
        proof
            .replacen(&hashes.join("\n"), &reversed.join("\n"), 1)
            .as_bytes(),
        "reversed",
    );
    verify(
        proof
            .replacen("\n\n", &format!("\n{}\n\n", B64.encode([0u8; 32])), 1)
            .as_bytes(),
        "hash appended",
    );

    // Any single flipped bit anywhere in the proof.
    let bytes = proof.as_bytes();
    for i in 0..bytes.len() {
        verify(&flipped(bytes, i, 0x01), &format!("byte {i} flipped"));
    }
}

#[test]
fn malformed_proofs_name_the_line() {
    let log = log_with_batches(&[10]);
    let dir = log.path();
    let proof = prove(&log, 3);
    let (head, cp) = split_proof(&proof);
    let first_hash = head.lines().nth(2).unwrap().to_string();
    let verify = |contents: &str| -> String {
        fs::write(dir.join("m.proof"), contents).unwrap();
        fail1(
            dir,
            &[
                "proof",
                "verify",
                "m.proof",
                "--log-key",
                &log.vkey,
                "--leaf",
                "e3.bin",
            ],
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "header v2",
            proof.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            "line 1",
        ),
        (
            "header missing",
            proof.replacen("c2sp.org/tlog-proof@v1\n", "", 1),
            "line 1",
        ),
        (
            "header with trailing space",
            proof.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v1 ", 1),
            "line 1",
        ),
        (
            "index leading zero",
            proof.replacen("index 3", "index 03", 1),
            "line 2",
        ),
        (
            "index two spaces",
            proof.replacen("index 3", "index  3", 1),
            "line 2",
        ),
        (
            "index sign",
            proof.replacen("index 3", "index +3", 1),
            "line 2",
        ),
        (
            "index hex",
            proof.replacen("index 3", "index 0x3", 1),
            "line 2",
        ),
        (
            "index missing",
            proof.replacen("index 3\n", "", 1),
            "line 2",
        ),
        (
            "hash not base64",
            proof.replacen(&first_hash, "not base64 at all", 1),
            "line 3",
        ),
        (
            "hash too short",
            proof.replacen(&first_hash, &B64.encode([1u8; 31]), 1),
            "line 3",
        ),
        (
            "hash without padding",
            proof.replacen(&first_hash, first_hash.trim_end_matches('='), 1),
            "line 3",
        ),
        (
            "bad extra",
            proof.replacen("index 3", "extra !!\nindex 3", 1),
            "line 2",
        ),
        (
            "no blank line",
            head.trim_end_matches('\n').to_string() + "\n",
            "line",
        ),
        ("empty", String::new(), "line"),
        ("checkpoint missing", head.to_string(), "proof"),
        (
            "checkpoint without signatures",
            format!("{head}{}", &cp[..cp.find("\n\n").unwrap() + 1]),
            "proof",
        ),
    ];
    for (why, contents, needle) in cases {
        let line = verify(&contents);
        assert!(
            line.contains(needle),
            "{why}: expected {needle:?} in {line:?}"
        );
    }
    // A binary file, a directory, a missing file, a file over the size cap.
    let line = verify("\u{0}\u{ff}garbage");
    assert!(line.contains("m.proof"), "{line}");
    fs::write(dir.join("big.proof"), vec![b'a'; 2 << 20]).unwrap();
    fail_with(
        dir,
        &[
            "proof",
            "verify",
            "big.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e3.bin",
        ],
        "limit",
    );
    fail1(
        dir,
        &[
            "proof",
            "verify",
            "log",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e3.bin",
        ],
    );
    fail_with(
        dir,
        &[
            "proof",
            "verify",
            "nope.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e3.bin",
        ],
        "nope.proof",
    );
}

#[test]
fn proof_with_a_cosigned_checkpoint_meets_a_witness_quorum() {
    let log = big_log();
    let dir = log.path();
    let w1 = witness(dir, "witness.example/one");
    let w2 = witness(dir, "witness.example/two");
    let w3 = witness(dir, "witness.example/three");
    let proof = prove(&log, 200);
    let (head, cp) = split_proof(&proof);
    let cosigned = cosign(
        cp.as_bytes(),
        &[(&w1.key, 1_700_000_100), (&w2.key, 1_700_000_200)],
    );
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend_from_slice(&cosigned);
    fs::write(dir.join("cosigned.proof"), &bytes).unwrap();

    let base = |file: &str| -> Vec<String> {
        [
            "proof",
            "verify",
            file,
            "--log-key",
            &log.vkey,
            "--leaf",
            "e200.bin",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let with = |file: &str, extra: &[&str]| -> Vec<String> {
        let mut a = base(file);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let a = with(
        "cosigned.proof",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w2.vkey,
            "--witness-quorum",
            "2",
        ],
    );
    let out = ok(dir, &refs(&a));
    assert!(out.starts_with("index 200\n"), "{out}");
    assert!(
        out.contains("witness witness.example/one time 1700000100\n"),
        "{out}"
    );
    assert!(
        out.contains("witness witness.example/two time 1700000200\n"),
        "{out}"
    );

    let mut a = a.clone();
    a.push("--json".into());
    let j: Value = serde_json::from_str(&ok(dir, &refs(&a))).unwrap();
    assert_eq!(j["index"], 200);
    assert_eq!(j["witnesses"].as_array().unwrap().len(), 2);

    // The uncosigned proof, a repeated witness, a witness that did not cosign: no quorum.
    let a = with(
        "p200.proof",
        &["--witness", &w1.vkey, "--witness-quorum", "1"],
    );
    fail_with(dir, &refs(&a), "0 valid witness cosignature(s), 1 required");
    let a = with(
        "cosigned.proof",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w1.vkey,
            "--witness-quorum",
            "2",
        ],
    );
    fail_with(dir, &refs(&a), "1 valid witness cosignature(s), 2 required");
    let a = with(
        "cosigned.proof",
        &["--witness", &w3.vkey, "--witness-quorum", "1"],
    );
    fail_with(dir, &refs(&a), "0 valid witness cosignature(s), 1 required");
    let a = with(
        "cosigned.proof",
        &[
            "--witness",
            &w1.vkey,
            "--witness",
            &w2.vkey,
            "--witness-quorum",
            "3",
        ],
    );
    fail1(dir, &refs(&a));
    // The quorum is met but the entry is not the one proven.
    let mut a = with(
        "cosigned.proof",
        &["--witness", &w1.vkey, "--witness-quorum", "1"],
    );
    a[6] = "e201.bin".into();
    fail_with(dir, &refs(&a), "inclusion proof");
}

#[test]
fn proof_edge_cases() {
    let log = Log::new(ORIGIN);
    let dir = log.path();
    // Nothing to prove in an empty log.
    fail1(
        dir,
        &[
            "log", "prove", "--repo", "log", "--index", "0", "--out", "p0.proof",
        ],
    );
    // A one-entry log: an empty path.
    let names = log.write_entries(0, 1);
    log.append(&names);
    let proof = prove(&log, 0);
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\n"),
        "{proof}"
    );
    let verify = |file: &str, leaf: &str| -> Vec<String> {
        [
            "proof",
            "verify",
            file,
            "--log-key",
            &log.vkey,
            "--leaf",
            leaf,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let out = ok(dir, &refs(&verify("p0.proof", "e0.bin")));
    let leaf = B64.encode(leaf_hash(&entry_bytes(0)));
    assert_eq!(
        out,
        format!("index 0\norigin {ORIGIN}\nsize 1\nroot {leaf}\n")
    );
    // A path hash where none belongs.
    fs::write(
        dir.join("long.proof"),
        proof.replacen("index 0\n", &format!("index 0\n{leaf}\n"), 1),
    )
    .unwrap();
    fail_with(
        dir,
        &refs(&verify("long.proof", "e0.bin")),
        "inclusion proof",
    );
    // The unauthenticated extra line changes nothing.
    fs::write(
        dir.join("extra.proof"),
        proof.replacen("@v1\n", "@v1\nextra ZmlybXdhcmUuYmlu\n", 1),
    )
    .unwrap();
    assert_eq!(ok(dir, &refs(&verify("extra.proof", "e0.bin"))), out);
    // An entry file over the 65535-byte entry limit.
    fs::write(dir.join("big.bin"), vec![b'x'; 70_000]).unwrap();
    fail_with(dir, &refs(&verify("p0.proof", "big.bin")), "limit");
}

#[test]
fn proof_is_bound_to_its_signed_checkpoint() {
    // A proof from an older checkpoint stays valid on its own; its path does not fit a newer
    // checkpoint, whose own proof does.
    let log = log_with_batches(&[10]);
    let dir = log.path();
    let old = prove(&log, 3);
    fs::rename(dir.join("p3.proof"), dir.join("old.proof")).unwrap();
    let names = log.write_entries(10, 10);
    log.append(&names);
    let new = prove(&log, 3);
    let old_out = ok(
        dir,
        &[
            "proof",
            "verify",
            "old.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e3.bin",
        ],
    );
    assert!(old_out.contains("size 10\n"), "{old_out}");
    let new_out = ok(
        dir,
        &[
            "proof",
            "verify",
            "p3.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e3.bin",
        ],
    );
    assert!(new_out.contains("size 20\n"), "{new_out}");

    let (old_head, old_cp) = split_proof(&old);
    let (new_head, new_cp) = split_proof(&new);
    assert_ne!(old_head, new_head);
    fs::write(dir.join("mix1.proof"), format!("{old_head}{new_cp}")).unwrap();
    fs::write(dir.join("mix2.proof"), format!("{new_head}{old_cp}")).unwrap();
    for f in ["mix1.proof", "mix2.proof"] {
        fail_with(
            dir,
            &[
                "proof",
                "verify",
                f,
                "--log-key",
                &log.vkey,
                "--leaf",
                "e3.bin",
            ],
            "inclusion proof",
        );
    }
    // Entries appended later are not in the old tree.
    fail1(
        dir,
        &[
            "proof",
            "verify",
            "old.proof",
            "--log-key",
            &log.vkey,
            "--leaf",
            "e13.bin",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Input files that are missing, huge or not text
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_checkpoint_files_fail_cleanly() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let key = vs(&v, "/keys/sum.golang.org/verifier");
    let verify = |file: &str| {
        fail1(
            dir.path(),
            &["checkpoint", "verify", file, "--log-key", key],
        )
    };

    let line = verify("missing.cp");
    assert!(line.contains("missing.cp"), "{line}");
    fs::create_dir(dir.path().join("a-dir")).unwrap();
    verify("a-dir");
    fs::write(dir.path().join("empty.cp"), "").unwrap();
    verify("empty.cp");
    fs::write(
        dir.path().join("bin.cp"),
        [0u8, 0xff, 0xfe, b'\n', b'\n', 0x80],
    )
    .unwrap();
    verify("bin.cp");
    let (note, _) = sum_golang(&v, dir.path());
    let mut huge = note.clone().into_bytes();
    huge.extend(std::iter::repeat_n(b'a', 2 << 20));
    fs::write(dir.path().join("huge.cp"), huge).unwrap();
    let line = verify("huge.cp");
    assert!(line.contains("limit"), "{line}");
    // More signature lines (each from a different unknown key) than the 100 allowed.
    let text = &note[..note.rfind("\n\n").unwrap() + 2];
    let mut many = text.to_string();
    for i in 0..200 {
        many.push_str(&format!("— k{i} {}\n", B64.encode([1u8; 68])));
    }
    fs::write(dir.path().join("many.cp"), many).unwrap();
    verify("many.cp");
}
