//! Matrix through the client-server API, as a bot user with an access token.
//!
//! `PUT {homeserver}/_matrix/client/v3/rooms/{room id}/send/m.room.message/{txn id}`
//! with the notification id as transaction id: the spec makes the homeserver
//! treat a repeated transaction id (same access token) as the same event, so
//! a retry after a lost answer does not post twice. The body has a plain
//! `body` and an HTML `formatted_body` (`org.matrix.custom.html`, escaped by
//! askama). `m.mentions` is always set — with the recipients' user ids, or
//! empty — so a summary that happens to contain `@room` pings nobody
//! (intentional mentions, spec v1.7).
//!
//! A room alias (`#ops:example.org`) is resolved once through the room
//! directory and the room id kept; room ids may lack the `:server` part
//! (room version 12).

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use leitstand_core::clock::Clock;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::OnceCell;

use super::text::{self, View};
use super::{
    ChannelError, Delivery, FieldError, HttpPayload, HttpSender, Secret, SendError, check_url, default_timeout,
    duration,
};
use crate::{Locale, Message};

/// Alerts listed in one message.
const MAX_ALERTS: usize = 50;

/// `kind = "matrix"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The homeserver's client-server API base, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// Room id (`!abc:example.org`) or alias (`#ops:example.org`); the bot
    /// must have joined it.
    pub room: String,
    /// The bot's access token.
    pub access_token: Secret,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

impl Config {
    pub(crate) fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(url) = check_url("homeserver", &self.homeserver, &mut errors)
            && (url.query().is_some() || url.fragment().is_some())
        {
            errors.push(FieldError::new("homeserver", "must not have a query or fragment"));
        }
        if let Err(reason) = check_room(&self.room) {
            errors.push(FieldError::new("room", reason));
        }
        if self.access_token.expose().trim().is_empty() {
            errors.push(FieldError::new("access_token", "must not be empty"));
        }
        if self.timeout.is_zero() {
            errors.push(FieldError::new("timeout", "must be longer than zero"));
        }
        errors
    }
}

fn check_room(room: &str) -> Result<(), String> {
    let hint = "must be a room id like \"!abc:example.org\" or an alias like \"#ops:example.org\"";
    if room.is_empty() || room.contains(char::is_whitespace) || room.chars().any(char::is_control) {
        return Err(hint.to_string());
    }
    if let Some(rest) = room.strip_prefix('#') {
        return match rest.split_once(':') {
            Some((local, server)) if !local.is_empty() && !server.is_empty() => Ok(()),
            _ => Err(format!("{hint} (an alias needs its server)")),
        };
    }
    if let Some(rest) = room.strip_prefix('!') {
        let opaque = rest.split_once(':').map_or(rest, |(local, _)| local);
        let server_ok = rest.split_once(':').is_none_or(|(_, server)| !server.is_empty());
        return if !opaque.is_empty() && server_ok { Ok(()) } else { Err(hint.to_string()) };
    }
    Err(hint.to_string())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so room
/// ids and aliases (`!`, `#`, `:`) are one path segment.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() * 3);
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A Matrix user id (`@name:server`) — only those can be mentioned.
fn is_user_id(s: &str) -> bool {
    s.strip_prefix('@').and_then(|r| r.split_once(':')).is_some_and(|(l, srv)| {
        !l.is_empty() && !srv.is_empty() && !s.contains(char::is_whitespace) && !s.contains(['<', '>', '"'])
    })
}

/// What the templates see.
struct Room<'a> {
    v: &'a View<'a>,
    users: Vec<&'a str>,
}

#[derive(Template)]
#[template(path = "matrix/de.txt")]
struct TextDe<'a> {
    m: &'a Room<'a>,
}

#[derive(Template)]
#[template(path = "matrix/en.txt")]
struct TextEn<'a> {
    m: &'a Room<'a>,
}

#[derive(Template)]
#[template(path = "matrix/de.html")]
struct HtmlDe<'a> {
    m: &'a Room<'a>,
}

#[derive(Template)]
#[template(path = "matrix/en.html")]
struct HtmlEn<'a> {
    m: &'a Room<'a>,
}

/// The Matrix channel.
#[derive(Debug)]
pub struct Matrix {
    id: String,
    config: Config,
    http: HttpSender,
    base: String,
    room_id: OnceCell<String>,
}

