//! Configuration: built-in defaults (the seeds' values), then `leitstand.toml`,
//! then `LEITSTAND__SECTION__KEY` environment variables, then command-line
//! flags — each layer overriding the one before.
//!
//! Loading happens in two phases, as in ripgrep's low/high args: the layers
//! are merged as plain TOML tables, and only the merged result is
//! deserialised into typed structs and validated as a whole. That way a file
//! may override a single number and keep every other seed value, and every
//! error — unknown key, wrong type, impossible value — is traced back to the
//! layer that wrote it: file, line and column, or the environment variable.

pub mod alerting;
mod audit;
mod identity;
mod layers;
pub mod monitoring;
pub mod reference;
mod server;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use leitstand_core::policy::{Policy, PolicySet, TENANT_OVERRIDABLE};
use leitstand_core::tenant::TenantSlug;
use leitstand_core::time_limit::Duration;

pub use audit::*;
pub use identity::*;
use layers::Layers;
pub use server::*;

pub use leitstand_core::input::Secret;

/// The fully loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server settings.
    pub server: ServerConfig,
    /// Logging.
    pub log: LogConfig,
    /// Policies: platform and per tenant.
    pub policy: PolicySet,
    /// Identity-provider sign-in, if configured.
    pub oidc: Option<OidcConfig>,
    /// The audit log.
    pub audit: AuditConfig,
    /// Leitstand as a witness for other logs.
    pub witness: WitnessConfig,
    /// Probes, scrape targets and rule files.
    pub monitoring: monitoring::MonitoringConfig,
    /// The same, checked and resolved for the runtime (rule files read,
    /// trusted roots loaded) — once, while loading.
    pub monitoring_settings: leitstand_app::monitoring::MonitoringSettings,
    /// Channels, audiences, people, schedules, inhibition.
    pub alerting: alerting::AlertingConfig,
    /// The same, checked and resolved (channels built, schedules validated).
    pub alerting_settings: std::sync::Arc<leitstand_app::alerting::AlertingSettings>,
    /// The first administrator's password (`LEITSTAND_ADMIN_PASSWORD`), for
    /// a first start that should not generate one; checked against the
    /// password rules while loading, so a weak one stops the start before
    /// anything is created.
    pub first_admin_password: Option<Secret>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// The environment variable with the first administrator's password.
pub const ADMIN_PASSWORD_VAR: &str = "LEITSTAND_ADMIN_PASSWORD";

/// Where a configuration problem comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A position in the config file (1-based).
    File {
        /// The file.
        path: PathBuf,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// An environment variable.
    Env(String),
    /// No layer set it: a built-in default (or a missing key).
    Default,
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it was written.
    pub origin: Origin,
    /// Dotted key path (empty for syntax errors).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { path, line, column } => write!(f, "{}:{line}:{column}: ", path.display())?,
            Origin::Env(var) => write!(f, "environment variable {var}: ")?,
            Origin::Default => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// The configuration cannot be used; nothing was started.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// One or more keys are wrong.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// Config file used when none is named and it exists.
pub const DEFAULT_FILE: &str = "leitstand.toml";

/// Loads the configuration from `file` (or `./leitstand.toml` if present)
/// and the `LEITSTAND__…` variables in `env`.
pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
    let file = match file {
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.exists()),
    };
    let text = match &file {
        Some(path) => {
            Some(std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?)
        }
        None => None,
    };
    load_str(file.as_deref(), text.as_deref(), env)
}

