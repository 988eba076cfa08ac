//! Targets for the contract test, all on loopback and all real: raw HTTP
//! servers (so an answer can also be no HTTP at all), a rustls server with
//! a certificate made for the test, a UDP responder speaking DNS's wire
//! format, a TCP listener whose accept queue is full (a connect that gets
//! no answer), and closed ports. [`target`] hides which one a kind needs,
//! so the contract is the same function for every kind.

#![allow(clippy::unwrap_used, dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use leitstand_probes::check::{Check, Checker, Kind};
use leitstand_probes::cxml::{Credentials, CxmlProbe};
use leitstand_probes::dns::DnsProbe;
use leitstand_probes::http::HttpProbe;
use leitstand_probes::tcp::TcpProbe;
use leitstand_probes::tls::TlsProbe;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};

/// The time limit every contract probe gets.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// How long a slow target waits before it answers (well within [`TIMEOUT`]).
pub const DELAY: Duration = Duration::from_millis(300);

/// The name the DNS responder knows, and its address.
pub const NAME: &str = "portal.example";
pub const ADDRESS: [u8; 4] = [127, 0, 0, 1];

/// How the target behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers at once, as it should.
    Answer,
    /// Answers as it should, after [`DELAY`].
    Slow,
    /// Takes the request (or the connection) and never answers.
    Silent,
    /// Nothing listens.
    Refused,
    /// Answers in a format the probe does not speak.
    Malformed,
}

/// A probe of some kind aimed at a target behaving some way.
pub struct Target {
    /// The check.
    pub check: Check,
    /// A checker trusting the test's certificate authority.
    pub checker: Checker,
    /// Series the kind writes besides `probe_success` and `probe_duration_seconds`.
    pub extra_series: &'static [&'static str],
    /// Whether the kind reads an answer at all (a TCP connect does not).
    pub reads_answers: bool,
    /// The leaf certificate's `notAfter`, for TLS.
    pub not_after: Option<i64>,
    /// Where the target is (or nothing listens).
    pub address: SocketAddr,
}

/// A target for `kind` behaving as `behaviour` says.
pub async fn target(kind: Kind, behaviour: Behaviour) -> Target {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain = || Checker::new(RootCertStore::empty()).unwrap();
    match kind {
        Kind::Http => {
            let addr = http_server(behaviour, "text/plain", "portal ready").await;
            Target {
                check: Check::Http(HttpProbe {
                    body_contains: Some("ready".into()),
                    ..HttpProbe::get(&format!("http://{addr}/health"))
                }),
                checker: plain(),
                extra_series: &["probe_http_status_code"],
                reads_answers: true,
                not_after: None,
                address: addr,
            }
        }
        Kind::Tcp => {
            let addr = tcp_listener(behaviour).await;
            Target {
                check: Check::Tcp(TcpProbe::new(addr.to_string())),
                checker: plain(),
                extra_series: &[],
                reads_answers: false,
                not_after: None,
                address: addr,
            }
        }
        Kind::Dns => {
            let addr = dns_server(behaviour).await;
            let probe = DnsProbe { server: Some(addr), ..DnsProbe::new(NAME, vec![IpAddr::from(ADDRESS)]) };
            Target {
                check: Check::Dns(probe),
                checker: plain(),
                extra_series: &[],
                reads_answers: true,
                not_after: None,
                address: addr,
            }
        }
        Kind::Tls => {
            let ca = ca("Contract CA");
            let (chain, key, not_after) = leaf(&ca, "localhost");
            let addr = tls_server(behaviour, chain, key).await;
            let mut roots = RootCertStore::empty();
            roots.add(ca.der.clone()).unwrap();
            Target {
                check: Check::Tls(TlsProbe::new(addr.to_string(), "localhost")),
                checker: Checker::new(roots).unwrap(),
                extra_series: &["probe_ssl_earliest_cert_expiry"],
                reads_answers: true,
                not_after: Some(not_after),
                address: addr,
            }
        }
        Kind::Cxml => {
            let body = r#"<?xml version="1.0"?><cXML payloadID="x" timestamp="2026-11-23T10:00:00Z"><Response><Status code="200" text="OK"/><ProfileResponse effectiveDate="2026-01-01T00:00:00Z"/></Response></cXML>"#;
            let addr = http_server(behaviour, "text/xml", body).await;
            let credentials = Credentials {
                from_domain: "NetworkID".into(),
                from_identity: "AN01".into(),
                to_domain: "DUNS".into(),
                to_identity: "123456789".into(),
                sender_domain: "NetworkID".into(),
                sender_identity: "AN01".into(),
                shared_secret: "contract-secret".into(),
            };
            Target {
                check: Check::Cxml(CxmlProbe { url: format!("http://{addr}/cxml"), credentials }),
                checker: plain(),
                extra_series: &["probe_http_status_code"],
                reads_answers: true,
                not_after: None,
                address: addr,
            }
        }
    }
}

