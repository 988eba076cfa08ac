#![allow(missing_docs, clippy::unwrap_used)]
//! The log end to end on a real directory: concurrent appends, restart,
//! verification, and every kind of tampering the issue names.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use leitstand_audit::journal::Journal;
use leitstand_audit::ledger::{Ledger, LedgerOptions, journal_dir, log_dir, read_history};
use leitstand_audit::storage::DirStorage;
use leitstand_audit::verify::{Extra, Report, RetentionCheck, verify, verify_dir};
use leitstand_core::calendar::WorkingCalendar;
use leitstand_core::clock::{Clock, ManualClock};
use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::event::{EventRules, SubmittedEvent, prepare_batch};
use leitstand_ledger::note::{Signer, open};
use leitstand_ledger::pseudonym::Pseudonymiser;

fn start() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

fn signer() -> Signer {
    Signer::from_seed("test.example/audit", [3; 32]).unwrap()
}

fn open_ledger(dir: &Path, clock: Arc<dyn Clock>) -> Ledger {
    let mut options = LedgerOptions::new(dir);
    options.checkpoint_interval = Duration::from_millis(5);
    Ledger::open(options, signer(), clock).unwrap()
}

fn events(n: usize, retention: &str, clock: &dyn Clock) -> Vec<leitstand_ledger::event::PreparedEvent> {
    let batch = (0..n)
        .map(|i| SubmittedEvent {
            actor: format!("user{i}"),
            action: "order.create".into(),
            outcome: "success".into(),
            object: Some(format!("order:{i}")),
            retention: Some(retention.into()),
            ..Default::default()
        })
        .collect();
    // A staging log: debug events are recorded too.
    let rules = EventRules { refused_classes: Vec::new(), ..EventRules::default() };
    prepare_batch(batch, clock.now(), &rules, &Pseudonymiser::new([1; 32])).unwrap()
}

