//! Gateway governance in redb: settings per workspace, spend per (workspace, month, member),
//! and the response cache keyed by request hash.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{
    GATEWAY_SETTINGS, INSTANCE, RESPONSE_CACHE, RedbStore, SPEND, WORKSPACES, audit::insert_audit,
    decode, encode,
};
use crate::domain::outbound::OutboundAllowlist;
use crate::domain::{
    CachedResponse, GatewaySettings, MonthSpend, NewAuditEvent, SpendEntry, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::GovernanceStore;

/// The outbound allowlist's key in the instance table.
const OUTBOUND_KEY: &str = "outbound_allowlist";

/// Adds spend inside a write transaction (the run recorder's); spend of deleted workspaces is
/// dropped.
pub(super) fn add_spend(txn: &WriteTransaction, spend: &[SpendEntry]) -> Result<()> {
    let mut table = txn.open_table(SPEND)?;
    let workspaces = txn.open_table(WORKSPACES)?;
    for s in spend {
        // A workspace deleted while its call was in flight has no budget left to count against.
        if workspaces.get(s.workspace.0.as_u128())?.is_none() {
            continue;
        }
        let key = (
            s.workspace.0.as_u128(),
            s.month.as_str(),
            s.user.0.as_u128(),
        );
        let before = table.get(key)?.map(|v| v.value()).unwrap_or(0.0);
        table.insert(key, before + s.usd)?;
    }
    Ok(())
}

/// Removes a workspace's settings and spend (inside its deletion).
pub(super) fn delete_for_workspace(txn: &WriteTransaction, w: u128) -> Result<()> {
    txn.open_table(GATEWAY_SETTINGS)?.remove(w)?;
    let mut spend = txn.open_table(SPEND)?;
    let mut doomed: Vec<(String, u128)> = Vec::new();
    for entry in spend.range((w, "", 0)..)? {
        let (k, _) = entry?;
        let (ws, month, user) = k.value();
        if ws != w {
            break;
        }
        doomed.push((month.to_owned(), user));
    }
    for (month, user) in doomed {
        spend.remove((w, month.as_str(), user))?;
    }
    Ok(())
}

#[async_trait]
impl GovernanceStore for RedbStore {
    async fn get_outbound_allowlist(&self) -> Result<OutboundAllowlist> {
        self.blocking(|db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(INSTANCE)?;
            match table.get(OUTBOUND_KEY)? {
                Some(v) => decode(v.value()),
                None => Ok(OutboundAllowlist::default()),
            }
        })
        .await
    }

    async fn set_outbound_allowlist(
        &self,
        list: OutboundAllowlist,
        audit: NewAuditEvent,
    ) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            txn.open_table(INSTANCE)?
                .insert(OUTBOUND_KEY, encode(&list)?.as_slice())?;
            insert_audit(&txn, clock.now(), audit.target("instance:outbound"))?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_gateway_settings(&self, workspace: WorkspaceId) -> Result<GatewaySettings> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(GATEWAY_SETTINGS)?;
            match table.get(workspace.0.as_u128())? {
                Some(v) => decode(v.value()),
                None => Ok(GatewaySettings::default()),
            }
        })
        .await
    }

    async fn list_gateway_settings(&self) -> Result<Vec<(WorkspaceId, GatewaySettings)>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(GATEWAY_SETTINGS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                out.push((
                    WorkspaceId(uuid::Uuid::from_u128(k.value())),
                    decode(v.value())?,
                ));
            }
            Ok(out)
        })
        .await
    }

    async fn update_gateway_settings(
        &self,
        workspace: WorkspaceId,
        settings: GatewaySettings,
        audit: NewAuditEvent,
    ) -> Result<GatewaySettings> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let w = workspace.0.as_u128();
            if txn.open_table(WORKSPACES)?.get(w)?.is_none() {
                return Err(Error::NotFound);
            }
            txn.open_table(GATEWAY_SETTINGS)?
                .insert(w, encode(&settings)?.as_slice())?;
            insert_audit(
                &txn,
                clock.now(),
                audit.target(format!("workspace:{workspace}")),
            )?;
            txn.commit()?;
            Ok(settings)
        })
        .await
    }

    async fn get_month_spend(&self, workspace: WorkspaceId, month: &str) -> Result<MonthSpend> {
        let month = month.to_owned();
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(SPEND)?;
            let w = workspace.0.as_u128();
            let mut out = MonthSpend::default();
            for entry in table.range((w, month.as_str(), 0)..=(w, month.as_str(), u128::MAX))? {
                let (k, v) = entry?;
                let usd = v.value();
                out.total_usd += usd;
                out.by_user
                    .push((UserId(uuid::Uuid::from_u128(k.value().2)), usd));
            }
            out.by_user.sort_by(|a, b| b.1.total_cmp(&a.1));
            Ok(out)
        })
        .await
    }

    async fn find_cached_response(
        &self,
        key: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<CachedResponse>> {
        self.inline(|db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(RESPONSE_CACHE)?;
            let Some(v) = table.get(key.as_slice())? else {
                return Ok(None);
            };
            let entry: CachedResponse = decode(v.value())?;
            Ok((entry.expires_at > now).then_some(entry))
        })
    }

    async fn put_cached_response(&self, entry: CachedResponse) -> Result<()> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            if txn
                .open_table(WORKSPACES)?
                .get(entry.workspace.0.as_u128())?
                .is_none()
            {
                return Ok(());
            }
            txn.open_table(RESPONSE_CACHE)?
                .insert(entry.key.as_slice(), encode(&entry)?.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_expired_cache(&self, now: OffsetDateTime) -> Result<u64> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let n = {
                let mut table = txn.open_table(RESPONSE_CACHE)?;
                let workspaces = txn.open_table(WORKSPACES)?;
                let mut doomed = Vec::new();
                for entry in table.iter()? {
                    let (k, v) = entry?;
                    let e: CachedResponse = decode(v.value())?;
                    if e.expires_at <= now || workspaces.get(e.workspace.0.as_u128())?.is_none() {
                        doomed.push(k.value().to_vec());
                    }
                }
                for k in &doomed {
                    table.remove(k.as_slice())?;
                }
                doomed.len() as u64
            };
            txn.commit()?;
            Ok(n)
        })
        .await
    }
}
