//! The durable audit log: a journal of pseudonymised events made durable by
//! group commit, the public C2SP tlog-tiles tree derived from it, signed
//! checkpoints, verification and retention, and the witness that cosigns
//! other logs' checkpoints. Formats come from
//! `leitstand-ledger`; this crate adds files, threads and time.

pub mod journal;
pub mod keys;
pub mod ledger;
pub mod storage;
pub mod verify;
pub mod witness;
