//! Running a logged build recipe and hashing what it produced.
//!
//! The recipe runs as `/bin/sh -eu recipe.sh` in a fresh work directory with a cleared
//! environment holding only:
//!
//! | variable | value |
//! |---|---|
//! | `FWLOG_SOURCE` | absolute path of a private copy of the source archive (digest checked) |
//! | `FWLOG_OUT` | absolute path of an empty directory; the artifacts go here, by name |
//! | `FWLOG_WORKDIR` | the work directory (also the recipe's current directory is `build/` in it) |
//! | `SOURCE_DATE_EPOCH` | the release's value |
//! | `PATH` | `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` |
//! | `HOME` | `<workdir>/home` (empty) |
//! | `TZ`, `LC_ALL`, `LANG` | `UTC`, `C.UTF-8`, `C.UTF-8` |
//! | the release's `env` | as logged |
//!
//! It runs in its own process group, is killed (the whole group) after the timeout, and its
//! output is streamed to the caller's sink with a size cap. This is hygiene, not isolation:
//! the recipe runs with the caller's user rights and can read and write anything the caller
//! can. Run untrusted recipes in a VM or container, or with `--sandbox bwrap` where bubblewrap
//! is installed (see SECURITY.md).
//!
//! An artifact whose release states an SEV-SNP measurement basis (`snpOvmfHash`, `sevTail`) is
//! also re-measured ([`measurement_basis_differences`]): a vendor could log the right digests
//! with a wrong basis, and guest owners compute launch measurements from the basis alone.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256, Sha384};
use thiserror::Error;

use crate::entry::release::{Artifact, Release, SevTail};
use crate::entry::reproduction::ObtainedArtifact;
use crate::measure;

/// Default limit on a recipe's run time.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
/// Most recipe output (stdout and stderr together) streamed to the caller; the rest is dropped.
pub const MAX_OUTPUT_BYTES: u64 = 64 << 20;
/// Largest artifact hashed.
pub const MAX_ARTIFACT_BYTES: u64 = 1 << 32;
/// The PATH the recipe sees.
pub const RECIPE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Error)]
pub enum RebuildError {
    #[error("source digest mismatch: the release wants sha256 {want}, the file has {got}")]
    SourceMismatch { want: String, got: String },
    #[error("work directory {0} exists and is not empty")]
    WorkdirNotEmpty(PathBuf),
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("sandbox {0} is not available: {1}")]
    NoSandbox(String, String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RebuildError + '_ {
    move |source| RebuildError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How the recipe ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// Non-zero exit or killed by a signal.
    Failed(String),
    /// Killed after the timeout.
    TimedOut(Duration),
}

/// Which wrapper runs the recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sandbox {
    /// Plain child process with a cleared environment.
    None,
    /// bubblewrap: read-only system, private /tmp, no network, only the work directory writable.
    Bwrap,
}

/// What a rebuild run produced.
pub struct RunResult {
    pub outcome: Outcome,
    pub artifacts: Vec<ObtainedArtifact>,
    /// Problems with individual artifacts (missing, not a regular file, too large).
    pub problems: Vec<String>,
    pub workdir: PathBuf,
    pub elapsed: Duration,
}

/// SHA-256 and SHA-384 of a reader, streaming.
pub fn digests(mut r: impl Read) -> std::io::Result<([u8; 32], [u8; 48], u64)> {
    let (mut a, mut b) = (Sha256::new(), Sha384::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        a.update(&buf[..n]);
        b.update(&buf[..n]);
        total += n as u64;
    }
    Ok((a.finalize().into(), b.finalize().into(), total))
}

