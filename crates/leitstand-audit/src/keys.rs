//! Leitstand's secrets, kept in files outside the database so that a
//! database dump or a database administrator has none of them: the Ed25519
//! key that signs the audit log's checkpoints, the HMAC key behind
//! pseudonyms (in the log and in the sign-in counters), and the key that
//! seals the secrets Leitstand must read back from the database (second
//! factors). All are created on first start (mode 0600) and never logged.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use leitstand_ledger::note::{NoteError, Signer};
use leitstand_ledger::pseudonym::Pseudonymiser;

/// Leitstand's keys.
pub struct Keys {
    /// Signs checkpoints.
    pub signer: Signer,
    /// Makes pseudonyms.
    pub pseudonymiser: Pseudonymiser,
    /// Seals secrets stored in the database (AES-256-GCM key).
    pub sealing: [u8; 32],
}

/// Why the keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A key file with unusable content.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// File name of the log's signing key.
pub const LOG_KEY: &str = "audit-log.key";
/// File name of the pseudonym key.
pub const PSEUDONYM_KEY: &str = "audit-pseudonym.key";
/// File name of the key that seals secrets stored in the database.
pub const SEALING_KEY: &str = "secrets.key";

fn random32() -> io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(seed)
}

/// Writes a new secret file; never replaces an existing one.
fn create_secret(path: &Path, text: &str) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Whether missing keys are made (the server's first start) or are an
/// error (a command run against an existing installation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create missing keys.
    Create,
    /// A missing key is an error naming the file.
    Refuse,
}

fn read_or_create(path: &Path, create: impl FnOnce() -> Result<String, KeyError>) -> Result<String, KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    match fs::read_to_string(path) {
        Ok(text) => {
            let mode = fs::metadata(path).map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(KeyError::Invalid {
                    path: path.to_path_buf(),
                    reason: format!("readable by others (mode {:o}); run chmod 600", mode & 0o777),
                });
            }
            Ok(text)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let text = create()?;
            create_secret(path, &text).map_err(io)?;
            tracing::info!(file = %path.display(), "created a new audit key");
            Ok(text)
        }
        Err(e) => Err(io(e)),
    }
}

fn create_dir(dir: &Path) -> Result<(), KeyError> {
    fs::create_dir_all(dir).map_err(|source| KeyError::Io { path: dir.to_path_buf(), source })?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    Ok(())
}

/// Loads the signing key in `dir/file`, creating it (as `make` does from a
/// random seed) if missing; its name must be `name`.
fn load_signer(
    dir: &Path,
    file: &str,
    name: &str,
    make: fn(&str, [u8; 32]) -> Result<Signer, NoteError>,
) -> Result<Signer, KeyError> {
    let path = dir.join(file);
    let invalid = |e: NoteError| KeyError::Invalid { path: path.clone(), reason: e.to_string() };
    let text = read_or_create(&path, || {
        let seed = random32().map_err(|source| KeyError::Io { path: path.clone(), source })?;
        Ok(make(name, seed).map_err(invalid)?.to_private_string() + "\n")
    })?;
    let signer = Signer::parse(&text).map_err(invalid)?;
    if signer.name() != name {
        return Err(KeyError::Invalid {
            path,
            reason: format!(
                "the key is named {:?}, but the configuration says {name:?} (a key keeps its name for life)",
                signer.name()
            ),
        });
    }
    Ok(signer)
}

/// File name of a witness's cosigning key.
pub const WITNESS_KEY: &str = "witness.key";

/// Loads the witness's cosigning key (`c2sp.org/tlog-cosignature`, Ed25519)
/// named `name` from `dir`, creating it on first use.
pub fn witness_key(dir: &Path, name: &str) -> Result<Signer, KeyError> {
    create_dir(dir)?;
    load_signer(dir, WITNESS_KEY, name, Signer::cosigner_from_seed)
}

/// Loads the 32-byte key in `dir/file` (64 hex digits), creating it from
/// random bytes if missing.
fn load_hex_key(dir: &Path, file: &str) -> Result<[u8; 32], KeyError> {
    let path = dir.join(file);
    let text = read_or_create(&path, || {
        let key = random32().map_err(|source| KeyError::Io { path: path.clone(), source })?;
        Ok(key.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
    })?;
    let hex = text.trim();
    let key: Option<Vec<u8>> = (hex.len() == 64)
        .then(|| (0..32).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect())
        .flatten();
    key.and_then(|k| k.try_into().ok())
        .ok_or_else(|| KeyError::Invalid { path, reason: "expected 64 hex digits (a 32-byte key)".into() })
}

/// Loads the keys from `dir`, creating missing ones. The log key's name must
/// be the log's `origin`.
pub fn load_or_create(dir: &Path, origin: &str) -> Result<Keys, KeyError> {
    load(dir, origin, Missing::Create)
}

/// Loads the keys from `dir`; with [`Missing::Refuse`] a missing file is an
/// error and nothing is created.
pub fn load(dir: &Path, origin: &str, missing: Missing) -> Result<Keys, KeyError> {
    if missing == Missing::Refuse {
        for file in [LOG_KEY, PSEUDONYM_KEY, SEALING_KEY] {
            let path = dir.join(file);
            if !path.exists() {
                return Err(KeyError::Invalid {
                    path,
                    reason: "missing: the keys are made by the first `leitstand serve` in this data \
                             directory; point at that one with --data-dir or LEITSTAND_DATA_DIR"
                        .into(),
                });
            }
        }
    }
    create_dir(dir)?;
    let signer = load_signer(dir, LOG_KEY, origin, Signer::from_seed)?;
    let pseudonymiser = Pseudonymiser::new(load_hex_key(dir, PSEUDONYM_KEY)?);
    let sealing = load_hex_key(dir, SEALING_KEY)?;
    Ok(Keys { signer, pseudonymiser, sealing })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn created_once_private_and_bound_to_the_origin() {
        let dir = tempfile::tempdir().unwrap();
        let keys = load_or_create(dir.path(), "example.org/audit").unwrap();
        let again = load_or_create(dir.path(), "example.org/audit").unwrap();
        assert_eq!(keys.signer.verifier(), again.signer.verifier());
        assert_eq!(keys.pseudonymiser.pseudonym("x"), again.pseudonymiser.pseudonym("x"));
        assert_eq!(keys.sealing, again.sealing);
        assert_ne!(keys.sealing, [0; 32]);
        let mode = fs::metadata(dir.path().join(SEALING_KEY)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = fs::metadata(dir.path().join(LOG_KEY)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let witness = witness_key(dir.path(), "witness.example/w1").unwrap();
        assert!(witness.is_cosigner());
        assert_eq!(witness_key(dir.path(), "witness.example/w1").unwrap().verifier(), witness.verifier());
        let err = load_or_create(dir.path(), "other.org/audit").err().unwrap().to_string();
        assert!(err.contains("example.org/audit") && err.contains("other.org/audit"), "{err}");
        fs::set_permissions(dir.path().join(PSEUDONYM_KEY), fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(dir.path(), "example.org/audit").err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
