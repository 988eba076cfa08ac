//! `leitstand witness key` and `leitstand witness serve`: Leitstand as a
//! C2SP tlog-witness for other logs — a portal operator's audit log, run by
//! an authority or an auditor who does not trust the operator.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use leitstand_audit::witness::Witness;
use leitstand_core::clock::SystemClock;
use leitstand_ledger::note::{Signer, Verifier};
use leitstand_ledger::witness::WitnessedLog;

use crate::cli::WitnessCommand;
use crate::config::Config;
use crate::serve::{Signals, StartupError, bind};

/// Runs a witness subcommand.
pub fn run(config: &Config, command: WitnessCommand) -> anyhow::Result<ExitCode> {
    match command {
        WitnessCommand::Key => {
            println!("{}", key(config)?.verifier());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve { listen } => {
            crate::logging::init(&config.log)?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(config, listen.unwrap_or(config.witness.listen)))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn key(config: &Config) -> anyhow::Result<Signer> {
    let name = config.witness.name.as_deref().context(
        "witness.name is not set: name the witness in leitstand.toml ([witness] name = \"witness.example/w1\")",
    )?;
    Ok(leitstand_audit::keys::witness_key(&config.witness.key_dir(&config.server), name)?)
}

async fn serve(config: &Config, listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let signer = key(config)?;
    // The configuration check already refused unusable keys; parse again
    // without dropping any, so a key can never silently go missing.
    let logs = config
        .witness
        .logs
        .iter()
        .map(|l| {
            let keys = l
                .keys
                .iter()
                .map(|k| Verifier::parse(k).with_context(|| format!("witness.logs {:?}: key {k:?}", l.origin)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(WitnessedLog { origin: l.origin.clone(), keys })
        })
        .collect::<anyhow::Result<Vec<WitnessedLog>>>()?;
    if logs.is_empty() {
        tracing::warn!("no [[witness.logs]] configured: every request will be answered 404");
    }
    let dir = config.witness.dir(&config.server);
    let witness = Arc::new(Witness::open(&dir, signer, logs, Arc::new(SystemClock))?);
    let listener = bind(listen).await?;
    let bound = listener.local_addr().map_err(|e| StartupError::Listen { addr: listen, reason: e.to_string() })?;
    let signals = Signals::install()?;
    tracing::info!(listen = %bound, key = %witness.verifier(), logs = config.witness.logs.len(), "ready");
    let app = leitstand_web::witness_router(witness);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let signal = signals.wait().await;
            tracing::info!(signal, "shutting down");
        })
        .await?;
    tracing::info!("stopped");
    Ok(())
}
