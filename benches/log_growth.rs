//! The log-growth benchmark: grows a real `fwlog/v1` log, in a bare Git repository, to
//! `FWLOG_BENCH_ENTRIES` realistic entries in batches, and measures what users wait for as it
//! grows. Everything goes through the public library API and the `fwlog` binary.
//!
//! Entries are what `fwlog release create` and `fwlog rebuild` write: DSSE envelopes signed with
//! Ed25519. One entry in eight is a vendor's release (OVMF with its SEV-SNP `sevTail`, SeaBIOS,
//! coreboot, U-Boot); the other seven are reproductions of a recent release by seven
//! rebuilders (mostly `reproduced`, some `mismatch` and `failed`), each naming its release by
//! index, leaf hash and SHA-256, so that `fwlog::entry::FwlogEntries` accepts them on append
//! and in audits. A batch's entries are generated (signed, in parallel) before its timer
//! starts: signing is the submitters' cost, not the log's.
//!
//! Measured:
//! 1. sustained batch-append throughput (`AppendSession::append`, as a writer appending batch
//!    after batch; the session is closed around measuring points), per batch, overall and per
//!    decade of log size, and where a batch's time goes (`AppendOutcome::phases`, means per
//!    decade);
//! 2. at log-spaced measuring points (1k, 2k, 5k, … 1M, and the final size): the median of 5
//!    single-entry appends in-process, and at 1k, 100k and 1M (or the final size) a
//!    `fwlog log append` process of 1 and of 1000 entries;
//! 3. inclusion proofs: `Snapshot::prove` in-process (random indexes) and cold `fwlog log
//!    prove` processes; at the `log append` points, `fwlog bundle` and the offline
//!    `fwlog verify` of that bundle against a policy;
//! 4. full audits: `fwlog::audit::audit` in-process and `fwlog log verify`, in entries/s, at
//!    every measuring point up to `FWLOG_BENCH_AUDIT_UPTO` and at the final size; compared with
//!    the machine's strict Ed25519 limit, measured in the same run by plain loops over the
//!    signatures of the first entries, on one thread and on all cores: ed25519-dalek's
//!    `verify_strict` and `fwlog::ed25519::verify_strict` (what the log's DSSE verification
//!    calls); the limit is the faster of the two; at the same points, `fwlog allowlist` with
//!    the harness's policy (time and peak RSS: its memory grows with the releases);
//! 5. the repository's size on disk before and after `git gc`, per entry, and the peak RSS of
//!    every process (reaped with `wait4`).
//!
//! Child processes are started by a small helper process (this binary, re-executed at start-up
//! while it is small) that spawns and reaps them: on Linux a child's `ru_maxrss` includes the
//! resident size of the process that forked it, so children spawned by this (large) process
//! would all report at least its size.
//!
//! Output: tables on stdout, `results.json` and `bench.svg` (append latency and batch
//! throughput, audit throughput against the Ed25519 limit, by log size) in `FWLOG_BENCH_OUT`.
//!
//! `cargo bench --bench log_growth` (or `scripts/bench-log.sh N`). Environment:
//! - `FWLOG_BENCH_ENTRIES`: entries to grow the log to (default 1,000,000 under `--bench`,
//!   3000 otherwise, e.g. `cargo test --benches`);
//! - `FWLOG_BENCH_BATCH`: entries per batch append (default 1000);
//! - `FWLOG_BENCH_AUDIT_UPTO`: audit at every measuring point up to this size, and at the final
//!   size (default 100000; 0: only at the final size);
//! - `FWLOG_BENCH_SIG_SAMPLE`: entries whose signatures the Ed25519 loop verifies (default
//!   20000);
//! - `FWLOG_BENCH_BARE=0`: grow a repository with a checkout, as `fwlog log init` makes one
//!   (default: bare);
//! - `FWLOG_BENCH_OUT`: where results go (default `target/bench-log/`);
//! - `FWLOG_BENCH_KEEP`: keep the repository and print its path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use fwlog::audit;
use fwlog::entry::dsse::{pae, Envelope};
use fwlog::entry::release::{SevTail, SevTails, SEV_TAIL_LEN};
use fwlog::entry::{
    self, Artifact, Environment, FwlogEntries, ObtainedArtifact, Release, Reproduction, Verdict,
};
use fwlog::note::{SignerKey, VerifierKey};
use fwlog::store::{
    AnyEntry, AppendSession, EntrySchema, LogStore, NewEntry, APPEND_PHASES, DEFAULT_BRANCH,
};
use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256, Sha384};

const ORIGIN: &str = "bench.example/firmware-log";
/// One release per this many entries; the rest are reproductions.
const RELEASE_EVERY: u64 = 8;
/// Rebuilder `r` reproduces the release `LAGS[r]` blocks (of `RELEASE_EVERY` entries) back.
const LAGS: [u64; 7] = [0, 0, 1, 1, 2, 3, 5];
/// Measuring points (those up to the final size, plus the final size).
const POINTS: [u64; 10] = [
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000,
];
/// Points with `fwlog log append`, `bundle` and `verify` processes (or the final size instead
/// of those above it).
const CLI_POINTS: [u64; 3] = [1_000, 100_000, 1_000_000];
/// Single-entry appends timed at each measuring point.
const SINGLES: usize = 5;
/// In-process inclusion proofs timed at each point.
const PROOFS: u64 = 500;
/// Cold `fwlog log prove` processes at each point.
const COLD_PROOFS: u64 = 5;
/// Entries in the `fwlog log append` batch process.
const CLI_BATCH: u64 = 1000;
/// Unix time of the first release.
const EPOCH: u64 = 1_600_000_000;
/// Set in the environment of the spawner helper process.
const SPAWNER_ENV: &str = "FWLOG_BENCH_SPAWNER";

// ---------------------------------------------------------------------------------------------
// Configuration and small helpers.

struct Config {
    target: u64,
    batch: u64,
    audit_upto: u64,
    sig_sample: u64,
    bare: bool,
    keep: bool,
    out: PathBuf,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        let bench_mode = std::env::args().any(|a| a == "--bench");
        Config {
            target: env_u64(
                "FWLOG_BENCH_ENTRIES",
                if bench_mode { 1_000_000 } else { 3_000 },
            )
            .max(1),
            batch: env_u64("FWLOG_BENCH_BATCH", 1000).max(1),
            audit_upto: env_u64("FWLOG_BENCH_AUDIT_UPTO", 100_000),
            sig_sample: env_u64("FWLOG_BENCH_SIG_SAMPLE", 20_000).max(1),
            bare: std::env::var("FWLOG_BENCH_BARE").map_or(true, |v| v != "0"),
            keep: std::env::var_os("FWLOG_BENCH_KEEP").is_some(),
            out: std::env::var_os("FWLOG_BENCH_OUT").map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-log"),
                PathBuf::from,
            ),
        }
    }
}

/// SplitMix64: a fixed pseudo-random function, so every run logs the same entries.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn sha384(parts: &[&[u8]]) -> [u8; 48] {
    let mut h = Sha384::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.iter().sum::<f64>() / v.len() as f64
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

/// `1000` → `1k`, `2500000` → `2.5M`.
fn short(n: f64) -> String {
    let (v, unit) = if n >= 1e6 {
        (n / 1e6, "M")
    } else if n >= 1e3 {
        (n / 1e3, "k")
    } else {
        (n, "")
    };
    let s = format!("{v:.1}");
    format!("{}{unit}", s.strip_suffix(".0").unwrap_or(&s))
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        f64::NAN
    }
}

/// Resident-set high-water mark of this process, KiB.
fn own_peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The machine.

struct Machine {
    cpu: String,
    logical_cpus: usize,
    rayon_threads: usize,
    mem_total_mib: u64,
    kernel: String,
    load_at_start: String,
    git: String,
}

impl Machine {
    fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_string())
            })
        };
        let cpu = field("model name")
            .or_else(|| field("Model"))
            .unwrap_or_else(|| "unknown CPU".into());
        let logical_cpus = cpuinfo
            .lines()
            .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
            .count()
            .max(std::thread::available_parallelism().map_or(1, |n| n.get()));
        let mem_total_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kib| kib / 1024);
        let git = Command::new("git")
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "no git".into());
        Machine {
            cpu,
            logical_cpus,
            rayon_threads: rayon::current_num_threads(),
            mem_total_mib,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            load_at_start: load_avg(),
            git,
        }
    }
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// The entries: releases and reproductions, deterministic in their index.

/// A firmware family: which vendor releases it and how it is built.
struct Family {
    vendor: usize,
    name: &'static str,
    artifacts: &'static [&'static str],
    /// The artifact that is an SEV-SNP capable OVMF image (`snpOvmfHash` and `sevTail`).
    sev: Option<&'static str>,
    recipe: &'static str,
    env: &'static [(&'static str, &'static str)],
    description: &'static str,
    source_uri: &'static str,
}

const VENDORS: [&str; 4] = [
    "edk2.example/release",
    "seabios.example/release",
    "coreboot.example/release",
    "u-boot.example/release",
];

const OVMF_RECIPE: &str = r#"#!/bin/sh
set -eu
mkdir src && tar -xzf "$FWLOG_SOURCE" -C src --strip-components=1 && cd src
export WORKSPACE="$PWD" PACKAGES_PATH="$PWD" PYTHON_COMMAND=python3
make -C BaseTools -j"$(nproc)"
. ./edksetup.sh
build -a X64 -t "$TOOLCHAIN" -b "$TARGET" -n "$(nproc)" -p "$PLATFORM" \
    -D SECURE_BOOT_ENABLE=TRUE -D SMM_REQUIRE=FALSE -D TPM2_ENABLE=TRUE \
    -D NETWORK_HTTP_BOOT_ENABLE=TRUE -D NETWORK_TLS_ENABLE=TRUE -D FD_SIZE_4MB \
    --pcd PcdFirmwareVendor=L"fwlog reproducible build" \
    --pcd PcdFirmwareVersionString=L"$VERSION_STRING"
fv=Build/"$BUILD_DIR"/"${TARGET}_${TOOLCHAIN}"/FV
for f in $ARTIFACTS; do
    cp "$fv/$f" "$FWLOG_OUT/"
done
"#;

const SEABIOS_RECIPE: &str = r#"#!/bin/sh
set -eu
mkdir src && tar -xzf "$FWLOG_SOURCE" -C src --strip-components=1 && cd src
build() {
    make clean distclean
    cp "configs/$1" .config
    echo "CONFIG_DEBUG_LEVEL=0" >> .config
    make olddefconfig
    make -j"$(nproc)" EXTRAVERSION="-$EXTRAVERSION" PYTHON=python3
    cp out/"$2" "$FWLOG_OUT/$3"
}
build config.bios-128k bios.bin bios.bin
build config.bios-256k bios.bin bios-256k.bin
build config.microvm bios.bin bios-microvm.bin
build config.vga-stdvga vgabios.bin vgabios-stdvga.bin
build config.vga-virtio vgabios.bin vgabios-virtio.bin
"#;

