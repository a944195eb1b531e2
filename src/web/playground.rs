//! The playground: run a template or a blank prompt on one to four models side by side,
//! streaming; stop; save the prompt as a new template version; open a past run and run it again.
//!
//! The page posts one request per model to `/w/{ws}/playground/run` and reads the answer as
//! newline-delimited JSON events while it streams. Closing the request (Stop, or leaving the
//! page) drops the server's stream, which aborts the upstream call and records the run as
//! cancelled.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use futures_util::StreamExt;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::views::{Nav, layout, when};
use super::{PageCtx, WebState, paths};
use crate::auth::Action;
use crate::domain::json_schema::check_schema;
use crate::domain::template_chat::{MessageRole, ResponseSchema, TemplateTool, is_name};
use crate::domain::variables::VarKind;
use crate::domain::{
    CommunityPromptId, ContextFile, Role, RunId, TemplateContent, TemplateId, validate_manifest,
};
use crate::error::{Error, Result};
use crate::gateway::RunRequest;
use crate::http::assets::{asset_url, module_url};
use crate::http::cookies::set_flash;
use crate::http::extract::{Form, Path, Query};
use crate::http::routes::{Permission, Routes, WorkspaceAccess};
use crate::llm::chat::{
    ChatMessage, ChatRequest, ChatRole, Content, IMAGE_TYPES, ImageUrl, JsonSchemaFormat, Part,
    ResponseFormat, Tool,
};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let view = Permission::Workspace(Action::ViewTemplates);
    r.get(paths::WS_PLAYGROUND, view, page)
        .post(paths::WS_PLAYGROUND_RUN, view, run)
        .post(
            paths::WS_PLAYGROUND_SAVE,
            Permission::Workspace(Action::EditTemplates),
            save,
        )
        .get(paths::WS_RUN, view, run_page)
        .post(paths::WS_RUN_DELETE, view, delete_run)
}

/// Most models run side by side.
const MAX_MODELS: usize = 4;

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    template: String,
    #[serde(default)]
    run: String,
    #[serde(default)]
    community: String,
}

/// A template this workspace may use: its own or a system one.
async fn usable_template(
    state: &WebState,
    access: &WorkspaceAccess,
    id: TemplateId,
) -> Result<crate::domain::Template> {
    let t = state.auth.store().get_template(id).await?;
    match t.workspace_id {
        None => Ok(t),
        Some(ws) if ws == access.workspace.id => Ok(t),
        Some(_) => Err(Error::NotFound),
    }
}

