//! The channel kinds behind one enum, and what they share.
//!
//! Every kind lives in its own folder with the same roles — a `Config`
//! (what the operator writes in `leitstand.toml`), a pure `render` (the wire
//! payload, testable without I/O, safe to show in a preview because secrets
//! are added only when sending) and `send` (one delivery attempt). This
//! module holds what must not drift apart between them:
//!
//! - [`SendError`] with one verdict, *retryable or not*: the dispatcher
//!   persists retries and switches to the fallback channel, so every channel
//!   has to sort its failures the same way (5xx, 408, 429, timeouts and
//!   refused connections are worth another try; other 4xx, rejected
//!   addresses and bad configuration are not).
//! - [`Secret`]: passwords, tokens and token-bearing webhook URLs print as
//!   `***`, and error texts are scrubbed, because delivery errors end up in
//!   logs and in the delivery log shown in the UI.
//! - one HTTP client builder (no redirects: a redirect would carry the
//!   signature and idempotency headers to a host nobody configured; a total
//!   timeout, so a hanging receiver cannot stall the dispatcher) and one
//!   send path, `HttpSender`: each channel sends what its `render` shows
//!   plus its secret headers, and gets the answer sorted the same way.
//! - [`Backoff`], the retry schedule, deterministic per message id so that
//!   replicas agree on the next attempt and tests need no clock.

pub mod email;
pub mod matrix;
pub mod slack;
pub mod teams;
#[cfg(test)]
mod testing;
mod text;
pub mod webhook;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use leitstand_core::clock::{Clock, SystemClock};
use serde::Deserialize;
use uuid::Uuid;

use crate::Message;

// ---------------------------------------------------------------------------
// Secrets

pub use leitstand_core::input::Secret;

/// A channel's stable id as configured (`ops-mail`): 1 to 64 lower-case
/// letters, digits and `-`. Audiences, fallbacks, notifications and the
/// API name a channel by it; parsed once where it enters, so a path or a
/// form cannot ask for a channel by a name no channel can have.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(String);

/// As the quoted text, the way messages name a channel (`channel "ops-mail": …`).
impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl ChannelId {
    /// Whether `id` is one (the rule every configured id follows).
    pub fn is_valid(id: &str) -> bool {
        !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }

    /// The id, or why `id` is none.
    pub fn parse(id: impl Into<String>) -> Result<Self, String> {
        let id = id.into();
        if Self::is_valid(&id) {
            Ok(Self(id))
        } else {
            Err(format!("{id:?} is no channel id: 1 to 64 lower-case letters, digits and -"))
        }
    }

    /// The written form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl PartialEq<str> for ChannelId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for ChannelId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<ChannelId> for String {
    fn eq(&self, other: &ChannelId) -> bool {
        *self == other.0
    }
}

/// Replaces every occurrence of a secret in a text (an error message from a
/// library or a receiver) by `***`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        // Very short "secrets" would blank out ordinary words.
        if secret.len() >= 4 {
            out = out.replace(secret, "***");
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Configuration

/// One configuration problem, naming the field (relative to the channel's
/// table, e.g. `smtp.from`, `to[1]`, `url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FieldError {
    /// The field, dotted, with `[i]` for list entries.
    pub path: String,
    /// What is wrong, in words an operator understands (never the value of
    /// a secret).
    pub reason: String,
}

impl FieldError {
    pub(crate) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into() }
    }
}

/// One `[[alerting.channels]]` entry without its `id`, tagged by `kind`.
///
/// The lead's config wraps it as `struct Entry { id: String,
/// #[serde(flatten)] config: ChannelConfig }`; unknown fields are rejected
/// per kind.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelConfig {
    /// E-mail over SMTP.
    Email(email::Config),
    /// Generic webhook (Alertmanager webhook v4 payload, signed).
    Webhook(webhook::Config),
    /// Slack incoming webhook or Mattermost incoming webhook.
    Slack(slack::Config),
    /// Microsoft Teams Workflows webhook (Adaptive Card).
    Teams(teams::Config),
    /// Matrix room via the client-server API.
    Matrix(matrix::Config),
}

