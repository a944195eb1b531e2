//! Sessions in Postgres: the `sessions` table keyed by token hash, indexed by user.
//!
//! Only the SHA-256 of a token is stored. Deleting a user cascades to their sessions; ending a
//! user's sessions on disable or password change happens in `users.rs`, inside that update's
//! transaction.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PostgresStore;
use crate::domain::{Session, SessionId, TokenHash, UserId};
use crate::error::{Error, Result};
use crate::store::SessionStore;

const SESSION_COLUMNS: &str =
    "id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent";

/// A `sessions` row as stored.
#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    token_hash: Vec<u8>,
    user_id: Uuid,
    created_at: OffsetDateTime,
    last_seen_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;

    fn try_from(row: SessionRow) -> Result<Self> {
        let hash: [u8; 32] = row.token_hash.as_slice().try_into().map_err(|_| {
            Error::internal(format!(
                "session {} has a token hash of the wrong size",
                row.id
            ))
        })?;
        Ok(Session {
            id: SessionId(row.id),
            token_hash: TokenHash(hash),
            user_id: UserId(row.user_id),
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            ip: row.ip,
            user_agent: row.user_agent,
        })
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, session: Session) -> Result<()> {
        // Inserts only for an existing, enabled user, so a login racing a disable loses.
        let done = sqlx::query(
            "INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, \
             ip, user_agent) SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM users \
             WHERE id = $3 AND NOT disabled",
        )
        .bind(session.id.0)
        .bind(session.token_hash.0.as_slice())
        .bind(session.user_id.0)
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .bind(session.ip.as_deref())
        .bind(session.user_agent.as_deref())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict {
                field: None,
                message: "the account is disabled".to_owned(),
            });
        }
        Ok(())
    }

    async fn find_session(&self, token_hash: TokenHash) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Session::try_from).transpose()
    }

    async fn touch_session(&self, token_hash: TokenHash, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(token_hash.0.as_slice())
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Session::try_from).collect()
    }

    async fn delete_session(&self, user: UserId, id: SessionId) -> Result<()> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id = $2")
            .bind(user.0)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    async fn delete_user_sessions(&self, user: UserId, keep: Option<SessionId>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2)",
        )
        .bind(user.0)
        .bind(keep.map(|id| id.0))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        // `<=` like the redb store: a session is no longer live at its expiry instant.
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(idle_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
