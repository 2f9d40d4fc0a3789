//! `fwlog demo`: the whole job end to end in a fresh directory, one line per step.
//!
//! A vendor releases the tiny example firmware (`examples/tiny-firmware`, embedded in the
//! binary), two guest owners rebuild it from source with the logged recipe and log signed
//! reproductions, a witness cosigns the checkpoint, and a guest owner verifies the firmware
//! offline from a bundle against a policy, then prints the allowlist.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use clap::Args;
use fwlog::audit;
use fwlog::bundle::Bundle;
use fwlog::catalog::Catalog;
use fwlog::cosignature;
use fwlog::entry::{
    self, compare, Artifact, Environment, FwlogEntries, Release, Reproduction, Verdict,
};
use fwlog::note::{SignerKey, ALG_COSIGNATURE_V1};
use fwlog::policy::Policy;
use fwlog::rebuild::{self, Sandbox};
use fwlog::store::{EntrySchema, LogStore, NewEntry, DEFAULT_BRANCH};

const SOURCE: &[u8] = include_bytes!("../../examples/tiny-firmware/tiny-firmware-1.0.tar");
const RECIPE: &str = include_str!("../../examples/tiny-firmware/build.sh");
const SOURCE_DATE_EPOCH: u64 = 1_700_000_000;

#[derive(Args)]
pub struct DemoArgs {
    /// Work in this directory (must be absent or empty). Default: a new temporary directory,
    /// kept so you can look around.
    #[arg(long)]
    dir: Option<PathBuf>,
}

struct Steps(u32);