async fn page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Query(q): Query<PageQuery>,
) -> Result<Markup> {
    let ws = &access.workspace;
    let store = state.auth.store();
    let cache_on = state.gateway.settings(ws.id).await?.cache_ttl_secs > 0;
    let mut templates = store.list_templates(Some(ws.id)).await?;
    templates.extend(store.list_templates(None).await?);
    let chosen = match q.template.parse::<TemplateId>() {
        Ok(id) => Some(usable_template(&state, &access, id).await?),
        Err(_) => None,
    };
    let content = match &chosen {
        Some(t) => Some(state.templates.version(t, None).await?),
        None => None,
    };
    // "Run in playground" from the community library: its content, like a template's.
    let community = match q.community.parse::<CommunityPromptId>() {
        Ok(id) => {
            let viewer = state.community.standing(&access.auth.user).await?;
            Some(state.community.get(&viewer, id).await?)
        }
        Err(_) => None,
    };
    let shown: Option<&TemplateContent> = content
        .as_ref()
        .map(|v| &v.content)
        .or(community.as_ref().map(|p| &p.content));
    // "Run again": a past run of this workspace prefills the prompt and model.
    let past = match q.run.parse::<RunId>() {
        Ok(id) => {
            let run = store.get_run(id).await?;
            (run.workspace_id == ws.id).then_some(run)
        }
        Err(_) => None,
    };
    let (mut system, mut user) = match shown {
        Some(c) if !c.chat.messages.is_empty() => {
            let list = c.message_list();
            let of = |role| {
                list.iter()
                    .filter(|m| m.role == role)
                    .map(|m| m.content.as_str())
                    .collect::<Vec<_>>()
            };
            (
                of(MessageRole::System).join("\n\n"),
                of(MessageRole::User)
                    .last()
                    .copied()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
        Some(c) => (c.system_prompt.clone(), c.user_prompt_template.clone()),
        None => (String::new(), String::new()),
    };
    if let Some(run) = &past
        && let Ok(messages) = serde_json::from_str::<Vec<ChatMessage>>(&run.prompt)
    {
        system = messages
            .iter()
            .filter(|m| m.role == ChatRole::System)
            .map(|m| m.content.text())
            .collect::<Vec<_>>()
            .join("\n");
        user = messages
            .iter()
            .filter(|m| m.role != ChatRole::System)
            .map(|m| m.content.text())
            .collect::<Vec<_>>()
            .join("\n");
    }
    let mut models: Vec<(String, String)> = Vec::new();
    let mut windows: std::collections::HashMap<String, u32> = Default::default();
    let usable = state.providers.usable(ws.id).await?;
    // Connections that exist but list no model yet: say which, rather than "add one".
    let without_models: Vec<String> = usable
        .iter()
        .filter(|c| c.models.is_empty())
        .map(|c| c.name.clone())
        .collect();
    for c in usable {
        for m in &c.models {
            if !models.iter().any(|(id, _)| id == m) {
                models.push((m.clone(), c.name.clone()));
                if let Some(w) = state.gateway.context_window(c.kind.as_str(), m) {
                    windows.insert(m.clone(), w);
                }
            }
        }
    }
    let preselected: Vec<String> = match (&past, shown) {
        (Some(run), _) => vec![run.model.clone()],
        (None, Some(c)) => c
            .model
            .model
            .iter()
            .chain(community.iter().flat_map(|p| p.models.iter()))
            .filter(|m| models.iter().any(|(id, _)| id == *m))
            .take(1)
            .cloned()
            .collect(),
        _ => models
            .first()
            .map(|(m, _)| vec![m.clone()])
            .unwrap_or_default(),
    };
    let can_save = access.role >= Role::Editor && chosen.as_ref().is_some_and(|t| !t.is_system());
    // The template's tools (in OpenAI's shape) and schema prefill their panels.
    let tools_json = shown
        .filter(|c| !c.chat.tools.is_empty())
        .map(|c| {
            let list: Vec<Value> = c
                .chat
                .tools
                .iter()
                .map(|t| {
                    let mut f = serde_json::json!({"name": t.name, "parameters": t.parameters});
                    if !t.description.is_empty() {
                        f["description"] = serde_json::json!(t.description);
                    }
                    serde_json::json!({"type": "function", "function": f})
                })
                .collect();
            serde_json::to_string_pretty(&list).unwrap_or_default()
        })
        .unwrap_or_default();
    let schema_json = shown
        .and_then(|c| c.chat.response_schema.as_ref())
        .map(|r| serde_json::to_string_pretty(&r.schema).unwrap_or_default())
        .unwrap_or_default();
    let has_messages = shown.is_some_and(|c| !c.chat.messages.is_empty());
    let here = paths::ws(paths::WS_PLAYGROUND, ws.id);
    let body = html! {
        div.page-head {
            h1 { "Playground" }
            form.inline method="get" action=(here) {
                label for="template" { "Start from" }
                select #template name="template" {
                    option value="" { "A blank prompt" }
                    @for t in &templates {
                        option value=(t.id) selected[chosen.as_ref().is_some_and(|c| c.id == t.id)] {
                            (t.name) @if t.is_system() { " (system)" }
                        }
                    }
                }
                button.button.small type="submit" { "Load" }
            }
            a.button.small href=(paths::ws(paths::WS_HISTORY, ws.id)) { "Run history" }
        }
        @if models.is_empty() {
            div.flash.flash-error role="alert" {
                @if without_models.is_empty() {
                    "No model is available yet. "
                    @if access.role >= Role::Admin { a href=(paths::ws(paths::WS_PROVIDERS, ws.id)) { "Add a provider connection" } " or ask an instance admin." }
                    @else { "Ask an admin to add a provider connection." }
                } @else {
                    "No model is available yet: " (without_models.join(", ")) " lists no models. "
                    @if access.auth.user.is_admin() {
                        a href=(paths::ADMIN_PROVIDERS) { "Open Provider connections" } " and press Discover models, or name them under Edit."
                    } @else if access.role >= Role::Admin {
                        a href=(paths::ws(paths::WS_PROVIDERS, ws.id)) { "Open Provider connections" } " and press Discover models, or name them under Edit."
                    } @else { "Ask an admin to discover its models." }
                }
            }
        }
        form #playground.playground data-run=(paths::ws(paths::WS_PLAYGROUND_RUN, ws.id)) {
            @if let (Some(t), Some(v)) = (&chosen, &content) {
                input type="hidden" name="template_id" value=(t.id);
                input type="hidden" name="template_version" value=(v.version);
            }
            @if let Some(p) = &community {
                input type="hidden" name="community_id" value=(p.id);
            }
            div.grid-2 {
                div.stack {
                    @if shown.is_some() {
                        div.prompt-source #prompt-source {
                            span.badge #prompt-lock { "Read-only" }
                            @if let (Some(t), Some(v)) = (&chosen, &content) {
                                span { "From " a href=(paths::with_id(paths::TEMPLATE, t.id)) { (t.name) } " version " (v.version) "; fill its variables on the right." }
                            }
                            @if let Some(p) = &community {
                                span { "From the community prompt " a href=(format!("/community/p/{}", p.id)) { (p.content.name) } "; fill its variables on the right." }
                            }
                            @if !has_messages {
                                button.button.small #edit-prompts type="button" { "Edit" }
                            }
                        }
                    }
                    div.field {
                        label for="system_prompt" { "System prompt" }
                        textarea #system_prompt.code name="system_prompt" rows="4" readonly[shown.is_some()] { (system) }
                    }
                    div.field {
                        label for="user_prompt" { "User prompt" }
                        textarea #user_prompt.code name="user_prompt" rows="8" readonly[shown.is_some()] { (user) }
                        @if has_messages { p.hint { "This template has a message list; the text above is its last user message. Edit the list on the template's page." } }
                        p.hint #edited-hint hidden { "Edited here: runs use this text with the variables on the right. The template does not change unless you save a new version." }
                    }
                }
                div.stack {
                    @if let Some(c) = shown { (variables_form(c)) }
                    div #context-panel.context-panel {
                        div.check {
                            input #use-context type="checkbox" disabled;
                            label for="use-context" { "Include the folder context as " code { "{{context}}" } }
                        }
                        p #context-status.muted.small role="status" { "No context built in this browser yet." }
                        p.small { a href=(paths::CONTEXT) { "Open the context builder" } }
                    }
                    details.field #tools-panel open[!tools_json.is_empty()] {
                        summary { "Tools" }
                        label.sr-only for="tools" { "Tools as JSON" }
                        textarea #tools.code name="tools" rows="8" spellcheck="false" placeholder="[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]" { (tools_json) }
                        p #tools-status.small.muted role="status" { "A JSON list of tools in OpenAI's format; the model's calls appear as cards you can answer." }
                    }
                    details.field #schema-panel open[!schema_json.is_empty()] {
                        summary { "Response schema" }
                        label.sr-only for="response-schema" { "Response JSON Schema" }
                        textarea #response-schema.code name="response_schema" rows="8" spellcheck="false" placeholder="{\"type\": \"object\", \"properties\": {\"answer\": {\"type\": \"string\"}}, \"required\": [\"answer\"]}" { (schema_json) }
                        p #schema-status.small.muted role="status" { "A JSON Schema the answer must follow; answers are checked against it." }
                    }
                    div.field {
                        label for="images" { "Images (for vision models)" }
                        input #images type="file" accept="image/png,image/jpeg,image/gif,image/webp" multiple;
                        p.hint { "Up to " (MAX_IMAGES) " images of at most " (MAX_IMAGE_BYTES / (1024 * 1024)) " MiB, sent with the prompt." }
                        div #image-thumbs.thumbs {}
                    }
                    fieldset.models {
                        legend { "Models (up to " (MAX_MODELS) ")" }
                        @for (m, conn) in &models {
                            div.check {
                                input id=(format!("m-{m}")) type="checkbox" name="model" value=(m) checked[preselected.contains(m)] data-window=[windows.get(m)];
                                label for=(format!("m-{m}")) { (m) " " span.muted.small { "(" (conn) ")" } }
                            }
                        }
                    }
                    div.field-row {
                        div.field { label for="temperature" { "Temperature" } input #temperature name="temperature" type="number" step="0.1" min="0" max="2" value=(shown.and_then(|c| c.model.temperature).map(|t| t.to_string()).unwrap_or_default()); }
                        div.field { label for="max_tokens" { "Max tokens" } input #max_tokens name="max_tokens" type="number" min="1" value=(shown.and_then(|c| c.model.max_tokens).map(|t| t.to_string()).unwrap_or_default()); }
                    }
                    @if cache_on {
                        div.check { input #use_cache type="checkbox" name="use_cache" value="on"; label for="use_cache" { "Answer from the response cache when this exact prompt was answered before (no cost)" } }
                    }
                    div.actions {
                        button.button.primary #run type="submit" { "Run" }
                        button.button #stop type="button" disabled { "Stop" }
                    }
                    p #run-error.field-error role="alert" {}
                }
            }
        }
        div #columns.columns {}
        @if can_save {
            @if let (Some(t), Some(v)) = (&chosen, &content) {
                @if !has_messages {
                    section.panel #save-version hidden aria-labelledby="save-version-h" {
                        h2 #save-version-h { "Save as a new version of " (t.name) }
                        form.stack method="post" action=(paths::ws(paths::WS_PLAYGROUND_SAVE, ws.id)) {
                            input type="hidden" name="template_id" value=(t.id);
                            input type="hidden" name="base_version" value=(v.version);
                            input #save-system type="hidden" name="system_prompt" value=(v.content.system_prompt);
                            input #save-user type="hidden" name="user_prompt_template" value=(v.content.user_prompt_template);
                            input #save-tools type="hidden" name="tools" value=(tools_json);
                            input #save-schema type="hidden" name="response_schema" value=(schema_json);
                            p.hint { "Saves the prompts as you edited them above, with the tools and response schema from their panels." }
                            div.field { label for="save-message" { "What changed" } input #save-message name="message" type="text"; }
                            button.button.primary type="submit" { "Save new version" }
                        }
                    }
                }
            }
        }
        script type="module" src=(module_url("context/attach.js")) {}
        script type="module" src=(asset_url("playground.js")) {}
    };
    Ok(layout(&ctx, "Playground", Nav::Playground, body))
}

