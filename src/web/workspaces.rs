//! Workspace pages: the list and creation, settings (rename, members and roles, invites,
//! leave, delete with typed confirmation) and invite links.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::views::{
    Nav, auth_card, copy_field, field, form_errors, layout, sentence, when, workspace_tabs,
};
use super::{PageCtx, WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::domain::{InviteId, Role, UserId, WorkspaceName};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form, Path};
use crate::http::routes::{Permission, Routes, WorkspaceAccess};
use crate::workspaces::{CreatedInvite, INVITE_DAYS};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    use Permission::{Instance, Public, Workspace};
    r.get(
        paths::WORKSPACES,
        Instance(Action::UseWorkspaces),
        list_page,
    )
    .post(paths::WORKSPACES, Instance(Action::UseWorkspaces), create)
    .get(paths::WS_HOME, Workspace(Action::ViewWorkspace), ws_home)
    .get(
        paths::WS_SETTINGS,
        Workspace(Action::ViewWorkspace),
        settings_page,
    )
    .post(paths::WS_RENAME, Workspace(Action::ManageWorkspace), rename)
    .post(paths::WS_DELETE, Workspace(Action::DeleteWorkspace), delete)
    .post(paths::WS_LEAVE, Workspace(Action::LeaveWorkspace), leave)
    .post(
        paths::WS_MEMBER_ROLE,
        Workspace(Action::ManageWorkspace),
        set_role,
    )
    .post(
        paths::WS_MEMBER_REMOVE,
        Workspace(Action::ManageWorkspace),
        remove_member,
    )
    .post(
        paths::WS_INVITES,
        Workspace(Action::ManageWorkspace),
        create_invite,
    )
    .post(
        paths::WS_INVITE_REVOKE,
        Workspace(Action::ManageWorkspace),
        revoke_invite,
    )
    // Public so a logged-out visitor learns to log in or register first.
    .get(paths::INVITE, Public, invite_page)
    .post(
        paths::INVITE,
        Instance(Action::UseWorkspaces),
        accept_invite,
    )
}

#[derive(Deserialize, Default)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn list_page(State(_): State<WebState>, ctx: PageCtx) -> Result<Markup> {
    Ok(render_list(&ctx, &NameForm::default(), None))
}

fn render_list(ctx: &PageCtx, form: &NameForm, error: Option<&Error>) -> Markup {
    let content = html! {
        h1 { "Workspaces" }
        div.grid-2 {
            section.panel aria-labelledby="ws-h" {
                h2 #ws-h { "Your workspaces" }
                div.table-wrap { table tabindex="0" {
                    thead { tr { th { "Name" } th { "Your role" } th { span.sr-only { "Open" } } } }
                    tbody {
                        @for (w, role) in &ctx.workspaces {
                            tr {
                                td { a href=(paths::ws(paths::WS_TEMPLATES, w.id)) { (w.name) } }
                                td { @if w.personal { span.badge { "Personal" } } @else { (role.label()) } }
                                td { div.row-actions { a.button.small href=(paths::ws(paths::WS_SETTINGS, w.id)) { "Settings" } } }
                            }
                        }
                    }
                } }
            }
            section.panel aria-labelledby="new-ws-h" {
                h2 #new-ws-h { "New workspace" }
                p.muted { "A shared workspace holds a team's templates. You will be its owner and can invite others." }
                (form_errors(error))
                form.stack method="post" action=(paths::WORKSPACES) {
                    (field("name", "Name", "text", &form.name, "off", error))
                    button.button.primary type="submit" { "Create workspace" }
                }
            }
        }
    };
    layout(ctx, "Workspaces", Nav::None, content)
}

