//! End-to-end tests of the firmware workflow through the `fwlog` binary: `release create`,
//! `rebuild`, `attest`, `log append` (schema `fwlog/v1`), `submit`/`log integrate`, `bundle`,
//! `verify`, `allowlist` and `demo`.
//!
//! Every log here is initialised WITHOUT `--entries`, so the default `fwlog/v1` schema validates
//! each entry (log-format.md §9). The vendor builds `examples/tiny-firmware` (or a deliberately
//! broken recipe) once with the §11 environment; guest owners rebuild with `fwlog rebuild`. The
//! library is used only where there is no CLI (witness cosignatures, crafting invalid entries)
//! and, for speed, to check thousands of single-bit corruptions of a bundle.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{expect, git, keygen, run, Run};
use fwlog::bundle::Bundle;
use fwlog::cosignature;
use fwlog::entry::{self, Entry, Environment, ObtainedArtifact, ReleaseRef, Reproduction, Verdict};
use fwlog::note::SignerKey;
use fwlog::policy::Policy;
use fwlog::store::{LogStore, DEFAULT_BRANCH};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "example.com/fw-release-log";
const VENDOR: &str = "vendor.example/release";
const GO_A: &str = "go-a.example/rebuild";
const GO_B: &str = "go-b.example/rebuild";
const GO_C: &str = "go-c.example/rebuild";
const WITNESS: &str = "witness.example/w1";
const SOURCE: &str = "tiny-firmware-1.0.tar";
const SDE: &str = "1700000000";
/// The PATH of §11.
const RECIPE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/tiny-firmware")
        .join(file)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    expect(dir, args, 0)
}

/// Runs fwlog, asserts the exit code and that stderr names every one of `what`.
fn fails_with(dir: &Path, args: &[&str], code: i32, what: &[&str]) -> Run {
    let r = expect(dir, args, code);
    for w in what {
        assert!(
            r.stderr.contains(w),
            "fwlog {args:?}: stderr does not name {w:?}:\n{}",
            r.stderr
        );
    }
    r
}

