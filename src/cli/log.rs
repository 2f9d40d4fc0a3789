//! `fwlog log …` and `fwlog submit`: the log kept in a Git repository.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use fwlog::audit::{self, Severity};
use fwlog::entry::FwlogEntries;
use fwlog::store::{
    AnyEntry, EntrySchema, EntryValidator, LogInfo, LogStore, NewEntry, DEFAULT_BRANCH,
};
use fwlog::tiles::MAX_ENTRY_SIZE;
use serde_json::json;

use super::args::{load_signer, load_verifier, print_json, read_capped, write_output};
use super::EXIT_FAILED;

/// Where the log lives.
#[derive(Args, Clone)]
pub struct RepoArgs {
    /// The Git repository (bare or not) holding the log.
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    /// The branch the log lives on.
    #[arg(long, default_value = DEFAULT_BRANCH, value_name = "NAME")]
    pub branch: String,
}

impl RepoArgs {
    pub fn open(&self) -> Result<LogStore> {
        LogStore::open(&self.repo, &self.branch)
            .with_context(|| format!("cannot open the log in {}", self.repo.display()))
    }
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Create a log: the repository (if needed), the size-0 checkpoint and log-info, one commit.
    /// Refuses to re-initialise an existing log.
    Init {
        #[command(flatten)]
        repo: RepoArgs,
        /// The log's origin, the first line of every checkpoint (e.g. `example.com/firmware-log`).
        /// Recommended: the log key's name.
        #[arg(long)]
        origin: String,
        /// The log's signer key file (or `env:NAME`).
        #[arg(long, value_name = "LOGKEY")]
        key: String,
        /// What the log accepts: `fwlog` (signed release and reproduction entries) or `any`
        /// (any entry up to 65535 bytes: a general-purpose transparency log).
        #[arg(long, value_enum, default_value = "fwlog")]
        entries: EntriesArg,
    },
    /// Validate entries and append them as one batch: new tiles, a new signed checkpoint, one
    /// commit. Prints `<index> <file>` per entry; entries already logged are reported and not
    /// appended twice.
    Append {
        #[command(flatten)]
        repo: RepoArgs,
        /// The log's signer key file (or `env:NAME`).
        #[arg(long, value_name = "LOGKEY")]
        key: String,
        /// Entry files (at most 65535 bytes each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate and append everything under pending/, in file-name order, removing it from
    /// pending/ in the same commit. Invalid pending files are reported and left in place.
    Integrate {
        #[command(flatten)]
        repo: RepoArgs,
        /// The log's signer key file (or `env:NAME`).
        #[arg(long, value_name = "LOGKEY")]
        key: String,
    },
    /// One line per entry: index, leaf hash, size and a summary.
    List {
        #[command(flatten)]
        repo: RepoArgs,
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
    },
    /// Write a C2SP tlog-proof for entry N against the current checkpoint.
    Prove {
        #[command(flatten)]
        repo: RepoArgs,
        /// The entry's index.
        #[arg(long)]
        index: u64,
        /// Output file (default: stdout).
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
    /// Ask a witness (C2SP tlog-witness) to cosign the current checkpoint, with a consistency
    /// proof from the witness's last size (retrying once with the size a 409 reports), then
    /// add the verified cosignatures to the checkpoint and commit.
    Witness(super::witness::LogWitnessArgs),
    /// Audit the whole log: checkpoint signature, every entry, every tile recomputed, the index,
    /// and that each checkpoint in the first-parent history is consistent with the next.
    /// Exits non-zero with one finding per problem.
    Verify {
        #[command(flatten)]
        repo: RepoArgs,
        /// Audit this revision instead of the branch head.
        #[arg(long)]
        rev: Option<String>,
        /// The log key to trust. Without it, the key in the repo's log-info is used (trust on
        /// first use: an attacker who rewrote the repo could have replaced it).
        #[arg(long, value_name = "VKEY")]
        log_key: Option<String>,
        /// Print one JSON object with origin, size, root and findings.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum EntriesArg {
    Fwlog,
    Any,
}

#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Entry files to submit.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(cmd: LogCommand) -> Result<ExitCode> {
    match cmd {
        LogCommand::Init {
            repo,
            origin,
            key,
            entries,
        } => {
            let key = load_signer(&key)?;
            let schema = match entries {
                EntriesArg::Fwlog => EntrySchema::Fwlog,
                EntriesArg::Any => EntrySchema::Any,
            };
            LogStore::init(&repo.repo, &repo.branch, &origin, &key, schema)
                .with_context(|| format!("cannot initialise a log in {}", repo.repo.display()))?;
            println!(
                "initialised log {origin} on branch {} in {}",
                repo.branch,
                repo.repo.display()
            );
            println!("log key {}", key.verifier_key());
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Append {
            repo,
            key,
            files,
            json,
        } => {
            let key = load_signer(&key)?;
            let store = repo.open()?;
            let entries = read_entries(&files)?;
            let v = validator(&store.head()?.info);
            let outcome = store
                .append(&key, &entries, v.as_ref())
                .context("append failed")?;
            if json {
                let list: Vec<_> = outcome
                    .entries
                    .iter()
                    .zip(&files)
                    .map(|(e, f)| json!({"file": f.display().to_string(), "index": e.index, "leaf_hash": e.leaf.to_base64(), "duplicate": e.duplicate}))
                    .collect();
                print_json(
                    &json!({"old_size": outcome.old_size, "size": outcome.new_size, "commit": outcome.commit.map(|c| c.to_string()), "entries": list}),
                )?;
            } else {
                for (e, f) in outcome.entries.iter().zip(&files) {
                    let note = if e.duplicate { " (already logged)" } else { "" };
                    println!("{} {}{note}", e.index, f.display());
                }
                eprintln!("log size {} -> {}", outcome.old_size, outcome.new_size);
            }
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Integrate { repo, key } => integrate(&repo, &key),
        LogCommand::Witness(a) => super::witness::log_witness(a),
        LogCommand::List { repo, json } => list(&repo, json),
        LogCommand::Prove { repo, index, out } => {
            let store = repo.open()?;
            let snap = store.head()?;
            let proof = snap
                .prove(index)
                .with_context(|| format!("cannot prove entry {index}"))?;
            write_output(&out, &proof.to_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Verify {
            repo,
            rev,
            log_key,
            json,
        } => verify(&repo, rev.as_deref(), log_key.as_deref(), json),
    }
}

/// The entry rules `append`, `integrate` and audits apply: the schema the log's `log-info`
/// declares.
pub fn validator(info: &LogInfo) -> Box<dyn EntryValidator> {
    match info.entries {
        EntrySchema::Fwlog => Box::new(FwlogEntries::new(info.origin.clone())),
        EntrySchema::Any => Box::new(AnyEntry),
    }
}

/// Entry files as new entries named by their paths.
fn read_entries(files: &[PathBuf]) -> Result<Vec<NewEntry>> {
    files
        .iter()
        .map(|f| {
            Ok(NewEntry {
                name: f.display().to_string(),
                bytes: read_entry(f)?,
                pending_path: None,
            })
        })
        .collect()
}

fn read_entry(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, MAX_ENTRY_SIZE).with_context(|| "entries are at most 65535 bytes".to_string())
}

pub fn submit(args: SubmitArgs) -> Result<ExitCode> {
    let store = args.repo.open()?;
    let entries = read_entries(&args.files)?;
    // Catch bad entries before they reach a pull request.
    let snap = store.head()?;
    let v = validator(&snap.info);
    for e in &entries {
        v.validate(&e.bytes, &snap)
            .map_err(|r| anyhow::anyhow!("{}: {r}", e.name))?;
    }
    let (paths, commit) = store.submit(&entries)?;
    for (p, f) in paths.iter().zip(&args.files) {
        println!("{p} {}", f.display());
    }
    match commit {
        Some(c) => eprintln!("committed {c} on {}", store.refname()),
        None => eprintln!("nothing new: every entry was already pending"),
    }
    Ok(ExitCode::SUCCESS)
}

fn integrate(repo: &RepoArgs, key: &str) -> Result<ExitCode> {
    let key = load_signer(key)?;
    let store = repo.open()?;
    let pending = store.pending()?;
    let mut entries = Vec::new();
    let mut bad = 0;
    let v = validator(&store.head()?.info);
    {
        let snap = store.head()?;
        for (path, content) in pending {
            match content.and_then(|bytes| v.validate(&bytes, &snap).map(|_| bytes)) {
                Ok(bytes) => entries.push(NewEntry {
                    name: path.clone(),
                    bytes,
                    pending_path: Some(path),
                }),
                Err(reason) => {
                    bad += 1;
                    eprintln!("fwlog: left in place: {path}: {reason}");
                }
            }
        }
    }
    if entries.is_empty() {
        eprintln!("nothing to integrate");
        return Ok(if bad > 0 {
            ExitCode::from(EXIT_FAILED)
        } else {
            ExitCode::SUCCESS
        });
    }
    let outcome = store
        .append(&key, &entries, v.as_ref())
        .context("integrate failed")?;
    for (e, n) in outcome.entries.iter().zip(&entries) {
        let note = if e.duplicate {
            " (already logged; removed from pending)"
        } else {
            ""
        };
        println!("{} {}{note}", e.index, n.name);
    }
    eprintln!("log size {} -> {}", outcome.old_size, outcome.new_size);
    Ok(if bad > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn list(repo: &RepoArgs, json: bool) -> Result<ExitCode> {
    let store = repo.open()?;
    let snap = store.head()?;
    let mut rows = Vec::new();
    let v = validator(&snap.info);
    snap.for_each_entry(|index, entry| {
        let summary = v
            .validate(entry, &snap)
            .map(|i| i.summary)
            .unwrap_or_else(|e| format!("INVALID: {e}"));
        let leaf = fwlog::merkle::leaf_hash(entry);
        if json {
            rows.push(json!({"index": index, "leaf_hash": leaf.to_base64(), "size": entry.len(), "summary": summary}));
        } else {
            println!("{index} {} {} {summary}", leaf.to_base64(), entry.len());
        }
        Ok(())
    })?;
    if json {
        print_json(&rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(
    repo: &RepoArgs,
    rev: Option<&str>,
    log_key: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    let store = repo.open()?;
    let key = log_key.map(load_verifier).transpose()?;
    let bar = if std::io::stderr().is_terminal() && !json {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:>8} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut progress = |phase: &'static str, done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_message(phase);
            b.set_length(total.max(done));
            b.set_position(done);
        }
    };
    let v = validator(
        &match rev {
            Some(r) => store.at_rev(r)?,
            None => store.head()?,
        }
        .info,
    );
    let report = audit::audit(&store, rev, key.as_ref(), v.as_ref(), &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        print_json(&report)?;
    } else {
        println!("origin {}", report.origin);
        println!("size {}", report.size);
        println!("root {}", report.root);
        println!(
            "checked {} entries, {} commits (log key from {})",
            report.entries_checked, report.commits_checked, report.key_source
        );
        for f in &report.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            eprintln!("{sev}: {}: {}", f.kind, f.message);
        }
    }
    if report.ok() {
        if !json {
            println!("log verified");
        }
        Ok(ExitCode::SUCCESS)
    } else {
        if !json {
            eprintln!(
                "fwlog: log verification failed: {} finding(s)",
                report
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .count()
            );
        }
        Ok(ExitCode::from(EXIT_FAILED))
    }
}
