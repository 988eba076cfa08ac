//! TLS probes against a real TLS server on loopback with certificates made
//! for the test: a valid one 5 days from expiry, one already expired, one
//! for another name, and one from an untrusted CA — each is read and its
//! expiry reported, and the chain's verdict named.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use leitstand_probes::tls::TlsProbe;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

struct Ca {
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

fn leaf(ca: &Ca, name: &str, valid_days: (i64, i64)) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, i64) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    let now = OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(valid_days.0);
    params.not_after = now + time::Duration::days(valid_days.1);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    let not_after = params.not_after.unix_timestamp();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (vec![cert.der().clone(), ca.der.clone()], key, not_after)
}

/// A TLS server that completes handshakes with `chain` and closes.
async fn serve(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> String {
    let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn expiry_is_read_and_the_chain_judged() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let trusted = ca("Trusted Test CA");
    let mut roots = RootCertStore::empty();
    roots.add(trusted.der.clone()).unwrap();
    let roots = Arc::new(roots);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let timeout = Duration::from_secs(5);

    let (chain, key, not_after) = leaf(&trusted, "localhost", (-1, 5));
    let addr = serve(chain, key).await;
    let r = TlsProbe::new(&addr, "localhost").inspect(roots.clone(), timeout).await;
    assert!(r.probe.success() && r.chain_error().is_none(), "{r:?}");
    assert_eq!(r.not_after, Some(not_after));
    let days = r.days_left(now).unwrap();
    assert!((4.99..=5.01).contains(&days), "{days}");
    assert!(r.subject.as_deref().unwrap().contains("localhost"));

    // Expired: still read, reported with negative days and the reason.
    let (chain, key, _) = leaf(&trusted, "localhost", (-30, -2));
    let addr = serve(chain, key).await;
    let r = TlsProbe::new(&addr, "localhost").inspect(roots.clone(), timeout).await;
    assert!(!r.probe.success(), "{r:?}");
    assert!(r.days_left(now).unwrap() < -1.9);
    assert!(r.chain_error().unwrap().contains("expired"), "{r:?}");

    // Wrong name and unknown CA: read, and named.
    let (chain, key, _) = leaf(&trusted, "other.example", (-1, 30));
    let addr = serve(chain, key).await;
    let r = TlsProbe::new(&addr, "localhost").inspect(roots.clone(), timeout).await;
    assert!(r.chain_error().unwrap().to_lowercase().contains("name"), "{r:?}");
    let (chain, key, _) = leaf(&ca("Unknown CA"), "localhost", (-1, 30));
    let addr = serve(chain, key).await;
    let r = TlsProbe::new(&addr, "localhost").inspect(roots, timeout).await;
    assert!(r.chain_error().unwrap().to_lowercase().contains("issuer"), "{r:?}");
    assert!(r.days_left(now).unwrap() > 29.0);
}
