//! `fwlog bundle`, `fwlog verify`, `fwlog allowlist`: what a guest owner runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args};
use fwlog::bundle::{Bundle, MAX_BUNDLE_BYTES};
use fwlog::catalog::Catalog;
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
pub struct VerifyArgs {
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// The offline bundle (from `fwlog bundle`).
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    what: ArtifactArgs,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AllowlistArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The policy file (TOML).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Print a JSON array instead.
    #[arg(long)]
    json: bool,
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
    let catalog = Catalog::scan(&snap)?;
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

pub fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let policy = load_policy(&a.policy)?;
    let digest = a.what.digest()?;
    let bytes = read_capped(&a.bundle, MAX_BUNDLE_BYTES)?;
    let result = Bundle::parse(&bytes).and_then(|b| b.verify(&policy, &digest));
    match result {
        Ok(v) => {
            let fwlog::entry::Entry::Release(rel) = &v.release.entry else {
                bail!("bundle release is not a release")
            };
            if a.json {
                print_json(&json!({
                    "verified": true,
                    "sha256": hex::encode(digest),
                    "firmware": rel.firmware_name,
                    "version": rel.version,
                    "artifact": v.artifact_name,
                    "vendor": v.release.signer.name(),
                    "reproduced_by": v.acceptance.reproduced_by,
                    "witnesses": v.checkpoint.witnesses.iter().map(|w| w.key.name().to_string()).collect::<Vec<_>>(),
                    "checkpoint_size": v.checkpoint.checkpoint.size,
                }))?;
            } else {
                println!(
                    "verified: {} is {} of {} {}",
                    hex::encode(digest),
                    v.artifact_name,
                    rel.firmware_name,
                    rel.version
                );
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
                print_json(
                    &json!({"verified": false, "sha256": hex::encode(digest), "error": e.to_string()}),
                )?;
            }
            eprintln!("fwlog: verification failed: {e}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

pub fn allowlist(a: AllowlistArgs) -> Result<ExitCode> {
    let policy = load_policy(&a.policy)?;
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
    let catalog = Catalog::scan(&snap)?;
    let mut rows = Vec::new();
    for r in &catalog.releases {
        match catalog.evaluate(&policy, r) {
            Ok(acc) => {
                for art in &r.release.artifacts {
                    rows.push(json!({
                        "sha256": hex::encode(art.sha256),
                        "sha384": hex::encode(art.sha384),
                        "firmware": r.release.firmware_name,
                        "version": r.release.version,
                        "artifact": art.name,
                        "index": r.index,
                        "reproduced_by": acc.reproduced_by,
                    }));
                }
            }
            Err(why) => eprintln!(
                "skipped entry {} ({} {}): {why}",
                r.index, r.release.firmware_name, r.release.version
            ),
        }
    }
    if a.json {
        print_json(&rows)?;
    } else {
        for r in &rows {
            println!(
                "{} {} {} {} {}",
                r["sha256"].as_str().unwrap_or(""),
                r["firmware"].as_str().unwrap_or(""),
                r["version"].as_str().unwrap_or(""),
                r["artifact"].as_str().unwrap_or(""),
                r["index"]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
