//! `[alerting]`: channels, who each escalation audience is, the people and
//! on-call schedules, inhibition rules, grouping and retries. Checked as a
//! whole while loading: a channel with a bad URL, an audience naming an
//! unknown channel, a schedule with an unknown person or time zone — each
//! is refused with its path (`alerting.channels[1].url`) and reason, and
//! the server does not start half-configured.
//!
//! Channel and schedule entries are read by the crates that own their
//! formats (`leitstand-notify`, `leitstand-alerting`), so the checks live
//! beside the code that uses the values.

use std::collections::BTreeMap;
use std::path::Path;

use leitstand_alerting::group::{DEFAULT_GROUP_BY, GroupBy};
use leitstand_alerting::inhibit::parse_rule;
use leitstand_alerting::link::LinkKey;
use leitstand_alerting::oncall::{ScheduleDef, validate};
use leitstand_app::alerting::{AlertingSettings, AudienceRoute, ChannelDef, Person};
use leitstand_core::policy::{Audience, ChannelKind, PolicySet};
use leitstand_core::time_limit::Duration;
use leitstand_notify::Locale;
use leitstand_notify::channels::{Backoff, Channel, ChannelConfig, ChannelId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Secret;

/// Alerting: channels, audiences, people, schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Leitstand's address as people reach it (the links in notifications);
    /// unset: `http://` + the listen address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Labels alerts are grouped by into one notification (`["..."]`:
    /// every alert on its own).
    pub group_by: Vec<String>,
    /// How long the first notification of a group waits for more alerts.
    pub group_wait: Duration,
    /// An alert sent to `POST /api/v2/alerts` without `endsAt` resolves
    /// this long after it was last sent, as in Alertmanager (Prometheus
    /// always sends `endsAt`; alerts forwarded by an Alertmanager's webhook
    /// and Leitstand's own rules resolve when they say so).
    pub resolve_timeout: Duration,
    /// How long the signed links in a notification stay valid.
    pub link_ttl: Duration,
    /// Secret the signed links are derived from. Replicas on one PostgreSQL
    /// must share it; unset: a random key kept in the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_secret: Option<Secret>,
    /// First retry after a failed delivery; doubles up to `retry_max`.
    pub retry_base: Duration,
    /// Longest wait between retries.
    pub retry_max: Duration,
    /// Attempts per channel before the fallback channel gets a copy.
    pub retry_attempts: u32,
    /// Most deliveries in flight at once.
    pub max_in_flight: usize,
    /// Notification channels (`[[alerting.channels]]`): `id`, `kind`
    /// (`email`, `webhook`, `slack`, `teams`, `matrix`), optional `name`,
    /// `locale` (`de`/`en`), `fallback` (another channel's id), and the
    /// kind's own fields (see the README).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub channels: Vec<ChannelTable>,
    /// Who each audience of the escalation levels is
    /// (`[alerting.audiences.devops]`, `on_call`, `development`,
    /// `management`, `compliance`, `security`).
    #[serde(default)]
    pub audiences: BTreeMap<String, AudienceConfig>,
    /// People who can be on call (`[alerting.people.<id>]`).
    #[serde(default)]
    pub people: BTreeMap<String, PersonConfig>,
    /// On-call schedules (`[[alerting.schedules]]`): `id`, `name`,
    /// `time_zone`, `[[alerting.schedules.rotations]]` with `name`,
    /// `participants`, `start` (local date-time of the first hand-over),
    /// `length` and an optional `restrict` (`from`, `to`, `days`).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub schedules: Vec<toml::Table>,
    /// Inhibition: a firing `source` alert holds back `target` alerts
    /// with equal values of the `equal` labels (`[[alerting.inhibit]]`).
    #[serde(default)]
    pub inhibit: Vec<InhibitConfig>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            group_by: DEFAULT_GROUP_BY.iter().map(|s| s.to_string()).collect(),
            group_wait: Duration::from_secs(10),
            resolve_timeout: Duration::from_mins(5),
            link_ttl: Duration::from_hours(24),
            link_secret: None,
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_mins(10),
            retry_attempts: 8,
            max_in_flight: 64,
            channels: Vec::new(),
            audiences: BTreeMap::new(),
            people: BTreeMap::new(),
            schedules: Vec::new(),
            inhibit: Vec::new(),
        }
    }
}

/// One channel entry as written; its secrets (passwords, signing secrets,
/// access tokens, header values, and the URLs of Slack and Teams webhooks,
/// which are tokens themselves) are never printed or serialised.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ChannelTable(pub toml::Table);

const SECRET_KEYS: [&str; 4] = ["secret", "password", "access_token", "headers"];

impl ChannelTable {
    fn redacted(&self) -> toml::Table {
        let token_url = matches!(self.0.get("kind").and_then(toml::Value::as_str), Some("slack" | "teams"));
        let mut out = self.0.clone();
        redact(&mut out, token_url);
        out
    }
}

