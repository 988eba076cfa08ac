//! `leitstand tenant …`, `user …`, `token …` and `incident …`: administration from the
//! machine's shell, through the same application services (and audit
//! events) as the UI. Whoever can run this can read the database anyway;
//! the actor is recorded as `system via:cli`.

use std::io::BufRead;
use std::process::ExitCode;

use leitstand_app::{App, NewUserRequest, Principal, UserName, Via};
use leitstand_core::access::{Role, TenantScope};
use leitstand_core::clock::SystemClock;
use leitstand_core::time_limit::Duration;
use uuid::Uuid;

use crate::cli::{IncidentCommand, TenantCommand, TokenCommand, UserCommand};
use crate::config::Config;

fn system() -> Principal {
    Principal {
        user_id: Uuid::nil(),
        username: UserName::parse("system").expect("a valid user name"),
        role: Role::Admin,
        scope: TenantScope::All,
        via: Via::Cli,
        password_change_due: false,
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
    } else {
        Ok((leitstand_app::generate_password(), true))
    }
}

async fn app(config: &Config) -> anyhow::Result<App> {
    let store = crate::serve::open_existing(&config.server).await?;
    let clock: std::sync::Arc<dyn leitstand_core::Clock> = std::sync::Arc::new(SystemClock);
    // While the server runs it holds the log; events then wait in the outbox.
    let sink = leitstand_app::AuditSink::open(crate::serve::audit_settings(config), clock.clone(), true)?;
    let mut app = App::new(store, clock, sink);
    app.sessions.one_time_password = config.server.one_time_password_validity.signed();
    app.incidents = std::sync::Arc::new(leitstand_app::incidents::IncidentSettings { policy: config.policy.clone() });
    app.relay_audit_outbox().await?;
    Ok(app)
}

