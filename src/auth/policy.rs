//! The authorization policy: one `authorize(actor, action)` decides every access, and each
//! route names the action it needs.

use crate::domain::User;
use crate::error::{Error, Result};

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// Nobody is logged in.
    Anonymous,
    /// A logged-in user.
    User(&'a User),
}

/// What they want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read and change one's own account and sessions.
    ManageOwnAccount,
    /// List, create, disable and promote users.
    ManageUsers,
    /// Read the instance audit log.
    ViewAuditLog,
}

/// Allows or refuses `action` for `actor`: `Unauthenticated` for anonymous actors,
/// `Forbidden` for a logged-in user without the right.
pub fn authorize(actor: Actor<'_>, action: Action) -> Result<()> {
    let user = match actor {
        Actor::Anonymous => return Err(Error::Unauthenticated),
        Actor::User(user) if user.disabled => return Err(Error::Unauthenticated),
        Actor::User(user) => user,
    };
    let allowed = match action {
        Action::ManageOwnAccount => true,
        Action::ManageUsers | Action::ViewAuditLog => user.is_admin(),
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}
