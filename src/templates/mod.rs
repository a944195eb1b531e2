//! Templates as a feature: creating and saving versions (refusing stale saves with who changed
//! it and when), rollback, duplicate, move, labels, rendering, diffs, import/export, and the
//! built-in system templates.
//!
//! Route permissions are checked before any of this runs; the rules here are the ones that
//! need the data (a stale base version, a label that must exist). It never imports axum or maud.

pub mod diff;
pub mod export;
mod system;

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::domain::template::{PRODUCTION, validate_label, validate_message};
use crate::domain::template_chat::{MessageRole, TemplateMessage};
use crate::domain::variables::render_all;
use crate::domain::{
    NewAuditEvent, NewTemplate, SaveOutcome, Template, TemplateContent, TemplateVersion, User,
    WorkspaceId,
};
use crate::error::{Error, Result};
use crate::llm::chat::{
    ChatMessage, ChatRequest, ChatRole, FunctionDef, JsonSchemaFormat, ResponseFormat, Tool,
    ToolKind,
};
use crate::store::Store;

/// The rendered prompt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rendered {
    /// The system messages with values in, joined by a blank line.
    pub system_prompt: String,
    /// The (last) user message with values in.
    pub user_prompt: String,
    /// Every message with values in, placeholders kept where a caller's messages go.
    pub messages: Vec<TemplateMessage>,
}

/// Renders a version's messages with `values`; errors name the variable.
pub fn render(content: &TemplateContent, values: &Map<String, Value>) -> Result<Rendered> {
    let mut texts = render_all(&content.texts(), &content.variables, values)?.into_iter();
    let mut messages = content.message_list();
    for m in &mut messages {
        if m.role != MessageRole::Placeholder {
            m.content = texts.next().unwrap_or_default();
        }
    }
    // An empty system prompt is no message.
    messages.retain(|m| !(m.role == MessageRole::System && m.content.trim().is_empty()));
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == MessageRole::System)
        .map(|m| m.content.as_str())
        .collect();
    Ok(Rendered {
        system_prompt: system.join("\n\n"),
        user_prompt: messages
            .iter()
            .rev()
            .find(|m| m.role == MessageRole::User)
            .map(|m| m.content.clone())
            .unwrap_or_default(),
        messages,
    })
}

/// The chat request a rendered version makes for `model`: its messages with `conversation`
/// (a caller's further messages) at the first placeholder, or after the last message when
/// there is none; its tools, response schema and model parameters.
pub fn chat_request(
    content: &TemplateContent,
    rendered: &Rendered,
    model: String,
    conversation: Vec<ChatMessage>,
) -> ChatRequest {
    let mut messages = Vec::with_capacity(rendered.messages.len() + conversation.len());
    let mut conversation = Some(conversation);
    for m in &rendered.messages {
        let role = match m.role {
            MessageRole::System => ChatRole::System,
            MessageRole::User => ChatRole::User,
            MessageRole::Assistant => ChatRole::Assistant,
            MessageRole::Placeholder => {
                messages.extend(conversation.take().unwrap_or_default());
                continue;
            }
        };
        // An empty system prompt is no message; an empty user prompt still is one.
        if m.content.trim().is_empty() && role == ChatRole::System {
            continue;
        }
        messages.push(ChatMessage::text(role, m.content.clone()));
    }
    messages.extend(conversation.take().unwrap_or_default());
    let c = &content.chat;
    ChatRequest {
        model,
        messages,
        temperature: content.model.temperature,
        max_tokens: content.model.max_tokens,
        stop: c.params.stop.clone(),
        tools: c
            .tools
            .iter()
            .map(|t| Tool {
                kind: ToolKind::Function,
                function: FunctionDef {
                    name: t.name.clone(),
                    description: (!t.description.is_empty()).then(|| t.description.clone()),
                    parameters: Some(t.parameters.clone()),
                    strict: t.strict,
                },
            })
            .collect(),
        response_format: c
            .response_schema
            .as_ref()
            .map(|r| ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: r.name.clone(),
                    description: None,
                    schema: Some(r.schema.clone()),
                    strict: r.strict.then_some(true),
                },
            }),
        seed: c.params.seed,
        top_p: c.params.top_p,
        frequency_penalty: c.params.frequency_penalty,
        presence_penalty: c.params.presence_penalty,
        reasoning_effort: c.params.reasoning_effort.clone(),
        ..ChatRequest::default()
    }
}

