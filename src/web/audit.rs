//! The audit log: every workspace's events for instance admins (`/admin/audit`), and one
//! workspace's for its admins and owners (`/w/{ws}/audit`), filtered by kind of action, by who
//! acted and by day, with a CSV download of the same filter.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use time::{Duration, OffsetDateTime, Time};

use super::admin::admin_tabs;
use super::views::{Nav, csv_safe, empty, form_errors, layout, parse_day, when, workspace_tabs};
use super::{PageCtx, WebState, paths};
use crate::auth::Action;
use crate::domain::{AuditEvent, AuditFilter, AuditId, UserId, WorkspaceId};
use crate::error::{Error, Result};
use crate::http::extract::Query;
use crate::http::routes::{Permission, Routes, WorkspaceAccess};

/// The audit pages and their CSV downloads.
pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(
        paths::ADMIN_AUDIT,
        Permission::Instance(Action::ViewAuditLog),
        instance_page,
    )
    .get(
        paths::WS_AUDIT,
        Permission::Workspace(Action::ViewAuditLog),
        workspace_page,
    )
}

const PAGE_SIZE: usize = 50;
/// Most rows one CSV download holds.
const CSV_MAX: usize = 100_000;

/// The kinds of action offered in the filter: (value, label). A value ending in `.` is a prefix.
const KINDS: &[(&str, &str)] = &[
    ("", "Everything"),
    ("login", "Logins"),
    ("login.failed", "Failed logins"),
    ("user.", "Accounts and admin roles"),
    ("identity.", "Linked sign-in accounts"),
    ("member.", "Member roles"),
    ("invite.", "Invites"),
    ("api_key.", "API keys"),
    ("connection.", "Provider connections"),
    ("workspace.gateway_settings", "Budgets and gateway settings"),
    ("community.", "Community moderation"),
    ("template.", "Templates"),
    ("workspace.", "Workspaces"),
    ("run.", "Runs"),
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    /// A kind from `KINDS`, or any action name.
    #[serde(default)]
    action: String,
    /// The email of whoever acted.
    #[serde(default)]
    who: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
    /// `csv` downloads the filtered events.
    #[serde(default)]
    format: String,
}

fn day_start(field: &str, s: &str) -> Result<Option<OffsetDateTime>> {
    Ok(parse_day(field, s)?.map(|d| d.with_time(Time::MIDNIGHT).assume_utc()))
}

async fn filter_of(state: &WebState, p: &Params, ws: Option<WorkspaceId>) -> Result<AuditFilter> {
    let action = p.action.trim();
    if action.len() > 100 || action.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid("action", "that is not an action name"));
    }
    let actor = match p.who.trim() {
        "" => None,
        who => Some(
            state
                .auth
                .store()
                .find_user_by_email(&who.to_lowercase())
                .await?
                .ok_or_else(|| Error::invalid("who", format!("no account has the email {who}")))?
                .id,
        ),
    };
    let from = day_start("from", &p.from)?;
    // `to` is the last day shown, so the filter ends at the start of the next.
    let to = day_start("to", &p.to)?.map(|t| t + Duration::days(1));
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(Error::invalid("to", "the last day is before the first"));
    }
    Ok(AuditFilter {
        workspace: ws,
        actor,
        action: (!action.is_empty()).then(|| action.to_owned()),
        from,
        to,
    })
}

/// The user a target such as `user:<id>` names.
fn target_user(target: Option<&str>) -> Option<UserId> {
    target?.strip_prefix("user:")?.parse().ok()
}

/// A target as shown: a user target by their email when the account still exists.
fn target_label(e: &AuditEvent, names: &HashMap<UserId, String>) -> String {
    match target_user(e.target.as_deref()).and_then(|id| names.get(&id)) {
        Some(email) => format!("user {email}"),
        None => e.target.clone().unwrap_or_default(),
    }
}

/// Emails of the actors and user targets of `events`; gone accounts are left out.
async fn actor_emails(state: &WebState, events: &[AuditEvent]) -> HashMap<UserId, String> {
    let mut names = HashMap::new();
    let mut people: Vec<UserId> = Vec::new();
    for e in events {
        people.extend(e.actor);
        people.extend(target_user(e.target.as_deref()));
    }
    for actor in people {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(actor)
            && let Ok(u) = state.auth.store().get_user(actor).await
        {
            slot.insert(u.email.to_string());
        }
    }
    names
}

async fn instance_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(p): Query<Params>,
) -> Result<Response> {
    render(&state, &ctx, &p, None, paths::ADMIN_AUDIT.to_owned()).await
}

async fn workspace_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Query(p): Query<Params>,
) -> Result<Response> {
    let ws = access.workspace.id;
    render(&state, &ctx, &p, Some(ws), paths::ws(paths::WS_AUDIT, ws)).await
}

