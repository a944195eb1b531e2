//! Run history pages: a workspace's runs (`/w/{ws}/history`) and the user's own runs across
//! their workspaces (`/history`), newest first, with filters by words, user, model, template,
//! state, days and cost. Served from the search index, so a filter over a million runs reads
//! the matching page, not the runs.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use maud::{Markup, html};
use serde::Deserialize;
use time::Time;

use super::views::parse_day as day;
use super::views::{Nav, layout, when};
use super::{PageCtx, WebState, paths};
use crate::auth::Action;
use crate::domain::{Run, RunId, RunState, WorkspaceId};
use crate::error::{Error, Result};
use crate::http::extract::{CurrentUser, Query};
use crate::http::routes::{Permission, Routes, WorkspaceAccess};
use crate::search::query::{self, Filter, Part};
use crate::search::{HistoryFilters, Hit, Scope, SearchRequest, SearchResults, SearchSort, Viewer};

/// Runs per page.
const PAGE: usize = 50;

/// A choice in a filter's list: (id, name).
type Choice = (String, String);

/// Adds the history pages.
pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(
        paths::WS_HISTORY,
        Permission::Workspace(Action::ViewTemplates),
        workspace_page,
    )
    .get(
        paths::MY_HISTORY,
        Permission::Instance(Action::UseWorkspaces),
        my_page,
    )
    .get(
        paths::WS_HISTORY_EXPORT,
        Permission::Workspace(Action::ViewTemplates),
        workspace_export,
    )
    .get(
        paths::MY_HISTORY_EXPORT,
        Permission::Instance(Action::UseWorkspaces),
        my_export,
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    q: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    min_cost: String,
    #[serde(default)]
    max_cost: String,
    #[serde(default)]
    page: usize,
    /// For exports: csv or jsonl.
    #[serde(default)]
    format: String,
}

fn cost(field: &str, s: &str) -> Result<Option<f64>> {
    match s.trim() {
        "" => Ok(None),
        v => match v.trim_start_matches('$').parse::<f64>() {
            Ok(c) if c.is_finite() && c >= 0.0 => Ok(Some(c)),
            _ => Err(Error::invalid(
                field,
                format!("`{v}` is not an amount in USD"),
            )),
        },
    }
}

fn id_filter(field: &str, s: &str) -> Result<Option<String>> {
    match s.trim() {
        "" => Ok(None),
        v if uuid::Uuid::parse_str(v).is_ok() => Ok(Some(v.to_owned())),
        v => Err(Error::invalid(field, format!("`{v}` is not an id"))),
    }
}

/// The search for `p` as `viewer`, within `workspace` or the viewer's own runs.
fn request(
    p: &Params,
    viewer: Viewer,
    workspace: Option<WorkspaceId>,
    mine: bool,
) -> Result<SearchRequest> {
    let mut parsed = query::parse(&p.q)?;
    if !p.model.trim().is_empty() {
        parsed
            .must
            .push(Part::Field(Filter::Model, p.model.trim().to_owned()));
    }
    if !p.state.is_empty() {
        let s = RunState::parse(&p.state).ok_or_else(|| {
            Error::invalid(
                "state",
                "state must be completed, failed, truncated or cancelled",
            )
        })?;
        parsed
            .must
            .push(Part::Field(Filter::State, s.as_str().to_owned()));
    }
    if let Some(d) = day("from", &p.from)? {
        parsed.after = Some(d.with_time(Time::MIDNIGHT).assume_utc());
    }
    if let Some(d) = day("to", &p.to)? {
        parsed.before = Some(
            d.next_day()
                .unwrap_or(d)
                .with_time(Time::MIDNIGHT)
                .assume_utc(),
        );
    }
    let (min_cost, max_cost) = (
        cost("min_cost", &p.min_cost)?,
        cost("max_cost", &p.max_cost)?,
    );
    let user = if mine {
        Some(viewer.user.clone())
    } else {
        id_filter("user", &p.user)?
    };
    Ok(SearchRequest {
        scope: Scope::History,
        parsed,
        sort: SearchSort::Newest,
        offset: p.page.min(10_000).saturating_mul(PAGE),
        limit: PAGE,
        filters: HistoryFilters {
            workspace: workspace.map(|w| w.to_string()),
            user,
            template: id_filter("template", &p.template)?,
            min_cost,
            max_cost,
        },
        viewer,
    })
}

fn viewer_of(ctx: &PageCtx, user: String) -> Viewer {
    Viewer {
        user,
        workspaces: ctx
            .workspaces
            .iter()
            .map(|(w, _)| w.id.to_string())
            .collect(),
        moderator: false,
    }
}

