//! The audit log as the issue's "done when" describes it: events in with an
//! API token, the checkpoint and tiles fetched over HTTP and checked (also
//! an inclusion proof), `leitstand audit verify` remote and offline — and
//! failing after one byte of a tile changes. CLI commands run while the
//! server holds the log park their events in the outbox.

use std::time::Duration;

use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::merkle::{inclusion_proof, leaf_hash, verify_inclusion};
use leitstand_ledger::note::{Verifier, open};
use leitstand_ledger::tiles::decode_bundle;

use crate::{Server, run_in};

#[tokio::test]
async fn ingest_fetch_verify_and_detect_a_changed_tile() {
    let dir = tempfile::tempdir().unwrap();
    crate::install(dir.path(), &[]);
    let out = run_in(dir.path(), &["user", "add", "portal", "--role", "devops"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_in(dir.path(), &["token", "create", "--user", "portal", "--scope", "write"]);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut server = Server::start(dir.path(), &[]);
    leitstand_app::install_crypto_provider();
    let client = reqwest::Client::new();

    let body = concat!(
        r#"{"actor":"anna.schmidt","action":"order.create","tenant":null,"object":"order:4711","outcome":"success","source_ip":"203.0.113.9"}"#,
        "\n",
        r#"{"actor":"anna.schmidt","action":"approval.grant","object":"order:4711","outcome":"success"}"#,
        "\n"
    );
    let res = client
        .post(server.url("/api/v1/audit/events"))
        .bearer_auth(&token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let indexes: Vec<u64> =
        serde_json::from_value(res.json::<serde_json::Value>().await.unwrap()["indexes"].clone()).unwrap();
    assert_eq!(indexes.len(), 2);
    assert_eq!(indexes[1], indexes[0] + 1);

    // A bad batch is refused as a whole, naming event and field.
    let res = client
        .post(server.url("/api/v1/audit/events"))
        .bearer_auth(&token)
        .body(r#"[{"actor":"a","action":"x.y","outcome":"success"},{"actor":"a","action":"nope","outcome":"success"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().starts_with("event 1: action:"), "{problem}");

    // The published checkpoint covers the events within a second.
    let out = run_in(dir.path(), &["audit", "key"]);
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let verifier = Verifier::parse(&key).unwrap();
    let mut checkpoint = None;
    for _ in 0..50 {
        let note = client.get(server.url("/audit/log/checkpoint")).send().await.unwrap().text().await.unwrap();
        let cp = Checkpoint::parse(&open(&note, std::slice::from_ref(&verifier)).unwrap().text).unwrap();
        if cp.size > indexes[1] {
            checkpoint = Some(cp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cp = checkpoint.expect("a checkpoint within 1 s");
    assert_eq!(cp.origin, "localhost/leitstand-audit");

    // Inclusion of the first event, from the public tiles alone (the log is
    // smaller than one tile here).
    let width = cp.size;
    let bundle = client.get(server.url(&format!("/audit/log/tile/entries/000.p/{width}"))).send().await.unwrap();
    assert_eq!(bundle.headers()["cache-control"], "public, max-age=31536000, immutable");
    let bundle = bundle.bytes().await.unwrap();
    let entries = decode_bundle(&bundle).unwrap();
    let tile = client
        .get(server.url(&format!("/audit/log/tile/0/000.p/{width}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let leaves: Vec<[u8; 32]> = tile.chunks_exact(32).map(|c| c.try_into().unwrap()).collect();
    let i = indexes[0] as usize;
    assert_eq!(leaf_hash(entries[i]), leaves[i]);
    let proof = inclusion_proof(i, &leaves).unwrap();
    verify_inclusion(i as u64, cp.size, &leaves[i], &proof, &cp.root).unwrap();
    let public = String::from_utf8_lossy(&bundle);
    assert!(!public.contains("anna") && !public.contains("203.0.113.9"), "no personal data in public files");

    // A CLI command while the server holds the log: its event arrives via the outbox.
    let out = run_in(dir.path(), &["user", "add", "bob", "--role", "auditor"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let out = run_in(dir.path(), &["audit", "verify", "--url", &server.url(""), "--key", &key]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("audit log verified"), "{stdout}");
    assert_eq!(server.terminate(), 0, "shutting down also appends what waits in the outbox");

    let out = run_in(dir.path(), &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // user.create (the first start's admin), user.create (CLI), token.create
    // (CLI), 2 portal events, user.create via outbox.
    assert!(stdout.contains("6 stored events checked"), "{stdout}");

    let tiles = dir.path().join("leitstand-data/audit/log/tile/0");
    // The widest partial tile: the one the current checkpoint covers.
    let partial = std::fs::read_dir(tiles.join("000.p"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .max_by_key(|p| p.file_name().unwrap().to_string_lossy().parse::<u32>().unwrap_or(0))
        .unwrap();
    let width = partial.file_name().unwrap().to_string_lossy().to_string();
    let mut bytes = std::fs::read(&partial).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&partial, bytes).unwrap();
    let out = run_in(dir.path(), &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED") && stdout.contains(&format!("tile/0/000.p/{width}: hash 1 differs")), "{stdout}");
}
