//! Behaviour of the writer, its recovery, the tail and the committer, through
//! the files they leave.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;

use crate::format::{HEADER, SEQ_LEN, encode, list_segments};
use crate::*;

fn options(segment_bytes: u64) -> WalOptions {
    WalOptions { segment_bytes }
}

fn payload(seq: u64) -> Vec<u8> {
    format!("batch {seq};").repeat(seq as usize % 4 + 1).into_bytes()
}

/// Appends `count` records (payload(seq)) in batches of `batch`.
fn fill(wal: &mut Wal, count: u64, batch: usize) -> Vec<(u64, Vec<u8>)> {
    let mut all = Vec::new();
    let end = wal.next_seq() + count;
    while wal.next_seq() < end {
        let n = batch.min((end - wal.next_seq()) as usize) as u64;
        let payloads: Vec<Vec<u8>> = (wal.next_seq()..wal.next_seq() + n).map(payload).collect();
        let range = wal.append(&payloads).unwrap();
        all.extend(range.zip(payloads));
    }
    all
}

fn read_all(dir: &Path, from: u64) -> Vec<(u64, Vec<u8>)> {
    WalTail::new(dir, from).read(u64::MAX, usize::MAX, usize::MAX).unwrap()
}

fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir).unwrap().into_iter().map(|s| s.path).collect()
}

/// Everything in the directory, to show an error left it alone.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), fs::read(&p).unwrap())).collect()
}

#[test]
fn appends_read_back_and_survive_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let mut wal = Wal::open(&dir, WalOptions::default()).unwrap();
    assert_eq!((wal.first_seq(), wal.next_seq(), wal.recovered()), (1, 1, None));
    assert_eq!(wal.dir(), dir);
    let first = dir.join("00000000000000000001.wal");
    assert_eq!(fs::read(&first).unwrap(), MAGIC, "a fresh log has one empty segment");

    assert_eq!(wal.append(&[] as &[&[u8]]).unwrap(), 1..1);
    assert_eq!(fs::metadata(&first).unwrap().len(), 8, "an empty append writes nothing");
    assert_eq!(wal.append(&[b"a".as_slice(), b"", b"ccc"]).unwrap(), 1..4);
    assert_eq!(wal.append(&[vec![7u8; 1000]]).unwrap(), 4..5);
    assert_eq!(wal.next_seq(), 5);

    // The format, byte for byte.
    let bytes = fs::read(&first).unwrap();
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    let body = [1u64.to_be_bytes().as_slice(), b"a"].concat();
    let mut record = (body.len() as u32).to_le_bytes().to_vec();
    record.extend_from_slice(&crc.checksum(&body).to_le_bytes());
    record.extend_from_slice(&body);
    assert_eq!(&bytes[8..8 + record.len()], record);

    drop(wal);
    let mut wal = Wal::open(&dir, WalOptions::default()).unwrap();
    assert_eq!((wal.first_seq(), wal.next_seq(), wal.recovered()), (1, 5, None));
    let expected = vec![(1, b"a".to_vec()), (2, Vec::new()), (3, b"ccc".to_vec()), (4, vec![7; 1000])];
    assert_eq!(read_all(&dir, 1), expected);
    assert_eq!(wal.append(&[b"e"]).unwrap(), 5..6);
    assert_eq!(read_all(&dir, 5), vec![(5, b"e".to_vec())]);
    assert_eq!(segment_paths(&dir), vec![first]);
}

#[test]
fn payloads_over_the_limit_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), WalOptions::default()).unwrap();
    let big = vec![0u8; MAX_PAYLOAD + 1];
    assert!(matches!(wal.append(&[b"ok".to_vec(), big]), Err(WalError::TooLarge { len }) if len == MAX_PAYLOAD + 1));
    assert_eq!(wal.next_seq(), 1, "nothing of the batch was written");
    assert_eq!(wal.append(&[b"ok"]).unwrap(), 1..2);
}

