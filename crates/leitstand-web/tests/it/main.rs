//! The HTTP edge over real HTTP on loopback, against SQLite and PostgreSQL.
#![allow(missing_docs, clippy::unwrap_used)]

mod access;
mod alerting;
mod alertmanager;
mod audit;
mod incidents;
mod layering;
mod oidc;
mod ops;
mod policy;
mod security;
mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use leitstand_app::Store;
use leitstand_web::{AppState, HttpLimits, Metrics, router};

/// A running server on a random loopback port.
pub struct App {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    /// The services' clock, to move on.
    pub clock: Arc<leitstand_core::clock::ManualClock>,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

pub async fn spawn_app(store: Store) -> App {
    spawn_app_with(store, |_| {}).await
}

/// A running server whose services were adjusted by `configure` first.
pub async fn spawn_app_with(store: Store, configure: impl FnOnce(&mut leitstand_app::App)) -> App {
    spawn_app_with_state(store, configure, |_| {}).await
}

/// A running server whose services and then HTTP state were adjusted.
pub async fn spawn_app_with_state(
    store: Store,
    configure: impl FnOnce(&mut leitstand_app::App),
    configure_state: impl FnOnce(&mut AppState),
) -> App {
    spawn_app_at("2026-11-23T10:00:00Z".parse().unwrap(), store, configure, configure_state).await
}

/// [`spawn_app_with_state`] with the clock starting at `start`.
pub async fn spawn_app_at(
    start: jiff::Timestamp,
    store: Store,
    configure: impl FnOnce(&mut leitstand_app::App),
    configure_state: impl FnOnce(&mut AppState),
) -> App {
    leitstand_app::install_crypto_provider();
    let metrics = Arc::new(Metrics::new(store.backend(), start));
    let store = store.with_observer(metrics.clone());
    let clock = Arc::new(leitstand_core::clock::ManualClock::new(start));
    let dir = tempfile::Builder::new().prefix("leitstand-test-").tempdir().unwrap().keep();
    let mut settings = leitstand_app::AuditLogSettings::in_data_dir(&dir);
    settings.checkpoint_interval = std::time::Duration::from_millis(5);
    let sink = leitstand_app::AuditSink::open(settings, clock.clone(), false).unwrap();
    let mut services = leitstand_app::App::new(store, clock.clone(), sink);
    services.throttle.base_delay = std::time::Duration::ZERO;
    configure(&mut services);
    let mut state = AppState::new(services, metrics);
    configure_state(&mut state);
    let app = router(state.clone(), &HttpLimits::default()).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    App { addr, state, client, clock }
}

pub const PASSWORD: &str = "korrekt Pferd Batterie";
/// The one-time password a new user is created with.
pub const ONE_TIME: &str = "Einmal Kennwort 4711";

impl App {
    /// Creates the admin (if needed) and a user of `role` with `tenants`
    /// who has replaced the one-time password with [`PASSWORD`]; returns a
    /// session cookie header value for that user.
    pub async fn user(&self, name: &str, role: leitstand_core::access::Role, tenants: &[&str]) -> String {
        let services = &self.state.app;
        services.bootstrap_admin(Some(PASSWORD.into())).await.unwrap();
        let admin = services.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap().session.principal;
        if name != "admin" {
            services
                .add_user(
                    &admin,
                    leitstand_app::NewUserRequest {
                        username: name.into(),
                        display_name: String::new(),
                        role,
                        password: ONE_TIME.into(),
                        tenants: tenants.iter().map(|s| s.to_string()).collect(),
                    },
                )
                .await
                .unwrap();
            let first = services.login(name, ONE_TIME, None, "127.0.0.1").await.unwrap().session.principal;
            let change = leitstand_app::OwnPasswordChange {
                current: ONE_TIME.into(),
                new: PASSWORD.into(),
                revoke_tokens: false,
            };
            services.change_own_password(&first, change, "127.0.0.1").await.unwrap();
        }
        self.login(name, PASSWORD).await.unwrap()
    }

    /// Logs in through the form; the session cookie on success.
    pub async fn login(&self, name: &str, password: &str) -> Result<String, reqwest::Response> {
        let res = self
            .client
            .post(self.url("/login"))
            .form(&[("username", name), ("password", password)])
            .send()
            .await
            .unwrap();
        if res.status() != 303 {
            return Err(res);
        }
        let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
        Ok(set.split(';').next().unwrap().to_string())
    }

    /// The page at `path` for the session `cookie`.
    pub async fn page(&self, cookie: &str, path: &str) -> (u16, String) {
        let res = self.client.get(self.url(path)).header("cookie", cookie).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

/// The CSRF token embedded in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let needle = "name=\"csrf\" value=\"";
    let start = html.find(needle).expect("a form with a CSRF token") + needle.len();
    html[start..start + 64].to_string()
}
