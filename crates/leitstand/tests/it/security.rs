//! Issue 16, the part of the security regression suite that needs the
//! whole binary: what `serve` leaves on disk, and the first admin's
//! password. (The rest runs over HTTP in the web crate's `security` tests.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{Server, admin_token, leitstand};

/// Every file and directory below `dir` (and `dir`) with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(dir.display().to_string(), std::fs::metadata(dir).unwrap().permissions().mode() & 0o777)];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        // The server runs meanwhile: a temporary file it renamed away in
        // between is gone, not a finding.
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            out.extend(modes(&path));
        } else {
            out.push((path.display().to_string(), meta.permissions().mode() & 0o777));
        }
    }
    out
}

#[test]
fn files_are_no_longer_readable_by_every_local_user_and_second_factors_are_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let token = admin_token(dir.path(), "write");
    // A second factor for the admin, through the API.
    let secret = leitstand_app::new_totp_secret();
    leitstand_app::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // The server reads the system clock; so does the authenticator app.
        let now = leitstand_core::Clock::now(&leitstand_core::clock::SystemClock).as_second();
        let code = leitstand_app::totp_code(&secret, u64::try_from(now).unwrap()).unwrap();
        let res = reqwest::Client::new()
            .put(server.url("/api/v1/me/totp"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "secret": secret, "code": code }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    });
    let data = dir.path().join("leitstand-data");
    let all = modes(&data);
    for name in ["leitstand.db", "leitstand.db-wal", "leitstand.db-shm", "alert-intake", "audit", "keys"] {
        assert!(all.iter().any(|(p, _)| p.ends_with(name)), "{name} in {all:?}");
    }
    assert!(all.iter().any(|(p, _)| p.ends_with(".seg")), "the audit journal holds segments: {all:?}");
    for (path, mode) in &all {
        assert_eq!(mode & 0o077, 0, "{path} has mode {mode:o}: others may read it");
    }
    // What the database holds of the second factor is of no use without the keys.
    let stored: String = runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=ro", data.join("leitstand.db").display());
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT totp_secret FROM users WHERE username = 'admin'").fetch_one(&mut db).await.unwrap()
    });
    assert!(stored.starts_with("sealed:v1:") && !stored.contains(&secret), "{stored}");
    assert_eq!(server.terminate(), 0);

    // Looser permissions (a copy, a restore, an old version) are named at start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("leitstand.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut again = Server::start(dir.path(), &[]);
    again.drain_log();
    let warnings: Vec<&String> = again.log.iter().filter(|l| l.contains("other local users may read this")).collect();
    assert!(
        warnings.iter().any(|l| l.contains(r#""path":"./leitstand-data""#) && l.contains("chmod 700")),
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|l| l.contains("leitstand.db\"") && l.contains("chmod 600")), "{warnings:?}");
    assert_eq!(again.terminate(), 0);
}

#[test]
fn a_weak_admin_password_stops_the_start_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = leitstand()
        .current_dir(dir.path())
        .env("LEITSTAND_ADMIN_PASSWORD", "short")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", "data"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("environment variable LEITSTAND_ADMIN_PASSWORD: the password must have at least 12 characters"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was created");
}
