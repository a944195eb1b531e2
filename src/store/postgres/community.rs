//! The community library in Postgres: `community_prompts` (content as `jsonb`, with title,
//! description and tags copied into columns for SQL users, search and filters), its history in
//! `community_decisions`, one row per rating, flag and counted use, comments, and each user's
//! `community_standing`.
//!
//! Counters live on the prompt row and reputation on the author's standing row. Every write
//! that moves them first locks the prompt row (`SELECT ... FOR NO KEY UPDATE`), then checks and
//! writes the record behind the counter (rating, flag, use), then adjusts the counters and the
//! reputation, all in one transaction: concurrent writers to one prompt queue on that lock, so
//! the counters stay exact. (`NO KEY UPDATE` rather than `UPDATE` conflicts with itself all the
//! same, but not with the `KEY SHARE` locks of foreign-key checks, so a comment never waits for
//! a rating or a decision.) Locks are always taken in the order prompt, standing, change log, so
//! they never deadlock. Each write to a prompt appends `ChangeKind::CommunityPrompt` to the
//! change log.

use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::corrupt;
use super::{PostgresStore, finish, to_i64, to_u64};
use crate::domain::community::{Example, Sort, flagged_reason, reputation, validate_stars};
use crate::domain::{
    ChangeKind, Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery,
    CommunityStanding, Decision, DecisionAction, Flag, NewAuditEvent, PromptStatus, UserId,
};
use crate::error::{Error, Result};
use crate::store::{CommunityStore, MAX_PAGE};

/// The columns of [`PromptRow`], usable in `SELECT` and `RETURNING`.
const PROMPT_COLUMNS: &str = "id, author_id, content::text AS content, models, \
    examples::text AS examples, status, status_reason, source_template_id, \
    source_template_version, source_run_id, rating_sum, rating_count, usage_count, flag_count, \
    ever_approved, created_at, updated_at";

/// The columns of [`DecisionRow`].
const DECISION_COLUMNS: &str = "prompt_id, moderator_id, action, reason, at";

/// The columns of [`CommentRow`].
const COMMENT_COLUMNS: &str = "id, prompt_id, author_id, body, created_at, edited_at";

