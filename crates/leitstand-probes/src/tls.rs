//! TLS certificate probes: days until the server's certificate expires and
//! whether its chain is valid — read even when the certificate has expired
//! or the chain is broken, because then the operator needs the details
//! most. A recording verifier asks the normal WebPKI verifier, keeps its
//! verdict, and lets the handshake finish either way; the connection is
//! closed right after, nothing is sent over it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::ProbeResult;

/// What a TLS probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsResult {
    /// Success means: handshake done and the chain verified.
    pub probe: ProbeResult,
    /// The leaf certificate's `notAfter` (seconds since the epoch).
    pub not_after: Option<i64>,
    /// The leaf certificate's subject.
    pub subject: Option<String>,
    /// Why the chain does not verify (`None`: it does).
    pub chain_error: Option<String>,
}

impl TlsResult {
    /// Days from `now` (seconds since the epoch) until expiry; negative once expired.
    pub fn days_left(&self, now: i64) -> Option<f64> {
        self.not_after.map(|t| (t - now) as f64 / 86_400.0)
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

/// Probes the certificate at `address` (`host:port`) for `server_name`.
pub async fn probe(address: &str, server_name: &str, roots: Arc<RootCertStore>, timeout: Duration) -> TlsResult {
    let start = Instant::now();
    let fail = |message: String| TlsResult {
        probe: ProbeResult::failed(start.elapsed(), None, message),
        not_after: None,
        subject: None,
        chain_error: None,
    };
    let inner = match WebPkiServerVerifier::builder(roots).build() {
        Ok(v) => v,
        Err(e) => return fail(format!("no trusted roots: {e}")),
    };
    let recording = Arc::new(Recording { inner, verdict: Mutex::new(None), leaf: Mutex::new(None) });
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(recording.clone())
        .with_no_client_auth();
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(n) => n,
        Err(_) => return fail(format!("{server_name:?} is not a valid server name")),
    };
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(address).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await
    };
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(_stream)) => {}
        Ok(Err(e)) => return fail(format!("TLS handshake with {address}: {e}")),
        Err(_) => return fail(format!("TLS handshake with {address}: no answer within {timeout:?}")),
    }
    let duration = start.elapsed();
    let leaf = recording.leaf.lock().ok().and_then(|l| l.clone());
    let verdict = recording.verdict.lock().ok().and_then(|v| v.clone());
    let (not_after, subject) = match leaf.as_deref().map(x509_parser::parse_x509_certificate) {
        Some(Ok((_, cert))) => (Some(cert.validity().not_after.timestamp()), Some(cert.subject().to_string())),
        _ => (None, None),
    };
    let chain_error = match verdict {
        Some(Ok(())) => None,
        Some(Err(e)) => Some(e),
        None => Some("the server sent no certificate".into()),
    };
    let probe = match &chain_error {
        None => ProbeResult::ok(duration, None),
        Some(e) => ProbeResult::failed(duration, None, format!("certificate not valid: {e}")),
    };
    TlsResult { probe, not_after, subject, chain_error }
}
