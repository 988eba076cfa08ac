//! Receivers for the contract test, all on loopback: a fake HTTP server
//! speaking the real wire answers of the webhook, Slack, Teams and Matrix
//! (they are SaaS and cannot run here), a real SMTP server (aiosmtpd, run
//! as a child process), a server that accepts and never answers, and a
//! closed port. [`Rig`] hides which one a channel kind needs, so the
//! contract test is the same function for every kind.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use leitstand_notify::channels::{Channel, ChannelConfig};
use leitstand_notify::{AlertSummary, Links, Locale, Message, MessageKind};
use uuid::Uuid;

/// The timeout every contract channel gets.
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// Secrets of the contract configurations; none may ever show up in a
/// `Debug` output or an error.
pub const WEBHOOK_SECRET: &str = "whsec-contract-secret-0001";
pub const HEADER_SECRET: &str = "hdr-contract-secret-0002";
pub const SLACK_TOKEN: &str = "slack-contract-token-0003";
pub const TEAMS_SIG: &str = "teams-contract-sig-0004";
pub const MATRIX_TOKEN: &str = "syt_contract_token_0005";
pub const SMTP_PASSWORD: &str = "smtp-contract-password-0006";
pub const SMTP_USER: &str = "leitstand";

/// A channel kind under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Webhook,
    Slack,
    Teams,
    Matrix,
}

/// How the receiver behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Takes the message.
    Accept,
    /// HTTP 500 / SMTP 451.
    ServerError,
    /// HTTP 400 / SMTP 550.
    ClientError,
    /// HTTP 429 with `Retry-After: 7` (Matrix: `retry_after_ms` 7000) /
    /// SMTP 450.
    RateLimited,
    /// Accepts the connection, never answers.
    Hang,
    /// Nothing listens.
    Refused,
}

/// One request (or mail) as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body as text; for mail the decoded subject, text and HTML parts.
    pub body: String,
    /// SMTP envelope recipients.
    pub rcpt_to: Vec<String>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------
// The fake HTTP receiver

struct HttpState {
    kind: Kind,
    behaviour: Mutex<Behaviour>,
    captured: Mutex<Vec<Captured>>,
}

pub struct FakeHttp {
    pub addr: SocketAddr,
    state: Arc<HttpState>,
}

impl FakeHttp {
    pub async fn start(kind: Kind) -> Self {
        let state =
            Arc::new(HttpState { kind, behaviour: Mutex::new(Behaviour::Accept), captured: Mutex::new(Vec::new()) });
        let app = axum::Router::new().fallback(handle).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { addr, state }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.state.captured.lock().unwrap().clone()
    }
}

