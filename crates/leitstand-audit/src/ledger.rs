//! The running log: appends are acknowledged once durable, and published in
//! a signed checkpoint shortly after.
//!
//! Two threads form a pipeline. The *sequencer* takes every batch waiting in
//! its queue, gives the events consecutive indexes, writes them to the
//! journal and makes them durable with one fsync per retention class for the
//! whole group (group commit: a thousand concurrent writers share one
//! fsync), then answers every waiting caller. The *integrator* turns the new
//! entries into leaf hashes, tiles and entry bundles, makes those durable,
//! and signs and publishes a new checkpoint — at most once per
//! `checkpoint_interval`, so a busy log publishes a few checkpoints a second
//! rather than thousands. A crash between the two loses nothing: on open the
//! journal's records beyond the last checkpoint are integrated again.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leitstand_core::clock::Clock;
use leitstand_ledger::Hash;
use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::entry::{ENTRY_LEN, Entry, RetentionClass, SALT_LEN, commitment};
use leitstand_ledger::event::PreparedEvent;
use leitstand_ledger::merkle::{ProveError, leaf_hash, prove_consistency, prove_inclusion};
use leitstand_ledger::note::{Signer, Verifier, open, split as split_note};
use leitstand_ledger::tiles::{TILE_WIDTH, Tile, TileHashes, TileReadError, cut_partial, decode_bundle, encode_bundle};
use leitstand_ledger::tree::{TreeEdge, partial_widths};
use tokio::sync::{mpsc, oneshot, watch};

use crate::journal::{Journal, JournalError, Pruned, Record};
use crate::storage::{DirStorage, LogStorage};

/// How the log runs.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Directory of the log (`log/` public files, `events/` journal,
    /// `state/` checkpoint history).
    pub dir: PathBuf,
    /// Shortest time between two checkpoints.
    pub checkpoint_interval: Duration,
    /// Most events written in one group commit.
    pub max_group: usize,
}

impl LedgerOptions {
    /// Defaults for a log in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), checkpoint_interval: Duration::from_millis(200), max_group: 65_536 }
    }
}

/// Why the log cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The journal could not be read or written.
    #[error("audit journal: {0}")]
    Journal(#[from] JournalError),
    /// The public log could not be read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// File or directory.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// Stored state that does not fit together.
    #[error("audit log is inconsistent: {0} (run `leitstand audit verify` for details)")]
    Inconsistent(String),
    /// A proof asked for sizes or an index the tree does not have.
    #[error("invalid proof request: {0}")]
    ProofRequest(&'static str),
    /// A path that is not a tlog-tiles path.
    #[error(transparent)]
    NotATile(#[from] leitstand_ledger::tiles::TilePathError),
    /// Another process holds the log.
    #[error(
        "the audit log in {0} is in use by another process (one writer at a time; is another Leitstand running with this data directory?)"
    )]
    Locked(String),
    /// An earlier write failed; appends are refused until a restart.
    #[error("audit log stopped after a write error: {0}")]
    Stopped(String),
}

fn io_at(path: impl Into<String>) -> impl FnOnce(io::Error) -> LedgerError {
    let path = path.into();
    move |source| LedgerError::Io { path, source }
}

struct Item {
    class: RetentionClass,
    salt: [u8; SALT_LEN],
    commitment: Hash,
    bytes: Vec<u8>,
}

enum Job {
    Append {
        items: Vec<Item>,
        reply: Reply,
    },
    /// Delete the class's segments whose day ended at a time `expired` accepts.
    Prune {
        class: RetentionClass,
        expired: Box<dyn FnMut(i64) -> bool + Send>,
        reply: oneshot::Sender<Result<Pruned, LedgerError>>,
    },
}

/// What the log has done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// Events durable in the journal.
    pub sequenced: u64,
    /// Events covered by the published checkpoint.
    pub published: u64,
    /// The published signed checkpoint.
    pub checkpoint: Arc<str>,
}