#[test]
fn segments_rotate_and_the_tail_reads_across_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(100)).unwrap();
    let mut expected = fill(&mut wal, 40, 1);
    // A batch larger than a segment stays in one segment.
    expected.extend(fill(&mut wal, 12, 12));
    expected.extend(fill(&mut wal, 9, 3));
    let segments = list_segments(tmp.path()).unwrap();
    assert!(segments.len() > 5, "{} segments", segments.len());
    for (segment, later) in segments.iter().zip(&segments[1..]) {
        assert!(fs::metadata(&segment.path).unwrap().len() >= 100, "full before the next one is started");
        let first = &read_all(tmp.path(), segment.first)[0];
        assert_eq!(first.0, segment.first, "named after its first record");
        assert!(later.first > segment.first);
    }

    let mut tail = WalTail::new(tmp.path(), 1);
    let mut back = Vec::new();
    loop {
        let got = tail.read(wal.next_seq(), 4, usize::MAX).unwrap();
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= 4);
        back.extend(got);
    }
    assert_eq!(back, expected);
    assert_eq!(tail.position(), wal.next_seq());

    drop(wal);
    let wal = Wal::open(tmp.path(), options(100)).unwrap();
    assert_eq!((wal.first_seq(), wal.next_seq()), (1, 62));
}

#[test]
fn a_tail_starts_at_any_record() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(120)).unwrap();
    let expected = fill(&mut wal, 30, 2);
    for from in 1..=wal.next_seq() {
        let mut tail = WalTail::new(tmp.path(), from);
        assert_eq!(tail.position(), from);
        assert_eq!(tail.read(wal.next_seq(), usize::MAX, usize::MAX).unwrap(), expected[from as usize - 1..]);
        assert_eq!(tail.position(), wal.next_seq());
    }
    // A tail ahead of the log passes over the records before its start as
    // they come.
    let mut ahead = WalTail::new(tmp.path(), 40);
    assert!(ahead.read(u64::MAX, 10, 10).unwrap().is_empty());
    let more = fill(&mut wal, 15, 1);
    assert_eq!(ahead.read(wal.next_seq(), 100, usize::MAX).unwrap(), more[9..]);
}

#[test]
fn the_tail_reads_below_the_bound_and_within_its_limits_then_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(200)).unwrap();
    let expected = fill(&mut wal, 6, 6);
    let seqs = |v: Vec<(u64, Vec<u8>)>| v.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
    let mut tail = WalTail::new(tmp.path(), 1);
    assert_eq!(seqs(tail.read(3, 10, usize::MAX).unwrap()), [1, 2]);
    assert_eq!(tail.position(), 3);
    assert!(tail.read(3, 10, usize::MAX).unwrap().is_empty());
    assert!(tail.read(7, 0, usize::MAX).unwrap().is_empty());
    assert_eq!(seqs(tail.read(7, 2, usize::MAX).unwrap()), [3, 4]);
    // One record even if it alone is over max_bytes; then no more than fit.
    assert_eq!(seqs(tail.read(7, 10, 1).unwrap()), [5]);
    let fit = expected[5].1.len();
    assert_eq!(tail.read(7, 10, fit).unwrap(), expected[5..6]);
    assert!(tail.read(7, 10, usize::MAX).unwrap().is_empty());

    // Appends, rotating: the tail picks up where it stopped.
    let more = fill(&mut wal, 20, 1);
    assert_eq!(tail.read(wal.next_seq(), 100, usize::MAX).unwrap(), more);
    assert!(list_segments(tmp.path()).unwrap().len() > 2);
}

#[test]
fn the_tail_never_reads_a_record_still_being_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), WalOptions::default()).unwrap();
    let expected = fill(&mut wal, 3, 3);
    drop(wal);
    // Half of record 4 is on disk (the writer is in the middle of it).
    let mut record = Vec::new();
    encode(4, b"four", &mut record);
    let path = &segment_paths(tmp.path())[0];
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(&record[..7]).unwrap();
    let mut tail = WalTail::new(tmp.path(), 1);
    assert_eq!(tail.read(4, 100, usize::MAX).unwrap(), expected);
    assert!(tail.read(4, 100, usize::MAX).unwrap().is_empty());
    // Even asked for more than is durable, it stops before the partial record.
    assert!(tail.read(u64::MAX, 100, usize::MAX).unwrap().is_empty());
    file.write_all(&record[7..]).unwrap();
    assert_eq!(tail.read(5, 100, usize::MAX).unwrap(), [(4, b"four".to_vec())]);
    assert_eq!(Wal::open(tmp.path(), WalOptions::default()).unwrap().next_seq(), 5);
}

