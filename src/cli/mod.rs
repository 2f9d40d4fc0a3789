//! Command-line definitions (clap) and dispatch. Each command group lives in its own file and
//! turns library results into output: data on stdout, progress and errors on stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod args;
mod bundle;
mod checkpoint;
mod demo;
mod key;
mod log;
mod measure;
mod monitor;
mod proof;
mod release;
mod witness;

/// Exit code when a verification ran and failed (bad signature, proof mismatch, audit findings).
pub const EXIT_FAILED: u8 = 1;

/// A transparency log of firmware releases and their independent reproductions, kept in Git.
///
/// Vendors append signed release entries, guest owners append signed reproduction entries,
/// and anyone verifies offline: inclusion and consistency proofs over an RFC 9162 Merkle tree
/// stored as C2SP tlog-tiles in a Git branch, signed C2SP checkpoints, witness cosignatures.
#[derive(Parser)]
#[command(
    name = "fwlog",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate signing keys and print verifier keys (Go `note` key strings).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Verify signed checkpoints (C2SP tlog-checkpoint with tlog-cosignature/v1).
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
    /// Verify offline inclusion proofs (C2SP tlog-proof).
    #[command(subcommand)]
    Proof(proof::ProofCommand),
    /// Create, append to, list, prove from and audit a log kept in a Git repository.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Make signed release entries (vendors).
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Rebuild a logged release from source with its logged recipe, compare the artifacts bit
    /// for bit, and write a signed reproduction entry. Exit 0 reproduced, 3 mismatch, 4 failed.
    Rebuild(release::RebuildArgs),
    /// Compare artifacts you rebuilt in your own pipeline with a logged release and write a
    /// signed reproduction entry. Exit 0 reproduced, 3 mismatch.
    Attest(release::AttestArgs),
    /// Write an offline bundle for one firmware artifact: its release entry, every reproduction
    /// about it, their inclusion proofs and the checkpoint (with cosignatures).
    Bundle(bundle::BundleArgs),
    /// Verify a firmware artifact offline against a policy and a bundle. Exit 0 only when every
    /// rule holds; otherwise one line naming the rule that failed.
    Verify(bundle::VerifyArgs),
    /// Every artifact digest in the log that meets the policy: the guest owner's allowlist.
    /// Releases that do not meet it are named on stderr with the rule that failed. The whole
    /// log is checked against its checkpoint first; rows are then printed as they are decided.
    Allowlist(bundle::AllowlistArgs),
    /// Be a witness: cosign checkpoints that are consistent with what you cosigned before.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Run the whole job end to end in a fresh directory, one line per step.
    Demo(demo::DemoArgs),
    /// Commit entries under pending/ for a pull-request workflow (integrate them with `fwlog log integrate`).
    Submit(log::SubmitArgs),
    /// Follow a log from a Git remote: verify that each new checkpoint is signed and consistent
    /// with the last one this monitor verified, check every new entry, report releases,
    /// reproductions and alerts. Exit 0 ok, 1 error, 3 alerts, 4 fork, 5 local state corrupt.
    ///
    /// Alerts: a mismatch verdict; a vendor releasing the same name and version twice with
    /// different artifacts; with --policy, entries signed by keys the policy does not list; with
    /// --stale-days, releases still lacking the rebuilder quorum. A force-pushed branch whose
    /// checkpoint is still consistent is only a warning.
    ///
    /// Exit codes: 0 no alerts (warnings allowed); 1 error (fetch failed, bad checkpoint
    /// signature, broken log repository…); 3 alerts reported (the log verified); 4 fork: two
    /// checkpoints signed by the log key are inconsistent, evidence written to the state
    /// directory, state not updated; 5 the local state is corrupt or unreadable (not a fork).
    Monitor(monitor::MonitorArgs),
    /// Compute the expected AMD SEV / SEV-ES / SEV-SNP launch measurement of an OVMF firmware
    /// image (one hex line), or print the fields of a raw SEV-SNP attestation report.
    Measure(measure::MeasureArgs),
}

/// Help and version go to stdout as clap writes them; a usage error becomes one line on
/// stderr (clap's first line, plus where to get help) and exit code 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    // Keep clap's message (which may span lines) and drop its usage and tip paragraphs.
    let text = e.render().to_string();
    let message = text.split("\n\n").next().unwrap_or("invalid arguments");
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!(
        "fwlog: {} (see --help)",
        message.trim_start_matches("error: ")
    );
    ExitCode::from(2)
}

/// Parses arguments, runs the command and maps failures to one line on stderr.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Key(c) => key::run(c),
        Command::Checkpoint(c) => checkpoint::run(c),
        Command::Proof(c) => proof::run(c),
        Command::Log(c) => log::run(c),
        Command::Submit(a) => log::submit(a),
        Command::Demo(a) => demo::run(a),
        Command::Witness(c) => witness::run(c),
        Command::Release(c) => release::create(c),
        Command::Rebuild(a) => release::rebuild(a),
        Command::Attest(a) => release::attest(a),
        Command::Bundle(a) => bundle::bundle(a),
        Command::Verify(a) => bundle::verify(a),
        Command::Allowlist(a) => bundle::allowlist(a),
        Command::Monitor(a) => monitor::run(a),
        Command::Measure(a) => measure::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fwlog: {}", args::error_line(&e));
            ExitCode::from(EXIT_FAILED)
        }
    }
}
