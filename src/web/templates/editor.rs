//! The template editor: new templates (workspace and system), new versions, and the live
//! preview the editor's script asks for as the user types.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::form::{TemplateForm, VarRow};
use crate::auth::ClientInfo;
use crate::domain::template_chat::MessageRole;
use crate::domain::variables::{VarKind, render_all, undeclared};
use crate::domain::{Template, TemplateContent};
use crate::error::{Error, Result};
use crate::http::assets::asset_url;
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, MultiForm};
use crate::http::routes::{TemplateAccess, WorkspaceAccess};
use crate::web::views::{Nav, form_errors, layout, sentence};
use crate::web::{PageCtx, WebState, paths};

const KINDS: [(&str, &str); 5] = [
    ("string", "Short text"),
    ("text", "Long text"),
    ("number", "Number"),
    ("boolean", "Yes / no"),
    ("enum", "Choice"),
];

fn var_row(row: &VarRow) -> Markup {
    // Each control sits in its own visible label (and is named by the same words alone, not
    // with the value of the control inside the label); the row wraps, so nothing is cut.
    // Choices matter only for the Choice type (the editor script hides them otherwise).
    html! {
        div.var-row {
            label.var-cell { span { "Variable" } input name="var_name" value=(row.name) placeholder="e.g. topic" pattern="[A-Za-z_][A-Za-z0-9_]{0,63}" aria-label="Variable"; }
            label.var-cell {
                span { "Type" }
                select name="var_type" aria-label="Type" {
                    @for (value, label) in KINDS {
                        option value=(value) selected[row.kind == value] { (label) }
                    }
                }
            }
            label.var-cell {
                span { "Required" }
                select name="var_required" aria-label="Required" {
                    option value="no" selected[!row.required] { "Optional" }
                    option value="yes" selected[row.required] { "Required" }
                }
            }
            label.var-cell { span { "Default" } input name="var_default" value=(row.default) aria-label="Default"; }
            button.button.small.ghost.var-remove type="button" data-remove-row aria-label="Remove variable" { "✕" }
            label.var-cell.var-choices { span { "Choices (one per line)" } textarea name="var_choices" rows="2" aria-label="Choices (one per line)" { (row.choices) } }
            label.var-cell.var-description { span { "Help text" } input name="var_description" value=(row.description) aria-label="Help text"; }
        }
    }
}

fn text_field(name: &str, label: &str, value: &str, error: Option<&Error>) -> Markup {
    crate::web::views::optional_field(name, label, value, error)
}

/// The editor page body.
pub fn editor(form: &TemplateForm, error: Option<&Error>, action: &str, cancel: &str) -> Markup {
    let rows = form.rows();
    let content = form.content().ok();
    let texts: Vec<&str> = match &content {
        Some(c) => c.texts(),
        None => vec![
            form.system_prompt.as_str(),
            form.user_prompt_template.as_str(),
        ],
    };
    let defs: Vec<_> = content
        .as_ref()
        .map(|c| c.variables.clone())
        .unwrap_or_default();
    let missing = undeclared(&texts, &defs);
    let invalid = |f: &str| error.and_then(Error::field) == Some(f);
    let chat_invalid = error.and_then(Error::field).is_some_and(|f| {
        f == "chat"
            || f.starts_with("messages")
            || f.starts_with("tools")
            || f.starts_with("response_schema")
    });
    html! {
        (form_errors(error))
        form #editor.editor method="post" action=(action) data-preview=(paths::PREVIEW) {
            input type="hidden" name="base_version" value=(form.base_version);
            div.editor-grid {
                div.editor-main {
                    (crate::web::views::field("name", "Name", "text", &form.name, "off", error))
                    div.field {
                        label for="description" { "Description" }
                        textarea #description name="description" rows="2" { (form.description) }
                    }
                    (text_field("tags", "Tags (comma-separated)", &form.tags, error))
                    div.field {
                        label for="system_prompt" { "System prompt" }
                        textarea #system_prompt.code name="system_prompt" rows="6" aria-invalid=[invalid("system_prompt").then_some("true")] { (form.system_prompt) }
                    }
                    div.field {
                        label for="user_prompt_template" { "User prompt" }
                        textarea #user_prompt_template.code name="user_prompt_template" rows="10" aria-invalid=[invalid("user_prompt_template").then_some("true")] { (form.user_prompt_template) }
                        p.hint { "Use " code { "{{name}}" } " for a variable; write " code { "\\{{" } " for literal braces." }
                    }
                    fieldset.variables {
                        legend { "Variables" }
                        div #undeclared.undeclared role="status" {
                            @if !missing.is_empty() {
                                "Used but not declared: "
                                @for name in &missing {
                                    button.button.small type="button" data-declare=(name) { "Declare " (name) }
                                    " "
                                }
                            }
                        }
                        div.var-rows #var-rows {
                            @for row in &rows { (var_row(row)) }
                            // Offer undeclared variables as prefilled rows, so it works without script too.
                            @for name in &missing {
                                (var_row(&VarRow { name: name.clone(), kind: "string".into(), required: true, ..VarRow::default() }))
                            }
                            (var_row(&VarRow::default()))
                        }
                        template #var-row-template { (var_row(&VarRow::default())) }
                        button.button.small type="button" #add-var { "Add variable" }
                    }
                    div.field-row {
                        (text_field("model", "Model", &form.model, error))
                        (text_field("temperature", "Temperature", &form.temperature, error))
                        (text_field("max_tokens", "Max tokens", &form.max_tokens, error))
                    }
                    details.field #chat-parts open[!form.chat.is_empty() || chat_invalid] {
                        summary { "Messages, tools and response schema (JSON)" }
                        label.sr-only for="chat" { "Messages, tools and response schema as JSON" }
                        textarea #chat.code name="chat" rows="12" spellcheck="false" aria-invalid=[chat_invalid.then_some("true")] { (form.chat) }
                        p.hint {
                            "A JSON object with any of: " code { "messages" } " (a list of " code { "{\"role\": \"system\", \"content\": \"…\"}" }
                            " with roles system, user, assistant, or placeholder where a caller's conversation goes; with messages, leave the system and user prompt empty), "
                            code { "tools" } " (" code { "{\"name\", \"description\", \"parameters\"}" } " with a JSON Schema), "
                            code { "response_schema" } " (" code { "{\"name\", \"schema\", \"strict\"}" } ") and "
                            code { "params" } " (top_p, seed, stop, frequency_penalty, presence_penalty, reasoning_effort). Schemas are checked against the JSON Schema meta-schema when you save."
                        }
                    }
                    (text_field("message", "What changed (optional)", &form.message, error))
                    div.actions {
                        button.button.primary type="submit" { "Save version" }
                        a.button href=(cancel) { "Cancel" }
                    }
                }
                @let (sys, usr) = preview(form);
                aside.editor-preview aria-labelledby="preview-h" {
                    h2 #preview-h { "Preview" }
                    p.muted.small { "Variables show their default or their name until you run the template." }
                    h3 { "System" }
                    pre #preview-system.preview { (sys) }
                    h3 { "User" }
                    pre #preview-user.preview { (usr) }
                }
            }
        }
        script type="module" src=(asset_url("editor.js")) {}
    }
}

