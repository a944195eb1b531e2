//! The store: domain-level traits and their two implementations, redb (default, embedded) and
//! Postgres (for deployments that outgrow one machine).
//!
//! Handlers never see keys, tables or SQL, only methods such as `create_user`. Both backends pass
//! the same conformance suite (`tests/it/store_conformance.rs`). Naming: `get_*` returns the item
//! or `NotFound`, `find_*` an `Option`, `list_*` a page, then `create_*`, `update_*`, `delete_*`.
//! Writes that change something searchable append to the change log in the same transaction.

mod identity;
mod open;
pub mod postgres;
pub mod redb;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::domain::{
    ApiKey, ApiKeyId, AuditEvent, AuditFilter, AuditId, CachedResponse, Change, Connection,
    ConnectionId, GatewaySettings, Invite, InviteId, Member, MemberView, MonthSpend, NewAuditEvent,
    NewTemplate, NewUser, Page, Role, Run, RunId, SaveOutcome, Session, SessionId, SpendEntry,
    Template, TemplateContent, TemplateId, TemplateVersion, TokenHash, UsageDim, UsageRow, User,
    UserId, UserUpdate, Workspace, WorkspaceId, WorkspaceName,
};
use crate::domain::{
    Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery, CommunityStanding,
    Decision, Flag,
};
use crate::error::{Error, Result};

pub use identity::IdentityStore;
pub use open::{StorageUrl, open};

/// Work done while a store's writes are paused: given the data file, if there is one.
pub type PausedWork = Box<dyn FnOnce(Option<&std::path::Path>) -> Result<()> + Send>;

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
    /// Stores a new session, checking in the same transaction that its user exists and is not
    /// disabled (`Conflict` otherwise), so a login racing a disable cannot outlive it.
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

    /// Removes sessions whose absolute expiry is at or before `now`, or that were last seen at
    /// or before `idle_before`; returns how many.
    async fn delete_expired_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore {
    /// Records an event on its own (for events with no other write, such as a failed login).
    async fn create_audit_event(&self, event: NewAuditEvent) -> Result<AuditEvent>;

    /// Events that pass `filter`, newest first, before the cursor.
    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<Page<AuditEvent, AuditId>>;
}

/// Workspaces, memberships and invites.
#[async_trait]
pub trait WorkspaceStore {
    /// Creates a shared workspace with `owner` as its owner, and records `audit`.
    async fn create_workspace(
        &self,
        name: WorkspaceName,
        owner: UserId,
        audit: NewAuditEvent,
    ) -> Result<Workspace>;

    /// The user's personal workspace, created (with them as owner) if they have none yet.
    /// Concurrent calls for one user make exactly one.
    async fn ensure_personal_workspace(
        &self,
        user: UserId,
        name: WorkspaceName,
    ) -> Result<Workspace>;

    /// One workspace or `NotFound`.
    async fn get_workspace(&self, id: WorkspaceId) -> Result<Workspace>;

    /// The workspaces `user` belongs to with their role, personal first, then by name.
    async fn list_workspaces_for(&self, user: UserId) -> Result<Vec<(Workspace, Role)>>;

    /// Renames a workspace.
    async fn rename_workspace(
        &self,
        id: WorkspaceId,
        name: WorkspaceName,
        audit: NewAuditEvent,
    ) -> Result<Workspace>;

    /// Deletes a workspace with its members, invites, templates, versions and labels.
    async fn delete_workspace(&self, id: WorkspaceId, audit: NewAuditEvent) -> Result<()>;

    /// The membership of `user` in `workspace`, if any.
    async fn find_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Option<Member>>;

    /// Members with their names, owners first, then by name.
    async fn list_members(&self, workspace: WorkspaceId) -> Result<Vec<MemberView>>;

    /// Changes a member's role. Demoting the last owner is a `Conflict` and changes nothing.
    async fn update_member_role(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        audit: NewAuditEvent,
    ) -> Result<Member>;

