//! Analytics pages: `/w/{ws}/analytics` for a workspace's admins and owners, `/admin/analytics`
//! for instance admins (every workspace). Runs, tokens and cost per day, by model, by user and
//! by template, error rates and latency percentiles, budget use; charts drawn as SVG on the
//! server, each with a table of the same numbers and a CSV download.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use time::{Date, Duration};

use super::charts;
use super::views::{Nav, layout, workspace_tabs};
use super::{PageCtx, WebState, paths};
use crate::analytics::{self, Dashboard};
use crate::auth::Action;
use crate::domain::{ALL_WORKSPACES, UsageCounts};
use crate::error::{Error, Result};
use crate::http::extract::Query;
use crate::http::routes::{Permission, Routes, WorkspaceAccess};

/// Adds the analytics pages.
pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(
        paths::WS_ANALYTICS,
        Permission::Workspace(Action::ViewAnalytics),
        workspace_page,
    )
    .get(
        paths::ADMIN_ANALYTICS,
        Permission::Instance(Action::ViewAnalytics),
        instance_page,
    )
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// Sort of the users table: cost (default), runs, tokens or name.
    #[serde(default)]
    sort: String,
    /// Download one table as CSV: daily, models, users or templates.
    #[serde(default)]
    csv: String,
}

use super::views::{DATE, parse_day};

/// The range asked for: the last 30 days up to today by default.
fn range(p: &Params, today: Date) -> Result<(Date, Date)> {
    let to = parse_day("to", &p.to)?.unwrap_or(today);
    let from = parse_day("from", &p.from)?.unwrap_or(to - Duration::days(29));
    analytics::check_range(from, to)?;
    Ok((from, to))
}

async fn workspace_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    access: WorkspaceAccess,
    Query(p): Query<Params>,
) -> Result<Response> {
    let ws = access.workspace.id;
    let today = state.auth.clock().now().date();
    let (from, to) = range(&p, today)?;
    let d = analytics::dashboard(state.auth.store().as_ref(), ws, from, to).await?;
    if !p.csv.is_empty() {
        return csv(&d, &p.csv);
    }
    let settings = state.gateway.settings(ws).await?;
    let spend = state.gateway.month_spend(ws).await?;
    let budget = html! {
        section.panel #budget {
            h2 { "Budget this month" }
            @match settings.budget_usd {
                Some(b) => p { (usd(spend.total_usd)) " of " (usd(b)) " (" (format!("{:.0}", if b > 0.0 { spend.total_usd / b * 100.0 } else { 0.0 })) "%)" },
                None => p { (usd(spend.total_usd)) " spent; no monthly budget is set." },
            }
            @if let Some(m) = settings.member_budget_usd { p.muted { "Each member may spend up to " (usd(m)) " a month." } }
        }
    };
    let here = paths::ws(paths::WS_ANALYTICS, ws);
    let body = page(
        &d,
        &p,
        today,
        &here,
        &format!("Analytics · {}", access.workspace.name.as_str()),
        Some(budget),
    );
    let body = html! { (workspace_tabs(&ctx, paths::WS_ANALYTICS)) (body) };
    Ok(layout(&ctx, "Analytics", Nav::Workspace, body).into_response())
}

async fn instance_page(
    State(state): State<WebState>,
    ctx: PageCtx,
    Query(p): Query<Params>,
) -> Result<Response> {
    let today = state.auth.clock().now().date();
    let (from, to) = range(&p, today)?;
    let d = analytics::dashboard(state.auth.store().as_ref(), ALL_WORKSPACES, from, to).await?;
    if !p.csv.is_empty() {
        return csv(&d, &p.csv);
    }
    let body = html! {
        (super::admin::admin_tabs(paths::ADMIN_ANALYTICS))
        (page(&d, &p, today, paths::ADMIN_ANALYTICS, "Analytics · every workspace", None))
    };
    Ok(layout(&ctx, "Analytics", Nav::Admin, body).into_response())
}