async fn workspace_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Query(p): Query<Params>,
) -> Result<Markup> {
    let ws = access.workspace.id;
    let viewer = viewer_of(&ctx, access.auth.user.id.to_string());
    let req = request(&p, viewer, Some(ws), false)?;
    let results = state.search.search(req).await?;
    let store = state.auth.store();
    let members: Vec<(String, String)> = store
        .list_members(ws)
        .await?
        .into_iter()
        .map(|m| (m.member.user_id.to_string(), m.name))
        .collect();
    let templates: Vec<(String, String)> = store
        .list_templates(Some(ws))
        .await?
        .into_iter()
        .map(|t| (t.id.to_string(), t.name))
        .collect();
    let here = paths::ws(paths::WS_HISTORY, ws);
    let body = page(
        &format!("History · {}", access.workspace.name.as_str()),
        &here,
        &p,
        &results,
        Some((&members, &templates)),
        state.search.status.rebuild_percent(),
    );
    Ok(layout(&ctx, "History", Nav::History, body))
}

async fn my_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Query(p): Query<Params>,
) -> Result<Markup> {
    let viewer = viewer_of(&ctx, auth.user.id.to_string());
    let req = request(&p, viewer, None, true)?;
    let results = state.search.search(req).await?;
    let body = page(
        "My runs",
        paths::MY_HISTORY,
        &p,
        &results,
        None,
        state.search.status.rebuild_percent(),
    );
    Ok(layout(&ctx, "My runs", Nav::History, body))
}

fn page(
    title: &str,
    here: &str,
    p: &Params,
    r: &SearchResults,
    choices: Option<(&[Choice], &[Choice])>,
    rebuilding: Option<u8>,
) -> Markup {
    let link = |page: usize| format!("{here}?{}&page={page}", filter_query(p));
    let shown_from = p.page * PAGE + 1;
    let shown_to = p.page * PAGE + r.hits.len();
    html! {
        h1 { (title) }
        @if let Some(pct) = rebuilding {
            div.flash.flash-error role="status" { "The search index is rebuilding (" (pct) "%); the history is incomplete until it finishes." }
        }
        form.stack.panel #history-filters method="get" action=(here) {
            div.field-row {
                div.field.grow { label for="h-q" { "Words" } input #h-q name="q" type="search" value=(p.q) placeholder="words, \"phrases\", prefix*"; }
                @if let Some((members, _)) = choices {
                    div.field { label for="h-user" { "User" } select #h-user name="user" { option value="" { "Anyone" } @for (id, name) in members { option value=(id) selected[*id == p.user] { (name) } } } }
                }
                div.field { label for="h-model" { "Model" } input #h-model name="model" type="text" value=(p.model) list="h-models"; datalist #h-models { @for (m, _) in &r.models { option value=(m) {} } } }
                @if let Some((_, templates)) = choices {
                    div.field { label for="h-template" { "Template" } select #h-template name="template" { option value="" { "Any" } @for (id, name) in templates { option value=(id) selected[*id == p.template] { (name) } } } }
                }
                div.field { label for="h-state" { "State" } select #h-state name="state" {
                    option value="" { "Any" }
                    @for s in ["completed", "failed", "truncated", "cancelled"] { option value=(s) selected[p.state == s] { (s) } }
                } }
            }
            div.field-row {
                div.field { label for="h-from" { "From" } input #h-from name="from" type="date" value=(p.from); }
                div.field { label for="h-to" { "To" } input #h-to name="to" type="date" value=(p.to); }
                div.field { label for="h-min" { "Cost at least (USD)" } input #h-min name="min_cost" type="number" step="any" min="0" value=(p.min_cost); }
                div.field { label for="h-max" { "Cost at most (USD)" } input #h-max name="max_cost" type="number" step="any" min="0" value=(p.max_cost); }
                div.actions { button.button.primary type="submit" { "Filter" } a.button href=(here) { "Clear" } }
            }
        }
        p.small {
            "Export these runs: "
            a href=(export_link(here, p, "csv")) download { "CSV" } " · "
            a href=(export_link(here, p, "jsonl")) download { "JSON lines" }
        }
        p.muted.small #history-count {
            @if r.total == 0 { "No runs match." } @else { "Runs " (shown_from) "–" (shown_to) " of " (r.total) ", newest first." }
        }
        @if !r.hits.is_empty() {
            div.table-wrap {
                table #history tabindex="0" {
                    thead { tr { th { "Time" } th { "Template" } th { "Model" } th { "User" } th.num { "Tokens (in / out)" } th.num { "Cost" } th.num { "Latency" } th { "State" } } }
                    tbody { @for h in &r.hits { (row(h)) } }
                }
            }
        }
        nav.pager {
            @if p.page > 0 { a.button.small href=(link(p.page - 1)) { "Newer" } }
            @if (p.page + 1) * PAGE < r.total as usize { " " a.button.small href=(link(p.page + 1)) { "Older" } }
        }
    }
}

fn row(h: &Hit) -> Markup {
    let href = h
        .workspace
        .as_ref()
        .map(|ws| format!("/w/{ws}/runs/{}", h.id))
        .unwrap_or_default();
    html! {
        tr data-run=(h.id) {
            td { a href=(href) { @match h.time { Some(t) => (when(t)), None => "–" } } }
            td { @if h.template.is_empty() { span.muted { "–" } } @else { (h.template) } }
            td { @for m in &h.models { code { (m) } } }
            td { (h.user.rsplit_once(' ').map_or(h.user.as_str(), |(name, _email)| name)) }
            td.num { (h.input_tokens) " / " (h.output_tokens) }
            td.num { (super::views::cost(Some(h.cost))) }
            td.num { (h.latency_ms) " ms" }
            td { span.badge { (h.state) } }
        }
    }
}

/// The most runs one export holds.
const MAX_EXPORT: usize = 1_000_000;

fn export_link(here: &str, p: &Params, format: &str) -> String {
    format!("{here}/export?format={format}&{}", filter_query(p))
}

/// The filters of `p` as a query string (without the page).
fn filter_query(p: &Params) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("q", &p.q),
            ("user", &p.user),
            ("model", &p.model),
            ("template", &p.template),
            ("state", &p.state),
            ("from", &p.from),
            ("to", &p.to),
            ("min_cost", &p.min_cost),
            ("max_cost", &p.max_cost),
        ])
        .finish()
}

async fn workspace_export(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Query(p): Query<Params>,
) -> Result<Response> {
    let viewer = viewer_of(&ctx, access.auth.user.id.to_string());
    let req = request(&p, viewer, Some(access.workspace.id), false)?;
    export(&state, req, &p.format).await
}

async fn my_export(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Query(p): Query<Params>,
) -> Result<Response> {
    let viewer = viewer_of(&ctx, auth.user.id.to_string());
    let req = request(&p, viewer, None, true)?;
    export(&state, req, &p.format).await
}

/// The CSV columns of an export.
const CSV_COLUMNS: &[&str] = &[
    "id",
    "created_at",
    "workspace_id",
    "user_id",
    "template_id",
    "template_version",
    "model",
    "requested_model",
    "provider",
    "state",
    "cached",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "error",
    "prompt",
    "output",
];

fn csv_row(run: &Run) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    vec![
        run.id.to_string(),
        run.created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        run.workspace_id.to_string(),
        run.user_id.to_string(),
        opt(run.template_id.map(|t| t.to_string())),
        opt(run.template_version.map(|v| v.to_string())),
        super::views::csv_safe(&run.model),
        super::views::csv_safe(run.requested_model.as_deref().unwrap_or_default()),
        opt(run.provider.map(|p| p.as_str().to_owned())),
        run.state.to_string(),
        run.cached.to_string(),
        run.input_tokens.to_string(),
        run.output_tokens.to_string(),
        opt(run.cost_usd.map(|c| format!("{c:.6}"))),
        run.latency_ms.to_string(),
        opt(run.ttft_ms.map(|t| t.to_string())),
        super::views::csv_safe(run.error.as_deref().unwrap_or_default()),
        super::views::csv_safe(&run.prompt),
        super::views::csv_safe(&run.output),
    ]
}

