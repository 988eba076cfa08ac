//! The `leitstand` binary: command-line parsing, configuration, and the
//! mapping of errors to exit codes — 0 success, 1 runtime failure,
//! 2 invalid usage or configuration, 3 start-up environment (port taken, data
//! directory not writable, database unreachable or too new). Errors print
//! their whole cause chain on standard error.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use leitstand::cli::{Cli, Command, ConfigCommand};
use leitstand::config::{self, Config, ConfigError, DatabaseUrl};
use leitstand::{admin_cmd, audit_cmd, logging, policy_cmd, serve, witness_cmd};

/// jemalloc: measured under the alerting benchmark (docs/benchmarks.md),
/// the request and delivery path took about 30 % less CPU than with glibc's
/// allocator, whose per-thread arenas also kept freed memory; mimalloc was
/// as fast but held 50–70 MiB more with 100,000 alerts open. It serves the C
/// code linked in as well (the crate's `unprefixed_malloc_on_supported_platforms`
/// feature), above all SQLite's page caches and statements: left on glibc's
/// allocator, those kept about 25 MiB resident after a burst of 10,000
/// alerts. Its options are built in (`JEMALLOC_SYS_WITH_MALLOC_CONF` in
/// `.cargo/config.toml`, which says why each is set; `MALLOC_CONF` in the
/// environment overrides them one by one).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let started = Instant::now();
    // Everything Leitstand creates — the database and its WAL, the intake
    // log, the audit journal, keys, exports — is its owner's alone (0600
    // files, 0700 directories), whatever umask it was started with.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    leitstand_app::install_crypto_provider();
    let cli = Cli::parse();
    match run(cli, started) {
        Ok(code) => code,
        Err(error) => {
            let code = if error.downcast_ref::<ConfigError>().is_some() {
                2
            } else if error.downcast_ref::<serve::StartupError>().is_some() {
                3
            } else {
                1
            };
            for line in error.to_string().lines() {
                eprintln!("leitstand: {line}");
            }
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli, started: Instant) -> anyhow::Result<ExitCode> {
    let Cli { config: file, data_dir, database_url, command } = cli;
    let load = || load(file.as_deref(), data_dir.as_ref(), database_url.as_ref());
    match command {
        Command::Serve(args) => {
            let mut config = load()?;
            if let Some(listen) = args.listen {
                config.server.listen = listen;
            }
            logging::init(&config.log)?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve::run(config, started))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy(command) => policy_cmd::run(command, &file),
        Command::Rules(command) => policy_cmd::rules(command, &file),
        Command::Config(ConfigCommand::Reference) => {
            print!("{}", config::reference::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(command) => block_on(admin_cmd::tenant(&load()?, command)),
        Command::User(command) => block_on(admin_cmd::user(&load()?, command)),
        Command::Token(command) => block_on(admin_cmd::token(&load()?, command)),
        Command::Incident(command) => block_on(admin_cmd::incident(&load()?, command)),
        Command::Audit(command) => audit_cmd::run(&load()?, command),
        Command::Witness(command) => witness_cmd::run(&load()?, command),
        Command::Config(ConfigCommand::Schema) => {
            println!("{}", serde_json::to_string_pretty(&config::reference::schema())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs a management command on a runtime of one thread.
fn block_on(command: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(command)
}

/// Loads the configuration from the file and the process environment;
/// the data flags (and their `LEITSTAND_*` variables) win over both, for
/// every command alike.
fn load(
    file: Option<&std::path::Path>,
    data_dir: Option<&std::path::PathBuf>,
    database_url: Option<&String>,
) -> Result<Config, ConfigError> {
    let mut config = config::load(file, std::env::vars())?;
    if let Some(dir) = data_dir {
        config.server.data_dir = dir.clone();
    }
    if let Some(url) = database_url {
        config.server.database_url = Some(DatabaseUrl::new(url.clone()));
    }
    Ok(config)
}
