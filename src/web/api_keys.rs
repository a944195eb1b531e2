//! The user's API keys for the `/v1` API: create (the key is shown once), list by prefix and
//! last use, revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::views::{Nav, copy_block, copy_field, form_errors, layout, when};
use super::{PageCtx, WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::domain::{ApiKey, ApiKeyId, ApiSecret, WorkspaceId};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form, Path};
use crate::http::routes::{Permission, Routes};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let own = Permission::Instance(Action::ManageOwnAccount);
    r.get(paths::API_KEYS, own, page)
        .post(paths::API_KEYS, own, create)
        .post(paths::API_KEY_REVOKE, own, revoke)
}

#[derive(Deserialize, Default)]
struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    workspace: String,
    #[serde(default)]
    expires_in_days: String,
    /// One model id per line; empty means any.
    #[serde(default)]
    models: String,
}

async fn render(
    state: &WebState,
    ctx: &PageCtx,
    user: &crate::domain::User,
    created: Option<(&ApiKey, &ApiSecret)>,
    error: Option<&Error>,
) -> Result<Markup> {
    let keys = state.auth.store().list_api_keys(user.id).await?;
    let now = state.auth.clock().now();
    let ws_name = |id: WorkspaceId| {
        ctx.workspaces
            .iter()
            .find(|(w, _)| w.id == id)
            .map(|(w, _)| w.name.to_string())
            .unwrap_or_else(|| "(no longer a member)".into())
    };
    // The snippets use the new key (and a model it may use) right after creation, else the
    // environment variable a person would keep a key in and the current workspace's first model.
    let snippet_ws = created.map(|(k, _)| k.workspace_id).or(ctx.current_id());
    let mut model = created
        .and_then(|(k, _)| k.models.first().cloned())
        .unwrap_or_default();
    if model.is_empty()
        && let Some(ws) = snippet_ws
    {
        model = state
            .providers
            .usable(ws)
            .await?
            .iter()
            .flat_map(|c| c.models.iter())
            .next()
            .cloned()
            .unwrap_or_default();
    }
    if model.is_empty() {
        model = "MODEL".into();
    }
    let base_url = ctx.absolute("/v1");
    let snippets = Snippets {
        base_url: &base_url,
        key: created.map(|(_, s)| s.expose()),
        model: &model,
    };
    let content = html! {
        h1 { "API keys" }
        p.muted { "Keys let tools that speak OpenAI's API (SDKs, curl, editors) use the models of one workspace through " code { "/v1" } ". A key can do no more than you can in that workspace." }
        (form_errors(error))
        @if let Some((_, secret)) = created {
            div.flash.flash-ok role="status" {
                p { "Your new key. Copy it now: it is not shown again." }
                (copy_field("new-key", "New API key", secret.expose()))
            }
        }
        section.panel aria-labelledby="use-key-h" {
            h2 #use-key-h { "Use a key" }
            p.muted {
                "Point any OpenAI client at this base URL and send the key as a bearer token"
                @if created.is_some() { ". These commands already hold your new key." }
                @else { " (the commands read it from " code { "PROMPTYARD_API_KEY" } ")." }
            }
            div.field {
                label for="base-url" { "Base URL" }
                (copy_field("base-url", "Base URL", &base_url))
            }
            h3 { "curl" }
            (copy_block("snippet-curl", "curl command", &snippets.curl()))
            h3 { "Python (openai)" }
            (copy_block("snippet-python", "Python snippet", &snippets.python()))
            h3 { "JavaScript (openai)" }
            (copy_block("snippet-js", "JavaScript snippet", &snippets.javascript()))
        }
        section.panel {
            h2 { "Your keys" }
            @if keys.is_empty() { p.empty { "No keys yet." } }
            @else {
                div.table-wrap { table tabindex="0" {
                    thead { tr { th { "Name" } th { "Key" } th { "Workspace" } th { "Models" } th { "Last used" } th { "Status" } th { span.sr-only { "Revoke" } } } }
                    tbody {
                        @for k in &keys {
                            tr {
                                td { (k.name) }
                                td { code { (k.prefix) "…" } }
                                td { (ws_name(k.workspace_id)) }
                                td { @if k.models.is_empty() { "any" } @else { (k.models.join(", ")) } }
                                td { @match k.last_used_at { Some(t) => (when(t)), None => "never" } }
                                td {
                                    @if k.revoked_at.is_some() { span.badge.badge-bad { "Revoked" } }
                                    @else if !k.is_active(now) { span.badge.badge-bad { "Expired" } }
                                    @else { span.badge.badge-ok { "Active" } @if let Some(e) = k.expires_at { " until " (when(e)) } }
                                }
                                td { div.row-actions {
                                    @if k.revoked_at.is_none() {
                                        form method="post" action=(paths::API_KEY_REVOKE.replace("{key}", &k.id.to_string())) {
                                            button.button.small.danger type="submit" aria-label=(format!("Revoke {}", k.name)) { "Revoke" }
                                        }
                                    }
                                } }
                            }
                        }
                    }
                } }
            }
        }
        section.panel aria-labelledby="new-key-h" {
            h2 #new-key-h { "New key" }
            form.stack.narrow method="post" action=(paths::API_KEYS) {
                div.field { label for="key-name" { "Name" } input #key-name name="name" required placeholder="e.g. CI pipeline"; }
                div.field {
                    label for="key-ws" { "Workspace" }
                    select #key-ws name="workspace" {
                        @for (w, _) in &ctx.workspaces { option value=(w.id) selected[ctx.current_id() == Some(w.id)] { (w.name) } }
                    }
                }
                div.field { label for="key-days" { "Expires after (days, optional)" } input #key-days name="expires_in_days" type="number" min="1" max="3650"; }
                div.field { label for="key-models" { "Only these models (one per line, optional)" } textarea #key-models name="models" rows="2" {} }
                button.button.primary type="submit" { "Create key" }
            }
        }
    };
    Ok(layout(ctx, "API keys", Nav::Account, content))
}

async fn page(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
) -> Result<Markup> {
    render(&state, &ctx, &auth.user, None, None).await
}

async fn create(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Form(form): Form<KeyForm>,
) -> Result<Response> {
    let workspace: WorkspaceId = form
        .workspace
        .trim()
        .parse()
        .map_err(|_| Error::invalid("workspace", "choose a workspace"))?;
    let days = match form.expires_in_days.trim() {
        "" => None,
        d => Some(
            d.parse::<i64>()
                .map_err(|_| Error::invalid("expires_in_days", "a number of days"))?,
        ),
    };
    let models: Vec<String> = form.models.lines().map(str::to_owned).collect();
    match state
        .auth
        .create_api_key(
            &auth.user,
            workspace,
            &form.name,
            days,
            &models,
            Some(client.ip),
        )
        .await
    {
        // Shown on this response only; only the hash is kept.
        Ok((key, secret)) => Ok(
            render(&state, &ctx, &auth.user, Some((&key, &secret)), None)
                .await?
                .into_response(),
        ),
        Err(e @ Error::Invalid { .. }) => {
            let page = render(&state, &ctx, &auth.user, None, Some(&e)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn revoke(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<ApiKeyId>,
) -> Result<Response> {
    let key = state
        .auth
        .revoke_api_key(&auth.user, id, Some(client.ip))
        .await?;
    let jar = set_flash(
        jar,
        &state.edge,
        false,
        &format!("Revoked {}. It stopped working at once.", key.name),
    );
    Ok((jar, Redirect::to(paths::API_KEYS)).into_response())
}

/// Ready-to-paste calls of `/v1` for the API key page.
struct Snippets<'a> {
    base_url: &'a str,
    /// The key itself right after creation; otherwise the snippets read an environment variable.
    key: Option<&'a str>,
    model: &'a str,
}

impl Snippets<'_> {
    /// A JSON string literal (the model id comes from an admin; the key is URL-safe).
    fn lit(s: &str) -> String {
        serde_json::Value::String(s.to_owned()).to_string()
    }

    fn curl(&self) -> String {
        let auth = match self.key {
            Some(k) => format!("Authorization: Bearer {k}"),
            None => "Authorization: Bearer $PROMPTYARD_API_KEY".to_owned(),
        };
        let body = format!(
            r#"{{"model": {}, "messages": [{{"role": "user", "content": "Say hello"}}]}}"#,
            Self::lit(self.model)
        );
        // The body goes in single quotes; a quote inside it is closed, escaped and reopened.
        let body = body.replace('\'', "'\\''");
        format!(
            "curl {}/chat/completions \\\n  -H \"{auth}\" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{body}'",
            self.base_url
        )
    }

    fn python(&self) -> String {
        let key = match self.key {
            Some(k) => Self::lit(k),
            None => "os.environ[\"PROMPTYARD_API_KEY\"]".to_owned(),
        };
        let import = if self.key.is_some() {
            ""
        } else {
            "import os\n"
        };
        format!(
            "{import}from openai import OpenAI\n\nclient = OpenAI(base_url={}, api_key={key})\nreply = client.chat.completions.create(\n    model={},\n    messages=[{{\"role\": \"user\", \"content\": \"Say hello\"}}],\n)\nprint(reply.choices[0].message.content)",
            Self::lit(self.base_url),
            Self::lit(self.model),
        )
    }

    fn javascript(&self) -> String {
        let key = match self.key {
            Some(k) => Self::lit(k),
            None => "process.env.PROMPTYARD_API_KEY".to_owned(),
        };
        format!(
            "import OpenAI from \"openai\";\n\nconst client = new OpenAI({{ baseURL: {}, apiKey: {key} }});\nconst reply = await client.chat.completions.create({{\n  model: {},\n  messages: [{{ role: \"user\", content: \"Say hello\" }}],\n}});\nconsole.log(reply.choices[0].message.content);",
            Self::lit(self.base_url),
            Self::lit(self.model),
        )
    }
}
