//! `leitstand-bench …`: measurements of the monitoring engine on this
//! machine, with the code the server runs (docs/benchmarks.md records the
//! figures; `bench/probes.sh` runs them beside blackbox_exporter).
//!
//! - `probes`: HTTP checks per second against one URL through
//!   [`Checker::run`], each result recorded in a series store as the
//!   server's probe runs do.
//! - `idle-probes`: RSS growth per configured but idle probe: its
//!   [`ProbeDef`], the [`Monitoring`] entry, the runtime's job and a
//!   [`Schedule`] slot; then what the series store adds once each probe has
//!   results.
//! - `rules`: the default rule pack evaluated over a synthetic store.
//! - `alerts`: alert ingest and notification against a running server
//!   (`crate::alerts`).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::BenchCommand;
use anyhow::Context;
use leitstand_app::monitoring::{Monitoring, MonitoringSettings, ProbeDef, probe_labels};
use leitstand_core::Clock;
use leitstand_core::clock::SystemClock;
use leitstand_core::policy::Thresholds;
use leitstand_core::tenant::TenantSlug;
use leitstand_monitor::rules::RuleState;
use leitstand_monitor::series::{Labels, NAME, SeriesStore, normalise};
use leitstand_probes::check::{Check, Checker};
use leitstand_probes::http::HttpProbe;

/// Runs a bench subcommand.
pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Probes { url, concurrency, duration, timeout } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(probes(url, concurrency.max(1), duration.std(), timeout.std()))?;
        }
        BenchCommand::IdleProbes { count, results } => idle_probes(count.max(1), results.max(1))?,
        BenchCommand::Rules { series, duration } => rules(series.max(1), duration.std())?,
        BenchCommand::StoreWrites { backend, batches, size } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            return runtime.block_on(crate::store::store_writes(backend, batches.max(1), size.max(1)));
        }
        BenchCommand::Alerts(options) => crate::alerts::run(options)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The process's resident set (VmRSS) in KiB.
fn rss_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/self/status")
}