impl Steps {
    fn say(&mut self, what: impl std::fmt::Display) {
        self.0 += 1;
        println!("[{:>2}] {what}", self.0);
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn keygen(dir: &Path, name: &str, file: &str) -> Result<SignerKey> {
    let key = SignerKey::generate(name)?;
    let path = dir.join(file);
    std::fs::write(&path, format!("{}\n", key.to_key_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(key)
}

/// Runs the recipe as a builder would, with no expectations about the result.
fn build(release: &Release, source: &Path, workdir: &Path) -> Result<rebuild::RunResult> {
    let mut quiet = std::io::sink();
    let r = rebuild::run(
        release,
        source,
        workdir,
        Duration::from_secs(120),
        Sandbox::None,
        &mut quiet,
    )?;
    ensure!(
        r.outcome == rebuild::Outcome::Success,
        "the example recipe failed: {:?}",
        r.outcome
    );
    Ok(r)
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
    let mut s = Steps(0);
    s.say(format!("working in {}", dir.display()));

    // Keys: one per role.
    let origin = "demo.example/firmware-log";
    let log_key = keygen(&dir, origin, "log.key")?;
    let vendor = keygen(&dir, "vendor.example/release", "vendor.key")?;
    let go_a = keygen(&dir, "guest-owner-a.example/rebuild", "go-a.key")?;
    let go_b = keygen(&dir, "guest-owner-b.example/rebuild", "go-b.key")?;
    let witness = keygen(&dir, "witness.example/w1", "witness.key")?;
    s.say("generated keys for the log, the vendor, two guest owners and a witness");

    let repo = dir.join("log");
    let store = LogStore::init(&repo, DEFAULT_BRANCH, origin, &log_key, EntrySchema::Fwlog)
        .context("init")?;
    let validator = FwlogEntries::new(origin);
    s.say(format!("initialised log {origin} in {}", repo.display()));

    // The vendor builds the firmware and releases it.
    let source = dir.join("tiny-firmware-1.0.tar");
    std::fs::write(&source, SOURCE)?;
    let (source_sha256, _, _) = rebuild::digests(SOURCE)?;
    let mut release = Release {
        firmware_name: "tiny-firmware".into(),
        version: "1.0".into(),
        recipe: RECIPE.into(),
        env: Default::default(),
        source_date_epoch: SOURCE_DATE_EPOCH,
        environment: Environment {
            description: "any POSIX system with sh and tar".into(),
            container_image: None,
            debian_snapshot: None,
        },
        source_uri: Some("https://demo.example/src/tiny-firmware-1.0.tar".into()),
        source_sha256,
        artifacts: vec![],
        released_on: now(),
    };
    let vendor_build = build(&release, &source, &dir.join("vendor-build"))?;
    let firmware = vendor_build.workdir.join("out/firmware.bin");
    let (sha256, sha384, _) = rebuild::digests(std::fs::File::open(&firmware)?)?;
    release.artifacts = vec![Artifact {
        name: "firmware.bin".into(),
        sha256,
        sha384,
        snp_ovmf_hash: None,
        other_digests: Default::default(),
    }];
    let release_entry = release.sign(&vendor)?;
    std::fs::write(dir.join("release.json"), &release_entry)?;
    s.say(format!(
        "vendor built firmware.bin (sha256 {}) and signed a release entry",
        hex::encode(sha256)
    ));
    let out = store.append(
        &log_key,
        &[NewEntry {
            name: "release.json".into(),
            bytes: release_entry.clone(),
            pending_path: None,
        }],
        &validator,
    )?;
    let release_index = out.entries[0].index;
    s.say(format!("appended the release as entry {release_index}"));

    // Two guest owners rebuild from source and log what they got.
    for (who, key, file) in [
        ("guest owner A", &go_a, "go-a"),
        ("guest owner B", &go_b, "go-b"),
    ] {
        let logged = store.head()?.entry(release_index)?;
        let entry::Entry::Release(logged_release) = entry::parse_entry(&logged)?.entry else {
            anyhow::bail!("entry {release_index} is not a release");
        };
        let r = build(
            &logged_release,
            &source,
            &dir.join(format!("{file}-rebuild")),
        )?;
        let (_, verdict) = compare(&logged_release, &r.artifacts);
        let rep = Reproduction {
            release: entry::release_ref(origin, release_index, &logged),
            verdict,
            artifacts: r.artifacts,
            environment: Environment {
                description: format!("{who}'s build host"),
                container_image: None,
                debian_snapshot: None,
            },
            rebuilt_on: now(),
            note: None,
        };
        let bytes = rep.sign(key)?;
        let out = store.append(
            &log_key,
            &[NewEntry {
                name: format!("{file}.json"),
                bytes,
                pending_path: None,
            }],
            &validator,
        )?;
        s.say(format!(
            "{who} rebuilt it from source: {verdict}; reproduction logged as entry {}",
            out.entries[0].index
        ));
        ensure!(
            verdict == Verdict::Reproduced,
            "the example did not reproduce"
        );
    }

    // A witness checks the new checkpoint is consistent with what it saw, and cosigns.
    let head = store.head()?;
    let text = head.checkpoint.note.text().to_string();
    let cosig = cosignature::cosign(&text, &witness, now());
    store.add_cosignatures(&text, &[cosig])?;
    s.say(format!(
        "witness cosigned the checkpoint at size {}",
        head.size()
    ));

    // The guest owner's policy, a bundle, and offline verification.
    let policy_text = format!(
        "[log]\norigin = \"{origin}\"\nkey = \"{}\"\n\n[witnesses]\nquorum = 1\nkeys = [\"{}\"]\n\n\
         [[vendors]]\nkey = \"{}\"\nfirmware = [\"tiny-firmware\"]\n\n\
         [rebuilders]\nquorum = 2\nkeys = [\"{}\", \"{}\"]\non_mismatch = \"reject\"\n",
        log_key.verifier_key(),
        witness.verifier_key_for(ALG_COSIGNATURE_V1),
        vendor.verifier_key(),
        go_a.verifier_key(),
        go_b.verifier_key(),
    );
    std::fs::write(dir.join("policy.toml"), &policy_text)?;
    let policy = Policy::parse(&policy_text)?;
    let snap = store.head()?;
    let catalog = Catalog::scan(&snap)?;
    let logged = catalog
        .releases_with(&sha256)
        .into_iter()
        .next()
        .context("release not found")?;
    let bundle = catalog.bundle(&snap, logged)?;
    let bundle_path = dir.join("firmware.bundle.json");
    std::fs::write(&bundle_path, bundle.to_bytes())?;
    s.say(format!(
        "wrote an offline bundle ({} reproductions) to {}",
        bundle.reproductions.len(),
        bundle_path.display()
    ));

    let verified = Bundle::parse(&std::fs::read(&bundle_path)?)?.verify(&policy, &sha256)?;
    s.say(format!(
        "verified firmware.bin offline: released by {}, reproduced by {}, witnessed by {}",
        verified.release.signer.name(),
        verified.acceptance.reproduced_by.join(" and "),
        verified
            .checkpoint
            .witnesses
            .iter()
            .map(|w| w.key.name().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut tampered = std::fs::read(&firmware)?;
    tampered[100] ^= 1;
    let (bad, _, _) = rebuild::digests(tampered.as_slice())?;
    let refused = Bundle::parse(&bundle.to_bytes())?.verify(&policy, &bad);
    ensure!(refused.is_err(), "a modified firmware image verified");
    s.say(format!(
        "a firmware image with one bit flipped is refused: {}",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    ));

    let report = audit::audit(
        &store,
        None,
        Some(&log_key.verifier_key()),
        &validator,
        &mut |_, _, _| {},
    )?;
    ensure!(report.ok(), "audit failed: {:?}", report.findings);
    s.say(format!(
        "audited the whole log: {} entries, {} commits, no findings",
        report.entries_checked, report.commits_checked
    ));

    s.say("allowlist (firmware hashes this policy accepts):");
    for r in &catalog.releases {
        if catalog.evaluate(&policy, r).is_ok() {
            for a in &r.release.artifacts {
                println!(
                    "       {} {} {} {} (entry {})",
                    hex::encode(a.sha256),
                    r.release.firmware_name,
                    r.release.version,
                    a.name,
                    r.index
                );
            }
        }
    }
    println!("demo complete: try `fwlog verify --policy {0}/policy.toml --bundle {0}/firmware.bundle.json --artifact {1}`", dir.display(), firmware.display());
    Ok(ExitCode::SUCCESS)
}
