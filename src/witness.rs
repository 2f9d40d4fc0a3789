//! C2SP tlog-witness: a witness cosigns a checkpoint only after checking that it is consistent
//! with the latest checkpoint it cosigned for the same log, and it records the new one before
//! answering. Logs collect cosignatures so that clients can require a quorum of independent
//! witnesses: a log that shows two histories must then fool them all.
//!
//! - [`AddCheckpoint`]: the `add-checkpoint` request body (`old <N>`, proof lines, blank line,
//!   signed checkpoint).
//! - [`Witness::add_checkpoint`]: the checks, in the order the spec lists them, each mapped to its
//!   HTTP status ([`WitnessError::status`]).
//! - [`StateDir`]: the per-origin latest checkpoint, updated under an exclusive lock with
//!   check-and-set semantics (temp file, fsync, rename, fsync of the directory).
//! - [`serve`] and [`request_cosignature`]: the HTTP server and client.
//!
//! Status choices where spec versions differ: a same-size checkpoint with another root is 422
//! (as the current editor's draft and transparency-dev/witness), not v1.0.0's 409; a known key
//! whose signature fails is 403.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::cosignature;
use crate::merkle::{self, Hash, MAX_PROOF_HASHES};
use crate::note::{NoteSignature, SignerKey, VerifierKey, MAX_NOTE_BYTES};

/// Largest request body accepted: a checkpoint note plus 63 proof lines and the old line.
pub const MAX_REQUEST_BYTES: usize = MAX_NOTE_BYTES + 64 * 64;
/// The `Content-Type` of a 409 response body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why a checkpoint was not cosigned. Each variant is one HTTP status of the protocol.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WitnessError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("no valid signature from a trusted key for this log: {0}")]
    Forbidden(String),
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    #[error("old size is not the latest cosigned size {latest}")]
    Conflict { latest: u64 },
    #[error("not consistent with the latest cosigned checkpoint: {0}")]
    Inconsistent(String),
    #[error("witness state: {0}")]
    State(String),
}

impl WitnessError {
    /// The tlog-witness HTTP status for this outcome.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) => 400,
            WitnessError::Forbidden(_) => 403,
            WitnessError::UnknownLog(_) => 404,
            WitnessError::Conflict { .. } => 409,
            WitnessError::Inconsistent(_) => 422,
            WitnessError::State(_) => 500,
        }
    }
}

/// An `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// `old <N>\n`, one base64 hash per line, `\n`, then the signed checkpoint.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old);
        for h in &self.proof {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint);
        bytes
    }

    /// Strict parser: canonical decimal, at most 63 canonical 32-byte hashes, size cap.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
        let bad = |s: &str| WitnessError::BadRequest(s.to_string());
        if body.len() > MAX_REQUEST_BYTES {
            return Err(bad("request body too large"));
        }
        let split = body
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let head = std::str::from_utf8(&body[..split + 1]).map_err(|_| bad("not UTF-8"))?;
        let mut lines = head.split_terminator('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(crate::parse::canonical_u64)
            .ok_or_else(|| bad("first line must be `old <size>` in canonical decimal"))?;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == MAX_PROOF_HASHES {
                return Err(bad("more than 63 proof lines"));
            }
            proof.push(
                Hash::from_base64(l).map_err(|_| bad("proof line is not base64 of 32 bytes"))?,
            );
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: body[split + 2..].to_vec(),
        })
    }
}

/// Per-origin witness state: the latest cosigned checkpoint note, verbatim, in
/// `<dir>/<hex SHA-256 of origin>.checkpoint`, next to a `.lock` file.
pub struct StateDir {
    dir: PathBuf,
}

