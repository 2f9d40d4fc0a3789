//! `fwlog witness cosign|serve` (a witness) and `fwlog log witness` (a log operator asking
//! witnesses to cosign).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use fwlog::checkpoint::SignedCheckpoint;
use fwlog::note::{NoteSignature, ALG_COSIGNATURE_V1};
use fwlog::store::Snapshot;
use fwlog::witness::{self, AddCheckpoint, Reply, StateDir, Witness, WitnessError};

use super::args::{load_signer, load_verifier, load_verifiers};
use super::log::RepoArgs;

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Cosign a log's current checkpoint in its Git repo, after checking it is consistent with
    /// the last checkpoint this witness cosigned for that origin (state in --state, updated
    /// atomically). Refuses, writing an evidence file, when it is not.
    Cosign {
        #[command(flatten)]
        repo: RepoArgs,
        /// The witness's signer key file (or `env:NAME`).
        #[arg(long, value_name = "WITNESSKEY")]
        key: String,
        /// The witness state directory (one file per log origin).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// The log's verifier key; the log's origin is the key's name.
        #[arg(long, value_name = "VKEY")]
        log_key: String,
    },
    /// Run a C2SP tlog-witness HTTP server: `POST /add-checkpoint`. Answers 200 with the
    /// cosignature line, 400 malformed or old > size, 403 no valid log signature, 404 unknown
    /// origin, 409 stale old size (body `<size>\n`, Content-Type text/x.tlog.size), 422 proof
    /// fails or same size with another root. State is persisted before answering.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:7380.
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// The witness's signer key file (or `env:NAME`).
        #[arg(long, value_name = "WITNESSKEY")]
        key: String,
        /// The witness state directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// A log to witness (verifier key; its name is the log's origin); repeat for several.
        #[arg(long = "log", value_name = "VKEY", required = true)]
        logs: Vec<String>,
    },
}

#[derive(Args)]
pub struct LogWitnessArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The witness's submission URL prefix (`/add-checkpoint` is appended).
    #[arg(long)]
    url: String,
    /// The witness's cosignature verifier key (type 0x04): only verified lines from these keys
    /// are added. Without it, lines are added unchecked.
    #[arg(long = "witness-key", value_name = "VKEY")]
    witness_keys: Vec<String>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The request a log sends for its current checkpoint, given the witness's latest size.
fn request_for(snap: &Snapshot<'_>, old: u64) -> Result<AddCheckpoint> {
    let proof = if old == 0 || old == snap.size() {
        vec![]
    } else {
        snap.consistency(old)?
    };
    Ok(AddCheckpoint {
        old,
        proof,
        checkpoint: snap.checkpoint_bytes.clone(),
    })
}

