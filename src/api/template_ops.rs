//! `/api/templates/{id}/...` actions beyond editing: labels, rendering, duplicate and move, and
//! import/export (of one template or a whole workspace).
//!
//! The route guard has checked the permission on the template or workspace in the path. Two
//! further checks are made here because they concern a second object: moving `production`
//! (`TemplateAccess::authorize`) and the target workspace of a duplicate or move (the caller
//! must be an editor there; a workspace they are not in answers 404).

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiState;
use super::templates::selector;
use super::views::TemplateSummary;
use crate::auth::{Action, Actor, Authenticated, ClientInfo, Resource, authorize};
use crate::domain::Role;
use crate::domain::{TemplateId, WorkspaceId};
use crate::error::{Error, Result};
use crate::http::extract::{Json, Path};
use crate::http::routes::{Permission, Routes, TemplateAccess, WorkspaceAccess};
use crate::templates::ProductionAllowed;
use crate::templates::export::ExportDoc;
use crate::templates::{Rendered, render};

/// Route paths.
pub const LABEL: &str = "/api/templates/{id}/labels/{label}";
/// Rendering a version with values.
pub const RENDER: &str = "/api/templates/{id}/render";
/// Copying into a workspace.
pub const DUPLICATE: &str = "/api/templates/{id}/duplicate";
/// Moving to another workspace.
pub const MOVE: &str = "/api/templates/{id}/move";
/// One template as an export file.
pub const EXPORT: &str = "/api/templates/{id}/export";
/// A workspace's templates as an export file.
pub const WORKSPACE_EXPORT: &str = "/api/workspaces/{ws}/export";
/// Importing an export file into a workspace.
pub const WORKSPACE_IMPORT: &str = "/api/workspaces/{ws}/import";

/// Adds the label, render, copy and import/export routes, each with its permission.
pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    use Permission::{Template, Workspace};
    r.put(LABEL, Template(Action::LabelTemplates), set_label)
        .delete(LABEL, Template(Action::LabelTemplates), remove_label)
        .post(RENDER, Template(Action::ViewTemplates), render_prompt)
        .post(DUPLICATE, Template(Action::ViewTemplates), duplicate)
        .post(MOVE, Template(Action::EditTemplates), move_to)
        .get(EXPORT, Template(Action::ViewTemplates), export_one)
        .get(
            WORKSPACE_EXPORT,
            Workspace(Action::ViewTemplates),
            export_all,
        )
        .post(WORKSPACE_IMPORT, Workspace(Action::EditTemplates), import)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelBody {
    version: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderBody {
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    workspace_id: WorkspaceId,
}

#[derive(Serialize)]
struct Imported {
    imported: Vec<TemplateId>,
}

/// Whether the caller may move `production` on this template.
fn production(access: &TemplateAccess) -> ProductionAllowed {
    ProductionAllowed(access.authorize(Action::LabelProduction).is_ok())
}

#[tracing::instrument(skip_all, fields(template = %access.template.id, %label), err(level = "warn"))]
async fn set_label(
    State(state): State<ApiState>,
    access: TemplateAccess,
    client: ClientInfo,
    Path((_, label)): Path<(TemplateId, String)>,
    Json(body): Json<LabelBody>,
) -> Result<JsonResponse<TemplateSummary>> {
    let t = state
        .templates
        .set_label(
            &access.auth.user,
            &access.template,
            &label,
            body.version,
            production(&access),
            Some(client.ip),
        )
        .await?;
    Ok(JsonResponse((&t).into()))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id, %label), err(level = "warn"))]
async fn remove_label(
    State(state): State<ApiState>,
    access: TemplateAccess,
    client: ClientInfo,
    Path((_, label)): Path<(TemplateId, String)>,
) -> Result<StatusCode> {
    state
        .templates
        .remove_label(
            &access.auth.user,
            &access.template,
            &label,
            production(&access),
            Some(client.ip),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn render_prompt(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Json(body): Json<RenderBody>,
) -> Result<JsonResponse<Rendered>> {
    let which = selector(body.version, body.label)?;
    let v = state
        .templates
        .version(&access.template, which.as_deref())
        .await
        .map_err(|e| match (e, body.version) {
            (Error::NotFound, Some(n)) => {
                Error::invalid("version", format!("there is no version {n}"))
            }
            (other, _) => other,
        })?;
    Ok(JsonResponse(render(&v.content, &body.variables)?))
}

/// The caller must be allowed to edit templates in `target` (not a member answers 404); says
/// whether they may also bring a `production` label there.
async fn check_target(
    state: &ApiState,
    auth: &Authenticated,
    target: WorkspaceId,
) -> Result<ProductionAllowed> {
    let member = state.auth.store().find_member(target, auth.user.id).await?;
    let resource = Resource::Workspace(member.map(|m| m.role));
    let actor = Actor::User(&auth.user);
    authorize(actor, Action::EditTemplates, resource)?;
    Ok(ProductionAllowed(
        authorize(actor, Action::LabelProduction, resource).is_ok(),
    ))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id, to = %body.workspace_id), err(level = "warn"))]
async fn duplicate(
    State(state): State<ApiState>,
    access: TemplateAccess,
    client: ClientInfo,
    Json(body): Json<TargetBody>,
) -> Result<(StatusCode, JsonResponse<TemplateSummary>)> {
    check_target(&state, &access.auth, body.workspace_id).await?;
    let t = state
        .templates
        .duplicate(
            &access.auth.user,
            &access.template,
            body.workspace_id,
            Some(client.ip),
        )
        .await?;
    Ok((StatusCode::CREATED, JsonResponse((&t).into())))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id, to = %body.workspace_id), err(level = "warn"))]
async fn move_to(
    State(state): State<ApiState>,
    access: TemplateAccess,
    client: ClientInfo,
    Json(body): Json<TargetBody>,
) -> Result<JsonResponse<TemplateSummary>> {
    let allowed = check_target(&state, &access.auth, body.workspace_id).await?;
    let t = state
        .templates
        .move_to(
            &access.auth.user,
            &access.template,
            body.workspace_id,
            allowed,
            Some(client.ip),
        )
        .await?;
    Ok(JsonResponse((&t).into()))
}

async fn export_one(
    State(state): State<ApiState>,
    access: TemplateAccess,
) -> Result<JsonResponse<ExportDoc>> {
    let doc = state
        .templates
        .export(std::slice::from_ref(&access.template))
        .await?;
    Ok(JsonResponse(doc))
}

async fn export_all(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
) -> Result<JsonResponse<ExportDoc>> {
    let list = state
        .auth
        .store()
        .list_templates(Some(access.workspace.id))
        .await?;
    Ok(JsonResponse(state.templates.export(&list).await?))
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn import(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Json(doc): Json<ExportDoc>,
) -> Result<(StatusCode, JsonResponse<Imported>)> {
    let created = state
        .templates
        .import(
            &access.auth.user,
            access.workspace.id,
            doc,
            ProductionAllowed(access.role >= Role::Admin),
            Some(client.ip),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(Imported {
            imported: created.iter().map(|t| t.id).collect(),
        }),
    ))
}