impl ChannelConfig {
    /// The `kind` as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Webhook(_) => "webhook",
            Self::Slack(_) => "slack",
            Self::Teams(_) => "teams",
            Self::Matrix(_) => "matrix",
        }
    }

    /// Checks everything that can be checked without the network; lists all
    /// problems at once, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let errors = match self {
            Self::Email(c) => c.problems(),
            Self::Webhook(c) => c.problems(),
            Self::Slack(c) => c.problems(),
            Self::Teams(c) => c.problems(),
            Self::Matrix(c) => c.problems(),
        };
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Why a channel could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The configuration is invalid.
    #[error("invalid channel configuration: {}", join_fields(.0))]
    Invalid(Vec<FieldError>),
    /// The configuration is valid but the client could not be set up (for
    /// example no TLS crypto provider installed).
    #[error("cannot set up the channel: {0}")]
    Setup(String),
}

fn join_fields(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Checks that a URL is absolute http(s) with a host and without
/// credentials in it. The reasons never repeat the value: Slack and Teams
/// URLs carry their token in the path.
pub(crate) fn check_url(path: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<reqwest::Url> {
    let url = match reqwest::Url::parse(value) {
        Ok(url) => url,
        Err(e) => {
            errors.push(FieldError::new(path, format!("not a valid URL ({e})")));
            return None;
        }
    };
    let mut ok = true;
    if !matches!(url.scheme(), "http" | "https") {
        errors.push(FieldError::new(path, format!("must be an http or https URL, not {}:", url.scheme())));
        ok = false;
    }
    if url.host_str().is_none_or(str::is_empty) {
        errors.push(FieldError::new(path, "has no host"));
        ok = false;
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.push(FieldError::new(
            path,
            "must not contain credentials (user:password@); use the channel's secret fields instead",
        ));
        ok = false;
    }
    ok.then_some(url)
}

// ---------------------------------------------------------------------------
// Durations in the config

/// Deserializes durations written like the rest of `leitstand.toml`:
/// `"500ms"`, `"10s"`, `"10m"`.
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map_err(|e| serde::de::Error::custom(format!("invalid duration {text:?}: {e}; write e.g. \"10s\"")))
    }
}

/// Default timeout of one delivery attempt.
pub(crate) const fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

// ---------------------------------------------------------------------------
// Results of a delivery attempt

/// A successful delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// HTTP status or SMTP reply code.
    pub status: Option<u16>,
    /// What the receiver said (Matrix event id, SMTP queue reply, …).
    pub detail: String,
}

/// A failed delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// Whether trying again later can help. `false` means: fix the
    /// configuration or the address; the dispatcher goes to the fallback
    /// channel at once.
    pub retryable: bool,
    /// What went wrong; never contains a secret.
    pub reason: String,
    /// The receiver asked to wait this long (HTTP `Retry-After`, Matrix
    /// `retry_after_ms`).
    pub retry_after: Option<Duration>,
    /// HTTP status or SMTP reply code, when the receiver answered.
    pub status: Option<u16>,
}

impl SendError {
    /// A failure worth retrying.
    pub fn retryable(reason: impl Into<String>) -> Self {
        Self { retryable: true, reason: reason.into(), retry_after: None, status: None }
    }

    /// A failure that will not go away by retrying.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self { retryable: false, reason: reason.into(), retry_after: None, status: None }
    }
}

// ---------------------------------------------------------------------------
// Rendered payloads

/// What a channel would put on the wire for a message, without secrets.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// An e-mail.
    Email(email::Rendered),
    /// An HTTP request (webhook, Slack, Teams, Matrix).
    Http(HttpPayload),
}

/// An HTTP request as rendered: secrets (URL tokens, `Authorization`,
/// signature, extra configured headers) are added only when sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPayload {
    /// `POST` or `PUT`.
    pub method: &'static str,
    /// The path below the configured base (Matrix), or `None` when the
    /// configured URL is used as it is.
    pub path: Option<String>,
    /// Headers that carry no secret.
    pub headers: Vec<(String, String)>,
    /// The JSON body, exactly as sent (the webhook signature covers these
    /// bytes).
    pub body: String,
}

