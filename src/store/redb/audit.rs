//! Audit events in redb, keyed by their time-ordered id.

use async_trait::async_trait;
use redb::WriteTransaction;
use time::OffsetDateTime;

use super::{AUDIT, RedbStore, decode, encode};
use crate::domain::{AuditEvent, AuditId, NewAuditEvent, Page};
use crate::error::Result;
use crate::store::{AuditStore, clamp_limit};

/// Records an audit event inside `txn`.
pub(super) fn insert_audit(
    txn: &WriteTransaction,
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
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Page<AuditEvent, AuditId>> {
        let limit = clamp_limit(limit);
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let audit = txn.open_table(AUDIT)?;
            let end = before.map(|id| id.0.as_u128()).unwrap_or(u128::MAX);
            let mut items: Vec<AuditEvent> = Vec::with_capacity(limit + 1);
            for entry in audit.range(..end)?.rev().take(limit + 1) {
                let (_, v) = entry?;
                items.push(decode(v.value())?);
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
