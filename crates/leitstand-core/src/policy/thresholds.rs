//! The seed's four threshold tables (infrastructure, application, security,
//! business), each metric with a warning and a critical level and an
//! evaluation interval.
//!
//! What a metric *means* — its unit, whether "worse" is above or below the
//! threshold — is fixed here in [`MetricInfo`] and cannot be configured; only
//! the numbers can. The rule pack and the handbook read [`Thresholds::entries`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::time_limit::Duration;

/// A warning/critical pair with its evaluation interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Level at which the warning alert fires.
    pub warning: f64,
    /// Level at which the critical alert fires.
    pub critical: f64,
    /// How often the metric is evaluated.
    pub interval: Duration,
}

const fn t(warning: f64, critical: f64, interval: Duration) -> Threshold {
    Threshold { warning, critical, interval }
}

/// Whether a value is bad when it rises above or falls below the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Fires when the value is greater than the threshold.
    Above,
    /// Fires when the value is less than the threshold.
    Below,
}

/// The level an alert fires at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    /// Level 1 of the escalation.
    Warning,
    /// Level 2 of the escalation.
    Critical,
}

/// The unit a threshold is expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Percent, 0–100.
    Percent,
    /// Milliseconds.
    Milliseconds,
    /// Events per minute.
    PerMinute,
    /// A plain count.
    Count,
    /// Days.
    Days,
}

impl Unit {
    /// Short symbol for tables.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Milliseconds => "ms",
            Unit::PerMinute => "/min",
            Unit::Count => "",
            Unit::Days => "d",
        }
    }
}

/// The fixed meaning of one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// Config key, e.g. `cpu`.
    pub key: &'static str,
    /// German name as in the seed table.
    pub title_de: &'static str,
    /// English name.
    pub title_en: &'static str,
    /// Unit of warning and critical.
    pub unit: Unit,
    /// Which side is bad.
    pub direction: Direction,
}

impl Threshold {
    /// The level `value` is at, if any. Critical wins over warning.
    pub fn level(&self, direction: Direction, value: f64) -> Option<AlertLevel> {
        let breaches = |limit: f64| match direction {
            Direction::Above => value > limit,
            Direction::Below => value < limit,
        };
        if breaches(self.critical) {
            Some(AlertLevel::Critical)
        } else if breaches(self.warning) {
            Some(AlertLevel::Warning)
        } else {
            None
        }
    }

    fn validate(&self, info: &MetricInfo, path: &str, v: &mut Violations) {
        for (key, value) in [("warning", self.warning), ("critical", self.critical)] {
            v.check(value.is_finite() && value >= 0.0, path, key, || {
                format!("must be a non-negative number, got {value}")
            });
            if info.unit == Unit::Percent {
                v.check(value <= 100.0, path, key, || format!("a percentage must be at most 100, got {value}"));
            }
        }
        match info.direction {
            Direction::Above => v.check(self.warning < self.critical, path, "warning", || {
                format!(
                    "warning ({}) must be below critical ({}): {} fires above it",
                    self.warning, self.critical, info.key
                )
            }),
            Direction::Below => v.check(self.warning > self.critical, path, "warning", || {
                format!(
                    "warning ({}) must be above critical ({}): {} fires below it",
                    self.warning, self.critical, info.key
                )
            }),
        }
        v.check(!self.interval.is_zero(), path, "interval", || "evaluation interval must be longer than 0s".into());
    }
}