#[test]
fn a_tail_follows_a_writer_appending_concurrently() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(300)).unwrap();
    let durable = Arc::new(AtomicU64::new(wal.next_seq()));
    let writer = {
        let durable = durable.clone();
        std::thread::spawn(move || {
            let mut written = Vec::new();
            for i in 0..150 {
                written.extend(fill(&mut wal, 1 + i % 3, 3));
                durable.store(wal.next_seq(), Ordering::Release);
            }
            written
        })
    };
    let mut tail = WalTail::new(tmp.path(), 1);
    let mut read = Vec::new();
    while !writer.is_finished() || tail.position() < durable.load(Ordering::Acquire) {
        read.extend(tail.read(durable.load(Ordering::Acquire), 7, usize::MAX).unwrap());
        std::thread::yield_now();
    }
    assert_eq!(read, writer.join().unwrap());
}

/// Writes a log (several segments, if `segment_bytes` is small), changes
/// the newest segment with `mangle(bytes, offset of the last record)` — a
/// write that stopped somewhere — and checks that opening cuts off the last
/// record if it changed, keeps everything before it, and that appending then
/// carries on at the right number. Returns what opening reported.
fn recover_after(
    payloads: &[Vec<u8>],
    segment_bytes: u64,
    mangle: impl FnOnce(&mut Vec<u8>, usize),
) -> Option<Recovered> {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(segment_bytes)).unwrap();
    let mut expected: Vec<(u64, Vec<u8>)> =
        payloads.iter().map(|p| (wal.append(&[p]).unwrap().start, p.clone())).collect();
    let (last_seq, last) = expected.pop().unwrap();
    drop(wal);
    let newest = segment_paths(tmp.path()).pop().unwrap();
    let original = fs::read(&newest).unwrap();
    let start = original.len() - (HEADER + SEQ_LEN + last.len());
    let mut bytes = original.clone();
    mangle(&mut bytes, start);
    fs::write(&newest, &bytes).unwrap();
    // What the "crash" left: nothing changed, the record gone cleanly, or
    // a torn record.
    let lost = bytes != original;
    let torn = lost && bytes.len() > start;

    let mut wal = Wal::open(tmp.path(), options(segment_bytes)).unwrap();
    let recovered = wal.recovered().cloned();
    assert_eq!(recovered.is_some(), torn);
    if let Some(r) = &recovered {
        assert_eq!((&r.segment, r.at, r.truncated_bytes), (&newest, start as u64, (bytes.len() - start) as u64));
    }
    if !lost {
        expected.push((last_seq, last));
    }
    let next = expected.len() as u64 + 1;
    let len = if lost { start } else { original.len() };
    assert_eq!(fs::metadata(&newest).unwrap().len(), len as u64, "cut back to the last good record");
    assert_eq!(wal.next_seq(), next);
    assert_eq!(read_all(tmp.path(), 1), expected, "the records before it are intact");
    assert_eq!(wal.append(&[b"after"]).unwrap(), next..next + 1);
    drop(wal);
    let wal = Wal::open(tmp.path(), options(segment_bytes)).unwrap();
    assert_eq!(wal.recovered(), None);
    expected.push((next, b"after".to_vec()));
    assert_eq!(read_all(tmp.path(), 1), expected, "the append after recovery sticks");
    recovered
}

#[test]
fn a_torn_last_record_is_cut_off_wherever_the_write_stopped() {
    let payloads: Vec<Vec<u8>> = (1..=12).map(payload).collect();
    let record_len = HEADER + SEQ_LEN + payloads[11].len();
    for kept in 0..record_len {
        // The file ends inside the record…
        let r = recover_after(&payloads, 90, |b, start| b.truncate(start + kept));
        assert_eq!(r.is_some(), kept > 0);
        // …or the rest of it reads as zeros…
        assert!(recover_after(&payloads, 90, |b, start| b[start + kept..].fill(0)).is_some());
        // …or one byte of it (past the length) did not make it.
        if kept >= 4 {
            assert!(recover_after(&payloads, 90, |b, start| b[start + kept] ^= 0x20).is_some());
        }
    }
    // Zeros after a complete record, as some file systems leave them.
    let r = recover_after(&payloads, 90, |b, start| {
        b.truncate(start);
        b.extend_from_slice(&[0; 100]);
    });
    assert_eq!(r.map(|r| r.truncated_bytes), Some(100));
    // A record that did not make it whole, and zeros after it.
    let r = recover_after(&payloads, 90, |b, start| {
        b[start + HEADER + SEQ_LEN] ^= 1;
        b.extend_from_slice(&[0; 50]);
    });
    assert!(r.is_some());
}

