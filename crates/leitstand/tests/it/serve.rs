use std::net::TcpListener;

use crate::{Server, run_in};

fn get(url: &str) -> (u16, String) {
    leitstand_app::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let res = reqwest::get(url).await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    })
}

#[test]
fn serve_on_sqlite_answers_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    assert!(dir.path().join("leitstand-data/leitstand.db").exists(), "default data directory and database");
    let (status, body) = get(&server.url("/healthz"));
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&server.url("/readyz"));
    assert_eq!(status, 200);
    assert!(body.contains("\"database\":\"sqlite\""), "{body}");
    let (status, metrics) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    assert!(metrics.contains("leitstand_build_info{"));
    assert_eq!(server.terminate(), 0);
    // Each request left one JSON access line with a trace id and no raw path.
    let access: Vec<serde_json::Value> = server
        .log
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["target"] == "leitstand::access")
        .collect();
    assert_eq!(access.len(), 3, "{:#?}", server.log);
    assert!(access.iter().all(|e| e["span"]["trace_id"].as_str().is_some_and(|t| t.len() == 32)));
    assert_eq!(access[1]["route"], "/readyz");
}

#[test]
fn serve_on_postgres_with_two_replicas_sharing_one_database() {
    let (url, admin, database) = postgres_empty();
    let url_with_password = url.replacen("postgres://leitstand@", "postgres://leitstand:not-logged@", 1);
    let dir = tempfile::tempdir().unwrap();
    let mut a = Server::start(dir.path(), &["--database-url", &url_with_password, "--data-dir", "a"]);
    let mut b = Server::start(dir.path(), &["--database-url", &url_with_password, "--data-dir", "b"]);
    for server in [&a, &b] {
        let (status, body) = get(&server.url("/readyz"));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"database\":\"postgres\""), "{body}");
    }
    assert_eq!(a.terminate(), 0);
    assert_eq!(b.terminate(), 0);
    let all = [a.log.join("\n"), b.log.join("\n")].join("\n");
    assert!(!all.contains("not-logged"), "the database password must never be logged");
    assert!(all.contains("postgres://leitstand:***@"), "the redacted URL is logged");
    drop_postgres(&admin, &database);
}

#[test]
fn port_in_use_is_explained_with_exit_code_3() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["serve", "--listen", &port]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {port}: the address is already in use by another process")),
        "{stderr}"
    );
}

#[test]
fn unusable_data_dir_is_explained_with_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), b"x").unwrap();
    let out = run_in(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--data-dir", "a-file/data"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("data directory a-file/data is not usable"), "{stderr}");
    assert!(stderr.contains("--data-dir"), "{stderr}");
}

#[test]
fn unreachable_database_is_explained_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://leitstand:hunter2@127.0.0.1:9/leitstand"],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot use the database postgres://leitstand:***@127.0.0.1:9/leitstand"), "{stderr}");
    assert!(stderr.contains("database unreachable"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
}

#[test]
fn invalid_config_refuses_to_start_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leitstand.toml"), "[escalation]\ndedup_window = \"-5m\"\n").unwrap();
    let out = run_in(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "leitstand: leitstand.toml:2:1: escalation.dedup_window: invalid duration \"-5m\": durations cannot be negative"
    );
    assert!(!dir.path().join("leitstand-data").exists(), "nothing starts half-configured");
}

#[test]
fn database_from_a_newer_release_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    assert_eq!(server.terminate(), 0);
    let db = dir.path().join("leitstand-data/leitstand.db");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(leitstand_store::testing::mark_migrated_by_newer_release(
        &format!("sqlite://{}", db.display()),
        424242,
    ));
    let out = run_in(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("schema is at version 424242"), "{stderr}");
}

/// Blocking wrappers over the async test kit.
pub(crate) fn postgres_empty() -> (String, sqlx::postgres::PgConnectOptions, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(leitstand_store::testing::postgres_empty())
}

pub(crate) fn drop_postgres(admin: &sqlx::postgres::PgConnectOptions, database: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(leitstand_store::testing::drop_postgres(admin, database));
}

/// The allocator's built-in options (`.cargo/config.toml`): freed pages go
/// back to the system within a second, from a background thread, and
/// `MALLOC_CONF` overrides them one by one, as the README says.
#[test]
fn allocator_returns_freed_memory_within_a_second_unless_overridden() {
    let options = |conf: &str| {
        let out = crate::leitstand()
            .arg("--version")
            .env("MALLOC_CONF", format!("stats_print:true,stats_print_opts:mdablxeh{conf}"))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    let built_in = options("");
    for expected in ["opt.dirty_decay_ms: 1000", "opt.muzzy_decay_ms: 0", "opt.background_thread: true"] {
        assert!(built_in.contains(expected), "{expected} in\n{built_in}");
    }
    let overridden = options(",dirty_decay_ms:10000");
    assert!(overridden.contains("opt.dirty_decay_ms: 10000"), "{overridden}");
    assert!(overridden.contains("opt.muzzy_decay_ms: 0"), "{overridden}");
}
