//! `kind = "http"`: an HTTP(S) request — method, custom headers, redirects
//! followed or not — and its expectations: accepted status codes, a
//! keyword the body must contain, a JSON value at a path. Every failed
//! expectation is its own [`ProbeError`] cause, named in the message.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{Outcome, Probe, Run};
use crate::client::{self, BODY_LIMIT, Clients};
use crate::config::{FieldError, Secret};
use crate::{ProbeError, ProbeResult};

/// The keys of an `http` probe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// http: request method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// http: request headers. The values are treated as secrets (an
    /// `Authorization` header is common): never printed or logged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
    /// http: request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// http: accepted status codes; unset: 200–399.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// http: text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// http: JSON pointer into the body (`/status`), checked against `json_value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    /// http: the value expected at `json_pointer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_value: Option<serde_json::Value>,
    /// http: follow redirects (up to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
}

/// What an HTTP probe checks. Its `Debug` output names the headers but
/// not their values, which often carry credentials.
#[derive(Clone)]
pub struct HttpProbe {
    /// The URL.
    pub url: String,
    /// Method (`GET`, `HEAD`, `POST`, …).
    pub method: reqwest::Method,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<String>,
    /// Accepted status codes; empty: 200–399.
    pub expect_status: Vec<u16>,
    /// Text the body must contain.
    pub body_contains: Option<String>,
    /// JSON pointer (`/status`) and the value expected there.
    pub json: Option<(String, serde_json::Value)>,
    /// Whether redirects are followed (up to 10).
    pub follow_redirects: bool,
}

impl std::fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HttpProbe")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &headers)
            .field("body", &self.body.as_ref().map(|b| b.len()))
            .field("expect_status", &self.expect_status)
            .field("body_contains", &self.body_contains)
            .field("json", &self.json)
            .field("follow_redirects", &self.follow_redirects)
            .finish()
    }
}

impl HttpProbe {
    /// A GET probe of `url` expecting 200–399.
    pub fn get(url: &str) -> Self {
        Self {
            url: url.into(),
            method: reqwest::Method::GET,
            headers: Vec::new(),
            body: None,
            expect_status: Vec::new(),
            body_contains: None,
            json: None,
            follow_redirects: true,
        }
    }

    /// Sends the request within `timeout` and judges the answer.
    pub async fn check(&self, clients: &Clients, timeout: Duration) -> ProbeResult {
        let start = Instant::now();
        let mut request = clients.redirects(self.follow_redirects).request(self.method.clone(), &self.url);
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let response = match client::send(request, timeout).await {
            Ok(r) => r,
            Err(e) => return ProbeResult::failed(start.elapsed(), None, e),
        };
        let status = response.status().as_u16();
        let verdict = match client::read_body(response, BODY_LIMIT, timeout).await {
            Ok(body) => self.judge(status, &body),
            Err(e) => Err(e),
        };
        match verdict {
            Ok(()) => ProbeResult::ok(start.elapsed(), Some(status)),
            Err(e) => ProbeResult::failed(start.elapsed(), Some(status), e),
        }
    }

    /// The expectations, checked on an answer.
    fn judge(&self, status: u16, body: &str) -> Result<(), ProbeError> {
        let status_ok = if self.expect_status.is_empty() {
            (200..400).contains(&status)
        } else {
            self.expect_status.contains(&status)
        };
        if !status_ok {
            return Err(ProbeError::Status { status, expected: self.expect_status.clone() });
        }
        if let Some(keyword) = &self.body_contains
            && !body.contains(keyword.as_str())
        {
            return Err(ProbeError::BodyMismatch { keyword: keyword.clone() });
        }
        if let Some((pointer, want)) = &self.json {
            let Ok(got) = serde_json::from_str::<serde_json::Value>(body) else {
                return Err(ProbeError::Malformed { detail: "the body is not JSON".into() });
            };
            match got.pointer(pointer) {
                Some(v) if v == want => {}
                found => {
                    return Err(ProbeError::JsonMismatch {
                        pointer: pointer.clone(),
                        found: found.map(ToString::to_string),
                        expected: want.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

impl Probe for HttpProbe {
    type Config = Config;

    fn from_config(target: &str, c: &Config) -> Result<Self, Vec<FieldError>> {
        if client::http_url(target).is_none() {
            return Err(vec![FieldError::new("target", format!("{target:?} is not an http(s):// URL"))]);
        }
        let mut problems = Vec::new();
        let method = match c.method.as_deref().map(|m| reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())) {
            None => reqwest::Method::GET,
            Some(Ok(m)) => m,
            Some(Err(_)) => {
                let method = c.method.as_deref().unwrap_or_default();
                problems.push(FieldError::new("method", format!("{method:?} is not an HTTP method")));
                reqwest::Method::GET
            }
        };
        for code in &c.expect_status {
            if !(100..=599).contains(code) {
                problems.push(FieldError::new("expect_status", format!("{code} is not an HTTP status")));
            }
        }
        for (name, value) in &c.headers {
            if let Some(why) = client::header_problem(name, value.expose()) {
                problems.push(FieldError::new("headers", why));
            }
        }
        let json = match (&c.json_pointer, &c.json_value) {
            (Some(ptr), Some(v)) if ptr.starts_with('/') || ptr.is_empty() => Some((ptr.clone(), v.clone())),
            (Some(ptr), Some(_)) => {
                problems.push(FieldError::new(
                    "json_pointer",
                    format!("{ptr:?} is not a JSON pointer (they start with /)"),
                ));
                None
            }
            (Some(_), None) => {
                problems.push(FieldError::new("json_value", "is needed with json_pointer"));
                None
            }
            (None, Some(_)) => {
                problems.push(FieldError::new("json_pointer", "is needed with json_value"));
                None
            }
            (None, None) => None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(HttpProbe {
            method,
            headers: c.headers.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect(),
            body: c.body.clone(),
            expect_status: c.expect_status.clone(),
            body_contains: c.body_contains.clone(),
            json,
            follow_redirects: c.follow_redirects.unwrap_or(true),
            ..HttpProbe::get(target)
        })
    }

    fn target(&self) -> &str {
        &self.url
    }

    async fn run(&self, run: &Run<'_>) -> Outcome {
        self.check(run.clients, run.timeout).await.into()
    }
}
