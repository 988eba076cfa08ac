//! Witnessing: every new checkpoint of the audit log goes to the configured
//! C2SP tlog-witness endpoints with a consistency proof from the size each
//! witness last cosigned, and their cosignatures are attached to the
//! published checkpoint.
//!
//! Why: the log key alone cannot stop its holder from rebuilding history and
//! re-signing it. A witness cosigns only trees that extend what it cosigned
//! before, so after a rewrite the witness refuses (422 or 409), Leitstand
//! raises the alarm (an `audit.witness` failure event, the metric
//! `leitstand_audit_log_witness_refusals`), and outside verifiers that
//! require the witness's cosignature (`leitstand audit verify --witness`)
//! reject the rewritten checkpoint.
//!
//! A witness that is down delays nothing: the checkpoint is published at
//! once and cosigned when the witness answers (the next round retries).

use leitstand_core::Outcome;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leitstand_ledger::note::{self, Verifier};
use leitstand_ledger::witness::{AddCheckpoint, Refusal};
use serde_json::json;

use crate::App;

/// A configured witness.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// Submission prefix: `add-checkpoint` is appended.
    pub url: String,
    /// The witness's cosigner key (algorithm 0x04).
    pub verifier: Verifier,
}

/// What the log knows of one witness.
#[derive(Debug)]
pub struct WitnessState {
    /// Where and who.
    pub endpoint: WitnessEndpoint,
    /// Size the witness last cosigned (as far as known).
    pub cosigned: AtomicU64,
    /// Refused or failed submissions so far.
    pub refusals: AtomicU64,
    /// The refusal last reported as an audit event (reported once per change).
    alarm: Mutex<Option<String>>,
    known: Mutex<Option<u64>>,
}

impl WitnessState {
    /// A witness not yet contacted.
    pub fn new(endpoint: WitnessEndpoint) -> Self {
        Self {
            endpoint,
            cosigned: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            alarm: Mutex::new(None),
            known: Mutex::new(None),
        }
    }

    fn name(&self) -> &str {
        self.endpoint.verifier.name()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One witnessing round's result.
#[derive(Debug, Default)]
pub struct Round {
    /// Size of the checkpoint submitted.
    pub size: u64,
    /// Witnesses that cosigned it.
    pub cosigned: Vec<String>,
    /// Witnesses that refused or failed, and why.
    pub refused: Vec<(String, Refusal)>,
}

impl App {
    /// Submits the published checkpoint to every witness and attaches the
    /// cosignatures that verify. Refusals that mean misbehaviour (422, or a
    /// witness that saw a larger tree) are recorded as audit events.
    pub async fn witness_round(&self, http: &reqwest::Client) -> crate::Result<Round> {
        let Some(log) = self.audit_log().cloned() else {
            return Ok(Round::default());
        };
        let state = log.ledger.state();
        let (size, note) = (state.published, state.checkpoint.to_string());
        let mut round = Round { size, ..Round::default() };
        let mut lines = String::new();
        let mut refused = Vec::new();
        for witness in &log.witnesses {
            match submit(&log.ledger, http, witness, size, &note).await {
                Ok(line) => {
                    witness.cosigned.store(size, Ordering::Relaxed);
                    lines.push_str(&line);
                    round.cosigned.push(witness.name().to_string());
                    *lock(&witness.alarm) = None;
                }
                Err(refusal) => {
                    witness.refusals.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(witness = witness.name(), size, %refusal, "witness did not cosign");
                    refused.push((witness, refusal));
                }
            }
        }
        if !lines.is_empty() {
            let attached = log
                .ledger
                .attach_cosignatures(size, &format!("{note}{lines}"))
                .map_err(|e| crate::AppError::AuditUnavailable(e.to_string()))?;
            if !attached {
                tracing::debug!(size, "a newer checkpoint was published while witnessing");
            }
        }
        round.refused = refused.iter().map(|(w, r)| (w.name().to_string(), r.clone())).collect();
        for (witness, refusal) in refused {
            let name = witness.name();
            let misbehaviour = match &refusal {
                Refusal::Inconsistent { .. } => true,
                Refusal::Conflict { latest } => *latest > size,
                _ => false,
            };
            let text = refusal.to_string();
            let first = lock(&witness.alarm).replace(text.clone()).as_deref() != Some(&text);
            if misbehaviour && first {
                tracing::error!(witness = %name, size, %refusal, "a witness refuses the log's history");
                self.audit()
                    .record(
                        "system",
                        "audit.witness",
                        None,
                        "audit-log",
                        Outcome::Failure,
                        json!({ "witness": name, "size": size, "status": refusal.status(), "reason": text }),
                    )
                    .await?;
            }
        }
        Ok(round)
    }
}

/// One submission, retried once from the witness's size after a 409.
/// Returns the witness's cosignature line(s), verified.
async fn submit(
    ledger: &leitstand_audit::ledger::Ledger,
    http: &reqwest::Client,
    witness: &WitnessState,
    size: u64,
    note: &str,
) -> Result<String, Refusal> {
    let mut old = lock(&witness.known).unwrap_or(0);
    for _ in 0..2 {
        if old > size {
            return Err(Refusal::Conflict { latest: old });
        }
        let proof = ledger.consistency_proof(old, size).map_err(|e| Refusal::Unavailable(e.to_string()))?;
        let body = AddCheckpoint { old, proof, checkpoint: note.to_string() }.to_body();
        let url = format!("{}/add-checkpoint", witness.endpoint.url.trim_end_matches('/'));
        let response = http.post(&url).body(body).send().await.map_err(|e| Refusal::Unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = read_limited(response, 64 * 1024).await.map_err(Refusal::Unavailable)?;
        if status == 200 {
            // Keep only lines that verify as this witness's cosignature.
            let verifier = std::slice::from_ref(&witness.endpoint.verifier);
            let mine: String = text
                .lines()
                .map(|l| format!("{l}\n"))
                .filter(|l| note::open(&format!("{note}{l}"), verifier).is_ok_and(|o| !o.cosigned_by.is_empty()))
                .collect();
            if mine.is_empty() {
                return Err(Refusal::Unavailable("the answer carries no valid cosignature of this witness".into()));
            }
            *lock(&witness.known) = Some(size);
            return Ok(mine);
        }
        match Refusal::from_response(status, &text) {
            Refusal::Conflict { latest } => {
                *lock(&witness.known) = Some(latest);
                old = latest;
            }
            Refusal::Inconsistent { reason, .. } => return Err(Refusal::Inconsistent { old, reason }),
            other => return Err(other),
        }
    }
    Err(Refusal::Unavailable("the witness's size keeps changing".into()))
}

/// A response body of at most `max` bytes (a witness's answer is a few
/// lines; anything longer is refused rather than read into memory).
async fn read_limited(mut response: reqwest::Response, max: usize) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is longer than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".into())
}

/// An HTTP client for witnesses: short timeouts, keep-alive.
pub fn witness_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}
