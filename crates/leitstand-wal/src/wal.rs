//! The writer. It owns the newest segment and appends to it; on open it
//! checks every record of every segment, because the engine will apply
//! whatever the log holds and a damaged record must stop it, not be skipped.
//!
//! Recovery is deliberately narrow: only the end of the newest segment may be
//! cut, and only when it looks like a write that never completed — an
//! incomplete record, a final record whose checksum fails, zeros. Such a
//! write was never fsynced, so never acknowledged, so cutting it loses
//! nothing anyone was promised. Damage anywhere else means the disk or
//! someone's hands changed acknowledged data; that needs a human.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{WalError, io_err};
use crate::format::{
    Body, HEADER, Header, MAGIC, MAX_PAYLOAD, Magic, SEQ_LEN, Segment, encode, list_segments, only_zeros, read_body,
    read_header, read_magic, sync_dir,
};

/// How the log is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A new segment is started before an append once the current one has
    /// reached this size (so segments exceed it by at most one batch).
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self { segment_bytes: 16 << 20 }
    }
}

/// A torn write that opening the log cut off the newest segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The segment.
    pub segment: PathBuf,
    /// Its length now: the offset where the torn bytes began (0 if the
    /// segment header itself was incomplete and has been written again).
    pub at: u64,
    /// How many bytes were cut off.
    pub truncated_bytes: u64,
}

/// The append side of the log; one per directory.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    /// Oldest first; never empty, the last is the one appended to.
    segments: Vec<Segment>,
    /// The last segment, opened for appending.
    file: File,
    /// Its length.
    len: u64,
    next: u64,
    recovered: Option<Recovered>,
    /// Set when a failed write could not be undone.
    failed: Option<Arc<str>>,
}

/// What the end of the newest segment needs.
enum Cut {
    /// Shorter than the segment header: write the header again.
    Header,
    /// Cut at this offset.
    At(u64),
}