fn variables_form(c: &TemplateContent) -> Markup {
    html! {
        fieldset.variables {
            legend { "Variables" }
            @if c.variables.is_empty() { p.muted { "This template has no variables." } }
            @for var in &c.variables {
                @let id = format!("var-{}", var.name);
                @let value = match &var.default { Some(Value::String(s)) => s.clone(), Some(Value::Null) | None => String::new(), Some(v) => v.to_string() };
                div.field {
                    label for=(id) { (var.name) @if var.required { " *" } }
                    @match &var.kind {
                        VarKind::Text => textarea id=(id) data-var=(var.name) rows="3" { (value) },
                        VarKind::Enum { choices } => select id=(id) data-var=(var.name) {
                            option value="" { "(choose)" }
                            @for ch in choices { option value=(ch) selected[*ch == value] { (ch) } }
                        },
                        VarKind::Boolean => select id=(id) data-var=(var.name) {
                            option value="" { "(not set)" }
                            option value="true" selected[value == "true"] { "Yes" }
                            option value="false" selected[value == "false"] { "No" }
                        },
                        _ => input id=(id) data-var=(var.name) type="text" value=(value);,
                    }
                    @if !var.description.is_empty() { p.hint { (var.description) } }
                    @if var.name == "context" { p.hint { "Left empty, it takes the folder context built in this browser (when included)." } }
                }
            }
        }
    }
}