#[test]
fn a_newest_segment_without_a_complete_header_gets_one() {
    for len in 0..8 {
        let tmp = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(tmp.path(), options(50)).unwrap();
        let expected = fill(&mut wal, 5, 1);
        drop(wal);
        let newest = tmp.path().join("00000000000000000006.wal");
        fs::write(&newest, &MAGIC[..len]).unwrap();
        let mut wal = Wal::open(tmp.path(), options(50)).unwrap();
        let recovered = Recovered { segment: newest.clone(), at: 0, truncated_bytes: len as u64 };
        assert_eq!(wal.recovered(), Some(&recovered));
        assert_eq!(fs::read(&newest).unwrap(), MAGIC);
        assert_eq!(wal.next_seq(), 6);
        assert_eq!(wal.append(&[b"six"]).unwrap(), 6..7);
        assert_eq!(read_all(tmp.path(), 1).len(), expected.len() + 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_torn_end_is_recovered(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..60), 1..20),
        segment_bytes in 20u64..400,
        kept in any::<prop::sample::Index>(),
        zeros in any::<bool>(),
    ) {
        let record_len = HEADER + SEQ_LEN + payloads[payloads.len() - 1].len();
        let kept = kept.index(record_len);
        recover_after(&payloads, segment_bytes, |b, start| {
            if zeros { b[start + kept..].fill(0) } else { b.truncate(start + kept) }
        });
    }
}

/// Opens a copy of `dir` after `damage`, expects the error `check` accepts
/// and that nothing in the directory changed.
fn open_damaged(segment_bytes: u64, damage: impl FnOnce(&[PathBuf]), check: impl FnOnce(&WalError, &[PathBuf])) {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(segment_bytes)).unwrap();
    fill(&mut wal, 12, 1);
    drop(wal);
    let segments = segment_paths(tmp.path());
    damage(&segments);
    let before = snapshot(tmp.path());
    let e = Wal::open(tmp.path(), options(segment_bytes)).unwrap_err();
    check(&e, &segments);
    assert_eq!(snapshot(tmp.path()), before, "{e}: reported, not repaired");
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= 1;
    fs::write(path, bytes).unwrap();
}

#[test]
fn damage_before_the_end_is_reported_with_file_and_offset() {
    // A record in the middle of the only segment.
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), WalOptions::default()).unwrap();
    fill(&mut wal, 5, 1);
    drop(wal);
    let path = segment_paths(tmp.path()).remove(0);
    let second = 8 + HEADER + SEQ_LEN + payload(1).len();
    flip(&path, second + HEADER + SEQ_LEN + 2);
    let before = fs::read(&path).unwrap();
    let e = Wal::open(tmp.path(), WalOptions::default()).unwrap_err();
    assert!(
        matches!(&e, WalError::Damaged { path: p, offset, reason: "checksum mismatch" } if *p == path && *offset == second as u64),
        "{e}"
    );
    let message = e.to_string();
    assert!(message.contains("00000000000000000001.wal") && message.contains(&format!("byte {second}")), "{message}");
    assert_eq!(fs::read(&path).unwrap(), before);
    // The tail stops there too.
    let mut tail = WalTail::new(tmp.path(), 1);
    assert_eq!(tail.read(6, 100, usize::MAX).unwrap().len(), 1);
    assert!(matches!(tail.read(6, 100, usize::MAX), Err(WalError::Damaged { offset, .. }) if offset == second as u64));

    // The last record of a segment that is not the newest.
    open_damaged(
        60,
        |s| {
            let len = fs::metadata(&s[0]).unwrap().len() as usize;
            flip(&s[0], len - 1);
        },
        |e, s| {
            assert!(matches!(e, WalError::Damaged { path, reason: "checksum mismatch", .. } if *path == s[0]), "{e}")
        },
    );
    // A torn record in a segment that is not the newest.
    open_damaged(
        60,
        |s| {
            let len = fs::metadata(&s[1]).unwrap().len();
            OpenOptions::new().write(true).open(&s[1]).unwrap().set_len(len - 3).unwrap();
        },
        |e, s| assert!(matches!(e, WalError::Damaged { path, .. } if *path == s[1]), "{e}"),
    );
    // An impossible length followed by more data in the newest segment.
    open_damaged(
        1 << 20,
        |s| {
            let mut bytes = fs::read(&s[0]).unwrap();
            bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
            fs::write(&s[0], bytes).unwrap();
        },
        |e, _| assert!(matches!(e, WalError::Damaged { offset: 8, reason: "impossible record length", .. }), "{e}"),
    );
    // A wrong magic, even in the newest segment.
    open_damaged(
        60,
        |s| flip(s.last().unwrap(), 0),
        |e, s| assert!(matches!(e, WalError::Damaged { path, offset: 0, .. } if path == s.last().unwrap()), "{e}"),
    );
    // An empty segment that is not the newest.
    open_damaged(
        60,
        |s| OpenOptions::new().write(true).open(&s[1]).unwrap().set_len(8).unwrap(),
        |e, s| assert!(matches!(e, WalError::Damaged { path, offset: 8, .. } if *path == s[1]), "{e}"),
    );
}

