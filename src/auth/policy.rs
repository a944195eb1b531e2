//! The authorization policy: one `authorize(actor, action, resource)` decides every access.
//!
//! Each route declares the action it needs (see `http::routes`), and the route guard resolves
//! the resource (the actor's role in the workspace of the object) before calling this. An
//! object of a workspace the actor is not a member of answers `NotFound`, never `Forbidden`, so
//! its existence does not leak.

use crate::domain::{Role, User};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read and change one's own account and sessions.
    ManageOwnAccount,
    /// List, create, disable and promote users.
    ManageUsers,
    /// Read the instance audit log.
    ViewAuditLog,
    /// Create shared workspaces, accept invites, list one's workspaces.
    UseWorkspaces,
    /// Create, change and delete system templates.
    ManageSystemTemplates,
    /// Manage the instance-wide provider connections.
    ManageProviders,
    /// See a workspace and its members.
    ViewWorkspace,
    /// Rename a workspace, manage its members and invites.
    ManageWorkspace,
    /// Delete a workspace.
    DeleteWorkspace,
    /// Leave a workspace.
    LeaveWorkspace,
    /// Read templates, their versions and diffs; render and export them.
    ViewTemplates,
    /// Create, change, duplicate, import, move and delete templates.
    EditTemplates,
    /// Move labels other than `production`.
    LabelTemplates,
    /// Move the `production` label.
    LabelProduction,
    /// See a workspace's analytics (or, on the instance, every workspace's).
    ViewAnalytics,
    /// Browse, submit, rate, comment on, flag and fork community prompts (moderation and
    /// community roles are checked against the user's community standing).
    UseCommunity,
}

/// What the action is on, with the actor's relation to it resolved by the caller.
#[derive(Clone, Copy, Debug)]
pub enum Resource {
    /// The instance as a whole.
    Instance,
    /// A workspace, with the actor's role in it (`None`: not a member).
    Workspace(Option<Role>),
    /// An instance-wide system template.
    SystemTemplate,
}

/// The least role a workspace action needs.
fn min_role(action: Action) -> Option<Role> {
    Some(match action {
        Action::ViewWorkspace | Action::ViewTemplates | Action::LeaveWorkspace => Role::Viewer,
        Action::EditTemplates | Action::LabelTemplates => Role::Editor,
        Action::ManageWorkspace
        | Action::LabelProduction
        | Action::ViewAnalytics
        | Action::ViewAuditLog => Role::Admin,
        Action::DeleteWorkspace => Role::Owner,
        Action::ManageOwnAccount
        | Action::ManageUsers
        | Action::UseWorkspaces
        | Action::UseCommunity
        | Action::ManageSystemTemplates
        | Action::ManageProviders => return None,
    })
}

/// Allows or refuses `action` on `resource` for `actor`: `Unauthenticated` without a login,
/// `NotFound` for a workspace the actor is not in, `Forbidden` when the role is too low.
pub fn authorize(actor: Actor<'_>, action: Action, resource: Resource) -> Result<()> {
    let user = match actor {
        Actor::Anonymous => return Err(Error::Unauthenticated),
        Actor::User(user) if user.disabled => return Err(Error::Unauthenticated),
        Actor::User(user) => user,
    };
    let allowed = match (resource, min_role(action)) {
        (Resource::Workspace(None), _) => return Err(Error::NotFound),
        (Resource::Workspace(Some(role)), Some(min)) => role >= min,
        (Resource::SystemTemplate, _) => match action {
            Action::ViewTemplates => true,
            Action::EditTemplates | Action::LabelTemplates | Action::LabelProduction => {
                user.is_admin()
            }
            _ => false,
        },
        (_, None) => match action {
            Action::ManageOwnAccount | Action::UseWorkspaces | Action::UseCommunity => true,
            Action::ManageUsers | Action::ManageSystemTemplates | Action::ManageProviders => {
                user.is_admin()
            }
            _ => false,
        },
        (Resource::Instance, Some(_)) => {
            matches!(action, Action::ViewAnalytics | Action::ViewAuditLog) && user.is_admin()
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, Email, InstanceRole, UserId};

    fn user(role: InstanceRole) -> User {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        User {
            id: UserId::new(),
            email: Email::parse("a@example.com").unwrap(),
            name: DisplayName::parse("A").unwrap(),
            role,
            disabled: false,
            password_hash: None,
            avatar: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn workspace_roles() {
        let u = user(InstanceRole::User);
        let a = Actor::User(&u);
        let ws = |r| Resource::Workspace(Some(r));
        assert!(authorize(a, Action::ViewTemplates, ws(Role::Viewer)).is_ok());
        assert!(matches!(
            authorize(a, Action::EditTemplates, ws(Role::Viewer)),
            Err(Error::Forbidden)
        ));
        assert!(authorize(a, Action::EditTemplates, ws(Role::Editor)).is_ok());
        assert!(matches!(
            authorize(a, Action::LabelProduction, ws(Role::Editor)),
            Err(Error::Forbidden)
        ));
        assert!(authorize(a, Action::LabelProduction, ws(Role::Admin)).is_ok());
        assert!(matches!(
            authorize(a, Action::DeleteWorkspace, ws(Role::Admin)),
            Err(Error::Forbidden)
        ));
        assert!(authorize(a, Action::DeleteWorkspace, ws(Role::Owner)).is_ok());
        assert!(matches!(
            authorize(a, Action::ViewTemplates, Resource::Workspace(None)),
            Err(Error::NotFound)
        ));
        assert!(matches!(
            authorize(Actor::Anonymous, Action::ViewTemplates, ws(Role::Owner)),
            Err(Error::Unauthenticated)
        ));
    }

    #[test]
    fn instance_and_system_templates() {
        let u = user(InstanceRole::User);
        let admin = user(InstanceRole::Admin);
        assert!(
            authorize(
                Actor::User(&u),
                Action::ViewTemplates,
                Resource::SystemTemplate
            )
            .is_ok()
        );
        assert!(
            authorize(
                Actor::User(&u),
                Action::EditTemplates,
                Resource::SystemTemplate
            )
            .is_err()
        );
        assert!(
            authorize(
                Actor::User(&admin),
                Action::EditTemplates,
                Resource::SystemTemplate
            )
            .is_ok()
        );
        assert!(authorize(Actor::User(&u), Action::ManageUsers, Resource::Instance).is_err());
        assert!(authorize(Actor::User(&admin), Action::ManageUsers, Resource::Instance).is_ok());
        assert!(authorize(Actor::User(&u), Action::UseWorkspaces, Resource::Instance).is_ok());
        assert!(authorize(Actor::User(&u), Action::ViewTemplates, Resource::Instance).is_err());
    }
}
