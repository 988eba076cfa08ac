//! External availability checks ("Uptime" in the seed's observability
//! table) and scraping of metrics endpoints: HTTP(S), TCP, DNS, TLS and
//! cXML probes that report success, duration and why they failed, and the
//! retry rule that turns single failures into an up/down state with exact
//! transition times — the raw material for availability per the EVB-IT
//! formula.
//!
//! Every probe has its own timeout, so one slow target never delays the
//! others: [`schedule`] keeps one timer for all jobs and the runtime runs
//! each due check as its own task; [`check::Checker`] is the one entry
//! point for every kind of check.
//!
//! # Shape
//!
//! Probe kinds are shaped like the notification channels: each kind lives
//! in its own folder, `src/<kind>/mod.rs`, with the same three roles —
//!
//! - its `Config`: the keys only this kind has in a `[[monitoring.probes]]`
//!   table, decoded with serde, documented for the configuration reference
//!   with schemars, and checked here (every problem names its key), so the
//!   binary's configuration only holds the list of probes;
//! - the probe it becomes, implementing [`check::Probe`]: built from the
//!   target and the `Config`, run within a time limit;
//! - its failures as [`ProbeError`] variants, one per cause, whose text is
//!   the message people see.
//!
//! What the kinds share lives beside them: [`config`] (the keys every probe
//! has, the decoding of a whole entry, the checks of interval, labels and
//! tenant), [`client`] (the HTTP clients, the body limit and the sorting of
//! HTTP errors — `http`, `cxml` and scraping use it), [`error`], [`check`]
//! (the [`check::Probe`] trait, the one run entry point, the series every
//! run writes) and `kinds.rs` (the `probe_kinds!` macro the list below is
//! written in). Every kind passes the same contract test,
//! `tests/contract.rs`: an unreachable target, a silent one, a slow answer
//! within the time limit, a malformed answer, the series it writes, and an
//! error that names the cause.
//!
//! [`scrape`] is not a probe kind: it reads a metrics endpoint into the
//! series store rather than judging one answer, and is configured as
//! `[[monitoring.targets]]`.
//!
//! # Adding a probe kind
//!
//! 1. One folder, `src/<kind>/mod.rs`, with a `Config` (every field
//!    optional and skipped when unset, so an entry of another kind that
//!    sets it can be refused by name) and a probe type implementing
//!    [`check::Probe`].
//! 2. One line in the `probe_kinds!` list below: the `kind` value, the
//!    variant, the folder and the probe type (with a doc comment). The
//!    module declaration, the [`Kind`] and [`Check`] enums, the decoding
//!    and checking of the kind's keys, the "does not apply to a … probe"
//!    refusals, the dispatch of runs, the default interval and retries, and
//!    the kind's rows in the configuration reference follow from it.
//!
//! Then give the contract test's rig an arm that serves the kind's answers
//! on loopback; the contract's tests run for it unchanged.

#[macro_use]
mod kinds;

pub mod check;
pub mod client;
pub mod config;
pub mod error;
pub mod schedule;
pub mod scrape;
pub mod state;

probe_kinds! {
    /// An HTTP(S) request: status, latency, body keyword, JSON value.
    "http" => Http(http::HttpProbe),
    /// A TCP connect.
    "tcp" => Tcp(tcp::TcpProbe),
    /// DNS resolution (A/AAAA through the system's resolver).
    "dns" => Dns(dns::DnsProbe),
    /// A TLS endpoint's certificate: days to expiry, chain validity.
    "tls" => Tls(tls::TlsProbe),
    /// The cXML interface: a `ProfileRequest` answered by a `ProfileResponse` with status 200.
    "cxml" => Cxml(cxml::CxmlProbe),
}

use std::time::Duration;

pub use error::ProbeError;

/// The outcome of one probe run.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// Time from start to the answer (or the failure).
    pub duration: Duration,
    /// HTTP status, for HTTP probes that got an answer.
    pub status: Option<u16>,
    /// Why it failed (`None`: every expectation held).
    pub error: Option<ProbeError>,
}

impl ProbeResult {
    pub(crate) fn ok(duration: Duration, status: Option<u16>) -> Self {
        Self { duration, status, error: None }
    }

    pub(crate) fn failed(duration: Duration, status: Option<u16>, error: ProbeError) -> Self {
        Self { duration, status, error: Some(error) }
    }

    /// Whether every expectation held.
    pub fn success(&self) -> bool {
        self.error.is_none()
    }

    /// Why it failed, in words (empty on success): what the probe's page,
    /// its history and the audit log show.
    pub fn message(&self) -> String {
        self.error.as_ref().map(ToString::to_string).unwrap_or_default()
    }
}