fn usd(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn error_rate(c: &UsageCounts) -> String {
    if c.runs == 0 {
        return "–".into();
    }
    format!("{:.1}%", c.failed as f64 * 100.0 / c.runs as f64)
}

fn ms(v: Option<u64>) -> String {
    v.map_or("–".into(), |v| format!("≤ {} ms", thousands(v)))
}

fn page(
    d: &Dashboard,
    p: &Params,
    today: Date,
    here: &str,
    title: &str,
    extra: Option<Markup>,
) -> Markup {
    let day = |x: Date| x.format(DATE).unwrap_or_default();
    let link = |from: Date, to: Date, sort: &str| {
        let mut s = format!("{here}?from={}&to={}", day(from), day(to));
        if !sort.is_empty() {
            s.push_str(&format!("&sort={sort}"));
        }
        s
    };
    let csv_link = |table: &str| format!("{}&csv={table}", link(d.from, d.to, ""));
    let points = |f: &dyn Fn(&UsageCounts) -> f64| -> Vec<(String, f64)> {
        d.days.iter().map(|(x, c)| (day(*x), f(c))).collect()
    };
    let n = |v: f64| thousands(v.round() as u64);
    let money = |v: f64| usd(v);
    let mut users = d.users.clone();
    match p.sort.as_str() {
        "runs" => users.sort_by_key(|u| std::cmp::Reverse(u.counts.runs)),
        "tokens" => {
            users.sort_by_key(|u| std::cmp::Reverse(u.counts.input_tokens + u.counts.output_tokens))
        }
        "name" => users.sort_by_key(|u| u.label.to_lowercase()),
        _ => {}
    }
    let t = &d.totals;
    html! {
        div.page-head {
            h1 { (title) }
            form.inline method="get" action=(here) {
                label for="from" { "From" }
                input #from name="from" type="date" value=(day(d.from));
                label for="to" { "to" }
                input #to name="to" type="date" value=(day(d.to));
                button.button.small type="submit" { "Show" }
            }
        }
        p.muted.small {
            "Days are UTC. Last "
            a href=(link(today - Duration::days(6), today, "")) { "7" } ", "
            a href=(link(today - Duration::days(29), today, "")) { "30" } ", "
            a href=(link(today - Duration::days(89), today, "")) { "90" } " or "
            a href=(link(today - Duration::days(364), today, "")) { "365" } " days."
        }
        div.stat-grid #totals {
            div.stat { div.muted.small { "Runs" } div.n data-value=(t.runs) { (thousands(t.runs)) } }
            div.stat { div.muted.small { "Tokens (in / out)" } div.n data-value=(t.input_tokens + t.output_tokens) { (thousands(t.input_tokens + t.output_tokens)) } div.muted.small { (thousands(t.input_tokens)) " / " (thousands(t.output_tokens)) } }
            div.stat { div.muted.small { "Cost" } div.n data-value=(t.cost_micro_usd) { (usd(t.cost_usd())) } }
            div.stat { div.muted.small { "Error rate" } div.n { (error_rate(t)) } }
        }
        @if let Some(extra) = extra { (extra) }
        section.panel #daily {
            h2 { "Per day" }
            (charts::columns("Runs per day", &points(&|c| c.runs as f64), &n, true))
            (charts::columns("Tokens per day", &points(&|c| (c.input_tokens + c.output_tokens) as f64), &n, true))
            (charts::columns("Cost per day (USD)", &points(&|c| c.cost_usd()), &money, false))
            details {
                summary { "The same numbers as a table" }
                table tabindex="0" {
                    thead { tr { th { "Day" } th.num { "Runs" } th.num { "Failed" } th.num { "Input tokens" } th.num { "Output tokens" } th.num { "Cost" } } }
                    tbody {
                        @for (x, c) in &d.days {
                            tr { td { (day(*x)) } td.num { (thousands(c.runs)) } td.num { (thousands(c.failed)) } td.num { (thousands(c.input_tokens)) } td.num { (thousands(c.output_tokens)) } td.num { (usd(c.cost_usd())) } }
                        }
                    }
                }
            }
            p { a href=(csv_link("daily")) download { "Download CSV" } }
        }
        section.panel #models {
            h2 { "By model" }
            (charts::bars("Cost by model (USD)", &d.models.iter().map(|m| (m.row.label.clone(), m.row.counts.cost_usd())).collect::<Vec<_>>(), &money))
            (charts::bars("Runs by model", &d.models.iter().map(|m| (m.row.label.clone(), m.row.counts.runs as f64)).collect::<Vec<_>>(), &n))
            table tabindex="0" {
                thead { tr { th { "Model" } th.num { "Runs" } th.num { "Tokens" } th.num { "Cost" } th.num { "Error rate" } th.num { "p50 latency" } th.num { "p95 latency" } } }
                tbody {
                    @for m in &d.models {
                        tr data-key=(m.row.key) { td { (m.row.label) } td.num { (thousands(m.row.counts.runs)) } td.num { (thousands(m.row.counts.input_tokens + m.row.counts.output_tokens)) } td.num { (usd(m.row.counts.cost_usd())) } td.num { (error_rate(&m.row.counts)) } td.num { (ms(m.p50_ms)) } td.num { (ms(m.p95_ms)) } }
                    }
                }
            }
            p.muted.small { "Latency percentiles are the upper bounds of histogram buckets about 40% wide." }
            p { a href=(csv_link("models")) download { "Download CSV" } }
        }
        section.panel #users {
            h2 { "By user" }
            table tabindex="0" {
                thead { tr {
                    th { a href=(link(d.from, d.to, "name")) { "User" } }
                    th.num { a href=(link(d.from, d.to, "runs")) { "Runs" } }
                    th.num { a href=(link(d.from, d.to, "tokens")) { "Tokens" } }
                    th.num { a href=(link(d.from, d.to, "cost")) { "Cost" } }
                    th.num { "Error rate" }
                } }
                tbody {
                    @for u in &users {
                        tr data-key=(u.key) { td { (u.label) } td.num { (thousands(u.counts.runs)) } td.num { (thousands(u.counts.input_tokens + u.counts.output_tokens)) } td.num { (usd(u.counts.cost_usd())) } td.num { (error_rate(&u.counts)) } }
                    }
                }
            }
            p { a href=(csv_link("users")) download { "Download CSV" } }
        }
        section.panel #templates {
            h2 { "Top templates" }
            table tabindex="0" {
                thead { tr { th { "Template" } th.num { "Runs" } th.num { "Tokens" } th.num { "Cost" } } }
                tbody {
                    @for t in d.templates.iter().take(20) {
                        tr data-key=(t.key) { td { (t.label) } td.num { (thousands(t.counts.runs)) } td.num { (thousands(t.counts.input_tokens + t.counts.output_tokens)) } td.num { (usd(t.counts.cost_usd())) } }
                    }
                }
            }
            p { a href=(csv_link("templates")) download { "Download CSV" } }
        }
    }
}

