//! Durable ingest through the Rust API and full-log verification speed,
//! with the machine's limits beside them (SHA-256 and fsync'd write rate).
//!
//! `cargo run --release -p leitstand-audit --example audit_bench -- [EVENTS] [WRITERS] [BATCH]`
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leitstand_audit::ledger::{Ledger, LedgerOptions, journal_dir};
use leitstand_audit::verify::verify_dir;
use leitstand_core::clock::{Clock, SystemClock};
use leitstand_ledger::event::{EventRules, SubmittedEvent, prepare_batch};
use leitstand_ledger::note::Signer;
use leitstand_ledger::pseudonym::Pseudonymiser;
use sha2::{Digest, Sha256};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let total = *args.first().unwrap_or(&1_000_000);
    let writers = *args.get(1).unwrap_or(&4);
    let batch = *args.get(2).unwrap_or(&1_000);
    let dir = tempfile::tempdir_in(".").unwrap();

    // Machine limits.
    let buf = vec![7u8; 64 << 20];
    let t = Instant::now();
    let _ = Sha256::digest(&buf);
    let sha_mbs = 64.0 / t.elapsed().as_secs_f64() * 1.048_576;
    let mut f = std::fs::File::create(dir.path().join("probe")).unwrap();
    let t = Instant::now();
    for chunk in buf.chunks(4 << 20) {
        f.write_all(chunk).unwrap();
        f.sync_data().unwrap();
    }
    let write_mbs = 64.0 / t.elapsed().as_secs_f64() * 1.048_576;
    drop(f);
    std::fs::remove_file(dir.path().join("probe")).unwrap();

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let signer = Signer::from_seed("bench.example/audit", [1; 32]).unwrap();
    let ledger = Ledger::open(
        LedgerOptions::new(dir.path()),
        Signer::from_seed("bench.example/audit", [1; 32]).unwrap(),
        clock.clone(),
    )
    .unwrap();
    let rules = EventRules::default();
    let pseudonymiser = Pseudonymiser::new([2; 32]);
    // ~200-byte stored events.
    let make = |i: usize| SubmittedEvent {
        time: Some("2026-11-23T10:00:00Z".into()),
        actor: format!("user{}", i % 5000),
        action: "order.create".into(),
        tenant: Some("bank-a".into()),
        object: Some(format!("order:{i}")),
        outcome: "success".into(),
        source_ip: Some("203.0.113.9".into()),
        correlation_id: Some(format!("c-{i}")),
        ..Default::default()
    };
    let now = clock.now();
    let sample = prepare_batch(vec![make(1)], now, &rules, &pseudonymiser).unwrap();
    let event_bytes = sample[0].bytes.len();

    let started = Instant::now();
    let latencies = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..writers {
            let ledger = ledger.clone();
            let (rules, pseudonymiser, latencies) = (&rules, &pseudonymiser, &latencies);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut i = w;
                while i < total {
                    let events: Vec<_> = (0..batch).map(|k| make(i + k * writers)).collect();
                    let t = Instant::now();
                    let prepared = prepare_batch(events, now, rules, pseudonymiser).unwrap();
                    ledger.append_blocking(prepared).unwrap();
                    mine.push(t.elapsed());
                    i += batch * writers;
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let ingest = started.elapsed();
    let size = ledger.state().sequenced;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(ledger.wait_published(size));
    let published = started.elapsed();
    let mut lat = latencies.into_inner().unwrap();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    drop(ledger);
    std::thread::sleep(Duration::from_millis(300));

    let t = Instant::now();
    let report = verify_dir(dir.path(), &signer.verifier(), None).unwrap();
    let verify_time = t.elapsed().as_secs_f64();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let journal_bytes: u64 = walk(&journal_dir(dir.path()));
    let read_mb = (report.bytes + journal_bytes) as f64 / 1e6;

    println!("events {size} of {event_bytes} bytes, {writers} writers × batches of {batch}");
    println!(
        "durable ingest (Rust API, incl. validation + pseudonymisation): {:.0} events/s",
        size as f64 / ingest.as_secs_f64()
    );
    println!("batch latency to durable ack: p50 {:?}, p99 {:?}", pct(0.5), pct(0.99));
    println!(
        "all events in a published checkpoint after {:.2} s (ingest {:.2} s)",
        published.as_secs_f64(),
        ingest.as_secs_f64()
    );
    println!(
        "full verification (tiles, every event, {} checkpoints): {:.2} s, {:.0} MB/s, {:.0} events/s",
        report.checkpoints,
        verify_time,
        read_mb / verify_time,
        size as f64 / verify_time
    );
    println!("machine: SHA-256 {sha_mbs:.0} MB/s, fsync'd sequential write {write_mbs:.0} MB/s");
}

fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| if e.path().is_dir() { walk(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
            .sum()
    })
}
