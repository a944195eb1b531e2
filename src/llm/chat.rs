//! The provider-neutral chat request and stream events every provider adapter speaks, and the
//! errors an upstream call can end in.
//!
//! The serialized shape of every type here is OpenAI's chat completions shape (messages,
//! content parts, tool calls, tools, `tool_choice`, `response_format`), because that is what
//! callers send to `/v1`, what runs record and what the adapters translate from.

use std::fmt;
use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::ProviderKind;

/// The image types every vision provider takes.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the assistant's tool calls.
    Tool,
}

impl ChatRole {
    /// OpenAI's name for the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// One part of a message's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, by `data:` URL or by http(s) URL.
    ImageUrl {
        /// Where the image is.
        image_url: ImageUrl,
    },
}

/// An image reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// A `data:image/...;base64,` URL or an http(s) URL.
    pub url: String,
    /// OpenAI's `low`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A message's content: plain text or a list of parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts, in order.
    Parts(Vec<Part>),
}

impl Default for Content {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl Content {
    /// The text of the content (text parts joined, images left out).
    pub fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text } => Some(text.as_str()),
                    Part::ImageUrl { .. } => None,
                })
                .collect::<Vec<_>>()
                .join(""),
        }
    }

    /// The images of the content, in order.
    pub fn images(&self) -> impl Iterator<Item = &ImageUrl> {
        let parts: &[Part] = match self {
            Self::Text(_) => &[],
            Self::Parts(p) => p,
        };
        parts.iter().filter_map(|p| match p {
            Part::ImageUrl { image_url } => Some(image_url),
            Part::Text { .. } => None,
        })
    }

    /// Whether there is neither text nor an image.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(t) => t.is_empty(),
            Self::Parts(p) => p.is_empty(),
        }
    }
}

/// The only kind of tool there is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    /// A function the caller runs.
    #[default]
    Function,
}

/// A call the model made to one of the request's tools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id the tool's result refers to.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// What was called, with which arguments.
    pub function: FunctionCall,
}

/// A function call's name and arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// Its arguments as a JSON text (as the model wrote it; it may not be valid JSON).
    #[serde(default)]
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// What it says (an assistant message that only calls tools has empty content).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub content: Content,
    /// The tools an assistant message calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// A participant's name (OpenAI's `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Content, D::Error> {
    Ok(Option::<Content>::deserialize(d)?.unwrap_or_default())
}

impl ChatMessage {
    /// A plain text message.
    pub fn text(role: ChatRole, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Content::Text(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }
}

/// The searchable text of a conversation: each message's text, and each tool call as
/// `name(arguments)`, one per line.
pub fn messages_text(messages: &[ChatMessage]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(messages.len());
    for m in messages {
        let text = m.content.text();
        if !text.is_empty() {
            out.push(text);
        }
        out.extend(tool_calls_text(&m.tool_calls));
    }
    out.join("\n")
}

/// Tool calls as `name(arguments)` lines.
pub fn tool_calls_text(calls: &[ToolCall]) -> impl Iterator<Item = String> + '_ {
    calls
        .iter()
        .map(|c| format!("{}({})", c.function.name, c.function.arguments))
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// The function.
    pub function: FunctionDef,
}

/// A function's name, description and JSON Schema parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// Its name (letters, digits, `_` and `-`, at most 64).
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema of its arguments (an object schema).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Whether the arguments must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// How the model may use tools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `auto`, `none` or `required`.
    Mode(ToolMode),
    /// This function, always.
    Named(NamedTool),
}

/// The tool choice modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolMode {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
}

/// `{"type": "function", "function": {"name": ...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedTool {
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// The function.
    pub function: ToolName,
}

/// A function's name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolName {
    /// The name.
    pub name: String,
}

impl ToolChoice {
    /// The named function, if the choice names one.
    pub fn function(&self) -> Option<&str> {
        match self {
            Self::Named(n) => Some(&n.function.name),
            Self::Mode(_) => None,
        }
    }
}

