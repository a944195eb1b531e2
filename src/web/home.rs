//! The home page: sends new instances to setup and visitors to login; greets users.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::views::{Nav, layout};
use super::{PageCtx, WebState, paths};
use crate::http::routes::{Permission, Routes};

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
    let content = html! {
        section.hero {
            h1 { "Welcome, " (first_name) }
            p.lead { "Promptyard keeps your team's prompts, runs and model keys on your own server." }
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
