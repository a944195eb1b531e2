//! `/api/.../templates`: listing and creating templates, reading and saving versions, diffs
//! and rollback. Labels, rendering, copying and import/export are in `template_ops`.
//!
//! The route guard has already checked the permission and loaded the template
//! ([`TemplateAccess`]) or workspace ([`WorkspaceAccess`]); the rules that need the data (a
//! stale base version, valid content) live in `crate::templates`. Handlers only translate.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::views::{
    ContentBody, PatchBody, TemplateDetail, TemplateSummary, VersionJson, VersionSummary,
};
use crate::auth::{Action, ClientInfo};
use crate::domain::{Template, TemplateId};
use crate::error::{Error, Result};
use crate::http::extract::{CurrentUser, Json, Path, Query};
use crate::http::routes::{Permission, Routes, TemplateAccess, WorkspaceAccess};
use crate::templates::diff::between;
use crate::templates::{self, ListQuery};

/// Route paths.
pub const WORKSPACE_TEMPLATES: &str = "/api/workspaces/{ws}/templates";
/// System templates.
pub const SYSTEM_TEMPLATES: &str = "/api/system/templates";
/// One template.
pub const TEMPLATE: &str = "/api/templates/{id}";
/// Its versions.
pub const VERSIONS: &str = "/api/templates/{id}/versions";
/// One version.
pub const VERSION: &str = "/api/templates/{id}/versions/{version}";
/// A diff between two versions.
pub const DIFF: &str = "/api/templates/{id}/diff";
/// Rolling back to an old version.
pub const ROLLBACK: &str = "/api/templates/{id}/rollback";

/// Adds the template, version and diff routes, each with its permission.
pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    use Permission::{Instance, Template, Workspace};
    r.get(WORKSPACE_TEMPLATES, Workspace(Action::ViewTemplates), list)
        .post(
            WORKSPACE_TEMPLATES,
            Workspace(Action::EditTemplates),
            create,
        )
        .get(
            SYSTEM_TEMPLATES,
            Instance(Action::UseWorkspaces),
            list_system,
        )
        .post(
            SYSTEM_TEMPLATES,
            Instance(Action::ManageSystemTemplates),
            create_system,
        )
        .get(TEMPLATE, Template(Action::ViewTemplates), show)
        .patch(TEMPLATE, Template(Action::EditTemplates), patch)
        .delete(TEMPLATE, Template(Action::EditTemplates), delete)
        .get(VERSIONS, Template(Action::ViewTemplates), versions)
        .post(VERSIONS, Template(Action::EditTemplates), save_version)
        .get(VERSION, Template(Action::ViewTemplates), show_version)
        .get(DIFF, Template(Action::ViewTemplates), diff)
        .post(ROLLBACK, Template(Action::EditTemplates), rollback)
}

/// `?version=N` or `?label=name`: which version to show.
#[derive(Deserialize)]
struct Pick {
    version: Option<u32>,
    label: Option<String>,
}

/// The selector `Templates::version` takes, from a version number or a label; not both.
pub(super) fn selector(version: Option<u32>, label: Option<String>) -> Result<Option<String>> {
    match (version, label) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "label",
            "give a version or a label, not both",
        )),
        (Some(n), None) => Ok(Some(n.to_string())),
        (None, label) => Ok(label),
    }
}

#[derive(Deserialize)]
struct DiffQuery {
    from: u32,
    to: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    version: u32,
}

#[derive(Serialize)]
struct Created {
    template: TemplateSummary,
    version: VersionJson,
}

#[derive(Serialize)]
struct DiffJson {
    from: u32,
    to: u32,
    rows: Vec<DiffRowJson>,
}

#[derive(Serialize)]
struct DiffRowJson {
    left: Option<(usize, String)>,
    right: Option<(usize, String)>,
    changed: bool,
}

/// A missing version named in the body or query is bad input naming that field, not a 404
/// (the template itself exists and the caller may see it).
fn no_version(field: &'static str, n: u32) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::NotFound => Error::invalid(field, format!("there is no version {n}")),
        other => other,
    }
}

/// Filters and sorts a template list as the query asks.
fn filter(list: Vec<Template>, query: ListQuery) -> Result<Vec<TemplateSummary>> {
    Ok(templates::filter(list, &query)?
        .iter()
        .map(Into::into)
        .collect())
}

async fn list(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    Query(query): Query<ListQuery>,
) -> Result<JsonResponse<Vec<TemplateSummary>>> {
    let list = state
        .auth
        .store()
        .list_templates(Some(access.workspace.id))
        .await?;
    Ok(JsonResponse(filter(list, query)?))
}

