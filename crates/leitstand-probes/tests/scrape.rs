//! Scraping real endpoints on loopback: Prometheus text and OpenMetrics by
//! content type, target labels (a target cannot claim another tenant),
//! `up`/`scrape_duration_seconds`, and a broken target named precisely
//! without disturbing the good one.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use leitstand_monitor::exposition::Limits;
use leitstand_monitor::series::{MatchOp, Matcher, NAME, SeriesStore};
use leitstand_probes::client::Clients;
use leitstand_probes::scrape::{Target, scrape, store};

async fn server() -> String {
    let app = Router::new()
        .route("/metrics", get(|| async {
            "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\",tenant=\"bank-b\"} 1027\nqueue_depth 12\n"
        }))
        .route("/om", get(|| async {
            ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], "# TYPE jobs counter\njobs_total 3\n# EOF\n")
        }))
        .route("/broken", get(|| async { "ok 1\nbad{x=\"1\" 2\n" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn target(url: String) -> Target {
    Target {
        headers: Vec::new(),
        url,
        labels: vec![("job".into(), "portal".into()), ("tenant".into(), "bank-a".into())],
        timeout: Duration::from_secs(5),
    }
}

fn value(store: &SeriesStore, name: &str, extra: &[(&str, &str)]) -> Option<f64> {
    let mut matchers = vec![Matcher::new(NAME, MatchOp::Equal, name).unwrap()];
    matchers.extend(extra.iter().map(|(k, v)| Matcher::new(k, MatchOp::Equal, v).unwrap()));
    store.select(&matchers, 0, 1_000).first().map(|s| s.points[0].1)
}

#[tokio::test]
async fn scrapes_store_samples_with_target_labels_and_up() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = server().await;
    let clients = Clients::new().unwrap();
    let limits = Limits::default();
    let mut series = SeriesStore::new(60_000, 1_000);

    let good = target(format!("{base}/metrics"));
    let s = scrape(&clients, &good, &limits).await;
    assert!(s.up && s.error.is_none(), "{s:?}");
    assert!(store(&mut series, &good, &s, 0, 0).is_empty());
    assert_eq!(
        value(&series, "http_requests_total", &[("tenant", "bank-a"), ("exported_tenant", "bank-b")]),
        Some(1027.0)
    );
    assert_eq!(value(&series, "up", &[("job", "portal")]), Some(1.0));
    assert_eq!(value(&series, "scrape_samples_scraped", &[]), Some(2.0));

    let om = target(format!("{base}/om"));
    let s = scrape(&clients, &om, &limits).await;
    assert!(s.up, "{s:?}");
    assert_eq!(s.samples[0].0.iter().find(|(k, _)| k == NAME).unwrap().1, "jobs_total");

    let broken = Target { labels: vec![("job".into(), "broken".into())], ..target(format!("{base}/broken")) };
    let s = scrape(&clients, &broken, &limits).await;
    assert_eq!(
        s.error.as_deref(),
        Some("Prometheus text body: line 2, column 11: expected ',' or '}' after the label value")
    );
    store(&mut series, &broken, &s, 0, 0);
    assert_eq!(value(&series, "up", &[("job", "broken")]), Some(0.0));
    assert_eq!(value(&series, "up", &[("job", "portal")]), Some(1.0), "the good target is unaffected");

    let gone = Target { labels: vec![("job".into(), "gone".into())], ..target("http://127.0.0.1:9/metrics".into()) };
    let s = scrape(&clients, &gone, &limits).await;
    assert!(!s.up && s.error.as_deref().is_some_and(|e| e.contains("Connection refused")), "the cause is named: {s:?}");
}
