//! One configured check of any kind, run through one entry point: the
//! scheduler needs no knowledge of HTTP, DNS or TLS, and every kind reports
//! the same [`Outcome`] and the same blackbox-exporter-style series
//! (`probe_success`, `probe_duration_seconds`, `probe_http_status_code`,
//! `probe_ssl_earliest_cert_expiry`), so rules written for Prometheus's
//! blackbox exporter read Leitstand's probes unchanged.
//!
//! The list of kinds is the `probe_kinds!` invocation below — the one
//! place that names them all. Everything that must cover every kind (the
//! `Kind` and `Check` enums, the dispatch of runs, which keys of an entry
//! belong to which kind) is generated from it, so a new kind cannot be
//! half wired.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use rustls::RootCertStore;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ProbeResult;
use crate::client::Clients;
use crate::config::{Defaults, FieldError};

/// What every probe kind provides (its folder's `mod.rs` implements it).
pub trait Probe: Sized {
    /// The keys only this kind has in a `[[monitoring.probes]]` table. Every
    /// field is optional and skipped when serialising an unset value: an
    /// entry of another kind that sets one is refused by that key's name.
    type Config: Clone + Default + fmt::Debug + PartialEq + Serialize + DeserializeOwned + JsonSchema;

    /// Failed runs in a row tolerated before the target counts as down,
    /// when the entry sets no `retries`.
    const RETRIES: u32 = 1;

    /// How often it runs when the entry sets no `interval`.
    fn default_interval(defaults: &Defaults) -> leitstand_core::time_limit::Duration {
        defaults.interval
    }

    /// The probe of `target` as `config` says, or every problem, each
    /// naming its key (`target` first).
    fn from_config(target: &str, config: &Self::Config) -> Result<Self, Vec<FieldError>>;

    /// What is checked, as the `instance` label says it.
    fn target(&self) -> &str;

    /// One run.
    fn run(&self, run: &Run<'_>) -> impl Future<Output = Outcome> + Send;
}

/// What one run of any probe is given.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    /// The shared HTTP clients.
    pub clients: &'a Clients,
    /// The roots TLS probes trust.
    pub roots: &'a Arc<RootCertStore>,
    /// The time limit of the whole run.
    pub timeout: Duration,
    /// This run's id (the cXML request's payload id is made from it).
    pub id: &'a str,
    /// The run's start, RFC 3339 (time is passed in).
    pub now_rfc3339: &'a str,
}