fn redact(table: &mut toml::Table, token_url: bool) {
    for (key, value) in table.iter_mut() {
        if SECRET_KEYS.contains(&key.as_str()) || (token_url && key == "url") {
            *value = toml::Value::String("***".into());
        } else if let toml::Value::Table(inner) = value {
            redact(inner, false);
        }
    }
}

impl std::fmt::Debug for ChannelTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.redacted().fmt(f)
    }
}

impl Serialize for ChannelTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(s)
    }
}

/// One audience's channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceConfig {
    /// Channel ids.
    pub channels: Vec<String>,
    /// For `on_call`: the schedule whose person on call is added as a
    /// recipient (their `email` for e-mail channels, `chat` for chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Display name.
    pub name: String,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Chat handle (Matrix `@user:server`, Slack member id, Mattermost user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
}

/// An inhibition rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InhibitConfig {
    /// Matchers of the inhibiting alert, e.g. `['alertname="HostDown"']`.
    pub source: Vec<String>,
    /// Matchers of the alerts held back.
    pub target: Vec<String>,
    /// Labels that must be equal in both, e.g. `["host"]`.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A problem: config path and message.
pub type AlertingProblem = (String, String);

fn audience(name: &str) -> Option<Audience> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// Ids of people follow the channels' rule.
fn valid_id(id: &str) -> bool {
    ChannelId::is_valid(id)
}

/// The policy's channel kind a channel serves.
fn policy_kind(kind: &str) -> ChannelKind {
    match kind {
        "email" => ChannelKind::Email,
        "webhook" => ChannelKind::Webhook,
        _ => ChannelKind::Chat,
    }
}

impl AlertingConfig {
    /// Checks everything; the settings for the runtime, or every problem.
    pub fn settings(&self, policy: &PolicySet) -> Result<AlertingSettings, Vec<AlertingProblem>> {
        let mut problems: Vec<AlertingProblem> = Vec::new();
        let group_by = GroupBy::parse(&self.group_by).unwrap_or_else(|errors| {
            problems.extend(errors.into_iter().map(|e| (format!("alerting.{}", e.field), e.reason)));
            GroupBy::default()
        });
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(("alerting.public_url".into(), "must be an http(s):// address".into()));
        }
        if self.retry_attempts == 0 || self.retry_attempts > 100 {
            problems.push(("alerting.retry_attempts".into(), "must be 1 to 100".into()));
        }
        if self.retry_base.is_zero() || self.retry_max < self.retry_base {
            problems.push(("alerting.retry_max".into(), "retry_base must be > 0s and retry_max ≥ retry_base".into()));
        }
        if self.link_ttl.is_zero() || self.link_ttl > Duration::from_hours(24 * 30) {
            problems.push(("alerting.link_ttl".into(), "must be between 1s and 30d".into()));
        }

        let mut channels = Vec::new();
        for (i, table) in self.channels.iter().enumerate() {
            let at = |field: &str| format!("alerting.channels[{i}].{field}");
            let mut rest = table.0.clone();
            let mut take_str = |key: &str| match rest.remove(key) {
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(_) => Err((at(key), "must be a string".to_string())),
                None => Ok(None),
            };
            let (id, name, locale, fallback) =
                (take_str("id"), take_str("name"), take_str("locale"), take_str("fallback"));
            let id = match id {
                Ok(Some(id)) => match ChannelId::parse(id.clone()) {
                    Ok(id) => id,
                    Err(_) => {
                        problems.push((at("id"), format!("{id:?}: use lower-case letters, digits and -")));
                        continue;
                    }
                },
                Ok(None) => {
                    problems.push((at("id"), "required".into()));
                    continue;
                }
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            if channels.iter().any(|c: &ChannelDef| c.id == id) {
                problems.push((at("id"), format!("channel {id:?}: the id is used twice")));
            }
            let locale = match locale {
                Ok(None) => Locale::De,
                Ok(Some(l)) if l == "de" => Locale::De,
                Ok(Some(l)) if l == "en" => Locale::En,
                Ok(Some(l)) => {
                    problems.push((at("locale"), format!("channel {id:?}: {l:?} — use \"de\" or \"en\"")));
                    Locale::De
                }
                Err(p) => {
                    problems.push(p);
                    Locale::De
                }
            };
            let fallback = fallback.unwrap_or_else(|p| {
                problems.push(p);
                None
            });
            let name = name.ok().flatten().unwrap_or_else(|| id.to_string());
            let config: ChannelConfig = match ChannelConfig::deserialize(toml::Value::Table(rest)) {
                Ok(c) => c,
                Err(e) => {
                    problems.push((format!("alerting.channels[{i}]"), format!("channel {id:?}: {}", e.message())));
                    continue;
                }
            };
            if let Err(errors) = config.validate() {
                problems.extend(errors.into_iter().map(|e| (at(&e.path), format!("channel {id:?}: {}", e.reason))));
                continue;
            }
            match Channel::from_config(id.as_str(), &config) {
                Ok(channel) => {
                    channels.push(ChannelDef { kind: policy_kind(config.kind()), id, name, channel, locale, fallback })
                }
                Err(e) => problems.push((format!("alerting.channels[{i}]"), format!("channel {id:?}: {e}"))),
            }
        }
        for (i, c) in channels.iter().enumerate() {
            if let Some(f) = &c.fallback {
                if *f == c.id {
                    problems.push((
                        format!("alerting.channels[{i}].fallback"),
                        format!("channel {:?} cannot be its own fallback", c.id),
                    ));
                } else if !channels.iter().any(|o| o.id == *f) {
                    problems.push((format!("alerting.channels[{i}].fallback"), format!("no channel {f:?}")));
                }
            }
        }

        let mut people = BTreeMap::new();
        for (id, p) in &self.people {
            let at = |field: &str| format!("alerting.people.{id}.{field}");
            if !valid_id(id) {
                problems
                    .push((format!("alerting.people.{id}"), "use lower-case letters, digits and - for the id".into()));
            }
            if let Some(email) = &p.email
                && !email.split_once('@').is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !email.contains(' '))
            {
                problems.push((at("email"), format!("{email:?} is not an e-mail address")));
            }
            people.insert(id.clone(), Person { name: p.name.clone(), email: p.email.clone(), chat: p.chat.clone() });
        }