/// What the page posts for one model.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    model: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    user_prompt: String,
    #[serde(default)]
    template_id: Option<TemplateId>,
    #[serde(default)]
    template_version: Option<u32>,
    /// The template's (or community prompt's) prompts were unlocked and edited on the page: the
    /// posted text runs with its variables, and the run is not recorded as that version's.
    #[serde(default)]
    edited: bool,
    #[serde(default)]
    community_id: Option<CommunityPromptId>,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    use_cache: bool,
    /// A folder context built in the browser, given to the prompt as `{{context}}`.
    #[serde(default)]
    context: Option<String>,
    /// What the context holds (paths, sizes, hashes, tokens), kept with the run.
    #[serde(default)]
    context_manifest: Option<Vec<ContextFile>>,
    /// The conversation after the prompt: answers, tool results and further user turns.
    #[serde(default)]
    conversation: Vec<ChatMessage>,
    /// Tools in OpenAI's shape (replace a template's when given).
    #[serde(default)]
    tools: Option<Vec<Value>>,
    /// The JSON Schema the answer must follow (replaces a template's when given).
    #[serde(default)]
    response_schema: Option<Value>,
    /// Images attached to the prompt, as data URLs.
    #[serde(default)]
    images: Vec<String>,
}

/// The largest image the playground attaches (decoded bytes).
const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// The most images on one prompt.
const MAX_IMAGES: usize = 4;

/// What the playground's panels add to a request: tools, a response format, image parts.
type Extras = (Option<Vec<Tool>>, Option<ResponseFormat>, Vec<Part>);