const COREBOOT_RECIPE: &str = r#"#!/bin/sh
set -eu
mkdir src && tar -xJf "$FWLOG_SOURCE" -C src --strip-components=1 && cd src
make crossgcc-i386 CPUS="$(nproc)" BUILD_LANGUAGES=c
cp "configs/$BOARD_CONFIG" .config
make olddefconfig
make -j"$(nproc)" KERNELVERSION="$KERNELVERSION" BUILD_TIMELESS=1
cp build/coreboot.rom "$FWLOG_OUT/"
"#;

const UBOOT_RECIPE: &str = r#"#!/bin/sh
set -eu
mkdir src && tar -xjf "$FWLOG_SOURCE" -C src --strip-components=1 && cd src
export CROSS_COMPILE=aarch64-linux-gnu- ARCH=arm64
make "$DEFCONFIG"
make -j"$(nproc)" SOURCE_DATE_EPOCH="$BUILD_EPOCH"
cp u-boot.bin "$FWLOG_OUT/"
"#;

static FAMILIES: [Family; 5] = [
    Family {
        vendor: 0,
        name: "ovmf",
        artifacts: &["OVMF.fd", "OVMF_CODE.fd", "OVMF_VARS.fd"],
        sev: Some("OVMF.fd"),
        recipe: OVMF_RECIPE,
        env: &[
            ("ARTIFACTS", "OVMF.fd OVMF_CODE.fd OVMF_VARS.fd"),
            ("BUILD_DIR", "OvmfX64"),
            ("PLATFORM", "OvmfPkg/OvmfPkgX64.dsc"),
            ("TARGET", "RELEASE"),
            ("TOOLCHAIN", "GCC5"),
            ("VERSION_STRING", "edk2-stable"),
        ],
        description: "Debian bookworm amd64, GCC 12.2.0, NASM 2.16.01, iasl 20200925, Python 3.11.2",
        source_uri: "https://github.com/tianocore/edk2/releases/download/edk2-stable{v}/edk2-edk2-stable{v}.tar.gz",
    },
    Family {
        vendor: 0,
        name: "ovmf-amdsev",
        artifacts: &["OVMF.amdsev.fd"],
        sev: Some("OVMF.amdsev.fd"),
        recipe: OVMF_RECIPE,
        env: &[
            ("ARTIFACTS", "OVMF.fd"),
            ("BUILD_DIR", "AmdSev"),
            ("PLATFORM", "OvmfPkg/AmdSev/AmdSevX64.dsc"),
            ("TARGET", "RELEASE"),
            ("TOOLCHAIN", "GCC5"),
            ("VERSION_STRING", "edk2-stable-amdsev"),
        ],
        description: "Debian bookworm amd64, GCC 12.2.0, NASM 2.16.01, iasl 20200925, Python 3.11.2",
        source_uri: "https://github.com/tianocore/edk2/releases/download/edk2-stable{v}/edk2-edk2-stable{v}.tar.gz",
    },
    Family {
        vendor: 1,
        name: "seabios",
        artifacts: &[
            "bios.bin",
            "bios-256k.bin",
            "bios-microvm.bin",
            "vgabios-stdvga.bin",
            "vgabios-virtio.bin",
        ],
        sev: None,
        recipe: SEABIOS_RECIPE,
        env: &[("EXTRAVERSION", "fwlog")],
        description: "Debian bookworm amd64, GCC 12.2.0, binutils 2.40, Python 3.11.2",
        source_uri: "https://www.seabios.org/downloads/seabios-{v}.tar.gz",
    },
    Family {
        vendor: 2,
        name: "coreboot-qemu-q35",
        artifacts: &["coreboot.rom"],
        sev: None,
        recipe: COREBOOT_RECIPE,
        env: &[
            ("BOARD_CONFIG", "config.emulation_qemu_q35"),
            ("KERNELVERSION", "fwlog"),
        ],
        description: "Debian bookworm amd64, coreboot crossgcc (GCC 14.2.0, binutils 2.43.1)",
        source_uri: "https://coreboot.org/releases/coreboot-{v}.tar.xz",
    },
    Family {
        vendor: 3,
        name: "u-boot-qemu-arm64",
        artifacts: &["u-boot.bin"],
        sev: None,
        recipe: UBOOT_RECIPE,
        env: &[
            ("BUILD_EPOCH", "1700000000"),
            ("DEFCONFIG", "qemu_arm64_defconfig"),
        ],
        description: "Debian bookworm amd64, gcc-aarch64-linux-gnu 12.2.0",
        source_uri: "https://ftp.denx.de/pub/u-boot/u-boot-{v}.tar.bz2",
    },
];

/// Which family block `b` releases: OVMF 40%, OVMF AMD SEV 10%, SeaBIOS 30%, coreboot and
/// U-Boot 10% each.
const FAMILY_BY_DECILE: [usize; 10] = [0, 0, 0, 0, 1, 2, 2, 2, 3, 4];

const REBUILDERS: [(&str, &str); 7] = [
    (
        "ci.vendor-a.example/rebuild",
        "GitLab CI, Debian bookworm container, podman 4.3.1",
    ),
    (
        "go-b.example/rebuild",
        "on-premises builder, Debian bookworm, bubblewrap sandbox",
    ),
    (
        "reproducible.example/rebuild",
        "reproducible-builds worker, Debian bookworm amd64, sbuild",
    ),
    (
        "cloud-c.example/rebuild",
        "GitHub Actions ubuntu-24.04 runner, debian:bookworm container",
    ),
    (
        "go-d.example/rebuild",
        "guest owner build farm, Debian bookworm, bubblewrap sandbox, 16 vCPU",
    ),
    (
        "audit-e.example/rebuild",
        "independent auditor, Debian bookworm on Hetzner AX41",
    ),
    (
        "go-f.example/rebuild",
        "guest owner CI, Fedora 40 host, debian:bookworm podman container",
    ),
];

const FAILED_NOTE: &str = "recipe exited with status 2:\nmake[1]: *** [GNUmakefile:295: /w/src/Build/OvmfX64/RELEASE_GCC5/X64/MdePkg/Library/BaseLib/BaseLib/OUTPUT/BaseLib.lib] Error 1\nbuild.py...\n : error 7000: Failed to execute command";

const MISMATCH_NOTE: &str = "diffoscope: 1 of the artifacts differs in 112 bytes (PE/COFF TimeDateStamp of 3 DXE drivers); build environment suspected";

/// The signer keys behind the log: deterministic, so every run logs the same bytes.
struct Corpus {
    log: SignerKey,
    vendors: Vec<SignerKey>,
    rebuilders: Vec<SignerKey>,
}

/// What one generated entry is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Release,
    Reproduction,
}

impl Corpus {
    fn new() -> Corpus {
        let key = |name: &str, n: u8| {
            SignerKey::from_seed(name, sha256(&[b"fwlog bench key", &[n]])).expect("signer key")
        };
        Corpus {
            log: key(ORIGIN, 0),
            vendors: VENDORS
                .iter()
                .enumerate()
                .map(|(i, n)| key(n, 10 + i as u8))
                .collect(),
            rebuilders: REBUILDERS
                .iter()
                .enumerate()
                .map(|(i, (n, _))| key(n, 20 + i as u8))
                .collect(),
        }
    }

    fn kind(j: u64) -> Kind {
        match j % RELEASE_EVERY {
            0 => Kind::Release,
            _ => Kind::Reproduction,
        }
    }

    /// The block (release index / `RELEASE_EVERY`) entry `j` releases or reproduces.
    fn release_block(j: u64) -> u64 {
        let b = j / RELEASE_EVERY;
        match Corpus::kind(j) {
            Kind::Release => b,
            Kind::Reproduction => {
                let lag = LAGS[((j % RELEASE_EVERY) - 1) as usize % LAGS.len()];
                // Early on, rebuilders reproduce the newest release instead.
                if b >= lag {
                    b - lag
                } else {
                    b
                }
            }
        }
    }

    fn family(b: u64) -> &'static Family {
        &FAMILIES[FAMILY_BY_DECILE[(mix(b ^ 0xfa) % 10) as usize]]
    }

    fn version(b: u64) -> String {
        let f = Corpus::family(b);
        let (y, m) = (2018 + (b / 12) % 30, 1 + b % 12);
        match f.vendor {
            0 => format!("{y}{m:02}.{b}"),
            1 => format!("1.{}.{}-{b}", 10 + b % 7, b % 4),
            _ => format!("{y}.{m:02}.{b}"),
        }
    }

    fn released_on(b: u64) -> u64 {
        EPOCH + b * 1800
    }

    /// The `verdict` rebuilder entry `j` reports: 95% reproduced, 3% mismatch, 2% failed.
    fn verdict(j: u64) -> Verdict {
        match mix(j ^ 0x7e57) % 100 {
            0..=1 => Verdict::Failed,
            2..=4 => Verdict::Mismatch,
            _ => Verdict::Reproduced,
        }
    }

    /// The last page of an SEV-capable OVMF image: mostly zeros, a footer table and SEV
    /// metadata that change a little from release to release, and the reset vector.
    fn sev_tail(b: u64) -> SevTail {
        let bytes: Vec<u8> = (0..SEV_TAIL_LEN as u64)
            .map(|i| match i {
                0..=3071 => 0,
                3072..=3327 => (mix(b << 16 | i) & 0xff) as u8,
                _ => (mix(i) & 0xff) as u8,
            })
            .collect();
        SevTail::new(&bytes).expect("one page")
    }

    /// Release block `b`: the statement and its signed envelope bytes.
    fn release(&self, b: u64) -> (Release, Vec<u8>) {
        let f = Corpus::family(b);
        let bs = b.to_le_bytes();
        let version = Corpus::version(b);
        let released_on = Corpus::released_on(b);
        let snapshot = entry::rfc3339_utc(released_on - 3 * 86_400);
        let artifacts = f
            .artifacts
            .iter()
            .map(|name| Artifact {
                name: name.to_string(),
                sha256: sha256(&[b"artifact", &bs, name.as_bytes()]),
                sha384: sha384(&[b"artifact", &bs, name.as_bytes()]),
                snp_ovmf_hash: (f.sev == Some(*name))
                    .then(|| sha384(&[b"snp", &bs, name.as_bytes()])),
                other_digests: BTreeMap::new(),
            })
            .collect();
        let release = Release {
            firmware_name: f.name.into(),
            version: version.clone(),
            recipe: f.recipe.into(),
            env: f
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source_date_epoch: released_on - 86_400,
            environment: Environment {
                description: f.description.into(),
                container_image: Some(format!(
                    "docker.io/library/debian@sha256:{}",
                    hex::encode(sha256(&[b"image", &(b / 64).to_le_bytes()]))
                )),
                debian_snapshot: Some(format!("{}T000000Z", snapshot[..10].replace('-', ""))),
            },
            source_uri: Some(f.source_uri.replace("{v}", &version)),
            source_sha256: sha256(&[b"source", &bs]),
            artifacts,
            released_on,
        };
        let tails: SevTails = f
            .sev
            .map(|name| SevTails::from([(name.to_string(), Corpus::sev_tail(b))]))
            .unwrap_or_default();
        let bytes = release
            .sign_with_sev_tails(&tails, &self.vendors[f.vendor])
            .expect("release entry");
        (release, bytes)
    }

    /// Reproduction entry `j` of the release of block `t` (logged at `t * RELEASE_EVERY`).
    fn reproduction(&self, j: u64, t: u64, release: &(Release, Vec<u8>)) -> Vec<u8> {
        let r = ((j % RELEASE_EVERY) - 1) as usize % self.rebuilders.len();
        let verdict = Corpus::verdict(j);
        let js = j.to_le_bytes();
        let artifacts = match verdict {
            Verdict::Failed => Vec::new(),
            _ => release
                .0
                .artifacts
                .iter()
                .enumerate()
                .map(|(k, a)| {
                    let differs = verdict == Verdict::Mismatch && k == 0;
                    ObtainedArtifact {
                        name: a.name.clone(),
                        sha256: if differs {
                            sha256(&[b"rebuilt", &js])
                        } else {
                            a.sha256
                        },
                        sha384: if differs {
                            sha384(&[b"rebuilt", &js])
                        } else {
                            a.sha384
                        },
                    }
                })
                .collect(),
        };
        let b = j / RELEASE_EVERY;
        let repro = Reproduction {
            release: entry::release_ref(ORIGIN, t * RELEASE_EVERY, &release.1),
            verdict,
            artifacts,
            environment: Environment {
                description: REBUILDERS[r].1.into(),
                container_image: Some(format!(
                    "docker.io/library/debian@sha256:{}",
                    hex::encode(sha256(&[
                        b"rebuilder image",
                        &[r as u8],
                        &(b / 256).to_le_bytes()
                    ]))
                )),
                debian_snapshot: None,
            },
            rebuilt_on: Corpus::released_on(t) + 3600 * (b - t + 1) + 60 * r as u64,
            note: match verdict {
                Verdict::Failed => Some(FAILED_NOTE.into()),
                Verdict::Mismatch => Some(MISMATCH_NOTE.into()),
                Verdict::Reproduced => None,
            },
        };
        repro.sign(&self.rebuilders[r]).expect("reproduction entry")
    }

    /// The entries with indexes `range`, signed in parallel.
    fn generate(&self, range: Range<u64>) -> Vec<Vec<u8>> {
        let blocks: BTreeSet<u64> = range.clone().map(Corpus::release_block).collect();
        let releases: HashMap<u64, (Release, Vec<u8>)> = blocks
            .into_par_iter()
            .map(|b| (b, self.release(b)))
            .collect();
        range
            .into_par_iter()
            .map(|j| {
                let t = Corpus::release_block(j);
                let release = &releases[&t];
                match Corpus::kind(j) {
                    Kind::Release => release.1.clone(),
                    Kind::Reproduction => self.reproduction(j, t, release),
                }
            })
            .collect()
    }

    /// A release (block) in the first `size` entries that at least `quorum` rebuilders logged as
    /// reproduced, near the middle of the log: the firmware to bundle and verify.
    fn bundle_target(size: u64, quorum: usize) -> Option<u64> {
        let blocks = size / RELEASE_EVERY;
        (blocks / 2..blocks).find(|&b| {
            let reproduced = (b * RELEASE_EVERY..size)
                .take(RELEASE_EVERY as usize * (LAGS[LAGS.len() - 1] as usize + 2))
                .filter(|&j| {
                    Corpus::kind(j) == Kind::Reproduction
                        && Corpus::release_block(j) == b
                        && Corpus::verdict(j) == Verdict::Reproduced
                })
                .count();
            reproduced >= quorum
        })
    }
}

