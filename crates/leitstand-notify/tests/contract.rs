//! The contract every notification channel passes — the same test
//! functions, run for each kind against a receiver on loopback (a real SMTP
//! server for e-mail; fakes speaking the real wire answers for the SaaS
//! chats). Adding a channel means adding it to `contract!` below, and then
//! it cannot skip a duty: both languages, the action links, an idempotency
//! key, a clear retryable/permanent verdict, timeouts, no secrets in
//! `Debug` or errors.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use leitstand_core::clock::ManualClock;
use leitstand_notify::channels::webhook::{SIGNATURE_HEADER, verify_signature};
use leitstand_notify::channels::{Channel, ChannelConfig, SendError};
use leitstand_notify::{Locale, MessageKind};
use support::*;

fn words(locale: Locale) -> &'static [&'static str] {
    match locale {
        Locale::De => &["Bestätigen", "Ansehen", "ausgelöst", "Alarme"],
        Locale::En => &["Acknowledge", "View", "firing", "alerts"],
    }
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "secret {secret:?} leaked into: {text}");
    }
}

async fn send_failing(rig: &Rig, behaviour: Behaviour) -> (SendError, Duration) {
    let channel = rig.channel(behaviour).await;
    let msg = message(Locale::De, MessageKind::Firing);
    let started = Instant::now();
    let err = channel.send(&msg).await.expect_err("the receiver did not take it");
    let elapsed = started.elapsed();
    assert_no_secret(&err.reason);
    assert_no_secret(&format!("{err:?}"));
    (err, elapsed)
}

// (1) Firing messages arrive in German and English with summary, level,
// links and the language's words.
async fn firing_is_delivered_in_both_languages(kind: Kind) {
    let rig = Rig::start(kind).await;
    let channel = rig.channel(Behaviour::Accept).await;
    for locale in [Locale::De, Locale::En] {
        let msg = message(locale, MessageKind::Firing);
        let delivery = channel.send(&msg).await.unwrap();
        assert!(delivery.status.is_some(), "{delivery:?}");
        let got = rig.last();
        for needle in [SUMMARY, "Kritisch", ACK, VIEW].iter().chain(words(locale)) {
            assert!(got.body.contains(needle), "{kind:?}/{locale:?}: {needle:?} missing in:\n{}", got.body);
        }
        assert_no_secret(&got.body);
    }
    assert_eq!(rig.captured().len(), 2);
}

// (2) The message id is the idempotency key, the same on every attempt.
async fn message_id_is_the_idempotency_key(kind: Kind) {
    let rig = Rig::start(kind).await;
    let channel = rig.channel(Behaviour::Accept).await;
    let msg = message(Locale::En, MessageKind::Firing);
    channel.send(&msg).await.unwrap();
    channel.send(&msg).await.unwrap();
    let got = rig.captured();
    assert_eq!(got.len(), 2);
    for c in &got {
        assert_eq!(rig.idempotency_key(c, msg.id), Some(rig.expected_key(msg.id)), "{kind:?}: {c:?}");
    }
}

// (3) Verdicts on failure.
async fn server_error_is_retryable(kind: Kind) {
    let (err, _) = send_failing(&Rig::start(kind).await, Behaviour::ServerError).await;
    assert!(err.retryable, "{err:?}");
}

async fn client_error_is_permanent(kind: Kind) {
    let (err, _) = send_failing(&Rig::start(kind).await, Behaviour::ClientError).await;
    assert!(!err.retryable, "{err:?}");
    assert!(err.status.is_some_and(|s| (400..600).contains(&s)), "{err:?}");
}

async fn rate_limit_is_retryable_with_retry_after(kind: Kind) {
    let rig = Rig::start(kind).await;
    let (err, _) = send_failing(&rig, Behaviour::RateLimited).await;
    assert!(err.retryable, "{err:?}");
    if rig.reports_retry_after() {
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)), "{err:?}");
        assert_eq!(err.status, Some(429));
    }
}

async fn connection_refused_is_retryable(kind: Kind) {
    let (err, _) = send_failing(&Rig::start(kind).await, Behaviour::Refused).await;
    assert!(err.retryable, "{err:?}");
}

