//! TCP connect probes: the port accepts a connection within the timeout.

use std::time::{Duration, Instant};

use crate::ProbeResult;

/// Connects to `address` (`host:port`).
pub async fn probe(address: &str, timeout: Duration) -> ProbeResult {
    let start = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => ProbeResult::ok(start.elapsed(), None),
        Ok(Err(e)) => ProbeResult::failed(start.elapsed(), None, format!("connect {address}: {e}")),
        Err(_) => {
            ProbeResult::failed(start.elapsed(), None, format!("connect {address}: no answer within {timeout:?}"))
        }
    }
}
