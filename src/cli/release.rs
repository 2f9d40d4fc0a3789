//! `fwlog release create`, `fwlog rebuild`, `fwlog attest`: making release and reproduction
//! entries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use fwlog::entry::release::{SevTail, SevTails};
use fwlog::entry::{
    self, compare, Artifact, Entry, Environment, ObtainedArtifact, Release, Reproduction, Verdict,
};
use fwlog::measure::{self, MAX_IMAGE_SIZE};
use fwlog::merkle;
use fwlog::rebuild::{self, BasisDifference, Outcome, Sandbox};
use fwlog::store::Snapshot;

use super::args::{load_signer, load_verifier, write_output};
use super::log::RepoArgs;

/// Exit code of `rebuild`/`attest` when the rebuilt artifacts differ from the release.
pub const EXIT_MISMATCH: u8 = 3;
/// Exit code of `rebuild` when the recipe failed or timed out.
pub const EXIT_BUILD_FAILED: u8 = 4;

#[derive(Subcommand)]
pub enum ReleaseCommand {
    /// Make a signed release entry: the source digest, the build recipe (embedded), the build
    /// environment, and the SHA-256 and SHA-384 of every artifact. For an OVMF image with
    /// SEV-SNP metadata it also records snpOvmfHash and sevTail (its last 4096 bytes), from
    /// which anyone computes the image's SEV-SNP launch measurements. Append it with `fwlog log
    /// append` (or `fwlog submit`).
    Create(CreateArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// The vendor's signer key file (or `env:NAME`).
    #[arg(long, value_name = "VENDORKEY")]
    key: String,
    /// Firmware name, e.g. `ovmf` or `seabios` (lowercase, digits, `._+-`).
    #[arg(long)]
    name: String,
    /// Version string (printable ASCII, no spaces).
    #[arg(long)]
    version: String,
    /// The exact source archive the artifacts were built from.
    #[arg(long, value_name = "FILE")]
    source: PathBuf,
    /// Where rebuilders can fetch the source (a hint; its digest is what is checked).
    #[arg(long, value_name = "URI")]
    source_uri: Option<String>,
    /// The build script, run by `/bin/sh -eu` with FWLOG_SOURCE (the source archive) and
    /// FWLOG_OUT (where artifacts go) set; embedded in the entry.
    #[arg(long, value_name = "SCRIPT")]
    recipe: PathBuf,
    /// A released artifact (its file name is the artifact name); repeat for several.
    #[arg(long = "artifact", value_name = "FILE", required = true)]
    artifacts: Vec<PathBuf>,
    /// An environment variable for the recipe, `K=V`; repeat for several.
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// SOURCE_DATE_EPOCH the build used. Default: the SOURCE_DATE_EPOCH environment variable.
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<u64>,
    /// Free-text description of the build environment (distribution, toolchain versions…).
    #[arg(long, default_value = "")]
    environment: String,
    /// Container image the build ran in, pinned by digest.
    #[arg(long, value_name = "REF")]
    container_image: Option<String>,
    /// snapshot.debian.org timestamp the build's packages came from.
    #[arg(long, value_name = "TIMESTAMP")]
    debian_snapshot: Option<String>,
    /// Output file (default: stdout).
    #[arg(long, default_value = "-")]
    out: PathBuf,
}

/// Which release in the log, and the trust to check it with.
#[derive(Args)]
pub struct TargetArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Index of the release entry in the log.
    #[arg(long)]
    index: u64,
    /// The log key to check the checkpoint with. Default: the key in the repo's log-info
    /// (trust on first use).
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// The rebuilder's (guest owner's) signer key file (or `env:NAME`).
    #[arg(long, value_name = "GOKEY")]
    key: String,
    /// Free-text description of where the rebuild ran.
    #[arg(long, default_value = "")]
    environment: String,
    /// Output file for the signed reproduction entry (default: reproduction-<index>.json).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The source archive (its SHA-256 must match the release).
    #[arg(long, value_name = "FILE")]
    source: PathBuf,
    /// Work directory (must be absent or empty; kept afterwards). Default: a new temporary one,
    /// removed afterwards.
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Kill the recipe after this many seconds.
    #[arg(long, default_value_t = rebuild::DEFAULT_TIMEOUT.as_secs(), value_name = "SECS")]
    timeout: u64,
    /// Run the recipe under a sandbox: `none` (a child process with a clean environment) or
    /// `bwrap` (bubblewrap: read-only system, no network, only the work directory writable).
    #[arg(long, value_enum, default_value = "none")]
    sandbox: SandboxArg,
}