/// The playground's tools, schema and images, checked; errors name the panel.
fn extras(body: &RunBody) -> Result<Extras> {
    let tools = match &body.tools {
        None => None,
        Some(list) => {
            let mut out: Vec<Tool> = Vec::with_capacity(list.len());
            for (i, raw) in list.iter().enumerate() {
                let tool: Tool = serde_json::from_value(raw.clone()).map_err(|e| {
                    Error::invalid(
                        "tools",
                        format!("tool {}: not a tool definition ({e})", i + 1),
                    )
                })?;
                let name = &tool.function.name;
                if !is_name(name) {
                    return Err(Error::invalid(
                        "tools",
                        format!("tool {}: a name has 1 to 64 letters, digits, _ or -", i + 1),
                    ));
                }
                if let Some(p) = &tool.function.parameters {
                    check_schema("tools", p)
                        .map_err(|e| Error::invalid("tools", format!("tool `{name}`: {e}")))?;
                }
                out.push(tool);
            }
            Some(out)
        }
    };
    let format = match &body.response_schema {
        None | Some(Value::Null) => None,
        Some(schema) => {
            check_schema("response_schema", schema)?;
            Some(ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: "response".into(),
                    description: None,
                    schema: Some(schema.clone()),
                    strict: None,
                },
            })
        }
    };
    if body.images.len() > MAX_IMAGES {
        return Err(Error::invalid(
            "images",
            format!("at most {MAX_IMAGES} images"),
        ));
    }
    let mut images = Vec::with_capacity(body.images.len());
    for url in &body.images {
        let ok = IMAGE_TYPES
            .iter()
            .any(|t| url.starts_with(&format!("data:{t};base64,")));
        if !ok {
            return Err(Error::invalid(
                "images",
                "attach PNG, JPEG, GIF or WebP images",
            ));
        }
        if url.len() / 4 * 3 > MAX_IMAGE_BYTES + 1024 {
            return Err(Error::invalid(
                "images",
                format!(
                    "an image has at most {} MiB",
                    MAX_IMAGE_BYTES / (1024 * 1024)
                ),
            ));
        }
        images.push(Part::ImageUrl {
            image_url: ImageUrl {
                url: url.clone(),
                detail: None,
            },
        });
    }
    Ok((tools, format, images))
}

/// Puts images into the last user message of `messages` (after its text).
fn attach_images(messages: &mut [ChatMessage], images: Vec<Part>) {
    if images.is_empty() {
        return;
    }
    if let Some(m) = messages.iter_mut().rev().find(|m| m.role == ChatRole::User) {
        let mut parts = vec![Part::Text {
            text: m.content.text(),
        }];
        parts.extend(images);
        m.content = Content::Parts(parts);
    }
}

/// Puts a folder context into a prompt: where `{{context}}` stands, or after the user prompt
/// when neither part has the placeholder.
fn with_context(system: String, user: String, context: &str) -> (String, String) {
    if has_placeholder(&system) || has_placeholder(&user) {
        return (put_context(&system, context), put_context(&user, context));
    }
    let user = if user.trim().is_empty() {
        context.to_owned()
    } else {
        format!("{user}\n\n{context}")
    };
    (system, user)
}

