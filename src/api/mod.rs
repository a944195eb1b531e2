//! The JSON face: the internal `/api` used by scripts and the UI's future client code.
//! Errors are `{"error":{"code","message","field"}}` with the right status (429 with
//! `Retry-After` for login limits). Later issues add the public OpenAI-compatible `/v1`.

pub mod backup;
mod community;
mod gateway;
mod search;
mod session;
mod template_ops;
mod templates;
mod tokens;
pub mod v1;
mod views;
mod workspaces;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware;

use crate::auth::Auth;
use crate::community::Community;
use crate::gateway::{Gateway, Providers};
use crate::http::Edge;
use crate::http::error::json_errors;
use crate::http::routes::{RouteSpec, Routes};
use crate::templates::Templates;
use crate::workspaces::Workspaces;

/// What the API handlers need.
#[derive(Clone)]
pub struct ApiState {
    /// Accounts and sessions.
    pub auth: Auth,
    /// Edge settings.
    pub edge: Edge,
    /// Workspaces, members and invites.
    pub workspaces: Workspaces,
    /// Templates and versions.
    pub templates: Templates,
    /// Provider connections.
    pub providers: Providers,
    /// The model gateway.
    pub gateway: Gateway,
    /// The community library.
    pub community: Community,
    /// Full-text search.
    pub search: crate::jobs::indexer::Search,
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

/// All `/api` routes, and their route table.
pub fn router(state: ApiState) -> (Router, Vec<RouteSpec>) {
    let r = Routes::new(state.auth.clone(), state.edge.clone());
    let r = template_ops::routes(templates::routes(workspaces::routes(session::routes(r))));
    let r = tokens::routes(search::routes(community::routes(v1::routes(
        gateway::routes(r),
    ))));
    let (router, table) = r.into_parts();
    // The /v1 layer sits inside, so it rewrites its errors into OpenAI's shape first.
    let router = router
        .layer(middleware::from_fn(v1::openai_errors))
        .layer(middleware::from_fn(json_errors))
        .with_state(state);
    (router, table)
}
