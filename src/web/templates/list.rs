//! A workspace's template list (with the system templates), search and filters, and
//! workspace import/export.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::editor::template_url;
use crate::auth::ClientInfo;
use crate::domain::Role;
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{Form, Query};
use crate::http::routes::WorkspaceAccess;
use crate::templates::ProductionAllowed;
use crate::templates::export::ExportDoc;
use crate::web::views::{Nav, empty, form_errors, layout, when};
use crate::web::{PageCtx, WebState, paths};

/// The list's filters, from the query string.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(flatten)]
    filter: crate::templates::ListQuery,
    /// `workspace`, `system` or `all` (default).
    #[serde(default)]
    scope: String,
}

pub async fn list_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Query(q): Query<ListQuery>,
) -> Result<Markup> {
    render(&state, &ctx, &access, &q, None).await
}

async fn render(
    state: &WebState,
    ctx: &PageCtx,
    access: &WorkspaceAccess,
    q: &ListQuery,
    error: Option<&Error>,
) -> Result<Markup> {
    let ws = &access.workspace;
    let store = state.auth.store();
    let mut all = Vec::new();
    if q.scope != "system" {
        all.extend(store.list_templates(Some(ws.id)).await?);
    }
    if q.scope != "workspace" {
        all.extend(store.list_templates(None).await?);
    }
    let mut tags: Vec<String> = all.iter().flat_map(|t| t.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    let shown = crate::templates::filter(all.clone(), &q.filter)?;
    let (text, tag_q, sort) = (
        q.filter.q.clone().unwrap_or_default(),
        q.filter.tag.clone().unwrap_or_default(),
        q.filter.sort.clone().unwrap_or_default(),
    );
    let can_edit = access.role >= Role::Editor;
    let here = paths::ws(paths::WS_TEMPLATES, ws.id);
    let content = html! {
        div.page-head {
            h1 { "Templates" }
            div.actions {
                @if access.auth.user.is_admin() {
                    a.button href=(paths::SYSTEM_TEMPLATE_NEW) { "New system template" }
                }
                @if can_edit {
                    a.button.primary href=(paths::ws(paths::WS_TEMPLATE_NEW, ws.id)) { "New template" }
                }
            }
        }
        form.filters method="get" action=(here) role="search" {
            label.sr-only for="q" { "Search by name" }
            input #q type="search" name="q" value=(text) placeholder="Search by name or description";
            label.sr-only for="tag" { "Tag" }
            select #tag name="tag" {
                option value="" { "All tags" }
                @for tag in &tags { option value=(tag) selected[*tag == tag_q] { (tag) } }
            }
            label.sr-only for="scope" { "Scope" }
            select #scope name="scope" {
                option value="all" selected[q.scope.is_empty() || q.scope == "all"] { "This workspace and system" }
                option value="workspace" selected[q.scope == "workspace"] { (if ws.personal { "Personal only" } else { "This workspace only" }) }
                option value="system" selected[q.scope == "system"] { "System only" }
            }
            label.sr-only for="sort" { "Sort" }
            select #sort name="sort" {
                option value="name" selected[sort != "updated"] { "By name" }
                option value="updated" selected[sort == "updated"] { "Recently changed" }
            }
            button.button type="submit" { "Filter" }
        }
        (form_errors(error))
        @if shown.is_empty() {
            (empty(if all.is_empty() { "No templates yet. Create one, or import an export file." } else { "No template matches these filters." }))
        } @else {
            ul.template-list {
                @for t in &shown {
                    li.template-item {
                        div {
                            a.template-name href=(template_url(t)) { (t.name) }
                            @if t.is_system() { " " span.badge { "System" } }
                            @for (label, v) in &t.labels { " " span.badge.badge-ok title=(format!("version {v}")) { (label) } }
                            @if !t.description.is_empty() { p.muted.small { (t.description) } }
                        }
                        div.template-meta {
                            @for tag in &t.tags { span.tag { (tag) } }
                            span.muted.small { "v" (t.latest_version) " · " (when(t.updated_at)) }
                        }
                    }
                }
            }
        }
        section.panel aria-labelledby="io-h" {
            h2 #io-h { "Import and export" }
            p { a.button.small href=(paths::ws(paths::WS_EXPORT, ws.id)) download { "Export this workspace (JSON)" } }
            @if can_edit {
                form.stack method="post" action=(paths::ws(paths::WS_IMPORT, ws.id)) {
                    div.field {
                        label for="import" { "Import: paste an export file" }
                        textarea #import.code name="import" rows="4" placeholder="{\"format\": \"promptyard.templates.v1\", ...}" {}
                    }
                    button.button type="submit" { "Import" }
                }
            }
        }
    };
    Ok(layout(
        ctx,
        &format!("Templates · {}", ws.name),
        Nav::Templates,
        content,
    ))
}

pub async fn export_workspace(
    State(state): State<WebState>,
    access: WorkspaceAccess,
) -> Result<Response> {
    let templates = state
        .auth
        .store()
        .list_templates(Some(access.workspace.id))
        .await?;
    let doc = state.templates.export(&templates).await?;
    Ok(json_download(
        &doc,
        &format!("{}-templates.json", slug(access.workspace.name.as_str())),
    ))
}

/// A JSON file the browser saves.
pub fn json_download(doc: &ExportDoc, filename: &str) -> Response {
    let body = serde_json::to_string_pretty(doc).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A file-name-safe form of a name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() {
        "templates".to_owned()
    } else {
        s
    }
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    import: String,
}

pub async fn import(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<ImportForm>,
) -> Result<Response> {
    let result = match serde_json::from_str::<ExportDoc>(&form.import) {
        Ok(doc) => {
            state
                .templates
                .import(
                    &access.auth.user,
                    access.workspace.id,
                    doc,
                    ProductionAllowed(access.role >= Role::Admin),
                    Some(client.ip),
                )
                .await
        }
        Err(e) => Err(Error::invalid(
            "import",
            format!("that is not an export file: {e}"),
        )),
    };
    match result {
        Ok(created) => {
            let text = format!("Imported {} template(s).", created.len());
            let jar = set_flash(jar, &state.edge, false, &text);
            Ok((
                jar,
                Redirect::to(&paths::ws(paths::WS_TEMPLATES, access.workspace.id)),
            )
                .into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let page = render(&state, &ctx, &access, &ListQuery::default(), Some(&e)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}
