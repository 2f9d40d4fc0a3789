//! Grows a real log in a temporary Git repository through the library, then measures what users
//! wait for: batch and single-entry appends as the log grows, inclusion proofs from the Git repo
//! (in-process and as a cold `fwlog log prove` process), a full audit (in-process and
//! `fwlog log verify`), and the repository's size on disk. Prints a table.
//!
//! `cargo bench --bench log_growth`. Environment:
//! - `FWLOG_BENCH_ENTRIES`: entries to grow the log to (default 100000);
//! - `FWLOG_BENCH_BATCH`: entries per batch append (default 1000);
//! - `FWLOG_BENCH_ENTRY_BYTES`: bytes per entry (default 1024);
//! - `FWLOG_BENCH_BARE`: grow a bare repository (default: what `fwlog log init` makes, a
//!   checkout with the log branch checked out, which every append brings along);
//! - `FWLOG_BENCH_KEEP`: keep the repository and print its path.
//!
//! Without `--bench` (e.g. `cargo test --benches`) it runs a smoke-sized log of 3000 entries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fwlog::audit;
use fwlog::note::SignerKey;
use fwlog::store::{AnyEntry, EntrySchema, LogStore, NewEntry, DEFAULT_BRANCH};

const ORIGIN: &str = "bench.example/log";
/// Single-entry appends timed at each measuring point.
const SINGLES: usize = 5;
/// In-process inclusion proofs timed.
const PROOFS: u64 = 500;
/// Cold `fwlog log prove` processes timed.
const COLD_PROOFS: usize = 10;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Entry `i`: a header line, then hex of PRNG output (text, about as compressible as JSON with
/// digests), `len` bytes in all.
fn entry(i: u64, len: usize) -> NewEntry {
    let mut bytes = format!("bench entry {i}\n").into_bytes();
    let mut k = 0u64;
    while bytes.len() < len {
        bytes.extend_from_slice(format!("{:016x}", mix(i << 20 | k)).as_bytes());
        k += 1;
    }
    bytes.truncate(len.max(16));
    NewEntry {
        name: format!("entry-{i}"),
        bytes,
        pending_path: None,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Bytes on disk below `dir` (apparent file sizes), and the number of files.
fn disk_usage(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                bytes += meta.len();
                files += 1;
            }
        }
    }
    (bytes, files)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Runs `<dir>/fwlog` (a copy of the binary built with this bench, taken at start, so that a
/// concurrent rebuild cannot swap it); returns its wall time, or its error.
fn run_fwlog(dir: &Path, args: &[&str]) -> Result<Duration, String> {
    let t = Instant::now();
    let out = Command::new(dir.join("fwlog"))
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    let took = t.elapsed();
    if out.status.success() {
        Ok(took)
    } else {
        Err(format!(
            "fwlog {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A table cell for a CLI timing that may have failed.
fn cli_cell(r: &Result<Duration, String>, f: impl Fn(Duration) -> String) -> String {
    match r {
        Ok(d) => f(*d),
        Err(e) => format!("FAILED ({e})"),
    }
}

/// Times `SINGLES` single-entry appends (fresh entries from `next`); returns their median, ms.
fn single_appends(store: &LogStore, key: &SignerKey, next: &mut u64, len: usize) -> f64 {
    let mut times: Vec<f64> = (0..SINGLES)
        .map(|_| {
            let e = entry(*next, len);
            *next += 1;
            let t = Instant::now();
            store.append(key, &[e], &AnyEntry).expect("append");
            ms(t.elapsed())
        })
        .collect();
    median(&mut times)
}

struct Row(String, String);

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let target = env_u64(
        "FWLOG_BENCH_ENTRIES",
        if bench_mode { 100_000 } else { 3_000 },
    );
    let batch = env_u64("FWLOG_BENCH_BATCH", 1000).max(1);
    let len = env_u64("FWLOG_BENCH_ENTRY_BYTES", 1024).clamp(16, 65535) as usize;

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().to_path_buf();
    let repo = dir.join("log");
    std::fs::copy(env!("CARGO_BIN_EXE_fwlog"), dir.join("fwlog")).expect("copy fwlog");
    let key = SignerKey::generate(ORIGIN).expect("key");
    let key_file = dir.join("log.key");
    std::fs::write(&key_file, key.to_key_string()).expect("write key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod key");
    }
    let bare = std::env::var_os("FWLOG_BENCH_BARE").is_some();
    if bare {
        git2::Repository::init_bare(&repo).expect("git init --bare");
    }
    let git_dir = if bare {
        repo.clone()
    } else {
        repo.join(".git")
    };
    let store =
        LogStore::init(&repo, DEFAULT_BRANCH, ORIGIN, &key, EntrySchema::Any).expect("init");
    eprintln!(
        "growing {} ({}) to {target} entries, batches of {batch}, {len}-byte entries",
        repo.display(),
        if bare { "bare" } else { "with checkout" }
    );

    let started = Instant::now();
    let mut next = 0u64; // next entry number
    let mut batch_ms: Vec<(u64, f64)> = Vec::new(); // (size before, ms)
    let mut single_small = None;
    while next < target {
        let n = batch.min(target - next);
        let entries: Vec<NewEntry> = (next..next + n).map(|i| entry(i, len)).collect();
        let size_before = store.head().expect("head").size();
        let t = Instant::now();
        let out = store.append(&key, &entries, &AnyEntry).expect("append");
        batch_ms.push((size_before, ms(t.elapsed())));
        assert_eq!(out.new_size, size_before + n);
        next += n;
        if single_small.is_none() && next >= 1000.min(target) {
            single_small = Some((
                store.head().expect("head").size(),
                single_appends(&store, &key, &mut next, len),
            ));
        }
        if batch_ms.len() % 10 == 0 {
            eprintln!(
                "  size {:>7}: last batch {:.1} ms, {:.0?} elapsed",
                out.new_size,
                batch_ms.last().unwrap().1,
                started.elapsed()
            );
        }
    }
    let grow_time = started.elapsed();
    eprintln!(
        "grown in {grow_time:.1?}; batch ms by size: {:?}",
        batch_ms
            .iter()
            .map(|(s, t)| (*s, t.round() as u64))
            .collect::<Vec<_>>()
    );
    let size = store.head().expect("head").size();
    let single_large = single_appends(&store, &key, &mut next, len);
    let size = size + SINGLES as u64;
    // What one single-entry append wrote: the newest pack.
    let last_pack = std::fs::read_dir(git_dir.join("objects/pack"))
        .expect("pack dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
        .filter_map(|e| {
            Some((
                e.metadata().ok()?.modified().ok()?,
                e.metadata().ok()?.len(),
            ))
        })
        .max()
        .map_or(0, |(_, len)| len);

    // A cold CLI append of one entry (process start, key load, open, append, checkout sync).
    let cli_entry = dir.join("cli.entry");
    std::fs::write(&cli_entry, entry(next, len).bytes).expect("write entry");
    let cli_append = run_fwlog(
        &dir,
        &[
            "log",
            "append",
            "--repo",
            "log",
            "--key",
            "log.key",
            "cli.entry",
        ],
    );
    let size = size + u64::from(cli_append.is_ok());

    // Inclusion proofs from the Git repo, in-process: head() + prove(i), random indexes.
    let mut proof_us: Vec<f64> = (0..PROOFS)
        .map(|k| {
            let i = mix(k) % size;
            let t = Instant::now();
            let snap = store.head().expect("head");
            let proof = snap.prove(i).expect("prove");
            let took = t.elapsed();
            assert_eq!(proof.index, i);
            took.as_secs_f64() * 1e6
        })
        .collect();
    let proof_mean = mean(&proof_us);
    let proof_median = median(&mut proof_us);

    // Cold `fwlog log prove` processes.
    let cold: Result<Vec<f64>, String> = (0..COLD_PROOFS as u64)
        .map(|k| {
            let i = (mix(1000 + k) % size).to_string();
            let args = [
                "log",
                "prove",
                "--repo",
                "log",
                "--index",
                &i,
                "--out",
                "proof.tlog-proof",
            ];
            run_fwlog(&dir, &args).map(ms)
        })
        .collect();
    let cold_cell = match cold {
        Ok(mut v) => format!("{:.1} ms median of {COLD_PROOFS}", median(&mut v)),
        Err(e) => format!("FAILED ({e})"),
    };

    // Full audit: in-process, then the CLI.
    let t = Instant::now();
    let report = audit::audit(&store, None, None, &AnyEntry, &mut |_, _, _| {}).expect("audit");
    let audit_time = t.elapsed();
    assert!(report.ok(), "audit findings: {:?}", report.findings);
    assert_eq!(report.size, size);
    let verify_time = run_fwlog(&dir, &["log", "verify", "--repo", "log"]);

    let (git_bytes, git_files) = disk_usage(&git_dir);
    let (all_bytes, all_files) = disk_usage(&repo);
    let packs = std::fs::read_dir(git_dir.join("objects/pack"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".pack"))
                .count()
        })
        .unwrap_or(0);

    let first: Vec<f64> = batch_ms.iter().take(5).map(|b| b.1).collect();
    let last: Vec<f64> = batch_ms.iter().rev().take(5).map(|b| b.1).collect();
    let eps = |d: Duration| size as f64 / d.as_secs_f64();
    let (small_size, small_ms) = single_small.unwrap_or((0, f64::NAN));
    let rows = [
        Row("log size (entries)".into(), format!("{size}")),
        Row(
            "entry size / batch".into(),
            format!("{len} B / {batch} entries"),
        ),
        Row(
            "grow time (all batches)".into(),
            format!(
                "{:.1} s ({:.0} entries/s)",
                grow_time.as_secs_f64(),
                eps(grow_time)
            ),
        ),
        Row(
            "batch append, first 5".into(),
            format!(
                "{:.1} ms mean (sizes {}..{})",
                mean(&first),
                batch_ms[0].0,
                batch_ms[first.len() - 1].0 + batch
            ),
        ),
        Row(
            "batch append, last 5".into(),
            format!(
                "{:.1} ms mean (sizes {}..{})",
                mean(&last),
                batch_ms[batch_ms.len() - last.len()].0,
                batch_ms.last().unwrap().0 + batch
            ),
        ),
        Row(
            format!("single append @ {small_size}"),
            format!("{small_ms:.1} ms median of {SINGLES}"),
        ),
        Row(
            format!("single append @ {}", size - 1 - SINGLES as u64),
            format!("{single_large:.1} ms median of {SINGLES}"),
        ),
        Row(
            "pack written by that append".into(),
            format!("{:.2} MiB", mib(last_pack)),
        ),
        Row(
            format!("cold `fwlog log append` (1) @ {}", size - 1),
            cli_cell(&cli_append, |d| format!("{:.1} ms", ms(d))),
        ),
        Row(
            "prove in-process (head+prove)".into(),
            format!("{proof_median:.0} us median, {proof_mean:.0} us mean of {PROOFS}"),
        ),
        Row("cold `fwlog log prove`".into(), cold_cell),
        Row(
            "audit in-process".into(),
            format!(
                "{:.2} s ({:.0} entries/s, {} commits)",
                audit_time.as_secs_f64(),
                eps(audit_time),
                report.commits_checked
            ),
        ),
        Row(
            "`fwlog log verify`".into(),
            cli_cell(&verify_time, |d| {
                format!("{:.2} s ({:.0} entries/s)", d.as_secs_f64(), eps(d))
            }),
        ),
        Row(
            "git dir on disk".into(),
            format!(
                "{:.1} MiB, {git_files} files, {packs} packs",
                mib(git_bytes)
            ),
        ),
        Row(
            "repo incl. checkout".into(),
            format!("{:.1} MiB, {all_files} files", mib(all_bytes)),
        ),
    ];
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    println!(
        "\nfwlog log growth ({size} entries, {})",
        if bare {
            "bare repository"
        } else {
            "repository with checkout"
        }
    );
    println!("{:-<1$}", "", w + 50);
    for Row(k, v) in &rows {
        println!("{k:<w$}  {v}");
    }
    println!("{:-<1$}", "", w + 50);
    println!("batch append time by size (every 10th batch):");
    for (s, t) in batch_ms.iter().step_by(10) {
        print!(" {s}:{t:.0}ms");
    }
    println!();

    if std::env::var_os("FWLOG_BENCH_KEEP").is_some() {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
}
