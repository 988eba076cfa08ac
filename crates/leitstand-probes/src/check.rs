//! One configured check of any kind, run through one entry point: the
//! scheduler needs no knowledge of HTTP, DNS or TLS, and every kind reports
//! the same [`Outcome`] and the same blackbox-exporter-style series
//! (`probe_success`, `probe_duration_seconds`, `probe_http_status_code`,
//! `probe_ssl_earliest_cert_expiry`), so rules written for Prometheus's
//! blackbox exporter read Leitstand's probes unchanged.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;

use crate::ProbeResult;
use crate::cxml::Credentials;
use crate::http::{Clients, HttpProbe};

/// What a probe checks.
#[derive(Debug, Clone)]
pub enum Check {
    /// An HTTP(S) request and its expectations.
    Http(HttpProbe),
    /// A TCP connect to `host:port`.
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// A name resolves (to one of `expected`, if given).
    Dns {
        /// The name.
        name: String,
        /// Accepted addresses; empty: any.
        expected: Vec<IpAddr>,
    },
    /// A TLS endpoint's certificate: expiry and chain.
    Tls {
        /// `host:port`.
        address: String,
        /// The name the certificate must be valid for (SNI).
        server_name: String,
    },
    /// The cXML interface answers a `ProfileRequest`.
    Cxml {
        /// The cXML endpoint.
        url: String,
        /// The request header's credentials.
        credentials: Credentials,
    },
}

impl Check {
    /// The kind, as the `probe` label says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Http(_) => "http",
            Check::Tcp { .. } => "tcp",
            Check::Dns { .. } => "dns",
            Check::Tls { .. } => "tls",
            Check::Cxml { .. } => "cxml",
        }
    }

    /// What is checked, as the `instance` label says it.
    pub fn target(&self) -> &str {
        match self {
            Check::Http(h) => &h.url,
            Check::Tcp { address } | Check::Tls { address, .. } => address,
            Check::Dns { name, .. } => name,
            Check::Cxml { url, .. } => url,
        }
    }
}

/// What one run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Success, duration, status, message.
    pub result: ProbeResult,
    /// For TLS probes: the leaf certificate's `notAfter` (seconds since the epoch).
    pub cert_not_after: Option<i64>,
    /// For TLS probes: the leaf certificate's subject.
    pub cert_subject: Option<String>,
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
        let plain = |result| Outcome { result, cert_not_after: None, cert_subject: None };
        match check {
            Check::Http(h) if h.timeout == timeout => plain(crate::http::probe(&self.clients, h).await),
            Check::Http(h) => plain(crate::http::probe(&self.clients, &HttpProbe { timeout, ..h.clone() }).await),
            Check::Tcp { address } => plain(crate::tcp::probe(address, timeout).await),
            Check::Dns { name, expected } => plain(crate::dns::probe(name, expected, timeout).await.0),
            Check::Tls { address, server_name } => {
                let tls = crate::tls::probe(address, server_name, self.roots.clone(), timeout).await;
                Outcome { result: tls.probe, cert_not_after: tls.not_after, cert_subject: tls.subject }
            }
            Check::Cxml { url, credentials } => plain(
                crate::cxml::probe(
                    &self.clients,
                    url,
                    credentials,
                    &format!("{run_id}@leitstand"),
                    now_rfc3339,
                    timeout,
                )
                .await,
            ),
        }
    }
}

impl Outcome {
    /// The series values of this run, by metric name (blackbox exporter's
    /// names and units).
    pub fn samples(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("probe_success", if self.result.success { 1.0 } else { 0.0 }),
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
