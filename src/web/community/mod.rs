//! The community library's pages: browse (sort, tag and model filters, paging), submit (from
//! scratch or prefilled from a template), a prompt's page (examples, rating, comments, flag,
//! fork, run in the playground, and for moderators the decision form and history), the
//! moderation queue, and author pages. The rules live in `crate::community`; every
//! user-written text is escaped by maud, and Markdown goes through `http::markdown`.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::views::{Nav, layout, when};
use super::{PageCtx, WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::community::Moderation;
use crate::domain::community::Sort;
use crate::domain::{
    CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery, PromptStatus, Role, UserId,
    WorkspaceId,
};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Form, Path, Query};
use crate::http::markdown;
use crate::http::routes::{Permission, Routes};

mod submit;
use submit::{new_form, submit};

/// Page paths.
pub const BROWSE: &str = "/community";
/// The submission form.
pub const NEW: &str = paths::COMMUNITY_NEW;
/// The moderation queue.
pub const QUEUE: &str = "/community/queue";
/// One prompt.
pub const PROMPT: &str = "/community/p/{id}";
/// A moderation decision.
pub const MODERATE: &str = "/community/p/{id}/moderate";
/// Rating.
pub const RATE: &str = "/community/p/{id}/rate";
/// Adding a comment.
pub const COMMENTS: &str = "/community/p/{id}/comments";
/// Flagging.
pub const FLAG: &str = "/community/p/{id}/flag";
/// Forking.
pub const FORK: &str = "/community/p/{id}/fork";
/// Editing a comment.
pub const COMMENT_EDIT: &str = "/community/comments/{id}/edit";
/// Deleting a comment.
pub const COMMENT_DELETE: &str = "/community/comments/{id}/delete";
/// An author's page.
pub const AUTHOR: &str = "/community/authors/{id}";
/// An author's moderator and trusted marks (admins).
pub const STANDING: &str = "/community/authors/{id}/standing";

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let p = Permission::Instance(Action::UseCommunity);
    r.get(BROWSE, p, browse)
        .post(BROWSE, p, submit)
        .get(NEW, p, new_form)
        .get(QUEUE, p, queue)
        .get(PROMPT, p, show)
        .post(MODERATE, p, moderate)
        .post(RATE, p, rate)
        .post(COMMENTS, p, add_comment)
        .post(FLAG, p, flag)
        .post(FORK, p, fork)
        .post(COMMENT_EDIT, p, edit_comment)
        .post(COMMENT_DELETE, p, delete_comment)
        .get(AUTHOR, p, author)
        .post(
            STANDING,
            Permission::Instance(Action::ManageUsers),
            set_standing,
        )
}

const PAGE: usize = 20;

fn prompt_path(id: CommunityPromptId) -> String {
    paths::with_id(PROMPT, id)
}

fn author_path(id: UserId) -> String {
    paths::with_id(AUTHOR, id)
}

/// The person shown by a prompt, comment or decision: picture and name.
async fn name_of(state: &WebState, id: UserId) -> Result<super::profile::Person> {
    super::profile::Person::load(state, id).await
}

fn stars(p: &CommunityPrompt) -> Markup {
    html! {
        @match p.average() {
            Some(avg) => span.rating title=(format!("{avg:.2} from {} ratings", p.rating_count)) {
                "★ " (format!("{avg:.1}")) span.muted { " (" (p.rating_count) ")" }
            },
            None => span.muted { "not rated yet" },
        }
    }
}

fn used(n: u64) -> String {
    match n {
        0 => "not used yet".into(),
        1 => "used once".into(),
        n => format!("used {n} times"),
    }
}

fn status_badge(s: PromptStatus) -> Markup {
    html! { span class=(format!("badge status-{}", s.as_str())) { (s.as_str()) } }
}

async fn card(state: &WebState, p: &CommunityPrompt) -> Result<Markup> {
    let author = name_of(state, p.author).await?;
    Ok(html! {
        li.card {
            h3 { a href=(prompt_path(p.id)) { (p.content.name) } " " @if p.status != PromptStatus::Approved { (status_badge(p.status)) } }
            @if !p.content.description.is_empty() { p { (p.content.description) } }
            p.meta.small {
                "by " a href=(author_path(p.author)) { (author) } " · " (stars(p)) " · " (used(p.usage_count))
                @for t in &p.content.tags { " " a.tag href=(format!("{BROWSE}?tag={}", urlencoding(t))) { "#" (t) } }
            }
        }
    })
}

