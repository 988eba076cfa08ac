//! `leitstand bench alerts`: the alert lifecycle as a sender and a receiver
//! see it, against any server that speaks Alertmanager's API v2
//! (`POST /api/v2/alerts`) and notifies a webhook in Alertmanager's format
//! (version 4) — Leitstand and Alertmanager alike, so both are measured by
//! the same client, the same way, in the same run (`bench/alerts.sh`,
//! docs/benchmarks.md).
//!
//! Why from outside: the issue's goals are about what a user of the server
//! sees — alerts accepted per second (for Leitstand: durably stored before
//! the `200`), the server's memory with 10 k and 100 k active alerts, every
//! notification delivered, and the time from sending an alert to its
//! webhook. Only the HTTP interfaces both servers share can measure that for
//! both.
//!
//! - Receiver: a webhook endpoint on loopback (`--receiver-port`) that
//!   records, per alert in each body, when it arrived. Each alert carries the
//!   annotation `sent_ns` (nanoseconds since the UNIX epoch when the bench
//!   sent it), so a latency needs no bookkeeping shared with the sender.
//! - Ingest: `clients` tasks post batches of `per-request` distinct alerts
//!   until `alerts` are sent, first up to `--checkpoint` (10 k), then the
//!   rest; after each part the bench waits for the notifications and reads
//!   the server's `VmRSS` (`--pid`).
//! - Latency: single new alerts, one request at a time at `--rate` for
//!   `--latency-duration`; p50/p99/max from `sent_ns` to the webhook.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use leitstand_core::Clock;
use leitstand_core::clock::SystemClock;
use leitstand_core::input::Secret;
use serde::Deserialize;

/// What `leitstand-bench alerts` is asked to do: alert ingest and
/// notification against a server speaking Alertmanager's API v2 (Leitstand
/// or Alertmanager; it stores the alerts sent): alerts accepted per second,
/// the server's memory at 10 k and all active alerts, notifications
/// delivered to a webhook receiver started here, and the time from sending
/// to the webhook.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Base URL of the server, e.g. http://127.0.0.1:9093.
    #[arg(long)]
    pub target: String,
    /// Bearer token (Leitstand: scope `ingest`); none for Alertmanager.
    #[arg(long, env = "LEITSTAND_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// Distinct alerts sent in the ingest phase.
    #[arg(long, default_value_t = 100_000)]
    pub alerts: usize,
    /// Concurrent senders in the ingest phase.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Alerts per request in the ingest phase.
    #[arg(long, default_value_t = 100)]
    pub per_request: usize,
    /// Active alerts at which the server's memory is read first.
    #[arg(long, default_value_t = 10_000)]
    pub checkpoint: usize,
    /// Loopback port of the webhook receiver the server notifies.
    #[arg(long, default_value_t = 19095)]
    pub receiver_port: u16,
    /// The server's process id (memory and CPU time from /proc).
    #[arg(long)]
    pub pid: Option<u32>,
    /// Single alerts per second in the latency phase.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Length of the latency phase.
    #[arg(long, default_value = "10s")]
    pub latency_duration: leitstand_core::time_limit::Duration,
    /// Longest wait for outstanding notifications after each phase.
    #[arg(long, default_value = "60s")]
    pub drain: leitstand_core::time_limit::Duration,
    /// Pause after the notifications arrived before memory is read.
    #[arg(long, default_value = "2s")]
    pub settle: leitstand_core::time_limit::Duration,
}

/// Runs the benchmark and prints its figures.
pub fn run(options: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(bench(options))
}

fn now_ns() -> i64 {
    i64::try_from(SystemClock.now().as_nanosecond()).unwrap_or(i64::MAX)
}

/// Latency not yet recorded.
const NONE: i64 = i64::MIN;

/// What the webhook receiver has seen, per alert number (`instance=i-<n>`).
struct Received {
    /// Webhook arrival minus `sent_ns` of the first delivery, ns.
    latency_ns: Vec<AtomicI64>,
    /// Deliveries per alert (more than one: a repeat).
    deliveries: Vec<AtomicU32>,
    /// Alerts with a first delivery.
    distinct: AtomicUsize,
    bodies: AtomicU64,
    /// Alerts in bodies that are not the bench's, or bodies that did not parse.
    foreign: AtomicU64,
    /// The first few of those: their alertname, or why the body was unreadable.
    foreign_seen: Mutex<Vec<String>>,
    resolved: AtomicU64,
}

#[derive(Deserialize)]
struct HookBody {
    alerts: Vec<HookAlert>,
}

#[derive(Deserialize)]
struct HookAlert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: HashMap<String, String>,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