/// Streams the runs `req` matches, newest first, as CSV or JSON lines: the matching ids come
/// from the index, the runs from the store 200 at a time, so the export is never held whole.
async fn export(state: &WebState, req: SearchRequest, format: &str) -> Result<Response> {
    let jsonl = match format {
        "csv" => false,
        "jsonl" => true,
        _ => return Err(Error::invalid("format", "format must be csv or jsonl")),
    };
    let ids = state.search.matching_ids(req, MAX_EXPORT).await?;
    let store = state.auth.store().clone();
    let head = if jsonl {
        Vec::new()
    } else {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_COLUMNS).map_err(Error::internal)?;
        w.into_inner().map_err(Error::internal)?
    };
    let chunks: Vec<Vec<String>> = ids.chunks(200).map(<[String]>::to_vec).collect();
    let rows = futures_util::stream::iter(chunks).then(move |chunk| {
        let store = store.clone();
        async move {
            let mut buf = Vec::new();
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            for id in chunk {
                let Ok(id) = id.parse::<RunId>() else {
                    continue;
                };
                let run = match store.get_run(id).await {
                    Ok(run) => run,
                    // Deleted since it was indexed.
                    Err(Error::NotFound) => continue,
                    Err(e) => return Err(std::io::Error::other(e.to_string())),
                };
                if jsonl {
                    serde_json::to_writer(&mut buf, &run).map_err(std::io::Error::other)?;
                    buf.push(b'\n');
                } else {
                    w.write_record(csv_row(&run))
                        .map_err(std::io::Error::other)?;
                }
            }
            if !jsonl {
                buf = w
                    .into_inner()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            Ok::<Bytes, std::io::Error>(Bytes::from(buf))
        }
    });
    let body = Body::from_stream(
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(head)) })
            .chain(rows),
    );
    let (mime, ext) = if jsonl {
        ("application/x-ndjson", "jsonl")
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"promptyard-runs.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