/// Percent-encodes a query value.
fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Deserialize, Default)]
struct BrowseQuery {
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    page: usize,
}

fn parse_sort(s: Option<&str>) -> Result<Sort> {
    match s.unwrap_or("top") {
        "top" => Ok(Sort::Top),
        "used" => Ok(Sort::Used),
        "new" => Ok(Sort::New),
        other => Err(Error::invalid(
            "sort",
            format!("unknown order `{other}`: use top, used or new"),
        )),
    }
}

async fn browse(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Query(q): Query<BrowseQuery>,
) -> Result<Markup> {
    let viewer = state.community.standing(&auth.user).await?;
    let sort = parse_sort(q.sort.as_deref())?;
    let tag = q.tag.trim().to_lowercase();
    let model = q.model.trim().to_owned();
    let query = CommunityQuery {
        viewer: Some(viewer.clone()),
        statuses: vec![PromptStatus::Approved],
        tag: (!tag.is_empty()).then(|| tag.clone()),
        model: (!model.is_empty()).then(|| model.clone()),
        sort,
        offset: q.page.saturating_mul(PAGE),
        limit: PAGE,
        ..CommunityQuery::default()
    };
    let (items, total) = state.community.list(&query).await?;
    let mut cards = Vec::with_capacity(items.len());
    for p in &items {
        cards.push(card(&state, p).await?);
    }
    let pages = total.div_ceil(PAGE as u64) as usize;
    let link = |sort: &str, page: usize| {
        format!(
            "{BROWSE}?sort={sort}&tag={}&model={}&page={page}",
            urlencoding(&tag),
            urlencoding(&model)
        )
    };
    let sort_name = match sort {
        Sort::Top => "top",
        Sort::Used => "used",
        Sort::New => "new",
    };
    // Moderators see how much waits for them (counted once per page, for the header).
    let waiting = ctx.moderation_waiting;
    let content = html! {
        div.page-head {
            h1 { "Community library" }
            div.actions {
                @if viewer.moderator {
                    a.button #moderation-link href=(QUEUE) {
                        "Moderation queue"
                        @if waiting > 0 { " " span.badge #moderation-count { (waiting) " waiting" } }
                    }
                }
                a.button href=(author_path(auth.user.id)) { "My prompts" }
                a.button.primary href=(NEW) { "Submit a prompt" }
            }
        }
        p.muted { "Prompts shared by people on this instance, reviewed by moderators." }
        nav.tabs aria-label="Order" {
            @for (key, label) in [("top", "Top rated"), ("used", "Most used"), ("new", "Newest")] {
                a href=(link(key, 0)) aria-current=[(key == sort_name).then_some("page")] { (label) }
            }
        }
        form.inline method="get" action=(paths::SEARCH) role="search" {
            input type="hidden" name="scope" value="community";
            label for="community-q" { "Search the library" }
            input #community-q name="q" type="search" maxlength="500" placeholder="words, \"a phrase\", tag:sql, -word";
            button.button.small type="submit" { "Search" }
        }
        form.inline method="get" action=(BROWSE) {
            input type="hidden" name="sort" value=(sort_name);
            label for="tag" { "Tag" } input #tag name="tag" value=(tag) placeholder="any";
            label for="model" { "Model" } input #model name="model" value=(model) placeholder="any";
            button.button.small type="submit" { "Filter" }
        }
        @if cards.is_empty() {
            p.empty {
                "No published prompts here yet."
                @if waiting > 0 {
                    " " a href=(QUEUE) { (waiting) " " (if waiting == 1 { "submission waits" } else { "submissions wait" }) " in the moderation queue." }
                }
            }
        } @else {
            p.muted.small { (total) " prompts" }
            ul.cards { @for c in &cards { (c) } }
        }
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if q.page > 0 { a href=(link(sort_name, q.page - 1)) rel="prev" { "← Previous" } }
                span { "Page " (q.page + 1) " of " (pages) }
                @if q.page + 1 < pages { a href=(link(sort_name, q.page + 1)) rel="next" { "Next →" } }
            }
        }
    };
    Ok(layout(&ctx, "Community", Nav::Community, content))
}

