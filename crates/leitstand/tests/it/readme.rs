//! The README, run (issue 17): a README that no longer works fails the
//! test command. Every TOML block must pass `leitstand policy check`, and
//! the first-run demos run as a newcomer runs them, on loopback: the
//! tenant, the portal served from a directory of its own, the SMTP server
//! and the webhook receiver the README starts, `leitstand serve` with the
//! README's configuration, the audit event the README submits, the probe
//! going down and up, the notifications naming the target, level 3, the
//! acknowledgement by the signed link, a restart in between, and the
//! offline verification of the log.
//!
//! The commands are the README's: each is checked to be in it word for word.
//! Only the ports (so that tests run side by side) and the demo's one
//! minute of escalation (three seconds here) are changed.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::alerting::{Proc, Rig, free_port};
use crate::{Server, run_in};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap()
}

/// The README's code blocks of `lang`, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    text.split(&format!("```{lang}\n")).skip(1).map(|b| b.split("```").next().unwrap_or_default().to_string()).collect()
}

/// The one block of `lang` that contains `needle`.
fn block_with(text: &str, lang: &str, needle: &str) -> String {
    let found: Vec<String> = blocks(text, lang).into_iter().filter(|b| b.contains(needle)).collect();
    assert_eq!(found.len(), 1, "one ```{lang} block of the README with {needle:?}");
    found.into_iter().next().unwrap()
}