/// An exclusive lock on one origin's state, released on drop.
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateDir {
    pub fn new(dir: &Path) -> Result<StateDir, WitnessError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| WitnessError::State(format!("{}: {e}", dir.display())))?;
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    fn base(&self, origin: &str) -> PathBuf {
        self.dir
            .join(hex::encode(Sha256::digest(origin.as_bytes())))
    }

    /// Path of the latest cosigned checkpoint for `origin`.
    pub fn checkpoint_path(&self, origin: &str) -> PathBuf {
        self.base(origin).with_extension("checkpoint")
    }

    /// Takes the origin's exclusive lock (flock), blocking; serialises check-and-set across
    /// threads and processes.
    pub fn lock(&self, origin: &str) -> Result<StateLock, WitnessError> {
        let path = self.base(origin).with_extension("lock");
        let file = crate::fsutil::lock_file(&path, true)
            .map_err(|e| WitnessError::State(format!("cannot lock {}: {e}", path.display())))?
            .ok_or_else(|| WitnessError::State(format!("cannot lock {}", path.display())))?;
        Ok(StateLock { _file: file, path })
    }

    /// The latest cosigned checkpoint for `origin` (size and root), verified against the log
    /// key, or `None` when this witness never cosigned for it. A file that does not parse or
    /// verify is local corruption, reported as such.
    pub fn latest(
        &self,
        _lock: &StateLock,
        origin: &str,
        log_keys: &[VerifierKey],
    ) -> Result<Option<(u64, Hash)>, WitnessError> {
        let path = self.checkpoint_path(origin);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(WitnessError::State(format!("{}: {e}", path.display()))),
        };
        let corrupt = |e: &dyn std::fmt::Display| {
            WitnessError::State(format!("local state {} is corrupt: {e}", path.display()))
        };
        let signed = SignedCheckpoint::parse(&bytes).map_err(|e| corrupt(&e))?;
        let v = verify_any(&signed, log_keys, origin).map_err(|e| corrupt(&e))?;
        Ok(Some((v.checkpoint.size, v.checkpoint.root)))
    }

    /// Replaces the origin's state atomically: temp file, fsync, rename, fsync of the directory.
    pub fn store(
        &self,
        lock: &StateLock,
        origin: &str,
        checkpoint: &[u8],
    ) -> Result<(), WitnessError> {
        let _ = &lock.path;
        let path = self.checkpoint_path(origin);
        crate::fsutil::write_atomic(&path, checkpoint)
            .map_err(|e| WitnessError::State(format!("{}: {e}", path.display())))
    }
}

