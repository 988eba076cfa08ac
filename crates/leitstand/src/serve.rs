//! `leitstand serve`: start-up checks in the order an operator would fix
//! them (data directory, database, port), then serve until SIGTERM/SIGINT and
//! drain gracefully: `/readyz` turns 503 at once, in-flight requests get
//! `server.shutdown_grace` to finish.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use leitstand_app::{App, AuditLogSettings, AuditSink, Oidc, OidcSettings};
use leitstand_core::Clock;
use leitstand_core::clock::SystemClock;
use leitstand_store::{Store, StoreError, StoreOptions};
use leitstand_web::{AppState, HttpLimits, Metrics};

use crate::config::{Config, DatabaseUrl, OidcConfig, ServerConfig};

/// A start-up failure caused by the environment; exit code 3.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory cannot be created or written.
    #[error(
        "data directory {path} is not usable: {source}. Make it writable for this user, \
         or choose another with --data-dir or LEITSTAND_DATA_DIR"
    )]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A command that works on an installation found none there.
    #[error(
        "{what} {path}: `leitstand serve` makes it on its first start; point at the installation with \
         --data-dir or LEITSTAND_DATA_DIR (and --database-url or LEITSTAND_DATABASE_URL), as given to serve"
    )]
    NoInstallation {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for.
        path: String,
    },
    /// The database cannot be opened or migrated.
    #[error("cannot use the database {url}: {source}")]
    Database {
        /// Redacted URL.
        url: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The audit log or its keys cannot be used.
    #[error("cannot open the audit log: {0}")]
    AuditLog(#[source] leitstand_app::AuditOpenError),
    /// The SIEM's certificate or key files cannot be used.
    #[error("audit.siem: {0}")]
    Siem(#[source] leitstand_siem::TransportError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why, with what to do.
        reason: String,
    },
}

/// Runs the server until a shutdown signal.
pub async fn run(config: Config, started: Instant) -> anyhow::Result<()> {
    let clock = SystemClock;
    let server = &config.server;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %server.listen,
        data_dir = %server.data_dir.display(),
        database = %server.database_url(),
        config_file = config.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        "starting"
    );

    let store = open(server).await?;
    warn_about_loose_permissions(&server.data_dir);
    let metrics = Arc::new(Metrics::new(store.backend(), clock.now()));
    if config.audit.origin == crate::config::AuditConfig::default().origin {
        tracing::warn!(origin = %config.audit.origin, "audit.origin is the default; set a unique origin before the first production start (it cannot change later)");
    }
    let store = store.with_observer(metrics.clone());
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let sink = AuditSink::open(audit_settings(&config), clock.clone(), false).map_err(StartupError::AuditLog)?;
    let mut services = App::new(store.clone(), clock, sink);
    let moved = services.migrate_interim_audit().await?;
    if moved > 0 {
        tracing::info!(events = moved, "moved the interim audit events into the audit log");
    }
    services.sessions.idle = server.session_idle_timeout.signed();
    services.sessions.absolute = server.session_absolute_timeout.signed();
    services.sessions.one_time_password = server.one_time_password_validity.signed();
    let sealed = services.seal_stored_secrets().await?;
    if sealed > 0 {
        tracing::info!(secrets = sealed, "sealed second-factor secrets stored in clear before this version");
    }
    if let Some(oidc) = &config.oidc {
        services.oidc = Some(Arc::new(Oidc::new(oidc_settings(oidc))?));
    }
    // The one-time password goes to the terminal only, never to the log.
    let chosen = config.first_admin_password.as_ref().map(|p| p.expose().to_string());
    if let Some(password) = services.bootstrap_admin(chosen).await? {
        let until = services.one_time_password_expiry().strftime("%Y-%m-%d %H:%M UTC");
        eprintln!(
            "\nErstes Administratorkonto angelegt / first administrator account created:\n  \
             Benutzer / user: admin\n  Einmalpasswort / one-time password: {password}\n  \
             Bei der ersten Anmeldung ändern, gültig bis / change it at the first login, valid until: {until}\n"
        );
    }
    let mut monitoring = config.monitoring_settings.clone();
    let host = hostname();
    monitoring.host_instance = host.clone();
    monitoring.data_dir = server.data_dir.clone(); // after --data-dir
    let checker = leitstand_probes::check::Checker::new(monitoring.roots.clone())?;
    warn_about_unknown_tenants(&store, &monitoring).await?;
    services.monitoring = Arc::new(leitstand_app::monitoring::Monitoring::new(monitoring));
    let listener = bind(server.listen).await?;
    let background = spawn_audit_tasks(services.clone(), &config.audit);
    let holder = format!("{host}-{}", uuid::Uuid::new_v4().simple());
    let link_key = config.alerting.link_key(&server.data_dir).map_err(|e| {
        anyhow::anyhow!("alerting: the key of the signed links in {} cannot be used: {e}", server.data_dir.display())
    })?;
    let public_url = config.alerting.public_url(listener.local_addr()?);
    let intake_dir = server.data_dir.join("alert-intake");
    let intake = leitstand_app::alerting::intake::IntakeLog::open(&intake_dir)
        .map_err(|e| anyhow::anyhow!("alerting: the intake log in {} cannot be opened: {e}", intake_dir.display()))?;
    services.alerting = Arc::new(
        leitstand_app::alerting::Alerting::new(config.alerting_settings.clone(), link_key, public_url)
            .with_intake_log(intake),
    );
    services.incidents = Arc::new(leitstand_app::incidents::IncidentSettings { policy: config.policy.clone() });
    let monitor = leitstand_app::monitoring::runtime::spawn(services.clone(), holder.clone(), checker);
    let alerting = leitstand_app::alerting::runtime::spawn(services.clone(), holder.clone());
    let rule_alerts = leitstand_app::alerting::runtime::forward_rule_alerts(services.clone());
    let witnessing = spawn_witnessing(services.clone());
    let siem = match &config.audit.siem {
        Some(c) => {
            let forwarder =
                leitstand_app::audit::siem::SiemForwarder::new(siem_settings(c)).map_err(StartupError::Siem)?;
            spawn_siem(services.clone(), forwarder)
        }
        None => None,
    };
    let bound = listener.local_addr()?;

    let mut state = AppState::new(services, metrics);
    state.contact = server.accessibility_contact.clone();
    state.trusted_proxies = Arc::new(
        leitstand_web::TrustedProxies::parse(&server.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?,
    );
    let limits =
        HttpLimits { body_limit_bytes: server.body_limit_bytes, request_timeout: server.request_timeout.std() };
    let app = leitstand_web::router(state.clone(), &limits).into_make_service_with_connect_info::<SocketAddr>();

    // Handlers are installed before "ready", so a SIGTERM right after start
    // is a graceful shutdown, not the default kill.
    let signals = Signals::install()?;
    tracing::info!(
        listen = %bound,
        database = store.backend().as_str(),
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "ready"
    );

    let (signalled_tx, signalled_rx) = tokio::sync::watch::channel(false);
    let draining = state.clone();
    let shutdown = async move {
        let signal = signals.wait().await;
        tracing::info!(signal, "shutting down: draining requests");
        draining.start_draining();
        let _ = signalled_tx.send(true);
    };
    let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    let grace = server.shutdown_grace.std();
    let deadline = async move {
        let mut rx = signalled_rx;
        let _ = rx.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = serve => result?,
        () = deadline => tracing::warn!(grace_s = grace.as_secs(), "requests still running after the grace period; stopping anyway"),
    }
    monitor.shutdown().await;
    if let Some(forwarder) = rule_alerts {
        forwarder.finish(std::time::Duration::from_secs(5)).await;
    }
    alerting.shutdown().await;
    leitstand_app::monitoring::runtime::stop_recording(&state.app, &holder).await;
    background.abort();
    for task in [witnessing, siem].into_iter().flatten() {
        task.abort();
    }
    // Events that CLI commands parked meanwhile go into the log before it closes.
    if let Err(e) = state.app.relay_audit_outbox().await {
        tracing::error!(error = %e, "audit outbox relay at shutdown failed; the next start appends the events");
    }
    if let Some(log) = state.app.audit_sink.log() {
        // Leave with a checkpoint that covers every acknowledged event.
        let published = log.ledger.wait_published(log.ledger.state().sequenced);
        if tokio::time::timeout(std::time::Duration::from_secs(5), published).await.is_err() {
            tracing::error!(
                failure = log.ledger.failure(),
                "audit log not integrated at shutdown; the next start integrates it from the journal"
            );
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The audit log's settings from the config.
pub fn audit_settings(config: &Config) -> AuditLogSettings {
    let rules = leitstand_ledger::event::EventRules {
        personal_detail_keys: config.audit.personal_fields.iter().map(|k| k.to_ascii_lowercase()).collect(),
        refused_classes: (config.policy.base.retention.classes().into_iter())
            .filter(|(_, class)| !class.allowed_in_production)
            .filter_map(|(key, _)| leitstand_ledger::entry::RetentionClass::parse(key))
            .collect(),
        ..Default::default()
    };
    AuditLogSettings {
        dir: config.audit.dir(&config.server),
        key_dir: config.audit.key_dir(&config.server),
        origin: config.audit.origin.clone(),
        checkpoint_interval: config.audit.checkpoint_interval.std(),
        rules,
        retention: config.policy.base.retention.clone(),
        calendar: config.policy.base.calendar.working_calendar(),
        public: config.audit.public,
        witnesses: config
            .audit
            .witnesses
            .iter()
            .filter_map(|w| {
                let verifier = leitstand_ledger::note::Verifier::parse(&w.key).ok()?;
                Some(leitstand_app::audit::witnessing::WitnessEndpoint { url: w.url.clone(), verifier })
            })
            .collect(),
    }
}

/// The SIEM forwarder's settings from the config.
pub fn siem_settings(c: &crate::config::SiemConfig) -> leitstand_app::audit::siem::SiemSettings {
    let hostname = c.hostname.clone().unwrap_or_else(hostname);
    leitstand_app::audit::siem::SiemSettings {
        address: c.address.clone(),
        tls: c.tls.then(|| leitstand_siem::TlsOptions {
            ca_file: c.ca_file.clone(),
            server_name: c.server_name.clone(),
            client_cert: c.client_cert.clone().zip(c.client_key.clone()),
        }),
        syslog: leitstand_siem::SyslogOptions {
            facility: c.facility,
            hostname,
            app_name: "leitstand".into(),
            sd_id: c.sd_id.clone(),
            payload: match c.format {
                crate::config::SiemFormat::Json => leitstand_siem::Payload::Json,
                crate::config::SiemFormat::Cef => leitstand_siem::Payload::Cef,
            },
        },
        confirm_after: std::time::Duration::from_secs(1),
    }
}

/// This machine's host name (empty if unknown).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// Forwards the audit trail to the SIEM: at once when events arrive, and
/// with growing pauses (1 s … 30 s) while the SIEM is unreachable.
fn spawn_siem(
    app: App,
    mut forwarder: leitstand_app::audit::siem::SiemForwarder,
) -> Option<tokio::task::JoinHandle<()>> {
    let log = app.audit_sink.log().cloned()?;
    let _ = log.siem.set(forwarder.stats.clone());
    Some(tokio::spawn(async move {
        let mut changes = log.ledger.watch();
        let mut backoff = std::time::Duration::from_secs(1);
        let mut failing = false;
        loop {
            match forwarder.step(&app).await {
                Ok(sent) => {
                    if failing {
                        tracing::info!("SIEM forwarding resumed");
                        failing = false;
                    }
                    backoff = std::time::Duration::from_secs(1);
                    if sent > 0 {
                        continue;
                    }
                    // Idle: wake for new events, or to confirm what was sent.
                    let confirm = std::time::Duration::from_millis(500);
                    tokio::select! {
                        changed = changes.changed() => if changed.is_err() { return },
                        () = tokio::time::sleep(confirm), if forwarder.unconfirmed() => {}
                    }
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "SIEM forwarding interrupted; retrying");
                        failing = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
                }
            }
        }
    }))
}

/// Sends every new checkpoint to the witnesses; after a refusal or outage
/// it tries again every 15 s even without a new checkpoint.
fn spawn_witnessing(app: App) -> Option<tokio::task::JoinHandle<()>> {
    let log = app.audit_sink.log().cloned().filter(|l| !l.witnesses.is_empty())?;
    Some(tokio::spawn(async move {
        let http = leitstand_app::audit::witnessing::witness_client();
        let mut changes = log.ledger.watch();
        let retry = std::time::Duration::from_secs(15);
        loop {
            let complete = match app.witness_round(&http).await {
                Ok(round) => round.refused.is_empty(),
                Err(e) => {
                    tracing::error!(error = %e, "witnessing failed");
                    false
                }
            };
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(retry), if !complete => {}
            }
        }
    }))
}

/// How often, at most, the audit query index takes what the log acknowledged.
const INDEX_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The audit log's background work: index, outbox, retention, self-check.
fn spawn_audit_tasks(app: App, audit: &crate::config::AuditConfig) -> tokio::task::JoinHandle<()> {
    let verify_every = audit.verify_interval.std();
    let retention_every = audit.retention_interval.std();
    tokio::spawn(async move {
        let Some(log) = app.audit_sink.log().cloned() else { return };
        let mut changes = log.ledger.watch();
        let mut outbox = tokio::time::interval(std::time::Duration::from_secs(2));
        let mut verify = tokio::time::interval(verify_every);
        let mut retention = tokio::time::interval(retention_every);
        // The index follows at most every INDEX_EVERY with what came
        // meanwhile: a step per ledger change took SQLite's one writer dozens
        // of times a second from the alert engine and the dispatcher. Searches
        // catch the index up themselves, so none misses an event.
        let mut index = tokio::time::interval(INDEX_EVERY);
        index.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut index_due = false;
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return; // the log has shut down
                    }
                    index_due = true;
                }
                _ = index.tick(), if index_due => {
                    index_due = false;
                    if let Err(e) = app.index_audit_step().await {
                        tracing::error!(error = %e, "audit index update failed");
                    }
                }
                _ = outbox.tick() => {
                    if let Err(e) = app.relay_audit_outbox().await {
                        tracing::error!(error = %e, "audit outbox relay failed");
                    }
                    // Also catches up the index after a restart.
                    let _ = app.index_audit_step().await;
                }
                _ = retention.tick() => {
                    if let Err(e) = app.apply_audit_retention().await {
                        tracing::error!(error = %e, "audit retention failed");
                    }
                }
                _ = verify.tick() => {
                    match app.verify_audit_log().await {
                        Ok(r) if r.findings.is_empty() => tracing::info!(entries = r.entries, events = r.events, pruned = r.pruned, "audit log verified"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "audit log verification could not run"),
                    }
                }
            }
        }
    })
}