fn check(dir: &Path, retention: Option<&RetentionCheck>) -> Report {
    verify_dir(dir, &signer().verifier(), retention).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_durable_published_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let ledger = open_ledger(dir.path(), clock.clone());
    assert_eq!(ledger.state().published, 0, "an empty log publishes a checkpoint of size 0");

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let ledger = ledger.clone();
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            let mut ranges = Vec::new();
            for _ in 0..20 {
                ranges.push(ledger.append(events(37, "audit", clock.as_ref())).await.unwrap());
            }
            ranges
        }));
    }
    let mut indexes: Vec<u64> = Vec::new();
    for t in tasks {
        for r in t.await.unwrap() {
            assert_eq!(r.end - r.start, 37, "a batch gets consecutive indexes");
            indexes.extend(r);
        }
    }
    indexes.sort_unstable();
    let total = 16 * 20 * 37;
    assert_eq!(indexes, (0..total as u64).collect::<Vec<_>>(), "every index exactly once");
    let state = ledger.wait_published(total as u64).await;
    let cp = Checkpoint::parse(&open(&state.checkpoint, &[signer().verifier()]).unwrap().text).unwrap();
    assert_eq!(cp.size, total as u64);

    let report = check(dir.path(), None);
    assert_eq!(report.findings, Vec::<String>::new());
    assert_eq!((report.entries, report.events), (total as u64, total as u64));
    assert!(report.checkpoints >= 2, "published checkpoints were checked: {report:?}");
    // Partial tiles of completed tiles are cleaned up, but still served.
    assert!(!log_dir(dir.path()).join("tile/0/000.p").exists());
    assert_eq!(ledger.read("tile/0/000.p/9").unwrap().unwrap().len(), 9 * 32);
    assert_eq!(ledger.read("tile/0/000").unwrap().unwrap().len(), 256 * 32);
    assert!(ledger.read("tile/0/999").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_continues_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let ledger = open_ledger(dir.path(), clock.clone());
    ledger.append(events(300, "audit", clock.as_ref())).await.unwrap();
    let before = ledger.wait_published(300).await;
    ledger.close();
    let ledger = open_ledger(dir.path(), clock.clone());
    assert_eq!(ledger.state().checkpoint, before.checkpoint, "the same checkpoint after a restart");
    let r = ledger.append(events(10, "security", clock.as_ref())).await.unwrap();
    assert_eq!(r, 300..310);
    ledger.wait_published(310).await;
    let report = check(dir.path(), None);
    assert_eq!(report.findings, Vec::<String>::new());
    assert_eq!(report.events, 310);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journalled_but_unintegrated_events_are_integrated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let ledger = open_ledger(dir.path(), clock.clone());
    ledger.append(events(50, "audit", clock.as_ref())).await.unwrap();
    ledger.wait_published(50).await;
    ledger.close();
    // Back to the checkpoint of size 0, as if the process had died right
    // after the journal write, before integrating anything.
    let history = read_history(dir.path()).unwrap();
    let old = history.iter().find(|n| n.contains("\n0\n")).unwrap().clone();
    std::fs::write(log_dir(dir.path()).join("checkpoint"), old).unwrap();
    let ledger = open_ledger(dir.path(), clock.clone());
    assert_eq!(ledger.state().published, 50, "the journal's 50 events were integrated again");
    assert_eq!(check(dir.path(), None).findings, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_come_from_the_tiles_and_cosignatures_attach_to_the_current_checkpoint() {
    use leitstand_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
    use leitstand_ledger::tiles::decode_bundle;
    let (_dir, ledger) = filled(700).await;
    let cp700 = Checkpoint::parse(&open(&ledger.checkpoint(), &[signer().verifier()]).unwrap().text).unwrap();
    let bundle = ledger.read("tile/entries/001").unwrap().unwrap();
    let leaf = leaf_hash(decode_bundle(&bundle).unwrap()[44]);
    verify_inclusion(300, 700, &leaf, &ledger.inclusion_proof(300, 700).unwrap(), &cp700.root).unwrap();
    let clock = ManualClock::new(start());
    ledger.append(events(100, "audit", &clock)).await.unwrap();
    let state = ledger.wait_published(800).await;
    let cp800 = Checkpoint::parse(&open(&state.checkpoint, &[signer().verifier()]).unwrap().text).unwrap();
    let proof = ledger.consistency_proof(700, 800).unwrap();
    verify_consistency(700, 800, &cp700.root, &cp800.root, &proof).unwrap();
    assert_eq!(
        ledger.consistency_proof(801, 800).unwrap_err().to_string(),
        "invalid proof request: the old tree cannot be larger than the new one"
    );

    // A cosigned form of the current checkpoint is served and stored; one
    // of an older checkpoint is not.
    let witness = Signer::cosigner_from_seed("witness.example/w1", [4; 32]).unwrap();
    let text = cp800.to_text();
    let cosigned = format!("{}{}", state.checkpoint, witness.cosignature_line(&text, 1).unwrap());
    assert!(ledger.attach_cosignatures(800, &cosigned).unwrap());
    assert_eq!(&*ledger.checkpoint(), cosigned);
    assert_eq!(ledger.read("checkpoint").unwrap().unwrap(), cosigned.as_bytes());
    assert!(!ledger.attach_cosignatures(700, &cosigned).unwrap());
    ledger.append(events(1, "audit", &clock)).await.unwrap();
    let state = ledger.wait_published(801).await;
    assert_eq!(ledger.checkpoint(), state.checkpoint, "a newer checkpoint replaces the cosigned one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_a_tile_filled_but_before_the_next_checkpoint_reopens() {
    // The state a kill -9 can leave: the checkpoint still names partial
    // tiles whose full tiles exist and whose partial files are gone.
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let ledger = open_ledger(dir.path(), clock.clone());
    ledger.append(events(250, "audit", clock.as_ref())).await.unwrap();
    ledger.wait_published(250).await;
    ledger.append(events(50, "audit", clock.as_ref())).await.unwrap();
    ledger.wait_published(300).await;
    ledger.close();
    assert!(!log_dir(dir.path()).join("tile/0/000.p/250").exists());
    let old = read_history(dir.path()).unwrap().into_iter().find(|n| n.contains("\n250\n")).unwrap();
    std::fs::write(log_dir(dir.path()).join("checkpoint"), old).unwrap();
    let ledger = open_ledger(dir.path(), clock.clone());
    assert_eq!(ledger.state().published, 300);
    ledger.close();
    assert_eq!(check(dir.path(), None).findings, Vec::<String>::new());
}

async fn filled(n: usize) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let ledger = open_ledger(dir.path(), clock.clone());
    ledger.append(events(n, "audit", clock.as_ref())).await.unwrap();
    ledger.wait_published(n as u64).await;
    (dir, ledger)
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipping_any_byte_of_a_tile_or_bundle_is_found_and_named() {
    let (dir, _ledger) = filled(600).await;
    let log = log_dir(dir.path());
    for (file, at) in [
        ("tile/0/001", 5),
        ("tile/0/001", 8191),
        ("tile/0/002.p/88", 100),
        ("tile/entries/000", 3),
        ("tile/entries/002.p/88", 40),
        ("tile/1/000.p/2", 33),
    ] {
        flip(&log.join(file), at);
        let report = check(dir.path(), None);
        assert!(!report.findings.is_empty(), "{file} byte {at}");
        let first = &report.findings[0];
        assert!(first.contains(file.split(".p").next().unwrap()) || first.contains("root"), "{file}: {first}");
        flip(&log.join(file), at);
        assert_eq!(check(dir.path(), None).findings, Vec::<String>::new(), "restored {file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_older_partial_tile_is_found_too() {
    // Partial tiles of older checkpoints stay and are served to clients that
    // hold those checkpoints: they are checked against the current tile.
    let (dir, ledger) = filled(40).await;
    let clock = ManualClock::new(start());
    ledger.append(events(10, "audit", &clock)).await.unwrap();
    ledger.wait_published(50).await;
    let log = log_dir(dir.path());
    for (file, at) in [("tile/0/000.p/40", 7), ("tile/entries/000.p/40", 30)] {
        assert!(log.join(file).exists(), "{file}");
        flip(&log.join(file), at);
        let findings = check(dir.path(), None).findings;
        let stem = file.split(".p").next().unwrap();
        assert_eq!(
            findings,
            [format!(
                "{file}: not a prefix of {stem}.p/50 (an older partial tile, served to clients of older checkpoints, differs)"
            )]
        );
        flip(&log.join(file), at);
        assert_eq!(check(dir.path(), None).findings, Vec::<String>::new(), "restored {file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_deleted_or_reordered_events_are_found() {
    let (dir, ledger) = filled(20).await;
    ledger.close();
    let seg = Journal::open(journal_dir(dir.path())).unwrap().segments(leitstand_ledger::entry::RetentionClass::Audit)
        [0]
    .path
    .clone();
    let original = std::fs::read(&seg).unwrap();

    // A changed byte without fixing the checksum: the journal reports damage.
    flip(&seg, 200);
    let report = check(dir.path(), None);
    assert!(report.findings[0].contains("damaged"), "{:?}", report.findings);

    // A forged event with a valid checksum: the commitment does not match.
    std::fs::write(&seg, &original).unwrap();
    let j = Journal::open(journal_dir(dir.path())).unwrap();
    let mut recs: Vec<_> = j.read_from(0).map(Result::unwrap).collect();
    let text = String::from_utf8(recs[7].event.clone()).unwrap().replace("success", "failure");
    recs[7].event = text.into_bytes();
    std::fs::remove_file(&seg).unwrap();
    let mut j = Journal::open(journal_dir(dir.path())).unwrap();
    j.append(&recs).unwrap();
    let report = check(dir.path(), None);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(report.findings[0].starts_with("event 7: the stored event does not match"), "{}", report.findings[0]);

    // A deleted event (its retention has not run out).
    let mut recs: Vec<_> = Journal::open(journal_dir(dir.path())).unwrap().read_from(0).map(Result::unwrap).collect();
    recs[7] = {
        let mut r = recs[7].clone();
        r.event = String::from_utf8(r.event).unwrap().replace("failure", "success").into_bytes();
        r
    };
    let kept: Vec<_> = recs.iter().filter(|r| r.index != 12).cloned().collect();
    std::fs::remove_file(&seg).unwrap();
    Journal::open(journal_dir(dir.path())).unwrap().append(&kept).unwrap();
    let report = check(dir.path(), None);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(report.findings[0].starts_with("event 12: missing from the journal"), "{}", report.findings[0]);

    // Two events swapped (their contents exchanged).
    let mut swapped = recs.clone();
    let (a, b) = (swapped[3].event.clone(), swapped[4].event.clone());
    swapped[3].event = b;
    swapped[4].event = a;
    std::fs::remove_file(&seg).unwrap();
    Journal::open(journal_dir(dir.path())).unwrap().append(&swapped).unwrap();
    let report = check(dir.path(), None);
    assert!(
        report.findings.iter().any(|f| f.starts_with("event 3:"))
            && report.findings.iter().any(|f| f.starts_with("event 4:")),
        "{:?}",
        report.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_signed_rewrite_contradicts_the_published_history() {
    let (dir, ledger) = filled(40).await;
    ledger.close();
    // The operator holds the key and rebuilds the log with event 5 changed.
    let history = read_history(dir.path()).unwrap();
    let rewrite = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let forged = open_ledger(rewrite.path(), clock.clone());
    let mut evs = events(40, "audit", clock.as_ref());
    evs[5].bytes = String::from_utf8(evs[5].bytes.clone()).unwrap().replace("success", "denied").into_bytes();
    forged.append(evs).await.unwrap();
    forged.wait_published(40).await;
    forged.close();
    // Swap the rewritten log in; the old history (as a witness would hold it) stays.
    std::fs::remove_dir_all(log_dir(dir.path())).unwrap();
    std::fs::rename(log_dir(rewrite.path()), log_dir(dir.path())).unwrap();
    let mut src = DirStorage::open(log_dir(dir.path())).unwrap();
    let report = verify(&mut src, &signer().verifier(), Extra { journal: None, history, retention: None }).unwrap();
    assert!(
        report.findings.iter().any(|f| f.contains("not consistent with the current tree")),
        "{:?}",
        report.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_payloads_and_verification_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let manual = Arc::new(ManualClock::new(start()));
    let clock: Arc<dyn Clock> = manual.clone();
    let ledger = open_ledger(dir.path(), clock.clone());
    ledger.append(events(30, "debug", clock.as_ref())).await.unwrap();
    ledger.append(events(5, "audit", clock.as_ref())).await.unwrap();
    manual.advance(SignedDuration::from_hours(24 * 15));
    ledger.append(events(3, "debug", clock.as_ref())).await.unwrap();
    ledger.wait_published(38).await;

    let retention =
        || RetentionCheck { policy: Default::default(), calendar: WorkingCalendar::germany(), now: manual.now() };
    let rc = retention();
    let pruned = ledger
        .prune(leitstand_ledger::entry::RetentionClass::Debug, move |day_end| {
            rc.expired(leitstand_ledger::entry::RetentionClass::Debug, day_end)
        })
        .await
        .unwrap();
    assert_eq!(pruned.segments, 1, "the 15-day-old debug day is gone, today's stays");

    let report = check(dir.path(), Some(&retention()));
    assert_eq!(report.findings, Vec::<String>::new());
    assert_eq!((report.pruned, report.events), (30, 8));
    // Without the policy the same gap is a finding.
    let strict = check(dir.path(), None);
    assert!(strict.findings[0].starts_with("event 0: missing"), "{:?}", strict.findings);
    // The tree itself is untouched: the checkpoint still verifies.
    ledger.append(events(1, "audit", clock.as_ref())).await.unwrap();
    ledger.wait_published(39).await;
    assert_eq!(check(dir.path(), Some(&retention())).findings, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let _ledger = open_ledger(dir.path(), clock.clone());
    let err = Ledger::open(LedgerOptions::new(dir.path()), signer(), clock).err().unwrap();
    assert!(matches!(err, leitstand_audit::ledger::LedgerError::Locked(_)), "{err}");
}