impl Matrix {
    /// Uses `clock` instead of the system clock.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { http: self.http.with_clock(clock), ..self }
    }

    /// Validates `config` and builds the HTTP client.
    pub fn new(id: &str, config: Config) -> Result<Self, ChannelError> {
        let errors = config.problems();
        if !errors.is_empty() {
            return Err(ChannelError::Invalid(errors));
        }
        let http = HttpSender::new(config.timeout)?;
        let base = config.homeserver.trim_end_matches('/').to_string();
        let room_id = OnceCell::new();
        if config.room.starts_with('!') {
            room_id.set(config.room.clone()).ok();
        }
        Ok(Self { id: id.to_string(), config, http, base, room_id })
    }

    /// The channel's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The request for a message (pure; the access token is added when
    /// sending). The path holds the room id once an alias is resolved.
    pub fn render(&self, msg: &Message) -> HttpPayload {
        let room = self.room_id.get().unwrap_or(&self.config.room);
        HttpPayload {
            method: "PUT",
            path: Some(send_path(room, &msg.id.to_string())),
            headers: vec![("Content-Type".to_string(), "application/json".to_string())],
            body: content(msg).to_string(),
        }
    }

    /// One delivery attempt.
    pub async fn send(&self, msg: &Message) -> Result<Delivery, SendError> {
        let token = self.config.access_token.expose();
        self.room_id.get_or_try_init(|| self.resolve_alias()).await?;
        let rendered = self.render(msg);
        let url = format!("{}{}", self.base, rendered.path.as_deref().unwrap_or_default());
        let bearer = format!("Bearer {token}");
        let answer = self.http.send(&url, rendered, &[("Authorization", &bearer)], &[token]).await?;
        let event_id = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["event_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        Ok(Delivery { status: Some(answer.status), detail: event_id })
    }

    async fn resolve_alias(&self) -> Result<String, SendError> {
        let token = self.config.access_token.expose();
        let url = format!("{}/_matrix/client/v3/directory/room/{}", self.base, encode_segment(&self.config.room));
        let bearer = format!("Bearer {token}");
        let answer = self.http.get(&url, &[("Authorization", &bearer)], &[token]).await.map_err(|mut e| {
            e.reason = format!("cannot resolve room alias {}: {}", self.config.room, e.reason);
            e
        })?;
        serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["room_id"].as_str().map(str::to_string))
            .ok_or_else(|| SendError::retryable(format!("room alias {}: no room_id in the answer", self.config.room)))
    }
}

fn send_path(room: &str, txn: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", encode_segment(room), encode_segment(txn))
}

/// The `m.room.message` event content.
pub fn content(msg: &Message) -> serde_json::Value {
    let v = View::new(msg, MAX_ALERTS);
    let users: Vec<&str> = msg.recipients.iter().map(|r| r.trim()).filter(|r| is_user_id(r)).collect();
    let m = Room { v: &v, users };
    let (body, html) = match msg.locale {
        Locale::De => (text::render(&TextDe { m: &m }, &v), text::render(&HtmlDe { m: &m }, &v)),
        Locale::En => (text::render(&TextEn { m: &m }, &v), text::render(&HtmlEn { m: &m }, &v)),
    };
    json!({
        "msgtype": "m.text",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        "m.mentions": if m.users.is_empty() { json!({}) } else { json!({"user_ids": m.users}) },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::MessageKind;
    use crate::channels::testing::message;

    #[test]
    fn rooms_are_validated() {
        assert!(check_room("!abc:example.org").is_ok());
        assert!(check_room("!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM").is_ok(), "room version 12");
        assert!(check_room("#ops:example.org").is_ok());
        assert!(check_room("#ops").is_err());
        assert!(check_room("ops").is_err());
        assert!(check_room("@bot:example.org").is_err());
        assert!(check_room("!:example.org").is_err());
        assert!(check_room("!abc:").is_err());
        assert!(check_room("!a b:example.org").is_err());
    }

    #[test]
    fn path_encodes_room_and_uses_the_id_as_txn() {
        let msg = message(Locale::De, MessageKind::Firing);
        assert_eq!(
            send_path("!abc:example.org", &msg.id.to_string()),
            format!("/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/m.room.message/{}", msg.id)
        );
        assert_eq!(encode_segment("#ops:example.org"), "%23ops%3Aexample.org");
    }

    #[test]
    fn formatted_body_escapes_html() {
        let mut msg = message(Locale::En, MessageKind::Firing);
        msg.alerts[0].annotations.insert("summary".into(), "<script>alert(1)</script>".into());
        let c = content(&msg);
        let html = c["formatted_body"].as_str().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
        assert!(c["body"].as_str().unwrap().contains("<script>alert(1)</script>"), "plain body is literal");
        assert_eq!(c["msgtype"], "m.text");
        assert_eq!(c["format"], "org.matrix.custom.html");
        assert_eq!(c["m.mentions"], json!({}), "no accidental @room pings");
    }

    #[test]
    fn mentions_only_user_ids() {
        let mut msg = message(Locale::De, MessageKind::Escalated);
        msg.recipients = vec!["@erika:example.org".into(), "erika@example.org".into()];
        let c = content(&msg);
        assert_eq!(c["m.mentions"]["user_ids"], json!(["@erika:example.org"]));
        assert!(c["formatted_body"].as_str().unwrap().contains("https://matrix.to/#/@erika:example.org"));
        assert!(c["body"].as_str().unwrap().starts_with("@erika:example.org"));
        assert!(c["body"].as_str().unwrap().contains("eskaliert auf Stufe 2"));
    }

    #[test]
    fn validation_names_fields_without_the_token() {
        let c = Config {
            homeserver: "matrix.example.org".into(),
            room: "ops".into(),
            access_token: Secret::from(""),
            timeout: Duration::from_secs(1),
        };
        let fields: Vec<String> = c.problems().into_iter().map(|e| e.path).collect();
        assert_eq!(fields, ["homeserver", "room", "access_token"]);
    }
}