    /// Removes a member. Removing the last owner is a `Conflict` and changes nothing.
    async fn remove_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        audit: NewAuditEvent,
    ) -> Result<()>;

    /// Stores a new invite.
    async fn create_invite(&self, invite: Invite, audit: NewAuditEvent) -> Result<()>;

    /// The invite with this token hash, if any.
    async fn find_invite(&self, token_hash: TokenHash) -> Result<Option<Invite>>;

    /// Invites of a workspace that are neither used nor expired at `now`, newest first.
    async fn list_open_invites(
        &self,
        workspace: WorkspaceId,
        now: OffsetDateTime,
    ) -> Result<Vec<Invite>>;

    /// Revokes an invite of `workspace`; `NotFound` if it has no such invite.
    async fn delete_invite(
        &self,
        workspace: WorkspaceId,
        id: InviteId,
        audit: NewAuditEvent,
    ) -> Result<()>;

    /// Uses the invite for `user` at `now`, in one transaction: `NotFound` if it does not exist,
    /// is used or expired; `Conflict` if `user` is already a member (the invite stays open).
    async fn accept_invite(
        &self,
        token_hash: TokenHash,
        user: UserId,
        now: OffsetDateTime,
        audit: NewAuditEvent,
    ) -> Result<Member>;
}

/// Templates, their immutable versions and labels.
#[async_trait]
pub trait TemplateStore {
    /// Creates a template with version 1.
    async fn create_template(
        &self,
        new: NewTemplate,
        audit: NewAuditEvent,
    ) -> Result<(Template, TemplateVersion)>;

    /// Creates a template with all of `versions` (numbered from 1, in order) and `labels`;
    /// for import.
    async fn import_template(
        &self,
        workspace: Option<WorkspaceId>,
        versions: Vec<(TemplateContent, String)>,
        labels: Vec<(String, u32)>,
        author: Option<UserId>,
        audit: NewAuditEvent,
    ) -> Result<Template>;

    /// One template or `NotFound`.
    async fn get_template(&self, id: TemplateId) -> Result<Template>;

    /// The templates of a workspace, or the system templates for `None`, by name.
    async fn list_templates(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Template>>;

    /// Saves a new version edited from `base_version`. If that is no longer the latest,
    /// nothing is saved and the latest version is returned as `Stale`.
    async fn save_version(
        &self,
        id: TemplateId,
        base_version: u32,
        content: TemplateContent,
        message: String,
        author: Option<UserId>,
    ) -> Result<SaveOutcome>;

    /// Every version, newest first.
    async fn list_versions(&self, id: TemplateId) -> Result<Vec<TemplateVersion>>;

    /// One version or `NotFound`.
    async fn get_version(&self, id: TemplateId, version: u32) -> Result<TemplateVersion>;

    /// Points `label` at `version` (which must exist), creating or moving it.
    async fn set_label(
        &self,
        id: TemplateId,
        label: &str,
        version: u32,
        audit: NewAuditEvent,
    ) -> Result<Template>;

    /// Removes a label; `NotFound` if the template has no such label.
    async fn delete_label(
        &self,
        id: TemplateId,
        label: &str,
        audit: NewAuditEvent,
    ) -> Result<Template>;

    /// Moves a template to another workspace, keeping its versions and labels.
    async fn move_template(
        &self,
        id: TemplateId,
        to: WorkspaceId,
        audit: NewAuditEvent,
    ) -> Result<Template>;

    /// Deletes a template with its versions and labels.
    async fn delete_template(&self, id: TemplateId, audit: NewAuditEvent) -> Result<()>;

    /// Creates the built-in system templates and marks them seeded, in one transaction;
    /// does nothing if they were seeded before (so ones an admin deleted stay deleted).
    async fn seed_system_templates(&self, templates: Vec<TemplateContent>) -> Result<()>;
}

/// Provider connections. Keys are stored sealed and never decrypted here.
#[async_trait]
pub trait ConnectionStore {
    /// Stores a new connection.
    async fn create_connection(&self, conn: Connection, audit: NewAuditEvent)
    -> Result<Connection>;