async fn create(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<NameForm>,
) -> Result<Response> {
    let result = match WorkspaceName::parse(&form.name) {
        Ok(name) => {
            state
                .workspaces
                .create(&auth.user, name, Some(client.ip))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(ws) => {
            let text = format!("Created {}. Invite people from its settings.", ws.name);
            let jar = set_flash(jar, &state.edge, false, &text);
            Ok((jar, Redirect::to(&paths::ws(paths::WS_TEMPLATES, ws.id))).into_response())
        }
        Err(e @ Error::Invalid { .. }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_list(&ctx, &form, Some(&e)),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

async fn ws_home(access: WorkspaceAccess) -> Redirect {
    Redirect::to(&paths::ws(paths::WS_TEMPLATES, access.workspace.id))
}

/// What the settings page shows besides the workspace itself.
#[derive(Default)]
struct SettingsExtra<'a> {
    error: Option<&'a Error>,
    created: Option<&'a CreatedInvite>,
    confirm: &'a str,
}

async fn render_settings(
    state: &WebState,
    ctx: &PageCtx,
    access: &WorkspaceAccess,
    extra: SettingsExtra<'_>,
) -> Result<Markup> {
    let ws = &access.workspace;
    let me = &access.auth.user;
    let manage = access.role >= Role::Admin;
    let owner = access.role == Role::Owner;
    let members = state.auth.store().list_members(ws.id).await?;
    let now = state.auth.clock().now();
    let invites = if manage {
        state.auth.store().list_open_invites(ws.id, now).await?
    } else {
        Vec::new()
    };
    let err = extra.error;
    let role_options = |current: Role| {
        html! {
            @for r in Role::ALL.iter().rev() {
                @if owner || *r < Role::Admin {
                    option value=(r.as_str()) selected[*r == current] { (r.label()) }
                }
            }
        }
    };
    let content = html! {
        h1 { (ws.name) }
        p.muted {
            @if ws.personal { "Your personal workspace. Only you can see it." }
            @else { "You are " strong { (access.role.label().to_lowercase()) } " here." }
        }
        (form_errors(err))
        @if let Some(created) = extra.created {
            div.flash.flash-ok role="status" {
                p { "Invite link for a new " (created.invite.role.label().to_lowercase()) ", valid until " (when(created.invite.expires_at)) ". It works once; copy it now, it is not shown again:" }
                (copy_field("invite-link", "Invite link", &ctx.absolute(&format!("/invites/{}", created.token.expose()))))
            }
        }
        (workspace_tabs(ctx, paths::WS_SETTINGS))
        @if manage {
            section.panel aria-labelledby="rename-h" {
                h2 #rename-h { "Name" }
                form.stack.narrow method="post" action=(paths::ws(paths::WS_RENAME, ws.id)) {
                    (field("name", "Workspace name", "text", ws.name.as_str(), "off", None))
                    button.button.primary type="submit" { "Rename" }
                }
            }
        }
        section.panel aria-labelledby="members-h" {
            h2 #members-h { "Members" }
            div.table-wrap { table tabindex="0" {
                thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Joined" } th { span.sr-only { "Actions" } } } }
                tbody {
                    @for m in &members {
                        @let uid = m.member.user_id;
                        @let editable = manage && uid != me.id && (owner || m.member.role < Role::Admin);
                        tr {
                            td { (m.name) @if uid == me.id { " " span.muted.small { "(you)" } } }
                            td { (m.email) }
                            td {
                                @if editable {
                                    form.inline method="post" action=(member_path(paths::WS_MEMBER_ROLE, ws.id, uid)) {
                                        label.sr-only for=(format!("role-{uid}")) { "Role of " (m.email) }
                                        select id=(format!("role-{uid}")) name="role" { (role_options(m.member.role)) }
                                        button.button.small type="submit" { "Change" }
                                    }
                                } @else {
                                    (m.member.role.label())
                                }
                            }
                            td { (when(m.member.joined_at)) }
                            td { div.row-actions {
                                @if editable {
                                    form method="post" action=(member_path(paths::WS_MEMBER_REMOVE, ws.id, uid)) {
                                        button.button.small.danger type="submit" aria-label=(format!("Remove {}", m.email)) { "Remove" }
                                    }
                                }
                            } }
                        }
                    }
                }
            } }
        }
        @if manage && !ws.personal {
            section.panel aria-labelledby="invites-h" {
                h2 #invites-h { "Invite people" }
                p.muted { "An invite is a link that works once, for " (INVITE_DAYS) " days. Whoever opens it while logged in joins with the role you pick." }
                form.inline method="post" action=(paths::ws(paths::WS_INVITES, ws.id)) {
                    label for="invite-role" { "Role" }
                    select #invite-role name="role" {
                        @for r in Role::ALL.iter().rev() {
                            @if crate::workspaces::may_grant(access.role, *r) {
                                option value=(r.as_str()) selected[*r == Role::Editor] { (r.label()) }
                            }
                        }
                    }
                    button.button.primary type="submit" { "Create invite link" }
                }
                @if !invites.is_empty() {
                    div.table-wrap { table tabindex="0" {
                        thead { tr { th { "Role" } th { "Created" } th { "Expires" } th { span.sr-only { "Revoke" } } } }
                        tbody {
                            @for i in &invites {
                                tr {
                                    td { (i.role.label()) }
                                    td { (when(i.created_at)) }
                                    td { (when(i.expires_at)) }
                                    td { div.row-actions {
                                        form method="post" action=(invite_path(ws.id, i.id)) {
                                            button.button.small type="submit" { "Revoke" }
                                        }
                                    } }
                                }
                            }
                        }
                    } }
                }
            }
        }
        @if !ws.personal {
            section.panel.danger-zone aria-labelledby="danger-h" {
                h2 #danger-h { "Leave or delete" }
                form method="post" action=(paths::ws(paths::WS_LEAVE, ws.id)) {
                    button.button.danger type="submit" { "Leave workspace" }
                }
                @if owner {
                    p { "Deleting removes the workspace with all its templates and versions, for everyone. This cannot be undone." }
                    form.stack.narrow method="post" action=(paths::ws(paths::WS_DELETE, ws.id)) {
                        (field("confirm", &format!("Type {} to confirm", ws.name), "text", extra.confirm, "off", err))
                        button.button.danger type="submit" { "Delete workspace" }
                    }
                }
            }
        }
    };
    Ok(layout(
        ctx,
        &format!("{} settings", ws.name),
        Nav::Workspace,
        content,
    ))
}

fn member_path(pattern: &str, ws: impl std::fmt::Display, user: UserId) -> String {
    paths::ws(pattern, ws).replace("{user}", &user.to_string())
}

fn invite_path(ws: impl std::fmt::Display, id: InviteId) -> String {
    paths::ws(paths::WS_INVITE_REVOKE, ws).replace("{invite}", &id.to_string())
}

async fn settings_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
) -> Result<Markup> {
    render_settings(&state, &ctx, &access, SettingsExtra::default()).await
}

/// Answers a settings action: back to settings with a flash, or the page with the error.
async fn settle(
    state: &WebState,
    ctx: &PageCtx,
    access: &WorkspaceAccess,
    jar: CookieJar,
    result: Result<String>,
) -> Result<Response> {
    match result {
        Ok(text) => {
            let jar = set_flash(jar, &state.edge, false, &text);
            let to = paths::ws(paths::WS_SETTINGS, access.workspace.id);
            Ok((jar, Redirect::to(&to)).into_response())
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. } | Error::Forbidden)) => {
            let status = crate::http::error::status_of(&e);
            let extra = SettingsExtra {
                error: Some(&e),
                ..SettingsExtra::default()
            };
            let page = render_settings(state, ctx, access, extra).await?;
            Ok((status, page).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn rename(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<NameForm>,
) -> Result<Response> {
    let result = match WorkspaceName::parse(&form.name) {
        Ok(name) => state
            .workspaces
            .rename(&access.auth.user, &access.workspace, name, Some(client.ip))
            .await
            .map(|w| format!("Renamed to {}.", w.name)),
        Err(e) => Err(e),
    };
    settle(&state, &ctx, &access, jar, result).await
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

async fn delete(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<ConfirmForm>,
) -> Result<Response> {
    let ws = &access.workspace;
    match state
        .workspaces
        .delete(&access.auth.user, ws, &form.confirm, Some(client.ip))
        .await
    {
        Ok(()) => {
            let jar = set_flash(jar, &state.edge, false, &format!("Deleted {}.", ws.name));
            Ok((jar, Redirect::to(paths::WORKSPACES)).into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let extra = SettingsExtra {
                error: Some(&e),
                confirm: &form.confirm,
                ..SettingsExtra::default()
            };
            let page = render_settings(&state, &ctx, &access, extra).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn leave(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
) -> Result<Response> {
    let ws = &access.workspace;
    match state
        .workspaces
        .leave(&access.auth.user, ws, Some(client.ip))
        .await
    {
        Ok(()) => {
            let jar = set_flash(jar, &state.edge, false, &format!("You left {}.", ws.name));
            Ok((jar, Redirect::to(paths::WORKSPACES)).into_response())
        }
        Err(e) => settle(&state, &ctx, &access, jar, Err(e)).await,
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn set_role(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Path((_, user)): Path<(String, UserId)>,
    Form(form): Form<RoleForm>,
) -> Result<Response> {
    let result = match Role::parse(&form.role) {
        Ok(role) => state
            .workspaces
            .set_role(
                &access.auth.user,
                access.role,
                &access.workspace,
                user,
                role,
                Some(client.ip),
            )
            .await
            .map(|m| format!("Role changed to {}.", m.role.label().to_lowercase())),
        Err(e) => Err(e),
    };
    settle(&state, &ctx, &access, jar, result).await
}

async fn remove_member(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Path((_, user)): Path<(String, UserId)>,
) -> Result<Response> {
    let result = state
        .workspaces
        .remove(
            &access.auth.user,
            access.role,
            &access.workspace,
            user,
            Some(client.ip),
        )
        .await
        .map(|()| "Member removed.".to_owned());
    settle(&state, &ctx, &access, jar, result).await
}

async fn create_invite(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<RoleForm>,
) -> Result<Response> {
    let result = match Role::parse(&form.role) {
        Ok(role) => {
            state
                .workspaces
                .invite(
                    &access.auth.user,
                    access.role,
                    &access.workspace,
                    role,
                    INVITE_DAYS,
                    Some(client.ip),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        // Shown on this response only: the token is not kept anywhere readable.
        Ok(created) => {
            let extra = SettingsExtra {
                created: Some(&created),
                ..SettingsExtra::default()
            };
            Ok(render_settings(&state, &ctx, &access, extra)
                .await?
                .into_response())
        }
        Err(e) => settle(&state, &ctx, &access, jar, Err(e)).await,
    }
}

async fn revoke_invite(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Path((_, invite)): Path<(String, InviteId)>,
) -> Result<Response> {
    let result = state
        .workspaces
        .revoke_invite(
            &access.auth.user,
            &access.workspace,
            invite,
            Some(client.ip),
        )
        .await
        .map(|()| "Invite revoked.".to_owned());
    settle(&state, &ctx, &access, jar, result).await
}

async fn invite_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    Path(token): Path<String>,
) -> Result<Response> {
    let (invite, ws) = state.workspaces.open_invite(&token).await?;
    let here = format!("/invites/{token}");
    let next = url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
    let body = html! {
        p { "You are invited to join " strong { (ws.name) } " as " (invite.role.label().to_lowercase()) "." }
        @if ctx.auth.is_some() {
            form.stack method="post" action=(here) {
                button.button.primary type="submit" { "Join " (ws.name) }
            }
        } @else {
            p { a.button.primary href=(format!("{}?next={next}", paths::LOGIN)) { "Log in to accept" } }
            @if state.registration != crate::config::Registration::Closed {
                p.muted { "New here? " a href=(format!("{}?invite={token}", paths::REGISTER)) { "Create an account" } }
            }
        }
    };
    let card = auth_card("Workspace invite", "Invites are single-use links.", body);
    Ok(layout(&ctx, "Invite", Nav::None, card).into_response())
}

async fn accept_invite(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path(token): Path<String>,
) -> Result<Response> {
    match state
        .workspaces
        .accept(&auth.user, &token, Some(client.ip))
        .await
    {
        Ok(member) => {
            let ws = state
                .auth
                .store()
                .get_workspace(member.workspace_id)
                .await?;
            let text = format!(
                "Welcome to {}! You joined as {}.",
                ws.name,
                member.role.label().to_lowercase()
            );
            let jar = set_flash(jar, &state.edge, false, &text);
            Ok((jar, Redirect::to(&paths::ws(paths::WS_TEMPLATES, ws.id))).into_response())
        }
        Err(e @ Error::Conflict { .. }) => {
            let body = html! {
                div.flash.flash-error role="alert" { (sentence(&e.to_string())) }
                p { a href=(paths::WORKSPACES) { "Go to your workspaces" } }
            };
            let card = auth_card("Workspace invite", "Invites are single-use links.", body);
            Ok((
                StatusCode::CONFLICT,
                layout(&ctx, "Invite", Nav::None, card),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}
