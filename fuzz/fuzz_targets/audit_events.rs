//! Audit event batches and log entries: parsing and preparing never panic;
//! a prepared event's stored bytes parse back and re-encode identically
//! (canonical), and contain no raw actor; entries round-trip.
#![no_main]

use leitstand_ledger::entry::Entry;
use leitstand_ledger::event::{EventRules, StoredEvent, is_non_personal_actor, parse_batch, prepare_batch};
use leitstand_ledger::pseudonym::Pseudonymiser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(data) {
        assert_eq!(&entry.encode()[..], data);
    }
    let Ok(events) = parse_batch(data) else { return };
    let actors: Vec<String> = events.iter().map(|e| e.actor.clone()).collect();
    let now = "2026-11-23T10:00:00Z".parse().expect("a time");
    let Ok(prepared) = prepare_batch(events, now, &EventRules::default(), &Pseudonymiser::new([5; 32])) else { return };
    for (p, actor) in prepared.iter().zip(actors) {
        let back: StoredEvent = serde_json::from_slice(&p.bytes).expect("stored events parse");
        assert_eq!(serde_json::to_vec(&back).expect("encodes"), p.bytes, "canonical");
        if !is_non_personal_actor(&actor) {
            assert!(back.actor.starts_with("ps:"), "actor pseudonymised");
        }
    }
});
