//! The store trait for linked sign-in identities (see `domain::identity`).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{Identity, NewAuditEvent, NewUser, User, UserId};
use crate::error::Result;

/// Linked sign-in identities (OpenID provider accounts).
#[async_trait]
pub trait IdentityStore {
    /// The identity for this provider account, if linked.
    async fn find_identity(&self, provider: &str, subject: &str) -> Result<Option<Identity>>;

    /// A user's identities, by provider.
    async fn list_identities(&self, user: UserId) -> Result<Vec<Identity>>;

    /// Links a provider account to `identity.user_id` and records `audit`. `Conflict` when that
    /// account is linked already or the user has an account of that provider; `NotFound`
    /// without the user.
    async fn create_identity(&self, identity: Identity, audit: NewAuditEvent) -> Result<Identity>;

    /// Creates an account and links `identity` to it (its `user_id` is replaced), in one
    /// transaction. A taken email is a `Conflict` on `email`.
    async fn create_user_with_identity(
        &self,
        new: NewUser,
        identity: Identity,
        audit: NewAuditEvent,
    ) -> Result<User>;

    /// Unlinks `user`'s identity of `provider`. Refused with a `Conflict` when it is their last
    /// way to log in: no other identity, and no password or `password_counts` false (password
    /// login turned off). `NotFound` when there is no such identity.
    async fn delete_identity(
        &self,
        user: UserId,
        provider: &str,
        password_counts: bool,
        audit: NewAuditEvent,
    ) -> Result<()>;

    /// Records a login through the identity, with the email the provider reported.
    async fn touch_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<String>,
        at: OffsetDateTime,
    ) -> Result<()>;
}
