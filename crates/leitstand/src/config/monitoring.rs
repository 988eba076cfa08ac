//! `[monitoring]`: the probes, scrape targets and rule files of the
//! embedded mode, as typed and documented structs. A probe is one flat
//! table with a `kind`; fields that do not belong to that kind are refused
//! rather than silently ignored, and every problem names the probe by its
//! index and id.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use leitstand_app::monitoring::{MonitoringSettings, ProbeDef, TargetDef};
use leitstand_core::policy::PolicySet;
use leitstand_core::tenant::TenantSlug;
use leitstand_core::time_limit::Duration;
use leitstand_monitor::rules::Rule;
use leitstand_probes::check::Check;
use leitstand_probes::http::HttpProbe;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretString;

/// Monitoring in the embedded mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Collect this machine's CPU, memory, disk, disk I/O and network
    /// metrics (node_exporter's names).
    pub host: bool,
    /// How often the host metrics are collected.
    pub host_interval: Duration,
    /// How long samples stay in memory (at least the longest rule window,
    /// 1 h for the request-rate drop). Prometheus is the long-term store.
    pub retention: Duration,
    /// Most series kept in memory; new series beyond are refused and reported.
    pub max_series: usize,
    /// Most probes and scrapes running at the same moment.
    pub max_concurrent: usize,
    /// How long a probe must be down before `ProbeDown` fires.
    pub probe_down_for: Duration,
    /// How often `ProbeDown` is evaluated.
    pub probe_down_interval: Duration,
    /// Further PEM files of certificate authorities the probes trust (the
    /// system's roots are always trusted).
    pub ca_files: Vec<PathBuf>,
    /// Prometheus rule files evaluated beside the default pack.
    pub rule_files: Vec<PathBuf>,
    /// External availability checks (`[[monitoring.probes]]`).
    #[serde(default)]
    pub probes: Vec<ProbeConfig>,
    /// Prometheus / OpenMetrics endpoints to scrape (`[[monitoring.targets]]`).
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            host: true,
            host_interval: Duration::from_secs(15),
            retention: Duration::from_hours(2),
            max_series: 1_000_000,
            max_concurrent: 1024,
            probe_down_for: Duration::from_mins(1),
            probe_down_interval: Duration::from_secs(30),
            ca_files: Vec::new(),
            rule_files: Vec::new(),
            probes: Vec::new(),
            targets: Vec::new(),
        }
    }
}

/// The kind of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// An HTTP(S) request: status, latency, body keyword, JSON value.
    Http,
    /// A TCP connect.
    Tcp,
    /// DNS resolution (A/AAAA through the system's resolver).
    Dns,
    /// A TLS endpoint's certificate: days to expiry, chain validity.
    Tls,
    /// The cXML interface: a `ProfileRequest` answered by a `ProfileResponse` with status 200.
    Cxml,
}

/// cXML request header credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CxmlCredentials {
    /// From: credential domain (e.g. `NetworkID`).
    pub from_domain: String,
    /// From: identity.
    pub from_identity: String,
    /// To: credential domain.
    pub to_domain: String,
    /// To: identity.
    pub to_identity: String,
    /// Sender: credential domain.
    pub sender_domain: String,
    /// Sender: identity.
    pub sender_identity: String,
    /// Sender: shared secret (never printed or logged).
    pub shared_secret: SecretString,
}

/// One probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Stable id: lower-case letters, digits and `-` (URLs, history, `probe_id` label).
    pub id: String,
    /// Display name; unset: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `http`, `tcp`, `dns`, `tls` or `cxml`.
    pub kind: ProbeKind,
    /// What is checked: a URL (http, cxml), `host:port` (tcp, tls) or a name (dns).
    pub target: String,
    /// How often; unset: 30s, for tls the policy's certificate interval (24h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time limit of one check; unset: 10s.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Failed checks in a row tolerated before the target counts as down;
    /// unset: 1, for tls 0 (at a daily interval a retry would come a day late).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// The tenant the probe belongs to (tenant viewers of it see it); unset: the platform's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The service checked (`service` label; maintenance windows by service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Further labels on the probe's series and alerts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// http: request method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// http: request headers. The values are treated as secrets (an
    /// `Authorization` header is common): never printed or logged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretString>,
    /// http: request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// http: accepted status codes; unset: 200–399.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// http: text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// http: JSON pointer into the body (`/status`), checked against `json_value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    /// http: the value expected at `json_pointer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub json_value: Option<toml::Value>,
    /// http: follow redirects (up to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// dns: accepted addresses; unset: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_addresses: Vec<String>,
    /// tls: the name the certificate must be valid for; unset: the target's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// cxml: the request header's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cxml: Option<CxmlCredentials>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// One scrape target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Stable id, the `job` label.
    pub id: String,
    /// The metrics URL (`http://127.0.0.1:9100/metrics`); credentials go in
    /// `headers`, not into the URL.
    pub url: String,
    /// Request headers, e.g. `Authorization = "Bearer …"` for a protected
    /// endpoint. The values are treated as secrets: never printed or logged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretString>,
    /// How often; unset: 30s.
    #[serde(default = "default_scrape_interval")]
    pub interval: Duration,
    /// Time limit of one scrape; unset: 10s.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// The tenant the target belongs to; its samples get `tenant` (a
    /// sample's own `tenant` label is kept as `exported_tenant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The service (`service` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Further labels on every series of the target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn default_scrape_interval() -> Duration {
    Duration::from_secs(30)
}

