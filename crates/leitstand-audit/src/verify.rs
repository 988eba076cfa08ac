//! Checks a log end to end in one streaming pass, the way a third party
//! would, and reports precisely what does not fit: every entry bundle, every
//! tile recomputed from the entries below it, the checkpoint's signature and
//! root, every checkpoint ever published (consistent with today's tree, so
//! a rewritten history shows), and — where the journal is at hand — every
//! stored event against the entry that commits to it. An event missing
//! because its retention ran out is reported as pruned, not as missing.
//!
//! Memory stays constant: only the tree's right edge is kept.

use std::collections::BTreeMap;

use jiff::Timestamp;
use leitstand_core::calendar::WorkingCalendar;
use leitstand_core::policy::Retention;
use leitstand_ledger::Hash;
use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::entry::{Entry, RetentionClass};
use leitstand_ledger::merkle::leaf_hash;
use leitstand_ledger::note::{Verifier, open};
use leitstand_ledger::tiles::{TILE_WIDTH, Tile, cut_partial, decode_bundle};
use leitstand_ledger::tree::TreeEdge;

use crate::journal::{JournalReader, Record};

/// Where the public files come from: a directory or a URL.
pub trait Source {
    /// The file at a tlog-tiles path, `None` if it does not exist.
    fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String>;
}

impl Source for crate::storage::DirStorage {
    fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
        crate::storage::LogStorage::read(self, path).map_err(|e| e.to_string())
    }
}

/// Decides whether an event's retention has run out.
pub struct RetentionCheck {
    /// The policy's classes.
    pub policy: Retention,
    /// For calendar-based limits.
    pub calendar: WorkingCalendar,
    /// Now.
    pub now: Timestamp,
}

impl RetentionCheck {
    /// Whether an event of `class` logged at `logged_at_us` may be deleted.
    pub fn expired(&self, class: RetentionClass, logged_at_us: i64) -> bool {
        let keep = match class {
            RetentionClass::Audit => self.policy.audit.keep,
            RetentionClass::Security => self.policy.security.keep,
            RetentionClass::Application => self.policy.application.keep,
            RetentionClass::Access => self.policy.access.keep,
            RetentionClass::Performance => self.policy.performance.keep,
            RetentionClass::Debug => self.policy.debug.keep,
        };
        let Ok(at) = Timestamp::from_microsecond(logged_at_us) else { return false };
        keep.due(at, &self.calendar) <= self.now
    }
}

/// What a verification found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Size of the verified checkpoint.
    pub size: u64,
    /// Entries checked against the tiles.
    pub entries: u64,
    /// Tiles and bundles read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Stored events checked against their entries.
    pub events: u64,
    /// Events deleted per retention.
    pub pruned: u64,
    /// Journalled events beyond the checkpoint (not yet integrated).
    pub pending: u64,
    /// Earlier checkpoints checked for consistency.
    pub checkpoints: u64,
    /// Every problem, most precise first; empty means the log verifies.
    pub findings: Vec<String>,
}

/// Most findings collected before the check stops.
pub const MAX_FINDINGS: usize = 100;

impl Report {
    fn find(&mut self, finding: String) -> bool {
        self.findings.push(finding);
        self.findings.len() < MAX_FINDINGS
    }
}

/// What to check besides the public files.
pub struct Extra<'a> {
    /// The journal, read from index 0, for an offline check.
    pub journal: Option<JournalReader>,
    /// Every checkpoint ever published (signed notes).
    pub history: Vec<String>,
    /// Retention, to tell pruned from missing events.
    pub retention: Option<&'a RetentionCheck>,
}

fn fetch_tile(src: &mut dyn Source, tile: Tile, report: &mut Report) -> Result<Option<Vec<u8>>, String> {
    let path = tile.path();
    let mut bytes = src.fetch(&path)?;
    if bytes.is_none() && u64::from(tile.width) < TILE_WIDTH {
        // A partial tile may be gone once the full one exists.
        bytes = src.fetch(&Tile { width: 256, ..tile }.path())?.map(|full| cut_partial(&tile, &full));
    }
    if let Some(b) = &bytes {
        report.files += 1;
        report.bytes += b.len() as u64;
    }
    Ok(bytes)
}

