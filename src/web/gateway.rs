//! The workspace gateway page (admins and owners): history retention, response cache, monthly
//! budgets with this month's spend against them, fallback routes and rate limits.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};
use serde::Deserialize;

use super::views::{Nav, form_errors, layout, workspace_tabs};
use super::{PageCtx, WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::domain::governance::next_month_start;
use crate::domain::{GatewaySettings, RateLimit, Retention};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::Form;
use crate::http::routes::{Permission, Routes, WorkspaceAccess};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let admin = Permission::Workspace(Action::ManageWorkspace);
    r.get(paths::WS_GATEWAY, admin, page)
        .post(paths::WS_GATEWAY, admin, save)
}

/// What the form posts; every number as typed, so errors can name the field.
#[derive(Deserialize, Default, Clone)]
struct SettingsForm {
    #[serde(default)]
    retention: String,
    #[serde(default)]
    retention_days: String,
    #[serde(default)]
    cache_ttl_secs: String,
    #[serde(default)]
    budget_usd: String,
    #[serde(default)]
    member_budget_usd: String,
    #[serde(default)]
    fallbacks: String,
    #[serde(default)]
    workspace_rpm: String,
    #[serde(default)]
    workspace_tpm: String,
    #[serde(default)]
    member_rpm: String,
    #[serde(default)]
    member_tpm: String,
    #[serde(default)]
    key_rpm: String,
    #[serde(default)]
    key_tpm: String,
}

fn opt_text<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn number<T: std::str::FromStr>(field: &str, raw: &str, what: &str) -> Result<Option<T>> {
    let raw = raw.trim().trim_start_matches('$');
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| Error::invalid(field, format!("`{raw}` is not {what}")))
}

impl SettingsForm {
    fn from_settings(s: &GatewaySettings) -> Self {
        Self {
            retention: s.retention.as_str().into(),
            retention_days: opt_text(s.retention_days),
            cache_ttl_secs: s.cache_ttl_secs.to_string(),
            budget_usd: opt_text(s.budget_usd),
            member_budget_usd: opt_text(s.member_budget_usd),
            fallbacks: s.routes_text(),
            workspace_rpm: opt_text(s.workspace_limit.requests_per_minute),
            workspace_tpm: opt_text(s.workspace_limit.tokens_per_minute),
            member_rpm: opt_text(s.member_limit.requests_per_minute),
            member_tpm: opt_text(s.member_limit.tokens_per_minute),
            key_rpm: opt_text(s.key_limit.requests_per_minute),
            key_tpm: opt_text(s.key_limit.tokens_per_minute),
        }
    }