async fn queue(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
) -> Result<Markup> {
    // Moderators see everything waiting; anyone else sees their own submissions under review.
    let viewer = state.community.standing(&auth.user).await?;
    let query = CommunityQuery {
        viewer: Some(viewer.clone()),
        statuses: vec![PromptStatus::Pending, PromptStatus::Flagged],
        sort: Sort::New,
        limit: 200,
        ..CommunityQuery::default()
    };
    let (items, total) = state.community.list(&query).await?;
    let mut rows = Vec::new();
    for p in &items {
        let (decisions, flags) = state.community.history(&viewer, p.id).await?;
        rows.push((p, name_of(&state, p.author).await?, decisions, flags));
    }
    let title = if viewer.moderator {
        "Moderation queue"
    } else {
        "Your prompts under review"
    };
    let content = html! {
        h1 { (title) }
        p.muted { (total) " waiting: new submissions, and approved prompts hidden by flags."
            @if viewer.moderator { " Open one to decide." } }
        @if rows.is_empty() { p.empty { "Nothing waits for review." } }
        ul.cards {
            @for (p, author, decisions, flags) in &rows {
                li.card {
                    h3 { a href=(prompt_path(p.id)) { (p.content.name) } " " (status_badge(p.status)) }
                    p.meta.small { "by " (author) " · submitted " (when(p.created_at)) }
                    @if !flags.is_empty() {
                        p.small { strong { (flags.len()) " flags: " } @for (i, f) in flags.iter().enumerate() { @if i > 0 { "; " } (f.reason) } }
                    }
                    details {
                        summary { "History (" (decisions.len()) ")" }
                        ol.small { @for d in decisions { li { (d.action.as_str()) " · " (when(d.at)) @if !d.reason.is_empty() { " · " (d.reason) } } } }
                    }
                }
            }
        }
    };
    Ok(layout(&ctx, title, Nav::Community, content))
}

