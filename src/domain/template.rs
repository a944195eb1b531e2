//! Prompt templates: their content, immutable versions and movable labels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::template_chat::{ChatParts, MessageRole, TemplateMessage};
use super::variables::{VariableDef, validate_defs};
use super::{TemplateId, UserId, WorkspaceId, has_control_chars};
use crate::error::{Error, Result};

/// Model settings a template suggests; the playground starts from them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDefaults {
    /// Model name, e.g. `gpt-4o-mini` or `llama3.1:8b`.
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Largest number of tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// Everything a version of a template holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateContent {
    /// Name.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Tags for filtering, lower case.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The system prompt.
    #[serde(default)]
    pub system_prompt: String,
    /// The user prompt with `{{variables}}`.
    #[serde(default)]
    pub user_prompt_template: String,
    /// Declared variables.
    #[serde(default)]
    pub variables: Vec<VariableDef>,
    /// Model defaults.
    #[serde(default)]
    pub model: ModelDefaults,
    /// Messages, tools, response schema and further parameters (none in a version that is a
    /// system and a user prompt).
    #[serde(flatten)]
    pub chat: ChatParts,
}

/// Limits on template content.
pub mod limits {
    /// Longest name.
    pub const NAME_CHARS: usize = 120;
    /// Longest description.
    pub const DESCRIPTION_CHARS: usize = 2_000;
    /// Longest prompt text (system or user), in bytes.
    pub const PROMPT_BYTES: usize = 256 * 1024;
    /// Most tags.
    pub const TAGS: usize = 20;
    /// Longest tag.
    pub const TAG_CHARS: usize = 40;
    /// Longest version message.
    pub const MESSAGE_CHARS: usize = 500;
    /// Largest max-tokens default (no model generates more in one answer).
    pub const MAX_TOKENS: u32 = 1_000_000;
}

impl TemplateContent {
    /// Trims and checks every field, normalising tags (lower case, unique, in order).
    pub fn validated(mut self) -> Result<Self> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            return Err(Error::invalid("name", "enter a template name"));
        }
        if self.name.chars().count() > limits::NAME_CHARS {
            return Err(Error::invalid(
                "name",
                format!(
                    "a template name has at most {} characters",
                    limits::NAME_CHARS
                ),
            ));
        }
        if has_control_chars(&self.name, false) {
            return Err(Error::invalid(
                "name",
                "the name contains control characters",
            ));
        }
        self.description = self.description.trim().to_owned();
        if has_control_chars(&self.description, true) {
            return Err(Error::invalid(
                "description",
                "the description contains control characters",
            ));
        }
        if self.description.chars().count() > limits::DESCRIPTION_CHARS {
            return Err(Error::invalid(
                "description",
                format!(
                    "a description has at most {} characters",
                    limits::DESCRIPTION_CHARS
                ),
            ));
        }
        for (field, text) in [
            ("system_prompt", &self.system_prompt),
            ("user_prompt_template", &self.user_prompt_template),
        ] {
            if text.len() > limits::PROMPT_BYTES {
                return Err(Error::invalid(
                    field,
                    format!("a prompt has at most {} KiB", limits::PROMPT_BYTES / 1024),
                ));
            }
            if has_control_chars(text, true) {
                return Err(Error::invalid(
                    field,
                    "the prompt contains control characters",
                ));
            }
        }
        self.tags = normalize_tags(&self.tags)?;
        validate_defs(&self.variables)?;
        if let Some(t) = self.model.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(Error::invalid(
                "temperature",
                "temperature must be between 0 and 2",
            ));
        }
        if let Some(n) = self.model.max_tokens
            && !(1..=limits::MAX_TOKENS).contains(&n)
        {
            return Err(Error::invalid(
                "max_tokens",
                format!("max tokens must be between 1 and {}", limits::MAX_TOKENS),
            ));
        }
        self.chat.validate(limits::PROMPT_BYTES)?;
        if !self.chat.messages.is_empty()
            && (!self.system_prompt.is_empty() || !self.user_prompt_template.is_empty())
        {
            return Err(Error::invalid(
                "messages",
                "a template has either a message list or a system and a user prompt, not both",
            ));
        }
        if let Some(model) = &self.model.model {
            let m = model.trim();
            if m.len() > 200 || has_control_chars(m, false) {
                return Err(Error::invalid("model", "that is not a model name"));
            }
            self.model.model = (!m.is_empty()).then(|| m.to_owned());
        }
        Ok(self)
    }

    /// The messages of this version: its message list, or its system prompt and user prompt
    /// as two messages (the system one empty when there is none). One message per entry of
    /// [`Self::texts`], placeholders aside.
    pub fn message_list(&self) -> Vec<TemplateMessage> {
        if !self.chat.messages.is_empty() {
            return self.chat.messages.clone();
        }
        vec![
            TemplateMessage {
                role: MessageRole::System,
                content: self.system_prompt.clone(),
            },
            TemplateMessage {
                role: MessageRole::User,
                content: self.user_prompt_template.clone(),
            },
        ]
    }

    /// The texts that may hold `{{variables}}`, in order: every message but placeholders.
    pub fn texts(&self) -> Vec<&str> {
        if self.chat.messages.is_empty() {
            return vec![&self.system_prompt, &self.user_prompt_template];
        }
        self.chat
            .messages
            .iter()
            .filter(|m| m.role != MessageRole::Placeholder)
            .map(|m| m.content.as_str())
            .collect()
    }
}

