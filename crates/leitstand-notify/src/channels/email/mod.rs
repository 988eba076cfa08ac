//! E-mail over SMTP (lettre, async, pooled).
//!
//! Mail is the channel every authority has, so it has to work with the
//! servers they run: STARTTLS or implicit TLS (rustls, WebPKI roots),
//! optional login, a per-command timeout. The message is multipart with a
//! plain-text part (pagers, mail-to-SMS gateways, screen readers) and an
//! HTML part (escaped by askama, only http(s) links clickable).
//!
//! - `Message-ID: <{notification id}@leitstand>`: a retried delivery has the
//!   same id, so mail systems and people can tell it is the same message.
//! - `Auto-Submitted: auto-generated` (RFC 3834) and
//!   `X-Auto-Response-Suppress: All`: no vacation replies back to the
//!   sender address.
//! - `X-Leitstand-Level`/`X-Leitstand-Kind`: for mail filters and rules.
//! - An invalid address (configured or the on-call person's) is a permanent
//!   error naming it: retrying would fail the same way, the fallback channel
//!   has to step in and someone has to fix the address.
//!
//! The transport (with its connection pool) is created on the first send,
//! because lettre's pool starts a background task and so needs the Tokio
//! runtime; building the channel does not.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use askama::Template;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls as LettreTls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;

use super::text::{self, View};
use super::{ChannelError, Delivery, FieldError, Secret, SendError, default_timeout, duration, redact};
use crate::{Locale, Message, MessageKind};

/// Alerts listed in one mail.
const MAX_ALERTS: usize = 50;

/// `kind = "email"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The SMTP server and sender.
    pub smtp: SmtpConfig,
    /// Fixed recipients (e.g. the team mailbox). The message's own
    /// recipients (the person on call) are added.
    #[serde(default)]
    pub to: Vec<String>,
}

/// How to reach the SMTP server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (certificate name for TLS).
    pub host: String,
    /// Port; default by `tls`: 25 (none), 587 (starttls), 465 (tls).
    #[serde(default)]
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default)]
    pub tls: Tls,
    /// Login name, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for `username`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender, e.g. `Leitstand <leitstand@example.org>`.
    pub from: String,
    /// Timeout of one delivery attempt (connect, each command, all of it).
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

impl SmtpConfig {
    /// The port to use.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            Tls::None => 25,
            Tls::Starttls => 587,
            Tls::Tls => 465,
        })
    }
}

/// Transport security towards the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain SMTP (only sensible on the same host or a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS; refuses to continue without.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl Config {
    pub(crate) fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let smtp = &self.smtp;
        let host = smtp.host.trim();
        if host.is_empty() {
            errors.push(FieldError::new("smtp.host", "must not be empty"));
        } else if host.contains("://") || host.contains(char::is_whitespace) || host.contains('/') {
            errors
                .push(FieldError::new("smtp.host", "must be a host name or address only (no scheme, path or spaces)"));
        }
        if smtp.port == Some(0) {
            errors.push(FieldError::new("smtp.port", "must be between 1 and 65535"));
        }
        if let Err(e) = smtp.from.parse::<Mailbox>() {
            errors.push(FieldError::new(
                "smtp.from",
                format!("not a valid address ({e}); write e.g. \"Leitstand <leitstand@example.org>\""),
            ));
        }
        match (&smtp.username, &smtp.password) {
            (Some(_), None) => errors.push(FieldError::new("smtp.password", "is missing (smtp.username is set)")),
            (None, Some(_)) => errors.push(FieldError::new("smtp.username", "is missing (smtp.password is set)")),
            (Some(u), Some(_)) if u.trim().is_empty() => {
                errors.push(FieldError::new("smtp.username", "must not be empty"))
            }
            _ => {}
        }
        if smtp.password.is_some() && smtp.tls == Tls::None && !is_loopback(host) {
            errors.push(FieldError::new(
                "smtp.tls",
                "\"none\" would send the password unencrypted; use \"starttls\" or \"tls\"",
            ));
        }
        if smtp.timeout.is_zero() {
            errors.push(FieldError::new("smtp.timeout", "must be longer than zero"));
        }
        for (i, to) in self.to.iter().enumerate() {
            if let Err(e) = to.parse::<Mailbox>() {
                errors.push(FieldError::new(format!("to[{i}]"), format!("{to:?} is not a valid address ({e})")));
            }
        }
        errors
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An e-mail as it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Sender (`From`).
    pub from: String,
    /// Recipients (`To`): the configured ones and the message's, without
    /// duplicates, not yet checked.
    pub to: Vec<String>,
    /// `Subject`.
    pub subject: String,
    /// `Message-ID`, with angle brackets.
    pub message_id: String,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Rendered {
    /// A header's value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Template)]
#[template(path = "email/de.txt")]
struct TextDe<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/en.txt")]
struct TextEn<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/de.html")]
struct HtmlDe<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/en.html")]
struct HtmlEn<'a> {
    v: &'a View<'a>,
}

