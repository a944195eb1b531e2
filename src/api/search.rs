//! `GET /api/search?q=...&scope=history|community`: full-text search with the same rules as the
//! pages (runs of the caller's workspaces; community prompts that are approved or their own,
//! all of them for moderators). A query that cannot be parsed is a 422 naming the problem.

use axum::Json as JsonResponse;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::ApiState;
use crate::auth::Action;
use crate::error::Result;
use crate::http::extract::{CurrentUser, Query};
use crate::http::routes::{Permission, Routes};
use crate::search::{Hit, Scope, SearchRequest, SearchSort, Viewer, query};

/// Route path.
pub const SEARCH: &str = "/api/search";

pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    r.get(SEARCH, Permission::Instance(Action::UseCommunity), search)
}

/// Results per page.
const PAGE: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    q: String,
    scope: Scope,
    #[serde(default)]
    sort: SearchSort,
    #[serde(default)]
    page: usize,
}

#[derive(Serialize)]
struct Answer {
    hits: Vec<Hit>,
    total: u64,
    page: usize,
    tags: Vec<(String, u64)>,
    models: Vec<(String, u64)>,
    /// While the index is rebuilt: how far along (0-99); results are incomplete meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    rebuilding_percent: Option<u8>,
}

async fn search(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Query(p): Query<Params>,
) -> Result<JsonResponse<Answer>> {
    let parsed = query::parse(&p.q)?;
    let workspaces = state.workspaces.list_for(&auth.user).await?;
    let standing = state.community.standing(&auth.user).await?;
    let viewer = Viewer {
        user: auth.user.id.to_string(),
        workspaces: workspaces.iter().map(|(w, _)| w.id.to_string()).collect(),
        moderator: standing.moderator,
    };
    let results = state
        .search
        .search(SearchRequest {
            scope: p.scope,
            parsed,
            viewer,
            sort: p.sort,
            offset: p.page.saturating_mul(PAGE),
            limit: PAGE,
            filters: Default::default(),
        })
        .await?;
    Ok(JsonResponse(Answer {
        hits: results.hits,
        total: results.total,
        page: p.page,
        tags: results.tags,
        models: results.models,
        rebuilding_percent: state.search.status.rebuild_percent(),
    }))
}
