//! `kind = "dns"`: a name resolves (A/AAAA, through the system's resolver
//! as the portal's users would), within the time limit, and — if given —
//! to one of the expected addresses. Every address found is reported, so
//! a hijacked or stale record shows what it points to.
//!
//! With `server`, it asks that one DNS server directly instead (the wire
//! format over UDP in `wire.rs`): the answer of that server alone —
//! the portal's authoritative server, say — without the system's caches
//! and hosts file. The contract test uses it to serve answers — slow,
//! silent, malformed — from loopback.

mod wire;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{Outcome, Probe, Run};
use crate::config::FieldError;
use crate::{ProbeError, ProbeResult};

/// The keys of a `dns` probe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// dns: accepted addresses; unset: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_addresses: Vec<String>,
    /// dns: ask this DNS server directly (`192.0.2.53`, `192.0.2.53:5353`,
    /// `[2001:db8::53]:53`; port 53 if none) instead of the system's
    /// resolver; unset: the system's resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// A name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProbe {
    /// The name.
    pub name: String,
    /// Accepted addresses; empty: any.
    pub expected: Vec<IpAddr>,
    /// Ask this server directly instead of the system's resolver.
    pub server: Option<SocketAddr>,
}

impl DnsProbe {
    /// Resolving `name` through the system's resolver; `expected` empty
    /// accepts any answer.
    pub fn new(name: impl Into<String>, expected: Vec<IpAddr>) -> Self {
        Self { name: name.into(), expected, server: None }
    }

    /// Resolves the name within `timeout`; the result and every address found.
    pub async fn resolve(&self, timeout: Duration) -> (ProbeResult, Vec<IpAddr>) {
        let start = Instant::now();
        let name = &self.name;
        let lookup = async {
            match self.server {
                None => system(name).await,
                Some(server) => wire::ask(server, name).await,
            }
        };
        let mut found = match tokio::time::timeout(timeout, lookup).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return (ProbeResult::failed(start.elapsed(), None, e), Vec::new()),
            Err(_) => {
                let e = ProbeError::Timeout { doing: Some(format!("resolving {name}")), after: timeout };
                return (ProbeResult::failed(start.elapsed(), None, e), Vec::new());
            }
        };
        found.sort();
        found.dedup();
        let duration = start.elapsed();
        let result = if found.is_empty() {
            ProbeResult::failed(duration, None, ProbeError::NoAddress { name: name.clone() })
        } else if !self.expected.is_empty() && !found.iter().any(|ip| self.expected.contains(ip)) {
            let e = ProbeError::UnexpectedAddress {
                name: name.clone(),
                found: found.clone(),
                expected: self.expected.clone(),
            };
            ProbeResult::failed(duration, None, e)
        } else {
            ProbeResult::ok(duration, None)
        };
        (result, found)
    }
}

/// The addresses the system's resolver gives for `name`.
async fn system(name: &str) -> Result<Vec<IpAddr>, ProbeError> {
    match tokio::net::lookup_host((name, 0)).await {
        Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
        Err(e) => Err(ProbeError::Dns { name: name.to_string(), detail: e.to_string() }),
    }
}

impl Probe for DnsProbe {
    type Config = Config;

    fn from_config(target: &str, c: &Config) -> Result<Self, Vec<FieldError>> {
        if target.is_empty() || target.contains(['/', ':', ' ']) {
            return Err(vec![FieldError::new("target", format!("{target:?} is not a host name"))]);
        }
        let mut problems = Vec::new();
        let mut expected = Vec::new();
        for a in &c.expect_addresses {
            match a.parse::<IpAddr>() {
                Ok(ip) => expected.push(ip),
                Err(_) => problems.push(FieldError::new("expect_addresses", format!("{a:?} is not an IP address"))),
            }
        }
        let server = match c.server.as_deref().map(str::trim) {
            None => None,
            Some(text) => match text.parse::<SocketAddr>().or_else(|_| text.parse::<IpAddr>().map(|ip| (ip, 53).into())) {
                Ok(addr) => Some(addr),
                Err(_) => {
                    problems.push(FieldError::new("server", format!("{text:?} is not an IP address with an optional port")));
                    None
                }
            },
        };
        if problems.is_empty() { Ok(Self { server, ..Self::new(target, expected) }) } else { Err(problems) }
    }

    fn target(&self) -> &str {
        &self.name
    }

    async fn run(&self, run: &Run<'_>) -> Outcome {
        self.resolve(run.timeout).await.0.into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_configured_server_is_asked_directly_and_a_wrong_one_is_named() {
        let config = |server: &str| Config { server: Some(server.into()), ..Config::default() };
        let probe = DnsProbe::from_config("portal.example", &config("192.0.2.53")).unwrap();
        assert_eq!(probe.server, Some("192.0.2.53:53".parse().unwrap()), "port 53 unless given");
        let probe = DnsProbe::from_config("portal.example", &config("[2001:db8::53]:5353")).unwrap();
        assert_eq!(probe.server, Some("[2001:db8::53]:5353".parse().unwrap()));
        assert_eq!(DnsProbe::from_config("portal.example", &Config::default()).unwrap().server, None);
        let e = DnsProbe::from_config("portal.example", &config("ns1.example")).unwrap_err();
        assert_eq!(e[0].field, "server");
        assert!(e[0].reason.contains("ns1.example"), "{}", e[0]);
    }

    #[tokio::test]
    async fn names_resolve_to_what_is_expected_or_say_what_they_found() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let timeout = Duration::from_secs(5);
        let (ok, found) = DnsProbe::new("localhost", vec![loopback]).resolve(timeout).await;
        assert!(ok.success() && found.contains(&loopback), "{ok:?} {found:?}");
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let (wrong, _) = DnsProbe::new("localhost", vec![other]).resolve(timeout).await;
        assert!(!wrong.success() && wrong.message().contains("expected 192.0.2.7"), "{wrong:?}");
        let (missing, _) = DnsProbe::new("does-not-exist.invalid", vec![]).resolve(timeout).await;
        assert!(
            !missing.success() && missing.message().starts_with("resolving does-not-exist.invalid: "),
            "{missing:?}"
        );
    }
}