/// Running totals of what was logged.
#[derive(Default)]
struct EntryStats {
    releases: u64,
    release_bytes: u64,
    reproductions: u64,
    reproduction_bytes: u64,
    max_bytes: u64,
}

impl EntryStats {
    fn add(&mut self, first: u64, entries: &[Vec<u8>]) {
        for (k, e) in entries.iter().enumerate() {
            let len = e.len() as u64;
            self.max_bytes = self.max_bytes.max(len);
            match Corpus::kind(first + k as u64) {
                Kind::Release => {
                    self.releases += 1;
                    self.release_bytes += len;
                }
                Kind::Reproduction => {
                    self.reproductions += 1;
                    self.reproduction_bytes += len;
                }
            }
        }
    }

    fn count(&self) -> u64 {
        self.releases + self.reproductions
    }

    fn bytes(&self) -> u64 {
        self.release_bytes + self.reproduction_bytes
    }

    /// Signature verifications a full validation makes per entry: one per envelope
    /// (`check_reproduction` parses the release a reproduction names without verifying it
    /// again: that release is validated as an entry of its own).
    fn verifications_per_entry(&self) -> f64 {
        1.0
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes: spawned and reaped with wait4 by a small helper process.

/// What one child process did.
#[derive(Clone, Debug, Default)]
struct Proc {
    ok: bool,
    /// Exit code, or -signal.
    code: i32,
    wall_s: f64,
    user_s: f64,
    sys_s: f64,
    /// `ru_maxrss`: peak resident set, file-backed pages (mapped packs) included.
    maxrss_kib: u64,
    /// Peaks of `RssAnon` and `RssFile` in `/proc/<pid>/status`, sampled every few ms (0 when
    /// the process ended before the first sample).
    anon_kib: u64,
    file_kib: u64,
    /// The last line of its stderr when it failed, or why it could not run.
    error: String,
}

impl Proc {
    fn ms(&self) -> f64 {
        self.wall_s * 1e3
    }

    fn rss_mib(&self) -> f64 {
        self.maxrss_kib as f64 / 1024.0
    }

    /// `N MiB`, with the sampled anonymous (heap) peak when there is one: `N MiB (A anon)`.
    fn rss(&self) -> String {
        if self.anon_kib > 0 {
            format!(
                "{:.0} MiB ({:.0} anon)",
                self.rss_mib(),
                self.anon_kib as f64 / 1024.0
            )
        } else {
            format!("{:.0} MiB", self.rss_mib())
        }
    }

    /// CPU time over wall time: cores kept busy.
    fn cores(&self) -> f64 {
        (self.user_s + self.sys_s) / self.wall_s.max(1e-9)
    }

    fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "exit_code": self.code,
            "wall_s": self.wall_s,
            "user_s": self.user_s,
            "sys_s": self.sys_s,
            "max_rss_kib": self.maxrss_kib,
            "sampled_peak_rss_anon_kib": self.anon_kib,
            "sampled_peak_rss_file_kib": self.file_kib,
            "error": if self.error.is_empty() { Value::Null } else { Value::from(self.error.clone()) },
        })
    }

    fn from_json(v: &Value) -> Proc {
        Proc {
            ok: v["ok"].as_bool().unwrap_or(false),
            code: v["exit_code"].as_i64().unwrap_or(-1) as i32,
            wall_s: v["wall_s"].as_f64().unwrap_or(f64::NAN),
            user_s: v["user_s"].as_f64().unwrap_or(0.0),
            sys_s: v["sys_s"].as_f64().unwrap_or(0.0),
            maxrss_kib: v["max_rss_kib"].as_u64().unwrap_or(0),
            anon_kib: v["sampled_peak_rss_anon_kib"].as_u64().unwrap_or(0),
            file_kib: v["sampled_peak_rss_file_kib"].as_u64().unwrap_or(0),
            error: v["error"].as_str().unwrap_or_default().to_string(),
        }
    }

    fn failed(why: String) -> Proc {
        Proc {
            ok: false,
            code: -1,
            wall_s: f64::NAN,
            error: why,
            ..Proc::default()
        }
    }
}

fn timeval_s(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// Samples `RssAnon` and `RssFile` of `pid` every 5 ms until `stop`; returns their peaks, KiB.
fn sample_rss(pid: libc::pid_t, stop: &AtomicBool) -> (u64, u64) {
    let path = format!("/proc/{pid}/status");
    let (mut anon, mut file) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        if let Ok(status) = std::fs::read_to_string(&path) {
            for line in status.lines() {
                let kib = |v: &str| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                };
                if let Some(v) = line.strip_prefix("RssAnon:") {
                    anon = anon.max(kib(v));
                } else if let Some(v) = line.strip_prefix("RssFile:") {
                    file = file.max(kib(v));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (anon, file)
}

/// Runs `prog args` in `cwd` (stdout to `stdout`, stderr to `stdout` + `.err`), reaping it with
/// `wait4` for its resource usage.
// The child is reaped by wait4, not Child::wait: wait4 is what returns its rusage.
#[allow(clippy::zombie_processes)]
fn run_reaped(prog: &str, args: &[String], cwd: &Path, stdout: &Path) -> Proc {
    let err_path = stdout.with_extension("err");
    let files = File::create(stdout).and_then(|o| Ok((o, File::create(&err_path)?)));
    let (out, err) = match files {
        Ok(f) => f,
        Err(e) => return Proc::failed(format!("cannot create output files: {e}")),
    };
    let started = Instant::now();
    let child = Command::new(prog)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return Proc::failed(format!("cannot run {prog}: {e}")),
    };
    let pid = child.id() as libc::pid_t;
    let stop = AtomicBool::new(false);
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let (r, wall_s, (anon_kib, file_kib)) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| sample_rss(pid, &stop));
        let r = loop {
            // SAFETY: pid is our child, not yet reaped; status and ru are valid for writes.
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            }
            break r;
        };
        let wall_s = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        (r, wall_s, sampler.join().unwrap_or_default())
    });
    drop(child);
    if r != pid {
        return Proc::failed(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        -1
    };
    let error = if code == 0 {
        String::new()
    } else {
        let text = std::fs::read_to_string(&err_path).unwrap_or_default();
        let last = text.lines().rev().find(|l| !l.trim().is_empty());
        format!("exit {code}: {}", last.unwrap_or("(no stderr)").trim())
    };
    let _ = std::fs::remove_file(&err_path);
    Proc {
        ok: code == 0,
        code,
        wall_s,
        user_s: timeval_s(ru.ru_utime),
        sys_s: timeval_s(ru.ru_stime),
        maxrss_kib: ru.ru_maxrss.max(0) as u64,
        anon_kib,
        file_kib,
        error,
    }
}

/// The helper process: reads one JSON request per line (`[prog, cwd, stdout, args...]`), runs
/// it with [`run_reaped`], writes one JSON result per line.
fn spawner_main() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let req: Vec<String> = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(_) => break,
        };
        let proc = match req.as_slice() {
            [prog, cwd, out, args @ ..] => run_reaped(prog, args, Path::new(cwd), Path::new(out)),
            _ => Proc::failed("bad request".into()),
        };
        if writeln!(stdout, "{}", proc.to_json())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}

/// The helper process, seen from here.
struct Spawner {
    child: Option<(Child, ChildStdin, BufReader<ChildStdout>)>,
    /// Its own peak RSS when started: the floor under every child's `ru_maxrss`.
    baseline: Option<Proc>,
}