#[derive(Args)]
pub struct AttestArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// An artifact you rebuilt in your own pipeline (matched to the release by file name).
    #[arg(long = "artifact", value_name = "FILE", required = true)]
    artifacts: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SandboxArg {
    None,
    Bwrap,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .with_context(|| format!("{}: no usable file name", path.display()))
}

/// Digests of an artifact, plus its SEV-SNP measurement basis when it is an OVMF image with
/// SEV metadata (read whole only when it could be one: whole pages, at most 128 MiB).
fn hash_artifact_file(path: &Path) -> Result<([u8; 32], [u8; 48], Option<measure::SnpBasis>)> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .len();
    if len == 0 || len % measure::PAGE_SIZE as u64 != 0 || len > MAX_IMAGE_SIZE as u64 {
        let (a, b) = hash_file(path)?;
        return Ok((a, b, None));
    }
    let image = super::args::read_capped(path, MAX_IMAGE_SIZE)?;
    let (a, b, _) = rebuild::digests(image.as_slice())
        .with_context(|| format!("cannot read {}", path.display()))?;
    let basis = match measure::snp_basis(&image) {
        Ok(basis) => basis,
        Err(e) => {
            eprintln!(
                "fwlog: warning: {}: not recording an SEV-SNP measurement basis: {e}",
                path.display()
            );
            None
        }
    };
    Ok((a, b, basis))
}

fn hash_file(path: &Path) -> Result<([u8; 32], [u8; 48])> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (a, b, _) =
        rebuild::digests(f).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((a, b))
}

