//! A message for the unit tests: two critical `ProbeDown` alerts of the
//! service `portal`, at level 2 ("Kritisch"), with all three links.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::{AlertSummary, Links, Locale, Message, MessageKind};

pub(crate) fn message(locale: Locale, kind: MessageKind) -> Message {
    let resolved = kind == MessageKind::Resolved;
    let alert = |n: u128, instance: &str, summary: Option<&str>| {
        let mut annotations = BTreeMap::new();
        if let Some(s) = summary {
            annotations.insert("summary".to_string(), s.to_string());
        }
        AlertSummary {
            id: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 + n),
            fingerprint: format!("{n:016x}"),
            status: if resolved { "resolved" } else { "firing" }.to_string(),
            labels: BTreeMap::from([
                ("alertname".to_string(), "ProbeDown".to_string()),
                ("severity".to_string(), "critical".to_string()),
                ("service".to_string(), "portal".to_string()),
                ("instance".to_string(), instance.to_string()),
            ]),
            annotations,
            starts_at: "2026-12-01T10:15:00Z".parse().unwrap_or_default(),
            ends_at: resolved.then(|| "2026-12-01T10:45:00Z".parse().unwrap_or_default()),
            generator_url: Some("https://prometheus.example/graph?g0.expr=up".to_string()),
            url: Some(format!("https://leitstand.example/alerts/{n}")),
        }
    };
    Message {
        id: Uuid::from_u128(0x0193_1111_2222_7333_8444_5555_6666_7777),
        kind,
        locale,
        level: 2,
        level_name: "Kritisch".to_string(),
        group_key: r#"{}:{alertname="ProbeDown",service="portal"}"#.to_string(),
        alerts: vec![
            alert(1, "https://portal.example", Some("Portal https://portal.example nicht erreichbar")),
            alert(2, "https://portal.example/api", None),
        ],
        links: Links {
            ack: Some("https://leitstand.example/alerts/act/ack-token".to_string()),
            resolve: Some("https://leitstand.example/alerts/act/resolve-token".to_string()),
            view: Some("https://leitstand.example/alerts/g/1".to_string()),
        },
        recipients: Vec::new(),
        created_at: "2026-12-01T10:15:30Z".parse().unwrap_or_default(),
    }
}

#[test]
fn zz_print() {
    use crate::channels::*;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let e = email::Email::new("m", email::Config { smtp: email::SmtpConfig { host: "localhost".into(), port: None, tls: email::Tls::None, username: None, password: None, from: "a@b.de".into(), timeout: std::time::Duration::from_secs(1) }, to: vec!["x@y.de".into()] }).unwrap();
    for (l, k) in [(Locale::De, MessageKind::Firing), (Locale::En, MessageKind::Escalated), (Locale::De, MessageKind::Resolved), (Locale::En, MessageKind::Test)] {
        let mut m = message(l, k);
        m.recipients = vec!["@erika:example.org".into()];
        let r = e.render(&m);
        println!("=== {l:?} {k:?}\n{}\n---TEXT\n{}\n---HTML\n{}", r.subject, r.text, r.html);
        println!("---WEBHOOK\n{}", webhook::payload("r", &m)["leitstand"]["text"].as_str().unwrap());
        println!("---SLACK\n{}", slack::payload(slack::Flavour::Slack, &m)["text"].as_str().unwrap());
        println!("---TEAMS\n{}", serde_json::to_string_pretty(&teams::card(&m)["body"]).unwrap());
        let c = matrix::content(&m);
        println!("---MATRIX\n{}\n---MATRIXHTML\n{}", c["body"].as_str().unwrap(), c["formatted_body"].as_str().unwrap());
    }
}