impl Spawner {
    // Reaped by wait4 in `stop`.
    #[allow(clippy::zombie_processes)]
    fn start() -> Spawner {
        let child = std::env::current_exe().and_then(|exe| {
            Command::new(exe)
                .env(SPAWNER_ENV, "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
        });
        let child = match child {
            Ok(mut c) => {
                let stdin = c.stdin.take().expect("piped stdin");
                let stdout = BufReader::new(c.stdout.take().expect("piped stdout"));
                Some((c, stdin, stdout))
            }
            Err(e) => {
                eprintln!(
                    "warning: no spawner process ({e}); children's RSS includes this process's"
                );
                None
            }
        };
        Spawner {
            child,
            baseline: None,
        }
    }

    fn run(&mut self, prog: &Path, args: &[&str], cwd: &Path, stdout: &Path) -> Proc {
        let prog = prog.to_string_lossy().into_owned();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some((_, stdin, out)) = &mut self.child {
            let mut req = vec![
                prog.clone(),
                cwd.to_string_lossy().into_owned(),
                stdout.to_string_lossy().into_owned(),
            ];
            req.extend(args.iter().cloned());
            let mut line = String::new();
            let answered = writeln!(stdin, "{}", json!(req))
                .and_then(|()| stdin.flush())
                .and_then(|()| out.read_line(&mut line));
            if let (Ok(n), Ok(v)) = (answered, serde_json::from_str::<Value>(&line)) {
                if n > 0 {
                    return Proc::from_json(&v);
                }
            }
            eprintln!("warning: the spawner process stopped; running children directly");
            self.child = None;
        }
        run_reaped(&prog, &args, cwd, stdout)
    }

    fn stop(&mut self) {
        if let Some((child, stdin, out)) = self.child.take() {
            drop(stdin);
            drop(out);
            let mut status = 0;
            // SAFETY: reaping our own child; a null rusage pointer is allowed.
            unsafe {
                libc::wait4(
                    child.id() as libc::pid_t,
                    &mut status,
                    0,
                    std::ptr::null_mut(),
                )
            };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// One batch append while growing.
struct Batch {
    size_before: u64,
    n: u64,
    secs: f64,
    /// `AppendOutcome::phases`, in seconds.
    phases: Vec<(&'static str, f64)>,
}

/// Everything measured at one measuring point.
#[derive(Default)]
struct Point {
    target: u64,
    /// The log size when measured (read-only measures; appends follow).
    size: u64,
    prove_us: Vec<f64>,
    head_prove_us: Vec<f64>,
    cold_prove: Vec<Proc>,
    /// Batch-append throughput over the (up to) 5 batches before the point, entries/s.
    recent_batch_eps: f64,
    /// In-process audit: entries, seconds, commits checked.
    audit: Option<(u64, f64, u64)>,
    /// The same audit with `AnyEntry`: everything but entry validation; seconds.
    audit_structure: Option<f64>,
    verify_cli: Option<(u64, Proc)>,
    /// `fwlog allowlist` with the harness's policy, at the audit points.
    allowlist: Option<Proc>,
    bundle: Option<Proc>,
    bundle_bytes: u64,
    bundle_verify: Option<Proc>,
    single_ms: Vec<f64>,
    cli_append1: Option<Proc>,
    cli_append_batch: Option<Proc>,
}

/// One signature to verify: parsed once, verified many times.
struct SigSample {
    keyid: String,
    key: VerifyingKey,
    msg: Vec<u8>,
    sig: Signature,
    entry: Vec<u8>,
}

impl SigSample {
    fn parse(entry: &[u8]) -> SigSample {
        let env = Envelope::parse(entry).expect("envelope");
        let s = &env.signatures[0];
        let vkey = VerifierKey::parse(&s.keyid).expect("keyid");
        let sig: [u8; 64] = s.sig.as_slice().try_into().expect("64-byte signature");
        SigSample {
            keyid: s.keyid.clone(),
            key: *vkey.public_key(),
            msg: pae(&env.payload_type, &env.payload),
            sig: Signature::from_bytes(&sig),
            entry: entry.to_vec(),
        }
    }
}

/// Verification rates, per second.
#[derive(Default)]
struct Ed25519Limits {
    samples: usize,
    strict_1: f64,
    strict_all: f64,
    fwlog_1: f64,
    fwlog_all: f64,
    plain_1: f64,
    keyid_strict_1: f64,
    parse_entry_1: f64,
    parse_entry_all: f64,
    batch_1: f64,
}

impl Ed25519Limits {
    /// The machine's strict verification limit on all threads: the faster of ed25519-dalek's
    /// `verify_strict` and `fwlog::ed25519::verify_strict` (the same predicate, computed with
    /// one point decompression fewer), so that the audit is measured against the best strict
    /// verifier at hand, not only the one it uses.
    fn limit(&self) -> f64 {
        self.strict_all.max(self.fwlog_all)
    }
}

/// The best of `passes` timed runs of `f` over `n` items, items/s.
fn best_rate(n: usize, passes: usize, mut f: impl FnMut() -> usize) -> f64 {
    (0..passes)
        .map(|_| {
            let t = Instant::now();
            let ok = f();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(ok, n, "every sample signature must verify");
            rate(n as u64, secs)
        })
        .fold(0.0, f64::max)
}

fn ed25519_limits(samples: &[SigSample]) -> Ed25519Limits {
    let n = samples.len();
    let passes = 3;
    let strict_1 = best_rate(n, passes, || {
        samples
            .iter()
            .filter(|s| s.key.verify_strict(&s.msg, &s.sig).is_ok())
            .count()
    });
    let strict_all = best_rate(n, passes, || {
        samples
            .par_iter()
            .filter(|s| s.key.verify_strict(&s.msg, &s.sig).is_ok())
            .count()
    });
    let fwlog_1 = best_rate(n, passes, || {
        samples
            .iter()
            .filter(|s| fwlog::ed25519::verify_strict(&s.key, &s.msg, &s.sig.to_bytes()))
            .count()
    });
    let fwlog_all = best_rate(n, passes, || {
        samples
            .par_iter()
            .filter(|s| fwlog::ed25519::verify_strict(&s.key, &s.msg, &s.sig.to_bytes()))
            .count()
    });
    let plain_1 = best_rate(n, passes, || {
        samples
            .iter()
            .filter(|s| s.key.verify(&s.msg, &s.sig).is_ok())
            .count()
    });
    let keyid_strict_1 = best_rate(n, passes, || {
        samples
            .iter()
            .filter(|s| {
                VerifierKey::parse(&s.keyid)
                    .is_ok_and(|k| k.public_key().verify_strict(&s.msg, &s.sig).is_ok())
            })
            .count()
    });
    let parse_entry_1 = best_rate(n, passes, || {
        samples
            .iter()
            .filter(|s| entry::parse_entry(&s.entry).is_ok())
            .count()
    });
    let parse_entry_all = best_rate(n, passes, || {
        samples
            .par_iter()
            .filter(|s| entry::parse_entry(&s.entry).is_ok())
            .count()
    });
    let batch_1 = best_rate(n, passes, || {
        samples
            .chunks(64)
            .map(|c| {
                let msgs: Vec<&[u8]> = c.iter().map(|s| s.msg.as_slice()).collect();
                let sigs: Vec<Signature> = c.iter().map(|s| s.sig).collect();
                let keys: Vec<VerifyingKey> = c.iter().map(|s| s.key).collect();
                if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
                    c.len()
                } else {
                    0
                }
            })
            .sum()
    });
    Ed25519Limits {
        samples: n,
        strict_1,
        strict_all,
        fwlog_1,
        fwlog_all,
        plain_1,
        keyid_strict_1,
        parse_entry_1,
        parse_entry_all,
        batch_1,
    }
}

/// Bytes below `dir`: apparent (file lengths) and allocated (blocks), and the file count.
fn disk_usage(dir: &Path) -> (u64, u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let (mut apparent, mut allocated, mut files) = (0, 0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                apparent += meta.len();
                allocated += meta.blocks() * 512;
                files += 1;
            }
        }
    }
    (apparent, allocated, files)
}

fn pack_count(git_dir: &Path) -> usize {
    std::fs::read_dir(git_dir.join("objects/pack"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
                .count()
        })
        .unwrap_or(0)
}

/// Repository size at one moment.
struct Disk {
    apparent: u64,
    allocated: u64,
    files: u64,
    packs: usize,
}

impl Disk {
    fn of(git_dir: &Path) -> Disk {
        let (apparent, allocated, files) = disk_usage(git_dir);
        Disk {
            apparent,
            allocated,
            files,
            packs: pack_count(git_dir),
        }
    }

    fn to_json(&self, entries: u64) -> Value {
        json!({
            "apparent_bytes": self.apparent,
            "allocated_bytes": self.allocated,
            "files": self.files,
            "packs": self.packs,
            "apparent_bytes_per_entry": self.apparent as f64 / entries.max(1) as f64,
        })
    }
}

/// The running benchmark.
struct Bench {
    cfg: Config,
    dir: PathBuf,
    fwlog: PathBuf,
    store: LogStore,
    corpus: Corpus,
    validator: FwlogEntries,
    spawner: Spawner,
    stats: EntryStats,
    size: u64,
    gen_secs: f64,
    batches: Vec<Batch>,
    sig_samples: Vec<SigSample>,
    cli_seq: u64,
}

impl Bench {
    fn run_fwlog(&mut self, args: &[&str]) -> Proc {
        self.cli_seq += 1;
        let out = self.dir.join(format!("out-{}.txt", self.cli_seq));
        let p = self.spawner.run(&self.fwlog, args, &self.dir, &out);
        let _ = std::fs::remove_file(&out);
        p
    }

    fn head_size(&self) -> u64 {
        self.store.head().expect("head").size()
    }

    /// Generates entries `size..size + n`, timing the generation; keeps signature samples.
    fn generate(&mut self, n: u64) -> Vec<Vec<u8>> {
        let t = Instant::now();
        let entries = self.corpus.generate(self.size..self.size + n);
        self.gen_secs += t.elapsed().as_secs_f64();
        entries
    }

    /// Appends `entries` (indexes from `self.size`) in-process, through `session` when given
    /// (the growth's batches) or with [`LogStore::append`] (single appends); returns seconds.
    fn append(
        &mut self,
        entries: Vec<Vec<u8>>,
        session: Option<&mut AppendSession<'_>>,
    ) -> (f64, Vec<(&'static str, f64)>) {
        let first = self.size;
        let n = entries.len() as u64;
        self.stats.add(first, &entries);
        let new: Vec<NewEntry> = entries
            .into_iter()
            .enumerate()
            .map(|(k, bytes)| NewEntry {
                name: format!("entry-{}", first + k as u64),
                bytes,
                pending_path: None,
            })
            .collect();
        let t = Instant::now();
        let out = match session {
            Some(s) => s.append(&self.corpus.log, &new, &self.validator),
            None => self.store.append(&self.corpus.log, &new, &self.validator),
        }
        .unwrap_or_else(|e| panic!("append of entries {first}..{}: {e}", first + n));
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(out.old_size, first, "log size moved under the bench");
        assert_eq!(out.new_size, first + n, "duplicates in generated entries");
        self.size = out.new_size;
        let phases = out
            .phases
            .iter()
            .map(|(name, took)| (*name, took.as_secs_f64()))
            .collect();
        (secs, phases)
    }

    fn grow_batch(&mut self, n: u64, session: &mut AppendSession<'_>) {
        let entries = self.generate(n);
        let want = self.cfg.sig_sample as usize;
        for e in entries.iter() {
            if self.sig_samples.len() >= want {
                break;
            }
            self.sig_samples.push(SigSample::parse(e));
        }
        let size_before = self.size;
        let (secs, phases) = self.append(entries, Some(session));
        self.batches.push(Batch {
            size_before,
            n,
            secs,
            phases,
        });
    }

    /// Appends `n` entries with one `fwlog log append` process.
    fn cli_append(&mut self, n: u64) -> Proc {
        let entries = self.generate(n);
        let sub = format!("cli-{}", self.cli_seq + 1);
        let files_dir = self.dir.join(&sub);
        std::fs::create_dir_all(&files_dir).expect("mkdir");
        let mut files = Vec::new();
        for (k, e) in entries.iter().enumerate() {
            let name = format!("{sub}/{:06}.json", self.size + k as u64);
            std::fs::write(self.dir.join(&name), e).expect("write entry file");
            files.push(name);
        }
        let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
        args.extend(files.iter().map(String::as_str));
        let p = self.run_fwlog(&args);
        let _ = std::fs::remove_dir_all(&files_dir);
        let size = self.head_size();
        if p.ok {
            assert_eq!(
                size,
                self.size + n,
                "`fwlog log append` appended {n} entries"
            );
            self.stats.add(self.size, &entries);
        }
        self.size = size;
        p
    }

    fn measure(&mut self, target: u64, cli: bool, audit: bool) -> Point {
        let mut p = Point {
            target,
            size: self.size,
            ..Point::default()
        };
        let size = self.size;
        eprintln!("measuring at {} entries ...", thousands(size));
        let recent = &self.batches[self.batches.len().saturating_sub(5)..];
        p.recent_batch_eps = rate(
            recent.iter().map(|b| b.n).sum(),
            recent.iter().map(|b| b.secs).sum(),
        );

        // Inclusion proofs in-process: on one snapshot, and with head() each time.
        {
            let snap = self.store.head().expect("head");
            for k in 0..PROOFS {
                let i = mix(size ^ k) % size;
                let t = Instant::now();
                let proof = snap.prove(i).expect("prove");
                p.prove_us.push(t.elapsed().as_secs_f64() * 1e6);
                assert_eq!(proof.index, i);
            }
            for k in 0..PROOFS / 5 {
                let i = mix(size ^ k ^ 0x5eed) % size;
                let t = Instant::now();
                let proof = self.store.head().expect("head").prove(i).expect("prove");
                p.head_prove_us.push(t.elapsed().as_secs_f64() * 1e6);
                assert_eq!(proof.index, i);
            }
        }
        // Cold `fwlog log prove` processes.
        for k in 0..COLD_PROOFS {
            let i = (mix(size ^ 0xc01d ^ k) % size).to_string();
            let args = [
                "log",
                "prove",
                "--repo",
                "log",
                "--index",
                &i,
                "--out",
                "proof.tlog-proof",
            ];
            p.cold_prove.push(self.run_fwlog(&args));
        }
        // Full audits.
        if audit {
            let t = Instant::now();
            let report = audit::audit(&self.store, None, None, &self.validator, &mut |_, _, _| {})
                .expect("audit");
            let secs = t.elapsed().as_secs_f64();
            assert!(report.ok(), "audit findings: {:?}", report.findings);
            assert_eq!(report.size, size);
            p.audit = Some((report.entries_checked, secs, report.commits_checked));
            let t = Instant::now();
            let report =
                audit::audit(&self.store, None, None, &AnyEntry, &mut |_, _, _| {}).expect("audit");
            assert!(report.ok(), "audit findings: {:?}", report.findings);
            p.audit_structure = Some(t.elapsed().as_secs_f64());
            eprintln!(
                "  audit in-process: {:.2} s, {:.0} entries/s",
                secs,
                rate(size, secs)
            );
            let v = self.run_fwlog(&["log", "verify", "--repo", "log"]);
            eprintln!(
                "  `fwlog log verify`: {:.2} s, {:.0} entries/s",
                v.wall_s,
                rate(size, v.wall_s)
            );
            p.verify_cli = Some((size, v));
            let a = self.run_fwlog(&["allowlist", "--repo", "log", "--policy", "policy.toml"]);
            eprintln!(
                "  `fwlog allowlist`: {:.2} s, peak RSS {:.0} MiB",
                a.wall_s,
                a.rss_mib()
            );
            p.allowlist = Some(a);
        }
        // Offline bundle and its verification.
        if cli {
            match Corpus::bundle_target(size, 3) {
                Some(b) => {
                    let (release, _) = self.corpus.release(b);
                    let digest = hex::encode(release.artifacts[0].sha256);
                    let bundle = self.run_fwlog(&[
                        "bundle",
                        "--repo",
                        "log",
                        "--sha256",
                        &digest,
                        "--out",
                        "firmware.bundle",
                    ]);
                    p.bundle_bytes =
                        std::fs::metadata(self.dir.join("firmware.bundle")).map_or(0, |m| m.len());
                    if bundle.ok {
                        p.bundle_verify = Some(self.run_fwlog(&[
                            "verify",
                            "--policy",
                            "policy.toml",
                            "--bundle",
                            "firmware.bundle",
                            "--sha256",
                            &digest,
                        ]));
                    }
                    p.bundle = Some(bundle);
                }
                None => p.bundle = Some(Proc::failed("log too small to bundle a release".into())),
            }
        }
        // Single-entry appends in-process.
        for _ in 0..SINGLES {
            let e = self.generate(1);
            let (secs, _) = self.append(e, None);
            p.single_ms.push(secs * 1e3);
        }
        // `fwlog log append` processes.
        if cli {
            p.cli_append1 = Some(self.cli_append(1));
            p.cli_append_batch = Some(self.cli_append(CLI_BATCH));
        }
        p
    }
}

/// The measuring points for a log grown to `target`: (point, with processes, with audit).
fn plan(target: u64, audit_upto: u64) -> Vec<(u64, bool, bool)> {
    let mut points: Vec<u64> = POINTS.iter().copied().filter(|&p| p < target).collect();
    points.push(target);
    let mut cli: BTreeSet<u64> = CLI_POINTS
        .iter()
        .map(|&c| if c <= target { c } else { target })
        .collect();
    cli.retain(|c| points.contains(c));
    points
        .iter()
        .map(|&p| (p, cli.contains(&p), p <= audit_upto || p == target))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reporting.

fn fmt_proc(p: &Proc, f: impl Fn(&Proc) -> String) -> String {
    if p.ok {
        f(p)
    } else {
        format!("FAILED ({})", p.error)
    }
}

fn print_table(title: &str, head: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    println!("\n{title}");
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = w[i])
                } else {
                    format!("{c:>w$}", w = w[i])
                }
            })
            .collect();
        println!("  {}", s.join("  "));
    };
    line(head.iter().map(|s| s.to_string()).collect());
    println!(
        "  {}",
        "-".repeat(w.iter().sum::<usize>() + 2 * (w.len() - 1))
    );
    for r in rows {
        line(r.clone());
    }
}

