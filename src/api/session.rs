//! `/api/session`: log in and out with JSON, and `/api/me`.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};

use super::ApiState;
use crate::auth::{Action, ClientInfo};
use crate::domain::User;
use crate::error::Result;
use crate::http::cookies::{clear_session, session_token, set_session};
use crate::http::extract::{CurrentUser, Json};
use crate::http::routes::{Permission, Routes};

/// Route paths.
pub const SESSION: &str = "/api/session";
/// The current user.
pub const ME: &str = "/api/me";

pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    r.post(SESSION, Permission::Public, login)
        .delete(SESSION, Permission::Public, logout)
        .get(ME, Permission::Instance(Action::ManageOwnAccount), me)
}

#[derive(Deserialize)]
struct LoginRequest {
    email: String,
    password: String,
}

/// A user as the API shows it: never the password hash.
#[derive(Serialize)]
struct UserView {
    id: String,
    email: String,
    name: String,
    role: &'static str,
    disabled: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            name: u.name.to_string(),
            role: u.role.as_str(),
            disabled: u.disabled,
        }
    }
}

async fn login(
    State(state): State<ApiState>,
    client: ClientInfo,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> Result<Response> {
    let (user, token) = state.auth.login(&req.email, &req.password, &client).await?;
    let jar = set_session(jar, &state.edge, &token);
    Ok((
        jar,
        JsonResponse(serde_json::json!({"user": UserView::from(&user)})),
    )
        .into_response())
}

async fn logout(State(state): State<ApiState>, jar: CookieJar) -> Result<Response> {
    if let Some(token) = session_token(&jar, &state.edge) {
        state.auth.logout(&token).await?;
    }
    Ok((
        clear_session(jar, &state.edge),
        axum::http::StatusCode::NO_CONTENT,
    )
        .into_response())
}

async fn me(CurrentUser(auth): CurrentUser) -> JsonResponse<serde_json::Value> {
    JsonResponse(serde_json::json!({"user": UserView::from(&auth.user)}))
}