pub fn create(cmd: ReleaseCommand) -> Result<ExitCode> {
    let ReleaseCommand::Create(a) = cmd;
    let key = load_signer(&a.key)?;
    let recipe = String::from_utf8(
        std::fs::read(&a.recipe).with_context(|| format!("cannot read {}", a.recipe.display()))?,
    )
    .map_err(|_| anyhow::anyhow!("{}: the recipe must be UTF-8 text", a.recipe.display()))?;
    let mut env = BTreeMap::new();
    for kv in &a.env {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--env {kv:?}: expected K=V"))?;
        ensure!(
            env.insert(k.to_string(), v.to_string()).is_none(),
            "--env {k} given twice"
        );
    }
    let source_date_epoch = match a.source_date_epoch {
        Some(s) => s,
        None => std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| fwlog::parse::canonical_u64(&s))
            .context("give --source-date-epoch (or set SOURCE_DATE_EPOCH): rebuilders need the value the build used")?,
    };
    let (source_sha256, _) = hash_file(&a.source)?;
    let mut artifacts = Vec::new();
    let mut sev_tails = SevTails::new();
    for path in &a.artifacts {
        let name = file_name(path)?;
        let (sha256, sha384, basis) = hash_artifact_file(path)?;
        let snp_ovmf_hash = basis.as_ref().map(|b| b.ovmf_hash);
        if let Some(b) = basis {
            match (b.tail.as_deref().and_then(SevTail::new), &b.tail_problem) {
                (Some(tail), _) => {
                    sev_tails.insert(name.clone(), tail);
                    eprintln!("{name}: OVMF image with SEV-SNP metadata: recording snpOvmfHash and sevTail");
                }
                (None, why) => eprintln!(
                    "fwlog: warning: {name}: recording snpOvmfHash without sevTail: {}",
                    why.as_deref().unwrap_or("no tail")
                ),
            }
        }
        artifacts.push(Artifact {
            name,
            sha256,
            sha384,
            snp_ovmf_hash,
            other_digests: BTreeMap::new(),
        });
    }
    let release = Release {
        firmware_name: a.name,
        version: a.version,
        recipe,
        env,
        source_date_epoch,
        environment: Environment {
            description: a.environment,
            container_image: a.container_image,
            debian_snapshot: a.debian_snapshot,
        },
        source_uri: a.source_uri,
        source_sha256,
        artifacts,
        released_on: now(),
    };
    let bytes = release
        .sign_with_sev_tails(&sev_tails, &key)
        .context("cannot make the release entry")?;
    write_output(&a.out, &bytes)?;
    if a.out != Path::new("-") {
        eprintln!(
            "wrote release {} {} ({} artifacts, {} bytes) to {}",
            release.firmware_name,
            release.version,
            release.artifacts.len(),
            bytes.len(),
            a.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The release at `index` (with its sevTails), after checking that the log's checkpoint
/// verifies and that the entry is included in it.
fn logged_release(snap: &Snapshot<'_>, t: &TargetArgs) -> Result<(Vec<u8>, Release, SevTails)> {
    let key = match &t.log_key {
        Some(k) => load_verifier(k)?,
        None => snap.info.key.clone(),
    };
    snap.checkpoint
        .verify(&key, Some(&snap.info.origin), &[], 0)
        .context("the log's checkpoint does not verify")?;
    let bytes = snap.entry(t.index)?;
    let proof = snap.prove(t.index)?;
    proof
        .verify(
            &merkle::leaf_hash(&bytes),
            &key,
            Some(&snap.info.origin),
            &[],
            0,
        )
        .with_context(|| format!("entry {} is not included in the checkpoint", t.index))?;
    let parsed = entry::parse_entry(&bytes).with_context(|| format!("entry {}", t.index))?;
    match parsed.entry {
        Entry::Release(r) => {
            let (_, tails) = Release::from_statement_with_sev_tails(&parsed.statement_bytes)
                .with_context(|| format!("entry {}", t.index))?;
            Ok((bytes, r, tails))
        }
        Entry::Reproduction(_) => bail!("entry {} is a reproduction, not a release", t.index),
    }
}

/// The SEV-SNP measurement basis (`snpOvmfHash`, `sevTail`) the release states for each
/// artifact, compared with the rebuilt file found by `dir_of` (artifacts whose digests match).
fn basis_differences(
    release: &Release,
    tails: &SevTails,
    obtained: &[ObtainedArtifact],
    dir_of: impl Fn(&str) -> Option<PathBuf>,
) -> Vec<BasisDifference> {
    let mut out = Vec::new();
    for a in &release.artifacts {
        let Some(o) = obtained.iter().find(|o| o.name == a.name) else {
            continue;
        };
        let Some(dir) = dir_of(&a.name) else {
            continue;
        };
        out.extend(rebuild::check_measurement_basis(
            a,
            tails.get(&a.name),
            o,
            &dir,
        ));
    }
    out
}

/// The reproduction note for basis differences: one line each, within the 4096-byte limit.
fn basis_note(diffs: &[BasisDifference]) -> String {
    let mut note = String::new();
    for d in diffs {
        let line = format!(
            "{}: {} differs from the rebuilt image's",
            d.artifact, d.field
        );
        if note.len() + line.len() + 1 > entry::release::MAX_TEXT_BYTES {
            break;
        }
        if !note.is_empty() {
            note.push('\n');
        }
        note.push_str(&line);
    }
    note
}

/// Prints the comparison table, signs and writes the reproduction entry, and maps the verdict
/// to an exit code. An artifact whose digests match but whose SEV-SNP measurement basis
/// (`diffs`) does not is a MISMATCH too, and the verdict says so.
fn finish(
    snap: &Snapshot<'_>,
    t: &TargetArgs,
    release_bytes: &[u8],
    release: &Release,
    obtained: Vec<ObtainedArtifact>,
    failed: Option<String>,
    diffs: &[BasisDifference],
) -> Result<ExitCode> {
    let key = load_signer(&t.key)?;
    let (rows, mut verdict) = compare(release, &obtained);
    println!(
        "{:<32} {:<10} sha256 (release / rebuilt)",
        "artifact", "result"
    );
    for r in &rows {
        let exp = r
            .expected
            .map(|d| hex::encode(d.sha256))
            .unwrap_or_else(|| "-".into());
        let got = r
            .obtained
            .map(|d| hex::encode(d.sha256))
            .unwrap_or_else(|| "-".into());
        let row_diffs: Vec<&BasisDifference> =
            diffs.iter().filter(|d| d.artifact == r.name).collect();
        let result = if r.matches && row_diffs.is_empty() {
            "match"
        } else if r.matches {
            "MISMATCH"
        } else if r.obtained.is_none() {
            "missing"
        } else if r.expected.is_none() {
            "extra"
        } else {
            "MISMATCH"
        };
        println!("{:<32} {:<10} {exp}", r.name, result);
        if !r.matches {
            println!("{:<32} {:<10} {got}", "", "");
        }
        for d in row_diffs {
            println!("{:<32} {:<10} {} release {}", "", "", d.field, d.release);
            println!("{:<32} {:<10} {} rebuilt {}", "", "", d.field, d.rebuilt);
        }
    }
    let mut note = failed.clone();
    if !diffs.is_empty() && failed.is_none() {
        for d in diffs {
            eprintln!("fwlog: {d}");
        }
        verdict = Verdict::Mismatch;
        note = Some(basis_note(diffs));
    }
    if failed.is_some() {
        verdict = Verdict::Failed;
    }
    let reproduction = Reproduction {
        release: entry::release_ref(&snap.info.origin, t.index, release_bytes),
        verdict,
        artifacts: obtained,
        environment: Environment {
            description: t.environment.clone(),
            container_image: None,
            debian_snapshot: None,
        },
        rebuilt_on: now(),
        note,
    };
    let bytes = reproduction
        .sign(&key)
        .context("cannot make the reproduction entry")?;
    let out = t
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("reproduction-{}.json", t.index)));
    write_output(&out, &bytes)?;
    eprintln!("verdict: {verdict}; wrote the signed reproduction entry to {} (append it with `fwlog log append` or `fwlog submit`)", out.display());
    Ok(match verdict {
        Verdict::Reproduced => ExitCode::SUCCESS,
        Verdict::Mismatch => ExitCode::from(EXIT_MISMATCH),
        Verdict::Failed => ExitCode::from(EXIT_BUILD_FAILED),
    })
}

