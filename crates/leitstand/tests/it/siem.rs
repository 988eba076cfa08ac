//! SIEM forwarding against a real rsyslog (Debian's, with its GnuTLS
//! driver) on loopback: RFC 5424 over TLS with octet counting, JSON and CEF
//! payloads, and at-least-once delivery across a SIEM outage and a
//! Leitstand restart — every index arrives, none is skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{Server, run_in};

/// A throwaway CA and a server certificate for localhost, made by openssl.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(&[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA"]]
        .concat());
    run(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
}

/// rsyslogd in the foreground, receiving syslog over TLS on `port` and
/// writing each raw message as one line of `out.log`.
struct Rsyslog {
    child: Child,
}

impl Rsyslog {
    fn start(dir: &Path, port: u16) -> Rsyslog {
        let d = dir.display();
        let conf = format!(
            "global(workDirectory=\"{d}\" DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" \
             DefaultNetstreamDriverCertFile=\"{d}/server.pem\" DefaultNetstreamDriverKeyFile=\"{d}/server.key\")\n\
             module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             action(type=\"omfile\" file=\"{d}/out.log\" template=\"raw\")\n"
        );
        std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .spawn()
            .expect("rsyslogd is installed (scripts/ensure-tools)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "rsyslog did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Rsyslog { child }
    }

    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn ingest(server: &Server, token: &str, tag: &str, n: usize) {
    let body: String = (0..n)
        .map(|i| {
            format!(
                "{{\"actor\":\"anna.schmidt\",\"action\":\"order.create\",\"object\":\"order:{tag}{i}\",\"outcome\":\"success\"}}\n"
            )
        })
        .collect();
    let res = reqwest::Client::new()
        .post(server.url("/api/v1/audit/events"))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

/// Waits until `out.log` holds every `order:{tag}{i}`; returns its lines.
fn wait_for_all(out: &PathBuf, tag: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        let missing = (0..n).filter(|i| !text.contains(&format!("order:{tag}{i}\""))).count();
        if missing == 0 {
            return text.lines().map(str::to_string).collect();
        }
        assert!(Instant::now() < deadline, "{missing} of {n} {tag} events never reached the SIEM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn config(portal: &Path, siem: &Path, port: u16, format: &str) {
    std::fs::write(
        portal.join("leitstand.toml"),
        format!(
            "[audit.siem]\naddress = \"127.0.0.1:{port}\"\nca_file = \"{}\"\nserver_name = \"localhost\"\nformat = \"{format}\"\nhostname = \"leitstand.test\"\n",
            siem.join("ca.pem").display()
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn every_event_reaches_rsyslog_over_tls_across_outage_and_restart() {
    let (portal, siem) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    certificates(siem.path());
    let port = free_port();
    let rsyslog = Rsyslog::start(siem.path(), port);
    config(portal.path(), siem.path(), port, "json");
    crate::install(portal.path(), &[]);
    run_in(portal.path(), &["user", "add", "portal", "--role", "devops"]);
    let out = run_in(portal.path(), &["token", "create", "--user", "portal", "--scope", "write"]);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    leitstand_app::install_crypto_provider();
    let log = siem.path().join("out.log");

    let mut server = Server::start(portal.path(), &[]);
    ingest(&server, &token, "A", 200).await;
    let lines = wait_for_all(&log, "A", 200);
    let first = lines.iter().find(|l| l.contains("order:A0\"")).unwrap();
    assert!(
        first.starts_with("<109>1 ")
            && first.contains(" leitstand.test leitstand - order.create [leitstand@32473 index="),
        "{first}"
    );
    let json: serde_json::Value = serde_json::from_str(first.split_once('\u{feff}').unwrap().1).unwrap();
    assert!(json["actor"].as_str().unwrap().starts_with("ps:"), "the SIEM gets pseudonyms: {json}");

    // Outage: the SIEM goes away while events keep coming.
    rsyslog.stop();
    ingest(&server, &token, "B", 150).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ingest(&server, &token, "B", 150).await;
    let rsyslog = Rsyslog::start(siem.path(), port);
    wait_for_all(&log, "B", 150);

    // Restart of Leitstand, now sending CEF.
    assert_eq!(server.terminate(), 0);
    config(portal.path(), siem.path(), port, "cef");
    let server = Server::start(portal.path(), &[]);
    ingest(&server, &token, "C", 50).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if (0..50).all(|i| text.contains(&format!("duser=order:C{i} "))) {
            break text;
        }
        assert!(Instant::now() < deadline, "CEF events missing:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains("CEF:0|Leitstand|Leitstand|"), "{text}");
    assert!(!text.contains("anna"), "no clear personal data reaches the SIEM");

    // No index was skipped: 0..=max all arrived (some perhaps twice).
    let indexes: BTreeSet<u64> =
        text.lines().filter_map(|l| l.split_once(" index=\"")?.1.split_once('"')?.0.parse().ok()).collect();
    let max = *indexes.last().unwrap();
    let missing: Vec<u64> = (0..=max).filter(|i| !indexes.contains(i)).collect();
    assert!(missing.is_empty(), "indexes never forwarded: {missing:?}");
    assert!(max >= 200 + 300 + 50, "{max}");
    drop(rsyslog);
}

#[test]
fn an_unusable_ca_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        "[audit.siem]\naddress = \"127.0.0.1:6514\"\nca_file = \"ca.pem\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("audit.siem: ca.pem: no certificate in the file"), "{stderr}");
}
