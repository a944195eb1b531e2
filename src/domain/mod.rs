//! Pure types and rules of the product: newtype ids, validated inputs, roles, and the records
//! the store keeps. No IO happens here and nothing here knows about HTTP or storage engines.

pub mod api_key;
pub mod audit;
pub mod change;
pub mod community;
pub mod governance;
pub mod identity;
pub mod ids;
pub mod json_schema;
pub mod outbound;
pub mod provider;
pub mod run;
pub mod session;
pub mod template;
pub mod template_chat;
pub mod usage;
pub mod user;
pub mod variables;
pub mod workspace;

pub use api_key::{ApiKey, ApiSecret};
pub use audit::{AuditEvent, AuditFilter, NewAuditEvent};
pub use change::{Change, ChangeKind};
pub use community::{
    Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery, CommunityStanding,
    Decision, DecisionAction, Example, Flag, PromptStatus, Submission,
};
pub use governance::{
    CachedResponse, GatewaySettings, MonthSpend, RateLimit, Retention, SpendEntry,
};
pub use identity::Identity;
pub use ids::{
    ApiKeyId, AuditId, ConnectionId, InviteId, RunId, SessionId, TemplateId, UserId, WorkspaceId,
};
pub use provider::{Connection, ProviderKind};
pub use run::{ContextFile, MAX_CONTEXT_FILES, Run, RunState, validate_manifest};
pub use session::{Session, SessionToken, TokenHash};
pub use template::{
    ModelDefaults, NewTemplate, SaveOutcome, Template, TemplateContent, TemplateVersion,
};
pub use usage::{ALL_WORKSPACES, UsageCounts, UsageDelta, UsageDim, UsageRow};
pub use user::{DisplayName, Email, InstanceRole, NewUser, Password, User, UserUpdate};
pub use workspace::{Invite, Member, MemberView, Role, Workspace, WorkspaceName};

/// A page of results plus the cursor for the next page, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T, C> {
    /// The items of this page, in list order.
    pub items: Vec<T>,
    /// Pass this back to get the next page; `None` on the last page.
    pub next: Option<C>,
}

/// Rejects text with control characters other than tab and newline; they hide in logs and
/// confuse displays.
pub(crate) fn has_control_chars(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
}