pub fn rebuild(a: RebuildArgs) -> Result<ExitCode> {
    let store = a.target.repo.open()?;
    let snap = store.head()?;
    let (release_bytes, release, tails) = logged_release(&snap, &a.target)?;
    // Fail on a bad key before spending an hour building.
    load_signer(&a.target.key)?;
    let (workdir, _tmp) = match &a.workdir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("fwlog-rebuild-")
                .tempdir()?;
            (t.path().join("w"), Some(t))
        }
    };
    let sandbox = match a.sandbox {
        SandboxArg::None => Sandbox::None,
        SandboxArg::Bwrap => Sandbox::Bwrap,
    };
    eprintln!(
        "rebuilding {} {} (entry {}) in {}",
        release.firmware_name,
        release.version,
        a.target.index,
        workdir.display()
    );
    let mut sink = std::io::stderr();
    let result = rebuild::run(
        &release,
        &a.source,
        &workdir,
        Duration::from_secs(a.timeout),
        sandbox,
        &mut sink,
    )?;
    for p in &result.problems {
        eprintln!("fwlog: artifact {p}");
    }
    let failed = match &result.outcome {
        Outcome::Success => None,
        Outcome::Failed(why) => Some(why.clone()),
        Outcome::TimedOut(d) => Some(format!("recipe timed out after {} s", d.as_secs())),
    };
    eprintln!(
        "recipe finished in {:.1} s: {}",
        result.elapsed.as_secs_f64(),
        failed.as_deref().unwrap_or("success")
    );
    let out_dir = result.workdir.join("out");
    let diffs = if failed.is_none() {
        basis_differences(&release, &tails, &result.artifacts, |_| {
            Some(out_dir.clone())
        })
    } else {
        Vec::new()
    };
    finish(
        &snap,
        &a.target,
        &release_bytes,
        &release,
        result.artifacts,
        failed,
        &diffs,
    )
}

pub fn attest(a: AttestArgs) -> Result<ExitCode> {
    let store = a.target.repo.open()?;
    let snap = store.head()?;
    let (release_bytes, release, tails) = logged_release(&snap, &a.target)?;
    let mut obtained = Vec::new();
    let mut dirs: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in &a.artifacts {
        let name = file_name(path)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        obtained.push(rebuild::hash_artifact(dir, &name).map_err(|e| anyhow::anyhow!(e))?);
        dirs.entry(name).or_insert_with(|| dir.to_path_buf());
    }
    let diffs = basis_differences(&release, &tails, &obtained, |name| dirs.get(name).cloned());
    finish(
        &snap,
        &a.target,
        &release_bytes,
        &release,
        obtained,
        None,
        &diffs,
    )
}