/// Batch throughput over sizes `[lo, hi)` (by size before the batch): entries/s, batches,
/// median ms.
fn batch_range(batches: &[Batch], lo: u64, hi: u64) -> Option<(f64, usize, f64)> {
    let sel: Vec<&Batch> = batches
        .iter()
        .filter(|b| b.size_before >= lo && b.size_before < hi)
        .collect();
    if sel.is_empty() {
        return None;
    }
    let n: u64 = sel.iter().map(|b| b.n).sum();
    let secs: f64 = sel.iter().map(|b| b.secs).sum();
    let ms: Vec<f64> = sel.iter().map(|b| b.secs * 1e3).collect();
    Some((rate(n, secs), sel.len(), median(&ms)))
}

/// The log-size ranges of the batch tables: 0–1k, 1k–10k, … up to `final_size`.
fn decades(final_size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0u64, 1000u64);
    while lo < final_size {
        out.push((lo, hi));
        lo = hi;
        hi *= 10;
    }
    out
}

/// Mean milliseconds of each append phase (`fwlog::store::APPEND_PHASES`) over the batches
/// that started in `lo..hi`. Means, not medians, so that repacks (a few long ones) count and
/// the phases add up to the mean batch (`validate` and `build` overlap: `validate+build` is
/// their wall time).
fn phase_means(batches: &[Batch], lo: u64, hi: u64) -> Option<Vec<f64>> {
    let sel: Vec<&Batch> = batches
        .iter()
        .filter(|b| b.size_before >= lo && b.size_before < hi && !b.phases.is_empty())
        .collect();
    if sel.is_empty() {
        return None;
    }
    let means = APPEND_PHASES
        .iter()
        .map(|phase| {
            let ms: Vec<f64> = sel
                .iter()
                .filter_map(|b| b.phases.iter().find(|(n, _)| n == phase))
                .map(|(_, secs)| secs * 1e3)
                .collect();
            ms.iter().sum::<f64>() / ms.len().max(1) as f64
        })
        .collect();
    Some(means)
}

/// Batch throughput in log-spaced bins (`per_decade` a decade) of the log size each batch grew
/// the log to: (geometric mean size, entries/s).
fn batch_bins(batches: &[Batch], per_decade: f64) -> Vec<(f64, f64)> {
    let mut bins: BTreeMap<i64, (f64, u64, f64, usize)> = BTreeMap::new();
    for b in batches {
        let end = ((b.size_before + b.n) as f64).max(1.0);
        let k = (end.log10() * per_decade).floor() as i64;
        let e = bins.entry(k).or_default();
        e.0 += end.ln();
        e.1 += b.n;
        e.2 += b.secs;
        e.3 += 1;
    }
    bins.values()
        .map(|(lnsum, n, secs, count)| ((lnsum / *count as f64).exp(), rate(*n, *secs)))
        .collect()
}

/// A y axis: linear from 0 to `top`, or logarithmic between two powers of ten (log10 values).
#[derive(Clone, Copy)]
enum YScale {
    Linear(f64),
    Log(f64, f64),
}

impl YScale {
    /// Linear from 0, unless the values span more than 30x: then whole decades.
    fn for_values(values: impl IntoIterator<Item = f64>) -> YScale {
        let v: Vec<f64> = values
            .into_iter()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let max = v.iter().copied().fold(0.0, f64::max);
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        if v.is_empty() {
            YScale::Linear(1.0)
        } else if max / min > 30.0 {
            YScale::Log(min.log10().floor(), (max * 1.05).log10().ceil())
        } else {
            YScale::Linear(nice_axis(max * 1.1).1)
        }
    }

    /// Where `v` sits, 0 (bottom) to 1 (top).
    fn frac(&self, v: f64) -> f64 {
        match *self {
            YScale::Linear(top) => v / top,
            YScale::Log(lo, hi) => (v.max(1e-12).log10() - lo) / (hi - lo),
        }
    }

    /// Tick values, and whether each is major (labelled).
    fn ticks(&self) -> Vec<(f64, bool)> {
        match *self {
            YScale::Linear(top) => {
                let (step, _) = nice_axis(top);
                (0..)
                    .map(|k| k as f64 * step)
                    .take_while(|v| *v <= top + step * 1e-6)
                    .map(|v| (v, true))
                    .collect()
            }
            YScale::Log(lo, hi) => (lo as i32..=hi as i32)
                .flat_map(|d| {
                    [(1.0, true), (2.0, false), (5.0, false)]
                        .into_iter()
                        .map(move |(m, major)| (m * 10f64.powi(d), major))
                })
                .filter(|(v, _)| v.log10() <= hi + 1e-9)
                .collect(),
        }
    }
}

