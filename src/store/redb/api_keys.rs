//! API keys in redb: by hash of the secret, and by (user, id) to list and revoke them.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{API_KEYS, API_KEYS_BY_USER, RedbStore, USERS, audit::insert_audit, decode, encode};
use crate::domain::{ApiKey, ApiKeyId, NewAuditEvent, TokenHash, UserId};
use crate::error::{Error, Result};
use crate::store::ApiKeyStore;

fn put(txn: &WriteTransaction, key: &ApiKey) -> Result<()> {
    txn.open_table(API_KEYS)?
        .insert(key.key_hash.0.as_slice(), encode(key)?.as_slice())?;
    txn.open_table(API_KEYS_BY_USER)?.insert(
        (key.user_id.0.as_u128(), key.id.0.as_u128()),
        key.key_hash.0.as_slice(),
    )?;
    Ok(())
}

fn by_id(txn: &WriteTransaction, user: UserId, id: ApiKeyId) -> Result<Option<ApiKey>> {
    let hash = txn
        .open_table(API_KEYS_BY_USER)?
        .get((user.0.as_u128(), id.0.as_u128()))?
        .map(|v| v.value().to_vec());
    let Some(hash) = hash else {
        return Ok(None);
    };
    let keys = txn.open_table(API_KEYS)?;
    let found = keys.get(hash.as_slice())?;
    found.map(|v| decode(v.value())).transpose()
}

#[async_trait]
impl ApiKeyStore for RedbStore {
    async fn create_api_key(&self, key: ApiKey, audit: NewAuditEvent) -> Result<ApiKey> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if txn
                .open_table(USERS)?
                .get(key.user_id.0.as_u128())?
                .is_none()
            {
                return Err(Error::NotFound);
            }
            put(&txn, &key)?;
            insert_audit(
                &txn,
                clock.now(),
                audit.target(format!("api_key:{}", key.id)),
            )?;
            txn.commit()?;
            Ok(key)
        })
        .await
    }

    async fn find_api_key(&self, key_hash: TokenHash) -> Result<Option<ApiKey>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let keys = txn.open_table(API_KEYS)?;
            let found = keys.get(key_hash.0.as_slice())?;
            found.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let index = txn.open_table(API_KEYS_BY_USER)?;
            let keys = txn.open_table(API_KEYS)?;
            let u = user.0.as_u128();
            let mut out: Vec<ApiKey> = Vec::new();
            for entry in index.range((u, 0)..=(u, u128::MAX))? {
                let (_, hash) = entry?;
                if let Some(v) = keys.get(hash.value())? {
                    out.push(decode(v.value())?);
                }
            }
            out.sort_by_key(|k| std::cmp::Reverse(k.created_at));
            Ok(out)
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        user: UserId,
        id: ApiKeyId,
        at: OffsetDateTime,
        audit: NewAuditEvent,
    ) -> Result<ApiKey> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut key = by_id(&txn, user, id)?.ok_or(Error::NotFound)?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
                put(&txn, &key)?;
            }
            let audit = audit
                .target(format!("api_key:{id}"))
                .workspace(key.workspace_id);
            insert_audit(&txn, clock.now(), audit)?;
            txn.commit()?;
            Ok(key)
        })
        .await
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<()> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            // Find the key's user through the index: keys are few per user.
            let mut found = None;
            {
                let index = txn.open_table(API_KEYS_BY_USER)?;
                for entry in index.iter()? {
                    let (k, hash) = entry?;
                    if k.value().1 == id.0.as_u128() {
                        found = Some(hash.value().to_vec());
                        break;
                    }
                }
            }
            if let Some(hash) = found {
                let key: Option<ApiKey> = {
                    let keys = txn.open_table(API_KEYS)?;
                    let v = keys.get(hash.as_slice())?;
                    v.map(|v| decode(v.value())).transpose()?
                };
                if let Some(mut key) = key {
                    key.last_used_at = Some(at);
                    put(&txn, &key)?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}
