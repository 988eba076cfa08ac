//! The state of `leitstand witness serve`: per log origin the latest
//! checkpoint this witness cosigned, kept in one file per origin.
//!
//! The spec's one hard rule for storage is atomicity: checking a request's
//! old size against the stored checkpoint and storing the new one happen
//! under one lock, and the new file is durable (written beside, fsync'd,
//! renamed) before the cosignature leaves — otherwise two racing requests
//! could roll the witness back. A second process on the same directory is
//! refused by a file lock. Refused requests that carried a valid log
//! signature are kept as evidence of misbehaviour (`evidence/`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use leitstand_core::clock::Clock;
use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::note::{self, Signer, Verifier};
use leitstand_ledger::witness::{AddCheckpoint, Refusal, WitnessedLog, authenticate, decide};
use sha2::{Digest, Sha256};

use crate::storage::replace_file;

/// Evidence kept per origin at most (the first contradictions are the proof).
const EVIDENCE_LIMIT: u64 = 16 << 20;

/// Why the witness cannot run.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// I/O on the state directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the directory.
    #[error("{0} is in use by another witness process")]
    Locked(PathBuf),
    /// A stored checkpoint cannot be read.
    #[error("{path}: stored checkpoint is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A witness: its cosigning key, the logs it serves, its state.
pub struct Witness {
    signer: Signer,
    logs: Vec<WitnessedLog>,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    serial: Mutex<()>,
    _lock: File,
}

