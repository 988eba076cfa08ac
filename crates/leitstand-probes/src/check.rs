//! One configured check of any kind, run through one entry point: the
//! scheduler needs no knowledge of HTTP, DNS or TLS, and every kind reports
//! the same [`Outcome`] and the same blackbox-exporter-style series
//! (`probe_success`, `probe_duration_seconds`, `probe_http_status_code`,
//! `probe_ssl_earliest_cert_expiry`), so rules written for Prometheus's
//! blackbox exporter read Leitstand's probes unchanged.
//!
//! Each kind implements [`Probe`]; the list of kinds is the
//! `probe_kinds!` invocation in `lib.rs` (see `kinds.rs`), which generates
//! [`Kind`] and [`Check`] from it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ProbeResult;
use crate::client::Clients;
use crate::config::{Defaults, FieldError};
pub use crate::{Check, Kind, KindConfigs};

/// What every probe kind provides (its folder's `mod.rs` implements it).
pub trait Probe: Sized {
    /// The keys only this kind has in a `[[monitoring.probes]]` table. Every
    /// field is optional and skipped when serialising an unset value: an
    /// entry of another kind that sets one is refused by that key's name.
    type Config: Clone + Default + fmt::Debug + PartialEq + Serialize + DeserializeOwned + JsonSchema;

    /// Failed runs in a row tolerated before the target counts as down,
    /// when the entry sets no `retries`.
    const RETRIES: u32 = 1;

    /// How often it runs when the entry sets no `interval`.
    fn default_interval(defaults: &Defaults) -> leitstand_core::time_limit::Duration {
        defaults.interval
    }

    /// The probe of `target` as `config` says, or every problem, each
    /// naming its key (`target` first).
    fn from_config(target: &str, config: &Self::Config) -> Result<Self, Vec<FieldError>>;

    /// What is checked, as the `instance` label says it.
    fn target(&self) -> &str;

    /// One run.
    fn run(&self, run: &Run<'_>) -> impl Future<Output = Outcome> + Send;
}

/// What one run of any probe is given.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    /// The shared HTTP clients.
    pub clients: &'a Clients,
    /// The roots TLS probes trust.
    pub roots: &'a Arc<RootCertStore>,
    /// The time limit of the whole run.
    pub timeout: Duration,
    /// This run's id (the cXML request's payload id is made from it).
    pub id: &'a str,
    /// The run's start, RFC 3339 (time is passed in).
    pub now_rfc3339: &'a str,
}

/// What one run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Duration, status, and why it failed.
    pub result: ProbeResult,
    /// For TLS probes: the leaf certificate's `notAfter` (seconds since the epoch).
    pub cert_not_after: Option<i64>,
    /// For TLS probes: the leaf certificate's subject.
    pub cert_subject: Option<String>,
}

impl From<ProbeResult> for Outcome {
    fn from(result: ProbeResult) -> Self {
        Self { result, cert_not_after: None, cert_subject: None }
    }
}

/// What every run shares: HTTP clients (connection reuse) and trusted roots.
#[derive(Clone)]
pub struct Checker {
    clients: Clients,
    roots: Arc<RootCertStore>,
}

impl Checker {
    /// A checker trusting `roots`. The TLS crypto provider must be installed.
    pub fn new(roots: RootCertStore) -> Result<Self, reqwest::Error> {
        Ok(Self { clients: Clients::new()?, roots: Arc::new(roots) })
    }

    /// The HTTP clients (scraping uses them too).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Runs `check` within `timeout`. `run_id` and `now_rfc3339` stamp
    /// the cXML request (payload id and timestamp; time is passed in).
    pub async fn run(&self, check: &Check, timeout: Duration, run_id: &str, now_rfc3339: &str) -> Outcome {
        let run = Run { clients: &self.clients, roots: &self.roots, timeout, id: run_id, now_rfc3339 };
        check.run(&run).await
    }
}

impl Outcome {
    /// The series values of this run, by metric name (blackbox exporter's
    /// names and units).
    pub fn samples(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("probe_success", if self.result.success() { 1.0 } else { 0.0 }),
            ("probe_duration_seconds", self.result.duration.as_secs_f64()),
        ];
        if let Some(status) = self.result.status {
            out.push(("probe_http_status_code", f64::from(status)));
        }
        if let Some(not_after) = self.cert_not_after {
            out.push(("probe_ssl_earliest_cert_expiry", not_after as f64));
        }
        out
    }
}