impl Wal {
    /// Opens the log in `dir` (creating the directory and a first segment
    /// if there are none), checks every record and cuts off a torn write at
    /// the end (see [`Wal::recovered`]).
    pub fn open(dir: impl Into<PathBuf>, options: WalOptions) -> Result<Self, WalError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut segments = list_segments(&dir)?;
        let mut next = None;
        let mut cut = None;
        for (i, segment) in segments.iter().enumerate() {
            let newest = i + 1 == segments.len();
            let (after, c) = check_segment(segment, next, newest)?;
            next = Some(after);
            cut = c;
        }
        let recovered = match (cut, segments.last()) {
            (Some(cut), Some(newest)) => Some(repair(&newest.path, cut)?),
            _ => None,
        };
        let file = match segments.last() {
            Some(newest) => OpenOptions::new().append(true).open(&newest.path).map_err(io_err(&newest.path))?,
            None => {
                let segment = Segment::new(&dir, 1);
                let file = create_segment(&dir, &segment.path)?;
                // The directory itself may be new too.
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
                segments.push(segment);
                file
            }
        };
        let newest = &segments[segments.len() - 1].path;
        let len = file.metadata().map_err(io_err(newest))?.len();
        let next = next.unwrap_or(1);
        Ok(Self { dir, options, segments, file, len, next, recovered, failed: None })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence number the next record gets. Everything below it is
    /// durable.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The oldest record retained ([`Wal::next_seq`] when there is none).
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(self.next, |s| s.first)
    }

    /// The torn write that opening cut off, if there was one.
    pub fn recovered(&self) -> Option<&Recovered> {
        self.recovered.as_ref()
    }

    /// Appends one record per payload with one write and one fsync, and
    /// returns their sequence numbers once they are durable. If the write or
    /// the fsync fails, the segment is cut back to where it was (the records
    /// were not acknowledged, so nothing is lost) and the error returned; if
    /// even that fails, every later append fails with [`WalError::Failed`].
    pub fn append(&mut self, payloads: &[impl AsRef<[u8]>]) -> Result<Range<u64>, WalError> {
        if let Some(reason) = &self.failed {
            return Err(WalError::Failed(reason.clone()));
        }
        let start = self.next;
        if payloads.is_empty() {
            return Ok(start..start);
        }
        let mut size = 0;
        for payload in payloads {
            let len = payload.as_ref().len();
            if len > MAX_PAYLOAD {
                return Err(WalError::TooLarge { len });
            }
            size += HEADER + SEQ_LEN + len;
        }
        let end = start
            .checked_add(payloads.len() as u64)
            .ok_or_else(|| io_err(&self.dir)(io::Error::other("sequence numbers exhausted")))?;
        // An empty segment is never left behind for a new one, which would
        // have the same name.
        if self.len >= self.options.segment_bytes && self.len > MAGIC.len() as u64 {
            self.rotate()?;
        }
        let mut buf = Vec::with_capacity(size);
        for (seq, payload) in (start..end).zip(payloads) {
            encode(seq, payload.as_ref(), &mut buf);
        }
        if let Err(e) = self.file.write_all(&buf).and_then(|()| self.file.sync_data()) {
            let e = io_err(&self.current().path)(e);
            self.undo(&e);
            return Err(e);
        }
        self.len += buf.len() as u64;
        self.next = end;
        Ok(start..end)
    }

    /// Deletes the segments all of whose records are ≤ `seq` (what the
    /// engine has applied), never the newest one; returns how many.
    pub fn remove_through(&mut self, seq: u64) -> Result<usize, WalError> {
        // A segment's records end where the next segment's begin.
        let removable = self.segments.windows(2).take_while(|w| w[1].first <= seq.saturating_add(1)).count();
        let mut removed = 0;
        let mut result = Ok(());
        for segment in &self.segments[..removable] {
            if let Err(e) = fs::remove_file(&segment.path) {
                result = Err(io_err(&segment.path)(e));
                break;
            }
            removed += 1;
        }
        self.segments.drain(..removed);
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        result.map(|()| removed)
    }

    fn current(&self) -> &Segment {
        // `segments` is never empty: open creates one if there is none and
        // remove_through keeps the newest.
        &self.segments[self.segments.len() - 1]
    }

    fn rotate(&mut self) -> Result<(), WalError> {
        let segment = Segment::new(&self.dir, self.next);
        self.file = create_segment(&self.dir, &segment.path)?;
        self.len = MAGIC.len() as u64;
        self.segments.push(segment);
        Ok(())
    }

    /// Cuts the current segment back to its length before a failed write.
    fn undo(&mut self, cause: &WalError) {
        let undone = self.file.set_len(self.len).and_then(|()| self.file.sync_all());
        if let Err(e) = undone {
            let path = self.current().path.display();
            self.failed = Some(format!("{cause}; cutting the segment back then failed too: {path}: {e}").into());
        }
    }
}

