//! Following the log: the engine reads behind the intake, from the position
//! its database says it has applied up to.
//!
//! The tail remembers the segment it is in (an open file) and the byte
//! offset of its next record, so each call reads only what is new. It reads
//! records below a bound the caller gives — what the writer reports durable
//! — so it never interprets bytes the writer may still be writing, or may
//! cut back after a failed write. Read-ahead is buffered only within a call
//! for the same reason.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use crate::error::{WalError, io_err};
use crate::format::{
    Body, HEADER, Header, MAGIC, Magic, SEQ_LEN, Segment, list_segments, read_body, read_header, read_magic,
};

/// Read-ahead per call.
const CHUNK: usize = 64 << 10;

/// Reads the log forward from a sequence number; see the module docs.
#[derive(Debug)]
pub struct WalTail {
    dir: PathBuf,
    /// The next sequence number to return.
    next: u64,
    at: Option<Cursor>,
}

/// Where in which segment the tail is.
#[derive(Debug)]
struct Cursor {
    segment: Segment,
    file: File,
    /// Offset of the next record in the segment…
    offset: u64,
    /// …and its sequence number (below `WalTail::next` while skipping to it).
    seq: u64,
}

impl WalTail {
    /// A tail of the log in `dir` that returns records from `from` on.
    /// Nothing is read until [`WalTail::read`].
    pub fn new(dir: impl Into<PathBuf>, from: u64) -> Self {
        Self { dir: dir.into(), next: from, at: None }
    }

    /// The sequence number of the next record [`WalTail::read`] returns.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Returns the next records with sequence numbers below `below`, in
    /// order: at most `max_records`, and no more payload bytes than
    /// `max_bytes` — except that one record is returned if there is one,
    /// however large. `below` must not be more than the writer has made
    /// durable (the [`crate::Committer`]'s watch, or [`crate::Wal::next_seq`]).
    ///
    /// Fails with [`WalError::Missing`] if the records asked for have been
    /// removed, and on damage — once the records before it have been
    /// returned, so the error is always about the record at
    /// [`WalTail::position`].
    pub fn read(&mut self, below: u64, max_records: usize, max_bytes: usize) -> Result<Vec<(u64, Vec<u8>)>, WalError> {
        let mut out = Vec::new();
        match self.read_into(&mut out, below, max_records, max_bytes) {
            Err(e) if out.is_empty() => Err(e),
            // The position is past what was read: return it. The error
            // recurs on the next call (the cursor stays at the bad spot).
            _ => Ok(out),
        }
    }

    fn read_into(
        &mut self,
        out: &mut Vec<(u64, Vec<u8>)>,
        below: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<(), WalError> {
        if self.next >= below || max_records == 0 {
            return Ok(());
        }
        if self.at.is_none() {
            self.at = self.start()?;
        }
        let mut bytes = 0usize;
        // Once a newer segment has been seen, the current one is complete:
        // it is read to its end once more before moving on, in case a
        // record was added between reaching its end and listing. Alongside:
        // the oldest segment's first record, if the current one was removed.
        let mut newer: Option<(Segment, Option<u64>)> = None;
        while let Some(cursor) = self.at.as_mut() {
            let path = &cursor.segment.path;
            (&cursor.file).seek(SeekFrom::Start(cursor.offset)).map_err(io_err(path))?;
            let mut r = BufReader::with_capacity(CHUNK, &cursor.file);
            let torn = loop {
                if out.len() >= max_records || self.next >= below {
                    return Ok(());
                }
                let damaged = |reason| WalError::Damaged { path: path.clone(), offset: cursor.offset, reason };
                let (len, crc) = match read_header(&mut r).map_err(io_err(path))? {
                    Header::End => break false,
                    Header::Torn => break true,
                    Header::Impossible => return Err(damaged("impossible record length")),
                    Header::Record { len, crc } => (len, crc),
                };
                let wanted = cursor.seq >= self.next;
                if wanted && !out.is_empty() && bytes.saturating_add(len - SEQ_LEN) > max_bytes {
                    return Ok(());
                }
                // The length is at most MAX_BODY, and the record durable.
                let mut body = Vec::with_capacity(len);
                match read_body(&mut r, len, crc, &mut body).map_err(io_err(path))? {
                    Body::Torn => break true,
                    Body::BadChecksum => return Err(damaged("checksum mismatch")),
                    Body::Record { seq } if seq != cursor.seq => {
                        let (offset, expected) = (cursor.offset, cursor.seq);
                        return Err(WalError::Sequence { path: path.clone(), offset, expected, found: seq });
                    }
                    Body::Record { seq } => {
                        cursor.offset += (HEADER + len) as u64;
                        cursor.seq += 1;
                        if wanted {
                            body.drain(..SEQ_LEN);
                            bytes += body.len();
                            self.next = seq + 1;
                            out.push((seq, body));
                        }
                    }
                }
            };
            // The end of the segment, as far as it is written.
            let Some((next_segment, removed)) = newer.take() else {
                let segments = list_segments(&self.dir)?;
                let removed = if segments.contains(&cursor.segment) { None } else { segments.first().map(|s| s.first) };
                match segments.into_iter().find(|s| s.first > cursor.segment.first) {
                    Some(next_segment) => newer = Some((next_segment, removed)),
                    None => return Ok(()),
                }
                continue;
            };
            if torn {
                let reason = "record cut short in a segment that is not the newest";
                return Err(WalError::Damaged { path: path.clone(), offset: cursor.offset, reason });
            }
            // Segments removed from under the tail (it is behind what was
            // applied) are passed over only if none of their records is wanted.
            let skippable = removed.is_some() && (cursor.seq + 1..=self.next).contains(&next_segment.first);
            if next_segment.first != cursor.seq && !skippable {
                if let Some(oldest) = removed.filter(|_| next_segment.first > cursor.seq) {
                    return Err(WalError::Missing { from: self.next, oldest });
                }
                let (path, expected, found) = (next_segment.path, cursor.seq, next_segment.first);
                return Err(WalError::Sequence { path, offset: 0, expected, found });
            }
            match open_segment(next_segment)? {
                Some(cursor) => self.at = Some(cursor),
                // Still being created.
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// Opens the segment that holds `next`: the newest whose first record
    /// is not after it.
    fn start(&self) -> Result<Option<Cursor>, WalError> {
        let segments = list_segments(&self.dir)?;
        let Some(oldest) = segments.first() else { return Ok(None) };
        if self.next < oldest.first {
            return Err(WalError::Missing { from: self.next, oldest: oldest.first });
        }
        match segments.into_iter().rev().find(|s| s.first <= self.next) {
            Some(segment) => open_segment(segment),
            None => Ok(None),
        }
    }
}

/// Opens a segment at its first record; None if its header is not complete
/// yet (the writer is creating it).
fn open_segment(segment: Segment) -> Result<Option<Cursor>, WalError> {
    let path = &segment.path;
    let mut file = File::open(path).map_err(io_err(path))?;
    match read_magic(&mut file).map_err(io_err(path))? {
        Magic::Valid => {}
        Magic::Short => return Ok(None),
        Magic::Wrong => {
            let reason = "wrong magic: not a write-ahead log segment";
            return Err(WalError::Damaged { path: path.clone(), offset: 0, reason });
        }
    }
    let seq = segment.first;
    Ok(Some(Cursor { segment, file, offset: MAGIC.len() as u64, seq }))
}
