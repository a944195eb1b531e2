//! Daily roll-ups in Postgres (migration 0007): upserted with `ON CONFLICT ... DO UPDATE` in the
//! transaction that records the runs, rows in key order so concurrent servers lock them in the
//! same order.

use sqlx::{PgConnection, PgPool, Row};
use time::Date;

use super::gateway::RUN_COLUMNS;
use crate::domain::{Run, UsageCounts, UsageDelta, UsageDim, UsageRow, WorkspaceId};
use crate::error::Result;

fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Adds `delta` to the roll-ups.
pub(super) async fn add_usage(conn: &mut PgConnection, delta: &UsageDelta) -> Result<()> {
    if !delta.rows.is_empty() {
        let mut cols: (Vec<uuid::Uuid>, Vec<i16>, Vec<Date>, Vec<String>) = Default::default();
        let mut sums: [Vec<i64>; 6] = Default::default();
        for ((ws, dim, day, key), c) in &delta.rows {
            cols.0.push(ws.0);
            cols.1.push(i16::from(dim.code()));
            cols.2.push(*day);
            cols.3.push(key.replace('\0', "\u{FFFD}"));
            for (v, n) in sums.iter_mut().zip(c.fields()) {
                v.push(big(n));
            }
        }
        let [runs, failed, input, output, cost, latency] = sums;
        sqlx::query(
            "INSERT INTO usage_daily (workspace_id, dim, day, key, runs, failed, input_tokens, \
             output_tokens, cost_micro_usd, latency_ms) \
             SELECT * FROM UNNEST($1::uuid[], $2::int2[], $3::date[], $4::text[], $5::int8[], \
             $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[]) \
             ON CONFLICT (workspace_id, dim, day, key) DO UPDATE SET \
             runs = usage_daily.runs + EXCLUDED.runs, \
             failed = usage_daily.failed + EXCLUDED.failed, \
             input_tokens = usage_daily.input_tokens + EXCLUDED.input_tokens, \
             output_tokens = usage_daily.output_tokens + EXCLUDED.output_tokens, \
             cost_micro_usd = usage_daily.cost_micro_usd + EXCLUDED.cost_micro_usd, \
             latency_ms = usage_daily.latency_ms + EXCLUDED.latency_ms",
        )
        .bind(cols.0)
        .bind(cols.1)
        .bind(cols.2)
        .bind(cols.3)
        .bind(runs)
        .bind(failed)
        .bind(input)
        .bind(output)
        .bind(cost)
        .bind(latency)
        .execute(&mut *conn)
        .await?;
    }
    if !delta.latency.is_empty() {
        let (mut wss, mut days, mut models, mut buckets, mut runs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((ws, day, model, bucket), n) in &delta.latency {
            wss.push(ws.0);
            days.push(*day);
            models.push(model.replace('\0', "\u{FFFD}"));
            buckets.push(i16::from(*bucket));
            runs.push(big(*n));
        }
        sqlx::query(
            "INSERT INTO usage_latency (workspace_id, day, model, bucket, runs) \
             SELECT * FROM UNNEST($1::uuid[], $2::date[], $3::text[], $4::int2[], $5::int8[]) \
             ON CONFLICT (workspace_id, day, model, bucket) DO UPDATE SET \
             runs = usage_latency.runs + EXCLUDED.runs",
        )
        .bind(wss)
        .bind(days)
        .bind(models)
        .bind(buckets)
        .bind(runs)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Rolls up the runs recorded before the roll-ups existed, once: the first server to start
/// after migration 0007 does it, holding the marker row so another waits and then finds
/// nothing to do.
pub(super) async fn backfill(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    let pending = sqlx::query("SELECT pending FROM usage_backfill_pending FOR UPDATE")
        .fetch_optional(&mut *tx)
        .await?;
    if pending.is_none() {
        return Ok(());
    }
    let mut after: Option<uuid::Uuid> = None;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT 5000"
        ))
        .bind(after)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        let runs = rows
            .iter()
            .map(super::gateway::run)
            .collect::<Result<Vec<Run>>>()?;
        after = runs.last().map(|r| r.id.0);
        add_usage(&mut tx, &UsageDelta::of(&runs)).await?;
    }
    sqlx::query("DELETE FROM usage_backfill_pending")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn read_usage(
    pool: &PgPool,
    workspace: WorkspaceId,
    dim: UsageDim,
    from: Date,
    to: Date,
) -> Result<Vec<UsageRow>> {
    let rows = sqlx::query(
        "SELECT day, key, runs, failed, input_tokens, output_tokens, cost_micro_usd, latency_ms \
         FROM usage_daily WHERE workspace_id = $1 AND dim = $2 AND day BETWEEN $3 AND $4 \
         ORDER BY day, key",
    )
    .bind(workspace.0)
    .bind(i16::from(dim.code()))
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    const SUMS: [&str; 6] = [
        "runs",
        "failed",
        "input_tokens",
        "output_tokens",
        "cost_micro_usd",
        "latency_ms",
    ];
    rows.iter()
        .map(|r| {
            let mut f = [0_u64; 6];
            for (v, c) in f.iter_mut().zip(SUMS) {
                *v = u64::try_from(r.try_get::<i64, _>(c)?).unwrap_or(0);
            }
            Ok(UsageRow {
                day: r.try_get("day")?,
                key: r.try_get("key")?,
                counts: UsageCounts::from_fields(f),
            })
        })
        .collect()
}

pub(super) async fn read_latency(
    pool: &PgPool,
    workspace: WorkspaceId,
    from: Date,
    to: Date,
) -> Result<Vec<(String, u8, u64)>> {
    let rows = sqlx::query(
        "SELECT model, bucket, sum(runs)::int8 AS runs FROM usage_latency \
         WHERE workspace_id = $1 AND day BETWEEN $2 AND $3 GROUP BY model, bucket \
         ORDER BY model, bucket",
    )
    .bind(workspace.0)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("model")?,
                u8::try_from(r.try_get::<i16, _>("bucket")?).unwrap_or(0),
                u64::try_from(r.try_get::<i64, _>("runs")?).unwrap_or(0),
            ))
        })
        .collect()
}