/// Checks a segment's name, header and records. Returns the sequence number
/// after its last record and, for the newest segment, the cut that removes a
/// torn write at its end.
fn check_segment(segment: &Segment, expected: Option<u64>, newest: bool) -> Result<(u64, Option<Cut>), WalError> {
    let path = &segment.path;
    let expected = expected.unwrap_or(segment.first);
    if segment.first != expected {
        return Err(WalError::Sequence { path: path.clone(), offset: 0, expected, found: segment.first });
    }
    let damaged = |offset, reason| WalError::Damaged { path: path.clone(), offset, reason };
    let mut r = BufReader::with_capacity(256 << 10, File::open(path).map_err(io_err(path))?);
    match read_magic(&mut r).map_err(io_err(path))? {
        Magic::Valid => {}
        Magic::Short if newest => return Ok((segment.first, Some(Cut::Header))),
        Magic::Short => return Err(damaged(0, "shorter than the segment header")),
        Magic::Wrong => return Err(damaged(0, "wrong magic: not a write-ahead log segment")),
    }
    let mut offset = MAGIC.len() as u64;
    let mut seq = segment.first;
    let mut body = Vec::new();
    loop {
        // What is wrong at `offset`, and from where on only zeros would make
        // it a torn write (None: it runs past the end of the file, so it is).
        let (reason, zeros_from) = match read_header(&mut r).map_err(io_err(path))? {
            Header::End => break,
            Header::Torn => ("record header cut short by the end of the file", None),
            Header::Impossible => ("impossible record length", Some(offset)),
            Header::Record { len, crc } => match read_body(&mut r, len, crc, &mut body).map_err(io_err(path))? {
                Body::Torn => ("record cut short by the end of the file", None),
                Body::BadChecksum => ("checksum mismatch", Some(offset + (HEADER + len) as u64)),
                Body::Record { seq: found } => {
                    if found != seq {
                        return Err(WalError::Sequence { path: path.clone(), offset, expected: seq, found });
                    }
                    seq = seq.checked_add(1).ok_or_else(|| damaged(offset, "sequence number overflow"))?;
                    offset += (HEADER + len) as u64;
                    continue;
                }
            },
        };
        let torn = newest
            && match zeros_from {
                None => true,
                Some(from) => only_zeros(path, from).map_err(io_err(path))?,
            };
        if !torn {
            return Err(damaged(offset, reason));
        }
        return Ok((seq, Some(Cut::At(offset))));
    }
    if !newest && offset == MAGIC.len() as u64 {
        return Err(damaged(offset, "empty segment that is not the newest"));
    }
    Ok((seq, None))
}

/// Applies a cut to the newest segment and makes it durable.
fn repair(path: &Path, cut: Cut) -> Result<Recovered, WalError> {
    let mut file = OpenOptions::new().write(true).open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let at = match cut {
        Cut::Header => {
            file.set_len(0).and_then(|()| file.write_all(&MAGIC)).map_err(io_err(path))?;
            0
        }
        Cut::At(at) => {
            file.set_len(at).map_err(io_err(path))?;
            at
        }
    };
    file.sync_all().map_err(io_err(path))?;
    let recovered = Recovered { segment: path.to_path_buf(), at, truncated_bytes: len - at };
    #[cfg(feature = "tracing")]
    tracing::warn!(
        segment = %path.display(),
        at,
        truncated_bytes = recovered.truncated_bytes,
        "cut a torn write off the write-ahead log (it was never acknowledged)"
    );
    Ok(recovered)
}

/// Creates a segment with its header and makes it and its directory entry
/// durable; on failure it is removed again, as far as that works.
fn create_segment(dir: &Path, path: &Path) -> Result<File, WalError> {
    let mut file = OpenOptions::new().append(true).create_new(true).open(path).map_err(io_err(path))?;
    let written =
        file.write_all(&MAGIC).and_then(|()| file.sync_all()).map_err(io_err(path)).and_then(|()| sync_dir(dir));
    match written {
        Ok(()) => Ok(file),
        Err(e) => {
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_error_that_cannot_be_undone_stops_appends() {
        let tmp = tempfile::tempdir().unwrap();
        let mut wal = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        wal.append(&[b"one", b"two"]).unwrap();
        let path = wal.current().path.clone();
        // Read-only: the write fails, and so does cutting the segment back.
        wal.file = File::open(&path).unwrap();
        let e = wal.append(&[b"three"]).unwrap_err();
        assert!(matches!(&e, WalError::Io { path: p, .. } if *p == path), "{e}");
        let e = wal.append(&[b"three"]).unwrap_err();
        assert!(matches!(&e, WalError::Failed(reason) if reason.contains("cutting the segment back")), "{e}");
        assert_eq!(wal.next_seq(), 3);
        drop(wal);
        let wal = Wal::open(tmp.path(), WalOptions::default()).unwrap();
        assert_eq!((wal.next_seq(), wal.recovered()), (3, None));
    }
}