/// The service's OIDC settings from the (validated) config.
fn oidc_settings(c: &OidcConfig) -> OidcSettings {
    OidcSettings {
        issuer_url: c.issuer_url.clone(),
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.as_ref().map(|s| s.expose().to_string()),
        redirect_url: c.redirect_url.clone(),
        scopes: c.scopes.clone(),
        username_claim: c.username_claim.clone(),
        role_claim: c.role_claim.clone(),
        roles: c.roles.iter().filter_map(|(k, v)| Some((k.clone(), v.parse().ok()?))).collect(),
        tenant_claim: c.tenant_claim.clone(),
    }
}

/// Checks the data directory (creating it) and opens and migrates the
/// database (creating a SQLite file): the server's start.
pub async fn open(server: &ServerConfig) -> Result<Store, StartupError> {
    check_data_dir(&server.data_dir)?;
    open_store(&server.database_url(), server.max_db_connections, server.db_connect_timeout.std(), true).await
}

/// Fails unless the data directory exists.
pub fn require_data_dir(server: &ServerConfig) -> Result<(), StartupError> {
    if server.data_dir.is_dir() {
        Ok(())
    } else {
        Err(StartupError::NoInstallation { what: "no data directory at", path: server.data_dir.display().to_string() })
    }
}

/// Opens the database of an existing installation for a management
/// command: nothing is created — no data directory, no SQLite file, no
/// schema in an empty database.
pub async fn open_existing(server: &ServerConfig) -> Result<Store, StartupError> {
    require_data_dir(server)?;
    let url = server.database_url();
    let store = open_store(&url, server.max_db_connections, server.db_connect_timeout.std(), false).await;
    let store = store.map_err(|e| match e {
        StartupError::Database { source: StoreError::Unreachable { .. }, .. }
            if url.expose().starts_with("sqlite:") =>
        {
            StartupError::NoInstallation { what: "no database at", path: url.redacted() }
        }
        other => other,
    })?;
    Ok(store)
}

