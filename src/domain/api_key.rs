//! API keys for the OpenAI-compatible `/v1` API: random secrets shown once, stored as SHA-256,
//! listed by a visible prefix. A key acts for its user in one workspace and never grants more
//! than the user has there at the time of use.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{ApiKeyId, TokenHash, UserId, WorkspaceId};
use crate::error::{Error, Result};

/// What every key starts with, so scanners and people recognise it.
pub const KEY_PREFIX: &str = "pyk_";
/// How much of a key is shown in lists.
pub const SHOWN_CHARS: usize = 12;

/// A full API key, as the user holds it. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiSecret(String);

impl ApiSecret {
    /// A new random key.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
        Ok(Self(format!(
            "{KEY_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    /// Accepts a presented key shaped like ours.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let body = raw.strip_prefix(KEY_PREFIX)?;
        (body.len() == 43 && URL_SAFE_NO_PAD.decode(body).is_ok()).then(|| Self(raw.to_owned()))
    }

    /// The key itself, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The visible prefix.
    pub fn prefix(&self) -> String {
        self.0.chars().take(SHOWN_CHARS).collect()
    }
}

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiSecret(***)")
    }
}

/// A stored API key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// Whose key it is.
    pub user_id: UserId,
    /// The workspace it acts in.
    pub workspace_id: WorkspaceId,
    /// A name the user gave it.
    pub name: String,
    /// The first characters of the key, for recognising it.
    pub prefix: String,
    /// SHA-256 of the key.
    pub key_hash: TokenHash,
    /// Models it may use; empty means any the workspace can use.
    #[serde(default)]
    pub models: Vec<String>,
    /// When it stops working, if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last use (updated at most once a minute).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Whether the key works at `now` (its user and membership are checked separately).
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// Whether the key may use `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_parseable_and_hidden() {
        let k = ApiSecret::generate().unwrap();
        assert!(k.expose().starts_with(KEY_PREFIX) && k.expose().len() == 47);
        assert_eq!(
            ApiSecret::parse(k.expose()).map(|p| p.hash()),
            Some(k.hash())
        );
        assert!(ApiSecret::parse("sk-something").is_none());
        assert!(ApiSecret::parse("pyk_short").is_none());
        assert_eq!(format!("{k:?}"), "ApiSecret(***)");
        assert_eq!(k.prefix().len(), SHOWN_CHARS);
        assert_ne!(k, ApiSecret::generate().unwrap());
    }
}
