//! Audit events in Postgres: the `audit_events` table, paged newest first by time-ordered id.
//!
//! Events that accompany another write are inserted through [`insert_audit`] inside that
//! write's transaction, so an action and its record commit or fail together.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, to_i64};
use crate::domain::{AuditEvent, AuditFilter, AuditId, NewAuditEvent, Page, UserId, WorkspaceId};
use crate::error::Result;
use crate::store::{AuditStore, clamp_limit};

/// An `audit_events` row as stored.
#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    at: OffsetDateTime,
    actor: Option<Uuid>,
    action: String,
    target: Option<String>,
    ip: Option<String>,
    detail: String,
    workspace_id: Option<Uuid>,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        AuditEvent {
            id: AuditId(row.id),
            at: row.at,
            actor: row.actor.map(UserId),
            action: row.action,
            target: row.target,
            ip: row.ip,
            detail: row.detail,
            workspace: row.workspace_id.map(WorkspaceId),
        }
    }
}

/// Records an audit event on `conn` (usually inside the caller's transaction).
pub(super) async fn insert_audit(
    conn: &mut PgConnection,
    at: OffsetDateTime,
    new: NewAuditEvent,
) -> Result<AuditEvent> {
    let event = AuditEvent::from_new(AuditId::new(), at, new);
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, target, ip, detail, workspace_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.id.0)
    .bind(event.at)
    .bind(event.actor.map(|a| a.0))
    .bind(event.action.as_str())
    .bind(event.target.as_deref())
    .bind(event.ip.as_deref())
    .bind(event.detail.as_str())
    .bind(event.workspace.map(|w| w.0))
    .execute(&mut *conn)
    .await?;
    Ok(event)
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn create_audit_event(&self, event: NewAuditEvent) -> Result<AuditEvent> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, self.clock.now(), event).await
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Page<AuditEvent, AuditId>> {
        let limit = clamp_limit(limit);
        // `action` ending in `.` is a prefix: `login.` matches `login` and `login.failed`.
        let (exact, prefix) = match filter.action.as_deref() {
            Some(a) => match a.strip_suffix('.') {
                Some(p) => (Some(p.to_owned()), Some(format!("{}%", like_escape(a)))),
                None => (Some(a.to_owned()), None),
            },
            None => (None, None),
        };
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, target, ip, detail, workspace_id FROM audit_events \
             WHERE ($1::uuid IS NULL OR id < $1) \
               AND ($3::uuid IS NULL OR workspace_id = $3) \
               AND ($4::uuid IS NULL OR actor = $4) \
               AND ($5::text IS NULL OR action = $5 OR ($6::text IS NOT NULL AND action LIKE $6)) \
               AND ($7::timestamptz IS NULL OR at >= $7) \
               AND ($8::timestamptz IS NULL OR at < $8) \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(before.map(|id| id.0))
        .bind(to_i64(limit + 1))
        .bind(filter.workspace.map(|w| w.0))
        .bind(filter.actor.map(|a| a.0))
        .bind(exact)
        .bind(prefix)
        .bind(filter.from)
        .bind(filter.to)
        .fetch_all(&self.pool)
        .await?;
        let mut items: Vec<AuditEvent> = rows.into_iter().map(AuditEvent::from).collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| e.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

/// Escapes `%`, `_` and `\\` for a LIKE pattern.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
