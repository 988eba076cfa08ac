//! Scraping Prometheus / OpenMetrics endpoints (an application's
//! `/metrics`, node_exporter): the samples go into the series store with
//! the target's labels, beside `up`, `scrape_duration_seconds` and
//! `scrape_samples_scraped` as Prometheus writes them. A target that is
//! down or sends garbage gets `up 0` and an error naming the line and
//! column; the other targets are not affected.
//!
//! Scraping is not a probe kind: it reads an endpoint into the series
//! store instead of judging one answer, and is configured as
//! `[[monitoring.targets]]`. It shares the HTTP clients and their error
//! sorting with the probes ([`crate::client`]).

use std::time::{Duration, Instant};

use leitstand_monitor::exposition::{Format, Limits, parse};
use leitstand_monitor::series::{AppendError, Labels, NAME, SeriesStore, normalise, scraped_labels};

use crate::client::{self, Clients};

/// Prometheus's Accept header: OpenMetrics preferred, text 0.0.4 accepted.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// A scrape target. Its `Debug` output names the headers but not their
/// values (credentials).
#[derive(Clone)]
pub struct Target {
    /// The metrics URL.
    pub url: String,
    /// Extra request headers (e.g. `Authorization` for a protected endpoint).
    pub headers: Vec<(String, String)>,
    /// Labels for every series of the target (`job`, `instance`, `tenant`, `service`).
    pub labels: Vec<(String, String)>,
    /// Time limit.
    pub timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("labels", &self.labels)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a scrape brought.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// Whether the target answered with a readable body.
    pub up: bool,
    /// How long it took.
    pub duration: Duration,
    /// The samples with their series labels.
    pub samples: Vec<(Labels, f64)>,
    /// Why the scrape failed.
    pub error: Option<String>,
}

/// Scrapes one target.
pub async fn scrape(clients: &Clients, target: &Target, limits: &Limits) -> Scrape {
    let start = Instant::now();
    let failed =
        |error: String| Scrape { up: false, duration: start.elapsed(), samples: Vec::new(), error: Some(error) };
    let mut request = clients.follow().get(&target.url).header("accept", ACCEPT);
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let response = match client::send(request, target.timeout).await {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    if !response.status().is_success() {
        return failed(format!("HTTP {}", response.status().as_u16()));
    }
    let format = Format::from_content_type(response.headers().get("content-type").and_then(|v| v.to_str().ok()));
    let body = match client::read_body(response, limits.max_body_bytes, target.timeout).await {
        Ok(b) => b,
        Err(e) => return failed(e.to_string()),
    };
    match parse(&body, format, limits) {
        Ok(families) => {
            let samples = families
                .iter()
                .flat_map(|f| f.samples.iter())
                .map(|s| (scraped_labels(s, &target.labels), s.value))
                .collect();
            Scrape { up: true, duration: start.elapsed(), samples, error: None }
        }
        Err(e) => failed(format!(
            "{} body: {e}",
            if format == Format::OpenMetrics { "OpenMetrics" } else { "Prometheus text" }
        )),
    }
}

/// Stores a scrape at `at_ms` (the scrape's time for every sample) with
/// Prometheus's synthetic series, each standing for `held_ms` (the next
/// scrape is due by then). Returns the points that were refused.
pub fn store(store: &mut SeriesStore, target: &Target, scrape: &Scrape, at_ms: i64, held_ms: i64) -> Vec<AppendError> {
    let synthetic = |name: &str, value: f64| {
        let mut labels = target.labels.clone();
        labels.push((NAME.to_string(), name.to_string()));
        (normalise(labels), value)
    };
    let mut refused = Vec::new();
    let extra = [
        synthetic("up", if scrape.up { 1.0 } else { 0.0 }),
        synthetic("scrape_duration_seconds", scrape.duration.as_secs_f64()),
        synthetic("scrape_samples_scraped", scrape.samples.len() as f64),
    ];
    for (labels, value) in scrape.samples.iter().cloned().chain(extra) {
        if let Err(e) = store.append_held(labels, at_ms, value, held_ms) {
            refused.push(e);
        }
    }
    refused
}
