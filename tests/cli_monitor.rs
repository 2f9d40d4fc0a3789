//! `fwlog monitor` end to end: the real binary following real Git remotes (a path, a file://
//! URL) across runs, against appends, forks, rewritten history, broken repositories, corrupt
//! local state and wrong keys.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fwlog_in, git, keygen, ok, Log};
use fwlog::entry::{
    self, Artifact, Entry, Environment, ObtainedArtifact, Release, Reproduction, Verdict,
};
use fwlog::note::SignerKey;
use serde_json::Value;

const ORIGIN: &str = "example.com/monitor-test";
/// 2020-01-01T00:00:00Z: old enough for any --stale-days used here.
const LONG_AGO: u64 = 1_577_836_800;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A log in `<dir>/log` (non-bare, where appends happen), published to the bare `<dir>/pub.git`.
struct Published {
    log: Log,
    next_file: std::cell::Cell<usize>,
}

impl Published {
    /// An `--entries any` log (common::Log) with its bare remote.
    fn any() -> Published {
        let log = Log::new(ORIGIN);
        Published::with(log)
    }

    /// A `fwlog/v1` log.
    fn fwlog() -> Published {
        let dir = tempfile::tempdir().expect("tempdir");
        let vkey = keygen(dir.path(), ORIGIN, "log.key");
        ok(
            dir.path(),
            &[
                "log", "init", "--repo", "log", "--origin", ORIGIN, "--key", "log.key",
            ],
        );
        Published::with(Log { dir, vkey })
    }

    fn with(log: Log) -> Published {
        git(log.path(), &["init", "-q", "--bare", "pub.git"]);
        let p = Published {
            log,
            next_file: std::cell::Cell::new(0),
        };
        p.publish();
        p
    }

    fn path(&self) -> &Path {
        self.log.path()
    }

    fn vkey(&self) -> &str {
        &self.log.vkey
    }

    /// Pushes the log branch to pub.git, forcing.
    fn publish(&self) {
        git(
            &self.log.repo(),
            &["push", "-q", "--force", "../pub.git", "fwlog:fwlog"],
        );
    }

    /// Appends entry bytes as one batch (through `fwlog log append`) and publishes.
    fn append(&self, entries: &[Vec<u8>]) {
        let mut names = Vec::new();
        for e in entries {
            let n = self.next_file.get();
            self.next_file.set(n + 1);
            let name = format!("entry-{n}.json");
            std::fs::write(self.path().join(&name), e).unwrap();
            names.push(name);
        }
        let mut args = vec!["log", "append", "--repo", "log", "--key", "log.key"];
        args.extend(names.iter().map(String::as_str));
        ok(self.path(), &args);
        self.publish();
    }

    fn pub_url(&self) -> String {
        format!("file://{}", self.path().join("pub.git").display())
    }

    /// Runs `fwlog monitor` from the log's directory.
    fn monitor(&self, remote: &str, state: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "monitor",
            "--remote",
            remote,
            "--log-key",
            self.vkey(),
            "--state",
            state,
        ];
        args.extend_from_slice(extra);
        Run::from(fwlog_in(self.path(), &args))
    }

    fn state_file(&self, state: &str) -> PathBuf {
        self.path().join(state).join("monitor.json")
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Every stdout line, parsed as JSON.
    fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn of_type(&self, t: &str) -> Vec<Value> {
        self.json().into_iter().filter(|v| v["type"] == t).collect()
    }

    fn alert_kinds(&self) -> Vec<String> {
        self.of_type("alert")
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect()
    }
}

fn indexes(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|v| v["index"].as_u64().unwrap())
        .collect()
}

fn env() -> Environment {
    Environment {
        description: "test".into(),
        container_image: None,
        debian_snapshot: None,
    }
}

