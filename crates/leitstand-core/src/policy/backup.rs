//! Backup and disaster recovery (DORA Art. 11, BSI CON.3): the backup
//! schedule, recovery objectives per system and the mandatory recovery tests.
//!
//! The defaults combine both seeds: the DORA portal's schedule table and the
//! B2G portal's weekly full file-system backup and monthly test restore.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::time_limit::{Duration, TimeLimit};

/// When a backup runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupSchedule {
    /// A cron expression (`minute hour day-of-month month day-of-week`) in the
    /// calendar's time zone.
    Cron(String),
    /// Continuously (WAL / binlog shipping).
    Continuous,
    /// On every change (Git-versioned configuration).
    OnChange,
}

impl FromStr for BackupSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "continuous" => Ok(Self::Continuous),
            "on change" => Ok(Self::OnChange),
            expr => {
                croner::Cron::from_str(expr).map_err(|e| {
                    format!("{expr:?} is neither \"continuous\", \"on change\" nor a valid cron expression: {e}")
                })?;
                Ok(Self::Cron(expr.to_string()))
            }
        }
    }
}

impl fmt::Display for BackupSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron(expr) => f.write_str(expr),
            Self::Continuous => f.write_str("continuous"),
            Self::OnChange => f.write_str("on change"),
        }
    }
}

impl Serialize for BackupSchedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BackupSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for BackupSchedule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BackupSchedule".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A cron expression such as \"0 2 * * *\" (local time), \"continuous\" or \"on change\".",
        })
    }
}

/// What a backup job backs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    /// Database.
    Database,
    /// Files and uploads.
    Files,
    /// Configuration.
    Configuration,
    /// Secrets (Vault).
    Secrets,
}

/// How it is backed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupMethod {
    /// Full backup.
    Full,
    /// Incremental backup.
    Incremental,
    /// Continuous WAL / binlog archiving.
    Wal,
    /// Versioned in Git.
    Git,
    /// Vault snapshot.
    VaultSnapshot,
}

/// How long backups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// For this long.
    For(TimeLimit),
    /// Forever ("Unbegrenzt").
    Forever,
}

impl FromStr for Keep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "forever" => Ok(Keep::Forever),
            other => other.parse().map(Keep::For).map_err(|e| format!("{e}; or \"forever\"")),
        }
    }
}

impl fmt::Display for Keep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keep::For(limit) => limit.fmt(f),
            Keep::Forever => f.write_str("forever"),
        }
    }
}

impl Serialize for Keep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Keep {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Keep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Keep".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A retention such as \"30d\", \"1 year\", or \"forever\".",
        })
    }
}

/// Encryption of backup data at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// AES-256 (restic repositories use AES-256-CTR with Poly1305-AES).
    Aes256,
    /// GPG-signed and encrypted Git.
    Gpg,
}

/// One backup job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupJob {
    /// Whether the job is active.
    pub enabled: bool,
    /// What is backed up.
    pub data: DataClass,
    /// How.
    pub method: BackupMethod,
    /// When.
    pub schedule: BackupSchedule,
    /// How long each backup is kept.
    pub keep: Keep,
    /// Encryption at rest.
    pub encryption: Encryption,
    /// Where the copy is kept (off-site).
    pub location: String,
}

/// Priority of a system for recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Kritisch.
    Critical,
    /// Hoch.
    High,
    /// Normal.
    Normal,
}

/// Recovery objectives of one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryObjective {
    /// Display name of the system.
    pub name: String,
    /// Recovery time objective: maximum time to restore service.
    pub rto: Duration,
    /// Recovery point objective: maximum data loss, as time.
    pub rpo: Duration,
    /// Priority.
    pub priority: Priority,
}

/// How often something recurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Every month.
    Monthly,
    /// Every quarter.
    Quarterly,
    /// Every half year.
    Semiannual,
    /// Every year.
    Annual,
}

impl Frequency {
    /// The period as a calendar limit.
    pub fn period(self) -> TimeLimit {
        match self {
            Frequency::Monthly => TimeLimit::Months(1),
            Frequency::Quarterly => TimeLimit::Months(3),
            Frequency::Semiannual => TimeLimit::Months(6),
            Frequency::Annual => TimeLimit::Years(1),
        }
    }
}

/// A mandatory recovery test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryTest {
    /// What is tested.
    pub name: String,
    /// How often.
    pub frequency: Frequency,
    /// What evidence is kept.
    pub evidence: String,
}

/// Backups and recovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Backup jobs by id.
    pub jobs: BTreeMap<String, BackupJob>,
    /// Recovery objectives by system id.
    pub objectives: BTreeMap<String, RecoveryObjective>,
    /// Recovery tests by id.
    pub tests: BTreeMap<String, RecoveryTest>,
    /// Chaos-engineering game days (DORA Art. 24–27).
    pub game_days: GameDays,
}

/// Game days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GameDays {
    /// How often (quarterly).
    pub frequency: Frequency,
    /// Shortest planned duration (2 h).
    pub min_duration: Duration,
    /// Longest planned duration (4 h).
    pub max_duration: Duration,
    /// A game day in production needs management approval.
    pub production_needs_management_approval: bool,
}

