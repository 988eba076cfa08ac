//! The audit log: the trail's API and page, the public log for third-party
//! verification, and the witness that cosigns other logs.

pub(crate) mod api;
pub(crate) mod log;
pub(crate) mod pages;
pub(crate) mod witness;
