//! Rows of the workspace and template tables as sqlx reads them, their column lists, and their
//! conversions into domain types.
//!
//! Every query that returns one of these selects its `*_COLUMNS` constant, so a column is named
//! in one place. Conversions re-validate what they parse (names, roles, version numbers): a row
//! that no longer fits the domain is an internal error naming the record, never a panic.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{
    Invite, InviteId, Member, MemberView, ModelDefaults, Role, Template, TemplateContent,
    TemplateId, TemplateVersion, TokenHash, UserId, Workspace, WorkspaceId, WorkspaceName,
};
use crate::error::{Error, Result};

/// An internal error for a stored value that does not convert.
pub(super) fn corrupt(record: &str, id: Uuid, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{record} {id} has an invalid stored value: {e}"))
}

/// The columns of [`WorkspaceRow`], for queries that name the table `w`.
pub(super) const WORKSPACE_COLUMNS: &str =
    "w.id, w.name, w.personal, w.created_by, w.created_at, w.updated_at";

/// The columns of [`MemberRow`], for queries that name the table `m`.
pub(super) const MEMBER_COLUMNS: &str = "m.workspace_id, m.user_id, m.role, m.joined_at";

/// The columns of [`InviteRow`].
pub(super) const INVITE_COLUMNS: &str = "id, workspace_id, token_hash, role, created_by, \
    created_at, expires_at, accepted_by, accepted_at";

/// The columns of [`TemplateRow`], for queries that name the table `t`; labels come as two
/// arrays in label order.
pub(super) const TEMPLATE_COLUMNS: &str = "t.id, t.workspace_id, t.name, t.description, \
    t.tags, t.latest_version, t.created_by, t.created_at, t.updated_at, \
    ARRAY(SELECT l.label FROM template_labels l WHERE l.template_id = t.id ORDER BY l.label) \
        AS label_names, \
    ARRAY(SELECT l.version FROM template_labels l WHERE l.template_id = t.id ORDER BY l.label) \
        AS label_versions";

/// The columns of [`VersionRow`]; the variables come as JSON text.
pub(super) const VERSION_COLUMNS: &str = "template_id, version, name, description, tags, \
    system_prompt, user_prompt_template, variables::text AS variables, model, temperature, \
    max_tokens, chat::text AS chat, message, author, created_at";