/// The checkpoint file as last written: its size, and the witnesses'
/// cosigned form once attached. One lock orders the integrator's new
/// checkpoints and late cosignatures, so an older cosigned checkpoint never
/// replaces a newer one.
#[derive(Default)]
struct CheckpointFile {
    size: u64,
    cosigned: Option<Arc<str>>,
}

/// A handle to the running log; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    jobs: mpsc::Sender<Job>,
    state: watch::Receiver<LogState>,
    file: Arc<Mutex<CheckpointFile>>,
    storage: Arc<DirStorage>,
    verifier: Verifier,
    origin: String,
    journal_dir: PathBuf,
    failed: Failure,
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

/// File with every checkpoint ever published (u32 LE length + signed note).
pub const HISTORY: &str = "state/checkpoints";

/// The public log directory below a ledger directory.
pub fn log_dir(dir: &Path) -> PathBuf {
    dir.join("log")
}

/// The journal directory below a ledger directory.
pub fn journal_dir(dir: &Path) -> PathBuf {
    dir.join("events")
}

struct Integrator {
    storage: Arc<DirStorage>,
    signer: Signer,
    edge: TreeEdge,
    bundle: Vec<[u8; ENTRY_LEN]>,
    history: File,
    published: Option<(u64, Arc<str>)>,
    file: Arc<Mutex<CheckpointFile>>,
    /// Tiles that became full since the last checkpoint: their partial
    /// files go only once a checkpoint past them is published, because
    /// the checkpoint before names them.
    filled: Vec<Tile>,
}

/// A tile's bytes; a partial tile whose file is gone is cut from its full
/// tile (a partial is a prefix of the full one, and full tiles never
/// change).
fn read_tile(storage: &DirStorage, tile: &Tile) -> Result<Option<Vec<u8>>, LedgerError> {
    let path = tile.path();
    if let Some(bytes) = storage.read(&path).map_err(io_at(&path))? {
        return Ok(Some(bytes));
    }
    if u64::from(tile.width) == TILE_WIDTH {
        return Ok(None);
    }
    let full = Tile { width: 256, ..*tile };
    Ok(storage.read(&full.path()).map_err(io_at(&path))?.map(|bytes| cut_partial(tile, &bytes)))
}

fn read_hashes(storage: &DirStorage, tile: &Tile) -> Result<Vec<Hash>, LedgerError> {
    let path = tile.path();
    let bytes = read_tile(storage, tile)?.ok_or_else(|| LedgerError::Inconsistent(format!("{path} is missing")))?;
    if bytes.len() != 32 * usize::from(tile.width) {
        return Err(LedgerError::Inconsistent(format!(
            "{path} has {} bytes, expected {}",
            bytes.len(),
            32 * tile.width
        )));
    }
    Ok(bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or([0; 32])).collect())
}