/// The e-mail channel.
pub struct Email {
    id: String,
    config: Config,
    from: Mailbox,
    tls: LettreTls,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").field("id", &self.id).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Email {
    /// Validates `config` and prepares the channel (TLS settings included;
    /// the connection pool starts on the first send).
    pub fn new(id: &str, config: Config) -> Result<Self, ChannelError> {
        let errors = config.problems();
        if !errors.is_empty() {
            return Err(ChannelError::Invalid(errors));
        }
        let from = config
            .smtp
            .from
            .parse::<Mailbox>()
            .map_err(|e| ChannelError::Invalid(vec![FieldError::new("smtp.from", e.to_string())]))?;
        let host = config.smtp.host.trim().to_string();
        let tls = match config.smtp.tls {
            Tls::None => LettreTls::None,
            Tls::Starttls => LettreTls::Required(tls_parameters(&host)?),
            Tls::Tls => LettreTls::Wrapper(tls_parameters(&host)?),
        };
        Ok(Self { id: id.to_string(), config, from, tls, transport: OnceLock::new() })
    }

    /// The channel's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The mail for a message (pure).
    pub fn render(&self, msg: &Message) -> Rendered {
        let v = View::new(msg, MAX_ALERTS);
        let (text, html) = match msg.locale {
            Locale::De => (text::render(&TextDe { v: &v }, &v), text::render(&HtmlDe { v: &v }, &v)),
            Locale::En => (text::render(&TextEn { v: &v }, &v), text::render(&HtmlEn { v: &v }, &v)),
        };
        let mut to: Vec<String> = Vec::new();
        for addr in self.config.to.iter().chain(&msg.recipients) {
            let addr = addr.trim();
            if !addr.is_empty() && !to.iter().any(|t| t.eq_ignore_ascii_case(addr)) {
                to.push(addr.to_string());
            }
        }
        let headers = vec![
            ("X-Leitstand-Level".to_string(), msg.level.to_string()),
            ("X-Leitstand-Kind".to_string(), kind_name(msg.kind).to_string()),
            ("Auto-Submitted".to_string(), "auto-generated".to_string()),
            ("X-Auto-Response-Suppress".to_string(), "All".to_string()),
            ("Content-Language".to_string(), if msg.locale == Locale::De { "de" } else { "en" }.to_string()),
        ];
        Rendered {
            from: self.from.to_string(),
            to,
            subject: v.subject.clone(),
            message_id: format!("<{}@leitstand>", msg.id),
            headers,
            text,
            html,
        }
    }

