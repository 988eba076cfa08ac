//! A probe as the operator writes it: one flat `[[monitoring.probes]]`
//! table with a `kind`, the keys every probe has (here) and the keys of
//! its kind (in the kind's folder). Decoding and checking live in this
//! crate, beside the code that uses the values; the binary only holds the
//! list and puts the file, line and probe in front of each problem.
//!
//! The table stays flat, as users write it, but each key is read by the
//! kind that owns it: a key's value is type-checked against its kind's
//! `Config` while it is read, so a wrong type is reported at that key, not
//! at the whole probe. A key of another kind is not silently ignored: it
//! is refused with "does not apply to a … probe". Every problem of an
//! entry is reported at once, each naming its key.

use std::collections::BTreeMap;
use std::fmt;

use leitstand_core::tenant::TenantSlug;
use leitstand_core::time_limit::Duration;
use schemars::JsonSchema;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::check::{Check, Kind, KindConfigs};

pub use leitstand_core::input::{FieldError, Secret};

/// What an entry gets when it leaves a key unset and the value comes from
/// the policy rather than from the kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// How often a probe runs (30 s).
    pub interval: Duration,
    /// How often certificates are checked (the policy's certificate-expiry
    /// interval, 24 h by default).
    pub certificate_interval: Duration,
}

impl Default for Defaults {
    fn default() -> Self {
        Self { interval: Duration::from_secs(30), certificate_interval: Duration::from_hours(24) }
    }
}

/// A configured probe, checked: what the monitoring runtime runs.
#[derive(Debug, Clone)]
pub struct ProbeDef {
    /// Stable id (URL path, history key): `[a-z0-9-]`.
    pub id: String,
    /// Display name (`None`: the id).
    pub name: Option<String>,
    /// The tenant it belongs to (`None`: the platform's).
    pub tenant: Option<TenantSlug>,
    /// The service it checks (`service` label).
    pub service: Option<String>,
    /// Further labels on its series and alerts.
    pub labels: Vec<(String, String)>,
    /// What it checks.
    pub check: Check,
    /// How often.
    pub interval: std::time::Duration,
    /// Time limit of one run.
    pub timeout: std::time::Duration,
    /// Failed runs in a row tolerated before the target counts as down.
    pub retries: u32,
}

/// One probe (`[[monitoring.probes]]`) as written.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Stable id: lower-case letters, digits and `-` (URLs, history, `probe_id` label).
    pub id: String,
    /// Display name; unset: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The kind of check (its description in the reference is made from
    /// the list of kinds).
    #[schemars(transform = kinds_named)]
    pub kind: Kind,
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
    /// The keys of each kind.
    #[serde(flatten)]
    pub kinds: KindConfigs,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Describes the `kind` key by the list of kinds (`http`, `tcp`, … or
/// `cxml`), so a new kind shows up in the reference without an edit here.
fn kinds_named(schema: &mut schemars::Schema) {
    let names: Vec<String> = Kind::ALL.iter().map(|k| format!("`{k}`")).collect();
    let text = match names.split_last() {
        Some((last, [])) => format!("{last}."),
        Some((last, rest)) => format!("{} or {last}.", rest.join(", ")),
        None => String::new(),
    };
    schema.insert("description".into(), text.into());
}

/// The keys every probe has, in the order they are documented.
const COMMON_KEYS: &[&str] =
    &["id", "name", "kind", "target", "interval", "timeout", "retries", "tenant", "service", "labels"];

impl<'de> Deserialize<'de> for ProbeConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = ProbeConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a probe table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProbeConfig, A::Error> {
        fn once<T, E: de::Error>(slot: &mut Option<T>, key: &'static str, value: T) -> Result<(), E> {
            match slot.replace(value) {
                Some(_) => Err(E::duplicate_field(key)),
                None => Ok(()),
            }
        }
        let (mut id, mut name, mut kind, mut target) = (None, None, None, None);
        let (mut interval, mut timeout, mut retries) = (None, None, None);
        let (mut tenant, mut service, mut labels) = (None, None, None);
        let mut own: Vec<serde_json::Map<String, serde_json::Value>> = vec![Default::default(); Kind::ALL.len()];
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "id" => once(&mut id, "id", map.next_value::<String>()?)?,
                "name" => once(&mut name, "name", map.next_value::<Option<String>>()?)?,
                "kind" => once(&mut kind, "kind", map.next_value::<Kind>()?)?,
                "target" => once(&mut target, "target", map.next_value::<String>()?)?,
                "interval" => once(&mut interval, "interval", map.next_value::<Option<Duration>>()?)?,
                "timeout" => once(&mut timeout, "timeout", map.next_value::<Duration>()?)?,
                "retries" => once(&mut retries, "retries", map.next_value::<Option<u32>>()?)?,
                "tenant" => once(&mut tenant, "tenant", map.next_value::<Option<String>>()?)?,
                "service" => once(&mut service, "service", map.next_value::<Option<String>>()?)?,
                "labels" => once(&mut labels, "labels", map.next_value::<BTreeMap<String, String>>()?)?,
                other => {
                    let Some((owner, key)) = Kind::owning(other) else {
                        return Err(de::Error::unknown_field(other, ALL_KEYS.as_slice()));
                    };
                    let value = map.next_value_seed(KindKey { kind: owner, key })?;
                    if own[owner as usize].insert(key.to_string(), value).is_some() {
                        return Err(de::Error::duplicate_field(key));
                    }
                }
            }
        }
        Ok(ProbeConfig {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            name: name.flatten(),
            kind: kind.ok_or_else(|| de::Error::missing_field("kind"))?,
            target: target.ok_or_else(|| de::Error::missing_field("target"))?,
            interval: interval.flatten(),
            timeout: timeout.unwrap_or_else(default_timeout),
            retries: retries.flatten(),
            tenant: tenant.flatten(),
            service: service.flatten(),
            labels: labels.unwrap_or_default(),
            kinds: KindConfigs::from_keys(own).map_err(de::Error::custom)?,
        })
    }
}

