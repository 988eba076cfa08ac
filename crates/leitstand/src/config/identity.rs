//! `[oidc]`: sign-in through an identity provider (OpenID Connect), its
//! claims mapped to users and roles.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Secret;

/// Sign-in through an OpenID Connect identity provider (Keycloak et al.).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Issuer URL, e.g. `https://sso.example.de/realms/behoerde`.
    pub issuer_url: String,
    /// Client id registered at the provider.
    pub client_id: String,
    /// Client secret of a confidential client. Never printed or logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Leitstand's callback as registered: `https://HOST/login/oidc/callback`.
    pub redirect_url: String,
    /// Scopes besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Claim with the login name.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Claim with the provider's role names, as a dotted path.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Provider role name → Leitstand role (admin, devops, compliance,
    /// security, auditor, tenant_viewer). The most privileged match wins;
    /// accounts without a match are refused.
    pub roles: std::collections::BTreeMap<String, String>,
    /// Claim with tenant slugs, for tenant viewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_claim: Option<String>,
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_role_claim() -> String {
    "realm_access.roles".into()
}
