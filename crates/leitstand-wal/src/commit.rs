//! Group commit: the intake's request handlers each append one batch, and
//! an fsync per handler would cap intake at the disk's fsync rate. One
//! thread owns the [`Wal`]; it takes everything that is waiting, writes it
//! with one write and one fsync, answers every caller, and publishes how far
//! the log is durable — the bound the engine's [`crate::WalTail`] reads up
//! to.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot, watch};

use crate::error::WalError;
use crate::format::MAX_PAYLOAD;
use crate::wal::Wal;

/// Most payload bytes written in one group.
const GROUP_BYTES: usize = 8 << 20;
/// Requests waiting for the thread before senders wait too.
const QUEUE: usize = 1024;

enum Job {
    Append { payload: Vec<u8>, reply: oneshot::Sender<Result<u64, WalError>> },
    RemoveThrough { seq: u64, reply: oneshot::Sender<Result<usize, WalError>> },
}

/// A handle to the commit thread; cheap to clone. The thread ends once
/// every handle is gone.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").field("closed", &self.jobs.is_closed()).finish_non_exhaustive()
    }
}

impl Committer {
    /// Starts the commit thread (`wal-commit`), which owns `wal`. The
    /// receiver holds the log's [`Wal::next_seq`]: every record below it is
    /// durable.
    ///
    /// # Panics
    ///
    /// If the thread cannot be started, like [`std::thread::spawn`].
    pub fn spawn(wal: Wal) -> (Self, watch::Receiver<u64>) {
        let (durable, durable_rx) = watch::channel(wal.next_seq());
        let (jobs, job_rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("wal-commit".into())
            .spawn(move || run(wal, job_rx, &durable))
            .expect("failed to start the wal-commit thread");
        (Self { jobs, thread: Arc::new(Mutex::new(Some(thread))) }, durable_rx)
    }

    /// Appends a record; returns its sequence number once it is durable.
    ///
    /// If this future is dropped before it completes, the record may still
    /// be appended, unacknowledged.
    pub async fn append(&self, payload: Vec<u8>) -> Result<u64, WalError> {
        // Checked here: in the group it would fail everyone's appends.
        if payload.len() > MAX_PAYLOAD {
            return Err(WalError::TooLarge { len: payload.len() });
        }
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Append { payload, reply }).await.map_err(|_| WalError::Closed)?;
        answer.await.map_err(|_| WalError::Closed)?
    }

    /// [`Wal::remove_through`] on the commit thread, after the appends
    /// sent before it.
    pub async fn remove_through(&self, seq: u64) -> Result<usize, WalError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::RemoveThrough { seq, reply }).await.map_err(|_| WalError::Closed)?;
        answer.await.map_err(|_| WalError::Closed)?
    }

    /// Drops this handle; the last one waits (blocking) until the thread has
    /// committed what was sent and closed the log, so the directory can be
    /// opened again at once.
    pub fn close(self) {
        let Self { jobs, thread } = self;
        drop(jobs);
        if let Some(handle) = Arc::into_inner(thread).and_then(|m| m.into_inner().ok()).flatten() {
            let _ = handle.join();
        }
    }
}

/// The thread: group after group until every handle is dropped.
fn run(mut wal: Wal, mut jobs: mpsc::Receiver<Job>, durable: &watch::Sender<u64>) {
    let mut payloads = Vec::new();
    let mut replies = Vec::new();
    while let Some(first) = jobs.blocking_recv() {
        let mut bytes = 0;
        let mut remove = None;
        let mut job = Some(first);
        while let Some(j) = job.take() {
            match j {
                Job::Append { payload, reply } => {
                    bytes += payload.len();
                    payloads.push(payload);
                    replies.push(reply);
                }
                // Ends the group, so it runs after the appends sent before it.
                Job::RemoveThrough { seq, reply } => {
                    remove = Some((seq, reply));
                    break;
                }
            }
            if bytes < GROUP_BYTES {
                job = jobs.try_recv().ok();
            }
        }
        if !payloads.is_empty() {
            match wal.append(&payloads) {
                Ok(seqs) => {
                    // Published before anyone is answered: whoever learns of
                    // a record from its sender finds it below the bound.
                    durable.send_replace(wal.next_seq());
                    for (seq, reply) in seqs.zip(replies.drain(..)) {
                        let _ = reply.send(Ok(seq));
                    }
                }
                Err(e) => {
                    for reply in replies.drain(..) {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
            payloads.clear();
        }
        if let Some((seq, reply)) = remove {
            let _ = reply.send(wal.remove_through(seq));
        }
    }
}