async fn handle(
    State(state): State<Arc<HttpState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or_else(|| uri.path().to_string(), ToString::to_string);
    state.captured.lock().unwrap().push(Captured {
        method: method.to_string(),
        path: path.clone(),
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string())).collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        rcpt_to: Vec::new(),
    });
    let behaviour = *state.behaviour.lock().unwrap();
    let json =
        |status: StatusCode, body: String| (status, [("content-type", "application/json")], body).into_response();
    // Matrix room directory: `#ops:example.org` resolves to a room id.
    if state.kind == Kind::Matrix && path.starts_with("/_matrix/client/v3/directory/room/") {
        return json(StatusCode::OK, r#"{"room_id":"!resolved:example.org","servers":["example.org"]}"#.into());
    }
    match (behaviour, state.kind) {
        (Behaviour::Hang, _) => std::future::pending().await,
        (Behaviour::Accept, Kind::Webhook) => StatusCode::OK.into_response(),
        (Behaviour::Accept, Kind::Slack) => (StatusCode::OK, "ok").into_response(),
        (Behaviour::Accept, Kind::Teams) => StatusCode::ACCEPTED.into_response(),
        (Behaviour::Accept, Kind::Matrix) => {
            json(StatusCode::OK, format!(r#"{{"event_id":"$ev{}"}}"#, state.captured.lock().unwrap().len()))
        }
        (Behaviour::ServerError, _) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        (Behaviour::ClientError, Kind::Slack) => (StatusCode::BAD_REQUEST, "invalid_payload").into_response(),
        (Behaviour::ClientError, Kind::Matrix) => {
            json(StatusCode::BAD_REQUEST, r#"{"errcode":"M_BAD_JSON","error":"Content not JSON."}"#.into())
        }
        (Behaviour::ClientError, _) => (StatusCode::BAD_REQUEST, "bad request").into_response(),
        (Behaviour::RateLimited, Kind::Matrix) => json(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":7000}"#.into(),
        ),
        (Behaviour::RateLimited, _) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "rate limited").into_response()
        }
        (Behaviour::Accept | Behaviour::Refused, Kind::Email) => StatusCode::NOT_FOUND.into_response(),
        (Behaviour::Refused, _) => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------------------
// The real SMTP receiver

/// aiosmtpd as a child process, killed on drop.
pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("leitstand-notify-smtp-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(&script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .args(["--user", SMTP_USER, "--password", SMTP_PASSWORD])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start python3 for the SMTP sink");
        // The sink prints "ready <port>" once aiosmtpd accepts connections.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if !line.starts_with("ready") {
            let _ = child.kill();
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).ok();
            panic!(
                "SMTP sink did not start (is python3-aiosmtpd installed? `sudo apt-get install -y python3-aiosmtpd`):\n{err}"
            );
        }
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("SMTP sink says ready but does not accept");
        Self { port, dir, child }
    }

    /// The mails received so far, in order.
    pub fn captured(&self) -> Vec<Captured> {
        let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                let n = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
                Some((n, path))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let mail: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
                let headers: Vec<(String, String)> = mail["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
                    .collect();
                let subject = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("subject")).map_or("", |(_, v)| v);
                let body = format!(
                    "{subject}\n{}\n{}",
                    mail["text"].as_str().unwrap_or_default(),
                    mail["html"].as_str().unwrap_or_default()
                );
                Captured {
                    method: "SMTP".into(),
                    path: mail["mail_from"].as_str().unwrap_or_default().to_string(),
                    rcpt_to: mail["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_string())
                        .collect(),
                    headers,
                    body,
                }
            })
            .collect()
    }

    /// The raw `.eml` of mail `n` (1-based).
    pub fn raw(&self, n: u32) -> String {
        std::fs::read_to_string(self.dir.join(format!("{n}.eml"))).unwrap()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's python3 has aiosmtpd; a pyenv shim earlier in PATH may not.
fn python() -> String {
    if let Ok(p) = std::env::var("LEITSTAND_TEST_PYTHON") {
        return p;
    }
    if std::path::Path::new("/usr/bin/python3").exists() { "/usr/bin/python3".into() } else { "python3".into() }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A TCP server that accepts connections and never says a word.
pub async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    addr
}

// ---------------------------------------------------------------------------
// The rig: one receiver per kind

pub struct Rig {
    pub kind: Kind,
    pub http: Option<FakeHttp>,
    pub smtp: Option<SmtpSink>,
}

impl Rig {
    pub async fn start(kind: Kind) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        match kind {
            Kind::Email => Self { kind, http: None, smtp: Some(SmtpSink::start()) },
            _ => Self { kind, http: Some(FakeHttp::start(kind).await), smtp: None },
        }
    }

    /// A channel whose receiver behaves as told.
    pub async fn channel(&self, behaviour: Behaviour) -> Channel {
        let config = self.config(behaviour).await;
        Channel::from_config(&format!("contract-{:?}", self.kind).to_lowercase(), &config).unwrap()
    }

    /// The configuration of such a channel.
    pub async fn config(&self, behaviour: Behaviour) -> ChannelConfig {
        let addr = match behaviour {
            Behaviour::Refused => SocketAddr::from(([127, 0, 0, 1], free_port())),
            Behaviour::Hang if self.kind == Kind::Email => silent_server().await,
            _ => match (&self.http, &self.smtp) {
                (Some(http), _) => {
                    http.set(behaviour);
                    http.addr
                }
                (None, Some(smtp)) => SocketAddr::from(([127, 0, 0, 1], smtp.port)),
                (None, None) => unreachable!(),
            },
        };
        let base = format!("http://{addr}");
        let json = match self.kind {
            Kind::Email => {
                let to = match behaviour {
                    Behaviour::ServerError => "tempfail@example.org",
                    Behaviour::ClientError => "reject@example.org",
                    Behaviour::RateLimited => "ratelimit@example.org",
                    _ => "ops@example.org",
                };
                serde_json::json!({
                    "kind": "email",
                    "to": [to],
                    "smtp": {
                        "host": "127.0.0.1", "port": addr.port(), "tls": "none",
                        "username": SMTP_USER, "password": SMTP_PASSWORD,
                        "from": "Leitstand <leitstand@example.org>", "timeout": "500ms",
                    },
                })
            }
            Kind::Webhook => serde_json::json!({
                "kind": "webhook", "url": format!("{base}/hooks/leitstand"), "secret": WEBHOOK_SECRET,
                "headers": {"X-Api-Key": HEADER_SECRET}, "timeout": "500ms",
            }),
            Kind::Slack => serde_json::json!({
                "kind": "slack", "url": format!("{base}/services/T000/B000/{SLACK_TOKEN}"), "timeout": "500ms",
            }),
            Kind::Teams => serde_json::json!({
                "kind": "teams",
                "url": format!("{base}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig={TEAMS_SIG}"),
                "timeout": "500ms",
            }),
            Kind::Matrix => serde_json::json!({
                "kind": "matrix", "homeserver": base, "room": "!ops:example.org",
                "access_token": MATRIX_TOKEN, "timeout": "500ms",
            }),
        };
        serde_json::from_value(json).unwrap()
    }

    /// Everything the receiver got so far.
    pub fn captured(&self) -> Vec<Captured> {
        match (&self.http, &self.smtp) {
            (Some(http), _) => http.captured(),
            (None, Some(smtp)) => smtp.captured(),
            (None, None) => Vec::new(),
        }
    }

    /// The last delivery the receiver got.
    pub fn last(&self) -> Captured {
        self.captured().pop().expect("the receiver got nothing")
    }

    /// Where this kind puts the idempotency key, read from a capture.
    pub fn idempotency_key(&self, c: &Captured, id: Uuid) -> Option<String> {
        let id = id.to_string();
        match self.kind {
            Kind::Email => c.header("Message-ID").map(str::to_string),
            Kind::Webhook => c.header("Idempotency-Key").map(str::to_string),
            Kind::Matrix => c.path.rsplit_once("/send/m.room.message/").map(|(_, txn)| txn.to_string()),
            Kind::Slack | Kind::Teams => c.body.contains(&id).then_some(id),
        }
    }

    /// The key as this kind writes it for message `id`.
    pub fn expected_key(&self, id: Uuid) -> String {
        match self.kind {
            Kind::Email => format!("<{id}@leitstand>"),
            _ => id.to_string(),
        }
    }

    /// Whether the receiver can tell how long to wait (SMTP cannot).
    pub fn reports_retry_after(&self) -> bool {
        self.kind != Kind::Email
    }
}