fn check_data_dir(dir: &Path) -> Result<(), StartupError> {
    use std::os::unix::fs::DirBuilderExt;
    let fail = |source| StartupError::DataDir { path: dir.to_path_buf(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(fail)?;
    let probe = dir.join(".leitstand-write-test");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

/// Logs a warning for each probe or scrape target whose tenant does not
/// exist: their alerts are refused until the tenant is created.
async fn warn_about_unknown_tenants(
    store: &Store,
    monitoring: &leitstand_app::monitoring::MonitoringSettings,
) -> Result<(), StoreError> {
    use leitstand_store::TenantRepository;
    let known: std::collections::HashSet<String> =
        store.tenants(None).await?.into_iter().map(|t| t.slug.as_str().to_string()).collect();
    let probes = monitoring.probes.iter().map(|p| ("probe", &p.id, &p.tenant));
    let targets = monitoring.targets.iter().map(|t| ("target", &t.id, &t.tenant));
    for (kind, id, tenant) in probes.chain(targets) {
        if let Some(tenant) = tenant.as_ref().filter(|t| !known.contains(t.as_str())) {
            tracing::warn!(
                kind,
                id = %id,
                tenant = %tenant,
                "names a tenant that does not exist; its alerts are refused until the tenant is created"
            );
        }
    }
    Ok(())
}

/// Logs a warning for the data directory and each entry in it that other
/// local users may read or write: they hold the database (with password
/// hashes and sealed second factors), the intake log, the audit journal and
/// the keys. Leitstand creates them private; older installations, a copy
/// or a restore may not have.
fn warn_about_loose_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path());
    for path in std::iter::once(dir.to_path_buf()).chain(entries) {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if !meta.file_type().is_symlink() && mode & 0o077 != 0 {
            let fix = if meta.is_dir() { "chmod 700" } else { "chmod 600" };
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "other local users may read this; run `{fix}` on it (Leitstand creates its files for its owner only)"
            );
        }
    }
}

