//! Sessions in redb: `sessions` by token hash, `sessions_by_user` to list and end them per user.

use async_trait::async_trait;
use redb::{ReadableMultimapTable, ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{RedbStore, SESSIONS, SESSIONS_BY_USER, USERS, decode, encode};
use crate::domain::{Session, SessionId, TokenHash, User, UserId};
use crate::error::{Error, Result};
use crate::store::SessionStore;

/// Ends the sessions of `user` in `txn`, except `keep`; returns how many ended.
pub(super) fn delete_sessions_of(
    txn: &WriteTransaction,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<u64> {
    let mut sessions = txn.open_table(SESSIONS)?;
    let mut by_user = txn.open_multimap_table(SESSIONS_BY_USER)?;
    let mut hashes = Vec::new();
    for entry in by_user.get(user.0.as_u128())? {
        hashes.push(entry?.value().to_vec());
    }
    let mut ended = 0;
    for hash in hashes {
        let session: Option<Session> = match sessions.get(hash.as_slice())? {
            Some(v) => Some(decode(v.value())?),
            None => None,
        };
        if keep.is_some() && session.as_ref().map(|s| s.id) == keep {
            continue;
        }
        sessions.remove(hash.as_slice())?;
        by_user.remove(user.0.as_u128(), hash.as_slice())?;
        ended += u64::from(session.is_some());
    }
    Ok(ended)
}

#[async_trait]
impl SessionStore for RedbStore {
    async fn create_session(&self, session: Session) -> Result<()> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let user: Option<User> = {
                let users = txn.open_table(USERS)?;
                let found = users.get(session.user_id.0.as_u128())?;
                found.map(|v| decode(v.value())).transpose()?
            };
            if user.is_none_or(|u| u.disabled) {
                return Err(Error::Conflict {
                    field: None,
                    message: "the account is disabled".to_owned(),
                });
            }
            txn.open_table(SESSIONS)?.insert(
                session.token_hash.0.as_slice(),
                encode(&session)?.as_slice(),
            )?;
            txn.open_multimap_table(SESSIONS_BY_USER)?
                .insert(session.user_id.0.as_u128(), session.token_hash.0.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn find_session(&self, token_hash: TokenHash) -> Result<Option<Session>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let sessions = txn.open_table(SESSIONS)?;
            match sessions.get(token_hash.0.as_slice())? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn touch_session(&self, token_hash: TokenHash, at: OffsetDateTime) -> Result<()> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            {
                let mut sessions = txn.open_table(SESSIONS)?;
                let found: Option<Session> = match sessions.get(token_hash.0.as_slice())? {
                    Some(v) => Some(decode(v.value())?),
                    None => None,
                };
                if let Some(mut session) = found {
                    session.last_seen_at = at;
                    sessions.insert(token_hash.0.as_slice(), encode(&session)?.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let sessions = txn.open_table(SESSIONS)?;
            let by_user = txn.open_multimap_table(SESSIONS_BY_USER)?;
            let mut out: Vec<Session> = Vec::new();
            for entry in by_user.get(user.0.as_u128())? {
                if let Some(v) = sessions.get(entry?.value())? {
                    out.push(decode(v.value())?);
                }
            }
            out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
            Ok(out)
        })
        .await
    }

    async fn delete_session(&self, user: UserId, id: SessionId) -> Result<()> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            {
                let mut sessions = txn.open_table(SESSIONS)?;
                let mut by_user = txn.open_multimap_table(SESSIONS_BY_USER)?;
                let mut target = None;
                for entry in by_user.get(user.0.as_u128())? {
                    let hash = entry?.value().to_vec();
                    if let Some(v) = sessions.get(hash.as_slice())? {
                        let s: Session = decode(v.value())?;
                        if s.id == id {
                            target = Some(hash);
                            break;
                        }
                    }
                }
                let hash = target.ok_or(Error::NotFound)?;
                sessions.remove(hash.as_slice())?;
                by_user.remove(user.0.as_u128(), hash.as_slice())?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_user_sessions(&self, user: UserId, keep: Option<SessionId>) -> Result<u64> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let ended = delete_sessions_of(&txn, user, keep)?;
            txn.commit()?;
            Ok(ended)
        })
        .await
    }

    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let mut ended = 0;
            {
                let mut sessions = txn.open_table(SESSIONS)?;
                let mut by_user = txn.open_multimap_table(SESSIONS_BY_USER)?;
                let mut expired = Vec::new();
                for entry in sessions.iter()? {
                    let (k, v) = entry?;
                    let s: Session = decode(v.value())?;
                    if s.expires_at <= now || s.last_seen_at <= idle_before {
                        expired.push((k.value().to_vec(), s.user_id));
                    }
                }
                for (hash, user) in expired {
                    sessions.remove(hash.as_slice())?;
                    by_user.remove(user.0.as_u128(), hash.as_slice())?;
                    ended += 1;
                }
            }
            txn.commit()?;
            Ok(ended)
        })
        .await
    }
}
