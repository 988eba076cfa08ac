//! Probes against real HTTP servers on loopback: every expectation, a
//! redirect, a slow target that must not delay a fast one, a closed port.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use leitstand_probes::http::{Clients, HttpProbe, probe};

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
    assert!(ok.success && ok.status == Some(200), "{ok:?}");
    let missing =
        probe(&clients, &HttpProbe { body_contains: Some("welcome".into()), ..HttpProbe::get(&url("/ok")) }).await;
    assert_eq!((missing.success, missing.message.as_str()), (false, "the body does not contain \"welcome\""));

    let json = HttpProbe { json: Some(("/status".into(), "UP".into())), ..HttpProbe::get(&url("/json")) };
    assert!(probe(&clients, &json).await.success);
    let nested = HttpProbe { json: Some(("/db/ok".into(), false.into())), ..HttpProbe::get(&url("/json")) };
    assert_eq!(probe(&clients, &nested).await.message, "JSON /db/ok is true, expected false");

    let down = probe(&clients, &HttpProbe::get(&url("/fail"))).await;
    assert_eq!((down.success, down.status, down.message.as_str()), (false, Some(503), "status 503, expected 200–399"));
    let accepted = probe(&clients, &HttpProbe { expect_status: vec![503], ..HttpProbe::get(&url("/fail")) }).await;
    assert!(accepted.success);

    assert!(probe(&clients, &HttpProbe::get(&url("/moved"))).await.success, "redirect followed");
    let stay = probe(&clients, &HttpProbe { follow_redirects: false, ..HttpProbe::get(&url("/moved")) }).await;
    assert_eq!(stay.status, Some(307));
    assert!(stay.success, "3xx is accepted by default");

    let header =
        HttpProbe { headers: vec![("x-probe-token".into(), "secret".into())], ..HttpProbe::get(&url("/header")) };
    assert!(probe(&clients, &header).await.success);
    assert_eq!(probe(&clients, &HttpProbe::get(&url("/header"))).await.status, Some(403));

    // A slow target times out on its own; a fast one beside it is not delayed.
    let started = Instant::now();
    let slow = HttpProbe { timeout: Duration::from_millis(500), ..HttpProbe::get(&url("/slow")) };
    let fast = HttpProbe::get(&url("/ok"));
    let (slow, fast) = tokio::join!(probe(&clients, &slow), probe(&clients, &fast));
    assert!(!slow.success && slow.message.starts_with("no answer within 500ms"), "{slow:?}");
    assert!(fast.success && fast.duration < Duration::from_millis(400), "{fast:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_cxml_interface_answers_a_profile_request() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = server().await;
    let clients = Clients::new().unwrap();
    let mut creds = leitstand_probes::cxml::Credentials {
        from: ("NetworkID".into(), "AN01".into()),
        to: ("DUNS".into(), "123456789".into()),
        sender: ("NetworkID".into(), "AN01".into(), "right".into()),
    };
    let url = format!("{base}/cxml");
    let timeout = Duration::from_secs(5);
    let ok =
        leitstand_probes::cxml::probe(&clients, &url, &creds, "1@leitstand", "2026-11-23T10:00:00Z", timeout).await;
    assert!(ok.success, "{ok:?}");
    creds.sender.2 = "wrong".into();
    let denied =
        leitstand_probes::cxml::probe(&clients, &url, &creds, "2@leitstand", "2026-11-23T10:00:00Z", timeout).await;
    assert_eq!((denied.success, denied.message.as_str()), (false, "cXML status 401 x"));
    let html =
        leitstand_probes::cxml::probe(&clients, &format!("{base}/ok"), &creds, "3@leitstand", "t", timeout).await;
    assert!(!html.success, "a GET-only page answers 405: {html:?}");
}

#[tokio::test]
async fn tcp_connects_or_names_the_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open = listener.local_addr().unwrap().to_string();
    assert!(leitstand_probes::tcp::probe(&open, Duration::from_secs(1)).await.success);
    drop(listener);
    let closed = leitstand_probes::tcp::probe(&open, Duration::from_secs(1)).await;
    assert!(!closed.success && closed.message.starts_with(&format!("connect {open}: ")), "{closed:?}");
}
