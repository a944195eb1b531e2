//! The JSON shapes the API answers with and the request bodies it takes, shared by the
//! workspace and template handlers.
//!
//! Views are plain serializable structs built from domain values; they never carry secrets
//! (token hashes, password hashes). Request bodies refuse unknown fields so a typo is an error
//! naming the field rather than a silently ignored value. No business rules live here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::template_chat::{
    ChatParts, ModelParams, ResponseSchema, TemplateMessage, TemplateTool,
};
use crate::domain::variables::VariableDef;
use crate::domain::{
    Invite, InviteId, Member, MemberView, ModelDefaults, Role, Template, TemplateContent,
    TemplateId, TemplateVersion, UserId, Workspace, WorkspaceId,
};

/// A workspace with the caller's role in it.
#[derive(Serialize)]
pub struct WorkspaceView {
    id: WorkspaceId,
    name: String,
    personal: bool,
    role: Role,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl WorkspaceView {
    /// `ws` as seen by someone with `role`.
    pub fn new(ws: &Workspace, role: Role) -> Self {
        Self {
            id: ws.id,
            name: ws.name.to_string(),
            personal: ws.personal,
            role,
            created_at: ws.created_at,
            updated_at: ws.updated_at,
        }
    }
}

/// A member with their name and email.
#[derive(Serialize)]
pub struct MemberJson {
    user_id: UserId,
    email: String,
    name: String,
    role: Role,
    #[serde(with = "time::serde::rfc3339")]
    joined_at: OffsetDateTime,
}

impl From<MemberView> for MemberJson {
    fn from(m: MemberView) -> Self {
        Self {
            user_id: m.member.user_id,
            email: m.email,
            name: m.name,
            role: m.member.role,
            joined_at: m.member.joined_at,
        }
    }
}

/// A membership (after accepting an invite or changing a role).
#[derive(Serialize)]
pub struct MembershipJson {
    workspace_id: WorkspaceId,
    user_id: UserId,
    role: Role,
    #[serde(with = "time::serde::rfc3339")]
    joined_at: OffsetDateTime,
}

impl From<Member> for MembershipJson {
    fn from(m: Member) -> Self {
        Self {
            workspace_id: m.workspace_id,
            user_id: m.user_id,
            role: m.role,
            joined_at: m.joined_at,
        }
    }
}

/// An open invite; the token is only in [`CreatedInviteJson`], once.
#[derive(Serialize)]
pub struct InviteJson {
    id: InviteId,
    role: Role,
    created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

impl From<&Invite> for InviteJson {
    fn from(i: &Invite) -> Self {
        Self {
            id: i.id,
            role: i.role,
            created_by: i.created_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// A new invite with its link, which is shown this once.
#[derive(Serialize)]
pub struct CreatedInviteJson {
    /// The invite.
    #[serde(flatten)]
    pub invite: InviteJson,
    /// The secret in the link.
    pub token: String,
    /// The link's path.
    pub url: String,
}

/// A template in a list: no prompt text.
#[derive(Serialize)]
pub struct TemplateSummary {
    id: TemplateId,
    workspace_id: Option<WorkspaceId>,
    name: String,
    description: String,
    tags: Vec<String>,
    latest_version: u32,
    labels: BTreeMap<String, u32>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<&Template> for TemplateSummary {
    fn from(t: &Template) -> Self {
        Self {
            id: t.id,
            workspace_id: t.workspace_id,
            name: t.name.clone(),
            description: t.description.clone(),
            tags: t.tags.clone(),
            latest_version: t.latest_version,
            labels: t.labels.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A template with the content of one of its versions, flattened.
#[derive(Serialize)]
pub struct TemplateDetail {
    id: TemplateId,
    workspace_id: Option<WorkspaceId>,
    version: u32,
    latest_version: u32,
    labels: BTreeMap<String, u32>,
    message: String,
    author_id: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    version_created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    #[serde(flatten)]
    content: TemplateContent,
}

impl TemplateDetail {
    /// `t` showing version `v`.
    pub fn new(t: &Template, v: TemplateVersion) -> Self {
        Self {
            id: t.id,
            workspace_id: t.workspace_id,
            version: v.version,
            latest_version: t.latest_version,
            labels: t.labels.clone(),
            message: v.message,
            author_id: v.author,
            version_created_at: v.created_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
            content: v.content,
        }
    }
}

/// A version in the history list.
#[derive(Serialize)]
pub struct VersionSummary {
    version: u32,
    message: String,
    author_id: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&TemplateVersion> for VersionSummary {
    fn from(v: &TemplateVersion) -> Self {
        Self {
            version: v.version,
            message: v.message.clone(),
            author_id: v.author,
            created_at: v.created_at,
        }
    }
}

/// One version with its content, flattened.
#[derive(Serialize)]
pub struct VersionJson {
    template_id: TemplateId,
    version: u32,
    message: String,
    author_id: Option<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(flatten)]
    content: TemplateContent,
}

impl From<TemplateVersion> for VersionJson {
    fn from(v: TemplateVersion) -> Self {
        Self {
            template_id: v.template_id,
            version: v.version,
            message: v.message,
            author_id: v.author,
            created_at: v.created_at,
            content: v.content,
        }
    }
}

/// Model defaults in a request body.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelBody {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u32>,
}

impl From<ModelBody> for ModelDefaults {
    fn from(m: ModelBody) -> Self {
        Self {
            model: m.model,
            temperature: m.temperature,
            max_tokens: m.max_tokens,
        }
    }
}

/// A template's full content in a request body (creating a template, saving a version).
/// `flatten` cannot be combined with `deny_unknown_fields`, hence the repeated fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentBody {
    /// The version an edit started from; required when saving a version, refused on create.
    #[serde(default)]
    pub base_version: Option<u32>,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    user_prompt_template: String,
    #[serde(default)]
    variables: Vec<VariableDef>,
    #[serde(default)]
    model: Option<ModelBody>,
    #[serde(default)]
    messages: Vec<TemplateMessage>,
    #[serde(default)]
    tools: Vec<TemplateTool>,
    #[serde(default)]
    response_schema: Option<ResponseSchema>,
    #[serde(default)]
    params: ModelParams,
    /// The version message.
    #[serde(default)]
    pub message: String,
}

impl ContentBody {
    /// The content part.
    pub fn content(self) -> TemplateContent {
        TemplateContent {
            name: self.name,
            description: self.description,
            tags: self.tags,
            system_prompt: self.system_prompt,
            user_prompt_template: self.user_prompt_template,
            variables: self.variables,
            model: self.model.unwrap_or_default().into(),
            chat: ChatParts {
                messages: self.messages,
                tools: self.tools,
                response_schema: self.response_schema,
                params: self.params,
            },
        }
    }
}

/// A partial edit applied on top of the latest version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    /// The version the edit started from.
    pub base_version: u32,
    name: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    system_prompt: Option<String>,
    user_prompt_template: Option<String>,
    variables: Option<Vec<VariableDef>>,
    model: Option<ModelBody>,
    messages: Option<Vec<TemplateMessage>>,
    tools: Option<Vec<TemplateTool>>,
    /// `null` removes the schema; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    response_schema: Option<Option<ResponseSchema>>,
    params: Option<ModelParams>,
    /// The version message.
    #[serde(default)]
    pub message: String,
}

/// A field that may be given as `null`: `Some(None)`, distinct from absent (`None`).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl PatchBody {
    /// `base` with the given fields replaced; the message is taken out first by the caller.
    pub fn apply(self, mut base: TemplateContent) -> TemplateContent {
        if let Some(v) = self.name {
            base.name = v;
        }
        if let Some(v) = self.description {
            base.description = v;
        }
        if let Some(v) = self.tags {
            base.tags = v;
        }
        if let Some(v) = self.system_prompt {
            base.system_prompt = v;
        }
        if let Some(v) = self.user_prompt_template {
            base.user_prompt_template = v;
        }
        if let Some(v) = self.variables {
            base.variables = v;
        }
        if let Some(v) = self.model {
            base.model = v.into();
        }
        if let Some(v) = self.messages {
            base.chat.messages = v;
        }
        if let Some(v) = self.tools {
            base.chat.tools = v;
        }
        if let Some(v) = self.response_schema {
            base.chat.response_schema = v;
        }
        if let Some(v) = self.params {
            base.chat.params = v;
        }
        base
    }
}