impl HttpPayload {
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------
// The channel

/// A ready-to-use channel of any kind.
#[derive(Debug)]
pub enum Channel {
    /// E-mail over SMTP.
    Email(email::Email),
    /// Generic signed webhook.
    Webhook(webhook::Webhook),
    /// Slack or Mattermost.
    Slack(slack::Slack),
    /// Microsoft Teams.
    Teams(teams::Teams),
    /// Matrix.
    Matrix(matrix::Matrix),
}

impl Channel {
    /// Validates the configuration and builds the channel. `id` is the
    /// channel's id from the config (the webhook sends it as `receiver`).
    ///
    /// Needs no Tokio runtime (the SMTP pool starts on first use), but for
    /// the HTTP channels a rustls crypto provider must be installed
    /// (`rustls::crypto::ring::default_provider().install_default()`).
    pub fn from_config(id: &str, config: &ChannelConfig) -> Result<Self, ChannelError> {
        config.validate().map_err(ChannelError::Invalid)?;
        Ok(match config {
            ChannelConfig::Email(c) => Self::Email(email::Email::new(id, c.clone())?),
            ChannelConfig::Webhook(c) => Self::Webhook(webhook::Webhook::new(id, c.clone())?),
            ChannelConfig::Slack(c) => Self::Slack(slack::Slack::new(id, c.clone())?),
            ChannelConfig::Teams(c) => Self::Teams(teams::Teams::new(id, c.clone())?),
            ChannelConfig::Matrix(c) => Self::Matrix(matrix::Matrix::new(id, c.clone())?),
        })
    }

    /// Uses `clock` instead of the system clock (for the webhook
    /// signature's timestamp and `Retry-After` dates).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        match self {
            Self::Email(c) => Self::Email(c),
            Self::Webhook(c) => Self::Webhook(c.with_clock(clock)),
            Self::Slack(c) => Self::Slack(c.with_clock(clock)),
            Self::Teams(c) => Self::Teams(c.with_clock(clock)),
            Self::Matrix(c) => Self::Matrix(c.with_clock(clock)),
        }
    }

    /// The channel's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Email(c) => c.id(),
            Self::Webhook(c) => c.id(),
            Self::Slack(c) => c.id(),
            Self::Teams(c) => c.id(),
            Self::Matrix(c) => c.id(),
        }
    }

    /// The `kind` as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Webhook(_) => "webhook",
            Self::Slack(_) => "slack",
            Self::Teams(_) => "teams",
            Self::Matrix(_) => "matrix",
        }
    }

    /// The wire payload for a message (pure, no secrets).
    pub fn render(&self, msg: &Message) -> Rendered {
        match self {
            Self::Email(c) => Rendered::Email(c.render(msg)),
            Self::Webhook(c) => Rendered::Http(c.render(msg)),
            Self::Slack(c) => Rendered::Http(c.render(msg)),
            Self::Teams(c) => Rendered::Http(c.render(msg)),
            Self::Matrix(c) => Rendered::Http(c.render(msg)),
        }
    }

    /// One delivery attempt.
    pub async fn send(&self, msg: &Message) -> Result<Delivery, SendError> {
        match self {
            Self::Email(c) => c.send(msg).await,
            Self::Webhook(c) => c.send(msg).await,
            Self::Slack(c) => c.send(msg).await,
            Self::Teams(c) => c.send(msg).await,
            Self::Matrix(c) => c.send(msg).await,
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP

/// At most this much of a response body is read (an error page is enough
/// to explain a failure; an endless body must not exhaust memory).
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// At most this much of a receiver's answer goes into an error reason.
const MAX_REASON_BODY: usize = 300;

/// The HTTP client of one channel instance: a total timeout per attempt, no
/// redirects, a telling user agent.
fn http_client(timeout: Duration) -> Result<reqwest::Client, ChannelError> {
    // reqwest would panic without one; the server installs ring at start.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        return Err(ChannelError::Setup(
            "no rustls crypto provider installed (call rustls::crypto::ring::default_provider().install_default() at start)"
                .to_string(),
        ));
    }
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Leitstand/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ChannelError::Setup(error_chain(&e.without_url())))
}

