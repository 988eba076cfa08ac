use jiff::{SignedDuration, Timestamp};
use leitstand_store::{AuditLogRepository, IndexedEvent, store_test};

fn event(index: u64) -> IndexedEvent {
    let at = "2026-11-23T10:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(index as i64);
    IndexedEvent {
        index,
        logged_at: at,
        time: at,
        actor: "ps:00".into(),
        action: "order.create".into(),
        tenant: None,
        object: Some(format!("order:{index}")),
        outcome: "success".into(),
        retention: "audit".into(),
        correlation_id: None,
        event: "{}".into(),
        salt: vec![0; 16],
    }
}

store_test!(forwarders_read_in_log_order_from_their_cursor, |store| {
    let events: Vec<IndexedEvent> = [0, 1, 2, 5, 6, 7].into_iter().map(event).collect();
    store.index_audit(&events, 8).await.unwrap();
    let page = store.audit_events_from(2, 3).await.unwrap();
    assert_eq!(page.iter().map(|e| e.index).collect::<Vec<_>>(), [2, 5, 6], "gaps (pruned) are skipped");
    assert!(store.audit_events_from(8, 10).await.unwrap().is_empty());
    assert_eq!(store.audit_cursor("siem").await.unwrap(), 0);
    store.set_audit_cursor("siem", 6).await.unwrap();
    assert_eq!(store.audit_cursor("siem").await.unwrap(), 6);
    assert_eq!(store.audit_cursor("index").await.unwrap(), 8, "cursors are independent");
});
