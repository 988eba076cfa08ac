//! Sign-in through an organisation's identity provider (Keycloak et al.):
//! OpenID Connect authorisation code flow with PKCE (S256), `state` bound to
//! the browser, `nonce` checked in the ID token, the ID token's signature,
//! issuer, audience and expiry verified against the provider's published
//! keys. Roles come from a configured claim through a claim-to-role mapping;
//! an account without a mapped role is refused.
//!
//! The provider is the source of truth for its accounts: role and tenants are
//! updated from the claims at every sign-in. Its accounts have no password
//! in Leitstand, and a local account of the same name is never taken over.

use leitstand_core::Outcome;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;
use leitstand_core::access::{Role, UserName};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{NewUser, OidcLogin, OidcLoginRepository, TenantRepository, UserChange, UserRepository};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::json;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::identity::LoginOutcome;
use crate::{App, AppError, Result};

/// How Leitstand talks to the identity provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Issuer URL (discovery at `/.well-known/openid-configuration`).
    pub issuer_url: String,
    /// Client id registered at the provider.
    pub client_id: String,
    /// Client secret (confidential client), if any.
    pub client_secret: Option<String>,
    /// Leitstand's callback: `https://…/login/oidc/callback`.
    pub redirect_url: String,
    /// Extra scopes besides `openid`.
    pub scopes: Vec<String>,
    /// Claim with the login name.
    pub username_claim: String,
    /// Claim (dotted path, e.g. `realm_access.roles`) with role names.
    pub role_claim: String,
    /// Provider role name → Leitstand role.
    pub roles: BTreeMap<String, Role>,
    /// Claim with tenant slugs (for tenant viewers), if any.
    pub tenant_claim: Option<String>,
}

/// An OIDC-enabled login service; discovery happens on first use, so
/// Leitstand starts even while the provider is down.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    metadata: OnceCell<CoreProviderMetadata>,
}

type HttpFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, reqwest::Error>> + Send + 'a>>;

impl Oidc {
    /// An OIDC service with these settings.
    pub fn new(settings: OidcSettings) -> Result<Self> {
        IssuerUrl::new(settings.issuer_url.clone())
            .map_err(|e| AppError::invalid("oidc.issuer_url", e.to_string(), format!("Ungültige Adresse: {e}")))?;
        RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| AppError::invalid("oidc.redirect_url", e.to_string(), format!("Ungültige Adresse: {e}")))?;
        if settings.roles.is_empty() {
            return Err(AppError::invalid(
                "oidc.roles",
                "map at least one provider role to a Leitstand role",
                "Mindestens eine Rolle des Anbieters muss einer Leitstand-Rolle zugeordnet sein",
            ));
        }
        crate::install_crypto_provider();
        // No redirects: a provider endpoint must not bounce requests elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| {
                AppError::invalid("oidc", e.to_string(), format!("Anmeldung über die Organisation nicht möglich: {e}"))
            })?;
        Ok(Self { settings, http, metadata: OnceCell::new() })
    }

    fn call(&self) -> impl Fn(HttpRequest) -> HttpFuture<'static> + '_ {
        move |request: HttpRequest| {
            let http = self.http.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let mut builder = http.request(parts.method, parts.uri.to_string()).body(body);
                for (name, value) in &parts.headers {
                    builder = builder.header(name, value);
                }
                let response = builder.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?.to_vec();
                let mut out = HttpResponse::new(body);
                *out.status_mut() = status;
                *out.headers_mut() = headers;
                Ok(out)
            })
        }
    }

    async fn metadata(&self) -> Result<&CoreProviderMetadata> {
        self.metadata
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.settings.issuer_url.clone()).map_err(|e| unavailable(&e))?;
                CoreProviderMetadata::discover_async(issuer, &self.call()).await.map_err(|e| unavailable(&e))
            })
            .await
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> Result<ProviderClient> {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone()).map_err(|e| unavailable(&e))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }
}

