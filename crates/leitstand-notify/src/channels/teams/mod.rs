//! Microsoft Teams through a Workflows ("Post to a channel when a webhook
//! request is received") webhook, as an Adaptive Card 1.4.
//!
//! The Office 365 connectors with MessageCards are retired; Workflows
//! accept `{"type":"message","attachments":[{adaptive card}]}` and answer
//! `202 Accepted`. Version 1.4 is the highest Teams renders everywhere
//! (desktop, web, mobile). The card has a bold title coloured by level, a
//! `FactSet` with one fact per alert, and `Action.OpenUrl` buttons for
//! acknowledge, resolve and view — incoming webhooks cannot receive
//! `Action.Submit`, and the signed links work without a Teams app.
//! Recipients become `<at>…</at>` mentions with `msteams.entities` (Teams
//! resolves UPNs / Entra object ids). The card shows the notification id:
//! Workflows have no idempotency key, so people can recognise a repeat. The
//! URL embeds a signature, so it is a [`Secret`].

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use leitstand_core::clock::Clock;
use serde::Deserialize;
use serde_json::{Value, json};

use super::text::{self, View};
use super::{
    ChannelError, Delivery, FieldError, HttpPayload, HttpSender, Secret, SendError, check_url, default_timeout,
    duration,
};
use crate::{Locale, Message, MessageKind};

/// Alerts listed as facts (cards are limited to about 28 KB).
const MAX_ALERTS: usize = 20;

/// `kind = "teams"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Workflows webhook URL (contains its signature).
    pub url: Secret,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
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

#[derive(Template)]
#[template(path = "teams/de.txt")]
struct TextDe<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "teams/en.txt")]
struct TextEn<'a> {
    v: &'a View<'a>,
}

/// The Teams channel.
#[derive(Debug)]
pub struct Teams {
    id: String,
    config: Config,
    http: HttpSender,
}

impl Teams {
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
            body: payload(msg).to_string(),
        }
    }

    /// One delivery attempt.
    pub async fn send(&self, msg: &Message) -> Result<Delivery, SendError> {
        let url = self.config.url.expose();
        let answer = self.http.send(url, self.render(msg), &[], &[url]).await?;
        Ok(Delivery { status: Some(answer.status), detail: format!("HTTP {}", answer.status) })
    }
}

/// The message body with the Adaptive Card.
pub fn payload(msg: &Message) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card(msg),
        }],
    })
}

/// The Adaptive Card alone.
pub fn card(msg: &Message) -> Value {
    let v = View::new(msg, MAX_ALERTS);
    let color = match msg.kind {
        MessageKind::Resolved => "Good",
        MessageKind::Test => "Accent",
        _ if msg.level >= 2 => "Attention",
        _ => "Warning",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": v.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
    ];

    let mentioned: Vec<&str> = msg.recipients.iter().map(|r| r.trim()).filter(|r| is_teams_user(r)).collect();
    if !mentioned.is_empty() {
        let text = mentioned.iter().map(|r| format!("<at>{r}</at>")).collect::<Vec<_>>().join(" ");
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }

    let text = match msg.locale {
        Locale::De => text::render(&TextDe { v: &v }, &v),
        Locale::En => text::render(&TextEn { v: &v }, &v),
    };
    body.push(json!({"type": "TextBlock", "text": text.trim(), "wrap": true}));

    let mut facts: Vec<Value> = v
        .alerts
        .iter()
        .map(|a| {
            let title = if a.name.is_empty() { a.summary } else { a.name };
            let mut value = if a.summary == title { a.state.clone() } else { format!("{} · {}", a.summary, a.state) };
            if !a.target.is_empty() {
                value.push_str(&format!(" · {}: {}", v.w.target, a.target));
            }
            if !a.service.is_empty() {
                value.push_str(&format!(" · {}: {}", v.w.service, a.service));
            }
            json!({"title": title, "value": value})
        })
        .collect();
    if v.more > 0 {
        facts.push(json!({"title": "…", "value": v.more_line()}));
    }
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    body.push(json!({"type": "TextBlock", "text": v.footer(), "size": "Small", "isSubtle": true, "wrap": true}));

    let mut actions = Vec::new();
    if v.show_ack()
        && let Some(u) = v.ack
    {
        actions.push(json!({"type": "Action.OpenUrl", "title": v.w.ack, "url": u, "style": "positive"}));
    }
    if !v.is_resolved
        && !v.is_test
        && let Some(u) = v.resolve
    {
        actions.push(json!({"type": "Action.OpenUrl", "title": v.w.resolve, "url": u}));
    }
    if let Some(u) = v.view {
        actions.push(json!({"type": "Action.OpenUrl", "title": v.w.view, "url": u}));
    }

    let mut msteams = json!({"width": "Full"});
    if !mentioned.is_empty() {
        msteams["entities"] = mentioned
            .iter()
            .map(|r| json!({"type": "mention", "text": format!("<at>{r}</at>"), "mentioned": {"id": r, "name": r}}))
            .collect();
    }

    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
        "msteams": msteams,
    })
}