impl Received {
    fn new(capacity: usize) -> Self {
        Self {
            latency_ns: (0..capacity).map(|_| AtomicI64::new(NONE)).collect(),
            deliveries: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            distinct: AtomicUsize::new(0),
            bodies: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            foreign_seen: Mutex::new(Vec::new()),
            resolved: AtomicU64::new(0),
        }
    }

    fn foreign(&self, what: impl FnOnce() -> String) {
        self.foreign.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.foreign_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() < 5 {
            seen.push(what());
        }
    }

    fn record(&self, body: &[u8], arrived_ns: i64) {
        self.bodies.fetch_add(1, Ordering::Relaxed);
        let hook = match serde_json::from_slice::<HookBody>(body) {
            Ok(hook) => hook,
            Err(e) => return self.foreign(|| format!("unreadable body: {e}")),
        };
        for alert in hook.alerts {
            let number = alert.labels.get("instance").and_then(|i| i.strip_prefix("i-")).and_then(|n| n.parse().ok());
            let sent = alert.annotations.get("sent_ns").and_then(|s| s.parse::<i64>().ok());
            let slots = number.and_then(|n: usize| self.latency_ns.get(n).zip(self.deliveries.get(n)));
            let (Some((latency, count)), Some(sent)) = (slots, sent) else {
                let name = alert.labels.get("alertname").cloned().unwrap_or_default();
                self.foreign(|| format!("{} alert {name:?}", alert.status));
                continue;
            };
            if alert.status == "resolved" {
                self.resolved.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if count.fetch_add(1, Ordering::Relaxed) == 0 {
                latency.store(arrived_ns - sent, Ordering::Relaxed);
                self.distinct.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Alerts in `range` delivered at least once, and the repeats among them.
    fn delivered(&self, range: std::ops::Range<usize>) -> (usize, u64) {
        let counts = &self.deliveries[range];
        let once = counts.iter().filter(|c| c.load(Ordering::Relaxed) > 0).count();
        let repeats = counts.iter().map(|c| u64::from(c.load(Ordering::Relaxed).saturating_sub(1))).sum();
        (once, repeats)
    }

    fn latencies(&self, range: std::ops::Range<usize>) -> Vec<Duration> {
        let mut out: Vec<Duration> = self.latency_ns[range]
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .filter(|&l| l != NONE)
            .map(|l| Duration::from_nanos(u64::try_from(l).unwrap_or(0)))
            .collect();
        out.sort_unstable();
        out
    }
}

async fn hook(State(received): State<Arc<Received>>, body: Bytes) -> StatusCode {
    received.record(&body, now_ns());
    StatusCode::OK
}

async fn start_receiver(port: u16, received: Arc<Received>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding the webhook receiver to 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .fallback(axum::routing::post(hook))
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(received);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("webhook receiver stopped: {e}");
        }
    });
    Ok(addr)
}

/// `labels`/`annotations` of alert number `n`, sent now, as Prometheus sends
/// it (start now, announced end in an hour so nothing resolves during the run).
fn write_alert(out: &mut String, n: usize) {
    let now = SystemClock.now();
    let sent = now.as_nanosecond();
    let ends = now + jiff::SignedDuration::from_hours(1);
    let _ = write!(
        out,
        r#"{{"labels":{{"alertname":"BenchAlert","instance":"i-{n}","severity":"warning","job":"bench"}},"annotations":{{"summary":"Bench alert {n}","sent_ns":"{sent}"}},"startsAt":"{now}","endsAt":"{ends}"}}"#
    );
}

fn batch(range: std::ops::Range<usize>) -> String {
    let mut body = String::with_capacity(range.len() * 260 + 2);
    body.push('[');
    for (i, n) in range.enumerate() {
        if i > 0 {
            body.push(',');
        }
        write_alert(&mut body, n);
    }
    body.push(']');
    body
}

/// A POST of `body` to `/api/v2/alerts`: `Ok(())` on 2xx, else why not.
async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: String) -> Result<(), String> {
    let mut request = client.post(url).header("content-type", "application/json").body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(res) if res.status().is_success() => {
            // Read the (empty) body so the connection goes back to the pool.
            let _ = res.bytes().await;
            Ok(())
        }
        Ok(res) => {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            Err(format!("{status}: {}", text.chars().take(300).collect::<String>()))
        }
        // With its causes: reqwest's own message says only "error sending request".
        Err(e) => Err(format!("request failed: {:#}", anyhow::Error::new(e))),
    }
}

#[derive(Default)]
struct Sent {
    accepted: usize,
    refused: usize,
    failed_requests: usize,
    first_error: Option<String>,
    elapsed: Duration,
    request_latencies: Vec<Duration>,
}

