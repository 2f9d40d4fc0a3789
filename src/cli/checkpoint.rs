//! `fwlog checkpoint verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use fwlog::checkpoint::{SignedCheckpoint, VerifiedCheckpoint};
use fwlog::note::{VerifierKey, MAX_NOTE_BYTES};
use serde_json::json;

use super::args::{load_verifier, load_verifiers, print_json, read_capped};

#[derive(Subcommand)]
pub enum CheckpointCommand {
    /// Verify a signed checkpoint: the log's signature, then witness cosignatures against a
    /// quorum. Prints origin, size, root and the witnesses whose cosignatures verified.
    ///
    /// Exit 0 only if the log signature verifies and at least --witness-quorum of the given
    /// witnesses cosigned. Signature lines from other keys are ignored; a listed key whose
    /// signature fails rejects the checkpoint.
    Verify {
        /// The checkpoint note file (`-` for stdin is not supported; give a path).
        file: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Who must have signed a checkpoint.
#[derive(Args, Clone)]
pub struct TrustArgs {
    /// The log's verifier key (`name+keyid+base64`), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    pub log_key: String,
    /// The origin the checkpoint must carry. Default: not checked beyond the signature (the
    /// recommended origin equals the key name, but e.g. sum.golang.org signs `go.sum database
    /// tree`).
    #[arg(long)]
    pub origin: Option<String>,
    /// A witness's cosignature/v1 verifier key (type 0x04); repeat for several.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub witness_quorum: usize,
}

pub fn run(cmd: CheckpointCommand) -> Result<ExitCode> {
    match cmd {
        CheckpointCommand::Verify { file, trust, json } => {
            trust.keys()?;
            let bytes = read_capped(&file, MAX_NOTE_BYTES)?;
            let signed =
                SignedCheckpoint::parse(&bytes).with_context(|| format!("{}", file.display()))?;
            let verified =
                verify(&signed, &trust).with_context(|| format!("{}", file.display()))?;
            report(&verified, json, None)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl TrustArgs {
    /// The log key and witness keys, after checking that the quorum is reachable.
    pub fn keys(&self) -> Result<(VerifierKey, Vec<VerifierKey>)> {
        let log_key = load_verifier(&self.log_key)?;
        let witnesses = load_verifiers(&self.witnesses)?;
        if self.witness_quorum > witnesses.len() {
            anyhow::bail!(
                "--witness-quorum {} is more than the {} --witness keys given",
                self.witness_quorum,
                witnesses.len()
            );
        }
        Ok((log_key, witnesses))
    }
}

pub fn verify(signed: &SignedCheckpoint, trust: &TrustArgs) -> Result<VerifiedCheckpoint> {
    let (log_key, witnesses) = trust.keys()?;
    Ok(signed.verify(
        &log_key,
        trust.origin.as_deref(),
        &witnesses,
        trust.witness_quorum,
    )?)
}

/// Prints a verified checkpoint (and the proven index, for proofs).
pub fn report(v: &VerifiedCheckpoint, json: bool, index: Option<u64>) -> Result<()> {
    let cp = &v.checkpoint;
    if json {
        let witnesses: Vec<_> = v.witnesses.iter().map(|w| json!({"key": w.key.to_string(), "name": w.key.name(), "timestamp": w.timestamp})).collect();
        let mut out = json!({"origin": cp.origin, "size": cp.size, "root": cp.root.to_base64(), "witnesses": witnesses});
        if let Some(i) = index {
            out["index"] = json!(i);
        }
        print_json(&out)?;
    } else {
        if let Some(i) = index {
            println!("index {i}");
        }
        println!("origin {}", cp.origin);
        println!("size {}", cp.size);
        println!("root {}", cp.root.to_base64());
        for w in &v.witnesses {
            println!("witness {} time {}", w.key.name(), w.timestamp);
        }
    }
    Ok(())
}
