//! Two replicas on one PostgreSQL: alerts sent to either are decided and
//! notified by the one holding the `alerting` lease, exactly once each; when
//! it stops, the other takes over and sends what comes next. And one server
//! killed right after it accepted a burst: after the restart every accepted
//! alert is notified, none twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

use crate::{Server, admin_token, admin_token_in};

type Counts = Arc<Mutex<BTreeMap<String, usize>>>;

async fn receiver() -> (u16, Counts) {
    let counts: Counts = Arc::default();
    let sink = counts.clone();
    let router = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sink = sink.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let kind = v["leitstand"]["kind"].as_str().unwrap_or("?").to_string();
                for a in v["alerts"].as_array().into_iter().flatten() {
                    let key = format!("{kind}:{}", a["labels"]["instance"].as_str().unwrap_or("?"));
                    *sink.lock().unwrap().entry(key).or_default() += 1;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (port, counts)
}

fn alerts(from: usize, to: usize) -> Value {
    Value::Array(
        (from..to)
            .map(|i| {
                json!({
                    "labels": { "alertname": "ReplicaTest", "instance": format!("i-{i}"), "severity": "warning" },
                    "annotations": { "summary": format!("Instanz {i}") }
                })
            })
            .collect(),
    )
}

/// Waits for a log line unless it came before "ready".
fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn on_postgres_exactly_one_replica_decides_and_sends() {
    leitstand_app::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (port, counts) = rt.block_on(receiver());
    let (url, admin, database) = crate::serve::postgres_empty();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        format!(
            "[server]\ndatabase_url = \"{url}\"\n\n[monitoring]\nhost = false\n\n[alerting]\ngroup_wait = \"0s\"\ngroup_by = [\"...\"]\nlink_secret = \"shared-by-both-replicas\"\n\n[[alerting.channels]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\n[alerting.audiences.devops]\nchannels = [\"hook\"]\n"
        ),
    )
    .unwrap();
    let mut a = Server::start(dir.path(), &["--data-dir", "a"]);
    a.logged("alert engine started");
    let mut b = Server::start(dir.path(), &["--data-dir", "b"]);
    let token = admin_token_in(dir.path(), &["--data-dir", "a"], "ingest");
    let send = |server: &Server, body: &Value| {
        rt.block_on(async {
            let res = reqwest::Client::new()
                .post(server.url("/api/v2/alerts"))
                .bearer_auth(&token)
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
        })
    };
    // 50 to each replica, 10 of them to both (Prometheus HA pairs do that).
    send(&a, &alerts(0, 50));
    send(&b, &alerts(40, 90));
    wait_until("90 alerts notified", || counts.lock().unwrap().len() == 90);
    std::thread::sleep(Duration::from_secs(2)); // a late duplicate would arrive by now
    let sent = counts.lock().unwrap().clone();
    assert!(sent.values().all(|n| *n == 1), "each alert notified exactly once: {sent:?}");
    b.drain_log();
    assert!(!b.log.iter().any(|l| l.contains("alert engine started")), "only one replica runs the engine");

    // a stops; b takes over and sends what comes next, once.
    assert_eq!(a.terminate(), 0);
    b.logged("alert engine started");
    send(&b, &alerts(90, 100));
    wait_until("the next 10 notified", || counts.lock().unwrap().len() == 100);
    std::thread::sleep(Duration::from_secs(2));
    assert!(counts.lock().unwrap().values().all(|n| *n == 1), "{:?}", counts.lock().unwrap());
    assert_eq!(b.terminate(), 0);
    crate::serve::drop_postgres(&admin, &database);
}

#[test]
fn alerts_accepted_before_a_kill_are_notified_once_after_the_restart() {
    leitstand_app::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (port, counts) = rt.block_on(receiver());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        format!(
            "[monitoring]\nhost = false\n\n[alerting]\ngroup_wait = \"0s\"\ngroup_by = [\"...\"]\n\n[[alerting.channels]]\nid = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\n\n[alerting.audiences.devops]\nchannels = [\"hook\"]\n"
        ),
    )
    .unwrap();
    let mut server = Server::start(dir.path(), &[]);
    server.logged("alert engine started");
    let token = admin_token(dir.path(), "ingest");
    let client = reqwest::Client::new();
    // 2 × 1,000: the engine is still working them off when the last 200 comes.
    rt.block_on(async {
        for i in 0..2 {
            let res = client
                .post(server.url("/api/v2/alerts"))
                .bearer_auth(&token)
                .json(&alerts(i * 1000, (i + 1) * 1000))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
        }
    });
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.child.wait().unwrap();
    let before = counts.lock().unwrap().len();

    let mut again = Server::start(dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts.lock().unwrap().len() < 2_000 {
        again.drain_log();
        assert!(
            Instant::now() < deadline,
            "2,000 alerts notified: only {} within 60 s (before the kill: {before}); log:\n{}",
            counts.lock().unwrap().len(),
            again.log.join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2)); // a late duplicate would arrive by now
    let sent = counts.lock().unwrap().clone();
    let twice: Vec<_> = sent.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "each alert notified exactly once: {twice:?}");
    again.drain_log();
    let replayed = again.log.iter().any(|l| l.contains("alert intake: taking the records not yet applied"));
    eprintln!("notified before the kill: {before}; replayed after the restart: {replayed}");
    assert_eq!(again.terminate(), 0);
}
