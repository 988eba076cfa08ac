//! Slack incoming webhooks, and Mattermost, which accepts the same payload.
//!
//! One channel for both because the wire format is the same (`text` plus
//! legacy `attachments` with colour, fields and footer); what differs is
//! the markup, so `flavour` picks it: bold `*x*` vs `**x**`, links
//! `<url|label>` vs `[label](url)`, mentions `<@U123>` vs `@name`.
//!
//! Incoming webhooks cannot carry interactive buttons, so the action links
//! are plain links in the text. The webhook URL contains the token, so it
//! is a [`Secret`]. Text from alerts is escaped with [`MrkdwnEscaper`]
//! (configured in `askama.toml` for `*.mrkdwn` templates): otherwise a
//! summary containing `<!channel>` or `@all` would ping everybody. The
//! notification id appears in the footer: Slack has no idempotency key for
//! webhooks, so people can at least recognise a repeat.

use std::fmt::{self, Write};

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use leitstand_core::clock::Clock;
use serde::Deserialize;
use serde_json::json;

use super::text::{self, View};
use super::{
    ChannelError, Delivery, FieldError, HttpPayload, HttpSender, Secret, SendError, check_url, default_timeout,
    duration,
};
use crate::{Locale, Message};

/// Alerts listed in one message.
const MAX_ALERTS: usize = 20;

/// `kind = "slack"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The incoming-webhook URL (contains the token).
    pub url: Secret,
    /// Which markup the receiver speaks.
    #[serde(default)]
    pub flavour: Flavour,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

/// The receiving chat system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Slack (mrkdwn; recipients are member ids such as `U0123ABC`).
    #[default]
    Slack,
    /// Mattermost (Markdown; recipients are user names).
    Mattermost,
}

impl Config {
    pub(crate) fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_url("url", self.url.expose(), &mut errors);
        if self.timeout.is_zero() {
            errors.push(FieldError::new("timeout", "must be longer than zero"));
        }
        errors
    }
}

/// Escapes text for Slack mrkdwn and Mattermost Markdown: `&`, `<`, `>` as
/// entities (Slack's rule; Mattermost decodes them), and `@channel`,
/// `@here`, `@all` defused with a zero-width space.
#[derive(Debug, Clone, Copy, Default)]
pub struct MrkdwnEscaper;

impl askama::filters::Escaper for MrkdwnEscaper {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        dest.write_str(&escape(string))
    }
}

/// See [`MrkdwnEscaper`].
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => {
                out.push('@');
                let rest = text[i + 1..].to_ascii_lowercase();
                if ["channel", "here", "all", "everyone"].iter().any(|w| rest.starts_with(w)) {
                    out.push('\u{200B}');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// What the templates see: the message and the flavour's markup.
struct Markup<'a> {
    v: &'a View<'a>,
    flavour: Flavour,
    /// `*` or `**`.
    b: &'static str,
}

impl Markup<'_> {
    /// A link, already escaped for the flavour (use with `|safe`).
    fn link(&self, url: &str, label: &str) -> String {
        match self.flavour {
            Flavour::Slack => {
                let url = url.replace('>', "%3E").replace('<', "%3C").replace('|', "%7C");
                format!("<{url}|{}>", escape(label).replace('|', "¦"))
            }
            Flavour::Mattermost => {
                let url = url.replace(')', "%29").replace(' ', "%20");
                format!("[{}]({url})", escape(label).replace(']', "\\]"))
            }
        }
    }

    /// The action links, ` · `-separated (use with `|safe`).
    fn links(&self) -> String {
        let w = self.v.w;
        let mut parts = Vec::new();
        if self.v.show_ack()
            && let Some(u) = self.v.ack
        {
            parts.push(self.link(u, w.ack));
        }
        if !self.v.is_resolved
            && !self.v.is_test
            && let Some(u) = self.v.resolve
        {
            parts.push(self.link(u, w.resolve));
        }
        if let Some(u) = self.v.view {
            parts.push(self.link(u, w.view));
        }
        parts.join(" · ")
    }

    /// Mentions of the message's recipients, followed by a space (use with
    /// `|safe`). Slack mentions member ids (`U0123ABC`), Mattermost user
    /// names; recipients of another shape (an e-mail address, a Matrix id)
    /// are skipped rather than garbled.
    fn mentions(&self) -> String {
        let mut out = String::new();
        for r in &self.v.msg.recipients {
            let r = r.trim();
            match self.flavour {
                Flavour::Slack => {
                    let id = r.strip_prefix("<@").and_then(|x| x.strip_suffix('>')).unwrap_or(r);
                    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
                        out.push_str(&format!("<@{id}> "));
                    }
                }
                Flavour::Mattermost => {
                    let name = r.strip_prefix('@').unwrap_or(r);
                    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                    if !name.is_empty() && valid {
                        out.push_str(&format!("@{name} "));
                    }
                }
            }
        }
        out
    }
}

#[derive(Template)]
#[template(path = "slack/de.mrkdwn")]
struct TextDe<'a> {
    s: &'a Markup<'a>,
}

#[derive(Template)]
#[template(path = "slack/en.mrkdwn")]
struct TextEn<'a> {
    s: &'a Markup<'a>,
}

