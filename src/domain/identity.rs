//! Linked sign-in identities: an account at an OpenID provider (provider id and subject) that
//! logs in as one of our users.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::UserId;

/// One provider account linked to a user. `(provider, subject)` is unique; a user links at most
/// one account per provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    /// The provider's id in the configuration (`[[oidc.providers]] id`).
    pub provider: String,
    /// The provider's stable subject identifier (`sub`).
    pub subject: String,
    /// The user it logs in as.
    pub user_id: UserId,
    /// The email the provider last reported, for display.
    pub email: Option<String>,
    /// When it was linked.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used to log in.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_login_at: Option<OffsetDateTime>,
}

/// The refusal to unlink a user's last way to log in.
pub fn last_login_method() -> crate::error::Error {
    crate::error::Error::conflict(
        "identity",
        "this is your only way to log in; set a password or link another account first",
    )
}
