//! The chat parts of a template version: an ordered message list (any roles, `{{variables}}`
//! in any text, few-shot assistant turns, a placeholder where a caller's conversation goes),
//! tools with JSON Schema parameters, a response schema, and the sampling parameters beyond
//! temperature and max tokens. A version saved before these existed has none of them and
//! reads as its system prompt and user prompt, a two-message list.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::has_control_chars;
use super::json_schema::check_schema;
use crate::error::{Error, Result};

/// Who speaks a template message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    /// Instructions.
    System,
    /// The user's turn.
    User,
    /// A model turn (a few-shot example).
    Assistant,
    /// Where a caller's messages are inserted (its `content` names the slot).
    Placeholder,
}

impl MessageRole {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Placeholder => "placeholder",
        }
    }
}

/// One message of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMessage {
    /// Who speaks.
    pub role: MessageRole,
    /// The text with `{{variables}}`; for a placeholder, the slot's name.
    #[serde(default)]
    pub content: String,
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateTool {
    /// Function name (letters, digits, `_` and `-`, at most 64).
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Its parameters as a JSON Schema object.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
    /// Ask for strict schema adherence (OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// The JSON Schema the answer must follow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseSchema {
    /// Its name (letters, digits, `_` and `-`).
    pub name: String,
    /// The schema.
    pub schema: Value,
    /// Ask for strict adherence (OpenAI).
    #[serde(default)]
    pub strict: bool,
}

/// Sampling parameters beyond temperature and max tokens.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    /// Nucleus sampling, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Seed for reproducible sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// `minimal`, `low`, `medium` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
}

impl ModelParams {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The chat parts of a version (all optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatParts {
    /// The message list; empty for a version that is a system and a user prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<TemplateMessage>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<TemplateTool>,
    /// The response format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<ResponseSchema>,
    /// Further model parameters.
    #[serde(default, skip_serializing_if = "ModelParams::is_empty")]
    pub params: ModelParams,
}

/// The most messages, tools and stop sequences a version holds.
pub const MAX_MESSAGES: usize = 100;
/// The most tools.
pub const MAX_TOOLS: usize = 64;
/// The largest schema (tool parameters or response), serialized.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Whether `s` is a function or schema name as the providers take it: 1 to 64 letters, digits,
/// `_` or `-`.
pub fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn schema(field: &str, v: &Value) -> Result<()> {
    if serde_json::to_vec(v).map_or(0, |b| b.len()) > MAX_SCHEMA_BYTES {
        return Err(Error::invalid(
            field,
            format!("a schema has at most {} KiB", MAX_SCHEMA_BYTES / 1024),
        ));
    }
    check_schema(field, v)
}

fn range(field: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<()> {
    match v {
        Some(x) if !(lo..=hi).contains(&x) => Err(Error::invalid(
            field,
            format!("{field} must be between {lo} and {hi}"),
        )),
        _ => Ok(()),
    }
}

impl ChatParts {
    /// Whether the version has none of the chat parts.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks every part; errors name the field (`messages[2].content`, `tools[0].parameters`).
    pub fn validate(&mut self, prompt_bytes: usize) -> Result<()> {
        if self.messages.len() > MAX_MESSAGES {
            return Err(Error::invalid(
                "messages",
                format!("a template has at most {MAX_MESSAGES} messages"),
            ));
        }
        let mut slots = HashSet::new();
        for (i, m) in self.messages.iter_mut().enumerate() {
            let at = format!("messages[{i}].content");
            if m.content.len() > prompt_bytes {
                return Err(Error::invalid(
                    &at,
                    format!("a message has at most {} KiB", prompt_bytes / 1024),
                ));
            }
            if has_control_chars(&m.content, true) {
                return Err(Error::invalid(
                    &at,
                    "the message contains control characters",
                ));
            }
            if m.role == MessageRole::Placeholder {
                m.content = m.content.trim().to_owned();
                if m.content.is_empty() {
                    m.content = "conversation".into();
                }
                if !is_name(&m.content) {
                    return Err(Error::invalid(
                        &at,
                        "a placeholder's name uses letters, digits, _ and - only",
                    ));
                }
                if !slots.insert(m.content.clone()) {
                    return Err(Error::invalid(&at, "two placeholders have the same name"));
                }
            }
        }
        if self.tools.len() > MAX_TOOLS {
            return Err(Error::invalid(
                "tools",
                format!("a template has at most {MAX_TOOLS} tools"),
            ));
        }
        let mut names = HashSet::new();
        for (i, t) in self.tools.iter_mut().enumerate() {
            t.name = t.name.trim().to_owned();
            if !is_name(&t.name) {
                return Err(Error::invalid(
                    &format!("tools[{i}].name"),
                    "a tool name has 1 to 64 letters, digits, _ or -",
                ));
            }
            if !names.insert(t.name.clone()) {
                return Err(Error::invalid(
                    &format!("tools[{i}].name"),
                    format!("two tools are named `{}`", t.name),
                ));
            }
            t.description = t.description.trim().to_owned();
            schema(&format!("tools[{i}].parameters"), &t.parameters)?;
        }
        if let Some(r) = &mut self.response_schema {
            r.name = r.name.trim().to_owned();
            if !is_name(&r.name) {
                return Err(Error::invalid(
                    "response_schema.name",
                    "a schema name has 1 to 64 letters, digits, _ or -",
                ));
            }
            schema("response_schema.schema", &r.schema)?;
        }
        let p = &mut self.params;
        range("top_p", p.top_p, 0.0, 1.0)?;
        range("frequency_penalty", p.frequency_penalty, -2.0, 2.0)?;
        range("presence_penalty", p.presence_penalty, -2.0, 2.0)?;
        p.stop.retain(|s| !s.is_empty());
        if p.stop.len() > 4 {
            return Err(Error::invalid("stop", "at most 4 stop sequences"));
        }
        if let Some(e) = &p.reasoning_effort
            && !["minimal", "low", "medium", "high"].contains(&e.as_str())
        {
            return Err(Error::invalid(
                "reasoning_effort",
                "reasoning effort is minimal, low, medium or high",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bad_parts_name_the_field() {
        let field = |mut c: ChatParts| match c.validate(1024) {
            Err(Error::Invalid { field, .. }) => field.unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        let tool = |name: &str, parameters: Value| TemplateTool {
            name: name.into(),
            description: String::new(),
            parameters,
            strict: None,
        };
        assert_eq!(
            field(ChatParts {
                tools: vec![tool("ok", json!({"type": "objekt"}))],
                ..ChatParts::default()
            }),
            "tools[0].parameters"
        );
        assert_eq!(
            field(ChatParts {
                tools: vec![tool("a b", json!({}))],
                ..ChatParts::default()
            }),
            "tools[0].name"
        );
        assert_eq!(
            field(ChatParts {
                tools: vec![tool("a", json!({})), tool("a", json!({}))],
                ..ChatParts::default()
            }),
            "tools[1].name"
        );
        assert_eq!(
            field(ChatParts {
                response_schema: Some(ResponseSchema {
                    name: "x".into(),
                    schema: json!({"type": 5}),
                    strict: true
                }),
                ..ChatParts::default()
            }),
            "response_schema.schema"
        );
        let mut ok = ChatParts {
            messages: vec![TemplateMessage {
                role: MessageRole::Placeholder,
                content: " ".into(),
            }],
            ..ChatParts::default()
        };
        ok.validate(1024).unwrap();
        assert_eq!(ok.messages[0].content, "conversation");
    }
}