/// A plot area with a log-scale x axis.
struct Panel {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    /// log10 of the x range.
    lx: (f64, f64),
}

impl Panel {
    fn x(&self, v: f64) -> f64 {
        self.x0 + (v.max(1e-9).log10() - self.lx.0) / (self.lx.1 - self.lx.0) * self.w
    }

    fn y(&self, v: f64, scale: &YScale) -> f64 {
        self.y0 + self.h - scale.frac(v).clamp(-0.02, 1.02) * self.h
    }
}

/// A step of 1, 2, 2.5 or 5 × 10^k giving about five ticks up to `max`; returns (step, top).
fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    (step, (max / step - 1e-9).ceil() * step)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

struct Series<'a> {
    label: &'a str,
    color: &'a str,
    dash: &'a str,
    points: Vec<(f64, f64)>,
    /// On the right-hand axis instead of the left.
    right: bool,
}

/// A horizontal reference line on the left axis: value, colour, dash pattern, label, and whether
/// the label goes at the left end (else the right).
type HLine<'a> = (f64, &'a str, &'a str, &'a str, bool);

struct PanelSpec<'a> {
    title: &'a str,
    left_label: &'a str,
    left: YScale,
    right: Option<(&'a str, YScale)>,
    series: Vec<Series<'a>>,
    hlines: Vec<HLine<'a>>,
}

fn draw_panel(svg: &mut String, id: &str, p: &Panel, spec: &PanelSpec<'_>) {
    let (x0, y0, w, h) = (p.x0, p.y0, p.w, p.h);
    let _ = writeln!(
        svg,
        r##"<clipPath id="{id}"><rect x="{x0}" y="{}" width="{w}" height="{}"/></clipPath>"##,
        y0 - 6.0,
        h + 12.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"##,
        x0 + w / 2.0,
        y0 - 12.0,
        esc(spec.title)
    );
    // x: decades, with 2 and 5 minor ticks.
    for d in p.lx.0 as i32..=p.lx.1 as i32 {
        for (m, major) in [(1.0, true), (2.0, false), (5.0, false)] {
            let v = m * 10f64.powi(d);
            if v.log10() > p.lx.1 + 1e-9 {
                continue;
            }
            let x = p.x(v);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="{}"/><text x="{x:.1}" y="{}" text-anchor="middle" font-size="{}">{}</text>"##,
                y0 + h,
                if major { "#ddd" } else { "#f1f1f1" },
                y0 + h + 16.0,
                if major { 12 } else { 10 },
                short(v)
            );
        }
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle" font-size="13">log size (entries, log scale)</text>"##,
        x0 + w / 2.0,
        y0 + h + 36.0
    );
    // y: left grid and labels, then the optional right axis.
    for (v, major) in spec.left.ticks() {
        let y = p.y(v, &spec.left);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}"/>"##,
            x0 + w,
            if major { "#e4e4e4" } else { "#f4f4f4" }
        );
        if major {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                x0 - 6.0,
                y + 4.0,
                short(v)
            );
        }
    }
    let log_note = |s: &YScale| match s {
        YScale::Log(..) => ", log scale",
        YScale::Linear(_) => "",
    };
    let _ = writeln!(
        svg,
        r##"<text transform="translate({},{}) rotate(-90)" text-anchor="middle" font-size="13">{}{}</text>"##,
        x0 - 48.0,
        y0 + h / 2.0,
        esc(spec.left_label),
        log_note(&spec.left)
    );
    if let Some((label, scale)) = &spec.right {
        for (v, major) in scale.ticks() {
            if !major {
                continue;
            }
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{:.1}" font-size="11" fill="#1f77b4">{}</text>"##,
                x0 + w + 6.0,
                p.y(v, scale) + 4.0,
                short(v)
            );
        }
        let _ = writeln!(
            svg,
            r##"<text transform="translate({},{}) rotate(90)" text-anchor="middle" font-size="13" fill="#1f77b4">{}{}</text>"##,
            x0 + w + 48.0,
            y0 + h / 2.0,
            esc(label),
            log_note(scale)
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>"##
    );
    let _ = writeln!(svg, r##"<g clip-path="url(#{id})">"##);
    for (v, color, dash, label, left) in &spec.hlines {
        if !v.is_finite() {
            continue;
        }
        let y = p.y(*v, &spec.left);
        let (lx, anchor) = if *left {
            (x0 + 4.0, "start")
        } else {
            (x0 + w - 4.0, "end")
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"/><text x="{lx}" y="{:.1}" text-anchor="{anchor}" font-size="11" fill="{color}">{}</text>"##,
            x0 + w,
            y - 4.0,
            esc(label)
        );
    }
    let mut legend = String::new();
    let mut legend_y = y0 + h + 58.0;
    for s in &spec.series {
        let scale = match (&spec.right, s.right) {
            (Some((_, r)), true) => r,
            _ => &spec.left,
        };
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0)
            .map(|(x, y)| (p.x(*x), p.y(*y, scale)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        if pts.len() > 1 {
            let line: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>"##,
                line.join(" "),
                s.color,
                s.dash
            );
        }
        for (cx, cy) in &pts {
            let _ = writeln!(
                svg,
                r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="3" fill="{}"/>"##,
                s.color
            );
        }
        let _ = writeln!(
            legend,
            r##"<line x1="{}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/><text x="{}" y="{}" font-size="11">{}</text>"##,
            x0 + 10.0,
            x0 + 34.0,
            s.color,
            s.dash,
            x0 + 40.0,
            legend_y + 4.0,
            esc(s.label)
        );
        legend_y += 16.0;
    }
    svg.push_str("</g>\n");
    svg.push_str(&legend);
}

struct Report<'a> {
    machine: &'a Machine,
    cfg: &'a Config,
    points: &'a [Point],
    batches: &'a [Batch],
    limits: &'a Ed25519Limits,
    mean_entry: f64,
}

impl Report<'_> {
    fn svg(&self, final_size: u64) -> String {
        let sizes: Vec<f64> = self
            .points
            .iter()
            .map(|p| p.size as f64)
            .chain(self.batches.iter().map(|b| (b.size_before + b.n) as f64))
            .filter(|s| *s > 0.0)
            .collect();
        let min = sizes.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
        let max = sizes.iter().copied().fold(1.0, f64::max);
        let mut lx = (min.log10().floor(), max.log10().ceil());
        if lx.1 <= lx.0 {
            lx.1 = lx.0 + 1.0;
        }
        let (width, height) = (1200.0, 600.0);
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"##
        );
        let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="white"/>"##);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="24" text-anchor="middle" font-size="16">fwlog log growth to {} entries: {} ({} logical CPUs), batches of {}</text>"##,
            width / 2.0,
            thousands(final_size),
            esc(&self.machine.cpu),
            self.machine.logical_cpus,
            self.cfg.batch
        );
        // Left panel: append latency (left axis) and batch throughput (right axis).
        let single: Vec<(f64, f64)> = self
            .points
            .iter()
            .map(|p| (p.size as f64, median(&p.single_ms)))
            .collect();
        let cli1: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter_map(|p| {
                let c = p.cli_append1.as_ref().filter(|c| c.ok)?;
                Some((p.size as f64, c.ms()))
            })
            .collect();
        let bins = batch_bins(self.batches, 10.0);
        let left_scale = YScale::for_values(single.iter().chain(&cli1).map(|p| p.1));
        let right_scale = YScale::for_values(bins.iter().map(|p| p.1));
        let batch_label = format!("batches of {}, entries/s (right axis)", self.cfg.batch);
        let appends = PanelSpec {
            title: "Appends",
            left_label: "single-entry append latency (ms)",
            left: left_scale,
            right: Some(("batch append throughput (entries/s)", right_scale)),
            series: vec![
                Series {
                    label: "single entry, in-process (median of 5), ms",
                    color: "#d62728",
                    dash: "none",
                    points: single,
                    right: false,
                },
                Series {
                    label: "`fwlog log append` of 1 entry (process), ms",
                    color: "#ff7f0e",
                    dash: "6 3",
                    points: cli1,
                    right: false,
                },
                Series {
                    label: &batch_label,
                    color: "#1f77b4",
                    dash: "none",
                    points: bins,
                    right: true,
                },
            ],
            hlines: Vec::new(),
        };
        let left = Panel {
            x0: 80.0,
            y0: 70.0,
            w: 410.0,
            h: 370.0,
            lx,
        };
        draw_panel(&mut svg, "appends", &left, &appends);

        // Right panel: audit throughput against the Ed25519 limit.
        let audit_in: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter_map(|p| {
                let (n, secs, _) = p.audit?;
                Some((p.size as f64, rate(n, secs)))
            })
            .collect();
        let audit_cli: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter_map(|p| {
                let (n, v) = p.verify_cli.as_ref().filter(|(_, v)| v.ok)?;
                Some((*n as f64, rate(*n, v.wall_s)))
            })
            .collect();
        let l = self.limits;
        let scale = YScale::for_values(
            audit_in
                .iter()
                .chain(&audit_cli)
                .map(|p| p.1)
                .chain([l.limit(), l.strict_1]),
        );
        let all_label = format!(
            "strict Ed25519 limit, {} threads: {}/s",
            self.machine.rayon_threads,
            short(l.limit())
        );
        let one_label = format!(
            "fwlog::ed25519::verify_strict, 1 thread: {}/s",
            short(l.fwlog_1)
        );
        let target_label = format!("80% of the {}-thread limit", self.machine.rayon_threads);
        let audit = PanelSpec {
            title: "Full audit",
            left_label: "audit throughput (entries/s)",
            left: scale,
            right: None,
            series: vec![
                Series {
                    label: "fwlog::audit::audit, in-process",
                    color: "#2ca02c",
                    dash: "none",
                    points: audit_in,
                    right: false,
                },
                Series {
                    label: "`fwlog log verify` (process)",
                    color: "#9467bd",
                    dash: "6 3",
                    points: audit_cli,
                    right: false,
                },
            ],
            hlines: vec![
                (l.limit(), "#d62728", "none", all_label.as_str(), false),
                (
                    0.8 * l.limit(),
                    "#d62728",
                    "2 3",
                    target_label.as_str(),
                    false,
                ),
                (l.fwlog_1, "#7f7f7f", "6 3", one_label.as_str(), true),
            ],
        };
        let right = Panel {
            x0: 700.0,
            y0: 70.0,
            w: 450.0,
            h: 370.0,
            lx,
        };
        draw_panel(&mut svg, "audit", &right, &audit);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#555">{}</text>"##,
            width / 2.0,
            height - 12.0,
            esc(&format!(
                "{} repository · mean entry {:.0} B · Linux {} · {} · load average at start {}",
                if self.cfg.bare { "bare" } else { "checked-out" },
                self.mean_entry,
                self.machine.kernel,
                self.machine.git,
                self.machine.load_at_start
            ))
        );
        svg.push_str("</svg>\n");
        svg
    }
}

