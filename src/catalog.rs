//! One pass over a log's entries, keeping the releases a command asks for and the reproductions
//! about them, with the root recomputed on the way so that what was read is exactly what the
//! checkpoint commits to.
//!
//! Used to build offline bundles and allowlists from a local clone. The pass streams over the
//! entry bundles a chunk at a time: this thread reads the next chunk from Git while the rayon
//! pool leaf-hashes the current one and parses each entry's envelope and statement WITHOUT
//! checking its signature. Only what the [`Selection`] keeps (the releases it selects and the
//! reproductions about them) has its signature verified and stays in memory; everything else is
//! dropped with its chunk. Memory is two chunks of entry bundles (a few MiB) plus the kept
//! entries' parsed content: it grows with the matches, not with the log; so do signature checks.
//! (Reproductions always follow the release they name, so one pass knows which to keep.)

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use rayon::prelude::*;

use crate::bundle::{Bundle, ProvenEntry};
use crate::entry::dsse::Envelope;
use crate::entry::release::SevTails;
use crate::entry::reproduction::{obtained_set_digest, release_set_digest};
use crate::entry::{self, statement, Entry, Release, Reproduction, Verdict, RELEASE_PREDICATE};
use crate::merkle::{self, Frontier, Hash};
use crate::note::VerifierKey;
use crate::policy::{Acceptance, Finding, Policy, Rejection, ReproductionEvidence};
use crate::store::{Snapshot, StoreError};
use crate::tiles::{self, Tile, TileReader as _};

/// Entry bundles read per chunk; one chunk is parsed on the rayon pool while the next is read.
const CHUNK_BUNDLES: usize = if cfg!(test) { 2 } else { 8 };
/// A chunk stops growing once its bundles hold this many bytes (logs of large entries).
const CHUNK_BYTES: usize = if cfg!(test) { 16 << 10 } else { 2 << 20 };
/// Invalid entries whose index and reason a catalog lists; the rest are only counted.
pub const MAX_INVALID_LISTED: usize = 1000;

/// A release entry found in the log.
#[derive(Clone, Debug)]
pub struct LoggedRelease {
    pub index: u64,
    pub leaf: Hash,
    pub signer: VerifierKey,
    pub release: Release,
    /// The `sevTail` of the release's artifacts that have one, by artifact name (empty when the
    /// scan's [`Selection`] did not ask for them).
    pub sev_tails: SevTails,
}

/// A reproduction entry found in the log.
#[derive(Clone, Debug)]
pub struct LoggedReproduction {
    pub index: u64,
    pub signer: VerifierKey,
    pub reproduction: Reproduction,
}

/// What a scan keeps: which releases, which reproductions about them, and whether the
/// releases' `sevTail`s. Whatever it does not keep is parsed, leaf-hashed and dropped, its
/// signature unchecked.
pub struct Selection<'a> {
    release: Box<dyn Fn(&Release) -> bool + Sync + 'a>,
    /// The canonical strings of the keys whose reproductions are kept (all when `None`).
    reproduction_signers: Option<Vec<String>>,
    sev_tails: bool,
}

impl Selection<'static> {
    /// Every release, with its `sevTail`s, and every reproduction about one.
    pub fn all() -> Selection<'static> {
        Selection::releases(|_| true)
    }

    /// The releases listing an artifact with this SHA-256.
    pub fn artifact_sha256(sha256: [u8; 32]) -> Selection<'static> {
        Selection::releases(move |r| r.artifacts.iter().any(|a| a.sha256 == sha256))
    }

    /// The releases of the firmware called `name`.
    pub fn firmware(name: impl Into<String>) -> Selection<'static> {
        let name = name.into();
        Selection::releases(move |r| r.firmware_name == name)
    }
}

impl<'a> Selection<'a> {
    /// The releases for which `keep` is true (it sees the release before its signature is
    /// checked; the signature of each release it keeps is checked afterwards).
    pub fn releases(keep: impl Fn(&Release) -> bool + Sync + 'a) -> Selection<'a> {
        Selection {
            release: Box::new(keep),
            reproduction_signers: None,
            sev_tails: true,
        }
    }

    /// Keeps only the reproductions signed by one of `keys` (e.g. a policy's trusted
    /// rebuilders: [`Policy::evaluate`] ignores the others).
    pub fn reproductions_signed_by(mut self, keys: &[VerifierKey]) -> Selection<'a> {
        self.reproduction_signers = Some(keys.iter().map(|k| k.to_string()).collect());
        self
    }

    /// Whether kept releases carry their `sevTail`s (4 KiB each; the default is yes).
    pub fn sev_tails(mut self, keep: bool) -> Selection<'a> {
        self.sev_tails = keep;
        self
    }

    /// Whether an envelope's claimed signer (not yet verified) may sign a kept reproduction.
    /// A key id parses only in its canonical form, so comparing strings compares keys; an
    /// envelope without exactly one signature would fail verification anyway.
    fn reproduction_signer_ok(&self, envelope: &Envelope) -> bool {
        let Some(keys) = &self.reproduction_signers else {
            return true;
        };
        match envelope.signatures.as_slice() {
            [sig] => keys.contains(&sig.keyid),
            _ => false,
        }
    }
}

/// The selected releases of a snapshot, the reproductions about them, and the entries found
/// invalid.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// The kept releases whose signature verified, oldest first.
    pub releases: Vec<LoggedRelease>,
    /// Reproductions grouped by the index of the release they are about: only those that follow
    /// a kept release and name it exactly (this log's origin, its index and its leaf hash), and
    /// whose signature verified.
    pub reproductions: BTreeMap<u64, Vec<LoggedReproduction>>,
    /// Entries whose envelope or statement does not parse, and kept entries whose signature does
    /// not verify, by index: the first [`MAX_INVALID_LISTED`] of them. Entries that were not
    /// kept have their signatures unchecked.
    pub invalid: Vec<(u64, String)>,
    /// How many entries were found invalid, listed or not.
    pub invalid_count: u64,
}

/// An entry bundle as read: its first entry's index, its bytes and where each entry lies.
struct ReadBundle {
    first: u64,
    data: Vec<u8>,
    entries: Vec<Range<usize>>,
}

/// A kept release, parsed but with its signature not yet verified.
struct PendingRelease {
    index: u64,
    leaf: Hash,
    envelope: Envelope,
    release: Release,
    sev_tails: SevTails,
}