/// A `workspaces` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct WorkspaceRow {
    id: Uuid,
    name: String,
    personal: bool,
    created_by: Uuid,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<WorkspaceRow> for Workspace {
    type Error = Error;

    fn try_from(row: WorkspaceRow) -> Result<Self> {
        Ok(Workspace {
            id: WorkspaceId(row.id),
            name: WorkspaceName::parse(&row.name).map_err(|e| corrupt("workspace", row.id, e))?,
            personal: row.personal,
            created_by: UserId(row.created_by),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A `workspace_members` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    workspace_id: Uuid,
    user_id: Uuid,
    role: String,
    joined_at: OffsetDateTime,
}

impl TryFrom<MemberRow> for Member {
    type Error = Error;

    fn try_from(row: MemberRow) -> Result<Self> {
        Ok(Member {
            workspace_id: WorkspaceId(row.workspace_id),
            user_id: UserId(row.user_id),
            role: Role::parse(&row.role).map_err(|e| corrupt("member", row.user_id, e))?,
            joined_at: row.joined_at,
        })
    }
}

/// A `workspace_invites` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct InviteRow {
    id: Uuid,
    workspace_id: Uuid,
    token_hash: Vec<u8>,
    role: String,
    created_by: Uuid,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    accepted_by: Option<Uuid>,
    accepted_at: Option<OffsetDateTime>,
}

impl TryFrom<InviteRow> for Invite {
    type Error = Error;

    fn try_from(row: InviteRow) -> Result<Self> {
        let hash: [u8; 32] = row
            .token_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("invite", row.id, "token hash of the wrong size"))?;
        Ok(Invite {
            id: InviteId(row.id),
            workspace_id: WorkspaceId(row.workspace_id),
            token_hash: TokenHash(hash),
            role: Role::parse(&row.role).map_err(|e| corrupt("invite", row.id, e))?,
            created_by: UserId(row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_by: row.accepted_by.map(UserId),
            accepted_at: row.accepted_at,
        })
    }
}

/// A `templates` row with its labels.
#[derive(sqlx::FromRow)]
pub(super) struct TemplateRow {
    id: Uuid,
    workspace_id: Option<Uuid>,
    name: String,
    description: String,
    tags: Vec<String>,
    latest_version: i32,
    created_by: Option<Uuid>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    label_names: Vec<String>,
    label_versions: Vec<i32>,
}

impl TryFrom<TemplateRow> for Template {
    type Error = Error;

    fn try_from(row: TemplateRow) -> Result<Self> {
        let number = |n: i32| u32::try_from(n).map_err(|e| corrupt("template", row.id, e));
        let mut labels = BTreeMap::new();
        for (label, version) in row.label_names.into_iter().zip(row.label_versions) {
            labels.insert(label, number(version)?);
        }
        Ok(Template {
            id: TemplateId(row.id),
            workspace_id: row.workspace_id.map(WorkspaceId),
            name: row.name,
            description: row.description,
            tags: row.tags,
            latest_version: number(row.latest_version)?,
            labels,
            created_by: row.created_by.map(UserId),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A `template_versions` row as stored (variables as JSON text).
#[derive(sqlx::FromRow)]
pub(super) struct VersionRow {
    template_id: Uuid,
    version: i32,
    name: String,
    description: String,
    tags: Vec<String>,
    system_prompt: String,
    user_prompt_template: String,
    variables: String,
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<i32>,
    chat: Option<String>,
    message: String,
    author: Option<Uuid>,
    created_at: OffsetDateTime,
}

impl TryFrom<VersionRow> for TemplateVersion {
    type Error = Error;

    fn try_from(row: VersionRow) -> Result<Self> {
        let id = row.template_id;
        let max_tokens = row
            .max_tokens
            .map(u32::try_from)
            .transpose()
            .map_err(|e| corrupt("template", id, e))?;
        Ok(TemplateVersion {
            template_id: TemplateId(id),
            version: u32::try_from(row.version).map_err(|e| corrupt("template", id, e))?,
            content: TemplateContent {
                name: row.name,
                description: row.description,
                tags: row.tags,
                system_prompt: row.system_prompt,
                user_prompt_template: row.user_prompt_template,
                variables: serde_json::from_str(&row.variables)
                    .map_err(|e| corrupt("template", id, e))?,
                model: ModelDefaults {
                    model: row.model,
                    temperature: row.temperature,
                    max_tokens,
                },
                chat: row
                    .chat
                    .map(|c| serde_json::from_str(&c))
                    .transpose()
                    .map_err(|e| corrupt("template", id, e))?
                    .unwrap_or_default(),
            },
            message: row.message,
            author: row.author.map(UserId),
            created_at: row.created_at,
        })
    }
}

/// A workspace with the role of the user whose workspaces are listed.
#[derive(sqlx::FromRow)]
pub(super) struct WorkspaceRoleRow {
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
    role: String,
}

impl TryFrom<WorkspaceRoleRow> for (Workspace, Role) {
    type Error = Error;

    fn try_from(row: WorkspaceRoleRow) -> Result<Self> {
        let role = Role::parse(&row.role).map_err(|e| corrupt("workspace", row.workspace.id, e))?;
        Ok((row.workspace.try_into()?, role))
    }
}

/// A membership with the member's email and name.
#[derive(sqlx::FromRow)]
pub(super) struct MemberViewRow {
    #[sqlx(flatten)]
    member: MemberRow,
    email: String,
    name: String,
}

impl TryFrom<MemberViewRow> for MemberView {
    type Error = Error;

    fn try_from(row: MemberViewRow) -> Result<Self> {
        Ok(MemberView {
            member: row.member.try_into()?,
            email: row.email,
            name: row.name,
        })
    }
}