/// All secrets of the contract configurations.
pub const SECRETS: &[&str] = &[WEBHOOK_SECRET, HEADER_SECRET, SLACK_TOKEN, TEAMS_SIG, MATRIX_TOKEN, SMTP_PASSWORD];

// ---------------------------------------------------------------------------
// Messages

pub const SUMMARY: &str = "Portal https://portal.example nicht erreichbar";
pub const ACK: &str = "https://leitstand.example/alerts/act/ack-token-1";
pub const RESOLVE: &str = "https://leitstand.example/alerts/act/resolve-token-1";
pub const VIEW: &str = "https://leitstand.example/alerts/g/1";

/// Two critical `ProbeDown` alerts of `portal`, level 2 "Kritisch".
pub fn message(locale: Locale, kind: MessageKind) -> Message {
    let resolved = kind == MessageKind::Resolved;
    let alert = |n: u128, instance: &str, summary: Option<&str>| AlertSummary {
        id: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 + n),
        fingerprint: format!("{n:016x}"),
        status: if resolved { "resolved" } else { "firing" }.into(),
        labels: BTreeMap::from([
            ("alertname".into(), "ProbeDown".into()),
            ("severity".into(), "critical".into()),
            ("service".into(), "portal".into()),
            ("instance".into(), instance.into()),
        ]),
        annotations: summary.map(|s| ("summary".to_string(), s.to_string())).into_iter().collect(),
        starts_at: "2026-12-01T10:15:00Z".parse().unwrap(),
        ends_at: resolved.then(|| "2026-12-01T10:45:00Z".parse().unwrap()),
        generator_url: Some("https://prometheus.example/graph?g0.expr=up".into()),
        url: Some(format!("https://leitstand.example/alerts/{n}")),
    };
    Message {
        id: Uuid::now_v7(),
        kind,
        locale,
        level: 2,
        level_name: "Kritisch".into(),
        group_key: r#"{}:{alertname="ProbeDown",service="portal"}"#.into(),
        alerts: vec![alert(1, "https://portal.example", Some(SUMMARY)), alert(2, "https://portal.example/api", None)],
        links: Links { ack: Some(ACK.into()), resolve: Some(RESOLVE.into()), view: Some(VIEW.into()) },
        recipients: Vec::new(),
        created_at: "2026-12-01T10:15:30Z".parse().unwrap(),
    }
}
