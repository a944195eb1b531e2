//! The unified chat request and stream events every provider adapter speaks, and the errors
//! an upstream call can end in.

use std::fmt;
use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::domain::ProviderKind;

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
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// What it says.
    pub content: String,
}

/// A provider-neutral chat request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The upstream model id.
    pub model: String,
    /// The conversation; system messages anywhere are gathered into the provider's system field
    /// where it has one.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Most tokens to generate.
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    pub stop: Vec<String>,
}

/// What an upstream stream yields, in order: deltas, then at most one usage, then `Done`.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatEvent {
    /// More output text.
    Delta(String),
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
}

/// A stream of events from one upstream call.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send>>;

#[cfg(test)]
mod finish_tests {
    use super::openai_finish_reason;

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
}