/// A signed release entry whose one artifact's digests are derived from `seed`.
fn release(vendor: &SignerKey, name: &str, version: &str, seed: u8, released_on: u64) -> Vec<u8> {
    Release {
        firmware_name: name.into(),
        version: version.into(),
        recipe: "cp \"$FWLOG_SOURCE\" \"$FWLOG_OUT/fw.bin\"\n".into(),
        env: Default::default(),
        source_date_epoch: 1_700_000_000,
        environment: env(),
        source_uri: None,
        source_sha256: [seed; 32],
        artifacts: vec![Artifact {
            name: "fw.bin".into(),
            sha256: [seed; 32],
            sha384: [seed; 48],
            snp_ovmf_hash: None,
            other_digests: Default::default(),
        }],
        released_on,
    }
    .sign(vendor)
    .unwrap()
}

/// A signed reproduction of the release entry `release_bytes` logged at `index`.
fn reproduction(
    rebuilder: &SignerKey,
    index: u64,
    release_bytes: &[u8],
    verdict: Verdict,
) -> Vec<u8> {
    let Entry::Release(r) = entry::parse_entry(release_bytes).unwrap().entry else {
        panic!("not a release");
    };
    let mut artifacts: Vec<ObtainedArtifact> = r
        .artifacts
        .iter()
        .map(|a| ObtainedArtifact {
            name: a.name.clone(),
            sha256: a.sha256,
            sha384: a.sha384,
        })
        .collect();
    if verdict == Verdict::Mismatch {
        artifacts[0].sha256[0] ^= 1;
    }
    Reproduction {
        release: entry::release_ref(ORIGIN, index, release_bytes),
        verdict,
        artifacts,
        environment: env(),
        rebuilt_on: 1_700_000_100,
        note: None,
    }
    .sign(rebuilder)
    .unwrap()
}

fn key(name: &str) -> SignerKey {
    SignerKey::generate(name).unwrap()
}

