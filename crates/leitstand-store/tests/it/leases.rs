use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use leitstand_store::{LeaseRepository, store_test};

fn t(secs: i64) -> Timestamp {
    "2026-11-23T10:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
}

const TTL: Duration = Duration::from_secs(30);

store_test!(only_one_holder_until_expiry, |store| {
    let a = store.try_acquire_lease("scheduler", "replica-a", t(0), TTL).await.unwrap().unwrap();
    assert_eq!(a.token, 1);
    assert_eq!(a.expires_at, t(30));
    assert!(store.try_acquire_lease("scheduler", "replica-b", t(29), TTL).await.unwrap().is_none());
    let b = store.try_acquire_lease("scheduler", "replica-b", t(30), TTL).await.unwrap().unwrap();
    assert_eq!(b.holder, "replica-b");
    assert_eq!(b.token, 2, "a change of holder bumps the fencing token");
    assert_eq!(store.lease("scheduler").await.unwrap().unwrap(), b);
});

store_test!(renewal_keeps_the_token, |store| {
    store.try_acquire_lease("scheduler", "replica-a", t(0), TTL).await.unwrap().unwrap();
    let renewed = store.try_acquire_lease("scheduler", "replica-a", t(20), TTL).await.unwrap().unwrap();
    assert_eq!(renewed.token, 1);
    assert_eq!(renewed.expires_at, t(50));
    assert!(store.try_acquire_lease("scheduler", "replica-b", t(40), TTL).await.unwrap().is_none());
});

store_test!(release_lets_another_replica_take_over_at_once, |store| {
    let a = store.try_acquire_lease("scheduler", "replica-a", t(0), TTL).await.unwrap().unwrap();
    assert!(store.release_lease(&a).await.unwrap());
    let b = store.try_acquire_lease("scheduler", "replica-b", t(1), TTL).await.unwrap().unwrap();
    assert_eq!(b.token, 2);
    assert!(!store.release_lease(&a).await.unwrap(), "a stale lease cannot release the new holder's");
    assert_eq!(store.lease("scheduler").await.unwrap().unwrap().holder, "replica-b");
});

store_test!(leases_are_independent_by_name, |store| {
    assert!(store.try_acquire_lease("scheduler", "a", t(0), TTL).await.unwrap().is_some());
    assert!(store.try_acquire_lease("retention", "b", t(0), TTL).await.unwrap().is_some());
});

store_test!(concurrent_acquirers_get_exactly_one_lease, |store| {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.try_acquire_lease("race", &format!("replica-{i}"), t(0), TTL).await.unwrap()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);
});