/// Loads from config text (as if read from `file`) and environment pairs.
pub fn load_str(
    file: Option<&Path>,
    text: Option<&str>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let layers = Layers::new(defaults_table(), file, text, env.iter().cloned()).map_err(ConfigError::Invalid)?;
    let mut merged = layers.merged();
    let mut problems = Vec::new();
    let first_admin_password = env.iter().find(|(k, _)| k == ADMIN_PASSWORD_VAR).map(|(_, v)| Secret::new(v.clone()));
    if let Some(Err(e)) =
        first_admin_password.as_ref().map(|p| leitstand_core::access::check_password("admin", p.expose()))
    {
        problems.push(Problem {
            origin: Origin::Env(ADMIN_PASSWORD_VAR.into()),
            key: String::new(),
            message: e.to_string(),
        });
    }

    let mut not_in_force = Vec::new();
    for key in layers.user_keys() {
        if let Some(what) = leitstand_core::policy::not_yet_in_force(&key) {
            not_in_force.push(layers.locate(
                &key,
                format!(
                    "not in force yet: this build has no {what}, so the value would change nothing; remove it \
                     (`leitstand policy show` lists the seed value)"
                ),
            ));
        }
    }
    // In the order written, not in the order of the keys' names.
    not_in_force.sort_by_key(|p| match &p.origin {
        Origin::File { line, column, .. } => (0, *line, *column),
        _ => (1, 0, 0),
    });
    problems.extend(not_in_force);
    let tenants = merged.remove("tenants");
    let oidc = merged.remove("oidc").and_then(|v| layers.deserialize::<OidcConfig>(v, "oidc", &mut problems));
    if let Some(oidc) = &oidc {
        for (claim_value, role) in &oidc.roles {
            if let Err(e) = role.parse::<leitstand_core::access::Role>() {
                problems.push(layers.locate(&format!("oidc.roles.{claim_value}"), e.to_string()));
            }
        }
        if oidc.roles.is_empty() {
            problems.push(layers.locate("oidc.roles", "map at least one provider role to a Leitstand role".into()));
        }
    }
    let server = take_section::<ServerConfig>(&mut merged, "server", &layers, &mut problems);
    if let Some(s) = &server
        && (s.session_idle_timeout.is_zero() || s.session_idle_timeout > s.session_absolute_timeout)
    {
        problems.push(layers.locate(
            "server.session_idle_timeout",
            format!("must be longer than 0s and at most session_absolute_timeout ({})", s.session_absolute_timeout),
        ));
    }
    if let Some(s) = &server {
        if s.one_time_password_validity.is_zero() {
            problems.push(layers.locate("server.one_time_password_validity", "must be longer than 0s".into()));
        }
        if let Err(e) = leitstand_web::TrustedProxies::parse(&s.trusted_proxies) {
            problems.push(layers.locate("server.trusted_proxies", e.to_string()));
        }
    }
    let log = take_section::<LogConfig>(&mut merged, "log", &layers, &mut problems);
    let audit = take_section::<AuditConfig>(&mut merged, "audit", &layers, &mut problems);
    if let Some(a) = &audit {
        if let Err(e) = leitstand_ledger::note::Signer::from_seed(&a.origin, [0; 32]) {
            problems.push(layers.locate("audit.origin", format!("not usable as a key name: {e}")));
        }
        for (key, interval) in [("verify_interval", a.verify_interval), ("retention_interval", a.retention_interval)] {
            if interval.is_zero() {
                problems.push(layers.locate(&format!("audit.{key}"), "must be longer than 0s".into()));
            }
        }
        if a.checkpoint_interval.is_zero() || a.checkpoint_interval > Duration::from_secs(1) {
            problems.push(layers.locate(
                "audit.checkpoint_interval",
                "must be between 1ms and 1s (a checkpoint is due within 1 s of an append)".into(),
            ));
        }
    }
    if let Some(a) = &audit {
        for (i, w) in a.witnesses.iter().enumerate() {
            match leitstand_ledger::note::Verifier::parse(&w.key) {
                Ok(v) if v.is_cosigner() => {}
                Ok(_) => problems.push(layers.locate(
                    "audit.witnesses",
                    format!("witness {}: key is a log key (algorithm 0x01), a witness cosigns with 0x04", i + 1),
                )),
                Err(e) => problems.push(layers.locate("audit.witnesses", format!("witness {}: key: {e}", i + 1))),
            }
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                problems.push(layers.locate("audit.witnesses", format!("witness {}: url must be http(s)://…", i + 1)));
            }
        }
    }
    if let Some(siem) = audit.as_ref().and_then(|a| a.siem.as_ref()) {
        if !siem.address.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
            problems.push(layers.locate("audit.siem.address", "must be host:port, e.g. siem.example:6514".into()));
        }
        if siem.facility > 23 {
            problems.push(layers.locate("audit.siem.facility", "must be 0–23 (13 is log audit)".into()));
        }
        if siem.client_cert.is_some() != siem.client_key.is_some() {
            problems.push(layers.locate("audit.siem", "client_cert and client_key go together".into()));
        }
    }
    let witness = take_section::<WitnessConfig>(&mut merged, "witness", &layers, &mut problems);
    let monitoring = take_section::<monitoring::MonitoringConfig>(&mut merged, "monitoring", &layers, &mut problems);
    let alerting = take_section::<alerting::AlertingConfig>(&mut merged, "alerting", &layers, &mut problems);
    if let Some(w) = &witness {
        if let Some(Err(e)) = w.name.as_deref().map(|n| leitstand_ledger::note::Signer::from_seed(n, [0; 32])) {
            problems.push(layers.locate("witness.name", format!("not usable as a key name: {e}")));
        }
        for log in &w.logs {
            for key in &log.keys {
                match leitstand_ledger::note::Verifier::parse(key) {
                    Ok(v) if v.name() == log.origin => {}
                    Ok(v) => problems.push(layers.locate(
                        "witness.logs",
                        format!(
                            "log {:?}: key is named {:?}; a log's key is named after its origin",
                            log.origin,
                            v.name()
                        ),
                    )),
                    Err(e) => problems.push(layers.locate("witness.logs", format!("log {:?}: key: {e}", log.origin))),
                }
            }
        }
    }
    if let Some(Err(e)) = log.as_ref().map(|l| tracing_subscriber::EnvFilter::try_new(&l.level)) {
        problems.push(layers.locate("log.level", format!("invalid log filter: {e}")));
    }
    let base: Option<Policy> = layers.deserialize(toml::Value::Table(merged.clone()), "", &mut problems);
    if let Some(Err(violations)) = base.as_ref().map(Policy::validate) {
        for v in violations.0 {
            problems.push(layers.locate(&v.path, v.message));
        }
    }

    let mut tenant_policies = BTreeMap::new();
    if let Some(tenants) = tenants {
        match tenants {
            toml::Value::Table(tenants) => {
                for (slug, overrides) in tenants {
                    let prefix = format!("tenants.{slug}");
                    let slug = match TenantSlug::parse(slug.clone()) {
                        Ok(slug) => slug,
                        Err(e) => {
                            problems.push(layers.locate(&prefix, e.to_string()));
                            continue;
                        }
                    };
                    let toml::Value::Table(overrides) = overrides else {
                        problems.push(layers.locate(&prefix, "must be a table of policy sections".into()));
                        continue;
                    };
                    let mut ok = true;
                    for key in overrides.keys() {
                        if !TENANT_OVERRIDABLE.contains(&key.as_str()) {
                            ok = false;
                            problems.push(layers.locate(
                                &format!("{prefix}.{key}"),
                                format!(
                                    "a tenant cannot override `{key}`; tenant sections are: {}",
                                    TENANT_OVERRIDABLE.join(", ")
                                ),
                            ));
                        }
                    }
                    if !ok {
                        continue;
                    }
                    let mut effective = merged.clone();
                    layers::merge(&mut effective, overrides);
                    let policy: Option<Policy> =
                        layers.deserialize(toml::Value::Table(effective), &prefix, &mut problems);
                    if let Some(policy) = policy {
                        match policy.validate() {
                            Ok(()) => {
                                tenant_policies.insert(slug, policy);
                            }
                            Err(violations) => {
                                for v in violations.0 {
                                    problems.push(layers.locate(&format!("{prefix}.{}", v.path), v.message));
                                }
                            }
                        }
                    }
                }
            }
            _ => problems.push(layers.locate("tenants", "must be a table: [tenants.<slug>]".into())),
        }
    }

    let policy = base.map(|base| PolicySet { base, tenants: tenant_policies });
    let mut monitoring_settings = None;
    if let (Some(m), Some(p), Some(s)) = (&monitoring, &policy, &server)
        && problems.is_empty()
    {
        match m.settings(p, &s.data_dir) {
            Ok(settings) => monitoring_settings = Some(settings),
            Err(list) => problems.extend(list.into_iter().map(|(path, message)| layers.locate(&path, message))),
        }
    }
    let mut alerting_settings = None;
    if let (Some(a), Some(p)) = (&alerting, &policy)
        && problems.is_empty()
    {
        match a.settings(p) {
            Ok(settings) => alerting_settings = Some(std::sync::Arc::new(settings)),
            Err(list) => problems.extend(list.into_iter().map(|(path, message)| layers.locate(&path, message))),
        }
    }
    match (server, log, audit, witness, monitoring, policy, monitoring_settings, alerting, alerting_settings) {
        (
            Some(server),
            Some(log),
            Some(audit),
            Some(witness),
            Some(monitoring),
            Some(policy),
            Some(monitoring_settings),
            Some(alerting),
            Some(alerting_settings),
        ) if problems.is_empty() => Ok(Config {
            server,
            log,
            audit,
            witness,
            monitoring,
            monitoring_settings,
            alerting,
            alerting_settings,
            policy,
            oidc,
            first_admin_password,
            file: file.map(Path::to_path_buf),
        }),
        _ => Err(ConfigError::Invalid(problems)),
    }
}