/// A `community_prompts` row as stored (content and examples as JSON text).
#[derive(sqlx::FromRow)]
struct PromptRow {
    id: Uuid,
    author_id: Uuid,
    content: String,
    models: Vec<String>,
    examples: String,
    status: String,
    status_reason: Option<String>,
    source_template_id: Option<Uuid>,
    source_template_version: Option<i32>,
    source_run_id: Option<Uuid>,
    rating_sum: i64,
    rating_count: i64,
    usage_count: i64,
    flag_count: i32,
    ever_approved: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<PromptRow> for CommunityPrompt {
    type Error = Error;

    fn try_from(row: PromptRow) -> Result<Self> {
        let id = row.id;
        let bad = |e: &dyn std::fmt::Display| corrupt("community prompt", id, e);
        let count = |n: i64| u64::try_from(n).map_err(|e| bad(&e));
        let source_template = match (row.source_template_id, row.source_template_version) {
            (Some(t), Some(v)) => Some((
                crate::domain::TemplateId(t),
                u32::try_from(v).map_err(|e| bad(&e))?,
            )),
            (None, None) => None,
            _ => return Err(bad(&"a source template without a version")),
        };
        Ok(CommunityPrompt {
            id: CommunityPromptId(id),
            author: UserId(row.author_id),
            content: serde_json::from_str(&row.content).map_err(|e| bad(&e))?,
            models: row.models,
            examples: serde_json::from_str::<Vec<Example>>(&row.examples).map_err(|e| bad(&e))?,
            status: PromptStatus::parse(&row.status).map_err(|e| bad(&e))?,
            status_reason: row.status_reason,
            source_template,
            source_run: row.source_run_id.map(crate::domain::RunId),
            rating_sum: count(row.rating_sum)?,
            rating_count: count(row.rating_count)?,
            usage_count: count(row.usage_count)?,
            flag_count: u32::try_from(row.flag_count).map_err(|e| bad(&e))?,
            ever_approved: row.ever_approved,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A prompt row of a list, with the number of matches of the whole query.
#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    prompt: PromptRow,
    total: i64,
}

/// A `community_decisions` row as stored.
#[derive(sqlx::FromRow)]
struct DecisionRow {
    prompt_id: Uuid,
    moderator_id: Option<Uuid>,
    action: String,
    reason: String,
    at: OffsetDateTime,
}

impl TryFrom<DecisionRow> for Decision {
    type Error = Error;

    fn try_from(row: DecisionRow) -> Result<Self> {
        Ok(Decision {
            prompt: CommunityPromptId(row.prompt_id),
            moderator: row.moderator_id.map(UserId),
            action: DecisionAction::parse(&row.action)
                .map_err(|e| corrupt("community prompt", row.prompt_id, e))?,
            reason: row.reason,
            at: row.at,
        })
    }
}

/// A `community_comments` row as stored.
#[derive(sqlx::FromRow)]
struct CommentRow {
    id: Uuid,
    prompt_id: Uuid,
    author_id: Uuid,
    body: String,
    created_at: OffsetDateTime,
    edited_at: Option<OffsetDateTime>,
}

impl From<CommentRow> for Comment {
    fn from(row: CommentRow) -> Self {
        Comment {
            id: CommentId(row.id),
            prompt: CommunityPromptId(row.prompt_id),
            author: UserId(row.author_id),
            body: row.body,
            created_at: row.created_at,
            edited_at: row.edited_at,
        }
    }
}

/// A `community_flags` row as stored.
#[derive(sqlx::FromRow)]
struct FlagRow {
    prompt_id: Uuid,
    user_id: Uuid,
    reason: String,
    at: OffsetDateTime,
}

impl From<FlagRow> for Flag {
    fn from(row: FlagRow) -> Self {
        Flag {
            prompt: CommunityPromptId(row.prompt_id),
            user: UserId(row.user_id),
            reason: row.reason,
            at: row.at,
        }
    }
}

/// The change-log entry of a write to a prompt.
fn change(id: CommunityPromptId) -> Vec<(ChangeKind, String)> {
    vec![(ChangeKind::CommunityPrompt, id.to_string())]
}

/// A counter as Postgres stores it (`bigint`).
fn to_bigint(field: &str, n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::invalid(field, format!("{n} is too large")))
}

/// A number as Postgres stores it (`integer`).
fn to_int(field: &str, n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::invalid(field, format!("{n} is too large")))
}

/// Maps a foreign-key violation (a user or prompt that does not exist) to `NotFound`.
fn missing_ref(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound,
        _ => Error::from(e),
    }
}

/// The audit event of a write to a prompt, aimed at the prompt.
fn prompt_audit(audit: NewAuditEvent, id: CommunityPromptId) -> NewAuditEvent {
    audit.target(format!("community_prompt:{id}"))
}

/// Locks a prompt's row until the transaction ends and reads it (the latest committed version:
/// a writer that waited for the lock sees what the previous holder wrote).
async fn lock_prompt(conn: &mut PgConnection, id: CommunityPromptId) -> Result<CommunityPrompt> {
    let row: Option<PromptRow> = sqlx::query_as(&format!(
        "SELECT {PROMPT_COLUMNS} FROM community_prompts WHERE id = $1 FOR NO KEY UPDATE"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound)?.try_into()
}

/// `NotFound` unless the prompt exists; keeps it from being deleted until the transaction ends.
async fn check_prompt(conn: &mut PgConnection, id: CommunityPromptId) -> Result<()> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM community_prompts WHERE id = $1 FOR KEY SHARE")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?;
    found.map(|_| ()).ok_or(Error::NotFound)
}

/// Moves a user's reputation by `delta`, creating their standing row if needed.
async fn add_reputation(conn: &mut PgConnection, user: UserId, delta: i64) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO community_standing (user_id, reputation) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE \
         SET reputation = community_standing.reputation + EXCLUDED.reputation",
    )
    .bind(user.0)
    .bind(delta)
    .execute(&mut *conn)
    .await
    .map_err(missing_ref)?;
    Ok(())
}

