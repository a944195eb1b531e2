//! Audit events: who did what to what, when and from where.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditId, UserId};

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
        }
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
}
