//! Provider connection pages: instance-wide ones for instance admins, a workspace's own for its
//! admins. Keys are write-only: a page shows whether a key is set, never the key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::views::{Nav, form_errors, layout, sentence, when, workspace_tabs};
use super::{PageCtx, WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::domain::{Connection, ConnectionId, ProviderKind, WorkspaceId};
use crate::error::{Error, Result};
use crate::gateway::ConnectionInput;
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form, Path};
use crate::http::routes::{Permission, Routes, WorkspaceAccess};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let admin = Permission::Instance(Action::ManageProviders);
    let ws = Permission::Workspace(Action::ManageWorkspace);
    r.get(paths::ADMIN_PROVIDERS, admin, instance_page)
        .post(paths::ADMIN_PROVIDERS, admin, instance_create)
        .post(paths::ADMIN_PROVIDER_ACTION, admin, instance_action)
        .get(paths::WS_PROVIDERS, ws, workspace_page)
        .post(paths::WS_PROVIDERS, ws, workspace_create)
        .post(paths::WS_PROVIDER_ACTION, ws, workspace_action)
}

/// What the connection form posts.
#[derive(Deserialize, Default, Clone)]
struct ConnForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    clear_key: Option<String>,
    /// One model id per line.
    #[serde(default)]
    models: String,
    #[serde(default)]
    drop_unsupported: Option<String>,
}

impl ConnForm {
    fn input(&self) -> ConnectionInput {
        ConnectionInput {
            name: self.name.clone(),
            kind: self.kind.clone(),
            base_url: self.base_url.clone(),
            api_key: Some(self.api_key.clone()).filter(|k| !k.trim().is_empty()),
            clear_key: self.clear_key.is_some(),
            models: self.models.lines().map(str::to_owned).collect(),
            drop_unsupported: self.drop_unsupported.is_some(),
        }
    }
}

/// Which connections a page manages.
#[derive(Clone, Copy)]
enum Scope {
    Instance,
    Workspace(WorkspaceId),
}

impl Scope {
    fn workspace(self) -> Option<WorkspaceId> {
        match self {
            Scope::Instance => None,
            Scope::Workspace(id) => Some(id),
        }
    }

    fn base(self) -> String {
        match self {
            Scope::Instance => paths::ADMIN_PROVIDERS.to_owned(),
            Scope::Workspace(id) => paths::ws(paths::WS_PROVIDERS, id),
        }
    }

    fn action(self, conn: ConnectionId, action: &str) -> String {
        format!("{}/{conn}/{action}", self.base())
    }
}

fn kind_select(current: &str) -> Markup {
    html! {
        select name="kind" aria-label="Provider" {
            @for k in ProviderKind::ALL {
                option value=(k.as_str()) selected[current == k.as_str()] { (k.label()) }
            }
        }
    }
}

fn conn_fields(form: &ConnForm, id: &str, existing: Option<&Connection>) -> Markup {
    html! {
        div.field { label for=(format!("{id}-name")) { "Name" } input id=(format!("{id}-name")) name="name" value=(form.name) required; }
        div.field { label { "Provider" } (kind_select(&form.kind)) }
        div.field {
            label for=(format!("{id}-url")) { "Base URL" }
            input id=(format!("{id}-url")) name="base_url" value=(form.base_url) inputmode="url"
                placeholder="http://127.0.0.1:11434/v1" aria-describedby=(format!("{id}-url-help"));
            p.small.muted id=(format!("{id}-url-help")) {
                "Leave blank for OpenAI's, Anthropic's or Google's own address. For an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio), enter its address, for example "
                code { "http://127.0.0.1:11434/v1" } "."
            }
        }
        div.field {
            label for=(format!("{id}-key")) { "API key" }
            input id=(format!("{id}-key")) name="api_key" type="password" autocomplete="off"
                placeholder=(if existing.is_some_and(|c| c.sealed_key.is_some()) { "a key is set; type to replace it" } else { "optional for local servers" });
            @if existing.is_some_and(|c| c.sealed_key.is_some()) {
                div.check { input id=(format!("{id}-clear")) type="checkbox" name="clear_key" value="on"; label for=(format!("{id}-clear")) { "Remove the stored key" } }
            }
        }
        div.field {
            label for=(format!("{id}-models")) { "Models (one per line)" }
            textarea id=(format!("{id}-models")) name="models" rows="3" { (form.models) }
        }
        div.check {
            input id=(format!("{id}-drop")) type="checkbox" name="drop_unsupported" value="on" checked[form.drop_unsupported.is_some()];
            label for=(format!("{id}-drop")) { "Drop request parameters this provider cannot honour (each run records which) instead of refusing the call" }
        }
    }
}

