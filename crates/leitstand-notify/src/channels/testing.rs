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
