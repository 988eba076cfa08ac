//! Sign-in through an OpenID Connect provider. No Keycloak runs here, so a
//! small provider on loopback speaks the real wire format: discovery, JWKS,
//! authorisation redirect, token endpoint with PKCE, RS256-signed ID tokens.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use leitstand_app::store_test;
use leitstand_app::{Oidc, OidcSettings};
use leitstand_core::access::Role;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2_010::{Digest, Sha256};

use crate::{App, PASSWORD, spawn_app_with};

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// What the provider puts into the next ID token, and what it saw.
#[derive(Default)]
struct Idp {
    base: String,
    now: i64,
    username: String,
    roles: Vec<String>,
    tenants: Vec<String>,
    sign_with_other_key: bool,
    codes: HashMap<String, (String, String)>,
}

type Shared = Arc<Mutex<Idp>>;

fn key(pem: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
}

const KEY: &str = include_str!("fixtures/idp-test-key.pem");
const OTHER_KEY: &str = include_str!("fixtures/other-test-key.pem");

async fn discovery(State(idp): State<Shared>) -> Json<Value> {
    let base = idp.lock().unwrap().base.clone();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks() -> Json<Value> {
    let public = key(KEY).to_public_key();
    Json(json!({ "keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "test",
        "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()),
    }]}))
}

async fn authorize(State(idp): State<Shared>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256", "PKCE is used");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", q["state"]);
    idp.lock().unwrap().codes.insert(code.clone(), (q["nonce"].clone(), q["code_challenge"].clone()));
    Redirect::to(&format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]))
}

