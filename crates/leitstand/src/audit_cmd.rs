//! `leitstand audit key` and `leitstand audit verify [--url]`: the log's
//! verifier key for third parties and witnesses, and a full check of a log —
//! offline in the data directory (tiles, every event, every checkpoint ever
//! published) or remotely over HTTP as any outside verifier would.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use leitstand_audit::ledger::log_dir;
use leitstand_audit::verify::{Extra, Report, RetentionCheck, Source, verify, verify_dir};
use leitstand_core::Clock;
use leitstand_core::clock::SystemClock;
use leitstand_ledger::note::Verifier;

use crate::cli::AuditCommand;
use crate::config::Config;

/// Runs an audit subcommand.
pub fn run(config: &Config, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Key => {
            println!("{}", existing_keys(config)?.signer.verifier());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { url, key, witnesses } => {
            let verifier = match key {
                Some(k) => Verifier::parse(&k)
                    .with_context(|| format!("--key {k:?} is not a verifier key (name+hash+base64)"))?,
                None if url.is_none() => existing_keys(config)?.signer.verifier(),
                None => anyhow::bail!(
                    "--url needs --key: the verifier key of the log, from `leitstand audit key` on its host"
                ),
            };
            let witnesses = witnesses
                .iter()
                .map(|k| match Verifier::parse(k) {
                    Ok(v) if v.is_cosigner() => Ok(v),
                    Ok(_) => anyhow::bail!("--witness {k:?} is a log key; a witness's key has algorithm 0x04"),
                    Err(e) => Err(anyhow::anyhow!("--witness {k:?} is not a verifier key: {e}")),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            anyhow::ensure!(witnesses.is_empty() || url.is_some(), "--witness needs --url");
            let started = Instant::now();
            let report = match url {
                Some(url) => verify_remote(&url, &verifier, &witnesses)?,
                None => verify_local(config, &verifier)?,
            };
            Ok(print(&report, started.elapsed()))
        }
    }
}

/// The log's keys in the data directory; never made here (a key made by a
/// command in the wrong directory would be handed out as the log's).
fn existing_keys(config: &Config) -> anyhow::Result<leitstand_audit::keys::Keys> {
    crate::serve::require_data_dir(&config.server)?;
    let dir = config.audit.key_dir(&config.server);
    Ok(leitstand_audit::keys::load(&dir, &config.audit.origin, leitstand_audit::keys::Missing::Refuse)?)
}

fn verify_local(config: &Config, verifier: &Verifier) -> anyhow::Result<Report> {
    let dir = config.audit.dir(&config.server);
    anyhow::ensure!(log_dir(&dir).join("checkpoint").exists(), "no audit log in {}", dir.display());
    let retention = RetentionCheck {
        policy: config.policy.base.retention.clone(),
        calendar: config.policy.base.calendar.working_calendar(),
        now: SystemClock.now(),
    };
    verify_dir(&dir, verifier, Some(&retention)).map_err(anyhow::Error::msg)
}

/// Fetches tlog-tiles paths below a base URL; the checkpoint can be pinned
/// to one fetched before (the cosigned one).
struct Http {
    base: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    checkpoint: Option<Vec<u8>>,
}

impl Source for Http {
    fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
        if path == "checkpoint"
            && let Some(pinned) = &self.checkpoint
        {
            return Ok(Some(pinned.clone()));
        }
        let url = format!("{}/{path}", self.base);
        self.runtime.block_on(async {
            let response = self.client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
            match response.status() {
                reqwest::StatusCode::NOT_FOUND => Ok(None),
                s if s.is_success() => Ok(Some(response.bytes().await.map_err(|e| format!("{url}: {e}"))?.to_vec())),
                s => Err(format!("{url}: HTTP {s}")),
            }
        })
    }
}

fn verify_remote(url: &str, verifier: &Verifier, witnesses: &[Verifier]) -> anyhow::Result<Report> {
    leitstand_app::install_crypto_provider();
    let base = url.trim_end_matches('/').to_string();
    let base = if base.ends_with("/audit/log") { base } else { format!("{base}/audit/log") };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
    let mut src = Http { base, client, runtime, checkpoint: None };
    let mut missing = Vec::new();
    if !witnesses.is_empty() {
        // A checkpoint published a moment ago may not be cosigned yet: try
        // for a few seconds, then verify the tree of the checkpoint found.
        for attempt in 0..20 {
            let note = src.fetch("checkpoint").map_err(anyhow::Error::msg)?.unwrap_or_default();
            missing = uncosigned(&note, verifier, witnesses);
            src.checkpoint = Some(note);
            if missing.is_empty() || attempt == 19 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
    let mut report = verify(&mut src, verifier, Extra { journal: None, history: Vec::new(), retention: None })
        .map_err(anyhow::Error::msg)?;
    for witness in missing {
        report.findings.push(format!(
            "checkpoint of size {}: no valid cosignature by witness {witness} (a witness refuses to cosign a \
             history that does not extend what it saw)",
            report.size
        ));
    }
    Ok(report)
}

/// The witnesses whose valid cosignature `note` lacks.
fn uncosigned(note: &[u8], verifier: &Verifier, witnesses: &[Verifier]) -> Vec<String> {
    let mut keys = vec![verifier.clone()];
    keys.extend(witnesses.iter().cloned());
    let cosigned: Vec<String> = std::str::from_utf8(note)
        .ok()
        .and_then(|n| leitstand_ledger::note::open(n, &keys).ok())
        .map(|o| o.cosigned_by.into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default();
    witnesses.iter().map(|w| w.name().to_string()).filter(|name| !cosigned.contains(name)).collect()
}

fn print(report: &Report, took: std::time::Duration) -> ExitCode {
    let mb = report.bytes as f64 / 1e6;
    let secs = took.as_secs_f64().max(1e-6);
    let summary = format!(
        "{} entries, {} files ({mb:.1} MB, {:.0} MB/s), {} stored events checked, {} pruned per retention, \
         {} published checkpoints consistent, {} events not yet integrated",
        report.entries,
        report.files,
        mb / secs,
        report.events,
        report.pruned,
        report.checkpoints,
        report.pending
    );
    if report.findings.is_empty() {
        println!("audit log verified: checkpoint of size {}; {summary}", report.size);
        ExitCode::SUCCESS
    } else {
        println!("audit log verification FAILED with {} finding(s):", report.findings.len());
        for f in &report.findings {
            println!("  {f}");
        }
        println!("checked: {summary}");
        ExitCode::from(1)
    }
}