/// The Slack / Mattermost channel.
#[derive(Debug)]
pub struct Slack {
    id: String,
    config: Config,
    http: HttpSender,
}

impl Slack {
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
        Ok(Self { id: id.to_string(), config, http })
    }

    /// The channel's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The request for a message (pure; the URL is not part of it).
    pub fn render(&self, msg: &Message) -> HttpPayload {
        HttpPayload {
            method: "POST",
            path: None,
            headers: vec![("Content-Type".to_string(), "application/json".to_string())],
            body: payload(self.config.flavour, msg).to_string(),
        }
    }

    /// One delivery attempt.
    pub async fn send(&self, msg: &Message) -> Result<Delivery, SendError> {
        let url = self.config.url.expose();
        let answer = self.http.send(url, self.render(msg), &[], &[url]).await?;
        // Slack answers `ok`; an empty answer is reported the same way.
        let detail: String = answer.body.trim().chars().take(100).collect();
        Ok(Delivery { status: Some(answer.status), detail: if detail.is_empty() { "ok".into() } else { detail } })
    }
}

/// The JSON body for a flavour.
pub fn payload(flavour: Flavour, msg: &Message) -> serde_json::Value {
    let v = View::new(msg, MAX_ALERTS);
    let markup = Markup { v: &v, flavour, b: if flavour == Flavour::Slack { "*" } else { "**" } };
    let text = match msg.locale {
        Locale::De => text::render(&TextDe { s: &markup }, &v),
        Locale::En => text::render(&TextEn { s: &markup }, &v),
    };
    let mut fields = vec![json!({"title": v.w.level, "value": escape(&v.level_name), "short": true})];
    let first = v.alerts.first();
    let service = first.map_or("", |a| a.service);
    if !service.is_empty() && v.alerts.iter().all(|a| a.service == service) {
        fields.push(json!({"title": v.w.service, "value": escape(service), "short": true}));
    }
    let tenant = first.map_or("", |a| a.tenant);
    if !tenant.is_empty() && v.alerts.iter().all(|a| a.tenant == tenant) {
        fields.push(json!({"title": v.w.tenant, "value": escape(tenant), "short": true}));
    }
    json!({
        "text": text,
        "attachments": [{
            "fallback": escape(&v.title),
            "color": v.color(),
            "fields": fields,
            "footer": escape(&v.footer()),
            "ts": msg.created_at.as_second(),
        }],
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::MessageKind;
    use crate::channels::testing::message;

    #[test]
    fn slack_markup_links_mentions_and_id() {
        let mut msg = message(Locale::De, MessageKind::Firing);
        msg.recipients = vec!["U0123ABC".into(), "erika@example.org".into()];
        let body = payload(Flavour::Slack, &msg);
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("<@U0123ABC> *Kritisch: ProbeDown – portal (2 Alarme) ausgelöst*"), "{text}");
        assert!(text.contains("<https://leitstand.example/alerts/act/ack-token|Bestätigen>"), "{text}");
        assert!(text.contains("<https://leitstand.example/alerts/g/1|Ansehen>"), "{text}");
        let att = &body["attachments"][0];
        assert_eq!(att["color"], "#b00020");
        assert!(att["footer"].as_str().unwrap().contains(&msg.id.to_string()));
        assert_eq!(att["fields"][0]["value"], "Kritisch");
    }

    #[test]
    fn mattermost_markup() {
        let mut msg = message(Locale::En, MessageKind::Firing);
        msg.recipients = vec!["@erika.m".into(), "@erika:example.org".into()];
        let body = payload(Flavour::Mattermost, &msg);
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("@erika.m **Kritisch: ProbeDown – portal (2 alerts) firing**"), "{text}");
        assert!(text.contains("[Acknowledge](https://leitstand.example/alerts/act/ack-token)"), "{text}");
    }

    #[test]
    fn alert_text_cannot_ping_or_inject() {
        let mut msg = message(Locale::En, MessageKind::Firing);
        msg.alerts[0].annotations.insert("summary".into(), "<!channel> & @here <https://evil|click>".into());
        let text = payload(Flavour::Slack, &msg)["text"].as_str().unwrap().to_string();
        assert!(text.contains("&lt;!channel&gt; &amp; @\u{200B}here &lt;https://evil|click&gt;"), "{text}");
        assert!(!text.contains("<!channel>"));
    }

    #[test]
    fn resolved_says_so_without_ack() {
        for (locale, word) in [(Locale::De, "behoben"), (Locale::En, "resolved")] {
            let body = payload(Flavour::Slack, &message(locale, MessageKind::Resolved));
            let text = body["text"].as_str().unwrap();
            assert!(text.contains(word), "{text}");
            assert!(!text.contains("ack-token"), "{text}");
            assert_eq!(body["attachments"][0]["color"], "#1b7f3b");
        }
    }

    #[test]
    fn debug_hides_the_url() {
        let json =
            r#"{"kind":"slack","url":"https://hooks.slack.com/services/T0/B0/slack-token-xyz","flavour":"mattermost"}"#;
        let c: crate::channels::ChannelConfig = serde_json::from_str(json).unwrap();
        assert!(c.validate().is_ok());
        assert!(!format!("{c:?}").contains("slack-token-xyz"));
    }
}