/// A temp dir with keys for every role, an initialised `fwlog/v1` log at `log/`, and the tiny
/// firmware's source archive and recipe.
struct World {
    tmp: tempfile::TempDir,
    log_vkey: String,
    vendor_vkey: String,
    go_a: String,
    go_b: String,
    go_c: String,
    /// The witness's cosignature/v1 (type 0x04) verifier key.
    witness_vkey: String,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let log_vkey = keygen(d, ORIGIN, "log.key");
        let vendor_vkey = keygen(d, VENDOR, "vendor.key");
        let go_a = keygen(d, GO_A, "go-a.key");
        let go_b = keygen(d, GO_B, "go-b.key");
        let go_c = keygen(d, GO_C, "go-c.key");
        keygen(d, WITNESS, "witness.key");
        let witness_vkey = ok(d, &["key", "public", "--witness", "witness.key"])
            .stdout
            .trim()
            .to_string();
        let init = ok(
            d,
            &[
                "log", "init", "--repo", "log", "--origin", ORIGIN, "--key", "log.key",
            ],
        );
        assert!(init.stdout.contains(&log_vkey), "{}", init.stdout);
        let info = git(&d.join("log"), &["show", "fwlog:log-info"]);
        assert!(info.contains("entries fwlog/v1\n"), "log-info: {info}");
        fs::copy(example(SOURCE), d.join(SOURCE)).expect("copy source");
        fs::copy(example("build.sh"), d.join("build.sh")).expect("copy recipe");
        World {
            tmp,
            log_vkey,
            vendor_vkey,
            go_a,
            go_b,
            go_c,
            witness_vkey,
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn repo(&self) -> PathBuf {
        self.dir().join("log")
    }

    /// The log branch's commit.
    fn head(&self) -> String {
        git(&self.repo(), &["rev-parse", "fwlog"])
            .trim()
            .to_string()
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) {
        fs::write(self.dir().join(name), content).expect("write file");
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.dir().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    fn signer(&self, file: &str) -> SignerKey {
        let text = fs::read_to_string(self.dir().join(file)).expect("read key");
        SignerKey::parse(text.trim_end_matches('\n')).expect("parse key")
    }

    /// Runs `recipe` as the vendor's own build, in the §11 environment, in a fresh work
    /// directory `<tag>/`; returns the path of `<tag>/out/firmware.bin`.
    fn build(&self, recipe: &str, tag: &str) -> PathBuf {
        let w = self.dir().join(tag);
        let (out, build, home) = (w.join("out"), w.join("build"), w.join("home"));
        for d in [&out, &build, &home] {
            fs::create_dir_all(d).expect("mkdir");
        }
        let status = Command::new("/bin/sh")
            .arg("-eu")
            .arg(self.dir().join(recipe))
            .env_clear()
            .current_dir(&build)
            .env("PATH", RECIPE_PATH)
            .env("HOME", &home)
            .env("TZ", "UTC")
            .env("LC_ALL", "C.UTF-8")
            .env("LANG", "C.UTF-8")
            .env("SOURCE_DATE_EPOCH", SDE)
            .env("FWLOG_SOURCE", self.dir().join(SOURCE))
            .env("FWLOG_OUT", &out)
            .env("FWLOG_WORKDIR", &w)
            .stdin(Stdio::null())
            .status()
            .expect("run the vendor build");
        assert!(status.success(), "vendor build of {recipe} failed");
        out.join("firmware.bin")
    }

    /// `release create` of tiny-firmware `version` with `recipe` and one artifact.
    fn release(&self, recipe: &str, version: &str, artifact: &Path, out: &str) -> Run {
        ok(
            self.dir(),
            &[
                "release",
                "create",
                "--key",
                "vendor.key",
                "--name",
                "tiny-firmware",
                "--version",
                version,
                "--source",
                SOURCE,
                "--source-uri",
                "https://vendor.example/src/tiny-firmware-1.0.tar",
                "--recipe",
                recipe,
                "--artifact",
                artifact.to_str().expect("utf-8 path"),
                "--source-date-epoch",
                SDE,
                "--out",
                out,
            ],
        )
    }

    /// `log append` of `files` as one batch; returns the indexes it printed.
    fn append(&self, files: &[&str]) -> Vec<u64> {
        let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
        args.extend_from_slice(files);
        let r = ok(self.dir(), &args);
        r.stdout
            .lines()
            .map(|l| {
                let (i, f) = l.split_once(' ').expect("`<index> <file>`");
                assert!(files.contains(&f), "append printed {l:?}");
                i.parse().expect("index")
            })
            .collect()
    }

    /// `log append` that must be refused with `reason`, leaving the branch unchanged.
    fn append_refused(&self, file: &str, reason: &str) {
        let before = self.head();
        fails_with(
            self.dir(),
            &["log", "append", "--repo", "log", "--key", "log.key", file],
            1,
            &["append failed", reason],
        );
        assert_eq!(
            self.head(),
            before,
            "{file}: a refused append moved the branch"
        );
    }

    fn rebuild(&self, index: u64, key: &str, out: &str, extra: &[&str]) -> Run {
        let index = index.to_string();
        let mut args = vec![
            "rebuild", "--repo", "log", "--index", &index, "--source", SOURCE, "--key", key,
            "--out", out,
        ];
        args.extend_from_slice(extra);
        run(self.dir(), &args)
    }

    fn attest(&self, index: u64, key: &str, artifact: &str, out: &str) -> Run {
        let index = index.to_string();
        run(
            self.dir(),
            &[
                "attest",
                "--repo",
                "log",
                "--index",
                &index,
                "--key",
                key,
                "--artifact",
                artifact,
                "--out",
                out,
            ],
        )
    }

    /// The witness cosigns the head checkpoint (library: there is no witness CLI).
    fn cosign(&self) {
        let store = LogStore::open(&self.repo(), DEFAULT_BRANCH).expect("open log");
        let text = store
            .head()
            .expect("head")
            .checkpoint
            .note
            .text()
            .to_string();
        let sig = cosignature::cosign(&text, &self.signer("witness.key"), now());
        store.add_cosignatures(&text, &[sig]).expect("cosign");
    }

    /// A policy trusting this world's log, witness (`witness_quorum`), vendor (for
    /// tiny-firmware) and `rebuilders` (verifier keys) with `quorum` and `on_mismatch`.
    fn policy(
        &self,
        witness_quorum: usize,
        rebuilders: &[&str],
        quorum: usize,
        on_mismatch: &str,
    ) -> String {
        let list: Vec<String> = rebuilders.iter().map(|k| format!("\"{k}\"")).collect();
        format!(
            "[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n\
             [witnesses]\nquorum = {witness_quorum}\nkeys = [\"{}\"]\n\n\
             [[vendors]]\nkey = \"{}\"\nfirmware = [\"tiny-firmware\"]\n\n\
             [rebuilders]\nquorum = {quorum}\nkeys = [{}]\non_mismatch = \"{on_mismatch}\"\n",
            self.log_vkey,
            self.witness_vkey,
            self.vendor_vkey,
            list.join(", ")
        )
    }

    /// Writes `policy` to a file named after its digest; returns the name.
    fn policy_file(&self, policy: &str) -> String {
        let name = format!("policy-{}.toml", &sha256_hex(policy.as_bytes())[..12]);
        self.write(&name, policy);
        name
    }

    /// `fwlog verify` of the artifact with SHA-256 `sha` (hex) against `policy` and `bundle`.
    fn verify(&self, policy: &str, bundle: &str, sha: &str, json: bool) -> Run {
        let p = self.policy_file(policy);
        let mut args = vec![
            "verify", "--policy", &p, "--bundle", bundle, "--sha256", sha,
        ];
        if json {
            args.push("--json");
        }
        run(self.dir(), &args)
    }

    /// `verify` must fail (exit 1) naming `reason`, in text and in JSON.
    fn verify_rejects(&self, policy: &str, bundle: &str, sha: &str, reason: &str) {
        let r = self.verify(policy, bundle, sha, false);
        assert_eq!(r.code, 1, "verify accepted ({reason}):\n{}", r.stdout);
        assert!(
            r.stderr.starts_with("fwlog: verification failed: ") && r.stderr.contains(reason),
            "verify: stderr does not name {reason:?}:\n{}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        let j = self.verify(policy, bundle, sha, true);
        assert_eq!(j.code, 1);
        let v: Value = serde_json::from_str(&j.stdout).expect("verify --json output");
        assert_eq!(v["verified"], false);
        assert_eq!(v["sha256"], sha);
        assert!(v["error"].as_str().unwrap_or("").contains(reason), "{v}");
    }

    fn verify_accepts(&self, policy: &str, bundle: &str, sha: &str) -> Run {
        let r = self.verify(policy, bundle, sha, false);
        assert_eq!(
            r.code, 0,
            "verify refused:\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        assert!(r
            .stdout
            .starts_with(&format!("verified: {sha} is firmware.bin of tiny-firmware")));
        r
    }
}

/// The parsed content of an entry file, signature checked.
fn parse_entry_file(bytes: &[u8]) -> (String, Entry) {
    let p = entry::parse_entry(bytes).expect("entry parses and verifies");
    (p.signer.name().to_string(), p.entry)
}

fn reproduction_of(bytes: &[u8]) -> (String, Reproduction) {
    match parse_entry_file(bytes) {
        (signer, Entry::Reproduction(r)) => (signer, r),
        (_, Entry::Release(_)) => panic!("a release, not a reproduction"),
    }
}

/// Asserts the rebuild table on stdout: the header and one row per artifact with `result`.
fn assert_table(r: &Run, artifact: &str, result: &str, sha: &str) {
    let mut lines = r.stdout.lines();
    let header = lines.next().unwrap_or("");
    assert!(
        header.starts_with("artifact") && header.contains("result"),
        "no table header: {}",
        r.stdout
    );
    let row: Vec<&str> = lines
        .find(|l| l.starts_with(artifact))
        .unwrap_or_else(|| panic!("no row for {artifact}: {}", r.stdout))
        .split_whitespace()
        .collect();
    assert_eq!(row, [artifact, result, sha], "table: {}", r.stdout);
}

/// A log with tiny-firmware 1.0 released (entry 0), reproduced by GO-a and GO-b (entries 1 and
/// 2), a bundle made before the witness cosigned (`unwitnessed.bundle`) and one after
/// (`firmware.bundle`). Everything through the CLI but the cosignature.
struct Full {
    w: World,
    firmware: PathBuf,
    sha: String,
}

fn full_log() -> Full {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).expect("firmware"));
    let r = w.release("build.sh", "1.0", &firmware, "release.json");
    assert!(
        r.stderr
            .contains("wrote release tiny-firmware 1.0 (1 artifacts"),
        "{}",
        r.stderr
    );
    match parse_entry_file(&w.read("release.json")) {
        (signer, Entry::Release(rel)) => {
            assert_eq!(signer, VENDOR);
            assert_eq!(rel.artifacts.len(), 1);
            assert_eq!(rel.artifacts[0].name, "firmware.bin");
            assert_eq!(hex::encode(rel.artifacts[0].sha256), sha);
            assert_eq!(hex::encode(rel.source_sha256), sha256_hex(&w.read(SOURCE)));
            assert_eq!(rel.source_date_epoch.to_string(), SDE);
            assert_eq!(rel.recipe, fs::read_to_string(example("build.sh")).unwrap());
        }
        _ => panic!("release.json is not a release"),
    }
    assert_eq!(w.append(&["release.json"]), [0]);
    for (key, out, name) in [
        ("go-a.key", "repro-a.json", GO_A),
        ("go-b.key", "repro-b.json", GO_B),
    ] {
        let r = w.rebuild(0, key, out, &["--environment", name]);
        assert_eq!(r.code, 0, "rebuild by {name}: {}\n{}", r.stdout, r.stderr);
        assert_table(&r, "firmware.bin", "match", &sha);
        assert!(r.stderr.contains("verdict: reproduced"), "{}", r.stderr);
        let (signer, rep) = reproduction_of(&w.read(out));
        assert_eq!(signer, name);
        assert_eq!(rep.verdict, Verdict::Reproduced);
        assert_eq!(
            (rep.release.origin.as_str(), rep.release.index),
            (ORIGIN, 0)
        );
        assert_eq!(hex::encode(rep.artifacts[0].sha256), sha);
    }
    assert_eq!(w.append(&["repro-a.json", "repro-b.json"]), [1, 2]);
    let d = w.dir();
    ok(
        d,
        &[
            "bundle",
            "--repo",
            "log",
            "--sha256",
            &sha,
            "--out",
            "unwitnessed.bundle",
        ],
    );
    w.cosign();
    let fw = firmware.to_str().expect("utf-8");
    let b = ok(
        d,
        &[
            "bundle",
            "--repo",
            "log",
            "--artifact",
            fw,
            "--out",
            "firmware.bundle",
        ],
    );
    assert!(
        b.stderr.contains("with 2 reproduction(s)") && b.stderr.contains("checkpoint size 3"),
        "{}",
        b.stderr
    );
    Full { w, firmware, sha }
}

// ---------------------------------------------------------------------------------------------
// 1. Happy path
// ---------------------------------------------------------------------------------------------

#[test]
fn happy_path_release_rebuild_witness_bundle_verify_allowlist() {
    let Full { w, firmware, sha } = full_log();
    let d = w.dir();
    let policy = w.policy(1, &[&w.go_a, &w.go_b], 2, "reject");

    let r = w.verify_accepts(&policy, "firmware.bundle", &sha);
    for line in [
        format!("verified: {sha} is firmware.bin of tiny-firmware 1.0"),
        format!("released by {VENDOR}"),
        format!("reproduced by {GO_A}, {GO_B}"),
        format!("logged in {ORIGIN} at size 3, witnessed by {WITNESS}"),
    ] {
        assert!(
            r.stdout.lines().any(|l| l == line),
            "no {line:?} in\n{}",
            r.stdout
        );
    }
    // --artifact gives the same verdict as --sha256.
    let p = w.policy_file(&policy);
    let fw = firmware.to_str().expect("utf-8");
    ok(
        d,
        &[
            "verify",
            "--policy",
            &p,
            "--bundle",
            "firmware.bundle",
            "--artifact",
            fw,
        ],
    );

    let j = w.verify(&policy, "firmware.bundle", &sha, true);
    assert_eq!(j.code, 0, "{}", j.stderr);
    let v: Value = serde_json::from_str(&j.stdout).expect("json");
    assert_eq!(v["verified"], true);
    assert_eq!(v["sha256"], sha.as_str());
    assert_eq!(v["firmware"], "tiny-firmware");
    assert_eq!(v["version"], "1.0");
    assert_eq!(v["artifact"], "firmware.bin");
    assert_eq!(v["vendor"], VENDOR);
    assert_eq!(v["reproduced_by"], serde_json::json!([GO_A, GO_B]));
    assert_eq!(v["witnesses"], serde_json::json!([WITNESS]));
    assert_eq!(v["checkpoint_size"], 3);

    // Before the witness cosigned, a witness quorum of 1 is not met; quorum 0 is.
    w.verify_rejects(
        &policy,
        "unwitnessed.bundle",
        &sha,
        "checkpoint: 0 valid witness cosignature(s), 1 required",
    );
    let r = w.verify_accepts(
        &w.policy(0, &[&w.go_a, &w.go_b], 2, "reject"),
        "unwitnessed.bundle",
        &sha,
    );
    assert!(r.stdout.contains("witnessed by nobody"), "{}", r.stdout);

    // The allowlist lists the firmware digest.
    let a = ok(d, &["allowlist", "--repo", "log", "--policy", &p]);
    assert_eq!(
        a.stdout,
        format!("{sha} tiny-firmware 1.0 firmware.bin 0\n"),
        "stderr: {}",
        a.stderr
    );
    let a = ok(d, &["allowlist", "--repo", "log", "--policy", &p, "--json"]);
    let rows: Value = serde_json::from_str(&a.stdout).expect("allowlist json");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["sha256"], sha.as_str());
    assert_eq!(rows[0]["index"], 0);
    assert_eq!(rows[0]["reproduced_by"], serde_json::json!([GO_A, GO_B]));
    let sha384 = hex::encode(sha2::Sha384::digest(fs::read(&firmware).unwrap()));
    assert_eq!(rows[0]["sha384"], sha384.as_str());