fn files_in(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn follows_appends_across_runs_over_a_path_and_a_file_url() {
    let p = Published::fwlog();
    let vendor = key("vendor.example/release");
    let rebuilder = key("rebuilder.example/a");
    let r0 = release(&vendor, "ovmf", "1.0", 1, LONG_AGO);
    p.append(std::slice::from_ref(&r0));
    let url = p.pub_url();

    // Run 1: a relative path remote (text) and a file:// URL (JSON).
    let text = p.monitor("log", "state-path", &[]).expect(0);
    assert!(
        text.stdout
            .contains("entry 0: release ovmf 1.0 by vendor.example/release+"),
        "{}",
        text.stdout
    );
    assert!(text
        .stdout
        .contains("checkpoint example.com/monitor-test size 0 -> 1 root "));
    let run = p.monitor(&url, "state-url", &["--json"]).expect(0);
    let releases = run.of_type("release");
    assert_eq!(indexes(&releases), [0]);
    assert_eq!(releases[0]["name"], "ovmf");
    assert_eq!(releases[0]["signer_key"], vendor.verifier_key().to_string());
    assert_eq!(
        releases[0]["artifacts"][0]["sha256"],
        hex::encode([1u8; 32])
    );
    let cp = run.of_type("checkpoint");
    assert_eq!(
        (cp[0]["old_size"].as_u64(), cp[0]["size"].as_u64()),
        (Some(0), Some(1))
    );

    // Run 2: two more entries in one batch; only they are reported.
    let rep = reproduction(&rebuilder, 0, &r0, Verdict::Reproduced);
    let r2 = release(&vendor, "ovmf", "1.1", 2, LONG_AGO);
    p.append(&[rep, r2]);
    let run = p.monitor(&url, "state-url", &["--json"]).expect(0);
    assert_eq!(indexes(&run.of_type("release")), [2]);
    let reps = run.of_type("reproduction");
    assert_eq!(indexes(&reps), [1]);
    assert_eq!(reps[0]["release_index"], 0);
    assert_eq!(reps[0]["release_name"], "ovmf");
    assert_eq!(reps[0]["verdict"], "reproduced");
    assert!(run.of_type("alert").is_empty() && run.of_type("warning").is_empty());
    let text = p.monitor("log", "state-path", &[]).expect(0);
    assert!(!text.stdout.contains("entry 0:"), "{}", text.stdout);
    assert!(text.stdout.contains(
        "entry 1: reproduction of entry 0 (ovmf 1.0): reproduced by rebuilder.example/a+"
    ));
    assert!(text.stdout.contains("entry 2: release ovmf 1.1"));

    // Run 3: nothing new.
    let run = p.monitor(&url, "state-url", &["--json"]).expect(0);
    let all = run.json();
    assert_eq!(all.len(), 1, "{}", run.stdout);
    assert_eq!(all[0]["type"], "checkpoint");
    assert_eq!(all[0]["size"], 3);

    // Run 4: one more append, seen by both.
    p.append(&[release(&vendor, "ovmf", "1.2", 3, LONG_AGO)]);
    let run = p.monitor(&url, "state-url", &["--json"]).expect(0);
    assert_eq!(indexes(&run.of_type("release")), [3]);
    let text = p.monitor("log", "state-path", &[]).expect(0);
    assert_eq!(
        text.stdout
            .lines()
            .filter(|l| l.starts_with("entry "))
            .count(),
        1
    );

    // The state is one canonical JSON document.
    let state: Value =
        serde_json::from_slice(&std::fs::read(p.state_file("state-url")).unwrap()).unwrap();
    assert_eq!(state["format"], "fwlog-monitor/v1");
    assert_eq!(state["size"], 4);
    assert_eq!(state["origin"], ORIGIN);
    assert_eq!(state["releases"].as_array().unwrap().len(), 3);
    assert_eq!(
        state["releases"][0]["reproducedBy"][0],
        rebuilder.verifier_key().to_string()
    );
}

#[test]
fn a_fork_is_detected_with_checkable_evidence_and_the_state_kept() {
    let p = Published::any();
    let files = p.log.write_entries(0, 1);
    p.log.append(&files);
    let files = p.log.write_entries(1, 1);
    p.log.append(&files);
    p.publish();
    let url = p.pub_url();
    p.monitor(&url, "state", &[]).expect(0);
    let before = std::fs::read(p.state_file("state")).unwrap();
    let size1 = git(&p.log.repo(), &["rev-parse", "fwlog~1"])
        .trim()
        .to_string();

    // Same log key, a different entry at index 1 and one more (size 3): the proof from size 2
    // implies another root for the first 2 entries.
    git(&p.log.repo(), &["reset", "-q", "--hard", &size1]);
    let files = p.log.write_entries(100, 2);
    p.log.append(&files);
    p.publish();
    let run = p.monitor(&url, "state", &[]).expect(4);
    assert!(run.stdout.starts_with("FORK "), "{}", run.stdout);
    assert!(run.stderr.contains("fork detected"), "{}", run.stderr);
    assert_eq!(std::fs::read(p.state_file("state")).unwrap(), before);
    let state_dir = p.path().join("state");
    let summary = files_in(&state_dir, "fork-");
    assert_eq!(summary.len(), 3, "{summary:?}");
    let txt = summary
        .iter()
        .find(|f| f.extension().unwrap() == "txt")
        .unwrap();
    let evidence = std::fs::read_to_string(txt).unwrap();
    assert!(
        evidence.contains("-----BEGIN CONSISTENCY PROOF 2 3-----"),
        "{evidence}"
    );
    assert!(evidence.contains("-----BEGIN OLD CHECKPOINT-----\nexample.com/monitor-test\n2\n"));
    assert!(evidence.contains("-----BEGIN NEW CHECKPOINT-----\nexample.com/monitor-test\n3\n"));
    for which in ["-old.checkpoint", "-new.checkpoint"] {
        let f = summary
            .iter()
            .find(|f| f.to_string_lossy().ends_with(which))
            .unwrap();
        ok(
            p.path(),
            &[
                "checkpoint",
                "verify",
                f.to_str().unwrap(),
                "--log-key",
                p.vkey(),
            ],
        );
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(
            run.stdout.contains(&format!("state/{name}")),
            "{}",
            run.stdout
        );
    }

    // Same size, another root: the two signed checkpoints alone prove it. JSON names the files.
    git(&p.log.repo(), &["reset", "-q", "--hard", &size1]);
    let files = p.log.write_entries(200, 1);
    p.log.append(&files);
    p.publish();
    let run = p.monitor(&url, "state", &["--json"]).expect(4);
    let fork = &run.json()[0];
    assert_eq!(fork["type"], "fork");
    assert!(fork["reason"]
        .as_str()
        .unwrap()
        .contains("size 2 with different roots"));
    assert_eq!(fork["files"].as_array().unwrap().len(), 3);
    assert_eq!(std::fs::read(p.state_file("state")).unwrap(), before);
    assert_eq!(files_in(&state_dir, "fork-").len(), 6);
}

#[test]
fn rewritten_but_consistent_history_only_warns() {
    let p = Published::any();
    for i in 0..3 {
        let files = p.log.write_entries(i, 1);
        p.log.append(&files);
    }
    p.publish();
    let url = p.pub_url();
    p.monitor(&url, "state", &[]).expect(0);

    // Re-make every commit with the same trees (new ids, same checkpoints) and move the branch.
    let pub_git = p.path().join("pub.git");
    let commits = git(
        &pub_git,
        &["rev-list", "--reverse", "--first-parent", "fwlog"],
    );
    let mut parent: Option<String> = None;
    for c in commits.lines() {
        let tree = git(&pub_git, &["rev-parse", &format!("{c}^{{tree}}")]);
        let mut args = vec!["commit-tree", tree.trim(), "-m", "rewritten"];
        if let Some(p) = &parent {
            args.extend(["-p", p.as_str()]);
        }
        parent = Some(git(&pub_git, &args).trim().to_string());
    }
    let new_head = parent.unwrap();
    git(&pub_git, &["update-ref", "refs/heads/fwlog", &new_head]);

    let run = p.monitor(&url, "state", &["--json"]).expect(0);
    let warnings = run.of_type("warning");
    assert_eq!(warnings.len(), 1, "{}", run.stdout);
    assert_eq!(warnings[0]["kind"], "history_rewritten");
    assert!(run.of_type("alert").is_empty());
    assert_eq!(run.of_type("checkpoint")[0]["commit"], new_head);
    assert!(files_in(&p.path().join("state"), "fork-").is_empty());
    // The new commit is now the one remembered: no more warnings.
    let run = p.monitor(&url, "state", &[]).expect(0);
    assert!(!run.stdout.contains("WARNING"), "{}", run.stdout);

    // A consistent rewrite that also grows: the old history with two more entries.
    let files = p.log.write_entries(3, 2);
    p.log.append(&files);
    p.publish();
    let run = p.monitor(&url, "state", &[]).expect(0);
    assert!(
        run.stdout.contains("WARNING history_rewritten"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("size 3 -> 5"));
}

#[test]
fn a_corrupt_state_file_is_local_corruption_never_a_fork() {
    let p = Published::any();
    let files = p.log.write_entries(0, 2);
    p.log.append(&files);
    p.publish();
    let url = p.pub_url();
    p.monitor(&url, "state", &[]).expect(0);
    let path = p.state_file("state");
    let good = std::fs::read(&path).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let root_line = text.split("\\n").nth(2).unwrap().to_string();
    let mut flipped_root = root_line.clone().into_bytes();
    flipped_root[0] = if flipped_root[0] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\x01garbage\xff".to_vec()),
        ("empty", vec![]),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("last byte cut", good[..good.len() - 1].to_vec()),
        ("pretty-printed", {
            let v: Value = serde_json::from_slice(&good).unwrap();
            serde_json::to_vec_pretty(&v).unwrap()
        }),
        (
            "checkpoint root changed",
            text.replacen(&root_line, std::str::from_utf8(&flipped_root).unwrap(), 1)
                .into_bytes(),
        ),
        (
            "size changed",
            text.replacen("\"size\":2", "\"size\":1", 1).into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let run = p.monitor(&url, "state", &[]).expect(5);
        assert!(
            run.stderr.contains("state/monitor.json"),
            "{what}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("corrupt"), "{what}: {}", run.stderr);
        assert!(
            !run.stderr.to_lowercase().contains("fork detected"),
            "{what}: {}",
            run.stderr
        );
        assert!(!run.stdout.contains("FORK"), "{what}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: the state was rewritten"
        );
    }
    // An unreadable state (a directory where the file should be) is local corruption too.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let run = p.monitor(&url, "state", &[]).expect(5);
    assert!(run.stderr.contains("monitor.json"), "{}", run.stderr);
    std::fs::remove_dir(&path).unwrap();
    assert!(files_in(&p.path().join("state"), "fork-").is_empty());

    // Restored, the monitor carries on.
    std::fs::write(&path, &good).unwrap();
    p.monitor(&url, "state", &[]).expect(0);
}

#[test]
fn alerts_mismatch_unknown_signers_duplicates_and_stale_releases() {
    let p = Published::fwlog();
    let vendor = key("vendor.example/release");
    let stranger = key("stranger.example/release");
    let trusted = key("rebuilder.example/trusted");
    let unknown = key("rebuilder.example/unknown");
    let policy = format!(
        "[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n[[vendors]]\nkey = \"{}\"\nfirmware = [\"ovmf\"]\n\n\
         [rebuilders]\nquorum = 1\nkeys = [\"{}\"]\n",
        p.vkey(),
        vendor.verifier_key(),
        trusted.verifier_key()
    );
    std::fs::write(p.path().join("policy.toml"), policy).unwrap();
    let with_policy = ["--json", "--policy", "policy.toml", "--stale-days", "30"];

    // 0: release; 1: mismatch by the trusted rebuilder; 2: reproduced by an unknown key;
    // 3: another release, reproduced (4) by the trusted rebuilder: not stale.
    let r0 = release(&vendor, "ovmf", "1.0", 1, LONG_AGO);
    let r3 = release(&vendor, "ovmf", "2.0", 3, LONG_AGO);
    p.append(&[
        r0.clone(),
        reproduction(&trusted, 0, &r0, Verdict::Mismatch),
        reproduction(&unknown, 0, &r0, Verdict::Reproduced),
        r3.clone(),
        reproduction(&trusted, 3, &r3, Verdict::Reproduced),
    ]);
    let url = p.pub_url();
    let run = p.monitor(&url, "state", &with_policy).expect(3);
    let alerts = run.of_type("alert");
    let kinds = run.alert_kinds();
    assert_eq!(
        kinds,
        ["mismatch", "unknown_signer", "stale"],
        "{}",
        run.stdout
    );
    assert_eq!(alerts[0]["index"], 1);
    assert_eq!(alerts[0]["release_index"], 0);
    assert_eq!(alerts[1]["index"], 2);
    assert_eq!(alerts[1]["signer_key"], unknown.verifier_key().to_string());
    assert_eq!(alerts[2]["release_index"], 0);
    assert_eq!(run.of_type("release").len(), 2);
    assert_eq!(run.of_type("reproduction").len(), 3);

    // Nothing new: the stale alert is not repeated.
    let run = p.monitor(&url, "state", &with_policy).expect(0);
    assert!(run.of_type("alert").is_empty(), "{}", run.stdout);

    // The same vendor, name and version with other digests, in a later run; and a release by a
    // key the policy does not know.
    p.append(&[
        release(&vendor, "ovmf", "1.0", 9, LONG_AGO),
        release(&stranger, "ovmf", "7.0", 7, 1_900_000_000),
    ]);
    let run = p.monitor(&url, "state", &with_policy).expect(3);
    assert_eq!(
        run.alert_kinds(),
        ["duplicate_release", "unknown_signer", "stale"],
        "{}",
        run.stdout
    );
    let alerts = run.of_type("alert");
    assert_eq!(
        (
            alerts[0]["index"].as_u64(),
            alerts[0]["release_index"].as_u64()
        ),
        (Some(5), Some(0))
    );
    assert_eq!(alerts[1]["index"], 6);
    assert_eq!(alerts[2]["release_index"], 5);

    // Without a policy: only the policy-free alerts, as text lines.
    let run = p.monitor(&url, "plain", &[]).expect(3);
    let alert_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("ALERT "))
        .collect();
    assert_eq!(alert_lines.len(), 2, "{}", run.stdout);
    assert!(alert_lines[0].starts_with(
        "ALERT mismatch: rebuilder.example/trusted could not reproduce release 0 (ovmf 1.0)"
    ));
    assert!(alert_lines[1]
        .starts_with("ALERT duplicate_release: vendor.example/release released ovmf 1.0 again"));

    // --stale-days needs --policy.
    assert_eq!(p.monitor(&url, "plain", &["--stale-days", "3"]).code, 2);
}

#[test]
fn a_wrong_log_key_fails_and_leaves_the_state_alone() {
    let p = Published::any();
    let files = p.log.write_entries(0, 1);
    p.log.append(&files);
    p.publish();
    let other = keygen(p.path(), ORIGIN, "other.key");
    let url = p.pub_url();
    let run_with = |vkey: &str| {
        Run::from(fwlog_in(
            p.path(),
            &[
                "monitor",
                "--remote",
                &url,
                "--log-key",
                vkey,
                "--state",
                "state",
            ],
        ))
    };

    // First run with the wrong key: nothing is stored.
    let run = run_with(&other).expect(1);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
    assert!(!p.state_file("state").exists());

    // With a state made under the right key, the wrong key is refused before anything else.
    p.monitor(&url, "state", &[]).expect(0);
    let before = std::fs::read(p.state_file("state")).unwrap();
    let files = p.log.write_entries(1, 1);
    p.log.append(&files);
    p.publish();
    let run = run_with(&other).expect(1);
    assert!(run.stderr.starts_with("fwlog: "), "{}", run.stderr);
    assert_eq!(std::fs::read(p.state_file("state")).unwrap(), before);
    // A fresh state directory with the wrong key: the checkpoint signature fails.
    let run = Run::from(fwlog_in(
        p.path(),
        &[
            "monitor",
            "--remote",
            &url,
            "--log-key",
            &other,
            "--state",
            "state2",
        ],
    ))
    .expect(1);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
    assert!(!p.state_file("state2").exists());
    // A fetch that fails is an error too.
    let run = p.monitor("no-such-repo", "state", &[]).expect(1);
    assert!(
        run.stderr.contains("fetching no-such-repo failed"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(p.state_file("state")).unwrap(), before);
    p.monitor(&url, "state", &[]).expect(0);
}

#[test]
fn a_broken_repository_is_an_error_not_a_fork() {
    let p = Published::any();
    let files = p.log.write_entries(0, 2);
    p.log.append(&files);
    p.publish();
    let url = p.pub_url();
    p.monitor(&url, "state", &[]).expect(0);
    let before = std::fs::read(p.state_file("state")).unwrap();
    let files = p.log.write_entries(2, 1);
    p.log.append(&files);
    let good = git(&p.log.repo(), &["rev-parse", "fwlog"])
        .trim()
        .to_string();

    // The new entry bundle is missing.
    git(&p.log.repo(), &["rm", "-q", "tile/entries/000.p/3"]);
    git(&p.log.repo(), &["commit", "-q", "-m", "lose a bundle"]);
    p.publish();
    let run = p.monitor(&url, "state", &[]).expect(1);
    assert!(
        run.stderr.contains("broken log repository"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("missing entry bundle tile/entries/000.p/3"),
        "{}",
        run.stderr
    );

    // A level-0 hash tile with a changed hash: the consistency proof does not lead to the
    // signed root. Corrupt tiles prove nothing against the log.
    git(&p.log.repo(), &["reset", "-q", "--hard", &good]);
    let tile = p.log.repo().join("tile/0/000.p/3");
    let mut hashes = std::fs::read(&tile).unwrap();
    hashes[70] ^= 1;
    std::fs::write(&tile, hashes).unwrap();
    git(&p.log.repo(), &["commit", "-q", "-a", "-m", "flip a bit"]);
    p.publish();
    let run = p.monitor(&url, "state", &[]).expect(1);
    assert!(
        run.stderr.contains("broken log repository"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("fork detected"));
    assert_eq!(std::fs::read(p.state_file("state")).unwrap(), before);
    assert!(files_in(&p.path().join("state"), "fork-").is_empty());

    // Repaired (the good commit force-pushed back), the monitor carries on.
    git(&p.log.repo(), &["reset", "-q", "--hard", &good]);
    p.publish();
    let run = p.monitor(&url, "state", &[]).expect(0);
    assert!(run.stdout.contains("entry 2: "), "{}", run.stdout);
}