impl Sent {
    fn merge(&mut self, other: Sent) {
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.failed_requests += other.failed_requests;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.request_latencies.extend(other.request_latencies);
    }
}

/// Posts alerts `range` in batches from `clients` concurrent tasks.
async fn ingest(ctx: &Ctx, range: std::ops::Range<usize>) -> anyhow::Result<Sent> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..ctx.options.clients {
        let (client, url, token, next) = (ctx.client.clone(), ctx.url.clone(), ctx.options.token.clone(), next.clone());
        let (end, per) = (range.end, ctx.options.per_request);
        tasks.push(tokio::spawn(async move {
            let mut sent = Sent::default();
            loop {
                let from = next.fetch_add(per, Ordering::Relaxed);
                if from >= end {
                    break;
                }
                let to = (from + per).min(end);
                let t = Instant::now();
                match post(&client, &url, token.as_ref().map(Secret::expose), batch(from..to)).await {
                    Ok(()) => sent.accepted += to - from,
                    Err(e) => {
                        sent.refused += to - from;
                        sent.failed_requests += 1;
                        sent.first_error.get_or_insert(e);
                    }
                }
                sent.request_latencies.push(t.elapsed());
            }
            sent
        }));
    }
    let mut all = Sent::default();
    for task in tasks {
        all.merge(task.await.context("a sender panicked")?);
    }
    all.elapsed = start.elapsed();
    Ok(all)
}

/// Waits until every alert in `range` was notified, or `drain` passed;
/// how long after the call the last one arrived (None: not all did).
async fn drain(ctx: &Ctx, range: std::ops::Range<usize>, expected: usize) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if ctx.received.delivered(range.clone()).0 >= expected {
            return Some(start.elapsed());
        }
        if start.elapsed() >= ctx.options.drain.std() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) of a process so far, seconds.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux for every architecture Leitstand builds for.
    Some((utime + stime) / 100.0)
}

/// The machine's busy, I/O-wait and total ticks over all cores (`/proc/stat`).
fn machine_ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let t: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let (idle, iowait) = (*t.get(3)?, *t.get(4)?);
    let total: u64 = t.iter().take(8).sum();
    Some((total - idle - iowait, iowait, total))
}

/// CPU time of the bench, of the server and of the whole machine, for the
/// split between them (and to see when something else ran beside).
#[derive(Clone, Copy)]
struct Cpu {
    bench: Option<f64>,
    server: Option<f64>,
    machine: Option<(u64, u64, u64)>,
    at: Instant,
}

impl Cpu {
    fn now(pid: Option<u32>) -> Self {
        Self {
            bench: cpu_seconds("self"),
            server: pid.and_then(|p| cpu_seconds(&p.to_string())),
            machine: machine_ticks(),
            at: Instant::now(),
        }
    }

    /// "server 150 %, bench 40 %" (100 % = one core), and the machine's
    /// busy and I/O-wait share of all its cores, since `self`.
    fn since(self, pid: Option<u32>) -> String {
        let later = Cpu::now(pid);
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        let pct = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| format!("{:.0} %", 100.0 * (b - a) / secs));
        let mut parts = Vec::new();
        if let Some(s) = pct(self.server, later.server) {
            parts.push(format!("server {s}"));
        }
        if let Some(b) = pct(self.bench, later.bench) {
            parts.push(format!("bench {b}"));
        }
        if let Some(((b0, w0, t0), (b1, w1, t1))) = self.machine.zip(later.machine)
            && t1 > t0
        {
            let share = |a: u64, b: u64| 100.0 * (b - a) as f64 / (t1 - t0) as f64;
            parts.push(format!("machine busy {:.0} %, I/O wait {:.0} %", share(b0, b1), share(w0, w1)));
        }
        parts.join(", ")
    }
}

struct Ctx {
    options: Options,
    client: reqwest::Client,
    url: String,
    received: Arc<Received>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 { format!("{ms:.2}") } else { format!("{ms:.0}") }
}

/// 12345 → "12,345".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Memory after the alerts so far were notified and `settle` passed.
async fn memory_after_settle(ctx: &Ctx) -> Option<(u64, u64)> {
    tokio::time::sleep(ctx.options.settle.std()).await;
    ctx.options.pid.and_then(memory_kib)
}

/// What each of `alerts` active alerts adds to the RSS, from the idle RSS
/// and the RSS with them (KiB), in bytes.
fn per_alert(idle_kib: u64, rss_kib: u64, alerts: usize) -> String {
    let grown = rss_kib.saturating_sub(idle_kib) * 1024;
    format!("{} bytes", thousands(grown / alerts.max(1) as u64))
}

