//! The HTML face: server-rendered pages, one module per area, each with its router, handlers
//! and views. Errors become pages through `http::error::html_errors`; a page that needs a login
//! redirects to it.

mod account;
mod account_form;
mod admin;
mod analytics;
mod api_keys;
mod audit;
mod charts;
mod chat_view;
mod community;
mod context;
mod gateway;
mod history;
mod home;
mod login;
mod oidc;
mod outbound;
pub mod paths;
mod playground;
pub(crate) mod profile;
mod providers;
mod search;
mod setup;
mod templates;
mod theme;
mod views;
mod workspaces;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::auth::{Auth, Authenticated};
use crate::community::Community;
use crate::config::Registration;
use crate::domain::{Role, Workspace, WorkspaceId};
use crate::error::Error;
use crate::gateway::{Gateway, Providers};
use crate::http::Edge;
use crate::http::cookies::{FlashMessage, Theme, clear_flash, flash, last_workspace, theme};
use crate::http::error::html_errors;
use crate::http::extract::MaybeUser;
use crate::http::routes::{RouteSpec, Routes};
use crate::http::routes::{TemplateAccess, WorkspaceAccess};
use crate::templates::Templates;
use crate::workspaces::Workspaces;

/// What the web handlers need from the application state.
#[derive(Clone)]
pub struct WebState {
    /// Accounts and sessions.
    pub auth: Auth,
    /// Edge settings (cookies, client address).
    pub edge: Edge,
    /// Who may register.
    pub registration: Registration,
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
    /// OpenID Connect sign-in.
    pub oidc: crate::auth::Oidc,
    /// Profile pictures.
    pub profiles: crate::profiles::Profiles,
}

impl FromRef<WebState> for Auth {
    fn from_ref(s: &WebState) -> Self {
        s.auth.clone()
    }
}

impl FromRef<WebState> for Edge {
    fn from_ref(s: &WebState) -> Self {
        s.edge.clone()
    }
}

/// All pages, and their route table.
pub fn router(state: WebState) -> (Router, Vec<RouteSpec>) {
    let r = Routes::new(state.auth.clone(), state.edge.clone());
    let r = admin::routes(account::routes(login::routes(setup::routes(home::routes(
        r,
    )))));
    let r = history::routes(analytics::routes(api_keys::routes(r)));
    let r = outbound::routes(r);
    let r = playground::routes(providers::routes(templates::routes(workspaces::routes(r))));
    let r = context::routes(search::routes(community::routes(gateway::routes(r))));
    let r = theme::routes(profile::routes(audit::routes(oidc::routes(r))));
    let (router, table) = r.into_parts();
    let router = router
        .layer(middleware::from_fn(clear_shown_flash))
        .layer(middleware::from_fn(html_errors))
        .with_state(state);
    (router, table)
}

/// What every page's layout needs: who is logged in, the pending flash message, the user's
/// workspaces and the one this page is in.
pub struct PageCtx {
    /// The logged-in user, if any.
    pub auth: Option<Authenticated>,
    /// A message from the previous request.
    pub flash: Option<FlashMessage>,
    /// The user's workspaces with their roles (empty when logged out).
    pub workspaces: Vec<(Workspace, Role)>,
    /// The workspace the page is about, else the one used last, else the personal one.
    pub current: Option<(Workspace, Role)>,
    /// The colour scheme chosen on this browser.
    pub theme: Theme,
    /// The origin people reach the server at (`public_url`, else the request's host), for the
    /// full links a page offers to copy.
    pub origin: Option<String>,
    /// The page's own path and query, for forms that come back to it.
    pub here: String,
    /// Community submissions waiting for this user to moderate (0 for non-moderators).
    pub moderation_waiting: u64,
}

impl PageCtx {
    /// The current workspace's id, if any.
    pub fn current_id(&self) -> Option<WorkspaceId> {
        self.current.as_ref().map(|(w, _)| w.id)
    }

    /// `path` as a full URL on the origin people reach this server at (just the path when the
    /// request named no usable host).
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.origin.as_deref().unwrap_or(""))
    }
}

impl FromRequestParts<WebState> for PageCtx {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Error> {
        let MaybeUser(auth) = MaybeUser::from_request_parts(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        let workspaces = match &auth {
            Some(a) => state.workspaces.list_for(&a.user).await?,
            None => Vec::new(),
        };
        let in_path = parts
            .extensions
            .get::<WorkspaceAccess>()
            .map(|w| w.workspace.id)
            .or_else(|| {
                parts
                    .extensions
                    .get::<TemplateAccess>()
                    .and_then(|t| t.template.workspace_id)
            });
        let pick = |id: Option<WorkspaceId>| {
            id.and_then(|id| workspaces.iter().find(|(w, _)| w.id == id).cloned())
        };
        let current = pick(in_path)
            .or_else(|| pick(last_workspace(&jar)))
            .or_else(|| workspaces.iter().find(|(w, _)| w.personal).cloned());
        let moderation_waiting = match &auth {
            Some(a) => {
                let standing = state.community.standing(&a.user).await?;
                state.community.waiting(&standing).await?
            }
            None => 0,
        };
        // A page drawn in answer to a POST (a rendered prompt, a form with errors) cannot be
        // fetched again, so from there the theme form comes back home.
        let here = match (&parts.method, parts.uri.path_and_query()) {
            (&axum::http::Method::GET, Some(p)) => p.as_str().to_owned(),
            _ => paths::HOME.to_owned(),
        };
        Ok(Self {
            auth,
            flash: flash(&jar),
            workspaces,
            current,
            theme: theme(&jar),
            origin: state.edge.origin(&parts.headers),
            here,
            moderation_waiting,
        })
    }
}

/// Clears the flash cookie once a page has been shown (not on redirects, which carry it on).
async fn clear_shown_flash(request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let had_flash = flash(&jar).is_some();
    let response = next.run(request).await;
    if had_flash && !response.status().is_redirection() {
        // Removal only emits a Set-Cookie for a cookie the jar knows, so use the request's jar.
        return (clear_flash(jar), response).into_response();
    }
    response
}

impl FromRef<WebState> for Workspaces {
    fn from_ref(s: &WebState) -> Self {
        s.workspaces.clone()
    }
}