impl Default for Backup {
    fn default() -> Self {
        let off_site = "Sekundäres RZ DE";
        let job = |data, method, schedule: &str, keep: &str, encryption, location: &str| BackupJob {
            enabled: true,
            data,
            method,
            schedule: schedule.parse().unwrap_or(BackupSchedule::Continuous),
            keep: keep.parse().unwrap_or(Keep::Forever),
            encryption,
            location: location.into(),
        };
        use BackupMethod::*;
        use DataClass::*;
        use Encryption::*;
        let jobs = BTreeMap::from([
            ("database-full".into(), job(Database, Full, "0 2 * * *", "30d", Aes256, off_site)),
            ("database-incremental".into(), job(Database, Incremental, "0 * * * *", "7d", Aes256, off_site)),
            ("database-wal".into(), job(Database, Wal, "continuous", "7d", Aes256, off_site)),
            ("files-incremental".into(), job(Files, Incremental, "0 3 * * *", "30d", Aes256, off_site)),
            ("files-full".into(), job(Files, Full, "0 3 * * 0", "30d", Aes256, off_site)),
            ("configuration".into(), job(Configuration, Git, "on change", "forever", Gpg, "Git-Repository DE")),
            ("secrets".into(), job(Secrets, VaultSnapshot, "0 4 * * *", "30d", Aes256, off_site)),
        ]);
        let obj = |name: &str, rto, rpo, priority| RecoveryObjective { name: name.into(), rto, rpo, priority };
        let objectives = BTreeMap::from([
            ("portal".into(), obj("Portal", Duration::from_hours(4), Duration::from_hours(1), Priority::Critical)),
            (
                "enterprise-api".into(),
                obj("Enterprise API", Duration::from_hours(2), Duration::from_mins(15), Priority::Critical),
            ),
            (
                "batch".into(),
                obj("Batch-Verarbeitung", Duration::from_hours(8), Duration::from_hours(4), Priority::High),
            ),
            (
                "internal-tools".into(),
                obj("Interne Tools", Duration::from_hours(24), Duration::from_hours(24), Priority::Normal),
            ),
        ]);
        let test = |name: &str, frequency, evidence: &str| RecoveryTest {
            name: name.into(),
            frequency,
            evidence: evidence.into(),
        };
        let protocol = "Testprotokoll + Dauer";
        let tests = BTreeMap::from([
            ("test-restore".into(), test("Test-Restore (Stichprobe)", Frequency::Monthly, protocol)),
            ("database-restore".into(), test("Datenbank-Restore (Full)", Frequency::Quarterly, protocol)),
            ("point-in-time-recovery".into(), test("Point-in-Time-Recovery", Frequency::Quarterly, protocol)),
            ("application-restore".into(), test("Anwendungs-Restore (komplett)", Frequency::Semiannual, protocol)),
            ("failover".into(), test("Failover-Test", Frequency::Semiannual, protocol)),
            (
                "disaster-recovery".into(),
                test("Disaster Recovery (voll)", Frequency::Annual, "Vollständiger DR-Bericht"),
            ),
        ]);
        Self {
            jobs,
            objectives,
            tests,
            game_days: GameDays {
                frequency: Frequency::Quarterly,
                min_duration: Duration::from_hours(2),
                max_duration: Duration::from_hours(4),
                production_needs_management_approval: true,
            },
        }
    }
}

impl Backup {
    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        for (id, job) in &self.jobs {
            let jpath = join(join(path, "jobs"), id);
            v.check(!matches!(job.keep, Keep::For(limit) if limit.is_zero()), &jpath, "keep", || {
                "backups must be kept for some time".into()
            });
            v.check(!job.location.trim().is_empty(), &jpath, "location", || "an off-site location is required".into());
        }
        for (id, objective) in &self.objectives {
            let opath = join(join(path, "objectives"), id);
            v.check(!objective.rto.is_zero(), &opath, "rto", || "must be longer than 0s".into());
            v.check(!objective.rpo.is_zero(), &opath, "rpo", || {
                "must be longer than 0s (zero data loss cannot be proven by backups)".into()
            });
        }
        let g = &self.game_days;
        v.check(g.min_duration <= g.max_duration, join(path, "game_days"), "min_duration", || {
            format!("shortest duration ({}) exceeds the longest ({})", g.min_duration, g.max_duration)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_explain() {
        assert_eq!("0 2 * * *".parse::<BackupSchedule>().unwrap(), BackupSchedule::Cron("0 2 * * *".into()));
        assert_eq!("continuous".parse::<BackupSchedule>().unwrap(), BackupSchedule::Continuous);
        let err = "every night".parse::<BackupSchedule>().unwrap_err();
        assert!(err.starts_with("\"every night\" is neither"), "{err}");
    }

    #[test]
    fn seed_schedule_is_complete() {
        let b = Backup::default();
        assert_eq!(b.jobs["database-full"].schedule.to_string(), "0 2 * * *");
        assert_eq!(b.jobs["database-full"].keep.to_string(), "30d");
        assert_eq!(b.jobs["database-wal"].schedule, BackupSchedule::Continuous);
        assert_eq!(b.jobs["configuration"].keep, Keep::Forever);
        assert_eq!(b.objectives["enterprise-api"].rpo, Duration::from_mins(15));
        assert_eq!(b.tests["disaster-recovery"].frequency, Frequency::Annual);
    }
}