    // The whole log audits clean, and lists what it holds.
    let a = ok(
        d,
        &["log", "verify", "--repo", "log", "--log-key", &w.log_vkey],
    );
    assert!(a.stdout.contains("log verified"), "{}", a.stdout);
    let l = ok(d, &["log", "list", "--repo", "log"]);
    let summaries: Vec<&str> = l.stdout.lines().collect();
    assert_eq!(summaries.len(), 3, "{}", l.stdout);
    assert!(summaries[0].ends_with(&format!(
        "release tiny-firmware 1.0 by {VENDOR} (1 artifacts)"
    )));
    assert!(summaries[1].ends_with(&format!("reproduction of #0 reproduced by {GO_A}")));
    assert!(summaries[2].ends_with(&format!("reproduction of #0 reproduced by {GO_B}")));
}

#[test]
fn rebuild_runs_the_recipe_in_exactly_the_section_11_environment() {
    let w = World::new();
    // The tiny recipe, plus a record of what the recipe saw.
    let recipe = format!(
        "env > \"$FWLOG_WORKDIR/env.txt\"\npwd > \"$FWLOG_WORKDIR/pwd.txt\"\n\
         cat > \"$FWLOG_WORKDIR/stdin.txt\"\n{}",
        fs::read_to_string(example("build.sh")).unwrap()
    );
    w.write("env-recipe.sh", &recipe);
    let firmware = w.build("env-recipe.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).unwrap());
    let fw = firmware.to_str().unwrap().to_string();
    ok(
        w.dir(),
        &[
            "release",
            "create",
            "--key",
            "vendor.key",
            "--name",
            "tiny-firmware",
            "--version",
            "1.0-env",
            "--source",
            SOURCE,
            "--recipe",
            "env-recipe.sh",
            "--artifact",
            &fw,
            "--env",
            "GREETING=hello world",
            "--source-date-epoch",
            SDE,
            "--out",
            "release.json",
        ],
    );
    assert_eq!(w.append(&["release.json"]), [0]);
    let r = w.rebuild(0, "go-a.key", "repro.json", &["--workdir", "wd"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_table(&r, "firmware.bin", "match", &sha);

    // The kept work directory has the §11 layout.
    let wd = w.dir().join("wd").canonicalize().unwrap();
    assert_eq!(fs::read_to_string(wd.join("recipe.sh")).unwrap(), recipe);
    assert_eq!(
        fs::read(wd.join("source").join(SOURCE)).unwrap(),
        w.read(SOURCE)
    );
    assert_eq!(
        sha256_hex(&fs::read(wd.join("out/firmware.bin")).unwrap()),
        sha
    );
    assert!(wd.join("home").is_dir());
    assert_eq!(
        fs::read_to_string(wd.join("pwd.txt")).unwrap().trim_end(),
        wd.join("build").to_str().unwrap()
    );
    assert_eq!(
        fs::read(wd.join("stdin.txt")).unwrap(),
        b"",
        "stdin is empty"
    );

    let env: BTreeMap<String, String> = fs::read_to_string(wd.join("env.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| k != "PWD" && k != "OLDPWD" && k != "SHLVL" && k != "_")
        .collect();
    let want: BTreeMap<String, String> = [
        (
            "FWLOG_SOURCE",
            wd.join("source").join(SOURCE).display().to_string(),
        ),
        ("FWLOG_OUT", wd.join("out").display().to_string()),
        ("FWLOG_WORKDIR", wd.display().to_string()),
        ("SOURCE_DATE_EPOCH", SDE.to_string()),
        ("PATH", RECIPE_PATH.to_string()),
        ("HOME", wd.join("home").display().to_string()),
        ("TZ", "UTC".to_string()),
        ("LC_ALL", "C.UTF-8".to_string()),
        ("LANG", "C.UTF-8".to_string()),
        ("GREETING", "hello world".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(env, want, "the recipe's environment");

    // A non-empty --workdir is refused before anything runs.
    fails_with(
        w.dir(),
        &[
            "rebuild",
            "--repo",
            "log",
            "--index",
            "0",
            "--source",
            SOURCE,
            "--key",
            "go-a.key",
            "--workdir",
            "wd",
            "--out",
            "again.json",
        ],
        1,
        &["is not empty"],
    );
    // So are a source archive with the wrong digest and an index that is not a release.
    fails_with(
        w.dir(),
        &[
            "rebuild", "--repo", "log", "--index", "0", "--source", "build.sh", "--key",
            "go-a.key", "--out", "x.json",
        ],
        1,
        &["source digest mismatch"],
    );
    w.append(&["repro.json"]);
    fails_with(
        w.dir(),
        &[
            "rebuild", "--repo", "log", "--index", "1", "--source", SOURCE, "--key", "go-a.key",
            "--out", "x.json",
        ],
        1,
        &["entry 1 is a reproduction, not a release"],
    );
    fails_with(
        w.dir(),
        &[
            "rebuild", "--repo", "log", "--index", "7", "--source", SOURCE, "--key", "go-a.key",
            "--out", "x.json",
        ],
        1,
        &["not in a log of size 2"],
    );
    assert!(!w.dir().join("x.json").exists());
}

// ---------------------------------------------------------------------------------------------
// 2. Mismatches
// ---------------------------------------------------------------------------------------------

#[test]
fn mismatch_is_detected_logged_and_judged_by_the_policy() {
    let w = World::new();
    w.write(
        "noisy.sh",
        "head -c 32 /dev/urandom > \"$FWLOG_OUT/firmware.bin\"\n\
         date +%s%N >> \"$FWLOG_OUT/firmware.bin\"\n",
    );
    let firmware = w.build("noisy.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).unwrap());
    w.release("noisy.sh", "2.0-noisy", &firmware, "release.json");
    assert_eq!(w.append(&["release.json"]), [0]);

    // GO-a rebuilds: not reproducible, exit 3, a signed `mismatch` entry.
    let r = w.rebuild(0, "go-a.key", "repro-a.json", &[]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("MISMATCH") && r.stdout.contains(&sha),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("verdict: mismatch"), "{}", r.stderr);
    let (signer, rep) = reproduction_of(&w.read("repro-a.json"));
    assert_eq!((signer.as_str(), rep.verdict), (GO_A, Verdict::Mismatch));
    assert_ne!(hex::encode(rep.artifacts[0].sha256), sha);

    // GO-b attests the vendor's own file (its pipeline agrees); GO-c attests another file.
    let fw = firmware.to_str().unwrap();
    let r = w.attest(0, "go-b.key", fw, "repro-b.json");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_table(&r, "firmware.bin", "match", &sha);
    fs::create_dir(w.dir().join("other")).unwrap();
    w.write("other/firmware.bin", b"not the released firmware");
    let r = w.attest(0, "go-c.key", "other/firmware.bin", "repro-c.json");
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("MISMATCH"), "{}", r.stdout);
    // A file under another name: the release's artifact is missing, the file is extra.
    let r = w.attest(0, "go-c.key", "noisy.sh", "repro-c2.json");
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(" missing ") && r.stdout.contains(" extra "),
        "{}",
        r.stdout
    );

    // Mismatches are logged like successes.
    assert_eq!(
        w.append(&["repro-a.json", "repro-b.json", "repro-c.json"]),
        [1, 2, 3]
    );
    let l = ok(w.dir(), &["log", "list", "--repo", "log"]).stdout;
    assert!(
        l.contains(&format!("reproduction of #0 mismatch by {GO_A}")),
        "{l}"
    );
    assert!(
        l.contains(&format!("reproduction of #0 reproduced by {GO_B}")),
        "{l}"
    );
    assert!(
        l.contains(&format!("reproduction of #0 mismatch by {GO_C}")),
        "{l}"
    );
    ok(
        w.dir(),
        &[
            "bundle",
            "--repo",
            "log",
            "--artifact",
            fw,
            "--out",
            "b.json",
        ],
    );

    // on_mismatch = "reject": a trusted rebuilder's mismatch rejects, naming it.
    let reject = w.policy(0, &[&w.go_a, &w.go_b], 1, "reject");
    w.verify_rejects(
        &reject,
        "b.json",
        &sha,
        &format!("trusted rebuilder {GO_A} reported a mismatch for this release (entry 1)"),
    );
    w.verify_rejects(
        &w.policy(0, &[&w.go_b, &w.go_c], 1, "reject"),
        "b.json",
        &sha,
        &format!("trusted rebuilder {GO_C} reported a mismatch for this release (entry 3)"),
    );
    // A mismatch from a key the policy does not list does not count.
    let r = w.verify_accepts(&w.policy(0, &[&w.go_b], 1, "reject"), "b.json", &sha);
    assert!(
        r.stdout.contains(&format!("reproduced by {GO_B}\n")),
        "{}",
        r.stdout
    );

    // on_mismatch = "ignore": passes when the quorum is met otherwise, with a warning.
    let ignore = w.policy(0, &[&w.go_a, &w.go_b], 1, "ignore");
    let r = w.verify_accepts(&ignore, "b.json", &sha);
    assert!(
        r.stdout.contains(&format!(
            "warning: {GO_A} reported a mismatch (ignored by the policy)"
        )),
        "{}",
        r.stdout
    );
    let j = w.verify(&ignore, "b.json", &sha, true);
    let v: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["reproduced_by"], serde_json::json!([GO_B]));
    w.verify_rejects(
        &w.policy(0, &[&w.go_a, &w.go_b], 2, "ignore"),
        "b.json",
        &sha,
        &format!("only 1 of the required 2 trusted rebuilders reproduced this release ({GO_B})"),
    );

    // The allowlist follows the same rules.
    let p = w.policy_file(&reject);
    let a = ok(w.dir(), &["allowlist", "--repo", "log", "--policy", &p]);
    assert_eq!(a.stdout, "");
    assert!(a.stderr.contains("skipped entry 0") && a.stderr.contains("reported a mismatch"));
    let p = w.policy_file(&ignore);
    let a = ok(w.dir(), &["allowlist", "--repo", "log", "--policy", &p]);
    assert!(a.stdout.starts_with(&sha), "{}", a.stdout);
}

// ---------------------------------------------------------------------------------------------
// 3. Recipe failures and timeouts
// ---------------------------------------------------------------------------------------------

#[test]
fn failed_and_timed_out_recipes_exit_4_and_are_logged_as_failed() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).unwrap());
    w.write("fail.sh", "echo about to fail >&2\nexit 7\n");
    w.write("slow.sh", "echo sleeping\nsleep 30\n");
    // Succeeds but leaves a background process holding its output open.
    w.write(
        "lingering.sh",
        format!(
            "sleep 30 &\n{}",
            fs::read_to_string(example("build.sh")).unwrap()
        ),
    );
    w.release("fail.sh", "3.0-fail", &firmware, "rel-fail.json");
    w.release("slow.sh", "3.0-slow", &firmware, "rel-slow.json");
    w.release(
        "lingering.sh",
        "3.0-lingering",
        &firmware,
        "rel-linger.json",
    );
    assert_eq!(
        w.append(&["rel-fail.json", "rel-slow.json", "rel-linger.json"]),
        [0, 1, 2]
    );

    let r = w.rebuild(0, "go-a.key", "repro-fail.json", &[]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("about to fail"),
        "recipe output is shown: {}",
        r.stderr
    );
    assert!(r.stderr.contains("recipe exit status: 7"), "{}", r.stderr);
    assert!(r.stderr.contains("verdict: failed"), "{}", r.stderr);
    let (_, rep) = reproduction_of(&w.read("repro-fail.json"));
    assert_eq!(rep.verdict, Verdict::Failed);
    assert!(rep.note.unwrap_or_default().contains("exit status: 7"));

    let t = Instant::now();
    let r = w.rebuild(1, "go-a.key", "repro-slow.json", &["--timeout", "1"]);
    let elapsed = t.elapsed();
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        elapsed < Duration::from_secs(10),
        "timeout took {elapsed:?}"
    );
    assert!(
        r.stderr.contains("recipe timed out after 1 s"),
        "{}",
        r.stderr
    );
    let (_, rep) = reproduction_of(&w.read("repro-slow.json"));
    assert_eq!(rep.verdict, Verdict::Failed);
    assert!(rep.note.unwrap_or_default().contains("timed out"));

    let t = Instant::now();
    let r = w.rebuild(2, "go-a.key", "repro-linger.json", &[]);
    let elapsed = t.elapsed();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        elapsed < Duration::from_secs(10),
        "a lingering child held rebuild {elapsed:?}"
    );

    // Failed entries are logged; they neither count toward nor reject a release.
    assert_eq!(
        w.append(&["repro-fail.json", "repro-slow.json", "repro-linger.json"]),
        [3, 4, 5]
    );
    let l = ok(w.dir(), &["log", "list", "--repo", "log"]).stdout;
    assert!(
        l.contains(&format!("reproduction of #0 failed by {GO_A}")),
        "{l}"
    );
    assert!(
        l.contains(&format!("reproduction of #1 failed by {GO_A}")),
        "{l}"
    );
    // Three releases list this digest; bundle takes the first (entry 0).
    let b = ok(
        w.dir(),
        &[
            "bundle", "--repo", "log", "--sha256", &sha, "--out", "b.json",
        ],
    );
    assert!(
        b.stderr.contains("3 releases list this artifact"),
        "{}",
        b.stderr
    );
    w.verify_rejects(
        &w.policy(0, &[&w.go_a], 1, "reject"),
        "b.json",
        &sha,
        "only 0 of the required 1 trusted rebuilders reproduced this release",
    );
    w.verify_accepts(&w.policy(0, &[&w.go_a], 0, "reject"), "b.json", &sha);
}

