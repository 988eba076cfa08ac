//! Structured logs: one JSON object per line on standard output, each
//! request's lines carrying its `trace_id`. Secrets are typed so they cannot
//! be formatted into a log line (see `config::DatabaseUrl`), and request
//! paths are logged as route templates only.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.level)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stdout);
    match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .map_err(|e| anyhow::anyhow!(e))?,
        LogFormat::Text => builder.try_init().map_err(|e| anyhow::anyhow!(e))?,
    }
    Ok(())
}
