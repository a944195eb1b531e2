//! Runs: every model call the gateway makes, with its tokens, cost, timing and outcome.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ApiKeyId, ConnectionId, ProviderKind, RunId, TemplateId, UserId, WorkspaceId};

/// How a call ended. Exactly one per run; nothing is reported as success that was not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// The answer arrived whole.
    Completed,
    /// The provider or the gateway refused or failed; `error` says why.
    Failed,
    /// The connection broke mid-answer; the output is partial.
    Truncated,
    /// The user stopped it or went away; the upstream call was aborted.
    Cancelled,
}

impl RunState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Truncated => "truncated",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Completed,
            Self::Failed,
            Self::Truncated,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recorded run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Id (time-ordered).
    pub id: RunId,
    /// The workspace it ran in.
    pub workspace_id: WorkspaceId,
    /// Who ran it.
    pub user_id: UserId,
    /// The API key it came through, for `/v1` calls.
    #[serde(default)]
    pub api_key_id: Option<ApiKeyId>,
    /// The template it came from, if any.
    pub template_id: Option<TemplateId>,
    /// That template's version.
    pub template_version: Option<u32>,
    /// The connection used (None if the model could not be routed).
    pub connection_id: Option<ConnectionId>,
    /// The provider's wire format.
    pub provider: Option<ProviderKind>,
    /// The model that answered (or was asked, if none did).
    pub model: String,
    /// The model asked for, when a fallback answered instead.
    #[serde(default)]
    pub requested_model: Option<String>,
    /// Answered from the response cache (no provider call, cost 0).
    #[serde(default)]
    pub cached: bool,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in US dollars; `None` when the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// Whole call, in milliseconds.
    pub latency_ms: u64,
    /// Until the first output, in milliseconds.
    pub ttft_ms: Option<u64>,
    /// How it ended.
    pub state: RunState,
    /// Why it failed, readable.
    pub error: Option<String>,
    /// The messages sent, as JSON.
    pub prompt: String,
    /// The output (partial for truncated or cancelled runs).
    pub output: String,
    /// Files the context builder included (paths, sizes, hashes, token counts); never contents.
    #[serde(default)]
    pub context_manifest: Option<serde_json::Value>,
    /// Every setting sent besides the model and messages (tools, tool choice, response format,
    /// sampling parameters, metadata), as OpenAI's request fields.
    #[serde(default)]
    pub params: Option<serde_json::Value>,
    /// What came back besides the text: `tool_calls`, `refusal`, `logprobs`, and the flags
    /// `invalid_tool_arguments` (indices of calls whose arguments are not JSON) and `dropped`
    /// (parameters the connection dropped).
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One file of a run's folder context, as the browser's context builder describes it: what was
/// sent, never the content itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextFile {
    /// The path inside the chosen folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex (absent where the browser could not hash: outside
    /// a secure context).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Tokens under the encoding the context was counted with.
    pub tokens: u64,
}

/// At most this many files in one context manifest.
pub const MAX_CONTEXT_FILES: usize = 10_000;

/// Checks a context manifest from the browser: a bounded number of files, each with a sensible
/// path and, where given, a SHA-256 in hex.
pub fn validate_manifest(files: &[ContextFile]) -> crate::error::Result<()> {
    use crate::error::Error;
    if files.len() > MAX_CONTEXT_FILES {
        return Err(Error::invalid(
            "context_manifest",
            format!("a context may hold at most {MAX_CONTEXT_FILES} files"),
        ));
    }
    for f in files {
        if f.path.is_empty() || f.path.len() > 1024 || f.path.chars().any(char::is_control) {
            return Err(Error::invalid(
                "context_manifest",
                "each file needs a path of 1 to 1024 characters without control characters",
            ));
        }
        if let Some(h) = &f.sha256
            && (h.len() != 64 || !h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(Error::invalid(
                "context_manifest",
                format!("the SHA-256 of {} is not 64 lowercase hex digits", f.path),
            ));
        }
    }
    Ok(())
}