/// Teams can mention a user by UPN (`name@tenant.example`) or Entra object
/// id (a UUID); other recipients (a Matrix id, a Slack id) are skipped.
fn is_teams_user(r: &str) -> bool {
    let upn = r.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    let clean = !r.contains(['<', '>', '"', ' ']);
    clean && (upn || uuid::Uuid::try_parse(r).is_ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::channels::testing::message;

    #[test]
    fn card_is_adaptive_card_1_4() {
        let msg = message(Locale::De, MessageKind::Firing);
        let body: Value = serde_json::from_str(&payload(&msg).to_string()).unwrap();
        assert_eq!(body["type"], "message");
        let att = &body["attachments"][0];
        assert_eq!(att["contentType"], "application/vnd.microsoft.card.adaptive");
        assert!(att["contentUrl"].is_null());
        let card = &att["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
        assert_eq!(card["body"][0]["weight"], "Bolder");
        assert_eq!(card["body"][0]["color"], "Attention");
        assert_eq!(card["body"][0]["text"], "Kritisch: ProbeDown – portal (2 Alarme) ausgelöst");
        let facts = card["body"].as_array().unwrap().iter().find(|b| b["type"] == "FactSet").unwrap();
        assert_eq!(facts["facts"].as_array().unwrap().len(), 2);
        assert_eq!(facts["facts"][0]["title"], "ProbeDown");
        let titles: Vec<&str> =
            card["actions"].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Bestätigen", "Als behoben markieren", "Ansehen"]);
        assert!(card["actions"].as_array().unwrap().iter().all(|a| a["type"] == "Action.OpenUrl"));
        assert!(body.to_string().contains(&msg.id.to_string()));
        assert!(card["msteams"].get("entities").is_none(), "no recipients, no mentions");
    }

    #[test]
    fn mentions_use_entities() {
        let mut msg = message(Locale::En, MessageKind::Escalated);
        msg.recipients = vec!["erika@example.org".into(), "@erika:example.org".into()];
        let card = card(&msg);
        assert_eq!(card["msteams"]["entities"].as_array().unwrap().len(), 1);
        assert_eq!(card["body"][1]["text"], "<at>erika@example.org</at>");
        assert_eq!(card["msteams"]["entities"][0]["mentioned"]["id"], "erika@example.org");
        assert_eq!(card["msteams"]["entities"][0]["text"], "<at>erika@example.org</at>");
    }

    #[test]
    fn resolved_card_has_no_ack() {
        let card = card(&message(Locale::En, MessageKind::Resolved));
        assert_eq!(card["body"][0]["color"], "Good");
        let titles: Vec<&str> =
            card["actions"].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["View"]);
    }
}