macro_rules! probe_kinds {
    ($( $(#[$doc:meta])* $name:literal => $Variant:ident($module:ident::$Probe:ident), )*) => {
        /// The kind of a probe: `kind = "…"` in its table, the `probe` label.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum Kind {
            $( $(#[$doc])* #[serde(rename = $name)] $Variant, )*
        }

        impl Kind {
            /// Every kind, in the order of the list.
            pub const ALL: &[Kind] = &[$(Kind::$Variant),*];

            /// The kind as written (`http`).
            pub fn name(self) -> &'static str {
                match self { $(Kind::$Variant => $name,)* }
            }

            /// How often a probe of this kind runs when its entry sets no `interval`.
            pub fn default_interval(self, defaults: &Defaults) -> leitstand_core::time_limit::Duration {
                match self { $(Kind::$Variant => $module::$Probe::default_interval(defaults),)* }
            }

            /// Retries of a probe of this kind when its entry sets none.
            pub fn default_retries(self) -> u32 {
                match self { $(Kind::$Variant => $module::$Probe::RETRIES,)* }
            }
        }

        /// What a probe checks.
        #[derive(Debug, Clone)]
        pub enum Check {
            $( $(#[$doc])* $Variant($module::$Probe), )*
        }

        impl Check {
            /// The kind (its name is the `probe` label).
            pub fn kind(&self) -> Kind {
                match self { $(Check::$Variant(_) => Kind::$Variant,)* }
            }

            /// What is checked, as the `instance` label says it.
            pub fn target(&self) -> &str {
                match self { $(Check::$Variant(p) => p.target(),)* }
            }

            async fn run(&self, run: &Run<'_>) -> Outcome {
                match self { $(Check::$Variant(p) => p.run(run).await,)* }
            }
        }

        /// Every kind's own keys of a probe entry, side by side as they are
        /// written in one flat table.
        #[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
        pub struct KindConfigs {
            $(
                #[doc = concat!("The keys of `", $name, "` probes.")]
                #[serde(flatten)]
                pub $module: <$module::$Probe as Probe>::Config,
            )*
        }

        impl KindConfigs {
            /// The keys of each kind, in the order of [`Kind::ALL`].
            fn keys() -> Vec<Vec<String>> {
                vec![$(keys_of::<<$module::$Probe as Probe>::Config>(),)*]
            }

            /// Whether `value` is right for `kind`'s key `key`.
            pub(crate) fn check_key(kind: Kind, key: &str, value: &serde_json::Value) -> Result<(), String> {
                match kind { $(Kind::$Variant => check_key::<<$module::$Probe as Probe>::Config>(key, value),)* }
            }

            /// The configurations from each kind's keys (checked one by one
            /// before).
            pub(crate) fn from_keys(mut keys: Vec<serde_json::Map<String, serde_json::Value>>) -> Result<Self, serde_json::Error> {
                keys.resize_with(Kind::ALL.len(), Default::default);
                let mut keys = keys.into_iter();
                Ok(Self { $($module: serde_json::from_value(serde_json::Value::Object(keys.next().unwrap_or_default()))?,)* })
            }

            /// The keys of `kind` this entry sets.
            pub(crate) fn set_keys(&self, kind: Kind) -> Vec<String> {
                match kind { $(Kind::$Variant => set_keys(&self.$module),)* }
            }

            /// The check of `kind` for `target`.
            pub(crate) fn check(&self, kind: Kind, target: &str) -> Result<Check, Vec<FieldError>> {
                match kind {
                    $(Kind::$Variant => $module::$Probe::from_config(target, &self.$module).map(Check::$Variant),)*
                }
            }
        }
    };
}

probe_kinds! {
    /// An HTTP(S) request: status, latency, body keyword, JSON value.
    "http" => Http(http::HttpProbe),
    /// A TCP connect.
    "tcp" => Tcp(tcp::TcpProbe),
    /// DNS resolution (A/AAAA through the system's resolver).
    "dns" => Dns(dns::DnsProbe),
    /// A TLS endpoint's certificate: days to expiry, chain validity.
    "tls" => Tls(tls::TlsProbe),
    /// The cXML interface: a `ProfileRequest` answered by a `ProfileResponse` with status 200.
    "cxml" => Cxml(cxml::CxmlProbe),
}

use crate::{cxml, dns, http, tcp, tls};

impl Kind {
    /// The kind that has the key `key`, and the key as a static string.
    pub(crate) fn owning(key: &str) -> Option<(Kind, &'static str)> {
        Kind::ALL
            .iter()
            .zip(KEYS.iter())
            .find_map(|(kind, keys)| keys.iter().find(|k| k.as_str() == key).map(|k| (*kind, k.as_str())))
    }

    /// Every kind's keys, for "expected one of …".
    pub(crate) fn all_keys() -> impl Iterator<Item = &'static str> {
        KEYS.iter().flatten().map(String::as_str)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

static KEYS: LazyLock<Vec<Vec<String>>> = LazyLock::new(KindConfigs::keys);

/// The keys of a kind's configuration, as its schema documents them.
fn keys_of<C: JsonSchema>() -> Vec<String> {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<C>();
    schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Whether `value` is right for key `key` of `C`: `C` is read from a table
/// with only that key.
fn check_key<C: DeserializeOwned>(key: &str, value: &serde_json::Value) -> Result<(), String> {
    let mut table = serde_json::Map::new();
    table.insert(key.to_string(), value.clone());
    serde_json::from_value::<C>(serde_json::Value::Object(table)).map(|_| ()).map_err(|e| e.to_string())
}

/// The keys a configuration sets (unset ones are skipped when serialised).
fn set_keys<C: Serialize>(config: &C) -> Vec<String> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// What one run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Duration, status, and why it failed.
    pub result: ProbeResult,
    /// For TLS probes: the leaf certificate's `notAfter` (seconds since the epoch).
    pub cert_not_after: Option<i64>,
    /// For TLS probes: the leaf certificate's subject.
    pub cert_subject: Option<String>,
}

impl From<ProbeResult> for Outcome {
    fn from(result: ProbeResult) -> Self {
        Self { result, cert_not_after: None, cert_subject: None }
    }
}

/// What every run shares: HTTP clients (connection reuse) and trusted roots.
#[derive(Clone)]
pub struct Checker {
    clients: Clients,
    roots: Arc<RootCertStore>,
}

impl Checker {
    /// A checker trusting `roots`. The TLS crypto provider must be installed.
    pub fn new(roots: RootCertStore) -> Result<Self, reqwest::Error> {
        Ok(Self { clients: Clients::new()?, roots: Arc::new(roots) })
    }

    /// The HTTP clients (scraping uses them too).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Runs `check` within `timeout`. `run_id` and `now_rfc3339` stamp
    /// the cXML request (payload id and timestamp; time is passed in).
    pub async fn run(&self, check: &Check, timeout: Duration, run_id: &str, now_rfc3339: &str) -> Outcome {
        let run = Run { clients: &self.clients, roots: &self.roots, timeout, id: run_id, now_rfc3339 };
        check.run(&run).await
    }
}

impl Outcome {
    /// The series values of this run, by metric name (blackbox exporter's
    /// names and units).
    pub fn samples(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![
            ("probe_success", if self.result.success() { 1.0 } else { 0.0 }),
            ("probe_duration_seconds", self.result.duration.as_secs_f64()),
        ];
        if let Some(status) = self.result.status {
            out.push(("probe_http_status_code", f64::from(status)));
        }
        if let Some(not_after) = self.cert_not_after {
            out.push(("probe_ssl_earliest_cert_expiry", not_after as f64));
        }
        out
    }
}
