//! The words and facts every channel's templates share.
//!
//! Five channels in two languages would otherwise say the same thing ten
//! slightly different ways ("Bestätigen" here, "Quittieren" there). The
//! glossary ([`Words`]), the headline and subject rules and the time format
//! live here once; the templates in each channel's folder arrange them for
//! their medium. Times are always UTC with the `UTC` suffix — recipients sit
//! in different places, and a pager text without a zone is ambiguous.

use jiff::Timestamp;

use crate::{AlertSummary, Locale, Message, MessageKind};

/// The glossary of one language.
#[derive(Debug)]
pub(crate) struct Words {
    pub(crate) ack: &'static str,
    pub(crate) resolve: &'static str,
    pub(crate) view: &'static str,
    pub(crate) firing: &'static str,
    pub(crate) resolved: &'static str,
    pub(crate) resolved_title: &'static str,
    pub(crate) since: &'static str,
    pub(crate) ended: &'static str,
    pub(crate) level: &'static str,
    pub(crate) service: &'static str,
    pub(crate) tenant: &'static str,
    pub(crate) target: &'static str,
    pub(crate) runbook: &'static str,
    pub(crate) details: &'static str,
    pub(crate) notification: &'static str,
    pub(crate) ack_hint: &'static str,
    pub(crate) test_title: &'static str,
    pub(crate) test_text: &'static str,
    pub(crate) more: &'static str,
}

pub(crate) const DE: Words = Words {
    ack: "Bestätigen",
    resolve: "Als behoben markieren",
    view: "Ansehen",
    firing: "ausgelöst",
    resolved: "behoben",
    resolved_title: "Behoben",
    since: "seit",
    ended: "behoben um",
    level: "Stufe",
    service: "Dienst",
    target: "Ziel",
    tenant: "Mandant",
    runbook: "Runbook",
    details: "Details",
    notification: "Benachrichtigung",
    ack_hint: "Bestätigen stoppt die Eskalation.",
    test_title: "Testnachricht",
    test_text: "Dies ist eine Testnachricht von Leitstand: der Kanal funktioniert. Es ist nichts zu tun.",
    more: "weitere",
};

pub(crate) const EN: Words = Words {
    ack: "Acknowledge",
    resolve: "Mark as resolved",
    view: "View",
    firing: "firing",
    resolved: "resolved",
    resolved_title: "Resolved",
    since: "since",
    ended: "resolved at",
    level: "Level",
    service: "Service",
    target: "Target",
    tenant: "Tenant",
    runbook: "Runbook",
    details: "Details",
    notification: "Notification",
    ack_hint: "Acknowledging stops the escalation.",
    test_title: "Test message",
    test_text: "This is a test message from Leitstand: the channel works. No action needed.",
    more: "more",
};

/// The glossary for a locale.
pub(crate) fn words(locale: Locale) -> &'static Words {
    match locale {
        Locale::De => &DE,
        Locale::En => &EN,
    }
}

