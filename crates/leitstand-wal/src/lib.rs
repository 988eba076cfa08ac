//! The write-ahead log between the alert intake and the alert engine.
//!
//! The intake writes each accepted batch of alerts here and answers the
//! sender once it is on disk; the engine reads the log behind it and records,
//! in its own database transaction, how far it has applied. So a crash loses
//! nothing that was acknowledged (it is in the log) and applies nothing twice
//! (the engine's position commits together with what it applied). Records
//! are opaque bytes: what they mean is the intake's and the engine's business.
//!
//! The log is a directory of segment files, `<first seq, 20 digits>.wal`,
//! each starting with the magic [`MAGIC`] and holding records
//!
//! ```text
//! u32 LE length of body | u32 LE CRC-32C of body | body: u64 BE seq | payload
//! ```
//!
//! with sequence numbers counting up by one from 1, across segments. Whole
//! segments are deleted once the engine has applied them
//! ([`Wal::remove_through`]), so retention never rewrites a file.
//!
//! - [`Wal`] appends (one write and one fsync per batch) and recovers on
//!   open: a torn record at the end of the newest segment — a write that
//!   never completed and so was never acknowledged — is cut off; anything
//!   else that does not check out is reported, never repaired.
//! - [`Committer`] runs a [`Wal`] on its own thread and lets many async
//!   callers share each fsync (group commit); it publishes how far the log is
//!   durable.
//! - [`WalTail`] follows the log from a sequence number, reading only what is
//!   durable and only what is new since its last call.

mod commit;
mod error;
mod format;
mod tail;
mod wal;

#[cfg(test)]
mod tests;

pub use commit::Committer;
pub use error::WalError;
pub use format::{MAGIC, MAX_PAYLOAD};
pub use tail::WalTail;
pub use wal::{Recovered, Wal, WalOptions};
