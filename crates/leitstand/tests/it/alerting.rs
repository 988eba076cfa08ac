//! Alerting as an operator sets it up, with the real binary and real
//! neighbours on loopback: Debian's Prometheus sends its alerts to
//! Leitstand's Alertmanager API, an Alertmanager forwards through its
//! webhook receiver; and the issue's demo — a web server goes down, its
//! probe fires ProbeDown, an e-mail (to a real SMTP server) and a signed
//! webhook go out at level 2, nobody acknowledges, level 3 follows with an
//! incident, a restart neither loses nor repeats anything, the link in the
//! webhook acknowledges without a login, and the web server's return
//! resolves the alert and says so.
//!
//! Every wait polls what a user can see (the API, the receivers) with a
//! deadline; only the absence of a repeat after the restart needs a window.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Server, admin_token};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const DEADLINE: Duration = Duration::from_secs(30);
const WEBHOOK_SECRET: &str = "whsec-leitstand-it-0123456789";

/// The wall clock (these tests talk to real processes).
fn now() -> jiff::Timestamp {
    use leitstand_core::clock::Clock;
    leitstand_core::clock::SystemClock.now()
}

/// A loopback port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process (Prometheus, Alertmanager) logging to a file; killed on drop.
pub(crate) struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child, log }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- {} (last lines) ---\n{}", self.name, lines[lines.len().saturating_sub(30)..].join("\n"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running Leitstand, an HTTP client and what to print when a wait fails.
pub(crate) struct Rig {
    pub(crate) server: Server,
    rt: tokio::runtime::Runtime,
    pub(crate) client: reqwest::Client,
    /// A token of scope `read` (alerts, audit log).
    read: String,
    pub(crate) others: Vec<Proc>,
}

