//! Witnessing end to end with two real processes: `leitstand witness serve`
//! cosigns every checkpoint of a running `leitstand serve`, the cosigned
//! checkpoint is served and verifies with `--witness`; then the operator
//! replaces the log with a rebuilt one signed by the same key — the witness
//! refuses it, the log raises the alarm, and verification with the witness
//! fails.

use std::time::Duration;

use leitstand_ledger::note::{Verifier, open};

use crate::{Server, run_in};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn ingest(client: &reqwest::Client, server: &Server, token: &str, n: usize) -> u64 {
    let body: String = (0..n)
        .map(|i| {
            format!(
                "{{\"actor\":\"svc\",\"action\":\"order.create\",\"object\":\"order:{i}\",\"outcome\":\"success\"}}\n"
            )
        })
        .collect();
    let res = client.post(server.url("/api/v1/audit/events")).bearer_auth(token).body(body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let value: serde_json::Value = res.json().await.unwrap();
    value["indexes"].as_array().unwrap().last().unwrap().as_u64().unwrap()
}

/// Waits until the served checkpoint covers `index` and carries the
/// witness's cosignature; returns the checkpoint's size.
async fn cosigned(client: &reqwest::Client, server: &Server, log: &Verifier, witness: &Verifier, index: u64) -> u64 {
    for _ in 0..100 {
        let note = client.get(server.url("/audit/log/checkpoint")).send().await.unwrap().text().await.unwrap();
        let opened = open(&note, &[log.clone(), witness.clone()]).unwrap();
        let cp = leitstand_ledger::checkpoint::Checkpoint::parse(&opened.text).unwrap();
        if cp.size > index && opened.cosigned_by.iter().any(|(n, _)| n == witness.name()) {
            return cp.size;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no cosigned checkpoint covering {index} within 5 s");
}

#[tokio::test]
async fn a_witness_cosigns_and_refuses_a_re_signed_rewrite() {
    let (portal, authority) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    crate::install(portal.path(), &[]);
    let log_key = stdout(&run_in(portal.path(), &["audit", "key"]));
    std::fs::write(
        authority.path().join("leitstand.toml"),
        format!(
            "[witness]\nname = \"witness.behoerde.example/w1\"\n\n[[witness.logs]]\norigin = \"localhost/leitstand-audit\"\nkeys = [\"{log_key}\"]\n"
        ),
    )
    .unwrap();
    let out = run_in(authority.path(), &["witness", "key"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let witness_key = stdout(&out);
    let mut witness = Server::run(authority.path(), &["witness", "serve", "--listen", "127.0.0.1:0"]);

    std::fs::write(
        portal.path().join("leitstand.toml"),
        format!("[[audit.witnesses]]\nurl = \"{}\"\nkey = \"{witness_key}\"\n", witness.url("/")),
    )
    .unwrap();
    run_in(portal.path(), &["user", "add", "portal", "--role", "devops"]);
    let token = stdout(&run_in(portal.path(), &["token", "create", "--user", "portal", "--scope", "write"]));
    let mut server = Server::start(portal.path(), &[]);
    leitstand_app::install_crypto_provider();
    let client = reqwest::Client::new();
    let (log, wit) = (Verifier::parse(&log_key).unwrap(), Verifier::parse(&witness_key).unwrap());

    let last = ingest(&client, &server, &token, 300).await;
    let first_size = cosigned(&client, &server, &log, &wit, last).await;
    let last = ingest(&client, &server, &token, 50).await;
    cosigned(&client, &server, &log, &wit, last).await;
    let verify = ["audit", "verify", "--url", &server.url(""), "--key", &log_key, "--witness", &witness_key];
    let out = run_in(portal.path(), &verify);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(first_size > 300);

    // The operator holds the log key, throws the log away and starts over
    // with a history of their liking — longer than the witnessed one.
    assert_eq!(server.terminate(), 0);
    std::fs::remove_dir_all(portal.path().join("leitstand-data/audit")).unwrap();
    let mut server = Server::start(portal.path(), &[]);
    ingest(&client, &server, &token, 600).await;
    server.wait_for("a witness refuses the log's history");
    witness.wait_for("refused a validly signed checkpoint");
    let verify = ["audit", "verify", "--url", &server.url(""), "--key", &log_key, "--witness", &witness_key];
    let out = run_in(portal.path(), &verify);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no valid cosignature by witness witness.behoerde.example/w1"), "{text}");
    let metrics = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let refusals = metrics
        .lines()
        .find(|l| l.starts_with("leitstand_audit_log_witness_refusals{"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(!refusals.ends_with(" 0"), "{refusals}");
    let evidence = std::fs::read_dir(authority.path().join("leitstand-data/witness/evidence")).unwrap().count();
    assert_eq!(evidence, 1, "the witness keeps the refused, log-signed checkpoint as evidence");
}
