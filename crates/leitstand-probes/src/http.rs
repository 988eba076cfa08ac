//! HTTP(S) probes: method, custom headers, redirects followed or not,
//! expected status codes, a keyword the body must contain, and a JSON
//! value at a path. Every failed expectation is named in the message.

use std::time::{Duration, Instant};

use crate::ProbeResult;

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
    /// Request body (for POST probes such as the cXML interface check).
    pub body: Option<String>,
    /// Accepted status codes; empty: 200–399.
    pub expect_status: Vec<u16>,
    /// Text the body must contain.
    pub body_contains: Option<String>,
    /// JSON pointer (`/status`) and the value expected there.
    pub json: Option<(String, serde_json::Value)>,
    /// Whether redirects are followed (up to 10).
    pub follow_redirects: bool,
    /// Time limit for the whole exchange.
    pub timeout: Duration,
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
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpProbe {
    /// A GET probe of `url` expecting 200–399 within 10 s.
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
            timeout: Duration::from_secs(10),
        }
    }
}

/// HTTP clients for probes: one that follows redirects, one that does not.
#[derive(Clone)]
pub struct Clients {
    follow: reqwest::Client,
    stay: reqwest::Client,
}

impl Clients {
    /// Clients with connection reuse and no cookies. The TLS crypto
    /// provider must be installed first.
    pub fn new() -> Result<Self, reqwest::Error> {
        let build = |policy| {
            reqwest::Client::builder()
                .redirect(policy)
                .user_agent(concat!("Leitstand/", env!("CARGO_PKG_VERSION"), " probe"))
                .build()
        };
        Ok(Self {
            follow: build(reqwest::redirect::Policy::limited(10))?,
            stay: build(reqwest::redirect::Policy::none())?,
        })
    }
}

impl Clients {
    /// The client that follows redirects (for scraping).
    pub fn follow(&self) -> &reqwest::Client {
        &self.follow
    }
}

/// Runs one HTTP probe.
pub async fn probe(clients: &Clients, p: &HttpProbe) -> ProbeResult {
    probe_with_body(clients, p).await.0
}

/// Runs one HTTP probe and returns the body too (read only when an
/// expectation or a caller needs it: here always).
pub(crate) async fn probe_with_body(clients: &Clients, p: &HttpProbe) -> (ProbeResult, String) {
    let start = Instant::now();
    let client = if p.follow_redirects { &clients.follow } else { &clients.stay };
    let mut request = client.request(p.method.clone(), &p.url).timeout(p.timeout);
    for (k, v) in &p.headers {
        request = request.header(k, v);
    }
    if let Some(body) = &p.body {
        request = request.body(body.clone());
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() { format!("no answer within {:?}", p.timeout) } else { error_chain(&e) };
            return (ProbeResult::failed(start.elapsed(), None, why), String::new());
        }
    };
    let status = response.status().as_u16();
    let body = match read_limited(response, BODY_LIMIT).await {
        Ok(b) => b,
        Err(why) => return (ProbeResult::failed(start.elapsed(), Some(status), why), String::new()),
    };
    let result = judge(p, status, &body, start.elapsed());
    (result, body)
}

/// Most of a probed page that is read (keywords and JSON are near the top
/// of any health page; a target cannot make the prober hold gigabytes).
pub const BODY_LIMIT: usize = 1 << 20;

/// A response body of at most `max` bytes, as text (invalid UTF-8 replaced).
pub async fn read_limited(mut response: reqwest::Response, max: usize) -> Result<String, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > max => {
                return Err(format!("the body is longer than {max} bytes"));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(e) => return Err(format!("reading the body: {}", error_chain(&e))),
        }
    }
}

/// The expectations, checked on an answer.
fn judge(p: &HttpProbe, status: u16, body: &str, duration: Duration) -> ProbeResult {
    let status_ok =
        if p.expect_status.is_empty() { (200..400).contains(&status) } else { p.expect_status.contains(&status) };
    if !status_ok {
        return ProbeResult::failed(
            duration,
            Some(status),
            format!("status {status}, expected {}", expected(&p.expect_status)),
        );
    }
    if let Some(keyword) = &p.body_contains
        && !body.contains(keyword.as_str())
    {
        return ProbeResult::failed(duration, Some(status), format!("the body does not contain {keyword:?}"));
    }
    if let Some((pointer, want)) = &p.json {
        let Ok(got) = serde_json::from_str::<serde_json::Value>(body) else {
            return ProbeResult::failed(duration, Some(status), "the body is not JSON");
        };
        match got.pointer(pointer) {
            Some(v) if v == want => {}
            Some(v) => {
                return ProbeResult::failed(duration, Some(status), format!("JSON {pointer} is {v}, expected {want}"));
            }
            None => return ProbeResult::failed(duration, Some(status), format!("JSON {pointer} is missing")),
        }
    }
    ProbeResult::ok(duration, Some(status))
}

fn expected(codes: &[u16]) -> String {
    if codes.is_empty() {
        "200–399".into()
    } else {
        codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
    }
}

/// The error with its causes (reqwest's top message alone says little).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
