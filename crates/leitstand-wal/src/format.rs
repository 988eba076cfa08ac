//! The bytes on disk, shared by the writer (and its recovery) and the tail:
//! segment names, the segment header and records. Reading is streamed, so
//! neither side holds a whole segment in memory.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{WalError, io_err};

/// The first eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"LSWAL\0\0\x01";
/// Length prefix and CRC before each record body.
pub(crate) const HEADER: usize = 8;
/// The sequence number at the start of each body.
pub(crate) const SEQ_LEN: usize = 8;
/// Largest record body: a longer length prefix is damage, not a record.
pub(crate) const MAX_BODY: usize = 64 << 20;
/// Largest payload of one record.
pub const MAX_PAYLOAD: usize = MAX_BODY - SEQ_LEN;

static CRC: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// A segment file and the sequence number its name gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub first: u64,
    pub path: PathBuf,
}

impl Segment {
    pub fn new(dir: &Path, first: u64) -> Self {
        Self { first, path: dir.join(format!("{first:020}.wal")) }
    }
}

/// The segments in `dir`, oldest first; none if it does not exist. Other
/// files are ignored, but a `.wal` file that is not named like a segment is
/// an error: it is probably one that something renamed, and skipping it
/// could hide a gap.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>, WalError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_err(dir))?.path();
        if path.extension().is_none_or(|e| e != "wal") {
            continue;
        }
        let first = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok());
        match first {
            Some(first) => segments.push(Segment { first, path }),
            None => return Err(WalError::BadName(path)),
        }
    }
    segments.sort_by_key(|s| s.first);
    Ok(segments)
}

/// Appends one record to `out`.
pub(crate) fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let body_start = out.len() + HEADER;
    out.extend_from_slice(&((SEQ_LEN + payload.len()) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(payload);
    let crc = CRC.checksum(&out[body_start..]);
    out[body_start - 4..body_start].copy_from_slice(&crc.to_le_bytes());
}

/// What the segment header turned out to be.
pub(crate) enum Magic {
    Valid,
    /// The file ends within the first eight bytes.
    Short,
    Wrong,
}

pub(crate) fn read_magic(r: &mut impl Read) -> io::Result<Magic> {
    let mut magic = [0u8; MAGIC.len()];
    Ok(match read_full(r, &mut magic)? {
        n if n < MAGIC.len() => Magic::Short,
        _ if magic == MAGIC => Magic::Valid,
        _ => Magic::Wrong,
    })
}

/// What a record's header turned out to be.
pub(crate) enum Header {
    /// The file ends right here, between records.
    End,
    /// The file ends within the header.
    Torn,
    /// A body length no record can have.
    Impossible,
    Record {
        len: usize,
        crc: u32,
    },
}

pub(crate) fn read_header(r: &mut impl Read) -> io::Result<Header> {
    let mut h = [0u8; HEADER];
    Ok(match read_full(r, &mut h)? {
        0 => Header::End,
        n if n < HEADER => Header::Torn,
        _ => {
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            if (SEQ_LEN..=MAX_BODY).contains(&len) { Header::Record { len, crc } } else { Header::Impossible }
        }
    })
}

/// What a record's body turned out to be.
pub(crate) enum Body {
    /// The file ends within the body.
    Torn,
    BadChecksum,
    /// Valid; the payload is `body[SEQ_LEN..]`.
    Record {
        seq: u64,
    },
}

/// Reads a body of `len` bytes into `body` (growing it only as far as the
/// file goes, so a damaged length does not allocate 64 MiB).
pub(crate) fn read_body(r: &mut impl Read, len: usize, crc: u32, body: &mut Vec<u8>) -> io::Result<Body> {
    body.clear();
    r.take(len as u64).read_to_end(body)?;
    if body.len() < len {
        return Ok(Body::Torn);
    }
    if CRC.checksum(body) != crc {
        return Ok(Body::BadChecksum);
    }
    let mut seq = [0u8; SEQ_LEN];
    seq.copy_from_slice(&body[..SEQ_LEN]);
    Ok(Body::Record { seq: u64::from_be_bytes(seq) })
}

/// Fills `buf` as far as the reader goes; returns how much it filled.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether the file holds only zero bytes from `offset` to its end (some
/// file systems leave zeros where a write did not reach the disk).
pub(crate) fn only_zeros(path: &Path, offset: u64) -> io::Result<bool> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) if chunk[..n].iter().any(|b| *b != 0) => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Makes the directory's entries (files created or deleted) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}