macro_rules! threshold_table {
    (
        $(#[$doc:meta])* $name:ident {
            $( $(#[$fdoc:meta])* $field:ident : $de:literal, $en:literal, $unit:ident, $dir:ident = $default:expr; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: Threshold, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        impl $name {
            /// The fixed meaning of every threshold in this table.
            pub const INFO: &'static [MetricInfo] = &[
                $( MetricInfo { key: stringify!($field), title_de: $de, title_en: $en, unit: Unit::$unit, direction: Direction::$dir }, )*
            ];

            /// Each threshold with its meaning, in table order.
            pub fn entries(&self) -> Vec<(&'static MetricInfo, &Threshold)> {
                Self::INFO.iter().zip([ $( &self.$field, )* ]).collect()
            }
        }
    };
}

const S30: Duration = Duration::from_secs(30);
const S60: Duration = Duration::from_secs(60);
const M5: Duration = Duration::from_mins(5);

threshold_table! {
    /// Infrastructure: the hosts the portal runs on.
    InfrastructureThresholds {
        /// CPU utilisation in percent (> 70 % / > 90 %, every 30 s).
        cpu: "CPU", "CPU", Percent, Above = t(70.0, 90.0, S30);
        /// Memory utilisation in percent (> 75 % / > 90 %, every 30 s).
        memory: "Memory", "Memory", Percent, Above = t(75.0, 90.0, S30);
        /// Disk usage in percent (> 70 % / > 85 %, every 60 s).
        disk: "Disk", "Disk", Percent, Above = t(70.0, 85.0, S60);
        /// Disk I/O latency in milliseconds (> 10 ms / > 50 ms, every 30 s).
        disk_io_latency: "Disk I/O Latenz", "Disk I/O latency", Milliseconds, Above = t(10.0, 50.0, S30);
        /// Network latency in milliseconds (> 100 ms / > 500 ms, every 30 s).
        network_latency: "Netzwerk-Latenz", "Network latency", Milliseconds, Above = t(100.0, 500.0, S30);
    }
}

threshold_table! {
    /// Application: the portal's own service level.
    ApplicationThresholds {
        /// Share of HTTP 5xx responses in percent (> 1 % / > 5 %, every 30 s).
        http_5xx_rate: "HTTP 5xx Rate", "HTTP 5xx rate", Percent, Above = t(1.0, 5.0, S30);
        /// 95th percentile response time in ms (> 500 ms / > 2000 ms, every 30 s).
        response_time_p95: "Response Time P95", "Response time P95", Milliseconds, Above = t(500.0, 2000.0, S30);
        /// Drop of the request rate against its usual level, in percent (> 30 % / > 50 %, every 60 s).
        request_rate_drop: "Request Rate Drop", "Request rate drop", Percent, Above = t(30.0, 50.0, S60);
        /// Active database connections as percent of the pool (> 70 % / > 90 %, every 30 s).
        db_connections: "Active DB Connections", "Active DB connections", Percent, Above = t(70.0, 90.0, S30);
        /// Jobs waiting in the queue (> 100 / > 500, every 30 s).
        queue_depth: "Queue Depth", "Queue depth", Count, Above = t(100.0, 500.0, S30);
    }
}

threshold_table! {
    /// Security: attacks and expiring trust.
    SecurityThresholds {
        /// Failed logins per minute from one IP address (> 10 / > 50, every 30 s).
        failed_logins_per_ip: "Failed Logins pro IP", "Failed logins per IP", PerMinute, Above = t(10.0, 50.0, S30);
        /// Failed API authentications as percent of API requests (> 5 % / > 10 %, every 30 s).
        failed_api_auth: "Failed API Auth", "Failed API auth", Percent, Above = t(5.0, 10.0, S30);
        /// Rate-limit hits per minute (> 100 / > 500, every 30 s).
        rate_limit_hits: "Rate Limit Hits", "Rate limit hits", PerMinute, Above = t(100.0, 500.0, S30);
        /// Days until a TLS certificate expires (< 30 d / < 7 d, every 24 h).
        certificate_expiry: "Certificate Expiry", "Certificate expiry", Days, Below = t(30.0, 7.0, Duration::from_hours(24));
    }
}

/// Batch jobs: warning when a run takes longer than a multiple of its normal
/// duration, critical when a scheduled run has not started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchJobThreshold {
    /// Warning when a run takes longer than this multiple of its normal
    /// duration (seed: 2× Normalzeit).
    pub warning_runtime_factor: f64,
    /// Critical when a scheduled run has not started this long after its
    /// scheduled time (seed: "Nicht gestartet").
    pub critical_not_started_after: Duration,
    /// How often batch jobs are checked (seed: 5 min).
    pub interval: Duration,
}

/// Business thresholds: the portal's processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessThresholds {
    /// Contract processing success rate in percent (< 90 % / < 80 %, every 5 min).
    pub contract_processing_success: Threshold,
    /// Partner (Maklerhaus) API syncs failing at once (> 2 / > 5 partners, every 5 min).
    pub partner_sync_failures: Threshold,
    /// Batch-job lateness (2× normal run time / not started, every 5 min).
    pub batch_jobs: BatchJobThreshold,
}

impl Default for BusinessThresholds {
    fn default() -> Self {
        Self {
            contract_processing_success: t(90.0, 80.0, M5),
            partner_sync_failures: t(2.0, 5.0, M5),
            batch_jobs: BatchJobThreshold { warning_runtime_factor: 2.0, critical_not_started_after: M5, interval: M5 },
        }
    }
}

