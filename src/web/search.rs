//! The search page (`/search`): run history or the community library, with the query language,
//! sorting, counts by tag and model (click to filter) and paging. The page works without
//! script; `search.js` refreshes the results as you type from `/api/search`.

use axum::extract::State;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::views::{Nav, form_errors, layout, when};
use super::{PageCtx, WebState, paths};
use crate::auth::Action;
use crate::error::{Error, Result};
use crate::http::assets::asset_url;
use crate::http::extract::{CurrentUser, Query};
use crate::http::routes::{Permission, Routes};
use crate::search::{Kind, Scope, SearchRequest, SearchResults, SearchSort, Viewer, query};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.get(
        paths::SEARCH,
        Permission::Instance(Action::UseCommunity),
        page,
    )
}

const PAGE: usize = 20;

#[derive(Deserialize, Default)]
struct Params {
    #[serde(default)]
    q: String,
    #[serde(default)]
    scope: Option<Scope>,
    #[serde(default)]
    sort: Option<SearchSort>,
    #[serde(default)]
    page: usize,
    /// Filters from the form's controls, added to the query.
    #[serde(default)]
    state: String,
    #[serde(default)]
    model: String,
}

/// Run states the history filter offers.
const STATES: [&str; 4] = ["completed", "failed", "truncated", "cancelled"];

/// The query with the form's filter controls added as `state:` and `model:` terms.
fn effective_query(p: &Params) -> String {
    let mut q = p.q.trim().to_owned();
    for (name, value) in [("state", p.state.trim()), ("model", p.model.trim())] {
        if !value.is_empty() {
            let value = if value.contains(' ') {
                format!("\"{value}\"")
            } else {
                value.to_owned()
            };
            q = format!("{q} {name}:{value}").trim().to_owned();
        }
    }
    q
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::History => "history",
        Scope::Community => "community",
    }
}

fn sort_name(s: SearchSort) -> &'static str {
    match s {
        SearchSort::Relevance => "relevance",
        SearchSort::Newest => "newest",
        SearchSort::Rating => "rating",
        SearchSort::Usage => "usage",
    }
}

/// The results list (also what the script rebuilds).
fn results_view(scope: Scope, q: &str, r: &SearchResults, rebuilding: Option<u8>) -> Markup {
    let add = |filter: &str, value: &str| {
        let value = if value.contains(' ') {
            format!("\"{value}\"")
        } else {
            value.to_owned()
        };
        let q2 = format!("{} {filter}:{value}", q.trim()).trim().to_owned();
        format!(
            "{}?scope={}&q={}",
            paths::SEARCH,
            scope_name(scope),
            enc(&q2)
        )
    };
    html! {
        @if let Some(p) = rebuilding {
            div.flash.flash-error role="status" { "The search index is rebuilding (" (p) "%); results are incomplete until it finishes." }
        }
        p.muted.small #search-count { (r.total) " results" }
        @if !r.tags.is_empty() || !r.models.is_empty() {
            div.facets.small {
                @if !r.tags.is_empty() { span { "Tags: " } @for (t, n) in &r.tags { a.tag href=(add("tag", t)) { "#" (t) " (" (n) ")" } " " } }
                @if !r.models.is_empty() { span { " Models: " } @for (m, n) in &r.models { a.tag href=(add("model", m)) { (m) " (" (n) ")" } " " } }
            }
        }
        ol.results #search-results {
            @for h in &r.hits {
                li.card {
                    @let href = match (h.kind, &h.workspace) {
                        (Kind::Prompt, _) => format!("/community/p/{}", h.id),
                        (Kind::Run, Some(ws)) => format!("/w/{ws}/runs/{}", h.id),
                        (Kind::Run, None) => String::new(),
                    };
                    h3 { a href=(href) { (if h.title.is_empty() { "(untitled)" } else { h.title.as_str() }) } " " span.badge { (h.state) } }
                    p.snippet { (PreEscaped(&h.snippet_html)) }
                    p.meta.small {
                        @if let Some(t) = h.time { (when(t)) " · " }
                        @for m in &h.models { code { (m) } " " }
                        @if h.kind == Kind::Prompt { "★ " (format!("{:.1}", h.rating)) " · used " (h.usage) }
                    }
                }
            }
        }
    }
}

