//! What every page and API handler needs about the request: the language,
//! the session (if any), the request id, whether the connection is TLS.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use leitstand_app::ValidSession;

use crate::AppState;
use crate::TraceContext;
use crate::i18n::{Lang, Tr};
use crate::origin::ClientOrigin;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "leitstand_session";
/// Name of the language cookie (for visitors who are not signed in).
pub const LANG_COOKIE: &str = "leitstand_lang";

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Request context.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Translator.
    pub tr: Tr,
    /// The valid session, if signed in.
    pub session: Option<ValidSession>,
    /// Request id.
    pub request_id: String,
    /// TLS in use (cookies get `Secure`).
    pub tls: bool,
    /// The client's address.
    pub client_ip: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(value) => state.app.session(value).await.ok(),
            None => None,
        };
        let lang = session
            .as_ref()
            .and_then(|s| Lang::parse(&s.locale))
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse))
            .or_else(|| {
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or(Lang::De);
        let request_id = TraceContext::request_id(&parts.extensions);
        let origin = ClientOrigin::of(&parts.extensions);
        Ok(Ctx { tr: Tr { lang }, session, request_id, tls: origin.tls, client_ip: origin.ip.to_string() })
    }
}