/// Verifies a checkpoint against the first of `keys` that signed it validly. A known key whose
/// signature is present but wrong fails the whole checkpoint, as signed-note requires.
fn verify_any(
    signed: &SignedCheckpoint,
    keys: &[VerifierKey],
    origin: &str,
) -> Result<crate::checkpoint::VerifiedCheckpoint, CheckpointError> {
    let mut last = CheckpointError::MissingLogSignature;
    for key in keys {
        match signed.verify(key, Some(origin), &[], 0) {
            Ok(v) => return Ok(v),
            Err(CheckpointError::MissingLogSignature) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A witness: its key, the logs it follows (origin = each log key's name), and its state.
pub struct Witness {
    pub key: SignerKey,
    pub logs: Vec<VerifierKey>,
    pub state: StateDir,
}

impl Witness {
    /// Runs every tlog-witness check on `req`; on success records the checkpoint as the latest
    /// for its origin (before returning) and returns the cosignature line, timestamped `now`.
    pub fn add_checkpoint(
        &self,
        req: &AddCheckpoint,
        now: u64,
    ) -> Result<NoteSignature, WitnessError> {
        let signed = SignedCheckpoint::parse(&req.checkpoint)
            .map_err(|e| WitnessError::BadRequest(format!("checkpoint: {e}")))?;
        let origin = signed.checkpoint.origin.clone();
        // Every key trusted for this origin (several during a key rotation).
        let log_keys: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|k| k.name() == origin)
            .cloned()
            .collect();
        if log_keys.is_empty() {
            return Err(WitnessError::UnknownLog(origin));
        }
        let verified = verify_any(&signed, &log_keys, &origin).map_err(|e| match e {
            CheckpointError::OriginMismatch { .. } => WitnessError::UnknownLog(origin.clone()),
            e => WitnessError::Forbidden(e.to_string()),
        })?;
        let (size, root) = (verified.checkpoint.size, verified.checkpoint.root);
        if req.old > size {
            return Err(WitnessError::BadRequest(format!(
                "old size {} is larger than the checkpoint's {size}",
                req.old
            )));
        }
        let lock = self.state.lock(&origin)?;
        let latest = self.state.latest(&lock, &origin, &log_keys)?;
        let (latest_size, latest_root) = latest.unwrap_or((0, merkle::empty_root()));
        if req.old != latest_size {
            return Err(WitnessError::Conflict {
                latest: latest_size,
            });
        }
        if req.old == size {
            if !req.proof.is_empty() || root != latest_root {
                return Err(WitnessError::Inconsistent(format!(
                    "same size {size} but a different root or a non-empty proof"
                )));
            }
        } else if req.old == 0 {
            if !req.proof.is_empty() {
                return Err(WitnessError::Inconsistent(
                    "the proof must be empty when the old size is 0".into(),
                ));
            }
        } else {
            merkle::verify_consistency(req.old, size, &latest_root, &root, &req.proof)
                .map_err(|e| WitnessError::Inconsistent(e.to_string()))?;
        }
        if size == 0 && root != merkle::empty_root() {
            return Err(WitnessError::Inconsistent(
                "a size-0 checkpoint must carry the empty tree's root".into(),
            ));
        }
        // Persist before answering: the state only ever moves forward along one history.
        self.state.store(&lock, &origin, &signed.note.to_bytes())?;
        drop(lock);
        Ok(cosignature::cosign(signed.note.text(), &self.key, now))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Serves `POST /add-checkpoint` on `listener` until `stop` returns true (checked between
/// requests and at least every 200 ms). Each request is handled on its own thread; the state
/// lock serialises requests for the same origin.
pub fn serve(server: tiny_http::Server, witness: Arc<Witness>, stop: &dyn Fn() -> bool) {
    let server = Arc::new(server);
    while !stop() {
        let request = match server.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => break,
        };
        let witness = Arc::clone(&witness);
        std::thread::spawn(move || handle(request, &witness));
    }
}

fn respond(request: tiny_http::Request, status: u16, content_type: &str, body: Vec<u8>) {
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()).ok();
    let mut response = tiny_http::Response::from_data(body).with_status_code(status);
    if let Some(h) = header {
        response = response.with_header(h);
    }
    let _ = request.respond(response);
}

fn handle(mut request: tiny_http::Request, witness: &Witness) {
    let path = request.url().split('?').next().unwrap_or("").to_string();
    if path != "/add-checkpoint" {
        return respond(request, 404, "text/plain", b"not found\n".to_vec());
    }
    if *request.method() != tiny_http::Method::Post {
        return respond(request, 405, "text/plain", b"use POST\n".to_vec());
    }
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut body);
    if read.is_err() || body.len() > MAX_REQUEST_BYTES {
        return respond(
            request,
            400,
            "text/plain",
            b"unreadable or too large request\n".to_vec(),
        );
    }
    let result = AddCheckpoint::parse(&body).and_then(|req| witness.add_checkpoint(&req, now()));
    match result {
        Ok(sig) => respond(
            request,
            200,
            "text/plain; charset=utf-8",
            sig.to_line().into_bytes(),
        ),
        Err(WitnessError::Conflict { latest }) => respond(
            request,
            409,
            SIZE_CONTENT_TYPE,
            format!("{latest}\n").into_bytes(),
        ),
        Err(e) => respond(
            request,
            e.status(),
            "text/plain; charset=utf-8",
            format!("{e}\n").into_bytes(),
        ),
    }
}

/// What a witness answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200: the signature lines.
    Cosigned(Vec<NoteSignature>),
    /// 409 with a valid `text/x.tlog.size` body.
    Conflict(u64),
    /// Any other status, with the body's first line.
    Refused(u16, String),
}

/// Sends one `add-checkpoint` request to `url` (the submission prefix; `/add-checkpoint` is
/// appended) and parses the reply. Response bodies are capped at 64 KiB.
pub fn request_cosignature(url: &str, req: &AddCheckpoint) -> Result<Reply, String> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let response = agent
        .post(&endpoint)
        .send(&req.to_bytes()[..])
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response
        .into_body()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .map_err(|e| format!("{endpoint}: reading the reply: {e}"))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    match status {
        200 => {
            let lines: Result<Vec<NoteSignature>, _> = text
                .split_inclusive('\n')
                .map(NoteSignature::from_line)
                .collect();
            let lines =
                lines.map_err(|e| format!("{endpoint}: malformed cosignature reply: {e}"))?;
            if lines.is_empty() || !text.ends_with('\n') {
                return Err(format!(
                    "{endpoint}: empty or unterminated cosignature reply"
                ));
            }
            Ok(Reply::Cosigned(lines))
        }
        409 if content_type == SIZE_CONTENT_TYPE => {
            let size = text
                .strip_suffix('\n')
                .and_then(crate::parse::canonical_u64)
                .ok_or_else(|| format!("{endpoint}: malformed 409 body {text:?}"))?;
            Ok(Reply::Conflict(size))
        }
        s => Ok(Reply::Refused(
            s,
            text.lines().next().unwrap_or("").to_string(),
        )),
    }
}