/// The clock a channel starts with.
fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock in a channel's `Debug` output.
struct ClockName;

impl fmt::Debug for ClockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<clock>")
    }
}

/// A response as far as a channel needs it.
pub(crate) struct HttpAnswer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// The HTTP side of a channel: its client (see [`http_client`]), the
/// timeout of one attempt and the clock.
///
/// Every HTTP channel sends through [`HttpSender::send`], so what goes on
/// the wire is exactly what the channel's `render` shows — method, headers
/// and body — plus the secret headers only the sending adds, and every
/// answer is sorted into the same retry verdict.
pub(crate) struct HttpSender {
    client: reqwest::Client,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSender").field("timeout", &self.timeout).field("clock", &ClockName).finish_non_exhaustive()
    }
}

impl HttpSender {
    /// A sender on the system clock whose attempts end after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Result<Self, ChannelError> {
        Ok(Self { client: http_client(timeout)?, timeout, clock: system_clock() })
    }

    /// Uses `clock` instead of the system clock.
    pub(crate) fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The sender's clock (for a signature's timestamp).
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// One attempt: `rendered` to `url`, with `secret_headers` (tokens,
    /// signatures) added; `secrets` are scrubbed from every error reason.
    pub(crate) async fn send(
        &self,
        url: &str,
        rendered: HttpPayload,
        secret_headers: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<HttpAnswer, SendError> {
        let method = reqwest::Method::from_bytes(rendered.method.as_bytes())
            .map_err(|e| SendError::permanent(format!("cannot build the request: {e}")))?;
        let mut request = self.client.request(method, url);
        for (name, value) in &rendered.headers {
            request = request.header(name, value);
        }
        self.attempt(request.body(rendered.body), secret_headers, secrets).await
    }

    /// A `GET` of `url` (a lookup before sending, such as a Matrix room
    /// alias), sorted like [`HttpSender::send`].
    pub(crate) async fn get(
        &self,
        url: &str,
        secret_headers: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<HttpAnswer, SendError> {
        self.attempt(self.client.get(url), secret_headers, secrets).await
    }

    async fn attempt(
        &self,
        mut request: reqwest::RequestBuilder,
        secret_headers: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<HttpAnswer, SendError> {
        for &(name, value) in secret_headers {
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| SendError::permanent(format!("header {name} has a value not allowed in a header")))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        execute(request, self.timeout, secrets, &*self.clock).await
    }
}

/// Sends a request and sorts the outcome: 2xx is `Ok`, everything else a
/// [`SendError`] with the retry verdict. `secrets` are scrubbed from every
/// reason.
async fn execute(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    secrets: &[&str],
    clock: &dyn Clock,
) -> Result<HttpAnswer, SendError> {
    let mut response = request.send().await.map_err(|e| transport_error(e, timeout, secrets))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, clock.now()));
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_RESPONSE_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if (200..300).contains(&status) => return Err(transport_error(e, timeout, secrets)),
            // The status already tells what happened; a broken error page
            // does not change the verdict.
            Err(_) => break,
        }
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    if (200..300).contains(&status) {
        return Ok(HttpAnswer { status, body });
    }
    Err(status_error(status, &body, retry_after, secrets))
}