async fn render(
    state: &WebState,
    ctx: &PageCtx,
    scope: Scope,
    form: &ConnForm,
    error: Option<&Error>,
) -> Result<Markup> {
    let conns = state
        .auth
        .store()
        .list_connections(scope.workspace())
        .await?;
    let title = match scope {
        Scope::Instance => "Provider connections",
        Scope::Workspace(_) => "Workspace provider connections",
    };
    let content = html! {
        h1 { (title) }
        @if let Scope::Workspace(_) = scope { (workspace_tabs(ctx, paths::WS_PROVIDERS)) }
        p.muted {
            @match scope {
                Scope::Instance => "Connections here serve every workspace. Keys are sealed under the master key and never shown again.",
                Scope::Workspace(_) => "Connections here serve only this workspace, on top of the instance's. Keys are sealed and never shown again.",
            }
        }
        (form_errors(error))
        @if conns.is_empty() { p.empty { "No connections yet." } }
        @for c in &conns {
            section.panel {
                h2 { (c.name) " " span.badge { (c.kind.label()) } }
                p.muted.small {
                    code { (c.base_url) } " · "
                    @if c.sealed_key.is_some() { "key set" } @else { "no key" }
                    " · updated " (when(c.updated_at))
                }
                p { @if c.models.is_empty() { span.muted { "No models yet: discover them or list them below." } } @else { @for m in &c.models { span.tag { (m) } " " } } }
                div.actions {
                    form method="post" action=(scope.action(c.id, "discover")) { button.button.small type="submit" { "Discover models" } }
                    form method="post" action=(scope.action(c.id, "delete")) { button.button.small.danger type="submit" aria-label=(format!("Delete {}", c.name)) { "Delete" } }
                }
                details {
                    summary { "Edit" }
                    form.stack method="post" action=(scope.action(c.id, "update")) {
                        @let f = ConnForm { name: c.name.clone(), kind: c.kind.as_str().into(), base_url: c.base_url.clone(), models: c.models.join("\n"), drop_unsupported: c.drop_unsupported.then(|| "on".to_owned()), ..ConnForm::default() };
                        (conn_fields(&f, &format!("c{}", c.id.0.simple()), Some(c)))
                        button.button.primary type="submit" { "Save connection" }
                    }
                }
            }
        }
        section.panel aria-labelledby="new-conn-h" {
            h2 #new-conn-h { "New connection" }
            form.stack method="post" action=(scope.base()) {
                (conn_fields(form, "new", None))
                button.button.primary type="submit" { "Add connection" }
            }
        }
    };
    let nav = match scope {
        Scope::Instance => Nav::Admin,
        Scope::Workspace(_) => Nav::Workspace,
    };
    Ok(layout(ctx, title, nav, content))
}

fn blank() -> ConnForm {
    ConnForm {
        kind: ProviderKind::Openai.as_str().into(),
        ..ConnForm::default()
    }
}

async fn instance_page(State(state): State<WebState>, ctx: PageCtx) -> Result<Markup> {
    render(&state, &ctx, Scope::Instance, &blank(), None).await
}

async fn workspace_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
) -> Result<Markup> {
    render(
        &state,
        &ctx,
        Scope::Workspace(access.workspace.id),
        &blank(),
        None,
    )
    .await
}