/// `01.12.2026 10:15 UTC` (German) or `2026-12-01 10:15 UTC` (English).
pub(crate) fn time(ts: Timestamp, locale: Locale) -> String {
    match locale {
        Locale::De => ts.strftime("%d.%m.%Y %H:%M UTC").to_string(),
        Locale::En => ts.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// "1 Alarm", "2 Alarme" / "1 alert", "2 alerts".
pub(crate) fn count(n: usize, locale: Locale) -> String {
    match (locale, n) {
        (Locale::De, 1) => "1 Alarm".to_string(),
        (Locale::De, n) => format!("{n} Alarme"),
        (Locale::En, 1) => "1 alert".to_string(),
        (Locale::En, n) => format!("{n} alerts"),
    }
}

/// "eskaliert auf Stufe 2" / "escalated to level 2".
pub(crate) fn escalated(level: u8, locale: Locale) -> String {
    match locale {
        Locale::De => format!("eskaliert auf Stufe {level}"),
        Locale::En => format!("escalated to level {level}"),
    }
}

/// Only http(s) links become clickable: annotations such as `runbook_url`
/// come from whoever sends alerts, and `javascript:` has no place in a mail.
pub(crate) fn web_link(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

/// Renders a template; rendering plain strings cannot fail, but should a
/// template ever break, the recipient still gets the headline and the
/// notification is not lost.
pub(crate) fn render(template: &impl askama::Template, view: &View<'_>) -> String {
    template.render().unwrap_or_else(|e| format!("{}\n{}\n({e})", view.title, view.footer()))
}

/// One alert, prepared for a template.
#[derive(Debug)]
pub(crate) struct AlertView<'a> {
    pub(crate) summary: &'a str,
    pub(crate) name: &'a str,
    pub(crate) service: &'a str,
    /// What is affected (`instance`), unless the summary names it already.
    pub(crate) target: &'a str,
    pub(crate) tenant: &'a str,
    pub(crate) description: Option<&'a str>,
    pub(crate) runbook: Option<&'a str>,
    pub(crate) url: Option<&'a str>,
    /// "ausgelöst seit 01.12.2026 10:15 UTC" / "behoben um …".
    pub(crate) state: String,
}

/// A message, prepared for a template.
#[derive(Debug)]
pub(crate) struct View<'a> {
    pub(crate) msg: &'a Message,
    pub(crate) w: &'static Words,
    /// `[KRITISCH] ProbeDown – portal (2 Alarme)`.
    pub(crate) subject: String,
    /// `Kritisch: ProbeDown – portal (2 Alarme) ausgelöst`.
    pub(crate) title: String,
    /// The level's name, or "Stufe 2" when the policy gave none.
    pub(crate) level_name: String,
    /// The alerts shown (at most the channel's limit).
    pub(crate) alerts: Vec<AlertView<'a>>,
    /// How many alerts were left out for length.
    pub(crate) more: usize,
    pub(crate) created: String,
    pub(crate) id: String,
    pub(crate) ack: Option<&'a str>,
    pub(crate) resolve: Option<&'a str>,
    pub(crate) view: Option<&'a str>,
    pub(crate) is_test: bool,
    pub(crate) is_resolved: bool,
    pub(crate) is_escalated: bool,
}

impl<'a> View<'a> {
    /// Prepares `msg`, showing at most `limit` alerts.
    pub(crate) fn new(msg: &'a Message, limit: usize) -> Self {
        let locale = msg.locale;
        let w = words(locale);
        let level_name = if msg.level_name.trim().is_empty() {
            format!("{} {}", w.level, msg.level)
        } else {
            msg.level_name.trim().to_string()
        };
        let group = group_name(&msg.alerts);
        let n = count(msg.alerts.len(), locale);
        let (subject, title) = match msg.kind {
            MessageKind::Firing => (
                format!("[{}] {group} ({n})", level_name.to_uppercase()),
                format!("{level_name}: {group} ({n}) {}", w.firing),
            ),
            MessageKind::Escalated => {
                let esc = escalated(msg.level, locale);
                (
                    format!("[{}] {group} ({n}) – {esc}", level_name.to_uppercase()),
                    format!("{level_name}: {group} ({n}) {esc}"),
                )
            }
            MessageKind::Resolved => (
                format!("[{}] {group} ({n})", w.resolved_title.to_uppercase()),
                format!("{}: {group} ({n})", w.resolved_title),
            ),
            MessageKind::Test => {
                (format!("[TEST] Leitstand: {}", w.test_title), format!("Leitstand: {}", w.test_title))
            }
        };
        let alerts = msg
            .alerts
            .iter()
            .take(limit)
            .map(|a| {
                let firing = a.status != "resolved";
                let state = match (firing, a.ends_at) {
                    (false, Some(end)) => format!("{} {}", w.ended, time(end, locale)),
                    (false, None) => w.resolved.to_string(),
                    (true, _) => format!("{} {} {}", w.firing, w.since, time(a.starts_at, locale)),
                };
                let summary = a.summary(locale);
                let instance = a.label("instance");
                AlertView {
                    summary,
                    name: a.label("alertname"),
                    service: a.label("service"),
                    target: if summary.contains(instance) { "" } else { instance },
                    tenant: a.label("tenant"),
                    description: a.localized("description", locale).filter(|d| !d.is_empty()),
                    runbook: a.annotations.get("runbook_url").and_then(|u| web_link(u)),
                    url: a.url.as_deref().and_then(web_link),
                    state,
                }
            })
            .collect();
        Self {
            msg,
            w,
            subject,
            title,
            level_name,
            alerts,
            more: msg.alerts.len().saturating_sub(limit),
            created: time(msg.created_at, locale),
            id: msg.id.to_string(),
            ack: msg.links.ack.as_deref().and_then(web_link),
            resolve: msg.links.resolve.as_deref().and_then(web_link),
            view: msg.links.view.as_deref().and_then(web_link),
            is_test: msg.kind == MessageKind::Test,
            is_resolved: msg.kind == MessageKind::Resolved,
            is_escalated: msg.kind == MessageKind::Escalated,
        }
    }

    /// The status sentence below the headline.
    pub(crate) fn status_line(&self) -> String {
        let locale = self.msg.locale;
        let n = count(self.msg.alerts.len(), locale);
        match (self.msg.kind, locale) {
            (MessageKind::Test, _) => self.w.test_text.to_string(),
            (MessageKind::Resolved, _) => format!("{n} {}.", self.w.resolved),
            (MessageKind::Firing, _) => format!("{n} {} ({}).", self.w.firing, self.level_name),
            (MessageKind::Escalated, Locale::De) => {
                format!(
                    "{n} seit {} unbestätigt, {} ({}).",
                    self.first_start(),
                    escalated(self.msg.level, locale),
                    self.level_name
                )
            }
            (MessageKind::Escalated, Locale::En) => format!(
                "{n} unacknowledged since {}, {} ({}).",
                self.first_start(),
                escalated(self.msg.level, locale),
                self.level_name
            ),
        }
    }

    /// The footer: `Benachrichtigung <id> · 01.12.2026 10:15 UTC`.
    pub(crate) fn footer(&self) -> String {
        format!("Leitstand · {} {} · {}", self.w.notification, self.id, self.created)
    }

    /// "… und 3 weitere" / "… and 3 more", or "" when all are shown.
    pub(crate) fn more_line(&self) -> String {
        if self.more == 0 {
            String::new()
        } else {
            format!("… {} {} {}", if self.msg.locale == Locale::De { "und" } else { "and" }, self.more, self.w.more)
        }
    }

    /// The message's accent colour (contrast ≥ 4.5:1 on white): red from
    /// level 2, amber for level 1, green when resolved, blue for tests.
    pub(crate) fn color(&self) -> &'static str {
        match self.msg.kind {
            MessageKind::Resolved => "#1b7f3b",
            MessageKind::Test => "#1f5fa8",
            _ if self.msg.level >= 2 => "#b00020",
            _ => "#a35200",
        }
    }

    /// Whether any action link is present.
    pub(crate) fn has_links(&self) -> bool {
        self.ack.is_some() || self.resolve.is_some() || self.view.is_some()
    }

    /// Whether acknowledging makes sense (not for resolved or test messages).
    pub(crate) fn show_ack(&self) -> bool {
        self.ack.is_some() && !self.is_resolved && !self.is_test
    }

    fn first_start(&self) -> String {
        self.msg.alerts.iter().map(|a| a.starts_at).min().map_or_else(String::new, |t| time(t, self.msg.locale))
    }
}