async fn render(
    state: &WebState,
    ctx: &PageCtx,
    p: &Params,
    ws: Option<WorkspaceId>,
    here: String,
) -> Result<Response> {
    let filter = match filter_of(state, p, ws).await {
        Ok(f) => f,
        Err(e @ Error::Invalid { .. }) => {
            let page = page(ctx, p, ws.is_some(), &here, Err(&e), &HashMap::new());
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(e),
    };
    if p.format == "csv" {
        return csv(state, &filter).await;
    }
    if !p.format.is_empty() {
        return Err(Error::invalid("format", "use format=csv or leave it out"));
    }
    let before: Option<AuditId> = match p.before.trim() {
        "" => None,
        s => Some(
            s.parse()
                .map_err(|_| Error::invalid("before", "that page cursor is not valid"))?,
        ),
    };
    let events = state
        .auth
        .store()
        .list_audit_events(&filter, before, PAGE_SIZE)
        .await?;
    let names = actor_emails(state, &events.items).await;
    let page = page(ctx, p, ws.is_some(), &here, Ok(&events), &names);
    Ok(page.into_response())
}

fn query(p: &Params, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("action", &p.action),
        ("who", &p.who),
        ("from", &p.from),
        ("to", &p.to),
    ] {
        if !v.trim().is_empty() {
            q.append_pair(k, v.trim());
        }
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.finish()
}

fn page(
    ctx: &PageCtx,
    p: &Params,
    in_workspace: bool,
    here: &str,
    events: std::result::Result<&crate::domain::Page<AuditEvent, AuditId>, &Error>,
    names: &HashMap<UserId, String>,
) -> Markup {
    let known = KINDS.iter().any(|(v, _)| *v == p.action.trim());
    let content = html! {
        @if in_workspace {
            h1 { "Audit log" }
            (workspace_tabs(ctx, paths::WS_AUDIT))
            p.muted { "What happened in " (ctx.current.as_ref().map(|(w, _)| w.name.to_string()).unwrap_or_default()) ": members, invites, templates, providers, budgets, API keys, runs." }
        } @else {
            h1 { "Administration" }
            (admin_tabs(paths::ADMIN_AUDIT))
        }
        section.panel aria-labelledby="audit-h" {
            h2 #audit-h { @if in_workspace { "Events" } @else { "Audit log" } }
            form.filters.audit-filters method="get" action=(here) {
                div.field {
                    label for="audit-action" { "What" }
                    select #audit-action name="action" {
                        @for (value, label) in KINDS {
                            option value=(value) selected[*value == p.action.trim()] { (label) }
                        }
                        @if !known {
                            option value=(p.action.trim()) selected { (p.action.trim()) }
                        }
                    }
                }
                div.field {
                    label for="audit-who" { "Who (email)" }
                    input #audit-who type="email" name="who" value=(p.who);
                }
                div.field {
                    label for="audit-from" { "From" }
                    input #audit-from type="date" name="from" value=(p.from);
                }
                div.field {
                    label for="audit-to" { "To" }
                    input #audit-to type="date" name="to" value=(p.to);
                }
                div.filter-actions {
                    button.button type="submit" { "Filter" }
                    a.button href=(format!("{here}?{}", query(p, &[("format", "csv")]))) { "Download CSV" }
                }
            }
            @match events {
                Err(e) => (form_errors(Some(e))),
                Ok(events) => {
                    @if events.items.is_empty() {
                        (empty("No events match."))
                    } @else {
                        div.table-wrap {
                            table tabindex="0" {
                                thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Target" } th { "Address" } th { "Detail" } } }
                                tbody {
                                    @for e in &events.items {
                                        tr {
                                            td { (when(e.at)) }
                                            td { (e.actor.and_then(|a| names.get(&a).cloned()).unwrap_or_else(|| actor_label(e))) }
                                            td { code { (e.action) } }
                                            td { @match target_label(e, names).as_str() { "" => "-", t => (t) } }
                                            td { (e.ip.as_deref().unwrap_or("-")) }
                                            td { (e.detail) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(next) = events.next {
                        p { a.button.small href=(format!("{here}?{}", query(p, &[("before", &next.to_string())]))) { "Older events" } }
                    }
                }
            }
        }
    };
    layout(
        ctx,
        "Audit log",
        if in_workspace {
            Nav::Workspace
        } else {
            Nav::Admin
        },
        content,
    )
}

/// Who acted, for an event whose actor is gone or was not a user.
fn actor_label(e: &AuditEvent) -> String {
    match e.actor {
        Some(id) => format!("(deleted user {id})"),
        None => "system".to_owned(),
    }
}

async fn csv(state: &WebState, filter: &AuditFilter) -> Result<Response> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "time",
        "actor",
        "action",
        "target",
        "ip",
        "detail",
        "workspace",
    ];
    out.write_record(header).map_err(Error::internal)?;
    let mut before = None;
    let mut rows = 0;
    loop {
        let page = state
            .auth
            .store()
            .list_audit_events(filter, before, crate::store::MAX_PAGE)
            .await?;
        let names = actor_emails(state, &page.items).await;
        for e in &page.items {
            let at =
                e.at.format(&time::format_description::well_known::Rfc3339)
                    .map_err(Error::internal)?;
            let who = e
                .actor
                .and_then(|a| names.get(&a).cloned())
                .unwrap_or_else(|| actor_label(e));
            let ws = e.workspace.map(|w| w.to_string()).unwrap_or_default();
            let record = [
                at,
                csv_safe(&who),
                csv_safe(&e.action),
                csv_safe(&target_label(e, &names)),
                csv_safe(e.ip.as_deref().unwrap_or("")),
                csv_safe(&e.detail),
                ws,
            ];
            out.write_record(&record).map_err(Error::internal)?;
            rows += 1;
        }
        match page.next {
            Some(next) if rows < CSV_MAX => before = Some(next),
            _ => break,
        }
    }
    let bytes = out.into_inner().map_err(Error::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}
