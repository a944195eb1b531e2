//! Linked sign-in identities in redb: `identities` by (provider, subject), and
//! `identities_by_user` by (user, provider) so a user lists theirs and links one per provider.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{
    IDENTITIES, IDENTITIES_BY_USER, RedbStore, USERS, audit::insert_audit, decode, encode,
    users::insert_user,
};
use crate::domain::{Identity, NewAuditEvent, NewUser, User, UserId};
use crate::error::{Error, Result};
use crate::store::IdentityStore;

/// Version 7 -> 8: linked identities.
pub(super) fn create_identity_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(IDENTITIES)?;
    txn.open_table(IDENTITIES_BY_USER)?;
    Ok(())
}

/// Inserts `identity` in `txn`, refusing a second link of one provider account or of one
/// provider for one user.
fn insert_identity(txn: &WriteTransaction, identity: &Identity) -> Result<()> {
    let mut by_key = txn.open_table(IDENTITIES)?;
    let key = (identity.provider.as_str(), identity.subject.as_str());
    if by_key.get(key)?.is_some() {
        return Err(Error::conflict(
            "identity",
            "that account is already linked to a Promptyard user",
        ));
    }
    let mut by_user = txn.open_table(IDENTITIES_BY_USER)?;
    let user_key = (identity.user_id.0.as_u128(), identity.provider.as_str());
    if by_user.get(user_key)?.is_some() {
        return Err(Error::conflict(
            "identity",
            "you already linked an account of this provider; unlink it first",
        ));
    }
    by_key.insert(key, encode(identity)?.as_slice())?;
    by_user.insert(user_key, identity.subject.as_str())?;
    Ok(())
}

#[async_trait]
impl IdentityStore for RedbStore {
    async fn find_identity(&self, provider: &str, subject: &str) -> Result<Option<Identity>> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(IDENTITIES)?;
            match table.get((provider.as_str(), subject.as_str()))? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_identities(&self, user: UserId) -> Result<Vec<Identity>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let by_user = txn.open_table(IDENTITIES_BY_USER)?;
            let table = txn.open_table(IDENTITIES)?;
            let id = user.0.as_u128();
            let mut out = Vec::new();
            for entry in by_user.range((id, "")..(id.saturating_add(1), ""))? {
                let (k, subject) = entry?;
                let (_, provider) = k.value();
                if let Some(v) = table.get((provider, subject.value()))? {
                    out.push(decode(v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn create_identity(&self, identity: Identity, audit: NewAuditEvent) -> Result<Identity> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if txn
                .open_table(USERS)?
                .get(identity.user_id.0.as_u128())?
                .is_none()
            {
                return Err(Error::NotFound);
            }
            insert_identity(&txn, &identity)?;
            insert_audit(&txn, clock.now(), audit)?;
            txn.commit()?;
            Ok(identity)
        })
        .await
    }

    async fn create_user_with_identity(
        &self,
        new: NewUser,
        identity: Identity,
        audit: NewAuditEvent,
    ) -> Result<User> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let user = insert_user(&txn, clock, new, audit)?;
            insert_identity(
                &txn,
                &Identity {
                    user_id: user.id,
                    ..identity
                },
            )?;
            txn.commit()?;
            Ok(user)
        })
        .await
    }

    async fn delete_identity(
        &self,
        user: UserId,
        provider: &str,
        password_counts: bool,
        audit: NewAuditEvent,
    ) -> Result<()> {
        let provider = provider.to_owned();
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let id = user.0.as_u128();
            let subject = {
                let by_user = txn.open_table(IDENTITIES_BY_USER)?;
                let found = by_user.get((id, provider.as_str()))?;
                found.map(|s| s.value().to_owned()).ok_or(Error::NotFound)?
            };
            let others = txn
                .open_table(IDENTITIES_BY_USER)?
                .range((id, "")..(id.saturating_add(1), ""))?
                .count()
                .saturating_sub(1);
            let users = txn.open_table(USERS)?;
            let account: User = decode(users.get(id)?.ok_or(Error::NotFound)?.value())?;
            drop(users);
            let has_password = password_counts && account.password_hash.is_some();
            if others == 0 && !has_password {
                return Err(crate::domain::identity::last_login_method());
            }
            txn.open_table(IDENTITIES)?
                .remove((provider.as_str(), subject.as_str()))?;
            txn.open_table(IDENTITIES_BY_USER)?
                .remove((id, provider.as_str()))?;
            insert_audit(&txn, clock.now(), audit)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn touch_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<String>,
        at: OffsetDateTime,
    ) -> Result<()> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(IDENTITIES)?;
                let key = (provider.as_str(), subject.as_str());
                let found: Option<Identity> = match table.get(key)? {
                    Some(v) => Some(decode(v.value())?),
                    None => None,
                };
                if let Some(mut identity) = found {
                    identity.last_login_at = Some(at);
                    if email.is_some() {
                        identity.email = email;
                    }
                    table.insert(key, encode(&identity)?.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}