impl Integrator {
    /// Restores the right edge named by the stored checkpoint.
    fn restore(storage: Arc<DirStorage>, signer: Signer, history: File) -> Result<Self, LedgerError> {
        let mut me = Self {
            storage,
            signer,
            edge: TreeEdge::new(),
            bundle: Vec::new(),
            history,
            published: None,
            file: Arc::default(),
            filled: Vec::new(),
        };
        let Some(note) = me.storage.read("checkpoint").map_err(io_at("checkpoint"))? else {
            return Ok(me);
        };
        let note =
            String::from_utf8(note).map_err(|_| LedgerError::Inconsistent("the checkpoint is not UTF-8".into()))?;
        let opened = open(&note, &[me.signer.verifier()])
            .map_err(|e| LedgerError::Inconsistent(format!("the checkpoint does not verify with the log key: {e}")))?;
        let cp = Checkpoint::parse(&opened.text).map_err(|e| LedgerError::Inconsistent(e.to_string()))?;
        if cp.origin != me.signer.name() {
            return Err(LedgerError::Inconsistent(format!("the checkpoint is for origin {:?}", cp.origin)));
        }
        let mut levels = Vec::new();
        for (level, width) in partial_widths(cp.size).into_iter().enumerate() {
            if width == 0 {
                levels.push(Vec::new());
                continue;
            }
            let index = cp.size >> (8 * (level as u32 + 1));
            levels.push(read_hashes(&me.storage, &Tile { level: Some(level as u8), index, width: width as u16 })?);
        }
        me.edge = TreeEdge::restore(cp.size, levels).map_err(|e| LedgerError::Inconsistent(e.to_string()))?;
        if me.edge.root() != cp.root {
            return Err(LedgerError::Inconsistent("the partial tiles do not hash to the checkpoint's root".into()));
        }
        let width = cp.size % TILE_WIDTH;
        if width > 0 {
            let tile = Tile { level: None, index: cp.size / TILE_WIDTH, width: width as u16 };
            let path = tile.path();
            let bytes = read_tile(&me.storage, &tile)?.unwrap_or_default();
            let entries = decode_bundle(&bytes).unwrap_or_default();
            if entries.len() as u64 != width || entries.iter().any(|e| e.len() != ENTRY_LEN) {
                return Err(LedgerError::Inconsistent(format!("{path} does not hold {width} entries")));
            }
            me.bundle = entries.iter().map(|e| (*e).try_into().unwrap_or([0; ENTRY_LEN])).collect();
        }
        me.published = Some((cp.size, note.into()));
        Ok(me)
    }

    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), LedgerError> {
        self.storage.write(path, bytes).map_err(io_at(path))
    }

    fn remove_partials(&self, tile: &Tile) -> Result<(), LedgerError> {
        let path = Tile { width: 256, ..*tile }.path();
        self.storage.remove_partials(&path).map_err(io_at(path))
    }

    fn bundle_bytes(entries: &[[u8; ENTRY_LEN]]) -> Vec<u8> {
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        encode_bundle(&refs).unwrap_or_default()
    }

    /// Adds entries and writes every tile they touch (not yet durable).
    fn integrate(&mut self, entries: &[[u8; ENTRY_LEN]]) -> Result<(), LedgerError> {
        // Only tiles that were partial before this step can have partial
        // files to clean up once they are full.
        let mut had_partial: Vec<Tile> = self.edge.partial_tiles().into_iter().map(|(t, _)| t).collect();
        if !self.bundle.is_empty() {
            had_partial.push(Tile { level: None, index: self.edge.size() / TILE_WIDTH, width: 0 });
        }
        let was_partial = |t: &Tile| had_partial.iter().any(|p| p.level == t.level && p.index == t.index);
        let mut full = Vec::new();
        for entry in entries {
            self.edge.push(leaf_hash(entry), &mut full);
            self.bundle.push(*entry);
            if self.bundle.len() as u64 == TILE_WIDTH {
                let tile = Tile { level: None, index: self.edge.size() / TILE_WIDTH - 1, width: 256 };
                self.write(&tile.path(), &Self::bundle_bytes(&self.bundle))?;
                if was_partial(&tile) {
                    self.filled.push(tile);
                }
                self.bundle.clear();
            }
        }
        for t in &full {
            let bytes: Vec<u8> = t.hashes.iter().flatten().copied().collect();
            self.write(&t.tile.path(), &bytes)?;
            if was_partial(&t.tile) {
                self.filled.push(t.tile);
            }
        }
        for (tile, hashes) in self.edge.partial_tiles() {
            let bytes: Vec<u8> = hashes.iter().flatten().copied().collect();
            self.write(&tile.path(), &bytes)?;
        }
        if !self.bundle.is_empty() {
            let tile = Tile { level: None, index: self.edge.size() / TILE_WIDTH, width: self.bundle.len() as u16 };
            self.write(&tile.path(), &Self::bundle_bytes(&self.bundle))?;
        }
        Ok(())
    }

    /// Makes the tiles durable, then signs and publishes a checkpoint.
    fn publish(&mut self) -> Result<(u64, Arc<str>), LedgerError> {
        let size = self.edge.size();
        if let Some((published, note)) = &self.published
            && *published == size
        {
            return Ok((size, note.clone()));
        }
        self.storage.sync().map_err(io_at("log"))?;
        let cp =
            Checkpoint { origin: self.signer.name().to_string(), size, root: self.edge.root(), extensions: Vec::new() };
        let note = self.signer.sign(&cp.to_text()).map_err(|e| LedgerError::Inconsistent(e.to_string()))?;
        {
            let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.storage.publish_checkpoint(note.as_bytes()).map_err(io_at("checkpoint"))?;
            *file = CheckpointFile { size, cosigned: None };
        }
        let mut frame = (note.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(note.as_bytes());
        self.history.write_all(&frame).and_then(|()| self.history.sync_data()).map_err(io_at(HISTORY))?;
        for tile in std::mem::take(&mut self.filled) {
            self.remove_partials(&tile)?;
        }
        let note: Arc<str> = note.into();
        self.published = Some((size, note.clone()));
        Ok((size, note))
    }
}