/// Lower-cases, trims, de-duplicates and checks tags.
pub fn normalize_tags(raw: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tag in raw {
        let t = tag.trim().to_lowercase();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().count() > limits::TAG_CHARS
            || !t
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        {
            return Err(Error::invalid(
                "tags",
                format!(
                    "the tag `{}` is not allowed: use letters, digits, - _ . and at most {} characters",
                    t.chars().take(50).collect::<String>(),
                    limits::TAG_CHARS
                ),
            ));
        }
        out.push(t);
    }
    if out.len() > limits::TAGS {
        return Err(Error::invalid(
            "tags",
            format!("at most {} tags", limits::TAGS),
        ));
    }
    Ok(out)
}

/// A label name: `production`, `staging` or custom (`[a-z][a-z0-9-_.]{0,39}`). Labels start
/// with a letter so that a number always means a version.
pub fn validate_label(raw: &str) -> Result<String> {
    let l = raw.trim().to_lowercase();
    let ok = !l.is_empty()
        && l.len() <= 40
        && l.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && l.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(l)
    } else {
        Err(Error::invalid(
            "label",
            "a label is 1 to 40 characters: a letter, then lower-case letters, digits, - _ .",
        ))
    }
}

/// The label only workspace admins may move.
pub const PRODUCTION: &str = "production";

/// A template: its current name and tags (those of the latest version), and where its labels
/// point. The content itself lives in its versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Id.
    pub id: TemplateId,
    /// The workspace it belongs to; `None` for system templates.
    pub workspace_id: Option<WorkspaceId>,
    /// Name of the latest version.
    pub name: String,
    /// Description of the latest version.
    pub description: String,
    /// Tags of the latest version.
    pub tags: Vec<String>,
    /// Number of the latest version (versions are 1, 2, ...).
    pub latest_version: u32,
    /// Label -> version.
    #[serde(default)]
    pub labels: BTreeMap<String, u32>,
    /// Who made it; `None` for the built-in system templates.
    pub created_by: Option<UserId>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change of any kind.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Template {
    /// Whether this is an instance-wide system template.
    pub fn is_system(&self) -> bool {
        self.workspace_id.is_none()
    }
}

/// One immutable version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    /// Template.
    pub template_id: TemplateId,
    /// Number, from 1.
    pub version: u32,
    /// The content.
    pub content: TemplateContent,
    /// What changed, as the author said.
    #[serde(default)]
    pub message: String,
    /// Who saved it.
    pub author: Option<UserId>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A new template and its first version.
#[derive(Clone, Debug)]
pub struct NewTemplate {
    /// Workspace, or `None` for a system template.
    pub workspace_id: Option<WorkspaceId>,
    /// Validated content of version 1.
    pub content: TemplateContent,
    /// Version message.
    pub message: String,
    /// Author.
    pub author: Option<UserId>,
}

/// What saving a new version came to.
#[derive(Clone, Debug)]
pub enum SaveOutcome {
    /// Saved as this version.
    Saved(TemplateVersion),
    /// The edit was based on an older version; this is the latest, nothing was saved.
    Stale(TemplateVersion),
}

/// Validates a version message.
pub fn validate_message(raw: &str) -> Result<String> {
    let m = raw.trim();
    if m.chars().count() > limits::MESSAGE_CHARS || has_control_chars(m, true) {
        return Err(Error::invalid(
            "message",
            format!(
                "a version message has at most {} characters",
                limits::MESSAGE_CHARS
            ),
        ));
    }
    Ok(m.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_rules() {
        let c = TemplateContent {
            name: "  Review  ".into(),
            tags: vec!["Code".into(), "code".into(), " review ".into()],
            ..TemplateContent::default()
        };
        let c = c.validated().unwrap();
        assert_eq!(c.name, "Review");
        assert_eq!(c.tags, vec!["code".to_owned(), "review".to_owned()]);
        assert!(TemplateContent::default().validated().is_err());
        let hot = TemplateContent {
            name: "x".into(),
            model: ModelDefaults {
                temperature: Some(3.0),
                ..ModelDefaults::default()
            },
            ..TemplateContent::default()
        };
        assert_eq!(
            hot.validated()
                .err()
                .and_then(|e| e.field().map(str::to_owned))
                .as_deref(),
            Some("temperature")
        );
        assert!(normalize_tags(&["<script>".into()]).is_err());
        assert_eq!(validate_label(" Staging ").ok().as_deref(), Some("staging"));
        assert!(validate_label("-x").is_err());
        assert!(validate_label("a b").is_err());
        assert!(validate_label("2").is_err(), "a number means a version");
    }
}
