//! From an AMD SEV-SNP launch measurement to a logged, reproduced release, through the `fwlog`
//! binary: `release create` records snpOvmfHash and sevTail for an OVMF image with SEV
//! metadata; the release is logged (schema `fwlog/v1`), rebuilt, witnessed and bundled; `verify
//! --snp-measurement/--snp-report/--sev-measurement` and `allowlist --measurement` work from
//! the log alone (SEV-ES from the images); and a vendor lying about the measurement basis is
//! caught by `rebuild` and `attest` (exit 3, a loggable `mismatch`).
//!
//! The image is 2 MiB: pseudo-random pages followed by sev-snp-measure's AmdSev fixture
//! (`tests/data/vectors/sev/ovmf_AmdSev_suffix.bin`) as its last 4096 bytes; the fixture's
//! footer table and SEV metadata are addressed from the image's end, so they hold at any size.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{expect, keygen, run, Run};
use fwlog::cosignature;
use fwlog::entry::release::{SevTail, SevTails};
use fwlog::entry::{self, Entry, Release, Verdict};
use fwlog::measure::{self, Ovmf};
use fwlog::note::SignerKey;
use fwlog::store::{LogStore, DEFAULT_BRANCH};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "example.com/fw-measure-log";
const VENDOR: &str = "vendor.example/release";
const GO_A: &str = "go-a.example/rebuild";
const WITNESS: &str = "witness.example/w1";
const SOURCE: &str = "ovmf-src.tar";
const SDE: &str = "1700000000";
const IMAGE_LEN: usize = 2 << 20;
/// A recipe that writes both artifacts from the source archive.
const RECIPE: &str = "mkdir src\ntar -xf \"$FWLOG_SOURCE\" -C src\ncp src/OVMF.fd src/OVMF_VARS.fd \"$FWLOG_OUT/\"\n";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors/sev")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `len` pseudo-random bytes (xorshift64 from `seed`).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A 2 MiB OVMF image: noise, then the fixture `tail` as the last page.
fn ovmf_image(tail: &str, seed: u64) -> Vec<u8> {
    let tail = fixture(tail);
    assert_eq!(tail.len(), measure::SEV_TAIL_LEN);
    let mut image = noise(IMAGE_LEN - tail.len(), seed);
    image.extend_from_slice(&tail);
    image
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    expect(dir, args, 0)
}

/// A log with the vendor's OVMF release (entry 0) reproduced by GO-a (entry 1), witnessed, and
/// a bundle for OVMF.fd.
struct World {
    tmp: tempfile::TempDir,
    log_vkey: String,
    vendor_vkey: String,
    go_a: String,
    witness_vkey: String,
    image: Vec<u8>,
    vars: Vec<u8>,
}

impl World {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn path(&self, name: &str) -> String {
        self.dir().join(name).to_str().expect("utf-8").to_string()
    }

    fn signer(&self, file: &str) -> SignerKey {
        let text = fs::read_to_string(self.dir().join(file)).expect("read key");
        SignerKey::parse(text.trim_end_matches('\n')).expect("parse key")
    }

    fn append(&self, files: &[&str]) -> Vec<u64> {
        let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
        args.extend_from_slice(files);
        ok(self.dir(), &args)
            .stdout
            .lines()
            .map(|l| l.split(' ').next().unwrap_or("").parse().expect("index"))
            .collect()
    }

