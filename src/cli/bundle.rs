//! `fwlog bundle`, `fwlog verify`, `fwlog allowlist`: what a guest owner runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args, ValueEnum};
use fwlog::bundle::{Bundle, Verified, MAX_BUNDLE_BYTES};
use fwlog::catalog::{evaluate_releases, Catalog, Selection};
use fwlog::entry::release::SevTails;
use fwlog::entry::{Entry, Release};
use fwlog::measure::{
    self, launch_digest, snp_digest_from_tail, SevMode, SnpReport, VmShape, MAX_IMAGE_SIZE,
};
use fwlog::policy::{Policy, MAX_POLICY_BYTES};
use serde_json::json;

use super::args::{print_json, read_capped, write_output};
use super::log::RepoArgs;
use super::EXIT_FAILED;

/// The artifact being asked about: a file, or its SHA-256.
#[derive(Args)]
#[command(group(ArgGroup::new("what").required(true).args(["artifact", "sha256"])))]
pub struct ArtifactArgs {
    /// The firmware file.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// The firmware's SHA-256, in hex.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
}

impl ArtifactArgs {
    fn digest(&self) -> Result<[u8; 32]> {
        match (&self.artifact, &self.sha256) {
            (Some(path), _) => {
                let f = std::fs::File::open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                Ok(fwlog::rebuild::digests(f)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .0)
            }
            (None, Some(h)) => {
                let bytes = hex::decode(h)
                    .ok()
                    .filter(|b| b.len() == 32 && h.len() == 64);
                bytes
                    .and_then(|b| b.try_into().ok())
                    .context("--sha256 must be 64 hex digits")
            }
            (None, None) => bail!("give --artifact or --sha256"),
        }
    }
}

#[derive(Args)]
pub struct BundleArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    what: ArtifactArgs,
    /// Where to write the bundle.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
#[command(group(ArgGroup::new("query").required(true).args(["artifact", "sha256", "snp_measurement", "snp_report", "sev_measurement"])))]
#[command(group(ArgGroup::new("snp").args(["snp_measurement", "snp_report"])))]
pub struct VerifyArgs {
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// The offline bundle (from `fwlog bundle`).
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// The firmware file.
    #[arg(long, value_name = "FILE")]
    artifact: Option<PathBuf>,
    /// The firmware's SHA-256, in hex.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// An SEV-SNP launch measurement (96 hex digits, the attestation report's MEASUREMENT):
    /// succeed when an artifact of the bundle's release, measured from its logged snpOvmfHash
    /// and sevTail in one of the --vm-shape shapes, gives it.
    #[arg(long, value_name = "HEX")]
    snp_measurement: Option<String>,
    /// A raw SEV-SNP attestation report (1184 bytes): as --snp-measurement with its
    /// MEASUREMENT (the report's signature is not checked here).
    #[arg(long, value_name = "FILE")]
    snp_report: Option<PathBuf>,
    /// An SEV launch measurement (64 hex digits) of a guest without kernel hashes: the
    /// SHA-256 of the firmware image, compared with every artifact's.
    #[arg(long, value_name = "HEX")]
    sev_measurement: Option<String>,
    /// A VM shape the SEV-SNP guest may run in (repeatable): comma-separated vcpus=N,
    /// type=NAME (e.g. EPYC-v4) or sig=0xHEX, vmm=qemu|ec2|gce, features=0xHEX. Unset keys and
    /// no --vm-shape at all: 1 vCPU, EPYC-v4, qemu, features 0x1.
    #[arg(long = "vm-shape", value_name = "SPEC", requires = "snp")]
    vm_shapes: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Which launch measurement `fwlog allowlist` lists.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MeasurementArg {
    /// SEV without kernel hashes: the image's SHA-256, from the log.
    Sev,
    /// SEV-ES: needs the images (--firmware-dir).
    #[value(alias = "sev-es")]
    Seves,
    /// SEV-SNP: from the logged snpOvmfHash and sevTail.
    #[value(alias = "sev-snp")]
    Snp,
}

#[derive(Args)]
pub struct AllowlistArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// List expected launch measurements instead of artifact digests, for the SEV-capable
    /// OVMF artifacts (those with an snpOvmfHash): `sev` (the image's SHA-256), `seves` (needs
    /// --firmware-dir) or `snp` (from snpOvmfHash and sevTail).
    #[arg(long, value_enum, value_name = "MODE")]
    measurement: Option<MeasurementArg>,
    /// A VM shape (repeatable; seves and snp): comma-separated vcpus=N, type=NAME or
    /// sig=0xHEX, vmm=qemu|ec2|gce, features=0xHEX. Default: 1 vCPU, EPYC-v4, qemu, 0x1.
    #[arg(long = "vm-shape", value_name = "SPEC", requires = "measurement")]
    vm_shapes: Vec<String>,
    /// A directory holding the firmware images (any file names; found by SHA-256), for
    /// --measurement seves.
    #[arg(long, value_name = "DIR", requires = "measurement")]
    firmware_dir: Option<PathBuf>,
    /// Print a JSON array instead.
    #[arg(long)]
    json: bool,
}

