//! Gateway governance on Postgres: settings as jsonb per workspace, spend rows per (workspace,
//! month, member) added to with upserts, and the response cache.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, audit::insert_audit};
use crate::domain::outbound::OutboundAllowlist;
use crate::domain::{
    CachedResponse, GatewaySettings, MonthSpend, NewAuditEvent, SpendEntry, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::GovernanceStore;

/// The outbound allowlist's key in `meta`.
const OUTBOUND_KEY: &str = "outbound_allowlist";

/// Adds spend inside the run recorder's transaction; rows of deleted workspaces are skipped.
pub(super) async fn add_spend(conn: &mut PgConnection, spend: &[SpendEntry]) -> Result<()> {
    for s in spend {
        sqlx::query(
            "INSERT INTO spend (workspace_id, month, user_id, usd) \
             SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $1) \
             ON CONFLICT (workspace_id, month, user_id) DO UPDATE SET usd = spend.usd + EXCLUDED.usd",
        )
        .bind(s.workspace.0)
        .bind(&s.month)
        .bind(s.user.0)
        .bind(s.usd)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl GovernanceStore for PostgresStore {
    async fn get_outbound_allowlist(&self) -> Result<OutboundAllowlist> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(OUTBOUND_KEY)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((json,)) => serde_json::from_str(&json)
                .map_err(|e| Error::internal(format!("the stored outbound allowlist: {e}"))),
            None => Ok(OutboundAllowlist::default()),
        }
    }

    async fn set_outbound_allowlist(
        &self,
        list: OutboundAllowlist,
        audit: NewAuditEvent,
    ) -> Result<()> {
        let now = self.clock.now();
        let json = serde_json::to_string(&list).map_err(Error::internal)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(OUTBOUND_KEY)
        .bind(json)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, now, audit.target("instance:outbound")).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_gateway_settings(&self, workspace: WorkspaceId) -> Result<GatewaySettings> {
        let row = sqlx::query(
            "SELECT settings::text AS settings FROM gateway_settings WHERE workspace_id = $1",
        )
        .bind(workspace.0)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let text: String = row.try_get("settings")?;
                serde_json::from_str(&text).map_err(Error::internal)
            }
            None => Ok(GatewaySettings::default()),
        }
    }

    async fn list_gateway_settings(&self) -> Result<Vec<(WorkspaceId, GatewaySettings)>> {
        let rows = sqlx::query(
            "SELECT workspace_id, settings::text AS settings FROM gateway_settings \
             ORDER BY workspace_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get("settings")?;
                Ok((
                    WorkspaceId(row.try_get("workspace_id")?),
                    serde_json::from_str(&text).map_err(Error::internal)?,
                ))
            })
            .collect()
    }

    async fn update_gateway_settings(
        &self,
        workspace: WorkspaceId,
        settings: GatewaySettings,
        audit: NewAuditEvent,
    ) -> Result<GatewaySettings> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let json = serde_json::to_string(&settings).map_err(Error::internal)?;
        let done = sqlx::query(
            "INSERT INTO gateway_settings (workspace_id, settings, updated_at) \
             SELECT $1, $2::jsonb, $3 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $1) \
             ON CONFLICT (workspace_id) DO UPDATE SET settings = EXCLUDED.settings, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(workspace.0)
        .bind(json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        insert_audit(&mut tx, now, audit.target(format!("workspace:{workspace}"))).await?;
        tx.commit().await?;
        Ok(settings)
    }

    async fn get_month_spend(&self, workspace: WorkspaceId, month: &str) -> Result<MonthSpend> {
        let rows = sqlx::query(
            "SELECT user_id, usd FROM spend WHERE workspace_id = $1 AND month = $2 \
             ORDER BY usd DESC",
        )
        .bind(workspace.0)
        .bind(month)
        .fetch_all(&self.pool)
        .await?;
        let mut out = MonthSpend::default();
        for row in rows {
            let user: Uuid = row.try_get("user_id")?;
            let usd: f64 = row.try_get("usd")?;
            out.total_usd += usd;
            out.by_user.push((UserId(user), usd));
        }
        Ok(out)
    }

    async fn find_cached_response(
        &self,
        key: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<CachedResponse>> {
        let row = sqlx::query(
            "SELECT entry::text AS entry FROM response_cache WHERE key = $1 AND expires_at > $2",
        )
        .bind(key.as_slice())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let text: String = r.try_get("entry")?;
            serde_json::from_str(&text).map_err(Error::internal)
        })
        .transpose()
    }

    async fn put_cached_response(&self, entry: CachedResponse) -> Result<()> {
        let json = serde_json::to_string(&entry)
            .map_err(Error::internal)?
            .replace("\\u0000", "\u{FFFD}");
        sqlx::query(
            "INSERT INTO response_cache (key, workspace_id, entry, expires_at) \
             SELECT $1, $2, $3::jsonb, $4 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $2) \
             ON CONFLICT (key) DO UPDATE SET entry = EXCLUDED.entry, \
             expires_at = EXCLUDED.expires_at",
        )
        .bind(entry.key.as_slice())
        .bind(entry.workspace.0)
        .bind(json)
        .bind(entry.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_expired_cache(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM response_cache WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