#[test]
fn gaps_and_misnamed_segments_are_reported() {
    // A segment missing in the middle.
    open_damaged(
        60,
        |s| fs::remove_file(&s[1]).unwrap(),
        |e, s| {
            let first = list_segments(s[2].parent().unwrap()).unwrap()[1].first;
            assert!(
                matches!(e, WalError::Sequence { path, offset: 0, found, .. } if *path == s[2] && *found == first),
                "{e}"
            );
        },
    );
    // The newest segment renamed.
    open_damaged(
        60,
        |s| fs::rename(s.last().unwrap(), s[0].with_file_name("00000000000000000099.wal")).unwrap(),
        |e, _| assert!(matches!(e, WalError::Sequence { expected, found: 99, .. } if *expected < 99), "{e}"),
    );
    // The only segment renamed: its first record does not match.
    open_damaged(
        1 << 20,
        |s| fs::rename(&s[0], s[0].with_file_name("00000000000000000005.wal")).unwrap(),
        |e, _| assert!(matches!(e, WalError::Sequence { offset: 8, expected: 5, found: 1, .. }), "{e}"),
    );
    // A record with the wrong number (valid checksum).
    open_damaged(
        1 << 20,
        |s| {
            let mut record = Vec::new();
            encode(14, b"skips 13", &mut record);
            OpenOptions::new().append(true).open(&s[0]).unwrap().write_all(&record).unwrap();
        },
        |e, _| assert!(matches!(e, WalError::Sequence { expected: 13, found: 14, .. }), "{e}"),
    );
    // A .wal file that is not named like a segment; other files are fine.
    open_damaged(
        1 << 20,
        |s| {
            fs::write(s[0].with_file_name("notes.txt"), b"x").unwrap();
            fs::write(s[0].with_file_name("00000000000000000001.wal.tmp"), b"x").unwrap();
            fs::write(s[0].with_file_name("1.wal"), b"x").unwrap();
        },
        |e, s| assert!(matches!(e, WalError::BadName(p) if *p == s[0].with_file_name("1.wal")), "{e}"),
    );
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("notes.txt"), b"x").unwrap();
    assert_eq!(Wal::open(tmp.path(), WalOptions::default()).unwrap().next_seq(), 1);
}