/// The shapes given, or the default shape.
fn shapes(specs: &[String]) -> Result<Vec<VmShape>> {
    if specs.is_empty() {
        return Ok(vec![VmShape::default()]);
    }
    specs
        .iter()
        .map(|s| VmShape::parse(s).with_context(|| format!("--vm-shape {s}")))
        .collect()
}

/// Exactly `N` bytes of lowercase or uppercase hex.
fn hex_exact<const N: usize>(flag: &str, s: &str) -> Result<[u8; N]> {
    hex::decode(s)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .with_context(|| format!("{flag} must be {} hex digits", 2 * N))
}

pub fn load_policy(path: &std::path::Path) -> Result<Policy> {
    let bytes = read_capped(path, MAX_POLICY_BYTES)?;
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8", path.display()))?;
    Policy::parse(&text).with_context(|| format!("{}", path.display()))
}

pub fn bundle(a: BundleArgs) -> Result<ExitCode> {
    let digest = a.what.digest()?;
    let store = a.repo.open()?;
    let snap = store.head()?;
    snap.checkpoint
        .verify(&snap.info.key, Some(&snap.info.origin), &[], 0)
        .context("the log's checkpoint does not verify")?;
    // Only the releases listing this artifact, and the reproductions about them.
    let catalog = Catalog::scan_selected(&snap, &Selection::artifact_sha256(digest))?;
    let releases = catalog.releases_with(&digest);
    let Some(release) = releases.first() else {
        bail!(
            "no release in the log has an artifact with sha256 {}",
            hex::encode(digest)
        );
    };
    if releases.len() > 1 {
        eprintln!(
            "fwlog: {} releases list this artifact; bundling the first, entry {}",
            releases.len(),
            release.index
        );
    }
    let bundle = catalog.bundle(&snap, release)?;
    write_output(&a.out, &bundle.to_bytes())?;
    eprintln!(
        "wrote {}: release {} {} (entry {}) with {} reproduction(s), proven against checkpoint size {}",
        a.out.display(),
        release.release.firmware_name,
        release.release.version,
        release.index,
        bundle.reproductions.len(),
        snap.size()
    );
    Ok(ExitCode::SUCCESS)
}

/// What `fwlog verify` was asked about.
enum Query {
    /// An artifact's SHA-256 (`--artifact`, `--sha256`).
    Sha256([u8; 32]),
    /// An SEV launch digest without kernel hashes: an image's SHA-256.
    Sev([u8; 32]),
    /// An SEV-SNP launch digest, in one of these shapes.
    Snp([u8; 48], Vec<VmShape>),
}

impl Query {
    fn from_args(a: &VerifyArgs) -> Result<Query> {
        if let Some(h) = &a.sev_measurement {
            return Ok(Query::Sev(hex_exact("--sev-measurement", h)?));
        }
        if let Some(h) = &a.snp_measurement {
            return Ok(Query::Snp(
                hex_exact("--snp-measurement", h)?,
                shapes(&a.vm_shapes)?,
            ));
        }
        if let Some(path) = &a.snp_report {
            // A little more than a report, so that a wrong file gets the parser's length error.
            let bytes = read_capped(path, 1 << 16)?;
            let report = SnpReport::parse(&bytes).with_context(|| path.display().to_string())?;
            return Ok(Query::Snp(report.measurement, shapes(&a.vm_shapes)?));
        }
        let what = ArtifactArgs {
            artifact: a.artifact.clone(),
            sha256: a.sha256.clone(),
        };
        Ok(Query::Sha256(what.digest()?))
    }
}

