//! The audit log's database side: the query index of the journal (with its
//! cursors and the outbox of commands run beside the server), and the
//! interim table of the first releases.

mod index;
mod interim;

pub use index::{AuditLogRepository, AuditQuery, IndexedEvent};
pub use interim::{AuditEvent, AuditRepository};