// ---------------------------------------------------------------------------------------------
// 4. Bundle verification failures
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_names_the_rule_a_bundle_breaks() {
    let Full { w, sha, .. } = full_log();
    let good = w.policy(1, &[&w.go_a, &w.go_b], 2, "reject");
    w.verify_accepts(&good, "firmware.bundle", &sha);

    // The artifact is not a subject of the release.
    let other = sha256_hex(b"some other firmware");
    w.verify_rejects(
        &good,
        "firmware.bundle",
        &other,
        &format!("the artifact (sha256 {other}) is not a subject of the release"),
    );
    fails_with(
        w.dir(),
        &[
            "verify",
            "--policy",
            &w.policy_file(&good),
            "--bundle",
            "firmware.bundle",
            "--artifact",
            "build.sh",
        ],
        1,
        &["is not a subject of the release"],
    );

    // The vendor key may not release this firmware name; an unlisted vendor key.
    let ovmf_only = good.replace("firmware = [\"tiny-firmware\"]", "firmware = [\"ovmf\"]");
    w.verify_rejects(
        &ovmf_only,
        "firmware.bundle",
        &sha,
        &format!("vendor key {VENDOR} may not release firmware \"tiny-firmware\" (allowed: ovmf)"),
    );
    let other_vendor = good.replace(&w.vendor_vkey, &w.go_c);
    w.verify_rejects(
        &other_vendor,
        "firmware.bundle",
        &sha,
        "which is not a vendor key in the policy",
    );

    // Rebuilder quorum: a listed key that never reproduced it does not count.
    w.verify_rejects(
        &w.policy(1, &[&w.go_a, &w.go_c], 2, "reject"),
        "firmware.bundle",
        &sha,
        &format!("only 1 of the required 2 trusted rebuilders reproduced this release ({GO_A})"),
    );

    // Witness quorum: no cosignature; a cosignature from an unlisted witness.
    w.verify_rejects(
        &good,
        "unwitnessed.bundle",
        &sha,
        "0 valid witness cosignature(s), 1 required",
    );
    keygen(w.dir(), WITNESS, "witness2.key");
    let w2 = ok(w.dir(), &["key", "public", "--witness", "witness2.key"]).stdout;
    w.verify_rejects(
        &good.replace(&w.witness_vkey, w2.trim()),
        "firmware.bundle",
        &sha,
        "0 valid witness cosignature(s), 1 required",
    );

    // The policy names another log key (same name), or another origin.
    let imposter_key = keygen(w.dir(), ORIGIN, "imposter.key");
    w.verify_rejects(
        &good.replace(&w.log_vkey, &imposter_key),
        "firmware.bundle",
        &sha,
        "bundle is for log",
    );
    w.verify_rejects(
        &good.replace(
            &format!("origin = \"{ORIGIN}\""),
            "origin = \"example.com/other-log\"",
        ),
        "firmware.bundle",
        &sha,
        "bundle is for log",
    );

    // An imposter log with the same origin holding the very same (validly signed) entries.
    let d = w.dir();
    ok(
        d,
        &[
            "log",
            "init",
            "--repo",
            "evil",
            "--origin",
            ORIGIN,
            "--key",
            "imposter.key",
        ],
    );
    ok(
        d,
        &[
            "log",
            "append",
            "--repo",
            "evil",
            "--key",
            "imposter.key",
            "release.json",
            "repro-a.json",
            "repro-b.json",
        ],
    );
    ok(
        d,
        &[
            "bundle",
            "--repo",
            "evil",
            "--sha256",
            &sha,
            "--out",
            "evil.bundle",
        ],
    );
    let lax = w.policy(0, &[&w.go_a, &w.go_b], 2, "reject");
    w.verify_rejects(&lax, "evil.bundle", &sha, "bundle is for log");
    // …even when its logKey field is rewritten to the trusted key.
    let mut evil = Bundle::parse(&w.read("evil.bundle")).expect("parse");
    evil.log_key = w.log_vkey.clone();
    w.write("evil2.bundle", evil.to_bytes());
    w.verify_rejects(
        &lax,
        "evil2.bundle",
        &sha,
        "checkpoint: checkpoint has no signature from the log key",
    );

    // Not a bundle at all, and a missing file.
    w.write("junk.bundle", "{}");
    w.verify_rejects(&good, "junk.bundle", &sha, "malformed bundle");
    let r = w.verify(&good, "no-such.bundle", &sha, false);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot open no-such.bundle"),
        "{}",
        r.stderr
    );
}