/// Runs `leitstand ARGS` in `dir`; its standard output (panics unless it exits 0).
fn leitstand(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "leitstand {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_toml_block_of_the_readme_passes_policy_check() {
    let dir = tempfile::tempdir().unwrap();
    let text = readme();
    let blocks = blocks(&text, "toml");
    assert!(blocks.len() >= 10, "{} TOML blocks", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let file = dir.path().join(format!("block-{}.toml", i + 1));
        std::fs::write(&file, block).unwrap();
        let out = run_in(dir.path(), &["policy", "check", file.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "README TOML block {} does not load:\n{block}\n{}",
            i + 1,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_first_run_demos_of_the_readme_work_on_loopback() {
    leitstand_app::install_crypto_provider();
    let text = readme();
    for command in [
        r#"leitstand tenant add bank-a --name "Bank A""#,
        "mkdir -p portal",
        "python3 -m http.server 8000 --bind 127.0.0.1 --directory portal &",
        "/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:2525 &",
        "leitstand serve",
        "leitstand user add portal --role devops",
        "TOKEN=$(leitstand token create --user portal --scope write)",
        "leitstand audit verify",
    ] {
        assert!(text.contains(command), "the README no longer says {command:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (portal_port, listen_port, smtp_port, hook_port) = (free_port(), free_port(), free_port(), free_port());
    let ports = |s: &str| {
        s.replace("127.0.0.1:8000", &format!("127.0.0.1:{portal_port}"))
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{listen_port}"))
            .replace("127.0.0.1:9000", &format!("127.0.0.1:{hook_port}"))
            .replace("(\"127.0.0.1\", 9000)", &format!("(\"127.0.0.1\", {hook_port})"))
            .replace("port = 2525", &format!("port = {smtp_port}"))
    };
    let monitoring = block_with(&text, "toml", "[[monitoring.probes]]\nid = \"portal\"");
    let alerting = block_with(&text, "toml", "[[alerting.channels]]\nid = \"ops-mail\"");
    let config = ports(&format!("{monitoring}\n{alerting}")).replace("\"1m\"", "\"3s\"");

    // The README's steps, in its order: the first start makes the
    // installation; then the demo's configuration.
    let listen = format!("127.0.0.1:{listen_port}");
    crate::install(d, &[]);
    std::fs::write(d.join("leitstand.toml"), config).unwrap();
    assert!(leitstand(d, &["tenant", "add", "bank-a", "--name", "Bank A"]).contains("tenant bank-a created"));
    std::fs::create_dir_all(d.join("portal")).unwrap();
    let portal = |d: &Path| {
        let port = portal_port.to_string();
        let args = ["-m", "http.server", port.as_str(), "--bind", "127.0.0.1", "--directory", "portal"];
        Proc::spawn("portal", Command::new("python3").current_dir(d).args(args), d.join("portal.log"))
    };
    let mut web = Some(portal(d));
    let smtp = Proc::spawn(
        "aiosmtpd",
        Command::new("/usr/bin/python3").args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{smtp_port}")]),
        d.join("mail.log"),
    );
    let script = ports(&block_with(&text, "sh", "class Hook"));
    let code = script.split("python3 -c '").nth(1).and_then(|rest| rest.split("' &").next()).unwrap().to_string();
    let hooks = Proc::spawn("webhook receiver", Command::new("python3").args(["-u", "-c", &code]), d.join("hooks.log"));
    let serve = |d: &Path| Server::run(d, &["serve", "--listen", &listen]);
    leitstand(d, &["user", "add", "portal", "--role", "devops"]);
    let token = leitstand(d, &["token", "create", "--user", "portal", "--scope", "write"]).trim().to_string();
    let mut rig = Rig::new(serve(d), token.clone());
    rig.others.extend([smtp, hooks]);
    let log = |name: &str| std::fs::read_to_string(d.join(name)).unwrap_or_default();

    // The audit trail demo: the README's event goes in and comes back.
    let audit = block_with(&text, "sh", "--data-binary");
    let event = audit.split("--data-binary $'").nth(1).and_then(|r| r.split("\\n'").next()).unwrap().to_string();
    let request = rig
        .client
        .post(rig.server.url("/api/v1/audit/events"))
        .bearer_auth(&token)
        .header("content-type", "application/x-ndjson")
        .body(format!("{event}\n"));
    let (status, body) = rig.send(request);
    assert_eq!(status, 201, "{body}");
    assert!(body.starts_with("{\"indexes\":["), "{body}");

    // The monitoring demo: up, then the portal stops.
    rig.until("the portal's probe up", |r| {
        let probes = r.get("/api/v1/probes");
        let state = probes.as_array().unwrap().iter().find(|p| p["id"] == "portal").map(|p| p["state"].clone());
        if state == Some(Value::from("up")) { Ok(()) } else { Err(format!("{state:?}")) }
    });
    web.take();
    let target = format!("http://127.0.0.1:{portal_port}/");
    let alert = rig.until("ProbeDown firing at level 2", |r| {
        r.alerts_named("ProbeDown").pop().filter(|a| a["level"] == 2).ok_or_else(|| "not yet".to_string())
    });
    assert_eq!(alert["summary"], format!("{target} ist nicht erreichbar"), "{alert}");
    assert_eq!(alert["tenant"], "bank-a");
    rig.until("the level-2 webhook naming what is down", |_| {
        let hooks = log("hooks.log");
        let named = hooks.contains(&format!("{target} ist nicht erreichbar")) && hooks.contains("\"level\":2");
        if named { Ok(()) } else { Err(hooks) }
    });
    rig.until("the level-2 e-mail naming what is down", |_| {
        let mails = log("mail.log");
        // Quoted-printable may fold long lines with a soft break.
        let unfolded = mails.replace("=\r\n", "").replace("=\n", "");
        let named = unfolded.contains(&format!("{target} ist nicht erreichbar"));
        if mails.contains("X-Leitstand-Level: 2") && named { Ok(()) } else { Err(mails) }
    });
    let id = alert["id"].as_str().unwrap().to_string();
    rig.until("level 3 without acknowledgement", |r| {
        let a = r.get(&format!("/api/v1/alerts/{id}"));
        if a["level"] == 3 && log("hooks.log").contains("\"kind\":\"escalated\"") { Ok(()) } else { Err(a.to_string()) }
    });
    rig.until("incident INC-1 (SEV-1) opened by the escalation", |r| {
        let inc = r.get("/api/v1/incidents/1");
        let opened = inc["severity"] == "SEV-1" && inc["opened_via"] == "escalation";
        if opened && inc["tenants"][0] == "bank-a" { Ok(()) } else { Err(inc.to_string()) }
    });

    // The signed link in the level-3 webhook acknowledges without a login.
    let escalated: Value = log("hooks.log")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|h| h["leitstand"]["kind"] == "escalated")
        .unwrap();
    let ack = escalated["leitstand"]["links"]["ack"].as_str().unwrap().to_string();
    let (status, page) = rig.send(rig.client.post(&ack).header("Origin", rig.server.url("")));
    assert_eq!(status, 200, "{page}");
    rig.until("acknowledged through the link", |r| {
        let a = r.get(&format!("/api/v1/alerts/{id}"));
        if a["acknowledged_by"] == "signed link" { Ok(()) } else { Err(a.to_string()) }
    });

    // A restart in between: Leitstand stops while the alert fires, the
    // portal comes back meanwhile; after the start the alert resolves.
    assert_eq!(rig.server.terminate(), 0);
    let mut logs = std::mem::take(&mut rig.server.log);
    web = Some(portal(d));
    rig.server = serve(d);
    rig.until("the alert resolved after the restart", |r| {
        let a = r.get(&format!("/api/v1/alerts/{id}"));
        if a["status"] == "resolved" { Ok(()) } else { Err(a.to_string()) }
    });
    rig.until("the resolution sent", |_| {
        let hooks = log("hooks.log");
        if hooks.contains("\"kind\":\"resolved\"") { Ok(()) } else { Err(hooks) }
    });
    assert!(web.is_some());

    // The log verifies offline, as the README says.
    assert_eq!(rig.server.terminate(), 0);
    // No warning but the one a first start must give (the log's name is
    // fixed at the first production start).
    logs.extend(rig.server.log.iter().cloned());
    let warnings: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("\"level\":\"WARN\"") && !l.contains("audit.origin is the default"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    std::thread::sleep(Duration::from_millis(100));
    let verified = run_in(d, &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stdout));
}