/// Appends an entry to a prompt's history.
async fn insert_decision(
    conn: &mut PgConnection,
    prompt: CommunityPromptId,
    d: &Decision,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO community_decisions (prompt_id, moderator_id, action, reason, at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(prompt.0)
    .bind(d.moderator.map(|m| m.0))
    .bind(d.action.as_str())
    .bind(d.reason.as_str())
    .bind(d.at)
    .execute(&mut *conn)
    .await
    .map_err(missing_ref)?;
    Ok(())
}

/// Adds the filters of `query` (visibility first) as a `WHERE` clause.
fn push_filters(b: &mut QueryBuilder<'_, Postgres>, query: &CommunityQuery) {
    let approved = PromptStatus::Approved.as_str();
    b.push(" WHERE ");
    match &query.viewer {
        Some(v) if v.moderator => {
            b.push("TRUE");
        }
        Some(v) => {
            b.push("(status = ")
                .push_bind(approved)
                .push(" OR author_id = ")
                .push_bind(v.user.0)
                .push(")");
        }
        None => {
            b.push("status = ").push_bind(approved);
        }
    }
    if !query.statuses.is_empty() {
        let statuses: Vec<&'static str> = query.statuses.iter().map(|s| s.as_str()).collect();
        b.push(" AND status = ANY(").push_bind(statuses).push(")");
    }
    if let Some(a) = query.author {
        b.push(" AND author_id = ").push_bind(a.0);
    }
    if let Some(t) = &query.tag {
        b.push(" AND tags @> ARRAY[")
            .push_bind(t.clone())
            .push("::text]");
    }
    if let Some(m) = &query.model {
        b.push(" AND models @> ARRAY[")
            .push_bind(m.clone())
            .push("::text]");
    }
}

/// The `ORDER BY` of a sort, ending in the id so the order is total (as `CommunityQuery::sort`).
fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::New => " ORDER BY id DESC",
        Sort::Used => " ORDER BY usage_count DESC, id DESC",
        Sort::Top => {
            " ORDER BY (CASE WHEN rating_count > 0 \
             THEN rating_sum::double precision / rating_count::double precision \
             ELSE 0 END) DESC, rating_count DESC, id DESC"
        }
    }
}

