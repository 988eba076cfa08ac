//! Write-ahead log recovery: any bytes as the only segment either open (a
//! torn end cut off) or are reported, never panic; a log that opens reads
//! back completely, takes an append, and reopens with exactly that record
//! added.
#![no_main]

use std::path::{Path, PathBuf};

use leitstand_wal::{Wal, WalOptions, WalTail};
use libfuzzer_sys::fuzz_target;

/// Small, so the append after recovery usually starts a new segment.
const OPTIONS: WalOptions = WalOptions { segment_bytes: 64 };

/// One directory per fuzzing process, emptied for each input.
fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("leitstand-fuzz-wal-{}", std::process::id()))
}

fn read_all(dir: &Path, wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    let records = WalTail::new(dir, wal.first_seq())
        .read(wal.next_seq(), usize::MAX, usize::MAX)
        .expect("a log that opened reads back");
    assert_eq!(records.len() as u64, wal.next_seq() - wal.first_seq());
    records
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    std::fs::write(dir.join("00000000000000000001.wal"), data).expect("segment written");
    let Ok(mut wal) = Wal::open(&dir, OPTIONS) else { return };
    let mut expected = read_all(&dir, &wal);
    let seq = wal.append(&[b"fuzz"]).expect("append after recovery").start;
    assert_eq!(seq, 1 + expected.len() as u64);
    drop(wal);
    let wal = Wal::open(&dir, OPTIONS).expect("reopens after the append");
    assert!(wal.recovered().is_none(), "nothing left to recover");
    expected.push((seq, b"fuzz".to_vec()));
    assert_eq!(read_all(&dir, &wal), expected);
});
