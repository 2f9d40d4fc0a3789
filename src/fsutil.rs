//! File-system primitives for crash-safe state: atomic replacement and advisory locks.
//!
//! Every state file fwlog owns outside Git (witness state, monitor state, outputs) is replaced
//! by writing a temp file in the same directory, fsyncing it, renaming it over the target and
//! fsyncing the directory, so that a crash leaves either the old or the new file, never a torn
//! one. Locks are `flock(2)` advisory locks on a lock file, released when the file closes.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

/// Replaces `path` with `data` atomically and durably (temp file, fsync, rename, directory
/// fsync). The temp file is created next to `path`.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// fsync of a directory, making a rename in it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Opens (creating if needed) `path` and takes an exclusive lock on it: blocking when `wait`,
/// else `Ok(None)` when another holder has it. The lock lasts as long as the returned file.
pub fn lock_file(path: &Path, wait: bool) -> std::io::Result<Option<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd as _;
        let op = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        // SAFETY: flock on a descriptor we own; it takes an advisory lock and touches no memory.
        if unsafe { libc::flock(file.as_raw_fd(), op) } != 0 {
            let err = std::io::Error::last_os_error();
            if !wait && err.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(err);
        }
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_locks_exclude() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let l = dir.path().join("lock");
        let held = lock_file(&l, true).unwrap().unwrap();
        assert!(lock_file(&l, false).unwrap().is_none());
        drop(held);
        assert!(lock_file(&l, false).unwrap().is_some());
    }
}