/// A kept reproduction, parsed but with its signature not yet verified.
struct PendingReproduction {
    index: u64,
    envelope: Envelope,
    reproduction: Reproduction,
}

/// What the parse of one entry keeps.
enum Candidate {
    Release(PendingRelease),
    Reproduction(PendingReproduction),
    Invalid(u64, String),
}

/// One parsed entry bundle: every leaf hash, and the candidates in entry order.
type ParsedBundle = (Vec<Hash>, Vec<Candidate>);

/// The release at `index` in `releases` (sorted by index).
fn find(releases: &[LoggedRelease], index: u64) -> Option<&LoggedRelease> {
    releases
        .binary_search_by_key(&index, |r| r.index)
        .ok()
        .map(|at| &releases[at])
}

/// Reads the next chunk of bundles from `bundles`, advancing it past them.
///
/// `bundles` is an iterator, not a list: a checkpoint's size is signed but proves nothing about
/// what the repository holds, and a list for a claimed 2^63 entries cannot be allocated.
fn read_chunk(
    snap: &Snapshot<'_>,
    bundles: &mut std::iter::Peekable<impl Iterator<Item = Tile>>,
) -> Result<Vec<ReadBundle>, StoreError> {
    let mut chunk = Vec::new();
    let mut bytes = 0;
    while let Some(tile) = bundles.peek() {
        if chunk.len() == CHUNK_BUNDLES || bytes >= CHUNK_BYTES {
            break;
        }
        let data = snap.read_tile(tile)?.ok_or_else(|| StoreError::Corrupt {
            path: tile.path(),
            reason: "missing entry bundle".into(),
        })?;
        let mut at = 0;
        let entries = tiles::decode_entry_bundle(tile, &data)?
            .iter()
            .map(|e| {
                at += 2 + e.len();
                at - e.len()..at
            })
            .collect();
        bytes += data.len();
        chunk.push(ReadBundle {
            first: tile.index * tiles::TILE_WIDTH,
            data,
            entries,
        });
        bundles.next();
    }
    Ok(chunk)
}

/// What a streaming pass does with what it keeps.
trait Sink: Sync {
    /// The leaf hash of the release at `index`, if an earlier chunk kept it (and its signature
    /// verified).
    fn kept_leaf(&self, index: u64) -> Option<Hash>;

    /// Takes one chunk's candidates, in entry order (chunk by chunk, in log order).
    fn absorb(&mut self, chunk_start: u64, candidates: Vec<Candidate>);
}

impl Sink for Catalog {
    fn kept_leaf(&self, index: u64) -> Option<Hash> {
        find(&self.releases, index).map(|r| r.leaf)
    }

    fn absorb(&mut self, chunk_start: u64, candidates: Vec<Candidate>) {
        self.absorb_chunk(chunk_start, candidates)
    }
}

/// Sorts candidates into releases, reproductions and invalid entries, each in entry order.
fn split(
    candidates: Vec<Candidate>,
) -> (
    Vec<PendingRelease>,
    Vec<PendingReproduction>,
    Vec<(u64, String)>,
) {
    let (mut releases, mut reproductions, mut invalid) = (Vec::new(), Vec::new(), Vec::new());
    for c in candidates {
        match c {
            Candidate::Release(r) => releases.push(r),
            Candidate::Reproduction(r) => reproductions.push(r),
            Candidate::Invalid(index, why) => invalid.push((index, why)),
        }
    }
    (releases, reproductions, invalid)
}

/// Reads every entry of `snap` in one streaming pass, checks that they hash to the
/// checkpoint's root, and hands what `selection` keeps to `sink`, chunk by chunk.
fn stream(
    snap: &Snapshot<'_>,
    selection: &Selection<'_>,
    sink: &mut impl Sink,
) -> Result<(), StoreError> {
    let mut bundles = tiles::entry_bundles_for_size(snap.size()).peekable();
    let mut frontier = Frontier::new();
    let mut current = read_chunk(snap, &mut bundles)?;
    while !current.is_empty() {
        let mut parsed = Vec::new();
        let mut upcoming = Ok(Vec::new());
        // This thread (which holds the git2 handles) reads the next chunk while the pool
        // parses this one; the scope ends when both are done.
        rayon::in_place_scope(|s| {
            let ctx = ParseContext {
                selection,
                origin: &snap.info.origin,
                earlier: &*sink,
                chunk_start: current[0].first,
            };
            let (chunk, parsed) = (&current, &mut parsed);
            s.spawn(move |_| *parsed = ctx.parse_chunk(chunk));
            upcoming = read_chunk(snap, &mut bundles);
        });
        let chunk_start = current[0].first;
        let mut candidates = Vec::new();
        for (leaves, kept) in parsed {
            leaves.into_iter().for_each(|l| frontier.push(l));
            candidates.extend(kept);
        }
        sink.absorb(chunk_start, candidates);
        current = upcoming?;
    }
    if frontier.root() != snap.root() {
        return Err(StoreError::Corrupt {
            path: "tile/entries".into(),
            reason: "the entries do not hash to the checkpoint's root; run `fwlog log verify`"
                .into(),
        });
    }
    Ok(())
}

/// What the parse of one chunk needs to decide what to keep.
struct ParseContext<'s, K: ?Sized> {
    selection: &'s Selection<'s>,
    origin: &'s str,
    /// The releases kept from earlier chunks.
    earlier: &'s K,
    /// The index of the chunk's first entry.
    chunk_start: u64,
}