    fn settings(&self) -> Result<GatewaySettings> {
        let whole = "a whole number";
        let limit = |rpm_field: &str, rpm: &str, tpm_field: &str, tpm: &str| -> Result<RateLimit> {
            Ok(RateLimit {
                requests_per_minute: number(rpm_field, rpm, whole)?,
                tokens_per_minute: number(tpm_field, tpm, whole)?,
            })
        };
        Ok(GatewaySettings {
            retention: Retention::parse(&self.retention)?,
            retention_days: number("retention_days", &self.retention_days, "a number of days")?,
            cache_ttl_secs: number(
                "cache_ttl_secs",
                &self.cache_ttl_secs,
                "a number of seconds",
            )?
            .unwrap_or(0),
            budget_usd: number("budget_usd", &self.budget_usd, "an amount in USD")?,
            member_budget_usd: number(
                "member_budget_usd",
                &self.member_budget_usd,
                "an amount in USD",
            )?,
            fallbacks: GatewaySettings::parse_routes(&self.fallbacks)?,
            workspace_limit: limit(
                "workspace_rpm",
                &self.workspace_rpm,
                "workspace_tpm",
                &self.workspace_tpm,
            )?,
            member_limit: limit(
                "member_rpm",
                &self.member_rpm,
                "member_tpm",
                &self.member_tpm,
            )?,
            key_limit: limit("key_rpm", &self.key_rpm, "key_tpm", &self.key_tpm)?,
        })
    }
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

/// A spend line: the amount, and against a budget a meter and the share used.
fn spend_meter(label: &str, spent: f64, budget: Option<f64>) -> Markup {
    html! {
        div.spend {
            span { (label) ": " strong { (usd(spent)) } }
            @if let Some(b) = budget {
                " of " (usd(b))
                @let share = if b > 0.0 { (spent / b).clamp(0.0, 1.0) } else { 1.0 };
                meter min="0" max="1" low="0.75" high="0.9" optimum="0" value=(format!("{share:.4}")) aria-label=(format!("{label}: {:.0}% of the budget used", share * 100.0)) {}
                " " span.muted { (format!("{:.0}%", share * 100.0)) }
            } @else {
                " " span.muted { "(no budget)" }
            }
        }
    }
}

fn limit_row(label: &str, rpm: (&str, &str), tpm: (&str, &str)) -> Markup {
    html! {
        tr {
            th scope="row" { (label) }
            td { input.num id=(rpm.0) name=(rpm.0) inputmode="numeric" value=(rpm.1) aria-label=(format!("{label}: requests per minute")) placeholder="no limit"; }
            td { input.num id=(tpm.0) name=(tpm.0) inputmode="numeric" value=(tpm.1) aria-label=(format!("{label}: prompt tokens per minute")) placeholder="no limit"; }
        }
    }
}

async fn render(
    state: &WebState,
    ctx: &PageCtx,
    access: &WorkspaceAccess,
    form: &SettingsForm,
    saved: &GatewaySettings,
    error: Option<&Error>,
) -> Result<Markup> {
    let ws = &access.workspace;
    let spend = state.gateway.month_spend(ws.id).await?;
    let members = state.auth.store().list_members(ws.id).await?;
    let renews = next_month_start(state.auth.clock().now()).date();
    let action = paths::ws(paths::WS_GATEWAY, ws.id);
    let content = html! {
        h1 { "Gateway settings" }
        (workspace_tabs(ctx, paths::WS_GATEWAY))
        p.muted { "How model calls in " strong { (ws.name.as_str()) } " are kept, cached, budgeted, routed and limited. Changes apply to the next call and are recorded in the audit log." }
        (form_errors(error))
        section.panel aria-labelledby="spend-h" {
            h2 #spend-h { "Spend this month" }
            p.muted.small { "Budgets renew on " (renews) " (UTC). Cached answers cost nothing." }
            (spend_meter("Workspace", spend.total_usd, saved.budget_usd))
            @if spend.by_user.is_empty() {
                p.empty { "No spend yet this month." }
            } @else {
                table tabindex="0" {
                    thead { tr { th scope="col" { "Member" } th scope="col" { "Spent" } th scope="col" { "Of their budget" } } }
                    tbody {
                        @for (user, usd_spent) in &spend.by_user {
                            @let name = members.iter().find(|m| m.member.user_id == *user).map_or("(former member)", |m| m.name.as_str());
                            tr {
                                td { (name) }
                                td { (usd(*usd_spent)) }
                                td { @match saved.member_budget_usd { Some(b) if b > 0.0 => { (format!("{:.0}%", (usd_spent / b * 100.0).min(999.0))) } Some(_) => "100%", None => span.muted { "no budget" } } }
                            }
                        }
                    }
                }
            }
        }
        form.stack method="post" action=(action) {
            section.panel aria-labelledby="budget-h" {
                h2 #budget-h { "Monthly budgets (USD)" }
                p.muted.small { "Before a call its cost is estimated (the prompt plus max_tokens, or 1,024 output tokens when unset) and held against the budgets; a call that would pass one is refused with a message naming it. Leave empty for no budget." }
                div.field { label for="budget_usd" { "Workspace budget per month" } input #budget_usd name="budget_usd" inputmode="decimal" value=(form.budget_usd) placeholder="no budget"; }
                div.field { label for="member_budget_usd" { "Each member's budget per month" } input #member_budget_usd name="member_budget_usd" inputmode="decimal" value=(form.member_budget_usd) placeholder="no budget"; }
            }
            section.panel aria-labelledby="ret-h" {
                h2 #ret-h { "History and cache" }
                div.field {
                    label for="retention" { "History retention" }
                    select #retention name="retention" {
                        @for r in Retention::ALL {
                            option value=(r.as_str()) selected[form.retention == r.as_str()] { (r.label()) }
                        }
                    }
                }
                div.field {
                    label for="retention_days" { "Delete runs older than (days)" }
                    input #retention_days name="retention_days" inputmode="numeric" value=(form.retention_days) placeholder="keep them";
                    p.muted.small { "Checked every hour; each deletion is in the audit log. Analytics keep their daily totals." }
                }
                div.field {
                    label for="cache_ttl_secs" { "Response cache lifetime (seconds, 0 = off)" }
                    input #cache_ttl_secs name="cache_ttl_secs" inputmode="numeric" value=(form.cache_ttl_secs);
                    p.muted.small { "When on, a request that asks for the cache (" code { "\"cache\": true" } " or the header " code { "X-Promptyard-Cache: on" } " on /v1, the playground's checkbox) and exactly matches an earlier answer in this workspace is answered from the store, at no cost. Needs full retention." }
                }
            }
            section.panel aria-labelledby="fb-h" {
                h2 #fb-h { "Fallback routes" }
                p.muted.small { "One route per line: " code { "model: fallback, fallback" } ". When a model fails before answering (after its retries), the next one is tried; the run records which model answered. At most 3 fallbacks per model." }
                div.field { label for="fallbacks" { "Routes" } textarea #fallbacks name="fallbacks" rows="4" placeholder="gpt-4o: claude-sonnet-4-0, llama3.1:8b" { (form.fallbacks) } }
            }
            section.panel aria-labelledby="lim-h" {
                h2 #lim-h { "Rate limits (per minute)" }
                p.muted.small { "On top of the instance's limits. Leave empty for no limit." }
                table tabindex="0" {
                    thead { tr { th scope="col" { "Applies to" } th scope="col" { "Requests" } th scope="col" { "Prompt tokens" } } }
                    tbody {
                        (limit_row("The whole workspace", ("workspace_rpm", &form.workspace_rpm), ("workspace_tpm", &form.workspace_tpm)))
                        (limit_row("Each member", ("member_rpm", &form.member_rpm), ("member_tpm", &form.member_tpm)))
                        (limit_row("Each API key", ("key_rpm", &form.key_rpm), ("key_tpm", &form.key_tpm)))
                    }
                }
            }
            button.button.primary type="submit" { "Save gateway settings" }
        }
    };
    Ok(layout(ctx, "Gateway settings", Nav::Workspace, content))
}

async fn page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
) -> Result<Markup> {
    let saved = state.gateway.settings(access.workspace.id).await?;
    let form = SettingsForm::from_settings(&saved);
    render(&state, &ctx, &access, &form, &saved, None).await
}

async fn save(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    client: ClientInfo,
    jar: CookieJar,
    Form(form): Form<SettingsForm>,
) -> Result<Response> {
    let outcome = match form.settings() {
        Ok(settings) => {
            state
                .gateway
                .update_settings(
                    access.auth.user.id,
                    access.workspace.id,
                    settings,
                    Some(client.ip),
                )
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => {
            let jar = set_flash(jar, &state.edge, false, "Saved the gateway settings.");
            let to = paths::ws(paths::WS_GATEWAY, access.workspace.id);
            Ok((jar, Redirect::to(&to)).into_response())
        }
        Err(e @ Error::Invalid { .. }) => {
            let saved = state.gateway.settings(access.workspace.id).await?;
            let page = render(&state, &ctx, &access, &form, &saved, Some(&e)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
    }
}