/// `ProbeDown – portal`: the alert name(s) and the common service.
fn group_name(alerts: &[AlertSummary]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for a in alerts {
        let name = a.label("alertname");
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    let mut out = match names.len() {
        0 => "Leitstand".to_string(),
        1..=3 => names.join(", "),
        _ => format!("{}, …", names[..3].join(", ")),
    };
    let service = alerts.first().map_or("", |a| a.label("service"));
    if !service.is_empty() && alerts.iter().all(|a| a.label("service") == service) {
        out.push_str(" – ");
        out.push_str(service);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn times_are_utc_in_the_locale_format() {
        let ts: Timestamp = "2026-12-01T10:15:42Z".parse().unwrap();
        assert_eq!(time(ts, Locale::De), "01.12.2026 10:15 UTC");
        assert_eq!(time(ts, Locale::En), "2026-12-01 10:15 UTC");
    }

    #[test]
    fn counts_inflect() {
        assert_eq!(count(1, Locale::De), "1 Alarm");
        assert_eq!(count(2, Locale::De), "2 Alarme");
        assert_eq!(count(1, Locale::En), "1 alert");
        assert_eq!(count(3, Locale::En), "3 alerts");
    }

    #[test]
    fn only_web_links_are_links() {
        assert_eq!(web_link("https://x.example/a"), Some("https://x.example/a"));
        assert_eq!(web_link("HTTP://x.example/a"), Some("HTTP://x.example/a"));
        assert_eq!(web_link("javascript:alert(1)"), None);
        assert_eq!(web_link("http"), None);
    }
}
