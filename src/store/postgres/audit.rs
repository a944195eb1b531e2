//! Audit events in Postgres: the `audit_events` table, paged newest first by time-ordered id.
//!
//! Events that accompany another write are inserted through [`insert_audit`] inside that
//! write's transaction, so an action and its record commit or fail together.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, to_i64};
use crate::domain::{AuditEvent, AuditId, NewAuditEvent, Page, UserId};
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
        }
    }
}

/// Records an audit event on `conn` (usually inside the caller's transaction).
pub(super) async fn insert_audit(
    conn: &mut PgConnection,
    at: OffsetDateTime,
    new: NewAuditEvent,
) -> Result<AuditEvent> {
    let event = AuditEvent {
        id: AuditId::new(),
        at,
        actor: new.actor,
        action: new.action,
        target: new.target,
        ip: new.ip,
        detail: new.detail,
    };
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor, action, target, ip, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.id.0)
    .bind(event.at)
    .bind(event.actor.map(|a| a.0))
    .bind(event.action.as_str())
    .bind(event.target.as_deref())
    .bind(event.ip.as_deref())
    .bind(event.detail.as_str())
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
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Page<AuditEvent, AuditId>> {
        let limit = clamp_limit(limit);
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, actor, action, target, ip, detail FROM audit_events \
             WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(before.map(|id| id.0))
        .bind(to_i64(limit + 1))
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