/// A port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Keeps `value` alive for the rest of the test process.
fn hold<T: Send + 'static>(value: T) {
    tokio::spawn(async move {
        let _held = value;
        std::future::pending::<()>().await;
    });
}

/// A TCP server that hands each connection to `serve` as `behaviour` says.
async fn raw_server<F, Fut>(behaviour: Behaviour, garbage: &'static [u8], serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if behaviour == Behaviour::Refused {
        return closed_port().await;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let serve = serve.clone();
            tokio::spawn(async move {
                match behaviour {
                    Behaviour::Answer => serve(stream).await,
                    Behaviour::Slow => {
                        tokio::time::sleep(DELAY).await;
                        serve(stream).await;
                    }
                    Behaviour::Silent => hold(stream),
                    Behaviour::Malformed => {
                        let mut buf = [0u8; 2048];
                        let _ = stream.read(&mut buf).await;
                        let _ = stream.write_all(garbage).await;
                        hold(stream);
                    }
                    Behaviour::Refused => {}
                }
            });
        }
    });
    addr
}

/// Reads one HTTP request (head and a `content-length` body).
async fn read_request(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
    }
    String::from_utf8_lossy(&data).to_string()
}

/// An HTTP server answering 200 with `body`; malformed, it speaks SSH
/// (for a cXML probe: it answers HTML, which is HTTP but no cXML).
async fn http_server(behaviour: Behaviour, content_type: &'static str, body: &'static str) -> SocketAddr {
    let malformed: &'static [u8] = if content_type == "text/xml" {
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 24\r\n\r\n<html>maintenance</html>"
    } else {
        b"SSH-2.0-OpenSSH_9.6\r\n"
    };
    raw_server(behaviour, malformed, move |mut stream| async move {
        read_request(&mut stream).await;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await
}

/// A TLS server completing handshakes with `chain`; malformed, it answers
/// the ClientHello in plain HTTP.
async fn tls_server(
    behaviour: Behaviour,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> SocketAddr {
    let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    raw_server(behaviour, b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", move |stream| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(tls) = acceptor.accept(stream).await {
                hold(tls);
            }
        }
    })
    .await
}

/// A TCP listener. Silent, its accept queue is full, so a connect gets no
/// answer; slow, it is full until one connection is taken after [`DELAY`],
/// and the waiting connect goes through at its next try. Malformed, it
/// sends garbage on connect — which a TCP probe never reads.
async fn tcp_listener(behaviour: Behaviour) -> SocketAddr {
    match behaviour {
        Behaviour::Answer | Behaviour::Malformed | Behaviour::Refused => {
            raw_server(behaviour, b"\x00\xffgarbage", |stream| async move { hold(stream) }).await
        }
        Behaviour::Silent | Behaviour::Slow => {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(1).unwrap();
            let addr = listener.local_addr().unwrap();
            let mut queued = Vec::new();
            while let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
            {
                queued.push(stream);
                assert!(queued.len() < 64, "the accept queue does not fill");
            }
            if behaviour == Behaviour::Slow {
                tokio::spawn(async move {
                    tokio::time::sleep(DELAY).await;
                    let taken = listener.accept().await;
                    hold((listener, taken, queued));
                });
            } else {
                hold((listener, queued));
            }
            addr
        }
    }
}

/// A DNS server knowing [`NAME`] as [`ADDRESS`] (A; no AAAA), over UDP.
async fn dns_server(behaviour: Behaviour) -> SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    if behaviour == Behaviour::Refused {
        return addr; // dropped below: nothing listens
    }
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let query = buf[..n].to_vec();
            let socket = socket.clone();
            tokio::spawn(async move {
                let answer = match behaviour {
                    Behaviour::Answer => dns_answer(&query),
                    Behaviour::Slow => {
                        tokio::time::sleep(DELAY).await;
                        dns_answer(&query)
                    }
                    Behaviour::Malformed => b"hello, not DNS".to_vec(),
                    Behaviour::Silent | Behaviour::Refused => return,
                };
                let _ = socket.send_to(&answer, peer).await;
            });
        }
    });
    addr
}

/// The answer to a query: the question echoed, and for A (type 1) one
/// record with [`ADDRESS`] (the name compressed to a pointer at the question).
fn dns_answer(query: &[u8]) -> Vec<u8> {
    let qtype = u16::from_be_bytes([query[query.len() - 4], query[query.len() - 3]]);
    let mut out = query.to_vec();
    out[2] = 0x81; // answer, recursion desired
    out[3] = 0x80; // recursion available, no error
    out[7] = u8::from(qtype == 1);
    if qtype == 1 {
        out.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        out.extend_from_slice(&ADDRESS);
    }
    out
}

pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca { issuer: Issuer::new(params, key), der: cert.der().clone() }
}

/// A certificate for `name`, valid from yesterday for 30 days.
fn leaf(ca: &Ca, name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, i64) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let not_after = params.not_after.unix_timestamp();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (vec![cert.der().clone(), ca.der.clone()], key, not_after)
}