fn point_json(p: &Point, limit: f64) -> Value {
    let procs = |v: &[Proc]| Value::Array(v.iter().map(Proc::to_json).collect());
    let opt = |o: &Option<Proc>| o.as_ref().map_or(Value::Null, Proc::to_json);
    json!({
        "target": p.target,
        "size": p.size,
        "single_append_ms": p.single_ms,
        "single_append_ms_median": median(&p.single_ms),
        "prove_us_median": median(&p.prove_us),
        "prove_us_mean": mean(&p.prove_us),
        "head_prove_us_median": median(&p.head_prove_us),
        "cold_prove": procs(&p.cold_prove),
        "cold_prove_ms_median": median(&p.cold_prove.iter().filter(|c| c.ok).map(Proc::ms).collect::<Vec<_>>()),
        "recent_batch_entries_per_s": p.recent_batch_eps,
        "audit_in_process_any_entry_seconds": p.audit_structure,
        "audit_in_process": p.audit.map_or(Value::Null, |(n, secs, commits)| json!({
            "entries": n,
            "seconds": secs,
            "entries_per_s": rate(n, secs),
            "percent_of_ed25519_limit": 100.0 * rate(n, secs) / limit,
            "commits_checked": commits,
        })),
        "log_verify": p.verify_cli.as_ref().map_or(Value::Null, |(n, v)| json!({
            "entries": n,
            "process": v.to_json(),
            "entries_per_s": rate(*n, v.wall_s),
            "percent_of_ed25519_limit": 100.0 * rate(*n, v.wall_s) / limit,
            "cores_busy": v.cores(),
        })),
        "allowlist": opt(&p.allowlist),
        "bundle": opt(&p.bundle),
        "bundle_bytes": p.bundle_bytes,
        "bundle_verify": opt(&p.bundle_verify),
        "log_append_1": opt(&p.cli_append1),
        "log_append_batch": opt(&p.cli_append_batch),
        "log_append_batch_entries": CLI_BATCH,
    })
}

// ---------------------------------------------------------------------------------------------