impl Integrator {
    /// Integrates what the sequencer hands over, at most one checkpoint per
    /// `interval`, until the sequencer ends or a write fails.
    fn run(
        mut self,
        entries: &std::sync::mpsc::Receiver<Vec<[u8; ENTRY_LEN]>>,
        state: &watch::Sender<LogState>,
        failed: &Failure,
        interval: Duration,
        _lock: Arc<File>,
    ) {
        let mut last_publish = Instant::now();
        while let Ok(first) = entries.recv() {
            let since = last_publish.elapsed();
            if since < interval {
                std::thread::sleep(interval - since);
            }
            let mut batches = vec![first];
            batches.extend(entries.try_iter());
            // One pass per step: partial tiles are written once, not once
            // per sequencer group.
            let result = self.integrate(&batches.concat()).and_then(|()| self.publish());
            last_publish = Instant::now();
            match result {
                Ok((size, checkpoint)) => state.send_modify(|s| {
                    s.published = size;
                    s.checkpoint = checkpoint;
                }),
                Err(e) => return failed.set("integration", &e),
            }
        }
    }
}

/// Why the log stopped taking appends, shared by its threads and handles.
#[derive(Clone, Default)]
struct Failure(Arc<Mutex<Option<String>>>);

impl Failure {
    fn set(&self, stage: &str, e: &LedgerError) {
        tracing::error!(error = %e, stage, "audit log write failed; appends stop until restart");
        if let Ok(mut f) = self.0.lock() {
            *f = Some(e.to_string());
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|f| f.clone())
    }
}

/// The sequencer thread's state: the journal and the next index.
struct Sequencer {
    journal: Journal,
    next: u64,
    last_logged: i64,
    clock: Arc<dyn Clock>,
    max_group: usize,
    state: Arc<watch::Sender<LogState>>,
    failed: Failure,
    entries: std::sync::mpsc::Sender<Vec<[u8; ENTRY_LEN]>>,
    _lock: Arc<File>,
}

type Reply = oneshot::Sender<Result<Range<u64>, LedgerError>>;

