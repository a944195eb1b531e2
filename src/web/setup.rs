//! First-run setup: while no account exists, create the first admin. Afterwards `/setup` is 404.

use axum::extract::State;
use axum::http::StatusCode;
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

async fn setup_page(State(state): State<WebState>, ctx: PageCtx) -> Result<Markup> {
    if !state.auth.needs_setup().await? {
        return Err(Error::NotFound);
    }
    Ok(layout(
        &ctx,
        "Setup",
        Nav::None,
        setup_form(&AccountForm::default(), None),
    ))
}

async fn setup_submit(
    State(state): State<WebState>,
    ctx: PageCtx,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Result<Response> {
    if !state.auth.needs_setup().await? {
        return Err(Error::NotFound);
    }
    let result = match form.parse() {
        Ok(account) => state.auth.setup(account, &client).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, token)) => {
            let jar = set_session(jar, &state.edge, &token);
            let jar = set_flash(jar, false, "Welcome! Your administrator account is ready.");
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