pub fn run(cmd: WitnessCommand) -> Result<ExitCode> {
    match cmd {
        WitnessCommand::Cosign {
            repo,
            key,
            state,
            log_key,
        } => {
            let key = load_signer(&key)?;
            let log_key = load_verifier(&log_key)?;
            let store = repo.open()?;
            let snap = store.head()?;
            let origin = snap.checkpoint.checkpoint.origin.clone();
            let w = Witness {
                key,
                logs: vec![log_key.clone()],
                state: StateDir::new(&state)?,
            };
            // A concurrent cosigner may move the state between our read and the witness's
            // check-and-set (409): re-read and try again with a proof from the new size.
            let mut attempts = 0;
            let (sig, old) = loop {
                let latest = {
                    let lock = w.state.lock(&origin)?;
                    w.state
                        .latest(&lock, &origin, std::slice::from_ref(&log_key))?
                };
                let old = latest.map_or(0, |(size, _)| size);
                if old > snap.size() {
                    bail!("refused: the log's checkpoint (size {}) is smaller than the last one this witness cosigned (size {old})", snap.size());
                }
                let req = request_for(&snap, old)?;
                match w.add_checkpoint(&req, now()) {
                    Ok(sig) => break (sig, old),
                    Err(WitnessError::Conflict { .. }) if attempts < 3 => attempts += 1,
                    Err(e @ WitnessError::Inconsistent(_)) => {
                        let evidence = write_evidence(&w, &origin, &req)?;
                        bail!("refused: {e}; evidence written to {}", evidence.display());
                    }
                    Err(e) => return Err(e).context("cannot cosign"),
                }
            };
            let text = snap.checkpoint.note.text().to_string();
            store
                .add_cosignatures(&text, &[sig])
                .context("cannot commit the cosignature")?;
            println!(
                "cosigned {origin} at size {} (previously {old})",
                snap.size()
            );
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve {
            listen,
            key,
            state,
            logs,
        } => {
            let w = Witness {
                key: load_signer(&key)?,
                logs: load_verifiers(&logs)?,
                state: StateDir::new(&state)?,
            };
            let server = tiny_http::Server::http(&listen)
                .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
            eprintln!(
                "witness {} listening on {listen} for {} log(s)",
                w.key.name(),
                w.logs.len()
            );
            println!("{}", w.key.verifier_key_for(ALG_COSIGNATURE_V1));
            let stop = Arc::new(AtomicBool::new(false));
            witness::serve(server, Arc::new(w), &|| stop.load(Ordering::Relaxed));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Both checkpoints and the proof that failed, for anyone to check.
fn write_evidence(w: &Witness, origin: &str, req: &AddCheckpoint) -> Result<PathBuf> {
    let old = std::fs::read(w.state.checkpoint_path(origin)).unwrap_or_default();
    let mut text = format!("fwlog witness evidence: checkpoint not consistent with the last one cosigned\norigin {origin}\n\n");
    text.push_str("--- last cosigned checkpoint\n");
    text.push_str(&String::from_utf8_lossy(&old));
    text.push_str("--- new checkpoint\n");
    text.push_str(&String::from_utf8_lossy(&req.checkpoint));
    text.push_str(&format!("--- consistency proof from size {}\n", req.old));
    for h in &req.proof {
        text.push_str(&format!("{h}\n"));
    }
    // A new file every time (never overwriting earlier evidence), named by time and made
    // unique by the temp-file machinery.
    let base = w.state.checkpoint_path(origin);
    let dir = base.parent().unwrap_or(std::path::Path::new("."));
    let stem = base.file_stem().and_then(|s| s.to_str()).unwrap_or("log");
    let mut file = tempfile::Builder::new()
        .prefix(&format!("{stem}.evidence-{}-", now()))
        .suffix(".txt")
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.as_file().sync_all()?;
    let (_, path) = file.keep().map_err(|e| e.error)?;
    Ok(path)
}

pub fn log_witness(a: LogWitnessArgs) -> Result<ExitCode> {
    let store = a.repo.open()?;
    let snap = store.head()?;
    let keys = load_verifiers(&a.witness_keys)?;
    if let Some(k) = keys.iter().find(|k| k.alg() != ALG_COSIGNATURE_V1) {
        bail!(
            "--witness-key {} is not a cosignature (type 0x04) key",
            k.name()
        );
    }
    let mut old = 0;
    let mut lines: Option<Vec<NoteSignature>> = None;
    for attempt in 0..2 {
        match witness::request_cosignature(&a.url, &request_for(&snap, old)?)
            .map_err(anyhow::Error::msg)?
        {
            Reply::Cosigned(l) => {
                lines = Some(l);
                break;
            }
            Reply::Conflict(size) if attempt == 0 => {
                if size > snap.size() {
                    bail!("the witness has cosigned size {size}, more than this log's {}: the log was rolled back or forked", snap.size());
                }
                eprintln!(
                    "witness is at size {size}; resending with a consistency proof from there"
                );
                old = size;
            }
            Reply::Conflict(size) => bail!("the witness moved again (now at size {size}); retry"),
            Reply::Refused(status, why) => bail!("the witness refused ({status}): {why}"),
        }
    }
    let lines = lines.context("the witness did not cosign")?;
    let text = snap.checkpoint.note.text().to_string();
    let accepted: Vec<NoteSignature> = if keys.is_empty() {
        eprintln!(
            "fwlog: warning: no --witness-key given; adding {} unverified line(s)",
            lines.len()
        );
        lines
    } else {
        // Verify each returned line against the trusted keys; unknown lines are dropped.
        let mut note = snap.checkpoint.note.clone();
        for l in &lines {
            note.try_add_signature(l.clone())?;
        }
        let candidate = SignedCheckpoint::parse(&note.to_bytes())?;
        let verified = candidate
            .verify(&snap.info.key, Some(&snap.info.origin), &keys, 1)
            .context("the witness's cosignature does not verify")?;
        lines
            .into_iter()
            .filter(|l| {
                verified
                    .witnesses
                    .iter()
                    .any(|w| w.key.name() == l.name && w.key.key_id() == l.key_id)
            })
            .collect()
    };
    store
        .add_cosignatures(&text, &accepted)
        .context("cannot commit the cosignatures")?;
    for l in &accepted {
        println!("added cosignature from {}", l.name);
    }
    Ok(ExitCode::SUCCESS)
}
