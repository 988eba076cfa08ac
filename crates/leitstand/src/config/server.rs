//! `[server]`, `[log]` and the database URL: how the process runs and
//! where it keeps its data (not policy).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use leitstand_core::time_limit::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