/// A problem with a key under `[monitoring]`: its dotted path and what is wrong.
pub type MonitoringProblem = (String, String);

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const RESERVED_LABELS: &[&str] =
    &["job", "instance", "probe", "probe_id", "tenant", "service", "__name__", "alertname"];

fn host_port(target: &str) -> bool {
    target.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
}

fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl MonitoringConfig {
    /// Checks every probe, target and rule file; returns the settings for
    /// the runtime, or every problem found.
    pub fn settings(
        &self,
        policy: &PolicySet,
        data_dir: &std::path::Path,
    ) -> Result<MonitoringSettings, Vec<MonitoringProblem>> {
        let mut problems = Vec::new();
        let mut probes = Vec::new();
        for (i, p) in self.probes.iter().enumerate() {
            match self.probe(p, policy) {
                Ok(def) => probes.push(def),
                Err(list) => problems.extend(list.into_iter().map(|(field, msg)| {
                    let path = if field.is_empty() {
                        format!("monitoring.probes[{i}]")
                    } else {
                        format!("monitoring.probes[{i}].{field}")
                    };
                    (path, format!("probe {:?}: {msg}", p.id))
                })),
            }
        }
        for (i, a) in self.probes.iter().enumerate() {
            if self.probes[..i].iter().any(|b| b.id == a.id) {
                problems
                    .push((format!("monitoring.probes[{i}].id"), format!("probe {:?}: the id is used twice", a.id)));
            }
        }
        let mut targets = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let at = |field: &str| format!("monitoring.targets[{i}].{field}");
            let before = problems.len();
            if !valid_id(&t.id) {
                problems.push((at("id"), format!("target {:?}: use lower-case letters, digits and -", t.id)));
            }
            if self.targets[..i].iter().any(|o| o.id == t.id) {
                problems.push((at("id"), format!("target {:?}: the id is used twice", t.id)));
            }
            if ["probe", "leitstand-host"].contains(&t.id.as_str()) {
                problems.push((at("id"), format!("target {:?}: the job name is Leitstand's own", t.id)));
            }
            match reqwest::Url::parse(&t.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    if let Some(why) = credentials_in(&u) {
                        problems.push((at("url"), format!("target {:?}: {why}", t.id)));
                    }
                }
                _ => problems.push((at("url"), format!("target {:?}: must be an http(s):// URL", t.id))),
            }
            for (name, value) in &t.headers {
                if let Some(why) = bad_header(name, value.expose()) {
                    problems.push((at("headers"), format!("target {:?}: {why}", t.id)));
                }
            }
            check_common(
                &mut problems,
                &at,
                &format!("target {:?}", t.id),
                t.interval,
                t.timeout,
                &t.labels,
                t.tenant.as_deref(),
            );
            if problems.len() == before {
                targets.push(TargetDef {
                    id: t.id.clone(),
                    url: t.url.clone(),
                    headers: t.headers.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect(),
                    tenant: t.tenant.clone().and_then(|s| TenantSlug::parse(s).ok()),
                    service: t.service.clone(),
                    labels: t.labels.clone().into_iter().collect(),
                    interval: t.interval.std(),
                    timeout: t.timeout.std(),
                });
            }
        }
        if self.retention < Duration::from_hours(1) {
            problems.push(("monitoring.retention".into(), "must be at least 1h (the longest rule window)".into()));
        }
        for (key, d) in [("host_interval", self.host_interval), ("probe_down_interval", self.probe_down_interval)] {
            if d.is_zero() {
                problems.push((format!("monitoring.{key}"), "must be longer than 0s".into()));
            }
        }
        let roots = self.roots().map_err(|p| problems.push(p)).ok();
        if self.max_concurrent == 0 {
            problems.push(("monitoring.max_concurrent".into(), "must be at least 1".into()));
        }
        let rules = match self.rules(policy) {
            Ok(r) => r,
            Err(mut list) => {
                problems.append(&mut list);
                Vec::new()
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(MonitoringSettings {
            probes,
            targets,
            host_interval: self.host.then(|| self.host_interval.std()),
            data_dir: data_dir.to_path_buf(),
            host_instance: String::new(),
            roots: roots.unwrap_or_else(rustls::RootCertStore::empty),
            rules,
            retention: self.retention.std(),
            max_series: self.max_series,
            max_concurrent: self.max_concurrent,
            scrape_limits: Default::default(),
            policy: policy.clone(),
        })
    }

    /// The roots TLS and HTTPS probes trust: the system's and `ca_files`.
    pub fn roots(&self) -> Result<rustls::RootCertStore, MonitoringProblem> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = leitstand_probes::tls::system_roots();
        for (i, path) in self.ca_files.iter().enumerate() {
            let fail = |e: String| (format!("monitoring.ca_files[{i}]"), format!("{}: {e}", path.display()));
            let mut found = 0;
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))? {
                roots.add(cert.map_err(|e| fail(e.to_string()))?).map_err(|e| fail(e.to_string()))?;
                found += 1;
            }
            if found == 0 {
                return Err(fail("no certificate in the file".into()));
            }
        }
        Ok(roots)
    }

    /// The rules: the default pack from the policy (with `ProbeDown`'s
    /// `for` and interval from here) and the rule files.
    pub fn rules(&self, policy: &PolicySet) -> Result<Vec<Rule>, Vec<MonitoringProblem>> {
        let mut problems = Vec::new();
        let mut rules = match leitstand_monitor::pack::default_pack(&policy.base.thresholds) {
            Ok(r) => r,
            Err(e) => {
                problems.push(("thresholds".into(), e.to_string()));
                Vec::new()
            }
        };
        for rule in rules.iter_mut().filter(|r| r.name == "ProbeDown") {
            rule.for_ms = self.probe_down_for.std().as_millis() as i64;
            rule.interval_ms = self.probe_down_interval.std().as_millis() as i64;
        }
        // Tenants with thresholds of their own get the pack from their
        // policy, limited to their series; the platform's pack then covers
        // every other series.
        let own: Vec<(&TenantSlug, &leitstand_core::policy::Policy)> =
            policy.tenants.iter().filter(|(_, p)| p.thresholds != policy.base.thresholds).collect();
        if !own.is_empty() {
            use leitstand_monitor::rules::Scope;
            let others = Scope::OtherTenants(own.iter().map(|(slug, _)| slug.to_string()).collect());
            let mut scoped = Vec::new();
            for rule in &rules {
                match rule.name == "ProbeDown" {
                    true => scoped.push(rule.clone()),
                    false => match rule.scoped(others.clone()) {
                        Ok(r) => scoped.push(r),
                        Err(e) => problems.push(("tenants".into(), e.to_string())),
                    },
                }
            }
            for (slug, tenant_policy) in own {
                match leitstand_monitor::pack::default_pack(&tenant_policy.thresholds) {
                    Ok(pack) => {
                        for rule in pack.iter().filter(|r| r.name != "ProbeDown") {
                            match rule.scoped(Scope::Tenant(slug.to_string())) {
                                Ok(r) => scoped.push(r),
                                Err(e) => problems.push((format!("tenants.{slug}"), e.to_string())),
                            }
                        }
                    }
                    Err(e) => problems.push((format!("tenants.{slug}.thresholds"), e.to_string())),
                }
            }
            rules = scoped;
        }
        for (i, path) in self.rule_files.iter().enumerate() {
            let key = format!("monitoring.rule_files[{i}]");
            match read_limited(path, RULE_FILE_LIMIT) {
                Ok(text) => {
                    match leitstand_monitor::ruletest::parse_rule_file(&path.display().to_string(), &text, 60_000) {
                        Ok(more) => rules.extend(more),
                        Err(e) => problems.push((key, e.to_string())),
                    }
                }
                Err(e) => problems.push((key, format!("cannot read {}: {e}", path.display()))),
            }
        }
        if problems.is_empty() { Ok(rules) } else { Err(problems) }
    }

    fn probe(&self, p: &ProbeConfig, policy: &PolicySet) -> Result<ProbeDef, Vec<(String, String)>> {
        let mut bad: Vec<(String, String)> = Vec::new();
        let mut fail = |field: &str, msg: String| bad.push((field.to_string(), msg));
        if !valid_id(&p.id) {
            fail("id", "use lower-case letters, digits and - (at most 63)".into());
        }
        let kind = p.kind;
        let only = |field: &str, set: bool, kinds: &[ProbeKind], fail: &mut dyn FnMut(&str, String)| {
            if set && !kinds.contains(&kind) {
                fail(field, format!("does not apply to a {} probe", kind_name(kind)));
            }
        };
        use ProbeKind::*;
        only("method", p.method.is_some(), &[Http], &mut fail);
        only("headers", !p.headers.is_empty(), &[Http], &mut fail);
        only("body", p.body.is_some(), &[Http], &mut fail);
        only("expect_status", !p.expect_status.is_empty(), &[Http], &mut fail);
        only("body_contains", p.body_contains.is_some(), &[Http], &mut fail);
        only("json_pointer", p.json_pointer.is_some(), &[Http], &mut fail);
        only("json_value", p.json_value.is_some(), &[Http], &mut fail);
        only("follow_redirects", p.follow_redirects.is_some(), &[Http], &mut fail);
        only("expect_addresses", !p.expect_addresses.is_empty(), &[Dns], &mut fail);
        only("server_name", p.server_name.is_some(), &[Tls], &mut fail);
        only("cxml", p.cxml.is_some(), &[Cxml], &mut fail);
        let url_ok = || reqwest::Url::parse(&p.target).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if let Some(why) = reqwest::Url::parse(&p.target).ok().as_ref().and_then(credentials_in) {
            fail("target", why);
        }
        let check = match kind {
            Http | Cxml if !url_ok() => {
                fail("target", format!("{:?} is not an http(s):// URL", p.target));
                None
            }
            Tcp | Tls if !host_port(&p.target) => {
                fail("target", format!("{:?} is not host:port", p.target));
                None
            }
            Dns if p.target.is_empty() || p.target.contains(['/', ':', ' ']) => {
                fail("target", format!("{:?} is not a host name", p.target));
                None
            }
            Http => {
                let method = match p
                    .method
                    .as_deref()
                    .map(|m| reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
                {
                    None => reqwest::Method::GET,
                    Some(Ok(m)) => m,
                    Some(Err(_)) => {
                        fail("method", format!("{:?} is not an HTTP method", p.method.as_deref().unwrap_or_default()));
                        reqwest::Method::GET
                    }
                };
                for code in &p.expect_status {
                    if !(100..=599).contains(code) {
                        fail("expect_status", format!("{code} is not an HTTP status"));
                    }
                }
                for (name, value) in &p.headers {
                    if let Some(why) = bad_header(name, value.expose()) {
                        fail("headers", why);
                    }
                }
                let json = match (&p.json_pointer, &p.json_value) {
                    (Some(ptr), Some(v)) if ptr.starts_with('/') || ptr.is_empty() => {
                        Some((ptr.clone(), toml_to_json(v)))
                    }
                    (Some(ptr), Some(_)) => {
                        fail("json_pointer", format!("{ptr:?} is not a JSON pointer (they start with /)"));
                        None
                    }
                    (Some(_), None) => {
                        fail("json_value", "is needed with json_pointer".into());
                        None
                    }
                    (None, Some(_)) => {
                        fail("json_pointer", "is needed with json_value".into());
                        None
                    }
                    (None, None) => None,
                };
                Some(Check::Http(HttpProbe {
                    method,
                    headers: p.headers.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect(),
                    body: p.body.clone(),
                    expect_status: p.expect_status.clone(),
                    body_contains: p.body_contains.clone(),
                    json,
                    follow_redirects: p.follow_redirects.unwrap_or(true),
                    timeout: p.timeout.std(),
                    ..HttpProbe::get(&p.target)
                }))
            }
            Tcp => Some(Check::Tcp { address: p.target.clone() }),
            Dns => {
                let mut expected = Vec::new();
                for a in &p.expect_addresses {
                    match a.parse::<IpAddr>() {
                        Ok(ip) => expected.push(ip),
                        Err(_) => fail("expect_addresses", format!("{a:?} is not an IP address")),
                    }
                }
                Some(Check::Dns { name: p.target.clone(), expected })
            }
            Tls => {
                let host = p.target.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or_default();
                let server_name = p.server_name.clone().unwrap_or_else(|| host.to_string());
                if rustls::pki_types::ServerName::try_from(server_name.clone()).is_err() {
                    fail("server_name", format!("{server_name:?} is not a valid server name"));
                }
                Some(Check::Tls { address: p.target.clone(), server_name })
            }
            Cxml => match &p.cxml {
                None => {
                    fail(
                        "cxml",
                        "the credentials are needed: [monitoring.probes.cxml] with from_domain, …, shared_secret"
                            .into(),
                    );
                    None
                }
                Some(c) => Some(Check::Cxml {
                    url: p.target.clone(),
                    credentials: leitstand_probes::cxml::Credentials {
                        from: (c.from_domain.clone(), c.from_identity.clone()),
                        to: (c.to_domain.clone(), c.to_identity.clone()),
                        sender: (
                            c.sender_domain.clone(),
                            c.sender_identity.clone(),
                            c.shared_secret.expose().to_string(),
                        ),
                    },
                }),
            },
        };
        let interval = p.interval.unwrap_or(if kind == Tls {
            policy.base.thresholds.security.certificate_expiry.interval
        } else {
            Duration::from_secs(30)
        });
        let mut common = Vec::new();
        check_common(&mut common, &|f: &str| f.to_string(), "", interval, p.timeout, &p.labels, p.tenant.as_deref());
        bad.extend(common);
        match check {
            Some(check) if bad.is_empty() => Ok(ProbeDef {
                id: p.id.clone(),
                name: p.name.clone(),
                tenant: p.tenant.clone().and_then(|s| TenantSlug::parse(s).ok()),
                service: p.service.clone(),
                labels: p.labels.clone().into_iter().collect(),
                check,
                interval: interval.std(),
                timeout: p.timeout.std(),
                retries: p.retries.unwrap_or(if kind == Tls { 0 } else { 1 }),
            }),
            _ => Err(bad),
        }
    }
}