/// Where the next `{{context}}` (spaces allowed inside the braces) starts and ends in `s`.
fn placeholder(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{{").map(|i| from + i) {
        let rest = s[i + 2..].trim_start();
        if let Some(after) = rest.strip_prefix("context") {
            let after = after.trim_start();
            if after.starts_with("}}") {
                return Some((i, s.len() - after.len() + 2));
            }
        }
        from = i + 2;
    }
    None
}

fn has_placeholder(s: &str) -> bool {
    placeholder(s).is_some()
}

fn put_context(s: &str, context: &str) -> String {
    let mut out = String::with_capacity(s.len() + context.len());
    let mut rest = s;
    while let Some((a, b)) = placeholder(rest) {
        out.push_str(&rest[..a]);
        out.push_str(context);
        rest = &rest[b..];
    }
    out.push_str(rest);
    out
}

/// The template variables with the folder context as `context`, when the template declares it
/// and the user left it empty; whether it was used so.
fn context_variable(
    content: &TemplateContent,
    variables: &Map<String, Value>,
    context: Option<&str>,
) -> (Map<String, Value>, bool) {
    let mut vars = variables.clone();
    let declared = content.variables.iter().any(|v| v.name == "context");
    match context {
        Some(c) if declared && vars.get("context").is_none_or(|v| v.as_str() == Some("")) => {
            vars.insert("context".into(), Value::String(c.to_owned()));
            (vars, true)
        }
        _ => (vars, false),
    }
}

async fn run(
    State(state): State<WebState>,
    access: WorkspaceAccess,
    raw: axum::body::Body,
) -> Result<Response> {
    // Images make this body larger than a page's: up to the images' allowance.
    let limit = MAX_IMAGES * MAX_IMAGE_BYTES / 3 * 4 + 2 * 1024 * 1024;
    let bytes = axum::body::to_bytes(raw, limit)
        .await
        .map_err(|_| Error::TooLarge {
            limit_kib: limit / 1024,
        })?;
    let mut body: RunBody = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid("body", format!("the request is not valid: {e}")))?;
    let (tools, format, images) = extras(&body)?;
    let mut conversation = Some(std::mem::take(&mut body.conversation));
    let model = body.model.trim().to_owned();
    if model.is_empty() {
        return Err(Error::invalid("model", "choose a model"));
    }
    if let Some(t) = body.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(Error::invalid(
            "temperature",
            "temperature must be between 0 and 2",
        ));
    }
    if let Some(m) = &body.context_manifest {
        validate_manifest(m)?;
    }
    let context = body.context.as_deref().filter(|c| !c.is_empty());
    // Whether a template's own `context` variable took the folder context.
    let mut placed = false;
    // A template with a message list, tools or a schema runs as its own chat request.
    let mut chat_base: Option<ChatRequest> = None;
    let (system, user, template) = match body.template_id {
        Some(id) => {
            let t = usable_template(&state, &access, id).await?;
            let selector = body.template_version.map(|v| v.to_string());
            let v = state.templates.version(&t, selector.as_deref()).await?;
            let content = edited_content(&v.content, &body)?;
            let (vars, used) = context_variable(&content, &body.variables, context);
            placed = used;
            let rendered = crate::templates::render(&content, &vars)?;
            if !content.chat.is_empty() {
                chat_base = Some(crate::templates::chat_request(
                    &content,
                    &rendered,
                    model.clone(),
                    conversation.take().unwrap_or_default(),
                ));
            }
            let recorded = (!body.edited).then_some((t.id, v.version));
            (rendered.system_prompt, rendered.user_prompt, recorded)
        }
        None => match body.community_id {
            // A community prompt renders like a template and counts as a use of it.
            Some(id) => {
                let viewer = state.community.standing(&access.auth.user).await?;
                let p = state.community.get(&viewer, id).await?;
                let content = edited_content(&p.content, &body)?;
                let (vars, used) = context_variable(&content, &body.variables, context);
                placed = used;
                let rendered = crate::templates::render(&content, &vars)?;
                state.community.record_run(&viewer, id).await?;
                (rendered.system_prompt, rendered.user_prompt, None)
            }
            None => (body.system_prompt, body.user_prompt, None),
        },
    };
    let (system, user) = match context {
        Some(c) if !placed && chat_base.is_none() => with_context(system, user, c),
        _ => (system, user),
    };
    if let (Some(base), Some(c)) = (chat_base.as_mut(), context.filter(|_| !placed)) {
        // The folder context goes with the last user message.
        match base
            .messages
            .iter_mut()
            .rev()
            .find(|m| m.role == ChatRole::User)
        {
            Some(m) => {
                let (_, text) = with_context(String::new(), m.content.text(), c);
                m.content = crate::llm::chat::Content::Text(text);
            }
            None => base.messages.push(ChatMessage::text(ChatRole::User, c)),
        }
    }
    let manifest = match (context, body.context_manifest) {
        (Some(_), Some(m)) => Some(serde_json::to_value(m).map_err(Error::internal)?),
        _ => None,
    };
    let mut chat = match chat_base {
        Some(base) => ChatRequest {
            temperature: body.temperature,
            max_tokens: body.max_tokens,
            ..base
        },
        None => {
            if user.trim().is_empty() && system.trim().is_empty() {
                return Err(Error::invalid("user_prompt", "write a prompt first"));
            }
            let mut messages = Vec::new();
            if !system.trim().is_empty() {
                messages.push(ChatMessage::text(ChatRole::System, system));
            }
            messages.push(ChatMessage::text(ChatRole::User, user));
            ChatRequest {
                model,
                messages,
                temperature: body.temperature,
                max_tokens: body.max_tokens,
                ..ChatRequest::default()
            }
        }
    };
    attach_images(&mut chat.messages, images);
    if let Some(t) = tools {
        chat.tools = t;
    }
    if format.is_some() {
        chat.response_format = format;
    }
    // The conversation so far follows the prompt (or went at the template's placeholder).
    chat.messages
        .extend(conversation.take().unwrap_or_default());
    let req = RunRequest {
        workspace: access.workspace.id,
        user: access.auth.user.id,
        chat,
        template,
        context_manifest: manifest,
        api_key: None,
        allowed_models: Vec::new(),
        use_cache: body.use_cache,
        stream: true,
    };
    let admission = state.gateway.admit(&req).await?;
    let events = state.gateway.run(req, admission).await.map(|event| {
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(line))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(events),
    )
        .into_response())
}

/// A template's content as it runs: as stored, or with the prompts the user unlocked and edited
/// on the page. A message list is edited on the template's page, not here.
fn edited_content(stored: &TemplateContent, body: &RunBody) -> Result<TemplateContent> {
    if !body.edited {
        return Ok(stored.clone());
    }
    if !stored.chat.messages.is_empty() {
        return Err(Error::invalid(
            "user_prompt",
            "this template has a message list; edit it on the template's page",
        ));
    }
    Ok(TemplateContent {
        system_prompt: body.system_prompt.clone(),
        user_prompt_template: body.user_prompt.clone(),
        ..stored.clone()
    })
}

#[cfg(test)]
mod context_tests {
    use super::*;

