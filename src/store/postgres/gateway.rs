//! Provider connections and runs on Postgres.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::Date;
use uuid::Uuid;

use super::{PostgresStore, append_change, audit::insert_audit, rows::corrupt, to_i64};
use crate::domain::{
    ApiKeyId, ChangeKind, Connection, ConnectionId, NewAuditEvent, Page, ProviderKind, Run, RunId,
    RunState, SpendEntry, TemplateId, UsageDelta, UsageDim, UsageRow, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::{ConnectionStore, RunStore, clamp_limit};

const CONNECTION_COLUMNS: &str = "id, workspace_id, name, kind, base_url, sealed_key, models, \
    created_by, created_at, updated_at, drop_unsupported";

pub(super) const RUN_COLUMNS: &str = "id, workspace_id, user_id, api_key_id, template_id, template_version, \
    connection_id, provider, model, input_tokens, output_tokens, cost_usd, latency_ms, ttft_ms, \
    state, error, prompt, output, context_manifest::text AS context_manifest, created_at, \
    requested_model, cached, params::text AS params, detail::text AS detail";

fn connection(row: &PgRow) -> Result<Connection> {
    let id: Uuid = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    Ok(Connection {
        id: ConnectionId(id),
        workspace_id: row
            .try_get::<Option<Uuid>, _>("workspace_id")?
            .map(WorkspaceId),
        name: row.try_get("name")?,
        kind: ProviderKind::parse(&kind).map_err(|e| corrupt("connection", id, e))?,
        base_url: row.try_get("base_url")?,
        sealed_key: row.try_get("sealed_key")?,
        models: row.try_get("models")?,
        drop_unsupported: row.try_get("drop_unsupported")?,
        created_by: row.try_get::<Option<Uuid>, _>("created_by")?.map(UserId),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn run(row: &PgRow) -> Result<Run> {
    let id: Uuid = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let provider: Option<String> = row.try_get("provider")?;
    let manifest: Option<String> = row.try_get("context_manifest")?;
    let json = |name: &str| -> Result<Option<serde_json::Value>> {
        row.try_get::<Option<String>, _>(name)?
            .map(|m| serde_json::from_str(&m).map_err(|e| corrupt("run", id, e)))
            .transpose()
    };
    let count = |name: &str| -> Result<u64> {
        let v: i64 = row.try_get(name)?;
        u64::try_from(v).map_err(|e| corrupt("run", id, e))
    };
    Ok(Run {
        id: RunId(id),
        workspace_id: WorkspaceId(row.try_get("workspace_id")?),
        user_id: UserId(row.try_get("user_id")?),
        api_key_id: row.try_get::<Option<Uuid>, _>("api_key_id")?.map(ApiKeyId),
        template_id: row
            .try_get::<Option<Uuid>, _>("template_id")?
            .map(TemplateId),
        template_version: row
            .try_get::<Option<i32>, _>("template_version")?
            .map(|v| u32::try_from(v).map_err(|e| corrupt("run", id, e)))
            .transpose()?,
        connection_id: row
            .try_get::<Option<Uuid>, _>("connection_id")?
            .map(ConnectionId),
        provider: provider
            .map(|p| ProviderKind::parse(&p).map_err(|e| corrupt("run", id, e)))
            .transpose()?,
        model: row.try_get("model")?,
        requested_model: row.try_get("requested_model")?,
        cached: row.try_get("cached")?,
        input_tokens: count("input_tokens")?,
        output_tokens: count("output_tokens")?,
        cost_usd: row.try_get("cost_usd")?,
        latency_ms: count("latency_ms")?,
        ttft_ms: row
            .try_get::<Option<i64>, _>("ttft_ms")?
            .map(|v| u64::try_from(v).map_err(|e| corrupt("run", id, e)))
            .transpose()?,
        state: RunState::parse(&state)
            .ok_or_else(|| corrupt("run", id, format!("state {state}")))?,
        error: row.try_get("error")?,
        prompt: row.try_get("prompt")?,
        output: row.try_get("output")?,
        context_manifest: manifest
            .map(|m| serde_json::from_str(&m).map_err(|e| corrupt("run", id, e)))
            .transpose()?,
        params: json("params")?,
        detail: json("detail")?,
        created_at: row.try_get("created_at")?,
    })
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl ConnectionStore for PostgresStore {
    async fn create_connection(
        &self,
        conn: Connection,
        audit: NewAuditEvent,
    ) -> Result<Connection> {
        let mut tx = self.pool.begin().await?;
        if let Some(ws) = conn.workspace_id {
            let found = sqlx::query("SELECT 1 FROM workspaces WHERE id = $1")
                .bind(ws.0)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(Error::NotFound);
            }
        }
        sqlx::query(&format!(
            "INSERT INTO provider_connections ({CONNECTION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(conn.id.0)
        .bind(conn.workspace_id.map(|w| w.0))
        .bind(&conn.name)
        .bind(conn.kind.as_str())
        .bind(&conn.base_url)
        .bind(conn.sealed_key.as_deref())
        .bind(&conn.models)
        .bind(conn.created_by.map(|u| u.0))
        .bind(conn.created_at)
        .bind(conn.updated_at)
        .bind(conn.drop_unsupported)
        .execute(&mut *tx)
        .await?;
        insert_audit(
            &mut tx,
            self.clock.now(),
            audit.target(format!("connection:{}", conn.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }

    async fn get_connection(&self, id: ConnectionId) -> Result<Connection> {
        let row = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM provider_connections WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound)?;
        connection(&row)
    }

    async fn list_connections(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM provider_connections \
             WHERE workspace_id IS NOT DISTINCT FROM $1 ORDER BY id"
        ))
        .bind(workspace.map(|w| w.0))
        .fetch_all(&self.pool)
        .await?;
        let mut list = rows.iter().map(connection).collect::<Result<Vec<_>>>()?;
        list.sort_by_key(|c| c.name.to_lowercase());
        Ok(list)
    }

    async fn list_all_connections(&self) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM provider_connections ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(connection).collect()
    }

    async fn update_connection(
        &self,
        conn: Connection,
        audit: NewAuditEvent,
    ) -> Result<Connection> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE provider_connections SET name = $2, kind = $3, base_url = $4, sealed_key = $5, \
             models = $6, updated_at = $7, drop_unsupported = $8 WHERE id = $1",
        )
        .bind(conn.id.0)
        .bind(&conn.name)
        .bind(conn.kind.as_str())
        .bind(&conn.base_url)
        .bind(conn.sealed_key.as_deref())
        .bind(&conn.models)
        .bind(conn.updated_at)
        .bind(conn.drop_unsupported)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        insert_audit(
            &mut tx,
            self.clock.now(),
            audit.target(format!("connection:{}", conn.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }

    async fn delete_connection(&self, id: ConnectionId, audit: NewAuditEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM provider_connections WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        insert_audit(
            &mut tx,
            self.clock.now(),
            audit.target(format!("connection:{id}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reseal_connection_keys(
        &self,
        keys: Vec<(ConnectionId, Option<Vec<u8>>)>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, sealed) in keys {
            let done = sqlx::query("UPDATE provider_connections SET sealed_key = $2 WHERE id = $1")
                .bind(id.0)
                .bind(sealed.as_deref())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotFound);
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl RunStore for PostgresStore {
    async fn create_runs(&self, runs: Vec<Run>, spend: Vec<SpendEntry>) -> Result<()> {
        if runs.is_empty() && spend.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // Postgres text cannot hold NUL; a model's output might.
        let clean = |s: &str| s.replace('\0', "\u{FFFD}");
        let mut stored = Vec::with_capacity(runs.len());
        for r in &runs {
            let manifest = r.context_manifest.as_ref().map(|m| clean(&m.to_string()));
            let done = sqlx::query(
                // References deleted while the run was in flight become NULL, and a run whose
                // workspace or user is gone is skipped, so one such run cannot fail the batch.
                "INSERT INTO runs (id, workspace_id, user_id, template_id, template_version, \
                 connection_id, provider, model, input_tokens, output_tokens, cost_usd, latency_ms, \
                 ttft_ms, state, error, prompt, output, context_manifest, created_at, api_key_id, \
                 requested_model, cached, params, detail) \
                 SELECT $1, $2, $3, (SELECT id FROM templates WHERE id = $4), $5, \
                 (SELECT id FROM provider_connections WHERE id = $6), $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17, $18::jsonb, $19, (SELECT id FROM api_keys WHERE id = $20), \
                 $21, $22, $23::jsonb, $24::jsonb \
                 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $2) \
                 AND EXISTS (SELECT 1 FROM users WHERE id = $3)",
            )
            .bind(r.id.0)
            .bind(r.workspace_id.0)
            .bind(r.user_id.0)
            .bind(r.template_id.map(|t| t.0))
            .bind(r.template_version.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
            .bind(r.connection_id.map(|c| c.0))
            .bind(r.provider.map(|p| p.as_str()))
            .bind(clean(&r.model))
            .bind(big(r.input_tokens))
            .bind(big(r.output_tokens))
            .bind(r.cost_usd)
            .bind(big(r.latency_ms))
            .bind(r.ttft_ms.map(big))
            .bind(r.state.as_str())
            .bind(r.error.as_deref().map(clean))
            .bind(clean(&r.prompt))
            .bind(clean(&r.output))
            .bind(manifest)
            .bind(r.created_at)
            .bind(r.api_key_id.map(|k| k.0))
            .bind(r.requested_model.as_deref().map(clean))
            .bind(r.cached)
            .bind(r.params.as_ref().map(|m| clean(&m.to_string())))
            .bind(r.detail.as_ref().map(|m| clean(&m.to_string())))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                stored.push(r);
            }
        }
        super::usage::add_usage(&mut tx, &UsageDelta::of(stored)).await?;
        for r in &runs {
            append_change(&mut tx, ChangeKind::Run, r.id.to_string()).await?;
        }
        super::governance::add_spend(&mut tx, &spend).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_run(&self, id: RunId) -> Result<Run> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        run(&row)
    }

    async fn list_runs(
        &self,
        workspace: WorkspaceId,
        before: Option<RunId>,
        limit: usize,
    ) -> Result<Page<Run, RunId>> {
        let limit = clamp_limit(limit);
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE workspace_id = $1 \
             AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        ))
        .bind(workspace.0)
        .bind(before.map(|b| b.0))
        .bind(to_i64(limit + 1))
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows.iter().map(run).collect::<Result<Vec<_>>>()?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| r.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn delete_run(&self, id: RunId, audit: NewAuditEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        insert_audit(&mut tx, self.clock.now(), audit).await?;
        append_change(&mut tx, ChangeKind::Run, id.to_string()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_runs_before(
        &self,
        workspace: WorkspaceId,
        cutoff: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<RunId>> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE workspace_id = $1 \
             AND created_at < $2 ORDER BY id LIMIT $3 FOR UPDATE) RETURNING id",
        )
        .bind(workspace.0)
        .bind(cutoff)
        .bind(to_i64(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut ids: Vec<RunId> = ids.into_iter().map(RunId).collect();
        ids.sort_by_key(|r| r.0);
        for id in &ids {
            append_change(&mut tx, ChangeKind::Run, id.to_string()).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn usage(
        &self,
        workspace: WorkspaceId,
        dim: UsageDim,
        from: Date,
        to: Date,
    ) -> Result<Vec<UsageRow>> {
        super::usage::read_usage(&self.pool, workspace, dim, from, to).await
    }

    async fn latency_histogram(
        &self,
        workspace: WorkspaceId,
        from: Date,
        to: Date,
    ) -> Result<Vec<(String, u8, u64)>> {
        super::usage::read_latency(&self.pool, workspace, from, to).await
    }
}