    /// One connection or `NotFound`.
    async fn get_connection(&self, id: ConnectionId) -> Result<Connection>;

    /// The instance-wide connections (`None`) or a workspace's, by name.
    async fn list_connections(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Connection>>;

    /// Every connection (for re-sealing keys under a new master key).
    async fn list_all_connections(&self) -> Result<Vec<Connection>>;

    /// Replaces a connection's name, base URL, sealed key and models.
    async fn update_connection(&self, conn: Connection, audit: NewAuditEvent)
    -> Result<Connection>;

    /// Deletes a connection.
    async fn delete_connection(&self, id: ConnectionId, audit: NewAuditEvent) -> Result<()>;

    /// Replaces the sealed keys of many connections in one transaction (master key rotation).
    async fn reseal_connection_keys(
        &self,
        keys: Vec<(ConnectionId, Option<Vec<u8>>)>,
    ) -> Result<()>;
}

/// API keys, keyed by the hash of the secret.
#[async_trait]
pub trait ApiKeyStore {
    /// Stores a new key.
    async fn create_api_key(&self, key: ApiKey, audit: NewAuditEvent) -> Result<ApiKey>;

    /// The key with this hash, if any (revoked and expired ones too; the caller checks).
    async fn find_api_key(&self, key_hash: TokenHash) -> Result<Option<ApiKey>>;

    /// A user's keys, newest first.
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>>;

    /// Revokes a key of `user` at `at`; `NotFound` if `user` has no such key.
    async fn revoke_api_key(
        &self,
        user: UserId,
        id: ApiKeyId,
        at: OffsetDateTime,
        audit: NewAuditEvent,
    ) -> Result<ApiKey>;

    /// Records a use of the key.
    async fn touch_api_key(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<()>;
}

/// Runs. Written in batches by the run recorder.
#[async_trait]
pub trait RunStore {
    /// Stores runs and adds `spend` to the monthly spend, in one durable transaction. Runs
    /// whose workspace or user is gone are skipped.
    async fn create_runs(&self, runs: Vec<Run>, spend: Vec<SpendEntry>) -> Result<()>;

    /// One run or `NotFound`.
    async fn get_run(&self, id: RunId) -> Result<Run>;

    /// A workspace's runs, newest first, before the cursor.
    async fn list_runs(
        &self,
        workspace: WorkspaceId,
        before: Option<RunId>,
        limit: usize,
    ) -> Result<Page<Run, RunId>>;

    /// Deletes one run (with a change-log entry and `audit`); `NotFound` if it is not there.
    async fn delete_run(&self, id: RunId, audit: NewAuditEvent) -> Result<()>;

    /// Deletes up to `limit` runs of `workspace` made before `cutoff`, oldest first, with a
    /// change-log entry each (so the search index drops them); returns their ids. The daily
    /// roll-ups keep them.
    async fn delete_runs_before(
        &self,
        workspace: WorkspaceId,
        cutoff: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<RunId>>;

    /// The daily roll-up rows of `workspace` ([`crate::domain::ALL_WORKSPACES`] for every
    /// workspace) in `dim`, for the days `from..=to` (UTC), ordered by day and key. They are
    /// updated with the runs, in the same transaction.
    async fn usage(
        &self,
        workspace: WorkspaceId,
        dim: UsageDim,
        from: Date,
        to: Date,
    ) -> Result<Vec<UsageRow>>;

    /// The latency histogram of `workspace` for the days `from..=to`: (model, bucket, runs),
    /// summed over the days.
    async fn latency_histogram(
        &self,
        workspace: WorkspaceId,
        from: Date,
        to: Date,
    ) -> Result<Vec<(String, u8, u64)>>;
}

/// Gateway governance: a workspace's settings, its monthly spend and the response cache.
#[async_trait]
pub trait GovernanceStore {
    /// A workspace's settings (the defaults if never set).
    async fn get_gateway_settings(&self, workspace: WorkspaceId) -> Result<GatewaySettings>;

