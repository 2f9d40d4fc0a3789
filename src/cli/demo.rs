//! `fwlog demo`: the whole job end to end in a fresh directory, one line per step.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{ensure, Context, Result};
use clap::Args;
use fwlog::audit;
use fwlog::merkle::leaf_hash;
use fwlog::note::{SignerKey, ALG_COSIGNATURE_V1};
use fwlog::proof::TlogProof;
use fwlog::store::{AnyEntry, LogStore, NewEntry, DEFAULT_BRANCH};

#[derive(Args)]
pub struct DemoArgs {
    /// Work in this directory (must not exist or be empty); default: a new temporary directory
    /// that is kept so you can look around.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn step(n: &mut u32, what: impl std::fmt::Display) {
    *n += 1;
    println!("[{n:>2}] {what}");
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => {
            if d.exists() {
                ensure!(
                    std::fs::read_dir(&d)?.next().is_none(),
                    "{} is not empty",
                    d.display()
                );
            }
            std::fs::create_dir_all(&d)?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("fwlog-demo-")
            .tempdir()?
            .keep(),
    };
    let mut n = 0;
    step(&mut n, format!("working in {}", dir.display()));

    let origin = "demo.example/firmware-log";
    let log_key = SignerKey::generate(origin)?;
    let witness = SignerKey::generate("demo.example/witness")?;
    step(
        &mut n,
        format!("generated log key {}", log_key.verifier_key()),
    );
    step(
        &mut n,
        format!(
            "generated witness key {}",
            witness.verifier_key_for(ALG_COSIGNATURE_V1)
        ),
    );

    let repo = dir.join("log");
    let store = LogStore::init(&repo, DEFAULT_BRANCH, origin, &log_key).context("init")?;
    step(
        &mut n,
        format!("initialised log {origin} in {}", repo.display()),
    );

    let entries: Vec<NewEntry> = (0..300)
        .map(|i| NewEntry {
            name: format!("entry-{i}"),
            bytes: format!("demo entry {i}\n").into_bytes(),
            pending_path: None,
        })
        .collect();
    let out = store.append(&log_key, &entries[..200], &AnyEntry)?;
    step(
        &mut n,
        format!(
            "appended 200 entries in one commit: size {} -> {}",
            out.old_size, out.new_size
        ),
    );
    let out = store.append(&log_key, &entries[190..], &AnyEntry)?;
    let dups = out.entries.iter().filter(|e| e.duplicate).count();
    step(
        &mut n,
        format!(
            "appended 110 more ({dups} duplicates refused): size {} -> {}",
            out.old_size, out.new_size
        ),
    );

    let snap = store.head()?;
    let proof = snap.prove(257)?;
    let proof_path = dir.join("entry-257.tlog-proof");
    std::fs::write(&proof_path, proof.to_bytes())?;
    step(
        &mut n,
        format!(
            "wrote a tlog-proof for entry 257 to {}",
            proof_path.display()
        ),
    );
    let parsed = TlogProof::parse(&std::fs::read(&proof_path)?)?;
    parsed.verify(
        &leaf_hash(&entries[257].bytes),
        &log_key.verifier_key(),
        Some(origin),
        &[],
        0,
    )?;
    step(&mut n, "verified the proof offline against the log key");
    ensure!(
        parsed
            .verify(
                &leaf_hash(b"not logged"),
                &log_key.verifier_key(),
                Some(origin),
                &[],
                0
            )
            .is_err(),
        "a proof verified for an entry that is not logged"
    );
    step(
        &mut n,
        "the same proof is rejected for an entry that was never logged",
    );

    let report = audit::audit(
        &store,
        None,
        Some(&log_key.verifier_key()),
        &AnyEntry,
        &mut |_, _, _| {},
    )?;
    ensure!(report.ok(), "audit failed: {:?}", report.findings);
    step(
        &mut n,
        format!(
            "audited the log: {} entries and {} commits verified",
            report.entries_checked, report.commits_checked
        ),
    );
    show_layout(&mut n, &repo)?;
    println!("demo complete");
    Ok(ExitCode::SUCCESS)
}

fn show_layout(n: &mut u32, repo: &Path) -> Result<()> {
    let files = std::fs::read_to_string(repo.join("checkpoint")).unwrap_or_default();
    step(
        n,
        format!(
            "checkpoint now reads:\n{}",
            files
                .trim_end()
                .lines()
                .map(|l| format!("       {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    );
    Ok(())
}
