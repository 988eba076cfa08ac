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
mod layers;
pub mod monitoring;
pub mod reference;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use leitstand_core::policy::{Policy, PolicySet, TENANT_OVERRIDABLE};
use leitstand_core::tenant::TenantSlug;
use leitstand_core::time_limit::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use layers::Layers;

/// How the server process runs (not policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    #[schemars(with = "String")]
    pub listen: SocketAddr,
    /// Directory for the embedded database and Leitstand's own files.
    pub data_dir: PathBuf,
    /// Database URL. Unset: the SQLite file `leitstand.db` in `data_dir`.
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` runs on PostgreSQL, which
    /// several replicas can share. The password is never printed or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    /// Maximum pooled database connections.
    pub max_db_connections: u32,
    /// How long to wait for the database at start-up.
    pub db_connect_timeout: Duration,
    /// Requests that take longer are answered with 408.
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// After SIGTERM, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// A browser session unused this long ends.
    pub session_idle_timeout: Duration,
    /// A browser session ends this long after sign-in, used or not.
    pub session_absolute_timeout: Duration,
    /// A one-time password — printed at the first start, given to a new
    /// user or set by a reset — stops working this long after it was set.
    pub one_time_password_validity: Duration,
    /// Reverse proxies in front of Leitstand, as addresses or CIDR ranges
    /// (`["10.0.0.0/8", "127.0.0.1"]`). Only from these are `Forwarded` /
    /// `X-Forwarded-For` (the client address that sign-in throttling counts)
    /// and `X-Forwarded-Proto` (TLS: `Secure` cookies, HSTS) believed. Empty:
    /// the TCP peer is the client and those headers are ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Contact address for accessibility feedback, shown in every page's
    /// footer and in the accessibility statement (BITV 2.0 § 7).
    pub accessibility_contact: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./leitstand-data"),
            database_url: None,
            max_db_connections: 8,
            db_connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            session_idle_timeout: Duration::from_mins(30),
            session_absolute_timeout: Duration::from_hours(12),
            one_time_password_validity: Duration::from_hours(72),
            trusted_proxies: Vec::new(),
            accessibility_contact: "barrierefreiheit@example.invalid".into(),
        }
    }
}

impl ServerConfig {
    /// The database URL in effect.
    pub fn database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl(format!("sqlite://{}", self.data_dir.join("leitstand.db").display())))
    }
}

/// The tamper-evident audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The log's origin: its name in checkpoints and the name of its key,
    /// unique among all logs (`portal.example.org/leitstand-audit`). Fixed
    /// at first start; a log keeps its origin for life.
    pub origin: String,
    /// Directory of the log: public tiles and checkpoints, the event
    /// journal. Unset: `audit` in `server.data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Directory of the log's signing key and the pseudonym key, created on
    /// first start with mode 0600. Keep it out of database backups. Unset:
    /// `keys` in `server.data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_dir: Option<PathBuf>,
    /// Shortest time between two published checkpoints (a new checkpoint
    /// follows every append within this time plus integration).
    pub checkpoint_interval: Duration,
    /// How often the server verifies its own log completely.
    pub verify_interval: Duration,
    /// How often expired events are deleted per retention class.
    pub retention_interval: Duration,
    /// Keys in an event's `details` whose values are personal and replaced
    /// by pseudonyms (case-insensitive, at any depth). `actor`, `source_ip`
    /// and `user:` objects are always pseudonymised.
    pub personal_fields: Vec<String>,
    /// Serve the public log (checkpoint and tiles, no personal data) at
    /// `/audit/log/` without sign-in, for third-party verification.
    pub public: bool,
    /// C2SP tlog-witness endpoints that cosign every new checkpoint
    /// (`[[audit.witnesses]]` with `url` and `key`). Their cosignatures are
    /// served with the checkpoint; a refusal raises an alarm.
    #[serde(default)]
    pub witnesses: Vec<WitnessEndpointConfig>,
    /// Forwarding to a SIEM (`[audit.siem]`); unset: no forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siem: Option<SiemConfig>,
}

/// Syslog payload format for the SIEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SiemFormat {
    /// The stored event as JSON.
    Json,
    /// ArcSight Common Event Format.
    Cef,
}

/// SIEM forwarding: RFC 5424 syslog over TCP with TLS (RFC 5425), at least
/// once, resuming from a persisted cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiemConfig {
    /// The receiver, `host:port` (6514 is the syslog-over-TLS port).
    pub address: String,
    /// Use TLS. Plain TCP is for test set-ups only: events would cross the
    /// network readable.
    #[serde(default = "yes")]
    pub tls: bool,
    /// PEM file with the CA certificate(s) of the receiver. Unset: the
    /// system's trusted roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Name the receiver's certificate must carry. Unset: the host of
    /// `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// PEM client certificate chain for mutual TLS (with `client_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// Payload of each message: `json` or `cef`.
    #[serde(default = "json_format")]
    pub format: SiemFormat,
    /// Syslog facility (0–23); 13 is "log audit".
    #[serde(default = "audit_facility")]
    pub facility: u8,
    /// HOSTNAME in each message. Unset: this machine's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// SD-ID of the structured data (`name@<IANA private enterprise
    /// number>`); the default uses the documentation number 32473.
    #[serde(default = "default_sd_id")]
    pub sd_id: String,
}