/// The form the answer must take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// A named JSON Schema for the answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// Its name.
    pub name: String,
    /// What the answer is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Whether the answer must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl ResponseFormat {
    /// The schema the answer must follow, if any (`{"type": "object"}` for JSON mode).
    pub fn schema(&self) -> Option<Value> {
        match self {
            Self::Text => None,
            Self::JsonObject => Some(serde_json::json!({"type": "object"})),
            Self::JsonSchema { json_schema } => Some(
                json_schema
                    .schema
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            ),
        }
    }
}

/// A provider-neutral chat request: every field of OpenAI's chat completions that a provider
/// can act on. `None` and empty fields are not sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The upstream model id.
    pub model: String,
    /// The conversation; system messages anywhere are gathered into the provider's system field
    /// where it has one.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Most tokens to generate (`max_completion_tokens` or `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// The functions the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Whether and which tools the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools in one turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Text, JSON or JSON following a schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// How many answers (only 1 is served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Penalty for frequent tokens, -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Penalty for tokens already present, -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Token id -> bias, -100 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<Map<String, Value>>,
    /// Return the output tokens' log probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// How many alternatives per token, with `logprobs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// The caller's end user, for the provider's abuse monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// How hard a reasoning model thinks (`minimal`, `low`, `medium`, `high`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// The caller's key-value labels (recorded with the run; sent to OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Top-level fields Promptyard does not know, passed as they are to OpenAI and
    /// OpenAI-compatible servers (local servers take their own, such as `top_k` or `grammar`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// The request's settings as recorded with a run: every field except the model and the
    /// messages, `None` when there is nothing.
    pub fn params(&self) -> Option<Value> {
        let mut v = serde_json::to_value(self).ok()?;
        let obj = v.as_object_mut()?;
        obj.remove("model");
        obj.remove("messages");
        (!obj.is_empty()).then_some(v)
    }
}

/// A fragment of a tool call, as streamed: the first fragment of a call carries its id and
/// name, later ones more of its arguments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolCallDelta {
    /// Which call of the answer (0-based, stable across fragments).
    pub index: u32,
    /// The call's id (first fragment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function's name (first fragment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More of the arguments' JSON text.
    pub arguments: String,
}

/// What an upstream stream yields, in order: deltas, then at most one usage, then `Done`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// More output text.
    Delta(String),
    /// More of a tool call.
    ToolCall(ToolCallDelta),
    /// More of the model's refusal (OpenAI's `refusal`).
    Refusal(String),
    /// Log probabilities of output tokens (OpenAI's `logprobs.content` entries).
    Logprobs(Vec<Value>),
    /// Token usage as the provider reported it.
    Usage {
        /// Prompt tokens.
        input_tokens: u64,
        /// Generated tokens.
        output_tokens: u64,
    },
    /// The answer is complete; the provider's finish reason if it gave one.
    Done {
        /// e.g. `stop`, `length`, `end_turn`.
        finish_reason: Option<String>,
    },
}

/// A provider's finish reason in OpenAI's vocabulary (`stop`, `length`, `content_filter`,
/// `tool_calls`), so callers of `/v1` can tell a truncated or filtered answer from a whole one
/// whichever provider gave it. Reasons with no OpenAI equivalent read as `stop`.
pub fn openai_finish_reason(raw: &str) -> &'static str {
    match raw.to_ascii_lowercase().as_str() {
        // OpenAI's own, Anthropic's `max_tokens`, Gemini's `MAX_TOKENS`.
        "length" | "max_tokens" | "model_context_window_exceeded" => "length",
        "content_filter" | "refusal" | "safety" | "recitation" | "blocklist"
        | "prohibited_content" | "spii" | "image_safety" => "content_filter",
        "tool_calls" | "tool_use" | "function_call" => "tool_calls",
        _ => "stop",
    }
}

