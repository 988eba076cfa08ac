//! `GET /api/v1/policy`: the effective policy, section by section.

use axum::Json;
use axum::extract::{Query, State};
use leitstand_app::policy::PolicyView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::rest::*;

/// Whose policy.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PolicyQuery {
    /// A tenant's slug; unset: the base policy (for a tenant-bound caller,
    /// its first tenant's).
    tenant: Option<String>,
}

/// One section.
#[derive(Serialize, ToSchema)]
pub(crate) struct PolicySectionJson {
    /// `escalation`, `retention`, …
    key: String,
    /// Whether this build enforces it.
    in_force: bool,
    /// What will enforce it, if it is not in force yet.
    enforced_by: Option<&'static str>,
    /// For a tenant: its value differs from the base policy.
    own: bool,
    /// The values.
    #[schema(value_type = Object)]
    value: serde_json::Value,
}

/// The effective policy.
#[derive(Serialize, ToSchema)]
pub(crate) struct PolicyJson {
    /// The tenant, or null for the base policy.
    tenant: Option<String>,
    sections: Vec<PolicySectionJson>,
}

impl From<PolicyView> for PolicyJson {
    fn from(v: PolicyView) -> Self {
        let sections = v
            .sections
            .into_iter()
            .map(|s| PolicySectionJson {
                key: s.key,
                in_force: s.in_force,
                enforced_by: s.enforced_by,
                own: s.own,
                value: s.value,
            })
            .collect();
        PolicyJson { tenant: v.tenant, sections }
    }
}

/// `GET /api/v1/policy`.
#[utoipa::path(get, path = "/api/v1/policy", tag = "policy", params(PolicyQuery), responses((status = 200, body = PolicyJson), (status = 403), (status = 404, description = "No such tenant visible to the caller")))]
pub(crate) async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PolicyQuery>,
) -> ApiResult<Json<PolicyJson>> {
    let tenant = q.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let view = state.app.effective_policy(caller.principal(), tenant).await.map_err(|e| caller.fail(e))?;
    Ok(Json(view.into()))
}

/// The routes.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_policy))
}