impl Rig {
    pub(crate) fn new(server: Server, read: String) -> Rig {
        leitstand_app::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Rig { server, rt, client, read, others: Vec::new() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { self.server.url(path) }
    }

    /// Sends a request; status and body.
    pub(crate) fn send(&self, request: reqwest::RequestBuilder) -> (u16, String) {
        self.rt.block_on(async {
            match request.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    (status, res.text().await.unwrap_or_default())
                }
                Err(e) => (0, format!("request failed: {e}")),
            }
        })
    }

    fn get_with(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }

    fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, String) {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }

    /// GET with the read token; the JSON answer (panics on another status).
    pub(crate) fn get(&mut self, path: &str) -> Value {
        let (status, body) = self.get_with(path, Some(&self.read.clone()));
        if status != 200 {
            self.fail(&format!("GET {path}: {status} {body}"));
        }
        serde_json::from_str(&body).unwrap()
    }

    /// Calls `probe` every 250 ms until it gives a value; fails after
    /// `DEADLINE` with its last complaint and the logs.
    pub(crate) fn until<T>(&mut self, what: &str, mut probe: impl FnMut(&mut Rig) -> Result<T, String>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match probe(self) {
                Ok(v) => return v,
                Err(last) if Instant::now() >= deadline => {
                    self.fail(&format!("{what}: not within {DEADLINE:?}; last seen: {last}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    fn fail(&mut self, message: &str) -> ! {
        self.server.drain_log();
        // The access log of the polling itself says nothing.
        let log: Vec<&String> = self
            .server
            .log
            .iter()
            .filter(|l| {
                !(l.contains("\"leitstand::access\"")
                    && l.contains("\"method\":\"GET\"")
                    && l.contains("\"status\":200"))
            })
            .collect();
        let log: Vec<&str> = log.iter().map(|l| l.as_str()).collect();
        let others: Vec<String> = self.others.iter().map(Proc::tail).collect();
        panic!(
            "{message}\n--- Leitstand log (last lines) ---\n{}\n{}",
            log[log.len().saturating_sub(60)..].join("\n"),
            others.join("\n")
        );
    }

    /// The alerts Leitstand lists with this `alertname`.
    pub(crate) fn alerts_named(&mut self, name: &str) -> Vec<Value> {
        let list = self.get("/api/v1/alerts");
        list.as_array().unwrap().iter().filter(|a| a["alertname"] == name).cloned().collect()
    }

    /// The log event with `message`, logged already or waited for.
    fn logged(&mut self, message: &str) -> Value {
        self.server.logged(message)
    }

    /// The actions of the audit events on `object`, oldest first.
    fn audit_actions(&mut self, object: &str) -> Vec<String> {
        let page = self.get(&format!("/api/v1/audit/events?object={object}&limit=1000"));
        let mut actions: Vec<String> =
            page["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
        actions.reverse();
        actions
    }
}

/// The first sample of `metric` whose labels contain `labels`, in a
/// Prometheus text exposition.
fn sample(text: &str, metric: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} ")))
        .find(|l| l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn prometheus_and_alertmanager_deliver_alerts() {
    for binary in [PROMETHEUS, ALERTMANAGER] {
        if !Path::new(binary).exists() {
            eprintln!(
                "SKIPPED prometheus_and_alertmanager_deliver_alerts: {binary} is missing \
                 (sudo apt-get install -y prometheus prometheus-alertmanager)"
            );
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("leitstand.toml"), "[monitoring]\nhost = false\n").unwrap();
    let server = Server::start(d, &[]);
    let ingest = admin_token(d, "ingest");
    let mut rig = Rig::new(server, admin_token(d, "read"));
    let port = rig.server.addr.rsplit(':').next().unwrap().to_string();

    // Only a token of scope ingest (or write) may send; ingest cannot read.
    let probe = json!([{ "labels": { "alertname": "Intruder", "severity": "critical" } }]);
    let (status, body) = rig.post_json("/api/v2/alerts", Some("lst_not-a-token"), &probe);
    assert_eq!(status, 401, "a wrong token is refused: {body}");
    let (status, body) = rig.post_json("/api/v2/alerts", None, &probe);
    assert_eq!(status, 401, "no token is refused: {body}");
    let read = rig.read.clone();
    let (status, body) = rig.post_json("/api/v2/alerts", Some(&read), &probe);
    assert_eq!(status, 403, "a read token cannot send alerts: {body}");
    let (status, body) = rig.get_with("/api/v1/alerts", Some(&ingest));
    assert_eq!(status, 403, "an ingest token cannot read: {body}");
    assert!(rig.alerts_named("Intruder").is_empty(), "nothing refused was stored");

    // Prometheus with an always-firing rule, sending to Leitstand.
    let prom_port = free_port();
    std::fs::write(
        d.join("rules.yml"),
        r#"groups:
  - name: leitstand-it
    rules:
      - alert: PortalSlow
        expr: vector(1)
        labels:
          severity: warning
          service: portal
        annotations:
          summary: Portal answers slowly
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            r#"global:
  scrape_interval: 1m
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - api_version: v2
      timeout: 5s
      authorization:
        credentials: {ingest}
      static_configs:
        - targets: ["127.0.0.1:{port}"]
"#,
            rules = d.join("rules.yml").display()
        ),
    )
    .unwrap();
    let prometheus = Proc::spawn(
        "prometheus",
        Command::new(PROMETHEUS).args([
            format!("--config.file={}", d.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", d.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
            // Its first evaluation may come before the Alertmanager list is
            // discovered (that notification is dropped); resend soon.
            "--rules.alert.resend-delay=1s".to_string(),
        ]),
        d.join("prometheus.log"),
    );
    rig.others.push(prometheus);

    let alert = rig.until("Prometheus's alert listed by Leitstand", |r| {
        r.alerts_named("PortalSlow").pop().ok_or_else(|| "no PortalSlow alert".to_string())
    });
    assert_eq!(alert["labels"], json!({ "alertname": "PortalSlow", "service": "portal", "severity": "warning" }));
    assert_eq!(alert["summary"], "Portal answers slowly");
    assert_eq!((alert["status"].as_str(), alert["source"].as_str()), (Some("firing"), Some("api")));
    assert_eq!((alert["severity"].as_str(), alert["level"].as_u64()), (Some("warning"), Some(1)));
    assert_eq!(alert["service"], "portal");
    let generator = alert["generator_url"].as_str().unwrap_or_default();
    assert!(generator.contains("/graph?g0.expr="), "Prometheus's link to the rule: {alert}");
    assert!(alert["ends_at"].is_string(), "the endsAt Prometheus announced: {alert}");
    assert!(alert["next_step_at"].is_null(), "a warning does not escalate: {alert}");
    // Prometheus itself saw its notifications taken.
    let prom_metrics = format!("http://127.0.0.1:{prom_port}/metrics");
    let target = format!("127.0.0.1:{port}/");
    let (sent, errors) = rig.until("Prometheus counts its notifications as sent", |r| {
        let (_, text) = r.get_with(&prom_metrics, None);
        let sent = sample(&text, "prometheus_notifications_sent_total", &target).unwrap_or(0.0);
        let errors = sample(&text, "prometheus_notifications_errors_total", &target).unwrap_or(-1.0);
        if sent >= 1.0 && errors >= 0.0 { Ok((sent, errors)) } else { Err(format!("sent {sent}, errors {errors}")) }
    });
    assert_eq!(errors, 0.0, "Prometheus had errors sending to Leitstand ({sent} sent)");

    // An Alertmanager with Leitstand as its webhook receiver.
    let am_port = free_port();
    std::fs::write(
        d.join("alertmanager.yml"),
        format!(
            r#"route:
  receiver: leitstand
  group_by: ["alertname"]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: leitstand
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {ingest}
"#
        ),
    )
    .unwrap();
    let alertmanager = Proc::spawn(
        "alertmanager",
        Command::new(ALERTMANAGER).args([
            format!("--config.file={}", d.join("alertmanager.yml").display()),
            format!("--storage.path={}", d.join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            "--cluster.listen-address=".to_string(),
        ]),
        d.join("alertmanager.log"),
    );
    rig.others.push(alertmanager);
    let am = format!("http://127.0.0.1:{am_port}");
    rig.until("Alertmanager ready", |r| match r.get_with(&format!("{am}/-/ready"), None) {
        (200, _) => Ok(()),
        (status, body) => Err(format!("{status} {body}")),
    });
    let starts_at = now().to_string();
    let labels = json!({ "alertname": "DiskFull", "severity": "critical", "instance": "db1:9100", "service": "db" });
    let annotations = json!({ "summary": "Disk of db1 is full" });
    let (status, body) = rig.post_json(
        &format!("{am}/api/v2/alerts"),
        None,
        &json!([{ "labels": labels, "annotations": annotations, "startsAt": starts_at }]),
    );
    assert_eq!(status, 200, "Alertmanager took the alert: {body}");
    let (_, body) = rig.get_with(&format!("{am}/api/v2/alerts"), None);
    let am_alerts: Value = serde_json::from_str(&body).unwrap();
    let fingerprint = am_alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "DiskFull")
        .and_then(|a| a["fingerprint"].as_str())
        .unwrap_or_else(|| panic!("Alertmanager lists no DiskFull: {body}"))
        .to_string();

    let alert = rig.until("the Alertmanager's alert listed by Leitstand", |r| {
        r.alerts_named("DiskFull").pop().ok_or_else(|| "no DiskFull alert".to_string())
    });
    assert_eq!(alert["source"], "webhook");
    assert_eq!(alert["fingerprint"], fingerprint.as_str(), "the same fingerprint as the Alertmanager's");
    assert_eq!(alert["labels"], labels);
    assert_eq!((alert["status"].as_str(), alert["level"].as_u64()), (Some("firing"), Some(2)));
    assert_eq!(alert["summary"], "Disk of db1 is full");

    // Resolved at the Alertmanager: resolved in Leitstand.
    let ends_at = now().to_string();
    let (status, body) = rig.post_json(
        &format!("{am}/api/v2/alerts"),
        None,
        &json!([{ "labels": labels, "annotations": annotations, "startsAt": starts_at, "endsAt": ends_at }]),
    );
    assert_eq!(status, 200, "{body}");
    let resolved = rig.until("the resolution forwarded by the Alertmanager", |r| {
        let list = r.alerts_named("DiskFull");
        match list.first() {
            Some(a) if a["status"] == "resolved" => Ok(list),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(resolved.len(), 1, "one episode: {resolved:?}");
    assert_eq!(resolved[0]["id"], alert["id"]);
    assert!(resolved[0]["resolved_at"].is_string(), "{}", resolved[0]);
    let (_, text) = rig.get_with(&format!("{am}/metrics"), None);
    assert_eq!(
        sample(&text, "alertmanager_notifications_failed_total", "integration=\"webhook\""),
        Some(0.0),
        "the Alertmanager's webhook deliveries all succeeded"
    );
    // Prometheus's alert was never touched by the Alertmanager's.
    assert_eq!(rig.alerts_named("PortalSlow")[0]["status"], "firing");
    // Leitstand's own gauges: the engine runs, alerts came in, PortalSlow
    // fires, and the intake log is worked off.
    let (_, text) = rig.get_with("/metrics", None);
    assert_eq!(sample(&text, "leitstand_alerting_active", ""), Some(1.0), "{text}");
    assert!(sample(&text, "leitstand_alerting_received", "").is_some_and(|n| n >= 3.0), "{text}");
    assert!(sample(&text, "leitstand_alerting_firing", "").is_some_and(|n| n >= 1.0), "{text}");
    // Prometheus keeps sending: a record may be on its way in at any moment.
    rig.until("the intake log worked off", |r| {
        let (_, text) = r.get_with("/metrics", None);
        match sample(&text, "leitstand_alerting_intake_backlog", "") {
            Some(0.0) => Ok(()),
            other => Err(format!("backlog {other:?}")),
        }
    });
    assert_eq!(rig.server.terminate(), 0);
}

// ---------------------------------------------------------------------------
// The demo

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
struct Hook {
    at: Instant,
    headers: BTreeMap<String, String>,
    body: String,
    json: Value,
}

impl Hook {
    fn kind(&self) -> &str {
        self.json["leitstand"]["kind"].as_str().unwrap_or_default()
    }
    fn level(&self) -> u64 {
        self.json["leitstand"]["level"].as_u64().unwrap_or_default()
    }
}

type Hooks = Arc<Mutex<Vec<Hook>>>;

/// A webhook receiver that records every request and answers 200.
async fn hook_receiver(hooks: Hooks) -> u16 {
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State(hooks): axum::extract::State<Hooks>,
             headers: axum::http::HeaderMap,
             body: axum::body::Bytes| async move {
                let body = String::from_utf8_lossy(&body).into_owned();
                let headers = headers
                    .iter()
                    .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let json = serde_json::from_str(&body).unwrap_or(Value::Null);
                hooks.lock().unwrap().push(Hook { at: Instant::now(), headers, body, json });
                axum::http::StatusCode::OK
            },
        )
        .with_state(hooks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    port
}

/// The watched web server; stopped and started again on the same port.
struct Portal {
    port: u16,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Portal {
    fn start(rt: &tokio::runtime::Runtime, port: u16) -> Portal {
        let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route("/health", axum::routing::get(|| async { "portal ready" }));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = rt.spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await.unwrap();
        });
        Portal { port, stop: Some(stop), task: Some(task) }
    }

    /// Stops it and waits until the port is closed.
    fn stop(&mut self, rt: &tokio::runtime::Runtime) {
        if let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) {
            let _ = stop.send(true);
            rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await })
                .expect("the portal stops within 10 s")
                .unwrap();
        }
    }
}

/// aiosmtpd (the script of leitstand-notify's contract test) writing each
/// mail it accepts to `<dir>/<n>.json`; killed on drop.
struct SmtpSink {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    fn start(dir: PathBuf) -> SmtpSink {
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../leitstand-notify/tests/support/smtp_sink.py");
        let python = if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
        let mut child = Command::new(python)
            .arg(&script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start python3 for the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if !line.starts_with("ready") {
            let _ = child.kill();
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).ok();
            panic!("SMTP sink did not start (sudo apt-get install -y python3-aiosmtpd):\n{err}");
        }
        SmtpSink { port, dir, child }
    }

    /// The mails received so far, in order (decoded by Python's MIME parser).
    fn mails(&self) -> Vec<Value> {
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                let n = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
                Some((n, path))
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn subject(mail: &Value) -> String {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case("subject")))
        .and_then(|h| h[1].as_str())
        .unwrap_or_default()
        .to_string()
}

fn history_kinds(detail: &Value) -> Vec<String> {
    detail["history"].as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap().to_string()).collect()
}

/// Starts `leitstand serve` on a fixed address (the links in messages keep
/// working across the restart).
fn serve_on(dir: &Path, listen: &str) -> Server {
    Server::run(dir, &["serve", "--listen", listen])
}

#[test]
fn done_when_escalation_ack_by_link_resolution_and_restart() {
    leitstand_app::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let receivers = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let hooks: Hooks = Arc::default();
    let hook_port = receivers.block_on(hook_receiver(hooks.clone()));
    let mut portal = Portal::start(&receivers, 0);
    let smtp = SmtpSink::start(d.join("mail"));
    let listen = format!("127.0.0.1:{}", free_port());
    std::fs::write(
        d.join("leitstand.toml"),
        format!(
            r#"
[monitoring]
host = false
probe_down_for = "2s"
probe_down_interval = "1s"

[[monitoring.probes]]
id = "portal"
name = "Portal"
kind = "http"
target = "http://127.0.0.1:{portal}/health"
body_contains = "ready"
interval = "1s"
timeout = "1s"
retries = 0
service = "portal"

[[escalation.levels]]
name = "Warnung"
notify = ["devops"]
channels = ["email", "webhook"]
opens_incident = false

[[escalation.levels]]
name = "Kritisch"
notify = ["devops", "on_call"]
channels = ["email", "webhook"]
ack_deadline = "3s"
opens_incident = false

[[escalation.levels]]
name = "Ausfall"
notify = ["devops", "development", "management"]
channels = ["email", "webhook"]
opens_incident = true

[alerting]
group_wait = "0s"
retry_base = "1s"
retry_max = "2s"

[[alerting.channels]]
id = "ops-mail"
kind = "email"
locale = "en"
to = ["ops@example.org"]
smtp = {{ host = "127.0.0.1", port = {smtp}, tls = "none", from = "Leitstand <leitstand@example.org>" }}

[[alerting.channels]]
id = "ops-hook"
kind = "webhook"
url = "http://127.0.0.1:{hook_port}/hooks/leitstand"
secret = "{WEBHOOK_SECRET}"

[alerting.audiences.devops]
channels = ["ops-mail", "ops-hook"]

[alerting.audiences.on_call]
channels = ["ops-mail", "ops-hook"]

[alerting.audiences.development]
channels = ["ops-mail", "ops-hook"]

[alerting.audiences.management]
channels = ["ops-mail", "ops-hook"]
"#,
            portal = portal.port,
            smtp = smtp.port,
        ),
    )
    .unwrap();
    let server = serve_on(d, &listen);
    let mut rig = Rig::new(server, admin_token(d, "read"));
    let base = rig.server.url("");
    let hooks_now = || hooks.lock().unwrap().clone();

    rig.until("the portal's probe up", |r| {
        let probes = r.get("/api/v1/probes");
        let state = probes.as_array().unwrap().iter().find(|p| p["id"] == "portal").map(|p| p["state"].clone());
        if state == Some(json!("up")) { Ok(()) } else { Err(format!("{state:?}")) }
    });
    assert!(rig.alerts_named("ProbeDown").is_empty(), "no alert while the portal is up");

    // The portal goes down: ProbeDown (critical) at level 2.
    portal.stop(&receivers);
    let alert = rig.until("ProbeDown firing in Leitstand", |r| {
        r.alerts_named("ProbeDown").pop().ok_or_else(|| "no ProbeDown alert".to_string())
    });
    let id = alert["id"].as_str().unwrap().to_string();
    assert_eq!((alert["status"].as_str(), alert["source"].as_str()), (Some("firing"), Some("rule")));
    assert_eq!((alert["severity"].as_str(), alert["service"].as_str()), (Some("critical"), Some("portal")));
    assert_eq!(alert["labels"]["instance"], format!("http://127.0.0.1:{}/health", portal.port));

    let firing = rig.until("the level-2 webhook", |_| {
        let all = hooks_now();
        all.iter().find(|h| h.kind() == "firing").cloned().ok_or_else(|| format!("{} bodies, none firing", all.len()))
    });
    assert_eq!(firing.level(), 2, "{}", firing.body);
    assert_eq!(firing.json["status"], "firing");
    assert_eq!(firing.json["receiver"], "ops-hook");
    assert_eq!(firing.json["alerts"][0]["labels"]["alertname"], "ProbeDown");
    assert_eq!(firing.json["alerts"][0]["fingerprint"], alert["fingerprint"]);
    assert_eq!(firing.json["leitstand"]["alerts"][0]["id"], id.as_str());
    assert_eq!(firing.json["leitstand"]["level_name"], "Kritisch");
    assert_eq!(
        firing.headers.get("idempotency-key").map(String::as_str),
        firing.json["leitstand"]["notification_id"].as_str()
    );
    let signature = firing.headers.get("x-leitstand-signature").cloned().unwrap_or_default();
    assert!(
        leitstand_notify::channels::webhook::verify_signature(
            WEBHOOK_SECRET,
            &signature,
            firing.body.as_bytes(),
            now(),
            Duration::from_secs(300),
        ),
        "the webhook is signed with the channel's secret: {signature:?}"
    );
    assert!(
        !leitstand_notify::channels::webhook::verify_signature(
            "another-secret-0123456789",
            &signature,
            firing.body.as_bytes(),
            now(),
            Duration::from_secs(300),
        ),
        "and not with any other"
    );
    let mail = rig.until("the level-2 e-mail", |_| smtp.mails().first().cloned().ok_or("no mail".to_string()));
    assert!(subject(&mail).contains("ProbeDown"), "{}", subject(&mail));
    assert_eq!(mail["rcpt_tos"], json!(["ops@example.org"]));
    assert!(mail["text"].as_str().unwrap_or_default().contains("/alerts/act/"), "ack link in the mail");

    // Nobody acknowledges within 3 s: level 3, incident opened.
    let escalated = rig.until("the level-3 webhook", |_| {
        let all = hooks_now();
        all.iter()
            .find(|h| h.kind() == "escalated")
            .cloned()
            .ok_or_else(|| format!("{:?}", all.iter().map(|h| (h.kind().to_string(), h.level())).collect::<Vec<_>>()))
    });
    assert_eq!(escalated.level(), 3, "{}", escalated.body);
    assert_eq!(escalated.json["leitstand"]["level_name"], "Ausfall");
    let mails = rig.until("the level-3 e-mail", |_| {
        let mails = smtp.mails();
        if mails.len() >= 2 { Ok(mails) } else { Err(format!("{} mails", mails.len())) }
    });
    assert!(subject(&mails[1]).contains("escalated to level 3"), "{}", subject(&mails[1]));
    let detail = rig.until("escalation and incident in the alert's history", |r| {
        let detail = r.get(&format!("/api/v1/alerts/{id}"));
        let kinds = history_kinds(&detail);
        let delivered = detail["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["status"] == "delivered" && n["level"] == 3)
            .count();
        if kinds.contains(&"incident_opened".to_string()) && delivered == 2 {
            Ok(detail)
        } else {
            Err(format!("history {kinds:?}, {delivered} level-3 deliveries"))
        }
    });
    assert_eq!((detail["level"].as_u64(), detail["status"].as_str()), (Some(3), Some("firing")));
    let kinds = history_kinds(&detail);
    for kind in ["firing", "notified", "escalated", "incident_opened"] {
        assert!(kinds.contains(&kind.to_string()), "{kind} in {kinds:?}");
    }
    let at = |kind: &str| -> jiff::Timestamp {
        let entry = detail["history"].as_array().unwrap().iter().find(|h| h["kind"] == kind).unwrap();
        entry["at"].as_str().unwrap().parse().unwrap()
    };
    let waited = at("escalated").duration_since(at("firing"));
    assert!(waited >= jiff::SignedDuration::from_secs(3), "escalated at the 3 s deadline, not before: {waited:?}");
    assert!(waited < jiff::SignedDuration::from_secs(6), "and not long after it: {waited:?}");
    assert!(escalated.at > firing.at);
    rig.until("incident.opened in the audit log", |r| {
        let page = r.get("/api/v1/audit/events?action=incident.opened");
        let events = page["events"].as_array().unwrap();
        if events.iter().any(|e| e["object"] == format!("alert:{id}")) { Ok(()) } else { Err(format!("{page}")) }
    });

    // Restart: nothing lost, nothing repeated.
    let hooks_before = hooks_now().len();
    let mails_before = smtp.mails().len();
    assert_eq!(rig.server.terminate(), 0);
    rig.server = serve_on(d, &listen);
    let restarted = Instant::now();
    let started = rig.logged("alert engine started");
    // A graceful stop hands the alerting lease back: the engine is running
    // again at once, not when the lease would have lapsed (30 s).
    let took = restarted.elapsed();
    assert!(took < Duration::from_secs(10), "the alert engine started {took:?} after the restart");
    assert_eq!(started["open_alerts"], 1, "the open alert is loaded again: {started}");
    // The rule fires again (its state is not kept) and the engine takes it
    // as the same alert; the dispatcher would send within a second.
    rig.until("ProbeDown firing again after the restart", |r| {
        let rules = r.get("/api/v1/rules");
        let rule = rules.as_array().unwrap().iter().find(|x| x["name"] == "ProbeDown").cloned().unwrap_or_default();
        let firing = rule["alerts"].as_array().is_some_and(|a| a.iter().any(|a| a["state"] == "firing"));
        if firing { Ok(()) } else { Err(format!("{rule}")) }
    });
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<(String, u64)> =
        hooks_now()[hooks_before..].iter().map(|h| (h.kind().to_string(), h.level())).collect();
    assert!(after.is_empty(), "no webhook repeated after the restart: {after:?}");
    assert_eq!(smtp.mails().len(), mails_before, "no e-mail repeated after the restart");
    let list = rig.alerts_named("ProbeDown");
    assert_eq!(list.len(), 1, "still one episode: {list:?}");
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!((list[0]["level"].as_u64(), list[0]["status"].as_str()), (Some(3), Some("firing")));
    assert!(list[0]["acknowledged_by"].is_null());

    // The ack link from the webhook: GET shows a form and does nothing.
    let ack = escalated.json["leitstand"]["links"]["ack"].as_str().unwrap().to_string();
    assert!(ack.starts_with(&format!("{base}/alerts/act/")), "{ack}");
    let (status, page) = rig.send(rig.client.get(&ack));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form method=\"post\""), "a form with one button: {page}");
    assert!(rig.get(&format!("/api/v1/alerts/{id}"))["acknowledged_by"].is_null(), "a GET does not act");
    let forged = format!("{}x", ack);
    let (status, _) = rig.send(rig.client.post(&forged).header("Origin", &base));
    assert_eq!(status, 400, "a changed token is refused");
    let (status, page) = rig.send(rig.client.post(&ack).header("Origin", &base));
    assert_eq!(status, 200, "{page}");
    let acked = rig.until("acknowledged through the link", |r| {
        let a = r.get(&format!("/api/v1/alerts/{id}"));
        if a["acknowledged_at"].is_string() { Ok(a) } else { Err(format!("{a}")) }
    });
    assert_eq!(acked["acknowledged_by"], "signed link", "no user: the link acted");
    let ack_entry = acked["history"].as_array().unwrap().iter().find(|h| h["kind"] == "acknowledged").cloned();
    assert_eq!(ack_entry.map(|h| h["actor"].clone()), Some(json!("service:signed-link")));
    assert_eq!(acked["level"], 3);
    let (status, _) = rig.send(rig.client.post(&ack).header("Origin", &base));
    assert_eq!(status, 409, "acknowledging twice is refused");

    // The portal is back: resolved, and the receivers hear it.
    let _portal = Portal::start(&receivers, portal.port);
    let resolved = rig.until("ProbeDown resolved", |r| {
        let a = r.get(&format!("/api/v1/alerts/{id}"));
        if a["status"] == "resolved" { Ok(a) } else { Err(format!("{}", a["status"])) }
    });
    assert!(resolved["resolved_at"].is_string());
    let hook = rig.until("the resolved webhook", |_| {
        hooks_now().into_iter().find(|h| h.kind() == "resolved").ok_or("none yet".to_string())
    });
    assert_eq!(hook.json["status"], "resolved");
    assert_eq!(hook.json["alerts"][0]["status"], "resolved");
    assert!(hook.json["leitstand"]["links"]["ack"].is_null(), "nothing to acknowledge once resolved");
    let kinds: Vec<(String, u64)> = hooks_now().iter().map(|h| (h.kind().to_string(), h.level())).collect();
    assert_eq!(
        kinds,
        [("firing".to_string(), 2), ("escalated".to_string(), 3), ("resolved".to_string(), 3)],
        "each step told once"
    );
    rig.until("the resolved e-mail", |_| {
        let mails = smtp.mails();
        match mails.get(2) {
            Some(m) if subject(m).starts_with("[RESOLVED]") && mails.len() == 3 => Ok(()),
            _ => Err(format!("{:?}", mails.iter().map(subject).collect::<Vec<_>>())),
        }
    });

    // Each step in the audit log.
    let object = format!("alert:{id}");
    let actions = rig.until("every step in the audit log", |r| {
        let actions = r.audit_actions(&object);
        let needed = [
            "alert.firing",
            "alert.notified",
            "alert.escalated",
            "incident.opened",
            "alert.acknowledged",
            "alert.resolved",
        ];
        if needed.iter().all(|n| actions.iter().any(|a| a == n))
            && actions.iter().filter(|a| *a == "alert.notified").count() == 6
        {
            Ok(actions)
        } else {
            Err(format!("{actions:?}"))
        }
    });
    let position = |a: &str| actions.iter().position(|x| x == a).unwrap();
    assert!(position("alert.firing") < position("alert.escalated"), "{actions:?}");
    assert!(position("alert.escalated") < position("alert.acknowledged"), "{actions:?}");
    assert!(position("alert.acknowledged") < position("alert.resolved"), "{actions:?}");
    assert_eq!(rig.server.terminate(), 0);
}