    fn cosign(&self) {
        let store = LogStore::open(&self.dir().join("log"), DEFAULT_BRANCH).expect("open log");
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

    /// A policy trusting the log, the witness, the vendor for `ovmf` and GO-a (quorum `q`).
    fn policy(&self, q: usize) -> String {
        let text = format!(
            "[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n\
             [witnesses]\nquorum = 1\nkeys = [\"{}\"]\n\n\
             [[vendors]]\nkey = \"{}\"\nfirmware = [\"ovmf\"]\n\n\
             [rebuilders]\nquorum = {q}\nkeys = [\"{}\"]\n",
            self.log_vkey, self.witness_vkey, self.vendor_vkey, self.go_a
        );
        let name = format!("policy-{q}.toml");
        fs::write(self.dir().join(&name), text).expect("write policy");
        name
    }

    /// `fwlog measure` of `firmware` (a path) with extra arguments: the hex line.
    fn measure(&self, firmware: &str, args: &[&str]) -> String {
        let mut all = vec!["measure", "--firmware", firmware];
        all.extend_from_slice(args);
        ok(self.dir(), &all).stdout.trim().to_string()
    }

    fn verify(&self, policy: &str, args: &[&str]) -> Run {
        let mut all = vec!["verify", "--policy", policy, "--bundle", "ovmf.bundle"];
        all.extend_from_slice(args);
        run(self.dir(), &all)
    }

    fn release_create(&self, version: &str, out: &str) -> Run {
        ok(
            self.dir(),
            &[
                "release",
                "create",
                "--key",
                "vendor.key",
                "--name",
                "ovmf",
                "--version",
                version,
                "--source",
                SOURCE,
                "--recipe",
                "recipe.sh",
                "--artifact",
                "vendor/OVMF.fd",
                "--artifact",
                "vendor/OVMF_VARS.fd",
                "--source-date-epoch",
                SDE,
                "--out",
                out,
            ],
        )
    }
}

fn release_of(bytes: &[u8]) -> (Release, SevTails) {
    let parsed = entry::parse_entry(bytes).expect("entry parses");
    assert!(matches!(parsed.entry, Entry::Release(_)));
    Release::from_statement_with_sev_tails(&parsed.statement_bytes).expect("release")
}

fn world() -> World {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let log_vkey = keygen(d, ORIGIN, "log.key");
    let vendor_vkey = keygen(d, VENDOR, "vendor.key");
    let go_a = keygen(d, GO_A, "go-a.key");
    keygen(d, WITNESS, "witness.key");
    let witness_vkey = ok(d, &["key", "public", "--witness", "witness.key"])
        .stdout
        .trim()
        .to_string();
    ok(
        d,
        &[
            "log", "init", "--repo", "log", "--origin", ORIGIN, "--key", "log.key",
        ],
    );

    // The source archive holds the two artifacts; the recipe copies them out.
    let image = ovmf_image("ovmf_AmdSev_suffix.bin", 0x5eed);
    let parsed = Ovmf::parse(&image).expect("the synthetic image parses as OVMF");
    assert!(parsed.metadata().is_some_and(|m| !m.is_empty()));
    let vars = noise(128 << 10, 0x7a25);
    for dir in ["src", "vendor"] {
        fs::create_dir_all(d.join(dir)).expect("mkdir");
        fs::write(d.join(dir).join("OVMF.fd"), &image).expect("write image");
        fs::write(d.join(dir).join("OVMF_VARS.fd"), &vars).expect("write vars");
    }
    let st = Command::new("tar")
        .args(["-cf", SOURCE, "-C", "src", "OVMF.fd", "OVMF_VARS.fd"])
        .current_dir(d)
        .status()
        .expect("tar");
    assert!(st.success());
    fs::write(d.join("recipe.sh"), RECIPE).expect("write recipe");

    let w = World {
        tmp,
        log_vkey,
        vendor_vkey,
        go_a,
        witness_vkey,
        image,
        vars,
    };
    let r = w.release_create("2024.05", "release.json");
    assert!(
        r.stderr.contains(
            "OVMF.fd: OVMF image with SEV-SNP metadata: recording snpOvmfHash and sevTail"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("OVMF_VARS.fd"), "{}", r.stderr);
    assert_eq!(w.append(&["release.json"]), [0]);
    let r = ok(
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
            "--out",
            "repro-a.json",
        ],
    );
    assert!(r.stderr.contains("verdict: reproduced"), "{}", r.stderr);
    for (name, data) in [("OVMF.fd", &w.image), ("OVMF_VARS.fd", &w.vars)] {
        let row: Vec<&str> = r
            .stdout
            .lines()
            .find(|l| l.starts_with(name) && l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {}", r.stdout))
            .split_whitespace()
            .collect();
        assert_eq!(row, [name, "match", &sha256_hex(data)]);
    }
    assert_eq!(w.append(&["repro-a.json"]), [1]);
    w.cosign();
    ok(
        w.dir(),
        &[
            "bundle",
            "--repo",
            "log",
            "--sha256",
            &sha256_hex(&w.image),
            "--out",
            "ovmf.bundle",
        ],
    );
    w
}

#[test]
fn release_create_records_the_measurement_basis() {
    let w = world();
    let (release, tails) = release_of(&fs::read(w.dir().join("release.json")).unwrap());
    assert_eq!(release.artifacts.len(), 2);
    let ovmf = &release.artifacts[0];
    let vars = &release.artifacts[1];
    assert_eq!(
        (ovmf.name.as_str(), vars.name.as_str()),
        ("OVMF.fd", "OVMF_VARS.fd")
    );
    // snpOvmfHash is `fwlog measure --mode snp-ovmf-hash`; sevTail the last page (the fixture).
    let fw = w.path("vendor/OVMF.fd");
    let hash = w.measure(&fw, &["--mode", "snp-ovmf-hash"]);
    assert_eq!(ovmf.snp_ovmf_hash.map(hex::encode), Some(hash.clone()));
    assert_eq!(
        tails.get("OVMF.fd"),
        Some(&SevTail::new(&fixture("ovmf_AmdSev_suffix.bin")).unwrap())
    );
    // Not an OVMF image: neither field.
    assert_eq!(vars.snp_ovmf_hash, None);
    assert_eq!(tails.len(), 1);
    // On the wire.
    let stmt =
        String::from_utf8(release.to_statement_bytes_with_sev_tails(&tails).unwrap()).unwrap();
    assert!(
        stmt.contains(&format!(
            "{{\"name\":\"OVMF.fd\",\"snpOvmfHash\":\"{hash}\",\"sevTail\":\""
        )),
        "{stmt}"
    );
    assert!(stmt.contains("{\"name\":\"OVMF_VARS.fd\"}"), "{stmt}");
    // The log's measurement basis gives what the whole image gives, through the CLI too.
    let tail_file = w.dir().join("tail.bin");
    fs::write(&tail_file, tails["OVMF.fd"].as_bytes()).unwrap();
    for shape in [
        "vcpus=1",
        "vcpus=4,type=EPYC-Milan,features=0x21",
        "vmm=gce",
        "vmm=ec2",
    ] {
        let whole = w.measure(&fw, &["--mode", "snp", "--vm-shape", shape]);
        let from_log = w.measure(
            tail_file.to_str().unwrap(),
            &[
                "--mode",
                "snp",
                "--vm-shape",
                shape,
                "--snp-ovmf-hash",
                &hash,
            ],
        );
        assert_eq!(whole, from_log, "{shape}");
    }
    // --vm-shape is --vcpus/--vcpu-type/--guest-features/--vmm in one.
    assert_eq!(
        w.measure(
            &fw,
            &[
                "--mode",
                "snp",
                "--vm-shape",
                "vcpus=4,type=EPYC-Milan,features=0x21"
            ]
        ),
        w.measure(
            &fw,
            &[
                "--mode",
                "snp",
                "--vcpus",
                "4",
                "--vcpu-type",
                "EPYC-Milan",
                "--guest-features",
                "0x21"
            ]
        )
    );
}

#[test]
fn verify_a_launch_measurement() {
    let w = world();
    let d = w.dir();
    let policy = w.policy(1);
    let fw = w.path("vendor/OVMF.fd");
    let sha = sha256_hex(&w.image);
    let shape = "vcpus=4,type=EPYC-Milan,features=0x21";
    let canonical = "vcpus=4,type=EPYC-Milan,vmm=qemu,features=0x21";
    let m = w.measure(&fw, &["--mode", "snp", "--vm-shape", shape]);

    let r = w.verify(&policy, &["--snp-measurement", &m, "--vm-shape", shape]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let first = r.stdout.lines().next().unwrap_or("");
    assert_eq!(
        first,
        format!("verified: SEV-SNP measurement {m} is OVMF.fd of ovmf 2024.05 (sha256 {sha}) in VM shape {canonical}")
    );
    assert!(
        r.stdout.contains(&format!("released by {VENDOR}\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("reproduced by {GO_A}\n")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("witnessed by {WITNESS}")),
        "{}",
        r.stdout
    );

    // Several shapes: the matching one is named; JSON.
    let r = w.verify(
        &policy,
        &[
            "--snp-measurement",
            &m,
            "--vm-shape",
            "vcpus=1",
            "--vm-shape",
            shape,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["verified"], true);
    assert_eq!(j["mode"], "snp");
    assert_eq!(j["measurement"], m.as_str());
    assert_eq!(j["artifact"], "OVMF.fd");
    assert_eq!(j["sha256"], sha.as_str());
    assert_eq!(j["shape"], canonical);
    assert_eq!(j["firmware"], "ovmf");
    assert_eq!(j["reproduced_by"], serde_json::json!([GO_A]));

    // No --vm-shape: the default shape (1 vCPU, EPYC-v4, qemu, 0x1).
    let m1 = w.measure(&fw, &["--mode", "snp", "--vcpu-type", "EPYC-v4"]);
    let r = w.verify(&policy, &["--snp-measurement", &m1]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("in VM shape vcpus=1,type=EPYC-v4,vmm=qemu,features=0x1"),
        "{}",
        r.stdout
    );

    // A raw attestation report carrying the measurement.
    let mut report = vec![0u8; 1184];
    report[0] = 2;
    report[0x90..0xc0].copy_from_slice(&hex::decode(&m).unwrap());
    fs::write(d.join("report.bin"), &report).unwrap();
    let r = w.verify(
        &policy,
        &["--snp-report", "report.bin", "--vm-shape", shape],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("is OVMF.fd of ovmf 2024.05"),
        "{}",
        r.stdout
    );
    // ... in a shape not given: refused.
    let r = w.verify(
        &policy,
        &["--snp-report", "report.bin", "--vm-shape", "vcpus=4"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);

    // A measurement of another image (the OvmfX64 fixture) is refused, listing what was tried.
    let other = ovmf_image("ovmf_OvmfX64_suffix.bin", 0x5eed);
    fs::write(d.join("other.fd"), &other).unwrap();
    let bad = w.measure(&w.path("other.fd"), &["--mode", "snp", "--vm-shape", shape]);
    assert_ne!(bad, m);
    let r = w.verify(&policy, &["--snp-measurement", &bad, "--vm-shape", shape]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    for needle in [
        "fwlog: verification failed: SEV-SNP measurement ",
        &format!("{bad} is not produced by any artifact of ovmf 2024.05"),
        &format!("OVMF.fd in {canonical}: {m}"),
        "OVMF_VARS.fd (no snpOvmfHash and sevTail)",
    ] {
        assert!(r.stderr.contains(needle), "{needle:?} not in {}", r.stderr);
    }
    let r = w.verify(
        &policy,
        &["--snp-measurement", &bad, "--vm-shape", shape, "--json"],
    );
    assert_eq!(r.code, 1);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["verified"], false);
    assert_eq!(j["measurement"], bad.as_str());
    assert!(j["error"].as_str().unwrap().contains("not produced"), "{j}");

    // The right measurement, but the release does not meet the policy: refused for that.
    let strict = w.policy(2);
    let r = w.verify(&strict, &["--snp-measurement", &m, "--vm-shape", shape]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("quorum") || r.stderr.contains("policy"),
        "{}",
        r.stderr
    );

    // SEV without kernel hashes: the image's SHA-256, which fwlog measure agrees with.
    assert_eq!(w.measure(&fw, &["--mode", "sev"]), sha);
    let r = w.verify(&policy, &["--sev-measurement", &sha]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!(
            "verified: SEV measurement {sha} is OVMF.fd of ovmf 2024.05 (sha256 {sha}) without kernel hashes"
        )),
        "{}",
        r.stdout
    );
    let other_sha = sha256_hex(&other);
    let r = w.verify(&policy, &["--sev-measurement", &other_sha]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("is not the launch digest (SHA-256) of any artifact")
            && r.stderr.contains(&format!("OVMF.fd {sha}")),
        "{}",
        r.stderr
    );

    // Usage: a shape only with an SNP measurement; malformed inputs.
    for (args, needle) in [
        (
            vec!["--sha256", sha.as_str(), "--vm-shape", "vcpus=1"],
            "--snp",
        ),
        (vec!["--snp-measurement", "00"], "96 hex digits"),
        (vec!["--sev-measurement", &m], "64 hex digits"),
        (
            vec!["--snp-measurement", &m, "--vm-shape", "vcpus=0"],
            "vcpus=0",
        ),
        (vec!["--snp-report", "ovmf.bundle"], "report"),
    ] {
        let r = w.verify(&policy, &args);
        assert_ne!(r.code, 0, "{args:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    // The plain artifact path is unchanged.
    let r = w.verify(&policy, &["--artifact", &fw]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r
        .stdout
        .starts_with(&format!("verified: {sha} is OVMF.fd of ovmf 2024.05\n")));
}

#[test]
fn allowlist_of_measurements() {
    let w = world();
    let d = w.dir();
    let policy = w.policy(1);
    let fw = w.path("vendor/OVMF.fd");
    let sha = sha256_hex(&w.image);
    let base = ["allowlist", "--repo", "log", "--policy", policy.as_str()];
    let allow = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run(d, &args)
    };

    let r = allow(&[
        "--measurement",
        "snp",
        "--vm-shape",
        "vcpus=1",
        "--vm-shape",
        "vcpus=4",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m1 = w.measure(
        &fw,
        &["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4"],
    );
    let m4 = w.measure(
        &fw,
        &["--mode", "snp", "--vcpus", "4", "--vcpu-type", "EPYC-v4"],
    );
    assert_eq!(
        r.stdout,
        format!(
            "{m1} ovmf 2024.05 OVMF.fd 0 vcpus=1,type=EPYC-v4,vmm=qemu,features=0x1\n\
             {m4} ovmf 2024.05 OVMF.fd 0 vcpus=4,type=EPYC-v4,vmm=qemu,features=0x1\n"
        )
    );
    assert!(
        r.stderr
            .contains("skipped OVMF_VARS.fd of ovmf 2024.05 (entry 0): no snpOvmfHash"),
        "{}",
        r.stderr
    );
    let r = allow(&["--measurement", "snp", "--vm-shape", "vcpus=4", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    for (k, v) in [
        ("measurement", m4.as_str()),
        ("mode", "snp"),
        ("firmware", "ovmf"),
        ("version", "2024.05"),
        ("artifact", "OVMF.fd"),
        ("shape", "vcpus=4,type=EPYC-v4,vmm=qemu,features=0x1"),
        ("sha256", sha.as_str()),
    ] {
        assert_eq!(rows[0][k], v, "{k}: {rows}");
    }
    assert_eq!(rows[0]["index"], 0);

    // SEV: the SHA-256 of the SEV-capable artifacts only.
    let r = allow(&["--measurement", "sev"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{sha} ovmf 2024.05 OVMF.fd 0 -\n"));

    // SEV-ES needs the images.
    let r = allow(&["--measurement", "seves", "--vm-shape", "vcpus=2"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("--measurement seves needs the firmware images")
            && r.stderr.contains("--firmware-dir"),
        "{}",
        r.stderr
    );
    fs::create_dir(d.join("images")).unwrap();
    fs::write(d.join("images/any-name.bin"), &w.image).unwrap();
    fs::write(d.join("images/unrelated.bin"), noise(8192, 3)).unwrap();
    let r = allow(&[
        "--measurement",
        "seves",
        "--vm-shape",
        "vcpus=2",
        "--firmware-dir",
        "images",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let es = w.measure(
        &fw,
        &["--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC-v4"],
    );
    assert_eq!(
        r.stdout,
        format!("{es} ovmf 2024.05 OVMF.fd 0 vcpus=2,type=EPYC-v4,vmm=qemu,features=0x1\n")
    );
    // An image missing from the directory is skipped with a note.
    fs::remove_file(d.join("images/any-name.bin")).unwrap();
    let r = allow(&["--measurement", "seves", "--firmware-dir", "images"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("no file with its SHA-256"),
        "{}",
        r.stderr
    );

    // Without --measurement, the digest allowlist is unchanged; shapes need --measurement.
    let r = allow(&[]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        format!(
            "{sha} ovmf 2024.05 OVMF.fd 0\n{} ovmf 2024.05 OVMF_VARS.fd 0\n",
            sha256_hex(&w.vars)
        )
    );
    let r = allow(&["--vm-shape", "vcpus=1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_lie_about_the_measurement_basis_is_a_mismatch() {
    let w = world();
    let d = w.dir();
    let (release, tails) = release_of(&fs::read(d.join("release.json")).unwrap());
    let vendor = w.signer("vendor.key");

    // 1. The right digests with a wrong snpOvmfHash.
    let mut lie = release.clone();
    lie.version = "2024.05-lie".into();
    if let Some(h) = lie.artifacts[0].snp_ovmf_hash.as_mut() {
        h[0] ^= 1;
    }
    fs::write(
        d.join("lie.json"),
        lie.sign_with_sev_tails(&tails, &vendor).unwrap(),
    )
    .unwrap();
    // 2. The right snpOvmfHash with another image's tail.
    let mut lie_tail = release.clone();
    lie_tail.version = "2024.05-lie-tail".into();
    let other_tail = SevTail::new(&fixture("ovmf_OvmfX64_suffix.bin")).unwrap();
    let other_tails = SevTails::from([("OVMF.fd".to_string(), other_tail)]);
    fs::write(
        d.join("lie-tail.json"),
        lie_tail.sign_with_sev_tails(&other_tails, &vendor).unwrap(),
    )
    .unwrap();
    assert_eq!(w.append(&["lie.json", "lie-tail.json"]), [2, 3]);

    let r = expect(
        d,
        &[
            "rebuild",
            "--repo",
            "log",
            "--index",
            "2",
            "--source",
            SOURCE,
            "--key",
            "go-a.key",
            "--out",
            "repro-lie.json",
        ],
        3,
    );
    let sha = sha256_hex(&w.image);
    let lines: Vec<&str> = r.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("OVMF.fd "))
        .unwrap_or_else(|| panic!("no OVMF.fd row: {}", r.stdout));
    assert_eq!(
        lines[at].split_whitespace().collect::<Vec<_>>(),
        ["OVMF.fd", "MISMATCH", sha.as_str()]
    );
    let claimed = hex::encode(lie.artifacts[0].snp_ovmf_hash.unwrap());
    let real = hex::encode(release.artifacts[0].snp_ovmf_hash.unwrap());
    assert_eq!(
        lines[at + 1].split_whitespace().collect::<Vec<_>>(),
        ["snpOvmfHash", "release", claimed.as_str()]
    );
    assert_eq!(
        lines[at + 2].split_whitespace().collect::<Vec<_>>(),
        ["snpOvmfHash", "rebuilt", real.as_str()]
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["OVMF_VARS.fd", "match", &sha256_hex(&w.vars)]),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("verdict: mismatch"), "{}", r.stderr);
    assert!(
        r.stderr.contains("OVMF.fd: snpOvmfHash differs: release"),
        "{}",
        r.stderr
    );
    // The mismatch is a valid entry: the log takes it as public evidence.
    let p = entry::parse_entry(&fs::read(d.join("repro-lie.json")).unwrap()).unwrap();
    let Entry::Reproduction(repro) = p.entry else {
        panic!("not a reproduction")
    };
    assert_eq!(repro.verdict, Verdict::Mismatch);
    assert_eq!(
        repro.note.as_deref(),
        Some("OVMF.fd: snpOvmfHash differs from the rebuilt image's")
    );
    assert_eq!(w.append(&["repro-lie.json"]), [4]);

    // The lie about the tail, found by attest from the vendor's own file.
    let r = expect(
        d,
        &[
            "attest",
            "--repo",
            "log",
            "--index",
            "3",
            "--key",
            "go-a.key",
            "--artifact",
            "vendor/OVMF.fd",
            "--artifact",
            "vendor/OVMF_VARS.fd",
            "--out",
            "repro-lie-tail.json",
        ],
        3,
    );
    assert!(r.stdout.contains("sevTail release sha256 "), "{}", r.stdout);
    assert!(
        r.stderr.contains("OVMF.fd: sevTail differs"),
        "{}",
        r.stderr
    );
    assert_eq!(w.append(&["repro-lie-tail.json"]), [5]);

    // The honest release still rebuilds as reproduced.
    let r = ok(
        d,
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
            "--out",
            "repro-again.json",
        ],
    );
    assert!(r.stderr.contains("verdict: reproduced"), "{}", r.stderr);

    // The lying releases do not meet a policy: GO-a reported mismatches.
    w.cosign();
    let policy = w.policy(1);
    let allow = ok(
        d,
        &[
            "allowlist",
            "--repo",
            "log",
            "--policy",
            &policy,
            "--measurement",
            "sev",
        ],
    );
    assert_eq!(allow.stdout, format!("{sha} ovmf 2024.05 OVMF.fd 0 -\n"));
    assert!(
        allow.stderr.contains("skipped entry 2 (ovmf 2024.05-lie)"),
        "{}",
        allow.stderr
    );
}
