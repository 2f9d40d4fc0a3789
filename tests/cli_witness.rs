//! Witness tests (C2SP tlog-witness): the real `fwlog witness serve` over loopback HTTP driven
//! with hand-written HTTP/1.1 requests, `fwlog witness cosign`, and `fwlog log witness`.
//! Consistency proofs and roots are computed here independently (RFC 9162 §2.1) from the entry
//! bytes the tests append, so the witness is checked against a second implementation.

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{bin, fails, fwlog_in, git, keygen, ok, Log};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "example.com/witness-test-log";
const W1: &str = "witness.example/w1";
const W2: &str = "witness.example/w2";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// ---------------------------------------------------------------------------------------------
// Independent Merkle tree (RFC 9162 §2.1)
// ---------------------------------------------------------------------------------------------

type H = [u8; 32];

fn leaf(data: &[u8]) -> H {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

fn node(l: &H, r: &H) -> H {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(l)
        .chain_update(r)
        .finalize()
        .into()
}

/// Largest power of two strictly below `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[H]) -> H {
    match d.len() {
        0 => Sha256::digest(b"").into(),
        1 => d[0],
        n => {
            let k = split(n);
            node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// RFC 9162 SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[H], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// The proof a client sends for `old` → `d.len()` (empty when old is 0 or equal).
fn consistency(old: usize, d: &[H]) -> Vec<H> {
    if old == 0 || old == d.len() {
        vec![]
    } else {
        subproof(old, d, true)
    }
}

// ---------------------------------------------------------------------------------------------
// Logs, checkpoints, request bodies
// ---------------------------------------------------------------------------------------------

/// One history of a log: a repo in the log's directory signed with its `log.key`, and the
/// entry bytes it holds, so proofs can be computed here.
struct Hist {
    dir: PathBuf,
    repo: String,
    tag: String,
    entries: Vec<Vec<u8>>,
}

impl Hist {
    /// The repo `log` that `Log::new` made.
    fn main(log: &Log, tag: &str) -> Hist {
        Hist {
            dir: log.path().to_path_buf(),
            repo: "log".into(),
            tag: tag.into(),
            entries: vec![],
        }
    }

    /// A second repo with the same key and origin: appending other entries forks the log.
    fn fork(log: &Log, origin: &str, repo: &str, tag: &str) -> Hist {
        ok(
            log.path(),
            &[
                "log",
                "init",
                "--repo",
                repo,
                "--origin",
                origin,
                "--key",
                "log.key",
                "--entries",
                "any",
            ],
        );
        Hist {
            dir: log.path().to_path_buf(),
            repo: repo.into(),
            tag: tag.into(),
            entries: vec![],
        }
    }

    fn repo_path(&self) -> PathBuf {
        self.dir.join(&self.repo)
    }

    /// Appends `n` new entries as one batch; returns the new checkpoint (checked against the
    /// independently computed root).
    fn append(&mut self, n: usize) -> Vec<u8> {
        let mut files = vec![];
        for _ in 0..n {
            let i = self.entries.len();
            let name = format!("{}-{}-{i}.bin", self.repo, self.tag);
            let data = format!("{} entry {i}\n", self.tag).into_bytes();
            fs::write(self.dir.join(&name), &data).unwrap();
            files.push(name);
            self.entries.push(data);
        }
        let mut args = vec!["log", "append", "--repo", &self.repo, "--key", "log.key"];
        args.extend(files.iter().map(String::as_str));
        ok(&self.dir, &args);
        let cp = self.checkpoint();
        assert_eq!(cp_size(&cp), self.entries.len() as u64);
        assert_eq!(cp_root(&cp), B64.encode(mth(&self.leaves())));
        cp
    }

    fn leaves(&self) -> Vec<H> {
        self.entries.iter().map(|e| leaf(e)).collect()
    }

    /// Consistency proof from `old` to `new` in this history.
    fn proof(&self, old: u64, new: u64) -> Vec<H> {
        consistency(old as usize, &self.leaves()[..new as usize])
    }

    /// The checkpoint note currently in the repo (with any cosignatures).
    fn checkpoint(&self) -> Vec<u8> {
        git(&self.repo_path(), &["show", "fwlog:checkpoint"]).into_bytes()
    }
}

fn cp_line(cp: &[u8], i: usize) -> String {
    String::from_utf8_lossy(cp)
        .lines()
        .nth(i)
        .expect("checkpoint line")
        .to_string()
}

fn cp_size(cp: &[u8]) -> u64 {
    cp_line(cp, 1).parse().expect("checkpoint size")
}

fn cp_root(cp: &[u8]) -> String {
    cp_line(cp, 2)
}

/// The signed text of a note: everything before the last blank line, plus its final `\n`.
fn note_text(note: &[u8]) -> String {
    let s = String::from_utf8(note.to_vec()).expect("utf-8 note");
    let (text, _) = s.rsplit_once("\n\n").expect("note has a blank line");
    format!("{text}\n")
}

/// An add-checkpoint body: `old N`, proof lines, blank line, checkpoint.
fn body(old: u64, proof: &[H], cp: &[u8]) -> Vec<u8> {
    let mut b = format!("old {old}\n").into_bytes();
    for h in proof {
        b.extend_from_slice(B64.encode(h).as_bytes());
        b.push(b'\n');
    }
    b.push(b'\n');
    b.extend_from_slice(cp);
    b
}

/// The checkpoint with one bit of its (single) log signature flipped, key ID kept.
fn tamper_signature(cp: &[u8]) -> Vec<u8> {
    let s = String::from_utf8(cp.to_vec()).unwrap();
    let (text, sigs) = s.rsplit_once("\n\n").unwrap();
    let line = sigs.lines().next().unwrap();
    let blob = line.rsplit(' ').next().unwrap();
    let mut raw = B64.decode(blob).unwrap();
    raw[10] ^= 1;
    let bad = line.replacen(blob, &B64.encode(&raw), 1);
    format!("{text}\n\n{bad}\n").into_bytes()
}

/// The signature lines of a note (each with its `\n`).
fn sig_lines(note: &[u8]) -> Vec<String> {
    let s = String::from_utf8(note.to_vec()).unwrap();
    let (_, sigs) = s.rsplit_once("\n\n").unwrap();
    sigs.lines().map(|l| format!("{l}\n")).collect()
}

fn state_file(state: &Path, origin: &str) -> PathBuf {
    state.join(format!(
        "{}.checkpoint",
        hex::encode(Sha256::digest(origin.as_bytes()))
    ))
}

fn evidence_files(state: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(state)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().contains("evidence"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Checks a 200 body: cosignature/v1 line(s) from `wvkey` (name, key ID, 76-byte blob, recent
/// timestamp), each `— ` prefixed and `\n` terminated.
fn check_cosignature_body(body: &str, wvkey: &str) {
    assert!(body.ends_with('\n'), "unterminated reply {body:?}");
    let mut parts = wvkey.splitn(3, '+');
    let (name, id) = (parts.next().unwrap(), parts.next().unwrap());
    let mut found = false;
    for line in body.lines() {
        let rest = line
            .strip_prefix("— ")
            .unwrap_or_else(|| panic!("line {line:?} does not start with an em dash"));
        let (n, blob) = rest.split_once(' ').expect("name and signature");
        if n != name {
            continue;
        }
        let raw = B64.decode(blob).expect("base64 cosignature");
        assert_eq!(raw.len(), 76, "cosignature/v1 blob is 4+8+64 bytes");
        assert_eq!(hex::encode(&raw[..4]), id, "key ID of the 0x04 key");
        let t = u64::from_be_bytes(raw[4..12].try_into().unwrap());
        assert!(t.abs_diff(now()) < 600, "timestamp {t} not recent");
        found = true;
    }
    assert!(found, "no line from {name} in {body:?}");
}

static NOTE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs `fwlog checkpoint verify` on `note` with the given witnesses and quorum.
fn verify_note(dir: &Path, note: &[u8], log_vkey: &str, witnesses: &[&str], q: usize) -> Output {
    let file = dir.join(format!(
        "note-{}.txt",
        NOTE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::write(&file, note).unwrap();
    let q = q.to_string();
    let mut args = vec![
        "checkpoint",
        "verify",
        file.to_str().unwrap(),
        "--log-key",
        log_vkey,
        "--witness-quorum",
        &q,
    ];
    for w in witnesses {
        args.extend(["--witness", w]);
    }
    fwlog_in(dir, &args)
}

fn assert_verifies(dir: &Path, note: &[u8], log_vkey: &str, witnesses: &[&str], q: usize) {
    let out = verify_note(dir, note, log_vkey, witnesses, q);
    assert!(
        out.status.success(),
        "checkpoint verify (quorum {q}) failed: {}\nnote:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(note)
    );
}

/// A witness key pair in `dir`: the key file and its cosignature (0x04) verifier key.
fn witness_key(dir: &Path, name: &str, file: &str) -> String {
    keygen(dir, name, file);
    ok(dir, &["key", "public", file, "--witness"])
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Processes and raw HTTP
// ---------------------------------------------------------------------------------------------

/// A child process killed (and reaped) on drop, also on panic.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    /// Waits at most `limit`, then returns exit status and captured output.
    fn wait_bounded(&mut self, limit: Duration) -> (bool, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.0.try_wait().expect("try_wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "process did not finish in time");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let mut err = String::new();
        if let Some(o) = self.0.stdout.as_mut() {
            o.read_to_string(&mut out).unwrap();
        }
        if let Some(e) = self.0.stderr.as_mut() {
            e.read_to_string(&mut err).unwrap();
        }
        (status.success(), out, err)
    }
}

/// A running `fwlog witness serve` on 127.0.0.1, killed on drop.
struct Server {
    child: ChildGuard,
    port: u16,
    /// The witness's cosignature (0x04) verifier key, as the server printed it.
    vkey: String,
}

impl Server {
    fn start(dir: &Path, key_file: &str, state: &Path, logs: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("pick a free port")
                .port();
            let err_path = dir.join(format!("serve-{port}.stderr"));
            let mut cmd = Command::new(bin());
            cmd.current_dir(dir)
                .args(["witness", "serve", "--listen", &format!("127.0.0.1:{port}")])
                .args(["--key", key_file, "--state"])
                .arg(state);
            for l in logs {
                cmd.args(["--log", l]);
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(File::create(&err_path).unwrap());
            let mut child = ChildGuard(cmd.spawn().expect("spawn fwlog witness serve"));
            let stdout = child.0.stdout.take().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let r = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(r.map(|_| line));
            });
            match rx.recv_timeout(Duration::from_secs(15)) {
                Ok(Ok(line)) if !line.trim().is_empty() => {
                    return Server {
                        child,
                        port,
                        vkey: line.trim().to_string(),
                    };
                }
                _ => {
                    drop(child);
                    last_err = fs::read_to_string(&err_path).unwrap_or_default();
                    if !last_err.contains("cannot listen") {
                        break;
                    }
                }
            }
        }
        panic!("witness server did not start: {last_err}");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn post(&self, body: &[u8]) -> Resp {
        http(self.port, "POST", "/add-checkpoint", body)
    }

    fn stop(mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    fn expect(&self, status: u16, what: &str) -> &Resp {
        assert_eq!(
            self.status,
            status,
            "{what}: expected {status}, got {} {:?}",
            self.status,
            self.text()
        );
        self
    }

    /// A 409 with the exact tlog-witness body and Content-Type.
    #[track_caller]
    fn expect_conflict(&self, size: u64, what: &str) {
        self.expect(409, what);
        assert_eq!(self.text(), format!("{size}\n"), "{what}: 409 body");
        assert_eq!(
            self.content_type.as_deref(),
            Some("text/x.tlog.size"),
            "{what}: 409 Content-Type"
        );
    }
}

/// One HTTP/1.1 request on a fresh connection (every wait bounded by socket timeouts).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Resp {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n")
            .into_bytes();
    if method != "GET" {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    s.write_all(&req).expect("send request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(r) = parse_response(&raw, false) {
            return r;
        }
        let n = s.read(&mut buf).expect("read response");
        if n == 0 {
            return parse_response(&raw, true).expect("complete HTTP response");
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn parse_response(raw: &[u8], eof: bool) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let rest = &raw[end + 4..];
    let body = if let Some(len) = get("content-length") {
        let len: usize = len.parse().ok()?;
        rest.get(..len)?.to_vec()
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest)?
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Resp {
        status,
        content_type: get("content-type"),
        body,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![];
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// A witness directory with one witness key and a state dir.
struct WitnessDir {
    dir: tempfile::TempDir,
    vkey: String,
}

impl WitnessDir {
    fn new(name: &str) -> WitnessDir {
        let dir = tempfile::tempdir().unwrap();
        let vkey = witness_key(dir.path(), name, "w.key");
        WitnessDir { dir, vkey }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn serve(&self, logs: &[&str]) -> Server {
        let s = Server::start(self.path(), "w.key", &self.state(), logs);
        assert_eq!(s.vkey, self.vkey, "serve prints the 0x04 verifier key");
        s
    }

    fn cosign_args<'a>(&'a self, repo: &'a str, state: &'a str, log_vkey: &'a str) -> Vec<&'a str> {
        vec![
            "witness",
            "cosign",
            "--repo",
            repo,
            "--key",
            "w.key",
            "--state",
            state,
            "--log-key",
            log_vkey,
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Every response code of POST /add-checkpoint
// ---------------------------------------------------------------------------------------------

#[test]
fn add_checkpoint_every_status_code() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    let cp3 = a.append(3);
    let cp5 = a.append(2);
    let cp8 = a.append(3);
    // Same key and origin, other entries: a fork with another root at size 3.
    let mut f = Hist::fork(&log, ORIGIN, "fork", "f");
    let f3 = f.append(3);
    // Another key with the same name, signing the very same checkpoint text as cp3.
    let other = Log::new(ORIGIN);
    let o3 = Hist::main(&other, "a").append(3);
    assert_eq!(note_text(&o3), note_text(&cp3));
    assert_ne!(sig_lines(&o3), sig_lines(&cp3));
    // A log the witness does not follow.
    let unknown = Log::new("example.com/not-witnessed");
    let u2 = Hist::main(&unknown, "u").append(2);

    let w = WitnessDir::new(W1);
    let srv = w.serve(&[&log.vkey]);
    let state = state_file(&w.state(), ORIGIN);

    // Method and path.
    http(srv.port, "GET", "/add-checkpoint", b"").expect(405, "GET /add-checkpoint");
    http(srv.port, "PUT", "/add-checkpoint", &body(0, &[], &cp3)).expect(405, "PUT");
    http(srv.port, "GET", "/", b"").expect(404, "GET /");
    http(srv.port, "POST", "/checkpoint", &body(0, &[], &cp3)).expect(404, "POST /checkpoint");
    http(srv.port, "POST", "/add-checkpoint/x", &body(0, &[], &cp3)).expect(404, "subpath");

    // 400: malformed bodies.
    let h = leaf(b"x");
    let mut too_many = b"old 3\n".to_vec();
    for _ in 0..64 {
        too_many.extend_from_slice(format!("{}\n", B64.encode(h)).as_bytes());
    }
    too_many.push(b'\n');
    too_many.extend_from_slice(&cp8);
    let mut crlf = b"old 0\r\n\r\n".to_vec();
    crlf.extend_from_slice(&cp3);
    let mut not_b64 = b"old 0\nnot base64!\n\n".to_vec();
    not_b64.extend_from_slice(&cp3);
    let mut short_hash = format!("old 0\n{}\n\n", B64.encode([7u8; 31])).into_bytes();
    short_hash.extend_from_slice(&cp3);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", vec![]),
        ("body over the size limit", {
            // MAX_NOTE_BYTES + 64 * 64 + 1: read in full, then refused.
            let mut b = b"old 0\n\n".to_vec();
            b.resize((1 << 20) + 64 * 64 + 1, b'a');
            b
        }),
        ("garbage", b"hello witness".to_vec()),
        ("no checkpoint", b"old 0\n\n".to_vec()),
        ("not a checkpoint", b"old 0\n\nnot a checkpoint\n".to_vec()),
        ("64 proof lines", too_many),
        ("CRLF", crlf),
        ("proof line not base64", not_b64),
        ("31-byte hash", short_hash),
        (
            "unsigned checkpoint",
            body(0, &[], note_text(&cp3).as_bytes()),
        ),
    ];
    for bad_old in [
        "old 03", "old -1", "old 0 ", "old  0", "old", "Old 0", "old 0x3",
    ] {
        let mut b = format!("{bad_old}\n\n").into_bytes();
        b.extend_from_slice(&cp3);
        cases.push((bad_old, b));
    }
    for (what, b) in &cases {
        srv.post(b).expect(400, what);
    }
    // 400: old > size (checked before the state: even with no state it is not a 409).
    srv.post(&body(4, &[], &cp3)).expect(400, "old 4 > size 3");
    assert!(!state.exists(), "no failed request may create state");

    // 403: signed only by another key with the log's name; a known key's bad signature.
    srv.post(&body(0, &[], &o3))
        .expect(403, "other key, same name");
    srv.post(&body(0, &[], &tamper_signature(&cp3)))
        .expect(403, "known key, bad signature");
    // 404: origin not followed.
    srv.post(&body(0, &[], &u2)).expect(404, "unknown origin");
    // 409 before anything was cosigned: the latest size is 0.
    srv.post(&body(3, &a.proof(3, 5), &cp5))
        .expect_conflict(0, "fresh witness");
    // 422: old 0 with a non-empty proof.
    srv.post(&body(0, &[h], &cp3))
        .expect(422, "old 0, non-empty proof");
    assert!(!state.exists(), "no failed request may create state");

    // 200: first contact.
    let r = srv.post(&body(0, &[], &cp3));
    r.expect(200, "first contact");
    check_cosignature_body(&r.text(), &srv.vkey);
    let mut cosigned = cp3.clone();
    cosigned.extend_from_slice(&r.body);
    assert_verifies(w.path(), &cosigned, &log.vkey, &[&srv.vkey], 1);
    assert_eq!(
        fs::read(&state).unwrap(),
        cp3,
        "state is the checkpoint, verbatim"
    );
    // The cosignature is not the log's: it does not count for another witness key.
    let w2 = witness_key(w.path(), W2, "w2.key");
    assert!(!verify_note(w.path(), &cosigned, &log.vkey, &[&w2], 1)
        .status
        .success());

    // 409: stale old sizes, exact body and Content-Type.
    srv.post(&body(0, &[], &cp5)).expect_conflict(3, "old 0");
    srv.post(&body(2, &a.proof(2, 5), &cp5))
        .expect_conflict(3, "old 2");
    srv.post(&body(5, &[], &cp5)).expect_conflict(3, "old 5");
    // 400 is checked before 409.
    srv.post(&body(9, &[], &cp8)).expect(400, "old 9 > size 8");

    // 422: bad proofs from the right base.
    let good = a.proof(3, 5);
    assert!(!good.is_empty());
    let mut flipped = good.clone();
    flipped[0][0] ^= 1;
    srv.post(&body(3, &flipped, &cp5))
        .expect(422, "flipped hash");
    srv.post(&body(3, &good[..good.len() - 1], &cp5))
        .expect(422, "truncated proof");
    let mut longer = good.clone();
    longer.push(h);
    srv.post(&body(3, &longer, &cp5)).expect(422, "extra hash");
    srv.post(&body(3, &[], &cp5)).expect(422, "missing proof");
    srv.post(&body(3, &a.proof(3, 8), &cp5))
        .expect(422, "proof for another size");
    srv.post(&body(3, &[h; 63], &cp8))
        .expect(422, "63 junk proof lines");
    // 422: same size, different root (a fork signed by the same key).
    srv.post(&body(3, &[], &f3))
        .expect(422, "same size, other root");
    // 422: same size and root but a non-empty proof.
    srv.post(&body(3, &[h], &cp3))
        .expect(422, "same size, non-empty proof");
    // Refusals after the first cosignature leave the state alone.
    srv.post(&body(0, &[], &o3)).expect(403, "other key again");
    srv.post(&body(0, &[], &u2)).expect(404, "unknown again");
    assert_eq!(fs::read(&state).unwrap(), cp3);

    // 200: same checkpoint again, with an extra line from an unknown key (ignored).
    let mut extra = cp3.clone();
    extra.extend_from_slice(sig_lines(&o3)[0].as_bytes());
    let r = srv.post(&body(3, &[], &extra));
    r.expect(200, "same size, same root, extra unknown signature");
    check_cosignature_body(&r.text(), &srv.vkey);

    // 200 with proofs computed here: 3 → 5 → 8.
    for (old, cp) in [(3, &cp5), (5, &cp8)] {
        let new = cp_size(cp);
        let r = srv.post(&body(old, &a.proof(old, new), cp));
        r.expect(200, &format!("{old} -> {new}"));
        check_cosignature_body(&r.text(), &srv.vkey);
        let mut note = cp.clone();
        note.extend_from_slice(&r.body);
        assert_verifies(w.path(), &note, &log.vkey, &[&srv.vkey], 1);
        assert_eq!(&fs::read(&state).unwrap(), cp);
    }
    srv.post(&body(5, &a.proof(5, 8), &cp8))
        .expect_conflict(8, "after 8");
    srv.stop();
}

// ---------------------------------------------------------------------------------------------
// 2. `fwlog log witness`: first contact, then a 409 and a resync with a consistency proof
// ---------------------------------------------------------------------------------------------

#[test]
fn log_witness_first_contact_then_resync() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    a.append(2);
    let w = WitnessDir::new(W1);
    let srv = w.serve(&[&log.vkey]);
    let url = srv.url();
    let args = [
        "log",
        "witness",
        "--repo",
        "log",
        "--url",
        url.as_str(),
        "--witness-key",
        srv.vkey.as_str(),
    ];

    let out = ok(log.path(), &args);
    assert!(
        out.contains(&format!("added cosignature from {W1}")),
        "{out}"
    );
    let cp = a.checkpoint();
    assert_eq!(cp_size(&cp), 2);
    assert_verifies(log.path(), &cp, &log.vkey, &[&srv.vkey], 1);
    let state = state_file(&w.state(), ORIGIN);
    assert_eq!(note_text(&fs::read(&state).unwrap()), note_text(&cp));

    // Three more entries: the request with old 0 gets 409 (2), then old 2 with a proof.
    a.append(3);
    assert!(
        !verify_note(log.path(), &a.checkpoint(), &log.vkey, &[&srv.vkey], 1)
            .status
            .success()
    );
    let out = fwlog_in(log.path(), &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "second log witness failed: {err}");
    assert!(err.contains("size 2"), "resync message: {err}");
    let cp = a.checkpoint();
    assert_eq!(cp_size(&cp), 5);
    assert_verifies(log.path(), &cp, &log.vkey, &[&srv.vkey], 1);
    assert_eq!(note_text(&fs::read(&state).unwrap()), note_text(&cp));
    let head = git(&a.repo_path(), &["log", "-1", "--format=%s", "fwlog"]);
    assert!(head.contains("cosign"), "last commit: {head}");

    // Same size again (409 5, resend old 5): still one line from this witness.
    ok(log.path(), &args);
    let cp = a.checkpoint();
    assert_verifies(log.path(), &cp, &log.vkey, &[&srv.vkey], 1);
    let from_w1 = sig_lines(&cp)
        .iter()
        .filter(|l| l.starts_with(&format!("— {W1} ")))
        .count();
    assert_eq!(
        from_w1,
        1,
        "one cosignature line per witness:\n{}",
        String::from_utf8_lossy(&cp)
    );

    // A type-0x01 key is refused as --witness-key; an unrelated 0x04 key adds nothing.
    let v01 = ok(w.path(), &["key", "public", "w.key"]).trim().to_string();
    let before = a.checkpoint();
    let err = fails(
        log.path(),
        &[
            "log",
            "witness",
            "--repo",
            "log",
            "--url",
            &url,
            "--witness-key",
            &v01,
        ],
    );
    assert!(err.contains("0x04"), "{err}");
    let stranger = witness_key(w.path(), W2, "w2.key");
    fails(
        log.path(),
        &[
            "log",
            "witness",
            "--repo",
            "log",
            "--url",
            &url,
            "--witness-key",
            &stranger,
        ],
    );
    assert_eq!(a.checkpoint(), before);

    // A copy of the log that is behind the witness: refused as rollback or fork.
    let mut b = Hist::fork(&log, ORIGIN, "behind", "a");
    b.append(2);
    let err = fails(
        log.path(),
        &["log", "witness", "--repo", "behind", "--url", &url],
    );
    assert!(err.contains("rolled back or forked"), "{err}");
    srv.stop();
}

// ---------------------------------------------------------------------------------------------
// 3. Two witnesses reach quorum 2
// ---------------------------------------------------------------------------------------------

#[test]
fn two_witnesses_reach_quorum_two() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    a.append(3);
    let w1 = WitnessDir::new(W1);
    let w2 = WitnessDir::new(W2);
    let s1 = w1.serve(&[&log.vkey]);
    let s2 = w2.serve(&[&log.vkey]);
    let w3 = witness_key(w1.path(), "witness.example/w3", "w3.key");
    for s in [&s1, &s2] {
        let url = s.url();
        ok(
            log.path(),
            &[
                "log",
                "witness",
                "--repo",
                "log",
                "--url",
                &url,
                "--witness-key",
                &s.vkey,
            ],
        );
    }
    let cp = a.checkpoint();
    let dir = log.path();
    let both = [s1.vkey.as_str(), s2.vkey.as_str()];
    assert_verifies(dir, &cp, &log.vkey, &both, 2);
    let out = verify_note(dir, &cp, &log.vkey, &both, 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("witness {W1}")) && stdout.contains(&format!("witness {W2}")));
    assert_verifies(dir, &cp, &log.vkey, &[&s1.vkey], 1);
    assert_verifies(dir, &cp, &log.vkey, &[&s2.vkey], 1);
    // Quorum 3 of three listed keys (w3 never cosigned) fails, as does 3 of 2 keys.
    let three = [s1.vkey.as_str(), s2.vkey.as_str(), w3.as_str()];
    assert_verifies(dir, &cp, &log.vkey, &three, 2);
    assert!(!verify_note(dir, &cp, &log.vkey, &three, 3).status.success());
    assert!(!verify_note(dir, &cp, &log.vkey, &both, 3).status.success());
    assert!(!verify_note(dir, &cp, &log.vkey, &[&s1.vkey, &w3], 2)
        .status
        .success());
    // The same key listed twice counts once.
    assert!(!verify_note(dir, &cp, &log.vkey, &[&s1.vkey, &s1.vkey], 2)
        .status
        .success());
    s1.stop();
    s2.stop();
}

// ---------------------------------------------------------------------------------------------
// 4. State persists across a restart
// ---------------------------------------------------------------------------------------------

#[test]
fn state_persists_across_restart() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    let cp0 = a.checkpoint();
    assert_eq!(cp_size(&cp0), 0);
    assert_eq!(cp_root(&cp0), B64.encode(mth(&[])));
    let w = WitnessDir::new(W1);
    let srv = w.serve(&[&log.vkey]);
    // The empty tree can be cosigned; from size 0 the next request has no proof.
    srv.post(&body(0, &[], &cp0)).expect(200, "size 0");
    srv.stop();
    let srv = w.serve(&[&log.vkey]);
    let cp4 = a.append(4);
    srv.post(&body(0, &[], &cp4)).expect(200, "0 -> 4");
    srv.stop();

    let srv = w.serve(&[&log.vkey]);
    srv.post(&body(0, &[], &cp4))
        .expect_conflict(4, "after restart");
    srv.post(&body(4, &[], &cp4)).expect(200, "same checkpoint");
    let cp6 = a.append(2);
    srv.post(&body(4, &a.proof(4, 6), &cp6))
        .expect(200, "4 -> 6");
    srv.stop();
    let srv = w.serve(&[&log.vkey]);
    srv.post(&body(4, &a.proof(4, 6), &cp6))
        .expect_conflict(6, "after second restart");
    srv.stop();
}

// ---------------------------------------------------------------------------------------------
// 5. A forked log is refused, with evidence
// ---------------------------------------------------------------------------------------------

#[test]
fn forked_log_refused_with_evidence() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    let cp3 = a.append(3);
    let mut f = Hist::fork(&log, ORIGIN, "fork", "f");
    f.append(2);
    let f5 = f.append(3);
    let w = WitnessDir::new(W1);
    let state_dir = w.state();
    let state = state_file(&state_dir, ORIGIN);
    let srv = w.serve(&[&log.vkey]);
    srv.post(&body(0, &[], &cp3)).expect(200, "log A at 3");

    // The fork's own proof 3 → 5 does not lead from A's root.
    srv.post(&body(3, &f.proof(3, 5), &f5))
        .expect(422, "fork at 5");
    srv.post(&body(0, &[], &f5))
        .expect_conflict(3, "fork, old 0");
    assert_eq!(fs::read(&state).unwrap(), cp3, "state unchanged");
    assert!(evidence_files(&state_dir).is_empty());

    // `witness cosign` on the forked repo refuses and writes evidence.
    let st = state_dir.to_str().unwrap();
    let fork_repo = f.repo_path();
    let repo = fork_repo.to_str().unwrap();
    let err = fails(w.path(), &w.cosign_args(repo, st, &log.vkey));
    assert!(err.contains("refused") && err.contains("evidence"), "{err}");
    assert_eq!(fs::read(&state).unwrap(), cp3, "state unchanged");
    assert_eq!(f.checkpoint(), f5, "fork repo not cosigned");
    let ev = evidence_files(&state_dir);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(
        err.contains(&*ev[0].to_string_lossy()),
        "{err} names {ev:?}"
    );
    let text = fs::read_to_string(&ev[0]).unwrap();
    assert!(
        text.contains(&note_text(&cp3)),
        "old checkpoint in evidence:\n{text}"
    );
    assert!(
        text.contains(&note_text(&f5)),
        "new checkpoint in evidence:\n{text}"
    );
    assert!(text.contains(&String::from_utf8_lossy(&cp3).into_owned()));
    assert!(text.contains(&String::from_utf8_lossy(&f5).into_owned()));
    assert!(text.contains("consistency proof from size 3"), "{text}");

    // The fork at the same size (3): refused too.
    let mut g = Hist::fork(&log, ORIGIN, "fork3", "g");
    g.append(3);
    let g_repo = g.repo_path();
    let err = fails(
        w.path(),
        &w.cosign_args(g_repo.to_str().unwrap(), st, &log.vkey),
    );
    assert!(err.contains("refused"), "{err}");
    assert_eq!(fs::read(&state).unwrap(), cp3, "state unchanged");

    // The genuine log still gets cosigned, by the CLI, with a consistency proof.
    let cp5 = a.append(2);
    let a_repo = a.repo_path();
    let out = ok(
        w.path(),
        &w.cosign_args(a_repo.to_str().unwrap(), st, &log.vkey),
    );
    assert!(out.contains("size 5"), "{out}");
    assert_eq!(note_text(&fs::read(&state).unwrap()), note_text(&cp5));
    assert_verifies(w.path(), &a.checkpoint(), &log.vkey, &[&w.vkey], 1);
    // ... and the forks stay refused.
    srv.post(&body(5, &f.proof(5, 5), &f5))
        .expect(422, "fork at 5, same size");
    srv.stop();
}

// ---------------------------------------------------------------------------------------------
// 6. Concurrency
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Outcome {
    thread: usize,
    old: u64,
    new: u64,
    status: u16,
    body: String,
}

/// Signs checkpoints of `origin` over `leaves[..n]` for n = 0..=leaves.len() with the log's key
/// (library signer; byte-identical to what `fwlog log append` writes, checked below).
fn signed_checkpoints(log: &Log, origin: &str, leaves: &[H]) -> Vec<Vec<u8>> {
    use fwlog::checkpoint::{Checkpoint, SignedCheckpoint};
    let text = fs::read_to_string(log.path().join("log.key")).unwrap();
    let key = fwlog::note::SignerKey::parse(text.trim_end()).expect("log key");
    (0..=leaves.len())
        .map(|n| {
            let cp = Checkpoint {
                origin: origin.to_string(),
                size: n as u64,
                root: fwlog::merkle::Hash(mth(&leaves[..n])),
                extensions: vec![],
            };
            SignedCheckpoint::sign(cp, &key).unwrap().to_bytes()
        })
        .collect()
}

#[test]
fn concurrent_add_checkpoint_never_rolls_back() {
    const K: u64 = 64;
    const ROUNDS: u64 = 20;
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    let cp3 = a.append(3);
    // One history of K leaves (extending the log's 3 entries) and a fork diverging at leaf 0.
    let mut leaves = a.leaves();
    leaves.extend((3..K).map(|i| leaf(format!("a entry {i}\n").as_bytes())));
    let fleaves: Vec<H> = (0..K)
        .map(|i| leaf(format!("fork entry {i}\n").as_bytes()))
        .collect();
    let cps = signed_checkpoints(&log, ORIGIN, &leaves);
    let fcps = signed_checkpoints(&log, ORIGIN, &fleaves);
    assert_eq!(cps[3], cp3, "library-signed checkpoint equals the CLI's");

    let w = WitnessDir::new(W1);
    let srv = w.serve(&[&log.vkey]);
    srv.post(&body(0, &[], &cps[1])).expect(200, "base at 1");

    // Each round, all three clients fire at once from what they believe the witness holds:
    // the two genuine clients race with different sizes of the same history, the third with
    // the fork (its proofs are from the fork's tree).
    let port = srv.port;
    let (leaves, fleaves) = (Arc::new(leaves), Arc::new(fleaves));
    let (cps, fcps) = (Arc::new(cps), Arc::new(fcps));
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3usize)
        .map(|t| {
            let (leaves, cps) = if t < 2 {
                (Arc::clone(&leaves), Arc::clone(&cps))
            } else {
                (Arc::clone(&fleaves), Arc::clone(&fcps))
            };
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut out = vec![];
                let mut belief = 0u64; // stale on purpose: the first answer is a 409 with 1
                for r in 0..ROUNDS {
                    let target = (belief.max(1) + 1 + (r + t as u64) % 3).min(K);
                    let old = belief;
                    let proof = consistency(old as usize, &leaves[..target as usize]);
                    let req = body(old, &proof, &cps[target as usize]);
                    barrier.wait();
                    let resp = http(port, "POST", "/add-checkpoint", &req);
                    match resp.status {
                        200 => belief = target,
                        409 => {
                            assert_eq!(resp.content_type.as_deref(), Some("text/x.tlog.size"));
                            belief = resp.text().trim_end().parse().expect("409 size");
                        }
                        _ => {}
                    }
                    out.push(Outcome {
                        thread: t,
                        old,
                        new: target,
                        status: resp.status,
                        body: resp.text(),
                    });
                }
                out
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect();
    let count = |s: u16| outcomes.iter().filter(|o| o.status == s).count();
    eprintln!(
        "statuses: 200 x{}, 409 x{}, 422 x{}",
        count(200),
        count(409),
        count(422)
    );

    // Genuine requests get 200 or 409 (a proof from a current base always verifies, and a
    // stale base is a 409); fork requests never get 200.
    for o in &outcomes {
        let allowed: &[u16] = if o.thread == 2 {
            &[409, 422]
        } else {
            &[200, 409]
        };
        assert!(allowed.contains(&o.status), "unexpected {o:?}");
    }
    assert!(count(200) > 0 && count(409) > 0);
    // The cosigned transitions form one chain from 1: no lost update, no rollback.
    let mut chain: Vec<(u64, u64)> = outcomes
        .iter()
        .filter(|o| o.status == 200)
        .map(|o| (o.old, o.new))
        .collect();
    chain.sort();
    let mut at = 1;
    for (old, new) in &chain {
        assert_eq!(*old, at, "two cosignatures from one state: {chain:?}");
        assert!(*new > *old);
        at = *new;
    }
    // The final state is exactly the last cosigned checkpoint, a submitted one.
    let state = fs::read(state_file(&w.state(), ORIGIN)).unwrap();
    assert_eq!(
        state, cps[at as usize],
        "final state is the checkpoint of size {at}"
    );
    srv.post(&body(0, &[], &cps[K as usize]))
        .expect_conflict(at, "final state");
    // Every cosignature handed out verifies on its checkpoint.
    for o in outcomes.iter().filter(|o| o.status == 200) {
        check_cosignature_body(&o.body, &srv.vkey);
        let mut note = cps[o.new as usize].clone();
        note.extend_from_slice(o.body.as_bytes());
        assert_verifies(w.path(), &note, &log.vkey, &[&srv.vkey], 1);
    }
    srv.stop();
}

#[test]
fn concurrent_witness_cosign_processes() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    let cp3 = a.append(3);
    let copy = log.path().join("log3");
    let st = Command::new("cp")
        .arg("-a")
        .arg(a.repo_path())
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(st.success());
    let cp5 = a.append(2);
    let w = WitnessDir::new(W1);
    let repos = [(copy.clone(), cp3), (a.repo_path(), cp5)];

    for round in 0..4 {
        let state = w.path().join(format!("state-{round}"));
        let st = state.to_str().unwrap();
        let mut children: Vec<ChildGuard> = vec![];
        // Alternate which process starts first.
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for &i in &order {
            let repo = repos[i].0.to_str().unwrap();
            let child = Command::new(bin())
                .args(w.cosign_args(repo, st, &log.vkey))
                .current_dir(w.path())
                .env("GIT_AUTHOR_NAME", "fwlog test")
                .env("GIT_AUTHOR_EMAIL", "test@fwlog.invalid")
                .env("GIT_COMMITTER_NAME", "fwlog test")
                .env("GIT_COMMITTER_EMAIL", "test@fwlog.invalid")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn witness cosign");
            children.push(ChildGuard(child));
        }
        let mut results = vec![];
        for (k, c) in children.iter_mut().enumerate() {
            results.push((order[k], c.wait_bounded(Duration::from_secs(20))));
        }
        let winners: Vec<usize> = results
            .iter()
            .filter(|(_, r)| r.0)
            .map(|(i, _)| *i)
            .collect();
        assert!(
            !winners.is_empty(),
            "round {round}: neither succeeded: {results:?}"
        );
        for (_, (success, _, err)) in &results {
            if !success {
                let e = err.to_lowercase();
                assert!(
                    !e.contains("inconsistent")
                        && !e.contains("evidence")
                        && !e.contains("corrupt"),
                    "round {round}: a race must not look like a fork or corruption: {err}"
                );
            }
        }
        assert!(evidence_files(&state).is_empty(), "round {round}");
        let latest = fs::read(state_file(&state, ORIGIN)).unwrap();
        let top = winners.iter().map(|&i| cp_size(&repos[i].1)).max().unwrap();
        assert_eq!(
            cp_size(&latest),
            top,
            "round {round}: state is the largest cosigned"
        );
        let expected = if top == 5 { &repos[1].1 } else { &repos[0].1 };
        assert_eq!(note_text(&latest), note_text(expected), "round {round}");
        for &i in &winners {
            let cp = git(&repos[i].0, &["show", "fwlog:checkpoint"]).into_bytes();
            assert_verifies(w.path(), &cp, &log.vkey, &[&w.vkey], 1);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Corrupted local state
// ---------------------------------------------------------------------------------------------

#[test]
fn corrupted_state_is_reported_as_local() {
    let log = Log::new(ORIGIN);
    let mut a = Hist::main(&log, "a");
    let cp3 = a.append(3);
    let w = WitnessDir::new(W1);
    let state_dir = w.state();
    let st = state_dir.to_str().unwrap().to_string();
    let repo = a.repo_path().to_str().unwrap().to_string();
    ok(w.path(), &w.cosign_args(&repo, &st, &log.vkey));
    let state = state_file(&state_dir, ORIGIN);
    assert_eq!(note_text(&fs::read(&state).unwrap()), note_text(&cp3));

    // A checkpoint signed by another key of the same name is not this log's state either.
    let other = Log::new(ORIGIN);
    let o3 = Hist::main(&other, "o").append(3);
    let good = fs::read(&state).unwrap();
    let corruptions: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"not a checkpoint at all\n".to_vec()),
        ("empty", vec![]),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("bad signature", tamper_signature(&good)),
        ("other key", o3),
    ];
    let srv = w.serve(&[&log.vkey]);
    for (what, bytes) in &corruptions {
        fs::write(&state, bytes).unwrap();
        let err = fails(w.path(), &w.cosign_args(&repo, &st, &log.vkey));
        assert!(err.contains("local state"), "{what}: {err}");
        assert!(
            !err.to_lowercase().contains("inconsistent"),
            "{what}: {err}"
        );
        assert!(evidence_files(&state_dir).is_empty(), "{what}: no evidence");
        for b in [body(0, &[], &cp3), body(3, &[], &cp3)] {
            let r = srv.post(&b);
            r.expect(500, what);
            assert!(r.text().contains("local state"), "{what}: {}", r.text());
        }
        assert_eq!(
            &fs::read(&state).unwrap(),
            bytes,
            "{what}: state left as found"
        );
    }
    srv.stop();
}

// ---------------------------------------------------------------------------------------------
// Bugs found (ignored until fixed)
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_tries_every_trusted_key_for_an_origin() {
    let log = Log::new(ORIGIN);
    let cp = Hist::main(&log, "a").append(2);
    let old = Log::new(ORIGIN); // an older key with the same name, listed first
    let w = WitnessDir::new(W1);
    let srv = w.serve(&[&old.vkey, &log.vkey]);
    let r = srv.post(&body(0, &[], &cp));
    r.expect(200, "checkpoint signed by the second trusted key");
    srv.stop();
}

#[test]
fn every_refusal_keeps_its_evidence() {
    let log = Log::new(ORIGIN);
    let cp3 = Hist::main(&log, "a").append(3);
    let w = WitnessDir::new(W1);
    let state_dir = w.state();
    let st = state_dir.to_str().unwrap().to_string();
    let srv = w.serve(&[&log.vkey]);
    srv.post(&body(0, &[], &cp3)).expect(200, "log A at 3");
    srv.stop();
    let mut forks = vec![];
    let mut repos = vec![];
    for (i, tag) in ["f", "g", "h"].iter().enumerate() {
        let mut f = Hist::fork(&log, ORIGIN, &format!("fork{i}"), tag);
        forks.push(f.append(4));
        repos.push(f.repo_path().to_str().unwrap().to_string());
    }
    // Three refusals back to back (well under a second): two share a timestamp.
    let start = Instant::now();
    for repo in &repos {
        fails(w.path(), &w.cosign_args(repo, &st, &log.vkey));
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "too slow to reproduce"
    );
    let ev = evidence_files(&state_dir);
    let all: String = ev.iter().map(|p| fs::read_to_string(p).unwrap()).collect();
    for f in &forks {
        assert!(
            all.contains(&note_text(f)),
            "evidence of a refused fork was lost: {ev:?}"
        );
    }
}