    /// One delivery attempt.
    pub async fn send(&self, msg: &Message) -> Result<Delivery, SendError> {
        let rendered = self.render(msg);
        let mut to = Vec::new();
        let mut invalid = Vec::new();
        for addr in &rendered.to {
            match addr.parse::<Mailbox>() {
                Ok(mailbox) => to.push(mailbox),
                Err(_) => invalid.push(format!("{addr:?}")),
            }
        }
        if !invalid.is_empty() {
            return Err(SendError::permanent(format!("invalid recipient address: {}", invalid.join(", "))));
        }
        if to.is_empty() {
            return Err(SendError::permanent("no recipients: the channel has no `to` and the message none"));
        }
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject)
            .message_id(Some(rendered.message_id))
            .date(SystemTime::from(msg.created_at));
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        for (name, value) in rendered.headers {
            let Ok(name) = HeaderName::new_from_ascii(name) else { continue };
            builder = builder.raw_header(HeaderValue::new(name, value));
        }
        let mail = builder
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| SendError::permanent(format!("cannot build the mail: {e}")))?;

        let timeout = self.config.smtp.timeout;
        let secrets: Vec<&str> = self.config.smtp.password.iter().map(Secret::expose).collect();
        match tokio::time::timeout(timeout, self.transport().send(mail)).await {
            Err(_) => Err(SendError::retryable(format!(
                "no answer from the SMTP server within {} (timeout)",
                humantime::format_duration(timeout)
            ))),
            Ok(Err(e)) => Err(smtp_error(&e, &secrets)),
            Ok(Ok(response)) => Ok(Delivery {
                status: Some(u16::from(response.code())),
                detail: redact(&response.message().collect::<Vec<_>>().join(" "), &secrets),
            }),
        }
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| {
            let smtp = &self.config.smtp;
            let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.trim())
                .port(smtp.port())
                .tls(self.tls.clone())
                .timeout(Some(smtp.timeout))
                .pool_config(PoolConfig::new().max_size(4).idle_timeout(Duration::from_secs(60)));
            if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
                builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
            }
            builder.build()
        })
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, ChannelError> {
    TlsParameters::new(host.to_string()).map_err(|e| ChannelError::Setup(format!("TLS for {host}: {e}")))
}

/// The verdict for an SMTP failure: 5xx replies, TLS and client errors are
/// permanent; 4xx replies, timeouts and network errors retryable.
fn smtp_error(e: &lettre::transport::smtp::Error, secrets: &[&str]) -> SendError {
    let reason = redact(&super::error_chain(e), secrets);
    let status = e.status().map(u16::from);
    let mut error = if e.is_permanent() {
        SendError::permanent(format!("SMTP server refused: {reason}"))
    } else if e.is_transient() {
        SendError::retryable(format!("SMTP server deferred: {reason}"))
    } else if e.is_timeout() {
        SendError::retryable(format!("SMTP timeout: {reason}"))
    } else if e.is_tls() {
        SendError::permanent(format!("SMTP TLS failed (check smtp.tls and the server certificate): {reason}"))
    } else if e.is_client() {
        SendError::permanent(format!("SMTP client error: {reason}"))
    } else {
        SendError::retryable(format!("SMTP connection failed: {reason}"))
    };
    error.status = status;
    error
}

fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Firing => "firing",
        MessageKind::Escalated => "escalated",
        MessageKind::Resolved => "resolved",
        MessageKind::Test => "test",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::channels::ChannelConfig;
    use crate::channels::testing::message;

    fn config() -> Config {
        Config {
            smtp: SmtpConfig {
                host: "mail.example.org".into(),
                port: None,
                tls: Tls::Starttls,
                username: Some("leitstand".into()),
                password: Some(Secret::new("mail-password-123")),
                from: "Leitstand <leitstand@example.org>".into(),
                timeout: Duration::from_secs(10),
            },
            to: vec!["ops@example.org".into()],
        }
    }

    #[test]
    fn subject_and_headers_de() {
        let email = Email::new("ops-mail", config()).unwrap();
        let mut msg = message(Locale::De, MessageKind::Firing);
        msg.recipients = vec!["erika@example.org".into(), "OPS@example.org".into()];
        let r = email.render(&msg);
        assert_eq!(r.subject, "[KRITISCH] ProbeDown – portal (2 Alarme)");
        assert_eq!(r.message_id, format!("<{}@leitstand>", msg.id));
        assert_eq!(r.header("X-Leitstand-Level"), Some("2"));
        assert_eq!(r.header("X-Leitstand-Kind"), Some("firing"));
        assert_eq!(r.header("Auto-Submitted"), Some("auto-generated"));
        assert_eq!(r.to, ["ops@example.org", "erika@example.org"], "duplicates dropped");
        assert!(r.text.contains("Bestätigen: https://leitstand.example/alerts/act/ack-token"), "{}", r.text);
        assert!(r.text.contains("01.12.2026 10:15 UTC"), "{}", r.text);
        assert!(r.html.contains("lang=\"de\""));
    }

    #[test]
    fn subject_en_escalated_and_resolved() {
        let email = Email::new("ops-mail", config()).unwrap();
        let r = email.render(&message(Locale::En, MessageKind::Escalated));
        assert_eq!(r.subject, "[KRITISCH] ProbeDown – portal (2 alerts) – escalated to level 2");
        assert!(r.text.contains("2026-12-01 10:15 UTC"));
        let r = email.render(&message(Locale::De, MessageKind::Resolved));
        assert_eq!(r.subject, "[BEHOBEN] ProbeDown – portal (2 Alarme)");
        assert!(!r.text.contains("Bestätigen:"), "no ack link once resolved");
        let r = email.render(&message(Locale::En, MessageKind::Resolved));
        assert_eq!(r.subject, "[RESOLVED] ProbeDown – portal (2 alerts)");
    }

    #[test]
    fn html_is_escaped() {
        let email = Email::new("ops-mail", config()).unwrap();
        let mut msg = message(Locale::De, MessageKind::Firing);
        msg.alerts[0].annotations.insert("summary".into(), "<script>alert(1)</script>".into());
        msg.alerts[0].annotations.insert("runbook_url".into(), "javascript:alert(2)".into());
        let r = email.render(&msg);
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&#60;script&#62;"), "{}", r.html);
        assert!(!r.html.contains("javascript:"), "{}", r.html);
        assert!(r.text.contains("<script>alert(1)</script>"), "plain text stays literal");
    }

    #[test]
    fn validation_names_fields() {
        let mut c = config();
        c.smtp.from = "not an address".into();
        c.smtp.tls = Tls::None;
        c.smtp.host = "smtp://mail.example.org".into();
        c.to.push("bad@@example".into());
        let fields: Vec<String> = c.problems().into_iter().map(|e| e.path).collect();
        assert_eq!(fields, ["smtp.host", "smtp.from", "smtp.tls", "to[1]"]);

        let mut c = config();
        c.smtp.password = None;
        assert_eq!(c.problems()[0].path, "smtp.password");

        let mut c = config();
        c.smtp.host = "127.0.0.1".into();
        c.smtp.tls = Tls::None;
        assert!(c.problems().is_empty(), "plain SMTP with login is fine on loopback");
    }

    #[test]
    fn config_from_toml_like_json_rejects_unknown_fields_and_hides_password() {
        let json = r#"{"kind":"email","to":["ops@example.org"],
            "smtp":{"host":"mail.example.org","port":587,"tls":"starttls","username":"u",
                    "password":"mail-password-123","from":"leitstand@example.org","timeout":"30s"}}"#;
        let c: ChannelConfig = serde_json::from_str(json).unwrap();
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains("mail-password-123"));
        let ChannelConfig::Email(e) = &c else { panic!() };
        assert_eq!(e.smtp.timeout, Duration::from_secs(30));
        let bad = json.replace("\"to\"", "\"recipients\"");
        assert!(serde_json::from_str::<ChannelConfig>(&bad).is_err());
    }

    #[test]
    fn default_ports_follow_tls() {
        let mut c = config().smtp;
        assert_eq!(c.port(), 587);
        c.tls = Tls::Tls;
        assert_eq!(c.port(), 465);
        c.tls = Tls::None;
        assert_eq!(c.port(), 25);
    }
}
