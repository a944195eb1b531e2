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
pub(super) fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() < 2000;
    if local { next } else { paths::HOME }
}

/// The login page (for the OIDC callback's refusals too).
pub(super) fn login_form_page(
    state: &WebState,
    ctx: &PageCtx,
    next: &str,
    error: Option<&Error>,
) -> Markup {
    let form = LoginForm {
        next: next.to_owned(),
        ..LoginForm::default()
    };
    layout(ctx, "Log in", Nav::None, login_form(state, &form, error))
}

/// The "Continue with ..." buttons, carrying `next` and an invite along.
pub(super) fn provider_buttons(state: &WebState, next: &str, invite: &str) -> Markup {
    html! {
        @if !state.oidc.providers().is_empty() {
            div.stack.sso role="group" aria-label="Sign in with" {
                @for p in state.oidc.providers() {
                    a.button.sso-button href=(start_href(p.id(), next, invite)) { "Continue with " (p.label()) }
                }
            }
        }
    }
}

fn start_href(provider: &str, next: &str, invite: &str) -> String {
    let mut href = paths::with_provider(paths::OIDC_START, provider);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !next.is_empty() {
        q.append_pair("next", next);
    }
    if !invite.is_empty() {
        q.append_pair("invite", invite);
    }
    let q = q.finish();
    if !q.is_empty() {
        href.push('?');
        href.push_str(&q);
    }
    href
}

fn login_form(state: &WebState, form: &LoginForm, error: Option<&Error>) -> Markup {
    let registration = state.registration;
    let password = state.auth.password_login();
    auth_card(
        "Log in",
        "Welcome back. Log in to your Promptyard account.",
        html! {
            (form_errors(error))
            (provider_buttons(state, &form.next, ""))
            @if password {
                @if !state.oidc.providers().is_empty() {
                    p.muted.or { "or with your email and password" }
                }
                form.stack method="post" action=(paths::LOGIN) {
                    input type="hidden" name="next" value=(form.next);
                    (field("email", "Email", "email", &form.email, "username", None))
                    (field("password", "Password", "password", "", "current-password", None))
                    button.button.primary type="submit" { "Log in" }
                }
            }
            @if registration == Registration::Open && password {
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
    Ok(layout(&ctx, "Log in", Nav::None, login_form(&state, &form, None)).into_response())
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
        Err(e @ (Error::BadCredentials | Error::RateLimited { .. } | Error::Denied(_))) => {
            let page = layout(
                &ctx,
                "Log in",
                Nav::None,
                login_form(&state, &form, Some(&e)),
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

fn register_form(
    state: &WebState,
    form: &AccountForm,
    error: Option<&Error>,
    joining: Option<&str>,
) -> Markup {
    let lead = match joining {
        Some(ws) => format!("Create your account to join {ws}."),
        None => "Join this Promptyard instance.".to_owned(),
    };
    auth_card(
        "Create your account",
        &lead,
        html! {
            (form_errors(error))
            (provider_buttons(state, "", &form.invite))
            @if state.auth.password_login() {
                form.stack method="post" action=(paths::REGISTER) {
                    input type="hidden" name="invite" value=(form.invite);
                    (form.fields(error, true))
                    button.button.primary type="submit" { "Create account" }
                }
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
    let page = register_form(&state, &form, None, joining.as_deref());
    Ok(layout(&ctx, "Register", Nav::None, page).into_response())
}

async fn register_submit(
    State(state): State<WebState>,
    ctx: PageCtx,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Result<Response> {
    if !state.auth.password_login() {
        return Err(Error::Denied(
            "Password accounts are turned off on this server; use one of the sign-in buttons."
                .to_owned(),
        ));
    }
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
                register_form(&state, &form, Some(&e), joining.as_deref()),
            ),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}