fn yes() -> bool {
    true
}
fn json_format() -> SiemFormat {
    SiemFormat::Json
}
fn audit_facility() -> u8 {
    13
}
fn default_sd_id() -> String {
    "leitstand@32473".into()
}

/// A witness the log sends its checkpoints to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessEndpointConfig {
    /// The witness's submission prefix, e.g. `https://witness.example/`
    /// (`add-checkpoint` is appended).
    pub url: String,
    /// The witness's cosigner key, `name+hash+base64` (algorithm 0x04), as
    /// `leitstand witness key` prints it.
    pub key: String,
}

/// `leitstand witness serve`: Leitstand as a C2SP tlog-witness for other
/// logs (an authority can run one for a portal's audit log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's name, a schema-less URL (`witness.behoerde.example/w1`);
    /// the name of its cosigning key, fixed at first start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address and port the witness listens on.
    pub listen: SocketAddr,
    /// Directory of the witness's state (latest cosigned checkpoint per log,
    /// evidence of refused requests). Unset: `witness` in `server.data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Directory of the cosigning key (mode 0600). Unset: `keys` in
    /// `server.data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_dir: Option<PathBuf>,
    /// The logs this witness cosigns (`[[witness.logs]]` with `origin` and
    /// `keys`); requests for other origins get 404.
    #[serde(default)]
    pub logs: Vec<WitnessedLogConfig>,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        Self {
            name: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            dir: None,
            key_dir: None,
            logs: Vec::new(),
        }
    }
}

/// A log a witness serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLogConfig {
    /// The log's checkpoint origin.
    pub origin: String,
    /// The log's verifier keys (`name+hash+base64`), as `leitstand audit key`
    /// prints them; a checkpoint signed by any of them is accepted.
    pub keys: Vec<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            origin: "localhost/leitstand-audit".into(),
            dir: None,
            key_dir: None,
            checkpoint_interval: Duration::from_millis(200),
            verify_interval: Duration::from_hours(1),
            retention_interval: Duration::from_hours(6),
            personal_fields: leitstand_ledger::event::EventRules::default()
                .personal_detail_keys
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
            public: true,
            witnesses: Vec::new(),
            siem: None,
        }
    }
}

impl AuditConfig {
    /// The log directory in effect.
    pub fn dir(&self, server: &ServerConfig) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| server.data_dir.join("audit"))
    }

    /// The key directory in effect.
    pub fn key_dir(&self, server: &ServerConfig) -> PathBuf {
        self.key_dir.clone().unwrap_or_else(|| server.data_dir.join("keys"))
    }
}

impl WitnessConfig {
    /// The state directory in effect.
    pub fn dir(&self, server: &ServerConfig) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| server.data_dir.join("witness"))
    }

    /// The key directory in effect.
    pub fn key_dir(&self, server: &ServerConfig) -> PathBuf {
        self.key_dir.clone().unwrap_or_else(|| server.data_dir.join("keys"))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `tracing` syntax, e.g. `info` or `info,leitstand::access=warn`.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Json }
    }
}

/// Sign-in through an OpenID Connect identity provider (Keycloak et al.).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Issuer URL, e.g. `https://sso.example.de/realms/behoerde`.
    pub issuer_url: String,
    /// Client id registered at the provider.
    pub client_id: String,
    /// Client secret of a confidential client. Never printed or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretString>,
    /// Leitstand's callback as registered: `https://HOST/login/oidc/callback`.
    pub redirect_url: String,
    /// Scopes besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Claim with the login name.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Claim with the provider's role names, as a dotted path.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Provider role name → Leitstand role (admin, devops, compliance,
    /// security, auditor, tenant_viewer). The most privileged match wins;
    /// accounts without a match are refused.
    pub roles: std::collections::BTreeMap<String, String>,
    /// Claim with tenant slugs, for tenant viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_claim: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_role_claim() -> String {
    "realm_access.roles".into()
}

/// A secret that never appears in output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// The secret itself — for the protocol only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl JsonSchema for SecretString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretString".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "description": "A secret; shown as *** everywhere." })
    }
}

/// A database URL whose password never appears in output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL including any password — for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with the password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://") else {
            return url.clone();
        };
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!("{}://{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
                None => url.clone(),
            },
            None => url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl JsonSchema for DatabaseUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DatabaseUrl".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "description": "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB" })
    }
}

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
    pub first_admin_password: Option<SecretString>,
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
    let first_admin_password = env.iter().find(|(k, _)| k == ADMIN_PASSWORD_VAR).map(|(_, v)| SecretString(v.clone()));
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
