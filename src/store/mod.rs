//! The store: domain-level traits and their two implementations, redb (default, embedded) and
//! Postgres (for deployments that outgrow one machine).
//!
//! Handlers never see keys, tables or SQL, only methods such as `create_user`. Both backends pass
//! the same conformance suite (`tests/it/store_conformance.rs`). Naming: `get_*` returns the item
//! or `NotFound`, `find_*` an `Option`, `list_*` a page, then `create_*`, `update_*`, `delete_*`.
//! Writes that change something searchable append to the change log in the same transaction.

mod open;
pub mod postgres;
pub mod redb;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    AuditEvent, AuditId, Change, NewAuditEvent, NewUser, Page, Session, SessionId, TokenHash, User,
    UserId, UserUpdate,
};
use crate::error::Result;

pub use open::{StorageUrl, open};

/// Largest page any `list_*` returns.
pub const MAX_PAGE: usize = 200;

/// User accounts.
#[async_trait]
pub trait UserStore {
    /// Number of accounts.
    async fn count_users(&self) -> Result<u64>;

    /// Creates an account and records `audit` in the same transaction.
    /// A taken email (ignoring case) is a `Conflict` on field `email`.
    async fn create_user(&self, new: NewUser, audit: NewAuditEvent) -> Result<User>;

    /// Creates the first account, only while no account exists; otherwise a `Conflict`.
    /// Two racing calls create exactly one account.
    async fn create_first_user(&self, new: NewUser, audit: NewAuditEvent) -> Result<User>;

    /// One account or `NotFound`.
    async fn get_user(&self, id: UserId) -> Result<User>;

    /// Looks an account up by email, ignoring case.
    async fn find_user_by_email(&self, email_normalized: &str) -> Result<Option<User>>;

    /// Accounts in creation order, `limit` at most, after the cursor.
    async fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Page<User, UserId>>;

    /// Applies `update` and records `audit` in one transaction. When the update sets a new
    /// password or disables the account, every session of the user ends in that transaction.
    async fn update_user(
        &self,
        id: UserId,
        update: UserUpdate,
        audit: NewAuditEvent,
    ) -> Result<User>;
}

/// Login sessions, keyed by the hash of their token.
#[async_trait]
pub trait SessionStore {
    /// Stores a new session.
    async fn create_session(&self, session: Session) -> Result<()>;

    /// The session with this token hash, if any (expired ones too; the caller checks).
    async fn find_session(&self, token_hash: TokenHash) -> Result<Option<Session>>;

    /// Records activity on a session.
    async fn touch_session(&self, token_hash: TokenHash, at: OffsetDateTime) -> Result<()>;

    /// A user's sessions, newest first.
    async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>>;

    /// Ends one session of `user`; `NotFound` if that user has no such session.
    async fn delete_session(&self, user: UserId, id: SessionId) -> Result<()>;

    /// Ends every session of `user` except `keep`; returns how many ended.
    async fn delete_user_sessions(&self, user: UserId, keep: Option<SessionId>) -> Result<u64>;

    /// Removes sessions whose absolute expiry is at or before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore {
    /// Records an event on its own (for events with no other write, such as a failed login).
    async fn create_audit_event(&self, event: NewAuditEvent) -> Result<AuditEvent>;

    /// Events newest first, before the cursor.
    async fn list_audit_events(
        &self,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Page<AuditEvent, AuditId>>;
}

/// The change log that derived indexes follow.
#[async_trait]
pub trait ChangeLog {
    /// Entries with `seq > after`, in order, at most `limit`.
    async fn list_changes(&self, after: u64, limit: usize) -> Result<Vec<Change>>;
}

/// Everything the application needs from storage.
#[async_trait]
pub trait Store: UserStore + SessionStore + AuditStore + ChangeLog + Send + Sync + 'static {
    /// Whether the store answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// The backend's name, for logs.
    fn backend(&self) -> &'static str;
}

/// Clamps a requested page size to `1..=MAX_PAGE`.
pub(crate) fn clamp_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}