#[test]
fn one_rebuilder_key_counts_once_however_many_entries_it_signs() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).unwrap());
    w.release("build.sh", "1.0", &firmware, "release.json");
    assert_eq!(w.append(&["release.json"]), [0]);
    for i in 1..=3 {
        let out = format!("repro-a{i}.json");
        let env = format!("GO-a run {i}");
        let r = w.rebuild(0, "go-a.key", &out, &["--environment", &env]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // A key carrying GO-b's name but not GO-b's key material.
    keygen(w.dir(), GO_B, "fake-go-b.key");
    assert_eq!(
        w.rebuild(0, "fake-go-b.key", "repro-fake-b.json", &[]).code,
        0
    );
    assert_eq!(
        w.append(&[
            "repro-a1.json",
            "repro-a2.json",
            "repro-a3.json",
            "repro-fake-b.json"
        ]),
        [1, 2, 3, 4]
    );
    let b = ok(
        w.dir(),
        &[
            "bundle", "--repo", "log", "--sha256", &sha, "--out", "b.json",
        ],
    );
    assert!(b.stderr.contains("with 4 reproduction(s)"), "{}", b.stderr);

    w.verify_rejects(
        &w.policy(0, &[&w.go_a, &w.go_b], 2, "reject"),
        "b.json",
        &sha,
        &format!("only 1 of the required 2 trusted rebuilders reproduced this release ({GO_A})"),
    );
    let one = w.policy(0, &[&w.go_a, &w.go_b], 1, "reject");
    let j = w.verify(&one, "b.json", &sha, true);
    assert_eq!(j.code, 0, "{}", j.stderr);
    let v: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["reproduced_by"], serde_json::json!([GO_A]));
}

