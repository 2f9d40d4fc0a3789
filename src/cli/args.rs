//! Argument helpers shared by the commands: loading keys, reading files with caps, printing.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use fwlog::note::{SignerKey, VerifierKey};

/// Reads a file of at most `cap` bytes, naming the file in every error.
pub fn read_capped(path: &Path, cap: usize) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut data = Vec::new();
    file.take(cap as u64 + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if data.len() > cap {
        bail!("{} is larger than the {cap}-byte limit", path.display());
    }
    Ok(data)
}

/// Loads a signer key (`PRIVATE+KEY+…`) from a file, or from an environment variable when
/// the argument is `env:NAME` (for CI). Key files readable by group or others are refused, as
/// ssh does. Errors never include key material.
pub fn load_signer(arg: &str) -> Result<SignerKey> {
    let text = if let Some(var) = arg.strip_prefix("env:") {
        std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?
    } else {
        let path = Path::new(arg);
        check_private_mode(path)?;
        let bytes = read_capped(path, 4096)?;
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{arg}: not a signer key file"))?
    };
    SignerKey::parse(text.trim_end_matches('\n'))
        .map_err(|e| anyhow::anyhow!("{arg}: not a valid signer key: {e}"))
}

#[cfg(unix)]
fn check_private_mode(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {mode:03o}); a signer key must be private: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_: &Path) -> Result<()> {
    Ok(())
}

/// A verifier key given inline (`name+hex+base64`) or as a file holding one.
pub fn load_verifier(arg: &str) -> Result<VerifierKey> {
    match VerifierKey::parse(arg) {
        Ok(k) => Ok(k),
        Err(inline_err) => {
            let path = Path::new(arg);
            if !path.is_file() {
                // Never echo something that looks like a secret key back to the terminal.
                if arg.contains("PRIVATE") {
                    bail!("a signer (private) key was given where a verifier key is expected");
                }
                bail!("invalid verifier key {arg:?}: {inline_err}");
            }
            let bytes = read_capped(path, 4096)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("{arg}: not a verifier key file"))?;
            VerifierKey::parse(text.trim_end_matches('\n'))
                .map_err(|e| anyhow::anyhow!("{arg}: invalid verifier key: {e}"))
        }
    }
}

pub fn load_verifiers(args: &[String]) -> Result<Vec<VerifierKey>> {
    args.iter().map(|a| load_verifier(a)).collect()
}

/// Writes `data` to `path` atomically (temp file in the same directory, fsync, rename), or to
/// stdout for `-`.
pub fn write_output(path: &Path, data: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        std::io::stdout().write_all(data)?;
        return Ok(());
    }
    // A device, FIFO or symlink at the target is written through, never replaced.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_file() {
            std::fs::write(path, data)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(());
        }
    }
    fwlog::fsutil::write_atomic(path, data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The whole error chain on one line: `outer: inner: root cause`, without repeats.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
