//! The JSON face: the internal `/api` used by scripts and the UI's future client code.
//! Errors are `{"error":{"code","message","field"}}` with the right status (429 with
//! `Retry-After` for login limits). Later issues add the public OpenAI-compatible `/v1`.

mod session;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware;

use crate::auth::Auth;
use crate::http::Edge;
use crate::http::error::json_errors;

/// What the API handlers need.
#[derive(Clone)]
pub struct ApiState {
    /// Accounts and sessions.
    pub auth: Auth,
    /// Edge settings.
    pub edge: Edge,
}

impl FromRef<ApiState> for Auth {
    fn from_ref(s: &ApiState) -> Self {
        s.auth.clone()
    }
}

impl FromRef<ApiState> for Edge {
    fn from_ref(s: &ApiState) -> Self {
        s.edge.clone()
    }
}

/// All `/api` routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(session::router())
        .layer(middleware::from_fn(json_errors))
        .with_state(state)
}
