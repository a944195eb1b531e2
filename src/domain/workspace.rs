//! Workspaces, their members and roles, and invites.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{InviteId, TokenHash, UserId, WorkspaceId, has_control_chars};
use crate::error::{Error, Result};

/// A member's role in a workspace, from least to most privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads and runs templates.
    Viewer,
    /// Also creates and changes templates.
    Editor,
    /// Also manages members, invites, settings and the `production` label.
    Admin,
    /// Also deletes the workspace. A workspace always has at least one owner.
    Owner,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Admin, Role::Owner];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses the stored name; the error names the field `role`.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "role",
                    format!("unknown role `{s}`; use viewer, editor, admin or owner"),
                )
            })
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Viewer => "Viewer",
            Self::Editor => "Editor",
            Self::Admin => "Admin",
            Self::Owner => "Owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workspace name: 1 to 80 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    /// Longest name kept.
    pub const MAX_CHARS: usize = 80;

    /// Validates a name.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("name", "enter a workspace name"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid(
                "name",
                format!(
                    "a workspace name has at most {} characters",
                    Self::MAX_CHARS
                ),
            ));
        }
        if has_control_chars(s, false) || s.contains('\u{FFFD}') {
            return Err(Error::invalid(
                "name",
                "the name contains characters that are not allowed",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// Id.
    pub id: WorkspaceId,
    /// Name.
    pub name: WorkspaceName,
    /// The user's own workspace, made for them; it cannot be shared, left or deleted.
    pub personal: bool,
    /// Who made it.
    pub created_by: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A membership.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// User.
    pub user_id: UserId,
    /// Role.
    pub role: Role,
    /// Since when.
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

/// A membership with the member's name and email, for member lists.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberView {
    /// The membership.
    pub member: Member,
    /// The member's email.
    pub email: String,
    /// The member's name.
    pub name: String,
}

/// An invite to join a workspace with a role; single use, expiring, stored by token hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// Id (public handle for listing and revoking).
    pub id: InviteId,
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// Hash of the token in the link.
    pub token_hash: TokenHash,
    /// Role granted on acceptance.
    pub role: Role,
    /// Who made it.
    pub created_by: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Unusable after this.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Who used it, once used.
    #[serde(default)]
    pub accepted_by: Option<UserId>,
    /// When it was used.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
}

impl Invite {
    /// Whether the invite can still be accepted at `now`.
    pub fn is_open(&self, now: OffsetDateTime) -> bool {
        self.accepted_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_parse() {
        assert!(
            Role::Viewer < Role::Editor && Role::Editor < Role::Admin && Role::Admin < Role::Owner
        );
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).ok(), Some(r));
        }
        assert!(Role::parse("god").is_err());
        assert!(WorkspaceName::parse(" ").is_err());
        assert!(WorkspaceName::parse(&"w".repeat(81)).is_err());
        assert_eq!(
            WorkspaceName::parse(" Team ").map(|n| n.to_string()).ok(),
            Some("Team".into())
        );
    }
}