/// A verified measurement: which artifact gave it, in which shape.
struct MeasurementMatch {
    mode: SevMode,
    measurement: Vec<u8>,
    artifact: String,
    sha256: [u8; 32],
    shape: Option<VmShape>,
}

/// The release in the bundle (signature checked, nothing else) with its sevTails.
fn bundle_release(bundle: &Bundle) -> Result<(Release, SevTails), String> {
    let parsed = fwlog::entry::parse_entry(&bundle.release.entry)
        .map_err(|e| format!("entry {}: {e}", bundle.release.index))?;
    if !matches!(parsed.entry, Entry::Release(_)) {
        return Err(format!("entry {} is not a release", bundle.release.index));
    }
    Release::from_statement_with_sev_tails(&parsed.statement_bytes)
        .map_err(|e| format!("entry {}: {e}", bundle.release.index))
}

/// Finds the artifact of `release` whose launch measurement is the query's. Errors list what
/// was tried.
fn match_measurement(
    release: &Release,
    tails: &SevTails,
    query: &Query,
) -> Result<MeasurementMatch, String> {
    let what = format!("{} {}", release.firmware_name, release.version);
    match query {
        Query::Sha256(_) => Err("not a measurement".into()),
        Query::Sev(m) => release
            .artifacts
            .iter()
            .find(|a| &a.sha256 == m)
            .map(|a| MeasurementMatch {
                mode: SevMode::Sev,
                measurement: m.to_vec(),
                artifact: a.name.clone(),
                sha256: a.sha256,
                shape: None,
            })
            .ok_or_else(|| {
                let tried: Vec<String> = release
                    .artifacts
                    .iter()
                    .map(|a| format!("{} {}", a.name, hex::encode(a.sha256)))
                    .collect();
                format!(
                    "SEV measurement {} is not the launch digest (SHA-256) of any artifact of {what}; tried: {}",
                    hex::encode(m),
                    tried.join("; ")
                )
            }),
        Query::Snp(m, shapes) => {
            let mut tried = Vec::new();
            for a in &release.artifacts {
                let (Some(hash), Some(tail)) = (&a.snp_ovmf_hash, tails.get(&a.name)) else {
                    tried.push(format!("{} (no snpOvmfHash and sevTail)", a.name));
                    continue;
                };
                for shape in shapes {
                    match snp_digest_from_tail(hash, tail.as_bytes(), shape) {
                        Ok(d) if &d == m => {
                            return Ok(MeasurementMatch {
                                mode: SevMode::Snp,
                                measurement: m.to_vec(),
                                artifact: a.name.clone(),
                                sha256: a.sha256,
                                shape: Some(*shape),
                            })
                        }
                        Ok(d) => tried.push(format!("{} in {shape}: {}", a.name, hex::encode(d))),
                        Err(e) => tried.push(format!("{} in {shape}: {e}", a.name)),
                    }
                }
            }
            Err(format!(
                "SEV-SNP measurement {} is not produced by any artifact of {what} in the given VM shape(s); tried: {}",
                hex::encode(m),
                tried.join("; ")
            ))
        }
    }
}

