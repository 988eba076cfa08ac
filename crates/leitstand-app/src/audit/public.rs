//! What the HTTP edge serves of the audit log: the public files
//! (checkpoint and tiles) for third-party verification, the log's figures
//! for `/metrics`, and the witness that cosigns other logs.

use std::sync::atomic::Ordering::Relaxed;

use leitstand_core::access::Action;

use crate::{App, AppError, Principal, Result};

/// The witness for other logs (`leitstand witness serve`): its decisions
/// and the C2SP answers they become.
pub mod witness_server {
    pub use leitstand_audit::witness::Witness;
    pub use leitstand_ledger::witness::{Refusal, SIZE_CONTENT_TYPE};
}

/// The log's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFigures {
    /// Sequenced, published, indexed, findings of the last verification,
    /// verifications run.
    pub log: [u64; 5],
    /// SIEM: confirmed, connected (0/1), failures, skipped; `None` without
    /// forwarding.
    pub siem: Option<[u64; 4]>,
    /// Per witness: name, size cosigned, refusals.
    pub witnesses: Vec<(String, u64, u64)>,
}

/// The log's state as the audit page shows it to who may read the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogState {
    /// Entries in the published checkpoint.
    pub size: u64,
    /// The verifier key (C2SP note format) third parties check it with.
    pub key: String,
    /// The figures behind the page's lines.
    pub figures: AuditFigures,
}

impl App {
    /// The log's checkpoint, key and figures for who may read the audit
    /// trail; `None` if this process holds no log.
    pub fn audit_log_state(&self, p: &Principal) -> Result<Option<AuditLogState>> {
        p.require(Action::ReadAudit)?;
        let (Some(log), Some(figures)) = (self.audit_log(), self.audit_figures()) else { return Ok(None) };
        Ok(Some(AuditLogState { size: log.ledger.state().published, key: log.ledger.verifier().to_string(), figures }))
    }

    /// A file of the public log (`checkpoint`, `tile/…`); `None` if there is
    /// no such tile. Anyone may read it where the log is public
    /// (`audit.public`), otherwise only who may read the audit trail.
    pub async fn audit_log_file(&self, reader: Option<&Principal>, path: &str) -> Result<Option<Vec<u8>>> {
        let log = self.audit_log().ok_or_else(|| AppError::AuditUnavailable("no audit log in this process".into()))?;
        if !log.public {
            match reader {
                Some(p) => p.require(Action::ReadAudit)?,
                None => return Err(AppError::Unauthenticated),
            }
        }
        let ledger = log.ledger.clone();
        let owned = path.to_string();
        match tokio::task::spawn_blocking(move || ledger.read(&owned)).await {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(leitstand_audit::ledger::LedgerError::NotATile(_))) => Ok(None),
            Ok(Err(e)) => Err(AppError::AuditUnavailable(e.to_string())),
            Err(e) => Err(AppError::AuditUnavailable(e.to_string())),
        }
    }

    /// The log's figures, if this process holds the log.
    pub fn audit_figures(&self) -> Option<AuditFigures> {
        let log = self.audit_log()?;
        let s = log.ledger.state();
        Some(AuditFigures {
            log: [
                s.sequenced,
                s.published,
                log.indexed(),
                log.verify_findings.load(Relaxed),
                log.verify_runs.load(Relaxed),
            ],
            siem: log.siem.get().map(|siem| {
                [
                    siem.confirmed.load(Relaxed),
                    u64::from(siem.connected.load(Relaxed)),
                    siem.failures.load(Relaxed),
                    siem.skipped.load(Relaxed),
                ]
            }),
            witnesses: log
                .witnesses
                .iter()
                .map(|w| (w.endpoint.verifier.name().to_string(), w.cosigned.load(Relaxed), w.refusals.load(Relaxed)))
                .collect(),
        })
    }
}
