//! `GET /policy`: the effective policy of the platform or a tenant, each
//! section marked in force or not yet in force, as written in
//! `leitstand.toml`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::ctx::Ctx;
use crate::page::*;

#[derive(Deserialize, Default)]
pub(crate) struct PolicyFilter {
    #[serde(default)]
    tenant: String,
}

/// A section as the page shows it.
struct SectionRow {
    key: String,
    label: String,
    state: String,
    in_force: bool,
    origin: String,
    toml: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "policy.html")]
struct PolicyPage {
    page: Page,
    /// (value, label) of the scope choices.
    scopes: Vec<(String, String)>,
    selected: String,
    heading: String,
    rows: Vec<SectionRow>,
}

/// `GET /policy?tenant=`.
pub(crate) async fn policy(State(state): State<AppState>, ctx: Ctx, Query(filter): Query<PolicyFilter>) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let tr = ctx.tr;
    let tenant = Some(filter.tenant.trim()).filter(|t| !t.is_empty());
    let view = match state.app.effective_policy(&session.principal, tenant).await {
        Ok(v) => v,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let mut scopes = Vec::new();
    if view.base_readable {
        scopes.push((String::new(), tr.get("policy-scope-base")));
    }
    scopes.extend(view.tenants.iter().map(|t| (t.clone(), tr.arg("policy-scope-tenant", "tenant", t))));
    let heading = match &view.tenant {
        Some(t) => tr.arg("policy-heading-tenant", "tenant", t),
        None => tr.get("policy-heading-base"),
    };
    let rows = view
        .sections
        .into_iter()
        .map(|s| SectionRow {
            label: tr.get(&format!("policy-section-{}", s.key)),
            state: if s.in_force {
                tr.get("policy-in-force")
            } else {
                tr.arg("policy-not-yet", "capability", &tr.get(&format!("policy-coming-{}", s.key)))
            },
            in_force: s.in_force,
            origin: match (&view.tenant, s.own) {
                (None, _) => tr.get("policy-origin-base"),
                (Some(_), true) => tr.get("policy-origin-own"),
                (Some(_), false) => tr.get("policy-origin-inherited"),
            },
            key: s.key,
            toml: s.toml,
        })
        .collect();
    let page = Page::new(&ctx, &state, "policy-title", "/policy");
    PolicyPage { page, scopes, selected: view.tenant.unwrap_or_default(), heading, rows }.into_response()
}

/// The policy page.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/policy", get(policy))
}
