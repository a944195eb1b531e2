//! The retention job: deletes each workspace's runs older than its `retention_days` setting,
//! once at start and then every hour, in batches, and reports what it removed (an audit event
//! per workspace, and a log line). The search index drops the runs through the change log;
//! the analytics roll-ups keep their totals.

use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::domain::{NewAuditEvent, WorkspaceId};
use crate::error::Result;
use crate::store::Store;

/// How often the job looks.
const EVERY: Duration = Duration::from_secs(3600);
/// Runs deleted per store transaction.
const BATCH: usize = 1_000;

/// What one sweep removed: (workspace, runs), for the workspaces where it removed any.
pub async fn sweep(store: &dyn Store, now: OffsetDateTime) -> Result<Vec<(WorkspaceId, u64)>> {
    let mut report = Vec::new();
    for (ws, settings) in store.list_gateway_settings().await? {
        let Some(days) = settings.retention_days else {
            continue;
        };
        let cutoff = now - time::Duration::days(i64::from(days));
        let mut removed = 0_u64;
        loop {
            let ids = store.delete_runs_before(ws, cutoff, BATCH).await?;
            removed += ids.len() as u64;
            if ids.len() < BATCH {
                break;
            }
        }
        if removed > 0 {
            let detail = format!(
                "removed {removed} runs made before {} (kept for {days} days)",
                cutoff.date()
            );
            tracing::info!(workspace = %ws, removed, days, "retention: {detail}");
            store
                .create_audit_event(
                    NewAuditEvent::new(None, "runs.retention")
                        .target(ws.to_string())
                        .workspace(ws)
                        .detail(detail),
                )
                .await?;
            report.push((ws, removed));
        }
    }
    Ok(report)
}

/// Sweeps at start and then every hour until `stop` turns true (a sweep under way finishes).
pub async fn run(
    store: std::sync::Arc<dyn Store>,
    clock: Clock,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        if let Err(e) = sweep(&*store, clock.now()).await {
            tracing::error!(error = ?e, "the retention job failed; trying again in an hour");
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}
