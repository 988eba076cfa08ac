//! Bodies posted to `POST /api/v2/alerts` and to the Alertmanager webhook
//! receiver: parsing never panics; an accepted alert keeps every promise
//! the engine relies on (at least one label, no empty values, valid names,
//! the limits, no end before the start); a refusal names a path and a
//! reason; and a webhook we would send for accepted alerts parses back to
//! the same alerts. A posted silence (`POST /api/v2/silences`) either
//! yields matcher text that parses back to the same matchers, or names
//! the field that is wrong.
#![no_main]

use leitstand_alerting::labels::valid_label_name;
use leitstand_alerting::wire::{
    IncomingAlert, MAX_ALERTS, MAX_PAIRS, MAX_VALUE_BYTES, OutgoingAlert, WireError, parse_postable_alerts,
    parse_webhook, webhook_v4,
};
use leitstand_alerting::matchers::{format_matcher, parse_matcher};
use leitstand_alerting::wire::silences::parse_postable_silence;
use libfuzzer_sys::fuzz_target;

fn check(alert: &IncomingAlert) {
    assert!(!alert.labels.is_empty());
    assert!(alert.labels.len() <= MAX_PAIRS && alert.annotations.len() <= MAX_PAIRS);
    for (name, value) in &alert.labels {
        assert!(valid_label_name(name) && !value.is_empty() && value.len() <= MAX_VALUE_BYTES);
    }
    for (name, value) in &alert.annotations {
        assert!(valid_label_name(name) && value.len() <= MAX_VALUE_BYTES);
    }
    if let (Some(start), Some(end)) = (alert.starts_at, alert.ends_at) {
        assert!(start <= end);
    }
    assert!(alert.generator_url.as_ref().is_none_or(|u| !u.is_empty() && u.len() <= MAX_VALUE_BYTES));
}

fn check_error(e: &WireError) {
    assert!(!e.path.is_empty() && !e.reason.is_empty(), "{e:?}");
}

fuzz_target!(|data: &[u8]| {
    match parse_postable_silence(data) {
        Ok(silence) => {
            assert!(silence.matchers.len() <= MAX_PAIRS);
            for text in &silence.matchers {
                let m = parse_matcher(text).expect("the canonical text parses");
                assert_eq!(&format_matcher(&m), text);
            }
        }
        Err(e) => check_error(&e),
    }
    match parse_postable_alerts(data) {
        Ok(alerts) => {
            assert!(alerts.len() <= MAX_ALERTS);
            alerts.iter().for_each(check);
        }
        Err(e) => check_error(&e),
    }
    match parse_webhook(data) {
        Ok(payload) => {
            assert!(payload.alerts.len() <= MAX_ALERTS);
            payload.alerts.iter().for_each(|a| check(&a.alert));
            let start = "2026-12-01T10:00:00Z".parse().expect("a time");
            let outgoing: Vec<OutgoingAlert> = payload
                .alerts
                .iter()
                .map(|a| {
                    let (labels, annotations) = (a.alert.labels.clone(), a.alert.annotations.clone());
                    let url = a.alert.generator_url.clone().unwrap_or_default();
                    let starts_at = a.alert.starts_at.or(a.alert.ends_at).unwrap_or(start);
                    match (a.resolved, a.alert.ends_at) {
                        (true, Some(end)) => OutgoingAlert::resolved(labels, annotations, starts_at, end, url),
                        _ => OutgoingAlert::firing(labels, annotations, starts_at, url),
                    }
                })
                .collect();
            let body = webhook_v4(&payload.receiver, &payload.group_key, payload.group_labels.clone(), "", outgoing, 0);
            let back = parse_webhook(&body.to_json()).expect("what we send parses");
            assert_eq!(back.alerts.len(), payload.alerts.len());
            for (b, a) in back.alerts.iter().zip(&payload.alerts) {
                assert_eq!(b.alert.labels, a.alert.labels);
                assert_eq!(b.alert.annotations, a.alert.annotations);
            }
        }
        Err(e) => check_error(&e),
    }
});