/// The verdict for a non-2xx status.
pub(crate) fn status_error(status: u16, body: &str, retry_after: Option<Duration>, secrets: &[&str]) -> SendError {
    let retryable = matches!(status, 408 | 429) || status >= 500;
    let mut reason = format!("receiver answered HTTP {status}");
    if let Some(text) = canonical_reason(status) {
        reason.push(' ');
        reason.push_str(text);
    }
    if (300..400).contains(&status) {
        reason.push_str(" (redirects are not followed; configure the final URL)");
    }
    // Matrix says how long to wait in the body (`M_LIMIT_EXCEEDED`).
    let retry_after = retry_after.or_else(|| {
        let ms = serde_json::from_str::<serde_json::Value>(body).ok()?.get("retry_after_ms")?.as_u64()?;
        Some(Duration::from_millis(ms))
    });
    let snippet: String = body.trim().chars().take(MAX_REASON_BODY).collect();
    if !snippet.is_empty() {
        reason.push_str(": ");
        reason.push_str(&snippet);
    }
    SendError {
        retryable,
        reason: redact(&reason, secrets),
        retry_after: if retryable { retry_after } else { None },
        status: Some(status),
    }
}

fn canonical_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason())
}

/// The verdict for a request that got no answer. The URL is stripped from
/// the error first (Slack and Teams URLs carry a token).
pub(crate) fn transport_error(e: reqwest::Error, timeout: Duration, secrets: &[&str]) -> SendError {
    let e = e.without_url();
    let chain = redact(&error_chain(&e), secrets);
    if e.is_timeout() {
        SendError::retryable(format!("no answer within {} (timeout): {chain}", humantime::format_duration(timeout)))
    } else if e.is_connect() {
        SendError::retryable(format!("cannot connect: {chain}"))
    } else if e.is_builder() {
        SendError::permanent(format!("cannot build the request: {chain}"))
    } else {
        SendError::retryable(chain)
    }
}

/// An error and its sources, `: `-separated, without repeats.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Parses `Retry-After`: delay seconds or an HTTP date (relative to `now`;
/// a date in the past means "now").
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value).ok()?;
    let secs = at.as_second().saturating_sub(now.as_second());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

// ---------------------------------------------------------------------------
// Retry schedule

/// When to try again after a failed attempt: exponential, capped, with a
/// ±20 % jitter derived from the message id — so retries of many messages
/// spread out, yet every replica (and every test) computes the same delay.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backoff {
    /// Delay after the first failed attempt.
    #[serde(with = "duration")]
    pub base: Duration,
    /// Growth per attempt (≥ 1).
    pub factor: f64,
    /// Upper bound of a delay.
    #[serde(with = "duration")]
    pub max: Duration,
    /// Attempts in total before the caller gives up on this channel and
    /// uses the fallback channel.
    pub max_attempts: u32,
}

impl Default for Backoff {
    /// 10 s, ×2, at most 10 min, 8 attempts (the last retry about 20 min
    /// after the first attempt).
    fn default() -> Self {
        Self { base: Duration::from_secs(10), factor: 2.0, max: Duration::from_secs(600), max_attempts: 8 }
    }
}

impl Backoff {
    /// The delay before the next attempt, after `attempt` attempts (1 = the
    /// first attempt failed) of message `id`; `None` once `max_attempts`
    /// attempts were made. `attempt` 0 (nothing tried yet) gives zero.
    pub fn next_delay(&self, attempt: u32, id: Uuid) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if attempt == 0 {
            return Some(Duration::ZERO);
        }
        let factor = if self.factor.is_finite() && self.factor >= 1.0 { self.factor } else { 1.0 };
        let max = self.max.as_secs_f64();
        let exponent = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
        let raw = (self.base.as_secs_f64() * factor.powi(exponent)).min(max);
        let jittered = (raw * (0.8 + 0.4 * unit_jitter(id, attempt))).min(max);
        // Whole milliseconds: stored and compared across replicas.
        Some(Duration::from_millis((jittered * 1000.0).round() as u64))
    }
}

