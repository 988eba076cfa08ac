//! The connection to the SIEM: TCP, TLS by default (RFC 5425), with the
//! server's certificate checked against a configured CA file or the system
//! roots, and an optional client certificate for mutual authentication.
//!
//! Syslog over TLS has no acknowledgements. A write that succeeds may still
//! be lost if the receiver went away a moment before, so the forwarder only
//! counts messages as delivered once [`Connection::alive`] later finds the
//! connection still open; otherwise it reconnects and resends from the last
//! confirmed event (at-least-once).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// TLS settings.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM file of the CA(s) that sign the SIEM's certificate; unset: the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    /// Name to check the certificate against; unset: the address's host.
    pub server_name: Option<String>,
    /// PEM client certificate chain and key, for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// Why the connection could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A certificate or key file cannot be used.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The TLS configuration is invalid.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// An open connection to the SIEM.
pub struct Connection {
    stream: Stream,
}

fn pem_error(path: &std::path::Path, e: impl std::fmt::Display) -> TransportError {
    TransportError::Pem { path: path.to_path_buf(), reason: e.to_string() }
}

/// The TLS client configuration (built once, used for every reconnect).
pub fn tls_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    match &options.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, e))? {
                roots.add(cert.map_err(|e| pem_error(path, e))?).map_err(|e| pem_error(path, e))?;
            }
            if roots.is_empty() {
                return Err(pem_error(path, "no certificate in the file"));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match &options.client_cert {
        Some((cert_path, key_path)) => {
            let chain = CertificateDer::pem_file_iter(cert_path)
                .map_err(|e| pem_error(cert_path, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error(cert_path, e))?;
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| pem_error(key_path, e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| TransportError::Tls(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

impl Connection {
    /// Connects to `address` (`host:port`), with TLS unless `tls` is None.
    pub async fn connect(
        address: &str,
        tls: Option<(&Arc<rustls::ClientConfig>, &TlsOptions)>,
        timeout: Duration,
    ) -> Result<Self, TransportError> {
        let connect = async {
            let tcp = TcpStream::connect(address).await?;
            tcp.set_nodelay(true)?;
            let Some((config, options)) = tls else {
                return Ok(Connection { stream: Stream::Plain(tcp) });
            };
            let host = match &options.server_name {
                Some(name) => name.clone(),
                None => address.rsplit_once(':').map_or(address, |(h, _)| h).trim_matches(['[', ']']).to_string(),
            };
            let name = ServerName::try_from(host.clone())
                .map_err(|_| TransportError::Tls(format!("invalid server name {host:?}")))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp).await?;
            Ok(Connection { stream: Stream::Tls(Box::new(tls)) })
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| TransportError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")))?
    }

    /// Writes and flushes `bytes`.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        async fn write(w: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
            w.write_all(bytes).await?;
            w.flush().await
        }
        match &mut self.stream {
            Stream::Plain(s) => write(s, bytes).await?,
            Stream::Tls(s) => write(s.as_mut(), bytes).await?,
        }
        Ok(())
    }

    /// Whether the receiver still has the connection open. A syslog
    /// receiver sends no application data, so end of stream or an error
    /// means it is gone. The check reads through TLS (one poll, never
    /// waiting): post-handshake messages such as TLS 1.3 session tickets
    /// are processed by rustls and do not count as a closed connection.
    pub fn alive(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 64];
        let mut buf = ReadBuf::new(&mut probe);
        let polled = match &mut self.stream {
            Stream::Plain(s) => Pin::new(s).poll_read(&mut cx, &mut buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(&mut cx, &mut buf),
        };
        match polled {
            Poll::Pending => true,
            Poll::Ready(Ok(())) => !buf.filled().is_empty(),
            Poll::Ready(Err(_)) => false,
        }
    }

    /// Closes the connection (TLS close_notify first).
    pub async fn close(mut self) {
        let _ = match &mut self.stream {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        };
    }
}
