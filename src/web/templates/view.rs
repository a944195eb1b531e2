//! A template's page: its content, a form generated from its variables that renders the
//! prompt, labels, history with side-by-side diffs, rollback, duplicate, move and delete.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::editor::{content_view, template_url};
use super::list::{json_download, slug};
use crate::auth::{Action, Actor, ClientInfo, Resource, authorize};
use crate::domain::template::PRODUCTION;
use crate::domain::variables::VarKind;
use crate::domain::{Role, TemplateVersion, WorkspaceId};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{Form, Path, Query};
use crate::http::routes::TemplateAccess;
use crate::templates::{ProductionAllowed, Rendered, diff};
use crate::web::views::{Nav, form_errors, layout, sentence, when};
use crate::web::{PageCtx, WebState, paths};

#[derive(Deserialize, Default)]
pub struct VersionQuery {
    /// A version number or a label.
    #[serde(default)]
    version: String,
}

/// What the page shows besides the template.
#[derive(Default)]
struct Extra<'a> {
    values: HashMap<String, String>,
    rendered: Option<&'a Rendered>,
    error: Option<&'a Error>,
}

fn can(access: &TemplateAccess, action: Action) -> bool {
    access.authorize(action).is_ok()
}

async fn render_page(
    state: &WebState,
    ctx: &PageCtx,
    access: &TemplateAccess,
    v: &TemplateVersion,
    extra: Extra<'_>,
) -> Result<Markup> {
    let t = &access.template;
    let c = &v.content;
    let here = template_url(t);
    let edit = can(access, Action::EditTemplates);
    let label = can(access, Action::LabelTemplates);
    let targets: Vec<_> = ctx
        .workspaces
        .iter()
        .filter(|(_, r)| *r >= Role::Editor)
        .filter(|(w, _)| Some(w.id) != t.workspace_id)
        .collect();
    let content = html! {
        div.page-head {
            div {
                h1 { (c.name) }
                p.muted {
                    @if t.is_system() { span.badge { "System" } " " }
                    "Version " (v.version) " of " (t.latest_version) " · " (when(v.created_at))
                    @if !v.message.is_empty() { " · " (v.message) }
                }
            }
            div.actions {
                @if edit { a.button.primary href=(paths::with_id(paths::TEMPLATE_EDIT, t.id)) { "Edit" } }
                @if let Some(ws) = t.workspace_id.or(ctx.current_id()) {
                    a.button href=(format!("{}?template={}", paths::ws(paths::WS_PLAYGROUND, ws), t.id)) { "Open in playground" }
                }
                a.button href=(paths::with_id(paths::TEMPLATE_HISTORY, t.id)) { "Version history" }
                a.button href=(paths::with_id(paths::TEMPLATE_EXPORT, t.id)) download { "Export" }
                a.button href=(format!("{}?template={}", paths::COMMUNITY_NEW, t.id)) { "Share to community" }
            }
        }
        @if !c.description.is_empty() { p.lead { (c.description) } }
        @if !c.tags.is_empty() { p { @for tag in &c.tags { span.tag { (tag) } " " } } }
        (form_errors(extra.error))
        div.grid-2 {
            div {
                section.panel { (content_view(c)) }
                @if let Some(r) = extra.rendered {
                    section.panel aria-labelledby="rendered-h" {
                        h2 #rendered-h { "Rendered prompt" }
                        @if c.chat.messages.is_empty() {
                            @if !r.system_prompt.is_empty() { h3 { "System" } pre.prompt #rendered-system { (r.system_prompt) } }
                            h3 { "User" }
                            pre.prompt #rendered-user { (r.user_prompt) }
                        } @else {
                            ol.template-messages #rendered-messages {
                                @for m in &r.messages {
                                    li { span.badge { (m.role.as_str()) } pre.prompt { (m.content) } }
                                }
                            }
                        }
                    }
                }
            }
            div {
                section.panel aria-labelledby="try-h" {
                    h2 #try-h { "Fill in and render" }
                    form.stack method="post" action=(paths::with_id(paths::TEMPLATE_RENDER, t.id)) {
                        // Not a possible variable name (those have no hyphen), so it never collides.
                        input type="hidden" name="render-version" value=(v.version);
                        @if c.variables.is_empty() { p.muted { "This template has no variables." } }
                        @for var in &c.variables {
                            @let id = format!("var-{}", var.name);
                            @let value = extra.values.get(&var.name).cloned().unwrap_or_else(|| default_text(var));
                            div.field {
                                label for=(id) { (var.name) @if var.required { " *" } }
                                @match &var.kind {
                                    VarKind::Text => textarea id=(id) name=(var.name) rows="4" { (value) },
                                    VarKind::Number => input id=(id) name=(var.name) type="number" step="any" value=(value);,
                                    VarKind::Boolean => select id=(id) name=(var.name) {
                                        option value="" { "(not set)" }
                                        option value="true" selected[value == "true"] { "Yes" }
                                        option value="false" selected[value == "false"] { "No" }
                                    },
                                    VarKind::Enum { choices } => select id=(id) name=(var.name) {
                                        option value="" { "(choose)" }
                                        @for choice in choices { option value=(choice) selected[*choice == value] { (choice) } }
                                    },
                                    VarKind::String => input id=(id) name=(var.name) type="text" value=(value);,
                                }
                                @if !var.description.is_empty() { p.hint { (var.description) } }
                            }
                        }
                        button.button.primary type="submit" { "Render" }
                    }
                }
                section.panel aria-labelledby="labels-h" {
                    h2 #labels-h { "Labels" }
                    @if t.labels.is_empty() { p.muted { "No labels yet." } }
                    ul.labels {
                        @for (name, n) in &t.labels {
                            li {
                                span.badge.badge-ok { (name) } " → " a href=(format!("{here}?version={n}")) { "version " (n) }
                                @if label && (name != PRODUCTION || can(access, Action::LabelProduction)) {
                                    form.inline method="post" action=(paths::with_id(paths::TEMPLATE_LABEL_DELETE, t.id).replace("{label}", name)) {
                                        button.button.small.ghost type="submit" aria-label=(format!("Remove label {name}")) { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                    @if label {
                        form.inline method="post" action=(paths::with_id(paths::TEMPLATE_LABELS, t.id)) {
                            label for="label" { "Label" }
                            input #label name="label" list="label-names" placeholder="e.g. staging" required;
                            datalist #label-names { option value="production"; option value="staging"; }
                            label for="label-version" { "Version" }
                            input #label-version name="version" type="number" min="1" max=(t.latest_version) value=(v.version);
                            button.button.small type="submit" { "Set label" }
                        }
                        @if !can(access, Action::LabelProduction) { p.hint { "Only workspace admins move " code { "production" } "." } }
                    }
                }
                section.panel aria-labelledby="manage-h" {
                    h2 #manage-h { "Copy and move" }
                    @if targets.is_empty() && !edit { p.muted { "Nothing to do here with your role." } }
                    @if !targets.is_empty() || edit {
                        form.inline method="post" action=(paths::with_id(paths::TEMPLATE_DUPLICATE, t.id)) {
                            label.sr-only for="dup-ws" { "Copy to" }
                            select #dup-ws name="workspace" {
                                @for (w, r) in ctx.workspaces.iter().filter(|(_, r)| *r >= Role::Editor) {
                                    option value=(w.id) selected[Some(w.id) == t.workspace_id] { (w.name) " (" (r.label()) ")" }
                                }
                            }
                            button.button.small type="submit" { "Duplicate" }
                        }
                    }
                    @if edit && !t.is_system() && !targets.is_empty() {
                        form.inline method="post" action=(paths::with_id(paths::TEMPLATE_MOVE, t.id)) {
                            label.sr-only for="move-ws" { "Move to" }
                            select #move-ws name="workspace" {
                                @for (w, _) in &targets { option value=(w.id) { (w.name) } }
                            }
                            button.button.small type="submit" { "Move" }
                        }
                    }
                    @if edit {
                        form.inline method="post" action=(paths::with_id(paths::TEMPLATE_DELETE, t.id)) {
                            button.button.small.danger type="submit" { "Delete template" }
                        }
                    }
                }
            }
        }
    };
    let _ = state;
    Ok(layout(ctx, &c.name, Nav::Templates, content))
}

fn default_text(var: &crate::domain::variables::VariableDef) -> String {
    match &var.default {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub async fn template_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: TemplateAccess,
    Query(q): Query<VersionQuery>,
) -> Result<Markup> {
    let v = state
        .templates
        .version(&access.template, Some(&q.version))
        .await?;
    render_page(&state, &ctx, &access, &v, Extra::default()).await
}

pub async fn render(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: TemplateAccess,
    Form(mut form): Form<HashMap<String, String>>,
) -> Result<Response> {
    let selector = form.remove("render-version");
    let v = state
        .templates
        .version(&access.template, selector.as_deref())
        .await?;
    // Blank fields are "not given", so defaults and the required check apply.
    let values: Map<String, Value> = form
        .iter()
        .filter(|(_, val)| !val.is_empty())
        .map(|(k, val)| (k.clone(), Value::String(val.clone())))
        .collect();
    match crate::templates::render(&v.content, &values) {
        Ok(rendered) => {
            let extra = Extra {
                values: form,
                rendered: Some(&rendered),
                error: None,
            };
            Ok(render_page(&state, &ctx, &access, &v, extra)
                .await?
                .into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let extra = Extra {
                values: form,
                rendered: None,
                error: Some(&e),
            };
            let page = render_page(&state, &ctx, &access, &v, extra).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn history_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: TemplateAccess,
) -> Result<Markup> {
    let t = &access.template;
    let versions = state.auth.store().list_versions(t.id).await?;
    let mut authors = HashMap::new();
    for id in versions.iter().filter_map(|v| v.author) {
        if let std::collections::hash_map::Entry::Vacant(slot) = authors.entry(id)
            && let Ok(u) = state.auth.store().get_user(id).await
        {
            slot.insert(u.name.to_string());
        }
    }
    let edit = can(&access, Action::EditTemplates);
    let content = html! {
        div.page-head {
            h1 { "History of " a href=(template_url(t)) { (t.name) } }
        }
        form.inline.panel method="get" action=(paths::with_id(paths::TEMPLATE_DIFF, t.id)) {
            "Compare version "
            label.sr-only for="from" { "From version" }
            input #from name="from" type="number" min="1" max=(t.latest_version) value=(t.latest_version.saturating_sub(1).max(1));
            " with "
            label.sr-only for="to" { "To version" }
            input #to name="to" type="number" min="1" max=(t.latest_version) value=(t.latest_version);
            button.button.small type="submit" { "Show diff" }
        }
        div.table-wrap { table tabindex="0" {
            thead { tr { th { "Version" } th { "Message" } th { "Author" } th { "Saved" } th { "Labels" } th { span.sr-only { "Actions" } } } }
            tbody {
                @for v in &versions {
                    tr {
                        td { a href=(format!("{}?version={}", template_url(t), v.version)) { "v" (v.version) } }
                        td { (v.message) }
                        td { (v.author.and_then(|a| authors.get(&a).cloned()).unwrap_or_else(|| "Promptyard".into())) }
                        td { (when(v.created_at)) }
                        td { @for (l, n) in &t.labels { @if *n == v.version { span.badge.badge-ok { (l) } " " } } }
                        td { div.row-actions {
                            @if v.version > 1 {
                                a.button.small href=(format!("{}?from={}&to={}", paths::with_id(paths::TEMPLATE_DIFF, t.id), v.version - 1, v.version)) { "Diff" }
                            }
                            @if edit && v.version != t.latest_version {
                                form method="post" action=(paths::with_id(paths::TEMPLATE_ROLLBACK, t.id)) {
                                    input type="hidden" name="version" value=(v.version);
                                    button.button.small type="submit" aria-label=(format!("Roll back to version {}", v.version)) { "Roll back" }
                                }
                            }
                        } }
                    }
                }
            }
        } }
    };
    Ok(layout(
        &ctx,
        &format!("History · {}", t.name),
        Nav::Templates,
        content,
    ))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: u32,
    to: u32,
}

fn var_status_class(s: diff::VarStatus) -> &'static str {
    match s {
        diff::VarStatus::Added => "var-added",
        diff::VarStatus::Removed => "var-removed",
        diff::VarStatus::Changed => "var-changed",
        diff::VarStatus::Same => "",
    }
}

pub async fn diff_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: TemplateAccess,
    Query(q): Query<DiffQuery>,
) -> Result<Markup> {
    let t = &access.template;
    let store = state.auth.store();
    let (a, b) = (
        store.get_version(t.id, q.from).await?,
        store.get_version(t.id, q.to).await?,
    );
    let rows = diff::between(&a.content, &b.content, false).await?;
    let vars = diff::variables(&a.content, &b.content);
    let changed = rows.iter().filter(|r| r.changed).count();
    let vars_changed = vars
        .iter()
        .filter(|v| v.status != diff::VarStatus::Same)
        .count();
    let content = html! {
        h1 { "Version " (a.version) " → " (b.version) " of " a href=(template_url(t)) { (t.name) } }
        p.muted {
            (changed) " changed line(s), " (vars_changed) " changed variable(s). "
            a href=(paths::with_id(paths::TEMPLATE_HISTORY, t.id)) { "Back to history" }
        }
        div.table-wrap { table.diff tabindex="0" {
            colgroup { col.ln; col; col.ln; col; }
            thead { tr { th colspan="2" { "Version " (a.version) } th colspan="2" { "Version " (b.version) } } }
            tbody {
                @for r in &rows {
                    tr.changed[r.changed] {
                        td.ln { @if let Some((n, _)) = &r.left { (n) } }
                        td.old[r.changed && r.left.is_some()] { @if let Some((_, text)) = &r.left { (text) } }
                        td.ln { @if let Some((n, _)) = &r.right { (n) } }
                        td.new[r.changed && r.right.is_some()] { @if let Some((_, text)) = &r.right { (text) } }
                    }
                }
            }
        } }
        section.panel aria-labelledby="var-diff-h" {
            h2 #var-diff-h { "Variables" }
            @if vars.is_empty() { p.empty { "Neither version declares variables." } }
            @else {
                div.table-wrap { table.var-diff tabindex="0" {
                    thead { tr { th { "Variable" } @for f in diff::VAR_FIELDS { th { (f) } } } }
                    tbody {
                        @for v in &vars {
                            tr class=(var_status_class(v.status)) {
                                th scope="row" {
                                    (v.name)
                                    @match v.status {
                                        diff::VarStatus::Added => { " " span.badge.badge-ok { "added" } }
                                        diff::VarStatus::Removed => { " " span.badge.badge-bad { "removed" } }
                                        diff::VarStatus::Changed => { " " span.badge { "changed" } }
                                        diff::VarStatus::Same => {}
                                    }
                                }
                                @for (old, new) in &v.fields {
                                    @match (old, new) {
                                        (Some(o), Some(n)) if o == n => td { (o) },
                                        (Some(o), Some(n)) if o.is_empty() => td.cell-changed { ins { (n) } },
                                        (Some(o), Some(n)) if n.is_empty() => td.cell-changed { del { (o) } },
                                        (Some(o), Some(n)) => td.cell-changed { del { (o) } " → " ins { (n) } },
                                        (None, Some(n)) if !n.is_empty() => td { ins { (n) } },
                                        (Some(o), None) if !o.is_empty() => td { del { (o) } },
                                        (None, Some(_)) | (Some(_), None) => td {},
                                        (None, None) => td {},
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    };
    Ok(layout(
        &ctx,
        &format!("Diff · {}", t.name),
        Nav::Templates,
        content,
    ))
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: String,
}

fn parse_version(raw: &str) -> Result<u32> {
    raw.trim()
        .parse()
        .map_err(|_| Error::invalid("version", "choose a version number"))
}

/// Back to the template with a flash: green for `Ok`, red for a refusal the user can act on.
fn back(state: &WebState, jar: CookieJar, to: &str, result: Result<String>) -> Result<Response> {
    let jar = match result {
        Ok(text) => set_flash(jar, &state.edge, false, &text),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            set_flash(jar, &state.edge, true, &sentence(&e.to_string()))
        }
        Err(e) => return Err(e),
    };
    Ok((jar, Redirect::to(to)).into_response())
}

pub async fn rollback(
    State(state): State<WebState>,
    access: TemplateAccess,
    jar: CookieJar,
    Form(form): Form<VersionForm>,
) -> Result<Response> {
    let t = &access.template;
    let result = match parse_version(&form.version) {
        Ok(n) => state
            .templates
            .rollback(&access.auth.user, t, n)
            .await
            .map(|v| {
                format!(
                    "Rolled back: version {} has the text of version {n}.",
                    v.version
                )
            }),
        Err(e) => Err(e),
    };
    back(&state, jar, &template_url(t), result)
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    version: String,
}

pub async fn set_label(
    State(state): State<WebState>,
    access: TemplateAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<LabelForm>,
) -> Result<Response> {
    let t = &access.template;
    let result = match parse_version(&form.version) {
        Ok(n) => state
            .templates
            .set_label(
                &access.auth.user,
                t,
                &form.label,
                n,
                production(&access),
                Some(client.ip),
            )
            .await
            .map(|_| {
                format!(
                    "Label {} now points at version {n}.",
                    form.label.trim().to_lowercase()
                )
            }),
        Err(e) => Err(e),
    };
    back(&state, jar, &template_url(t), result)
}

pub async fn delete_label(
    State(state): State<WebState>,
    access: TemplateAccess,
    client: ClientInfo,
    jar: CookieJar,
    Path((_, label)): Path<(String, String)>,
) -> Result<Response> {
    let t = &access.template;
    let result = state
        .templates
        .remove_label(
            &access.auth.user,
            t,
            &label,
            production(&access),
            Some(client.ip),
        )
        .await
        .map(|_| format!("Removed the label {label}."));
    back(&state, jar, &template_url(t), result)
}

#[derive(Deserialize)]
pub struct WorkspaceForm {
    #[serde(default)]
    workspace: String,
}

/// Whether the caller may move `production` on this template.
fn production(access: &TemplateAccess) -> ProductionAllowed {
    ProductionAllowed(access.authorize(Action::LabelProduction).is_ok())
}

/// The target workspace of a copy or move: the actor must be able to edit templates there (a
/// workspace they are not in is `NotFound`); also whether they may bring `production` there.
async fn target(
    state: &WebState,
    access: &TemplateAccess,
    raw: &str,
) -> Result<(WorkspaceId, ProductionAllowed)> {
    let id: WorkspaceId = raw.trim().parse().map_err(|_| Error::NotFound)?;
    let user = &access.auth.user;
    let role = state
        .auth
        .store()
        .find_member(id, user.id)
        .await?
        .map(|m| m.role);
    let actor = Actor::User(user);
    authorize(actor, Action::EditTemplates, Resource::Workspace(role))?;
    let production = authorize(actor, Action::LabelProduction, Resource::Workspace(role)).is_ok();
    Ok((id, ProductionAllowed(production)))
}

pub async fn duplicate(
    State(state): State<WebState>,
    access: TemplateAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<WorkspaceForm>,
) -> Result<Response> {
    let (to, _) = target(&state, &access, &form.workspace).await?;
    let copy = state
        .templates
        .duplicate(&access.auth.user, &access.template, to, Some(client.ip))
        .await?;
    back(
        &state,
        jar,
        &template_url(&copy),
        Ok(format!("Created {}.", copy.name)),
    )
}

pub async fn move_template(
    State(state): State<WebState>,
    access: TemplateAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<WorkspaceForm>,
) -> Result<Response> {
    let (to, production) = target(&state, &access, &form.workspace).await?;
    let result = state
        .templates
        .move_to(
            &access.auth.user,
            &access.template,
            to,
            production,
            Some(client.ip),
        )
        .await
        .map(|_| "Moved.".to_owned());
    back(&state, jar, &template_url(&access.template), result)
}

pub async fn delete(
    State(state): State<WebState>,
    access: TemplateAccess,
    client: ClientInfo,
    jar: CookieJar,
) -> Result<Response> {
    let t = &access.template;
    state
        .templates
        .delete(&access.auth.user, t, Some(client.ip))
        .await?;
    let to = match t.workspace_id {
        Some(ws) => paths::ws(paths::WS_TEMPLATES, ws),
        None => paths::HOME.to_owned(),
    };
    back(&state, jar, &to, Ok(format!("Deleted {}.", t.name)))
}

pub async fn export(State(state): State<WebState>, access: TemplateAccess) -> Result<Response> {
    let t = &access.template;
    let doc = state.templates.export(std::slice::from_ref(t)).await?;
    Ok(json_download(&doc, &format!("{}.json", slug(&t.name))))
}
