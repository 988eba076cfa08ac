//! Probes against real HTTP servers on loopback: every expectation, a
//! redirect, a slow target that must not delay a fast one, a closed port.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use leitstand_probes::ProbeResult;
use leitstand_probes::client::Clients;
use leitstand_probes::cxml::{Credentials, CxmlProbe};
use leitstand_probes::http::HttpProbe;
use leitstand_probes::tcp::TcpProbe;

/// The probe's run with the 10 s time limit probes get by default.
async fn probe(clients: &Clients, p: &HttpProbe) -> ProbeResult {
    p.check(clients, Duration::from_secs(10)).await
}

/// A cXML endpoint that knows one shared secret.
async fn cxml(body: String) -> String {
    let ok = body.contains("<SharedSecret>right</SharedSecret>") && body.contains("<ProfileRequest/>");
    let (code, profile) = if ok {
        (
            "200",
            r#"<ProfileResponse effectiveDate="2026-01-01T00:00:00Z"><Transaction requestName="OrderRequest"><URL>https://portal.example/cxml</URL></Transaction></ProfileResponse>"#,
        )
    } else {
        ("401", "")
    };
    format!(
        r#"<?xml version="1.0"?><cXML payloadID="x" timestamp="2026-11-23T10:00:00Z"><Response><Status code="{code}" text="x"/>{profile}</Response></cXML>"#
    )
}

