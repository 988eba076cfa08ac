//! `[monitoring]`: the probes, scrape targets and rule files of the
//! embedded mode, as typed and documented structs. A probe is one flat
//! table with a `kind`; its keys are decoded and checked by the probe
//! crate (`leitstand_probes::config`, each kind's keys in the kind's
//! folder), which refuses keys of another kind rather than ignoring them.
//! This module holds the list and names each problem by the probe's index
//! and id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use leitstand_app::monitoring::{MonitoringSettings, TargetDef};
use leitstand_core::policy::PolicySet;
use leitstand_core::tenant::TenantSlug;
use leitstand_core::time_limit::Duration;
use leitstand_monitor::rules::Rule;
use leitstand_probes::client::{credentials_in, header_problem};
use leitstand_probes::config::{Defaults, ProbeConfig, common_problems, valid_id};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Secret;

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
    pub headers: BTreeMap<String, Secret>,
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
        let defaults = Defaults {
            certificate_interval: policy.base.thresholds.security.certificate_expiry.interval,
            ..Defaults::default()
        };
        for (i, p) in self.probes.iter().enumerate() {
            match p.validate(&defaults) {
                Ok(def) => probes.push(def),
                Err(list) => problems.extend(list.into_iter().map(|e| {
                    let path = if e.field.is_empty() {
                        format!("monitoring.probes[{i}]")
                    } else {
                        format!("monitoring.probes[{i}].{}", e.field)
                    };
                    (path, format!("probe {:?}: {}", p.id, e.reason))
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
                if let Some(why) = header_problem(name, value.expose()) {
                    problems.push((at("headers"), format!("target {:?}: {why}", t.id)));
                }
            }
            for e in common_problems(t.interval, t.timeout, &t.labels, t.tenant.as_deref()) {
                problems.push((at(&e.field), format!("target {:?}: {}", t.id, e.reason)));
            }
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