async fn show(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
) -> Result<Markup> {
    let viewer = state.community.standing(&auth.user).await?;
    let p = state.community.get(&viewer, id).await?;
    let author = name_of(&state, p.author).await?;
    let mine = p.author == viewer.user;
    let my_rating = state.community.my_rating(&viewer, id).await?;
    let comments = state.community.comments(&viewer, id).await?;
    let mut comment_rows = Vec::with_capacity(comments.len());
    for c in comments {
        let name = name_of(&state, c.author).await?;
        comment_rows.push((c, name));
    }
    let history = if viewer.moderator || mine {
        let (decisions, flags) = state.community.history(&viewer, id).await?;
        let mut named = Vec::with_capacity(decisions.len());
        for d in decisions {
            let by = match d.moderator {
                Some(m) => Some(name_of(&state, m).await?),
                None => None,
            };
            named.push((d, by));
        }
        Some((named, flags))
    } else {
        None
    };
    let editable: Vec<_> = ctx
        .workspaces
        .iter()
        .filter(|(_, r)| *r >= Role::Editor)
        .map(|(w, _)| w)
        .collect();
    let approved = p.status == PromptStatus::Approved;
    let content = html! {
        div.page-head {
            h1 { (p.content.name) " " @if !approved { (status_badge(p.status)) } }
        }
        p.meta { "by " a href=(author_path(p.author)) { (author) } " · " (stars(&p)) " · " (used(p.usage_count)) " · shared " (when(p.created_at)) }
        @if let Some(reason) = &p.status_reason { @if mine || viewer.moderator { div.flash.flash-error role="status" { "Moderator's note: " (reason) } } }
        @if !p.content.description.is_empty() { p { (p.content.description) } }
        p { @for t in &p.content.tags { a.tag href=(format!("{BROWSE}?tag={}", urlencoding(t))) { "#" (t) } " " } }
        @if !p.models.is_empty() { p.small { "Suggested models: " @for (i, m) in p.models.iter().enumerate() { @if i > 0 { ", " } a href=(format!("{BROWSE}?model={}", urlencoding(m))) { code { (m) } } } } }
        @if p.content.chat.is_empty() {
            @if !p.content.system_prompt.is_empty() {
                h2 { "System prompt" } pre.code.wrap { (p.content.system_prompt) }
            }
            h2 { "Prompt" } pre.code.wrap #prompt-text { (p.content.user_prompt_template) }
        } @else {
            h2 { "Prompt" }
            div #prompt-text { (crate::web::templates::content_view(&p.content)) }
        }
        @if !p.examples.is_empty() {
            h2 { "Example outputs" }
            @for e in &p.examples {
                figure.example {
                    figcaption.small { @if e.model.is_empty() { "Example" } @else { "From " code { (e.model) } } }
                    div.markdown { (PreEscaped(markdown::render(&e.output))) }
                }
            }
        }
        section.panel aria-labelledby="use-h" {
            h2 #use-h { "Use it" }
            div.actions {
                @if let Some(ws) = ctx.current_id() {
                    a.button.primary href=(format!("{}?community={}", paths::ws(paths::WS_PLAYGROUND, ws), p.id)) { "Run in playground" }
                }
            }
            @if editable.is_empty() {
                p.muted.small { "You are not an editor of any workspace, so you cannot fork it." }
            } @else {
                form.inline method="post" action=(paths::with_id(FORK, p.id)) {
                    label for="workspace" { "Fork into" }
                    select #workspace name="workspace" { @for w in &editable { option value=(w.id) { (w.name) } } }
                    button.button type="submit" { "Fork as a template" }
                }
            }
        }
        @if approved && !mine {
            section.panel aria-labelledby="rate-h" {
                h2 #rate-h { "Your rating" }
                form.inline method="post" action=(paths::with_id(RATE, p.id)) {
                    fieldset.stars {
                        legend.sr-only { "Stars" }
                        @for n in 1..=5u8 {
                            input id=(format!("star-{n}")) type="radio" name="stars" value=(n) checked[my_rating == Some(n)] required;
                            label for=(format!("star-{n}")) { (n) "★" }
                        }
                    }
                    button.button.small type="submit" { @if my_rating.is_some() { "Change rating" } @else { "Rate" } }
                }
            }
        }
        section aria-labelledby="comments-h" {
            h2 #comments-h { "Comments (" (comment_rows.len()) ")" }
            @for (c, name) in &comment_rows {
                article.comment id=(format!("c-{}", c.id)) {
                    p.meta.small { a href=(author_path(c.author)) { (name) } " · " (when(c.created_at)) @if c.edited_at.is_some() { " · edited" } }
                    div.markdown { (PreEscaped(markdown::render(&c.body))) }
                    @if c.author == viewer.user {
                        details {
                            summary.small { "Edit" }
                            form.stack method="post" action=(paths::with_id(COMMENT_EDIT, c.id)) {
                                label.sr-only for=(format!("edit-{}", c.id)) { "Comment" }
                                textarea id=(format!("edit-{}", c.id)) name="body" rows="3" { (c.body) }
                                button.button.small type="submit" { "Save" }
                            }
                        }
                    }
                    @if c.author == viewer.user || viewer.moderator {
                        form method="post" action=(paths::with_id(COMMENT_DELETE, c.id)) {
                            button.button.ghost.small type="submit" { "Delete" }
                        }
                    }
                }
            }
            form.stack method="post" action=(paths::with_id(COMMENTS, p.id)) {
                label for="comment" { "Add a comment (Markdown)" }
                textarea #comment name="body" rows="3" required {}
                button.button type="submit" { "Comment" }
            }
        }
        @if approved && !mine {
            details.panel {
                summary { "Report this prompt" }
                form.stack method="post" action=(paths::with_id(FLAG, p.id)) {
                    label for="flag-reason" { "What is wrong with it?" }
                    input #flag-reason name="reason" required maxlength="1000";
                    button.button.small type="submit" { "Flag for review" }
                }
            }
        }
        @if viewer.moderator {
            section.panel aria-labelledby="mod-h" {
                h2 #mod-h { "Moderation" }
                form.stack method="post" action=(paths::with_id(MODERATE, p.id)) {
                    label for="reason" { "Reason (the author sees it; required to reject or hide)" }
                    input #reason name="reason" maxlength="1000";
                    div.actions {
                        @if p.status != PromptStatus::Approved { button.button.primary type="submit" name="action" value="approve" { "Approve" } }
                        @if p.status.in_queue() { button.button type="submit" name="action" value="reject" { "Reject" } }
                        @if matches!(p.status, PromptStatus::Approved | PromptStatus::Flagged) { button.button type="submit" name="action" value="hide" { "Hide" } }
                    }
                }
            }
        }
        @if let Some((decisions, flags)) = &history {
            section.panel aria-labelledby="hist-h" {
                h2 #hist-h { "Moderation history" }
                ol.small {
                    @for (d, by) in decisions {
                        li { strong { (d.action.as_str()) } @if let Some(by) = by { " by " (by) } " · " (when(d.at)) @if !d.reason.is_empty() { " · " (d.reason) } }
                    }
                }
                @if !flags.is_empty() {
                    h3 { "Open flags" }
                    ul.small { @for f in flags { li { (when(f.at)) " · " (f.reason) } } }
                }
            }
        }
    };
    Ok(layout(&ctx, &p.content.name, Nav::Community, content))
}