#[test]
fn one_rebuilder_key_under_two_names_counts_once() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).unwrap());
    w.release("build.sh", "1.0", &firmware, "release.json");
    assert_eq!(w.append(&["release.json"]), [0]);
    // The same secret seed as GO-a, under another name (a new key ID, same public key).
    // `PRIVATE+KEY+<name>+<id>+<base64>`: the base64 may itself contain `+`.
    let key_text = fs::read_to_string(w.dir().join("go-a.key")).unwrap();
    let seed_b64 = key_text
        .trim_end()
        .splitn(5, '+')
        .nth(4)
        .unwrap()
        .to_string();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(seed_b64)
        .unwrap();
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    let alias = SignerKey::from_seed("go-a-alias.example/rebuild", seed).unwrap();
    let alias_file = w.dir().join("alias.key");
    fs::write(&alias_file, format!("{}\n", alias.to_key_string())).unwrap();
    fs::set_permissions(&alias_file, fs::Permissions::from_mode(0o600)).unwrap();
    let alias_vkey = alias.verifier_key().to_string();
    assert_eq!(
        alias.verifier_key().public_key(),
        w.signer("go-a.key").verifier_key().public_key()
    );
    assert_eq!(w.rebuild(0, "go-a.key", "ra.json", &[]).code, 0);
    assert_eq!(w.rebuild(0, "alias.key", "ralias.json", &[]).code, 0);
    assert_eq!(w.append(&["ra.json", "ralias.json"]), [1, 2]);
    ok(
        w.dir(),
        &[
            "bundle", "--repo", "log", "--sha256", &sha, "--out", "b.json",
        ],
    );
    // One key pair must not meet a quorum of two independent rebuilders: either the policy
    // is refused (the key is listed twice) or the quorum is not met.
    let policy = w.policy(0, &[&w.go_a, &alias_vkey], 2, "reject");
    let r = w.verify(&policy, "b.json", &sha, false);
    assert_eq!(
        r.code, 1,
        "one key pair met a rebuilder quorum of 2:\n{}",
        r.stdout
    );
}