        let mut schedules = Vec::new();
        for (i, table) in self.schedules.iter().enumerate() {
            let def: ScheduleDef = match ScheduleDef::deserialize(toml::Value::Table(table.clone())) {
                Ok(d) => d,
                Err(e) => {
                    problems.push((format!("alerting.schedules[{i}]"), e.message().to_string()));
                    continue;
                }
            };
            if schedules.iter().any(|s: &leitstand_alerting::oncall::Schedule| s.id() == def.id) {
                problems.push((
                    format!("alerting.schedules[{i}].id"),
                    format!("schedule {:?}: the id is used twice", def.id),
                ));
            }
            match validate(&def, &|p| people.contains_key(p)) {
                Ok(s) => schedules.push(s),
                Err(errors) => problems.extend(errors.into_iter().map(|e| {
                    (format!("alerting.schedules[{i}].{}", e.path), format!("schedule {:?}: {}", def.id, e.reason))
                })),
            }
        }

        let mut audiences = BTreeMap::new();
        for (name, a) in &self.audiences {
            let at = |field: &str| format!("alerting.audiences.{name}.{field}");
            let Some(aud) = audience(name) else {
                problems.push((
                    format!("alerting.audiences.{name}"),
                    "unknown audience; audiences are devops, on_call, development, management, compliance, security"
                        .into(),
                ));
                continue;
            };
            for (j, c) in a.channels.iter().enumerate() {
                if !channels.iter().any(|d| &d.id == c) {
                    problems.push((format!("{}[{j}]", at("channels")), format!("no channel {c:?}")));
                }
            }
            if let Some(s) = &a.schedule
                && !schedules.iter().any(|d| d.id() == s)
            {
                problems.push((at("schedule"), format!("no schedule {s:?}")));
            }
            audiences.insert(aud, AudienceRoute { channels: a.channels.clone(), schedule: a.schedule.clone() });
        }

        let mut inhibit = Vec::new();
        for (i, r) in self.inhibit.iter().enumerate() {
            match parse_rule(&r.source, &r.target, &r.equal) {
                Ok(rule) => inhibit.push(rule),
                Err(errors) => problems
                    .extend(errors.into_iter().map(|e| (format!("alerting.inhibit[{i}].{}", e.field), e.reason))),
            }
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(AlertingSettings {
            group_by,
            group_wait: self.group_wait.std(),
            resolve_timeout: self.resolve_timeout.std(),
            channels,
            audiences,
            schedules,
            people,
            inhibit,
            link_ttl: self.link_ttl.std(),
            backoff: Backoff {
                base: self.retry_base.std(),
                max: self.retry_max.std(),
                max_attempts: self.retry_attempts,
                ..Backoff::default()
            },
            max_in_flight: self.max_in_flight.max(1),
            policy: policy.clone(),
        })
    }
}

impl AlertingConfig {
    /// The address in links: `public_url`, or `http://` + the address the
    /// server is bound to.
    pub fn public_url(&self, bound: std::net::SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }

    /// The key of the signed links: derived from `link_secret`, or kept in
    /// `data_dir` (created on first use, mode 0600).
    pub fn link_key(&self, data_dir: &Path) -> std::io::Result<LinkKey> {
        match &self.link_secret {
            Some(secret) => Ok(LinkKey::derive(secret.expose().as_bytes(), "alert-links")),
            None => link_key_file(data_dir),
        }
    }
}

fn link_key_file(data_dir: &Path) -> std::io::Result<LinkKey> {
    let path = data_dir.join("alert-links.key");
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(LinkKey::new(key));
        }
        Ok(_) => return Err(std::io::Error::other(format!("{} is not 32 bytes", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    use std::io::Write;
    #[cfg(unix)]
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?
    };
    #[cfg(not(unix))]
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(LinkKey::new(key))
}
