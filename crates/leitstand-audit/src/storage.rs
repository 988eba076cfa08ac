//! Where the public log lives: tiles, entry bundles and the checkpoint, all
//! immutable except the checkpoint. One small interface so that the local
//! data directory used now and object storage for replicas later hold the
//! same files under the same C2SP tlog-tiles paths.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Storage for the public log files.
pub trait LogStorage: Send + Sync + 'static {
    /// The file at `path` (`checkpoint`, `tile/0/000`, …), if it exists.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;
    /// Writes (or replaces) a file; durable only after [`LogStorage::sync`].
    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes the partial versions (`<path>.p/<W>`) of the full tile at
    /// `path`, which replaces them.
    fn remove_partials(&self, path: &str) -> io::Result<()>;
    /// Makes every write so far durable.
    fn sync(&self) -> io::Result<()>;
    /// Atomically and durably replaces the checkpoint (after [`LogStorage::sync`]).
    fn publish_checkpoint(&self, signed: &[u8]) -> io::Result<()>;
}

/// The log in a directory of the local file system.
#[derive(Debug, Clone)]
pub struct DirStorage {
    root: PathBuf,
}

impl DirStorage {
    /// Storage below `root` (created if missing).
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn file(&self, path: &str) -> io::Result<PathBuf> {
        if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid log path {path:?}")));
        }
        Ok(self.root.join(path))
    }
}

/// Writes `bytes` to `target` via a temporary file and a rename, so readers
/// never see half a file.
pub(crate) fn replace_file(target: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let tmp = target.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    if durable {
        file.sync_data()?;
    }
    drop(file);
    fs::rename(&tmp, target)?;
    if durable && let Some(parent) = target.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

impl LogStorage for DirStorage {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.file(path)?) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.file(path)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        replace_file(&target, bytes, false)
    }

    fn remove_partials(&self, path: &str) -> io::Result<()> {
        match fs::remove_dir_all(self.file(&format!("{path}.p"))?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn sync(&self) -> io::Result<()> {
        // One syncfs instead of an fsync per tile: an integration step writes
        // hundreds of small files.
        let dir = OpenOptions::new().read(true).open(&self.root)?;
        rustix::fs::syncfs(&dir)?;
        Ok(())
    }

    fn publish_checkpoint(&self, signed: &[u8]) -> io::Result<()> {
        replace_file(&self.root.join("checkpoint"), signed, true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn write_read_remove_and_refuse_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirStorage::open(dir.path().join("log")).unwrap();
        s.write("tile/0/x001/002", b"abc").unwrap();
        s.sync().unwrap();
        assert_eq!(s.read("tile/0/x001/002").unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(s.read("tile/0/003").unwrap(), None);
        s.write("tile/0/x001/003.p/7", b"partial").unwrap();
        s.remove_partials("tile/0/x001/003").unwrap();
        s.remove_partials("tile/0/x001/003").unwrap();
        assert_eq!(s.read("tile/0/x001/003.p/7").unwrap(), None);
        for bad in ["../x", "tile//0", "/etc/passwd", "tile/./0"] {
            assert!(s.read(bad).is_err(), "{bad}");
        }
        s.publish_checkpoint(b"cp").unwrap();
        assert_eq!(s.read("checkpoint").unwrap().as_deref(), Some(&b"cp"[..]));
    }
}