#[test]
fn every_single_bit_flip_of_a_bundle_is_rejected() {
    let Full { w, sha, .. } = full_log();
    let policy_text = w.policy(1, &[&w.go_a, &w.go_b], 2, "reject");
    let policy = Policy::parse(&policy_text).expect("policy");
    let digest: [u8; 32] = hex::decode(&sha).unwrap().try_into().unwrap();
    let bytes = w.read("firmware.bundle");
    Bundle::parse(&bytes)
        .and_then(|b| b.verify(&policy, &digest))
        .expect("the unmodified bundle verifies");
    assert!(bytes.len() >= 2000, "bundle is only {} bytes", bytes.len());

    // Every byte position with one bit each (rotating through the 8 bits), and all 8 bits of
    // every byte before the release entry (format, origin, logKey, checkpoint with its
    // signature and cosignature lines).
    let header = bytes
        .windows(11)
        .position(|w| w == b"\"release\":{")
        .expect("release field");
    let mut flips: Vec<(usize, u8)> = (0..bytes.len()).map(|i| (i, 1u8 << (i % 8))).collect();
    for i in 0..header {
        flips.extend((0..8).filter(|b| *b != i % 8).map(|b| (i, 1u8 << b)));
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = flips.len().div_ceil(threads);
    let accepted: Vec<(usize, u8)> = std::thread::scope(|s| {
        let handles: Vec<_> = flips
            .chunks(chunk)
            .map(|part| {
                let (bytes, policy) = (&bytes, &policy);
                s.spawn(move || {
                    let mut accepted = Vec::new();
                    for &(i, mask) in part {
                        let mut b = bytes.clone();
                        b[i] ^= mask;
                        if Bundle::parse(&b)
                            .and_then(|b| b.verify(policy, &digest))
                            .is_ok()
                        {
                            accepted.push((i, mask));
                        }
                    }
                    accepted
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("no panic"))
            .collect()
    });
    println!(
        "bundle of {} bytes: {} single-bit flips, {} rejected, {} accepted",
        bytes.len(),
        flips.len(),
        flips.len() - accepted.len(),
        accepted.len()
    );
    assert!(
        accepted.is_empty(),
        "{} corrupted bundles verified, e.g. (position, mask) {:?}",
        accepted.len(),
        &accepted[..accepted.len().min(10)]
    );

    // A handful through the binary, spread over the file.
    let p = w.policy_file(&policy_text);
    for k in 1..=8 {
        let i = bytes.len() * k / 9;
        let mut b = bytes.clone();
        b[i] ^= 0x04;
        w.write("flipped.bundle", &b);
        let r = expect(
            w.dir(),
            &[
                "verify",
                "--policy",
                &p,
                "--bundle",
                "flipped.bundle",
                "--sha256",
                &sha,
            ],
            1,
        );
        assert!(
            r.stderr.starts_with("fwlog: verification failed: "),
            "byte {i}: {}",
            r.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. log append (and submit) reject invalid entries, writing nothing
// ---------------------------------------------------------------------------------------------

fn crafted(rr: ReleaseRef, verdict: Verdict, artifacts: Vec<ObtainedArtifact>) -> Reproduction {
    Reproduction {
        release: rr,
        verdict,
        artifacts,
        environment: Environment {
            description: "crafted by the test".into(),
            container_image: None,
            debian_snapshot: None,
        },
        rebuilt_on: now(),
        note: None,
    }
}

#[test]
fn log_append_rejects_invalid_entries_and_writes_nothing() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    w.release("build.sh", "1.0", &firmware, "release.json");
    assert_eq!(w.append(&["release.json"]), [0]);
    assert_eq!(w.rebuild(0, "go-a.key", "repro-a.json", &[]).code, 0);
    assert_eq!(w.append(&["repro-a.json"]), [1]);
    assert_eq!(w.rebuild(0, "go-b.key", "repro-b.json", &[]).code, 0);

    let release = w.read("release.json");
    let repro_a = w.read("repro-a.json");
    let repro_b = w.read("repro-b.json");
    let go_b = w.signer("go-b.key");
    let rel_artifacts: Vec<ObtainedArtifact> = match parse_entry_file(&release).1 {
        Entry::Release(r) => r
            .artifacts
            .iter()
            .map(|a| ObtainedArtifact {
                name: a.name.clone(),
                sha256: a.sha256,
                sha384: a.sha384,
            })
            .collect(),
        Entry::Reproduction(_) => unreachable!(),
    };
    let sign = |r: Reproduction| r.sign(&go_b).expect("sign crafted reproduction");

    // A bad signature: one base64 character of `sig` changed (still canonical base64).
    let text = String::from_utf8(repro_b.clone()).unwrap();
    let at = text.find("\"sig\":\"").unwrap() + 7 + 20;
    let mut bad_sig = text.clone().into_bytes();
    bad_sig[at] = if bad_sig[at] == b'A' { b'B' } else { b'A' };
    // …and one character of the payload changed (the signed message differs).
    let at = text.find("\"payload\":\"").unwrap() + 11 + 40;
    let mut bad_payload = text.clone().into_bytes();
    bad_payload[at] = if bad_payload[at] == b'A' { b'B' } else { b'A' };

    let mut wrong_leaf = entry::release_ref(ORIGIN, 0, &release);
    wrong_leaf.leaf_hash.0[0] ^= 1;
    let mut wrong_digest = entry::release_ref(ORIGIN, 0, &release);
    wrong_digest.entry_sha256[31] ^= 0x80;
    let mut wrong_artifacts = rel_artifacts.clone();
    wrong_artifacts[0].sha256[0] ^= 1;
    let unknown_predicate = entry::sign_entry(
        format!(
            "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{{\"name\":\"firmware.bin\",\
             \"digest\":{{\"sha256\":\"{}\"}}}}],\"predicateType\":\"https://example.com/other/v1\",\
             \"predicate\":{{}}}}",
            sha256_hex(b"x")
        )
        .as_bytes(),
        &w.signer("vendor.key"),
    );
    let other_payload_type =
        entry::dsse::Envelope::sign("text/plain", b"hello", &w.signer("vendor.key")).to_bytes();

    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("bad-sig", bad_sig, format!("signature by {GO_B}")),
        ("bad-payload", bad_payload, "does not verify".into()),
        (
            "not-dsse",
            b"{\"hello\":\"world\"}".to_vec(),
            "malformed DSSE envelope".into(),
        ),
        (
            "not-json",
            b"firmware!".to_vec(),
            "malformed DSSE envelope".into(),
        ),
        (
            "payload-type",
            other_payload_type,
            "payloadType \"text/plain\"".into(),
        ),
        (
            "unknown-predicate",
            unknown_predicate,
            "unknown predicateType \"https://example.com/other/v1\"".into(),
        ),
        (
            "not-a-release",
            sign(crafted(
                entry::release_ref(ORIGIN, 1, &repro_a),
                Verdict::Failed,
                vec![],
            )),
            "entry 1 is not a release".into(),
        ),
        (
            "beyond-size",
            sign(crafted(
                entry::release_ref(ORIGIN, 5, &release),
                Verdict::Failed,
                vec![],
            )),
            "release index 5 is not in the log".into(),
        ),
        (
            "far-beyond-size",
            sign(crafted(
                entry::release_ref(ORIGIN, u64::MAX, &release),
                Verdict::Failed,
                vec![],
            )),
            format!("release index {} is not in the log", u64::MAX),
        ),
        (
            "wrong-leaf",
            sign(crafted(wrong_leaf, Verdict::Failed, vec![])),
            "leafHash does not match entry 0".into(),
        ),
        (
            "wrong-entry-digest",
            sign(crafted(wrong_digest, Verdict::Failed, vec![])),
            "subject sha256 does not match entry 0".into(),
        ),
        (
            "wrong-origin",
            sign(crafted(
                entry::release_ref("example.com/other-log", 0, &release),
                Verdict::Failed,
                vec![],
            )),
            "reproduction is for log \"example.com/other-log\"".into(),
        ),
        (
            "reproduced-but-different",
            sign(crafted(
                entry::release_ref(ORIGIN, 0, &release),
                Verdict::Reproduced,
                wrong_artifacts,
            )),
            "verdict contradicted".into(),
        ),
        (
            "mismatch-but-equal",
            sign(crafted(
                entry::release_ref(ORIGIN, 0, &release),
                Verdict::Mismatch,
                rel_artifacts.clone(),
            )),
            "verdict contradicted".into(),
        ),
    ];
    let before = w.head();
    for (name, bytes, reason) in &cases {
        let file = format!("{name}.json");
        w.write(&file, bytes);
        w.append_refused(&file, reason);
        // submit validates the same way and commits nothing either.
        fails_with(w.dir(), &["submit", "--repo", "log", &file], 1, &[reason]);
        assert_eq!(w.head(), before, "{name}: submit moved the branch");
        // In a batch after a valid entry, nothing of the batch is written. (The reason may
        // differ: the batch's first entry counts toward the size the second one sees.)
        let r = fails_with(
            w.dir(),
            &[
                "log",
                "append",
                "--repo",
                "log",
                "--key",
                "log.key",
                "repro-b.json",
                &file,
            ],
            1,
            &["append failed"],
        );
        assert_eq!(
            w.head(),
            before,
            "{name}: a refused batch moved the branch:\n{}",
            r.stderr
        );
    }
    let l = ok(w.dir(), &["log", "list", "--repo", "log"]).stdout;
    assert_eq!(l.lines().count(), 2, "{l}");

    // A release and a reproduction of it in one batch are accepted (the index counts the
    // earlier entries of the batch).
    let firmware2 = w.build("build.sh", "vendor2");
    w.release("build.sh", "1.1", &firmware2, "release2.json");
    let rel2 = w.read("release2.json");
    w.write(
        "repro-rel2.json",
        sign(crafted(
            entry::release_ref(ORIGIN, 2, &rel2),
            Verdict::Reproduced,
            rel_artifacts,
        )),
    );
    assert_eq!(w.append(&["release2.json", "repro-rel2.json"]), [2, 3]);

    // The valid entry goes in through submit + integrate.
    let before = w.head();
    let s = ok(w.dir(), &["submit", "--repo", "log", "repro-b.json"]);
    assert!(s.stdout.starts_with("pending/"), "{}", s.stdout);
    assert_ne!(w.head(), before);
    let i = ok(
        w.dir(),
        &["log", "integrate", "--repo", "log", "--key", "log.key"],
    );
    assert!(i.stdout.starts_with("4 pending/"), "{}", i.stdout);
    let a = ok(
        w.dir(),
        &["log", "verify", "--repo", "log", "--log-key", &w.log_vkey],
    );
    assert!(a.stdout.contains("log verified"), "{}", a.stdout);
}

#[test]
fn a_reproduction_may_reference_only_earlier_entries() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    w.release("build.sh", "1.0", &firmware, "release.json");
    assert_eq!(w.append(&["release.json"]), [0]);
    let release = w.read("release.json");
    let go_a = w.signer("go-a.key");
    let artifacts: Vec<ObtainedArtifact> = match parse_entry_file(&release).1 {
        Entry::Release(r) => r
            .artifacts
            .iter()
            .map(|a| ObtainedArtifact {
                name: a.name.clone(),
                sha256: a.sha256,
                sha384: a.sha384,
            })
            .collect(),
        Entry::Reproduction(_) => unreachable!(),
    };
    // A reproduction placed BEFORE the release it names, in one batch: index 1 names index 2.
    w.release("build.sh", "1.1", &firmware, "release2.json");
    let rel2 = w.read("release2.json");
    let forward = crafted(
        entry::release_ref(ORIGIN, 2, &rel2),
        Verdict::Reproduced,
        artifacts,
    );
    w.write("forward.json", forward.sign(&go_a).unwrap());
    let before = w.head();
    let r = run(
        w.dir(),
        &[
            "log",
            "append",
            "--repo",
            "log",
            "--key",
            "log.key",
            "forward.json",
            "release2.json",
        ],
    );
    assert_eq!(
        (r.code, w.head() == before),
        (1, true),
        "a reproduction of a later entry was logged:\n{}{}",
        r.stdout,
        r.stderr
    );
    // A reproduction naming its own index (1, the log size) is out of range.
    let own = crafted(
        entry::release_ref(ORIGIN, 1, &release),
        Verdict::Failed,
        vec![],
    );
    w.write("own.json", own.sign(&go_a).unwrap());
    w.append_refused("own.json", "release index 1 is not in the log (size 1)");
}

// ---------------------------------------------------------------------------------------------
// 6. Artifacts that are not regular files inside FWLOG_OUT
// ---------------------------------------------------------------------------------------------

#[test]
fn rebuild_never_follows_an_artifact_symlink() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    let sha = sha256_hex(&fs::read(&firmware).unwrap());
    // Each recipe builds the genuine firmware.bin somewhere else, then puts a non-regular file
    // at $FWLOG_OUT/firmware.bin: following it would yield the released bytes.
    let build_real = "mkdir src \"$FWLOG_WORKDIR/real\"\ntar -xf \"$FWLOG_SOURCE\" -C src\n\
                      (cd src && sh ./make.sh \"$FWLOG_WORKDIR/real\")\n";
    let cases = [
        (
            "abs-link",
            "ln -s \"$FWLOG_WORKDIR/real/firmware.bin\" \"$FWLOG_OUT/firmware.bin\"".to_string(),
            "firmware.bin: is a symlink; artifacts must be regular files",
        ),
        (
            "rel-link",
            "ln -s ../real/firmware.bin \"$FWLOG_OUT/firmware.bin\"".to_string(),
            "firmware.bin: is a symlink; artifacts must be regular files",
        ),
        (
            "outside-link",
            format!("ln -s '{}' \"$FWLOG_OUT/firmware.bin\"", firmware.display()),
            "firmware.bin: is a symlink; artifacts must be regular files",
        ),
        (
            "directory",
            "mkdir \"$FWLOG_OUT/firmware.bin\"".to_string(),
            "firmware.bin: not a regular file",
        ),
        (
            "fifo",
            "mkfifo \"$FWLOG_OUT/firmware.bin\"".to_string(),
            "firmware.bin: not a regular file",
        ),
    ];
    let mut entries = Vec::new();
    for (i, (tag, tail, _)) in cases.iter().enumerate() {
        let recipe = format!("{tag}.sh");
        w.write(&recipe, format!("{build_real}{tail}\n"));
        w.release(
            &recipe,
            &format!("4.0-{tag}"),
            &firmware,
            &format!("rel-{tag}.json"),
        );
        assert_eq!(w.append(&[&format!("rel-{tag}.json")]), [i as u64]);
    }
    for (i, (tag, _, problem)) in cases.iter().enumerate() {
        let out = format!("repro-{tag}.json");
        let t = Instant::now();
        let r = w.rebuild(i as u64, "go-a.key", &out, &[]);
        assert!(t.elapsed() < Duration::from_secs(10), "{tag}: rebuild hung");
        assert_eq!(r.code, 3, "{tag}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!("fwlog: artifact {problem}")),
            "{tag}: {}",
            r.stderr
        );
        assert!(r.stdout.contains(" missing "), "{tag}: {}", r.stdout);
        assert!(!r.stdout.contains(" match "), "{tag}: {}", r.stdout);
        let (_, rep) = reproduction_of(&w.read(&out));
        assert_eq!(rep.verdict, Verdict::Mismatch, "{tag}");
        assert!(rep.artifacts.is_empty(), "{tag}: {:?}", rep.artifacts);
        entries.push(out);
    }
    // The mismatches are logged; none counts as a reproduction.
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    assert_eq!(w.append(&refs).len(), cases.len());
    ok(
        w.dir(),
        &[
            "bundle", "--repo", "log", "--sha256", &sha, "--out", "b.json",
        ],
    );
    w.verify_rejects(
        &w.policy(0, &[&w.go_a], 1, "reject"),
        "b.json",
        &sha,
        &format!("trusted rebuilder {GO_A} reported a mismatch"),
    );

    // attest refuses a symlink too.
    std::os::unix::fs::symlink(&firmware, w.dir().join("firmware.bin")).unwrap();
    let r = w.attest(0, "go-b.key", "firmware.bin", "attest.json");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("firmware.bin: is a symlink"),
        "{}",
        r.stderr
    );
    assert!(!w.dir().join("attest.json").exists());
}

#[test]
fn rebuild_does_not_read_artifacts_through_a_symlinked_fwlog_out() {
    let w = World::new();
    let firmware = w.build("build.sh", "vendor");
    let outside = firmware.parent().unwrap().canonicalize().unwrap();
    w.write(
        "swap-out.sh",
        format!(
            "rmdir \"$FWLOG_OUT\"\nln -s '{}' \"$FWLOG_OUT\"\n",
            outside.display()
        ),
    );
    w.release("swap-out.sh", "5.0", &firmware, "release.json");
    assert_eq!(w.append(&["release.json"]), [0]);
    let r = w.rebuild(0, "go-a.key", "repro.json", &[]);
    assert_eq!(
        r.code, 3,
        "the recipe built nothing, yet the verdict is not a mismatch:\n{}\n{}",
        r.stdout, r.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Policy file strictness
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_and_allowlist_refuse_a_malformed_policy_naming_the_problem() {
    let Full { w, sha, .. } = full_log();
    let good = w.policy(1, &[&w.go_a, &w.go_b], 2, "reject");
    w.verify_accepts(&good, "firmware.bundle", &sha);
    let mut bad_log_key = w.log_vkey.clone();
    let id = bad_log_key.find('+').unwrap() + 1;
    bad_log_key.replace_range(
        id..id + 1,
        if &bad_log_key[id..id + 1] == "0" {
            "1"
        } else {
            "0"
        },
    );
    let cases: Vec<(&str, String, String)> = vec![
        (
            "unknown key",
            good.replace("[log]\n", "[log]\nmirror = \"https://x\"\n"),
            "unknown field `mirror`".into(),
        ),
        (
            "unknown table",
            format!("{good}\n[extras]\nx = 1\n"),
            "unknown field `extras`".into(),
        ),
        (
            "duplicate key",
            good.replace("quorum = 2\n", "quorum = 2\nquorum = 1\n"),
            "duplicate key".into(),
        ),
        (
            "duplicate table",
            format!(
                "{good}\n[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n",
                w.log_vkey
            ),
            "policy is not valid TOML for fwlog".into(),
        ),
        (
            "bad key string",
            good.replace(&w.log_vkey, &bad_log_key),
            format!("policy: log key \"{bad_log_key}\""),
        ),
        (
            "not a key",
            good.replace(&w.go_b, "go-b.example/rebuild"),
            "policy: rebuilder key \"go-b.example/rebuild\"".into(),
        ),
        (
            "witness key of the wrong type",
            good.replace(&w.witness_vkey, &w.go_c),
            "must be a cosignature/v1 (0x04) key".into(),
        ),
        (
            "log key of the wrong type",
            good.replace(&w.log_vkey, &w.witness_vkey),
            "policy: log key".into(),
        ),
        (
            "rebuilder listed twice",
            good.replace(&w.go_b, &w.go_a),
            "is listed twice".into(),
        ),
        (
            "quorum above the keys",
            good.replace("quorum = 2\n", "quorum = 3\n"),
            "rebuilder quorum 3 is more than the 2 rebuilder keys listed".into(),
        ),
        (
            "witness quorum above the keys",
            good.replace("quorum = 1\n", "quorum = 2\n"),
            "witness quorum 2 is more than the 1 witness keys listed".into(),
        ),
        (
            "bad on_mismatch",
            good.replace("on_mismatch = \"reject\"", "on_mismatch = \"maybe\""),
            "policy is not valid TOML for fwlog".into(),
        ),
        (
            "vendor with no firmware",
            good.replace("firmware = [\"tiny-firmware\"]", "firmware = []"),
            "may release no firmware".into(),
        ),
        (
            "wrong value type",
            good.replace("quorum = 2\n", "quorum = \"2\"\n"),
            "policy is not valid TOML for fwlog".into(),
        ),
        (
            "not TOML",
            "[log\n".into(),
            "policy is not valid TOML for fwlog".into(),
        ),
    ];
    for (what, text, reason) in &cases {
        assert_ne!(text, &good, "{what}: the replacement changed nothing");
        let p = w.policy_file(text);
        let r = fails_with(
            w.dir(),
            &[
                "verify",
                "--policy",
                &p,
                "--bundle",
                "firmware.bundle",
                "--sha256",
                &sha,
            ],
            1,
            &[reason.as_str(), &p],
        );
        assert_eq!(r.stderr.lines().count(), 1, "{what}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{what}");
        fails_with(
            w.dir(),
            &["allowlist", "--repo", "log", "--policy", &p],
            1,
            &[reason.as_str()],
        );
    }
    w.write("latin1.toml", b"[log]\norigin = \"caf\xe9\"\n");
    fails_with(
        w.dir(),
        &[
            "verify",
            "--policy",
            "latin1.toml",
            "--bundle",
            "firmware.bundle",
            "--sha256",
            &sha,
        ],
        1,
        &["not UTF-8"],
    );
}

// ---------------------------------------------------------------------------------------------
// 8. The demo
// ---------------------------------------------------------------------------------------------

#[test]
fn demo_completes_and_its_suggested_verify_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ok(tmp.path(), &["demo", "--dir", "demo"]);
    let last = r.stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("demo complete"), "{}", r.stdout);
    assert!(r.stdout.contains("no findings"), "{}", r.stdout);
    // Run the command the demo suggests.
    let cmd = last
        .split('`')
        .nth(1)
        .expect("a suggested command in backquotes");
    let args: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(args[..2], ["fwlog", "verify"]);
    let v = ok(tmp.path(), &args[1..]);
    assert!(v.stdout.starts_with("verified: "), "{}", v.stdout);
    // It refuses a directory that is not empty.
    fails_with(tmp.path(), &["demo", "--dir", "demo"], 1, &["is not empty"]);
}