/// The largest rule file read (a rule file is a few kilobytes; a path to
/// a device or a huge file must not stall the start).
const RULE_FILE_LIMIT: u64 = 16 << 20;

/// A text file of at most `limit` bytes.
fn read_limited(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {} MiB", limit >> 20)));
    }
    Ok(text)
}

/// Why a URL must not be used: credentials in it would be shown, logged
/// and become a label.
fn credentials_in(url: &reqwest::Url) -> Option<String> {
    (!url.username().is_empty() || url.password().is_some())
        .then(|| "the URL carries credentials, which would be shown and logged; put them in headers".to_string())
}

/// Why a header cannot be sent (the value itself is never quoted).
fn bad_header(name: &str, value: &str) -> Option<String> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        Some(format!("{name:?} is not a header name"))
    } else if reqwest::header::HeaderValue::from_str(value).is_err() {
        Some(format!("the value of {name:?} is not a valid header value"))
    } else {
        None
    }
}

fn kind_name(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Http => "http",
        ProbeKind::Tcp => "tcp",
        ProbeKind::Dns => "dns",
        ProbeKind::Tls => "tls",
        ProbeKind::Cxml => "cxml",
    }
}

/// Interval, timeout, labels and tenant, shared by probes and targets.
fn check_common(
    problems: &mut Vec<MonitoringProblem>,
    at: &dyn Fn(&str) -> String,
    who: &str,
    interval: Duration,
    timeout: Duration,
    labels: &BTreeMap<String, String>,
    tenant: Option<&str>,
) {
    let mut push = |field: &str, msg: String| {
        let msg = if who.is_empty() { msg } else { format!("{who}: {msg}") };
        problems.push((at(field), msg));
    };
    if interval < Duration::from_secs(1) {
        push("interval", "must be at least 1s".into());
    }
    if timeout.is_zero() {
        push("timeout", "must be longer than 0s".into());
    }
    for name in labels.keys() {
        if !valid_label_name(name) {
            push("labels", format!("{name:?} is not a label name"));
        } else if RESERVED_LABELS.contains(&name.as_str()) {
            push("labels", format!("{name:?} is set by Leitstand; use the {name} key where there is one"));
        }
    }
    if let Some(Err(e)) = tenant.map(|t| TenantSlug::parse(t.to_string())) {
        push("tenant", e.to_string());
    }
}