fn describe_memory(memory: Option<(u64, u64)>) -> String {
    memory.map_or_else(|| "– (no --pid)".to_string(), |(rss, hwm)| format!("{} (peak {})", mib(rss), mib(hwm)))
}

fn delivered_text(ctx: &Ctx, range: std::ops::Range<usize>, expected: usize, lag: Option<Duration>) -> String {
    let (once, repeats) = ctx.received.delivered(range);
    let lag = lag.map_or_else(
        || format!("not all within {:.0} s", ctx.options.drain.std().as_secs_f64()),
        |d| format!("all {:.2} s after the last accepted request", d.as_secs_f64()),
    );
    format!("{} of {} ({repeats} repeated; {lag})", thousands(once as u64), thousands(expected as u64))
}

async fn bench(options: Options) -> anyhow::Result<()> {
    let clients = options.clients.max(1);
    let per_request = options.per_request.max(1);
    let latency_alerts =
        (f64::from(options.rate.max(1)) * options.latency_duration.std().as_secs_f64()).ceil() as usize;
    let capacity = options.alerts + latency_alerts;
    let received = Arc::new(Received::new(capacity));
    let addr = start_receiver(options.receiver_port, received.clone()).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let url = format!("{}/api/v2/alerts", options.target.trim_end_matches('/'));
    let options = Options { clients, per_request, ..options };
    let ctx = Ctx { options, client, url, received };
    let o = &ctx.options;
    println!(
        "alerts: {} distinct to {} ({clients} clients × {per_request} per request), webhook receiver on http://{addr}/, \
         then {} single alerts at {}/s",
        thousands(o.alerts as u64),
        ctx.url,
        thousands(latency_alerts as u64),
        o.rate,
    );
    let idle_rss = o.pid.and_then(memory_kib).map(|(rss, _)| rss);
    if let Some(rss) = idle_rss {
        println!("server RSS before: {}", mib(rss));
    }

    // Ingest, in two parts: up to the checkpoint, then the rest.
    let checkpoint = o.checkpoint.min(o.alerts);
    let mut sent = Sent::default();
    let mut memory = Vec::new();
    let mut cpu_split = Vec::new();
    let mut last_lag = None;
    for part in [0..checkpoint, checkpoint..o.alerts] {
        if part.is_empty() {
            continue;
        }
        let cpu = Cpu::now(o.pid);
        let s = ingest(&ctx, part.clone()).await?;
        let split = cpu.since(o.pid);
        println!(
            "  sent {}..{}: {} accepted in {:.2} s = {}/s, {} refused in {} failed requests; CPU {split}",
            part.start,
            part.end,
            thousands(s.accepted as u64),
            s.elapsed.as_secs_f64(),
            thousands((s.accepted as f64 / s.elapsed.as_secs_f64()) as u64),
            s.refused,
            s.failed_requests,
        );
        if let Some(e) = &s.first_error {
            println!("  first error: {e}");
        }
        cpu_split.push(split);
        let expected_so_far = sent.accepted + s.accepted;
        sent.elapsed += s.elapsed;
        sent.merge(s);
        last_lag = drain(&ctx, 0..part.end, expected_so_far).await;
        let m = memory_after_settle(&ctx).await;
        println!(
            "  {} active: notified {}; server {}",
            thousands(part.end as u64),
            delivered_text(&ctx, 0..part.end, expected_so_far, last_lag),
            describe_memory(m),
        );
        memory.push((part.end, m));
    }
    sent.request_latencies.sort_unstable();
    let rate = sent.accepted as f64 / sent.elapsed.as_secs_f64().max(1e-9);

    // Latency: single alerts, one request at a time.
    let first = o.alerts;
    let period = Duration::from_secs_f64(1.0 / f64::from(o.rate.max(1)));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut accepted, mut failed, mut first_error) = (0usize, 0usize, None);
    let mut acks = Vec::with_capacity(latency_alerts);
    let cpu = Cpu::now(o.pid);
    for n in first..first + latency_alerts {
        ticker.tick().await;
        let t = Instant::now();
        match post(&ctx.client, &ctx.url, o.token.as_ref().map(Secret::expose), batch(n..n + 1)).await {
            Ok(()) => accepted += 1,
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        acks.push(t.elapsed());
    }
    let latency_cpu = cpu.since(o.pid);
    acks.sort_unstable();
    let latency_range = first..first + latency_alerts;
    let latency_lag = drain(&ctx, latency_range.clone(), accepted).await;
    let latencies = ctx.received.latencies(latency_range.clone());
    println!(
        "  single alerts: {accepted} accepted, {failed} failed; request p50 {} / p99 {} ms; CPU {latency_cpu}",
        ms(percentile(&acks, 50.0)),
        ms(percentile(&acks, 99.0)),
    );
    if let Some(e) = &first_error {
        println!("  first error: {e}");
    }
    let r = &ctx.received;
    println!(
        "receiver: {} bodies, {} resolved, {} foreign or unreadable",
        thousands(r.bodies.load(Ordering::Relaxed)),
        r.resolved.load(Ordering::Relaxed),
        r.foreign.load(Ordering::Relaxed),
    );
    let foreign = r.foreign_seen.lock().map(|s| s.join("; ")).unwrap_or_default();
    if !foreign.is_empty() {
        println!("  not the bench's: {foreign}");
    }

    // The table rows; bench/alerts.sh puts the servers' columns side by side.
    let o = &ctx.options;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| ingest, {} distinct alerts, {} clients × {} per request | {} alerts/s |",
        thousands(o.alerts as u64),
        o.clients,
        o.per_request,
        thousands(rate as u64)
    );
    println!(
        "| refused alerts / failed requests | {} / {} |",
        thousands(sent.refused as u64),
        thousands(sent.failed_requests as u64)
    );
    println!(
        "| request latency p50 / p99 (ingest) | {} / {} ms |",
        ms(percentile(&sent.request_latencies, 50.0)),
        ms(percentile(&sent.request_latencies, 99.0)),
    );
    println!("| CPU during ingest (100 % = one core; machine: share of all cores) | {} |", cpu_split.join("; "));
    for (active, m) in &memory {
        println!("| RSS at {} active alerts (peak so far) | {} |", thousands(*active as u64), describe_memory(*m));
    }
    for (active, m) in &memory {
        if let (Some(idle), Some((rss, _))) = (idle_rss, m) {
            println!(
                "| memory per alert at {} active: (RSS − idle RSS) / alerts | {} |",
                thousands(*active as u64),
                per_alert(idle, *rss, *active)
            );
        }
    }
    println!("| notified (ingest) | {} |", delivered_text(&ctx, 0..o.alerts, sent.accepted, last_lag));
    println!(
        "| ingest → webhook p50 / p99 / max, {} single alerts at {}/s | {} / {} / {} ms |",
        thousands(latency_alerts as u64),
        o.rate,
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    println!("| notified (single alerts) | {} |", delivered_text(&ctx, latency_range, accepted, latency_lag));
    println!(
        "| single-alert request p50 / p99; failed | {} / {} ms; {failed} |",
        ms(percentile(&acks, 50.0)),
        ms(percentile(&acks, 99.0))
    );
    println!("| CPU during single alerts | {latency_cpu} |");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_batch_is_the_alertmanager_v2_body_with_sent_ns() {
        let body: serde_json::Value = serde_json::from_str(&batch(7..9)).unwrap();
        let alerts = body.as_array().unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0]["labels"]["instance"], "i-7");
        assert_eq!(alerts[1]["labels"]["alertname"], "BenchAlert");
        assert!(alerts[0]["annotations"]["sent_ns"].as_str().unwrap().parse::<i64>().is_ok());
        let incoming = leitstand_alerting::wire::parse_postable_alerts(batch(0..3).as_bytes()).unwrap();
        assert_eq!(incoming.len(), 3, "Leitstand's own parser takes it");
    }

    #[test]
    fn the_receiver_counts_first_deliveries_and_repeats() {
        let r = Received::new(4);
        let body = |n: usize, status: &str| {
            format!(
                r#"{{"version":"4","alerts":[{{"status":"{status}","labels":{{"instance":"i-{n}"}},"annotations":{{"sent_ns":"1000"}}}}],"leitstand":{{}}}}"#
            )
        };
        r.record(body(1, "firing").as_bytes(), 3000);
        r.record(body(1, "firing").as_bytes(), 9000);
        r.record(body(2, "resolved").as_bytes(), 3000);
        r.record(body(9, "firing").as_bytes(), 3000);
        r.record(b"not json", 3000);
        assert_eq!(r.delivered(0..4), (1, 1));
        assert_eq!(r.latencies(0..4), vec![Duration::from_nanos(2000)]);
        assert_eq!((r.resolved.load(Ordering::Relaxed), r.foreign.load(Ordering::Relaxed)), (1, 2));
        let seen = r.foreign_seen.lock().unwrap().clone();
        assert_eq!(seen[0], r#"firing alert """#);
        assert!(seen[1].starts_with("unreadable body: "), "{seen:?}");
    }

    #[test]
    fn numbers_get_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100_000), "100,000");
    }
}