    /// Replaces a workspace's settings (already validated); `NotFound` without the workspace.
    async fn update_gateway_settings(
        &self,
        workspace: WorkspaceId,
        settings: GatewaySettings,
        audit: NewAuditEvent,
    ) -> Result<GatewaySettings>;

    /// Every workspace's settings that were ever set.
    async fn list_gateway_settings(&self) -> Result<Vec<(WorkspaceId, GatewaySettings)>>;

    /// The outbound allowlist kept in the web UI (empty if never set).
    async fn get_outbound_allowlist(&self) -> Result<crate::domain::outbound::OutboundAllowlist>;

    /// Replaces the outbound allowlist (already validated), with `audit`.
    async fn set_outbound_allowlist(
        &self,
        list: crate::domain::outbound::OutboundAllowlist,
        audit: NewAuditEvent,
    ) -> Result<()>;

    /// What a workspace's members spent in `month` (`YYYY-MM`).
    async fn get_month_spend(&self, workspace: WorkspaceId, month: &str) -> Result<MonthSpend>;

    /// The cached response under `key`, unless it expired by `now`.
    async fn find_cached_response(
        &self,
        key: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<CachedResponse>>;

    /// Stores (or replaces) a cached response; nothing if its workspace is gone.
    async fn put_cached_response(&self, entry: CachedResponse) -> Result<()>;

    /// Removes expired entries (and those of deleted workspaces); returns how many.
    async fn delete_expired_cache(&self, now: OffsetDateTime) -> Result<u64>;
}

/// The community library. Counters (ratings, usage, flags) and the author's reputation change
/// in the same transaction as the record that moves them, so they stay exact under concurrent
/// writers; each write to a prompt appends to the change log.
#[async_trait]
pub trait CommunityStore {
    /// A user's standing (a fresh one when they have no record yet).
    async fn get_standing(&self, user: UserId) -> Result<CommunityStanding>;

    /// Sets a user's moderator and trusted marks (reputation is kept); `NotFound` without the
    /// user.
    async fn update_standing(
        &self,
        user: UserId,
        moderator: bool,
        trusted: bool,
        audit: NewAuditEvent,
    ) -> Result<CommunityStanding>;

    /// Stores a new prompt with its first history entry (`submitted` or `auto_approved`,
    /// whose reputation goes to the author).
    async fn create_community_prompt(
        &self,
        prompt: CommunityPrompt,
        decision: Decision,
        audit: NewAuditEvent,
    ) -> Result<CommunityPrompt>;

    /// How many prompts `user` submitted at or after `since`.
    async fn count_submissions_since(&self, user: UserId, since: OffsetDateTime) -> Result<u64>;

    /// One prompt or `NotFound` (visibility is the caller's to check).
    async fn get_community_prompt(&self, id: CommunityPromptId) -> Result<CommunityPrompt>;

    /// The page of prompts `query` asks for, and how many match in all.
    async fn list_community_prompts(
        &self,
        query: &CommunityQuery,
    ) -> Result<(Vec<CommunityPrompt>, u64)>;

    /// Applies a decision: the prompt's state and reason, the history entry, the author's
    /// reputation; an approval clears the flags.
    async fn decide_community_prompt(
        &self,
        decision: Decision,
        audit: NewAuditEvent,
    ) -> Result<CommunityPrompt>;

    /// A prompt's history, oldest first.
    async fn list_decisions(&self, prompt: CommunityPromptId) -> Result<Vec<Decision>>;