async fn silent_receiver_times_out(kind: Kind) {
    let (err, elapsed) = send_failing(&Rig::start(kind).await, Behaviour::Hang).await;
    assert!(err.retryable, "{err:?}");
    assert!(err.reason.contains("timeout") || err.reason.contains("timed out"), "{err:?}");
    assert!(elapsed >= TIMEOUT.mul_f32(0.9), "gave up early: {elapsed:?}");
    assert!(elapsed < TIMEOUT + Duration::from_millis(1500), "took {elapsed:?} with a {TIMEOUT:?} timeout");
}

// (4) Secrets never print.
async fn debug_hides_secrets(kind: Kind) {
    let rig = Rig::start(kind).await;
    let config = rig.config(Behaviour::Accept).await;
    assert_no_secret(&format!("{config:?}"));
    let channel = Channel::from_config("x", &config).unwrap();
    assert_no_secret(&format!("{channel:?}"));
    assert_no_secret(&format!("{:?}", channel.render(&message(Locale::De, MessageKind::Firing))));
}

// (5) Resolved messages say so, in both languages, without an ack link.
async fn resolved_says_resolved_in_both_languages(kind: Kind) {
    let rig = Rig::start(kind).await;
    let channel = rig.channel(Behaviour::Accept).await;
    for (locale, word) in [(Locale::De, "behoben"), (Locale::En, "resolved")] {
        channel.send(&message(locale, MessageKind::Resolved)).await.unwrap();
        let got = rig.last();
        assert!(got.body.contains(word), "{kind:?}/{locale:?}: {word:?} missing in:\n{}", got.body);
        assert!(!got.body.contains(ACK), "{kind:?}/{locale:?}: nothing to acknowledge any more");
        assert!(got.body.contains(VIEW));
    }
}

// (6) What is down: Leitstand's own rules write their summaries per
// language (`summary_de`, `summary_en`); each recipient reads its own, and
// the target (`instance`) is named where the summary does not name it.
async fn summaries_in_the_recipients_language_and_the_target(kind: Kind) {
    let rig = Rig::start(kind).await;
    let channel = rig.channel(Behaviour::Accept).await;
    for (locale, own, other) in [
        (Locale::De, "Vergabeportal antwortet nicht", "Procurement portal is down"),
        (Locale::En, "Procurement portal is down", "Vergabeportal antwortet nicht"),
    ] {
        let mut msg = message(locale, MessageKind::Firing);
        msg.alerts[0].annotations = [
            ("summary_de".to_string(), "Vergabeportal antwortet nicht".to_string()),
            ("summary_en".to_string(), "Procurement portal is down".to_string()),
        ]
        .into();
        channel.send(&msg).await.unwrap();
        let body = rig.last().body;
        // The webhook passes every annotation on as Alertmanager does; its
        // text for people is what is read.
        let text = match kind {
            Kind::Webhook => serde_json::from_str::<serde_json::Value>(&body).unwrap()["leitstand"]["text"]
                .as_str()
                .unwrap()
                .to_string(),
            _ => body,
        };
        assert!(text.contains(own), "{kind:?}/{locale:?}: {own:?} missing in:\n{text}");
        assert!(!text.contains(other), "{kind:?}/{locale:?}: the other language's {other:?} in:\n{text}");
        assert!(text.contains("https://portal.example"), "{kind:?}/{locale:?}: the target missing in:\n{text}");
    }
}

macro_rules! contract {
    ($($kind:ident => $module:ident),* $(,)?) => {$(
        mod $module {
            use super::*;
            contract!(@tests Kind::$kind;
                firing_is_delivered_in_both_languages,
                message_id_is_the_idempotency_key,
                server_error_is_retryable,
                client_error_is_permanent,
                rate_limit_is_retryable_with_retry_after,
                connection_refused_is_retryable,
                silent_receiver_times_out,
                debug_hides_secrets,
                resolved_says_resolved_in_both_languages,
                summaries_in_the_recipients_language_and_the_target
            );
        }
    )*};
    (@tests $kind:expr; $($test:ident),*) => {$(
        #[tokio::test]
        async fn $test() {
            super::$test($kind).await
        }
    )*};
}

contract!(Email => email, Webhook => webhook, Slack => slack, Teams => teams, Matrix => matrix);

// ---------------------------------------------------------------------------
// Per-kind checks on the wire

