use jiff::{SignedDuration, Timestamp};
use leitstand_store::{ProbeHistoryRepository, ProbeTransition, store_test};

fn t(secs: i64) -> Timestamp {
    "2026-11-01T00:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
}

fn change(secs: i64, up: Option<bool>) -> ProbeTransition {
    ProbeTransition { at: t(secs), up, message: if up == Some(false) { "status 503".into() } else { String::new() } }
}

store_test!(history_starts_with_the_state_in_force, |store| {
    for (secs, up) in [(0, Some(true)), (100, Some(false)), (160, Some(true)), (500, None), (600, Some(true))] {
        store.record_probe_transition("portal-http", &change(secs, up)).await.unwrap();
    }
    store.record_probe_transition("other", &change(120, Some(false))).await.unwrap();
    let h = store.probe_history("portal-http", t(150), t(550)).await.unwrap();
    assert_eq!(h, [change(100, Some(false)), change(160, Some(true)), change(500, None)]);
    assert_eq!(h[0].message, "status 503");
    // Before the first change there is nothing; the end is exclusive.
    assert_eq!(store.probe_history("portal-http", t(-50), t(100)).await.unwrap(), [change(0, Some(true))]);
    assert!(store.probe_history("unknown", t(0), t(1000)).await.unwrap().is_empty());
    let latest = store.latest_probe_transitions().await.unwrap();
    assert_eq!(
        latest,
        [("other".to_string(), change(120, Some(false))), ("portal-http".to_string(), change(600, Some(true)))]
    );
});

store_test!(a_second_change_at_the_same_instant_replaces_the_first, |store| {
    store.record_probe_transition("p", &change(10, Some(true))).await.unwrap();
    store.record_probe_transition("p", &change(10, None)).await.unwrap();
    assert_eq!(store.probe_history("p", t(0), t(20)).await.unwrap(), [change(10, None)]);
});
