//! External availability checks ("Uptime" in the seed's observability
//! table) and scraping of metrics endpoints: HTTP(S), TCP, DNS, TLS and
//! cXML probes that report success, duration and why
//! they failed, and the retry rule that turns single failures into an
//! up/down state with exact transition times — the raw material for
//! availability per the EVB-IT formula.
//!
//! Every probe has its own timeout, so one slow target never delays the
//! others: [`schedule`] keeps one timer for all jobs and the runtime runs
//! each due check as its own task; [`check::Checker`] is the one entry
//! point for every kind of check.

pub mod check;
pub mod cxml;
pub mod dns;
pub mod http;
pub mod schedule;
pub mod scrape;
pub mod state;
pub mod tcp;
pub mod tls;

use std::time::Duration;

/// The outcome of one probe run.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Whether every expectation held.
    pub success: bool,
    /// Time from start to the answer (or the failure).
    pub duration: Duration,
    /// HTTP status, for HTTP probes that got an answer.
    pub status: Option<u16>,
    /// Why it failed (empty on success).
    pub message: String,
}

impl ProbeResult {
    fn ok(duration: Duration, status: Option<u16>) -> Self {
        Self { success: true, duration, status, message: String::new() }
    }

    fn failed(duration: Duration, status: Option<u16>, message: impl Into<String>) -> Self {
        Self { success: false, duration, status, message: message.into() }
    }
}