/// CPU time (user + system) of the whole process so far, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): state is
    // field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux for every architecture Leitstand builds for.
    Some((utime + stime) / 100.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Appends one run's samples as the server's `run_probe` does.
fn record(store: &mut SeriesStore, labels: &Labels, samples: &[(&'static str, f64)], at_ms: i64) -> usize {
    let mut refused = 0;
    for &(name, value) in samples {
        let mut l = labels.clone();
        l.push((NAME.to_string(), name.to_string()));
        if store.append(normalise(l), at_ms, value).is_err() {
            refused += 1;
        }
    }
    refused
}

struct WorkerResult {
    latencies: Vec<Duration>,
    failed: u64,
    first_failure: Option<String>,
}

async fn probes(url: String, concurrency: usize, duration: Duration, timeout: Duration) -> anyhow::Result<()> {
    let checker = Checker::new(leitstand_probes::tls::system_roots()).context("building the HTTP clients")?;
    let store = Arc::new(Mutex::new(SeriesStore::new(2 * 3_600_000, 1_000_000)));
    let check = Check::Http(HttpProbe::get(&url));
    println!(
        "probes: {url}, {concurrency} concurrent, {:.1} s, timeout {:.1} s, {} tokio workers",
        duration.as_secs_f64(),
        timeout.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        // Each worker is one probe with its own series, as 16 configured
        // probes of the same target would be.
        let def = ProbeDef {
            id: format!("bench-{worker}"),
            name: Some(format!("bench {worker}")),
            tenant: None,
            service: Some("bench".into()),
            labels: Vec::new(),
            check: check.clone(),
            interval: Duration::from_secs(1),
            timeout,
            retries: 0,
        };
        let labels = probe_labels(&def);
        let (checker, store) = (checker.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = WorkerResult { latencies: Vec::new(), failed: 0, first_failure: None };
            while Instant::now() < deadline {
                let started = SystemClock.now();
                let run_id = format!("{}-{}", def.id, started.as_millisecond());
                let outcome = checker.run(&def.check, def.timeout, &run_id, &started.to_string()).await;
                {
                    let mut series = store.lock().unwrap_or_else(|e| e.into_inner());
                    record(&mut series, &labels, &outcome.samples(), started.as_millisecond());
                }
                out.latencies.push(outcome.result.duration);
                if !outcome.result.success() {
                    out.failed += 1;
                    out.first_failure.get_or_insert(outcome.result.message());
                }
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    let (mut failed, mut first_failure) = (0, None);
    for task in tasks {
        let r = task.await.context("a probe worker panicked")?;
        latencies.extend(r.latencies);
        failed += r.failed;
        if first_failure.is_none() {
            first_failure = r.first_failure;
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu_before.zip(cpu_seconds()).map(|(a, b)| b - a);
    latencies.sort_unstable();
    let checks = latencies.len();
    let rate = checks as f64 / elapsed.as_secs_f64();
    println!("checks: {checks} in {:.2} s, {failed} failed", elapsed.as_secs_f64());
    if let Some(why) = first_failure {
        println!("first failure: {why}");
    }
    println!("rate: {rate:.0} checks/s");
    println!(
        "latency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    if let Some(cpu) = cpu {
        println!(
            "cpu: {cpu:.2} s process time ({:.0} % of one core), {:.1} µs per check",
            100.0 * cpu / elapsed.as_secs_f64(),
            1e6 * cpu / checks.max(1) as f64,
        );
    }
    let series = store.lock().map(|s| s.len()).unwrap_or(0);
    println!("series stored: {series}");
    Ok(())
}

fn idle_id(i: usize) -> String {
    format!("portal-{i:06}")
}

fn idle_def(i: usize) -> anyhow::Result<ProbeDef> {
    let url = format!("https://portal-{i}.kunde.example/health");
    Ok(ProbeDef {
        id: idle_id(i),
        name: Some(format!("Portal {i} health")),
        tenant: Some(TenantSlug::parse(format!("tenant-{}", i % 100))?),
        service: Some(format!("portal-{}", i % 50)),
        labels: Vec::new(),
        check: Check::Http(HttpProbe::get(&url)),
        interval: Duration::from_secs(3600),
        timeout: Duration::from_secs(10),
        retries: 2,
    })
}

fn idle_probes(count: usize, results: usize) -> anyhow::Result<()> {
    println!(
        "idle-probes: {count} HTTP probes, 1 h interval, none run; size_of ProbeDef {} B, HttpProbe {} B",
        std::mem::size_of::<ProbeDef>(),
        std::mem::size_of::<HttpProbe>(),
    );
    // The fixed part of a Monitoring (its alert-event channel of 4096 slots),
    // kept alive so the per-probe figure below does not include it.
    let rss0 = rss_kib()?;
    let empty = Monitoring::disabled();
    let rss1 = rss_kib()?;
    println!("fixed: Monitoring with no probes {} KiB", rss1 - rss0);

    let before = rss_kib()?;
    let defs = (0..count).map(idle_def).collect::<anyhow::Result<Vec<_>>>()?;
    let after_defs = rss_kib()?;
    let settings = MonitoringSettings { probes: defs, ..MonitoringSettings::default() };
    let monitoring = Monitoring::new(settings);
    let after_monitoring = rss_kib()?;
    // The runtime's own job list and schedule over the probes.
    let (jobs, schedule) = leitstand_app::monitoring::runtime::jobs(&monitoring);
    let after = rss_kib()?;
    let per = |from: u64, to: u64| (to - from) as f64 * 1024.0 / count as f64;
    println!(
        "configured: RSS {before} → {after} KiB, +{} KiB, {:.0} B per idle probe",
        after - before,
        per(before, after)
    );
    println!(
        "  of which: ProbeDefs as configured {:.0} B, Monitoring's entries (live state; the defs move in) {:.0} B, runtime job and schedule slot {:.0} B",
        per(before, after_defs),
        per(after_defs, after_monitoring),
        per(after_monitoring, after),
    );
    let probe_jobs =
        jobs.iter().filter(|(job, _)| matches!(job, leitstand_app::monitoring::runtime::Job::Probe(_))).count();
    println!("  ({} probes in Monitoring, {probe_jobs} probe jobs, {} scheduled)", count, schedule.len());

    // What the series store adds once each probe has results: three series
    // per HTTP probe (probe_success, probe_duration_seconds,
    // probe_http_status_code), each keyed by its full label set.
    let probe_label_sets: Vec<Labels> =
        (0..count).map(|i| idle_def(i).map(|d| probe_labels(&d))).collect::<anyhow::Result<_>>()?;
    let mut store = SeriesStore::new(2 * 3_600_000, 1_000_000);
    let samples = [("probe_success", 1.0), ("probe_duration_seconds", 0.012), ("probe_http_status_code", 200.0)];
    let base_ms: i64 = 1_767_225_600_000;
    let before_store = rss_kib()?;
    let mut refused = 0;
    for labels in &probe_label_sets {
        refused += record(&mut store, labels, &samples, base_ms);
    }
    let after_first = rss_kib()?;
    for run in 1..results {
        let at = base_ms + run as i64 * 60_000;
        for labels in &probe_label_sets {
            refused += record(&mut store, labels, &samples, at);
        }
    }
    let after_all = rss_kib()?;
    let first = (after_first - before_store) as f64 * 1024.0 / count as f64;
    println!(
        "series store, first result: +{} KiB, {first:.0} B per probe ({} series, {} labels each)",
        after_first - before_store,
        store.len(),
        probe_label_sets.first().map_or(0, |l| l.len() + 1),
    );
    if results > 1 {
        let all = (after_all - before_store) as f64 * 1024.0 / count as f64;
        let per_point = (after_all - after_first) as f64 * 1024.0 / ((results - 1) * count * samples.len()) as f64;
        println!(
            "series store, {results} results each (1 min apart, {} min of the 2 h retention): +{} KiB, \
             {all:.0} B per probe, {per_point:.1} B per further point",
            results - 1,
            after_all - before_store,
        );
    }
    if refused > 0 {
        println!("refused samples: {refused}");
    }
    std::hint::black_box((&empty, &monitoring, &schedule, &jobs, &store));
    Ok(())
}

/// A synthetic store of exactly `count` series, points every 30 s over
/// 65 min ending at `at_ms`.
struct Synthetic {
    store: SeriesStore,
    count: usize,
    at_ms: i64,
    points: usize,
}

const STEP_MS: i64 = 30_000;
const HISTORY_MS: i64 = 65 * 60_000;

impl Synthetic {
    fn full(&self) -> bool {
        self.store.len() >= self.count
    }

    /// One series: `value(t)` with `t` in seconds since the first point.
    fn series(&mut self, name: &str, labels: &[(&str, String)], value: impl Fn(f64) -> f64) {
        if self.full() {
            return;
        }
        let mut l: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        l.push((NAME.to_string(), name.to_string()));
        let l = normalise(l);
        let first = self.at_ms - HISTORY_MS;
        let mut t = first;
        while t <= self.at_ms {
            let secs = (t - first) as f64 / 1000.0;
            // Errors cannot happen: times only grow and the limit is checked.
            let _ = self.store.append(l.clone(), t, value(secs));
            self.points += 1;
            t += STEP_MS;
        }
    }

    /// One "unit": a host (node_exporter names), an application service of
    /// a tenant, one service instance's pool/queue/security counters, a
    /// batch job and three probes (HTTP, TCP, TLS) — 51 series. Every 10th
    /// host is busy, every 7th service has 5xx errors, every 13th probe
    /// fails, every 17th certificate expires within days and every 19th
    /// batch job has not started, so some rules fire.
    fn unit(&mut self, k: usize) {
        let host = format!("host-{k}:9100");
        let busy = k.is_multiple_of(10);
        for cpu in 0..2 {
            for (mode, share) in
                [("idle", if busy { 0.04 } else { 0.7 }), ("user", 0.2), ("system", 0.06), ("iowait", 0.04)]
            {
                let labels = [
                    ("job", "node".into()),
                    ("instance", host.clone()),
                    ("cpu", cpu.to_string()),
                    ("mode", mode.into()),
                ];
                self.series("node_cpu_seconds_total", &labels, move |t| 1e5 + share * t);
            }
        }
        let node = [("job", "node".to_string()), ("instance", host.clone())];
        self.series("node_memory_MemTotal_bytes", &node, |_| 8e9);
        self.series("node_memory_MemAvailable_bytes", &node, move |_| if busy { 0.5e9 } else { 3e9 });
        for (mount, fstype, avail) in [("/", "ext4", 40e9), ("/run", "tmpfs", 0.5e9)] {
            let labels = [node[0].clone(), node[1].clone(), ("mountpoint", mount.into()), ("fstype", fstype.into())];
            self.series("node_filesystem_size_bytes", &labels, |_| 100e9);
            self.series("node_filesystem_avail_bytes", &labels, move |_| avail);
        }
        let disk = [node[0].clone(), node[1].clone(), ("device", "sda".to_string())];
        self.series("node_disk_reads_completed_total", &disk, |t| 1e6 + 50.0 * t);
        self.series("node_disk_writes_completed_total", &disk, |t| 1e6 + 80.0 * t);
        self.series("node_disk_read_time_seconds_total", &disk, |t| 1e3 + 0.05 * t);
        self.series("node_disk_write_time_seconds_total", &disk, |t| 1e3 + 0.2 * t);

        let service = format!("svc-{}", k % 20);
        let tenant = format!("tenant-{}", k / 20);
        let app = [("job", "app".to_string()), ("service", service.clone()), ("tenant", tenant.clone())];
        let errors = if k.is_multiple_of(7) { 0.1 } else { 0.001 };
        for (code, share) in [("200", 0.9 - errors), ("404", 0.1), ("500", errors * 0.7), ("503", errors * 0.3)] {
            let labels = [app[0].clone(), app[1].clone(), app[2].clone(), ("code", code.into())];
            self.series("http_requests_total", &labels, move |t| 1e4 + 100.0 * share * t);
        }
        for (le, share) in
            [("0.05", 0.5), ("0.1", 0.7), ("0.25", 0.9), ("0.5", 0.96), ("1", 0.99), ("2.5", 1.0), ("+Inf", 1.0)]
        {
            let labels = [app[0].clone(), app[1].clone(), app[2].clone(), ("le", le.into())];
            self.series("http_request_duration_seconds_bucket", &labels, move |t| 1e4 * share + 100.0 * share * t);
        }
        self.series("api_requests_total", &app, |t| 1e3 + 20.0 * t);
        self.series("api_auth_failures_total", &app, |t| 10.0 + 0.01 * t);
        for (outcome, rate) in [("success", 0.5), ("failure", 0.01)] {
            let labels = [app[0].clone(), app[1].clone(), app[2].clone(), ("outcome", outcome.into())];
            self.series("contracts_processed_total", &labels, move |t| 100.0 + rate * t);
        }
        let labels = [app[0].clone(), app[1].clone(), app[2].clone(), ("partner", "erp".into())];
        self.series("partner_sync_up", &labels, move |_| if k.is_multiple_of(11) { 0.0 } else { 1.0 });

        let inst = [("job", "app".to_string()), ("service", service), ("instance", format!("app-{k}:8080"))];
        self.series("db_pool_connections_max", &inst, |_| 50.0);
        self.series("db_pool_connections_active", &inst, |_| 12.0);
        let labels = [inst[0].clone(), inst[1].clone(), inst[2].clone(), ("queue", "orders".into())];
        self.series("queue_depth", &labels, |_| 40.0);
        self.series("auth_login_failures_total", &inst, |t| 5.0 + 0.02 * t);
        self.series("rate_limit_hits_total", &inst, |t| 2.0 + 0.01 * t);

        let batch = [("job", "batch".to_string()), ("tenant", tenant.clone()), ("job_name", format!("export-{k}"))];
        let (late, now_s) = (k.is_multiple_of(19), self.at_ms as f64 / 1000.0);
        self.series("batch_job_running_seconds", &batch, move |_| if late { 2_000.0 } else { 120.0 });
        self.series("batch_job_normal_duration_seconds", &batch, |_| 300.0);
        self.series("batch_job_scheduled_timestamp_seconds", &batch, move |_| {
            if late { now_s - 86_400.0 } else { now_s + 3_600.0 }
        });
        self.series("batch_job_last_start_timestamp_seconds", &batch, move |_| {
            if late { now_s - 90_000.0 } else { now_s - 3_500.0 }
        });

        let down = k.is_multiple_of(13);
        let days = if k.is_multiple_of(17) { 5.0 } else { 60.0 };
        let expiry = self.at_ms as f64 / 1000.0 + days * 86_400.0;
        for (kind, target) in [
            ("http", format!("https://portal-{k}.kunde.example/health")),
            ("tcp", format!("db-{k}.kunde.example:5432")),
            ("tls", format!("portal-{k}.kunde.example:443")),
        ] {
            let labels = [
                ("job", "probe".to_string()),
                ("probe", kind.into()),
                ("probe_id", format!("{kind}-{k}")),
                ("instance", target),
                ("tenant", tenant.clone()),
            ];
            self.series("probe_success", &labels, move |_| if down { 0.0 } else { 1.0 });
            self.series("probe_duration_seconds", &labels, |_| 0.02);
            match kind {
                "http" => self.series("probe_http_status_code", &labels, move |_| if down { 503.0 } else { 200.0 }),
                "tls" => self.series("probe_ssl_earliest_cert_expiry", &labels, move |_| expiry),
                _ => {}
            }
        }
    }
}

fn rules(count: usize, duration: Duration) -> anyhow::Result<()> {
    let rules = leitstand_monitor::pack::default_pack(&Thresholds::default())?;
    let at_ms: i64 = 1_767_225_600_000;
    let built = Instant::now();
    let mut synthetic = Synthetic { store: SeriesStore::new(2 * 3_600_000, usize::MAX), count, at_ms, points: 0 };
    let mut unit = 0;
    while !synthetic.full() {
        synthetic.unit(unit);
        unit += 1;
    }
    let series = synthetic.store.len();
    println!(
        "rules: {} rules of the default pack over {series} series ({} points, 30 s apart over 65 min; {unit} hosts/services), built in {:.1} s",
        rules.len(),
        synthetic.points,
        built.elapsed().as_secs_f64(),
    );
    let store = synthetic.store;
    let mut states = vec![RuleState::default(); rules.len()];
    let mut per_rule = vec![Duration::ZERO; rules.len()];
    let mut rounds = 0u64;
    let mut errors = 0u64;
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    while rounds == 0 || start.elapsed() < duration {
        for (i, (rule, state)) in rules.iter().zip(&mut states).enumerate() {
            let t = Instant::now();
            if state.evaluate(rule, &store, at_ms).is_err() {
                errors += 1;
            }
            per_rule[i] += t.elapsed();
        }
        rounds += 1;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_before.zip(cpu_seconds()).map(|(a, b)| b - a);
    let evaluations = rounds * rules.len() as u64;
    let per_s = evaluations as f64 / elapsed.as_secs_f64();
    println!(
        "rounds: {rounds} in {:.2} s, {:.2} ms per round of all rules (one thread{})",
        elapsed.as_secs_f64(),
        ms(elapsed) / rounds as f64,
        cpu.map(|c| format!(", {:.0} % of one core", 100.0 * c / elapsed.as_secs_f64())).unwrap_or_default(),
    );
    println!("rate: {per_s:.0} rule evaluations/s, {:.3e} (series × rules)/s", per_s * series as f64);
    let alerts: usize = states.iter().map(|s| s.alerts.len()).sum();
    let firing_rules: Vec<&str> =
        rules.iter().zip(&states).filter(|(_, s)| !s.alerts.is_empty()).map(|(r, _)| r.name.as_str()).collect();
    println!(
        "alerts: {alerts} active in {} rules ({}), {errors} failed evaluations",
        firing_rules.len(),
        firing_rules.join(", ")
    );
    let missing: Vec<String> = states.iter().flat_map(|s| s.missing_metrics.clone()).collect();
    if !missing.is_empty() {
        println!("missing metrics: {}", missing.join(", "));
    }
    let mut slowest: Vec<(usize, Duration)> = per_rule.iter().copied().enumerate().collect();
    slowest.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    let top: Vec<String> =
        slowest.iter().take(5).map(|(i, d)| format!("{} {:.2} ms", rules[*i].name, ms(*d) / rounds as f64)).collect();
    println!("slowest rules per round: {}", top.join(", "));
    Ok(())
}
