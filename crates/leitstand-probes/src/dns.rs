//! DNS probes: a name resolves (A/AAAA, through the system's resolver as
//! the portal's users would), within the timeout, and — if given — to one
//! of the expected addresses. Every address found is reported, so a
//! hijacked or stale record shows what it points to.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::ProbeResult;

/// Resolves `name`; `expected` empty accepts any answer.
pub async fn probe(name: &str, expected: &[IpAddr], timeout: Duration) -> (ProbeResult, Vec<IpAddr>) {
    let start = Instant::now();
    let lookup = tokio::net::lookup_host((name, 0));
    let found: Vec<IpAddr> = match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.sort();
            ips.dedup();
            ips
        }
        Ok(Err(e)) => {
            return (ProbeResult::failed(start.elapsed(), None, format!("resolving {name}: {e}")), Vec::new());
        }
        Err(_) => {
            let why = format!("resolving {name}: no answer within {timeout:?}");
            return (ProbeResult::failed(start.elapsed(), None, why), Vec::new());
        }
    };
    let duration = start.elapsed();
    let result = if found.is_empty() {
        ProbeResult::failed(duration, None, format!("{name} has no address"))
    } else if !expected.is_empty() && !found.iter().any(|ip| expected.contains(ip)) {
        let list = |ips: &[IpAddr]| ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
        ProbeResult::failed(duration, None, format!("{name} resolves to {}, expected {}", list(&found), list(expected)))
    } else {
        ProbeResult::ok(duration, None)
    };
    (result, found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn names_resolve_to_what_is_expected_or_say_what_they_found() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let (ok, found) = probe("localhost", &[loopback], Duration::from_secs(5)).await;
        assert!(ok.success && found.contains(&loopback), "{ok:?} {found:?}");
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let (wrong, _) = probe("localhost", &[other], Duration::from_secs(5)).await;
        assert!(!wrong.success && wrong.message.contains("expected 192.0.2.7"), "{wrong:?}");
        let (missing, _) = probe("does-not-exist.invalid", &[], Duration::from_secs(5)).await;
        assert!(!missing.success && missing.message.starts_with("resolving does-not-exist.invalid: "), "{missing:?}");
    }
}
