//! `leitstand policy show|check` and `leitstand rules export`: the policy
//! as configured, and the alerting rules made from it.

use std::path::PathBuf;
use std::process::ExitCode;

use leitstand_core::tenant::TenantSlug;

use crate::cli::{Format, PolicyCommand, RulesCommand, RulesFormat};
use crate::config;

/// Runs a policy subcommand.
pub fn run(command: PolicyCommand, config_file: &Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Show { format, tenant } => {
            let config = config::load(config_file.as_deref(), std::env::vars())?;
            let policy = match tenant {
                Some(slug) => config.policy.for_tenant(&TenantSlug::parse(slug)?),
                None => &config.policy.base,
            };
            let text = match format {
                Format::Toml => toml::to_string_pretty(policy)?,
                Format::Json => serde_json::to_string_pretty(policy)? + "\n",
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|source| config::ConfigError::Read { path: file.clone(), source })?;
            let config = config::load_str(Some(&file), Some(&text), Vec::new())?;
            println!(
                "{}: valid ({} tenant override{})",
                file.display(),
                config.policy.tenants.len(),
                if config.policy.tenants.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs a rules subcommand.
pub fn rules(command: RulesCommand, config_file: &Option<PathBuf>) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Export { format: RulesFormat::Prometheus, tenant } => {
            let config = config::load(config_file.as_deref(), std::env::vars())?;
            let policy = match tenant {
                Some(slug) => config.policy.for_tenant(&TenantSlug::parse(slug)?),
                None => &config.policy.base,
            };
            let rules = leitstand_monitor::pack::default_pack(&policy.thresholds)?;
            print!("{}", leitstand_monitor::pack::prometheus_rule_file(&rules));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test { files } => {
            let mut failed = false;
            for file in files {
                println!("Unit Testing: {}", file.display());
                let (failures, checked) = leitstand_monitor::ruletest::run_test_file(&file)?;
                if failures.is_empty() {
                    println!("  SUCCESS ({checked} expectations)\n");
                    continue;
                }
                failed = true;
                println!("  FAILED ({} of {checked} expectations):", failures.len());
                for f in failures {
                    println!("    {}: {}\n        exp: {}\n        got: {}", f.group, f.what, f.expected, f.got);
                }
                println!();
            }
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