#[async_trait]
impl CommunityStore for PostgresStore {
    async fn get_standing(&self, user: UserId) -> Result<CommunityStanding> {
        let row: Option<(bool, bool, i64)> = sqlx::query_as(
            "SELECT moderator, trusted, reputation FROM community_standing WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((moderator, trusted, reputation)) => CommunityStanding {
                user,
                moderator,
                trusted,
                reputation,
            },
            None => CommunityStanding::new(user),
        })
    }

    async fn update_standing(
        &self,
        user: UserId,
        moderator: bool,
        trusted: bool,
        audit: NewAuditEvent,
    ) -> Result<CommunityStanding> {
        let mut tx = self.pool.begin().await?;
        // FOR KEY SHARE keeps the user from being deleted before the upsert below.
        let found: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR KEY SHARE")
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await?;
        found.ok_or(Error::NotFound)?;
        let reputation: i64 = sqlx::query_scalar(
            "INSERT INTO community_standing (user_id, moderator, trusted) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE \
             SET moderator = EXCLUDED.moderator, trusted = EXCLUDED.trusted \
             RETURNING reputation",
        )
        .bind(user.0)
        .bind(moderator)
        .bind(trusted)
        .fetch_one(&mut *tx)
        .await?;
        let audit = audit.target(format!("user:{user}"));
        finish(tx, self.clock.now(), Some(audit), Vec::new()).await?;
        Ok(CommunityStanding {
            user,
            moderator,
            trusted,
            reputation,
        })
    }

    async fn create_community_prompt(
        &self,
        prompt: CommunityPrompt,
        decision: Decision,
        audit: NewAuditEvent,
    ) -> Result<CommunityPrompt> {
        let p = &prompt;
        let content = serde_json::to_string(&p.content).map_err(Error::internal)?;
        let examples = serde_json::to_string(&p.examples).map_err(Error::internal)?;
        let (source_template, source_version) = match p.source_template {
            Some((t, v)) => (Some(t.0), Some(to_int("source_template", v)?)),
            None => (None, None),
        };
        let mut tx = self.pool.begin().await?;
        let row: PromptRow = sqlx::query_as(&format!(
            "INSERT INTO community_prompts (id, author_id, title, description, content, tags, \
             models, examples, status, status_reason, source_template_id, \
             source_template_version, source_run_id, rating_sum, rating_count, usage_count, \
             flag_count, ever_approved, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8::text::jsonb, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             RETURNING {PROMPT_COLUMNS}"
        ))
        .bind(p.id.0)
        .bind(p.author.0)
        .bind(p.content.name.as_str())
        .bind(p.content.description.as_str())
        .bind(content)
        .bind(&p.content.tags)
        .bind(&p.models)
        .bind(examples)
        .bind(p.status.as_str())
        .bind(p.status_reason.as_deref())
        .bind(source_template)
        .bind(source_version)
        .bind(p.source_run.map(|r| r.0))
        .bind(to_bigint("rating_sum", p.rating_sum)?)
        .bind(to_bigint("rating_count", p.rating_count)?)
        .bind(to_bigint("usage_count", p.usage_count)?)
        .bind(to_int("flag_count", p.flag_count)?)
        .bind(p.ever_approved)
        .bind(p.created_at)
        .bind(p.updated_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(missing_ref)?;
        let stored = CommunityPrompt::try_from(row)?;
        insert_decision(&mut tx, stored.id, &decision).await?;
        add_reputation(
            &mut tx,
            stored.author,
            reputation::for_decision(decision.action, false),
        )
        .await?;
        let audit = prompt_audit(audit, stored.id);
        finish(tx, self.clock.now(), Some(audit), change(stored.id)).await?;
        Ok(stored)
    }

    async fn count_submissions_since(&self, user: UserId, since: OffsetDateTime) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM community_prompts WHERE author_id = $1 AND created_at >= $2",
        )
        .bind(user.0)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(to_u64(n))
    }

    async fn get_community_prompt(&self, id: CommunityPromptId) -> Result<CommunityPrompt> {
        let row: Option<PromptRow> = sqlx::query_as(&format!(
            "SELECT {PROMPT_COLUMNS} FROM community_prompts WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(Error::NotFound)?.try_into()
    }

    async fn list_community_prompts(
        &self,
        query: &CommunityQuery,
    ) -> Result<(Vec<CommunityPrompt>, u64)> {
        // At most a full page; a limit of 0 asks for the total alone.
        let limit = query.limit.min(MAX_PAGE);
        let offset = to_i64(query.offset);
        // The total comes with the page (the window is computed before OFFSET and LIMIT), so
        // both are read from one snapshot.
        let mut b = QueryBuilder::<Postgres>::new(format!(
            "SELECT {PROMPT_COLUMNS}, count(*) OVER () AS total FROM community_prompts"
        ));
        push_filters(&mut b, query);
        b.push(order_by(query.sort));
        b.push(" OFFSET ").push_bind(offset);
        b.push(" LIMIT ").push_bind(to_i64(limit));
        let rows: Vec<ListedRow> = b.build_query_as().fetch_all(&self.pool).await?;
        let total = match rows.first() {
            Some(first) => to_u64(first.total),
            None if query.offset == 0 && limit > 0 => 0,
            // A page past the end (or of no rows) has no row to carry the total: count alone.
            None => {
                let mut b = QueryBuilder::<Postgres>::new("SELECT count(*) FROM community_prompts");
                push_filters(&mut b, query);
                let n: i64 = b.build_query_scalar().fetch_one(&self.pool).await?;
                to_u64(n)
            }
        };
        let items = rows
            .into_iter()
            .map(|r| CommunityPrompt::try_from(r.prompt))
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }

    async fn decide_community_prompt(
        &self,
        decision: Decision,
        audit: NewAuditEvent,
    ) -> Result<CommunityPrompt> {
        let id = decision.prompt;
        let mut tx = self.pool.begin().await?;
        let before = lock_prompt(&mut tx, id).await?;
        let status = decision.action.status();
        let approved = status == PromptStatus::Approved;
        let reason = (!decision.reason.is_empty()).then(|| decision.reason.clone());
        if approved {
            sqlx::query("DELETE FROM community_flags WHERE prompt_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        let row: PromptRow = sqlx::query_as(&format!(
            "UPDATE community_prompts SET status = $2, status_reason = $3, updated_at = $4, \
             ever_approved = ever_approved OR $5, \
             flag_count = CASE WHEN $5 THEN 0 ELSE flag_count END \
             WHERE id = $1 RETURNING {PROMPT_COLUMNS}"
        ))
        .bind(id.0)
        .bind(status.as_str())
        .bind(reason)
        .bind(decision.at)
        .bind(approved)
        .fetch_one(&mut *tx)
        .await?;
        let after = CommunityPrompt::try_from(row)?;
        insert_decision(&mut tx, id, &decision).await?;
        add_reputation(
            &mut tx,
            before.author,
            reputation::for_decision(decision.action, before.ever_approved),
        )
        .await?;
        let audit = prompt_audit(audit, id);
        finish(tx, self.clock.now(), Some(audit), change(id)).await?;
        Ok(after)
    }

    async fn list_decisions(&self, prompt: CommunityPromptId) -> Result<Vec<Decision>> {
        let rows: Vec<DecisionRow> = sqlx::query_as(&format!(
            "SELECT {DECISION_COLUMNS} FROM community_decisions WHERE prompt_id = $1 ORDER BY id"
        ))
        .bind(prompt.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Decision::try_from).collect()
    }

    async fn rate_community_prompt(
        &self,
        prompt: CommunityPromptId,
        user: UserId,
        stars: u8,
    ) -> Result<CommunityPrompt> {
        let stars = validate_stars(stars)?;
        let mut tx = self.pool.begin().await?;
        let before = lock_prompt(&mut tx, prompt).await?;
        // Every rating of this prompt is written under the lock above, so this stays current
        // until the commit.
        let old: Option<i16> = sqlx::query_scalar(
            "SELECT stars FROM community_ratings WHERE prompt_id = $1 AND user_id = $2",
        )
        .bind(prompt.0)
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await?;
        let old = old
            .map(|s| u8::try_from(s).map_err(|e| corrupt("community prompt", prompt.0, e)))
            .transpose()?;
        if old == Some(stars) {
            return Ok(before);
        }
        sqlx::query(
            "INSERT INTO community_ratings (prompt_id, user_id, stars) VALUES ($1, $2, $3) \
             ON CONFLICT (prompt_id, user_id) DO UPDATE SET stars = EXCLUDED.stars",
        )
        .bind(prompt.0)
        .bind(user.0)
        .bind(i16::from(stars))
        .execute(&mut *tx)
        .await
        .map_err(missing_ref)?;
        let row: PromptRow = sqlx::query_as(&format!(
            "UPDATE community_prompts SET rating_sum = rating_sum + $2, \
             rating_count = rating_count + $3 WHERE id = $1 RETURNING {PROMPT_COLUMNS}"
        ))
        .bind(prompt.0)
        .bind(i64::from(stars) - old.map_or(0, i64::from))
        .bind(i64::from(old.is_none()))
        .fetch_one(&mut *tx)
        .await?;
        let after = CommunityPrompt::try_from(row)?;
        let delta = reputation::for_rating(stars) - old.map_or(0, reputation::for_rating);
        add_reputation(&mut tx, before.author, delta).await?;
        finish(tx, self.clock.now(), None, change(prompt)).await?;
        Ok(after)
    }

    async fn find_rating(&self, prompt: CommunityPromptId, user: UserId) -> Result<Option<u8>> {
        let stars: Option<i16> = sqlx::query_scalar(
            "SELECT stars FROM community_ratings WHERE prompt_id = $1 AND user_id = $2",
        )
        .bind(prompt.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        stars
            .map(|s| u8::try_from(s).map_err(|e| corrupt("community prompt", prompt.0, e)))
            .transpose()
    }

    async fn create_comment(&self, comment: Comment) -> Result<Comment> {
        let mut tx = self.pool.begin().await?;
        check_prompt(&mut tx, comment.prompt).await?;
        let row: CommentRow = sqlx::query_as(&format!(
            "INSERT INTO community_comments (id, prompt_id, author_id, body, created_at, \
             edited_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COMMENT_COLUMNS}"
        ))
        .bind(comment.id.0)
        .bind(comment.prompt.0)
        .bind(comment.author.0)
        .bind(comment.body.as_str())
        .bind(comment.created_at)
        .bind(comment.edited_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(missing_ref)?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn get_comment(&self, id: CommentId) -> Result<Comment> {
        let row: Option<CommentRow> = sqlx::query_as(&format!(
            "SELECT {COMMENT_COLUMNS} FROM community_comments WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.ok_or(Error::NotFound)?.into())
    }

    async fn update_comment(
        &self,
        id: CommentId,
        body: String,
        at: OffsetDateTime,
    ) -> Result<Comment> {
        let row: Option<CommentRow> = sqlx::query_as(&format!(
            "UPDATE community_comments SET body = $2, edited_at = $3 WHERE id = $1 \
             RETURNING {COMMENT_COLUMNS}"
        ))
        .bind(id.0)
        .bind(body)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.ok_or(Error::NotFound)?.into())
    }

    async fn delete_comment(&self, id: CommentId, audit: Option<NewAuditEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM community_comments WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        let audit = audit.map(|a| a.target(format!("comment:{id}")));
        finish(tx, self.clock.now(), audit, Vec::new()).await
    }

    async fn list_comments(&self, prompt: CommunityPromptId) -> Result<Vec<Comment>> {
        let rows: Vec<CommentRow> = sqlx::query_as(&format!(
            "SELECT {COMMENT_COLUMNS} FROM community_comments WHERE prompt_id = $1 \
             ORDER BY id"
        ))
        .bind(prompt.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Comment::from).collect())
    }

    async fn flag_community_prompt(
        &self,
        flag: Flag,
        threshold: u32,
    ) -> Result<(CommunityPrompt, bool)> {
        let id = flag.prompt;
        let mut tx = self.pool.begin().await?;
        let before = lock_prompt(&mut tx, id).await?;
        let inserted = sqlx::query(
            "INSERT INTO community_flags (prompt_id, user_id, reason, at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (prompt_id, user_id) DO NOTHING",
        )
        .bind(id.0)
        .bind(flag.user.0)
        .bind(flag.reason.as_str())
        .bind(flag.at)
        .execute(&mut *tx)
        .await
        .map_err(missing_ref)?;
        if inserted.rows_affected() == 0 {
            return Ok((before, false));
        }
        let flags = before.flag_count.saturating_add(1);
        let take_down = before.status == PromptStatus::Approved && flags >= threshold;
        let row: PromptRow = if take_down {
            let reason = flagged_reason(flags);
            let decision = Decision {
                prompt: id,
                moderator: None,
                action: DecisionAction::Flagged,
                reason: reason.clone(),
                at: flag.at,
            };
            insert_decision(&mut tx, id, &decision).await?;
            sqlx::query_as(&format!(
                "UPDATE community_prompts SET flag_count = $2, status = $3, status_reason = $4, \
                 updated_at = $5 WHERE id = $1 RETURNING {PROMPT_COLUMNS}"
            ))
            .bind(id.0)
            .bind(to_int("flag_count", flags)?)
            .bind(PromptStatus::Flagged.as_str())
            .bind(reason)
            .bind(flag.at)
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query_as(&format!(
                "UPDATE community_prompts SET flag_count = $2 WHERE id = $1 \
                 RETURNING {PROMPT_COLUMNS}"
            ))
            .bind(id.0)
            .bind(to_int("flag_count", flags)?)
            .fetch_one(&mut *tx)
            .await?
        };
        let after = CommunityPrompt::try_from(row)?;
        finish(tx, self.clock.now(), None, change(id)).await?;
        Ok((after, true))
    }

    async fn list_flags(&self, prompt: CommunityPromptId) -> Result<Vec<Flag>> {
        let rows: Vec<FlagRow> = sqlx::query_as(
            "SELECT prompt_id, user_id, reason, at FROM community_flags WHERE prompt_id = $1 \
             ORDER BY at, user_id",
        )
        .bind(prompt.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Flag::from).collect())
    }

    async fn record_community_use(
        &self,
        prompt: CommunityPromptId,
        user: UserId,
        day: time::Date,
        fork: bool,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let before = lock_prompt(&mut tx, prompt).await?;
        let inserted = sqlx::query(
            "INSERT INTO community_uses (prompt_id, user_id, day) VALUES ($1, $2, $3) \
             ON CONFLICT (prompt_id, user_id, day) DO NOTHING",
        )
        .bind(prompt.0)
        .bind(user.0)
        .bind(day)
        .execute(&mut *tx)
        .await
        .map_err(missing_ref)?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE community_prompts SET usage_count = usage_count + 1 WHERE id = $1")
            .bind(prompt.0)
            .execute(&mut *tx)
            .await?;
        if fork {
            add_reputation(&mut tx, before.author, reputation::FORKED).await?;
        }
        finish(tx, self.clock.now(), None, change(prompt)).await?;
        Ok(true)
    }
}
