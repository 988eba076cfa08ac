//! The issue's "done when", as a new user does it: Leitstand pointed at a
//! local web server, a TLS endpoint with a certificate 3 days from expiry
//! and the application's /metrics. The probes come up, the certificate's
//! days are read and the critical expiry rule fires, the metrics are
//! scraped; stopping the web server turns its probe down, fires ProbeDown
//! and leaves an outage in the availability and the audit log. On
//! PostgreSQL two replicas share the work: only one probes, and the other
//! takes over when it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

use crate::{Server, admin_token, admin_token_in};

/// A CA (its PEM) and a TLS server for `localhost` whose certificate
/// expires in 3 days.
async fn tls_endpoint() -> (String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Leitstand Test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(3);
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    (format!("localhost:{port}"), ca_cert.pem())
}

/// The portal: a health page and /metrics; `running` false stops it.
async fn portal(running: Arc<AtomicBool>) -> u16 {
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "portal ready" }))
        .route(
            "/metrics",
            axum::routing::get(|| async {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027\nhttp_requests_total{code=\"500\"} 3\n",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let stop = async move {
            while running.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        axum::serve(listener, app).with_graceful_shutdown(stop).await.unwrap();
    });
    port
}

struct Api {
    base: String,
    token: String,
    rt: tokio::runtime::Runtime,
}

impl Api {
    fn get(&self, path: &str) -> Value {
        self.rt.block_on(async {
            let res = reqwest::Client::new()
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            res.json().await.unwrap()
        })
    }

    /// Polls `path` until `ok` holds (at most 30 s); returns the last answer.
    fn until(&self, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.get(path);
            if ok(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: never true; last {path}: {v:#}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn item<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|v| v[key] == id).unwrap_or(&Value::Null)
}

fn firing(rules: &Value, name: &str) -> Vec<Value> {
    item(rules, "name", name)["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["state"] == "firing")
        .collect()
}

#[test]
fn a_stopped_web_server_turns_its_probe_down_and_fires_the_availability_rule() {
    leitstand_app::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let port = rt.block_on(portal(running.clone()));
    let (tls, ca_pem) = rt.block_on(tls_endpoint());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        format!(
            r#"
[monitoring]
probe_down_for = "2s"
probe_down_interval = "1s"
ca_files = ["ca.pem"]

[[monitoring.probes]]
id = "portal"
name = "Portal"
kind = "http"
target = "http://127.0.0.1:{port}/health"
body_contains = "ready"
interval = "1s"
timeout = "1s"
retries = 0
service = "portal"

[[monitoring.probes]]
id = "portal-cert"
kind = "tls"
target = "{tls}"
interval = "1s"
timeout = "1s"

[[monitoring.targets]]
id = "portal-app"
url = "http://127.0.0.1:{port}/metrics"
interval = "1s"
timeout = "1s"
service = "portal"
"#
        ),
    )
    .unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let token = admin_token(dir.path(), "read");
    let api = Api { base: server.url(""), token, rt };

    let probes = api.until("/api/v1/probes", "both probes up", |p| {
        item(p, "id", "portal")["state"] == "up" && item(p, "id", "portal-cert")["state"] == "up"
    });
    let days = item(&probes, "id", "portal-cert")["certificate"]["days_left"].as_f64().unwrap();
    assert!((2.9..3.0).contains(&days), "{days}");
    let targets =
        api.until("/api/v1/targets", "the app's metrics scraped", |t| item(t, "id", "portal-app")["state"] == "up");
    assert_eq!(item(&targets, "id", "portal-app")["samples"], 2);
    // The 24-hour certificate rule is evaluated once the first checks are in.
    let rules =
        api.until("/api/v1/rules", "certificate rule fired", |r| !firing(r, "CertificateExpiryCritical").is_empty());
    let cert = &firing(&rules, "CertificateExpiryCritical")[0];
    assert_eq!(cert["labels"]["instance"], tls.as_str());
    assert!(cert["annotations"]["summary_de"].as_str().unwrap().starts_with("Certificate Expiry unter 7"), "{cert}");
    assert!(item(&rules, "name", "ProbeDown")["alerts"].as_array().unwrap().is_empty());
    // A metric that nobody exposes is named, not silently missing.
    let queue = item(&rules, "name", "QueueDepthCritical");
    assert_eq!(queue["missing_metrics"], serde_json::json!(["queue_depth"]));

    running.store(false, Ordering::SeqCst);
    let probes = api.until("/api/v1/probes", "probe down", |p| item(p, "id", "portal")["state"] == "down");
    let message = item(&probes, "id", "portal")["last"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("Connection refused") || message.contains("connect"), "{message}");
    let rules = api.until("/api/v1/rules", "ProbeDown fired", |r| !firing(r, "ProbeDown").is_empty());
    let alert = &firing(&rules, "ProbeDown")[0];
    assert_eq!(alert["labels"]["instance"], format!("http://127.0.0.1:{port}/health"));
    assert_eq!(
        (alert["labels"]["severity"].as_str(), alert["labels"]["service"].as_str()),
        (Some("critical"), Some("portal"))
    );
    let changes = api.get("/api/v1/rules/changes");
    let states: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["rule"] == "ProbeDown")
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["firing", "pending"], "newest first");
    let metrics =
        api.rt.block_on(async { reqwest::get(format!("{}/metrics", api.base)).await.unwrap().text().await.unwrap() });
    for line in ["leitstand_monitoring_active 1", "leitstand_monitoring_probes_down 1"] {
        assert!(metrics.lines().any(|l| l == line), "{line} in /metrics:\n{metrics}");
    }
    assert!(!metrics.lines().any(|l| l == "leitstand_monitoring_alerts_firing 0"), "{metrics}");
    let availability = api.get("/api/v1/probes/portal/availability");
    assert!(availability["outage_minutes"].as_f64().unwrap() > 0.0, "{availability}");
    assert!(availability["availability"].as_f64().unwrap() < 1.0);
    let audit = api.until("/api/v1/audit/events?action=probe.", "audited", |a| {
        a["events"].as_array().is_some_and(|e| e.iter().any(|e| e["action"] == "probe.down"))
    });
    let down = audit["events"].as_array().unwrap().iter().find(|e| e["action"] == "probe.down").unwrap().clone();
    assert_eq!(down["object"], "probe:portal");
    assert_eq!(server.terminate(), 0);
}

/// Waits for a log line unless it came before "ready".
#[test]
fn on_postgres_one_replica_probes_and_the_other_takes_over() {
    leitstand_app::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let port = rt.block_on(portal(Arc::new(AtomicBool::new(true))));
    let (url, admin, database) = crate::serve::postgres_empty();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        format!(
            "[server]\ndatabase_url = \"{url}\"\n\n[monitoring]\nhost = false\n\n[[monitoring.probes]]\nid = \"portal\"\nkind = \"http\"\ntarget = \"http://127.0.0.1:{port}/health\"\ninterval = \"1s\"\n"
        ),
    )
    .unwrap();
    let mut a = Server::start(dir.path(), &["--data-dir", "a"]);
    a.logged("monitoring started");
    let mut b = Server::start(dir.path(), &["--data-dir", "b"]);
    let token = admin_token_in(dir.path(), &["--data-dir", "a"], "read");
    let api = Api { base: b.url(""), token, rt };
    // b shows what a records.
    api.until("/api/v1/probes", "b shows a's result", |p| item(p, "id", "portal")["state"] == "up");
    assert!(!b.log.iter().any(|l| l.contains("monitoring started")), "only one replica probes");
    let stopping = Instant::now();
    assert_eq!(a.terminate(), 0);
    assert!(stopping.elapsed() < Duration::from_secs(5), "a stops promptly: {:?}", stopping.elapsed());
    b.logged("monitoring started");
    assert_eq!(b.terminate(), 0);
    crate::serve::drop_postgres(&admin, &database);
}

#[test]
fn a_probe_naming_a_tenant_that_does_not_exist_is_warned_about_at_start() {
    // Issue 17: probes naming an unknown tenant were accepted at start
    // without a word, and their alerts then refused.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        r#"
[monitoring]
host = false

[[monitoring.probes]]
id = "portal-b"
kind = "tcp"
target = "127.0.0.1:9"
interval = "1h"
tenant = "bank-b"
"#,
    )
    .unwrap();
    let mut server = crate::Server::start(dir.path(), &[]);
    let warning =
        server.logged("names a tenant that does not exist; its alerts are refused until the tenant is created");
    assert_eq!(warning["level"], "WARN");
    assert_eq!((warning["id"].as_str(), warning["tenant"].as_str()), (Some("portal-b"), Some("bank-b")), "{warning}");
    assert_eq!(server.terminate(), 0);
}
