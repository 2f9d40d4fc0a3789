//! `fwlog key`: generate signer keys and print verifier keys.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use fwlog::note::{SignerKey, ALG_COSIGNATURE_V1};

use super::args::load_signer;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 signer key, write it to FILE (mode 0600, never overwriting), and
    /// print its verifier key on stdout.
    ///
    /// The file holds `PRIVATE+KEY+<name>+<keyid>+<base64>`, exactly as Go's
    /// `note.GenerateKey` writes it, so keys move between fwlog and Go tools unchanged.
    Generate {
        /// Key name: a log's origin (e.g. `example.com/firmware-log`) or a signer's identity. No
        /// spaces and no `+`.
        #[arg(long)]
        name: String,
        /// Where to write the signer key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the verifier key of a signer key file (Ed25519, type 0x01), or with --witness the
    /// tlog-cosignature/v1 (type 0x04) verifier key of the same seed.
    Public {
        /// Signer key file, or `env:NAME` to read it from an environment variable.
        file: String,
        /// Print the witness cosignature key (type 0x04) instead.
        #[arg(long)]
        witness: bool,
    },
}

pub fn run(cmd: KeyCommand) -> Result<ExitCode> {
    match cmd {
        KeyCommand::Generate { name, out } => {
            let key = SignerKey::generate(&name)
                .with_context(|| format!("cannot make a key named {name:?}"))?;
            let dir = match out.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            // A private temp file (0600) persisted without clobbering: the key file appears
            // whole or not at all, and an existing file is never replaced.
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            tmp.write_all(format!("{}\n", key.to_key_string()).as_bytes())?;
            tmp.as_file().sync_all()?;
            tmp.persist_noclobber(&out).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "{} already exists; refusing to overwrite a key",
                        out.display()
                    )
                } else {
                    anyhow::anyhow!("cannot write {}: {}", out.display(), e.error)
                }
            })?;
            println!("{}", key.verifier_key());
        }
        KeyCommand::Public { file, witness } => {
            let key = load_signer(&file)?;
            if witness {
                println!("{}", key.verifier_key_for(ALG_COSIGNATURE_V1));
            } else {
                println!("{}", key.verifier_key());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