async fn page(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Query(p): Query<Params>,
) -> Result<Markup> {
    let scope = p.scope.unwrap_or(Scope::History);
    let sort = p.sort.unwrap_or_default();
    let full = effective_query(&p);
    let parsed = query::parse(&full);
    let mut error: Option<Error> = None;
    let mut results = None;
    match parsed {
        Ok(parsed) => {
            let standing = state.community.standing(&auth.user).await?;
            let viewer = Viewer {
                user: auth.user.id.to_string(),
                workspaces: ctx
                    .workspaces
                    .iter()
                    .map(|(w, _)| w.id.to_string())
                    .collect(),
                moderator: standing.moderator,
            };
            let req = SearchRequest {
                scope,
                parsed,
                viewer,
                sort,
                offset: p.page.saturating_mul(PAGE),
                limit: PAGE,
                filters: Default::default(),
            };
            results = Some(state.search.search(req).await?);
        }
        Err(e) => error = Some(e),
    }
    let rebuilding = state.search.status.rebuild_percent();
    let sorts: &[SearchSort] = match scope {
        Scope::History => &[SearchSort::Relevance, SearchSort::Newest],
        Scope::Community => &[
            SearchSort::Relevance,
            SearchSort::Newest,
            SearchSort::Rating,
            SearchSort::Usage,
        ],
    };
    let link = |scope: Scope, page: usize| {
        format!(
            "{}?scope={}&sort={}&q={}&state={}&model={}&page={page}",
            paths::SEARCH,
            scope_name(scope),
            sort_name(sort),
            enc(&p.q),
            enc(&p.state),
            enc(&p.model)
        )
    };
    let content = html! {
        h1 { "Search" }
        nav.tabs aria-label="What to search" {
            a href=(link(Scope::History, 0)) aria-current=[(scope == Scope::History).then_some("page")] { "Run history" }
            a href=(link(Scope::Community, 0)) aria-current=[(scope == Scope::Community).then_some("page")] { "Community library" }
        }
        form.stack #search-form method="get" action=(paths::SEARCH) role="search" data-api="/api/search" {
            input type="hidden" name="scope" value=(scope_name(scope));
            div.field-row {
                div.field.grow {
                    label for="search-q" { "Search" }
                    input #search-q name="q" type="search" value=(p.q) autocomplete="off" maxlength="500"
                        placeholder="words, \"a phrase\", pref*, -word, tag:sql, model:gpt-4o, user:ann, template:name, state:failed, after:2026-01-01";
                }
                @if scope == Scope::History {
                    div.field {
                        label for="search-state" { "State" }
                        select #search-state name="state" {
                            option value="" { "Any" }
                            @for st in STATES { option value=(st) selected[p.state == st] { (st) } }
                        }
                    }
                    div.field {
                        label for="search-model" { "Model" }
                        input #search-model name="model" value=(p.model) list="search-models" placeholder="any" maxlength="200";
                        datalist #search-models {
                            @if let Some(r) = &results { @for (m, _) in &r.models { option value=(m) {} } }
                        }
                    }
                }
                div.field {
                    label for="search-sort" { "Sort" }
                    select #search-sort name="sort" {
                        @for s in sorts { option value=(sort_name(*s)) selected[*s == sort] { (match s { SearchSort::Relevance => "Best match", SearchSort::Newest => "Newest", SearchSort::Rating => "Top rated", SearchSort::Usage => "Most used" }) } }
                    }
                }
                button.button.primary type="submit" { "Search" }
            }
        }
        div #search-error role="alert" { (form_errors(error.as_ref())) }
        div #search-body {
            @if let Some(r) = &results {
                (results_view(scope, &full, r, rebuilding))
                @let pages = r.total.div_ceil(PAGE as u64) as usize;
                @if pages > 1 {
                    nav.pager aria-label="Pages" {
                        @if p.page > 0 { a href=(link(scope, p.page - 1)) rel="prev" { "← Previous" } }
                        span { "Page " (p.page + 1) " of " (pages) }
                        @if p.page + 1 < pages { a href=(link(scope, p.page + 1)) rel="next" { "Next →" } }
                    }
                }
            }
        }
        script type="module" src=(asset_url("search.js")) {}
    };
    Ok(layout(&ctx, "Search", Nav::Search, content))
}
