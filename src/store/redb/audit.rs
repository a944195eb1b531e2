//! Audit events in redb, keyed by their time-ordered id.

use async_trait::async_trait;
use redb::WriteTransaction;
use time::OffsetDateTime;

use super::{AUDIT, RedbStore, decode, encode};
use crate::domain::{AuditEvent, AuditFilter, AuditId, NewAuditEvent, Page};
use crate::error::Result;
use crate::store::{AuditStore, clamp_limit};

/// Records an audit event inside `txn`.
pub(super) fn insert_audit(
    txn: &WriteTransaction,
    at: OffsetDateTime,
    new: NewAuditEvent,
) -> Result<AuditEvent> {
    let event = AuditEvent::from_new(AuditId::new(), at, new);
    txn.open_table(AUDIT)?
        .insert(event.id.0.as_u128(), encode(&event)?.as_slice())?;
    Ok(event)
}

#[async_trait]
impl AuditStore for RedbStore {
    async fn create_audit_event(&self, event: NewAuditEvent) -> Result<AuditEvent> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let event = insert_audit(&txn, clock.now(), event)?;
            txn.commit()?;
            Ok(event)
        })
        .await
    }

    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Page<AuditEvent, AuditId>> {
        let limit = clamp_limit(limit);
        let filter = filter.clone();
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let audit = txn.open_table(AUDIT)?;
            let end = before.map(|id| id.0.as_u128()).unwrap_or(u128::MAX);
            // Newest first, checking each event against the filter until the page is full. The
            // times are the clock's and the ids the system's, which can differ (a test clock),
            // so the id order is not used to skip to a time window.
            let mut items: Vec<AuditEvent> = Vec::with_capacity(limit + 1);
            for entry in audit.range(..end)?.rev() {
                let (_, v) = entry?;
                let event: AuditEvent = decode(v.value())?;
                if filter.matches(&event) {
                    items.push(event);
                    if items.len() > limit {
                        break;
                    }
                }
            }
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|e| e.id)
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .await
    }
}