impl<K: Sink + ?Sized> ParseContext<'_, K> {
    /// Parses one entry (no signature check) and returns it if the selection keeps it.
    fn parse(&self, index: u64, leaf: Hash, bytes: &[u8]) -> Option<Candidate> {
        let invalid = |e: entry::EntryError| Some(Candidate::Invalid(index, e.to_string()));
        let envelope = match Envelope::parse(bytes) {
            Ok(e) => e,
            Err(e) => return invalid(e),
        };
        // A release is parsed once, with its tails: `Release::from_statement` (what
        // `parse_statement` calls) is this parse with the tails dropped.
        let parsed = match statement::predicate_type(&envelope.payload) {
            Ok(p) if p == RELEASE_PREDICATE => {
                Release::from_statement_with_sev_tails(&envelope.payload)
                    .map(|(r, tails)| (Entry::Release(r), tails))
            }
            _ => entry::parse_statement(&envelope.payload).map(|e| (e, SevTails::new())),
        };
        match parsed {
            Err(e) => invalid(e),
            Ok((Entry::Release(release), sev_tails)) => {
                (self.selection.release)(&release).then(|| {
                    Candidate::Release(PendingRelease {
                        index,
                        leaf,
                        envelope,
                        release,
                        sev_tails: if self.selection.sev_tails {
                            sev_tails
                        } else {
                            SevTails::new()
                        },
                    })
                })
            }
            Ok((Entry::Reproduction(reproduction), _)) => {
                let about = &reproduction.release;
                // About an earlier entry of this log; if that is in an earlier chunk, it must
                // be a kept release with that leaf hash (this chunk's are settled later).
                let keep = about.origin == self.origin
                    && about.index < index
                    && (about.index >= self.chunk_start
                        || self.earlier.kept_leaf(about.index) == Some(about.leaf_hash))
                    && self.selection.reproduction_signer_ok(&envelope);
                keep.then_some(Candidate::Reproduction(PendingReproduction {
                    index,
                    envelope,
                    reproduction,
                }))
            }
        }
    }

    /// Leaf-hashes and parses every entry of `chunk` on the rayon pool, one result per bundle.
    fn parse_chunk(&self, chunk: &[ReadBundle]) -> Vec<ParsedBundle> {
        chunk
            .par_iter()
            .map(|b| {
                let parsed: Vec<(Hash, Option<Candidate>)> = b
                    .entries
                    .par_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let bytes = &b.data[r.clone()];
                        let leaf = merkle::leaf_hash(bytes);
                        (leaf, self.parse(b.first + i as u64, leaf, bytes))
                    })
                    .collect();
                let mut leaves = Vec::with_capacity(parsed.len());
                let mut kept = Vec::new();
                for (leaf, c) in parsed {
                    leaves.push(leaf);
                    kept.extend(c);
                }
                (leaves, kept)
            })
            .collect()
    }
}

impl Catalog {
    /// Every release of `snap` and every reproduction about one, all signature-checked, after
    /// checking that the entries hash to the checkpoint's root. The caller must have verified
    /// the checkpoint's signature. Memory grows with the number of releases and reproductions;
    /// a command that needs only some releases should use [`Catalog::scan_selected`].
    pub fn scan(snap: &Snapshot<'_>) -> Result<Catalog, StoreError> {
        Catalog::scan_selected(snap, &Selection::all())
    }

    /// [`Catalog::scan_selected`] for the releases `keep` selects (and the reproductions about
    /// them).
    pub fn scan_filtered(
        snap: &Snapshot<'_>,
        keep: impl Fn(&Release) -> bool + Sync,
    ) -> Result<Catalog, StoreError> {
        Catalog::scan_selected(snap, &Selection::releases(keep))
    }

    /// Reads every entry of `snap` in one streaming pass, checks that they hash to the
    /// checkpoint's root, and keeps what `selection` selects: the releases it keeps and whose
    /// signature verifies, and the valid reproductions about them (reproductions always follow
    /// the release they name). Only kept entries have their signatures checked. The caller must
    /// have verified the checkpoint's signature.
    pub fn scan_selected(
        snap: &Snapshot<'_>,
        selection: &Selection<'_>,
    ) -> Result<Catalog, StoreError> {
        let mut cat = Catalog::default();
        stream(snap, selection, &mut cat)?;
        // What the caller builds next comes on top of this.
        cat.releases.shrink_to_fit();
        cat.reproductions.values_mut().for_each(Vec::shrink_to_fit);
        Ok(cat)
    }

    /// Verifies the signatures of one chunk's candidates (in entry order) on the rayon pool,
    /// releases first so that the chunk's reproductions can be matched against them.
    fn absorb_chunk(&mut self, chunk_start: u64, candidates: Vec<Candidate>) {
        let (releases, reproductions, mut invalid) = split(candidates);
        let verified: Vec<_> = releases
            .into_par_iter()
            .map(|r| (r.envelope.verify(), r))
            .collect();
        for (signer, r) in verified {
            match signer {
                Ok(signer) => self.releases.push(LoggedRelease {
                    index: r.index,
                    leaf: r.leaf,
                    signer,
                    release: r.release,
                    sev_tails: r.sev_tails,
                }),
                Err(e) => invalid.push((r.index, e.to_string())),
            }
        }
        let releases = &self.releases;
        let verified: Vec<_> = reproductions
            .into_par_iter()
            .filter(|r| {
                // Those about an earlier chunk were matched while parsing.
                let about = &r.reproduction.release;
                about.index < chunk_start
                    || find(releases, about.index).is_some_and(|x| x.leaf == about.leaf_hash)
            })
            .map(|r| (r.envelope.verify(), r))
            .collect();
        for (signer, r) in verified {
            match signer {
                Ok(signer) => self
                    .reproductions
                    .entry(r.reproduction.release.index)
                    .or_default()
                    .push(LoggedReproduction {
                        index: r.index,
                        signer,
                        reproduction: r.reproduction,
                    }),
                Err(e) => invalid.push((r.index, e.to_string())),
            }
        }
        invalid.sort_by_key(|(index, _)| *index);
        self.invalid_count += invalid.len() as u64;
        let room = MAX_INVALID_LISTED.saturating_sub(self.invalid.len());
        self.invalid.extend(invalid.into_iter().take(room));
    }