async fn list_system(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<JsonResponse<Vec<TemplateSummary>>> {
    let list = state.auth.store().list_templates(None).await?;
    Ok(JsonResponse(filter(list, query)?))
}

fn refuse_base(body: &ContentBody) -> Result<()> {
    match body.base_version {
        Some(_) => Err(Error::invalid(
            "base_version",
            "a new template has no base version; leave it out",
        )),
        None => Ok(()),
    }
}

#[tracing::instrument(skip_all, fields(ws = %access.workspace.id), err(level = "warn"))]
async fn create(
    State(state): State<ApiState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    Json(body): Json<ContentBody>,
) -> Result<(StatusCode, JsonResponse<Created>)> {
    refuse_base(&body)?;
    let message = body.message.clone();
    let (t, v) = state
        .templates
        .create(
            &access.auth.user,
            Some(access.workspace.id),
            body.content(),
            &message,
            Some(client.ip),
        )
        .await?;
    Ok(created(&t, v))
}

#[tracing::instrument(skip_all, err(level = "warn"))]
async fn create_system(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Json(body): Json<ContentBody>,
) -> Result<(StatusCode, JsonResponse<Created>)> {
    refuse_base(&body)?;
    let message = body.message.clone();
    let (t, v) = state
        .templates
        .create(&auth.user, None, body.content(), &message, Some(client.ip))
        .await?;
    Ok(created(&t, v))
}

fn created(t: &Template, v: crate::domain::TemplateVersion) -> (StatusCode, JsonResponse<Created>) {
    (
        StatusCode::CREATED,
        JsonResponse(Created {
            template: t.into(),
            version: v.into(),
        }),
    )
}

async fn show(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Query(pick): Query<Pick>,
) -> Result<JsonResponse<TemplateDetail>> {
    let which = selector(pick.version, pick.label)?;
    let v = state
        .templates
        .version(&access.template, which.as_deref())
        .await?;
    Ok(JsonResponse(TemplateDetail::new(&access.template, v)))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id), err(level = "warn"))]
async fn patch(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Json(mut body): Json<PatchBody>,
) -> Result<JsonResponse<TemplateDetail>> {
    let t = &access.template;
    let latest = state.templates.version(t, None).await?;
    let base = body.base_version;
    let message = std::mem::take(&mut body.message);
    let content = body.apply(latest.content);
    let v = state
        .templates
        .save(&access.auth.user, t, base, content, &message)
        .await?;
    let t = state.auth.store().get_template(t.id).await?;
    Ok(JsonResponse(TemplateDetail::new(&t, v)))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id), err(level = "warn"))]
async fn delete(
    State(state): State<ApiState>,
    access: TemplateAccess,
    client: ClientInfo,
) -> Result<StatusCode> {
    state
        .templates
        .delete(&access.auth.user, &access.template, Some(client.ip))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn versions(
    State(state): State<ApiState>,
    access: TemplateAccess,
) -> Result<JsonResponse<Vec<VersionSummary>>> {
    let list = state.auth.store().list_versions(access.template.id).await?;
    Ok(JsonResponse(list.iter().map(Into::into).collect()))
}

async fn show_version(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Path((_, version)): Path<(TemplateId, u32)>,
) -> Result<JsonResponse<VersionJson>> {
    let v = state
        .auth
        .store()
        .get_version(access.template.id, version)
        .await?;
    Ok(JsonResponse(v.into()))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id), err(level = "warn"))]
async fn save_version(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Json(body): Json<ContentBody>,
) -> Result<(StatusCode, JsonResponse<VersionJson>)> {
    let base = body.base_version.ok_or_else(|| {
        Error::invalid(
            "base_version",
            "send the base_version you edited from, so a newer save is not overwritten",
        )
    })?;
    let message = body.message.clone();
    let v = state
        .templates
        .save(
            &access.auth.user,
            &access.template,
            base,
            body.content(),
            &message,
        )
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(v.into())))
}

async fn diff(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Query(q): Query<DiffQuery>,
) -> Result<JsonResponse<DiffJson>> {
    let store = state.auth.store();
    let id = access.template.id;
    let old = store
        .get_version(id, q.from)
        .await
        .map_err(no_version("from", q.from))?;
    let new = store
        .get_version(id, q.to)
        .await
        .map_err(no_version("to", q.to))?;
    let rows = between(&old.content, &new.content, true)
        .await?
        .into_iter()
        .map(|r| DiffRowJson {
            left: r.left,
            right: r.right,
            changed: r.changed,
        })
        .collect();
    Ok(JsonResponse(DiffJson {
        from: q.from,
        to: q.to,
        rows,
    }))
}

#[tracing::instrument(skip_all, fields(template = %access.template.id), err(level = "warn"))]
async fn rollback(
    State(state): State<ApiState>,
    access: TemplateAccess,
    Json(body): Json<VersionBody>,
) -> Result<(StatusCode, JsonResponse<VersionJson>)> {
    let v = state
        .templates
        .rollback(&access.auth.user, &access.template, body.version)
        .await
        .map_err(no_version("version", body.version))?;
    Ok((StatusCode::CREATED, JsonResponse(v.into())))
}