    /// Sets `user`'s rating of a prompt (replacing an earlier one), keeping the sum and count
    /// exact and moving the author's reputation by the difference.
    async fn rate_community_prompt(
        &self,
        prompt: CommunityPromptId,
        user: UserId,
        stars: u8,
    ) -> Result<CommunityPrompt>;

    /// `user`'s rating of a prompt.
    async fn find_rating(&self, prompt: CommunityPromptId, user: UserId) -> Result<Option<u8>>;

    /// Stores a comment; `NotFound` without the prompt.
    async fn create_comment(&self, comment: Comment) -> Result<Comment>;

    /// One comment or `NotFound`.
    async fn get_comment(&self, id: CommentId) -> Result<Comment>;

    /// Replaces a comment's text.
    async fn update_comment(
        &self,
        id: CommentId,
        body: String,
        at: OffsetDateTime,
    ) -> Result<Comment>;

    /// Deletes a comment (`audit` when a moderator does it).
    async fn delete_comment(&self, id: CommentId, audit: Option<NewAuditEvent>) -> Result<()>;

    /// A prompt's comments, oldest first.
    async fn list_comments(&self, prompt: CommunityPromptId) -> Result<Vec<Comment>>;

    /// Records a user's flag (one per user until the prompt is approved again). When an
    /// approved prompt reaches `threshold` flags it becomes `flagged`, with a history entry.
    /// Returns the prompt and whether the flag was new.
    async fn flag_community_prompt(
        &self,
        flag: Flag,
        threshold: u32,
    ) -> Result<(CommunityPrompt, bool)>;

    /// A prompt's open flags, oldest first.
    async fn list_flags(&self, prompt: CommunityPromptId) -> Result<Vec<Flag>>;

    /// Counts a use (run or fork) of a prompt by `user` on `day`, once per user and day; a
    /// fork also gives the author reputation (once per user and day too). Returns whether it
    /// counted.
    async fn record_community_use(
        &self,
        prompt: CommunityPromptId,
        user: UserId,
        day: time::Date,
        fork: bool,
    ) -> Result<bool>;
}

/// The change log that derived indexes follow.
#[async_trait]
pub trait ChangeLog {
    /// Entries with `seq > after`, in order, at most `limit`.
    async fn list_changes(&self, after: u64, limit: usize) -> Result<Vec<Change>>;

    /// The position of the newest entry (0 for an empty log).
    async fn last_change_seq(&self) -> Result<u64>;
}

/// Everything the application needs from storage.
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + AuditStore
    + IdentityStore
    + WorkspaceStore
    + TemplateStore
    + ConnectionStore
    + RunStore
    + ApiKeyStore
    + GovernanceStore
    + CommunityStore
    + ChangeLog
    + Send
    + Sync
    + 'static
{
    /// Whether the store answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;

    /// Runs `f` while no write can commit (for a consistent backup), handing it the data file
    /// when the store is one (redb). Postgres runs it at once with `None`: its data is
    /// `pg_dump`'s to back up.
    async fn with_writes_paused(&self, f: PausedWork) -> Result<()>;

    /// The backend's name, for logs.
    fn backend(&self) -> &'static str;

    /// The API key with this hash, its user (`None` when gone) and that user's membership of
    /// the key's workspace, read together: the check behind every `/v1` call. Backends that can
    /// read all three at once override this.
    async fn find_api_caller(
        &self,
        key_hash: TokenHash,
    ) -> Result<Option<(ApiKey, Option<User>, Option<Member>)>> {
        let Some(key) = self.find_api_key(key_hash).await? else {
            return Ok(None);
        };
        let user = match self.get_user(key.user_id).await {
            Ok(u) => Some(u),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        };
        let member = match &user {
            Some(u) => self.find_member(key.workspace_id, u.id).await?,
            None => None,
        };
        Ok(Some((key, user, member)))
    }
}

/// Clamps a requested page size to `1..=MAX_PAGE`.
pub(crate) fn clamp_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}
