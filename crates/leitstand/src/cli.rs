//! The command line: what the user typed. Resolution into a [`Config`]
//! happens in `config`; commands live in `main.rs` and their own modules.
//!
//! [`Config`]: crate::config::Config

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Leitstand — operations and governance control plane for critical portals.
#[derive(Debug, Parser)]
#[command(name = "leitstand", version, about, max_term_width = 100)]
pub struct Cli {
    /// Configuration file [default: ./leitstand.toml if it exists].
    #[arg(long, global = true, env = "LEITSTAND_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API, UI, schedulers).
    Serve(ServeArgs),
    /// Show or check the operations policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Configuration reference and schema.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `leitstand serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LEITSTAND_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./leitstand-data].
    #[arg(long, env = "LEITSTAND_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB
    /// [default: SQLite in the data directory].
    #[arg(long, env = "LEITSTAND_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
}

/// `leitstand policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the effective policy (seed defaults + config + environment).
    Show {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Toml)]
        format: Format,
        /// Show the effective policy of this tenant.
        #[arg(long, value_name = "SLUG")]
        tenant: Option<String>,
    },
    /// Validate a configuration file; exit 2 with every problem if invalid.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

/// `leitstand config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration reference as Markdown.
    Reference,
    /// Print the JSON Schema of leitstand.toml.
    Schema,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// TOML, as in leitstand.toml.
    Toml,
    /// JSON.
    Json,
}