#[tokio::test]
async fn email_envelope_headers_and_multipart() {
    let rig = Rig::start(Kind::Email).await;
    let channel = rig.channel(Behaviour::Accept).await;
    let mut msg = message(Locale::De, MessageKind::Firing);
    msg.recipients = vec!["erika@example.org".into()];
    channel.send(&msg).await.unwrap();
    let got = rig.last();
    assert_eq!(got.rcpt_to, ["ops@example.org", "erika@example.org"]);
    assert_eq!(got.path, "leitstand@example.org", "envelope sender");
    assert_eq!(got.header("Subject"), Some("[KRITISCH] ProbeDown – portal (2 Alarme)"));
    assert_eq!(got.header("X-Leitstand-Level"), Some("2"));
    assert_eq!(got.header("X-Leitstand-Kind"), Some("firing"));
    assert_eq!(got.header("Auto-Submitted"), Some("auto-generated"));
    assert!(got.body.contains("01.12.2026 10:15 UTC"), "{}", got.body);
    let raw = rig.smtp.as_ref().unwrap().raw(1);
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("text/plain") && raw.contains("text/html"), "{raw}");
}

#[tokio::test]
async fn email_rejected_recipient_is_permanent() {
    let rig = Rig::start(Kind::Email).await;
    let channel = rig.channel(Behaviour::Accept).await;
    let mut msg = message(Locale::De, MessageKind::Firing);
    msg.recipients = vec!["reject-oncall@example.org".into()];
    let err = channel.send(&msg).await.unwrap_err();
    assert!(!err.retryable, "{err:?}");
    assert_eq!(err.status, Some(550));
    assert!(err.reason.contains("reject-oncall@example.org"), "{err:?}");
    assert!(rig.captured().is_empty());
}

#[tokio::test]
async fn email_invalid_address_is_permanent_and_named() {
    let rig = Rig::start(Kind::Email).await;
    let channel = rig.channel(Behaviour::Accept).await;
    let mut msg = message(Locale::En, MessageKind::Firing);
    msg.recipients = vec!["erika at example".into()];
    let err = channel.send(&msg).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.reason.contains("erika at example"), "{err:?}");
}

#[tokio::test]
async fn email_wrong_password_is_permanent() {
    let rig = Rig::start(Kind::Email).await;
    let ChannelConfig::Email(mut config) = rig.config(Behaviour::Accept).await else { unreachable!() };
    config.smtp.password = Some("not-the-password".into());
    let channel = Channel::from_config("mail", &ChannelConfig::Email(config)).unwrap();
    let err = channel.send(&message(Locale::De, MessageKind::Firing)).await.unwrap_err();
    assert!(!err.retryable, "{err:?}");
    assert_eq!(err.status, Some(535));
    assert!(!err.reason.contains("not-the-password"));
}

#[tokio::test]
async fn webhook_is_alertmanager_v4_and_signed() {
    let rig = Rig::start(Kind::Webhook).await;
    let sent_at: Timestamp = "2026-12-01T10:16:00Z".parse().unwrap();
    let channel = rig.channel(Behaviour::Accept).await.with_clock(Arc::new(ManualClock::new(sent_at)));
    let mut msg = message(Locale::De, MessageKind::Firing);
    msg.recipients = vec!["erika@example.org".into()];
    channel.send(&msg).await.unwrap();
    let got = rig.last();
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hooks/leitstand");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("x-api-key"), Some(HEADER_SECRET), "configured header sent");
    let signature = got.header(SIGNATURE_HEADER).unwrap();
    assert!(signature.starts_with(&format!("t={},v1=", sent_at.as_second())), "{signature}");
    let tolerance = Duration::from_secs(300);
    let received = sent_at.checked_add(jiff::SignedDuration::from_secs(2)).unwrap();
    let replayed = sent_at.checked_add(jiff::SignedDuration::from_mins(10)).unwrap();
    let body = got.body.as_bytes();
    assert!(verify_signature(WEBHOOK_SECRET, signature, body, received, tolerance));
    assert!(!verify_signature("wrong-secret-value", signature, body, received, tolerance));
    assert!(!verify_signature(WEBHOOK_SECRET, signature, body, replayed, tolerance), "replay is refused");
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "contract-webhook");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(body["leitstand"]["notification_id"], msg.id.to_string());
    assert_eq!(body["leitstand"]["recipients"][0], "erika@example.org");
    assert_eq!(body["leitstand"]["links"]["resolve"], RESOLVE);
}

