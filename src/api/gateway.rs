//! `/api/workspaces/{ws}/gateway`: a workspace's gateway settings (retention, cache, budgets,
//! fallback routes, rate limits) and this month's spend against its budgets. Workspace admins
//! and owners only.

use axum::Json as JsonResponse;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;
use crate::auth::{Action, ClientInfo};
use crate::domain::GatewaySettings;
use crate::domain::governance::{month_of, next_month_start};
use crate::error::Result;
use crate::http::extract::Json;
use crate::http::routes::{Permission, Routes, WorkspaceAccess};

/// The settings of one workspace.
pub const GATEWAY: &str = "/api/workspaces/{ws}/gateway";

/// Adds the routes.
pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    let admin = Permission::Workspace(Action::ManageWorkspace);
    r.get(GATEWAY, admin, show).put(GATEWAY, admin, update)
}

async fn view(
    state: &ApiState,
    access: &WorkspaceAccess,
    settings: &GatewaySettings,
) -> Result<Value> {
    let ws = access.workspace.id;
    let spend = state.gateway.month_spend(ws).await?;
    let members = state.auth.store().list_members(ws).await?;
    let now = state.auth.clock().now();
    let by_user: Vec<Value> = spend
        .by_user
        .iter()
        .map(|(user, usd)| {
            let name = members
                .iter()
                .find(|m| m.member.user_id == *user)
                .map(|m| m.name.clone());
            json!({"user_id": user, "name": name, "usd": usd})
        })
        .collect();
    Ok(json!({
        "settings": settings,
        "spend": {
            "month": month_of(now),
            "renews_on": next_month_start(now).date().to_string(),
            "total_usd": spend.total_usd,
            "budget_usd": settings.budget_usd,
            "member_budget_usd": settings.member_budget_usd,
            "by_user": by_user,
        }
    }))
}

async fn show(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
) -> Result<JsonResponse<Value>> {
    let settings = state.gateway.settings(access.workspace.id).await?;
    Ok(JsonResponse(view(&state, &access, &settings).await?))
}

async fn update(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Json(body): Json<GatewaySettings>,
) -> Result<JsonResponse<Value>> {
    let saved = state
        .gateway
        .update_settings(
            access.auth.user.id,
            access.workspace.id,
            body,
            Some(client.ip),
        )
        .await?;
    Ok(JsonResponse(view(&state, &access, &saved).await?))
}