impl Sequencer {
    /// Takes every job waiting (up to `max_group` events) and commits the
    /// appends among them as one group, until the last handle is dropped.
    fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.blocking_recv() {
            let mut group: Vec<(Vec<Item>, Reply)> = Vec::new();
            let mut count = 0usize;
            let mut waiting = Some(job);
            while let Some(job) = waiting.take() {
                match job {
                    Job::Append { items, reply } => {
                        count += items.len();
                        group.push((items, reply));
                    }
                    Job::Prune { class, expired, reply } => {
                        let _ = reply.send(self.journal.prune(class, expired).map_err(Into::into));
                    }
                }
                if count < self.max_group {
                    waiting = jobs.try_recv().ok();
                }
            }
            if !group.is_empty() && !self.commit(group, count) {
                return;
            }
        }
    }

    /// Journals one group and answers its callers; false once the
    /// integrator is gone.
    fn commit(&mut self, group: Vec<(Vec<Item>, Reply)>, count: usize) -> bool {
        if let Some(reason) = self.failed.get() {
            for (_, reply) in group {
                let _ = reply.send(Err(LedgerError::Stopped(reason.clone())));
            }
            return true;
        }
        self.last_logged = self.last_logged.max(micros(self.clock.as_ref()));
        let logged_at_us = self.last_logged;
        let mut records = Vec::with_capacity(count);
        let mut entries = Vec::with_capacity(count);
        let mut answers = Vec::with_capacity(group.len());
        for (items, reply) in group {
            let start = self.next;
            for item in items {
                entries.push(Entry { logged_at_us, class: item.class, commitment: item.commitment }.encode());
                records.push(Record {
                    index: self.next,
                    logged_at_us,
                    class: item.class,
                    salt: item.salt,
                    event: item.bytes,
                });
                self.next += 1;
            }
            answers.push((start..self.next, reply));
        }
        match self.journal.append(&records) {
            Ok(()) => {
                // Sequenced first: a caller told its events are durable may
                // look for them at once (the query index reads up to here).
                self.state.send_modify(|s| s.sequenced = self.next);
                for (range, reply) in answers {
                    let _ = reply.send(Ok(range));
                }
                self.entries.send(entries).is_ok()
            }
            Err(e) => {
                // Appends stop here. What of the group reached the disk is
                // kept (if complete) or cut off by the next start's recovery;
                // its callers were told it failed and may send it again.
                let e = LedgerError::from(e);
                self.failed.set("journal", &e);
                for (_, reply) in answers {
                    let _ = reply.send(Err(LedgerError::Stopped(e.to_string())));
                }
                true
            }
        }
    }
}

