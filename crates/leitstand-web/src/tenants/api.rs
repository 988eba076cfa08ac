//! `/api/v1/tenants`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use leitstand_app::tenants::{Tenant, TenantChange};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

use crate::rest::*;

/// A tenant.
#[derive(Serialize, ToSchema)]
pub(crate) struct TenantJson {
    id: Uuid,
    slug: String,
    name: String,
    active: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Tenant> for TenantJson {
    fn from(t: Tenant) -> Self {
        TenantJson {
            id: t.id,
            slug: t.slug.to_string(),
            name: t.name,
            active: t.active,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// `GET /api/v1/tenants`.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", responses((status = 200, body = Vec<TenantJson>)))]
pub(crate) async fn list_tenants(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TenantJson>>> {
    let tenants = state.app.tenants(&caller.principal).await.map_err(|e| caller.fail(e))?;
    Ok(Json(tenants.into_iter().map(TenantJson::from).collect()))
}

/// A new tenant.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewTenantJson {
    slug: String,
    name: String,
}

/// `POST /api/v1/tenants`.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = NewTenantJson, responses((status = 201, body = TenantJson), (status = 403), (status = 409), (status = 422)))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewTenantJson>,
) -> ApiResult<(StatusCode, Json<TenantJson>)> {
    let tenant =
        state.app.create_tenant(&caller.principal, &body.slug, &body.name).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(tenant.into())))
}

/// `GET /api/v1/tenants/{slug}`.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path, description = "Tenant short name")), responses((status = 200, body = TenantJson), (status = 404)))]
pub(crate) async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<TenantJson>> {
    let tenant = state.app.tenant(&caller.principal, &slug).await.map_err(|e| caller.fail(e))?;
    Ok(Json(tenant.into()))
}

/// Changes to a tenant.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TenantPatch {
    name: Option<String>,
    active: Option<bool>,
}

/// `PATCH /api/v1/tenants/{slug}`.
#[utoipa::path(patch, path = "/api/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path)), request_body = TenantPatch, responses((status = 200, body = TenantJson), (status = 403), (status = 404)))]
pub(crate) async fn patch_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<TenantPatch>,
) -> ApiResult<Json<TenantJson>> {
    let change = TenantChange { name: body.name, active: body.active };
    let tenant = state.app.update_tenant(&caller.principal, &slug, change).await.map_err(|e| caller.fail(e))?;
    Ok(Json(tenant.into()))
}

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tenants, create_tenant)).routes(routes!(get_tenant, patch_tenant))
}