impl Witness {
    /// Opens the state in `dir` (created if missing) for `logs`.
    pub fn open(
        dir: &Path,
        signer: Signer,
        logs: Vec<WitnessedLog>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, WitnessError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| WitnessError::Io { path, source }
        };
        for sub in ["state", "evidence"] {
            fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
        }
        let lock_path = dir.join("lock");
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io(&lock_path))?;
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(WitnessError::Locked(dir.to_path_buf()));
        }
        let me = Self { signer, logs, dir: dir.to_path_buf(), clock, serial: Mutex::new(()), _lock: lock };
        for log in &me.logs {
            me.latest(&log.origin)?;
        }
        Ok(me)
    }

    /// The witness's verifier key (algorithm 0x04), for logs' configuration.
    pub fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    fn state_file(&self, origin: &str) -> PathBuf {
        let digest = Sha256::digest(origin.as_bytes());
        let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join("state").join(name)
    }

    /// The latest checkpoint cosigned for `origin`.
    pub fn latest(&self, origin: &str) -> Result<Option<Checkpoint>, WitnessError> {
        let path = self.state_file(origin);
        let note = match fs::read_to_string(&path) {
            Ok(note) => note,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(WitnessError::Io { path, source }),
        };
        let corrupt = |reason: String| WitnessError::Corrupt { path: path.clone(), reason };
        let (text, _) = note::split(&note).map_err(|e| corrupt(e.to_string()))?;
        let cp = Checkpoint::parse(text).map_err(|e| corrupt(e.to_string()))?;
        if cp.origin != origin {
            return Err(corrupt(format!("it is for origin {:?}", cp.origin)));
        }
        Ok(Some(cp))
    }

    /// Handles an `add-checkpoint` body: the cosignature lines to answer
    /// with, or the refusal. Blocks on file I/O (call it off the async
    /// runtime's worker threads).
    pub fn add_checkpoint(&self, body: &str) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body)?;
        let (checkpoint, text) = authenticate(&request, &self.logs)?;
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::error!(error = %e, origin = %checkpoint.origin, "witness state unavailable");
            Refusal::Unavailable("the witness's state is unavailable".into())
        };
        let _serial = self.serial.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest = self.latest(&checkpoint.origin).map_err(|e| unavailable(&e))?;
        if let Err(refusal) = decide(&request, &checkpoint, latest.as_ref()) {
            // Evidence is a validly signed tree that contradicts the one
            // cosigned: a failed proof, or the same size with another root.
            // A stale old size is ordinary and anyone can send it.
            let same_size_other_root =
                matches!(refusal, Refusal::Conflict { latest } if latest == request.old && latest == checkpoint.size);
            if matches!(refusal, Refusal::Inconsistent { .. }) || same_size_other_root {
                self.keep_evidence(&checkpoint.origin, body, &refusal);
            }
            return Err(refusal);
        }
        let time = u64::try_from(self.clock.now().as_second()).unwrap_or(0);
        let line = self.signer.cosignature_line(&text, time).map_err(|e| unavailable(&e))?;
        if latest.as_ref() != Some(&checkpoint) {
            replace_file(&self.state_file(&checkpoint.origin), request.checkpoint.as_bytes(), true)
                .map_err(|e| unavailable(&e))?;
            tracing::info!(origin = %checkpoint.origin, size = checkpoint.size, "cosigned");
        }
        Ok(line)
    }

    /// Appends a refused, validly signed request to the origin's evidence
    /// file: a log that signed two inconsistent trees is proven by it.
    fn keep_evidence(&self, origin: &str, body: &str, refusal: &Refusal) {
        tracing::warn!(origin, %refusal, "refused a validly signed checkpoint");
        let Some(name) = self.state_file(origin).file_name().map(|n| n.to_owned()) else { return };
        let path = self.dir.join("evidence").join(name);
        if fs::metadata(&path).is_ok_and(|m| m.len() > EVIDENCE_LIMIT) {
            tracing::warn!(file = %path.display(), "evidence file full; keeping the first records only");
            return;
        }
        let record = format!("# {} {}\n{body}\n", self.clock.now(), refusal.status());
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(record.as_bytes()).and_then(|()| f.sync_data()));
        if let Err(e) = written {
            tracing::error!(error = %e, file = %path.display(), "could not keep the evidence");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use leitstand_core::clock::ManualClock;
    use leitstand_ledger::Hash;
    use leitstand_ledger::merkle::{consistency_proof, leaf_hash, root};

    fn body(log: &Signer, leaves: &[Hash], old: usize, size: usize) -> String {
        let cp = Checkpoint {
            origin: log.name().into(),
            size: size as u64,
            root: root(&leaves[..size]),
            extensions: vec![],
        };
        let proof = consistency_proof(old, &leaves[..size]).unwrap();
        AddCheckpoint { old: old as u64, proof, checkpoint: log.sign(&cp.to_text()).unwrap() }.to_body()
    }

    fn open(dir: &Path, log: &Signer) -> Result<Witness, WitnessError> {
        let witness = Signer::cosigner_from_seed("witness.example/w1", [9; 32]).unwrap();
        let logs = vec![WitnessedLog { origin: log.name().into(), keys: vec![log.verifier()] }];
        let clock = Arc::new(ManualClock::new("2026-11-23T10:00:00Z".parse().unwrap()));
        Witness::open(dir, witness, logs, clock)
    }

    #[test]
    fn state_survives_restarts_and_evidence_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = Signer::from_seed("example.org/log", [1; 32]).unwrap();
        let leaves: Vec<Hash> = (0..50u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let witness = open(dir.path(), &log).unwrap();
        assert!(matches!(open(dir.path(), &log), Err(WitnessError::Locked(_))));
        let line = witness.add_checkpoint(&body(&log, &leaves, 0, 20)).unwrap();
        // The answer is a cosignature on the checkpoint, with the clock's time.
        let note = log.sign(&Checkpoint::parse(&witness_text(&log, &leaves, 20)).unwrap().to_text()).unwrap();
        let opened = note::open(&format!("{note}{line}"), &[witness.verifier()]).unwrap();
        assert_eq!(opened.cosigned_by, [("witness.example/w1".to_string(), 1_795_428_000)]);
        drop(witness);

        let witness = open(dir.path(), &log).unwrap();
        assert_eq!(witness.latest("example.org/log").unwrap().unwrap().size, 20);
        assert_eq!(witness.add_checkpoint(&body(&log, &leaves, 0, 30)), Err(Refusal::Conflict { latest: 20 }));
        witness.add_checkpoint(&body(&log, &leaves, 20, 30)).unwrap();
        let mut forged = leaves.clone();
        forged[3] = leaf_hash(b"rewritten");
        assert_eq!(witness.add_checkpoint(&body(&log, &forged, 30, 40)).unwrap_err().status(), 422);
        assert_eq!(witness.latest("example.org/log").unwrap().unwrap().size, 30);
        let evidence = fs::read_dir(dir.path().join("evidence")).unwrap().next().unwrap().unwrap().path();
        let evidence = fs::read_to_string(evidence).unwrap();
        assert!(evidence.contains(" 422\nold 30\n"), "{evidence}");
        assert!(!evidence.contains(" 409\nold 0\n"), "a stale old size is no evidence: {evidence}");
    }

    fn witness_text(log: &Signer, leaves: &[Hash], size: usize) -> String {
        Checkpoint { origin: log.name().into(), size: size as u64, root: root(&leaves[..size]), extensions: vec![] }
            .to_text()
    }

    #[test]
    fn concurrent_requests_never_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = Signer::from_seed("example.org/log", [1; 32]).unwrap();
        let leaves: Vec<Hash> = (0..200u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let witness = Arc::new(open(dir.path(), &log).unwrap());
        witness.add_checkpoint(&body(&log, &leaves, 0, 10)).unwrap();
        // Many requests race from the same old size: exactly one wins, the
        // rest get 409 and the stored size is the winner's.
        let threads: Vec<_> = (11..=60)
            .map(|size| {
                let (witness, log_body) = (witness.clone(), body(&log, &leaves, 10, size));
                std::thread::spawn(move || witness.add_checkpoint(&log_body).map(|_| size))
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<usize> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.status() == 409));
        assert_eq!(witness.latest("example.org/log").unwrap().unwrap().size, winners[0] as u64);
    }
}