/// Search, tag filter and order for template lists (`?q=&tag=&sort=name|updated`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    /// Case-insensitive text in the name or description.
    #[serde(default)]
    pub q: Option<String>,
    /// A tag the template must have.
    #[serde(default)]
    pub tag: Option<String>,
    /// `name` (default) or `updated` (most recent first).
    #[serde(default)]
    pub sort: Option<String>,
}

/// Keeps the templates matching `query`, in its order; a bad tag or sort names the parameter.
pub fn filter(mut list: Vec<Template>, query: &ListQuery) -> Result<Vec<Template>> {
    if let Some(q) = query
        .q
        .as_deref()
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty())
    {
        list.retain(|t| {
            t.name.to_lowercase().contains(&q) || t.description.to_lowercase().contains(&q)
        });
    }
    if let Some(tag) = query.tag.as_deref().filter(|t| !t.trim().is_empty()) {
        let tag = crate::domain::template::normalize_tags(&[tag.to_owned()])?;
        list.retain(|t| tag.iter().all(|want| t.tags.contains(want)));
    }
    match query.sort.as_deref().map(str::trim) {
        None | Some("" | "name") => list.sort_by_cached_key(|t| (t.name.to_lowercase(), t.id)),
        Some("updated") => list.sort_by_key(|t| std::cmp::Reverse(t.updated_at)),
        Some(_) => return Err(Error::invalid("sort", "sort by `name` or `updated`")),
    }
    Ok(list)
}

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago".
pub fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    let (n, unit) = match secs {
        0..=59 => return "just now".to_owned(),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// The template rules over the store; cheap to clone.
#[derive(Clone)]
pub struct Templates {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl Templates {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// Creates the built-in system templates on the first start (never again, so ones an admin
    /// deleted stay deleted).
    pub async fn seed_system_templates(&self) -> Result<()> {
        self.store.seed_system_templates(system::builtin()?).await
    }

    /// Creates a template (in a workspace, or a system template for `None`) with version 1.
    pub async fn create(
        &self,
        actor: &User,
        workspace: Option<WorkspaceId>,
        content: TemplateContent,
        message: &str,
        ip: Option<String>,
    ) -> Result<(Template, TemplateVersion)> {
        let new = NewTemplate {
            workspace_id: workspace,
            content: content.validated()?,
            message: validate_message(message)?,
            author: Some(actor.id),
        };
        let audit = NewAuditEvent::new(Some(actor.id), "template.create")
            .ip(ip)
            .workspace(workspace);
        self.store.create_template(new, audit).await
    }

    /// Saves a new version edited from `base_version`. If someone saved in between, nothing is
    /// saved and the answer is a `Conflict` saying who changed it and when.
    pub async fn save(
        &self,
        actor: &User,
        template: &Template,
        base_version: u32,
        content: TemplateContent,
        message: &str,
    ) -> Result<TemplateVersion> {
        let content = content.validated()?;
        let message = validate_message(message)?;
        let missing = || {
            Error::invalid(
                "base_version",
                format!("version {base_version} does not exist; reload to edit the latest"),
            )
        };
        if base_version == 0 {
            return Err(missing());
        }
        match self
            .store
            .save_version(template.id, base_version, content, message, Some(actor.id))
            .await?
        {
            SaveOutcome::Saved(v) => Ok(v),
            SaveOutcome::Stale(latest) if base_version > latest.version => Err(missing()),
            SaveOutcome::Stale(latest) => Err(self.stale(&latest).await),
        }
    }

    async fn stale(&self, latest: &TemplateVersion) -> Error {
        let who = match latest.author {
            Some(id) => match self.store.get_user(id).await {
                Ok(u) => u.name.to_string(),
                Err(_) => "someone".to_owned(),
            },
            None => "Promptyard".to_owned(),
        };
        Error::conflict(
            "base_version",
            format!(
                "changed by {who} {} (now version {}), reload to see the changes",
                ago(self.clock.now(), latest.created_at),
                latest.version
            ),
        )
    }

    /// Makes a new latest version with the content of `version`.
    pub async fn rollback(
        &self,
        actor: &User,
        template: &Template,
        version: u32,
    ) -> Result<TemplateVersion> {
        let old = self.store.get_version(template.id, version).await?;
        self.save(
            actor,
            template,
            template.latest_version,
            old.content,
            &format!("Rolled back to version {version}"),
        )
        .await
    }

    /// Copies the latest version into a new template in `to`.
    pub async fn duplicate(
        &self,
        actor: &User,
        template: &Template,
        to: WorkspaceId,
        ip: Option<String>,
    ) -> Result<Template> {
        let latest = self
            .store
            .get_version(template.id, template.latest_version)
            .await?;
        let mut content = latest.content;
        content.name = copy_name(&content.name);
        let message = format!("Copied from {} version {}", template.name, latest.version);
        let (t, _) = self.create(actor, Some(to), content, &message, ip).await?;
        Ok(t)
    }

    /// Moves a template (with all its versions and labels) to another workspace. A template
    /// labelled `production` lands there only for someone who may move that label there.
    pub async fn move_to(
        &self,
        actor: &User,
        template: &Template,
        to: WorkspaceId,
        production_allowed: ProductionAllowed,
        ip: Option<String>,
    ) -> Result<Template> {
        if template.is_system() {
            return Err(Error::invalid(
                "workspace",
                "a system template stays a system template; duplicate it into a workspace instead",
            ));
        }
        if template.labels.contains_key(PRODUCTION) && !production_allowed.0 {
            return Err(Error::Forbidden);
        }
        if template.workspace_id == Some(to) {
            return Err(Error::invalid(
                "workspace",
                "the template is already in that workspace",
            ));
        }
        let audit = NewAuditEvent::new(Some(actor.id), "template.move")
            .ip(ip)
            .workspace(to);
        self.store.move_template(template.id, to, audit).await
    }

    /// Deletes a template with all its versions.
    pub async fn delete(
        &self,
        actor: &User,
        template: &Template,
        ip: Option<String>,
    ) -> Result<()> {
        let audit = NewAuditEvent::new(Some(actor.id), "template.delete")
            .ip(ip)
            .workspace(template.workspace_id)
            .detail(template.name.clone());
        self.store.delete_template(template.id, audit).await
    }

    /// Points a label at a version. `production` (in any spelling) only for those allowed.
    pub async fn set_label(
        &self,
        actor: &User,
        template: &Template,
        label: &str,
        version: u32,
        production_allowed: ProductionAllowed,
        ip: Option<String>,
    ) -> Result<Template> {
        let label = checked_label(label, production_allowed)?;
        let audit = NewAuditEvent::new(Some(actor.id), "template.label")
            .ip(ip)
            .workspace(template.workspace_id);
        self.store
            .set_label(template.id, &label, version, audit)
            .await
    }

    /// Removes a label; `production` only for those allowed.
    pub async fn remove_label(
        &self,
        actor: &User,
        template: &Template,
        label: &str,
        production_allowed: ProductionAllowed,
        ip: Option<String>,
    ) -> Result<Template> {
        let label = checked_label(label, production_allowed)?;
        let audit = NewAuditEvent::new(Some(actor.id), "template.unlabel")
            .ip(ip)
            .workspace(template.workspace_id);
        self.store.delete_label(template.id, &label, audit).await
    }

    /// The version a label points at, a version by number, or the latest.
    pub async fn version(
        &self,
        template: &Template,
        selector: Option<&str>,
    ) -> Result<TemplateVersion> {
        let n = match selector.map(str::trim).filter(|s| !s.is_empty()) {
            None => template.latest_version,
            Some(s) => match s.parse::<u32>() {
                Ok(n) => n,
                Err(_) => *template.labels.get(s).ok_or_else(|| {
                    Error::invalid("label", format!("the template has no label `{s}`"))
                })?,
            },
        };
        self.store.get_version(template.id, n).await
    }
}

/// Whether the actor may move the `production` label where a change lands: the caller works
/// it out from the route's access (`Action::LabelProduction` in that workspace).
#[derive(Clone, Copy, Debug)]
pub struct ProductionAllowed(pub bool);

/// The normalised label, refusing `production` to those who may not move it: the check runs
/// on the normalised name, so `Production` is `production` too.
fn checked_label(raw: &str, allowed: ProductionAllowed) -> Result<String> {
    let label = validate_label(raw)?;
    if label == PRODUCTION && !allowed.0 {
        return Err(Error::Forbidden);
    }
    Ok(label)
}

/// "Name (copy)", within the name length limit.
fn copy_name(name: &str) -> String {
    let max = crate::domain::template::limits::NAME_CHARS - " (copy)".len();
    let base: String = name.chars().take(max).collect();
    format!("{base} (copy)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let t = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(ago(t + time::Duration::seconds(5), t), "just now");
        assert_eq!(ago(t + time::Duration::minutes(2), t), "2 minutes ago");
        assert_eq!(ago(t + time::Duration::hours(1), t), "1 hour ago");
        assert_eq!(ago(t + time::Duration::days(3), t), "3 days ago");
        assert_eq!(copy_name("Review"), "Review (copy)");
        assert!(copy_name(&"x".repeat(200)).chars().count() <= 120);
    }
}
