//! The HTML face: server-rendered pages, one module per area, each with its router, handlers
//! and views. Errors become pages through `http::error::html_errors`; a page that needs a login
//! redirects to it.

mod account;
mod account_form;
mod admin;
mod home;
mod login;
pub mod paths;
mod setup;
mod views;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use crate::auth::{Auth, Authenticated};
use crate::templates::Templates;
use crate::workspaces::Workspaces;
use crate::config::Registration;
use crate::error::Error;
use crate::http::Edge;
use crate::http::cookies::{FlashMessage, clear_flash, flash};
use crate::http::error::html_errors;
use crate::http::extract::MaybeUser;
use crate::http::routes::{RouteSpec, Routes};

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
    let (router, table) = r.into_parts();
    let router = router
        .layer(middleware::from_fn(clear_shown_flash))
        .layer(middleware::from_fn(html_errors))
        .with_state(state);
    (router, table)
}

/// What every page's layout needs: who is logged in and the pending flash message.
pub struct PageCtx {
    /// The logged-in user, if any.
    pub auth: Option<Authenticated>,
    /// A message from the previous request.
    pub flash: Option<FlashMessage>,
}

impl<S> FromRequestParts<S> for PageCtx
where
    Auth: FromRef<S>,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let MaybeUser(auth) = MaybeUser::from_request_parts(parts, state).await?;
        let jar = CookieJar::from_headers(&parts.headers);
        Ok(Self {
            auth,
            flash: flash(&jar),
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
