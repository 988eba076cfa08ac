//! The HTTP side every HTTP-speaking check shares — the `http` and `cxml`
//! probes and scraping: one pair of clients for the whole process (so
//! connections to a target are reused across runs), sending with a time
//! limit, reading a body only up to a limit (a target cannot make the
//! prober hold gigabytes), and sorting reqwest's errors into
//! [`ProbeError`]'s causes. It also holds the checks of what such a target
//! may be configured with — an http(s) URL without credentials, headers
//! that can be sent — so every kind refuses the same things with the same
//! words.

use std::error::Error as _;
use std::time::Duration;

use crate::error::{ProbeError, chain};

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

    /// The client that follows redirects (up to 10).
    pub fn follow(&self) -> &reqwest::Client {
        &self.follow
    }

    /// The client that follows redirects or the one that does not.
    pub fn redirects(&self, follow: bool) -> &reqwest::Client {
        if follow { &self.follow } else { &self.stay }
    }
}

/// Most of a probed page that is read (keywords and JSON are near the top
/// of any health page).
pub const BODY_LIMIT: usize = 1 << 20;

/// Sends `request` (built with `timeout` as its time limit) and returns the
/// response, its body not yet read.
pub async fn send(request: reqwest::RequestBuilder, timeout: Duration) -> Result<reqwest::Response, ProbeError> {
    request.timeout(timeout).send().await.map_err(|e| sorted(&e, None, timeout))
}

/// A response body of at most `max` bytes, as text (invalid UTF-8 replaced).
/// `timeout` is the request's time limit, which covers the body too.
pub async fn read_body(mut response: reqwest::Response, max: usize, timeout: Duration) -> Result<String, ProbeError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > max => return Err(ProbeError::TooLarge { limit: max }),
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(e) => return Err(sorted(&e, Some("reading the body"), timeout)),
        }
    }
}

/// The cause of a failed exchange, found in reqwest's chain of errors.
fn sorted(e: &reqwest::Error, reading: Option<&str>, timeout: Duration) -> ProbeError {
    if e.is_timeout() {
        return ProbeError::Timeout { doing: reading.map(str::to_string), after: timeout };
    }
    if reading.is_some() {
        return ProbeError::Read { detail: chain(e) };
    }
    let doing = e.to_string();
    let detail = e.source().map(chain).unwrap_or_default();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // An io::Error's source() skips the error it wraps; look inside.
        let inner = s.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref().map(|i| i as &dyn std::error::Error));
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ProbeError::Refused { doing, detail };
        }
        if let Some(tls) = s.downcast_ref::<rustls::Error>().or_else(|| inner.and_then(|i| i.downcast_ref())) {
            return match tls {
                rustls::Error::InvalidMessage(_) => ProbeError::Malformed { detail: chain(e) },
                _ => ProbeError::Tls { doing, detail },
            };
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && (h.is_parse() || h.is_parse_status())
        {
            return ProbeError::Malformed { detail: chain(e) };
        }
        source = s.source();
    }
    if e.is_connect() { ProbeError::Connect { doing, detail } } else { ProbeError::Request { doing, detail } }
}

/// `target` as an http(s) URL, if it is one.
pub fn http_url(target: &str) -> Option<reqwest::Url> {
    reqwest::Url::parse(target).ok().filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Why a URL must not be used: credentials in it would be shown, logged
/// and become a label.
pub fn credentials_in(url: &reqwest::Url) -> Option<String> {
    (!url.username().is_empty() || url.password().is_some())
        .then(|| "the URL carries credentials, which would be shown and logged; put them in headers".to_string())
}

/// Why a header cannot be sent (the value itself is never quoted: it is
/// often a credential).
pub fn header_problem(name: &str, value: &str) -> Option<String> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        Some(format!("{name:?} is not a header name"))
    } else if reqwest::header::HeaderValue::from_str(value).is_err() {
        Some(format!("the value of {name:?} is not a valid header value"))
    } else {
        None
    }
}