/// A client built from discovery: authorisation endpoint known, token and
/// user-info endpoints as the provider announced them.
type ProviderClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The authorisation URL with PKCE: (url, state, nonce, PKCE verifier).
fn start(client: &ProviderClient, scopes: &[String]) -> (String, String, String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request =
        client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    for scope in scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    (url.to_string(), state.secret().clone(), nonce.secret().clone(), verifier.secret().clone())
}

fn unavailable(e: &dyn std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "identity provider request failed");
    AppError::invalid(
        "oidc",
        format!("the identity provider cannot be used: {e}"),
        format!("Der Identitätsanbieter ist nicht nutzbar: {e}"),
    )
}

/// A value at a dotted path in JSON claims.
fn claim<'a>(claims: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

/// Strings of a claim that is a string or an array of strings.
fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// The most privileged mapped role among the provider's roles.
fn mapped_role(roles: &BTreeMap<String, Role>, granted: &[String]) -> Option<Role> {
    // Role::ALL is ordered from most to least privileged.
    Role::ALL.into_iter().find(|role| granted.iter().any(|g| roles.get(g) == Some(role)))
}

/// Where the browser goes next, and the state value to bind to it.
#[derive(Debug, Clone)]
pub struct OidcStart {
    /// The provider's authorisation URL.
    pub redirect_to: String,
    /// The `state` (set as a short-lived cookie, compared at the callback).
    pub state: String,
}

impl App {
    /// Starts a sign-in at the provider.
    pub async fn oidc_start(&self, next_path: &str) -> Result<OidcStart> {
        let oidc =
            self.oidc.as_ref().ok_or_else(|| AppError::NotFound { entity: "oidc", key: "configuration".into() })?;
        let metadata = oidc.metadata().await?;
        let client = oidc.client(metadata)?;
        let (redirect_to, state, nonce, pkce_verifier) = start(&client, &oidc.settings.scopes);
        let login = OidcLogin {
            state: state.clone(),
            nonce,
            pkce_verifier,
            next_path: next_path.to_string(),
            created_at: self.clock.now(),
        };
        self.store.put_oidc_login(&login).await?;
        Ok(OidcStart { redirect_to, state })
    }

