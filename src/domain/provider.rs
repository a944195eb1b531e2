//! Provider connections: where the gateway sends a model's requests, with whose key.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{ConnectionId, UserId, WorkspaceId, has_control_chars};
use crate::error::{Error, Result};

/// The wire format a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// api.openai.com (chat completions).
    Openai,
    /// api.anthropic.com (messages).
    Anthropic,
    /// Google Gemini (generateContent).
    Google,
    /// Any OpenAI-style endpoint: Ollama, vLLM, llama.cpp server, LM Studio.
    OpenaiCompatible,
}

impl ProviderKind {
    /// Every kind.
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Openai,
        ProviderKind::Anthropic,
        ProviderKind::Google,
        ProviderKind::OpenaiCompatible,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Google => "google",
            Self::OpenaiCompatible => "openai-compatible",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!(
                        "unknown provider `{s}`; use openai, anthropic, google or openai-compatible"
                    ),
                )
            })
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Openai => "OpenAI",
            Self::Anthropic => "Anthropic",
            Self::Google => "Google Gemini",
            Self::OpenaiCompatible => "OpenAI-compatible (Ollama, vLLM, llama.cpp, LM Studio)",
        }
    }

    /// The usual base URL, offered in forms.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Openai => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com/v1",
            Self::Google => "https://generativelanguage.googleapis.com/v1beta",
            Self::OpenaiCompatible => "http://127.0.0.1:11434/v1",
        }
    }

    /// Whether a key is required (local servers usually take none).
    pub fn needs_key(self) -> bool {
        self != Self::OpenaiCompatible
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connection as stored. The key is sealed; it is never part of any read path.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Id.
    pub id: ConnectionId,
    /// `None` for an instance-wide connection (instance admins), else its workspace.
    pub workspace_id: Option<WorkspaceId>,
    /// A name people recognise, e.g. "OpenAI (company account)".
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The API key sealed under the master key, bound to this connection's id.
    #[serde(default, with = "sealed")]
    pub sealed_key: Option<Vec<u8>>,
    /// Model ids it offers (discovered and manual).
    #[serde(default)]
    pub models: Vec<String>,
    /// Drop request parameters the provider cannot honour (recorded on the run) instead of
    /// refusing the call.
    #[serde(default)]
    pub drop_unsupported: bool,
    /// Who made it.
    pub created_by: Option<UserId>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("has_key", &self.sealed_key.is_some())
            .field("models", &self.models)
            .field("drop_unsupported", &self.drop_unsupported)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The associated data a sealed key is bound to.
    pub fn key_context(id: ConnectionId) -> String {
        format!("provider-connection:{id}")
    }
}

mod sealed {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_some(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Validates a connection name.
pub fn validate_connection_name(raw: &str) -> Result<String> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 80 || has_control_chars(s, false) {
        return Err(Error::invalid(
            "name",
            "a connection name is 1 to 80 characters",
        ));
    }
    Ok(s.to_owned())
}

/// Validates a base URL: http(s), a host, no credentials, query or fragment.
pub fn validate_base_url(raw: &str) -> Result<String> {
    let bad = |m: &str| Error::invalid("base_url", m.to_owned());
    let url = url::Url::parse(raw.trim())
        .map_err(|_| bad("enter a URL like https://api.openai.com/v1"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(bad("the URL must start with http:// or https://"));
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "the URL needs a host and no user name or password (the key goes in its own field)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("the URL cannot have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Most models one connection lists.
pub const MAX_MODELS: usize = 500;

/// Validates model ids (one per entry; trimmed, unique, at most [`MAX_MODELS`]).
pub fn validate_models(raw: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for m in raw {
        let m = m.trim();
        if m.is_empty() || !seen.insert(m) {
            continue;
        }
        if out.len() == MAX_MODELS {
            return Err(Error::invalid(
                "models",
                format!("at most {MAX_MODELS} models per connection"),
            ));
        }
        if m.len() > 200 || has_control_chars(m, false) || m.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "models",
                format!(
                    "`{}` is not a model id",
                    m.chars().take(60).collect::<String>()
                ),
            ));
        }
        out.push(m.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_names() {
        assert_eq!(
            validate_base_url("https://api.openai.com/v1/")
                .ok()
                .as_deref(),
            Some("https://api.openai.com/v1")
        );
        assert!(validate_base_url("ftp://x").is_err());
        assert!(validate_base_url("https://user:pw@x.org/v1").is_err());
        assert!(validate_base_url("https://x.org/v1?key=1").is_err());
        assert!(validate_connection_name(" ").is_err());
        assert_eq!(
            validate_models(&["a".into(), " a ".into(), "b".into()]).ok(),
            Some(vec!["a".into(), "b".into()])
        );
        assert!(validate_models(&["a b".into()]).is_err());
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(k.as_str()).ok(), Some(k));
        }
    }
}