/// The prompts with each variable replaced by its default, else `⟨name⟩`.
fn preview(form: &TemplateForm) -> (String, String) {
    let texts = [
        form.system_prompt.as_str(),
        form.user_prompt_template.as_str(),
    ];
    let mut values = Map::new();
    let mut defs = form.content().map(|c| c.variables).unwrap_or_default();
    for d in &mut defs {
        let shown = match &d.default {
            Some(Value::String(s)) => s.clone(),
            Some(v) if !v.is_null() => v.to_string(),
            _ => format!("⟨{}⟩", d.name),
        };
        values.insert(d.name.clone(), Value::String(shown));
        d.kind = VarKind::Text;
        d.default = None;
        d.required = false;
    }
    for name in undeclared(&texts, &defs) {
        values.insert(name.clone(), Value::String(format!("⟨{name}⟩")));
    }
    match render_all(&texts, &defs, &values) {
        Ok(mut out) => {
            let user = out.pop().unwrap_or_default();
            (out.pop().unwrap_or_default(), user)
        }
        Err(e) => (String::new(), sentence(&e.to_string())),
    }
}

/// `POST /preview`: the editor's live preview and undeclared variables, as JSON.
pub async fn preview_json(MultiForm(form): MultiForm<TemplateForm>) -> JsonResponse<Value> {
    let (system, user) = preview(&form);
    let texts = [
        form.system_prompt.as_str(),
        form.user_prompt_template.as_str(),
    ];
    let defs = form.content().map(|c| c.variables).unwrap_or_default();
    JsonResponse(json!({
        "system_prompt": system,
        "user_prompt": user,
        "undeclared": undeclared(&texts, &defs),
    }))
}

fn editor_page(ctx: &PageCtx, title: &str, body: Markup) -> Markup {
    layout(ctx, title, Nav::Templates, html! { h1 { (title) } (body) })
}

pub async fn new_page(ctx: PageCtx, access: WorkspaceAccess) -> Markup {
    let ws = access.workspace.id;
    let body = editor(
        &TemplateForm::default(),
        None,
        &paths::ws(paths::WS_TEMPLATES, ws),
        &paths::ws(paths::WS_TEMPLATES, ws),
    );
    editor_page(&ctx, "New template", body)
}

pub async fn system_new_page(ctx: PageCtx) -> Markup {
    let body = editor(
        &TemplateForm::default(),
        None,
        paths::SYSTEM_TEMPLATES,
        paths::HOME,
    );
    editor_page(&ctx, "New system template", body)
}

