//! `kind = "tcp"`: the port accepts a connection within the time limit —
//! nothing is sent, so any service can be checked without speaking its
//! protocol.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{Outcome, Probe, Run};
use crate::config::{FieldError, host_port};
use crate::error::connecting;
use crate::{ProbeError, ProbeResult};

/// The keys of a `tcp` probe: none besides the target.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// A TCP connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpProbe {
    /// `host:port`.
    pub address: String,
}

impl TcpProbe {
    /// A connect to `address` (`host:port`).
    pub fn new(address: impl Into<String>) -> Self {
        Self { address: address.into() }
    }

    /// Connects within `timeout`.
    pub async fn check(&self, timeout: Duration) -> ProbeResult {
        let start = Instant::now();
        let address = &self.address;
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
            Ok(Ok(_)) => ProbeResult::ok(start.elapsed(), None),
            Ok(Err(e)) => ProbeResult::failed(start.elapsed(), None, connecting(format!("connect {address}"), &e)),
            Err(_) => ProbeResult::failed(
                start.elapsed(),
                None,
                ProbeError::Timeout { doing: Some(format!("connect {address}")), after: timeout },
            ),
        }
    }
}

impl Probe for TcpProbe {
    type Config = Config;

    fn from_config(target: &str, _: &Config) -> Result<Self, Vec<FieldError>> {
        if !host_port(target) {
            return Err(vec![FieldError::new("target", format!("{target:?} is not host:port"))]);
        }
        Ok(Self::new(target))
    }

    fn target(&self) -> &str {
        &self.address
    }

    async fn run(&self, run: &Run<'_>) -> Outcome {
        self.check(run.timeout).await.into()
    }
}
