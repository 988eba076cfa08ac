//! `kind = "tls"`: a TLS endpoint's certificate — days until it expires
//! and whether its chain is valid — read even when the certificate has
//! expired or the chain is broken, because then the operator needs the
//! details most. A recording verifier asks the normal WebPKI verifier,
//! keeps its verdict, and lets the handshake finish either way; the
//! connection is closed right after, nothing is sent over it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{Outcome, Probe, Run};
use crate::config::{Defaults, FieldError, host_port};
use crate::error::{chain, connecting};
use crate::{ProbeError, ProbeResult};

/// The keys of a `tls` probe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// tls: the name the certificate must be valid for; unset: the target's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// A TLS endpoint and the name its certificate must be valid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProbe {
    /// `host:port`.
    pub address: String,
    /// The name the certificate must be valid for (SNI).
    pub server_name: String,
}

/// What a TLS probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsResult {
    /// Success means: handshake done and the chain verified.
    pub probe: ProbeResult,
    /// The leaf certificate's `notAfter` (seconds since the epoch).
    pub not_after: Option<i64>,
    /// The leaf certificate's subject.
    pub subject: Option<String>,
}

impl TlsResult {
    /// Days from `now` (seconds since the epoch) until expiry; negative once expired.
    pub fn days_left(&self, now: i64) -> Option<f64> {
        self.not_after.map(|t| (t - now) as f64 / 86_400.0)
    }

    /// Why the chain does not verify (`None`: it does, or no handshake).
    pub fn chain_error(&self) -> Option<&str> {
        match &self.probe.error {
            Some(ProbeError::Certificate { detail }) => Some(detail),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<Result<(), String>>>,
    leaf: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        if let Ok(mut v) = self.verdict.lock() {
            *v = Some(verdict.map(|_| ()).map_err(|e| e.to_string()));
        }
        if let Ok(mut l) = self.leaf.lock() {
            *l = Some(end_entity.to_vec());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The system's trusted roots.
pub fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

impl TlsProbe {
    /// Probes the certificate at `address` (`host:port`) for `server_name`.
    pub fn new(address: impl Into<String>, server_name: impl Into<String>) -> Self {
        Self { address: address.into(), server_name: server_name.into() }
    }

    /// Shakes hands within `timeout`, trusting `roots`, and reads the
    /// certificate.
    pub async fn inspect(&self, roots: Arc<RootCertStore>, timeout: Duration) -> TlsResult {
        let start = Instant::now();
        let address = &self.address;
        let fail = |error: ProbeError| TlsResult {
            probe: ProbeResult::failed(start.elapsed(), None, error),
            not_after: None,
            subject: None,
        };
        let inner = match WebPkiServerVerifier::builder(roots).build() {
            Ok(v) => v,
            Err(e) => return fail(ProbeError::Setup { detail: format!("no trusted roots: {e}") }),
        };
        let recording = Arc::new(Recording { inner, verdict: Mutex::new(None), leaf: Mutex::new(None) });
        let config = rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(recording.clone())
            .with_no_client_auth();
        let Ok(name) = ServerName::try_from(self.server_name.clone()) else {
            return fail(ProbeError::Setup { detail: format!("{:?} is not a valid server name", self.server_name) });
        };
        let doing = format!("TLS handshake with {address}");
        let handshake = async {
            let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| connecting(doing.clone(), &e))?;
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| handshake_failed(&doing, &e))
        };
        match tokio::time::timeout(timeout, handshake).await {
            Ok(Ok(_stream)) => {}
            Ok(Err(e)) => return fail(e),
            Err(_) => return fail(ProbeError::Timeout { doing: Some(doing), after: timeout }),
        }
        let duration = start.elapsed();
        let leaf = recording.leaf.lock().ok().and_then(|l| l.clone());
        let verdict = recording.verdict.lock().ok().and_then(|v| v.clone());
        let (not_after, subject) = match leaf.as_deref().map(x509_parser::parse_x509_certificate) {
            Some(Ok((_, cert))) => (Some(cert.validity().not_after.timestamp()), Some(cert.subject().to_string())),
            _ => (None, None),
        };
        let probe = match verdict {
            Some(Ok(())) => ProbeResult::ok(duration, None),
            Some(Err(detail)) => ProbeResult::failed(duration, None, ProbeError::Certificate { detail }),
            None => ProbeResult::failed(
                duration,
                None,
                ProbeError::Certificate { detail: "the server sent no certificate".into() },
            ),
        };
        TlsResult { probe, not_after, subject }
    }
}

/// A failed handshake: a connection refused, an answer that is not TLS,
/// or a TLS error.
fn handshake_failed(doing: &str, e: &std::io::Error) -> ProbeError {
    let detail = chain(e);
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidMessage(_)) => ProbeError::Malformed { detail: format!("{doing}: {detail}") },
        Some(_) => ProbeError::Tls { doing: doing.to_string(), detail },
        None if e.kind() == std::io::ErrorKind::ConnectionRefused => connecting(doing.to_string(), e),
        None => ProbeError::Tls { doing: doing.to_string(), detail },
    }
}

impl Probe for TlsProbe {
    type Config = Config;

    /// At a daily interval a retry would come a day late.
    const RETRIES: u32 = 0;

    fn default_interval(defaults: &Defaults) -> leitstand_core::time_limit::Duration {
        defaults.certificate_interval
    }

    fn from_config(target: &str, c: &Config) -> Result<Self, Vec<FieldError>> {
        if !host_port(target) {
            return Err(vec![FieldError::new("target", format!("{target:?} is not host:port"))]);
        }
        let host = target.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or_default();
        let server_name = c.server_name.clone().unwrap_or_else(|| host.to_string());
        if ServerName::try_from(server_name.clone()).is_err() {
            return Err(vec![FieldError::new("server_name", format!("{server_name:?} is not a valid server name"))]);
        }
        Ok(Self::new(target, server_name))
    }

    fn target(&self) -> &str {
        &self.address
    }

    async fn run(&self, run: &Run<'_>) -> Outcome {
        let tls = self.inspect(run.roots.clone(), run.timeout).await;
        Outcome { result: tls.probe, cert_not_after: tls.not_after, cert_subject: tls.subject }
    }
}
