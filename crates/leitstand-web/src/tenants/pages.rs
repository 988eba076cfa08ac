//! The tenants page: list, create, rename, deactivate.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leitstand_app::AppError;
use leitstand_core::access::Action;
use serde::Deserialize;

use crate::AppState;
use crate::ctx::Ctx;

use crate::page::*;

struct TenantRow {
    slug: String,
    name: String,
    active: bool,
    rename_label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tenants.html")]
struct TenantsPage {
    page: Page,
    tenants: Vec<TenantRow>,
    can_manage: bool,
}

async fn render_tenants(state: &AppState, ctx: &Ctx, notice: Option<String>, errors: Vec<String>) -> Response {
    let session = or_respond!(signed_in(ctx));
    let tenants = match state.app.tenants(&session.principal).await {
        Ok(t) => t,
        Err(e) => return error_page(ctx, state, &e),
    };
    let mut page = Page::new(ctx, state, "tenants-title", "/tenants");
    page.notice = notice;
    let status = form_status(&errors);
    page.errors = errors;
    let rows = tenants
        .into_iter()
        .map(|t| TenantRow {
            rename_label: ctx.tr.arg("tenants-new-name", "slug", t.slug.as_str()),
            slug: t.slug.to_string(),
            name: t.name,
            active: t.active,
        })
        .collect();
    (status, TenantsPage { page, tenants: rows, can_manage: session.principal.role.may(Action::ManageTenants) })
        .into_response()
}

/// `GET /tenants`.
pub(crate) async fn tenants(State(state): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Response {
    let notice = q.done.map(|slug| ctx.tr.arg("tenants-changed", "slug", &slug));
    render_tenants(&state, &ctx, notice, Vec::new()).await
}

#[derive(Deserialize)]
pub(crate) struct TenantForm {
    csrf: String,
    slug: String,
    name: String,
}

/// `POST /tenants`.
pub(crate) async fn create_tenant(State(state): State<AppState>, ctx: Ctx, Form(form): Form<TenantForm>) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    match state.app.create_tenant(principal, &form.slug, &form.name).await {
        Ok(t) => Redirect::to(&format!("/tenants?done={}", t.slug)).into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            render_tenants(&state, &ctx, None, vec![said(&ctx, &state, &e)]).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct TenantChangeForm {
    csrf: String,
    op: String,
    name: Option<String>,
}

/// `POST /tenants/{slug}`: rename, activate, deactivate.
pub(crate) async fn change_tenant(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Form(form): Form<TenantChangeForm>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let result = match form.op.as_str() {
        "rename" => state.app.rename_tenant(principal, &slug, form.name.as_deref().unwrap_or_default()).await,
        "activate" => state.app.set_tenant_active(principal, &slug, true).await,
        "deactivate" => state.app.set_tenant_active(principal, &slug, false).await,
        _ => Err(AppError::invalid("op", "unknown operation", "unbekannter Vorgang")),
    };
    match result {
        Ok(t) => Redirect::to(&format!("/tenants?done={}", t.slug)).into_response(),
        Err(e @ AppError::Invalid { .. }) => render_tenants(&state, &ctx, None, vec![said(&ctx, &state, &e)]).await,
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// The tenants page.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/tenants", get(tenants).post(create_tenant)).route("/tenants/{slug}", post(change_tenant))
}