/// A number in [0, 1) from the id and the attempt (SplitMix64).
fn unit_jitter(id: Uuid, attempt: u32) -> f64 {
    let (hi, lo) = id.as_u64_pair();
    let mut z = hi ^ lo.rotate_left(17) ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_channel_id_is_what_the_configuration_allows() {
        for ok in ["ops-mail", "a", "team-2"] {
            assert_eq!(ChannelId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "Ops", "ops_mail", "ops mail", &"x".repeat(65)] {
            let e = ChannelId::parse(bad).unwrap_err();
            assert!(e.contains("no channel id"), "{e}");
        }
        assert!(ChannelId::parse("ops-mail").unwrap() == *"ops-mail");
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_replaces_secrets() {
        assert_eq!(redact("token abcdef in url", &["abcdef"]), "token *** in url");
    }

    #[test]
    fn backoff_defaults_grow_cap_and_stop() {
        let b = Backoff::default();
        let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let delays: Vec<_> = (1..=8).map(|n| b.next_delay(n, id)).collect();
        assert_eq!(delays[7], None, "8 attempts in total");
        let d: Vec<f64> = delays[..7].iter().map(|d| d.unwrap().as_secs_f64()).collect();
        for (n, secs) in d.iter().enumerate() {
            let nominal = (10.0 * 2f64.powi(n as i32)).min(600.0);
            assert!(*secs >= nominal * 0.8 - 0.001 && *secs <= (nominal * 1.2).min(600.0), "attempt {n}: {secs}");
        }
        assert!(d[6] <= 600.0);
        assert_eq!(b.next_delay(0, id), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_is_deterministic_per_id_and_spreads_ids() {
        let b = Backoff::default();
        let a = Uuid::from_u128(1);
        let c = Uuid::from_u128(2);
        assert_eq!(b.next_delay(3, a), b.next_delay(3, a));
        let spread: std::collections::BTreeSet<_> =
            (0..50u128).map(|i| b.next_delay(1, Uuid::from_u128(i * 7919)).unwrap()).collect();
        assert!(spread.len() > 40, "jitter spreads retries: {}", spread.len());
        assert_ne!(b.next_delay(1, a), b.next_delay(1, c));
    }

    #[test]
    fn backoff_deserializes_human_durations() {
        let b: Backoff = serde_json::from_str(r#"{"base":"5s","max":"1m","max_attempts":3}"#).unwrap();
        assert_eq!(b.base, Duration::from_secs(5));
        assert_eq!(b.max, Duration::from_secs(60));
        assert_eq!(b.factor, 2.0);
        assert_eq!(b.next_delay(3, Uuid::nil()), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: Timestamp = "2026-12-01T10:15:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Tue, 01 Dec 2026 10:16:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Tue, 01 Dec 2026 10:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn status_verdicts() {
        assert!(status_error(500, "", None, &[]).retryable);
        assert!(status_error(503, "", None, &[]).retryable);
        assert!(status_error(408, "", None, &[]).retryable);
        assert!(status_error(429, "", Some(Duration::from_secs(3)), &[]).retryable);
        assert_eq!(status_error(429, "", Some(Duration::from_secs(3)), &[]).retry_after, Some(Duration::from_secs(3)));
        let matrix = status_error(429, r#"{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}"#, None, &[]);
        assert_eq!(matrix.retry_after, Some(Duration::from_millis(1500)));
        assert!(!status_error(400, "invalid_payload", None, &[]).retryable);
        assert!(!status_error(404, "", None, &[]).retryable);
        assert!(!status_error(301, "", None, &[]).retryable);
        let e = status_error(403, "bad token sekrit-token", None, &["sekrit-token"]);
        assert_eq!(e.reason, "receiver answered HTTP 403 Forbidden: bad token ***");
        assert_eq!(e.status, Some(403));
    }

    #[test]
    fn url_checks_name_the_problem() {
        let mut errors = Vec::new();
        assert!(check_url("url", "https://hooks.example.org/x", &mut errors).is_some());
        assert!(check_url("url", "ftp://example.org/x", &mut errors).is_none());
        assert!(check_url("url", "https://user:pw@example.org/x", &mut errors).is_none());
        assert!(check_url("url", "not a url", &mut errors).is_none());
        assert_eq!(errors.len(), 3);
        assert!(errors[0].reason.contains("http or https"));
        assert!(errors[1].reason.contains("credentials"));
        assert!(errors.iter().all(|e| e.path == "url" && !e.reason.contains("pw@")));
    }
}
