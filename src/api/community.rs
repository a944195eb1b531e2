//! `/api/community/...`: the community library as JSON, under the same rules as the pages
//! (`crate::community`): pending, rejected, hidden and flagged prompts exist only for their
//! author and moderators; everything else answers 404 as if it did not exist.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ApiState;
use crate::auth::{Action, ClientInfo};
use crate::community::Moderation;
use crate::domain::community::Sort;
use crate::domain::{
    Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery, CommunityStanding,
    Decision, Example, Flag, PromptStatus, Submission, TemplateContent, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::http::extract::{CurrentUser, Json, Path, Query};
use crate::http::markdown;
use crate::http::routes::{Permission, Routes};

/// Route paths.
pub const PROMPTS: &str = "/api/community/prompts";
/// One prompt.
pub const PROMPT: &str = "/api/community/prompts/{id}";
/// A moderation decision.
pub const MODERATE: &str = "/api/community/prompts/{id}/moderation";
/// The caller's rating.
pub const RATING: &str = "/api/community/prompts/{id}/rating";
/// Comments on a prompt.
pub const COMMENTS: &str = "/api/community/prompts/{id}/comments";
/// Flags on a prompt.
pub const FLAGS: &str = "/api/community/prompts/{id}/flags";
/// Forking into a workspace.
pub const FORK: &str = "/api/community/prompts/{id}/fork";
/// A run of the prompt (counts its usage).
pub const USES: &str = "/api/community/prompts/{id}/uses";
/// One comment.
pub const COMMENT: &str = "/api/community/comments/{id}";
/// An author's public page.
pub const AUTHOR: &str = "/api/community/authors/{id}";
/// A user's moderator and trusted marks.
pub const STANDING: &str = "/api/community/authors/{id}/standing";

/// Adds the community routes; each needs a login, and the rules that depend on the user's
/// community standing are checked in `crate::community`.
pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    let p = Permission::Instance(Action::UseCommunity);
    r.get(PROMPTS, p, list)
        .post(PROMPTS, p, submit)
        .get(PROMPT, p, show)
        .post(MODERATE, p, moderate)
        .put(RATING, p, rate)
        .get(COMMENTS, p, comments)
        .post(COMMENTS, p, add_comment)
        .patch(COMMENT, p, edit_comment)
        .delete(COMMENT, p, delete_comment)
        .post(FLAGS, p, flag)
        .post(FORK, p, fork)
        .post(USES, p, record_use)
        .get(AUTHOR, p, author)
        .put(
            STANDING,
            Permission::Instance(Action::ManageUsers),
            set_standing,
        )
}

/// Page size of every list.
const PAGE: usize = 20;

#[derive(Serialize)]
struct AuthorRef {
    id: UserId,
    name: String,
}

#[derive(Serialize)]
struct ExampleJson {
    model: String,
    output: String,
    output_html: String,
}

#[derive(Serialize)]
struct RatingJson {
    average: Option<f64>,
    count: u64,
}