#[tokio::test]
async fn matrix_puts_with_bearer_token_and_resolves_aliases() {
    let rig = Rig::start(Kind::Matrix).await;
    let channel = rig.channel(Behaviour::Accept).await;
    let msg = message(Locale::De, MessageKind::Firing);
    let delivery = channel.send(&msg).await.unwrap();
    assert!(delivery.detail.starts_with("$ev"), "{delivery:?}");
    let got = rig.last();
    assert_eq!(got.method, "PUT");
    assert_eq!(got.path, format!("/_matrix/client/v3/rooms/%21ops%3Aexample.org/send/m.room.message/{}", msg.id));
    assert_eq!(got.header("authorization"), Some(format!("Bearer {MATRIX_TOKEN}").as_str()));
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["msgtype"], "m.text");
    assert_eq!(body["format"], "org.matrix.custom.html");

    let ChannelConfig::Matrix(mut config) = rig.config(Behaviour::Accept).await else { unreachable!() };
    config.room = "#ops:example.org".into();
    let channel = Channel::from_config("room", &ChannelConfig::Matrix(config)).unwrap();
    channel.send(&msg).await.unwrap();
    channel.send(&msg).await.unwrap();
    let paths: Vec<String> = rig.captured().into_iter().skip(1).map(|c| c.path).collect();
    assert_eq!(
        paths,
        [
            "/_matrix/client/v3/directory/room/%23ops%3Aexample.org".to_string(),
            format!("/_matrix/client/v3/rooms/%21resolved%3Aexample.org/send/m.room.message/{}", msg.id),
            format!("/_matrix/client/v3/rooms/%21resolved%3Aexample.org/send/m.room.message/{}", msg.id),
        ],
        "the alias is resolved once"
    );
}

#[tokio::test]
async fn teams_posts_an_adaptive_card() {
    let rig = Rig::start(Kind::Teams).await;
    let channel = rig.channel(Behaviour::Accept).await;
    let delivery = channel.send(&message(Locale::En, MessageKind::Escalated)).await.unwrap();
    assert_eq!(delivery.status, Some(202));
    let got = rig.last();
    assert!(got.path.contains(&format!("sig={TEAMS_SIG}")), "the URL is used as configured");
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    let card = &body["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert!(got.body.contains("escalated to level 2"), "{}", got.body);
}

#[tokio::test]
async fn slack_and_mattermost_get_their_markup() {
    let rig = Rig::start(Kind::Slack).await;
    let ChannelConfig::Slack(mut config) = rig.config(Behaviour::Accept).await else { unreachable!() };
    let slack = Channel::from_config("s", &ChannelConfig::Slack(config.clone())).unwrap();
    config.flavour = leitstand_notify::channels::slack::Flavour::Mattermost;
    let mattermost = Channel::from_config("m", &ChannelConfig::Slack(config)).unwrap();
    let msg = message(Locale::De, MessageKind::Firing);
    assert_eq!(slack.send(&msg).await.unwrap().detail, "ok");
    mattermost.send(&msg).await.unwrap();
    let got = rig.captured();
    assert!(got[0].body.contains(&format!("<{ACK}|Bestätigen>")), "{}", got[0].body);
    assert!(got[1].body.contains(&format!("[Bestätigen]({ACK})")), "{}", got[1].body);
    assert!(got[0].path.ends_with(SLACK_TOKEN));
}

#[test]
fn config_entries_parse_with_an_id_beside_the_kind() {
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
        #[serde(flatten)]
        config: ChannelConfig,
    }
    let entry: Entry = serde_json::from_str(
        r##"{"id":"ops-room","kind":"matrix","homeserver":"https://matrix.example.org",
            "room":"#ops:example.org","access_token":"syt_x"}"##,
    )
    .unwrap();
    assert_eq!(entry.id, "ops-room");
    assert_eq!(entry.config.kind(), "matrix");
    assert!(entry.config.validate().is_ok());
    let bad = serde_json::from_str::<Entry>(
        r#"{"id":"x","kind":"matrix","homeserver":"https://m.example.org","room":"!a:b","access_token":"t","tokn":"y"}"#,
    );
    assert!(bad.is_err(), "unknown fields are rejected");
    let invalid: ChannelConfig =
        serde_json::from_str(r#"{"kind":"webhook","url":"https://user:pw@hooks.example.org","secret":"short"}"#)
            .unwrap();
    let errors = invalid.validate().unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(fields, ["url", "secret"]);
}