async fn server() -> String {
    let app = Router::new()
        .route("/ok", get(|| async { "portal ready" }))
        .route("/json", get(|| async { axum::Json(serde_json::json!({"status": "UP", "db": {"ok": true}})) }))
        .route("/fail", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance") }))
        .route("/moved", get(|| async { Redirect::temporary("/ok") }))
        .route("/cxml", axum::routing::post(cxml))
        .route("/big", get(|| async { "x".repeat(leitstand_probes::client::BODY_LIMIT + 1) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/header",
            get(|headers: axum::http::HeaderMap| async move {
                if headers.get("x-probe-token").is_some_and(|v| v == "secret") {
                    StatusCode::OK.into_response()
                } else {
                    StatusCode::FORBIDDEN.into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_expectations_redirects_and_timeouts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = server().await;
    let clients = Clients::new().unwrap();
    let url = |p: &str| format!("{base}{p}");

    let ok = probe(&clients, &HttpProbe { body_contains: Some("ready".into()), ..HttpProbe::get(&url("/ok")) }).await;
    assert!(ok.success() && ok.status == Some(200), "{ok:?}");
    let missing =
        probe(&clients, &HttpProbe { body_contains: Some("welcome".into()), ..HttpProbe::get(&url("/ok")) }).await;
    assert_eq!((missing.success(), missing.message().as_str()), (false, "the body does not contain \"welcome\""));

    let json = HttpProbe { json: Some(("/status".into(), "UP".into())), ..HttpProbe::get(&url("/json")) };
    assert!(probe(&clients, &json).await.success());
    let nested = HttpProbe { json: Some(("/db/ok".into(), false.into())), ..HttpProbe::get(&url("/json")) };
    assert_eq!(probe(&clients, &nested).await.message(), "JSON /db/ok is true, expected false");

    let down = probe(&clients, &HttpProbe::get(&url("/fail"))).await;
    assert_eq!(
        (down.success(), down.status, down.message().as_str()),
        (false, Some(503), "status 503, expected 200–399")
    );
    let accepted = probe(&clients, &HttpProbe { expect_status: vec![503], ..HttpProbe::get(&url("/fail")) }).await;
    assert!(accepted.success());

    assert!(probe(&clients, &HttpProbe::get(&url("/moved"))).await.success(), "redirect followed");
    let stay = probe(&clients, &HttpProbe { follow_redirects: false, ..HttpProbe::get(&url("/moved")) }).await;
    assert_eq!(stay.status, Some(307));
    assert!(stay.success(), "3xx is accepted by default");

    let header =
        HttpProbe { headers: vec![("x-probe-token".into(), "secret".into())], ..HttpProbe::get(&url("/header")) };
    assert!(probe(&clients, &header).await.success());
    assert_eq!(probe(&clients, &HttpProbe::get(&url("/header"))).await.status, Some(403));

    // A slow target times out on its own; a fast one beside it is not delayed.
    let started = Instant::now();
    let slow = HttpProbe::get(&url("/slow"));
    let fast = HttpProbe::get(&url("/ok"));
    let (slow, fast) = tokio::join!(slow.check(&clients, Duration::from_millis(500)), probe(&clients, &fast));
    assert!(!slow.success() && slow.message().starts_with("no answer within 500ms"), "{slow:?}");
    assert!(fast.success() && fast.duration < Duration::from_millis(400), "{fast:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_cxml_interface_answers_a_profile_request() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = server().await;
    let clients = Clients::new().unwrap();
    let credentials = Credentials {
        from_domain: "NetworkID".into(),
        from_identity: "AN01".into(),
        to_domain: "DUNS".into(),
        to_identity: "123456789".into(),
        sender_domain: "NetworkID".into(),
        sender_identity: "AN01".into(),
        shared_secret: "right".into(),
    };
    let mut cxml = CxmlProbe { url: format!("{base}/cxml"), credentials };
    let timeout = Duration::from_secs(5);
    let ok = cxml.check(&clients, "1@leitstand", "2026-11-23T10:00:00Z", timeout).await;
    assert!(ok.success(), "{ok:?}");
    cxml.credentials.shared_secret = "wrong".into();
    let denied = cxml.check(&clients, "2@leitstand", "2026-11-23T10:00:00Z", timeout).await;
    assert_eq!((denied.success(), denied.message().as_str()), (false, "cXML status 401 x"));
    let html = CxmlProbe { url: format!("{base}/ok"), ..cxml }.check(&clients, "3@leitstand", "t", timeout).await;
    assert!(!html.success(), "a GET-only page answers 405: {html:?}");
}

#[tokio::test]
async fn tcp_connects_or_names_the_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap().to_string();
    assert!(TcpProbe::new(&open).check(Duration::from_secs(1)).await.success());
    drop(listener);
    let closed = TcpProbe::new(&open).check(Duration::from_secs(1)).await;
    assert!(!closed.success() && closed.message().starts_with(&format!("connect {open}: ")), "{closed:?}");
}

#[tokio::test]
async fn each_failed_expectation_is_its_own_cause() {
    use leitstand_probes::ProbeError;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = server().await;
    let clients = Clients::new().unwrap();
    let url = |p: &str| format!("{base}{p}");
    let cause = |r: ProbeResult| r.error.unwrap();

    let status = cause(probe(&clients, &HttpProbe::get(&url("/fail"))).await);
    assert_eq!(status, ProbeError::Status { status: 503, expected: vec![] });
    let keyword = HttpProbe { body_contains: Some("welcome".into()), ..HttpProbe::get(&url("/ok")) };
    assert_eq!(cause(probe(&clients, &keyword).await), ProbeError::BodyMismatch { keyword: "welcome".into() });
    let json = HttpProbe { json: Some(("/db/ok".into(), false.into())), ..HttpProbe::get(&url("/json")) };
    let expected =
        ProbeError::JsonMismatch { pointer: "/db/ok".into(), found: Some("true".into()), expected: "false".into() };
    assert_eq!(cause(probe(&clients, &json).await), expected);
    let not_json = HttpProbe { json: Some(("/status".into(), "UP".into())), ..HttpProbe::get(&url("/ok")) };
    assert!(matches!(cause(probe(&clients, &not_json).await), ProbeError::Malformed { .. }));

    // A body longer than the limit is not read to its end.
    let big = probe(&clients, &HttpProbe::get(&url("/big"))).await;
    assert_eq!(big.status, Some(200));
    assert_eq!(cause(big.clone()), ProbeError::TooLarge { limit: leitstand_probes::client::BODY_LIMIT });
    assert_eq!(big.message(), "the body is longer than 1048576 bytes");
}
