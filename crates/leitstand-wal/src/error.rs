//! One error type for the writer, the tail and the committer. It is `Clone`
//! because one failed group commit has to answer every caller in the group.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::format::MAX_PAYLOAD;

/// Why the log could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WalError {
    /// Reading or writing a file or the directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error (shared, so the error can be cloned).
        source: Arc<io::Error>,
    },
    /// Bytes that are not a valid record (or segment header) where one must
    /// be, and that are not a torn write that recovery may cut off.
    #[error("{path}: damaged at byte {offset}: {reason}")]
    Damaged {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the record (0: the segment header).
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A sequence number out of order: a gap between or within segments, or
    /// a segment whose name does not match its records.
    #[error(
        "{path}, byte {offset}: sequence number {found} where {expected} was expected (a gap or a misnamed segment)"
    )]
    Sequence {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the record (0: the number in the file name).
        offset: u64,
        /// The sequence number that should be there.
        expected: u64,
        /// The one that is.
        found: u64,
    },
    /// A `.wal` file whose name is not a segment name.
    #[error("{0}: a .wal file whose name is not <first sequence number as 20 digits>.wal")]
    BadName(PathBuf),
    /// The tail was asked for records that have been removed already.
    #[error("records from {from} on were asked for, but the oldest record retained is {oldest}")]
    Missing {
        /// The first sequence number asked for.
        from: u64,
        /// The oldest one the log still has.
        oldest: u64,
    },
    /// A payload over [`MAX_PAYLOAD`] bytes.
    #[error("a record payload of {len} bytes is over the limit of {MAX_PAYLOAD} bytes")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// A write failed and could not be undone, so what the segment holds is
    /// unknown; appends are refused until the log is opened again (whose
    /// recovery sorts it out).
    #[error("the write-ahead log refuses appends after a write error it could not undo: {0}")]
    Failed(Arc<str>),
    /// The committer's thread has ended.
    #[error("the write-ahead log's commit thread has stopped")]
    Closed,
}

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io { path: path.to_path_buf(), source: Arc::new(source) }
}