async fn token(
    State(idp): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let mut idp = idp.lock().unwrap();
    let (nonce, challenge) = idp.codes.remove(&form["code"]).ok_or(axum::http::StatusCode::BAD_REQUEST)?;
    if b64(&Sha256::digest(form["code_verifier"].as_bytes())) != challenge {
        return Err(axum::http::StatusCode::BAD_REQUEST);
    }
    let header = b64(br#"{"alg":"RS256","kid":"test","typ":"JWT"}"#);
    let claims = json!({
        "iss": idp.base, "sub": format!("sub-{}", idp.username), "aud": "leitstand",
        "iat": idp.now, "exp": idp.now + 300, "nonce": nonce,
        "preferred_username": idp.username, "name": "Erika Mustermann",
        "realm_access": { "roles": idp.roles }, "tenants": idp.tenants,
    });
    let payload = b64(claims.to_string().as_bytes());
    let signer = SigningKey::<Sha256>::new(key(if idp.sign_with_other_key { OTHER_KEY } else { KEY }));
    let signature = b64(&signer.sign(format!("{header}.{payload}").as_bytes()).to_vec());
    Ok(Json(json!({
        "access_token": "at", "token_type": "Bearer", "expires_in": 300,
        "id_token": format!("{header}.{payload}.{signature}"),
    })))
}

async fn provider() -> Shared {
    let idp: Shared = Arc::default();
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(idp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    idp.lock().unwrap().base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

async fn leitstand(store: &leitstand_app::Store, idp: &Shared) -> App {
    let issuer = idp.lock().unwrap().base.clone();
    // The redirect URL needs Leitstand's port, known only after binding:
    // a placeholder that `sign_in` rewrites is enough for the fake provider.
    let app = spawn_app_with(store.clone(), |services| {
        services.oidc = Some(Arc::new(
            Oidc::new(OidcSettings {
                issuer_url: issuer,
                client_id: "leitstand".into(),
                client_secret: Some("geheim".into()),
                redirect_url: "http://leitstand.invalid/login/oidc/callback".into(),
                scopes: vec!["profile".into()],
                username_claim: "preferred_username".into(),
                role_claim: "realm_access.roles".into(),
                roles: BTreeMap::from([
                    ("leitstand-admin".into(), Role::Admin),
                    ("leitstand-ops".into(), Role::Devops),
                    ("kunde".into(), Role::TenantViewer),
                ]),
                tenant_claim: Some("tenants".into()),
            })
            .unwrap(),
        ));
    })
    .await;
    idp.lock().unwrap().now = leitstand_core::Clock::now(app.state.app.clock.as_ref()).as_second();
    app
}

/// The browser's round trip; the session cookie or the final response.
async fn sign_in(app: &App) -> Result<String, reqwest::Response> {
    let res = app.client.get(app.url("/login/oidc?next=/tenants")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let state_cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let authorize = res.headers()["location"].to_str().unwrap().to_string();
    let res = app.client.get(&authorize).send().await.unwrap();
    let callback = res.headers()["location"].to_str().unwrap().replace("http://leitstand.invalid", &app.url(""));
    let res = app.client.get(&callback).header("cookie", &state_cookie).send().await.unwrap();
    if res.status() != 303 {
        return Err(res);
    }
    assert_eq!(res.headers()["location"], "/tenants", "back where the user wanted to go");
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("leitstand_session="))
        .unwrap();
    Ok(session.split(';').next().unwrap().to_string())
}

store_test!(sign_in_creates_and_updates_the_account_from_claims, |store| {
    let idp = provider().await;
    let app = leitstand(store, &idp).await;
    let (_, login) = app.page("", "/login").await;
    assert!(login.contains("href=\"/login/oidc?next=/\""), "the login page offers the provider");
    {
        let mut i = idp.lock().unwrap();
        i.username = "Erika".into();
        i.roles = vec!["leitstand-ops".into(), "other".into()];
    }
    let cookie = sign_in(&app).await.unwrap();
    let (status, html) = app.page(&cookie, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("erika"));
    let user = app.state.app.cli_principal(&"erika".parse().unwrap()).await.unwrap();
    assert_eq!(user.role, Role::Devops);

    idp.lock().unwrap().roles = vec!["leitstand-admin".into()];
    sign_in(&app).await.unwrap();
    assert_eq!(
        app.state.app.cli_principal(&"erika".parse().unwrap()).await.unwrap().role,
        Role::Admin,
        "claims win at every sign-in"
    );
    assert!(app.login("erika", PASSWORD).await.is_err(), "no password sign-in for provider accounts");
    let admin = app.state.app.cli_principal(&"erika".parse().unwrap()).await.unwrap();
    let query = leitstand_app::audit::AuditQuery { limit: 100, ..Default::default() };
    let events = app.state.app.search_audit(&admin, query).await.unwrap().events;
    let actions: Vec<String> = events.into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"user.create".into()) && actions.contains(&"role.change".into()));
});

store_test!(tenant_viewers_get_their_tenants_from_a_claim, |store| {
    let idp = provider().await;
    let app = leitstand(store, &idp).await;
    app.user("admin", Role::Admin, &[]).await;
    let admin = app.state.app.cli_principal(&"admin".parse().unwrap()).await.unwrap();
    app.state.app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.state.app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    {
        let mut i = idp.lock().unwrap();
        i.username = "kunde1".into();
        i.roles = vec!["kunde".into()];
        i.tenants = vec!["bank-b".into()];
    }
    let cookie = sign_in(&app).await.unwrap();
    let (_, html) = app.page(&cookie, "/tenants").await;
    assert!(html.contains("bank-b") && !html.contains("bank-a"));
});

store_test!(forged_replayed_or_unmapped_sign_ins_are_refused, |store| {
    let idp = provider().await;
    let app = leitstand(store, &idp).await;
    {
        let mut i = idp.lock().unwrap();
        i.username = "mallory".into();
        i.roles = vec!["nothing-mapped".into()];
    }
    assert_eq!(sign_in(&app).await.unwrap_err().status(), 403, "no mapped role");

    {
        let mut i = idp.lock().unwrap();
        i.username = "Mallory O'Brien".into();
        i.roles = vec!["leitstand-admin".into()];
    }
    let refused = sign_in(&app).await.unwrap_err();
    assert_eq!(refused.status(), 422, "a claimed name no account can have");
    assert!(refused.text().await.unwrap().contains("preferred_username"), "the error names the claim");
    idp.lock().unwrap().username = "mallory".into();

    {
        let mut i = idp.lock().unwrap();
        i.roles = vec!["leitstand-admin".into()];
        i.sign_with_other_key = true;
    }
    assert_eq!(sign_in(&app).await.unwrap_err().status(), 403, "signature by a key the provider does not publish");
    idp.lock().unwrap().sign_with_other_key = false;

    // A callback without the browser's state cookie (login CSRF) or replayed.
    let res = app.client.get(app.url("/login/oidc")).send().await.unwrap();
    let state_cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let authorize = res.headers()["location"].to_str().unwrap().to_string();
    let res = app.client.get(&authorize).send().await.unwrap();
    let callback = res.headers()["location"].to_str().unwrap().replace("http://leitstand.invalid", &app.url(""));
    assert_eq!(app.client.get(&callback).send().await.unwrap().status(), 403, "no state cookie");
    assert!(app.state.app.cli_principal(&"mallory".parse().unwrap()).await.is_err(), "no account was created");
    // The refused attempt did not burn the user's own sign-in …
    assert_eq!(app.client.get(&callback).header("cookie", &state_cookie).send().await.unwrap().status(), 303);
    // … but a code and state work exactly once.
    assert_eq!(app.client.get(&callback).header("cookie", &state_cookie).send().await.unwrap().status(), 403, "replay");
});

store_test!(a_local_account_is_never_taken_over, |store| {
    let idp = provider().await;
    let app = leitstand(store, &idp).await;
    app.user("admin", Role::Admin, &[]).await;
    {
        let mut i = idp.lock().unwrap();
        i.username = "admin".into();
        i.roles = vec!["leitstand-admin".into()];
    }
    assert_eq!(sign_in(&app).await.unwrap_err().status(), 409);
});