/// Runs a tenant subcommand.
pub async fn tenant(config: &Config, command: TenantCommand) -> anyhow::Result<ExitCode> {
    let app = app(config).await?;
    let me = system();
    match command {
        TenantCommand::Add { slug, name } => {
            let tenant = app.create_tenant(&me, &slug, &name).await?;
            println!("tenant {} created", tenant.slug);
        }
        TenantCommand::List => {
            println!("{:<24} {:<8} name", "tenant", "active");
            for t in app.tenants(&me).await? {
                println!("{:<24} {:<8} {}", t.slug, if t.active { "yes" } else { "no" }, t.name);
            }
        }
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Runs a user subcommand.
pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    let app = app(config).await?;
    let me = system();
    match command {
        UserCommand::Add { name, role, tenants, display_name, password_stdin } => {
            let role: Role = role.parse()?;
            let (password, generated) = read_password(password_stdin)?;
            let user = app
                .add_user(
                    &me,
                    NewUserRequest { username: name, display_name, role, password: password.clone(), tenants },
                )
                .await?;
            if generated {
                let until =
                    user.password_expires_at.map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default();
                println!(
                    "user {} created; one-time password (change at first login, before {until}): {password}",
                    user.username
                );
            } else {
                println!("user {} created", user.username);
            }
        }
        UserCommand::List => {
            let tenants = app.tenants(&me).await?;
            println!("{:<24} {:<14} {:<8} tenants", "user", "role", "active");
            for user in app.users(&me).await? {
                let slugs: Vec<String> = user
                    .tenants
                    .iter()
                    .filter_map(|id| tenants.iter().find(|t| t.id == *id).map(|t| t.slug.to_string()))
                    .collect();
                println!(
                    "{:<24} {:<14} {:<8} {}",
                    user.username,
                    user.role.as_str(),
                    if user.active { "yes" } else { "no" },
                    slugs.join(",")
                );
            }
        }
        UserCommand::Disable { name } => {
            app.set_user_active(&me, &name, false).await?;
            println!("user {name} disabled; sessions ended, API tokens revoked");
        }
        UserCommand::Enable { name } => {
            app.set_user_active(&me, &name, true).await?;
            println!("user {name} enabled");
        }
        UserCommand::ResetPassword { name, password_stdin, revoke_tokens } => {
            let (password, generated) = read_password(password_stdin)?;
            let user = app.reset_password(&me, &name, password.clone(), revoke_tokens).await?;
            let until =
                user.password_expires_at.map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default();
            if generated {
                println!("new one-time password for {name} (change at next login, before {until}): {password}");
            } else {
                println!("password of {name} reset; it must be changed at the next login, before {until}");
            }
        }
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Runs a token subcommand.
pub async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let app = app(config).await?;
    match command {
        TokenCommand::Create { user, scopes, expires, name } => {
            let principal = app.cli_principal(&user).await?;
            let scopes = if scopes.is_empty() { vec!["read".to_string()] } else { scopes };
            let expires_at = match expires {
                Some(text) => {
                    let d: Duration = text.parse()?;
                    Some(leitstand_core::Clock::now(&SystemClock).saturating_add(d.signed())?)
                }
                None => None,
            };
            let token = app.create_token(&principal, &name, &scopes, expires_at).await?;
            println!("{}", token.secret);
        }
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Runs an incident subcommand.
pub async fn incident(config: &Config, command: IncidentCommand) -> anyhow::Result<ExitCode> {
    use leitstand_app::incidents::{ClockKind, IncidentQuery, IncidentSeverity, OpenIncident, Status};
    let app = app(config).await?;
    let me = system();
    let zone = app.time_zone();
    let local = |t: jiff::Timestamp| t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string();
    match command {
        IncidentCommand::Open { title, severity, tenants, services } => {
            let severity: IncidentSeverity = severity.parse().map_err(|e| anyhow::anyhow!("--severity {e}"))?;
            let open = OpenIncident {
                title,
                severity,
                detected_at: None,
                aware_at: None,
                services,
                tenants,
                personal_data_breach: false,
            };
            let inc = app.open_incident(&me, open).await?;
            println!("INC-{} opened", inc.number);
        }
        IncidentCommand::List { status } => {
            let status =
                status.map(|s| s.parse::<Status>().map_err(|e| anyhow::anyhow!("--status: {e}"))).transpose()?;
            let list = app.incidents(&me, &IncidentQuery { status, ..Default::default() }).await?;
            println!("{:<8} {:<6} {:<9} {:<12} {:<28} title", "number", "sev", "status", "phase", "next deadline");
            for inc in list {
                let next = inc.clocks.iter().find(|c| c.clock.done_at.is_none()).map(|c| local(c.clock.due));
                println!(
                    "{:<8} {:<6} {:<9} {:<12} {:<28} {}",
                    format!("INC-{}", inc.number),
                    inc.severity.to_string(),
                    inc.status.as_str(),
                    inc.phase.as_str(),
                    next.unwrap_or_else(|| "–".into()),
                    inc.title
                );
            }
        }
        IncidentCommand::Show { number } => {
            let n: i64 = number
                .trim_start_matches("INC-")
                .parse()
                .map_err(|_| anyhow::anyhow!("{number:?} is not an incident number (7 or INC-7)"))?;
            let inc = app.incident(&me, n).await?;
            println!("INC-{} {} {}: {}", inc.number, inc.severity, inc.status.as_str(), inc.title);
            println!("phase {}; detected {}", inc.phase.label_de(), local(inc.detected_at));
            for c in &inc.clocks {
                let kind = match c.clock.kind {
                    ClockKind::Reaction => "Reaktion".to_string(),
                    ClockKind::PostMortem => "Post-Mortem".to_string(),
                    ClockKind::Report(r) => r.to_string(),
                };
                let party = c.party.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
                let state = c.state.as_str();
                let relieved = if c.clock.relieved { ", weekend/holiday relief" } else { "" };
                println!("  {kind}{party}: due {} — {state}{relieved}", local(c.clock.due));
            }
        }
    }
    app.close().await;
    Ok(ExitCode::SUCCESS)
}
