//! Login, logout and (when the registration policy is `open`) self-service registration.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::account_form::AccountForm;
use super::views::{Nav, auth_card, field, form_errors, layout};
use super::{PageCtx, WebState, paths};
use crate::http::routes::{Permission, Routes};

use crate::auth::ClientInfo;
use crate::config::Registration;
use crate::error::{Error, Result};
use crate::http::cookies::{clear_session, session_token, set_flash, set_session};
use crate::http::error::{status_of, with_retry_after};
use crate::http::extract::{Form, Query};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(paths::LOGIN, Permission::Public, login_page)
        .post(paths::LOGIN, Permission::Public, login_submit)
        .post(paths::LOGOUT, Permission::Public, logout)
        .get(paths::REGISTER, Permission::Public, register_page)
        .post(paths::REGISTER, Permission::Public, register_submit)
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only a local path may be a redirect target after login.
fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() < 2000;
    if local { next } else { paths::HOME }
}

fn login_form(form: &LoginForm, error: Option<&Error>, registration: Registration) -> Markup {
    auth_card(
        "Log in",
        "Welcome back. Log in to your Promptyard account.",
        html! {
            (form_errors(error))
            form.stack method="post" action=(paths::LOGIN) {
                input type="hidden" name="next" value=(form.next);
                (field("email", "Email", "email", &form.email, "username", None))
                (field("password", "Password", "password", "", "current-password", None))
                button.button.primary type="submit" { "Log in" }
            }
            @if registration == Registration::Open {
                p.muted { "New here? " a href=(paths::REGISTER) { "Create an account" } }
            } @else {
                p.muted { "Accounts are created by your administrator." }
            }
        },
    )
}

async fn login_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(q): Query<NextQuery>,
) -> Result<Response> {
    if ctx.auth.is_some() {
        return Ok(Redirect::to(paths::HOME).into_response());
    }
    if state.auth.needs_setup().await? {
        return Ok(Redirect::to(paths::SETUP).into_response());
    }
    let form = LoginForm {
        next: q.next.unwrap_or_default(),
        ..LoginForm::default()
    };
    Ok(layout(
        &ctx,
        "Log in",
        Nav::None,
        login_form(&form, None, state.registration),
    )
    .into_response())
}

async fn login_submit(
    State(state): State<WebState>,
    ctx: PageCtx,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    match state.auth.login(&form.email, &form.password, &client).await {
        Ok((_, token)) => {
            let jar = set_session(jar, &state.edge, &token);
            Ok((jar, Redirect::to(safe_next(&form.next))).into_response())
        }
        Err(e @ (Error::BadCredentials | Error::RateLimited { .. })) => {
            let page = layout(
                &ctx,
                "Log in",
                Nav::None,
                login_form(&form, Some(&e), state.registration),
            );
            Ok(with_retry_after((status_of(&e), page).into_response(), &e))
        }
        Err(e) => Err(e),
    }
}

async fn logout(State(state): State<WebState>, jar: CookieJar) -> Result<Response> {
    if let Some(token) = session_token(&jar, &state.edge) {
        state.auth.logout(&token).await?;
    }
    let jar = clear_session(jar, &state.edge);
    let jar = set_flash(jar, &state.edge, false, "You have been logged out.");
    Ok((jar, Redirect::to(paths::LOGIN)).into_response())
}

fn register_form(form: &AccountForm, error: Option<&Error>, joining: Option<&str>) -> Markup {
    let lead = match joining {
        Some(ws) => format!("Create your account to join {ws}."),
        None => "Join this Promptyard instance.".to_owned(),
    };
    auth_card(
        "Create your account",
        &lead,
        html! {
            (form_errors(error))
            form.stack method="post" action=(paths::REGISTER) {
                input type="hidden" name="invite" value=(form.invite);
                (form.fields(error, true))
                button.button.primary type="submit" { "Create account" }
            }
            p.muted { "Already have an account? " a href=(paths::LOGIN) { "Log in" } }
        },
    )
}

#[derive(Deserialize, Default)]
struct InviteQuery {
    #[serde(default)]
    invite: String,
}

/// Whether registration is open to this visitor: always under `open`, with a valid invite
/// link under `invite`, never under `closed`. Returns the invited workspace's name, if any.
async fn may_register(state: &WebState, invite: &str) -> Result<Option<String>> {
    let invited = match invite.trim() {
        "" => None,
        token => Some(
            state
                .workspaces
                .open_invite(token)
                .await?
                .1
                .name
                .to_string(),
        ),
    };
    match (state.registration, &invited) {
        (Registration::Open, _) | (Registration::Invite, Some(_)) => Ok(invited),
        _ => Err(Error::NotFound),
    }
}

async fn register_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(q): Query<InviteQuery>,
) -> Result<Response> {
    let joining = may_register(&state, &q.invite).await?;
    if ctx.auth.is_some() {
        return Ok(Redirect::to(paths::HOME).into_response());
    }
    let form = AccountForm {
        invite: q.invite,
        ..AccountForm::default()
    };
    let page = register_form(&form, None, joining.as_deref());
    Ok(layout(&ctx, "Register", Nav::None, page).into_response())
}

async fn register_submit(
    State(state): State<WebState>,
    ctx: PageCtx,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Result<Response> {
    // Checked again under the lock, so a single-use link registers one account.
    let _guard = match form.invite.trim().is_empty() {
        true => None,
        false => Some(state.workspaces.registration_lock().await),
    };
    let joining = may_register(&state, &form.invite).await?;
    let result = match form.parse() {
        Ok(account) => state.auth.register(account, &client).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((user, token)) => {
            let jar = set_session(jar, &state.edge, &token);
            let (to, text) = match joining {
                Some(_) => {
                    let member = state
                        .workspaces
                        .accept(&user, &form.invite, Some(client.ip))
                        .await?;
                    let text = format!(
                        "Welcome to Promptyard! You joined as {}.",
                        member.role.label().to_lowercase()
                    );
                    (paths::ws(paths::WS_TEMPLATES, member.workspace_id), text)
                }
                None => (
                    paths::HOME.to_owned(),
                    "Welcome to Promptyard! Your account is ready.".to_owned(),
                ),
            };
            let jar = set_flash(jar, &state.edge, false, &text);
            Ok((jar, Redirect::to(&to)).into_response())
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            layout(
                &ctx,
                "Register",
                Nav::None,
                register_form(&form, Some(&e), joining.as_deref()),
            ),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}
