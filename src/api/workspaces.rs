//! `/api/workspaces`: workspaces, their members and invites, and accepting an invite.
//!
//! The route guard has already checked the permission and resolved the workspace
//! ([`WorkspaceAccess`]); the rules that need more (who may grant which role, the last owner,
//! personal workspaces) live in `crate::workspaces`. Handlers only translate.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::ApiState;
use super::views::{CreatedInviteJson, InviteJson, MemberJson, MembershipJson, WorkspaceView};
use crate::auth::{Action, ClientInfo};
use crate::domain::{InviteId, Role, UserId, WorkspaceId, WorkspaceName};
use crate::error::Result;
use crate::http::extract::{CurrentUser, Json, Path};
use crate::http::routes::{Permission, Routes, WorkspaceAccess};
use crate::workspaces::INVITE_DAYS;

/// Route paths.
pub const WORKSPACES: &str = "/api/workspaces";
/// One workspace.
pub const WORKSPACE: &str = "/api/workspaces/{ws}";
/// Its members.
pub const MEMBERS: &str = "/api/workspaces/{ws}/members";
/// One member.
pub const MEMBER: &str = "/api/workspaces/{ws}/members/{user}";
/// Leaving it.
pub const LEAVE: &str = "/api/workspaces/{ws}/leave";
/// Its open invites.
pub const INVITES: &str = "/api/workspaces/{ws}/invites";
/// One invite.
pub const INVITE: &str = "/api/workspaces/{ws}/invites/{invite}";
/// Accepting an invite link.
pub const ACCEPT: &str = "/api/invites/{token}/accept";

/// Adds the workspace, member and invite routes, each with its permission.
pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    use Permission::{Instance, Workspace};
    r.get(WORKSPACES, Instance(Action::UseWorkspaces), list)
        .post(WORKSPACES, Instance(Action::UseWorkspaces), create)
        .get(WORKSPACE, Workspace(Action::ViewWorkspace), show)
        .patch(WORKSPACE, Workspace(Action::ManageWorkspace), rename)
        .delete(WORKSPACE, Workspace(Action::DeleteWorkspace), delete)
        .get(MEMBERS, Workspace(Action::ViewWorkspace), members)
        .put(MEMBER, Workspace(Action::ManageWorkspace), set_role)
        .delete(MEMBER, Workspace(Action::ManageWorkspace), remove_member)
        .post(LEAVE, Workspace(Action::LeaveWorkspace), leave)
        .get(INVITES, Workspace(Action::ManageWorkspace), invites)
        .post(INVITES, Workspace(Action::ManageWorkspace), create_invite)
        .delete(INVITE, Workspace(Action::ManageWorkspace), revoke_invite)
        .post(ACCEPT, Instance(Action::UseWorkspaces), accept)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    confirm: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    role: Role,
    #[serde(default = "default_days")]
    days: i64,
}

fn default_days() -> i64 {
    INVITE_DAYS
}

async fn list(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
) -> Result<JsonResponse<Vec<WorkspaceView>>> {
    let list = state.workspaces.list_for(&auth.user).await?;
    Ok(JsonResponse(
        list.iter()
            .map(|(w, r)| WorkspaceView::new(w, *r))
            .collect(),
    ))
}

#[tracing::instrument(skip_all, err(level = "warn"))]
async fn create(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Json(body): Json<NameBody>,
) -> Result<(StatusCode, JsonResponse<WorkspaceView>)> {
    let name = WorkspaceName::parse(&body.name)?;
    let ws = state
        .workspaces
        .create(&auth.user, name, Some(client.ip))
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(WorkspaceView::new(&ws, Role::Owner)),
    ))
}

async fn show(access: WorkspaceAccess) -> JsonResponse<WorkspaceView> {
    JsonResponse(WorkspaceView::new(&access.workspace, access.role))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn rename(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Json(body): Json<NameBody>,
) -> Result<JsonResponse<WorkspaceView>> {
    let name = WorkspaceName::parse(&body.name)?;
    let ws = state
        .workspaces
        .rename(&access.auth.user, &access.workspace, name, Some(client.ip))
        .await?;
    Ok(JsonResponse(WorkspaceView::new(&ws, access.role)))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn delete(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Json(body): Json<ConfirmBody>,
) -> Result<StatusCode> {
    state
        .workspaces
        .delete(
            &access.auth.user,
            &access.workspace,
            &body.confirm,
            Some(client.ip),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
) -> Result<JsonResponse<Vec<MemberJson>>> {
    let members = state.auth.store().list_members(access.workspace.id).await?;
    Ok(JsonResponse(members.into_iter().map(Into::into).collect()))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id, %user), err(level = "warn"))]
async fn set_role(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((_, user)): Path<(WorkspaceId, UserId)>,
    Json(body): Json<RoleBody>,
) -> Result<JsonResponse<MembershipJson>> {
    let member = state
        .workspaces
        .set_role(
            &access.auth.user,
            access.role,
            &access.workspace,
            user,
            body.role,
            Some(client.ip),
        )
        .await?;
    Ok(JsonResponse(member.into()))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id, %user), err(level = "warn"))]
async fn remove_member(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((_, user)): Path<(WorkspaceId, UserId)>,
) -> Result<StatusCode> {
    state
        .workspaces
        .remove(
            &access.auth.user,
            access.role,
            &access.workspace,
            user,
            Some(client.ip),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn leave(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
) -> Result<StatusCode> {
    state
        .workspaces
        .leave(&access.auth.user, &access.workspace, Some(client.ip))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn invites(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
) -> Result<JsonResponse<Vec<InviteJson>>> {
    let now = state.auth.clock().now();
    let open = state
        .auth
        .store()
        .list_open_invites(access.workspace.id, now)
        .await?;
    Ok(JsonResponse(open.iter().map(Into::into).collect()))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn create_invite(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Json(body): Json<InviteBody>,
) -> Result<(StatusCode, JsonResponse<CreatedInviteJson>)> {
    let created = state
        .workspaces
        .invite(
            &access.auth.user,
            access.role,
            &access.workspace,
            body.role,
            body.days,
            Some(client.ip),
        )
        .await?;
    let token = created.token.expose().to_owned();
    Ok((
        StatusCode::CREATED,
        JsonResponse(CreatedInviteJson {
            invite: InviteJson::from(&created.invite),
            url: format!("/invites/{token}"),
            token,
        }),
    ))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn revoke_invite(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Path((_, invite)): Path<(WorkspaceId, InviteId)>,
) -> Result<StatusCode> {
    state
        .workspaces
        .revoke_invite(
            &access.auth.user,
            &access.workspace,
            invite,
            Some(client.ip),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, err(level = "warn"))]
async fn accept(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Path(token): Path<String>,
) -> Result<JsonResponse<MembershipJson>> {
    let member = state
        .workspaces
        .accept(&auth.user, &token, Some(client.ip))
        .await?;
    Ok(JsonResponse(member.into()))
}