fn compare_tile(src: &mut dyn Source, tile: Tile, computed: &[Hash], report: &mut Report) -> Result<bool, String> {
    let path = tile.path();
    let Some(stored) = fetch_tile(src, tile, report)? else {
        return Ok(report.find(format!("{path}: missing")));
    };
    if stored.len() != 32 * computed.len() {
        return Ok(report.find(format!("{path}: {} bytes, expected {}", stored.len(), 32 * computed.len())));
    }
    for (i, (s, c)) in stored.chunks_exact(32).zip(computed).enumerate() {
        if s != c {
            return Ok(report.find(format!(
                "{path}: hash {i} differs from the hash computed from the entries (stored {}, computed {})",
                hex(s),
                hex(c)
            )));
        }
    }
    Ok(true)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn micros_to_text(us: i64) -> String {
    Timestamp::from_microsecond(us).map_or_else(|_| us.to_string(), |t| t.to_string())
}

/// Verifies a log directory offline: its public files, every checkpoint it
/// ever published, and every stored event in its journal.
pub fn verify_dir(
    dir: &std::path::Path,
    verifier: &Verifier,
    retention: Option<&RetentionCheck>,
) -> Result<Report, String> {
    use crate::ledger::{journal_dir, log_dir, read_history};
    let mut src = crate::storage::DirStorage::open(log_dir(dir)).map_err(|e| format!("{}: {e}", dir.display()))?;
    let journal = crate::journal::Journal::open(journal_dir(dir)).map_err(|e| e.to_string())?;
    let history = read_history(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut report = verify(&mut src, verifier, Extra { journal: Some(journal.read_from(0)), history, retention })?;
    check_older_partials(&log_dir(dir), &mut report).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(report)
}

/// Partial tiles narrower than the current one stay on disk and are served
/// to clients holding older checkpoints; [`verify`] checks only the tiles
/// of the current tree. Each older partial must be a prefix of its full
/// tile, or else of the widest partial of that tile (both verified).
fn check_older_partials(log: &std::path::Path, report: &mut Report) -> std::io::Result<()> {
    let mut dirs = vec![log.join("tile")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut partials: Vec<(Tile, std::path::PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path.strip_prefix(log).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            if let Ok(tile) = Tile::parse(&relative)
                && u64::from(tile.width) < TILE_WIDTH
            {
                partials.push((tile, path));
            }
        }
        let Some(widest) = partials.iter().map(|(t, _)| t.width).max() else { continue };
        let (first, _) = partials[0];
        let full = Tile { width: 256, ..first };
        let reference_tile = if log.join(full.path()).exists() { full } else { Tile { width: widest, ..first } };
        let reference = std::fs::read(log.join(reference_tile.path()))?;
        for (tile, path) in &partials {
            if tile.width == reference_tile.width {
                continue;
            }
            let bytes = std::fs::read(path)?;
            report.files += 1;
            report.bytes += bytes.len() as u64;
            if cut_partial(tile, &reference) != bytes {
                report.find(format!(
                    "{}: not a prefix of {} (an older partial tile, served to clients of older checkpoints, differs)",
                    tile.path(),
                    reference_tile.path()
                ));
            }
        }
    }
    Ok(())
}

/// Verifies the log served by `src` against the log key `verifier`.
pub fn verify(src: &mut dyn Source, verifier: &Verifier, mut extra: Extra<'_>) -> Result<Report, String> {
    let mut report = Report::default();
    let note = src.fetch("checkpoint")?.ok_or("there is no checkpoint")?;
    let note = String::from_utf8(note).map_err(|_| "the checkpoint is not UTF-8".to_string())?;
    let opened = open(&note, std::slice::from_ref(verifier))
        .map_err(|e| format!("the checkpoint does not verify with key {verifier}: {e}"))?;
    let cp = Checkpoint::parse(&opened.text).map_err(|e| e.to_string())?;
    report.size = cp.size;

    let mut earlier: BTreeMap<u64, (Hash, usize)> = BTreeMap::new();
    for (n, h) in extra.history.iter().enumerate() {
        match open(h, std::slice::from_ref(verifier))
            .map_err(|e| e.to_string())
            .and_then(|o| Checkpoint::parse(&o.text).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                if let Some((root, first)) = earlier.get(&c.size)
                    && *root != c.root
                {
                    report.find(format!(
                        "published checkpoints #{first} and #{n} both have size {} but different roots (a fork)",
                        c.size
                    ));
                }
                earlier.entry(c.size).or_insert((c.root, n));
            }
            Err(e) => {
                report.find(format!("published checkpoint #{n} does not verify: {e}"));
            }
        }
    }
    if let Some((size, (_, n))) = earlier.range(cp.size + 1..).next() {
        report.find(format!(
            "checkpoint #{n} of size {size} was published, but the log now has only {} entries (a rollback)",
            cp.size
        ));
    }
    if let Some((_, (root, n))) = earlier.get_key_value(&0) {
        report.checkpoints += 1;
        if *root != TreeEdge::new().root() {
            report.find(format!("published checkpoint #{n} of size 0 has a wrong root"));
        }
    }

    let mut journal = extra.journal.take().map(Iterator::peekable);
    let mut edge = TreeEdge::new();
    let bundles = cp.size.div_ceil(TILE_WIDTH);
    'bundles: for b in 0..bundles {
        let width = (cp.size - b * TILE_WIDTH).min(TILE_WIDTH) as u16;
        let tile = Tile { level: None, index: b, width };
        let path = tile.path();
        let Some(bytes) = fetch_tile(src, tile, &mut report)? else {
            report.find(format!(
                "{path}: missing; entries {} to {} cannot be checked",
                b * TILE_WIDTH,
                b * TILE_WIDTH + u64::from(width) - 1
            ));
            return Ok(report);
        };
        let Some(entries) = decode_bundle(&bytes).filter(|e| e.len() == usize::from(width)) else {
            report.find(format!("{path}: does not hold {width} length-prefixed entries"));
            return Ok(report);
        };
        let mut full = Vec::new();
        for (k, raw) in entries.iter().enumerate() {
            let index = b * TILE_WIDTH + k as u64;
            edge.push(leaf_hash(raw), &mut full);
            report.entries += 1;
            let entry = match Entry::decode(raw) {
                Ok(e) => Some(e),
                Err(e) => {
                    if !report.find(format!("entry {index} ({path}, position {k}): {e}")) {
                        break 'bundles;
                    }
                    None
                }
            };
            if let (Some(journal), Some(entry)) = (journal.as_mut(), entry) {
                let mut record: Option<Record> = None;
                while let Some(next) = journal.peek() {
                    match next {
                        Err(e) => {
                            let e = e.to_string();
                            journal.next();
                            if !report.find(format!("journal: {e}")) {
                                break 'bundles;
                            }
                        }
                        Ok(r) if r.index < index => {
                            let r = r.index;
                            journal.next();
                            report.find(format!("journal: event {r} appears twice or out of order"));
                        }
                        Ok(r) if r.index == index => {
                            record = journal.next().and_then(Result::ok);
                            break;
                        }
                        Ok(_) => break,
                    }
                }
                match record {
                    Some(r) => {
                        report.events += 1;
                        let same = r.logged_at_us == entry.logged_at_us
                            && r.class == entry.class
                            && entry.matches(&r.salt, &r.event);
                        if !same && !report.find(format!(
                            "event {index}: the stored event does not match its log entry (commitment in {path}, position {k})"
                        )) {
                            break 'bundles;
                        }
                    }
                    None => {
                        let expired = extra.retention.is_some_and(|rc| rc.expired(entry.class, entry.logged_at_us));
                        if expired {
                            report.pruned += 1;
                        } else if !report.find(format!(
                            "event {index}: missing from the journal (class {}, logged {}, its retention has not run out)",
                            entry.class.as_str(),
                            micros_to_text(entry.logged_at_us)
                        )) {
                            break 'bundles;
                        }
                    }
                }
            }
            if let Some((root, n)) = earlier.get(&edge.size()) {
                report.checkpoints += 1;
                if *root != edge.root() {
                    report.find(format!(
                        "published checkpoint #{n} of size {} is not consistent with the current tree (history was rewritten)",
                        edge.size()
                    ));
                }
            }
        }
        for t in full {
            if !compare_tile(src, t.tile, &t.hashes, &mut report)? {
                break 'bundles;
            }
        }
    }
    if report.findings.len() < MAX_FINDINGS {
        for (tile, hashes) in edge.partial_tiles() {
            compare_tile(src, tile, hashes, &mut report)?;
        }
        if edge.size() == cp.size && edge.root() != cp.root {
            report.find(format!(
                "the checkpoint's root {} is not the root of the entries ({})",
                hex(&cp.root),
                hex(&edge.root())
            ));
        }
    }
    if let Some(journal) = journal {
        report.pending = journal.filter_map(Result::ok).filter(|r| r.index >= cp.size).count() as u64;
    }
    Ok(report)
}