async fn open_store(
    url: &DatabaseUrl,
    max_connections: u32,
    timeout: std::time::Duration,
    create: bool,
) -> Result<Store, StartupError> {
    let fail = |source| StartupError::Database { url: url.redacted(), source };
    let options = StoreOptions { max_connections, connect_timeout: timeout, create_if_missing: create };
    let store = Store::connect(url.expose(), &options).await.map_err(fail)?;
    if !create && store.schema_status().await.map_err(fail)?.applied == 0 {
        return Err(StartupError::NoInstallation { what: "no Leitstand schema in the database", path: url.redacted() });
    }
    let schema = store.migrate().await.map_err(fail)?;
    tracing::info!(schema = schema.applied, backend = store.backend().as_str(), "database ready");
    Ok(store)
}

pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartupError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| StartupError::Listen {
        addr,
        reason: match e.kind() {
            ErrorKind::AddrInUse => "the address is already in use by another process; stop that process \
                 or choose another address with --listen or LEITSTAND_LISTEN"
                .into(),
            ErrorKind::PermissionDenied => "permission denied (ports below 1024 need privileges); \
                 choose another port with --listen or LEITSTAND_LISTEN"
                .into(),
            ErrorKind::AddrNotAvailable => "no network interface has this address; \
                 use 127.0.0.1 or 0.0.0.0 with --listen or LEITSTAND_LISTEN"
                .into(),
            _ => e.to_string(),
        },
    })
}

/// SIGTERM and SIGINT, registered up front.
pub(crate) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for one; returns its name.
    pub(crate) async fn wait(mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
