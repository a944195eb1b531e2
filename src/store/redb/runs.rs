//! Runs in redb: by id, and by (workspace, id) for the newest-first history.

use async_trait::async_trait;
use redb::ReadableTable;

use super::{RUNS, RUNS_BY_WORKSPACE, RedbStore, append_change, decode, encode};
use crate::domain::{
    ChangeKind, NewAuditEvent, Page, Run, RunId, SpendEntry, UsageDelta, UsageDim, UsageRow,
    WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::{RunStore, clamp_limit};
use time::Date;

#[async_trait]
impl RunStore for RedbStore {
    async fn create_runs(&self, runs: Vec<Run>, spend: Vec<SpendEntry>) -> Result<()> {
        if runs.is_empty() && spend.is_empty() {
            return Ok(());
        }
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            for run in &runs {
                let id = run.id.0.as_u128();
                txn.open_table(RUNS)?.insert(id, encode(run)?.as_slice())?;
                txn.open_table(RUNS_BY_WORKSPACE)?
                    .insert((run.workspace_id.0.as_u128(), id), ())?;
                append_change(&txn, ChangeKind::Run, run.id.to_string())?;
            }
            super::governance::add_spend(&txn, &spend)?;
            super::usage::add_usage(&txn, &UsageDelta::of(&runs))?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_run(&self, id: RunId) -> Result<Run> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(RUNS)?;
            let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(v.value())
        })
        .await
    }

    async fn list_runs(
        &self,
        workspace: WorkspaceId,
        before: Option<RunId>,
        limit: usize,
    ) -> Result<Page<Run, RunId>> {
        let limit = clamp_limit(limit);
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let index = txn.open_table(RUNS_BY_WORKSPACE)?;
            let runs = txn.open_table(RUNS)?;
            let w = workspace.0.as_u128();
            let end = before.map(|b| b.0.as_u128()).unwrap_or(u128::MAX);
            let mut items: Vec<Run> = Vec::with_capacity(limit + 1);
            for entry in index.range((w, 0)..(w, end))?.rev().take(limit + 1) {
                if let Some(v) = runs.get(entry?.0.value().1)? {
                    items.push(decode(v.value())?);
                }
            }
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|r| r.id)
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .await
    }

    async fn delete_run(&self, id: RunId, audit: NewAuditEvent) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let k = id.0.as_u128();
            let run: Run = {
                let runs = txn.open_table(RUNS)?;
                let v = runs.get(k)?.ok_or(Error::NotFound)?;
                decode(v.value())?
            };
            txn.open_table(RUNS)?.remove(k)?;
            txn.open_table(RUNS_BY_WORKSPACE)?
                .remove((run.workspace_id.0.as_u128(), k))?;
            super::audit::insert_audit(&txn, clock.now(), audit)?;
            append_change(&txn, ChangeKind::Run, id.to_string())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_runs_before(
        &self,
        workspace: WorkspaceId,
        cutoff: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<RunId>> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let w = workspace.0.as_u128();
            let mut doomed = Vec::new();
            {
                let index = txn.open_table(RUNS_BY_WORKSPACE)?;
                let runs = txn.open_table(RUNS)?;
                // Ids are UUIDv7, made when the run started: oldest first, their first 48 bits
                // the start in Unix ms. Runs are read until the ids pass the cutoff by a day
                // (a run may have been recorded a while after it started).
                let stop_ms = (cutoff.unix_timestamp_nanos() / 1_000_000) as u128 + 86_400_000;
                for entry in index.range((w, 0)..(w, u128::MAX))? {
                    let id = entry?.0.value().1;
                    if id >> 80 > stop_ms || doomed.len() >= limit {
                        break;
                    }
                    let Some(v) = runs.get(id)? else { continue };
                    let run: Run = decode(v.value())?;
                    if run.created_at < cutoff {
                        doomed.push(run.id);
                    }
                }
            }
            for id in &doomed {
                let k = id.0.as_u128();
                txn.open_table(RUNS)?.remove(k)?;
                txn.open_table(RUNS_BY_WORKSPACE)?.remove((w, k))?;
                append_change(&txn, ChangeKind::Run, id.to_string())?;
            }
            txn.commit()?;
            Ok(doomed)
        })
        .await
    }

    async fn usage(
        &self,
        workspace: WorkspaceId,
        dim: UsageDim,
        from: Date,
        to: Date,
    ) -> Result<Vec<UsageRow>> {
        self.blocking(move |db, _| {
            super::usage::read_usage(&db.begin_read()?, workspace, dim, from, to)
        })
        .await
    }

    async fn latency_histogram(
        &self,
        workspace: WorkspaceId,
        from: Date,
        to: Date,
    ) -> Result<Vec<(String, u8, u64)>> {
        self.blocking(move |db, _| {
            super::usage::read_latency(&db.begin_read()?, workspace, from, to)
        })
        .await
    }
}
