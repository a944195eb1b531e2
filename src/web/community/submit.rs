//! Submitting a community prompt: the form, prefilled from a template ("Share to community")
//! or a run (its output becomes the example), and the submission itself.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::{BROWSE, prompt_path};
use crate::auth::{Authenticated, ClientInfo};
use crate::domain::{Example, PromptStatus, Run, RunId, Submission, TemplateContent, TemplateId};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form, Query};
use crate::llm::chat::{ChatMessage, ChatRole};
use crate::web::views::{Nav, form_errors, layout};
use crate::web::{PageCtx, WebState};

/// The submission form's fields, as typed.
#[derive(Deserialize, Default, Clone)]
pub(super) struct SubmitForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    prompt: String,
    #[serde(default)]
    models: String,
    #[serde(default)]
    example_model: String,
    #[serde(default)]
    example_output: String,
    #[serde(default)]
    template: Option<TemplateId>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    run: Option<RunId>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

fn submit_page(ctx: &PageCtx, form: &SubmitForm, error: Option<&Error>) -> Markup {
    let invalid = |name: &str| error.and_then(Error::field) == Some(name);
    let content = html! {
        h1 { "Submit a prompt" }
        p.muted { "Your prompt is reviewed by a moderator before others see it (trusted authors are published at once). You will see the moderator's decision and reason on its page." }
        (form_errors(error))
        form.stack method="post" action=(BROWSE) {
            @if let Some(t) = form.template { input type="hidden" name="template" value=(t); }
            @if let Some(v) = form.version { input type="hidden" name="version" value=(v); }
            @if let Some(r) = form.run { input type="hidden" name="run" value=(r); }
            div.field { label for="title" { "Title" } input #title name="title" value=(form.title) required maxlength="120" aria-invalid=[invalid("name").then_some("true")]; }
            div.field { label for="description" { "Description" } textarea #description name="description" rows="2" { (form.description) } }
            div.field { label for="tags" { "Tags (comma-separated)" } input #tags name="tags" value=(form.tags) aria-invalid=[invalid("tags").then_some("true")]; }
            div.field { label for="system_prompt" { "System prompt (optional)" } textarea #system_prompt.code name="system_prompt" rows="3" { (form.system_prompt) } }
            div.field { label for="prompt" { "Prompt, with {{variables}}" } textarea #prompt.code name="prompt" rows="8" required[form.template.is_none()] aria-invalid=[invalid("user_prompt_template").then_some("true")] { (form.prompt) } }
            div.field { label for="models" { "Suggested models (comma-separated)" } input #models name="models" value=(form.models) aria-invalid=[invalid("models").then_some("true")]; }
            fieldset {
                legend { "An example output (optional, Markdown)" }
                div.field { label for="example_model" { "Model that wrote it" } input #example_model name="example_model" value=(form.example_model); }
                div.field { label for="example_output" { "Output" } textarea #example_output name="example_output" rows="5" aria-invalid=[invalid("examples").then_some("true")] { (form.example_output) } }
            }
            button.button.primary type="submit" { "Submit for review" }
        }
    };
    layout(ctx, "Submit a prompt", Nav::Community, content)
}

#[derive(Deserialize, Default)]
pub(super) struct NewQuery {
    #[serde(default)]
    template: String,
    #[serde(default)]
    run: String,
}

/// The form, prefilled from a template the user may read ("share to community").
pub(super) async fn new_form(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Query(q): Query<NewQuery>,
) -> Result<Markup> {
    let mut form = SubmitForm::default();
    if let Ok(id) = q.template.parse::<TemplateId>() {
        let (content, version) = readable_template(&state, &auth, id).await?;
        form = SubmitForm {
            title: content.name,
            description: content.description,
            tags: content.tags.join(", "),
            system_prompt: content.system_prompt,
            prompt: content.user_prompt_template,
            models: content.model.model.unwrap_or_default(),
            template: Some(id),
            version: Some(version),
            ..SubmitForm::default()
        };
    }
    if let Ok(id) = q.run.parse::<RunId>() {
        // "Share with this output as an example": the run's template (if any) or its prompt,
        // and its output.
        let run = readable_run(&state, &auth, id).await?;
        let mut content = TemplateContent::default();
        let mut version = None;
        if let Some(t) = run.template_id
            && let Ok((c, v)) = readable_template(&state, &auth, t).await
        {
            content = c;
            version = Some(run.template_version.unwrap_or(v));
        } else if let Ok(messages) = serde_json::from_str::<Vec<ChatMessage>>(&run.prompt) {
            let join = |system: bool| {
                messages
                    .iter()
                    .filter(|m| (m.role == ChatRole::System) == system)
                    .map(|m| m.content.text())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            content.system_prompt = join(true);
            content.user_prompt_template = join(false);
        }
        form = SubmitForm {
            title: content.name,
            description: content.description,
            tags: content.tags.join(", "),
            system_prompt: content.system_prompt,
            prompt: content.user_prompt_template,
            models: run.model.clone(),
            example_model: run.model.clone(),
            example_output: run.output.clone(),
            template: version.and(run.template_id),
            version,
            run: Some(id),
        };
    }
    Ok(submit_page(&ctx, &form, None))
}

/// A run `auth` may read: one of a workspace they belong to.
async fn readable_run(state: &WebState, auth: &Authenticated, id: RunId) -> Result<Run> {
    let store = state.auth.store();
    let run = store.get_run(id).await?;
    if store
        .find_member(run.workspace_id, auth.user.id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound);
    }
    Ok(run)
}

/// The latest content of a template `auth` may read (a system template, or one of their
/// workspaces'); `NotFound` otherwise.
async fn readable_template(
    state: &WebState,
    auth: &Authenticated,
    id: TemplateId,
) -> Result<(TemplateContent, u32)> {
    let store = state.auth.store();
    let t = store.get_template(id).await?;
    if let Some(ws) = t.workspace_id
        && store.find_member(ws, auth.user.id).await?.is_none()
    {
        return Err(Error::NotFound);
    }
    let v = state.templates.version(&t, None).await?;
    Ok((v.content, v.version))
}

pub(super) async fn submit(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<SubmitForm>,
) -> Result<Response> {
    let mut content = TemplateContent {
        name: form.title.clone(),
        description: form.description.clone(),
        tags: split_list(&form.tags),
        system_prompt: form.system_prompt.clone(),
        user_prompt_template: form.prompt.clone(),
        ..TemplateContent::default()
    };
    let mut source_template = None;
    if let Some(id) = form.template {
        // Shared from a template: its variables and model defaults come along.
        let (t, version) = readable_template(&state, &auth, id).await?;
        content.variables = t.variables;
        content.model = t.model;
        // Its messages, tools and schema too; a message list replaces the two prompts.
        if !t.chat.messages.is_empty() {
            content.system_prompt.clear();
            content.user_prompt_template.clear();
        }
        content.chat = t.chat;
        source_template = Some((id, form.version.unwrap_or(version)));
    }
    let examples = if form.example_output.trim().is_empty() {
        Vec::new()
    } else {
        vec![Example {
            model: form.example_model.clone(),
            output: form.example_output.clone(),
        }]
    };
    let source_run = match form.run {
        Some(id) => Some(readable_run(&state, &auth, id).await?.id),
        None => None,
    };
    let submission = Submission {
        content,
        models: split_list(&form.models),
        examples,
        source_template,
        source_run,
    };
    match state
        .community
        .submit(&auth.user, submission, Some(client.ip))
        .await
    {
        Ok(p) => {
            let msg = if p.status == PromptStatus::Approved {
                "Published: you are a trusted author."
            } else {
                "Submitted. A moderator will review it; only you and moderators can see it until then."
            };
            let jar = set_flash(jar, &state.edge, false, msg);
            Ok((jar, Redirect::to(&prompt_path(p.id))).into_response())
        }
        Err(e @ (Error::Invalid { .. } | Error::Denied(_))) => {
            let status = if matches!(e, Error::Denied(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((status, submit_page(&ctx, &form, Some(&e))).into_response())
        }
        Err(e) => Err(e),
    }
}