static ALL_KEYS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| COMMON_KEYS.iter().copied().chain(Kind::all_keys()).collect());

/// Reads the value of a kind's key, checked against the kind's `Config`
/// right there — so a wrong type is reported at the key.
struct KindKey {
    kind: Kind,
    key: &'static str,
}

impl<'de> DeserializeSeed<'de> for KindKey {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<serde_json::Value, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        KindConfigs::check_key(self.kind, self.key, &value).map_err(de::Error::custom)?;
        Ok(value)
    }
}

impl ProbeConfig {
    /// Checks the entry; returns the probe to run, or every problem found,
    /// in the order of the keys' importance: the id, keys of other kinds,
    /// the target and the kind's own keys, then interval, timeout, labels
    /// and tenant.
    pub fn validate(&self, defaults: &Defaults) -> Result<ProbeDef, Vec<FieldError>> {
        let mut problems = Vec::new();
        if !valid_id(&self.id) {
            problems.push(FieldError::new("id", "use lower-case letters, digits and - (at most 63)"));
        }
        for other in Kind::ALL.iter().filter(|k| **k != self.kind) {
            for key in self.kinds.set_keys(*other) {
                problems.push(FieldError::new(key, format!("does not apply to a {} probe", self.kind)));
            }
        }
        if let Some(why) = reqwest::Url::parse(&self.target).ok().as_ref().and_then(crate::client::credentials_in) {
            problems.push(FieldError::new("target", why));
        }
        let check = self.kinds.check(self.kind, &self.target).map_err(|list| problems.extend(list)).ok();
        let interval = self.interval.unwrap_or_else(|| self.kind.default_interval(defaults));
        problems.extend(common_problems(interval, self.timeout, &self.labels, self.tenant.as_deref()));
        match check {
            Some(check) if problems.is_empty() => Ok(ProbeDef {
                id: self.id.clone(),
                name: self.name.clone(),
                tenant: self.tenant.clone().and_then(|s| TenantSlug::parse(s).ok()),
                service: self.service.clone(),
                labels: self.labels.clone().into_iter().collect(),
                check,
                interval: interval.std(),
                timeout: self.timeout.std(),
                retries: self.retries.unwrap_or_else(|| self.kind.default_retries()),
            }),
            _ => Err(problems),
        }
    }
}

