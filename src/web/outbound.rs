//! Outbound access (instance admins): the `[outbound]` configuration the server started with,
//! read-only, and the addresses, host names and ports added here, applied at once (no restart)
//! and recorded in the audit log. This is how a local or private model server is allowed.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::admin::admin_tabs;
use super::views::{Nav, form_errors, layout};
use super::{PageCtx, WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::domain::outbound::OutboundAllowlist;
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form};
use crate::http::routes::{Permission, Routes};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let admin = Permission::Instance(Action::ManageProviders);
    r.get(paths::ADMIN_OUTBOUND, admin, page)
        .post(paths::ADMIN_OUTBOUND, admin, save)
}

/// What the form posts: one entry per line.
#[derive(Deserialize, Default)]
struct OutboundForm {
    #[serde(default)]
    allow_cidrs: String,
    #[serde(default)]
    allow_hosts: String,
    #[serde(default)]
    allow_ports: String,
}

impl OutboundForm {
    fn of(list: &OutboundAllowlist) -> Self {
        Self {
            allow_cidrs: list.allow_cidrs.join("\n"),
            allow_hosts: list.allow_hosts.join("\n"),
            allow_ports: list
                .allow_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn list(&self) -> Result<OutboundAllowlist> {
        let lines = |s: &str| -> Vec<String> {
            s.split(['\n', ','])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let allow_ports = lines(&self.allow_ports)
            .iter()
            .map(|p| {
                p.parse::<u16>().map_err(|_| {
                    Error::invalid("allow_ports", format!("`{p}` is not a port (1 to 65535)"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OutboundAllowlist {
            allow_cidrs: lines(&self.allow_cidrs),
            allow_hosts: lines(&self.allow_hosts),
            allow_ports,
        })
    }
}

fn view(state: &WebState, form: &OutboundForm, error: Option<&Error>) -> Markup {
    let c = state.providers.outbound().configured();
    let invalid = |f: &str| error.and_then(Error::field) == Some(f);
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    html! {
        h1 { "Outbound access" }
        (admin_tabs(paths::ADMIN_OUTBOUND))
        p.muted { "Every call to a model provider goes through one client that only connects where this policy allows. Private, loopback and link-local addresses are refused unless listed, so nobody can aim the server at internal services." }
        section.panel #outbound-configured {
            h2 { "From the configuration" }
            p.small.muted { "Set in " code { "[outbound]" } " or " code { "PROMPTYARD_OUTBOUND__*" } "; changed by editing it and restarting." }
            dl.facts {
                dt { "Addresses" } dd { (list(&c.allow_cidrs)) }
                dt { "Host names" } dd { (list(&c.allow_hosts)) }
                dt { "Ports" } dd { (c.allow_ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")) }
                dt { "Public addresses" } dd { @if c.block_public { "refused" } @else { "allowed" } }
            }
        }
        section.panel aria-labelledby="outbound-added-h" {
            h2 #outbound-added-h { "Added here" }
            p.small.muted { "Applied as soon as you save, on top of the configuration, and recorded in the audit log. One entry per line." }
            (form_errors(error))
            form.stack method="post" action=(paths::ADMIN_OUTBOUND) {
                div.field {
                    label for="allow_cidrs" { "Addresses and ranges" }
                    textarea #allow_cidrs.code name="allow_cidrs" rows="3" placeholder="127.0.0.1\n192.168.1.0/24" aria-invalid=[invalid("allow_cidrs").then_some("true")] { (form.allow_cidrs) }
                }
                div.field {
                    label for="allow_hosts" { "Host names" }
                    textarea #allow_hosts.code name="allow_hosts" rows="2" placeholder="ollama.lan\n*.corp.example" aria-invalid=[invalid("allow_hosts").then_some("true")] { (form.allow_hosts) }
                }
                div.field {
                    label for="allow_ports" { "Ports" }
                    textarea #allow_ports.code name="allow_ports" rows="2" placeholder="11434" aria-invalid=[invalid("allow_ports").then_some("true")] { (form.allow_ports) }
                }
                button.button.primary type="submit" { "Save and apply" }
            }
        }
    }
}

async fn page(State(state): State<WebState>, ctx: PageCtx) -> Result<Markup> {
    let list = state.providers.outbound_allowlist().await?;
    let body = view(&state, &OutboundForm::of(&list), None);
    Ok(layout(&ctx, "Outbound access", Nav::Admin, body))
}

async fn save(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<OutboundForm>,
) -> Result<Response> {
    let result = match form.list() {
        Ok(list) => {
            state
                .providers
                .set_outbound_allowlist(&auth.user, list, Some(client.ip))
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            let jar = set_flash(
                jar,
                &state.edge,
                false,
                "Saved: the outbound policy is in force now.",
            );
            Ok((jar, Redirect::to(paths::ADMIN_OUTBOUND)).into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let status = crate::http::error::status_of(&e);
            let body = view(&state, &form, Some(&e));
            Ok((status, layout(&ctx, "Outbound access", Nav::Admin, body)).into_response())
        }
        Err(e) => Err(e),
    }
}