    #[test]
    fn context_goes_where_the_placeholder_is_or_after_the_prompt() {
        let (s, u) = with_context("sys".into(), "Review {{ context }} now".into(), "CTX");
        assert_eq!((s.as_str(), u.as_str()), ("sys", "Review CTX now"));
        let (_, u) = with_context(String::new(), "{{context}}{{context}}".into(), "$1");
        assert_eq!(u, "$1$1");
        let (_, u) = with_context(String::new(), "Explain this".into(), "CTX");
        assert_eq!(u, "Explain this\n\nCTX");
        let (_, u) = with_context(String::new(), "{{ contexts }}".into(), "CTX");
        assert_eq!(u, "{{ contexts }}\n\nCTX");
    }
}

#[derive(Deserialize)]
struct SaveForm {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    base_version: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    user_prompt_template: String,
    #[serde(default)]
    message: String,
    /// The tools panel as JSON (OpenAI's shape); absent keeps the version's.
    #[serde(default)]
    tools: Option<String>,
    /// The response schema panel as JSON; absent keeps the version's, empty removes it.
    #[serde(default)]
    response_schema: Option<String>,
}

/// The playground's tools panel (OpenAI's shape) as template tools.
fn template_tools(json: &str) -> Result<Vec<TemplateTool>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<Tool> = serde_json::from_str(json).map_err(|e| {
        Error::invalid(
            "tools",
            format!("the tools are not a list of tool definitions: {e}"),
        )
    })?;
    Ok(list
        .into_iter()
        .map(|t| TemplateTool {
            name: t.function.name,
            description: t.function.description.unwrap_or_default(),
            parameters: t
                .function
                .parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            strict: t.function.strict,
        })
        .collect())
}

async fn save(
    State(state): State<WebState>,
    access: WorkspaceAccess,
    jar: CookieJar,
    Form(form): Form<SaveForm>,
) -> Result<Response> {
    let id: TemplateId = form.template_id.parse().map_err(|_| Error::NotFound)?;
    let t = state.auth.store().get_template(id).await?;
    if t.workspace_id != Some(access.workspace.id) {
        return Err(Error::NotFound);
    }
    let base: u32 = form
        .base_version
        .trim()
        .parse()
        .map_err(|_| Error::invalid("base_version", "reload the page"))?;
    let latest = state.templates.version(&t, Some(&base.to_string())).await?;
    let mut content = TemplateContent {
        system_prompt: form.system_prompt,
        user_prompt_template: form.user_prompt_template,
        ..latest.content
    };
    // The tools and schema as edited in the playground go with the prompt.
    if let Some(tools) = &form.tools {
        content.chat.tools = template_tools(tools)?;
    }
    if let Some(schema) = &form.response_schema {
        content.chat.response_schema = match schema.trim() {
            "" => None,
            json => Some(ResponseSchema {
                name: content
                    .chat
                    .response_schema
                    .as_ref()
                    .map_or_else(|| "response".to_owned(), |r| r.name.clone()),
                schema: serde_json::from_str(json).map_err(|e| {
                    Error::invalid("response_schema", format!("the schema is not JSON: {e}"))
                })?,
                strict: content
                    .chat
                    .response_schema
                    .as_ref()
                    .is_some_and(|r| r.strict),
            }),
        };
    }
    let to = format!(
        "{}?template={}",
        paths::ws(paths::WS_PLAYGROUND, access.workspace.id),
        t.id
    );
    let jar = match state
        .templates
        .save(&access.auth.user, &t, base, content, &form.message)
        .await
    {
        Ok(v) => set_flash(
            jar,
            &state.edge,
            false,
            &format!("Saved version {} of {}.", v.version, t.name),
        ),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => set_flash(
            jar,
            &state.edge,
            true,
            &super::views::sentence(&e.to_string()),
        ),
        Err(e) => return Err(e),
    };
    Ok((jar, Redirect::to(&to)).into_response())
}

