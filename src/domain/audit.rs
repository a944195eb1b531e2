//! Audit events: who did what to what, when and from where.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditId, UserId, WorkspaceId};

/// An event to record; the store adds id and time.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEvent {
    /// Who acted; `None` for the command line or the system.
    pub actor: Option<UserId>,
    /// What happened, a dotted verb such as `user.disable`.
    pub action: String,
    /// What it happened to, such as `user:<id>`.
    pub target: Option<String>,
    /// Client address, when the action came over HTTP.
    pub ip: Option<String>,
    /// A short human detail, never a secret.
    pub detail: String,
    /// The workspace it happened in, so that workspace's admins see it.
    pub workspace: Option<WorkspaceId>,
}

impl NewAuditEvent {
    /// An event with no target, address or detail yet.
    pub fn new(actor: Option<UserId>, action: &str) -> Self {
        Self {
            actor,
            action: action.to_owned(),
            target: None,
            ip: None,
            detail: String::new(),
            workspace: None,
        }
    }

    /// Sets the workspace it happened in.
    pub fn workspace(mut self, workspace: impl Into<Option<WorkspaceId>>) -> Self {
        self.workspace = workspace.into();
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the client address.
    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// A recorded audit event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// Id, time-ordered.
    pub id: AuditId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: Option<UserId>,
    /// What.
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// Detail.
    pub detail: String,
    /// The workspace it happened in, if any.
    #[serde(default)]
    pub workspace: Option<WorkspaceId>,
}

impl AuditEvent {
    /// The event recorded from `new` with this id and time.
    pub fn from_new(id: AuditId, at: OffsetDateTime, new: NewAuditEvent) -> Self {
        Self {
            id,
            at,
            actor: new.actor,
            action: new.action,
            target: new.target,
            ip: new.ip,
            detail: new.detail,
            workspace: new.workspace,
        }
    }
}

/// Which events a listing shows; every field narrows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditFilter {
    /// Only this workspace's events.
    pub workspace: Option<WorkspaceId>,
    /// Only events by this user.
    pub actor: Option<UserId>,
    /// Only actions equal to this, or starting with it when it ends in `.` (`login.`).
    pub action: Option<String>,
    /// Only events at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Only events before this time.
    pub to: Option<OffsetDateTime>,
}

impl AuditFilter {
    /// Whether `event` passes the filter.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.workspace.is_none_or(|w| event.workspace == Some(w))
            && self.actor.is_none_or(|a| event.actor == Some(a))
            && self
                .action
                .as_deref()
                .is_none_or(|a| match a.strip_suffix('.') {
                    Some(prefix) => event.action == prefix || event.action.starts_with(a),
                    None => event.action == a,
                })
            && self.from.is_none_or(|f| event.at >= f)
            && self.to.is_none_or(|t| event.at < t)
    }
}