#[test]
fn remove_through_deletes_applied_segments_but_never_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut wal = Wal::open(tmp.path(), options(80)).unwrap();
    let expected = fill(&mut wal, 30, 1);
    let firsts: Vec<u64> = list_segments(tmp.path()).unwrap().iter().map(|s| s.first).collect();
    assert!(firsts.len() > 4);
    assert_eq!(wal.remove_through(0).unwrap(), 0);
    // Through the second-to-last record of the second segment: only the first goes.
    assert_eq!(wal.remove_through(firsts[2] - 2).unwrap(), 1);
    assert_eq!(wal.first_seq(), firsts[1]);
    // Through its last record: it goes too.
    assert_eq!(wal.remove_through(firsts[2] - 1).unwrap(), 1);
    assert_eq!(wal.first_seq(), firsts[2]);
    let from = firsts[2] as usize - 1;
    assert_eq!(read_all(tmp.path(), firsts[2]), expected[from..]);
    let e = WalTail::new(tmp.path(), 1).read(u64::MAX, 10, usize::MAX).unwrap_err();
    assert!(matches!(e, WalError::Missing { from: 1, oldest } if oldest == firsts[2]), "{e}");

    // A tail that falls behind what is removed is told so, once it has
    // read what it still can.
    let mut behind = WalTail::new(tmp.path(), firsts[2]);
    assert_eq!(behind.read(firsts[2] + 1, 10, usize::MAX).unwrap(), expected[from..from + 1]);
    assert_eq!(wal.remove_through(firsts[4] - 1).unwrap(), 2);
    let rest = behind.read(u64::MAX, 100, usize::MAX).unwrap();
    assert_eq!(rest, expected[from + 1..firsts[3] as usize - 1], "the rest of its (removed) segment");
    let e = behind.read(u64::MAX, 100, usize::MAX).unwrap_err();
    assert!(matches!(e, WalError::Missing { from, oldest } if from == firsts[3] && oldest == firsts[4]), "{e}");
    // Everything applied: the newest segment stays, and so does appending.
    assert_eq!(wal.remove_through(u64::MAX).unwrap(), firsts.len() - 5);
    assert_eq!(segment_paths(tmp.path()).len(), 1);
    let newest = *firsts.last().unwrap();
    assert_eq!((wal.first_seq(), wal.next_seq()), (newest, 31));
    assert_eq!(wal.remove_through(u64::MAX).unwrap(), 0);
    drop(wal);
    let mut wal = Wal::open(tmp.path(), options(80)).unwrap();
    assert_eq!((wal.first_seq(), wal.next_seq()), (newest, 31));
    let more = fill(&mut wal, 10, 1);
    assert_eq!(read_all(tmp.path(), 31), more);

    // A tail ahead of the log whose segment is removed before the log gets
    // to where the tail starts: what was removed was not wanted anyway.
    let mut ahead = WalTail::new(tmp.path(), 44);
    assert!(ahead.read(u64::MAX, 100, usize::MAX).unwrap().is_empty());
    let big: Vec<(u64, Vec<u8>)> =
        (41..=50u64) // one segment each
            .map(|seq| (wal.append(&[vec![seq as u8; 100]]).unwrap().start, vec![seq as u8; 100]))
            .collect();
    assert!(wal.remove_through(42).unwrap() >= 2);
    assert_eq!(ahead.read(u64::MAX, 100, usize::MAX).unwrap(), big[3..]);
}

#[tokio::test]
async fn the_committer_groups_concurrent_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let (committer, durable) = Committer::spawn(Wal::open(tmp.path(), options(500)).unwrap());
    assert_eq!(*durable.borrow(), 1);
    let tasks: Vec<_> = (0..300u64)
        .map(|i| {
            let (committer, durable) = (committer.clone(), durable.clone());
            tokio::spawn(async move {
                let seq = committer.append(format!("alert {i}").into_bytes()).await.unwrap();
                assert!(*durable.borrow() > seq, "durable before it is acknowledged");
                (seq, format!("alert {i}").into_bytes())
            })
        })
        .collect();
    let mut appended = Vec::new();
    for task in tasks {
        appended.push(task.await.unwrap());
    }
    appended.sort();
    assert_eq!(appended.iter().map(|(s, _)| *s).collect::<Vec<_>>(), (1..=300).collect::<Vec<_>>());
    assert_eq!(*durable.borrow(), 301);

    // One bad payload fails alone.
    let big = committer.append(vec![0; MAX_PAYLOAD + 1]).await;
    assert!(matches!(big, Err(WalError::TooLarge { .. })));
    // One at a time, each over the segment size: 302 and 303 start segments,
    // so 301 ends one.
    for seq in 301..=303 {
        appended.push((seq, vec![seq as u8; 600]));
        assert_eq!(committer.append(vec![seq as u8; 600]).await.unwrap(), seq);
    }
    assert_eq!(*durable.borrow(), 304);
    assert!(committer.remove_through(301).await.unwrap() >= 1);
    committer.close();

    let wal = Wal::open(tmp.path(), options(500)).unwrap();
    assert_eq!((wal.first_seq(), wal.next_seq()), (302, 304));
    assert_eq!(read_all(tmp.path(), 302), appended[301..]);
}