/// One table as CSV, named by its range.
fn csv(d: &Dashboard, table: &str) -> Result<Response> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let counts = |c: &UsageCounts| {
        vec![
            c.runs.to_string(),
            c.failed.to_string(),
            c.input_tokens.to_string(),
            c.output_tokens.to_string(),
            format!("{:.6}", c.cost_usd()),
        ]
    };
    let head = [
        "runs",
        "failed",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    ];
    let write = |w: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        w.write_record(&row).map_err(Error::internal)
    };
    match table {
        "daily" => {
            write(
                &mut w,
                std::iter::once("day")
                    .chain(head)
                    .map(str::to_owned)
                    .collect(),
            )?;
            for (x, c) in &d.days {
                let mut row = vec![x.format(DATE).unwrap_or_default()];
                row.extend(counts(c));
                write(&mut w, row)?;
            }
        }
        "models" => {
            write(
                &mut w,
                std::iter::once("model")
                    .chain(head)
                    .chain(["p50_ms", "p95_ms"])
                    .map(str::to_owned)
                    .collect(),
            )?;
            for m in &d.models {
                let mut row = vec![m.row.label.clone()];
                row.extend(counts(&m.row.counts));
                row.push(m.p50_ms.map(|v| v.to_string()).unwrap_or_default());
                row.push(m.p95_ms.map(|v| v.to_string()).unwrap_or_default());
                write(&mut w, row)?;
            }
        }
        "users" | "templates" => {
            let rows = if table == "users" {
                &d.users
            } else {
                &d.templates
            };
            let first = if table == "users" {
                ["user", "user_id"]
            } else {
                ["template", "template_id"]
            };
            write(
                &mut w,
                first.into_iter().chain(head).map(str::to_owned).collect(),
            )?;
            for r in rows {
                let mut row = vec![super::views::csv_safe(&r.label), r.key.clone()];
                row.extend(counts(&r.counts));
                write(&mut w, row)?;
            }
        }
        _ => {
            return Err(Error::invalid(
                "csv",
                "csv must be daily, models, users or templates",
            ));
        }
    }
    let bytes = w.into_inner().map_err(Error::internal)?;
    let name = format!(
        "promptyard-{table}-{}-{}.csv",
        d.from.format(DATE).unwrap_or_default(),
        d.to.format(DATE).unwrap_or_default()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(usd(0.004), "$0.0040");
        assert_eq!(usd(12.5), "$12.50");
        assert_eq!(crate::web::views::csv_safe("=HYPERLINK()"), "'=HYPERLINK()");
    }
}
