//! The intake log: where accepted alerts are durable before the sender is
//! answered. `POST /api/v2/alerts`, the Alertmanager webhook and the own
//! rules append a record (one batch, the inbox's stored form) to this
//! replica's write-ahead log, fsynced with whatever else arrived meanwhile,
//! and answer then; the engine reads the log behind them in batches of
//! thousands and stores, in the same transaction as what the records
//! changed, how far it has applied (`alert_intake_progress`).
//!
//! Why not the database: every alert of a batch costs the engine rows,
//! history, notifications and audit events under SQLite's single writer,
//! and a sender that waits for all that is held for the whole batch. The
//! log decouples the two: a burst is taken at the speed of an fsync, the
//! engine works it off in large transactions, and a crash loses nothing
//! acknowledged (the records after the stored progress are replayed) and
//! applies nothing twice (progress and changes commit together).
//!
//! The log is per replica (its directory is in the replica's data
//! directory), named by an id chosen when the directory is created, so
//! replicas on one PostgreSQL each keep their own progress.

use std::io::Write;
use std::path::{Path, PathBuf};

use leitstand_wal::{Committer, Wal, WalError, WalOptions, WalTail};
use tokio::sync::watch;

use crate::{AppError, Result};

/// The file in the log's directory that holds its id.
const ID_FILE: &str = "journal-id";

/// Why the intake log cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum IntakeOpenError {
    /// The log itself (a damaged record, no permission, …).
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The id file.
    #[error("{path}: {source}")]
    Id {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// This replica's intake log.
pub struct IntakeLog {
    journal: String,
    dir: PathBuf,
    committer: Committer,
    durable: watch::Receiver<u64>,
    /// The oldest record kept when the log was opened.
    first: u64,
}

impl std::fmt::Debug for IntakeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeLog").field("journal", &self.journal).field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl IntakeLog {
    /// Opens (or creates) the log in `dir`; a record torn by a crash at
    /// the end is cut off (it was never acknowledged), any other damage is
    /// an error.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, IntakeOpenError> {
        let dir = dir.into();
        let wal = Wal::open(dir.clone(), WalOptions::default())?;
        if let Some(cut) = wal.recovered() {
            tracing::warn!(dir = %dir.display(), ?cut, "alert intake log: a torn record at the end was cut off");
        }
        let journal = journal_id(&dir)?;
        let first = wal.first_seq();
        let (committer, durable) = Committer::spawn(wal);
        Ok(Self { journal, dir, committer, durable, first })
    }

    /// The log's id (the key of its progress in the store).
    pub fn journal(&self) -> &str {
        &self.journal
    }

    /// Appends one record; its sequence number once it is on disk.
    pub(crate) async fn append(&self, record: Vec<u8>) -> Result<u64> {
        self.committer.append(record).await.map_err(|e| AppError::IntakeUnavailable(e.to_string()))
    }

    /// The sequence number below which every record is on disk.
    pub(crate) fn durable(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }

    /// A reader from the record after `applied` (from the oldest kept if
    /// nothing is applied yet).
    pub(crate) fn tail(&self, applied: Option<i64>) -> WalTail {
        let from = applied.and_then(|a| u64::try_from(a).ok()).map_or(self.first, |a| a + 1);
        if from < self.first {
            // Only segments wholly applied are deleted, so this is a store
            // from elsewhere (restored from an older backup): say so, and go on
            // with what the log still has.
            tracing::error!(
                applied = from - 1,
                oldest = self.first,
                "alert intake log: records after the stored progress were deleted; they are not applied"
            );
            return WalTail::new(self.dir.clone(), self.first);
        }
        WalTail::new(self.dir.clone(), from)
    }

    /// Deletes the segments whose records are all applied.
    pub(crate) async fn forget_through(&self, seq: u64) {
        if let Err(e) = self.committer.remove_through(seq).await {
            tracing::warn!(error = %e, "alert intake log: applied segments not removed");
        }
    }
}

/// Reads the id of the log in `dir`, creating it (durably) the first time.
fn journal_id(dir: &Path) -> Result<String, IntakeOpenError> {
    let path = dir.join(ID_FILE);
    let err = |source| IntakeOpenError::Id { path: path.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let id = format!("intake-{}", uuid::Uuid::new_v4().simple());
    let tmp = dir.join(format!("{ID_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(id.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(err)?;
    Ok(id)
}