/// Parses and verifies the bundle for the query: for a measurement, the artifact that gives it
/// must exist and the bundle must verify for that artifact's SHA-256.
fn verify_query(
    policy: &Policy,
    bytes: &[u8],
    query: &Query,
) -> Result<(Verified, Option<MeasurementMatch>), String> {
    let bundle = Bundle::parse(bytes).map_err(|e| e.to_string())?;
    let sha = match query {
        Query::Sha256(d) => *d,
        Query::Sev(_) | Query::Snp(..) => {
            // Check the bundle and the policy first (with any artifact of the release: the
            // policy judges the release), so that a bad bundle is reported as such.
            let (release, _) = bundle_release(&bundle)?;
            let first = release
                .artifacts
                .first()
                .map(|a| a.sha256)
                .unwrap_or([0; 32]);
            let verified = bundle.verify(policy, &first).map_err(|e| e.to_string())?;
            let (release, tails) =
                Release::from_statement_with_sev_tails(&verified.release.statement_bytes)
                    .map_err(|e| e.to_string())?;
            let found = match_measurement(&release, &tails, query)?;
            let verified = bundle
                .verify(policy, &found.sha256)
                .map_err(|e| e.to_string())?;
            return Ok((verified, Some(found)));
        }
    };
    let verified = bundle.verify(policy, &sha).map_err(|e| e.to_string())?;
    Ok((verified, None))
}

