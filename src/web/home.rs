//! The home page: sends new instances to setup and visitors to login; greets users.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::views::{Nav, layout};
use super::{PageCtx, WebState, paths};
use crate::http::routes::{Permission, Routes};

use crate::domain::Role;
use crate::error::Result;

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    // Public: the home page itself sends visitors to setup or login.
    r.get(paths::HOME, Permission::Public, home_page)
}

async fn home_page(State(state): State<WebState>, ctx: PageCtx) -> Result<Response> {
    let Some(auth) = &ctx.auth else {
        if state.auth.needs_setup().await? {
            return Ok(Redirect::to(paths::SETUP).into_response());
        }
        return Ok(Redirect::to(paths::LOGIN).into_response());
    };
    let user = &auth.user;
    let first_name = user.name.as_str().split_whitespace().next().unwrap_or("");
    let user_count = if user.is_admin() {
        Some(state.auth.store().count_users().await?)
    } else {
        None
    };
    let steps = getting_started(&state, &ctx).await?;
    let content = html! {
        section.hero {
            h1 { "Welcome, " (first_name) }
            p.lead { "Promptyard keeps your team's prompts, runs and model keys on your own server." }
        }
        @if !steps.iter().all(|s| s.done) {
            section.panel #getting-started aria-labelledby="start-h" {
                h2 #start-h { "Getting started" }
                ol.checklist {
                    @for s in &steps {
                        li.done[s.done] {
                            span.check-mark aria-hidden="true" { @if s.done { "✓" } @else { "○" } }
                            " "
                            @match &s.link {
                                Some(href) if !s.done => a href=(href) { (s.title) },
                                _ => span { (s.title) },
                            }
                            @if s.done { span.sr-only { " (done)" } }
                            " " span.muted.small { (s.hint) }
                        }
                    }
                }
            }
        }
        div.cards {
            article.card {
                h2 { "Your workspaces" }
                ul.plain {
                    @for (w, role) in &ctx.workspaces {
                        li {
                            a href=(paths::ws(paths::WS_TEMPLATES, w.id)) { (w.name) }
                            " " span.muted.small { @if w.personal { "personal" } @else { (role.label().to_lowercase()) } }
                        }
                    }
                }
                a.button href=(paths::WORKSPACES) { "Manage workspaces" }
            }
            article.card {
                h2 { "Your account" }
                p { "Signed in as " strong { (user.email) } "." }
                p { "Change your name or password and see where you are logged in." }
                a.button href=(paths::ACCOUNT) { "Open account settings" }
            }
            @if let Some(count) = user_count {
                article.card {
                    h2 { "Administration" }
                    p { "This instance has " strong { (count) } " " (if count == 1 { "account" } else { "accounts" }) "." }
                    p { "Create accounts, disable them, grant admin rights and read the audit log." }
                    a.button href=(paths::ADMIN_USERS) { "Manage users" }
                }
            }
        }
    };
    Ok(layout(&ctx, "Home", Nav::Home, content).into_response())
}

/// One step of the getting-started path.
struct Step {
    title: &'static str,
    hint: &'static str,
    /// Where to do it, when this user can.
    link: Option<String>,
    done: bool,
}

/// Add a model connection, create a template, run it, invite someone: each ticked from what
/// the current workspace holds.
async fn getting_started(state: &WebState, ctx: &PageCtx) -> Result<Vec<Step>> {
    let (Some(auth), Some((ws, role))) = (&ctx.auth, &ctx.current) else {
        return Ok(Vec::new());
    };
    let store = state.auth.store();
    let connections = !store.list_connections(None).await?.is_empty()
        || !store.list_connections(Some(ws.id)).await?.is_empty();
    let templates = !store.list_templates(Some(ws.id)).await?.is_empty();
    let runs = !store.list_runs(ws.id, None, 1).await?.items.is_empty();
    let shared = if ws.personal {
        ctx.workspaces.iter().any(|(w, _)| !w.personal)
    } else {
        store.list_members(ws.id).await?.len() > 1
            || !store
                .list_open_invites(ws.id, state.auth.clock().now())
                .await?
                .is_empty()
    };
    let connection_link = if auth.user.is_admin() {
        Some(paths::ADMIN_PROVIDERS.to_owned())
    } else if *role >= Role::Admin {
        Some(paths::ws(paths::WS_PROVIDERS, ws.id))
    } else {
        None
    };
    Ok(vec![
        Step {
            title: "Add a model connection",
            hint: if connection_link.is_some() {
                "OpenAI, Anthropic, Gemini or a local OpenAI-compatible server"
            } else {
                "an instance or workspace admin adds one"
            },
            link: connection_link,
            done: connections,
        },
        Step {
            title: "Create a template",
            hint: "a prompt with typed {{variables}}, versioned",
            link: (*role >= Role::Editor).then(|| paths::ws(paths::WS_TEMPLATE_NEW, ws.id)),
            done: templates,
        },
        Step {
            title: "Run it in the playground",
            hint: "side by side on several models",
            link: Some(paths::ws(paths::WS_PLAYGROUND, ws.id)),
            done: runs,
        },
        Step {
            title: "Invite someone",
            hint: if ws.personal {
                "create a team workspace and invite your colleagues"
            } else {
                "from the workspace's members page"
            },
            link: Some(if ws.personal {
                paths::WORKSPACES.to_owned()
            } else {
                paths::ws(paths::WS_SETTINGS, ws.id)
            }),
            done: shared,
        },
    ])
}
