//! Forwarding the audit trail to a SIEM, at least once.
//!
//! The forwarder reads the query index in log order from its persisted
//! cursor (`siem` in the audit cursors), sends RFC 5424 messages over TLS
//! and moves the cursor only for messages it can count as delivered:
//! written, and the connection found still open at least `confirm_after`
//! later (syslog over TLS has no acknowledgements; a receiver that died
//! resets the connection within a round trip). After an outage, a lost
//! connection or a Leitstand restart, sending resumes at the cursor — so
//! no event is skipped, and a few may arrive twice (the `index` in the
//! structured data identifies them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use leitstand_siem::{Connection, SiemEvent, SyslogOptions, TlsOptions, TransportError, frame, message};
use leitstand_store::AuditLogRepository;

use crate::{App, AppError, Result};

/// Name of the forwarder's cursor.
pub const SIEM_CURSOR: &str = "siem";
/// Events per read and write.
const BATCH: i64 = 2_000;

/// Where and how to forward.
#[derive(Debug, Clone)]
pub struct SiemSettings {
    /// `host:port` of the SIEM's syslog receiver.
    pub address: String,
    /// TLS settings; `None` sends plain TCP (test set-ups only).
    pub tls: Option<TlsOptions>,
    /// Message header and payload format.
    pub syslog: SyslogOptions,
    /// How long a written message must be followed by an open connection
    /// before it counts as delivered.
    pub confirm_after: Duration,
}

/// What the forwarder reports (for metrics and the UI).
#[derive(Debug, Default)]
pub struct SiemStats {
    /// Events confirmed delivered (the cursor).
    pub confirmed: AtomicU64,
    /// Whether a connection is open.
    pub connected: AtomicBool,
    /// Connection or write failures since start.
    pub failures: AtomicU64,
    /// Events that expired by retention before they were forwarded.
    pub skipped: AtomicU64,
}

/// The forwarder's state between steps.
pub struct SiemForwarder {
    settings: SiemSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    connection: Option<Connection>,
    sent: u64,
    confirmed: u64,
    mark: Option<(u64, Instant)>,
    /// Shared figures.
    pub stats: Arc<SiemStats>,
}

fn unavailable(e: impl std::fmt::Display) -> AppError {
    AppError::AuditUnavailable(format!("SIEM: {e}"))
}

impl SiemForwarder {
    /// A forwarder; certificate and key files are read now, so a bad file
    /// stops the start with a message naming it.
    pub fn new(settings: SiemSettings) -> std::result::Result<Self, TransportError> {
        let tls = settings.tls.as_ref().map(leitstand_siem::transport::tls_config).transpose()?;
        Ok(Self {
            settings,
            tls,
            connection: None,
            sent: 0,
            confirmed: 0,
            mark: None,
            stats: Arc::new(SiemStats::default()),
        })
    }

    fn disconnect(&mut self, why: impl std::fmt::Display) -> AppError {
        self.connection = None;
        self.mark = None;
        self.stats.connected.store(false, Ordering::Relaxed);
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        unavailable(why)
    }

    /// One step: connect if needed, confirm what is due, send what is new.
    /// Returns how many events were sent (0: nothing new).
    pub async fn step(&mut self, app: &App) -> Result<usize> {
        if self.connection.is_none() {
            self.confirmed = app.store.audit_cursor(SIEM_CURSOR).await?;
            self.sent = self.confirmed;
            self.stats.confirmed.store(self.confirmed, Ordering::Relaxed);
            let tls = self.tls.as_ref().zip(self.settings.tls.as_ref());
            match Connection::connect(&self.settings.address, tls, Duration::from_secs(10)).await {
                Ok(c) => {
                    tracing::info!(address = %self.settings.address, from = self.sent, "connected to the SIEM");
                    self.connection = Some(c);
                    self.stats.connected.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(self.disconnect(format!("{}: {e}", self.settings.address))),
            }
        }
        let alive = self.connection.as_mut().is_some_and(Connection::alive);
        if !alive {
            return Err(self.disconnect("the receiver closed the connection; resending from the last confirmed event"));
        }
        if let Some((upto, at)) = self.mark
            && at.elapsed() >= self.settings.confirm_after
        {
            self.confirmed = upto;
            app.store.set_audit_cursor(SIEM_CURSOR, upto).await?;
            self.stats.confirmed.store(upto, Ordering::Relaxed);
            self.mark = (self.sent > upto).then(|| (self.sent, Instant::now()));
        }
        app.catch_up_audit_index().await?;
        let events = app.store.audit_events_from(self.sent, BATCH).await?;
        let Some(last) = events.last().map(|e| e.index) else { return Ok(0) };
        if let Some(first) = events.first().map(|e| e.index)
            && first > self.sent
        {
            // Deleted by retention before they could be forwarded: say so.
            let skipped = first - self.sent;
            self.stats.skipped.fetch_add(skipped, Ordering::Relaxed);
            tracing::warn!(from = self.sent, to = first, skipped, "audit events expired before reaching the SIEM");
        }
        let mut bytes = Vec::new();
        for e in &events {
            let event = serde_json::from_str(&e.event)
                .map_err(|err| unavailable(format!("stored event {} is not JSON: {err}", e.index)))?;
            let msg = message(&SiemEvent { index: e.index, logged_at: e.logged_at, event }, &self.settings.syslog);
            bytes.extend_from_slice(&frame(&msg));
        }
        let Some(connection) = self.connection.as_mut() else { return Ok(0) };
        if let Err(e) = connection.send(&bytes).await {
            return Err(self.disconnect(e));
        }
        self.sent = last + 1;
        self.mark.get_or_insert((self.sent, Instant::now()));
        Ok(events.len())
    }

    /// Whether sent events still wait for confirmation.
    pub fn unconfirmed(&self) -> bool {
        self.sent > self.confirmed
    }
}