fn main() {
    if std::env::var_os(SPAWNER_ENV).is_some() {
        spawner_main();
        return;
    }
    let cfg = Config::from_env();
    // Started first, while this process is small.
    let mut spawner = Spawner::start();
    let machine = Machine::probe();

    let tmp = tempfile::Builder::new()
        .prefix("fwlog-bench-")
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let repo = dir.join("log");
    // A private copy of the binary, so that a concurrent rebuild cannot swap it mid-run.
    let fwlog = dir.join("fwlog");
    std::fs::copy(env!("CARGO_BIN_EXE_fwlog"), &fwlog).expect("copy fwlog");
    let corpus = Corpus::new();
    let key_file = dir.join("log.key");
    std::fs::write(&key_file, corpus.log.to_key_string()).expect("write key");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod key");
    }
    let policy = {
        let list = |keys: &[SignerKey]| {
            keys.iter()
                .map(|k| format!("{:?}", k.verifier_key().to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            "[log]\norigin = {ORIGIN:?}\nkey = {:?}\n",
            corpus.log.verifier_key().to_string()
        );
        for (v, key) in corpus.vendors.iter().enumerate() {
            let names: Vec<String> = FAMILIES
                .iter()
                .filter(|f| f.vendor == v)
                .map(|f| format!("{:?}", f.name))
                .collect();
            let _ = write!(
                s,
                "[[vendors]]\nkey = {:?}\nfirmware = [{}]\n",
                key.verifier_key().to_string(),
                names.join(", ")
            );
        }
        let _ = write!(
            s,
            "[rebuilders]\nquorum = 3\nkeys = [{}]\non_mismatch = \"ignore\"\n",
            list(&corpus.rebuilders)
        );
        s
    };
    std::fs::write(dir.join("policy.toml"), policy).expect("write policy");
    if cfg.bare {
        git2::Repository::init_bare(&repo).expect("git init --bare");
    }
    let git_dir = if cfg.bare {
        repo.clone()
    } else {
        repo.join(".git")
    };
    let store = LogStore::init(
        &repo,
        DEFAULT_BRANCH,
        ORIGIN,
        &corpus.log,
        EntrySchema::Fwlog,
    )
    .expect("log init");
    // What the helper process's own size puts under every child's peak RSS.
    let baseline = spawner.run(Path::new("/bin/true"), &[], &dir, &dir.join("true.out"));
    spawner.baseline = Some(baseline);

    let plan = plan(cfg.target, cfg.audit_upto);
    eprintln!(
        "growing a fwlog/v1 log in {} ({}) to {} entries in batches of {}; measuring at {:?}",
        repo.display(),
        if cfg.bare { "bare" } else { "with checkout" },
        thousands(cfg.target),
        cfg.batch,
        plan.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    let mut bench = Bench {
        cfg,
        dir: dir.clone(),
        fwlog,
        store,
        corpus,
        validator: FwlogEntries::new(ORIGIN),
        spawner,
        stats: EntryStats::default(),
        size: 0,
        gen_secs: 0.0,
        batches: Vec::new(),
        sig_samples: Vec::new(),
        cli_seq: 0,
    };

    // Batches go through an append session, as a writer appending batch after batch would
    // (a second handle on the repository, so that the bench can borrow its own); it is closed
    // around every measuring point, whose appends and processes take the writer lock.
    let writer = LogStore::open(&repo, DEFAULT_BRANCH).expect("open the log for the session");
    let mut session = None;
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut points: Vec<Point> = Vec::new();
    let mut next_point = 0;
    let target = bench.cfg.target;
    while next_point < plan.len() {
        let (at, cli, audit) = plan[next_point];
        if bench.size >= at {
            session = None;
            let p = bench.measure(at, cli, audit);
            points.push(p);
            next_point += 1;
            continue;
        }
        let n = bench.cfg.batch.min(target.max(at) - bench.size);
        let s = match &mut session {
            Some(s) => s,
            None => session.insert(writer.append_session().expect("append session")),
        };
        bench.grow_batch(n, s);
        if last_progress.elapsed() > Duration::from_secs(10) {
            last_progress = Instant::now();
            let b = bench.batches.last().expect("a batch");
            let done = bench.size as f64 / target as f64;
            let el = started.elapsed().as_secs_f64();
            eprintln!(
                "  size {:>9}: last batch {:.0} ms, {:.0} s elapsed, ~{:.0} s to go",
                thousands(bench.size),
                b.secs * 1e3,
                el,
                el / done.max(1e-9) * (1.0 - done)
            );
        }
    }
    drop(session);
    let total_secs = started.elapsed().as_secs_f64();
    let final_size = bench.size;
    assert_eq!(bench.head_size(), final_size);

    eprintln!(
        "measuring the Ed25519 limit over {} signatures ...",
        bench.sig_samples.len()
    );
    let limits = ed25519_limits(&bench.sig_samples);
    bench.sig_samples = Vec::new();

    let before_gc = Disk::of(&git_dir);
    eprintln!("git gc ...");
    let gc = bench.spawner.run(
        Path::new("git"),
        &["-C", &git_dir.to_string_lossy(), "gc", "--quiet"],
        &dir,
        &dir.join("gc.out"),
    );
    let after_gc = Disk::of(&git_dir);
    bench.spawner.stop();

    // ---- Report.
    let stats = &bench.stats;
    let cfg = &bench.cfg;
    let limit = limits.limit();
    let vpe = stats.verifications_per_entry();
    let mean_entry = stats.bytes() as f64 / stats.count().max(1) as f64;
    println!("\nfwlog log growth benchmark");
    println!(
        "machine: {}, {} logical CPUs ({} rayon threads), {} MiB RAM, Linux {}, {}; load average at start {}, at end {}",
        machine.cpu,
        machine.logical_cpus,
        machine.rayon_threads,
        thousands(machine.mem_total_mib),
        machine.kernel,
        machine.git,
        machine.load_at_start,
        load_avg()
    );
    println!(
        "log: fwlog/v1, {} repository, {} entries ({} grown in {} batches of up to {}, the rest by measurements); {:.0} s in all",
        if cfg.bare { "bare" } else { "checked-out" },
        thousands(final_size),
        thousands(bench.batches.iter().map(|b| b.n).sum()),
        bench.batches.len(),
        cfg.batch,
        total_secs
    );
    println!(
        "entries: {} releases (mean {:.0} B), {} reproductions (mean {:.0} B); mean {:.0} B, max {} B, {:.1} MiB in all",
        thousands(stats.releases),
        stats.release_bytes as f64 / stats.releases.max(1) as f64,
        thousands(stats.reproductions),
        stats.reproduction_bytes as f64 / stats.reproductions.max(1) as f64,
        mean_entry,
        thousands(stats.max_bytes),
        mib(stats.bytes())
    );
    println!(
        "generating (signing) the entries: {:.1} s in all, not part of any timing; bench process peak RSS {:.0} MiB",
        bench.gen_secs,
        own_peak_rss_kib() as f64 / 1024.0
    );
    if let Some(b) = &bench.spawner.baseline {
        println!(
            "child processes are spawned by a helper process: peak RSS of /bin/true through it {:.1} MiB (the floor under every RSS below)",
            b.rss_mib()
        );
    }

    // Sustained throughput.
    let mut rows = Vec::new();
    for (lo, hi) in decades(final_size) {
        if let Some((eps, n, med)) = batch_range(&bench.batches, lo, hi) {
            rows.push(vec![
                format!("{}–{}", short(lo as f64), short(hi as f64)),
                n.to_string(),
                format!("{eps:.0}"),
                format!("{med:.0}"),
            ]);
        }
    }
    let all_n: u64 = bench.batches.iter().map(|b| b.n).sum();
    let all_secs: f64 = bench.batches.iter().map(|b| b.secs).sum();
    let all_ms: Vec<f64> = bench.batches.iter().map(|b| b.secs * 1e3).collect();
    rows.push(vec![
        "all".into(),
        bench.batches.len().to_string(),
        format!("{:.0}", rate(all_n, all_secs)),
        format!("{:.0}", median(&all_ms)),
    ]);
    print_table(
        &format!("1. sustained batch append (AppendSession::append, batches of {}), by log size before the batch", cfg.batch),
        &["log size", "batches", "entries/s", "median ms/batch"],
        &rows,
    );
    let rows: Vec<Vec<String>> = decades(final_size)
        .into_iter()
        .filter_map(|(lo, hi)| {
            let means = phase_means(&bench.batches, lo, hi)?;
            let mut row = vec![format!("{}–{}", short(lo as f64), short(hi as f64))];
            row.extend(means.iter().map(|ms| format!("{ms:.1}")));
            Some(row)
        })
        .collect();
    let mut header = vec!["log size"];
    header.extend(APPEND_PHASES);
    print_table(
        "   where a batch's time goes: mean ms per phase (AppendOutcome::phases; validate and build run side by side, validate+build is their wall time)",
        &header,
        &rows,
    );

    // Appends at the points.
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            vec![
                thousands(p.size),
                format!("{:.1}", median(&p.single_ms)),
                format!("{:.0}", p.recent_batch_eps),
                p.cli_append1.as_ref().map_or("-".into(), |c| {
                    fmt_proc(c, |c| format!("{:.0} ms, {}", c.ms(), c.rss()))
                }),
                p.cli_append_batch.as_ref().map_or("-".into(), |c| {
                    fmt_proc(c, |c| {
                        format!(
                            "{:.0} ms ({:.0}/s), {}",
                            c.ms(),
                            rate(CLI_BATCH, c.wall_s),
                            c.rss()
                        )
                    })
                }),
            ]
        })
        .collect();
    print_table(
        "2. appends at log sizes",
        &[
            "log size",
            "single append ms (median of 5, in-process)",
            "last 5 batches, entries/s",
            "`log append` 1 entry: time, peak RSS",
            &format!("`log append` {CLI_BATCH} entries: time, peak RSS"),
        ],
        &rows,
    );

    // Proofs and bundles.
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            let cold: Vec<&Proc> = p.cold_prove.iter().collect();
            let ok: Vec<f64> = cold.iter().filter(|c| c.ok).map(|c| c.ms()).collect();
            let cold_cell = if ok.len() == cold.len() {
                format!(
                    "{:.1} ms, {:.0} MiB",
                    median(&ok),
                    cold.iter().map(|c| c.rss_mib()).fold(0.0, f64::max)
                )
            } else {
                let e = cold.iter().find(|c| !c.ok).map_or("", |c| c.error.as_str());
                format!("FAILED ({e})")
            };
            vec![
                thousands(p.size),
                format!("{:.0} / {:.0}", median(&p.prove_us), mean(&p.prove_us)),
                format!("{:.0}", median(&p.head_prove_us)),
                cold_cell,
                p.bundle.as_ref().map_or("-".into(), |c| {
                    fmt_proc(c, |c| {
                        format!(
                            "{:.0} ms, {}, {} KiB",
                            c.ms(),
                            c.rss(),
                            p.bundle_bytes / 1024
                        )
                    })
                }),
                p.bundle_verify.as_ref().map_or("-".into(), |c| {
                    fmt_proc(c, |c| format!("{:.1} ms, {}", c.ms(), c.rss()))
                }),
            ]
        })
        .collect();
    print_table(
        "3. inclusion proofs and offline bundles",
        &[
            "log size",
            &format!("prove µs median / mean of {PROOFS}"),
            "head()+prove µs",
            &format!("`log prove` median of {COLD_PROOFS}, peak RSS"),
            "`bundle`: time, RSS, size",
            "offline `verify`: time, RSS",
        ],
        &rows,
    );

    // Audits.
    let rows: Vec<Vec<String>> = points
        .iter()
        .filter(|p| p.audit.is_some() || p.verify_cli.is_some())
        .map(|p| {
            let inproc = p.audit.map_or("-".into(), |(n, secs, commits)| {
                format!(
                    "{:.2} s, {:.0}/s ({:.0}%), {} commits",
                    secs,
                    rate(n, secs),
                    100.0 * rate(n, secs) / limit,
                    commits
                )
            });
            let cli = p.verify_cli.as_ref().map_or("-".into(), |(n, v)| {
                fmt_proc(v, |v| {
                    format!(
                        "{:.2} s, {:.0}/s ({:.0}%), {}, {:.2} cores",
                        v.wall_s,
                        rate(*n, v.wall_s),
                        100.0 * rate(*n, v.wall_s) / limit,
                        v.rss(),
                        v.cores()
                    )
                })
            });
            let structure = match (p.audit, p.audit_structure) {
                (Some((n, secs, _)), Some(s)) => format!(
                    "{:.2} s, {:.0}/s; validation {:.0}% of the audit",
                    s,
                    rate(n, s),
                    100.0 * (secs - s).max(0.0) / secs
                ),
                _ => "-".into(),
            };
            let allowlist = p.allowlist.as_ref().map_or("-".into(), |a| {
                fmt_proc(a, |a| format!("{:.2} s, {}", a.wall_s, a.rss()))
            });
            vec![thousands(p.size), inproc, structure, cli, allowlist]
        })
        .collect();
    print_table(
        &format!(
            "4. full audit, entries/s (% of the {}-thread strict Ed25519 limit, {:.0}/s)",
            machine.rayon_threads, limit
        ),
        &[
            "log size",
            "audit::audit in-process (FwlogEntries)",
            "the same with AnyEntry (no entry validation)",
            "`fwlog log verify`: time, entries/s, peak RSS, CPU",
            "`fwlog allowlist`: time, peak RSS",
        ],
        &rows,
    );
    let best_audit = points
        .iter()
        .filter_map(|p| p.verify_cli.as_ref().filter(|(_, v)| v.ok))
        .next_back()
        .map(|(n, v)| rate(*n, v.wall_s));
    let all = machine.rayon_threads;
    let rows: Vec<Vec<String>> = [
        (
            "ed25519-dalek verify_strict, 1 thread".to_string(),
            limits.strict_1,
        ),
        (
            format!("ed25519-dalek verify_strict, {all} threads"),
            limits.strict_all,
        ),
        (
            "fwlog::ed25519::verify_strict (what DSSE verification calls), 1 thread".into(),
            limits.fwlog_1,
        ),
        (
            format!("fwlog::ed25519::verify_strict, {all} threads"),
            limits.fwlog_all,
        ),
        (
            "the limit: the faster strict loop on all threads".into(),
            limits.limit(),
        ),
        ("verify (not strict), 1 thread".into(), limits.plain_1),
        (
            "keyid parse + verify_strict, 1 thread".into(),
            limits.keyid_strict_1,
        ),
        (
            "entry::parse_entry (envelope, signature, statement), 1 thread".into(),
            limits.parse_entry_1,
        ),
        (
            format!("entry::parse_entry, {all} threads"),
            limits.parse_entry_all,
        ),
        (
            "verify_batch (64 per batch, not strict), 1 thread".into(),
            limits.batch_1,
        ),
    ]
    .into_iter()
    .map(|(label, per_s)| vec![label, format!("{per_s:.0}")])
    .collect();
    print_table(
        &format!(
            "   Ed25519 over the signatures of the first {} entries, per second (best of 3)",
            thousands(limits.samples as u64)
        ),
        &["loop", "per second"],
        &rows,
    );
    if let Some(eps) = best_audit {
        println!(
            "  `fwlog log verify` at {} entries: {:.0} entries/s = {:.0}% of the limit (target: 80%); validation checks {:.3} signature(s) per entry, so it verifies {:.0} signatures/s = {:.0}% of the limit",
            thousands(final_size),
            eps,
            100.0 * eps / limit,
            vpe,
            eps * vpe,
            100.0 * eps * vpe / limit
        );
    }

    // Disk.
    let rows = vec![
        vec![
            "before gc".into(),
            format!("{:.1}", mib(before_gc.apparent)),
            format!("{:.1}", mib(before_gc.allocated)),
            format!("{:.0}", before_gc.apparent as f64 / final_size as f64),
            before_gc.files.to_string(),
            before_gc.packs.to_string(),
        ],
        vec![
            "after `git gc`".into(),
            format!("{:.1}", mib(after_gc.apparent)),
            format!("{:.1}", mib(after_gc.allocated)),
            format!("{:.0}", after_gc.apparent as f64 / final_size as f64),
            after_gc.files.to_string(),
            after_gc.packs.to_string(),
        ],
    ];
    print_table(
        &format!(
            "5. repository on disk ({} entries, {:.1} MiB of entry bytes, mean {:.0} B)",
            thousands(final_size),
            mib(stats.bytes()),
            mean_entry
        ),
        &["", "MiB", "MiB allocated", "bytes/entry", "files", "packs"],
        &rows,
    );
    println!(
        "  `git gc`: {}",
        fmt_proc(&gc, |g| format!("{:.1} s, peak RSS {}", g.wall_s, g.rss()))
    );

    // Files.
    let report = Report {
        machine: &machine,
        cfg,
        points: &points,
        batches: &bench.batches,
        limits: &limits,
        mean_entry,
    };
    let svg = report.svg(final_size);
    let results = json!({
        "machine": {
            "cpu": machine.cpu,
            "logical_cpus": machine.logical_cpus,
            "rayon_threads": machine.rayon_threads,
            "mem_total_mib": machine.mem_total_mib,
            "kernel": machine.kernel,
            "git": machine.git,
            "load_at_start": machine.load_at_start,
            "load_at_end": load_avg(),
        },
        "config": {
            "entries": cfg.target,
            "batch": cfg.batch,
            "audit_upto": cfg.audit_upto,
            "sig_sample": cfg.sig_sample,
            "bare": cfg.bare,
            "release_every": RELEASE_EVERY,
            "rebuilders": REBUILDERS.len(),
        },
        "log": {
            "final_size": final_size,
            "total_seconds": total_secs,
            "generation_seconds": bench.gen_secs,
            "bench_peak_rss_kib": own_peak_rss_kib(),
            "spawner_baseline": bench.spawner.baseline.as_ref().map_or(Value::Null, Proc::to_json),
        },
        "entries": {
            "releases": stats.releases,
            "release_mean_bytes": stats.release_bytes as f64 / stats.releases.max(1) as f64,
            "reproductions": stats.reproductions,
            "reproduction_mean_bytes": stats.reproduction_bytes as f64 / stats.reproductions.max(1) as f64,
            "mean_bytes": mean_entry,
            "max_bytes": stats.max_bytes,
            "total_bytes": stats.bytes(),
            "signature_verifications_per_entry_in_validation": vpe,
        },
        "batches": bench.batches.iter().map(|b| json!([b.size_before, b.n, b.secs])).collect::<Vec<_>>(),
        "batches_columns": ["size_before", "entries", "seconds"],
        "batch_phases_mean_ms": decades(final_size)
            .into_iter()
            .filter_map(|(lo, hi)| {
                let means = phase_means(&bench.batches, lo, hi)?;
                let phases: serde_json::Map<String, Value> = APPEND_PHASES
                    .iter()
                    .zip(means)
                    .map(|(name, ms)| (name.to_string(), json!(ms)))
                    .collect();
                Some(json!({"from": lo, "to": hi, "phases": phases}))
            })
            .collect::<Vec<_>>(),
        "batch_append": {
            "entries_per_s": rate(all_n, all_secs),
            "median_ms": median(&all_ms),
        },
        "points": points.iter().map(|p| point_json(p, limit)).collect::<Vec<_>>(),
        "ed25519_per_s": {
            "samples": limits.samples,
            "verify_strict_1_thread": limits.strict_1,
            "verify_strict_all_threads": limits.strict_all,
            "fwlog_verify_strict_1_thread": limits.fwlog_1,
            "fwlog_verify_strict_all_threads": limits.fwlog_all,
            "limit": limits.limit(),
            "verify_1_thread": limits.plain_1,
            "keyid_parse_and_verify_strict_1_thread": limits.keyid_strict_1,
            "parse_entry_1_thread": limits.parse_entry_1,
            "parse_entry_all_threads": limits.parse_entry_all,
            "verify_batch_64_1_thread": limits.batch_1,
        },
        "disk": {
            "before_gc": before_gc.to_json(final_size),
            "after_gc": after_gc.to_json(final_size),
            "gc": gc.to_json(),
        },
    });
    std::fs::create_dir_all(&cfg.out).expect("create FWLOG_BENCH_OUT");
    let json_path = cfg.out.join("results.json");
    let svg_path = cfg.out.join("bench.svg");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&results).expect("json"),
    )
    .expect("write results.json");
    std::fs::write(&svg_path, svg).expect("write bench.svg");
    println!("\nwrote {} and {}", json_path.display(), svg_path.display());

    if cfg.keep {
        drop(bench);
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
}
