//! The contract every probe kind passes — the same test functions, run for
//! each kind through the one entry point the runtime uses
//! (`Checker::run`), against real targets on loopback (see `support`).
//! Adding a kind means adding it to `contract!` below (a test fails until
//! it is there), and then it cannot skip a duty:
//!
//! - an answer succeeds, is timed, and writes `probe_success`,
//!   `probe_duration_seconds` and the kind's own series;
//! - a slow answer within the time limit succeeds, and its duration says
//!   how slow it was;
//! - a silent target fails at the time limit — not earlier, not much
//!   later — as a timeout that names the limit;
//! - an unreachable target (nothing listens) fails at once as refused,
//!   naming where;
//! - a malformed answer fails as malformed (a kind that reads no answer,
//!   a TCP connect, counts the connection);
//! - every failure still writes the series (`probe_success 0`), and its
//!   message is the error's text.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use leitstand_probes::check::{Kind, Outcome};
use leitstand_probes::{ProbeError, ProbeResult};
use support::{Behaviour, DELAY, TIMEOUT, Target, target};

async fn run(kind: Kind, behaviour: Behaviour) -> (Target, Outcome, Duration) {
    let target = target(kind, behaviour).await;
    let started = Instant::now();
    let outcome = target.checker.run(&target.check, TIMEOUT, "contract-1", "2026-11-23T10:00:00Z").await;
    let elapsed = started.elapsed();
    (target, outcome, elapsed)
}

fn names(outcome: &Outcome) -> Vec<&'static str> {
    outcome.samples().into_iter().map(|(name, _)| name).collect()
}

fn sample(outcome: &Outcome, name: &str) -> Option<f64> {
    outcome.samples().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// A failed run: the error is there, the message is its text, and the
/// series say so.
fn failed(kind: Kind, result: &ProbeResult, outcome: &Outcome) -> ProbeError {
    let error = result.error.clone().unwrap_or_else(|| panic!("{kind}: expected a failure, got {result:?}"));
    assert!(!result.success(), "{kind}: {result:?}");
    assert_eq!(result.message(), error.to_string(), "{kind}: the message is the error's text");
    assert!(!result.message().is_empty(), "{kind}");
    assert_eq!(sample(outcome, "probe_success"), Some(0.0), "{kind}: {:?}", outcome.samples());
    assert_eq!(sample(outcome, "probe_duration_seconds"), Some(result.duration.as_secs_f64()), "{kind}");
    error
}

// (1) An answer succeeds, is timed, and writes the kind's series.
async fn an_answer_succeeds_with_the_series_of_its_kind(kind: Kind) {
    let (target, outcome, elapsed) = run(kind, Behaviour::Answer).await;
    let result = &outcome.result;
    assert!(result.success() && result.error.is_none(), "{kind}: {result:?}");
    assert_eq!(result.message(), "");
    assert!(result.duration > Duration::ZERO && result.duration <= elapsed, "{kind}: {result:?}");
    assert!(result.duration < DELAY, "{kind}: an answer at once takes {:?}", result.duration);
    let mut expected = vec!["probe_success", "probe_duration_seconds"];
    expected.extend(target.extra_series);
    assert_eq!(names(&outcome), expected, "{kind}");
    assert_eq!(sample(&outcome, "probe_success"), Some(1.0));
    assert_eq!(sample(&outcome, "probe_duration_seconds"), Some(result.duration.as_secs_f64()));
    if target.extra_series.contains(&"probe_http_status_code") {
        assert_eq!(sample(&outcome, "probe_http_status_code"), Some(200.0), "{kind}");
    }
    if let Some(not_after) = target.not_after {
        assert_eq!(sample(&outcome, "probe_ssl_earliest_cert_expiry"), Some(not_after as f64), "{kind}");
    }
}

// (2) A slow answer within the time limit succeeds, timed as slow.
async fn a_slow_answer_within_the_time_limit_succeeds_and_is_timed(kind: Kind) {
    let (_, outcome, elapsed) = run(kind, Behaviour::Slow).await;
    let result = &outcome.result;
    assert!(result.success(), "{kind}: {result:?}");
    assert!(result.duration >= DELAY, "{kind}: took {:?}, the target waited {DELAY:?}", result.duration);
    assert!(result.duration < TIMEOUT && result.duration <= elapsed, "{kind}: {result:?}");
    assert_eq!(sample(&outcome, "probe_duration_seconds"), Some(result.duration.as_secs_f64()));
}

// (3) A silent target fails at the time limit, as a timeout naming it.
async fn a_silent_target_times_out_at_the_limit(kind: Kind) {
    let (_, outcome, elapsed) = run(kind, Behaviour::Silent).await;
    let error = failed(kind, &outcome.result, &outcome);
    assert!(matches!(error, ProbeError::Timeout { after, .. } if after == TIMEOUT), "{kind}: {error:?}");
    assert!(error.to_string().contains(&format!("no answer within {TIMEOUT:?}")), "{kind}: {error}");
    assert!(elapsed >= TIMEOUT.mul_f32(0.95), "{kind}: gave up early, after {elapsed:?}");
    assert!(elapsed < TIMEOUT + Duration::from_millis(1500), "{kind}: took {elapsed:?} with a {TIMEOUT:?} limit");
}

// (4) An unreachable target fails at once, as refused, naming where.
async fn an_unreachable_target_is_refused_and_named(kind: Kind) {
    let (target, outcome, elapsed) = run(kind, Behaviour::Refused).await;
    let error = failed(kind, &outcome.result, &outcome);
    assert!(matches!(error, ProbeError::Refused { .. }), "{kind}: {error:?}");
    let text = error.to_string();
    assert!(text.to_lowercase().contains("refused"), "{kind}: {text}");
    assert!(text.contains(&target.address.to_string()), "{kind}: {text} does not say where");
    assert!(elapsed < TIMEOUT / 2, "{kind}: a refusal is known at once, not after {elapsed:?}");
}

// (5) A malformed answer fails as malformed.
async fn a_malformed_answer_is_named_malformed(kind: Kind) {
    let (target, outcome, _) = run(kind, Behaviour::Malformed).await;
    if !target.reads_answers {
        assert!(outcome.result.success(), "{kind}: reads no answer, so any connection counts: {outcome:?}");
        return;
    }
    let error = failed(kind, &outcome.result, &outcome);
    assert!(matches!(error, ProbeError::Malformed { .. }), "{kind}: {error:?}");
}

macro_rules! contract {
    ($($kind:ident => $module:ident),* $(,)?) => {
        $(
            mod $module {
                use super::*;
                contract!(@tests Kind::$kind;
                    an_answer_succeeds_with_the_series_of_its_kind,
                    a_slow_answer_within_the_time_limit_succeeds_and_is_timed,
                    a_silent_target_times_out_at_the_limit,
                    an_unreachable_target_is_refused_and_named,
                    a_malformed_answer_is_named_malformed
                );
            }
        )*

        #[test]
        fn every_kind_is_under_contract() {
            assert_eq!([$(Kind::$kind),*].as_slice(), Kind::ALL, "add the new kind to contract!");
        }
    };
    (@tests $kind:expr; $($test:ident),*) => {$(
        #[tokio::test]
        async fn $test() {
            super::$test($kind).await
        }
    )*};
}

contract!(Http => http, Tcp => tcp, Dns => dns, Tls => tls, Cxml => cxml);