/// Whether `id` can be a probe's or a target's id: lower-case letters,
/// digits and `-`, at most 63, not starting with `-`.
pub fn valid_id(id: &str) -> bool {
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

/// Labels Leitstand sets on probe and scrape series itself.
const RESERVED_LABELS: &[&str] =
    &["job", "instance", "probe", "probe_id", "tenant", "service", "__name__", "alertname"];

/// The problems with what probes and scrape targets share: interval,
/// timeout, labels and tenant.
pub fn common_problems(
    interval: Duration,
    timeout: Duration,
    labels: &BTreeMap<String, String>,
    tenant: Option<&str>,
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if interval < Duration::from_secs(1) {
        problems.push(FieldError::new("interval", "must be at least 1s"));
    }
    if timeout.is_zero() {
        problems.push(FieldError::new("timeout", "must be longer than 0s"));
    }
    for name in labels.keys() {
        if !valid_label_name(name) {
            problems.push(FieldError::new("labels", format!("{name:?} is not a label name")));
        } else if RESERVED_LABELS.contains(&name.as_str()) {
            problems.push(FieldError::new(
                "labels",
                format!("{name:?} is set by Leitstand; use the {name} key where there is one"),
            ));
        }
    }
    if let Some(Err(e)) = tenant.map(|t| TenantSlug::parse(t.to_string())) {
        problems.push(FieldError::new("tenant", e.to_string()));
    }
    problems
}

/// Whether `target` is `host:port` with a port above 0.
pub(crate) fn host_port(target: &str) -> bool {
    target.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Decodes one entry as the binary does (serde_path_to_error over a
    /// TOML table): the value, or the key and message of the first problem.
    fn decode(text: &str) -> Result<ProbeConfig, (String, String)> {
        let table: toml::Table = toml::from_str(text).unwrap();
        serde_path_to_error::deserialize::<_, ProbeConfig>(toml::Value::Table(table))
            .map_err(|e| (e.path().to_string(), e.inner().to_string().lines().next().unwrap_or_default().to_string()))
    }

    fn problems(text: &str) -> Vec<String> {
        decode(text).unwrap().validate(&Defaults::default()).unwrap_err().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_flat_table_is_read_key_by_key_by_the_kind_that_owns_it() {
        let entry = decode(
            r#"
id = "vergabe"
kind = "http"
target = "https://vergabe.example/health"
method = "head"
headers = { Authorization = "Bearer geheim-123" }
json_pointer = "/status"
json_value = "UP"
"#,
        )
        .unwrap();
        assert_eq!(entry.kinds.http.method.as_deref(), Some("head"));
        assert_eq!(entry.kinds.http.json_value, Some("UP".into()));
        assert!(!format!("{entry:?}").contains("geheim-123"), "header values never print");
        assert!(!serde_json::to_string(&entry).unwrap().contains("geheim-123"), "nor serialise");
        let def = entry.validate(&Defaults::default()).unwrap();
        let Check::Http(http) = &def.check else { panic!("{def:?}") };
        assert_eq!(http.method, reqwest::Method::HEAD);
        assert_eq!(http.headers, [("Authorization".to_string(), "Bearer geheim-123".to_string())]);
        assert_eq!(http.json, Some(("/status".to_string(), "UP".into())));
        assert_eq!((def.interval.as_secs(), def.timeout.as_secs(), def.retries), (30, 10, 1));
    }

    #[test]
    fn a_wrong_type_is_reported_at_its_key_and_an_unknown_key_by_name() {
        let base = "id = \"p\"\nkind = \"http\"\ntarget = \"http://x/\"\n";
        let wrong = |line: &str| decode(&format!("{base}{line}\n")).unwrap_err();
        assert_eq!(
            wrong("expect_status = \"200\""),
            ("expect_status".into(), "invalid type: string \"200\", expected a sequence".into())
        );
        assert_eq!(wrong("expect_status = [70000]").0, "expect_status");
        assert_eq!(wrong("follow_redirects = \"yes\"").0, "follow_redirects");
        assert_eq!(wrong("timeout = 5").0, "timeout");
        assert_eq!(wrong("cxml = { from_domain = 1 }").0, "cxml");
        let (at, message) = wrong("tragte = \"x\"");
        assert_eq!(at, ".");
        assert!(message.starts_with("unknown field `tragte`, expected one of `id`, `name`, `kind`"), "{message}");
        assert!(message.ends_with("`server_name`, `cxml`"), "every kind's keys are named: {message}");
        let (_, message) = decode("id = \"p\"\nkind = \"smtp\"\ntarget = \"x\"\n").unwrap_err();
        assert!(message.starts_with("unknown variant `smtp`, expected one of `http`, `tcp`"), "{message}");
        assert_eq!(decode("id = \"p\"\nkind = \"tcp\"\n").unwrap_err().1, "missing field `target`");
    }

    #[test]
    fn keys_of_other_kinds_are_refused_and_every_problem_named_at_once() {
        assert_eq!(
            problems(
                "id = \"-x\"\nkind = \"tcp\"\ntarget = \"portal\"\nserver_name = \"p\"\nexpect_addresses = [\"1.2.3.4\"]\ninterval = \"0s\"\n"
            ),
            [
                "id: use lower-case letters, digits and - (at most 63)",
                "expect_addresses: does not apply to a tcp probe",
                "server_name: does not apply to a tcp probe",
                "target: \"portal\" is not host:port",
                "interval: must be at least 1s",
            ]
        );
        assert_eq!(
            problems("id = \"c\"\nkind = \"cxml\"\ntarget = \"https://u:pw@portal.example/cxml\"\n"),
            [
                "target: the URL carries credentials, which would be shown and logged; put them in headers",
                "cxml: the credentials are needed: [monitoring.probes.cxml] with from_domain, …, shared_secret",
            ]
        );
        assert_eq!(
            problems(
                "id = \"h\"\nkind = \"http\"\ntarget = \"http://x/\"\nmethod = \"GE T\"\nexpect_status = [99]\njson_value = 1\nlabels = { job = \"x\" }\ntenant = \"Bank A\"\n"
            )[..4],
            [
                "method: \"GE T\" is not an HTTP method",
                "expect_status: 99 is not an HTTP status",
                "json_pointer: is needed with json_value",
                "labels: \"job\" is set by Leitstand; use the job key where there is one",
            ]
        );
    }

    #[test]
    fn each_kind_brings_its_defaults() {
        let defaults = Defaults { certificate_interval: Duration::from_hours(6), ..Defaults::default() };
        let tls = decode("id = \"t\"\nkind = \"tls\"\ntarget = \"[::1]:443\"\n").unwrap().validate(&defaults).unwrap();
        assert_eq!((tls.interval.as_secs(), tls.retries), (6 * 3600, 0));
        let Check::Tls(probe) = &tls.check else { panic!() };
        assert_eq!(probe.server_name, "::1", "the target's host, without brackets");
        let dns = decode("id = \"d\"\nkind = \"dns\"\ntarget = \"portal.example\"\nretries = 3\ninterval = \"1m\"\n")
            .unwrap()
            .validate(&defaults)
            .unwrap();
        assert_eq!((dns.interval.as_secs(), dns.retries), (60, 3));
    }

    #[test]
    fn every_key_belongs_to_one_kind_and_the_reference_names_every_kind() {
        let keys: Vec<&str> = Kind::all_keys().collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(!COMMON_KEYS.contains(key), "{key} is every probe's key");
            assert!(!keys[..i].contains(key), "{key} belongs to two kinds");
        }
        let schema = schemars::SchemaGenerator::default().into_root_schema_for::<ProbeConfig>();
        let properties = schema.get("properties").and_then(serde_json::Value::as_object).unwrap();
        let documented: Vec<&str> = properties.keys().map(String::as_str).collect();
        assert_eq!(documented, COMMON_KEYS.iter().copied().chain(keys).collect::<Vec<_>>());
        let kind = properties["kind"]["description"].as_str().unwrap();
        assert!(
            kind.starts_with("`http`, `tcp`, `dns`, `tls`") && kind.contains(" or `") && kind.ends_with("`."),
            "{kind}"
        );
        assert!(Kind::ALL.iter().all(|k| kind.contains(&format!("`{k}`"))), "{kind}");
    }
}