/// Reads the checkpoint history: every signed checkpoint ever published.
pub fn read_history(dir: &Path) -> io::Result<Vec<String>> {
    let mut bytes = Vec::new();
    match File::open(dir.join(HISTORY)) {
        Ok(mut f) => f.read_to_end(&mut bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut notes = Vec::new();
    let mut rest = bytes.as_slice();
    while rest.len() >= 4 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(note) = rest.get(4..4 + len) else { break };
        notes.push(String::from_utf8_lossy(note).into_owned());
        rest = &rest[4 + len..];
    }
    Ok(notes)
}

fn proof_error(e: ProveError<TileReadError<LedgerError>>) -> LedgerError {
    match e {
        ProveError::Invalid(reason) => LedgerError::ProofRequest(reason),
        ProveError::Read(TileReadError::Read(e)) => e,
        ProveError::Read(e) => LedgerError::Inconsistent(e.to_string()),
    }
}

fn micros(clock: &dyn Clock) -> i64 {
    clock.now().as_microsecond()
}

impl Ledger {
    /// Opens (creating) the log in `options.dir`, integrates what the journal
    /// holds beyond the last checkpoint, publishes a checkpoint and starts
    /// the sequencer and integrator threads.
    pub fn open(options: LedgerOptions, signer: Signer, clock: Arc<dyn Clock>) -> Result<Self, LedgerError> {
        let dir = options.dir.clone();
        fs::create_dir_all(&dir).map_err(io_at(dir.display().to_string()))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(io_at("lock"))?;
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(LedgerError::Locked(dir.display().to_string()));
        }
        let storage = Arc::new(DirStorage::open(log_dir(&dir)).map_err(io_at(dir.display().to_string()))?);
        fs::create_dir_all(dir.join("state")).map_err(io_at("state"))?;
        let history = OpenOptions::new().create(true).append(true).open(dir.join(HISTORY)).map_err(io_at(HISTORY))?;
        let verifier = signer.verifier();
        let origin = signer.name().to_string();
        let mut integrator = Integrator::restore(storage.clone(), signer, history)?;
        let mut journal = Journal::open(journal_dir(&dir))?;
        let pending = journal.recover(integrator.edge.size())?;
        let last_logged = pending.last().map_or(i64::MIN, |r| r.logged_at_us);
        if !pending.is_empty() {
            tracing::info!(events = pending.len(), from = integrator.edge.size(), "integrating journalled events");
            let entries: Vec<[u8; ENTRY_LEN]> = pending.iter().map(|r| r.entry().encode()).collect();
            integrator.integrate(&entries)?;
        }
        let (size, checkpoint) = integrator.publish()?;
        let file = integrator.file.clone();
        let (state_tx, state) = watch::channel(LogState { sequenced: size, published: size, checkpoint });
        let state_tx = Arc::new(state_tx);
        let (jobs, job_rx) = mpsc::channel::<Job>(1024);
        let (entries_tx, entries_rx) = std::sync::mpsc::channel::<Vec<[u8; ENTRY_LEN]>>();
        let failed = Failure::default();
        // Held until the last thread of this log ends.
        let lock = Arc::new(lock);

        let sequencer = Sequencer {
            journal,
            next: size,
            last_logged,
            clock,
            max_group: options.max_group,
            state: state_tx.clone(),
            failed: failed.clone(),
            entries: entries_tx,
            _lock: lock.clone(),
        };
        let sequencer = std::thread::Builder::new()
            .name("audit-sequencer".into())
            .spawn(move || sequencer.run(job_rx))
            .map_err(io_at("audit-sequencer thread"))?;
        let (interval, int_failed) = (options.checkpoint_interval, failed.clone());
        let integrator = std::thread::Builder::new()
            .name("audit-integrator".into())
            .spawn(move || integrator.run(&entries_rx, &state_tx, &int_failed, interval, lock))
            .map_err(io_at("audit-integrator thread"))?;
        let threads = Arc::new(Mutex::new(vec![sequencer, integrator]));

        Ok(Self { jobs, state, file, storage, verifier, origin, journal_dir: journal_dir(&dir), failed, threads })
    }

    /// Closes this handle. The last handle to close waits until everything
    /// appended is integrated and the log's lock is released, so the
    /// directory can be opened again at once.
    pub fn close(self) {
        let Self { jobs, threads, .. } = self;
        drop(jobs);
        if let Some(threads) = Arc::into_inner(threads) {
            for thread in threads.into_inner().unwrap_or_default() {
                let _ = thread.join();
            }
        }
    }

    /// Appends prepared events; returns their indexes once they are durable.
    pub async fn append(&self, events: Vec<PreparedEvent>) -> Result<Range<u64>, LedgerError> {
        let items = Self::items(events)?;
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Append { items, reply }).await.map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// [`Ledger::append`] for threads outside the async runtime.
    pub fn append_blocking(&self, events: Vec<PreparedEvent>) -> Result<Range<u64>, LedgerError> {
        let items = Self::items(events)?;
        let (reply, answer) = oneshot::channel();
        self.jobs.blocking_send(Job::Append { items, reply }).map_err(|_| self.stopped())?;
        answer.blocking_recv().map_err(|_| self.stopped())?
    }

    fn items(events: Vec<PreparedEvent>) -> Result<Vec<Item>, LedgerError> {
        let mut salts = vec![0u8; events.len() * SALT_LEN];
        getrandom::fill(&mut salts).map_err(|e| io_at("random salt")(io::Error::other(e.to_string())))?;
        Ok(events
            .into_iter()
            .zip(salts.chunks_exact(SALT_LEN))
            .map(|(e, salt)| {
                let salt: [u8; SALT_LEN] = salt.try_into().unwrap_or([0; SALT_LEN]);
                Item { class: e.class, commitment: commitment(&salt, &e.bytes), salt, bytes: e.bytes }
            })
            .collect())
    }

    fn stopped(&self) -> LedgerError {
        LedgerError::Stopped(self.failure().unwrap_or_else(|| "the audit log has shut down".into()))
    }

    /// Deletes journal segments of `class` whose day ended at a time for
    /// which `expired` says yes.
    pub async fn prune(
        &self,
        class: RetentionClass,
        expired: impl FnMut(i64) -> bool + Send + 'static,
    ) -> Result<Pruned, LedgerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Prune { class, expired: Box::new(expired), reply }).await.map_err(|_| self.stopped())?;
        answer.await.map_err(|_| self.stopped())?
    }

    /// Why appends are refused, if they are.
    pub fn failure(&self) -> Option<String> {
        self.failed.get()
    }

    /// The current state.
    pub fn state(&self) -> LogState {
        self.state.borrow().clone()
    }

    /// Subscribes to state changes.
    pub fn watch(&self) -> watch::Receiver<LogState> {
        self.state.clone()
    }

    /// Waits until a checkpoint covers `size` events.
    pub async fn wait_published(&self, size: u64) -> LogState {
        let mut rx = self.state.clone();
        match rx.wait_for(|s| s.published >= size).await {
            Ok(state) => state.clone(),
            Err(_) => self.state(),
        }
    }

    /// The verifier key of the log.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The journal directory (for readers such as the query index).
    pub fn journal_dir(&self) -> &Path {
        &self.journal_dir
    }

    /// The published checkpoint, with the witnesses' cosignatures once they
    /// are attached.
    pub fn checkpoint(&self) -> Arc<str> {
        // Never hold the state's read lock while waiting for `file`:
        // attach_cosignatures takes them the other way round.
        let (published, plain) = {
            let state = self.state.borrow();
            (state.published, state.checkpoint.clone())
        };
        let file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &file.cosigned {
            Some(note) if file.size == published => note.clone(),
            _ => plain,
        }
    }

    /// Replaces the published checkpoint of `size` events with its cosigned
    /// form `note` (the same text and log signature plus cosignature
    /// lines), on disk and as served. Returns false if a newer checkpoint
    /// was published meanwhile (nothing is changed then).
    pub fn attach_cosignatures(&self, size: u64, note: &str) -> Result<bool, LedgerError> {
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.state.borrow().checkpoint.clone();
        let same_text = matches!((split_note(note), split_note(&current)), (Ok((a, _)), Ok((b, _))) if a == b);
        if file.size != size || !same_text {
            return Ok(false);
        }
        open(note, std::slice::from_ref(&self.verifier))
            .map_err(|e| LedgerError::Inconsistent(format!("cosigned checkpoint: {e}")))?;
        self.storage.publish_checkpoint(note.as_bytes()).map_err(io_at("checkpoint"))?;
        file.cosigned = Some(note.into());
        Ok(true)
    }

    /// The consistency proof from the tree of `old` events to the tree of
    /// `size` events (both published), read from the stored tiles.
    pub fn consistency_proof(&self, old: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        let mut tiles = TileHashes::new(size, |t: &Tile| self.read(&t.path()));
        prove_consistency(old, size, &mut |lo, hi| tiles.range(lo, hi)).map_err(proof_error)
    }

    /// The inclusion proof of event `index` in the tree of `size` events.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        let mut tiles = TileHashes::new(size, |t: &Tile| self.read(&t.path()));
        prove_inclusion(index, size, &mut |lo, hi| tiles.range(lo, hi)).map_err(proof_error)
    }

    /// A public log file by its tlog-tiles path. A partial tile that has
    /// been replaced by its full tile is cut from the full one.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        if path == "checkpoint" {
            return Ok(Some(self.checkpoint().as_bytes().to_vec()));
        }
        let tile = Tile::parse(path).map_err(LedgerError::NotATile)?;
        read_tile(&self.storage, &tile)
    }
}