fn back_to(jar: CookieJar, state: &WebState, to: String, error: bool, msg: &str) -> Response {
    let jar = set_flash(jar, &state.edge, error, msg);
    (jar, Redirect::to(&to)).into_response()
}

/// Turns a refusal a user can act on into a flash message on the prompt page; anything else
/// (not found, internal) stays an error page.
fn outcome<T>(
    r: Result<T>,
    jar: CookieJar,
    state: &WebState,
    to: String,
    ok: &str,
) -> Result<Response> {
    match r {
        Ok(_) => Ok(back_to(jar, state, to, false, ok)),
        Err(
            e @ (Error::Invalid { .. }
            | Error::Conflict { .. }
            | Error::Denied(_)
            | Error::Forbidden),
        ) => Ok(back_to(jar, state, to, true, &e.to_string())),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct ModerateForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

async fn moderate(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<CommunityPromptId>,
    Form(form): Form<ModerateForm>,
) -> Result<Response> {
    let viewer = state.community.standing(&auth.user).await?;
    state.community.get(&viewer, id).await?;
    let parsed = Moderation::parse(form.action.trim());
    // Say what happened, in the words of the result.
    let said = match &parsed {
        Ok(Moderation::Approve) => "Approved: now public.",
        Ok(Moderation::Reject) => "Rejected: the author sees your reason.",
        Ok(Moderation::Hide) => "Hidden: no longer public; the author sees your reason.",
        Err(_) => "",
    };
    let r = match parsed {
        Ok(what) => {
            state
                .community
                .moderate(&auth.user, id, what, &form.reason, Some(client.ip))
                .await
        }
        Err(e) => Err(e),
    };
    outcome(r, jar, &state, prompt_path(id), said)
}

#[derive(Deserialize)]
struct RateForm {
    #[serde(default)]
    stars: String,
}

async fn rate(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    jar: CookieJar,
    Path(id): Path<CommunityPromptId>,
    Form(form): Form<RateForm>,
) -> Result<Response> {
    let viewer = state.community.standing(&auth.user).await?;
    let r = match form.stars.trim().parse::<u8>() {
        Ok(n) => state.community.rate(&viewer, id, n).await,
        Err(_) => Err(Error::invalid("stars", "choose 1 to 5 stars")),
    };
    outcome(r, jar, &state, prompt_path(id), "Thanks for rating.")
}

#[derive(Deserialize)]
struct CommentForm {
    #[serde(default)]
    body: String,
}

async fn add_comment(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    jar: CookieJar,
    Path(id): Path<CommunityPromptId>,
    Form(form): Form<CommentForm>,
) -> Result<Response> {
    let viewer = state.community.standing(&auth.user).await?;
    let r = state.community.comment(&viewer, id, &form.body).await;
    outcome(r, jar, &state, prompt_path(id), "Comment added.")
}

async fn edit_comment(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    jar: CookieJar,
    Path(id): Path<CommentId>,
    Form(form): Form<CommentForm>,
) -> Result<Response> {
    let viewer = state.community.standing(&auth.user).await?;
    let prompt = state.auth.store().get_comment(id).await?.prompt;
    let r = state.community.edit_comment(&viewer, id, &form.body).await;
    outcome(r, jar, &state, prompt_path(prompt), "Comment saved.")
}

async fn delete_comment(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<CommentId>,
) -> Result<Response> {
    let viewer = state.community.standing(&auth.user).await?;
    let prompt = state.auth.store().get_comment(id).await?.prompt;
    let r = state
        .community
        .delete_comment(&viewer, id, Some(client.ip))
        .await;
    outcome(r, jar, &state, prompt_path(prompt), "Comment deleted.")
}

#[derive(Deserialize)]
struct FlagForm {
    #[serde(default)]
    reason: String,
}

async fn flag(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    jar: CookieJar,
    Path(id): Path<CommunityPromptId>,
    Form(form): Form<FlagForm>,
) -> Result<Response> {
    let viewer = state.community.standing(&auth.user).await?;
    match state.community.flag(&viewer, id, &form.reason).await {
        Ok((p, _)) if p.status != PromptStatus::Approved => Ok(back_to(
            jar,
            &state,
            BROWSE.to_owned(),
            false,
            "Thanks. The prompt is hidden until a moderator reviews it.",
        )),
        r => outcome(
            r,
            jar,
            &state,
            prompt_path(id),
            "Thanks, a moderator will look at it.",
        ),
    }
}

#[derive(Deserialize)]
struct ForkForm {
    workspace: WorkspaceId,
}

async fn fork(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<CommunityPromptId>,
    Form(form): Form<ForkForm>,
) -> Result<Response> {
    match state
        .community
        .fork(&auth.user, id, form.workspace, Some(client.ip))
        .await
    {
        Ok((t, _)) => Ok(back_to(
            jar,
            &state,
            paths::with_id(paths::TEMPLATE, t.id),
            false,
            "Forked into a new template; its first version names the community prompt.",
        )),
        r => outcome(r, jar, &state, prompt_path(id), ""),
    }
}

async fn author(
    State(state): State<WebState>,
    ctx: PageCtx,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<UserId>,
) -> Result<Markup> {
    let viewer = state.community.standing(&auth.user).await?;
    let user = state.auth.store().get_user(id).await?;
    let standing = state.community.standing(&user).await?;
    let own = id == auth.user.id;
    // Authors see their own prompts in every state; everyone else the approved ones.
    let query = CommunityQuery {
        viewer: Some(viewer.clone()),
        statuses: if own {
            Vec::new()
        } else {
            vec![PromptStatus::Approved]
        },
        author: Some(id),
        sort: Sort::New,
        limit: 200,
        ..CommunityQuery::default()
    };
    let (items, total) = state.community.list(&query).await?;
    let mut cards = Vec::with_capacity(items.len());
    for p in &items {
        cards.push(card(&state, p).await?);
    }
    let raw = state.auth.store().get_standing(id).await?;
    let content = html! {
        h1 { (user.name) }
        p.meta {
            "Reputation " strong #reputation { (standing.reputation) }
            @if standing.moderator { " · " span.badge { "moderator" } }
            @if standing.trusted { " · " span.badge { "trusted" } }
        }
        h2 { @if own { "Your prompts" } @else { "Published prompts" } " (" (total) ")" }
        @if cards.is_empty() { p.empty { "None yet." } } @else { ul.cards { @for c in &cards { (c) } } }
        @if auth.user.is_admin() {
            section.panel aria-labelledby="standing-h" {
                h2 #standing-h { "Community roles" }
                form.stack method="post" action=(paths::with_id(STANDING, id)) {
                    div.check { input #moderator type="checkbox" name="moderator" value="on" checked[raw.moderator]; label for="moderator" { "Moderator: reviews submissions, flags and comments" } }
                    div.check { input #trusted type="checkbox" name="trusted" value="on" checked[raw.trusted]; label for="trusted" { "Trusted: submissions are published without review" } }
                    button.button type="submit" { "Save roles" }
                }
            }
        }
    };
    Ok(layout(&ctx, user.name.as_str(), Nav::Community, content))
}

#[derive(Deserialize)]
struct StandingForm {
    #[serde(default)]
    moderator: Option<String>,
    #[serde(default)]
    trusted: Option<String>,
}

async fn set_standing(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<UserId>,
    Form(form): Form<StandingForm>,
) -> Result<Response> {
    let r = state
        .community
        .set_standing(
            &auth.user,
            id,
            form.moderator.is_some(),
            form.trusted.is_some(),
            Some(client.ip),
        )
        .await;
    outcome(
        r,
        jar,
        &state,
        author_path(id),
        "Saved the community roles.",
    )
}