/// Digests of a regular file named `name` directly inside `dir`: refuses names that could
/// escape it, symlinks and anything but a regular file.
pub fn hash_artifact(dir: &Path, name: &str) -> Result<ObtainedArtifact, String> {
    let path = checked_path(dir, name)?;
    let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{name}: {e}"))?;
    if meta.len() > MAX_ARTIFACT_BYTES {
        return Err(format!("{name}: larger than {MAX_ARTIFACT_BYTES} bytes"));
    }
    let file = std::fs::File::open(&path).map_err(|e| format!("{name}: {e}"))?;
    let (sha256, sha384, _) = digests(file).map_err(|e| format!("{name}: {e}"))?;
    Ok(ObtainedArtifact {
        name: name.to_string(),
        sha256,
        sha384,
    })
}

/// A rebuilt artifact whose SEV-SNP measurement basis is not the one its release states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasisDifference {
    /// The artifact's name.
    pub artifact: String,
    /// The release field the rebuilt file contradicts: `snpOvmfHash` or `sevTail`.
    pub field: &'static str,
    /// What the release states: the hash in hex, or `sha256 <hex>` of the tail.
    pub release: String,
    /// What the rebuilt file gives, in the same form, or why it gives nothing.
    pub rebuilt: String,
}

impl std::fmt::Display for BasisDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} differs: release {}, rebuilt {}",
            self.artifact, self.field, self.release, self.rebuilt
        )
    }
}

/// Compares the `snpOvmfHash` and `sevTail` (`tail`) the release states for `artifact` with
/// those of `image`, the rebuilt file: [`measure::snp_ovmf_hash`] of the whole image, and its
/// last 4096 bytes. Empty when the release states neither, or both hold.
pub fn measurement_basis_differences(
    artifact: &Artifact,
    tail: Option<&SevTail>,
    image: &[u8],
) -> Vec<BasisDifference> {
    let mut out = Vec::new();
    let diff = |field, release: String, rebuilt: String| BasisDifference {
        artifact: artifact.name.clone(),
        field,
        release,
        rebuilt,
    };
    if let Some(claimed) = &artifact.snp_ovmf_hash {
        match measure::snp_ovmf_hash(image) {
            Ok(h) if &h == claimed => {}
            Ok(h) => out.push(diff("snpOvmfHash", hex::encode(claimed), hex::encode(h))),
            Err(e) => out.push(diff(
                "snpOvmfHash",
                hex::encode(claimed),
                format!("none ({e})"),
            )),
        }
    }
    if let Some(claimed) = tail {
        let page_hash = |b: &[u8]| format!("sha256 {}", hex::encode(Sha256::digest(b)));
        match SevTail::of_image(image) {
            Some(t) if &t == claimed => {}
            Some(t) => out.push(diff(
                "sevTail",
                page_hash(claimed.as_bytes()),
                page_hash(t.as_bytes()),
            )),
            None => out.push(diff(
                "sevTail",
                page_hash(claimed.as_bytes()),
                format!("none (the file is {} bytes)", image.len()),
            )),
        }
    }
    out
}

/// Re-reads the rebuilt artifact `obtained` (named as in `artifact`, a release artifact
/// stating an SEV-SNP basis) from `dir` with [`hash_artifact`]'s rules, checks that it still
/// has the digests obtained, and compares its basis ([`measurement_basis_differences`]).
/// Nothing is read for an artifact stating no basis or whose digests differ from the release's
/// anyway.
pub fn check_measurement_basis(
    artifact: &Artifact,
    tail: Option<&SevTail>,
    obtained: &ObtainedArtifact,
    dir: &Path,
) -> Vec<BasisDifference> {
    if (artifact.snp_ovmf_hash.is_none() && tail.is_none())
        || obtained.name != artifact.name
        || obtained.sha256 != artifact.sha256
        || obtained.sha384 != artifact.sha384
    {
        return Vec::new();
    }
    let unreadable = |why: String| {
        let field = if artifact.snp_ovmf_hash.is_some() {
            "snpOvmfHash"
        } else {
            "sevTail"
        };
        vec![BasisDifference {
            artifact: artifact.name.clone(),
            field,
            release: "stated".into(),
            rebuilt: format!("not measured ({why})"),
        }]
    };
    let image = match read_regular(dir, &artifact.name, measure::MAX_IMAGE_SIZE as u64) {
        Ok(image) => image,
        Err(why) => return unreadable(why),
    };
    let (sha256, sha384, _) = match digests(image.as_slice()) {
        Ok(d) => d,
        Err(e) => return unreadable(e.to_string()),
    };
    if sha256 != obtained.sha256 || sha384 != obtained.sha384 {
        return unreadable("the file changed after it was hashed".into());
    }
    measurement_basis_differences(artifact, tail, &image)
}