    /// Completes a sign-in: `state` from the query must equal the browser's
    /// state cookie; the code is exchanged with the PKCE verifier; the ID
    /// token is verified; the account is created or updated from its claims.
    /// Returns the session and where to go next.
    pub async fn oidc_finish(&self, state: &str, cookie_state: &str, code: &str) -> Result<(LoginOutcome, String)> {
        let oidc =
            self.oidc.as_ref().ok_or_else(|| AppError::NotFound { entity: "oidc", key: "configuration".into() })?;
        let now = self.clock.now();
        if state.is_empty() || !crate::secrets::constant_time_eq(state, cookie_state) {
            return Err(AppError::Forbidden { action: "oidc.state" });
        }
        let login =
            self.store.take_oidc_login(state, now).await?.ok_or(AppError::Forbidden { action: "oidc.state" })?;
        let metadata = oidc.metadata().await?;
        let client = oidc.client(metadata)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| unavailable(&e))?
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&oidc.call())
            .await
            .map_err(|e| unavailable(&e))?;
        let id_token = response.id_token().ok_or_else(|| unavailable(&"no ID token in the token response"))?;
        let at = chrono_time(now);
        let verifier = client.id_token_verifier().set_time_fn(move || at);
        let verified = id_token.claims(&verifier, &Nonce::new(login.nonce.clone())).map_err(|e| {
            tracing::warn!(error = %e, "ID token rejected");
            AppError::Forbidden { action: "oidc.id_token" }
        })?;
        // The signature is verified; read the custom claims from the payload.
        let payload = id_token.to_string();
        let claims: serde_json::Value = payload
            .split('.')
            .nth(1)
            .and_then(base64url_decode)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| unavailable(&"unreadable ID token payload"))?;
        let subject = verified.subject().as_str();
        let external_id = format!("{}|{subject}", oidc.settings.issuer_url);
        let claimed = claim(&claims, &oidc.settings.username_claim).and_then(|v| v.as_str()).ok_or_else(|| {
            AppError::invalid(
                "oidc",
                format!("the ID token has no {:?} claim", oidc.settings.username_claim),
                format!("Das ID-Token enthält keinen Claim {:?}", oidc.settings.username_claim),
            )
        })?;
        let username = UserName::parse(claimed).map_err(|e| {
            AppError::invalid(
                "oidc",
                format!("the ID token's {:?} claim: {e}", oidc.settings.username_claim),
                format!(
                    "Der Claim {:?} des ID-Tokens ist kein gültiger Benutzername ({})",
                    oidc.settings.username_claim,
                    UserName::RULE_DE
                ),
            )
        })?;
        let granted = strings(claim(&claims, &oidc.settings.role_claim));
        let Some(role) = mapped_role(&oidc.settings.roles, &granted) else {
            self.audit()
                .record(
                    "anonymous",
                    "auth.login",
                    None,
                    &format!("user:{username}"),
                    Outcome::Denied,
                    json!({ "via": "oidc", "reason": "no mapped role" }),
                )
                .await?;
            return Err(AppError::Forbidden { action: "oidc.no_role" });
        };
        let mut tenants = Vec::new();
        if let Some(tenant_claim) = &oidc.settings.tenant_claim {
            for slug in strings(claim(&claims, tenant_claim)) {
                if let Ok(slug) = TenantSlug::parse(slug)
                    && let Some(t) = self.store.tenant(&slug).await?
                {
                    tenants.push(t.id);
                }
            }
        }
        if role.is_tenant_bound() && tenants.is_empty() {
            return Err(AppError::Forbidden { action: "oidc.no_tenant" });
        }
        let user = match self.store.user_by_external_id(&external_id).await? {
            Some(user) => {
                if user.role != role {
                    self.audit()
                        .record(
                            "system via:oidc",
                            "role.change",
                            None,
                            &format!("user:{}", user.username),
                            Outcome::Success,
                            json!({ "from": user.role, "to": role }),
                        )
                        .await?;
                }
                self.store.change_user(user.id, UserChange::Role(role), now).await?;
                self.store.change_user(user.id, UserChange::Tenants(tenants), now).await?
            }
            None => {
                if self.store.user_by_name(&username).await?.is_some() {
                    return Err(AppError::Conflict { entity: "user", key: username.to_string() });
                }
                let display_name =
                    claim(&claims, "name").and_then(|v| v.as_str()).unwrap_or(username.as_str()).to_string();
                let user = self
                    .store
                    .create_user(
                        NewUser {
                            id: Uuid::now_v7(),
                            username: username.clone(),
                            display_name,
                            role,
                            password_hash: None,
                            must_change_password: false,
                            password_expires_at: None,
                            tenants: tenants.clone(),
                            external_id: Some(external_id.clone()),
                        },
                        now,
                    )
                    .await?;
                self.audit()
                    .record(
                        "system via:oidc",
                        "user.create",
                        None,
                        &format!("user:{username}"),
                        Outcome::Success,
                        json!({ "role": role, "via": "oidc" }),
                    )
                    .await?;
                user
            }
        };
        if !user.active {
            return Err(AppError::BadCredentials);
        }
        let outcome = self.start_session(&user, "oidc").await?;
        Ok((outcome, login.next_path))
    }
}

fn chrono_time(at: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_by_dotted_path() {
        let claims = json!({ "realm_access": { "roles": ["leitstand-admin", "x"] }, "groups": "ops" });
        assert_eq!(strings(claim(&claims, "realm_access.roles")), ["leitstand-admin", "x"]);
        assert_eq!(strings(claim(&claims, "groups")), ["ops"]);
        assert!(strings(claim(&claims, "missing.path")).is_empty());
    }

    #[test]
    fn the_most_privileged_mapped_role_wins() {
        let map = BTreeMap::from([("ops".to_string(), Role::Devops), ("admins".to_string(), Role::Admin)]);
        assert_eq!(mapped_role(&map, &["ops".into(), "admins".into()]), Some(Role::Admin));
        assert_eq!(mapped_role(&map, &["ops".into()]), Some(Role::Devops));
        assert_eq!(mapped_role(&map, &["other".into()]), None);
    }

    #[test]
    fn base64url() {
        assert_eq!(base64url_decode("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
    }
}
