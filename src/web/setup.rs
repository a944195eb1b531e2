//! First-run setup: while no account exists, create the first admin. Afterwards `/setup` is 404.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};

use super::account_form::AccountForm;
use super::views::{Nav, auth_card, form_errors, layout};
use super::{PageCtx, WebState, paths};
use crate::http::routes::{Permission, Routes};

use crate::auth::ClientInfo;
use crate::error::{Error, Result};
use crate::http::cookies::{set_flash, set_session};
use crate::http::extract::Form;

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(paths::SETUP, Permission::Public, setup_page).post(
        paths::SETUP,
        Permission::Public,
        setup_submit,
    )
}

fn setup_form(form: &AccountForm, error: Option<&Error>) -> Markup {
    auth_card(
        "Set up Promptyard",
        "Create the administrator account. You can invite the rest of your team afterwards.",
        html! {
            (form_errors(error))
            form.stack method="post" action=(paths::SETUP) {
                (form.fields(error, true))
                p.hint { "At least 8 characters. A long phrase is easier to remember and harder to guess." }
                button.button.primary type="submit" { "Create admin account" }
            }
        },
    )
}

/// Whether setup may run for a request with this `Host`.
///
/// Without a configured `public_url`, any host name the browser used passes the origin check,
/// so a page on another site could rebind its DNS name to this server and claim the admin
/// account before the operator does. Setup therefore needs an address (loopback or LAN IP) or
/// `localhost` in the `Host` header, which DNS rebinding cannot produce.
fn setup_host_allowed(state: &WebState, headers: &HeaderMap) -> bool {
    if state.edge.public_origin.is_some() {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn host_refused(ctx: &PageCtx) -> Response {
    let content = auth_card(
        "Open setup by address",
        "For safety, first-run setup only works at an IP address or localhost.",
        html! {
            div.flash.flash-error role="alert" {
                "Open this page as http://127.0.0.1:PORT/setup (or the server's IP address), \
                 or set public_url in the configuration to the address people use."
            }
        },
    );
    (
        StatusCode::FORBIDDEN,
        layout(ctx, "Setup", Nav::None, content),
    )
        .into_response()
}

async fn setup_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    headers: HeaderMap,
) -> Result<Response> {
    if !state.auth.needs_setup().await? {
        return Err(Error::NotFound);
    }
    if !setup_host_allowed(&state, &headers) {
        return Ok(host_refused(&ctx));
    }
    Ok(layout(
        &ctx,
        "Setup",
        Nav::None,
        setup_form(&AccountForm::default(), None),
    )
    .into_response())
}

async fn setup_submit(
    State(state): State<WebState>,
    ctx: PageCtx,
    client: ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<AccountForm>,
) -> Result<Response> {
    if !state.auth.needs_setup().await? {
        return Err(Error::NotFound);
    }
    if !setup_host_allowed(&state, &headers) {
        return Ok(host_refused(&ctx));
    }
    let result = match form.parse() {
        Ok(account) => state.auth.setup(account, &client).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, token)) => {
            let jar = set_session(jar, &state.edge, &token);
            let jar = set_flash(
                jar,
                &state.edge,
                false,
                "Welcome! Your administrator account is ready.",
            );
            Ok((jar, Redirect::to(paths::HOME)).into_response())
        }
        // Lost a race with another setup request: setup no longer exists.
        Err(Error::Conflict { field: None, .. }) => Err(Error::NotFound),
        Err(e @ Error::Invalid { .. }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            layout(&ctx, "Setup", Nav::None, setup_form(&form, Some(&e))),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}
