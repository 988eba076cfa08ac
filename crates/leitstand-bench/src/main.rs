//! `leitstand-bench`: the figures of docs/benchmarks.md, measured with the
//! code the server runs — probe throughput, memory per idle probe, rule
//! evaluation, alert ingest and notification against a running server, and
//! the store's batch writes. A binary of its own, so the production
//! executable carries none of it; the allocator is the server's, so memory
//! figures are the server's too.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod alerts;
mod monitoring;
mod store;

/// The server's allocator (see the `leitstand` binary for why).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Measures Leitstand on this machine (docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(name = "leitstand-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

/// `leitstand-bench …`: figures for docs/benchmarks.md, with the code the
/// server runs. Only the given URL is contacted, and nothing is stored but
/// the alerts `alerts` sends to its target.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// HTTP checks per second against one URL: CONCURRENCY probes, each
    /// checking again as soon as its last check is done, each result
    /// recorded in a series store as in the server.
    Probes {
        /// The URL checked (GET, 200–399 expected).
        #[arg(long)]
        url: String,
        /// Checks running at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// How long to run.
        #[arg(long, default_value = "10s")]
        duration: leitstand_core::time_limit::Duration,
        /// Time limit of one check.
        #[arg(long, default_value = "5s")]
        timeout: leitstand_core::time_limit::Duration,
    },
    /// Memory per configured, idle HTTP probe (RSS before and after), and
    /// what the series store adds once every probe has results.
    IdleProbes {
        /// Probes configured.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Results per probe stored afterwards (one minute apart).
        #[arg(long, default_value_t = 120)]
        results: usize,
    },
    /// The default rule pack evaluated over a synthetic series store.
    Rules {
        /// Series in the store (hosts, services, probes).
        #[arg(long, default_value_t = 10_000)]
        series: usize,
        /// How long to evaluate (at least one round of all rules).
        #[arg(long, default_value = "10s")]
        duration: leitstand_core::time_limit::Duration,
    },
    /// The alert engine's batch write of new alerts (each with a history
    /// entry and a notification) on a throwaway database.
    StoreWrites {
        /// The engine.
        #[arg(long, value_enum, default_value_t = store::Backend::Sqlite)]
        backend: store::Backend,
        /// Batches written.
        #[arg(long, default_value_t = 5)]
        batches: usize,
        /// New alerts per batch.
        #[arg(long, default_value_t = 10_000)]
        size: usize,
    },
    /// Alert ingest and notification against a server speaking
    /// Alertmanager's API v2: alerts accepted per second, the server's
    /// memory, notifications delivered and the time they took.
    Alerts(alerts::Options),
}

fn main() -> ExitCode {
    leitstand_app::install_crypto_provider();
    match monitoring::run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leitstand-bench: {e:#}");
            ExitCode::from(1)
        }
    }
}
