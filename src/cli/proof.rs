//! `fwlog proof verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgGroup, Subcommand};
use fwlog::merkle::{leaf_hash, Hash};
use fwlog::proof::{TlogProof, MAX_PROOF_BYTES};
use fwlog::tiles::MAX_ENTRY_SIZE;

use super::args::read_capped;
use super::checkpoint::{report, TrustArgs};

#[derive(Subcommand)]
pub enum ProofCommand {
    /// Verify a C2SP tlog-proof for one entry: the checkpoint (as `checkpoint verify` does),
    /// then that the entry is at the proof's index in the tree the checkpoint commits to.
    #[command(group(ArgGroup::new("leaf_source").required(true).args(["leaf", "leaf_hash"])))]
    Verify {
        /// The .tlog-proof file.
        proof: PathBuf,
        /// The entry itself; its leaf hash is computed here.
        #[arg(long, value_name = "FILE")]
        leaf: Option<PathBuf>,
        /// The entry's RFC 9162 leaf hash, SHA-256(0x00 || entry), in base64.
        #[arg(long, value_name = "BASE64")]
        leaf_hash: Option<String>,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ProofCommand) -> Result<ExitCode> {
    let ProofCommand::Verify {
        proof,
        leaf,
        leaf_hash: leaf_b64,
        trust,
        json,
    } = cmd;
    let leaf = match (leaf, leaf_b64) {
        (Some(path), _) => leaf_hash(&read_capped(&path, MAX_ENTRY_SIZE)?),
        (None, Some(b64)) => Hash::from_base64(&b64)
            .map_err(|_| anyhow::anyhow!("--leaf-hash must be base64 of 32 bytes"))?,
        (None, None) => anyhow::bail!("give --leaf or --leaf-hash"),
    };
    let bytes = read_capped(&proof, MAX_PROOF_BYTES)?;
    let parsed = TlogProof::parse(&bytes).with_context(|| format!("{}", proof.display()))?;
    let (log_key, witnesses) = trust.keys()?;
    let verified = parsed
        .verify(
            &leaf,
            &log_key,
            trust.origin.as_deref(),
            &witnesses,
            trust.witness_quorum,
        )
        .with_context(|| format!("{}", proof.display()))?;
    report(&verified, json, Some(parsed.index))?;
    Ok(ExitCode::SUCCESS)
}