async fn create(
    state: &WebState,
    ctx: &PageCtx,
    user: &crate::domain::User,
    scope: Scope,
    client: ClientInfo,
    jar: CookieJar,
    form: ConnForm,
) -> Result<Response> {
    let ip = client.ip.clone();
    match state
        .providers
        .create(user, scope.workspace(), form.input(), Some(client.ip))
        .await
    {
        Ok(c) => {
            // No models listed: ask the provider which it offers, and say what came of it.
            let text = if c.models.is_empty() {
                match state.providers.discover(user, &c, Some(ip)).await {
                    Ok(found) if !found.models.is_empty() => format!(
                        "Added {}: it offers {} model(s): {}.",
                        c.name,
                        found.models.len(),
                        found
                            .models
                            .iter()
                            .take(8)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Ok(_) => format!(
                        "Added {}. It lists no models: name them under Edit, or press Discover models later.",
                        c.name
                    ),
                    Err(e) => format!(
                        "Added {}. Its models could not be discovered ({}); name them under Edit, or press Discover models later.",
                        c.name,
                        e.to_string().trim_end_matches('.')
                    ),
                }
            } else {
                format!("Added {}.", c.name)
            };
            let jar = set_flash(jar, &state.edge, false, &text);
            Ok((jar, Redirect::to(&scope.base())).into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let page = render(
                state,
                ctx,
                scope,
                &ConnForm {
                    api_key: String::new(),
                    ..form
                },
                Some(&e),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn instance_create(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<ConnForm>,
) -> Result<Response> {
    create(&state, &ctx, &auth.user, Scope::Instance, client, jar, form).await
}

async fn workspace_create(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<ConnForm>,
) -> Result<Response> {
    let scope = Scope::Workspace(access.workspace.id);
    create(&state, &ctx, &access.auth.user, scope, client, jar, form).await
}

/// Runs an action on a connection of `scope`; a connection of another scope is `NotFound`.
async fn act(
    state: &WebState,
    user: &crate::domain::User,
    scope: Scope,
    (id, action): (&str, &str),
    client: ClientInfo,
    jar: CookieJar,
    form: ConnForm,
) -> Result<Response> {
    let id: ConnectionId = id.parse().map_err(|_| Error::NotFound)?;
    let conn = state.auth.store().get_connection(id).await?;
    if conn.workspace_id != scope.workspace() {
        return Err(Error::NotFound);
    }
    let result = match action {
        "update" => state
            .providers
            .update(user, &conn, form.input(), Some(client.ip))
            .await
            .map(|c| format!("Saved {}.", c.name)),
        "delete" => state
            .providers
            .delete(user, &conn, Some(client.ip))
            .await
            .map(|()| format!("Deleted {}.", conn.name)),
        "discover" => state
            .providers
            .discover(user, &conn, Some(client.ip))
            .await
            .map(|c| format!("{} offers {} model(s).", c.name, c.models.len())),
        _ => return Err(Error::NotFound),
    };
    let jar = match result {
        Ok(text) => set_flash(jar, &state.edge, false, &text),
        Err(e @ Error::Invalid { .. }) => {
            set_flash(jar, &state.edge, true, &sentence(&e.to_string()))
        }
        Err(e) => return Err(e),
    };
    Ok((jar, Redirect::to(&scope.base())).into_response())
}

async fn instance_action(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ConnForm>,
) -> Result<Response> {
    act(
        &state,
        &auth.user,
        Scope::Instance,
        (&id, &action),
        client,
        jar,
        form,
    )
    .await
}

async fn workspace_action(
    State(state): State<WebState>,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Path((_, id, action)): Path<(String, String, String)>,
    Form(form): Form<ConnForm>,
) -> Result<Response> {
    let scope = Scope::Workspace(access.workspace.id);
    act(
        &state,
        &access.auth.user,
        scope,
        (&id, &action),
        client,
        jar,
        form,
    )
    .await
}
