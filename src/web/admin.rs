//! Instance administration: users (list, create, disable/enable, admin role) and the audit log.
//! Every action requires `Action::ManageUsers` and records an audit event.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::account_form::AccountForm;
use super::views::{Nav, form_errors, layout, when};
use super::{PageCtx, WebState, paths};
use crate::http::routes::{Permission, Routes};

use crate::auth::{Action, ClientInfo};
use crate::domain::{InstanceRole, User, UserId};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form, Path, Query};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let users = Permission::Instance(Action::ManageUsers);
    r.get(paths::ADMIN_USERS, users, users_page)
        .post(paths::ADMIN_USERS, users, create_user)
        .post(paths::ADMIN_USER_ACTION, users, user_action)
}

const PAGE_SIZE: usize = 50;

#[derive(Deserialize, Default)]
struct PageQuery {
    after: Option<String>,
}

pub(super) fn admin_tabs(current: &str) -> Markup {
    html! {
        nav.tabs aria-label="Administration" {
            @for (href, label) in [(paths::ADMIN_USERS, "Users"), (paths::ADMIN_PROVIDERS, "Providers"), (paths::ADMIN_OUTBOUND, "Outbound"), (paths::ADMIN_AUDIT, "Audit log"), (paths::ADMIN_ANALYTICS, "Analytics")] {
                @if href == current {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    }
}

async fn render_users(
    state: &WebState,
    ctx: &PageCtx,
    me: &User,
    after: Option<UserId>,
    form: &AccountForm,
    error: Option<&Error>,
) -> Result<Markup> {
    let page = state.auth.store().list_users(after, PAGE_SIZE).await?;
    let content = html! {
        h1 { "Administration" }
        (admin_tabs(paths::ADMIN_USERS))
        div.grid-2 {
            section.panel aria-labelledby="users-h" {
                h2 #users-h { "Users" }
                div.table-wrap {
                    table tabindex="0" {
                        thead { tr { th { "Email" } th { "Name" } th { "Role" } th { "Status" } th { "Created" } th { span.sr-only { "Actions" } } } }
                        tbody {
                            @for u in &page.items {
                                (user_row(u, me))
                            }
                        }
                    }
                }
                @if let Some(next) = page.next {
                    p { a.button.small href=(format!("{}?after={next}", paths::ADMIN_USERS)) { "Next page" } }
                }
            }
            section.panel aria-labelledby="create-h" {
                h2 #create-h { "Create user" }
                (form_errors(error))
                form.stack method="post" action=(paths::ADMIN_USERS) {
                    (form.fields(error, false))
                    div.check {
                        input #admin type="checkbox" name="admin" value="on" checked[form.admin.is_some()];
                        label for="admin" { "Administrator" }
                    }
                    button.button.primary type="submit" { "Create user" }
                }
            }
        }
    };
    Ok(layout(ctx, "Users", Nav::Admin, content))
}

fn user_row(u: &User, me: &User) -> Markup {
    let action = |what: &str| {
        paths::ADMIN_USER_ACTION
            .replace("{id}", &u.id.to_string())
            .replace("{action}", what)
    };
    html! {
        tr {
            td { (u.email) }
            td { (u.name) }
            td { @if u.is_admin() { span.badge { "Admin" } } @else { "User" } }
            td {
                @if u.disabled { span.badge.badge-bad { "Disabled" } } @else { span.badge.badge-ok { "Active" } }
            }
            td { (when(u.created_at)) }
            td { div.row-actions {
                @if u.id == me.id {
                    span.muted.small { "You" }
                } @else {
                    form method="post" action=(action(if u.disabled { "enable" } else { "disable" })) {
                        button.button.small.danger[!u.disabled] type="submit" aria-label=(format!("{} {}", if u.disabled { "Enable" } else { "Disable" }, u.email)) {
                            (if u.disabled { "Enable" } else { "Disable" })
                        }
                    }
                    form method="post" action=(action(if u.is_admin() { "remove-admin" } else { "make-admin" })) {
                        button.button.small type="submit" aria-label=(format!("{} {}", if u.is_admin() { "Remove admin" } else { "Make admin" }, u.email)) {
                            (if u.is_admin() { "Remove admin" } else { "Make admin" })
                        }
                    }
                }
            } }
        }
    }
}

fn parse_cursor<T: std::str::FromStr>(raw: Option<&str>) -> Result<Option<T>> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid("after", "that page cursor is not valid")),
    }
}

async fn users_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Query(q): Query<PageQuery>,
) -> Result<Markup> {
    let after = parse_cursor(q.after.as_deref())?;
    render_users(
        &state,
        &ctx,
        &auth.user,
        after,
        &AccountForm::default(),
        None,
    )
    .await
}

async fn create_user(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<AccountForm>,
) -> Result<Response> {
    let role = if form.admin.is_some() {
        InstanceRole::Admin
    } else {
        InstanceRole::User
    };
    let result = match form.parse() {
        Ok(account) => {
            state
                .auth
                .create_user(Some(&auth.user), account, role, Some(client.ip))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(user) => {
            let jar = set_flash(
                jar,
                &state.edge,
                false,
                &format!("Created the account {}.", user.email),
            );
            Ok((jar, Redirect::to(paths::ADMIN_USERS)).into_response())
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            let status = crate::http::error::status_of(&e);
            let page = render_users(&state, &ctx, &auth.user, None, &form, Some(&e)).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn user_action(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response> {
    let target: UserId = id.parse().map_err(|_| Error::NotFound)?;
    let ip = Some(client.ip);
    let me = &auth.user;
    let result = match action.as_str() {
        "disable" => state.auth.set_disabled(me, target, true, ip).await,
        "enable" => state.auth.set_disabled(me, target, false, ip).await,
        "make-admin" => {
            state
                .auth
                .set_role(me, target, InstanceRole::Admin, ip)
                .await
        }
        "remove-admin" => {
            state
                .auth
                .set_role(me, target, InstanceRole::User, ip)
                .await
        }
        _ => return Err(Error::NotFound),
    };
    let jar = match result {
        Ok(user) => {
            let text = match action.as_str() {
                "disable" => format!(
                    "{} is disabled and has been logged out everywhere.",
                    user.email
                ),
                "enable" => format!("{} can log in again.", user.email),
                "make-admin" => format!("{} is now an administrator.", user.email),
                _ => format!("{} is no longer an administrator.", user.email),
            };
            set_flash(jar, &state.edge, false, &text)
        }
        Err(e @ Error::Invalid { .. }) => set_flash(
            jar,
            &state.edge,
            true,
            &super::views::sentence(&e.to_string()),
        ),
        Err(e) => return Err(e),
    };
    Ok((jar, Redirect::to(paths::ADMIN_USERS)).into_response())
}