/// The bytes of the regular file `name` directly inside `dir`, at most `cap` bytes; refuses
/// what [`hash_artifact`] refuses.
fn read_regular(dir: &Path, name: &str, cap: u64) -> Result<Vec<u8>, String> {
    let path = checked_path(dir, name)?;
    let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{name}: {e}"))?;
    if meta.len() > cap {
        return Err(format!("{name}: larger than {cap} bytes"));
    }
    let mut data = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(cap + 1).read_to_end(&mut data))
        .map_err(|e| format!("{name}: {e}"))?;
    if data.len() as u64 > cap {
        return Err(format!("{name}: larger than {cap} bytes"));
    }
    Ok(data)
}

/// `dir/name` when `name` is a plain file name and that is a regular file, not a symlink.
fn checked_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(format!("{name:?}: not a plain file name"));
    }
    let path = dir.join(name);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{name}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{name}: is a symlink; artifacts must be regular files"
        ));
    }
    if !meta.is_file() {
        return Err(format!("{name}: not a regular file"));
    }
    Ok(path)
}

/// Runs `release`'s recipe on `source` (whose SHA-256 must match the release) in `workdir`
/// (created; must be absent or empty), streaming output to `sink`. Then hashes every artifact
/// the release names from `FWLOG_OUT`.
pub fn run(
    release: &Release,
    source: &Path,
    workdir: &Path,
    timeout: Duration,
    sandbox: Sandbox,
    sink: &mut (dyn Write + Send),
) -> Result<RunResult, RebuildError> {
    let started = Instant::now();
    let file = std::fs::File::open(source).map_err(io(source))?;
    let (got, _, _) = digests(file).map_err(io(source))?;
    if got != release.source_sha256 {
        return Err(RebuildError::SourceMismatch {
            want: hex::encode(release.source_sha256),
            got: hex::encode(got),
        });
    }
    if workdir.exists()
        && std::fs::read_dir(workdir)
            .map_err(io(workdir))?
            .next()
            .is_some()
    {
        return Err(RebuildError::WorkdirNotEmpty(workdir.to_path_buf()));
    }
    std::fs::create_dir_all(workdir).map_err(io(workdir))?;
    let workdir = workdir.canonicalize().map_err(io(workdir))?;
    let (src_dir, out, build, home) = (
        workdir.join("source"),
        workdir.join("out"),
        workdir.join("build"),
        workdir.join("home"),
    );
    for d in [&src_dir, &out, &build, &home] {
        std::fs::create_dir(d).map_err(io(d))?;
    }
    let out_id = dir_id(&out).map_err(io(&out))?;
    // A private copy: the recipe cannot change the caller's file, and the digest checked above
    // is the digest of what it reads (the copy is re-checked after the build).
    let file_name = source
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "source".into());
    let src_copy = src_dir.join(file_name);
    std::fs::copy(source, &src_copy).map_err(io(&src_copy))?;
    let recipe = workdir.join("recipe.sh");
    std::fs::write(&recipe, &release.recipe).map_err(io(&recipe))?;

    let mut cmd = match sandbox {
        Sandbox::None => {
            let mut c = Command::new("/bin/sh");
            c.arg("-eu").arg(&recipe);
            c
        }
        Sandbox::Bwrap => {
            let bwrap = which("bwrap").ok_or_else(|| {
                RebuildError::NoSandbox(
                    "bwrap".into(),
                    "bubblewrap is not installed (apt-get install bubblewrap)".into(),
                )
            })?;
            let mut c = Command::new(bwrap);
            c.args([
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--tmpfs",
                "/tmp",
                "--unshare-all",
                "--die-with-parent",
                "--bind",
            ])
            .arg(&workdir)
            .arg(&workdir)
            .args(["--chdir"])
            .arg(&build)
            .args(["/bin/sh", "-eu"])
            .arg(&recipe);
            c
        }
    };
    cmd.env_clear()
        .current_dir(&build)
        .env("PATH", RECIPE_PATH)
        .env("HOME", &home)
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .env("LANG", "C.UTF-8")
        .env("SOURCE_DATE_EPOCH", release.source_date_epoch.to_string())
        .env("FWLOG_SOURCE", &src_copy)
        .env("FWLOG_OUT", &out)
        .env("FWLOG_WORKDIR", &workdir)
        .envs(&release.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(io(Path::new("/bin/sh")))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let pumps: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        })
    })
    .collect();
    drop(tx);
    let mut written = 0u64;
    let mut truncated = false;
    let outcome = loop {
        while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(50)) {
            if written < MAX_OUTPUT_BYTES {
                let take = chunk.len().min((MAX_OUTPUT_BYTES - written) as usize);
                let _ = sink.write_all(&chunk[..take]);
                written += take as u64;
            } else if !truncated {
                truncated = true;
                let _ = writeln!(
                    sink,
                    "\n[fwlog: recipe output over {MAX_OUTPUT_BYTES} bytes; the rest is not shown]"
                );
            }
        }
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break Outcome::Success,
            Ok(Some(status)) => break Outcome::Failed(format!("recipe {status}")),
            Ok(None) if started.elapsed() > timeout => {
                kill_group(pid);
                let _ = child.wait();
                break Outcome::TimedOut(timeout);
            }
            Ok(None) => {}
            Err(e) => break Outcome::Failed(format!("waiting for the recipe: {e}")),
        }
    };
    // Whatever the recipe left running in its group goes too.
    kill_group(pid);
    for p in pumps {
        let _ = p.join();
    }
    while let Ok(chunk) = rx.try_recv() {
        if written < MAX_OUTPUT_BYTES {
            let take = chunk.len().min((MAX_OUTPUT_BYTES - written) as usize);
            let _ = sink.write_all(&chunk[..take]);
            written += take as u64;
        }
    }
    let _ = sink.flush();

    let mut artifacts = Vec::new();
    let mut problems = Vec::new();
    // The recipe may have replaced FWLOG_OUT itself (by a symlink, or another directory):
    // artifacts are read only from the directory created above.
    if outcome == Outcome::Success && !same_dir(&out, out_id) {
        problems.push(format!(
            "{}: FWLOG_OUT was replaced by the recipe; no artifact is read from it",
            out.display()
        ));
    } else if outcome == Outcome::Success {
        for a in &release.artifacts {
            match hash_artifact(&out, &a.name) {
                Ok(obtained) => artifacts.push(obtained),
                Err(p) => problems.push(p),
            }
        }
    }
    Ok(RunResult {
        outcome,
        artifacts,
        problems,
        workdir,
        elapsed: started.elapsed(),
    })
}

/// Identity of a directory that is not a symlink: (device, inode) on Unix.
#[cfg(unix)]
fn dir_id(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::symlink_metadata(path)?;
    if !m.file_type().is_dir() {
        return Err(std::io::Error::other("not a directory"));
    }
    Ok((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(path: &Path) -> std::io::Result<(u64, u64)> {
    std::fs::symlink_metadata(path).map(|_| (0, 0))
}

fn same_dir(path: &Path, id: (u64, u64)) -> bool {
    dir_id(path).is_ok_and(|now| now == id)
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
    // The group id is the child's pid (process_group(0)), owned by us until reaped.
    if let Ok(pid) = i32::try_from(pid) {
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_: u32) {}

fn which(program: &str) -> Option<PathBuf> {
    RECIPE_PATH
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}
