//! Leitstand's own metrics in Prometheus / OpenMetrics text: HTTP requests by
//! route, method and status, request latency, store latency per operation,
//! build info and the process's memory.

use std::sync::Mutex;
use std::time::Duration;

use leitstand_app::{Backend, StoreObserver};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WitnessLabels {
    witness: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    backend: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreErrorLabels {
    backend: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    backend: &'static str,
}

/// The metrics registry and the families Leitstand records into.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    store_latency: Family<StoreLabels, Histogram>,
    store_errors: Family<StoreErrorLabels, Counter>,
    resident_memory: Gauge,
    failed_per_ip: Gauge,
    failed_per_account: Gauge,
    failed_total: Gauge,
    audit: [Gauge; 5],
    witness: [Family<WitnessLabels, Gauge>; 2],
    siem: [Gauge; 4],
    monitoring: [Gauge; 7],
    alerting: [Gauge; 6],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    /// A registry for a process on `backend`, started at `start_time`.
    pub fn new(backend: Backend, start_time: jiff::Timestamp) -> Self {
        let mut registry = Registry::with_prefix("leitstand");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from request to response",
            Unit::Seconds,
            latency.clone(),
        );
        let store_latency =
            Family::<StoreLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "store_operation_duration",
            "Duration of store operations",
            Unit::Seconds,
            store_latency.clone(),
        );
        let store_errors = Family::<StoreErrorLabels, Counter>::default();
        registry.register("store_operation_errors", "Store operations that failed", store_errors.clone());
        let build = Family::<BuildLabels, Gauge>::default();
        build.get_or_create(&BuildLabels { version: env!("CARGO_PKG_VERSION"), backend: backend.as_str() }).set(1);
        registry.register("build_info", "Version and database backend; always 1", build);

        let process = registry.sub_registry_with_prefix("process");
        let started = Gauge::<i64>::default();
        started.set(start_time.as_second());
        process.register_with_unit("start_time", "Start time since the Unix epoch", Unit::Seconds, started);
        let resident_memory = Gauge::default();
        process.register_with_unit(
            "resident_memory",
            "Resident set size, read at scrape time",
            Unit::Bytes,
            resident_memory.clone(),
        );

        let auth = registry.sub_registry_with_prefix("auth");
        let failed_per_ip = Gauge::default();
        auth.register(
            "failed_logins_per_ip_max_1m",
            "Failed logins in the last minute from the busiest source address (thresholds: 10 warning, 50 critical)",
            failed_per_ip.clone(),
        );
        let failed_per_account = Gauge::default();
        auth.register(
            "failed_logins_per_account_max_1m",
            "Failed logins in the last minute for the most attacked account",
            failed_per_account.clone(),
        );
        let failed_total = Gauge::default();
        auth.register("failed_logins_since_start", "Failed logins since this process started", failed_total.clone());

        let log = registry.sub_registry_with_prefix("audit_log");
        let audit = gauges(
            log,
            [
                ("sequenced_events", "Events durable in the audit journal"),
                ("published_events", "Events covered by the published signed checkpoint"),
                ("indexed_events", "Events in the audit query index"),
                ("verify_findings", "Findings of the last self-verification (0 = the log verified; alert on > 0)"),
                ("verify_runs", "Completed self-verifications since start"),
            ],
        );
        let witness: [Family<WitnessLabels, Gauge>; 2] = Default::default();
        for (family, (name, help)) in witness.iter().zip([
            ("witness_cosigned_size", "Tree size a witness last cosigned"),
            ("witness_refusals", "Checkpoints a witness refused or could not cosign since start (alert on growth)"),
        ]) {
            log.register(name, help, family.clone());
        }
        let siem = gauges(
            log,
            [
                (
                    "siem_forwarded_events",
                    "Events confirmed delivered to the SIEM (its cursor; compare with sequenced)",
                ),
                ("siem_connected", "1 while a connection to the SIEM is open"),
                ("siem_failures", "SIEM connection or write failures since start"),
                ("siem_skipped_events", "Events deleted by retention before they reached the SIEM (alert on > 0)"),
            ],
        );

        let mon = registry.sub_registry_with_prefix("monitoring");
        let monitoring = gauges(
            mon,
            [
                ("active", "1 while this replica runs the probes, scrapes and rules (holds the monitoring lease)"),
                ("series", "Series in the embedded store"),
                ("probes_down", "Probes whose target is down"),
                ("alerts_firing", "Alerts firing"),
                ("probe_runs", "Probe checks run since start"),
                ("scrapes", "Scrapes run since start"),
                ("refused_samples", "Samples not stored since start (series limit, out of order; alert on growth)"),
            ],
        );

        let alert = registry.sub_registry_with_prefix("alerting");
        let alerting = gauges(
            alert,
            [
                ("active", "1 while this replica runs the alert engine and the dispatcher (holds the alerting lease)"),
                ("received", "Alerts received since start (API, webhook, own rules)"),
                ("firing", "Alerts open and firing in the engine"),
                ("delivered", "Notifications delivered since start"),
                ("failed_attempts", "Delivery attempts that failed since start"),
                ("intake_backlog", "Intake log records not yet applied by the engine (alert on growth)"),
            ],
        );

        Self {
            registry: Mutex::new(registry),
            requests,
            latency,
            store_latency,
            store_errors,
            resident_memory,
            failed_per_ip,
            failed_per_account,
            failed_total,
            audit,
            witness,
            siem,
            monitoring,
            alerting,
        }
    }

    /// Sets the SIEM gauges: confirmed cursor, connected, failures, skipped.
    pub fn set_siem(&self, values: [u64; 4]) {
        set_all(&self.siem, values);
    }

    /// Sets one witness's gauges: cosigned size and refusals.
    pub fn set_witness(&self, witness: &str, cosigned: u64, refusals: u64) {
        for (family, v) in self.witness.iter().zip([cosigned, refusals]) {
            family.get_or_create(&WitnessLabels { witness: witness.into() }).set(i64::try_from(v).unwrap_or(i64::MAX));
        }
    }

    /// Sets the monitoring gauges: active, series, probes down, alerts
    /// firing, probe runs, scrapes, refused samples.
    pub fn set_monitoring(&self, values: [u64; 7]) {
        set_all(&self.monitoring, values);
    }

    /// Sets the alerting gauges: active, received, firing, delivered,
    /// failed attempts, intake backlog.
    pub fn set_alerting(&self, values: [u64; 6]) {
        set_all(&self.alerting, values);
    }

    /// Sets the audit log gauges: sequenced, published, indexed, findings, runs.
    pub fn set_audit_log(&self, values: [u64; 5]) {
        set_all(&self.audit, values);
    }

    /// Records one HTTP request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests.get_or_create(&RequestLabels { route: route.into(), method: method.into(), status }).inc();
        self.latency
            .get_or_create(&LatencyLabels { route: route.into(), method: method.into() })
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the failed-login gauges.
    pub fn set_failed_logins(&self, per_ip: u64, per_account: u64, total: u64) {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.failed_per_ip.set(clamp(per_ip));
        self.failed_per_account.set(clamp(per_account));
        self.failed_total.set(clamp(total));
    }

    /// The exposition text (OpenMetrics 1.0, which Prometheus scrapes).
    pub fn encode(&self) -> String {
        if let Some(rss) = resident_memory_bytes() {
            self.resident_memory.set(rss);
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

impl StoreObserver for Metrics {
    fn observe(&self, backend: Backend, operation: &'static str, elapsed: Duration, ok: bool) {
        let labels = StoreLabels { backend: backend.as_str(), operation };
        self.store_latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if !ok {
            self.store_errors.get_or_create(&StoreErrorLabels { backend: backend.as_str(), operation }).inc();
        }
    }
}

/// Registers one gauge per (name, help) in `registry`.
fn gauges<const N: usize>(registry: &mut Registry, specs: [(&str, &str); N]) -> [Gauge; N] {
    let gauges: [Gauge; N] = std::array::from_fn(|_| Gauge::default());
    for (gauge, (name, help)) in gauges.iter().zip(specs) {
        registry.register(name, help, gauge.clone());
    }
    gauges
}

/// Sets each gauge to its value (saturating at `i64::MAX`).
fn set_all(gauges: &[Gauge], values: impl IntoIterator<Item = u64>) {
    for (gauge, v) in gauges.iter().zip(values) {
        gauge.set(i64::try_from(v).unwrap_or(i64::MAX));
    }
}

/// RSS from `/proc/self/statm` (Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