pub fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let policy = load_policy(&a.policy)?;
    let query = Query::from_args(&a)?;
    let bytes = read_capped(&a.bundle, MAX_BUNDLE_BYTES)?;
    // The JSON key and value naming what was asked.
    let (key, asked) = match &query {
        Query::Sha256(d) => ("sha256", hex::encode(d)),
        Query::Sev(m) => ("measurement", hex::encode(m)),
        Query::Snp(m, _) => ("measurement", hex::encode(m)),
    };
    match verify_query(&policy, &bytes, &query) {
        Ok((v, found)) => {
            let Entry::Release(rel) = &v.release.entry else {
                bail!("bundle release is not a release")
            };
            let (artifact, sha256) = match &found {
                Some(f) => (f.artifact.clone(), f.sha256),
                None => (v.artifact_name.clone(), sha_of(&query)),
            };
            if a.json {
                let mut out = json!({
                    "verified": true,
                    "sha256": hex::encode(sha256),
                    "firmware": rel.firmware_name,
                    "version": rel.version,
                    "artifact": artifact,
                    "vendor": v.release.signer.name(),
                    "reproduced_by": v.acceptance.reproduced_by,
                    "witnesses": v.checkpoint.witnesses.iter().map(|w| w.key.name().to_string()).collect::<Vec<_>>(),
                    "checkpoint_size": v.checkpoint.checkpoint.size,
                });
                if let Some(f) = &found {
                    out["mode"] = json!(f.mode.name());
                    out["measurement"] = json!(hex::encode(&f.measurement));
                    out["shape"] = json!(f.shape.map(|s| s.to_string()));
                }
                print_json(&out)?;
            } else {
                match &found {
                    None => println!(
                        "verified: {} is {} of {} {}",
                        hex::encode(sha256),
                        artifact,
                        rel.firmware_name,
                        rel.version
                    ),
                    Some(f) => {
                        let mode = match f.mode {
                            SevMode::Snp => "SEV-SNP",
                            SevMode::SevEs => "SEV-ES",
                            SevMode::Sev => "SEV",
                        };
                        let shape = match &f.shape {
                            Some(s) => format!("in VM shape {s}"),
                            None => "without kernel hashes".to_string(),
                        };
                        println!(
                            "verified: {mode} measurement {} is {} of {} {} (sha256 {}) {shape}",
                            hex::encode(&f.measurement),
                            artifact,
                            rel.firmware_name,
                            rel.version,
                            hex::encode(sha256)
                        );
                    }
                }
                println!("released by {}", v.release.signer.name());
                println!("reproduced by {}", v.acceptance.reproduced_by.join(", "));
                for m in &v.acceptance.mismatches_ignored {
                    println!("warning: {m} reported a mismatch (ignored by the policy)");
                }
                let w: Vec<_> = v
                    .checkpoint
                    .witnesses
                    .iter()
                    .map(|w| w.key.name().to_string())
                    .collect();
                println!(
                    "logged in {} at size {}, witnessed by {}",
                    v.checkpoint.checkpoint.origin,
                    v.checkpoint.checkpoint.size,
                    if w.is_empty() {
                        "nobody".into()
                    } else {
                        w.join(", ")
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if a.json {
                print_json(&json!({"verified": false, key: asked, "error": e}))?;
            }
            eprintln!("fwlog: verification failed: {e}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

fn sha_of(q: &Query) -> [u8; 32] {
    match q {
        Query::Sha256(d) | Query::Sev(d) => *d,
        Query::Snp(..) => [0; 32],
    }
}

/// Firmware images in a directory, by SHA-256: regular files (symlinks followed) that could
/// be images (whole pages, at most 128 MiB).
fn index_images(dir: &Path) -> Result<BTreeMap<[u8; 32], PathBuf>> {
    let mut out = BTreeMap::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for e in entries {
        let path = e
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let len = meta.len();
        if !meta.is_file()
            || len == 0
            || len % measure::PAGE_SIZE as u64 != 0
            || len > MAX_IMAGE_SIZE as u64
        {
            continue;
        }
        let f = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let (sha256, _, _) = fwlog::rebuild::digests(f)
            .with_context(|| format!("cannot read {}", path.display()))?;
        out.entry(sha256).or_insert(path);
    }
    Ok(out)
}

/// One allowlist row of `--measurement`.
struct MeasurementRow {
    measurement: Vec<u8>,
    sha256: [u8; 32],
    artifact: String,
    shape: Option<VmShape>,
}

/// The expected measurements of one artifact, or why there are none.
fn artifact_measurements(
    mode: MeasurementArg,
    art: &fwlog::entry::Artifact,
    tails: &SevTails,
    shapes: &[VmShape],
    images: &BTreeMap<[u8; 32], PathBuf>,
    skip: &mut dyn FnMut(String),
) -> Vec<MeasurementRow> {
    let row = |measurement: Vec<u8>, shape: Option<VmShape>| MeasurementRow {
        measurement,
        sha256: art.sha256,
        artifact: art.name.clone(),
        shape,
    };
    let Some(ovmf_hash) = &art.snp_ovmf_hash else {
        skip("no snpOvmfHash: not an SEV-capable OVMF image".into());
        return Vec::new();
    };
    let mut rows = Vec::new();
    match mode {
        MeasurementArg::Sev => rows.push(row(art.sha256.to_vec(), None)),
        MeasurementArg::Snp => {
            let Some(tail) = tails.get(&art.name) else {
                skip("no sevTail: its SEV-SNP measurements need the image".into());
                return rows;
            };
            for shape in shapes {
                match snp_digest_from_tail(ovmf_hash, tail.as_bytes(), shape) {
                    Ok(d) => rows.push(row(d.to_vec(), Some(*shape))),
                    Err(e) => skip(format!("in {shape}: {e}")),
                }
            }
        }
        MeasurementArg::Seves => {
            let Some(path) = images.get(&art.sha256) else {
                skip("no file with its SHA-256 in --firmware-dir".into());
                return rows;
            };
            let image = match read_capped(path, MAX_IMAGE_SIZE) {
                Ok(image) => image,
                Err(e) => {
                    skip(format!("{e:#}"));
                    return rows;
                }
            };
            if fwlog::rebuild::digests(image.as_slice()).map(|d| d.0).ok() != Some(art.sha256) {
                skip(format!("{} changed while being read", path.display()));
                return rows;
            }
            for shape in shapes {
                match launch_digest(&shape.params(SevMode::SevEs, &image)) {
                    Ok(d) => rows.push(row(d, Some(*shape))),
                    Err(e) => skip(format!("in {shape}: {e}")),
                }
            }
        }
    }
    rows
}

/// Writes allowlist rows to stdout as they come: a pretty-printed JSON array (what
/// `serde_json::to_string_pretty` gives for the whole list) or one line per row.
struct RowWriter {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    json: bool,
    measurement: bool,
    rows: u64,
}

impl RowWriter {
    fn new(json: bool, measurement: bool) -> RowWriter {
        RowWriter {
            out: std::io::BufWriter::new(std::io::stdout().lock()),
            json,
            measurement,
            rows: 0,
        }
    }

    fn row(&mut self, r: serde_json::Value) -> Result<()> {
        use std::io::Write as _;
        if self.json {
            // Each element as the whole array's pretty printer writes it: on its own lines,
            // indented by two spaces.
            let text = serde_json::to_string_pretty(&r)?;
            self.out
                .write_all(if self.rows == 0 { b"[\n" } else { b",\n" })?;
            for (i, line) in text.lines().enumerate() {
                if i > 0 {
                    self.out.write_all(b"\n")?;
                }
                write!(self.out, "  {line}")?;
            }
        } else {
            let first = if self.measurement {
                "measurement"
            } else {
                "sha256"
            };
            write!(
                self.out,
                "{} {} {} {} {}",
                r[first].as_str().unwrap_or(""),
                r["firmware"].as_str().unwrap_or(""),
                r["version"].as_str().unwrap_or(""),
                r["artifact"].as_str().unwrap_or(""),
                r["index"]
            )?;
            if self.measurement {
                write!(self.out, " {}", r["shape"].as_str().unwrap_or("-"))?;
            }
            writeln!(self.out)?;
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        use std::io::Write as _;
        if self.json {
            self.out
                .write_all(if self.rows == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok(())
    }
}

pub fn allowlist(a: AllowlistArgs) -> Result<ExitCode> {
    let policy = load_policy(&a.policy)?;
    let shapes = shapes(&a.vm_shapes)?;
    if a.measurement == Some(MeasurementArg::Seves) && a.firmware_dir.is_none() {
        bail!("--measurement seves needs the firmware images, which the log does not hold: give --firmware-dir DIR (images are found by SHA-256)");
    }
    if a.measurement == Some(MeasurementArg::Sev) && !a.vm_shapes.is_empty() {
        eprintln!("fwlog: note: --vm-shape does not change SEV measurements; ignored");
    }
    let store = a.repo.open()?;
    let snap = store.head()?;
    if snap.info.origin != policy.origin {
        bail!(
            "the log's origin is {:?}, the policy's {:?}",
            snap.info.origin,
            policy.origin
        );
    }
    snap.checkpoint
        .verify(
            &policy.log_key,
            Some(&policy.origin),
            &policy.witnesses,
            policy.witness_quorum,
        )
        .context("the log's checkpoint does not meet the policy")?;
    let images = match (&a.firmware_dir, a.measurement) {
        (Some(dir), Some(MeasurementArg::Seves)) => index_images(dir)?,
        _ => BTreeMap::new(),
    };
    // Rows go out as they are decided: the log has been checked against its checkpoint (the
    // first pass) before the first one is written.
    let mut out = RowWriter::new(a.json, a.measurement.is_some());
    // Every release (each is listed or reported as skipped), but only the reproductions the
    // policy can count, and the sevTails only when they give the measurements.
    let sev_tails = a.measurement == Some(MeasurementArg::Snp);
    evaluate_releases(&snap, &policy, sev_tails, |r, decision| -> Result<()> {
        let acc = match decision {
            Ok(acc) => acc,
            Err(why) => {
                eprintln!(
                    "skipped entry {} ({} {}): {why}",
                    r.index, r.release.firmware_name, r.release.version
                );
                return Ok(());
            }
        };
        for art in &r.release.artifacts {
            let Some(mode) = a.measurement else {
                out.row(json!({
                    "sha256": hex::encode(art.sha256),
                    "sha384": hex::encode(art.sha384),
                    "firmware": r.release.firmware_name,
                    "version": r.release.version,
                    "artifact": art.name,
                    "index": r.index,
                    "reproduced_by": acc.reproduced_by,
                }))?;
                continue;
            };
            let mut skip = |why: String| {
                eprintln!(
                    "skipped {} of {} {} (entry {}): {why}",
                    art.name, r.release.firmware_name, r.release.version, r.index
                )
            };
            for m in artifact_measurements(mode, art, &r.sev_tails, &shapes, &images, &mut skip) {
                out.row(json!({
                    "measurement": hex::encode(&m.measurement),
                    "mode": match mode {
                        MeasurementArg::Sev => "sev",
                        MeasurementArg::Seves => "seves",
                        MeasurementArg::Snp => "snp",
                    },
                    "firmware": r.release.firmware_name,
                    "version": r.release.version,
                    "artifact": m.artifact,
                    "index": r.index,
                    "shape": m.shape.map(|s| s.to_string()),
                    "sha256": hex::encode(m.sha256),
                    "reproduced_by": acc.reproduced_by,
                }))?;
            }
        }
        Ok(())
    })?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
