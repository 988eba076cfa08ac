//! The command line: what the user typed. Resolution into a [`Config`]
//! happens in `config`; commands live in `main.rs` and their own modules.
//!
//! [`Config`]: crate::config::Config

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use leitstand_app::UserName;

/// Leitstand — operations and governance control plane for critical portals.
#[derive(Debug, Parser)]
#[command(name = "leitstand", version, about, max_term_width = 100)]
pub struct Cli {
    /// Configuration file [default: ./leitstand.toml if it exists].
    #[arg(long, global = true, env = "LEITSTAND_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Data directory [default: ./leitstand-data]. Every command finds the
    /// installation where `serve` keeps it; only `serve` creates one.
    #[arg(long, global = true, env = "LEITSTAND_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB
    /// [default: SQLite in the data directory].
    #[arg(long, global = true, env = "LEITSTAND_DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,

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
    /// Manage tenants (Mandanten).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage local user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Leitstand as a C2SP tlog-witness for other logs.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// The alerting rules made from the policy.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Incidents: open, list, show with their clocks.
    #[command(subcommand)]
    Incident(IncidentCommand),
}

/// `leitstand incident …`.
#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Open an incident and print its number.
    Open {
        /// Title.
        #[arg(long)]
        title: String,
        /// SEV-1, SEV-2, SEV-3 or SEV-4.
        #[arg(long)]
        severity: String,
        /// An affected tenant (repeatable).
        #[arg(long = "tenant", value_name = "SLUG")]
        tenants: Vec<String>,
        /// An affected service (repeatable).
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
    },
    /// List incidents, newest first.
    List {
        /// Only open, resolved or closed ones.
        #[arg(long)]
        status: Option<String>,
    },
    /// Show one incident with its clocks.
    Show {
        /// The number (`7` or `INC-7`).
        number: String,
    },
}

/// `leitstand rules …`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print the rules (the default pack from the policy's thresholds) in a
    /// format another system evaluates.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = RulesFormat::Prometheus)]
        format: RulesFormat,
        /// The rules of this tenant's effective policy.
        #[arg(long, value_name = "SLUG")]
        tenant: Option<String>,
    },
    /// Run rule unit tests written for `promtool test rules` (input series,
    /// expected alerts and expression values at given times); exits 1 if
    /// any expectation fails.
    Test {
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Rule export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RulesFormat {
    /// A Prometheus rule file (`promtool check rules` accepts it).
    Prometheus,
}

/// `leitstand witness …`.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Print the witness's cosigner key (`name+hash+base64`, algorithm 0x04)
    /// for the logs' `[[audit.witnesses]]`; creates it on first use.
    Key,
    /// Serve `POST /add-checkpoint` for the logs in `[[witness.logs]]`.
    Serve {
        /// Address and port [default: witness.listen, 127.0.0.1:8090].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
}

/// `leitstand audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the log's verifier key (`name+hash+base64`) for third-party
    /// verifiers and witnesses; creates the key on a fresh data directory.
    Key,
    /// Verify the whole log: exits 0 if it verifies, 1 with each finding.
    /// Without --url: the data directory, including every stored event and
    /// every checkpoint ever published. With --url: a running instance over
    /// HTTP, as an outside verifier sees it.
    Verify {
        /// Base URL of a running Leitstand (`https://leitstand.example`).
        #[arg(long)]
        url: Option<String>,
        /// The log's verifier key (required with --url; default: the local key).
        #[arg(long)]
        key: Option<String>,
        /// A witness's cosigner key: the served checkpoint must carry its
        /// valid cosignature (with --url; repeat for several witnesses).
        #[arg(long = "witness", value_name = "KEY")]
        witnesses: Vec<String>,
    },
}

/// `leitstand user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a one-time password is
    /// generated and printed; it must be changed at the first login.
    Add {
        /// Login name.
        name: String,
        /// Role: admin, devops, compliance, security, auditor, tenant_viewer.
        #[arg(long)]
        role: String,
        /// Tenant the user may see (repeatable; required for tenant_viewer).
        #[arg(long = "tenant", value_name = "SLUG")]
        tenants: Vec<String>,
        /// Name shown in the UI.
        #[arg(long, default_value = "")]
        display_name: String,
        /// Read the initial password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user: ends their sessions and revokes their API tokens
    /// (enabling the user again brings neither back).
    Disable {
        /// Login name.
        name: UserName,
    },
    /// Enable a disabled user.
    Enable {
        /// Login name.
        name: UserName,
    },
    /// Set a new one-time password (generated, or from standard input); the
    /// user must change it at the next login, before it expires. Ends the
    /// user's sessions.
    ResetPassword {
        /// Login name.
        name: UserName,
        /// Read the new password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Revoke the user's API tokens too.
        #[arg(long)]
        revoke_tokens: bool,
    },
}

/// `leitstand tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Add {
        /// Short name (lower case, digits, `-`): the `tenant` label of its
        /// probes and alerts, the `tenant` of its audit events.
        slug: String,
        /// Name shown in the UI.
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
}

/// `leitstand token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (and nothing else).
    Create {
        /// The user the token acts for.
        #[arg(long)]
        user: UserName,
        /// Scope: read, write, ingest (sending alerts only) or calendar
        /// (on-call calendars only); repeatable [default: read].
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30d or 8h [default: no expiry].
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Token name.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// `leitstand serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LEITSTAND_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
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
