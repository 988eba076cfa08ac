//! `[audit]` (the tamper-evident log: checkpoints, verification, SIEM
//! forwarding, the witnesses it asks to cosign) and `[witness]`
//! (Leitstand as a witness for other logs).

use std::net::SocketAddr;
use std::path::PathBuf;

use leitstand_core::time_limit::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ServerConfig;

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