fn take_section<T: serde::de::DeserializeOwned>(
    merged: &mut toml::Table,
    key: &str,
    layers: &Layers,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let value = merged.remove(key).unwrap_or(toml::Value::Table(toml::Table::new()));
    layers.deserialize(value, key, problems)
}

/// The built-in defaults as one TOML table: `[server]`, `[log]` and every
/// policy section.
pub fn defaults_table() -> toml::Table {
    let mut table = toml::Table::try_from(Policy::default()).unwrap_or_default();
    if let Ok(server) = toml::Table::try_from(ServerConfig::default()) {
        table.insert("server".into(), toml::Value::Table(server));
    }
    if let Ok(log) = toml::Table::try_from(LogConfig::default()) {
        table.insert("log".into(), toml::Value::Table(log));
    }
    if let Ok(audit) = toml::Table::try_from(AuditConfig::default()) {
        table.insert("audit".into(), toml::Value::Table(audit));
    }
    if let Ok(witness) = toml::Table::try_from(WitnessConfig::default()) {
        table.insert("witness".into(), toml::Value::Table(witness));
    }
    if let Ok(monitoring) = toml::Table::try_from(monitoring::MonitoringConfig::default()) {
        table.insert("monitoring".into(), toml::Value::Table(monitoring));
    }
    if let Ok(alerting) = toml::Table::try_from(alerting::AlertingConfig::default()) {
        table.insert("alerting".into(), toml::Value::Table(alerting));
    }
    table
}

#[cfg(test)]
mod tests;