/// A prompt as the API shows it.
#[derive(Serialize)]
struct PromptJson {
    id: CommunityPromptId,
    author: AuthorRef,
    title: String,
    description: String,
    tags: Vec<String>,
    system_prompt: String,
    prompt: String,
    variables: serde_json::Value,
    models: Vec<String>,
    examples: Vec<ExampleJson>,
    status: PromptStatus,
    status_reason: Option<String>,
    rating: RatingJson,
    usage_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    flag_count: Option<u32>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

async fn author_ref(state: &ApiState, id: UserId) -> Result<AuthorRef> {
    let name = state.community.name_of(id).await?;
    Ok(AuthorRef { id, name })
}

async fn prompt_json(
    state: &ApiState,
    viewer: &CommunityStanding,
    p: CommunityPrompt,
) -> Result<PromptJson> {
    Ok(PromptJson {
        id: p.id,
        author: author_ref(state, p.author).await?,
        rating: RatingJson {
            average: p.average(),
            count: p.rating_count,
        },
        flag_count: viewer.moderator.then_some(p.flag_count),
        title: p.content.name,
        description: p.content.description,
        tags: p.content.tags,
        system_prompt: p.content.system_prompt,
        prompt: p.content.user_prompt_template,
        variables: serde_json::to_value(&p.content.variables).map_err(Error::internal)?,
        models: p.models,
        examples: p
            .examples
            .into_iter()
            .map(|e| ExampleJson {
                output_html: markdown::render(&e.output),
                model: e.model,
                output: e.output,
            })
            .collect(),
        status: p.status,
        status_reason: p.status_reason,
        usage_count: p.usage_count,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(default)]
    sort: Sort,
    tag: Option<String>,
    model: Option<String>,
    author: Option<UserId>,
    /// Comma-separated states (moderators: `pending,flagged` is the queue).
    status: Option<String>,
    #[serde(default)]
    page: usize,
}

#[derive(Serialize)]
struct ListJson {
    items: Vec<PromptJson>,
    total: u64,
    page: usize,
    pages: u64,
}

async fn list(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Query(params): Query<ListParams>,
) -> Result<JsonResponse<ListJson>> {
    let viewer = state.community.standing(&auth.user).await?;
    let statuses = match params.status.as_deref() {
        None | Some("") => Vec::new(),
        Some(s) => s
            .split(',')
            .map(|x| PromptStatus::parse(x.trim()))
            .collect::<Result<_>>()?,
    };
    let query = CommunityQuery {
        viewer: Some(viewer.clone()),
        statuses,
        author: params.author,
        tag: params
            .tag
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty()),
        model: params
            .model
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty()),
        sort: params.sort,
        offset: params.page.saturating_mul(PAGE),
        limit: PAGE,
    };
    let (items, total) = state.community.list(&query).await?;
    let mut out = Vec::with_capacity(items.len());
    for p in items {
        out.push(prompt_json(&state, &viewer, p).await?);
    }
    Ok(JsonResponse(ListJson {
        items: out,
        total,
        page: params.page,
        pages: total.div_ceil(PAGE as u64),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    system_prompt: String,
    prompt: String,
    #[serde(default)]
    variables: Vec<crate::domain::variables::VariableDef>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    examples: Vec<ExampleBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleBody {
    #[serde(default)]
    model: String,
    output: String,
}

async fn submit(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Json(body): Json<SubmitBody>,
) -> Result<(StatusCode, JsonResponse<PromptJson>)> {
    let submission = Submission {
        content: TemplateContent {
            name: body.title,
            description: body.description,
            tags: body.tags,
            system_prompt: body.system_prompt,
            user_prompt_template: body.prompt,
            variables: body.variables,
            ..TemplateContent::default()
        },
        models: body.models,
        examples: body
            .examples
            .into_iter()
            .map(|e| Example {
                model: e.model,
                output: e.output,
            })
            .collect(),
        source_template: None,
        source_run: None,
    };
    let p = state
        .community
        .submit(&auth.user, submission, Some(client.ip))
        .await?;
    let viewer = state.community.standing(&auth.user).await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(prompt_json(&state, &viewer, p).await?),
    ))
}

#[derive(Serialize)]
struct DecisionJson {
    action: &'static str,
    moderator: Option<AuthorRef>,
    reason: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

#[derive(Serialize)]
struct FlagJson {
    user: AuthorRef,
    reason: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

#[derive(Serialize)]
struct DetailJson {
    prompt: PromptJson,
    my_rating: Option<u8>,
    /// Moderation history: for the author and moderators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<DecisionJson>>,
    /// Open flags: for moderators only.
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<Vec<FlagJson>>,
}

async fn history_json(state: &ApiState, decisions: Vec<Decision>) -> Result<Vec<DecisionJson>> {
    let mut out = Vec::with_capacity(decisions.len());
    for d in decisions {
        let moderator = match d.moderator {
            Some(m) => Some(author_ref(state, m).await?),
            None => None,
        };
        out.push(DecisionJson {
            action: d.action.as_str(),
            moderator,
            reason: d.reason,
            at: d.at,
        });
    }
    Ok(out)
}

async fn flags_json(state: &ApiState, flags: Vec<Flag>) -> Result<Vec<FlagJson>> {
    let mut out = Vec::with_capacity(flags.len());
    for f in flags {
        out.push(FlagJson {
            user: author_ref(state, f.user).await?,
            reason: f.reason,
            at: f.at,
        });
    }
    Ok(out)
}

async fn show(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
) -> Result<JsonResponse<DetailJson>> {
    let viewer = state.community.standing(&auth.user).await?;
    let p = state.community.get(&viewer, id).await?;
    let (history, flags) = if viewer.moderator || viewer.user == p.author {
        let (d, f) = state.community.history(&viewer, id).await?;
        (
            Some(history_json(&state, d).await?),
            if viewer.moderator {
                Some(flags_json(&state, f).await?)
            } else {
                None
            },
        )
    } else {
        (None, None)
    };
    Ok(JsonResponse(DetailJson {
        my_rating: state.community.my_rating(&viewer, id).await?,
        prompt: prompt_json(&state, &viewer, p).await?,
        history,
        flags,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModerateBody {
    action: String,
    #[serde(default)]
    reason: String,
}

async fn moderate(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Path(id): Path<CommunityPromptId>,
    Json(body): Json<ModerateBody>,
) -> Result<JsonResponse<PromptJson>> {
    let what = Moderation::parse(body.action.trim())?;
    let viewer = state.community.standing(&auth.user).await?;
    // Someone who may not see the prompt learns nothing about it, not even that it exists.
    state.community.get(&viewer, id).await?;
    let p = state
        .community
        .moderate(&auth.user, id, what, &body.reason, Some(client.ip))
        .await?;
    Ok(JsonResponse(prompt_json(&state, &viewer, p).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateBody {
    stars: u8,
}

async fn rate(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
    Json(body): Json<RateBody>,
) -> Result<JsonResponse<RatingJson>> {
    let viewer = state.community.standing(&auth.user).await?;
    let p = state.community.rate(&viewer, id, body.stars).await?;
    Ok(JsonResponse(RatingJson {
        average: p.average(),
        count: p.rating_count,
    }))
}

#[derive(Serialize)]
struct CommentJson {
    id: CommentId,
    author: AuthorRef,
    body: String,
    body_html: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    edited_at: Option<OffsetDateTime>,
}

async fn comment_json(state: &ApiState, c: Comment) -> Result<CommentJson> {
    Ok(CommentJson {
        id: c.id,
        author: author_ref(state, c.author).await?,
        body_html: markdown::render(&c.body),
        body: c.body,
        created_at: c.created_at,
        edited_at: c.edited_at,
    })
}

async fn comments(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
) -> Result<JsonResponse<Vec<CommentJson>>> {
    let viewer = state.community.standing(&auth.user).await?;
    let list = state.community.comments(&viewer, id).await?;
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        out.push(comment_json(&state, c).await?);
    }
    Ok(JsonResponse(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
}

async fn add_comment(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
    Json(body): Json<CommentBody>,
) -> Result<(StatusCode, JsonResponse<CommentJson>)> {
    let viewer = state.community.standing(&auth.user).await?;
    let c = state.community.comment(&viewer, id, &body.body).await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(comment_json(&state, c).await?),
    ))
}

async fn edit_comment(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommentId>,
    Json(body): Json<CommentBody>,
) -> Result<JsonResponse<CommentJson>> {
    let viewer = state.community.standing(&auth.user).await?;
    let c = state
        .community
        .edit_comment(&viewer, id, &body.body)
        .await?;
    Ok(JsonResponse(comment_json(&state, c).await?))
}

async fn delete_comment(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Path(id): Path<CommentId>,
) -> Result<StatusCode> {
    let viewer = state.community.standing(&auth.user).await?;
    state
        .community
        .delete_comment(&viewer, id, Some(client.ip))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagBody {
    reason: String,
}

#[derive(Serialize)]
struct FlagAnswer {
    /// False when this user had already flagged it.
    counted: bool,
    /// Whether others still see it.
    visible: bool,
}

async fn flag(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
    Json(body): Json<FlagBody>,
) -> Result<JsonResponse<FlagAnswer>> {
    let viewer = state.community.standing(&auth.user).await?;
    let (p, counted) = state.community.flag(&viewer, id, &body.reason).await?;
    Ok(JsonResponse(FlagAnswer {
        counted,
        visible: p.status == PromptStatus::Approved,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForkBody {
    workspace_id: WorkspaceId,
}

#[derive(Serialize)]
struct Forked {
    template_id: crate::domain::TemplateId,
    version: u32,
}

async fn fork(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Path(id): Path<CommunityPromptId>,
    Json(body): Json<ForkBody>,
) -> Result<(StatusCode, JsonResponse<Forked>)> {
    let (t, v) = state
        .community
        .fork(&auth.user, id, body.workspace_id, Some(client.ip))
        .await?;
    Ok((
        StatusCode::CREATED,
        JsonResponse(Forked {
            template_id: t.id,
            version: v.version,
        }),
    ))
}

#[derive(Serialize)]
struct UseAnswer {
    counted: bool,
}

async fn record_use(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<CommunityPromptId>,
) -> Result<JsonResponse<UseAnswer>> {
    let viewer = state.community.standing(&auth.user).await?;
    let counted = state.community.record_run(&viewer, id).await?;
    Ok(JsonResponse(UseAnswer { counted }))
}

#[derive(Serialize)]
struct AuthorJson {
    id: UserId,
    name: String,
    reputation: i64,
    moderator: bool,
    trusted: bool,
    prompts: Vec<PromptJson>,
    total: u64,
}

async fn author(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    Path(id): Path<UserId>,
) -> Result<JsonResponse<AuthorJson>> {
    let viewer = state.community.standing(&auth.user).await?;
    let user = state.auth.store().get_user(id).await?;
    let standing = state.community.standing(&user).await?;
    // The public page lists approved prompts only, whoever looks.
    let query = CommunityQuery {
        viewer: Some(viewer.clone()),
        statuses: vec![PromptStatus::Approved],
        author: Some(id),
        sort: Sort::Top,
        limit: 100,
        ..CommunityQuery::default()
    };
    let (items, total) = state.community.list(&query).await?;
    let mut prompts = Vec::with_capacity(items.len());
    for p in items {
        prompts.push(prompt_json(&state, &viewer, p).await?);
    }
    Ok(JsonResponse(AuthorJson {
        id,
        name: user.name.to_string(),
        reputation: standing.reputation,
        moderator: standing.moderator,
        trusted: standing.trusted,
        prompts,
        total,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StandingBody {
    moderator: bool,
    trusted: bool,
}

async fn set_standing(
    State(state): State<ApiState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    Path(id): Path<UserId>,
    Json(body): Json<StandingBody>,
) -> Result<JsonResponse<CommunityStanding>> {
    let s = state
        .community
        .set_standing(
            &auth.user,
            id,
            body.moderator,
            body.trusted,
            Some(client.ip),
        )
        .await?;
    Ok(JsonResponse(s))
}