impl BusinessThresholds {
    /// The fixed meaning of the warning/critical thresholds in this table.
    pub const INFO: &'static [MetricInfo] = &[
        MetricInfo {
            key: "contract_processing_success",
            title_de: "Vertragsverarbeitung",
            title_en: "Contract processing",
            unit: Unit::Percent,
            direction: Direction::Below,
        },
        MetricInfo {
            key: "partner_sync_failures",
            title_de: "API-Sync Maklerhäuser",
            title_en: "Partner API sync",
            unit: Unit::Count,
            direction: Direction::Above,
        },
    ];

    /// Each warning/critical threshold with its meaning, in table order.
    pub fn entries(&self) -> Vec<(&'static MetricInfo, &Threshold)> {
        Self::INFO.iter().zip([&self.contract_processing_success, &self.partner_sync_failures]).collect()
    }
}

/// All threshold tables of the seed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Infrastructure table.
    pub infrastructure: InfrastructureThresholds,
    /// Application table.
    pub application: ApplicationThresholds,
    /// Security table.
    pub security: SecurityThresholds,
    /// Business table.
    pub business: BusinessThresholds,
}

/// The table a threshold belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdTable {
    /// Infrastruktur.
    Infrastructure,
    /// Anwendung.
    Application,
    /// Security.
    Security,
    /// Business.
    Business,
}

impl ThresholdTable {
    /// Config key of the table.
    pub fn key(self) -> &'static str {
        match self {
            ThresholdTable::Infrastructure => "infrastructure",
            ThresholdTable::Application => "application",
            ThresholdTable::Security => "security",
            ThresholdTable::Business => "business",
        }
    }
}

impl Thresholds {
    /// Every warning/critical threshold with its table and meaning (batch
    /// jobs excluded; see [`BusinessThresholds::batch_jobs`]).
    pub fn entries(&self) -> Vec<(ThresholdTable, &'static MetricInfo, &Threshold)> {
        let tag = |table| move |(info, t)| (table, info, t);
        self.infrastructure
            .entries()
            .into_iter()
            .map(tag(ThresholdTable::Infrastructure))
            .chain(self.application.entries().into_iter().map(tag(ThresholdTable::Application)))
            .chain(self.security.entries().into_iter().map(tag(ThresholdTable::Security)))
            .chain(self.business.entries().into_iter().map(tag(ThresholdTable::Business)))
            .collect()
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        for (table, info, threshold) in self.entries() {
            threshold.validate(info, &join(join(path, table.key()), info.key), v);
        }
        let batch = &self.business.batch_jobs;
        let bpath = join(path, "business.batch_jobs");
        v.check(
            batch.warning_runtime_factor.is_finite() && batch.warning_runtime_factor > 1.0,
            &bpath,
            "warning_runtime_factor",
            || {
                format!(
                    "must be greater than 1 (a multiple of the normal run time), got {}",
                    batch.warning_runtime_factor
                )
            },
        );
        v.check(!batch.interval.is_zero(), &bpath, "interval", || "evaluation interval must be longer than 0s".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_values_are_the_defaults() {
        let th = Thresholds::default();
        assert_eq!(th.infrastructure.cpu, t(70.0, 90.0, S30));
        assert_eq!(th.security.certificate_expiry.critical, 7.0);
        assert_eq!(th.security.certificate_expiry.interval.to_string(), "24h");
        assert_eq!(th.business.contract_processing_success.warning, 90.0);
        assert_eq!(th.entries().len(), 16);
    }

    #[test]
    fn levels_respect_direction() {
        let th = Thresholds::default();
        let cpu = th.infrastructure.cpu;
        assert_eq!(cpu.level(Direction::Above, 70.0), None, "the seed says > 70 %");
        assert_eq!(cpu.level(Direction::Above, 70.1), Some(AlertLevel::Warning));
        assert_eq!(cpu.level(Direction::Above, 95.0), Some(AlertLevel::Critical));
        let cert = th.security.certificate_expiry;
        assert_eq!(cert.level(Direction::Below, 45.0), None);
        assert_eq!(cert.level(Direction::Below, 20.0), Some(AlertLevel::Warning));
        assert_eq!(cert.level(Direction::Below, 3.0), Some(AlertLevel::Critical));
    }

    #[test]
    fn inverted_below_threshold_is_rejected() {
        let mut th = Thresholds::default();
        th.security.certificate_expiry.warning = 5.0;
        th.application.http_5xx_rate.critical = 150.0;
        let mut v = Violations::default();
        th.validate("thresholds", &mut v);
        let msgs: Vec<_> = v.0.iter().map(|x| format!("{}: {}", x.path, x.message)).collect();
        assert_eq!(
            msgs,
            [
                "thresholds.application.http_5xx_rate.critical: a percentage must be at most 100, got 150",
                "thresholds.security.certificate_expiry.warning: warning (5) must be above critical (7): certificate_expiry fires below it",
            ]
        );
    }
}
