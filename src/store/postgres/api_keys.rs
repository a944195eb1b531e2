//! API keys on Postgres.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, audit::insert_audit, rows::corrupt};
use crate::domain::{ApiKey, ApiKeyId, NewAuditEvent, TokenHash, UserId, WorkspaceId};
use crate::error::{Error, Result};
use crate::store::ApiKeyStore;

const COLUMNS: &str = "id, user_id, workspace_id, name, prefix, key_hash, models, expires_at, \
    created_at, last_used_at, revoked_at";

fn key(row: &PgRow) -> Result<ApiKey> {
    let id: Uuid = row.try_get("id")?;
    let hash: Vec<u8> = row.try_get("key_hash")?;
    Ok(ApiKey {
        id: ApiKeyId(id),
        user_id: UserId(row.try_get("user_id")?),
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: TokenHash(
            hash.try_into()
                .map_err(|_| corrupt("api key", id, "hash length"))?,
        ),
        models: row.try_get("models")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

#[async_trait]
impl ApiKeyStore for PostgresStore {
    async fn create_api_key(&self, k: ApiKey, audit: NewAuditEvent) -> Result<ApiKey> {
        let mut tx = self.pool.begin().await?;
        let user = sqlx::query("SELECT 1 FROM users WHERE id = $1")
            .bind(k.user_id.0)
            .fetch_optional(&mut *tx)
            .await?;
        if user.is_none() {
            return Err(Error::NotFound);
        }
        sqlx::query(&format!(
            "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(k.id.0)
        .bind(k.user_id.0)
        .bind(k.workspace_id.0)
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(k.key_hash.0.as_slice())
        .bind(&k.models)
        .bind(k.expires_at)
        .bind(k.created_at)
        .bind(k.last_used_at)
        .bind(k.revoked_at)
        .execute(&mut *tx)
        .await?;
        insert_audit(
            &mut tx,
            self.clock.now(),
            audit.target(format!("api_key:{}", k.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(k)
    }

    async fn find_api_key(&self, key_hash: TokenHash) -> Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key).transpose()
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key).collect()
    }

    async fn revoke_api_key(
        &self,
        user: UserId,
        id: ApiKeyId,
        at: OffsetDateTime,
        audit: NewAuditEvent,
    ) -> Result<ApiKey> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
        ))
        .bind(id.0)
        .bind(user.0)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound)?;
        let k = key(&row)?;
        insert_audit(
            &mut tx,
            self.clock.now(),
            audit
                .target(format!("api_key:{id}"))
                .workspace(k.workspace_id),
        )
        .await?;
        tx.commit().await?;
        Ok(k)
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