/// Where to send a request: the connection's wire format, base URL and (opened) key.
#[derive(Clone)]
pub struct Endpoint {
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The API key, if the connection has one. Never printed.
    pub api_key: Option<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How an upstream call failed, in words a user can act on. Messages never include the key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The outbound policy refused the address.
    #[error("{0}")]
    Refused(String),
    /// No connection could be made (DNS, refused, TLS).
    #[error("cannot reach the provider: {0}")]
    Unreachable(String),
    /// The provider rejected the key (401/403).
    #[error("the provider rejected the API key: {0}")]
    Unauthorized(String),
    /// The provider does not know the model (404 or its equivalent).
    #[error("the provider does not know the model `{0}`")]
    UnknownModel(String),
    /// The provider is rate limiting (429).
    #[error("the provider is rate limiting requests{}", retry_after.map(|s| format!("; retry in {s} s")).unwrap_or_default())]
    RateLimited {
        /// Seconds to wait, if the provider said.
        retry_after: Option<u64>,
    },
    /// Any other HTTP error from the provider, with its own message.
    #[error("the provider answered {status}: {message}")]
    Upstream {
        /// HTTP status.
        status: u16,
        /// The provider's error message, shortened.
        message: String,
    },
    /// The provider said something that is not its documented format.
    #[error("the provider sent a malformed answer: {0}")]
    Malformed(String),
    /// No answer (or no next bytes) in time.
    #[error("the provider did not answer in time")]
    Timeout,
    /// The connection broke before the answer was complete.
    #[error("the connection to the provider was lost mid-answer: {0}")]
    Reset(String),
    /// The provider cannot honour a parameter of the request (and the connection does not
    /// drop unsupported parameters).
    #[error("{message}")]
    Unsupported {
        /// The parameter, as a path into the request (`logit_bias`, `messages[2].content`).
        param: String,
        /// Why, readable.
        message: String,
    },
}

/// A stream of events from one upstream call.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finish_reasons_map_to_openais_vocabulary() {
        for (raw, want) in [
            ("stop", "stop"),
            ("length", "length"),
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("MAX_TOKENS", "length"),
            ("STOP", "stop"),
            ("SAFETY", "content_filter"),
            ("refusal", "content_filter"),
            ("content_filter", "content_filter"),
            ("tool_use", "tool_calls"),
            ("something_new", "stop"),
        ] {
            assert_eq!(openai_finish_reason(raw), want, "{raw}");
        }
    }

    #[test]
    fn messages_recorded_before_tools_still_read() {
        let old: Vec<ChatMessage> = serde_json::from_str(
            r#"[{"role":"system","content":"s"},{"role":"user","content":"u"}]"#,
        )
        .unwrap();
        assert_eq!(old[1], ChatMessage::text(ChatRole::User, "u"));
        assert_eq!(
            serde_json::to_value(&old[0]).unwrap(),
            json!({"role": "system", "content": "s"})
        );
    }

    #[test]
    fn openai_shapes_round_trip() {
        let m = json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
        let parsed: ChatMessage = serde_json::from_value(m).unwrap();
        assert_eq!(parsed.tool_calls[0].function.name, "f");
        let parts = json!({"role": "user", "content": [{"type": "text", "text": "what"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}}]});
        let parsed: ChatMessage = serde_json::from_value(parts.clone()).unwrap();
        assert_eq!(parsed.content.text(), "what");
        assert_eq!(parsed.content.images().count(), 1);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), parts);
        let choice: ToolChoice = serde_json::from_value(json!("required")).unwrap();
        assert_eq!(choice, ToolChoice::Mode(ToolMode::Required));
        let choice: ToolChoice =
            serde_json::from_value(json!({"type": "function", "function": {"name": "f"}})).unwrap();
        assert_eq!(choice.function(), Some("f"));
        let rf: ResponseFormat = serde_json::from_value(
            json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}}),
        )
        .unwrap();
        assert_eq!(rf.schema(), Some(json!({"type": "object"})));
    }
}
