//! The user's own account: name, password, and the list of their sessions with revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::views::{Nav, field, layout, when};
use super::{PageCtx, WebState, paths};
use crate::http::routes::{Permission, Routes};

use crate::auth::{Action, Authenticated, ClientInfo, PasswordChange};
use crate::domain::{DisplayName, Password, Session, SessionId};
use crate::error::{Error, Result};
use crate::http::cookies::{set_flash, set_session};
use crate::http::extract::{CurrentUser, Form, Path};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let own = Permission::Instance(Action::ManageOwnAccount);
    r.get(paths::ACCOUNT, own, account_page)
        .post(paths::ACCOUNT_NAME, own, rename)
        .post(paths::ACCOUNT_PASSWORD, own, change_password)
        .post(paths::ACCOUNT_SESSION_REVOKE, own, revoke_session)
        .post(paths::ACCOUNT_SESSIONS_REVOKE_OTHERS, own, revoke_others)
}

/// Which form an error belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Profile,
    Password,
}

async fn render(
    state: &WebState,
    ctx: &PageCtx,
    auth: &Authenticated,
    error: Option<(Section, &Error)>,
) -> Result<Markup> {
    let sessions = state.auth.list_live_sessions(auth.user.id).await?;
    let signin = super::profile::signin_section(state, &auth.user).await?;
    let err_in = |s: Section| error.filter(|(sec, _)| *sec == s).map(|(_, e)| e);
    let content = html! {
        h1 { "Account" }
        section.panel aria-labelledby="profile-h" {
            h2 #profile-h { "Profile" }
            @if let Some(e) = err_in(Section::Profile) {
                div.flash.flash-error role="alert" { (super::views::sentence(&e.to_string())) }
            }
            (super::profile::avatar_section(&auth.user))
            form.stack.narrow method="post" action=(paths::ACCOUNT_NAME) {
                div.field {
                    label for="account-email" { "Email" }
                    input #account-email type="email" value=(auth.user.email) disabled;
                }
                (field("name", "Name", "text", auth.user.name.as_str(), "name", err_in(Section::Profile)))
                button.button.primary type="submit" { "Save name" }
            }
        }
        (signin)
        @if auth.user.password_hash.is_some() && state.auth.password_login() {
        section.panel aria-labelledby="password-h" {
            h2 #password-h { "Password" }
            p.muted { "Changing your password logs out every other session." }
            @if let Some(e) = err_in(Section::Password) {
                div.flash.flash-error role="alert" { (super::views::sentence(&e.to_string())) }
            }
            form.stack.narrow method="post" action=(paths::ACCOUNT_PASSWORD) {
                (field("current_password", "Current password", "password", "", "current-password", err_in(Section::Password)))
                (field("new_password", "New password", "password", "", "new-password", err_in(Section::Password)))
                button.button.primary type="submit" { "Change password" }
            }
        }
        }
        section.panel aria-labelledby="sessions-h" {
            h2 #sessions-h { "Sessions" }
            p { a.button.small href=(paths::API_KEYS) { "API keys for the /v1 API" } }
            p.muted { "Where you are logged in. Revoke any session you do not recognise." }
            (sessions_table(&sessions, auth.session.id))
            @if sessions.len() > 1 {
                form method="post" action=(paths::ACCOUNT_SESSIONS_REVOKE_OTHERS) {
                    button.button.danger type="submit" { "Log out other sessions" }
                }
            }
        }
    };
    Ok(layout(ctx, "Account", Nav::Account, content))
}

/// The account page's policy: its Link buttons lead to the providers.
fn account_csp(state: &WebState) -> [(axum::http::HeaderName, String); 1] {
    let origins = state.oidc.authorization_origins();
    [(
        axum::http::header::CONTENT_SECURITY_POLICY,
        crate::http::middleware::csp_with_form_targets(&origins),
    )]
}

fn sessions_table(sessions: &[Session], current: SessionId) -> Markup {
    html! {
        div.table-wrap {
            table tabindex="0" {
                thead { tr { th { "Device" } th { "Address" } th { "Logged in" } th { "Last active" } th { span.sr-only { "Action" } } } }
                tbody {
                    @for s in sessions {
                        tr {
                            td { (s.user_agent.as_deref().map(short_agent).unwrap_or("Unknown device")) }
                            td { (s.ip.as_deref().unwrap_or("-")) }
                            td { (when(s.created_at)) }
                            td { (when(s.last_seen_at)) }
                            td { div.row-actions {
                                @if s.id == current {
                                    span.badge.badge-ok { "This session" }
                                } @else {
                                    form method="post" action=(paths::with_id(paths::ACCOUNT_SESSION_REVOKE, s.id)) {
                                        button.button.small type="submit" { "Revoke" }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// A readable browser name from a user agent.
fn short_agent(ua: &str) -> &str {
    for (needle, name) in [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome", "Chrome (headless)"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ] {
        if ua.contains(needle) {
            return name;
        }
    }
    if ua.is_empty() {
        "Unknown device"
    } else {
        "Other client"
    }
}

async fn account_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
) -> Result<Response> {
    let page = render(&state, &ctx, &auth, None).await?;
    Ok((account_csp(&state), page).into_response())
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<NameForm>,
) -> Result<Response> {
    let result = match DisplayName::parse(&form.name) {
        Ok(name) => state.auth.rename(&auth.user, name, Some(client.ip)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok((
            set_flash(jar, &state.edge, false, "Name saved."),
            Redirect::to(paths::ACCOUNT),
        )
            .into_response()),
        Err(e @ Error::Invalid { .. }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            account_csp(&state),
            render(&state, &ctx, &auth, Some((Section::Profile, &e))).await?,
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let result = match Password::parse(&form.new_password, "new_password") {
        Ok(new) => {
            let change = PasswordChange {
                current: form.current_password,
                new,
            };
            state
                .auth
                .change_password(&auth.user, change, &client)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(token) => {
            let jar = set_session(jar, &state.edge, &token);
            let jar = set_flash(
                jar,
                &state.edge,
                false,
                "Password changed. Your other sessions have been logged out.",
            );
            Ok((jar, Redirect::to(paths::ACCOUNT)).into_response())
        }
        Err(e @ Error::Invalid { .. }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            account_csp(&state),
            render(&state, &ctx, &auth, Some((Section::Password, &e))).await?,
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

async fn revoke_session(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    jar: CookieJar,
    Path(id): Path<String>,
) -> Result<Response> {
    let id: SessionId = id.parse().map_err(|_| Error::NotFound)?;
    // Only the user's own sessions can be found here; another user's id is NotFound.
    state.auth.store().delete_session(auth.user.id, id).await?;
    let text = if id == auth.session.id {
        "This session has ended."
    } else {
        "Session revoked."
    };
    Ok((
        set_flash(jar, &state.edge, false, text),
        Redirect::to(paths::ACCOUNT),
    )
        .into_response())
}

async fn revoke_others(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    jar: CookieJar,
) -> Result<Response> {
    let ended = state
        .auth
        .store()
        .delete_user_sessions(auth.user.id, Some(auth.session.id))
        .await?;
    let text = match ended {
        1 => "1 other session logged out.".to_owned(),
        n => format!("{n} other sessions logged out."),
    };
    Ok((
        set_flash(jar, &state.edge, false, &text),
        Redirect::to(paths::ACCOUNT),
    )
        .into_response())
}
