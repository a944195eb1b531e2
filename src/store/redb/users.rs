//! Users in redb: `users` by id, `users_by_email` by lower-cased email.

use async_trait::async_trait;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::{
    RedbStore, USERS, USERS_BY_EMAIL, append_change, audit::insert_audit, decode, encode,
    sessions::delete_sessions_of,
};
use crate::clock::Clock;
use crate::domain::user::last_admin;
use crate::domain::{ChangeKind, NewAuditEvent, NewUser, Page, User, UserId, UserUpdate};
use crate::error::{Error, Result};
use crate::store::{UserStore, clamp_limit};

fn taken() -> Error {
    Error::conflict("email", "an account with that email already exists")
}

/// Inserts a new user in `txn`, with its audit event and change-log entry.
pub(super) fn insert_user(
    txn: &WriteTransaction,
    clock: &Clock,
    new: NewUser,
    audit: NewAuditEvent,
) -> Result<User> {
    let key = new.email.normalized();
    let mut by_email = txn.open_table(USERS_BY_EMAIL)?;
    if by_email.get(key.as_str())?.is_some() {
        return Err(taken());
    }
    let now = clock.now();
    let user = User {
        id: UserId::new(),
        email: new.email,
        name: new.name,
        role: new.role,
        disabled: false,
        password_hash: new.password_hash,
        avatar: None,
        created_at: now,
        updated_at: now,
    };
    by_email.insert(key.as_str(), user.id.0.as_u128())?;
    txn.open_table(USERS)?
        .insert(user.id.0.as_u128(), encode(&user)?.as_slice())?;
    let audit = NewAuditEvent {
        target: audit.target.or_else(|| Some(format!("user:{}", user.id))),
        ..audit
    };
    insert_audit(txn, now, audit)?;
    append_change(txn, ChangeKind::User, user.id.to_string())?;
    Ok(user)
}

fn read_user(txn: &WriteTransaction, id: UserId) -> Result<User> {
    let users = txn.open_table(USERS)?;
    let value = users.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
    decode(value.value())
}

#[async_trait]
impl UserStore for RedbStore {
    async fn count_users(&self) -> Result<u64> {
        self.blocking(|db, _| Ok(db.begin_read()?.open_table(USERS)?.len()?))
            .await
    }

    async fn create_user(&self, new: NewUser, audit: NewAuditEvent) -> Result<User> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let user = insert_user(&txn, clock, new, audit)?;
            txn.commit()?;
            Ok(user)
        })
        .await
    }

    async fn create_first_user(&self, new: NewUser, audit: NewAuditEvent) -> Result<User> {
        // redb has one writer at a time, so the emptiness check and the insert are atomic.
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if !txn.open_table(USERS)?.is_empty()? {
                return Err(Error::Conflict {
                    field: None,
                    message: "setup is already done".to_owned(),
                });
            }
            let user = insert_user(&txn, clock, new, audit)?;
            txn.commit()?;
            Ok(user)
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let users = txn.open_table(USERS)?;
            let value = users.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(value.value())
        })
        .await
    }

    async fn find_user_by_email(&self, email_normalized: &str) -> Result<Option<User>> {
        let key = email_normalized.to_owned();
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let Some(id) = txn.open_table(USERS_BY_EMAIL)?.get(key.as_str())? else {
                return Ok(None);
            };
            let users = txn.open_table(USERS)?;
            match users.get(id.value())? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Page<User, UserId>> {
        let limit = clamp_limit(limit);
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let users = txn.open_table(USERS)?;
            let start = after
                .map(|id| id.0.as_u128().saturating_add(1))
                .unwrap_or(0);
            let mut items: Vec<User> = Vec::with_capacity(limit + 1);
            for entry in users.range(start..)?.take(limit + 1) {
                let (_, v) = entry?;
                items.push(decode(v.value())?);
            }
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|u| u.id)
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .await
    }

    async fn update_user(
        &self,
        id: UserId,
        update: UserUpdate,
        audit: NewAuditEvent,
    ) -> Result<User> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut user = read_user(&txn, id)?;
            if update.removes_admin(&user) {
                let mut others = 0;
                for entry in txn.open_table(USERS)?.iter()? {
                    let other: User = decode(entry?.1.value())?;
                    others += usize::from(other.id != id && other.is_admin() && !other.disabled);
                }
                if others == 0 {
                    return Err(last_admin());
                }
            }
            let ends_sessions = update.ends_sessions();
            if let Some(name) = update.name {
                user.name = name;
            }
            if let Some(role) = update.role {
                user.role = role;
            }
            if let Some(disabled) = update.disabled {
                user.disabled = disabled;
            }
            if let Some(hash) = update.password_hash {
                user.password_hash = Some(hash);
            }
            if let Some(avatar) = update.avatar {
                user.avatar = avatar;
            }
            let now = clock.now();
            user.updated_at = now;
            txn.open_table(USERS)?
                .insert(id.0.as_u128(), encode(&user)?.as_slice())?;
            if ends_sessions {
                delete_sessions_of(&txn, id, None)?;
            }
            insert_audit(&txn, now, audit)?;
            append_change(&txn, ChangeKind::User, id.to_string())?;
            txn.commit()?;
            Ok(user)
        })
        .await
    }
}
