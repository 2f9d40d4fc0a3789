//! `fwlog monitor`: follow a log from a Git remote, run after run (see `fwlog::monitor`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use fwlog::monitor::{self, Event, MonitorError, MonitorOptions};
use fwlog::note::VerifierKey;
use fwlog::policy::{Policy, MAX_POLICY_BYTES};
use fwlog::store::DEFAULT_BRANCH;
use serde_json::json;

use super::args::{error_line, load_verifier, read_capped};
use super::EXIT_FAILED;

/// Exit code when alerts were reported (the log itself verified).
pub const EXIT_ALERTS: u8 = 3;
/// Exit code when a fork was detected (evidence written, state unchanged).
pub const EXIT_FORK: u8 = 4;
/// Exit code when the local state is corrupt or unreadable.
pub const EXIT_STATE_CORRUPT: u8 = 5;

#[derive(Args)]
pub struct MonitorArgs {
    /// The Git remote holding the log: a local path, a file:// or https:// URL, or anything else
    /// `git fetch` accepts. Fetched with the system `git`.
    #[arg(long, value_name = "URL")]
    remote: String,
    /// The log's verifier key (`name+keyid+base64`), or a file holding it.
    #[arg(long, value_name = "VKEY")]
    log_key: String,
    /// The monitor's state directory (created if absent): the last verified checkpoint, the
    /// releases seen, and a cache of the fetched repository. Keep it between runs.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// A policy file (TOML): alert on entries signed by keys it does not list, and enables
    /// --stale-days.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Print one JSON object per line instead of text lines.
    #[arg(long)]
    json: bool,
    /// Alert (once) on each release by a policy vendor that still lacks the policy's rebuilder
    /// quorum N days after its releasedOn. Needs --policy.
    #[arg(long, value_name = "N", requires = "policy")]
    stale_days: Option<u64>,
    /// The branch the log lives on.
    #[arg(long, default_value = DEFAULT_BRANCH, value_name = "NAME")]
    branch: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn load_policy(path: &Path) -> Result<Policy> {
    let bytes = read_capped(path, MAX_POLICY_BYTES)?;
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8", path.display()))?;
    Policy::parse(&text).with_context(|| path.display().to_string())
}

/// A short form of a key for text lines: `name+keyid`.
fn short_key(key: &str) -> String {
    match VerifierKey::parse(key) {
        Ok(k) => format!("{}+{:08x}", k.name(), k.key_id()),
        Err(_) => key.to_string(),
    }
}

/// One text line per event.
fn text_line(e: &Event) -> String {
    match e {
        Event::Release {
            index,
            name,
            version,
            signer_key,
            artifacts,
            released_on,
            ..
        } => {
            let list: Vec<String> = artifacts
                .iter()
                .map(|a| format!("{} sha256:{}", a.name, a.sha256))
                .collect();
            format!(
                "entry {index}: release {name} {version} by {} on {released_on}: {}",
                short_key(signer_key),
                list.join(", ")
            )
        }
        Event::Reproduction {
            index,
            release_index,
            release_name,
            release_version,
            verdict,
            signer_key,
            ..
        } => {
            let what = match (release_name, release_version) {
                (Some(n), Some(v)) => format!(" ({n} {v})"),
                _ => String::new(),
            };
            format!(
                "entry {index}: reproduction of entry {release_index}{what}: {verdict} by {}",
                short_key(signer_key)
            )
        }
        Event::Entry {
            index,
            leaf_hash,
            bytes,
        } => format!("entry {index}: {bytes} bytes, leaf hash {leaf_hash}"),
        Event::Alert { kind, message, .. } => format!("ALERT {}: {message}", kind.as_str()),
        Event::Warning { kind, message } => format!("WARNING {}: {message}", kind.as_str()),
        Event::Checkpoint {
            origin,
            old_size,
            size,
            root,
            commit,
        } => format!("checkpoint {origin} size {old_size} -> {size} root {root} commit {commit}"),
    }
}

pub fn run(args: MonitorArgs) -> Result<ExitCode> {
    let log_key = load_verifier(&args.log_key)?;
    let policy = args.policy.as_deref().map(load_policy).transpose()?;
    let opts = MonitorOptions {
        remote: args.remote.clone(),
        branch: args.branch.clone(),
        log_key,
        state_dir: args.state.clone(),
        policy,
        stale_days: args.stale_days,
        now: now(),
    };
    let json = args.json;
    let mut stdout = std::io::stdout().lock();
    let mut print = |line: String| {
        // A closed stdout must not hide the exit code.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let result = monitor::monitor_once(&opts, &mut |e| {
        print(if json {
            serde_json::to_string(&e).unwrap_or_default()
        } else {
            text_line(&e)
        })
    });
    match result {
        Ok(o) => {
            eprintln!(
                "{} {}: size {} -> {}, {} new entries, {} alert(s), {} warning(s)",
                if o.first_run {
                    "first run on"
                } else {
                    "monitored"
                },
                o.origin,
                o.old_size,
                o.new_size,
                o.new_entries,
                o.alerts,
                o.warnings
            );
            Ok(ExitCode::from(if o.alerts > 0 { EXIT_ALERTS } else { 0 }))
        }
        Err(MonitorError::Fork {
            evidence,
            files,
            reason,
        }) => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            print(if json {
                json!({"type": "fork", "reason": reason, "evidence": evidence.display().to_string(), "files": names})
                    .to_string()
            } else {
                format!("FORK {reason}; evidence: {}", names.join(" "))
            });
            eprintln!(
                "fwlog: fork detected: {reason}; evidence written to {} (the state was not updated)",
                evidence.display()
            );
            Ok(ExitCode::from(EXIT_FORK))
        }
        Err(e @ MonitorError::LocalStateCorrupt { .. }) => {
            eprintln!(
                "fwlog: {e} (a problem with this machine's files, not evidence against the log; restore the file from a backup, or move it away to start over)"
            );
            Ok(ExitCode::from(EXIT_STATE_CORRUPT))
        }
        Err(e) => {
            let hint = match &e {
                MonitorError::BrokenRepo(_) => format!(
                    " (if this persists, delete the cache {} and run again; it is re-fetched)",
                    args.state.join(monitor::REPO_DIR).display()
                ),
                _ => String::new(),
            };
            eprintln!("fwlog: {}{hint}", error_line(&anyhow::Error::new(e)));
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}