/// Deletes a run: its own user's, or any for the workspace's admins and owners.
async fn delete_run(
    State(state): State<WebState>,
    access: WorkspaceAccess,
    jar: CookieJar,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response> {
    let run = workspace_run(&state, &access, &id).await?;
    if run.user_id != access.auth.user.id && access.role < Role::Admin {
        return Err(Error::Forbidden);
    }
    state
        .auth
        .store()
        .delete_run(
            run.id,
            crate::domain::NewAuditEvent::new(Some(access.auth.user.id), "run.delete")
                .target(run.id.to_string())
                .workspace(run.workspace_id),
        )
        .await?;
    let jar = set_flash(jar, &state.edge, false, "Deleted the run.");
    Ok((
        jar,
        Redirect::to(&paths::ws(paths::WS_HISTORY, access.workspace.id)),
    )
        .into_response())
}

/// The run `id` of the workspace in `access`; any other id is not found.
pub(super) async fn workspace_run(
    state: &WebState,
    access: &WorkspaceAccess,
    id: &str,
) -> Result<crate::domain::Run> {
    let id: RunId = id.parse().map_err(|_| Error::NotFound)?;
    let run = state.auth.store().get_run(id).await?;
    if run.workspace_id != access.workspace.id {
        return Err(Error::NotFound);
    }
    Ok(run)
}

async fn run_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Markup> {
    let run = workspace_run(&state, &access, &id).await?;
    let by = super::profile::Person::load(&state, run.user_id).await?;
    let messages: Vec<ChatMessage> = serde_json::from_str(&run.prompt).unwrap_or_default();
    let manifest: Option<Vec<ContextFile>> = run
        .context_manifest
        .as_ref()
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    let again = format!(
        "{}?run={}",
        paths::ws(paths::WS_PLAYGROUND, access.workspace.id),
        run.id
    );
    let body = html! {
        div.page-head {
            h1 { "Run of " (run.model) }
            div.actions {
                a.button.primary href=(again) { "Run again" }
                @if run.state == crate::domain::RunState::Completed && !run.output.is_empty() {
                    a.button href=(format!("{}?run={}", paths::COMMUNITY_NEW, run.id)) { "Share to community" }
                }
                @if run.user_id == access.auth.user.id || access.role >= Role::Admin {
                    form.inline method="post" action=(paths::ws(paths::WS_RUN_DELETE, access.workspace.id).replace("{run}", &run.id.to_string())) {
                        button.button.danger type="submit" { "Delete" }
                    }
                }
            }
        }
        p.muted {
            span.badge { (run.state) } " · by " (by) " · " (when(run.created_at)) " · "
            (run.input_tokens) " in / " (run.output_tokens) " out tokens · "
            (super::views::cost(run.cost_usd))
            " · " (run.latency_ms) " ms"
            @if let Some(t) = run.ttft_ms { " (first output after " (t) " ms)" }
        }
        @if let (Some(t), Some(v)) = (run.template_id, run.template_version) {
            p.small { "From " a href=(paths::TEMPLATE_HISTORY.replace("{id}", &t.to_string())) { "template version " (v) } "." }
        }
        @if let Some(e) = &run.error { div.flash.flash-error role="alert" { (e) } }
        section.panel {
            h2 { "Prompt" }
            (super::chat_view::messages(&messages))
        }
        @if let Some(p) = &run.params {
            section.panel #run-params {
                h2 { "Settings sent" }
                pre.prompt { (serde_json::to_string_pretty(p).unwrap_or_default()) }
            }
        }
        section.panel {
            h2 { "Output" }
            @let calls = super::chat_view::detail_tool_calls(run.detail.as_ref());
            @if let Some(r) = run.detail.as_ref().and_then(|d| d.get("refusal")).and_then(|r| r.as_str()) {
                div.flash.flash-error { "The model refused: " (r) }
            }
            @if let Some(d) = run.detail.as_ref().and_then(|d| d.get("dropped")) {
                p.muted.small { "Dropped because the provider cannot honour them: " code { (d) } }
            }
            div #run-tool-calls { (super::chat_view::tool_calls(&calls)) }
            @let embeddings = run.detail.as_ref().and_then(|d| d.get("embeddings"));
            @if let Some(e) = embeddings {
                p #run-embeddings { "Embeddings: " (e["count"]) " vectors of " (e["dimensions"]) " dimensions (the vectors are returned to the caller, not kept)." }
            } @else if run.output.is_empty() && calls.is_empty() {
                p.muted { "No output was kept." }
            } @else {
                div.markdown #run-output-rendered { (maud::PreEscaped(crate::http::markdown::render(&run.output))) }
                details {
                    summary { "Raw output" }
                    pre.prompt #run-output { (run.output) }
                }
            }
        }
        @if let Some(files) = &manifest {
            section.panel #context-manifest {
                h2 { "Folder context" }
                p.muted {
                    (files.len()) " files, " (files.iter().map(|f| f.tokens).sum::<u64>()) " tokens, from a folder in the browser. "
                    "The run keeps each file's path, size, hash and token count; the content is only in the prompt, where the workspace keeps prompts."
                }
                table.table tabindex="0" {
                    thead { tr { th { "File" } th.num { "Size" } th.num { "Tokens" } th { "SHA-256" } } }
                    tbody {
                        @for f in files {
                            tr data-path=(f.path) {
                                td { code { (f.path) } }
                                td.num { (f.size) " B" }
                                td.num { (f.tokens) }
                                td { @match &f.sha256 { Some(h) => code.small title=(h) { (h) }, None => span.muted { "not hashed" } } }
                            }
                        }
                    }
                }
                p { a.button href=(paths::ws(paths::WS_RUN_CONTEXT, access.workspace.id).replace("{run}", &run.id.to_string())) { "Run again with the same context" } }
            }
        }
    };
    Ok(layout(&ctx, "Run", Nav::History, body))
}