    /// The reproductions about release `index`.
    pub fn reproductions_of(&self, index: u64) -> &[LoggedReproduction] {
        self.reproductions
            .get(&index)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The releases that list an artifact with this SHA-256, oldest first.
    pub fn releases_with(&self, sha256: &[u8; 32]) -> Vec<&LoggedRelease> {
        self.releases
            .iter()
            .filter(|r| r.release.artifacts.iter().any(|a| &a.sha256 == sha256))
            .collect()
    }

    /// Evaluates one logged release against a policy.
    pub fn evaluate(&self, policy: &Policy, r: &LoggedRelease) -> Result<Acceptance, Rejection> {
        let evidence: Vec<ReproductionEvidence<'_>> = self
            .reproductions_of(r.index)
            .iter()
            .map(|x| ReproductionEvidence {
                index: x.index,
                signer: &x.signer,
                reproduction: &x.reproduction,
            })
            .collect();
        policy.evaluate(&r.signer, &r.release, r.index, &r.leaf, &evidence)
    }

    /// An offline bundle for release `r`: its entry and every reproduction about it, each with an
    /// inclusion proof against the snapshot's checkpoint (kept verbatim, cosignatures included).
    pub fn bundle(&self, snap: &Snapshot<'_>, r: &LoggedRelease) -> Result<Bundle, StoreError> {
        // Each entry bundle is read once, however many of these entries it holds.
        let mut last: Option<(Tile, Vec<u8>)> = None;
        let mut prove = |index: u64| -> Result<ProvenEntry, StoreError> {
            let size = snap.size();
            let (tile, at) = tiles::entry_bundle_for_index(index, size)
                .ok_or(StoreError::NoSuchEntry { index, size })?;
            let data = match last.take() {
                Some((t, data)) if t == tile => data,
                _ => snap.read_tile(&tile)?.ok_or_else(|| StoreError::Corrupt {
                    path: tile.path(),
                    reason: "missing entry bundle".into(),
                })?,
            };
            let entry = tiles::decode_entry_bundle(&tile, &data)?
                .get(at)
                .map(|e| e.to_vec())
                .ok_or_else(|| StoreError::Corrupt {
                    path: tile.path(),
                    reason: "short entry bundle".into(),
                })?;
            last = Some((tile, data));
            let proof = snap.prove(index)?.path;
            Ok(ProvenEntry {
                index,
                entry,
                proof,
            })
        };
        let release = prove(r.index)?;
        let reproductions = self
            .reproductions_of(r.index)
            .iter()
            .filter(|x| {
                x.reproduction.release.leaf_hash == r.leaf
                    && x.reproduction.release.origin == snap.info.origin
            })
            .take(crate::bundle::MAX_REPRODUCTIONS)
            .map(|x| prove(x.index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Bundle {
            origin: snap.info.origin.clone(),
            log_key: snap.info.key.to_string(),
            checkpoint: snap.checkpoint_bytes.clone(),
            release,
            reproductions,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Every release against a policy, in memory that grows by bytes per entry, not kilobytes.

/// Trusted rebuilders whose findings a [`ReleaseRecord`] holds as bits (positions below this).
const RECORD_BITS: u32 = 64;

/// A release kept by the first pass of [`evaluate_releases`], with what trusted rebuilders
/// found about it: 120 bytes, however many reproductions name it.
struct ReleaseRecord {
    index: u64,
    leaf: Hash,
    /// [`reproduction::release_set_digest`] of its artifacts.
    artifacts: [u8; 32],
    /// Its signer's position in [`Findings::signers`].
    signer: u32,
    /// Bit `k`: trusted rebuilder `k` (below [`RECORD_BITS`]) reproduced it.
    reproduced: u64,
    /// Bit `k`: trusted rebuilder `k` (below [`RECORD_BITS`]) found a mismatch.
    mismatched: u64,
    /// The first mismatch in log order, by any trusted rebuilder: its position and index.
    first_mismatch: Option<(u32, u64)>,
}

impl ReleaseRecord {
    /// Notes one finding (given in log order); those of rebuilders past [`RECORD_BITS`] are
    /// returned for the caller to keep.
    fn note(&mut self, f: Finding) -> Option<Finding> {
        if !f.reproduced && self.first_mismatch.is_none() {
            self.first_mismatch = Some((f.rebuilder, f.index));
        }
        let Some(bit) = 1u64
            .checked_shl(f.rebuilder)
            .filter(|_| f.rebuilder < RECORD_BITS)
        else {
            return Some(f);
        };
        if f.reproduced {
            self.reproduced |= bit;
        } else {
            self.mismatched |= bit;
        }
        None
    }

    /// The findings noted, as [`Policy::evaluate_classified`] takes them: the first mismatch
    /// first (the one it reports), then every rebuilder's finding, with `more` (those past
    /// [`RECORD_BITS`]) last. Which rebuilders reproduced or found a mismatch is all it
    /// counts; the index of a mismatch other than the first is never reported.
    fn findings(&self, more: impl Iterator<Item = Finding>) -> Vec<Finding> {
        let bits = |set: u64, reproduced: bool| {
            (0..RECORD_BITS)
                .filter(move |k| set >> k & 1 == 1)
                .map(move |rebuilder| Finding {
                    index: self.index,
                    rebuilder,
                    reproduced,
                })
        };
        let first = self.first_mismatch.map(|(rebuilder, index)| Finding {
            index,
            rebuilder,
            reproduced: false,
        });
        first
            .into_iter()
            .chain(bits(self.mismatched, false))
            .chain(bits(self.reproduced, true))
            .chain(more)
            .collect()
    }
}

/// What the first pass of [`evaluate_releases`] keeps: every valid release as a
/// [`ReleaseRecord`], holding what trusted rebuilders found about it.
struct Findings<'p> {
    policy: &'p Policy,
    /// Oldest first.
    releases: Vec<ReleaseRecord>,
    /// The distinct release signers, and where each is in `signers`.
    signers: Vec<VerifierKey>,
    signer_at: HashMap<String, u32>,
    /// (the release's index, the finding) of trusted rebuilders past [`RECORD_BITS`], in log
    /// order.
    found: Vec<(u64, Finding)>,
    invalid_count: u64,
}

impl Findings<'_> {
    fn record(&self, index: u64) -> Option<&ReleaseRecord> {
        self.releases
            .binary_search_by_key(&index, |r| r.index)
            .ok()
            .and_then(|at| self.releases.get(at))
    }

    fn record_mut(&mut self, index: u64) -> Option<&mut ReleaseRecord> {
        self.releases
            .binary_search_by_key(&index, |r| r.index)
            .ok()
            .and_then(|at| self.releases.get_mut(at))
    }

    fn intern(&mut self, signer: VerifierKey) -> u32 {
        let name = signer.to_string();
        if let Some(at) = self.signer_at.get(&name) {
            return *at;
        }
        // Fewer distinct signers than releases, and releases fit in memory by design.
        let at = self.signers.len() as u32;
        self.signers.push(signer);
        self.signer_at.insert(name, at);
        at
    }
}

impl Sink for Findings<'_> {
    fn kept_leaf(&self, index: u64) -> Option<Hash> {
        self.record(index).map(|r| r.leaf)
    }

    /// What [`Catalog::absorb_chunk`] keeps, with each release reduced to a
    /// [`ReleaseRecord`] and each reproduction to [`Policy::classify`]'s finding.
    fn absorb(&mut self, _chunk_start: u64, candidates: Vec<Candidate>) {
        let (releases, reproductions, invalid) = split(candidates);
        self.invalid_count += invalid.len() as u64;
        let verified: Vec<_> = releases
            .into_par_iter()
            .map(|r| {
                (
                    r.envelope.verify(),
                    r.index,
                    r.leaf,
                    release_set_digest(&r.release),
                )
            })
            .collect();
        for (signer, index, leaf, artifacts) in verified {
            match signer {
                Ok(signer) => {
                    let signer = self.intern(signer);
                    self.releases.push(ReleaseRecord {
                        index,
                        leaf,
                        artifacts,
                        signer,
                        reproduced: 0,
                        mismatched: 0,
                        first_mismatch: None,
                    });
                }
                Err(_) => self.invalid_count += 1,
            }
        }
        let this = &*self;
        let verified: Vec<_> = reproductions
            .into_par_iter()
            .filter_map(|r| {
                // Parsing kept only reproductions that follow the release they name; only
                // those about this policy's log can count.
                let about = &r.reproduction.release;
                let record = this.record(about.index)?;
                (about.origin == this.policy.origin && record.leaf == about.leaf_hash)
                    .then_some((r, record.artifacts))
            })
            .map(|(r, artifacts)| {
                let implied = if obtained_set_digest(&r.reproduction.artifacts) == artifacts {
                    Verdict::Reproduced
                } else {
                    Verdict::Mismatch
                };
                let signer = r.envelope.verify();
                let finding = signer.as_ref().ok().and_then(|k| {
                    let at = u32::try_from(this.policy.rebuilder_position(k)?).ok()?;
                    Finding::of(r.index, at, r.reproduction.verdict, implied)
                });
                (signer.is_ok(), r.reproduction.release.index, finding)
            })
            .collect();
        for (valid, release, finding) in verified {
            if !valid {
                self.invalid_count += 1;
            }
            let more = finding.and_then(|f| self.record_mut(release).and_then(|r| r.note(f)));
            self.found.extend(more.map(|f| (release, f)));
        }
    }
}

/// Evaluates every release of `snap` against `policy` and calls `each` with each release whose
/// signature verifies, oldest first, and the policy's decision: what [`Catalog::scan`] and
/// [`Catalog::evaluate`] decide, in memory that stays small for a log of millions of entries.
///
/// Two streaming passes. The first checks that the entries hash to the checkpoint's root and
/// keeps 120 bytes per valid release: index, leaf hash, signer, [`release_set_digest`], and
/// what trusted rebuilders found ([`Policy::classify`], with the artifacts compared by set
/// digest) as two bit sets and the first mismatch; with more than 64 trusted rebuilders, 24
/// bytes per counted reproduction by the others. The second re-reads the releases, checks each against
/// the leaf hash kept (so it is the entry whose signature was checked), and decides with
/// [`Policy::evaluate_classified`]. The caller must have verified the checkpoint against the
/// policy. Returns how many entries were found invalid (unparsable, or kept and badly
/// signed). With `sev_tails` false, the releases given to `each` have none.
pub fn evaluate_releases<E: From<StoreError>>(
    snap: &Snapshot<'_>,
    policy: &Policy,
    sev_tails: bool,
    mut each: impl FnMut(&LoggedRelease, Result<Acceptance, Rejection>) -> Result<(), E>,
) -> Result<u64, E> {
    let selection = Selection::all()
        .reproductions_signed_by(&policy.rebuilders)
        .sev_tails(false);
    let mut findings = Findings {
        policy,
        releases: Vec::new(),
        signers: Vec::new(),
        signer_at: HashMap::new(),
        found: Vec::new(),
        invalid_count: 0,
    };
    stream(snap, &selection, &mut findings)?;
    let Findings {
        releases,
        signers,
        mut found,
        invalid_count,
        ..
    } = findings;
    // By release, each release's findings in log order.
    found.sort_unstable_by_key(|(release, f)| (*release, f.index));
    let mut found = found.as_slice();
    let size = snap.size();
    let mut rest = releases.as_slice();
    while !rest.is_empty() {
        let (chunk, parsed) = reparse_releases(snap, size, &mut rest, sev_tails)?;
        for (record, parsed) in chunk.iter().zip(parsed) {
            let (release, tails) = parsed?;
            let skip = found.partition_point(|(r, _)| *r < record.index);
            let mine = found[skip..].partition_point(|(r, _)| *r == record.index);
            let (of_this, after) = found[skip..].split_at(mine);
            found = after;
            let of_this = record.findings(of_this.iter().map(|(_, f)| *f));
            let signer = signers
                .get(record.signer as usize)
                .ok_or_else(|| second_pass(record.index, "unknown signer"))?;
            let decision = policy.evaluate_classified(signer, &release, &of_this);
            let logged = LoggedRelease {
                index: record.index,
                leaf: record.leaf,
                signer: signer.clone(),
                release,
                sev_tails: tails,
            };
            each(&logged, decision)?;
        }
    }
    Ok(invalid_count)
}

/// An error of [`evaluate_releases`]'s second pass: the log read differently from the first.
fn second_pass(index: u64, what: &str) -> StoreError {
    StoreError::Corrupt {
        path: "tile/entries".into(),
        reason: format!("entry {index} read differently the second time: {what}"),
    }
}

type Reparsed = Result<(Release, SevTails), StoreError>;

/// Reads the entry bundles holding the first of `rest`'s releases (a chunk's worth, at
/// least one bundle), parses those releases on the pool and advances `rest` past them.
fn reparse_releases<'r>(
    snap: &Snapshot<'_>,
    size: u64,
    rest: &mut &'r [ReleaseRecord],
    sev_tails: bool,
) -> Result<(&'r [ReleaseRecord], Vec<Reparsed>), StoreError> {
    let mut bundles: Vec<(Tile, Vec<u8>)> = Vec::new();
    let mut bytes = 0;
    let mut places = Vec::new();
    for record in rest.iter() {
        let (tile, at) = tiles::entry_bundle_for_index(record.index, size)
            .ok_or_else(|| second_pass(record.index, "beyond the log"))?;
        if bundles.last().map(|(t, _)| t) != Some(&tile) {
            if bundles.len() == CHUNK_BUNDLES || bytes >= CHUNK_BYTES {
                break;
            }
            let data = snap.read_tile(&tile)?.ok_or_else(|| StoreError::Corrupt {
                path: tile.path(),
                reason: "missing entry bundle".into(),
            })?;
            bytes += data.len();
            bundles.push((tile, data));
        }
        places.push((bundles.len() - 1, at));
    }
    let (chunk, after) = rest.split_at(places.len());
    *rest = after;
    let decoded = bundles
        .iter()
        .map(|(tile, data)| tiles::decode_entry_bundle(tile, data))
        .collect::<Result<Vec<_>, _>>()?;
    let parsed = chunk
        .par_iter()
        .zip(places)
        .map(|(record, (bundle, at))| {
            let bytes = decoded
                .get(bundle)
                .and_then(|entries| entries.get(at))
                .ok_or_else(|| second_pass(record.index, "short entry bundle"))?;
            if merkle::leaf_hash(bytes) != record.leaf {
                return Err(second_pass(record.index, "another leaf hash"));
            }
            let envelope =
                Envelope::parse(bytes).map_err(|e| second_pass(record.index, &e.to_string()))?;
            let (release, tails) = Release::from_statement_with_sev_tails(&envelope.payload)
                .map_err(|e| second_pass(record.index, &e.to_string()))?;
            Ok((release, if sev_tails { tails } else { SevTails::new() }))
        })
        .collect();
    Ok((chunk, parsed))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256, Sha384};

    use super::*;
    use crate::entry::release::SevTail;
    use crate::entry::{Artifact, Environment, ObtainedArtifact, Verdict};
    use crate::note::SignerKey;
    use crate::policy::Policy;
    use crate::store::{AnyEntry, EntrySchema, LogStore, NewEntry, DEFAULT_BRANCH};

    const ORIGIN: &str = "example.org/catalog-test";

    fn env() -> Environment {
        Environment {
            description: "a test machine".into(),
            container_image: None,
            debian_snapshot: None,
        }
    }

    /// Release `i` of firmware `fw-{i % 3}`: one artifact, with an snpOvmfHash and sevTail when
    /// `i` is even; artifact `i % 5` is shared by every fifth release.
    fn release(i: u64) -> (Release, SevTails) {
        let image = format!("image {}", i % 5);
        let mut tails = SevTails::new();
        let snp = i.is_multiple_of(2).then(|| {
            tails.insert("fw.bin".into(), SevTail::new(&[i as u8; 4096]).unwrap());
            Sha384::digest(b"launch").into()
        });
        let r = Release {
            firmware_name: format!("fw-{}", i % 3),
            version: format!("1.{i}"),
            recipe: "make\n".into(),
            env: Default::default(),
            source_date_epoch: 1_700_000_000,
            environment: env(),
            source_uri: None,
            source_sha256: Sha256::digest(b"source").into(),
            artifacts: vec![Artifact {
                name: "fw.bin".into(),
                sha256: Sha256::digest(image.as_bytes()).into(),
                sha384: Sha384::digest(image.as_bytes()).into(),
                snp_ovmf_hash: snp,
                other_digests: Default::default(),
            }],
            released_on: 1_700_000_100 + i,
        };
        (r, tails)
    }

    /// A reproduction of the release `release_entry` at `index`; `n` makes it unique (the log
    /// drops duplicate entries).
    /// A reproduction of the release `release_entry` at `index`; `n` makes it unique (the log
    /// drops duplicate entries) and picks what it says: the release's own artifacts reproduced
    /// (half of them), a failed build, a mismatch, or "reproduced" of other artifacts.
    fn reproduction(origin: &str, index: u64, release_entry: &[u8], n: usize) -> Reproduction {
        let own: Vec<ObtainedArtifact> = Envelope::parse(release_entry)
            .ok()
            .and_then(|e| Release::from_statement(&e.payload).ok())
            .map(|r| {
                r.artifacts
                    .iter()
                    .map(|a| ObtainedArtifact {
                        name: a.name.clone(),
                        sha256: a.sha256,
                        sha384: a.sha384,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let other = vec![ObtainedArtifact {
            name: "fw.bin".into(),
            sha256: [7; 32],
            sha384: [7; 48],
        }];
        let (verdict, artifacts) = match n % 8 {
            0..4 => (Verdict::Reproduced, own),
            4 => (Verdict::Failed, other),
            5 => (Verdict::Mismatch, other),
            6 => (Verdict::Mismatch, own),
            _ => (Verdict::Reproduced, other),
        };
        Reproduction {
            release: entry::release_ref(origin, index, release_entry),
            verdict,
            artifacts,
            environment: env(),
            rebuilt_on: 1_700_000_500 + n as u64,
            note: None,
        }
    }

    fn bad_signature(entry: &[u8]) -> Vec<u8> {
        let mut e = Envelope::parse(entry).unwrap();
        e.signatures[0].sig[0] ^= 1;
        e.to_bytes()
    }

    /// What `scan` did before it streamed: every entry parsed and verified, every parsed
    /// release and reproduction kept.
    fn reference(snap: &Snapshot<'_>) -> Catalog {
        let mut cat = Catalog::default();
        snap.for_each_entry(|index, bytes| {
            let leaf = merkle::leaf_hash(bytes);
            match entry::parse_entry(bytes) {
                Ok(p) => match p.entry {
                    Entry::Release(release) => cat.releases.push(LoggedRelease {
                        index,
                        leaf,
                        signer: p.signer,
                        sev_tails: Release::from_statement_with_sev_tails(&p.statement_bytes)
                            .unwrap()
                            .1,
                        release,
                    }),
                    Entry::Reproduction(reproduction) => cat
                        .reproductions
                        .entry(reproduction.release.index)
                        .or_default()
                        .push(LoggedReproduction {
                            index,
                            signer: p.signer,
                            reproduction,
                        }),
                },
                Err(e) => cat.invalid.push((index, e.to_string())),
            }
            Ok(())
        })
        .unwrap();
        cat
    }

    /// `reference` restricted to what `keep` and `signers` select: the kept releases, and the
    /// reproductions that follow one and name it exactly.
    fn expected(
        all: &Catalog,
        keep: impl Fn(&Release) -> bool,
        signers: Option<&[VerifierKey]>,
        tails: bool,
    ) -> (Vec<String>, Vec<String>) {
        let releases: Vec<&LoggedRelease> =
            all.releases.iter().filter(|r| keep(&r.release)).collect();
        let reproductions = releases
            .iter()
            .flat_map(|r| {
                all.reproductions_of(r.index).iter().filter(|x| {
                    let about = &x.reproduction.release;
                    x.index > r.index
                        && about.origin == ORIGIN
                        && about.leaf_hash == r.leaf
                        && signers.is_none_or(|s| s.contains(&x.signer))
                })
            })
            .map(|x| format!("{x:?}"))
            .collect();
        let releases = releases
            .into_iter()
            .map(|r| {
                let mut r = r.clone();
                if !tails {
                    r.sev_tails.clear();
                }
                format!("{r:?}")
            })
            .collect();
        (releases, reproductions)
    }

    fn got(cat: &Catalog) -> (Vec<String>, Vec<String>) {
        let mut reproductions: Vec<&LoggedReproduction> =
            cat.reproductions.values().flatten().collect();
        // `expected` lists them by release, then by index; so does the map.
        reproductions.sort_by_key(|x| (x.reproduction.release.index, x.index));
        (
            cat.releases.iter().map(|r| format!("{r:?}")).collect(),
            reproductions.iter().map(|x| format!("{x:?}")).collect(),
        )
    }

    /// A log of about 700 entries over three bundles (so several chunks): releases,
    /// reproductions about releases in the same and in earlier chunks, and entries the scans
    /// must leave out: reproductions about another log, naming the wrong leaf, naming a later
    /// entry or a reproduction, badly signed ones, a badly signed release, and garbage.
    fn fixture(dir: &std::path::Path) -> (LogStore, Vec<VerifierKey>) {
        let log = SignerKey::from_seed(ORIGIN, [1; 32]).unwrap();
        let vendor = SignerKey::from_seed("vendor.example/release", [2; 32]).unwrap();
        let rebuilders: Vec<SignerKey> = (0..3)
            .map(|k| SignerKey::from_seed(&format!("r{k}.example/rebuild"), [3 + k; 32]).unwrap())
            .collect();
        let store = LogStore::init(dir, DEFAULT_BRANCH, ORIGIN, &log, EntrySchema::Any).unwrap();
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut releases: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut i = 0u64;
        while entries.len() < 700 {
            let index = entries.len() as u64;
            match i % 11 {
                0 | 4 | 8 => {
                    let (r, tails) = release(i);
                    let bytes = r.sign_with_sev_tails(&tails, &vendor).unwrap();
                    releases.push((index, bytes.clone()));
                    entries.push(bytes);
                }
                10 => {
                    // A badly signed release, a reproduction of it, and garbage.
                    let (r, tails) = release(i);
                    let bad = bad_signature(&r.sign_with_sev_tails(&tails, &vendor).unwrap());
                    let of_bad = reproduction(ORIGIN, entries.len() as u64, &bad, entries.len());
                    entries.push(bad);
                    entries.push(of_bad.sign(&rebuilders[0]).unwrap());
                    entries.push(format!("not an envelope {i}").into_bytes());
                }
                _ => {
                    // Reproductions of a recent release (some 300 entries back: an earlier
                    // chunk) and of the latest one.
                    let (at, bytes) = &releases[(i as usize * 7) % releases.len()];
                    let (last_at, last) = releases.last().unwrap();
                    let key = &rebuilders[(i % 3) as usize];
                    let good = reproduction(ORIGIN, *at, bytes, entries.len());
                    entries.push(good.sign(key).unwrap());
                    let latest = reproduction(ORIGIN, *last_at, last, entries.len());
                    entries.push(latest.sign(key).unwrap());
                    match i % 5 {
                        0 => entries.push(bad_signature(&good.sign(key).unwrap())),
                        1 => entries.push(
                            reproduction("other.example/log", *at, bytes, entries.len())
                                .sign(key)
                                .unwrap(),
                        ),
                        2 => {
                            let mut wrong = good.clone();
                            wrong.release.leaf_hash = merkle::leaf_hash(b"another entry");
                            entries.push(wrong.sign(key).unwrap());
                            // The same about the latest release (most likely in this chunk),
                            // saying what would reject it were it counted.
                            let mut wrong = latest.clone();
                            wrong.release.leaf_hash = merkle::leaf_hash(b"another entry");
                            wrong.verdict = Verdict::Mismatch;
                            entries.push(wrong.sign(key).unwrap());
                        }
                        3 => {
                            // Names the entry after it, and an earlier reproduction.
                            let mut later = good.clone();
                            later.release.index = entries.len() as u64 + 1;
                            entries.push(later.sign(key).unwrap());
                            let mut repro = good.clone();
                            repro.release.index = entries.len() as u64 - 2;
                            entries.push(repro.sign(key).unwrap());
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        let batch: Vec<NewEntry> = entries
            .into_iter()
            .enumerate()
            .map(|(k, bytes)| NewEntry {
                name: format!("e{k}"),
                bytes,
                pending_path: None,
            })
            .collect();
        for part in batch.chunks(300) {
            store.append(&log, part, &AnyEntry).unwrap();
        }
        let keys = rebuilders.iter().map(|k| k.verifier_key()).collect();
        (store, keys)
    }

    #[test]
    fn catalog_selections_match_a_full_verified_scan() {
        let dir = tempfile::tempdir().unwrap();
        let (store, rebuilders) = fixture(dir.path());
        let snap = store.head().unwrap();
        assert!(snap.size() > 2 * tiles::TILE_WIDTH, "{}", snap.size());
        let all = reference(&snap);
        assert!(all.releases.len() > 50 && !all.invalid.is_empty());

        let full = Catalog::scan(&snap).unwrap();
        assert_eq!(got(&full), expected(&all, |_| true, None, true));
        assert!(full.reproductions.values().flatten().count() > 300);
        // Every entry the reference found invalid is a release or a garbage entry (listed) or a
        // reproduction that is not about a release (not verified, so not listed).
        assert_eq!(full.invalid_count, full.invalid.len() as u64);
        for (index, why) in &full.invalid {
            assert!(
                all.invalid.contains(&(*index, why.clone())),
                "{index}: {why}"
            );
        }
        let garbage = all.invalid.iter().filter(|(_, w)| !w.contains("signature"));
        assert!(garbage.clone().count() > 10);
        assert!(garbage.clone().all(|g| full.invalid.contains(g)));

        let sha = release(3).0.artifacts[0].sha256;
        let by_sha = |r: &Release| r.artifacts.iter().any(|a| a.sha256 == sha);
        let one = Catalog::scan_selected(&snap, &Selection::artifact_sha256(sha)).unwrap();
        assert_eq!(got(&one), expected(&all, by_sha, None, true));
        assert!(one.releases.len() > 5 && one.releases.len() < all.releases.len() / 3);
        let filtered = Catalog::scan_filtered(&snap, by_sha).unwrap();
        assert_eq!(got(&filtered), got(&one));

        let named = |r: &Release| r.firmware_name == "fw-1";
        let fw = Catalog::scan_selected(&snap, &Selection::firmware("fw-1")).unwrap();
        assert_eq!(got(&fw), expected(&all, named, None, true));

        let trusted = &rebuilders[..2];
        let sel = Selection::all()
            .reproductions_signed_by(trusted)
            .sev_tails(false);
        let policy_like = Catalog::scan_selected(&snap, &sel).unwrap();
        assert_eq!(
            got(&policy_like),
            expected(&all, |_| true, Some(trusted), false)
        );

        // Bundles are the same whichever scan found the release, and carry the entries' bytes.
        let first = one.releases_with(&sha)[0];
        let from_one = one.bundle(&snap, first).unwrap();
        let from_full = full.bundle(&snap, full.releases_with(&sha)[0]).unwrap();
        assert_eq!(from_one.to_bytes(), from_full.to_bytes());
        assert_eq!(from_one.release.entry, snap.entry(first.index).unwrap());
        assert!(!from_one.reproductions.is_empty());
        for p in &from_one.reproductions {
            assert_eq!(p.entry, snap.entry(p.index).unwrap());
        }
    }

    /// What `allowlist` printed before it streamed: every release of a full catalog, evaluated
    /// with [`Catalog::evaluate`].
    fn decisions_from_catalog(snap: &Snapshot<'_>, policy: &Policy) -> Vec<String> {
        let cat = Catalog::scan(snap).unwrap();
        cat.releases
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.sev_tails.clear();
                format!("{r:?} {:?}", cat.evaluate(policy, &r))
            })
            .collect()
    }

    #[test]
    fn evaluate_releases_decides_what_a_full_catalog_decides() {
        let dir = tempfile::tempdir().unwrap();
        let (store, rebuilders) = fixture(dir.path());
        let snap = store.head().unwrap();
        let vendor = SignerKey::from_seed("vendor.example/release", [2; 32]).unwrap();
        let base = Policy {
            origin: ORIGIN.into(),
            log_key: SignerKey::from_seed(ORIGIN, [1; 32])
                .unwrap()
                .verifier_key(),
            witness_quorum: 0,
            witnesses: Vec::new(),
            vendors: vec![crate::policy::Vendor {
                key: vendor.verifier_key(),
                // fw-2 releases are refused: not allowed for this vendor.
                firmware: ["fw-0".to_string(), "fw-1".to_string()].into(),
            }],
            rebuilder_quorum: 1,
            rebuilders: rebuilders[..2].to_vec(),
            on_mismatch: crate::policy::OnMismatch::Reject,
        };
        // Keys that signed nothing, to place the fixture's rebuilders past the 64 a release
        // record keeps as bits.
        let others: Vec<VerifierKey> = (0..70u8)
            .map(|k| {
                SignerKey::from_seed(&format!("d{k}.example/rebuild"), [100 + k; 32])
                    .unwrap()
                    .verifier_key()
            })
            .collect();
        let past_64 = [&others[..66], &rebuilders[..2]].concat();
        let straddling = [
            &others[..3],
            &rebuilders[..1],
            &others[3..66],
            &rebuilders[1..2],
        ]
        .concat();
        let mut kinds = std::collections::BTreeSet::new();
        for (quorum, on_mismatch, trusted) in [
            (
                1,
                crate::policy::OnMismatch::Reject,
                rebuilders[0..2].to_vec(),
            ),
            (
                2,
                crate::policy::OnMismatch::Ignore,
                rebuilders[0..2].to_vec(),
            ),
            (
                1,
                crate::policy::OnMismatch::Ignore,
                rebuilders[1..3].to_vec(),
            ),
            (
                0,
                crate::policy::OnMismatch::Reject,
                rebuilders[2..3].to_vec(),
            ),
            (1, crate::policy::OnMismatch::Reject, past_64.clone()),
            (2, crate::policy::OnMismatch::Ignore, past_64),
            (1, crate::policy::OnMismatch::Reject, straddling.clone()),
            (2, crate::policy::OnMismatch::Ignore, straddling),
        ] {
            let policy = Policy {
                rebuilder_quorum: quorum,
                on_mismatch,
                rebuilders: trusted,
                ..base.clone()
            };
            let want = decisions_from_catalog(&snap, &policy);
            let mut got = Vec::new();
            let invalid = evaluate_releases(&snap, &policy, false, |r, d| {
                kinds.insert(match &d {
                    Ok(a) if a.mismatches_ignored.is_empty() => "accepted",
                    Ok(_) => "accepted, mismatches ignored",
                    Err(Rejection::Mismatch { .. }) => "mismatch",
                    Err(Rejection::RebuilderQuorum { .. }) => "quorum",
                    Err(Rejection::FirmwareNotAllowed { .. }) => "firmware",
                    Err(Rejection::UnknownVendor { .. }) => "vendor",
                });
                got.push(format!("{r:?} {d:?}"));
                Ok::<_, StoreError>(())
            })
            .unwrap();
            assert_eq!(
                got,
                want,
                "quorum {quorum}, {on_mismatch:?}, {}",
                policy.rebuilders.len()
            );
            assert!(invalid > 0);
        }
        // The policies above reach every kind of decision but an unknown vendor (the fixture
        // has one vendor).
        assert_eq!(kinds.len(), 5, "{kinds:?}");
        // sevTails come when asked for, and a caller's error stops the pass.
        let mut tails = 0;
        evaluate_releases(&snap, &base, true, |r, _| {
            tails += r.sev_tails.len();
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert!(tails > 0);
        let mut calls = 0;
        let stopped = evaluate_releases(&snap, &base, false, |_, _| {
            calls += 1;
            Err(StoreError::Corrupt {
                path: "x".into(),
                reason: "stop".into(),
            })
        });
        assert!(matches!(stopped, Err(StoreError::Corrupt { .. })) && calls == 1);
    }

    #[test]
    fn catalog_of_an_empty_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let log = SignerKey::from_seed(ORIGIN, [1; 32]).unwrap();
        let store =
            LogStore::init(dir.path(), DEFAULT_BRANCH, ORIGIN, &log, EntrySchema::Any).unwrap();
        let cat = Catalog::scan(&store.head().unwrap()).unwrap();
        assert!(cat.releases.is_empty() && cat.reproductions.is_empty() && cat.invalid.is_empty());
    }
}