async fn create_in(
    state: &WebState,
    ctx: &PageCtx,
    user: &crate::domain::User,
    (ws, action): (Option<crate::domain::WorkspaceId>, &str),
    client: ClientInfo,
    jar: CookieJar,
    form: TemplateForm,
) -> Result<Response> {
    let result = match form.content() {
        Ok(content) => {
            state
                .templates
                .create(user, ws, content, &form.message, Some(client.ip))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((t, _)) => {
            let jar = set_flash(
                jar,
                &state.edge,
                false,
                &format!("Created {} (version 1).", t.name),
            );
            Ok((jar, Redirect::to(&template_url(&t))).into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let body = editor(
                &form,
                Some(&e),
                action,
                if ws.is_some() { action } else { paths::HOME },
            );
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                editor_page(ctx, "New template", body),
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

pub async fn create(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    MultiForm(form): MultiForm<TemplateForm>,
) -> Result<Response> {
    let action = paths::ws(paths::WS_TEMPLATES, access.workspace.id);
    let ws = Some(access.workspace.id);
    create_in(
        &state,
        &ctx,
        &access.auth.user,
        (ws, &action),
        client,
        jar,
        form,
    )
    .await
}

pub async fn system_create(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    MultiForm(form): MultiForm<TemplateForm>,
) -> Result<Response> {
    create_in(
        &state,
        &ctx,
        &auth.user,
        (None, paths::SYSTEM_TEMPLATES),
        client,
        jar,
        form,
    )
    .await
}

/// The page of a template.
pub fn template_url(t: &Template) -> String {
    paths::with_id(paths::TEMPLATE, t.id)
}

pub async fn edit_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: TemplateAccess,
) -> Result<Markup> {
    let t = &access.template;
    let latest = state.templates.version(t, None).await?;
    let form = TemplateForm::from_content(&latest.content, Some(latest.version));
    let body = editor(
        &form,
        None,
        &paths::with_id(paths::TEMPLATE_VERSIONS, t.id),
        &template_url(t),
    );
    Ok(editor_page(&ctx, &format!("Edit {}", t.name), body))
}

pub async fn save(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: TemplateAccess,
    jar: CookieJar,
    MultiForm(form): MultiForm<TemplateForm>,
) -> Result<Response> {
    let t = &access.template;
    let result = match (form.content(), form.base_version()) {
        (Ok(content), Ok(base)) => {
            state
                .templates
                .save(&access.auth.user, t, base, content, &form.message)
                .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(v) => {
            let jar = set_flash(
                jar,
                &state.edge,
                false,
                &format!("Saved version {}.", v.version),
            );
            Ok((jar, Redirect::to(&template_url(t))).into_response())
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            let status = crate::http::error::status_of(&e);
            let action = paths::with_id(paths::TEMPLATE_VERSIONS, t.id);
            let body = editor(&form, Some(&e), &action, &template_url(t));
            Ok((status, editor_page(&ctx, &format!("Edit {}", t.name), body)).into_response())
        }
        Err(e) => Err(e),
    }
}

/// The content of a template version in a read-only block.
pub fn content_view(c: &TemplateContent) -> Markup {
    html! {
        @if c.chat.messages.is_empty() {
            @if !c.system_prompt.is_empty() {
                h3 { "System prompt" }
                pre.prompt { (c.system_prompt) }
            }
            h3 { "User prompt" }
            pre.prompt { (c.user_prompt_template) }
        } @else {
            ol.template-messages #template-messages {
                @for m in &c.chat.messages {
                    li {
                        span.badge { (m.role.as_str()) }
                        @if m.role == MessageRole::Placeholder {
                            " " span.muted { "the caller's conversation goes here (" code { (m.content) } ")" }
                        } @else {
                            pre.prompt { (m.content) }
                        }
                    }
                }
            }
        }
        @if !c.chat.tools.is_empty() {
            h3 { "Tools" }
            @for t in &c.chat.tools {
                details.tool-def {
                    summary { code { (t.name) } @if !t.description.is_empty() { " · " (t.description) } }
                    pre.prompt { (serde_json::to_string_pretty(&t.parameters).unwrap_or_default()) }
                }
            }
        }
        @if let Some(r) = &c.chat.response_schema {
            h3 { "Response schema" }
            details.tool-def #template-schema {
                summary { code { (r.name) } @if r.strict { " · strict" } }
                pre.prompt { (serde_json::to_string_pretty(&r.schema).unwrap_or_default()) }
            }
        }
        @if !c.chat.params.is_empty() {
            h3 { "Parameters" }
            pre.prompt { (serde_json::to_string_pretty(&c.chat.params).unwrap_or_default()) }
        }
        @if c.model != crate::domain::ModelDefaults::default() {
            h3 { "Model defaults" }
            dl.facts #model-defaults {
                @if let Some(m) = &c.model.model { dt { "Model" } dd { code { (m) } } }
                @if let Some(t) = c.model.temperature { dt { "Temperature" } dd { (t) } }
                @if let Some(n) = c.model.max_tokens { dt { "Max tokens" } dd { (n) } }
            }
        }
    }
}
